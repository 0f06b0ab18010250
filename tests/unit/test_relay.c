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
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdatomic.h>

#include <apr_pools.h>

#include "apf_session.h"
#include "channel_relay.h"
#include "console_priv.h"
#include "direct_tcpip_priv.h"
#include "poller.h"
#include "sockwrap.h"
#include "unit_workers.h"
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
	int i;

	ck_assert_uint_eq(mps_console_side_shutdown(&consoles,
	    apr_time_from_sec(5)), 0);
	/* Every outgoing connection ended with its channel or the tunnel
	 * and was freed by its strand. */
	for (i = 0; i < 500 && mps_direct_tcpip_live() > 0; i++)
		apr_sleep(apr_time_from_msec(10));
	ck_assert_uint_eq(mps_direct_tcpip_live(), 0);
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

static mps_direct_conn_t *peer[NPEERS];
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
		/* The outgoing connection of a device-opened channel, on a
		 * socketpair end: connected at once, so it confirms as soon
		 * as it is watched. */
		peer[i] = mps_direct_tcpip_begin(&tun, (apr_uint32_t)(100 + i),
		    65536, "target", 9, sv[0], "test-peer");
		ck_assert_ptr_nonnull(peer[i]);
		ck_assert_ptr_nonnull(peer[i]->cp.chan);
		ck_assert_int_eq(peer[i]->cp.chan->state, MPS_CHAN_PENDING);
		if (a->confirm) {
			mps_direct_tcpip_wait_connect(peer[i]);
		}
	}
	ck_assert_ptr_nonnull(tun.chans);
}

static int peers_relaying;

static void
count_relaying(void *arg)
{
	int i;

	(void)arg;
	peers_relaying = 0;
	for (i = 0; i < NPEERS; i++)
		if (peer[i]->state == D_RELAY && peer[i]->cp.relaying)
			peers_relaying++;
}

/* Opens NPEERS device-opened channels; with confirm, waits (up to 5 s)
 * until every connection confirmed its channel. */
static void
open_all(int confirm)
{
	open_args a = { confirm };
	int tries;

	run_on_strand((void (*)(void *))open_peers, &a);
	for (tries = 0; confirm && tries < 500; tries++) {
		run_on_strand(count_relaying, NULL);
		if (peers_relaying == NPEERS)
			break;
		apr_sleep(apr_time_from_msec(10));
	}
	if (confirm)
		ck_assert_int_eq(peers_relaying, NPEERS);
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
	open_all(a.confirm);
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
	open_all(a.confirm);
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
		peer[i]->cp.blocked = 1;
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

	open_all(a.confirm);
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
		peer[i]->cp.blocked = 1;
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
		ck_assert_msg(!peer[i]->cp.blocked, "peer %d still blocked", i);
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

	open_all(a.confirm);
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
	peer[0]->cp.blocked = 1;
}

/* Read on the strand: the layer's fields belong to it. */
static void
still_blocked(void *arg)
{
	(void)arg;
	ck_assert(peer[0]->cp.blocked);
	ck_assert_int_eq(tun.wants_room, 1);
}

