/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: mpsd's start-up and shut-down order.
 *
 *  1. command line
 *  2. mps.config, mps_dynamic.config, the list files: every error printed
 *  3. (-t) plugins too, then exit 0 or 1
 *  4. the log file, the instance lock, the plugins
 *  5. the TLS context and the listeners, while still root
 *  6. detach (unless -f), pid file, drop privileges
 *  7. worker lanes, poller, signal thread; "MPS has started its operation."
 *  8. run until SIGTERM; then stop in reverse order
 *
 * The guide's section 10.2 messages are announced to the log and to the
 * console (stderr, or syslog once detached) with their exact texts.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "config.h"
#include "daemon.h"
#include "instance_lock.h"
#include "log.h"
#include "mps_status.h"
#include "options.h"
#include "server.h"
#include "sockwrap.h"

#define MSG_STARTED "MPS has started its operation."
#define MSG_TWO_INSTANCES "Attempt to run two instances of the MPS process simultaneously - second attempt discarded."
#define MSG_AMT_DLL "Failed loading AMT authentication dll."
#define MSG_SOCKS_DLL "Failed loading Socks authentication dll."
#define MSG_NOTIFY_DLL "Failed loading notification dll."

/* The guide's message for the plugin role that failed to load. */
static const char *
dll_message(const char *role)
{
	if (strcmp(role, "AMT") == 0)
		return MSG_AMT_DLL;
	if (strcmp(role, "Socks") == 0)
		return MSG_SOCKS_DLL;
	return MSG_NOTIFY_DLL;
}
#define MSG_DYNAMIC "Error while reading dynamic configuration file."
#define MSG_STATIC "Error while reading static configuration file."

static void
print_problems(const mps_config_errors_t *errs)
{
	int i;

	for (i = 0; i < errs->errors->nelts; i++)
		fprintf(stderr, "mpsd: %s\n",
		    APR_ARRAY_IDX(errs->errors, i, const char *));
	for (i = 0; i < errs->warnings->nelts; i++)
		fprintf(stderr, "mpsd: warning: %s\n",
		    APR_ARRAY_IDX(errs->warnings, i, const char *));
}

/* Once the log is open, the same problems go there too. */
static void
log_problems(const mps_config_errors_t *errs)
{
	int i;

	for (i = 0; i < errs->errors->nelts; i++)
		mps_log(MPS_LOG_ERROR, "%s",
		    APR_ARRAY_IDX(errs->errors, i, const char *));
	for (i = 0; i < errs->warnings->nelts; i++)
		mps_log(MPS_LOG_WARNING, "%s",
		    APR_ARRAY_IDX(errs->warnings, i, const char *));
}

static apr_status_t
open_log(const mps_server_t *srv, mps_logger_t **logger)
{
	const mps_config_t *cfg = srv->cfg;
	mps_log_options_t lo;
	apr_status_t rv;
	char msg[256];

	memset(&lo, 0, sizeof(lo));
	lo.dir = cfg->log_file_path;
	lo.file_name = cfg->log_file_name;
	lo.heading = cfg->heading;
	lo.max_size_kb = cfg->log_file_max_size_kb;
	lo.max_files = cfg->log_file_max_files;
	lo.levels = srv->trace_levels;
	rv = mps_logger_open(logger, &lo);
	if (rv != APR_SUCCESS)
		fprintf(stderr, "mpsd: cannot open log file %s/%s: %s\n",
		    cfg->log_file_path, cfg->log_file_name,
		    mps_strerror(rv, msg, sizeof(msg)));
	return rv;
}

/* mpsd -t: everything a start would check, without starting. */
static int
check_only(mps_server_t *srv, const char *path)
{
	const char *role;
	char err[MPS_PLUGIN_ERROR_SIZE + 256];

	if (chdir(srv->config_dir) != 0) {
		fprintf(stderr, "mpsd: cannot enter %s: %s\n", srv->config_dir,
		    strerror(errno));
		return 1;
	}
	if (mps_server_load_plugins(srv, &role, err, sizeof(err)) !=
	    APR_SUCCESS) {
		fprintf(stderr, "mpsd: %s\nmpsd: %s\n",
		    dll_message(role), err);
		return 1;
	}
	if (mps_server_bind(srv, 0, err, sizeof(err)) != APR_SUCCESS) {
		fprintf(stderr, "mpsd: %s: <TLS>: %s\n", path, err);
		return 1;
	}
	mps_server_shutdown(srv);	/* frees the TLS context */
	if (srv->cfg->user != NULL || srv->cfg->group != NULL) {
		uid_t uid;
		gid_t gid;
		if (mps_lookup_identity(srv->cfg->user, srv->cfg->group, &uid,
		    &gid, err, sizeof(err)) != APR_SUCCESS) {
			fprintf(stderr, "mpsd: %s: <Process>: %s\n", path, err);
			return 1;
		}
	}
	printf("mpsd: configuration %s is OK\n", path);
	return 0;
}

/*
 * Every tunnel is a descriptor: take the whole hard limit, and say so when
 * even that cannot hold MaxConnections devices plus their consoles.
 */
static void
raise_fd_limit(const mps_config_t *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections * 2 + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		mps_log(MPS_LOG_WARNING, "open file limit %llu is low for "
		    "MaxConnections %d (want at least %llu): raise LimitNOFILE "
		    "or ulimit -n", (unsigned long long)rl.rlim_cur,
		    cfg->max_connections, (unsigned long long)want);
}

