/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apf_session.c: see apf_session.h.
 *
 * Life of a session, all on its strand:
 *
 *   accept [pre-auth budget, admission.h]
 *          -> [AMTProxyProtocol: the PROXY header from a trusted balancer;
 *             the session takes the device's address from it]
 *          -> TLS handshake (deadline for it and the login: the smaller
 *             of HandshakeTimeout and PreAuthTimeout)
 *          -> PROTOCOLVERSION -> SERVICE_REQUEST auth@ -> USERAUTH_REQUEST
 *          -> [device login lane: Authenticate()]
 *          -> [MaxConnections slot, the pre-auth one given back]
 *          -> USERAUTH_SUCCESS, registered
 *          -> SERVICE_REQUEST pfwd@ -> tcpip-forward... -> KEEPALIVE_OPTIONS
 *          -> steady state (idle timeout) -> close
 *
 * The one timer ("deadline") serves whatever the state waits for: the
 * login deadline, the delayed answer to a failed login, the idle timeout
 * (re-armed lazily from last_rx, not per message) and the linger of a
 * closing session. A second timer lets the forwards settle before the
 * keepalive options are sent.
 *
 * References: the connection holds one until it is finalized, the
 * registry entry one while it exists, and each job in flight (an
 * authentication, a cross-strand close) one. The last one posts the free
 * to the strand, after anything queued there (strand.h's lifetime rule).
 */
#include "apf_session.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admission.h"
#include "apf_codec.h"
#include "auth_job.h"
#include "directory.h"
#include "gate.h"
#include "timer.h"
#include "listener.h"
#include "log.h"
#include "log_limit.h"
#include "metrics.h"
#include "mps_status.h"
#include "notify.h"
#include "outbound.h"
#include "proxy_header.h"
#include "sockwrap.h"
#include "stream.h"
#include "tls.h"

/* Bytes read (and parsed) at a time, and per pass before yielding to
 * other strands; a pass that used its whole budget goes on in a task of
 * its own, without a round trip through the poller. */
#define READ_CHUNK (64 * 1024)
#define READ_BUDGET (256 * 1024)
/* Queued output a session may hold (control messages; channels bound
 * their own data by windows). */
#define OUT_MAX (256 * 1024)
/* Rounds of "output drained, channels refill it" in one pass (each up to
 * MPS_TUNNEL_OUT_HIGH bytes); then the pass yields to other strands. */
#define DRAIN_ROUNDS 4
/* How long a closing session may take to flush its last messages. */
#define CLOSE_LINGER apr_time_from_sec(2)
/* After a refused login: the "short delay" before closing. */
#define FAIL_LINGER apr_time_from_sec(1)
/* Quiet time after the last tcpip-forward before KEEPALIVE_OPTIONS. */
#define SETTLE_DELAY apr_time_from_msec(1000)
/* MaxForwardsPerDevice is bounded by the registry's port array. */
_Static_assert(MPS_CONFIG_MAX_FORWARDS <= MPS_REGISTRY_MAX_PORTS,
    "MaxForwardsPerDevice may exceed what the registry holds");

/* One WARNING per this interval when MaxConnections refuses devices. */
#define FULL_LOG_INTERVAL apr_time_from_sec(10)

typedef enum {
	S_PROXY,		/* PROXY header (AMTProxyProtocol), before TLS */
	S_TLS,			/* TLS handshake */
	S_VERSION,		/* waiting for PROTOCOLVERSION */
	S_AUTH_SERVICE,		/* waiting for SERVICE_REQUEST auth@ */
	S_USERAUTH,		/* waiting for USERAUTH_REQUEST */
	S_AUTH_PENDING,		/* the plugin decides; input paused */
	S_AUTH_FAILED,		/* refused; answer delayed, input ignored */
	S_PFWD_SERVICE,		/* waiting for SERVICE_REQUEST pfwd@ */
	S_ACTIVE,		/* forwards, keepalives, channels */
	S_CLOSING,		/* flushing the last messages */
	S_CLOSED
} session_state;

struct mps_session_t {
	mps_amt_side_t *side;
	mps_strand_t *strand;
	mps_pollreg_t *reg;
	apr_socket_t *wrap;
	mps_stream_t io;
	mps_timer_t deadline;
	mps_timer_t settle;
	mps_device_t *dev;		/* our reference once authenticated */
	void *chans;			/* the channel layer's state, or NULL */
	atomic_int refs;
	/* A close asked for from another thread (mps_session_request_close):
	 * 0 none, 1 being written, 2 recorded. Any task of the strand acts
	 * on a recorded one, so a request survives a failed post. */
	atomic_int close_req;
	/* Another instance holds the device now (mps_session_request_
	 * handover): its close is not a disconnection to report. */
	atomic_int moved_away;
	apr_uint32_t close_req_reason;
	char close_req_why[128];
	session_state state;
	unsigned counted:1;		/* holds a MaxConnections slot */
	unsigned preauth:1;		/* holds a pre-auth slot (admission.h) */
	unsigned cert_verified:1;	/* a verified client certificate */
	unsigned keepalive_sent:1;
	unsigned failure_sent:1;	/* USERAUTH_FAILURE is queued */
	unsigned pump_queued:1;		/* a pump task is already posted */
	unsigned in_pump:1;		/* session_pump is on the stack */
	unsigned wants_room:1;		/* the channel layer waits for room */
	unsigned input_held:1;		/* the channel layer stopped input */
	unsigned more_input:1;		/* the last pass stopped at its budget */
	unsigned listed:1;		/* in side->list */
	unsigned notified:1;		/* subscribers heard CONNECTED */
	unsigned gate_held:1;		/* holds a MaxHandshakes slot */
	unsigned gate_waiting:1;	/* queued for one (or granted, and
					 * gate_open is on its way) */
	unsigned spoke:1;		/* the socket was reported readable */
	apr_uint32_t trigger;
	apr_time_t last_rx;
	unsigned long long reported_in, reported_out;
	mps_log_limit_t warn_limit;	/* mps_tunnel_warn(): strand only */
	char *cert_cn;			/* mutual TLS identity, malloc'd */
	mps_gate_waiter_t gate_wait;	/* side->handshakes' (gate.h) */
	char uuid[MPS_APF_UUID_TEXT_SIZE];
	char peer[64];			/* ip:port */
	char ip[48];			/* ip alone, for the login throttle */
	unsigned admit_flags;		/* what the pre-auth slot is held as */
	unsigned px_mode;		/* in S_PROXY: PX_HEADER, PX_SNIFF, PX_LOCAL */
	struct proxy_read *px;		/* PX_HEADER: the header so far */
	mps_session_t *prev, *next;	/* side->list */
};

/*
 * What S_PROXY waits for:
 *   PX_HEADER  the connection comes from an AMTProxyTrusted address: a
 *              PROXY header must come first, or the connection goes;
 *   PX_SNIFF   AMTProxyProtocol is on but the address is not trusted: a
 *              device connecting directly is fine, but a PROXY header
 *              from it is a forgery and is refused (one peek decides);
 *   PX_LOCAL   the header named no client (HAProxy's health check sends
 *              v2 LOCAL and closes): a close now is the check ending,
 *              logged at DEBUG, not a failed TLS handshake; any byte goes
 *              on to TLS with the balancer's address, as the spec says.
 */
enum { PX_HEADER, PX_SNIFF, PX_LOCAL };

/* The header's bytes received so far; allocated only while S_PROXY
 * waits for a trusted header, so a tunnel does not carry it. */
struct proxy_read {
	size_t have;
	unsigned char buf[MPS_PROXY_MAX];
};

static const char *const state_names[] = {
	"PROXY header", "TLS handshake", "protocol version", "auth service",
	"user auth", "authentication", "authentication failed", "pfwd service", "active",
	"closing", "closed"
};

static void session_pump(void *arg);
static void session_io(void *arg);
static int handshake_slot(mps_session_t *s);
static void session_deadline(void *arg);
static apr_interval_time_t handshake_deadline(const mps_config_t *cfg);
static void session_settled(void *arg);
static int close_req_take(mps_session_t *s);
static void session_close(mps_session_t *s, apr_uint32_t reason,
    mps_log_level_t level, const char *fmt, ...) MPS_PRINTF(4, 5);

/* ---- references and lifetime ---------------------------------------- */

static void
session_ref(mps_session_t *s)
{
	atomic_fetch_add(&s->refs, 1);
}

/* A reference unless the session is already on its way out (the free is
 * queued): for walkers of side->list, which may meet such a session. */
static int
session_tryref(mps_session_t *s)
{
	int n = atomic_load(&s->refs);

	while (n > 0) {
		if (atomic_compare_exchange_weak(&s->refs, &n, n + 1))
			return 1;
	}
	return 0;
}

static void
session_free_task(void *arg)
{
	mps_session_t *s = arg;
	mps_amt_side_t *side = s->side;

	if (s->listed) {
		pthread_mutex_lock(&side->list_lock);
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			side->list = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
		pthread_mutex_unlock(&side->list_lock);
	}
	mps_strand_release(s->strand);
	free(s->cert_cn);
	free(s->px);
	free(s);
	atomic_fetch_sub(&side->live, 1);
}

static void
session_unref(mps_session_t *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	/* Freed on its strand, behind every task already queued for it,
	 * even if the workers stop first (strand.h, LIFETIME RULE). */
	if (mps_strand_post_free(s->strand, session_free_task, s) !=
	    APR_SUCCESS) {
		/* The workers are gone (process exit): nothing can run for
		 * it any more, so free it here. */
		session_free_task(s);
	}
}

/* The registry entry's last reference went. */
static void
device_entry_freed(void *session)
{
	session_unref(session);
}

/* ---- helpers ---------------------------------------------------------- */

/* How the device is named in logs: mps_device_log_name ("fqdn (uuid)",
 * or the UUID alone before the FQDN is known) once it is registered, its
 * UUID before that, else where it connects from. */
static const char *
session_name(const mps_session_t *s, char *buf, size_t size)
{
	if (s->dev != NULL)
		return mps_device_log_name(s->dev, buf, size);
	if (s->uuid[0] != '\0')
		return s->uuid;
	snprintf(buf, size, "at %s", s->peer);
	return buf;
}

static void
account_bytes(mps_session_t *s)
{
	if (s->dev == NULL)
		return;
	if (s->io.bytes_in > s->reported_in) {
		mps_device_add_bytes_in(s->dev, s->io.bytes_in - s->reported_in);
		s->reported_in = s->io.bytes_in;
	}
	if (s->io.bytes_out > s->reported_out) {
		mps_device_add_bytes_out(s->dev, s->io.bytes_out - s->reported_out);
		s->reported_out = s->io.bytes_out;
	}
}

static int
reading_allowed(const mps_session_t *s)
{
	return s->state < S_CLOSING && s->state != S_AUTH_PENDING &&
	    s->state != S_AUTH_FAILED && s->state > S_TLS;
}

/* Reading and parsing the device's input, unless the channel layer
 * holds it (mps_tunnel_hold_input). */
static int
input_wanted(const mps_session_t *s)
{
	return reading_allowed(s) && !s->input_held;
}

/* The largest CHANNEL_DATA accepted: the window we advertise. One
 * message larger than a whole window stays a protocol error even when
 * overruns are tolerated (ChannelWindowOverrun), so the input buffer
 * stays at one window per tunnel. */
static size_t
max_channel_data(const mps_session_t *s)
{
	return s->side->cfg->channel_window_size;
}

/*
 * The result of queueing a message: an encoding failure (the output cap)
 * ends the session, since the device would otherwise wait for an answer.
 * Returns 0 when queued, -1 when the session is closing now; callers
 * return on -1 themselves, so the control flow stays visible.
 */
static int
queued(mps_session_t *s, apr_status_t rv)
{
	char msg[96];

	if (rv == APR_SUCCESS)
		return 0;
	session_close(s, 0, MPS_LOG_ERROR, "cannot queue a message: %s",
	    mps_strerror(rv, msg, sizeof(msg)));
	return -1;
}

/* ---- the channel layer ------------------------------------------------ */

/* Tells the channel layer the tunnel ends. It marks itself and takes its
 * state out of the slot at once; freeing waits for a later task. */
static void
channels_closing(mps_session_t *s)
{
	const mps_tunnel_ops_t *ops = &s->side->channel_ops;

	s->wants_room = 0;
	if (s->chans != NULL && ops->closing != NULL)
		ops->closing(s);
	s->chans = NULL;
}

static void
on_channel_open(mps_session_t *s, const mps_apf_msg_t *m)
{
	const mps_tunnel_ops_t *ops = &s->side->channel_ops;

	if (ops->on_device_open == NULL) {
		session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "CHANNEL_OPEN: no channels here");
		return;
	}
	ops->on_device_open(s, m);
}

static void
on_channel_message(mps_session_t *s, const mps_apf_msg_t *m)
{
	const mps_tunnel_ops_t *ops = &s->side->channel_ops;

	if (s->chans == NULL || ops->on_message == NULL) {
		/* No channel exists: any reference to one is a protocol
		 * error, as LMS treats it. */
		session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "%s for a channel that does not exist",
		    mps_apf_msg_name(m->type));
		return;
	}
	ops->on_message(s, m);
}

