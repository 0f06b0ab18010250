/* SPDX-License-Identifier: Apache-2.0 */
/* server.c: see server.h. */
#include "server.h"
#include "gate.h"
#include "admin.h"
#include "admission.h"
#include "apf_codec.h"
#include "channel_relay.h"
#include "direct_tcpip.h"
#include "directory.h"
#include "peer_link.h"
#include "notify.h"
#include "safety_check.h"
#include "udp_relay.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "log.h"
#include "metrics.h"
#include "mps_status.h"
#include "tls.h"

/* How often freed heap memory is handed back to the system. */
#define TRIM_INTERVAL apr_time_from_sec(10)
/* No trim while a connection came in the last TRIM_QUIET (a login wave),
 * unless the trim is already TRIM_MAX_DEFER late. */
#define TRIM_QUIET apr_time_from_sec(2)
#define TRIM_MAX_DEFER apr_time_from_sec(60)

/* How long a stopping mpsd waits for its tunnels to close. */
#define SHUTDOWN_GRACE apr_time_from_sec(3)

/* Signals the signal thread owns; every other thread blocks them. */
static void
handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

void
mps_server_block_signals(void)
{
	sigset_t set;

	/* A console or device that vanishes mid-write must cost an EPIPE,
	 * not the process. */
	signal(SIGPIPE, SIG_IGN);
	handled_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

mps_server_t *
mps_server_create(apr_pool_t *pool)
{
	mps_server_t *srv = apr_pcalloc(pool, sizeof(*srv));

	srv->pool = pool;
	srv->trace_levels = MPS_LOG_DEFAULT_LEVELS;
	pthread_mutex_init(&srv->reload_lock, NULL);
	pthread_mutex_init(&srv->reload_all_lock, NULL);
	/* retire is set once the workers exist (mps_server_start). */
	mps_live_slot_init(&srv->live, NULL, NULL);
	srv->generation = 1;
	return srv;
}

/* Generation 1 if start-up stops before publishing it: its plugins
 * still get their mps_plugin_fini. */
static apr_status_t
first_live_cleanup(void *data)
{
	mps_server_t *srv = data;

	mps_live_destroy(srv->first_live);
	srv->first_live = NULL;
	return APR_SUCCESS;
}

/* Generation 1, created on first use. NULL when out of memory. */
static mps_live_t *
first_live(mps_server_t *srv)
{
	if (srv->first_live == NULL) {
		if (mps_live_create(&srv->first_live, 1) != APR_SUCCESS)
			return NULL;
		apr_pool_cleanup_register(srv->pool, srv, first_live_cleanup,
		    apr_pool_cleanup_null);
	}
	return srv->first_live;
}

static const char *
dir_of(const char *path, apr_pool_t *pool)
{
	char cwd[4096];
	const char *abs = path;
	const char *slash;

	if (path[0] != '/' && getcwd(cwd, sizeof(cwd)) != NULL)
		abs = apr_pstrcat(pool, cwd, "/", path, NULL);
	slash = strrchr(abs, '/');
	if (slash == abs)
		return "/";
	return apr_pstrndup(pool, abs, (apr_size_t)(slash - abs));
}

apr_status_t
mps_server_load_config(mps_server_t *srv, const char *path,
    mps_config_errors_t *errs, int *static_failed, int *dynamic_failed)
{
	apr_status_t rv;
	int before;

	*static_failed = *dynamic_failed = 0;
	srv->config_dir = dir_of(path, srv->pool);
	srv->config_path = apr_pstrcat(srv->pool, srv->config_dir,
	    strcmp(srv->config_dir, "/") == 0 ? "" : "/",
	    strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path, NULL);
	rv = mps_config_load(&srv->cfg, path, errs, srv->pool);
	if (rv != APR_SUCCESS) {
		*static_failed = 1;
		return MPS_ERR_CONFIG;
	}

	srv->dynamic_path = mps_config_resolve(srv->config_dir,
	    srv->cfg->dynamic_config_file, srv->pool);
	srv->notification_list_path = mps_config_resolve(srv->config_dir,
	    srv->cfg->notification_list_file, srv->pool);
	srv->authorized_servers_path = mps_config_resolve(srv->config_dir,
	    srv->cfg->authorized_servers_file, srv->pool);

	/* Stat first, then read (see mps_server_reload); remembered only
	 * when the file was read, as before. */
	if (stat(srv->dynamic_path, &srv->dynamic_stat) != 0)
		memset(&srv->dynamic_stat, 0, sizeof(srv->dynamic_stat));
	if (mps_dynamic_config_load(&srv->trace_levels, srv->dynamic_path,
	    errs, srv->pool) != APR_SUCCESS) {
		*dynamic_failed = 1;
		memset(&srv->dynamic_stat, 0, sizeof(srv->dynamic_stat));
	}

	before = mps_config_error_count(errs);
	(void)mps_notification_list_load(&srv->subscribers,
	    srv->notification_list_path, errs, srv->pool);
	(void)mps_authorized_servers_load(&srv->authorized_servers,
	    srv->authorized_servers_path, errs, srv->pool);
	if (mps_config_error_count(errs) > before)
		*static_failed = 1;

	return (*static_failed || *dynamic_failed) ? MPS_ERR_CONFIG : APR_SUCCESS;
}

/* A new counted instance of a role's plugin, initialised with params. */
static apr_status_t
load_live_plugin(mps_live_plugin_t **out, const mps_auth_config_t *role,
    const char *plugin_dir, const char *params, char *err, size_t errsize)
{
	mps_live_plugin_t *lp;
	apr_status_t rv;

	*out = NULL;
	if ((rv = mps_live_plugin_create(&lp)) != APR_SUCCESS) {
		snprintf(err, errsize, "out of memory");
		return rv;
	}
	rv = mps_auth_plugin_load(&lp->auth, role->dll_name, plugin_dir, params,
	    err, errsize, lp->pool);
	if (rv != APR_SUCCESS) {
		mps_live_plugin_release(lp);
		return rv;
	}
	*out = lp;
	return APR_SUCCESS;
}

apr_status_t
mps_server_load_plugins(mps_server_t *srv, const char **role, char *err,
    size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	mps_live_t *live = first_live(srv);
	apr_status_t rv;

	*role = NULL;
	if (live == NULL) {
		snprintf(err, errsize, "out of memory");
		*role = "AMT";
		return APR_ENOMEM;
	}
	/* The authentication plugins belong to generation 1 of the live
	 * settings: a reload replaces them, and the last login using an
	 * instance unloads it. */
	if (cfg->amt_auth.need_authentication) {
		rv = load_live_plugin(&live->amt_auth, &cfg->amt_auth,
		    cfg->plugin_dir, cfg->amt_auth.dll_parameters, err, errsize);
		if (rv != APR_SUCCESS) {
			*role = "AMT";
			return rv;
		}
		srv->amt_auth = live->amt_auth->auth;
	}
	if (cfg->socks_auth.need_authentication) {
		rv = load_live_plugin(&live->socks_auth, &cfg->socks_auth,
		    cfg->plugin_dir, cfg->socks_auth.dll_parameters, err, errsize);
		if (rv != APR_SUCCESS) {
			*role = "Socks";
			return rv;
		}
		srv->socks_auth = live->socks_auth->auth;
	}
	/* The notifier only when someone is to be notified. */
	if (srv->subscribers != NULL && srv->subscribers->nelts > 0) {
		rv = mps_plugin_load(&srv->notify_plugin, cfg->notifier_plugin,
		    cfg->plugin_dir, mps_notifier_params(cfg, srv->pool), err,
		    errsize, srv->pool);
		if (rv == APR_SUCCESS) {
			srv->notify = (mps_notify_fn)mps_plugin_symbol(
			    srv->notify_plugin, MPS_PLUGIN_SYM_NOTIFY);
			if (srv->notify == NULL) {
				snprintf(err, errsize, "%s: missing symbol %s",
				    mps_plugin_path(srv->notify_plugin),
				    MPS_PLUGIN_SYM_NOTIFY);
				rv = APR_EGENERAL;
			}
		}
		if (rv != APR_SUCCESS) {
			*role = "Notification";
			return rv;
		}
	}
	return APR_SUCCESS;
}

/* A subscriber answered KeepConnection false (a blocking worker; the
 * caller holds dev): the device goes, with the guide's reason 17. */
static void
notifier_keep_false(void *arg, mps_device_t *dev, const char *url)
{
	char why[160], name[MPS_DEVICE_LOG_NAME_SIZE];

	(void)arg;
	if (!mps_device_is_registered(dev))
		return;
	snprintf(why, sizeof(why), "subscriber %s answered KeepConnection "
	    "false", url);
	mps_log(MPS_LOG_INFO, "Intel remote client %s: %s: disconnecting",
	    mps_device_log_name(dev, name, sizeof(name)), why);
	mps_session_request_close(mps_device_session(dev),
	    MPS_APF_DISCONNECT_BY_POLICY, why);
}

static apr_status_t
start_notifier(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	mps_notifier_options_t opt;
	char buf[128];
	apr_status_t rv;

	mps_notifier_options_init(&opt);
	opt.notify = srv->notify;
	opt.params = mps_notifier_params(cfg, srv->pool);
	opt.subscribers = srv->subscribers;
	opt.mps_address = cfg->mps_address;
	opt.mps_http_port = cfg->http_listen_port;
	opt.mps_socks_port = cfg->socks_listen_port;
	opt.timers = mps_poller_timers(srv->poller);
	opt.keep_false = notifier_keep_false;
	opt.keep_false_arg = srv;
	rv = mps_notifier_create(&srv->notifier, &opt, srv->workers);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start the notifications: %s",
		    mps_strerror(rv, buf, sizeof(buf)));
		return rv;
	}
	mps_log(MPS_LOG_INFO, "Notifying %d subscriber(s) of device connections "
	    "through %s", srv->subscribers->nelts,
	    mps_plugin_path(srv->notify_plugin));
	return APR_SUCCESS;
}

