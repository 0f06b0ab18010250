/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_soap_notify.c: the SOAPNotifier plugin, loaded through the plugin
 * loader as mpsd loads it, against the test subscriber
 * (tests/peers/notify_subscriber.py) over HTTP and HTTPS, with Basic and
 * Digest credentials, and against subscribers that fail, fault or hang;
 * plus its XML, tested directly from the plugin's sources, and the test
 * subscriber's own strictness (it must refuse what the WSDL does not
 * describe, or the rest proves little).
 *
 * The subscribers, their logs and the certificates (scripts/mps-certgen)
 * live in a temporary directory made once per test case; the subscribers
 * listen on ports the system picks and die with this program.
 */
#include "unit.h"
#include "plugin_loader.h"
#include "notify_xml.h"
#include "soap_test_util.h"

#include <apr_pools.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PATH		"/EventNotificationClientService"
#define UUID_A		"8f9b766e-34c1-4bd1-a000-00000000000a"
#define UUID_REFUSED	"8f9b766e-34c1-4bd1-a000-0000000000ff"
/* A password with the characters the parameter grammar must quote. */
#define DIGEST_PASS	"Dig\"est\\ p@ss:w"
#define DIGEST_PARAMS	"-user nuser -pass \"Dig\\\"est\\\\ p@ss:w\""

struct subscriber {
	const char *name;
	struct stu_peer peer;
	const char *log;	/* its event log */
};

static apr_pool_t *pool;
static char err[MPS_PLUGIN_ERROR_SIZE];
static struct subscriber plain = { .name = "plain" },
    nokeep = { .name = "nokeep" }, basic = { .name = "basic" },
    digest = { .name = "digest" }, fail500 = { .name = "fail500" },
    fault = { .name = "fault" }, hang = { .name = "hang" },
    tls = { .name = "tls" }, wrongname = { .name = "wrongname" };
static mps_plugin_t *plugin;
static mps_notify_fn notify;
static unsigned down_port;

/* ---- helpers ---------------------------------------------------------- */

/* Debian's interpreter first: a python3 earlier on PATH may be another. */
static const char *
python(void)
{
	return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" :
	    "python3";
}

