/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tls_pipe.c: the peer link's relay (server/net/tls_pipe.h) with the
 * real poller, workers and strand, over real loopback TCP and a real TLS
 * session (a self-signed EC certificate made in memory).
 *
 *   test plain end <--TCP--> [pipe plain fd | pipe TLS stream] <--TLS/TCP--> test TLS end
 *
 * Every test drives both of its ends from the test thread, non-blocking,
 * and checks what arrives byte for byte (memcmp), the back-pressure (a
 * reader that stops stops the writer after a bounded number of bytes),
 * the half-close each way, and a TLS peer that vanishes.
 */
#include "unit.h"
#include "unit_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <apr_pools.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "poller.h"
#include "sockwrap.h"
#include "stream.h"
#include "tls.h"
#include "tls_pipe.h"
#include "workers.h"

#define CAP (16 * 1024)
#define SOCKBUF (32 * 1024)

static apr_pool_t *pool;
static mps_workers_t *workers;
static mps_poller_t *poller;
static pthread_t poller_thread;
static SSL_CTX *srv_ctx, *cli_ctx;

/* What the pipe's end callback saw. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ended, end_error, started;
static char end_why[256];
static unsigned long long end_up, end_down;

typedef struct {
	mps_tls_pipe_t *pipe;
	mps_strand_t *strand;
	int plain_fd;			/* the pipe's */
	mps_stream_t s;			/* the pipe's, until started */
	int t_plain;			/* the test's plain end */
	int t_fd;			/* the test's TLS end */
	SSL *t_ssl;
} rig_t;

static void *
poller_main(void *arg)
{
	(void)mps_poller_run(arg);
	return NULL;
}

static void
setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	/* As mpsd does: each worker frees its OpenSSL state as it ends, or
	 * one still ending at exit leaks its error queue. */
	mps_workers_on_thread_end(mps_tls_thread_end);
	ck_assert_int_eq(mps_workers_create(&workers, 2, 1, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_create(&poller, 256, workers, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(pthread_create(&poller_thread, NULL, poller_main,
	    poller), 0);
	srv_ctx = unit_tls_server_ctx("pipe test");
	cli_ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(cli_ctx);
	SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_NONE, NULL);
	ended = end_error = started = 0;
	end_why[0] = '\0';
}

static void
teardown(void)
{
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);
	mps_workers_destroy(workers);
	apr_pool_destroy(pool);
	SSL_CTX_free(srv_ctx);
	SSL_CTX_free(cli_ctx);
	mps_sockwrap_cleanup();
}

static void
nonblock(int fd)
{
	int one = 1, sz = SOCKBUF;

	ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    0);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* A connected loopback TCP pair, both non-blocking. */
static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(l, NULL, NULL);
	ck_assert_int_ge(*b, 0);
	close(l);
	nonblock(*a);
	nonblock(*b);
}

static void
on_end(void *arg, int error, const char *why, unsigned long long up,
    unsigned long long down)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	ended++;
	end_error = error;
	snprintf(end_why, sizeof(end_why), "%s", why);
	end_up = up;
	end_down = down;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void
