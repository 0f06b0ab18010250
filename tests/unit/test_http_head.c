/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http_head.c: the HTTP proxy's request-head parser (http_head.c),
 * origin-form rewrite (http_origin.c), Basic credentials (http_basic.c),
 * error responses (http_reply.c) and chunked-body framer (http_chunked.c),
 * all in server/console/.
 *
 * The valid heads are byte for byte what curl 7.88.1 and Apache 2.4
 * (mod_proxy with ProxyRemote and ProxyVia On) sent to a capturing
 * listener on Debian 12. Each one is parsed whole, truncated at every
 * byte, fed one byte at a time and in random pieces, and all must agree.
 * Every refusal rule has a row in a table. A deterministic mutation loop
 * (bit flips and byte replacements at every position) checks that the
 * parser never misbehaves, that incremental and one-shot parsing agree,
 * and that every head it accepts rewrites into a head it accepts again.
 */
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_basic.h"
#include "http_chunked.h"
#include "http_head.h"
#include "http_origin.h"
#include "http_reply.h"
#include "mps_status.h"

/* Silent unless it fails: ck_assert_* is too slow for the big loops. */
#define REQUIRE(cond, ...) do {						\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

#define S(lit)	(lit), (sizeof(lit) - 1)

/* A fixed-seed generator, the same on every platform (xorshift32). */
static uint32_t rng_state;

static void
rng_seed(uint32_t seed)
{
	rng_state = seed != 0 ? seed : 1;
}

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- Captured requests ---- */

static const char curl_get[] =
    "GET http://dev:16992/wsman HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

static const char curl_connect[] =
    "CONNECT dev:16992 HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

static const char curl_get_auth[] =
    "GET http://dev:16992/wsman HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

static const char curl_connect_auth[] =
    "CONNECT dev:16993 HTTP/1.1\r\n"
    "Host: dev:16993\r\n"
    "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

static const char curl_post_head[] =
    "POST http://dev:16992/wsman HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "Content-Type: application/soap+xml;charset=UTF-8\r\n"
    "Content-Length: 5\r\n"
    "\r\n";

static const char curl_post_chunked_head[] =
    "POST http://dev:16992/wsman HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    "\r\n";

static const char curl_post_expect[] =
    "POST http://dev:16992/wsman HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "Content-Length: 2000000\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    "Expect: 100-continue\r\n"
    "\r\n";

static const char apache_get[] =
    "GET http://dev:16992/wsman HTTP/1.1\r\n"
    "Host: dev:16992\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Via: 1.1 127.0.0.1:16992\r\n"
    "Connection: close\r\n"
    "\r\n";

static const char apache_connect[] =
    "CONNECT dev:16993 HTTP/1.0\r\n"
    "Proxy-agent: Apache/2.4.71 (Debian)\r\n"
    "\r\n";

/* Not captured: exercises the rest of the grammar. */
static const char busy_head[] =
    "\r\n"
    "PUT HTTP://[fd00::1]:16993?x=%41&y HTTP/1.1\n"
    "host:\t[fd00::1]:16993 \r\n"
    "Connection: keep-alive, X-Hop ,, Upgrade\r\n"
    "X-Hop: dropped\r\n"
    "Upgrade: websocket\r\n"
    "Content-Length: 12, 12\r\n"
    "content-length: 012\r\n"
    "TE: trailers\r\n"
    "Trailer: X-Sum\r\n"
    "Keep-Alive: timeout=5\r\n"
    "X-Empty:\r\n"
    "X-Obs: caf\xc3\xa9\r\n"
    "Expect: 100-continue\r\n"
    "\r\n";

static const struct {
	const char *name;
	const char *text;
} valid_heads[] = {
	{ "curl GET", curl_get },
	{ "curl CONNECT", curl_connect },
	{ "curl GET -U", curl_get_auth },
	{ "curl CONNECT -U", curl_connect_auth },
	{ "curl POST", curl_post_head },
	{ "curl POST chunked", curl_post_chunked_head },
	{ "curl POST Expect", curl_post_expect },
	{ "Apache GET", apache_get },
	{ "Apache CONNECT", apache_connect },
	{ "busy", busy_head }
};
#define NVALID (sizeof(valid_heads) / sizeof(valid_heads[0]))

/* ---- Helpers ---- */

static apr_status_t
parse_once(mps_http_head_t *h, const void *p, size_t n, size_t *consumed)
{
	mps_http_head_init(h);
	return mps_http_head_parse(h, p, n, NULL, consumed);
}

static int
span_is(const mps_http_head_t *h, mps_http_span_t s, const char *lit)
{
	return s.len == strlen(lit) &&
	    memcmp(mps_http_span_ptr(h, s), lit, s.len) == 0;
}

#define ck_assert_span(h, s, lit)					\
	ck_assert_msg(span_is((h), (s), (lit)), "span is \"%.*s\", "	\
	    "want \"%s\"", (int)(s).len, mps_http_span_ptr((h), (s)), (lit))

/*
 * Everything a parse produced, as text, so two parses of the same bytes
 * can be compared (spans are offsets, so equal bytes give equal text).
 */
static void
summarize(const mps_http_head_t *h, apr_status_t rv, size_t consumed,
    char *out, size_t size)
{
	int n;
	size_t i;

	n = snprintf(out, size, "rv=%d c=%zu st=%u m=%u/%u t=%u/%u v=%d "
	    "f=%d s=%d a=%u/%u h=%u/%u ht=%d p=%u path=%u/%u/%d b=%d "
	    "cl=%llu conn=%u pc=%u pers=%d hf=%d up=%d ex=%d pa=%d "
	    "cr=%u/%u nf=%zu", (int)rv, consumed,
	    rv == APR_SUCCESS || rv == MPS_NEED_MORE ? 0 : h->reply_status,
	    h->method.off, h->method.len, h->target.off, h->target.len,
	    h->version, h->form, h->scheme, h->authority.off,
	    h->authority.len, h->host.off, h->host.len, h->host_type,
	    h->port, h->path.off, h->path.len, h->path_slash, h->body,
	    (unsigned long long)h->content_length, h->conn, h->proxy_conn,
	    h->persistent, h->host_field, h->upgrade, h->expect,
	    h->proxy_auth, h->credentials.off, h->credentials.len,
	    h->nfields);
	for (i = 0; i < h->nfields && n > 0 && (size_t)n < size; i++) {
		const mps_http_field_t *f = &h->fields[i];

		n += snprintf(out + n, size - (size_t)n, " [%u/%u %u/%u %d]",
		    f->name.off, f->name.len, f->value.off, f->value.len,
		    f->id);
	}
}

/*
 * Feeds data[0 .. len) as growing prefixes cut at the given points (an
 * increasing list ending with len), copying each prefix into a fresh
 * allocation so that the parser must cope with the bytes moving. Returns
 * the last result; *base_out receives the final copy (caller frees).
 */
static apr_status_t
parse_pieces(mps_http_head_t *h, const uint8_t *data, size_t len,
    const size_t *cuts, size_t ncuts, const mps_http_limits_t *lim,
    size_t *consumed, uint8_t **base_out)
{
	apr_status_t rv = MPS_NEED_MORE;
	uint8_t *copy = NULL;
	size_t k;

	mps_http_head_init(h);
	*consumed = 0;
	for (k = 0; k < ncuts; k++) {
		free(copy);
		copy = malloc(cuts[k] + 1);
		REQUIRE(copy != NULL, "malloc");
		if (cuts[k] != 0)
			memcpy(copy, data, cuts[k]);
		rv = mps_http_head_parse(h, copy, cuts[k], lim, consumed);
		if (rv != MPS_NEED_MORE)
			break;
		REQUIRE(*consumed == 0, "consumed %zu on NEED_MORE",
		    *consumed);
	}
	*base_out = copy;
	return rv;
}

/* Byte-at-a-time: cuts 1, 2, ..., len. */
static apr_status_t
parse_bytewise(mps_http_head_t *h, const uint8_t *data, size_t len,
    size_t *consumed, uint8_t **base_out)
{
	size_t *cuts = malloc((len + 1) * sizeof(*cuts));
	apr_status_t rv;
	size_t i;

	REQUIRE(cuts != NULL, "malloc");
	for (i = 0; i < len; i++)
		cuts[i] = i + 1;
	rv = parse_pieces(h, data, len, cuts, len, NULL, consumed, base_out);
	free(cuts);
	return rv;
}

/* Parses text whole and expects success consuming all of it. */
static void
parse_ok(mps_http_head_t *h, const char *text)
{
	size_t consumed;
	apr_status_t rv = parse_once(h, text, strlen(text), &consumed);

	ck_assert_msg(rv == APR_SUCCESS, "parse: rv %d (%s) for %s", rv,
	    h->why ? h->why : "-", text);
	ck_assert_uint_eq(consumed, strlen(text));
}

/* Writes h's origin-form head and compares it with want. */
static void
check_origin(const mps_http_head_t *h, unsigned flags, const char *want)
{
	mps_buf_t out;

	mps_buf_init(&out, 65536);
	ck_assert_int_eq(mps_http_head_write_origin(h, flags, &out),
	    APR_SUCCESS);
	ck_assert_msg(mps_buf_len(&out) == strlen(want) &&
	    memcmp(mps_buf_ptr(&out), want, strlen(want)) == 0,
	    "origin head:\n%.*s\nwant:\n%s", (int)mps_buf_len(&out),
	    (const char *)mps_buf_ptr(&out), want);
	mps_buf_free(&out);
}

/* ---- The captured requests ---- */

START_TEST(test_curl_get)
{
	mps_http_head_t h;
	size_t consumed;

	ck_assert_int_eq(parse_once(&h, S(curl_get), &consumed),
	    APR_SUCCESS);
	ck_assert_uint_eq(consumed, sizeof(curl_get) - 1);
	ck_assert_uint_eq(h.head_len, consumed);
	ck_assert_span(&h, h.method, "GET");
	ck_assert_int_eq(h.is_connect, 0);
	ck_assert_span(&h, h.target, "http://dev:16992/wsman");
	ck_assert_int_eq(h.version, 11);
	ck_assert_int_eq(h.form, MPS_HTTP_FORM_ABSOLUTE);
	ck_assert_int_eq(h.scheme, MPS_HTTP_SCHEME_HTTP);
	ck_assert_span(&h, h.authority, "dev:16992");
	ck_assert_span(&h, h.host, "dev");
	ck_assert_int_eq(h.host_type, MPS_HTTP_HOST_NAME);
	ck_assert_uint_eq(h.port, 16992);
	ck_assert_span(&h, h.path, "/wsman");
	ck_assert_int_eq(h.path_slash, 0);
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_NONE);
	ck_assert_uint_eq(h.conn, 0);
	ck_assert_uint_eq(h.proxy_conn, MPS_HTTP_CONN_KEEP_ALIVE);
	ck_assert_int_eq(h.persistent, 1);
	ck_assert_int_eq(h.host_field, 0);
	ck_assert_int_eq(h.proxy_auth, MPS_HTTP_AUTH_NONE);
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_NONE);
	ck_assert_uint_eq(h.nfields, 4);
	ck_assert_span(&h, h.fields[1].name, "User-Agent");
	ck_assert_span(&h, h.fields[1].value, "curl/7.88.1");
	ck_assert_int_eq(h.fields[3].id, MPS_HTTP_F_PROXY_CONNECTION);
	ck_assert_int_eq(mps_http_head_find(&h, "accept", 0), 2);
	ck_assert_int_eq(mps_http_head_find(&h, "accept", 3), -1);

	check_origin(&h, 0,
	    "GET /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");
	check_origin(&h, MPS_HTTP_WRITE_CLOSE,
	    "GET /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Connection: close\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");
}
END_TEST