/* Starts a subscriber with more arguments; waits for its port. */
static void
start_subscriber(struct subscriber *s, const char *const *args)
{
	const char *script = apr_pstrcat(pool, unit_srcdir(),
	    "/tests/peers/notify_subscriber.py", NULL);
	const char *argv[24];
	int n = 0;

	s->log = stu_path(apr_pstrcat(pool, s->name, ".events", NULL));
	argv[n++] = python();
	argv[n++] = script;
	argv[n++] = "--watch-stdin";
	argv[n++] = "--wsdl";
	argv[n++] = apr_pstrcat(pool, unit_srcdir(),
	    "/config/MpsNotification.wsdl", NULL);
	argv[n++] = "--log";
	argv[n++] = s->log;
	argv[n++] = "--path";
	argv[n++] = PATH;
	while (*args != NULL && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	stu_peer_start(&s->peer, argv, apr_pstrcat(pool, "subscriber ",
	    s->name, NULL), stu_path(apr_pstrcat(pool, s->name, ".stderr",
	    NULL)));
}

static const char *
url_of(const char *scheme, unsigned port)
{
	return apr_psprintf(pool, "%s://127.0.0.1:%u" PATH, scheme, port);
}

static const char *
url(const struct subscriber *s)
{
	return url_of("http", s->peer.port);
}

/* The whole event log of s ("" when nothing arrived). */
static const char *
events(const struct subscriber *s)
{
	char *text;
	apr_size_t n;
	FILE *f = fopen(s->log, "rb");

	if (f == NULL)
		return "";
	text = apr_palloc(pool, 65536);
	n = fread(text, 1, 65535, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static void
clear_events(const struct subscriber *s)
{
	FILE *f = fopen(s->log, "wb");

	ck_assert_ptr_nonnull(f);
	fclose(f);
}

/* An event with every field set, as mpsd would fill it. */
static mps_notification_t
event(int state, const char *uuid, int want_reply)
{
	mps_notification_t ev;

	memset(&ev, 0, sizeof(ev));
	ev.state = state;
	ev.device_fqdn = "amt1.example.com";
	ev.device_ports[0] = 16993;
	ev.device_ports[1] = 16992;
	ev.device_port_count = 2;
	ev.device_uuid = uuid;
	ev.mps_address = "mps.example.com";
	ev.mps_http_port = 8080;
	ev.mps_socks_port = 1080;
	ev.want_reply = want_reply;
	return ev;
}

/* The log line of event(state, uuid, want_reply). */
static const char *
line_of(int state, const char *uuid, int want_reply)
{
	return apr_psprintf(pool, "State=%d Fqdn=amt1.example.com "
	    "Ports=16993,16992 Uuid=%s MpsAddress=mps.example.com "
	    "MpsHttpPort=8080 MpsSocksPort=1080 WantReply=%s\n", state, uuid,
	    want_reply ? "true" : "false");
}

/*
 * One call. Whatever the outcome, no password of the tests may be in the
 * error: checked for every call of every test.
 */
static int
call(const char *to, const mps_notification_t *ev, const char *params,
    bool *keep)
{
	bool k = true;
	int ok;

	err[0] = '\0';
	ok = notify(to, ev, params, keep != NULL ? keep : &k, err,
	    sizeof(err));
	ck_assert_ptr_null(strstr(err, "npass"));
	ck_assert_ptr_null(strstr(err, "wrong-pass"));
	ck_assert_ptr_null(strstr(err, "p@ss"));
	return ok;
}

static void
assert_delivered(const char *to, const mps_notification_t *ev,
    const char *params, bool *keep)
{
	ck_assert_msg(call(to, ev, params, keep), "not delivered to %s: "
	    "\"%s\" (%s)", to, err, params);
	ck_assert_str_eq(err, "");
}

static void
assert_failed(const char *to, const mps_notification_t *ev,
    const char *params, const char *want)
{
	bool keep = true;

	ck_assert_msg(!call(to, ev, params, &keep), "delivered to %s (%s)",
	    to, params);
	ck_assert_msg(keep, "a failed call set keepConnection");
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in \"%s\"",
	    want, err);
}

/* ---- fixture ------------------------------------------------------------ */

static void
subscribers_setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	stu_begin(pool, "notify");
	stu_certgen(stu_path("good"), "localhost",
	    "DNS:localhost,IP:127.0.0.1", NULL);
	stu_certgen(stu_path("other"), "localhost",
	    "DNS:localhost,IP:127.0.0.1", NULL);
	/* The good CA, a certificate for another name. */
	ck_assert_int_eq(mkdir(stu_path("wrong"), 0700), 0);
	stu_copy_file(stu_path("good/ca.pem"), stu_path("wrong/ca.pem"));
	stu_copy_file(stu_path("good/ca-key.pem"),
	    stu_path("wrong/ca-key.pem"));
	stu_certgen(stu_path("wrong"), "wrong.example", "DNS:wrong.example",
	    NULL);

	start_subscriber(&plain, (const char *[]){ "--refuse-uuid",
	    UUID_REFUSED, NULL });
	start_subscriber(&nokeep, (const char *[]){ "--keep", "false",
	    NULL });
	start_subscriber(&basic, (const char *[]){ "--basic", "nuser:npass",
	    NULL });
	start_subscriber(&digest, (const char *[]){ "--digest",
	    "nuser:" DIGEST_PASS, NULL });
	start_subscriber(&fail500, (const char *[]){ "--status", "500",
	    NULL });
	start_subscriber(&fault, (const char *[]){ "--fault", NULL });
	start_subscriber(&hang, (const char *[]){ "--hang", NULL });
	start_subscriber(&tls, (const char *[]){ "--cert",
	    stu_path("good/server-chain.pem"), "--key",
	    stu_path("good/server-key.pem"), NULL });
	start_subscriber(&wrongname, (const char *[]){ "--cert",
	    stu_path("wrong/server-chain.pem"), "--key",
	    stu_path("wrong/server-key.pem"), NULL });
	down_port = stu_unused_port();

	ck_assert_msg(mps_plugin_load(&plugin, apr_pstrcat(pool,
	    unit_builddir(), "/plugins/SOAPNotifier.la", NULL), NULL, "",
	    err, sizeof(err), pool) == APR_SUCCESS, "%s", err);
	notify = (mps_notify_fn)mps_plugin_symbol(plugin,
	    MPS_PLUGIN_SYM_NOTIFY);
	ck_assert_ptr_nonnull(notify);
}

static void
subscribers_teardown(void)
{
	stu_peer_stop(&plain.peer);
	stu_peer_stop(&nokeep.peer);
	stu_peer_stop(&basic.peer);
	stu_peer_stop(&digest.peer);
	stu_peer_stop(&fail500.peer);
	stu_peer_stop(&fault.peer);
	stu_peer_stop(&hang.peer);
	stu_peer_stop(&tls.peer);
	stu_peer_stop(&wrongname.peer);
	stu_end();
	apr_pool_destroy(pool);
}

/* ---- delivery ------------------------------------------------------------ */

START_TEST(test_delivered)
{
	mps_notification_t c = event(MPS_NOTIFY_CONNECTED, UUID_A, 0);
	mps_notification_t d = event(MPS_NOTIFY_DISCONNECTED, UUID_A, 0);
	bool keep = true;

	clear_events(&plain);
	assert_delivered(url(&plain), &c, "", &keep);
	ck_assert(keep);
	assert_delivered(url(&plain), &d, "", NULL);
	ck_assert_str_eq(events(&plain), apr_pstrcat(pool,
	    line_of(0, UUID_A, 0), line_of(1, UUID_A, 0), NULL));
}
END_TEST

START_TEST(test_keep_connection)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	mps_notification_t refused = event(MPS_NOTIFY_CONNECTED,
	    UUID_REFUSED, 1);
	mps_notification_t no_reply = event(MPS_NOTIFY_CONNECTED, UUID_A, 0);
	bool keep;

	clear_events(&plain);
	clear_events(&nokeep);
	keep = false;
	assert_delivered(url(&plain), &ev, "", &keep);
	ck_assert_msg(keep, "KeepConnection true not passed on");
	keep = true;
	assert_delivered(url(&plain), &refused, "", &keep);
	ck_assert_msg(!keep, "KeepConnection false not passed on");
	keep = true;
	assert_delivered(url(&nokeep), &ev, "", &keep);
	ck_assert(!keep);
	/* No reply asked for: the verdict is not passed on. */
	keep = true;
	assert_delivered(url(&nokeep), &no_reply, "", &keep);
	ck_assert(keep);
	ck_assert_str_eq(events(&plain), apr_pstrcat(pool,
	    line_of(0, UUID_A, 1), line_of(0, UUID_REFUSED, 1), NULL));
	ck_assert_str_eq(events(&nokeep), apr_pstrcat(pool,
	    line_of(0, UUID_A, 1), line_of(0, UUID_A, 0), NULL));
}
END_TEST

