/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_notify.c: the notification queue (server/notify.c), with real
 * workers, a real poller for the retry timers and real registry entries,
 * and a fake Notify in place of the plugin. The fake records every call
 * and can, per subscriber, fail a number of times, answer KeepConnection
 * false, or block behind a gate the test opens (a subscriber that hangs,
 * within a bound so that a broken test cannot hang for ever).
 *
 * Timings are asserted with generous bounds: what matters is that one
 * subscriber's hang costs the others nothing (milliseconds against the
 * hang's seconds), and that retries wait and double.
 */
#include "unit.h"
#include "notify.h"
#include "log.h"
#include "poller.h"
#include "soap_params.h"

#include <apr_strings.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NSUBS		3
#define MAX_CALLS	4096
/* The longest a gated call waits if the test never opens the gate. */
#define GATE_BOUND	apr_time_from_sec(8)

/* One call of the fake Notify, as it saw it. */
struct call {
	int sub;
	int state;
	int want_reply;
	char uuid[MPS_REGISTRY_UUID_SIZE];
	char fqdn[MPS_REGISTRY_FQDN_SIZE];
	unsigned int nports;
	uint16_t ports[MPS_NOTIFY_MAX_PORTS];
	char address[64];
	uint16_t http_port, socks_port;
	char params[64];
	apr_time_t at;
	int delivered;
};

/* How the fake behaves for one subscriber. */
struct behaviour {
	int fail_first;		/* fail this many calls, then succeed */
	int fail_always;
	int keep;		/* the verdict */
	int gated;		/* wait for the gate to open */
};