static void
log_summary(const mps_server_t *srv)
{
	const mps_config_t *cfg = srv->cfg;

	mps_log(MPS_LOG_INFO, "Configuration %s", cfg->path);
	mps_log(MPS_LOG_INFO, "AMT authentication: %s",
	    srv->amt_auth ? mps_plugin_path(srv->amt_auth->plugin) : "off");
	mps_log(MPS_LOG_INFO, "Socks authentication: %s",
	    srv->socks_auth ? mps_plugin_path(srv->socks_auth->plugin) : "off");
	mps_log(MPS_LOG_INFO, "%d notification subscriber(s), %d authorized "
	    "server(s), filtering %s", srv->subscribers->nelts,
	    srv->authorized_servers->nelts,
	    cfg->filter_unauthorized_servers ? "on" : "off");
}

int
main(int argc, char *argv[])
{
	mps_options_t opts;
	apr_pool_t *pool;
	mps_server_t *srv;
	mps_config_errors_t *errs;
	mps_logger_t *logger = NULL;
	int static_failed, dynamic_failed;
	int lock_fd = -1, ready_fd = -1, status = 1, pidfile_written = 0;
	const char *role;
	char err[MPS_PLUGIN_ERROR_SIZE + 256];
	apr_status_t rv;

	if (mps_options_parse(&opts, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "mpsd: %s\n", err);
		mps_options_usage(stderr);
		return 2;
	}
	if (opts.show_help) {
		mps_options_usage(stdout);
		return 0;
	}
	if (opts.show_version) {
		printf("mpsd %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (apr_initialize() != APR_SUCCESS) {
		fprintf(stderr, "mpsd: cannot initialise APR\n");
		return 1;
	}
	atexit(apr_terminate);
	if (apr_pool_create(&pool, NULL) != APR_SUCCESS)
		return 1;
	mps_log_set_console(MPS_LOG_CONSOLE_STDERR);

	srv = mps_server_create(pool);
	errs = mps_config_errors_create(pool);
	rv = mps_server_load_config(srv, opts.config_path, errs,
	    &static_failed, &dynamic_failed);
	print_problems(errs);
	if (rv != APR_SUCCESS) {
		if (static_failed)
			mps_log_announce(MPS_LOG_ERROR, MSG_STATIC);
		if (dynamic_failed)
			mps_log_announce(MPS_LOG_ERROR, MSG_DYNAMIC);
		return 1;
	}
	if (opts.test_only)
		return check_only(srv, opts.config_path);

	/* Relative paths everywhere (log, plugins, certificates, the
	 * plugins' own DllParameters) are relative to mps.config. */
	if (chdir(srv->config_dir) != 0) {
		fprintf(stderr, "mpsd: cannot enter %s: %s\n", srv->config_dir,
		    strerror(errno));
		return 1;
	}
	if (open_log(srv, &logger) != APR_SUCCESS)
		return 1;
	mps_log_set_default(logger);
	log_problems(errs);

	rv = mps_instance_lock_acquire(srv->cfg->lock_file, &lock_fd, err,
	    sizeof(err));
	if (rv != APR_SUCCESS) {
		if (rv == MPS_ERR_ALREADY_RUNNING)
			mps_log_announce(MPS_LOG_ERROR, MSG_TWO_INSTANCES);
		else
			mps_log_announce(MPS_LOG_ERROR, "%s", err);
		goto out;
	}

	if (mps_server_load_plugins(srv, &role, err, sizeof(err)) !=
	    APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "%s",
		    dll_message(role));
		mps_log_announce(MPS_LOG_ERROR, "%s", err);
		goto out;
	}

	/* Ports are bound while still root and still attached, so that a
	 * busy port or a bad certificate is reported where it is seen. */
	if (mps_server_bind(srv, 1, err, sizeof(err)) != APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "%s", err);
		goto out;
	}

	if (!opts.foreground) {
		if (mps_daemonize(&ready_fd, err, sizeof(err)) != APR_SUCCESS) {
			mps_log_announce(MPS_LOG_ERROR, "cannot detach: %s", err);
			goto out;
		}
		mps_log_set_console(MPS_LOG_CONSOLE_SYSLOG);
		if (mps_pidfile_write(srv->cfg->pid_file, err, sizeof(err)) !=
		    APR_SUCCESS) {
			mps_log_announce(MPS_LOG_ERROR, "%s", err);
			goto out;
		}
		pidfile_written = 1;
	}
	if (mps_drop_privileges(srv->cfg->user, srv->cfg->group, err,
	    sizeof(err)) != APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "cannot drop privileges: %s", err);
		goto out;
	}

	mps_server_block_signals();
	raise_fd_limit(srv->cfg);
	if (mps_server_start(srv, err, sizeof(err)) != APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "%s", err);
		goto out;
	}
	log_summary(srv);
	mps_log_announce(MPS_LOG_INFO, MSG_STARTED);
	mps_daemon_ready(ready_fd, 0);
	ready_fd = -1;

	rv = mps_server_run(srv);
	status = 0;
	if (rv != APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "poller stopped: %s",
		    mps_strerror(rv, err, sizeof(err)));
		status = 1;
	}
	mps_server_shutdown(srv);
	mps_log_announce(MPS_LOG_INFO, "MPS has stopped its operation.");

out:
	mps_server_shutdown(srv);
	mps_daemon_ready(ready_fd, status);
	if (pidfile_written)
		mps_pidfile_remove(srv->cfg->pid_file);
	mps_instance_lock_release(lock_fd);
	/* Plugins' fini and dlclose run from the pool's cleanups. */
	apr_pool_destroy(pool);
	mps_sockwrap_cleanup();
	mps_log_set_default(NULL);
	mps_logger_close(logger);
	return status;
}
