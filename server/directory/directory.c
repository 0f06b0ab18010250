/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directory.c: the device directory's in-process table, which is the
 * whole of the local backend and the source the Redis thread writes from
 * (directory.h, directory_priv.h).
 *
 * Two APR hash tables under one mutex, keyed by strings that live in the
 * records (as in registry.c, a slot that passes from one record to
 * another is deleted and inserted again so that the table never keeps a
 * key pointer into a freed record), and a third, "dirty", holding the
 * records the Redis thread has yet to write.
 */
#include "directory_priv.h"
#include "log.h"
#include "mps_status.h"

#include <apr_allocator.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UUID_LEN	(MPS_REGISTRY_UUID_SIZE - 1)

/* ---- helpers ---- */

apr_size_t
dir_ports_text(const apr_port_t *ports, unsigned n, char *buf,
    apr_size_t size)
{
	apr_size_t off = 0;
	unsigned i;
	int w;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(buf + off, size - off, "%s%u", i > 0 ? "," : "",
		    (unsigned)ports[i]);
		if (w < 0 || (apr_size_t)w >= size - off)
			break;
		off += (apr_size_t)w;
	}
	return off;
}

/* "16992,16993" -> ports; anything that is not a port 1..65535 is
 * skipped (the text comes from Redis, which another program may write). */
unsigned
dir_ports_parse(const char *text, apr_port_t *ports, unsigned max)
{
	unsigned n = 0;
	unsigned long v;
	char *end;

	while (text != NULL && *text != '\0' && n < max) {
		v = strtoul(text, &end, 10);
		if (end != text && v >= 1 && v <= 65535)
			ports[n++] = (apr_port_t)v;
		if (*end != ',')
			break;
		text = end + 1;
	}
	return n;
}

static int
pool_abort(int retcode)
{
	(void)retcode;
	abort();
}

static void
lock(mps_directory_t *dir)
{
	if (pthread_mutex_lock(&dir->lock) != 0)
		abort();
}

static void
unlock(mps_directory_t *dir)
{
	if (pthread_mutex_unlock(&dir->lock) != 0)
		abort();
}

static void
wake(mps_directory_t *dir)
{
#ifdef MPS_WITH_REDIS
	if (dir->redis != NULL)
		dir_redis_wake(dir);
#else
	(void)dir;
#endif
}

/* Deletes then inserts, so the table keeps rec's key (see the top). */
static void
index_put(apr_hash_t *ht, const void *key, apr_ssize_t klen, dir_rec_t *rec)
{
	apr_hash_set(ht, key, klen, NULL);
	apr_hash_set(ht, key, klen, rec);
}

static void
mark_dirty(mps_directory_t *dir, dir_rec_t *rec)
{
	if (dir->redis == NULL)
		return;		/* the local backend has nothing to write */
	if (!rec->dirty) {
		rec->dirty = 1;
		apr_hash_set(dir->dirty, rec->uuid, UUID_LEN, rec);
	}
	dir->changes++;
}

/* Drops rec from every table and frees it; queues its Redis removal when
 * Redis knows it (gen > 0) and queue is set. Under the lock. */
static void
rec_drop(mps_directory_t *dir, dir_rec_t *rec, int queue)
{
	dir_removal_t *r;

	if (rec->dirty)
		apr_hash_set(dir->dirty, rec->uuid, UUID_LEN, NULL);
	if (rec->fqdn != NULL &&
	    apr_hash_get(dir->by_fqdn, rec->fqdn, APR_HASH_KEY_STRING) == rec)
		apr_hash_set(dir->by_fqdn, rec->fqdn, APR_HASH_KEY_STRING, NULL);
	apr_hash_set(dir->by_uuid, rec->uuid, UUID_LEN, NULL);
	if (queue && dir->redis != NULL && rec->gen > 0) {
		if (dir->nremovals == MPS_DIRECTORY_MAX_PENDING_REMOVALS) {
			/* Oldest first: its key is the nearest to expiring. */
			dir->removals_head = (dir->removals_head + 1) %
			    MPS_DIRECTORY_MAX_PENDING_REMOVALS;
			dir->nremovals--;
			dir->dropped_removals++;
		}
		r = &dir->removals[(dir->removals_head + dir->nremovals) %
		    MPS_DIRECTORY_MAX_PENDING_REMOVALS];
		memcpy(r->uuid, rec->uuid, sizeof(r->uuid));
		r->gen = rec->gen;
		dir->nremovals++;
		dir->changes++;
	}
	free(rec->fqdn);
	free(rec);
}