START_TEST(test_curl_connect)
{
	static const char wire[] =
	    "CONNECT dev:16992 HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Proxy-Connection: Keep-Alive\r\n"
	    "\r\n"
	    "\x16\x03\x01\x02\x00\x01";	/* the TLS ClientHello begins */
	mps_http_head_t h;
	mps_buf_t out;
	size_t consumed;

	ck_assert_int_eq(parse_once(&h, S(wire), &consumed), APR_SUCCESS);
	ck_assert_uint_eq(consumed, sizeof(curl_connect) - 1);
	ck_assert_int_eq(h.is_connect, 1);
	ck_assert_int_eq(h.form, MPS_HTTP_FORM_AUTHORITY);
	ck_assert_int_eq(h.scheme, MPS_HTTP_SCHEME_NONE);
	ck_assert_span(&h, h.authority, "dev:16992");
	ck_assert_span(&h, h.host, "dev");
	ck_assert_uint_eq(h.port, 16992);
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_NONE);
	ck_assert_int_eq(h.persistent, 1);
	ck_assert_uint_eq(h.nfields, 3);

	/* A tunnel is not rewritten. */
	mps_buf_init(&out, 4096);
	ck_assert_int_eq(mps_http_head_write_origin(&h, 0, &out), APR_EINVAL);
	ck_assert_uint_eq(mps_buf_len(&out), 0);
	mps_buf_free(&out);
}
END_TEST

START_TEST(test_curl_auth)
{
	mps_http_head_t h;
	char cred[64];
	const char *user, *pass;

	parse_ok(&h, curl_get_auth);
	ck_assert_int_eq(h.proxy_auth, MPS_HTTP_AUTH_BASIC);
	ck_assert_span(&h, h.credentials, "dXNlcjpwYXNz");
	ck_assert_int_eq(mps_http_head_basic_credentials(&h, cred,
	    sizeof(cred), &user, &pass), APR_SUCCESS);
	ck_assert_str_eq(user, "user");
	ck_assert_str_eq(pass, "pass");
	/* Credentials never travel on to the device. */
	check_origin(&h, 0,
	    "GET /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");

	parse_ok(&h, curl_connect_auth);
	ck_assert_int_eq(h.is_connect, 1);
	ck_assert_uint_eq(h.port, 16993);
	ck_assert_int_eq(mps_http_head_basic_credentials(&h, cred,
	    sizeof(cred), &user, &pass), APR_SUCCESS);
	ck_assert_str_eq(user, "user");
	ck_assert_str_eq(pass, "pass");

	/* Another scheme is reported, not decoded. */
	parse_ok(&h, "GET http://dev/ HTTP/1.1\r\n"
	    "Proxy-Authorization: Negotiate YIIGhgYGKwYBBQUCoIIGejCCBnag\r\n"
	    "\r\n");
	ck_assert_int_eq(h.proxy_auth, MPS_HTTP_AUTH_OTHER);
	ck_assert_span(&h, h.credentials, "YIIGhgYGKwYBBQUCoIIGejCCBnag");
	ck_assert_int_eq(mps_http_head_basic_credentials(&h, cred,
	    sizeof(cred), &user, &pass), APR_EINVAL);
	ck_assert_ptr_null(user);

	/* The scheme is case-insensitive; bad credentials are the
	 * caller's 407, not a 400. */
	parse_ok(&h, "GET http://dev/ HTTP/1.1\r\n"
	    "Proxy-Authorization: bAsIc   !!!!\r\n\r\n");
	ck_assert_int_eq(h.proxy_auth, MPS_HTTP_AUTH_BASIC);
	ck_assert_span(&h, h.credentials, "!!!!");
	ck_assert_int_eq(mps_http_head_basic_credentials(&h, cred,
	    sizeof(cred), &user, &pass), MPS_ERR_MALFORMED);

	parse_ok(&h, "GET http://dev/ HTTP/1.1\r\n"
	    "Proxy-Authorization: Basic\r\n\r\n");
	ck_assert_int_eq(h.proxy_auth, MPS_HTTP_AUTH_BASIC);
	ck_assert_uint_eq(h.credentials.len, 0);
	ck_assert_int_eq(mps_http_head_basic_credentials(&h, cred,
	    sizeof(cred), &user, &pass), MPS_ERR_MALFORMED);

	parse_ok(&h, curl_get);
	ck_assert_int_eq(mps_http_head_basic_credentials(&h, cred,
	    sizeof(cred), &user, &pass), APR_EINVAL);
}
END_TEST

START_TEST(test_curl_post_length)
{
	static const char wire[] =
	    "POST http://dev:16992/wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Proxy-Connection: Keep-Alive\r\n"
	    "Content-Type: application/soap+xml;charset=UTF-8\r\n"
	    "Content-Length: 5\r\n"
	    "\r\n"
	    "hello";
	mps_http_head_t h;
	size_t consumed;

	ck_assert_int_eq(parse_once(&h, S(wire), &consumed), APR_SUCCESS);
	ck_assert_uint_eq(consumed, sizeof(curl_post_head) - 1);
	ck_assert_int_eq(memcmp(wire + consumed, "hello", 5), 0);
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 5);
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_NONE);
	check_origin(&h, 0,
	    "POST /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Content-Type: application/soap+xml;charset=UTF-8\r\n"
	    "Content-Length: 5\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");

	parse_ok(&h, curl_post_expect);
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 2000000);
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_CONTINUE);
	check_origin(&h, 0,
	    "POST /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Content-Length: 2000000\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Expect: 100-continue\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");
}
END_TEST

START_TEST(test_curl_post_chunked)
{
	static const char wire[] =
	    "POST http://dev:16992/wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Proxy-Connection: Keep-Alive\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "\r\n"
	    "5\r\nhello\r\n0\r\n\r\n"
	    "GET http://dev:16992/next HTTP/1.1\r\n\r\n";
	static const char body[] = "5\r\nhello\r\n0\r\n\r\n";
	mps_http_head_t h;
	mps_http_chunked_t c;
	size_t consumed, used;

	ck_assert_int_eq(parse_once(&h, S(wire), &consumed), APR_SUCCESS);
	ck_assert_uint_eq(consumed, sizeof(curl_post_chunked_head) - 1);
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_CHUNKED);
	check_origin(&h, 0,
	    "POST /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");

	mps_http_chunked_init(&c, 0, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, wire + consumed,
	    sizeof(wire) - 1 - consumed, &used), APR_SUCCESS);
	ck_assert_uint_eq(used, sizeof(body) - 1);
	ck_assert_uint_eq(c.total, sizeof(body) - 1);

	/* The next request starts exactly there. */
	consumed += used;
	ck_assert_int_eq(parse_once(&h, wire + consumed,
	    sizeof(wire) - 1 - consumed, &used), APR_SUCCESS);
	ck_assert_uint_eq(consumed + used, sizeof(wire) - 1);
	ck_assert_span(&h, h.path, "/next");
}
END_TEST

START_TEST(test_apache_connect)
{
	mps_http_head_t h;

	parse_ok(&h, apache_connect);
	ck_assert_int_eq(h.is_connect, 1);
	ck_assert_int_eq(h.version, 10);
	ck_assert_int_eq(h.form, MPS_HTTP_FORM_AUTHORITY);
	ck_assert_span(&h, h.host, "dev");
	ck_assert_uint_eq(h.port, 16993);
	ck_assert_int_eq(h.host_field, -1);
	ck_assert_int_eq(h.persistent, 0);
	ck_assert_uint_eq(h.nfields, 1);
	ck_assert_span(&h, h.fields[0].name, "Proxy-agent");
	ck_assert_span(&h, h.fields[0].value, "Apache/2.4.71 (Debian)");
}
END_TEST

START_TEST(test_apache_get)
{
	mps_http_head_t h;

	parse_ok(&h, apache_get);
	ck_assert_int_eq(h.form, MPS_HTTP_FORM_ABSOLUTE);
	ck_assert_uint_eq(h.conn, MPS_HTTP_CONN_CLOSE);
	ck_assert_int_eq(h.persistent, 0);
	/* Apache's Via stays and ours follows it; Connection is hop-by-hop. */
	check_origin(&h, 0,
	    "GET /wsman HTTP/1.1\r\n"
	    "Host: dev:16992\r\n"
	    "User-Agent: curl/7.88.1\r\n"
	    "Accept: */*\r\n"
	    "Via: 1.1 127.0.0.1:16992\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");
}
END_TEST

/* ---- Rewriting ---- */

