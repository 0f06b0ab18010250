/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directory_redis.c: the Redis backend of the device directory
 * (directory.h), through hiredis.
 *
 * One thread of its own does every hiredis call, so that nothing else in
 * mpsd ever waits for Redis: not the poller, not a strand, not a worker
 * of the I/O lane. It holds two blocking connections with a timeout on
 * every call: "cmd" for the scripts and reads, "sub" subscribed to the
 * takeover channel, which the thread polls together with a wake-up pipe.
 *
 * The loop: connect (at most one attempt a second while Redis is away);
 * read takeover messages; every TTL/3 mark every record dirty (the
 * refresh) and renew the instance key; write pending removals and dirty
 * records, pipelined in batches; answer lookups and listings. Any error
 * on a connection drops both and counts as an outage: logged once when it
 * starts and once when it ends, after which every record is written
 * again (the resynchronisation), since Redis may have lost them (a
 * restart without persistence) or expired them (an outage longer than
 * the TTL).
 *
 * hiredis 0.14 (Debian 12) has no TLS. To encrypt the link to Redis, run
 * stunnel (client mode) beside mpsd and point RedisAddress at it.
 */
#include "directory_priv.h"
#include "log.h"
#include "mps_status.h"

#include <hiredis.h>

#include <apr_strings.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Records written per pipelined round trip. */
#define BATCH 256
/* Delay between connection attempts while Redis is away. */
#define RETRY_INTERVAL apr_time_from_sec(1)
/* Devices a listing returns at most (bounded memory for the caller). */
#define LIST_MAX 1000000
#define KEY_PREFIX "mps:"
#define CHANNEL KEY_PREFIX "takeover"

/*
 * The claim/refresh script. KEYS[1] mps:dev:<uuid>; ARGV: 1 instance,
 * 2 peer address, 3 fqdn, 4 ports, 5 login time (ms), 6 ttl (ms),
 * 7 our generation (0: a new claim), 8 uuid.
 * Returns {gen, instance}: gen > 0 and our instance when the record is
 * ours (written, TTL renewed); {0, holder} when another instance's
 * tunnel is newer. Taking the device from another instance bumps the
 * generation past both and publishes "uuid gen instance".
 */
static const char put_script[] =
"local k = KEYS[1]\n"
"local cur = redis.call('HMGET', k, 'instance', 'gen', 'since', 'fqdn')\n"
"local me, since, mygen, ttl = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[7]), ARGV[6]\n"
"local cinst, cgen, csince, cfqdn = cur[1], tonumber(cur[2]) or 0, tonumber(cur[3]) or 0, cur[4]\n"
"local gen\n"
"if cinst and cinst ~= me then\n"
"  if csince > since then return {0, cinst} end\n"
"  gen = math.max(cgen, mygen) + 1\n"
"elseif cinst then\n"
"  if mygen > 0 then gen = math.max(cgen, mygen) else gen = cgen + 1 end\n"
"else\n"
"  gen = math.max(mygen, 1)\n"
"end\n"
"redis.call('HSET', k, 'instance', me, 'peer', ARGV[2], 'fqdn', ARGV[3], 'ports', ARGV[4], 'since', ARGV[5], 'gen', gen)\n"
"redis.call('PEXPIRE', k, ttl)\n"
"if cfqdn and cfqdn ~= '' and cfqdn ~= ARGV[3] and redis.call('GET', '" KEY_PREFIX "fqdn:' .. cfqdn) == ARGV[8] then\n"
"  redis.call('DEL', '" KEY_PREFIX "fqdn:' .. cfqdn)\n"
"end\n"
"if ARGV[3] ~= '' then redis.call('SET', '" KEY_PREFIX "fqdn:' .. ARGV[3], ARGV[8], 'PX', ttl) end\n"
"if cinst and cinst ~= me then\n"
"  redis.call('PUBLISH', '" CHANNEL "', ARGV[8] .. ' ' .. gen .. ' ' .. me)\n"
"end\n"
"return {gen, me}\n";

/*
 * The removal script. KEYS[1] mps:dev:<uuid>; ARGV: 1 instance, 2 our
 * generation, 3 uuid. Deletes the record (and its name) only while it is
 * still ours at that generation: a device taken over meanwhile keeps its
 * new holder's record.
 */
