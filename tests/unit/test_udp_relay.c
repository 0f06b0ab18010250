/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_udp_relay.c: PET alerts leave as UDP datagrams (udp_relay.h), and
 * the AuthorizedServers filter (outbound.h) decides which may.
 *
 * Real sockets on loopback: a "catcher" bound to port 0 receives what the
 * relay sends, and every datagram is compared byte for byte. Sends to
 * names go through a real mps_workers_t; a gate task that holds the only
 * blocking thread proves that they run there and not on the caller.
 * Every wait has a deadline.
 */
#include "unit.h"

#include "config.h"
#include "config_errors.h"
#include "mps_status.h"
#include "outbound.h"
#include "udp_relay.h"
#include "workers.h"

#include <apr_pools.h>
#include <apr_time.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Longest wait for a datagram that must come. */
#define ARRIVE_MS	5000
/* How long to listen for one that must not. */
#define QUIET_MS	300

static apr_pool_t *pool;
static mps_workers_t *workers;
static mps_udp_relay_t *relay;

/* One blocking thread only, so that one gate task holds the lane. */
static void
setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_create(&workers, 2, 1, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_udp_relay_create(&relay, workers), APR_SUCCESS);
	ck_assert_ptr_nonnull(relay);
}

static void
teardown(void)
{
	mps_udp_relay_destroy(relay);
	relay = NULL;
	mps_workers_destroy(workers);
	apr_pool_destroy(pool);
	pool = NULL;
}

/* ------------------------------------------------------------------ */
/* Catchers: UDP sockets on loopback */

typedef struct catcher {
	int fd4;		/* 127.0.0.1:port, or -1 */
	int fd6;		/* [::1]:port, or -1 */
	apr_port_t port;
} catcher;

static int
bind_loopback(int family, apr_port_t port, apr_port_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	}
	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		(void)close(fd);
		return -1;
	}
	*bound = ntohs(family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Whether this machine has IPv6 loopback at all (some containers not). */
static int
have_ipv6(void)
{
	apr_port_t p;
	int fd = bind_loopback(AF_INET6, 0, &p);

	if (fd < 0)
		return 0;
	(void)close(fd);
	return 1;
}

static void
catch_v4(catcher *c)
{
	c->fd6 = -1;
	c->fd4 = bind_loopback(AF_INET, 0, &c->port);
	ck_assert_int_ge(c->fd4, 0);
}

static void
catch_v6(catcher *c)
{
	c->fd4 = -1;
	c->fd6 = bind_loopback(AF_INET6, 0, &c->port);
	ck_assert_int_ge(c->fd6, 0);
}

/* The same port on 127.0.0.1 and (when there is IPv6) ::1, so that a name
 * is caught whichever of its addresses the resolver gives first. */
static void
catch_both(catcher *c)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		catch_v4(c);
		if (!have_ipv6())
			return;
		c->fd6 = bind_loopback(AF_INET6, c->port, &c->port);
		if (c->fd6 >= 0)
			return;
		(void)close(c->fd4);	/* the port is taken on ::1: again */
	}
	ck_abort_msg("no port free on both 127.0.0.1 and ::1");
}

static void
catcher_close(catcher *c)
{
	if (c->fd4 >= 0)
		(void)close(c->fd4);
	if (c->fd6 >= 0)
		(void)close(c->fd6);
	c->fd4 = c->fd6 = -1;
}

/*
 * The next datagram on either socket within ms: its length (0 is a valid
 * empty datagram), or -1 when nothing came. *from_v6 says which socket.
 */
static ssize_t
catch_one(const catcher *c, void *buf, size_t size, int ms, int *from_v6)
{
	struct pollfd pfd[2];
	nfds_t n = 0;
	int rc;

	if (c->fd4 >= 0) {
		pfd[n].fd = c->fd4;
		pfd[n++].events = POLLIN;
	}
	if (c->fd6 >= 0) {
		pfd[n].fd = c->fd6;
		pfd[n++].events = POLLIN;
	}
	do
		rc = poll(pfd, n, ms);
	while (rc == -1 && errno == EINTR);
	if (rc <= 0)
		return -1;
	for (nfds_t i = 0; i < n; i++)
		if (pfd[i].revents & POLLIN) {
			if (from_v6 != NULL)
				*from_v6 = pfd[i].fd == c->fd6;
			return recv(pfd[i].fd, buf, size, MSG_TRUNC);
		}
	return -1;
}