START_TEST(test_origin_rewrite)
{
	mps_http_head_t h;

	/* busy_head: Host regenerated from the URI, the path gets its "/",
	 * hop-by-hop and nominated fields go, Content-Length becomes one
	 * canonical field where the first one was. */
	parse_ok(&h, busy_head);
	ck_assert_int_eq(h.version, 11);
	ck_assert_int_eq(h.scheme, MPS_HTTP_SCHEME_HTTP);
	ck_assert_int_eq(h.host_type, MPS_HTTP_HOST_IPV6);
	ck_assert_span(&h, h.host, "fd00::1");
	ck_assert_span(&h, h.authority, "[fd00::1]:16993");
	ck_assert_uint_eq(h.port, 16993);
	ck_assert_span(&h, h.path, "?x=%41&y");
	ck_assert_int_eq(h.path_slash, 1);
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 12);
	ck_assert_uint_eq(h.conn, MPS_HTTP_CONN_KEEP_ALIVE |
	    MPS_HTTP_CONN_UPGRADE);
	ck_assert_int_eq(h.upgrade, 1);
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_CONTINUE);
	ck_assert_int_eq(h.host_field, 0);
	ck_assert_span(&h, h.fields[0].value, "[fd00::1]:16993");
	ck_assert_int_eq(mps_http_head_connection_lists(&h, S("x-hop")), 1);
	ck_assert_int_eq(mps_http_head_connection_lists(&h, S("X-Ho")), 0);
	ck_assert_int_eq(mps_http_head_connection_lists(&h, S("")), 0);
	ck_assert_span(&h, h.fields[9].value, "");
	ck_assert_span(&h, h.fields[10].value, "caf\xc3\xa9");

	check_origin(&h, 0,
	    "PUT /?x=%41&y HTTP/1.1\r\n"
	    "Host: [fd00::1]:16993\r\n"
	    "Content-Length: 12\r\n"
	    "X-Empty: \r\n"
	    "X-Obs: caf\xc3\xa9\r\n"
	    "Expect: 100-continue\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");
	check_origin(&h, MPS_HTTP_WRITE_KEEP_UPGRADE | MPS_HTTP_WRITE_CLOSE,
	    "PUT /?x=%41&y HTTP/1.1\r\n"
	    "Host: [fd00::1]:16993\r\n"
	    "Upgrade: websocket\r\n"
	    "Content-Length: 12\r\n"
	    "X-Empty: \r\n"
	    "X-Obs: caf\xc3\xa9\r\n"
	    "Expect: 100-continue\r\n"
	    "Connection: close, upgrade\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");
	check_origin(&h, MPS_HTTP_WRITE_KEEP_UPGRADE,
	    "PUT /?x=%41&y HTTP/1.1\r\n"
	    "Host: [fd00::1]:16993\r\n"
	    "Upgrade: websocket\r\n"
	    "Content-Length: 12\r\n"
	    "X-Empty: \r\n"
	    "X-Obs: caf\xc3\xa9\r\n"
	    "Expect: 100-continue\r\n"
	    "Connection: upgrade\r\n"
	    "Via: 1.1 mpsd\r\n"
	    "\r\n");

	/* No Host at all: added from the URI (default port not added);
	 * a mismatching Host is replaced; Connection cannot strip the
	 * framing fields; HTTP/1.0 is forwarded as 1.1 with a 1.0 Via;
	 * Upgrade is not kept without "upgrade" in Connection. */
	parse_ok(&h, "DELETE http://dev HTTP/1.0\r\n"
	    "Connection: Content-Length, Transfer-Encoding, Accept, "
	    "Upgrade\r\n"
	    "Accept: x\r\n"
	    "Content-Length: 0\r\n"
	    "Upgrade: h2c\r\n"
	    "Proxy-Authenticate: Basic\r\n"
	    "\r\n");
	ck_assert_int_eq(h.persistent, 0);
	ck_assert_uint_eq(h.port, 80);
	check_origin(&h, MPS_HTTP_WRITE_KEEP_UPGRADE,
	    "DELETE / HTTP/1.1\r\n"
	    "Host: dev\r\n"
	    "Content-Length: 0\r\n"
	    "Via: 1.0 mpsd\r\n"
	    "\r\n");

	parse_ok(&h, "GET http://dev:16992/a HTTP/1.1\r\n"
	    "Host: other:1\r\n\r\n");
	check_origin(&h, 0,
	    "GET /a HTTP/1.1\r\nHost: dev:16992\r\nVia: 1.1 mpsd\r\n\r\n");

	/* Only absolute http: https, origin-form and unfinished heads are
	 * refused. */
	{
		mps_buf_t out;
		mps_http_head_t part;
		size_t consumed;

		mps_buf_init(&out, 4096);
		parse_ok(&h, "GET https://dev:16993/ HTTP/1.1\r\n\r\n");
		ck_assert_int_eq(mps_http_head_write_origin(&h, 0, &out),
		    APR_EINVAL);
		parse_ok(&h, "GET /wsman HTTP/1.1\r\n\r\n");
		ck_assert_int_eq(mps_http_head_write_origin(&h, 0, &out),
		    APR_EINVAL);
		ck_assert_int_eq(parse_once(&part, S("GET http://dev/ HTTP/1.1"
		    "\r\n"), &consumed), MPS_NEED_MORE);
		ck_assert_int_eq(mps_http_head_write_origin(&part, 0, &out),
		    APR_EINVAL);
		ck_assert_uint_eq(mps_buf_len(&out), 0);
		mps_buf_free(&out);
	}
}
END_TEST

START_TEST(test_origin_rewrite_all_or_nothing)
{
	mps_http_head_t h;
	mps_buf_t out;
	size_t cap, full;

	parse_ok(&h, curl_get);
	mps_buf_init(&out, 4096);
	ck_assert_int_eq(mps_http_head_write_origin(&h, 0, &out),
	    APR_SUCCESS);
	full = mps_buf_len(&out);
	mps_buf_free(&out);

	/* Every cap too small by at least one byte: refused, and the
	 * bytes already queued stay as they were. */
	for (cap = 3; cap < full + 3; cap++) {
		mps_buf_init(&out, cap);
		ck_assert_int_eq(mps_buf_put(&out, "abc", 3), APR_SUCCESS);
		REQUIRE(mps_http_head_write_origin(&h, 0, &out) ==
		    MPS_ERR_TOO_LARGE, "cap %zu", cap);
		REQUIRE(mps_buf_len(&out) == 3 &&
		    memcmp(mps_buf_ptr(&out), "abc", 3) == 0, "cap %zu", cap);
		mps_buf_free(&out);
	}
	mps_buf_init(&out, full + 3);
	ck_assert_int_eq(mps_buf_put(&out, "abc", 3), APR_SUCCESS);
	ck_assert_int_eq(mps_http_head_write_origin(&h, 0, &out),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&out), full + 3);
	mps_buf_free(&out);
}
END_TEST

/* ---- Forms and hosts ---- */

static const struct {
	const char *head;
	mps_http_form_t form;
	mps_http_scheme_t scheme;
	const char *host;		/* NULL: no host */
	mps_http_host_t host_type;
	unsigned port;
	const char *path;		/* as sent upstream, NULL: none */
} form_rows[] = {
	{ "GET /wsman HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ORIGIN,
	  MPS_HTTP_SCHEME_NONE, NULL, MPS_HTTP_HOST_NONE, 0, "/wsman" },
	{ "OPTIONS * HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ASTERISK,
	  MPS_HTTP_SCHEME_NONE, NULL, MPS_HTTP_HOST_NONE, 0, NULL },
	{ "GET http://dev HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ABSOLUTE,
	  MPS_HTTP_SCHEME_HTTP, "dev", MPS_HTTP_HOST_NAME, 80, "/" },
	{ "GET http://dev?q HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ABSOLUTE,
	  MPS_HTTP_SCHEME_HTTP, "dev", MPS_HTTP_HOST_NAME, 80, "/?q" },
	{ "GET HTTP://Dev.Example.COM.:8080/a/b?c=d HTTP/1.1\r\n\r\n",
	  MPS_HTTP_FORM_ABSOLUTE, MPS_HTTP_SCHEME_HTTP, "Dev.Example.COM.",
	  MPS_HTTP_HOST_NAME, 8080, "/a/b?c=d" },
	{ "GET https://dev/x HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ABSOLUTE,
	  MPS_HTTP_SCHEME_HTTPS, "dev", MPS_HTTP_HOST_NAME, 443, "/x" },
	{ "GET http://10.0.0.1:16992/ HTTP/1.1\r\n\r\n",
	  MPS_HTTP_FORM_ABSOLUTE, MPS_HTTP_SCHEME_HTTP, "10.0.0.1",
	  MPS_HTTP_HOST_IPV4, 16992, "/" },
	{ "GET http://[::1]/ HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ABSOLUTE,
	  MPS_HTTP_SCHEME_HTTP, "::1", MPS_HTTP_HOST_IPV6, 80, "/" },
	{ "GET http://a_b-1.x/ HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_ABSOLUTE,
	  MPS_HTTP_SCHEME_HTTP, "a_b-1.x", MPS_HTTP_HOST_NAME, 80, "/" },
	{ "CONNECT 192.168.1.20:16993 HTTP/1.1\r\n\r\n",
	  MPS_HTTP_FORM_AUTHORITY, MPS_HTTP_SCHEME_NONE, "192.168.1.20",
	  MPS_HTTP_HOST_IPV4, 16993, NULL },
	{ "CONNECT [fe80::1:2]:623 HTTP/1.1\r\n\r\n",
	  MPS_HTTP_FORM_AUTHORITY, MPS_HTTP_SCHEME_NONE, "fe80::1:2",
	  MPS_HTTP_HOST_IPV6, 623, NULL },
	{ "CONNECT [::ffff:1.2.3.4]:1 HTTP/1.1\r\n\r\n",
	  MPS_HTTP_FORM_AUTHORITY, MPS_HTTP_SCHEME_NONE, "::ffff:1.2.3.4",
	  MPS_HTTP_HOST_IPV6, 1, NULL },
	{ "CONNECT dev:65535 HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_AUTHORITY,
	  MPS_HTTP_SCHEME_NONE, "dev", MPS_HTTP_HOST_NAME, 65535, NULL },
	{ "CONNECT dev:00664 HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_AUTHORITY,
	  MPS_HTTP_SCHEME_NONE, "dev", MPS_HTTP_HOST_NAME, 664, NULL },
	{ "CONNECT 0.0.0.0:1 HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_AUTHORITY,
	  MPS_HTTP_SCHEME_NONE, "0.0.0.0", MPS_HTTP_HOST_IPV4, 1, NULL },
	{ "CONNECT 1a.2b:1 HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_AUTHORITY,
	  MPS_HTTP_SCHEME_NONE, "1a.2b", MPS_HTTP_HOST_NAME, 1, NULL },
	{ "CONNECT x.0xg:1 HTTP/1.1\r\n\r\n", MPS_HTTP_FORM_AUTHORITY,
	  MPS_HTTP_SCHEME_NONE, "x.0xg", MPS_HTTP_HOST_NAME, 1, NULL },
};

START_TEST(test_forms)
{
	size_t i;

	for (i = 0; i < sizeof(form_rows) / sizeof(form_rows[0]); i++) {
		mps_http_head_t h;
		size_t consumed;
		apr_status_t rv;

		rv = parse_once(&h, form_rows[i].head,
		    strlen(form_rows[i].head), &consumed);
		ck_assert_msg(rv == APR_SUCCESS, "row %zu: rv %d (%s)", i,
		    rv, h.why ? h.why : "-");
		ck_assert_msg(h.form == form_rows[i].form, "row %zu form", i);
		ck_assert_msg(h.scheme == form_rows[i].scheme, "row %zu", i);
		ck_assert_msg(h.host_type == form_rows[i].host_type,
		    "row %zu: host type %d", i, h.host_type);
		if (form_rows[i].host != NULL)
			ck_assert_span(&h, h.host, form_rows[i].host);
		ck_assert_msg(h.port == form_rows[i].port, "row %zu port %u",
		    i, h.port);
		if (form_rows[i].path != NULL) {
			char path[256];

			ck_assert_uint_lt(h.path.len + 2, sizeof(path));
			snprintf(path, sizeof(path), "%s%.*s",
			    h.path_slash ? "/" : "", (int)h.path.len,
			    mps_http_span_ptr(&h, h.path));
			ck_assert_str_eq(path, form_rows[i].path);
		}
	}
}
END_TEST

/* ---- Refusals ---- */

