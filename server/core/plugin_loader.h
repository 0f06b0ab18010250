/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugin_loader.h: loading plugins with libltdl and checking their ABI.
 *
 * A plugin is named in mps.config by DllName: a path (containing '/',
 * relative to the configuration's directory) or a bare name searched in
 * PluginDir, where libltdl tries NAME.la then NAME.so. A Windows-style
 * "NAME.dll" from an old configuration is taken as NAME.
 *
 * The loader refuses, with a reason in err: a file that cannot be opened
 * (with libltdl's message), a missing mps_plugin_abi_version, an ABI of
 * another major or a newer minor, a missing required symbol, and a
 * mps_plugin_init that returns non-zero (with the plugin's errorString).
 */
#ifndef MPS_PLUGIN_LOADER_H
#define MPS_PLUGIN_LOADER_H

#include <apr_pools.h>
#include <stddef.h>

#include <mps/plugin.h>

typedef struct mps_plugin_t mps_plugin_t;

/*
 * Loads dll_name (see above), checks the ABI, calls mps_plugin_init(params)
 * when exported. A cleanup on pool calls mps_plugin_fini and closes the
 * library. Thread-safe with respect to other loads.
 */
apr_status_t mps_plugin_load(mps_plugin_t **plugin, const char *dll_name,
    const char *plugin_dir, const char *params, char *err, size_t errsize,
    apr_pool_t *pool);

/* A symbol of the plugin, or NULL. */
void *mps_plugin_symbol(mps_plugin_t *plugin, const char *name);

/* The file that was opened, and the ABI version it declared. */
const char *mps_plugin_path(const mps_plugin_t *plugin);
unsigned mps_plugin_abi(const mps_plugin_t *plugin);

/* An authentication plugin: a plugin that exports Authenticate. */
typedef struct mps_auth_plugin_t {
	mps_plugin_t *plugin;
	mps_authenticate_fn authenticate;
	const char *params;	/* DllParameters, passed on every call */
} mps_auth_plugin_t;

/* mps_plugin_load() plus the Authenticate symbol ("missing symbol
 * Authenticate" otherwise). */
apr_status_t mps_auth_plugin_load(mps_auth_plugin_t **auth,
    const char *dll_name, const char *plugin_dir, const char *params,
    char *err, size_t errsize, apr_pool_t *pool);

/*
 * Calls Authenticate. Returns 1 only when the plugin returned true; err
 * receives the plugin's errorString ("" when none), NUL-terminated
 * whatever the plugin left in its buffer. Blocks as long as the plugin
 * does: call it from the blocking lane.
 */
int mps_auth_plugin_authenticate(const mps_auth_plugin_t *auth,
    const char *user, const char *password, char *err, size_t errsize);

#endif /* MPS_PLUGIN_LOADER_H */
