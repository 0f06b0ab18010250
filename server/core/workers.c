/* SPDX-License-Identifier: Apache-2.0 */
/*
 * workers.c: the lanes (see workers.h), each a FIFO served by threads of
 * its own.
 *
 * Every task travels in a small malloc'd record. From push until it has
 * run, expired or been discarded it counts as outstanding, and
 * mps_workers_destroy() raises the "stopping" flag and then waits for that
 * count to reach zero: records still queued at that point go through the
 * threads in "discard" mode, which frees them and lets their owners free
 * their arguments.
 *
 * WHY NOT apr_thread_pool. The lanes used to sit on apr_thread_pool
 * (apr-util 1.6), which counts a thread as idle from the moment a push
 * signals it until that thread takes the pool's lock again. A second push
 * in that window sees the same idle thread, starts no thread, and its
 * task waits in APR's queue until the first task ends. Harmless for short
 * tasks; fatal for blocking ones. With notifications on a lane of their
 * own (one idle thread at first), the first subscriber's delivery and the
 * second's were pushed back to back: both landed on one thread, the first
 * hung (a subscriber that never answers), and the second subscriber got
 * nothing until the hang ended (test_notify's test_hang_delays_no_other
 * and test_destroy_drops_and_waits failed nearly every run). A hung
 * authentication backend would do the same to the logins queued behind
 * it while the lane still had threads to spare.
 *
 * So a lane counts its idle threads itself, and a push CLAIMS one: it
 * takes it off the idle count (idle--, wakeups++) before it signals, so
 * that the next push sees one idle thread fewer and starts a thread of
 * its own if none is left (up to the lane's limit). A waiting thread
 * leaves its wait only by taking a claim (wakeups--), by retiring after
 * its idle wait unclaimed, or at stop. Invariant, under the lane's lock:
 * threads inside the wait = idle + wakeups. So every queued task has a
 * thread on its way, or the lane is at its thread limit with every
 * thread busy: a task waits only behind its own lane's work.
 *
 * QUEUE BOUNDS. A push that would leave more than queue_max tasks WAITING
 * is refused (MPS_ERR_QUEUE_FULL); a task a thread is already on its way
 * to (claimed, or just created) does not wait.
 * A task pushed with an "expired" callback on a lane with a queue
 * timeout carries a deadline; one thread (the reaper, started only when
 * some lane has a timeout) waits for the earliest deadline at the head of
 * those lanes and hands expired tasks to their callback. It must exist
 * apart from the lane's threads: when the lane's backend hangs, every one
 * of them is stuck, and that is exactly when the queue must still move.
 * A lane thread that picks a task past its deadline expires it as well.
 */
#include "workers.h"
#include "metrics.h"
#include "mps_status.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Bounds io_threads so that twice it stays a sane thread count. */
#define IO_THREADS_MAX		1024
#define LANE_THREADS_MAX	1024
/* Idle threads a blocking lane keeps; others retire after IDLE_WAIT. */
#define BLOCKING_KEEP		2
#define BLOCKING_IDLE_WAIT	apr_time_from_sec(60)
/* The queue timeout is capped so that deadlines cannot overflow. */
#define QUEUE_TIMEOUT_MAX	apr_time_from_sec(86400)

typedef char lanes_match_metrics[MPS_LANE_COUNT == MPS_METRICS_LANES ? 1 :
    -1];

static const char *const lane_names[MPS_LANE_COUNT] = {
	"io", "blocking", "device_auth", "console_auth", "notification"
};

struct task {
	mps_task_fn fn;
	mps_task_fn discard;
	mps_task_fn expired;
	void *arg;
	int64_t deadline;	/* monotonic usec; 0: never expires */
	struct task *next;	/* in its lane's FIFO */
};