static const struct {
	const char *why;
	const char *head;
	apr_status_t rv;
	unsigned status;
} bad_rows[] = {
	/* Request line. */
	{ "non-token method", "GE(T / HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "non-ASCII method", "G\xc3\x89T / HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "empty method", " / HTTP/1.1\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "two spaces", "GET  / HTTP/1.1\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "space in target", "GET /a b HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "tab separator", "GET\t/ HTTP/1.1\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "trailing space", "GET / HTTP/1.1 \r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "non-ASCII target", "GET /\xff HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "lower-case version", "GET / http/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "garbage version", "GET / HTTP/1.1x\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "two-digit version", "GET / HTTP/11\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "bare CR", "GET / HTTP/1.1\rX: y\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "HTTP/0.9", "GET /\r\n", MPS_ERR_PROTOCOL, 505 },
	{ "HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", MPS_ERR_PROTOCOL, 505 },
	{ "HTTP/2.0 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	  MPS_ERR_PROTOCOL, 505 },
	{ "HTTP/2", "GET / HTTP/2\r\n\r\n", MPS_ERR_PROTOCOL, 505 },
	{ "HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", MPS_ERR_PROTOCOL, 505 },
	{ "HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", MPS_ERR_PROTOCOL, 505 },
	/* Request-target. */
	{ "userinfo", "GET http://u:p@dev/ HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "userinfo CONNECT", "CONNECT u@dev:443 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT no port", "CONNECT dev HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT empty port", "CONNECT dev: HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT port 0", "CONNECT dev:0 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT port 65536", "CONNECT dev:65536 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT port 6 digits", "CONNECT dev:016992 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT signed port", "CONNECT dev:+443 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT path", "CONNECT dev:443/x HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT origin-form", "CONNECT / HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT absolute", "CONNECT http://dev:443 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CONNECT empty host", "CONNECT :443 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "authority-form on GET", "GET dev:443 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "lower-case connect", "connect dev:443 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "other scheme", "GET ftp://dev/ HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "no slashes", "GET http:dev/ HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "empty host", "GET http:///x HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "empty port", "GET http://dev:/x HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "fragment", "GET http://dev/x#y HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "fragment on host", "GET http://dev#y HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "bad percent", "GET http://dev/%4 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "bad percent hex", "GET /%zz HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "asterisk on GET", "GET * HTTP/1.1\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "numeric name", "GET http://127.1/ HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "hex number name", "CONNECT 0x7f000001:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "bare 0x label", "CONNECT x.0x:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "decimal number name", "CONNECT 2130706433:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "IPv4 leading zero", "CONNECT 10.0.0.01:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "IPv4 octet 256", "CONNECT 10.0.0.256:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "IPv6 zone", "CONNECT [fe80::1%25eth0]:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "bad IPv6", "CONNECT [::g]:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "IPv6 unbracketed", "CONNECT ::1:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "IPv6 unterminated", "CONNECT [::1:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "empty label", "CONNECT a..b:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "leading dot", "CONNECT .a:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "label too long", "CONNECT "
	  "a123456789012345678901234567890123456789012345678901234567890123"
	  ":80 HTTP/1.1\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "name char", "CONNECT a!b:80 HTTP/1.1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	/* Field lines. */
	{ "obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "obs-fold tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "first line folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "empty name", "GET / HTTP/1.1\r\n: a\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "bad name", "GET / HTTP/1.1\r\nX(y): a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "control char", "GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "DEL", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "CR in value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	/* Hosts. */
	{ "two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "Host userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "Host port 0", "GET / HTTP/1.1\r\nHost: a:0\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	/* Content-Length. */
	{ "CL sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL hex", "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL suffix", "POST / HTTP/1.1\r\nContent-Length: 5a\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL inner space", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL empty element", "POST / HTTP/1.1\r\nContent-Length: 5,\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL overflow", "POST / HTTP/1.1\r\n"
	  "Content-Length: 99999999999999999999\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL over INT64_MAX", "POST / HTTP/1.1\r\n"
	  "Content-Length: 9223372036854775808\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "CL differing", "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "CL differing list", "POST / HTTP/1.1\r\n"
	  "Content-Length: 5, 6\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	/* Transfer-Encoding. */
	{ "TE and CL", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "CL and TE", "POST / HTTP/1.1\r\nContent-Length: 0\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "TE not final", "POST / HTTP/1.1\r\n"
	  "Transfer-Encoding: chunked, gzip\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "TE not final 2 fields", "POST / HTTP/1.1\r\n"
	  "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "TE no chunked", "POST / HTTP/1.1\r\n"
	  "Transfer-Encoding: gzip\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "TE chunked twice", "POST / HTTP/1.1\r\n"
	  "Transfer-Encoding: chunked, chunked\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "TE parameters", "POST / HTTP/1.1\r\n"
	  "Transfer-Encoding: chunked;q=1\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "TE empty", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "TE chunkedx", "POST / HTTP/1.1\r\n"
	  "Transfer-Encoding: xchunked\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "TE in HTTP/1.0", "POST / HTTP/1.0\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "CONNECT with CL", "CONNECT dev:443 HTTP/1.1\r\n"
	  "Content-Length: 5\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "CONNECT with TE", "CONNECT dev:443 HTTP/1.1\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	/* Connection, credentials. */
	{ "Connection non-token", "GET / HTTP/1.1\r\n"
	  "Connection: a b\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "Proxy-Connection non-token", "GET / HTTP/1.1\r\n"
	  "Proxy-Connection: \"close\"\r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "two Proxy-Authorization", "GET / HTTP/1.1\r\n"
	  "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
	  "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
	{ "Proxy-Authorization empty", "GET / HTTP/1.1\r\n"
	  "Proxy-Authorization: \r\n\r\n", MPS_ERR_MALFORMED, 400 },
	{ "Proxy-Authorization tab", "GET / HTTP/1.1\r\n"
	  "Proxy-Authorization: Basic\tdXNlcjpwYXNz\r\n\r\n",
	  MPS_ERR_MALFORMED, 400 },
};

START_TEST(test_refusals)
{
	size_t i;

	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const char *head = bad_rows[i].head;
		size_t len = strlen(head), consumed = 99, k;
		mps_http_head_t h;
		apr_status_t rv;
		uint8_t *copy;

		rv = parse_once(&h, head, len, &consumed);
		ck_assert_msg(rv == bad_rows[i].rv, "%s: rv %d, want %d (%s)",
		    bad_rows[i].why, rv, bad_rows[i].rv, h.why ? h.why : "-");
		ck_assert_msg(h.reply_status == bad_rows[i].status,
		    "%s: status %u", bad_rows[i].why, h.reply_status);
		ck_assert_msg(h.why != NULL, "%s: no reason", bad_rows[i].why);
		ck_assert_uint_eq(consumed, 0);
		/* Sticky. */
		ck_assert_int_eq(mps_http_head_parse(&h, head, len, NULL,
		    &consumed), bad_rows[i].rv);
		/* The same verdict byte by byte, and never a success on
		 * the way. */
		rv = parse_bytewise(&h, (const uint8_t *)head, len, &consumed,
		    &copy);
		free(copy);
		ck_assert_msg(rv == bad_rows[i].rv, "%s: bytewise rv %d",
		    bad_rows[i].why, rv);
		/* Every prefix is NEED_MORE or the same error. */
		for (k = 0; k < len; k++) {
			rv = parse_once(&h, head, k, &consumed);
			REQUIRE(rv == MPS_NEED_MORE || rv == bad_rows[i].rv,
			    "%s: prefix %zu gives %d", bad_rows[i].why, k, rv);
		}
	}
}
END_TEST

/* Some rules are also caught by a later, more general one: the reason
 * shows that the specific rule fired. */
START_TEST(test_refusal_reasons)
{
	static const struct {
		const char *head;
		const char *why;
	} rows[] = {
		{ "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "obs-fold" },
		{ "GET http://u:p@dev/ HTTP/1.1\r\n\r\n", "userinfo" },
		{ "CONNECT u@dev:1 HTTP/1.1\r\n\r\n", "userinfo" },
		{ "GET / HTTP/1.1\rX: y\r\n\r\n", "CR inside a line" },
		{ "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", "CR inside a line" },
		{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "whitespace before" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 5\r\n\r\n", "with Content-Length" },
		{ "GET / HTTP/1.2\r\n\r\n", "unsupported HTTP version" },
		{ "GET /\r\n", "HTTP/0.9" },
	};
	size_t i, consumed;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		mps_http_head_t h;

		ck_assert_int_ne(parse_once(&h, rows[i].head,
		    strlen(rows[i].head), &consumed), APR_SUCCESS);
		ck_assert_msg(h.why != NULL && strstr(h.why, rows[i].why),
		    "row %zu: why \"%s\"", i, h.why ? h.why : "-");
	}
}
END_TEST

/* Each refusal row's error comes from the line that has the problem,
 * before the rest of the head arrives. */
START_TEST(test_early_refusal)
{
	mps_http_head_t h;
	size_t consumed;

	ck_assert_int_eq(parse_once(&h, S("PRI * HTTP/2.0\r\n"), &consumed),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(parse_once(&h, S("GET / HTTP/1.1\r\nX: a\r\n b\r\n"),
	    &consumed), MPS_ERR_MALFORMED);
	ck_assert_int_eq(parse_once(&h, S("GET http://u@d/ HTTP/1.1\r\n"),
	    &consumed), MPS_ERR_MALFORMED);
	/* ... but TE + CL needs the whole head (either may come last). */
	ck_assert_int_eq(parse_once(&h, S("POST / HTTP/1.1\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
	    &consumed), MPS_NEED_MORE);
}
END_TEST

/* ---- Caps ---- */

/* A head with n fields "Xnnn: v". */
static char *
head_with_fields(size_t n)
{
	size_t size = 64 + n * 16, off, i;
	char *p = malloc(size);

	REQUIRE(p != NULL, "malloc");
	off = (size_t)snprintf(p, size, "GET http://dev/ HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(p + off, size - off, "X%04zu: v\r\n",
		    i);
	snprintf(p + off, size - off, "\r\n");
	return p;
}

START_TEST(test_caps)
{
	mps_http_head_t h;
	mps_http_limits_t lim;
	size_t consumed, len;
	char *p, *line;
	apr_status_t rv;

	/* Fields: 100 pass the default, 101 do not; a lower cap holds. */
	p = head_with_fields(100);
	ck_assert_int_eq(parse_once(&h, p, strlen(p), &consumed),
	    APR_SUCCESS);
	ck_assert_uint_eq(h.nfields, 100);
	free(p);
	p = head_with_fields(101);
	ck_assert_int_eq(parse_once(&h, p, strlen(p), &consumed),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(h.reply_status, 431);
	lim.max_head = 16384;
	lim.max_line = 8192;
	lim.max_fields = MPS_HTTP_MAX_FIELDS;
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, p, strlen(p), &lim,
	    &consumed), APR_SUCCESS);
	ck_assert_uint_eq(h.nfields, 101);
	free(p);
	p = head_with_fields(3);
	lim.max_fields = 2;
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, p, strlen(p), &lim,
	    &consumed), MPS_ERR_TOO_LARGE);
	lim.max_fields = 0;
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, S("GET / HTTP/1.1\r\n\r\n"),
	    &lim, &consumed), APR_SUCCESS);
	free(p);

	/* Lines: exactly max_line passes; one more is refused, and as soon
	 * as it is clear, without waiting for its LF. */
	lim.max_head = 1024;
	lim.max_line = 64;
	lim.max_fields = 10;
	line = malloc(1024);
	ck_assert_ptr_nonnull(line);
	/* "X: " + 61 "a" = 64 bytes of field line. */
	len = (size_t)snprintf(line, 1024, "GET / HTTP/1.1\r\nX: %s\r\n\r\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, len, &lim, &consumed),
	    APR_SUCCESS);
	len = (size_t)snprintf(line, 1024, "GET / HTTP/1.1\r\nX: %s\r\n\r\n",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, len, &lim, &consumed),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(h.reply_status, 431);
	/* 16 + 64 bytes of field line: still possible; its 65th content
	 * byte is refused as it arrives, before any LF. */
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 16 + 64, &lim,
	    &consumed), MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 16 + 65, &lim,
	    &consumed), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(h.reply_status, 431);
	/* 64 bytes and a CR: still possible (the LF may follow). */
	line[16 + 64] = '\r';
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 16 + 65, &lim,
	    &consumed), MPS_NEED_MORE);

	/* The request line: 414, also before its LF. */
	memset(line, 'a', 1024);
	memcpy(line, "GET /", 5);
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 64, &lim, &consumed),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 65, &lim, &consumed),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(h.reply_status, 414);
	memcpy(line + 55, " HTTP/1.1\r\n\r\n", 13);	/* 64 bytes: fits */
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 68, &lim, &consumed),
	    APR_SUCCESS);
	line[55] = 'a';
	memcpy(line + 56, " HTTP/1.1\r\n\r\n", 13);	/* 65 bytes */
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, line, 69, &lim, &consumed),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(h.reply_status, 414);
	free(line);

	/* The head: exactly max_head bytes pass, one more does not, and an
	 * endless head is refused at max_head bytes. */
	p = head_with_fields(20);
	len = strlen(p);
	lim.max_head = len;
	lim.max_line = 8192;
	lim.max_fields = 100;
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, p, len, &lim, &consumed),
	    APR_SUCCESS);
	lim.max_head = len - 1;
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, p, len - 2, &lim,
	    &consumed), MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_head_parse(&h, p, len - 1, &lim,
	    &consumed), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(h.reply_status, 431);
	free(p);

	p = head_with_fields(MPS_HTTP_MAX_FIELDS);
	len = strlen(p) - 2;		/* no end in sight */
	mps_http_head_init(&h);
	rv = mps_http_head_parse(&h, p, len, NULL, &consumed);
	ck_assert_int_eq(rv, MPS_ERR_TOO_LARGE);	/* the field count */
	free(p);
	{
		/* 20 KiB of CRLF: only empty lines, over the default head. */
		char *crlf = malloc(20480);
		size_t i;

		ck_assert_ptr_nonnull(crlf);
		for (i = 0; i < 20480; i += 2)
			memcpy(crlf + i, "\r\n", 2);
		mps_http_head_init(&h);
		ck_assert_int_eq(mps_http_head_parse(&h, crlf, 16383, NULL,
		    &consumed), MPS_NEED_MORE);
		ck_assert_int_eq(mps_http_head_parse(&h, crlf, 20480, NULL,
		    &consumed), MPS_ERR_TOO_LARGE);
		ck_assert_uint_eq(h.reply_status, 431);
		free(crlf);
	}

	/* Limits out of range. */
	lim.max_head = 100;
	lim.max_line = 0;
	lim.max_fields = 10;
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, S(curl_get), &lim,
	    &consumed), APR_EINVAL);
	lim.max_line = 10;
	lim.max_fields = MPS_HTTP_MAX_FIELDS + 1;
	ck_assert_int_eq(mps_http_head_parse(&h, S(curl_get), &lim,
	    &consumed), APR_EINVAL);
	lim.max_fields = 10;
	lim.max_head = 0;
	ck_assert_int_eq(mps_http_head_parse(&h, S(curl_get), &lim,
	    &consumed), APR_EINVAL);
}
END_TEST

