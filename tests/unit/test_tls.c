/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tls.c: server contexts from server/tls.c, exercised with real
 * OpenSSL handshakes between an in-memory client and server (a BIO pair,
 * no sockets), and scripts/mps-certgen, which makes the certificates.
 *
 * The fixture runs mps-certgen twice into a temporary directory:
 *   a/  the deployment's CA, server (CN=localhost) and device "dev1"
 *   b/  another CA with a device "stranger" that a must not accept
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_errno.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mps_status.h"
#include "tls.h"

#define TLS_TEMPLATE "/tmp/mps-test-tls-XXXXXX"
static char tmpdir[sizeof(TLS_TEMPLATE)];
static int have_tmpdir;

/*
 * path under the fixture's directory, in one of 32 rotating static
 * buffers: plenty for the few paths a test holds at once.
 */
static const char *
tpath(const char *rel)
{
	static char bufs[32][512];
	static int next;
	char *b = bufs[next++ % 32];
	int n;

	n = snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, rel);
	ck_assert(n > 0 && (size_t)n < sizeof(bufs[0]));
	return b;
}

/*
 * Runs "sh scripts/mps-certgen ARGS..." with stdout going to out_file
 * (stdout carries TAP, so never to ours). Returns its exit status.
 */
static int
run_certgen(const char *out_file, const char *const *args)
{
	const char *argv[24];
	char script[1024];
	pid_t pid;
	int i, n, status, fd;

	n = snprintf(script, sizeof(script), "%s/scripts/mps-certgen",
	    unit_srcdir());
	ck_assert(n > 0 && (size_t)n < sizeof(script));
	argv[0] = "sh";
	argv[1] = script;
	for (i = 0; args[i] != NULL; i++) {
		ck_assert_int_lt(i + 3, 24);
		argv[i + 2] = args[i];
	}
	argv[i + 2] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(out_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(126);
		close(fd);
		execv("/bin/sh", (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void
rm_rf(const char *dir)
{
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			continue;
}

static void
certs_setup(void)
{
	static const char *a_args[] = { "-q", "-o", NULL, "--cn",
	    "localhost", "--device", "dev1", "--bits", "2048", NULL };
	static const char *b_args[] = { "-q", "-o", NULL, "--cn",
	    "localhost", "--device", "stranger", "--bits", "2048", NULL };

	static char a_dir[512], b_dir[512];

	memcpy(tmpdir, TLS_TEMPLATE, sizeof(TLS_TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	have_tmpdir = 1;
	(void)snprintf(a_dir, sizeof(a_dir), "%s", tpath("a"));
	(void)snprintf(b_dir, sizeof(b_dir), "%s", tpath("b"));
	a_args[2] = a_dir;
	b_args[2] = b_dir;
	ck_assert_int_eq(run_certgen(tpath("certgen-a.out"), a_args), 0);
	ck_assert_int_eq(run_certgen(tpath("certgen-b.out"), b_args), 0);
}

static void
certs_teardown(void)
{
	if (have_tmpdir)
		rm_rf(tmpdir);
	have_tmpdir = 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* -- building contexts ---------------------------------------------------- */

static void
settings(mps_tls_settings_t *s, mps_tls_profile_t profile,
    mps_verify_client_t verify)
{
	memset(s, 0, sizeof(*s));
	s->profile = profile;
	s->cert_chain_file = tpath("a/server-chain.pem");
	s->key_file = tpath("a/server-key.pem");
	s->ca_file = verify == MPS_VERIFY_CLIENT_NONE ? NULL :
	    tpath("a/ca.pem");
	s->verify_client = verify;
}

static SSL_CTX *
server_ctx(mps_tls_profile_t profile, mps_verify_client_t verify)
{
	mps_tls_settings_t s;
	SSL_CTX *ctx = NULL;
	char err[MPS_TLS_ERRSIZE];
	apr_status_t rv;

	settings(&s, profile, verify);
	rv = mps_tls_ctx_create(&ctx, &s, err, sizeof(err));
	ck_assert_msg(rv == APR_SUCCESS, "mps_tls_ctx_create: %s", err);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_str_eq(err, "");
	return ctx;
}

/* Creation must fail with rv and a message containing every needle. */
static void
expect_create_error(const mps_tls_settings_t *s, apr_status_t want,
    const char *needle1, const char *needle2)
{
	SSL_CTX *ctx = (SSL_CTX *)1;
	char err[MPS_TLS_ERRSIZE];
	apr_status_t rv;

	rv = mps_tls_ctx_create(&ctx, s, err, sizeof(err));
	ck_assert_msg(rv == want, "rv %d, want %d (%s)", rv, want, err);
	ck_assert_ptr_null(ctx);
	ck_assert_msg(needle1 == NULL || strstr(err, needle1) != NULL,
	    "'%s' lacks '%s'", err, needle1);
	ck_assert_msg(needle2 == NULL || strstr(err, needle2) != NULL,
	    "'%s' lacks '%s'", err, needle2);
	ck_assert_msg(strchr(err, '\n') == NULL, "'%s' is not one line", err);
	/* The error queue is left empty for the caller. */
	ck_assert_int_eq(ERR_peek_error(), 0);
}

/*
 * A client: versions min..max (0 = OpenSSL's bounds), a TLS <= 1.2 cipher
 * list (NULL = default), a client certificate (NULL = none). It always
 * verifies the server against a/ca.pem and the name "localhost", but does
 * not abort on failure, so tests can read the result.
 */
static SSL_CTX *
client_ctx(int min, int max, const char *ciphers, const char *cert,
    const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, min), 1);
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max), 1);
	if (ciphers != NULL)
		ck_assert_int_eq(SSL_CTX_set_cipher_list(ctx, ciphers), 1);
	if (cert != NULL) {
		ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, cert,
		    SSL_FILETYPE_PEM), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, key,
		    SSL_FILETYPE_PEM), 1);
	}
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx,
	    tpath("a/ca.pem"), NULL), 1);
	ck_assert_int_eq(X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(ctx),
	    "localhost", 0), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

