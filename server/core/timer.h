/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timer.h: one-shot timers for timeouts and keepalives.
 *
 * Timers live in a min-heap owned by the poller (see poller.h), which
 * sleeps until the earliest one. A timer is embedded in its owner's
 * struct (no allocation to arm it). When it expires, its function is
 * posted to its strand (or to the I/O lane when it has none), so it runs
 * in the owner's world like any other task; a firing that was overtaken
 * by mps_timer_cancel() or a re-arm is dropped before it reaches fn.
 *
 * All functions are thread-safe. See strand.h for when an object holding
 * a timer may be freed. A timer without a strand fires on the I/O lane,
 * outside any order: its owner must outlive every firing (use it only on
 * long-lived objects, or give the timer a strand).
 */
#ifndef MPS_TIMER_H
#define MPS_TIMER_H

#include <apr_time.h>

#include "strand.h"

typedef struct mps_timers_t mps_timers_t;

typedef struct mps_timer_t {
	/* private: initialise with mps_timer_init() */
	apr_time_t when;
	apr_size_t heap_index;		/* position in the heap, or (apr_size_t)-1 */
	apr_uint32_t generation;	/* bumped by arm and cancel */
	mps_strand_t *strand;
	mps_task_fn fn;
	void *arg;
} mps_timer_t;

void mps_timer_init(mps_timer_t *timer, mps_strand_t *strand,
    mps_task_fn fn, void *arg);

/*
 * (Re)arms the timer to fire once, delay from now (a negative delay counts
 * as 0). Returns APR_ENOMEM, leaving the timer disarmed, only when the
 * heap of a timer not yet armed cannot grow; re-arming never fails.
 */
apr_status_t mps_timer_arm(mps_timers_t *timers, mps_timer_t *timer,
    apr_interval_time_t delay);

/* Disarms the timer; a firing already queued will not call fn. */
void mps_timer_cancel(mps_timers_t *timers, mps_timer_t *timer);

int mps_timer_is_armed(mps_timers_t *timers, const mps_timer_t *timer);

/*
 * For the poller. wake(wake_arg) is called (from any thread) when a timer
 * is armed earlier than the current earliest one.
 */
apr_status_t mps_timers_create(mps_timers_t **timers, mps_workers_t *workers,
    void (*wake)(void *wake_arg), void *wake_arg, apr_pool_t *pool);

/* Posts every timer due at now; returns the time until the next one, or
 * -1 when none is armed. */
apr_interval_time_t mps_timers_expire(mps_timers_t *timers, apr_time_t now);

apr_size_t mps_timers_count(mps_timers_t *timers);

#endif /* MPS_TIMER_H */
