/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directory.h: which mpsd instance holds which device's tunnel.
 *
 * The registry (registry.h) knows the tunnels of THIS process. The
 * directory knows, for every device of the cluster, the instance holding
 * its tunnel: uuid and fqdn -> instance id, the address other instances
 * reach that instance at, the forwarded ports and when the tunnel came
 * up. Two backends sit behind this one interface:
 *
 *   local  in-process, the default: nothing to run. It holds this
 *          instance's records only, so lookups answer what the registry
 *          answers and no other instance ever takes a device over: mpsd
 *          behaves exactly as a single instance always has.
 *   redis  Redis 7 through hiredis (built when configure found it). Every
 *          instance writes its records to one Redis with a TTL that it
 *          refreshes; an instance that dies vanishes within one TTL.
 *
 * Redis layout (keys under the prefix "mps:"; Redis standalone or behind
 * Sentinel, not Redis Cluster: the scripts touch keys they compute):
 *   mps:dev:<uuid>    hash  instance, peer, fqdn, ports ("16992,16993"),
 *                           since (login time, ms since the epoch), gen
 *   mps:fqdn:<fqdn>   string  uuid
 *   mps:inst:<id>     string  the instance's peer address (liveness)
 *   channel mps:takeover  "uuid gen instance" when a device changes hands
 * every key with the TTL, refreshed every TTL/3.
 *
 * NEWEST WINS across instances. Each write is one Lua script, so two
 * instances recording the same device at once are serialised by Redis.
 * The tunnel with the later login time wins (ties: the later write);
 * the winner's write bumps the device's generation counter and, when the
 * record belonged to another instance, publishes a takeover. The loser
 * hears it (pub/sub), or failing that learns it from its next refresh,
 * which the script refuses; either way the on_takeover callback runs and
 * the old tunnel is closed with reason 11, as a reconnect on one
 * instance is. Login times come from each instance's clock: keep the
 * instances' clocks in sync (NTP); a skew only matters for two logins of
 * one device closer together than the skew.
 *
 * No hang, ever. Callers never wait for Redis: record and remove change
 * the in-process table and return; a directory thread of its own writes
 * the changes out (only the latest state of each device is kept, so the
 * backlog is bounded by the number of devices, and removals by
 * MPS_DIRECTORY_MAX_PENDING_REMOVALS). Lookups and listings wait for
 * that thread at most the configured timeout. When Redis is unreachable
 * the instance serves its own devices as before, logs the outage once
 * (and once when Redis is back), retries every second, and on
 * reconnection writes every record of its own again (resynchronises).
 *
 * Thread-safety: every function may be called from any thread, except
 * that mps_directory_lookup() and mps_directory_list() may wait (up to
 * the timeout) and so belong on the blocking lane, never on a strand or
 * the poller. Callbacks run on the directory's thread (redis) or inside
 * the calling function (local) with no directory lock held.
 */
#ifndef MPS_DIRECTORY_H
#define MPS_DIRECTORY_H

#include <apr_errno.h>
#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "registry.h"

#define MPS_DIRECTORY_INSTANCE_MAX	64	/* characters of an instance id */
#define MPS_DIRECTORY_ADDRESS_MAX	255	/* characters of "host:port" */
/* Removals waiting for Redis (it is down) beyond this are dropped: their
 * keys expire by themselves within one TTL. */
#define MPS_DIRECTORY_MAX_PENDING_REMOVALS	65536

typedef enum {
	MPS_DIRECTORY_LOCAL = 0,
	MPS_DIRECTORY_REDIS = 1
} mps_directory_backend_t;

typedef struct mps_directory_t mps_directory_t;

/* One device as the directory knows it (a copy: the caller owns it). */
typedef struct mps_dir_record_t {
	char uuid[MPS_REGISTRY_UUID_SIZE];		/* lower case */
	char fqdn[MPS_REGISTRY_FQDN_SIZE];		/* lower case, "" none */
	char instance[MPS_DIRECTORY_INSTANCE_MAX + 1];	/* holder's id */
	char peer_address[MPS_DIRECTORY_ADDRESS_MAX + 1]; /* holder's address */
	apr_port_t ports[MPS_REGISTRY_MAX_PORTS];
	unsigned nports;
	apr_time_t since;		/* tunnel up since (APR time) */
	apr_uint64_t generation;	/* bumped at each change of hands */
} mps_dir_record_t;

