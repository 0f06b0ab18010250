/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel_relay.c: the channel layer of a device tunnel (channel_relay.h).
 *
 * Flow control, as APF.md asks:
 *  - a peer is read only while its channel's send budget is non-zero, at
 *    most that many bytes, and only while the tunnel has output room
 *    (mps_tunnel_room(): a device that does not read its socket stops
 *    every channel of its tunnel instead of growing memory). A peer that
 *    finds no room is "blocked" and asks the tunnel to say when room
 *    appears (mps_tunnel_wait_room()); output_drained then resumes every
 *    blocked peer, round robin from where the last resume stopped.
 *  - device bytes go into the peer's down buffer, which the window
 *    bounds: the device may not send more than we advertised, and
 *    WINDOW_ADJUST is granted only for bytes the peer socket accepted.
 * Per channel mpsd holds at most ChannelWindowSize bytes towards the
 * peer and ChannelWindowSize towards the device (the up buffer of an
 * HTTP console); raw peers are read straight into the tunnel's output.
 *
 * Devices that ignore the window (ChannelWindowOverrun, channel.h
 * OVERRUN): with the default tolerance, data beyond a channel's window
 * is kept, and while any channel holds some the tunnel's input is held
 * (mps_tunnel_hold_input: TCP pushes back on the device) until that
 * peer has taken it; the tunnel's other channels wait meanwhile and
 * resume with it. Since nothing is parsed while held, at most one
 * channel per tunnel holds data beyond its window, by at most one
 * message. A channel that would pass the bound, or whose peer takes
 * nothing for IdleTimeout while the tunnel waits for it, is closed
 * alone. In strict mode (0) any overrun is a protocol error (DISCONNECT
 * 2), as before.
 *
 * Walks and freeing: the table is walked (sweep, resume, the tunnel's
 * end) while callbacks may end channels or the whole tunnel. Nothing is
 * freed under a walk: channels are collected only when no walk is on the
 * stack (r->walking), and a closing tunnel only marks the state
 * (r->closing); relay_gc, a later task of the strand, closes the peers
 * and frees the table.
 */
#include "channel_relay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mps_status.h"
#include "registry.h"

/* Peer bytes moved per pass before other work of the strand runs. */
#define PASS_BUDGET (256 * 1024)
/* Device bytes a raw peer's down buffer gathers for one deferred send
 * (relay_flush); beyond, it is written at once. While a channel is busy
 * its down buffer keeps its storage up to the window (which bounds it
 * anyway) and the sweep frees it once empty. */
#define DOWN_BATCH (256 * 1024)
/* How often open timeouts and idle channels are looked for. */
#define SWEEP_INTERVAL apr_time_from_sec(1)

/* The layer's state in one tunnel (the tunnel's channel slot). */
typedef struct relay {
	mps_session_t *t;
	mps_chan_table_t *chans;	/* NULL while no channel exists */
	mps_timer_t sweep;		/* open timeouts, idle channels */
	unsigned walking;		/* walks of chans on the stack */
	unsigned cursor;		/* where the next resume starts */
	unsigned closing:1;		/* the tunnel ends: queue nothing */
	unsigned flush_posted:1;	/* a relay_flush task is queued */
	unsigned input_held:1;		/* a channel holds data beyond its
					 * window: the tunnel is not read */
	apr_time_t held_since;		/* when input_held was set */
} relay;

static void relay_pump(mps_chan_peer_t *p);
static void relay_sweep(void *arg);

/* ---- the per-tunnel state ------------------------------------------------ */

/* The state of a tunnel that is not closing, or NULL. */
static relay *
relay_get(mps_session_t *t)
{
	relay *r = mps_tunnel_channels(t);

	return r != NULL && !r->closing ? r : NULL;
}

static mps_timers_t *
timers_of(relay *r)
{
	return mps_poller_timers(mps_tunnel_side(r->t)->poller);
}

static void
arm_sweep(relay *r)
{
	if (!mps_timer_is_armed(timers_of(r), &r->sweep))
		(void)mps_timer_arm(timers_of(r), &r->sweep, SWEEP_INTERVAL);
}

/*
 * The state and its table, made on demand, with the sweep armed: the one
 * place a channel table is created. NULL when the tunnel is not active
 * or memory is short.
 */
static relay *
relay_for(mps_session_t *t)
{
	const mps_config_t *cfg = mps_tunnel_side(t)->cfg;
	relay *r = mps_tunnel_channels(t);

	if (!mps_tunnel_is_active(t))
		return NULL;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return NULL;
		r->t = t;
		mps_timer_init(&r->sweep, mps_tunnel_strand(t), relay_sweep, r);
		if (mps_tunnel_set_channels(t, r) != APR_SUCCESS) {
			free(r);
			return NULL;
		}
	}
	if (r->closing)
		return NULL;
	if (r->chans == NULL) {
		if (mps_chan_table_create(&r->chans,
		    (unsigned)cfg->max_channels_per_device, 0, NULL, NULL) !=
		    APR_SUCCESS)
			return NULL;
		/* The config range is the table's: this cannot fail. */
		(void)mps_chan_table_set_overrun(r->chans,
		    cfg->channel_window_overrun);
		mps_tunnel_keep_buffers(t, 1);
	}
	arm_sweep(r);
	return r;
}

