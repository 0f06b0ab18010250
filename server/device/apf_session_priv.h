/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apf_session_priv.h: the device session as the channel relay sees it.
 *
 * apf_session.c owns the session; channel_relay.c runs the console
 * channels of the same tunnel on the same strand and needs the tunnel's
 * output, its channel table and a way to end it. Only those two files
 * include this header.
 */
#ifndef MPS_APF_SESSION_PRIV_H
#define MPS_APF_SESSION_PRIV_H

#include "apf_codec.h"
#include "apf_session.h"
#include "channel.h"
#include "log.h"
#include "stream.h"
#include "timer.h"

typedef enum {
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
	mps_timer_t chan_timer;		/* channel open/idle sweep */
	mps_device_t *dev;		/* our reference once authenticated */
	mps_chan_table_t *chans;	/* console channels; NULL while none */
	atomic_int refs;
	session_state state;
	unsigned counted:1;		/* holds a MaxConnections slot */
	unsigned refusing:1;		/* over MaxConnections: DISCONNECT 12 */
	unsigned cert_verified:1;	/* a verified client certificate */
	unsigned keepalive_sent:1;
	unsigned failure_sent:1;	/* USERAUTH_FAILURE is queued */
	unsigned pump_queued:1;		/* a pump task is already posted */
	unsigned in_pump:1;		/* session_pump is on the stack */
	unsigned consoles_blocked:1;	/* a console waits for output room */
	unsigned notified:1;		/* subscribers heard CONNECTED */
	apr_uint32_t trigger;
	apr_time_t last_rx;
	unsigned long long reported_in, reported_out;
	char *cert_cn;			/* mutual TLS identity, malloc'd */
	char uuid[MPS_APF_UUID_TEXT_SIZE];
	char peer[64];			/* ip:port */
	char ip[48];			/* ip alone, for the login throttle */
	mps_session_t *prev, *next;	/* side->list */
};

/* Queued tunnel output above which consoles are not read (their bytes
 * wait in their sockets), and below which blocked consoles resume. */
#define MPS_SESSION_OUT_HIGH	(128 * 1024)
#define MPS_SESSION_OUT_LOW	(32 * 1024)

/* ---- apf_session.c, for the relay (device strand only) ---- */

/* Ends the tunnel (see session_close in apf_session.c). */
void mps_session_close(mps_session_t *s, apr_uint32_t reason,
    mps_log_level_t level, const char *fmt, ...) MPS_PRINTF(4, 5);

/* Output was queued: write it now, or when the running pump ends. */
void mps_session_kick(mps_session_t *s);

/* The device's name for logs (FQDN, else UUID, else its address). */
const char *mps_session_name(const mps_session_t *s, char *buf, size_t size);

/* ---- channel_relay.c, for the session (device strand only) ---- */

/* CHANNEL_OPEN_CONFIRMATION, _FAILURE, WINDOW_ADJUST, DATA and CLOSE. */
void mps_relay_on_message(mps_session_t *s, const mps_apf_msg_t *m);

/* CHANNEL_OPEN from the device (direct-tcpip). */
void mps_relay_on_device_open(mps_session_t *s, const mps_apf_msg_t *m);

/* The tunnel is ending: every console of it is closed and the channel
 * table freed. */
void mps_relay_tunnel_closing(mps_session_t *s);

/* The tunnel's output fell below MPS_SESSION_OUT_LOW: blocked consoles
 * may be read again. */
void mps_relay_output_drained(mps_session_t *s);

/* chan_timer's function: channel open timeouts and idle channels. */
void mps_relay_sweep(void *session);

#endif /* MPS_APF_SESSION_PRIV_H */
