/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_channel.c: the channel state machine of one tunnel (channel.c)
 * driven by sequences of the device's APF channel messages mixed with
 * mpsd's own events, against a reference model.
 *
 * What it covers: every mps_chan_* event of channel.h, in any order the
 * input chooses, with the recipient ids, windows and lengths the input
 * chooses (so unknown, finished, freed and still-pending ids too), and a
 * fake clock for the idle/open-timeout sweep. The harness acts as the
 * session does (channel_relay.c): it sends CLOSE whenever an event says
 * it is due, writes device bytes to a console model, and collects after
 * each step. What it does NOT cover: channel_relay.c and apf_session.c
 * (their strands, sockets and consoles); see tests/fuzz/README.md.
 *
 * Input: byte 0: table size (low 3 bits + 1 channels) and our window
 * (bits 3-7: 1 .. 31 x 2 KiB, 1 byte when 0); then steps, an op byte
 * (low 4 bits the event) and its fields, each read from the next bytes
 * (a missing byte reads as 0).
 *
 * Checks, each an abort():
 * - a message the device may not send is refused and changes nothing;
 *   one it may send is accepted (the model decides which, from the APF
 *   rules of channel.h), so no recipient reaches a slot it may not name;
 * - every channel we open gets exactly one CHANNEL_OPEN_CONFIRMATION or
 *   _FAILURE accepted, every channel the device opens exactly one answer
 *   of ours (confirm or refuse); a second is refused;
 * - windows: local_window + local_consumed + bytes not yet written to
 *   the console == local_window_max, always; the device is never let
 *   past local_window; remote_window equals the model's (initial + adjusts
 *   - sends: never negative, never wrapping); a send budget over
 *   remote_window or the max packet is never given; WINDOW_ADJUST only
 *   while neither CLOSE happened, and only for bytes the console took;
 * - CLOSE goes out at most once per channel, and is sent whenever due;
 *   a finished channel is not addressable; collect frees only finished
 *   channels whose console is gone, and ids are reused lowest-first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NMAX 8

typedef struct model {
	int alloc;
	int ours;		/* we opened it (else the device did) */
	int answers;		/* confirm/failure (ours) or confirm/refuse */
	int state;		/* mps_chan_state_t */
	int close_sent, close_rcvd, gone;
	uint64_t lw, consumed, unwritten;	/* local window */
	uint64_t rw;				/* remote window */
	mps_chan_t *p;
} model;

static model m[NMAX];
static unsigned nchan;
static apr_uint32_t winmax;
static const uint8_t *in;
static size_t in_size, in_off;
static apr_time_t now;
static mps_chan_table_t *tab;

static uint8_t
u8(void)
{
	return in_off < in_size ? in[in_off++] : 0;
}

static apr_uint32_t
u32(void)
{
	apr_uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 8 | u8();
	return v;
}

static apr_time_t
clock_fn(void *arg)
{
	(void)arg;
	return now;
}

static int
finished(const model *x)
{
	return x->state == MPS_CHAN_FAILED || (x->close_sent && x->close_rcvd);
}

/* The device may name it: allocated, not pending, not finished. */
static int
nameable(const model *x)
{
	return x->alloc && x->state != MPS_CHAN_PENDING && !finished(x);
}

static void
check_slot(unsigned id)
{
	model *x = &m[id];
	mps_chan_t *c = mps_chan_table_at(tab, id);

	if (!x->alloc) {
		if (c != NULL)
			abort();
		return;
	}
	if (c != x->p || c->local_id != id || (int)c->state != x->state ||
	    c->close_sent != x->close_sent || c->close_rcvd != x->close_rcvd)
		abort();
	if (c->local_window_max != winmax || c->local_window != x->lw ||
	    c->local_consumed != x->consumed ||
	    x->lw + x->consumed + x->unwritten != winmax)
		abort();
	if ((x->state == MPS_CHAN_OPEN || x->state == MPS_CHAN_PENDING) &&
	    c->remote_window != x->rw)
		abort();
	if (mps_chan_send_budget(c) > c->remote_window ||
	    mps_chan_send_budget(c) > c->remote_maxpacket)
		abort();
	if (x->answers > 1 || x->close_sent > 1)
		abort();
	if (mps_chan_is_finished(c) != finished(x))
		abort();
	if ((c->owner == NULL) != x->gone)
		abort();
}