struct lane {
	mps_workers_t *workers;
	mps_lane_t id;
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t cond;	/* a claim for a waiting thread, or stop */
	struct task *head, *tail;
	apr_size_t queued;	/* tasks in the FIFO */
	apr_size_t threads;	/* threads alive */
	apr_size_t idle;	/* waiting, not claimed by a push */
	apr_size_t wakeups;	/* claims no waiting thread took yet */
	apr_size_t running;	/* threads inside a task */
	apr_size_t starting;	/* threads created that have not yet
				 * looked at the FIFO */
	apr_size_t max_threads;
	apr_size_t keep;	/* idle threads that never retire */
	apr_interval_time_t idle_wait;	/* 0: idle threads never retire */
	apr_size_t queue_max;	/* 0: unbounded */
	apr_interval_time_t queue_timeout;	/* 0: none */
	apr_uint64_t refused_full, refused_timeout;
	int stop;		/* threads leave (set after outstanding is 0) */
	int gauges;		/* keep the metrics gauges (not the I/O lane) */
};

struct mps_workers_t {
	struct lane lane[MPS_LANE_COUNT];
	atomic_int stopping;	/* pushes fail, queued tasks are discarded */
	atomic_int destroyed;	/* mps_workers_destroy() has been called */
	atomic_uint outstanding; /* pushed, not yet run, expired or discarded */
	pthread_mutex_t mutex;	/* with cond: destroy's waits */
	pthread_cond_t cond;
	unsigned int threads;	/* lane threads alive (mutex) */
	/* The reaper of expired tasks. */
	int has_reaper;
	pthread_t reaper;
	pthread_mutex_t reap_lock;	/* reap_kick, reap_stop */
	pthread_cond_t reap_cond;
	int reap_kick;		/* a timed lane went from empty to not */
	int reap_stop;
	int sync_made;		/* how far create got (for cleanup) */
};

/* The workers whose thread this is, to catch destroy from a task. */
static __thread mps_workers_t *thread_workers;

static int64_t
now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timespec
abs_time(int64_t usec)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(usec / 1000000);
	ts.tv_nsec = (long)(usec % 1000000) * 1000;
	return ts;
}

/* A condition variable on the monotonic clock (deadlines are). */
static int
cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int e;

	if ((e = pthread_condattr_init(&attr)) != 0)
		return e;
	e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (e == 0)
		e = pthread_cond_init(cond, &attr);
	(void)pthread_condattr_destroy(&attr);
	return e;
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

/* Lock held: the lane's queue and running counts changed by these. */
static void
lane_gauges(const struct lane *lane, int64_t queued, int64_t running)
{
	if (lane->gauges)
		mps_metric_lane_gauges((unsigned)lane->id, queued, running);
}

/* Runs, expires or discards one task taken off a lane's queue. */
static void
run_task(mps_workers_t *workers, struct lane *lane, struct task *task)
{
	if (atomic_load(&workers->stopping)) {
		if (task->discard != NULL)
			task->discard(task->arg);
	} else if (task->deadline != 0 && now_usec() >= task->deadline) {
		pthread_mutex_lock(&lane->lock);
		lane->refused_timeout++;
		pthread_mutex_unlock(&lane->lock);
		mps_metric_lane_refused((unsigned)lane->id,
		    MPS_LANE_REFUSED_TIMEOUT);
		task->expired(task->arg);
	} else
		task->fn(task->arg);
	free(task);
	task_done(workers);
}

/* Set once at startup, read by every thread as it ends. */
static void (*_Atomic thread_end_hook)(void);

void
mps_workers_on_thread_end(void (*fn)(void))
{
	atomic_store(&thread_end_hook, fn);
}

static void
thread_gone(mps_workers_t *workers)
{
	void (*end)(void) = atomic_load(&thread_end_hook);

	if (end != NULL)
		end();
	/* The last thing the thread does with the workers: after this
	 * unlock, destroy may free them. */
	pthread_mutex_lock(&workers->mutex);
	if (--workers->threads == 0)
		pthread_cond_broadcast(&workers->cond);
	pthread_mutex_unlock(&workers->mutex);
}

/*
 * Lock held, no task queued: waits for a claim. Returns 1 when the thread
 * should look at the queue again, 0 when it should end (stop, or retired
 * after its idle wait with more threads than the lane keeps).
 */