/* A pattern with zeros and every byte value, so that nothing is lost to
 * string handling. */
static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 31u + seed) % 256u);
	if (n > 3)
		p[3] = 0;
}

/* Sends n pattern bytes to host:port and requires them back, whole. */
static void
roundtrip(const catcher *c, const char *host, size_t n, unsigned seed)
{
	static unsigned char out[MPS_UDP_MAX_PAYLOAD], in[70000];
	char err[256];
	ssize_t got;

	fill(out, n, seed);
	ck_assert_msg(mps_udp_relay_send(relay, "test", host, c->port, out, n,
	    err, sizeof(err)) == APR_SUCCESS, "send to %s failed: %s", host,
	    err);
	ck_assert_str_eq(err, "");
	got = catch_one(c, in, sizeof(in), ARRIVE_MS, NULL);
	ck_assert_msg(got == (ssize_t)n, "to %s: %zd bytes arrived, sent %zu",
	    host, got, n);
	ck_assert_msg(memcmp(in, out, n) == 0, "to %s: bytes differ", host);
}

/* ------------------------------------------------------------------ */
/* A gate that holds the only blocking thread */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_entered;

static void
gate_task(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate_lock);
	gate_entered = 1;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_close(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = 0;
	gate_entered = 0;
	pthread_mutex_unlock(&gate_lock);
	ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_BLOCKING,
	    gate_task, NULL), APR_SUCCESS);
	/* Wait until it holds the thread, so what follows must queue. */
	pthread_mutex_lock(&gate_lock);
	while (!gate_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

static void
gate_release(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

static void *
gate_release_later(void *arg)
{
	(void)arg;
	(void)usleep(200 * 1000);
	gate_release();
	return NULL;
}

/* Waits until the relay has no name send left queued or running. */
static void
wait_idle(void)
{
	apr_time_t until = apr_time_now() + apr_time_from_msec(ARRIVE_MS);
	unsigned pending;

	for (;;) {
		mps_udp_relay_stats(relay, NULL, NULL, &pending);
		if (pending == 0)
			return;
		ck_assert_msg(apr_time_now() < until,
		    "%u name sends still pending", pending);
		(void)usleep(5 * 1000);
	}
}

/* ------------------------------------------------------------------ */
/* Literals: sent at once */

START_TEST(ipv4_literal_arrives_byte_identical)
{
	catcher c;
	uint64_t sent;

	catch_v4(&c);
	roundtrip(&c, "127.0.0.1", 1000, 1);
	/* Datagram boundaries hold: a short one after a long one. */
	roundtrip(&c, "127.0.0.1", 7, 2);
	/* What AMT sends most: a small trap. */
	roundtrip(&c, "127.0.0.1", 98, 3);
	mps_udp_relay_stats(relay, &sent, NULL, NULL);
	ck_assert_uint_eq(sent, 3);
	catcher_close(&c);
}
END_TEST

START_TEST(ipv6_literal_arrives_byte_identical)
{
	catcher c;

	if (!have_ipv6()) {
		fprintf(stderr, "# no IPv6 loopback here: skipped\n");
		return;
	}
	catch_v6(&c);
	roundtrip(&c, "::1", 500, 4);
	roundtrip(&c, "[::1]", 501, 5);		/* brackets as in URLs */
	roundtrip(&c, "0:0:0:0:0:0:0:1", 2, 6);	/* another spelling */
	catcher_close(&c);
}
END_TEST

START_TEST(ipv4_mapped_literal_goes_over_ipv4)
{
	catcher c;

	catch_v4(&c);
	roundtrip(&c, "::ffff:127.0.0.1", 64, 7);
	catcher_close(&c);
}
END_TEST

START_TEST(largest_datagram_and_empty_one)
{
	catcher c;
	unsigned char buf[16];
	char err[256];
	int rcvbuf = 256 * 1024;

	catch_v4(&c);
	(void)setsockopt(c.fd4, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf));
	roundtrip(&c, "127.0.0.1", MPS_UDP_MAX_PAYLOAD, 8);
	/* An empty payload is an empty datagram, not nothing. */
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "127.0.0.1", c.port,
	    NULL, 0, err, sizeof(err)), APR_SUCCESS);
	ck_assert_int_eq(catch_one(&c, buf, sizeof(buf), ARRIVE_MS, NULL), 0);
	catcher_close(&c);
}
END_TEST