static const char *const urls[NSUBS] = {
	"http://a.example/notify", "http://b.example/notify",
	"https://c.example/notify"
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct behaviour how[NSUBS];
static int gate_open[NSUBS];
static struct call calls[MAX_CALLS];
static int ncalls;
static int in_flight[NSUBS], max_in_flight[NSUBS], attempts[NSUBS];

/* keep_false's record. */
static int verdicts;
static mps_device_t *verdict_dev;
static char verdict_url[64];

static int devices_freed;

static apr_pool_t *pool;
static mps_workers_t *workers;
static mps_poller_t *poller;
static mps_timers_t *timers;
static pthread_t poller_thread;
static mps_registry_t *registry;
static mps_logger_t *logger;
static char tmpdir[64];
static mps_notifier_t *notifier;

/* ---- the fake plugin ---------------------------------------------------- */

static int
sub_of(const char *url)
{
	int i;

	for (i = 0; i < NSUBS; i++)
		if (strcmp(urls[i], url) == 0)
			return i;
	return -1;
}

static void
record(int s, const mps_notification_t *ev, const char *params,
    struct call *c)
{
	memset(c, 0, sizeof(*c));
	c->sub = s;
	c->state = ev->state;
	c->want_reply = ev->want_reply;
	apr_cpystrn(c->uuid, ev->device_uuid, sizeof(c->uuid));
	apr_cpystrn(c->fqdn, ev->device_fqdn, sizeof(c->fqdn));
	c->nports = ev->device_port_count;
	memcpy(c->ports, ev->device_ports, sizeof(c->ports));
	apr_cpystrn(c->address, ev->mps_address, sizeof(c->address));
	c->http_port = ev->mps_http_port;
	c->socks_port = ev->mps_socks_port;
	apr_cpystrn(c->params, params, sizeof(c->params));
	c->at = apr_time_now();
}

static void
wait_gate(int s)
{
	struct timespec ts;
	apr_time_t until = apr_time_now() + GATE_BOUND;

	ts.tv_sec = (time_t)apr_time_sec(until);
	ts.tv_nsec = (long)apr_time_usec(until) * 1000;
	while (how[s].gated && !gate_open[s])
		if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
			break;
}

static bool
fake_notify(const char *url, const mps_notification_t *ev,
    const char *params, bool *keep, char *err, size_t errsize)
{
	int s = sub_of(url), n, ok;

	if (s < 0) {
		(void)snprintf(err, errsize, "unknown subscriber %s", url);
		return false;
	}
	pthread_mutex_lock(&mu);
	if (++in_flight[s] > max_in_flight[s])
		max_in_flight[s] = in_flight[s];
	n = ncalls < MAX_CALLS ? ncalls++ : -1;
	if (n >= 0)
		record(s, ev, params, &calls[n]);
	wait_gate(s);
	ok = attempts[s]++ >= how[s].fail_first && !how[s].fail_always;
	if (n >= 0)
		calls[n].delivered = ok;
	in_flight[s]--;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (!ok) {
		(void)snprintf(err, errsize, "subscriber %d told to fail", s);
		return false;
	}
	if (ev->want_reply)
		*keep = how[s].keep;
	return true;
}

static void
on_keep_false(void *arg, mps_device_t *dev, const char *url)
{
	ck_assert_ptr_eq(arg, &verdicts);
	pthread_mutex_lock(&mu);
	verdicts++;
	verdict_dev = dev;
	apr_cpystrn(verdict_url, url, sizeof(verdict_url));
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void
open_gate(int s)
{
	pthread_mutex_lock(&mu);
	gate_open[s] = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* ---- fixture ------------------------------------------------------ */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void *
poller_main(void *arg)
{
	(void)mps_poller_run(arg);
	return NULL;
}

/* The directory of the log: per test case, made and removed by the
 * parent process, so that a failed test (whose checked teardown does not
 * run) leaves nothing behind. */
static void
case_setup(void)
{
	strcpy(tmpdir, "/tmp/mps-test-notifyq-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
case_teardown(void)
{
	(void)nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	mps_log_options_t lo;

	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_create(&workers, 2, 8, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_poller_create(&poller, 64, workers, pool),
	    APR_SUCCESS);
	timers = mps_poller_timers(poller);
	ck_assert_int_eq(pthread_create(&poller_thread, NULL, poller_main,
	    poller), 0);
	ck_assert_int_eq(mps_registry_create(&registry), APR_SUCCESS);
	/* Each test reads its own log. */
	(void)unlink(apr_pstrcat(pool, tmpdir, "/mps.log", NULL));
	memset(&lo, 0, sizeof(lo));
	lo.dir = tmpdir;
	lo.file_name = "mps.log";
	lo.heading = "test";
	lo.max_files = 1;
	lo.levels = MPS_LOG_ALL_LEVELS;
	ck_assert_int_eq(mps_logger_open(&logger, &lo), APR_SUCCESS);
	mps_log_set_default(logger);

	memset(how, 0, sizeof(how));
	memset(gate_open, 0, sizeof(gate_open));
	memset(in_flight, 0, sizeof(in_flight));
	memset(max_in_flight, 0, sizeof(max_in_flight));
	memset(attempts, 0, sizeof(attempts));
	ncalls = verdicts = devices_freed = 0;
	verdict_dev = NULL;
	how[0].keep = how[1].keep = how[2].keep = 1;
	notifier = NULL;
}

static void
teardown(void)
{
	int i;

	/* Whatever a failed test left gated goes now. */
	for (i = 0; i < NSUBS; i++)
		open_gate(i);
	mps_notifier_destroy(notifier);
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);
	mps_workers_destroy(workers);
	mps_registry_destroy(registry);
	mps_logger_close(logger);
	apr_pool_destroy(pool);
}

/* ---- helpers ------------------------------------------------------ */

static apr_array_header_t *
subscribers(int n)
{
	apr_array_header_t *a = apr_array_make(pool, n,
	    sizeof(mps_subscriber_t));
	int i;

	for (i = 0; i < n; i++) {
		mps_subscriber_t *s = apr_array_push(a);

		memset(s, 0, sizeof(*s));
		s->url = urls[i];
		s->line = i + 1;
	}
	return a;
}

static mps_notifier_options_t
options(int nsubs)
{
	mps_notifier_options_t o;

	mps_notifier_options_init(&o);
	o.notify = fake_notify;
	o.params = "-timeout 1";
	o.subscribers = subscribers(nsubs);
	o.mps_address = "mps.example.com";
	o.mps_http_port = 8080;
	o.mps_socks_port = 1080;
	o.timers = timers;
	o.retry_delay = apr_time_from_msec(100);
	o.stop_wait = apr_time_from_sec(2);
	o.keep_false = on_keep_false;
	o.keep_false_arg = &verdicts;
	return o;
}

static void
start(const mps_notifier_options_t *o)
{
	ck_assert_int_eq(mps_notifier_create(&notifier, o, workers),
	    APR_SUCCESS);
}

static void
count_free(void *session)
{
	(void)session;
	pthread_mutex_lock(&mu);
	devices_freed++;
	pthread_mutex_unlock(&mu);
}

/* A registered device n with an FQDN and three forwards. */
static mps_device_t *
device(int n)
{
	char uuid[40];
	mps_device_t *dev;

	(void)snprintf(uuid, sizeof(uuid), "8f9b766e-34c1-4bd1-a000-%012d",
	    n);
	ck_assert_int_eq(mps_device_create(uuid, "192.0.2.1:1024", 0, NULL,
	    NULL, count_free, &dev), APR_SUCCESS);
	ck_assert_int_eq(mps_registry_register(registry, dev, NULL),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_registry_add_forward(registry, dev,
	    apr_psprintf(pool, "amt%d.example.com", n), 16993, NULL),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_registry_add_forward(registry, dev, NULL, 5900,
	    NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_registry_add_forward(registry, dev, NULL, 16992,
	    NULL), APR_SUCCESS);
	return dev;
}

static mps_notifier_stats_t
stats(int index)
{
	mps_notifier_stats_t st;

	ck_assert_int_eq(mps_notifier_stats(notifier, index, &st),
	    APR_SUCCESS);
	return st;
}

/* Waits (up to 10 s) until subscriber index has no event waiting. */
static void
wait_drained(int index)
{
	apr_time_t until = apr_time_now() + apr_time_from_sec(10);

	while (stats(index).waiting > 0) {
		ck_assert_msg(apr_time_now() < until, "subscriber %d never "
		    "drained", index);
		apr_sleep(apr_time_from_msec(2));
	}
}

/* Waits (up to 10 s) for n verdicts. The queue empties before the verdict
 * is passed on (the callback runs outside the notifier's lock), so a
 * drained queue alone does not mean the verdict came. */
static void
wait_verdicts(int n)
{
	apr_time_t until = apr_time_now() + apr_time_from_sec(10);
	int got;

	for (;;) {
		pthread_mutex_lock(&mu);
		got = verdicts;
		pthread_mutex_unlock(&mu);
		if (got >= n)
			return;
		ck_assert_msg(apr_time_now() < until, "%d of %d verdicts", got,
		    n);
		apr_sleep(apr_time_from_msec(2));
	}
}

/* Waits (up to 10 s) until at least n calls were made to subscriber s. */
static void
wait_calls(int s, int n)
{
	apr_time_t until = apr_time_now() + apr_time_from_sec(10);
	int i, got;

	for (;;) {
		pthread_mutex_lock(&mu);
		for (got = 0, i = 0; i < ncalls; i++)
			got += calls[i].sub == s;
		pthread_mutex_unlock(&mu);
		if (got >= n)
			return;
		ck_assert_msg(apr_time_now() < until, "subscriber %d: %d of %d "
		    "calls", s, got, n);
		apr_sleep(apr_time_from_msec(2));
	}
}

/* The calls made to subscriber s, in order. */
static int
calls_of(int s, struct call *out, int max)
{
	int i, n = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < ncalls && n < max; i++)
		if (calls[i].sub == s)
			out[n++] = calls[i];
	pthread_mutex_unlock(&mu);
	return n;
}

/* Waits (up to 5 s) until n devices were freed. */
static void
wait_freed(int n)
{
	apr_time_t until = apr_time_now() + apr_time_from_sec(5);
	int freed;

	for (;;) {
		pthread_mutex_lock(&mu);
		freed = devices_freed;
		pthread_mutex_unlock(&mu);
		if (freed == n)
			return;
		ck_assert_msg(freed < n && apr_time_now() < until, "%d devices "
		    "freed, want %d", freed, n);
		apr_sleep(apr_time_from_msec(2));
	}
}

static const char *
log_text(void)
{
	char *buf = apr_palloc(pool, 1 << 20);
	FILE *f = fopen(apr_pstrcat(pool, tmpdir, "/mps.log", NULL), "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static int
count_in(const char *text, const char *what)
{
	int n = 0;

	while ((text = strstr(text, what)) != NULL) {
		n++;
		text++;
	}
	return n;
}

static long
ms_since(apr_time_t t)
{
	return (long)apr_time_as_msec(apr_time_now() - t);
}

/* ---- tests -------------------------------------------------------- */

START_TEST(test_fields_snapshot)
{
	mps_notifier_options_t o = options(1);
	mps_device_t *dev;
	struct call c[4];

	start(&o);
	dev = device(1);
	mps_notifier_device_event(notifier, dev, MPS_NOTIFY_CONNECTED, 1);
	/* The snapshot is taken now: later changes are not announced. */
	ck_assert_int_eq(mps_registry_remove_forward(registry, dev, 16993),
	    APR_SUCCESS);
	mps_notifier_device_event(notifier, dev, MPS_NOTIFY_DISCONNECTED, 0);
	wait_drained(0);
	ck_assert_int_eq(calls_of(0, c, 4), 2);
	ck_assert_int_eq(c[0].state, MPS_NOTIFY_CONNECTED);
	ck_assert_int_eq(c[0].want_reply, 1);
	ck_assert_str_eq(c[0].uuid, "8f9b766e-34c1-4bd1-a000-000000000001");
	ck_assert_str_eq(c[0].fqdn, "amt1.example.com");
	/* The WS-Man ports, in the order forwarded; 5900 is not one. */
	ck_assert_uint_eq(c[0].nports, 2);
	ck_assert_uint_eq(c[0].ports[0], 16993);
	ck_assert_uint_eq(c[0].ports[1], 16992);
	ck_assert_str_eq(c[0].address, "mps.example.com");
	ck_assert_uint_eq(c[0].http_port, 8080);
	ck_assert_uint_eq(c[0].socks_port, 1080);
	ck_assert_str_eq(c[0].params, "-timeout 1");
	ck_assert_int_eq(c[1].state, MPS_NOTIFY_DISCONNECTED);
	ck_assert_int_eq(c[1].want_reply, 0);
	ck_assert_uint_eq(c[1].nports, 1);
	ck_assert_uint_eq(c[1].ports[0], 16992);
	mps_device_release(dev);
}
END_TEST

#define ORDER_DEVICES	25
#define ORDER_EVENTS	(2 * ORDER_DEVICES)

START_TEST(test_order_per_subscriber)
{
	mps_notifier_options_t o = options(2);
	mps_device_t *devs[ORDER_DEVICES];
	static struct call c[ORDER_EVENTS + 1];
	const char *want_uuid[ORDER_EVENTS];
	int want_state[ORDER_EVENTS];
	int i, s, n = 0;

	start(&o);
	for (i = 0; i < ORDER_DEVICES; i++)
		devs[i] = device(i);
	/* Interleaved: each device connects, and the one before it then
	 * disconnects: C0 C1 D0 C2 D1 ... C24 D23 D24. */
	for (i = 0; i <= ORDER_DEVICES; i++) {
		if (i < ORDER_DEVICES) {
			mps_notifier_device_event(notifier, devs[i],
			    MPS_NOTIFY_CONNECTED, 1);
			want_uuid[n] = mps_device_uuid(devs[i]);
			want_state[n++] = MPS_NOTIFY_CONNECTED;
		}
		if (i > 0) {
			mps_notifier_device_event(notifier, devs[i - 1],
			    MPS_NOTIFY_DISCONNECTED, 0);
			want_uuid[n] = mps_device_uuid(devs[i - 1]);
			want_state[n++] = MPS_NOTIFY_DISCONNECTED;
		}
	}
	ck_assert_int_eq(n, ORDER_EVENTS);
	for (s = 0; s < 2; s++) {
		wait_drained(s);
		ck_assert_int_eq(calls_of(s, c, ORDER_EVENTS + 1),
		    ORDER_EVENTS);
		/* Exactly the recorded order. */
		for (i = 0; i < ORDER_EVENTS; i++) {
			ck_assert_int_eq(c[i].state, want_state[i]);
			ck_assert_str_eq(c[i].uuid, want_uuid[i]);
		}
		/* One delivery at a time per subscriber. */
		ck_assert_int_eq(max_in_flight[s], 1);
		ck_assert_uint_eq(stats(s).delivered, ORDER_EVENTS);
		ck_assert_uint_eq(stats(s).dropped, 0);
	}
	for (i = 0; i < ORDER_DEVICES; i++)
		mps_device_release(devs[i]);
}
END_TEST

#define HANG_EVENTS	200

START_TEST(test_hang_delays_no_other)
{
	mps_notifier_options_t o = options(2);
	mps_device_t *devs[HANG_EVENTS];
	static struct call c[HANG_EVENTS + 1];
	apr_time_t t0;
	long recording, serving;
	int i;

	how[0].gated = 1;	/* subscriber 0 hangs until let go */
	start(&o);
	for (i = 0; i < HANG_EVENTS; i++)
		devs[i] = device(i);
	t0 = apr_time_now();
	for (i = 0; i < HANG_EVENTS; i++)
		mps_notifier_device_event(notifier, devs[i],
		    MPS_NOTIFY_CONNECTED, 0);
	recording = ms_since(t0);
	/* Subscriber 1 gets everything while subscriber 0 hangs on its
	 * first event. */
	wait_drained(1);
	serving = ms_since(t0);
	ck_assert_int_eq(calls_of(0, c, HANG_EVENTS), 1);
	ck_assert_int_eq(calls_of(1, c, HANG_EVENTS), HANG_EVENTS);
	ck_assert_uint_eq(stats(0).waiting, HANG_EVENTS);
	fprintf(stderr, "# %d events recorded in %ld ms; the other "
	    "subscriber served in %ld ms while one hung\n", HANG_EVENTS,
	    recording, serving);
	/* Recording never waited for anyone (the gate holds for 8 s). */
	ck_assert_msg(recording < 1000, "recording took %ld ms", recording);
	ck_assert_msg(serving < 4000, "serving took %ld ms", serving);
	/* Let go: the hanging one catches up, in order. */
	open_gate(0);
	wait_drained(0);
	ck_assert_int_eq(calls_of(0, c, HANG_EVENTS + 1), HANG_EVENTS);
	for (i = 0; i < HANG_EVENTS; i++)
		ck_assert_str_eq(c[i].uuid, apr_psprintf(pool,
		    "8f9b766e-34c1-4bd1-a000-%012d", i));
	ck_assert_int_eq(max_in_flight[0], 1);
	for (i = 0; i < HANG_EVENTS; i++)
		mps_device_release(devs[i]);
}
END_TEST

START_TEST(test_retries_then_success)
{
	mps_notifier_options_t o = options(2);
	mps_device_t *a = device(1), *b = device(2);
	struct call c[8];
	long gap1, gap2;

	how[0].fail_first = 2;
	start(&o);
	mps_notifier_device_event(notifier, a, MPS_NOTIFY_CONNECTED, 0);
	mps_notifier_device_event(notifier, b, MPS_NOTIFY_CONNECTED, 0);
	/* The other subscriber does not wait for the retries. */
	wait_drained(1);
	ck_assert_uint_eq(stats(0).delivered, 0);
	wait_drained(0);
	ck_assert_int_eq(calls_of(0, c, 8), 4);
	/* a, a, a (delivered), then b: b waited behind a. */
	ck_assert_str_eq(c[0].uuid, mps_device_uuid(a));
	ck_assert_str_eq(c[1].uuid, mps_device_uuid(a));
	ck_assert_str_eq(c[2].uuid, mps_device_uuid(a));
	ck_assert_str_eq(c[3].uuid, mps_device_uuid(b));
	ck_assert(!c[0].delivered && !c[1].delivered && c[2].delivered &&
	    c[3].delivered);
	/* 100 ms, then 200 ms. */
	gap1 = (long)apr_time_as_msec(c[1].at - c[0].at);
	gap2 = (long)apr_time_as_msec(c[2].at - c[1].at);
	ck_assert_msg(gap1 >= 95 && gap1 < 1000, "first retry after %ld ms",
	    gap1);
	ck_assert_msg(gap2 >= 195 && gap2 < 1500, "second retry after %ld ms",
	    gap2);
	ck_assert_uint_eq(stats(0).retries, 2);
	ck_assert_uint_eq(stats(0).delivered, 2);
	ck_assert_uint_eq(stats(0).dropped, 0);
	ck_assert_int_eq(count_in(log_text(), "failed (attempt 1 of 4): "
	    "subscriber 0 told to fail; retrying in 100 ms"), 1);
	ck_assert_int_eq(count_in(log_text(), "retrying in 200 ms"), 1);
	mps_device_release(a);
	mps_device_release(b);
}
END_TEST

START_TEST(test_retries_exhausted)
{
	mps_notifier_options_t o = options(1);
	mps_device_t *a = device(1), *b = device(2);
	struct call c[8];
	const char *log;

	o.max_retries = 2;
	o.retry_delay = apr_time_from_msec(20);
	how[0].fail_always = 1;
	start(&o);
	mps_notifier_device_event(notifier, a, MPS_NOTIFY_CONNECTED, 0);
	mps_notifier_device_event(notifier, b, MPS_NOTIFY_DISCONNECTED, 0);
	wait_drained(0);
	ck_assert_int_eq(calls_of(0, c, 8), 6);
	ck_assert_uint_eq(stats(0).dropped, 2);
	ck_assert_uint_eq(stats(0).retries, 4);
	ck_assert_uint_eq(stats(0).delivered, 0);
	log = log_text();
	ck_assert_ptr_nonnull(strstr(log, "[LM WARNING] notification "
	    "CONNECTED of device 8f9b766e-34c1-4bd1-a000-000000000001 "
	    "(amt1.example.com) to subscriber http://a.example/notify dropped "
	    "after 3 attempts: subscriber 0 told to fail"));
	ck_assert_ptr_nonnull(strstr(log, "notification DISCONNECTED of "
	    "device 8f9b766e-34c1-4bd1-a000-000000000002 (amt2.example.com) "
	    "to subscriber http://a.example/notify dropped after 3 attempts"));
	mps_device_release(a);
	mps_device_release(b);
}
END_TEST

START_TEST(test_queue_bound)
{
	mps_notifier_options_t o = options(1);
	mps_notifier_stats_t st;
	mps_device_t *devs[10];
	struct call c[16];
	int i;

	o.queue_max = 4;
	how[0].gated = 1;
	start(&o);
	for (i = 0; i < 10; i++) {
		devs[i] = device(i);
		mps_notifier_device_event(notifier, devs[i],
		    MPS_NOTIFY_CONNECTED, 0);
	}
	/* The one in flight counts: four accepted, six dropped. */
	ck_assert_uint_eq(stats(0).queued, 4);
	ck_assert_uint_eq(stats(0).dropped, 6);
	ck_assert_uint_eq(stats(0).waiting, 4);
	ck_assert_int_eq(count_in(log_text(), "to subscriber "
	    "http://a.example/notify dropped: its queue is full"), 6);
	ck_assert_ptr_nonnull(strstr(log_text(), "[LM WARNING] notification "
	    "CONNECTED of device 8f9b766e-34c1-4bd1-a000-000000000009 "
	    "(amt9.example.com) to subscriber http://a.example/notify "
	    "dropped: its queue is full"));
	ck_assert_uint_eq(stats(-1).dropped, 6);
	/* There is no second subscriber. */
	ck_assert_int_eq(mps_notifier_stats(notifier, 1, &st), APR_EINVAL);
	open_gate(0);
	wait_drained(0);
	ck_assert_int_eq(calls_of(0, c, 16), 4);
	for (i = 0; i < 4; i++)
		ck_assert_str_eq(c[i].uuid, mps_device_uuid(devs[i]));
	for (i = 0; i < 10; i++)
		mps_device_release(devs[i]);
}
END_TEST

START_TEST(test_keep_false)
{
	mps_notifier_options_t o = options(2);
	mps_device_t *a = device(1), *b = device(2);

	how[1].keep = 0;
	start(&o);
	/* Asked: subscriber 1's verdict is passed on. */
	mps_notifier_device_event(notifier, a, MPS_NOTIFY_CONNECTED, 1);
	/* Not asked, or nothing to keep: no verdict. */
	mps_notifier_device_event(notifier, b, MPS_NOTIFY_CONNECTED, 0);
	mps_notifier_device_event(notifier, b, MPS_NOTIFY_DISCONNECTED, 1);
	wait_drained(0);
	wait_drained(1);
	wait_verdicts(1);
	/* Give a wrongly passed second verdict time to show. */
	apr_sleep(apr_time_from_msec(50));
	pthread_mutex_lock(&mu);
	ck_assert_int_eq(verdicts, 1);
	ck_assert_ptr_eq(verdict_dev, a);
	ck_assert_str_eq(verdict_url, "http://b.example/notify");
	pthread_mutex_unlock(&mu);
	ck_assert_uint_eq(stats(1).kept_false, 1);
	ck_assert_uint_eq(stats(0).kept_false, 0);
	mps_device_release(a);
	mps_device_release(b);
}
END_TEST

/* A reload's list: a removed subscriber takes no new event but delivers
 * what it holds; an added one hears the next events only; one listed
 * again gets new events again, in its old slot. */
START_TEST(test_set_subscribers)
{
	mps_notifier_options_t o = options(2);
	mps_device_t *d1 = device(1), *d2 = device(2), *d3 = device(3);
	apr_array_header_t *list = apr_array_make(pool, 3,
	    sizeof(mps_subscriber_t));
	static struct call c[8];
	mps_notifier_stats_t st;

	how[1].gated = 1;
	start(&o);
	mps_notifier_device_event(notifier, d1, MPS_NOTIFY_CONNECTED, 0);
	wait_drained(0);
	/* b holds d1 (its delivery waits at the gate); now b goes, c comes. */
	APR_ARRAY_PUSH(list, mps_subscriber_t) = (mps_subscriber_t){
	    .url = urls[0], .line = 1 };
	APR_ARRAY_PUSH(list, mps_subscriber_t) = (mps_subscriber_t){
	    .url = urls[2], .line = 2 };
	ck_assert_int_eq(mps_notifier_set_subscribers(notifier, list), 0);
	mps_notifier_device_event(notifier, d2, MPS_NOTIFY_CONNECTED, 0);
	wait_drained(0);
	wait_drained(2);
	open_gate(1);
	wait_drained(1);
	ck_assert_int_eq(calls_of(0, c, 8), 2);
	/* b: only what it held before it was removed, still delivered. */
	ck_assert_int_eq(calls_of(1, c, 8), 1);
	ck_assert_str_eq(c[0].uuid, mps_device_uuid(d1));
	/* c: only what came after it was added. */
	ck_assert_int_eq(calls_of(2, c, 8), 1);
	ck_assert_str_eq(c[0].uuid, mps_device_uuid(d2));
	ck_assert_int_eq(mps_notifier_stats_url(notifier, urls[2], &st),
	    APR_SUCCESS);
	ck_assert_uint_eq(st.delivered, 1);
	ck_assert_int_eq(mps_notifier_stats_url(notifier, "http://x/",
	    &st), APR_NOTFOUND);
	/* b listed again: it hears d3, in the same slot. */
	APR_ARRAY_PUSH(list, mps_subscriber_t) = (mps_subscriber_t){
	    .url = urls[1], .line = 3 };
	ck_assert_int_eq(mps_notifier_set_subscribers(notifier, list), 0);
	mps_notifier_device_event(notifier, d3, MPS_NOTIFY_CONNECTED, 0);
	wait_drained(0);
	wait_drained(1);
	wait_drained(2);
	ck_assert_int_eq(calls_of(1, c, 8), 2);
	ck_assert_str_eq(c[1].uuid, mps_device_uuid(d3));
	ck_assert_int_eq(calls_of(2, c, 8), 2);
	ck_assert_int_eq(calls_of(0, c, 8), 3);
	mps_device_release(d1);
	mps_device_release(d2);
	mps_device_release(d3);
}
END_TEST

START_TEST(test_destroy_drops_and_waits)
{
	mps_notifier_options_t o = options(2);
	mps_device_t *devs[3];
	apr_time_t t0;
	long took;
	int i;

	o.stop_wait = apr_time_from_msec(300);
	how[0].gated = 1;	/* in flight at destroy, */
	how[0].keep = 0;	/* and its verdict comes too late */
	how[1].fail_always = 1;	/* waiting on a retry at destroy */
	o.retry_delay = apr_time_from_sec(30);
	start(&o);
	for (i = 0; i < 3; i++) {
		devs[i] = device(i);
		mps_notifier_device_event(notifier, devs[i],
		    MPS_NOTIFY_CONNECTED, 1);
	}
	wait_calls(0, 1);
	wait_calls(1, 1);
	t0 = apr_time_now();
	mps_notifier_destroy(notifier);
	notifier = NULL;
	took = ms_since(t0);
	/* It waited for the hung delivery, but only so long. */
	ck_assert_msg(took >= 250 && took < 2000, "destroy took %ld ms", took);
	ck_assert_ptr_nonnull(strstr(log_text(), "[LM WARNING] notifier "
	    "stopping: 3 notifications to subscriber http://a.example/notify "
	    "dropped (the first was being delivered)"));
	ck_assert_ptr_nonnull(strstr(log_text(), "notifier stopping: 3 "
	    "notifications to subscriber http://b.example/notify dropped\n"));
	/* The abandoned delivery ends without a verdict or a crash, and
	 * then nothing holds the devices any more. */
	for (i = 0; i < 3; i++)
		mps_device_release(devs[i]);
	mps_registry_destroy(registry);
	ck_assert_int_eq(mps_registry_create(&registry), APR_SUCCESS);
	open_gate(0);
	wait_freed(3);
	ck_assert_int_eq(verdicts, 0);
	/* Nothing was retried after destroy. */
	ck_assert_int_eq(attempts[1], 1);
}
END_TEST

START_TEST(test_destroy_waits_for_quick_delivery)
{
	mps_notifier_options_t o = options(1);
	mps_device_t *dev = device(1);

	how[0].gated = 1;
	start(&o);
	mps_notifier_device_event(notifier, dev, MPS_NOTIFY_CONNECTED, 0);
	wait_calls(0, 1);
	/* Released before stop_wait (2 s) runs out: destroy sees the
	 * delivery end, and drops nothing. */
	open_gate(0);
	mps_notifier_destroy(notifier);
	notifier = NULL;
	ck_assert_ptr_null(strstr(log_text(), "notifier stopping"));
	mps_device_release(dev);
	mps_registry_destroy(registry);
	ck_assert_int_eq(mps_registry_create(&registry), APR_SUCCESS);
	wait_freed(1);
}
END_TEST

START_TEST(test_no_subscribers_and_bad_calls)
{
	mps_notifier_options_t o = options(0);
	mps_notifier_stats_t st;
	mps_device_t *dev = device(1);

	o.subscribers = NULL;
	start(&o);
	mps_notifier_device_event(notifier, dev, MPS_NOTIFY_CONNECTED, 1);
	mps_notifier_device_event(notifier, dev, 7, 0);
	mps_notifier_device_event(notifier, NULL, MPS_NOTIFY_CONNECTED, 0);
	mps_notifier_device_event(NULL, dev, MPS_NOTIFY_CONNECTED, 0);
	ck_assert_uint_eq(stats(-1).queued, 0);
	ck_assert_int_eq(mps_notifier_stats(notifier, 0, &st), APR_EINVAL);
	ck_assert_int_eq(mps_notifier_stats(notifier, -1, NULL), APR_EINVAL);
	ck_assert_ptr_nonnull(strstr(log_text(), "[LM ERROR] notifier: event "
	    "7 of device 8f9b766e-34c1-4bd1-a000-000000000001 is neither"));
	ck_assert_int_eq(ncalls, 0);
	mps_device_release(dev);
}
END_TEST

START_TEST(test_create_refusals)
{
	mps_notifier_options_t o = options(1);
	mps_notifier_t *n = (mps_notifier_t *)1;

	o.notify = NULL;
	ck_assert_int_eq(mps_notifier_create(&n, &o, workers), APR_EINVAL);
	ck_assert_ptr_null(n);
	o = options(1);
	o.timers = NULL;
	ck_assert_int_eq(mps_notifier_create(&n, &o, workers), APR_EINVAL);
	o = options(1);
	o.queue_max = 0;
	ck_assert_int_eq(mps_notifier_create(&n, &o, workers), APR_EINVAL);
	o = options(1);
	o.max_retries = -1;
	ck_assert_int_eq(mps_notifier_create(&n, &o, workers), APR_EINVAL);
	o = options(1);
	o.retry_delay = 0;
	ck_assert_int_eq(mps_notifier_create(&n, &o, workers), APR_EINVAL);
	o = options(1);
	ck_assert_int_eq(mps_notifier_create(&n, &o, NULL), APR_EINVAL);
	ck_assert_int_eq(mps_notifier_create(NULL, &o, workers), APR_EINVAL);
	/* The defaults. */
	mps_notifier_options_init(&o);
	ck_assert_uint_eq(o.queue_max, 4096);
	ck_assert_int_eq(o.max_retries, 3);
	ck_assert_int_eq(o.retry_delay, apr_time_from_sec(1));
	ck_assert_ptr_null(o.notify);
	mps_notifier_destroy(NULL);
}
END_TEST

/* The parameters mpsd builds are what the plugin's grammar reads. */
START_TEST(test_params_round_trip)
{
	mps_config_t cfg;
	struct soap_params p;
	const char *s;
	char e[256];

	mps_config_defaults(&cfg, pool);
	s = mps_notifier_params(&cfg, pool);
	ck_assert_str_eq(s, "-timeout 10 -connect-timeout 5");
	cfg.need_notification_authentication = 1;
	cfg.notification_username = "console admin";
	cfg.notification_password = "p\"w\\ \\\"x";
	cfg.notification_ca_file = "certs/console ca.pem";
	cfg.notification_timeout = apr_time_from_sec(2);
	s = mps_notifier_params(&cfg, pool);
	ck_assert_str_eq(s, "-timeout 2 -connect-timeout 2 -user \"console "
	    "admin\" -pass \"p\\\"w\\\\ \\\\\\\"x\" -cafile \"certs/console "
	    "ca.pem\"");
	ck_assert_msg(mps_soap_params_parse(&p, apr_pstrcat(pool, s,
	    " -target http://h/x", NULL), e, sizeof(e)) == 0, "%s", e);
	ck_assert_str_eq(p.user, "console admin");
	ck_assert_str_eq(p.pass, "p\"w\\ \\\"x");
	ck_assert_str_eq(p.cafile, "certs/console ca.pem");
	ck_assert_int_eq(p.timeout, 2);
	ck_assert_int_eq(p.connect_timeout, 2);
	mps_soap_params_clear(&p);
	/* Without NeedNotificationAuthentication, no credentials. */
	cfg.need_notification_authentication = 0;
	ck_assert_ptr_null(strstr(mps_notifier_params(&cfg, pool), "-user"));
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("queue");

	tcase_add_unchecked_fixture(tc, case_setup, case_teardown);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fields_snapshot);
	tcase_add_test(tc, test_order_per_subscriber);
	tcase_add_test(tc, test_hang_delays_no_other);
	tcase_add_test(tc, test_retries_then_success);
	tcase_add_test(tc, test_retries_exhausted);
	tcase_add_test(tc, test_queue_bound);
	tcase_add_test(tc, test_keep_false);
	tcase_add_test(tc, test_set_subscribers);
	tcase_add_test(tc, test_destroy_drops_and_waits);
	tcase_add_test(tc, test_destroy_waits_for_quick_delivery);
	tcase_add_test(tc, test_no_subscribers_and_bad_calls);
	tcase_add_test(tc, test_create_refusals);
	tcase_add_test(tc, test_params_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
