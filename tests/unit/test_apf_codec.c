/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_apf_codec.c: APF framing, decoding and encoding
 * (server/apf_codec.c).
 *
 *  - Every hex vector of docs/APF.md: framed, decoded field by field, and
 *    produced byte for byte by the encoders; the UUID example.
 *  - For one valid encoding of every message: (a) each truncation is
 *    MPS_NEED_MORE, (b) each length field set over its cap is refused at
 *    once, without the bytes it announces, (c) deterministic bit and byte
 *    mutations never crash (run under ASan with --enable-sanitizers) and
 *    whatever still decodes re-encodes to the same bytes, (d) a long
 *    stream fed whole, byte by byte and in random chunks through the
 *    receive loop the session will use yields the same messages.
 *  - Unknown types, unknown global requests and methods, CHANNEL_DATA
 *    over the window, trailing bytes, Open AMT's 15-byte USERAUTH_FAILURE,
 *    REQUEST_SUCCESS's two forms, encoder refusals and atomicity.
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apf_codec.h"
#include "mps_status.h"

static int
str_is(mps_apf_str_t s, const char *lit)
{
	return mps_apf_str_eq(s, lit);
}

/* Frames and decodes one whole vector; the frame is the whole input. */
static void
decode_vector(const uint8_t *v, size_t n, unsigned flags, mps_apf_msg_t *m)
{
	size_t len = 0;

	ck_assert_int_eq(mps_apf_frame_len_ex(v, n, MPS_APF_MAX_DATA, flags,
	    &len), APR_SUCCESS);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(mps_apf_decode(v, n, m), APR_SUCCESS);
}

/* The bytes an encoder appended equal the vector. */
static void
check_encoded(mps_buf_t *b, const uint8_t *v, size_t n)
{
	ck_assert_uint_eq(mps_buf_len(b), n);
	ck_assert_mem_eq(mps_buf_ptr(b), v, n);
	mps_buf_reset(b);
}

/* ---- docs/APF.md test vectors ---- */

static const uint8_t example_uuid[16] = {
	0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
	0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0
};

START_TEST(test_vector_protocolversion)
{
	uint8_t v[128];
	size_t n, i;
	mps_apf_msg_t m;
	mps_buf_t b;
	char text[MPS_APF_UUID_TEXT_SIZE];

	n = unit_unhex("c0 00000001 00000000 00000000 "
	    "78563412bc9af0de123456789abcdef0", v, sizeof(v));
	memset(v + n, 0, 64);
	n += 64;
	ck_assert_uint_eq(n, MPS_APF_PROTOCOLVERSION_LEN);
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_PROTOCOLVERSION);
	ck_assert_uint_eq(m.u.protocolversion.major, 1);
	ck_assert_uint_eq(m.u.protocolversion.minor, 0);
	ck_assert_uint_eq(m.u.protocolversion.trigger, 0);
	ck_assert_mem_eq(m.u.protocolversion.uuid, example_uuid, 16);
	ck_assert_ptr_eq(m.u.protocolversion.reserved, v + 29);
	mps_apf_uuid_to_text(m.u.protocolversion.uuid, text);
	ck_assert_str_eq(text, "12345678-9abc-def0-1234-56789abcdef0");

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_protocolversion(&b, 1, 0, 0,
	    example_uuid), APR_SUCCESS);
	check_encoded(&b, v, n);
	/* Generic encode of the decoded message gives the same bytes. */
	ck_assert_int_eq(mps_apf_encode(&b, &m), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* The major version is exposed, not judged: that is the
	 * session's call (DISCONNECT 8). */
	v[4] = 2;
	v[12] = MPS_APF_TRIGGER_PERIODIC;
	ck_assert_int_eq(mps_apf_decode(v, n, &m), APR_SUCCESS);
	ck_assert_uint_eq(m.u.protocolversion.major, 2);
	ck_assert_uint_eq(m.u.protocolversion.trigger, 4);
	/* Reserved bytes are kept as they came (round trip). */
	for (i = 29; i < n; i++)
		v[i] = (uint8_t)i;
	ck_assert_int_eq(mps_apf_decode(v, n, &m), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode(&b, &m), APR_SUCCESS);
	check_encoded(&b, v, n);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_vector_service_request)
{
	uint8_t v[64];
	size_t n = unit_unhex("05 00000012 6175746840616d742e696e74656c2e636f6d",
	    v, sizeof(v));
	mps_apf_msg_t m;
	mps_buf_t b;

	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_SERVICE_REQUEST);
	ck_assert(str_is(m.u.service.service, MPS_APF_SERVICE_AUTH));
	ck_assert_ptr_eq(m.u.service.service.ptr, (const char *)v + 5);

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_service_request(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_AUTH)), APR_SUCCESS);
	check_encoded(&b, v, n);
	/* SERVICE_ACCEPT is the same layout with type 6. */
	v[0] = MPS_APF_SERVICE_ACCEPT;
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_SERVICE_ACCEPT);
	ck_assert(str_is(m.u.service.service, MPS_APF_SERVICE_AUTH));
	ck_assert_int_eq(mps_apf_encode_service_accept(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_AUTH)), APR_SUCCESS);
	check_encoded(&b, v, n);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_vector_userauth_request)
{
	uint8_t v[128];
	size_t n = unit_unhex("32 00000005 61646d696e 00000012 "
	    "7066776440616d742e696e74656c2e636f6d 00000008 70617373776f7264 "
	    "00 00000008 5040737377307264", v, sizeof(v));
	mps_apf_msg_t m;
	mps_buf_t b;

	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_USERAUTH_REQUEST);
	ck_assert(str_is(m.u.userauth_request.user, "admin"));
	ck_assert(str_is(m.u.userauth_request.service, MPS_APF_SERVICE_PFWD));
	ck_assert(str_is(m.u.userauth_request.method, MPS_APF_METHOD_PASSWORD));
	ck_assert_int_eq(m.u.userauth_request.kind, MPS_APF_AUTH_PASSWORD);
	ck_assert_uint_eq(m.u.userauth_request.change, 0);
	ck_assert(str_is(m.u.userauth_request.password, "P@ssw0rd"));

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_userauth_request_password(&b,
	    mps_apf_cstr("admin"), mps_apf_cstr(MPS_APF_SERVICE_PFWD),
	    mps_apf_cstr("P@ssw0rd")), APR_SUCCESS);
	check_encoded(&b, v, n);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_vector_tcpip_forward)
{
	uint8_t v[64], r[8];
	size_t n = unit_unhex("50 0000000d 74637069702d666f7277617264 01 00000000 "
	    "00004260", v, sizeof(v));
	size_t rn = unit_unhex("51 00004260", r, sizeof(r)), len;
	mps_apf_msg_t m;
	mps_buf_t b;

	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_GLOBAL_REQUEST);
	ck_assert(str_is(m.u.global_request.name, MPS_APF_REQ_TCPIP_FORWARD));
	ck_assert_int_eq(m.u.global_request.kind, MPS_APF_GREQ_TCPIP_FORWARD);
	ck_assert_uint_eq(m.u.global_request.want_reply, 1);
	ck_assert_uint_eq(m.u.global_request.address.len, 0);
	ck_assert_ptr_nonnull(m.u.global_request.address.ptr);
	ck_assert_uint_eq(m.u.global_request.port, 16992);

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_tcpip_forward(&b, 1, mps_apf_cstr(""),
	    16992), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* The reply: 5 bytes when the requester says a port follows. */
	decode_vector(r, rn, MPS_APF_F_SUCCESS_PORT, &m);
	ck_assert_uint_eq(m.type, MPS_APF_REQUEST_SUCCESS);
	ck_assert_int_eq(m.u.request_success.has_port, 1);
	ck_assert_uint_eq(m.u.request_success.port, 16992);
	ck_assert_int_eq(mps_apf_encode_request_success_port(&b, 16992),
	    APR_SUCCESS);
	check_encoded(&b, r, rn);
	/* Without the flag, REQUEST_SUCCESS is the bare 1-byte form. */
	ck_assert_int_eq(mps_apf_frame_len(r, rn, 0, &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(mps_apf_decode(r, 1, &m), APR_SUCCESS);
	ck_assert_int_eq(m.u.request_success.has_port, 0);
	ck_assert_int_eq(mps_apf_encode_request_success(&b), APR_SUCCESS);
	check_encoded(&b, r, 1);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_vector_keepalive_options)
{
	uint8_t v[16];
	size_t n = unit_unhex("d2 0000001e 00000000", v, sizeof(v));
	mps_apf_msg_t m;
	mps_buf_t b;

	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_KEEPALIVE_OPTIONS_REQUEST);
	ck_assert_uint_eq(m.u.keepalive_options.interval, 30);
	ck_assert_uint_eq(m.u.keepalive_options.timeout, 0);
	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_keepalive_options_request(&b, 30, 0),
	    APR_SUCCESS);
	check_encoded(&b, v, n);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_vector_channel_open)
{
	uint8_t v[128];
	size_t n = unit_unhex("5a 0000000f 666f727761726465642d7463706970 00000004 "
	    "00014000 ffffffff 00000000 00004260 00000007 312e322e332e34 "
	    "00000400", v, sizeof(v));
	mps_apf_msg_t m;
	mps_buf_t b;

	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN);
	ck_assert(str_is(m.u.channel_open.type, MPS_APF_CHAN_FORWARDED_TCPIP));
	ck_assert_uint_eq(m.u.channel_open.sender, 4);
	ck_assert_uint_eq(m.u.channel_open.window, 81920);
	ck_assert_uint_eq(m.u.channel_open.reserved, 0xffffffff);
	ck_assert(str_is(m.u.channel_open.connected_addr, ""));
	ck_assert_uint_eq(m.u.channel_open.connected_port, 16992);
	ck_assert(str_is(m.u.channel_open.originator_addr, "1.2.3.4"));
	ck_assert_uint_eq(m.u.channel_open.originator_port, 1024);

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_channel_open(&b,
	    mps_apf_cstr(MPS_APF_CHAN_FORWARDED_TCPIP), 4, 81920,
	    mps_apf_cstr(""), 16992, mps_apf_cstr("1.2.3.4"), 1024),
	    APR_SUCCESS);
	check_encoded(&b, v, n);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_vector_channel_messages)
{
	uint8_t v[64];
	size_t n;
	mps_apf_msg_t m;
	mps_buf_t b;

	mps_buf_init(&b, 4096);

	n = unit_unhex("5b 00000004 00000010 00001000 ffffffff", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN_CONFIRMATION);
	ck_assert_uint_eq(m.u.channel_open_confirmation.recipient, 4);
	ck_assert_uint_eq(m.u.channel_open_confirmation.sender, 16);
	ck_assert_uint_eq(m.u.channel_open_confirmation.window, 4096);
	ck_assert_uint_eq(m.u.channel_open_confirmation.reserved, 0xffffffff);
	ck_assert_int_eq(mps_apf_encode_channel_open_confirmation(&b, 4, 16,
	    4096), APR_SUCCESS);
	check_encoded(&b, v, n);

	n = unit_unhex("5e 00000010 00000004 61626364", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_DATA);
	ck_assert_uint_eq(m.u.channel_data.recipient, 16);
	ck_assert(str_is(m.u.channel_data.data, "abcd"));
	ck_assert_ptr_eq(m.u.channel_data.data.ptr, (const char *)v + 9);
	ck_assert_int_eq(mps_apf_encode_channel_data(&b, 16, "abcd", 4),
	    APR_SUCCESS);
	check_encoded(&b, v, n);
	/* Zero-copy forms: header then payload. */
	ck_assert_int_eq(mps_apf_encode_channel_data_header(&b, 16, 4),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, "abcd", 4), APR_SUCCESS);
	check_encoded(&b, v, n);
	{
		uint8_t hdr[MPS_APF_CHANNEL_DATA_HDR_LEN];

		ck_assert_int_eq(mps_apf_channel_data_header(hdr, 16, 4),
		    APR_SUCCESS);
		ck_assert_mem_eq(hdr, v, sizeof(hdr));
		memset(hdr, 0x77, sizeof(hdr));
		ck_assert_int_eq(mps_apf_channel_data_header(hdr, 16,
		    MPS_APF_MAX_DATA + 1), MPS_ERR_TOO_LARGE);
		ck_assert_uint_eq(hdr[0], 0x77);	/* untouched */
	}

	n = unit_unhex("5d 00000004 00004001", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_WINDOW_ADJUST);
	ck_assert_uint_eq(m.u.window_adjust.recipient, 4);
	ck_assert_uint_eq(m.u.window_adjust.bytes_to_add, 16385);
	ck_assert_int_eq(mps_apf_encode_window_adjust(&b, 4, 16385),
	    APR_SUCCESS);
	check_encoded(&b, v, n);

	n = unit_unhex("61 00000010", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_CLOSE);
	ck_assert_uint_eq(m.u.channel_close.recipient, 16);
	ck_assert_int_eq(mps_apf_encode_channel_close(&b, 16), APR_SUCCESS);
	check_encoded(&b, v, n);

	n = unit_unhex("01 0000000b 0000", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_DISCONNECT);
	ck_assert_uint_eq(m.u.disconnect.reason,
	    MPS_APF_DISCONNECT_BY_APPLICATION);
	ck_assert_uint_eq(m.u.disconnect.reserved, 0);
	ck_assert_int_eq(mps_apf_encode_disconnect(&b,
	    MPS_APF_DISCONNECT_BY_APPLICATION), APR_SUCCESS);
	check_encoded(&b, v, n);
	/* Strict: 6 bytes is a prefix, 8 has trailing data. */
	ck_assert_int_eq(mps_apf_decode(v, 6, &m), MPS_NEED_MORE);
	v[7] = 0;
	ck_assert_int_eq(mps_apf_decode(v, 8, &m), MPS_ERR_TRAILING_DATA);
	mps_buf_free(&b);
}
END_TEST