/* As the session: CLOSE goes out whenever an event says it is due. */
static void
send_close(unsigned id)
{
	model *x = &m[id];

	if (x->close_sent || x->state != MPS_CHAN_OPEN)
		abort();	/* due only once, and only when open */
	if (mps_chan_close_sent(x->p) != APR_SUCCESS)
		abort();
	x->close_sent = 1;
	if (mps_chan_close_due(x->p))
		abort();
	/* A second is refused. */
	if (mps_chan_close_sent(x->p) != APR_EINVAL)
		abort();
}

static void
after(unsigned id, int due)
{
	if (due)
		send_close(id);
	else if (m[id].alloc && mps_chan_close_due(m[id].p))
		abort();	/* due, but the event did not say so */
}

static unsigned
lowest_free(void)
{
	unsigned i;

	for (i = 0; i < nchan; i++)
		if (!m[i].alloc)
			return i;
	return nchan;
}

static void
allocated(unsigned id, mps_chan_t *c, int ours, apr_uint32_t rw)
{
	model *x = &m[id];

	memset(x, 0, sizeof(*x));
	x->alloc = 1;
	x->ours = ours;
	x->state = ours ? MPS_CHAN_OPENING : MPS_CHAN_PENDING;
	x->lw = winmax;
	x->rw = rw;
	x->p = c;
}

static void
collected(void *arg, mps_chan_t *c)
{
	model *x;

	(void)arg;
	if (c->local_id >= nchan)
		abort();
	x = &m[c->local_id];
	if (!x->alloc || x->p != c || !finished(x) || !x->gone)
		abort();
	x->alloc = 0;
}

static unsigned idle_seen;

static void
idle_fn(void *arg, mps_chan_t *c)
{
	(void)arg;
	if (c->local_id >= nchan || !m[c->local_id].alloc ||
	    finished(&m[c->local_id]))
		abort();
	idle_seen++;
}

