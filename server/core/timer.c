/* SPDX-License-Identifier: Apache-2.0 */
/*
 * timer.c: a binary min-heap of armed timers, ordered by expiry time.
 *
 * The heap is an array of pointers to the timers, which live in their
 * owners' structs; each timer keeps its own index so that cancelling or
 * re-arming is O(log n) without a search. One mutex guards the heap and
 * every timer's fields.
 *
 * An expired timer is posted to its strand as a small "firing" record
 * holding the timer's generation at that moment. Arm and cancel bump the
 * generation, so a firing that was overtaken sees a different one when it
 * runs and does not call fn. The post happens while the heap mutex is
 * held: once mps_timer_cancel() has returned, any firing of that timer is
 * already in the strand's queue, and so runs (and is dropped) before any
 * task the canceller posts next, such as the one that frees the owner.
 */
#include "timer.h"
#include "mps_status.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define NOT_ARMED		((apr_size_t)-1)
#define HEAP_INITIAL		64
/* Far enough for any timeout, near enough that now + delay cannot
 * overflow apr_time_t. */
#define DELAY_MAX		apr_time_from_sec(10LL * 365 * 24 * 3600)
/* When a firing cannot be posted for want of memory, try again then. */
#define RETRY_DELAY		apr_time_from_msec(10)

struct mps_timers_t {
	pthread_mutex_t mutex;
	mps_timer_t **heap;		/* heap[0] expires first */
	apr_size_t len;
	apr_size_t cap;
	mps_workers_t *workers;
	void (*wake)(void *wake_arg);
	void *wake_arg;
};

struct firing {
	mps_timers_t *timers;
	mps_timer_t *timer;
	apr_uint32_t generation;	/* the timer's, when it expired */
};

static void
heap_place(mps_timers_t *timers, apr_size_t i, mps_timer_t *timer)
{
	timers->heap[i] = timer;
	timer->heap_index = i;
}

static void
sift_up(mps_timers_t *timers, apr_size_t i)
{
	mps_timer_t *timer = timers->heap[i];
	apr_size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (timers->heap[parent]->when <= timer->when)
			break;
		heap_place(timers, i, timers->heap[parent]);
		i = parent;
	}
	heap_place(timers, i, timer);
}

static void
sift_down(mps_timers_t *timers, apr_size_t i)
{
	mps_timer_t *timer = timers->heap[i];
	apr_size_t child;

	for (;;) {
		/* i < len <= cap, and cap is bounded so that this cannot
		 * overflow (see heap_grow()). */
		child = 2 * i + 1;
		if (child >= timers->len)
			break;
		if (child + 1 < timers->len &&
		    timers->heap[child + 1]->when < timers->heap[child]->when)
			child++;
		if (timer->when <= timers->heap[child]->when)
			break;
		heap_place(timers, i, timers->heap[child]);
		i = child;
	}
	heap_place(timers, i, timer);
}

/* Puts heap[i] where its (changed) expiry time belongs. */
static void
heap_fix(mps_timers_t *timers, apr_size_t i)
{
	if (i > 0 && timers->heap[(i - 1) / 2]->when > timers->heap[i]->when)
		sift_up(timers, i);
	else
		sift_down(timers, i);
}

static void
heap_remove(mps_timers_t *timers, mps_timer_t *timer)
{
	apr_size_t i = timer->heap_index;
	mps_timer_t *last;

	last = timers->heap[--timers->len];
	timers->heap[timers->len] = NULL;
	timer->heap_index = NOT_ARMED;
	if (last != timer) {
		heap_place(timers, i, last);
		heap_fix(timers, i);
	}
}

static apr_status_t
heap_grow(mps_timers_t *timers)
{
	mps_timer_t **heap;
	apr_size_t cap;

	cap = timers->cap ? timers->cap * 2 : HEAP_INITIAL;
	/* Keeps both the allocation size and sift_down()'s 2i + 2 in range. */
	if (cap < timers->cap || cap > SIZE_MAX / 4 / sizeof(*heap))
		return APR_ENOMEM;
	if ((heap = realloc(timers->heap, cap * sizeof(*heap))) == NULL)
		return APR_ENOMEM;
	timers->heap = heap;
	timers->cap = cap;
	return APR_SUCCESS;
}

void
mps_timer_init(mps_timer_t *timer, mps_strand_t *strand, mps_task_fn fn,
    void *arg)
{
	timer->when = 0;
	timer->heap_index = NOT_ARMED;
	timer->generation = 0;
	timer->strand = strand;
	timer->fn = fn;
	timer->arg = arg;
}

