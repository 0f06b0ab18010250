/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel.c: the channel bookkeeping of one APF tunnel (see channel.h).
 *
 * Rules kept throughout, so the randomized model test can hold us to them:
 *   - every function either succeeds or returns an error having changed
 *     nothing;
 *   - only the event functions change state; foreach, idle and lookup
 *     never do, and nothing but collect and destroy frees;
 *   - local_window + local_consumed <= local_window_max + local_overrun,
 *     the difference being the device bytes the console has not accepted
 *     yet (local_overrun is 0 unless the table tolerates overruns).
 */
#include "channel.h"

#include <stdlib.h>

#include "mps_status.h"

struct mps_chan_table_t {
	mps_chan_t **slots;		/* max_channels entries, NULL = free */
	unsigned max_channels;
	unsigned count;			/* non-NULL slots */
	apr_uint32_t max_packet;
	apr_uint32_t overrun_max;	/* 0: any overrun is refused */
	mps_chan_clock_fn clock;
	void *clock_arg;
};

static apr_time_t
table_now(const mps_chan_table_t *t)
{
	return t->clock != NULL ? t->clock(t->clock_arg) : apr_time_now();
}

apr_status_t
mps_chan_table_create(mps_chan_table_t **out, unsigned max_channels,
    apr_uint32_t max_packet, mps_chan_clock_fn clock, void *clock_arg)
{
	mps_chan_table_t *t;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (max_channels == 0 || max_channels > MPS_CHAN_TABLE_MAX ||
	    max_packet > MPS_CHAN_MAXPACKET_LIMIT)
		return APR_EINVAL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return APR_ENOMEM;
	/* Allocated once at its full (small) size so a callback that opens a
	 * channel can never move the array under an iteration. */
	if ((t->slots = calloc(max_channels, sizeof(*t->slots))) == NULL) {
		free(t);
		return APR_ENOMEM;
	}
	t->max_channels = max_channels;
	t->max_packet = max_packet != 0 ? max_packet :
	    MPS_CHAN_DEFAULT_MAXPACKET;
	t->clock = clock;
	t->clock_arg = clock_arg;
	*out = t;
	return APR_SUCCESS;
}

void
mps_chan_table_destroy(mps_chan_table_t *t)
{
	unsigned i;

	if (t == NULL)
		return;
	for (i = 0; i < t->max_channels; i++)
		free(t->slots[i]);
	free(t->slots);
	free(t);
}

unsigned
mps_chan_table_count(const mps_chan_table_t *t)
{
	return t->count;
}

apr_status_t
mps_chan_open(mps_chan_table_t *t, void *owner, apr_uint32_t local_window_max,
    mps_chan_t **chan)
{
	mps_chan_t *c;
	unsigned i;

	*chan = NULL;
	if (local_window_max == 0 || local_window_max > MPS_CHAN_WINDOW_LIMIT)
		return APR_EINVAL;
	if (t->count >= t->max_channels)
		return APR_ENOSPC;
	/* Lowest free id first: ids stay small and a device that counts
	 * channels by id (LMS keeps a small table) sees no gaps. A linear
	 * scan is fine at <= 1024 slots, once per console connection. */
	for (i = 0; i < t->max_channels; i++)
		if (t->slots[i] == NULL)
			break;
	if (i == t->max_channels)
		return APR_ENOSPC;	/* count is wrong: cannot happen */
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return APR_ENOMEM;
	c->local_id = (apr_uint32_t)i;
	c->state = MPS_CHAN_OPENING;
	c->istate = MPS_CHAN_IN_OPEN;
	c->ostate = MPS_CHAN_OUT_OPEN;
	c->local_window = local_window_max;
	c->local_window_max = local_window_max;
	c->remote_maxpacket = t->max_packet;
	c->last_activity = table_now(t);
	c->owner = owner;
	c->table = t;
	t->slots[i] = c;
	t->count++;
	*chan = c;
	return APR_SUCCESS;
}

apr_status_t
mps_chan_accept(mps_chan_table_t *t, void *owner, apr_uint32_t sender,
    apr_uint32_t initial_window, apr_uint32_t local_window_max,
    mps_chan_t **chan)
{
	apr_status_t rv = mps_chan_open(t, owner, local_window_max, chan);

	if (rv != APR_SUCCESS)
		return rv;
	(*chan)->state = MPS_CHAN_PENDING;
	(*chan)->remote_id = sender;
	(*chan)->have_remote_id = 1;
	(*chan)->remote_window = initial_window;
	return APR_SUCCESS;
}