static const char del_script[] =
"local cur = redis.call('HMGET', KEYS[1], 'instance', 'gen', 'fqdn')\n"
"if cur[1] == ARGV[1] and tonumber(cur[2]) == tonumber(ARGV[2]) then\n"
"  redis.call('DEL', KEYS[1])\n"
"  if cur[3] and cur[3] ~= '' and redis.call('GET', '" KEY_PREFIX "fqdn:' .. cur[3]) == ARGV[3] then\n"
"    redis.call('DEL', '" KEY_PREFIX "fqdn:' .. cur[3])\n"
"  end\n"
"  return 1\n"
"end\n"
"return 0\n";

typedef enum { REQ_LOOKUP, REQ_LIST } req_kind;

/* A lookup or listing, on the caller's stack while it waits. */
typedef struct dir_req_t {
	req_kind kind;
	const char *name;
	mps_dir_record_t *rec;
	apr_array_header_t *arr;
	apr_pool_t *pool;
	apr_status_t rv;
	int state;			/* 0 queued, 1 running, 2 done */
	struct dir_req_t *next;
} dir_req_t;

struct dir_redis_t {
	char host[256];
	int port;
	char *username;
	char *password;			/* wiped on stop */
	struct timeval tv;		/* connect and command timeout */
	apr_interval_time_t refresh_every;

	pthread_t thread;
	int thread_started;
	atomic_int stop;
	int pipe[2];			/* wake-up: read end, write end */

	/* Thread only. */
	redisContext *cmd, *sub;
	char put_sha[41], del_sha[41];
	dir_item_t *items;		/* BATCH of them, for write_records */
	apr_time_t next_attempt, next_refresh;
	int down_logged;		/* the outage was logged */
	int ever_connected;

	atomic_int connected;
	atomic_int busy;		/* writing a batch (for flush) */

	pthread_mutex_t qlock;		/* the request queue and states */
	pthread_cond_t qcond;		/* a request is done */
	dir_req_t *head, *tail;
};

/* ---- small things ---- */

static void
wipe(char *s)
{
	volatile char *p = s;

	while (p != NULL && *p != '\0')
		*p++ = '\0';
}

static void
drain_pipe(dir_redis_t *r)
{
	char buf[64];

	while (read(r->pipe[0], buf, sizeof(buf)) > 0)
		;
}

void
dir_redis_wake(mps_directory_t *dir)
{
	char c = 1;

	/* Non-blocking: a full pipe already holds a wake-up. */
	if (write(dir->redis->pipe[1], &c, 1) < 0 && errno != EAGAIN)
		return;
}

static const char *
ctx_error(redisContext *c)
{
	if (c == NULL)
		return "out of memory";
	return c->errstr[0] != '\0' ? c->errstr : "connection lost";
}

/* A reply that is an error: its text; else NULL. */
static const char *
reply_error(const redisReply *rep)
{
	if (rep == NULL)
		return "no reply";
	if (rep->type == REDIS_REPLY_ERROR)
		return rep->str;
	return NULL;
}

static void
disconnect(mps_directory_t *dir, const char *reason)
{
	dir_redis_t *r = dir->redis;
	char why[160];

	/* reason may point into a context freed below. */
	apr_cpystrn(why, reason, sizeof(why));
	if (r->cmd != NULL)
		redisFree(r->cmd);
	if (r->sub != NULL)
		redisFree(r->sub);
	r->cmd = r->sub = NULL;
	atomic_store(&r->connected, 0);
	r->next_attempt = apr_time_now() + RETRY_INTERVAL;
	if (!r->down_logged) {
		/* Once per outage, not once a second. */
		mps_log(MPS_LOG_ERROR, "Device directory: Redis at %s:%d is "
		    "unreachable (%s); serving this instance's devices only, "
		    "retrying every second", r->host, r->port, why);
		r->down_logged = 1;
	}
}