/* ---- the tunnel API ---------------------------------------------------- */

mps_buf_t *
mps_tunnel_output(mps_session_t *s)
{
	return s->state == S_ACTIVE ? &s->io.out : NULL;
}

size_t
mps_tunnel_room(const mps_session_t *s)
{
	/* Records gathered for the next write() count as queued: the
	 * socket has not taken them. */
	size_t n = mps_stream_out_bytes(&s->io);

	if (s->state != S_ACTIVE || n >= MPS_TUNNEL_OUT_HIGH)
		return 0;
	return MPS_TUNNEL_OUT_HIGH - n;
}

void
mps_tunnel_hold_input(mps_session_t *s, int hold)
{
	if (hold) {
		if (s->state == S_ACTIVE)
			s->input_held = 1;
		return;
	}
	if (!s->input_held)
		return;
	s->input_held = 0;
	/* The silence was ours, not the device's. */
	s->last_rx = apr_time_now();
	if (s->state != S_ACTIVE)
		return;
	/* Input already read may wait in the buffer with no poll to come:
	 * a task of its own parses it and reads on. */
	if (!s->pump_queued && mps_strand_post(s->strand, session_pump, s) ==
	    APR_SUCCESS)
		s->pump_queued = 1;
}

void
mps_tunnel_keep_buffers(mps_session_t *s, int keep)
{
	/* One pass's input (a chunk and a partial message) and the output
	 * a pass fills: the tunnel's whole OUT_MAX. */
	mps_stream_keep_buffers(&s->io, keep && s->state == S_ACTIVE,
	    OUT_MAX);
}

void
mps_tunnel_wait_room(mps_session_t *s)
{
	if (s->state == S_ACTIVE)
		s->wants_room = 1;
}

int
mps_tunnel_is_active(const mps_session_t *s)
{
	return s->state == S_ACTIVE;
}

void *
mps_tunnel_channels(const mps_session_t *s)
{
	return s->chans;
}

apr_status_t
mps_tunnel_set_channels(mps_session_t *s, void *state)
{
	if (state != NULL && s->state != S_ACTIVE)
		return APR_EINVAL;
	s->chans = state;
	return APR_SUCCESS;
}

const char *
mps_tunnel_name(const mps_session_t *s, char *buf, size_t size)
{
	return session_name(s, buf, size);
}

void
mps_tunnel_warn(mps_session_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mps_log_vlimited(&s->warn_limit, MPS_TUNNEL_WARN_BURST,
	    MPS_TUNNEL_WARN_INTERVAL, MPS_LOG_WARNING, fmt, ap);
	va_end(ap);
}

mps_strand_t *
mps_tunnel_strand(const mps_session_t *s)
{
	return s->strand;
}

mps_amt_side_t *
mps_tunnel_side(const mps_session_t *s)
{
	return s->side;
}

mps_device_t *
mps_tunnel_device(const mps_session_t *s)
{
	return s->dev;
}

/* ---- finalizing ------------------------------------------------------- */

/* In Mode plain every device arrives from the TLS terminator's address:
 * the per-address limit would cap all devices together, so it is left
 * to the terminator (the total and the random drop still apply). */
static unsigned
admit_flags(const mps_amt_side_t *side)
{
	return side->tls == NULL ? MPS_ADMIT_ANY_ADDRESS : 0;
}

/* Gives the pre-auth slot back (once): the session authenticated, or
 * it ends before that. */
static void
preauth_release(mps_session_t *s)
{
	if (s->preauth && s->side->admission != NULL)
		mps_admission_leave(s->side->admission, s->ip, s->admit_flags);
	s->preauth = 0;
}

/* Gives the MaxHandshakes slot back (once): the handshake ended, or the
 * session did. */
static void
gate_release(mps_session_t *s)
{
	if (s->gate_held) {
		mps_metric_gauge_add(MPS_M_HANDSHAKES_RUNNING, -1);
		mps_gate_leave(s->side->handshakes);
	}
	s->gate_held = 0;
}

static void
session_finalize(mps_session_t *s)
{
	mps_amt_side_t *side = s->side;
	mps_timers_t *timers = mps_poller_timers(side->poller);

	if (s->state == S_CLOSED)
		return;
	s->state = S_CLOSED;
	mps_timer_cancel(timers, &s->deadline);
	mps_timer_cancel(timers, &s->settle);
	/* The channel layer first (a session that fails its connection
	 * without session_close, e.g. a write error while closing). */
	channels_closing(s);
	if (s->reg != NULL) {
		mps_poller_release(side->poller, s->reg);
		s->reg = NULL;
	}
	if (s->wrap != NULL) {
		mps_sockwrap_put(s->wrap);
		s->wrap = NULL;
	}
	account_bytes(s);
	mps_stream_close(&s->io);
	free(s->px);
	s->px = NULL;
	if (s->counted)
		atomic_fetch_sub(&side->active, 1);
	s->counted = 0;
	gate_release(s);
	if (s->gate_waiting &&
	    mps_gate_cancel(side->handshakes, &s->gate_wait)) {
		mps_metric_gauge_add(MPS_M_HANDSHAKES_WAITING, -1);
		s->gate_waiting = 0;
		session_unref(s);	/* the queue's reference */
	}
	/* Else granted meanwhile: gate_open() gives the slot back. */
	preauth_release(s);
	if (s->dev != NULL) {
		mps_device_release(s->dev);
		s->dev = NULL;
	}
	atomic_fetch_sub(&side->open, 1);
	session_unref(s);	/* the connection's reference */
}

/*
 * Ends the session: logs why (when fmt is given), leaves the registry,
 * queues DISCONNECT reason (0: none) and closes once it is flushed or the
 * linger runs out.
 */
