/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_soap_auth.c: the SOAPAuthentication plugin, loaded through the
 * plugin loader as mpsd loads it, against the test SOAP service
 * (tests/peers/soap_auth_service) over HTTP, HTTPS, mutual TLS and an
 * HTTP proxy; plus its DllParameters grammar and its XML, tested
 * directly from the plugin's sources.
 *
 * The services, the certificates (scripts/mps-certgen) and the users
 * file live in a temporary directory made once per test case; the
 * services listen on ports the system picks and die with this program.
 */
#include "unit.h"
#include "plugin_loader.h"
#include "soap_params.h"
#include "soap_test_util.h"
#include "soap_xml.h"

#include <apr_pools.h>
#include <apr_strings.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The users the service knows. */
#define ODD_USER	"o'neil&<co>\""
#define ODD_PASS	"p<&>\"' ]]>\tcr\rlf \xc3\xa9\xe2\x82\xac" \
	"\xf0\x9d\x84\x9e"

static const char users_txt[] =
    "alice:secret\n"
    "bob:b&<>b\n"
    ODD_USER ":" ODD_PASS "\n"
    "echo-user:anything\n";

static apr_pool_t *pool;
static char err[MPS_PLUGIN_ERROR_SIZE];
static struct stu_peer plain, basic, https, mtls, wrongname, proxy;
static mps_auth_plugin_t *plugin;	/* on the plain service */
static unsigned down_port;		/* nothing listens there */

/* ---- helpers ---------------------------------------------------------- */

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Starts the test service with args; waits for its port. */
static void
start_service(struct stu_peer *s, const char *name, const char *const *args)
{
	const char *bin = apr_pstrcat(pool, unit_builddir(),
	    "/tests/peers/soap_auth_service", NULL);
	const char *argv[16];
	int n = 0;

	ck_assert_msg(access(bin, X_OK) == 0, "%s not built", bin);
	argv[n++] = bin;
	argv[n++] = "-watch-stdin";
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	stu_peer_start(s, argv, apr_pstrcat(pool, "service ", name, NULL),
	    stu_path(apr_pstrcat(pool, name, ".log", NULL)));
}

static const char *
url(const char *scheme, unsigned port, const char *path)
{
	return apr_psprintf(pool, "%s://127.0.0.1:%u%s", scheme, port, path);
}

static const char *
plain_url(const char *path)
{
	return url("http", plain.port, path);
}

/* The plugin with other DllParameters (it parses them on every call). */
static mps_auth_plugin_t *
with_params(const char *params)
{
	mps_auth_plugin_t *a = apr_pmemdup(pool, plugin, sizeof(*plugin));

	a->params = params;
	return a;
}

static mps_auth_plugin_t *
target(const char *target_url, const char *more)
{
	return with_params(apr_pstrcat(pool, "-target ", target_url, " ",
	    more, NULL));
}

/*
 * One call. Whatever the outcome, the password must not be in the
 * error: checked for every call of every test.
 */
static int
auth(const mps_auth_plugin_t *a, const char *user, const char *pass)
{
	int ok = mps_auth_plugin_authenticate(a, user, pass, err, sizeof(err));

	if (strlen(pass) >= 3)
		ck_assert_msg(strstr(err, pass) == NULL, "password in \"%s\"",
		    err);
	return ok;
}

static void
assert_granted(const mps_auth_plugin_t *a, const char *user,
    const char *pass)
{
	ck_assert_msg(auth(a, user, pass) == 1, "%s refused: \"%s\" (%s)",
	    user, err, a->params);
	ck_assert_str_eq(err, "");
}

/* Refused for wrong credentials: no error to log. */
static void
assert_denied(const mps_auth_plugin_t *a, const char *user,
    const char *pass)
{
	ck_assert_msg(auth(a, user, pass) == 0, "%s accepted (%s)", user,
	    a->params);
	ck_assert_msg(err[0] == '\0', "%s: unexpected error \"%s\"", user,
	    err);
}

/* Refused with an error that contains want. */
static void
assert_error(const mps_auth_plugin_t *a, const char *user, const char *pass,
    const char *want)
{
	ck_assert_msg(auth(a, user, pass) == 0, "%s accepted (%s)", user,
	    a->params);
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in \"%s\"",
	    want, err);
}

/* The password of user "long": 4 KiB of markup characters. */
#define LONG_PASS	4096

static const char *
long_pass(void)
{
	char *p = apr_palloc(pool, LONG_PASS + 1);
	size_t i;

	for (i = 0; i < LONG_PASS; i++)
		p[i] = "&<>\"'x"[i % 6];
	p[LONG_PASS] = '\0';
	return p;
}

/* ---- fixture ------------------------------------------------------------ */

static void
services_setup(void)
{
	const char *good, *other, *wrong, *users;

	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	stu_begin(pool, "soapauth");
	users = stu_path("users.txt");
	write_file(users, apr_pstrcat(pool, users_txt, "long:", long_pass(),
	    "\n", NULL), sizeof(users_txt) - 1 + 5 + LONG_PASS + 1);

	good = stu_path("good");
	other = stu_path("other");
	wrong = stu_path("wrong");
	stu_certgen(good, "localhost", "DNS:localhost,IP:127.0.0.1",
	    "soapclient");
	stu_certgen(other, "localhost", "DNS:localhost,IP:127.0.0.1", NULL);
	/* The good CA, a certificate for another name. */
	ck_assert_int_eq(mkdir(wrong, 0700), 0);
	stu_copy_file(stu_path("good/ca.pem"), stu_path("wrong/ca.pem"));
	stu_copy_file(stu_path("good/ca-key.pem"),
	    stu_path("wrong/ca-key.pem"));
	stu_certgen(wrong, "wrong.example", "DNS:wrong.example", NULL);

	start_service(&plain, "plain", (const char *[]){ "-users", users,
	    NULL });
	start_service(&basic, "basic", (const char *[]){ "-users", users,
	    "-basic", "svc:svc-password", NULL });
	start_service(&https, "https", (const char *[]){ "-users", users,
	    "-cert", stu_path("good/server-chain.pem"),
	    "-key", stu_path("good/server-key.pem"), NULL });
	start_service(&mtls, "mtls", (const char *[]){ "-users", users,
	    "-cert", stu_path("good/server-chain.pem"),
	    "-key", stu_path("good/server-key.pem"),
	    "-client-ca", stu_path("good/ca.pem"), NULL });
	start_service(&wrongname, "wrongname", (const char *[]){ "-users",
	    users, "-cert", stu_path("wrong/server-chain.pem"),
	    "-key", stu_path("wrong/server-key.pem"), NULL });
	start_service(&proxy, "proxy", (const char *[]){ "-users", users,
	    "-proxy-basic", "pu:proxy-password", NULL });
	down_port = stu_unused_port();

	ck_assert_msg(mps_auth_plugin_load(&plugin, apr_pstrcat(pool,
	    unit_builddir(), "/plugins/SOAPAuthentication.la", NULL), NULL,
	    apr_pstrcat(pool, "-target ",
	    plain_url("/MPSAuthenticationService"), NULL), err, sizeof(err),
	    pool) == APR_SUCCESS, "%s", err);
}

