/* SPDX-License-Identifier: Apache-2.0 */
/* unit_workers.c: see unit_workers.h. */
#include "unit.h"
#include "unit_workers.h"

#include <pthread.h>
#include <stdatomic.h>

#include <apr_time.h>

static atomic_int holders_running;
static atomic_int holders_go;

static void
hold_io_thread(void *arg)
{
	(void)arg;
	atomic_fetch_add(&holders_running, 1);
	while (!atomic_load(&holders_go))
		apr_sleep(apr_time_from_msec(1));
}

void
unit_hold_io_lane(mps_workers_t *workers)
{
	int i;

	atomic_store(&holders_running, 0);
	atomic_store(&holders_go, 0);
	for (i = 0; i < UNIT_IO_LANE_MAX; i++)
		ck_assert_int_eq(mps_workers_push(workers, MPS_LANE_IO,
		    hold_io_thread, NULL), APR_SUCCESS);
	for (i = 0; i < 5000 &&
	    atomic_load(&holders_running) < UNIT_IO_LANE_MAX; i++)
		apr_sleep(apr_time_from_msec(1));
	ck_assert_int_eq(atomic_load(&holders_running), UNIT_IO_LANE_MAX);
}

static void *
destroy_workers(void *arg)
{
	mps_workers_destroy(arg);
	return NULL;
}

void
unit_stop_workers_while_held(mps_workers_t *workers)
{
	pthread_t stopper;
	int i;

	ck_assert_int_eq(pthread_create(&stopper, NULL, destroy_workers,
	    workers), 0);
	for (i = 0; i < 5000 && !mps_workers_stopping(workers); i++)
		apr_sleep(apr_time_from_msec(1));
	ck_assert(mps_workers_stopping(workers));
	atomic_store(&holders_go, 1);
	pthread_join(stopper, NULL);
}