START_TEST(test_fields_and_escaping)
{
	mps_notification_t ev = event(MPS_NOTIFY_DISCONNECTED, UUID_A, 0);

	clear_events(&plain);
	/* No name, no port. */
	ev.device_fqdn = "";
	ev.device_port_count = 0;
	ev.mps_address = "::1";
	ev.mps_http_port = 65535;
	ev.mps_socks_port = 1;
	assert_delivered(url(&plain), &ev, "", NULL);
	/* Markup, a CR (which must arrive as a CR), non-ASCII text. */
	ev.device_fqdn = "a&b<c>\"d'e]]>\rf";
	ev.device_ports[0] = 16992;
	ev.device_port_count = 1;
	ev.mps_address = "mps-\xc3\xa9t\xc3\xa9.example";
	assert_delivered(url(&plain), &ev, "", NULL);
	ck_assert_str_eq(events(&plain),
	    "State=1 Fqdn= Ports= Uuid=" UUID_A " MpsAddress=::1 "
	    "MpsHttpPort=65535 MpsSocksPort=1 WantReply=false\n"
	    "State=1 Fqdn=a&b<c>\"d'e]]>\\rf Ports=16992 Uuid=" UUID_A
	    " MpsAddress=mps-\xc3\xa9t\xc3\xa9.example MpsHttpPort=65535 "
	    "MpsSocksPort=1 WantReply=false\n");
}
END_TEST

START_TEST(test_bad_events)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 0);

	clear_events(&plain);
	ev.state = 2;
	assert_failed(url(&plain), &ev, "", "State 2 is neither");
	ev.state = 0;
	ev.device_port_count = 3;
	assert_failed(url(&plain), &ev, "", "3 device ports");
	ev.device_port_count = 2;
	ev.device_fqdn = "bad\x01name";
	assert_failed(url(&plain), &ev, "", "DeviceFqdn is not UTF-8 text");
	ev.device_fqdn = "bad\xff";
	assert_failed(url(&plain), &ev, "", "DeviceFqdn is not UTF-8 text");
	ev.device_fqdn = "x";
	ev.mps_address = NULL;
	assert_failed(url(&plain), &ev, "", "MpsAddress is missing");
	/* Nothing was sent. */
	ck_assert_str_eq(events(&plain), "");
	assert_failed(url(&plain), NULL, "", "NULL argument");
}
END_TEST

START_TEST(test_basic_auth)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	bool keep = false;

	clear_events(&basic);
	assert_failed(url(&basic), &ev, "", "HTTP 401 Unauthorized: it wants "
	    "credentials");
	assert_failed(url(&basic), &ev, "-user nuser -pass wrong-pass",
	    "HTTP 401 Unauthorized: it refused the credentials");
	assert_delivered(url(&basic), &ev, "-user nuser -pass npass", &keep);
	ck_assert(keep);
	ck_assert_str_eq(events(&basic), apr_pstrcat(pool,
	    "UNAUTHORIZED wrong user name or password\n",
	    line_of(0, UUID_A, 1), NULL));
}
END_TEST

START_TEST(test_digest_auth)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	bool keep = false;

	clear_events(&digest);
	assert_failed(url(&digest), &ev, "", "HTTP 401 Unauthorized: it wants "
	    "credentials");
	assert_failed(url(&digest), &ev, "-user nuser -pass \"Dig\\\"est\"",
	    "HTTP 401 Unauthorized: it refused the credentials");
	assert_delivered(url(&digest), &ev, DIGEST_PARAMS, &keep);
	ck_assert(keep);
	/* Again: a new nonce and nonce count each time. */
	assert_delivered(url(&digest), &ev, DIGEST_PARAMS, NULL);
	ck_assert_str_eq(events(&digest), apr_pstrcat(pool,
	    "UNAUTHORIZED wrong user name or password\n",
	    line_of(0, UUID_A, 1), line_of(0, UUID_A, 1), NULL));
}
END_TEST

START_TEST(test_http_errors)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 0);

	clear_events(&fail500);
	assert_failed(url(&fail500), &ev, "", "HTTP 500 without a SOAP Fault");
	/* It did arrive: the subscriber is only unable to answer. */
	ck_assert_str_eq(events(&fail500), line_of(0, UUID_A, 0));
	assert_failed(url(&fault), &ev, "", "SOAP Fault: s:Server: test "
	    "subscriber fault");
	/* A path the subscriber does not serve. */
	assert_failed(apr_psprintf(pool, "http://127.0.0.1:%u/elsewhere",
	    plain.peer.port), &ev, "", "HTTP 404");
	/* https to a subscriber that does not speak TLS. */
	assert_failed(url_of("https", plain.peer.port), &ev, apr_pstrcat(pool,
	    "-cafile ", stu_path("good/ca.pem"), NULL), "");
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(test_hang_times_out)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	double t0 = stu_now(), dt;

	assert_failed(url(&hang), &ev, "-timeout 1", "timed out after 1 s "
	    "without a complete answer");
	dt = stu_now() - t0;
	ck_assert_msg(dt >= 0.9 && dt < 3.0, "took %.2f s", dt);
}
END_TEST

