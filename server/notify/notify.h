/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.h: connection notifications (product guide, section 7.1).
 *
 * When a device connects or disconnects, every subscriber of
 * NotificationList.config is told, through the notifier plugin's Notify
 * (mps/plugin.h; mpsd's own is SOAPNotifier). A subscriber may answer
 * KeepConnection false to an event that asked for a reply; the notifier
 * then hands the device to the owner's keep_false callback, which
 * disconnects it.
 *
 * THE QUEUE. Each subscriber has its own bounded FIFO of events and at
 * most one delivery in flight, which runs on the NOTIFY lane (never on
 * the poller, never on a strand). So:
 *   - recording an event (mps_notifier_device_event) never blocks: it
 *     copies what the event needs and queues it, and a device's tunnel
 *     never waits for any subscriber;
 *   - a subscriber that hangs or is down holds up only its own queue,
 *     each delivery bounded by the plugin's timeout; the others are
 *     served independently;
 *   - per subscriber, events are delivered in the order recorded, so a
 *     device's CONNECTED reaches a subscriber before its DISCONNECTED.
 * A failed delivery is retried after retry_delay, then twice that, and
 * so on, max_retries times (1 s, 2 s, 4 s by default); the retry waits on
 * a poller timer, holding no thread. Later events of that subscriber wait
 * behind it (that is what keeps the order). An event is dropped when its
 * subscriber's queue is full (queue_max events waiting) or its retries
 * are exhausted; each drop is counted and logged at WARNING naming the
 * subscriber, the device and the reason.
 *
 * THE EVENT. Built when it is recorded, from the device's registry entry
 * at that moment: its UUID, its FQDN ("" when none), and as DevicePort
 * the WS-Man ports (16992, 16993) among its forwards, in the order
 * forwarded (at most two); plus MpsAddress, MpsHttpPort, MpsSocksPort of
 * the options. Record CONNECTED once the device's forwards have settled,
 * or the event announces no port. The entry is retained while the event
 * waits, so that keep_false receives a valid device.
 *
 * Thread-safety: every function may be called from any thread, except
 * that mps_notifier_destroy() must not run concurrently with, or before
 * any later, call on the same notifier.
 */
#ifndef MPS_NOTIFY_H
#define MPS_NOTIFY_H

#include <apr_errno.h>
#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <mps/plugin.h>

#include "config.h"
#include "registry.h"
#include "timer.h"
#include "workers.h"

/* The defaults mps_notifier_options_init() sets. */
#define MPS_NOTIFIER_QUEUE_MAX		4096	/* per subscriber */
#define MPS_NOTIFIER_MAX_RETRIES	3
#define MPS_NOTIFIER_RETRY_DELAY	apr_time_from_sec(1)
#define MPS_NOTIFIER_STOP_WAIT		apr_time_from_sec(5)

/* The WS-Man ports announced as DevicePort. */
#define MPS_NOTIFIER_WSMAN_HTTP_PORT	16992
#define MPS_NOTIFIER_WSMAN_HTTPS_PORT	16993

typedef struct mps_notifier_t mps_notifier_t;

/*
 * A subscriber answered KeepConnection false to an event with WantReply
 * (CONNECTED events only: a DISCONNECTED one has nothing left to keep).
 * Runs on a notification-lane worker, outside every lock of the notifier;
 * it must not block for long (post the disconnect to the device's
 * strand). dev is valid during the call (retain it to keep it), and may
 * meanwhile have disconnected or been replaced by a newer tunnel: the
 * callee checks. subscriber_url is the URL as listed.
 */
typedef void (*mps_notifier_verdict_fn)(void *arg, mps_device_t *dev,
    const char *subscriber_url);

typedef struct mps_notifier_options_t {
	mps_notify_fn notify;		/* the plugin's Notify, required */
	const char *params;		/* its paramStr; see
					 * mps_notifier_params(). NULL = "" */
	/* mps_subscriber_t elements (mps_notification_list_load()); at
	 * most MPS_MAX_SUBSCRIBERS are used. NULL or empty: events are
	 * accepted and go nowhere. */
	const apr_array_header_t *subscribers;
	const char *mps_address;	/* MpsAddress announced */
	apr_port_t mps_http_port;	/* MpsHttpPort (HttpListenPort) */
	apr_port_t mps_socks_port;	/* MpsSocksPort (SocksListenPort) */
	apr_size_t queue_max;		/* events per subscriber, >= 1 */
	int max_retries;		/* after the first attempt, >= 0 */
	apr_interval_time_t retry_delay; /* before the first retry; doubles
					 * each time; > 0 */
	apr_interval_time_t stop_wait;	/* how long destroy waits for
					 * deliveries in flight; >= 0 */
	mps_timers_t *timers;		/* mps_poller_timers() of the
					 * running poller; required */
	mps_notifier_verdict_fn keep_false; /* may be NULL: verdicts ignored */
	void *keep_false_arg;
} mps_notifier_options_t;

/* Counters, since creation, of one subscriber or of all. */
typedef struct mps_notifier_stats_t {
	apr_uint64_t queued;		/* events accepted into a queue */
	apr_uint64_t delivered;		/* Notify returned true */
	apr_uint64_t retries;		/* failed attempts retried */
	apr_uint64_t dropped;		/* queue full, retries exhausted,
					 * or still queued at destroy */
	apr_uint64_t kept_false;	/* verdicts passed to keep_false */
	apr_size_t waiting;		/* queued now, in flight included */
} mps_notifier_stats_t;

/* Sets every field: NULL pointers, zero ports, and the defaults above. */
void mps_notifier_options_init(mps_notifier_options_t *opt);

/*
 * Creates a notifier. It copies what it keeps of opt (strings included)
 * and creates one strand per subscriber on workers (for the retry
 * timers). Returns APR_SUCCESS; APR_EINVAL when notify, timers or workers
 * is missing or a number is out of range; APR_ENOMEM or an OS error.
 * workers and timers must outlive the notifier.
 */
apr_status_t mps_notifier_create(mps_notifier_t **n,
    const mps_notifier_options_t *opt, mps_workers_t *workers);

/*
 * Records that dev connected (MPS_NOTIFY_CONNECTED) or disconnected
 * (MPS_NOTIFY_DISCONNECTED), for every subscriber; want_reply asks for
 * KeepConnection (meaningful with CONNECTED). Meant for the device's
 * strand, and safe from any thread: it never blocks (a short lock, an
 * allocation, a push to the notification lane). Calls for one device must
 * come in the order of the events (its strand gives that). Does nothing
 * while the notifier stops, and logs at ERROR a state other than the two.
 */
void mps_notifier_device_event(mps_notifier_t *n, mps_device_t *dev,
    int state, int want_reply);

/*
 * Counters of the subscriber at index (its place in opt->subscribers),
 * or of all when index < 0. Returns APR_SUCCESS, or APR_EINVAL for an
 * index past the last subscriber.
 */
apr_status_t mps_notifier_stats(mps_notifier_t *n, int index,
    mps_notifier_stats_t *stats);

/* Counters of the subscriber with this URL (APR_NOTFOUND: none). */
apr_status_t mps_notifier_stats_url(mps_notifier_t *n, const char *url,
    mps_notifier_stats_t *stats);

/*
 * A reload's NotificationList: subscribers no longer listed take no new
 * events but still deliver what they hold (in order, with their
 * retries); listed ones not yet known are added; one removed and listed
 * again gets its own queue back. Never blocks (a short lock; a strand
 * for a new subscriber). Returns how many listed URLs found no slot
 * (MPS_MAX_SUBSCRIBERS, counting removed ones still delivering), each
 * logged at ERROR; 0 normally.
 */
int mps_notifier_set_subscribers(mps_notifier_t *n,
    const apr_array_header_t *list);

/*
 * Stops: no more deliveries start and retry timers are cancelled; waits
 * up to opt->stop_wait for deliveries in flight (and always for a
 * keep_false call in progress, which is short); then drops every event
 * still queued, counting them and logging one WARNING per subscriber that
 * had any. A delivery still in flight after stop_wait finishes on its
 * worker without consequence (no keep_false), and the notifier's memory
 * goes with the last of them. So: destroy the notifier before the workers
 * and the poller (their teardown waits for that delivery), and unload the
 * plugin only after the workers. NULL is allowed.
 */
void mps_notifier_destroy(mps_notifier_t *n);

/*
 * The paramStr that SOAPNotifier (plugins/soap_notify/README.md) expects,
 * from mps.config: -user and -pass when NeedNotificationAuthentication is
 * true, -cafile NotificationCAFile when set, -timeout NotificationTimeout
 * with a -connect-timeout no longer. Values are quoted as the grammar
 * wants. The result holds the password: it lives in pool.
 */
const char *mps_notifier_params(const mps_config_t *cfg, apr_pool_t *pool);

#endif /* MPS_NOTIFY_H */
