/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_core.c: the concurrency core: worker lanes, strands, timers and the
 * poller, driven by real threads, real timers and real loopback sockets.
 *
 * Every wait has a deadline, so a broken core fails a test instead of
 * hanging it. Timing bounds are generous (a loaded CI machine, valgrind)
 * but tight enough that the property checked would break them: a timer
 * that waits for the wrong wakeup is seconds late, not milliseconds.
 */
#include "unit.h"

#include "gate.h"
#include "keyed_sets.h"
#include "metrics.h"
#include "mps_status.h"
#include "poller.h"
#include "strand.h"
#include "timer.h"
#include "workers.h"

#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_time.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Slack allowed on top of a timer's delay before it counts as late. */
#define LATE_MS		250

/* ------------------------------------------------------------------ */
/* Waiting with deadlines */

struct latch {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	long count;
};

static void
latch_init(struct latch *latch)
{
	pthread_condattr_t attr;

	ck_assert_int_eq(pthread_mutex_init(&latch->mutex, NULL), 0);
	ck_assert_int_eq(pthread_condattr_init(&attr), 0);
	ck_assert_int_eq(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
	ck_assert_int_eq(pthread_cond_init(&latch->cond, &attr), 0);
	pthread_condattr_destroy(&attr);
	latch->count = 0;
}

static void
latch_destroy(struct latch *latch)
{
	pthread_cond_destroy(&latch->cond);
	pthread_mutex_destroy(&latch->mutex);
}

static void
latch_add(struct latch *latch, long n)
{
	pthread_mutex_lock(&latch->mutex);
	latch->count += n;
	pthread_cond_broadcast(&latch->cond);
	pthread_mutex_unlock(&latch->mutex);
}

static long
latch_get(struct latch *latch)
{
	long n;

	pthread_mutex_lock(&latch->mutex);
	n = latch->count;
	pthread_mutex_unlock(&latch->mutex);
	return n;
}

static void
deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Waits until the count reaches target; returns whether it did in time. */
static int
latch_wait(struct latch *latch, long target, long timeout_ms)
{
	struct timespec deadline;
	int reached;

	deadline_in(&deadline, timeout_ms);
	pthread_mutex_lock(&latch->mutex);
	while (latch->count < target &&
	    pthread_cond_timedwait(&latch->cond, &latch->mutex,
	    &deadline) != ETIMEDOUT)
		;
	reached = latch->count >= target;
	pthread_mutex_unlock(&latch->mutex);
	return reached;
}

/* A gate is a latch that blocked tasks wait on until it opens. */
static int
gate_wait(struct latch *gate, long timeout_ms)
{
	return latch_wait(gate, 1, timeout_ms);
}

static long
ms_since(apr_time_t start)
{
	return (long)apr_time_as_msec(apr_time_now() - start);
}

/* ------------------------------------------------------------------ */
/* Fixture: workers, a poller running in its own thread */

static apr_pool_t *pool;
static mps_workers_t *workers;
static mps_poller_t *poller;
static mps_timers_t *timers;
static pthread_t poller_thread;
static apr_status_t poller_rv;

static void *
poller_main(void *arg)
{
	poller_rv = mps_poller_run(arg);
	return NULL;
}

static void
setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	/* 0: as many I/O threads as CPUs, at least two. */
	ck_assert_int_eq(mps_workers_create(&workers, 0, 4, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_poller_create(&poller, 1024, workers, pool),
	    APR_SUCCESS);
	timers = mps_poller_timers(poller);
	ck_assert_ptr_nonnull(timers);
	poller_rv = -1;
	ck_assert_int_eq(pthread_create(&poller_thread, NULL, poller_main,
	    poller), 0);
}

static void
teardown(void)
{
	mps_poller_stop(poller);
	pthread_join(poller_thread, NULL);
	ck_assert_int_eq(poller_rv, APR_SUCCESS);
	mps_workers_destroy(workers);
	apr_pool_destroy(pool);
	pool = NULL;
}

static mps_strand_t *
new_strand(void)
{
	mps_strand_t *strand = mps_strand_create(workers);

	ck_assert_ptr_nonnull(strand);
	return strand;
}

/* ------------------------------------------------------------------ */
/* Worker lanes */

static struct latch lane_done;

static void
count_task(void *arg)
{
	latch_add(arg, 1);
}

static void
count_discard(void *arg)
{
	latch_add(arg, 1000);
}

START_TEST(workers_lanes)
{
	mps_workers_t *w;
	int i;

	latch_init(&lane_done);
	for (i = 0; i < 100; i++) {
		ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_IO,
		    count_task, &lane_done), APR_SUCCESS);
		ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_BLOCKING,
		    count_task, &lane_done), APR_SUCCESS);
	}
	ck_assert_msg(latch_wait(&lane_done, 200, 5000),
	    "only %ld of 200 tasks ran", latch_get(&lane_done));
	ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_IO, NULL, NULL),
	    APR_EINVAL);
	ck_assert_int_eq(mps_workers_push(workers, (mps_lane_t)7, count_task,
	    &lane_done), APR_EINVAL);
	ck_assert_int_eq(mps_workers_stopping(workers), 0);
	ck_assert_int_eq(mps_workers_create(&w, -1, 1, pool), APR_EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(mps_workers_create(&w, 2, 0, pool), APR_EINVAL);
	latch_destroy(&lane_done);
}
END_TEST

/* Tasks queued behind a running one are discarded at destroy (the
 * discard hook runs instead), and pushing afterwards fails. */
static struct latch stop_gate, stop_started, stop_count;

static void
stop_blocker(void *arg)
{
	latch_add(&stop_started, 1);
	(void)gate_wait(&stop_gate, 3000);
}

static void *
open_stop_gate_later(void *arg)
{
	apr_sleep(apr_time_from_msec(100));
	latch_add(&stop_gate, 1);
	return NULL;
}

/* Threads seen running a task, and threads seen ending through the hook. */
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t ran_on[16], ended_on[16];
static int n_ran, n_ended;

static void
note_thread(pthread_t *set, int *n)
{
	int i;

	pthread_mutex_lock(&seen_mu);
	for (i = 0; i < *n && !pthread_equal(set[i], pthread_self()); i++)
		;
	if (i == *n && *n < 16)
		set[(*n)++] = pthread_self();
	pthread_mutex_unlock(&seen_mu);
}

static void
hook_task(void *arg)
{
	(void)arg;
	note_thread(ran_on, &n_ran);
	usleep(20000);		/* so that the tasks spread over the threads */
}

static void
end_hook(void)
{
	note_thread(ended_on, &n_ended);
}

/* Every thread that ran a task has run the end hook (where mpsd frees
 * OpenSSL's per-thread state) by the time destroy returns: the threads
 * are detached, so nothing else could wait for them. */
START_TEST(workers_thread_end_hook)
{
	mps_workers_t *w;
	apr_pool_t *p;
	int i, j;

	n_ran = n_ended = 0;
	mps_workers_on_thread_end(end_hook);
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_create(&w, 2, 2, p), APR_SUCCESS);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_IO, hook_task,
		    NULL), APR_SUCCESS);
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_BLOCKING,
		    hook_task, NULL), APR_SUCCESS);
	}
	usleep(200000);
	mps_workers_destroy(w);
	mps_workers_on_thread_end(NULL);
	pthread_mutex_lock(&seen_mu);
	ck_assert_int_ge(n_ran, 2);
	for (i = 0; i < n_ran; i++) {
		for (j = 0; j < n_ended; j++)
			if (pthread_equal(ran_on[i], ended_on[j]))
				break;
		ck_assert_msg(j < n_ended, "a worker thread ended without "
		    "the hook (%d ran tasks, %d ran the hook)", n_ran,
		    n_ended);
	}
	pthread_mutex_unlock(&seen_mu);
	apr_pool_destroy(p);
}
END_TEST

START_TEST(workers_destroy_discards)
{
	mps_workers_t *w;
	mps_strand_t *strand;
	pthread_t opener;
	apr_pool_t *p;
	int i;

	latch_init(&stop_gate);
	latch_init(&stop_started);
	latch_init(&stop_count);
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_create(&w, 2, 1, p), APR_SUCCESS);
	/* The blocking lane's one thread is busy: these wait in its queue. */
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_BLOCKING, stop_blocker,
	    NULL), APR_SUCCESS);
	ck_assert(latch_wait(&stop_started, 1, 3000));
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(mps_workers_push_ex(w, MPS_LANE_BLOCKING,
		    count_task, count_discard, &stop_count), APR_SUCCESS);
	ck_assert_uint_eq(mps_workers_backlog(w, MPS_LANE_BLOCKING), 5);
	/* A strand whose runner is busy: its queued tasks go the same way. */
	strand = mps_strand_create(w);
	ck_assert_ptr_nonnull(strand);
	ck_assert_int_eq(mps_strand_post(strand, stop_blocker, NULL),
	    APR_SUCCESS);
	ck_assert(latch_wait(&stop_started, 2, 3000));
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(mps_strand_post_ex(strand, count_task,
		    count_discard, &stop_count), APR_SUCCESS);

	ck_assert_int_eq(pthread_create(&opener, NULL, open_stop_gate_later,
	    NULL), 0);
	mps_workers_destroy(w);		/* waits for the two blockers */
	pthread_join(opener, NULL);
	ck_assert_int_eq(mps_workers_stopping(w), 1);
	/* Ten discards (1000 each), no runs. */
	ck_assert_int_eq(latch_get(&stop_count), 10 * 1000);
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_IO, count_task,
	    &stop_count), MPS_ERR_SHUTDOWN);
	ck_assert_int_eq(mps_strand_post(strand, count_task, &stop_count),
	    MPS_ERR_SHUTDOWN);
	ck_assert_uint_eq(mps_workers_backlog(w, MPS_LANE_IO), 0);
	mps_workers_destroy(w);		/* idempotent */
	mps_strand_release(strand);	/* frees it: nothing is scheduled */
	apr_pool_destroy(p);
	latch_destroy(&stop_gate);
	latch_destroy(&stop_started);
	latch_destroy(&stop_count);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Lanes: one that hangs delays no other; bounds refuse */

