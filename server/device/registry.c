/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.c: the connected-device registry (see registry.h).
 *
 * Two APR hash tables under one pthread rwlock:
 *   by_uuid  36-byte lower-case UUID text -> entry (every registered entry)
 *   by_fqdn  lower-case FQDN -> entry (a subset: the entries holding a name)
 * The keys point into the entries (the uuid array, the malloc'd fqdn), so
 * an entry's key storage must stay alive, unchanged, while it is indexed.
 *
 * Invariants, all under the write lock:
 *  - dev->reg == reg exactly while by_uuid[dev->uuid] == dev; the registry
 *    then holds one reference to dev.
 *  - by_fqdn[name] == dev implies dev->fqdn is that very key string and
 *    by_uuid[dev->uuid] == dev: a name never points at an unregistered
 *    entry, so dropping an entry from by_uuid drops its name slot too.
 *  - an entry's fqdn and ports change only while it is registered, under
 *    the write lock; once it leaves they are frozen, so an entry that
 *    outlives its registry can still be read without any lock.
 *
 * APR's hash tables keep deleted entries on a free list and reuse them for
 * the next insertion (apr_hash.c: apr_hash_set(..., NULL) moves the entry
 * to ht->free, find_entry() takes from it before apr_palloc), so the
 * registry's pool does not grow with connect/disconnect churn: it holds at
 * most the peak number of slots plus the bucket arrays, which double and
 * never shrink (about twice the peak bucket array in all).
 *
 * One trap in apr_hash_set(): setting a key that is present replaces only
 * the value and keeps the OLD key pointer. Our keys live in the entries,
 * so a slot that passes from one entry to another is always deleted and
 * inserted again (index_put()), never overwritten, lest it keep pointing
 * into an entry that is later freed.
 */
#include "registry.h"
#include "metrics.h"
#include "mps_status.h"

#include <apr_allocator.h>
#include <apr_hash.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UUID_LEN	(MPS_REGISTRY_UUID_SIZE - 1)

struct mps_device_t {
	atomic_uint refs;
	apr_uint32_t trigger;
	/*
	 * The registry holding the entry, NULL before registration and after
	 * it leaves. Written under that registry's write lock; read without
	 * it by the accessors, to find out whether they need the lock.
	 */
	_Atomic(mps_registry_t *) reg;
	char *fqdn;			/* lower case, malloc'd, or NULL */
	void *session;
	mps_strand_t *strand;
	mps_device_free_fn on_free;
	apr_time_t connected_at;
	atomic_uint_least64_t bytes_in;
	atomic_uint_least64_t bytes_out;
	atomic_uint channels;		/* channel-table size, set by the strand */
	apr_port_t ports[MPS_REGISTRY_MAX_PORTS];	/* in forward order */
	unsigned char nports;
	unsigned char registered_once;	/* registers at most once */
	char uuid[MPS_REGISTRY_UUID_SIZE];	/* lower case */
	char peer[];			/* allocated with the entry */
};

struct mps_registry_t {
	pthread_rwlock_t lock;
	apr_pool_t *pool;		/* the two tables and nothing else */
	apr_hash_t *by_uuid;
	apr_hash_t *by_fqdn;
};

/* ---- Helpers ---- */

/*
 * pthread_rwlock_*lock() fail only on misuse (an uninitialised lock, a
 * thread taking it twice, reader count overflow): a broken invariant that
 * no caller could recover from.
 */
static void
lock_shared(mps_registry_t *reg)
{
	if (pthread_rwlock_rdlock(&reg->lock) != 0)
		abort();
}

static void
lock_excl(mps_registry_t *reg)
{
	if (pthread_rwlock_wrlock(&reg->lock) != 0)
		abort();
}

static void
unlock(mps_registry_t *reg)
{
	if (pthread_rwlock_unlock(&reg->lock) != 0)
		abort();
}

/*
 * For accessors of an entry's mutable fields: takes the lock of the
 * registry holding dev, if any, and returns that registry (NULL when
 * dev is unregistered, whose fields are then private or frozen).
 */
static mps_registry_t *
device_lock(const mps_device_t *dev)
{
	mps_registry_t *reg;

	reg = atomic_load_explicit(&((mps_device_t *)dev)->reg,
	    memory_order_acquire);
	if (reg != NULL)
		lock_shared(reg);
	return reg;
}

static void
device_unlock(mps_registry_t *reg)
{
	if (reg != NULL)
		unlock(reg);
}

/* Locale-independent: names are ASCII (DNS), and tolower() is not. */
static char
ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

void
mps_registry_lower_copy(char *dst, const char *src, apr_size_t len)
{
	apr_size_t i;

	for (i = 0; i < len; i++)
		dst[i] = ascii_lower(src[i]);
	dst[len] = '\0';
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
mps_registry_uuid_shaped(const char *text)
{
	apr_size_t i;

	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (text[i] != '-')
				return 0;
		} else if (!is_hex(text[i]))
			return 0;
	}
	return text[UUID_LEN] == '\0';
}

