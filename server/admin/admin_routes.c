/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_routes.c: what each admin URL does (the request is already
 * authenticated by admin_listener.c).
 *
 *   GET  /                               the HTML status page
 *   GET  /api/v1/devices                 every connected device
 *   GET  /api/v1/devices/{uuid|fqdn}     one device
 *   POST /api/v1/devices/{id}/disconnect DISCONNECT reason 11
 *   GET  /api/v1/cluster/devices         every device of every instance,
 *                                        from the directory (issue 14)
 *   GET  /api/v1/status                  version, uptime, counts...
 *   POST /api/v1/reload                  what SIGHUP does, with the outcome
 *   GET  /metrics                        Prometheus text
 *
 * HEAD is served as GET (libmicrohttpd sends no body for it).
 */
#include "admin_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apf_codec.h"
#include "apf_session.h"
#include "directory.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"

#define DEVICES_PREFIX	"/api/v1/devices/"
#define DISCONNECT_SUFFIX "/disconnect"

void
mps_admin_error(mps_admin_reply_t *reply, unsigned status, const char *message)
{
	json_t *o = json_pack("{s:s}", "error", message);

	reply->status = status;
	reply->content_type = NULL;
	reply->body = o != NULL ? json_dumps(o, 0) : NULL;
	reply->len = reply->body != NULL ? strlen(reply->body) : 0;
	json_decref(o);
}

