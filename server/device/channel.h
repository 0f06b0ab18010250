/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel.h: the channel bookkeeping of one APF tunnel.
 *
 * Pure state: ids, windows and the close handshake. No sockets, no APF
 * encoding, no logging and no buffers. "Console" below means the
 * channel's peer, whatever it is (channel_peer.h): a management console
 * for the channels mpsd opens, the outgoing TCP connection
 * (direct_tcpip.c) for those the device opens. The device session decodes a
 * message, calls the matching mps_chan_* event, and does the I/O the
 * answer asks for (send CHANNEL_CLOSE, send WINDOW_ADJUST, stop or resume
 * reading a console). Modelled on OpenSSH's channels.c + nchan.c.
 *
 * THE TABLE. One mps_chan_table_t per device tunnel. The slot index is
 * OUR channel id (the "recipient" of every message the device sends us,
 * and the "sender" in the CHANNEL_OPEN we send). Ids run from 0 to
 * max_channels - 1; a freed slot is reused lowest-first. The slot array
 * is allocated once at create time and never moves.
 *
 * WINDOWS, named from our side:
 *   local_window      what the device may still send us on this channel
 *   local_window_max  what we advertised in CHANNEL_OPEN
 *   local_consumed    device bytes the console socket has accepted since
 *                     our last WINDOW_ADJUST
 *   remote_window     what we may still send the device
 *   remote_maxpacket  our cap on one CHANNEL_DATA towards the device
 * Invariant: local_window + local_consumed + (device bytes received but
 * not yet written to the console) == local_window_max. So the caller's
 * console-bound buffer for a channel never needs more than
 * local_window_max bytes: mpsd buffers at most that per channel.
 *
 * Device -> console: by default mps_chan_on_data() refuses anything
 * beyond local_window with MPS_ERR_WINDOW_EXCEEDED. AMT firmware and LMS
 * never overrun a window; a peer that does is broken, probing our buffer
 * bound, or one of the APF clients in the field without flow control.
 *
 * OVERRUN (mps_chan_table_set_overrun(), the ChannelWindowOverrun
 * setting): the table may tolerate data beyond the window, up to
 * overrun_max bytes HELD per channel beyond local_window_max
 * (mps_chan_held()). The excess is a debt (local_overrun) that the next
 * WINDOW_ADJUSTs pay before they grant window again, so the invariant
 * becomes local_window + local_consumed + unaccepted == local_window_max
 * + local_overrun. Data that would take a channel past overrun_max is
 * still MPS_ERR_WINDOW_EXCEEDED (the caller closes that channel alone);
 * data for a channel whose console is gone is dropped and never counted
 * against the bound. The caller keeps the held bytes few by not reading
 * the tunnel while any channel holds some (channel_relay.c). chan->overran
 * marks a channel that went beyond its window at least once.
 *
 * WINDOW_ADJUST is granted only for bytes the
 * console accepted (mps_chan_console_accepted()), and only once they
 * reach half the advertised window (LMS / Open AMT behaviour), so a
 * stream of tiny writes does not cost one adjust each.
 *
 * Console -> device: read the console only while mps_chan_send_budget()
 * is non-zero, and put at most that many bytes in the next CHANNEL_DATA.
 * AMT has no max-packet field in CHANNEL_OPEN_CONFIRMATION, so the
 * per-message cap is ours: the table's max_packet (default
 * MPS_CHAN_DEFAULT_MAXPACKET, 16 KiB, the size OpenSSH and LMS use for
 * one data message).
 *
 * CLOSE. APF has CHANNEL_CLOSE only (no EOF): it ends both directions,
 * and each side sends it exactly once. Each direction has its own state:
 *
 *   istate (console -> device)
 *     MPS_CHAN_IN_OPEN    reading the console, sending to the device
 *     MPS_CHAN_IN_DRAIN   console EOF seen; bytes already read from the
 *                         console are still to be sent
 *     MPS_CHAN_IN_CLOSED  nothing more will be sent to the device
 *   ostate (device -> console)
 *     MPS_CHAN_OUT_OPEN   device data is written to the console
 *     MPS_CHAN_OUT_DRAIN  the device sent CLOSE: flush the console-bound
 *                         bytes, then close the console
 *     MPS_CHAN_OUT_CLOSED the console is closed or gone (owner is NULL);
 *                         device data that still arrives is discarded
 *
 * CLOSE is due (mps_chan_close_due()) when the channel is open, we have
 * not sent CLOSE yet and istate is CLOSED. Every event that can make it
 * due returns it; the caller then sends CHANNEL_CLOSE and calls
 * mps_chan_close_sent(), which refuses a second call: CLOSE goes out
 * exactly once whatever the order of console EOF, console loss, device
 * CLOSE, or both CLOSEs crossing on the wire. A channel whose open
 * failed, or that has both close_sent and close_rcvd, is FINISHED: the
 * device may no longer name it (lookups answer MPS_ERR_UNKNOWN_CHANNEL),
 * while a channel that sent CLOSE and awaits the device's stays
 * addressable, so a CLOSE, DATA or WINDOW_ADJUST crossing ours is normal.
 *
 * FREEING is deferred and explicit. No event function frees anything. A
 * channel is collectable once it is finished AND its console is detached
 * (mps_chan_console_gone(), after which the caller must not keep the
 * channel pointer). mps_chan_collect() frees collectable channels; call
 * it after a handler pass, never from inside a callback of this module.
 * So a pointer obtained from a lookup stays valid for the whole handler.
 *
 * CHANNELS THE DEVICE OPENS (CHANNEL_OPEN direct-tcpip): mps_chan_accept()
 * allocates our id and takes the device's id and window at once; the
 * channel is PENDING while mpsd connects (its peer is the outgoing
 * connection, not a console), and our answer ends that:
 * mps_chan_confirm() (we send CHANNEL_OPEN_CONFIRMATION; the channel is
 * OPEN and behaves as any other) or mps_chan_refuse() (we send
 * CHANNEL_OPEN_FAILURE; the channel is finished). The device does not
 * know our id before the confirmation, so a PENDING channel is not
 * addressable: lookups answer MPS_ERR_UNKNOWN_CHANNEL.
 *
 * Thread-safety: none. A table is used only from its tunnel's strand.
 */
