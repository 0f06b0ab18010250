/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_tcpip.c: see direct_tcpip.h.
 *
 * The outgoing connection is the peer of a channel the device opened
 * (channel_peer.h): its own socket, buffer and registration, on the
 * device's strand (direct_tcpip_priv.h, OWNERSHIP). The channel is a
 * real device-opened one (channel.h: PENDING until
 * mps_relay_confirm_open() or mps_relay_fail_open()).
 */
#include "direct_tcpip_priv.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel_relay.h"
#include "listener.h"
#include "live.h"
#include "mps_status.h"
#include "outbound.h"
#include "sockwrap.h"
#include "workers.h"

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

static atomic_uint live_conns;

unsigned
mps_direct_tcpip_live(void)
{
	return atomic_load(&live_conns);
}

/* ---- the connection's life ------------------------------------------------ */

static mps_direct_conn_t *
conn_of(const mps_chan_peer_t *p)
{
	/* cp is the first member. */
	return (mps_direct_conn_t *)(void *)(uintptr_t)p;
}

/* The channel's open and close lines, worded as the console's are
 * (console.c) so that one grep finds every channel. */
static void
log_open(mps_direct_conn_t *d)
{
	d->chan_remote = d->cp.chan->remote_id;
	d->chan_local = d->cp.chan->local_id;
	d->opened_at = apr_time_now();
	d->logged = 1;
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and "
	    "direct-tcpip target %s opened. Channel ID [%u:%u]; direct-tcpip "
	    "to %.100s:%u asked by the device", d->device_name, d->peer,
	    (unsigned)d->chan_remote, (unsigned)d->chan_local, d->host,
	    (unsigned)d->port);
}

static void
log_close(mps_direct_conn_t *d)
{
	apr_time_t took = apr_time_now() - d->opened_at;

	if (!d->logged)
		return;
	d->logged = 0;
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and "
	    "direct-tcpip target %s closed. Channel ID [%u:%u]; direct-tcpip "
	    "to %.100s:%u asked by the device, %llu bytes to the device, %llu "
	    "bytes from the device, %ld.%03ld s", d->device_name, d->peer,
	    (unsigned)d->chan_remote, (unsigned)d->chan_local, d->host,
	    (unsigned)d->port, d->bytes_up, d->bytes_down,
	    (long)apr_time_sec(took), (long)(apr_time_msec(took) % 1000));
}

static void
conn_free(void *arg)
{
	mps_direct_conn_t *d = arg;

	mps_buf_free(&d->down);
	mps_device_release(d->dev);
	free(d);
	atomic_fetch_sub(&live_conns, 1);
}

/* Closes the socket now; the memory goes in a later task of the strand,
 * behind any poll firing posted before the release (strand.h). The
 * channel must already have let go of it (cp.chan NULL). */
static void
conn_end(mps_direct_conn_t *d)
{
	if (d->state == D_CLOSED)
		return;
	d->state = D_CLOSED;
	log_close(d);
	if (d->reg != NULL) {
		mps_poller_release(d->poller, d->reg);
		d->reg = NULL;
	}
	if (d->wrap != NULL) {
		mps_sockwrap_put(d->wrap);
		d->wrap = NULL;
	}
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
	if (mps_strand_post_free(d->strand, conn_free, d) != APR_SUCCESS)
		conn_free(d);	/* the workers are gone: nothing can fire */
}

/* ---- the peer ops (channel_peer.h) ------------------------------------------ */

static int
d_deliver(mps_chan_peer_t *p, const void *data, size_t n)
{
	return mps_buf_put(&conn_of(p)->down, data, n) == APR_SUCCESS ? 0 : -1;
}

static int
d_flush(mps_chan_peer_t *p, size_t *took)
{
	mps_direct_conn_t *d = conn_of(p);

	int rc;

	*took = 0;
	rc = mps_buf_send(&d->down, d->fd, took);
	d->bytes_down += (unsigned long long)*took;
	return rc;
}

static size_t
d_unsent(const mps_chan_peer_t *p)
{
	return mps_buf_len(&conn_of(p)->down);
}

/* Nothing is held: the target's bytes are read straight into the
 * tunnel's output (d_read). */