START_TEST(test_subscriber_down)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	double t0 = stu_now();

	assert_failed(url_of("http", down_port), &ev, "", "onnect");
	ck_assert_msg(stu_now() - t0 < 2, "a refused connection took long");
}
END_TEST

START_TEST(test_parameters_per_call)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 0);

	assert_failed(url(&plain), &ev, "-timeout 0", "-timeout wants a "
	    "whole number");
	assert_failed(url(&plain), &ev, "-tls", "-tls requires an https://");
	assert_failed(url(&plain), &ev, "-bogus", "unknown option -bogus");
	assert_failed(url(&plain), &ev, "-user nuser", "-user and -pass go "
	    "together");
	assert_failed("ftp://127.0.0.1/x", &ev, "", "must be an http:// or "
	    "https:// URL");
	assert_failed("http://u:npass@127.0.0.1/x", &ev, "", "must not hold "
	    "credentials");
}
END_TEST

/* ---- TLS --------------------------------------------------------------- */

static const char *
cafile(const char *set)
{
	return apr_pstrcat(pool, "-cafile ", stu_path(set), "/ca.pem", NULL);
}

START_TEST(test_https_trusted)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_REFUSED, 1);
	bool keep = true;

	clear_events(&tls);
	assert_delivered(url_of("https", tls.peer.port), &ev, cafile("good"),
	    &keep);
	ck_assert(keep);	/* this subscriber refuses nobody */
	/* The certificate's name is the URL's. */
	assert_delivered(apr_psprintf(pool, "https://localhost:%u" PATH,
	    tls.peer.port), &ev, apr_pstrcat(pool, cafile("good"), " -tls",
	    NULL), NULL);
	ck_assert_str_eq(events(&tls), apr_pstrcat(pool,
	    line_of(0, UUID_REFUSED, 1), line_of(0, UUID_REFUSED, 1), NULL));
}
END_TEST

START_TEST(test_https_untrusted)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	const char *u = url_of("https", tls.peer.port);

	clear_events(&tls);
	assert_failed(u, &ev, cafile("other"), "TLS certificate not trusted");
	/* The system's CAs do not know ours either. */
	assert_failed(u, &ev, "", "TLS certificate not trusted");
	/* A trusted certificate for another name. */
	assert_failed(url_of("https", wrongname.peer.port), &ev, cafile("good"),
	    "TLS certificate not trusted");
	ck_assert_str_eq(events(&tls), "");
	ck_assert_str_eq(events(&wrongname), "");
	/* Only an explicit -insecure skips verification. */
	assert_delivered(u, &ev, "-insecure", NULL);
	ck_assert_str_eq(events(&tls), line_of(0, UUID_A, 1));
}
END_TEST

/* ---- loading --------------------------------------------------------- */

START_TEST(test_init_refusals)
{
	static const char *const cases[][2] = {
		{ "-target http://h/x", "-target is not a parameter here" },
		{ "-timeout 1 -target http://h/x", "-target is not a "
		    "parameter here" },
		{ "-cafile /nonexistent/ca.pem", "cannot read -cafile "
		    "/nonexistent/ca.pem: No such file" },
		{ "-bogus 1", "unknown option -bogus" },
		{ "-krb", "Kerberos is not supported" },
		{ "-user nuser -pass npass -timeout 0",
		    "-timeout wants a whole number" },
		{ "-pass \"npass", "unterminated double quote" },
	};
	mps_plugin_t *p = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(mps_plugin_load(&p, apr_pstrcat(pool,
		    unit_builddir(), "/plugins/SOAPNotifier.la", NULL), NULL,
		    cases[i][0], err, sizeof(err), pool) != APR_SUCCESS,
		    "\"%s\" loaded", cases[i][0]);
		ck_assert_msg(strstr(err, cases[i][1]) != NULL,
		    "want \"%s\" in \"%s\"", cases[i][1], err);
		ck_assert_ptr_null(strstr(err, "npass"));
	}
	/* What mpsd builds is accepted. */
	ck_assert_msg(mps_plugin_load(&p, apr_pstrcat(pool, unit_builddir(),
	    "/plugins/SOAPNotifier.la", NULL), NULL, apr_pstrcat(pool,
	    "-timeout 10 -connect-timeout 5 " DIGEST_PARAMS " ",
	    cafile("good"), NULL), err, sizeof(err), pool) == APR_SUCCESS,
	    "%s", err);
	ck_assert_uint_eq(mps_plugin_abi(p), MPS_PLUGIN_ABI_VERSION);
	ck_assert_ptr_null(mps_plugin_symbol(p, MPS_PLUGIN_SYM_AUTHENTICATE));
}
END_TEST

/* ---- concurrency ----------------------------------------------------- */

