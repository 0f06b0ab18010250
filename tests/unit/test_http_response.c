/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http_response.c: the HTTP proxy's streaming response framer
 * (server/http_response.c).
 *
 * The responses below are hand-written, not captured: the usual shapes
 * (sized, chunked with extensions and trailers, close-delimited, HEAD,
 * 204, 304, 1xx before the final response, 101) and the habits of
 * embedded web servers such as AMT firmware's (an empty reason phrase,
 * no SP after the status code, bare LF line ends, Digest 401s with
 * Connection: close).
 *
 * Every valid stream is fed whole, split in two at every byte, one byte
 * at a time (with empty feeds in between) and in random pieces, and all
 * feedings must find the same boundaries and results; a prefix of a
 * response is never an error nor an end. Every refusal has a row with
 * its status, reason and the offset where the framer stops. A
 * deterministic mutation loop checks that no input makes the framer
 * misbehave (used <= len, NEED_MORE takes every byte, errors sticky) and
 * that the slicing never changes its verdict.
 */
#include "unit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "http_response.h"
#include "mps_status.h"

#define T(lit)	(lit), (sizeof(lit) - 1)

/* ---- The stream runner ---- */

#define MAXR	16

/* What one response came to. */
struct summary {
	apr_status_t rv;	/* APR_SUCCESS, MPS_NEED_MORE or an error */
	apr_status_t eof;	/* mps_http_resp_eof() on an unfinished one */
	size_t end;		/* stream offset after it (or of the error) */
	unsigned status;
	int version;
	int head_done;
	mps_http_resp_body_t body;
	uint64_t content_length;
	int close;
	int until_close;
	int upgraded;
	unsigned interim;
	uint64_t total;
	const char *why;
};

struct run {
	size_t n;
	struct summary r[MAXR];
	size_t raw;		/* bytes after a 101, relayed unframed */
};

struct stream {
	const uint8_t *data;
	size_t len;
	const int *heads;	/* per response: the request was HEAD */
	size_t nheads;
	const mps_http_limits_t *lim;
};

static void
record(struct run *out, const mps_http_resp_t *r, apr_status_t rv,
    size_t end)
{
	struct summary *s;

	REQUIRE(out->n < MAXR, "too many responses");
	s = &out->r[out->n++];
	memset(s, 0, sizeof(*s));
	s->rv = rv;
	s->eof = APR_SUCCESS;
	s->end = end;
	s->status = r->status;
	s->version = r->version;
	s->head_done = r->head_done;
	s->body = r->body;
	s->content_length = r->content_length;
	s->close = r->close;
	s->until_close = r->until_close;
	s->upgraded = r->upgraded;
	s->interim = r->interim;
	s->total = r->total;
	s->why = r->why;
}

/*
 * Feeds s->data in slices ending at cuts[0 .. ncuts) (non-decreasing, the
 * last one s->len; equal cuts make empty feeds), starting a new framer
 * for each response, as the proxy does, and stopping at an error or a
 * 101. Checks the contract on every call.
 */
static void
run_cuts(const struct stream *s, const size_t *cuts, size_t ncuts,
    struct run *out)
{
	mps_http_resp_t r;
	size_t off = 0, ci, used, end;
	int active = 0, stop = 0;
	apr_status_t rv = MPS_NEED_MORE;

	memset(out, 0, sizeof(*out));
	for (ci = 0; ci < ncuts && !stop; ci++) {
		end = cuts[ci];
		REQUIRE(end >= off && end <= s->len, "bad cuts");
		for (;;) {
			if (!active) {
				if (off == end)
					break;
				mps_http_resp_init(&r, out->n < s->nheads ?
				    s->heads[out->n] : 0, s->lim);
				active = 1;
			}
			used = (size_t)-1;
			rv = mps_http_resp_feed(&r, s->data + off, end - off,
			    &used);
			REQUIRE(used <= end - off, "used %zu > len %zu", used,
			    end - off);
			if (rv == MPS_NEED_MORE) {
				REQUIRE(used == end - off,
				    "NEED_MORE left bytes");
				off = end;
				break;
			}
			off += used;
			record(out, &r, rv, off);
			active = 0;
			/* Sticky: the same answer, no bytes taken. */
			used = (size_t)-1;
			REQUIRE(mps_http_resp_feed(&r, s->data + off,
			    s->len - off, &used) == rv && used == 0,
			    "result not sticky");
			if (rv != APR_SUCCESS) {
				REQUIRE(r.why != NULL, "error without a reason");
				stop = 1;
				break;
			}
			if (r.upgraded) {
				out->raw = s->len - off;
				stop = 1;
				break;
			}
		}
	}
	if (active) {
		record(out, &r, rv, off);
		out->r[out->n - 1].eof = mps_http_resp_eof(&r);
		out->r[out->n - 1].why = r.why;
	}
}

static void
run_whole(const struct stream *s, struct run *out)
{
	size_t cut = s->len;

	run_cuts(s, &cut, 1, out);
}

static int
same_summary(const struct summary *a, const struct summary *b)
{
	return a->rv == b->rv && a->eof == b->eof && a->end == b->end &&
	    a->status == b->status && a->version == b->version &&
	    a->head_done == b->head_done && a->body == b->body &&
	    a->content_length == b->content_length && a->close == b->close &&
	    a->until_close == b->until_close && a->upgraded == b->upgraded &&
	    a->interim == b->interim && a->total == b->total &&
	    a->why == b->why;
}

static void
require_same(const struct run *a, const struct run *b, const char *what,
    size_t at)
{
	size_t i;

	REQUIRE(a->n == b->n, "%s@%zu: %zu responses, then %zu", what, at,
	    a->n, b->n);
	REQUIRE(a->raw == b->raw, "%s@%zu: raw bytes differ", what, at);
	for (i = 0; i < a->n; i++) {
		REQUIRE(same_summary(&a->r[i], &b->r[i]),
		    "%s@%zu: response %zu differs (end %zu/%zu, rv %d/%d, "
		    "why %s/%s)", what, at, i, a->r[i].end, b->r[i].end,
		    a->r[i].rv, b->r[i].rv,
		    a->r[i].why ? a->r[i].why : "-",
		    b->r[i].why ? b->r[i].why : "-");
	}
}