static void
services_teardown(void)
{
	stu_peer_stop(&plain);
	stu_peer_stop(&basic);
	stu_peer_stop(&https);
	stu_peer_stop(&mtls);
	stu_peer_stop(&wrongname);
	stu_peer_stop(&proxy);
	stu_end();
	apr_pool_destroy(pool);
}

/* ---- the service over HTTP --------------------------------------------- */

START_TEST(test_accepted)
{
	assert_granted(plugin, "alice", "secret");
	assert_granted(plugin, "bob", "b&<>b");
}
END_TEST

START_TEST(test_refused)
{
	assert_denied(plugin, "alice", "Secret");
	assert_denied(plugin, "alice", "secret ");
	assert_denied(plugin, "carol", "secret");
	assert_denied(plugin, "bob", "b&amp;<>b");
}
END_TEST

START_TEST(test_empty_credentials)
{
	/* Refused without asking: the target is down, yet no error. */
	mps_auth_plugin_t *a = target(url("http", down_port, "/x"), "");

	assert_denied(a, "alice", "");
	assert_denied(a, "", "secret");
	assert_denied(plugin, "alice", "");
}
END_TEST

START_TEST(test_fault)
{
	assert_error(plugin, "fault-user", "secret",
	    "SOAP Fault: soap:Server: magic fault for fault-user");
}
END_TEST

START_TEST(test_fault_quoting_password)
{
	/* The service quotes the password; the log must not. */
	assert_error(plugin, "echo-user", "Sup3r-Secret!",
	    "SOAP Fault: soap:Client: wrong password *** for echo-user");
	ck_assert_ptr_null(strstr(err, "Sup3r"));
	/* Secrets that are short, or look like the mask. */
	assert_error(plugin, "echo-user", "**", "wrong password ***");
	assert_error(plugin, "echo-user", "ab", "wrong password *** for");
	ck_assert_ptr_null(strstr(err, "ab"));
	assert_error(plugin, "echo-user", "o", "SOAP Fault");
	ck_assert_ptr_null(strchr(err, 'o'));
}
END_TEST

START_TEST(test_http_500)
{
	assert_error(plugin, "http500-user", "secret",
	    "HTTP 500 without a SOAP Fault");
	ck_assert_ptr_nonnull(strstr(err, plain_url("")));
}
END_TEST

START_TEST(test_hang_times_out)
{
	mps_auth_plugin_t *a = target(plain_url("/MPSAuthenticationService"),
	    "-timeout 2");
	double t0 = stu_now(), dt;

	assert_error(a, "hang-user", "secret", "timed out after 2 s");
	dt = stu_now() - t0;
	ck_assert_msg(dt >= 1.8 && dt < 3.5, "took %.2f s", dt);
}
END_TEST

START_TEST(test_service_down)
{
	const char *u = url("http", down_port, "/MPSAuthenticationService");
	double t0 = stu_now();

	assert_error(target(u, ""), "alice", "secret", u);
	ck_assert_msg(strstr(err, "onnect") != NULL, "%s", err);
	ck_assert_msg(stu_now() - t0 < 2, "a refused connection took long");
}
END_TEST

START_TEST(test_unknown_path)
{
	assert_error(target(plain_url("/nowhere"), ""), "alice", "secret",
	    "HTTP 404");
}
END_TEST

START_TEST(test_basic_auth)
{
	const char *u = url("http", basic.port, "/MPSAuthenticationService");

	assert_error(target(u, ""), "alice", "secret",
	    "HTTP 401 Unauthorized: it wants credentials");
	assert_error(target(u, "-user svc -pass svc-passwort"), "alice",
	    "secret", "HTTP 401 Unauthorized: it refused");
	ck_assert_ptr_null(strstr(err, "svc-passwort"));
	assert_granted(target(u, "-user svc -pass svc-password"), "alice",
	    "secret");
	assert_denied(target(u, "-user svc -pass svc-password"), "alice",
	    "wrong");
}
END_TEST

START_TEST(test_special_characters)
{
	/* The service compares what it decoded with its file. */
	assert_granted(plugin, ODD_USER, ODD_PASS);
	/* A CR must arrive as CR, not as the LF XML would make of it. */
	assert_denied(plugin, ODD_USER, "p<&>\"' ]]>\tcr\nlf \xc3\xa9"
	    "\xe2\x82\xac\xf0\x9d\x84\x9e");
	assert_denied(plugin, "o'neil&<co>", ODD_PASS);
}
END_TEST

START_TEST(test_uncarriable_characters)
{
	/* Refused before sending, with a reason that quotes neither. */
	assert_error(plugin, "alice", "sec\x01ret", "password is not UTF-8");
	assert_error(plugin, "alice", "sec\xffret", "password is not UTF-8");
	assert_error(plugin, "alice", "\xc0\xafsecret", "password is not");
	assert_error(plugin, "alice", "\xed\xa0\x80secret", "password is not");
	assert_error(plugin, "al\x1bice", "secret", "user name is not UTF-8");
	ck_assert_ptr_null(strstr(err, "al\x1bice"));
}
END_TEST