START_TEST(oversize_refused_and_not_sent)
{
	static unsigned char big[MPS_UDP_MAX_PAYLOAD + 1];
	unsigned char buf[16];
	catcher c;
	char err[256];
	uint64_t sent;

	catch_v4(&c);
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "127.0.0.1", c.port,
	    big, sizeof(big), err, sizeof(err)), MPS_ERR_TOO_LARGE);
	ck_assert_ptr_nonnull(strstr(err, "65508"));
	/* Refused before any lookup: a name is not queued either. */
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost", c.port,
	    big, sizeof(big), err, sizeof(err)), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(catch_one(&c, buf, sizeof(buf), QUIET_MS, NULL), -1);
	mps_udp_relay_stats(relay, &sent, NULL, NULL);
	ck_assert_uint_eq(sent, 0);
	catcher_close(&c);
}
END_TEST

START_TEST(bad_arguments_refused)
{
	static const char *const bad_hosts[] = {
		"", "[::1", "[]", "evil host", "tab\there", "new\nline",
	};
	char longname[MPS_UDP_MAX_HOST + 2], err[256];
	unsigned char buf[16];
	catcher c;
	size_t i;

	catch_v4(&c);
	for (i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
		ck_assert_msg(mps_udp_relay_send(relay, NULL, bad_hosts[i],
		    c.port, "x", 1, err, sizeof(err)) == APR_EINVAL,
		    "host %s accepted", bad_hosts[i]);
		ck_assert_msg(err[0] != '\0', "no reason for %s",
		    bad_hosts[i]);
	}
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, NULL, c.port, "x", 1,
	    err, sizeof(err)), APR_EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, longname, c.port,
	    "x", 1, err, sizeof(err)), APR_EINVAL);
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "127.0.0.1", 0, "x",
	    1, err, sizeof(err)), APR_EINVAL);
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "127.0.0.1", c.port,
	    NULL, 1, err, sizeof(err)), APR_EINVAL);
	ck_assert_int_eq(mps_udp_relay_send(NULL, NULL, "127.0.0.1", c.port,
	    "x", 1, err, sizeof(err)), APR_EINVAL);
	/* err may be left out. */
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "", c.port, "x", 1,
	    NULL, 0), APR_EINVAL);
	ck_assert_int_eq(catch_one(&c, buf, sizeof(buf), QUIET_MS, NULL), -1);
	ck_assert_int_eq(mps_udp_relay_create(NULL, workers), APR_EINVAL);
	catcher_close(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Names: resolved and sent on the blocking lane */

START_TEST(name_sent_from_the_blocking_lane)
{
	unsigned char out[300], in[400];
	catcher c;
	char err[256];
	unsigned pending;
	uint64_t sent;
	ssize_t got;

	catch_both(&c);
	fill(out, sizeof(out), 9);
	gate_close();
	ck_assert_int_eq(mps_udp_relay_send(relay, "device x", "localhost",
	    c.port, out, sizeof(out), err, sizeof(err)), APR_SUCCESS);
	ck_assert_str_eq(err, "");
	mps_udp_relay_stats(relay, &sent, NULL, &pending);
	ck_assert_uint_eq(pending, 1);
	ck_assert_uint_eq(sent, 0);
	/* The caller's copy is not used after the call. */
	memset(out, 0xee, sizeof(out));
	/* The only blocking thread is held: nothing may have been sent. */
	ck_assert_int_eq(catch_one(&c, in, sizeof(in), QUIET_MS, NULL), -1);
	gate_release();
	got = catch_one(&c, in, sizeof(in), ARRIVE_MS, NULL);
	ck_assert_int_eq(got, 300);
	fill(out, sizeof(out), 9);
	ck_assert_int_eq(memcmp(in, out, sizeof(out)), 0);
	/* One datagram, even though the name may have two addresses. */
	ck_assert_int_eq(catch_one(&c, in, sizeof(in), QUIET_MS, NULL), -1);
	wait_idle();
	mps_udp_relay_stats(relay, &sent, NULL, NULL);
	ck_assert_uint_eq(sent, 1);
	catcher_close(&c);
}
END_TEST

START_TEST(unresolvable_name_is_dropped)
{
	char name[100], err[256];
	uint64_t dropped, sent;

	/* A 64-character label is not a valid DNS name: the resolver
	 * fails at once, without asking any server. */
	memset(name, 'a', 64);
	(void)snprintf(name + 64, sizeof(name) - 64, ".invalid");
	ck_assert_int_eq(mps_udp_relay_send(relay, "device y", name, 162,
	    "trap", 4, err, sizeof(err)), APR_SUCCESS);
	wait_idle();
	mps_udp_relay_stats(relay, &sent, &dropped, NULL);
	ck_assert_uint_eq(dropped, 1);
	ck_assert_uint_eq(sent, 0);
}
END_TEST

START_TEST(name_sends_are_bounded)
{
	unsigned char in[64];
	catcher c;
	char err[256];
	unsigned i, pending, got = 0;
	uint64_t sent;
	int rcvbuf = 512 * 1024;

	catch_both(&c);
	(void)setsockopt(c.fd4, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf));
	if (c.fd6 >= 0)
		(void)setsockopt(c.fd6, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	gate_close();
	for (i = 0; i < MPS_UDP_MAX_PENDING; i++)
		ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost",
		    c.port, &i, sizeof(i), err, sizeof(err)), APR_SUCCESS);
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost", c.port,
	    "x", 1, err, sizeof(err)), MPS_ERR_QUEUE_FULL);
	ck_assert(err[0] != '\0');
	/* Literals never queue: they still go while names wait. */
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "127.0.0.1", c.port,
	    "lit", 3, err, sizeof(err)), APR_SUCCESS);
	mps_udp_relay_stats(relay, NULL, NULL, &pending);
	ck_assert_uint_eq(pending, MPS_UDP_MAX_PENDING);
	gate_release();
	wait_idle();
	mps_udp_relay_stats(relay, &sent, NULL, NULL);
	ck_assert_uint_eq(sent, MPS_UDP_MAX_PENDING + 1);
	while (catch_one(&c, in, sizeof(in), QUIET_MS, NULL) >= 0)
		got++;
	ck_assert_uint_eq(got, MPS_UDP_MAX_PENDING + 1);
	/* Room again once they are done. */
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost", c.port,
	    "y", 1, err, sizeof(err)), APR_SUCCESS);
	wait_idle();
	catcher_close(&c);
}
END_TEST

