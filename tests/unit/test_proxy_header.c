/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_proxy_header.c: the PROXY protocol parser (server/net/proxy_header.c)
 * on every field of v1 and v2, on truncated, oversized and garbage input,
 * and fed in pieces; the AMTProxyTrusted prefix lists (config_prefix.c);
 * and the pre-auth slot's move to the device's address (admission.c).
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <apr_pools.h>

#include "admission.h"
#include "config.h"
#include "metrics.h"
#include "proxy_header.h"
#include "unit.h"

static mps_proxy_rc_t
parse(const void *p, size_t n, mps_proxy_info_t *info, size_t *used,
    const char **why)
{
	return mps_proxy_parse(p, n, info, used, why);
}

/* Parses the whole of text; expects DONE with used == its length. */
static void
v1_ok(const char *text, mps_proxy_info_t *info)
{
	size_t used;
	const char *why = NULL;

	ck_assert_msg(parse(text, strlen(text), info, &used, &why) ==
	    MPS_PROXY_DONE, "%s: %s", text, why);
	ck_assert_uint_eq(used, strlen(text));
}

static void
v1_bad(const char *text)
{
	mps_proxy_info_t info;
	size_t used;
	const char *why = NULL;

	ck_assert_msg(parse(text, strlen(text), &info, &used, &why) ==
	    MPS_PROXY_BAD, "accepted: %s", text);
	ck_assert_ptr_nonnull(why);
}

START_TEST(test_v1_tcp4)
{
	mps_proxy_info_t info;
	const char *t = "PROXY TCP4 192.0.2.7 198.51.100.1 50000 16993\r\n"
	    "\x16\x03\x01";
	size_t used;
	const char *why;

	/* The bytes after the line are not the header's. */
	ck_assert_int_eq(parse(t, strlen(t), &info, &used, &why),
	    MPS_PROXY_DONE);
	ck_assert_uint_eq(used, strlen(t) - 3);
	ck_assert_int_eq(info.version, 1);
	ck_assert_int_eq(info.local, 0);
	ck_assert_int_eq(info.family, AF_INET);
	ck_assert_str_eq(info.src_ip, "192.0.2.7");
	ck_assert_str_eq(info.dst_ip, "198.51.100.1");
	ck_assert_uint_eq(info.src_port, 50000);
	ck_assert_uint_eq(info.dst_port, 16993);
}
END_TEST