#ifndef MPS_CHANNEL_H
#define MPS_CHANNEL_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_time.h>

/* Hard cap on max_channels (the MaxChannelsPerDevice config range). */
#define MPS_CHAN_TABLE_MAX		1024u
/* Largest window we will advertise (the ChannelWindowSize config range). */
#define MPS_CHAN_WINDOW_LIMIT		(16u * 1024u * 1024u)
/* Largest tolerated overrun (the ChannelWindowOverrun config range). */
#define MPS_CHAN_OVERRUN_LIMIT		(16u * 1024u * 1024u)
/* Per-CHANNEL_DATA cap towards the device when the table is given 0. */
#define MPS_CHAN_DEFAULT_MAXPACKET	16384u
/* Largest accepted max_packet (the APF codec's CHANNEL_DATA cap). */
#define MPS_CHAN_MAXPACKET_LIMIT	(1024u * 1024u)

/* CHANNEL_OPEN_FAILURE reasons (APF.md). */
#define MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED	1u
#define MPS_CHAN_OPEN_CONNECT_FAILED			2u
#define MPS_CHAN_OPEN_UNKNOWN_CHANNEL_TYPE		3u
#define MPS_CHAN_OPEN_RESOURCE_SHORTAGE			4u

typedef enum {
	MPS_CHAN_OPENING = 1,	/* CHANNEL_OPEN sent, no answer yet */
	MPS_CHAN_OPEN,		/* confirmed: data may flow */
	MPS_CHAN_FAILED,	/* open failed (either side refused) */
	MPS_CHAN_PENDING	/* the device opened it; our answer is due */
} mps_chan_state_t;

typedef enum {
	MPS_CHAN_IN_OPEN = 1,
	MPS_CHAN_IN_DRAIN,
	MPS_CHAN_IN_CLOSED
} mps_chan_istate_t;

typedef enum {
	MPS_CHAN_OUT_OPEN = 1,
	MPS_CHAN_OUT_DRAIN,
	MPS_CHAN_OUT_CLOSED
} mps_chan_ostate_t;

/*
 * One channel: under 100 bytes, no buffers. Callers READ the fields;
 * only the functions below change them.
 */