/* -- driving handshakes over a BIO pair ----------------------------------- */

typedef struct hs_t {
	SSL *s, *c;		/* server, client */
	int s_state, c_state;	/* 0 pending, 1 done, -1 failed */
	char s_err[256], c_err[256];
} hs_t;

static void
hs_step(SSL *ssl, int *state, char *err, size_t errsize)
{
	int r;

	if (*state != 0)
		return;
	if ((r = SSL_do_handshake(ssl)) == 1) {
		*state = 1;
		return;
	}
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return;
	default:
		*state = -1;
		(void)mps_tls_error_describe(ssl, err, errsize);
	}
}

/* Runs a handshake between a server of sctx and a client of cctx until
 * both sides finish or nothing moves any more. */
static void
hs_run(hs_t *h, SSL_CTX *sctx, SSL_CTX *cctx)
{
	BIO *sbio, *cbio;
	int i;

	memset(h, 0, sizeof(*h));
	ck_assert_int_eq(BIO_new_bio_pair(&sbio, 0, &cbio, 0), 1);
	h->s = SSL_new(sctx);
	h->c = SSL_new(cctx);
	ck_assert_ptr_nonnull(h->s);
	ck_assert_ptr_nonnull(h->c);
	SSL_set_bio(h->s, sbio, sbio);
	SSL_set_bio(h->c, cbio, cbio);
	SSL_set_accept_state(h->s);
	SSL_set_connect_state(h->c);
	for (i = 0; i < 64 && (h->s_state == 0 || h->c_state == 0); i++) {
		hs_step(h->c, &h->c_state, h->c_err, sizeof(h->c_err));
		hs_step(h->s, &h->s_state, h->s_err, sizeof(h->s_err));
	}
}

static void
hs_free(hs_t *h)
{
	SSL_free(h->s);
	SSL_free(h->c);
	ERR_clear_error();
}

static void
expect_ok(const hs_t *h)
{
	ck_assert_msg(h->s_state == 1, "server: %d %s", h->s_state, h->s_err);
	ck_assert_msg(h->c_state == 1, "client: %d %s", h->c_state, h->c_err);
}

/* from writes msg and to reads it, processing on the way anything sent
 * after the handshake (TLS 1.3 session tickets, alerts). Returns the
 * bytes read, or -1 when to's read failed. */
static int
exchange(SSL *from, SSL *to, const char *msg, char *out, size_t outsize)
{
	size_t len = strlen(msg);
	int i, r;

	ck_assert_int_eq(SSL_write(from, msg, (int)len), (int)len);
	for (i = 0; i < 16; i++) {
		r = SSL_read(to, out, (int)outsize - 1);
		if (r > 0) {
			out[r] = '\0';
			return r;
		}
		if (SSL_get_error(to, r) != SSL_ERROR_WANT_READ)
			return -1;
	}
	return -1;
}

/* -- profiles -------------------------------------------------------------- */

#define TLS10_CLIENT_CIPHERS "AES128-SHA:@SECLEVEL=0"

START_TEST(test_modern_refuses_tls10)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(TLS1_VERSION, TLS1_VERSION,
	    TLS10_CLIENT_CIPHERS, NULL, NULL);
	hs_t h;

	hs_run(&h, sctx, cctx);
	ck_assert_int_eq(h.s_state, -1);
	ck_assert_int_eq(h.c_state, -1);
	ck_assert_msg(strstr(h.s_err, "unsupported protocol") != NULL,
	    "server error '%s'", h.s_err);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

START_TEST(test_modern_refuses_tls11)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(TLS1_1_VERSION, TLS1_1_VERSION,
	    TLS10_CLIENT_CIPHERS, NULL, NULL);
	hs_t h;

	hs_run(&h, sctx, cctx);
	ck_assert_int_eq(h.s_state, -1);
	ck_assert_int_eq(h.c_state, -1);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

/* TLS 1.2 from a default client: ECDHE (server preference), the full
 * chain served, and a certificate that verifies for "localhost". */
START_TEST(test_modern_accepts_tls12)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(0, TLS1_2_VERSION, NULL, NULL, NULL);
	STACK_OF(X509) *chain;
	char desc[128];
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(SSL_version(h.s), TLS1_2_VERSION);
	ck_assert_str_eq(SSL_get_cipher_name(h.s),
	    "ECDHE-RSA-AES128-GCM-SHA256");
	chain = SSL_get_peer_cert_chain(h.c);
	ck_assert_ptr_nonnull(chain);
	ck_assert_int_eq(sk_X509_num(chain), 2);
	ck_assert_int_eq(SSL_get_verify_result(h.c), X509_V_OK);
	ck_assert_str_eq(mps_tls_describe_handshake(h.s, desc, sizeof(desc)),
	    "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 (128 bits)");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

START_TEST(test_modern_accepts_tls13)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(0, 0, NULL, NULL, NULL);
	char desc[128];
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(SSL_version(h.s), TLS1_3_VERSION);
	ck_assert_int_eq(sk_X509_num(SSL_get_peer_cert_chain(h.c)), 2);
	ck_assert_int_eq(SSL_get_verify_result(h.c), X509_V_OK);
	ck_assert_ptr_nonnull(strstr(mps_tls_describe_handshake(h.s, desc,
	    sizeof(desc)), "TLSv1.3 TLS_"));
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

