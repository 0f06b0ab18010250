/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel_relay.c: console channels on the device's strand.
 *
 * Everything here runs on the strand of one device tunnel: the console's
 * socket events (its registration names that strand), the APF channel
 * messages the session hands over, and the sweep timer. So the channel
 * table (channel.h), the tunnel's output and the consoles' buffers need
 * no lock.
 *
 * Flow control, as APF.md asks:
 *  - a console is read only while its channel's send budget is non-zero,
 *    at most that many bytes, and only while the tunnel's output is
 *    below MPS_SESSION_OUT_HIGH (a device that does not read its socket
 *    stops every console of its tunnel instead of growing memory);
 *  - device bytes go into the console's down buffer, which the window
 *    bounds: the device may not send more than we advertised, and
 *    WINDOW_ADJUST is granted only for bytes the console socket accepted.
 * Per channel mpsd holds at most ChannelWindowSize bytes towards the
 * console and ChannelWindowSize towards the device (the up buffer of an
 * HTTP console); raw consoles are read straight into the tunnel's output.
 */
#include "apf_session_priv.h"
#include "console_priv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mps_status.h"

/* Console bytes moved per pass before other work of the strand runs. */
#define PASS_BUDGET (256 * 1024)
/* How often open timeouts and idle channels are looked for. */
#define SWEEP_INTERVAL apr_time_from_sec(1)

static void relay_pump(mps_console_t *c);
static void relay_io(void *arg);

/* ---- helpers ------------------------------------------------------------ */

static void
protocol_error(mps_session_t *s, const char *what, apr_status_t rv)
{
	char msg[96];

	mps_session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR, MPS_LOG_WARNING,
	    "%s: %s", what, mps_strerror(rv, msg, sizeof(msg)));
}

static int
send_close(mps_session_t *s, mps_chan_t *chan)
{
	if (mps_apf_encode_channel_close(&s->io.out, chan->remote_id) !=
	    APR_SUCCESS) {
		mps_session_close(s, 0, MPS_LOG_ERROR, "cannot queue "
		    "CHANNEL_CLOSE: output full");
		return -1;
	}
	(void)mps_chan_close_sent(chan);
	return 0;
}

static void
arm_sweep(mps_session_t *s)
{
	mps_timers_t *timers = mps_poller_timers(s->side->poller);

	if (!mps_timer_is_armed(timers, &s->chan_timer))
		(void)mps_timer_arm(timers, &s->chan_timer, SWEEP_INTERVAL);
}

/* Frees finished channels whose console is gone; the table itself goes
 * with the last one (idle tunnels keep no table). */
static void
collect(mps_session_t *s)
{
	if (s->chans == NULL)
		return;
	(void)mps_chan_collect(s->chans, NULL, NULL);
	mps_device_set_channels(s->dev, mps_chan_table_count(s->chans));
	if (mps_chan_table_count(s->chans) == 0) {
		mps_chan_table_destroy(s->chans);
		s->chans = NULL;
		mps_timer_cancel(mps_poller_timers(s->side->poller),
		    &s->chan_timer);
	}
}

/* Detaches the console from its channel (which may then be collected)
 * and sends CHANNEL_CLOSE if that makes it due. */
static void
detach(mps_console_t *c)
{
	mps_chan_t *chan = c->chan;
	mps_session_t *s = c->session;

	if (chan == NULL)
		return;
	c->chan = NULL;
	if (mps_chan_console_gone(chan) && s->state == S_ACTIVE)
		(void)send_close(s, chan);
}

/* The console went away or is closed by us: detach, log, close. The
 * channel is collected later, at the top of the strand's task (never
 * inside a table walk). */
static void
console_done(mps_console_t *c)
{
	mps_session_t *s = c->session;

	detach(c);
	/* The guide logs the end of every console connection that had a
	 * channel, whichever side ended it. */
	if (c->ops->log_shutdown)
		mps_log(MPS_LOG_INFO, "[%s] management console has shutdown",
		    c->ip);
	mps_log(MPS_LOG_DEBUG, "Channel between Intel remote client %s and "
	    "management console %s closed: %llu bytes to the device, %llu "
	    "to the console", c->device_name, c->peer, c->bytes_up,
	    c->bytes_down);
	mps_console_finalize(c);
	mps_session_kick(s);
}