static int
wait_for_work(struct lane *lane)
{
	struct timespec until;
	int timed = 0, rc = 0;

	lane->idle++;
	if (lane->idle_wait > 0) {
		until = abs_time(now_usec() + lane->idle_wait);
		timed = 1;
	}
	for (;;) {
		if (lane->wakeups > 0) {
			/* A push claimed a waiting thread (it already took
			 * one off idle): this one answers. */
			lane->wakeups--;
			return 1;
		}
		if (lane->stop) {
			lane->idle--;
			return 0;
		}
		if (rc == ETIMEDOUT) {
			if (lane->threads > lane->keep) {
				lane->idle--;
				return 0;
			}
			timed = 0;	/* one of the ones kept: wait on */
		}
		if (timed && lane->threads > lane->keep)
			rc = pthread_cond_timedwait(&lane->cond, &lane->lock,
			    &until);
		else {
			(void)pthread_cond_wait(&lane->cond, &lane->lock);
			rc = 0;
		}
	}
}

static void *
lane_main(void *arg)
{
	struct lane *lane = arg;
	mps_workers_t *workers = lane->workers;
	struct task *task;

	thread_workers = workers;
	pthread_mutex_lock(&lane->lock);
	lane->starting--;
	for (;;) {
		task = lane->head;
		if (task == NULL) {
			if (lane->stop || !wait_for_work(lane))
				break;
			continue;
		}
		lane->head = task->next;
		if (lane->head == NULL)
			lane->tail = NULL;
		lane->queued--;
		lane->running++;
		lane_gauges(lane, -1, 1);
		pthread_mutex_unlock(&lane->lock);
		run_task(workers, lane, task);
		pthread_mutex_lock(&lane->lock);
		lane->running--;
		lane_gauges(lane, 0, -1);
	}
	lane->threads--;
	pthread_mutex_unlock(&lane->lock);
	thread_gone(workers);
	return NULL;
}

/* Lock held: one more thread for the lane. */
static apr_status_t
lane_spawn(struct lane *lane)
{
	mps_workers_t *workers = lane->workers;
	pthread_attr_t attr;
	pthread_t t;
	int e;

	if ((e = pthread_attr_init(&attr)) != 0)
		return APR_FROM_OS_ERROR(e);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_mutex_lock(&workers->mutex);
	workers->threads++;
	pthread_mutex_unlock(&workers->mutex);
	lane->threads++;
	lane->starting++;
	e = pthread_create(&t, &attr, lane_main, lane);
	(void)pthread_attr_destroy(&attr);
	if (e == 0)
		return APR_SUCCESS;
	lane->threads--;
	lane->starting--;
	pthread_mutex_lock(&workers->mutex);
	workers->threads--;
	pthread_mutex_unlock(&workers->mutex);
	return APR_FROM_OS_ERROR(e);
}

static void
kick_reaper(mps_workers_t *workers)
{
	pthread_mutex_lock(&workers->reap_lock);
	workers->reap_kick = 1;
	pthread_cond_signal(&workers->reap_cond);
	pthread_mutex_unlock(&workers->reap_lock);
}

