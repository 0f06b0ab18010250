/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c: the notification queue (see notify.h).
 *
 * One mutex guards the whole notifier: subscribers are few (at most
 * eight) and events come at the rate devices connect, so a finer scheme
 * would buy nothing. No plugin call, callback, log write of a delivery's
 * outcome or device release happens under it.
 *
 * A subscriber is in one of three states:
 *   IDLE     nothing in flight: recording an event starts a delivery
 *   RUNNING  one delivery task is pushed to the notification lane or
 *            running
 *   WAITING  its head event failed; the retry timer is armed
 * Only the delivery task removes the head event, so the head stays the
 * same from one attempt to the next, and events leave in FIFO order.
 *
 * Events are shared by the subscribers' queues and reference-counted;
 * each holds a reference to its device.
 *
 * The notifier itself is reference-counted too, because things may touch
 * it after mps_notifier_destroy() returns: a delivery still in flight
 * past stop_wait, and, on each subscriber's strand, a retry-timer firing
 * that was queued before the timer was cancelled (the firing reads the
 * timer, which lives here). References: the owner's, one per delivery
 * task pushed, and one per strand until destroy's last task on it has
 * run (strand.h's lifetime rule: that task runs after any queued firing).
 */
#include "notify.h"
#include "log.h"
#include "mps_status.h"

#include <apr_strings.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The ring of a subscriber's queue starts this big and doubles. */
#define RING_INITIAL		8
/* A retry never waits longer than this, however the delay doubles. */
#define RETRY_DELAY_MAX		apr_time_from_sec(3600)
/* Sanity bounds of the options. */
#define MAX_RETRIES_MAX		100
#define QUEUE_MAX_MAX		((apr_size_t)1 << 24)

enum sub_state {
	SUB_IDLE,
	SUB_RUNNING,
	SUB_WAITING
};

struct event {
	atomic_uint refs;
	mps_device_t *dev;		/* retained */
	mps_notification_t n;		/* its strings point below, and to
					 * the notifier's mps_address */
	char uuid[MPS_REGISTRY_UUID_SIZE];
	char fqdn[MPS_REGISTRY_FQDN_SIZE];
};

struct subscriber {
	mps_notifier_t *nf;
	char *url;
	struct event **ring;		/* the queue: cap slots */
	apr_size_t cap, head, count;	/* from head, wrapping */
	enum sub_state state;
	int attempts;			/* failures of the head event */
	mps_strand_t *strand;		/* the retry timer's */
	mps_timer_t timer;
	mps_notifier_stats_t st;	/* waiting unused: count is */
	int active;			/* takes new events: in the list the
					 * last reload read. An inactive one
					 * still delivers what it holds. */
};

struct mps_notifier_t {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* running or in_callback fell */
	unsigned refs;
	unsigned running;		/* delivery tasks pushed, not done */
	unsigned in_callback;		/* keep_false calls in progress */
	int stopping;

	mps_workers_t *workers;
	mps_timers_t *timers;
	mps_notify_fn notify;
	char *params;			/* holds the password */
	size_t params_size;
	char *mps_address;
	apr_port_t http_port, socks_port;
	apr_size_t queue_max;
	int max_retries;
	apr_interval_time_t retry_delay, stop_wait;
	mps_notifier_verdict_fn keep_false;
	void *keep_false_arg;

	/* MPS_MAX_SUBSCRIBERS slots, allocated once: a reload fills the
	 * next free one or reactivates its own, so that a subscriber never
	 * moves while a delivery or a log line uses it. */
	struct subscriber *subs;
	int nsubs;			/* slots in use (active or not) */
	/* URLs of reused slots: a task that has just finished may still be
	 * logging the old one, so it is freed only with the notifier. */
	char **old_urls;
	int nold_urls;
};

/* What a delivery task reports once the lock is released. */
struct outcome {
	int delivered;
	int retry;			/* attempt number retried, or 0 */
	apr_interval_time_t delay;	/* before that retry */
	int dropped;			/* after this many attempts */
	int keep_false;			/* call the callback */
	struct event *popped;		/* the queue's ref, to drop */
	const char *why;		/* the drop's reason, if not err */
};

/* ---- small things ---------------------------------------------------- */

static const char *
state_name(int state)
{
	return state == MPS_NOTIFY_CONNECTED ? "CONNECTED" : "DISCONNECTED";
}

/* " (fqdn)" or "", for log lines naming a device. */
static const char *
fqdn_note(const struct event *ev, char *buf, size_t size)
{
	if (ev->fqdn[0] == '\0')
		return "";
	apr_snprintf(buf, size, " (%s)", ev->fqdn);
	return buf;
}

static void
event_retain(struct event *ev)
{
	atomic_fetch_add(&ev->refs, 1);
}

static void
event_release(struct event *ev)
{
	if (ev == NULL || atomic_fetch_sub(&ev->refs, 1) != 1)
		return;
	mps_device_release(ev->dev);
	free(ev);
}

/* The WS-Man ports among dev's forwards, in the order forwarded. */
static unsigned int
wsman_ports(const mps_device_t *dev, uint16_t *out)
{
	apr_port_t all[MPS_REGISTRY_MAX_PORTS];
	apr_size_t n, i;
	unsigned int k = 0;

	n = mps_device_ports(dev, all, MPS_REGISTRY_MAX_PORTS);
	if (n > MPS_REGISTRY_MAX_PORTS)
		n = MPS_REGISTRY_MAX_PORTS;
	for (i = 0; i < n && k < MPS_NOTIFY_MAX_PORTS; i++)
		if (all[i] == MPS_NOTIFIER_WSMAN_HTTP_PORT ||
		    all[i] == MPS_NOTIFIER_WSMAN_HTTPS_PORT)
			out[k++] = all[i];
	return k;
}

/* Snapshots dev into a new event holding one reference (the caller's). */
static struct event *
event_create(mps_notifier_t *nf, mps_device_t *dev, int state,
    int want_reply)
{
	struct event *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return NULL;
	atomic_init(&ev->refs, 1);
	mps_device_retain(dev);
	ev->dev = dev;
	apr_cpystrn(ev->uuid, mps_device_uuid(dev), sizeof(ev->uuid));
	/* The buffer always fits; "" is the documented fallback. */
	if (mps_device_fqdn(dev, ev->fqdn, sizeof(ev->fqdn)) != APR_SUCCESS)
		ev->fqdn[0] = '\0';
	ev->n.state = state;
	ev->n.device_fqdn = ev->fqdn;
	ev->n.device_port_count = wsman_ports(dev, ev->n.device_ports);
	ev->n.device_uuid = ev->uuid;
	ev->n.mps_address = nf->mps_address;
	ev->n.mps_http_port = nf->http_port;
	ev->n.mps_socks_port = nf->socks_port;
	ev->n.want_reply = want_reply != 0;
	return ev;
}

static void
notifier_free(mps_notifier_t *nf)
{
	int i;

	for (i = 0; i < nf->nsubs; i++) {
		free(nf->subs[i].ring);
		free(nf->subs[i].url);
	}
	free(nf->subs);
	for (i = 0; i < nf->nold_urls; i++)
		free(nf->old_urls[i]);
	free(nf->old_urls);
	if (nf->params != NULL) {
		explicit_bzero(nf->params, nf->params_size);
		free(nf->params);
	}
	free(nf->mps_address);
	pthread_cond_destroy(&nf->cond);
	pthread_mutex_destroy(&nf->lock);
	free(nf);
}

static void
notifier_unref(mps_notifier_t *nf)
{
	int last;

	pthread_mutex_lock(&nf->lock);
	last = --nf->refs == 0;
	pthread_mutex_unlock(&nf->lock);
	if (last)
		notifier_free(nf);
}

/* ---- the queue (lock held) -------------------------------------------- */

static int
ring_grow(struct subscriber *sub, apr_size_t queue_max)
{
	apr_size_t cap = sub->cap ? sub->cap * 2 : RING_INITIAL, i;
	struct event **ring;

	if (cap > queue_max)
		cap = queue_max;
	if ((ring = malloc(cap * sizeof(*ring))) == NULL)
		return -1;
	for (i = 0; i < sub->count; i++)
		ring[i] = sub->ring[(sub->head + i) % sub->cap];
	free(sub->ring);
	sub->ring = ring;
	sub->cap = cap;
	sub->head = 0;
	return 0;
}

static struct event *
ring_pop(struct subscriber *sub)
{
	struct event *ev = sub->ring[sub->head];

	sub->ring[sub->head] = NULL;
	sub->head = (sub->head + 1) % sub->cap;
	sub->count--;
	return ev;
}

static void deliver(void *arg);
static void deliver_discard(void *arg);

/*
 * Pushes the subscriber's delivery task. A reference and a running count
 * go with it; the caller holds a reference of its own, so the count never
 * reaches zero here.
 */
static void
start_delivery(struct subscriber *sub)
{
	mps_notifier_t *nf = sub->nf;
	char ebuf[128];
	apr_status_t rv;

	sub->state = SUB_RUNNING;
	nf->running++;
	nf->refs++;
	rv = mps_workers_push_ex(nf->workers, MPS_LANE_NOTIFY, deliver,
	    deliver_discard, sub);
	if (rv == APR_SUCCESS)
		return;
	nf->running--;
	nf->refs--;
	/* The events stay queued: the next one recorded tries again. */
	sub->state = SUB_IDLE;
	if (rv != MPS_ERR_SHUTDOWN)
		mps_log(MPS_LOG_ERROR, "notifier: cannot queue a delivery to "
		    "subscriber %s: %s", sub->url,
		    mps_strerror(rv, ebuf, sizeof(ebuf)));
}

/* Queues ev for sub. Returns NULL, or why ev was dropped. */
static const char *
enqueue(struct subscriber *sub, struct event *ev)
{
	mps_notifier_t *nf = sub->nf;

	if (sub->count >= nf->queue_max) {
		sub->st.dropped++;
		return "its queue is full";
	}
	if (sub->count == sub->cap && ring_grow(sub, nf->queue_max) != 0) {
		sub->st.dropped++;
		return "out of memory";
	}
	sub->ring[(sub->head + sub->count) % sub->cap] = ev;
	sub->count++;
	event_retain(ev);
	sub->st.queued++;
	if (sub->state == SUB_IDLE)
		start_delivery(sub);
	return NULL;
}

/* 1 s, 2 s, 4 s...: retry_delay doubled for each earlier retry. */
static apr_interval_time_t
backoff(const mps_notifier_t *nf, int attempt)
{
	apr_interval_time_t d = nf->retry_delay;

	while (--attempt > 0 && d < RETRY_DELAY_MAX / 2)
		d *= 2;
	return d < RETRY_DELAY_MAX ? d : RETRY_DELAY_MAX;
}

/* Drops the head event after its last attempt (or a failed re-arm). */
static void
drop_head(struct subscriber *sub, struct outcome *o, const char *why)
{
	o->popped = ring_pop(sub);
	o->dropped = sub->attempts + 1;
	o->why = why;
	sub->attempts = 0;
	sub->st.dropped++;
}

/*
 * Decides what an attempt on the head event ev leads to, and moves on:
 * next delivery, retry timer, or idle.
 */
static void
after_attempt(struct subscriber *sub, struct event *ev, int ok, bool keep,
    struct outcome *o)
{
	mps_notifier_t *nf = sub->nf;

	if (nf->stopping) {
		/* No retry, no verdict. The head is still ev unless destroy
		 * took the queue already (nothing is queued once stopping);
		 * delivered, it counts as such rather than as dropped. */
		if (ok && sub->count > 0) {
			o->popped = ring_pop(sub);
			sub->st.delivered++;
		}
		sub->state = SUB_IDLE;
		return;
	}
	if (ok) {
		o->popped = ring_pop(sub);
		o->delivered = 1;
		sub->attempts = 0;
		sub->st.delivered++;
		if (ev->n.want_reply && !keep &&
		    ev->n.state == MPS_NOTIFY_CONNECTED &&
		    nf->keep_false != NULL) {
			o->keep_false = 1;
			sub->st.kept_false++;
		}
	} else if (sub->attempts < nf->max_retries) {
		o->delay = backoff(nf, sub->attempts + 1);
		if (mps_timer_arm(nf->timers, &sub->timer, o->delay) ==
		    APR_SUCCESS) {
			o->retry = ++sub->attempts;
			sub->st.retries++;
			sub->state = SUB_WAITING;
			return;
		}
		drop_head(sub, o, "no timer for a retry (out of memory)");
	} else
		drop_head(sub, o, NULL);
	if (sub->count > 0)
		start_delivery(sub);
	else
		sub->state = SUB_IDLE;
}

/* ---- the tasks ---------------------------------------------------------- */

/* Logs what after_attempt decided. */
static void
report(const struct subscriber *sub, const struct event *ev,
    const struct outcome *o, bool keep, const char *err)
{
	const mps_notifier_t *nf = sub->nf;
	char fq[MPS_REGISTRY_FQDN_SIZE + 4];
	const char *why = o->why != NULL ? o->why :
	    err[0] != '\0' ? err : "no reason given";

	if (o->delivered)
		mps_log(MPS_LOG_DEBUG, "notified subscriber %s: device %s%s "
		    "%s%s", sub->url, ev->uuid, fqdn_note(ev, fq, sizeof(fq)),
		    state_name(ev->n.state), !ev->n.want_reply ? "" : keep ?
		    ", KeepConnection true" : ", KeepConnection false");
	else if (o->retry > 0)
		mps_log(MPS_LOG_INFO, "notification %s of device %s%s to "
		    "subscriber %s failed (attempt %d of %d): %s; retrying in "
		    "%" APR_TIME_T_FMT " ms", state_name(ev->n.state), ev->uuid,
		    fqdn_note(ev, fq, sizeof(fq)), sub->url, o->retry,
		    nf->max_retries + 1, err[0] != '\0' ? err :
		    "no reason given", apr_time_as_msec(o->delay));
	else if (o->dropped)
		mps_log(MPS_LOG_WARNING, "notification %s of device %s%s to "
		    "subscriber %s dropped after %d attempt%s: %s",
		    state_name(ev->n.state), ev->uuid,
		    fqdn_note(ev, fq, sizeof(fq)), sub->url, o->dropped,
		    o->dropped == 1 ? "" : "s", why);
}

/* The verdict, outside the lock; destroy waits for it to return. */
static void
call_keep_false(struct subscriber *sub, struct event *ev)
{
	mps_notifier_t *nf = sub->nf;

	nf->keep_false(nf->keep_false_arg, ev->dev, sub->url);
	pthread_mutex_lock(&nf->lock);
	nf->in_callback--;
	pthread_cond_broadcast(&nf->cond);
	pthread_mutex_unlock(&nf->lock);
}

/* The end of a delivery task's accounting. Lock held. */
static void
task_done(mps_notifier_t *nf)
{
	nf->running--;
	pthread_cond_broadcast(&nf->cond);
}

/* One attempt at the head of a subscriber's queue (notification lane). */
static void
deliver(void *arg)
{
	struct subscriber *sub = arg;
	mps_notifier_t *nf = sub->nf;
	struct outcome o;
	struct event *ev;
	char err[MPS_PLUGIN_ERROR_SIZE];
	bool ok, keep = true;

	pthread_mutex_lock(&nf->lock);
	if (nf->stopping || sub->count == 0) {
		sub->state = SUB_IDLE;
		task_done(nf);
		pthread_mutex_unlock(&nf->lock);
		notifier_unref(nf);
		return;
	}
	ev = sub->ring[sub->head];
	event_retain(ev);
	pthread_mutex_unlock(&nf->lock);

	err[0] = '\0';
	ok = nf->notify(sub->url, &ev->n, nf->params, &keep, err,
	    sizeof(err));
	/* Whatever the plugin left, it ends inside the buffer. */
	err[sizeof(err) - 1] = '\0';

	memset(&o, 0, sizeof(o));
	pthread_mutex_lock(&nf->lock);
	after_attempt(sub, ev, ok, keep, &o);
	if (o.keep_false)
		nf->in_callback++;
	task_done(nf);
	pthread_mutex_unlock(&nf->lock);

	report(sub, ev, &o, keep, err);
	if (o.keep_false)
		call_keep_false(sub, ev);
	event_release(o.popped);
	event_release(ev);
	notifier_unref(nf);
}

/* The workers stopped before the delivery task ran. */
static void
deliver_discard(void *arg)
{
	struct subscriber *sub = arg;
	mps_notifier_t *nf = sub->nf;

	pthread_mutex_lock(&nf->lock);
	sub->state = SUB_IDLE;
	task_done(nf);
	pthread_mutex_unlock(&nf->lock);
	notifier_unref(nf);
}

/* The retry timer fired (on the subscriber's strand). */
static void
retry_fire(void *arg)
{
	struct subscriber *sub = arg;
	mps_notifier_t *nf = sub->nf;

	pthread_mutex_lock(&nf->lock);
	if (!nf->stopping && sub->state == SUB_WAITING)
		start_delivery(sub);
	pthread_mutex_unlock(&nf->lock);
}

/* The last task destroy posts to a strand: its reference goes. */
static void
strand_done(void *arg)
{
	struct subscriber *sub = arg;

	notifier_unref(sub->nf);
}

/* ---- the API ------------------------------------------------------------ */

void
mps_notifier_options_init(mps_notifier_options_t *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->queue_max = MPS_NOTIFIER_QUEUE_MAX;
	opt->max_retries = MPS_NOTIFIER_MAX_RETRIES;
	opt->retry_delay = MPS_NOTIFIER_RETRY_DELAY;
	opt->stop_wait = MPS_NOTIFIER_STOP_WAIT;
}

static int
options_valid(const mps_notifier_options_t *opt, mps_workers_t *workers)
{
	return opt != NULL && workers != NULL && opt->notify != NULL &&
	    opt->timers != NULL && opt->queue_max >= 1 &&
	    opt->queue_max <= QUEUE_MAX_MAX && opt->max_retries >= 0 &&
	    opt->max_retries <= MAX_RETRIES_MAX && opt->retry_delay > 0 &&
	    opt->stop_wait >= 0;
}

/* The mutex, and a condition variable on the monotonic clock. */
static apr_status_t
init_sync(mps_notifier_t *nf)
{
	pthread_condattr_t attr;
	int e;

	if ((e = pthread_mutex_init(&nf->lock, NULL)) != 0)
		return APR_FROM_OS_ERROR(e);
	if ((e = pthread_condattr_init(&attr)) == 0) {
		e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (e == 0)
			e = pthread_cond_init(&nf->cond, &attr);
		(void)pthread_condattr_destroy(&attr);
	}
	if (e != 0) {
		pthread_mutex_destroy(&nf->lock);
		return APR_FROM_OS_ERROR(e);
	}
	return APR_SUCCESS;
}

static apr_status_t
copy_options(mps_notifier_t *nf, const mps_notifier_options_t *opt)
{
	const char *params = opt->params != NULL ? opt->params : "";

	nf->notify = opt->notify;
	nf->timers = opt->timers;
	nf->http_port = opt->mps_http_port;
	nf->socks_port = opt->mps_socks_port;
	nf->queue_max = opt->queue_max;
	nf->max_retries = opt->max_retries;
	nf->retry_delay = opt->retry_delay;
	nf->stop_wait = opt->stop_wait;
	nf->keep_false = opt->keep_false;
	nf->keep_false_arg = opt->keep_false_arg;
	nf->params_size = strlen(params) + 1;
	if ((nf->params = strdup(params)) == NULL ||
	    (nf->mps_address = strdup(opt->mps_address != NULL ?
	    opt->mps_address : "")) == NULL)
		return APR_ENOMEM;
	return APR_SUCCESS;
}

static apr_status_t
create_subscribers(mps_notifier_t *nf, const apr_array_header_t *list)
{
	int i, n = list != NULL ? list->nelts : 0;

	if (n > MPS_MAX_SUBSCRIBERS)
		n = MPS_MAX_SUBSCRIBERS;
	if ((nf->subs = calloc(MPS_MAX_SUBSCRIBERS,
	    sizeof(*nf->subs))) == NULL)
		return APR_ENOMEM;
	for (i = 0; i < n; i++) {
		struct subscriber *sub = &nf->subs[i];
		const mps_subscriber_t *s =
		    &APR_ARRAY_IDX(list, i, mps_subscriber_t);

		sub->nf = nf;
		if (s->url == NULL || (sub->url = strdup(s->url)) == NULL ||
		    (sub->strand = mps_strand_create(nf->workers)) == NULL) {
			free(sub->url);
			sub->url = NULL;
			return s->url == NULL ? APR_EINVAL : APR_ENOMEM;
		}
		mps_timer_init(&sub->timer, sub->strand, retry_fire, sub);
		sub->active = 1;
		nf->nsubs++;
	}
	return APR_SUCCESS;
}

apr_status_t
mps_notifier_create(mps_notifier_t **np, const mps_notifier_options_t *opt,
    mps_workers_t *workers)
{
	mps_notifier_t *nf;
	apr_status_t rv;
	int i;

	if (np == NULL)
		return APR_EINVAL;
	*np = NULL;
	if (!options_valid(opt, workers))
		return APR_EINVAL;
	if ((nf = calloc(1, sizeof(*nf))) == NULL)
		return APR_ENOMEM;
	if ((rv = init_sync(nf)) != APR_SUCCESS) {
		free(nf);
		return rv;
	}
	nf->refs = 1;
	nf->workers = workers;
	if ((rv = copy_options(nf, opt)) != APR_SUCCESS ||
	    (rv = create_subscribers(nf, opt->subscribers)) != APR_SUCCESS) {
		/* Nothing was posted to these strands yet. */
		for (i = 0; i < nf->nsubs; i++)
			mps_strand_release(nf->subs[i].strand);
		notifier_free(nf);
		return rv;
	}
	*np = nf;
	return APR_SUCCESS;
}

void
mps_notifier_device_event(mps_notifier_t *nf, mps_device_t *dev, int state,
    int want_reply)
{
	const char *why[MPS_MAX_SUBSCRIBERS];
	char fq[MPS_REGISTRY_FQDN_SIZE + 4];
	struct event *ev;
	int i, n;

	if (nf == NULL || dev == NULL)
		return;
	if (state != MPS_NOTIFY_CONNECTED && state != MPS_NOTIFY_DISCONNECTED) {
		mps_log(MPS_LOG_ERROR, "notifier: event %d of device %s is "
		    "neither CONNECTED nor DISCONNECTED; ignored", state,
		    mps_device_uuid(dev));
		return;
	}
	ev = event_create(nf, dev, state, want_reply);
	pthread_mutex_lock(&nf->lock);
	n = nf->nsubs;
	for (i = 0; i < n; i++) {
		if (nf->stopping || !nf->subs[i].active)
			why[i] = NULL;
		else if (ev == NULL) {
			nf->subs[i].st.dropped++;
			why[i] = "out of memory";
		} else
			why[i] = enqueue(&nf->subs[i], ev);
	}
	pthread_mutex_unlock(&nf->lock);
	for (i = 0; i < n; i++)
		if (why[i] != NULL)
			mps_log(MPS_LOG_WARNING, "notification %s of device "
			    "%s%s to subscriber %s dropped: %s",
			    state_name(state), mps_device_uuid(dev),
			    ev != NULL ? fqdn_note(ev, fq, sizeof(fq)) : "",
			    nf->subs[i].url, why[i]);
	event_release(ev);
}

static void
add_stats(mps_notifier_stats_t *to, const struct subscriber *sub)
{
	to->queued += sub->st.queued;
	to->delivered += sub->st.delivered;
	to->retries += sub->st.retries;
	to->dropped += sub->st.dropped;
	to->kept_false += sub->st.kept_false;
	to->waiting += sub->count;
}

apr_status_t
mps_notifier_stats(mps_notifier_t *nf, int index, mps_notifier_stats_t *stats)
{
	int i;

	if (nf == NULL || stats == NULL || index >= nf->nsubs)
		return APR_EINVAL;
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&nf->lock);
	for (i = 0; i < nf->nsubs; i++)
		if (index < 0 || i == index)
			add_stats(stats, &nf->subs[i]);
	pthread_mutex_unlock(&nf->lock);
	return APR_SUCCESS;
}

