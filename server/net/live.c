/* SPDX-License-Identifier: Apache-2.0 */
/* live.c: see live.h. */
#include "live.h"

#include <stdlib.h>

apr_status_t
mps_live_create(mps_live_t **out, unsigned generation)
{
	mps_live_t *live;
	apr_pool_t *pool;
	apr_status_t rv;

	*out = NULL;
	/* An unmanaged pool: a generation may outlive the reload that
	 * made it and is freed on whichever thread drops it last. */
	rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
	if (rv != APR_SUCCESS)
		return rv;
	live = apr_pcalloc(pool, sizeof(*live));
	live->pool = pool;
	live->generation = generation;
	atomic_init(&live->refs, 1);
	*out = live;
	return APR_SUCCESS;
}

void
mps_live_destroy(mps_live_t *live)
{
	if (live == NULL)
		return;
	if (live->tls != NULL)
		SSL_CTX_free(live->tls);
	live->tls = NULL;
	mps_live_plugin_release(live->amt_auth);
	mps_live_plugin_release(live->socks_auth);
	apr_pool_destroy(live->pool);
}

apr_status_t
mps_live_plugin_create(mps_live_plugin_t **out)
{
	mps_live_plugin_t *lp;
	apr_pool_t *pool;
	apr_status_t rv;

	*out = NULL;
	rv = apr_pool_create_unmanaged_ex(&pool, NULL, NULL);
	if (rv != APR_SUCCESS)
		return rv;
	lp = apr_pcalloc(pool, sizeof(*lp));
	lp->pool = pool;
	atomic_init(&lp->refs, 1);
	*out = lp;
	return APR_SUCCESS;
}

void
mps_live_plugin_retain(mps_live_plugin_t *lp)
{
	atomic_fetch_add(&lp->refs, 1);
}

void
mps_live_plugin_release(mps_live_plugin_t *lp)
{
	if (lp == NULL || atomic_fetch_sub(&lp->refs, 1) != 1)
		return;
	/* Runs the plugin's cleanup: mps_plugin_fini, then lt_dlclose. */
	apr_pool_destroy(lp->pool);
}