static redisContext *
open_one(mps_directory_t *dir, char *err, size_t errsize)
{
	dir_redis_t *r = dir->redis;
	redisContext *c;
	redisReply *rep;

	c = redisConnectWithTimeout(r->host, r->port, r->tv);
	if (c == NULL || c->err) {
		snprintf(err, errsize, "%s", ctx_error(c));
		if (c != NULL)
			redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, r->tv) != REDIS_OK ||
	    redisEnableKeepAlive(c) != REDIS_OK) {
		snprintf(err, errsize, "%s", ctx_error(c));
		redisFree(c);
		return NULL;
	}
	if (r->password != NULL) {
		/* Never logged: only Redis's verdict is. */
		if (r->username != NULL)
			rep = redisCommand(c, "AUTH %s %s", r->username,
			    r->password);
		else
			rep = redisCommand(c, "AUTH %s", r->password);
		if (rep == NULL || reply_error(rep) != NULL) {
			snprintf(err, errsize, "authentication: %s",
			    rep != NULL ? rep->str : ctx_error(c));
			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(rep);
	}
	return c;
}

static int
load_script(redisContext *c, const char *text, char sha[41], char *err,
    size_t errsize)
{
	redisReply *rep;

	rep = redisCommand(c, "SCRIPT LOAD %s", text);
	if (rep == NULL || rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		snprintf(err, errsize, "SCRIPT LOAD: %s", rep != NULL &&
		    rep->type == REDIS_REPLY_ERROR ? rep->str : ctx_error(c));
		if (rep != NULL)
			freeReplyObject(rep);
		return -1;
	}
	memcpy(sha, rep->str, 40);
	sha[40] = '\0';
	freeReplyObject(rep);
	return 0;
}

/* One attempt to connect both links. Returns 1 when connected. */
static int
try_connect(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;
	redisReply *rep;
	char err[256] = "";
	int flags;

	r->next_attempt = apr_time_now() + RETRY_INTERVAL;
	if ((r->cmd = open_one(dir, err, sizeof(err))) == NULL)
		goto fail;
	if (load_script(r->cmd, put_script, r->put_sha, err, sizeof(err)) != 0 ||
	    load_script(r->cmd, del_script, r->del_sha, err, sizeof(err)) != 0)
		goto fail;
	if ((r->sub = open_one(dir, err, sizeof(err))) == NULL)
		goto fail;
	rep = redisCommand(r->sub, "SUBSCRIBE %s", CHANNEL);
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		snprintf(err, sizeof(err), "SUBSCRIBE: %s", rep != NULL &&
		    rep->type == REDIS_REPLY_ERROR ? rep->str :
		    ctx_error(r->sub));
		if (rep != NULL)
			freeReplyObject(rep);
		goto fail;
	}
	freeReplyObject(rep);
	/* The subscriber is read only when poll() says so; non-blocking
	 * reads keep a half-arrived message from stalling the thread. */
	flags = fcntl(r->sub->fd, F_GETFL);
	if (flags < 0 || fcntl(r->sub->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		snprintf(err, sizeof(err), "fcntl: %s", strerror(errno));
		goto fail;
	}
	r->sub->flags &= ~REDIS_BLOCK;
	atomic_store(&r->connected, 1);
	if (r->down_logged)
		mps_log(MPS_LOG_WARNING, "Device directory: Redis at %s:%d is "
		    "reachable again; writing this instance's %u device(s) "
		    "again", r->host, r->port, mps_directory_local_count(dir));
	else
		mps_log(MPS_LOG_INFO, "Device directory: connected to Redis "
		    "at %s:%d", r->host, r->port);
	r->down_logged = 0;
	r->ever_connected = 1;
	/* Resynchronise: whatever Redis lost or expired comes back. */
	dir_mark_all_dirty(dir);
	r->next_refresh = 0;
	return 1;
fail:
	disconnect(dir, err[0] != '\0' ? err : "cannot connect");
	return 0;
}

/* ---- writing ---- */

static void
ms_text(apr_time_t t, char *buf, size_t size)
{
	snprintf(buf, size, "%" APR_INT64_T_FMT, (apr_int64_t)(t / 1000));
}