static void
rec_to_record(const mps_directory_t *dir, const dir_rec_t *rec,
    mps_dir_record_t *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->uuid, rec->uuid, sizeof(out->uuid));
	if (rec->fqdn != NULL)
		apr_cpystrn(out->fqdn, rec->fqdn, sizeof(out->fqdn));
	apr_cpystrn(out->instance, dir->instance, sizeof(out->instance));
	apr_cpystrn(out->peer_address, dir->peer_address,
	    sizeof(out->peer_address));
	memcpy(out->ports, rec->ports, rec->nports * sizeof(rec->ports[0]));
	out->nports = rec->nports;
	out->since = rec->since;
	out->generation = rec->gen;
}

/* ---- life ---- */

void
mps_directory_options_init(mps_directory_options_t *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->backend = MPS_DIRECTORY_LOCAL;
	opt->instance_id = "";
	opt->peer_address = "";
	opt->ttl = apr_time_from_sec(30);
	opt->redis_host = "127.0.0.1";
	opt->redis_port = 6379;
	opt->timeout = apr_time_from_sec(2);
}

apr_status_t
mps_directory_create(mps_directory_t **out, const mps_directory_options_t *opt)
{
	apr_allocator_t *allocator;
	mps_directory_t *dir;
	apr_status_t rv;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (opt == NULL || opt->instance_id == NULL ||
	    opt->instance_id[0] == '\0' ||
	    strlen(opt->instance_id) > MPS_DIRECTORY_INSTANCE_MAX ||
	    strpbrk(opt->instance_id, " \t\r\n") != NULL ||
	    (opt->peer_address != NULL &&
	    strlen(opt->peer_address) > MPS_DIRECTORY_ADDRESS_MAX))
		return APR_EINVAL;
	if (opt->backend != MPS_DIRECTORY_LOCAL &&
	    opt->backend != MPS_DIRECTORY_REDIS)
		return APR_EINVAL;
#ifndef MPS_WITH_REDIS
	if (opt->backend == MPS_DIRECTORY_REDIS)
		return APR_ENOTIMPL;
#endif
	if (opt->backend == MPS_DIRECTORY_REDIS &&
	    (opt->ttl < apr_time_from_sec(3) || opt->timeout <= 0 ||
	    opt->redis_host == NULL || opt->redis_port == 0))
		return APR_EINVAL;
	if ((dir = calloc(1, sizeof(*dir))) == NULL)
		return APR_ENOMEM;
	dir->backend = opt->backend;
	apr_cpystrn(dir->instance, opt->instance_id, sizeof(dir->instance));
	apr_cpystrn(dir->peer_address, opt->peer_address != NULL ?
	    opt->peer_address : "", sizeof(dir->peer_address));
	dir->ttl = opt->ttl;
	dir->timeout = opt->timeout;
	dir->on_takeover = opt->on_takeover;
	dir->takeover_arg = opt->takeover_arg;
	/* As the registry: an unmanaged pool whose allocator needs no mutex
	 * (only the lock holder allocates). */
	if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
		free(dir);
		return rv;
	}
	rv = apr_pool_create_unmanaged_ex(&dir->pool, pool_abort, allocator);
	if (rv != APR_SUCCESS) {
		apr_allocator_destroy(allocator);
		free(dir);
		return rv;
	}
	apr_allocator_owner_set(allocator, dir->pool);
	pthread_mutex_init(&dir->lock, NULL);
	dir->by_uuid = apr_hash_make(dir->pool);
	dir->by_fqdn = apr_hash_make(dir->pool);
	dir->dirty = apr_hash_make(dir->pool);
#ifdef MPS_WITH_REDIS
	if (opt->backend == MPS_DIRECTORY_REDIS) {
		dir->removals = calloc(MPS_DIRECTORY_MAX_PENDING_REMOVALS,
		    sizeof(*dir->removals));
		if (dir->removals == NULL) {
			mps_directory_destroy(dir);
			return APR_ENOMEM;
		}
		if ((rv = dir_redis_start(dir, opt)) != APR_SUCCESS) {
			mps_directory_destroy(dir);
			return rv;
		}
	}
#endif
	*out = dir;
	return APR_SUCCESS;
}

