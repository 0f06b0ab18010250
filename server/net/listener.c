/* SPDX-License-Identifier: Apache-2.0 */
/* listener.c: see listener.h. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mps_status.h"
#include "sockwrap.h"

/* Connections accepted per task before yielding to other strands. */
#define ACCEPT_BATCH 64
/* Pause after EMFILE/ENFILE before trying again. */
#define ACCEPT_PAUSE apr_time_from_msec(100)

struct mps_listener_t {
	char name[32];
	int fd;
	apr_port_t port;
	apr_socket_t *wrap;
	mps_poller_t *poller;
	mps_strand_t *strand;
	mps_pollreg_t *reg;
	mps_timer_t pause_timer;
	mps_accept_fn fn;
	void *ctx;
	apr_time_t last_emfile_log;
};

void
mps_sockaddr_text(const struct sockaddr *sa, char *buf, size_t bufsize)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		/* An IPv4 client on a dual-stack socket: show it as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof(host));
			snprintf(buf, bufsize, "%s:%u", host, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
			snprintf(buf, bufsize, "[%s]:%u", host, ntohs(s6->sin6_port));
		}
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, bufsize, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, bufsize, "(unknown)");
	}
}

void
mps_peer_split(const char *peer, char *ip, size_t size, apr_port_t *port)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);

	if (port != NULL)
		*port = colon != NULL ?
		    (apr_port_t)strtoul(colon + 1, NULL, 10) : 0;
	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	if (n >= size)
		n = size - 1;
	memcpy(ip, peer, n);
	ip[n] = '\0';
}

static int
open_listen_socket(const char *ip, apr_port_t port, int *fd_out, char *why,
    size_t whysize)
{
	struct addrinfo hints, *res = NULL, *ai;
	char service[8];
	int wildcard = ip == NULL || ip[0] == '\0' || strcmp(ip, "*") == 0;
	int r, fd = -1, one = 1, zero = 0, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_family = wildcard ? AF_INET6 : AF_UNSPEC;
	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(wildcard ? NULL : ip, service, &hints, &res);
	if (r != 0 && wildcard) {
		/* No IPv6 on this host: the IPv4 wildcard. */
		hints.ai_family = AF_INET;
		r = getaddrinfo(NULL, service, &hints, &res);
	}
	if (r != 0) {
		snprintf(why, whysize, "%s", gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && wildcard)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			    sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(why, whysize, "%s", strerror(e));
		return -1;
	}
	*fd_out = fd;
	return 0;
}

apr_status_t
mps_listener_bind(mps_listener_t **out, const char *name, const char *ip,
    apr_port_t port, char *err, size_t errsize)
{
	mps_listener_t *l;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char why[128];

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return APR_ENOMEM;
	snprintf(l->name, sizeof(l->name), "%s", name);
	if (open_listen_socket(ip, port, &l->fd, why, sizeof(why)) != 0) {
		snprintf(err, errsize, "%s listener %s:%u: %s", name,
		    ip != NULL && ip[0] != '\0' ? ip : "*", port, why);
		free(l);
		return MPS_ERR_CONFIG;
	}
	l->port = port;
	if (getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0)
		l->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	*out = l;
	return APR_SUCCESS;
}

apr_port_t
mps_listener_port(const mps_listener_t *l)
{
	return l->port;
}

static void
accept_pause_over(void *arg)
{
	mps_listener_t *l = arg;

	(void)mps_poller_watch(l->poller, l->reg, APR_POLLIN);
}

/* Strand task: accept a batch, then wait for the next readiness. */
static void
accept_ready(void *arg)
{
	mps_listener_t *l = arg;
	int i;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[64];
		int one = 1;
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				apr_time_t now = apr_time_now();
				/* Once a minute is enough to tell the admin. */
				if (now - l->last_emfile_log > apr_time_from_sec(60)) {
					l->last_emfile_log = now;
					mps_log(MPS_LOG_ERROR, "%s listener: cannot "
					    "accept: %s; pausing", l->name,
					    strerror(errno));
				}
				(void)mps_timer_arm(mps_poller_timers(l->poller),
				    &l->pause_timer, ACCEPT_PAUSE);
				return;
			}
			mps_log(MPS_LOG_ERROR, "%s listener: accept: %s",
			    l->name, strerror(errno));
			break;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		mps_sockaddr_text((struct sockaddr *)&ss, peer, sizeof(peer));
		l->fn(l->ctx, fd, peer);
	}
	/* A full batch may have left more waiting: the socket is still
	 * readable, so watching fires again at once, after other strands
	 * had their turn. */
	(void)mps_poller_watch(l->poller, l->reg, APR_POLLIN);
}

apr_status_t
mps_listener_start(mps_listener_t *l, mps_poller_t *poller,
    mps_workers_t *workers, mps_accept_fn fn, void *ctx)
{
	apr_status_t rv;

	l->poller = poller;
	l->fn = fn;
	l->ctx = ctx;
	l->strand = mps_strand_create(workers);
	l->wrap = mps_sockwrap_get(l->fd);
	if (l->strand == NULL || l->wrap == NULL)
		return APR_ENOMEM;
	mps_timer_init(&l->pause_timer, l->strand, accept_pause_over, l);
	rv = mps_poller_register(poller, &l->reg, l->wrap, l->strand,
	    accept_ready, l);
	if (rv != APR_SUCCESS)
		return rv;
	return mps_poller_watch(poller, l->reg, APR_POLLIN);
}

void
mps_listener_destroy(mps_listener_t *l)
{
	if (l == NULL)
		return;
	if (l->poller != NULL) {
		mps_timer_cancel(mps_poller_timers(l->poller), &l->pause_timer);
		if (l->reg != NULL)
			mps_poller_release(l->poller, l->reg);
	}
	if (l->wrap != NULL)
		mps_sockwrap_put(l->wrap);
	if (l->strand != NULL)
		mps_strand_release(l->strand);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}
