/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_channel.c: the channel bookkeeping of an APF tunnel (channel.h):
 * ids, windows, every close ordering, idle sweep, and a randomized run
 * checked against a shadow model.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "mps_status.h"

/* A fake clock the tests move by hand. */
static apr_time_t fake_now;

static apr_time_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static mps_chan_table_t *
new_table(unsigned max, apr_uint32_t max_packet)
{
	mps_chan_table_t *t = NULL;

	fake_now = apr_time_from_sec(1000);
	ck_assert_int_eq(mps_chan_table_create(&t, max, max_packet,
	    fake_clock, NULL), APR_SUCCESS);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* Opens a channel and confirms it with the given device id and window. */
static mps_chan_t *
open_confirmed(mps_chan_table_t *t, void *owner, apr_uint32_t wmax,
    apr_uint32_t sender, apr_uint32_t rwin)
{
	mps_chan_t *c, *c2;
	int sc = -1;

	ck_assert_int_eq(mps_chan_open(t, owner, wmax, &c), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_open_confirmation(t, c->local_id, sender,
	    rwin, &c2, &sc), APR_SUCCESS);
	ck_assert_ptr_eq(c, c2);
	ck_assert_int_eq(sc, 0);
	return c;
}

START_TEST(t_create_args)
{
	mps_chan_table_t *t = (mps_chan_table_t *)1;

	ck_assert_int_eq(mps_chan_table_create(&t, 0, 0, NULL, NULL), APR_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(mps_chan_table_create(&t, MPS_CHAN_TABLE_MAX + 1, 0,
	    NULL, NULL), APR_EINVAL);
	ck_assert_int_eq(mps_chan_table_create(&t, 1,
	    MPS_CHAN_MAXPACKET_LIMIT + 1, NULL, NULL), APR_EINVAL);
	ck_assert_int_eq(mps_chan_table_create(&t, MPS_CHAN_TABLE_MAX, 0,
	    NULL, NULL), APR_SUCCESS);
	mps_chan_table_destroy(t);
	mps_chan_table_destroy(NULL);
}
END_TEST

START_TEST(t_alloc_cap_reuse)
{
	mps_chan_table_t *t = new_table(4, 0);
	mps_chan_t *c[4], *x, *y;
	apr_uint32_t i;

	ck_assert_int_eq(mps_chan_open(t, NULL, 0, &x), APR_EINVAL);
	ck_assert_int_eq(mps_chan_open(t, NULL, MPS_CHAN_WINDOW_LIMIT + 1, &x),
	    APR_EINVAL);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(mps_chan_open(t, &c[i], 1000, &c[i]),
		    APR_SUCCESS);
		ck_assert_uint_eq(c[i]->local_id, i);
		ck_assert_int_eq(c[i]->state, MPS_CHAN_OPENING);
		ck_assert_uint_eq(c[i]->local_window, 1000);
		ck_assert_uint_eq(c[i]->remote_maxpacket,
		    MPS_CHAN_DEFAULT_MAXPACKET);
		ck_assert_int_eq(c[i]->have_remote_id, 0);
	}
	ck_assert_uint_eq(mps_chan_table_count(t), 4);
	ck_assert_int_eq(mps_chan_open(t, NULL, 1000, &x), APR_ENOSPC);
	ck_assert_ptr_null(x);

	/* Free 2 then 1 (failed opens, consoles gone): reuse is 1 then 2. */
	ck_assert_int_eq(mps_chan_on_open_failure(t, 2, 2, &x), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_open_failure(t, 1, 4, &x), APR_SUCCESS);
	ck_assert_uint_eq(mps_chan_collect(t, NULL, NULL), 0);
	mps_chan_console_gone(c[2]);
	mps_chan_console_gone(c[1]);
	ck_assert_uint_eq(mps_chan_collect(t, NULL, NULL), 2);
	ck_assert_uint_eq(mps_chan_table_count(t), 2);
	ck_assert_int_eq(mps_chan_open(t, NULL, 10, &x), APR_SUCCESS);
	ck_assert_uint_eq(x->local_id, 1);
	ck_assert_int_eq(mps_chan_open(t, NULL, 10, &y), APR_SUCCESS);
	ck_assert_uint_eq(y->local_id, 2);
	ck_assert_int_eq(mps_chan_open(t, NULL, 10, &x), APR_ENOSPC);
	mps_chan_table_destroy(t);
}
END_TEST

/* Every way the device can name a channel it may not name. */
START_TEST(t_unknown_ids)
{
	static const apr_uint32_t bad[] = { 2, 3, 4, 5, 1000, 0x7FFFFFFFu,
	    0xFFFFFFFFu };
	mps_chan_table_t *t = new_table(6, 0);
	mps_chan_t *c0, *c1, *x;
	unsigned i;
	int sc;

	c0 = open_confirmed(t, NULL, 100, 7, 100);
	c1 = open_confirmed(t, NULL, 100, 8, 100);
	/* Make 3 finished-but-not-collected and 2 freed. */
	ck_assert_int_eq(mps_chan_open(t, NULL, 100, &x), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_open(t, NULL, 100, &x), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_open_failure(t, 2, 1, &x), APR_SUCCESS);
	mps_chan_console_gone(x);
	ck_assert_int_eq(mps_chan_on_open_failure(t, 3, 1, &x), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_collect(t, NULL, NULL), 1);
	(void)c1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		x = c0;
		ck_assert_int_eq(mps_chan_lookup(t, bad[i], &x),
		    MPS_ERR_UNKNOWN_CHANNEL);
		ck_assert_ptr_null(x);
		ck_assert_int_eq(mps_chan_on_close(t, bad[i], &x, &sc),
		    MPS_ERR_UNKNOWN_CHANNEL);
		ck_assert_int_eq(sc, 0);
		ck_assert_int_eq(mps_chan_on_open_confirmation(t, bad[i], 1, 1,
		    &x, &sc), MPS_ERR_UNKNOWN_CHANNEL);
		ck_assert_int_eq(mps_chan_on_open_failure(t, bad[i], 1, &x),
		    MPS_ERR_UNKNOWN_CHANNEL);
	}
	ck_assert_int_eq(mps_chan_lookup(t, 0, &x), APR_SUCCESS);
	ck_assert_ptr_eq(x, c0);
	ck_assert_int_eq(mps_chan_lookup(t, 1, &x), APR_SUCCESS);
	mps_chan_table_destroy(t);
}
END_TEST