/* Writes the pending removals. Returns 0, or -1 after a disconnect. */
static int
write_removals(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;
	dir_removal_t rm[BATCH];
	char key[64], gen[32];
	redisReply *rep;
	unsigned n, i;
	int failed = 0;

	while ((n = dir_take_removals(dir, rm, BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof(key), KEY_PREFIX "dev:%.36s",
			    rm[i].uuid);
			snprintf(gen, sizeof(gen), "%" APR_UINT64_T_FMT,
			    rm[i].gen);
			redisAppendCommand(r->cmd, "EVALSHA %s 1 %s %s %s %s",
			    r->del_sha, key, dir->instance, gen, rm[i].uuid);
		}
		for (i = 0; i < n; i++) {
			if (redisGetReply(r->cmd, (void **)&rep) != REDIS_OK) {
				disconnect(dir, ctx_error(r->cmd));
				return -1;
			}
			if (reply_error(rep) != NULL && !failed) {
				mps_log(MPS_LOG_ERROR, "Device directory: "
				    "removing %s: %s", rm[i].uuid, rep->str);
				failed = 1;
			}
			freeReplyObject(rep);
		}
	}
	return 0;
}

/* Writes the dirty records. Returns 0, or -1 after a disconnect. */
static int
write_records(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;
	dir_item_t *items = r->items;
	char key[64], since[32], ttl[32], gen[32];
	redisReply *rep;
	unsigned n, i;

	snprintf(ttl, sizeof(ttl), "%" APR_INT64_T_FMT,
	    (apr_int64_t)(dir->ttl / 1000));
	while ((n = dir_take_batch(dir, items, BATCH)) > 0) {
		for (i = 0; i < n; i++) {
			const char *argv[12];

			snprintf(key, sizeof(key), KEY_PREFIX "dev:%.36s",
			    items[i].uuid);
			ms_text(items[i].since, since, sizeof(since));
			snprintf(gen, sizeof(gen), "%" APR_UINT64_T_FMT,
			    items[i].gen);
			argv[0] = "EVALSHA";
			argv[1] = r->put_sha;
			argv[2] = "1";
			argv[3] = key;
			argv[4] = dir->instance;
			argv[5] = dir->peer_address;
			argv[6] = items[i].fqdn;
			argv[7] = items[i].ports;
			argv[8] = since;
			argv[9] = ttl;
			argv[10] = gen;
			argv[11] = items[i].uuid;
			/* NULL lengths: every argument is a C string. */
			redisAppendCommandArgv(r->cmd, 12, argv, NULL);
		}
		for (i = 0; i < n; i++) {
			apr_uint64_t got = 0;
			const char *holder = NULL;

			if (redisGetReply(r->cmd, (void **)&rep) != REDIS_OK) {
				/* The unwritten ones are written again at the
				 * resynchronisation. */
				disconnect(dir, ctx_error(r->cmd));
				return -1;
			}
			if (rep->type == REDIS_REPLY_ARRAY &&
			    rep->elements == 2 &&
			    rep->element[0]->type == REDIS_REPLY_INTEGER &&
			    rep->element[0]->integer >= 0 &&
			    rep->element[1]->type == REDIS_REPLY_STRING) {
				got = (apr_uint64_t)rep->element[0]->integer;
				holder = rep->element[1]->str;
				dir_apply_result(dir, &items[i], got, holder);
			} else {
				/* NOSCRIPT (a SCRIPT FLUSH) or a broken
				 * server: start over, which reloads. */
				char why[160];

				snprintf(why, sizeof(why), "unexpected reply "
				    "to the directory script: %s",
				    reply_error(rep) != NULL ? rep->str :
				    "wrong type");
				freeReplyObject(rep);
				disconnect(dir, why);
				return -1;
			}
			freeReplyObject(rep);
		}
	}
	return 0;
}