static const char *
levels_text(unsigned levels, char *buf, size_t size)
{
	static const mps_log_level_t order[] = {
		MPS_LOG_INFO, MPS_LOG_ERROR, MPS_LOG_WARNING, MPS_LOG_DEBUG
	};
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(levels & order[i]))
			continue;
		if (buf[0] != '\0')
			apr_cpystrn(buf + strlen(buf), "|", size - strlen(buf));
		apr_cpystrn(buf + strlen(buf), mps_log_level_name(order[i]),
		    size - strlen(buf));
	}
	if (buf[0] == '\0')
		apr_cpystrn(buf, "(none)", size);
	return buf;
}

void
mps_server_reload_dynamic(mps_server_t *srv, const char *why)
{
	apr_pool_t *scratch;
	mps_config_errors_t *errs;
	unsigned levels;
	struct stat st;
	char text[64];
	int i;

	if (apr_pool_create(&scratch, NULL) != APR_SUCCESS)
		return;
	pthread_mutex_lock(&srv->reload_lock);
	errs = mps_config_errors_create(scratch);
	if (stat(srv->dynamic_path, &st) != 0)
		memset(&st, 0, sizeof(st));
	/* Remember what we looked at even on failure, so that a broken file
	 * is reported once, not every second until it is fixed. */
	srv->dynamic_stat = st;
	if (mps_dynamic_config_load(&levels, srv->dynamic_path, errs,
	    scratch) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "Error while reading dynamic configuration file.");
		for (i = 0; i < errs->errors->nelts; i++)
			mps_log(MPS_LOG_ERROR, "%s",
			    APR_ARRAY_IDX(errs->errors, i, const char *));
		mps_log(MPS_LOG_ERROR, "Trace levels stay %s",
		    levels_text(srv->trace_levels, text, sizeof(text)));
	} else {
		int changed = levels != srv->trace_levels;
		srv->trace_levels = levels;
		mps_logger_set_levels(mps_log_default(), levels);
		/* Written whatever the new levels say, so that the admin sees
		 * that the change took effect. */
		mps_log_announce(MPS_LOG_INFO, "%s: trace levels %s %s", why,
		    changed ? "are now" : "unchanged,",
		    levels_text(levels, text, sizeof(text)));
	}
	pthread_mutex_unlock(&srv->reload_lock);
	apr_pool_destroy(scratch);
}

/* ---- live reload ------------------------------------------------------ */

/* A replaced generation: freed on the blocking lane, where the plugins'
 * mps_plugin_fini and dlclose may take their time. */
static void
live_destroy_task(void *arg)
{
	mps_live_destroy(arg);
}

static void
retire_live(mps_live_t *live, void *arg)
{
	mps_server_t *srv = arg;

	if (srv->workers == NULL || mps_workers_push_ex(srv->workers,
	    MPS_LANE_BLOCKING, live_destroy_task, live_destroy_task,
	    live) != APR_SUCCESS)
		mps_live_destroy(live);
}

/* What one reload collects before it decides. */
struct reload_run {
	mps_server_t *srv;
	const char *why;
	mps_admin_reload_result_t *res;
	apr_pool_t *scratch;
	int nrestart;
};

static void
result_line(char (*lines)[MPS_ADMIN_RELOAD_LINE], int *n, const char *text)
{
	if (*n >= MPS_ADMIN_RELOAD_MAX_LINES)
		return;
	apr_cpystrn(lines[*n], text, MPS_ADMIN_RELOAD_LINE);
	(*n)++;
}

/*
 * The parameters a reload applies itself; every other change waits for
 * a restart. The list files are reread whatever their names, so a new
 * name is applied too.
 */