START_TEST(t_open_data_both_ways)
{
	mps_chan_table_t *t = new_table(4, 256);
	mps_chan_t *c, *x;
	apr_uint32_t adj;
	int sc, resume;

	ck_assert_int_eq(mps_chan_open(t, &sc, 1000, &c), APR_SUCCESS);
	ck_assert_ptr_eq(c->owner, &sc);
	/* Nothing flows before the confirmation. */
	ck_assert_uint_eq(mps_chan_send_budget(c), 0);
	ck_assert_int_eq(mps_chan_on_data(c, 1), MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 1, &resume),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_on_close(t, 0, &x, &sc), MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_close_sent(c), APR_EINVAL);

	ck_assert_int_eq(mps_chan_on_open_confirmation(t, 0, 16, 300, &x, &sc),
	    APR_SUCCESS);
	ck_assert_int_eq(c->state, MPS_CHAN_OPEN);
	ck_assert_uint_eq(c->remote_id, 16);
	ck_assert_int_eq(c->have_remote_id, 1);
	ck_assert_uint_eq(c->remote_window, 300);
	/* A second confirmation or a failure after it is a protocol error. */
	ck_assert_int_eq(mps_chan_on_open_confirmation(t, 0, 17, 5, &x, &sc),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_on_open_failure(t, 0, 2, &x),
	    MPS_ERR_PROTOCOL);
	ck_assert_uint_eq(c->remote_id, 16);
	ck_assert_uint_eq(c->remote_window, 300);

	/* Device -> console. */
	ck_assert_int_eq(mps_chan_on_data(c, 700), APR_SUCCESS);
	ck_assert_uint_eq(c->local_window, 300);
	ck_assert_int_eq(mps_chan_console_accepted(c, 100, &adj), APR_SUCCESS);
	ck_assert_uint_eq(adj, 0);
	ck_assert_uint_eq(c->local_consumed, 100);
	ck_assert_int_eq(mps_chan_console_accepted(c, 399, &adj), APR_SUCCESS);
	ck_assert_uint_eq(adj, 0);
	ck_assert_int_eq(mps_chan_console_accepted(c, 1, &adj), APR_SUCCESS);
	ck_assert_uint_eq(adj, 500);
	ck_assert_uint_eq(c->local_window, 800);
	ck_assert_uint_eq(c->local_consumed, 0);
	ck_assert_int_eq(mps_chan_console_accepted(c, 201, &adj), APR_EINVAL);
	ck_assert_uint_eq(c->local_consumed, 0);
	ck_assert_int_eq(mps_chan_console_accepted(c, 200, &adj), APR_SUCCESS);
	ck_assert_uint_eq(adj, 0);
	ck_assert_int_eq(mps_chan_console_accepted(c, 1, &adj), APR_EINVAL);

	/* Console -> device: capped by max_packet 256, then by window. */
	ck_assert_uint_eq(mps_chan_send_budget(c), 256);
	ck_assert_int_eq(mps_chan_on_sent(c, 257), APR_EINVAL);
	ck_assert_int_eq(mps_chan_on_sent(c, 256), APR_SUCCESS);
	ck_assert_uint_eq(c->remote_window, 44);
	ck_assert_uint_eq(mps_chan_send_budget(c), 44);
	ck_assert_int_eq(mps_chan_on_sent(c, 44), APR_SUCCESS);
	ck_assert_uint_eq(mps_chan_send_budget(c), 0);
	ck_assert_int_eq(mps_chan_on_sent(c, 1), APR_EINVAL);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 0, &resume), APR_SUCCESS);
	ck_assert_int_eq(resume, 0);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 10, &resume),
	    APR_SUCCESS);
	ck_assert_int_eq(resume, 1);
	ck_assert_uint_eq(mps_chan_send_budget(c), 10);
	mps_chan_table_destroy(t);
}
END_TEST