START_TEST(destroy_while_a_name_send_waits)
{
	unsigned char in[64];
	catcher c;
	char err[256];

	catch_both(&c);
	gate_close();
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost", c.port,
	    "late", 4, err, sizeof(err)), APR_SUCCESS);
	/* The owner lets go first; the queued send keeps the relay. */
	mps_udp_relay_destroy(relay);
	relay = NULL;
	gate_release();
	ck_assert_int_eq(catch_one(&c, in, sizeof(in), ARRIVE_MS, NULL), 4);
	ck_assert_int_eq(memcmp(in, "late", 4), 0);
	catcher_close(&c);
}
END_TEST

START_TEST(workers_stop_before_a_name_send_runs)
{
	unsigned char in[64];
	pthread_t t;
	catcher c;
	char err[256];

	catch_both(&c);
	gate_close();
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost", c.port,
	    "never", 5, err, sizeof(err)), APR_SUCCESS);
	mps_udp_relay_destroy(relay);
	relay = NULL;
	/* The workers stop while the send is queued: it is discarded (and
	 * freed, which ASan and valgrind check), never sent. */
	ck_assert_int_eq(pthread_create(&t, NULL, gate_release_later, NULL),
	    0);
	mps_workers_destroy(workers);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(catch_one(&c, in, sizeof(in), QUIET_MS, NULL), -1);
	catcher_close(&c);
}
END_TEST

START_TEST(send_after_workers_stop_is_refused)
{
	catcher c;
	char err[256];

	catch_v4(&c);
	mps_workers_destroy(workers);
	ck_assert_int_eq(mps_udp_relay_send(relay, NULL, "localhost", c.port,
	    "x", 1, err, sizeof(err)), MPS_ERR_SHUTDOWN);
	ck_assert_ptr_nonnull(strstr(err, "stopping"));
	/* Literals need no worker. */
	roundtrip(&c, "127.0.0.1", 10, 10);
	catcher_close(&c);
}
END_TEST

