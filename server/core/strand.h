/* SPDX-License-Identifier: Apache-2.0 */
/*
 * strand.h: a serial queue of tasks on the I/O lane.
 *
 * Everything that touches one device tunnel (its socket, its channels,
 * the console sockets bound to them) runs on that device's strand: tasks
 * posted to one strand run one at a time, in the order posted, on
 * whichever worker is free. Different strands run in parallel. Inside a
 * strand's world no locks are needed.
 *
 * A strand is small (one mutex, a queue head and tail, two flags) so that
 * 100,000 idle tunnels cost little; it is malloc'd, not pool-allocated.
 * A strand that has queued tasks occupies one worker for at most a batch
 * of tasks, then yields its place so that busy strands do not starve
 * others.
 *
 * LIFETIME RULE (for every object that owns a strand, poll registrations
 * or timers): free such an object only from a task posted to its strand
 * AFTER releasing its registrations and cancelling its timers. FIFO order
 * guarantees that any task already queued for it (a poll event, a timer
 * firing) has run first; such tasks must check the object's own "closed"
 * state before touching anything else. Post that free with
 * mps_strand_post_free(): if the workers stop before it runs, it still
 * runs, as the discard hook. A plain mps_strand_post() of a free loses
 * the object at shutdown.
 */
#ifndef MPS_STRAND_H
#define MPS_STRAND_H

#include "workers.h"

typedef struct mps_strand_t mps_strand_t;

/* Returns NULL when out of memory. */
mps_strand_t *mps_strand_create(mps_workers_t *workers);

/*
 * Appends fn(arg) to the strand. Thread-safe; never runs fn before
 * returning, even when called from the strand itself. Returns ENOMEM or
 * MPS_ERR_SHUTDOWN (the strand was released, or the workers stopped).
 */
apr_status_t mps_strand_post(mps_strand_t *strand, mps_task_fn fn, void *arg);

/*
 * Like mps_strand_post(), and when discard is not NULL, discard(arg) is
 * called instead of fn(arg) if the task is dropped because the workers
 * stop first (so that a malloc'd arg is not lost at shutdown).
 */
apr_status_t mps_strand_post_ex(mps_strand_t *strand, mps_task_fn fn,
    mps_task_fn discard, void *arg);

/*
 * Posts a free (the LIFETIME RULE above): fn(arg) runs on the strand, or,
 * if the workers stop before it does, as the discard hook, after the
 * strand's turn has ended (so fn may release the strand). On an error
 * return nothing will run: the caller frees another way.
 */
apr_status_t mps_strand_post_free(mps_strand_t *strand, mps_task_fn fn,
    void *arg);

/* True when the calling thread is running a task of this strand. */
int mps_strand_is_current(const mps_strand_t *strand);

/*
 * Gives up the strand: tasks already posted still run, in order; then the
 * strand frees itself. Posting after release fails with MPS_ERR_SHUTDOWN.
 * May be called from the strand's own task; call it exactly once. (Once
 * the workers stop, queued tasks are discarded instead of run, and the
 * strand is freed all the same.)
 */
void mps_strand_release(mps_strand_t *strand);

#endif /* MPS_STRAND_H */
