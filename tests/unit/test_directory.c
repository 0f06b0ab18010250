/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_directory.c: the device directory (server/directory/).
 *
 * Local backend: records by UUID and FQDN, tokens (a newer login's record
 * survives the old tunnel's late removal), names moving between devices,
 * listings, bad arguments.
 *
 * Redis backend, against a real redis-server that each test starts on a
 * free loopback port (skipped, with a TAP comment, when redis-server is
 * not installed): records reach Redis with their TTL; NEWEST WINS across
 * two instances, in order and in the racing interleaving where the older
 * login's write reaches Redis last; a takeover's loser hears it and its
 * late removal leaves the winner's record; an instance that dies without
 * a word vanishes within the TTL; Redis stopped and started again: no
 * call hangs meanwhile and every record comes back (resynchronisation);
 * AUTH with a password.
 */
#include "unit.h"

#include "directory.h"
#include "mps_status.h"

#include <apr_pools.h>
#include <apr_time.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef MPS_WITH_REDIS
#include <hiredis.h>
#endif

#define UUID_A	"12345678-9abc-def0-1234-56789abcdef0"
#define UUID_A_UPPER "12345678-9ABC-DEF0-1234-56789ABCDEF0"
#define UUID_B	"00000000-1111-2222-3333-444444444444"

static const int TOKEN1 = 1, TOKEN2 = 2;

static mps_directory_t *
make_local(void)
{
	mps_directory_options_t opt;
	mps_directory_t *d = NULL;

	mps_directory_options_init(&opt);
	opt.instance_id = "solo";
	opt.peer_address = "10.0.0.1:4434";
	ck_assert_int_eq(mps_directory_create(&d, &opt), APR_SUCCESS);
	return d;
}

/* ---- local ---- */

START_TEST(local_record_lookup)
{
	mps_directory_t *d = make_local();
	apr_port_t ports[] = { 16992, 16993 };
	mps_dir_record_t r;

	ck_assert_int_eq(mps_directory_backend(d), MPS_DIRECTORY_LOCAL);
	ck_assert_int_eq(mps_directory_record(d, UUID_A_UPPER, "Dev.Example",
	    ports, 2, apr_time_from_sec(100), &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_lookup(d, UUID_A, &r), APR_SUCCESS);
	ck_assert_str_eq(r.uuid, UUID_A);
	ck_assert_str_eq(r.fqdn, "dev.example");
	ck_assert_str_eq(r.instance, "solo");
	ck_assert_str_eq(r.peer_address, "10.0.0.1:4434");
	ck_assert_uint_eq(r.nports, 2);
	ck_assert_uint_eq(r.ports[1], 16993);
	ck_assert(r.since == apr_time_from_sec(100));
	ck_assert_int_eq(mps_directory_lookup(d, "DEV.example", &r),
	    APR_SUCCESS);
	ck_assert_str_eq(r.uuid, UUID_A);
	ck_assert_int_eq(mps_directory_lookup(d, UUID_B, &r), APR_NOTFOUND);
	ck_assert_int_eq(mps_directory_lookup(d, "other", &r), APR_NOTFOUND);
	ck_assert(mps_directory_available(d));
	ck_assert_int_eq(mps_directory_flush(d, 0), APR_SUCCESS);
	mps_directory_destroy(d);
}
END_TEST

START_TEST(local_tokens)
{
	mps_directory_t *d = make_local();
	apr_port_t p = 16992;
	mps_dir_record_t r;

	ck_assert_int_eq(mps_directory_record(d, UUID_A, "a.test", &p, 1, 1,
	    &TOKEN1), APR_SUCCESS);
	/* A newer login of the same device replaces the record... */
	ck_assert_int_eq(mps_directory_record(d, UUID_A, NULL, NULL, 0, 2,
	    &TOKEN2), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_lookup(d, UUID_A, &r), APR_SUCCESS);
	ck_assert_uint_eq(r.nports, 0);
	ck_assert(r.since == 2);
	/* ...the old tunnel's late forward cannot take it back... */
	ck_assert_int_eq(mps_directory_record(d, UUID_A, "late.test", &p, 1,
	    1, &TOKEN1), APR_EEXIST);
	ck_assert_int_eq(mps_directory_lookup(d, UUID_A, &r), APR_SUCCESS);
	ck_assert(r.since == 2);
	ck_assert_str_eq(r.fqdn, "");
	/* ...and the old tunnel's late close leaves it alone. */
	ck_assert_int_eq(mps_directory_remove(d, UUID_A, &TOKEN1), 0);
	ck_assert_uint_eq(mps_directory_local_count(d), 1);
	ck_assert_int_eq(mps_directory_remove(d, UUID_A_UPPER, &TOKEN2), 1);
	ck_assert_uint_eq(mps_directory_local_count(d), 0);
	ck_assert_int_eq(mps_directory_lookup(d, UUID_A, &r), APR_NOTFOUND);
	mps_directory_destroy(d);
}
END_TEST

START_TEST(local_names_and_list)
{
	mps_directory_t *d = make_local();
	apr_array_header_t *all;
	apr_pool_t *pool;
	mps_dir_record_t r;
	apr_port_t p = 16992;

	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_record(d, UUID_A, "n.test", &p, 1, 1,
	    &TOKEN1), APR_SUCCESS);
	/* Newest wins for names: B takes n.test. */
	ck_assert_int_eq(mps_directory_record(d, UUID_B, "n.test", &p, 1, 2,
	    &TOKEN2), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_lookup(d, "n.test", &r), APR_SUCCESS);
	ck_assert_str_eq(r.uuid, UUID_B);
	/* B leaving frees the slot; A's record keeps its own name text. */
	ck_assert_int_eq(mps_directory_remove(d, UUID_B, &TOKEN2), 1);
	ck_assert_int_eq(mps_directory_lookup(d, "n.test", &r), APR_NOTFOUND);
	/* A rename moves the slot. */
	ck_assert_int_eq(mps_directory_record(d, UUID_A, "m.test", &p, 1, 1,
	    &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_lookup(d, "m.test", &r), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_list(d, &all, pool), APR_SUCCESS);
	ck_assert_int_eq(all->nelts, 1);
	ck_assert_str_eq(APR_ARRAY_IDX(all, 0, mps_dir_record_t).fqdn,
	    "m.test");
	mps_directory_destroy(d);
	apr_pool_destroy(pool);
}
END_TEST

START_TEST(local_bad_arguments)
{
	mps_directory_options_t opt;
	mps_directory_t *d = NULL;
	apr_port_t zero = 0, many[MPS_REGISTRY_MAX_PORTS + 1] = { 1 };

	mps_directory_options_init(&opt);
	ck_assert_int_eq(mps_directory_create(&d, &opt), APR_EINVAL);	/* no id */
	opt.instance_id = "has space";
	ck_assert_int_eq(mps_directory_create(&d, &opt), APR_EINVAL);
	d = make_local();
	ck_assert_int_eq(mps_directory_record(d, "not-a-uuid", NULL, NULL, 0,
	    0, &TOKEN1), APR_EINVAL);
	ck_assert_int_eq(mps_directory_record(d, UUID_A, NULL, &zero, 1, 0,
	    &TOKEN1), APR_EINVAL);
	ck_assert_int_eq(mps_directory_record(d, UUID_A, NULL, many,
	    MPS_REGISTRY_MAX_PORTS + 1, 0, &TOKEN1), APR_EINVAL);
	ck_assert_int_eq(mps_directory_record(d, UUID_A, "a b", NULL, 0, 0,
	    &TOKEN1), APR_EINVAL);
	ck_assert_int_eq(mps_directory_record(d, UUID_A, NULL, NULL, 0, 0,
	    NULL), APR_EINVAL);
	ck_assert_uint_eq(mps_directory_local_count(d), 0);
	mps_directory_destroy(d);
}
END_TEST

/* ---- redis ---- */
#ifdef MPS_WITH_REDIS

static const char *redis_bin;

/* A port free right now on 127.0.0.1. */
static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static redisContext *
try_cli(int port, const char *password)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *rep;

	if (c == NULL || c->err) {
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	if (password != NULL) {
		rep = redisCommand(c, "AUTH %s", password);
		if (rep != NULL)
			freeReplyObject(rep);
	}
	return c;
}

/* Starts redis-server on port (dies with this process). */
static pid_t
redis_start(int port, const char *password)
{
	char portbuf[16];
	redisContext *c;
	pid_t pid;
	int i;

	snprintf(portbuf, sizeof(portbuf), "%d", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		if (password != NULL)
			execl(redis_bin, redis_bin, "--port", portbuf, "--bind",
			    "127.0.0.1", "--save", "", "--appendonly", "no",
			    "--loglevel", "warning", "--requirepass", password,
			    (char *)NULL);
		else
			execl(redis_bin, redis_bin, "--port", portbuf, "--bind",
			    "127.0.0.1", "--save", "", "--appendonly", "no",
			    "--loglevel", "warning", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((c = try_cli(port, password)) != NULL) {
			redisReply *rep = redisCommand(c, "PING");
			int ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;

			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(c);
			if (ok)
				return pid;
		}
		usleep(25000);
	}
	ck_abort_msg("redis-server did not start on port %d", port);
	return -1;
}

static void
redis_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
}

/* One reply from a plain client, as text (or "(nil)"/"(int) N"). */
static void
cli(int port, char *out, size_t size, const char *fmt, const char *arg)
{
	redisContext *c = try_cli(port, NULL);
	redisReply *rep;

	ck_assert_ptr_nonnull(c);
	rep = redisCommand(c, fmt, arg);
	ck_assert_ptr_nonnull(rep);
	if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
		snprintf(out, size, "%s", rep->str);
	else if (rep->type == REDIS_REPLY_INTEGER)
		snprintf(out, size, "(int) %lld", rep->integer);
	else
		snprintf(out, size, "(nil)");
	freeReplyObject(rep);
	redisFree(c);
}

/* What a takeover callback saw. */
struct seen {
	atomic_int calls;
	const void *token;
	char uuid[MPS_REGISTRY_UUID_SIZE];
	char instance[MPS_DIRECTORY_INSTANCE_MAX + 1];
};

static void
on_takeover(void *arg, const char *uuid, const void *token,
    const char *instance)
{
	struct seen *s = arg;

	s->token = token;
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
	snprintf(s->instance, sizeof(s->instance), "%s", instance);
	atomic_fetch_add(&s->calls, 1);
}

static mps_directory_t *
make_redis(const char *id, int port, int ttl_s, struct seen *seen,
    const char *password)
{
	mps_directory_options_t opt;
	mps_directory_t *d = NULL;
	char peer[64];

	mps_directory_options_init(&opt);
	opt.backend = MPS_DIRECTORY_REDIS;
	opt.instance_id = id;
	snprintf(peer, sizeof(peer), "%s.example:4434", id);
	opt.peer_address = peer;
	opt.redis_port = (apr_port_t)port;
	opt.redis_password = password;
	opt.ttl = apr_time_from_sec(ttl_s);
	opt.timeout = apr_time_from_msec(500);
	opt.on_takeover = on_takeover;
	opt.takeover_arg = seen;
	ck_assert_int_eq(mps_directory_create(&d, &opt), APR_SUCCESS);
	return d;
}

/* A new directory connects in the background: wait for it. */
static void
wait_available(mps_directory_t *d)
{
	int i;

	for (i = 0; i < 500 && !mps_directory_available(d); i++)
		usleep(10000);
	ck_assert_msg(mps_directory_available(d), "never connected");
}

static int
wait_for(atomic_int *v, int want, int ms)
{
	while (atomic_load(v) < want && ms-- > 0)
		usleep(1000);
	return atomic_load(v) >= want;
}

START_TEST(redis_record_ttl_lookup)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	struct seen sb = { 0 }, sc = { 0 };
	mps_directory_t *b = make_redis("b", port, 30, &sb, NULL);
	mps_directory_t *c = make_redis("c", port, 30, &sc, NULL);
	apr_port_t ports[] = { 16992, 16993 };
	apr_array_header_t *all;
	apr_pool_t *pool;
	mps_dir_record_t r;
	char buf[128];
	long long pttl;

	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_record(b, UUID_A, "A.test", ports, 2,
	    apr_time_from_sec(1000), &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s instance", UUID_A);
	ck_assert_str_eq(buf, "b");
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s ports", UUID_A);
	ck_assert_str_eq(buf, "16992,16993");
	cli(port, buf, sizeof(buf), "GET mps:fqdn:%s", "a.test");
	ck_assert_str_eq(buf, UUID_A);
	cli(port, buf, sizeof(buf), "PTTL mps:dev:%s", UUID_A);
	ck_assert(sscanf(buf, "(int) %lld", &pttl) == 1);
	ck_assert(pttl > 25000 && pttl <= 30000);
	cli(port, buf, sizeof(buf), "GET mps:inst:%s", "b");
	ck_assert_str_eq(buf, "b.example:4434");
	/* The other instance finds it, by UUID and by name. */
	wait_available(c);
	ck_assert_int_eq(mps_directory_lookup(c, UUID_A_UPPER, &r),
	    APR_SUCCESS);
	ck_assert_str_eq(r.instance, "b");
	ck_assert_str_eq(r.peer_address, "b.example:4434");
	ck_assert_str_eq(r.fqdn, "a.test");
	ck_assert_uint_eq(r.nports, 2);
	ck_assert(r.since == apr_time_from_sec(1000));
	ck_assert_int_eq(mps_directory_lookup(c, "a.TEST", &r), APR_SUCCESS);
	ck_assert_str_eq(r.uuid, UUID_A);
	ck_assert_int_eq(mps_directory_lookup(c, UUID_B, &r), APR_NOTFOUND);
	ck_assert_int_eq(mps_directory_list(c, &all, pool), APR_SUCCESS);
	ck_assert_int_eq(all->nelts, 1);
	/* A rename drops the old name. */
	ck_assert_int_eq(mps_directory_record(b, UUID_A, "z.test", ports, 1,
	    apr_time_from_sec(1000), &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	cli(port, buf, sizeof(buf), "GET mps:fqdn:%s", "a.test");
	ck_assert_str_eq(buf, "(nil)");
	/* Removal deletes the record and its name. */
	ck_assert_int_eq(mps_directory_remove(b, UUID_A, &TOKEN1), 1);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	cli(port, buf, sizeof(buf), "EXISTS mps:dev:%s", UUID_A);
	ck_assert_str_eq(buf, "(int) 0");
	cli(port, buf, sizeof(buf), "EXISTS mps:fqdn:%s", "z.test");
	ck_assert_str_eq(buf, "(int) 0");
	ck_assert_int_eq(atomic_load(&sb.calls), 0);
	mps_directory_destroy(b);
	mps_directory_destroy(c);
	redis_stop(pid);
	apr_pool_destroy(pool);
}
END_TEST

/* In order: the device moves from B to C; B hears it and its late
 * removal leaves C's record. */
START_TEST(redis_takeover_in_order)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	struct seen sb = { 0 }, sc = { 0 };
	mps_directory_t *b = make_redis("b", port, 30, &sb, NULL);
	mps_directory_t *c = make_redis("c", port, 30, &sc, NULL);
	apr_port_t p = 16992;
	char buf[128];

	ck_assert_int_eq(mps_directory_record(b, UUID_A, "a.test", &p, 1,
	    apr_time_from_sec(1000), &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_directory_record(c, UUID_A, "a.test", &p, 1,
	    apr_time_from_sec(1001), &TOKEN2), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(c, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert_msg(wait_for(&sb.calls, 1, 5000), "B never heard");
	ck_assert_ptr_eq(sb.token, &TOKEN1);
	ck_assert_str_eq(sb.uuid, UUID_A);
	ck_assert_str_eq(sb.instance, "c");
	ck_assert_int_eq(atomic_load(&sc.calls), 0);
	ck_assert_uint_eq(mps_directory_local_count(b), 0);
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s instance", UUID_A);
	ck_assert_str_eq(buf, "c");
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s gen", UUID_A);
	ck_assert_str_eq(buf, "2");
	/* B's tunnel closes: its removal must not touch C's record. */
	ck_assert_int_eq(mps_directory_remove(b, UUID_A, &TOKEN1), 0);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s instance", UUID_A);
	ck_assert_str_eq(buf, "c");
	cli(port, buf, sizeof(buf), "GET mps:fqdn:%s", "a.test");
	ck_assert_str_eq(buf, UUID_A);
	mps_directory_destroy(b);
	mps_directory_destroy(c);
	redis_stop(pid);
}
END_TEST

/*
 * The racing interleaving: the device logged in on B (t=1000) then on C
 * (t=1001), but C's write reaches Redis first and B's stale claim last.
 * The stale claim must lose (not steal the device back): B is told, C
 * keeps it and hears nothing.
 */
START_TEST(redis_race_stale_claim_last)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	struct seen sb = { 0 }, sc = { 0 };
	mps_directory_t *b = make_redis("b", port, 30, &sb, NULL);
	mps_directory_t *c = make_redis("c", port, 30, &sc, NULL);
	apr_port_t p = 16992;
	char buf[128];

	ck_assert_int_eq(mps_directory_record(c, UUID_A, NULL, &p, 1,
	    apr_time_from_sec(1001), &TOKEN2), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(c, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_directory_record(b, UUID_A, NULL, &p, 1,
	    apr_time_from_sec(1000), &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert_msg(wait_for(&sb.calls, 1, 5000), "B's stale claim won");
	ck_assert_str_eq(sb.instance, "c");
	ck_assert_ptr_eq(sb.token, &TOKEN1);
	usleep(200000);
	ck_assert_int_eq(atomic_load(&sc.calls), 0);
	ck_assert_uint_eq(mps_directory_local_count(c), 1);
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s instance", UUID_A);
	ck_assert_str_eq(buf, "c");
	mps_directory_destroy(b);
	mps_directory_destroy(c);
	redis_stop(pid);
}
END_TEST

/* Both instances claim 64 devices at once from two threads, with random
 * login times: afterwards each device is held by exactly one instance,
 * the one with the later login, and Redis agrees. */
struct racer {
	mps_directory_t *d;
	apr_time_t *since;
	const void *token;
};

#define NRACE 64

static char race_uuid[NRACE][MPS_REGISTRY_UUID_SIZE];

static void *
race_thread(void *arg)
{
	struct racer *r = arg;
	apr_port_t p = 16992;
	int i;

	for (i = 0; i < NRACE; i++)
		(void)mps_directory_record(r->d, race_uuid[i], NULL, &p, 1,
		    r->since[i], r->token);
	return NULL;
}

START_TEST(redis_race_many)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	struct seen sb = { 0 }, sc = { 0 };
	mps_directory_t *b = make_redis("b", port, 30, &sb, NULL);
	mps_directory_t *c = make_redis("c", port, 30, &sc, NULL);
	apr_time_t tb[NRACE], tc[NRACE];
	struct racer rb = { b, tb, &TOKEN1 }, rc = { c, tc, &TOKEN2 };
	pthread_t th[2];
	mps_dir_record_t r;
	int i;

	unit_rng_seed(14);
	for (i = 0; i < NRACE; i++) {
		snprintf(race_uuid[i], sizeof(race_uuid[i]),
		    "00000000-0000-0000-0000-%012d", i);
		tb[i] = apr_time_from_sec(1000 + (unit_rng() % 1000) * 2);
		tc[i] = apr_time_from_sec(1001 + (unit_rng() % 1000) * 2);
	}
	pthread_create(&th[0], NULL, race_thread, &rb);
	pthread_create(&th[1], NULL, race_thread, &rc);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(10)),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(c, apr_time_from_sec(10)),
	    APR_SUCCESS);
	usleep(300000);		/* the last takeover messages */
	for (i = 0; i < NRACE; i++) {
		const char *winner = tb[i] > tc[i] ? "b" : "c";
		apr_status_t rv = mps_directory_lookup(b, race_uuid[i], &r);

		REQUIRE(rv == APR_SUCCESS, "device %d missing: %d", i, rv);
		REQUIRE(strcmp(r.instance, winner) == 0, "device %d held by "
		    "%s, not by the later login's %s", i, r.instance, winner);
	}
	/* Each instance holds exactly the devices it won, no more. */
	{
		unsigned wins_b = 0;

		for (i = 0; i < NRACE; i++)
			wins_b += tb[i] > tc[i];
		ck_assert_uint_eq(mps_directory_local_count(b), wins_b);
		ck_assert_uint_eq(mps_directory_local_count(c),
		    NRACE - wins_b);
		ck_assert_int_eq(atomic_load(&sb.calls) + atomic_load(&sc.calls),
		    NRACE);
	}
	mps_directory_destroy(b);
	mps_directory_destroy(c);
	redis_stop(pid);
}
END_TEST

/* An instance that dies says nothing: its records expire with the TTL
 * (3 s here), while the survivor's are refreshed past it. */
START_TEST(redis_dead_instance_expires)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	struct seen sb = { 0 }, sc = { 0 };
	mps_directory_t *b = make_redis("b", port, 3, &sb, NULL);
	mps_directory_t *c = make_redis("c", port, 3, &sc, NULL);
	apr_port_t p = 16992;
	char buf[128];
	int i;

	ck_assert_int_eq(mps_directory_record(b, UUID_A, NULL, &p, 1, 1,
	    &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_record(c, UUID_B, NULL, &p, 1, 1,
	    &TOKEN2), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(c, apr_time_from_sec(5)),
	    APR_SUCCESS);
	/* Destroying writes no removal: as good as dead to Redis. */
	mps_directory_destroy(b);
	for (i = 0; i < 45; i++) {
		cli(port, buf, sizeof(buf), "EXISTS mps:dev:%s", UUID_A);
		if (strcmp(buf, "(int) 0") == 0)
			break;
		usleep(100000);
	}
	/* At least TTL - one refresh interval (and some slack for a
	 * loaded machine) after the last write. */
	ck_assert_msg(i >= 10, "gone too early (%d00 ms)", i);
	ck_assert_msg(i < 45, "B's record outlived its TTL");
	cli(port, buf, sizeof(buf), "EXISTS mps:inst:%s", "b");
	ck_assert_str_eq(buf, "(int) 0");
	cli(port, buf, sizeof(buf), "EXISTS mps:dev:%s", UUID_B);
	ck_assert_str_eq(buf, "(int) 1");
	mps_directory_destroy(c);
	redis_stop(pid);
}
END_TEST

/* Redis goes away and comes back empty: nothing hangs meanwhile, and
 * every record (including one made during the outage) is written again. */
START_TEST(redis_outage_resync)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	struct seen sb = { 0 };
	mps_directory_t *b = make_redis("b", port, 30, &sb, NULL);
	apr_port_t p = 16992;
	mps_dir_record_t r;
	apr_time_t t0;
	char buf[128];
	int i;

	ck_assert_int_eq(mps_directory_record(b, UUID_A, "a.test", &p, 1, 1,
	    &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert(mps_directory_available(b));
	redis_stop(pid);
	for (i = 0; i < 300 && mps_directory_available(b); i++)
		usleep(10000);
	ck_assert_msg(!mps_directory_available(b), "outage not noticed");
	/* No call waits for the missing Redis. */
	t0 = apr_time_now();
	ck_assert_int_eq(mps_directory_record(b, UUID_B, NULL, &p, 1, 2,
	    &TOKEN2), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_lookup(b, UUID_A, &r),
	    MPS_ERR_UNAVAILABLE);
	ck_assert_msg(apr_time_now() - t0 < apr_time_from_msec(700),
	    "a call waited %" APR_TIME_T_FMT " us", apr_time_now() - t0);
	ck_assert_uint_eq(mps_directory_local_count(b), 2);
	/* Back, empty (no persistence): both records return. */
	pid = redis_start(port, NULL);
	ck_assert_int_eq(mps_directory_flush(b, apr_time_from_sec(5)),
	    APR_SUCCESS);
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s instance", UUID_A);
	ck_assert_str_eq(buf, "b");
	cli(port, buf, sizeof(buf), "HGET mps:dev:%s instance", UUID_B);
	ck_assert_str_eq(buf, "b");
	cli(port, buf, sizeof(buf), "GET mps:fqdn:%s", "a.test");
	ck_assert_str_eq(buf, UUID_A);
	ck_assert_int_eq(atomic_load(&sb.calls), 0);
	mps_directory_destroy(b);
	redis_stop(pid);
}
END_TEST

START_TEST(redis_password)
{
	int port = free_port();
	pid_t pid = redis_start(port, "s3cret-pw");
	struct seen s1 = { 0 }, s2 = { 0 };
	mps_directory_t *good = make_redis("good", port, 30, &s1, "s3cret-pw");
	mps_directory_t *bad = make_redis("bad", port, 30, &s2, "wrong");
	apr_port_t p = 16992;

	ck_assert_int_eq(mps_directory_record(good, UUID_A, NULL, &p, 1, 1,
	    &TOKEN1), APR_SUCCESS);
	ck_assert_int_eq(mps_directory_flush(good, apr_time_from_sec(5)),
	    APR_SUCCESS);
	ck_assert(mps_directory_available(good));
	ck_assert_int_eq(mps_directory_flush(bad, apr_time_from_msec(1500)),
	    APR_TIMEUP);
	ck_assert(!mps_directory_available(bad));
	mps_directory_destroy(good);
	mps_directory_destroy(bad);
	redis_stop(pid);
}
END_TEST

static const char *
find_redis(void)
{
	static const char *const where[] = {
		"/usr/bin/redis-server", "/usr/local/bin/redis-server",
		"/usr/sbin/redis-server"
	};
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}
#endif /* MPS_WITH_REDIS */

Suite *
unit_suite(void)
{
	Suite *s = suite_create("directory");
	TCase *tc = tcase_create("local");

	tcase_add_test(tc, local_record_lookup);
	tcase_add_test(tc, local_tokens);
	tcase_add_test(tc, local_names_and_list);
	tcase_add_test(tc, local_bad_arguments);
	suite_add_tcase(s, tc);
#ifdef MPS_WITH_REDIS
	redis_bin = find_redis();
	if (redis_bin == NULL) {
		printf("# redis-server not found: Redis backend tests skipped\n");
		return s;
	}
	tc = tcase_create("redis");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, redis_record_ttl_lookup);
	tcase_add_test(tc, redis_takeover_in_order);
	tcase_add_test(tc, redis_race_stale_claim_last);
	tcase_add_test(tc, redis_race_many);
	tcase_add_test(tc, redis_dead_instance_expires);
	tcase_add_test(tc, redis_outage_resync);
	tcase_add_test(tc, redis_password);
	suite_add_tcase(s, tc);
#else
	printf("# built without hiredis: Redis backend tests skipped\n");
#endif
	return s;
}