apr_status_t
mps_notifier_stats_url(mps_notifier_t *nf, const char *url,
    mps_notifier_stats_t *stats)
{
	int i, found = 0;

	if (nf == NULL || url == NULL || stats == NULL)
		return APR_EINVAL;
	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&nf->lock);
	for (i = 0; i < nf->nsubs; i++)
		if (strcmp(nf->subs[i].url, url) == 0) {
			add_stats(stats, &nf->subs[i]);
			found = 1;
		}
	pthread_mutex_unlock(&nf->lock);
	return found ? APR_SUCCESS : APR_NOTFOUND;
}

/* Whether url is in list. */
static int
listed(const apr_array_header_t *list, int n, const char *url)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(APR_ARRAY_IDX(list, i, mps_subscriber_t).url,
		    url) == 0)
			return 1;
	return 0;
}

/* A slot for url, lock held: its own (reactivated), else a fresh one,
 * else an inactive one with nothing left to deliver. NULL when all
 * MPS_MAX_SUBSCRIBERS slots still have work (or memory is short). */
static struct subscriber *
slot_for(mps_notifier_t *nf, const char *url)
{
	struct subscriber *sub;
	char *copy, **grave;
	int i;

	for (i = 0; i < nf->nsubs; i++)
		if (strcmp(nf->subs[i].url, url) == 0)
			return &nf->subs[i];
	if ((copy = strdup(url)) == NULL)
		return NULL;
	if (nf->nsubs < MPS_MAX_SUBSCRIBERS) {
		sub = &nf->subs[nf->nsubs];
		memset(sub, 0, sizeof(*sub));
		sub->nf = nf;
		if ((sub->strand = mps_strand_create(nf->workers)) == NULL) {
			free(copy);
			return NULL;
		}
		mps_timer_init(&sub->timer, sub->strand, retry_fire, sub);
		sub->url = copy;
		nf->nsubs++;
		return sub;
	}
	for (i = 0; i < nf->nsubs; i++) {
		sub = &nf->subs[i];
		if (sub->active || sub->count > 0 || sub->state != SUB_IDLE)
			continue;
		grave = realloc(nf->old_urls, (size_t)(nf->nold_urls + 1) *
		    sizeof(*grave));
		if (grave == NULL)
			break;
		nf->old_urls = grave;
		nf->old_urls[nf->nold_urls++] = sub->url;
		sub->url = copy;
		memset(&sub->st, 0, sizeof(sub->st));
		sub->attempts = 0;
		return sub;
	}
	free(copy);
	return NULL;
}