START_TEST(no_room_blocks_and_waits)
{
	open_args a = { 1 };
	int i;

	open_all(a.confirm);
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
		d->chan = peer[d->peer]->cp.chan;
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
	open_all(a.confirm);
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
	open_all(a.confirm);
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
	open_all(a.confirm);
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

/* ---- the outgoing peer of a device-opened channel (direct_tcpip.c) ------- */

/*
 * What these hold (issue 10, section 2): the outgoing connection is its
 * own peer of the channel layer, not a console. If it breaks, bytes are
 * lost or reordered, a slow side makes mpsd buffer without bound, the
 * device hears CLOSE before the last data (or the target loses data the
 * device sent before its CLOSE), or a refused open gets the wrong
 * CHANNEL_OPEN_FAILURE reason.
 */

/* What the layer queued for the device, taken on the strand (it owns
 * tun.out) as the real tunnel's writer takes it, and parsed here. Like
 * the real tunnel, taking it makes room and wakes a layer that waits
 * for some. */
static uint8_t *seen;
static size_t seen_len, seen_cap, seen_parsed;

static void
copy_out(void *arg)
{
	size_t n = mps_buf_len(&tun.out);

	(void)arg;
	if (seen_len + n > seen_cap) {
		seen_cap = (seen_len + n) * 2 + 4096;
		seen = realloc(seen, seen_cap);
		ck_assert_ptr_nonnull(seen);
	}
	if (n > 0) {
		memcpy(seen + seen_len, mps_buf_ptr(&tun.out), n);
		seen_len += n;
		(void)mps_buf_consume(&tun.out, n);
	}
	if (tun.wants_room && tun.active) {
		tun.wants_room = 0;
		amt.channel_ops.output_drained(&tun);
	}
}

static void
seen_reset(void)
{
	free(seen);
	seen = NULL;
	seen_len = seen_cap = seen_parsed = 0;
}

/* The next message queued for the device, waiting up to 5 s for it.
 * Returns 0 when none came. */
static int
next_msg(mps_apf_msg_t *m)
{
	int tries;

	for (tries = 0; tries < 500; tries++) {
		size_t len = 0;

		if (seen_len > seen_parsed && mps_apf_frame_len(seen +
		    seen_parsed, seen_len - seen_parsed, MPS_APF_MAX_DATA,
		    &len) == APR_SUCCESS) {
			ck_assert_int_eq(mps_apf_decode(seen + seen_parsed, len,
			    m), APR_SUCCESS);
			seen_parsed += len;
			return 1;
		}
		run_on_strand(copy_out, NULL);
		if (seen_len - seen_parsed > 0 && mps_apf_frame_len(seen +
		    seen_parsed, seen_len - seen_parsed, MPS_APF_MAX_DATA,
		    &len) == APR_SUCCESS)
			continue;
		apr_sleep(apr_time_from_msec(10));
	}
	return 0;
}

/* The device's side of one channel. */
typedef struct dev_chan {
	apr_uint32_t remote;	/* the device's id (our CHANNEL_OPEN's sender) */
	apr_uint32_t local;	/* mpsd's id, from the confirmation */
	int far;		/* the target's socket */
	mps_direct_conn_t *conn;
} dev_chan;

static void
expect_confirmation(dev_chan *dc)
{
	mps_apf_msg_t m;

	ck_assert(next_msg(&m));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN_CONFIRMATION);
	ck_assert_uint_eq(m.u.channel_open_confirmation.recipient, dc->remote);
	dc->local = m.u.channel_open_confirmation.sender;
}

/* The device's messages, handed to the layer on the strand as the
 * tunnel does. */
typedef struct dev_msg {
	dev_chan *dc;
	unsigned type;
	const void *data;
	size_t len;
	apr_uint32_t add;
} dev_msg;

static void
dev_msg_run(void *arg)
{
	dev_msg *d = arg;
	mps_apf_msg_t m;

	memset(&m, 0, sizeof(m));
	m.type = (uint8_t)d->type;
	switch (d->type) {
	case MPS_APF_CHANNEL_DATA:
		m.u.channel_data.recipient = d->dc->local;
		m.u.channel_data.data.ptr = d->data;
		m.u.channel_data.data.len = d->len;
		break;
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
		m.u.window_adjust.recipient = d->dc->local;
		m.u.window_adjust.bytes_to_add = d->add;
		break;
	case MPS_APF_CHANNEL_CLOSE:
		m.u.channel_close.recipient = d->dc->local;
		break;
	}
	amt.channel_ops.on_message(&tun, &m);
}

static void
dev_send(dev_chan *dc, const void *data, size_t len)
{
	dev_msg d = { dc, MPS_APF_CHANNEL_DATA, data, len, 0 };

	run_on_strand(dev_msg_run, &d);
}

static void
dev_adjust(dev_chan *dc, apr_uint32_t add)
{
	dev_msg d = { dc, MPS_APF_CHANNEL_WINDOW_ADJUST, NULL, 0, add };

	run_on_strand(dev_msg_run, &d);
}

static void
dev_close(dev_chan *dc)
{
	dev_msg d = { dc, MPS_APF_CHANNEL_CLOSE, NULL, 0, 0 };

	run_on_strand(dev_msg_run, &d);
}

