/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_relay.c: the channel layer (channel_relay.c) on its own, over a
 * fake tunnel.
 *
 * The channel layer reaches its tunnel only through the tunnel API of
 * apf_session.h, so this file implements that API itself (struct
 * mps_session_t below is the fake): an output queue whose cap the test
 * sets, a close that calls the layer's closing op at once as the real
 * tunnel does, a kick that counts. Everything of the layer runs on a
 * real strand of real workers, as in mpsd, and the test waits for it.
 *
 * The regression these tests hold (issue 10): the tunnel used to free the
 * channel table synchronously when it closed, and it can close from
 * inside a walk of that very table (the idle sweep sending CLOSE, the
 * open timeout sending OPEN_FAILURE, the resume walk after the output
 * drained) whenever a message cannot be queued. The walk then read freed
 * memory (AddressSanitizer: heap-use-after-free in mps_chan_table_idle).
 * Now closing only marks, and a later strand task frees.
 */
#include "unit.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdatomic.h>

#include <apr_pools.h>

#include "apf_session.h"
#include "channel_relay.h"
#include "console_priv.h"
#include "poller.h"
#include "sockwrap.h"
#include "workers.h"

/* ---- the fake tunnel ----------------------------------------------------- */

struct mps_session_t {
	mps_amt_side_t *side;
	mps_strand_t *strand;
	mps_buf_t out;
	void *chans;
	int active;
	int wants_room;
	int held;			/* mps_tunnel_hold_input's state */
	int holds;			/* times it went from 0 to 1 */
	atomic_int closes;		/* mps_tunnel_close calls that acted */
	int kicks;
	char why[256];
};

mps_buf_t *
mps_tunnel_output(mps_session_t *t)
{
	return t->active ? &t->out : NULL;
}

size_t
mps_tunnel_room(const mps_session_t *t)
{
	size_t n = mps_buf_len(&t->out);

	return t->active && n < MPS_TUNNEL_OUT_HIGH ? MPS_TUNNEL_OUT_HIGH - n : 0;
}

void
mps_tunnel_wait_room(mps_session_t *t)
{
	if (t->active)
		t->wants_room = 1;
}

void
mps_tunnel_hold_input(mps_session_t *t, int hold)
{
	if (hold && !t->held)
		t->holds++;
	t->held = hold != 0;
}

void
mps_tunnel_kick(mps_session_t *t)
{
	t->kicks++;
}

void
mps_tunnel_keep_buffers(mps_session_t *t, int keep)
{
	(void)t;
	(void)keep;
}

void
mps_tunnel_close(mps_session_t *t, apr_uint32_t reason, mps_log_level_t level,
    const char *fmt, ...)
{
	va_list ap;

	(void)reason;
	(void)level;
	if (!t->active)
		return;
	t->active = 0;
	atomic_fetch_add(&t->closes, 1);
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(t->why, sizeof(t->why), fmt, ap);
		va_end(ap);
	}
	/* As the real tunnel: the layer hears it at once, from inside
	 * whatever call of the layer made the tunnel close. */
	if (t->chans != NULL)
		t->side->channel_ops.closing(t);
	t->chans = NULL;
}

int
mps_tunnel_is_active(const mps_session_t *t)
{
	return t->active;
}

void *
mps_tunnel_channels(const mps_session_t *t)
{
	return t->chans;
}

apr_status_t
mps_tunnel_set_channels(mps_session_t *t, void *state)
{
	if (state != NULL && !t->active)
		return APR_EINVAL;
	t->chans = state;
	return APR_SUCCESS;
}

const char *
mps_tunnel_name(const mps_session_t *t, char *buf, size_t size)
{
	(void)t;
	snprintf(buf, size, "fake-device");
	return buf;
}

void
mps_tunnel_warn(mps_session_t *t, const char *fmt, ...)
{
	va_list ap;

	(void)t;
	va_start(ap, fmt);
	mps_logger_vwrite(mps_log_default(), MPS_LOG_WARNING, fmt, ap);
	va_end(ap);
}

mps_strand_t *
mps_tunnel_strand(const mps_session_t *t)
{
	return t->strand;
}

mps_amt_side_t *
mps_tunnel_side(const mps_session_t *t)
{
	return t->side;
}

mps_device_t *
mps_tunnel_device(const mps_session_t *t)
{
	(void)t;
	return NULL;
}