start_task(void *arg)
{
	rig_t *r = arg;
	mps_tls_pipe_options_t opt = {
		.poller = poller, .strand = r->strand, .buf_size = CAP,
		.end = on_end, .arg = r,
	};
	apr_status_t rv = mps_tls_pipe_start(&r->pipe, &opt, r->plain_fd,
	    &r->s, NULL, 0, NULL, 0);

	pthread_mutex_lock(&mu);
	started = rv == APR_SUCCESS ? 1 : -1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* The pipe as the TLS client (as on the instance a console came to), the
 * test's TLS end as the server; handshake driven from here. */
static void
rig_up(rig_t *r)
{
	int tls_a;
	SSL *cssl;
	apr_status_t hr = APR_EAGAIN;
	int sr = 0;
	char err[256];
	time_t end = time(NULL) + 10;

	memset(r, 0, sizeof(*r));
	tcp_pair(&r->plain_fd, &r->t_plain);
	tcp_pair(&tls_a, &r->t_fd);
	cssl = SSL_new(cli_ctx);
	ck_assert_ptr_nonnull(cssl);
	mps_stream_init(&r->s, tls_a, cssl, 0, 0);
	SSL_set_connect_state(cssl);
	r->t_ssl = SSL_new(srv_ctx);
	/* Partial writes: the back-pressure test counts what got in. */
	SSL_set_mode(r->t_ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_fd(r->t_ssl, r->t_fd);
	SSL_set_accept_state(r->t_ssl);
	while (hr != APR_SUCCESS || sr != 1) {
		ck_assert_msg(time(NULL) < end, "handshake timed out");
		if (hr != APR_SUCCESS) {
			hr = mps_stream_handshake(&r->s, err, sizeof(err));
			ck_assert_msg(hr == APR_SUCCESS || hr == APR_EAGAIN,
			    "client handshake: %s", err);
		}
		if (sr != 1) {
			sr = SSL_do_handshake(r->t_ssl);
			if (sr != 1) {
				int e = SSL_get_error(r->t_ssl, sr);
				ck_assert_msg(e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE,
				    "server handshake failed");
			}
		}
		usleep(1000);
	}
	r->strand = mps_strand_create(workers);
	ck_assert_ptr_nonnull(r->strand);
	ck_assert_int_eq(mps_strand_post(r->strand, start_task, r),
	    APR_SUCCESS);
	pthread_mutex_lock(&mu);
	while (started == 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	ck_assert_int_eq(started, 1);
}

static int
ended_now(void)
{
	int n;

	pthread_mutex_lock(&mu);
	n = ended;
	pthread_mutex_unlock(&mu);
	return n;
}

static void
abort_task(void *arg)
{
	rig_t *r = arg;

	mps_tls_pipe_abort(r->pipe);
}

/* Waits up to 10 s for the end callback; returns whether it came. */
static int
wait_end(void)
{
	struct timespec ts;
	int got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (!ended && pthread_cond_timedwait(&cv, &mu, &ts) == 0)
		;
	got = ended;
	pthread_mutex_unlock(&mu);
	return got;
}

static void
rig_down(rig_t *r)
{
	ck_assert_msg(wait_end(), "the pipe did not end");
	ck_assert_int_eq(ended_now(), 1);
	SSL_free(r->t_ssl);
	close(r->t_fd);
	close(r->t_plain);
	mps_strand_release(r->strand);
}

static uint8_t *
pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n);

	ck_assert_ptr_nonnull(p);
	unit_rng_seed(seed);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)unit_rng();
	return p;
}

/* One round of the test's ends, non-blocking: what can go, goes.
 * Returns 1 when anything moved. */
typedef struct {
	const uint8_t *up;		/* plain -> TLS */
	size_t up_len, up_sent, up_got;
	uint8_t *up_rx;
	const uint8_t *down;		/* TLS -> plain */
	size_t down_len, down_sent, down_got;
	uint8_t *down_rx;
	int read_plain, read_tls;	/* readers on (back-pressure off) */
	int plain_eof, tls_eof;		/* seen by the test's ends */
} flow_t;

static int
flow_round(rig_t *r, flow_t *f)
{
	int moved = 0;
	ssize_t n;
	int k;

	if (f->up_sent < f->up_len) {
		n = send(r->t_plain, f->up + f->up_sent, f->up_len - f->up_sent,
		    MSG_NOSIGNAL);
		if (n > 0) {
			f->up_sent += (size_t)n;
			moved = 1;
		}
	}
	if (f->down_sent < f->down_len) {
		size_t w = 0;
		ERR_clear_error();
		if (SSL_write_ex(r->t_ssl, f->down + f->down_sent,
		    f->down_len - f->down_sent, &w) == 1) {
			f->down_sent += w;
			moved = 1;
		}
	}
	if (f->read_tls && !f->tls_eof) {
		uint8_t b[16384];
		size_t got = 0;
		ERR_clear_error();
		if (SSL_read_ex(r->t_ssl, b, sizeof(b), &got) == 1) {
			ck_assert_uint_le(f->up_got + got, f->up_len);
			memcpy(f->up_rx + f->up_got, b, got);
			f->up_got += got;
			moved = 1;
		} else {
			k = SSL_get_error(r->t_ssl, 0);
			if (k == SSL_ERROR_ZERO_RETURN) {
				f->tls_eof = 1;
				moved = 1;
			} else
				ck_assert_msg(k == SSL_ERROR_WANT_READ ||
				    k == SSL_ERROR_WANT_WRITE,
				    "TLS end: read error %d", k);
		}
	}
	if (f->read_plain && !f->plain_eof) {
		uint8_t b[16384];
		n = recv(r->t_plain, b, sizeof(b), 0);
		if (n > 0) {
			ck_assert_uint_le(f->down_got + (size_t)n, f->down_len);
			memcpy(f->down_rx + f->down_got, b, (size_t)n);
			f->down_got += (size_t)n;
			moved = 1;
		} else if (n == 0) {
			f->plain_eof = 1;
			moved = 1;
		} else
			ck_assert_msg(errno == EAGAIN, "plain end: %s",
			    strerror(errno));
	}
	return moved;
}