apr_status_t
mps_workers_push_timed(mps_workers_t *workers, mps_lane_t lane_id,
    mps_task_fn fn, mps_task_fn discard, mps_task_fn expired, void *arg)
{
	struct task *task, **pp;
	struct lane *lane;
	apr_status_t rv = APR_SUCCESS;
	int signal = 0, first = 0;

	if (fn == NULL || (unsigned)lane_id >= MPS_LANE_COUNT)
		return APR_EINVAL;
	if (atomic_load(&workers->stopping))
		return MPS_ERR_SHUTDOWN;
	if ((task = malloc(sizeof(*task))) == NULL)
		return APR_ENOMEM;
	lane = &workers->lane[lane_id];
	task->fn = fn;
	task->discard = discard;
	task->expired = expired;
	task->arg = arg;
	task->next = NULL;
	task->deadline = expired != NULL && lane->queue_timeout > 0 ?
	    now_usec() + lane->queue_timeout : 0;

	/* Count first, then look at the flag again: destroy raises the flag
	 * first, then reads the count (see task_done()). */
	atomic_fetch_add(&workers->outstanding, 1);
	if (atomic_load(&workers->stopping)) {
		free(task);
		task_done(workers);
		return MPS_ERR_SHUTDOWN;
	}
	pthread_mutex_lock(&lane->lock);
	/* The bound is on tasks that will WAIT: those a thread is already
	 * on its way to (a claimed idle one, or one just created) do not
	 * count. Counting them refused, in a burst faster than threads
	 * start, logins the lane had threads for (4 threads and a queue of
	 * 8 took 9 logins of a storm, not 12, on a loaded machine). */
	if (lane->queue_max > 0 &&
	    lane->queued >= lane->queue_max + lane->wakeups + lane->starting) {
		lane->refused_full++;
		pthread_mutex_unlock(&lane->lock);
		mps_metric_lane_refused((unsigned)lane_id,
		    MPS_LANE_REFUSED_FULL);
		free(task);
		task_done(workers);
		return MPS_ERR_QUEUE_FULL;
	}
	if (lane->tail != NULL)
		lane->tail->next = task;
	else
		lane->head = task;
	lane->tail = task;
	first = ++lane->queued == 1;
	lane_gauges(lane, 1, 0);
	if (lane->idle > 0) {
		/* Claim a waiting thread: the next push will not count it. */
		lane->idle--;
		lane->wakeups++;
		signal = 1;
	} else if (lane->threads < lane->max_threads) {
		rv = lane_spawn(lane);
		/* With threads alive, one of them will come to the task. */
		if (rv != APR_SUCCESS && lane->threads > 0)
			rv = APR_SUCCESS;
	}
	if (rv != APR_SUCCESS) {
		/* No thread will ever come: take the task back out. It is
		 * the tail, and nobody can have taken it (no thread). */
		for (pp = &lane->head; *pp != task; pp = &(*pp)->next)
			;
		*pp = NULL;
		lane->tail = NULL;
		for (pp = &lane->head; *pp != NULL; pp = &(*pp)->next)
			lane->tail = *pp;
		lane->queued--;
		lane_gauges(lane, -1, 0);
		pthread_mutex_unlock(&lane->lock);
		free(task);
		task_done(workers);
		return rv;
	}
	/*
	 * Both under the lane's lock: until it is released no thread can
	 * take the task, so it is outstanding and destroy cannot have gone
	 * past its wait (nor the workers' memory away) meanwhile. The
	 * reaper waits for the earliest head; a task behind an earlier one
	 * changes nothing for it. (Lock order: lane, then reaper.)
	 */
	if (signal)
		pthread_cond_signal(&lane->cond);
	if (first && task->deadline != 0 && workers->has_reaper)
		kick_reaper(workers);
	pthread_mutex_unlock(&lane->lock);
	return APR_SUCCESS;
}

apr_status_t
mps_workers_push_ex(mps_workers_t *workers, mps_lane_t lane, mps_task_fn fn,
    mps_task_fn discard, void *arg)
{
	return mps_workers_push_timed(workers, lane, fn, discard, NULL, arg);
}

apr_status_t
mps_workers_push(mps_workers_t *workers, mps_lane_t lane, mps_task_fn fn,
    void *arg)
{
	return mps_workers_push_timed(workers, lane, fn, NULL, NULL, arg);
}

int
mps_workers_stopping(mps_workers_t *workers)
{
	return atomic_load(&workers->stopping);
}

apr_status_t
mps_workers_lane_stats(mps_workers_t *workers, mps_lane_t lane_id,
    mps_lane_stats_t *st)
{
	struct lane *lane;

	if (workers == NULL || st == NULL || (unsigned)lane_id >= MPS_LANE_COUNT)
		return APR_EINVAL;
	lane = &workers->lane[lane_id];
	pthread_mutex_lock(&lane->lock);
	st->queued = lane->queued;
	st->running = lane->running;
	st->threads = lane->threads;
	st->max_threads = lane->max_threads;
	st->refused_full = lane->refused_full;
	st->refused_timeout = lane->refused_timeout;
	pthread_mutex_unlock(&lane->lock);
	return APR_SUCCESS;
}