/* Modern keeps RSA key exchange with SHA-2 suites for TLS 1.2 firmware
 * without ECDHE, but no SHA-1 suites. */
START_TEST(test_modern_tls12_suites)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *rsa_gcm = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION,
	    "AES128-GCM-SHA256", NULL, NULL);
	SSL_CTX *rsa_sha1 = client_ctx(TLS1_2_VERSION, TLS1_2_VERSION,
	    "AES128-SHA", NULL, NULL);
	hs_t h;

	hs_run(&h, sctx, rsa_gcm);
	expect_ok(&h);
	ck_assert_str_eq(SSL_get_cipher_name(h.s), "AES128-GCM-SHA256");
	hs_free(&h);

	hs_run(&h, sctx, rsa_sha1);
	ck_assert_int_eq(h.s_state, -1);
	ck_assert_msg(strstr(h.s_err, "no shared cipher") != NULL,
	    "server error '%s'", h.s_err);
	hs_free(&h);
	SSL_CTX_free(rsa_sha1);
	SSL_CTX_free(rsa_gcm);
	SSL_CTX_free(sctx);
}
END_TEST

/* What AMT 11 and older offer: TLS 1.0, plain-RSA AES-CBC-SHA. */
START_TEST(test_legacy_accepts_tls10_aes128_sha)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_LEGACY,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(TLS1_VERSION, TLS1_VERSION,
	    TLS10_CLIENT_CIPHERS, NULL, NULL);
	char desc[128], buf[64];
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(SSL_version(h.s), TLS1_VERSION);
	ck_assert_int_eq(SSL_version(h.c), TLS1_VERSION);
	ck_assert_str_eq(SSL_get_cipher_name(h.s), "AES128-SHA");
	ck_assert_int_eq(sk_X509_num(SSL_get_peer_cert_chain(h.c)), 2);
	ck_assert_str_eq(mps_tls_describe_handshake(h.s, desc, sizeof(desc)),
	    "TLSv1 AES128-SHA (128 bits)");
	/* Records flow both ways. */
	ck_assert_int_eq(exchange(h.c, h.s, "hello", buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "hello");
	ck_assert_int_eq(exchange(h.s, h.c, "world", buf, sizeof(buf)), 5);
	ck_assert_str_eq(buf, "world");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

START_TEST(test_legacy_accepts_tls11_aes256_sha)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_LEGACY,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(TLS1_1_VERSION, TLS1_1_VERSION,
	    "AES256-SHA:@SECLEVEL=0", NULL, NULL);
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(SSL_version(h.s), TLS1_1_VERSION);
	ck_assert_str_eq(SSL_get_cipher_name(h.s), "AES256-SHA");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

/* Legacy opens the old suites without handing them to modern clients. */
START_TEST(test_legacy_prefers_modern_suites)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_LEGACY,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *tls12 = client_ctx(0, TLS1_2_VERSION, NULL, NULL, NULL);
	SSL_CTX *tls13 = client_ctx(0, 0, NULL, NULL, NULL);
	hs_t h;

	hs_run(&h, sctx, tls12);
	expect_ok(&h);
	ck_assert_str_eq(SSL_get_cipher_name(h.s),
	    "ECDHE-RSA-AES128-GCM-SHA256");
	hs_free(&h);
	hs_run(&h, sctx, tls13);
	expect_ok(&h);
	ck_assert_int_eq(SSL_version(h.s), TLS1_3_VERSION);
	hs_free(&h);
	SSL_CTX_free(tls13);
	SSL_CTX_free(tls12);
	SSL_CTX_free(sctx);
}
END_TEST

START_TEST(test_profile_descriptions)
{
	ck_assert_str_eq(mps_tls_profile_describe(MPS_TLS_PROFILE_MODERN),
	    "TLS profile modern: TLSv1.2+");
	ck_assert_str_eq(mps_tls_profile_describe(MPS_TLS_PROFILE_LEGACY),
	    "TLS profile legacy: TLSv1.0+, RSA AES-CBC suites, security level 0"
	    " (for AMT 11 and older)");
	ck_assert_str_eq(mps_tls_profile_describe((mps_tls_profile_t)7),
	    "TLS profile unknown");
	ck_assert_str_eq(mps_tls_verify_client_describe(MPS_VERIFY_CLIENT_NONE),
	    "client certificates: not requested");
	ck_assert_str_eq(
	    mps_tls_verify_client_describe(MPS_VERIFY_CLIENT_OPTIONAL),
	    "client certificates: verified when sent");
	ck_assert_str_eq(
	    mps_tls_verify_client_describe(MPS_VERIFY_CLIENT_REQUIRE),
	    "client certificates: required (mutual authentication)");
}
END_TEST

