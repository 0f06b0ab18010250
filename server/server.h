/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.h: one running mpsd: its configuration, plugins, worker lanes,
 * poller, signal handling and the live mps_dynamic.config.
 *
 * main.c drives the start-up order (configuration, log, instance lock,
 * plugins, detaching, privileges); this module holds what runs.
 */
#ifndef MPS_SERVER_H
#define MPS_SERVER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "apf_session.h"
#include "console.h"
#include "config.h"
#include "listener.h"
#include "live.h"
#include "plugin_loader.h"
#include "registry.h"
#include "poller.h"
#include "workers.h"

typedef struct mps_server_t {
	apr_pool_t *pool;
	mps_config_t *cfg;
	const char *config_dir;		/* absolute directory of mps.config */
	const char *config_path;	/* mps.config, absolute (reloads) */
	const char *dynamic_path;	/* resolved mps_dynamic.config */
	const char *notification_list_path;
	const char *authorized_servers_path;
	unsigned trace_levels;
	apr_array_header_t *subscribers;	/* mps_subscriber_t */
	apr_array_header_t *authorized_servers;	/* mps_authorized_server_t */

	/* Generation 1's plugins. After a reload they only say whether a
	 * role authenticates (the instances in use are in live). */
	mps_auth_plugin_t *amt_auth;	/* NULL when NeedAuthentication is false */
	mps_auth_plugin_t *socks_auth;
	mps_plugin_t *notify_plugin;	/* NULL without subscribers */
	mps_notify_fn notify;
	struct mps_notifier_t *notifier;

	mps_workers_t *workers;
	mps_poller_t *poller;

	/* Device side. */
	SSL_CTX *tls;			/* NULL in plain mode */
	mps_listener_t *amt_listener;
	mps_registry_t *registry;
	mps_amt_side_t amt;
	int amt_started;
	/* Which instance holds which device (<Directory>; local by default). */
	struct mps_directory_t *directory;
	char *redis_password;		/* read at bind, wiped once used */

	/* Connections not authenticated yet, from all three listeners. */
	struct mps_admission_t *admission;
	/* MaxHandshakes (TLS mode only). */
	struct mps_gate_t *handshakes;

	/* Console side. */
	mps_listener_t *socks_listener;
	mps_listener_t *http_listener;
	mps_console_side_t consoles;
	int consoles_started;
	/* The instance-to-instance link (PeerListenPort; NULL: off). */
	mps_listener_t *peer_listener;
	struct mps_peer_links_t *peer_links;
	struct mps_udp_relay_t *udp;	/* PET alerts out */

	/* What a reload swaps (live.h): the SSL_CTX, the authentication
	 * plugins, the AuthorizedServersList. first_live is generation 1
	 * while start-up builds it; mps_server_start() publishes it. */
	mps_live_slot_t live;
	mps_live_t *first_live;
	unsigned generation;		/* of the settings in force */
	pthread_mutex_t reload_all_lock; /* one full reload at a time */

	/* Live reload of mps_dynamic.config: on SIGHUP and on change. */
	pthread_mutex_t reload_lock;
	struct stat dynamic_stat;	/* what was last read */
	mps_timer_t dynamic_timer;
	mps_timer_t trim_timer;		/* periodic malloc_trim */
	apr_time_t trim_deferred_since;	/* first trim put off by logins (0:
					 * none); blocking lane only */

	/* The admin API (NULL unless <Admin> Enabled): bound with the
	 * other listeners, started last, stopped first. */
	struct mps_admin_t *admin;
	apr_time_t started;

	pthread_t signal_thread;
	int signal_thread_started;
	atomic_int stopping;		
} mps_server_t;

/* Allocates a server in pool (nothing started). */
mps_server_t *mps_server_create(apr_pool_t *pool);

/*
 * Reads mps.config, mps_dynamic.config and the two list files (resolved
 * against the directory of mps.config). Every error and warning goes to
 * errs. Returns MPS_ERR_CONFIG when anything failed; *static_failed and
 * *dynamic_failed then say which, so that the caller announces the
 * guide's message for each ("Error while reading static configuration
 * file." / "... dynamic ..."). List-file errors count as static.
 */
apr_status_t mps_server_load_config(mps_server_t *srv, const char *path,
    mps_config_errors_t *errs, int *static_failed, int *dynamic_failed);

/*
 * Loads the authentication plugins that the configuration asks for.
 * On failure *role is "AMT" or "Socks" and err holds the reason.
 */
apr_status_t mps_server_load_plugins(mps_server_t *srv, const char **role,
    char *err, size_t errsize);

/*
 * Creates the TLS context and binds the listeners: before detaching and
 * before dropping root (ports below 1024), so that a bad certificate or a
 * busy port fails the start visibly. With bind_ports 0 (mpsd -t) only the
 * TLS files are checked.
 */
apr_status_t mps_server_bind(mps_server_t *srv, int bind_ports, char *err,
    size_t errsize);

/* Creates the worker lanes and the poller, starts the signal thread and
 * the dynamic-configuration watch. Call after daemonizing. */
apr_status_t mps_server_start(mps_server_t *srv, char *err, size_t errsize);

/* Runs the poller on the calling thread until SIGTERM/SIGINT. */
apr_status_t mps_server_run(mps_server_t *srv);

/* Stops and frees what mps_server_start() created. */
void mps_server_shutdown(mps_server_t *srv);

/* Rereads mps_dynamic.config now (SIGHUP, change, tests). why is logged.
 * On errors the old trace levels stay and the errors are logged. */
void mps_server_reload_dynamic(mps_server_t *srv, const char *why);

struct mps_admin_reload_result_t;

/*
 * The full reload of SIGHUP and POST /api/v1/reload: rereads mps.config
 * (for the DllParameters, the certificate and key paths and the list
 * paths), the certificate and key, AuthorizedServersList,
 * NotificationList and mps_dynamic.config; re-initialises the
 * authentication plugins; then swaps all of it in at once. Any error
 * (each logged as file:line) leaves every setting as it was. Changed
 * parameters that only a restart applies are named in the log. Tunnels
 * and channels are never touched. why names the asker in the log;
 * result (may be NULL) receives the outcome. Blocks for file reads and
 * plugin init: call it from the signal or the admin thread.
 */
void mps_server_reload(mps_server_t *srv, const char *why,
    struct mps_admin_reload_result_t *result);

/* Blocks the signals that the signal thread handles and ignores SIGPIPE.
 * Call before any thread exists, so every thread inherits the mask. */
void mps_server_block_signals(void);

#endif