static void
session_close(mps_session_t *s, apr_uint32_t reason, mps_log_level_t level,
    const char *fmt, ...)
{
	mps_amt_side_t *side = s->side;
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	char why[512];
	va_list ap;

	if (s->state >= S_CLOSING)
		return;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		if (reason != 0)
			mps_log(level, "Intel remote client %s (%s): %s; "
			    "disconnecting (reason %u)",
			    session_name(s, name, sizeof(name)), s->peer, why,
			    (unsigned)reason);
		else
			mps_log(level, "Intel remote client %s (%s): %s",
			    session_name(s, name, sizeof(name)), s->peer, why);
	}
	if (s->dev != NULL) {
		/* Only if this tunnel is still the registered one: a newer
		 * tunnel of the same device must never be removed by the old
		 * one's late close. */
		(void)mps_registry_unregister(side->registry, s->dev);
		/* Same rule in the directory: only this login's record. */
		(void)mps_directory_remove(side->directory,
		    mps_device_uuid(s->dev), s->dev);
		mps_log(MPS_LOG_INFO, "[%s] Intel remote client has disconnected",
		    session_name(s, name, sizeof(name)));
		/* Only a device whose CONNECTED went out, so that
		 * subscribers always see the pair in order. */
		if (s->notified && side->notifier != NULL &&
		    atomic_load(&s->moved_away))
			/* Issue 14: only the owning instance notifies, and
			 * the device is still connected, elsewhere (that
			 * instance sent its CONNECTED). */
			mps_log(MPS_LOG_INFO, "[%s] not notified as "
			    "disconnected: the device is connected to another "
			    "instance", session_name(s, name, sizeof(name)));
		else if (s->notified && side->notifier != NULL)
			mps_notifier_device_event(side->notifier, s->dev,
			    MPS_NOTIFY_DISCONNECTED, 0);
		s->notified = 0;
	}
	s->state = S_CLOSING;
	mps_timer_cancel(mps_poller_timers(side->poller), &s->settle);
	/* Every channel of this tunnel is marked closed now and freed by a
	 * later task: the caller may be inside a walk of that table. */
	channels_closing(s);
	/* The last count of a flood of refusals, before the tunnel goes. */
	mps_log_limit_flush(&s->warn_limit, MPS_LOG_WARNING,
	    "Intel remote client %s (%s)", session_name(s, name, sizeof(name)),
	    s->peer);
	if (reason != 0 && s->io.handshake_done && s->io.fd >= 0)
		(void)mps_apf_encode_disconnect(&s->io.out, reason);
	(void)mps_timer_arm(mps_poller_timers(side->poller), &s->deadline,
	    CLOSE_LINGER);
	/* The pump flushes and finalizes; run it now, we are on the strand. */
	session_pump(s);
}

