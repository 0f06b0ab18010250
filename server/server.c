/* SPDX-License-Identifier: Apache-2.0 */
/* server.c: see server.h. */
#include "server.h"
#include "admin.h"
#include "apf_codec.h"
#include "channel_relay.h"
#include "direct_tcpip.h"
#include "notify.h"
#include "udp_relay.h"

#include <errno.h>
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
	return srv;
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

	if (mps_dynamic_config_load(&srv->trace_levels, srv->dynamic_path,
	    errs, srv->pool) != APR_SUCCESS)
		*dynamic_failed = 1;
	else if (stat(srv->dynamic_path, &srv->dynamic_stat) != 0)
		memset(&srv->dynamic_stat, 0, sizeof(srv->dynamic_stat));

	before = mps_config_error_count(errs);
	(void)mps_notification_list_load(&srv->subscribers,
	    srv->notification_list_path, errs, srv->pool);
	(void)mps_authorized_servers_load(&srv->authorized_servers,
	    srv->authorized_servers_path, errs, srv->pool);
	if (mps_config_error_count(errs) > before)
		*static_failed = 1;

	return (*static_failed || *dynamic_failed) ? MPS_ERR_CONFIG : APR_SUCCESS;
}

apr_status_t
mps_server_load_plugins(mps_server_t *srv, const char **role, char *err,
    size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	apr_status_t rv;

	*role = NULL;
	if (cfg->amt_auth.need_authentication) {
		rv = mps_auth_plugin_load(&srv->amt_auth, cfg->amt_auth.dll_name,
		    cfg->plugin_dir, cfg->amt_auth.dll_parameters, err, errsize,
		    srv->pool);
		if (rv != APR_SUCCESS) {
			*role = "AMT";
			return rv;
		}
	}
	if (cfg->socks_auth.need_authentication) {
		rv = mps_auth_plugin_load(&srv->socks_auth,
		    cfg->socks_auth.dll_name, cfg->plugin_dir,
		    cfg->socks_auth.dll_parameters, err, errsize, srv->pool);
		if (rv != APR_SUCCESS) {
			*role = "Socks";
			return rv;
		}
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
	char why[160];

	(void)arg;
	if (!mps_device_is_registered(dev))
		return;
	snprintf(why, sizeof(why), "subscriber %s answered KeepConnection "
	    "false", url);
	mps_log(MPS_LOG_INFO, "Intel remote client %s: %s: disconnecting",
	    mps_device_uuid(dev), why);
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
		mps_log_format_time(mps_device_connected_at(d), since, sizeof(since));
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
			    "rereading %s", srv->dynamic_path);
			mps_server_reload_dynamic(srv, "SIGHUP");
			break;
		default:
			if (!srv->stopping)
				mps_log(MPS_LOG_INFO, "Received %s, stopping.",
				    sig == SIGINT ? "SIGINT" : "SIGTERM");
			srv->stopping = 1;
			/* First: its thread reads the notifier and the
			 * registry, which go below. */
			mps_admin_stop(srv->admin);
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
	}
	/* The token file is read here, as root, like the TLS key. */
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
	return rv;
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
	srv->amt.tls = srv->tls;
	srv->amt.auth = srv->amt_auth;
	srv->amt.authorized_servers = srv->authorized_servers;
	/* The console side's shared state first: a device may open a
	 * direct-tcpip channel as soon as it is connected. */
	srv->consoles.cfg = cfg;
	srv->consoles.poller = srv->poller;
	srv->consoles.workers = srv->workers;
	srv->consoles.registry = srv->registry;
	srv->consoles.auth = srv->socks_auth;
	srv->consoles.connections = &srv->amt.active;
	rv = mps_console_side_init(&srv->consoles);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot set up the console side");
		return rv;
	}
	srv->consoles_started = 1;
	srv->amt.consoles = &srv->consoles;
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
	src.plugins[src.nplugins++] = (mps_admin_plugin_t){ "device_auth",
	    srv->amt_auth != NULL ? mps_plugin_path(srv->amt_auth->plugin) : NULL };
	src.plugins[src.nplugins++] = (mps_admin_plugin_t){ "console_auth",
	    srv->socks_auth != NULL ? mps_plugin_path(srv->socks_auth->plugin) :
	    NULL };
	src.plugins[src.nplugins++] = (mps_admin_plugin_t){ "notifier",
	    srv->notify_plugin != NULL ? mps_plugin_path(srv->notify_plugin) :
	    NULL };
	return mps_admin_start(srv->admin, &src, err, errsize);
}

apr_status_t
mps_server_start(mps_server_t *srv, char *err, size_t errsize)
{
	const mps_config_t *cfg = srv->cfg;
	apr_status_t rv;
	char msg[256];

	rv = mps_workers_create(&srv->workers, io_threads(cfg),
	    cfg->blocking_threads, srv->pool);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot start worker threads: %s",
		    mps_strerror(rv, msg, sizeof(msg)));
		return rv;
	}
	/* Room for every device tunnel plus consoles and listeners. */
	rv = mps_poller_create(&srv->poller,
	    (apr_uint32_t)cfg->max_connections * 4 + 64, srv->workers, srv->pool);
	if (rv != APR_SUCCESS) {
		snprintf(err, errsize, "cannot create the poller: %s",
		    mps_strerror(rv, msg, sizeof(msg)));
		return rv;
	}
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
	if (srv->workers != NULL) {
		mps_workers_destroy(srv->workers);
		srv->workers = NULL;
	}
	/* Nothing runs any more: the device side can go. */
	mps_listener_destroy(srv->amt_listener);
	srv->amt_listener = NULL;
	mps_listener_destroy(srv->socks_listener);
	srv->socks_listener = NULL;
	mps_listener_destroy(srv->http_listener);
	srv->http_listener = NULL;
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
	if (srv->registry != NULL) {
		mps_registry_destroy(srv->registry);
		srv->registry = NULL;
	}
	if (srv->tls != NULL) {
		SSL_CTX_free(srv->tls);
		srv->tls = NULL;
	}
}