/* The context's settings as OpenSSL reports them. */
START_TEST(test_context_settings)
{
	SSL_CTX *modern = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *legacy = server_ctx(MPS_TLS_PROFILE_LEGACY,
	    MPS_VERIFY_CLIENT_REQUIRE);
	uint64_t want = SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET;

	ck_assert((SSL_CTX_get_options(modern) & want) == want);
	ck_assert((SSL_CTX_get_options(legacy) & want) == want);
	ck_assert(SSL_CTX_get_mode(modern) & SSL_MODE_RELEASE_BUFFERS);
	ck_assert(SSL_CTX_get_mode(legacy) & SSL_MODE_RELEASE_BUFFERS);
	ck_assert_int_eq(SSL_CTX_get_session_cache_mode(modern),
	    SSL_SESS_CACHE_OFF);
	ck_assert_int_eq(SSL_CTX_get_num_tickets(modern), 0);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(modern),
	    TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(legacy), TLS1_VERSION);
	ck_assert_int_ge(SSL_CTX_get_security_level(modern), 1);
	ck_assert_int_eq(SSL_CTX_get_security_level(legacy), 0);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(modern), SSL_VERIFY_NONE);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(legacy),
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	SSL_CTX_free(legacy);
	SSL_CTX_free(modern);
}
END_TEST

/* No session cache, no tickets: the client ends up with nothing it
 * could resume, in TLS 1.3 (after reading past any NewSessionTicket)
 * and in TLS 1.2. */
START_TEST(test_no_resumption_state)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *c13 = client_ctx(0, 0, NULL, NULL, NULL);
	SSL_CTX *c12 = client_ctx(0, TLS1_2_VERSION, NULL, NULL, NULL);
	char buf[64];
	hs_t h;

	SSL_CTX_set_session_cache_mode(c13, SSL_SESS_CACHE_CLIENT);
	hs_run(&h, sctx, c13);
	expect_ok(&h);
	ck_assert_int_eq(exchange(h.s, h.c, "ping", buf, sizeof(buf)), 4);
	ck_assert_int_eq(SSL_SESSION_is_resumable(SSL_get0_session(h.c)), 0);
	hs_free(&h);

	hs_run(&h, sctx, c12);
	expect_ok(&h);
	ck_assert_int_eq(exchange(h.s, h.c, "ping", buf, sizeof(buf)), 4);
	ck_assert_int_eq(SSL_SESSION_is_resumable(SSL_get0_session(h.c)), 0);
	hs_free(&h);
	SSL_CTX_free(c12);
	SSL_CTX_free(c13);
	SSL_CTX_free(sctx);
}
END_TEST

/* A client that asks to renegotiate a TLS 1.2 session is turned down:
 * the connection never goes through a second handshake. */
START_TEST(test_renegotiation_refused)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_LEGACY,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(0, TLS1_2_VERSION, NULL, NULL, NULL);
	char buf[64];
	int i, r;
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(SSL_renegotiate(h.c), 1);
	for (i = 0; i < 16; i++) {
		r = SSL_do_handshake(h.c);
		(void)SSL_read(h.s, buf, sizeof(buf));
		if (r == 1 || SSL_get_error(h.c, r) != SSL_ERROR_WANT_READ)
			break;
	}
	ck_assert_int_eq(SSL_num_renegotiations(h.s), 0);
	ck_assert(SSL_renegotiate_pending(h.c) || r != 1);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

START_TEST(test_describe_cert)
{
	SSL_CTX *ctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	static const char want[] = "server certificate CN=localhost, issuer "
	    "CN=mpsd root CA (localhost),O=mpsd, RSA 2048 bits, 1 chain "
	    "certificate, valid until ";
	char d[512];

	mps_tls_ctx_describe_cert(ctx, d, sizeof(d));
	ck_assert_msg(strncmp(d, want, sizeof(want) - 1) == 0, "'%s'", d);
	ck_assert_msg(strstr(d, "EXPIRED") == NULL, "'%s'", d);
	ck_assert_msg(strstr(d, "GMT") != NULL, "'%s'", d);
	/* Truncation keeps a terminated string. */
	mps_tls_ctx_describe_cert(ctx, d, 10);
	ck_assert_str_eq(d, "server ce");
	ck_assert_str_eq(mps_tls_describe_handshake(NULL, d, sizeof(d)),
	    "no handshake");
	SSL_CTX_free(ctx);
}
END_TEST

START_TEST(test_settings_from_config)
{
	mps_config_t cfg;
	mps_tls_settings_t s;

	memset(&cfg, 0, sizeof(cfg));
	cfg.tls_profile = MPS_TLS_PROFILE_LEGACY;
	cfg.tls_cert_chain_file = "certs/server-chain.pem";
	cfg.tls_key_file = "certs/server-key.pem";
	cfg.tls_ca_file = "certs/ca.pem";
	cfg.tls_verify_client = MPS_VERIFY_CLIENT_OPTIONAL;
	mps_tls_settings_from_config(&s, &cfg);
	ck_assert_int_eq(s.profile, MPS_TLS_PROFILE_LEGACY);
	ck_assert_str_eq(s.cert_chain_file, "certs/server-chain.pem");
	ck_assert_str_eq(s.key_file, "certs/server-key.pem");
	ck_assert_str_eq(s.ca_file, "certs/ca.pem");
	ck_assert_int_eq(s.verify_client, MPS_VERIFY_CLIENT_OPTIONAL);
}
END_TEST

/* -- files that cannot be used --------------------------------------------- */

START_TEST(test_key_mismatch)
{
	mps_tls_settings_t s;
	char want[600];

	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.key_file = tpath("b/server-key.pem");
	(void)snprintf(want, sizeof(want),
	    "key %s does not match the certificate in %s", s.key_file,
	    s.cert_chain_file);
	expect_create_error(&s, MPS_ERR_CONFIG, want, NULL);
	/* The CA's key is no better. */
	s.key_file = tpath("a/ca-key.pem");
	expect_create_error(&s, MPS_ERR_CONFIG, "does not match",
	    s.key_file);
}
END_TEST

/* An EC key for an RSA certificate lands in another slot of the context:
 * still a mismatch. */
