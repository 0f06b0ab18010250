/* SPDX-License-Identifier: Apache-2.0 */
/* plugin_loader.c: see plugin_loader.h. */
#include "plugin_loader.h"
#include "mps_status.h"

#include <apr_strings.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#ifndef MPS_PLUGINDIR
#error "MPS_PLUGINDIR must name the default plugin directory"
#endif

struct mps_plugin_t {
	lt_dlhandle handle;
	const char *path;		/* the file libltdl opened */
	unsigned abi;			/* its mps_plugin_abi_version */
	mps_plugin_fini_fn fini;	/* NULL when not exported */
};

/*
 * libltdl keeps global state (its handle list, its last error) without
 * any locking of its own, so every libltdl call made here, from the first
 * lt_dlinit to the last lt_dlclose, runs under this one mutex. Plugin
 * init and fini run under it too: the ABI promises that they never run
 * concurrently with anything else the loader does.
 */
static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t ltdl_once = PTHREAD_ONCE_INIT;
static int ltdl_init_failed;
static char ltdl_init_error[256];

static void
ltdl_init(void)
{
	const char *e;

	if (lt_dlinit() == 0)
		return;
	ltdl_init_failed = 1;
	e = lt_dlerror();
	apr_cpystrn(ltdl_init_error, e != NULL ? e : "unknown error",
	    sizeof(ltdl_init_error));
}


/* libltdl's last error, never NULL. Call with loader_lock held. */
static const char *
ltdl_error(void)
{
	const char *e = lt_dlerror();

	return e != NULL ? e : "unknown error";
}

/* True when name ends in ".dll", in any case. */
static int
has_dll_suffix(const char *name, size_t len)
{
	return len >= 4 && strcasecmp(name + len - 4, ".dll") == 0;
}

/* True when libltdl opens name as is instead of appending .la and .so. */
static int
has_module_suffix(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot != NULL && (strcmp(dot, ".la") == 0 ||
	    strcmp(dot, ".so") == 0);
}

/*
 * The name handed to libltdl: a DllName with a '/' is a path, taken as
 * is (relative to the working directory, which is the configuration's);
 * a bare name is joined to plugin_dir. Never a bare name: libltdl would
 * then search LTDL_LIBRARY_PATH and LD_LIBRARY_PATH, and a plugin sees
 * every password, so where it comes from must be the configuration's
 * choice alone. Returns NULL when nothing is left of the name.
 */
static const char *
module_base(const char *dll_name, const char *plugin_dir, apr_pool_t *pool)
{
	size_t len = strlen(dll_name);
	const char *name;
	size_t dirlen;

	/* Old Windows configurations name AMTFileAuth.dll and the like. */
	if (has_dll_suffix(dll_name, len))
		len -= 4;
	if (len == 0)
		return NULL;
	name = apr_pstrmemdup(pool, dll_name, len);
	if (strchr(name, '/') != NULL)
		return name;
	if (plugin_dir == NULL || *plugin_dir == '\0')
		plugin_dir = MPS_PLUGINDIR;
	dirlen = strlen(plugin_dir);
	while (dirlen > 1 && plugin_dir[dirlen - 1] == '/')
		dirlen--;
	return apr_psprintf(pool, "%.*s/%s", (int)dirlen, plugin_dir, name);
}

/* Opens base as libltdl would: BASE.la, then BASE.so. Lock held. */
static lt_dlhandle
open_module(const char *base, const char **why)
{
	lt_dladvise advise;
	lt_dlhandle h;

	if (lt_dladvise_init(&advise) != 0) {
		*why = ltdl_error();
		return NULL;
	}
	/* Local: two plugins may export the same names (both file plugins
	 * are one source), and neither may satisfy the other's symbols. */
	if (lt_dladvise_ext(&advise) != 0 || lt_dladvise_local(&advise) != 0) {
		*why = ltdl_error();
		(void)lt_dladvise_destroy(&advise);
		return NULL;
	}
	h = lt_dlopenadvise(base, advise);
	if (h == NULL)
		*why = ltdl_error();
	(void)lt_dladvise_destroy(&advise);
	return h;
}

/* Major must match; a newer minor may rely on symbols we do not call. */
static int
abi_supported(uint32_t abi)
{
	return (abi >> 16) == MPS_PLUGIN_ABI_MAJOR &&
	    (abi & 0xffffu) <= MPS_PLUGIN_ABI_MINOR;
}

