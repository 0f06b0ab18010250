/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apf_codec.c: APF messages to and from bytes (see apf_codec.h).
 *
 * Every field goes through the mps_buf cursor: no offset arithmetic, no
 * raw indexing, so a forgotten bounds check is impossible rather than a
 * review item (the Open AMT MPS computes offsets by hand and gets the
 * udp-send-to ones wrong).
 *
 * frame_len and decode share parse(): frame_len runs it over the whole
 * accumulated input and reports how far it got; decode runs it over
 * exactly one message and then demands the end. One layout description
 * per message, so the two phases cannot drift apart.
 */
#include "apf_codec.h"

#include <string.h>

#include "mps_status.h"

/* ---- Small helpers ---- */

int
mps_apf_str_eq(mps_apf_str_t s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

mps_apf_greq_t
mps_apf_greq_kind(mps_apf_str_t name)
{
	if (mps_apf_str_eq(name, MPS_APF_REQ_TCPIP_FORWARD))
		return MPS_APF_GREQ_TCPIP_FORWARD;
	if (mps_apf_str_eq(name, MPS_APF_REQ_CANCEL_TCPIP_FORWARD))
		return MPS_APF_GREQ_CANCEL_TCPIP_FORWARD;
	if (mps_apf_str_eq(name, MPS_APF_REQ_UDP_SEND_TO))
		return MPS_APF_GREQ_UDP_SEND_TO;
	return MPS_APF_GREQ_UNKNOWN;
}

mps_apf_auth_method_t
mps_apf_auth_method_kind(mps_apf_str_t method)
{
	if (mps_apf_str_eq(method, MPS_APF_METHOD_PASSWORD))
		return MPS_APF_AUTH_PASSWORD;
	if (mps_apf_str_eq(method, MPS_APF_METHOD_NONE))
		return MPS_APF_AUTH_NONE;
	return MPS_APF_AUTH_UNKNOWN;
}

const char *
mps_apf_msg_name(unsigned type)
{
	switch (type) {
	case MPS_APF_DISCONNECT: return "DISCONNECT";
	case MPS_APF_SERVICE_REQUEST: return "SERVICE_REQUEST";
	case MPS_APF_SERVICE_ACCEPT: return "SERVICE_ACCEPT";
	case MPS_APF_USERAUTH_REQUEST: return "USERAUTH_REQUEST";
	case MPS_APF_USERAUTH_FAILURE: return "USERAUTH_FAILURE";
	case MPS_APF_USERAUTH_SUCCESS: return "USERAUTH_SUCCESS";
	case MPS_APF_GLOBAL_REQUEST: return "GLOBAL_REQUEST";
	case MPS_APF_REQUEST_SUCCESS: return "REQUEST_SUCCESS";
	case MPS_APF_REQUEST_FAILURE: return "REQUEST_FAILURE";
	case MPS_APF_CHANNEL_OPEN: return "CHANNEL_OPEN";
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
		return "CHANNEL_OPEN_CONFIRMATION";
	case MPS_APF_CHANNEL_OPEN_FAILURE: return "CHANNEL_OPEN_FAILURE";
	case MPS_APF_CHANNEL_WINDOW_ADJUST: return "CHANNEL_WINDOW_ADJUST";
	case MPS_APF_CHANNEL_DATA: return "CHANNEL_DATA";
	case MPS_APF_CHANNEL_CLOSE: return "CHANNEL_CLOSE";
	case MPS_APF_PROTOCOLVERSION: return "PROTOCOLVERSION";
	case MPS_APF_KEEPALIVE_REQUEST: return "KEEPALIVE_REQUEST";
	case MPS_APF_KEEPALIVE_REPLY: return "KEEPALIVE_REPLY";
	case MPS_APF_KEEPALIVE_OPTIONS_REQUEST:
		return "KEEPALIVE_OPTIONS_REQUEST";
	case MPS_APF_KEEPALIVE_OPTIONS_REPLY:
		return "KEEPALIVE_OPTIONS_REPLY";
	default: return NULL;
	}
}

/* ---- Parsing ---- */

/* How parse() is being run. */
typedef struct parse_ctx {
	size_t max_data;	/* CHANNEL_DATA payload cap */
	unsigned flags;		/* MPS_APF_F_* */
	int exact;		/* decode: the input is exactly one message */
} parse_ctx;

static apr_status_t
get_str(mps_buf_t *r, size_t max, mps_apf_str_t *s)
{
	const uint8_t *p;
	size_t n;
	apr_status_t rv;

	s->ptr = NULL;
	s->len = 0;
	if ((rv = mps_buf_get_string_direct(r, &p, &n, max)) != APR_SUCCESS)
		return rv;
	s->ptr = (const char *)p;
	s->len = n;
	return APR_SUCCESS;
}

static apr_status_t
get_name(mps_buf_t *r, mps_apf_str_t *s)
{
	return get_str(r, MPS_APF_MAX_STRING, s);
}

static apr_status_t
parse_disconnect(mps_buf_t *r, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = mps_buf_get_u32(r, &m->u.disconnect.reason)) != APR_SUCCESS)
		return rv;
	return mps_buf_get_u16(r, &m->u.disconnect.reserved);
}

