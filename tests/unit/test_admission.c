/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admission.c: the pre-auth budget (server/net/admission.c): the
 * per-address limit (IPv4 address, IPv6 /64), the total, the early random
 * drop and its probabilities, the address table under churn against a
 * model, the metrics, the rate-limited log and concurrent use.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <apr_pools.h>

#include "admission.h"
#include "log.h"
#include "metrics.h"
#include "unit.h"

static mps_admission_t *
make(unsigned max, unsigned per_address, unsigned drop_start,
    unsigned drop_rate)
{
	mps_admission_limits_t l = { max, per_address, drop_start, drop_rate };
	mps_admission_t *a = mps_admission_create(&l);

	ck_assert_ptr_nonnull(a);
	mps_admission_seed(a, 12345);
	return a;
}

static void
setup(void)
{
	mps_metrics_reset();
}

START_TEST(test_per_address)
{
	mps_admission_t *a = make(100, 3, 100, 0);
	int i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(mps_admission_enter(a, "192.0.2.7", "AMT", 0),
		    MPS_ADMIT_OK);
	/* The fourth from that address, whatever the port it uses. */
	ck_assert_int_eq(mps_admission_enter(a, "192.0.2.7", "SOCKS", 0),
	    MPS_ADMIT_ADDRESS);
	ck_assert_uint_eq(mps_metric_get(MPS_M_PREAUTH_REFUSED_ADDRESS), 1);
	/* Others are not affected. */
	ck_assert_int_eq(mps_admission_enter(a, "192.0.2.8", "HTTP", 0),
	    MPS_ADMIT_OK);
	ck_assert_uint_eq(mps_admission_count(a), 4);
	ck_assert_uint_eq(mps_admission_count_address(a, "192.0.2.7"), 3);
	/* One leaves (authenticated or gone): one more may come. */
	mps_admission_leave(a, "192.0.2.7", 0);
	ck_assert_int_eq(mps_admission_enter(a, "192.0.2.7", "AMT", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "192.0.2.7", "AMT", 0),
	    MPS_ADMIT_ADDRESS);
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_PREAUTH_OPEN), 4);
	mps_admission_destroy(a);
}
END_TEST

START_TEST(test_ipv6_prefix)
{
	mps_admission_t *a = make(100, 2, 100, 0);

	/* One /64: two addresses fill it. */
	ck_assert_int_eq(mps_admission_enter(a, "2001:db8:1:2::1", "AMT", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "2001:db8:1:2:ffff::9", "AMT", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "2001:db8:1:2::3", "AMT", 0),
	    MPS_ADMIT_ADDRESS);
	/* The next /64 is another key. */
	ck_assert_int_eq(mps_admission_enter(a, "2001:db8:1:3::1", "AMT", 0),
	    MPS_ADMIT_OK);
	/* An IPv4-mapped address is its IPv4 address. */
	ck_assert_int_eq(mps_admission_enter(a, "::ffff:198.51.100.1", "AMT", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "198.51.100.1", "AMT", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "198.51.100.1", "AMT", 0),
	    MPS_ADMIT_ADDRESS);
	/* Leaving by another address of the same /64 frees its slot. */
	mps_admission_leave(a, "2001:db8:1:2::77", 0);
	ck_assert_uint_eq(mps_admission_count_address(a, "2001:db8:1:2::1"), 1);
	mps_admission_destroy(a);
}
END_TEST

/* Behind a TLS terminator every device has its address: only the total
 * limits them. */