START_TEST(t_window_exceeded)
{
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c = open_confirmed(t, NULL, 499, 1, 499);
	mps_chan_t before;

	before = *c;
	ck_assert_int_eq(mps_chan_on_data(c, 500), MPS_ERR_WINDOW_EXCEEDED);
	ck_assert_int_eq(memcmp(&before, c, sizeof(before)), 0);
	ck_assert_int_eq(mps_chan_on_data(c, (apr_size_t)1 << 40),
	    MPS_ERR_WINDOW_EXCEEDED);
	ck_assert_int_eq(mps_chan_on_data(c, 499), APR_SUCCESS);
	ck_assert_uint_eq(c->local_window, 0);
	ck_assert_int_eq(mps_chan_on_data(c, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_data(c, 1), MPS_ERR_WINDOW_EXCEEDED);
	ck_assert_uint_eq(c->local_window, 0);
	mps_chan_table_destroy(t);
}
END_TEST

/* ChannelWindowOverrun: data beyond the window is kept up to the bound,
 * counted as held, paid back by the next WINDOW_ADJUSTs before any new
 * window; past the bound refused with nothing changed; once the console
 * is gone, dropped without limit. */
START_TEST(t_window_overrun)
{
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c = open_confirmed(t, NULL, 1000, 1, 1000);
	mps_chan_t before;
	apr_uint32_t adjust = 0;

	ck_assert_int_eq(mps_chan_table_set_overrun(t,
	    MPS_CHAN_OVERRUN_LIMIT + 1), APR_EINVAL);
	ck_assert_int_eq(mps_chan_table_set_overrun(t, 300), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_data(c, 800), APR_SUCCESS);
	ck_assert_uint_eq(mps_chan_held(c), 0);
	ck_assert(!c->overran);
	/* 200 within the window, 100 beyond it. */
	ck_assert_int_eq(mps_chan_on_data(c, 300), APR_SUCCESS);
	ck_assert(c->overran);
	ck_assert_uint_eq(c->local_window, 0);
	ck_assert_uint_eq(c->local_overrun, 100);
	ck_assert_uint_eq(mps_chan_held(c), 100);
	/* 201 more would hold 301 > 300: refused, nothing changes. */
	before = *c;
	ck_assert_int_eq(mps_chan_on_data(c, 201), MPS_ERR_WINDOW_EXCEEDED);
	ck_assert_int_eq(memcmp(&before, c, sizeof(before)), 0);
	ck_assert_int_eq(mps_chan_on_data(c, 200), APR_SUCCESS);
	ck_assert_uint_eq(mps_chan_held(c), 300);
	/* The console takes 400: nothing held beyond the window; 400 is
	 * not yet half the window, so no adjust. */
	ck_assert_int_eq(mps_chan_console_accepted(c, 400, &adjust),
	    APR_SUCCESS);
	ck_assert_uint_eq(adjust, 0);
	ck_assert_uint_eq(mps_chan_held(c), 0);
	/* 500 more: the adjust announces 500, and the 300 of debt is paid
	 * from it before any window comes back. */
	ck_assert_int_eq(mps_chan_console_accepted(c, 100, &adjust),
	    APR_SUCCESS);
	ck_assert_uint_eq(adjust, 500);
	ck_assert_uint_eq(c->local_overrun, 0);
	ck_assert_uint_eq(c->local_window, 200);
	/* Everything received is accepted: the window is whole again
	 * once adjusted, and no more may be accepted than was received. */
	ck_assert_int_eq(mps_chan_console_accepted(c, 800, &adjust),
	    APR_SUCCESS);
	ck_assert_uint_eq(adjust, 800);
	ck_assert_uint_eq(c->local_window, 1000);
	ck_assert_int_eq(mps_chan_console_accepted(c, 1, &adjust), APR_EINVAL);
	/* The console goes: nothing is held, data is dropped unbounded. */
	ck_assert_int_eq(mps_chan_on_data(c, 1000), APR_SUCCESS);
	(void)mps_chan_console_gone(c);
	ck_assert_int_eq(mps_chan_on_data(c, 1 << 20), APR_SUCCESS);
	ck_assert_uint_eq(mps_chan_held(c), 0);
	/* Strict again (0): any byte beyond the window is refused. */
	ck_assert_int_eq(mps_chan_table_set_overrun(t, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_data(c, 1), MPS_ERR_WINDOW_EXCEEDED);
	mps_chan_table_destroy(t);
}
END_TEST

START_TEST(t_adjust_overflow)
{
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c = open_confirmed(t, NULL, 100, 1, 0xFFFFFFF0u);
	int resume;

	ck_assert_int_eq(mps_chan_on_window_adjust(c, 0x11, &resume),
	    MPS_ERR_PROTOCOL);
	ck_assert_uint_eq(c->remote_window, 0xFFFFFFF0u);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 0xFFFFFFFFu, &resume),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 0xF, &resume),
	    APR_SUCCESS);
	ck_assert_uint_eq(c->remote_window, 0xFFFFFFFFu);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 1, &resume),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 0, &resume), APR_SUCCESS);
	ck_assert_uint_eq(c->remote_window, 0xFFFFFFFFu);
	ck_assert_uint_eq(mps_chan_send_budget(c), MPS_CHAN_DEFAULT_MAXPACKET);
	mps_chan_table_destroy(t);
}
END_TEST

START_TEST(t_budget_zero_resumes)
{
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c = open_confirmed(t, NULL, 100, 1, 0);
	int resume = 1;

	ck_assert_uint_eq(mps_chan_send_budget(c), 0);
	ck_assert_int_eq(mps_chan_on_sent(c, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 499, &resume),
	    APR_SUCCESS);
	ck_assert_int_eq(resume, 1);
	ck_assert_uint_eq(mps_chan_send_budget(c), 499);
	ck_assert_int_eq(mps_chan_on_sent(c, 499), APR_SUCCESS);
	ck_assert_uint_eq(mps_chan_send_budget(c), 0);
	/* After our CLOSE the budget stays 0 whatever the device adjusts. */
	ck_assert_int_eq(mps_chan_close_sent(c), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 100, &resume),
	    APR_SUCCESS);
	ck_assert_int_eq(resume, 0);
	ck_assert_uint_eq(mps_chan_send_budget(c), 0);
	mps_chan_table_destroy(t);
}
END_TEST

/*
 * Real AMT: 499-byte windows and a stream of 499-byte adjusts. Device ->
 * console with our window 499 and a console taking `step` bytes a write;
 * every WINDOW_ADJUST is checked against the half-window rule. Then
 * console -> device against a device that grants 499 per 499 received.
 */
static const apr_size_t amt_steps[] = { 1, 7, 100, 249, 250, 251, 498, 499 };

START_TEST(t_amt_499_stream)
{
	const apr_size_t step = amt_steps[_i];
	const apr_size_t total = 100000;
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c = open_confirmed(t, NULL, 499, 1, 499);
	apr_size_t dev_window = 499, sent = 0, buffered = 0, written = 0;
	apr_size_t since_adjust = 0, n, rounds = 0, dev_got = 0;
	apr_uint32_t adj, b;
	int resume;

	while (written < total) {
		ck_assert_uint_lt(++rounds, 10 * total);
		/* The device sends what its view of our window allows. */
		n = total - sent < dev_window ? total - sent : dev_window;
		if (n > 0) {
			ck_assert_int_eq(mps_chan_on_data(c, n), APR_SUCCESS);
			dev_window -= n;
			sent += n;
			buffered += n;
		}
		ck_assert_uint_le(buffered, 499);
		ck_assert_uint_eq(c->local_window, dev_window);
		n = buffered < step ? buffered : step;
		ck_assert_int_eq(mps_chan_console_accepted(c, n, &adj),
		    APR_SUCCESS);
		buffered -= n;
		written += n;
		since_adjust += n;
		if (since_adjust >= 250) {
			ck_assert_uint_eq(adj, since_adjust);
			since_adjust = 0;
		} else
			ck_assert_uint_eq(adj, 0);
		dev_window += adj;
		ck_assert_uint_eq(c->local_consumed, since_adjust);
	}
	ck_assert_uint_eq(written, total);

	/* Console -> device: the device adjusts 499 per 499 it received. */
	sent = 0;
	while (sent < total) {
		b = mps_chan_send_budget(c);
		ck_assert_uint_eq(b, c->remote_window);
		ck_assert_uint_le(b, 499);
		n = total - sent < b ? total - sent : b;
		if (n > step)
			n = step;	/* what the console had to read */
		ck_assert_int_eq(mps_chan_on_sent(c, n), APR_SUCCESS);
		sent += n;
		dev_got += n;
		if (dev_got >= 499) {
			dev_got -= 499;
			ck_assert_int_eq(mps_chan_on_window_adjust(c, 499,
			    &resume), APR_SUCCESS);
			ck_assert_int_eq(resume, 1);
		}
	}
	mps_chan_table_destroy(t);
}
END_TEST