START_TEST(test_key_of_other_type)
{
	mps_tls_settings_t s;
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	FILE *f;

	ck_assert_ptr_nonnull(ec);
	f = fopen(tpath("ec-key.pem"), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL,
	    NULL), 1);
	ck_assert_int_eq(fclose(f), 0);
	EVP_PKEY_free(ec);
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.key_file = tpath("ec-key.pem");
	expect_create_error(&s, MPS_ERR_CONFIG, "does not match",
	    s.key_file);
}
END_TEST

START_TEST(test_encrypted_key)
{
	mps_tls_settings_t s;
	EVP_PKEY *key;
	FILE *f;

	f = fopen(tpath("a/server-key.pem"), "r");
	ck_assert_ptr_nonnull(f);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(key);
	f = fopen(tpath("enc-key.pem"), "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(),
	    NULL, 0, NULL, (void *)"secret"), 1);
	ck_assert_int_eq(fclose(f), 0);
	EVP_PKEY_free(key);
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.key_file = tpath("enc-key.pem");
	expect_create_error(&s, MPS_ERR_CONFIG, "is encrypted", s.key_file);
}
END_TEST

START_TEST(test_missing_files)
{
	mps_tls_settings_t s;
	char want[600];

	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.cert_chain_file = tpath("nope/server.pem");
	(void)snprintf(want, sizeof(want),
	    "certificate chain %s: No such file or directory",
	    s.cert_chain_file);
	expect_create_error(&s, MPS_ERR_CONFIG, want, NULL);

	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.key_file = tpath("nope/key.pem");
	(void)snprintf(want, sizeof(want),
	    "key %s: No such file or directory", s.key_file);
	expect_create_error(&s, MPS_ERR_CONFIG, want, NULL);

	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_REQUIRE);
	s.ca_file = tpath("nope/ca.pem");
	expect_create_error(&s, MPS_ERR_CONFIG, "CA file", s.ca_file);
}
END_TEST

START_TEST(test_not_pem)
{
	mps_tls_settings_t s;
	char want[600];

	write_file(tpath("garbage.pem"), "this is not a certificate\n");
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.cert_chain_file = tpath("garbage.pem");
	(void)snprintf(want, sizeof(want), "certificate chain %s: no start line",
	    s.cert_chain_file);
	expect_create_error(&s, MPS_ERR_CONFIG, want, NULL);

	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.key_file = tpath("garbage.pem");
	expect_create_error(&s, MPS_ERR_CONFIG, "key ", s.key_file);

	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_OPTIONAL);
	s.ca_file = tpath("garbage.pem");
	expect_create_error(&s, MPS_ERR_CONFIG, "CA file", s.ca_file);
}
END_TEST

START_TEST(test_bad_settings)
{
	mps_tls_settings_t s;

	expect_create_error(NULL, APR_EINVAL, "no TLS settings", NULL);
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_REQUIRE);
	s.ca_file = "";
	expect_create_error(&s, APR_EINVAL, "VerifyClient require",
	    "needs a CA file");
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_OPTIONAL);
	s.ca_file = NULL;
	expect_create_error(&s, APR_EINVAL, "VerifyClient optional", NULL);
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.cert_chain_file = NULL;
	expect_create_error(&s, APR_EINVAL, "no certificate chain file", NULL);
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.key_file = "";
	expect_create_error(&s, APR_EINVAL, "no key file", NULL);
	settings(&s, (mps_tls_profile_t)9, MPS_VERIFY_CLIENT_NONE);
	expect_create_error(&s, APR_EINVAL, "unknown TLS profile 9", NULL);
	settings(&s, MPS_TLS_PROFILE_MODERN, (mps_verify_client_t)5);
	s.ca_file = tpath("a/ca.pem");
	expect_create_error(&s, APR_EINVAL, "unknown VerifyClient value 5",
	    NULL);
}
END_TEST

/* A chain file that holds the key too (one combined PEM) works for both. */
START_TEST(test_combined_pem)
{
	mps_tls_settings_t s;
	SSL_CTX *ctx = NULL;
	char err[MPS_TLS_ERRSIZE], cmd[2048];
	FILE *out, *in;
	int c;

	(void)snprintf(cmd, sizeof(cmd), "%s", tpath("combined.pem"));
	out = fopen(cmd, "w");
	ck_assert_ptr_nonnull(out);
	in = fopen(tpath("a/server-chain.pem"), "r");
	ck_assert_ptr_nonnull(in);
	while ((c = getc(in)) != EOF)
		putc(c, out);
	fclose(in);
	in = fopen(tpath("a/server-key.pem"), "r");
	ck_assert_ptr_nonnull(in);
	while ((c = getc(in)) != EOF)
		putc(c, out);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	settings(&s, MPS_TLS_PROFILE_MODERN, MPS_VERIFY_CLIENT_NONE);
	s.cert_chain_file = s.key_file = tpath("combined.pem");
	ck_assert_int_eq(mps_tls_ctx_create(&ctx, &s, err, sizeof(err)),
	    APR_SUCCESS);
	SSL_CTX_free(ctx);
}
END_TEST

/* -- client certificates ----------------------------------------------------- */

