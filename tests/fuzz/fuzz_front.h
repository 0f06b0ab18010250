/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_front.h: a console front end's state machine (socks_front.c,
 * http_front.c) under a fuzzer, through its real front_ops, over a fake
 * console.c.
 *
 * The seam: a front end reaches its connection only through c->in,
 * c->up, c->down and the console.c calls of console_priv.h (finalize,
 * close_soon, authenticate, resolve, move). This header implements those
 * calls itself, with the phase changes console.c makes, and plays the
 * parts of console.c (front_io, auth_done), of the device's strand
 * (console.c's peer ops as channel_relay.c drives them: opened/refused,
 * the pump's to_device, from_device, the device switch of peer_settle)
 * and of the console (reading its replies) in an order the
 * input chooses. No socket, no thread: one execution is one connection.
 * console.c itself (sockets, poller, strands, the hand-over) is NOT
 * exercised here.
 *
 * Input: byte 0 is the set-up (bit 0: the Socks plugin is configured,
 * so a login is required); then steps of one op byte each, low 3 bits
 * what happens, high 5 bits a size or a choice (k):
 *   0-2  the console sends k+1 bytes (0: k*64+1, so that big heads fit)
 *   3    the plugin's verdict arrives (granted when k is odd)
 *   4    the device answers the channel: opened when k is odd, else
 *        refused (reason k/2 % 6 + 1)
 *   5    the device sends k+1 bytes (relay phase, non-raw consoles)
 *   6    the console reads its replies (k bit 0), the device takes what
 *        was queued for it (k bit 1)
 *   7    the console half-closes (FIN)
 * mps_console_resolve's answer is taken from the next input byte when
 * the front end asks (value % 7: OPEN_OK .. OPEN_INTERNAL).
 *
 * Checks (beyond sanitizers), each an abort():
 * - nothing is queued for the console after finalize or close_soon: no
 *   reply after close (the data path ends there too: the harness, like
 *   console.c, calls the front end no more once it closed);
 * - the front phase never stalls: after input, a console still in the
 *   front phase has room in c->in for more bytes (else it could only
 *   wait for its deadline);
 * - authenticate only in the front phase, with NUL-terminated strings
 *   that fit the front end's buffers; resolve only in the front phase
 *   (or a relay switch), with a NUL-terminated host; move only in the
 *   front phase and only after a resolve that said OPEN_OK;
 * - buffers stay within their caps (c->in 64 KiB, c->up the channel
 *   window, c->down 64 KiB): bounded memory against the console;
 * - plus the front end's own checks (front_check, in the target).
 */
#ifndef MPS_FUZZ_FRONT_H
#define MPS_FUZZ_FRONT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_priv.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FF_IN_MAX (64 * 1024)		/* console.c: FRONT_IN_MAX */
#define FF_UP_MAX (64 * 1024)		/* ChannelWindowSize's default */
#define FF_DOWN_MAX (64 * 1024)		/* console.c: a new console's down */

typedef struct ff_state {
	const uint8_t *data;
	size_t size, off;
	int closed;			/* finalize or close_soon was called */
	size_t down_at_close;
	int resolved_ok;		/* since the last move */
	int auths, moves, opens;
} ff_state;

static ff_state ff;
static mps_console_side_t ff_side;
static mps_console_t ff_c;

/* The target's own invariants, after every step. */
static void front_check(mps_console_t *c);

static int
ff_byte(uint8_t *b)
{
	if (ff.off >= ff.size)
		return 0;
	*b = ff.data[ff.off++];
	return 1;
}

static void
ff_closed(mps_console_t *c)
{
	if (!ff.closed) {
		ff.closed = 1;
		ff.down_at_close = mps_buf_len(&c->down);
	}
}

/* ---- console.c, faked ---------------------------------------------------- */

void
mps_console_finalize(mps_console_t *c)
{
	if (c->phase == C_CLOSED)
		return;
	ff_closed(c);
	c->phase = C_CLOSED;
}

void
mps_console_close_soon(mps_console_t *c)
{
	if (c->phase >= C_CLOSING)
		return;
	ff_closed(c);
	c->phase = C_CLOSING;
}

void
mps_console_authenticate(mps_console_t *c, const char *user,
    const char *password)
{
	if (c->phase != C_FRONT || ff.closed)
		abort();
	/* Both strings end within what a front end may hold (SOCKS:
	 * 256 bytes, HTTP: the head's limit). */
	if (memchr(user, '\0', FF_IN_MAX) == NULL ||
	    memchr(password, '\0', FF_IN_MAX) == NULL)
		abort();
	ff.auths++;
	c->phase = C_AUTH;
}

open_result
mps_console_resolve(mps_console_t *c, const char *host, apr_port_t port)
{
	uint8_t b = 0;
	open_result why;

	(void)port;
	if (c->phase != C_FRONT || ff.closed)
		abort();
	if (memchr(host, '\0', MPS_REGISTRY_FQDN_SIZE) == NULL)
		abort();
	(void)ff_byte(&b);
	why = (open_result)(b % 7);
	ff.resolved_ok = why == OPEN_OK;
	if (why == OPEN_OK)
		snprintf(c->connect_host, sizeof(c->connect_host), "%s", host);
	return why;
}

void
mps_console_move(mps_console_t *c)
{
	if (c->phase != C_FRONT || !ff.resolved_ok || ff.closed)
		abort();
	ff.resolved_ok = 0;
	ff.moves++;
	c->phase = C_MOVING;
}

/* No peer link in the harness: a device held nowhere stays refused by
 * the front end itself (peer_link.c has its own harness, the header's). */
int
mps_console_forward(mps_console_t *c, const char *host, apr_port_t port,
    unsigned mode)
{
	(void)host;
	(void)port;
	(void)mode;
	if (c->phase != C_FRONT || ff.closed)
		abort();
	return -1;
}

/* ---- the driver ---------------------------------------------------------- */

static void
ff_check(mps_console_t *c)
{
	if (ff.closed && mps_buf_len(&c->down) != ff.down_at_close)
		abort();	/* a reply after close */
	if (mps_buf_len(&c->in) > FF_IN_MAX || mps_buf_len(&c->up) > FF_UP_MAX ||
	    mps_buf_len(&c->down) > FF_DOWN_MAX)
		abort();
	front_check(c);
}

/* console.c's front_io after a read: input, then EOF ends a console that
 * is still in the front phase. */
static void
ff_front_io(mps_console_t *c)
{
	c->ops->input(c);
	if (c->phase == C_FRONT && !ff.closed) {
		if (mps_buf_len(&c->in) >= mps_buf_max_size(&c->in))
			abort();	/* stalled: can never read more */
		if (c->eof)
			mps_console_finalize(c);
	}
}

/* channel_relay.c's pump for a non-raw console. */
static void
ff_pump(mps_console_t *c)
{
	char host[MPS_REGISTRY_FQDN_SIZE];
	apr_port_t port = 0;

	if (c->raw || c->phase != C_RELAY)
		return;
	if (c->ops->to_device(c) < 0) {
		c->eof = 1;	/* stop reading; the relay closes later */
		return;
	}
	if (c->ops->switch_ready != NULL &&
	    c->ops->switch_ready(c, host, sizeof(host), &port)) {
		open_result why;

		if (memchr(host, '\0', sizeof(host)) == NULL)
			abort();
		/* console.c peer_settle */
		c->phase = C_FRONT;
		why = mps_console_resolve(c, host, port);
		if (why != OPEN_OK) {
			c->ops->refused(c, why);
			mps_console_close_soon(c);
			return;
		}
		c->ops->switched(c);
		mps_console_move(c);
	}
}

static void
ff_console_sends(mps_console_t *c, size_t n)
{
	size_t room = mps_buf_max_size(&c->in) - mps_buf_len(&c->in);

	if (n > ff.size - ff.off)
		n = ff.size - ff.off;
	if (n > room)
		n = room;
	if (n > 0)
		(void)mps_buf_put(&c->in, ff.data + ff.off, n);
	ff.off += n;
	if (c->eof)
		return;		/* after FIN nothing is read */
	if (c->phase == C_FRONT)
		ff_front_io(c);
	else if (c->phase == C_RELAY)
		ff_pump(c);
}

static void
ff_step(mps_console_t *c, uint8_t op)
{
	unsigned k = op >> 3;

	switch (op & 7) {
	case 0:
		ff_console_sends(c, (size_t)k * 64 + 1);
		break;
	case 1:
	case 2:
		ff_console_sends(c, (size_t)k + 1);
		break;
	case 3:
		if (c->phase != C_AUTH)
			break;
		/* console.c's auth_done */
		c->phase = C_FRONT;
		c->ops->auth_done(c, (int)(k & 1), k & 1 ? "" : "refused");
		if (c->phase == C_FRONT && !ff.closed && c->eof)
			mps_console_finalize(c);
		break;
	case 4:
		if (c->phase != C_MOVING)
			break;
		ff.opens++;
		if (k & 1) {
			c->phase = C_RELAY;
			c->ops->opened(c);
			ff_pump(c);
		} else {
			c->ops->refused(c, (open_result)((k / 2) % 6 + 1));
			mps_console_close_soon(c);
		}
		break;
	case 5: {
		size_t n = (size_t)k + 1;

		if (c->phase != C_RELAY || c->raw)
			break;
		if (n > ff.size - ff.off)
			n = ff.size - ff.off;
		if (n == 0 || mps_buf_put(&c->down, ff.data + ff.off, n) !=
		    APR_SUCCESS) {
			ff.off += n;
			break;
		}
		c->ops->from_device(c, ff.data + ff.off, n);
		ff.off += n;
		ff_pump(c);
		break;
	}
	case 6:
		if (k & 1) {
			mps_buf_reset(&c->down);
			if (ff.closed)
				ff.down_at_close = 0;
		}
		if (k & 2)
			mps_buf_reset(&c->up);
		if (c->phase == C_RELAY)
			ff_pump(c);
		break;
	case 7:
		if (c->eof)
			break;
		c->eof = 1;
		if (c->phase == C_FRONT)
			ff_front_io(c);
		break;
	}
}

static const front_ops *front_under_test(void);

/* The front ends log what the console sent (peer, host, user names):
 * every level is formatted, as mpsd would with TraceLevels at DEBUG, but
 * written to /dev/null, not to the fuzzer's stderr. */
static void
ff_quiet_log(void)
{
	static int done;
	mps_log_options_t o;
	mps_logger_t *l = NULL;

	if (done)
		return;
	done = 1;
	memset(&o, 0, sizeof(o));
	o.dir = "/dev";
	o.file_name = "null";
	o.max_files = 1;
	o.levels = MPS_LOG_ALL_LEVELS;
	if (mps_logger_open(&l, &o) == APR_SUCCESS)
		mps_log_set_default(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mps_console_t *c = &ff_c;
	static int dummy_plugin;
	uint8_t setup, op;

	if (size == 0)
		return 0;
	ff_quiet_log();
	memset(&ff, 0, sizeof(ff));
	ff.data = data;
	ff.size = size;
	(void)ff_byte(&setup);
	memset(&ff_side, 0, sizeof(ff_side));
	/* Only compared with NULL by the front ends. */
	ff_side.auth = setup & 1 ? (mps_auth_plugin_t *)(void *)&dummy_plugin :
	    NULL;
	memset(c, 0, sizeof(*c));
	c->side = &ff_side;
	c->ops = front_under_test();
	c->phase = C_FRONT;
	c->fd = -1;
	snprintf(c->peer, sizeof(c->peer), "192.0.2.1:40000");
	mps_buf_init(&c->in, FF_IN_MAX);
	mps_buf_init(&c->up, FF_UP_MAX);
	mps_buf_init(&c->down, FF_DOWN_MAX);

	while (c->phase != C_CLOSED && !ff.closed && ff_byte(&op)) {
		ff_step(c, op);
		ff_check(c);
	}
	ff_check(c);
#ifdef FF_TRACE
	/* For writing seeds: where the input got to. */
	fprintf(stderr, "phase %d raw %d auths %d moves %d opens %d in %zu "
	    "up %zu down %zu\n", (int)c->phase, (int)c->raw, ff.auths,
	    ff.moves, ff.opens, mps_buf_len(&c->in), mps_buf_len(&c->up),
	    mps_buf_len(&c->down));
#endif
	if (c->ops->free_state != NULL)
		c->ops->free_state(c);
	if (c->front != NULL)
		abort();	/* free_state must leave nothing */
	mps_buf_free(&c->in);
	mps_buf_free(&c->up);
	mps_buf_free(&c->down);
	return 0;
}

#endif /* MPS_FUZZ_FRONT_H */