static int
refresh_instance(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;
	redisReply *rep;
	char ttl[32];

	snprintf(ttl, sizeof(ttl), "%" APR_INT64_T_FMT,
	    (apr_int64_t)(dir->ttl / 1000));
	rep = redisCommand(r->cmd, "SET " KEY_PREFIX "inst:%s %s PX %s",
	    dir->instance, dir->peer_address[0] != '\0' ?
	    dir->peer_address : "-", ttl);
	if (rep == NULL) {
		disconnect(dir, ctx_error(r->cmd));
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* ---- takeover messages ---- */

static void
handle_message(mps_directory_t *dir, redisReply *rep)
{
	char uuid[MPS_REGISTRY_UUID_SIZE], inst[MPS_DIRECTORY_INSTANCE_MAX + 1];
	unsigned long long gen;
	char fmt[32];

	/* ["message", channel, "uuid gen instance"] */
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[2]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->len > 160)
		return;
	snprintf(fmt, sizeof(fmt), "%%%ds %%llu %%%ds",
	    MPS_REGISTRY_UUID_SIZE - 1, MPS_DIRECTORY_INSTANCE_MAX);
	if (sscanf(rep->element[2]->str, fmt, uuid, &gen, inst) != 3)
		return;
	dir_takeover_heard(dir, uuid, (apr_uint64_t)gen, inst);
}

/* Reads what the subscriber has. Returns 0, or -1 after a disconnect. */
static int
read_messages(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;
	void *rep;

	if (redisBufferRead(r->sub) != REDIS_OK) {
		disconnect(dir, ctx_error(r->sub));
		return -1;
	}
	for (;;) {
		if (redisGetReplyFromReader(r->sub, &rep) != REDIS_OK) {
			disconnect(dir, ctx_error(r->sub));
			return -1;
		}
		if (rep == NULL)
			return 0;
		handle_message(dir, rep);
		freeReplyObject(rep);
	}
}

/* ---- lookups and listings ---- */

static const char *
field_str(const redisReply *rep, const char *name)
{
	size_t i;

	for (i = 0; i + 1 < rep->elements; i += 2)
		if (rep->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(rep->element[i]->str, name) == 0 &&
		    rep->element[i + 1]->type == REDIS_REPLY_STRING)
			return rep->element[i + 1]->str;
	return NULL;
}

/* An HGETALL reply into rec. Returns 0, or -1 when it is no record. */
static int
parse_record(const char *uuid, const redisReply *rep, mps_dir_record_t *rec)
{
	const char *v;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 ||
	    (v = field_str(rep, "instance")) == NULL)
		return -1;
	memset(rec, 0, sizeof(*rec));
	apr_cpystrn(rec->uuid, uuid, sizeof(rec->uuid));
	apr_cpystrn(rec->instance, v, sizeof(rec->instance));
	if ((v = field_str(rep, "peer")) != NULL)
		apr_cpystrn(rec->peer_address, v, sizeof(rec->peer_address));
	if ((v = field_str(rep, "fqdn")) != NULL)
		apr_cpystrn(rec->fqdn, v, sizeof(rec->fqdn));
	if ((v = field_str(rep, "ports")) != NULL)
		rec->nports = dir_ports_parse(v, rec->ports,
		    MPS_REGISTRY_MAX_PORTS);
	if ((v = field_str(rep, "since")) != NULL)
		rec->since = (apr_time_t)strtoll(v, NULL, 10) * 1000;
	if ((v = field_str(rep, "gen")) != NULL)
		rec->generation = strtoull(v, NULL, 10);
	return 0;
}

/* HGETALL of one device. APR_SUCCESS, APR_NOTFOUND, or
 * MPS_ERR_UNAVAILABLE after a disconnect. */
static apr_status_t
get_device(mps_directory_t *dir, const char *uuid, mps_dir_record_t *rec)
{
	redisReply *rep;
	apr_status_t rv;

	/* hiredis formats %s and %b only: no precision, no widths. */
	rep = redisCommand(dir->redis->cmd, "HGETALL " KEY_PREFIX "dev:%s",
	    uuid);
	if (rep == NULL) {
		disconnect(dir, ctx_error(dir->redis->cmd));
		return MPS_ERR_UNAVAILABLE;
	}
	rv = parse_record(uuid, rep, rec) == 0 ? APR_SUCCESS : APR_NOTFOUND;
	freeReplyObject(rep);
	return rv;
}

