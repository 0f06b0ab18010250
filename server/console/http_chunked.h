/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_chunked.h: where a chunked HTTP/1.1 body ends (RFC 9112 §7.1),
 * found by a streaming framer that keeps none of the bytes.
 *
 * Both directions of the HTTP proxy use it: the request side for a
 * console's chunked request body (http_front.c), the response side for a
 * device's chunked response (http_response.c). Either way the body is
 * relayed VERBATIM, chunk framing included, so the framer only says how
 * many of the bytes it is given belong to the body and when the body has
 * ended: after the last chunk, the trailer section and its final CRLF.
 *
 * Strict, because the bytes reach the other side unchanged and both must
 * see the same end: CRLF only (a bare LF is malformed), hex chunk sizes
 * checked for overflow, chunk extensions parsed to the RFC 9112 §7.1.1
 * grammar and bounded with the size line, trailer fields checked like
 * header fields and bounded in total. Every line goes through the
 * bounds-checked line reader of buf.h.
 *
 * No I/O, no logging, no allocation, no global state; embeddable.
 * Thread-safety: reentrant; a framer belongs to one connection.
 */
#ifndef MPS_HTTP_CHUNKED_H
#define MPS_HTTP_CHUNKED_H

#include <apr_errno.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MPS_HTTP_CHUNK_DEFAULT_MAX_LINE		4096
#define MPS_HTTP_CHUNK_DEFAULT_MAX_TRAILER	8192

/* The public fields are written by the framer only. */
typedef struct mps_http_chunked_t {
	uint64_t remaining;		/* data bytes left in this chunk */
	uint64_t total;			/* body bytes accepted so far */
	const char *why;		/* after an error: static text */

	int state;			/* private, like the rest */
	apr_status_t rv;		/* the sticky result once failed */
	uint64_t size;			/* the chunk-size being read */
	size_t trailer_len;		/* bytes of the trailer section */
	size_t max_line;
	size_t max_trailer;
	mps_buf_line_t line;		/* the line being read */
} mps_http_chunked_t;

/*
 * Makes c ready for one chunked body. max_line bounds a chunk-size line
 * (size and extensions, CRLF excluded); max_trailer bounds the trailer
 * section including its final CRLF. 0 selects the defaults above.
 */
void mps_http_chunked_init(mps_http_chunked_t *c, size_t max_line,
    size_t max_trailer);

/*
 * Follows the body through data[0 .. len). *used is how many of these
 * bytes belong to the body (forward them as they are):
 *   APR_SUCCESS        the body ended: *used is up to and including its
 *                      final CRLF; bytes after it are the next message.
 *                      Later calls return APR_SUCCESS with *used 0.
 *   MPS_NEED_MORE      all len bytes were body (*used == len); feed more
 *   MPS_ERR_MALFORMED  bad framing: answer 400 (if nothing was forwarded
 *                      yet) and close both sides; *used is the offset of
 *                      the offending byte
 *   MPS_ERR_TOO_LARGE  a chunk-size line or the trailers over their cap;
 *                      *used is the offset of the first byte over it
 *   APR_EINVAL         data NULL with len > 0 (not sticky)
 * Errors are sticky (later calls return them with *used 0).
 */
apr_status_t mps_http_chunked_feed(mps_http_chunked_t *c, const void *data,
    size_t len, size_t *used);

#endif /* MPS_HTTP_CHUNKED_H */