static int
reloadable(const char *group, const char *name)
{
	static const char *const live[][2] = {
		{ "AMT_Authenticate", "DllParameters" },
		{ "Socks_Authenticate", "DllParameters" },
		{ "TLS", "CertificateChainFile" },
		{ "TLS", "KeyFile" },
		{ "Filtering", "AuthorizedServersList" },
		{ "Notification", "MCSubscribersList" },
	};
	size_t i;

	for (i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (strcmp(live[i][0], group) == 0 &&
		    strcmp(live[i][1], name) == 0)
			return 1;
	return 0;
}

static void
note_change(void *arg, const char *group, const char *name)
{
	struct reload_run *run = arg;
	char line[MPS_ADMIN_RELOAD_LINE];

	if (reloadable(group, name))
		return;
	run->nrestart++;
	snprintf(line, sizeof(line), "<%s><%s>", group, name);
	/* A WARNING: the file no longer says what runs. */
	mps_log(MPS_LOG_WARNING, "%s: %s: %s changed; it needs a restart and "
	    "keeps its old value until then", run->why,
	    run->srv->config_path, line);
	if (run->res != NULL)
		result_line(run->res->restart, &run->res->nrestart, line);
}

static int
same_subscribers(const apr_array_header_t *a, const apr_array_header_t *b)
{
	int i;

	if ((a != NULL ? a->nelts : 0) != (b != NULL ? b->nelts : 0))
		return 0;
	for (i = 0; a != NULL && i < a->nelts; i++)
		if (strcmp(APR_ARRAY_IDX(a, i, mps_subscriber_t).url,
		    APR_ARRAY_IDX(b, i, mps_subscriber_t).url) != 0)
			return 0;
	return 1;
}

/* A copy of list in the server's pool: the admin thread reads the array
 * without a lock, so every list once in force stays valid (a few URLs
 * per reload that changed them). */
static apr_array_header_t *
keep_subscribers(mps_server_t *srv, const apr_array_header_t *list)
{
	apr_array_header_t *copy;
	int i;

	copy = apr_array_make(srv->pool, list->nelts > 0 ? list->nelts : 1,
	    sizeof(mps_subscriber_t));
	for (i = 0; i < list->nelts; i++) {
		mps_subscriber_t *to = apr_array_push(copy);

		*to = APR_ARRAY_IDX(list, i, mps_subscriber_t);
		to->url = apr_pstrdup(srv->pool, to->url);
		to->scheme = apr_pstrdup(srv->pool, to->scheme);
		to->host = apr_pstrdup(srv->pool, to->host);
		to->path = apr_pstrdup(srv->pool, to->path);
	}
	return copy;
}

/* Logs a refusal and every reason, each with its file:line. */
static void
refuse(struct reload_run *run, const apr_array_header_t *errors,
    const char *extra)
{
	char line[MPS_ADMIN_RELOAD_LINE];
	int i;

	mps_log_announce(MPS_LOG_ERROR, "%s: reload refused, the settings in "
	    "force stay (generation %u):", run->why, run->srv->generation);
	for (i = 0; errors != NULL && i < errors->nelts; i++) {
		const char *e = APR_ARRAY_IDX(errors, i, const char *);

		mps_log_announce(MPS_LOG_ERROR, "  %s", e);
		if (run->res != NULL)
			result_line(run->res->errors, &run->res->nerrors, e);
	}
	if (extra != NULL) {
		mps_log_announce(MPS_LOG_ERROR, "  %s", extra);
		if (run->res != NULL)
			result_line(run->res->errors, &run->res->nerrors, extra);
	}
	if (run->res != NULL) {
		snprintf(line, sizeof(line), "reload refused, the settings in "
		    "force stay (generation %u)", run->srv->generation);
		apr_cpystrn(run->res->summary, line, sizeof(run->res->summary));
		run->res->ok = 0;
		run->res->generation = run->srv->generation;
	}
}

/*
 * One role's plugin for the new generation: a new instance with the new
 * DllParameters (DllName is restart-only: the running one). A plugin
 * built for ABI 1.1 or older was promised that mps_plugin_init never
 * runs while its Authenticate does: it keeps its running instance, and a
 * DllParameters change waits for a restart (named in the log).
 */
static apr_status_t
reload_plugin(struct reload_run *run, const char *group,
    mps_live_plugin_t **out, mps_live_plugin_t *running,
    const mps_auth_config_t *old_cfg, const mps_auth_config_t *new_cfg,
    const char *plugin_dir, char *err, size_t errsize)
{
	unsigned abi;
	char what[160];

	*out = NULL;
	if (running == NULL)
		return APR_SUCCESS;	/* NeedAuthentication is restart-only */
	abi = mps_plugin_abi(running->auth->plugin);
	if ((abi & 0xffffu) < 2) {
		mps_live_plugin_retain(running);
		*out = running;
		if (strcmp(old_cfg->dll_parameters, new_cfg->dll_parameters) !=
		    0) {
			snprintf(what, sizeof(what), "DllParameters (plugin %s "
			    "has ABI %u.%u: re-initialising it needs 1.2)",
			    mps_plugin_path(running->auth->plugin), abi >> 16,
			    abi & 0xffffu);
			note_change(run, group, what);
		}
		return APR_SUCCESS;
	}
	return load_live_plugin(out, old_cfg, plugin_dir,
	    new_cfg->dll_parameters, err, errsize);
}

void
mps_server_reload(mps_server_t *srv, const char *why,
    mps_admin_reload_result_t *res)
{
	struct reload_run run;
	mps_config_errors_t *errs;
	mps_config_t *ncfg = NULL;
	apr_array_header_t *servers = NULL, *subs = NULL;
	mps_live_t *live = NULL, *now;
	apr_pool_t *scratch;
	apr_status_t rv;
	char err[MPS_TLS_ERRSIZE + 64], text[64], cert[256];
	const char *list_path, *subs_path;
	unsigned levels = srv->trace_levels;
	int subs_changed, i, failed, reinit_amt = 0, reinit_socks = 0;
	struct stat dyn_st;

	if (res != NULL)
		memset(res, 0, sizeof(*res));
	if (apr_pool_create(&scratch, NULL) != APR_SUCCESS)
		return;
	pthread_mutex_lock(&srv->reload_all_lock);
	memset(&run, 0, sizeof(run));
	run.srv = srv;
	run.why = why;
	run.res = res;
	run.scratch = scratch;
	errs = mps_config_errors_create(scratch);

	/* 1. Read everything; nothing changes yet. */
	if (mps_config_load(&ncfg, srv->config_path, errs, scratch) !=
	    APR_SUCCESS || mps_live_create(&live, srv->generation + 1) !=
	    APR_SUCCESS) {
		refuse(&run, errs->errors, NULL);
		goto out;
	}
	list_path = mps_config_resolve(srv->config_dir,
	    ncfg->authorized_servers_file, scratch);
	subs_path = mps_config_resolve(srv->config_dir,
	    ncfg->notification_list_file, scratch);
	/* The file as it is before it is read: a write after this point
	 * changes what the watcher compares with, so it rereads. A stat
	 * taken after the read (as before) could record a newer file than
	 * the one applied, and that edit went unnoticed until the next one
	 * (signals.sh under TSan: the broken file written just after a
	 * SIGHUP was never reported). */
	if (stat(srv->dynamic_path, &dyn_st) != 0)
		memset(&dyn_st, 0, sizeof(dyn_st));
	failed = mps_dynamic_config_load(&levels, srv->dynamic_path, errs,
	    scratch) != APR_SUCCESS;
	failed |= mps_authorized_servers_load(&servers, list_path, errs,
	    live->pool) != APR_SUCCESS;
	failed |= mps_notification_list_load(&subs, subs_path, errs,
	    scratch) != APR_SUCCESS;
	if (!failed) {
		/* The start-up's safety check, on what would run: the
		 * listeners in force with the new DllParameters, so that a
		 * reload never puts the public demo accounts live on a
		 * reachable address either. */
		mps_config_t would = *srv->cfg;
		mps_server_t probe;

		would.amt_auth.dll_parameters = ncfg->amt_auth.dll_parameters;
		would.socks_auth.dll_parameters = ncfg->socks_auth.dll_parameters;
		/* Only what the check reads (safety_check.c, file_needs.c):
		 * a copy of the whole server would read fields other threads
		 * are writing (timers, counters). */
		memset(&probe, 0, sizeof(probe));
		probe.cfg = &would;
		probe.pool = srv->pool;
		probe.config_dir = srv->config_dir;
		(void)mps_safety_check(&probe, errs);
	}
	if (failed || mps_config_error_count(errs) > 0) {
		refuse(&run, errs->errors, NULL);
		goto out;
	}
	live->authorized_servers = servers;

	/* 2. Build: the certificate (a new SSL_CTX, with the running
	 * profile, CA and verification), then the plugins. */
	if (srv->tls != NULL) {
		mps_tls_settings_t ts;

		mps_tls_settings_from_config(&ts, srv->cfg);
		ts.cert_chain_file = ncfg->tls_cert_chain_file;
		ts.key_file = ncfg->tls_key_file;
		if (mps_tls_ctx_create(&live->tls, &ts, err, sizeof(err)) !=
		    APR_SUCCESS) {
			refuse(&run, NULL, err);
			goto out;
		}
	}
	/* The instances in force (the lock keeps them so). */
	now = mps_live_acquire(&srv->live);
	rv = reload_plugin(&run, "AMT_Authenticate", &live->amt_auth,
	    now != NULL ? now->amt_auth : NULL, &srv->cfg->amt_auth,
	    &ncfg->amt_auth, srv->cfg->plugin_dir, err, sizeof(err));
	if (rv == APR_SUCCESS)
		rv = reload_plugin(&run, "Socks_Authenticate", &live->socks_auth,
		    now != NULL ? now->socks_auth : NULL, &srv->cfg->socks_auth,
		    &ncfg->socks_auth, srv->cfg->plugin_dir, err, sizeof(err));
	reinit_amt = live->amt_auth != NULL &&
	    (now == NULL || live->amt_auth != now->amt_auth);
	reinit_socks = live->socks_auth != NULL &&
	    (now == NULL || live->socks_auth != now->socks_auth);
	mps_live_release(&srv->live, now);
	if (rv != APR_SUCCESS) {
		refuse(&run, NULL, err);
		goto out;
	}

	/* 3. Swap, all at once. New logins and handshakes see generation
	 * N+1; those in flight finish on N, which goes with the last. */
	for (i = 0; i < errs->warnings->nelts; i++)
		mps_log(MPS_LOG_WARNING, "%s", APR_ARRAY_IDX(errs->warnings, i,
		    const char *));
	(void)mps_config_changes(srv->cfg, ncfg, note_change, &run);
	mps_metrics_auth_plugin_side(mps_live_auth(live, MPS_LIVE_AMT_AUTH),
	    MPS_AUTH_SIDE_DEVICE);
	mps_metrics_auth_plugin_side(mps_live_auth(live, MPS_LIVE_SOCKS_AUTH),
	    MPS_AUTH_SIDE_CONSOLE);
	srv->generation = live->generation;
	mps_live_publish(&srv->live, live);
	live = NULL;

	subs_changed = !same_subscribers(srv->subscribers, subs);
	if (subs_changed) {
		apr_array_header_t *kept = keep_subscribers(srv, subs);

		if (srv->notifier != NULL) {
			(void)mps_notifier_set_subscribers(srv->notifier, kept);
			srv->subscribers = kept;
			mps_admin_set_subscribers(srv->admin, kept);
		} else if (kept->nelts > 0) {
			/* No notifier plugin was loaded at start (no
			 * subscriber then): loading one is a restart. */
			note_change(&run, "Notification", "MCSubscribersList "
			    "(first subscribers: the notifier plugin loads at "
			    "start)");
		} else {
			srv->subscribers = kept;
			mps_admin_set_subscribers(srv->admin, kept);
		}
	}

	/* Trace levels last, so that the lines above follow the old ones. */
	pthread_mutex_lock(&srv->reload_lock);
	srv->dynamic_stat = dyn_st;
	mps_logger_set_levels(mps_log_default(), levels);
	mps_log_announce(MPS_LOG_INFO, "%s: trace levels %s %s", why,
	    levels != srv->trace_levels ? "are now" : "unchanged,",
	    levels_text(levels, text, sizeof(text)));
	srv->trace_levels = levels;
	pthread_mutex_unlock(&srv->reload_lock);

	cert[0] = '\0';
	now = mps_live_acquire(&srv->live);
	if (now != NULL && now->tls != NULL)
		(void)mps_tls_ctx_describe_cert(now->tls, cert, sizeof(cert));
	mps_live_release(&srv->live, now);
	snprintf(err, sizeof(err), "reloaded: generation %u; %d authorized "
	    "server(s); %d subscriber(s)%s; plugins re-initialised: %s%s%s; "
	    "%d change(s) wait for a restart", srv->generation,
	    servers->nelts, srv->subscribers != NULL ?
	    srv->subscribers->nelts : 0, subs_changed ? " (changed)" : "",
	    reinit_amt ? "device" : "", reinit_amt && reinit_socks ? ", " : "",
	    !reinit_amt && !reinit_socks ? "none" : reinit_socks ? "console" :
	    "", run.nrestart);
	mps_log_announce(MPS_LOG_INFO, "%s: %s", why, err);
	if (cert[0] != '\0')
		mps_log_announce(MPS_LOG_INFO, "%s: server certificate for new "
		    "handshakes: %s", why, cert);
	if (res != NULL) {
		res->ok = 1;
		res->generation = srv->generation;
		apr_cpystrn(res->summary, err, sizeof(res->summary));
	}
out:
	if (live != NULL)
		mps_live_destroy(live);
	pthread_mutex_unlock(&srv->reload_all_lock);
	apr_pool_destroy(scratch);
}

static void
admin_reload(void *arg, const char *who, mps_admin_reload_result_t *res)
{
	mps_server_t *srv = arg;

	if (srv->stopping) {
		memset(res, 0, sizeof(*res));
		apr_cpystrn(res->summary, "mpsd is stopping",
		    sizeof(res->summary));
		return;
	}
	mps_log_announce(MPS_LOG_INFO, "%s asked for a reload", who);
	mps_server_reload(srv, "Reload", res);
}

static int
file_changed(const struct stat *a, const struct stat *b)
{
	return a->st_ino != b->st_ino || a->st_dev != b->st_dev ||
	    a->st_size != b->st_size ||
	    a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	    a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/* Blocking lane: stat and, on change, reread; then wait for the next
 * check. */
static void
dynamic_check(void *arg)
{
	mps_server_t *srv = arg;
	struct stat st;
	int changed;

	if (srv->stopping)
		return;
	if (stat(srv->dynamic_path, &st) != 0)
		memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&srv->reload_lock);
	changed = file_changed(&st, &srv->dynamic_stat);
	pthread_mutex_unlock(&srv->reload_lock);
	if (changed)
		mps_server_reload_dynamic(srv, srv->dynamic_path);
	if (!srv->stopping)
		mps_timer_arm(mps_poller_timers(srv->poller),
		    &srv->dynamic_timer, srv->cfg->dynamic_config_check_interval);
}

/* Timer (I/O lane): the check itself reads files, so it moves to the
 * blocking lane. */
static void
dynamic_timer_fired(void *arg)
{
	mps_server_t *srv = arg;

	if (mps_workers_push(srv->workers, MPS_LANE_BLOCKING, dynamic_check,
	    srv) != APR_SUCCESS && !srv->stopping)
		mps_timer_arm(mps_poller_timers(srv->poller),
		    &srv->dynamic_timer, srv->cfg->dynamic_config_check_interval);
}

/*
 * SIGUSR1: the connected devices, one line each, written whatever the
 * trace levels (the admin asked for it).
 */
static void
log_devices(mps_server_t *srv)
{
	apr_array_header_t *snap;
	apr_pool_t *scratch;
	int i;

	if (srv->registry == NULL ||
	    apr_pool_create(&scratch, NULL) != APR_SUCCESS)
		return;
	if (mps_registry_snapshot(srv->registry, &snap, scratch) != APR_SUCCESS) {
		apr_pool_destroy(scratch);
		return;
	}
	mps_log_announce(MPS_LOG_INFO, "Connected Intel remote clients: %d",
	    snap->nelts);
	for (i = 0; i < snap->nelts; i++) {
		mps_device_t *d = APR_ARRAY_IDX(snap, i, mps_device_t *);
		apr_port_t ports[MPS_REGISTRY_MAX_PORTS];
		char fqdn[MPS_REGISTRY_FQDN_SIZE], plist[MPS_REGISTRY_MAX_PORTS * 6 + 1];
		char since[64];
		apr_size_t n, j, off = 0;

		if (mps_device_fqdn(d, fqdn, sizeof(fqdn)) != APR_SUCCESS)
			fqdn[0] = '\0';
		n = mps_device_ports(d, ports, MPS_REGISTRY_MAX_PORTS);
		plist[0] = '\0';
		for (j = 0; j < n && off < sizeof(plist); j++)
			off += (apr_size_t)snprintf(plist + off, sizeof(plist) - off,
			    "%s%u", j > 0 ? "," : "", (unsigned)ports[j]);
		mps_log_format_time_current(mps_device_connected_at(d), since,
		    sizeof(since));
		mps_log_announce(MPS_LOG_INFO, "  %s fqdn=%s peer=%s ports=%s "
		    "trigger=%u since=[%s] bytes_in=%llu bytes_out=%llu",
		    mps_device_uuid(d), fqdn[0] != '\0' ? fqdn : "-",
		    mps_device_peer(d), n > 0 ? plist : "-",
		    (unsigned)mps_device_trigger(d), since,
		    (unsigned long long)mps_device_bytes_in(d),
		    (unsigned long long)mps_device_bytes_out(d));
	}
	mps_registry_snapshot_release(snap);
	apr_pool_destroy(scratch);
}

/*
 * Blocking lane: give freed heap pages back. A burst of TLS handshakes
 * (thousands of devices reconnecting after an outage) leaves the heap
 * full of freed handshake buffers between live tunnels; glibc keeps such
 * holes resident until asked, so an idle server would otherwise carry
 * the burst's peak forever.
 */
static void
trim_heap(void *arg)
{
	mps_server_t *srv = arg;
	apr_time_t now = apr_time_now();
	apr_time_t last = (apr_time_t)atomic_load_explicit(&srv->amt.last_accept,
	    memory_order_relaxed);

	/*
	 * Not in the middle of a login wave: the pages given back would be
	 * faulted in again by the next handshakes at once (the trim and the
	 * faults were ~10 % of mpsd's CPU in a 2,000-device wave), and a
	 * trim's madvise() stops every thread for TLB shootdowns. Try again
	 * shortly after the wave; at most TRIM_MAX_DEFER late, so a server
	 * with a steady stream of logins still trims.
	 */
	if (now - last < TRIM_QUIET) {
		if (srv->trim_deferred_since == 0)
			srv->trim_deferred_since = now;
		if (now - srv->trim_deferred_since < TRIM_MAX_DEFER) {
			if (!srv->stopping)
				(void)mps_timer_arm(mps_poller_timers(
				    srv->poller), &srv->trim_timer, TRIM_QUIET);
			return;
		}
	}
	srv->trim_deferred_since = 0;
#ifdef __GLIBC__
	(void)malloc_trim(64 * 1024);
#endif
	if (!srv->stopping)
		(void)mps_timer_arm(mps_poller_timers(srv->poller),
		    &srv->trim_timer, TRIM_INTERVAL);
}

static void
trim_timer_fired(void *arg)
{
	mps_server_t *srv = arg;

	if (mps_workers_push(srv->workers, MPS_LANE_BLOCKING, trim_heap,
	    srv) != APR_SUCCESS && !srv->stopping)
		(void)mps_timer_arm(mps_poller_timers(srv->poller),
		    &srv->trim_timer, TRIM_INTERVAL);
}

static void *
signal_thread_main(void *arg)
{
	mps_server_t *srv = arg;
	sigset_t set;
	int sig;

	handled_signals(&set);
	while (!srv->stopping) {
		if (sigwait(&set, &sig) != 0)
			continue;
		switch (sig) {
		case SIGUSR1:
			if (!srv->stopping)
				log_devices(srv);
			break;
		case SIGHUP:
			if (srv->stopping)
				break;
			if (mps_logger_reopen(mps_log_default()) != APR_SUCCESS)
				mps_log_announce(MPS_LOG_ERROR,
				    "SIGHUP: cannot reopen the log file");
			mps_log(MPS_LOG_INFO, "Received SIGHUP: log reopened, "
			    "rereading %s and the files it names",
			    srv->config_path);
			mps_server_reload(srv, "SIGHUP", NULL);
			break;
		default:
			if (!srv->stopping)
				mps_log(MPS_LOG_INFO, "Received %s, stopping.",
				    sig == SIGINT ? "SIGINT" : "SIGTERM");
			srv->stopping = 1;
			/* First: its thread reads the notifier and the
			 * registry, which go below. */
			mps_admin_stop(srv->admin);
			/* Forwarded consoles first (a link may still hand a
			 * console's socket to its pipe). */
			(void)mps_peer_links_shutdown(srv->peer_links,
			    apr_time_from_sec(1));
			/* Consoles and tunnels close while the poller still
			 * runs, so that devices get their DISCONNECT. */
			if (srv->consoles_started)
				(void)mps_console_side_shutdown(&srv->consoles,
				    apr_time_from_sec(1));
			if (srv->amt_started) {
				unsigned left = mps_amt_side_shutdown(&srv->amt,
				    SHUTDOWN_GRACE);
				if (left > 0)
					mps_log(MPS_LOG_WARNING, "%u tunnel(s) did "
					    "not close in time", left);
				/* Their DISCONNECTED events are queued; the
				 * notifier delivers what is in flight within
				 * its bound, and logs what it drops. A tunnel
				 * still open might yet use it: then it stays. */
				if (srv->notifier != NULL && left == 0) {
					srv->amt.notifier = NULL;
					mps_notifier_destroy(srv->notifier);
					srv->notifier = NULL;
				}
			}
			if (srv->poller != NULL)
				mps_poller_stop(srv->poller);
			break;
		}
	}
	return NULL;
}

static int
io_threads(const mps_config_t *cfg)
{
	long n;

	if (cfg->worker_threads > 0)
		return cfg->worker_threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 2;
}

/*
 * A lane per kind of blocking work, so that a backend that hangs holds
 * only its own lane's threads: device logins, console logins,
 * notifications, and the rest (DNS, outbound connects, configuration
 * checks). The login lanes are bounded: AuthQueueLength waiting, each
 * for AuthQueueTimeout at most.
 */
static const mps_workers_options_t *
workers_options(const mps_config_t *cfg, mps_workers_options_t *o)
{
	mps_workers_options_init(o, io_threads(cfg), cfg->blocking_threads);
	o->lanes[MPS_LANE_DEVICE_AUTH].threads = cfg->device_auth_threads;
	o->lanes[MPS_LANE_CONSOLE_AUTH].threads = cfg->console_auth_threads;
	o->lanes[MPS_LANE_NOTIFY].threads = cfg->notification_threads;
	o->lanes[MPS_LANE_DEVICE_AUTH].queue_max =
	    o->lanes[MPS_LANE_CONSOLE_AUTH].queue_max =
	    (apr_size_t)cfg->auth_queue_length;
	o->lanes[MPS_LANE_DEVICE_AUTH].queue_timeout =
	    o->lanes[MPS_LANE_CONSOLE_AUTH].queue_timeout =
	    cfg->auth_queue_timeout;
	return o;
}

/* Longest Redis password accepted (Redis itself has no limit; ACL
 * passwords are usually 32-64 random characters). */
#define REDIS_PASSWORD_MAX 512

static void
wipe_free(char *s)
{
	volatile char *p = s;

	if (s == NULL)
		return;
	while (*p != '\0')
		*p++ = '\0';
	free(s);
}

/*
 * <RedisPasswordFile>: one line, the password. Refused when others may
 * read it, as the admin token is. The password is never logged.
 */
static apr_status_t
read_redis_password(mps_server_t *srv, char *err, size_t errsize)
{
	const char *path = mps_config_resolve(srv->config_dir,
	    srv->cfg->directory_redis_password_file, srv->pool);
	char buf[REDIS_PASSWORD_MAX + 2];
	struct stat st;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errsize, "cannot read the Redis password file "
		    "%s: %s", path, strerror(errno));
		return APR_FROM_OS_ERROR(errno);
	}
	if (fstat(fileno(f), &st) == 0 &&
	    (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		fclose(f);
		snprintf(err, errsize, "the Redis password file %s may be read "
		    "or written by others (mode %03o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		return APR_EACCES;
	}
	if (fgets(buf, (int)sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0 || n > REDIS_PASSWORD_MAX) {
		memset(buf, 0, sizeof(buf));
		snprintf(err, errsize, "the Redis password file %s must hold "
		    "one line of 1 to %d characters", path, REDIS_PASSWORD_MAX);
		return APR_EINVAL;
	}
	wipe_free(srv->redis_password);
	srv->redis_password = strdup(buf);
	memset(buf, 0, sizeof(buf));
	return srv->redis_password != NULL ? APR_SUCCESS : APR_ENOMEM;
}

/*
 * Another instance took one of our devices over (directory thread):
 * close our tunnel of it, as a reconnect on this instance would (reason
 * 11), unless that tunnel is already gone or replaced here.
 */
static void
directory_takeover(void *arg, const char *uuid, const void *token,
    const char *instance)
{
	mps_server_t *srv = arg;
	mps_device_t *dev = NULL;
	char why[160], name[MPS_DEVICE_LOG_NAME_SIZE];

	if (srv->stopping || srv->registry == NULL ||
	    mps_registry_lookup(srv->registry, uuid, &dev) != APR_SUCCESS)
		return;
	if (dev == token && strcmp(mps_device_uuid(dev), uuid) == 0) {
		snprintf(why, sizeof(why), "replaced by a newer tunnel of the "
		    "same device on instance %s", instance[0] != '\0' ?
		    instance : "(unknown)");
		mps_log(MPS_LOG_INFO, "Intel remote client %s reconnected to "
		    "instance %s: its tunnel here is closed (newest wins)",
		    mps_device_log_name(dev, name, sizeof(name)), instance[0] != '\0' ? instance : "(unknown)");
		mps_session_request_handover(mps_device_session(dev), why);
	}
	mps_device_release(dev);
}

static apr_status_t
start_directory(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	mps_directory_options_t opt;
	char host[256], buf[128];
	apr_status_t rv;

	mps_directory_options_init(&opt);
	opt.backend = cfg->directory_backend == MPS_DIRECTORY_BACKEND_REDIS ?
	    MPS_DIRECTORY_REDIS : MPS_DIRECTORY_LOCAL;
	opt.instance_id = cfg->directory_instance_id;
	if (opt.instance_id == NULL) {
		/* The default: this host's name, cut to a valid id. */
		if (gethostname(host, sizeof(host)) != 0)
			host[0] = '\0';
		host[sizeof(host) - 1] = '\0';
		host[strcspn(host, " \t\r\n")] = '\0';
		if (strlen(host) > MPS_DIRECTORY_INSTANCE_MAX)
			host[MPS_DIRECTORY_INSTANCE_MAX] = '\0';
		opt.instance_id = host[0] != '\0' ? host : "mpsd";
	}
	opt.peer_address = cfg->directory_peer_address;
	opt.ttl = cfg->directory_ttl;
	opt.redis_host = cfg->directory_redis_host;
	opt.redis_port = cfg->directory_redis_port;
	opt.redis_username = cfg->directory_redis_username;
	opt.redis_password = srv->redis_password;
	opt.timeout = cfg->directory_redis_timeout;
	opt.on_takeover = directory_takeover;
	opt.takeover_arg = srv;
	rv = mps_directory_create(&srv->directory, &opt);
	/* The directory keeps its own copy. */
	wipe_free(srv->redis_password);
	srv->redis_password = NULL;
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start the device directory "
		    "(%s backend, instance %s): %s", opt.backend ==
		    MPS_DIRECTORY_REDIS ? "redis" : "local", opt.instance_id,
		    mps_strerror(rv, buf, sizeof(buf)));
		return rv;
	}
	if (opt.backend == MPS_DIRECTORY_REDIS)
		mps_log(MPS_LOG_INFO, "Device directory: Redis at %s:%u as "
		    "instance %s (TTL %" APR_TIME_T_FMT " s)", opt.redis_host,
		    (unsigned)opt.redis_port, opt.instance_id,
		    apr_time_sec(opt.ttl));
	return APR_SUCCESS;
}