/* ---- fixture: workers, a poller thread, a console side, the tunnel ------- */

static apr_pool_t *pool;
static mps_workers_t *workers;
static mps_poller_t *poller;
static pthread_t poller_thread;
static mps_config_t cfg;
static mps_amt_side_t amt;
static mps_console_side_t consoles;
static mps_session_t tun;

static void *
poller_main(void *arg)
{
	(void)mps_poller_run(arg);
	return NULL;
}

static void
setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_create(&workers, 2, 1, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_create(&poller, 256, workers, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(pthread_create(&poller_thread, NULL, poller_main,
	    poller), 0);
	mps_config_defaults(&cfg, pool);
	cfg.channel_window_size = 65536;
	memset(&consoles, 0, sizeof(consoles));
	consoles.cfg = &cfg;
	consoles.poller = poller;
	consoles.workers = workers;
	ck_assert_int_eq(mps_console_side_init(&consoles), APR_SUCCESS);
	memset(&amt, 0, sizeof(amt));
	amt.cfg = &cfg;
	amt.poller = poller;
	amt.workers = workers;
	amt.consoles = &consoles;
	amt.channel_ops = mps_relay_tunnel_ops;
	memset(&tun, 0, sizeof(tun));
	tun.side = &amt;
	tun.strand = mps_strand_create(workers);
	ck_assert_ptr_nonnull(tun.strand);
	mps_buf_init(&tun.out, 1024 * 1024);
	tun.active = 1;
}

static void
teardown(void)
{
	ck_assert_uint_eq(mps_console_side_shutdown(&consoles,
	    apr_time_from_sec(5)), 0);
	mps_strand_release(tun.strand);
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);
	mps_workers_destroy(workers);
	mps_console_side_destroy(&consoles);
	mps_buf_free(&tun.out);
	apr_pool_destroy(pool);
	/* The socket wrappers' slab lives for the process: free it, as
	 * mpsd does at exit, so that the leak checker sees a clean end. */
	mps_sockwrap_cleanup();
}

/* Runs fn(arg) as a task of the tunnel's strand and waits for it. */
typedef struct on_strand {
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
} on_strand;

static void
on_strand_task(void *arg)
{
	on_strand *o = arg;

	if (o->fn != NULL)
		o->fn(o->arg);
	pthread_mutex_lock(&o->lock);
	o->done = 1;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

static void
run_on_strand(void (*fn)(void *arg), void *arg)
{
	on_strand o = { fn, arg, PTHREAD_MUTEX_INITIALIZER,
	    PTHREAD_COND_INITIALIZER, 0 };

	ck_assert_int_eq(mps_strand_post(tun.strand, on_strand_task, &o),
	    APR_SUCCESS);
	pthread_mutex_lock(&o.lock);
	while (!o.done)
		pthread_cond_wait(&o.cond, &o.lock);
	pthread_mutex_unlock(&o.lock);
}

/* ---- peers: device-opened channels with socketpair ends ------------------ */

#define NPEERS 3

static void test_refused(mps_console_t *c, open_result why)
{
	(void)c;
	(void)why;
}

static void test_opened(mps_console_t *c)
{
	(void)c;
}

static const front_ops test_ops = {
	.name = "test",
	.opened = test_opened,
	.refused = test_refused,
};

static mps_console_t *peer[NPEERS];
static int far_end[NPEERS];		/* the test's end of each socketpair */

typedef struct open_args {
	int confirm;
} open_args;

static void
open_peers(void *arg)
{
	open_args *a = arg;
	int i, sv[2];

	for (i = 0; i < NPEERS; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK,
		    0, sv), 0);
		far_end[i] = sv[1];
		peer[i] = mps_console_outgoing(&consoles, &test_ops, sv[0],
		    tun.strand, "test-peer");
		ck_assert_ptr_nonnull(peer[i]);
		ck_assert_int_eq(mps_relay_accept_open(&tun, peer[i],
		    (apr_uint32_t)(100 + i), 65536), APR_SUCCESS);
		ck_assert_ptr_nonnull(peer[i]->chan);
		ck_assert_int_eq(peer[i]->chan->state, MPS_CHAN_PENDING);
		if (a->confirm) {
			mps_relay_confirm_open(peer[i]);
			ck_assert_int_eq(peer[i]->phase, C_RELAY);
		}
	}
	ck_assert_ptr_nonnull(tun.chans);
}