/* ---- attach: the console arrives on the device's strand ---------------- */

static void
attach_refuse(mps_console_t *c, open_result why)
{
	c->ops->refused(c, why);
	mps_console_close_soon(c);
}

void
mps_relay_attach(void *arg)
{
	mps_console_t *c = arg;
	mps_session_t *s = c->session;
	const mps_config_t *cfg = s->side->cfg;
	char name[MPS_REGISTRY_FQDN_SIZE];
	mps_chan_t *chan = NULL;
	apr_status_t rv;

	if (c->phase != C_MOVING)
		goto out;	/* closed meanwhile */
	c->phase = C_OPENING;
	if (s->state != S_ACTIVE || !mps_device_is_registered(c->dev)) {
		mps_log(MPS_LOG_WARNING, "%s console %s: Intel remote client %s "
		    "disconnected before the channel opened", c->ops->name,
		    c->peer, c->device_name);
		attach_refuse(c, OPEN_NO_DEVICE);
		goto out;
	}
	if (s->chans == NULL) {
		rv = mps_chan_table_create(&s->chans,
		    (unsigned)cfg->max_channels_per_device, 0, NULL, NULL);
		if (rv != APR_SUCCESS) {
			attach_refuse(c, OPEN_INTERNAL);
			goto out;
		}
	}
	rv = mps_chan_open(s->chans, c, cfg->channel_window_size, &chan);
	if (rv != APR_SUCCESS) {
		if (rv == APR_ENOSPC)
			mps_log(MPS_LOG_WARNING, "%s console %s: Intel remote "
			    "client %s already has %d channels "
			    "(MaxChannelsPerDevice)", c->ops->name, c->peer,
			    mps_session_name(s, name, sizeof(name)),
			    cfg->max_channels_per_device);
		attach_refuse(c, rv == APR_ENOSPC ? OPEN_TOO_MANY : OPEN_INTERNAL);
		collect(s);
		goto out;
	}
	rv = mps_apf_encode_channel_open(&s->io.out,
	    mps_apf_cstr(MPS_APF_CHAN_FORWARDED_TCPIP), chan->local_id,
	    chan->local_window_max, mps_apf_cstr(c->connect_host), c->port,
	    mps_apf_cstr(c->ip), c->peer_port);
	if (rv != APR_SUCCESS) {
		/* Nothing was sent: the channel can go at once. */
		(void)mps_chan_on_open_failure(s->chans, chan->local_id,
		    MPS_CHAN_OPEN_RESOURCE_SHORTAGE, &chan);
		(void)mps_chan_console_gone(chan);
		attach_refuse(c, OPEN_INTERNAL);
		collect(s);
		goto out;
	}
	c->chan = chan;
	/* The device's bytes for the console: the window bounds them. */
	(void)mps_buf_set_max_size(&c->down, (size_t)chan->local_window_max +
	    (mps_buf_len(&c->down) > 0 ? mps_buf_len(&c->down) : 0));
	/* Bytes the console sent along with its request go first. */
	if (mps_buf_len(&c->in) > 0 && c->raw) {
		if (mps_buf_put(&c->up, mps_buf_ptr(&c->in),
		    mps_buf_len(&c->in)) != APR_SUCCESS) {
			attach_refuse(c, OPEN_INTERNAL);
			goto out;
		}
		mps_buf_reset(&c->in);
	}
	rv = mps_poller_register(s->side->poller, &c->reg, c->wrap, s->strand,
	    relay_io, c);
	if (rv != APR_SUCCESS) {
		c->chan = NULL;
		(void)mps_chan_console_gone(chan);
		attach_refuse(c, OPEN_INTERNAL);
		goto out;
	}
	arm_sweep(s);
	mps_session_kick(s);
	collect(s);
out:
	mps_console_unref(c);	/* the move's reference */
}