apr_status_t
mps_server_bind(mps_server_t *srv, int bind_ports, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	mps_tls_settings_t ts;
	apr_status_t rv;

	if (cfg->tls_mode == MPS_TLS_MODE_TLS) {
		mps_tls_settings_from_config(&ts, cfg);
		rv = mps_tls_ctx_create(&srv->tls, &ts, err, errsize);
		if (rv != APR_SUCCESS)
			return rv;
		/* Generation 1 holds its own reference: a reload may retire
		 * it while srv->tls (kept for the start-up log) lives on. */
		if (first_live(srv) == NULL) {
			snprintf(err, errsize, "out of memory");
			return APR_ENOMEM;
		}
		if (srv->first_live->tls == NULL) {
			SSL_CTX_up_ref(srv->tls);
			srv->first_live->tls = srv->tls;
		}
	}
	/* The token and Redis password files are read here, as root, like
	 * the TLS key. */
	if (cfg->directory_backend == MPS_DIRECTORY_BACKEND_REDIS &&
	    cfg->directory_redis_password_file != NULL) {
		rv = read_redis_password(srv, err, errsize);
		if (rv != APR_SUCCESS)
			return rv;
	}
	rv = mps_admin_bind(&srv->admin, cfg, srv->config_dir, bind_ports, err,
	    errsize);
	if (rv != APR_SUCCESS || !bind_ports)
		return rv;
	rv = mps_listener_bind(&srv->amt_listener, "AMT", cfg->amt_listen_ip,
	    cfg->amt_listen_port, err, errsize);
	if (rv == APR_SUCCESS)
		rv = mps_listener_bind(&srv->socks_listener, "SOCKS",
		    cfg->socks_listen_ip, cfg->socks_listen_port, err, errsize);
	if (rv == APR_SUCCESS)
		rv = mps_listener_bind(&srv->http_listener, "HTTP proxy",
		    cfg->http_listen_ip, cfg->http_listen_port, err, errsize);
	if (rv == APR_SUCCESS && cfg->directory_peer_listen_port != 0 &&
	    cfg->directory_backend == MPS_DIRECTORY_BACKEND_REDIS)
		rv = mps_listener_bind(&srv->peer_listener, "peer link",
		    cfg->directory_peer_listen_ip,
		    (apr_port_t)cfg->directory_peer_listen_port, err, errsize);
	return rv;
}

