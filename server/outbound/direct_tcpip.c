/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_tcpip.c: see direct_tcpip.h.
 *
 * The outgoing connection is the peer of a channel the device opened: it
 * uses the connection object and the byte pump of the console side
 * (console_priv.h: a socket, its buffers, its registration), but the
 * channel itself is a real device-opened one (channel.h: PENDING until
 * mps_relay_confirm_open() or mps_relay_fail_open()).
 */
#include "direct_tcpip.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel_relay.h"
#include "console_priv.h"
#include "listener.h"
#include "mps_status.h"
#include "outbound.h"

/* Where the connection goes, for log lines. */
typedef struct direct_front {
	char host[MPS_REGISTRY_FQDN_SIZE];
	apr_port_t port;
} direct_front;

/* A name resolution on the blocking lane. */
typedef struct resolve_job {
	mps_session_t *s;
	mps_device_t *dev;		/* keeps the session and its strand */
	apr_uint32_t device_id;
	apr_uint32_t device_window;
	char host[MPS_REGISTRY_FQDN_SIZE];
	apr_port_t port;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int gai_error;
} resolve_job;

/* ---- the connection's front ops: log lines only ------------------------- */

static void
direct_opened(mps_console_t *c)
{
	(void)c;
}

static void
direct_refused(mps_console_t *c, open_result why)
{
	direct_front *f = c->front;
	char name[MPS_DEVICE_LOG_NAME_SIZE];

	mps_tunnel_warn(c->session, "Intel remote client %s: direct-tcpip "
	    "connection to %s:%u %s",
	    mps_tunnel_name(c->session, name, sizeof(name)), f->host,
	    (unsigned)f->port, why == OPEN_TIMEOUT ? "timed out" : "failed");
}

static void
direct_free(mps_console_t *c)
{
	free(c->front);
	c->front = NULL;
}

static const front_ops direct_ops = {
	.name = "direct-tcpip",
	.log_shutdown = 0,
	.opened = direct_opened,
	.refused = direct_refused,
	.free_state = direct_free,
};

/* ---- connecting (device strand) ---------------------------------------- */

static void
connect_failed(mps_console_t *c, int err)
{
	direct_front *f = c->front;

	mps_log(MPS_LOG_DEBUG, "direct-tcpip to %s:%u: %s", f->host,
	    (unsigned)f->port, strerror(err));
	direct_refused(c, OPEN_DEVICE_REFUSED);
	mps_relay_fail_open(c, MPS_CHAN_OPEN_CONNECT_FAILED);
}

static void
connected(mps_console_t *c)
{
	/* The channel's open line (its close line follows when the
	 * connection ends, console.c). */
	mps_console_log_channel_open(c, c->chan);
	mps_relay_confirm_open(c);
}

static void
direct_connect_io(void *arg)
{
	mps_console_t *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->phase != C_OPENING || c->chan == NULL ||
	    !mps_tunnel_is_active(c->session))
		return;		/* timed out or closing meanwhile */
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY) {
		if (mps_poller_watch(c->side->poller, c->reg, APR_POLLOUT) ==
		    APR_SUCCESS)
			return;
	}
	if (err != 0) {
		connect_failed(c, err);
		return;
	}
	connected(c);
}