/* Every further message fails to queue: the output is at its cap. */
static void
fill_output(void *arg)
{
	(void)arg;
	ck_assert_int_eq(mps_buf_set_max_size(&tun.out, mps_buf_len(&tun.out)),
	    APR_SUCCESS);
}

/* Waits (up to 5 s) for the tunnel to have closed, then for one more
 * strand task: the layer's collection task has run by then. */
static void
wait_closed(void)
{
	int i;

	for (i = 0; i < 500 && atomic_load(&tun.closes) == 0; i++)
		apr_sleep(apr_time_from_msec(10));
	run_on_strand(NULL, NULL);
	run_on_strand(NULL, NULL);
	ck_assert_int_eq(atomic_load(&tun.closes), 1);
	ck_assert_ptr_null(tun.chans);
}

/* Every peer socket was closed by the layer: the far end reads EOF. */
static void
assert_peers_closed(void)
{
	int i;

	for (i = 0; i < NPEERS; i++) {
		char b;
		ssize_t n;
		int tries = 0;

		do {
			n = recv(far_end[i], &b, 1, 0);
			if (n < 0 && errno == EAGAIN)
				apr_sleep(apr_time_from_msec(10));
		} while (n < 0 && errno == EAGAIN && ++tries < 300);
		ck_assert_msg(n == 0, "peer %d not closed (recv %zd)", i, n);
		close(far_end[i]);
	}
}

/* ---- the tests ----------------------------------------------------------- */

/* The idle sweep sends CLOSE to every idle channel; the first CLOSE that
 * cannot be queued closes the tunnel from inside the sweep's walk. */
START_TEST(tunnel_closes_inside_idle_sweep)
{
	open_args a = { 1 };

	cfg.channel_idle_timeout = 1;	/* 1 us: every channel is idle */
	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(fill_output, NULL);
	wait_closed();		/* the sweep fires after 1 s */
	ck_assert_msg(strstr(tun.why, "CHANNEL_CLOSE") != NULL, "%s", tun.why);
	assert_peers_closed();
}
END_TEST

/* The open timeout refuses every pending device-opened channel; the
 * first OPEN_FAILURE that cannot be queued closes the tunnel from inside
 * that walk. */
START_TEST(tunnel_closes_inside_open_timeout)
{
	open_args a = { 0 };

	cfg.channel_open_timeout = 1;	/* 1 us */
	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(fill_output, NULL);
	wait_closed();
	ck_assert_msg(strstr(tun.why, "CHANNEL_OPEN_FAILURE") != NULL, "%s",
	    tun.why);
	assert_peers_closed();
}
END_TEST

/* The resume walk after the output drained: a blocked peer whose socket
 * is gone ends its channel, its CLOSE cannot be queued, the tunnel closes
 * from inside the walk, and the walk goes on to the next peer. */
static void
drained(void *arg)
{
	(void)arg;
	amt.channel_ops.output_drained(&tun);
}

static void
block_all(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < NPEERS; i++) {
		/* Blocked peers are not watched: only the drain resumes them. */
		(void)mps_poller_unwatch(poller, peer[i]->reg);
		peer[i]->blocked = 1;
		/* Something for the peer, so that its flush meets the closed
		 * socket. */
		ck_assert_int_eq(mps_buf_put(&peer[i]->down, "x", 1),
		    APR_SUCCESS);
	}
	tun.wants_room = 0;
}

START_TEST(tunnel_closes_inside_resume_walk)
{
	open_args a = { 1 };
	int i;

	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(block_all, NULL);
	for (i = 0; i < NPEERS; i++) {
		close(far_end[i]);
		far_end[i] = -1;
	}
	run_on_strand(fill_output, NULL);
	run_on_strand(drained, NULL);
	wait_closed();
	ck_assert_msg(strstr(tun.why, "CHANNEL_CLOSE") != NULL, "%s", tun.why);
}
END_TEST

/* The wake-up path: when room appears, EVERY blocked peer is resumed at
 * once (not a few, not by a timer), round robin. */
static size_t before;