/*
 * Messages APF.md gives no vector for, written by hand from its layout
 * table (so that an encoder and a decoder that agree on a wrong field
 * order still fail here).
 */
START_TEST(test_vectors_by_hand)
{
	uint8_t v[160];
	size_t n;
	mps_apf_msg_t m;
	mps_buf_t b;

	mps_buf_init(&b, 4096);

	/* udp-send-to: str dest_addr, u32 dest_port, str orig_addr,
	 * u32 orig_port, str payload (the field order both public MPSs get
	 * wrong). */
	n = unit_unhex("50 00000019 7564702d73656e642d746f40616d742e696e74656c2e636f6d"
	    " 01 00000008 31302e302e302e31 000000a2 00000008 31302e302e302e32"
	    " 00000401 00000002 3026", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_int_eq(m.u.global_request.kind, MPS_APF_GREQ_UDP_SEND_TO);
	ck_assert_uint_eq(m.u.global_request.want_reply, 1);
	ck_assert(str_is(m.u.global_request.dest_addr, "10.0.0.1"));
	ck_assert_uint_eq(m.u.global_request.dest_port, 162);
	ck_assert(str_is(m.u.global_request.orig_addr, "10.0.0.2"));
	ck_assert_uint_eq(m.u.global_request.orig_port, 1025);
	ck_assert_uint_eq(m.u.global_request.payload.len, 2);
	ck_assert_mem_eq(m.u.global_request.payload.ptr, "\x30\x26", 2);
	ck_assert_int_eq(mps_apf_encode_udp_send_to(&b, 1,
	    mps_apf_cstr("10.0.0.1"), 162, mps_apf_cstr("10.0.0.2"), 1025,
	    mps_apf_strn("\x30\x26", 2)), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* cancel-tcpip-forward, want_reply 0, "h" : 623 */
	n = unit_unhex("50 00000014 63616e63656c2d74637069702d666f7277617264 00"
	    " 00000001 68 0000026f", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_int_eq(m.u.global_request.kind,
	    MPS_APF_GREQ_CANCEL_TCPIP_FORWARD);
	ck_assert_uint_eq(m.u.global_request.want_reply, 0);
	ck_assert(str_is(m.u.global_request.address, "h"));
	ck_assert_uint_eq(m.u.global_request.port, 623);
	ck_assert_int_eq(mps_apf_encode_cancel_tcpip_forward(&b, 0,
	    mps_apf_cstr("h"), 623), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* USERAUTH_REQUEST "none": nothing after the method. */
	n = unit_unhex("32 00000001 75 00000012 7066776440616d742e696e74656c2e636f6d"
	    " 00000004 6e6f6e65", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_int_eq(m.u.userauth_request.kind, MPS_APF_AUTH_NONE);
	ck_assert(str_is(m.u.userauth_request.user, "u"));
	ck_assert_int_eq(mps_apf_encode_userauth_request_none(&b,
	    mps_apf_cstr("u"), mps_apf_cstr(MPS_APF_SERVICE_PFWD)),
	    APR_SUCCESS);
	check_encoded(&b, v, n);

	/* USERAUTH_FAILURE: 14 bytes. */
	n = unit_unhex("33 00000008 70617373776f7264 00", v, sizeof(v));
	ck_assert_uint_eq(n, 14);
	decode_vector(v, n, 0, &m);
	ck_assert(str_is(m.u.userauth_failure.methods, "password"));
	ck_assert_int_eq(mps_apf_encode_userauth_failure(&b,
	    mps_apf_cstr("password")), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* One-byte messages. */
	v[0] = 0x34;
	decode_vector(v, 1, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_USERAUTH_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_userauth_success(&b), APR_SUCCESS);
	check_encoded(&b, v, 1);
	v[0] = 0x52;
	decode_vector(v, 1, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_REQUEST_FAILURE);
	ck_assert_int_eq(mps_apf_encode_request_failure(&b), APR_SUCCESS);
	check_encoded(&b, v, 1);

	/* SERVICE_ACCEPT pfwd@ */
	n = unit_unhex("06 00000012 7066776440616d742e696e74656c2e636f6d", v,
	    sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert(str_is(m.u.service.service, MPS_APF_SERVICE_PFWD));
	ck_assert_int_eq(mps_apf_encode_service_accept(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_PFWD)), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* direct-tcpip from the device: host:389 from 127.0.0.1:1234 */
	n = unit_unhex("5a 0000000c 6469726563742d7463706970 00000001 00001000"
	    " ffffffff 00000004 686f7374 00000185 00000009 3132372e302e302e31"
	    " 000004d2", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert(str_is(m.u.channel_open.type, MPS_APF_CHAN_DIRECT_TCPIP));
	ck_assert_uint_eq(m.u.channel_open.sender, 1);
	ck_assert_uint_eq(m.u.channel_open.window, 4096);
	ck_assert(str_is(m.u.channel_open.connected_addr, "host"));
	ck_assert_uint_eq(m.u.channel_open.connected_port, 389);
	ck_assert(str_is(m.u.channel_open.originator_addr, "127.0.0.1"));
	ck_assert_uint_eq(m.u.channel_open.originator_port, 1234);
	ck_assert_int_eq(mps_apf_encode_channel_open(&b,
	    mps_apf_cstr(MPS_APF_CHAN_DIRECT_TCPIP), 1, 4096,
	    mps_apf_cstr("host"), 389, mps_apf_cstr("127.0.0.1"), 1234),
	    APR_SUCCESS);
	check_encoded(&b, v, n);

	/* CHANNEL_OPEN_FAILURE 7, CONNECT_FAILED: 17 bytes. */
	n = unit_unhex("5c 00000007 00000002 00000000 00000000", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.u.channel_open_failure.recipient, 7);
	ck_assert_uint_eq(m.u.channel_open_failure.reason,
	    MPS_APF_OPEN_CONNECT_FAILED);
	ck_assert_int_eq(mps_apf_encode_channel_open_failure(&b, 7,
	    MPS_APF_OPEN_CONNECT_FAILED), APR_SUCCESS);
	check_encoded(&b, v, n);

	/* Keepalives. */
	n = unit_unhex("d0 01020304", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_KEEPALIVE_REQUEST);
	ck_assert_uint_eq(m.u.keepalive.cookie, 0x01020304);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&b, 0x01020304),
	    APR_SUCCESS);
	check_encoded(&b, v, n);
	v[0] = 0xd1;
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_KEEPALIVE_REPLY);
	ck_assert_int_eq(mps_apf_encode_keepalive_reply(&b, 0x01020304),
	    APR_SUCCESS);
	check_encoded(&b, v, n);
	n = unit_unhex("d3 0000001e 0000005a", v, sizeof(v));
	decode_vector(v, n, 0, &m);
	ck_assert_uint_eq(m.type, MPS_APF_KEEPALIVE_OPTIONS_REPLY);
	ck_assert_uint_eq(m.u.keepalive_options.interval, 30);
	ck_assert_uint_eq(m.u.keepalive_options.timeout, 90);
	ck_assert_int_eq(mps_apf_encode_keepalive_options_reply(&b, 30, 90),
	    APR_SUCCESS);
	check_encoded(&b, v, n);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_uuid_text)
{
	char text[MPS_APF_UUID_TEXT_SIZE];
	uint8_t raw[16], all[16];
	size_t i;

	mps_apf_uuid_to_text(example_uuid, text);
	ck_assert_str_eq(text, "12345678-9abc-def0-1234-56789abcdef0");
	ck_assert_int_eq(mps_apf_uuid_from_text(text, raw), APR_SUCCESS);
	ck_assert_mem_eq(raw, example_uuid, 16);
	ck_assert_int_eq(mps_apf_uuid_from_text(
	    "12345678-9ABC-DEF0-1234-56789ABCDEF0", raw), APR_SUCCESS);
	ck_assert_mem_eq(raw, example_uuid, 16);

	/* Every byte lands in its place and back. */
	for (i = 0; i < 16; i++)
		all[i] = (uint8_t)(0x10 * i + 0x0f - i);
	mps_apf_uuid_to_text(all, text);
	ck_assert_str_eq(text, "3c2d1e0f-5a4b-7869-8796-a5b4c3d2e1f0");
	ck_assert_int_eq(mps_apf_uuid_from_text(text, raw), APR_SUCCESS);
	ck_assert_mem_eq(raw, all, 16);

	/* Malformed: wrong length, misplaced dash, bad digit. */
	memset(raw, 0x55, sizeof(raw));
	ck_assert_int_eq(mps_apf_uuid_from_text(
	    "12345678-9abc-def0-1234-56789abcdef", raw), MPS_ERR_MALFORMED);
	for (i = 0; i < 16; i++)
		ck_assert_uint_eq(raw[i], 0);
	ck_assert_int_eq(mps_apf_uuid_from_text(
	    "12345678-9abc-def0-1234-56789abcdef00", raw), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_uuid_from_text(
	    "123456789abc-def0-1234-56789abcdef0-", raw), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_uuid_from_text(
	    "12345678-9abc-def0-1234-56789abcdefg", raw), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_uuid_from_text(
	    "12345678_9abc-def0-1234-56789abcdef0", raw), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_uuid_from_text("", raw), MPS_ERR_MALFORMED);
}
END_TEST

/* ---- One valid encoding of every message ---- */

typedef struct sample {
	const char *what;
	uint8_t bytes[256];
	size_t len;
	unsigned flags;		/* frame_len flags it needs */
} sample;

#define NSAMPLES 25
static sample samples[NSAMPLES];
static size_t nsamples;

static void
add_sample(const char *what, mps_buf_t *b, apr_status_t rv, unsigned flags)
{
	sample *s;

	REQUIRE(rv == APR_SUCCESS, "encoding %s failed", what);
	REQUIRE(nsamples < NSAMPLES, "too many samples");
	REQUIRE(mps_buf_len(b) <= sizeof(s->bytes), "%s too long", what);
	s = &samples[nsamples++];
	s->what = what;
	s->len = mps_buf_len(b);
	memcpy(s->bytes, mps_buf_ptr(b), s->len);
	s->flags = flags;
	mps_buf_reset(b);
}

static void
build_samples(void)
{
	mps_buf_t b;
	const mps_apf_str_t e = mps_apf_cstr("");

	nsamples = 0;
	mps_buf_init(&b, 4096);
	add_sample("disconnect", &b, mps_apf_encode_disconnect(&b,
	    MPS_APF_DISCONNECT_PROTOCOL_ERROR), 0);
	add_sample("service_request", &b, mps_apf_encode_service_request(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_AUTH)), 0);
	add_sample("service_accept", &b, mps_apf_encode_service_accept(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_PFWD)), 0);
	add_sample("userauth_password", &b,
	    mps_apf_encode_userauth_request_password(&b, mps_apf_cstr("admin"),
	    mps_apf_cstr(MPS_APF_SERVICE_PFWD), mps_apf_cstr("P@ssw0rd")), 0);
	add_sample("userauth_none", &b, mps_apf_encode_userauth_request_none(&b,
	    mps_apf_cstr("dev"), mps_apf_cstr(MPS_APF_SERVICE_PFWD)), 0);
	add_sample("userauth_failure", &b, mps_apf_encode_userauth_failure(&b,
	    mps_apf_cstr(MPS_APF_METHOD_PASSWORD)), 0);
	add_sample("userauth_success", &b, mps_apf_encode_userauth_success(&b),
	    0);
	add_sample("tcpip_forward", &b, mps_apf_encode_tcpip_forward(&b, 1,
	    mps_apf_cstr("amt.example.com"), 16993), 0);
	add_sample("cancel_tcpip_forward", &b,
	    mps_apf_encode_cancel_tcpip_forward(&b, 1, e, 5900), 0);
	add_sample("udp_send_to", &b, mps_apf_encode_udp_send_to(&b, 0,
	    mps_apf_cstr("10.0.0.1"), 162, mps_apf_cstr("10.0.0.2"), 1025,
	    mps_apf_strn("\x30\x26\x02\x01\x00", 5)), 0);
	add_sample("request_success", &b, mps_apf_encode_request_success(&b),
	    0);
	add_sample("request_success_port", &b,
	    mps_apf_encode_request_success_port(&b, 16993),
	    MPS_APF_F_SUCCESS_PORT);
	add_sample("request_failure", &b, mps_apf_encode_request_failure(&b),
	    0);
	add_sample("channel_open", &b, mps_apf_encode_channel_open(&b,
	    mps_apf_cstr(MPS_APF_CHAN_FORWARDED_TCPIP), 7, 81920,
	    mps_apf_cstr("amt.example.com"), 16992, mps_apf_cstr("10.1.2.3"),
	    50000), 0);
	add_sample("channel_open_direct", &b, mps_apf_encode_channel_open(&b,
	    mps_apf_cstr(MPS_APF_CHAN_DIRECT_TCPIP), 1, 4096,
	    mps_apf_cstr("ldap.example.com"), 389, mps_apf_cstr("127.0.0.1"),
	    1234), 0);
	add_sample("channel_open_confirmation", &b,
	    mps_apf_encode_channel_open_confirmation(&b, 7, 3, 499), 0);
	add_sample("channel_open_failure", &b,
	    mps_apf_encode_channel_open_failure(&b, 7,
	    MPS_APF_OPEN_RESOURCE_SHORTAGE), 0);
	add_sample("window_adjust", &b, mps_apf_encode_window_adjust(&b, 3,
	    499), 0);
	add_sample("channel_data", &b, mps_apf_encode_channel_data(&b, 3,
	    "GET /wsman", 10), 0);
	add_sample("channel_close", &b, mps_apf_encode_channel_close(&b, 3), 0);
	add_sample("protocolversion", &b, mps_apf_encode_protocolversion(&b, 1,
	    0, MPS_APF_TRIGGER_PERIODIC, example_uuid), 0);
	add_sample("keepalive_request", &b,
	    mps_apf_encode_keepalive_request(&b, 0x01020304), 0);
	add_sample("keepalive_reply", &b, mps_apf_encode_keepalive_reply(&b,
	    0x01020304), 0);
	add_sample("keepalive_options_request", &b,
	    mps_apf_encode_keepalive_options_request(&b, 30, 90), 0);
	add_sample("keepalive_options_reply", &b,
	    mps_apf_encode_keepalive_options_reply(&b, 30, 90), 0);
	mps_buf_free(&b);
	ck_assert_uint_eq(nsamples, NSAMPLES);
}

/* Every encoded sample frames to its whole length and decodes, and
 * every named message type of APF.md is among them. */
START_TEST(test_samples_roundtrip)
{
	static const unsigned types[] = {
		1, 5, 6, 50, 51, 52, 80, 81, 82, 90, 91, 92, 93, 94, 97, 192,
		208, 209, 210, 211
	};
	mps_apf_msg_t m;
	mps_buf_t b;
	size_t i, j, len;
	int seen;

	build_samples();
	mps_buf_init(&b, 4096);
	for (i = 0; i < nsamples; i++) {
		const sample *s = &samples[i];

		REQUIRE(mps_apf_frame_len_ex(s->bytes, s->len, MPS_APF_MAX_DATA,
		    s->flags, &len) == APR_SUCCESS && len == s->len,
		    "%s: frame_len", s->what);
		REQUIRE(mps_apf_decode(s->bytes, s->len, &m) == APR_SUCCESS,
		    "%s: decode", s->what);
		REQUIRE(m.type == s->bytes[0], "%s: type", s->what);
		REQUIRE(mps_apf_encode(&b, &m) == APR_SUCCESS, "%s: re-encode",
		    s->what);
		REQUIRE(mps_buf_len(&b) == s->len &&
		    memcmp(mps_buf_ptr(&b), s->bytes, s->len) == 0,
		    "%s: re-encoded bytes differ", s->what);
		mps_buf_reset(&b);
	}
	for (j = 0; j < sizeof(types) / sizeof(types[0]); j++) {
		seen = 0;
		for (i = 0; i < nsamples; i++)
			seen |= samples[i].bytes[0] == types[j];
		REQUIRE(seen, "no sample of type %u", types[j]);
		REQUIRE(mps_apf_msg_name(types[j]) != NULL, "no name for %u",
		    types[j]);
	}
	ck_assert_str_eq(mps_apf_msg_name(MPS_APF_CHANNEL_DATA),
	    "CHANNEL_DATA");
	mps_buf_free(&b);
}
END_TEST

/* Spot-check decoded fields of the samples without vectors in APF.md. */
START_TEST(test_samples_fields)
{
	mps_apf_msg_t m;
	const sample *s;

	build_samples();
	s = &samples[4];	/* userauth_none */
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert_int_eq(m.u.userauth_request.kind, MPS_APF_AUTH_NONE);
	ck_assert(str_is(m.u.userauth_request.user, "dev"));
	ck_assert_uint_eq(m.u.userauth_request.password.len, 0);

	s = &samples[5];	/* userauth_failure: 14 bytes, per APF.md */
	ck_assert_uint_eq(s->len, 14);
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert(str_is(m.u.userauth_failure.methods, "password"));
	ck_assert_uint_eq(m.u.userauth_failure.partial, 0);

	s = &samples[8];	/* cancel */
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert_int_eq(m.u.global_request.kind,
	    MPS_APF_GREQ_CANCEL_TCPIP_FORWARD);
	ck_assert_uint_eq(m.u.global_request.port, 5900);

	s = &samples[9];	/* udp-send-to, checked at its real offsets */
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert_int_eq(m.u.global_request.kind, MPS_APF_GREQ_UDP_SEND_TO);
	ck_assert_uint_eq(m.u.global_request.want_reply, 0);
	ck_assert(str_is(m.u.global_request.dest_addr, "10.0.0.1"));
	ck_assert_uint_eq(m.u.global_request.dest_port, 162);
	ck_assert(str_is(m.u.global_request.orig_addr, "10.0.0.2"));
	ck_assert_uint_eq(m.u.global_request.orig_port, 1025);
	ck_assert_uint_eq(m.u.global_request.payload.len, 5);
	ck_assert_mem_eq(m.u.global_request.payload.ptr, "\x30\x26\x02\x01\x00",
	    5);
	ck_assert_uint_eq(s->len, 1 + 4 + 25 + 1 + 4 + 8 + 4 + 4 + 8 + 4 + 4 +
	    5);

	s = &samples[16];	/* open failure */
	ck_assert_uint_eq(s->len, 17);
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert_uint_eq(m.u.channel_open_failure.recipient, 7);
	ck_assert_uint_eq(m.u.channel_open_failure.reason, 4);
	ck_assert_uint_eq(m.u.channel_open_failure.reserved1, 0);
	ck_assert_uint_eq(m.u.channel_open_failure.reserved2, 0);

	s = &samples[21];	/* keepalive request */
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert_uint_eq(m.u.keepalive.cookie, 0x01020304);
	s = &samples[24];
	ck_assert_int_eq(mps_apf_decode(s->bytes, s->len, &m), APR_SUCCESS);
	ck_assert_uint_eq(m.type, MPS_APF_KEEPALIVE_OPTIONS_REPLY);
	ck_assert_uint_eq(m.u.keepalive_options.interval, 30);
	ck_assert_uint_eq(m.u.keepalive_options.timeout, 90);
}
END_TEST

/* A heap copy of exactly n bytes, so that ASan sees any over-read. */
static uint8_t *
exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n != 0 ? n : 1);

	REQUIRE(c != NULL, "out of memory");
	if (n != 0)
		memcpy(c, p, n);
	return c;
}

/* (a) Every truncation is NEED_MORE, from frame_len and from decode. */
START_TEST(test_truncation)
{
	mps_apf_msg_t m;
	size_t i, k, len;
	apr_status_t rv;

	build_samples();
	for (i = 0; i < nsamples; i++) {
		const sample *s = &samples[i];

		for (k = 0; k < s->len; k++) {
			uint8_t *c = exact_copy(s->bytes, k);

			len = 99;
			rv = mps_apf_frame_len_ex(c, k, MPS_APF_MAX_DATA,
			    s->flags, &len);
			REQUIRE(rv == MPS_NEED_MORE && len == 0,
			    "%s cut at %zu: frame_len gave %d", s->what, k,
			    (int)rv);
			rv = mps_apf_decode(c, k, &m);
			/* A 1-byte REQUEST_SUCCESS is complete on its own:
			 * decode tells the forms apart by length. */
			if (s->bytes[0] == MPS_APF_REQUEST_SUCCESS && k == 1)
				REQUIRE(rv == APR_SUCCESS, "bare success");
			else
				REQUIRE(rv == MPS_NEED_MORE && m.type == 0,
				    "%s cut at %zu: decode gave %d", s->what,
				    k, (int)rv);
			free(c);
		}
	}
}
END_TEST

/* The length fields of a decoded sample and their caps. */
typedef struct lenfield {
	size_t offset;		/* of the u32 length */
	size_t cap;
} lenfield;

static size_t
collect(lenfield *f, size_t nf, const uint8_t *base, mps_apf_str_t s,
    size_t cap)
{
	f[nf].offset = (size_t)((const uint8_t *)s.ptr - base) - 4;
	f[nf].cap = cap;
	return nf + 1;
}

static size_t
length_fields(const uint8_t *p, size_t n, lenfield *f)
{
	mps_apf_msg_t m;
	size_t nf = 0;
	const size_t S = MPS_APF_MAX_STRING;

	REQUIRE(mps_apf_decode(p, n, &m) == APR_SUCCESS, "sample decode");
	switch (m.type) {
	case MPS_APF_SERVICE_REQUEST:
	case MPS_APF_SERVICE_ACCEPT:
		nf = collect(f, nf, p, m.u.service.service, S);
		break;
	case MPS_APF_USERAUTH_REQUEST:
		nf = collect(f, nf, p, m.u.userauth_request.user, S);
		nf = collect(f, nf, p, m.u.userauth_request.service, S);
		nf = collect(f, nf, p, m.u.userauth_request.method, S);
		if (m.u.userauth_request.kind == MPS_APF_AUTH_PASSWORD)
			nf = collect(f, nf, p, m.u.userauth_request.password,
			    S);
		break;
	case MPS_APF_USERAUTH_FAILURE:
		nf = collect(f, nf, p, m.u.userauth_failure.methods, S);
		break;
	case MPS_APF_GLOBAL_REQUEST:
		nf = collect(f, nf, p, m.u.global_request.name, S);
		if (m.u.global_request.kind == MPS_APF_GREQ_UDP_SEND_TO) {
			nf = collect(f, nf, p, m.u.global_request.dest_addr, S);
			nf = collect(f, nf, p, m.u.global_request.orig_addr, S);
			nf = collect(f, nf, p, m.u.global_request.payload,
			    MPS_APF_MAX_UDP_PAYLOAD);
		} else
			nf = collect(f, nf, p, m.u.global_request.address, S);
		break;
	case MPS_APF_CHANNEL_OPEN:
		nf = collect(f, nf, p, m.u.channel_open.type, S);
		nf = collect(f, nf, p, m.u.channel_open.connected_addr, S);
		nf = collect(f, nf, p, m.u.channel_open.originator_addr, S);
		break;
	case MPS_APF_CHANNEL_DATA:
		nf = collect(f, nf, p, m.u.channel_data.data, MPS_APF_MAX_DATA);
		break;
	default:
		break;
	}
	return nf;
}

static void
store32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * (b) A length over its cap is refused as soon as its four bytes are in,
 * however little of what it announces is there; exactly at the cap it is
 * merely incomplete.
 */
START_TEST(test_oversized_lengths)
{
	lenfield f[8];
	mps_apf_msg_t m;
	size_t i, j, k, v, nf, len, total = 0;
	uint64_t bad[3];
	uint8_t c[256];
	apr_status_t rv;

	build_samples();
	for (i = 0; i < nsamples; i++) {
		const sample *s = &samples[i];

		nf = length_fields(s->bytes, s->len, f);
		for (j = 0; j < nf; j++) {
			bad[0] = (uint64_t)f[j].cap + 1;
			bad[1] = 0x7fffffff;
			bad[2] = 0xffffffff;
			for (v = 0; v < 3; v++) {
				memcpy(c, s->bytes, s->len);
				store32(c + f[j].offset, (uint32_t)bad[v]);
				for (k = f[j].offset + 4; k <= s->len; k++) {
					uint8_t *e = exact_copy(c, k);

					rv = mps_apf_frame_len_ex(e, k,
					    MPS_APF_MAX_DATA, s->flags, &len);
					REQUIRE(rv == MPS_ERR_TOO_LARGE,
					    "%s field %zu = %llu cut %zu: %d",
					    s->what, j,
					    (unsigned long long)bad[v], k,
					    (int)rv);
					rv = mps_apf_decode(e, k, &m);
					REQUIRE(rv == MPS_ERR_TOO_LARGE,
					    "%s decode %d", s->what, (int)rv);
					free(e);
					total++;
				}
			}
			/* At the cap: waiting for the bytes is right. */
			memcpy(c, s->bytes, s->len);
			store32(c + f[j].offset, (uint32_t)f[j].cap);
			rv = mps_apf_frame_len_ex(c, s->len, MPS_APF_MAX_DATA,
			    s->flags, &len);
			REQUIRE(rv == MPS_NEED_MORE, "%s field %zu at cap: %d",
			    s->what, j, (int)rv);
		}
	}
	ck_assert_uint_gt(total, 100);
}
END_TEST

/* CHANNEL_DATA against the caller's window and the absolute 1 MiB. */
START_TEST(test_channel_data_window)
{
	uint8_t v[16];
	size_t n = unit_unhex("5e 00000010 00000004 61626364", v, sizeof(v)), len;

	ck_assert_int_eq(mps_apf_frame_len(v, n, 4, &len), APR_SUCCESS);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(mps_apf_frame_len(v, n, 3, &len), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(len, 0);
	/* Refused from the length field alone. */
	ck_assert_int_eq(mps_apf_frame_len(v, 9, 3, &len), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_frame_len(v, 8, 3, &len), MPS_NEED_MORE);
	ck_assert_int_eq(mps_apf_frame_len(v, n, 0, &len), MPS_ERR_TOO_LARGE);
	/* Empty data is a valid frame even with a zero window. */
	store32(v + 5, 0);
	ck_assert_int_eq(mps_apf_frame_len(v, 9, 0, &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 9);

	/* A window over 1 MiB is clamped to 1 MiB. */
	store32(v + 5, MPS_APF_MAX_DATA);
	ck_assert_int_eq(mps_apf_frame_len(v, 9, SIZE_MAX, &len),
	    MPS_NEED_MORE);
	store32(v + 5, MPS_APF_MAX_DATA + 1);
	ck_assert_int_eq(mps_apf_frame_len(v, 9, SIZE_MAX, &len),
	    MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_frame_len(v, 9, (size_t)8 << 20, &len),
	    MPS_ERR_TOO_LARGE);
}
END_TEST

/* A CHANNEL_DATA of exactly 1 MiB frames, decodes and encodes. */
START_TEST(test_channel_data_max)
{
	mps_buf_t b;
	mps_apf_msg_t m;
	size_t len;
	uint8_t *payload = calloc(1, MPS_APF_MAX_DATA + 1);

	ck_assert_ptr_nonnull(payload);
	payload[MPS_APF_MAX_DATA - 1] = 0x42;
	mps_buf_init(&b, MPS_APF_MAX_MSG_LEN);
	ck_assert_int_eq(mps_apf_encode_channel_data(&b, 9, payload,
	    MPS_APF_MAX_DATA), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), MPS_APF_MAX_MSG_LEN);
	ck_assert_int_eq(mps_apf_frame_len(mps_buf_ptr(&b), mps_buf_len(&b),
	    MPS_APF_MAX_DATA, &len), APR_SUCCESS);
	ck_assert_uint_eq(len, MPS_APF_MAX_MSG_LEN);
	ck_assert_int_eq(mps_apf_decode(mps_buf_ptr(&b), len, &m), APR_SUCCESS);
	ck_assert_uint_eq(m.u.channel_data.data.len, MPS_APF_MAX_DATA);
	ck_assert_uint_eq((uint8_t)m.u.channel_data.data.ptr[MPS_APF_MAX_DATA -
	    1], 0x42);
	{
		/* Every byte of the raw header, at the largest length. */
		uint8_t hdr[MPS_APF_CHANNEL_DATA_HDR_LEN];
		static const uint8_t want[] = {
			0x5e, 0, 0, 0, 9, 0x00, 0x10, 0x00, 0x00
		};

		ck_assert_int_eq(mps_apf_channel_data_header(hdr, 9,
		    MPS_APF_MAX_DATA), APR_SUCCESS);
		ck_assert_mem_eq(hdr, want, sizeof(want));
		ck_assert_mem_eq(hdr, mps_buf_ptr(&b), sizeof(hdr));
		ck_assert_int_eq(mps_apf_channel_data_header(hdr, 0xa1b2c3d4,
		    0x0e0f10), APR_SUCCESS);
		ck_assert_mem_eq(hdr, "\x5e\xa1\xb2\xc3\xd4\x00\x0e\x0f\x10",
		    sizeof(hdr));
	}
	mps_buf_reset(&b);
	/* One more byte: the encoder refuses, appending nothing. */
	ck_assert_int_eq(mps_apf_encode_channel_data(&b, 9, payload,
	    MPS_APF_MAX_DATA + 1), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_channel_data_header(&b, 9,
	    MPS_APF_MAX_DATA + 1), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	mps_buf_free(&b);
	free(payload);
}
END_TEST

/* The longest control message is MPS_APF_MAX_CONTROL_LEN and frames. */
START_TEST(test_max_control_len)
{
	static char addr[MPS_APF_MAX_STRING], payload[MPS_APF_MAX_UDP_PAYLOAD];
	mps_buf_t b;
	size_t len;

	memset(addr, 'a', sizeof(addr));
	memset(payload, 'p', sizeof(payload));
	mps_buf_init(&b, MPS_APF_MAX_CONTROL_LEN);
	ck_assert_int_eq(mps_apf_encode_udp_send_to(&b, 1,
	    mps_apf_strn(addr, sizeof(addr)), 162,
	    mps_apf_strn(addr, sizeof(addr)), 1,
	    mps_apf_strn(payload, sizeof(payload))), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), MPS_APF_MAX_CONTROL_LEN);
	ck_assert_int_eq(mps_apf_frame_len(mps_buf_ptr(&b), mps_buf_len(&b), 0,
	    &len), APR_SUCCESS);
	ck_assert_uint_eq(len, MPS_APF_MAX_CONTROL_LEN);
	/* Nothing else comes close: the longest USERAUTH_REQUEST. */
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_apf_encode_userauth_request_password(&b,
	    mps_apf_strn(addr, sizeof(addr)), mps_apf_strn(addr, sizeof(addr)),
	    mps_apf_strn(addr, sizeof(addr))), APR_SUCCESS);
	ck_assert_uint_lt(mps_buf_len(&b), MPS_APF_MAX_CONTROL_LEN);
	mps_buf_free(&b);
}
END_TEST

/* Every byte value as a type: known types wait for more, unknown ones
 * are refused at once from the single byte. */
START_TEST(test_unknown_types)
{
	mps_apf_msg_t m;
	unsigned t;
	uint8_t c;
	size_t len;
	apr_status_t rv;

	for (t = 0; t < 256; t++) {
		c = (uint8_t)t;
		rv = mps_apf_frame_len(&c, 1, MPS_APF_MAX_DATA, &len);
		if (mps_apf_msg_name(t) == NULL) {
			REQUIRE(rv == MPS_ERR_MALFORMED, "type %u: %d", t,
			    (int)rv);
			REQUIRE(mps_apf_decode(&c, 1, &m) == MPS_ERR_MALFORMED,
			    "type %u decode", t);
		} else if (t == MPS_APF_USERAUTH_SUCCESS ||
		    t == MPS_APF_REQUEST_SUCCESS ||
		    t == MPS_APF_REQUEST_FAILURE)
			REQUIRE(rv == APR_SUCCESS && len == 1, "type %u", t);
		else
			REQUIRE(rv == MPS_NEED_MORE, "type %u: %d", t, (int)rv);
	}
	/* MeshCentral's 250 is not APF. */
	c = 250;
	ck_assert_int_eq(mps_apf_frame_len(&c, 1, 0, &len), MPS_ERR_MALFORMED);
	ck_assert_ptr_null(mps_apf_msg_name(250));
	ck_assert_ptr_null(mps_apf_msg_name(0));
	ck_assert_ptr_null(mps_apf_msg_name(1000));
}
END_TEST

/* An unknown global request name is MALFORMED once the name is in (its
 * data has no known end); NEED_MORE before. */
START_TEST(test_unknown_global_request)
{
	mps_buf_t b;
	size_t len, k, n;
	const uint8_t *p;
	mps_apf_msg_t m;

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_buf_put_u8(&b, MPS_APF_GLOBAL_REQUEST),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "keepalive@openssh.com", 21),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u8(&b, 1), APR_SUCCESS);
	p = mps_buf_ptr(&b);
	n = mps_buf_len(&b);
	for (k = 0; k < 26; k++)
		ck_assert_int_eq(mps_apf_frame_len(p, k, 0, &len),
		    MPS_NEED_MORE);
	ck_assert_int_eq(mps_apf_frame_len(p, 26, 0, &len), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_frame_len(p, n, 0, &len), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_decode(p, n, &m), MPS_ERR_MALFORMED);
	/* A prefix or different case of a known name is not that name. */
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_buf_put_u8(&b, MPS_APF_GLOBAL_REQUEST),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "tcpip-forwar", 12),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_apf_frame_len(mps_buf_ptr(&b), mps_buf_len(&b), 0,
	    &len), MPS_ERR_MALFORMED);
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_buf_put_u8(&b, MPS_APF_GLOBAL_REQUEST),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "TCPIP-FORWARD", 13),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_apf_frame_len(mps_buf_ptr(&b), mps_buf_len(&b), 0,
	    &len), MPS_ERR_MALFORMED);

	/* The encoder refuses one too, appending nothing. */
	mps_buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MPS_APF_GLOBAL_REQUEST;
	m.u.global_request.name = mps_apf_cstr("x");
	ck_assert_int_eq(mps_apf_encode(&b, &m), MPS_ERR_MALFORMED);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	mps_buf_free(&b);
}
END_TEST