void
mps_directory_destroy(mps_directory_t *dir)
{
	apr_hash_index_t *hi;
	void *val;

	if (dir == NULL)
		return;
#ifdef MPS_WITH_REDIS
	if (dir->redis != NULL)
		dir_redis_stop(dir);
#endif
	/* No other thread now: the tables' own iterator is ours. */
	for (hi = apr_hash_first(NULL, dir->by_uuid); hi != NULL;
	    hi = apr_hash_next(hi)) {
		dir_rec_t *rec;

		apr_hash_this(hi, NULL, NULL, &val);
		rec = val;
		free(rec->fqdn);
		free(rec);
	}
	apr_pool_destroy(dir->pool);
	pthread_mutex_destroy(&dir->lock);
	free(dir->removals);
	free(dir);
}

mps_directory_backend_t
mps_directory_backend(const mps_directory_t *dir)
{
	return dir->backend;
}

const char *
mps_directory_instance(const mps_directory_t *dir)
{
	return dir->instance;
}

/* ---- writers ---- */

apr_status_t
mps_directory_record(mps_directory_t *dir, const char *uuid,
    const char *fqdn, const apr_port_t *ports, unsigned nports,
    apr_time_t since, const void *token)
{
	char key[MPS_REGISTRY_UUID_SIZE];
	char name[MPS_REGISTRY_FQDN_SIZE];
	dir_rec_t *rec, *holder;
	apr_size_t flen = 0;
	char *copy = NULL;
	unsigned i;

	if (dir == NULL || uuid == NULL || token == NULL ||
	    !mps_registry_uuid_shaped(uuid) || nports > MPS_REGISTRY_MAX_PORTS ||
	    (nports > 0 && ports == NULL))
		return APR_EINVAL;
	for (i = 0; i < nports; i++)
		if (ports[i] == 0)
			return APR_EINVAL;
	if (fqdn != NULL) {
		flen = strnlen(fqdn, MPS_REGISTRY_FQDN_MAX + 1);
		if (flen > MPS_REGISTRY_FQDN_MAX ||
		    strpbrk(fqdn, " \t\r\n") != NULL)
			return APR_EINVAL;
	}
	mps_registry_lower_copy(key, uuid, UUID_LEN);
	mps_registry_lower_copy(name, fqdn != NULL ? fqdn : "", flen);

	lock(dir);
	rec = apr_hash_get(dir->by_uuid, key, UUID_LEN);
	if (rec != NULL && rec->token != token && since < rec->since) {
		/* An older login's late update (its tunnel was replaced on
		 * this instance and has not closed yet): never let it take
		 * the record back from the newer one. */
		unlock(dir);
		return APR_EEXIST;
	}
	if (rec != NULL && rec->token != token) {
		/* A newer login of the device on this instance: its claim
		 * replaces the old one's record (the registry has closed the
		 * old tunnel already). Redis sees one write, the claim. */
		rec_drop(dir, rec, 0);
		rec = NULL;
	}
	if (rec == NULL) {
		if ((rec = calloc(1, sizeof(*rec))) == NULL) {
			unlock(dir);
			return APR_ENOMEM;
		}
		memcpy(rec->uuid, key, sizeof(rec->uuid));
		rec->token = token;
		rec->since = since;
		apr_hash_set(dir->by_uuid, rec->uuid, UUID_LEN, rec);
	}
	if (flen > 0 && (rec->fqdn == NULL || strcmp(rec->fqdn, name) != 0) &&
	    (copy = strdup(name)) == NULL) {
		/* Keep what was recorded: better an old name than none. */
		unlock(dir);
		return APR_ENOMEM;
	}
	if (copy != NULL) {
		if (rec->fqdn != NULL && apr_hash_get(dir->by_fqdn, rec->fqdn,
		    APR_HASH_KEY_STRING) == rec)
			apr_hash_set(dir->by_fqdn, rec->fqdn,
			    APR_HASH_KEY_STRING, NULL);
		free(rec->fqdn);
		rec->fqdn = copy;
	}
	/* Newest wins for names too, as in the registry. */
	if (rec->fqdn != NULL) {
		holder = apr_hash_get(dir->by_fqdn, rec->fqdn,
		    APR_HASH_KEY_STRING);
		if (holder != rec)
			index_put(dir->by_fqdn, rec->fqdn,
			    APR_HASH_KEY_STRING, rec);
	}
	/* ports may be NULL when there are none (memcpy's arguments must
	 * never be, even for no bytes). */
	if (nports > 0)
		memcpy(rec->ports, ports, nports * sizeof(ports[0]));
	rec->nports = (unsigned char)nports;
	mark_dirty(dir, rec);
	unlock(dir);
	wake(dir);
	return APR_SUCCESS;
}