/* Runs rounds until done(f) or no progress for idle_ms; returns done. */
static int
flow_run(rig_t *r, flow_t *f, int (*done)(const flow_t *), int idle_ms)
{
	long long idle_since = -1, now;
	struct timespec ts;

	/* Idle time on the clock: the poll below returns at once while a
	 * socket is writable, so counting polls would give up after a few
	 * milliseconds of a loaded machine not running the pipe's strand. */
	while (!done(f)) {
		if (flow_round(r, f))
			idle_since = -1;
		else {
			struct pollfd p[2] = {
				{ .fd = r->t_plain, .events = POLLIN | POLLOUT },
				{ .fd = r->t_fd, .events = POLLIN | POLLOUT },
			};
			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
			if (idle_since < 0)
				idle_since = now;
			else if (now - idle_since >= idle_ms)
				return 0;
			if (poll(p, 2, 5) > 0)
				usleep(1000);	/* writable only: do not spin */
		}
	}
	return 1;
}

static int
all_through(const flow_t *f)
{
	return f->up_got == f->up_len && f->down_got == f->down_len &&
	    f->up_sent == f->up_len && f->down_sent == f->down_len;
}

static int
tls_eof_seen(const flow_t *f)
{
	return f->tls_eof;
}

static int
plain_eof_seen(const flow_t *f)
{
	return f->plain_eof;
}

#define BIG (3 * 1024 * 1024)

/* Both ways at once, in order; then the plain side closes first: the
 * TLS end gets close_notify, and still sends; then it closes. */
START_TEST(test_both_ways_plain_closes_first)
{
	rig_t r;
	flow_t f = { 0 };
	uint8_t *up = pattern(BIG, 1), *down = pattern(BIG, 2);
	uint8_t more[1000];

	rig_up(&r);
	f.up = up;
	f.up_len = BIG;
	f.up_rx = malloc(BIG);
	f.down = down;
	f.down_len = BIG;
	f.down_rx = malloc(BIG);
	f.read_plain = f.read_tls = 1;
	ck_assert_msg(flow_run(&r, &f, all_through, 10000), "stalled: up "
	    "%zu/%zu down %zu/%zu", f.up_got, f.up_len, f.down_got,
	    f.down_len);
	ck_assert_int_eq(memcmp(up, f.up_rx, BIG), 0);
	ck_assert_int_eq(memcmp(down, f.down_rx, BIG), 0);

	/* Half-close plain -> TLS: FIN becomes close_notify. */
	ck_assert_int_eq(shutdown(r.t_plain, SHUT_WR), 0);
	ck_assert_msg(flow_run(&r, &f, tls_eof_seen, 5000),
	    "no close_notify after the plain side's FIN");
	ck_assert_int_eq(ended_now(), 0);	/* the other way is still open */
	/* ... and TLS -> plain still flows. */
	memset(more, 'm', sizeof(more));
	f.down = more;
	f.down_len = sizeof(more);
	f.down_sent = f.down_got = 0;
	ck_assert(flow_run(&r, &f, all_through, 5000));
	ck_assert_int_eq(memcmp(more, f.down_rx, sizeof(more)), 0);
	/* Now the TLS end closes too: FIN on the plain side, clean end. */
	ERR_clear_error();
	(void)SSL_shutdown(r.t_ssl);
	ck_assert_msg(flow_run(&r, &f, plain_eof_seen, 5000),
	    "no FIN after close_notify");
	ck_assert(wait_end());
	ck_assert_int_eq(end_error, 0);
	ck_assert_uint_eq(end_up, BIG);
	ck_assert_uint_eq(end_down, BIG + sizeof(more));
	rig_down(&r);
	free(up);
	free(down);
	free(f.up_rx);
	free(f.down_rx);
}
END_TEST

/* The TLS side closes first: the plain end gets FIN and still sends. */
START_TEST(test_tls_closes_first)
{
	rig_t r;
	flow_t f = { 0 };
	uint8_t *up = pattern(200000, 3);

	rig_up(&r);
	f.read_plain = f.read_tls = 1;
	ERR_clear_error();
	(void)SSL_shutdown(r.t_ssl);
	ck_assert_msg(flow_run(&r, &f, plain_eof_seen, 5000),
	    "no FIN after close_notify");
	ck_assert_int_eq(ended_now(), 0);
	f.up = up;
	f.up_len = 200000;
	f.up_rx = malloc(200000);
	ck_assert(flow_run(&r, &f, all_through, 5000));
	ck_assert_int_eq(memcmp(up, f.up_rx, 200000), 0);
	ck_assert_int_eq(shutdown(r.t_plain, SHUT_WR), 0);
	ck_assert_msg(flow_run(&r, &f, tls_eof_seen, 5000),
	    "no close_notify after FIN");
	ck_assert(wait_end());
	ck_assert_int_eq(end_error, 0);
	rig_down(&r);
	free(up);
	free(f.up_rx);
}
END_TEST

/*
 * Back-pressure each way: a reader that stops stops its writer after a
 * bounded number of bytes (the pipe's buffer plus the sockets' own);
 * once it reads again everything arrives, in order.
 */