/* USERAUTH_REQUEST: "none" ends after the method, others are refused. */
START_TEST(test_userauth_methods)
{
	mps_buf_t b;
	size_t len;
	mps_apf_msg_t m;

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_buf_put_u8(&b, MPS_APF_USERAUTH_REQUEST),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "u", 1), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "pfwd@amt.intel.com", 18),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "publickey", 9), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u8(&b, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_frame_len(mps_buf_ptr(&b), mps_buf_len(&b), 0,
	    &len), MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_decode(mps_buf_ptr(&b), mps_buf_len(&b), &m),
	    MPS_ERR_MALFORMED);
	/* The encoder will not produce it either. */
	mps_buf_reset(&b);
	memset(&m, 0, sizeof(m));
	m.type = MPS_APF_USERAUTH_REQUEST;
	m.u.userauth_request.method = mps_apf_cstr("publickey");
	ck_assert_int_eq(mps_apf_encode(&b, &m), MPS_ERR_MALFORMED);
	ck_assert_uint_eq(mps_buf_len(&b), 0);

	/* "none" followed by another message: the frame ends at the method. */
	ck_assert_int_eq(mps_apf_encode_userauth_request_none(&b,
	    mps_apf_cstr("u"), mps_apf_cstr(MPS_APF_SERVICE_PFWD)),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 1 + 5 + 22 + 8);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&b, 1), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_frame_len(mps_buf_ptr(&b), mps_buf_len(&b), 0,
	    &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 36);
	/* A password request with its change flag set still frames. */
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_apf_encode_userauth_request_password(&b,
	    mps_apf_cstr("u"), mps_apf_cstr(MPS_APF_SERVICE_PFWD),
	    mps_apf_cstr("pw")), APR_SUCCESS);
	((uint8_t *)mps_buf_ptr(&b))[1 + 5 + 22 + 12] = 1;
	ck_assert_int_eq(mps_apf_decode(mps_buf_ptr(&b), mps_buf_len(&b), &m),
	    APR_SUCCESS);
	ck_assert_uint_eq(m.u.userauth_request.change, 1);
	ck_assert(str_is(m.u.userauth_request.password, "pw"));
	mps_buf_free(&b);
}
END_TEST