static apr_status_t
parse_userauth_request(mps_buf_t *r, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = get_name(r, &m->u.userauth_request.user)) != APR_SUCCESS ||
	    (rv = get_name(r, &m->u.userauth_request.service)) != APR_SUCCESS ||
	    (rv = get_name(r, &m->u.userauth_request.method)) != APR_SUCCESS)
		return rv;
	m->u.userauth_request.kind =
	    mps_apf_auth_method_kind(m->u.userauth_request.method);
	switch (m->u.userauth_request.kind) {
	case MPS_APF_AUTH_PASSWORD:
		if ((rv = mps_buf_get_u8(r,
		    &m->u.userauth_request.change)) != APR_SUCCESS)
			return rv;
		return get_name(r, &m->u.userauth_request.password);
	case MPS_APF_AUTH_NONE:
		return APR_SUCCESS;
	default:
		/* Another method's fields are unknown, hence its end. */
		return MPS_ERR_MALFORMED;
	}
}

static apr_status_t
parse_userauth_failure(mps_buf_t *r, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = get_name(r, &m->u.userauth_failure.methods)) != APR_SUCCESS)
		return rv;
	return mps_buf_get_u8(r, &m->u.userauth_failure.partial);
}

static apr_status_t
parse_udp_send_to(mps_buf_t *r, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = get_name(r, &m->u.global_request.dest_addr)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r,
	    &m->u.global_request.dest_port)) != APR_SUCCESS ||
	    (rv = get_name(r, &m->u.global_request.orig_addr)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r,
	    &m->u.global_request.orig_port)) != APR_SUCCESS)
		return rv;
	return get_str(r, MPS_APF_MAX_UDP_PAYLOAD,
	    &m->u.global_request.payload);
}

static apr_status_t
parse_global_request(mps_buf_t *r, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = get_name(r, &m->u.global_request.name)) != APR_SUCCESS)
		return rv;
	/*
	 * With no outer length, the request data of an unknown name has no
	 * known end: the stream cannot be resynchronised, so it is a
	 * protocol error, decided as soon as the name is complete.
	 */
	m->u.global_request.kind = mps_apf_greq_kind(m->u.global_request.name);
	if (m->u.global_request.kind == MPS_APF_GREQ_UNKNOWN)
		return MPS_ERR_MALFORMED;
	if ((rv = mps_buf_get_u8(r,
	    &m->u.global_request.want_reply)) != APR_SUCCESS)
		return rv;
	if (m->u.global_request.kind == MPS_APF_GREQ_UDP_SEND_TO)
		return parse_udp_send_to(r, m);
	if ((rv = get_name(r, &m->u.global_request.address)) != APR_SUCCESS)
		return rv;
	return mps_buf_get_u32(r, &m->u.global_request.port);
}

static apr_status_t
parse_request_success(mps_buf_t *r, const parse_ctx *ctx, mps_apf_msg_t *m)
{
	apr_status_t rv;

	/*
	 * 1 or 5 bytes depending on the request answered. Decode knows the
	 * length; frame_len must be told (MPS_APF_F_SUCCESS_PORT).
	 */
	if (ctx->exact ? mps_buf_len(r) == 0 :
	    (ctx->flags & MPS_APF_F_SUCCESS_PORT) == 0)
		return APR_SUCCESS;
	if ((rv = mps_buf_get_u32(r, &m->u.request_success.port)) != APR_SUCCESS)
		return rv;
	m->u.request_success.has_port = 1;
	return APR_SUCCESS;
}

static apr_status_t
parse_channel_open(mps_buf_t *r, mps_apf_msg_t *m)
{
	apr_status_t rv;

	/*
	 * forwarded-tcpip and direct-tcpip share this layout and APF has no
	 * other channel type; an unknown type is framed the same way so the
	 * session can answer OPEN_FAILURE UNKNOWN_CHANNEL_TYPE.
	 */
	if ((rv = get_name(r, &m->u.channel_open.type)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r, &m->u.channel_open.sender)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r, &m->u.channel_open.window)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r,
	    &m->u.channel_open.reserved)) != APR_SUCCESS ||
	    (rv = get_name(r, &m->u.channel_open.connected_addr)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r,
	    &m->u.channel_open.connected_port)) != APR_SUCCESS ||
	    (rv = get_name(r,
	    &m->u.channel_open.originator_addr)) != APR_SUCCESS)
		return rv;
	return mps_buf_get_u32(r, &m->u.channel_open.originator_port);
}