#define THREADS	6
#define CALLS	8

struct job {
	int id;
	/* Made before the threads start: pools are not thread-safe. */
	const char *to;
	const char *params;
	int failed;
	char first[MPS_PLUGIN_ERROR_SIZE];
};

static void *
job_run(void *arg)
{
	struct job *j = arg;
	char uuid[40], e[MPS_PLUGIN_ERROR_SIZE];
	mps_notification_t ev;
	bool keep;
	int i;

	for (i = 0; i < CALLS; i++) {
		(void)snprintf(uuid, sizeof(uuid), "00000000-0000-4000-8000-"
		    "%06d%06d", j->id, i);
		ev = event(i % 2, uuid, 1);
		keep = false;
		e[0] = '\0';
		if (!notify(j->to, &ev, j->params, &keep, e, sizeof(e)) ||
		    !keep) {
			if (j->failed++ == 0)
				memcpy(j->first, e, sizeof(e));
		}
	}
	return NULL;
}

START_TEST(test_threads)
{
	pthread_t t[THREADS];
	struct job jobs[THREADS];
	const char *log;
	char uuid[40];
	int i, k;

	clear_events(&plain);
	clear_events(&digest);
	for (i = 0; i < THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].id = i;
		/* Alternately the plain and the Digest subscriber. */
		jobs[i].to = i % 2 ? url(&digest) : url(&plain);
		jobs[i].params = i % 2 ? DIGEST_PARAMS : "";
		ck_assert_int_eq(pthread_create(&t[i], NULL, job_run,
		    &jobs[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	for (i = 0; i < THREADS; i++) {
		ck_assert_msg(jobs[i].failed == 0, "thread %d: %d failed, "
		    "first: %s", i, jobs[i].failed, jobs[i].first);
		/* Each thread's events arrived, in its order. */
		log = events(i % 2 ? &digest : &plain);
		for (k = 0; k < CALLS; k++) {
			const char *at;

			(void)snprintf(uuid, sizeof(uuid), "00000000-0000-4000-"
			    "8000-%06d%06d", i, k);
			at = strstr(log, line_of(k % 2, uuid, 1));
			ck_assert_msg(at != NULL, "event %d of thread %d lost",
			    k, i);
			log = at + 1;
		}
	}
}
END_TEST

/* ---- the test subscriber refuses what the WSDL does not describe -------- */

/* POSTs body to the plain subscriber; returns the HTTP status. */
static int
raw_post(const char *ctype, const char *action, const char *body)
{
	struct sockaddr_in sin;
	const char *req;
	char buf[256];
	size_t off = 0, len;
	ssize_t n;
	int fd, status = -1;

	req = apr_psprintf(pool, "POST " PATH " HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: %s\r\nSOAPAction: %s\r\n"
	    "Content-Length: %" APR_SIZE_T_FMT "\r\n"
	    "Connection: close\r\n\r\n%s", ctype, action, strlen(body), body);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)plain.peer.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	len = strlen(req);
	while (off < len) {
		n = write(fd, req + off, len - off);
		ck_assert_int_gt(n, 0);
		off += (size_t)n;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_gt(n, 12);
	buf[n] = '\0';
	ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &status), 1);
	return status;
}

static const char *
replaced(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);

	ck_assert_msg(at != NULL, "\"%s\" not in the request", from);
	return apr_pstrcat(pool, apr_pstrmemdup(pool, s, (apr_size_t)(at - s)),
	    to, at + strlen(from), NULL);
}

/* Every occurrence of from replaced. */
static const char *
replaced_all(const char *s, const char *from, const char *to)
{
	while (strstr(s, from) != NULL)
		s = replaced(s, from, to);
	return s;
}

/* How many lines of text start with prefix. */
static int
count_lines(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);
	int n = 0;

	while (text != NULL && *text != '\0') {
		if (strncmp(text, prefix, plen) == 0)
			n++;
		if ((text = strchr(text, '\n')) != NULL)
			text++;
	}
	return n;
}