static struct latch hang_gate, hang_started, hang_done, lane_ran,
    lane_expired;

static void
hang_task(void *arg)
{
	(void)arg;
	latch_add(&hang_started, 1);
	(void)gate_wait(&hang_gate, 8000);
	latch_add(&hang_done, 1);
}

static void
ran_task(void *arg)
{
	latch_add(arg, 1);
}

static void
expired_task(void *arg)
{
	(void)arg;
	latch_add(&lane_expired, 1);
}

static void
lane_latches_init(void)
{
	latch_init(&hang_gate);
	latch_init(&hang_started);
	latch_init(&hang_done);
	latch_init(&lane_ran);
	latch_init(&lane_expired);
}

static void
lane_latches_destroy(void)
{
	latch_destroy(&hang_gate);
	latch_destroy(&hang_started);
	latch_destroy(&hang_done);
	latch_destroy(&lane_ran);
	latch_destroy(&lane_expired);
}

/* Every thread of the device login lane hangs (a backend that never
 * answers): each other lane still runs its work at once. */
START_TEST(lanes_hang_isolated)
{
	static const mps_lane_t others[] = { MPS_LANE_IO, MPS_LANE_BLOCKING,
	    MPS_LANE_CONSOLE_AUTH, MPS_LANE_NOTIFY };
	mps_workers_options_t o;
	mps_workers_t *w;
	apr_pool_t *p;
	apr_time_t t0;
	size_t i;
	int k;

	lane_latches_init();
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	mps_workers_options_init(&o, 2, 2);
	o.lanes[MPS_LANE_DEVICE_AUTH].threads = 3;
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, p), APR_SUCCESS);
	for (k = 0; k < 10; k++)
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_DEVICE_AUTH,
		    hang_task, NULL), APR_SUCCESS);
	ck_assert(latch_wait(&hang_started, 3, 3000));
	t0 = apr_time_now();
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		for (k = 0; k < 5; k++)
			ck_assert_int_eq(mps_workers_push(w, others[i],
			    ran_task, &lane_ran), APR_SUCCESS);
	ck_assert_msg(latch_wait(&lane_ran, 20, 1000), "%ld of 20 tasks of "
	    "the other lanes ran while device logins hung",
	    latch_get(&lane_ran));
	ck_assert_msg(ms_since(t0) < 1000, "took %ld ms", ms_since(t0));
	/* The hung lane is at its thread limit; the rest wait in order. */
	ck_assert_int_eq(latch_get(&hang_started), 3);
	ck_assert_uint_eq(mps_workers_backlog(w, MPS_LANE_DEVICE_AUTH), 7);
	latch_add(&hang_gate, 1);
	ck_assert(latch_wait(&hang_started, 10, 3000));
	mps_workers_destroy(w);
	apr_pool_destroy(p);
	lane_latches_destroy();
}
END_TEST

/*
 * A task pushed right behind one that will hang, on a lane whose other
 * threads are idle, must get a thread of its own. apr_thread_pool counted
 * a woken thread as idle until it ran, so both tasks went to one thread
 * and the second waited for the hang (how test_notify used to fail).
 */
START_TEST(lanes_back_to_back)
{
	mps_workers_options_t o;
	mps_workers_t *w;
	apr_pool_t *p;
	int round;

	lane_latches_init();
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	mps_workers_options_init(&o, 2, 4);
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, p), APR_SUCCESS);
	for (round = 0; round < 50; round++) {
		/* Idle threads first, so that the pushes find them. */
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_NOTIFY, ran_task,
		    &lane_ran), APR_SUCCESS);
		ck_assert(latch_wait(&lane_ran, 2 * round + 1, 3000));
		apr_sleep(500);
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_NOTIFY, hang_task,
		    NULL), APR_SUCCESS);
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_NOTIFY, ran_task,
		    &lane_ran), APR_SUCCESS);
		ck_assert_msg(latch_wait(&lane_ran, 2 * round + 2, 2000),
		    "round %d: the task behind a hung one did not run", round);
		/* Let the hung one go for the next round. */
		latch_add(&hang_gate, 1);
		ck_assert(latch_wait(&hang_done, round + 1, 3000));
		latch_add(&hang_gate, -1);
		while (mps_workers_backlog(w, MPS_LANE_NOTIFY) > 0)
			apr_sleep(1000);
	}
	latch_add(&hang_gate, 1);
	mps_workers_destroy(w);
	apr_pool_destroy(p);
	lane_latches_destroy();
}
END_TEST

/* A lane at its queue bound refuses at once, and counts it. */
START_TEST(lanes_queue_full)
{
	mps_workers_options_t o;
	mps_lane_stats_t st;
	mps_workers_t *w;
	apr_pool_t *p;
	uint64_t before;
	int k;

	lane_latches_init();
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	mps_workers_options_init(&o, 2, 2);
	o.lanes[MPS_LANE_CONSOLE_AUTH].threads = 1;
	o.lanes[MPS_LANE_CONSOLE_AUTH].queue_max = 3;
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, p), APR_SUCCESS);
	before = mps_metric_lane_refused_get(MPS_LANE_CONSOLE_AUTH,
	    MPS_LANE_REFUSED_FULL);
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_CONSOLE_AUTH, hang_task,
	    NULL), APR_SUCCESS);
	ck_assert(latch_wait(&hang_started, 1, 3000));
	/* The one running does not count against the bound. */
	for (k = 0; k < 3; k++)
		ck_assert_int_eq(mps_workers_push_ex(w, MPS_LANE_CONSOLE_AUTH,
		    ran_task, NULL, &lane_ran), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_push_ex(w, MPS_LANE_CONSOLE_AUTH,
	    ran_task, NULL, &lane_ran), MPS_ERR_QUEUE_FULL);
	ck_assert_int_eq(mps_workers_push_timed(w, MPS_LANE_CONSOLE_AUTH,
	    ran_task, NULL, expired_task, &lane_ran), MPS_ERR_QUEUE_FULL);
	/* Other lanes are not bounded by it. */
	for (k = 0; k < 10; k++)
		ck_assert_int_eq(mps_workers_push(w, MPS_LANE_DEVICE_AUTH,
		    ran_task, &lane_expired), APR_SUCCESS);
	ck_assert(latch_wait(&lane_expired, 10, 3000));
	ck_assert_int_eq(mps_workers_lane_stats(w, MPS_LANE_CONSOLE_AUTH, &st),
	    APR_SUCCESS);
	ck_assert_uint_eq(st.queued, 3);
	ck_assert_uint_eq(st.running, 1);
	ck_assert_uint_eq(st.threads, 1);
	ck_assert_uint_eq(st.refused_full, 2);
	ck_assert_uint_eq(mps_metric_lane_refused_get(MPS_LANE_CONSOLE_AUTH,
	    MPS_LANE_REFUSED_FULL) - before, 2);
	latch_add(&hang_gate, 1);
	ck_assert(latch_wait(&lane_ran, 3, 3000));
	/* Room again. */
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_CONSOLE_AUTH, ran_task,
	    &lane_ran), APR_SUCCESS);
	ck_assert(latch_wait(&lane_ran, 4, 3000));
	mps_workers_destroy(w);
	apr_pool_destroy(p);
	lane_latches_destroy();
}
END_TEST

/* A burst into a lane with no thread started yet: tasks that a thread is
 * on its way to do not count against the queue bound, so a lane of 4
 * threads and a queue of 8 takes 12 at once, whatever the threads'
 * start-up takes (on a loaded machine it took 9), and refuses the 13th. */
START_TEST(lanes_burst_counts_threads_on_their_way)
{
	mps_workers_options_t o;
	mps_lane_stats_t st;
	mps_workers_t *w;
	apr_pool_t *p;
	int k;

	lane_latches_init();
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	mps_workers_options_init(&o, 2, 2);
	o.lanes[MPS_LANE_DEVICE_AUTH].threads = 4;
	o.lanes[MPS_LANE_DEVICE_AUTH].queue_max = 8;
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, p), APR_SUCCESS);
	for (k = 0; k < 12; k++)
		ck_assert_msg(mps_workers_push(w, MPS_LANE_DEVICE_AUTH,
		    hang_task, NULL) == APR_SUCCESS, "push %d of 12 refused", k);
	ck_assert(latch_wait(&hang_started, 4, 3000));
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_DEVICE_AUTH, hang_task,
	    NULL), MPS_ERR_QUEUE_FULL);
	ck_assert_int_eq(mps_workers_lane_stats(w, MPS_LANE_DEVICE_AUTH, &st),
	    APR_SUCCESS);
	ck_assert_uint_eq(st.running, 4);
	ck_assert_uint_eq(st.queued, 8);
	ck_assert_uint_eq(st.refused_full, 1);
	latch_add(&hang_gate, 1);
	ck_assert(latch_wait(&hang_done, 12, 5000));
	mps_workers_destroy(w);
	apr_pool_destroy(p);
	lane_latches_destroy();
}
END_TEST

/* A task that waits past the queue timeout expires, although every
 * thread of its lane is stuck; one without an expired hook waits on. */