/*
 * Close orderings. Each row is a script of events; the driver sends
 * CHANNEL_CLOSE whenever an event says it is due, and the test checks
 * every answer and that CLOSE went out exactly the expected number of
 * times.
 */
enum ev {
	EV_END, EV_CONFIRM, EV_FAIL, EV_EOF0, EV_EOF_PENDING, EV_DRAINED,
	EV_GONE, EV_DEV_CLOSE, EV_DEV_DATA, EV_OWN_CLOSE
};

struct close_row {
	const char *name;
	enum ev ev[8];
	int due[8];		/* what each event must say about CLOSE */
	int closes;		/* CLOSEs sent in all */
};

static const struct close_row close_rows[] = {
	{ "console EOF first",
	  { EV_CONFIRM, EV_EOF0, EV_DEV_DATA, EV_DEV_CLOSE, EV_GONE },
	  { 0, 1, 0, 0, 0 }, 1 },
	{ "console EOF with data still to send",
	  { EV_CONFIRM, EV_EOF_PENDING, EV_DEV_DATA, EV_DRAINED, EV_DEV_CLOSE,
	    EV_GONE },
	  { 0, 0, 0, 1, 0, 0 }, 1 },
	{ "device CLOSE first",
	  { EV_CONFIRM, EV_DEV_CLOSE, EV_EOF0, EV_DRAINED, EV_GONE },
	  { 0, 1, 0, 0, 0 }, 1 },
	{ "device CLOSE while draining console data",
	  { EV_CONFIRM, EV_EOF_PENDING, EV_DEV_CLOSE, EV_DRAINED, EV_GONE },
	  { 0, 0, 1, 0, 0 }, 1 },
	{ "both CLOSEs cross",
	  { EV_CONFIRM, EV_OWN_CLOSE, EV_DEV_DATA, EV_DEV_CLOSE, EV_EOF0,
	    EV_GONE },
	  { 0, 0, 0, 0, 0, 0 }, 1 },
	{ "console gone with data pending",
	  { EV_CONFIRM, EV_DEV_DATA, EV_GONE, EV_DEV_DATA, EV_DEV_CLOSE },
	  { 0, 0, 1, 0, 0 }, 1 },
	{ "console gone before the confirmation",
	  { EV_GONE, EV_CONFIRM, EV_DEV_CLOSE },
	  { 0, 1, 0 }, 1 },
	{ "console EOF before the confirmation",
	  { EV_EOF0, EV_CONFIRM, EV_DEV_CLOSE, EV_GONE },
	  { 0, 1, 0, 0 }, 1 },
	{ "console gone, then the open fails",
	  { EV_GONE, EV_FAIL },
	  { 0, 0 }, 0 },
	{ "open fails, then the console is closed",
	  { EV_FAIL, EV_EOF0, EV_GONE },
	  { 0, 0, 0 }, 0 },
};

START_TEST(t_close_orderings)
{
	const struct close_row *row = &close_rows[_i];
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c, *x;
	int due, closes = 0, k, owner;
	apr_uint32_t id;

	ck_assert_int_eq(mps_chan_open(t, &owner, 1000, &c), APR_SUCCESS);
	id = c->local_id;
	for (k = 0; row->ev[k] != EV_END; k++) {
		due = 0;
		switch (row->ev[k]) {
		case EV_CONFIRM:
			ck_assert_int_eq(mps_chan_on_open_confirmation(t, id,
			    9, 1000, &x, &due), APR_SUCCESS);
			break;
		case EV_FAIL:
			ck_assert_int_eq(mps_chan_on_open_failure(t, id,
			    MPS_CHAN_OPEN_CONNECT_FAILED, &x), APR_SUCCESS);
			break;
		case EV_EOF0:
			due = mps_chan_console_eof(c, 0);
			break;
		case EV_EOF_PENDING:
			due = mps_chan_console_eof(c, 5);
			ck_assert_int_eq(c->istate, MPS_CHAN_IN_DRAIN);
			ck_assert_uint_gt(mps_chan_send_budget(c), 0);
			break;
		case EV_DRAINED:
			due = mps_chan_input_drained(c);
			break;
		case EV_GONE:
			due = mps_chan_console_gone(c);
			ck_assert_ptr_null(c->owner);
			break;
		case EV_DEV_CLOSE:
			ck_assert_int_eq(mps_chan_on_close(t, id, &x, &due),
			    APR_SUCCESS);
			ck_assert_int_ne(c->ostate, MPS_CHAN_OUT_OPEN);
			ck_assert_uint_eq(mps_chan_send_budget(c), 0);
			break;
		case EV_DEV_DATA:
			ck_assert_int_eq(mps_chan_on_data(c, 10), APR_SUCCESS);
			break;
		case EV_OWN_CLOSE:
			/* The caller closes on its own (idle, shutdown). */
			ck_assert_int_eq(mps_chan_close_sent(c), APR_SUCCESS);
			closes++;
			break;
		case EV_END:
			break;
		}
		ck_assert_msg(due == row->due[k], "%s: event %d said %d",
		    row->name, k, due);
		ck_assert_int_eq(due, mps_chan_close_due(c));
		if (due) {
			ck_assert_int_eq(mps_chan_close_sent(c), APR_SUCCESS);
			closes++;
			ck_assert_int_eq(mps_chan_close_due(c), 0);
		}
		/* Never a second CLOSE. */
		if (closes > 0)
			ck_assert_int_eq(mps_chan_close_sent(c), APR_EINVAL);
		/* Not freed while the console is attached. */
		if (c->owner != NULL)
			ck_assert_uint_eq(mps_chan_collect(t, NULL, NULL), 0);
	}
	ck_assert_msg(closes == row->closes, "%s: %d CLOSEs", row->name,
	    closes);
	ck_assert(mps_chan_is_finished(c));
	/* The device may not name it any more: a late or second CLOSE. */
	ck_assert_int_eq(mps_chan_on_close(t, id, &x, &due),
	    MPS_ERR_UNKNOWN_CHANNEL);
	ck_assert_int_eq(due, 0);
	ck_assert_uint_eq(mps_chan_collect(t, NULL, NULL), 1);
	ck_assert_uint_eq(mps_chan_table_count(t), 0);
	ck_assert_int_eq(mps_chan_on_close(t, id, &x, &due),
	    MPS_ERR_UNKNOWN_CHANNEL);
	mps_chan_table_destroy(t);
}
END_TEST

