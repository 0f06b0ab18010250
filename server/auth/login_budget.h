/* SPDX-License-Identifier: Apache-2.0 */
/*
 * login_budget.h: how many failed logins a key (a console's address, or
 * a user name) may spend per minute; past that, logins for the key are
 * refused without asking the authentication plugin.
 *
 * Unlike the device throttle (auth_throttle.h), which delays each
 * further failure's answer, a budget bounds guesses however many
 * connections an attacker opens in parallel: a delayed answer still
 * lets a thousand parallel guesses through, a refusal does not. The
 * refusal looks like any failed login, so a guess made while over
 * budget tells the attacker nothing, even when it is right.
 *
 * The budget is a token bucket ("generic cell rate"): `failures` tokens,
 * refilled evenly over a minute. Each key keeps one time stamp, the
 * moment its bucket will be full again, so a key that stops failing
 * needs no clean-up and a full bucket is the same as no entry.
 *
 * The table is fixed (no growth, whatever an attacker sends), in sets
 * of a few entries. When a set is full the entry nearest to a full
 * bucket is taken over: the table can forget an attacker who spreads
 * over very many keys, but never charges one key's failures to another.
 */
#ifndef MPS_LOGIN_BUDGET_H
#define MPS_LOGIN_BUDGET_H

#include <apr_time.h>

/* The period a budget refills over. */
#define MPS_LOGIN_BUDGET_PERIOD apr_time_from_sec(60)

typedef struct mps_login_budget_t mps_login_budget_t;

/* failures per minute, >= 1. NULL when out of memory. */
mps_login_budget_t *mps_login_budget_create(unsigned failures);
void mps_login_budget_destroy(mps_login_budget_t *b);

/*
 * Takes one failure of key's budget at now, before the plugin is asked:
 * returns 1, or 0 (nothing taken) when the budget is spent, and the
 * login must be refused unasked. Taking first, not after the verdict,
 * is what bounds logins that run in parallel. Thread-safe.
 */
int mps_login_budget_take(mps_login_budget_t *b, const char *key,
    apr_time_t now);

/* Gives one back: the login succeeded (or was never tried). Thread-safe. */
void mps_login_budget_refund(mps_login_budget_t *b, const char *key,
    apr_time_t now);

/*
 * The key a peer's address is budgeted under: an IPv4 address as it is
 * (an IPv4-mapped IPv6 address as IPv4), an IPv6 address as its /64
 * ("2001:db8:1:2::/64"), since one host commonly holds a whole /64 and
 * could otherwise take a fresh budget per address. Anything else is
 * copied. out has room for size bytes (64 suffices).
 */
void mps_login_budget_address_key(const char *ip, char *out, size_t size);

#endif /* MPS_LOGIN_BUDGET_H */
