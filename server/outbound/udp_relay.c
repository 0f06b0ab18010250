/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udp_relay.c: see udp_relay.h.
 *
 * Two sockets serve every device: one IPv4, one IPv6, unconnected,
 * non-blocking, opened on first use. sendto() on an unconnected UDP
 * socket is one syscall that either queues the whole datagram or fails,
 * so concurrent strands need no lock around it; only the lazy creation
 * takes the mutex.
 *
 * Lifetime: the relay is reference-counted. The creator holds one
 * reference, and every send queued on the blocking lane holds one until
 * it has run (or been discarded because the workers stopped), so
 * mps_udp_relay_destroy() never has to wait for the blocking lane.
 */
#include "udp_relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mps_status.h"

/* How long a send on the blocking lane waits for room in a full socket
 * buffer before the datagram is dropped. */
#define BLOCKING_WAIT_MS	100

enum { FAM_V4 = 0, FAM_V6 = 1, FAM_COUNT };

struct mps_udp_relay_t {
	mps_workers_t *workers;
	pthread_mutex_t lock;		/* guards socket creation */
	_Atomic int fd[FAM_COUNT];	/* -1 until first used */
	atomic_uint refs;
	atomic_uint pending;		/* name sends queued, not yet done */
	atomic_uint_fast64_t sent;
	atomic_uint_fast64_t dropped;
};

/* A send to a host name, waiting for the blocking lane. */
typedef struct deferred_send {
	mps_udp_relay_t *relay;
	char host[MPS_UDP_MAX_HOST + 1];
	char port[8];
	char origin[MPS_UDP_MAX_ORIGIN + 1];
	size_t len;
	unsigned char payload[];	/* len bytes */
} deferred_send;

/* A destination address built without resolving. */
typedef struct udp_dest {
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} u;
	socklen_t len;
	int fam;			/* FAM_V4 or FAM_V6 */
} udp_dest;

/* mps_udp_relay_parse_dest() hands the union over by copying it whole. */
_Static_assert(sizeof(((udp_dest *)0)->u) ==
    sizeof(((mps_udp_dest_t *)0)->addr), "udp_dest and mps_udp_dest_t");


/* ---- Lifetime ---- */

static void
relay_hold(mps_udp_relay_t *r)
{
	atomic_fetch_add(&r->refs, 1);
}