static void
step(uint8_t op)
{
	unsigned id = u8() % (nchan + 2);	/* sometimes out of range */
	model *x = id < nchan ? &m[id] : NULL;
	mps_chan_t *c = NULL;
	apr_status_t rv;
	int flag = 0;

	switch (op & 15) {
	case 0: {	/* we open a channel (a console's request) */
		unsigned want = lowest_free();

		rv = mps_chan_open(tab, &m, winmax, &c);
		if (want == nchan) {
			if (rv != APR_ENOSPC)
				abort();
			break;
		}
		if (rv != APR_SUCCESS || c->local_id != want)
			abort();
		allocated(want, c, 1, 0);
		break;
	}
	case 1: {	/* the device opens one (CHANNEL_OPEN direct-tcpip) */
		unsigned want = lowest_free();
		apr_uint32_t sender = u32(), w = u32();

		rv = mps_chan_accept(tab, &m, sender, w, winmax, &c);
		if (want == nchan) {
			if (rv != APR_ENOSPC)
				abort();
			break;
		}
		if (rv != APR_SUCCESS || c->local_id != want)
			abort();
		allocated(want, c, 0, w);
		break;
	}
	case 2: {	/* CHANNEL_OPEN_CONFIRMATION */
		apr_uint32_t sender = u32(), w = u32();
		int ok = x != NULL && x->alloc && x->state == MPS_CHAN_OPENING;

		rv = mps_chan_on_open_confirmation(tab, id, sender, w, &c, &flag);
		if ((rv == APR_SUCCESS) != ok)
			abort();
		if (!ok)
			break;
		if (c != x->p || c->remote_id != sender)
			abort();
		x->answers++;
		x->state = MPS_CHAN_OPEN;
		x->rw = w;
		after(id, flag);
		break;
	}
	case 3: {	/* CHANNEL_OPEN_FAILURE */
		apr_uint32_t reason = u32();
		int ok = x != NULL && x->alloc && x->state == MPS_CHAN_OPENING;

		rv = mps_chan_on_open_failure(tab, id, reason, &c);
		if ((rv == APR_SUCCESS) != ok)
			abort();
		if (!ok)
			break;
		if (c != x->p || c->open_failure != reason ||
		    mps_chan_open_failure_name(reason) == NULL)
			abort();
		x->answers++;
		x->state = MPS_CHAN_FAILED;
		break;
	}
	case 4: {	/* our answer to a device's open */
		int ok = x != NULL && x->alloc && x->state == MPS_CHAN_PENDING;

		if (x == NULL || !x->alloc)
			break;
		if (op & 16) {
			rv = mps_chan_confirm(x->p, &flag);
			if ((rv == APR_SUCCESS) != ok)
				abort();
			if (!ok)
				break;
			x->answers++;
			x->state = MPS_CHAN_OPEN;
			after(id, flag);
		} else {
			rv = mps_chan_refuse(x->p, 2);
			if ((rv == APR_SUCCESS) != ok)
				abort();
			if (!ok)
				break;
			x->answers++;
			x->state = MPS_CHAN_FAILED;
		}
		break;
	}
	case 5: {	/* CHANNEL_DATA */
		apr_uint32_t len = op & 16 ? u32() : u8();
		int named = x != NULL && nameable(x);

		rv = mps_chan_lookup(tab, id, &c);
		if ((rv == APR_SUCCESS) != named)
			abort();
		if (!named)
			break;
		rv = mps_chan_on_data(c, len);
		if (x->state != MPS_CHAN_OPEN || x->close_rcvd) {
			if (rv != MPS_ERR_PROTOCOL)
				abort();
		} else if (len > x->lw) {
			if (rv != MPS_ERR_WINDOW_EXCEEDED)
				abort();
		} else {
			if (rv != APR_SUCCESS)
				abort();
			x->lw -= len;
			/* Written to the console, or dropped (and so taken
			 * at once) when the console is gone. */
			x->unwritten += len;
			if (x->gone) {
				apr_uint32_t adj = 0;

				if (mps_chan_console_accepted(c, len, &adj) !=
				    APR_SUCCESS)
					abort();
				x->unwritten -= len;
				x->consumed += len;
				if (adj != 0) {
					x->lw += adj;
					x->consumed -= adj;
				}
			}
		}
		break;
	}
	case 6: {	/* the console took n device bytes */
		apr_uint32_t n = u8(), adj = 0;

		if (x == NULL || !x->alloc)
			break;
		if (op & 16)
			n = (apr_uint32_t)x->unwritten;
		rv = mps_chan_console_accepted(x->p, n, &adj);
		if (n > x->unwritten) {
			if (rv != APR_EINVAL || adj != 0)
				abort();
			break;
		}
		if (rv != APR_SUCCESS)
			abort();
		x->unwritten -= n;
		x->consumed += n;
		if (adj != 0) {
			if (adj != x->consumed || x->state != MPS_CHAN_OPEN ||
			    x->close_sent || x->close_rcvd ||
			    x->consumed < winmax / 2 + winmax % 2)
				abort();
			x->lw += adj;
			x->consumed = 0;
		} else if (x->state == MPS_CHAN_OPEN && !x->close_sent &&
		    !x->close_rcvd && x->consumed >= winmax / 2 + winmax % 2)
			abort();	/* an adjust withheld: the device stalls */
		break;
	}
	case 7: {	/* we send console bytes */
		apr_uint32_t budget, n;

		if (x == NULL || !x->alloc)
			break;
		budget = mps_chan_send_budget(x->p);
		if (budget > x->rw)
			abort();
		n = op & 16 ? budget : u8() % (budget + 1);
		if (mps_chan_on_sent(x->p, (apr_size_t)budget + 1) != APR_EINVAL)
			abort();
		if (mps_chan_on_sent(x->p, n) != APR_SUCCESS)
			abort();
		x->rw -= n;
		break;
	}
	case 8: {	/* CHANNEL_WINDOW_ADJUST */
		apr_uint32_t add = op & 16 ? u32() : u8();
		int named = x != NULL && nameable(x);

		rv = mps_chan_lookup(tab, id, &c);
		if ((rv == APR_SUCCESS) != named)
			abort();
		if (!named)
			break;
		rv = mps_chan_on_window_adjust(c, add, &flag);
		if (x->state != MPS_CHAN_OPEN || x->close_rcvd ||
		    x->rw + add > 0xFFFFFFFFu) {
			if (rv != MPS_ERR_PROTOCOL)
				abort();
			break;
		}
		if (rv != APR_SUCCESS)
			abort();
		x->rw += add;
		if (flag != (mps_chan_send_budget(c) > 0))
			abort();
		break;
	}
	case 9: {	/* CHANNEL_CLOSE */
		int named = x != NULL && nameable(x);

		rv = mps_chan_on_close(tab, id, &c, &flag);
		if (!named) {
			if (rv != MPS_ERR_UNKNOWN_CHANNEL)
				abort();
			break;
		}
		if (x->state != MPS_CHAN_OPEN || x->close_rcvd) {
			if (rv != MPS_ERR_PROTOCOL)
				abort();
			break;
		}
		if (rv != APR_SUCCESS || flag != !x->close_sent)
			abort();
		x->close_rcvd = 1;
		after(id, flag);
		break;
	}
	case 10:	/* the console's EOF, with some bytes unsent */
		if (x == NULL || !x->alloc)
			break;
		after(id, mps_chan_console_eof(x->p, op & 16 ? u8() : 0));
		break;
	case 11:	/* the last console byte went out */
		if (x == NULL || !x->alloc ||
		    x->p->istate != MPS_CHAN_IN_DRAIN)
			break;
		after(id, mps_chan_input_drained(x->p));
		break;
	case 12:	/* the console is gone */
		if (x == NULL || !x->alloc)
			break;
		flag = mps_chan_console_gone(x->p);
		x->gone = 1;
		/* Its unwritten bytes are dropped: taken, as far as the
		 * window goes (the session does the same). */
		if (x->unwritten > 0) {
			apr_uint32_t adj = 0;

			if (mps_chan_console_accepted(x->p,
			    (apr_size_t)x->unwritten, &adj) != APR_SUCCESS)
				abort();
			x->consumed += x->unwritten;
			x->unwritten = 0;
			if (adj != 0) {
				x->lw += adj;
				x->consumed -= adj;
			}
		}
		after(id, flag);
		break;
	case 13:	/* we close on our own (idle, shutdown) */
		if (x == NULL || !x->alloc)
			break;
		if (x->state == MPS_CHAN_OPEN && !x->close_sent)
			send_close(id);
		else if (mps_chan_close_sent(x->p) != APR_EINVAL)
			abort();
		break;
	case 14: {	/* time passes; the idle / open-timeout sweep */
		unsigned i, expect = 0;

		now += (apr_time_t)u8() * 1000;
		idle_seen = 0;
		for (i = 0; i < nchan; i++)
			if (m[i].alloc && !finished(&m[i]) &&
			    m[i].p->last_activity < now - 5000)
				expect++;
		if (mps_chan_table_idle(tab, now, 5000, idle_fn, NULL) !=
		    idle_seen || idle_seen != expect)
			abort();
		break;
	}
	default:
		break;
	}
	(void)mps_chan_collect(tab, collected, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned i, count;
	uint8_t b;

	if (size == 0)
		return 0;
	in = data;
	in_size = size;
	in_off = 1;
	nchan = (data[0] & 7) + 1;
	winmax = (data[0] >> 3) * 2048u;
	if (winmax == 0)
		winmax = 1;
	now = 1000000;
	memset(m, 0, sizeof(m));
	if (mps_chan_table_create(&tab, nchan, 0, clock_fn, NULL) !=
	    APR_SUCCESS)
		abort();
	while (in_off < in_size) {
		b = u8();
		step(b);
		count = 0;
		for (i = 0; i < nchan; i++) {
			check_slot(i);
			count += (unsigned)m[i].alloc;
		}
		if (mps_chan_table_count(tab) != count)
			abort();
	}
	mps_chan_table_destroy(tab);
	return 0;
}