/* A real TCP listener on 127.0.0.1 standing in for the target. */
static int
target_listen(apr_port_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

typedef struct start_args {
	apr_uint32_t sender, window;
	apr_port_t port;
} start_args;

static void
start_run(void *arg)
{
	start_args *a = arg;
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(a->port);
	mps_direct_tcpip_start(&tun, a->sender, a->window, "127.0.0.1",
	    a->port, (struct sockaddr *)&sa, sizeof(sa));
}

/* A device-opened channel over a real TCP connection to a listener. */
static void
open_tcp(dev_chan *dc, apr_uint32_t sender, apr_uint32_t window)
{
	apr_port_t port;
	int lfd = target_listen(&port);
	start_args a = { sender, window, port };

	ck_assert_int_eq(listen(lfd, 4), 0);
	memset(dc, 0, sizeof(*dc));
	dc->remote = sender;
	run_on_strand(start_run, &a);
	dc->far = accept(lfd, NULL, NULL);
	ck_assert_int_ge(dc->far, 0);
	close(lfd);
	expect_confirmation(dc);
}

/* A device-opened channel over a socketpair (small buffers on mpsd's
 * side, so that back-pressure shows at once). */
typedef struct pair_args {
	dev_chan *dc;
	apr_uint32_t window;
	int fd;
} pair_args;

static void
pair_run(void *arg)
{
	pair_args *a = arg;
	int small = 4096;

	a->dc->conn = mps_direct_tcpip_begin(&tun, a->dc->remote, a->window,
	    "target", 9, a->fd, "pair");
	ck_assert_ptr_nonnull(a->dc->conn);
	(void)setsockopt(a->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	mps_direct_tcpip_wait_connect(a->dc->conn);
}

static void
open_pair(dev_chan *dc, apr_uint32_t sender, apr_uint32_t window)
{
	int sv[2];
	pair_args a = { dc, window, -1 };

	memset(dc, 0, sizeof(*dc));
	dc->remote = sender;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	a.fd = sv[0];
	dc->far = sv[1];
	run_on_strand(pair_run, &a);
	expect_confirmation(dc);
}

/* Reads exactly n bytes from fd (non-blocking or not), checking the
 * pattern from offset at; up to 5 s. */
static void
far_read_pattern(int fd, size_t at, size_t n)
{
	uint8_t b[8192];
	size_t got = 0;
	int tries = 0;

	while (got < n && tries < 500) {
		size_t want = n - got < sizeof(b) ? n - got : sizeof(b);
		ssize_t r = recv(fd, b, want, MSG_DONTWAIT), i;

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			apr_sleep(apr_time_from_msec(10));
			tries++;
			continue;
		}
		ck_assert_int_gt(r, 0);
		for (i = 0; i < r; i++)
			ck_assert_uint_eq(b[i], pattern(at + got + (size_t)i));
		got += (size_t)r;
	}
	ck_assert_uint_eq(got, n);
}

/* Collects the CHANNEL_DATA for dc from the device's output until n
 * bytes came, checking the pattern from at; a WINDOW_ADJUST or another
 * message type fails the test. */
static void
dev_expect_pattern(dev_chan *dc, size_t at, size_t n)
{
	size_t got = 0;
	mps_apf_msg_t m;

	while (got < n) {
		size_t i;

		ck_assert_msg(next_msg(&m), "only %zu of %zu bytes came", got,
		    n);
		ck_assert_msg(m.type == MPS_APF_CHANNEL_DATA, "%s",
		    mps_apf_msg_name(m.type));
		ck_assert_uint_eq(m.u.channel_data.recipient, dc->remote);
		for (i = 0; i < m.u.channel_data.data.len; i++)
			ck_assert_uint_eq((uint8_t)m.u.channel_data.data.ptr[i],
			    pattern(at + got + i));
		got += m.u.channel_data.data.len;
	}
	ck_assert_uint_eq(got, n);
}

/* The target sees the end of the connection (up to 5 s). */
static void
far_expect_eof(int fd)
{
	char b;
	ssize_t r;
	int tries = 0;

	do {
		r = recv(fd, &b, 1, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			apr_sleep(apr_time_from_msec(10));
	} while (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
	    ++tries < 500);
	ck_assert_int_eq(r, 0);
}

static void
fill_pattern(uint8_t *b, size_t at, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = pattern(at + i);
}

static void
wait_no_conns(void)
{
	int i;

	for (i = 0; i < 500 && mps_direct_tcpip_live() > 0; i++)
		apr_sleep(apr_time_from_msec(10));
	ck_assert_uint_eq(mps_direct_tcpip_live(), 0);
}

/* Over a real TCP connection: the device's bytes reach the target and
 * the target's reach the device, each in order and whole. */
START_TEST(outgoing_bytes_both_ways_in_order)
{
	static uint8_t buf[200000];
	dev_chan dc;
	size_t off;

	seen_reset();
	open_tcp(&dc, 200, 1024 * 1024);
	/* Device -> target, in messages of several sizes. */
	for (off = 0; off < 60000; ) {
		size_t n = off % 3 == 0 ? 1 : off % 3 == 1 ? 4000 : 16384;

		if (n > 60000 - off)
			n = 60000 - off;
		fill_pattern(buf, off, n);
		dev_send(&dc, buf, n);
		off += n;
	}
	far_read_pattern(dc.far, 0, 60000);
	/* Target -> device: more than one pass of the pump. */
	fill_pattern(buf, 0, sizeof(buf));
	for (off = 0; off < sizeof(buf); ) {
		ssize_t w = send(dc.far, buf + off, sizeof(buf) - off, 0);

		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
	/* The target took the device's 60000 bytes: window comes back,
	 * once half the 64 KiB window was taken, for what was taken (and
	 * before any of the target's data: the same strand queued it). */
	{
		mps_apf_msg_t m;

		ck_assert(next_msg(&m));
		ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_WINDOW_ADJUST);
		ck_assert_uint_eq(m.u.window_adjust.recipient, dc.remote);
		ck_assert_uint_ge(m.u.window_adjust.bytes_to_add, 32768);
		ck_assert_uint_le(m.u.window_adjust.bytes_to_add, 60000);
	}
	dev_expect_pattern(&dc, 0, sizeof(buf));
	close(dc.far);
	run_on_strand(end_tunnel, NULL);
	wait_no_conns();
	seen_reset();
}
END_TEST

/* Target -> device: never more than the device's window; the rest waits
 * in the target's socket until the device adjusts. */
START_TEST(outgoing_backpressure_towards_device)
{
	static uint8_t buf[10000];
	dev_chan dc;
	mps_apf_msg_t m;

	seen_reset();
	open_pair(&dc, 201, 1000);
	fill_pattern(buf, 0, sizeof(buf));
	ck_assert_int_eq(send(dc.far, buf, sizeof(buf), 0),
	    (ssize_t)sizeof(buf));
	dev_expect_pattern(&dc, 0, 1000);
	/* Nothing more without window, however long the target waits. */
	apr_sleep(apr_time_from_msec(200));
	run_on_strand(copy_out, NULL);
	ck_assert_uint_eq(seen_len, seen_parsed);
	dev_adjust(&dc, 4000);
	dev_expect_pattern(&dc, 1000, 4000);
	apr_sleep(apr_time_from_msec(100));
	run_on_strand(copy_out, NULL);
	ck_assert_uint_eq(seen_len, seen_parsed);
	dev_adjust(&dc, 100000);
	dev_expect_pattern(&dc, 5000, 5000);
	/* The target's end after its bytes: CLOSE comes last. */
	shutdown(dc.far, SHUT_WR);
	ck_assert(next_msg(&m));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_CLOSE);
	ck_assert_uint_eq(m.u.channel_close.recipient, dc.remote);
	dev_close(&dc);
	/* The device's CLOSE answered ours: the connection is closed. */
	far_expect_eof(dc.far);
	wait_no_conns();
	close(dc.far);
	run_on_strand(end_tunnel, NULL);
	seen_reset();
}
END_TEST

/* Device -> target: mpsd grants window only for bytes the target's
 * socket took; while the target reads nothing, the device's window runs
 * out and no WINDOW_ADJUST goes. Then the device's CLOSE: every byte it
 * sent before reaches the target before the target sees the end. */
START_TEST(outgoing_backpressure_towards_target_and_close_order)
{
	static uint8_t buf[65536];
	dev_chan dc;
	mps_apf_msg_t m;
	size_t off, adjusted = 0;

	seen_reset();
	open_pair(&dc, 202, 1024 * 1024);
	/* The whole window (ChannelWindowSize 65536), target not reading. */
	for (off = 0; off < sizeof(buf); off += 16384) {
		fill_pattern(buf + off, off, 16384);
		dev_send(&dc, buf + off, 16384);
	}
	apr_sleep(apr_time_from_msec(200));
	run_on_strand(copy_out, NULL);
	/* The socket took a few KiB at most: less than half the window,
	 * so no adjust yet. */
	ck_assert_uint_eq(seen_len, seen_parsed);
	/* The device closes; the target reads afterwards and still gets
	 * every byte, then the end. */
	dev_close(&dc);
	far_read_pattern(dc.far, 0, sizeof(buf));
	far_expect_eof(dc.far);
	/* What the device heard meanwhile: WINDOW_ADJUSTs for bytes the
	 * target took (never more than it sent), then our CLOSE. */
	for (;;) {
		ck_assert(next_msg(&m));
		if (m.type != MPS_APF_CHANNEL_WINDOW_ADJUST)
			break;
		adjusted += m.u.window_adjust.bytes_to_add;
	}
	ck_assert_uint_le(adjusted, sizeof(buf));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_CLOSE);
	ck_assert_uint_eq(m.u.channel_close.recipient, dc.remote);
	wait_no_conns();
	close(dc.far);
	run_on_strand(end_tunnel, NULL);
	seen_reset();
}
END_TEST

