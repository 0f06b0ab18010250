/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auth_job.c: see auth_job.h.
 *
 * A job changes threads at two points only: mps_auth_job_start() pushes
 * it from the owner's strand to the blocking lane, and the end of
 * job_run() posts it back (the verdict and the error text are written
 * before that post, which orders them for job_done). In between only the
 * blocking lane touches it; the owner keeps a reference of its own.
 */
#include "auth_job.h"
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

typedef struct auth_job {
	const mps_auth_plugin_t *plugin;
	mps_strand_t *strand;
	mps_auth_done_fn done;
	mps_auth_dropped_fn dropped;
	void *owner;
	char *user;
	char *password;
	size_t pass_len;
	int granted;
	char err[MPS_PLUGIN_ERROR_SIZE];
} auth_job;

static void
job_free(auth_job *job)
{
	if (job->password != NULL) {
		explicit_bzero(job->password, job->pass_len);
		free(job->password);
	}
	free(job->user);
	free(job);
}

/* The owner's strand. */
static void
job_done(void *arg)
{
	auth_job *job = arg;

	job->done(job->owner, job->granted, job->user, job->err);
	job_free(job);
}

static void
job_dropped(void *arg)
{
	auth_job *job = arg;

	job->dropped(job->owner);
	job_free(job);
}

/* The blocking lane. */
static void
job_run(void *arg)
{
	auth_job *job = arg;
	/* Latency as the plugin gives it, queueing excluded. */
	int64_t t0 = mps_metrics_now_usec();

	job->granted = mps_auth_plugin_authenticate(job->plugin, job->user,
	    job->password, job->err, sizeof(job->err));
	mps_metric_auth_latency(job->plugin, mps_metrics_now_usec() - t0);
	/* The password is not needed past this point. */
	explicit_bzero(job->password, job->pass_len);
	if (mps_strand_post_ex(job->strand, job_done, job_dropped, job) !=
	    APR_SUCCESS)
		job_dropped(job);
}

apr_status_t
mps_auth_job_start(mps_workers_t *workers, const mps_auth_plugin_t *plugin,
    mps_strand_t *strand, const char *user, size_t user_len,
    const char *password, size_t pass_len, mps_auth_done_fn done,
    mps_auth_dropped_fn dropped, void *owner)
{
	auth_job *job = calloc(1, sizeof(*job));
	apr_status_t rv;

	if (job == NULL)
		return APR_ENOMEM;
	job->user = strndup(user, user_len);
	job->password = strndup(password, pass_len);
	job->pass_len = pass_len;
	if (job->user == NULL || job->password == NULL) {
		job_free(job);
		return APR_ENOMEM;
	}
	job->plugin = plugin;
	job->strand = strand;
	job->done = done;
	job->dropped = dropped;
	job->owner = owner;
	rv = mps_workers_push_ex(workers, MPS_LANE_BLOCKING, job_run,
	    job_dropped, job);
	if (rv != APR_SUCCESS) {
		/* Neither callback runs: the caller still holds its ref. */
		job_free(job);
	}
	return rv;
}