static void
relay_release(mps_udp_relay_t *r)
{
	int i, fd;

	if (atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	for (i = 0; i < FAM_COUNT; i++)
		if ((fd = atomic_load(&r->fd[i])) >= 0)
			(void)close(fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

apr_status_t
mps_udp_relay_create(mps_udp_relay_t **out, mps_workers_t *workers)
{
	mps_udp_relay_t *r;
	int i;

	if (out == NULL)
		return APR_EINVAL;
	*out = NULL;
	if (workers == NULL)
		return APR_EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return APR_ENOMEM;
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		return APR_ENOMEM;
	}
	r->workers = workers;
	for (i = 0; i < FAM_COUNT; i++)
		atomic_init(&r->fd[i], -1);
	atomic_init(&r->refs, 1);
	atomic_init(&r->pending, 0);
	atomic_init(&r->sent, 0);
	atomic_init(&r->dropped, 0);
	*out = r;
	return APR_SUCCESS;
}

void
mps_udp_relay_destroy(mps_udp_relay_t *r)
{
	if (r != NULL)
		relay_release(r);
}

void
mps_udp_relay_stats(mps_udp_relay_t *r, uint64_t *sent, uint64_t *dropped,
    unsigned *pending)
{
	if (sent != NULL)
		*sent = r != NULL ? atomic_load(&r->sent) : 0;
	if (dropped != NULL)
		*dropped = r != NULL ? atomic_load(&r->dropped) : 0;
	if (pending != NULL)
		*pending = r != NULL ? atomic_load(&r->pending) : 0;
}

/* ---- Sockets ---- */

static int
open_socket(int fam)
{
	int fd, one = 1, small = 1;

	fd = socket(fam == FAM_V6 ? AF_INET6 : AF_INET,
	    SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* Our own IPv4 socket serves IPv4: the IPv6 one must not take
	 * mapped addresses (it could not send to them anyway). */
	if (fam == FAM_V6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
	    sizeof(one)) == -1) {
		int e = errno;

		(void)close(fd);
		errno = e;
		return -1;
	}
	/* Nothing is ever read from these sockets: whatever arrives on
	 * their ports should cost the least memory possible (the kernel
	 * rounds this up to its minimum). Not fatal if refused. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	return fd;
}

/* The shared socket of fam, opened on first use; -1 with errno. */
static int
get_socket(mps_udp_relay_t *r, int fam)
{
	int fd;

	if ((fd = atomic_load(&r->fd[fam])) >= 0)
		return fd;
	pthread_mutex_lock(&r->lock);
	if ((fd = atomic_load(&r->fd[fam])) < 0 &&
	    (fd = open_socket(fam)) >= 0)
		atomic_store(&r->fd[fam], fd);
	else if (fd < 0) {
		int e = errno;

		pthread_mutex_unlock(&r->lock);
		errno = e;
		return -1;
	}
	pthread_mutex_unlock(&r->lock);
	return fd;
}

/*
 * One datagram to dest: 0, or -1 with errno. A stale ECONNREFUSED (an
 * ICMP error for an earlier datagram, which some stacks report on
 * unconnected sockets) is not about this one: it is retried once.
 */
static int
send_one(mps_udp_relay_t *r, const udp_dest *dest, const void *payload,
    size_t len)
{
	ssize_t n;
	int fd, tries;

	if ((fd = get_socket(r, dest->fam)) == -1)
		return -1;
	for (tries = 0; tries < 2; tries++) {
		n = sendto(fd, payload, len, MSG_NOSIGNAL, &dest->u.sa,
		    dest->len);
		if (n >= 0) {
			if ((size_t)n != len) {
				/* Cannot happen for UDP; never report a cut
				 * datagram as sent. */
				errno = EMSGSIZE;
				return -1;
			}
			atomic_fetch_add(&r->sent, 1);
			return 0;
		}
		if (errno != ECONNREFUSED && errno != EINTR)
			break;
	}
	return -1;
}

/* ---- Destinations ---- */

/* An IPv4-mapped IPv6 address becomes the IPv4 address it carries. */
static void
unmap(udp_dest *d)
{
	struct sockaddr_in v4;
	apr_port_t port;

	if (d->fam != FAM_V6 || !IN6_IS_ADDR_V4MAPPED(&d->u.v6.sin6_addr))
		return;
	port = ntohs(d->u.v6.sin6_port);
	memset(&v4, 0, sizeof(v4));
	v4.sin_family = AF_INET;
	v4.sin_port = htons(port);
	memcpy(&v4.sin_addr, &d->u.v6.sin6_addr.s6_addr[12], 4);
	memset(&d->u, 0, sizeof(d->u));
	d->u.v4 = v4;
	d->len = sizeof(v4);
	d->fam = FAM_V4;
}

/* host (brackets already removed) as a literal: 1, or 0 if it is not
 * one (a name, or a scoped IPv6 address left to the resolver). */
static int
parse_literal(const char *host, apr_port_t port, udp_dest *d)
{
	memset(d, 0, sizeof(*d));
	if (inet_pton(AF_INET, host, &d->u.v4.sin_addr) == 1) {
		d->u.v4.sin_family = AF_INET;
		d->u.v4.sin_port = htons(port);
		d->len = sizeof(d->u.v4);
		d->fam = FAM_V4;
		return 1;
	}
	if (inet_pton(AF_INET6, host, &d->u.v6.sin6_addr) == 1) {
		d->u.v6.sin6_family = AF_INET6;
		d->u.v6.sin6_port = htons(port);
		d->len = sizeof(d->u.v6);
		d->fam = FAM_V6;
		unmap(d);
		return 1;
	}
	return 0;
}

/*
 * Copies dest_host into out without [v6] brackets. Returns NULL, or why
 * the host is unusable.
 */
static const char *
clean_host(const char *host, char out[MPS_UDP_MAX_HOST + 1])
{
	size_t n, i;

	if (host == NULL || (n = strlen(host)) == 0)
		return "no destination host";
	if (n > MPS_UDP_MAX_HOST)
		return "destination host is too long";
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			return "destination host has an unmatched '['";
		host++;
		n -= 2;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)host[i] <= ' ' ||
		    (unsigned char)host[i] == 0x7f)
			return "destination host contains a control "
			    "character or a space";
	memcpy(out, host, n);
	out[n] = '\0';
	return NULL;
}

/* ---- Sends to names, on the blocking lane ---- */

static void
deferred_done(deferred_send *ds)
{
	mps_udp_relay_t *r = ds->relay;

	atomic_fetch_sub(&r->pending, 1);
	free(ds);
	relay_release(r);
}

/* The workers stopped before the send ran: it is simply not sent. */
static void
deferred_discard(void *arg)
{
	deferred_send *ds = arg;

	atomic_fetch_add(&ds->relay->dropped, 1);
	deferred_done(ds);
}

/* Like send_one(), and a full buffer is waited on a moment (this lane
 * may block; a strand may not). */
static int
send_patiently(mps_udp_relay_t *r, const udp_dest *dest,
    const deferred_send *ds)
{
	struct pollfd pfd;
	int fd;

	if (send_one(r, dest, ds->payload, ds->len) == 0)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	if ((fd = get_socket(r, dest->fam)) == -1)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	if (poll(&pfd, 1, BLOCKING_WAIT_MS) <= 0) {
		errno = EAGAIN;
		return -1;
	}
	return send_one(r, dest, ds->payload, ds->len);
}

/* One datagram to the first address of the name that takes it. */
static void
deferred_run(void *arg)
{
	deferred_send *ds = arg;
	mps_udp_relay_t *r = ds->relay;
	struct addrinfo hints, *res = NULL, *ai;
	udp_dest dest;
	char why[128];
	int rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(ds->host, ds->port, &hints, &res)) != 0) {
		atomic_fetch_add(&r->dropped, 1);
		mps_log(MPS_LOG_WARNING, "%s: PET alert to %s:%s dropped: "
		    "cannot resolve %s: %s", ds->origin, ds->host, ds->port,
		    ds->host, rc == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(rc));
		deferred_done(ds);
		return;
	}
	/* Exactly one datagram: the first address that accepts it. */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(dest.u))
			continue;
		memset(&dest, 0, sizeof(dest));
		memcpy(&dest.u, ai->ai_addr, ai->ai_addrlen);
		dest.len = ai->ai_addrlen;
		dest.fam = ai->ai_family == AF_INET6 ? FAM_V6 : FAM_V4;
		unmap(&dest);
		if (send_patiently(r, &dest, ds) == 0)
			break;
		e = errno;
	}
	freeaddrinfo(res);
	if (ai != NULL)
		mps_log(MPS_LOG_DEBUG, "%s: PET alert sent to %s:%s (%zu "
		    "bytes)", ds->origin, ds->host, ds->port, ds->len);
	else {
		atomic_fetch_add(&r->dropped, 1);
		(void)mps_strerror(e != 0 ? APR_FROM_OS_ERROR(e) :
		    APR_EINVAL, why, sizeof(why));
		mps_log(MPS_LOG_WARNING, "%s: PET alert to %s:%s dropped: %s",
		    ds->origin, ds->host, ds->port, e != 0 ? why :
		    "the name has no IPv4 or IPv6 address");
	}
	deferred_done(ds);
}