/* The device's open-channel count, as the admin API shows it. */
static void
report_channels(relay *r)
{
	mps_device_t *dev = mps_tunnel_device(r->t);

	if (dev != NULL)
		mps_device_set_channels(dev, r->closing || r->chans == NULL ? 0 :
		    mps_chan_table_count(r->chans));
}

/* Whether any channel still holds device data beyond its window. Walks
 * the table only while the input is held (rare), never otherwise. */
static int
any_held(relay *r)
{
	unsigned id, cap;

	if (r->chans == NULL)
		return 0;
	cap = mps_chan_table_capacity(r->chans);
	for (id = 0; id < cap; id++) {
		mps_chan_t *chan = mps_chan_table_at(r->chans, id);

		if (chan != NULL && mps_chan_held(chan) > 0)
			return 1;
	}
	return 0;
}

/* A channel took device data beyond its window: hold the tunnel's
 * input until its peer has taken it (release_input). */
static void
hold_input(relay *r)
{
	if (r->input_held)
		return;
	r->input_held = 1;
	r->held_since = apr_time_now();
	mps_tunnel_hold_input(r->t, 1);
}

/* Resumes the tunnel's input once no channel holds data beyond its
 * window (its peer drained, or it was closed). */
static void
release_input(relay *r)
{
	if (!r->input_held || any_held(r))
		return;
	r->input_held = 0;
	mps_tunnel_hold_input(r->t, 0);
}

/* Frees finished channels whose peer is gone; the table goes with the
 * last one (idle tunnels keep no table). Never under a walk. Every task
 * of the layer ends here, so it is also where a held input resumes. */
static void
collect(relay *r)
{
	if (r == NULL || r->closing)
		return;
	release_input(r);
	if (r->walking > 0 || r->chans == NULL)
		return;
	(void)mps_chan_collect(r->chans, NULL, NULL);
	if (mps_chan_table_count(r->chans) == 0) {
		mps_chan_table_destroy(r->chans);
		r->chans = NULL;
		mps_timer_cancel(timers_of(r), &r->sweep);
		mps_tunnel_keep_buffers(r->t, 0);
	}
	report_channels(r);
}

/* ---- helpers ------------------------------------------------------------ */

static void
protocol_error(relay *r, const char *what, apr_status_t rv)
{
	char msg[96];

	mps_tunnel_close(r->t, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
	    MPS_LOG_WARNING, "%s: %s", what, mps_strerror(rv, msg, sizeof(msg)));
}

/* The tunnel's output for a control message, or NULL (closing). */
static mps_buf_t *
output(relay *r)
{
	return r->closing ? NULL : mps_tunnel_output(r->t);
}

/* A control message could not be queued: the device would wait for it
 * forever, so the tunnel ends. */
static void
queue_failed(relay *r, const char *what)
{
	mps_tunnel_close(r->t, 0, MPS_LOG_ERROR, "cannot queue %s: output full",
	    what);
}

/* Returns 0 when CLOSE was queued, -1 when the tunnel is closing. */
static int
send_close(relay *r, mps_chan_t *chan)
{
	mps_buf_t *out = output(r);

	if (out == NULL)
		return -1;
	if (mps_apf_encode_channel_close(out, chan->remote_id) != APR_SUCCESS) {
		queue_failed(r, "CHANNEL_CLOSE");
		return -1;
	}
	(void)mps_chan_close_sent(chan);
	return 0;
}

/* Detaches the peer from its channel (which may then be collected) and
 * sends CHANNEL_CLOSE if that makes it due. */
static void
detach(relay *r, mps_chan_peer_t *p)
{
	mps_chan_t *chan = p->chan;

	p->relaying = 0;
	p->blocked = 0;
	if (chan == NULL)
		return;
	p->chan = NULL;
	if (mps_chan_console_gone(chan) && r != NULL)
		(void)send_close(r, chan);
}

/* The peer went away or is closed by us: detach, then the peer closes
 * (and is not touched again). The channel is collected at the end of the
 * strand's task (never inside a walk). */
static void
peer_done(relay *r, mps_chan_peer_t *p, mps_peer_close why)
{
	detach(r, p);
	p->ops->closed(p, why);
	if (r != NULL)
		mps_tunnel_kick(r->t);
}

/* No channel for the peer after all: detach, then the peer ends. */
static void
peer_refused(relay *r, mps_chan_peer_t *p, mps_peer_refusal why)
{
	detach(r, p);
	p->ops->refused(p, why);
}

/* ---- forwarded-tcpip: a console asks for a channel ---------------------- */