/* Nothing listens at the target: CHANNEL_OPEN_FAILURE 2 (connect
 * failed), and the connection is freed. */
START_TEST(outgoing_connect_failure_is_open_failure_2)
{
	apr_port_t port;
	int lfd = target_listen(&port);	/* bound, never listening */
	start_args a = { 203, 65536, 0 };
	mps_apf_msg_t m;

	seen_reset();
	a.port = port;
	run_on_strand(start_run, &a);
	ck_assert(next_msg(&m));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN_FAILURE);
	ck_assert_uint_eq(m.u.channel_open_failure.recipient, 203);
	ck_assert_uint_eq(m.u.channel_open_failure.reason,
	    MPS_CHAN_OPEN_CONNECT_FAILED);
	wait_no_conns();
	close(lfd);
	run_on_strand(end_tunnel, NULL);
	seen_reset();
}
END_TEST

/* A connect that does not finish within ChannelOpenTimeout: also
 * CHANNEL_OPEN_FAILURE 2; the tunnel lives. */
static void
begin_only(void *arg)
{
	int *fd = arg;

	ck_assert_ptr_nonnull(mps_direct_tcpip_begin(&tun, 204, 65536,
	    "target", 9, *fd, "pair"));
}

START_TEST(outgoing_connect_timeout_is_open_failure_2)
{
	int sv[2];
	mps_apf_msg_t m;
	char b;

	seen_reset();
	cfg.channel_open_timeout = 1;	/* 1 us: the first sweep */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	run_on_strand(begin_only, &sv[0]);	/* never watched: never done */
	ck_assert(next_msg(&m));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN_FAILURE);
	ck_assert_uint_eq(m.u.channel_open_failure.recipient, 204);
	ck_assert_uint_eq(m.u.channel_open_failure.reason,
	    MPS_CHAN_OPEN_CONNECT_FAILED);
	wait_no_conns();
	ck_assert_int_eq(recv(sv[1], &b, 1, 0), 0);
	ck_assert_int_eq(atomic_load(&tun.closes), 0);
	close(sv[1]);
	run_on_strand(end_tunnel, NULL);
	seen_reset();
}
END_TEST