void
mps_relay_begin(mps_console_t *c)
{
	mps_session_t *s = c->session;

	c->phase = C_RELAY;
	if (mps_poller_register(s->side->poller, &c->reg, c->wrap, s->strand,
	    relay_io, c) != APR_SUCCESS) {
		console_done(c);
		return;
	}
	relay_pump(c);
}

/* ---- console -> device ------------------------------------------------- */

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
usable_budget(mps_console_t *c, size_t waiting)
{
	mps_chan_t *chan = c->chan;
	apr_uint32_t budget = mps_chan_send_budget(chan);
	apr_uint32_t threshold;

	if (budget == 0)
		return 0;
	if (chan->remote_window > c->remote_window_max)
		c->remote_window_max = chan->remote_window;
	if (chan->remote_window >= c->remote_window_max)
		return budget;		/* nothing in flight */
	threshold = c->remote_window_max / 2;
	if (threshold > chan->remote_maxpacket)
		threshold = chan->remote_maxpacket;
	if (waiting > 0 && waiting < threshold)
		threshold = (apr_uint32_t)waiting;
	return budget >= threshold ? budget : 0;
}

/* Sends from c->up while the window allows. Returns the bytes sent. */
static size_t
send_up(mps_console_t *c, size_t limit)
{
	mps_session_t *s = c->session;
	mps_chan_t *chan = c->chan;
	size_t sent = 0;

	while (mps_buf_len(&c->up) > 0 && sent < limit) {
		size_t n = mps_buf_len(&c->up);
		apr_uint32_t budget = usable_budget(c, n);

		if (budget == 0)
			break;
		if (mps_buf_len(&s->io.out) >= MPS_SESSION_OUT_HIGH) {
			c->blocked = 1;
			s->consoles_blocked = 1;
			break;
		}
		if (n > budget)
			n = budget;
		if (mps_apf_encode_channel_data(&s->io.out, chan->remote_id,
		    mps_buf_ptr(&c->up), n) != APR_SUCCESS) {
			c->blocked = 1;
			s->consoles_blocked = 1;
			break;
		}
		(void)mps_chan_on_sent(chan, n);
		(void)mps_buf_consume(&c->up, n);
		c->bytes_up += n;
		sent += n;
	}
	return sent;
}

/*
 * Reads the console straight into a CHANNEL_DATA in the tunnel's output
 * (no copy). Returns the bytes read, 0 when it must wait (or at EOF:
 * c->eof), -1 when the console is gone.
 */