apr_size_t
mps_workers_backlog(mps_workers_t *workers, mps_lane_t lane)
{
	mps_lane_stats_t st;

	if (mps_workers_lane_stats(workers, lane, &st) != APR_SUCCESS)
		return 0;
	return st.queued;
}

const char *
mps_lane_name(mps_lane_t lane)
{
	return (unsigned)lane < MPS_LANE_COUNT ? lane_names[lane] : "?";
}

/* ---- the reaper ---------------------------------------------------------- */

/*
 * Takes the expired tasks off one lane and runs their callbacks. Returns
 * the deadline of the earliest task left that can expire, or 0.
 */
static int64_t
reap_lane(mps_workers_t *workers, struct lane *lane)
{
	struct task *expired = NULL, **tailp = &expired, *prev = NULL, *t;
	int64_t now = now_usec(), next = 0;
	apr_size_t n = 0;

	pthread_mutex_lock(&lane->lock);
	t = lane->head;
	while (t != NULL) {
		if (t->deadline == 0) {
			prev = t;
			t = t->next;
			continue;
		}
		if (t->deadline > now) {
			/* FIFO with one timeout: the rest are later. */
			next = t->deadline;
			break;
		}
		if (prev != NULL)
			prev->next = t->next;
		else
			lane->head = t->next;
		if (lane->tail == t)
			lane->tail = prev;
		*tailp = t;
		tailp = &t->next;
		t = t->next;
		*tailp = NULL;
		lane->queued--;
		lane->refused_timeout++;
		n++;
	}
	lane_gauges(lane, -(int64_t)n, 0);
	pthread_mutex_unlock(&lane->lock);

	while ((t = expired) != NULL) {
		expired = t->next;
		mps_metric_lane_refused((unsigned)lane->id,
		    MPS_LANE_REFUSED_TIMEOUT);
		t->expired(t->arg);
		free(t);
		task_done(workers);
	}
	return next;
}

static void *
reaper_main(void *arg)
{
	mps_workers_t *workers = arg;
	struct timespec until;
	int64_t next, t;
	int i;

	thread_workers = workers;
	pthread_mutex_lock(&workers->reap_lock);
	while (!workers->reap_stop) {
		workers->reap_kick = 0;
		pthread_mutex_unlock(&workers->reap_lock);
		next = 0;
		/* While stopping, the lanes' threads discard what is queued. */
		if (!atomic_load(&workers->stopping))
			for (i = 0; i < MPS_LANE_COUNT; i++) {
				if (workers->lane[i].queue_timeout == 0)
					continue;
				t = reap_lane(workers, &workers->lane[i]);
				if (t != 0 && (next == 0 || t < next))
					next = t;
			}
		pthread_mutex_lock(&workers->reap_lock);
		if (workers->reap_kick || workers->reap_stop)
			continue;
		if (next == 0)
			(void)pthread_cond_wait(&workers->reap_cond,
			    &workers->reap_lock);
		else {
			until = abs_time(next);
			(void)pthread_cond_timedwait(&workers->reap_cond,
			    &workers->reap_lock, &until);
		}
	}
	pthread_mutex_unlock(&workers->reap_lock);
	return NULL;
}

/* ---- stop ---------------------------------------------------------------- */

static void
wait_outstanding(mps_workers_t *workers)
{
	pthread_mutex_lock(&workers->mutex);
	while (atomic_load(&workers->outstanding) > 0)
		pthread_cond_wait(&workers->cond, &workers->mutex);
	pthread_mutex_unlock(&workers->mutex);
}

