/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strand.c: serial task queues on the I/O lane.
 *
 * Invariants, all under the strand's mutex:
 *  - "scheduled" is set while exactly one runner for the strand is queued
 *    on the I/O lane or running; no second runner is ever pushed.
 *  - a non-empty queue implies "scheduled" (post pushes the runner when it
 *    queues into an empty, unscheduled strand; the runner clears the flag
 *    only when it finds the queue empty).
 *  - the strand is freed exactly once, by whichever of release() and the
 *    runner sees both "released" and not "scheduled" (queue empty).
 *
 * The runner never holds the mutex while a task runs, so a task may post
 * to its own strand (the new task is appended, never run inline) or
 * release it.
 */
#include "strand.h"
#include "mps_status.h"

#include <pthread.h>
#include <stdlib.h>

/* Tasks one runner turn may run before it yields its worker to others. */
#define STRAND_BATCH	32

struct strand_task {
	struct strand_task *next;
	mps_task_fn fn;
	mps_task_fn discard;
	void *arg;
};

struct mps_strand_t {
	pthread_mutex_t mutex;
	struct strand_task *head;	/* FIFO: pop at head, post at tail */
	struct strand_task *tail;
	mps_workers_t *workers;
	unsigned char scheduled;	/* a runner is queued or running */
	unsigned char released;		/* the owner gave the strand up */
};

/* The strand whose task this thread is running, if any. */
static __thread const mps_strand_t *current_strand;

static void run_strand(void *arg);
static void discard_strand(void *arg);

static void
strand_free(mps_strand_t *strand)
{
	pthread_mutex_destroy(&strand->mutex);
	free(strand);
}

mps_strand_t *
mps_strand_create(mps_workers_t *workers)
{
	mps_strand_t *strand;

	if ((strand = calloc(1, sizeof(*strand))) == NULL)
		return NULL;
	if (pthread_mutex_init(&strand->mutex, NULL) != 0) {
		free(strand);
		return NULL;
	}
	strand->workers = workers;
	return strand;
}

static struct strand_task *
pop_task(mps_strand_t *strand)
{
	struct strand_task *task;

	if ((task = strand->head) != NULL) {
		strand->head = task->next;
		if (strand->head == NULL)
			strand->tail = NULL;
	}
	return task;
}

apr_status_t
mps_strand_post_ex(mps_strand_t *strand, mps_task_fn fn, mps_task_fn discard,
    void *arg)
{
	struct strand_task *task;
	apr_status_t rv = APR_SUCCESS;

	if (fn == NULL)
		return APR_EINVAL;
	if (mps_workers_stopping(strand->workers))
		return MPS_ERR_SHUTDOWN;
	if ((task = malloc(sizeof(*task))) == NULL)
		return APR_ENOMEM;
	task->next = NULL;
	task->fn = fn;
	task->discard = discard;
	task->arg = arg;

	pthread_mutex_lock(&strand->mutex);
	if (strand->released) {
		pthread_mutex_unlock(&strand->mutex);
		free(task);
		return MPS_ERR_SHUTDOWN;
	}
	if (strand->tail != NULL)
		strand->tail->next = task;
	else
		strand->head = task;
	strand->tail = task;
	if (!strand->scheduled) {
		/*
		 * Pushed under the mutex: should the push fail, nobody can
		 * have queued behind this task meanwhile, expecting a runner
		 * that will never come. Not scheduled means the queue held
		 * nothing before this task, so undoing is emptying it.
		 */
		rv = mps_workers_push_ex(strand->workers, MPS_LANE_IO,
		    run_strand, discard_strand, strand);
		if (rv == APR_SUCCESS)
			strand->scheduled = 1;
		else
			strand->head = strand->tail = NULL;
	}
	pthread_mutex_unlock(&strand->mutex);
	if (rv != APR_SUCCESS)
		free(task);
	return rv;
}

apr_status_t
mps_strand_post(mps_strand_t *strand, mps_task_fn fn, void *arg)
{
	return mps_strand_post_ex(strand, fn, NULL, arg);
}

apr_status_t
mps_strand_post_free(mps_strand_t *strand, mps_task_fn fn, void *arg)
{
	return mps_strand_post_ex(strand, fn, fn, arg);
}

int
mps_strand_is_current(const mps_strand_t *strand)
{
	return strand != NULL && current_strand == strand;
}

/*
 * With the mutex held and the queue empty: the runner's turn ends. Unlocks.
 * After this, the strand may be freed by release() at any moment.
 */
static void
finish_turn(mps_strand_t *strand)
{
	int free_it;

	strand->scheduled = 0;
	free_it = strand->released;
	pthread_mutex_unlock(&strand->mutex);
	if (free_it)
		strand_free(strand);
}

/*
 * The workers are stopping: drop what is queued (calling discard hooks)
 * and end the runner's turn. Also the runner's own discard hook, for a
 * runner that never started.
 */
static void
discard_strand(void *arg)
{
	mps_strand_t *strand = arg;
	struct strand_task *list, *task;

	pthread_mutex_lock(&strand->mutex);
	list = strand->head;
	strand->head = strand->tail = NULL;
	finish_turn(strand);
	while ((task = list) != NULL) {
		list = task->next;
		if (task->discard != NULL)
			task->discard(task->arg);
		free(task);
	}
}

static void
run_one(mps_strand_t *strand, struct strand_task *task)
{
	current_strand = strand;
	task->fn(task->arg);
	current_strand = NULL;
	free(task);
}

/* One turn: runs queued tasks, at most a batch, then yields or ends. */
static void
run_strand(void *arg)
{
	mps_strand_t *strand = arg;
	struct strand_task *task;
	apr_status_t rv;
	int n;

	for (;;) {
		for (n = 0; n < STRAND_BATCH; n++) {
			if (mps_workers_stopping(strand->workers)) {
				discard_strand(strand);
				return;
			}
			pthread_mutex_lock(&strand->mutex);
			if ((task = pop_task(strand)) == NULL) {
				finish_turn(strand);
				return;
			}
			pthread_mutex_unlock(&strand->mutex);
			run_one(strand, task);
		}
		/* A full batch: if more is queued, queue behind the other
		 * strands' runners rather than keep this worker. */
		pthread_mutex_lock(&strand->mutex);
		if (strand->head == NULL) {
			finish_turn(strand);
			return;
		}
		rv = mps_workers_push_ex(strand->workers, MPS_LANE_IO,
		    run_strand, discard_strand, strand);
		pthread_mutex_unlock(&strand->mutex);
		if (rv == APR_SUCCESS)
			return;		/* still scheduled: the new runner */
		if (rv == MPS_ERR_SHUTDOWN) {
			discard_strand(strand);
			return;
		}
		/* Out of memory: carry on here rather than stall the strand. */
	}
}

void
mps_strand_release(mps_strand_t *strand)
{
	int free_it;

	pthread_mutex_lock(&strand->mutex);
	strand->released = 1;
	/* Not scheduled implies an empty queue: nothing left to run. */
	free_it = !strand->scheduled;
	pthread_mutex_unlock(&strand->mutex);
	if (free_it)
		strand_free(strand);
}