START_TEST(test_long_password)
{
	/* Each character escaped: a body of some 20 KiB, for which older
	 * libcurls send "Expect: 100-continue" unless told not to (the
	 * service refuses an Expect header). */
	char *pass = apr_pstrdup(pool, long_pass());
	char *big = apr_palloc(pool, 16386);

	assert_granted(plugin, "long", pass);
	pass[LONG_PASS - 1] = 'y';
	assert_denied(plugin, "long", pass);
	/* 16 KiB is the most the plugin sends. */
	memset(big, 'b', 16384);
	big[16384] = '\0';
	assert_denied(plugin, "long", big);
	big[16384] = 'b';
	big[16385] = '\0';
	assert_error(plugin, "long", big, "longer than 16384 bytes");
}
END_TEST

START_TEST(test_response_styles)
{
	static const char *const paths[] = {
		"/style/unqualified", "/style/prefixed", "/style/defaultns",
		"/style/numeric",
	};
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		mps_auth_plugin_t *a = target(plain_url(paths[i]), "");

		assert_granted(a, "alice", "secret");
		assert_denied(a, "alice", "nope");
	}
}
END_TEST

START_TEST(test_bad_responses)
{
	static const char *const cases[][2] = {
		{ "/bad/doctype", "DOCTYPE" },
		{ "/bad/malformed", "malformed XML" },
		{ "/bad/missing", "holds no AuthenticateResult" },
		{ "/bad/notbool", "not an xs:boolean" },
		{ "/bad/wrongns", "wrong namespace" },
		{ "/bad/soap12", "SOAP 1.2" },
		{ "/bad/twice", "more than one AuthenticateResult" },
		{ "/bad/nested", "AuthenticateResult holds elements" },
		{ "/bad/500-true", "HTTP 500 with an AuthenticateResponse" },
		{ "/bad/fault200", "SOAP Fault: soap:Server: fault sent with "
		    "HTTP 200" },
		{ "/bad/empty", "malformed XML" },
		{ "/bad/html", "no SOAP 1.1 Envelope" },
		{ "/bad/redirect", "HTTP 302 (redirects are not followed" },
		{ "/bad/oversized", "response larger than 65536 bytes" },
		{ "/bad/oversized-chunked", "response larger than 65536 "
		    "bytes" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		mps_auth_plugin_t *a = target(plain_url(cases[i][0]), "");

		assert_error(a, "alice", "secret", cases[i][1]);
		ck_assert_msg(strstr(err, plain_url(cases[i][0])) != NULL ||
		    strncmp(err, "SOAP Fault", 10) == 0, "%s", err);
	}
}
END_TEST

START_TEST(test_environment_proxy_ignored)
{
	ck_assert_int_eq(setenv("http_proxy", url("http", down_port, ""), 1),
	    0);
	ck_assert_int_eq(setenv("all_proxy", url("http", down_port, ""), 1),
	    0);
	assert_granted(plugin, "alice", "secret");
}
END_TEST

START_TEST(test_proxy)
{
	/* The target is down: only the proxy can answer. */
	const char *u = url("http", down_port, "/MPSAuthenticationService");
	const char *p = url("http", proxy.port, "");

	assert_granted(target(u, apr_pstrcat(pool, "-proxy ", p,
	    " -proxyUserName pu -proxyPass proxy-password", NULL)), "alice",
	    "secret");
	assert_denied(target(u, apr_pstrcat(pool, "-proxy ", p,
	    " -proxyUserName pu -proxyPass proxy-password", NULL)), "alice",
	    "secret!");
	assert_error(target(u, apr_pstrcat(pool, "-proxy ", p, NULL)),
	    "alice", "secret", "HTTP 407");
	assert_error(target(u, apr_pstrcat(pool, "-proxy ", p,
	    " -proxyUserName pu -proxyPass proxy-passwort", NULL)), "alice",
	    "secret", "HTTP 407");
	ck_assert_ptr_null(strstr(err, "proxy-passwort"));
	/* A proxy that is down. */
	assert_error(target(plain_url("/MPSAuthenticationService"),
	    apr_pstrcat(pool, "-proxy ", url("http", down_port, ""), NULL)),
	    "alice", "secret", "onnect");
}
END_TEST

/* ---- TLS --------------------------------------------------------------- */

static const char *
cafile(const char *set)
{
	return apr_pstrcat(pool, " -cafile ", stu_path(set), "/ca.pem", NULL);
}

START_TEST(test_https_trusted)
{
	const char *u = url("https", https.port, "/MPSAuthenticationService");

	assert_granted(target(u, cafile("good")), "alice", "secret");
	assert_denied(target(u, cafile("good")), "alice", "wrong");
	assert_granted(target(u, apr_pstrcat(pool, "-tls", cafile("good"),
	    NULL)), "alice", "secret");
	/* The name in the certificate is the name in the URL. */
	assert_granted(target(apr_psprintf(pool, "https://localhost:%u"
	    "/MPSAuthenticationService", https.port), cafile("good")),
	    "alice", "secret");
}
END_TEST

START_TEST(test_https_untrusted)
{
	const char *u = url("https", https.port, "/MPSAuthenticationService");

	assert_error(target(u, cafile("other")), "alice", "secret",
	    "TLS certificate not trusted");
	ck_assert_ptr_nonnull(strstr(err, u));
	/* The system's CAs do not know ours either. */
	assert_error(target(u, ""), "alice", "secret",
	    "TLS certificate not trusted");
	/* A trusted certificate for another name. */
	assert_error(target(url("https", wrongname.port,
	    "/MPSAuthenticationService"), cafile("good")), "alice", "secret",
	    "TLS certificate not trusted");
	/* Only an explicit -insecure skips verification. */
	assert_granted(target(u, "-insecure"), "alice", "secret");
}
END_TEST

START_TEST(test_https_plain_service)
{
	/* https to a plain HTTP service: a TLS error, no grant. */
	assert_error(target(url("https", plain.port,
	    "/MPSAuthenticationService"), cafile("good")), "alice", "secret",
	    url("https", plain.port, ""));
}
END_TEST

START_TEST(test_mutual_tls)
{
	const char *u = url("https", mtls.port, "/MPSAuthenticationService");
	const char *cert = stu_path("good/device-soapclient.pem");
	const char *key = stu_path("good/device-soapclient-key.pem");
	const char *both = stu_path("client-both.pem");
	char *pem, *kpem;
	apr_size_t n1, n2;
	FILE *f;

	assert_granted(target(u, apr_pstrcat(pool, cafile("good"), " -cert ",
	    cert, " -key ", key, NULL)), "alice", "secret");
	/* The key in the certificate's file. */
	f = fopen(cert, "rb");
	ck_assert_ptr_nonnull(f);
	pem = apr_palloc(pool, 8192);
	n1 = fread(pem, 1, 8192, f);
	fclose(f);
	f = fopen(key, "rb");
	ck_assert_ptr_nonnull(f);
	kpem = apr_palloc(pool, 8192);
	n2 = fread(kpem, 1, 8192, f);
	fclose(f);
	write_file(both, apr_pstrcat(pool, apr_pstrmemdup(pool, pem, n1),
	    apr_pstrmemdup(pool, kpem, n2), NULL), n1 + n2);
	assert_granted(target(u, apr_pstrcat(pool, cafile("good"), " -cert ",
	    both, NULL)), "alice", "secret");
	/* No client certificate: the service hangs up. */
	assert_error(target(u, cafile("good")), "alice", "secret", u);
	/* A client certificate that is no certificate. */
	assert_error(target(u, apr_pstrcat(pool, cafile("good"), " -cert ",
	    stu_path("users.txt"), NULL)), "alice", "secret",
	    "cannot use the client certificate");
}
END_TEST

/* ---- loading ----------------------------------------------------------- */

static apr_status_t
load(mps_auth_plugin_t **a, const char *params)
{
	err[0] = '\0';
	return mps_auth_plugin_load(a, apr_pstrcat(pool, unit_builddir(),
	    "/plugins/SOAPAuthentication.la", NULL), NULL, params, err,
	    sizeof(err), pool);
}

START_TEST(test_init_refusals)
{
	static const char *const cases[][2] = {
		{ "", "-target URL is required" },
		{ "-target http://h/x -krb", "Kerberos is not supported" },
		{ "-target http://h/x -tls", "-tls requires an https://" },
		{ "-target http://h/x -bogus 1", "unknown option -bogus" },
		{ "-target https://h/x -cafile /nonexistent/ca.pem",
		    "cannot read -cafile /nonexistent/ca.pem: No such file" },
		{ "-target https://h/x -cert /nonexistent/c.pem",
		    "cannot read -cert /nonexistent/c.pem" },
		{ "-target https://h/x -cert /dev/null -key /nonexistent/k",
		    "cannot read -key /nonexistent/k" },
		{ "-target http://h/x -user u -pass Pa55word -timeout 0",
		    "-timeout wants a whole number" },
	};
	mps_auth_plugin_t *a = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(load(&a, cases[i][0]) != APR_SUCCESS,
		    "\"%s\" loaded", cases[i][0]);
		ck_assert_msg(strstr(err, cases[i][1]) != NULL,
		    "want \"%s\" in \"%s\"", cases[i][1], err);
		ck_assert_ptr_null(strstr(err, "Pa55word"));
	}
	/* Authenticate itself refuses bad parameters too. */
	assert_error(with_params("-target http://h/x -tls"), "alice",
	    "secret", "-tls requires");
}
END_TEST