START_TEST(test_subscriber_is_strict)
{
	static const char *const mutations[][2] = {
		{ "urn:mpsd:notification:2026", "urn:other" },
		{ "<mpn:State>0</mpn:State>", "<mpn:State>2</mpn:State>" },
		{ "<mpn:State>0</mpn:State>", "" },
		{ "<mpn:DevicePort>16992</mpn:DevicePort>",
		    "<mpn:DevicePort>16992</mpn:DevicePort>"
		    "<mpn:DevicePort>1</mpn:DevicePort>" },
		{ "<mpn:DevicePort>16992</mpn:DevicePort>",
		    "<mpn:DevicePort>65536</mpn:DevicePort>" },
		{ "<mpn:MpsHttpPort>8080</mpn:MpsHttpPort>", "" },
		{ "<mpn:MpsHttpPort>8080</mpn:MpsHttpPort>"
		    "<mpn:MpsSocksPort>1080</mpn:MpsSocksPort>",
		    "<mpn:MpsSocksPort>1080</mpn:MpsSocksPort>"
		    "<mpn:MpsHttpPort>8080</mpn:MpsHttpPort>" },
		{ "<mpn:WantReply>false</mpn:WantReply>",
		    "<mpn:WantReply>no</mpn:WantReply>" },
		{ "<mpn:WantReply>false</mpn:WantReply>",
		    "<mpn:WantReply>false</mpn:WantReply><mpn:Extra/>" },
		{ "<mpn:DeviceUuid>", "<DeviceUuid xmlns=\"\">" },
		{ "</mpn:DeviceUuid>", "</DeviceUuid>" },
		{ "soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"
		    "envelope/\"", "soap:Envelope xmlns:soap=\"http://www.w3."
		    "org/2003/05/soap-envelope\"" },
		{ "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
		    "<!DOCTYPE x [<!ENTITY a \"b\">]>" },
	};
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 0);
	const char *action = "\"" NOTIFY_SOAP_ACTION "\"", *want;
	char *body, e[128];
	size_t len, i;

	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), 0);
	clear_events(&plain);
	/* What the plugin sends passes; so does it with another prefix. */
	ck_assert_int_eq(raw_post("text/xml", action, body), 200);
	ck_assert_int_eq(raw_post("text/xml; charset=utf-8", action,
	    replaced_all(replaced(body, "xmlns:mpn=", "xmlns:other="),
	    "mpn:", "other:")), 200);
	for (i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++)
		ck_assert_msg(raw_post("text/xml", action, replaced(body,
		    mutations[i][0], mutations[i][1])) == 400,
		    "mutation %zu accepted", i);
	ck_assert_int_eq(raw_post("application/soap+xml", action, body), 400);
	ck_assert_int_eq(raw_post("text/xml", "\"urn:other\"", body), 400);
	ck_assert_int_eq(raw_post("text/xml", NOTIFY_SOAP_ACTION, body), 400);
	free(body);
	/* The two good ones logged as events, every other one refused. */
	ck_assert_int_eq(count_lines(events(&plain), "State="), 2);
	ck_assert_int_eq(count_lines(events(&plain), "REJECTED "),
	    (int)(sizeof(mutations) / sizeof(mutations[0])) + 3);
	want = apr_pstrcat(pool, line_of(0, UUID_A, 0), line_of(0, UUID_A, 0),
	    NULL);
	ck_assert_int_eq(strncmp(events(&plain), want, strlen(want)), 0);
}
END_TEST

/* ---- a real SOAP toolkit agrees --------------------------------------- */

/*
 * python3-zeep (a test dependency of mpsd, see scripts/install-deps)
 * reads the WSDL, decodes the plugin's request against it, then calls the
 * test subscriber itself with what it decoded and prints the verdict: the
 * WSDL, the plugin and the subscriber agree with a real toolkit.
 */
static const char zeep_script[] =
    "import sys\n"
    "import zeep\n"
    "from lxml import etree\n"
    "wsdl, url = sys.argv[1], sys.argv[2]\n"
    "client = zeep.Client(wsdl)\n"
    "binding = client.wsdl.bindings['{urn:mpsd:notification:2026}"
    "MpsNotificationSoapBinding']\n"
    "op = binding._operations['EventNotification']\n"
    "ev = op.input.deserialize(etree.fromstring(sys.stdin.buffer.read()))\n"
    "print('plugin:', ev['State'], ev['DeviceFqdn'], list(ev['DevicePort']),"
    " ev['WantReply'])\n"
    "service = client.create_service(binding.name, url)\n"
    "print('subscriber:', service.EventNotification(MPSEvent=ev))\n";

/* Runs argv with stdin from in_path, stdout to out_path; its status. */
static int
run_io(const char *const *argv, const char *in_path, const char *out_path)
{
	pid_t pid;
	int status, in, out;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		in = open(in_path, O_RDONLY);
		out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *
file_text(const char *path)
{
	char *text = apr_palloc(pool, 8192);
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(text, 1, 8191, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

START_TEST(test_real_toolkit_agrees)
{
	const char *have[] = { python(), "-c", "import zeep", NULL };
	const char *argv[] = { python(), "-c", zeep_script,
	    apr_pstrcat(pool, unit_srcdir(), "/config/MpsNotification.wsdl",
	    NULL), url(&plain), NULL };
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	const char *in = stu_path("request.xml"), *out = stu_path("zeep.out");
	char *body, e[128];
	size_t len;
	FILE *f;

	if (stu_run(have) != 0) {
		fprintf(stderr, "# python3-zeep is not installed: the check "
		    "against a real SOAP toolkit is skipped\n");
		return;
	}
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), 0);
	f = fopen(in, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(body, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	free(body);
	clear_events(&plain);
	ck_assert_msg(run_io(argv, in, out) == 0, "zeep failed: %s",
	    file_text(out));
	ck_assert_str_eq(file_text(out), "plugin: 0 amt1.example.com "
	    "[16993, 16992] True\nsubscriber: True\n");
	ck_assert_str_eq(events(&plain), line_of(0, UUID_A, 1));
}
END_TEST

/* ---- the XML, directly -------------------------------------------------- */

static void
pool_setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void
pool_teardown(void)
{
	apr_pool_destroy(pool);
}

START_TEST(test_request_body)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	char *body, e[128];
	size_t len;

	ev.device_fqdn = "x&y";
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), 0);
	ck_assert_uint_eq(len, strlen(body));
	ck_assert_str_eq(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/"
	    "envelope/\"><soap:Body><mpn:EventNotificationRequest "
	    "xmlns:mpn=\"urn:mpsd:notification:2026\"><mpn:MPSEvent>"
	    "<mpn:State>0</mpn:State><mpn:DeviceFqdn>x&amp;y</mpn:DeviceFqdn>"
	    "<mpn:DevicePort>16993</mpn:DevicePort>"
	    "<mpn:DevicePort>16992</mpn:DevicePort>"
	    "<mpn:DeviceUuid>" UUID_A "</mpn:DeviceUuid>"
	    "<mpn:MpsAddress>mps.example.com</mpn:MpsAddress>"
	    "<mpn:MpsHttpPort>8080</mpn:MpsHttpPort>"
	    "<mpn:MpsSocksPort>1080</mpn:MpsSocksPort>"
	    "<mpn:WantReply>true</mpn:WantReply></mpn:MPSEvent>"
	    "</mpn:EventNotificationRequest></soap:Body></soap:Envelope>\n");
	free(body);
}
END_TEST

