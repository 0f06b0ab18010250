/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.c: OpenSSL server contexts for the AMT listener (see tls.h).
 *
 * Order matters when a context is built: the security level must be set
 * before the certificate is loaded, because OpenSSL checks the key size
 * and signature of every certificate against the level in force when it
 * is added (a legacy SHA-1 chain is refused at the default level).
 */
#include "tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_errno.h>
#include <apr_general.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"	/* MPS_PRINTF */
#include "mps_status.h"

/*
 * TLS 1.2 and older suites, in server preference order. TLS 1.3 keeps
 * OpenSSL's own three AEAD suites.
 *
 * modern: forward secrecy with AEAD first, then ECDHE with CBC-SHA2, then
 * RSA key exchange with AES-GCM or CBC-SHA2. Which TLS 1.2 suites AMT 12-14
 * firmware offers is not documented publicly; keeping the RSA key exchange
 * suites at the end means such firmware still connects, while every client
 * that offers ECDHE gets ECDHE (the server's preference decides).
 *
 * legacy: the modern list plus the SHA-1 CBC suites, ending with plain-RSA
 * AES128-SHA and AES256-SHA, which is all AMT 11 and older speak.
 */
#define MODERN_CIPHERS \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:" \
	"ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:" \
	"AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256"

#define LEGACY_CIPHERS MODERN_CIPHERS ":" \
	"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:" \
	"ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:" \
	"AES128-SHA:AES256-SHA"

/* Keep OpenSSL's default security level (the modern profile). */
#define SECLEVEL_DEFAULT (-1)

struct tls_profile {
	int min_version;	/* lowest protocol accepted */
	int security_level;	/* SECLEVEL_DEFAULT or 0..5 */
	const char *ciphers;	/* TLS <= 1.2 cipher list */
	const char *description;
};

static const struct tls_profile profiles[] = {
	[MPS_TLS_PROFILE_MODERN] = {
		TLS1_2_VERSION, SECLEVEL_DEFAULT, MODERN_CIPHERS,
		"TLS profile modern: TLSv1.2+"
	},
	[MPS_TLS_PROFILE_LEGACY] = {
		/* OpenSSL 3 refuses the MD5/SHA-1 signatures of TLS 1.0 and
		 * 1.1 at any security level above 0. */
		TLS1_VERSION, 0, LEGACY_CIPHERS,
		"TLS profile legacy: TLSv1.0+, RSA AES-CBC suites, "
		    "security level 0 (for AMT 11 and older)"
	},
};

#define NPROFILES (sizeof(profiles) / sizeof(profiles[0]))

/* Session ID context: any constant; it only has to be set when client
 * certificates are verified, so that a resumption could not skip it. */
static const unsigned char sid_ctx[] = "mpsd";

static const struct tls_profile *
profile_lookup(mps_tls_profile_t p)
{
	if ((unsigned)p >= NPROFILES || profiles[p].description == NULL)
		return NULL;
	return &profiles[p];
}

static int
is_empty(const char *s)
{
	return s == NULL || *s == '\0';
}


/*
 * The root cause among the thread's queued OpenSSL errors, and the queue
 * emptied. OpenSSL pushes errors as a failure unwinds, so the oldest one
 * is the innermost ("no start line", "No such file or directory") and
 * the later ones only say which caller gave up ("PEM lib").
 */
static const char *
queue_reason(char *buf, size_t bufsize)
{
	unsigned long e, first;
	const char *r;

	first = ERR_get_error();
	while ((e = ERR_get_error()) != 0)
		continue;
	if (first == 0) {
		(void)snprintf(buf, bufsize, "unknown error");
		return buf;
	}
	/* ERR_reason_error_string() has no thread-safe text for errno
	 * values; apr_strerror() does. */
	if (ERR_SYSTEM_ERROR(first))
		return apr_strerror((apr_status_t)ERR_GET_REASON(first), buf,
		    bufsize);
	if ((r = ERR_reason_error_string(first)) != NULL)
		(void)snprintf(buf, bufsize, "%s", r);
	else
		ERR_error_string_n(first, buf, bufsize);
	return buf;
}

