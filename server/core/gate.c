/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gate.c: counted slots with a FIFO of waiters (see gate.h).
 *
 * A slot given back while someone waits and there is room (below) is
 * never returned to the pool: it passes to the oldest waiter under the
 * lock, so a newcomer cannot overtake the queue between a leave and the
 * grant.
 *
 * Pacing (mps_gate_pace): "room" for one more holder is max without
 * pacing; with it, also holders < floor or busy() false. A leave while
 * busy returns its slot to the pool (the holders shrink by one, never
 * below floor while anyone waits); a leave while not busy passes its
 * slot on and lets one more waiter in (they grow by one, up to max). A
 * waiter is therefore queued only while holders >= floor >= 1, and one
 * of them leaving re-checks the queue: no waiter is left with nobody
 * to grant it.
 */
#include "gate.h"

#include <pthread.h>
#include <stdlib.h>

struct mps_gate_t {
	pthread_mutex_t lock;
	unsigned max;
	unsigned holders;
	unsigned waiting;
	mps_gate_waiter_t *head, *tail;
	unsigned floor;			/* pacing: holders always allowed */
	int (*busy)(void *arg);		/* pacing: NULL for none */
	void *busy_arg;
};

apr_status_t
mps_gate_create(mps_gate_t **gatep, unsigned max)
{
	mps_gate_t *gate;

	*gatep = NULL;
	if (max == 0)
		return APR_EINVAL;
	if ((gate = calloc(1, sizeof(*gate))) == NULL)
		return APR_ENOMEM;
	if (pthread_mutex_init(&gate->lock, NULL) != 0) {
		free(gate);
		return APR_ENOMEM;
	}
	gate->max = max;
	*gatep = gate;
	return APR_SUCCESS;
}

void
mps_gate_destroy(mps_gate_t *gate)
{
	if (gate == NULL)
		return;
	pthread_mutex_destroy(&gate->lock);
	free(gate);
}

void
mps_gate_pace(mps_gate_t *gate, unsigned floor, int (*busy)(void *arg),
    void *arg)
{
	pthread_mutex_lock(&gate->lock);
	gate->floor = floor > 0 ? floor : 1;
	gate->busy = busy;
	gate->busy_arg = arg;
	pthread_mutex_unlock(&gate->lock);
}

/* With the lock held: does pacing let one more holder in? busy() is
 * asked only above the floor. */
static int
paced_room(mps_gate_t *gate)
{
	return gate->busy == NULL || gate->holders < gate->floor ||
	    !gate->busy(gate->busy_arg);
}

int
mps_gate_enter(mps_gate_t *gate, mps_gate_waiter_t *w)
{
	int now;

	pthread_mutex_lock(&gate->lock);
	now = gate->holders < gate->max && gate->head == NULL &&
	    paced_room(gate);
	if (now) {
		gate->holders++;
	} else {
		w->next = NULL;
		w->prev = gate->tail;
		if (gate->tail != NULL)
			gate->tail->next = w;
		else
			gate->head = w;
		gate->tail = w;
		w->queued = 1;
		gate->waiting++;
	}
	pthread_mutex_unlock(&gate->lock);
	return now;
}

/* With the lock held: takes w off the queue. */
static void
unlink_waiter(mps_gate_t *gate, mps_gate_waiter_t *w)
{
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		gate->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		gate->tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = 0;
	gate->waiting--;
}

int
mps_gate_cancel(mps_gate_t *gate, mps_gate_waiter_t *w)
{
	int was_queued;

	pthread_mutex_lock(&gate->lock);
	was_queued = w->queued;
	if (was_queued)
		unlink_waiter(gate, w);
	pthread_mutex_unlock(&gate->lock);
	return was_queued;
}

void
mps_gate_leave(mps_gate_t *gate)
{
	mps_gate_waiter_t *w = NULL, *more = NULL;

	pthread_mutex_lock(&gate->lock);
	if (gate->holders > 0)
		gate->holders--;
	if (gate->head != NULL && paced_room(gate)) {
		w = gate->head;
		unlink_waiter(gate, w);		/* the slot passes to w */
		gate->holders++;
		/* Paced and not busy: one more, so that holders shrunk by a
		 * busy spell grow back. (Unpaced, holders is max here.) */
		if (gate->head != NULL && gate->holders < gate->max) {
			more = gate->head;
			unlink_waiter(gate, more);
			gate->holders++;
		}
	}
	pthread_mutex_unlock(&gate->lock);
	if (w != NULL)
		w->grant(w);
	if (more != NULL)
		more->grant(more);
}

void
mps_gate_counts(mps_gate_t *gate, unsigned *holders, unsigned *waiting)
{
	pthread_mutex_lock(&gate->lock);
	if (holders != NULL)
		*holders = gate->holders;
	if (waiting != NULL)
		*waiting = gate->waiting;
	pthread_mutex_unlock(&gate->lock);
}
