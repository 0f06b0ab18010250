/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tunnel.c: the tunnel (apf_session.c) on its own, under a fake
 * channel layer.
 *
 * A real session is accepted on one end of a socketpair (plain mode, no
 * authentication plugin); the test is the device on the other end. The
 * device side's channel_ops are the fake layer below, which records what
 * the tunnel hands it and uses the tunnel API as the real layer does.
 * So what is tested is the tunnel's side of the contract: which messages
 * reach the layer, that a channel message without layer state is a
 * protocol error, that closing is called once, and the wake-up path:
 * output_drained comes whenever a write makes room, round after round,
 * without any input from the device and without a timer.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_pools.h>

#include "apf_codec.h"
#include "apf_session.h"
#include "poller.h"
#include "registry.h"
#include "sockwrap.h"
#include "unit_workers.h"
#include "workers.h"

/* ---- the fake channel layer -------------------------------------------- */

static int layer_state;			/* what the slot points at */
static atomic_int msgs, opens, drains, closings;
static atomic_int last_type;
static atomic_int drain_rounds;		/* rounds still to refill */
static size_t refill = 160 * 1024;	/* bytes per round, > HIGH */

static void
fake_on_message(mps_session_t *t, const mps_apf_msg_t *m)
{
	(void)t;
	atomic_store(&last_type, m->type);
	atomic_fetch_add(&msgs, 1);
}

/* Queues filler "channel data" until the tunnel has no room, then waits
 * for room: what a busy console does. */
static void
fill(mps_session_t *t)
{
	mps_buf_t *out = mps_tunnel_output(t);
	static uint8_t zero[16384];
	size_t queued = 0;

	ck_assert_ptr_nonnull(out);
	while (queued < refill && mps_tunnel_room(t) > 0) {
		ck_assert_int_eq(mps_apf_encode_channel_data(out, 7, zero,
		    sizeof(zero)), APR_SUCCESS);
		queued += sizeof(zero);
	}
	ck_assert_uint_eq(mps_tunnel_room(t), 0);
	mps_tunnel_wait_room(t);
	mps_tunnel_kick(t);
}

static void
fake_on_device_open(mps_session_t *t, const mps_apf_msg_t *m)
{
	(void)m;
	atomic_fetch_add(&opens, 1);
	ck_assert_int_eq(mps_tunnel_set_channels(t, &layer_state), APR_SUCCESS);
	if (atomic_load(&drain_rounds) > 0)
		fill(t);
}

static void
fake_output_drained(mps_session_t *t)
{
	atomic_fetch_add(&drains, 1);
	if (atomic_fetch_sub(&drain_rounds, 1) > 1)
		fill(t);
}

static void
fake_closing(mps_session_t *t)
{
	ck_assert_ptr_eq(mps_tunnel_channels(t), &layer_state);
	atomic_fetch_add(&closings, 1);
}

static const mps_tunnel_ops_t fake_ops = {
	.on_message = fake_on_message,
	.on_device_open = fake_on_device_open,
	.output_drained = fake_output_drained,
	.closing = fake_closing,
};

/* ---- fixture ------------------------------------------------------------- */

static apr_pool_t *pool;
static mps_workers_t *workers;
static mps_poller_t *poller;
static pthread_t poller_thread;
static mps_registry_t *registry;
static mps_config_t cfg;
static mps_amt_side_t side;
static int dev_fd = -1;			/* the device: the test */

static void *
poller_main(void *arg)
{
	(void)mps_poller_run(arg);
	return NULL;
}