static void
stop_threads(mps_workers_t *workers)
{
	int i;

	if (workers->has_reaper) {
		pthread_mutex_lock(&workers->reap_lock);
		workers->reap_stop = 1;
		pthread_cond_signal(&workers->reap_cond);
		pthread_mutex_unlock(&workers->reap_lock);
		pthread_join(workers->reaper, NULL);
	}
	for (i = 0; i < MPS_LANE_COUNT; i++) {
		pthread_mutex_lock(&workers->lane[i].lock);
		workers->lane[i].stop = 1;
		pthread_cond_broadcast(&workers->lane[i].cond);
		pthread_mutex_unlock(&workers->lane[i].lock);
	}
	pthread_mutex_lock(&workers->mutex);
	while (workers->threads > 0)
		pthread_cond_wait(&workers->cond, &workers->mutex);
	pthread_mutex_unlock(&workers->mutex);
}

void
mps_workers_destroy(mps_workers_t *workers)
{
	if (workers == NULL)
		return;
	if (thread_workers == workers) {
		/* Waiting for our own task to finish would never end. */
		fputs("mps_workers_destroy() called from one of its own "
		    "worker threads\n", stderr);
		abort();
	}
	if (atomic_exchange(&workers->destroyed, 1))
		return;
	atomic_store(&workers->stopping, 1);
	wait_outstanding(workers);
	stop_threads(workers);
}

/* ---- start --------------------------------------------------------------- */

static void
sync_destroy(mps_workers_t *workers)
{
	int i;

	for (i = 0; i < workers->sync_made - 2 && i < MPS_LANE_COUNT; i++) {
		pthread_cond_destroy(&workers->lane[i].cond);
		pthread_mutex_destroy(&workers->lane[i].lock);
	}
	if (workers->sync_made >= 2) {
		pthread_cond_destroy(&workers->reap_cond);
		pthread_mutex_destroy(&workers->reap_lock);
	}
	if (workers->sync_made >= 1) {
		pthread_cond_destroy(&workers->cond);
		pthread_mutex_destroy(&workers->mutex);
	}
	workers->sync_made = 0;
}

