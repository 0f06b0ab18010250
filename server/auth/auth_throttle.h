/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_throttle.h: slows down repeated authentication failures from one
 * address.
 *
 * A fixed table (no growth, whatever an attacker sends) of recent
 * failures per IP address. The first failure costs nothing extra; each
 * further one within the window doubles the delay before the failure is
 * answered, up to a cap. A success clears the address. Two addresses that
 * hash to one slot share it: the newer overwrites the older, which only
 * ever makes the throttle forget, never punish the wrong address more.
 */
#ifndef MPS_AUTH_THROTTLE_H
#define MPS_AUTH_THROTTLE_H

#include <apr_time.h>

/* Failures are forgotten after this long without a new one. */
#define MPS_THROTTLE_WINDOW apr_time_from_sec(600)
/* Delay for the second failure; doubles for each further one. */
#define MPS_THROTTLE_BASE apr_time_from_msec(500)
#define MPS_THROTTLE_MAX apr_time_from_sec(30)

typedef struct mps_auth_throttle_t mps_auth_throttle_t;

mps_auth_throttle_t *mps_auth_throttle_create(void);
void mps_auth_throttle_destroy(mps_auth_throttle_t *t);

/* Records a failure of ip (the address without port) at now; returns how
 * long to wait before answering it. Thread-safe. */
apr_interval_time_t mps_auth_throttle_failure(mps_auth_throttle_t *t,
    const char *ip, apr_time_t now);

/* Forgets ip's failures. Thread-safe. */
void mps_auth_throttle_success(mps_auth_throttle_t *t, const char *ip);

#endif