static void
setup(void)
{
	int sv[2];

	atomic_store(&msgs, 0);
	atomic_store(&opens, 0);
	atomic_store(&drains, 0);
	atomic_store(&closings, 0);
	atomic_store(&drain_rounds, 0);
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_create(&workers, 2, 1, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_create(&poller, 256, workers, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(pthread_create(&poller_thread, NULL, poller_main,
	    poller), 0);
	ck_assert_int_eq(mps_registry_create(&registry), APR_SUCCESS);
	mps_config_defaults(&cfg, pool);
	memset(&side, 0, sizeof(side));
	side.cfg = &cfg;
	side.poller = poller;
	side.workers = workers;
	side.registry = registry;
	side.channel_ops = fake_ops;
	ck_assert_int_eq(mps_amt_side_init(&side), APR_SUCCESS);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	dev_fd = sv[1];
	mps_amt_accept(&side, sv[0], "127.0.0.1:4242");
}

static void
teardown(void)
{
	ck_assert_uint_eq(mps_amt_side_shutdown(&side, apr_time_from_sec(5)), 0);
	if (dev_fd >= 0)
		close(dev_fd);
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);
	mps_workers_destroy(workers);
	mps_amt_side_destroy(&side);
	mps_registry_destroy(registry);
	apr_pool_destroy(pool);
	/* The socket wrappers' slab lives for the process: free it, as
	 * mpsd does at exit, so that the leak checker sees a clean end. */
	mps_sockwrap_cleanup();
}

/* ---- the device's side of the wire --------------------------------------- */

static void
send_buf(mps_buf_t *b)
{
	const uint8_t *p = mps_buf_ptr(b);
	size_t n = mps_buf_len(b);

	while (n > 0) {
		ssize_t w = send(dev_fd, p, n, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	mps_buf_reset(b);
}

static mps_buf_t rx;

/* The next message from mpsd (waits up to ms). Returns 0 on timeout or
 * EOF; the message is decoded into *m (valid until the next call). */
static int
recv_msg(mps_apf_msg_t *m, int ms)
{
	static uint8_t frame[2 * 1024 * 1024];

	for (;;) {
		size_t mlen = 0;
		struct pollfd pfd = { dev_fd, POLLIN, 0 };
		uint8_t *tail;
		ssize_t r;

		if (mps_buf_len(&rx) > 0 && mps_apf_frame_len(mps_buf_ptr(&rx),
		    mps_buf_len(&rx), MPS_APF_MAX_DATA, &mlen) == APR_SUCCESS) {
			memcpy(frame, mps_buf_ptr(&rx), mlen);
			(void)mps_buf_consume(&rx, mlen);
			ck_assert_int_eq(mps_apf_decode(frame, mlen, m),
			    APR_SUCCESS);
			return 1;
		}
		if (poll(&pfd, 1, ms) <= 0)
			return 0;
		ck_assert_int_eq(mps_buf_reserve(&rx, 65536, &tail), APR_SUCCESS);
		r = recv(dev_fd, tail, 65536, 0);
		if (r <= 0)
			return 0;
		(void)mps_buf_commit(&rx, (size_t)r);
	}
}

static void
expect(uint8_t type)
{
	mps_apf_msg_t m;

	ck_assert_msg(recv_msg(&m, 5000), "no %s from mpsd",
	    mps_apf_msg_name(type));
	ck_assert_msg(m.type == type, "got %s, wanted %s",
	    mps_apf_msg_name(m.type), mps_apf_msg_name(type));
}

/* PROTOCOLVERSION .. pfwd: the tunnel is active afterwards. */
static void
login(void)
{
	static const uint8_t uuid[MPS_APF_UUID_LEN] = { 1, 2, 3, 4 };
	mps_buf_t b;

	mps_buf_init(&rx, 4 * 1024 * 1024);
	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_protocolversion(&b, 1, 0, 0, uuid),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_service_request(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_AUTH)), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_userauth_request_password(&b,
	    mps_apf_cstr("admin"), mps_apf_cstr(MPS_APF_SERVICE_PFWD),
	    mps_apf_cstr("secret")), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_service_request(&b,
	    mps_apf_cstr(MPS_APF_SERVICE_PFWD)), APR_SUCCESS);
	send_buf(&b);
	expect(MPS_APF_SERVICE_ACCEPT);
	expect(MPS_APF_USERAUTH_SUCCESS);
	expect(MPS_APF_SERVICE_ACCEPT);
	mps_buf_free(&b);
}

static void
send_open(void)
{
	mps_buf_t b;

	mps_buf_init(&b, 4096);
	/* Any CHANNEL_OPEN: the fake layer takes it. */
	ck_assert_int_eq(mps_apf_encode_channel_open(&b,
	    mps_apf_cstr(MPS_APF_CHAN_DIRECT_TCPIP), 5, 65536,
	    mps_apf_cstr("127.0.0.1"), 80, mps_apf_cstr("10.0.0.1"), 1234),
	    APR_SUCCESS);
	send_buf(&b);
	mps_buf_free(&b);
}

static void
wait_count(atomic_int *n, int want, int ms)
{
	while (atomic_load(n) < want && ms-- > 0)
		apr_sleep(apr_time_from_msec(1));
}

/* ---- the tests ----------------------------------------------------------- */

/* Without layer state, a message about a channel is a protocol error
 * (LMS's rule), and the layer is never asked. */
START_TEST(channel_message_without_channels_is_refused)
{
	mps_apf_msg_t m;
	mps_buf_t b;

	login();
	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_channel_data(&b, 0, "x", 1),
	    APR_SUCCESS);
	send_buf(&b);
	mps_buf_free(&b);
	ck_assert(recv_msg(&m, 5000));
	ck_assert_int_eq(m.type, MPS_APF_DISCONNECT);
	ck_assert_uint_eq(m.u.disconnect.reason,
	    MPS_APF_DISCONNECT_PROTOCOL_ERROR);
	ck_assert_int_eq(atomic_load(&msgs), 0);
	ck_assert_int_eq(atomic_load(&closings), 0);	/* no state: no op */
	mps_buf_free(&rx);
}
END_TEST

/* CHANNEL_OPEN goes to on_device_open; once the layer has state, channel
 * messages go to on_message; the tunnel's end calls closing once. */