/*
 * Open AMT's USERAUTH_FAILURE carries an extra 0 byte. The MPS side
 * (strict) sees a 14-byte message then an unknown type 0; the simulator
 * (MPS_APF_F_PAD) sees the message then a PAD it ignores.
 */
START_TEST(test_userauth_failure_pad)
{
	mps_buf_t b;
	uint8_t s[64];
	size_t n, len;
	mps_apf_msg_t m;

	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_userauth_failure(&b,
	    mps_apf_cstr("password")), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u8(&b, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_userauth_success(&b), APR_SUCCESS);
	n = mps_buf_len(&b);
	memcpy(s, mps_buf_ptr(&b), n);
	ck_assert_uint_eq(n, 16);

	/* Decoding the 15 bytes as one message is trailing data. */
	ck_assert_int_eq(mps_apf_decode(s, 15, &m), MPS_ERR_TRAILING_DATA);
	ck_assert_uint_eq(m.type, 0);

	ck_assert_int_eq(mps_apf_frame_len(s, n, 0, &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 14);
	ck_assert_int_eq(mps_apf_frame_len(s + 14, n - 14, 0, &len),
	    MPS_ERR_MALFORMED);
	ck_assert_int_eq(mps_apf_decode(s + 14, 1, &m), MPS_ERR_MALFORMED);

	ck_assert_int_eq(mps_apf_frame_len_ex(s + 14, n - 14, 0, MPS_APF_F_PAD,
	    &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(mps_apf_decode_ex(s + 14, 1, MPS_APF_F_PAD, &m),
	    APR_SUCCESS);
	ck_assert_uint_eq(m.type, MPS_APF_PAD);
	ck_assert_int_eq(mps_apf_frame_len_ex(s + 15, n - 15, 0, MPS_APF_F_PAD,
	    &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(mps_apf_decode_ex(s + 15, 1, MPS_APF_F_PAD, &m),
	    APR_SUCCESS);
	ck_assert_uint_eq(m.type, MPS_APF_USERAUTH_SUCCESS);
	/* A PAD is never produced. */
	mps_buf_reset(&b);
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(mps_apf_encode(&b, &m), MPS_ERR_MALFORMED);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	mps_buf_free(&b);
}
END_TEST

/* Trailing bytes inside an exact message are refused for every type. */
START_TEST(test_trailing_data)
{
	uint8_t c[260];
	mps_apf_msg_t m;
	size_t i;
	apr_status_t rv;

	build_samples();
	for (i = 0; i < nsamples; i++) {
		const sample *s = &samples[i];

		memcpy(c, s->bytes, s->len);
		c[s->len] = 0;
		c[s->len + 1] = 0;
		rv = mps_apf_decode(c, s->len + 1, &m);
		if (s->bytes[0] == MPS_APF_REQUEST_SUCCESS && s->len == 1)
			/* 2 bytes: a port cut short */
			REQUIRE(rv == MPS_NEED_MORE, "%s: %d", s->what,
			    (int)rv);
		else
			REQUIRE(rv == MPS_ERR_TRAILING_DATA, "%s: %d", s->what,
			    (int)rv);
		rv = mps_apf_decode(c, s->len + 2, &m);
		REQUIRE(rv != APR_SUCCESS, "%s +2 accepted", s->what);
	}
}
END_TEST

/* Encoders refuse what the decoder would refuse, atomically. */
START_TEST(test_encoder_limits)
{
	static char big[MPS_APF_MAX_UDP_PAYLOAD + 1];
	mps_buf_t b;
	const mps_apf_str_t e = mps_apf_cstr("");
	const mps_apf_str_t name_over = mps_apf_strn(big,
	    MPS_APF_MAX_STRING + 1);
	const mps_apf_str_t name_max = mps_apf_strn(big, MPS_APF_MAX_STRING);
	size_t before;

	memset(big, 'x', sizeof(big));
	mps_buf_init(&b, 1 << 20);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&b, 5), APR_SUCCESS);
	before = mps_buf_len(&b);

	ck_assert_int_eq(mps_apf_encode_service_request(&b, name_over),
	    MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_userauth_request_password(&b, e, e,
	    name_over), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_channel_open(&b, e, 1, 1, e, 1,
	    name_over, 1), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_udp_send_to(&b, 0, e, 1, e, 1,
	    mps_apf_strn(big, MPS_APF_MAX_UDP_PAYLOAD + 1)), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_tcpip_forward(&b, 1, name_over, 1),
	    MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_channel_data(&b, 1, NULL, 3),
	    APR_EINVAL);
	ck_assert_uint_eq(mps_buf_len(&b), before);
	ck_assert_int_eq(mps_apf_encode_service_request(&b, name_max),
	    APR_SUCCESS);
	/* want_reply is written as one byte, 0 or 1. */
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_apf_encode_tcpip_forward(&b, 0x100, e, 1),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_ptr(&b)[1 + 4 + 13], 1);
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_apf_encode_udp_send_to(&b, 0x100, e, 1, e, 1, e),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_ptr(&b)[1 + 4 + 25], 1);

	/* A buffer too small for the whole message gets none of it. */
	mps_buf_free(&b);
	mps_buf_init(&b, 20);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&b, 5), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_channel_open(&b,
	    mps_apf_cstr(MPS_APF_CHAN_FORWARDED_TCPIP), 1, 1, e, 1, e, 1),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 5);
	ck_assert_int_eq(mps_apf_encode_channel_close(&b, 1), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_channel_close(&b, 2), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_channel_close(&b, 3), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 20);		/* exactly full */
	ck_assert_int_eq(mps_apf_encode_channel_close(&b, 4), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_apf_encode_userauth_success(&b), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 20);
	/* Room for the first bytes of a message is not room for it. */
	ck_assert_int_eq(mps_buf_consume(&b, 2), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_channel_close(&b, 4), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 18);
	mps_buf_free(&b);

	/* A view cannot be written. */
	{
		uint8_t raw[4];

		mps_buf_view(&b, raw, sizeof(raw));
		ck_assert_int_eq(mps_apf_encode_channel_close(&b, 1),
		    APR_EINVAL);
		ck_assert_uint_eq(mps_buf_len(&b), 4);
	}
}
END_TEST