/* Retains without the NULL check; dev must already hold a reference. */
static void
retain(mps_device_t *dev)
{
	unsigned int old;

	old = atomic_fetch_add_explicit(&dev->refs, 1, memory_order_relaxed);
	if (old == 0)
		abort();	/* resurrecting a freed entry */
}

static int
is_registered_in(const mps_registry_t *reg, mps_device_t *dev)
{
	return atomic_load_explicit(&dev->reg, memory_order_relaxed) == reg;
}

/* True if dev holds the FQDN slot of its own name. Under the lock. */
static int
holds_fqdn_slot(mps_registry_t *reg, const mps_device_t *dev)
{
	return dev->fqdn != NULL &&
	    apr_hash_get(reg->by_fqdn, dev->fqdn, APR_HASH_KEY_STRING) == dev;
}

/* Puts dev under key, deleting first so the table keeps dev's key
 * pointer rather than a previous holder's (see the top of this file). */
static void
index_put(apr_hash_t *ht, const void *key, apr_ssize_t klen,
    mps_device_t *dev)
{
	apr_hash_set(ht, key, klen, NULL);
	apr_hash_set(ht, key, klen, dev);
}

/* Marks dev as out of the registry: its fields are frozen from now on. */
static void
leave(mps_device_t *dev)
{
	atomic_store_explicit(&dev->reg, NULL, memory_order_release);
}

static int
port_index(const mps_device_t *dev, apr_port_t port)
{
	int i;

	for (i = 0; i < dev->nports; i++)
		if (dev->ports[i] == port)
			return i;
	return -1;
}

/* An APR pool's allocation failed: the tables cannot go on. */
static int
pool_abort(int retcode)
{
	(void)retcode;
	abort();
}

/* ---- Entries ---- */

apr_status_t
mps_device_create(const char *uuid_text, const char *peer,
    apr_uint32_t trigger, void *session, mps_strand_t *strand,
    mps_device_free_fn on_free, mps_device_t **out)
{
	mps_device_t *dev;
	apr_size_t peer_len = 0;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (uuid_text == NULL)
		return APR_EINVAL;
	if (!mps_registry_uuid_shaped(uuid_text))
		return MPS_ERR_MALFORMED;
	if (peer != NULL) {
		peer_len = strnlen(peer, MPS_REGISTRY_PEER_MAX + 1);
		if (peer_len > MPS_REGISTRY_PEER_MAX)
			return MPS_ERR_TOO_LARGE;
	}
	/* One allocation for the entry and its peer text. */
	if ((dev = calloc(1, sizeof(*dev) + peer_len + 1)) == NULL)
		return APR_ENOMEM;
	atomic_init(&dev->refs, 1);
	atomic_init(&dev->reg, NULL);
	atomic_init(&dev->bytes_in, 0);
	atomic_init(&dev->bytes_out, 0);
	atomic_init(&dev->channels, 0);
	dev->trigger = trigger;
	dev->session = session;
	dev->strand = strand;
	dev->on_free = on_free;
	dev->connected_at = apr_time_now();
	mps_registry_lower_copy(dev->uuid, uuid_text, UUID_LEN);
	if (peer_len > 0)
		memcpy(dev->peer, peer, peer_len);
	dev->peer[peer_len] = '\0';
	*out = dev;
	return APR_SUCCESS;
}