/* ---- Incremental parsing ---- */

START_TEST(test_truncation)
{
	size_t i, k;

	for (i = 0; i < NVALID; i++) {
		const char *text = valid_heads[i].text;
		size_t len = strlen(text), consumed;
		mps_http_head_t h;
		apr_status_t rv;

		rv = parse_once(&h, text, len, &consumed);
		ck_assert_msg(rv == APR_SUCCESS && consumed == len,
		    "%s: rv %d (%s)", valid_heads[i].name, rv,
		    h.why ? h.why : "-");
		for (k = 0; k < len; k++) {
			rv = parse_once(&h, text, k, &consumed);
			REQUIRE(rv == MPS_NEED_MORE && consumed == 0,
			    "%s cut at %zu: rv %d", valid_heads[i].name, k, rv);
		}
		/* NULL with no bytes is a valid empty prefix. */
		ck_assert_int_eq(parse_once(&h, NULL, 0, &consumed),
		    MPS_NEED_MORE);
	}
}
END_TEST

START_TEST(test_split_feeding)
{
	size_t i, round;

	rng_seed(0x48545450);
	for (i = 0; i < NVALID; i++) {
		const uint8_t *text = (const uint8_t *)valid_heads[i].text;
		size_t len = strlen(valid_heads[i].text), consumed, c2;
		char want[8192], got[8192];
		mps_http_head_t h, h2;
		apr_status_t rv;
		uint8_t *copy;
		size_t cuts[64];

		rv = parse_once(&h, text, len, &consumed);
		summarize(&h, rv, consumed, want, sizeof(want));

		rv = parse_bytewise(&h2, text, len, &c2, &copy);
		summarize(&h2, rv, c2, got, sizeof(got));
		ck_assert_msg(strcmp(want, got) == 0, "%s bytewise:\n%s\n%s",
		    valid_heads[i].name, got, want);
		/* Results point into the latest copy. */
		ck_assert_ptr_eq(h2.base, copy);
		ck_assert_int_eq(memcmp(mps_http_span_ptr(&h2, h2.method),
		    text + h2.method.off, h2.method.len), 0);
		free(copy);

		for (round = 0; round < 200; round++) {
			size_t n = 0, at = 0;

			while (at < len && n < 63) {
				at += 1 + rng() % 40;
				if (at > len)
					at = len;
				cuts[n++] = at;
			}
			if (cuts[n - 1] != len)
				cuts[n++] = len;
			rv = parse_pieces(&h2, text, len, cuts, n, NULL, &c2,
			    &copy);
			summarize(&h2, rv, c2, got, sizeof(got));
			free(copy);
			REQUIRE(strcmp(want, got) == 0, "%s round %zu:\n%s\n%s",
			    valid_heads[i].name, round, got, want);
		}
	}
}
END_TEST

#define PIPE1 "GET http://dev:16992/one HTTP/1.1\r\nHost: dev:16992\r\n\r\n"
#define PIPE2 "POST http://dev:16992/two HTTP/1.1\r\nContent-Length: 3\r\n\r\n"
/* A stray CRLF after a body is allowed before the next request. */
#define PIPE3 "\r\nGET http://dev:16992/three HTTP/1.1\r\n\r\n"
#define PIPE4 "GET http://dev:16992/four"

START_TEST(test_pipelined)
{
	static const char wire[] = PIPE1 PIPE2 "abc" PIPE3 PIPE4;
	mps_http_head_t h;
	size_t off = 0, consumed;

	ck_assert_int_eq(parse_once(&h, wire, sizeof(wire) - 1, &consumed),
	    APR_SUCCESS);
	ck_assert_span(&h, h.path, "/one");
	ck_assert_uint_eq(consumed, sizeof(PIPE1) - 1);
	off += consumed;

	ck_assert_int_eq(parse_once(&h, wire + off, sizeof(wire) - 1 - off,
	    &consumed), APR_SUCCESS);
	ck_assert_span(&h, h.path, "/two");
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(consumed, sizeof(PIPE2) - 1);
	off += consumed;
	ck_assert_int_eq(memcmp(wire + off, "abc", 3), 0);
	off += (size_t)h.content_length;

	ck_assert_int_eq(parse_once(&h, wire + off, sizeof(wire) - 1 - off,
	    &consumed), APR_SUCCESS);
	ck_assert_span(&h, h.path, "/three");
	ck_assert_uint_eq(consumed, sizeof(PIPE3) - 1);
	off += consumed;

	ck_assert_int_eq(parse_once(&h, wire + off, sizeof(wire) - 1 - off,
	    &consumed), MPS_NEED_MORE);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_str_eq(wire + off, PIPE4);
}
END_TEST

START_TEST(test_line_ends)
{
	static const char lf[] = "GET http://dev:16992/wsman HTTP/1.1\n"
	    "Host: dev:16992\nConnection: close\n\n";
	static const char mixed[] = "GET http://dev:16992/wsman HTTP/1.1\r\n"
	    "Host: dev:16992\nConnection: close\r\n\n";
	mps_http_head_t h, h2;
	size_t c1, c2;

	/* Bare LF, alone or mixed with CRLF, gives the same head. */
	ck_assert_int_eq(parse_once(&h, S(lf), &c1), APR_SUCCESS);
	ck_assert_uint_eq(c1, sizeof(lf) - 1);
	ck_assert_int_eq(parse_once(&h2, S(mixed), &c2), APR_SUCCESS);
	ck_assert_uint_eq(c2, sizeof(mixed) - 1);
	ck_assert_span(&h, h.fields[1].value, "close");
	ck_assert_span(&h2, h2.fields[1].value, "close");
	ck_assert_int_eq(h.persistent, 0);
	ck_assert_int_eq(h2.persistent, 0);
	/* Forwarded with CRLF only. */
	check_origin(&h, 0, "GET /wsman HTTP/1.1\r\nHost: dev:16992\r\n"
	    "Via: 1.1 mpsd\r\n\r\n");
	check_origin(&h2, 0, "GET /wsman HTTP/1.1\r\nHost: dev:16992\r\n"
	    "Via: 1.1 mpsd\r\n\r\n");

	/* "\r\n\r" is not yet the end; "\n\r\n" is. */
	ck_assert_int_eq(parse_once(&h, S("GET / HTTP/1.1\r\n\r"), &c1),
	    MPS_NEED_MORE);
	ck_assert_int_eq(parse_once(&h, S("GET / HTTP/1.1\n\r\nX"), &c1),
	    APR_SUCCESS);
	ck_assert_uint_eq(c1, 17);

	/* Leading empty lines are skipped and consumed. */
	ck_assert_int_eq(parse_once(&h, S("\r\n\n\r\nGET / HTTP/1.1\r\n\r\n"),
	    &c1), APR_SUCCESS);
	ck_assert_uint_eq(c1, 23);
	ck_assert_span(&h, h.method, "GET");
}
END_TEST

