/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_tls.c: the firmware's TLS client, one SSL_CTX shared by every
 * simulated device.
 *
 * Like AMT: no SNI (it is simply never set), the server certificate is
 * checked against the trusted root the device was given (--ca) and its
 * name against the MPS address, and the offered versions and suites are
 * those of the firmware generation chosen by --tls:
 *   legacy  AMT 11 and older: TLS 1.0 only, AES128-SHA / AES256-SHA
 *           (plain RSA key exchange), which OpenSSL 3 allows only at
 *           security level 0.
 *   modern  CSME 15/16+: TLS 1.2 only, ECDHE-RSA with AES-GCM first.
 * Memory matters (benchmarks hold thousands of tunnels per process):
 * buffers are released while idle and nothing is cached for resumption.
 */
#include "sim.h"
#include "sim_ciphers.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

const char *
sim_tls_error_token(char *buf, size_t size)
{
	unsigned long e = ERR_peek_error();
	const char *reason;
	size_t i;

	if (e == 0) {
		(void)snprintf(buf, size, "tls-error");
		return buf;
	}
	reason = ERR_reason_error_string(e);
	(void)snprintf(buf, size, "tls:%s", reason != NULL ? reason :
	    "unknown");
	/* Report lines are space-separated tokens. */
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == ' ')
			buf[i] = '-';
	ERR_clear_error();
	return buf;
}

static int
is_ip_literal(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/*
 * The name the certificate must carry, or NULL for no name check:
 * --server-name when given ("" disables), else the --host when the chain
 * is verified (what firmware compares: the MPS address it was given),
 * else none (--insecure).
 */
static const char *
expected_name(void)
{
	if (sim_opt.server_name != NULL)
		return sim_opt.server_name[0] != '\0' ? sim_opt.server_name :
		    NULL;
	if (sim_opt.insecure)
		return NULL;
	return sim_opt.host;
}

static int
set_verify(SSL_CTX *ctx, char *err, size_t errsize)
{
	X509_VERIFY_PARAM *param;
	const char *name;
	char tok[200];
	int rc;

	if (sim_opt.insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (SSL_CTX_load_verify_locations(ctx, sim_opt.ca_file, NULL) != 1) {
		(void)snprintf(err, errsize, "cannot load CA file %s: %s",
		    sim_opt.ca_file, sim_tls_error_token(tok, sizeof(tok)));
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((name = expected_name()) == NULL)
		return 0;
	/* Set once on the context: SSL_new() copies it into each device. */
	param = SSL_CTX_get0_param(ctx);
	if (is_ip_literal(name))
		rc = X509_VERIFY_PARAM_set1_ip_asc(param, name);
	else
		rc = X509_VERIFY_PARAM_set1_host(param, name, 0);
	if (rc != 1) {
		(void)snprintf(err, errsize, "bad server name %s", name);
		return -1;
	}
	return 0;
}

static int
set_client_cert(SSL_CTX *ctx, char *err, size_t errsize)
{
	char tok[200];
	const char *key;

	if (sim_opt.cert_file == NULL)
		return 0;
	key = sim_opt.key_file != NULL ? sim_opt.key_file : sim_opt.cert_file;
	if (SSL_CTX_use_certificate_chain_file(ctx, sim_opt.cert_file) != 1) {
		(void)snprintf(err, errsize, "cannot load certificate %s: %s",
		    sim_opt.cert_file, sim_tls_error_token(tok, sizeof(tok)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		(void)snprintf(err, errsize, "cannot use key %s: %s", key,
		    sim_tls_error_token(tok, sizeof(tok)));
		return -1;
	}
	return 0;
}

static int
set_profile(SSL_CTX *ctx, char *err, size_t errsize)
{
	int version = TLS1_2_VERSION;
	const char *ciphers = SIM_MODERN_CIPHERS;
	char tok[200];

	if (sim_opt.tls == SIM_TLS_LEGACY) {
		version = TLS1_VERSION;
		ciphers = SIM_LEGACY_CIPHERS;
		SSL_CTX_set_security_level(ctx, 0);
	}
	if (SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, version) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		(void)snprintf(err, errsize, "cannot set the TLS profile: %s",
		    sim_tls_error_token(tok, sizeof(tok)));
		return -1;
	}
	return 0;
}

SSL_CTX *
sim_tls_ctx_new(char *err, size_t errsize)
{
	SSL_CTX *ctx;
	char tok[200];

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		(void)snprintf(err, errsize, "SSL_CTX_new: %s",
		    sim_tls_error_token(tok, sizeof(tok)));
		return NULL;
	}
	if (set_profile(ctx, err, errsize) != 0 ||
	    set_verify(ctx, err, errsize) != 0 ||
	    set_client_cert(ctx, err, errsize) != 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/*
	 * Partial writes and a moving buffer: the output queue is written
	 * a record at a time from wherever its contents currently are.
	 * Released buffers: idle tunnels hold no 16 KiB record buffers.
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	/* Read-ahead: one read() per burst, not two or three per record
	 * (the buffer is held only while it holds bytes). */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx, SIM_TLS_READ_AHEAD);
	/* A server closing without close_notify is a plain EOF here: the
	 * report says who closed, not how politely. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

int
sim_tls_check_name(SSL *ssl, char *err, size_t errsize)
{
	X509 *peer;
	const char *name;
	int rc;

	/* Verified mode checked the name during the handshake already. */
	if (!sim_opt.insecure || (name = expected_name()) == NULL)
		return 0;
	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		(void)snprintf(err, errsize, "no-server-certificate");
		return -1;
	}
	if (is_ip_literal(name))
		rc = X509_check_ip_asc(peer, name, 0);
	else
		rc = X509_check_host(peer, name, strlen(name), 0, NULL);
	if (rc != 1) {
		(void)snprintf(err, errsize, "server-name-mismatch");
		return -1;
	}
	return 0;
}