/* A second device CLOSE before we answered the first. */
START_TEST(t_double_device_close)
{
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c = open_confirmed(t, NULL, 100, 1, 100), *x;
	int sc, resume;

	ck_assert_int_eq(mps_chan_on_close(t, 0, &x, &sc), APR_SUCCESS);
	ck_assert_int_eq(sc, 1);
	ck_assert_int_eq(mps_chan_on_close(t, 0, &x, &sc), MPS_ERR_PROTOCOL);
	ck_assert_int_eq(sc, 0);
	/* Nothing but our answer may follow the device's CLOSE. */
	ck_assert_int_eq(mps_chan_on_data(c, 1), MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 1, &resume),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_close_due(c), 1);
	mps_chan_table_destroy(t);
}
END_TEST

struct gone_ctx {
	unsigned seen, closes;
	int owners[5];
};

static void
close_console(void *arg, mps_chan_t *c)
{
	struct gone_ctx *g = arg;

	g->seen++;
	if (c->owner != NULL)
		*(int *)c->owner = 1;
	if (mps_chan_console_gone(c)) {
		ck_assert_int_eq(mps_chan_close_sent(c), APR_SUCCESS);
		g->closes++;
	}
}

/* The device tunnel is gone: every console is closed through foreach. */
START_TEST(t_tunnel_gone)
{
	mps_chan_table_t *t = new_table(8, 0);
	struct gone_ctx g;
	mps_chan_t *c, *x;
	int sc;

	memset(&g, 0, sizeof(g));
	ck_assert_int_eq(mps_chan_open(t, &g.owners[0], 100, &c), APR_SUCCESS);
	c = open_confirmed(t, &g.owners[1], 100, 1, 100);
	c = open_confirmed(t, &g.owners[2], 100, 2, 100);
	ck_assert_int_eq(mps_chan_on_data(c, 50), APR_SUCCESS);
	c = open_confirmed(t, &g.owners[3], 100, 3, 100);
	ck_assert_int_eq(mps_chan_close_sent(c), APR_SUCCESS);
	c = open_confirmed(t, &g.owners[4], 100, 4, 100);
	ck_assert_int_eq(mps_chan_on_close(t, 4, &x, &sc), APR_SUCCESS);
	mps_chan_table_foreach(t, close_console, &g);
	ck_assert_uint_eq(g.seen, 5);
	/* 1, 2 and 4 (whose device CLOSE was not answered yet) need one;
	 * 0 never opened and 3 already sent it. */
	ck_assert_uint_eq(g.closes, 3);
	for (sc = 0; sc < 5; sc++)
		ck_assert_int_eq(g.owners[sc], 1);
	mps_chan_table_destroy(t);
}
END_TEST

static const apr_uint32_t fail_reasons[] = { 1, 2, 3, 4, 0, 99 };
static const char *const fail_names[] = { "administratively prohibited",
    "connect failed", "unknown channel type", "resource shortage",
    "unknown reason", "unknown reason" };

START_TEST(t_open_failure_reasons)
{
	mps_chan_table_t *t = new_table(2, 0);
	mps_chan_t *c, *x;
	int resume;

	ck_assert_str_eq(mps_chan_open_failure_name(fail_reasons[_i]),
	    fail_names[_i]);
	ck_assert_int_eq(mps_chan_open(t, NULL, 100, &c), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_open_failure(t, 0, fail_reasons[_i], &x),
	    APR_SUCCESS);
	ck_assert_ptr_eq(x, c);
	ck_assert_int_eq(c->state, MPS_CHAN_FAILED);
	ck_assert_uint_eq(c->open_failure, fail_reasons[_i]);
	ck_assert(mps_chan_is_finished(c));
	ck_assert_int_eq(mps_chan_close_due(c), 0);
	ck_assert_int_eq(mps_chan_close_sent(c), APR_EINVAL);
	ck_assert_uint_eq(mps_chan_send_budget(c), 0);
	ck_assert_int_eq(mps_chan_on_window_adjust(c, 1, &resume),
	    MPS_ERR_PROTOCOL);
	ck_assert_int_eq(mps_chan_lookup(t, 0, &x), MPS_ERR_UNKNOWN_CHANNEL);
	ck_assert_int_eq(mps_chan_on_open_failure(t, 0, 1, &x),
	    MPS_ERR_UNKNOWN_CHANNEL);
	ck_assert_uint_eq(mps_chan_collect(t, NULL, NULL), 0);
	ck_assert_int_eq(mps_chan_console_gone(c), 0);
	ck_assert_uint_eq(mps_chan_collect(t, NULL, NULL), 1);
	mps_chan_table_destroy(t);
}
END_TEST

struct idle_ctx {
	unsigned n;
	apr_uint32_t ids[8];
};

static void
note_idle(void *arg, mps_chan_t *c)
{
	struct idle_ctx *ic = arg;

	ic->ids[ic->n++] = c->local_id;
}

