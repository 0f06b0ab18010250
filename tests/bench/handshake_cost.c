/* SPDX-License-Identifier: Apache-2.0 */
/*
 * handshake_cost.c: what OpenSSL alone costs a server per device login,
 * for tests/bench/vs_meshcentral.sh (a benchmark, not a test).
 *
 * usage: handshake_cost --cert CHAIN.pem --key KEY.pem [--count N]
 *                       [--threads T]
 *
 * Runs N TLS handshakes (default 2000), client and server joined by an
 * in-memory BIO pair: no sockets, no poller, no APF. With --threads T
 * (default 1), T threads share the N handshakes and run at once on one
 * SSL_CTX, as the I/O threads of a server do: OpenSSL 3.0's shared state
 * (its algorithm and property caches, behind locks) then costs what it
 * costs under concurrency, cache-line traffic included.
 *
 * The server side is mpsd's own (mps_tls_ctx_create(), the modern
 * profile: the same suites, groups and options as the AMT listener); the
 * client offers what tests/sim/amtsim offers (TLS 1.2 only, ECDHE-RSA
 * with AES-GCM first), so both ends choose what they choose in the
 * benchmark's waves.
 * Only the server's calls are timed, on this thread's CPU clock: SSL_new,
 * its handshake steps, and one 48-byte record each way afterwards (the
 * APF login's records are of that size). Freeing the connection is not
 * timed (a tunnel is freed when the device leaves, not when it logs in).
 *
 * This is a lower bound on the CPU any server built on this OpenSSL must
 * spend per login of such a device, before its own code, the kernel's
 * sockets and the wake-ups of its threads: the part of a login no design
 * choice of the server removes. vs_meshcentral.sh divides the peer's CPU
 * per login by it: the most any server on this OpenSSL could beat the
 * peer by, in that run.
 *
 * The server's connections are then kept, as mpsd keeps an idle
 * tunnel's: on a small memory BIO of their own (about the size of the
 * socket BIO mpsd gives a connection), with OpenSSL's record
 * buffers released (SSL_free_buffers, as mpsd's stream layer does when a
 * tunnel goes idle). The heap in use (glibc's mallinfo2: every arena,
 * with the allocator's chunk headers) grows by what OpenSSL keeps per
 * idle connection: the part of a tunnel's memory that no server on this
 * OpenSSL avoids, before its own state and the heap's holes.
 *
 * Output (stdout, key=value): handshake_cost count=N threads=T ms=F
 * kib_kept=F protocol=P cipher=C, where ms is the server's CPU
 * milliseconds per handshake (the server calls' thread CPU time, summed
 * over threads) and kib_kept the heap each kept connection holds.
 * Exit status 0, 1 when a handshake failed, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"
#include "../sim/sim_ciphers.h"	/* amtsim's offer */

/* The size of an APF login's messages, give or take. */
#define RECORD_BYTES 48

static double
thread_cpu_seconds(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: handshake_cost --cert CHAIN.pem --key KEY.pem "
	    "[--count N]\n");
	exit(2);
}

