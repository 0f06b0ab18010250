/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gate.c: counted slots with a FIFO of waiters (see gate.h).
 *
 * A slot given back while someone waits is never returned to the pool:
 * it passes to the oldest waiter under the lock, so a newcomer cannot
 * overtake the queue between a leave and the grant.
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

int
mps_gate_enter(mps_gate_t *gate, mps_gate_waiter_t *w)
{
	int now;

	pthread_mutex_lock(&gate->lock);
	now = gate->holders < gate->max && gate->head == NULL;
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
	mps_gate_waiter_t *w;

	pthread_mutex_lock(&gate->lock);
	if ((w = gate->head) != NULL)
		unlink_waiter(gate, w);		/* the slot passes to w */
	else if (gate->holders > 0)
		gate->holders--;
	pthread_mutex_unlock(&gate->lock);
	if (w != NULL)
		w->grant(w);
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