apr_status_t
mps_relay_open(mps_session_t *t, mps_chan_peer_t *p, const char *host,
    apr_port_t port, const char *orig_ip, apr_port_t orig_port)
{
	const mps_config_t *cfg = mps_tunnel_side(t)->cfg;
	mps_chan_t *chan = NULL;
	mps_buf_t *out;
	relay *r;
	apr_status_t rv;

	if ((r = relay_for(t)) == NULL)
		return APR_ENOMEM;
	rv = mps_chan_open(r->chans, p, cfg->channel_window_size, &chan);
	if (rv != APR_SUCCESS) {
		collect(r);
		return rv;
	}
	report_channels(r);
	out = output(r);
	if (out == NULL || mps_apf_encode_channel_open(out,
	    mps_apf_cstr(MPS_APF_CHAN_FORWARDED_TCPIP), chan->local_id,
	    chan->local_window_max, mps_apf_cstr(host), port,
	    mps_apf_cstr(orig_ip), orig_port) != APR_SUCCESS) {
		/* Nothing was sent: the channel can go at once. */
		(void)mps_chan_on_open_failure(r->chans, chan->local_id,
		    MPS_CHAN_OPEN_RESOURCE_SHORTAGE, &chan);
		(void)mps_chan_console_gone(chan);
		collect(r);
		return APR_ENOMEM;
	}
	p->chan = chan;
	p->session = t;
	p->relaying = 0;
	p->blocked = 0;
	p->input_ended = 0;
	p->remote_window_max = 0;
	mps_tunnel_kick(t);
	return APR_SUCCESS;
}

void
mps_relay_detach(mps_chan_peer_t *p)
{
	relay *r = relay_get(p->session);

	detach(r, p);
	if (r != NULL)
		mps_tunnel_kick(r->t);
}

/* ---- peer -> device ------------------------------------------------------ */

/*
 * What the next CHANNEL_DATA may carry, with silly-window avoidance (RFC
 * 1122 4.2.3.4, the sender's side): while bytes are in flight, a window
 * that reopened by a few bytes is not used until it reaches half of the
 * largest window the device offered (or all that waits, when that is
 * less). Firmware that returns window a few bytes at a time (499-byte
 * windows are common) would otherwise cut the stream into ever smaller
 * messages. No deadlock: with bytes in flight the device returns window
 * as it consumes them; with none, any budget is used.
 */
static apr_uint32_t
usable_budget(mps_chan_peer_t *p, size_t waiting)
{
	mps_chan_t *chan = p->chan;
	apr_uint32_t budget = mps_chan_send_budget(chan);
	apr_uint32_t threshold;

	if (budget == 0)
		return 0;
	if (chan->remote_window > p->remote_window_max)
		p->remote_window_max = chan->remote_window;
	if (chan->remote_window >= p->remote_window_max)
		return budget;		/* nothing in flight */
	threshold = p->remote_window_max / 2;
	if (threshold > chan->remote_maxpacket)
		threshold = chan->remote_maxpacket;
	if (waiting > 0 && waiting < threshold)
		threshold = (apr_uint32_t)waiting;
	return budget >= threshold ? budget : 0;
}

/* No output room: the peer waits, and the tunnel will say when. */
static void
block(mps_chan_peer_t *p)
{
	p->blocked = 1;
	mps_tunnel_wait_room(p->session);
}

/*
 * One CHANNEL_DATA from the peer, read straight into the tunnel's output
 * (no copy). held: what the peer already holds (sent first, alone).
 * Returns the bytes sent, 0 when it must wait (no window, no room, no
 * data now, or the end: p->input_ended), -1 when the peer is gone.
 */
static ssize_t
send_data(mps_chan_peer_t *p, size_t held)
{
	mps_session_t *t = p->session;
	mps_chan_t *chan = p->chan;
	apr_uint32_t budget = usable_budget(p, held);
	mps_buf_t *out;
	uint8_t *tail;
	ssize_t n;

	if (budget == 0)
		return 0;
	if (held > 0 && held < budget)
		budget = (apr_uint32_t)held;
	if (mps_tunnel_room(t) == 0 || (out = mps_tunnel_output(t)) == NULL ||
	    mps_buf_reserve(out, MPS_APF_CHANNEL_DATA_HDR_LEN + budget,
	    &tail) != APR_SUCCESS) {
		block(p);
		return 0;
	}
	n = p->ops->read(p, tail + MPS_APF_CHANNEL_DATA_HDR_LEN, budget);
	if (n <= 0)
		return n < 0 ? -1 : 0;
	(void)mps_apf_channel_data_header(tail, chan->remote_id, (size_t)n);
	(void)mps_buf_commit(out, MPS_APF_CHANNEL_DATA_HDR_LEN + (size_t)n);
	(void)mps_chan_on_sent(chan, (size_t)n);
	return n;
}