/*
 * (c) Deterministic mutations of every sample: 1- and 2-bit flips at
 * every bit, byte flips, 0x00/0xff at every byte. Nothing may crash or
 * read out of bounds (ASan); every answer is a clean status; the two
 * phases agree; whatever decodes re-encodes to exactly the same bytes.
 */
static size_t mutants_ok;

static void
check_mutant(const sample *s, const uint8_t *mut, size_t n, mps_buf_t *b)
{
	uint8_t *c = exact_copy(mut, n);
	mps_apf_msg_t m;
	size_t len;
	apr_status_t rv, dv;
	unsigned flags;

	rv = mps_apf_frame_len_ex(c, n, MPS_APF_MAX_DATA, s->flags, &len);
	REQUIRE(rv == APR_SUCCESS || rv == MPS_NEED_MORE ||
	    rv == MPS_ERR_MALFORMED || rv == MPS_ERR_TOO_LARGE,
	    "%s: frame_len status %d", s->what, (int)rv);
	if (rv == APR_SUCCESS) {
		REQUIRE(len >= 1 && len <= n, "%s: frame_len %zu of %zu",
		    s->what, len, n);
		/* Phase 2 accepts exactly what phase 1 framed. */
		free(c);
		c = exact_copy(mut, len);
		dv = mps_apf_decode(c, len, &m);
		REQUIRE(dv == APR_SUCCESS, "%s: framed %zu but decode %d",
		    s->what, len, (int)dv);
		free(c);
		c = exact_copy(mut, n);
	}
	dv = mps_apf_decode(c, n, &m);
	REQUIRE(dv == APR_SUCCESS || dv == MPS_NEED_MORE ||
	    dv == MPS_ERR_MALFORMED || dv == MPS_ERR_TOO_LARGE ||
	    dv == MPS_ERR_TRAILING_DATA, "%s: decode status %d", s->what,
	    (int)dv);
	if (dv == APR_SUCCESS) {
		/* Same bytes out as in: every field was read correctly. */
		mps_buf_reset(b);
		REQUIRE(mps_apf_encode(b, &m) == APR_SUCCESS,
		    "%s: re-encode of a decoded mutant", s->what);
		REQUIRE(mps_buf_len(b) == n &&
		    memcmp(mps_buf_ptr(b), c, n) == 0,
		    "%s: mutant does not round-trip", s->what);
		/* And phase 1 frames it whole (told the REQUEST_SUCCESS
		 * form, which only decode can tell by length). */
		flags = (m.type == MPS_APF_REQUEST_SUCCESS &&
		    m.u.request_success.has_port) ? MPS_APF_F_SUCCESS_PORT : 0;
		REQUIRE(mps_apf_frame_len_ex(c, n, MPS_APF_MAX_DATA, flags,
		    &len) == APR_SUCCESS && len == n,
		    "%s: decoded but frame_len disagrees", s->what);
		mutants_ok++;
	} else
		REQUIRE(m.type == 0, "%s: output not zeroed", s->what);
	free(c);
}