static ssize_t
read_raw(mps_console_t *c)
{
	mps_session_t *s = c->session;
	mps_chan_t *chan = c->chan;
	apr_uint32_t budget = usable_budget(c, 0);
	uint8_t *tail;
	ssize_t n;

	if (budget == 0)
		return 0;
	if (mps_buf_len(&s->io.out) >= MPS_SESSION_OUT_HIGH) {
		c->blocked = 1;
		s->consoles_blocked = 1;
		return 0;
	}
	if (mps_buf_reserve(&s->io.out, MPS_APF_CHANNEL_DATA_HDR_LEN + budget,
	    &tail) != APR_SUCCESS) {
		c->blocked = 1;
		s->consoles_blocked = 1;
		return 0;
	}
	do
		n = recv(c->fd, tail + MPS_APF_CHANNEL_DATA_HDR_LEN, budget, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		(void)mps_apf_channel_data_header(tail, chan->remote_id, (size_t)n);
		(void)mps_buf_commit(&s->io.out,
		    MPS_APF_CHANNEL_DATA_HDR_LEN + (size_t)n);
		(void)mps_chan_on_sent(chan, (size_t)n);
		c->bytes_up += (unsigned long long)n;
		return n;
	}
	if (n == 0) {
		c->eof = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	return -1;
}

/* The console ended its input: drain what it sent, then CLOSE. */
static void
input_ended(mps_console_t *c)
{
	mps_chan_t *chan = c->chan;

	if (chan->istate != MPS_CHAN_IN_OPEN)
		return;
	if (mps_chan_console_eof(chan, mps_buf_len(&c->up)))
		(void)send_close(c->session, chan);
}

static int
console_to_device(mps_console_t *c)
{
	mps_chan_t *chan = c->chan;
	size_t moved = 0;

	c->blocked = 0;
	while (moved < PASS_BUDGET && c->chan != NULL &&
	    chan->state == MPS_CHAN_OPEN && !chan->close_sent) {
		moved += send_up(c, PASS_BUDGET - moved);
		if (mps_buf_len(&c->up) > 0) {
			if (chan->istate == MPS_CHAN_IN_DRAIN)
				return 0;	/* waits for window */
			break;
		}
		if (chan->istate == MPS_CHAN_IN_DRAIN) {
			if (mps_chan_input_drained(chan))
				(void)send_close(c->session, chan);
			return 0;
		}
		if (c->eof) {
			input_ended(c);
			return 0;
		}
		if (c->blocked || usable_budget(c, 0) == 0)
			break;
		if (c->raw) {
			ssize_t r = read_raw(c);
			if (r < 0)
				return -1;
			if (r == 0 && !c->eof)
				break;
			moved += (size_t)r;
			continue;
		}
		/* HTTP: parse what the console sent into c->up. */
		if (mps_buf_len(&c->in) < mps_buf_max_size(&c->in) &&
		    mps_console_read(c, 65536) < 0)
			return -1;
		if (c->ops->to_device(c) < 0) {
			/* An error reply is queued behind the responses:
			 * stop reading; CLOSE once they are flushed. */
			c->eof = 1;
			input_ended(c);
			return 0;
		}
		if (mps_buf_len(&c->up) == 0 && !c->eof)
			break;
	}
	return 0;
}

/* ---- moving a keep-alive HTTP console to another device ---------------- */

static void
unref_task(void *arg)
{
	mps_console_unref(arg);
}

static void
relay_switch(mps_console_t *c, const char *host, apr_port_t port)
{
	mps_session_t *s = c->session;
	open_result why;

	detach(c);
	mps_session_kick(s);
	/* A poll firing may already be queued on this strand: the console
	 * must outlive it, whatever happens on its next strand. */
	mps_console_ref(c);
	if (mps_strand_post(s->strand, unref_task, c) != APR_SUCCESS)
		mps_console_unref(c);
	c->phase = C_FRONT;
	c->blocked = 0;
	why = mps_console_resolve(c, host, port);
	if (why != OPEN_OK) {
		c->ops->refused(c, why);
		mps_console_close_soon(c);
		return;
	}
	c->remote_window_max = 0;
	c->ops->switched(c);
	mps_console_move(c);
}

/* ---- the pump ----------------------------------------------------------- */

static void
relay_wait(mps_console_t *c)
{
	mps_chan_t *chan = c->chan;
	apr_int16_t ev = 0;

	if (mps_buf_len(&c->down) > 0)
		ev |= APR_POLLOUT;
	if (chan != NULL && chan->state == MPS_CHAN_OPEN && !c->eof &&
	    chan->istate == MPS_CHAN_IN_OPEN && !chan->close_sent &&
	    !c->blocked && usable_budget(c, 0) > 0 &&
	    (c->raw ? mps_buf_len(&c->up) == 0 :
	    mps_buf_len(&c->up) < mps_buf_max_size(&c->up)))
		ev |= APR_POLLIN;
	if (ev == 0)
		return;	/* woken by a window adjust or the output draining */
	if (mps_poller_watch(c->session->side->poller, c->reg, ev) !=
	    APR_SUCCESS)
		console_done(c);
}

static void
relay_pump(mps_console_t *c)
{
	mps_session_t *s = c->session;
	mps_chan_t *chan = c->chan;
	apr_uint32_t adjust = 0;
	size_t n = 0;

	if (c->phase != C_RELAY || c->in_pump)
		return;
	c->in_pump = 1;
	if (mps_console_flush(c, &n) < 0) {
		c->in_pump = 0;
		console_done(c);
		return;
	}
	if (n > 0 && chan != NULL && chan->state == MPS_CHAN_OPEN &&
	    mps_chan_console_accepted(chan, n, &adjust) == APR_SUCCESS &&
	    adjust > 0 &&
	    mps_apf_encode_window_adjust(&s->io.out, chan->remote_id, adjust) !=
	    APR_SUCCESS) {
		c->in_pump = 0;
		mps_session_close(s, 0, MPS_LOG_ERROR, "cannot queue "
		    "WINDOW_ADJUST: output full");
		return;
	}
	if (chan != NULL && chan->ostate == MPS_CHAN_OUT_DRAIN &&
	    mps_buf_len(&c->down) == 0) {
		/* The device closed and everything reached the console. */
		c->in_pump = 0;
		console_done(c);
		return;
	}
	if (chan != NULL && chan->state == MPS_CHAN_OPEN &&
	    console_to_device(c) < 0) {
		c->in_pump = 0;
		if (c->phase == C_RELAY)
			console_done(c);
		return;
	}
	c->in_pump = 0;
	if (c->phase != C_RELAY)
		return;		/* the tunnel ended meanwhile */
	if (!c->raw && c->ops->switch_ready != NULL) {
		char host[MPS_REGISTRY_FQDN_SIZE];
		apr_port_t port = 0;

		if (c->ops->switch_ready(c, host, sizeof(host), &port)) {
			relay_switch(c, host, port);
			return;
		}
	}
	relay_wait(c);
	mps_session_kick(s);
}

static void
relay_io(void *arg)
{
	mps_console_t *c = arg;
	mps_session_t *s = c->session;
	apr_int16_t ev;

	if (c->phase != C_RELAY || c->reg == NULL)
		return;
	ev = mps_pollreg_events(c->reg);
	if ((ev & (APR_POLLERR | APR_POLLNVAL)) != 0 &&
	    (ev & APR_POLLIN) == 0) {
		console_done(c);
	} else {
		relay_pump(c);
	}
	if (s->state == S_ACTIVE)
		collect(s);
}

/* ---- device -> console: the session's channel messages ----------------- */

static void
on_confirmation(mps_session_t *s, const mps_apf_msg_t *m)
{
	char name[MPS_REGISTRY_FQDN_SIZE];
	mps_chan_t *chan = NULL;
	mps_console_t *c;
	int due = 0;
	apr_status_t rv;

	rv = mps_chan_on_open_confirmation(s->chans,
	    m->u.channel_open_confirmation.recipient,
	    m->u.channel_open_confirmation.sender,
	    m->u.channel_open_confirmation.window, &chan, &due);
	if (rv != APR_SUCCESS) {
		protocol_error(s, "CHANNEL_OPEN_CONFIRMATION", rv);
		return;
	}
	if (due && send_close(s, chan) < 0)
		return;
	c = chan->owner;
	if (c == NULL)
		return;		/* the console left while the device answered */
	c->phase = C_RELAY;
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and "
	    "management console %s opened. Channel ID [%u:%u]",
	    mps_session_name(s, name, sizeof(name)), c->ip,
	    (unsigned)chan->remote_id, (unsigned)chan->local_id);
	c->ops->opened(c);
	relay_pump(c);
}