START_TEST(test_v1_tcp6_unknown)
{
	mps_proxy_info_t info;

	v1_ok("PROXY TCP6 2001:db8::7 ::1 0 65535\r\n", &info);
	ck_assert_int_eq(info.family, AF_INET6);
	ck_assert_str_eq(info.src_ip, "2001:db8::7");
	ck_assert_str_eq(info.dst_ip, "::1");
	ck_assert_uint_eq(info.src_port, 0);
	ck_assert_uint_eq(info.dst_port, 65535);

	v1_ok("PROXY UNKNOWN\r\n", &info);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(info.family, AF_UNSPEC);
	/* UNKNOWN: the rest of the line is ignored. */
	v1_ok("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &info);
	ck_assert_int_eq(info.local, 1);
}
END_TEST

START_TEST(test_v1_malformed)
{
	v1_bad("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n");
	v1_bad("PROXY UNKNOWNX\r\n");
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n");	/* extra field */
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n");		/* missing */
	v1_bad("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n");		/* two spaces */
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n");		/* trailing */
	v1_bad("PROXY TCP4 ::1 1.2.3.4 1 2\r\n");		/* family */
	v1_bad("PROXY TCP6 1.2.3.4 ::1 1 2\r\n");
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.256 1 2\r\n");
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n");	/* port range */
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 1 0016993\r\n");	/* leading 0 */
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n");
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX");		/* CR alone */
	v1_bad("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n");		/* LF alone */
	v1_bad("PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n");		/* control */
	v1_bad("PROXY \xc3\xa9 1.2.3.4 1.2.3.4 1 2\r\n");	/* non-ASCII */
	v1_bad("PROXY \r\n");
	v1_bad("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n");		/* case */
	v1_bad("GET / HTTP/1.0\r\n");
	v1_bad("\x16\x03\x01\x02\x00");				/* TLS */
	v1_bad("\xc0\x00\x00\x00");				/* APF */
}
END_TEST

START_TEST(test_v1_length)
{
	char line[256];
	mps_proxy_info_t info;
	size_t used;
	const char *why;

	/* 107 bytes with CRLF is the longest accepted. */
	memset(line, 0, sizeof(line));
	strcpy(line, "PROXY UNKNOWN ");
	memset(line + 14, 'x', 105 - 14);
	strcpy(line + 105, "\r\n");
	ck_assert_uint_eq(strlen(line), 107);
	ck_assert_int_eq(parse(line, 107, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_uint_eq(used, 107);
	/* 108: refused, even before the CRLF arrives. */
	memset(line + 14, 'x', 106 - 14);
	strcpy(line + 106, "\r\n");
	ck_assert_int_eq(parse(line, 108, &info, &used, &why), MPS_PROXY_BAD);
	ck_assert_int_eq(parse(line, 106, &info, &used, &why), MPS_PROXY_BAD);
	/* An endless line without CRLF is refused at the bound, never
	 * waited for. */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY ", 6);
	ck_assert_int_eq(parse(line, 105, &info, &used, &why), MPS_PROXY_MORE);
	ck_assert_int_eq(parse(line, sizeof(line), &info, &used, &why),
	    MPS_PROXY_BAD);
}
END_TEST

/* A v2 header: signature, ver_cmd, fam, then body (len from bodylen). */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body,
    size_t bodylen)
{
	static const uint8_t sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
	    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(bodylen >> 8);
	out[15] = (uint8_t)bodylen;
	if (bodylen > 0)
		memcpy(out + 16, body, bodylen);
	return 16 + bodylen;
}

START_TEST(test_v2_inet)
{
	uint8_t body[64], buf[128];
	size_t n, used, blen;
	mps_proxy_info_t info;
	const char *why;

	blen = unit_unhex("c0000207 c6336401 c350 4261", body, sizeof(body));
	n = v2(buf, 0x21, 0x11, body, blen);
	buf[n] = 0x16;		/* TLS after it */
	ck_assert_int_eq(parse(buf, n + 1, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_uint_eq(used, n);
	ck_assert_int_eq(info.version, 2);
	ck_assert_int_eq(info.local, 0);
	ck_assert_int_eq(info.family, AF_INET);
	ck_assert_str_eq(info.src_ip, "192.0.2.7");
	ck_assert_str_eq(info.dst_ip, "198.51.100.1");
	ck_assert_uint_eq(info.src_port, 50000);
	ck_assert_uint_eq(info.dst_port, 16993);
	ck_assert_uint_eq(info.tlvs, 0);
}
END_TEST

START_TEST(test_v2_inet6_tlvs)
{
	uint8_t body[256], buf[512];
	size_t n, used, blen;
	mps_proxy_info_t info;
	const char *why;

	blen = unit_unhex("20010db8000000000000000000000007"
	    "00000000000000000000000000000001 0050 01bb"
	    /* ALPN "h2", NOOP of 3, an unknown type with 0 bytes */
	    "01 0002 'h2' 04 0003 000000 e0 0000", body, sizeof(body));
	n = v2(buf, 0x21, 0x21, body, blen);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_uint_eq(used, n);
	ck_assert_int_eq(info.family, AF_INET6);
	ck_assert_str_eq(info.src_ip, "2001:db8::7");
	ck_assert_str_eq(info.dst_ip, "::1");
	ck_assert_uint_eq(info.src_port, 80);
	ck_assert_uint_eq(info.dst_port, 443);
	ck_assert_uint_eq(info.tlvs, 3);

	/* A TLV whose length runs past the block, and one cut short after
	 * its type and the first byte of its length. */
	blen = unit_unhex("c0000207 c6336401 c350 4261 01 0005 'h2'", body,
	    sizeof(body));
	n = v2(buf, 0x21, 0x11, body, blen);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	blen = unit_unhex("c0000207 c6336401 c350 4261 01 00", body,
	    sizeof(body));
	n = v2(buf, 0x21, 0x11, body, blen);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
}
END_TEST

START_TEST(test_v2_local_and_families)
{
	uint8_t body[300], buf[600];
	size_t n, used;
	mps_proxy_info_t info;
	const char *why;

	/* LOCAL, as HAProxy's health checks send it: no address. */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_uint_eq(used, 16);
	ck_assert_int_eq(info.local, 1);
	ck_assert_int_eq(info.family, AF_UNSPEC);
	/* LOCAL with a block: skipped whatever it holds. */
	memset(body, 0xAB, 20);
	n = v2(buf, 0x20, 0x11, body, 20);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_uint_eq(used, 36);
	ck_assert_int_eq(info.local, 1);
	/* PROXY of family UNSPEC or UNIX: no IP client. */
	n = v2(buf, 0x21, 0x00, NULL, 0);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_int_eq(info.local, 1);
	memset(body, 0, 216);
	n = v2(buf, 0x21, 0x31, body, 216);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_DONE);
	ck_assert_int_eq(info.local, 1);
	/* Refused: version 1 or 3 in the binary form, command 2, family 4,
	 * UDP, an INET block too short, an INET6 one too short. */
	n = v2(buf, 0x11, 0x11, body, 12);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	n = v2(buf, 0x31, 0x11, body, 12);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	n = v2(buf, 0x22, 0x11, body, 12);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	n = v2(buf, 0x21, 0x41, body, 12);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	n = v2(buf, 0x21, 0x12, body, 12);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	n = v2(buf, 0x21, 0x11, body, 11);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	n = v2(buf, 0x21, 0x21, body, 35);
	ck_assert_int_eq(parse(buf, n, &info, &used, &why), MPS_PROXY_BAD);
	/* The version is refused as soon as its byte is there. */
	n = v2(buf, 0x11, 0x11, body, 12);
	ck_assert_int_eq(parse(buf, 13, &info, &used, &why), MPS_PROXY_BAD);
}
END_TEST

START_TEST(test_v2_oversized)
{
	uint8_t buf[16];
	size_t used;
	mps_proxy_info_t info;
	const char *why;

	/* The length says 536 - 16 + 1: refused from the fixed part alone,
	 * before a byte of it is waited for. */
	v2(buf, 0x21, 0x11, NULL, 0);
	buf[14] = (MPS_PROXY_MAX - 15) >> 8;
	buf[15] = (MPS_PROXY_MAX - 15) & 0xFF;
	ck_assert_int_eq(parse(buf, 16, &info, &used, &why), MPS_PROXY_BAD);
	buf[14] = 0xFF;
	buf[15] = 0xFF;
	ck_assert_int_eq(parse(buf, 16, &info, &used, &why), MPS_PROXY_BAD);
	/* Exactly the bound: waited for. */
	buf[14] = (MPS_PROXY_MAX - 16) >> 8;
	buf[15] = (MPS_PROXY_MAX - 16) & 0xFF;
	ck_assert_int_eq(parse(buf, 16, &info, &used, &why), MPS_PROXY_MORE);
}
END_TEST

/*
 * Partial reads: every header fed one byte more at a time is MORE (with
 * every byte counted as header) until the last, then DONE with the same
 * result as whole; garbage after it never changes that.
 */
static void
pieces(const uint8_t *h, size_t len)
{
	mps_proxy_info_t whole, part;
	size_t used, i;
	const char *why;
	uint8_t buf[MPS_PROXY_MAX + 8];

	memcpy(buf, h, len);
	memset(buf + len, 0x16, 8);
	ck_assert_int_eq(parse(buf, len + 8, &whole, &used, &why),
	    MPS_PROXY_DONE);
	ck_assert_uint_eq(used, len);
	for (i = 0; i < len; i++) {
		REQUIRE(parse(buf, i, &part, &used, &why) == MPS_PROXY_MORE,
		    "prefix %zu of %zu not MORE", i, len);
		REQUIRE(used == i, "prefix %zu: used %zu", i, used);
	}
	ck_assert_int_eq(parse(buf, len, &part, &used, &why), MPS_PROXY_DONE);
	ck_assert_int_eq(memcmp(&whole, &part, sizeof(whole)), 0);
}

START_TEST(test_partial_reads)
{
	uint8_t buf[128], body[64];
	const char *t = "PROXY TCP4 10.1.2.3 10.0.0.1 1234 16993\r\n";
	size_t blen;

	pieces((const uint8_t *)t, strlen(t));
	pieces((const uint8_t *)"PROXY UNKNOWN\r\n", 15);
	blen = unit_unhex("c0000207 c6336401 c350 4261 04 0001 00", body,
	    sizeof(body));
	pieces(buf, v2(buf, 0x21, 0x11, body, blen));
	pieces(buf, v2(buf, 0x20, 0x00, NULL, 0));
}
END_TEST

/* Random bytes and random mutations of good headers: never a crash, a
 * read past n (ASan/valgrind would see it) or a used past n. */
START_TEST(test_garbage)
{
	uint8_t buf[MPS_PROXY_MAX + 64], body[64];
	const char *t = "PROXY TCP6 2001:db8::1 2001:db8::2 65535 1\r\n";
	mps_proxy_info_t info;
	size_t n, used, i, blen, good;
	const char *why;
	mps_proxy_rc_t rc;
	int round;

	unit_rng_seed(14);
	blen = unit_unhex("c0000207 c6336401 c350 4261 01 0002 'h2'", body,
	    sizeof(body));
	for (round = 0; round < 200000; round++) {
		if (round % 3 == 0) {
			n = unit_rng() % sizeof(buf);
			for (i = 0; i < n; i++)
				buf[i] = (uint8_t)unit_rng();
		} else {
			good = round % 3 == 1 ? strlen(t) :
			    v2(buf, 0x21, 0x11, body, blen);
			if (round % 3 == 1)
				memcpy(buf, t, good);
			for (i = 0; i < 1 + unit_rng() % 3; i++)
				buf[unit_rng() % good] = (uint8_t)unit_rng();
			n = unit_rng() % (good + 1);
		}
		rc = parse(buf, n, &info, &used, &why);
		REQUIRE(used <= n, "used %zu > n %zu", used, n);
		if (rc == MPS_PROXY_DONE)
			REQUIRE(info.version == 1 || info.version == 2,
			    "version %d", info.version);
		if (rc == MPS_PROXY_MORE)
			REQUIRE(used == n, "MORE with used %zu < %zu", used, n);
	}
}
END_TEST

START_TEST(test_looks_like)
{
	static const uint8_t v2sig[] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00 };

	ck_assert(mps_proxy_looks_like((const uint8_t *)"P", 1));
	ck_assert(mps_proxy_looks_like((const uint8_t *)"PROXY TCP4", 10));
	ck_assert(mps_proxy_looks_like(v2sig, sizeof(v2sig)));
	ck_assert(!mps_proxy_looks_like((const uint8_t *)"\x16\x03", 2));
	ck_assert(!mps_proxy_looks_like((const uint8_t *)"\xc0", 1));
	ck_assert(!mps_proxy_looks_like((const uint8_t *)"PROXX", 5));
	ck_assert(!mps_proxy_looks_like((const uint8_t *)"", 0));
}
END_TEST

START_TEST(test_prefix_lists)
{
	apr_pool_t *pool;
	apr_array_header_t *l;

	apr_pool_create(&pool, NULL);
	ck_assert_ptr_null(mps_config_prefix_list_parse(
	    "127.0.0.1, 10.0.0.0/8  2001:db8::/32\t::ffff:192.168.0.0/112",
	    &l, pool));
	ck_assert_int_eq(l->nelts, 4);
	ck_assert(mps_config_prefix_list_match(l, "127.0.0.1"));
	ck_assert(!mps_config_prefix_list_match(l, "127.0.0.2"));
	ck_assert(mps_config_prefix_list_match(l, "10.255.0.9"));
	ck_assert(!mps_config_prefix_list_match(l, "11.0.0.1"));
	ck_assert(mps_config_prefix_list_match(l, "2001:db8:ffff::1"));
	ck_assert(!mps_config_prefix_list_match(l, "2001:db9::1"));
	/* The mapped form and the plain form are one address. */
	ck_assert(mps_config_prefix_list_match(l, "::ffff:10.0.0.1"));
	ck_assert(mps_config_prefix_list_match(l, "192.168.3.4"));
	ck_assert(!mps_config_prefix_list_match(l, "192.169.3.4"));
	ck_assert(!mps_config_prefix_list_match(l, "not-an-ip"));
	/* Odd prefix lengths. */
	ck_assert_ptr_null(mps_config_prefix_list_parse("192.0.2.64/27", &l,
	    pool));
	ck_assert(mps_config_prefix_list_match(l, "192.0.2.95"));
	ck_assert(!mps_config_prefix_list_match(l, "192.0.2.96"));
	ck_assert(!mps_config_prefix_list_match(l, "192.0.2.63"));
	ck_assert_ptr_null(mps_config_prefix_list_parse("0.0.0.0/0", &l, pool));
	ck_assert(mps_config_prefix_list_match(l, "203.0.113.1"));
	ck_assert(!mps_config_prefix_list_match(l, "::1"));
	ck_assert_ptr_null(mps_config_prefix_list_parse("", &l, pool));
	ck_assert_int_eq(l->nelts, 0);
	ck_assert(!mps_config_prefix_list_match(l, "127.0.0.1"));
	/* Refused. */
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("10.0.0.0/33", &l,
	    pool));
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("::/129", &l, pool));
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("10.0.0.0/-1", &l,
	    pool));
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("10.0.0.0/", &l,
	    pool));
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("/8", &l, pool));
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("balancer.example",
	    &l, pool));
	ck_assert_ptr_nonnull(mps_config_prefix_list_parse("127.0.0.1 x", &l,
	    pool));
	apr_pool_destroy(pool);
}
END_TEST

