/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_priv.h: shared by the files of server/admin/ (the listener, the
 * routes, the metrics exposition and the status page); nothing else
 * includes it.
 */
#ifndef MPS_ADMIN_PRIV_H
#define MPS_ADMIN_PRIV_H

#include <microhttpd.h>

#include "admin.h"

struct mps_admin_t {
	int fd;				/* the bound socket, -1 when none */
	char address[64];		/* ListenIP as given */
	apr_port_t port;
	char token[MPS_ADMIN_TOKEN_MAX + 1];
	size_t token_len;
	struct MHD_Daemon *mhd;
	mps_admin_source_t src;
	/* src.subscribers, as the last reload left it. */
	_Atomic(const apr_array_header_t *) subscribers;
};

/* One request as the routes see it: already authenticated. */
typedef struct mps_admin_request_t {
	mps_admin_t *admin;
	struct MHD_Connection *conn;
	const char *method;		/* "GET", "HEAD", "POST", ... */
	const char *path;
	char peer[80];			/* client address, for logs */
	char who[96];			/* what the client says it is */
} mps_admin_request_t;

/* A reply: body (malloc'd, freed by the sender) and its type. */
typedef struct mps_admin_reply_t {
	unsigned status;
	char *body;
	size_t len;
	const char *content_type;
	const char *allow;		/* for 405 */
} mps_admin_reply_t;

/* admin_routes.c: fills reply for an authenticated request. */
void mps_admin_route(mps_admin_request_t *req, mps_admin_reply_t *reply);

/* A JSON reply {"error": message} with status. */
void mps_admin_error(mps_admin_reply_t *reply, unsigned status,
    const char *message);

/* admin_routes.c: the snapshot shared by the API and the page. n is
 * the count; NULL with n 0 when none or out of memory. Free with free(). */
mps_admin_device_t *mps_admin_collect_devices(mps_admin_t *a, size_t *n);
void mps_admin_collect_status(mps_admin_t *a, mps_admin_status_t *st);

/* admin_metrics.c: the Prometheus text of GET /metrics. */
int mps_admin_metrics_text(mps_admin_t *a, char **text, size_t *len);

/* admin_page.c: the HTML status page. */
int mps_admin_page_html(mps_admin_t *a, char **html, size_t *len);

#endif /* MPS_ADMIN_PRIV_H */