int
mps_notifier_set_subscribers(mps_notifier_t *nf,
    const apr_array_header_t *list)
{
	int i, n = list != NULL ? list->nelts : 0, refused = 0;
	apr_size_t left;

	if (n > MPS_MAX_SUBSCRIBERS)
		n = MPS_MAX_SUBSCRIBERS;
	pthread_mutex_lock(&nf->lock);
	for (i = 0; i < nf->nsubs; i++) {
		struct subscriber *sub = &nf->subs[i];

		if (!sub->active || listed(list, n, sub->url))
			continue;
		sub->active = 0;
		left = sub->count;
		/* Logged under the lock: rare, and the URL stays put. */
		mps_log(MPS_LOG_INFO, "notifier: subscriber %s removed%s",
		    sub->url, left > 0 ? " (what it has queued is still "
		    "delivered)" : "");
	}
	for (i = 0; i < n; i++) {
		const char *url = APR_ARRAY_IDX(list, i, mps_subscriber_t).url;
		struct subscriber *sub = slot_for(nf, url);

		if (sub == NULL) {
			mps_log(MPS_LOG_ERROR, "notifier: no room for subscriber "
			    "%s until the removed ones have delivered their "
			    "queues; reload again later", url);
			refused++;
			continue;
		}
		if (!sub->active)
			mps_log(MPS_LOG_INFO, "notifier: subscriber %s added",
			    url);
		sub->active = 1;
	}
	pthread_mutex_unlock(&nf->lock);
	return refused;
}