START_TEST(test_sticky_and_rebase)
{
	mps_http_head_t h;
	size_t consumed;
	char *copy;

	/* After success the same answer; a new address re-bases. */
	ck_assert_int_eq(parse_once(&h, S(curl_get), &consumed), APR_SUCCESS);
	copy = strdup(curl_get);
	ck_assert_ptr_nonnull(copy);
	ck_assert_int_eq(mps_http_head_parse(&h, copy, strlen(copy), NULL,
	    &consumed), APR_SUCCESS);
	ck_assert_uint_eq(consumed, sizeof(curl_get) - 1);
	ck_assert_ptr_eq(h.base, (const uint8_t *)copy);
	ck_assert_ptr_eq(mps_http_span_ptr(&h, h.method), copy);
	/* Fewer bytes than the head: refused. */
	ck_assert_int_eq(mps_http_head_parse(&h, copy, 10, NULL, &consumed),
	    APR_EINVAL);
	free(copy);

	/* Fewer bytes than already scanned: refused. */
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, curl_get, 40, NULL,
	    &consumed), MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_head_parse(&h, curl_get, 20, NULL,
	    &consumed), APR_EINVAL);
	ck_assert_int_eq(mps_http_head_parse(&h, NULL, 5, NULL,
	    &consumed), APR_EINVAL);

	/* Init starts over. */
	mps_http_head_init(&h);
	ck_assert_int_eq(mps_http_head_parse(&h, S(curl_connect), NULL,
	    &consumed), APR_SUCCESS);
	ck_assert_int_eq(h.is_connect, 1);
	ck_assert_uint_eq(h.nfields, 3);
}
END_TEST

/* ---- Semantics ---- */

static const struct {
	const char *head;
	int persistent;
} keepalive_rows[] = {
	{ "GET / HTTP/1.1\r\n\r\n", 1 },
	{ "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0 },
	{ "GET / HTTP/1.1\r\nConnection: Keep-Alive, CLOSE\r\n\r\n", 0 },
	{ "GET / HTTP/1.1\r\nProxy-Connection: close\r\n\r\n", 0 },
	{ "GET / HTTP/1.1\r\nConnection: keep-alive\r\n"
	  "Proxy-Connection: close\r\n\r\n", 0 },
	{ "GET / HTTP/1.1\r\nConnection: x\r\nConnection: close\r\n\r\n", 0 },
	{ "GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", 1 },
	{ "GET / HTTP/1.0\r\n\r\n", 0 },
	{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1 },
	{ "GET / HTTP/1.0\r\nProxy-Connection: Keep-Alive\r\n\r\n", 1 },
	{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0 },
	{ "GET / HTTP/1.0\r\nConnection: ,,\r\n\r\n", 0 },
};

START_TEST(test_keepalive)
{
	size_t i;

	for (i = 0; i < sizeof(keepalive_rows) / sizeof(keepalive_rows[0]);
	    i++) {
		mps_http_head_t h;

		parse_ok(&h, keepalive_rows[i].head);
		ck_assert_msg(h.persistent == keepalive_rows[i].persistent,
		    "row %zu: %s", i, keepalive_rows[i].head);
	}
}
END_TEST

START_TEST(test_fields_extracted)
{
	mps_http_head_t h;

	parse_ok(&h, "POST / HTTP/1.1\r\n"
	    "Content-Length: 7\r\nContent-Length: 7\r\n"
	    "Content-Length: 0007 , 7\r\n\r\n");
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 7);

	parse_ok(&h, "POST / HTTP/1.1\r\n"
	    "Content-Length: 9223372036854775807\r\n\r\n");
	ck_assert_uint_eq(h.content_length, 9223372036854775807ULL);

	parse_ok(&h, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_LENGTH);
	ck_assert_uint_eq(h.content_length, 0);

	parse_ok(&h, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
	    "transfer-encoding: ,CHUNKED \r\n\r\n");
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_CHUNKED);

	parse_ok(&h, "CONNECT dev:443 HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
	ck_assert_int_eq(h.body, MPS_HTTP_BODY_NONE);

	parse_ok(&h, "GET / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n");
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_CONTINUE);
	parse_ok(&h, "GET / HTTP/1.1\r\nExpect: 100-continue, x=y\r\n\r\n");
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_OTHER);
	parse_ok(&h, "GET / HTTP/1.1\r\nExpect: x\r\n"
	    "Expect: 100-continue\r\n\r\n");
	ck_assert_int_eq(h.expect, MPS_HTTP_EXPECT_OTHER);

	parse_ok(&h, "GET / HTTP/1.1\r\nHost:\r\nupgrade: h2c\r\n"
	    "connection: UPGRADE\r\n\r\n");
	ck_assert_int_eq(h.host_field, 0);
	ck_assert_int_eq(h.upgrade, 1);
	ck_assert_uint_eq(h.conn, MPS_HTTP_CONN_UPGRADE);
	ck_assert_int_eq(h.fields[1].id, MPS_HTTP_F_UPGRADE);
	ck_assert_int_eq(h.fields[2].id, MPS_HTTP_F_CONNECTION);
	ck_assert_int_eq(mps_http_head_connection_lists(&h, S("Upgrade")), 1);

	/* Known names are recognised in any case, unknown ones are not. */
	parse_ok(&h, "GET / HTTP/1.1\r\nKEEP-ALIVE: 1\r\nte: trailers\r\n"
	    "TRAILER: x\r\nProxy-Authenticate: x\r\nVIA: 1.0 a\r\n"
	    "Hosts: x\r\n\r\n");
	ck_assert_int_eq(h.fields[0].id, MPS_HTTP_F_KEEP_ALIVE);
	ck_assert_int_eq(h.fields[1].id, MPS_HTTP_F_TE);
	ck_assert_int_eq(h.fields[2].id, MPS_HTTP_F_TRAILER);
	ck_assert_int_eq(h.fields[3].id, MPS_HTTP_F_PROXY_AUTHENTICATE);
	ck_assert_int_eq(h.fields[4].id, MPS_HTTP_F_VIA);
	ck_assert_int_eq(h.fields[5].id, MPS_HTTP_F_OTHER);
	ck_assert_int_eq(h.host_field, -1);
}
END_TEST

/* ---- Basic credentials ---- */

START_TEST(test_basic_decode)
{
	char out[64];
	const char *u, *p;
	size_t i;

	ck_assert_int_eq(mps_http_basic_decode(S("dXNlcjpwYXNz"), out,
	    sizeof(out), &u, &p), APR_SUCCESS);
	ck_assert_str_eq(u, "user");
	ck_assert_str_eq(p, "pass");
	ck_assert_ptr_eq(u, out);

	/* The password may hold ':' and may be empty; UTF-8 is fine. */
	ck_assert_int_eq(mps_http_basic_decode(S("dTpwOnE="), out,
	    sizeof(out), &u, &p), APR_SUCCESS);
	ck_assert_str_eq(u, "u");
	ck_assert_str_eq(p, "p:q");
	ck_assert_int_eq(mps_http_basic_decode(S("dTo="), out, sizeof(out),
	    &u, &p), APR_SUCCESS);
	ck_assert_str_eq(u, "u");
	ck_assert_str_eq(p, "");
	ck_assert_int_eq(mps_http_basic_decode(
	    S("w6lsw6h2ZTptb3QgZGUgcGFzc2U="), out, sizeof(out), &u, &p),
	    APR_SUCCESS);
	ck_assert_str_eq(u, "\xc3\xa9l\xc3\xa8ve");
	ck_assert_str_eq(p, "mot de passe");
	ck_assert_int_eq(mps_http_basic_decode(S("YWRtaW46UEBzc3cwcmQh"), out,
	    sizeof(out), &u, &p), APR_SUCCESS);
	ck_assert_str_eq(u, "admin");
	ck_assert_str_eq(p, "P@ssw0rd!");

	/* Refusals: each wipes out and NULLs both pointers. */
	{
		static const struct {
			const char *in;
			apr_status_t rv;
		} bad[] = {
			{ "dXNlcg==", MPS_ERR_MALFORMED },	/* no colon */
			{ "OnBhc3M=", MPS_ERR_MALFORMED },	/* empty user */
			{ "dQo6cA==", MPS_ERR_MALFORMED },	/* LF in user */
			{ "dTpwfw==", MPS_ERR_MALFORMED },	/* DEL */
			{ "", MPS_ERR_MALFORMED },
			{ "dXNlcjpwYXN", MPS_ERR_MALFORMED },	/* no pad */
			{ "dTo", MPS_ERR_MALFORMED },
			{ "dTo==", MPS_ERR_MALFORMED },
			{ "dT=o", MPS_ERR_MALFORMED },	/* pad inside */
			{ "d===", MPS_ERR_MALFORMED },
			{ "====", MPS_ERR_MALFORMED },
			{ "dTo=dTo=", MPS_ERR_MALFORMED },	/* pad mid-way */
			{ "dTp=", MPS_ERR_MALFORMED },	/* pad bits set */
			{ "dXNlch==", MPS_ERR_MALFORMED },	/* pad bits set */
			{ "dXNl cjpw", MPS_ERR_MALFORMED },
			{ "dXNlcjpwYXNz\n", MPS_ERR_MALFORMED },
			{ "dXNl-jpw", MPS_ERR_MALFORMED },	/* base64url */
			{ "dXNl_jpw", MPS_ERR_MALFORMED },
		};

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(out, 'z', sizeof(out));
			u = p = "x";
			ck_assert_msg(mps_http_basic_decode(bad[i].in,
			    strlen(bad[i].in), out, sizeof(out), &u, &p) ==
			    bad[i].rv, "\"%s\"", bad[i].in);
			ck_assert_ptr_null(u);
			ck_assert_ptr_null(p);
			ck_assert_msg(out[0] == 0 &&
			    memcmp(out, out + 1, sizeof(out) - 1) == 0,
			    "\"%s\": out not wiped", bad[i].in);
		}
	}

	/* "user:pass" is 9 bytes: it needs 10 with the NUL. */
	ck_assert_int_eq(mps_http_basic_decode(S("dXNlcjpwYXNz"), out, 10,
	    &u, &p), APR_SUCCESS);
	ck_assert_int_eq(mps_http_basic_decode(S("dXNlcjpwYXNz"), out, 9,
	    &u, &p), MPS_ERR_TOO_LARGE);
	ck_assert_ptr_null(u);
	ck_assert_int_eq(mps_http_basic_decode(S("dTo="), out, 3, &u, &p),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_http_basic_decode(S("dTo="), out, 2, &u, &p),
	    MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_http_basic_decode(S("dTo="), out, 0, &u, &p),
	    MPS_ERR_TOO_LARGE);
}
END_TEST

/* ---- Responses ---- */

static void
check_response(unsigned code, const char *want)
{
	mps_buf_t out;

	mps_buf_init(&out, 4096);
	ck_assert_int_eq(mps_http_write_error(&out, code), APR_SUCCESS);
	ck_assert_msg(mps_buf_len(&out) == strlen(want) &&
	    memcmp(mps_buf_ptr(&out), want, strlen(want)) == 0,
	    "%u:\n%.*s", code, (int)mps_buf_len(&out),
	    (const char *)mps_buf_ptr(&out));
	mps_buf_free(&out);
}

