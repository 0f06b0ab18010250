/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_views.h: what the admin API shows, as plain structs and as JSON.
 *
 * The views are pure (struct in, jansson value out) so that the unit
 * test checks every field without a server; admin_routes.c fills the
 * structs from the registry, the notifier and the configuration. The
 * same structs feed the HTML status page, so the page and the API can
 * never disagree.
 */
#ifndef MPS_ADMIN_VIEWS_H
#define MPS_ADMIN_VIEWS_H

#include <apr_network_io.h>
#include <apr_time.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

/* One connected device, copied out of its registry entry. */
typedef struct mps_admin_device_t {
	char uuid[MPS_REGISTRY_UUID_SIZE];
	char fqdn[MPS_REGISTRY_FQDN_SIZE];	/* "" when none */
	char peer[MPS_REGISTRY_PEER_MAX + 1];
	apr_port_t ports[MPS_REGISTRY_MAX_PORTS];
	size_t nports;
	apr_uint32_t trigger;
	apr_time_t connected_at;
	uint64_t bytes_in, bytes_out;	/* from / to the device */
	unsigned channels;
} mps_admin_device_t;

#define MPS_ADMIN_MAX_LISTENERS	4
#define MPS_ADMIN_MAX_PLUGINS	3
#define MPS_ADMIN_MAX_SUBSCRIBERS 8

typedef struct mps_admin_listener_t {
	const char *name;	/* "amt", "socks", "http", "admin" */
	const char *address;
	unsigned port;
	const char *transport;	/* "tls", "tcp", "socks5", "http" */
} mps_admin_listener_t;

typedef struct mps_admin_plugin_t {
	const char *role;	/* "device_auth", "console_auth", "notifier" */
	const char *path;
} mps_admin_plugin_t;

typedef struct mps_admin_subscriber_t {
	const char *url;
	uint64_t delivered, retries, dropped;
	size_t waiting;
} mps_admin_subscriber_t;

typedef struct mps_admin_status_t {
	const char *version;
	long pid;
	apr_time_t started, now;
	unsigned devices;	/* registered (authenticated) devices */
	unsigned connections;	/* device and console connections held */
	int64_t channels;
	mps_admin_listener_t listeners[MPS_ADMIN_MAX_LISTENERS];
	int nlisteners;
	mps_admin_plugin_t plugins[MPS_ADMIN_MAX_PLUGINS];
	int nplugins;
	mps_admin_subscriber_t subscribers[MPS_ADMIN_MAX_SUBSCRIBERS];
	int nsubscribers;
} mps_admin_status_t;

/* Copies what the API shows of a registry entry (any thread). */
void mps_admin_device_from_entry(const mps_device_t *dev,
    mps_admin_device_t *out);

/* Sorts devices by UUID, so that lists are stable between calls. */
void mps_admin_devices_sort(mps_admin_device_t *d, size_t n);

/* "2026-12-06T17:52:57Z": t in UTC, ISO 8601, second precision. */
void mps_admin_iso8601(apr_time_t t, char *buf, size_t size);

/*
 * {"uuid", "fqdn" (null when none), "peer", "ports": [...],
 *  "connected_since" (ISO 8601), "connected_seconds", "trigger",
 *  "bytes_in", "bytes_out", "channels"}. NULL when out of memory.
 */
json_t *mps_admin_device_json(const mps_admin_device_t *d, apr_time_t now);

/* {"count": n, "devices": [...]} */
json_t *mps_admin_devices_json(const mps_admin_device_t *d, size_t n,
    apr_time_t now);

/* {"version", "pid", "started", "uptime_seconds", "devices",
 *  "connections", "channels", "listeners": [...], "plugins": {...},
 *  "subscribers": [...]} */
json_t *mps_admin_status_json(const mps_admin_status_t *st);

#endif /* MPS_ADMIN_VIEWS_H */
