/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_origin.h: a parsed absolute-form request head, written as the
 * device's web server gets it (origin form, hop-by-hop fields dropped).
 *
 * The parser (http_head.h) reads what the console sent; this writes what
 * the proxy forwards, from the parsed spans only, never from the raw
 * bytes: whatever leniency the parser allows (a bare LF, OWS) cannot
 * reach the device. Pure: no I/O, no logging, no global state.
 */
#ifndef MPS_HTTP_ORIGIN_H
#define MPS_HTTP_ORIGIN_H

#include <apr_errno.h>

#include "buf.h"
#include "http_head.h"

/* mps_http_head_write_origin() flags. */
#define MPS_HTTP_WRITE_KEEP_UPGRADE	0x1	/* forward Upgrade */
#define MPS_HTTP_WRITE_CLOSE		0x2	/* add Connection: close */

/*
 * Appends to out the head to send upstream for an absolute-form "http"
 * request (APR_EINVAL for any other head, or one not parsed to success):
 *
 *   METHOD SP path SP "HTTP/1.1" CRLF
 *   "Host: " authority-from-the-URI CRLF        (RFC 9112 §3.2.2)
 *   every other field in order, as "name: value" CRLF, except
 *     Host, Connection, Proxy-Connection, Keep-Alive,
 *     Proxy-Authorization, Proxy-Authenticate, TE, Trailer, Upgrade
 *     (kept with MPS_HTTP_WRITE_KEEP_UPGRADE when Connection lists
 *     "upgrade"), and every field Connection lists;
 *     Content-Length appears once, canonical, where the first was;
 *     Content-Length and Transfer-Encoding are kept even when Connection
 *     lists them (dropping them would change the body's framing)
 *   "Connection: " close and/or upgrade CRLF     (when flagged)
 *   "Via: 1.1 mpsd" CRLF ("1.0" for an HTTP/1.0 request: RFC 9110 §7.6.3)
 *   CRLF
 *
 * All or nothing: on failure (MPS_ERR_TOO_LARGE past out's max_size,
 * APR_ENOMEM) out is as it was. out must not hold h->base's bytes.
 */
apr_status_t mps_http_head_write_origin(const mps_http_head_t *h,
    unsigned flags, mps_buf_t *out);

#endif /* MPS_HTTP_ORIGIN_H */