START_TEST(test_responses)
{
	mps_buf_t out;
	size_t cap, full;

	check_response(400, "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 16\r\n"
	    "Connection: close\r\n\r\n400 Bad Request\n");
	check_response(403, "HTTP/1.1 403 Forbidden\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 14\r\n"
	    "Connection: close\r\n\r\n403 Forbidden\n");
	check_response(407, "HTTP/1.1 407 Proxy Authentication Required\r\n"
	    "Proxy-Authenticate: Basic realm=\"mpsd\"\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 34\r\n"
	    "Connection: close\r\n\r\n407 Proxy Authentication Required\n");
	check_response(502, "HTTP/1.1 502 Bad Gateway\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 16\r\n"
	    "Connection: close\r\n\r\n502 Bad Gateway\n");
	check_response(504, "HTTP/1.1 504 Gateway Timeout\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 20\r\n"
	    "Connection: close\r\n\r\n504 Gateway Timeout\n");
	check_response(505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 31\r\n"
	    "Connection: close\r\n\r\n505 HTTP Version Not Supported\n");
	check_response(431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 36\r\n"
	    "Connection: close\r\n\r\n431 Request Header Fields Too Large\n");

	ck_assert_str_eq(mps_http_reason(414), "URI Too Long");
	ck_assert_ptr_null(mps_http_reason(200));
	ck_assert_ptr_null(mps_http_reason(999));

	mps_buf_init(&out, 4096);
	ck_assert_int_eq(mps_http_write_error(&out, 200), APR_EINVAL);
	ck_assert_int_eq(mps_http_write_error(&out, 0), APR_EINVAL);
	ck_assert_uint_eq(mps_buf_len(&out), 0);
	ck_assert_int_eq(mps_http_write_connect_ok(&out), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&out), 39);
	ck_assert_int_eq(memcmp(mps_buf_ptr(&out),
	    "HTTP/1.1 200 Connection established\r\n\r\n", 39), 0);
	mps_buf_free(&out);

	/* All or nothing. */
	mps_buf_init(&out, 4096);
	ck_assert_int_eq(mps_http_write_error(&out, 407), APR_SUCCESS);
	full = mps_buf_len(&out);
	mps_buf_free(&out);
	for (cap = 0; cap < full; cap++) {
		mps_buf_init(&out, cap);
		REQUIRE(mps_http_write_error(&out, 407) == MPS_ERR_TOO_LARGE &&
		    mps_buf_len(&out) == 0, "cap %zu", cap);
		mps_buf_free(&out);
	}
	mps_buf_init(&out, 38);
	ck_assert_int_eq(mps_http_write_connect_ok(&out), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&out), 0);
	mps_buf_free(&out);
}
END_TEST

/* ---- Chunked bodies ---- */

/* Each good body, complete (the last entry is a prefix test). */
static const char *const complete_bodies[] = {
	"0\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"A\r\n0123456789\r\na\r\n0123456789\r\n000\r\n\r\n",
	"0005;name=value\r\nhello\r\n0;last\r\n\r\n",
	"5 ; a = b ;c;d=\"q \\\" ;\"\r\nhello\r\n0\r\n\r\n",
	"5;a=\"\"\r\nhello\r\n0\r\n\r\n",
	"5;a=\"\xe9\"\r\nhello\r\n0 ;x\r\n\r\n",
	"3\r\n\r\n\n\r\n0\r\nX-Sum: abc\r\nX-Other:\r\n\r\n",
	"2\r\nok\r\n0\r\nX-Sum: caf\xc3\xa9 \t x\r\n\r\n",
	"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
};
#define NBODIES (sizeof(complete_bodies) / sizeof(complete_bodies[0]))

/* Feeds body + "NEXT" in the given pieces; checks the verdict. */
static void
check_body_pieces(const char *body, const size_t *cuts, size_t ncuts)
{
	char wire[512];
	size_t blen = strlen(body), wlen, prev = 0, k, used, total = 0;
	mps_http_chunked_t c;
	apr_status_t rv = MPS_NEED_MORE;

	REQUIRE(blen + 5 < sizeof(wire), "body too long");
	memcpy(wire, body, blen);
	memcpy(wire + blen, "NEXT", 4);
	wlen = blen + 4;
	mps_http_chunked_init(&c, 0, 0);
	for (k = 0; k < ncuts && rv == MPS_NEED_MORE; k++) {
		REQUIRE(cuts[k] >= prev && cuts[k] <= wlen, "bad cut");
		rv = mps_http_chunked_feed(&c, wire + prev, cuts[k] - prev,
		    &used);
		total += used;
		if (rv == MPS_NEED_MORE)
			REQUIRE(used == cuts[k] - prev, "NEED_MORE used %zu",
			    used);
		prev = cuts[k];
	}
	REQUIRE(rv == APR_SUCCESS, "body \"%s\": rv %d (%s) after %zu",
	    body, rv, c.why ? c.why : "-", total);
	REQUIRE(total == blen, "body \"%s\": used %zu of %zu", body, total,
	    blen);
	REQUIRE(c.total == blen, "total %llu", (unsigned long long)c.total);
	/* Done is done. */
	REQUIRE(mps_http_chunked_feed(&c, "x", 1, &used) == APR_SUCCESS &&
	    used == 0, "after the end");
}

START_TEST(test_chunked_good)
{
	size_t i, a, b, round, cuts[600];

	rng_seed(0x43484e4b);
	for (i = 0; i < NBODIES; i++) {
		const char *body = complete_bodies[i];
		size_t wlen = strlen(body) + 4;

		/* Whole. */
		cuts[0] = wlen;
		check_body_pieces(body, cuts, 1);
		/* Every split in two, every split in three. */
		for (a = 0; a <= wlen; a++) {
			cuts[0] = a;
			cuts[1] = wlen;
			check_body_pieces(body, cuts, 2);
			for (b = a; b <= wlen; b += 3) {
				cuts[0] = a;
				cuts[1] = b;
				cuts[2] = wlen;
				check_body_pieces(body, cuts, 3);
			}
		}
		/* Byte at a time. */
		for (a = 0; a < wlen; a++)
			cuts[a] = a + 1;
		check_body_pieces(body, cuts, wlen);
		/* Random pieces. */
		for (round = 0; round < 100; round++) {
			size_t n = 0, at = 0;

			while (at < wlen && n < 590) {
				at += rng() % 7;
				if (at > wlen)
					at = wlen;
				cuts[n++] = at;
			}
			cuts[n++] = wlen;
			check_body_pieces(body, cuts, n);
		}
	}
}
END_TEST

START_TEST(test_chunked_large)
{
	/* A big chunk passes in one step; the maximum size is accepted. */
	static uint8_t data[70000];
	mps_http_chunked_t c;
	size_t used;

	memset(data, 'x', sizeof(data));
	mps_http_chunked_init(&c, 0, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("10000\r\n"), &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_chunked_feed(&c, data, 65535, &used),
	    MPS_NEED_MORE);
	ck_assert_uint_eq(used, 65535);
	ck_assert_uint_eq(c.remaining, 1);
	ck_assert_int_eq(mps_http_chunked_feed(&c, data, 1, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("\r\n0\r\n\r\nGET"),
	    &used), APR_SUCCESS);
	ck_assert_uint_eq(used, 7);

	mps_http_chunked_init(&c, 0, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("7fffffffffffffff\r\n"),
	    &used), MPS_NEED_MORE);
	ck_assert_uint_eq(c.remaining, 0x7fffffffffffffffULL);
	ck_assert_int_eq(mps_http_chunked_feed(&c, data, sizeof(data), &used),
	    MPS_NEED_MORE);
	ck_assert_uint_eq(used, sizeof(data));
	ck_assert_uint_eq(c.remaining, 0x7fffffffffffffffULL - sizeof(data));
	ck_assert_int_eq(mps_http_chunked_feed(&c, NULL, 0, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_chunked_feed(&c, NULL, 1, &used),
	    APR_EINVAL);
}
END_TEST

static const struct {
	const char *why;
	const char *body;
	apr_status_t rv;
	size_t at;		/* offset of the offending byte */
} bad_bodies[] = {
	{ "empty size", "\r\n", MPS_ERR_MALFORMED, 0 },
	{ "not hex", "g\r\n", MPS_ERR_MALFORMED, 0 },
	{ "hex then junk", "5g\r\n", MPS_ERR_MALFORMED, 1 },
	{ "negative", "-1\r\n", MPS_ERR_MALFORMED, 0 },
	{ "0x prefix", "0x5\r\n", MPS_ERR_MALFORMED, 1 },
	{ "overflow", "8000000000000000\r\n", MPS_ERR_MALFORMED, 15 },
	{ "overflow long", "10000000000000000\r\n", MPS_ERR_MALFORMED, 16 },
	{ "bare LF size", "5\nhello\r\n0\r\n\r\n", MPS_ERR_MALFORMED, 1 },
	{ "CR without LF", "5\rhello", MPS_ERR_MALFORMED, 2 },
	{ "data without CRLF", "5\r\nhelloX", MPS_ERR_MALFORMED, 8 },
	{ "data then LF", "5\r\nhello\n", MPS_ERR_MALFORMED, 8 },
	{ "data then CR X", "5\r\nhello\rX", MPS_ERR_MALFORMED, 9 },
	{ "space then CRLF", "5 \r\n", MPS_ERR_MALFORMED, 2 },
	{ "leading space", " 5\r\n", MPS_ERR_MALFORMED, 0 },
	{ "empty extension", "5;\r\n", MPS_ERR_MALFORMED, 2 },
	{ "extension no name", "5;=x\r\n", MPS_ERR_MALFORMED, 2 },
	{ "extension no value", "5;a=\r\n", MPS_ERR_MALFORMED, 4 },
	{ "extension bad value", "5;a=b@\r\n", MPS_ERR_MALFORMED, 5 },
	{ "extension value ws CRLF", "5;a=b \r\n", MPS_ERR_MALFORMED, 6 },
	{ "extension '=' after value ws", "5;a=b =c\r\n", MPS_ERR_MALFORMED,
	  6 },
	{ "extension name ws CRLF", "5;a \r\n", MPS_ERR_MALFORMED, 4 },
	{ "extension quoted CR", "5;a=\"x\r\n", MPS_ERR_MALFORMED, 6 },
	{ "extension quoted ctl", "5;a=\"\x01\"\r\n", MPS_ERR_MALFORMED, 5 },
	{ "extension escaped ctl", "5;a=\"\\\x01\"\r\n", MPS_ERR_MALFORMED,
	  6 },
	{ "extension after quote", "5;a=\"x\"y\r\n", MPS_ERR_MALFORMED, 7 },
	{ "extension LF", "5;a\n", MPS_ERR_MALFORMED, 3 },
	{ "last chunk bare LF", "0\r\n\n", MPS_ERR_MALFORMED, 3 },
	{ "trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", MPS_ERR_MALFORMED,
	  9 },
	{ "trailer no colon", "0\r\nAb\r\n\r\n", MPS_ERR_MALFORMED, 5 },
	{ "trailer space name", "0\r\nA b: c\r\n\r\n", MPS_ERR_MALFORMED, 4 },
	{ "trailer ctl", "0\r\nA: \x01\r\n\r\n", MPS_ERR_MALFORMED, 6 },
	{ "trailer bare LF", "0\r\nA: b\n\r\n", MPS_ERR_MALFORMED, 7 },
	{ "trailer CR X", "0\r\nA: b\rX", MPS_ERR_MALFORMED, 8 },
	{ "end CR X", "0\r\n\rX", MPS_ERR_MALFORMED, 4 },
};