/*
 * The peer link's directory lookup (the blocking lane; may wait up to
 * RedisTimeout): where another instance holds the device.
 */
static apr_status_t
peer_lookup(void *arg, const char *name, char *instance, size_t isize,
    char *address, size_t asize)
{
	mps_server_t *srv = arg;
	mps_dir_record_t rec;
	apr_status_t rv;

	rv = mps_directory_lookup(srv->directory, name, &rec);
	if (rv == APR_EINVAL)
		return APR_NOTFOUND;
	if (rv != APR_SUCCESS)
		return rv;
	if (strcmp(rec.instance, mps_directory_instance(srv->directory)) == 0)
		return APR_EEXIST;
	if (rec.peer_address[0] == '\0')
		return APR_NOTFOUND;	/* an instance without a link */
	snprintf(instance, isize, "%s", rec.instance);
	snprintf(address, asize, "%s", rec.peer_address);
	return APR_SUCCESS;
}

/* The link's TLS contexts and listener, once the directory and the
 * console side are up. */
static apr_status_t
start_peer_link(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	char buf[128];
	apr_status_t rv;

	if (srv->peer_listener == NULL || srv->directory == NULL)
		return APR_SUCCESS;
	rv = mps_peer_links_create(&srv->peer_links, cfg, &srv->consoles,
	    peer_lookup, srv, err, errsize);
	if (rv != APR_SUCCESS)
		return rv;
	rv = mps_listener_start(srv->peer_listener, srv->poller, srv->workers,
	    mps_peer_accept, srv->peer_links);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start the peer link listener: %s",
		    mps_strerror(rv, buf, sizeof(buf)));
		return rv;
	}
	srv->consoles.peer = srv->peer_links;
	mps_log(MPS_LOG_INFO, "Listening for other instances on %s:%u (peer "
	    "link, mutual TLS; reached at %s): consoles for their devices are "
	    "forwarded to them", cfg->directory_peer_listen_ip,
	    (unsigned)mps_listener_port(srv->peer_listener),
	    cfg->directory_peer_address);
	return APR_SUCCESS;
}