START_TEST(test_request_limits)
{
	mps_notification_t ev = event(MPS_NOTIFY_CONNECTED, UUID_A, 1);
	char *long_name = apr_palloc(pool, NOTIFY_FIELD_MAX + 2);
	char *body = (char *)1, e[128];
	size_t len = 1;

	memset(long_name, 'a', NOTIFY_FIELD_MAX);
	long_name[NOTIFY_FIELD_MAX] = '\0';
	ev.device_fqdn = long_name;
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), 0);
	free(body);
	long_name[NOTIFY_FIELD_MAX] = 'a';
	long_name[NOTIFY_FIELD_MAX + 1] = '\0';
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), -1);
	ck_assert_ptr_null(body);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(e, "DeviceFqdn is longer than 1024 bytes");
	/* Surrogates, overlong forms, U+FFFE are no XML text. */
	ev.device_fqdn = "x";
	ev.device_uuid = "\xed\xa0\x80";
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), -1);
	ck_assert_str_eq(e, "DeviceUuid is not UTF-8 text that XML can carry");
	ev.device_uuid = "\xc0\xaf";
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), -1);
	ev.device_uuid = "\xef\xbf\xbe";
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), -1);
	/* Tab and LF are text; 4-byte characters too. */
	ev.device_uuid = "a\tb\nc\xf0\x9d\x84\x9e";
	ck_assert_int_eq(mps_notify_build_request(&ev, &body, &len, e,
	    sizeof(e)), 0);
	ck_assert_ptr_nonnull(strstr(body, "<mpn:DeviceUuid>a\tb\nc\xf0\x9d"
	    "\x84\x9e</mpn:DeviceUuid>"));
	free(body);
}
END_TEST

#define ENV_OPEN "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/" \
	"envelope/\"><s:Body>"
#define ENV_CLOSE "</s:Body></s:Envelope>"
#define RESPONSE(inner) ENV_OPEN "<n:EventNotificationResponse " \
	"xmlns:n=\"urn:mpsd:notification:2026\">" inner \
	"</n:EventNotificationResponse>" ENV_CLOSE

static void
parse(const char *xml, struct notify_response *r)
{
	static const char *const secrets[] = { "s3cr3t-pw", NULL, "" };

	mps_notify_parse_response(xml, strlen(xml), secrets, 3, r);
}

START_TEST(test_response_parsing)
{
	static const struct {
		const char *xml;
		int has_keep, keep;
	} good[] = {
		{ RESPONSE("<n:KeepConnection>true</n:KeepConnection>"), 1, 1 },
		{ RESPONSE("<n:KeepConnection> false\n</n:KeepConnection>"),
		    1, 0 },
		{ RESPONSE("<n:KeepConnection>1</n:KeepConnection>"), 1, 1 },
		{ RESPONSE("<n:KeepConnection>0</n:KeepConnection>"), 1, 0 },
		{ RESPONSE("<KeepConnection>false</KeepConnection>"), 1, 0 },
		{ RESPONSE(""), 0, 0 },
		/* A default namespace, a Header, other prefixes. */
		{ "<?xml version=\"1.0\"?><Envelope xmlns=\"http://schemas."
		    "xmlsoap.org/soap/envelope/\"><Header><x:y xmlns:x=\"urn:"
		    "x\"/></Header><Body><EventNotificationResponse xmlns="
		    "\"urn:mpsd:notification:2026\"><KeepConnection>false"
		    "</KeepConnection></EventNotificationResponse></Body>"
		    "</Envelope>", 1, 0 },
	};
	struct notify_response r;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		parse(good[i].xml, &r);
		ck_assert_msg(r.outcome == NOTIFY_ANSWERED, "case %zu: %s", i,
		    r.error);
		ck_assert_int_eq(r.has_keep, good[i].has_keep);
		if (r.has_keep)
			ck_assert_int_eq(r.keep, good[i].keep);
	}
}
END_TEST