static void
peers_send(void *arg)
{
	int i;

	(void)arg;
	before = mps_buf_len(&tun.out);
	for (i = 0; i < NPEERS; i++) {
		/* Blocked peers are not watched: only the drain resumes them. */
		(void)mps_poller_unwatch(poller, peer[i]->reg);
		peer[i]->blocked = 1;
		/* As in mpsd: a raw peer blocks only in the middle of
		 * reading it (its socket was readable). */
		peer[i]->readable = 1;
		ck_assert_int_eq(send(far_end[i], "hello", 5, 0), 5);
	}
	tun.wants_room = 0;
}

/* Read on the strand: once resumed, the peers are watched again and a
 * poll firing may run the layer at any moment. */
static void
all_woken(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < NPEERS; i++)
		ck_assert_msg(!peer[i]->blocked, "peer %d still blocked", i);
	/* Three CHANNEL_DATA of 5 bytes each (9-byte header). */
	ck_assert_uint_eq(mps_buf_len(&tun.out) - before, NPEERS * (9 + 5));
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	ck_assert_int_eq(tun.wants_room, 0);
}

/* The tunnel ends, on its strand as the real one does. */
static void
end_tunnel(void *arg)
{
	(void)arg;
	tun.active = 0;
	amt.channel_ops.closing(&tun);
	tun.chans = NULL;
}

START_TEST(output_drained_wakes_every_blocked_peer)
{
	open_args a = { 1 };
	int i;

	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(peers_send, NULL);
	run_on_strand(drained, NULL);
	run_on_strand(all_woken, NULL);
	for (i = 0; i < NPEERS; i++)
		close(far_end[i]);
	run_on_strand(end_tunnel, NULL);
}
END_TEST

/* No room: a peer with bytes to send blocks and asks the tunnel to say
 * when room appears. */
static void
no_room(void *arg)
{
	(void)arg;
	/* Fill the output to the high-water mark with filler. */
	while (mps_tunnel_room(&tun) > 0) {
		size_t n = mps_tunnel_room(&tun);
		uint8_t *tail;

		ck_assert_int_eq(mps_buf_reserve(&tun.out, n, &tail),
		    APR_SUCCESS);
		memset(tail, 0, n);
		ck_assert_int_eq(mps_buf_commit(&tun.out, n), APR_SUCCESS);
	}
	tun.wants_room = 0;
	/* Only the drain may resume it (as in the test above). */
	(void)mps_poller_unwatch(poller, peer[0]->reg);
	peer[0]->blocked = 1;
	peer[0]->readable = 1;
}

/* Read on the strand: the layer's fields belong to it. */
static void
still_blocked(void *arg)
{
	(void)arg;
	ck_assert(peer[0]->blocked);
	ck_assert_int_eq(tun.wants_room, 1);
}

START_TEST(no_room_blocks_and_waits)
{
	open_args a = { 1 };
	int i;

	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(no_room, NULL);
	ck_assert_int_eq(send(far_end[0], "hello", 5, 0), 5);
	run_on_strand(drained, NULL);	/* drained while still full */
	run_on_strand(still_blocked, NULL);
	for (i = 0; i < NPEERS; i++)
		close(far_end[i]);
	run_on_strand(end_tunnel, NULL);
}
END_TEST

/* ---- data beyond the window (ChannelWindowOverrun) ----------------------- */

#define CHUNK 16384

static uint8_t
pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

typedef struct device_data {
	int peer;		/* whose channel the device writes to */
	size_t max;		/* send at most this many bytes */
	size_t sent;		/* out: bytes handed to the layer */
	mps_chan_t *chan;	/* out: the channel (stays allocated) */
	int dropped;		/* go on after its peer is gone */
} device_data;

/* The device's CHANNEL_DATA for one channel, CHUNK bytes each, while the
 * tunnel reads its input: as the real tunnel does, nothing more is
 * parsed once the layer holds the input (or the tunnel closed, or the
 * channel's peer is gone). The peer's socket buffer is made small first
 * so that the peer takes little. */