void
mps_tunnel_close(mps_session_t *s, apr_uint32_t reason, mps_log_level_t level,
    const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (fmt == NULL) {
		session_close(s, reason, level, NULL);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	session_close(s, reason, level, "%s", why);
}

/* ---- authentication --------------------------------------------------- */

static void
auth_succeeded(mps_session_t *s, const char *user, const char *how)
{
	mps_amt_side_t *side = s->side;
	mps_device_t *dev = NULL, *replaced = NULL;
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	apr_status_t rv;

	mps_auth_throttle_success(side->throttle, s->ip);
	/* Authenticated: from the pre-auth budget to the devices' own, which
	 * unauthenticated connections never touch. */
	preauth_release(s);
	if (atomic_fetch_add(&side->active, 1) >=
	    (unsigned)side->cfg->max_connections) {
		static mps_ratelog_t full_log;
		unsigned long missed = 0;

		atomic_fetch_sub(&side->active, 1);
		mps_metric_inc(MPS_M_FULL_DEVICES);
		if (mps_ratelog_allow(&full_log, apr_time_now(),
		    FULL_LOG_INTERVAL, &missed))
			mps_log(MPS_LOG_WARNING, "MaxConnections (%d) reached: "
			    "refusing the Intel remote client %s at %s (and %lu "
			    "more since the last such message)",
			    side->cfg->max_connections, s->uuid, s->peer, missed);
		session_close(s, MPS_APF_DISCONNECT_TOO_MANY_CONNECTIONS,
		    MPS_LOG_DEBUG, "MaxConnections reached");
		return;
	}
	s->counted = 1;
	rv = mps_device_create(s->uuid, s->peer, s->trigger, s, s->strand,
	    device_entry_freed, &dev);
	if (rv != APR_SUCCESS) {
		session_close(s, MPS_APF_DISCONNECT_TEMPORARILY_UNAVAILABLE,
		    MPS_LOG_ERROR, "cannot register the device: out of memory");
		return;
	}
	session_ref(s);		/* held by the entry until on_free */
	s->dev = dev;
	rv = mps_registry_register(side->registry, dev, &replaced);
	if (rv != APR_SUCCESS) {
		session_close(s, MPS_APF_DISCONNECT_TEMPORARILY_UNAVAILABLE,
		    MPS_LOG_ERROR, "cannot register the device");
		return;
	}
	if (replaced != NULL) {
		mps_session_t *old = mps_device_session(replaced);
		mps_log(MPS_LOG_INFO, "Intel remote client %s reconnected from %s: "
		    "its previous tunnel from %s is closed (newest wins)",
		    s->uuid, s->peer, mps_device_peer(replaced));
		mps_session_request_close(old, MPS_APF_DISCONNECT_BY_APPLICATION,
		    "replaced by a newer tunnel of the same device");
		mps_device_release(replaced);
	}
	/* The claim across instances (directory.h, NEWEST WINS): never
	 * waits; another instance holding the device hears of it. */
	if (side->directory != NULL &&
	    mps_directory_record_device(side->directory, dev) != APR_SUCCESS)
		mps_log(MPS_LOG_ERROR, "Intel remote client %s: cannot record "
		    "it in the device directory: out of memory", s->uuid);
	s->state = S_PFWD_SERVICE;
	if (queued(s, mps_apf_encode_userauth_success(&s->io.out)) != 0)
		return;
	/* From here on a much larger input is legitimate (channel data). */
	{
		size_t in_max = MPS_APF_CHANNEL_DATA_HDR_LEN + max_channel_data(s);
		if (in_max < MPS_APF_MAX_CONTROL_LEN)
			in_max = MPS_APF_MAX_CONTROL_LEN;
		(void)mps_buf_set_max_size(&s->io.in, in_max);
	}
	/* The login deadline is over; the idle timeout starts. */
	s->last_rx = apr_time_now();
	(void)mps_timer_arm(mps_poller_timers(side->poller), &s->deadline,
	    side->cfg->idle_timeout);
	mps_log(MPS_LOG_DEBUG, "Intel remote client %s (%s) authenticated %s%s",
	    s->uuid, s->peer, how, user);
	mps_log(MPS_LOG_INFO, "Intel remote client %s is now connected.",
	    session_name(s, name, sizeof(name)));
}

/* The refusal: USERAUTH_FAILURE now, close after a short delay. */
static void
auth_refuse_now(mps_session_t *s)
{
	if (queued(s, mps_apf_encode_userauth_failure(&s->io.out,
	    mps_apf_cstr(MPS_APF_METHOD_PASSWORD))) != 0)
		return;
	s->state = S_AUTH_FAILED;
	s->failure_sent = 1;
	(void)mps_timer_arm(mps_poller_timers(s->side->poller), &s->deadline,
	    FAIL_LINGER);
}

static void
auth_failed(mps_session_t *s, const char *user, const char *detail)
{
	apr_interval_time_t delay;

	mps_log(MPS_LOG_WARNING, "Intel remote client %s (%s) failed to "
	    "authenticate as \"%s\"%s%s", s->uuid, s->peer, user,
	    detail[0] != '\0' ? ": " : "", detail);
	delay = mps_auth_throttle_failure(s->side->throttle, s->ip,
	    apr_time_now());
	if (delay > 0) {
		/* Repeated failures from this address: answer later. */
		s->state = S_AUTH_FAILED;
		(void)mps_timer_arm(mps_poller_timers(s->side->poller),
		    &s->deadline, delay);
		return;
	}
	auth_refuse_now(s);
}

/* Strand: the plugin's verdict. */
static void
auth_done(void *owner, mps_auth_verdict_t verdict, const char *user,
    const char *err)
{
	mps_session_t *s = owner;

	if (s->state == S_AUTH_PENDING) {
		if (verdict == MPS_AUTH_BUSY) {
			/* The device login lane is full or the wait ran out
			 * (auth_job.c logs the WARNING, rate-limited). The
			 * device gets its usual refusal, at once and without
			 * the throttle: the fault is ours, and AMT tries
			 * again on its own. */
			mps_metric_inc(MPS_M_LOGIN_BUSY);
			mps_log(MPS_LOG_DEBUG, "Intel remote client %s (%s): "
			    "login as \"%s\" refused unheard: no device "
			    "login thread free in time", s->uuid, s->peer,
			    user);
			auth_refuse_now(s);
		} else {
			mps_metric_inc(verdict == MPS_AUTH_GRANTED ?
			    MPS_M_LOGIN_OK_PASSWORD :
			    MPS_M_LOGIN_BAD_CREDENTIALS);
			if (verdict == MPS_AUTH_GRANTED)
				auth_succeeded(s, user, "as user ");
			else
				auth_failed(s, user, err);
		}
		if (s->state < S_CLOSING)
			session_pump(s);
	}
	session_unref(s);	/* the job's reference */
}

static void
auth_dropped(void *owner)
{
	session_unref(owner);
}

static void
start_plugin_auth(mps_session_t *s, mps_apf_str_t user, mps_apf_str_t password)
{
	apr_status_t rv;

	session_ref(s);
	s->state = S_AUTH_PENDING;
	/* The login deadline stops: the plugin has its own timeouts. */
	mps_timer_cancel(mps_poller_timers(s->side->poller), &s->deadline);
	if (s->side->settings != NULL)
		rv = mps_auth_job_start_live(s->side->workers, s->side->settings,
		    MPS_LIVE_AMT_AUTH, s->strand, user.ptr, user.len,
		    password.ptr, password.len, auth_done, auth_dropped, s);
	else
		rv = mps_auth_job_start(s->side->workers,
		    MPS_LANE_DEVICE_AUTH, s->side->auth,
		    s->strand, user.ptr, user.len, password.ptr, password.len,
		    auth_done, auth_dropped, s);
	if (rv != APR_SUCCESS) {
		session_unref(s);
		mps_metric_inc(MPS_M_LOGIN_ERROR);
		session_close(s, MPS_APF_DISCONNECT_TEMPORARILY_UNAVAILABLE,
		    MPS_LOG_ERROR, "cannot queue the authentication");
	}
}

/* ---- message handlers ------------------------------------------------- */

static void
on_protocolversion(mps_session_t *s, const mps_apf_msg_t *m)
{
	mps_apf_uuid_to_text(m->u.protocolversion.uuid, s->uuid);
	s->trigger = m->u.protocolversion.trigger;
	if (m->u.protocolversion.major != 1) {
		session_close(s, MPS_APF_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED,
		    MPS_LOG_WARNING, "APF version %u.%u is not supported",
		    (unsigned)m->u.protocolversion.major,
		    (unsigned)m->u.protocolversion.minor);
		return;
	}
	mps_log(MPS_LOG_DEBUG, "Intel remote client %s (%s): APF %u.%u, "
	    "trigger %u", s->uuid, s->peer,
	    (unsigned)m->u.protocolversion.major,
	    (unsigned)m->u.protocolversion.minor, (unsigned)s->trigger);
	s->state = S_AUTH_SERVICE;
}

static void
on_service_request(mps_session_t *s, const mps_apf_msg_t *m)
{
	const char *want = s->state == S_AUTH_SERVICE ? MPS_APF_SERVICE_AUTH :
	    MPS_APF_SERVICE_PFWD;

	if (!mps_apf_str_eq(m->u.service.service, want)) {
		session_close(s, MPS_APF_DISCONNECT_SERVICE_NOT_AVAILABLE,
		    MPS_LOG_WARNING, "service \"%.*s\" requested where %s was "
		    "expected", (int)(m->u.service.service.len > 64 ? 64 :
		    m->u.service.service.len), m->u.service.service.ptr, want);
		return;
	}
	if (queued(s, mps_apf_encode_service_accept(&s->io.out,
	    mps_apf_cstr(want))) != 0)
		return;
	s->state = s->state == S_AUTH_SERVICE ? S_USERAUTH : S_ACTIVE;
}

static void
on_userauth_request(mps_session_t *s, const mps_apf_msg_t *m)
{
	const mps_amt_side_t *side = s->side;
	mps_apf_str_t user = m->u.userauth_request.user;
	char shown[80];

	if (!mps_apf_str_eq(m->u.userauth_request.service, MPS_APF_SERVICE_PFWD)) {
		session_close(s, MPS_APF_DISCONNECT_SERVICE_NOT_AVAILABLE,
		    MPS_LOG_WARNING, "authentication for an unknown service");
		return;
	}
	/* A user name for the log: bounded, control characters are
	 * replaced by the logger. */
	snprintf(shown, sizeof(shown), "%.*s",
	    (int)(user.len > 64 ? 64 : user.len), user.ptr);
	if (memchr(user.ptr, '\0', user.len) != NULL) {
		mps_metric_inc(MPS_M_LOGIN_BAD_USER);
		session_close(s, MPS_APF_DISCONNECT_ILLEGAL_USER_NAME,
		    MPS_LOG_WARNING, "user name contains a NUL byte");
		return;
	}
	if (s->cert_verified) {
		/* Mutual TLS: the verified certificate is the identity. */
		mps_metric_inc(MPS_M_LOGIN_OK_CERTIFICATE);
		auth_succeeded(s, s->cert_cn != NULL ? s->cert_cn : "",
		    "by client certificate ");
		return;
	}
	if (side->auth == NULL) {
		mps_metric_inc(MPS_M_LOGIN_OK_NONE);
		auth_succeeded(s, shown, "without authentication (NeedAuthentication "
		    "false), user ");
		return;
	}
	if (m->u.userauth_request.kind != MPS_APF_AUTH_PASSWORD) {
		s->state = S_AUTH_PENDING;
		mps_metric_inc(MPS_M_LOGIN_NO_CREDENTIALS);
		auth_failed(s, shown, "method \"none\" without a client certificate");
		return;
	}
	if (m->u.userauth_request.password.len == 0 ||
	    memchr(m->u.userauth_request.password.ptr, '\0',
	    m->u.userauth_request.password.len) != NULL) {
		s->state = S_AUTH_PENDING;
		mps_metric_inc(MPS_M_LOGIN_NO_CREDENTIALS);
		auth_failed(s, shown, "empty or invalid password");
		return;
	}
	start_plugin_auth(s, user, m->u.userauth_request.password);
}

static void
send_keepalive_options(mps_session_t *s)
{
	const mps_config_t *cfg = s->side->cfg;

	if (s->keepalive_sent || cfg->keepalive_timing == MPS_KEEPALIVE_NEVER)
		return;
	s->keepalive_sent = 1;
	if (queued(s, mps_apf_encode_keepalive_options_request(&s->io.out,
	    (uint32_t)apr_time_sec(cfg->keepalive_interval), 0)) != 0)
		return;
}

/*
 * tcpip-forward and cancel-tcpip-forward are answered whatever want_reply
 * says: firmware sets the flag anyway, and an APF client in the field
 * sends want_reply 0 yet waits for REQUEST_SUCCESS before its next
 * forward (it would forward one port, never start its keepalives and be
 * dropped at IdleTimeout). A client that asked for no reply can ignore
 * one; udp-send-to still honours the flag.
 */
static void
on_tcpip_forward(mps_session_t *s, const mps_apf_msg_t *m, int cancel)
{
	const mps_apf_str_t addr = m->u.global_request.address;
	uint32_t port = m->u.global_request.port;
	mps_device_t *displaced = NULL;
	char fqdn[MPS_REGISTRY_FQDN_SIZE];
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	apr_status_t rv;

	if (addr.len >= sizeof(fqdn) || memchr(addr.ptr, '\0', addr.len) != NULL) {
		session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "tcpip-forward address is not a host name");
		return;
	}
	memcpy(fqdn, addr.ptr, addr.len);
	fqdn[addr.len] = '\0';
	if (port == 0 || port > 65535) {
		mps_tunnel_warn(s, "Intel remote client %s (%s): "
		    "tcpip-forward to port %u refused",
		    session_name(s, name, sizeof(name)), s->peer, (unsigned)port);
		(void)queued(s, mps_apf_encode_request_failure(&s->io.out));
		return;
	}
	if (cancel) {
		(void)mps_registry_remove_forward(s->side->registry, s->dev,
		    (apr_port_t)port);
		/* Only while this login is the registered one: a replaced
		 * tunnel's late cancel must not touch the directory. */
		if (s->side->directory != NULL &&
		    mps_device_is_registered(s->dev))
			(void)mps_directory_record_device(s->side->directory,
			    s->dev);
		mps_log(MPS_LOG_INFO, "Intel remote client %s cancelled port "
		    "forwarding to address %s:%u",
		    session_name(s, name, sizeof(name)),
		    fqdn[0] != '\0' ? fqdn : s->uuid, (unsigned)port);
		(void)queued(s, mps_apf_encode_request_success(&s->io.out));
		return;
	}
	/* Only this strand adds ports to s->dev: the count cannot change
	 * between the check and the add. */
	if (!mps_device_has_port(s->dev, (apr_port_t)port) &&
	    mps_device_ports(s->dev, NULL, 0) >=
	    (apr_size_t)s->side->cfg->max_forwards_per_device) {
		mps_metric_inc(MPS_M_FORWARDS_OVER_LIMIT);
		mps_tunnel_warn(s, "Intel remote client %s (%s): "
		    "tcpip-forward to port %u refused: %d ports are forwarded "
		    "already (MaxForwardsPerDevice)",
		    session_name(s, name, sizeof(name)), s->peer, (unsigned)port,
		    s->side->cfg->max_forwards_per_device);
		(void)queued(s, mps_apf_encode_request_failure(&s->io.out));
		return;
	}
	rv = mps_registry_add_forward(s->side->registry, s->dev, fqdn,
	    (apr_port_t)port, &displaced);
	if (displaced != NULL) {
		mps_tunnel_warn(s, "FQDN %s moved from Intel remote client "
		    "%s (%s) to %s (%s)", fqdn, mps_device_uuid(displaced),
		    mps_device_peer(displaced), s->uuid, s->peer);
		mps_device_release(displaced);
	}
	if (rv != APR_SUCCESS) {
		char msg[96];
		mps_tunnel_warn(s, "Intel remote client %s (%s): "
		    "tcpip-forward to port %u refused: %s",
		    session_name(s, name, sizeof(name)), s->peer, (unsigned)port,
		    mps_strerror(rv, msg, sizeof(msg)));
		(void)queued(s, mps_apf_encode_request_failure(&s->io.out));
		return;
	}
	/* The directory learns the name and ports (the write to Redis, if
	 * any, happens on the directory's thread). */
	if (s->side->directory != NULL)
		(void)mps_directory_record_device(s->side->directory, s->dev);
	if (queued(s, mps_apf_encode_request_success_port(&s->io.out, port)) != 0)
		return;
	mps_log(MPS_LOG_INFO, "Intel remote client %s started port forwarding "
	    "to address %s:%u", session_name(s, name, sizeof(name)),
	    fqdn[0] != '\0' ? fqdn : s->uuid, (unsigned)port);

	if (s->side->cfg->keepalive_timing == MPS_KEEPALIVE_AFTER_5900 &&
	    port == 5900)
		send_keepalive_options(s);
	/* Each forward restarts the wait; once they stop, the keepalive
	 * options go out (timing "settled", whether or not 5900 was among
	 * them) and subscribers hear of the device with its ports. */
	if ((!s->keepalive_sent &&
	    s->side->cfg->keepalive_timing == MPS_KEEPALIVE_SETTLED) ||
	    (!s->notified && s->side->notifier != NULL))
		(void)mps_timer_arm(mps_poller_timers(s->side->poller),
		    &s->settle, SETTLE_DELAY);
}