START_TEST(test_two_roles)
{
	mps_auth_plugin_t *amt = NULL, *socks = NULL;
	apr_pool_t *sub;
	const char *u = url("https", https.port, "/MPSAuthenticationService");

	/* One file, two roles, two sets of parameters. */
	ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
	ck_assert_msg(load(&amt, apr_pstrcat(pool, "-target ", u,
	    cafile("good"), NULL)) == APR_SUCCESS, "%s", err);
	err[0] = '\0';
	ck_assert_msg(mps_auth_plugin_load(&socks, apr_pstrcat(pool,
	    unit_builddir(), "/plugins/SOAPAuthentication.la", NULL), NULL,
	    apr_pstrcat(pool, "-target ", url("http", basic.port,
	    "/MPSAuthenticationService"), " -user svc -pass svc-password",
	    NULL), err, sizeof(err), sub) == APR_SUCCESS, "%s", err);
	assert_granted(amt, "alice", "secret");
	assert_granted(socks, "bob", "b&<>b");
	assert_denied(socks, "alice", "b&<>b");
	/* Unloading one role (fini) leaves the other working. */
	apr_pool_destroy(sub);
	assert_granted(amt, "alice", "secret");
	assert_granted(plugin, "alice", "secret");
}
END_TEST

/* ---- concurrency ------------------------------------------------------- */

#define THREADS	8
#define CALLS	50

struct job {
	const mps_auth_plugin_t *plain, *tls;
	int id;
	int wrong;		/* calls answered wrongly */
	char first[MPS_PLUGIN_ERROR_SIZE + 64];	/* the first wrong one */
};