START_TEST(test_mutations)
{
	uint8_t mut[256];
	size_t i, bit, pos, total = 0;
	mps_buf_t b;
	static const uint8_t fills[] = { 0x00, 0xff, 0x80, 0x7f };

	build_samples();
	mps_buf_init(&b, 4096);
	mutants_ok = 0;
	for (i = 0; i < nsamples; i++) {
		const sample *s = &samples[i];
		size_t nbits = s->len * 8;

		for (bit = 0; bit < nbits; bit++) {
			memcpy(mut, s->bytes, s->len);
			mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			check_mutant(s, mut, s->len, &b);
			if (bit + 1 < nbits) {
				mut[(bit + 1) / 8] ^=
				    (uint8_t)(1u << ((bit + 1) % 8));
				check_mutant(s, mut, s->len, &b);
			}
			total += 2;
		}
		for (pos = 0; pos < s->len; pos++) {
			size_t f;

			memcpy(mut, s->bytes, s->len);
			mut[pos] ^= 0xff;
			check_mutant(s, mut, s->len, &b);
			if (pos + 1 < s->len) {
				mut[pos + 1] ^= 0xff;
				check_mutant(s, mut, s->len, &b);
			}
			for (f = 0; f < sizeof(fills); f++) {
				memcpy(mut, s->bytes, s->len);
				mut[pos] = fills[f];
				check_mutant(s, mut, s->len, &b);
			}
			/* Truncated mutants too (start and end). */
			check_mutant(s, s->bytes + pos, s->len - pos, &b);
			total += 7;
		}
	}
	mps_buf_free(&b);
	ck_assert_uint_gt(total, 10000);
	/* Many mutants stay valid (ids, ports, windows): they were all
	 * checked for an exact round trip. */
	ck_assert_uint_gt(mutants_ok, 2000);
}
END_TEST