static apr_status_t
defer(mps_udp_relay_t *r, const char *origin, const char *host,
    apr_port_t port, const void *payload, size_t len, char *err,
    size_t errsize)
{
	deferred_send *ds;
	apr_status_t rv;

	/* Reserve a place first, so the cap holds under concurrency. */
	if (atomic_fetch_add(&r->pending, 1) >= MPS_UDP_MAX_PENDING) {
		atomic_fetch_sub(&r->pending, 1);
		mps_errtext(err, errsize, "%u sends to host names are already "
		    "waiting", (unsigned)MPS_UDP_MAX_PENDING);
		return MPS_ERR_QUEUE_FULL;
	}
	if ((ds = malloc(sizeof(*ds) + len)) == NULL) {
		atomic_fetch_sub(&r->pending, 1);
		mps_errtext(err, errsize, "out of memory");
		return APR_ENOMEM;
	}
	ds->relay = r;
	(void)snprintf(ds->host, sizeof(ds->host), "%s", host);
	(void)snprintf(ds->port, sizeof(ds->port), "%u", (unsigned)port);
	(void)snprintf(ds->origin, sizeof(ds->origin), "%s",
	    origin != NULL ? origin : "a device");
	ds->len = len;
	if (len > 0)
		memcpy(ds->payload, payload, len);
	relay_hold(r);
	rv = mps_workers_push_ex(r->workers, MPS_LANE_BLOCKING, deferred_run,
	    deferred_discard, ds);
	if (rv != APR_SUCCESS) {
		/* Neither callback will run: undo by hand. */
		atomic_fetch_sub(&r->pending, 1);
		free(ds);
		relay_release(r);
		mps_errtext(err, errsize, "cannot queue the name lookup: %s",
		    rv == MPS_ERR_SHUTDOWN ? "mpsd is stopping" :
		    "the worker pool refused it");
		return rv;
	}
	return APR_SUCCESS;
}

