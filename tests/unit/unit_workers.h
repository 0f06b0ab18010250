/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit_workers.h: holding a workers' I/O lane busy, then stopping the
 * workers while it is held, for tests of what happens to a task that is
 * queued when the workers stop (it must go through its discard hook).
 */
#ifndef MPS_UNIT_WORKERS_H
#define MPS_UNIT_WORKERS_H

#include "workers.h"

/* Every thread the I/O lane of mps_workers_create(w, 2, ...) may have:
 * its two, and two more it grows when all are busy. */
#define UNIT_IO_LANE_MAX 4

/* Occupies every I/O thread of workers (created with 2 I/O threads) and
 * returns once all of them run a holder: a task posted now stays
 * queued. */
void unit_hold_io_lane(mps_workers_t *workers);

/* Starts mps_workers_destroy(workers), lets the holders go once the
 * workers are stopping, and returns when the destroy has: every task
 * queued behind the holders has been discarded. */
void unit_stop_workers_while_held(mps_workers_t *workers);

#endif