static void
device_sends(void *arg)
{
	device_data *d = arg;
	static uint8_t buf[CHUNK];
	int small = 4096;

	if (d->chan == NULL) {
		/* Only while the peer is surely alive: a closed one is
		 * freed, its channel stays until collected. */
		d->chan = peer[d->peer]->chan;
		ck_assert_ptr_nonnull(d->chan);
		(void)setsockopt(peer[d->peer]->fd, SOL_SOCKET, SO_SNDBUF,
		    &small, sizeof(small));
	}
	while (d->sent < d->max && !tun.held && tun.active &&
	    (d->chan->ostate != MPS_CHAN_OUT_CLOSED || d->dropped)) {
		mps_apf_msg_t m;
		size_t i;

		for (i = 0; i < CHUNK; i++)
			buf[i] = pattern(d->sent + i);
		memset(&m, 0, sizeof(m));
		m.type = MPS_APF_CHANNEL_DATA;
		m.u.channel_data.recipient = d->chan->local_id;
		m.u.channel_data.data.ptr = (const char *)buf;
		m.u.channel_data.data.len = CHUNK;
		amt.channel_ops.on_message(&tun, &m);
		d->sent += CHUNK;
	}
}

static int held_now;

static void
read_held(void *arg)
{
	(void)arg;
	held_now = tun.held;
}

/* The overrun tests' end: the peers' far ends close, and the tunnel,
 * unless it was asked to close already, ends on its strand. */
static void
end_overrun_test(void)
{
	int i;

	for (i = 0; i < NPEERS; i++)
		close(far_end[i]);
	if (tun.active)
		run_on_strand(end_tunnel, NULL);
}

/* What the overrun tests look at, copied on the strand: the strand goes
 * on running (the peer's socket events) while the test checks. */
static struct {
	int held, holds, overran, close_sent, ostate;
	apr_uint32_t local_window;
} snap;

static void
take_snap(void *arg)
{
	const device_data *d = arg;

	snap.held = tun.held;
	snap.holds = tun.holds;
	snap.overran = d->chan->overran;
	snap.close_sent = d->chan->close_sent;
	snap.ostate = (int)d->chan->ostate;
	snap.local_window = d->chan->local_window;
}

/* A device that ignores the window: the layer keeps the data, holds the
 * tunnel's input while the channel is over its window, and resumes it
 * once the peer has taken the data; every byte arrives in order and the
 * tunnel lives. */
START_TEST(overrun_holds_input_until_peer_drains)
{
	open_args a = { 1 };
	device_data d = { 0, 1024 * 1024, 0, NULL, 0 };
	size_t got = 0;
	int tries = 0;

	ck_assert_uint_eq(cfg.channel_window_overrun, 1024 * 1024);
	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(device_sends, &d);
	run_on_strand(take_snap, &d);
	/* The peer read nothing: it went beyond the 64 KiB window, and the
	 * input was held at the first message that did, long before the
	 * bound. */
	ck_assert_int_eq(snap.held, 1);
	ck_assert_int_eq(snap.holds, 1);
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	ck_assert_uint_gt(d.sent, 65536);
	ck_assert_uint_le(d.sent, 65536 + 2 * CHUNK);
	ck_assert(snap.overran);
	ck_assert_uint_eq(snap.local_window, 0);
	ck_assert_int_eq(snap.ostate, MPS_CHAN_OUT_OPEN);
	/* The peer drains: every byte, in order; then the input resumes. */
	while (got < d.sent && tries < 500) {
		uint8_t b[8192];
		ssize_t n = recv(far_end[0], b, sizeof(b), 0), i;

		if (n < 0 && errno == EAGAIN) {
			apr_sleep(apr_time_from_msec(10));
			tries++;
			continue;
		}
		ck_assert_int_gt(n, 0);
		for (i = 0; i < n; i++)
			ck_assert_uint_eq(b[i], pattern(got + (size_t)i));
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, d.sent);
	for (tries = 0; tries < 200; tries++) {
		run_on_strand(read_held, NULL);
		if (!held_now)
			break;
		apr_sleep(apr_time_from_msec(10));
	}
	ck_assert_int_eq(held_now, 0);
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	end_overrun_test();
}
END_TEST

/* Finds CHANNEL_CLOSE to the device's channel id in the tunnel output. */
static int
close_queued(apr_uint32_t remote_id)
{
	const uint8_t *p = mps_buf_ptr(&tun.out);
	size_t n = mps_buf_len(&tun.out), i;
	const uint8_t want[5] = { MPS_APF_CHANNEL_CLOSE,
	    (uint8_t)(remote_id >> 24), (uint8_t)(remote_id >> 16),
	    (uint8_t)(remote_id >> 8), (uint8_t)remote_id };

	for (i = 0; i + sizeof(want) <= n; i++)
		if (memcmp(p + i, want, sizeof(want)) == 0)
			return 1;
	return 0;
}