static void *
job_run(void *arg)
{
	struct job *j = arg;
	char e[MPS_PLUGIN_ERROR_SIZE];
	int i, ok, good;

	for (i = 0; i < CALLS; i++) {
		switch ((i + j->id) % 5) {
		case 0:
			ok = mps_auth_plugin_authenticate(j->plain, "alice",
			    "secret", e, sizeof(e));
			good = ok == 1 && e[0] == '\0';
			break;
		case 1:
			ok = mps_auth_plugin_authenticate(j->plain, "alice",
			    "secreT", e, sizeof(e));
			good = ok == 0 && e[0] == '\0';
			break;
		case 2:
			ok = mps_auth_plugin_authenticate(j->plain, ODD_USER,
			    ODD_PASS, e, sizeof(e));
			good = ok == 1 && e[0] == '\0';
			break;
		case 3:
			ok = mps_auth_plugin_authenticate(j->plain,
			    "fault-user", "secret", e, sizeof(e));
			good = ok == 0 && strstr(e, "magic fault") != NULL;
			break;
		default:
			ok = mps_auth_plugin_authenticate(j->tls, "bob",
			    (i / 5) % 2 ? "b&<>b" : "b&<>B", e, sizeof(e));
			good = ok == ((i / 5) % 2) && e[0] == '\0';
		}
		if (!good && j->wrong++ == 0)
			snprintf(j->first, sizeof(j->first), "call %d: %d "
			    "\"%s\"", i, ok, e);
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct job jobs[THREADS];
	pthread_t tids[THREADS];
	mps_auth_plugin_t *tls = target(url("https", https.port,
	    "/MPSAuthenticationService"), cafile("good"));
	int i;

	for (i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].plain = plugin;
		jobs[i].tls = tls;
		jobs[i].id = i;
		ck_assert_int_eq(pthread_create(&tids[i], NULL, job_run,
		    &jobs[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
	for (i = 0; i < THREADS; i++)
		ck_assert_msg(jobs[i].wrong == 0, "thread %d: %d wrong, %s", i,
		    jobs[i].wrong, jobs[i].first);
}
END_TEST

/* ---- DllParameters, parsed directly ------------------------------------ */

static struct soap_params params;
static char perr[512];

static int
parse(const char *s)
{
	mps_soap_params_clear(&params);
	perr[0] = '\0';
	return mps_soap_params_parse(&params, s, perr, sizeof(perr));
}

static void
params_teardown(void)
{
	mps_soap_params_clear(&params);
}

START_TEST(test_params_every_option)
{
	ck_assert_msg(parse("-target https://h.example:7792/MPSAuth "
	    "-user \"ad min\" -pass \"a\\\"b\\\\c d\" -cert c.pem -key k.pem "
	    "-cafile ca.pem -tls -connect-timeout 3 -timeout 7 "
	    "-proxy http://proxy:3128 -proxyUserName pu "
	    "-proxyPass \"p p\"") == 0, "%s", perr);
	ck_assert_str_eq(params.target, "https://h.example:7792/MPSAuth");
	ck_assert_int_eq(params.https, 1);
	ck_assert_str_eq(params.user, "ad min");
	ck_assert_str_eq(params.pass, "a\"b\\c d");
	ck_assert_str_eq(params.cert, "c.pem");
	ck_assert_str_eq(params.key, "k.pem");
	ck_assert_str_eq(params.cafile, "ca.pem");
	ck_assert_int_eq(params.tls, 1);
	ck_assert_int_eq(params.insecure, 0);
	ck_assert_int_eq(params.connect_timeout, 3);
	ck_assert_int_eq(params.timeout, 7);
	ck_assert_str_eq(params.proxy, "http://proxy:3128");
	ck_assert_str_eq(params.proxy_user, "pu");
	ck_assert_str_eq(params.proxy_pass, "p p");
}
END_TEST

START_TEST(test_params_defaults_and_forms)
{
	ck_assert_int_eq(parse("  -target\thttp://h/x  "), 0);
	ck_assert_str_eq(params.target, "http://h/x");
	ck_assert_int_eq(params.https, 0);
	ck_assert_ptr_null(params.user);
	ck_assert_ptr_null(params.cafile);
	ck_assert_ptr_null(params.proxy);
	ck_assert_int_eq(params.connect_timeout, SOAP_DEFAULT_CONNECT_TIMEOUT);
	ck_assert_int_eq(params.timeout, SOAP_DEFAULT_TIMEOUT);
	/* The guide's example. */
	ck_assert_int_eq(parse("-target http://hostname:7792/"
	    "MPSAuthenticationService -user admin -pass Admin!123"), 0);
	ck_assert_str_eq(params.user, "admin");
	ck_assert_str_eq(params.pass, "Admin!123");
	/* Two dashes and any case, as the guide writes them. */
	ck_assert_int_eq(parse("--target http://h/x -PROXYUSERNAME u "
	    "--proxypass p -Proxy h:1"), 0);
	ck_assert_str_eq(params.proxy_user, "u");
	ck_assert_str_eq(params.proxy_pass, "p");
	ck_assert_str_eq(params.proxy, "h:1");
	/* Quotes anywhere in a word; backslashes literal outside them. */
	ck_assert_int_eq(parse("-target \"http://h/x\" -user a\"b c\"d "
	    "-pass C:\\dir\\x -cafile \"\""), 0);
	ck_assert_str_eq(params.target, "http://h/x");
	ck_assert_str_eq(params.user, "ab cd");
	ck_assert_str_eq(params.pass, "C:\\dir\\x");
	ck_assert_str_eq(params.cafile, "");
	/* A value may start with a dash. */
	ck_assert_int_eq(parse("-target http://h/x -user u -pass -timeout"),
	    0);
	ck_assert_str_eq(params.pass, "-timeout");
	ck_assert_int_eq(params.timeout, SOAP_DEFAULT_TIMEOUT);
	ck_assert_int_eq(parse("-target https://h/x -insecure -timeout 3600 "
	    "-connect-timeout 1"), 0);
	ck_assert_int_eq(params.insecure, 1);
	ck_assert_int_eq(params.timeout, 3600);
	ck_assert_int_eq(params.connect_timeout, 1);
	ck_assert_int_eq(parse("-target HTTPS://h/x -tls"), 0);
	ck_assert_int_eq(params.https, 1);
	ck_assert_int_eq(parse("-target http://h/x -proxy socks5h://p:1080"),
	    0);
}
END_TEST

START_TEST(test_params_errors)
{
	static const char *const cases[][2] = {
		{ "", "-target URL is required" },
		{ "   ", "-target URL is required" },
		{ "-user u -pass S3cr3t!", "-target URL is required" },
		{ "-target", "-target needs a value" },
		{ "-target http://h/x -user u -pass", "-pass needs a value" },
		{ "-target http://h/x -user \"u -pass S3cr3t!",
		    "unterminated double quote" },
		{ "-target http://h/x -frobnicate", "unknown option "
		    "-frobnicate" },
		{ "-target http://h/x -p@S3cr3t!", "word 3 is an unknown "
		    "option" },
		{ "-target http://h/x -user u S3cr3t!", "word 5 is not an "
		    "option" },
		{ "-target http://h/x -target http://h/y", "-target given "
		    "twice" },
		{ "-target http://h/x -tls -tls", "-tls given twice" },
		{ "-target http://h/x -user u", "-user and -pass go together" },
		{ "-target http://h/x -pass S3cr3t!", "-user and -pass go "
		    "together" },
		{ "-target https://h/x -key k.pem", "-key needs -cert" },
		{ "-target http://h/x -cert c.pem", "-cert needs an https://" },
		{ "-target http://h/x -tls", "-tls requires an https://" },
		{ "-target https://h/x -insecure -cafile ca.pem",
		    "-insecure and -cafile contradict" },
		{ "-target http://h/x -proxyUserName u -proxyPass S3cr3t!",
		    "-proxyUserName needs -proxy" },
		{ "-target http://h/x -proxy p:1 -proxyPass S3cr3t!",
		    "-proxyUserName and -proxyPass go together" },
		{ "-target http://h/x -proxy ftp://p:1", "unsupported scheme "
		    "ftp" },
		{ "-target http://h/x -proxy http://u:S3cr3t!@p:1",
		    "-proxy must not hold credentials" },
		{ "-target ftp://h/x", "must be an http:// or https:// URL" },
		{ "-target h/x", "-target is not a valid URL" },
		{ "-target http://", "-target is not a valid URL" },
		{ "-target \"http://h/a b\"", "-target is not a valid URL" },
		{ "-target http://admin:S3cr3t!@h/x", "-target must not hold "
		    "credentials (use -user and -pass)" },
		{ "-target http://h/x -krb", "Kerberos is not supported" },
		{ "-target http://h/x -timeout 0", "-timeout wants a whole" },
		{ "-target http://h/x -timeout -1", "-timeout wants a whole" },
		{ "-target http://h/x -timeout 5s", "-timeout wants a whole" },
		{ "-target http://h/x -timeout 3601", "-timeout wants a "
		    "whole" },
		{ "-target http://h/x -timeout 99999999999999999999",
		    "-timeout wants a whole" },
		{ "-target http://h/x -connect-timeout x", "-connect-timeout "
		    "wants" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(parse(cases[i][0]) != 0, "\"%s\" accepted",
		    cases[i][0]);
		ck_assert_msg(strstr(perr, cases[i][1]) != NULL,
		    "\"%s\": want \"%s\" in \"%s\"", cases[i][0], cases[i][1],
		    perr);
		ck_assert_msg(strstr(perr, "S3cr3t") == NULL, "secret in "
		    "\"%s\"", perr);
	}
}
END_TEST

START_TEST(test_params_limits)
{
	char *many = apr_palloc(pool, 70 * 3 + 32), *huge;
	size_t n, i;

	/* 64 words is the most. */
	n = (size_t)sprintf(many, "-target http://h/x");
	for (i = 0; i < 31; i++)
		n += (size_t)sprintf(many + n, " -tls");
	ck_assert_int_ne(parse(many), 0);	/* twice, but not too many */
	ck_assert_ptr_nonnull(strstr(perr, "given twice"));
	for (i = 0; i < 40; i++)
		n += (size_t)sprintf(many + n, " x");
	ck_assert_int_ne(parse(many), 0);
	ck_assert_ptr_nonnull(strstr(perr, "more than 64 words"));
	huge = apr_palloc(pool, SOAP_PARAMS_MAX + 64);
	n = (size_t)sprintf(huge, "-target http://h/");
	memset(huge + n, 'a', SOAP_PARAMS_MAX);
	huge[n + SOAP_PARAMS_MAX] = '\0';
	ck_assert_int_ne(parse(huge), 0);
	ck_assert_ptr_nonnull(strstr(perr, "longer than 8192 bytes"));
}
END_TEST

/* ---- the XML, directly -------------------------------------------------- */

START_TEST(test_request_body)
{
	char *body = NULL;
	size_t len = 0;
	char e[256] = "";

	ck_assert_int_eq(mps_soap_build_request("a&b", "<p>\"'\r\t\n",
	    &body, &len, e, sizeof(e)), 0);
	ck_assert_uint_eq(strlen(body), len);
	ck_assert_ptr_nonnull(strstr(body, "<mpa:AuthenticateRequest xmlns:"
	    "mpa=\"" SOAP_MPA_NS "\"><mpa:AuthenticateId>a&amp;b"
	    "</mpa:AuthenticateId><mpa:AuthenticatePassword>&lt;p&gt;&quot;"
	    "&apos;&#13;\t\n</mpa:AuthenticatePassword>"
	    "</mpa:AuthenticateRequest>"));
	ck_assert_ptr_nonnull(strstr(body, "<soap:Envelope xmlns:soap=\""
	    SOAP_ENV_NS "\"><soap:Body>"));
	free(body);
	/* U+FFFE and U+FFFF are no XML characters; U+10FFFF is. */
	ck_assert_int_ne(mps_soap_build_request("u", "\xef\xbf\xbe", &body,
	    &len, e, sizeof(e)), 0);
	ck_assert_ptr_null(body);
	ck_assert_int_ne(mps_soap_build_request("u", "\xf4\x90\x80\x80",
	    &body, &len, e, sizeof(e)), 0);
	ck_assert_int_eq(mps_soap_build_request("u", "\xf4\x8f\xbf\xbf",
	    &body, &len, e, sizeof(e)), 0);
	free(body);
	/* Truncated sequences at the end. */
	ck_assert_int_ne(mps_soap_build_request("u", "ab\xe2\x82", &body,
	    &len, e, sizeof(e)), 0);
	ck_assert_int_ne(mps_soap_build_request("u\xc3", "p", &body, &len, e,
	    sizeof(e)), 0);
	ck_assert_ptr_nonnull(strstr(e, "user name"));
}
END_TEST

static void
assert_parsed(const char *xml, enum soap_outcome want, const char *detail)
{
	struct soap_response r;

	mps_soap_parse_response(xml, strlen(xml), NULL, 0, &r);
	ck_assert_msg(r.outcome == want, "%s: outcome %d, want %d (%s)", xml,
	    r.outcome, want, r.error);
	if (detail == NULL)
		return;
	if (want == SOAP_INVALID)
		ck_assert_msg(strstr(r.error, detail) != NULL, "want \"%s\" in "
		    "\"%s\"", detail, r.error);
	else
		ck_assert_msg(strstr(r.faultstring, detail) != NULL ||
		    strstr(r.faultcode, detail) != NULL, "want \"%s\" in "
		    "\"%s: %s\"", detail, r.faultcode, r.faultstring);
}

#define ENV(body) "<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\"><s:Body>" body \
	"</s:Body></s:Envelope>"
#define RESP(result) "<m:AuthenticateResponse xmlns:m=\"" SOAP_MPA_NS "\">" \
	result "</m:AuthenticateResponse>"

START_TEST(test_response_parsing)
{
	assert_parsed(ENV(RESP("<m:AuthenticateResult>true"
	    "</m:AuthenticateResult>")), SOAP_GRANTED, NULL);
	assert_parsed(ENV(RESP("<m:AuthenticateResult>\n 1\t"
	    "</m:AuthenticateResult>")), SOAP_GRANTED, NULL);
	assert_parsed(ENV(RESP("<m:AuthenticateResult>0"
	    "</m:AuthenticateResult>")), SOAP_DENIED, NULL);
	assert_parsed(ENV(RESP("<AuthenticateResult>false"
	    "</AuthenticateResult>")), SOAP_DENIED, NULL);
	/* xs:boolean is case-sensitive. */
	assert_parsed(ENV(RESP("<m:AuthenticateResult>True"
	    "</m:AuthenticateResult>")), SOAP_INVALID, "xs:boolean");
	assert_parsed(ENV(RESP("<m:AuthenticateResult></m:AuthenticateResult>"
	    )), SOAP_INVALID, "xs:boolean");
	assert_parsed(ENV(RESP("<m:AuthenticateResult>t<!-- -->rue"
	    "</m:AuthenticateResult>")), SOAP_GRANTED, NULL);
	/* In another namespace, the result is not ours. */
	assert_parsed(ENV(RESP("<x:AuthenticateResult xmlns:x=\"urn:x\">true"
	    "</x:AuthenticateResult>")), SOAP_INVALID, "unexpected element");
	assert_parsed(ENV(RESP("<m:Other/><m:AuthenticateResult>true"
	    "</m:AuthenticateResult>")), SOAP_INVALID, "unexpected element");
	assert_parsed(ENV(RESP("<m:AuthenticateResult>" "                "
	    "                                                  true"
	    "</m:AuthenticateResult>")), SOAP_INVALID, "too long");
	assert_parsed(ENV(RESP("<m:AuthenticateResult>true"
	    "</m:AuthenticateResult>") RESP("<m:AuthenticateResult>true"
	    "</m:AuthenticateResult>")), SOAP_INVALID, "more than one element");
	assert_parsed("<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\"/>",
	    SOAP_INVALID, "no SOAP Body");
	assert_parsed(ENV(""), SOAP_INVALID, "holds no AuthenticateResponse");
	assert_parsed("<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\"><s:Body/>"
	    "<s:Body/></s:Envelope>", SOAP_INVALID, "more than one SOAP Body");
	assert_parsed("<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\"><s:Trailer/>"
	    "</s:Envelope>", SOAP_INVALID, "unexpected element Trailer");
	assert_parsed(ENV(RESP("<m:AuthenticateResult>true"
	    "</m:AuthenticateResult>")) "<junk/>", SOAP_INVALID,
	    "malformed XML");
	assert_parsed(ENV(RESP("<m:AuthenticateResult>&bogus;"
	    "</m:AuthenticateResult>")), SOAP_INVALID, "malformed XML");
	assert_parsed("<?xml version=\"1.0\"?><!DOCTYPE x SYSTEM \"x.dtd\">"
	    ENV(""), SOAP_INVALID, "DOCTYPE");
	/* UTF-16, declared and marked: expat converts it. */
	{
		static const char utf16[] = "\xff\xfe<\0x\0/\0>\0";
		struct soap_response r;

		mps_soap_parse_response(utf16, sizeof(utf16) - 1, NULL, 0, &r);
		ck_assert_int_eq(r.outcome, SOAP_INVALID);
		ck_assert_ptr_nonnull(strstr(r.error, "no SOAP 1.1 Envelope"));
	}
}
END_TEST

START_TEST(test_fault_parsing)
{
	struct soap_response r;
	char *xml;
	size_t n;

	assert_parsed(ENV("<s:Fault><faultcode>s:Client</faultcode>"
	    "<faultstring>bad\r\n\tthing</faultstring></s:Fault>"),
	    SOAP_FAULT, "bad thing");
	/* Qualified fields, a detail, no faultstring. */
	mps_soap_parse_response(ENV("<s:Fault><s:faultcode> s:Server "
	    "</s:faultcode><detail><faultstring>no</faultstring></detail>"
	    "</s:Fault>"), strlen(ENV("<s:Fault><s:faultcode> s:Server "
	    "</s:faultcode><detail><faultstring>no</faultstring></detail>"
	    "</s:Fault>")), NULL, 0, &r);
	ck_assert_int_eq(r.outcome, SOAP_FAULT);
	ck_assert_str_eq(r.faultcode, "s:Server");
	ck_assert_str_eq(r.faultstring, "");
	/* A long faultstring is cut, on a character boundary. */
	xml = apr_palloc(pool, 4096);
	n = (size_t)sprintf(xml, "<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\">"
	    "<s:Body><s:Fault><faultcode>c</faultcode><faultstring>a");
	for (; n < 2000; n += 2)
		memcpy(xml + n, "\xc3\xa9", 2);
	n += (size_t)sprintf(xml + n, "</faultstring></s:Fault></s:Body>"
	    "</s:Envelope>");
	mps_soap_parse_response(xml, n, NULL, 0, &r);
	ck_assert_int_eq(r.outcome, SOAP_FAULT);
	ck_assert_uint_le(strlen(r.faultstring), SOAP_FAULTSTRING_MAX + 3);
	ck_assert_uint_ge(strlen(r.faultstring), SOAP_FAULTSTRING_MAX - 4);
	n = strlen(r.faultstring);
	ck_assert_str_eq(r.faultstring + n - 3, "...");
	ck_assert_int_eq((unsigned char)r.faultstring[n - 4], 0xa9);
	ck_assert_int_eq((unsigned char)r.faultstring[n - 5], 0xc3);
}
END_TEST

START_TEST(test_fault_hides_secrets)
{
	static const char head[] = "<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\">"
	    "<s:Body><s:Fault><faultcode>c</faultcode><faultstring>";
	static const char tail[] = "</faultstring></s:Fault></s:Body>"
	    "</s:Envelope>";
	const char *secrets[] = { NULL, "", "Sup3r", "e", NULL };
	struct soap_response r;
	char *xml, *big;
	size_t n;

	xml = apr_pstrcat(pool, head, "pw=Sup3r, Sup3r\tSup3rSup3r!", tail,
	    NULL);
	mps_soap_parse_response(xml, strlen(xml), secrets, 3, &r);
	ck_assert_int_eq(r.outcome, SOAP_FAULT);
	ck_assert_str_eq(r.faultstring, "pw=***, *** ******!");
	/* A one-letter secret makes the text longer: it is cut. */
	big = apr_palloc(pool, 3001);
	memset(big, 'e', 3000);
	big[3000] = '\0';
	xml = apr_pstrcat(pool, head, big, tail, NULL);
	mps_soap_parse_response(xml, strlen(xml), secrets, 4, &r);
	ck_assert_int_eq(r.outcome, SOAP_FAULT);
	ck_assert_ptr_null(strchr(r.faultstring, 'e'));
	ck_assert_uint_ge(strlen(r.faultstring), SOAP_FAULTSTRING_MAX);
	/* A long secret quoted twice: the second copy is cut where the
	 * collector stops, and its start must not show either. */
	big = apr_palloc(pool, 4001);
	memcpy(big, "Sec", 3);
	memset(big + 3, 'r', 3997);
	big[4000] = '\0';
	secrets[0] = big;
	xml = apr_pstrcat(pool, head, big, big, tail, NULL);
	mps_soap_parse_response(xml, strlen(xml), secrets, 1, &r);
	ck_assert_int_eq(r.outcome, SOAP_FAULT);
	ck_assert_str_eq(r.faultstring, "***...");
	/* The fault code too. */
	xml = apr_pstrcat(pool, "<s:Envelope xmlns:s=\"" SOAP_ENV_NS "\">"
	    "<s:Body><s:Fault><faultcode>Sup3r</faultcode></s:Fault>"
	    "</s:Body></s:Envelope>", NULL);
	n = strlen(xml);
	mps_soap_parse_response(xml, n, secrets + 2, 1, &r);
	ck_assert_str_eq(r.faultcode, "***");
}
END_TEST

START_TEST(test_response_too_large)
{
	struct soap_response r;
	char *big = apr_palloc(pool, SOAP_RESPONSE_MAX + 1);

	memset(big, ' ', SOAP_RESPONSE_MAX + 1);
	mps_soap_parse_response(big, SOAP_RESPONSE_MAX + 1, NULL, 0, &r);
	ck_assert_int_eq(r.outcome, SOAP_INVALID);
	ck_assert_ptr_nonnull(strstr(r.error, "larger than"));
}
END_TEST

/*
 * Every truncation and every single-byte change of a granting response:
 * the parser must never crash, and grant only when the change left a
 * valid granting message (a change inside a name or a namespace makes it
 * invalid; inside blanks it may not).
 */
START_TEST(test_response_mutations)
{
	static const char good[] = ENV(RESP("<m:AuthenticateResult>true"
	    "</m:AuthenticateResult>"));
	char buf[sizeof(good)];
	struct soap_response r;
	size_t i, granted = 0;
	static const char subst[] = "<>&\"x\0 ";

	for (i = 0; i < sizeof(good) - 1; i++) {
		mps_soap_parse_response(good, i, NULL, 0, &r);
		ck_assert_int_ne(r.outcome, SOAP_GRANTED);
	}
	for (i = 0; i < sizeof(good) - 1; i++) {
		size_t k;

		for (k = 0; k < sizeof(subst) - 1; k++) {
			memcpy(buf, good, sizeof(good));
			if (buf[i] == subst[k])
				continue;
			buf[i] = subst[k];
			mps_soap_parse_response(buf, sizeof(good) - 1, NULL,
			    0, &r);
			if (r.outcome == SOAP_GRANTED)
				granted++;
		}
	}
	/* Only changes to ignorable bytes keep a grant: none here is. */
	ck_assert_uint_eq(granted, 0);
}
END_TEST

static void
pool_setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void
pool_teardown(void)
{
	params_teardown();
	apr_pool_destroy(pool);
}

Suite *
unit_suite(void)
{
	Suite *s = suite_create("soap_auth");
	TCase *svc = tcase_create("service");
	TCase *local = tcase_create("local");

	/* The services start once, in the parent; each test forks. */
	tcase_add_unchecked_fixture(svc, services_setup, services_teardown);
	tcase_set_timeout(svc, 30);
	tcase_add_test(svc, test_accepted);
	tcase_add_test(svc, test_refused);
	tcase_add_test(svc, test_empty_credentials);
	tcase_add_test(svc, test_fault);
	tcase_add_test(svc, test_fault_quoting_password);
	tcase_add_test(svc, test_http_500);
	tcase_add_test(svc, test_hang_times_out);
	tcase_add_test(svc, test_service_down);
	tcase_add_test(svc, test_unknown_path);
	tcase_add_test(svc, test_basic_auth);
	tcase_add_test(svc, test_special_characters);
	tcase_add_test(svc, test_uncarriable_characters);
	tcase_add_test(svc, test_long_password);
	tcase_add_test(svc, test_response_styles);
	tcase_add_test(svc, test_bad_responses);
	tcase_add_test(svc, test_environment_proxy_ignored);
	tcase_add_test(svc, test_proxy);
	tcase_add_test(svc, test_https_trusted);
	tcase_add_test(svc, test_https_untrusted);
	tcase_add_test(svc, test_https_plain_service);
	tcase_add_test(svc, test_mutual_tls);
	tcase_add_test(svc, test_init_refusals);
	tcase_add_test(svc, test_two_roles);
	tcase_add_test(svc, test_threads);
	suite_add_tcase(s, svc);

	tcase_add_checked_fixture(local, pool_setup, pool_teardown);
	tcase_add_test(local, test_params_every_option);
	tcase_add_test(local, test_params_defaults_and_forms);
	tcase_add_test(local, test_params_errors);
	tcase_add_test(local, test_params_limits);
	tcase_add_test(local, test_request_body);
	tcase_add_test(local, test_response_parsing);
	tcase_add_test(local, test_fault_parsing);
	tcase_add_test(local, test_fault_hides_secrets);
	tcase_add_test(local, test_response_too_large);
	tcase_add_test(local, test_response_mutations);
	suite_add_tcase(s, local);
	return s;
}