/* "<what> <path>: <OpenSSL's reason>", and MPS_ERR_CONFIG. */
static apr_status_t
file_error(char *err, size_t errsize, const char *what, const char *path)
{
	char reason[256];

	mps_errtext(err, errsize, "%s %s: %s", what, path,
	    queue_reason(reason, sizeof(reason)));
	return MPS_ERR_CONFIG;
}

/* Whether the oldest queued error is lib/reason (the queue is kept). */
static int
first_error_is(int lib, int reason)
{
	unsigned long e = ERR_peek_error();

	return e != 0 && !ERR_SYSTEM_ERROR(e) && ERR_GET_LIB(e) == lib &&
	    ERR_GET_REASON(e) == reason;
}

/*
 * Password callback: mpsd starts unattended, so an encrypted key must
 * fail at once with a clear message instead of OpenSSL prompting on a
 * terminal that a daemon does not have. userdata, when not NULL, is an
 * int set to 1: OpenSSL asked, so the key is encrypted (the decoder's own
 * error, "interrupted or cancelled", would not say so).
 */
static int
no_password(char *buf, int size, int rwflag, void *userdata)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (userdata != NULL)
		*(int *)userdata = 1;
	return -1;
}

static apr_status_t
check_settings(const mps_tls_settings_t *s, char *err, size_t errsize)
{
	if (s == NULL) {
		mps_errtext(err, errsize, "no TLS settings");
		return APR_EINVAL;
	}
	if (profile_lookup(s->profile) == NULL) {
		mps_errtext(err, errsize, "unknown TLS profile %d", (int)s->profile);
		return APR_EINVAL;
	}
	if (is_empty(s->cert_chain_file)) {
		mps_errtext(err, errsize, "no certificate chain file configured");
		return APR_EINVAL;
	}
	if (is_empty(s->key_file)) {
		mps_errtext(err, errsize, "no key file configured");
		return APR_EINVAL;
	}
	switch (s->verify_client) {
	case MPS_VERIFY_CLIENT_NONE:
		return APR_SUCCESS;
	case MPS_VERIFY_CLIENT_OPTIONAL:
	case MPS_VERIFY_CLIENT_REQUIRE:
		if (is_empty(s->ca_file)) {
			mps_errtext(err, errsize, "client certificate verification "
			    "(VerifyClient %s) needs a CA file",
			    s->verify_client == MPS_VERIFY_CLIENT_REQUIRE ?
			    "require" : "optional");
			return APR_EINVAL;
		}
		return APR_SUCCESS;
	}
	mps_errtext(err, errsize, "unknown VerifyClient value %d",
	    (int)s->verify_client);
	return APR_EINVAL;
}

static apr_status_t
apply_profile(SSL_CTX *ctx, mps_tls_profile_t which, char *err,
    size_t errsize)
{
	const struct tls_profile *p = profile_lookup(which);
	char reason[256];

	if (p->security_level != SECLEVEL_DEFAULT)
		SSL_CTX_set_security_level(ctx, p->security_level);
	if (!SSL_CTX_set_min_proto_version(ctx, p->min_version) ||
	    !SSL_CTX_set_max_proto_version(ctx, 0)) {
		mps_errtext(err, errsize, "cannot set the TLS protocol versions: %s",
		    queue_reason(reason, sizeof(reason)));
		return MPS_ERR_CONFIG;
	}
	if (!SSL_CTX_set_cipher_list(ctx, p->ciphers)) {
		mps_errtext(err, errsize, "cannot set the TLS cipher list: %s",
		    queue_reason(reason, sizeof(reason)));
		return MPS_ERR_CONFIG;
	}
	return APR_SUCCESS;
}