/*
 * Another instance took the device over (or won a race for it): token is
 * the one given to the mps_directory_record() call that the loss concerns
 * (compare it, never dereference it: the tunnel may be gone), instance
 * the new holder's id ("" if unknown). The directory has already dropped
 * its record of the device; the callback closes the old tunnel.
 */
typedef void (*mps_directory_takeover_fn)(void *arg, const char *uuid,
    const void *token, const char *instance);

typedef struct mps_directory_options_t {
	mps_directory_backend_t backend;
	const char *instance_id;	/* required: unique in the cluster */
	const char *peer_address;	/* "host:port" other instances use; may be "" */
	apr_interval_time_t ttl;	/* key lifetime (redis), >= 3 s */
	/* redis only */
	const char *redis_host;
	apr_port_t redis_port;
	const char *redis_username;	/* NULL: AUTH with the password only */
	const char *redis_password;	/* NULL: no AUTH. Copied, wiped on destroy */
	apr_interval_time_t timeout;	/* connect, command and lookup bound */
	mps_directory_takeover_fn on_takeover;
	void *takeover_arg;
} mps_directory_options_t;

/* Fills opt with the defaults (local, ttl 30 s, timeout 2 s,
 * 127.0.0.1:6379). */
void mps_directory_options_init(mps_directory_options_t *opt);

/*
 * Creates the directory; for redis it starts the directory thread, which
 * connects in the background (an unreachable Redis is an outage to ride
 * out, not a start-up error). Returns APR_SUCCESS, APR_EINVAL (bad
 * options), APR_ENOTIMPL (redis asked for in a build without hiredis) or
 * the error of creating the thread.
 */
apr_status_t mps_directory_create(mps_directory_t **dir,
    const mps_directory_options_t *opt);

/* Stops the thread (removing nothing from Redis: the keys expire, and a
 * restarting instance writes them again) and frees everything. NULL ok. */
void mps_directory_destroy(mps_directory_t *dir);

mps_directory_backend_t mps_directory_backend(const mps_directory_t *dir);
const char *mps_directory_instance(const mps_directory_t *dir);

/*
 * Records or refreshes the device held by this instance. A new token (a
 * new login) is a new claim: it competes for the device across the
 * cluster. The same token updates the FQDN and ports of the claim. A
 * different token with an older login time than the record's is a stale
 * update of a replaced tunnel and changes nothing. Never waits.
 * Returns APR_SUCCESS, APR_EEXIST (stale), APR_EINVAL, or APR_ENOMEM.
 */
apr_status_t mps_directory_record(mps_directory_t *dir, const char *uuid,
    const char *fqdn, const apr_port_t *ports, unsigned nports,
    apr_time_t since, const void *token);

/* The same, from a registry entry (token: the entry itself). */
apr_status_t mps_directory_record_device(mps_directory_t *dir,
    const mps_device_t *dev);

/*
 * The tunnel of token ended: removes the device's record if, and only if,
 * token still holds it (a newer login's record stays). Never waits.
 * Returns 1 if it removed the record, 0 otherwise.
 */
int mps_directory_remove(mps_directory_t *dir, const char *uuid,
    const void *token);

/*
 * Finds a device by UUID (either case) or FQDN, anywhere in the cluster
 * (local: on this instance). Blocking lane only (waits up to the
 * timeout). Returns APR_SUCCESS, APR_NOTFOUND, MPS_ERR_UNAVAILABLE
 * (Redis unreachable or too slow) or APR_EINVAL.
 */
apr_status_t mps_directory_lookup(mps_directory_t *dir, const char *name,
    mps_dir_record_t *out);

/*
 * Every device of the cluster (local: of this instance) as an array of
 * mps_dir_record_t in pool, unordered. Blocking lane only. Returns as
 * mps_directory_lookup().
 */
apr_status_t mps_directory_list(mps_directory_t *dir,
    apr_array_header_t **out, apr_pool_t *pool);

/* Records of this instance (its own devices). */
unsigned mps_directory_local_count(mps_directory_t *dir);

/* 1 while the backend is usable (local: always; redis: connected). */
int mps_directory_available(mps_directory_t *dir);

/*
 * For tests: waits up to timeout until every change made so far has been
 * written to Redis (local: returns at once). Returns APR_SUCCESS or
 * APR_TIMEUP.
 */
apr_status_t mps_directory_flush(mps_directory_t *dir,
    apr_interval_time_t timeout);

#endif /* MPS_DIRECTORY_H */
