/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poller.h: the one thread that waits for sockets and timers.
 *
 * The poller owns an epoll set (on Linux directly, with EPOLLONESHOT;
 * elsewhere an apr_pollset) and the timer heap. It learns readiness and
 * queues work; it never reads, writes, authenticates or resolves.
 * Registrations are ONE-SHOT: when a watched socket becomes ready, the
 * poller disarms it (on Linux the kernel does), stores the returned
 * events in the registration and posts the registration's function to its
 * strand. The task does its I/O and calls mps_poller_watch() again when it
 * wants more. So a socket is either in the pollset (the poller owns it)
 * or being served by exactly one task, never both (httpd's event MPM
 * rule).
 *
 * A registration is allocated by the poller and freed by it: after
 * mps_poller_release() the function is never posted again, and the memory
 * goes only once no poll result can still point at it.
 */
#ifndef MPS_POLLER_H
#define MPS_POLLER_H

#include <apr_network_io.h>
#include <apr_poll.h>

#include "strand.h"
#include "timer.h"

typedef struct mps_poller_t mps_poller_t;
typedef struct mps_pollreg_t mps_pollreg_t;

/*
 * max_sockets bounds the sockets watched at once. The poller uses the
 * workers to run posted tasks.
 */
apr_status_t mps_poller_create(mps_poller_t **poller, apr_uint32_t max_sockets,
    mps_workers_t *workers, apr_pool_t *pool);

mps_timers_t *mps_poller_timers(mps_poller_t *poller);

/*
 * Creates a registration for sock. When it fires, fn(arg) is posted to
 * strand (to the I/O lane when strand is NULL); mps_pollreg_events() then
 * tells what happened. Not watched until mps_poller_watch().
 */
apr_status_t mps_poller_register(mps_poller_t *poller, mps_pollreg_t **reg,
    apr_socket_t *sock, mps_strand_t *strand, mps_task_fn fn, void *arg);

/* Watch for events (APR_POLLIN, APR_POLLOUT, or both; errors and hang-ups
 * are always reported). Re-watching replaces the event set. Thread-safe.
 * Returns APR_EINVAL for other events or a released registration, and
 * MPS_ERR_QUEUE_FULL when max_sockets registrations are watched already. */
apr_status_t mps_poller_watch(mps_poller_t *poller, mps_pollreg_t *reg,
    apr_int16_t events);

/* Stops watching without releasing. Thread-safe. */
apr_status_t mps_poller_unwatch(mps_poller_t *poller, mps_pollreg_t *reg);

/* Stops watching and hands the registration back; reg is invalid after.
 * A firing posted before the release still runs fn (strand.h's lifetime
 * rule says how to cope). Release before closing the socket; the socket
 * itself stays open (its owner closes it). Thread-safe. */
void mps_poller_release(mps_poller_t *poller, mps_pollreg_t *reg);

/* The events of the last firing (APR_POLLIN/OUT/ERR/HUP/NVAL), for the
 * task that the firing posted. Readiness can be stale by the time the task
 * runs (sockets are non-blocking: expect EAGAIN). Not after release. */
apr_int16_t mps_pollreg_events(const mps_pollreg_t *reg);

/* Runs the loop on the calling thread until mps_poller_stop(). */
apr_status_t mps_poller_run(mps_poller_t *poller);

/* Makes mps_poller_run() return soon. Thread-safe; async-signal-safe is
 * NOT promised (use a signal thread). */
void mps_poller_stop(mps_poller_t *poller);

#endif /* MPS_POLLER_H */