static apr_status_t
parse_two_u32(mps_buf_t *r, uint32_t *a, uint32_t *b)
{
	apr_status_t rv;

	if ((rv = mps_buf_get_u32(r, a)) != APR_SUCCESS)
		return rv;
	return mps_buf_get_u32(r, b);
}

static apr_status_t
parse_four_u32(mps_buf_t *r, uint32_t *a, uint32_t *b, uint32_t *c,
    uint32_t *d)
{
	apr_status_t rv;

	if ((rv = parse_two_u32(r, a, b)) != APR_SUCCESS)
		return rv;
	return parse_two_u32(r, c, d);
}

static apr_status_t
parse_channel_data(mps_buf_t *r, const parse_ctx *ctx, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = mps_buf_get_u32(r,
	    &m->u.channel_data.recipient)) != APR_SUCCESS)
		return rv;
	return get_str(r, ctx->max_data, &m->u.channel_data.data);
}

static apr_status_t
parse_protocolversion(mps_buf_t *r, mps_apf_msg_t *m)
{
	mps_buf_t reserved;
	apr_status_t rv;

	if ((rv = mps_buf_get_u32(r,
	    &m->u.protocolversion.major)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r,
	    &m->u.protocolversion.minor)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u32(r,
	    &m->u.protocolversion.trigger)) != APR_SUCCESS ||
	    (rv = mps_buf_get_bytes(r, m->u.protocolversion.uuid,
	    MPS_APF_UUID_LEN)) != APR_SUCCESS)
		return rv;
	/* The reserved bytes are kept by reference, not copied: 64 bytes
	 * of nothing do not belong in every decoded message. */
	if ((rv = mps_buf_get_view(r, MPS_APF_PROTOCOLVERSION_RESERVED,
	    &reserved)) != APR_SUCCESS)
		return rv;
	m->u.protocolversion.reserved = mps_buf_ptr(&reserved);
	return APR_SUCCESS;
}

/*
 * Reads one message from the front of r into *m. On success r is left
 * just past it. On failure *m may be partly filled: callers clear it.
 */
static apr_status_t
parse(mps_buf_t *r, const parse_ctx *ctx, mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = mps_buf_get_u8(r, &m->type)) != APR_SUCCESS)
		return rv;
	switch (m->type) {
	case MPS_APF_PAD:
		return (ctx->flags & MPS_APF_F_PAD) ? APR_SUCCESS :
		    MPS_ERR_MALFORMED;
	case MPS_APF_DISCONNECT:
		return parse_disconnect(r, m);
	case MPS_APF_SERVICE_REQUEST:
	case MPS_APF_SERVICE_ACCEPT:
		return get_name(r, &m->u.service.service);
	case MPS_APF_USERAUTH_REQUEST:
		return parse_userauth_request(r, m);
	case MPS_APF_USERAUTH_FAILURE:
		return parse_userauth_failure(r, m);
	case MPS_APF_USERAUTH_SUCCESS:
	case MPS_APF_REQUEST_FAILURE:
		return APR_SUCCESS;
	case MPS_APF_GLOBAL_REQUEST:
		return parse_global_request(r, m);
	case MPS_APF_REQUEST_SUCCESS:
		return parse_request_success(r, ctx, m);
	case MPS_APF_CHANNEL_OPEN:
		return parse_channel_open(r, m);
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
		return parse_four_u32(r,
		    &m->u.channel_open_confirmation.recipient,
		    &m->u.channel_open_confirmation.sender,
		    &m->u.channel_open_confirmation.window,
		    &m->u.channel_open_confirmation.reserved);
	case MPS_APF_CHANNEL_OPEN_FAILURE:
		return parse_four_u32(r, &m->u.channel_open_failure.recipient,
		    &m->u.channel_open_failure.reason,
		    &m->u.channel_open_failure.reserved1,
		    &m->u.channel_open_failure.reserved2);
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
		return parse_two_u32(r, &m->u.window_adjust.recipient,
		    &m->u.window_adjust.bytes_to_add);
	case MPS_APF_CHANNEL_DATA:
		return parse_channel_data(r, ctx, m);
	case MPS_APF_CHANNEL_CLOSE:
		return mps_buf_get_u32(r, &m->u.channel_close.recipient);
	case MPS_APF_PROTOCOLVERSION:
		return parse_protocolversion(r, m);
	case MPS_APF_KEEPALIVE_REQUEST:
	case MPS_APF_KEEPALIVE_REPLY:
		return mps_buf_get_u32(r, &m->u.keepalive.cookie);
	case MPS_APF_KEEPALIVE_OPTIONS_REQUEST:
	case MPS_APF_KEEPALIVE_OPTIONS_REPLY:
		return parse_two_u32(r, &m->u.keepalive_options.interval,
		    &m->u.keepalive_options.timeout);
	default:
		/* No outer length: an unknown type has no known end. */
		return MPS_ERR_MALFORMED;
	}
}