/*
 * Feeds s every way there is and requires the same outcome as whole
 * feeding: split in two at every byte (the first piece, if it ends before
 * the first response, must leave it unfinished without an error), byte
 * at a time with an empty feed after each byte, and random pieces.
 */
static void
require_slicing_invariant(const struct stream *s, const char *what,
    struct run *whole)
{
	struct run other;
	size_t *cuts, k, n;
	int round;

	cuts = malloc((2 * s->len + 2) * sizeof(*cuts));
	REQUIRE(cuts != NULL, "out of memory");
	run_whole(s, whole);
	for (k = 0; k <= s->len; k++) {
		cuts[0] = k;
		cuts[1] = s->len;
		run_cuts(s, cuts, 2, &other);
		require_same(whole, &other, what, k);
	}
	n = 0;
	for (k = 1; k <= s->len; k++) {
		cuts[n++] = k;
		cuts[n++] = k;
	}
	run_cuts(s, cuts, n, &other);
	require_same(whole, &other, what, (size_t)-1);
	for (round = 0; round < 20; round++) {
		size_t at = 0;

		n = 0;
		while (at < s->len && n < 2 * s->len) {
			at += unit_rng() % 9;
			if (at > s->len)
				at = s->len;
			cuts[n++] = at;
		}
		cuts[n++] = s->len;
		run_cuts(s, cuts, n, &other);
		require_same(whole, &other, what, (size_t)round);
	}
	free(cuts);
}

/* Every proper prefix of a response: unfinished, no error, all taken. */
static void
require_prefixes_unfinished(const uint8_t *data, size_t end, int head,
    const mps_http_limits_t *lim, const char *what)
{
	mps_http_resp_t r;
	size_t k, used;
	apr_status_t rv;

	for (k = 0; k < end; k++) {
		mps_http_resp_init(&r, head, lim);
		rv = mps_http_resp_feed(&r, data, k, &used);
		REQUIRE(rv == MPS_NEED_MORE && used == k,
		    "%s: prefix of %zu bytes gave %d (%s)", what, k, rv,
		    r.why ? r.why : "-");
	}
}

/* ---- Valid responses ---- */

struct vcase {
	const char *name;
	const char *text;
	size_t len;
	int head;		/* the request was HEAD */
	apr_status_t rv;	/* APR_SUCCESS, or MPS_NEED_MORE (close) */
	size_t end;		/* bytes of the response; 0: all */
	unsigned status;
	int version;
	mps_http_resp_body_t body;
	uint64_t content_length;
	int close;
	int until_close;
	int upgraded;
	unsigned interim;
};

#define BODY_NONE	MPS_HTTP_RESP_BODY_NONE
#define BODY_LENGTH	MPS_HTTP_RESP_BODY_LENGTH
#define BODY_CHUNKED	MPS_HTTP_RESP_BODY_CHUNKED
#define BODY_CLOSE	MPS_HTTP_RESP_BODY_CLOSE