apr_status_t
mps_directory_record_device(mps_directory_t *dir, const mps_device_t *dev)
{
	apr_port_t ports[MPS_REGISTRY_MAX_PORTS];
	char fqdn[MPS_REGISTRY_FQDN_SIZE];
	apr_size_t n;

	if (dir == NULL || dev == NULL)
		return APR_EINVAL;
	if (mps_device_fqdn(dev, fqdn, sizeof(fqdn)) != APR_SUCCESS)
		fqdn[0] = '\0';
	n = mps_device_ports(dev, ports, MPS_REGISTRY_MAX_PORTS);
	if (n > MPS_REGISTRY_MAX_PORTS)
		n = MPS_REGISTRY_MAX_PORTS;
	return mps_directory_record(dir, mps_device_uuid(dev), fqdn, ports,
	    (unsigned)n, mps_device_connected_at(dev), dev);
}

int
mps_directory_remove(mps_directory_t *dir, const char *uuid,
    const void *token)
{
	char key[MPS_REGISTRY_UUID_SIZE];
	dir_rec_t *rec;
	int removed = 0;

	if (dir == NULL || uuid == NULL || !mps_registry_uuid_shaped(uuid))
		return 0;
	mps_registry_lower_copy(key, uuid, UUID_LEN);
	lock(dir);
	rec = apr_hash_get(dir->by_uuid, key, UUID_LEN);
	/* Token identity: a newer login's record survives the old
	 * tunnel's late close (registry.h, NEWEST WINS). */
	if (rec != NULL && rec->token == token) {
		rec_drop(dir, rec, 1);
		removed = 1;
	}
	unlock(dir);
	if (removed)
		wake(dir);
	return removed;
}

/* ---- readers ---- */

static apr_status_t
local_lookup(mps_directory_t *dir, const char *name, mps_dir_record_t *out)
{
	char key[MPS_REGISTRY_FQDN_SIZE];
	dir_rec_t *rec = NULL;
	apr_size_t len;

	len = strnlen(name, MPS_REGISTRY_FQDN_MAX + 1);
	if (len == 0 || len > MPS_REGISTRY_FQDN_MAX)
		return APR_NOTFOUND;
	mps_registry_lower_copy(key, name, len);
	lock(dir);
	if (len == UUID_LEN && mps_registry_uuid_shaped(key))
		rec = apr_hash_get(dir->by_uuid, key, UUID_LEN);
	if (rec == NULL)
		rec = apr_hash_get(dir->by_fqdn, key, APR_HASH_KEY_STRING);
	if (rec != NULL)
		rec_to_record(dir, rec, out);
	unlock(dir);
	return rec != NULL ? APR_SUCCESS : APR_NOTFOUND;
}

apr_status_t
mps_directory_lookup(mps_directory_t *dir, const char *name,
    mps_dir_record_t *out)
{
	if (dir == NULL || name == NULL || out == NULL)
		return APR_EINVAL;
	memset(out, 0, sizeof(*out));
#ifdef MPS_WITH_REDIS
	if (dir->redis != NULL)
		return dir_redis_lookup(dir, name, out);
#endif
	return local_lookup(dir, name, out);
}

apr_status_t
mps_directory_list(mps_directory_t *dir, apr_array_header_t **out,
    apr_pool_t *pool)
{
	apr_array_header_t *arr;
	apr_hash_index_t *hi;
	void *val;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (dir == NULL || pool == NULL)
		return APR_EINVAL;
#ifdef MPS_WITH_REDIS
	if (dir->redis != NULL)
		return dir_redis_list(dir, out, pool);
#endif
	lock(dir);
	arr = apr_array_make(pool, (int)apr_hash_count(dir->by_uuid),
	    sizeof(mps_dir_record_t));
	for (hi = apr_hash_first(pool, dir->by_uuid); hi != NULL;
	    hi = apr_hash_next(hi)) {
		apr_hash_this(hi, NULL, NULL, &val);
		rec_to_record(dir, val, apr_array_push(arr));
	}
	unlock(dir);
	*out = arr;
	return APR_SUCCESS;
}

unsigned
mps_directory_local_count(mps_directory_t *dir)
{
	unsigned n;

	if (dir == NULL)
		return 0;
	lock(dir);
	n = apr_hash_count(dir->by_uuid);
	unlock(dir);
	return n;
}

int
mps_directory_available(mps_directory_t *dir)
{
	if (dir == NULL)
		return 0;
#ifdef MPS_WITH_REDIS
	if (dir->redis != NULL)
		return dir_redis_available(dir);
#endif
	return 1;
}