/* Whether the channel may take more from the peer now. */
static int
may_read(mps_chan_peer_t *p)
{
	mps_chan_t *chan = p->chan;

	return chan != NULL && chan->state == MPS_CHAN_OPEN &&
	    !p->input_ended && chan->istate == MPS_CHAN_IN_OPEN &&
	    !chan->close_sent && !p->blocked && usable_budget(p, 0) > 0;
}

static int
peer_to_device(relay *r, mps_chan_peer_t *p)
{
	mps_chan_t *chan = p->chan;
	size_t moved = 0;

	p->blocked = 0;
	while (moved < PASS_BUDGET && p->chan != NULL && !r->closing &&
	    chan->state == MPS_CHAN_OPEN && !chan->close_sent) {
		ssize_t held = p->ops->pending(p, may_read(p)), n;
		int ended = p->input_ended;

		if (held < 0)
			return -1;
		if (ended && chan->istate == MPS_CHAN_IN_OPEN) {
			/* The peer ended its input: drain what it holds,
			 * then CLOSE. */
			if (mps_chan_console_eof(chan, (size_t)held)) {
				(void)send_close(r, chan);
				return 0;
			}
		}
		if (chan->istate == MPS_CHAN_IN_DRAIN && held == 0) {
			if (mps_chan_input_drained(chan))
				(void)send_close(r, chan);
			return 0;
		}
		if (chan->istate == MPS_CHAN_IN_CLOSED)
			return 0;
		n = send_data(p, (size_t)held);
		if (n < 0)
			return -1;
		if (n == 0) {
			if (!ended && p->input_ended)
				continue;	/* EOF just now: handle it */
			break;
		}
		moved += (size_t)n;
	}
	return 0;
}

/* ---- the pump ------------------------------------------------------------ */

static void
relay_wait(relay *r, mps_chan_peer_t *p)
{
	if (p->ops->wait(p, may_read(p)) != 0)
		peer_done(r, p, MPS_PEER_ENDED);
	/* Else woken by the socket, a window adjust or the output
	 * draining. */
}

static void
relay_pump(mps_chan_peer_t *p)
{
	relay *r = relay_get(p->session);
	mps_chan_t *chan = p->chan;
	apr_uint32_t adjust = 0;
	size_t n = 0;

	if (r == NULL || !p->relaying || p->in_pump)
		return;
	p->in_pump = 1;
	if (p->ops->flush(p, &n) < 0) {
		p->in_pump = 0;
		peer_done(r, p, MPS_PEER_ENDED);
		return;
	}
	if (n > 0 && chan != NULL && chan->state == MPS_CHAN_OPEN &&
	    mps_chan_console_accepted(chan, n, &adjust) == APR_SUCCESS &&
	    adjust > 0) {
		mps_buf_t *out = output(r);

		if (out == NULL || mps_apf_encode_window_adjust(out,
		    chan->remote_id, adjust) != APR_SUCCESS) {
			p->in_pump = 0;
			if (out != NULL)
				queue_failed(r, "WINDOW_ADJUST");
			return;
		}
	}
	if (chan != NULL && chan->ostate == MPS_CHAN_OUT_DRAIN &&
	    p->ops->unsent(p) == 0) {
		/* The device closed and everything reached the peer. */
		p->in_pump = 0;
		peer_done(r, p, MPS_PEER_ENDED);
		return;
	}
	if (chan != NULL && chan->state == MPS_CHAN_OPEN &&
	    peer_to_device(r, p) < 0) {
		p->in_pump = 0;
		if (p->relaying && !r->closing)
			peer_done(r, p, MPS_PEER_ENDED);
		return;
	}
	p->in_pump = 0;
	if (!p->relaying || r->closing)
		return;		/* the tunnel ended meanwhile */
	if (p->ops->settle != NULL && p->ops->settle(p))
		return;		/* it left the channel */
	relay_wait(r, p);
	mps_tunnel_kick(r->t);
}

void
mps_relay_peer_io(mps_chan_peer_t *p, int lost)
{
	mps_session_t *t = p->session;
	relay *r;

	/* A firing overtaken by a close or a hand-over finds the peer no
	 * longer relaying (same strand: no race) and does nothing. */
	if (!p->relaying)
		return;
	if ((r = relay_get(t)) == NULL)
		return;		/* the tunnel is closing: relay_gc ends it */
	if (lost)
		peer_done(r, p, MPS_PEER_ENDED);
	else
		relay_pump(p);
	collect(relay_get(t));
}

/* ---- device -> peer: the tunnel's channel messages ----------------------- */

static void
on_confirmation(relay *r, const mps_apf_msg_t *m)
{
	mps_chan_t *chan = NULL;
	mps_chan_peer_t *p;
	int due = 0;
	apr_status_t rv;

	rv = mps_chan_on_open_confirmation(r->chans,
	    m->u.channel_open_confirmation.recipient,
	    m->u.channel_open_confirmation.sender,
	    m->u.channel_open_confirmation.window, &chan, &due);
	if (rv != APR_SUCCESS) {
		protocol_error(r, "CHANNEL_OPEN_CONFIRMATION", rv);
		return;
	}
	if (due && send_close(r, chan) < 0)
		return;
	p = chan->owner;
	if (p == NULL)
		return;		/* the console left while the device answered */
	p->relaying = 1;
	p->ops->opened(p);
	relay_pump(p);
}

