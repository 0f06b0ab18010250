/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_throttle.c: the console login budgets (server/auth/login_budget.c).
 */
#include "unit.h"
#include "login_budget.h"

#include <apr_time.h>

#include <stdio.h>
#include <string.h>

#define MIN apr_time_from_sec(60)

START_TEST(test_budget_burst_then_rate)
{
	mps_login_budget_t *b = mps_login_budget_create(10);
	apr_time_t t0 = apr_time_from_sec(100000);
	int i, taken = 0;

	ck_assert_ptr_nonnull(b);
	/* Ten at once, then nothing: a thousand parallel guesses get ten. */
	for (i = 0; i < 1000; i++)
		taken += mps_login_budget_take(b, "192.0.2.7", t0);
	ck_assert_int_eq(taken, 10);
	/* One more every six seconds (ten a minute), not before. */
	ck_assert_int_eq(mps_login_budget_take(b, "192.0.2.7",
	    t0 + apr_time_from_sec(6) - 1), 0);
	ck_assert_int_eq(mps_login_budget_take(b, "192.0.2.7",
	    t0 + apr_time_from_sec(6)), 1);
	ck_assert_int_eq(mps_login_budget_take(b, "192.0.2.7",
	    t0 + apr_time_from_sec(6)), 0);
	/* Over a sustained minute of trying, ten more get through. */
	taken = 0;
	for (i = 0; i < 6000; i++)
		taken += mps_login_budget_take(b, "192.0.2.7",
		    t0 + apr_time_from_sec(6) + i * apr_time_from_msec(10));
	ck_assert_int_ge(taken, 9);
	ck_assert_int_le(taken, 10);
	/* Other keys are untouched. */
	ck_assert_int_eq(mps_login_budget_take(b, "192.0.2.8", t0), 1);
	mps_login_budget_destroy(b);
}
END_TEST

START_TEST(test_budget_refund)
{
	mps_login_budget_t *b = mps_login_budget_create(3);
	apr_time_t t0 = apr_time_from_sec(100000);
	int i;

	ck_assert_ptr_nonnull(b);
	/* A console that logs in right a hundred times never runs out. */
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(mps_login_budget_take(b, "alice", t0 + i), 1);
		mps_login_budget_refund(b, "alice", t0 + i);
	}
	/* Three failures spend it... */
	t0 += 1000;
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(mps_login_budget_take(b, "alice", t0), 1);
	ck_assert_int_eq(mps_login_budget_take(b, "alice", t0), 0);
	/* ... and a full minute gives it all back. */
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(mps_login_budget_take(b, "alice", t0 + MIN), 1);
	ck_assert_int_eq(mps_login_budget_take(b, "alice", t0 + MIN), 0);
	/* A refund of an unknown key changes nothing. */
	mps_login_budget_refund(b, "nobody", t0);
	mps_login_budget_destroy(b);
}
END_TEST

START_TEST(test_budget_table_never_charges_another_key)
{
	mps_login_budget_t *b = mps_login_budget_create(2);
	apr_time_t t0 = apr_time_from_sec(100000);
	char key[32];
	int i;

	ck_assert_ptr_nonnull(b);
	/* Many more keys than entries, each spent out. */
	for (i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "user%d", i);
		(void)mps_login_budget_take(b, key, t0);
		(void)mps_login_budget_take(b, key, t0);
	}
	/* A fresh key still has its whole budget: a full table forgets,
	 * it never refuses the wrong key. */
	ck_assert_int_eq(mps_login_budget_take(b, "the-real-admin", t0), 1);
	ck_assert_int_eq(mps_login_budget_take(b, "the-real-admin", t0), 1);
	ck_assert_int_eq(mps_login_budget_take(b, "the-real-admin", t0), 0);
	mps_login_budget_destroy(b);
}
END_TEST

START_TEST(test_address_key)
{
	char k[64];

	mps_login_budget_address_key("192.0.2.1", k, sizeof(k));
	ck_assert_str_eq(k, "192.0.2.1");
	mps_login_budget_address_key("::ffff:192.0.2.1", k, sizeof(k));
	ck_assert_str_eq(k, "192.0.2.1");
	/* One /64 is one key, whatever the interface id. */
	mps_login_budget_address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k,
	    sizeof(k));
	ck_assert_str_eq(k, "2001:db8:1:2::/64");
	mps_login_budget_address_key("2001:db8:1:2::1", k, sizeof(k));
	ck_assert_str_eq(k, "2001:db8:1:2::/64");
	mps_login_budget_address_key("2001:db8:1:3::1", k, sizeof(k));
	ck_assert_str_eq(k, "2001:db8:1:3::/64");
	mps_login_budget_address_key("not an address", k, sizeof(k));
	ck_assert_str_eq(k, "not an address");
	mps_login_budget_address_key("2001:db8::1", k, 5);
	ck_assert_str_eq(k, "2001");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("login budget");

	tcase_add_test(tc, test_budget_burst_then_rate);
	tcase_add_test(tc, test_budget_refund);
	tcase_add_test(tc, test_budget_table_never_charges_another_key);
	tcase_add_test(tc, test_address_key);
	suite_add_tcase(s, tc);
	return s;
}