static const struct vcase valid[] = {
	{ "sized", T("HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 5\r\n"
	    "\r\n"
	    "hello"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 5, 0, 0, 0, 0 },
	{ "amt-chunked", T("HTTP/1.1 200 \r\n"
	    "Date: Thu, 1 Jan 1970 00:00:00 GMT\r\n"
	    "Server: Intel(R) Active Management Technology 11.8.50.3399\r\n"
	    "X-Frame-Options: DENY\r\n"
	    "Content-Type: application/soap+xml; charset=UTF-8\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n"
	    "1A\r\n<a:Envelope>x</a:Envelope>\r\n"
	    "0\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_CHUNKED, 0, 0, 0, 0, 0 },
	{ "chunked-ext-trailers", T("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip ,\tCHUNKED\r\n"
	    "Trailer: X-Sum\r\n"
	    "\r\n"
	    "5;name=value;q=\"a \\\" b\" ; flag\r\nhello\r\n"
	    "a\r\n0123456789\r\n"
	    "0;last\r\n"
	    "X-Sum: 42\r\n"
	    "X-Other:\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_CHUNKED, 0, 0, 0, 0, 0 },
	{ "close-delimited", T("HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/html\r\n"
	    "\r\n"
	    "<html>no length, ends at the close</html>"),
	    0, MPS_NEED_MORE, 0, 200, 11, BODY_CLOSE, 0, 1, 1, 0, 0 },
	{ "close-delimited-1.0", T("HTTP/1.0 200 OK\r\n"
	    "Server: tiny\r\n"
	    "\r\n"
	    "body"),
	    0, MPS_NEED_MORE, 0, 200, 10, BODY_CLOSE, 0, 1, 1, 0, 0 },
	{ "close-delimited-empty-body", T("HTTP/1.1 500 Oops\r\n\r\n"),
	    0, MPS_NEED_MORE, 0, 500, 11, BODY_CLOSE, 0, 1, 1, 0, 0 },
	{ "head", T("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 1234\r\n"
	    "\r\n"),
	    1, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "head-chunked", T("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n"),
	    1, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "head-no-length", T("HTTP/1.1 404 Not Found\r\n\r\n"),
	    1, APR_SUCCESS, 0, 404, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "204", T("HTTP/1.1 204 No Content\r\n"
	    "Date: Thu, 1 Jan 1970 00:00:00 GMT\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 204, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "304", T("HTTP/1.1 304 Not Modified\r\n"
	    "ETag: \"abc\"\r\n"
	    "Content-Length: 99\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 304, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "304-chunked", T("HTTP/1.1 304 Not Modified\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 304, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "100-continue", T("HTTP/1.1 100 Continue\r\n"
	    "\r\n"
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n"
	    "ok"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 2, 0, 0, 0, 1 },
	{ "102-103-200", T("HTTP/1.1 102 Processing\r\n"
	    "Content-Length: 7\r\n"
	    "\r\n"
	    "HTTP/1.1 103 Early Hints\r\n"
	    "Link: </s.css>; rel=preload\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 2 },
	{ "100-head", T("HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"),
	    1, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 1 },
	{ "101", T("HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "\r\n"
	    "\x81\x05hello HTTP/1.1 200 OK\r\n\r\n"),
	    0, APR_SUCCESS, 77, 101, 11, BODY_NONE, 0, 1, 0, 1, 0 },
	{ "100-then-101", T("HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: h2c\r\n"
	    "\r\n"
	    "\x00\x00\x12\x04"),
	    0, APR_SUCCESS, 75, 101, 11, BODY_NONE, 0, 1, 0, 1, 1 },
	{ "connection-close", T("HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 3\r\n"
	    "\r\n"
	    "abc"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 3, 1, 0, 0, 0 },
	{ "connection-list", T("HTTP/1.1 200 OK\r\n"
	    "Connection: X-Hop, , Keep-Alive ,CLOSE\r\n"
	    "Content-Length: 1\r\n"
	    "\r\n"
	    "x"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 1, 1, 0, 0, 0 },
	{ "1.0-keep-alive", T("HTTP/1.0 200 OK\r\n"
	    "Connection: Keep-Alive\r\n"
	    "Content-Length: 3\r\n"
	    "\r\n"
	    "abc"),
	    0, APR_SUCCESS, 0, 200, 10, BODY_LENGTH, 3, 0, 0, 0, 0 },
	{ "1.0-sized", T("HTTP/1.0 200 OK\r\n"
	    "Content-Length: 3\r\n"
	    "\r\n"
	    "abc"),
	    0, APR_SUCCESS, 0, 200, 10, BODY_LENGTH, 3, 1, 0, 0, 0 },
	{ "lf-only", T("HTTP/1.1 200 OK\n"
	    "Content-Length: 2\n"
	    "\n"
	    "hi"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 2, 0, 0, 0, 0 },
	{ "no-reason-no-sp", T("HTTP/1.1 200\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "empty-reason", T("HTTP/1.1 404 \n"
	    "content-length:2\n"
	    "\r\n"
	    "no"),
	    0, APR_SUCCESS, 0, 404, 11, BODY_LENGTH, 2, 0, 0, 0, 0 },
	{ "te-and-cl", T("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 100\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n"
	    "3\r\nabc\r\n0\r\n\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_CHUNKED, 0, 1, 0, 0, 0 },
	{ "te-not-final-chunked", T("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n"
	    "Content-Length: 5\r\n"
	    "\r\n"
	    "3\r\nabc\r\n0\r\n\r\n"),
	    0, MPS_NEED_MORE, 0, 200, 11, BODY_CLOSE, 0, 1, 1, 0, 0 },
	{ "te-in-1.0", T("HTTP/1.0 200 OK\r\n"
	    "Connection: keep-alive\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n"
	    "0\r\n\r\n"),
	    0, MPS_NEED_MORE, 0, 200, 10, BODY_CLOSE, 0, 1, 1, 0, 0 },
	{ "te-two-fields", T("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: gzip\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n"
	    "0\r\n\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_CHUNKED, 0, 0, 0, 0, 0 },
	{ "cl-repeated", T("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 3, 3\r\n"
	    "content-length:\t003 \r\n"
	    "\r\n"
	    "abc"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 3, 0, 0, 0, 0 },
	{ "cl-zero", T("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "leading-empty-lines", T("\r\n\n"
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Length: 1\r\n"
	    "\r\n"
	    "x"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 1, 0, 0, 0, 0 },
	{ "amt-401", T("HTTP/1.1 401 Unauthorized\r\n"
	    "WWW-Authenticate: Digest realm=\"Digest:A3829B3827DE4D33D4449B"
	    "366831FD01\", nonce=\"gYi+ID4AAAAAAAAAyPzXPfvmbiMeW8UN\","
	    "stale=\"false\",qop=\"auth\"\r\n"
	    "Content-Type: text/html\r\n"
	    "Server: Intel(R) Active Management Technology 11.8.50.3399\r\n"
	    "Content-Length: 4\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "nope"),
	    0, APR_SUCCESS, 0, 401, 11, BODY_LENGTH, 4, 1, 0, 0, 0 },
	{ "obs-text", T("HTTP/1.1 200 \xc3\xa9t\xc3\xa9\t!\r\n"
	    "X-Bin: \x80\xff ~\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_NONE, 0, 0, 0, 0, 0 },
	{ "long-names", T("HTTP/1.1 200 OK\r\n"
	    "Content-Length-Extra: x y z\r\n"
	    "Transfer-Encoding-X: chunked\r\n"
	    "Connectionx: close\r\n"
	    "Content-Lengt: q\r\n"
	    "Content-Length: 1\r\n"
	    "\r\n"
	    "x"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_LENGTH, 1, 0, 0, 0, 0 },
	{ "long-tokens", T("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunkedchunked, chunked\r\n"
	    "Connection: closed, keep-alivex, close-x\r\n"
	    "\r\n"
	    "0\r\n\r\n"),
	    0, APR_SUCCESS, 0, 200, 11, BODY_CHUNKED, 0, 0, 0, 0, 0 },
};

#define NVALID	(sizeof(valid) / sizeof(valid[0]))

static void
check_valid(const struct vcase *c)
{
	struct stream s;
	struct run whole;
	const struct summary *r;
	size_t end = c->end != 0 ? c->end : c->len;

	memset(&s, 0, sizeof(s));
	s.data = (const uint8_t *)c->text;
	s.len = c->len;
	s.heads = &c->head;
	s.nheads = 1;
	require_slicing_invariant(&s, c->name, &whole);
	ck_assert_msg(whole.n == 1, "%s: %zu responses", c->name, whole.n);
	r = &whole.r[0];
	ck_assert_msg(r->rv == c->rv, "%s: rv %d (%s)", c->name, r->rv,
	    r->why ? r->why : "-");
	ck_assert_msg(r->end == end && r->total == end,
	    "%s: ends at %zu, expected %zu", c->name, r->end, end);
	ck_assert_msg(r->head_done && r->why == NULL, "%s: head", c->name);
	ck_assert_uint_eq(r->status, c->status);
	ck_assert_int_eq(r->version, c->version);
	ck_assert_int_eq(r->body, c->body);
	ck_assert_uint_eq(r->content_length, c->content_length);
	ck_assert_msg(r->close == c->close, "%s: close", c->name);
	ck_assert_msg(r->until_close == c->until_close, "%s: until_close",
	    c->name);
	ck_assert_msg(r->upgraded == c->upgraded, "%s: upgraded", c->name);
	ck_assert_uint_eq(r->interim, c->interim);
	ck_assert_uint_eq(whole.raw, c->len - end);
	/* The close ends a close-delimited body properly. */
	ck_assert_int_eq(r->eof, APR_SUCCESS);
	require_prefixes_unfinished(s.data, end, c->head, NULL, c->name);
}

START_TEST(test_valid)
{
	unit_rng_seed(0x52455350);
	check_valid(&valid[_i]);
}
END_TEST

START_TEST(test_pipelined)
{
	/* Every kind of end, back to back in one buffer, the fifth one the
	 * answer to a HEAD; the last one runs until the close. */
	static const char *const parts[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2;x=y\r\nab\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
		    "Content-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\n\nZ",
		"HTTP/1.1 200 OK\r\n\r\ntail until the close",
	};
	static const int heads[] = { 0, 0, 0, 0, 1, 0, 0, 0 };
	static const unsigned status[] = { 200, 200, 204, 304, 200, 201, 200,
	    200 };
	enum { NPARTS = sizeof(parts) / sizeof(parts[0]) };
	uint8_t buf[1024];
	size_t len = 0, ends[NPARTS], i;
	struct stream s;
	struct run whole;

	for (i = 0; i < NPARTS; i++) {
		size_t n = strlen(parts[i]);

		ck_assert_uint_le(len + n, sizeof(buf));
		memcpy(buf + len, parts[i], n);
		len += n;
		ends[i] = len;
	}
	memset(&s, 0, sizeof(s));
	s.data = buf;
	s.len = len;
	s.heads = heads;
	s.nheads = NPARTS;
	unit_rng_seed(0x50495045);
	require_slicing_invariant(&s, "pipelined", &whole);
	ck_assert_uint_eq(whole.n, NPARTS);
	for (i = 0; i < NPARTS; i++) {
		ck_assert_uint_eq(whole.r[i].end, ends[i]);
		ck_assert_uint_eq(whole.r[i].total,
		    ends[i] - (i ? ends[i - 1] : 0));
		ck_assert_uint_eq(whole.r[i].status, status[i]);
		ck_assert_int_eq(whole.r[i].rv,
		    i + 1 < NPARTS ? APR_SUCCESS : MPS_NEED_MORE);
	}
	ck_assert_uint_eq(whole.r[5].interim, 1);
	ck_assert_int_eq(whole.r[NPARTS - 1].until_close, 1);
}
END_TEST

START_TEST(test_used_splits_exactly)
{
	/* The first response's end, whatever follows it in the slice. */
	static const char two[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
	    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	mps_http_resp_t r;
	size_t used;

	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(two), &used), APR_SUCCESS);
	ck_assert_uint_eq(used, 41);
	ck_assert_uint_eq(r.total, 41);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, two + 41, sizeof(two) - 42,
	    &used), APR_SUCCESS);
	ck_assert_uint_eq(used, sizeof(two) - 42);
	ck_assert_uint_eq(r.status, 404);
	ck_assert_int_eq(r.close, 0);
}
END_TEST

/* ---- Large bodies pass in bulk ---- */

START_TEST(test_large_bodies)
{
	static const char sized_head[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n";
	static const char chunked_head[] =
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "100000\r\n";
	const size_t body = 1048576;
	uint8_t *data = malloc(body + 64);
	mps_http_resp_t r;
	size_t used, off;
	apr_status_t rv;

	ck_assert_ptr_nonnull(data);
	memset(data, 'x', body + 64);
	memcpy(data + body, "HTTP", 4);

	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(sized_head), &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(r.head_done, 1);
	ck_assert_uint_eq(r.content_length, body);
	for (off = 0; off + 4096 < body; off += 4096) {
		rv = mps_http_resp_feed(&r, data + off, 4096, &used);
		REQUIRE(rv == MPS_NEED_MORE && used == 4096, "sized body");
	}
	/* The last slice holds the end and the next response's start. */
	ck_assert_int_eq(mps_http_resp_feed(&r, data + off, body - off + 4,
	    &used), APR_SUCCESS);
	ck_assert_uint_eq(used, body - off);
	ck_assert_uint_eq(r.total, sizeof(sized_head) - 1 + body);

	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(chunked_head), &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_feed(&r, data, body, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("\r\n0\r\n\r\nHTTP"),
	    &used), APR_SUCCESS);
	ck_assert_uint_eq(used, 7);
	ck_assert_uint_eq(r.total, sizeof(chunked_head) - 1 + body + 7);

	/* Content-Length up to INT64_MAX is followed, not refused. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 9223372036854775807\r\n\r\n"), &used),
	    MPS_NEED_MORE);
	ck_assert_uint_eq(r.content_length, INT64_MAX);
	ck_assert_int_eq(mps_http_resp_feed(&r, data, body, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EOF);
	free(data);
}
END_TEST

/* ---- Refusals ---- */

struct bcase {
	const char *text;
	size_t len;
	int head;
	apr_status_t rv;
	const char *why;
	size_t off;		/* where it shows: the offending byte, or
				 * the LF of a line a rule needs whole */
};

#define OK_HEAD	"HTTP/1.1 200 OK\r\n"
#define MAL	MPS_ERR_MALFORMED

static const struct bcase bad[] = {
	/* Status line. */
	{ T("HTTP/1.1 2000 OK\r\n\r\n"), 0, MAL, "bad status code", 12 },
	{ T("HTTP/1.1 20 OK\r\n\r\n"), 0, MAL, "bad status code", 11 },
	{ T("HTTP/1.1 099 Low\r\n\r\n"), 0, MAL, "bad status code", 11 },
	{ T("HTTP/1.1 600 High\r\n\r\n"), 0, MAL, "bad status code", 11 },
	{ T("HTTP/1.1 200OK\r\n\r\n"), 0, MAL, "bad status line", 12 },
	{ T("HTTP/1.1  200 OK\r\n\r\n"), 0, MAL, "bad status code", 9 },
	{ T("HTTP/1.1\r\n\r\n"), 0, MAL, "bad status line", 8 },
	{ T("HTTP/1.1 200\r\r\n\r\n"), 0, MAL, "CR without LF", 13 },
	{ T("HTTP/2 200 OK\r\n\r\n"), 0, MAL, "unsupported HTTP version", 5 },
	{ T("HTTP/1.2 200 OK\r\n\r\n"), 0, MAL, "unsupported HTTP version",
	    7 },
	{ T("HTTP/0.9 200 OK\r\n\r\n"), 0, MAL, "unsupported HTTP version",
	    5 },
	{ T("HTTP/1.10 200 OK\r\n\r\n"), 0, MAL, "bad status line", 8 },
	{ T("http/1.1 200 OK\r\n\r\n"), 0, MAL, "bad status line", 0 },
	{ T("HTTPS/1.1 200 OK\r\n\r\n"), 0, MAL, "bad status line", 4 },
	{ T("ICY 200 OK\r\n\r\n"), 0, MAL, "bad status line", 0 },
	{ T("<html>\r\n"), 0, MAL, "bad status line", 0 },
	{ T("HTTP/1.1 200 O\x00K\r\n\r\n"), 0, MAL, "bad reason phrase", 14 },
	{ T("HTTP/1.1 200 O\x7fK\r\n\r\n"), 0, MAL, "bad reason phrase", 14 },
	{ T(" HTTP/1.1 200 OK\r\n\r\n"), 0, MAL, "bad status line", 0 },
	{ T("\r\r\nHTTP/1.1 200 OK\r\n\r\n"), 0, MAL, "CR without LF", 1 },
	/* Field lines. */
	{ T(OK_HEAD "X: a\r\n b\r\n\r\n"), 0, MAL,
	    "obs-fold (a folded field line)", 23 },
	{ T(OK_HEAD "\tX: a\r\n\r\n"), 0, MAL,
	    "obs-fold (a folded field line)", 17 },
	{ T(OK_HEAD "Foo : bar\r\n\r\n"), 0, MAL,
	    "whitespace before a field's colon", 20 },
	{ T(OK_HEAD "Foo\r\n\r\n"), 0, MAL, "field line without a colon",
	    20 },
	{ T(OK_HEAD "Foo\n\n"), 0, MAL, "field line without a colon", 20 },
	{ T(OK_HEAD ": bar\r\n\r\n"), 0, MAL, "empty field name", 17 },
	{ T(OK_HEAD "Fo(o: bar\r\n\r\n"), 0, MAL, "bad field name", 19 },
	{ T(OK_HEAD "\x80: bar\r\n\r\n"), 0, MAL, "bad field name", 17 },
	{ T(OK_HEAD "X: a\x01z\r\n\r\n"), 0, MAL,
	    "control character in a field", 21 },
	{ T(OK_HEAD "X: a\x00z\r\n\r\n"), 0, MAL,
	    "control character in a field", 21 },
	{ T(OK_HEAD "X: a\rb\r\n\r\n"), 0, MAL, "CR without LF", 22 },
	{ T(OK_HEAD "X: a\r\n\rX\r\n"), 0, MAL, "CR without LF", 24 },
	{ T("HTTP/1.1 200 OK\rX: a\r\n\r\n"), 0, MAL, "CR without LF", 16 },
	/* Content-Length. */
	{ T(OK_HEAD "Content-Length: abc\r\n\r\n"), 0, MAL,
	    "Content-Length not a number", 33 },
	{ T(OK_HEAD "Content-Length: -1\r\n\r\n"), 0, MAL,
	    "Content-Length not a number", 33 },
	{ T(OK_HEAD "Content-Length: +5\r\n\r\n"), 0, MAL,
	    "Content-Length not a number", 33 },
	{ T(OK_HEAD "Content-Length: 0x10\r\n\r\n"), 0, MAL,
	    "Content-Length not a number", 34 },
	{ T(OK_HEAD "Content-Length: 5 5\r\n\r\n"), 0, MAL,
	    "Content-Length not a number", 35 },
	{ T(OK_HEAD "Content-Length: 5;x\r\n\r\n"), 0, MAL,
	    "Content-Length not a number", 34 },
	{ T(OK_HEAD "Content-Length:\r\n\r\n"), 0, MAL,
	    "empty Content-Length", 33 },
	{ T(OK_HEAD "Content-Length: 5,\r\n\r\n"), 0, MAL,
	    "empty Content-Length", 36 },
	{ T(OK_HEAD "Content-Length: ,5\r\n\r\n"), 0, MAL,
	    "empty Content-Length", 33 },
	{ T(OK_HEAD "Content-Length: 9223372036854775808\r\n\r\n"), 0, MAL,
	    "Content-Length too big", 51 },
	{ T(OK_HEAD "Content-Length: 99999999999999999999999\r\n\r\n"), 0,
	    MAL, "Content-Length too big", 51 },
	{ T(OK_HEAD "Content-Length: 5\r\nContent-Length: 6\r\n\r\n"), 0,
	    MAL, "conflicting Content-Length values", 54 },
	{ T(OK_HEAD "Content-Length: 5, 6\r\n\r\n"), 0, MAL,
	    "conflicting Content-Length values", 38 },
	/* Checked even where no body follows. */
	{ T("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n"), 0,
	    MAL, "Content-Length not a number", 43 },
	{ T(OK_HEAD "Content-Length: 1\r\nContent-Length: 2\r\n\r\n"), 1,
	    MAL, "conflicting Content-Length values", 54 },
	{ T("HTTP/1.1 100 Continue\r\nContent-Length: 1, 2\r\n\r\n"), 0,
	    MAL, "conflicting Content-Length values", 44 },
	/* Transfer-Encoding and Connection. */
	{ T(OK_HEAD "Transfer-Encoding:\r\n\r\n"), 0, MAL,
	    "empty Transfer-Encoding", 36 },
	{ T(OK_HEAD "Transfer-Encoding: , ,\r\n\r\n"), 0, MAL,
	    "empty Transfer-Encoding", 40 },
	{ T(OK_HEAD "Transfer-Encoding: chunked;q=1\r\n\r\n"), 0, MAL,
	    "bad transfer coding", 43 },
	{ T(OK_HEAD "Transfer-Encoding: chun ked\r\n\r\n"), 0, MAL,
	    "bad transfer coding", 41 },
	{ T(OK_HEAD "Transfer-Encoding: chunked, chunked\r\n\r\n"), 0, MAL,
	    "chunked applied more than once", 55 },
	{ T(OK_HEAD "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n"), 0, MAL,
	    "chunked applied more than once", 80 },
	{ T(OK_HEAD "Connection: close;x\r\n\r\n"), 0, MAL,
	    "bad Connection option", 34 },
	{ T(OK_HEAD "Connection: \"close\"\r\n\r\n"), 0, MAL,
	    "bad Connection option", 29 },
	/* The chunked body: CRLF only, hex sizes, framing. */
	{ T(OK_HEAD "Transfer-Encoding: chunked\r\n\r\nzz\r\n"), 0, MAL,
	    "chunk size is not hex", 47 },
	{ T(OK_HEAD "Transfer-Encoding: chunked\r\n\r\n5\nhello\n"), 0, MAL,
	    "chunk size is not hex", 48 },
	{ T(OK_HEAD "Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n"), 0,
	    MAL, "chunk data without CRLF", 55 },
	{ T(OK_HEAD "Transfer-Encoding: chunked\r\n\r\n0\r\n\n"), 0, MAL,
	    "bad trailer field", 50 },
	{ T(OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"
	    "fffffffffffffffff\r\n"), 0, MAL, "chunk size overflows", 62 },
};

#define NBAD	(sizeof(bad) / sizeof(bad[0]))

static void
check_bad(const struct bcase *c, const mps_http_limits_t *lim, size_t i)
{
	struct stream s;
	struct run whole;
	const struct summary *r;

	memset(&s, 0, sizeof(s));
	s.data = (const uint8_t *)c->text;
	s.len = c->len;
	s.heads = &c->head;
	s.nheads = 1;
	s.lim = lim;
	require_slicing_invariant(&s, "bad", &whole);
	ck_assert_msg(whole.n == 1, "bad[%zu]: %zu responses", i, whole.n);
	r = &whole.r[0];
	ck_assert_msg(r->rv == c->rv, "bad[%zu]: rv %d, expected %d (%s)", i,
	    r->rv, c->rv, r->why ? r->why : "-");
	ck_assert_msg(r->why != NULL && strcmp(r->why, c->why) == 0,
	    "bad[%zu]: why \"%s\", expected \"%s\"", i,
	    r->why ? r->why : "-", c->why);
	ck_assert_msg(r->end == c->off && r->total == c->off,
	    "bad[%zu]: refused at %zu, expected %zu", i, r->end, c->off);
	/* Everything before the offending byte was a valid prefix. */
	require_prefixes_unfinished(s.data, c->off + 1, c->head, lim,
	    c->why);
}

START_TEST(test_bad)
{
	unit_rng_seed(0x42414421 + (uint32_t)_i);
	check_bad(&bad[_i], NULL, (size_t)_i);
}
END_TEST

/* ---- Limits ---- */

/* A head of text, padded with "X: aaa..." so that the line with the
 * padding is exactly line_len bytes long, then "\r\n\r\n". */
static size_t
padded(uint8_t *out, size_t outsize, const char *first, size_t line_len)
{
	size_t n = strlen(first);

	ck_assert_uint_le(n + line_len + 4, outsize);
	memcpy(out, first, n);
	memcpy(out + n, "X: ", 3);
	memset(out + n + 3, 'a', line_len - 3);
	memcpy(out + n + line_len, "\r\n\r\n", 4);
	return n + line_len + 4;
}

START_TEST(test_limits)
{
	static uint8_t buf[40000];
	mps_http_limits_t small = { 64, 32, 2 };
	mps_http_resp_t r;
	size_t len, used, i;

	/* A field line of exactly max_line (8192 by default) passes; one
	 * byte more is refused at that byte. */
	len = padded(buf, sizeof(buf), OK_HEAD, 8192);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, len, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(r.until_close, 1);
	len = padded(buf, sizeof(buf), OK_HEAD, 8193);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, len, &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "line too long");
	ck_assert_uint_eq(used, 17 + 8192);

	/* The status line too. */
	memcpy(buf, "HTTP/1.1 200 ", 13);
	memset(buf + 13, 'r', 8192 - 13);
	memcpy(buf + 8192, "\r\n\r\n", 4);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, 8196, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(r.head_done, 1);
	memset(buf + 8192, 'r', 1);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, 8193, &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(used, 8192);

	/* 100 fields pass, the 101st is refused at its first byte. */
	len = 0;
	memcpy(buf, OK_HEAD, 17);
	len = 17;
	for (i = 0; i < 101; i++) {
		memcpy(buf + len, "F: v\r\n", 6);
		len += 6;
	}
	memcpy(buf + len, "\r\n", 2);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, 17 + 600, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf + 17 + 600, 6, &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "too many fields");
	ck_assert_uint_eq(used, 0);
	mps_http_resp_init(&r, 0, NULL);
	memcpy(buf + 17 + 600, "\r\n", 2);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, 17 + 602, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(r.head_done, 1);

	/* The head: 16384 bytes pass, 16385 do not. Two 8000-byte field
	 * lines and the rest. */
	len = 17;
	memcpy(buf, OK_HEAD, 17);
	for (i = 0; i < 2; i++) {
		memcpy(buf + len, "X: ", 3);
		memset(buf + len + 3, 'b', 7997);
		memcpy(buf + len + 8000, "\r\n", 2);
		len += 8002;
	}
	/* 16021 bytes so far: a last field line of 359 bytes and two line
	 * ends make 16384. */
	memcpy(buf + len, "Y: ", 3);
	memset(buf + len + 3, 'c', 356);
	memcpy(buf + len + 359, "\r\n\r\n", 4);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, len + 363, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(r.head_done, 1);
	ck_assert_uint_eq(r.total, 16384);
	memset(buf + len + 3, 'c', 357);
	memcpy(buf + len + 360, "\r\n\r\n", 4);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, len + 364, &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "head too large");
	ck_assert_uint_eq(used, 16384);

	/* Small limits: each interim head is bounded on its own. */
	mps_http_resp_init(&r, 0, &small);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(
	    "HTTP/1.1 102 Processing\r\nA: 0123456789012345678\r\n\r\n"
	    "HTTP/1.1 102 Processing\r\nA: 0123456789012345678\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\nA: 1\r\nB: 2\r\n\r\n"), &used),
	    APR_SUCCESS);
	ck_assert_uint_eq(r.interim, 2);
	mps_http_resp_init(&r, 0, &small);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(
	    "HTTP/1.1 204 No Content\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"),
	    &used), MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "too many fields");
	mps_http_resp_init(&r, 0, &small);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(
	    "HTTP/1.1 204 No Content\r\nA: 0123456789012345678\r\n"
	    "B: 0123456789\r\n\r\n"), &used), MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "head too large");
	ck_assert_uint_eq(used, 64);
	/* The chunk-size line is bounded by max_line, trailers by
	 * max_head. */
	mps_http_resp_init(&r, 0, &small);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"), &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "chunk line too long");
	mps_http_resp_init(&r, 0, &small);
	ck_assert_int_eq(mps_http_resp_feed(&r, T(
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nA: 0123456789012345678901234567890\r\n"
	    "B: 0123456789012345678901234567890\r\n\r\n"), &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "trailers too large");
}
END_TEST

/* Each head has its own max_head: after an interim "100 Continue", the
 * final head may use all of it, and its first byte over is refused. */
START_TEST(test_interim_head_budget)
{
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
	static const char first[] = "HTTP/1.1 204 No Content\r\n";
	mps_http_limits_t lim = { 64, 60, 8 };
	uint8_t buf[256];
	mps_http_resp_t r;
	size_t ilen = sizeof(interim) - 1, len, used;

	memcpy(buf, interim, ilen);
	/* 25 + "X: " 32 bytes "\r\n" + "\r\n": exactly 64 bytes. */
	len = ilen + padded(buf + ilen, sizeof(buf) - ilen, first, 35);
	ck_assert_uint_eq(len - ilen, 64);
	mps_http_resp_init(&r, 0, &lim);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, len, &used), APR_SUCCESS);
	ck_assert_uint_eq(used, len);
	ck_assert_uint_eq(r.interim, 1);
	ck_assert_uint_eq(r.status, 204);

	len = ilen + padded(buf + ilen, sizeof(buf) - ilen, first, 36);
	mps_http_resp_init(&r, 0, &lim);
	ck_assert_int_eq(mps_http_resp_feed(&r, buf, len, &used),
	    MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(r.why, "head too large");
	ck_assert_uint_eq(used, ilen + 64);
}
END_TEST

START_TEST(test_bad_limits)
{
	mps_http_limits_t zero_line = { 100, 0, 10 };
	mps_http_limits_t zero_head = { 0, 100, 10 };
	mps_http_resp_t r;
	size_t used = 7;

	mps_http_resp_init(&r, 0, &zero_line);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n"),
	    &used), APR_EINVAL);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EINVAL);
	mps_http_resp_init(&r, 0, &zero_head);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("H"), &used), APR_EINVAL);
	ck_assert_str_eq(r.why, "bad limits");
}
END_TEST

/* ---- Sticky results, bad arguments, EOF ---- */

START_TEST(test_sticky_and_args)
{
	mps_http_resp_t r;
	size_t used;

	/* NULL data: refused, not sticky; empty feeds are harmless. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, NULL, 0, &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_feed(&r, NULL, 5, &used), APR_EINVAL);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 204 x\r\n\r\n"),
	    &used), APR_SUCCESS);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("more"), &used),
	    APR_SUCCESS);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(mps_http_resp_feed(&r, NULL, 5, &used), APR_SUCCESS);

	/* An error stays, with its reason. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 20x"), &used),
	    MPS_ERR_MALFORMED);
	ck_assert_uint_eq(used, 11);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n"),
	    &used), MPS_ERR_MALFORMED);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(mps_http_resp_eof(&r), MPS_ERR_MALFORMED);
	ck_assert_str_eq(r.why, "bad status code");
	ck_assert_int_eq(r.head_done, 0);
}
END_TEST

START_TEST(test_eof)
{
	mps_http_resp_t r;
	size_t used;

	/* Nothing arrived. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EOF);
	ck_assert_uint_eq(r.total, 0);
	ck_assert_str_eq(r.why, "closed before the response");
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP"), &used), APR_EOF);

	/* Cut short in the head, and in a sized or chunked body. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n"),
	    &used), MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EOF);
	ck_assert_str_eq(r.why, "closed in the middle of the response");
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n"
	    "Content-Length: 3\r\n\r\nab"), &used), MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EOF);
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"), &used),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EOF);
	/* Interim heads alone are not a response. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 100 Continue\r\n"
	    "\r\n"), &used), MPS_NEED_MORE);
	ck_assert_uint_eq(r.interim, 1);
	ck_assert_int_eq(r.head_done, 0);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_EOF);

	/* The close ends a close-delimited body; then nothing more. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 200 OK\r\n\r\n"),
	    &used), MPS_NEED_MORE);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("anything"), &used),
	    MPS_NEED_MORE);
	ck_assert_uint_eq(used, 8);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_SUCCESS);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("late"), &used),
	    APR_SUCCESS);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(r.total, 27);

	/* After the end, EOF is fine. */
	mps_http_resp_init(&r, 0, NULL);
	ck_assert_int_eq(mps_http_resp_feed(&r, T("HTTP/1.1 204 \r\n\r\n"),
	    &used), APR_SUCCESS);
	ck_assert_int_eq(mps_http_resp_eof(&r), APR_SUCCESS);
}
END_TEST

/* ---- Mutations ---- */

static const mps_http_limits_t fuzz_limits = { 256, 64, 8 };

/* Whole, byte at a time and random pieces agree on a mutant; the runner
 * checks the contract on every call. */
static void
check_mutant(const uint8_t *data, size_t len, int head, int small,
    const char *what, size_t round)
{
	struct stream s;
	struct run whole, other;
	size_t cuts[2200], n = 0, at = 0, k;
	int heads[MAXR];

	for (k = 0; k < MAXR; k++)
		heads[k] = head;
	memset(&s, 0, sizeof(s));
	s.data = data;
	s.len = len;
	s.heads = heads;
	s.nheads = MAXR;
	s.lim = small ? &fuzz_limits : NULL;
	run_whole(&s, &whole);
	REQUIRE(len < sizeof(cuts) / sizeof(cuts[0]), "mutant too long");
	if (len == 0)
		return;
	for (k = 1; k <= len; k++)
		cuts[n++] = k;
	run_cuts(&s, cuts, n, &other);
	require_same(&whole, &other, what, round);
	n = 0;
	while (at < len) {
		at += 1 + unit_rng() % 13;
		if (at > len)
			at = len;
		cuts[n++] = at;
	}
	run_cuts(&s, cuts, n, &other);
	require_same(&whole, &other, what, round);
	for (k = 0; k < whole.n; k++) {
		const struct summary *r = &whole.r[k];

		REQUIRE(r->end <= len, "%s@%zu: end past the input", what,
		    round);
		REQUIRE(r->rv != APR_SUCCESS || r->head_done,
		    "%s@%zu: ended without a final head", what, round);
		REQUIRE(!r->until_close || r->close, "%s@%zu: until_close "
		    "without close", what, round);
	}
}

START_TEST(test_mutations)
{
	static const uint8_t values[] = {
		0x00, '\r', '\n', ' ', '\t', ':', ',', ';', '"', '\\', '0',
		'1', '9', 'a', 'f', 'H', 'T', 'P', '/', '.', 0x7f, 0x80, 0xff
	};
	uint8_t buf[1100];
	size_t i, len, round, m, nmut, pos;

	unit_rng_seed(0x4d555441);
	for (i = 0; i < NVALID; i++) {
		for (round = 0; round < 400; round++) {
			len = valid[i].len;
			ck_assert_uint_le(len, 512);
			memcpy(buf, valid[i].text, len);
			nmut = 1 + unit_rng() % 4;
			for (m = 0; m < nmut; m++) {
				pos = len ? unit_rng() % len : 0;
				switch (unit_rng() % 6) {
				case 0:
					if (len)
						buf[pos] ^= (uint8_t)(1u <<
						    (unit_rng() % 8));
					break;
				case 1:
					if (len)
						buf[pos] = values[unit_rng() %
						    sizeof(values)];
					break;
				case 2:		/* delete a byte */
					if (len) {
						memmove(buf + pos,
						    buf + pos + 1,
						    len - pos - 1);
						len--;
					}
					break;
				case 3:		/* insert a byte */
					if (len < 1000) {
						memmove(buf + pos + 1,
						    buf + pos, len - pos);
						buf[pos] = values[unit_rng() %
						    sizeof(values)];
						len++;
					}
					break;
				case 4:		/* truncate */
					len = pos;
					break;
				default:	/* repeat the start (pipelining) */
					if (len > 0 && len + pos < 1000) {
						memcpy(buf + len, buf, pos);
						len += pos;
					}
					break;
				}
			}
			check_mutant(buf, len, (int)(round & 1),
			    (int)((round >> 1) & 1), valid[i].name, round);
		}
	}
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("http_response");
	TCase *tc = tcase_create("framing");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_valid, 0, (int)NVALID);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_used_splits_exactly);
	tcase_add_test(tc, test_large_bodies);
	tcase_add_loop_test(tc, test_bad, 0, (int)NBAD);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_interim_head_budget);
	tcase_add_test(tc, test_bad_limits);
	tcase_add_test(tc, test_sticky_and_args);
	tcase_add_test(tc, test_eof);
	suite_add_tcase(s, tc);

	tc = tcase_create("mutations");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_mutations);
	suite_add_tcase(s, tc);
	return s;
}
