/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.h: the console side of mpsd: the SOCKSv5 listener and the HTTP
 * proxy listener, through which management consoles reach the ports that
 * connected AMT devices forwarded (guide sections 2, 3, 4.4 and 8).
 *
 * A console connection lives in two places, one after the other:
 *
 *   1. its own strand, for the front end: the SOCKS greeting, the
 *      RFC 1929 login and the CONNECT request (socks_front.c), or an HTTP
 *      request head (http_front.c). A login goes to the Socks plugin on
 *      the blocking lane. The target is checked there: a registered
 *      device (by FQDN or UUID), a port the device forwarded, and a port
 *      among the AMT ports. mpsd never connects anywhere else: it is not
 *      an open proxy.
 *   2. the device's strand, for the channel: console.c opens it there
 *      and is its peer (channel_peer.h) for the channel layer
 *      (channel_relay.c). From the CHANNEL_OPEN to the last byte, every
 *      console event and every APF channel message of that device run
 *      in one order, so the channel table, the windows and the tunnel's
 *      output need no lock.
 *
 * The hand-over between them happens while the console's socket is not
 * watched (registrations are one-shot), so no event can be delivered to
 * the old strand after the move.
 */
#ifndef MPS_CONSOLE_H
#define MPS_CONSOLE_H

#include <apr_errno.h>
#include <apr_time.h>
#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "live.h"
#include "plugin_loader.h"
#include "poller.h"
#include "registry.h"
#include "timer.h"
#include "workers.h"

typedef struct mps_console_t mps_console_t;

/* What every console connection shares. */
typedef struct mps_console_side_t {
	const mps_config_t *cfg;
	mps_poller_t *poller;
	mps_workers_t *workers;
	mps_registry_t *registry;
	mps_auth_plugin_t *auth;	/* Socks_Authenticate; NULL when off */
	/* When set (mpsd), the plugin instance is taken from here at each
	 * login (a reload swaps it); auth then only says "on". */
	mps_live_slot_t *settings;
	/* The pre-auth budget, shared with the devices (admission.h);
	 * NULL: no pre-auth limits (unit tests). */
	struct mps_admission_t *admission;
	/* The instance-to-instance link (peer_link.h); NULL: off, a device
	 * not held here is "host unreachable". */
	struct mps_peer_links_t *peer;

	atomic_uint active;		/* consoles against MaxConsoles */
	/* Console login throttling (set up by mps_console_side_init from
	 * cfg): failed logins per address (ConsoleLoginFailures) and per
	 * user name (ConsoleLoginFailuresPerUser), and the limit that
	 * makes their warnings one line per address and minute. */
	struct mps_login_budget_t *addr_budget;
	struct mps_login_budget_t *user_budget;
	struct mps_log_limit_table_t *login_log;
	/* Writes the counts the login log limit still holds once their
	 * minute is over (a flood that stopped), every LOGIN_LOG_FLUSH. */
	mps_timer_t login_log_timer;
	atomic_int stopping;

	atomic_uint live;		/* console objects not yet freed */
	pthread_mutex_t list_lock;	/* every live console, for shutdown */
	mps_console_t *list;
} mps_console_side_t;

/* Sets up the shared state (the caller fills cfg .. auth first). */
apr_status_t mps_console_side_init(mps_console_side_t *side);

/* Accept callbacks for the two listeners (listener.h); ctx is the side. */
void mps_socks_accept(void *ctx, int fd, const char *peer);
void mps_http_accept(void *ctx, int fd, const char *peer);

/*
 * Closes every console connection and waits up to timeout for them to
 * be gone. The poller and the workers must still run. Returns how many
 * are left.
 */
unsigned mps_console_side_shutdown(mps_console_side_t *side,
    apr_interval_time_t timeout);

void mps_console_side_destroy(mps_console_side_t *side);

/* The AMT ports a console may reach (guide 4.4): 16992-16995, 623, 664
 * and 5900 (KVM). The device must also have forwarded the port. */
int mps_console_port_allowed(apr_port_t port);

#endif /* MPS_CONSOLE_H */