typedef struct mps_chan_t {
	apr_uint32_t local_id;		/* our id: the device's recipient */
	apr_uint32_t remote_id;		/* the device's id, once confirmed */
	int have_remote_id;		/* remote_id is valid */
	mps_chan_state_t state;
	mps_chan_istate_t istate;	/* console -> device half */
	mps_chan_ostate_t ostate;	/* device -> console half */
	int close_sent;			/* we sent CHANNEL_CLOSE */
	int close_rcvd;			/* the device sent CHANNEL_CLOSE */
	apr_uint32_t open_failure;	/* reason, when state is FAILED */

	apr_uint32_t local_window;	/* the device may still send this */
	apr_uint32_t local_window_max;	/* what we advertised */
	apr_uint32_t local_consumed;	/* accepted by the console, unadjusted */
	apr_uint32_t local_overrun;	/* received beyond the window, unpaid */
	int overran;			/* the device went beyond the window */
	apr_uint32_t remote_window;	/* we may still send this */
	apr_uint32_t remote_maxpacket;	/* our cap per CHANNEL_DATA */

	apr_time_t last_activity;	/* open, confirmation, data either way */
	void *owner;			/* the peer (channel_peer.h); NULL once gone */
	struct mps_chan_table_t *table;	/* private: the table (for its clock) */
} mps_chan_t;

typedef struct mps_chan_table_t mps_chan_table_t;

/* Returns the current time; NULL in create means apr_time_now(). Tests
 * pass a fake clock. */
typedef apr_time_t (*mps_chan_clock_fn)(void *arg);

/* Called per channel by foreach, idle and collect. */
typedef void (*mps_chan_fn)(void *arg, mps_chan_t *chan);

/*
 * Creates an empty table for max_channels channels (1 ..
 * MPS_CHAN_TABLE_MAX) whose CHANNEL_DATA towards the device carry at most
 * max_packet bytes (0 = MPS_CHAN_DEFAULT_MAXPACKET, at most
 * MPS_CHAN_MAXPACKET_LIMIT). Returns APR_EINVAL for an argument out of
 * range, APR_ENOMEM; *out is NULL on failure. Free with
 * mps_chan_table_destroy().
 */
apr_status_t mps_chan_table_create(mps_chan_table_t **out,
    unsigned max_channels, apr_uint32_t max_packet,
    mps_chan_clock_fn clock, void *clock_arg);

/*
 * Frees every channel and the table (NULL is a no-op). Calls nothing:
 * when the tunnel goes, first mps_chan_table_foreach() to close every
 * console, then destroy.
 */
void mps_chan_table_destroy(mps_chan_table_t *t);

/*
 * Tolerate up to overrun_max bytes held beyond the window per channel
 * (OVERRUN above; 0, the default, refuses any overrun). APR_EINVAL above
 * MPS_CHAN_OVERRUN_LIMIT.
 */
apr_status_t mps_chan_table_set_overrun(mps_chan_table_t *t,
    apr_uint32_t overrun_max);

/* Channels allocated (including finished ones not yet collected). */
unsigned mps_chan_table_count(const mps_chan_table_t *t);

/*
 * Allocates the lowest free id for a channel we open (CHANNEL_OPEN
 * forwarded-tcpip): state OPENING, both halves open, local_window =
 * local_window_max (1 .. MPS_CHAN_WINDOW_LIMIT, else APR_EINVAL). The
 * caller then sends CHANNEL_OPEN with chan->local_id and
 * local_window_max. APR_ENOSPC when all max_channels ids are in use
 * (tell the console "too many channels"), APR_ENOMEM.
 */
apr_status_t mps_chan_open(mps_chan_table_t *t, void *owner,
    apr_uint32_t local_window_max, mps_chan_t **chan);

/*
 * A channel the device opened (CHANNEL_OPEN with sender and
 * initial_window): the lowest free id, state PENDING, the device's id and
 * window taken at once, local_window = local_window_max (1 ..
 * MPS_CHAN_WINDOW_LIMIT). Errors as mps_chan_open().
 */
apr_status_t mps_chan_accept(mps_chan_table_t *t, void *owner,
    apr_uint32_t sender, apr_uint32_t initial_window,
    apr_uint32_t local_window_max, mps_chan_t **chan);