/* ---- The entry point ---- */

apr_status_t
mps_udp_relay_parse_dest(const char *dest_host, apr_port_t dest_port,
    size_t len, mps_udp_dest_t *d, char *err, size_t errsize)
{
	const char *bad;
	udp_dest dest;

	memset(d, 0, sizeof(*d));
	d->family = AF_UNSPEC;
	if ((bad = clean_host(dest_host, d->host)) != NULL) {
		mps_errtext(err, errsize, "%s", bad);
		return APR_EINVAL;
	}
	if (dest_port == 0) {
		mps_errtext(err, errsize, "destination port 0");
		return APR_EINVAL;
	}
	if (len > MPS_UDP_MAX_PAYLOAD) {
		mps_errtext(err, errsize, "payload of %zu bytes is over the UDP "
		    "limit of %u", len, (unsigned)MPS_UDP_MAX_PAYLOAD);
		return MPS_ERR_TOO_LARGE;
	}
	if (parse_literal(d->host, dest_port, &dest)) {
		d->family = dest.fam == FAM_V6 ? AF_INET6 : AF_INET;
		memcpy(&d->addr, &dest.u, sizeof(d->addr));
		d->addr_len = dest.len;
	}
	return APR_SUCCESS;
}

apr_status_t
mps_udp_relay_send(mps_udp_relay_t *r, const char *origin,
    const char *dest_host, apr_port_t dest_port, const void *payload,
    size_t len, char *err, size_t errsize)
{
	char why[128];
	mps_udp_dest_t d;
	udp_dest dest;
	apr_status_t rv;

	mps_errtext(err, errsize, "%s", "");
	if (r == NULL || (payload == NULL && len > 0)) {
		mps_errtext(err, errsize, "invalid arguments");
		return APR_EINVAL;
	}
	if ((rv = mps_udp_relay_parse_dest(dest_host, dest_port, len, &d,
	    err, errsize)) != APR_SUCCESS)
		return rv;
	if (d.family == AF_UNSPEC)
		return defer(r, origin, d.host, dest_port, payload, len, err,
		    errsize);
	memset(&dest, 0, sizeof(dest));
	memcpy(&dest.u, &d.addr, sizeof(dest.u));
	dest.len = d.addr_len;
	dest.fam = d.family == AF_INET6 ? FAM_V6 : FAM_V4;
	if (send_one(r, &dest, payload, len) == 0)
		return APR_SUCCESS;
	rv = APR_FROM_OS_ERROR(errno);
	if (APR_STATUS_IS_EAGAIN(rv))
		mps_errtext(err, errsize, "the UDP send buffer is full");
	else
		mps_errtext(err, errsize, "%s", mps_strerror(rv, why, sizeof(why)));
	return rv;
}