void
mps_device_retain(mps_device_t *dev)
{
	if (dev != NULL)
		retain(dev);
}

void
mps_device_release(mps_device_t *dev)
{
	unsigned int old;

	if (dev == NULL)
		return;
	/* acq_rel: the last releaser must see every other holder's writes
	 * before it frees the entry. */
	old = atomic_fetch_sub_explicit(&dev->refs, 1, memory_order_acq_rel);
	if (old == 0)
		abort();	/* released more often than referenced */
	if (old != 1)
		return;
	if (dev->on_free != NULL)
		dev->on_free(dev->session);
	free(dev->fqdn);
	free(dev);
}

const char *
mps_device_uuid(const mps_device_t *dev)
{
	return dev->uuid;
}

const char *
mps_device_log_name(const mps_device_t *dev, char *buf, apr_size_t size)
{
	char fqdn[MPS_REGISTRY_FQDN_SIZE];

	if (buf == NULL || size == 0)
		return "";
	if (mps_device_fqdn(dev, fqdn, sizeof(fqdn)) != APR_SUCCESS)
		fqdn[0] = '\0';
	if (fqdn[0] != '\0')
		snprintf(buf, size, "%s (%s)", fqdn, dev->uuid);
	else
		snprintf(buf, size, "%s", dev->uuid);
	return buf;
}

const char *
mps_device_peer(const mps_device_t *dev)
{
	return dev->peer;
}

apr_uint32_t
mps_device_trigger(const mps_device_t *dev)
{
	return dev->trigger;
}

apr_time_t
mps_device_connected_at(const mps_device_t *dev)
{
	return dev->connected_at;
}

void *
mps_device_session(const mps_device_t *dev)
{
	return dev->session;
}

mps_strand_t *
mps_device_strand(const mps_device_t *dev)
{
	return dev->strand;
}

apr_status_t
mps_device_fqdn(const mps_device_t *dev, char *buf, apr_size_t size)
{
	mps_registry_t *reg;
	apr_size_t len;
	apr_status_t rv = APR_SUCCESS;

	if (buf == NULL || size == 0)
		return APR_ENOSPC;
	reg = device_lock(dev);
	len = dev->fqdn != NULL ? strlen(dev->fqdn) : 0;
	if (len < size) {
		if (len > 0)
			memcpy(buf, dev->fqdn, len);
		buf[len] = '\0';
	} else {
		buf[0] = '\0';
		rv = APR_ENOSPC;
	}
	device_unlock(reg);
	return rv;
}

int
mps_device_has_port(const mps_device_t *dev, apr_port_t port)
{
	mps_registry_t *reg;
	int found;

	reg = device_lock(dev);
	found = port_index(dev, port) >= 0;
	device_unlock(reg);
	return found;
}

apr_size_t
mps_device_ports(const mps_device_t *dev, apr_port_t *out, apr_size_t max)
{
	mps_registry_t *reg;
	apr_size_t n;

	reg = device_lock(dev);
	n = dev->nports;
	if (out != NULL && max > 0)
		memcpy(out, dev->ports, (n < max ? n : max) * sizeof(*out));
	device_unlock(reg);
	return n;
}

int
mps_device_is_registered(const mps_device_t *dev)
{
	return atomic_load_explicit(&((mps_device_t *)dev)->reg,
	    memory_order_acquire) != NULL;
}

/* The counters are statistics: relaxed order, no lock, never torn. */
void
mps_device_add_bytes_in(mps_device_t *dev, apr_uint64_t n)
{
	atomic_fetch_add_explicit(&dev->bytes_in, n, memory_order_relaxed);
	mps_metric_add(MPS_M_BYTES_FROM_DEVICES, n);
}