START_TEST(lanes_queue_timeout)
{
	mps_workers_options_t o;
	mps_lane_stats_t st;
	mps_workers_t *w;
	apr_pool_t *p;
	apr_time_t t0;
	long took;

	lane_latches_init();
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	mps_workers_options_init(&o, 2, 2);
	o.lanes[MPS_LANE_DEVICE_AUTH].threads = 1;
	o.lanes[MPS_LANE_DEVICE_AUTH].queue_timeout = apr_time_from_msec(200);
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, p), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_DEVICE_AUTH, hang_task,
	    NULL), APR_SUCCESS);
	ck_assert(latch_wait(&hang_started, 1, 3000));
	t0 = apr_time_now();
	ck_assert_int_eq(mps_workers_push_timed(w, MPS_LANE_DEVICE_AUTH,
	    ran_task, NULL, expired_task, &lane_ran), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_push(w, MPS_LANE_DEVICE_AUTH, ran_task,
	    &lane_ran), APR_SUCCESS);
	ck_assert_int_eq(mps_workers_push_timed(w, MPS_LANE_DEVICE_AUTH,
	    ran_task, NULL, expired_task, &lane_ran), APR_SUCCESS);
	ck_assert(latch_wait(&lane_expired, 2, 3000));
	took = ms_since(t0);
	ck_assert_msg(took >= 190 && took < 1500, "expired after %ld ms", took);
	ck_assert_int_eq(latch_get(&lane_ran), 0);
	ck_assert_int_eq(mps_workers_lane_stats(w, MPS_LANE_DEVICE_AUTH, &st),
	    APR_SUCCESS);
	ck_assert_uint_eq(st.refused_timeout, 2);
	ck_assert_uint_eq(st.queued, 1);	/* the one that never expires */
	latch_add(&hang_gate, 1);
	ck_assert(latch_wait(&lane_ran, 1, 3000));
	/* A free thread runs a task well within its time. */
	ck_assert_int_eq(mps_workers_push_timed(w, MPS_LANE_DEVICE_AUTH,
	    ran_task, NULL, expired_task, &lane_ran), APR_SUCCESS);
	ck_assert(latch_wait(&lane_ran, 2, 3000));
	ck_assert_int_eq(latch_get(&lane_expired), 2);
	mps_workers_destroy(w);
	apr_pool_destroy(p);
	lane_latches_destroy();
}
END_TEST

START_TEST(lanes_bad_options)
{
	mps_workers_options_t o;
	mps_workers_t *w;

	mps_workers_options_init(&o, 2, 2);
	o.lanes[MPS_LANE_NOTIFY].threads = 0;
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, pool), APR_EINVAL);
	ck_assert_ptr_null(w);
	mps_workers_options_init(&o, 2, 2);
	o.lanes[MPS_LANE_DEVICE_AUTH].queue_timeout = -1;
	ck_assert_int_eq(mps_workers_create_ex(&w, &o, pool), APR_EINVAL);
	ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_COUNT, ran_task,
	    NULL), APR_EINVAL);
	ck_assert_str_eq(mps_lane_name(MPS_LANE_DEVICE_AUTH), "device_auth");
	ck_assert_str_eq(mps_lane_name(MPS_LANE_NOTIFY), "notification");
}
END_TEST

/* ------------------------------------------------------------------ */
/* 1. One strand: in order, never concurrently */

#define ORDER_STRANDS		4
#define ORDER_POSTERS		2	/* per strand */
#define ORDER_PER_POSTER	5000

struct order_task {
	int strand;
	int poster;
	int seq;
};

static struct {
	mps_strand_t *strand[ORDER_STRANDS];
	atomic_int in_use[ORDER_STRANDS];
	/* Touched only by tasks of strand s: no lock, by design. */
	int last_seq[ORDER_STRANDS][ORDER_POSTERS];
	atomic_int overlaps, misorders, not_current, post_errors;
	struct latch done;
	struct order_task *tasks;
} ord;

static void
order_task(void *arg)
{
	const struct order_task *t = arg;
	int s = t->strand, other = (t->strand + 1) % ORDER_STRANDS;

	if (atomic_exchange(&ord.in_use[s], 1) != 0)
		atomic_fetch_add(&ord.overlaps, 1);
	if (!mps_strand_is_current(ord.strand[s]) ||
	    mps_strand_is_current(ord.strand[other]))
		atomic_fetch_add(&ord.not_current, 1);
	if (ord.last_seq[s][t->poster] + 1 != t->seq)
		atomic_fetch_add(&ord.misorders, 1);
	ord.last_seq[s][t->poster] = t->seq;
	/* Give another worker the chance to run this strand wrongly. */
	if ((t->seq & 63) == 0)
		sched_yield();
	atomic_store(&ord.in_use[s], 0);
	latch_add(&ord.done, 1);
}

static void *
order_poster(void *arg)
{
	int id = *(int *)arg, i;
	struct order_task *t;

	for (i = 0; i < ORDER_PER_POSTER; i++) {
		t = &ord.tasks[(size_t)id * ORDER_PER_POSTER + (size_t)i];
		t->strand = id / ORDER_POSTERS;
		t->poster = id % ORDER_POSTERS;
		t->seq = i;
		if (mps_strand_post(ord.strand[t->strand], order_task, t) !=
		    APR_SUCCESS)
			atomic_fetch_add(&ord.post_errors, 1);
		if ((i & 255) == 0)
			sched_yield();
	}
	return NULL;
}

