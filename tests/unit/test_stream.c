/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_stream.c: server/net/stream.h over real loopback TCP and a real
 * TLS session (a self-signed EC certificate made in memory), driven from
 * the test thread: the stream is the TLS server, the test the client.
 *
 * What it checks: a busy stream gathers its TLS records into one write()
 * per flush (OpenSSL's buffering BIO under the SSL), and what it gathers
 * reaches the peer complete and in order although the socket takes only
 * part of it at a time (small socket buffers, a slow reader); gathered
 * bytes count as pending output (mps_stream_out_bytes, POLLOUT); an idle
 * stream or a lone small message never gathers; turning "busy" off with
 * records still gathered writes them first and then stops gathering.
 */
#include "unit.h"
#include "unit_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "stream.h"

#define SOCKBUF (16 * 1024)
#define OUT_HIGH (128 * 1024)	/* what the tunnel lets queue (room) */

static SSL_CTX *srv_ctx, *cli_ctx;

typedef struct {
	mps_stream_t s;			/* the server end under test */
	int cfd;			/* the test's client end */
	SSL *cssl;
} rig_t;

static void
setup(void)
{
	srv_ctx = unit_tls_server_ctx("stream test");
	cli_ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(cli_ctx);
	SSL_CTX_set_verify(cli_ctx, SSL_VERIFY_NONE, NULL);
}

static void
teardown(void)
{
	SSL_CTX_free(srv_ctx);
	SSL_CTX_free(cli_ctx);
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
	ck_assert_int_ge(*a, 0);
	/* Before connect(), so that the window stays small. */
	nonblock(*a);
	ck_assert(connect(*a, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	    errno == EINPROGRESS);
	*b = accept(l, NULL, NULL);
	ck_assert_int_ge(*b, 0);
	close(l);
	nonblock(*b);
}

/* Both ends' handshake, TLS 1.2 (what devices speak) with AES-GCM. */
static void
rig_up(rig_t *r)
{
	int sfd, i, cdone = 0, sdone = 0;
	char err[256];

	tcp_pair(&r->cfd, &sfd);
	SSL *ssl = SSL_new(srv_ctx);
	ck_assert_ptr_nonnull(ssl);
	ck_assert_int_eq(SSL_set_max_proto_version(ssl, TLS1_2_VERSION), 1);
	mps_stream_init(&r->s, sfd, ssl, 64 * 1024, 512 * 1024);
	r->cssl = SSL_new(cli_ctx);
	ck_assert_ptr_nonnull(r->cssl);
	SSL_set_fd(r->cssl, r->cfd);
	SSL_set_connect_state(r->cssl);
	for (i = 0; i < 2000 && !(cdone && sdone); i++) {
		struct pollfd p[2] = { { r->cfd, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		apr_status_t rv;

		if (!cdone) {
			int c = SSL_do_handshake(r->cssl);
			if (c == 1)
				cdone = 1;
			else
				ck_assert_int_eq(SSL_get_error(r->cssl, c),
				    SSL_ERROR_WANT_READ);
		}
		if (!sdone) {
			rv = mps_stream_handshake(&r->s, err, sizeof(err));
			if (rv == APR_SUCCESS)
				sdone = 1;
			else
				ck_assert_msg(rv == APR_EAGAIN, "%s", err);
		}
		(void)poll(p, 2, 10);
	}
	ck_assert(cdone && sdone);
}

static void
rig_down(rig_t *r)
{
	mps_stream_close(&r->s);
	SSL_free(r->cssl);
	close(r->cfd);
}

/* The byte at offset i of the test stream. */
static uint8_t
pattern(unsigned long long i)
{
	return (uint8_t)(i * 131 + (i >> 11) * 7 + (i >> 19));
}

static void
queue(rig_t *r, unsigned long long *next, size_t n)
{
	uint8_t *tail;
	size_t k;

	ck_assert_int_eq(mps_buf_reserve(&r->s.out, n, &tail), APR_SUCCESS);
	for (k = 0; k < n; k++)
		tail[k] = pattern((*next)++);
	ck_assert_int_eq(mps_buf_commit(&r->s.out, n), APR_SUCCESS);
}

/* The client reads at most max bytes and checks each against the
 * pattern; returns how many it read. */
static size_t
client_read(rig_t *r, unsigned long long *got, size_t max)
{
	uint8_t b[8192];
	size_t total = 0, n, k;

	while (total < max) {
		size_t want = max - total < sizeof(b) ? max - total : sizeof(b);

		if (SSL_read_ex(r->cssl, b, want, &n) != 1) {
			ck_assert_int_eq(SSL_get_error(r->cssl, 0),
			    SSL_ERROR_WANT_READ);
			break;
		}
		/* One assertion per read, not per byte: every ck_assert
		 * reports its location to Check's parent process. */
		for (k = 0; k < n && b[k] == pattern(*got + k); k++)
			;
		ck_assert_msg(k == n, "byte %llu out of order or wrong",
		    *got + k);
		*got += n;
		total += n;
	}
	return total;
}

/*
 * Pushes total bytes from the stream to a reader that takes at most
 * read_step per turn, the producer keeping at most OUT_HIGH pending as
 * the tunnel does (its room counts the gathered bytes); keep_until is
 * the byte count after which the stream is no longer busy. Returns how
 * many flushes ended with nothing left in s.out but gathered records
 * the socket had not taken.
 */
static int
push_through(rig_t *r, unsigned long long total, size_t read_step,
    unsigned long long keep_until, int *gathered_seen)
{
	unsigned long long next = 0, got = 0;
	unsigned seed = 12345;
	int held = 0, turns = 0;
	char err[256];

	while (got < total) {
		size_t pend = mps_stream_out_bytes(&r->s);
		apr_status_t rv;

		ck_assert_msg(++turns < 200000, "no progress at %llu", got);
		if (next >= keep_until)
			mps_stream_keep_buffers(&r->s, 0, 0);
		/* Messages of 1 byte to 40,000: records are cut anywhere. */
		while (next < total && pend < OUT_HIGH) {
			size_t n = 1 + (size_t)(rand_r(&seed) % 40000);

			if (n > total - next)
				n = (size_t)(total - next);
			queue(r, &next, n);
			pend = mps_stream_out_bytes(&r->s);
		}
		rv = mps_stream_flush(&r->s, err, sizeof(err));
		ck_assert_msg(rv == APR_SUCCESS || rv == APR_EAGAIN, "%s", err);
		if (r->s.gather != NULL)
			*gathered_seen = 1;
		/* Bounded: what the producer may queue, one message over it,
		 * and at most the gathering buffer's worth beyond. */
		ck_assert_uint_le(mps_stream_out_bytes(&r->s),
		    OUT_HIGH + 40000 + MPS_STREAM_WRITE_GATHER);
		if (rv == APR_EAGAIN) {
			ck_assert(mps_stream_events(&r->s, 0) & APR_POLLOUT);
			if (mps_buf_len(&r->s.out) == 0) {
				ck_assert_uint_gt(mps_stream_out_bytes(&r->s), 0);
				held++;
			}
		} else {
			ck_assert_uint_eq(mps_stream_out_bytes(&r->s), 0);
			ck_assert_int_eq(mps_stream_events(&r->s, 0), 0);
		}
		if (client_read(r, &got, read_step) == 0) {
			struct pollfd p = { r->cfd, POLLIN, 0 };
			(void)poll(&p, 1, 5);
		}
	}
	ck_assert_uint_eq(got, total);
	ck_assert_uint_eq(mps_stream_out_bytes(&r->s), 0);
	return held;
}

START_TEST(gathered_records_arrive_whole_and_in_order)
{
	rig_t r;
	int seen = 0, held;

	rig_up(&r);
	mps_stream_keep_buffers(&r.s, 1, 256 * 1024);
	/* 8 MiB to a reader of 5,000 bytes a turn behind 16 KiB socket
	 * buffers: the socket takes part of a gathered burst at a time. */
	held = push_through(&r, 8ULL << 20, 5000, ~0ULL, &seen);
	ck_assert_int_eq(seen, 1);
	ck_assert_int_gt(held, 0);
	ck_assert_uint_eq(r.s.bytes_out, 8ULL << 20);
	rig_down(&r);
}
END_TEST

START_TEST(idle_stream_and_small_messages_do_not_gather)
{
	rig_t r;
	int seen = 0;
	unsigned long long next = 0, got = 0;
	char err[256];

	rig_up(&r);
	/* Not busy: 1 MiB goes record by record, no gathering buffer. */
	(void)push_through(&r, 1ULL << 20, 65536, 0, &seen);
	ck_assert_int_eq(seen, 0);
	ck_assert_ptr_null(r.s.gather);
	/* Busy, but one small message (a keepalive): written as it is. */
	mps_stream_keep_buffers(&r.s, 1, 256 * 1024);
	next = got = 0;
	queue(&r, &next, 100);
	ck_assert_int_eq(mps_stream_flush(&r.s, err, sizeof(err)), APR_SUCCESS);
	ck_assert_ptr_null(r.s.gather);
	while (got < 100) {
		struct pollfd p = { r.cfd, POLLIN, 0 };
		(void)poll(&p, 1, 100);
		(void)client_read(&r, &got, 100);
	}
	rig_down(&r);
}
END_TEST

START_TEST(not_busy_any_more_writes_gathered_then_stops)
{
	rig_t r;
	int seen = 0;

	rig_up(&r);
	mps_stream_keep_buffers(&r.s, 1, 256 * 1024);
	/* Busy for the first 3 MiB, then not, with records gathered and a
	 * slow reader: all 6 MiB arrive in order and gathering ends. */
	(void)push_through(&r, 6ULL << 20, 3000, 3ULL << 20, &seen);
	ck_assert_int_eq(seen, 1);
	ck_assert_ptr_null(r.s.gather);
	rig_down(&r);
}
END_TEST

START_TEST(close_with_records_gathered)
{
	rig_t r;
	unsigned long long next = 0;
	char err[256];
	int i;

	rig_up(&r);
	mps_stream_keep_buffers(&r.s, 1, 256 * 1024);
	/* Nobody reads: the socket fills, records stay gathered; closing
	 * frees everything (the sanitizer build checks for leaks). */
	for (i = 0; i < 4; i++) {
		queue(&r, &next, 100000);
		(void)mps_stream_flush(&r.s, err, sizeof(err));
	}
	ck_assert_ptr_nonnull(r.s.gather);
	ck_assert_uint_gt(mps_stream_out_bytes(&r.s), mps_buf_len(&r.s.out));
	rig_down(&r);
}
END_TEST

/*
 * OpenSSL's allocations, counted (installed by unit_suite before any):
 * the live bytes of blocks of record-buffer size (>= 12 KiB) and the
 * largest block since the last reset.
 */
#define BIG_BLOCK (12 * 1024)
static _Atomic size_t big_live, largest;
static int counting;

static void *
count_malloc(size_t n, const char *file, int line)
{
	size_t *h = malloc(n + 16);

	(void)file;
	(void)line;
	if (h == NULL)
		return NULL;
	*h = n;
	if (n >= BIG_BLOCK)
		big_live += n;
	if (n > largest)
		largest = n;
	return (char *)h + 16;
}

static void
count_free(void *p, const char *file, int line)
{
	size_t *h;

	(void)file;
	(void)line;
	if (p == NULL)
		return;
	h = (size_t *)((char *)p - 16);
	if (*h >= BIG_BLOCK)
		big_live -= *h;
	free(h);
}

static void *
count_realloc(void *p, size_t n, const char *file, int line)
{
	void *q;
	size_t old;

	if (p == NULL)
		return count_malloc(n, file, line);
	old = *(size_t *)((char *)p - 16);
	if ((q = count_malloc(n, file, line)) == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	count_free(p, file, line);
	return q;
}

/*
 * The read-ahead buffer (MPS_STREAM_READ_AHEAD) only while the stream is
 * busy: the handshake reads with OpenSSL's one-record buffer, a burst
 * with the big one, and the moment the owner says the stream is idle
 * again its empty buffers are freed, with no read or write in between
 * (an idle tunnel's next one may be a keepalive minutes later; before,
 * it held 146 KiB until then).
 */
START_TEST(read_ahead_only_while_busy)
{
	rig_t r;
	uint8_t chunk[16384];
	unsigned long long sent = 0, seen = 0;
	size_t before, k;
	char err[256];

	ck_assert_msg(counting, "OpenSSL's allocator could not be counted");
	largest = 0;
	rig_up(&r);
	ck_assert_uint_lt(largest, MPS_STREAM_READ_AHEAD);	/* handshake */

	mps_stream_keep_buffers(&r.s, 1, 64 * 1024);
	while (seen < 300 * 1024) {
		struct pollfd p = { r.s.fd, POLLIN, 0 };
		size_t n, w = 0;

		if (sent < 300 * 1024) {
			for (k = 0; k < sizeof(chunk); k++)
				chunk[k] = pattern(sent + k);
			if (SSL_write_ex(r.cssl, chunk, sizeof(chunk), &w) == 1)
				sent += w;
		}
		ck_assert_int_eq(mps_stream_read(&r.s, 64 * 1024, err,
		    sizeof(err)), APR_SUCCESS);
		n = mps_buf_len(&r.s.in);
		for (k = 0; k < n; k++)
			REQUIRE(mps_buf_ptr(&r.s.in)[k] == pattern(seen + k),
			    "byte %llu differs", seen + k);
		seen += n;
		(void)mps_buf_consume(&r.s.in, n);
		if (n == 0)
			(void)poll(&p, 1, 10);
	}
	ck_assert_uint_ge(largest, MPS_STREAM_READ_AHEAD);	/* busy */
	before = big_live;
	mps_stream_keep_buffers(&r.s, 0, 0);
	ck_assert_msg(before - big_live >= MPS_STREAM_READ_AHEAD,
	    "going idle freed %zu bytes of OpenSSL's buffers, not the "
	    "read-ahead buffer", before - big_live);
	rig_down(&r);
}
END_TEST

/* read() calls on the server's socket BIO, and those that found nothing. */
static int sock_reads, sock_empty_reads;

static long
count_reads(BIO *b, int oper, const char *argp, size_t len, int argi,
    long argl, int ret, size_t *processed)
{
	(void)b; (void)argp; (void)len; (void)argi; (void)argl;
	(void)processed;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
		sock_reads++;
		if (ret <= 0)
			sock_empty_reads++;
	}
	return ret;
}

static void
wait_readable(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };

	ck_assert_int_eq(poll(&p, 1, 5000), 1);
}

/* A small message (a login's APF message) costs one read(): a short TLS
 * read with nothing left in OpenSSL's buffer ends the call, without the
 * read() that would only say EAGAIN; and nothing sent is lost by it. */
START_TEST(short_tls_read_stops_without_eagain)
{
	rig_t r;
	uint8_t msg[100];
	size_t w, k;
	char err[256];

	rig_up(&r);
	BIO_set_callback_ex(SSL_get_rbio(r.s.ssl), count_reads);
	for (k = 0; k < sizeof(msg); k++)
		msg[k] = pattern(k);
	/* One message. */
	sock_reads = sock_empty_reads = 0;
	ck_assert_int_eq(SSL_write_ex(r.cssl, msg, sizeof(msg), &w), 1);
	wait_readable(r.s.fd);
	ck_assert_int_eq(mps_stream_read(&r.s, 64 * 1024, err, sizeof(err)),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&r.s.in), sizeof(msg));
	ck_assert_int_eq(sock_reads, 1);
	ck_assert_int_eq(sock_empty_reads, 0);
	ck_assert_int_eq(memcmp(mps_buf_ptr(&r.s.in), msg, sizeof(msg)), 0);
	(void)mps_buf_consume(&r.s.in, sizeof(msg));
	/* Two records in the socket: one read() takes both (read-ahead),
	 * and the call returns both. */
	sock_reads = sock_empty_reads = 0;
	ck_assert_int_eq(SSL_write_ex(r.cssl, msg, sizeof(msg), &w), 1);
	ck_assert_int_eq(SSL_write_ex(r.cssl, msg, 50, &w), 1);
	usleep(20000);
	wait_readable(r.s.fd);
	ck_assert_int_eq(mps_stream_read(&r.s, 64 * 1024, err, sizeof(err)),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&r.s.in), sizeof(msg) + 50);
	ck_assert_int_eq(sock_empty_reads, 0);
	ck_assert_int_eq(memcmp(mps_buf_ptr(&r.s.in) + sizeof(msg), msg, 50),
	    0);
	(void)mps_buf_consume(&r.s.in, sizeof(msg) + 50);
	/* What comes after the call is read by the next, as the poller's
	 * level-triggered re-arm reports it. */
	ck_assert_int_eq(SSL_write_ex(r.cssl, msg, 30, &w), 1);
	wait_readable(r.s.fd);
	ck_assert_int_eq(mps_stream_read(&r.s, 64 * 1024, err, sizeof(err)),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&r.s.in), 30);
	rig_down(&r);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("stream");
	TCase *tc = tcase_create("gather");

	/* Before OpenSSL allocates anything (it refuses later). */
	counting = CRYPTO_set_mem_functions(count_malloc, count_realloc,
	    count_free);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, gathered_records_arrive_whole_and_in_order);
	tcase_add_test(tc, idle_stream_and_small_messages_do_not_gather);
	tcase_add_test(tc, not_busy_any_more_writes_gathered_then_stops);
	tcase_add_test(tc, close_with_records_gathered);
	suite_add_tcase(s, tc);

	tc = tcase_create("idle buffers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, read_ahead_only_while_busy);
	tcase_add_test(tc, short_tls_read_stops_without_eagain);
	suite_add_tcase(s, tc);
	return s;
}
