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
 * the device login lane and post their verdict back, so a plugin that
 * takes ten seconds delays only its own device (and, when every thread
 * of that lane is stuck, only other device logins: they are refused
 * after AuthQueueTimeout, see auth_job.h).
 */
#ifndef MPS_APF_SESSION_H
#define MPS_APF_SESSION_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "apf_codec.h"
#include "auth_throttle.h"
#include "buf.h"
#include "config.h"
#include "live.h"
#include "log.h"
#include "log_limit.h"
#include "plugin_loader.h"
#include "poller.h"
#include "registry.h"

/* One device tunnel. Private to apf_session.c; the channel layer sees it
 * only through the tunnel API below. */
typedef struct mps_session_t mps_session_t;

/*
 * What the channel layer does for a tunnel. The device side calls these
 * on the tunnel's strand. The layer keeps its per-tunnel state in the
 * tunnel's slot (mps_tunnel_channels()), NULL until it needs some, so an
 * idle tunnel costs one pointer.
 */
typedef struct mps_tunnel_ops_t {
	/* CHANNEL_OPEN_CONFIRMATION, _FAILURE, WINDOW_ADJUST, DATA, CLOSE,
	 * while the slot holds state (else the tunnel refuses them). */
	void (*on_message)(mps_session_t *t, const mps_apf_msg_t *m);
	/* CHANNEL_OPEN from the device (direct-tcpip). */
	void (*on_device_open)(mps_session_t *t, const mps_apf_msg_t *m);
	/* Output room appeared after mps_tunnel_wait_room(): resume every
	 * channel that waits for it. */
	void (*output_drained)(mps_session_t *t);
	/* The tunnel is ending; called once, while the slot holds state,
	 * possibly from inside one of the layer's own calls into the tunnel
	 * (a failed queue closes it). The layer only MARKS itself closed;
	 * freeing happens in a later task of the strand (OpenSSH's
	 * channel_garbage_collect), so that no walk in progress loses its
	 * table. The tunnel empties the slot after this call and stays
	 * allocated until after any task posted to its strand meanwhile. */
	void (*closing)(mps_session_t *t);
} mps_tunnel_ops_t;