/*
 * Waits, lock held, for keep_false calls to end and, until the deadline,
 * for deliveries in flight.
 */
static void
wait_quiet(mps_notifier_t *nf)
{
	struct timespec deadline;
	apr_interval_time_t wait = nf->stop_wait;

	(void)clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)apr_time_sec(wait);
	deadline.tv_nsec += (long)apr_time_usec(wait) * 1000;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (nf->in_callback > 0 || nf->running > 0) {
		if (nf->in_callback > 0)
			pthread_cond_wait(&nf->cond, &nf->lock);
		else if (pthread_cond_timedwait(&nf->cond, &nf->lock,
		    &deadline) == ETIMEDOUT)
			break;
	}
}

/* A subscriber's queue, taken from it at destroy. */
struct taken {
	struct event **ring;
	apr_size_t cap, head, count;
	int in_flight;		/* its head is being delivered */
};

static void
drop_taken(const struct subscriber *sub, struct taken *t)
{
	apr_size_t i;

	if (t->count > 0)
		mps_log(MPS_LOG_WARNING, "notifier stopping: %lu "
		    "notification%s to subscriber %s dropped%s",
		    (unsigned long)t->count, t->count == 1 ? "" : "s", sub->url,
		    t->in_flight ? " (the first was being delivered)" : "");
	for (i = 0; i < t->count; i++)
		event_release(t->ring[(t->head + i) % t->cap]);
	free(t->ring);
}