static ssize_t
d_pending(mps_chan_peer_t *p, int fill)
{
	(void)fill;
	if (conn_of(p)->eof)
		p->input_ended = 1;
	return 0;
}

static ssize_t
d_read(mps_chan_peer_t *p, void *dst, size_t max)
{
	mps_direct_conn_t *d = conn_of(p);
	ssize_t n;

	if (d->eof)
		return 0;
	do
		n = recv(d->fd, dst, max, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		d->bytes_up += (unsigned long long)n;
		return n;
	}
	if (n == 0) {
		d->eof = 1;
		p->input_ended = 1;
		return 0;
	}
	return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
}

static int
d_wait(mps_chan_peer_t *p, int want_input)
{
	mps_direct_conn_t *d = conn_of(p);
	apr_int16_t ev = 0;

	if (mps_buf_len(&d->down) > 0)
		ev |= APR_POLLOUT;
	if (want_input)
		ev |= APR_POLLIN;
	if (ev == 0)
		return 0;
	return mps_poller_watch(d->poller, d->reg, ev) == APR_SUCCESS ? 0 : -1;
}

static void
d_opened(mps_chan_peer_t *p)
{
	log_open(conn_of(p));
}

static void
warn_failed(mps_direct_conn_t *d, const char *how)
{
	mps_tunnel_warn(d->cp.session, "Intel remote client %s: direct-tcpip "
	    "connection to %s:%u %s", d->device_name, d->host,
	    (unsigned)d->port, how);
}

static void
d_refused(mps_chan_peer_t *p, mps_peer_refusal why)
{
	mps_direct_conn_t *d = conn_of(p);

	/* The tunnel's end needs no word: the device is gone. */
	if (why == MPS_PEER_TIMEOUT)
		warn_failed(d, "timed out");
	else if (why != MPS_PEER_NO_DEVICE)
		warn_failed(d, "failed");
	conn_end(d);
}

static void
d_closed(mps_chan_peer_t *p, mps_peer_close why)
{
	mps_direct_conn_t *d = conn_of(p);
	size_t n;

	/* What already arrived from the device still goes out if the
	 * socket takes it now. */
	if (why == MPS_PEER_TUNNEL_GONE)
		(void)d_flush(p, &n);
	conn_end(d);
}

static const mps_chan_peer_ops_t direct_peer_ops = {
	.deliver = d_deliver,
	.flush = d_flush,
	.unsent = d_unsent,
	.pending = d_pending,
	.read = d_read,
	.wait = d_wait,
	.opened = d_opened,
	.refused = d_refused,
	.closed = d_closed,
	.settle = NULL,
};

/* ---- connecting (device strand) ---------------------------------------- */

static void
connect_failed(mps_direct_conn_t *d, int err)
{
	mps_log(MPS_LOG_DEBUG, "direct-tcpip to %s:%u: %s", d->host,
	    (unsigned)d->port, strerror(err));
	warn_failed(d, "failed");
	mps_relay_fail_open(&d->cp, MPS_CHAN_OPEN_CONNECT_FAILED);
	conn_end(d);
}

static void
connected(mps_direct_conn_t *d)
{
	d->state = D_RELAY;
	/* The confirmation goes out and the channel layer starts relaying
	 * (d_opened writes the open line). */
	mps_relay_confirm_open(&d->cp);
}

/* The connection's one registration, on the device's strand: first the
 * connect's completion, then the relay's readiness. */
static void
conn_io(void *arg)
{
	mps_direct_conn_t *d = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	apr_int16_t ev;

	if (d->state == D_RELAY) {
		ev = mps_pollreg_events(d->reg);
		mps_relay_peer_io(&d->cp, (ev & (APR_POLLERR |
		    APR_POLLNVAL)) != 0 && (ev & APR_POLLIN) == 0);
		return;
	}
	if (d->state != D_CONNECTING || d->cp.chan == NULL ||
	    !mps_tunnel_is_active(d->cp.session))
		return;		/* timed out or closing meanwhile */
	if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY) {
		if (mps_poller_watch(d->poller, d->reg, APR_POLLOUT) ==
		    APR_SUCCESS)
			return;
	}
	if (err != 0) {
		connect_failed(d, err);
		return;
	}
	connected(d);
}