START_TEST(strand_order)
{
	const int nposters = ORDER_STRANDS * ORDER_POSTERS;
	const long total = (long)nposters * ORDER_PER_POSTER;
	pthread_t th[ORDER_STRANDS * ORDER_POSTERS];
	int ids[ORDER_STRANDS * ORDER_POSTERS];
	apr_time_t start;
	int i, j;

	memset(&ord, 0, sizeof(ord));
	latch_init(&ord.done);
	ord.tasks = calloc((size_t)total, sizeof(*ord.tasks));
	ck_assert_ptr_nonnull(ord.tasks);
	for (i = 0; i < ORDER_STRANDS; i++) {
		ord.strand[i] = new_strand();
		for (j = 0; j < ORDER_POSTERS; j++)
			ord.last_seq[i][j] = -1;
	}
	start = apr_time_now();
	for (i = 0; i < nposters; i++) {
		ids[i] = i;
		ck_assert_int_eq(pthread_create(&th[i], NULL, order_poster,
		    &ids[i]), 0);
	}
	for (i = 0; i < nposters; i++)
		pthread_join(th[i], NULL);
	ck_assert_msg(latch_wait(&ord.done, total, 15000),
	    "only %ld of %ld tasks ran", latch_get(&ord.done), total);
	fprintf(stderr, "# strand_order: %ld tasks on %d strands from %d "
	    "threads in %ld ms\n", total, ORDER_STRANDS, nposters,
	    ms_since(start));
	ck_assert_int_eq(atomic_load(&ord.post_errors), 0);
	ck_assert_int_eq(atomic_load(&ord.overlaps), 0);
	ck_assert_int_eq(atomic_load(&ord.misorders), 0);
	ck_assert_int_eq(atomic_load(&ord.not_current), 0);
	for (i = 0; i < ORDER_STRANDS; i++)
		for (j = 0; j < ORDER_POSTERS; j++)
			ck_assert_int_eq(ord.last_seq[i][j],
			    ORDER_PER_POSTER - 1);
	ck_assert(!mps_strand_is_current(ord.strand[0]));
	for (i = 0; i < ORDER_STRANDS; i++)
		mps_strand_release(ord.strand[i]);
	free(ord.tasks);
	latch_destroy(&ord.done);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 2. Different strands run in parallel */

static struct {
	struct latch arrived;
	atomic_int met[2];
	struct latch done;
} par;

static void
parallel_task(void *arg)
{
	int me = (int)(intptr_t)arg;

	latch_add(&par.arrived, 1);
	/* Only a second worker running the other strand can get us past. */
	if (latch_wait(&par.arrived, 2, 5000))
		atomic_store(&par.met[me], 1);
	latch_add(&par.done, 1);
}

START_TEST(strands_parallel)
{
	mps_strand_t *a = new_strand(), *b = new_strand();

	memset(&par, 0, sizeof(par));
	latch_init(&par.arrived);
	latch_init(&par.done);
	ck_assert_int_eq(mps_strand_post(a, parallel_task, (void *)0),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_strand_post(b, parallel_task, (void *)1),
	    APR_SUCCESS);
	ck_assert(latch_wait(&par.done, 2, 12000));
	ck_assert_msg(atomic_load(&par.met[0]) && atomic_load(&par.met[1]),
	    "the two strands did not run at the same time");
	mps_strand_release(a);
	mps_strand_release(b);
	latch_destroy(&par.arrived);
	latch_destroy(&par.done);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 3. A worker blocked for seconds delays no other strand */

#define BLOCK_TASKS	1000
#define BLOCK_STRANDS	4

static struct {
	struct latch gate;
	struct latch started;
	struct latch done;
	struct latch a_after;
} blk;

static void
blocking_task(void *arg)
{
	latch_add(&blk.started, 1);
	/* Blocked for 3 s, or until the test has measured what it needs. */
	(void)gate_wait(&blk.gate, 3000);
	latch_add(arg, 1);
}

START_TEST(blocked_worker)
{
	mps_strand_t *a = new_strand(), *others[BLOCK_STRANDS];
	struct latch blockers_done;
	apr_time_t start;
	long elapsed;
	int i;

	memset(&blk, 0, sizeof(blk));
	latch_init(&blk.gate);
	latch_init(&blk.started);
	latch_init(&blk.done);
	latch_init(&blk.a_after);
	latch_init(&blockers_done);
	for (i = 0; i < BLOCK_STRANDS; i++)
		others[i] = new_strand();

	ck_assert_int_eq(mps_strand_post(a, blocking_task, &blockers_done),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_BLOCKING,
	    blocking_task, &blockers_done), APR_SUCCESS);
	/* Queued behind the blocked task: must wait for it (serial). */
	ck_assert_int_eq(mps_strand_post(a, count_task, &blk.a_after),
	    APR_SUCCESS);
	ck_assert(latch_wait(&blk.started, 2, 3000));

	start = apr_time_now();
	for (i = 0; i < BLOCK_TASKS; i++)
		ck_assert_int_eq(mps_strand_post(others[i % BLOCK_STRANDS],
		    count_task, &blk.done), APR_SUCCESS);
	ck_assert_msg(latch_wait(&blk.done, BLOCK_TASKS, 1000),
	    "%ld of %d tasks ran in 1 s beside a blocked worker",
	    latch_get(&blk.done), BLOCK_TASKS);
	elapsed = (long)(apr_time_now() - start);
	fprintf(stderr, "# blocked_worker: %d tasks on %d strands in %ld us "
	    "while strand A and a blocking job were blocked\n", BLOCK_TASKS,
	    BLOCK_STRANDS, elapsed);
	ck_assert_int_lt(elapsed, 1000 * 1000);
	ck_assert_int_eq(latch_get(&blockers_done), 0);
	ck_assert_int_eq(latch_get(&blk.a_after), 0);

	latch_add(&blk.gate, 1);
	ck_assert(latch_wait(&blockers_done, 2, 3000));
	ck_assert(latch_wait(&blk.a_after, 1, 3000));
	mps_strand_release(a);
	for (i = 0; i < BLOCK_STRANDS; i++)
		mps_strand_release(others[i]);
	latch_destroy(&blk.gate);
	latch_destroy(&blk.started);
	latch_destroy(&blk.done);
	latch_destroy(&blk.a_after);
	latch_destroy(&blockers_done);
}
END_TEST

/*
 * A busy strand yields its worker after a batch: with every worker of a
 * small lane taken, a strand with 10000 queued tasks lets another strand's
 * task through long before it has run them all.
 */
#define YIELD_TASKS	10000

static struct {
	struct latch hold;	/* keeps three workers busy */
	struct latch held;
	struct latch go;	/* starts the busy strand */
	atomic_long busy_done;
	atomic_long seen_by_other;
	struct latch finished;
} yld;

static void
yield_hold_task(void *arg)
{
	latch_add(&yld.held, 1);
	(void)gate_wait(&yld.hold, 5000);
}

static void
yield_go_task(void *arg)
{
	latch_add(&yld.held, 1);
	(void)gate_wait(&yld.go, 5000);
}

static void
yield_busy_task(void *arg)
{
	atomic_fetch_add(&yld.busy_done, 1);
	latch_add(&yld.finished, 1);
}

static void
yield_other_task(void *arg)
{
	atomic_store(&yld.seen_by_other, atomic_load(&yld.busy_done));
	latch_add(&yld.finished, 1);
}

START_TEST(strand_yields)
{
	mps_strand_t *holders[3], *busy, *other;
	mps_workers_t *w;
	apr_pool_t *p;
	long seen;
	int i;

	memset(&yld, 0, sizeof(yld));
	latch_init(&yld.hold);
	latch_init(&yld.held);
	latch_init(&yld.go);
	latch_init(&yld.finished);
	ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
	/* Two I/O threads, growing to four at most. */
	ck_assert_int_eq(mps_workers_create(&w, 2, 1, p), APR_SUCCESS);
	for (i = 0; i < 3; i++) {
		holders[i] = mps_strand_create(w);
		ck_assert_ptr_nonnull(holders[i]);
		ck_assert_int_eq(mps_strand_post(holders[i], yield_hold_task,
		    NULL), APR_SUCCESS);
		/* One at a time, so that the lane sees each one busy. */
		ck_assert(latch_wait(&yld.held, i + 1, 3000));
	}
	busy = mps_strand_create(w);
	other = mps_strand_create(w);
	ck_assert_ptr_nonnull(busy);
	ck_assert_ptr_nonnull(other);
	ck_assert_int_eq(mps_strand_post(busy, yield_go_task, NULL),
	    APR_SUCCESS);
	ck_assert(latch_wait(&yld.held, 4, 3000));
	for (i = 0; i < YIELD_TASKS; i++)
		ck_assert_int_eq(mps_strand_post(busy, yield_busy_task, NULL),
		    APR_SUCCESS);
	/* All four workers are taken: this one waits in the lane's queue. */
	ck_assert_int_eq(mps_strand_post(other, yield_other_task, NULL),
	    APR_SUCCESS);
	ck_assert_uint_ge(mps_workers_backlog(w, MPS_LANE_IO), 1);
	latch_add(&yld.go, 1);
	ck_assert(latch_wait(&yld.finished, YIELD_TASKS + 1, 10000));
	seen = atomic_load(&yld.seen_by_other);
	fprintf(stderr, "# strand_yields: the other strand ran after %ld of "
	    "the busy strand's %d tasks\n", seen, YIELD_TASKS);
	ck_assert_int_lt(seen, YIELD_TASKS / 10);

	latch_add(&yld.hold, 1);
	for (i = 0; i < 3; i++)
		mps_strand_release(holders[i]);
	mps_strand_release(busy);
	mps_strand_release(other);
	mps_workers_destroy(w);
	apr_pool_destroy(p);
	latch_destroy(&yld.hold);
	latch_destroy(&yld.held);
	latch_destroy(&yld.go);
	latch_destroy(&yld.finished);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 4. A task that posts to its own strand */

static struct {
	mps_strand_t *strand;
	mps_strand_t *other;
	atomic_int first_returned;
	atomic_int second_saw_first_returned;
	atomic_int current_in_first, current_in_second, other_current;
	atomic_int post_rv;
	struct latch done;
} selfp;

static void
second_task(void *arg)
{
	atomic_store(&selfp.second_saw_first_returned,
	    atomic_load(&selfp.first_returned));
	atomic_store(&selfp.current_in_second,
	    mps_strand_is_current(selfp.strand));
	latch_add(&selfp.done, 1);
}

static void
first_task(void *arg)
{
	atomic_store(&selfp.current_in_first,
	    mps_strand_is_current(selfp.strand));
	atomic_store(&selfp.other_current,
	    mps_strand_is_current(selfp.other));
	atomic_store(&selfp.post_rv,
	    mps_strand_post(selfp.strand, second_task, NULL));
	/* Inline or parallel execution of second_task would see 0. */
	apr_sleep(apr_time_from_msec(30));
	atomic_store(&selfp.first_returned, 1);
	latch_add(&selfp.done, 1);
}

START_TEST(strand_self_post)
{
	memset(&selfp, 0, sizeof(selfp));
	latch_init(&selfp.done);
	selfp.strand = new_strand();
	selfp.other = new_strand();
	atomic_store(&selfp.post_rv, -1);
	ck_assert(!mps_strand_is_current(selfp.strand));
	ck_assert(!mps_strand_is_current(NULL));
	ck_assert_int_eq(mps_strand_post(selfp.strand, first_task, NULL),
	    APR_SUCCESS);
	ck_assert(latch_wait(&selfp.done, 2, 3000));
	ck_assert_int_eq(atomic_load(&selfp.post_rv), APR_SUCCESS);
	ck_assert_int_eq(atomic_load(&selfp.second_saw_first_returned), 1);
	ck_assert_int_eq(atomic_load(&selfp.current_in_first), 1);
	ck_assert_int_eq(atomic_load(&selfp.current_in_second), 1);
	ck_assert_int_eq(atomic_load(&selfp.other_current), 0);
	ck_assert(!mps_strand_is_current(selfp.strand));
	mps_strand_release(selfp.strand);
	mps_strand_release(selfp.other);
	latch_destroy(&selfp.done);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 5. Release */

#define REL_TASKS 10

static struct {
	mps_strand_t *strand;
	struct latch gate;
	struct latch started;
	struct latch done;
	int order[REL_TASKS];	/* strand-only */
	int next;		/* strand-only */
	atomic_int post_after_release;
} rel;

static void
rel_gate_task(void *arg)
{
	latch_add(&rel.started, 1);
	(void)gate_wait(&rel.gate, 3000);
}

static void
rel_task(void *arg)
{
	if (rel.next < REL_TASKS)
		rel.order[rel.next++] = (int)(intptr_t)arg;
	latch_add(&rel.done, 1);
}

static void
rel_self_task(void *arg)
{
	/* Queued before the release: still runs. */
	ck_assert_int_eq(mps_strand_post(rel.strand, rel_task, (void *)0),
	    APR_SUCCESS);
	mps_strand_release(rel.strand);
	atomic_store(&rel.post_after_release,
	    mps_strand_post(rel.strand, rel_task, (void *)99));
	latch_add(&rel.done, 1);
}

START_TEST(strand_release)
{
	int i;

	memset(&rel, 0, sizeof(rel));
	latch_init(&rel.gate);
	latch_init(&rel.started);
	latch_init(&rel.done);

	/* Released with tasks queued: they all run, in order. */
	rel.strand = new_strand();
	ck_assert_int_eq(mps_strand_post(rel.strand, rel_gate_task, NULL),
	    APR_SUCCESS);
	ck_assert(latch_wait(&rel.started, 1, 3000));
	for (i = 0; i < REL_TASKS; i++)
		ck_assert_int_eq(mps_strand_post(rel.strand, rel_task,
		    (void *)(intptr_t)i), APR_SUCCESS);
	mps_strand_release(rel.strand);
	ck_assert_int_eq(mps_strand_post(rel.strand, rel_task, (void *)99),
	    MPS_ERR_SHUTDOWN);
	ck_assert_int_eq(latch_get(&rel.done), 0);
	latch_add(&rel.gate, 1);
	ck_assert(latch_wait(&rel.done, REL_TASKS, 3000));
	/* The strand frees itself now; nothing may touch it. */
	for (i = 0; i < REL_TASKS; i++)
		ck_assert_int_eq(rel.order[i], i);
	apr_sleep(apr_time_from_msec(50));
	ck_assert_int_eq(latch_get(&rel.done), REL_TASKS);

	/* Released from its own task. */
	memset(rel.order, 0, sizeof(rel.order));
	rel.next = 0;
	rel.strand = new_strand();
	atomic_store(&rel.post_after_release, -1);
	ck_assert_int_eq(mps_strand_post(rel.strand, rel_self_task, NULL),
	    APR_SUCCESS);
	ck_assert(latch_wait(&rel.done, REL_TASKS + 2, 3000));
	ck_assert_int_eq(atomic_load(&rel.post_after_release),
	    MPS_ERR_SHUTDOWN);
	apr_sleep(apr_time_from_msec(50));
	ck_assert_int_eq(latch_get(&rel.done), REL_TASKS + 2);

	/* Released idle: freed at once (valgrind and ASan check that). */
	mps_strand_release(new_strand());

	latch_destroy(&rel.gate);
	latch_destroy(&rel.started);
	latch_destroy(&rel.done);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 6. Timers */

struct fired {
	mps_timer_t timer;
	apr_interval_time_t delay;
	apr_time_t armed_at;
	apr_time_t fired_at;
	atomic_int count;
	int id;
	mps_strand_t *strand;
	atomic_int off_strand;
	struct latch *done;
	int *order;		/* when set: ids in firing order (strand-only) */
	int *norder;
};

static void
fired_fn(void *arg)
{
	struct fired *f = arg;

	f->fired_at = apr_time_now();
	if (f->strand != NULL && !mps_strand_is_current(f->strand))
		atomic_store(&f->off_strand, 1);
	if (f->order != NULL)
		f->order[(*f->norder)++] = f->id;
	atomic_fetch_add(&f->count, 1);
	latch_add(f->done, 1);
}

static void
fired_init(struct fired *f, int id, mps_strand_t *strand, struct latch *done)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->strand = strand;
	f->done = done;
	mps_timer_init(&f->timer, strand, fired_fn, f);
}

static void
fired_arm(struct fired *f, long delay_ms)
{
	f->delay = apr_time_from_msec(delay_ms);
	f->armed_at = apr_time_now();
	ck_assert_int_eq(mps_timer_arm(timers, &f->timer, f->delay),
	    APR_SUCCESS);
}

/* Fired once, not early, not late. */
static void
assert_on_time(const struct fired *f)
{
	long late;

	ck_assert_int_eq(atomic_load(&f->count), 1);
	ck_assert_msg(f->fired_at >= f->armed_at + f->delay,
	    "timer %d fired %ld us early", f->id,
	    (long)(f->armed_at + f->delay - f->fired_at));
	late = (long)apr_time_as_msec(f->fired_at - f->armed_at - f->delay);
	ck_assert_msg(late < LATE_MS, "timer %d fired %ld ms late", f->id,
	    late);
	ck_assert_int_eq(atomic_load(&f->off_strand), 0);
}

START_TEST(timers_order)
{
	static const long delays[3] = { 50, 100, 150 };
	mps_strand_t *strand = new_strand();
	struct fired f[3];
	struct latch done;
	int order[3], norder = 0, i;

	latch_init(&done);
	for (i = 0; i < 3; i++) {
		fired_init(&f[i], i, strand, &done);
		f[i].order = order;
		f[i].norder = &norder;
	}
	/* The poller sleeps with no timer at all: the first arm must wake
	 * it, and arming latest first makes each arm a new earliest. */
	apr_sleep(apr_time_from_msec(50));
	for (i = 2; i >= 0; i--)
		fired_arm(&f[i], delays[i]);
	ck_assert_uint_eq(mps_timers_count(timers), 3);
	ck_assert(mps_timer_is_armed(timers, &f[0].timer));
	ck_assert(latch_wait(&done, 3, 3000));
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(order[i], i);
		assert_on_time(&f[i]);
		ck_assert(!mps_timer_is_armed(timers, &f[i].timer));
	}
	fprintf(stderr, "# timers_order: fired %ld, %ld, %ld ms after "
	    "arming (delays 50, 100, 150)\n",
	    (long)apr_time_as_msec(f[0].fired_at - f[0].armed_at),
	    (long)apr_time_as_msec(f[1].fired_at - f[1].armed_at),
	    (long)apr_time_as_msec(f[2].fired_at - f[2].armed_at));
	ck_assert_uint_eq(mps_timers_count(timers), 0);
	mps_strand_release(strand);
	latch_destroy(&done);
}
END_TEST

static struct latch cancel_gate, cancel_started;

static void
cancel_gate_task(void *arg)
{
	latch_add(&cancel_started, 1);
	(void)gate_wait(&cancel_gate, 3000);
}

START_TEST(timers_cancel)
{
	mps_strand_t *strand = new_strand();
	struct fired f, g;
	struct latch done;
	apr_time_t start;

	latch_init(&done);
	latch_init(&cancel_gate);
	latch_init(&cancel_started);

	/* Cancelled while armed. */
	fired_init(&f, 0, strand, &done);
	ck_assert(!mps_timer_is_armed(timers, &f.timer));
	fired_arm(&f, 50);
	ck_assert(mps_timer_is_armed(timers, &f.timer));
	mps_timer_cancel(timers, &f.timer);
	ck_assert(!mps_timer_is_armed(timers, &f.timer));
	mps_timer_cancel(timers, &f.timer);	/* harmless twice */

	/* Cancelled after it expired, while its firing waits in the
	 * strand's queue behind a blocked task: fn must not run. */
	fired_init(&g, 1, strand, &done);
	ck_assert_int_eq(mps_strand_post(strand, cancel_gate_task, NULL),
	    APR_SUCCESS);
	ck_assert(latch_wait(&cancel_started, 1, 3000));
	fired_arm(&g, 10);
	start = apr_time_now();
	while (mps_timer_is_armed(timers, &g.timer) && ms_since(start) < 3000)
		apr_sleep(apr_time_from_msec(5));
	ck_assert(!mps_timer_is_armed(timers, &g.timer));
	mps_timer_cancel(timers, &g.timer);
	latch_add(&cancel_gate, 1);

	ck_assert(!latch_wait(&done, 1, 250));
	ck_assert_int_eq(atomic_load(&f.count), 0);
	ck_assert_int_eq(atomic_load(&g.count), 0);
	ck_assert_uint_eq(mps_timers_count(timers), 0);
	mps_strand_release(strand);
	latch_destroy(&done);
	latch_destroy(&cancel_gate);
	latch_destroy(&cancel_started);
}
END_TEST

START_TEST(timers_rearm)
{
	struct fired sooner, later;
	struct latch done;

	latch_init(&done);
	/* Re-armed sooner: fires at the new time, once. */
	fired_init(&sooner, 0, NULL, &done);
	fired_arm(&sooner, 300);
	fired_arm(&sooner, 50);
	ck_assert_uint_eq(mps_timers_count(timers), 1);
	/* Re-armed later: silent until the new time. */
	fired_init(&later, 1, NULL, &done);
	fired_arm(&later, 50);
	fired_arm(&later, 400);
	ck_assert(latch_wait(&done, 1, 3000));
	assert_on_time(&sooner);
	ck_assert(!latch_wait(&done, 2, 200));
	ck_assert_int_eq(atomic_load(&later.count), 0);
	ck_assert(latch_wait(&done, 2, 3000));
	assert_on_time(&later);
	/* Past the original 300 ms of the first: still once. */
	apr_sleep(apr_time_from_msec(100));
	ck_assert_int_eq(atomic_load(&sooner.count), 1);
	ck_assert_int_eq(latch_get(&done), 2);
	latch_destroy(&done);
}
END_TEST

START_TEST(timers_wake_poller)
{
	struct fired far, near;
	struct latch done;
	long took;

	latch_init(&done);
	fired_init(&far, 0, NULL, &done);
	fired_init(&near, 1, NULL, &done);
	fired_arm(&far, 5000);
	/* Let the poller go to sleep until the far timer. */
	apr_sleep(apr_time_from_msec(100));
	fired_arm(&near, 50);
	ck_assert(latch_wait(&done, 1, 3000));
	took = (long)apr_time_as_msec(near.fired_at - near.armed_at);
	fprintf(stderr, "# timers_wake_poller: a 50 ms timer armed under a "
	    "5 s one fired after %ld ms\n", took);
	assert_on_time(&near);
	ck_assert_int_eq(atomic_load(&far.count), 0);
	mps_timer_cancel(timers, &far.timer);
	latch_destroy(&done);
}
END_TEST

/* Timers fired on a strand run serialised with its other tasks. */
#define SER_TASKS	40
#define SER_TIMERS	20

static struct {
	mps_strand_t *strand;
	atomic_int in_use;
	atomic_int overlaps;
	atomic_int off_strand;
	struct latch done;
} ser;

static void
ser_enter(void)
{
	if (atomic_exchange(&ser.in_use, 1) != 0)
		atomic_fetch_add(&ser.overlaps, 1);
	if (!mps_strand_is_current(ser.strand))
		atomic_fetch_add(&ser.off_strand, 1);
	apr_sleep(1000);
	atomic_store(&ser.in_use, 0);
	latch_add(&ser.done, 1);
}

static void
ser_task(void *arg)
{
	ser_enter();
}

START_TEST(timers_on_strand)
{
	mps_timer_t t[SER_TIMERS];
	int i;

	memset(&ser, 0, sizeof(ser));
	latch_init(&ser.done);
	ser.strand = new_strand();
	for (i = 0; i < SER_TIMERS; i++) {
		mps_timer_init(&t[i], ser.strand, ser_task, NULL);
		ck_assert_int_eq(mps_timer_arm(timers, &t[i],
		    apr_time_from_msec(2 * i)), APR_SUCCESS);
	}
	for (i = 0; i < SER_TASKS; i++) {
		ck_assert_int_eq(mps_strand_post(ser.strand, ser_task, NULL),
		    APR_SUCCESS);
		if (i % 4 == 0)
			apr_sleep(1000);
	}
	ck_assert(latch_wait(&ser.done, SER_TASKS + SER_TIMERS, 5000));
	ck_assert_int_eq(atomic_load(&ser.overlaps), 0);
	ck_assert_int_eq(atomic_load(&ser.off_strand), 0);
	mps_strand_release(ser.strand);
	latch_destroy(&ser.done);
}
END_TEST

/*
 * The heap itself, without the poller's clock: a heap of its own, random
 * arms, re-arms and cancels, then expiry at chosen instants. After each,
 * exactly the timers due by then have gone, and the time returned is the
 * wait for the earliest one left.
 */
#define HEAP_TIMERS	2000

static void
heap_fire(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

START_TEST(timers_heap)
{
	static mps_timer_t t[HEAP_TIMERS];
	static atomic_int count[HEAP_TIMERS];
	static char live[HEAP_TIMERS];
	mps_timers_t *own;
	unsigned int seed = 777;
	apr_time_t now, min;
	apr_interval_time_t next;
	apr_size_t armed;
	int i, step, expected = 0;

	ck_assert_int_eq(mps_timers_create(&own, workers, NULL, NULL, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_timers_expire(own, apr_time_now()), -1);
	for (i = 0; i < HEAP_TIMERS; i++) {
		atomic_store(&count[i], 0);
		mps_timer_init(&t[i], NULL, heap_fire, &count[i]);
		ck_assert_int_eq(mps_timer_arm(own, &t[i], apr_time_from_msec(
		    1000 + rand_r(&seed) % 10000)), APR_SUCCESS);
		live[i] = 1;
	}
	for (i = 0; i < HEAP_TIMERS; i++) {
		switch (rand_r(&seed) % 4) {
		case 0:
			mps_timer_cancel(own, &t[i]);
			live[i] = 0;
			break;
		case 1:
			ck_assert_int_eq(mps_timer_arm(own, &t[i],
			    apr_time_from_msec(1000 + rand_r(&seed) % 10000)),
			    APR_SUCCESS);
			break;
		}
		expected += live[i];
	}
	ck_assert_uint_eq(mps_timers_count(own), (apr_size_t)expected);

	now = apr_time_now();
	for (step = 0; step < 60; step++) {
		now += apr_time_from_msec(rand_r(&seed) % 400);
		next = mps_timers_expire(own, now);
		min = -1;
		armed = 0;
		for (i = 0; i < HEAP_TIMERS; i++) {
			if (!live[i]) {
				ck_assert(!mps_timer_is_armed(own, &t[i]));
				continue;
			}
			ck_assert_int_eq(mps_timer_is_armed(own, &t[i]),
			    t[i].when > now);
			if (t[i].when > now) {
				armed++;
				if (min < 0 || t[i].when < min)
					min = t[i].when;
			}
		}
		ck_assert_uint_eq(mps_timers_count(own), armed);
		ck_assert_int_eq(next, (min < 0 ? -1 : min - now));
	}
	ck_assert_int_eq(mps_timers_expire(own, now + apr_time_from_sec(60)),
	    -1);
	ck_assert_uint_eq(mps_timers_count(own), 0);
	for (step = 0; step < 500; step++) {
		for (i = 0, armed = 0; i < HEAP_TIMERS; i++)
			armed += (apr_size_t)atomic_load(&count[i]);
		if (armed == (apr_size_t)expected)
			break;
		apr_sleep(apr_time_from_msec(10));
	}
	for (i = 0; i < HEAP_TIMERS; i++)
		ck_assert_int_eq(atomic_load(&count[i]), live[i]);
}
END_TEST

#define MANY_TIMERS	10000
#define MANY_STRANDS	4

START_TEST(timers_many)
{
	mps_strand_t *strands[MANY_STRANDS];
	struct fired *f;
	struct latch done;
	unsigned int seed = 12345;
	apr_time_t start;
	long worst = 0, late;
	int i;

	latch_init(&done);
	f = calloc(MANY_TIMERS, sizeof(*f));
	ck_assert_ptr_nonnull(f);
	for (i = 0; i < MANY_STRANDS; i++)
		strands[i] = new_strand();
	start = apr_time_now();
	for (i = 0; i < MANY_TIMERS; i++) {
		/* Every fifth on the I/O lane, the rest on strands. */
		fired_init(&f[i], i, i % 5 == 0 ? NULL :
		    strands[i % MANY_STRANDS], &done);
		fired_arm(&f[i], rand_r(&seed) % 201);
	}
	ck_assert_msg(latch_wait(&done, MANY_TIMERS, 10000),
	    "only %ld of %d timers fired", latch_get(&done), MANY_TIMERS);
	fprintf(stderr, "# timers_many: %d timers fired in %ld ms\n",
	    MANY_TIMERS, ms_since(start));
	apr_sleep(apr_time_from_msec(100));
	ck_assert_int_eq(latch_get(&done), MANY_TIMERS);
	for (i = 0; i < MANY_TIMERS; i++) {
		ck_assert_int_eq(atomic_load(&f[i].count), 1);
		ck_assert(f[i].fired_at >= f[i].armed_at + f[i].delay);
		ck_assert_int_eq(atomic_load(&f[i].off_strand), 0);
		late = (long)apr_time_as_msec(f[i].fired_at - f[i].armed_at -
		    f[i].delay);
		if (late > worst)
			worst = late;
	}
	fprintf(stderr, "# timers_many: latest firing %ld ms after its "
	    "time\n", worst);
	ck_assert_uint_eq(mps_timers_count(timers), 0);
	for (i = 0; i < MANY_STRANDS; i++)
		mps_strand_release(strands[i]);
	free(f);
	latch_destroy(&done);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 7. Poller */

/* A loopback TCP pair: the kernel picks the port. */
static void
tcp_pair(apr_socket_t *listener, apr_socket_t **near_end,
    apr_socket_t **far_end)
{
	apr_sockaddr_t *sa;

	ck_assert_int_eq(apr_socket_addr_get(&sa, APR_LOCAL, listener),
	    APR_SUCCESS);
	ck_assert_int_eq(apr_socket_create(far_end, APR_INET, SOCK_STREAM,
	    APR_PROTO_TCP, pool), APR_SUCCESS);
	ck_assert_int_eq(apr_socket_connect(*far_end, sa), APR_SUCCESS);
	ck_assert_int_eq(apr_socket_accept(near_end, listener, pool),
	    APR_SUCCESS);
	/* The watched end is read without blocking, as mpsd does. */
	ck_assert_int_eq(apr_socket_timeout_set(*near_end, 0), APR_SUCCESS);
}

static apr_socket_t *
open_listener(void)
{
	apr_sockaddr_t *sa;
	apr_socket_t *s;

	ck_assert_int_eq(apr_sockaddr_info_get(&sa, "127.0.0.1", APR_INET, 0,
	    0, pool), APR_SUCCESS);
	ck_assert_int_eq(apr_socket_create(&s, APR_INET, SOCK_STREAM,
	    APR_PROTO_TCP, pool), APR_SUCCESS);
	ck_assert_int_eq(apr_socket_bind(s, sa), APR_SUCCESS);
	ck_assert_int_eq(apr_socket_listen(s, 512), APR_SUCCESS);
	return s;
}

static void
send_byte(apr_socket_t *s)
{
	apr_size_t len = 1;

	ck_assert_int_eq(apr_socket_send(s, "x", &len), APR_SUCCESS);
	ck_assert_uint_eq(len, 1);
}

struct conn {
	mps_pollreg_t *reg;
	apr_socket_t *sock;		/* watched */
	apr_socket_t *peer;
	mps_strand_t *strand;
	atomic_int calls;
	atomic_int events;		/* OR of every firing's */
	atomic_int off_strand;
	atomic_int bytes;
	atomic_int eof;
	struct latch *done;
};

/* The registration's task: reads what there is, never re-watches. */
static void
conn_ready(void *arg)
{
	struct conn *c = arg;
	apr_status_t rv;
	apr_size_t len;
	char buf[16];

	atomic_fetch_or(&c->events, mps_pollreg_events(c->reg));
	if (c->strand != NULL && !mps_strand_is_current(c->strand))
		atomic_store(&c->off_strand, 1);
	if (mps_pollreg_events(c->reg) & (APR_POLLIN | APR_POLLHUP)) {
		len = sizeof(buf);
		rv = apr_socket_recv(c->sock, buf, &len);
		if (rv == APR_SUCCESS)
			atomic_fetch_add(&c->bytes, (int)len);
		else if (APR_STATUS_IS_EOF(rv) || len == 0)
			atomic_store(&c->eof, 1);
	}
	atomic_fetch_add(&c->calls, 1);
	latch_add(c->done, 1);
}

static void
conn_open(struct conn *c, apr_socket_t *listener, mps_strand_t *strand,
    struct latch *done)
{
	memset(c, 0, sizeof(*c));
	c->strand = strand;
	c->done = done;
	tcp_pair(listener, &c->sock, &c->peer);
	ck_assert_int_eq(mps_poller_register(poller, &c->reg, c->sock, strand,
	    conn_ready, c), APR_SUCCESS);
}

static void
conn_close(struct conn *c)
{
	mps_poller_release(poller, c->reg);
	apr_socket_close(c->sock);
	if (c->peer != NULL)
		apr_socket_close(c->peer);
}

START_TEST(poller_oneshot)
{
	apr_socket_t *listener = open_listener();
	mps_strand_t *strand = new_strand();
	struct latch done;
	struct conn c;

	latch_init(&done);
	conn_open(&c, listener, strand, &done);
	/* Registered, not watched: data arrives, nothing fires. */
	send_byte(c.peer);
	ck_assert(!latch_wait(&done, 1, 100));

	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	ck_assert(latch_wait(&done, 1, 2000));
	ck_assert(atomic_load(&c.events) & APR_POLLIN);
	ck_assert_int_eq(atomic_load(&c.off_strand), 0);
	ck_assert_int_eq(atomic_load(&c.bytes), 1);

	/* One-shot: more data, but no second call until watched again. */
	send_byte(c.peer);
	ck_assert(!latch_wait(&done, 2, 200));
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	ck_assert(latch_wait(&done, 2, 2000));
	ck_assert_int_eq(atomic_load(&c.bytes), 2);

	/* Unwatched: silent. */
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_poller_unwatch(poller, c.reg), APR_SUCCESS);
	send_byte(c.peer);
	ck_assert(!latch_wait(&done, 3, 200));
	ck_assert(latch_wait(&done, 2, 0));
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	ck_assert(latch_wait(&done, 3, 2000));
	ck_assert_int_eq(atomic_load(&c.bytes), 3);

	/* Watching twice with the same events (nothing ready in between)
	 * is one watch: one call. */
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	send_byte(c.peer);
	ck_assert(latch_wait(&done, 4, 2000));
	ck_assert(!latch_wait(&done, 5, 150));
	ck_assert_int_eq(atomic_load(&c.calls), 4);
	ck_assert_int_eq(atomic_load(&c.bytes), 4);
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, 0), APR_EINVAL);
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLPRI),
	    APR_EINVAL);

	conn_close(&c);
	apr_socket_close(listener);
	mps_strand_release(strand);
	latch_destroy(&done);
}
END_TEST

