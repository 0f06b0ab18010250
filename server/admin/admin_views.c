/* SPDX-License-Identifier: Apache-2.0 */
/* admin_views.c: see admin_views.h. */
#include "admin_views.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
mps_admin_device_from_entry(const mps_device_t *dev, mps_admin_device_t *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->uuid, sizeof(out->uuid), "%s", mps_device_uuid(dev));
	if (mps_device_fqdn(dev, out->fqdn, sizeof(out->fqdn)) != APR_SUCCESS)
		out->fqdn[0] = '\0';
	snprintf(out->peer, sizeof(out->peer), "%s", mps_device_peer(dev));
	out->nports = mps_device_ports(dev, out->ports, MPS_REGISTRY_MAX_PORTS);
	if (out->nports > MPS_REGISTRY_MAX_PORTS)
		out->nports = MPS_REGISTRY_MAX_PORTS;
	out->trigger = mps_device_trigger(dev);
	out->connected_at = mps_device_connected_at(dev);
	out->bytes_in = mps_device_bytes_in(dev);
	out->bytes_out = mps_device_bytes_out(dev);
	out->channels = mps_device_channels(dev);
}

static int
by_uuid(const void *a, const void *b)
{
	return strcmp(((const mps_admin_device_t *)a)->uuid,
	    ((const mps_admin_device_t *)b)->uuid);
}

void
mps_admin_devices_sort(mps_admin_device_t *d, size_t n)
{
	if (n > 1)
		qsort(d, n, sizeof(*d), by_uuid);
}

void
mps_admin_iso8601(apr_time_t t, char *buf, size_t size)
{
	time_t secs = (time_t)apr_time_sec(t);
	struct tm tm;

	if (gmtime_r(&secs, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "%s", "");
}

/* json_object_set_new on an object that may be NULL (out of memory):
 * the value is freed either way, and the object is dropped on failure. */
static json_t *
put(json_t *obj, const char *key, json_t *value)
{
	if (obj == NULL) {
		json_decref(value);
		return NULL;
	}
	if (value == NULL || json_object_set_new(obj, key, value) != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *
seconds_since(apr_time_t since, apr_time_t now)
{
	return json_integer(now > since ? (json_int_t)apr_time_sec(now - since) : 0);
}

json_t *
mps_admin_device_json(const mps_admin_device_t *d, apr_time_t now)
{
	json_t *o = json_object(), *ports = json_array();
	char when[32];
	size_t i;

	for (i = 0; ports != NULL && i < d->nports; i++)
		if (json_array_append_new(ports, json_integer(d->ports[i])) != 0) {
			json_decref(ports);
			ports = NULL;
		}
	mps_admin_iso8601(d->connected_at, when, sizeof(when));
	o = put(o, "uuid", json_string(d->uuid));
	o = put(o, "fqdn", d->fqdn[0] != '\0' ? json_string(d->fqdn) :
	    json_null());
	o = put(o, "peer", json_string(d->peer));
	o = put(o, "ports", ports);
	o = put(o, "connected_since", json_string(when));
	o = put(o, "connected_seconds", seconds_since(d->connected_at, now));
	o = put(o, "trigger", json_integer(d->trigger));
	o = put(o, "bytes_in", json_integer((json_int_t)d->bytes_in));
	o = put(o, "bytes_out", json_integer((json_int_t)d->bytes_out));
	o = put(o, "channels", json_integer(d->channels));
	return o;
}

json_t *
mps_admin_devices_json(const mps_admin_device_t *d, size_t n, apr_time_t now)
{
	json_t *o = json_object(), *list = json_array();
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		if (json_array_append_new(list,
		    mps_admin_device_json(&d[i], now)) != 0) {
			json_decref(list);
			list = NULL;
		}
	o = put(o, "count", json_integer((json_int_t)n));
	o = put(o, "devices", list);
	return o;
}

json_t *
mps_admin_status_json(const mps_admin_status_t *st)
{
	json_t *o = json_object(), *ls = json_array(), *pl = json_object();
	json_t *subs = json_array();
	char when[32];
	int i;

	for (i = 0; ls != NULL && i < st->nlisteners; i++) {
		const mps_admin_listener_t *l = &st->listeners[i];
		json_t *e = json_object();

		e = put(e, "name", json_string(l->name));
		e = put(e, "address", json_string(l->address));
		e = put(e, "port", json_integer(l->port));
		e = put(e, "transport", json_string(l->transport));
		if (json_array_append_new(ls, e) != 0) {
			json_decref(ls);
			ls = NULL;
		}
	}
	for (i = 0; pl != NULL && i < st->nplugins; i++)
		pl = put(pl, st->plugins[i].role, st->plugins[i].path != NULL ?
		    json_string(st->plugins[i].path) : json_null());
	for (i = 0; subs != NULL && i < st->nsubscribers; i++) {
		const mps_admin_subscriber_t *s = &st->subscribers[i];
		json_t *e = json_object();

		e = put(e, "url", json_string(s->url));
		e = put(e, "delivered", json_integer((json_int_t)s->delivered));
		e = put(e, "retries", json_integer((json_int_t)s->retries));
		e = put(e, "dropped", json_integer((json_int_t)s->dropped));
		e = put(e, "waiting", json_integer((json_int_t)s->waiting));
		if (json_array_append_new(subs, e) != 0) {
			json_decref(subs);
			subs = NULL;
		}
	}
	mps_admin_iso8601(st->started, when, sizeof(when));
	o = put(o, "version", json_string(st->version));
	o = put(o, "pid", json_integer(st->pid));
	o = put(o, "started", json_string(when));
	o = put(o, "uptime_seconds", seconds_since(st->started, st->now));
	o = put(o, "devices", json_integer(st->devices));
	o = put(o, "connections", json_integer(st->connections));
	o = put(o, "channels", json_integer(st->channels));
	o = put(o, "listeners", ls);
	o = put(o, "plugins", pl);
	o = put(o, "subscribers", subs);
	return o;
}