START_TEST(test_response_errors)
{
	static const char *const bad[][2] = {
		{ "<!DOCTYPE x []>" RESPONSE(""), "DOCTYPE" },
		{ RESPONSE("<n:KeepConnection>true"), "malformed XML" },
		{ "", "malformed XML" },
		{ RESPONSE("<n:KeepConnection>yes</n:KeepConnection>"),
		    "not an xs:boolean" },
		{ RESPONSE("<n:KeepConnection>true</n:KeepConnection>"
		    "<n:KeepConnection>true</n:KeepConnection>"),
		    "more than one KeepConnection" },
		{ RESPONSE("<n:KeepConnection><b>true</b></n:KeepConnection>"),
		    "holds elements" },
		{ RESPONSE("<n:Other/>"), "unexpected element Other" },
		{ RESPONSE("<o:KeepConnection xmlns:o=\"urn:o\">true"
		    "</o:KeepConnection>"), "unexpected element" },
		{ ENV_OPEN "<EventNotificationResponse/>" ENV_CLOSE,
		    "wrong namespace" },
		{ ENV_OPEN ENV_CLOSE, "holds no EventNotificationResponse" },
		{ ENV_OPEN "<x/><y/>" ENV_CLOSE, "unexpected element x" },
		{ "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/"
		    "envelope/\"/>", "no SOAP Body" },
		{ "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-"
		    "envelope\"/>", "SOAP 1.2" },
		{ "<html/>", "no SOAP 1.1 Envelope" },
	};
	struct notify_response r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(bad[i][0], &r);
		ck_assert_msg(r.outcome == NOTIFY_INVALID, "case %zu passed",
		    i);
		ck_assert_msg(strstr(r.error, bad[i][1]) != NULL,
		    "case %zu: want \"%s\" in \"%s\"", i, bad[i][1], r.error);
	}
	mps_notify_parse_response("x", NOTIFY_RESPONSE_MAX + 1, NULL, 0, &r);
	ck_assert_int_eq(r.outcome, NOTIFY_INVALID);
	ck_assert_str_eq(r.error, "response larger than 65536 bytes");
}
END_TEST

START_TEST(test_fault_parsing)
{
	struct notify_response r;

	parse(ENV_OPEN "<s:Fault><faultcode>s:Client</faultcode>"
	    "<faultstring>bad\n\tthing <i>here</i></faultstring>"
	    "<detail><x>y</x></detail></s:Fault>" ENV_CLOSE, &r);
	ck_assert_int_eq(r.outcome, NOTIFY_FAULT);
	ck_assert_str_eq(r.faultcode, "s:Client");
	ck_assert_str_eq(r.faultstring, "bad thing here");
	/* A fault that quotes a password is withheld whole. */
	parse(ENV_OPEN "<s:Fault><faultcode>s:Client</faultcode>"
	    "<faultstring>you sent s3cr3t-pw, wrong</faultstring></s:Fault>"
	    ENV_CLOSE, &r);
	ck_assert_int_eq(r.outcome, NOTIFY_FAULT);
	ck_assert_str_eq(r.faultstring, "(withheld: it quotes a password)");
	ck_assert_str_eq(r.faultcode, "s:Client");
}
END_TEST

START_TEST(test_fault_cut)
{
	struct notify_response r;
	char *xml, *long_text = apr_palloc(pool, 3001);

	memset(long_text, 'z', 3000);
	long_text[3000] = '\0';
	xml = apr_pstrcat(pool, ENV_OPEN "<s:Fault><faultstring>",
	    long_text, "</faultstring></s:Fault>" ENV_CLOSE, NULL);
	parse(xml, &r);
	ck_assert_int_eq(r.outcome, NOTIFY_FAULT);
	ck_assert_uint_eq(strlen(r.faultstring), NOTIFY_FAULTSTRING_MAX + 3);
	ck_assert_str_eq(r.faultstring + NOTIFY_FAULTSTRING_MAX, "...");
	ck_assert_str_eq(r.faultcode, "");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("soap_notify");
	TCase *sub = tcase_create("subscribers");
	TCase *local = tcase_create("local");

	tcase_add_unchecked_fixture(sub, subscribers_setup,
	    subscribers_teardown);
	tcase_set_timeout(sub, 30);
	tcase_add_test(sub, test_delivered);
	tcase_add_test(sub, test_keep_connection);
	tcase_add_test(sub, test_fields_and_escaping);
	tcase_add_test(sub, test_bad_events);
	tcase_add_test(sub, test_basic_auth);
	tcase_add_test(sub, test_digest_auth);
	tcase_add_test(sub, test_http_errors);
	tcase_add_test(sub, test_hang_times_out);
	tcase_add_test(sub, test_subscriber_down);
	tcase_add_test(sub, test_parameters_per_call);
	tcase_add_test(sub, test_https_trusted);
	tcase_add_test(sub, test_https_untrusted);
	tcase_add_test(sub, test_init_refusals);
	tcase_add_test(sub, test_threads);
	tcase_add_test(sub, test_subscriber_is_strict);
	tcase_add_test(sub, test_real_toolkit_agrees);
	suite_add_tcase(s, sub);

	tcase_add_checked_fixture(local, pool_setup, pool_teardown);
	tcase_add_test(local, test_request_body);
	tcase_add_test(local, test_request_limits);
	tcase_add_test(local, test_response_parsing);
	tcase_add_test(local, test_response_errors);
	tcase_add_test(local, test_fault_parsing);
	tcase_add_test(local, test_fault_cut);
	suite_add_tcase(s, local);
	return s;
}
