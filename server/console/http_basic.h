/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_basic.h: Proxy-Authorization: Basic credentials (RFC 7617) for
 * the HTTP proxy. The parser (http_head.h) only finds the scheme and the
 * token; decoding is here, so that bad credentials become the caller's
 * 407 rather than a 400. The base64 itself is APR-util's.
 */
#ifndef MPS_HTTP_BASIC_H
#define MPS_HTTP_BASIC_H

#include <apr_errno.h>
#include <stddef.h>

#include "http_head.h"

/*
 * Decodes base64 "user:password" into out (strict RFC 4648 base64:
 * standard alphabet, padding required, no whitespace, zero pad bits) and
 * splits it at the first ':' into two NUL-terminated strings inside out:
 * *user and *password. MPS_ERR_MALFORMED for bad base64, no ':', an empty
 * user, or a control character in either; MPS_ERR_TOO_LARGE when out
 * cannot hold the decoded bytes plus a NUL. On failure out is wiped and
 * both pointers are NULL. The caller wipes out after use.
 */
apr_status_t mps_http_basic_decode(const char *b64, size_t len, char *out,
    size_t outsize, const char **user, const char **password);

/* The same for a parsed head's Proxy-Authorization; APR_EINVAL when it
 * carries no Basic credentials (see h->proxy_auth). */
apr_status_t mps_http_head_basic_credentials(const mps_http_head_t *h,
    char *out, size_t outsize, const char **user, const char **password);

#endif /* MPS_HTTP_BASIC_H */