void
mps_device_add_bytes_out(mps_device_t *dev, apr_uint64_t n)
{
	atomic_fetch_add_explicit(&dev->bytes_out, n, memory_order_relaxed);
	mps_metric_add(MPS_M_BYTES_TO_DEVICES, n);
}

apr_uint64_t
mps_device_bytes_in(const mps_device_t *dev)
{
	return atomic_load_explicit(&((mps_device_t *)dev)->bytes_in,
	    memory_order_relaxed);
}

apr_uint64_t
mps_device_bytes_out(const mps_device_t *dev)
{
	return atomic_load_explicit(&((mps_device_t *)dev)->bytes_out,
	    memory_order_relaxed);
}

apr_size_t
mps_device_footprint(const mps_device_t *dev)
{
	mps_registry_t *reg;
	apr_size_t n;

	n = sizeof(*dev) + strlen(dev->peer) + 1;
	reg = device_lock(dev);
	if (dev->fqdn != NULL)
		n += strlen(dev->fqdn) + 1;
	device_unlock(reg);
	return n;
}

/* ---- The registry ---- */

apr_status_t
mps_registry_create(mps_registry_t **out)
{
	apr_allocator_t *allocator;
	mps_registry_t *reg;
	apr_status_t rv;
	int prv;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return APR_ENOMEM;
	/*
	 * An unmanaged pool on an allocator of its own: the tables live
	 * exactly as long as the registry, their memory goes back to malloc
	 * when it is destroyed (not into APR's global free list), and the
	 * allocator needs no mutex: only the write-lock holder allocates.
	 */
	if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
		free(reg);
		return rv;
	}
	rv = apr_pool_create_unmanaged_ex(&reg->pool, pool_abort, allocator);
	if (rv != APR_SUCCESS) {
		apr_allocator_destroy(allocator);
		free(reg);
		return rv;
	}
	apr_allocator_owner_set(allocator, reg->pool);
	if ((prv = pthread_rwlock_init(&reg->lock, NULL)) != 0) {
		apr_pool_destroy(reg->pool);
		free(reg);
		return APR_FROM_OS_ERROR(prv);
	}
	reg->by_uuid = apr_hash_make(reg->pool);
	reg->by_fqdn = apr_hash_make(reg->pool);
	*out = reg;
	return APR_SUCCESS;
}

void
mps_registry_destroy(mps_registry_t *reg)
{
	apr_hash_index_t *hi;
	void *val;

	if (reg == NULL)
		return;
	/*
	 * No other thread uses the registry now, so the table's internal
	 * iterator is safe. Releasing an entry may free it, leaving its key
	 * dangling in the table; apr_hash_next() follows the slots' own
	 * links only, and the tables go with the pool right after.
	 */
	for (hi = apr_hash_first(NULL, reg->by_uuid); hi != NULL;
	    hi = apr_hash_next(hi)) {
		apr_hash_this(hi, NULL, NULL, &val);
		leave(val);
		mps_device_release(val);
	}
	apr_pool_destroy(reg->pool);
	(void)pthread_rwlock_destroy(&reg->lock);
	free(reg);
}