static void
on_open_failure(relay *r, const mps_apf_msg_t *m)
{
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	mps_chan_t *chan = NULL;
	mps_chan_peer_t *p;
	apr_status_t rv;

	rv = mps_chan_on_open_failure(r->chans,
	    m->u.channel_open_failure.recipient,
	    m->u.channel_open_failure.reason, &chan);
	if (rv != APR_SUCCESS) {
		protocol_error(r, "CHANNEL_OPEN_FAILURE", rv);
		return;
	}
	p = chan->owner;
	if (p == NULL)
		return;
	mps_log(MPS_LOG_WARNING, "Intel remote client %s refused a channel "
	    "to port %u for management console %s: %s (%u)",
	    mps_tunnel_name(r->t, name, sizeof(name)), (unsigned)p->port,
	    p->peer, mps_chan_open_failure_name(m->u.channel_open_failure.reason),
	    (unsigned)m->u.channel_open_failure.reason);
	peer_refused(r, p, MPS_PEER_DEVICE_REFUSED);
}

static void
on_window_adjust(relay *r, const mps_apf_msg_t *m)
{
	mps_chan_t *chan = NULL;
	int resume = 0;
	apr_status_t rv;

	rv = mps_chan_lookup(r->chans, m->u.window_adjust.recipient, &chan);
	if (rv == APR_SUCCESS)
		rv = mps_chan_on_window_adjust(chan,
		    m->u.window_adjust.bytes_to_add, &resume);
	if (rv != APR_SUCCESS) {
		protocol_error(r, "CHANNEL_WINDOW_ADJUST", rv);
		return;
	}
	if (resume && chan->owner != NULL)
		relay_pump(chan->owner);
}

/* The first time a channel goes beyond its window: one WARNING. */
static void
warn_overrun(relay *r, const mps_chan_t *chan, apr_size_t len,
    apr_uint32_t window)
{
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	mps_device_t *dev = mps_tunnel_device(r->t);

	mps_log(MPS_LOG_WARNING, "Intel remote client %s (%s) does not honour "
	    "the window of channel [%u:%u]: %zu bytes beyond it (tolerated up "
	    "to ChannelWindowOverrun %u bytes; its tunnel is not read until "
	    "the console takes them)", mps_tunnel_name(r->t, name, sizeof(name)),
	    dev != NULL ? mps_device_peer(dev) : "?", (unsigned)chan->remote_id,
	    (unsigned)chan->local_id, (size_t)(len - window),
	    (unsigned)mps_tunnel_side(r->t)->cfg->channel_window_overrun);
}

/* A channel whose device data would pass ChannelWindowOverrun, or that
 * held the tunnel too long: it alone is closed (CLOSE to the device,
 * the peer closed); its later data is dropped uncounted. */
static void
overrun_close(relay *r, mps_chan_t *chan, const char *why)
{
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	mps_chan_peer_t *p = chan->owner;

	mps_log(MPS_LOG_WARNING, "Intel remote client %s: channel [%u:%u] %s: "
	    "channel closed, the tunnel stays",
	    mps_tunnel_name(r->t, name, sizeof(name)), (unsigned)chan->remote_id,
	    (unsigned)chan->local_id, why);
	if (p != NULL) {
		peer_done(r, p, MPS_PEER_ENDED);
		return;
	}
	if (!chan->close_sent && send_close(r, chan) == 0)
		mps_tunnel_kick(r->t);
}

/*
 * The deferred flush: device data for raw peers is queued in their down
 * buffers while the tunnel parses what one read brought (a burst is many
 * CHANNEL_DATA), and written by this task, which runs right after that
 * pass on the same strand: one send() per peer per burst instead of one
 * per message. The task holds the tunnel, not the state (the tunnel
 * outlives every task posted to its strand; the state may be gone).
 */
static void
relay_flush(void *arg)
{
	mps_session_t *t = arg;
	relay *r = relay_get(t);
	unsigned id, cap;

	if (r == NULL)
		return;
	r->flush_posted = 0;
	if (r->chans == NULL)
		return;
	cap = mps_chan_table_capacity(r->chans);
	r->walking++;
	for (id = 0; id < cap && !r->closing; id++) {
		mps_chan_t *chan = mps_chan_table_at(r->chans, id);
		mps_chan_peer_t *p = chan != NULL ? chan->owner : NULL;

		if (p != NULL && p->relaying && p->ops->unsent(p) > 0)
			relay_pump(p);
	}
	r->walking--;
	collect(relay_get(t));
}