START_TEST(channel_messages_reach_the_layer)
{
	mps_buf_t b;

	login();
	send_open();
	wait_count(&opens, 1, 5000);
	ck_assert_int_eq(atomic_load(&opens), 1);
	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_window_adjust(&b, 0, 10), APR_SUCCESS);
	ck_assert_int_eq(mps_apf_encode_disconnect(&b, 11), APR_SUCCESS);
	send_buf(&b);
	mps_buf_free(&b);
	wait_count(&closings, 1, 5000);
	ck_assert_int_eq(atomic_load(&msgs), 1);
	ck_assert_int_eq(atomic_load(&last_type), MPS_APF_CHANNEL_WINDOW_ADJUST);
	ck_assert_int_eq(atomic_load(&closings), 1);
	mps_buf_free(&rx);
}
END_TEST

/*
 * The wake-up path (issue 11's upload stall): the layer fills the output
 * past the high-water mark and waits for room, 40 rounds in a row, while
 * the device only reads (sends nothing). Every round must be woken by the
 * writes alone: before, a flush woke waiters for 4 rounds and then left
 * them to the channel sweep, a second later.
 */
START_TEST(output_drained_comes_round_after_round)
{
	mps_apf_msg_t m;
	apr_time_t t0;
	size_t got = 0;
	const int rounds = 40;

	login();
	atomic_store(&drain_rounds, rounds + 1);
	t0 = apr_time_now();
	send_open();			/* fills the first round */
	while (atomic_load(&drains) < rounds &&
	    apr_time_now() - t0 < apr_time_from_sec(20) && recv_msg(&m, 2000))
		if (m.type == MPS_APF_CHANNEL_DATA)
			got += m.u.channel_data.data.len;
	ck_assert_msg(atomic_load(&drains) >= rounds, "only %d of %d rounds "
	    "were woken (%zu bytes read)", atomic_load(&drains), rounds, got);
	/* Far below one sweep interval per round: no timer in the path. */
	ck_assert_msg(apr_time_now() - t0 < apr_time_from_sec(10),
	    "%d rounds took %ld ms", rounds,
	    (long)apr_time_as_msec(apr_time_now() - t0));
	mps_buf_free(&rx);
}
END_TEST

/* ---- freeing while the workers stop ---------------------------------- */

/*
 * The session's last reference goes while its free can still be queued,
 * and the workers stop before that task runs: the strand drops the task,
 * and the session must be freed all the same (its discard hook), not
 * lost. mpsd's stop met this when a notification let go of a device just
 * before SIGTERM: LeakSanitizer found the session and its strand leaked
 * in notifications.sh. Every I/O thread the lane may have (it grows to
 * twice io_threads when all are busy) is held, so that the free stays
 * queued until the workers are stopping.
 */
START_TEST(free_queued_when_the_workers_stop_still_frees)
{
	static const uint8_t uuid[MPS_APF_UUID_LEN] = { 1, 2, 3, 4 };
	char name[MPS_APF_UUID_TEXT_SIZE];
	mps_device_t *dev = NULL;
	mps_buf_t b;
	int i;

	setup();
	login();
	mps_apf_uuid_to_text(uuid, name);
	ck_assert_int_eq(mps_registry_lookup(registry, name, &dev),
	    APR_SUCCESS);
	/* The device leaves; our reference keeps the registry entry, and
	 * with it the session, alive. */
	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_apf_encode_disconnect(&b, 11), APR_SUCCESS);
	send_buf(&b);
	mps_buf_free(&b);
	for (i = 0; i < 5000 && atomic_load(&side.open) > 0; i++)
		apr_sleep(apr_time_from_msec(1));
	ck_assert_uint_eq(atomic_load(&side.open), 0);
	ck_assert_msg(atomic_load(&side.live) == 1, "closed: %u sessions "
	    "live, not the one our reference keeps", atomic_load(&side.live));
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);

	unit_hold_io_lane(workers);
	/* The last reference: the free is queued behind the blockers. */
	mps_device_release(dev);
	ck_assert_msg(atomic_load(&side.live) == 1, "released: %u sessions "
	    "live, not the one whose free is queued", atomic_load(&side.live));
	unit_stop_workers_while_held(workers);
	ck_assert_msg(atomic_load(&side.live) == 0, "the session whose free "
	    "the stopping workers dropped was never freed");

	close(dev_fd);
	dev_fd = -1;
	mps_buf_free(&rx);
	mps_amt_side_destroy(&side);
	mps_registry_destroy(registry);
	apr_pool_destroy(pool);
	mps_sockwrap_cleanup();
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("tunnel");
	TCase *tc = tcase_create("fake channel layer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, channel_message_without_channels_is_refused);
	tcase_add_test(tc, channel_messages_reach_the_layer);
	tcase_add_test(tc, output_drained_comes_round_after_round);
	suite_add_tcase(s, tc);
	/* Sets up by hand: it stops the poller and the workers itself. */
	tc = tcase_create("stopping");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, free_queued_when_the_workers_stop_still_frees);
	suite_add_tcase(s, tc);
	return s;
}