static apr_status_t
start_console_side(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	char buf[128];
	apr_status_t rv;

	rv = mps_listener_start(srv->socks_listener, srv->poller, srv->workers,
	    mps_socks_accept, &srv->consoles);
	if (rv == APR_SUCCESS)
		rv = mps_listener_start(srv->http_listener, srv->poller,
		    srv->workers, mps_http_accept, &srv->consoles);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start the console listeners: %s",
		    mps_strerror(rv, buf, sizeof(buf)));
		return rv;
	}
	mps_log(MPS_LOG_INFO, "Listening for management consoles: SOCKSv5 on "
	    "%s:%u, HTTP proxy on %s:%u (%s)", cfg->socks_listen_ip,
	    (unsigned)mps_listener_port(srv->socks_listener), cfg->http_listen_ip,
	    (unsigned)mps_listener_port(srv->http_listener),
	    srv->socks_auth != NULL ? "consoles authenticate" :
	    "no console authentication");
	return APR_SUCCESS;
}

static apr_status_t
start_device_side(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	char buf[256];
	apr_status_t rv;

	rv = mps_registry_create(&srv->registry);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot create the device registry");
		return rv;
	}
	srv->amt.cfg = cfg;
	srv->amt.poller = srv->poller;
	srv->amt.workers = srv->workers;
	srv->amt.registry = srv->registry;
	rv = start_directory(srv, err, errsize);
	if (rv != APR_SUCCESS)
		return rv;
	srv->amt.directory = srv->directory;
	srv->amt.tls = srv->tls;
	srv->amt.auth = srv->amt_auth;
	srv->amt.settings = &srv->live;
	srv->amt.authorized_servers = srv->authorized_servers;
	/* One pre-auth budget for the three listeners (admission.h): the
	 * per-address limit must see an address's AMT, SOCKS and HTTP
	 * sockets together. */
	{
		mps_admission_limits_t lim;

		lim.max = (unsigned)cfg->max_preauth;
		lim.per_address = (unsigned)cfg->max_preauth_per_address;
		lim.drop_start = (unsigned)cfg->preauth_drop_start;
		lim.drop_rate = (unsigned)cfg->preauth_drop_rate;
		srv->admission = mps_admission_create(&lim);
		if (srv->admission == NULL) {
			snprintf(err, errsize, "cannot set up the pre-auth "
			    "budget: out of memory");
			return APR_ENOMEM;
		}
	}
	srv->amt.admission = srv->admission;
	/* The device handshakes worked on at once: a login storm waits in
	 * its sockets instead of starting every handshake together. */
	if (srv->tls != NULL) {
		rv = mps_gate_create(&srv->handshakes,
		    (unsigned)cfg->max_handshakes);
		if (rv != APR_SUCCESS) {
			snprintf(err, errsize, "cannot set up MaxHandshakes: "
			    "out of memory");
			return rv;
		}
		srv->amt.handshakes = srv->handshakes;
	}
	/* The console side's shared state first: a device may open a
	 * direct-tcpip channel as soon as it is connected. */
	srv->consoles.cfg = cfg;
	srv->consoles.poller = srv->poller;
	srv->consoles.workers = srv->workers;
	srv->consoles.registry = srv->registry;
	srv->consoles.auth = srv->socks_auth;
	srv->consoles.settings = &srv->live;
	srv->consoles.admission = srv->admission;
	rv = mps_console_side_init(&srv->consoles);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot set up the console side");
		return rv;
	}
	srv->consoles_started = 1;
	/* The channel layer over the tunnels, with device-opened channels
	 * from the outbound module. */
	srv->amt.channel_ops = mps_relay_tunnel_ops;
	srv->amt.channel_ops.on_device_open = mps_direct_tcpip_open;
	rv = mps_udp_relay_create(&srv->udp, srv->workers);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot set up the alert relay: %s",
		    mps_strerror(rv, buf, sizeof(buf)));
		return rv;
	}
	srv->amt.udp = srv->udp;
	if (srv->notify != NULL) {
		rv = start_notifier(srv, err, errsize);
		if (rv != APR_SUCCESS)
			return rv;
		srv->amt.notifier = srv->notifier;
	}
	rv = mps_amt_side_init(&srv->amt);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot set up the device side");
		return rv;
	}
	srv->amt_started = 1;
	rv = mps_listener_start(srv->amt_listener, srv->poller, srv->workers,
	    mps_amt_accept, &srv->amt);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start the AMT listener: %s",
		    mps_strerror(rv, buf, sizeof(buf)));
		return rv;
	}
	if (srv->tls != NULL) {
		mps_log(MPS_LOG_INFO, "%s", mps_tls_profile_describe(cfg->tls_profile));
		mps_log(MPS_LOG_INFO, "Server certificate: %s",
		    mps_tls_ctx_describe_cert(srv->tls, buf, sizeof(buf)));
		mps_log(MPS_LOG_INFO, "%s",
		    mps_tls_verify_client_describe(cfg->tls_verify_client));
	}
	mps_log(MPS_LOG_INFO, "Listening for Intel AMT devices on %s:%u (%s), "
	    "MaxConnections %d", cfg->amt_listen_ip,
	    (unsigned)mps_listener_port(srv->amt_listener),
	    srv->tls != NULL ? "TLS" : "plain TCP behind a TLS terminator",
	    cfg->max_connections);
	mps_log(MPS_LOG_INFO, "Unauthenticated connections: at most %d, %d "
	    "per address, random drop from %d at %d%%, %ld s to log in; "
	    "MaxConsoles %d", cfg->max_preauth, cfg->max_preauth_per_address,
	    cfg->preauth_drop_start, cfg->preauth_drop_rate,
	    (long)apr_time_sec(cfg->preauth_timeout), cfg->max_consoles);
	if (srv->handshakes != NULL)
		mps_log(MPS_LOG_INFO, "Device TLS handshakes: at most %d at "
		    "once (MaxHandshakes); more wait in arrival order",
		    cfg->max_handshakes);
	return APR_SUCCESS;
}