/*
 * A PET alert (udp-send-to@amt.intel.com): the outbound module checks
 * and sends it; want_reply is answered with whether it left.
 */
static void
on_udp_send_to(mps_session_t *s, const mps_apf_msg_t *m)
{
	const mps_amt_side_t *side = s->side;
	mps_outbound_t ob = { side->cfg, side->authorized_servers, side->udp,
	    &s->warn_limit };
	char name[MPS_DEVICE_LOG_NAME_SIZE], origin[MPS_DEVICE_LOG_NAME_SIZE + 96];
	mps_live_t *live = mps_live_acquire(side->settings);
	int ok;

	/* The list as the last reload left it, held for this check. */
	if (live != NULL)
		ob.servers = live->authorized_servers;
	snprintf(origin, sizeof(origin), "Intel remote client %s (%s)",
	    session_name(s, name, sizeof(name)), s->peer);
	ok = mps_outbound_udp_send_to(&ob, origin, m);
	mps_live_release(side->settings, live);
	if (m->u.global_request.want_reply)
		(void)queued(s, ok ? mps_apf_encode_request_success(&s->io.out) :
		    mps_apf_encode_request_failure(&s->io.out));
}

static void
on_global_request(mps_session_t *s, const mps_apf_msg_t *m)
{
	switch (m->u.global_request.kind) {
	case MPS_APF_GREQ_TCPIP_FORWARD:
		on_tcpip_forward(s, m, 0);
		break;
	case MPS_APF_GREQ_CANCEL_TCPIP_FORWARD:
		on_tcpip_forward(s, m, 1);
		break;
	case MPS_APF_GREQ_UDP_SEND_TO:
		on_udp_send_to(s, m);
		break;
	default:
		session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "unknown global request");
		break;
	}
}

static void
on_disconnect(mps_session_t *s, const mps_apf_msg_t *m)
{
	session_close(s, 0, MPS_LOG_INFO, "the device disconnected (reason %u)",
	    (unsigned)m->u.disconnect.reason);
}

static void
on_keepalive_request(mps_session_t *s, const mps_apf_msg_t *m)
{
	(void)queued(s, mps_apf_encode_keepalive_reply(&s->io.out,
	    m->u.keepalive.cookie));
}

static void
on_keepalive_reply(mps_session_t *s, const mps_apf_msg_t *m)
{
	(void)s;
	(void)m;
}

static void
on_keepalive_options_reply(mps_session_t *s, const mps_apf_msg_t *m)
{
	mps_log(MPS_LOG_DEBUG, "Intel remote client %s: keepalive interval %u s, "
	    "timeout %u s accepted", s->uuid,
	    (unsigned)m->u.keepalive_options.interval,
	    (unsigned)m->u.keepalive_options.timeout);
}

/*
 * One row per message type: its handler and the states that accept it
 * (LMS's order). A type without a row, or in another state, ends the
 * session with a protocol error before its body is even buffered.
 */
#define IN(st) (1u << (st))
#define LOGIN_STATES (IN(S_AUTH_SERVICE) | IN(S_USERAUTH) | IN(S_PFWD_SERVICE))
#define ANY_STATE (IN(S_VERSION) | LOGIN_STATES | IN(S_ACTIVE))

typedef struct handler {
	void (*fn)(mps_session_t *s, const mps_apf_msg_t *m);
	unsigned states;		/* IN(state) bits */
} handler;

static const handler handlers[256] = {
	[MPS_APF_DISCONNECT] = { on_disconnect, ANY_STATE },
	[MPS_APF_PROTOCOLVERSION] = { on_protocolversion, IN(S_VERSION) },
	[MPS_APF_SERVICE_REQUEST] = { on_service_request,
	    IN(S_AUTH_SERVICE) | IN(S_PFWD_SERVICE) },
	[MPS_APF_USERAUTH_REQUEST] = { on_userauth_request, IN(S_USERAUTH) },
	[MPS_APF_KEEPALIVE_REQUEST] = { on_keepalive_request,
	    LOGIN_STATES | IN(S_ACTIVE) },
	[MPS_APF_KEEPALIVE_REPLY] = { on_keepalive_reply, IN(S_ACTIVE) },
	[MPS_APF_KEEPALIVE_OPTIONS_REPLY] = { on_keepalive_options_reply,
	    IN(S_ACTIVE) },
	[MPS_APF_GLOBAL_REQUEST] = { on_global_request, IN(S_ACTIVE) },
	[MPS_APF_CHANNEL_OPEN] = { on_channel_open, IN(S_ACTIVE) },
	[MPS_APF_CHANNEL_OPEN_CONFIRMATION] = { on_channel_message, IN(S_ACTIVE) },
	[MPS_APF_CHANNEL_OPEN_FAILURE] = { on_channel_message, IN(S_ACTIVE) },
	[MPS_APF_CHANNEL_WINDOW_ADJUST] = { on_channel_message, IN(S_ACTIVE) },
	[MPS_APF_CHANNEL_DATA] = { on_channel_message, IN(S_ACTIVE) },
	[MPS_APF_CHANNEL_CLOSE] = { on_channel_message, IN(S_ACTIVE) },
};

static const handler *
handler_for(session_state st, uint8_t type)
{
	const handler *h = &handlers[type];

	return h->fn != NULL && (h->states & IN(st)) != 0 ? h : NULL;
}

/* Parses and handles every complete message in the input. */
static void
parse_input(mps_session_t *s)
{
	while (input_wanted(s) && mps_buf_len(&s->io.in) > 0) {
		const uint8_t *p = mps_buf_ptr(&s->io.in);
		size_t n = mps_buf_len(&s->io.in), mlen = 0;
		const handler *h;
		mps_apf_msg_t m;
		char msg[96];
		apr_status_t rv;

		/* The type byte alone decides whether to go on: a message
		 * out of order is refused before its body is buffered. */
		if ((h = handler_for(s->state, p[0])) == NULL) {
			session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
			    MPS_LOG_WARNING, "%s (type %u) not allowed in state %s",
			    mps_apf_msg_name(p[0]), p[0], state_names[s->state]);
			return;
		}
		rv = mps_apf_frame_len(p, n, max_channel_data(s), &mlen);
		if (rv == MPS_NEED_MORE) {
			if (n >= mps_buf_max_size(&s->io.in))
				session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
				    MPS_LOG_WARNING, "%s larger than %zu bytes",
				    mps_apf_msg_name(p[0]), n);
			return;
		}
		if (rv == APR_SUCCESS)
			rv = mps_apf_decode(p, mlen, &m);
		if (rv != APR_SUCCESS) {
			session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
			    MPS_LOG_WARNING, "malformed %s: %s",
			    mps_apf_msg_name(p[0]), mps_strerror(rv, msg, sizeof(msg)));
			return;
		}
		h->fn(s, &m);
		if (s->state >= S_CLOSING)
			return;
		(void)mps_buf_consume(&s->io.in, mlen);
	}
}

/* ---- the PROXY header (AMTProxyProtocol) ------------------------------ */

/* What proxy_step leaves the pump to do: wait for the socket, nothing
 * (the session is finalized), or go on with the state it set. */
enum { STEP_WAIT, STEP_GONE, STEP_NEXT };

/* Refusals a flood could repeat: one WARNING per FULL_LOG_INTERVAL each. */
static mps_ratelog_t px_bad_log, px_forged_log;

static void MPS_PRINTF(2, 3)
proxy_refuse(mps_ratelog_t *rl, const char *fmt, ...)
{
	unsigned long missed = 0;
	char line[384];
	va_list ap;

	if (!mps_ratelog_allow(rl, apr_time_now(), FULL_LOG_INTERVAL, &missed))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	mps_log(MPS_LOG_WARNING, "%s (and %lu more since the last such "
	    "message)", line, missed);
}