/* Queues relay_flush unless it is queued already. 0 when it could not
 * be (no memory): the caller writes at once instead. */
static int
defer_flush(relay *r)
{
	if (r->flush_posted)
		return 1;
	if (mps_strand_post(mps_tunnel_strand(r->t), relay_flush, r->t) !=
	    APR_SUCCESS)
		return 0;
	r->flush_posted = 1;
	return 1;
}

static void
on_data(relay *r, const mps_apf_msg_t *m)
{
	mps_apf_str_t data = m->u.channel_data.data;
	mps_chan_t *chan = NULL;
	mps_chan_peer_t *p;
	apr_uint32_t window = 0;
	int overran = 0;
	apr_status_t rv;

	rv = mps_chan_lookup(r->chans, m->u.channel_data.recipient, &chan);
	if (rv == APR_SUCCESS) {
		window = chan->local_window;
		overran = chan->overran;
		rv = mps_chan_on_data(chan, data.len);
	}
	if (rv == MPS_ERR_WINDOW_EXCEEDED &&
	    mps_tunnel_side(r->t)->cfg->channel_window_overrun > 0) {
		/* Past the tolerated bound: this message is dropped with
		 * the channel, the tunnel lives. */
		if (!overran)
			warn_overrun(r, chan, data.len, window);
		overrun_close(r, chan, "passed ChannelWindowOverrun");
		return;
	}
	if (rv != APR_SUCCESS) {
		protocol_error(r, "CHANNEL_DATA", rv);
		return;
	}
	if (!overran && chan->overran)
		warn_overrun(r, chan, data.len, window);
	p = chan->owner;
	if (p == NULL || chan->ostate == MPS_CHAN_OUT_CLOSED || data.len == 0)
		return;		/* the peer is gone: dropped */
	if (p->ops->deliver(p, data.ptr, data.len) != 0) {
		/* Cannot happen while the window holds; if it does, the
		 * peer loses its channel rather than a byte silently. */
		mps_log(MPS_LOG_ERROR, "management console %s: no room for the "
		    "device's data: channel closed", p->peer);
		peer_done(r, p, MPS_PEER_ENDED);
		return;
	}
	if (mps_chan_held(chan) == 0 && p->ops->unsent(p) < DOWN_BATCH &&
	    defer_flush(r)) {
		/* Within the window: the peer gets it with whatever else
		 * the rest of this read brings, in one send(). */
		return;
	}
	relay_pump(p);
	/* Whatever the peer did not take at once beyond the window stops
	 * the tunnel's input; collect resumes it once the peer drained. */
	if (mps_chan_held(chan) > 0)	/* 0 once the peer is gone */
		hold_input(r);
}

static void
on_close(relay *r, const mps_apf_msg_t *m)
{
	mps_chan_t *chan = NULL;
	int answer = 0;
	apr_status_t rv;

	rv = mps_chan_on_close(r->chans, m->u.channel_close.recipient, &chan,
	    &answer);
	if (rv != APR_SUCCESS) {
		protocol_error(r, "CHANNEL_CLOSE", rv);
		return;
	}
	if (answer && send_close(r, chan) < 0)
		return;
	if (chan->owner != NULL)
		relay_pump(chan->owner);	/* flush, then close it */
}

/* The channel messages, by type: one table, no parallel switch. */
static void (*const channel_handlers[256])(relay *r, const mps_apf_msg_t *m) = {
	[MPS_APF_CHANNEL_OPEN_CONFIRMATION] = on_confirmation,
	[MPS_APF_CHANNEL_OPEN_FAILURE] = on_open_failure,
	[MPS_APF_CHANNEL_WINDOW_ADJUST] = on_window_adjust,
	[MPS_APF_CHANNEL_DATA] = on_data,
	[MPS_APF_CHANNEL_CLOSE] = on_close,
};

static void
relay_on_message(mps_session_t *t, const mps_apf_msg_t *m)
{
	relay *r = relay_get(t);

	if (r == NULL || r->chans == NULL) {
		/* No channel exists: any reference to one is a protocol
		 * error, as LMS treats it. */
		mps_tunnel_close(t, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "%s for a channel that does not exist",
		    mps_apf_msg_name(m->type));
		return;
	}
	if (channel_handlers[m->type] == NULL) {
		mps_tunnel_close(t, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "unexpected %s", mps_apf_msg_name(m->type));
		return;
	}
	channel_handlers[m->type](r, m);
	collect(relay_get(t));
}

/* ---- channels the device opens ------------------------------------------- */

void
mps_relay_refuse_open(mps_session_t *t, apr_uint32_t sender,
    apr_uint32_t reason)
{
	mps_buf_t *out = mps_tunnel_output(t);

	if (out == NULL)
		return;		/* the tunnel is ending: nothing to tell */
	if (mps_apf_encode_channel_open_failure(out, sender, reason) !=
	    APR_SUCCESS) {
		mps_tunnel_close(t, 0, MPS_LOG_ERROR, "cannot queue "
		    "CHANNEL_OPEN_FAILURE: output full");
		return;
	}
	mps_tunnel_kick(t);
}

