/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_job.h: one login checked by an authentication plugin on a login
 * lane of the workers, its verdict delivered on the asker's strand.
 *
 * Devices (apf_session.c) and consoles (console.c) ask the same way: copy
 * the credentials, call Authenticate where blocking is allowed, wipe the
 * password, come back to the strand that owns the connection. The owner
 * keeps itself alive for the job (a reference it takes before starting)
 * and drops it in done() or, if the workers stop first, in dropped().
 *
 * Devices ask on MPS_LANE_DEVICE_AUTH and consoles on
 * MPS_LANE_CONSOLE_AUTH, so that a backend that hangs for one side never
 * delays the other. A lane that is full (AuthQueueLength logins waiting)
 * or a login that waited longer than AuthQueueTimeout for a thread gets
 * the verdict MPS_AUTH_BUSY without the plugin being asked: the device
 * is refused as for a wrong password, the console with a server failure.
 * Refusals are counted per lane and logged as one WARNING per lane at
 * most every BUSY_LOG_INTERVAL.
 */
#ifndef MPS_AUTH_JOB_H
#define MPS_AUTH_JOB_H

#include <apr_errno.h>
#include <stddef.h>

#include "live.h"
#include "plugin_loader.h"
#include "strand.h"
#include "workers.h"

typedef enum {
	MPS_AUTH_DENIED = 0,	/* the plugin said no */
	MPS_AUTH_GRANTED = 1,	/* the plugin said yes */
	MPS_AUTH_BUSY = 2	/* not asked: the lane refused the login */
} mps_auth_verdict_t;

/* On the owner's strand: the verdict. user is what was asked
 * (NUL-terminated); err the plugin's reason ("" for none). */
typedef void (*mps_auth_done_fn)(void *owner, mps_auth_verdict_t verdict,
    const char *user, const char *err);

/* The job will never run or report (the workers stopped). */
typedef void (*mps_auth_dropped_fn)(void *owner);

/*
 * Starts a login on lane: user and password are copied (user_len/pass_len
 * bytes, no NUL needed). Returns APR_SUCCESS, after which exactly one of
 * done() and dropped() runs for owner (done() with MPS_AUTH_BUSY when the
 * lane's queue is full: posted, never called from here); or an error
 * (APR_ENOMEM, or the lane's), after which neither runs.
 */
apr_status_t mps_auth_job_start(mps_workers_t *workers, mps_lane_t lane,
    const mps_auth_plugin_t *plugin, mps_strand_t *strand,
    const char *user, size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner);

/*
 * The same, with the plugin taken from the live settings when the job
 * runs (live.h): the job holds that generation for the plugin call
 * only, so a reload never waits for it and never pulls an instance out
 * from under it. A role whose plugin is absent refuses the login. The
 * lane follows the role: device logins on MPS_LANE_DEVICE_AUTH, console
 * logins on MPS_LANE_CONSOLE_AUTH.
 */
apr_status_t mps_auth_job_start_live(mps_workers_t *workers,
    mps_live_slot_t *slot, mps_live_role_t role, mps_strand_t *strand,
    const char *user, size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner);

#endif /* MPS_AUTH_JOB_H */