enum { SENDERS = 4, EACH = 50 };

/* One of SENDERS threads racing for the lazily opened socket. */
static void *
concurrent_sender(void *arg)
{
	const apr_port_t *port = arg;
	int i;

	for (i = 0; i < EACH; i++)
		if (mps_udp_relay_send(relay, NULL, "127.0.0.1", *port, &i,
		    sizeof(i), NULL, 0) != APR_SUCCESS)
			return arg;
	return NULL;
}

START_TEST(concurrent_literal_sends)
{
	/* Many threads share the lazily opened socket: each datagram is
	 * sent and arrives once (ASan, valgrind and TSan watch the rest). */
	pthread_t t[SENDERS];
	unsigned char in[64];
	catcher c;
	int i, rcvbuf = 512 * 1024;
	unsigned got = 0;
	uint64_t sent;
	void *failed;
	static apr_port_t port;

	catch_v4(&c);
	(void)setsockopt(c.fd4, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf));
	port = c.port;
	for (i = 0; i < SENDERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL,
		    concurrent_sender, &port), 0);
	for (i = 0; i < SENDERS; i++) {
		ck_assert_int_eq(pthread_join(t[i], &failed), 0);
		ck_assert_ptr_null(failed);
	}
	mps_udp_relay_stats(relay, &sent, NULL, NULL);
	ck_assert_uint_eq(sent, SENDERS * EACH);
	while (catch_one(&c, in, sizeof(in), QUIET_MS, NULL) >= 0)
		got++;
	ck_assert_uint_eq(got, SENDERS * EACH);
	catcher_close(&c);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The filter */