apr_status_t
mps_apf_frame_len_ex(const uint8_t *p, size_t n, size_t max_data,
    unsigned flags, size_t *msg_len)
{
	parse_ctx ctx;
	mps_apf_msg_t scratch;
	mps_buf_t r;
	apr_status_t rv;

	*msg_len = 0;
	ctx.max_data = max_data < MPS_APF_MAX_DATA ? max_data : MPS_APF_MAX_DATA;
	ctx.flags = flags;
	ctx.exact = 0;
	memset(&scratch, 0, sizeof(scratch));
	mps_buf_view(&r, p, n);
	if ((rv = parse(&r, &ctx, &scratch)) != APR_SUCCESS)
		return rv;
	*msg_len = n - mps_buf_len(&r);
	return APR_SUCCESS;
}

apr_status_t
mps_apf_frame_len(const uint8_t *p, size_t n, size_t max_data,
    size_t *msg_len)
{
	return mps_apf_frame_len_ex(p, n, max_data, 0, msg_len);
}

apr_status_t
mps_apf_decode_ex(const uint8_t *p, size_t len, unsigned flags,
    mps_apf_msg_t *out)
{
	parse_ctx ctx;
	mps_buf_t r;
	apr_status_t rv;

	ctx.max_data = MPS_APF_MAX_DATA;
	ctx.flags = flags & MPS_APF_F_PAD;
	ctx.exact = 1;
	memset(out, 0, sizeof(*out));
	mps_buf_view(&r, p, len);
	if ((rv = parse(&r, &ctx, out)) == APR_SUCCESS)
		rv = mps_buf_get_end(&r);
	if (rv != APR_SUCCESS)
		memset(out, 0, sizeof(*out));
	return rv;
}

apr_status_t
mps_apf_decode(const uint8_t *p, size_t len, mps_apf_msg_t *out)
{
	return mps_apf_decode_ex(p, len, 0, out);
}

/* ---- UUID ---- */

/* Raw byte index of each text byte pair (SMBIOS GUID byte order). */
static const uint8_t uuid_order[MPS_APF_UUID_LEN] = {
	3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15
};

/* A dash follows text byte pairs 4, 6, 8 and 10. */
static int
dash_after(size_t i)
{
	return i == 3 || i == 5 || i == 7 || i == 9;
}

void
mps_apf_uuid_to_text(const uint8_t uuid[MPS_APF_UUID_LEN],
    char out[MPS_APF_UUID_TEXT_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < MPS_APF_UUID_LEN; i++) {
		uint8_t v = uuid[uuid_order[i]];

		out[o++] = hex[v >> 4];
		out[o++] = hex[v & 0xf];
		if (dash_after(i))
			out[o++] = '-';
	}
	out[o] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

apr_status_t
mps_apf_uuid_from_text(const char *text, uint8_t uuid[MPS_APF_UUID_LEN])
{
	uint8_t raw[MPS_APF_UUID_LEN];
	size_t i, o = 0;
	int hi, lo;

	memset(uuid, 0, MPS_APF_UUID_LEN);
	for (i = 0; i < MPS_APF_UUID_LEN; i++) {
		/* Reading stops at the first bad character, so a short
		 * string's NUL is never passed. */
		if ((hi = hex_value(text[o])) < 0 ||
		    (lo = hex_value(text[o + 1])) < 0)
			return MPS_ERR_MALFORMED;
		o += 2;
		raw[uuid_order[i]] = (uint8_t)(hi << 4 | lo);
		if (dash_after(i) && text[o++] != '-')
			return MPS_ERR_MALFORMED;
	}
	if (text[o] != '\0')
		return MPS_ERR_MALFORMED;
	memcpy(uuid, raw, sizeof(raw));
	return APR_SUCCESS;
}

/* ---- Encoding ---- */

static apr_status_t
put_str(mps_buf_t *b, mps_apf_str_t s, size_t max)
{
	if (s.ptr == NULL && s.len != 0)
		return APR_EINVAL;
	if (s.len > max)
		return MPS_ERR_TOO_LARGE;
	return mps_buf_put_string(b, s.ptr, s.len);
}

static apr_status_t
put_name(mps_buf_t *b, mps_apf_str_t s)
{
	return put_str(b, s, MPS_APF_MAX_STRING);
}

static apr_status_t
put_u32s(mps_buf_t *b, const uint32_t *v, size_t n)
{
	apr_status_t rv;
	size_t i;

	for (i = 0; i < n; i++)
		if ((rv = mps_buf_put_u32(b, v[i])) != APR_SUCCESS)
			return rv;
	return APR_SUCCESS;
}

static apr_status_t
put_userauth_request(mps_buf_t *b, const mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = put_name(b, m->u.userauth_request.user)) != APR_SUCCESS ||
	    (rv = put_name(b, m->u.userauth_request.service)) != APR_SUCCESS ||
	    (rv = put_name(b, m->u.userauth_request.method)) != APR_SUCCESS)
		return rv;
	switch (mps_apf_auth_method_kind(m->u.userauth_request.method)) {
	case MPS_APF_AUTH_PASSWORD:
		if ((rv = mps_buf_put_u8(b,
		    m->u.userauth_request.change)) != APR_SUCCESS)
			return rv;
		return put_name(b, m->u.userauth_request.password);
	case MPS_APF_AUTH_NONE:
		return APR_SUCCESS;
	default:
		return MPS_ERR_MALFORMED;
	}
}