apr_status_t
mps_timer_arm(mps_timers_t *timers, mps_timer_t *timer,
    apr_interval_time_t delay)
{
	apr_status_t rv = APR_SUCCESS;
	int earliest;

	if (delay < 0)
		delay = 0;
	if (delay > DELAY_MAX)
		delay = DELAY_MAX;
	pthread_mutex_lock(&timers->mutex);
	/* Whatever else happens, a firing already queued is overtaken. */
	timer->generation++;
	timer->when = apr_time_now() + delay;
	if (timer->heap_index != NOT_ARMED) {
		heap_fix(timers, timer->heap_index);
	} else if (timers->len < timers->cap ||
	    (rv = heap_grow(timers)) == APR_SUCCESS) {
		heap_place(timers, timers->len++, timer);
		sift_up(timers, timer->heap_index);
	}
	earliest = rv == APR_SUCCESS && timer->heap_index == 0;
	pthread_mutex_unlock(&timers->mutex);
	/* The poller may be asleep until a later expiry. */
	if (earliest && timers->wake != NULL)
		timers->wake(timers->wake_arg);
	return rv;
}

void
mps_timer_cancel(mps_timers_t *timers, mps_timer_t *timer)
{
	pthread_mutex_lock(&timers->mutex);
	timer->generation++;
	if (timer->heap_index != NOT_ARMED)
		heap_remove(timers, timer);
	pthread_mutex_unlock(&timers->mutex);
}

int
mps_timer_is_armed(mps_timers_t *timers, const mps_timer_t *timer)
{
	int armed;

	pthread_mutex_lock(&timers->mutex);
	armed = timer->heap_index != NOT_ARMED;
	pthread_mutex_unlock(&timers->mutex);
	return armed;
}

/* A firing, on the timer's strand: calls fn unless overtaken. */
static void
fire(void *arg)
{
	struct firing *firing = arg;
	mps_timers_t *timers = firing->timers;
	mps_timer_t *timer = firing->timer;
	mps_task_fn fn;
	void *fn_arg;
	int live;

	pthread_mutex_lock(&timers->mutex);
	live = timer->generation == firing->generation;
	fn = timer->fn;
	fn_arg = timer->arg;
	pthread_mutex_unlock(&timers->mutex);
	free(firing);
	if (live)
		fn(fn_arg);
}

/* With the heap mutex held (see the top of the file). */
static apr_status_t
post_firing(mps_timers_t *timers, mps_timer_t *timer)
{
	struct firing *firing;
	apr_status_t rv;

	if ((firing = malloc(sizeof(*firing))) == NULL)
		return APR_ENOMEM;
	firing->timers = timers;
	firing->timer = timer;
	firing->generation = timer->generation;
	if (timer->strand != NULL)
		rv = mps_strand_post_ex(timer->strand, fire, free, firing);
	else
		rv = mps_workers_push_ex(timers->workers, MPS_LANE_IO, fire,
		    free, firing);
	if (rv != APR_SUCCESS)
		free(firing);
	return rv;
}

apr_interval_time_t
mps_timers_expire(mps_timers_t *timers, apr_time_t now)
{
	apr_interval_time_t next;
	mps_timer_t *timer;
	apr_status_t rv;

	pthread_mutex_lock(&timers->mutex);
	while (timers->len > 0 && timers->heap[0]->when <= now) {
		timer = timers->heap[0];
		rv = post_firing(timers, timer);
		if (rv == APR_ENOMEM) {
			/* Leave it armed and due: retried soon. */
			pthread_mutex_unlock(&timers->mutex);
			return RETRY_DELAY;
		}
		/* Posted, or never can be (released strand, workers
		 * stopping): either way it is no longer armed. */
		heap_remove(timers, timer);
	}
	next = timers->len > 0 ? timers->heap[0]->when - now : -1;
	pthread_mutex_unlock(&timers->mutex);
	return next;
}

apr_size_t
mps_timers_count(mps_timers_t *timers)
{
	apr_size_t n;

	pthread_mutex_lock(&timers->mutex);
	n = timers->len;
	pthread_mutex_unlock(&timers->mutex);
	return n;
}

static apr_status_t
timers_cleanup(void *data)
{
	mps_timers_t *timers = data;

	/* Timers still armed are not touched: their owners may be gone. */
	free(timers->heap);
	timers->heap = NULL;
	timers->len = timers->cap = 0;
	pthread_mutex_destroy(&timers->mutex);
	return APR_SUCCESS;
}

apr_status_t
mps_timers_create(mps_timers_t **timersp, mps_workers_t *workers,
    void (*wake)(void *wake_arg), void *wake_arg, apr_pool_t *pool)
{
	mps_timers_t *timers;
	apr_status_t rv;

	*timersp = NULL;
	timers = apr_pcalloc(pool, sizeof(*timers));
	if ((rv = pthread_mutex_init(&timers->mutex, NULL)) != 0)
		return rv;
	timers->workers = workers;
	timers->wake = wake;
	timers->wake_arg = wake_arg;
	apr_pool_cleanup_register(pool, timers, timers_cleanup,
	    apr_pool_cleanup_null);
	*timersp = timers;
	return APR_SUCCESS;
}