/* Our CHANNEL_OPEN_CONFIRMATION goes out: PENDING becomes OPEN. *send_close
 * as for mps_chan_on_open_confirmation(). APR_EINVAL unless PENDING. */
apr_status_t mps_chan_confirm(mps_chan_t *chan, int *send_close);

/* Our CHANNEL_OPEN_FAILURE goes out: PENDING becomes FAILED (finished)
 * with reason. APR_EINVAL unless PENDING. */
apr_status_t mps_chan_refuse(mps_chan_t *chan, apr_uint32_t reason);

/* The channel in slot id, whatever its state; NULL for a free slot or an
 * id out of range. For callers that walk the table themselves. */
mps_chan_t *mps_chan_table_at(const mps_chan_table_t *t, unsigned id);

/* max_channels: ids run from 0 to this - 1. */
unsigned mps_chan_table_capacity(const mps_chan_table_t *t);

/*
 * The channel the device names as recipient, if it may name it: one that
 * is allocated and not finished. Else MPS_ERR_UNKNOWN_CHANNEL (an id out
 * of range, never allocated, freed, or finished), which the session
 * treats as a protocol error. *chan is NULL on error.
 */
apr_status_t mps_chan_lookup(mps_chan_table_t *t, apr_uint32_t recipient,
    mps_chan_t **chan);

/*
 * CHANNEL_OPEN_CONFIRMATION: the channel becomes OPEN with the device's
 * id (sender) and window. MPS_ERR_PROTOCOL unless it was OPENING.
 * *send_close is set when CLOSE is due at once (the console left or
 * ended while the device was answering). On error nothing changes.
 */
apr_status_t mps_chan_on_open_confirmation(mps_chan_table_t *t,
    apr_uint32_t recipient, apr_uint32_t sender, apr_uint32_t initial_window,
    mps_chan_t **chan, int *send_close);

/*
 * CHANNEL_OPEN_FAILURE: the channel becomes FAILED (finished) with the
 * reason kept in open_failure. MPS_ERR_PROTOCOL unless it was OPENING.
 * The caller tells the console (mps_chan_open_failure_name()), closes it
 * and calls mps_chan_console_gone(); collect then frees the channel.
 */
apr_status_t mps_chan_on_open_failure(mps_chan_table_t *t,
    apr_uint32_t recipient, apr_uint32_t reason, mps_chan_t **chan);

/* A short text for a CHANNEL_OPEN_FAILURE reason ("connect failed"); an
 * unknown reason gives "unknown reason". Never NULL. */
const char *mps_chan_open_failure_name(apr_uint32_t reason);

/*
 * CHANNEL_DATA of len bytes from the device. MPS_ERR_PROTOCOL if the
 * channel is not OPEN or the device already sent CLOSE;
 * MPS_ERR_WINDOW_EXCEEDED if len > local_window and the table tolerates
 * no overrun, or the overrun would hold more than overrun_max bytes
 * beyond the window. On success local_window shrinks by len (to 0, the
 * rest counted in local_overrun); the caller writes the bytes to the
 * console, or drops them when ostate is MPS_CHAN_OUT_CLOSED. On error
 * nothing changes.
 */
apr_status_t mps_chan_on_data(mps_chan_t *chan, apr_size_t len);

/* Device bytes held for the console beyond local_window_max (received,
 * not accepted by the console); 0 within the window or once the console
 * is gone. Non-zero only on a table that tolerates overruns. */
apr_size_t mps_chan_held(const mps_chan_t *chan);

/*
 * n device bytes were written to the console socket. APR_EINVAL if n is
 * more than the bytes received and not yet accepted (a caller bug; nothing
 * changes). *adjust is the WINDOW_ADJUST to send now, 0 for none: once
 * local_consumed reaches half of local_window_max (rounded up) it all
 * becomes window again, less any overrun it pays first. No adjust is asked after either CLOSE.
 */
apr_status_t mps_chan_console_accepted(mps_chan_t *chan, apr_size_t n,
    apr_uint32_t *adjust);

/*
 * How many bytes the next CHANNEL_DATA may carry: min(remote_window,
 * remote_maxpacket) while the channel is OPEN, we have not sent CLOSE and
 * istate is not CLOSED; else 0. 0 means "stop reading the console".
 */
apr_uint32_t mps_chan_send_budget(const mps_chan_t *chan);

