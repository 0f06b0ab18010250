/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console_priv.h: one console connection, shared by the files of the
 * console side only: console.c (life cycle, socket I/O, the hand-over,
 * and the console as a channel peer) and socks_front.c and http_front.c
 * (the two front ends). The channel layer sees a console only through
 * its embedded peer (c->cp, channel_peer.h) once it reached its device's
 * strand; the outgoing connection of a direct-tcpip channel is a peer of
 * its own (outbound/direct_tcpip.c) and no console.
 *
 * OWNERSHIP. A console's fields are read and written only by tasks of
 * the strand that runs it, c->home; refs is atomic and home itself is
 * written under side->list_lock by that strand only. So a task of strand
 * X that reads home == X under the lock owns the console until it
 * returns. home changes at ONE point, the hand-over (mps_console_move(),
 * console.c), after every task already queued for the console on the
 * old strand has run.
 */
#ifndef MPS_CONSOLE_PRIV_H
#define MPS_CONSOLE_PRIV_H

#include <stdatomic.h>

#include "auth_job.h"
#include "buf.h"
#include "channel.h"
#include "channel_peer.h"
#include "console.h"
#include "log.h"
#include "timer.h"

struct mps_session_t;

typedef enum {
	C_FRONT = 1,	/* own strand: greeting, login, request */
	C_AUTH,		/* own strand: the plugin decides; input waits */
	C_MOVING,	/* posted to the device's strand */
	C_OPENING,	/* device strand: CHANNEL_OPEN sent */
	C_RELAY,	/* device strand: data both ways */
	C_CLOSING,	/* flushing the last bytes, then closed */
	C_CLOSED
} console_phase;

/* Why a channel could not be had; each front end words it its own way
 * (a SOCKS reply code, an HTTP status). */
typedef enum {
	OPEN_OK = 0,
	OPEN_NO_DEVICE,		/* unknown, or gone meanwhile */
	OPEN_PORT_REFUSED,	/* not forwarded, or not an AMT port */
	OPEN_DEVICE_REFUSED,	/* CHANNEL_OPEN_FAILURE */
	OPEN_TOO_MANY,		/* MaxChannelsPerDevice reached */
	OPEN_TIMEOUT,		/* no answer within ChannelOpenTimeout */
	OPEN_INTERNAL		/* out of memory and the like */
} open_result;

typedef struct front_ops {
	const char *name;			/* "SOCKS", "HTTP" */
	int log_shutdown;			/* log the guide's console end */
	/* Own strand: new bytes in c->in (or EOF: c->eof). */
	void (*input)(mps_console_t *c);
	/* Own strand: the Socks plugin's verdict (MPS_AUTH_BUSY: the
	 * console login lane refused the login; answer a server failure). */
	void (*auth_done)(mps_console_t *c, mps_auth_verdict_t verdict,
	    const char *err);
	/* Device strand: the channel is open (queue the success reply). */
	void (*opened)(mps_console_t *c);
	/* Device or own strand: no channel; queue the refusal. The caller
	 * closes the console once it is flushed. */
	void (*refused)(mps_console_t *c, open_result why);
	/* Device strand, relay phase, non-raw consoles only: turn c->in
	 * into bytes for the device in c->up. Returns 0, or -1 after
	 * queueing an error reply (the caller closes). */
	int (*to_device)(mps_console_t *c);
	/* Device strand, non-raw consoles only: n device bytes were queued
	 * for the console. */
	void (*from_device)(mps_console_t *c, const void *p, size_t n);
	/* Device strand, non-raw consoles only: the next request names
	 * another device and every earlier response is complete. Fills
	 * host/port of the new target. May be NULL. */
	int (*switch_ready)(mps_console_t *c, char *host, size_t size,
	    apr_port_t *port);
	/* ... and the console is moving there. */
	void (*switched)(mps_console_t *c);
	/* Frees the front end's state (any strand, at the end). */
	void (*free_state)(mps_console_t *c);
} front_ops;

struct mps_console_t {
	mps_console_side_t *side;
	const front_ops *ops;
	void *front;			/* the front end's state */
	atomic_int refs;
	console_phase phase;

	int fd;
	apr_socket_t *wrap;
	mps_pollreg_t *reg;
	mps_strand_t *own;		/* the front end's strand */
	mps_strand_t *home;		/* where it runs now (see OWNERSHIP) */
	mps_timer_t timer;		/* front deadline, closing linger */

	mps_buf_t in;			/* console bytes not yet handled */
	mps_buf_t up;			/* bytes for the device (non-raw) */
	mps_buf_t down;			/* replies, then device bytes */
	unsigned eof:1;			/* the console sent FIN */
	unsigned raw:1;			/* console bytes go out as they are */
	unsigned watching:1;		/* the registration is armed */
	unsigned close_after_down:1;	/* close once down is flushed */
	unsigned counted:1;		/* holds a MaxConsoles slot */
	unsigned preauth:1;		/* holds a pre-auth slot (admission.h) */
	unsigned throttled:1;		/* login refused unasked: over budget */
	unsigned readable:1;		/* relay: the socket may hold input
					 * (cleared at EAGAIN, set by POLLIN) */
	unsigned trusted:1;		/* came over a peer link: the instance
					 * it came to checked its login */