START_TEST(poller_pollout_and_hangup)
{
	apr_socket_t *listener = open_listener();
	mps_strand_t *strand = new_strand();
	struct latch done;
	struct conn c;

	latch_init(&done);
	conn_open(&c, listener, strand, &done);
	/* A fresh socket is writable at once. */
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLOUT),
	    APR_SUCCESS);
	ck_assert(latch_wait(&done, 1, 2000));
	ck_assert(atomic_load(&c.events) & APR_POLLOUT);
	ck_assert(!(atomic_load(&c.events) & APR_POLLIN));

	/* Re-watched for reading, the peer closes: seen as readable with
	 * EOF, or as a hang-up. */
	atomic_store(&c.events, 0);
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	apr_socket_close(c.peer);
	c.peer = NULL;
	ck_assert(latch_wait(&done, 2, 2000));
	ck_assert(atomic_load(&c.events) & (APR_POLLIN | APR_POLLHUP));
	ck_assert(atomic_load(&c.eof) ||
	    (atomic_load(&c.events) & APR_POLLHUP));

	conn_close(&c);
	apr_socket_close(listener);
	mps_strand_release(strand);
	latch_destroy(&done);
}
END_TEST

#define CHURN	500

START_TEST(poller_release)
{
	apr_socket_t *listener = open_listener();
	struct latch done, churn;
	struct conn c, d;
	mps_pollreg_t *reg;
	long fired;
	int i;

	latch_init(&done);
	/* No strand: fires on the I/O lane. */
	conn_open(&c, listener, NULL, &done);
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	send_byte(c.peer);
	ck_assert(latch_wait(&done, 1, 2000));
	ck_assert_int_eq(atomic_load(&c.bytes), 1);

	/* Released while watched: never called again. */
	ck_assert_int_eq(mps_poller_watch(poller, c.reg, APR_POLLIN),
	    APR_SUCCESS);
	mps_poller_release(poller, c.reg);
	send_byte(c.peer);
	ck_assert(!latch_wait(&done, 2, 200));
	apr_socket_close(c.sock);
	apr_socket_close(c.peer);

	/*
	 * Watched and released while data is ready, many times over: a
	 * poll returns the registration while it is being released, and
	 * must find it still allocated (ASan and valgrind watch that). The
	 * task does not touch the registration, as the rules say.
	 */
	conn_open(&d, listener, NULL, &done);
	mps_poller_release(poller, d.reg);
	send_byte(d.peer);
	latch_init(&churn);
	for (i = 0; i < CHURN; i++) {
		ck_assert_int_eq(mps_poller_register(poller, &reg, d.sock,
		    NULL, count_task, &churn), APR_SUCCESS);
		ck_assert_int_eq(mps_poller_watch(poller, reg, APR_POLLIN),
		    APR_SUCCESS);
		if (i % 2)
			sched_yield();
		mps_poller_release(poller, reg);
	}
	/* Some fired before their release, none after: wait for those
	 * already posted, then check that nothing more comes. */
	apr_sleep(apr_time_from_msec(100));
	fired = latch_get(&churn);
	ck_assert_int_le(fired, CHURN);
	ck_assert(!latch_wait(&churn, fired + 1, 100));
	fprintf(stderr, "# poller_release: %ld of %d registrations released "
	    "with data ready had fired first\n", fired, CHURN);
	apr_socket_close(d.sock);
	apr_socket_close(d.peer);
	latch_destroy(&churn);

	apr_socket_close(listener);
	latch_destroy(&done);
}
END_TEST