static void
on_open_failure(mps_session_t *s, const mps_apf_msg_t *m)
{
	char name[MPS_REGISTRY_FQDN_SIZE];
	mps_chan_t *chan = NULL;
	mps_console_t *c;
	apr_status_t rv;

	rv = mps_chan_on_open_failure(s->chans,
	    m->u.channel_open_failure.recipient,
	    m->u.channel_open_failure.reason, &chan);
	if (rv != APR_SUCCESS) {
		protocol_error(s, "CHANNEL_OPEN_FAILURE", rv);
		return;
	}
	c = chan->owner;
	if (c == NULL)
		return;
	mps_log(MPS_LOG_WARNING, "Intel remote client %s refused a channel "
	    "to port %u for management console %s: %s (%u)",
	    mps_session_name(s, name, sizeof(name)), (unsigned)c->port, c->peer,
	    mps_chan_open_failure_name(m->u.channel_open_failure.reason),
	    (unsigned)m->u.channel_open_failure.reason);
	c->chan = NULL;
	(void)mps_chan_console_gone(chan);
	c->ops->refused(c, OPEN_DEVICE_REFUSED);
	mps_console_close_soon(c);
}

static void
on_window_adjust(mps_session_t *s, const mps_apf_msg_t *m)
{
	mps_chan_t *chan = NULL;
	int resume = 0;
	apr_status_t rv;

	rv = mps_chan_lookup(s->chans, m->u.window_adjust.recipient, &chan);
	if (rv == APR_SUCCESS)
		rv = mps_chan_on_window_adjust(chan,
		    m->u.window_adjust.bytes_to_add, &resume);
	if (rv != APR_SUCCESS) {
		protocol_error(s, "CHANNEL_WINDOW_ADJUST", rv);
		return;
	}
	if (resume && chan->owner != NULL)
		relay_pump(chan->owner);
}