/* Allocates the channel and starts connecting to addr. */
static void
start_connect(mps_session_t *s, apr_uint32_t device_id,
    apr_uint32_t device_window, const char *host, apr_port_t port,
    const struct sockaddr *addr, socklen_t addrlen)
{
	mps_amt_side_t *side = mps_tunnel_side(s);
	char name[MPS_DEVICE_LOG_NAME_SIZE], peer[128];
	direct_front *f;
	mps_console_t *c;
	apr_status_t rv;
	int fd, one = 1;

	if (!mps_tunnel_is_active(s))
		return;
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		mps_relay_refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	mps_sockaddr_text(addr, peer, sizeof(peer));
	f = calloc(1, sizeof(*f));
	c = f != NULL ? mps_console_outgoing(side->consoles, &direct_ops, fd,
	    mps_tunnel_strand(s), peer) : NULL;
	if (c == NULL) {
		if (f == NULL)
			close(fd);
		free(f);
		mps_relay_refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	snprintf(f->host, sizeof(f->host), "%s", host);
	snprintf(c->connect_host, sizeof(c->connect_host), "%s", host);
	f->port = port;
	c->front = f;
	c->session = s;
	c->dev = mps_tunnel_device(s);
	mps_device_retain(c->dev);
	c->port = port;
	snprintf(c->device_name, sizeof(c->device_name), "%s",
	    mps_tunnel_name(s, name, sizeof(name)));
	rv = mps_relay_accept_open(s, c, device_id, device_window);
	if (rv != APR_SUCCESS) {
		if (rv == APR_ENOSPC)
			mps_tunnel_warn(s, "Intel remote client %s: "
			    "direct-tcpip to %s:%u refused: too many channels",
			    c->device_name, host, (unsigned)port);
		mps_relay_refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		mps_console_finalize(c);
		return;
	}
	if (mps_poller_register(side->poller, &c->reg, c->wrap,
	    mps_tunnel_strand(s), direct_connect_io, c) != APR_SUCCESS) {
		connect_failed(c, ENOMEM);
		return;
	}
	/* The channel layer's sweep bounds the connect (open timeout). */
	if (connect(fd, addr, addrlen) == 0) {
		connected(c);
		return;
	}
	if (errno != EINPROGRESS) {
		connect_failed(c, errno);
		return;
	}
	if (mps_poller_watch(side->poller, c->reg, APR_POLLOUT) != APR_SUCCESS)
		connect_failed(c, ENOMEM);
}

/* ---- resolving a name (blocking lane, then back) ------------------------ */

static void
resolve_done(void *arg)
{
	resolve_job *job = arg;
	mps_session_t *s = job->s;
	char name[MPS_DEVICE_LOG_NAME_SIZE];

	if (mps_tunnel_is_active(s)) {
		if (job->gai_error != 0) {
			mps_tunnel_warn(s, "Intel remote client %s: "
			    "direct-tcpip to %s:%u: cannot resolve the name: %s",
			    mps_tunnel_name(s, name, sizeof(name)), job->host,
			    (unsigned)job->port, gai_strerror(job->gai_error));
			mps_relay_refuse_open(s, job->device_id,
			    MPS_CHAN_OPEN_CONNECT_FAILED);
		} else {
			start_connect(s, job->device_id, job->device_window,
			    job->host, job->port, (struct sockaddr *)&job->addr,
			    job->addrlen);
		}
	}
	mps_device_release(job->dev);
	free(job);
}

static void
resolve_run(void *arg)
{
	resolve_job *job = arg;
	struct addrinfo hints, *res = NULL;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", (unsigned)job->port);
	job->gai_error = getaddrinfo(job->host, port, &hints, &res);
	if (job->gai_error == 0) {
		memcpy(&job->addr, res->ai_addr, res->ai_addrlen);
		job->addrlen = res->ai_addrlen;
		freeaddrinfo(res);
	}
	if (mps_strand_post(mps_tunnel_strand(job->s), resolve_done, job) != APR_SUCCESS) {
		mps_device_release(job->dev);
		free(job);
	}
}

static void
resolve_discard(void *arg)
{
	resolve_job *job = arg;

	mps_device_release(job->dev);
	free(job);
}

/* ---- CHANNEL_OPEN from the device ---------------------------------------- */

void
mps_direct_tcpip_open(mps_session_t *s, const mps_apf_msg_t *m)
{
	const mps_amt_side_t *side = mps_tunnel_side(s);
	mps_outbound_t ob = { side->cfg, side->authorized_servers, side->udp,
	    NULL };
	mps_apf_str_t type = m->u.channel_open.type;
	mps_apf_str_t addr = m->u.channel_open.connected_addr;
	apr_uint32_t port = m->u.channel_open.connected_port;
	apr_uint32_t sender = m->u.channel_open.sender;
	char name[MPS_DEVICE_LOG_NAME_SIZE], host[MPS_REGISTRY_FQDN_SIZE];
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	resolve_job *job;
	mps_live_t *live;
	mps_outbound_verdict_t verdict;

	if (!mps_apf_str_eq(type, MPS_APF_CHAN_DIRECT_TCPIP)) {
		mps_tunnel_warn(s, "Intel remote client %s: channel type "
		    "\"%.*s\" refused", mps_tunnel_name(s, name, sizeof(name)),
		    (int)(type.len > 32 ? 32 : type.len), type.ptr);
		mps_relay_refuse_open(s, sender, MPS_CHAN_OPEN_UNKNOWN_CHANNEL_TYPE);
		return;
	}
	/* The list as the last reload left it, held for this check. */
	live = mps_live_acquire(side->settings);
	if (live != NULL)
		ob.servers = live->authorized_servers;
	verdict = mps_outbound_check(&ob, addr.ptr, addr.len, port, host,
	    sizeof(host));
	mps_live_release(side->settings, live);
	switch (verdict) {
	case MPS_OUTBOUND_INVALID:
		mps_tunnel_warn(s, "Intel remote client %s: direct-tcpip "
		    "to an invalid address refused",
		    mps_tunnel_name(s, name, sizeof(name)));
		mps_relay_refuse_open(s, sender,
		    MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED);
		return;
	case MPS_OUTBOUND_NOT_AUTHORIZED:
		mps_tunnel_warn(s, "Intel remote client %s: direct-tcpip "
		    "connection to %s:%u refused: not in the authorized servers "
		    "list", mps_tunnel_name(s, name, sizeof(name)), host,
		    (unsigned)port);
		mps_relay_refuse_open(s, sender,
		    MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED);
		return;
	case MPS_OUTBOUND_ALLOWED:
		break;
	}
	if (side->consoles == NULL) {
		mps_relay_refuse_open(s, sender,
		    MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED);
		return;
	}
	/* An address literal connects at once; a name is resolved on the
	 * blocking lane (DNS may take seconds). */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if (getaddrinfo(host, portstr, &hints, &res) == 0) {
		start_connect(s, sender, m->u.channel_open.window, host,
		    (apr_port_t)port, res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		mps_relay_refuse_open(s, sender, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	job->s = s;
	job->dev = mps_tunnel_device(s);
	mps_device_retain(job->dev);
	job->device_id = sender;
	job->device_window = m->u.channel_open.window;
	snprintf(job->host, sizeof(job->host), "%s", host);
	job->port = (apr_port_t)port;
	if (mps_workers_push_ex(side->workers, MPS_LANE_BLOCKING, resolve_run,
	    resolve_discard, job) != APR_SUCCESS) {
		resolve_discard(job);
		mps_relay_refuse_open(s, sender, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
	}
}
