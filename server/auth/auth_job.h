/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_job.h: one login checked by an authentication plugin on the
 * blocking lane, its verdict delivered on the asker's strand.
 *
 * Devices (apf_session.c) and consoles (console.c) ask the same way: copy
 * the credentials, call Authenticate where blocking is allowed, wipe the
 * password, come back to the strand that owns the connection. The owner
 * keeps itself alive for the job (a reference it takes before starting)
 * and drops it in done() or, if the workers stop first, in dropped().
 */
#ifndef MPS_AUTH_JOB_H
#define MPS_AUTH_JOB_H

#include <apr_errno.h>
#include <stddef.h>

#include "live.h"
#include "plugin_loader.h"
#include "strand.h"
#include "workers.h"

/* On the owner's strand: the plugin's verdict. user is what was asked
 * (NUL-terminated); err the plugin's reason ("" for none). */
typedef void (*mps_auth_done_fn)(void *owner, int granted, const char *user,
    const char *err);

/* The job will never run or report (the workers stopped). */
typedef void (*mps_auth_dropped_fn)(void *owner);

/*
 * Starts a login: user and password are copied (user_len/pass_len bytes,
 * no NUL needed). Returns APR_SUCCESS, after which exactly one of done()
 * and dropped() runs for owner; or an error (APR_ENOMEM, or the lane's),
 * after which neither runs.
 */
apr_status_t mps_auth_job_start(mps_workers_t *workers,
    const mps_auth_plugin_t *plugin, mps_strand_t *strand,
    const char *user, size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner);

/*
 * The same, with the plugin taken from the live settings when the job
 * runs (live.h): the job holds that generation for the plugin call
 * only, so a reload never waits for it and never pulls an instance out
 * from under it. A role whose plugin is absent refuses the login.
 */
apr_status_t mps_auth_job_start_live(mps_workers_t *workers,
    mps_live_slot_t *slot, mps_live_role_t role, mps_strand_t *strand,
    const char *user, size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner);

#endif /* MPS_AUTH_JOB_H */
