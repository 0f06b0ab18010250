/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit_tls.h: what the unit tests that drive a real TLS session share.
 */
#ifndef MPS_UNIT_TLS_H
#define MPS_UNIT_TLS_H

#include <openssl/ssl.h>

/*
 * A TLS server context with a self-signed P-256 certificate made in
 * memory (subject CN cn, valid for an hour): no file, nothing to clean
 * up but the context. Fails the test if OpenSSL cannot make it.
 */
SSL_CTX *unit_tls_server_ctx(const char *cn);

#endif