apr_status_t
mps_chan_confirm(mps_chan_t *c, int *send_close)
{
	*send_close = 0;
	if (c->state != MPS_CHAN_PENDING)
		return APR_EINVAL;
	c->state = MPS_CHAN_OPEN;
	c->last_activity = table_now(c->table);
	*send_close = mps_chan_close_due(c);
	return APR_SUCCESS;
}

apr_status_t
mps_chan_refuse(mps_chan_t *c, apr_uint32_t reason)
{
	if (c->state != MPS_CHAN_PENDING)
		return APR_EINVAL;
	c->state = MPS_CHAN_FAILED;
	c->open_failure = reason;
	c->istate = MPS_CHAN_IN_CLOSED;
	return APR_SUCCESS;
}

mps_chan_t *
mps_chan_table_at(const mps_chan_table_t *t, unsigned id)
{
	return id < t->max_channels ? t->slots[id] : NULL;
}

unsigned
mps_chan_table_capacity(const mps_chan_table_t *t)
{
	return t->max_channels;
}

int
mps_chan_is_finished(const mps_chan_t *c)
{
	return c->state == MPS_CHAN_FAILED || (c->close_sent && c->close_rcvd);
}

apr_status_t
mps_chan_lookup(mps_chan_table_t *t, apr_uint32_t recipient, mps_chan_t **chan)
{
	mps_chan_t *c;

	*chan = NULL;
	/* The id comes off the wire: range-check before indexing. */
	if (recipient >= t->max_channels)
		return MPS_ERR_UNKNOWN_CHANNEL;
	c = t->slots[recipient];
	/* A finished channel is as good as freed for the device: whether
	 * collect has run yet must not change what the device may say. */
	if (c == NULL || mps_chan_is_finished(c) || c->state == MPS_CHAN_PENDING)
		return MPS_ERR_UNKNOWN_CHANNEL;
	*chan = c;
	return APR_SUCCESS;
}

int
mps_chan_close_due(const mps_chan_t *c)
{
	return c->state == MPS_CHAN_OPEN && !c->close_sent &&
	    c->istate == MPS_CHAN_IN_CLOSED;
}

apr_status_t
mps_chan_on_open_confirmation(mps_chan_table_t *t, apr_uint32_t recipient,
    apr_uint32_t sender, apr_uint32_t initial_window, mps_chan_t **chan,
    int *send_close)
{
	mps_chan_t *c;
	apr_status_t rv;

	*send_close = 0;
	if ((rv = mps_chan_lookup(t, recipient, &c)) != APR_SUCCESS)
		return rv;
	if (c->state != MPS_CHAN_OPENING) {
		*chan = NULL;
		return MPS_ERR_PROTOCOL;
	}
	c->state = MPS_CHAN_OPEN;
	c->remote_id = sender;
	c->have_remote_id = 1;
	c->remote_window = initial_window;
	c->last_activity = table_now(t);
	*send_close = mps_chan_close_due(c);
	*chan = c;
	return APR_SUCCESS;
}

apr_status_t
mps_chan_on_open_failure(mps_chan_table_t *t, apr_uint32_t recipient,
    apr_uint32_t reason, mps_chan_t **chan)
{
	mps_chan_t *c;
	apr_status_t rv;

	if ((rv = mps_chan_lookup(t, recipient, &c)) != APR_SUCCESS)
		return rv;
	if (c->state != MPS_CHAN_OPENING) {
		*chan = NULL;
		return MPS_ERR_PROTOCOL;
	}
	/* No CLOSE is ever exchanged for a channel that never opened. */
	c->state = MPS_CHAN_FAILED;
	c->open_failure = reason;
	c->istate = MPS_CHAN_IN_CLOSED;
	*chan = c;
	return APR_SUCCESS;
}

const char *
mps_chan_open_failure_name(apr_uint32_t reason)
{
	switch (reason) {
	case MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED:
		return "administratively prohibited";
	case MPS_CHAN_OPEN_CONNECT_FAILED:
		return "connect failed";
	case MPS_CHAN_OPEN_UNKNOWN_CHANNEL_TYPE:
		return "unknown channel type";
	case MPS_CHAN_OPEN_RESOURCE_SHORTAGE:
		return "resource shortage";
	default:
		return "unknown reason";
	}
}