static SSL_CTX *
client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, SIM_MODERN_CIPHERS) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	/* Its cost is the client's, not timed; the server's chain is the
	 * benchmark's own. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

/* One step of one side: 1 done, 0 wants the other side, -1 failed. */
static int
step(SSL *ssl)
{
	int r = SSL_do_handshake(ssl), e;

	if (r == 1)
		return 1;
	e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

/*
 * One login's TLS on the server side; returns the server's CPU seconds,
 * or a negative value when the handshake or the records failed. With
 * keep not NULL, the server's connection is kept idle there (*keep).
 */
static double
one_login(SSL_CTX *sctx, SSL_CTX *cctx, char *proto, char *cipher,
    size_t namesize, SSL **keep)
{
	unsigned char out[RECORD_BYTES], in[RECORD_BYTES];
	BIO *sbio = NULL, *cbio = NULL;
	SSL *s, *c;
	double t0, spent = 0;
	int sd = 0, cd = 0, rounds;

	memset(out, 'A', sizeof(out));
	t0 = thread_cpu_seconds();
	s = SSL_new(sctx);
	spent += thread_cpu_seconds() - t0;
	c = SSL_new(cctx);
	if (s == NULL || c == NULL || !BIO_new_bio_pair(&sbio, 0, &cbio, 0)) {
		SSL_free(s);
		SSL_free(c);
		return -1;
	}
	SSL_set_bio(s, sbio, sbio);
	SSL_set_bio(c, cbio, cbio);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (rounds = 0; (!sd || !cd) && rounds < 20; rounds++) {
		if (!cd && (cd = step(c)) < 0)
			break;
		if (!sd) {
			t0 = thread_cpu_seconds();
			sd = step(s);
			spent += thread_cpu_seconds() - t0;
			if (sd < 0)
				break;
		}
	}
	if (sd != 1 || cd != 1 ||
	    SSL_write(c, out, (int)sizeof(out)) != (int)sizeof(out)) {
		spent = -1;
		goto done;
	}
	t0 = thread_cpu_seconds();
	if (SSL_read(s, in, (int)sizeof(in)) != (int)sizeof(in) ||
	    SSL_write(s, out, (int)sizeof(out)) != (int)sizeof(out))
		spent = -1;
	else
		spent += thread_cpu_seconds() - t0;
	if (spent >= 0 && SSL_read(c, in, (int)sizeof(in)) != (int)sizeof(in))
		spent = -1;
	if (spent >= 0) {
		(void)snprintf(proto, namesize, "%s", SSL_get_version(s));
		(void)snprintf(cipher, namesize, "%s", SSL_get_cipher_name(s));
	}
	if (spent >= 0 && keep != NULL) {
		/* Off the pair (its 17 KiB buffers go with the client's
		 * half) onto a BIO of its own, buffers released: a tunnel
		 * that went idle. */
		BIO *idle = BIO_new(BIO_s_mem());

		if (idle == NULL) {
			spent = -1;
			goto done;
		}
		SSL_set_bio(s, idle, idle);
		(void)SSL_free_buffers(s);
		*keep = s;
		s = NULL;
	}
done:
	SSL_free(s);
	SSL_free(c);
	return spent;
}

struct worker {
	SSL_CTX *sctx, *cctx;
	long count;
	SSL **kept;		/* count slots */
	double spent;		/* server CPU seconds */
	int failed;
	char proto[64], cipher[64];
	pthread_t thread;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	double one;
	long i;

	for (i = 0; i < w->count; i++) {
		if ((one = one_login(w->sctx, w->cctx, w->proto, w->cipher,
		    sizeof(w->proto), &w->kept[i])) < 0) {
			ERR_print_errors_fp(stderr);
			w->failed = 1;
			break;
		}
		w->spent += one;
	}
	OPENSSL_thread_stop();
	return NULL;
}

static long
number(const char *arg, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > max)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	mps_tls_settings_t settings;
	char err[MPS_TLS_ERRSIZE], proto[64] = "", cipher[64] = "", kept[32];
	struct worker *w;
	SSL_CTX *sctx, *cctx;
	double total = 0;
	size_t heap0, heap1;
	long count = 2000, threads = 1, t, i, done = 0;
	int a, failed = 0;

	memset(&settings, 0, sizeof(settings));
	settings.profile = MPS_TLS_PROFILE_MODERN;
	settings.verify_client = MPS_VERIFY_CLIENT_NONE;
	for (a = 1; a < argc; a++) {
		if (a + 1 >= argc)
			usage();
		if (strcmp(argv[a], "--cert") == 0)
			settings.cert_chain_file = argv[++a];
		else if (strcmp(argv[a], "--key") == 0)
			settings.key_file = argv[++a];
		else if (strcmp(argv[a], "--count") == 0)
			count = number(argv[++a], 10000000);
		else if (strcmp(argv[a], "--threads") == 0)
			threads = number(argv[++a], 64);
		else
			usage();
	}
	if (settings.cert_chain_file == NULL || settings.key_file == NULL ||
	    threads > count)
		usage();
	if (mps_tls_ctx_create(&sctx, &settings, err, sizeof(err)) !=
	    APR_SUCCESS) {
		fprintf(stderr, "handshake_cost: %s\n", err);
		return 1;
	}
	cctx = client_ctx();
	/* One untimed first login: OpenSSL fetches its algorithms and
	 * builds the key's Montgomery tables once, as in a running server. */
	if (one_login(sctx, cctx, proto, cipher, sizeof(proto), NULL) < 0) {
		ERR_print_errors_fp(stderr);
		fprintf(stderr, "handshake_cost: the first handshake failed\n");
		return 1;
	}
	if ((w = calloc((size_t)threads, sizeof(*w))) == NULL)
		return 1;
	heap0 = mallinfo2().uordblks;
	for (t = 0; t < threads; t++) {
		w[t].sctx = sctx;
		w[t].cctx = cctx;
		w[t].count = count / threads + (t < count % threads);
		if ((w[t].kept = calloc((size_t)w[t].count, sizeof(SSL *))) ==
		    NULL)
			return 1;
		if (pthread_create(&w[t].thread, NULL, worker_main, &w[t]) != 0) {
			fprintf(stderr, "handshake_cost: no thread\n");
			return 1;
		}
	}
	for (t = 0; t < threads; t++) {
		(void)pthread_join(w[t].thread, NULL);
		total += w[t].spent;
		done += w[t].count;
		failed |= w[t].failed;
	}
	/* The kept connections' slot arrays are this program's, not
	 * OpenSSL's: not counted. */
	heap1 = mallinfo2().uordblks - (size_t)done * sizeof(SSL *);
	if (failed) {
		fprintf(stderr, "handshake_cost: a handshake failed\n");
		return 1;
	}
	/* A sanitizer's allocator answers mallinfo2() with zeros. */
	if (heap0 == 0 || heap1 < heap0)
		(void)snprintf(kept, sizeof(kept), "unknown");
	else
		(void)snprintf(kept, sizeof(kept), "%.1f",
		    (double)(heap1 - heap0) / (double)done / 1024);
	printf("handshake_cost count=%ld threads=%ld ms=%.3f kib_kept=%s "
	    "protocol=%s cipher=%s\n", done, threads,
	    total * 1000 / (double)done, kept, w[0].proto, w[0].cipher);
	for (t = 0; t < threads; t++) {
		for (i = 0; i < w[t].count; i++)
			SSL_free(w[t].kept[i]);
		free(w[t].kept);
	}
	free(w);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	return 0;
}