	/* The target, once chosen. */
	mps_device_t *dev;		/* referenced */
	/* The console as its channel's peer (channel_peer.h): the tunnel,
	 * the channel and the channel layer's flow state. Device strand
	 * only, from the hand-over on. */
	mps_chan_peer_t cp;
	apr_port_t port;
	char device_name[MPS_DEVICE_LOG_NAME_SIZE];	/* for logs */
	char connect_host[MPS_REGISTRY_FQDN_SIZE];	/* for CHANNEL_OPEN */

	unsigned long long bytes_up, bytes_down;
	/* For the channel's open and close lines (mps_console_log_channel):
	 * the APF channel numbers, kept because c->cp.chan goes before the
	 * close line is written, and when the channel opened. */
	unsigned chan_logged:1;		/* the open line went out */
	apr_uint32_t chan_remote, chan_local;
	apr_time_t chan_opened_at;
	/* bytes_up/down when the channel opened: a keep-alive HTTP console
	 * that moves to another device counts each channel's own bytes. */
	unsigned long long chan_up0, chan_down0;
	char user[64];			/* console login name, "" if none */
	char peer[64];			/* ip:port */
	char ip[48];
	apr_port_t peer_port;
	mps_console_t *prev, *next;	/* side->list */
};

extern const front_ops mps_socks_front;
extern const front_ops mps_http_front;
extern const front_ops mps_peer_front;	/* peer_link.c */

/* ---- console.c ---- */

/*
 * The INFO line for the channel's open (from chan) and, once the console
 * is finalized, its close with bytes each way and the duration. One line
 * each, for SOCKS and HTTP alike (direct_tcpip.c writes the same lines
 * for its connections).
 */
void mps_console_log_channel_open(mps_console_t *c, const mps_chan_t *chan);
/* The close line now (once per open line): for a console leaving its
 * channel without being finalized (an HTTP console moving on). */
void mps_console_log_channel_close(mps_console_t *c);

void mps_console_ref(mps_console_t *c);
void mps_console_unref(mps_console_t *c);

/* Front phase: reads what the socket has into c->in (sets c->eof).
 * Returns 0, or -1 when the console is gone (already closed). */
int mps_console_read(mps_console_t *c, size_t max);

/* Writes c->down. Returns 0 (all or part written), or -1 when the
 * console is gone (the caller treats it as lost). */
int mps_console_flush(mps_console_t *c, size_t *written);

/* Front phase: wait for more input (and pending output). */
void mps_console_front_wait(mps_console_t *c);

/* Front phase: the Socks plugin checks user/password on the blocking
 * lane; ops->auth_done runs on the own strand with the verdict. The
 * strings are copied (and the copy wiped after use). When the address
 * or the user name is over its failure budget (ConsoleLoginFailures,
 * ConsoleLoginFailuresPerUser), the plugin is not asked: ops->auth_done
 * runs at once, before this returns, with a refusal and c->throttled
 * set. */
void mps_console_authenticate(mps_console_t *c, const char *user,
    const char *password);

/* Front phase: find the device and check the port; on success c->dev
 * holds a reference and the names are filled in. */
open_result mps_console_resolve(mps_console_t *c, const char *host,
    apr_port_t port);

/*
 * Hands the console to its device's strand (c->dev), where console.c
 * opens the channel (mps_relay_open()). Called on the strand that runs it now,
 * with nothing watched; the console is C_MOVING from here on, and the
 * move itself happens in a later task of this strand (see console.c).
 */
void mps_console_move(mps_console_t *c);

/* Queue nothing more; flush c->down (bounded by a linger), then close.
 * Any phase, on the strand that runs the console. */
void mps_console_close_soon(mps_console_t *c);

/* Closes at once (socket, registration) and drops the connection's
 * reference. Any phase, on the strand that runs the console. The
 * channel must already be detached (c->cp.chan NULL). */
void mps_console_finalize(mps_console_t *c);

/* ---- peer_link.c, the instance-to-instance link (peer_link.h) ---- */

/*
 * Front phase, after mps_console_resolve() found no such device here:
 * forwards the console to the instance that holds host, if the link is
 * on (side->peer). mode is MPS_PEER_MODE_CHANNEL (SOCKS, HTTP CONNECT:
 * port is the device port; c->in holds what follows the request) or
 * MPS_PEER_MODE_HTTP (c->in starts with the request head). Returns -1
 * when there is nothing to forward to (the caller refuses as before);
 * 0 when the console is the link's: later, on this strand, it gets
 * ops->opened or ops->refused as for a device of this instance.
 */
int mps_console_forward(mps_console_t *c, const char *host, apr_port_t port,
    unsigned mode);

/* console.c: a console of the peer front end on fd (one end of the
 * socketpair a link's TLS pipe relays), outside the pre-auth budget: the
 * link was authenticated by its certificate. */
void mps_peer_console_accept(mps_console_side_t *side, int fd,
    const char *peer);

#endif /* MPS_CONSOLE_PRIV_H */
