/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directory_priv.h: what directory.c (the in-process table, the local
 * backend) and directory_redis.c (the Redis thread) share. Not for other
 * modules.
 *
 * The in-process table holds THIS instance's records and is the truth
 * about them; Redis is a copy that the thread keeps up to date. A record
 * marked dirty has a change Redis has not seen yet; the thread takes the
 * dirty records in batches (dir_take_batch), writes them, and reports
 * each result back (dir_apply_result). Because only the latest state of
 * each device is kept, however long Redis is away the backlog never
 * exceeds the number of devices this instance holds.
 */
#ifndef MPS_DIRECTORY_PRIV_H
#define MPS_DIRECTORY_PRIV_H

#include "directory.h"

#include <apr_hash.h>
#include <pthread.h>

/* One device of this instance. */
typedef struct dir_rec_t {
	char uuid[MPS_REGISTRY_UUID_SIZE];
	char *fqdn;			/* malloc'd lower case, or NULL */
	apr_port_t ports[MPS_REGISTRY_MAX_PORTS];
	unsigned char nports;
	unsigned char dirty;		/* in dir->dirty */
	apr_time_t since;
	const void *token;		/* the login this record belongs to */
	apr_uint64_t gen;		/* Redis generation; 0: claim not yet won */
} dir_rec_t;

/* A record's state as the thread writes it (a copy, off the lock). */
typedef struct dir_item_t {
	char uuid[MPS_REGISTRY_UUID_SIZE];
	char fqdn[MPS_REGISTRY_FQDN_SIZE];
	char ports[MPS_REGISTRY_MAX_PORTS * 6 + 1];	/* "16992,16993" */
	apr_time_t since;
	const void *token;
	apr_uint64_t gen;
} dir_item_t;

/* A removal waiting for Redis. */
typedef struct dir_removal_t {
	char uuid[MPS_REGISTRY_UUID_SIZE];
	apr_uint64_t gen;
} dir_removal_t;

typedef struct dir_redis_t dir_redis_t;

struct mps_directory_t {
	mps_directory_backend_t backend;
	char instance[MPS_DIRECTORY_INSTANCE_MAX + 1];
	char peer_address[MPS_DIRECTORY_ADDRESS_MAX + 1];
	apr_interval_time_t ttl;
	apr_interval_time_t timeout;
	mps_directory_takeover_fn on_takeover;
	void *takeover_arg;

	pthread_mutex_t lock;		/* everything below */
	apr_pool_t *pool;		/* the tables (own allocator) */
	apr_hash_t *by_uuid;		/* uuid -> dir_rec_t (keys in the recs) */
	apr_hash_t *by_fqdn;		/* fqdn -> dir_rec_t */
	apr_hash_t *dirty;		/* uuid -> dir_rec_t with unwritten changes */
	dir_removal_t *removals;	/* ring of pending removals */
	unsigned nremovals, removals_head;
	unsigned long dropped_removals;
	apr_uint64_t changes;		/* bumped at each change (for flush) */

	dir_redis_t *redis;		/* NULL for the local backend */
};

/* ---- directory.c, for the thread (each takes the lock itself) ---- */

/* Takes up to max dirty records (their current state) and clears their
 * dirty mark. Returns how many. */
unsigned dir_take_batch(mps_directory_t *dir, dir_item_t *items,
    unsigned max);

/*
 * The result of writing item: gen > 0 is the generation Redis gave it;
 * gen == 0 means another instance holds the device (winner: its id), and
 * the record is dropped and on_takeover called (outside the lock). A
 * record that has been replaced by a newer login since is left alone.
 */
void dir_apply_result(mps_directory_t *dir, const dir_item_t *item,
    apr_uint64_t gen, const char *winner);

/* A takeover heard on the channel: "uuid gen instance". */
void dir_takeover_heard(mps_directory_t *dir, const char *uuid,
    apr_uint64_t gen, const char *instance);

/* Marks every record dirty (refresh, resynchronisation). */
void dir_mark_all_dirty(mps_directory_t *dir);

/* Takes up to max pending removals. Returns how many. */
unsigned dir_take_removals(mps_directory_t *dir, dir_removal_t *out,
    unsigned max);

/* 1 if there is something to write. */
int dir_has_work(mps_directory_t *dir);

/* ---- directory_redis.c ---- */
#ifdef MPS_WITH_REDIS
apr_status_t dir_redis_start(mps_directory_t *dir,
    const mps_directory_options_t *opt);
void dir_redis_stop(mps_directory_t *dir);
/* Wakes the thread: there is work. Any thread, may be under dir->lock. */
void dir_redis_wake(mps_directory_t *dir);
apr_status_t dir_redis_lookup(mps_directory_t *dir, const char *name,
    mps_dir_record_t *out);
apr_status_t dir_redis_list(mps_directory_t *dir, apr_array_header_t **out,
    apr_pool_t *pool);
int dir_redis_available(mps_directory_t *dir);
apr_status_t dir_redis_flush(mps_directory_t *dir,
    apr_interval_time_t timeout);
#endif

/* Helpers shared by both files. */
apr_size_t dir_ports_text(const apr_port_t *ports, unsigned n, char *buf,
    apr_size_t size);
unsigned dir_ports_parse(const char *text, apr_port_t *ports, unsigned max);

#endif /* MPS_DIRECTORY_PRIV_H */