/* Checks the ABI and the required symbol. Lock held. */
static apr_status_t
check_module(mps_plugin_t *p, const char *required, char *err,
    size_t errsize)
{
	const uint32_t *abi;

	abi = lt_dlsym(p->handle, MPS_PLUGIN_SYM_ABI);
	if (abi == NULL) {
		mps_errtext(err, errsize, "plugin %s: missing symbol %s (not an "
		    "mpsd plugin, or built without MPS_PLUGIN_DECLARE_ABI)",
		    p->path, MPS_PLUGIN_SYM_ABI);
		return MPS_ERR_PLUGIN_ABI;
	}
	p->abi = *abi;
	if (!abi_supported(p->abi)) {
		mps_errtext(err, errsize, "plugin %s: ABI %u.%u, this mpsd "
		    "supports %u.%u", p->path, p->abi >> 16, p->abi & 0xffffu,
		    (unsigned)MPS_PLUGIN_ABI_MAJOR,
		    (unsigned)MPS_PLUGIN_ABI_MINOR);
		return MPS_ERR_PLUGIN_ABI;
	}
	if (required != NULL && lt_dlsym(p->handle, required) == NULL) {
		mps_errtext(err, errsize, "plugin %s: missing symbol %s", p->path,
		    required);
		return MPS_ERR_PLUGIN;
	}
	return APR_SUCCESS;
}

/* Runs mps_plugin_init when exported. Lock held. */
static apr_status_t
init_module(mps_plugin_t *p, const char *params, char *err, size_t errsize)
{
	char perr[MPS_PLUGIN_ERROR_SIZE] = { 0 };
	mps_plugin_init_fn init;
	int rc;

	init = (mps_plugin_init_fn)lt_dlsym(p->handle, MPS_PLUGIN_SYM_INIT);
	if (init == NULL)
		return APR_SUCCESS;
	rc = init(params, perr, sizeof(perr));
	/* The plugin may have filled the whole buffer. */
	perr[sizeof(perr) - 1] = '\0';
	if (rc == 0)
		return APR_SUCCESS;
	if (perr[0] != '\0')
		mps_errtext(err, errsize, "plugin %s: mps_plugin_init failed: %s",
		    p->path, perr);
	else
		mps_errtext(err, errsize, "plugin %s: mps_plugin_init failed "
		    "(returned %d, no reason given)", p->path, rc);
	return MPS_ERR_PLUGIN;
}

static apr_status_t
plugin_cleanup(void *data)
{
	mps_plugin_t *p = data;

	pthread_mutex_lock(&loader_lock);
	if (p->fini != NULL)
		p->fini();
	(void)lt_dlclose(p->handle);
	p->handle = NULL;
	pthread_mutex_unlock(&loader_lock);
	return APR_SUCCESS;
}

/* The whole load, with loader_lock held. */
static apr_status_t
load_locked(mps_plugin_t **plugin, const char *dll_name,
    const char *plugin_dir, const char *params, const char *required,
    char *err, size_t errsize, apr_pool_t *pool)
{
	const lt_dlinfo *info;
	const char *base, *why = NULL;
	mps_plugin_t *p;
	apr_status_t rv;

	base = module_base(dll_name, plugin_dir, pool);
	if (base == NULL) {
		mps_errtext(err, errsize, "cannot load plugin \"%s\": the name is "
		    "empty", dll_name);
		return MPS_ERR_PLUGIN;
	}
	p = apr_pcalloc(pool, sizeof(*p));
	p->handle = open_module(base, &why);
	if (p->handle == NULL) {
		if (has_module_suffix(base))
			mps_errtext(err, errsize, "cannot load plugin \"%s\" "
			    "(searched %s): %s", dll_name, base, why);
		else
			mps_errtext(err, errsize, "cannot load plugin \"%s\" "
			    "(searched %s.la, %s.so): %s", dll_name, base, base,
			    why);
		return MPS_ERR_PLUGIN;
	}
	info = lt_dlgetinfo(p->handle);
	p->path = apr_pstrdup(pool, info != NULL && info->filename != NULL ?
	    info->filename : base);
	if ((rv = check_module(p, required, err, errsize)) != APR_SUCCESS ||
	    (rv = init_module(p, params, err, errsize)) != APR_SUCCESS) {
		/* Refused before init succeeded: no fini, by the contract. */
		(void)lt_dlclose(p->handle);
		return rv;
	}
	p->fini = (mps_plugin_fini_fn)lt_dlsym(p->handle, MPS_PLUGIN_SYM_FINI);
	apr_pool_cleanup_register(pool, p, plugin_cleanup,
	    apr_pool_cleanup_null);
	*plugin = p;
	return APR_SUCCESS;
}

