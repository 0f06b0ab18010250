/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apf_session.h: the device side of mpsd: one APF session per AMT
 * tunnel, from the accepted socket to its last byte.
 *
 * Order is enforced as Intel's LMS does: PROTOCOLVERSION, then the
 * auth@amt.intel.com service, USERAUTH, then pfwd@amt.intel.com, and only
 * then global requests and channel messages. Anything else, an unknown
 * type, an oversized length or a major version other than 1 ends that one
 * session with the right DISCONNECT reason and a log line naming the
 * device; no other device notices.
 *
 * Each session lives on its own strand. Authentication plugins run on
 * the blocking lane and post their verdict back, so a plugin that takes
 * ten seconds delays only its own device.
 */
#ifndef MPS_APF_SESSION_H
#define MPS_APF_SESSION_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "auth_throttle.h"
#include "config.h"
#include "plugin_loader.h"
#include "poller.h"
#include "registry.h"

typedef struct mps_session_t mps_session_t;

/* Everything the device side shares between sessions. */
typedef struct mps_amt_side_t {
	const mps_config_t *cfg;
	mps_poller_t *poller;
	mps_workers_t *workers;
	mps_registry_t *registry;
	SSL_CTX *tls;			/* NULL in plain mode (behind stunnel) */
	mps_auth_plugin_t *auth;	/* NULL when NeedAuthentication is false */
	mps_auth_throttle_t *throttle;
	/* Device-initiated traffic (PET alerts, direct-tcpip): the
	 * AuthorizedServersList filter and where consoles' state lives. */
	const apr_array_header_t *authorized_servers;
	struct mps_console_side_t *consoles;
	struct mps_udp_relay_t *udp;
	struct mps_notifier_t *notifier;	/* NULL without subscribers */

	atomic_uint active;		/* sessions counted against MaxConnections */
	atomic_uint refusing;		/* over the limit, being told so */
	atomic_uint live;		/* session objects not yet freed */
	atomic_uint open;		/* sessions not yet finalized */

	pthread_mutex_t list_lock;	/* every live session, for shutdown */
	mps_session_t *list;
} mps_amt_side_t;

/* Sets up the shared state (the caller fills cfg, poller, workers,
 * registry, tls and auth first). */
apr_status_t mps_amt_side_init(mps_amt_side_t *side);

/* The AMT listener's accept callback (listener.h): ctx is the side. */
void mps_amt_accept(void *ctx, int fd, const char *peer);

/*
 * Closes every session (DISCONNECT 11 BY_APPLICATION to authenticated
 * devices) and waits up to timeout for them to be finalized (their
 * connections closed; the objects may outlive this while the notifier
 * still holds their registry entries). The poller and
 * workers must still run. Returns the number of sessions left.
 */
unsigned mps_amt_side_shutdown(mps_amt_side_t *side, apr_interval_time_t timeout);

/* Frees the shared state after shutdown. */
void mps_amt_side_destroy(mps_amt_side_t *side);

/* For a console (later issues): ask a registered device's session to
 * close, from any thread. */
void mps_session_request_close(mps_session_t *s, apr_uint32_t reason,
    const char *why);

#endif