#define MANY_CONNS		200
#define MANY_CONN_STRANDS	10

START_TEST(poller_many)
{
	apr_socket_t *listener = open_listener();
	mps_strand_t *strands[MANY_CONN_STRANDS];
	struct conn *c;
	struct latch done;
	apr_time_t start;
	int i;

	latch_init(&done);
	c = calloc(MANY_CONNS, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	for (i = 0; i < MANY_CONN_STRANDS; i++)
		strands[i] = new_strand();
	for (i = 0; i < MANY_CONNS; i++) {
		conn_open(&c[i], listener, strands[i % MANY_CONN_STRANDS],
		    &done);
		ck_assert_int_eq(mps_poller_watch(poller, c[i].reg,
		    APR_POLLIN), APR_SUCCESS);
	}
	start = apr_time_now();
	for (i = 0; i < MANY_CONNS; i++)
		send_byte(c[i].peer);
	ck_assert_msg(latch_wait(&done, MANY_CONNS, 5000),
	    "only %ld of %d sockets delivered", latch_get(&done), MANY_CONNS);
	fprintf(stderr, "# poller_many: %d sockets on %d strands delivered "
	    "in %ld ms\n", MANY_CONNS, MANY_CONN_STRANDS, ms_since(start));
	ck_assert(!latch_wait(&done, MANY_CONNS + 1, 100));
	for (i = 0; i < MANY_CONNS; i++) {
		ck_assert_int_eq(atomic_load(&c[i].calls), 1);
		ck_assert_int_eq(atomic_load(&c[i].bytes), 1);
		ck_assert_int_eq(atomic_load(&c[i].off_strand), 0);
		conn_close(&c[i]);
	}
	for (i = 0; i < MANY_CONN_STRANDS; i++)
		mps_strand_release(strands[i]);
	apr_socket_close(listener);
	free(c);
	latch_destroy(&done);
}
END_TEST

static void
noop_task(void *arg)
{
}

/* A poller of its own, to stop it and to fill it. */
static struct latch stop_returned;
static apr_status_t stop_rv;

static void *
stop_poller_main(void *arg)
{
	stop_rv = mps_poller_run(arg);
	latch_add(&stop_returned, 1);
	return NULL;
}

START_TEST(poller_stop_and_limit)
{
	apr_socket_t *listener = open_listener();
	mps_poller_t *own;
	mps_pollreg_t *r1, *r2;
	apr_socket_t *s1, *p1, *s2, *p2;
	pthread_t th;

	latch_init(&stop_returned);
	ck_assert_int_eq(mps_poller_create(&own, 0, workers, pool),
	    APR_EINVAL);
	ck_assert_int_eq(mps_poller_create(&own, 1, workers, pool),
	    APR_SUCCESS);

	/* max_sockets = 1: a second watch is refused. */
	tcp_pair(listener, &s1, &p1);
	tcp_pair(listener, &s2, &p2);
	ck_assert_int_eq(mps_poller_register(own, &r1, s1, NULL, noop_task,
	    NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_register(own, &r2, s2, NULL, noop_task,
	    NULL), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_watch(own, r1, APR_POLLIN), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_watch(own, r2, APR_POLLIN),
	    MPS_ERR_QUEUE_FULL);
	/* Replacing the event set of the one watched is no second watch. */
	ck_assert_int_eq(mps_poller_watch(own, r1, APR_POLLIN | APR_POLLOUT),
	    APR_SUCCESS);
	ck_assert_int_eq(mps_poller_unwatch(own, r1), APR_SUCCESS);
	ck_assert_int_eq(mps_poller_watch(own, r2, APR_POLLIN), APR_SUCCESS);
	mps_poller_release(own, r1);
	mps_poller_release(own, r2);

	/* Stop makes run return, promptly, with the zombies freed. */
	stop_rv = -1;
	ck_assert_int_eq(pthread_create(&th, NULL, stop_poller_main, own), 0);
	apr_sleep(apr_time_from_msec(50));
	ck_assert_int_eq(latch_get(&stop_returned), 0);
	mps_poller_stop(own);
	ck_assert_msg(latch_wait(&stop_returned, 1, 1000),
	    "mps_poller_run did not return after mps_poller_stop");
	pthread_join(th, NULL);
	ck_assert_int_eq(stop_rv, APR_SUCCESS);

	apr_socket_close(s1);
	apr_socket_close(p1);
	apr_socket_close(s2);
	apr_socket_close(p2);
	apr_socket_close(listener);
	latch_destroy(&stop_returned);
}
END_TEST

/* ---- keyed_sets.h: the fixed table of keyed records ---- */

typedef struct ks_rec {
	apr_time_t rank;
	int value;
} ks_rec;

static apr_time_t
ks_rank(const void *r)
{
	return ((const ks_rec *)r)->rank;
}

static int
ks_count(const char *key, void *record, void *arg)
{
	(void)key;
	(void)record;
	(*(int *)arg)++;
	return 0;
}

/* A key keeps its record; a lookup without create finds only it. */
START_TEST(keyed_sets_own_record)
{
	mps_keyed_sets_t *t = mps_keyed_sets_create(16, sizeof(ks_rec),
	    ks_rank);
	ks_rec *a, *b;

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_null(mps_keyed_sets_get(t, "192.0.2.1", 0));
	a = mps_keyed_sets_get(t, "192.0.2.1", 1);
	ck_assert_int_eq(a->value, 0);		/* fresh records are zero */
	a->value = 7;
	b = mps_keyed_sets_get(t, "192.0.2.2", 1);
	ck_assert_ptr_ne(a, b);
	b->value = 9;
	ck_assert_int_eq(((ks_rec *)mps_keyed_sets_get(t, "192.0.2.1", 0))
	    ->value, 7);
	ck_assert_int_eq(((ks_rec *)mps_keyed_sets_get(t, "192.0.2.2", 0))
	    ->value, 9);
	ck_assert_ptr_null(mps_keyed_sets_create(12, 8, ks_rank));
	mps_keyed_sets_destroy(t);
}
END_TEST

/*
 * With one set of four, a fifth key takes over the lowest-ranked record
 * (zeroed): the others keep theirs, and no key ever sees another's.
 */
START_TEST(keyed_sets_takeover_lowest)
{
	mps_keyed_sets_t *t = mps_keyed_sets_create(1, sizeof(ks_rec),
	    ks_rank);
	static const char *keys[] = { "a", "b", "c", "d" };
	ks_rec *r;
	int i, n = 0;

	for (i = 0; i < 4; i++) {
		r = mps_keyed_sets_get(t, keys[i], 1);
		r->rank = 100 - i;		/* "d" ranks lowest */
		r->value = i + 1;
	}
	r = mps_keyed_sets_get(t, "e", 1);
	ck_assert_int_eq(r->value, 0);
	r->value = 5;
	r->rank = 1000;
	ck_assert_ptr_null(mps_keyed_sets_get(t, "d", 0));
	for (i = 0; i < 3; i++) {
		r = mps_keyed_sets_get(t, keys[i], 0);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(r->value, i + 1);
	}
	mps_keyed_sets_foreach(t, ks_count, &n);
	ck_assert_int_eq(n, 4);
	mps_keyed_sets_destroy(t);
}
END_TEST

/* Keys are cut at 63 bytes: two keys equal that far are one key. */
START_TEST(keyed_sets_long_keys)
{
	mps_keyed_sets_t *t = mps_keyed_sets_create(4, sizeof(ks_rec),
	    ks_rank);
	char a[200], b[200];

	memset(a, 'x', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[150] = 'y';
	((ks_rec *)mps_keyed_sets_get(t, a, 1))->value = 3;
	ck_assert_int_eq(((ks_rec *)mps_keyed_sets_get(t, b, 0))->value, 3);
	b[10] = 'y';
	ck_assert_ptr_null(mps_keyed_sets_get(t, b, 0));
	mps_keyed_sets_destroy(t);
}
END_TEST


/* ---- gate (MaxHandshakes) ----------------------------------------------- */

struct gate_probe {
	mps_gate_waiter_t w;
	int id;
	int granted;
};

static int gate_order[16];
static int gate_granted_n;

static void
gate_probe_grant(mps_gate_waiter_t *w)
{
	struct gate_probe *p = (struct gate_probe *)(void *)w;

	p->granted++;
	gate_order[gate_granted_n++] = p->id;
}

START_TEST(gate_fifo_and_handover)
{
	mps_gate_t *g;
	struct gate_probe p[5];
	unsigned holders, waiting;
	int i;

	memset(p, 0, sizeof(p));
	gate_granted_n = 0;
	ck_assert_int_eq(mps_gate_create(&g, 0), APR_EINVAL);
	ck_assert_int_eq(mps_gate_create(&g, 2), APR_SUCCESS);
	for (i = 0; i < 5; i++) {
		p[i].id = i;
		p[i].w.grant = gate_probe_grant;
	}
	/* Two at once; the other three wait, in arrival order. */
	ck_assert_int_eq(mps_gate_enter(g, &p[0].w), 1);
	ck_assert_int_eq(mps_gate_enter(g, &p[1].w), 1);
	ck_assert_int_eq(mps_gate_enter(g, &p[2].w), 0);
	ck_assert_int_eq(mps_gate_enter(g, &p[3].w), 0);
	ck_assert_int_eq(mps_gate_enter(g, &p[4].w), 0);
	mps_gate_counts(g, &holders, &waiting);
	ck_assert_uint_eq(holders, 2);
	ck_assert_uint_eq(waiting, 3);
	/* One leaves: its slot goes to the oldest waiter, at once, and a
	 * newcomer does not overtake the ones still queued. */
	mps_gate_leave(g);
	ck_assert_int_eq(gate_granted_n, 1);
	ck_assert_int_eq(gate_order[0], 2);
	mps_gate_counts(g, &holders, &waiting);
	ck_assert_uint_eq(holders, 2);
	ck_assert_uint_eq(waiting, 2);
	/* A queued waiter gives up: never granted; a granted one cannot. */
	ck_assert_int_eq(mps_gate_cancel(g, &p[3].w), 1);
	ck_assert_int_eq(mps_gate_cancel(g, &p[2].w), 0);
	mps_gate_leave(g);
	ck_assert_int_eq(gate_granted_n, 2);
	ck_assert_int_eq(gate_order[1], 4);
	ck_assert_int_eq(p[3].granted, 0);
	/* Nobody waits: slots go back to the pool, and a newcomer enters. */
	mps_gate_leave(g);
	mps_gate_counts(g, &holders, &waiting);
	ck_assert_uint_eq(holders, 1);
	ck_assert_uint_eq(waiting, 0);
	ck_assert_int_eq(mps_gate_enter(g, &p[3].w), 1);
	mps_gate_leave(g);
	mps_gate_leave(g);
	mps_gate_counts(g, &holders, &waiting);
	ck_assert_uint_eq(holders, 0);
	ck_assert_int_eq(gate_granted_n, 2);
	mps_gate_destroy(g);
}
END_TEST

/* Threads enter, hold a moment, leave; a queued one waits for its
 * grant (which comes on the leaving thread, as in mpsd). Never more than
 * max inside at once, and everybody gets in. */
#define GATE_THREADS	8
#define GATE_ROUNDS	300
#define GATE_MAX	3

struct gate_runner {
	mps_gate_waiter_t w;
	mps_gate_t *g;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int go;
};

static atomic_int gate_inside, gate_peak, gate_entries;

static void
gate_runner_grant(mps_gate_waiter_t *w)
{
	struct gate_runner *r = (struct gate_runner *)(void *)w;

	pthread_mutex_lock(&r->lock);
	r->go = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void *
gate_runner_main(void *arg)
{
	struct gate_runner *r = arg;
	int i, n, peak;

	for (i = 0; i < GATE_ROUNDS; i++) {
		pthread_mutex_lock(&r->lock);
		r->go = 0;
		pthread_mutex_unlock(&r->lock);
		r->w.grant = gate_runner_grant;
		if (!mps_gate_enter(r->g, &r->w)) {
			pthread_mutex_lock(&r->lock);
			while (!r->go)
				pthread_cond_wait(&r->cond, &r->lock);
			pthread_mutex_unlock(&r->lock);
		}
		n = atomic_fetch_add(&gate_inside, 1) + 1;
		peak = atomic_load(&gate_peak);
		while (n > peak && !atomic_compare_exchange_weak(&gate_peak,
		    &peak, n))
			;
		atomic_fetch_add(&gate_entries, 1);
		sched_yield();
		atomic_fetch_sub(&gate_inside, 1);
		mps_gate_leave(r->g);
	}
	return NULL;
}

START_TEST(gate_threads_bounded)
{
	mps_gate_t *g;
	struct gate_runner r[GATE_THREADS];
	pthread_t t[GATE_THREADS];
	unsigned holders, waiting;
	int i;

	atomic_store(&gate_inside, 0);
	atomic_store(&gate_peak, 0);
	atomic_store(&gate_entries, 0);
	ck_assert_int_eq(mps_gate_create(&g, GATE_MAX), APR_SUCCESS);
	for (i = 0; i < GATE_THREADS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].g = g;
		pthread_mutex_init(&r[i].lock, NULL);
		pthread_cond_init(&r[i].cond, NULL);
		ck_assert_int_eq(pthread_create(&t[i], NULL, gate_runner_main,
		    &r[i]), 0);
	}
	for (i = 0; i < GATE_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(atomic_load(&gate_entries), GATE_THREADS * GATE_ROUNDS);
	ck_assert_int_le(atomic_load(&gate_peak), GATE_MAX);
	ck_assert_int_ge(atomic_load(&gate_peak), 2);
	mps_gate_counts(g, &holders, &waiting);
	ck_assert_uint_eq(holders, 0);
	ck_assert_uint_eq(waiting, 0);
	for (i = 0; i < GATE_THREADS; i++) {
		pthread_mutex_destroy(&r[i].lock);
		pthread_cond_destroy(&r[i].cond);
	}
	mps_gate_destroy(g);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("core");
	TCase *tc;

	tc = tcase_create("workers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, workers_lanes);
	tcase_add_test(tc, workers_destroy_discards);
	tcase_add_test(tc, workers_thread_end_hook);
	tcase_add_test(tc, lanes_hang_isolated);
	tcase_add_test(tc, lanes_back_to_back);
	tcase_add_test(tc, lanes_queue_full);
	tcase_add_test(tc, lanes_burst_counts_threads_on_their_way);
	tcase_add_test(tc, lanes_queue_timeout);
	tcase_add_test(tc, lanes_bad_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("strand");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, strand_order);
	tcase_add_test(tc, strands_parallel);
	tcase_add_test(tc, blocked_worker);
	tcase_add_test(tc, strand_yields);
	tcase_add_test(tc, strand_self_post);
	tcase_add_test(tc, strand_release);
	suite_add_tcase(s, tc);

	tc = tcase_create("timer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, timers_order);
	tcase_add_test(tc, timers_cancel);
	tcase_add_test(tc, timers_rearm);
	tcase_add_test(tc, timers_wake_poller);
	tcase_add_test(tc, timers_on_strand);
	tcase_add_test(tc, timers_heap);
	tcase_add_test(tc, timers_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("poller");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, poller_oneshot);
	tcase_add_test(tc, poller_pollout_and_hangup);
	tcase_add_test(tc, poller_release);
	tcase_add_test(tc, poller_many);
	tcase_add_test(tc, poller_stop_and_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("keyed sets");
	tcase_add_test(tc, keyed_sets_own_record);
	tcase_add_test(tc, keyed_sets_takeover_lowest);
	tcase_add_test(tc, keyed_sets_long_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("gate");
	tcase_add_test(tc, gate_fifo_and_handover);
	tcase_add_test(tc, gate_threads_bounded);
	suite_add_tcase(s, tc);
	return s;
}