START_TEST(test_any_address)
{
	mps_admission_t *a = make(5, 2, 5, 0);
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "AMT",
		    MPS_ADMIT_ANY_ADDRESS), MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "AMT",
	    MPS_ADMIT_ANY_ADDRESS), MPS_ADMIT_FULL);
	ck_assert_uint_eq(mps_admission_count_address(a, "127.0.0.1"), 0);
	for (i = 0; i < 3; i++)
		mps_admission_leave(a, "127.0.0.1", MPS_ADMIT_ANY_ADDRESS);
	/* Consoles from that host are limited per address, and not crowded
	 * out by the terminator's devices (only by the total). */
	ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "SOCKS", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "HTTP", 0),
	    MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "SOCKS", 0),
	    MPS_ADMIT_ADDRESS);
	ck_assert_int_eq(mps_admission_enter(a, "127.0.0.1", "AMT",
	    MPS_ADMIT_ANY_ADDRESS), MPS_ADMIT_OK);
	ck_assert_int_eq(mps_admission_enter(a, "127.0.0.2", "HTTP", 0),
	    MPS_ADMIT_FULL);
	ck_assert_uint_eq(mps_admission_count_address(a, "127.0.0.1"), 2);
	mps_admission_leave(a, "127.0.0.1", 0);
	mps_admission_leave(a, "127.0.0.1", 0);
	for (i = 0; i < 3; i++)
		mps_admission_leave(a, "127.0.0.1", MPS_ADMIT_ANY_ADDRESS);
	ck_assert_uint_eq(mps_admission_count(a), 0);
	mps_admission_destroy(a);
}
END_TEST

START_TEST(test_full)
{
	/* No early drop (start == max): only the total refuses. */
	mps_admission_t *a = make(10, 10, 10, 30);
	char ip[32];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.0.0.%d", i);
		ck_assert_int_eq(mps_admission_enter(a, ip, "AMT", 0), MPS_ADMIT_OK);
	}
	ck_assert_int_eq(mps_admission_enter(a, "10.0.1.1", "AMT", 0),
	    MPS_ADMIT_FULL);
	ck_assert_uint_eq(mps_metric_get(MPS_M_PREAUTH_REFUSED_FULL), 1);
	ck_assert_uint_eq(mps_metric_get(MPS_M_PREAUTH_REFUSED_DROPPED), 0);
	mps_admission_leave(a, "10.0.0.3", 0);
	ck_assert_int_eq(mps_admission_enter(a, "10.0.1.1", "AMT", 0),
	    MPS_ADMIT_OK);
	/* A leave that was never entered changes nothing. */
	mps_admission_leave(a, "203.0.113.99", 0);
	ck_assert_uint_eq(mps_admission_count(a), 10);
	mps_admission_destroy(a);
}
END_TEST

/* Fraction of tries refused with n held (each try leaves at once). */
static double
drop_fraction(mps_admission_t *a, int tries)
{
	int i, dropped = 0;

	for (i = 0; i < tries; i++) {
		/* 10.1.0.0 holds one already: fresh addresses are spared. */
		mps_admit_t r = mps_admission_enter(a, "10.1.0.0", "AMT", 0);

		if (r == MPS_ADMIT_OK)
			mps_admission_leave(a, "10.1.0.0", 0);
		else {
			ck_assert_int_eq(r, MPS_ADMIT_DROPPED);
			dropped++;
		}
	}
	return (double)dropped / tries;
}

static void
fill_to(mps_admission_t *a, int *held, int n)
{
	char ip[32];

	while (*held < n) {
		mps_admit_t r;

		snprintf(ip, sizeof(ip), "10.1.%d.%d", *held / 250, *held % 250);
		r = mps_admission_enter(a, ip, "AMT", 0);
		/* Below start (50) nothing is dropped; above, retry. */
		if (*held < 50)
			ck_assert_int_eq(r, MPS_ADMIT_OK);
		if (r == MPS_ADMIT_OK)
			(*held)++;
	}
}

START_TEST(test_random_drop)
{
	/* MaxStartups 50:30:100, and 100 % already at 100 - 50 / 8 = 94. */
	mps_admission_t *a = make(100, 1000, 50, 30);
	int held = 0;
	double f;

	fill_to(a, &held, 49);
	ck_assert(drop_fraction(a, 2000) == 0.0);
	fill_to(a, &held, 50);
	f = drop_fraction(a, 20000);	/* expected 0.30 */
	ck_assert_msg(f > 0.27 && f < 0.33, "at start: %.3f", f);
	fill_to(a, &held, 72);
	f = drop_fraction(a, 20000);	/* 30 + 70 * 22 / 44 = 65 % */
	ck_assert_msg(f > 0.62 && f < 0.68, "half way: %.3f", f);
	fill_to(a, &held, 93);
	f = drop_fraction(a, 2000);	/* 30 + 70 * 43 / 44 = 98.4 % */
	ck_assert_msg(f > 0.96 && f < 1.0, "near the end: %.3f", f);
	fill_to(a, &held, 94);
	ck_assert(drop_fraction(a, 1000) == 1.0);
	ck_assert_uint_gt(mps_metric_get(MPS_M_PREAUTH_REFUSED_DROPPED), 0);
	mps_admission_destroy(a);
}
END_TEST