static apr_status_t
do_lookup(mps_directory_t *dir, const char *name, mps_dir_record_t *rec)
{
	char key[MPS_REGISTRY_FQDN_SIZE], uuid[MPS_REGISTRY_UUID_SIZE];
	redisReply *rep;
	apr_status_t rv;
	apr_size_t len;

	len = strnlen(name, MPS_REGISTRY_FQDN_MAX + 1);
	if (len == 0 || len > MPS_REGISTRY_FQDN_MAX ||
	    strpbrk(name, " \t\r\n") != NULL)
		return APR_NOTFOUND;
	mps_registry_lower_copy(key, name, len);
	if (len == MPS_REGISTRY_UUID_SIZE - 1 && mps_registry_uuid_shaped(key)) {
		rv = get_device(dir, key, rec);
		if (rv != APR_NOTFOUND)
			return rv;
	}
	rep = redisCommand(dir->redis->cmd, "GET " KEY_PREFIX "fqdn:%s", key);
	if (rep == NULL) {
		disconnect(dir, ctx_error(dir->redis->cmd));
		return MPS_ERR_UNAVAILABLE;
	}
	if (rep->type != REDIS_REPLY_STRING ||
	    rep->len != MPS_REGISTRY_UUID_SIZE - 1 ||
	    !mps_registry_uuid_shaped(rep->str)) {
		freeReplyObject(rep);
		return APR_NOTFOUND;
	}
	memcpy(uuid, rep->str, sizeof(uuid));
	freeReplyObject(rep);
	rv = get_device(dir, uuid, rec);
	/* A name left over from a rename: the device has another now. */
	if (rv == APR_SUCCESS && strcmp(rec->fqdn, key) != 0)
		rv = APR_NOTFOUND;
	return rv;
}

static apr_status_t
do_list(mps_directory_t *dir, apr_array_header_t *arr)
{
	redisContext *c = dir->redis->cmd;
	char cursor[32] = "0";
	redisReply *rep, *one;
	size_t i, n;
	const char *uuid;

	do {
		rep = redisCommand(c, "SCAN %s MATCH " KEY_PREFIX "dev:* "
		    "COUNT 1000", cursor);
		if (rep == NULL) {
			disconnect(dir, ctx_error(c));
			return MPS_ERR_UNAVAILABLE;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(rep);
			return APR_EGENERAL;
		}
		apr_cpystrn(cursor, rep->element[0]->str, sizeof(cursor));
		n = rep->element[1]->elements;
		for (i = 0; i < n; i++)
			redisAppendCommand(c, "HGETALL %s",
			    rep->element[1]->element[i]->str);
		for (i = 0; i < n; i++) {
			if (redisGetReply(c, (void **)&one) != REDIS_OK) {
				freeReplyObject(rep);
				disconnect(dir, ctx_error(c));
				return MPS_ERR_UNAVAILABLE;
			}
			uuid = rep->element[1]->element[i]->str +
			    strlen(KEY_PREFIX "dev:");
			/* A key that expired between SCAN and HGETALL is
			 * an empty reply: skipped. */
			if (mps_registry_uuid_shaped(uuid) && arr->nelts < LIST_MAX) {
				mps_dir_record_t rec;

				if (parse_record(uuid, one, &rec) == 0)
					*(mps_dir_record_t *)apr_array_push(arr) =
					    rec;
			}
			freeReplyObject(one);
		}
		freeReplyObject(rep);
	} while (strcmp(cursor, "0") != 0);
	return APR_SUCCESS;
}

/* Answers every queued request (or fails them while Redis is away). */
static void
serve_requests(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;
	dir_req_t *q;

	for (;;) {
		pthread_mutex_lock(&r->qlock);
		q = r->head;
		if (q != NULL) {
			r->head = q->next;
			if (r->head == NULL)
				r->tail = NULL;
			q->state = 1;
		}
		pthread_mutex_unlock(&r->qlock);
		if (q == NULL)
			return;
		if (!atomic_load(&r->connected))
			q->rv = MPS_ERR_UNAVAILABLE;
		else if (q->kind == REQ_LOOKUP)
			q->rv = do_lookup(dir, q->name, q->rec);
		else
			q->rv = do_list(dir, q->arr);
		pthread_mutex_lock(&r->qlock);
		q->state = 2;
		pthread_cond_broadcast(&r->qcond);
		pthread_mutex_unlock(&r->qlock);
	}
}