static apr_array_header_t *
load_list(const char *text)
{
	char dir[] = "/tmp/test_udp_relay.XXXXXX", path[256];
	apr_array_header_t *servers = NULL;
	mps_config_errors_t *errs;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	(void)snprintf(path, sizeof(path), "%s/AuthorizedServersList.config",
	    dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	errs = mps_config_errors_create(pool);
	ck_assert_int_eq(mps_authorized_servers_load(&servers, path, errs,
	    pool), APR_SUCCESS);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	return servers;
}

START_TEST(filter_on_allows_only_listed_targets)
{
	apr_array_header_t *servers;
	mps_config_t cfg;

	mps_config_defaults(&cfg, pool);
	ck_assert(cfg.filter_unauthorized_servers);	/* the default */
	servers = load_list("# traps\n127.0.0.1:9162\n"
	    "Trap.Example.com:162\n[::1]:10162\n");
	ck_assert(mps_filter_allows(&cfg, servers, "127.0.0.1", 9162));
	ck_assert(!mps_filter_allows(&cfg, servers, "127.0.0.1", 9163));
	ck_assert(!mps_filter_allows(&cfg, servers, "127.0.0.2", 9162));
	ck_assert(mps_filter_allows(&cfg, servers, "trap.example.com", 162));
	ck_assert(mps_filter_allows(&cfg, servers, "TRAP.example.COM.", 162));
	ck_assert(!mps_filter_allows(&cfg, servers, "trap.example.com", 163));
	ck_assert(!mps_filter_allows(&cfg, servers, "example.com", 162));
	ck_assert(mps_filter_allows(&cfg, servers, "::1", 10162));
	ck_assert(mps_filter_allows(&cfg, servers, "[0:0::1]", 10162));
	ck_assert(!mps_filter_allows(&cfg, servers, "::1", 9162));
	/* A name is never matched to an address, nor the reverse; an
	 * address with a final dot is a name to the resolver. */
	ck_assert(!mps_filter_allows(&cfg, servers, "localhost", 9162));
	ck_assert(!mps_filter_allows(&cfg, servers, "127.0.0.1.", 9162));
	ck_assert(!mps_filter_allows(&cfg, servers, "", 9162));
	ck_assert(!mps_filter_allows(&cfg, servers, NULL, 9162));
	ck_assert(!mps_filter_allows(&cfg, servers, "127.0.0.1", 0));
	/* Missing configuration refuses. */
	ck_assert(!mps_filter_allows(NULL, servers, "203.0.113.9", 162));
	ck_assert(mps_filter_allows(NULL, servers, "127.0.0.1", 9162));
	ck_assert(!mps_filter_allows(&cfg, NULL, "127.0.0.1", 9162));
	ck_assert(!mps_filter_allows(&cfg, load_list(""), "127.0.0.1", 9162));
}
END_TEST

START_TEST(filter_off_allows_everything)
{
	apr_array_header_t *servers;
	mps_config_t cfg;

	mps_config_defaults(&cfg, pool);
	cfg.filter_unauthorized_servers = 0;
	servers = load_list("127.0.0.1:9162\n");
	ck_assert(mps_filter_allows(&cfg, servers, "127.0.0.1", 9162));
	ck_assert(mps_filter_allows(&cfg, servers, "203.0.113.9", 162));
	ck_assert(mps_filter_allows(&cfg, servers, "trap.example.com", 1));
	ck_assert(mps_filter_allows(&cfg, NULL, "127.0.0.1", 9163));
}
END_TEST

/* What mps_udp_relay_send() makes of a destination, without sending. */
START_TEST(destination_read_without_io)
{
	mps_udp_dest_t d;
	char err[128];

	ck_assert_int_eq(mps_udp_relay_parse_dest("192.0.2.7", 162, 10, &d,
	    err, sizeof(err)), APR_SUCCESS);
	ck_assert_int_eq(d.family, AF_INET);
	ck_assert_int_eq(ntohs(d.addr.v4.sin_port), 162);
	ck_assert_int_eq(d.addr.v4.sin_addr.s_addr, htonl(0xc0000207));
	ck_assert_int_eq(mps_udp_relay_parse_dest("[::ffff:192.0.2.7]", 162,
	    0, &d, err, sizeof(err)), APR_SUCCESS);
	ck_assert_int_eq(d.family, AF_INET);	/* goes out over IPv4 */
	ck_assert_str_eq(d.host, "::ffff:192.0.2.7");
	ck_assert_int_eq(mps_udp_relay_parse_dest("[2001:db8::7]", 162, 0, &d,
	    err, sizeof(err)), APR_SUCCESS);
	ck_assert_int_eq(d.family, AF_INET6);
	ck_assert_int_eq(mps_udp_relay_parse_dest("192.0.2.7.", 162, 0, &d,
	    err, sizeof(err)), APR_SUCCESS);
	ck_assert_int_eq(d.family, AF_UNSPEC);	/* a name: resolved later */
	ck_assert_str_eq(d.host, "192.0.2.7.");
	ck_assert_int_eq(mps_udp_relay_parse_dest("a b", 162, 0, &d, err,
	    sizeof(err)), APR_EINVAL);
	ck_assert_str_eq(err, "destination host contains a control "
	    "character or a space");
	ck_assert_int_eq(mps_udp_relay_parse_dest("[::1", 162, 0, &d, err,
	    sizeof(err)), APR_EINVAL);
	ck_assert_int_eq(mps_udp_relay_parse_dest("::1", 0, 0, &d, err,
	    sizeof(err)), APR_EINVAL);
	ck_assert_int_eq(mps_udp_relay_parse_dest("::1", 1, MPS_UDP_MAX_PAYLOAD
	    + 1, &d, err, sizeof(err)), MPS_ERR_TOO_LARGE);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("udp_relay");
	TCase *tc;

	tc = tcase_create("literals");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ipv4_literal_arrives_byte_identical);
	tcase_add_test(tc, ipv6_literal_arrives_byte_identical);
	tcase_add_test(tc, ipv4_mapped_literal_goes_over_ipv4);
	tcase_add_test(tc, largest_datagram_and_empty_one);
	tcase_add_test(tc, oversize_refused_and_not_sent);
	tcase_add_test(tc, bad_arguments_refused);
	tcase_add_test(tc, concurrent_literal_sends);
	tcase_add_test(tc, destination_read_without_io);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, name_sent_from_the_blocking_lane);
	tcase_add_test(tc, unresolvable_name_is_dropped);
	tcase_add_test(tc, name_sends_are_bounded);
	tcase_add_test(tc, destroy_while_a_name_send_waits);
	tcase_add_test(tc, workers_stop_before_a_name_send_runs);
	tcase_add_test(tc, send_after_workers_stop_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("filter");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, filter_on_allows_only_listed_targets);
	tcase_add_test(tc, filter_off_allows_everything);
	suite_add_tcase(s, tc);
	return s;
}