/*
 * (d) The receive loop: append input, then while a whole message is
 * there, decode it and consume it. Each decoded message is re-encoded
 * into `out` (its strings die at consume), so the whole run can be
 * compared with the input stream.
 */
typedef struct rx {
	mps_buf_t in;
	mps_buf_t out;
	size_t count;
	size_t max_pending;	/* the most bytes ever held undecoded */
} rx;

static void
rx_init(rx *r)
{
	mps_buf_init(&r->in, MPS_APF_MAX_MSG_LEN);
	mps_buf_init(&r->out, 1 << 24);
	r->count = 0;
	r->max_pending = 0;
}

static void
rx_free(rx *r)
{
	mps_buf_free(&r->in);
	mps_buf_free(&r->out);
}

static void
rx_feed(rx *r, const uint8_t *p, size_t n)
{
	mps_apf_msg_t m;
	size_t len;
	apr_status_t rv;

	REQUIRE(mps_buf_put(&r->in, p, n) == APR_SUCCESS, "feed");
	if (mps_buf_len(&r->in) > r->max_pending)
		r->max_pending = mps_buf_len(&r->in);
	while ((rv = mps_apf_frame_len(mps_buf_ptr(&r->in),
	    mps_buf_len(&r->in), 65536, &len)) == APR_SUCCESS) {
		REQUIRE(mps_apf_decode(mps_buf_ptr(&r->in), len, &m) ==
		    APR_SUCCESS, "decode of a framed message");
		REQUIRE(mps_apf_encode(&r->out, &m) == APR_SUCCESS, "encode");
		REQUIRE(mps_buf_consume(&r->in, len) == APR_SUCCESS, "consume");
		r->count++;
	}
	REQUIRE(rv == MPS_NEED_MORE, "stream error %d", (int)rv);
}