/* n bytes went to the device in one CHANNEL_DATA. APR_EINVAL (nothing
 * changes) if n exceeds mps_chan_send_budget(). */
apr_status_t mps_chan_on_sent(mps_chan_t *chan, apr_size_t n);

/*
 * CHANNEL_WINDOW_ADJUST from the device. MPS_ERR_PROTOCOL if the channel
 * is not OPEN, the device already sent CLOSE, or the window would pass
 * 0xFFFFFFFF (nothing changes). *resume is set when the send budget is
 * now non-zero: the caller may read the console again.
 */
apr_status_t mps_chan_on_window_adjust(mps_chan_t *chan, apr_uint32_t add,
    int *resume);

/*
 * The console reached EOF with `unsent` bytes already read from it and
 * not yet sent to the device. With none, the input half closes; with
 * some, it drains (keep sending, call mps_chan_input_drained() when the
 * last is sent). Returns 1 when CLOSE is due now. Harmless after the
 * input half already closed.
 */
int mps_chan_console_eof(mps_chan_t *chan, apr_size_t unsent);

/* The last console byte read before EOF went to the device. Returns 1
 * when CLOSE is due now. */
int mps_chan_input_drained(mps_chan_t *chan);

/*
 * The console connection is closed (error, reset, or closed by us after
 * the device's CLOSE was flushed). Both halves close and owner becomes
 * NULL; any console data not yet sent is abandoned. After this the
 * caller must not keep the pointer: collect may free the channel once
 * it is finished. Returns 1 when CLOSE is due now (for an OPENING
 * channel it becomes due on confirmation). Idempotent.
 */
int mps_chan_console_gone(mps_chan_t *chan);

/*
 * CHANNEL_CLOSE from the device. MPS_ERR_UNKNOWN_CHANNEL as for lookup
 * (including a CLOSE for a channel already finished: a second CLOSE or
 * one after the channel was freed); MPS_ERR_PROTOCOL if the channel is
 * not OPEN (still OPENING) or the device already sent CLOSE. The input
 * half closes; the output half drains (the caller flushes the console-
 * bound bytes, then closes the console). *send_close is set when we must
 * answer CLOSE (we had not sent ours): a CLOSE that crosses ours needs no
 * answer and leaves the channel finished. On error nothing changes.
 */
apr_status_t mps_chan_on_close(mps_chan_table_t *t, apr_uint32_t recipient,
    mps_chan_t **chan, int *send_close);

/* 1 when the caller must send CHANNEL_CLOSE now (see above). */
int mps_chan_close_due(const mps_chan_t *chan);

/*
 * The caller sent CHANNEL_CLOSE. Legal once, on an OPEN channel, whether
 * or not CLOSE was due (an idle or shutdown close is the caller's
 * choice); it closes the input half. APR_EINVAL otherwise, nothing
 * changes.
 */
apr_status_t mps_chan_close_sent(mps_chan_t *chan);

/* 1 once the channel is finished: open failed, or CLOSE both ways. */
int mps_chan_is_finished(const mps_chan_t *chan);

/*
 * Calls fn for every allocated channel in id order. fn may call the
 * event functions above on that channel (e.g. console_gone after
 * closing its console) but not collect or destroy. Used when the
 * tunnel is gone: close every console, then destroy the table.
 */
void mps_chan_table_foreach(mps_chan_table_t *t, mps_chan_fn fn, void *arg);

/*
 * Calls fn for every channel that is not finished and whose
 * last_activity is more than idle_timeout before now (OPENING channels
 * and PENDING channels count from the CHANNEL_OPEN, so the same sweep
 * serves an open timeout: fn can look at chan->state). idle_timeout <= 0 disables the
 * sweep. fn may act as in foreach. Returns how many channels fn saw.
 */
unsigned mps_chan_table_idle(mps_chan_table_t *t, apr_time_t now,
    apr_interval_time_t idle_timeout, mps_chan_fn fn, void *arg);

/*
 * Frees every collectable channel (finished and console detached),
 * calling fn (may be NULL) just before each free, e.g. to log it. Call
 * between handler passes. Returns how many were freed.
 */
unsigned mps_chan_collect(mps_chan_table_t *t, mps_chan_fn fn, void *arg);

#endif