apr_status_t
mps_registry_register(mps_registry_t *reg, mps_device_t *dev,
    mps_device_t **replaced)
{
	mps_device_t *old;
	char *name = NULL;

	if (replaced != NULL)
		*replaced = NULL;
	if (reg == NULL || dev == NULL)
		return APR_EINVAL;
	lock_excl(reg);
	/*
	 * A fresh entry has no FQDN: names come from forwards, which need
	 * the entry registered. Refusing a second registration keeps it so.
	 */
	if (dev->registered_once || dev->fqdn != NULL) {
		unlock(reg);
		return APR_EINVAL;
	}
	old = apr_hash_get(reg->by_uuid, dev->uuid, UUID_LEN);
	/* The new tunnel inherits the old one's name slot, so a console
	 * that reaches the device by name is not cut off while the new
	 * tunnel's forwards are on their way. */
	if (old != NULL && holds_fqdn_slot(reg, old) &&
	    (name = strdup(old->fqdn)) == NULL) {
		unlock(reg);
		return APR_ENOMEM;
	}
	if (old != NULL) {
		apr_hash_set(reg->by_uuid, old->uuid, UUID_LEN, NULL);
		if (name != NULL)
			apr_hash_set(reg->by_fqdn, old->fqdn,
			    APR_HASH_KEY_STRING, NULL);
		leave(old);
	}
	dev->registered_once = 1;
	retain(dev);
	apr_hash_set(reg->by_uuid, dev->uuid, UUID_LEN, dev);
	if (name != NULL) {
		dev->fqdn = name;
		index_put(reg->by_fqdn, dev->fqdn, APR_HASH_KEY_STRING, dev);
	}
	atomic_store_explicit(&dev->reg, reg, memory_order_release);
	unlock(reg);

	/* The registry's reference to old passes to the caller. */
	if (replaced != NULL)
		*replaced = old;
	else
		mps_device_release(old);
	return APR_SUCCESS;
}

int
mps_registry_unregister(mps_registry_t *reg, mps_device_t *dev)
{
	if (reg == NULL || dev == NULL)
		return 0;
	lock_excl(reg);
	/*
	 * Pointer identity, not the UUID: after a reconnect the slot holds
	 * the newer entry, which the old tunnel's late close must leave be.
	 */
	if (apr_hash_get(reg->by_uuid, dev->uuid, UUID_LEN) != dev) {
		unlock(reg);
		return 0;
	}
	if (holds_fqdn_slot(reg, dev))
		apr_hash_set(reg->by_fqdn, dev->fqdn, APR_HASH_KEY_STRING,
		    NULL);
	apr_hash_set(reg->by_uuid, dev->uuid, UUID_LEN, NULL);
	leave(dev);
	unlock(reg);
	/* Outside the lock: the last release runs the owner's callback. */
	mps_device_release(dev);
	return 1;
}

/*
 * Gives dev the name (a malloc'd lower-case string it now owns), dropping
 * its previous name's slot, and takes the name's slot from whoever holds
 * it, which is returned (still registered, and still referenced by the
 * registry). Under the write lock.
 */
static mps_device_t *
claim_fqdn(mps_registry_t *reg, mps_device_t *dev, char *name)
{
	mps_device_t *holder;

	if (dev->fqdn != NULL) {
		if (holds_fqdn_slot(reg, dev))
			apr_hash_set(reg->by_fqdn, dev->fqdn,
			    APR_HASH_KEY_STRING, NULL);
		free(dev->fqdn);
	}
	dev->fqdn = name;
	holder = apr_hash_get(reg->by_fqdn, name, APR_HASH_KEY_STRING);
	index_put(reg->by_fqdn, dev->fqdn, APR_HASH_KEY_STRING, dev);
	return holder;
}

apr_status_t
mps_registry_add_forward(mps_registry_t *reg, mps_device_t *dev,
    const char *fqdn, apr_port_t port, mps_device_t **displaced)
{
	char name[MPS_REGISTRY_FQDN_SIZE];
	mps_device_t *holder = NULL;
	char *copy;
	apr_size_t len = 0;
	apr_status_t rv = APR_SUCCESS;

	if (displaced != NULL)
		*displaced = NULL;
	if (reg == NULL || dev == NULL || port == 0)
		return APR_EINVAL;
	if (fqdn != NULL) {
		len = strnlen(fqdn, MPS_REGISTRY_FQDN_MAX + 1);
		if (len > MPS_REGISTRY_FQDN_MAX)
			return MPS_ERR_TOO_LARGE;
	}
	mps_registry_lower_copy(name, fqdn != NULL ? fqdn : "", len);

	lock_excl(reg);
	if (!is_registered_in(reg, dev)) {
		rv = APR_NOTFOUND;
		goto out;
	}
	/* Every check before any change: all or nothing. */
	if (port_index(dev, port) < 0 &&
	    dev->nports >= MPS_REGISTRY_MAX_PORTS) {
		rv = APR_ENOSPC;
		goto out;
	}
	if (len > 0 && (dev->fqdn == NULL || strcmp(dev->fqdn, name) != 0)) {
		if ((copy = malloc(len + 1)) == NULL) {
			rv = APR_ENOMEM;
			goto out;
		}
		memcpy(copy, name, len + 1);
		holder = claim_fqdn(reg, dev, copy);
		if (holder != NULL && displaced != NULL) {
			retain(holder);
			*displaced = holder;
		}
	}
	if (port_index(dev, port) < 0)
		dev->ports[dev->nports++] = port;
out:
	unlock(reg);
	return rv;
}