static void
on_data(mps_session_t *s, const mps_apf_msg_t *m)
{
	mps_apf_str_t data = m->u.channel_data.data;
	mps_chan_t *chan = NULL;
	mps_console_t *c;
	apr_status_t rv;

	rv = mps_chan_lookup(s->chans, m->u.channel_data.recipient, &chan);
	if (rv == APR_SUCCESS)
		rv = mps_chan_on_data(chan, data.len);
	if (rv != APR_SUCCESS) {
		protocol_error(s, "CHANNEL_DATA", rv);
		return;
	}
	c = chan->owner;
	if (c == NULL || chan->ostate == MPS_CHAN_OUT_CLOSED || data.len == 0)
		return;		/* the console is gone: dropped */
	if (mps_buf_put(&c->down, data.ptr, data.len) != APR_SUCCESS) {
		/* Cannot happen while the window holds; if it does, the
		 * console loses its channel rather than a byte silently. */
		mps_log(MPS_LOG_ERROR, "management console %s: no room for the "
		    "device's data: channel closed", c->peer);
		console_done(c);
		return;
	}
	if (!c->raw)
		c->ops->from_device(c, data.ptr, data.len);
	relay_pump(c);
}

static void
on_close(mps_session_t *s, const mps_apf_msg_t *m)
{
	mps_chan_t *chan = NULL;
	int answer = 0;
	apr_status_t rv;

	rv = mps_chan_on_close(s->chans, m->u.channel_close.recipient, &chan,
	    &answer);
	if (rv != APR_SUCCESS) {
		protocol_error(s, "CHANNEL_CLOSE", rv);
		return;
	}
	if (answer && send_close(s, chan) < 0)
		return;
	if (chan->owner != NULL)
		relay_pump(chan->owner);	/* flush, then close it */
	collect(s);
}

void
mps_relay_on_message(mps_session_t *s, const mps_apf_msg_t *m)
{
	if (s->chans == NULL) {
		/* No channel exists: any reference to one is a protocol
		 * error, as LMS treats it. */
		mps_session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "%s for a channel that does not exist",
		    mps_apf_msg_name(m->type));
		return;
	}
	switch (m->type) {
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
		on_confirmation(s, m);
		break;
	case MPS_APF_CHANNEL_OPEN_FAILURE:
		on_open_failure(s, m);
		break;
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
		on_window_adjust(s, m);
		break;
	case MPS_APF_CHANNEL_DATA:
		on_data(s, m);
		break;
	case MPS_APF_CHANNEL_CLOSE:
		on_close(s, m);
		break;
	default:
		mps_session_close(s, MPS_APF_DISCONNECT_PROTOCOL_ERROR,
		    MPS_LOG_WARNING, "unexpected %s", mps_apf_msg_name(m->type));
		return;
	}
	if (s->state == S_ACTIVE)
		collect(s);
}

/* ---- the tunnel's end, its output, its timers -------------------------- */

