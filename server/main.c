/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: mpsd's start-up and shut-down order.
 *
 *  1. command line; stray signals ignored (never a silent death)
 *  2. mps.config, mps_dynamic.config, the list files: every error printed
 *  3. (-t) every other check too (config_check.c), then exit 0 or 1
 *  4. the files needed after the drop, checked as <Process><User>, and
 *     the safety checks (demo passwords): every problem printed
 *  5. missing log/pid/lock directories made (owned by that user)
 *  6. the log file (handed to that user), the instance lock, the plugins
 *  7. the TLS context and the listeners, while still root
 *  8. detach (unless -f), pid file (in both modes), drop privileges
 *  9. worker lanes, poller, signal thread; "MPS has started its operation."
 *     and, under systemd, READY=1
 * 10. run until SIGTERM; then stop in reverse order, the pid file last
 *
 * The guide's section 10.2 messages are announced to the log and to the
 * console (stderr, or syslog once detached) with their exact texts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "config.h"
#include "config_check.h"
#include "daemon.h"
#include "instance_lock.h"
#include "log.h"
#include "mps_status.h"
#include "options.h"
#include "server.h"
#include "service_notify.h"
#include "sockwrap.h"

#define MSG_STARTED "MPS has started its operation."
#define MSG_TWO_INSTANCES "Attempt to run two instances of the MPS process simultaneously - second attempt discarded."
#define MSG_DYNAMIC "Error while reading dynamic configuration file."
#define MSG_STATIC "Error while reading static configuration file."

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

	/* Before the first line: the Heading's file and stderr alike. */
	mps_log_set_time_format(cfg->log_time_format);
	memset(&lo, 0, sizeof(lo));
	lo.dir = cfg->log_file_path;
	lo.file_name = cfg->log_file_name;
	lo.heading = cfg->heading;
	lo.max_size_kb = cfg->log_file_max_size_kb;
	lo.max_files = cfg->log_file_max_files;
	lo.levels = srv->trace_levels;
	lo.to_syslog = cfg->log_target == MPS_LOG_TARGET_SYSLOG;
	rv = mps_logger_open(logger, &lo);
	if (rv != APR_SUCCESS)
		fprintf(stderr, "mpsd: cannot open log file %s/%s: %s\n",
		    cfg->log_file_path, cfg->log_file_name,
		    mps_strerror(rv, msg, sizeof(msg)));
	return rv;
}

/*
 * Signals nobody handles would end mpsd without a word (SIGUSR2's default
 * action is to terminate). The signal thread owns TERM, INT, HUP and
 * USR1; these are ignored instead. SIGQUIT keeps its core dump; glibc's
 * own real-time signals (below SIGRTMIN) are left alone.
 */
