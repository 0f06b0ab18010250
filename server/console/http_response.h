/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_response.h: where an HTTP/1.x response from a device's web server
 * ends, found by a pure streaming framer (RFC 9112 §6.3).
 *
 * The HTTP proxy relays the device's response bytes to the console
 * VERBATIM; it never rewrites a response. What it must know is where each
 * response ends: on a keep-alive console connection it counts the
 * responses to the requests it forwarded, and only when all of them are
 * complete may it hand the connection to another upstream; and it must
 * know whether the device means to close. This framer answers both while
 * the bytes stream through, without keeping them.
 *
 * No I/O, no logging, no allocation, no global state, and no copy of the
 * caller's bytes: the framer is an embeddable struct of fixed size (a few
 * hundred bytes) that follows the bytes one slice at a time, in any
 * slicing, down to one byte per call. It keeps only what framing needs:
 * the current field's name (the first bytes of it), the element of a
 * list value being read, the Content-Length read so far, and counters.
 *
 * ---- Use ----
 *
 *   mps_http_resp_init(&r, request_was_head, limits);
 *   for each slice the upstream delivers:
 *       rv = mps_http_resp_feed(&r, data, len, &used);
 *       forward data[0 .. used) to the console;
 *       APR_SUCCESS: this response ended; data[used .. len) starts the
 *           next one (init again for it, with its request's method);
 *       MPS_NEED_MORE: used == len, the response goes on;
 *       otherwise an error: close both sides.
 *   on the upstream's EOF:
 *       rv = mps_http_resp_eof(&r);
 *
 * One init per response: the framer needs the method of the request it
 * answers (a response to HEAD has no body whatever its fields say).
 *
 * ---- Rules (RFC 9112 §6.3, in the order they apply) ----
 *
 *  - 1xx but 101: an interim response. Its head is swallowed (counted in
 *    *used and r->interim) and the framer goes on to the next head in the
 *    same feeds: "100 Continue" and the final "200 OK" are ONE response
 *    to the caller, who counts requests, not heads.
 *  - 101 Switching Protocols: framing ends with its head (APR_SUCCESS,
 *    r->upgraded and r->close set); what follows is not HTTP, relay it
 *    raw and never reuse the connection for HTTP. Whether a 101 is
 *    acceptable at all (the request asked for an upgrade, the policy
 *    allows tunnels) is the caller's decision, not the framer's.
 *  - A response to HEAD, 204 and 304: no body; Content-Length and
 *    Transfer-Encoding describe the representation, not this message.
 *  - Transfer-Encoding whose final coding is "chunked": a chunked body,
 *    followed with mps_http_chunked_t (http_chunked.h: the strict framer
 *    the request side uses too, CRLF only; its line cap is
 *    limits->max_line and its trailer cap limits->max_head). With Content-Length as well, Transfer-Encoding
 *    wins and r->close is set: RFC 9112 §6.3 says the connection must
 *    close after such a message, and since the proxy cannot delete the
 *    Content-Length from bytes it relays verbatim, the console might
 *    frame the body differently; only closing contains that.
 *  - Transfer-Encoding without a final "chunked", or any
 *    Transfer-Encoding in an HTTP/1.0 response (RFC 9112 §6.1: "faulty
 *    framing"): the body runs until the server closes.
 *  - Content-Length: that many body bytes.
 *  - Otherwise the body runs until the server closes: MPS_NEED_MORE for
 *    every slice, r->until_close and r->close set once the head is done,
 *    and the end is the upstream's EOF (mps_http_resp_eof()).
 *
 * ---- What is accepted in a head ----
 *
 *  - Status line: "HTTP/1.0" or "HTTP/1.1", one SP, three digits from
 *    100 to 599, then SP and a reason phrase (HTAB, SP, visible ASCII,
 *    obs-text; it may be empty), or nothing at all: "HTTP/1.1 200" with
 *    no SP is tolerated because some embedded servers send it. Any other
 *    version, or "http/1.1", or two spaces, is malformed.
 *  - Empty lines before the status line are skipped (a server may send a
 *    stray CRLF after a body); they count in the head's size.
 *  - Line ends: CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept
 *    LF; AMT-style embedded servers use it). A CR not followed by LF is
 *    malformed. The chunked body and its trailers take CRLF only.
 *  - Field lines: a token name, ':' with no whitespace before it (RFC
 *    9112 §5.1: a proxy must not relay that), a value of visible ASCII,
 *    obs-text, SP and HTAB. A line starting with SP or HTAB (obs-fold)
 *    is malformed: it cannot be unfolded in bytes relayed verbatim.
 *  - Content-Length: digits only (a list "5, 5" of one repeated value is
 *    accepted: RFC 9110 §8.6), at most INT64_MAX; different values, in
 *    one field or several, are malformed. Checked in every response,
 *    even one without a body.
 *  - Transfer-Encoding: a list of tokens (no parameters) with at least
 *    one coding; "chunked" more than once is malformed.
 *  - Connection: a list of tokens; "close" and "keep-alive" are read.
 *
 * ---- Results ----
 *
 * Meaningful once r->head_done is set (the final head was read): status,
 * version, body, content_length (MPS_HTTP_RESP_BODY_LENGTH), close,
 * until_close, upgraded. r->close means no further response will come on
 * this upstream connection: "Connection: close", HTTP/1.0 without
 * "Connection: keep-alive", a body delimited by the close, a
 * Transfer-Encoding with a Content-Length, or a 101. r->interim counts
 * the 1xx heads swallowed, r->total the bytes that belonged to the
 * response so far.
 *
 * Thread-safety: every function is reentrant; a framer belongs to one
 * upstream connection.
 */
#ifndef MPS_HTTP_RESPONSE_H
#define MPS_HTTP_RESPONSE_H

#include <apr_errno.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_chunked.h"
#include "http_head.h"

typedef enum {
	MPS_HTTP_RESP_BODY_NONE = 0,	/* none (or the head is not done) */
	MPS_HTTP_RESP_BODY_LENGTH,	/* content_length bytes (not 0) */
	MPS_HTTP_RESP_BODY_CHUNKED,	/* chunked transfer coding */
	MPS_HTTP_RESP_BODY_CLOSE	/* until the server closes */
} mps_http_resp_body_t;

/* Bytes kept of a field name: the longest name the framer looks for
 * ("transfer-encoding", 17) and one more, so that a longer name never
 * matches. */
#define MPS_HTTP_RESP_NAME_KEEP		18
/* Bytes kept of a list element: the longest token looked for
 * ("keep-alive", 10) and one more. */
#define MPS_HTTP_RESP_TOKEN_KEEP	11

/*
 * One response. Initialise with mps_http_resp_init(). The public fields
 * are written by the framer only; see the top of this file for when each
 * is meaningful.
 */
typedef struct mps_http_resp_t {
	unsigned status;		/* status code of the current head */
	int version;			/* 10 or 11, of the current head */
	int head_done;			/* the final head has been read */
	mps_http_resp_body_t body;
	uint64_t content_length;	/* MPS_HTTP_RESP_BODY_LENGTH only */
	int close;			/* the server closes after this */
	int until_close;		/* the body ends at the server's EOF */
	int upgraded;			/* 101: the rest is not HTTP */
	unsigned interim;		/* 1xx heads swallowed */
	uint64_t total;			/* bytes of this response so far */
	const char *why;		/* after an error: static text */

	struct {			/* framer state: private */
		int state;
		apr_status_t rv;	/* the sticky result once failed */
		int request_was_head;
		size_t max_head;
		size_t max_line;
		size_t max_fields;
		size_t head_len;	/* bytes of the current head */
		mps_buf_line_t line;	/* the line reader of the head */
		size_t nfields;		/* field lines of the current head */
		int line_kind;		/* what the LF ends: LINE_* */
		unsigned idx;		/* position in the status line */
		int field;		/* known field being read: FLD_* */
		uint8_t name[MPS_HTTP_RESP_NAME_KEEP];
		size_t name_len;
		int elem;		/* list element state: EL_* */
		int elem_any;		/* a non-empty element in this field */
		uint8_t token[MPS_HTTP_RESP_TOKEN_KEEP];
		size_t token_len;
		uint64_t number;	/* Content-Length element being read */
		int cl_seen;
		uint64_t cl;
		int te_seen;		/* a Transfer-Encoding field */
		unsigned te_chunked;	/* "chunked" codings (capped at 2) */
		int te_last_chunked;	/* the last coding was "chunked" */
		unsigned conn;		/* MPS_HTTP_CONN_* */
		uint64_t remaining;	/* body bytes left (LENGTH) */
		mps_http_chunked_t chunked;
	} st;
} mps_http_resp_t;

/*
 * Makes r ready for the response to one request. request_was_head: that
 * request's method was HEAD. limits may be NULL for the defaults of
 * http_head.h (max_line 8192, max_fields 100, max_head 16384); they
 * bound each head (each interim head on its own). Limits with max_head
 * or max_line 0 make every feed fail with APR_EINVAL.
 */
void mps_http_resp_init(mps_http_resp_t *r, int request_was_head,
    const mps_http_limits_t *limits);

/*
 * Follows the response through data[0 .. len). *used is how many of
 * these bytes belong to the response (forward exactly those):
 *   APR_SUCCESS        the response ended: *used is up to its last byte;
 *                      data[*used .. len) belongs to the next response.
 *                      Later calls return APR_SUCCESS with *used 0.
 *   MPS_NEED_MORE      all len bytes belong to it (*used == len)
 *   MPS_ERR_MALFORMED  the bytes can never be a valid response (r->why);
 *                      *used is the offset of the byte where that shows:
 *                      the offending byte, or the LF ending the line (or
 *                      head) that a rule needs whole (an empty or
 *                      conflicting Content-Length, say)
 *   MPS_ERR_TOO_LARGE  a line over max_line, more than max_fields fields
 *                      in a head, a head over max_head, or a chunk line
 *                      or trailer section over its cap; *used is the
 *                      offset of the first byte over the cap
 *   APR_EINVAL         data NULL with len > 0 (not sticky), or bad limits
 * Errors are sticky: later calls return them with *used 0.
 */
apr_status_t mps_http_resp_feed(mps_http_resp_t *r, const void *data,
    size_t len, size_t *used);

/*
 * The upstream closed (EOF). Returns APR_SUCCESS when that ends the
 * response properly (a body delimited by the close, or the response had
 * already ended), APR_EOF when the response was cut short (r->why; if
 * r->total is 0 none of it arrived and the proxy may still answer 502:
 * no 1xx head either), or the sticky error of an earlier feed. No more
 * bytes are expected after it: later feeds return the same status.
 */
apr_status_t mps_http_resp_eof(mps_http_resp_t *r);

#endif /* MPS_HTTP_RESPONSE_H */
