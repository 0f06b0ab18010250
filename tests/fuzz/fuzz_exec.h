/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_exec.h: what a target does with fuzz_exec.c's inline core (see
 * there): run the queued tasks, fire ready sockets, move the clock.
 */
#ifndef MPS_FUZZ_EXEC_H
#define MPS_FUZZ_EXEC_H

#include <stddef.h>
#include <stdio.h>

#include <apr_time.h>

/* The virtual clock (the target's apr_time_now()). */
extern apr_time_t fx_now;
/* The next timed lane push waits past its queue timeout (its "expired"
 * task runs instead of the job). */
extern int fx_lane_expire_next;

/* Runs queued tasks until none is left; aborts past max_tasks (a strand
 * that keeps posting itself without input). Returns how many ran. */
size_t fx_drain(size_t max_tasks);
/* No task queued. */
int fx_idle(void);
/* Posts the task of every watched registration whose socket is ready
 * now (one-shot). Returns how many. */
int fx_fire_ready(void);
/* Moves the clock by `by`, firing each timer due on the way at its time
 * and draining after each. */
void fx_advance(apr_interval_time_t by, size_t max_tasks);
/* Timers armed now. */
apr_size_t fx_timers_armed(void);
/* Poller registrations not yet released. */
apr_size_t fx_registrations(void);
/* Strands created and not yet freed. */
long fx_strands_alive(void);
/* Writes the registrations (socket, events watched, readiness now) and
 * the armed timers to f: what a target prints before it aborts on a
 * session that stopped moving. */
void fx_describe(FILE *f);
/* Frees the poller (aborts if a registration or timer is left). */
void fx_poller_destroy(void);

#endif