static void
mutual(mps_tls_profile_t profile, int max_version)
{
	SSL_CTX *sctx = server_ctx(profile, MPS_VERIFY_CLIENT_REQUIRE);
	SSL_CTX *cctx = client_ctx(0, max_version, NULL,
	    tpath("a/device-dev1.pem"), tpath("a/device-dev1-key.pem"));
	const STACK_OF(X509_NAME) *cas;
	char cn[64], name[256];
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, sizeof(cn)),
	    APR_SUCCESS);
	ck_assert_str_eq(cn, "dev1");
	/* The CertificateRequest named the CA of a/ca.pem. */
	cas = SSL_get0_peer_CA_list(h.c);
	ck_assert_ptr_nonnull(cas);
	ck_assert_int_eq(sk_X509_NAME_num(cas), 1);
	X509_NAME_oneline(sk_X509_NAME_value(cas, 0), name, sizeof(name));
	ck_assert_str_eq(name, "/O=mpsd/CN=mpsd root CA (localhost)");
	/* The CN must fit whole, never truncated. */
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, 4), MPS_ERR_TOO_LARGE);
	ck_assert_str_eq(cn, "");
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, 5), APR_SUCCESS);
	ck_assert_str_eq(cn, "dev1");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

START_TEST(test_require_device_cert_tls13)
{
	mutual(MPS_TLS_PROFILE_MODERN, 0);
}
END_TEST

START_TEST(test_require_device_cert_tls12)
{
	mutual(MPS_TLS_PROFILE_MODERN, TLS1_2_VERSION);
}
END_TEST

START_TEST(test_require_device_cert_tls10)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_LEGACY,
	    MPS_VERIFY_CLIENT_REQUIRE);
	SSL_CTX *cctx = client_ctx(TLS1_VERSION, TLS1_VERSION,
	    TLS10_CLIENT_CIPHERS, tpath("a/device-dev1.pem"),
	    tpath("a/device-dev1-key.pem"));
	char cn[64];
	hs_t h;

	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_eq(SSL_version(h.s), TLS1_VERSION);
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, sizeof(cn)),
	    APR_SUCCESS);
	ck_assert_str_eq(cn, "dev1");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

/* A client certificate the server must refuse (NULL: none at all). */
static void
refused(mps_verify_client_t verify, int max_version, const char *cert,
    const char *key, const char *reason)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN, verify);
	SSL_CTX *cctx = client_ctx(0, max_version, NULL, cert, key);
	char cn[64], buf[16];
	hs_t h;

	hs_run(&h, sctx, cctx);
	ck_assert_int_eq(h.s_state, -1);
	ck_assert_msg(strstr(h.s_err, reason) != NULL, "server error '%s'",
	    h.s_err);
	/* In TLS 1.3 the client finishes first; it learns from the alert
	 * as soon as it reads. */
	if (h.c_state == 1)
		ck_assert_int_le(SSL_read(h.c, buf, sizeof(buf)), 0);
	ck_assert_int_ne(mps_tls_peer_identity(h.s, cn, sizeof(cn)),
	    APR_SUCCESS);
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

START_TEST(test_require_no_cert)
{
	refused(MPS_VERIFY_CLIENT_REQUIRE, 0, NULL, NULL,
	    "peer did not return a certificate");
	refused(MPS_VERIFY_CLIENT_REQUIRE, TLS1_2_VERSION, NULL, NULL,
	    "peer did not return a certificate");
}
END_TEST

START_TEST(test_require_other_ca)
{
	refused(MPS_VERIFY_CLIENT_REQUIRE, 0, tpath("b/device-stranger.pem"),
	    tpath("b/device-stranger-key.pem"),
	    "certificate verify failed (unable to get local issuer certificate)");
	refused(MPS_VERIFY_CLIENT_REQUIRE, TLS1_2_VERSION,
	    tpath("b/device-stranger.pem"), tpath("b/device-stranger-key.pem"),
	    "certificate verify failed");
}
END_TEST

/* The server's own certificate (serverAuth only) is no client
 * certificate, though it chains to the right CA. */
START_TEST(test_require_wrong_purpose)
{
	refused(MPS_VERIFY_CLIENT_REQUIRE, 0, tpath("a/server.pem"),
	    tpath("a/server-key.pem"), "unsuitable certificate purpose");
}
END_TEST

START_TEST(test_optional)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_OPTIONAL);
	SSL_CTX *anon = client_ctx(0, 0, NULL, NULL, NULL);
	SSL_CTX *dev = client_ctx(0, 0, NULL, tpath("a/device-dev1.pem"),
	    tpath("a/device-dev1-key.pem"));
	char cn[64];
	hs_t h;

	hs_run(&h, sctx, anon);
	expect_ok(&h);
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, sizeof(cn)),
	    APR_NOTFOUND);
	ck_assert_str_eq(cn, "");
	hs_free(&h);

	hs_run(&h, sctx, dev);
	expect_ok(&h);
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, sizeof(cn)),
	    APR_SUCCESS);
	ck_assert_str_eq(cn, "dev1");
	hs_free(&h);
	SSL_CTX_free(dev);
	SSL_CTX_free(anon);
	SSL_CTX_free(sctx);

	/* A certificate that is sent must still verify. */
	refused(MPS_VERIFY_CLIENT_OPTIONAL, 0, tpath("b/device-stranger.pem"),
	    tpath("b/device-stranger-key.pem"), "certificate verify failed");
}
END_TEST

/* VerifyClient none: no certificate is requested, so none is seen. */
START_TEST(test_none_ignores_client_cert)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *dev = client_ctx(0, 0, NULL, tpath("a/device-dev1.pem"),
	    tpath("a/device-dev1-key.pem"));
	char cn[64];
	hs_t h;

	hs_run(&h, sctx, dev);
	expect_ok(&h);
	ck_assert_ptr_null(SSL_get0_peer_certificate(h.s));
	ck_assert_int_eq(mps_tls_peer_identity(h.s, cn, sizeof(cn)),
	    APR_NOTFOUND);
	hs_free(&h);
	SSL_CTX_free(dev);
	SSL_CTX_free(sctx);
}
END_TEST