START_TEST(t_idle_sweep)
{
	mps_chan_table_t *t = new_table(8, 0);
	apr_time_t t0 = apr_time_from_sec(1000);
	struct idle_ctx ic;
	mps_chan_t *c[5], *x;
	int i, sc;

	for (i = 0; i < 4; i++)
		c[i] = open_confirmed(t, NULL, 100, 1, 100);
	ck_assert_int_eq(mps_chan_open(t, NULL, 100, &c[4]), APR_SUCCESS);
	/* 1 receives, 2 sends at +50 s; 3 is finished. */
	fake_now = t0 + apr_time_from_sec(50);
	ck_assert_int_eq(mps_chan_on_data(c[1], 1), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_sent(c[2], 1), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_close_sent(c[3]), APR_SUCCESS);
	ck_assert_int_eq(mps_chan_on_close(t, 3, &x, &sc), APR_SUCCESS);
	/* Empty data is not activity. */
	ck_assert_int_eq(mps_chan_on_data(c[0], 0), APR_SUCCESS);
	ck_assert_int_eq(c[0]->last_activity, t0);

	memset(&ic, 0, sizeof(ic));
	ck_assert_uint_eq(mps_chan_table_idle(t, t0 + apr_time_from_sec(100),
	    apr_time_from_sec(60), note_idle, &ic), 2);
	ck_assert_uint_eq(ic.ids[0], 0);
	ck_assert_uint_eq(ic.ids[1], 4);	/* OPENING, never answered */
	/* Exactly at the timeout is not over it. */
	memset(&ic, 0, sizeof(ic));
	ck_assert_uint_eq(mps_chan_table_idle(t, t0 + apr_time_from_sec(60),
	    apr_time_from_sec(60), note_idle, &ic), 0);
	ck_assert_uint_eq(mps_chan_table_idle(t, t0 + apr_time_from_sec(111),
	    apr_time_from_sec(60), note_idle, &ic), 4);
	/* Disabled, and a clock that went back. */
	ck_assert_uint_eq(mps_chan_table_idle(t, t0 + apr_time_from_sec(999),
	    0, note_idle, &ic), 0);
	ck_assert_uint_eq(mps_chan_table_idle(t, 0, 1, note_idle, &ic), 0);
	mps_chan_table_destroy(t);
}
END_TEST

/*
 * Randomized model test: thousands of random events, legal and illegal,
 * on a small table; after every step the table must match a shadow
 * model written from the rules in channel.h, and an event that fails
 * must have changed nothing.
 */
#define RM_CAP	5

struct rm_chan {
	int alloc;
	int state, istate, ostate;
	int close_sent, close_rcvd;
	apr_uint32_t lw, lmax, lcons, rw, rid, fail;
	void *owner;
};

static struct rm_chan rm[RM_CAP];
static mps_chan_t *rm_ptr[RM_CAP];	/* what the console side holds */
static int rm_owner[RM_CAP];
static apr_uint32_t rm_seed;

static apr_uint32_t
rnd(apr_uint32_t n)
{
	rm_seed = rm_seed * 1103515245u + 12345u;
	return ((rm_seed >> 8) & 0xFFFFFFu) % n;
}

static int
rm_finished(const struct rm_chan *m)
{
	return m->state == MPS_CHAN_FAILED || (m->close_sent && m->close_rcvd);
}

static int
rm_due(const struct rm_chan *m)
{
	return m->state == MPS_CHAN_OPEN && !m->close_sent &&
	    m->istate == MPS_CHAN_IN_CLOSED;
}

static int
rm_addressable(apr_uint32_t id)
{
	return id < RM_CAP && rm[id].alloc && !rm_finished(&rm[id]);
}

static apr_uint32_t
rm_budget(const struct rm_chan *m)
{
	if (m->state != MPS_CHAN_OPEN || m->close_sent || m->close_rcvd ||
	    m->istate == MPS_CHAN_IN_CLOSED)
		return 0;
	return m->rw < 64 ? m->rw : 64;
}

static void
rm_check(mps_chan_table_t *t)
{
	unsigned i, n = 0;
	mps_chan_t *c;

	for (i = 0; i < RM_CAP; i++) {
		if (!rm[i].alloc) {
			ck_assert_ptr_null(rm_ptr[i]);
			continue;
		}
		n++;
		c = rm_ptr[i];
		ck_assert_ptr_nonnull(c);
		ck_assert_uint_eq(c->local_id, i);
		ck_assert_int_eq(c->state, rm[i].state);
		ck_assert_int_eq(c->istate, rm[i].istate);
		ck_assert_int_eq(c->ostate, rm[i].ostate);
		ck_assert_int_eq(c->close_sent, rm[i].close_sent);
		ck_assert_int_eq(c->close_rcvd, rm[i].close_rcvd);
		ck_assert_uint_eq(c->local_window, rm[i].lw);
		ck_assert_uint_eq(c->local_window_max, rm[i].lmax);
		ck_assert_uint_eq(c->local_consumed, rm[i].lcons);
		ck_assert_uint_eq(c->remote_window, rm[i].rw);
		ck_assert_ptr_eq(c->owner, rm[i].owner);
		if (c->state == MPS_CHAN_FAILED)
			ck_assert_uint_eq(c->open_failure, rm[i].fail);
		if (c->state == MPS_CHAN_OPEN) {
			ck_assert_int_eq(c->have_remote_id, 1);
			ck_assert_uint_eq(c->remote_id, rm[i].rid);
		}
		ck_assert_int_eq(mps_chan_close_due(c), rm_due(&rm[i]));
		ck_assert_uint_eq(mps_chan_send_budget(c), rm_budget(&rm[i]));
	}
	ck_assert_uint_eq(mps_chan_table_count(t), n);
}

/* Snapshot of every channel, to prove a failed event changed nothing. */
static void
rm_snapshot(mps_chan_t snap[RM_CAP])
{
	unsigned i;

	memset(snap, 0, RM_CAP * sizeof(*snap));
	for (i = 0; i < RM_CAP; i++)
		if (rm_ptr[i] != NULL)
			memcpy(&snap[i], rm_ptr[i], sizeof(snap[i]));
}