/* The policy runs before any socket (outbound.c): a target not in the
 * AuthorizedServersList is CHANNEL_OPEN_FAILURE 1, another channel type
 * 3. */
typedef struct open_msg {
	const char *type, *host;
	apr_uint32_t port, sender;
} open_msg;

static void
device_open_run(void *arg)
{
	open_msg *o = arg;
	mps_apf_msg_t m;

	memset(&m, 0, sizeof(m));
	m.type = MPS_APF_CHANNEL_OPEN;
	m.u.channel_open.type = mps_apf_cstr(o->type);
	m.u.channel_open.sender = o->sender;
	m.u.channel_open.window = 65536;
	m.u.channel_open.connected_addr = mps_apf_cstr(o->host);
	m.u.channel_open.connected_port = o->port;
	mps_direct_tcpip_open(&tun, &m);
}

START_TEST(outgoing_refusals_carry_their_reason)
{
	open_msg no = { MPS_APF_CHAN_DIRECT_TCPIP, "127.0.0.1", 9, 205 };
	open_msg odd = { "session", "127.0.0.1", 9, 206 };
	mps_apf_msg_t m;

	seen_reset();
	cfg.filter_unauthorized_servers = 1;	/* and an empty list */
	run_on_strand(device_open_run, &no);
	ck_assert(next_msg(&m));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN_FAILURE);
	ck_assert_uint_eq(m.u.channel_open_failure.recipient, 205);
	ck_assert_uint_eq(m.u.channel_open_failure.reason,
	    MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED);
	run_on_strand(device_open_run, &odd);
	ck_assert(next_msg(&m));
	ck_assert_uint_eq(m.type, MPS_APF_CHANNEL_OPEN_FAILURE);
	ck_assert_uint_eq(m.u.channel_open_failure.recipient, 206);
	ck_assert_uint_eq(m.u.channel_open_failure.reason,
	    MPS_CHAN_OPEN_UNKNOWN_CHANNEL_TYPE);
	ck_assert_uint_eq(mps_direct_tcpip_live(), 0);
	run_on_strand(end_tunnel, NULL);
	seen_reset();
}
END_TEST