static int
would_block(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

/*
 * A whole header: the device's address replaces the balancer's in
 * everything that names the peer from now on (logs, the login throttle,
 * the registry entry the admin API and metrics show), and the pre-auth
 * slot moves to it, so MaxPreAuthPerAddress applies to each device
 * behind the balancer, in plain mode too.
 */
static int
proxy_apply(mps_session_t *s, const mps_proxy_info_t *info)
{
	mps_amt_side_t *side = s->side;
	char peer[sizeof(s->peer)];

	free(s->px);
	s->px = NULL;
	if (info->local) {
		mps_log(MPS_LOG_DEBUG, "PROXY v%d header from %s names no "
		    "client (%s): the connection keeps the balancer's address",
		    info->version, s->peer, info->version == 2 ? "LOCAL" :
		    "UNKNOWN");
		s->px_mode = PX_LOCAL;
		return STEP_NEXT;
	}
	if (info->family == AF_INET6)
		snprintf(peer, sizeof(peer), "[%s]:%u", info->src_ip,
		    (unsigned)info->src_port);
	else
		snprintf(peer, sizeof(peer), "%s:%u", info->src_ip,
		    (unsigned)info->src_port);
	if (s->preauth && side->admission != NULL &&
	    mps_admission_move(side->admission, s->ip, s->admit_flags,
	    info->src_ip, 0, "AMT") != MPS_ADMIT_OK) {
		/* Counted and logged by the budget, naming the device. */
		s->preauth = 0;
		session_finalize(s);
		return STEP_GONE;
	}
	s->admit_flags = 0;
	mps_log(MPS_LOG_DEBUG, "PROXY v%d header from %s: the device is %s "
	    "(%u TLVs ignored)", info->version, s->peer, peer, info->tlvs);
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	snprintf(s->ip, sizeof(s->ip), "%s", info->src_ip);
	s->state = S_TLS;
	return STEP_NEXT;
}

/*
 * Reads the header of a trusted balancer. Bytes are peeked, and only
 * those that are surely header are taken from the socket: the parser says
 * where the header ends, so the TLS ClientHello (or plain APF) after it
 * stays for the stream. Whatever a peek shows is either the header's
 * beginning (taken, so the next poll waits for more instead of spinning)
 * or decides it.
 */
static int
proxy_read_header(mps_session_t *s)
{
	struct proxy_read *px = s->px;
	mps_proxy_info_t info;
	const char *why;
	size_t used;
	ssize_t n, got;

	if (px == NULL) {
		px = s->px = malloc(sizeof(*px));
		if (px == NULL) {
			mps_log(MPS_LOG_ERROR, "out of memory reading the PROXY "
			    "header from %s", s->peer);
			session_finalize(s);
			return STEP_GONE;
		}
		px->have = 0;
	}
	for (;;) {
		mps_proxy_rc_t rc;

		n = recv(s->io.fd, px->buf + px->have, sizeof(px->buf) - px->have,
		    MSG_PEEK);
		if (n < 0 && would_block())
			return STEP_WAIT;
		if (n <= 0) {
			/* A trusted balancer that closes before any header is
			 * most likely a TCP health check without PROXY. (The
			 * parser ends every header within the buffer, so a
			 * full buffer, a zero-length peek, cannot happen.) */
			mps_log(MPS_LOG_DEBUG, "%s closed the connection before "
			    "its PROXY header", s->peer);
			session_finalize(s);
			return STEP_GONE;
		}
		rc = mps_proxy_parse(px->buf, px->have + (size_t)n, &info, &used,
		    &why);
		if (rc == MPS_PROXY_BAD) {
			proxy_refuse(&px_bad_log, "invalid PROXY header from %s "
			    "(AMTProxyTrusted): %s; connection refused", s->peer,
			    why);
			session_finalize(s);
			return STEP_GONE;
		}
		/* Take exactly the header's bytes, all of them peeked (a
		 * stream socket's queue gives them back in full). */
		got = recv(s->io.fd, px->buf + px->have, used - px->have, 0);
		if (got < 0 || (size_t)got != used - px->have) {
			mps_log(MPS_LOG_WARNING, "reading the PROXY header from %s "
			    "failed", s->peer);
			session_finalize(s);
			return STEP_GONE;
		}
		px->have = used;
		if (rc == MPS_PROXY_DONE)
			return proxy_apply(s, &info);
		/* MORE: all that was there is taken; the next peek finds new
		 * bytes or would block, and the poll waits for them. */
	}
}

/* S_PROXY's work; see PX_HEADER, PX_SNIFF and PX_LOCAL. */
static int
proxy_step(mps_session_t *s)
{
	unsigned char first[12];
	ssize_t n;

	if (s->px_mode == PX_HEADER) {
		int r = proxy_read_header(s);

		if (r != STEP_NEXT || s->state != S_PROXY)
			return r;
	}
	n = recv(s->io.fd, first, s->px_mode == PX_SNIFF ? sizeof(first) : 1,
	    MSG_PEEK);
	if (n < 0 && would_block())
		return STEP_WAIT;
	if (s->px_mode == PX_SNIFF) {
		if (n > 0 && mps_proxy_looks_like(first, (size_t)n)) {
			proxy_refuse(&px_forged_log, "PROXY header from %s, which "
			    "is not in AMTProxyTrusted: connection refused",
			    s->peer);
			session_finalize(s);
			return STEP_GONE;
		}
		/* A device of its own: TLS (or plain APF) reports an end or
		 * an error as for any device. */
		s->state = S_TLS;
		return STEP_NEXT;
	}
	/* PX_LOCAL */
	if (n <= 0) {
		mps_log(MPS_LOG_DEBUG, "%s: balancer health check (PROXY header "
		    "without client) ended", s->peer);
		session_finalize(s);
		return STEP_GONE;
	}
	s->state = S_TLS;
	return STEP_NEXT;
}

/* ---- the pump: all I/O of a session ----------------------------------- */

static void
handshake_done(mps_session_t *s)
{
	mps_amt_side_t *side = s->side;
	char desc[128];

	if (s->io.ssl != NULL) {
		mps_log(MPS_LOG_DEBUG, "TLS from %s: %s", s->peer,
		    mps_tls_describe_handshake(s->io.ssl, desc, sizeof(desc)));
		if (side->cfg->tls_verify_client != MPS_VERIFY_CLIENT_NONE) {
			char cn[256];
			if (mps_tls_peer_identity(s->io.ssl, cn, sizeof(cn)) ==
			    APR_SUCCESS) {
				s->cert_verified = 1;
				s->cert_cn = strdup(cn);
			}
		}
	}
	s->state = S_VERSION;
}

/*
 * Writes queued output and waits for what the state needs next.
 *
 * The wake-up path between the tunnel's output and the channels waiting
 * for room in it: whenever a write leaves the queue below
 * MPS_TUNNEL_OUT_LOW and the channel layer asked (mps_tunnel_wait_room),
 * it is told at once, and what it queues is written in the same pass. A
 * pass does this a few rounds; if the channels still wait after that,
 * the pass posts itself again rather than hog a worker, so bytes that
 * are ready never wait for a timer or a poll that may not come.
 */
static void
session_flush_and_wait(mps_session_t *s)
{
	char err[256];
	apr_status_t rv;
	apr_int16_t ev;
	int rounds = 0;

again:
	rv = mps_stream_flush(&s->io, err, sizeof(err));
	account_bytes(s);
	if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
		if (s->state < S_CLOSING)
			session_close(s, 0, MPS_LOG_WARNING, "%s", err);
		else
			session_finalize(s);
		return;
	}
	if (s->state == S_CLOSING && rv == APR_SUCCESS) {
		session_finalize(s);
		return;
	}
	if (s->wants_room && s->state == S_ACTIVE &&
	    mps_stream_out_bytes(&s->io) < MPS_TUNNEL_OUT_LOW) {
		const mps_tunnel_ops_t *ops = &s->side->channel_ops;

		if (rounds++ < DRAIN_ROUNDS) {
			s->wants_room = 0;
			if (s->chans != NULL && ops->output_drained != NULL)
				ops->output_drained(s);
			if (s->state == S_CLOSED)
				return;
			goto again;
		}
		/* Still waiting: go on in a new task of the strand. */
		if (!s->pump_queued && mps_strand_post(s->strand, session_pump,
		    s) == APR_SUCCESS) {
			s->pump_queued = 1;
			return;
		}
	}

	if (input_wanted(s) && (s->more_input || mps_stream_pending(&s->io))) {
		/* TLS holds decrypted bytes no poll would announce, or the
		 * pass stopped at its budget with more in the socket. */
		if (!s->pump_queued && mps_strand_post(s->strand, session_pump,
		    s) == APR_SUCCESS)
			s->pump_queued = 1;
		return;
	}
	/* While a login is decided, or the channel layer holds the input,
	 * input waits in the socket: nothing is watched but pending
	 * output. */
	ev = mps_stream_events(&s->io, input_wanted(s) || s->state <= S_TLS);
	if (ev == 0 && s->state == S_CLOSING) {
		session_finalize(s);
		return;
	}
	if (ev != 0 && mps_poller_watch(s->side->poller, s->reg, ev) !=
	    APR_SUCCESS)
		session_close(s, 0, MPS_LOG_ERROR, "cannot watch the socket");
}