static apr_status_t
workers_cleanup(void *data)
{
	mps_workers_t *workers = data;

	/* Normally only the mutexes are left: destroy has run. If the owner
	 * destroys the pool first, stop the threads before their memory
	 * goes. */
	mps_workers_destroy(workers);
	sync_destroy(workers);
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

void
mps_workers_options_init(mps_workers_options_t *opt, int io_threads,
    int blocking_threads)
{
	int i;

	memset(opt, 0, sizeof(*opt));
	opt->io_threads = io_threads;
	for (i = 0; i < MPS_LANE_COUNT; i++)
		opt->lanes[i].threads = blocking_threads;
}

static int
options_valid(const mps_workers_options_t *opt)
{
	int i;

	if (opt == NULL || opt->io_threads < 0 ||
	    opt->io_threads > IO_THREADS_MAX)
		return 0;
	for (i = 0; i < MPS_LANE_COUNT; i++) {
		if (i == MPS_LANE_IO)
			continue;
		if (opt->lanes[i].threads < 1 ||
		    opt->lanes[i].threads > LANE_THREADS_MAX ||
		    opt->lanes[i].queue_timeout < 0 ||
		    opt->lanes[i].queue_timeout > QUEUE_TIMEOUT_MAX)
			return 0;
	}
	return 1;
}

/* Mutexes and condition variables; sync_made says how far it got. */
static apr_status_t
sync_create(mps_workers_t *workers)
{
	int e, i;

	if ((e = pthread_mutex_init(&workers->mutex, NULL)) != 0)
		return APR_FROM_OS_ERROR(e);
	if ((e = pthread_cond_init(&workers->cond, NULL)) != 0) {
		pthread_mutex_destroy(&workers->mutex);
		return APR_FROM_OS_ERROR(e);
	}
	workers->sync_made = 1;
	if ((e = pthread_mutex_init(&workers->reap_lock, NULL)) != 0)
		return APR_FROM_OS_ERROR(e);
	if ((e = cond_init_monotonic(&workers->reap_cond)) != 0) {
		pthread_mutex_destroy(&workers->reap_lock);
		return APR_FROM_OS_ERROR(e);
	}
	workers->sync_made = 2;
	for (i = 0; i < MPS_LANE_COUNT; i++) {
		if ((e = pthread_mutex_init(&workers->lane[i].lock, NULL)) != 0)
			return APR_FROM_OS_ERROR(e);
		if ((e = cond_init_monotonic(&workers->lane[i].cond)) != 0) {
			pthread_mutex_destroy(&workers->lane[i].lock);
			return APR_FROM_OS_ERROR(e);
		}
		workers->sync_made++;
	}
	return APR_SUCCESS;
}

static void
lanes_configure(mps_workers_t *workers, const mps_workers_options_t *opt)
{
	struct lane *lane;
	int i, io;

	io = opt->io_threads == 0 ? default_io_threads() : opt->io_threads;
	if (io < 2)
		io = 2;
	for (i = 0; i < MPS_LANE_COUNT; i++) {
		lane = &workers->lane[i];
		lane->workers = workers;
		lane->id = (mps_lane_t)i;
		if (i == MPS_LANE_IO) {
			/* Keeps every thread it grows: strands come back
			 * all the time. */
			lane->max_threads = 2 * (apr_size_t)io;
			lane->keep = lane->max_threads;
			lane->idle_wait = 0;
			continue;
		}
		lane->max_threads = (apr_size_t)opt->lanes[i].threads;
		lane->keep = lane->max_threads < BLOCKING_KEEP ?
		    lane->max_threads : BLOCKING_KEEP;
		lane->idle_wait = BLOCKING_IDLE_WAIT;
		lane->queue_max = opt->lanes[i].queue_max;
		lane->queue_timeout = opt->lanes[i].queue_timeout;
		lane->gauges = 1;
		if (lane->queue_timeout > 0)
			workers->has_reaper = 1;
	}
}

apr_status_t
mps_workers_create_ex(mps_workers_t **workersp,
    const mps_workers_options_t *opt, apr_pool_t *pool)
{
	mps_workers_t *workers;
	struct lane *io;
	apr_status_t rv;
	apr_size_t n;
	int e;

	*workersp = NULL;
	if (!options_valid(opt))
		return APR_EINVAL;
	workers = apr_pcalloc(pool, sizeof(*workers));
	atomic_init(&workers->stopping, 0);
	atomic_init(&workers->destroyed, 0);
	atomic_init(&workers->outstanding, 0);
	if ((rv = sync_create(workers)) != APR_SUCCESS) {
		sync_destroy(workers);
		return rv;
	}
	lanes_configure(workers, opt);
	/* A pre-cleanup, so that it runs before anything else of the pool
	 * the threads might use goes. */
	apr_pool_pre_cleanup_register(pool, workers, workers_cleanup);
	if (workers->has_reaper &&
	    (e = pthread_create(&workers->reaper, NULL, reaper_main,
	    workers)) != 0) {
		workers->has_reaper = 0;	/* no push has seen it yet */
		rv = APR_FROM_OS_ERROR(e);
		goto fail;
	}
	/* The I/O lane starts with its threads; the others on demand. */
	io = &workers->lane[MPS_LANE_IO];
	pthread_mutex_lock(&io->lock);
	for (n = 0; n < io->max_threads / 2 && rv == APR_SUCCESS; n++)
		rv = lane_spawn(io);
	pthread_mutex_unlock(&io->lock);
	if (rv != APR_SUCCESS)
		goto fail;
	*workersp = workers;
	return APR_SUCCESS;

fail:
	/* The cleanup stays registered: it only frees the mutexes. */
	mps_workers_destroy(workers);
	return rv;
}

apr_status_t
mps_workers_create(mps_workers_t **workersp, int io_threads,
    int blocking_threads, apr_pool_t *pool)
{
	mps_workers_options_t opt;

	mps_workers_options_init(&opt, io_threads, blocking_threads);
	return mps_workers_create_ex(workersp, &opt, pool);
}
