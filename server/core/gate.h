/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gate.h: at most N holders at once; the others wait, first come first
 * served, and each slot given back goes straight to the oldest waiter.
 *
 * mpsd's use: MaxHandshakes, the device TLS handshakes worked on at
 * once. A login storm (every device of a site after an outage) no
 * longer starts tens of thousands of handshakes together, each with its
 * transient buffers and keys between the tunnels' long-lived objects;
 * the surplus waits, unread, in its socket.
 *
 * HAND-OVER. A waiter is granted by the thread that gives a slot back:
 * mps_gate_leave() calls the waiter's grant() on that thread, outside
 * the gate's lock. grant() must only hand the waiter to its owner's
 * thread (a strand post) and must not enter, leave or cancel on this
 * gate itself. From the moment the waiter is taken off the queue it
 * holds the slot, whatever grant() then does: an owner that cannot
 * use it gives it back with mps_gate_leave().
 *
 * All state is under the gate's mutex; a waiter's fields are the gate's
 * from mps_gate_enter() (queued) until it is granted or cancelled.
 */
#ifndef MPS_GATE_H
#define MPS_GATE_H

#include <apr_errno.h>

typedef struct mps_gate_t mps_gate_t;

typedef struct mps_gate_waiter_t mps_gate_waiter_t;
struct mps_gate_waiter_t {
	mps_gate_waiter_t *prev, *next;	/* the queue (the gate's lock) */
	void (*grant)(mps_gate_waiter_t *w);
	unsigned char queued;		/* the gate's lock */
};

/* max >= 1. */
apr_status_t mps_gate_create(mps_gate_t **gate, unsigned max);
/* Nothing may hold or wait any more. */
void mps_gate_destroy(mps_gate_t *gate);

/* Returns 1 when the caller holds a slot now, 0 when w (with grant set)
 * is queued: w->grant(w) follows when a holder leaves. */
int mps_gate_enter(mps_gate_t *gate, mps_gate_waiter_t *w);

/* A queued waiter gives up. Returns 1 when it was still queued (it holds
 * nothing, and grant() will not be called), 0 when it had been granted
 * already (grant() has run or is running): it holds a slot then, which
 * its owner gives back with mps_gate_leave() once grant()'s hand-over
 * reaches it. */
int mps_gate_cancel(mps_gate_t *gate, mps_gate_waiter_t *w);

/* Gives a slot back: to the oldest waiter (its grant() runs here), or
 * to the pool. */
void mps_gate_leave(mps_gate_t *gate);

/* Holders and waiters now (for status and tests). */
void mps_gate_counts(mps_gate_t *gate, unsigned *holders, unsigned *waiting);

#endif