/* The device may send DATA and WINDOW_ADJUST only between its
 * confirmation and its CLOSE; our own CLOSE does not end that, since
 * its messages may be crossing ours. */
static int
device_may_talk(const mps_chan_t *c)
{
	return c->state == MPS_CHAN_OPEN && !c->close_rcvd;
}

/* Device bytes received and not yet accepted by the console. Cannot
 * underflow: window + consumed <= max + overrun is an invariant. */
static apr_uint64_t
unaccepted(const mps_chan_t *c)
{
	return (apr_uint64_t)c->local_window_max + c->local_overrun -
	    c->local_window - c->local_consumed;
}

apr_status_t
mps_chan_table_set_overrun(mps_chan_table_t *t, apr_uint32_t overrun_max)
{
	if (overrun_max > MPS_CHAN_OVERRUN_LIMIT)
		return APR_EINVAL;
	t->overrun_max = overrun_max;
	return APR_SUCCESS;
}

apr_status_t
mps_chan_on_data(mps_chan_t *c, apr_size_t len)
{
	apr_uint64_t pending;
	apr_size_t beyond;

	if (!device_may_talk(c))
		return MPS_ERR_PROTOCOL;
	if (len <= c->local_window) {
		c->local_window -= (apr_uint32_t)len;
		if (len > 0)
			c->last_activity = table_now(c->table);
		return APR_SUCCESS;
	}
	/* Beyond the window: refused unless the table tolerates it
	 * (channel.h, OVERRUN). */
	if (c->table->overrun_max == 0)
		return MPS_ERR_WINDOW_EXCEEDED;
	beyond = len - c->local_window;
	if (c->ostate == MPS_CHAN_OUT_CLOSED) {
		/* Dropped, so nothing is held: no bound, no debt to pay. */
		c->local_window = 0;
		c->overran = 1;
		c->last_activity = table_now(c->table);
		return APR_SUCCESS;
	}
	/* What would be held beyond the window after these bytes. */
	pending = unaccepted(c) + len;
	if (pending > (apr_uint64_t)c->local_window_max + c->table->overrun_max)
		return MPS_ERR_WINDOW_EXCEEDED;
	c->local_overrun += (apr_uint32_t)beyond;
	c->local_window = 0;
	c->overran = 1;
	c->last_activity = table_now(c->table);
	return APR_SUCCESS;
}

apr_size_t
mps_chan_held(const mps_chan_t *c)
{
	apr_uint64_t pending = unaccepted(c);

	if (c->ostate == MPS_CHAN_OUT_CLOSED || pending <= c->local_window_max)
		return 0;
	return (apr_size_t)(pending - c->local_window_max);
}

apr_status_t
mps_chan_console_accepted(mps_chan_t *c, apr_size_t n, apr_uint32_t *adjust)
{
	apr_uint32_t threshold, paid;

	*adjust = 0;
	if (n > unaccepted(c))
		return APR_EINVAL;
	c->local_consumed += (apr_uint32_t)n;
	/* Half the window, rounded up so a 1-byte window still adjusts.
	 * After either CLOSE no message may follow ours, and the device
	 * sends nothing after its own. */
	threshold = c->local_window_max / 2 + c->local_window_max % 2;
	if (c->local_consumed == 0 || c->local_consumed < threshold ||
	    c->state != MPS_CHAN_OPEN || c->close_sent || c->close_rcvd)
		return APR_SUCCESS;
	*adjust = c->local_consumed;
	/* An overrun is paid first: the device is granted what it has not
	 * already taken (a client that honours adjusts ends up within the
	 * window again; the simulator counts the same way). */
	paid = c->local_overrun < c->local_consumed ? c->local_overrun :
	    c->local_consumed;
	c->local_overrun -= paid;
	c->local_window += c->local_consumed - paid;
	c->local_consumed = 0;
	return APR_SUCCESS;
}

apr_uint32_t
mps_chan_send_budget(const mps_chan_t *c)
{
	if (c->state != MPS_CHAN_OPEN || c->close_sent || c->close_rcvd ||
	    c->istate == MPS_CHAN_IN_CLOSED)
		return 0;
	return c->remote_window < c->remote_maxpacket ? c->remote_window :
	    c->remote_maxpacket;
}

apr_status_t
mps_chan_on_sent(mps_chan_t *c, apr_size_t n)
{
	if (n > mps_chan_send_budget(c))
		return APR_EINVAL;
	c->remote_window -= (apr_uint32_t)n;
	if (n > 0)
		c->last_activity = table_now(c->table);
	return APR_SUCCESS;
}