/* An id the device might send: usually valid, sometimes not. */
static apr_uint32_t
rm_id(void)
{
	switch (rnd(8)) {
	case 0:
		return RM_CAP + rnd(3);
	case 1:
		return 0xFFFFFFFFu - rnd(2);
	default:
		return rnd(RM_CAP);
	}
}

static void
rm_on_collect(void *arg, mps_chan_t *c)
{
	unsigned *n = arg;

	ck_assert(rm_finished(&rm[c->local_id]));
	ck_assert_int_eq(rm[c->local_id].ostate, MPS_CHAN_OUT_CLOSED);
	rm[c->local_id].alloc = 0;
	rm_ptr[c->local_id] = NULL;
	(*n)++;
}

/* One random event; returns its status. */
static apr_status_t
rm_step(mps_chan_table_t *t)
{
	apr_uint32_t id = rm_id(), v, adj;
	struct rm_chan *m = id < RM_CAP ? &rm[id] : NULL;
	mps_chan_t *c, *x;
	apr_status_t rv, want;
	int flag, i;
	unsigned n;

	switch (rnd(13)) {
	case 0: /* console connects */
		v = rnd(10) == 0 ? 0 : 1 + rnd(300);
		rv = mps_chan_open(t, &rm_owner[0], v, &c);
		for (i = 0; i < RM_CAP && rm[i].alloc; i++)
			;
		if (v == 0) {
			ck_assert_int_eq(rv, APR_EINVAL);
			return rv;
		}
		if (i == RM_CAP) {
			ck_assert_int_eq(rv, APR_ENOSPC);
			return rv;
		}
		ck_assert_int_eq(rv, APR_SUCCESS);
		ck_assert_uint_eq(c->local_id, (apr_uint32_t)i);
		memset(&rm[i], 0, sizeof(rm[i]));
		rm[i].alloc = 1;
		rm[i].state = MPS_CHAN_OPENING;
		rm[i].istate = MPS_CHAN_IN_OPEN;
		rm[i].ostate = MPS_CHAN_OUT_OPEN;
		rm[i].lw = rm[i].lmax = v;
		rm[i].owner = &rm_owner[0];
		rm_ptr[i] = c;
		return rv;
	case 1: /* CHANNEL_OPEN_CONFIRMATION */
		v = rnd(4) == 0 ? 0xFFFFFF00u + rnd(256) : rnd(200);
		rv = mps_chan_on_open_confirmation(t, id, 100 + id, v, &x, &flag);
		want = !rm_addressable(id) ? MPS_ERR_UNKNOWN_CHANNEL :
		    m->state != MPS_CHAN_OPENING ? MPS_ERR_PROTOCOL : APR_SUCCESS;
		ck_assert_int_eq(rv, want);
		if (rv == APR_SUCCESS) {
			m->state = MPS_CHAN_OPEN;
			m->rid = 100 + id;
			m->rw = v;
			ck_assert_int_eq(flag, rm_due(m));
		} else
			ck_assert_int_eq(flag, 0);
		return rv;
	case 2: /* CHANNEL_OPEN_FAILURE */
		v = rnd(6);
		rv = mps_chan_on_open_failure(t, id, v, &x);
		want = !rm_addressable(id) ? MPS_ERR_UNKNOWN_CHANNEL :
		    m->state != MPS_CHAN_OPENING ? MPS_ERR_PROTOCOL : APR_SUCCESS;
		ck_assert_int_eq(rv, want);
		if (rv == APR_SUCCESS) {
			m->state = MPS_CHAN_FAILED;
			m->fail = v;
			m->istate = MPS_CHAN_IN_CLOSED;
		}
		return rv;
	case 3: /* CHANNEL_DATA: lookup, then the window */
		if ((rv = mps_chan_lookup(t, id, &c)) != APR_SUCCESS) {
			ck_assert(!rm_addressable(id));
			ck_assert_int_eq(rv, MPS_ERR_UNKNOWN_CHANNEL);
			return rv;
		}
		ck_assert(rm_addressable(id));
		v = rnd(3) == 0 ? rnd(400) : rnd(m->lw + 1);
		rv = mps_chan_on_data(c, v);
		want = m->state != MPS_CHAN_OPEN || m->close_rcvd ?
		    MPS_ERR_PROTOCOL : v > m->lw ? MPS_ERR_WINDOW_EXCEEDED :
		    APR_SUCCESS;
		ck_assert_int_eq(rv, want);
		if (rv == APR_SUCCESS)
			m->lw -= v;
		return rv;
	case 4: /* CHANNEL_WINDOW_ADJUST */
		if ((rv = mps_chan_lookup(t, id, &c)) != APR_SUCCESS) {
			ck_assert(!rm_addressable(id));
			return rv;
		}
		v = rnd(5) == 0 ? 0xFFFFFFFFu - rnd(300) : rnd(200);
		rv = mps_chan_on_window_adjust(c, v, &flag);
		want = m->state != MPS_CHAN_OPEN || m->close_rcvd ||
		    v > 0xFFFFFFFFu - m->rw ? MPS_ERR_PROTOCOL : APR_SUCCESS;
		ck_assert_int_eq(rv, want);
		if (rv == APR_SUCCESS) {
			m->rw += v;
			ck_assert_int_eq(flag, rm_budget(m) > 0);
		}
		return rv;
	case 5: /* CHANNEL_CLOSE from the device */
		rv = mps_chan_on_close(t, id, &x, &flag);
		want = !rm_addressable(id) ? MPS_ERR_UNKNOWN_CHANNEL :
		    m->state != MPS_CHAN_OPEN || m->close_rcvd ?
		    MPS_ERR_PROTOCOL : APR_SUCCESS;
		ck_assert_int_eq(rv, want);
		if (rv == APR_SUCCESS) {
			m->close_rcvd = 1;
			m->istate = MPS_CHAN_IN_CLOSED;
			if (m->ostate == MPS_CHAN_OUT_OPEN)
				m->ostate = MPS_CHAN_OUT_DRAIN;
			ck_assert_int_eq(flag, !m->close_sent);
		} else
			ck_assert_int_eq(flag, 0);
		return rv;
	case 6: /* the caller sends CLOSE (due or by choice) */
		id %= RM_CAP;
		m = &rm[id];
		if (rm_ptr[id] == NULL)
			return APR_EINVAL;
		rv = mps_chan_close_sent(rm_ptr[id]);
		want = m->state != MPS_CHAN_OPEN || m->close_sent ?
		    APR_EINVAL : APR_SUCCESS;
		ck_assert_int_eq(rv, want);
		if (rv == APR_SUCCESS) {
			m->close_sent = 1;
			m->istate = MPS_CHAN_IN_CLOSED;
		}
		return rv;
	case 7: /* console took n bytes */
	case 8: /* console -> device data */
	case 9: /* console EOF, drained, gone */
		id %= RM_CAP;
		m = &rm[id];
		if (rm_ptr[id] == NULL || m->owner == NULL)
			return APR_EINVAL;	/* the console holds nothing */
		c = rm_ptr[id];
		break;
	case 10:
	case 11:
		n = 0;
		ck_assert_uint_eq(mps_chan_collect(t, rm_on_collect, &n), n);
		return APR_SUCCESS;
	default: /* lookup only */
		rv = mps_chan_lookup(t, id, &x);
		ck_assert_int_eq(rv, rm_addressable(id) ? APR_SUCCESS :
		    MPS_ERR_UNKNOWN_CHANNEL);
		return rv;
	}

	switch (rnd(6)) {
	case 0:
	case 1: {
		apr_uint32_t pending = m->lmax - m->lw - m->lcons;

		v = rnd(4) == 0 ? rnd(400) : rnd(pending + 1);
		rv = mps_chan_console_accepted(c, v, &adj);
		ck_assert_int_eq(rv, v > pending ? APR_EINVAL : APR_SUCCESS);
		if (rv != APR_SUCCESS) {
			ck_assert_uint_eq(adj, 0);
			return rv;
		}
		m->lcons += v;
		if (m->lcons > 0 && m->lcons * 2 >= m->lmax &&
		    m->state == MPS_CHAN_OPEN && !m->close_sent &&
		    !m->close_rcvd) {
			ck_assert_uint_eq(adj, m->lcons);
			m->lw += m->lcons;
			m->lcons = 0;
		} else
			ck_assert_uint_eq(adj, 0);
		return rv;
	}
	case 2:
	case 3:
		v = rnd(4) == 0 ? rnd(100) : rnd(rm_budget(m) + 1);
		rv = mps_chan_on_sent(c, v);
		ck_assert_int_eq(rv, v > rm_budget(m) ? APR_EINVAL :
		    APR_SUCCESS);
		if (rv == APR_SUCCESS)
			m->rw -= v;
		return rv;
	case 4:
		if (rnd(2)) {
			v = rnd(2) ? 0 : 5;
			flag = mps_chan_console_eof(c, v);
			if (m->istate == MPS_CHAN_IN_OPEN)
				m->istate = v ? MPS_CHAN_IN_DRAIN :
				    MPS_CHAN_IN_CLOSED;
		} else {
			flag = mps_chan_input_drained(c);
			if (m->istate == MPS_CHAN_IN_DRAIN)
				m->istate = MPS_CHAN_IN_CLOSED;
		}
		ck_assert_int_eq(flag, rm_due(m));
		return APR_SUCCESS;
	default:
		flag = mps_chan_console_gone(c);
		m->istate = MPS_CHAN_IN_CLOSED;
		m->ostate = MPS_CHAN_OUT_CLOSED;
		m->owner = NULL;
		ck_assert_int_eq(flag, rm_due(m));
		return APR_SUCCESS;
	}
}