/* Everything the device side shares between sessions. */
typedef struct mps_amt_side_t {
	const mps_config_t *cfg;
	mps_poller_t *poller;
	mps_workers_t *workers;
	mps_registry_t *registry;
	SSL_CTX *tls;			/* NULL in plain mode (behind stunnel) */
	mps_auth_plugin_t *auth;	/* NULL when NeedAuthentication is false */
	/* When set (mpsd), what a reload swaps: the SSL_CTX, the plugin and
	 * the AuthorizedServersList are taken from here per use, and tls,
	 * auth and authorized_servers above only say whether TLS and
	 * authentication are on (restart-only choices). */
	mps_live_slot_t *settings;
	mps_auth_throttle_t *throttle;
	/* Device-initiated traffic (PET alerts, direct-tcpip): the
	 * AuthorizedServersList filter (outbound.h). */
	const apr_array_header_t *authorized_servers;
	struct mps_udp_relay_t *udp;
	struct mps_notifier_t *notifier;	/* NULL without subscribers */
	/* Which instance holds which device (directory.h): every login is
	 * recorded, every forward updates the record, every close removes
	 * it. NULL: no directory (unit tests). */
	struct mps_directory_t *directory;
	/* The channel layer (channel_relay.h), filled in by whoever ties the
	 * layers up; a tunnel without it refuses every channel message. */
	mps_tunnel_ops_t channel_ops;

	/* The pre-auth budget, shared with the consoles (admission.h);
	 * NULL: no pre-auth limits (unit tests). */
	struct mps_admission_t *admission;
	/* MaxHandshakes: the TLS handshakes worked on at once (gate.h);
	 * the others wait, unread, in arrival order. NULL: no limit
	 * (plain mode, unit tests). */
	struct mps_gate_t *handshakes;
	atomic_uint active;		/* authenticated sessions, against
					 * MaxConnections */
	atomic_uint live;		/* session objects not yet freed */
	atomic_uint open;		/* sessions not yet finalized */
	atomic_llong last_accept;	/* apr_time_t of the last connection
					 * accepted (the heap trim waits
					 * for a login wave to end) */

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

/* Asks a device's session to close, from any thread (a newer tunnel of
 * the same device, SIGUSR2, shutdown). Never lost: the request needs no
 * allocation. The reason and text of the first request win. */
void mps_session_request_close(mps_session_t *s, apr_uint32_t reason,
    const char *why);

/* The same with reason 11 (by application), for a device that another
 * instance took over (directory.h): its close sends no DISCONNECTED
 * notification, since the device is still connected, and only the
 * instance holding it speaks for it. */
void mps_session_request_handover(mps_session_t *s, const char *why);

/* ---- The tunnel API: for the channel layer, on the tunnel's strand ---- */

/* Queued tunnel output above which channels stop reading their peers
 * (mps_tunnel_room() is 0), and below which waiting ones resume. */
#define MPS_TUNNEL_OUT_HIGH	(128 * 1024)
#define MPS_TUNNEL_OUT_LOW	(32 * 1024)

/* The tunnel's output queue, to encode APF messages into; NULL once the
 * tunnel is closing (nothing more may be queued). A failed encode (the
 * queue's hard cap) should close the tunnel: the device would wait
 * forever for the message. */
mps_buf_t *mps_tunnel_output(mps_session_t *t);

/* How many more bytes channel data may add before MPS_TUNNEL_OUT_HIGH;
 * 0 while closing. */
size_t mps_tunnel_room(const mps_session_t *t);

/* The caller found no room: output_drained is called once the queue
 * falls below MPS_TUNNEL_OUT_LOW, from the task that wrote it out (no
 * timer in the path). */
void mps_tunnel_wait_room(mps_session_t *t);

/*
 * Stops (hold 1) or resumes (hold 0) reading and parsing the device's
 * input: the channel layer holds a tunnel while a channel has more
 * device data than its window, so TCP pushes back on the device instead
 * of mpsd buffering. The message being handled is the last one parsed;
 * resuming posts a task that parses what was already read, then reads
 * on. While held the tunnel is not dropped as idle (the silence is
 * ours); the channel layer bounds how long it holds.
 */
void mps_tunnel_hold_input(mps_session_t *t, int hold);

/*
 * The channel layer carries traffic (keep 1) or none (keep 0): while it
 * does, the tunnel's buffers keep their storage when they empty instead
 * of freeing and growing it again on every pass. The layer calls keep 0
 * when its last channel ends, and 0 then 1 from its sweep (once a
 * second), so that a tunnel holds kept storage at most that long after
 * its traffic stopped.
 */
void mps_tunnel_keep_buffers(mps_session_t *t, int keep);

/* Output was queued: write it now, or at the end of the running pass. */
void mps_tunnel_kick(mps_session_t *t);

/* Ends the tunnel: logs why (fmt may be NULL), sends DISCONNECT reason
 * (0: none) and calls the layer's closing op before returning. Safe from
 * inside any op; a no-op on a tunnel already closing. */
void mps_tunnel_close(mps_session_t *t, apr_uint32_t reason,
    mps_log_level_t level, const char *fmt, ...) MPS_PRINTF(4, 5);

/*
 * A WARNING about something the device asked for and was refused,
 * through the device's own log limit (log_limit.h): at most
 * MPS_TUNNEL_WARN_BURST lines per MPS_TUNNEL_WARN_INTERVAL, the next one
 * saying how many were left out. A device that repeats a refused request
 * thousands of times costs a few lines, not megabytes.
 */
#define MPS_TUNNEL_WARN_BURST		MPS_LOG_LIMIT_PEER_BURST
#define MPS_TUNNEL_WARN_INTERVAL	MPS_LOG_LIMIT_PEER_INTERVAL
void mps_tunnel_warn(mps_session_t *t, const char *fmt, ...) MPS_PRINTF(2, 3);

/* 1 while channels may be opened and used (authenticated, not closing). */
int mps_tunnel_is_active(const mps_session_t *t);

/* The channel layer's state in this tunnel, NULL while none. Set refuses
 * (APR_EINVAL) unless the tunnel is active or state is NULL. */
void *mps_tunnel_channels(const mps_session_t *t);
apr_status_t mps_tunnel_set_channels(mps_session_t *t, void *state);

/* The device's name for logs (FQDN, else UUID, else its address). */
const char *mps_tunnel_name(const mps_session_t *t, char *buf, size_t size);

/* The strand every task of this tunnel runs on. */
mps_strand_t *mps_tunnel_strand(const mps_session_t *t);

/* The shared device side (configuration, poller, consoles, outbound). */
mps_amt_side_t *mps_tunnel_side(const mps_session_t *t);

/* The registry entry (not referenced for the caller), NULL before login. */
mps_device_t *mps_tunnel_device(const mps_session_t *t);

#endif