#define BOUND (1024 * 1024)

START_TEST(test_back_pressure)
{
	rig_t r;
	flow_t f = { 0 };
	uint8_t *big = pattern(8 * BOUND, 4);

	rig_up(&r);
	/* TLS -> plain with the plain reader stopped. */
	f.down = big;
	f.down_len = 8 * BOUND;
	f.down_rx = malloc(8 * BOUND);
	f.read_tls = 1;
	ck_assert_int_eq(flow_run(&r, &f, all_through, 500), 0);
	ck_assert_msg(f.down_sent < BOUND, "the TLS writer got %zu bytes "
	    "past a stopped plain reader", f.down_sent);
	ck_assert_uint_gt(f.down_sent, 0);
	f.read_plain = 1;
	ck_assert(flow_run(&r, &f, all_through, 10000));
	ck_assert_int_eq(memcmp(big, f.down_rx, f.down_len), 0);

	/* plain -> TLS with the TLS reader stopped. */
	free(f.down_rx);
	memset(&f, 0, sizeof(f));
	f.up = big;
	f.up_len = 8 * BOUND;
	f.up_rx = malloc(8 * BOUND);
	f.read_plain = 1;
	ck_assert_int_eq(flow_run(&r, &f, all_through, 500), 0);
	ck_assert_msg(f.up_sent < BOUND, "the plain writer got %zu bytes "
	    "past a stopped TLS reader", f.up_sent);
	ck_assert_uint_gt(f.up_sent, 0);
	f.read_tls = 1;
	ck_assert(flow_run(&r, &f, all_through, 10000));
	ck_assert_int_eq(memcmp(big, f.up_rx, f.up_len), 0);
	free(f.up_rx);

	/* Ended by the test, from the pipe's strand as peer_link.c does. */
	ck_assert_int_eq(mps_strand_post(r.strand, abort_task, &r),
	    APR_SUCCESS);
	ck_assert(wait_end());
	ck_assert_int_eq(end_error, 1);
	rig_down(&r);
	free(big);
}
END_TEST

/* The TLS peer vanishes (TCP closed, no close_notify): a truncation,
 * not an end: the pipe ends with an error and resets the plain side. */
START_TEST(test_peer_vanishes)
{
	rig_t r;
	flow_t f = { 0 };
	uint8_t b[64];
	ssize_t n;
	time_t end = time(NULL) + 10;

	rig_up(&r);
	f.read_plain = f.read_tls = 1;
	f.down = (const uint8_t *)"hello";
	f.down_len = 5;
	f.down_rx = malloc(5);
	ck_assert(flow_run(&r, &f, all_through, 5000));
	close(r.t_fd);		/* no SSL_shutdown */
	r.t_fd = socket(AF_INET, SOCK_STREAM, 0);	/* for rig_down */
	ck_assert(wait_end());
	ck_assert_int_eq(end_error, 1);
	do {
		n = recv(r.t_plain, b, sizeof(b), 0);
		if (n < 0 && errno == EAGAIN)
			usleep(10000);
	} while (n < 0 && errno == EAGAIN && time(NULL) < end);
	ck_assert_msg(n < 0 && errno == ECONNRESET, "the plain side saw "
	    "%zd (%s), not a reset", n, n < 0 ? strerror(errno) : "-");
	rig_down(&r);
	free(f.down_rx);
}
END_TEST

/* The plain peer resets: the TLS side is closed without close_notify. */
START_TEST(test_plain_resets)
{
	rig_t r;
	flow_t f = { 0 };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	time_t end = time(NULL) + 10;

	rig_up(&r);
	ck_assert_int_eq(setsockopt(r.t_plain, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(r.t_plain);
	r.t_plain = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert(wait_end());
	ck_assert_int_eq(end_error, 1);
	/* The TLS end sees no close_notify: a read error, not ZERO_RETURN. */
	for (;;) {
		uint8_t b[64];
		size_t got;
		int e;

		ERR_clear_error();
		ck_assert_int_ne(SSL_read_ex(r.t_ssl, b, sizeof(b), &got), 1);
		e = SSL_get_error(r.t_ssl, 0);
		ck_assert_int_ne(e, SSL_ERROR_ZERO_RETURN);
		if (e != SSL_ERROR_WANT_READ)
			break;
		ck_assert(time(NULL) < end);
		usleep(10000);
	}
	(void)f;
	rig_down(&r);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("tls_pipe");
	TCase *t = tcase_create("pipe");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_both_ways_plain_closes_first);
	tcase_add_test(t, test_tls_closes_first);
	tcase_add_test(t, test_back_pressure);
	tcase_add_test(t, test_peer_vanishes);
	tcase_add_test(t, test_plain_resets);
	suite_add_tcase(s, t);
	return s;
}
