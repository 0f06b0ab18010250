/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin.h: the admin listener: a small HTTP API (devices, status,
 * disconnect), Prometheus metrics and an HTML status page, on its own
 * address (loopback by default), every request behind a bearer token.
 *
 * The HTTP server is libmicrohttpd, running its own thread: a slow or
 * hostile admin client never touches the poller, the workers or a
 * device's strand. From that thread the admin code only READS shared
 * state that is made for any thread (the registry's snapshot and
 * lookups, atomics, the notifier's stats, the metrics registry), and a
 * disconnect is never done here: it is handed to the device's strand with
 * mps_session_request_close(), the session's documented cross-strand
 * close.
 *
 * Life cycle, in mpsd's start-up order:
 *   mps_admin_bind()  before detaching and dropping root: reads the token
 *                     file, binds the socket (privileged ports work);
 *   mps_admin_start() after the server runs: starts the HTTP thread;
 *   mps_admin_stop()  first thing at shutdown, before the notifier, the
 *                     registry or the sessions go (joins the thread);
 *   mps_admin_destroy().
 */
#ifndef MPS_ADMIN_H
#define MPS_ADMIN_H

#include <apr_errno.h>
#include <apr_network_io.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <stdatomic.h>

#include "admin_views.h"
#include "config.h"
#include "registry.h"

struct mps_notifier_t;

typedef struct mps_admin_t mps_admin_t;

/* What POST /api/v1/reload answers (filled by the reload itself). */
#define MPS_ADMIN_RELOAD_MAX_LINES	16
#define MPS_ADMIN_RELOAD_LINE		320
typedef struct mps_admin_reload_result_t {
	int ok;				/* the new settings are in force */
	unsigned generation;		/* of the settings now in force */
	char summary[512];		/* the log's summary line */
	int nerrors;			/* why it was refused: file:line */
	char errors[MPS_ADMIN_RELOAD_MAX_LINES][MPS_ADMIN_RELOAD_LINE];
	int nrestart;			/* changed, apply at the next start */
	char restart[MPS_ADMIN_RELOAD_MAX_LINES][MPS_ADMIN_RELOAD_LINE];
} mps_admin_reload_result_t;

/* The server's reload (SIGHUP's work): who is logged; blocks while the
 * files are read and the plugins initialised (the admin thread may). */
typedef void (*mps_admin_reload_fn)(void *arg, const char *who,
    mps_admin_reload_result_t *result);

/* What the admin listener reads; filled by server.c before start.
 * Every string and object it points to must live until mps_admin_stop()
 * has joined the admin thread: that thread reads them at any time, so
 * nothing a reload may free (a retired plugin instance's pool, a scratch
 * configuration) may be handed over without a copy. */
typedef struct mps_admin_source_t {
	const mps_config_t *cfg;
	mps_registry_t *registry;		/* NULL: no device side */
	struct mps_notifier_t *notifier;	/* NULL: no subscribers */
	const apr_array_header_t *subscribers;	/* mps_subscriber_t */
	atomic_uint *connections;		/* MaxConnections counter */
	mps_admin_listener_t listeners[MPS_ADMIN_MAX_LISTENERS];
	int nlisteners;				/* the admin's own is added */
	mps_admin_plugin_t plugins[MPS_ADMIN_MAX_PLUGINS];
	int nplugins;
	apr_time_t started;
	mps_admin_reload_fn reload;		/* NULL: POST /api/v1/reload
						 * answers 503 */
	void *reload_arg;
	/* The devices of the whole cluster (directory.h, on the admin's
	 * thread: may wait up to RedisTimeout); NULL: GET
	 * /api/v1/cluster/devices answers 404. */
	struct mps_directory_t *directory;
} mps_admin_source_t;

/* Smallest token accepted: 16 characters (openssl rand -hex 16 gives 32). */
#define MPS_ADMIN_TOKEN_MIN	16
#define MPS_ADMIN_TOKEN_MAX	256

/*
 * Reads and checks the token file (resolved against config_dir; not
 * readable by others; one line of 16..256 printable characters) and,
 * when bind_port is set, binds the listen socket. Returns APR_SUCCESS
 * with *out NULL when <Admin> Enabled is false. On failure err says why.
 */
apr_status_t mps_admin_bind(mps_admin_t **out, const mps_config_t *cfg,
    const char *config_dir, int bind_port, char *err, size_t errsize);

/* The bound port (useful with ListenPort 0 in tests). */
apr_port_t mps_admin_port(const mps_admin_t *a);

/* Starts serving; src is copied. */
apr_status_t mps_admin_start(mps_admin_t *a, const mps_admin_source_t *src,
    char *err, size_t errsize);

/* A reload's new NotificationList (the array must stay valid until the
 * next call or mps_admin_destroy); any thread. */
void mps_admin_set_subscribers(mps_admin_t *a,
    const apr_array_header_t *subscribers);

/* Stops serving and waits for the HTTP thread; requests in progress end
 * first. Safe to call twice, and with NULL. */
void mps_admin_stop(mps_admin_t *a);

/* Stops if needed, closes the socket and wipes the token. NULL allowed. */
void mps_admin_destroy(mps_admin_t *a);

/* Reads a token file as mps_admin_bind() does (mpsctl uses it too).
 * Returns 0, or -1 with err filled. */
int mps_admin_read_token(const char *path, int check_mode, char *token,
    size_t size, char *err, size_t errsize);

#endif /* MPS_ADMIN_H */