/* The admin API starts once everything it reports on exists. */
static apr_status_t
start_admin(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	mps_admin_source_t src;

	if (srv->admin == NULL)
		return APR_SUCCESS;
	memset(&src, 0, sizeof(src));
	src.cfg = cfg;
	src.registry = srv->registry;
	src.notifier = srv->notifier;
	src.subscribers = srv->subscribers;
	src.connections = srv->amt_started ? &srv->amt.active : NULL;
	src.started = srv->started;
	src.reload = admin_reload;
	src.reload_arg = srv;
	src.directory = srv->directory;
	if (srv->amt_listener != NULL)
		src.listeners[src.nlisteners++] = (mps_admin_listener_t){ "amt",
		    cfg->amt_listen_ip, mps_listener_port(srv->amt_listener),
		    srv->tls != NULL ? "tls" : "tcp" };
	if (srv->socks_listener != NULL)
		src.listeners[src.nlisteners++] = (mps_admin_listener_t){ "socks",
		    cfg->socks_listen_ip, mps_listener_port(srv->socks_listener),
		    "socks5" };
	if (srv->http_listener != NULL)
		src.listeners[src.nlisteners++] = (mps_admin_listener_t){ "http",
		    cfg->http_listen_ip, mps_listener_port(srv->http_listener),
		    "http-proxy" };
	/* Copies: a reload retires the instances (DllName, hence the path,
	 * changes only with a restart). Before 0e9334c the admin thread read
	 * a retired instance's freed path (a segfault in strlen). The
	 * notifier is never reloaded today; it is copied all the same, so
	 * that no pointer the admin thread holds depends on a plugin. */
	src.plugins[src.nplugins++] = (mps_admin_plugin_t){ "device_auth",
	    srv->amt_auth != NULL ? apr_pstrdup(srv->pool,
	    mps_plugin_path(srv->amt_auth->plugin)) : NULL };
	src.plugins[src.nplugins++] = (mps_admin_plugin_t){ "console_auth",
	    srv->socks_auth != NULL ? apr_pstrdup(srv->pool,
	    mps_plugin_path(srv->socks_auth->plugin)) : NULL };
	src.plugins[src.nplugins++] = (mps_admin_plugin_t){ "notifier",
	    srv->notify_plugin != NULL ? apr_pstrdup(srv->pool,
	    mps_plugin_path(srv->notify_plugin)) : NULL };
	return mps_admin_start(srv->admin, &src, err, errsize);
}