START_TEST(test_chunked_bad)
{
	size_t i, k;

	for (i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		const char *body = bad_bodies[i].body;
		size_t len = strlen(body), used, total;
		mps_http_chunked_t c;
		apr_status_t rv;

		mps_http_chunked_init(&c, 0, 0);
		rv = mps_http_chunked_feed(&c, body, len, &used);
		ck_assert_msg(rv == bad_bodies[i].rv, "%s: rv %d",
		    bad_bodies[i].why, rv);
		ck_assert_msg(used == bad_bodies[i].at, "%s: at %zu",
		    bad_bodies[i].why, used);
		ck_assert_ptr_nonnull(c.why);
		/* Sticky. */
		ck_assert_int_eq(mps_http_chunked_feed(&c, "0\r\n\r\n", 5,
		    &used), bad_bodies[i].rv);
		ck_assert_uint_eq(used, 0);

		/* Byte at a time: the same byte is refused. */
		mps_http_chunked_init(&c, 0, 0);
		total = 0;
		for (k = 0; k < len; k++) {
			rv = mps_http_chunked_feed(&c, body + k, 1, &used);
			total += used;
			if (rv != MPS_NEED_MORE)
				break;
		}
		ck_assert_msg(rv == bad_bodies[i].rv && total ==
		    bad_bodies[i].at, "%s: bytewise rv %d at %zu",
		    bad_bodies[i].why, rv, total);
	}
}
END_TEST

START_TEST(test_chunked_caps)
{
	mps_http_chunked_t c;
	size_t used;

	/* The size line: "5;" + 14 = 16 bytes pass a cap of 16, 17 not. */
	mps_http_chunked_init(&c, 16, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("5;abcdefghijklmn\r\n"
	    "hello\r\n0\r\n\r\n"), &used), APR_SUCCESS);
	mps_http_chunked_init(&c, 16, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("5;abcdefghijklmno"),
	    &used), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(used, 16);
	/* Leading zeros count too; the cap is per line. */
	mps_http_chunked_init(&c, 4, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("0001\r\nx\r\n0001\r\n"
	    "y\r\n0\r\n\r\n"), &used), APR_SUCCESS);
	mps_http_chunked_init(&c, 4, 0);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("00001\r\n"), &used),
	    MPS_ERR_TOO_LARGE);
	/* The default cap bounds endless extensions. */
	{
		static char ext[MPS_HTTP_CHUNK_DEFAULT_MAX_LINE + 8];

		memset(ext, 'a', sizeof(ext));
		memcpy(ext, "1;", 2);
		mps_http_chunked_init(&c, 0, 0);
		ck_assert_int_eq(mps_http_chunked_feed(&c, ext, sizeof(ext),
		    &used), MPS_ERR_TOO_LARGE);
		ck_assert_uint_eq(used, MPS_HTTP_CHUNK_DEFAULT_MAX_LINE);
	}

	/* Trailers: "A: b\r\n" + "\r\n" = 8 bytes. */
	mps_http_chunked_init(&c, 0, 8);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("0\r\nA: b\r\n\r\n"),
	    &used), APR_SUCCESS);
	mps_http_chunked_init(&c, 0, 7);
	ck_assert_int_eq(mps_http_chunked_feed(&c, S("0\r\nA: b\r\n\r\n"),
	    &used), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(used, 10);
}
END_TEST

/* ---- Mutations ---- */

/*
 * Checks one input: one-shot and byte-at-a-time parsing agree, the
 * result is one of the documented ones, spans stay inside the head, and
 * an accepted absolute http head rewrites to a head that parses again to
 * the same request.
 */
static void
check_mutant(const uint8_t *p, size_t len, const char *what, size_t pos)
{
	char a[8192], b[8192];
	mps_http_head_t h, h2, h3;
	size_t consumed, c2, i;
	apr_status_t rv, rv2;
	uint8_t *copy;

	rv = parse_once(&h, p, len, &consumed);
	REQUIRE(rv == APR_SUCCESS || rv == MPS_NEED_MORE ||
	    rv == MPS_ERR_MALFORMED || rv == MPS_ERR_TOO_LARGE ||
	    rv == MPS_ERR_PROTOCOL, "%s@%zu: rv %d", what, pos, rv);
	summarize(&h, rv, consumed, a, sizeof(a));
	rv2 = parse_bytewise(&h2, p, len, &c2, &copy);
	summarize(&h2, rv2, c2, b, sizeof(b));
	free(copy);
	REQUIRE(strcmp(a, b) == 0, "%s@%zu:\n%s\n%s", what, pos, a, b);
	if (rv != APR_SUCCESS) {
		REQUIRE(consumed == 0, "%s@%zu: consumed", what, pos);
		if (rv != MPS_NEED_MORE)
			REQUIRE(h.why != NULL && h.reply_status >= 400,
			    "%s@%zu: no reason", what, pos);
		return;
	}
	REQUIRE(consumed <= len && consumed == h.head_len, "%s@%zu", what, pos);
	REQUIRE(h.nfields <= MPS_HTTP_DEFAULT_MAX_FIELDS, "%s@%zu", what, pos);
	for (i = 0; i < h.nfields; i++) {
		const mps_http_field_t *f = &h.fields[i];

		REQUIRE((size_t)f->name.off + f->name.len <= consumed &&
		    (size_t)f->value.off + f->value.len <= consumed,
		    "%s@%zu: field %zu outside", what, pos, i);
	}
	REQUIRE((size_t)h.target.off + h.target.len <= consumed &&
	    (size_t)h.host.off + h.host.len <= consumed &&
	    (size_t)h.path.off + h.path.len <= consumed &&
	    (size_t)h.credentials.off + h.credentials.len <= consumed,
	    "%s@%zu: span outside", what, pos);
	if (h.form == MPS_HTTP_FORM_ABSOLUTE &&
	    h.scheme == MPS_HTTP_SCHEME_HTTP) {
		mps_buf_t out;
		size_t c3;

		mps_buf_init(&out, 65536);
		REQUIRE(mps_http_head_write_origin(&h,
		    MPS_HTTP_WRITE_KEEP_UPGRADE, &out) == APR_SUCCESS,
		    "%s@%zu: rewrite", what, pos);
		rv = parse_once(&h3, mps_buf_ptr(&out), mps_buf_len(&out),
		    &c3);
		REQUIRE(rv == APR_SUCCESS && c3 == mps_buf_len(&out),
		    "%s@%zu: rewritten head refused (%s):\n%.*s", what, pos,
		    h3.why ? h3.why : "-", (int)mps_buf_len(&out),
		    (const char *)mps_buf_ptr(&out));
		REQUIRE(h3.form == MPS_HTTP_FORM_ORIGIN &&
		    h3.body == h.body && h3.content_length == h.content_length,
		    "%s@%zu: rewrite changed the request", what, pos);
		mps_buf_free(&out);
	}
}

START_TEST(test_mutations)
{
	static const uint8_t values[] = {
		0x00, '\r', '\n', ' ', '\t', ':', ',', ';', '/', '@', '[',
		']', '%', '#', '?', '=', '0', '9', 'a', 0x7f, 0x80, 0xff
	};
	uint8_t buf[1024];
	size_t i, pos, bit, v;

	for (i = 0; i < NVALID; i++) {
		const char *text = valid_heads[i].text;
		size_t len = strlen(text);

		ck_assert_uint_lt(len, sizeof(buf));
		for (pos = 0; pos < len; pos++) {
			for (bit = 0; bit < 8; bit++) {
				memcpy(buf, text, len);
				buf[pos] ^= (uint8_t)(1u << bit);
				check_mutant(buf, len, valid_heads[i].name,
				    pos);
			}
			for (v = 0; v < sizeof(values); v++) {
				memcpy(buf, text, len);
				buf[pos] = values[v];
				check_mutant(buf, len, valid_heads[i].name,
				    pos);
			}
			/* Deleted and doubled bytes. */
			memcpy(buf, text, pos);
			memcpy(buf + pos, text + pos + 1, len - pos - 1);
			check_mutant(buf, len - 1, valid_heads[i].name, pos);
			memcpy(buf, text, pos + 1);
			memcpy(buf + pos + 1, text + pos, len - pos);
			check_mutant(buf, len + 1, valid_heads[i].name, pos);
		}
	}
}
END_TEST

START_TEST(test_chunked_mutations)
{
	uint8_t buf[512];
	size_t i, pos, bit;

	for (i = 0; i < NBODIES; i++) {
		const char *body = complete_bodies[i];
		size_t len = strlen(body);

		for (pos = 0; pos < len; pos++) {
			for (bit = 0; bit < 9; bit++) {
				mps_http_chunked_t c, c2;
				size_t used, used2 = 0, k, u;
				apr_status_t rv, rv2 = MPS_NEED_MORE;

				memcpy(buf, body, len);
				buf[pos] = bit < 8 ?
				    (uint8_t)(buf[pos] ^ (1u << bit)) : '\n';
				mps_http_chunked_init(&c, 0, 0);
				rv = mps_http_chunked_feed(&c, buf, len, &used);
				REQUIRE(used <= len, "used");
				REQUIRE(rv == APR_SUCCESS ||
				    rv == MPS_NEED_MORE ||
				    rv == MPS_ERR_MALFORMED ||
				    rv == MPS_ERR_TOO_LARGE, "rv %d", rv);
				mps_http_chunked_init(&c2, 0, 0);
				for (k = 0; k < len && rv2 == MPS_NEED_MORE;
				    k++) {
					rv2 = mps_http_chunked_feed(&c2,
					    buf + k, 1, &u);
					used2 += u;
				}
				REQUIRE(rv == rv2 && used == used2,
				    "body %zu@%zu bit %zu: %d/%zu vs %d/%zu",
				    i, pos, bit, rv, used, rv2, used2);
			}
		}
	}
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("http_head");
	TCase *tc = tcase_create("head");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_curl_get);
	tcase_add_test(tc, test_curl_connect);
	tcase_add_test(tc, test_curl_auth);
	tcase_add_test(tc, test_curl_post_length);
	tcase_add_test(tc, test_curl_post_chunked);
	tcase_add_test(tc, test_apache_connect);
	tcase_add_test(tc, test_apache_get);
	tcase_add_test(tc, test_origin_rewrite);
	tcase_add_test(tc, test_origin_rewrite_all_or_nothing);
	tcase_add_test(tc, test_forms);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_refusal_reasons);
	tcase_add_test(tc, test_early_refusal);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_split_feeding);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_line_ends);
	tcase_add_test(tc, test_sticky_and_rebase);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_fields_extracted);
	tcase_add_test(tc, test_basic_decode);
	tcase_add_test(tc, test_responses);
	suite_add_tcase(s, tc);

	tc = tcase_create("chunked");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_chunked_good);
	tcase_add_test(tc, test_chunked_large);
	tcase_add_test(tc, test_chunked_bad);
	tcase_add_test(tc, test_chunked_caps);
	suite_add_tcase(s, tc);

	tc = tcase_create("mutations");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mutations);
	tcase_add_test(tc, test_chunked_mutations);
	suite_add_tcase(s, tc);
	return s;
}