/* The slot of a balancer's connection moves to the device's address. */
START_TEST(test_admission_move)
{
	mps_admission_limits_t lim = { 100, 2, 100, 0 };
	mps_admission_t *a = mps_admission_create(&lim);
	int i;

	ck_assert_ptr_nonnull(a);
	mps_metrics_reset();
	/* Five from the balancer: not held against its address. */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "AMT",
		    MPS_ADMIT_ANY_ADDRESS), MPS_ADMIT_OK);
	ck_assert_uint_eq(mps_admission_count_address(a, "127.0.0.1"), 0);
	/* Two name the same device: both fit; the third is refused and
	 * gives its slot back. */
	ck_assert_int_eq(mps_admission_move(a, "127.0.0.1",
	    MPS_ADMIT_ANY_ADDRESS, "192.0.2.7", 0, "AMT"), MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_move(a, "127.0.0.1",
	    MPS_ADMIT_ANY_ADDRESS, "192.0.2.7", 0, "AMT"), MPS_ADMIT_OK);
	ck_assert_uint_eq(mps_admission_count_address(a, "192.0.2.7"), 2);
	ck_assert_uint_eq(mps_admission_count(a), 5);
	ck_assert_int_eq(mps_admission_move(a, "127.0.0.1",
	    MPS_ADMIT_ANY_ADDRESS, "192.0.2.7", 0, "AMT"), MPS_ADMIT_ADDRESS);
	ck_assert_uint_eq(mps_admission_count(a), 4);
	ck_assert_uint_eq(mps_metric_get(MPS_M_PREAUTH_REFUSED_ADDRESS), 1);
	/* Another device is not affected; a slot held per address moves
	 * off its old address. */
	ck_assert_int_eq(mps_admission_move(a, "127.0.0.1",
	    MPS_ADMIT_ANY_ADDRESS, "192.0.2.8", 0, "AMT"), MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_move(a, "192.0.2.8", 0, "192.0.2.9", 0,
	    "AMT"), MPS_ADMIT_OK);
	ck_assert_uint_eq(mps_admission_count_address(a, "192.0.2.8"), 0);
	ck_assert_uint_eq(mps_admission_count_address(a, "192.0.2.9"), 1);
	/* Leaving with the new address balances everything. */
	mps_admission_leave(a, "192.0.2.7", 0);
	mps_admission_leave(a, "192.0.2.7", 0);
	mps_admission_leave(a, "192.0.2.9", 0);
	mps_admission_leave(a, "127.0.0.1", MPS_ADMIT_ANY_ADDRESS);
	ck_assert_uint_eq(mps_admission_count(a), 0);
	ck_assert_uint_eq(mps_admission_count_address(a, "192.0.2.7"), 0);
	mps_admission_destroy(a);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("proxy_header");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6_unknown);
	tcase_add_test(tc, test_v1_malformed);
	tcase_add_test(tc, test_v1_length);
	tcase_add_test(tc, test_v2_inet);
	tcase_add_test(tc, test_v2_inet6_tlvs);
	tcase_add_test(tc, test_v2_local_and_families);
	tcase_add_test(tc, test_v2_oversized);
	tcase_add_test(tc, test_partial_reads);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_looks_like);
	tcase_add_test(tc, test_prefix_lists);
	tcase_add_test(tc, test_admission_move);
	suite_add_tcase(s, tc);
	return s;
}