static void
close_console_of(void *arg, mps_chan_t *chan)
{
	mps_console_t *c = chan->owner;
	size_t n;

	(void)arg;
	if (c == NULL)
		return;
	c->chan = NULL;
	(void)mps_chan_console_gone(chan);
	if (c->phase == C_OPENING) {
		c->ops->refused(c, OPEN_NO_DEVICE);
		mps_console_close_soon(c);
		return;
	}
	/* What already arrived from the device still goes out if the
	 * socket takes it now; then the console sees the close. */
	(void)mps_console_flush(c, &n);
	if (c->ops->log_shutdown)
		mps_log(MPS_LOG_INFO, "[%s] management console has shutdown",
		    c->ip);
	mps_console_finalize(c);
}

void
mps_relay_tunnel_closing(mps_session_t *s)
{
	mps_chan_table_t *t = s->chans;

	if (t == NULL)
		return;
	/* Detached first, so that nothing called from the walk can reach
	 * the table again. */
	s->chans = NULL;
	mps_device_set_channels(s->dev, 0);
	mps_chan_table_foreach(t, close_console_of, s);
	mps_chan_table_destroy(t);
	mps_timer_cancel(mps_poller_timers(s->side->poller), &s->chan_timer);
}

static void
resume_blocked(void *arg, mps_chan_t *chan)
{
	mps_console_t *c = chan->owner;

	(void)arg;
	if (c != NULL && c->blocked && c->phase == C_RELAY)
		relay_pump(c);
}

void
mps_relay_output_drained(mps_session_t *s)
{
	if (s->chans != NULL)
		mps_chan_table_foreach(s->chans, resume_blocked, s);
	if (s->state == S_ACTIVE)
		collect(s);
}

static void
open_timed_out(void *arg, mps_chan_t *chan)
{
	mps_session_t *s = arg;
	char name[MPS_REGISTRY_FQDN_SIZE];
	mps_console_t *c = chan->owner;

	if (chan->state != MPS_CHAN_OPENING || c == NULL)
		return;
	mps_log(MPS_LOG_WARNING, "Intel remote client %s did not answer the "
	    "channel to port %u for management console %s within %ld s",
	    mps_session_name(s, name, sizeof(name)), (unsigned)c->port, c->peer,
	    (long)apr_time_sec(s->side->cfg->channel_open_timeout));
	/* The refusal first: a direct-tcpip channel gives its id back
	 * there. A forwarded one keeps its id until the device answers
	 * (then CLOSE goes). */
	c->ops->refused(c, OPEN_TIMEOUT);
	if (c->chan != NULL) {
		c->chan = NULL;
		(void)mps_chan_console_gone(chan);
	}
	mps_console_close_soon(c);
}

static void
idle_closed(void *arg, mps_chan_t *chan)
{
	mps_session_t *s = arg;
	mps_console_t *c = chan->owner;

	if (chan->state != MPS_CHAN_OPEN || c == NULL)
		return;
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and "
	    "management console %s idle for %ld s (ChannelIdleTimeout): "
	    "closed", c->device_name, c->peer,
	    (long)apr_time_sec(s->side->cfg->channel_idle_timeout));
	if (!chan->close_sent && send_close(s, chan) < 0)
		return;
	c->chan = NULL;
	(void)mps_chan_console_gone(chan);
	mps_console_finalize(c);
}

void
mps_relay_sweep(void *arg)
{
	mps_session_t *s = arg;
	const mps_config_t *cfg = s->side->cfg;
	apr_time_t now = apr_time_now();

	if (s->chans == NULL || s->state != S_ACTIVE)
		return;
	(void)mps_chan_table_idle(s->chans, now, cfg->channel_open_timeout,
	    open_timed_out, s);
	if (s->chans != NULL && s->state == S_ACTIVE &&
	    cfg->channel_idle_timeout > 0)
		(void)mps_chan_table_idle(s->chans, now,
		    cfg->channel_idle_timeout, idle_closed, s);
	if (s->state != S_ACTIVE)
		return;
	collect(s);
	if (s->chans != NULL)
		arm_sweep(s);
	mps_session_kick(s);
}