apr_status_t
mps_relay_accept_open(mps_session_t *t, mps_chan_peer_t *p,
    apr_uint32_t sender, apr_uint32_t window)
{
	const mps_config_t *cfg = mps_tunnel_side(t)->cfg;
	mps_chan_t *chan = NULL;
	relay *r = relay_for(t);
	apr_status_t rv;

	if (r == NULL)
		return APR_ENOMEM;
	rv = mps_chan_accept(r->chans, p, sender, window,
	    cfg->channel_window_size, &chan);
	if (rv != APR_SUCCESS) {
		collect(r);
		return rv;
	}
	p->chan = chan;
	p->session = t;
	p->relaying = 0;
	p->blocked = 0;
	p->input_ended = 0;
	p->remote_window_max = 0;
	report_channels(r);
	return APR_SUCCESS;
}

void
mps_relay_confirm_open(mps_chan_peer_t *p)
{
	relay *r = relay_get(p->session);
	mps_chan_t *chan = p->chan;
	mps_buf_t *out;
	int due = 0;

	if (r == NULL || chan == NULL || chan->state != MPS_CHAN_PENDING)
		return;		/* the tunnel is closing: relay_gc ends it */
	out = output(r);
	if (out == NULL || mps_apf_encode_channel_open_confirmation(out,
	    chan->remote_id, chan->local_id, chan->local_window_max) !=
	    APR_SUCCESS) {
		if (out != NULL)
			queue_failed(r, "CHANNEL_OPEN_CONFIRMATION");
		return;
	}
	(void)mps_chan_confirm(chan, &due);
	p->relaying = 1;
	p->ops->opened(p);
	relay_pump(p);
	mps_tunnel_kick(r->t);
}

/* The device hears CHANNEL_OPEN_FAILURE for a PENDING channel, which is
 * finished and left by its peer. */
static void
fail_pending(relay *r, mps_chan_peer_t *p, apr_uint32_t reason)
{
	mps_chan_t *chan = p->chan;

	if (r != NULL && chan != NULL && chan->state == MPS_CHAN_PENDING) {
		(void)mps_chan_refuse(chan, reason);
		mps_relay_refuse_open(r->t, chan->remote_id, reason);
	}
	detach(r, p);
}

void
mps_relay_fail_open(mps_chan_peer_t *p, apr_uint32_t reason)
{
	fail_pending(relay_get(p->session), p, reason);
}

/* ---- the tunnel's end, its output, its timers ---------------------------- */

static void
close_peer_of(void *arg, mps_chan_t *chan)
{
	relay *r = arg;
	mps_chan_peer_t *p = chan->owner;
	int relaying;

	if (p == NULL)
		return;
	relaying = p->relaying;
	detach(r, p);
	if (!relaying) {
		/* Still waiting for the device's answer, or (a channel the
		 * device opened) still connecting. */
		p->ops->refused(p, MPS_PEER_NO_DEVICE);
		return;
	}
	/* What already arrived from the device still goes out if the
	 * socket takes it now; then the peer sees the close. */
	p->ops->closed(p, MPS_PEER_TUNNEL_GONE);
}

/* The tunnel's end, a task after the closing op: every peer of the tunnel
 * is closed and the state freed. Also run when the task is discarded at
 * shutdown. */
static void
relay_gc(void *arg)
{
	relay *r = arg;

	if (r->chans != NULL) {
		mps_chan_table_foreach(r->chans, close_peer_of, r);
		mps_chan_table_destroy(r->chans);
	}
	free(r);
}

static void
relay_closing(mps_session_t *t)
{
	relay *r = mps_tunnel_channels(t);

	if (r == NULL || r->closing)
		return;
	/* Mark only: a walk of the table may be on the stack. */
	r->closing = 1;
	mps_timer_cancel(timers_of(r), &r->sweep);
	report_channels(r);
	(void)mps_tunnel_set_channels(t, NULL);
	if (mps_strand_post_free(mps_tunnel_strand(t), relay_gc, r) !=
	    APR_SUCCESS) {
		if (r->walking == 0)
			relay_gc(r);
		else
			mps_log(MPS_LOG_ERROR, "out of memory: the channels of "
			    "a closed tunnel are left open");
	}
}

/* Resumes blocked peers, round robin from r->cursor, while there is
 * room; if room runs out first, the tunnel is asked again. */
static void
relay_output_drained(mps_session_t *t)
{
	relay *r = relay_get(t);
	unsigned cap, k;

	if (r == NULL || r->chans == NULL)
		return;
	cap = mps_chan_table_capacity(r->chans);
	r->walking++;
	for (k = 0; k < cap && !r->closing; k++) {
		unsigned id = (r->cursor + k) % cap;
		mps_chan_t *chan = mps_chan_table_at(r->chans, id);
		mps_chan_peer_t *p = chan != NULL ? chan->owner : NULL;

		if (p == NULL || !p->blocked || !p->relaying)
			continue;
		if (mps_tunnel_room(t) == 0) {
			/* The rest wait for the next drain, first in line. */
			r->cursor = id;
			mps_tunnel_wait_room(t);
			break;
		}
		relay_pump(p);
	}
	r->walking--;
	collect(relay_get(t));
}