mps_direct_conn_t *
mps_direct_tcpip_begin(mps_session_t *s, apr_uint32_t device_id,
    apr_uint32_t device_window, const char *host, apr_port_t port, int fd,
    const char *peer)
{
	mps_amt_side_t *side = mps_tunnel_side(s);
	const mps_config_t *cfg = side->cfg;
	mps_direct_conn_t *d;
	apr_status_t rv;

	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->wrap = mps_sockwrap_get(fd)) == NULL) {
		free(d);
		close(fd);
		mps_relay_refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return NULL;
	}
	atomic_fetch_add(&live_conns, 1);
	d->fd = fd;
	d->state = D_CONNECTING;
	d->poller = side->poller;
	d->strand = mps_tunnel_strand(s);
	d->dev = mps_tunnel_device(s);
	mps_device_retain(d->dev);
	d->port = port;
	snprintf(d->host, sizeof(d->host), "%s", host);
	snprintf(d->peer, sizeof(d->peer), "%s", peer);
	(void)mps_tunnel_name(s, d->device_name, sizeof(d->device_name));
	mps_buf_init(&d->down, (size_t)cfg->channel_window_size);
	d->cp.ops = &direct_peer_ops;
	d->cp.peer = d->peer;
	d->cp.device_name = d->device_name;
	d->cp.port = port;
	d->cp.session = s;
	rv = mps_relay_accept_open(s, &d->cp, device_id, device_window);
	if (rv != APR_SUCCESS) {
		if (rv == APR_ENOSPC)
			mps_tunnel_warn(s, "Intel remote client %s: "
			    "direct-tcpip to %s:%u refused: too many channels",
			    d->device_name, host, (unsigned)port);
		mps_relay_refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		conn_end(d);
		return NULL;
	}
	/* The device's bytes for the target: the window, and the overrun
	 * tolerated beyond it, bound them. */
	(void)mps_buf_set_max_size(&d->down,
	    (size_t)d->cp.chan->local_window_max + cfg->channel_window_overrun);
	if (mps_poller_register(d->poller, &d->reg, d->wrap, d->strand, conn_io,
	    d) != APR_SUCCESS) {
		connect_failed(d, ENOMEM);
		return NULL;
	}
	return d;
}

void
mps_direct_tcpip_wait_connect(mps_direct_conn_t *d)
{
	if (mps_poller_watch(d->poller, d->reg, APR_POLLOUT) != APR_SUCCESS)
		connect_failed(d, ENOMEM);
}

void
mps_direct_tcpip_start(mps_session_t *s, apr_uint32_t device_id,
    apr_uint32_t device_window, const char *host, apr_port_t port,
    const struct sockaddr *addr, socklen_t addrlen)
{
	char peer[64];
	mps_direct_conn_t *d;
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
	d = mps_direct_tcpip_begin(s, device_id, device_window, host, port, fd,
	    peer);
	if (d == NULL)
		return;
	/* The channel layer's sweep bounds the connect (open timeout). */
	if (connect(fd, addr, addrlen) == 0)
		connected(d);
	else if (errno != EINPROGRESS)
		connect_failed(d, errno);
	else
		mps_direct_tcpip_wait_connect(d);
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
			mps_direct_tcpip_start(s, job->device_id,
			    job->device_window, job->host, job->port,
			    (struct sockaddr *)&job->addr, job->addrlen);
		}
	}
	mps_device_release(job->dev);
	free(job);
}

static void resolve_discard(void *arg);

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
	/* resolve_discard also when the workers stop before resolve_done
	 * runs: the job holds the device, hence its session. */
	if (mps_strand_post_ex(mps_tunnel_strand(job->s), resolve_done,
	    resolve_discard, job) != APR_SUCCESS) {
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
	/* An address literal connects at once; a name is resolved on the
	 * blocking lane (DNS may take seconds). */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if (getaddrinfo(host, portstr, &hints, &res) == 0) {
		mps_direct_tcpip_start(s, sender,
		    m->u.channel_open.window, host, (apr_port_t)port,
		    res->ai_addr, res->ai_addrlen);
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