/* Queues q and waits for it: up to the timeout while it is queued, to
 * the end once the thread runs it (each Redis call is bounded by the
 * timeout, and the caller's memory must outlive the thread's use). */
static apr_status_t
submit(mps_directory_t *dir, dir_req_t *q)
{
	dir_redis_t *r = dir->redis;
	struct timespec until;
	apr_time_t end = apr_time_now() + dir->timeout;
	dir_req_t **pp;

	if (!atomic_load(&r->connected))
		return MPS_ERR_UNAVAILABLE;	/* no wait during an outage */
	q->state = 0;
	q->next = NULL;
	pthread_mutex_lock(&r->qlock);
	if (r->tail != NULL)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	pthread_mutex_unlock(&r->qlock);
	dir_redis_wake(dir);

	until.tv_sec = (time_t)apr_time_sec(end);
	until.tv_nsec = (long)apr_time_usec(end) * 1000;
	pthread_mutex_lock(&r->qlock);
	while (q->state != 2) {
		if (q->state == 0 && pthread_cond_timedwait(&r->qcond,
		    &r->qlock, &until) != 0 && q->state == 0) {
			/* Still queued after the timeout: take it back. */
			for (pp = &r->head; *pp != NULL; pp = &(*pp)->next)
				if (*pp == q) {
					*pp = q->next;
					break;
				}
			r->tail = NULL;
			for (pp = &r->head; *pp != NULL; pp = &(*pp)->next)
				r->tail = *pp;
			pthread_mutex_unlock(&r->qlock);
			return MPS_ERR_UNAVAILABLE;
		}
		if (q->state == 1)
			pthread_cond_wait(&r->qcond, &r->qlock);
	}
	pthread_mutex_unlock(&r->qlock);
	return q->rv;
}

apr_status_t
dir_redis_lookup(mps_directory_t *dir, const char *name,
    mps_dir_record_t *out)
{
	dir_req_t q;

	memset(&q, 0, sizeof(q));
	q.kind = REQ_LOOKUP;
	q.name = name;
	q.rec = out;
	return submit(dir, &q);
}

apr_status_t
dir_redis_list(mps_directory_t *dir, apr_array_header_t **out,
    apr_pool_t *pool)
{
	dir_req_t q;
	apr_status_t rv;

	memset(&q, 0, sizeof(q));
	q.kind = REQ_LIST;
	q.pool = pool;
	/* Made here: the thread only pushes, and pushes grow the array
	 * in pool while the caller waits (nobody else uses pool then). */
	q.arr = apr_array_make(pool, 64, sizeof(mps_dir_record_t));
	rv = submit(dir, &q);
	if (rv == APR_SUCCESS)
		*out = q.arr;
	return rv;
}

int
dir_redis_available(mps_directory_t *dir)
{
	return atomic_load(&dir->redis->connected);
}

apr_status_t
dir_redis_flush(mps_directory_t *dir, apr_interval_time_t timeout)
{
	apr_time_t end = apr_time_now() + timeout;

	dir_redis_wake(dir);
	while (apr_time_now() < end) {
		if (atomic_load(&dir->redis->connected) && !dir_has_work(dir) &&
		    !atomic_load(&dir->redis->busy))
			return APR_SUCCESS;
		apr_sleep(apr_time_from_msec(10));
	}
	return APR_TIMEUP;
}

/* ---- the thread ---- */