static void
open_timed_out(void *arg, mps_chan_t *chan)
{
	relay *r = arg;
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	mps_chan_peer_t *p = chan->owner;

	if (r->closing || p == NULL || (chan->state != MPS_CHAN_OPENING &&
	    chan->state != MPS_CHAN_PENDING))
		return;
	if (chan->state == MPS_CHAN_PENDING) {
		/* Our connect for the device: it hears OPEN_FAILURE. */
		fail_pending(r, p, MPS_CHAN_OPEN_CONNECT_FAILED);
		p->ops->refused(p, MPS_PEER_TIMEOUT);
		return;
	}
	mps_log(MPS_LOG_WARNING, "Intel remote client %s did not answer the "
	    "channel to port %u for management console %s within %ld s",
	    mps_tunnel_name(r->t, name, sizeof(name)), (unsigned)p->port,
	    p->peer,
	    (long)apr_time_sec(mps_tunnel_side(r->t)->cfg->channel_open_timeout));
	/* The channel keeps its id until the device answers (then CLOSE
	 * goes). */
	peer_refused(r, p, MPS_PEER_TIMEOUT);
}

static void
idle_closed(void *arg, mps_chan_t *chan)
{
	relay *r = arg;
	mps_chan_peer_t *p = chan->owner;

	if (r->closing || chan->state != MPS_CHAN_OPEN || p == NULL)
		return;
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and "
	    "management console %s idle for %ld s (ChannelIdleTimeout): "
	    "closed", p->device_name, p->peer,
	    (long)apr_time_sec(mps_tunnel_side(r->t)->cfg->channel_idle_timeout));
	if (!chan->close_sent && send_close(r, chan) < 0)
		return;
	detach(r, p);
	p->ops->closed(p, MPS_PEER_IDLE);
}

/*
 * The tunnel's input has been held for IdleTimeout: the peer of the
 * channel that holds data beyond its window takes nothing. Waiting on
 * would starve the tunnel's other channels and its keepalives for one
 * console's sake, so that channel is closed instead (collect resumes
 * the input).
 */
static void
close_holders(relay *r)
{
	unsigned id, cap = mps_chan_table_capacity(r->chans);

	for (id = 0; id < cap && !r->closing; id++) {
		mps_chan_t *chan = mps_chan_table_at(r->chans, id);

		if (chan != NULL && mps_chan_held(chan) > 0)
			overrun_close(r, chan, "held the tunnel for IdleTimeout: "
			    "its console takes no data");
	}
}

/* Once a sweep: storage kept for traffic (mps_buf_set_keep) that is
 * empty now is freed, so that a channel or tunnel whose traffic stopped
 * holds it at most a sweep interval; a busy one allocates it again once
 * a second instead of on every pass. */
static void
trim_buffers(relay *r)
{
	unsigned id, cap = mps_chan_table_capacity(r->chans);

	for (id = 0; id < cap; id++) {
		mps_chan_t *chan = mps_chan_table_at(r->chans, id);
		mps_chan_peer_t *p = chan != NULL ? chan->owner : NULL;

		if (p != NULL && p->ops->trim != NULL)
			p->ops->trim(p);
	}
	mps_tunnel_keep_buffers(r->t, 0);
	mps_tunnel_keep_buffers(r->t, 1);
}

/* The sweep timer, on the strand: open timeouts and idle channels. */
static void
relay_sweep(void *arg)
{
	relay *r = arg;
	const mps_config_t *cfg = mps_tunnel_side(r->t)->cfg;
	apr_time_t now = apr_time_now();

	if (r->closing || r->chans == NULL)
		return;
	r->walking++;
	(void)mps_chan_table_idle(r->chans, now, cfg->channel_open_timeout,
	    open_timed_out, r);
	if (!r->closing && cfg->channel_idle_timeout > 0)
		(void)mps_chan_table_idle(r->chans, now,
		    cfg->channel_idle_timeout, idle_closed, r);
	if (!r->closing && r->input_held &&
	    now - r->held_since >= cfg->idle_timeout)
		close_holders(r);
	if (!r->closing)
		trim_buffers(r);
	r->walking--;
	if (r->closing)
		return;
	collect(r);
	if (r->chans != NULL)
		arm_sweep(r);
	mps_tunnel_kick(r->t);
}

const mps_tunnel_ops_t mps_relay_tunnel_ops = {
	.on_message = relay_on_message,
	.on_device_open = NULL,
	.output_drained = relay_output_drained,
	.closing = relay_closing,
};
