/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_listener.c: the admin socket, the token, and libmicrohttpd.
 *
 * The socket is bound by mpsd itself (before it detaches and drops root)
 * and handed to libmicrohttpd with MHD_OPTION_LISTEN_SOCKET once the
 * server runs: libmicrohttpd's thread must be created after the fork of
 * daemonizing, the bind must happen before the privilege drop.
 *
 * Every request, whatever its path, first passes the bearer-token check
 * here; only then does admin_routes.c see it. The comparison takes the
 * same time whatever the token sent (no timing oracle).
 */
#include "admin_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Admin clients are people and scrapers: a few at a time. */
#define ADMIN_MAX_CONNECTIONS	32
#define ADMIN_CONNECTION_TIMEOUT 10	/* seconds */
/* A request body is never needed; a client that sends one gets this
 * much read (and discarded) at most. */
#define ADMIN_MAX_BODY		4096

static int
bind_socket(const char *ip, apr_port_t port, int *fdp, apr_port_t *bound,
    char *err, size_t errsize)
{
	struct addrinfo hints, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char service[8];
	int fd, one = 1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	rc = getaddrinfo(strcmp(ip, "*") == 0 ? NULL : ip, service, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		snprintf(err, errsize, "admin ListenIP %s: %s", ip,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, 64) != 0) {
		snprintf(err, errsize, "cannot listen for the admin API on "
		    "%s:%u: %s", ip, (unsigned)port, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*bound = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	*fdp = fd;
	return 0;
}

apr_status_t
mps_admin_bind(mps_admin_t **out, const mps_config_t *cfg,
    const char *config_dir, int bind_port, char *err, size_t errsize)
{
	mps_admin_t *a;
	apr_pool_t *tmp;
	const char *path;
	int rc;

	*out = NULL;
	if (!cfg->admin_enabled)
		return APR_SUCCESS;
	if (cfg->admin_token_file == NULL) {
		snprintf(err, errsize, "<Admin> needs a <TokenFile>");
		return APR_EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return APR_ENOMEM;
	a->fd = -1;
	if (apr_pool_create(&tmp, NULL) != APR_SUCCESS) {
		free(a);
		return APR_ENOMEM;
	}
	path = mps_config_resolve(config_dir, cfg->admin_token_file, tmp);
	rc = mps_admin_read_token(path, 1, a->token, sizeof(a->token), err,
	    errsize);
	apr_pool_destroy(tmp);
	if (rc != 0) {
		mps_admin_destroy(a);
		return APR_EINVAL;
	}
	a->token_len = strlen(a->token);
	snprintf(a->address, sizeof(a->address), "%s", cfg->admin_listen_ip);
	a->port = cfg->admin_listen_port;
	if (bind_port && bind_socket(cfg->admin_listen_ip,
	    cfg->admin_listen_port, &a->fd, &a->port, err, errsize) != 0) {
		mps_admin_destroy(a);
		return APR_EGENERAL;
	}
	*out = a;
	return APR_SUCCESS;
}

apr_port_t
mps_admin_port(const mps_admin_t *a)
{
	return a != NULL ? a->port : 0;
}

/* ---- one request ------------------------------------------------------- */

/* Constant time in the length of what was sent and of the token. */
static int
token_matches(const mps_admin_t *a, const char *sent)
{
	size_t n = strlen(sent), i;
	unsigned char diff = (unsigned char)(n != a->token_len);

	for (i = 0; i < n; i++)
		diff |= (unsigned char)sent[i] ^
		    (unsigned char)a->token[i < a->token_len ? i : 0];
	return diff == 0;
}

/* "Bearer <token>" (the scheme is case-insensitive, RFC 7235). */
static int
authorized(const mps_admin_t *a, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	h += 7;
	while (*h == ' ')
		h++;
	return token_matches(a, h);
}

static void
peer_text(struct MHD_Connection *conn, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char host[64] = "?", port[8] = "?";
	const struct sockaddr *sa;

	if (ci != NULL && (sa = ci->client_addr) != NULL)
		(void)getnameinfo(sa, sa->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
		    host, sizeof(host), port, sizeof(port),
		    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(buf, size, strchr(host, ':') != NULL ? "[%s]:%s" : "%s:%s",
	    host, port);
}

/* What the client says it is (X-Requested-By, else User-Agent), made
 * safe for one log line: printable ASCII, bounded. */
static void
who_text(struct MHD_Connection *conn, char *buf, size_t size)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "X-Requested-By");
	size_t i, n = 0;

	if (h == NULL)
		h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_USER_AGENT);
	if (h == NULL)
		h = "unnamed client";
	for (i = 0; h[i] != '\0' && n + 1 < size && i < 64; i++)
		buf[n++] = (h[i] >= ' ' && h[i] <= '~' && h[i] != '"') ?
		    h[i] : '?';
	buf[n] = '\0';
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, mps_admin_reply_t *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(r->len, r->body != NULL ?
	    r->body : (void *)"", r->body != NULL ? MHD_RESPMEM_MUST_FREE :
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    r->content_type != NULL ? r->content_type :
	    "application/json; charset=utf-8");
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	(void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->allow != NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    r->allow);
	if (r->content_type != NULL &&
	    strncmp(r->content_type, "text/html", 9) == 0) {
		/* The page's own inline script and style, fetches to this
		 * origin, nothing else; never framed (clickjacking). */
		(void)MHD_add_response_header(resp,
		    "Content-Security-Policy", "default-src 'none'; "
		    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
		    "connect-src 'self'; frame-ancestors 'none'");
		(void)MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	}
	if (r->status == MHD_HTTP_UNAUTHORIZED)
		(void)MHD_add_response_header(resp,
		    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mpsd\"");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	mps_admin_t *a = cls;
	mps_admin_request_t req;
	mps_admin_reply_t reply;
	uintptr_t seen;

	(void)version;
	(void)upload_data;
	if (*con_cls == NULL) {
		/* First call: headers only. The request's state is the body
		 * bytes seen so far, plus one, kept in the pointer itself. */
		*con_cls = (void *)(uintptr_t)1;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* No route takes a body: discard it, within a bound. */
		seen = (uintptr_t)*con_cls + *upload_data_size;
		if (seen > ADMIN_MAX_BODY + 1)
			return MHD_NO;
		*con_cls = (void *)seen;
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&reply, 0, sizeof(reply));
	memset(&req, 0, sizeof(req));
	req.admin = a;
	req.conn = conn;
	req.method = method;
	req.path = url;
	peer_text(conn, req.peer, sizeof(req.peer));
	who_text(conn, req.who, sizeof(req.who));
	if (!authorized(a, conn)) {
		mps_log(MPS_LOG_WARNING, "Admin API: %s %s from %s (%s) refused: "
		    "no valid bearer token", method, url, req.peer, req.who);
		mps_admin_error(&reply, MHD_HTTP_UNAUTHORIZED,
		    "a valid bearer token is required");
		return send_reply(conn, &reply);
	}
	mps_admin_route(&req, &reply);
	mps_log(MPS_LOG_DEBUG, "Admin API: %s %s from %s (%s): %u", method,
	    url, req.peer, req.who, reply.status);
	return send_reply(conn, &reply);
}

/* libmicrohttpd's own complaints go to our log. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	mps_log(MPS_LOG_DEBUG, "Admin API (libmicrohttpd): %s", msg);
}

apr_status_t
mps_admin_start(mps_admin_t *a, const mps_admin_source_t *src, char *err,
    size_t errsize)
{
	mps_admin_listener_t *l;

	if (a == NULL)
		return APR_SUCCESS;
	a->src = *src;
	atomic_store(&a->subscribers, src->subscribers);
	if (a->src.nlisteners < MPS_ADMIN_MAX_LISTENERS) {
		l = &a->src.listeners[a->src.nlisteners++];
		l->name = "admin";
		l->address = a->address;
		l->port = a->port;
		l->transport = "http";
	}
	/* MHD_USE_AUTO picks epoll on Linux: never select(), whose
	 * FD_SETSIZE (1024) an mpsd with thousands of tunnels passes, so
	 * admin connections would get descriptors select() cannot watch. */
	a->mhd = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, a,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)a->fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)ADMIN_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)ADMIN_CONNECTION_TIMEOUT,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_END);
	if (a->mhd == NULL) {
		snprintf(err, errsize, "cannot start the admin API on %s:%u",
		    a->address, (unsigned)a->port);
		return APR_EGENERAL;
	}
	mps_log(MPS_LOG_INFO, "Admin API listening on %s:%u (bearer token "
	    "required)", a->address, (unsigned)a->port);
	return APR_SUCCESS;
}

void
mps_admin_stop(mps_admin_t *a)
{
	if (a == NULL || a->mhd == NULL)
		return;
	/* Joins the HTTP thread: no request runs once this returns. MHD
	 * closes the listen socket it was given. */
	MHD_stop_daemon(a->mhd);
	a->mhd = NULL;
	a->fd = -1;
}

void
mps_admin_destroy(mps_admin_t *a)
{
	if (a == NULL)
		return;
	mps_admin_stop(a);
	if (a->fd >= 0)
		close(a->fd);
	explicit_bzero(a->token, sizeof(a->token));
	free(a);
}

void
mps_admin_set_subscribers(mps_admin_t *a,
    const apr_array_header_t *subscribers)
{
	if (a != NULL)
		atomic_store(&a->subscribers, subscribers);
}