/* A JSON reply; takes the reference of o. */
static void
reply_json(mps_admin_reply_t *reply, unsigned status, json_t *o)
{
	if (o == NULL) {
		mps_admin_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	reply->status = status;
	reply->content_type = NULL;
	reply->body = json_dumps(o, JSON_INDENT(2));
	json_decref(o);
	if (reply->body == NULL) {
		mps_admin_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	/* A trailing newline, for people reading it with curl. */
	{
		size_t n = strlen(reply->body);
		char *b = realloc(reply->body, n + 2);
		if (b != NULL) {
			b[n] = '\n';
			b[n + 1] = '\0';
			reply->body = b;
			n++;
		}
		reply->len = n;
	}
}

mps_admin_device_t *
mps_admin_collect_devices(mps_admin_t *a, size_t *n)
{
	apr_array_header_t *snap;
	mps_admin_device_t *out;
	apr_pool_t *tmp;
	int i;

	*n = 0;
	if (a->src.registry == NULL || apr_pool_create(&tmp, NULL) !=
	    APR_SUCCESS)
		return NULL;
	if (mps_registry_snapshot(a->src.registry, &snap, tmp) != APR_SUCCESS ||
	    snap->nelts == 0) {
		apr_pool_destroy(tmp);
		return NULL;
	}
	out = calloc((size_t)snap->nelts, sizeof(*out));
	for (i = 0; out != NULL && i < snap->nelts; i++)
		mps_admin_device_from_entry(APR_ARRAY_IDX(snap, i,
		    mps_device_t *), &out[i]);
	if (out != NULL)
		*n = (size_t)snap->nelts;
	mps_registry_snapshot_release(snap);
	apr_pool_destroy(tmp);
	mps_admin_devices_sort(out, *n);
	return out;
}

void
mps_admin_collect_status(mps_admin_t *a, mps_admin_status_t *st)
{
	const mps_admin_source_t *src = &a->src;
	const apr_array_header_t *subs = atomic_load(&a->subscribers);
	int i;

	memset(st, 0, sizeof(*st));
	st->version = PACKAGE_VERSION;
	st->pid = (long)getpid();
	st->started = src->started;
	st->now = apr_time_now();
	st->devices = src->registry != NULL ?
	    mps_registry_count(src->registry) : 0;
	st->connections = src->connections != NULL ?
	    atomic_load(src->connections) : 0;
	st->channels = mps_metric_gauge_get(MPS_M_CHANNELS_OPEN);
	st->nlisteners = src->nlisteners;
	memcpy(st->listeners, src->listeners, sizeof(st->listeners));
	st->nplugins = src->nplugins;
	memcpy(st->plugins, src->plugins, sizeof(st->plugins));
	for (i = 0; subs != NULL && i < subs->nelts &&
	    i < MPS_ADMIN_MAX_SUBSCRIBERS; i++) {
		const mps_subscriber_t *sub = &APR_ARRAY_IDX(subs, i,
		    mps_subscriber_t);
		mps_admin_subscriber_t *o = &st->subscribers[i];
		mps_notifier_stats_t ns;

		o->url = sub->url;
		/* By URL: a reload may have reordered the list. */
		if (src->notifier != NULL && mps_notifier_stats_url(
		    src->notifier, sub->url, &ns) == APR_SUCCESS) {
			o->delivered = ns.delivered;
			o->retries = ns.retries;
			o->dropped = ns.dropped;
			o->waiting = ns.waiting;
		}
		st->nsubscribers = i + 1;
	}
}

static void
list_devices(mps_admin_t *a, mps_admin_reply_t *reply)
{
	size_t n;
	mps_admin_device_t *d = mps_admin_collect_devices(a, &n);

	reply_json(reply, MHD_HTTP_OK, mps_admin_devices_json(d, n,
	    apr_time_now()));
	free(d);
}

/*
 * The directory's view: each device with the instance holding it, that
 * instance's link address, its ports and since when. Redis unreachable:
 * 503 (this instance's own list is still /api/v1/devices).
 */
static void
list_cluster(mps_admin_t *a, mps_admin_reply_t *reply)
{
	apr_array_header_t *arr = NULL;
	apr_pool_t *pool;
	json_t *o, *list;
	apr_status_t rv;
	int i;

	if (a->src.directory == NULL) {
		mps_admin_error(reply, MHD_HTTP_NOT_FOUND, "no such resource");
		return;
	}
	if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
		mps_admin_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	rv = mps_directory_list(a->src.directory, &arr, pool);
	if (rv != APR_SUCCESS) {
		apr_pool_destroy(pool);
		mps_admin_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "the device directory is unavailable");
		return;
	}
	list = json_array();
	for (i = 0; list != NULL && i < arr->nelts; i++) {
		const mps_dir_record_t *r = &APR_ARRAY_IDX(arr, i,
		    mps_dir_record_t);
		json_t *e = json_object(), *ports = json_array();
		char when[32];
		unsigned k;

		for (k = 0; ports != NULL && k < r->nports; k++)
			(void)json_array_append_new(ports,
			    json_integer(r->ports[k]));
		mps_admin_iso8601(r->since, when, sizeof(when));
		if (e == NULL || json_object_set_new(e, "uuid",
		    json_string(r->uuid)) != 0 ||
		    json_object_set_new(e, "fqdn", json_string(r->fqdn)) != 0 ||
		    json_object_set_new(e, "instance",
		    json_string(r->instance)) != 0 ||
		    json_object_set_new(e, "instance_address",
		    json_string(r->peer_address)) != 0 ||
		    json_object_set_new(e, "ports", ports) != 0 ||
		    json_object_set_new(e, "connected_since",
		    json_string(when)) != 0 ||
		    json_array_append_new(list, e) != 0) {
			json_decref(list);
			list = NULL;
		}
	}
	o = json_object();
	if (o != NULL && list != NULL) {
		(void)json_object_set_new(o, "instance", json_string(
		    mps_directory_instance(a->src.directory)));
		(void)json_object_set_new(o, "count",
		    json_integer(arr->nelts));
		(void)json_object_set_new(o, "devices", list);
	} else {
		json_decref(list);
		json_decref(o);
		o = NULL;	/* reply_json answers 500 */
	}
	apr_pool_destroy(pool);
	reply_json(reply, MHD_HTTP_OK, o);
}

/* The registered entry for id (UUID or FQDN), with a reference. */
static mps_device_t *
find_device(mps_admin_t *a, const char *id)
{
	mps_device_t *dev = NULL;

	if (a->src.registry == NULL || id[0] == '\0' ||
	    strlen(id) > MPS_REGISTRY_FQDN_MAX)
		return NULL;
	if (mps_registry_lookup(a->src.registry, id, &dev) != APR_SUCCESS)
		return NULL;
	return dev;
}

static void
show_device(mps_admin_t *a, const char *id, mps_admin_reply_t *reply)
{
	mps_device_t *dev = find_device(a, id);
	mps_admin_device_t d;

	if (dev == NULL) {
		mps_admin_error(reply, MHD_HTTP_NOT_FOUND, "no such device");
		return;
	}
	mps_admin_device_from_entry(dev, &d);
	mps_device_release(dev);
	reply_json(reply, MHD_HTTP_OK, mps_admin_device_json(&d,
	    apr_time_now()));
}

/*
 * The close is handed to the device's strand (mps_session_request_close:
 * the session's documented cross-strand close); this thread never touches
 * the tunnel. 202: the device is told, and goes, on its strand.
 */
static void
disconnect_device(mps_admin_request_t *req, const char *id,
    mps_admin_reply_t *reply)
{
	mps_device_t *dev = find_device(req->admin, id);
	char name[MPS_DEVICE_LOG_NAME_SIZE], fqdn[MPS_REGISTRY_FQDN_SIZE];
	char why[128];

	if (dev == NULL) {
		mps_admin_error(reply, MHD_HTTP_NOT_FOUND, "no such device");
		return;
	}
	if (mps_device_fqdn(dev, fqdn, sizeof(fqdn)) != APR_SUCCESS)
		fqdn[0] = '\0';
	mps_log(MPS_LOG_INFO, "Admin API: %s (%s) asked to disconnect Intel "
	    "remote client %s", req->peer, req->who,
	    mps_device_log_name(dev, name, sizeof(name)));
	/* The session keeps 127 characters of why; the cut is harmless. */
	if (snprintf(why, sizeof(why), "disconnected through the admin API by "
	    "%s (%.40s)", req->peer, req->who) >= (int)sizeof(why))
		why[sizeof(why) - 1] = '\0';
	mps_session_request_close(mps_device_session(dev),
	    MPS_APF_DISCONNECT_BY_APPLICATION, why);
	reply_json(reply, MHD_HTTP_ACCEPTED, json_pack("{s:s,s:o,s:i}",
	    "uuid", mps_device_uuid(dev), "fqdn", fqdn[0] != '\0' ?
	    json_string(fqdn) : json_null(), "reason",
	    (int)MPS_APF_DISCONNECT_BY_APPLICATION));
	mps_device_release(dev);
}

/*
 * SIGHUP's reload, run here (the admin thread may block; the reload
 * lock orders it with a SIGHUP). 200 when the new settings are in
 * force, 422 when a file was refused (the old settings stay), both with
 * the file:line errors and the changes that wait for a restart.
 */
static void
reload(mps_admin_request_t *req, mps_admin_reply_t *reply)
{
	const mps_admin_source_t *src = &req->admin->src;
	mps_admin_reload_result_t *r;
	json_t *errors, *restart;
	char who[200];
	int i;

	if (src->reload == NULL) {
		mps_admin_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "reload is not available");
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		mps_admin_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	snprintf(who, sizeof(who), "admin API (%s, %s)", req->peer, req->who);
	src->reload(src->reload_arg, who, r);
	errors = json_array();
	restart = json_array();
	for (i = 0; i < r->nerrors; i++)
		json_array_append_new(errors, json_string(r->errors[i]));
	for (i = 0; i < r->nrestart; i++)
		json_array_append_new(restart, json_string(r->restart[i]));
	reply_json(reply, r->ok ? MHD_HTTP_OK : MHD_HTTP_UNPROCESSABLE_CONTENT,
	    json_pack("{s:b,s:i,s:s,s:o,s:o}", "ok", r->ok, "generation",
	    (int)r->generation, "summary", r->summary, "errors", errors,
	    "restart_needed", restart));
	free(r);
}

static void
show_status(mps_admin_t *a, mps_admin_reply_t *reply)
{
	mps_admin_status_t st;

	mps_admin_collect_status(a, &st);
	reply_json(reply, MHD_HTTP_OK, mps_admin_status_json(&st));
}

static void
text_reply(mps_admin_reply_t *reply, int rc, char *text, size_t len,
    const char *type)
{
	if (rc != 0) {
		mps_admin_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	reply->status = MHD_HTTP_OK;
	reply->body = text;
	reply->len = len;
	reply->content_type = type;
}

static void
wrong_method(mps_admin_reply_t *reply, const char *allow)
{
	mps_admin_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED,
	    "method not allowed");
	reply->allow = allow;
}

void
mps_admin_route(mps_admin_request_t *req, mps_admin_reply_t *reply)
{
	mps_admin_t *a = req->admin;
	const char *p = req->path;
	int get = strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0;
	int post = strcmp(req->method, "POST") == 0;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(p, "/") == 0) {
		if (!get)
			{ wrong_method(reply, "GET, HEAD"); return; }
		/* Called first: argument order is unspecified in C. */
		rc = mps_admin_page_html(a, &text, &len);
		text_reply(reply, rc, text, len, "text/html; charset=utf-8");
		return;
	}
	if (strcmp(p, "/metrics") == 0) {
		if (!get)
			{ wrong_method(reply, "GET, HEAD"); return; }
		rc = mps_admin_metrics_text(a, &text, &len);
		text_reply(reply, rc, text, len,
		    "text/plain; version=0.0.4; charset=utf-8");
		return;
	}
	if (strcmp(p, "/api/v1/status") == 0) {
		if (!get)
			{ wrong_method(reply, "GET, HEAD"); return; }
		show_status(a, reply);
		return;
	}
	if (strcmp(p, "/api/v1/reload") == 0) {
		if (!post)
			{ wrong_method(reply, "POST"); return; }
		reload(req, reply);
		return;
	}
	if (strcmp(p, "/api/v1/cluster/devices") == 0) {
		if (!get)
			{ wrong_method(reply, "GET, HEAD"); return; }
		list_cluster(a, reply);
		return;
	}
	if (strcmp(p, "/api/v1/devices") == 0) {
		if (!get)
			{ wrong_method(reply, "GET, HEAD"); return; }
		list_devices(a, reply);
		return;
	}
	if (strncmp(p, DEVICES_PREFIX, strlen(DEVICES_PREFIX)) == 0) {
		char id[MPS_REGISTRY_FQDN_SIZE + 16];
		const char *rest = p + strlen(DEVICES_PREFIX);
		size_t n = strlen(rest), sl = strlen(DISCONNECT_SUFFIX);
		int disconnect = n > sl &&
		    strcmp(rest + n - sl, DISCONNECT_SUFFIX) == 0;

		if (disconnect)
			n -= sl;
		if (n == 0 || n >= sizeof(id) || memchr(rest, '/', n) != NULL) {
			mps_admin_error(reply, MHD_HTTP_NOT_FOUND, "no such device");
			return;
		}
		memcpy(id, rest, n);
		id[n] = '\0';
		if (disconnect) {
			if (!post)
				{ wrong_method(reply, "POST"); return; }
			disconnect_device(req, id, reply);
		} else {
			if (!get)
				{ wrong_method(reply, "GET, HEAD"); return; }
			show_device(a, id, reply);
		}
		return;
	}
	mps_admin_error(reply, MHD_HTTP_NOT_FOUND, "no such resource");
}