apr_status_t
mps_registry_remove_forward(mps_registry_t *reg, mps_device_t *dev,
    apr_port_t port)
{
	apr_status_t rv = APR_NOTFOUND;
	int i;

	if (reg == NULL || dev == NULL)
		return APR_EINVAL;
	lock_excl(reg);
	if (is_registered_in(reg, dev) && (i = port_index(dev, port)) >= 0) {
		/* Keep the forwarding order of the others. */
		memmove(&dev->ports[i], &dev->ports[i + 1],
		    (size_t)(dev->nports - i - 1) * sizeof(dev->ports[0]));
		dev->nports--;
		rv = APR_SUCCESS;
	}
	unlock(reg);
	return rv;
}

apr_status_t
mps_registry_lookup(mps_registry_t *reg, const char *name,
    mps_device_t **out)
{
	char key[MPS_REGISTRY_FQDN_SIZE];
	mps_device_t *dev = NULL;
	apr_size_t len;
	int as_uuid;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (reg == NULL || name == NULL)
		return APR_EINVAL;
	len = strnlen(name, MPS_REGISTRY_FQDN_MAX + 1);
	if (len == 0 || len > MPS_REGISTRY_FQDN_MAX)
		return APR_NOTFOUND;	/* no entry can have such a name */
	as_uuid = len == UUID_LEN && mps_registry_uuid_shaped(name);
	/* Lower case is the normal form of both UUIDs and FQDNs. */
	mps_registry_lower_copy(key, name, len);

	lock_shared(reg);
	if (as_uuid)
		dev = apr_hash_get(reg->by_uuid, key, UUID_LEN);
	if (dev == NULL)
		dev = apr_hash_get(reg->by_fqdn, key, APR_HASH_KEY_STRING);
	if (dev != NULL)
		retain(dev);
	unlock(reg);

	*out = dev;
	return dev != NULL ? APR_SUCCESS : APR_NOTFOUND;
}

unsigned int
mps_registry_count(mps_registry_t *reg)
{
	unsigned int n;

	if (reg == NULL)
		return 0;
	lock_shared(reg);
	n = apr_hash_count(reg->by_uuid);
	unlock(reg);
	return n;
}

apr_status_t
mps_registry_snapshot(mps_registry_t *reg, apr_array_header_t **out,
    apr_pool_t *pool)
{
	apr_array_header_t *arr;
	apr_hash_index_t *hi;
	void *val;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (reg == NULL || pool == NULL)
		return APR_EINVAL;
	lock_shared(reg);
	arr = apr_array_make(pool, (int)apr_hash_count(reg->by_uuid),
	    sizeof(mps_device_t *));
	/*
	 * An iterator in the caller's pool: the table's internal one would
	 * be shared by every reader holding the lock with us.
	 */
	for (hi = apr_hash_first(pool, reg->by_uuid); hi != NULL;
	    hi = apr_hash_next(hi)) {
		apr_hash_this(hi, NULL, NULL, &val);
		retain(val);
		APR_ARRAY_PUSH(arr, mps_device_t *) = val;
	}
	unlock(reg);
	*out = arr;
	return APR_SUCCESS;
}