apr_status_t
mps_chan_on_window_adjust(mps_chan_t *c, apr_uint32_t add, int *resume)
{
	*resume = 0;
	if (!device_may_talk(c))
		return MPS_ERR_PROTOCOL;
	/* A window past 2^32-1 is a device bug; OpenSSH treats it as fatal
	 * too. Written as a comparison so nothing wraps. */
	if (add > 0xFFFFFFFFu - c->remote_window)
		return MPS_ERR_PROTOCOL;
	c->remote_window += add;
	*resume = mps_chan_send_budget(c) > 0;
	return APR_SUCCESS;
}

int
mps_chan_console_eof(mps_chan_t *c, apr_size_t unsent)
{
	if (c->istate == MPS_CHAN_IN_OPEN)
		c->istate = unsent > 0 ? MPS_CHAN_IN_DRAIN : MPS_CHAN_IN_CLOSED;
	return mps_chan_close_due(c);
}

int
mps_chan_input_drained(mps_chan_t *c)
{
	if (c->istate == MPS_CHAN_IN_DRAIN)
		c->istate = MPS_CHAN_IN_CLOSED;
	return mps_chan_close_due(c);
}

int
mps_chan_console_gone(mps_chan_t *c)
{
	c->istate = MPS_CHAN_IN_CLOSED;
	c->ostate = MPS_CHAN_OUT_CLOSED;
	c->owner = NULL;
	return mps_chan_close_due(c);
}

apr_status_t
mps_chan_on_close(mps_chan_table_t *t, apr_uint32_t recipient,
    mps_chan_t **chan, int *send_close)
{
	mps_chan_t *c;
	apr_status_t rv;

	*send_close = 0;
	if ((rv = mps_chan_lookup(t, recipient, &c)) != APR_SUCCESS)
		return rv;
	if (!device_may_talk(c)) {
		*chan = NULL;
		return MPS_ERR_PROTOCOL;
	}
	c->close_rcvd = 1;
	/* Nothing may follow the device's CLOSE towards it but our answer:
	 * console bytes not yet sent are dropped. */
	c->istate = MPS_CHAN_IN_CLOSED;
	if (c->ostate == MPS_CHAN_OUT_OPEN)
		c->ostate = MPS_CHAN_OUT_DRAIN;
	*send_close = mps_chan_close_due(c);
	*chan = c;
	return APR_SUCCESS;
}

apr_status_t
mps_chan_close_sent(mps_chan_t *c)
{
	if (c->state != MPS_CHAN_OPEN || c->close_sent)
		return APR_EINVAL;
	c->close_sent = 1;
	c->istate = MPS_CHAN_IN_CLOSED;
	return APR_SUCCESS;
}

void
mps_chan_table_foreach(mps_chan_table_t *t, mps_chan_fn fn, void *arg)
{
	unsigned i;

	/* Re-read the slot each time: fn may open a channel (the array never
	 * moves) but nothing here frees. */
	for (i = 0; i < t->max_channels; i++)
		if (t->slots[i] != NULL)
			fn(arg, t->slots[i]);
}

unsigned
mps_chan_table_idle(mps_chan_table_t *t, apr_time_t now,
    apr_interval_time_t idle_timeout, mps_chan_fn fn, void *arg)
{
	unsigned i, n = 0;
	mps_chan_t *c;

	if (idle_timeout <= 0)
		return 0;
	for (i = 0; i < t->max_channels; i++) {
		c = t->slots[i];
		if (c == NULL || mps_chan_is_finished(c))
			continue;
		/* Subtract on the side that cannot overflow: a clock that
		 * stepped back makes a channel look busy, never idle. */
		if (now <= c->last_activity ||
		    now - c->last_activity <= idle_timeout)
			continue;
		n++;
		fn(arg, c);
	}
	return n;
}

unsigned
mps_chan_collect(mps_chan_table_t *t, mps_chan_fn fn, void *arg)
{
	unsigned i, n = 0;
	mps_chan_t *c;

	for (i = 0; i < t->max_channels; i++) {
		c = t->slots[i];
		if (c == NULL || !mps_chan_is_finished(c) ||
		    c->ostate != MPS_CHAN_OUT_CLOSED)
			continue;
		if (fn != NULL)
			fn(arg, c);
		t->slots[i] = NULL;
		t->count--;
		free(c);
		n++;
	}
	return n;
}