static void
session_pump_body(mps_session_t *s)
{
	char err[256];
	apr_status_t rv;

	if (s->state == S_PROXY) {
		switch (proxy_step(s)) {
		case STEP_WAIT:
			goto wait;
		case STEP_GONE:
			return;
		default:
			break;
		}
	}
	if (s->state == S_TLS) {
		if (!handshake_slot(s)) {
			/* Before its first bytes: watch for them. */
			if (!s->gate_waiting && mps_poller_watch(s->side->poller,
			    s->reg, APR_POLLIN) != APR_SUCCESS)
				session_close(s, 0, MPS_LOG_ERROR,
				    "cannot watch the socket");
			return;
		}
		rv = mps_stream_handshake(&s->io, err, sizeof(err));
		if (rv == APR_EAGAIN)
			goto wait;
		if (rv != APR_SUCCESS) {
			/* One line per FULL_LOG_INTERVAL: a handshake flood
			 * fails hundreds a second; the metric counts all. */
			static mps_ratelog_t fail_log;
			unsigned long missed = 0;

			mps_metric_inc(MPS_M_TLS_FAIL_ERROR);
			if (mps_ratelog_allow(&fail_log, apr_time_now(),
			    FULL_LOG_INTERVAL, &missed))
				mps_log(MPS_LOG_WARNING, "TLS handshake with %s "
				    "failed: %s (and %lu more since the last such "
				    "message)", s->peer, err, missed);
			session_finalize(s);
			return;
		}
		handshake_done(s);
		gate_release(s);
	}

	s->more_input = 0;
	if (input_wanted(s)) {
		unsigned long long start = s->io.bytes_in, before;

		/* A chunk at a time, parsed before the next is read, so that
		 * the input buffer stays one chunk (plus a message) while a
		 * pass moves up to READ_BUDGET. */
		for (;;) {
			before = s->io.bytes_in;
			rv = mps_stream_read(&s->io, READ_CHUNK, err,
			    sizeof(err));
			if (mps_buf_len(&s->io.in) > 0)
				s->last_rx = apr_time_now();
			parse_input(s);
			if (s->state == S_CLOSED)
				return;
			if (rv != APR_SUCCESS || !input_wanted(s) ||
			    s->io.bytes_in - before < READ_CHUNK)
				break;	/* drained, ended, or held */
			if (s->io.bytes_in - start >= READ_BUDGET) {
				s->more_input = 1;
				break;
			}
		}
		if (rv == APR_EOF && s->state < S_CLOSING) {
			/* DEBUG either way: an authenticated device's end has
			 * the guide's line, and an unauthenticated one's is
			 * what a handshake flood does hundreds of times a
			 * second. */
			session_close(s, 0, MPS_LOG_DEBUG,
			    "connection closed by the device");
			return;
		}
		if (rv != APR_SUCCESS && rv != APR_EOF && rv != MPS_ERR_TOO_LARGE &&
		    s->state < S_CLOSING) {
			session_close(s, 0, MPS_LOG_WARNING, "%s", err);
			return;
		}
	}
wait:
	session_flush_and_wait(s);
}

static void
session_pump(void *arg)
{
	mps_session_t *s = arg;
	unsigned was = s->in_pump;

	s->pump_queued = 0;
	if (s->state == S_CLOSED)
		return;
	/* Output the relay queues meanwhile is written at the end. */
	s->in_pump = 1;
	session_pump_body(s);
	s->in_pump = was;
}

void
mps_tunnel_kick(mps_session_t *s)
{
	/* A closing tunnel is flushed by its own close path. */
	if (s->in_pump || s->state != S_ACTIVE)
		return;
	s->in_pump = 1;
	session_flush_and_wait(s);
	s->in_pump = 0;
}

/* Poll event: a task on the strand. */
static void
session_io(void *arg)
{
	mps_session_t *s = arg;

	if (s->state == S_CLOSED)
		return;
	s->spoke = 1;		/* readable (or ended): see handshake_slot */
	if (close_req_take(s))
		return;		/* the close ran the pump */
	session_pump(s);
}

/* The deadline timer, on the strand. */
static void
session_deadline(void *arg)
{
	mps_session_t *s = arg;
	mps_amt_side_t *side = s->side;
	apr_time_t now = apr_time_now();

	if (s->state != S_CLOSED && close_req_take(s))
		return;
	switch (s->state) {
	case S_PROXY:
		if (s->px_mode == PX_HEADER) {
			static mps_ratelog_t px_log;
			unsigned long missed = 0;

			if (mps_ratelog_allow(&px_log, now, FULL_LOG_INTERVAL,
			    &missed))
				mps_log(MPS_LOG_WARNING, "no PROXY header from %s "
				    "(AMTProxyTrusted) within %ld s: closed (and "
				    "%lu more since the last such message)", s->peer,
				    (long)apr_time_sec(handshake_deadline(side->cfg)),
				    missed);
			session_finalize(s);
			break;
		}
		/* Waiting for the device's first byte: as S_TLS. */
		/* FALLTHROUGH */
	case S_TLS:
	case S_VERSION:
	case S_AUTH_SERVICE:
	case S_USERAUTH:
		if (s->state <= S_TLS) {
			/* One line per FULL_LOG_INTERVAL: an idle-socket
			 * flood makes thousands of these, and the metric
			 * counts every one. */
			static mps_ratelog_t tls_log;
			unsigned long missed = 0;

			mps_metric_inc(MPS_M_TLS_FAIL_TIMEOUT);
			if (mps_ratelog_allow(&tls_log, now, FULL_LOG_INTERVAL,
			    &missed))
				mps_log(MPS_LOG_WARNING, "no TLS handshake from %s "
				    "within %ld s: closed (and %lu more since "
				    "the last such message)", s->peer,
				    (long)apr_time_sec(handshake_deadline(side->cfg)),
				    missed);
			session_finalize(s);
		} else {
			static mps_ratelog_t login_log;
			unsigned long missed = 0;

			mps_metric_inc(MPS_M_LOGIN_TIMEOUT);
			if (mps_ratelog_allow(&login_log, now, FULL_LOG_INTERVAL,
			    &missed))
				mps_log(MPS_LOG_WARNING, "no login from %s within "
				    "%ld s of connecting (state %s): closed (and "
				    "%lu more since the last such message)",
				    s->peer,
				    (long)apr_time_sec(handshake_deadline(side->cfg)),
				    state_names[s->state], missed);
			session_close(s, MPS_APF_DISCONNECT_CONNECTION_TIMED_OUT,
			    MPS_LOG_DEBUG, "no login in time");
		}
		break;
	case S_AUTH_FAILED:
		if (!s->failure_sent) {
			auth_refuse_now(s);
			session_pump(s);
		} else {
			session_close(s, MPS_APF_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
			    MPS_LOG_DEBUG, "closing after the refused login");
		}
		break;
	case S_PFWD_SERVICE:
	case S_ACTIVE:
		if (s->input_held) {
			/* Not reading is our doing: the channel layer bounds
			 * it, and the silence counts from the resume. */
			(void)mps_timer_arm(mps_poller_timers(side->poller),
			    &s->deadline, side->cfg->idle_timeout);
		} else if (now - s->last_rx >= side->cfg->idle_timeout) {
			mps_metric_inc(MPS_M_KEEPALIVE_TIMEOUTS);
			session_close(s, MPS_APF_DISCONNECT_CONNECTION_TIMED_OUT,
			    MPS_LOG_WARNING, "silent for %ld s (IdleTimeout): "
			    "tunnel dropped", (long)apr_time_sec(now - s->last_rx));
		} else {
			(void)mps_timer_arm(mps_poller_timers(side->poller),
			    &s->deadline,
			    side->cfg->idle_timeout - (now - s->last_rx));
		}
		break;
	case S_CLOSING:
		session_finalize(s);
		break;
	default:
		break;
	}
}

static void
session_settled(void *arg)
{
	mps_session_t *s = arg;

	if (s->state != S_ACTIVE)
		return;
	if (s->side->cfg->keepalive_timing == MPS_KEEPALIVE_SETTLED)
		send_keepalive_options(s);
	if (!s->notified && s->side->notifier != NULL && s->dev != NULL) {
		s->notified = 1;
		/* WantReply: a subscriber may refuse the device. */
		mps_notifier_device_event(s->side->notifier, s->dev,
		    MPS_NOTIFY_CONNECTED, 1);
	}
	session_pump(s);
}

/* ---- closing from elsewhere -------------------------------------------- */

/* Acts on a recorded close request (mps_session_request_close). Returns
 * 1 when it closed the session (which ran the pump), 0 when there was
 * nothing to do. Strand only. */
static int
close_req_take(mps_session_t *s)
{
	if (atomic_load(&s->close_req) != 2)
		return 0;
	atomic_store(&s->close_req, 3);		/* taken: later ones are moot */
	if (s->state >= S_CLOSING)
		return 0;
	if (s->close_req_why[0] != '\0')
		session_close(s, s->close_req_reason, MPS_LOG_INFO, "%s",
		    s->close_req_why);
	else
		session_close(s, s->close_req_reason, MPS_LOG_INFO, NULL);
	return 1;
}

static void
close_req_run(void *arg)
{
	mps_session_t *s = arg;

	(void)close_req_take(s);
	session_unref(s);	/* the task's reference */
}

static void
close_req_discard(void *arg)
{
	session_unref(arg);
}

void
mps_session_request_close(mps_session_t *s, apr_uint32_t reason,
    const char *why)
{
	int none = 0;

	/* The request lives in the session itself, so it cannot be lost to
	 * an allocation failure: if the task below cannot be posted, the
	 * strand's next task (a poll event, the deadline) finds it. The
	 * first request wins; close is close. */
	if (!atomic_compare_exchange_strong(&s->close_req, &none, 1))
		return;
	s->close_req_reason = reason;
	snprintf(s->close_req_why, sizeof(s->close_req_why), "%s",
	    why != NULL ? why : "");
	atomic_store(&s->close_req, 2);		/* release: the fields above */
	session_ref(s);
	if (mps_strand_post_ex(s->strand, close_req_run, close_req_discard, s) !=
	    APR_SUCCESS)
		session_unref(s);
}

void
mps_session_request_handover(mps_session_t *s, const char *why)
{
	atomic_store(&s->moved_away, 1);
	mps_session_request_close(s, MPS_APF_DISCONNECT_BY_APPLICATION, why);
}

/* ---- accept ----------------------------------------------------------- */

/* The TLS handshake and the login must end within HandshakeTimeout (as
 * they always had) and PreAuthTimeout (the budget's bound on all three
 * ports): the smaller of the two, from accept. */
static apr_interval_time_t
handshake_deadline(const mps_config_t *cfg)
{
	return cfg->tls_handshake_timeout < cfg->preauth_timeout ?
	    cfg->tls_handshake_timeout : cfg->preauth_timeout;
}

/* A MaxHandshakes slot came to a waiting session, on its strand (the
 * hand-over of gate_granted). */