static apr_status_t
put_global_request(mps_buf_t *b, const mps_apf_msg_t *m)
{
	mps_apf_greq_t kind = mps_apf_greq_kind(m->u.global_request.name);
	apr_status_t rv;

	if (kind == MPS_APF_GREQ_UNKNOWN)
		return MPS_ERR_MALFORMED;
	if ((rv = put_name(b, m->u.global_request.name)) != APR_SUCCESS ||
	    (rv = mps_buf_put_u8(b,
	    m->u.global_request.want_reply)) != APR_SUCCESS)
		return rv;
	if (kind != MPS_APF_GREQ_UDP_SEND_TO) {
		if ((rv = put_name(b,
		    m->u.global_request.address)) != APR_SUCCESS)
			return rv;
		return mps_buf_put_u32(b, m->u.global_request.port);
	}
	if ((rv = put_name(b, m->u.global_request.dest_addr)) != APR_SUCCESS ||
	    (rv = mps_buf_put_u32(b,
	    m->u.global_request.dest_port)) != APR_SUCCESS ||
	    (rv = put_name(b, m->u.global_request.orig_addr)) != APR_SUCCESS ||
	    (rv = mps_buf_put_u32(b,
	    m->u.global_request.orig_port)) != APR_SUCCESS)
		return rv;
	return put_str(b, m->u.global_request.payload, MPS_APF_MAX_UDP_PAYLOAD);
}

static apr_status_t
put_channel_open(mps_buf_t *b, const mps_apf_msg_t *m)
{
	apr_status_t rv;
	const uint32_t ids[] = {
		m->u.channel_open.sender,
		m->u.channel_open.window,
		m->u.channel_open.reserved
	};

	if ((rv = put_name(b, m->u.channel_open.type)) != APR_SUCCESS ||
	    (rv = put_u32s(b, ids, 3)) != APR_SUCCESS ||
	    (rv = put_name(b, m->u.channel_open.connected_addr)) != APR_SUCCESS ||
	    (rv = mps_buf_put_u32(b,
	    m->u.channel_open.connected_port)) != APR_SUCCESS ||
	    (rv = put_name(b,
	    m->u.channel_open.originator_addr)) != APR_SUCCESS)
		return rv;
	return mps_buf_put_u32(b, m->u.channel_open.originator_port);
}

static apr_status_t
put_protocolversion(mps_buf_t *b, const mps_apf_msg_t *m)
{
	static const uint8_t zeros[MPS_APF_PROTOCOLVERSION_RESERVED];
	const uint32_t v[] = {
		m->u.protocolversion.major,
		m->u.protocolversion.minor,
		m->u.protocolversion.trigger
	};
	const uint8_t *reserved = m->u.protocolversion.reserved;
	apr_status_t rv;

	if ((rv = put_u32s(b, v, 3)) != APR_SUCCESS ||
	    (rv = mps_buf_put(b, m->u.protocolversion.uuid,
	    MPS_APF_UUID_LEN)) != APR_SUCCESS)
		return rv;
	return mps_buf_put(b, reserved != NULL ? reserved : zeros,
	    MPS_APF_PROTOCOLVERSION_RESERVED);
}

static apr_status_t
put_two_u32(mps_buf_t *b, uint32_t x, uint32_t y)
{
	apr_status_t rv;

	if ((rv = mps_buf_put_u32(b, x)) != APR_SUCCESS)
		return rv;
	return mps_buf_put_u32(b, y);
}

static apr_status_t
put_four_u32(mps_buf_t *b, uint32_t w, uint32_t x, uint32_t y, uint32_t z)
{
	apr_status_t rv;

	if ((rv = put_two_u32(b, w, x)) != APR_SUCCESS)
		return rv;
	return put_two_u32(b, y, z);
}

static apr_status_t
put_disconnect(mps_buf_t *b, const mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = mps_buf_put_u32(b, m->u.disconnect.reason)) != APR_SUCCESS)
		return rv;
	return mps_buf_put_u16(b, m->u.disconnect.reserved);
}