START_TEST(test_stream_feeding)
{
	mps_buf_t stream;
	rx whole, bytes, chunks;
	size_t i, nmsg = 0, off, n, biggest = 0;
	uint8_t data[3000];

	build_samples();
	unit_rng_seed(20240601);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)unit_rng();
	mps_buf_init(&stream, 1 << 22);
	/* 600 messages: the samples (REQUEST_SUCCESS's port form needs a
	 * flag, so it is left out) in random order, and CHANNEL_DATA of
	 * random sizes, some larger than any read chunk. */
	while (nmsg < 600) {
		uint32_t pick = unit_rng() % (nsamples + 4);

		if (pick < nsamples) {
			if (samples[pick].flags != 0)
				continue;
			REQUIRE(mps_buf_put(&stream, samples[pick].bytes,
			    samples[pick].len) == APR_SUCCESS, "stream");
		} else {
			n = unit_rng() % sizeof(data);
			REQUIRE(mps_apf_encode_channel_data(&stream, unit_rng(),
			    data, n) == APR_SUCCESS, "stream data");
			if (n > biggest)
				biggest = n;
		}
		nmsg++;
	}

	rx_init(&whole);
	rx_feed(&whole, mps_buf_ptr(&stream), mps_buf_len(&stream));
	ck_assert_uint_eq(whole.count, nmsg);
	ck_assert_uint_eq(mps_buf_len(&whole.in), 0);

	rx_init(&bytes);
	for (off = 0; off < mps_buf_len(&stream); off++)
		rx_feed(&bytes, mps_buf_ptr(&stream) + off, 1);
	ck_assert_uint_eq(bytes.count, nmsg);
	ck_assert_uint_eq(mps_buf_len(&bytes.in), 0);
	/* Byte by byte, no more than one message is ever pending. */
	ck_assert_uint_le(bytes.max_pending, MPS_APF_CHANNEL_DATA_HDR_LEN +
	    (biggest > 256 ? biggest : 256));

	rx_init(&chunks);
	for (off = 0; off < mps_buf_len(&stream); off += n) {
		n = 1 + unit_rng() % 1500;
		if (n > mps_buf_len(&stream) - off)
			n = mps_buf_len(&stream) - off;
		rx_feed(&chunks, mps_buf_ptr(&stream) + off, n);
	}
	ck_assert_uint_eq(chunks.count, nmsg);

	/* The same messages, in the same order, field for field. */
	ck_assert_uint_eq(mps_buf_len(&whole.out), mps_buf_len(&stream));
	ck_assert_mem_eq(mps_buf_ptr(&whole.out), mps_buf_ptr(&stream),
	    mps_buf_len(&stream));
	ck_assert_uint_eq(mps_buf_len(&bytes.out), mps_buf_len(&stream));
	ck_assert_mem_eq(mps_buf_ptr(&bytes.out), mps_buf_ptr(&stream),
	    mps_buf_len(&stream));
	ck_assert_uint_eq(mps_buf_len(&chunks.out), mps_buf_len(&stream));
	ck_assert_mem_eq(mps_buf_ptr(&chunks.out), mps_buf_ptr(&stream),
	    mps_buf_len(&stream));
	rx_free(&whole);
	rx_free(&bytes);
	rx_free(&chunks);
	mps_buf_free(&stream);
}
END_TEST

/* A protocol error in the middle of a stream stops the loop there, with
 * the good messages before it delivered. */
START_TEST(test_stream_error_stops)
{
	mps_buf_t in;
	mps_apf_msg_t m;
	size_t len, count = 0;
	apr_status_t rv;

	mps_buf_init(&in, 4096);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&in, 1), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&in, 2), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u8(&in, 250), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_keepalive_request(&in, 3), APR_SUCCESS);
	while ((rv = mps_apf_frame_len(mps_buf_ptr(&in), mps_buf_len(&in), 0,
	    &len)) == APR_SUCCESS) {
		ck_assert_int_eq(mps_apf_decode(mps_buf_ptr(&in), len, &m),
		    APR_SUCCESS);
		ck_assert_uint_eq(m.u.keepalive.cookie, count + 1);
		ck_assert_int_eq(mps_buf_consume(&in, len), APR_SUCCESS);
		count++;
	}
	ck_assert_int_eq(rv, MPS_ERR_MALFORMED);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(mps_buf_len(&in), 6);
	mps_buf_free(&in);
}
END_TEST

START_TEST(test_str_helpers)
{
	mps_apf_str_t s;

	s = mps_apf_cstr(NULL);
	ck_assert_ptr_nonnull(s.ptr);
	ck_assert_uint_eq(s.len, 0);
	ck_assert(mps_apf_str_eq(s, ""));
	s = mps_apf_strn("password!", 8);
	ck_assert(mps_apf_str_eq(s, "password"));
	ck_assert(!mps_apf_str_eq(s, "password!"));
	ck_assert(!mps_apf_str_eq(s, "passwor"));
	ck_assert_int_eq(mps_apf_auth_method_kind(s), MPS_APF_AUTH_PASSWORD);
	ck_assert_int_eq(mps_apf_auth_method_kind(mps_apf_cstr("none")),
	    MPS_APF_AUTH_NONE);
	ck_assert_int_eq(mps_apf_auth_method_kind(mps_apf_cstr("None")),
	    MPS_APF_AUTH_UNKNOWN);
	ck_assert_int_eq(mps_apf_greq_kind(mps_apf_cstr(
	    MPS_APF_REQ_UDP_SEND_TO)), MPS_APF_GREQ_UDP_SEND_TO);
	ck_assert_int_eq(mps_apf_greq_kind(mps_apf_strn("tcpip-forward\0", 14)),
	    MPS_APF_GREQ_UNKNOWN);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("apf_codec");
	TCase *v = tcase_create("vectors");
	TCase *f = tcase_create("framing");
	TCase *z = tcase_create("robustness");

	tcase_add_test(v, test_vector_protocolversion);
	tcase_add_test(v, test_vector_service_request);
	tcase_add_test(v, test_vector_userauth_request);
	tcase_add_test(v, test_vector_tcpip_forward);
	tcase_add_test(v, test_vector_keepalive_options);
	tcase_add_test(v, test_vector_channel_open);
	tcase_add_test(v, test_vector_channel_messages);
	tcase_add_test(v, test_vectors_by_hand);
	tcase_add_test(v, test_uuid_text);
	suite_add_tcase(s, v);

	tcase_add_test(f, test_samples_roundtrip);
	tcase_add_test(f, test_samples_fields);
	tcase_add_test(f, test_channel_data_window);
	tcase_add_test(f, test_channel_data_max);
	tcase_add_test(f, test_max_control_len);
	tcase_add_test(f, test_unknown_types);
	tcase_add_test(f, test_unknown_global_request);
	tcase_add_test(f, test_userauth_methods);
	tcase_add_test(f, test_userauth_failure_pad);
	tcase_add_test(f, test_trailing_data);
	tcase_add_test(f, test_encoder_limits);
	tcase_add_test(f, test_str_helpers);
	suite_add_tcase(s, f);

	tcase_add_test(z, test_truncation);
	tcase_add_test(z, test_oversized_lengths);
	tcase_add_test(z, test_mutations);
	tcase_add_test(z, test_stream_feeding);
	tcase_add_test(z, test_stream_error_stops);
	suite_add_tcase(s, z);
	return s;
}