apr_status_t
mps_server_start(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	mps_workers_options_t wopt;
	apr_status_t rv;
	char msg[256];

	mps_workers_on_thread_end(mps_tls_thread_end);
	rv = mps_workers_create_ex(&srv->workers, workers_options(cfg, &wopt),
	    srv->pool);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start worker threads: %s",
		    mps_strerror(rv, msg, sizeof(msg)));
		return rv;
	}
	/* Room for every device tunnel, console (and its device-opened
	 * twin), unauthenticated connection and listener. */
	rv = mps_poller_create(&srv->poller,
	    (apr_uint32_t)cfg->max_connections * 2 +
	    (apr_uint32_t)cfg->max_consoles * 2 +
	    (apr_uint32_t)cfg->max_preauth + 64, srv->workers, srv->pool);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot create the poller: %s",
		    mps_strerror(rv, msg, sizeof(msg)));
		return rv;
	}
	/* Generation 1 goes live before any listener starts. */
	if (first_live(srv) == NULL) {
		snprintf(err, errsize, "out of memory");
		return APR_ENOMEM;
	}
	srv->first_live->authorized_servers = srv->authorized_servers;
	srv->live.retire = retire_live;
	srv->live.retire_arg = srv;
	apr_pool_cleanup_kill(srv->pool, srv, first_live_cleanup);
	mps_live_publish(&srv->live, srv->first_live);
	srv->first_live = NULL;
	mps_timer_init(&srv->dynamic_timer, NULL, dynamic_timer_fired, srv);
	if (cfg->dynamic_config_check_interval > 0)
		mps_timer_arm(mps_poller_timers(srv->poller),
		    &srv->dynamic_timer, cfg->dynamic_config_check_interval);
	mps_timer_init(&srv->trim_timer, NULL, trim_timer_fired, srv);
	(void)mps_timer_arm(mps_poller_timers(srv->poller), &srv->trim_timer,
	    TRIM_INTERVAL);
	srv->started = apr_time_now();
	/* So that the plugin latency histogram can tell the sides apart. */
	mps_metrics_auth_plugin_side(srv->amt_auth, MPS_AUTH_SIDE_DEVICE);
	mps_metrics_auth_plugin_side(srv->socks_auth, MPS_AUTH_SIDE_CONSOLE);
	if (srv->amt_listener != NULL) {
		rv = start_device_side(srv, err, errsize);
		if (rv != APR_SUCCESS)
			return rv;
	}
	if (srv->socks_listener != NULL && srv->http_listener != NULL) {
		rv = start_console_side(srv, err, errsize);
		if (rv != APR_SUCCESS)
			return rv;
		rv = start_peer_link(srv, err, errsize);
		if (rv != APR_SUCCESS)
			return rv;
	}
	rv = start_admin(srv, err, errsize);
	if (rv != APR_SUCCESS)
		return rv;
	/*
	 * The signal thread last: it reads what start-up wrote (the
	 * registry, the sides, the notifier, the admin listener), and
	 * pthread_create() is what orders those writes before its reads.
	 * Nothing is lost meanwhile: the signals are blocked in every
	 * thread (mps_server_block_signals), so one sent during start-up
	 * stays pending until sigwait() takes it here.
	 */
	if (pthread_create(&srv->signal_thread, NULL, signal_thread_main,
	    srv) != 0) {
		snprintf(err, errsize, "cannot start the signal thread");
		return APR_EGENERAL;
	}
	srv->signal_thread_started = 1;
	return APR_SUCCESS;
}

apr_status_t
mps_server_run(mps_server_t *srv)
{
	if (srv->stopping)
		return APR_SUCCESS;
	return mps_poller_run(srv->poller);
}

void
mps_server_shutdown(mps_server_t *srv)
{
	srv->stopping = 1;
	if (srv->poller != NULL) {
		mps_timer_cancel(mps_poller_timers(srv->poller),
		    &srv->dynamic_timer);
		mps_timer_cancel(mps_poller_timers(srv->poller),
		    &srv->trim_timer);
	}
	if (srv->signal_thread_started) {
		/* Wakes sigwait if the stop came from elsewhere. */
		pthread_kill(srv->signal_thread, SIGTERM);
		pthread_join(srv->signal_thread, NULL);
		srv->signal_thread_started = 0;
	}
	/* After the signal thread (which may be stopping it too), before
	 * anything the admin thread reads goes. */
	mps_admin_destroy(srv->admin);
	srv->admin = NULL;
	if (srv->notifier != NULL && !srv->amt_started) {
		mps_notifier_destroy(srv->notifier);
		srv->notifier = NULL;
	}
	/* Links end on their strands: while the workers run. One still
	 * waiting for the directory is left (and the links' state). */
	if (mps_peer_links_shutdown(srv->peer_links, apr_time_from_sec(2)) ==
	    0) {
		srv->consoles.peer = NULL;
		mps_peer_links_destroy(srv->peer_links);
		srv->peer_links = NULL;
	}
	if (srv->workers != NULL) {
		mps_workers_destroy(srv->workers);
		srv->workers = NULL;
	}
	/* No login or handshake runs any more: the settings in force go
	 * here (their plugins' mps_plugin_fini), on this thread. */
	srv->live.retire = NULL;
	mps_live_publish(&srv->live, NULL);
	/* Nothing runs any more: the device side can go. */
	mps_listener_destroy(srv->amt_listener);
	srv->amt_listener = NULL;
	mps_listener_destroy(srv->socks_listener);
	srv->socks_listener = NULL;
	mps_listener_destroy(srv->http_listener);
	srv->http_listener = NULL;
	mps_listener_destroy(srv->peer_listener);
	srv->peer_listener = NULL;
	if (srv->consoles_started) {
		mps_console_side_destroy(&srv->consoles);
		srv->consoles_started = 0;
	}
	if (srv->udp != NULL) {
		mps_udp_relay_destroy(srv->udp);
		srv->udp = NULL;
	}
	if (srv->amt_started) {
		mps_amt_side_destroy(&srv->amt);
		srv->amt_started = 0;
	}
	mps_admission_destroy(srv->admission);
	srv->admission = NULL;
	mps_gate_destroy(srv->handshakes);
	srv->handshakes = NULL;
	/* After the workers (no tunnel records or removes any more), before
	 * the registry (its takeover callback looks there). The removals of
	 * the tunnels just closed get a moment to reach Redis, so that a
	 * stopping instance leaves no records behind; an instance that dies
	 * leaves them to expire. */
	if (srv->directory != NULL) {
		(void)mps_directory_flush(srv->directory, apr_time_from_sec(1));
		mps_directory_destroy(srv->directory);
		srv->directory = NULL;
		srv->amt.directory = NULL;
	}
	wipe_free(srv->redis_password);
	srv->redis_password = NULL;
	if (srv->registry != NULL) {
		mps_registry_destroy(srv->registry);
		srv->registry = NULL;
	}
	if (srv->tls != NULL) {
		SSL_CTX_free(srv->tls);
		srv->tls = NULL;
	}
}
