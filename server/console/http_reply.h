/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_reply.h: the responses the HTTP proxy writes itself (its errors
 * and the answer to CONNECT), as opposed to the device's responses,
 * which it relays verbatim and only frames (http_response.h).
 *
 * Fixed text into the caller's output buffer, all or nothing: on failure
 * (MPS_ERR_TOO_LARGE past out's max_size, APR_ENOMEM) out is as it was.
 */
#ifndef MPS_HTTP_REPLY_H
#define MPS_HTTP_REPLY_H

#include <apr_errno.h>

#include "buf.h"

/* The reason phrase for the codes mps_http_write_error() knows, or NULL. */
const char *mps_http_reason(unsigned code);

/*
 * Appends a complete error response that closes the connection:
 *   "HTTP/1.1 <code> <reason>" CRLF
 *   ("Proxy-Authenticate: Basic realm=\"mpsd\"" CRLF   for 407)
 *   "Content-Type: text/plain" CRLF "Content-Length: <n>" CRLF
 *   "Connection: close" CRLF CRLF "<code> <reason>" LF
 * for 400, 403, 404, 405, 407, 408, 414, 417, 431, 501, 502, 503, 504
 * and 505; APR_EINVAL for other codes.
 */
apr_status_t mps_http_write_error(mps_buf_t *out, unsigned code);

/* Appends "HTTP/1.1 200 Connection established" CRLF CRLF. */
apr_status_t mps_http_write_connect_ok(mps_buf_t *out);

#endif /* MPS_HTTP_REPLY_H */