/* ---- a console freed while the workers stop ---------------------------- */

/*
 * As test_tunnel's free_queued_when_the_workers_stop_still_frees, for a
 * console (bde109f): its last reference goes while every I/O thread is
 * busy, so its free stays queued on its strand; the workers stop; the
 * console must be freed all the same, by the discard hook.
 */
START_TEST(console_free_queued_when_the_workers_stop_still_frees)
{
	mps_console_t *c = NULL;
	int sv[2], i;

	setup();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	mps_socks_accept(&consoles, sv[0], "127.0.0.1:5555");
	pthread_mutex_lock(&consoles.list_lock);
	c = consoles.list;
	if (c != NULL)
		mps_console_ref(c);
	pthread_mutex_unlock(&consoles.list_lock);
	ck_assert_ptr_nonnull(c);
	/* The console hangs up: it ends, and only our reference is left. */
	close(sv[1]);
	for (i = 0; i < 5000 && atomic_load(&c->refs) > 1; i++)
		apr_sleep(apr_time_from_msec(1));
	ck_assert_int_eq(atomic_load(&c->refs), 1);
	ck_assert_uint_eq(atomic_load(&consoles.live), 1);
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);

	unit_hold_io_lane(workers);
	mps_console_unref(c);		/* the free is queued */
	ck_assert_msg(atomic_load(&consoles.live) == 1, "released: the "
	    "console was freed before its queued task could run");
	unit_stop_workers_while_held(workers);
	ck_assert_msg(atomic_load(&consoles.live) == 0, "the console whose "
	    "free the stopping workers dropped was never freed");

	mps_strand_release(tun.strand);
	mps_console_side_destroy(&consoles);
	mps_buf_free(&tun.out);
	apr_pool_destroy(pool);
	mps_sockwrap_cleanup();
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
	tc = tcase_create("outgoing peer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, outgoing_bytes_both_ways_in_order);
	tcase_add_test(tc, outgoing_backpressure_towards_device);
	tcase_add_test(tc, outgoing_backpressure_towards_target_and_close_order);
	tcase_add_test(tc, outgoing_connect_failure_is_open_failure_2);
	tcase_add_test(tc, outgoing_connect_timeout_is_open_failure_2);
	tcase_add_test(tc, outgoing_refusals_carry_their_reason);
	suite_add_tcase(s, tc);
	/* Sets up by hand: it stops the poller and the workers itself. */
	tc = tcase_create("stopping");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, console_free_queued_when_the_workers_stop_still_frees);
	suite_add_tcase(s, tc);
	return s;
}