void
mps_notifier_destroy(mps_notifier_t *nf)
{
	struct taken taken[MPS_MAX_SUBSCRIBERS];
	int i;

	if (nf == NULL)
		return;
	pthread_mutex_lock(&nf->lock);
	nf->stopping = 1;
	for (i = 0; i < nf->nsubs; i++) {
		struct subscriber *sub = &nf->subs[i];

		/* A firing already queued on the strand sees "stopping". */
		if (sub->state == SUB_WAITING) {
			mps_timer_cancel(nf->timers, &sub->timer);
			sub->state = SUB_IDLE;
		}
	}
	wait_quiet(nf);
	for (i = 0; i < nf->nsubs; i++) {
		struct subscriber *sub = &nf->subs[i];

		taken[i].ring = sub->ring;
		taken[i].cap = sub->cap;
		taken[i].head = sub->head;
		taken[i].count = sub->count;
		taken[i].in_flight = sub->state == SUB_RUNNING;
		sub->st.dropped += sub->count;
		sub->ring = NULL;
		sub->cap = sub->head = sub->count = 0;
		/* One for each strand, until strand_done. */
		nf->refs++;
	}
	pthread_mutex_unlock(&nf->lock);

	for (i = 0; i < nf->nsubs; i++) {
		struct subscriber *sub = &nf->subs[i];

		drop_taken(sub, &taken[i]);
		/* Should the workers be gone already (the wrong order),
		 * the strand's reference stays: freeing could race with a
		 * firing still running, and the process is ending anyway. */
		(void)mps_strand_post_free(sub->strand, strand_done, sub);
		mps_strand_release(sub->strand);
	}
	notifier_unref(nf);
}