void
mps_registry_snapshot_release(apr_array_header_t *snapshot)
{
	int i;

	if (snapshot == NULL)
		return;
	for (i = 0; i < snapshot->nelts; i++)
		mps_device_release(APR_ARRAY_IDX(snapshot, i, mps_device_t *));
	apr_array_clear(snapshot);
}

/* Checks one registered entry's own fields; returns a reason or NULL. */
static const char *
verify_entry(const mps_registry_t *reg, mps_device_t *dev)
{
	apr_size_t i, j;

	if (!is_registered_in(reg, dev))
		return "registered entry does not name the registry";
	if (!mps_registry_uuid_shaped(dev->uuid))
		return "entry UUID is not a UUID";
	for (i = 0; i < UUID_LEN; i++)
		if (dev->uuid[i] != ascii_lower(dev->uuid[i]))
			return "entry UUID is not lower case";
	if (atomic_load_explicit(&dev->refs, memory_order_relaxed) == 0)
		return "registered entry has no reference";
	if (dev->nports > MPS_REGISTRY_MAX_PORTS)
		return "port count over the cap";
	for (i = 0; i < dev->nports; i++) {
		if (dev->ports[i] == 0)
			return "port 0 recorded";
		for (j = i + 1; j < dev->nports; j++)
			if (dev->ports[i] == dev->ports[j])
				return "port recorded twice";
	}
	if (dev->fqdn != NULL) {
		if (dev->fqdn[0] == '\0' ||
		    strlen(dev->fqdn) > MPS_REGISTRY_FQDN_MAX)
			return "FQDN empty or too long";
		for (i = 0; dev->fqdn[i] != '\0'; i++)
			if (dev->fqdn[i] != ascii_lower(dev->fqdn[i]))
				return "FQDN is not lower case";
	}
	return NULL;
}

static const char *
verify_tables(mps_registry_t *reg)
{
	apr_hash_index_t *hi;
	const void *key;
	apr_ssize_t klen;
	void *val;
	mps_device_t *dev;
	const char *why;

	for (hi = apr_hash_first(NULL, reg->by_uuid); hi != NULL;
	    hi = apr_hash_next(hi)) {
		apr_hash_this(hi, &key, &klen, &val);
		dev = val;
		/* Identity, not equality: the key must live in the entry. */
		if (klen != UUID_LEN || key != dev->uuid)
			return "UUID key does not point at its entry's UUID";
		if ((why = verify_entry(reg, dev)) != NULL)
			return why;
	}
	for (hi = apr_hash_first(NULL, reg->by_fqdn); hi != NULL;
	    hi = apr_hash_next(hi)) {
		apr_hash_this(hi, &key, &klen, &val);
		dev = val;
		if (key != dev->fqdn)
			return "FQDN key does not point at its entry's FQDN";
		if (apr_hash_get(reg->by_uuid, dev->uuid, UUID_LEN) != dev)
			return "FQDN slot holds an entry not registered";
	}
	return NULL;
}

apr_status_t
mps_registry_verify(mps_registry_t *reg, char *why, apr_size_t whysize)
{
	const char *reason;

	if (reg == NULL)
		return APR_EINVAL;
	/* Exclusive, so the tables' internal iterators are ours alone. */
	lock_excl(reg);
	reason = verify_tables(reg);
	unlock(reg);
	if (reason == NULL)
		return APR_SUCCESS;
	if (why != NULL && whysize > 0)
		(void)snprintf(why, whysize, "%s", reason);
	return APR_EGENERAL;
}

void
mps_device_set_channels(mps_device_t *dev, unsigned n)
{
	unsigned old;

	if (dev == NULL)
		return;
	old = atomic_exchange_explicit(&dev->channels, n, memory_order_relaxed);
	/* The process-wide gauge follows every entry's changes. */
	mps_metric_gauge_add(MPS_M_CHANNELS_OPEN, (int64_t)n - (int64_t)old);
}

unsigned
mps_device_channels(const mps_device_t *dev)
{
	return atomic_load_explicit(&((mps_device_t *)dev)->channels,
	    memory_order_relaxed);
}
