/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workers.h: the worker threads, in lanes.
 *
 *   MPS_LANE_IO            strand work: protocol state machines,
 *                          non-blocking socket and TLS I/O. Tasks here
 *                          must not block.
 *   MPS_LANE_DEVICE_AUTH   device logins: the AMT authentication plugin.
 *   MPS_LANE_CONSOLE_AUTH  console logins: the Socks authentication plugin.
 *   MPS_LANE_NOTIFY        connection notifications (SOAP to subscribers).
 *   MPS_LANE_BLOCKING      any other work that may block for seconds: DNS,
 *                          outbound connects, configuration checks.
 * Results of blocking work go back to the owner's strand as a posted task.
 *
 * Every lane has its own threads and its own FIFO, so that work stuck in
 * one lane (a SOAP backend that accepts and never answers, with every
 * device-login thread waiting on it) never delays another lane: a
 * console's login, a notification, a DNS lookup. A lane may also bound
 * its queue (a push beyond it is refused) and the time a task may wait
 * in it (a task that waited longer is refused, not run): what a lane
 * holds stays bounded however slow its backend is, and a refusal is
 * quick. The thread counts depend on configuration, never on the number
 * of devices.
 */
#ifndef MPS_WORKERS_H
#define MPS_WORKERS_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

typedef void (*mps_task_fn)(void *arg);

typedef enum {
	MPS_LANE_IO = 0,
	MPS_LANE_BLOCKING = 1,
	MPS_LANE_DEVICE_AUTH = 2,
	MPS_LANE_CONSOLE_AUTH = 3,
	MPS_LANE_NOTIFY = 4,
	MPS_LANE_COUNT
} mps_lane_t;

typedef struct mps_workers_t mps_workers_t;

/* The limits of one lane other than the I/O lane. */
typedef struct {
	int threads;			/* the most threads (1..1024) */
	apr_size_t queue_max;		/* tasks waiting; 0 = unbounded */
	apr_interval_time_t queue_timeout; /* longest wait; 0 = none */
} mps_lane_options_t;

typedef struct {
	/* Threads of the I/O lane (0 = number of online CPUs; at least 2 in
	 * any case, so that one task that blocks by mistake never stalls
	 * every strand). The lane may grow to twice that while tasks wait
	 * and all its threads are busy, and keeps what it grew. */
	int io_threads;
	/* lanes[MPS_LANE_IO] is not used. Threads of these lanes start on
	 * demand; two stay when idle, others retire after a minute. */
	mps_lane_options_t lanes[MPS_LANE_COUNT];
} mps_workers_options_t;

/* Every blocking lane with blocking_threads threads and no bound. */
void mps_workers_options_init(mps_workers_options_t *opt, int io_threads,
    int blocking_threads);

/*
 * Starts the workers. APR_EINVAL for an option out of range. The pool
 * holds the workers' state; destroy it only after mps_workers_destroy()
 * (a cleanup registered on it calls that if need be).
 */
apr_status_t mps_workers_create_ex(mps_workers_t **workers,
    const mps_workers_options_t *opt, apr_pool_t *pool);

/*
 * Process-wide: fn runs on every worker thread as the last thing it does
 * before it counts as gone, so that per-thread state of a library
 * (OpenSSL's error queue: mps_tls_thread_end) is freed before
 * mps_workers_destroy() returns. The threads are detached: without this,
 * their thread-local destructors could still be pending when the process
 * exits, and the state would be lost (LeakSanitizer reported one 904-byte
 * ERR_STATE that way). Set it before creating workers; NULL for none.
 */
void mps_workers_on_thread_end(void (*fn)(void));

/* mps_workers_options_init() then mps_workers_create_ex(). */
apr_status_t mps_workers_create(mps_workers_t **workers, int io_threads,
    int blocking_threads, apr_pool_t *pool);

/*
 * Queues fn(arg) on a lane. Thread-safe. Tasks on one lane start in FIFO
 * order but run in parallel; use a strand for ordering. Returns
 * MPS_ERR_SHUTDOWN once mps_workers_destroy() has begun, and
 * MPS_ERR_QUEUE_FULL when the lane's queue is at its bound.
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

/*
 * Like mps_workers_push_ex(), and on a lane with a queue timeout,
 * expired(arg) is called instead of fn(arg) when the task waited longer
 * than that before a thread was free for it. expired runs on a thread of
 * the workers (the lane's, or the one that watches the timeouts, which
 * serves every lane): it must not block; post to a strand. Exactly one
 * of fn, discard, expired runs after a successful push. With expired
 * NULL, the task never expires.
 */
apr_status_t mps_workers_push_timed(mps_workers_t *workers, mps_lane_t lane,
    mps_task_fn fn, mps_task_fn discard, mps_task_fn expired, void *arg);

/* True once mps_workers_destroy() has begun: pushes fail and tasks still
 * queued are discarded. Thread-safe. */
int mps_workers_stopping(mps_workers_t *workers);

/* Number of tasks queued and not yet started on a lane (for tests,
 * statistics and back-pressure). */
apr_size_t mps_workers_backlog(mps_workers_t *workers, mps_lane_t lane);

/* What a lane is doing (tests, statistics). */
typedef struct {
	apr_size_t queued;		/* waiting for a thread */
	apr_size_t running;		/* tasks running */
	apr_size_t threads;		/* threads alive */
	apr_size_t max_threads;
	apr_uint64_t refused_full;	/* pushes refused: queue full */
	apr_uint64_t refused_timeout;	/* tasks expired in the queue */
} mps_lane_stats_t;

apr_status_t mps_workers_lane_stats(mps_workers_t *workers, mps_lane_t lane,
    mps_lane_stats_t *st);

/* "io", "blocking", "device_auth", "console_auth", "notification". */
const char *mps_lane_name(mps_lane_t lane);

/*
 * Stops every lane: running tasks finish, queued tasks are discarded,
 * threads end. Idempotent. Must not be called from a task of these
 * workers (it would wait for itself): that aborts.
 */
void mps_workers_destroy(mps_workers_t *workers);

#endif /* MPS_WORKERS_H */