apr_status_t
mps_directory_flush(mps_directory_t *dir, apr_interval_time_t timeout)
{
	if (dir == NULL)
		return APR_EINVAL;
#ifdef MPS_WITH_REDIS
	if (dir->redis != NULL)
		return dir_redis_flush(dir, timeout);
#endif
	(void)timeout;
	return APR_SUCCESS;
}

/* ---- for the Redis thread ---- */

unsigned
dir_take_batch(mps_directory_t *dir, dir_item_t *items, unsigned max)
{
	apr_hash_index_t *hi;
	unsigned n = 0;
	void *val;

	lock(dir);
	/* The table's own iterator is safe under the lock, and deleting the
	 * entry just returned is allowed by apr_hash_next(). */
	for (hi = apr_hash_first(NULL, dir->dirty); hi != NULL && n < max;
	    hi = apr_hash_next(hi)) {
		dir_rec_t *rec;
		dir_item_t *it = &items[n++];

		apr_hash_this(hi, NULL, NULL, &val);
		rec = val;
		memcpy(it->uuid, rec->uuid, sizeof(it->uuid));
		apr_cpystrn(it->fqdn, rec->fqdn != NULL ? rec->fqdn : "",
		    sizeof(it->fqdn));
		(void)dir_ports_text(rec->ports, rec->nports, it->ports,
		    sizeof(it->ports));
		it->since = rec->since;
		it->token = rec->token;
		it->gen = rec->gen;
		rec->dirty = 0;
		apr_hash_set(dir->dirty, rec->uuid, UUID_LEN, NULL);
	}
	unlock(dir);
	return n;
}

void
dir_apply_result(mps_directory_t *dir, const dir_item_t *item,
    apr_uint64_t gen, const char *winner)
{
	dir_rec_t *rec;
	int lost = 0;

	lock(dir);
	rec = apr_hash_get(dir->by_uuid, item->uuid, UUID_LEN);
	if (rec != NULL && rec->token == item->token) {
		if (gen > 0) {
			rec->gen = gen;
		} else {
			/* Redis holds the device for another instance: no
			 * removal to queue, the key is not ours. */
			rec_drop(dir, rec, 0);
			lost = 1;
		}
	}
	unlock(dir);
	if (lost && dir->on_takeover != NULL)
		dir->on_takeover(dir->takeover_arg, item->uuid, item->token,
		    winner != NULL ? winner : "");
}

void
dir_takeover_heard(mps_directory_t *dir, const char *uuid, apr_uint64_t gen,
    const char *instance)
{
	char key[MPS_REGISTRY_UUID_SIZE];
	const void *token = NULL;
	dir_rec_t *rec;

	if (strcmp(instance, dir->instance) == 0 || !mps_registry_uuid_shaped(uuid))
		return;
	mps_registry_lower_copy(key, uuid, UUID_LEN);
	lock(dir);
	rec = apr_hash_get(dir->by_uuid, key, UUID_LEN);
	/*
	 * Only a claim Redis accepted (gen > 0) can be overtaken by a later
	 * generation. A claim still on its way (gen 0) will be judged by the
	 * script against the winner's login time; an older generation is
	 * a message about a change of hands we have overtaken since.
	 */
	if (rec != NULL && rec->gen > 0 && gen > rec->gen) {
		token = rec->token;
		rec_drop(dir, rec, 0);
	}
	unlock(dir);
	if (token != NULL && dir->on_takeover != NULL)
		dir->on_takeover(dir->takeover_arg, key, token, instance);
}

void
dir_mark_all_dirty(mps_directory_t *dir)
{
	apr_hash_index_t *hi;
	void *val;

	lock(dir);
	for (hi = apr_hash_first(NULL, dir->by_uuid); hi != NULL;
	    hi = apr_hash_next(hi)) {
		apr_hash_this(hi, NULL, NULL, &val);
		mark_dirty(dir, val);
	}
	unlock(dir);
}

unsigned
dir_take_removals(mps_directory_t *dir, dir_removal_t *out, unsigned max)
{
	unsigned n = 0;

	lock(dir);
	while (n < max && dir->nremovals > 0) {
		out[n++] = dir->removals[dir->removals_head];
		dir->removals_head = (dir->removals_head + 1) %
		    MPS_DIRECTORY_MAX_PENDING_REMOVALS;
		dir->nremovals--;
	}
	unlock(dir);
	return n;
}

int
dir_has_work(mps_directory_t *dir)
{
	int yes;

	lock(dir);
	yes = apr_hash_count(dir->dirty) > 0 || dir->nremovals > 0;
	unlock(dir);
	return yes;
}