static apr_status_t
load(mps_plugin_t **plugin, const char *dll_name, const char *plugin_dir,
    const char *params, const char *required, char *err, size_t errsize,
    apr_pool_t *pool)
{
	apr_status_t rv;
	int e;

	*plugin = NULL;
	mps_errtext(err, errsize, "%s", "");
	if (dll_name == NULL)
		dll_name = "";
	if (params == NULL)
		params = "";
	if ((e = pthread_once(&ltdl_once, ltdl_init)) != 0)
		return APR_FROM_OS_ERROR(e);
	if (ltdl_init_failed) {
		mps_errtext(err, errsize, "cannot load plugin \"%s\": libltdl "
		    "initialisation failed: %s", dll_name, ltdl_init_error);
		return MPS_ERR_PLUGIN;
	}
	pthread_mutex_lock(&loader_lock);
	rv = load_locked(plugin, dll_name, plugin_dir, params, required, err,
	    errsize, pool);
	pthread_mutex_unlock(&loader_lock);
	return rv;
}

apr_status_t
mps_plugin_load(mps_plugin_t **plugin, const char *dll_name,
    const char *plugin_dir, const char *params, char *err, size_t errsize,
    apr_pool_t *pool)
{
	return load(plugin, dll_name, plugin_dir, params, NULL, err, errsize,
	    pool);
}

void *
mps_plugin_symbol(mps_plugin_t *plugin, const char *name)
{
	void *sym;

	if (plugin == NULL || plugin->handle == NULL || name == NULL)
		return NULL;
	pthread_mutex_lock(&loader_lock);
	sym = lt_dlsym(plugin->handle, name);
	pthread_mutex_unlock(&loader_lock);
	return sym;
}

const char *
mps_plugin_path(const mps_plugin_t *plugin)
{
	return plugin->path;
}

unsigned
mps_plugin_abi(const mps_plugin_t *plugin)
{
	return plugin->abi;
}

apr_status_t
mps_auth_plugin_load(mps_auth_plugin_t **auth, const char *dll_name,
    const char *plugin_dir, const char *params, char *err, size_t errsize,
    apr_pool_t *pool)
{
	mps_auth_plugin_t *a;
	mps_plugin_t *p;
	apr_status_t rv;

	*auth = NULL;
	/* Authenticate is checked before mps_plugin_init runs, so a plugin
	 * of the wrong kind is refused without side effects. */
	rv = load(&p, dll_name, plugin_dir, params, MPS_PLUGIN_SYM_AUTHENTICATE,
	    err, errsize, pool);
	if (rv != APR_SUCCESS)
		return rv;
	a = apr_pcalloc(pool, sizeof(*a));
	a->plugin = p;
	a->authenticate = (mps_authenticate_fn)mps_plugin_symbol(p,
	    MPS_PLUGIN_SYM_AUTHENTICATE);
	a->params = apr_pstrdup(pool, params != NULL ? params : "");
	if (a->authenticate == NULL) {
		/* Found a moment ago: only a broken libltdl gets here. */
		mps_errtext(err, errsize, "plugin %s: missing symbol %s", p->path,
		    MPS_PLUGIN_SYM_AUTHENTICATE);
		(void)apr_pool_cleanup_run(pool, p, plugin_cleanup);
		return MPS_ERR_PLUGIN;
	}
	*auth = a;
	return APR_SUCCESS;
}

int
mps_auth_plugin_authenticate(const mps_auth_plugin_t *auth,
    const char *user, const char *password, char *err, size_t errsize)
{
	char perr[MPS_PLUGIN_ERROR_SIZE] = { 0 };
	bool ok;

	mps_errtext(err, errsize, "%s", "");
	if (auth == NULL || auth->authenticate == NULL) {
		mps_errtext(err, errsize, "no authentication plugin loaded");
		return 0;
	}
	/* The ABI promises non-NULL strings: an absent one is empty. */
	ok = auth->authenticate(user != NULL ? user : "",
	    password != NULL ? password : "",
	    auth->params != NULL ? auth->params : "", perr, sizeof(perr));
	/* Whatever the plugin left there, it ends inside the buffer. */
	perr[sizeof(perr) - 1] = '\0';
	mps_errtext(err, errsize, "%s", perr);
	return ok ? 1 : 0;
}