/* Settings that do not depend on the profile. */
static apr_status_t
apply_options(SSL_CTX *ctx, char *err, size_t errsize)
{
	char reason[256];

	/* Peers must not renegotiate (a CPU and state-machine hazard that
	 * AMT never needs); the server's cipher order wins so that a client
	 * offering ECDHE gets it; compression is CRIME; tickets: see tls.h. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_TICKET);
	/* TLS 1.3 would otherwise still send two NewSessionTicket messages
	 * after every handshake. */
	if (!SSL_CTX_set_num_tickets(ctx, 0)) {
		mps_errtext(err, errsize, "cannot disable TLS session tickets: %s",
		    queue_reason(reason, sizeof(reason)));
		return MPS_ERR_CONFIG;
	}
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* An idle connection drops its 16 KiB record buffers: about 13 KiB
	 * instead of 26 KiB per idle tunnel (ARCHITECTURE.md). A write retry
	 * may come from a compacted buffer at another address. */
	(void)SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_default_passwd_cb(ctx, no_password);
	if (!SSL_CTX_set_session_id_context(ctx, sid_ctx,
	    (unsigned int)(sizeof(sid_ctx) - 1))) {
		mps_errtext(err, errsize, "cannot set the TLS session context: %s",
		    queue_reason(reason, sizeof(reason)));
		return MPS_ERR_CONFIG;
	}
	return APR_SUCCESS;
}

/* The server certificate and everything after it in the file, all of
 * which is sent in the handshake. */
static apr_status_t
load_chain(SSL_CTX *ctx, const char *path, char *err, size_t errsize)
{
	if (!SSL_CTX_use_certificate_chain_file(ctx, path))
		return file_error(err, errsize, "certificate chain", path);
	return APR_SUCCESS;
}

/* *encrypted is set when the key asked for a password. */
static EVP_PKEY *
read_key(const char *path, int *encrypted)
{
	BIO *bio;
	EVP_PKEY *pkey;

	*encrypted = 0;
	if ((bio = BIO_new_file(path, "r")) == NULL)
		return NULL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, encrypted);
	BIO_free(bio);
	return pkey;
}

static apr_status_t
mismatch_error(char *err, size_t errsize, const mps_tls_settings_t *s)
{
	ERR_clear_error();
	mps_errtext(err, errsize, "key %s does not match the certificate in %s",
	    s->key_file, s->cert_chain_file);
	return MPS_ERR_CONFIG;
}

/*
 * The key is read here rather than with SSL_CTX_use_PrivateKey_file() so
 * that "cannot read the key" and "the key belongs to another
 * certificate" get different messages.
 */
static apr_status_t
load_key(SSL_CTX *ctx, const mps_tls_settings_t *s, char *err,
    size_t errsize)
{
	EVP_PKEY *pkey;
	char reason[256];
	int ok, encrypted;

	if ((pkey = read_key(s->key_file, &encrypted)) == NULL) {
		if (encrypted) {
			ERR_clear_error();
			mps_errtext(err, errsize, "key %s is encrypted; mpsd needs "
			    "an unencrypted key (readable by mpsd only)",
			    s->key_file);
			return MPS_ERR_CONFIG;
		}
		return file_error(err, errsize, "key", s->key_file);
	}
	ok = SSL_CTX_use_PrivateKey(ctx, pkey);
	EVP_PKEY_free(pkey);
	if (!ok) {
		if (first_error_is(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH))
			return mismatch_error(err, errsize, s);
		mps_errtext(err, errsize, "key %s cannot be used: %s", s->key_file,
		    queue_reason(reason, sizeof(reason)));
		return MPS_ERR_CONFIG;
	}
	/* A key of another type (EC for an RSA certificate) is accepted by
	 * SSL_CTX_use_PrivateKey() into its own slot; this catches it. */
	if (!SSL_CTX_check_private_key(ctx))
		return mismatch_error(err, errsize, s);
	return APR_SUCCESS;
}

/*
 * Device certificates must chain to CAFile. Its subjects also go into
 * the CertificateRequest, so a device holding several client
 * certificates picks the right one.
 */
static apr_status_t
setup_client_verify(SSL_CTX *ctx, const mps_tls_settings_t *s, char *err,
    size_t errsize)
{
	STACK_OF(X509_NAME) *names;
	int mode;

	if (s->verify_client == MPS_VERIFY_CLIENT_NONE) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return APR_SUCCESS;
	}
	if (!SSL_CTX_load_verify_locations(ctx, s->ca_file, NULL))
		return file_error(err, errsize, "CA file", s->ca_file);
	if ((names = SSL_load_client_CA_file(s->ca_file)) == NULL)
		return file_error(err, errsize, "CA file", s->ca_file);
	SSL_CTX_set_client_CA_list(ctx, names);	/* takes ownership */

	/* OPTIONAL: a certificate that is sent must verify, but none is
	 * fine. REQUIRE: no certificate ends the handshake. */
	mode = SSL_VERIFY_PEER;
	if (s->verify_client == MPS_VERIFY_CLIENT_REQUIRE)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	return APR_SUCCESS;
}