static void
gate_open(void *arg)
{
	mps_session_t *s = arg;

	s->gate_waiting = 0;
	s->gate_held = 1;
	if (s->state == S_CLOSED)
		gate_release(s);	/* ended while it waited */
	else if (!close_req_take(s))
		session_pump(s);	/* the handshake begins */
	session_unref(s);	/* the queue's reference */
}

/* gate_open could not be posted: the workers are stopping (nothing
 * waits for the slot any more), or no memory (give it on). */
static void
gate_open_dropped(void *arg)
{
	mps_session_t *s = arg;

	mps_metric_gauge_add(MPS_M_HANDSHAKES_RUNNING, -1);
	if (!mps_workers_stopping(s->side->workers))
		mps_gate_leave(s->side->handshakes);
	session_unref(s);
}

/* The gate's grant(), on the thread that gave the slot back: only the
 * hand-over to the session's strand happens here (gate.h). */
static void
gate_granted(mps_gate_waiter_t *w)
{
	mps_session_t *s = (mps_session_t *)(void *)((char *)w -
	    offsetof(mps_session_t, gate_wait));

	mps_metric_gauge_add(MPS_M_HANDSHAKES_WAITING, -1);
	mps_metric_gauge_add(MPS_M_HANDSHAKES_RUNNING, 1);
	if (mps_strand_post_ex(s->strand, gate_open, gate_open_dropped, s) !=
	    APR_SUCCESS)
		gate_open_dropped(s);
}

/*
 * In S_TLS: may the handshake go on? Yes without MaxHandshakes (plain
 * mode, unit tests) or with a slot. A slot is asked for only once the
 * device has sent something: an idle socket (a flood of them, see
 * admission.h) never holds one, and a device that waits for a slot
 * waits unread, with nothing of its handshake allocated. Returns 0 when
 * the pass must wait: for the first bytes (the caller watches) or for a
 * slot (gate_open pumps again; nothing is watched meanwhile).
 */
static int
handshake_slot(mps_session_t *s)
{
	if (s->gate_held || s->side->handshakes == NULL || s->io.ssl == NULL)
		return 1;
	if (s->gate_waiting || !s->spoke)
		return 0;
	s->gate_wait.grant = gate_granted;
	session_ref(s);		/* the queue's, for gate_open */
	/* Counted first: the grant may come at once. */
	mps_metric_gauge_add(MPS_M_HANDSHAKES_WAITING, 1);
	if (!mps_gate_enter(s->side->handshakes, &s->gate_wait)) {
		s->gate_waiting = 1;
		return 0;
	}
	mps_metric_gauge_add(MPS_M_HANDSHAKES_WAITING, -1);
	mps_metric_gauge_add(MPS_M_HANDSHAKES_RUNNING, 1);
	session_unref(s);
	s->gate_held = 1;
	return 1;
}

/* The first task of a session, on its strand: watch the socket, start
 * the handshake deadline (a wait for a MaxHandshakes slot counts in it:
 * a device that waited too long is closed as one whose handshake did not
 * end in time). */
static void
session_start(void *arg)
{
	mps_session_t *s = arg;

	if (close_req_take(s)) {
		/* Closed before it started: nothing to flush. */
		session_finalize(s);
		return;
	}
	if (mps_poller_register(s->side->poller, &s->reg, s->wrap, s->strand,
	    session_io, s) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "cannot watch the connection from %s",
		    s->peer);
		session_finalize(s);
		return;
	}
	(void)mps_timer_arm(mps_poller_timers(s->side->poller), &s->deadline,
	    handshake_deadline(s->side->cfg));
	session_pump(s);
}

/* Undoes an accept that never reached the strand: nothing else knows the
 * session yet. */
static void
accept_undo(mps_session_t *s, SSL *ssl, int fd)
{
	if (s->wrap != NULL)
		mps_sockwrap_put(s->wrap);
	if (s->io.fd >= 0 && s->io.fd == fd)
		mps_stream_close(&s->io);	/* closes fd, frees ssl */
	else {
		if (ssl != NULL)
			SSL_free(ssl);
		close(fd);
	}
	preauth_release(s);
	if (s->strand != NULL)
		mps_strand_release(s->strand);
	free(s);
}

void
mps_amt_accept(void *ctx, int fd, const char *peer)
{
	mps_amt_side_t *side = ctx;
	mps_session_t *s;
	SSL *ssl = NULL;
	char ip[sizeof(s->ip)];
	int proxied;
	unsigned flags;

	/* The pre-auth budget first, before any allocation or TLS work: a
	 * refused socket costs one close. A trusted balancer's connection
	 * counts in the total only until its header names the device: the
	 * balancer's address is every device's. */
	mps_peer_split(peer, ip, sizeof(ip), NULL);
	proxied = side->cfg->amt_proxy_protocol &&
	    mps_config_prefix_list_match(side->cfg->amt_proxy_trusted_list, ip);
	flags = proxied ? MPS_ADMIT_ANY_ADDRESS : admit_flags(side);
	if (side->admission != NULL &&
	    mps_admission_enter(side->admission, ip, "AMT", flags) !=
	    MPS_ADMIT_OK) {
		close(fd);
		return;
	}
	atomic_store_explicit(&side->last_accept, (long long)apr_time_now(),
	    memory_order_relaxed);
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		if (side->admission != NULL)
			mps_admission_leave(side->admission, ip, flags);
		close(fd);
		return;
	}
	s->side = side;
	s->admit_flags = flags;
	s->io.fd = -1;
	s->preauth = side->admission != NULL;
	/* Two references: the connection's, and ours until the session is
	 * listed (its first task may end it before that). */
	atomic_init(&s->refs, 2);
	atomic_init(&s->close_req, 0);
	atomic_init(&s->moved_away, 0);
	/* Plain mode passes S_TLS at once: its "handshake" is done. */
	s->state = side->cfg->amt_proxy_protocol ? S_PROXY : S_TLS;
	s->px_mode = proxied ? PX_HEADER : PX_SNIFF;
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	memcpy(s->ip, ip, sizeof(s->ip));
	s->strand = mps_strand_create(side->workers);
	if (side->tls != NULL) {
		/* The certificate of the last reload. The SSL keeps its own
		 * reference to the SSL_CTX: a later rotation never touches
		 * this connection. */
		mps_live_t *live = mps_live_acquire(side->settings);

		ssl = SSL_new(live != NULL && live->tls != NULL ? live->tls :
		    side->tls);
		mps_live_release(side->settings, live);
	}
	s->wrap = mps_sockwrap_get(fd);
	if (s->strand == NULL || (side->tls != NULL && ssl == NULL) ||
	    s->wrap == NULL) {
		mps_log(MPS_LOG_ERROR, "out of memory accepting %s", peer);
		accept_undo(s, ssl, fd);
		return;
	}
	mps_stream_init(&s->io, fd, ssl, MPS_APF_MAX_CONTROL_LEN, OUT_MAX);
	mps_timer_init(&s->deadline, s->strand, session_deadline, s);
	mps_timer_init(&s->settle, s->strand, session_settled, s);
	atomic_fetch_add(&side->live, 1);
	atomic_fetch_add(&side->open, 1);
	/* Set before the first task runs: the flag shares a word with the
	 * strand's bits. The list itself is joined below, before our
	 * reference goes, so before any free. */
	s->listed = 1;
	if (mps_strand_post(s->strand, session_start, s) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "cannot start the session of %s", peer);
		atomic_fetch_sub(&side->live, 1);
		atomic_fetch_sub(&side->open, 1);
		accept_undo(s, NULL, fd);
		return;
	}
	pthread_mutex_lock(&side->list_lock);
	s->next = side->list;
	if (side->list != NULL)
		side->list->prev = s;
	side->list = s;
	pthread_mutex_unlock(&side->list_lock);
	session_unref(s);	/* ours: listed now */
}

apr_status_t
mps_amt_side_init(mps_amt_side_t *side)
{
	atomic_init(&side->active, 0);
	atomic_init(&side->live, 0);
	atomic_init(&side->open, 0);
	atomic_init(&side->last_accept, 0);
	side->list = NULL;
	pthread_mutex_init(&side->list_lock, NULL);
	side->throttle = mps_auth_throttle_create();
	return side->throttle != NULL ? APR_SUCCESS : APR_ENOMEM;
}

unsigned
mps_amt_side_shutdown(mps_amt_side_t *side, apr_interval_time_t timeout)
{
	apr_time_t end = apr_time_now() + timeout;
	mps_session_t *s;

	mps_session_t **all = NULL;
	size_t n = 0, cap = 0, i;

	/* Collect under the lock, act outside it: dropping a reference may
	 * free a session, which takes the lock itself. */
	pthread_mutex_lock(&side->list_lock);
	for (s = side->list; s != NULL; s = s->next) {
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			mps_session_t **na = realloc(all, ncap * sizeof(*na));
			if (na == NULL)
				break;
			all = na;
			cap = ncap;
		}
		if (session_tryref(s))
			all[n++] = s;
	}
	pthread_mutex_unlock(&side->list_lock);
	for (i = 0; i < n; i++) {
		mps_session_request_close(all[i],
		    MPS_APF_DISCONNECT_BY_APPLICATION, "MPS is stopping");
		session_unref(all[i]);
	}
	free(all);
	/* Finalized is enough: a finalized session touches nothing shared
	 * again (the notifier may still hold a reference to its entry,
	 * until it is destroyed in turn). */
	while (atomic_load(&side->open) > 0 && apr_time_now() < end)
		apr_sleep(apr_time_from_msec(20));
	return atomic_load(&side->open);
}

void
mps_amt_side_destroy(mps_amt_side_t *side)
{
	mps_auth_throttle_destroy(side->throttle);
	side->throttle = NULL;
	pthread_mutex_destroy(&side->list_lock);
}
