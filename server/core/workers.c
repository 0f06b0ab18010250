/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workers.c: the two worker lanes, each an apr_thread_pool.
 *
 * Every task travels in a small malloc'd record. From push until it has
 * run (or been discarded) it counts as outstanding, and
 * mps_workers_destroy() raises the "stopping" flag and then waits for that
 * count to reach zero before it tears the thread pools down: records still
 * queued at that point go through the threads in "discard" mode, which
 * frees them and lets their owners free their arguments, instead of being
 * dropped inside APR with their memory.
 *
 * Three details of apr_thread_pool (apr-util 1.6) on APR 1.7 shape this
 * file:
 *  - apr_thread_pool_destroy() joins only the idle threads. A thread that
 *    was busy detaches and exits by itself, and the last thing it does is
 *    destroy a pool hanging off the thread pool's pool; freeing that pool
 *    meanwhile would pull memory from under it. So each thread that runs
 *    a task registers itself in thread-specific data whose destructor runs
 *    after APR's exit code, and destroy waits until all have gone.
 *  - every thread APR starts leaves a few dozen bytes in the thread pool's
 *    pool until that pool dies, so the lanes avoid churning threads: the
 *    I/O lane keeps whatever threads it grew, the blocking lane retires an
 *    idle thread only after a long wait.
 *  - apr_thread_pool_push() can fail after it has queued the task (when it
 *    could not start an extra thread); see mps_workers_push_ex().
 *  - apr_thread_pool_push() inserts by priority with a walk over every
 *    queued task of that priority: O(n) per push, quadratic in a burst
 *    (10,000 devices reconnecting put thousands of tasks in the queue,
 *    and the walk showed as a tenth of mpsd's CPU). So tasks wait in each
 *    lane's own FIFO, and the thread pool only ever holds "drainers", at
 *    most one per thread the lane may have: each drainer runs queued
 *    tasks until the FIFO is empty.
 */
#include "workers.h"
#include "mps_status.h"

#include <apr_thread_pool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LANE_COUNT		2
/* Bounds io_threads so that twice it stays a sane thread count. */
#define IO_THREADS_MAX		1024
/* An idle blocking thread beyond the first ones retires after this. */
#define BLOCKING_IDLE_WAIT	apr_time_from_sec(60)

struct task {
	mps_task_fn fn;
	mps_task_fn discard;
	void *arg;
	struct task *next;	/* in its lane's FIFO */
};

/* A lane: its thread pool, its FIFO of tasks, its drainers. */
struct lane {
	apr_thread_pool_t *tp;
	mps_workers_t *workers;
	pthread_mutex_t lock;	/* head, tail, queued, drainers */
	struct task *head, *tail;
	apr_size_t queued;	/* tasks in the FIFO */
	apr_size_t drainers;	/* drainers pushed and not yet returned */
	apr_size_t running;	/* drainers inside a task right now */
	apr_size_t max_drainers; /* the most threads the lane may run */
};

struct mps_workers_t {
	apr_pool_t *pool;	/* the thread pools live in it */
	struct lane lane[LANE_COUNT];
	atomic_int stopping;	/* pushes fail, queued tasks are discarded */
	atomic_int destroyed;	/* mps_workers_destroy() has been called */
	atomic_uint outstanding; /* pushed, not yet run or discarded */
	pthread_mutex_t mutex;	/* with cond: destroy's waits */
	pthread_cond_t cond;
	unsigned int threads;	/* registered threads alive (mutex) */
};

/*
 * One key for every instance: a worker thread belongs to exactly one
 * apr_thread_pool, so its value names its mps_workers_t.
 */
static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static int thread_key_error;

static void
thread_gone(void *value)
{
	mps_workers_t *workers = value;

	/* Runs from pthread_exit(), after APR has finished with the thread:
	 * from here on nothing of the thread pool is touched. */
	pthread_mutex_lock(&workers->mutex);
	if (--workers->threads == 0)
		pthread_cond_broadcast(&workers->cond);
	pthread_mutex_unlock(&workers->mutex);
}

static void
make_thread_key(void)
{
	thread_key_error = pthread_key_create(&thread_key, thread_gone);
}

static void
register_thread(mps_workers_t *workers)
{
	if (pthread_getspecific(thread_key) == workers)
		return;
	pthread_mutex_lock(&workers->mutex);
	if (pthread_setspecific(thread_key, workers) == 0)
		workers->threads++;
	pthread_mutex_unlock(&workers->mutex);
}

static void
task_done(mps_workers_t *workers)
{
	/* Both sides use sequentially consistent atomics: either destroy
	 * sees this task still outstanding, or this sees "stopping" and
	 * wakes destroy. */
	if (atomic_fetch_sub(&workers->outstanding, 1) == 1 &&
	    atomic_load(&workers->stopping)) {
		pthread_mutex_lock(&workers->mutex);
		pthread_cond_broadcast(&workers->cond);
		pthread_mutex_unlock(&workers->mutex);
	}
}

/* A drainer: runs the lane's queued tasks until there are none. */
static void *APR_THREAD_FUNC
drainer_main(apr_thread_t *thread, void *data)
{
	struct lane *lane = data;
	mps_workers_t *workers = lane->workers;
	struct task *task;

	register_thread(workers);
	pthread_mutex_lock(&lane->lock);
	for (;;) {
		task = lane->head;
		if (task == NULL) {
			/* Leaving while holding the lock: a push that sees
			 * this drainer counted will find the task taken. */
			lane->drainers--;
			pthread_mutex_unlock(&lane->lock);
			return NULL;
		}
		lane->head = task->next;
		if (lane->head == NULL)
			lane->tail = NULL;
		lane->queued--;
		lane->running++;
		pthread_mutex_unlock(&lane->lock);

		if (!atomic_load(&workers->stopping))
			task->fn(task->arg);
		else if (task->discard != NULL)
			task->discard(task->arg);
		free(task);
		task_done(workers);
		pthread_mutex_lock(&lane->lock);
		lane->running--;
	}
}

/*
 * Called with lane->lock held, after a task was queued: makes sure enough
 * drainers are free for the queue, up to the lane's thread count. A
 * drainer inside a task (a slow plugin on the blocking lane, a stuck task
 * on the I/O lane) does not count as free, so it never holds up the next
 * task while a thread could take it.
 */
static apr_status_t
lane_wake(struct lane *lane)
{
	apr_status_t rv;

	if (lane->drainers >= lane->max_drainers ||
	    lane->drainers - lane->running >= lane->queued)
		return APR_SUCCESS;
	lane->drainers++;
	rv = apr_thread_pool_push(lane->tp, drainer_main, lane,
	    APR_THREAD_TASK_PRIORITY_NORMAL, NULL);
	if (rv == APR_SUCCESS)
		return APR_SUCCESS;
	/*
	 * APR queues the task before it tries to start an extra thread, and
	 * reports that thread's failure (EAGAIN at the process's thread
	 * limit, say). With threads running, the drainer will run.
	 */
	if (rv != APR_ENOMEM && apr_thread_pool_threads_count(lane->tp) > 0)
		return APR_SUCCESS;
	lane->drainers--;
	/* Another drainer still running will take the task. */
	return lane->drainers > 0 ? APR_SUCCESS : rv;
}

apr_status_t
mps_workers_push_ex(mps_workers_t *workers, mps_lane_t lane_id,
    mps_task_fn fn, mps_task_fn discard, void *arg)
{
	struct task *task, **pp;
	struct lane *lane;
	apr_status_t rv;

	if (fn == NULL || (lane_id != MPS_LANE_IO && lane_id != MPS_LANE_BLOCKING))
		return APR_EINVAL;
	if (atomic_load(&workers->stopping))
		return MPS_ERR_SHUTDOWN;
	if ((task = malloc(sizeof(*task))) == NULL)
		return APR_ENOMEM;
	task->fn = fn;
	task->discard = discard;
	task->arg = arg;
	task->next = NULL;

	/* Count first, then look at the flag again: destroy raises the flag
	 * first, then reads the count (see task_done()). */
	atomic_fetch_add(&workers->outstanding, 1);
	if (atomic_load(&workers->stopping)) {
		free(task);
		task_done(workers);
		return MPS_ERR_SHUTDOWN;
	}
	lane = &workers->lane[lane_id];
	pthread_mutex_lock(&lane->lock);
	if (lane->tail != NULL)
		lane->tail->next = task;
	else
		lane->head = task;
	lane->tail = task;
	lane->queued++;
	rv = lane_wake(lane);
	if (rv != APR_SUCCESS) {
		/* No drainer will ever come: take the task back out. It is
		 * the tail, and nobody else can have taken it (no drainer). */
		for (pp = &lane->head; *pp != task; pp = &(*pp)->next)
			;
		*pp = NULL;
		lane->tail = NULL;
		for (pp = &lane->head; *pp != NULL; pp = &(*pp)->next)
			lane->tail = *pp;
		lane->queued--;
		pthread_mutex_unlock(&lane->lock);
		free(task);
		task_done(workers);
		return rv;
	}
	pthread_mutex_unlock(&lane->lock);
	return APR_SUCCESS;
}

apr_status_t
mps_workers_push(mps_workers_t *workers, mps_lane_t lane, mps_task_fn fn,
    void *arg)
{
	return mps_workers_push_ex(workers, lane, fn, NULL, arg);
}

int
mps_workers_stopping(mps_workers_t *workers)
{
	return atomic_load(&workers->stopping);
}

apr_size_t
mps_workers_backlog(mps_workers_t *workers, mps_lane_t lane)
{
	apr_size_t n = 0;

	if (lane != MPS_LANE_IO && lane != MPS_LANE_BLOCKING)
		return 0;
	/* Counted like a push, so that destroy cannot free the lane while
	 * it is being read. */
	atomic_fetch_add(&workers->outstanding, 1);
	if (!atomic_load(&workers->stopping)) {
		pthread_mutex_lock(&workers->lane[lane].lock);
		n = workers->lane[lane].queued;
		pthread_mutex_unlock(&workers->lane[lane].lock);
	}
	task_done(workers);
	return n;
}

static void
wait_outstanding(mps_workers_t *workers)
{
	pthread_mutex_lock(&workers->mutex);
	while (atomic_load(&workers->outstanding) > 0)
		pthread_cond_wait(&workers->cond, &workers->mutex);
	pthread_mutex_unlock(&workers->mutex);
}

static void
wait_threads_gone(mps_workers_t *workers)
{
	pthread_mutex_lock(&workers->mutex);
	while (workers->threads > 0)
		pthread_cond_wait(&workers->cond, &workers->mutex);
	pthread_mutex_unlock(&workers->mutex);
}

void
mps_workers_destroy(mps_workers_t *workers)
{
	int i;

	if (workers == NULL)
		return;
	if (pthread_getspecific(thread_key) == workers) {
		/* Waiting for our own task to finish would never end. */
		fputs("mps_workers_destroy() called from one of its own "
		    "worker threads\n", stderr);
		abort();
	}
	if (atomic_exchange(&workers->destroyed, 1))
		return;
	atomic_store(&workers->stopping, 1);
	wait_outstanding(workers);
	for (i = 0; i < LANE_COUNT; i++)
		(void)apr_thread_pool_destroy(workers->lane[i].tp);
	wait_threads_gone(workers);
	apr_pool_destroy(workers->pool);
	workers->pool = NULL;
}

static apr_status_t
workers_cleanup(void *data)
{
	mps_workers_t *workers = data;

	/* Normally a no-op: destroy has run. If the owner destroys the pool
	 * first, stop the threads before their memory goes. */
	mps_workers_destroy(workers);
	pthread_cond_destroy(&workers->cond);
	pthread_mutex_destroy(&workers->mutex);
	return APR_SUCCESS;
}

static apr_status_t
lane_create(struct lane *lane, mps_workers_t *workers, apr_size_t init,
    apr_size_t max, apr_size_t idle_max, apr_interval_time_t idle_wait)
{
	apr_thread_pool_t **tp = &lane->tp;
	apr_status_t rv;

	lane->workers = workers;
	lane->max_drainers = max;
	rv = apr_thread_pool_create(tp, init, max, workers->pool);
	if (rv != APR_SUCCESS)
		return rv;
	/* Start another thread (up to max) as soon as a task finds every
	 * thread busy: APR's default waits until init/2 tasks queue up. */
	(void)apr_thread_pool_threshold_set(*tp, 0);
	(void)apr_thread_pool_idle_max_set(*tp, idle_max);
	(void)apr_thread_pool_idle_wait_set(*tp, idle_wait);
	return APR_SUCCESS;
}

static int
default_io_threads(void)
{
	long n;

	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 2;
	return n > IO_THREADS_MAX ? IO_THREADS_MAX : (int)n;
}

static apr_status_t
start_lanes(mps_workers_t *workers, int io_threads, int blocking_threads)
{
	apr_size_t io, blocking, blocking_init;
	apr_status_t rv;

	io = (apr_size_t)io_threads;
	blocking = (apr_size_t)blocking_threads;
	blocking_init = blocking < 2 ? blocking : 2;
	/* The I/O lane keeps every thread it grows (idle_max = max). */
	rv = lane_create(&workers->lane[MPS_LANE_IO], workers, io, 2 * io,
	    2 * io, 0);
	if (rv != APR_SUCCESS)
		return rv;
	return lane_create(&workers->lane[MPS_LANE_BLOCKING], workers,
	    blocking_init, blocking, blocking_init, BLOCKING_IDLE_WAIT);
}

apr_status_t
mps_workers_create(mps_workers_t **workersp, int io_threads,
    int blocking_threads, apr_pool_t *pool)
{
	mps_workers_t *workers;
	apr_status_t rv;
	int i;

	*workersp = NULL;
	if (io_threads < 0 || io_threads > IO_THREADS_MAX ||
	    blocking_threads < 1 || blocking_threads > IO_THREADS_MAX)
		return APR_EINVAL;
	if (pthread_once(&thread_key_once, make_thread_key) != 0 ||
	    thread_key_error != 0)
		return thread_key_error ? thread_key_error : APR_EGENERAL;
	if (io_threads == 0)
		io_threads = default_io_threads();
	if (io_threads < 2)
		io_threads = 2;

	workers = apr_pcalloc(pool, sizeof(*workers));
	atomic_init(&workers->stopping, 0);
	atomic_init(&workers->destroyed, 0);
	atomic_init(&workers->outstanding, 0);
	if ((rv = pthread_mutex_init(&workers->mutex, NULL)) != 0)
		return rv;
	if ((rv = pthread_cond_init(&workers->cond, NULL)) != 0) {
		pthread_mutex_destroy(&workers->mutex);
		return rv;
	}
	for (i = 0; i < LANE_COUNT; i++)
		pthread_mutex_init(&workers->lane[i].lock, NULL);
	if ((rv = apr_pool_create(&workers->pool, pool)) != APR_SUCCESS)
		goto fail;
	if ((rv = start_lanes(workers, io_threads, blocking_threads)) !=
	    APR_SUCCESS) {
		/* Destroying the pool stops whatever threads did start. */
		apr_pool_destroy(workers->pool);
		goto fail;
	}
	/* A pre-cleanup, so that it runs before the thread pools' own
	 * cleanups (they live in a child pool). */
	apr_pool_pre_cleanup_register(pool, workers, workers_cleanup);
	*workersp = workers;
	return APR_SUCCESS;

fail:
	pthread_cond_destroy(&workers->cond);
	pthread_mutex_destroy(&workers->mutex);
	return rv;
}