void
mps_tls_settings_from_config(mps_tls_settings_t *s, const mps_config_t *cfg)
{
	memset(s, 0, sizeof(*s));
	s->profile = cfg->tls_profile;
	s->cert_chain_file = cfg->tls_cert_chain_file;
	s->key_file = cfg->tls_key_file;
	s->ca_file = cfg->tls_ca_file;
	s->verify_client = cfg->tls_verify_client;
}

apr_status_t
mps_tls_ctx_create(SSL_CTX **out, const mps_tls_settings_t *s, char *err,
    size_t errsize)
{
	SSL_CTX *ctx;
	apr_status_t rv;
	char reason[256];

	*out = NULL;
	mps_errtext(err, errsize, "%s", "");
	/* Stale errors from earlier calls on this thread would be taken for
	 * the cause of ours. */
	ERR_clear_error();
	if ((rv = check_settings(s, err, errsize)) != APR_SUCCESS)
		return rv;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		mps_errtext(err, errsize, "cannot create a TLS context: %s",
		    queue_reason(reason, sizeof(reason)));
		return MPS_ERR_CONFIG;
	}
	if ((rv = apply_profile(ctx, s->profile, err, errsize)) != APR_SUCCESS ||
	    (rv = apply_options(ctx, err, errsize)) != APR_SUCCESS ||
	    (rv = load_chain(ctx, s->cert_chain_file, err, errsize)) !=
	    APR_SUCCESS ||
	    (rv = load_key(ctx, s, err, errsize)) != APR_SUCCESS ||
	    (rv = setup_client_verify(ctx, s, err, errsize)) != APR_SUCCESS) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return rv;
	}
	*out = ctx;
	return APR_SUCCESS;
}

const char *
mps_tls_profile_describe(mps_tls_profile_t profile)
{
	const struct tls_profile *p = profile_lookup(profile);

	return p != NULL ? p->description : "TLS profile unknown";
}

const char *
mps_tls_verify_client_describe(mps_verify_client_t verify)
{
	switch (verify) {
	case MPS_VERIFY_CLIENT_NONE:
		return "client certificates: not requested";
	case MPS_VERIFY_CLIENT_OPTIONAL:
		return "client certificates: verified when sent";
	case MPS_VERIFY_CLIENT_REQUIRE:
		return "client certificates: required (mutual authentication)";
	}
	return "client certificates: unknown setting";
}

/* Appends to buf what fits; buf stays NUL-terminated. */
static void MPS_PRINTF(3, 4)
append(char *buf, size_t bufsize, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= bufsize)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + used, bufsize - used, fmt, ap);
	va_end(ap);
}

/* Writes what BIO printer wrote into a memory BIO to out. */
static const char *
mem_bio_text(BIO *mem, char *out, size_t outsize)
{
	char *data;
	long n;

	n = BIO_get_mem_data(mem, &data);
	if (n < 0)
		n = 0;
	if ((size_t)n >= outsize)
		n = (long)outsize - 1;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	return out;
}

/* name in RFC 2253 form ("CN=x,O=y"). */
static const char *
name_text(const X509_NAME *name, char *out, size_t outsize)
{
	BIO *mem;

	out[0] = '\0';
	if ((mem = BIO_new(BIO_s_mem())) == NULL)
		return out;
	if (X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253) >= 0)
		(void)mem_bio_text(mem, out, outsize);
	BIO_free(mem);
	return out;
}

static const char *
time_text(const ASN1_TIME *t, char *out, size_t outsize)
{
	BIO *mem;

	out[0] = '\0';
	if ((mem = BIO_new(BIO_s_mem())) == NULL)
		return out;
	if (ASN1_TIME_print(mem, t))
		(void)mem_bio_text(mem, out, outsize);
	BIO_free(mem);
	return out;
}