static void
ignore_stray_signals(void)
{
	static const int stray[] = {
		SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
#ifdef SIGSTKFLT
		SIGSTKFLT,
#endif
		SIGXFSZ, SIGTTIN, SIGTTOU, SIGTSTP
	};
	size_t i;
	int sig;

	for (i = 0; i < sizeof(stray) / sizeof(stray[0]); i++)
		signal(stray[i], SIG_IGN);
	for (sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		signal(sig, SIG_IGN);
}

/*
 * The directories mpsd writes to after dropping root. Missing ones are
 * made, owned by <Process><User>; the log file opened as root is handed to
 * it too, so that SIGHUP can reopen it and rotation can replace it.
 */
static void
prepare_directories(const mps_server_t *srv, uid_t uid, gid_t gid)
{
	const mps_config_t *cfg = srv->cfg;
	const char *files[] = { cfg->pid_file, cfg->lock_file };
	size_t i;

	if (cfg->log_target == MPS_LOG_TARGET_FILE &&
	    mps_prepare_dir(cfg->log_file_path, uid, gid, 0750) != 0)
		fprintf(stderr, "mpsd: cannot create %s: %s\n",
		    cfg->log_file_path, strerror(errno));
	for (i = 0; i < 2; i++) {
		char dir[4096];
		char *slash;

		apr_cpystrn(dir, files[i], sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash == NULL || slash == dir)
			continue;
		*slash = '\0';
		if (mps_prepare_dir(dir, uid, gid, 0755) != 0)
			fprintf(stderr, "mpsd: cannot create %s: %s\n", dir,
			    strerror(errno));
	}
}

/*
 * Every tunnel is a descriptor: take the whole hard limit, and say so when
 * even that cannot hold MaxConnections devices, MaxConsoles consoles and
 * MaxPreAuthConnections connections still logging in.
 */
static void
raise_fd_limit(const mps_config_t *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections * 2 +
	    (rlim_t)cfg->max_consoles * 2 + (rlim_t)cfg->max_preauth + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		mps_log(MPS_LOG_WARNING, "open file limit %llu is low for "
		    "MaxConnections %d, MaxConsoles %d and MaxPreAuthConnections "
		    "%d (want at least %llu): raise LimitNOFILE or ulimit -n",
		    (unsigned long long)rl.rlim_cur, cfg->max_connections,
		    cfg->max_consoles, cfg->max_preauth,
		    (unsigned long long)want);
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
	uid_t run_uid;
	gid_t run_gid;

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
		printf("systemd notification: %s\n",
		    mps_service_notify_built() ? "built in" : "not built");
		return 0;
	}
	ignore_stray_signals();
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
	mps_config_print_problems(errs);
	if (rv != APR_SUCCESS) {
		if (static_failed)
			mps_log_announce(MPS_LOG_ERROR, MSG_STATIC);
		if (dynamic_failed)
			mps_log_announce(MPS_LOG_ERROR, MSG_DYNAMIC);
		return 1;
	}
	if (opts.test_only)
		return mps_config_check(srv, opts.config_path);

	/* Relative paths everywhere (log, plugins, certificates, the
	 * plugins' own DllParameters) are relative to mps.config. */
	if (chdir(srv->config_dir) != 0) {
		fprintf(stderr, "mpsd: cannot enter %s: %s\n", srv->config_dir,
		    strerror(errno));
		return 1;
	}

	/* What -t checks without plugins or ports, before anything is
	 * opened: a server that would break once it has dropped root, or
	 * that would serve the demo passwords to the network, never starts. */
	{
		mps_config_errors_t *pre = mps_config_errors_create(pool);
		int i;

		if (mps_preflight(srv, pre) > 0) {
			mps_config_print_problems(pre);
			fprintf(stderr, "mpsd: not starting: %d problem(s) above "
			    "(mpsd -t checks the same)\n",
			    mps_config_error_count(pre));
			return 1;
		}
		mps_config_print_problems(pre);
		for (i = 0; i < pre->warnings->nelts; i++)
			APR_ARRAY_PUSH(errs->warnings, const char *) =
			    APR_ARRAY_IDX(pre->warnings, i, const char *);
	}
	if (mps_lookup_identity(srv->cfg->user, srv->cfg->group, &run_uid,
	    &run_gid, err, sizeof(err)) != APR_SUCCESS) {
		fprintf(stderr, "mpsd: %s\n", err);
		return 1;
	}
	prepare_directories(srv, run_uid, run_gid);

	if (open_log(srv, &logger) != APR_SUCCESS)
		return 1;
	mps_log_set_default(logger);
	log_problems(errs);
	if (srv->cfg->log_target == MPS_LOG_TARGET_FILE) {
		const char *log_path = apr_pstrcat(pool, srv->cfg->log_file_path,
		    "/", srv->cfg->log_file_name, NULL);
		if (mps_hand_over_file(log_path, run_uid, run_gid) != 0)
			mps_log_announce(MPS_LOG_WARNING, "cannot give the log file "
			    "%s to the <Process> user: %s (SIGHUP cannot reopen "
			    "it once root is dropped)", log_path, strerror(errno));
	}

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
		    mps_plugin_failure_message(role));
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
	}
	/* In the foreground too: scripts and admins find this mpsd by its
	 * pid file, not by a process name that every mpsd shares. */
	if (mps_pidfile_write(srv->cfg->pid_file, err, sizeof(err)) !=
	    APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "%s", err);
		goto out;
	}
	pidfile_written = 1;
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
	/* The guide's sentence first (scripts wait for it), then which
	 * build and process this is. */
	mps_log_announce(MPS_LOG_INFO, MSG_STARTED " mpsd %s, pid %ld",
	    PACKAGE_VERSION, (long)getpid());
	mps_daemon_ready(ready_fd, 0);
	ready_fd = -1;
	mps_service_ready(srv);

	rv = mps_server_run(srv);
	status = 0;
	if (rv != APR_SUCCESS) {
		mps_log_announce(MPS_LOG_ERROR, "poller stopped: %s",
		    mps_strerror(rv, err, sizeof(err)));
		status = 1;
	}
	/* Before the registry goes: the status thread reads it. */
	mps_service_stopping();
	mps_server_shutdown(srv);
	mps_log_announce(MPS_LOG_INFO, "MPS has stopped its operation.");

out:
	mps_service_stopping();
	mps_server_shutdown(srv);
	mps_daemon_ready(ready_fd, status);
	if (pidfile_written && mps_pidfile_remove(srv->cfg->pid_file) != 0)
		mps_log_announce(MPS_LOG_ERROR, "cannot remove the pid file %s: "
		    "%s", srv->cfg->pid_file, strerror(errno));
	mps_instance_lock_release(lock_fd);
	/* Plugins' fini and dlclose run from the pool's cleanups. */
	apr_pool_destroy(pool);
	mps_sockwrap_cleanup();
	mps_log_set_default(NULL);
	mps_logger_close(logger);
	return status;
}