static device_data other;

/* The device's data to another channel of the tunnel. */
static void
other_sends(void *arg)
{
	(void)arg;
	memset(&other, 0, sizeof(other));
	other.peer = 1;
	other.max = CHUNK;
	device_sends(&other);
}

/* Past the bound, only the offending channel closes: CLOSE goes to the
 * device, its peer is closed, later data for it is dropped, the tunnel
 * and the other channels go on. */
START_TEST(overrun_past_bound_closes_that_channel_only)
{
	open_args a = { 1 };
	device_data d = { 0, 1024 * 1024, 0, NULL, 0 };
	device_data again;
	char b[CHUNK];
	size_t got = 0;
	int tries = 0;

	cfg.channel_window_overrun = 1024;	/* under one message */
	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(device_sends, &d);
	run_on_strand(take_snap, &d);
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	ck_assert_int_eq(snap.ostate, MPS_CHAN_OUT_CLOSED);
	ck_assert(snap.close_sent);
	ck_assert(close_queued(100));
	ck_assert_int_eq(snap.held, 0);
	/* The device goes on sending before it reads our CLOSE: dropped,
	 * whatever the amount, with no harm to the tunnel. */
	again = d;
	again.sent = 0;
	again.max = 4 * CHUNK;
	again.dropped = 1;
	run_on_strand(device_sends, &again);
	ck_assert_uint_eq(again.sent, 4 * CHUNK);
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	/* Another channel of the tunnel still carries data. */
	run_on_strand(other_sends, NULL);
	while (got < CHUNK && tries < 500) {
		ssize_t n = recv(far_end[1], b, sizeof(b), 0);

		if (n < 0 && errno == EAGAIN) {
			apr_sleep(apr_time_from_msec(10));
			tries++;
			continue;
		}
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
	ck_assert_uint_eq(got, CHUNK);
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	end_overrun_test();
}
END_TEST

/* strict (0): any byte beyond the window is a protocol error for the
 * whole tunnel, as before the tolerance existed. */
START_TEST(overrun_strict_ends_the_tunnel)
{
	open_args a = { 1 };
	device_data d = { 0, 1024 * 1024, 0, NULL, 0 };
	char b[8192];
	ssize_t n;
	int i, tries = 0;

	cfg.channel_window_overrun = 0;
	run_on_strand((void (*)(void *))open_peers, &a);
	run_on_strand(device_sends, &d);
	wait_closed();
	ck_assert_msg(strstr(tun.why, "CHANNEL_DATA") != NULL, "%s", tun.why);
	ck_assert_uint_le(d.sent, 65536 + CHUNK);
	ck_assert_int_eq(tun.holds, 0);
	/* Peer 0 got what was within the window, then its end. */
	do {
		n = recv(far_end[0], b, sizeof(b), 0);
		if (n < 0 && errno == EAGAIN) {
			apr_sleep(apr_time_from_msec(10));
			tries++;
		}
	} while ((n > 0 || (n < 0 && errno == EAGAIN)) && tries < 300);
	ck_assert_int_eq(n, 0);
	/* The other peers, which got nothing, see their end too. */
	for (i = 1; i < NPEERS; i++) {
		tries = 0;
		do {
			n = recv(far_end[i], b, sizeof(b), 0);
			if (n < 0 && errno == EAGAIN)
				apr_sleep(apr_time_from_msec(10));
		} while (n < 0 && errno == EAGAIN && ++tries < 300);
		ck_assert_msg(n == 0, "peer %d not closed (recv %zd)", i, n);
	}
	for (i = 0; i < NPEERS; i++)
		close(far_end[i]);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("fake tunnel");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tunnel_closes_inside_idle_sweep);
	tcase_add_test(tc, tunnel_closes_inside_open_timeout);
	tcase_add_test(tc, tunnel_closes_inside_resume_walk);
	tcase_add_test(tc, output_drained_wakes_every_blocked_peer);
	tcase_add_test(tc, no_room_blocks_and_waits);
	tcase_add_test(tc, overrun_holds_input_until_peer_drains);
	tcase_add_test(tc, overrun_past_bound_closes_that_channel_only);
	tcase_add_test(tc, overrun_strict_ends_the_tunnel);
	suite_add_tcase(s, tc);
	return s;
}