/* The early drop spares an address that holds nothing yet: near full, a
 * newcomer gets in where a holder is dropped; at full, nobody does. */
START_TEST(test_drop_spares_newcomers)
{
	mps_admission_t *a = make(100, 1000, 50, 30);
	char ip[32];
	int i, held = 0;

	fill_to(a, &held, 98);
	ck_assert(drop_fraction(a, 1000) > 0.9);
	for (i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "192.168.%d.%d", i / 200, i % 200);
		ck_assert_int_eq(mps_admission_enter(a, ip, "AMT", 0),
		    MPS_ADMIT_OK);
		mps_admission_leave(a, ip, 0);
	}
	fill_to(a, &held, 100);
	ck_assert_int_eq(mps_admission_enter(a, "192.168.99.1", "AMT", 0),
	    MPS_ADMIT_FULL);
	mps_admission_destroy(a);
}
END_TEST

START_TEST(test_drop_rate_zero_and_hundred)
{
	mps_admission_t *a = make(100, 1000, 50, 0);
	int held = 0;

	fill_to(a, &held, 50);
	ck_assert(drop_fraction(a, 10) == 0.0);
	/* Rate 0 at start: no drop there yet (it rises from 0). */
	ck_assert(drop_fraction(a, 1000) < 0.01);
	mps_admission_destroy(a);
	a = make(100, 1000, 0, 100);
	/* Rate 100 from 0: every connection of an address that holds one
	 * is dropped. */
	ck_assert_int_eq(mps_admission_enter(a, "10.1.0.0", "AMT", 0),
	    MPS_ADMIT_OK);
	ck_assert(drop_fraction(a, 100) == 1.0);
	mps_admission_destroy(a);
}
END_TEST

/* The table against a model: random enters and leaves over a few hundred
 * addresses, far more operations than slots, so that clusters form, wrap
 * and are shifted back many times. */
START_TEST(test_table_churn)
{
	enum { NADDR = 300, PER = 4, MAX = 256 };
	static unsigned model[NADDR];
	mps_admission_t *a = make(MAX, PER, MAX, 0);
	unsigned total = 0;
	char ip[32];
	int i, k;

	memset(model, 0, sizeof(model));
	unit_rng_seed(7);
	for (i = 0; i < 300000; i++) {
		k = (int)(unit_rng() % NADDR);
		snprintf(ip, sizeof(ip), "100.64.%d.%d", k / 200, k % 200);
		if (unit_rng() % 2 == 0) {
			mps_admit_t r = mps_admission_enter(a, ip, "AMT", 0);
			mps_admit_t want = model[k] >= PER ? MPS_ADMIT_ADDRESS :
			    total >= MAX ? MPS_ADMIT_FULL : MPS_ADMIT_OK;

			REQUIRE(r == want, "op %d: enter %s gave %d, want %d",
			    i, ip, r, want);
			if (r == MPS_ADMIT_OK) {
				model[k]++;
				total++;
			}
		} else if (model[k] > 0) {
			mps_admission_leave(a, ip, 0);
			model[k]--;
			total--;
		}
		REQUIRE(mps_admission_count_address(a, ip) == model[k],
		    "op %d: %s holds %u, want %u", i, ip,
		    mps_admission_count_address(a, ip), model[k]);
	}
	ck_assert_uint_eq(mps_admission_count(a), total);
	for (k = 0; k < NADDR; k++) {
		snprintf(ip, sizeof(ip), "100.64.%d.%d", k / 200, k % 200);
		ck_assert_uint_eq(mps_admission_count_address(a, ip), model[k]);
		while (model[k]-- > 0)
			mps_admission_leave(a, ip, 0);
	}
	ck_assert_uint_eq(mps_admission_count(a), 0);
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_PREAUTH_OPEN), 0);
	mps_admission_destroy(a);
}
END_TEST