/* A certificate that did not verify never yields an identity: here the
 * client side, which kept going (SSL_VERIFY_NONE) against a server whose
 * certificate it cannot verify for the name it wants. */
START_TEST(test_identity_needs_verification)
{
	SSL_CTX *sctx = server_ctx(MPS_TLS_PROFILE_MODERN,
	    MPS_VERIFY_CLIENT_NONE);
	SSL_CTX *cctx = client_ctx(0, 0, NULL, NULL, NULL);
	char cn[64];
	hs_t h;

	ck_assert_int_eq(X509_VERIFY_PARAM_set1_host(SSL_CTX_get0_param(cctx),
	    "mps.example.com", 0), 1);
	hs_run(&h, sctx, cctx);
	expect_ok(&h);
	ck_assert_int_ne(SSL_get_verify_result(h.c), X509_V_OK);
	ck_assert_int_eq(mps_tls_peer_identity(h.c, cn, sizeof(cn)),
	    MPS_ERR_NOT_ALLOWED);
	ck_assert_str_eq(cn, "");
	hs_free(&h);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}
END_TEST

START_TEST(test_error_describe_empty_queue)
{
	char buf[64];

	ERR_clear_error();
	ck_assert_str_eq(mps_tls_error_describe(NULL, buf, sizeof(buf)),
	    "unknown error");
}
END_TEST

/* -- scripts/mps-certgen ----------------------------------------------------- */

/*
 * Each certgen test works in its own directory cgdir, made under cgbase.
 * cgbase belongs to the parent process (an unchecked fixture), so it is
 * removed even when a failed test ends its forked child at once.
 */
#define CG_TEMPLATE "/tmp/mps-test-certgen-XXXXXX"
static char cgbase[sizeof(CG_TEMPLATE)];
static char cgdir[sizeof(CG_TEMPLATE) + 16];

static const char *
cgpath(const char *rel)
{
	static char bufs[4][512];
	static int next;
	char *b = bufs[next++ % 4];

	(void)snprintf(b, sizeof(bufs[0]), "%s/%s", cgdir, rel);
	return b;
}

/* cgdir/out/name */
static const char *
cgout(const char *name)
{
	static char buf[512];

	(void)snprintf(buf, sizeof(buf), "%s/out/%s", cgdir, name);
	return buf;
}

static void
cg_base_setup(void)
{
	memcpy(cgbase, CG_TEMPLATE, sizeof(CG_TEMPLATE));
	ck_assert_ptr_nonnull(mkdtemp(cgbase));
}

static void
cg_base_teardown(void)
{
	if (cgbase[0] != '\0')
		rm_rf(cgbase);
	cgbase[0] = '\0';
}

static void
cg_setup(void)
{
	int n;

	n = snprintf(cgdir, sizeof(cgdir), "%s/t-XXXXXX", cgbase);
	ck_assert(n > 0 && (size_t)n < sizeof(cgdir));
	ck_assert_ptr_nonnull(mkdtemp(cgdir));
}

/* The whole file into buf (NUL-terminated); returns its length. */
static size_t
slurp(const char *path, char *buf, size_t bufsize)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	n = fread(buf, 1, bufsize - 1, f);
	ck_assert_int_eq(ferror(f), 0);
	ck_assert_int_eq(feof(f), 1);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static int
count_certs(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	fclose(f);
	ERR_clear_error();
	return n;
}

