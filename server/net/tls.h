/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.h: OpenSSL server contexts for the AMT listener.
 *
 * One SSL_CTX is built at start-up from the <TLS> settings of mps.config
 * and shared, read-only, by every device connection. It carries:
 *
 *   - the version and cipher profile (APF.md "TLS profiles"):
 *       modern  TLS 1.2 and 1.3; forward-secret AEAD suites first, then
 *               RSA-key-exchange AES-GCM/SHA-256 suites for TLS 1.2
 *               firmware; OpenSSL's default security level.
 *       legacy  TLS 1.0 and up, adding the plain-RSA AES-CBC-SHA suites
 *               (AES128-SHA, AES256-SHA) that AMT 11 and older offer, at
 *               security level 0: OpenSSL 3 refuses TLS 1.0/1.1 signatures
 *               at any higher level.
 *   - the server certificate and its chain, all of it sent in the
 *     handshake (devices trust only the root they were given);
 *   - optionally, client-certificate verification against CAFile (the
 *     guide's mutual-authentication mode, sections 3 and 4.1), with that
 *     file's subjects sent as the acceptable CA list;
 *   - memory settings for many idle tunnels: buffers released while idle,
 *     no session cache and no session tickets (a device holds its tunnel
 *     for hours and reconnects rarely, so resumption saves nothing worth
 *     the per-session memory and ticket-key management).
 *   - no renegotiation from either side, server cipher preference, no
 *     compression.
 *
 * The module does no I/O: the session layer creates SSL objects with
 * SSL_new(ctx) and drives them over its non-blocking sockets or memory
 * BIOs. Per-connection choices stay with it (SSL_MODE_ENABLE_PARTIAL_WRITE,
 * SSL_OP_IGNORE_UNEXPECTED_EOF for devices that close without
 * close_notify).
 *
 * Thread-safety: mps_tls_ctx_create() may run on any thread. Once created,
 * the SSL_CTX must not be modified; SSL_new() and handshakes on different
 * SSL objects may then run concurrently. The describe helpers only read.
 * OpenSSL's error queue is per thread; the functions here leave the
 * calling thread's queue empty.
 */
#ifndef MPS_TLS_H
#define MPS_TLS_H

#include <apr_errno.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"	/* mps_tls_profile_t, mps_verify_client_t, mps_config_t */

/* What an SSL_CTX is built from (mps.config's <TLS> group). */
typedef struct mps_tls_settings_t {
	mps_tls_profile_t profile;	/* MODERN or LEGACY */
	const char *cert_chain_file;	/* PEM: server certificate first, then
					 * the intermediates (the root may follow) */
	const char *key_file;		/* PEM private key of that certificate,
					 * unencrypted; may be cert_chain_file */
	const char *ca_file;		/* PEM roots that device certificates must
					 * chain to; needed unless verify_client is
					 * NONE, ignored then (NULL or "") */
	mps_verify_client_t verify_client; /* NONE, OPTIONAL or REQUIRE */
} mps_tls_settings_t;

/* Room for any message these functions write into err. */
#define MPS_TLS_ERRSIZE 512

/*
 * Fills s from cfg's <TLS> fields. The strings are borrowed from cfg,
 * paths exactly as written (relative ones are relative to the directory
 * mpsd runs in, which is mps.config's).
 */
void mps_tls_settings_from_config(mps_tls_settings_t *s,
    const mps_config_t *cfg);

/*
 * Frees OpenSSL's state of the calling thread (its error queue). The
 * worker threads call it as they end (mps_workers_on_thread_end), so
 * none is left behind when the process exits.
 */
void mps_tls_thread_end(void);

/*
 * Builds a server SSL_CTX from s. On success *ctx is the new context
 * (free it with SSL_CTX_free) and APR_SUCCESS is returned.
 *
 * On failure *ctx is NULL, nothing is left allocated, and err holds one
 * line naming the file and OpenSSL's reason, for example
 *     certificate chain certs/server.pem: no start line
 *     key certs/key.pem does not match the certificate in certs/server.pem
 *     CA file certs/ca.pem: No such file or directory
 * Returns APR_EINVAL for settings that cannot work (no certificate or key
 * path, VerifyClient without CAFile, an unknown enum value) and
 * MPS_ERR_CONFIG for files that cannot be used. err may be NULL when
 * errsize is 0; a message longer than errsize is truncated
 * (MPS_TLS_ERRSIZE holds it whole unless the paths are very long).
 */
apr_status_t mps_tls_ctx_create(SSL_CTX **ctx, const mps_tls_settings_t *s,
    char *err, size_t errsize);

/*
 * One line for the start-up log, e.g.
 *     TLS profile modern: TLSv1.2+
 *     TLS profile legacy: TLSv1.0+, RSA AES-CBC suites, security level 0
 *     (for AMT 11 and older)
 * A static string; an unknown value gives "TLS profile unknown".
 */
const char *mps_tls_profile_describe(mps_tls_profile_t profile);

/*
 * One line for the start-up log: "client certificates: not requested",
 * "client certificates: verified when sent" or "client certificates:
 * required (mutual authentication)". A static string.
 */
const char *mps_tls_verify_client_describe(mps_verify_client_t verify);

/*
 * Describes ctx's server certificate into buf and returns buf, e.g.
 *     server certificate CN=mps.example.com, issuer CN=mpsd root CA,
 *     RSA 2048 bits, 1 chain certificate, valid until Jan  1 00:00:00
 *     2030 GMT
 * with "EXPIRED" or "NOT YET VALID" appended when the clock says so
 * (devices will refuse such a certificate). Truncated to bufsize.
 */
const char *mps_tls_ctx_describe_cert(SSL_CTX *ctx, char *buf,
    size_t bufsize);

/*
 * After a completed handshake: "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256
 * (128 bits)" into buf (truncated to bufsize); returns buf. Before the
 * handshake completes: "no handshake".
 */
const char *mps_tls_describe_handshake(const SSL *ssl, char *buf,
    size_t bufsize);

/*
 * The identity of a device that authenticated with a client certificate:
 * the subject's Common Name (the last one, the most specific, when there
 * are several) as UTF-8, copied into cn.
 *
 * Returns APR_SUCCESS only for a certificate that passed verification
 * during this handshake. APR_NOTFOUND: no certificate was sent (or it
 * has no CN); MPS_ERR_NOT_ALLOWED: a certificate is present but was not
 * verified; MPS_ERR_MALFORMED: the CN is not valid text (NUL or control
 * characters, bad encoding), so it cannot name a device or go into a log;
 * MPS_ERR_TOO_LARGE: it does not fit in cnsize (never truncated: a
 * shortened identity could name another device). cn is "" on failure.
 */
apr_status_t mps_tls_peer_identity(const SSL *ssl, char *cn, size_t cnsize);

/*
 * Why the last OpenSSL call on this thread failed, for a log line: the
 * root cause from the thread's error queue (which is then emptied), with
 * the certificate verification result added when ssl (may be NULL) failed
 * to verify its peer, e.g. "certificate verify failed (unable to get local
 * issuer certificate)" or "unsupported protocol". "unknown error" when the
 * queue is empty. Returns buf.
 */
const char *mps_tls_error_describe(const SSL *ssl, char *buf, size_t bufsize);

#endif /* MPS_TLS_H */