START_TEST(t_random_model)
{
	mps_chan_table_t *t;
	mps_chan_t snap[RM_CAP], after[RM_CAP];
	unsigned step, errors = 0, i;
	apr_status_t rv;

	memset(rm, 0, sizeof(rm));
	memset(rm_ptr, 0, sizeof(rm_ptr));
	rm_seed = 0xC0FFEEu + (apr_uint32_t)_i;
	t = new_table(RM_CAP, 64);
	for (step = 0; step < 20000; step++) {
		rm_snapshot(snap);
		rv = rm_step(t);
		if (rv != APR_SUCCESS) {
			errors++;
			rm_snapshot(after);
			ck_assert_msg(memcmp(snap, after, sizeof(snap)) == 0,
			    "step %u: failed event changed state", step);
		}
		rm_check(t);
	}
	/* Both kinds of event must really have happened. */
	ck_assert_uint_gt(errors, 1000);
	ck_assert_uint_lt(errors, 19000);
	for (i = 0; i < RM_CAP; i++)
		if (rm_ptr[i] != NULL && rm[i].owner != NULL)
			mps_chan_console_gone(rm_ptr[i]);
	mps_chan_table_destroy(t);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("channel");
	TCase *tc = tcase_create("channel");

	tcase_add_test(tc, t_create_args);
	tcase_add_test(tc, t_alloc_cap_reuse);
	tcase_add_test(tc, t_unknown_ids);
	tcase_add_test(tc, t_open_data_both_ways);
	tcase_add_test(tc, t_window_exceeded);
	tcase_add_test(tc, t_window_overrun);
	tcase_add_test(tc, t_adjust_overflow);
	tcase_add_test(tc, t_budget_zero_resumes);
	tcase_add_loop_test(tc, t_amt_499_stream, 0,
	    (int)(sizeof(amt_steps) / sizeof(amt_steps[0])));
	tcase_add_loop_test(tc, t_close_orderings, 0,
	    (int)(sizeof(close_rows) / sizeof(close_rows[0])));
	tcase_add_test(tc, t_double_device_close);
	tcase_add_test(tc, t_tunnel_gone);
	tcase_add_loop_test(tc, t_open_failure_reasons, 0,
	    (int)(sizeof(fail_reasons) / sizeof(fail_reasons[0])));
	tcase_add_test(tc, t_idle_sweep);
	tcase_add_loop_test(tc, t_random_model, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}
