/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live.h: the settings a reload swaps while tunnels stay up.
 *
 * SIGHUP and POST /api/v1/reload build a new generation (a new SSL_CTX
 * from the certificate and key, new instances of the authentication
 * plugins with their DllParameters, the AuthorizedServersList) and
 * publish it in one pointer swap. Every user takes a reference for the
 * length of one use and drops it right after:
 *
 *   - a new device connection takes it for SSL_new() only: the SSL holds
 *     its own reference to its SSL_CTX (OpenSSL counts them), so an
 *     established tunnel keeps the certificate it was accepted with and
 *     is never touched by a rotation;
 *   - a login job takes it on the blocking lane around the plugin call:
 *     a call in flight finishes on the instance it started on, the next
 *     one sees the new instance;
 *   - the AuthorizedServers filter takes it around one check.
 *
 * When the last reference to a replaced generation goes, slot->retire
 * gets it (server.c hands it to the blocking lane, where the plugins'
 * mps_plugin_fini and dlclose may take their time). The slot's mutex
 * guards only the pointer and the count's first increment; it is never
 * held across a plugin call, a handshake or a file read.
 *
 * The functions are inline so that every layer (device, console,
 * outbound) may use a slot without linking the code that builds one.
 */
#ifndef MPS_LIVE_H
#define MPS_LIVE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <pthread.h>
#include <stdatomic.h>

#include <openssl/ssl.h>

#include "plugin_loader.h"

/*
 * One loaded instance of an authentication plugin, counted: a
 * generation holds a reference. A plugin of ABI 1.2 or newer gets a new
 * instance at each reload; an older one (whose contract forbids
 * mps_plugin_init while its Authenticate runs) keeps its instance from
 * one generation to the next, and its DllParameters change waits for a
 * restart.
 */
typedef struct mps_live_plugin_t {
	mps_auth_plugin_t *auth;
	apr_pool_t *pool;		/* owns it: the cleanup runs fini */
	atomic_uint refs;
} mps_live_plugin_t;

typedef struct mps_live_t {
	SSL_CTX *tls;			/* NULL in plain mode; one ref owned */
	mps_live_plugin_t *amt_auth;	/* NULL when NeedAuthentication false */
	mps_live_plugin_t *socks_auth;	/* idem, Socks_Authenticate */
	const apr_array_header_t *authorized_servers; /* mps_authorized_server_t */
	apr_pool_t *pool;		/* owns the list */
	unsigned generation;		/* 1 at start, +1 per reload */
	atomic_uint refs;		/* the slot's, plus one per use */
} mps_live_t;

typedef struct mps_live_slot_t {
	pthread_mutex_t lock;
	mps_live_t *cur;		/* NULL until the first publish */
	/* Gets a generation nobody uses any more; must free it (with
	 * mps_live_destroy, on a thread that may block). */
	void (*retire)(mps_live_t *live, void *arg);
	void *retire_arg;
} mps_live_slot_t;

/* Which plugin a login job asks for. */
typedef enum {
	MPS_LIVE_AMT_AUTH,
	MPS_LIVE_SOCKS_AUTH
} mps_live_role_t;

/* Frees a generation: the SSL_CTX reference, the plugin references
 * (the last one calls the plugin's mps_plugin_fini and unloads it),
 * then the pool. */
void mps_live_destroy(mps_live_t *live);

/* An empty plugin holder with its own pool (refs 1); load into ->pool
 * and set ->auth. */
apr_status_t mps_live_plugin_create(mps_live_plugin_t **lp);

/* Another reference (a generation that keeps the instance). */
void mps_live_plugin_retain(mps_live_plugin_t *lp);

/* Drops one; the last frees the pool (fini, unload). NULL allowed. */
void mps_live_plugin_release(mps_live_plugin_t *lp);

/* Allocates a generation with its own pool (refs 1, the creator's). */
apr_status_t mps_live_create(mps_live_t **live, unsigned generation);

static inline void
mps_live_slot_init(mps_live_slot_t *slot,
    void (*retire)(mps_live_t *, void *), void *arg)
{
	pthread_mutex_init(&slot->lock, NULL);
	slot->cur = NULL;
	slot->retire = retire;
	slot->retire_arg = arg;
}

/* The current generation with a reference, or NULL before the first
 * publish. Never blocks beyond the slot's short mutex. */
static inline mps_live_t *
mps_live_acquire(mps_live_slot_t *slot)
{
	mps_live_t *live;

	if (slot == NULL)
		return NULL;
	pthread_mutex_lock(&slot->lock);
	live = slot->cur;
	if (live != NULL)
		atomic_fetch_add(&live->refs, 1);
	pthread_mutex_unlock(&slot->lock);
	return live;
}

static inline void
mps_live_release(mps_live_slot_t *slot, mps_live_t *live)
{
	if (live == NULL || atomic_fetch_sub(&live->refs, 1) != 1)
		return;
	if (slot != NULL && slot->retire != NULL)
		slot->retire(live, slot->retire_arg);
	else
		mps_live_destroy(live);
}

/* Makes live current (the slot takes over the caller's reference) and
 * drops the slot's reference to the one it replaces. NULL empties the
 * slot (at shutdown). */
static inline void
mps_live_publish(mps_live_slot_t *slot, mps_live_t *live)
{
	mps_live_t *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->cur;
	slot->cur = live;
	pthread_mutex_unlock(&slot->lock);
	mps_live_release(slot, old);
}

/* The plugin of a role in a generation (NULL when that role is off). */
static inline const mps_auth_plugin_t *
mps_live_auth(const mps_live_t *live, mps_live_role_t role)
{
	const mps_live_plugin_t *lp;

	if (live == NULL)
		return NULL;
	lp = role == MPS_LIVE_AMT_AUTH ? live->amt_auth : live->socks_auth;
	return lp != NULL ? lp->auth : NULL;
}

#endif /* MPS_LIVE_H */