const char *
mps_tls_ctx_describe_cert(SSL_CTX *ctx, char *buf, size_t bufsize)
{
	STACK_OF(X509) *chain = NULL;
	X509 *x;
	EVP_PKEY *pk;
	char subject[256], issuer[256], until[64];
	int nchain;

	if (buf == NULL || bufsize == 0)
		return buf;
	buf[0] = '\0';
	if (ctx == NULL || (x = SSL_CTX_get0_certificate(ctx)) == NULL) {
		append(buf, bufsize, "no server certificate");
		return buf;
	}
	if (!SSL_CTX_get0_chain_certs(ctx, &chain))
		chain = NULL;
	nchain = chain != NULL ? sk_X509_num(chain) : 0;
	append(buf, bufsize, "server certificate %s, issuer %s",
	    name_text(X509_get_subject_name(x), subject, sizeof(subject)),
	    name_text(X509_get_issuer_name(x), issuer, sizeof(issuer)));
	if ((pk = X509_get0_pubkey(x)) != NULL)
		append(buf, bufsize, ", %s %d bits",
		    EVP_PKEY_get0_type_name(pk) != NULL ?
		    EVP_PKEY_get0_type_name(pk) : "key", EVP_PKEY_get_bits(pk));
	append(buf, bufsize, ", %d chain certificate%s, valid until %s",
	    nchain, nchain == 1 ? "" : "s",
	    time_text(X509_get0_notAfter(x), until, sizeof(until)));
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		append(buf, bufsize, " EXPIRED");
	else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		append(buf, bufsize, " NOT YET VALID");
	ERR_clear_error();
	return buf;
}

const char *
mps_tls_describe_handshake(const SSL *ssl, char *buf, size_t bufsize)
{
	const SSL_CIPHER *c;

	if (buf == NULL || bufsize == 0)
		return buf;
	if (ssl == NULL || !SSL_is_init_finished(ssl) ||
	    (c = SSL_get_current_cipher(ssl)) == NULL) {
		(void)snprintf(buf, bufsize, "no handshake");
		return buf;
	}
	(void)snprintf(buf, bufsize, "%s %s (%d bits)", SSL_get_version(ssl),
	    SSL_CIPHER_get_name(c), SSL_CIPHER_get_bits(c, NULL));
	return buf;
}

/*
 * A CN that names a device goes into logs, notifications and registry
 * keys: control characters (a forged newline in a log line) are refused.
 */
static int
printable_utf8(const unsigned char *s, int len)
{
	int i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

apr_status_t
mps_tls_peer_identity(const SSL *ssl, char *cn, size_t cnsize)
{
	X509 *x;
	const X509_NAME *name;
	const ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int i, last = -1, len;
	apr_status_t rv;

	if (cn == NULL || cnsize == 0)
		return MPS_ERR_TOO_LARGE;
	cn[0] = '\0';
	if (ssl == NULL || (x = SSL_get0_peer_certificate(ssl)) == NULL)
		return APR_NOTFOUND;
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return MPS_ERR_NOT_ALLOWED;
	name = X509_get_subject_name(x);
	i = -1;
	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0)
		return APR_NOTFOUND;
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last));
	/* Converts BMPString, UniversalString, ... and checks the encoding;
	 * the result may still contain NULs, checked below. */
	if ((len = ASN1_STRING_to_UTF8(&utf8, data)) < 0) {
		ERR_clear_error();
		return MPS_ERR_MALFORMED;
	}
	if (len == 0 || !printable_utf8(utf8, len))
		rv = MPS_ERR_MALFORMED;
	else if ((size_t)len >= cnsize)
		rv = MPS_ERR_TOO_LARGE;
	else {
		memcpy(cn, utf8, (size_t)len);
		cn[len] = '\0';
		rv = APR_SUCCESS;
	}
	OPENSSL_free(utf8);
	return rv;
}

const char *
mps_tls_error_describe(const SSL *ssl, char *buf, size_t bufsize)
{
	long verify;

	if (buf == NULL || bufsize == 0) {
		ERR_clear_error();
		return buf;
	}
	(void)queue_reason(buf, bufsize);
	if (ssl != NULL && (verify = SSL_get_verify_result(ssl)) != X509_V_OK)
		append(buf, bufsize, " (%s)",
		    X509_verify_cert_error_string(verify));
	return buf;
}

void
mps_tls_thread_end(void)
{
	OPENSSL_thread_stop();
}