START_TEST(test_ratelog)
{
	mps_ratelog_t r;
	unsigned long missed = 99;
	apr_interval_time_t every = apr_time_from_sec(10);
	apr_time_t t = apr_time_from_sec(1000);
	int i;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(mps_ratelog_allow(&r, t, every, &missed), 1);
	ck_assert_uint_eq(missed, 0);
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(mps_ratelog_allow(&r, t + apr_time_from_sec(9),
		    every, &missed), 0);
	ck_assert_int_eq(mps_ratelog_allow(&r, t + every, every, &missed), 1);
	ck_assert_uint_eq(missed, 500);
	ck_assert_int_eq(mps_ratelog_allow(&r, t + 3 * every, every, &missed), 1);
	ck_assert_uint_eq(missed, 0);
}
END_TEST

/* A flood of refusals writes one WARNING per reason, not one per
 * refusal. */
START_TEST(test_refusals_logged_once)
{
	char dir[] = "/tmp/test_admission.XXXXXX", path[128], line[512];
	mps_log_options_t o;
	mps_logger_t *l = NULL;
	mps_admission_t *a;
	FILE *f;
	int i, per_address = 0, full = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.file_name = "mps.log";
	o.heading = "test";
	o.max_files = 1;
	o.levels = MPS_LOG_WARNING | MPS_LOG_ERROR;
	ck_assert_int_eq(mps_logger_open(&l, &o), APR_SUCCESS);
	mps_log_set_default(l);
	a = make(2, 1, 2, 0);
	ck_assert_int_eq(mps_admission_enter(a, "192.0.2.1", "AMT", 0),
	    MPS_ADMIT_OK);
	for (i = 0; i < 1000; i++)
		(void)mps_admission_enter(a, "192.0.2.1", "SOCKS", 0);
	ck_assert_int_eq(mps_admission_enter(a, "192.0.2.2", "AMT", 0),
	    MPS_ADMIT_OK);
	for (i = 0; i < 1000; i++)
		(void)mps_admission_enter(a, "192.0.2.3", "HTTP", 0);
	ck_assert_uint_eq(mps_metric_get(MPS_M_PREAUTH_REFUSED_ADDRESS), 1000);
	ck_assert_uint_eq(mps_metric_get(MPS_M_PREAUTH_REFUSED_FULL), 1000);
	mps_log_set_default(NULL);
	mps_logger_close(l);
	snprintf(path, sizeof(path), "%s/mps.log", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "MaxPreAuthPerAddress (1) reached: refusing the "
		    "SOCKS connection from 192.0.2.1") != NULL)
			per_address++;
		if (strstr(line, "MaxPreAuthConnections (2) reached: refusing "
		    "the HTTP connection from 192.0.2.3") != NULL)
			full++;
	}
	fclose(f);
	unlink(path);
	rmdir(dir);
	ck_assert_int_eq(per_address, 1);
	ck_assert_int_eq(full, 1);
	mps_admission_destroy(a);
}
END_TEST

struct worker_arg {
	mps_admission_t *a;
	int id;
	unsigned admitted;
};

static void *
worker(void *p)
{
	struct worker_arg *w = p;
	char ip[32];
	int i;

	for (i = 0; i < 50000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", w->id, (i / 7) % 5, i % 7);
		if (mps_admission_enter(w->a, ip, "AMT", 0) == MPS_ADMIT_OK) {
			w->admitted++;
			mps_admission_leave(w->a, ip, 0);
		}
	}
	return NULL;
}

START_TEST(test_threads)
{
	mps_admission_t *a = make(64, 2, 32, 30);
	pthread_t t[4];
	struct worker_arg w[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i].a = a;
		w[i].id = i;
		w[i].admitted = 0;
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_gt(w[i].admitted, 0);
	}
	ck_assert_uint_eq(mps_admission_count(a), 0);
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_PREAUTH_OPEN), 0);
	mps_admission_destroy(a);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("admission");
	TCase *tc = tcase_create("admission");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_per_address);
	tcase_add_test(tc, test_ipv6_prefix);
	tcase_add_test(tc, test_any_address);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_random_drop);
	tcase_add_test(tc, test_drop_spares_newcomers);
	tcase_add_test(tc, test_drop_rate_zero_and_hundred);
	tcase_add_test(tc, test_table_churn);
	tcase_add_test(tc, test_ratelog);
	tcase_add_test(tc, test_refusals_logged_once);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}
