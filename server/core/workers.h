/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workers.h: the worker pool, in two lanes.
 *
 *   MPS_LANE_IO        strand work: protocol state machines, non-blocking
 *                      socket and TLS I/O. Tasks here must not block.
 *   MPS_LANE_BLOCKING  work that may block for seconds: authentication
 *                      plugins, SOAP and LDAP calls, DNS, outbound
 *                      connects, notifications. Results go back to the
 *                      owner's strand as a posted task.
 *
 * Two apr_thread_pools, so that a plugin stuck for ten seconds occupies a
 * blocking thread and never an I/O thread: no strand waits for it. The
 * thread count depends on configuration, never on the number of devices.
 */
#ifndef MPS_WORKERS_H
#define MPS_WORKERS_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef void (*mps_task_fn)(void *arg);

typedef enum {
	MPS_LANE_IO = 0,
	MPS_LANE_BLOCKING = 1
} mps_lane_t;

typedef struct mps_workers_t mps_workers_t;

/*
 * io_threads: threads of the I/O lane (0 = number of online CPUs; at least
 * 2 in any case, so that one task that blocks by mistake never stalls
 * every strand). The lane may grow to twice that while tasks wait and all
 * its threads are busy.
 * blocking_threads: the most threads of the blocking lane (>= 1); they
 * are started on demand and retire when idle.
 * The pool is used for the thread pools themselves; destroy it only after
 * mps_workers_destroy().
 */
apr_status_t mps_workers_create(mps_workers_t **workers, int io_threads,
    int blocking_threads, apr_pool_t *pool);

/*
 * Queues fn(arg) on a lane. Thread-safe. Tasks on one lane start in FIFO
 * order but run in parallel; use a strand for ordering. Returns
 * MPS_ERR_SHUTDOWN once mps_workers_destroy() has begun.
 */
apr_status_t mps_workers_push(mps_workers_t *workers, mps_lane_t lane,
    mps_task_fn fn, void *arg);

/*
 * Like mps_workers_push(), and when discard is not NULL, discard(arg) is
 * called instead of fn(arg) if the task is dropped because the workers
 * stop before it starts, so that whoever owns arg can free it. On an error
 * return neither fn nor discard is ever called.
 */
apr_status_t mps_workers_push_ex(mps_workers_t *workers, mps_lane_t lane,
    mps_task_fn fn, mps_task_fn discard, void *arg);

/* True once mps_workers_destroy() has begun: pushes fail and tasks still
 * queued are discarded. Thread-safe. */
int mps_workers_stopping(mps_workers_t *workers);

/* Number of tasks queued and not yet started on a lane (for tests,
 * statistics and back-pressure). */
apr_size_t mps_workers_backlog(mps_workers_t *workers, mps_lane_t lane);

/*
 * Stops both lanes: running tasks finish, queued tasks are discarded,
 * threads are joined. Idempotent. Must not be called from a task of these
 * workers (it would wait for itself): that aborts.
 */
void mps_workers_destroy(mps_workers_t *workers);

#endif /* MPS_WORKERS_H */