static int
file_mode(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

START_TEST(test_certgen_files_and_modes)
{
	const char *args[] = { "-o", NULL, "--device", "amt-01", "--cn",
	    "mps.example.com", "--san", "IP:192.0.2.7", "--guide-names",
	    "--bits", "2048", NULL };
	static const char *keys[] = { "ca-key.pem", "server-key.pem",
	    "device-amt-01-key.pem" };
	static const char *certs[] = { "ca.pem", "server.pem",
	    "server-chain.pem", "device-amt-01.pem" };
	char dir[512], link[256], out[4096];
	X509 *x;
	FILE *f;
	size_t i;
	ssize_t n;

	/* cgpath()'s buffers rotate: keep a copy that lasts. */
	(void)snprintf(dir, sizeof(dir), "%s", cgpath("out"));
	args[1] = dir;
	ck_assert_int_eq(run_certgen(cgpath("run1.txt"), args), 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_int_eq(file_mode(cgout(keys[i])), 0600);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		ck_assert_int_eq(file_mode(cgout(certs[i])), 0644);
	ck_assert_int_eq(count_certs(cgpath("out/server-chain.pem")), 2);
	ck_assert_int_eq(count_certs(cgpath("out/ca.pem")), 1);

	/* The CN is added to the SAN the option gave. */
	f = fopen(cgpath("out/server.pem"), "r");
	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_check_host(x, "mps.example.com", 0, 0, NULL), 1);
	ck_assert_int_eq(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
	ck_assert_int_eq(X509_check_host(x, "localhost", 0, 0, NULL), 0);
	ck_assert(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	ck_assert(!(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT));
	X509_free(x);

	/* The guide's names for stunnel. */
	n = readlink(cgpath("out/cacert.cer"), link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "ca.pem");
	n = readlink(cgpath("out/remote_client.pem"), link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "server-chain.pem");
	n = readlink(cgpath("out/remote_client_key.pem"), link,
	    sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "server-key.pem");
	(void)slurp(cgpath("run1.txt"), out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "created root CA"));
	ck_assert_ptr_nonnull(strstr(out, "SHA-256 fingerprint"));
}
END_TEST

/* A second run keeps every file; --force replaces them. */
START_TEST(test_certgen_idempotent_and_force)
{
	const char *args[] = { "-o", NULL, "--device", "d1", "--bits",
	    "2048", "--cn", "localhost", NULL };
	const char *force_args[] = { "-q", "-o", NULL, "--device", "d1",
	    "--bits", "2048", "--cn", "localhost", "--force", NULL };
	static char ca1[8192], ca2[8192], key1[8192], key2[8192], out[4096];
	char dir[512];

	(void)snprintf(dir, sizeof(dir), "%s", cgpath("out"));
	args[1] = force_args[2] = dir;
	ck_assert_int_eq(run_certgen(cgpath("run1.txt"), args), 0);
	(void)slurp(cgpath("out/ca.pem"), ca1, sizeof(ca1));
	(void)slurp(cgpath("out/device-d1-key.pem"), key1, sizeof(key1));

	ck_assert_int_eq(run_certgen(cgpath("run2.txt"), args), 0);
	(void)slurp(cgpath("out/ca.pem"), ca2, sizeof(ca2));
	(void)slurp(cgpath("out/device-d1-key.pem"), key2, sizeof(key2));
	ck_assert_str_eq(ca1, ca2);
	ck_assert_str_eq(key1, key2);
	(void)slurp(cgpath("run2.txt"), out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "keeping root CA"));
	ck_assert_ptr_nonnull(strstr(out, "keeping server certificate"));
	ck_assert_ptr_nonnull(strstr(out, "keeping device certificate"));
	ck_assert_ptr_null(strstr(out, "created"));

	ck_assert_int_eq(run_certgen(cgpath("run3.txt"), force_args), 0);
	(void)slurp(cgpath("out/ca.pem"), ca2, sizeof(ca2));
	(void)slurp(cgpath("out/device-d1-key.pem"), key2, sizeof(key2));
	ck_assert_str_ne(ca1, ca2);
	ck_assert_str_ne(key1, key2);
	ck_assert_int_eq(slurp(cgpath("run3.txt"), out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_certgen_refuses_bad_input)
{
	const char *bits[] = { "-q", "-o", NULL, "--bits", "1024", NULL };
	const char *dev[] = { "-q", "-o", NULL, "--device", "../x", NULL };
	const char *san[] = { "-q", "-o", NULL, "--san", "URI:x", NULL };
	const char *opt[] = { "-q", "-o", NULL, "--nope", NULL };
	struct stat st;
	char dir[512];

	(void)snprintf(dir, sizeof(dir), "%s", cgpath("out"));
	bits[2] = dev[2] = san[2] = opt[2] = dir;
	ck_assert_int_ne(run_certgen(cgpath("o.txt"), bits), 0);
	ck_assert_int_ne(run_certgen(cgpath("o.txt"), dev), 0);
	ck_assert_int_ne(run_certgen(cgpath("o.txt"), san), 0);
	ck_assert_int_ne(run_certgen(cgpath("o.txt"), opt), 0);
	/* Nothing was created. */
	ck_assert_int_ne(stat(cgpath("out"), &st), 0);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc;

	tc = tcase_create("contexts");
	tcase_add_unchecked_fixture(tc, certs_setup, certs_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_modern_refuses_tls10);
	tcase_add_test(tc, test_modern_refuses_tls11);
	tcase_add_test(tc, test_modern_accepts_tls12);
	tcase_add_test(tc, test_modern_accepts_tls13);
	tcase_add_test(tc, test_modern_tls12_suites);
	tcase_add_test(tc, test_legacy_accepts_tls10_aes128_sha);
	tcase_add_test(tc, test_legacy_accepts_tls11_aes256_sha);
	tcase_add_test(tc, test_legacy_prefers_modern_suites);
	tcase_add_test(tc, test_profile_descriptions);
	tcase_add_test(tc, test_context_settings);
	tcase_add_test(tc, test_no_resumption_state);
	tcase_add_test(tc, test_renegotiation_refused);
	tcase_add_test(tc, test_describe_cert);
	tcase_add_test(tc, test_settings_from_config);
	tcase_add_test(tc, test_key_mismatch);
	tcase_add_test(tc, test_key_of_other_type);
	tcase_add_test(tc, test_encrypted_key);
	tcase_add_test(tc, test_missing_files);
	tcase_add_test(tc, test_not_pem);
	tcase_add_test(tc, test_bad_settings);
	tcase_add_test(tc, test_combined_pem);
	tcase_add_test(tc, test_require_device_cert_tls13);
	tcase_add_test(tc, test_require_device_cert_tls12);
	tcase_add_test(tc, test_require_device_cert_tls10);
	tcase_add_test(tc, test_require_no_cert);
	tcase_add_test(tc, test_require_other_ca);
	tcase_add_test(tc, test_require_wrong_purpose);
	tcase_add_test(tc, test_optional);
	tcase_add_test(tc, test_none_ignores_client_cert);
	tcase_add_test(tc, test_identity_needs_verification);
	tcase_add_test(tc, test_error_describe_empty_queue);
	suite_add_tcase(s, tc);

	tc = tcase_create("certgen");
	tcase_add_unchecked_fixture(tc, cg_base_setup, cg_base_teardown);
	tcase_add_checked_fixture(tc, cg_setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_certgen_files_and_modes);
	tcase_add_test(tc, test_certgen_idempotent_and_force);
	tcase_add_test(tc, test_certgen_refuses_bad_input);
	suite_add_tcase(s, tc);
	return s;
}
