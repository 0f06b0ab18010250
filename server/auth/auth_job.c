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
#include "log.h"
#include "metrics.h"
#include "mps_status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* At most one WARNING per login lane this often about refusals. */
#define BUSY_LOG_INTERVAL	apr_time_from_sec(10)

typedef struct auth_job {
	const mps_auth_plugin_t *plugin;
	mps_live_slot_t *slot;		/* non-NULL: plugin comes from here */
	mps_live_role_t role;
	mps_workers_t *workers;
	mps_lane_t lane;
	mps_strand_t *strand;
	mps_auth_done_fn done;
	mps_auth_dropped_fn dropped;
	void *owner;
	char *user;
	char *password;
	size_t pass_len;
	mps_auth_verdict_t verdict;
	char err[MPS_PLUGIN_ERROR_SIZE];
} auth_job;

/* The refusals of one login lane since its last WARNING. */
struct busy_log {
	pthread_mutex_t lock;
	apr_time_t last;	/* of the last WARNING; 0: none yet */
	unsigned long full, expired;
};

static struct busy_log busy_logs[2] = {
	{ PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 },
	{ PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 },
};

/*
 * Counts one refusal and, the first time and then at most every
 * BUSY_LOG_INTERVAL, logs how many there were, with the lane's state:
 * a hung backend under a login storm refuses hundreds a second, and one
 * line per refusal would rotate the log away.
 */
static void
note_busy(mps_workers_t *workers, mps_lane_t lane, int expired)
{
	int device = lane == MPS_LANE_DEVICE_AUTH;
	struct busy_log *b = &busy_logs[device ? 0 : 1];
	apr_time_t now = apr_time_now();
	unsigned long full = 0, late = 0;
	mps_lane_stats_t st;
	int log = 0;

	pthread_mutex_lock(&b->lock);
	if (expired)
		b->expired++;
	else
		b->full++;
	if (b->last == 0 || now - b->last >= BUSY_LOG_INTERVAL) {
		full = b->full;
		late = b->expired;
		b->full = b->expired = 0;
		b->last = now;
		log = 1;
	}
	pthread_mutex_unlock(&b->lock);
	if (!log)
		return;
	if (mps_workers_lane_stats(workers, lane, &st) != APR_SUCCESS)
		memset(&st, 0, sizeof(st));
	mps_log(MPS_LOG_WARNING, "%s logins refused unheard: %lu with the "
	    "login queue full, %lu after waiting AuthQueueTimeout for a "
	    "thread (since the last such line; at most one every %d s). "
	    "%lu of %lu %s threads busy, %lu logins waiting: is the %s "
	    "authentication backend slow or not answering?",
	    device ? "Device" : "Console", full, late,
	    (int)apr_time_sec(BUSY_LOG_INTERVAL), (unsigned long)st.running,
	    (unsigned long)st.max_threads,
	    device ? "DeviceAuthThreads" : "ConsoleAuthThreads",
	    (unsigned long)st.queued, device ? "AMT" : "Socks");
}

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

	job->done(job->owner, job->verdict, job->user, job->err);
	job_free(job);
}

static void
job_dropped(void *arg)
{
	auth_job *job = arg;

	job->dropped(job->owner);
	job_free(job);
}

/* Back to the owner's strand with the verdict. */
static void
job_report(auth_job *job)
{
	/* The password is not needed past this point. */
	explicit_bzero(job->password, job->pass_len);
	if (mps_strand_post_ex(job->strand, job_done, job_dropped, job) !=
	    APR_SUCCESS)
		job_dropped(job);
}

/* The login lane. */
static void
job_run(void *arg)
{
	auth_job *job = arg;
	/* Latency as the plugin gives it, queueing excluded. */
	int64_t t0 = mps_metrics_now_usec();
	mps_live_t *live = NULL;
	const mps_auth_plugin_t *plugin = job->plugin;

	if (job->slot != NULL) {
		live = mps_live_acquire(job->slot);
		plugin = mps_live_auth(live, job->role);
	}
	job->verdict = mps_auth_plugin_authenticate(plugin, job->user,
	    job->password, job->err, sizeof(job->err)) ? MPS_AUTH_GRANTED :
	    MPS_AUTH_DENIED;
	mps_metric_auth_latency(plugin, mps_metrics_now_usec() - t0);
	/* The instance may be retired from here on (a reload meanwhile). */
	mps_live_release(job->slot, live);
	job_report(job);
}

/* It waited AuthQueueTimeout in the lane (any thread; must not block). */
static void
job_expired(void *arg)
{
	auth_job *job = arg;

	job->verdict = MPS_AUTH_BUSY;
	note_busy(job->workers, job->lane, 1);
	job_report(job);
}

static apr_status_t
job_start(mps_workers_t *workers, mps_lane_t lane,
    const mps_auth_plugin_t *plugin, mps_live_slot_t *slot,
    mps_live_role_t role, mps_strand_t *strand,
    const char *user, size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner)
{
	auth_job *job;
	apr_status_t rv;

	if (lane != MPS_LANE_DEVICE_AUTH && lane != MPS_LANE_CONSOLE_AUTH)
		return APR_EINVAL;
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return APR_ENOMEM;
	job->user = strndup(user, user_len);
	job->password = strndup(password, pass_len);
	job->pass_len = pass_len;
	if (job->user == NULL || job->password == NULL) {
		job_free(job);
		return APR_ENOMEM;
	}
	job->plugin = plugin;
	job->slot = slot;
	job->role = role;
	job->workers = workers;
	job->lane = lane;
	job->strand = strand;
	job->done = done;
	job->dropped = dropped;
	job->owner = owner;
	rv = mps_workers_push_timed(workers, lane, job_run, job_dropped,
	    job_expired, job);
	if (rv == MPS_ERR_QUEUE_FULL) {
		/* Refused unheard, through the strand like any verdict, so
		 * that the owner has one path for it. */
		job->verdict = MPS_AUTH_BUSY;
		explicit_bzero(job->password, job->pass_len);
		rv = mps_strand_post_ex(strand, job_done, job_dropped, job);
		if (rv == APR_SUCCESS)
			note_busy(workers, lane, 0);
	}
	if (rv != APR_SUCCESS) {
		/* Neither callback runs: the caller still holds its ref. */
		job_free(job);
	}
	return rv;
}

apr_status_t
mps_auth_job_start(mps_workers_t *workers, mps_lane_t lane,
    const mps_auth_plugin_t *plugin, mps_strand_t *strand,
    const char *user, size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner)
{
	return job_start(workers, lane, plugin, NULL, MPS_LIVE_AMT_AUTH,
	    strand, user, user_len, password, pass_len, done, dropped, owner);
}

apr_status_t
mps_auth_job_start_live(mps_workers_t *workers, mps_live_slot_t *slot,
    mps_live_role_t role, mps_strand_t *strand, const char *user,
    size_t user_len, const char *password, size_t pass_len,
    mps_auth_done_fn done, mps_auth_dropped_fn dropped, void *owner)
{
	/* The role says the lane: a hung AMT backend must not hold the
	 * console logins' threads. */
	return job_start(workers, role == MPS_LIVE_AMT_AUTH ?
	    MPS_LANE_DEVICE_AUTH : MPS_LANE_CONSOLE_AUTH, NULL, slot, role,
	    strand, user, user_len, password, pass_len, done, dropped, owner);
}