/* A value in the double quotes of the SOAP plugins' grammar. */
static const char *
quoted(const char *s, apr_pool_t *pool)
{
	size_t n = strlen(s), i;
	char *q = apr_palloc(pool, 2 * n + 3), *o = q;

	*o++ = '"';
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			*o++ = '\\';
		*o++ = s[i];
	}
	*o++ = '"';
	*o = '\0';
	return q;
}

const char *
mps_notifier_params(const mps_config_t *cfg, apr_pool_t *pool)
{
	apr_int64_t t = apr_time_sec(cfg->notification_timeout);
	const char *s;

	if (t < 1)
		t = 1;
	/* The plugin's default connect timeout, unless the whole is less. */
	s = apr_psprintf(pool, "-timeout %" APR_INT64_T_FMT
	    " -connect-timeout %" APR_INT64_T_FMT, t, t < 5 ? t : 5);
	if (cfg->need_notification_authentication &&
	    cfg->notification_username != NULL)
		s = apr_pstrcat(pool, s, " -user ",
		    quoted(cfg->notification_username, pool), " -pass ",
		    quoted(cfg->notification_password != NULL ?
		    cfg->notification_password : "", pool), NULL);
	if (cfg->notification_ca_file != NULL)
		s = apr_pstrcat(pool, s, " -cafile ",
		    quoted(cfg->notification_ca_file, pool), NULL);
	return s;
}