static apr_status_t
put_userauth_failure(mps_buf_t *b, const mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = put_name(b, m->u.userauth_failure.methods)) != APR_SUCCESS)
		return rv;
	return mps_buf_put_u8(b, m->u.userauth_failure.partial);
}

static apr_status_t
put_channel_data(mps_buf_t *b, const mps_apf_msg_t *m)
{
	apr_status_t rv;

	if ((rv = mps_buf_put_u32(b,
	    m->u.channel_data.recipient)) != APR_SUCCESS)
		return rv;
	return put_str(b, m->u.channel_data.data, MPS_APF_MAX_DATA);
}

/* Writes the message after its type byte. */
static apr_status_t
put_body(mps_buf_t *b, const mps_apf_msg_t *m)
{
	switch (m->type) {
	case MPS_APF_DISCONNECT:
		return put_disconnect(b, m);
	case MPS_APF_SERVICE_REQUEST:
	case MPS_APF_SERVICE_ACCEPT:
		return put_name(b, m->u.service.service);
	case MPS_APF_USERAUTH_REQUEST:
		return put_userauth_request(b, m);
	case MPS_APF_USERAUTH_FAILURE:
		return put_userauth_failure(b, m);
	case MPS_APF_USERAUTH_SUCCESS:
	case MPS_APF_REQUEST_FAILURE:
		return APR_SUCCESS;
	case MPS_APF_GLOBAL_REQUEST:
		return put_global_request(b, m);
	case MPS_APF_REQUEST_SUCCESS:
		if (!m->u.request_success.has_port)
			return APR_SUCCESS;
		return mps_buf_put_u32(b, m->u.request_success.port);
	case MPS_APF_CHANNEL_OPEN:
		return put_channel_open(b, m);
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
		return put_four_u32(b, m->u.channel_open_confirmation.recipient,
		    m->u.channel_open_confirmation.sender,
		    m->u.channel_open_confirmation.window,
		    m->u.channel_open_confirmation.reserved);
	case MPS_APF_CHANNEL_OPEN_FAILURE:
		return put_four_u32(b, m->u.channel_open_failure.recipient,
		    m->u.channel_open_failure.reason,
		    m->u.channel_open_failure.reserved1,
		    m->u.channel_open_failure.reserved2);
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
		return put_two_u32(b, m->u.window_adjust.recipient,
		    m->u.window_adjust.bytes_to_add);
	case MPS_APF_CHANNEL_DATA:
		return put_channel_data(b, m);
	case MPS_APF_CHANNEL_CLOSE:
		return mps_buf_put_u32(b, m->u.channel_close.recipient);
	case MPS_APF_PROTOCOLVERSION:
		return put_protocolversion(b, m);
	case MPS_APF_KEEPALIVE_REQUEST:
	case MPS_APF_KEEPALIVE_REPLY:
		return mps_buf_put_u32(b, m->u.keepalive.cookie);
	case MPS_APF_KEEPALIVE_OPTIONS_REQUEST:
	case MPS_APF_KEEPALIVE_OPTIONS_REPLY:
		return put_two_u32(b, m->u.keepalive_options.interval,
		    m->u.keepalive_options.timeout);
	default:
		/* PAD included: it is not APF, only tolerated on input. */
		return MPS_ERR_MALFORMED;
	}
}

apr_status_t
mps_apf_encode(mps_buf_t *b, const mps_apf_msg_t *msg)
{
	size_t mark = mps_buf_len(b);
	apr_status_t rv;

	if (mps_apf_msg_name(msg->type) == NULL)
		return MPS_ERR_MALFORMED;
	if ((rv = mps_buf_put_u8(b, msg->type)) == APR_SUCCESS)
		rv = put_body(b, msg);
	/* All or nothing: a partial message would corrupt the stream. */
	if (rv != APR_SUCCESS)
		(void)mps_buf_truncate(b, mark);
	return rv;
}

/* ---- One encoder per message ---- */

/* A message of the given type with every field zero. */
static mps_apf_msg_t
msg_of(uint8_t type)
{
	mps_apf_msg_t m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	return m;
}