static void *
thread_main(void *arg)
{
	mps_directory_t *dir = arg;
	dir_redis_t *r = dir->redis;
	struct pollfd pfd[2];
	apr_time_t now, wait;
	int nfds;

	while (!atomic_load(&r->stop)) {
		now = apr_time_now();
		if (!atomic_load(&r->connected) && now >= r->next_attempt)
			(void)try_connect(dir);
		if (!atomic_load(&r->connected)) {
			serve_requests(dir);	/* fails them at once */
			wait = r->next_attempt - apr_time_now();
		} else {
			if (now >= r->next_refresh) {
				r->next_refresh = now + r->refresh_every;
				dir_mark_all_dirty(dir);
				(void)refresh_instance(dir);
			}
			atomic_store(&r->busy, 1);
			if (atomic_load(&r->connected) &&
			    write_removals(dir) == 0)
				(void)write_records(dir);
			atomic_store(&r->busy, 0);
			serve_requests(dir);
			wait = r->next_refresh - apr_time_now();
			if (!atomic_load(&r->connected))
				wait = r->next_attempt - apr_time_now();
		}
		if (wait < 0)
			wait = 0;
		if (wait > apr_time_from_sec(1))
			wait = apr_time_from_sec(1);
		pfd[0].fd = r->pipe[0];
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		nfds = 1;
		if (atomic_load(&r->connected) && r->sub != NULL) {
			pfd[1].fd = r->sub->fd;
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			nfds = 2;
		}
		/* Messages already buffered by the reader come first. */
		if (poll(pfd, (nfds_t)nfds, (int)(wait / 1000)) < 0 &&
		    errno != EINTR)
			apr_sleep(apr_time_from_msec(10));
		if (pfd[0].revents != 0)
			drain_pipe(r);
		if (nfds == 2 && pfd[1].revents != 0)
			(void)read_messages(dir);
	}
	return NULL;
}

apr_status_t
dir_redis_start(mps_directory_t *dir, const mps_directory_options_t *opt)
{
	dir_redis_t *r;
	int i, flags;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return APR_ENOMEM;
	apr_cpystrn(r->host, opt->redis_host, sizeof(r->host));
	r->port = opt->redis_port;
	if (opt->redis_username != NULL && opt->redis_username[0] != '\0' &&
	    (r->username = strdup(opt->redis_username)) == NULL)
		goto nomem;
	if (opt->redis_password != NULL && opt->redis_password[0] != '\0' &&
	    (r->password = strdup(opt->redis_password)) == NULL)
		goto nomem;
	if ((r->items = calloc(BATCH, sizeof(*r->items))) == NULL)
		goto nomem;
	r->tv.tv_sec = (time_t)apr_time_sec(opt->timeout);
	r->tv.tv_usec = (suseconds_t)apr_time_usec(opt->timeout);
	/* Three refreshes per TTL: a record survives two lost ones. */
	r->refresh_every = dir->ttl / 3;
	atomic_init(&r->stop, 0);
	atomic_init(&r->connected, 0);
	atomic_init(&r->busy, 0);
	pthread_mutex_init(&r->qlock, NULL);
	pthread_cond_init(&r->qcond, NULL);
	if (pipe(r->pipe) != 0) {
		pthread_mutex_destroy(&r->qlock);
		pthread_cond_destroy(&r->qcond);
		free(r->username);
		wipe(r->password);
		free(r->password);
		free(r->items);
		free(r);
		return APR_FROM_OS_ERROR(errno);
	}
	for (i = 0; i < 2; i++) {
		flags = fcntl(r->pipe[i], F_GETFL);
		(void)fcntl(r->pipe[i], F_SETFL, flags | O_NONBLOCK);
		(void)fcntl(r->pipe[i], F_SETFD, FD_CLOEXEC);
	}
	dir->redis = r;
	if (pthread_create(&r->thread, NULL, thread_main, dir) != 0) {
		dir_redis_stop(dir);
		return APR_EGENERAL;
	}
	r->thread_started = 1;
	return APR_SUCCESS;
nomem:
	free(r->items);
	free(r->username);
	if (r->password != NULL)
		wipe(r->password);
	free(r->password);
	free(r);
	return APR_ENOMEM;
}

void
dir_redis_stop(mps_directory_t *dir)
{
	dir_redis_t *r = dir->redis;

	if (r == NULL)
		return;
	atomic_store(&r->stop, 1);
	if (r->thread_started) {
		dir_redis_wake(dir);
		pthread_join(r->thread, NULL);
	}
	if (r->cmd != NULL)
		redisFree(r->cmd);
	if (r->sub != NULL)
		redisFree(r->sub);
	close(r->pipe[0]);
	close(r->pipe[1]);
	pthread_mutex_destroy(&r->qlock);
	pthread_cond_destroy(&r->qcond);
	free(r->items);
	free(r->username);
	if (r->password != NULL)
		wipe(r->password);
	free(r->password);
	free(r);
	dir->redis = NULL;
}