apr_status_t
mps_apf_encode_disconnect(mps_buf_t *b, uint32_t reason)
{
	mps_apf_msg_t m = msg_of(MPS_APF_DISCONNECT);

	m.u.disconnect.reason = reason;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_service_request(mps_buf_t *b, mps_apf_str_t service)
{
	mps_apf_msg_t m = msg_of(MPS_APF_SERVICE_REQUEST);

	m.u.service.service = service;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_service_accept(mps_buf_t *b, mps_apf_str_t service)
{
	mps_apf_msg_t m = msg_of(MPS_APF_SERVICE_ACCEPT);

	m.u.service.service = service;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_userauth_request_password(mps_buf_t *b, mps_apf_str_t user,
    mps_apf_str_t service, mps_apf_str_t password)
{
	mps_apf_msg_t m = msg_of(MPS_APF_USERAUTH_REQUEST);

	m.u.userauth_request.user = user;
	m.u.userauth_request.service = service;
	m.u.userauth_request.method = mps_apf_cstr(MPS_APF_METHOD_PASSWORD);
	m.u.userauth_request.kind = MPS_APF_AUTH_PASSWORD;
	m.u.userauth_request.password = password;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_userauth_request_none(mps_buf_t *b, mps_apf_str_t user,
    mps_apf_str_t service)
{
	mps_apf_msg_t m = msg_of(MPS_APF_USERAUTH_REQUEST);

	m.u.userauth_request.user = user;
	m.u.userauth_request.service = service;
	m.u.userauth_request.method = mps_apf_cstr(MPS_APF_METHOD_NONE);
	m.u.userauth_request.kind = MPS_APF_AUTH_NONE;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_userauth_failure(mps_buf_t *b, mps_apf_str_t methods)
{
	mps_apf_msg_t m = msg_of(MPS_APF_USERAUTH_FAILURE);

	m.u.userauth_failure.methods = methods;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_userauth_success(mps_buf_t *b)
{
	mps_apf_msg_t m = msg_of(MPS_APF_USERAUTH_SUCCESS);

	return mps_apf_encode(b, &m);
}

static apr_status_t
encode_forward(mps_buf_t *b, const char *name, int want_reply,
    mps_apf_str_t address, uint32_t port)
{
	mps_apf_msg_t m = msg_of(MPS_APF_GLOBAL_REQUEST);

	m.u.global_request.name = mps_apf_cstr(name);
	m.u.global_request.kind = mps_apf_greq_kind(m.u.global_request.name);
	m.u.global_request.want_reply = want_reply != 0;
	m.u.global_request.address = address;
	m.u.global_request.port = port;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_tcpip_forward(mps_buf_t *b, int want_reply,
    mps_apf_str_t address, uint32_t port)
{
	return encode_forward(b, MPS_APF_REQ_TCPIP_FORWARD, want_reply,
	    address, port);
}

apr_status_t
mps_apf_encode_cancel_tcpip_forward(mps_buf_t *b, int want_reply,
    mps_apf_str_t address, uint32_t port)
{
	return encode_forward(b, MPS_APF_REQ_CANCEL_TCPIP_FORWARD, want_reply,
	    address, port);
}

apr_status_t
mps_apf_encode_udp_send_to(mps_buf_t *b, int want_reply,
    mps_apf_str_t dest_addr, uint32_t dest_port, mps_apf_str_t orig_addr,
    uint32_t orig_port, mps_apf_str_t payload)
{
	mps_apf_msg_t m = msg_of(MPS_APF_GLOBAL_REQUEST);

	m.u.global_request.name = mps_apf_cstr(MPS_APF_REQ_UDP_SEND_TO);
	m.u.global_request.kind = MPS_APF_GREQ_UDP_SEND_TO;
	m.u.global_request.want_reply = want_reply != 0;
	m.u.global_request.dest_addr = dest_addr;
	m.u.global_request.dest_port = dest_port;
	m.u.global_request.orig_addr = orig_addr;
	m.u.global_request.orig_port = orig_port;
	m.u.global_request.payload = payload;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_request_success(mps_buf_t *b)
{
	mps_apf_msg_t m = msg_of(MPS_APF_REQUEST_SUCCESS);

	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_request_success_port(mps_buf_t *b, uint32_t port)
{
	mps_apf_msg_t m = msg_of(MPS_APF_REQUEST_SUCCESS);

	m.u.request_success.has_port = 1;
	m.u.request_success.port = port;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_request_failure(mps_buf_t *b)
{
	mps_apf_msg_t m = msg_of(MPS_APF_REQUEST_FAILURE);

	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_channel_open(mps_buf_t *b, mps_apf_str_t type,
    uint32_t sender, uint32_t window, mps_apf_str_t connected_addr,
    uint32_t connected_port, mps_apf_str_t originator_addr,
    uint32_t originator_port)
{
	mps_apf_msg_t m = msg_of(MPS_APF_CHANNEL_OPEN);

	m.u.channel_open.type = type;
	m.u.channel_open.sender = sender;
	m.u.channel_open.window = window;
	m.u.channel_open.reserved = 0xFFFFFFFFu;
	m.u.channel_open.connected_addr = connected_addr;
	m.u.channel_open.connected_port = connected_port;
	m.u.channel_open.originator_addr = originator_addr;
	m.u.channel_open.originator_port = originator_port;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_channel_open_confirmation(mps_buf_t *b, uint32_t recipient,
    uint32_t sender, uint32_t window)
{
	mps_apf_msg_t m = msg_of(MPS_APF_CHANNEL_OPEN_CONFIRMATION);

	m.u.channel_open_confirmation.recipient = recipient;
	m.u.channel_open_confirmation.sender = sender;
	m.u.channel_open_confirmation.window = window;
	m.u.channel_open_confirmation.reserved = 0xFFFFFFFFu;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_channel_open_failure(mps_buf_t *b, uint32_t recipient,
    uint32_t reason)
{
	mps_apf_msg_t m = msg_of(MPS_APF_CHANNEL_OPEN_FAILURE);

	m.u.channel_open_failure.recipient = recipient;
	m.u.channel_open_failure.reason = reason;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_window_adjust(mps_buf_t *b, uint32_t recipient,
    uint32_t bytes_to_add)
{
	mps_apf_msg_t m = msg_of(MPS_APF_CHANNEL_WINDOW_ADJUST);

	m.u.window_adjust.recipient = recipient;
	m.u.window_adjust.bytes_to_add = bytes_to_add;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_channel_data(mps_buf_t *b, uint32_t recipient,
    const void *data, size_t len)
{
	mps_apf_msg_t m = msg_of(MPS_APF_CHANNEL_DATA);

	m.u.channel_data.recipient = recipient;
	m.u.channel_data.data = mps_apf_strn(data, len);
	if (m.u.channel_data.data.len != len)
		return APR_EINVAL;	/* NULL data with a length */
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_channel_data_header(uint8_t out[MPS_APF_CHANNEL_DATA_HDR_LEN],
    uint32_t recipient, size_t len)
{
	if (len > MPS_APF_MAX_DATA)
		return MPS_ERR_TOO_LARGE;
	out[0] = MPS_APF_CHANNEL_DATA;
	out[1] = (uint8_t)(recipient >> 24);
	out[2] = (uint8_t)(recipient >> 16);
	out[3] = (uint8_t)(recipient >> 8);
	out[4] = (uint8_t)recipient;
	out[5] = (uint8_t)(len >> 24);
	out[6] = (uint8_t)(len >> 16);
	out[7] = (uint8_t)(len >> 8);
	out[8] = (uint8_t)len;
	return APR_SUCCESS;
}

apr_status_t
mps_apf_encode_channel_data_header(mps_buf_t *b, uint32_t recipient,
    size_t len)
{
	uint8_t hdr[MPS_APF_CHANNEL_DATA_HDR_LEN];
	apr_status_t rv;

	if ((rv = mps_apf_channel_data_header(hdr, recipient, len)) !=
	    APR_SUCCESS)
		return rv;
	return mps_buf_put(b, hdr, sizeof(hdr));
}

apr_status_t
mps_apf_encode_channel_close(mps_buf_t *b, uint32_t recipient)
{
	mps_apf_msg_t m = msg_of(MPS_APF_CHANNEL_CLOSE);

	m.u.channel_close.recipient = recipient;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_protocolversion(mps_buf_t *b, uint32_t major, uint32_t minor,
    uint32_t trigger, const uint8_t uuid[MPS_APF_UUID_LEN])
{
	mps_apf_msg_t m = msg_of(MPS_APF_PROTOCOLVERSION);

	m.u.protocolversion.major = major;
	m.u.protocolversion.minor = minor;
	m.u.protocolversion.trigger = trigger;
	memcpy(m.u.protocolversion.uuid, uuid, MPS_APF_UUID_LEN);
	return mps_apf_encode(b, &m);
}

static apr_status_t
encode_cookie(mps_buf_t *b, uint8_t type, uint32_t cookie)
{
	mps_apf_msg_t m = msg_of(type);

	m.u.keepalive.cookie = cookie;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_keepalive_request(mps_buf_t *b, uint32_t cookie)
{
	return encode_cookie(b, MPS_APF_KEEPALIVE_REQUEST, cookie);
}

apr_status_t
mps_apf_encode_keepalive_reply(mps_buf_t *b, uint32_t cookie)
{
	return encode_cookie(b, MPS_APF_KEEPALIVE_REPLY, cookie);
}

static apr_status_t
encode_options(mps_buf_t *b, uint8_t type, uint32_t interval,
    uint32_t timeout)
{
	mps_apf_msg_t m = msg_of(type);

	m.u.keepalive_options.interval = interval;
	m.u.keepalive_options.timeout = timeout;
	return mps_apf_encode(b, &m);
}

apr_status_t
mps_apf_encode_keepalive_options_request(mps_buf_t *b, uint32_t interval,
    uint32_t timeout)
{
	return encode_options(b, MPS_APF_KEEPALIVE_OPTIONS_REQUEST, interval,
	    timeout);
}

apr_status_t
mps_apf_encode_keepalive_options_reply(mps_buf_t *b, uint32_t interval,
    uint32_t timeout)
{
	return encode_options(b, MPS_APF_KEEPALIVE_OPTIONS_REPLY, interval,
	    timeout);
}
