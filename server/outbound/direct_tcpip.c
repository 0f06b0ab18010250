/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_tcpip.c: channels the device opens (CHANNEL_OPEN direct-tcpip),
 * which is how AMT delivers WS-Eventing to a management server.
 *
 * The requested host:port must pass the AuthorizedServersList filter
 * (FilterUnauthorizedServers); else CHANNEL_OPEN_FAILURE 1. mpsd then
 * connects: a host name is resolved on the blocking lane, the connect
 * itself is non-blocking and watched on the device's strand, bounded by
 * ChannelOpenTimeout. A failure or timeout is CHANNEL_OPEN_FAILURE 2.
 * Once connected, the channel is confirmed and relayed by
 * channel_relay.c with the same windows as a console's.
 *
 * The outgoing connection is a console object (console_priv.h) that
 * lives on the device's strand from the start.
 */
#include "apf_session_priv.h"
#include "console_priv.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "listener.h"
#include "mps_status.h"
#include "server_filter.h"

/* The device's side of the channel, kept until the connect ends. */
typedef struct direct_front {
	apr_uint32_t device_id;		/* the device's sender id */
	apr_uint32_t device_window;	/* its initial window */
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

static void direct_connect_io(void *arg);

static void
refuse_open(mps_session_t *s, apr_uint32_t device_id, apr_uint32_t reason)
{
	if (mps_apf_encode_channel_open_failure(&s->io.out, device_id, reason) !=
	    APR_SUCCESS)
		mps_session_close(s, 0, MPS_LOG_ERROR, "cannot queue "
		    "CHANNEL_OPEN_FAILURE: output full");
	mps_session_kick(s);
}

/* ---- the console ops of an outgoing connection ------------------------- */

static void
direct_opened(mps_console_t *c)
{
	(void)c;
}

/* The connect failed or timed out: the device hears OPEN_FAILURE 2 and
 * the channel id is given back. */
static void
direct_refused(mps_console_t *c, open_result why)
{
	mps_session_t *s = c->session;
	direct_front *f = c->front;
	mps_chan_t *chan = c->chan;
	char name[MPS_REGISTRY_FQDN_SIZE];

	mps_log(MPS_LOG_WARNING, "Intel remote client %s: direct-tcpip "
	    "connection to %s:%u %s", mps_session_name(s, name, sizeof(name)),
	    f->host, (unsigned)f->port, why == OPEN_TIMEOUT ? "timed out" :
	    "failed");
	if (s->state != S_ACTIVE)
		return;		/* the tunnel is ending: nothing to tell */
	if (chan != NULL && chan->state == MPS_CHAN_OPENING) {
		mps_chan_t *failed = NULL;
		(void)mps_chan_on_open_failure(s->chans, chan->local_id,
		    MPS_CHAN_OPEN_CONNECT_FAILED, &failed);
		if (c->chan != NULL) {
			c->chan = NULL;
			(void)mps_chan_console_gone(chan);
		}
	}
	refuse_open(s, f->device_id, MPS_CHAN_OPEN_CONNECT_FAILED);
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
	.input = NULL,
	.auth_done = NULL,
	.opened = direct_opened,
	.refused = direct_refused,
	.to_device = NULL,
	.from_device = NULL,
	.switch_ready = NULL,
	.switched = NULL,
	.free_state = direct_free,
};

/* ---- connecting (device strand) ---------------------------------------- */

static void
connect_failed(mps_console_t *c, int err)
{
	direct_front *f = c->front;

	mps_log(MPS_LOG_DEBUG, "direct-tcpip to %s:%u: %s", f->host,
	    (unsigned)f->port, strerror(err));
	c->ops->refused(c, OPEN_DEVICE_REFUSED);
	mps_console_finalize(c);
}

static void
connected(mps_console_t *c)
{
	mps_session_t *s = c->session;
	direct_front *f = c->front;
	mps_chan_t *chan = c->chan;
	char name[MPS_REGISTRY_FQDN_SIZE];
	int due = 0;

	if (mps_chan_on_open_confirmation(s->chans, chan->local_id,
	    f->device_id, f->device_window, &chan, &due) != APR_SUCCESS ||
	    mps_apf_encode_channel_open_confirmation(&s->io.out, f->device_id,
	    chan->local_id, chan->local_window_max) != APR_SUCCESS) {
		mps_session_close(s, 0, MPS_LOG_ERROR, "cannot confirm a "
		    "direct-tcpip channel");
		return;
	}
	mps_log(MPS_LOG_INFO, "Intel remote client %s opened a direct-tcpip "
	    "channel to %s:%u. Channel ID [%u:%u]",
	    mps_session_name(s, name, sizeof(name)), f->host, (unsigned)f->port,
	    (unsigned)f->device_id, (unsigned)chan->local_id);
	if (c->reg != NULL) {
		mps_poller_release(s->side->poller, c->reg);
		c->reg = NULL;
	}
	mps_relay_begin(c);
	mps_session_kick(s);
}

static void
direct_connect_io(void *arg)
{
	mps_console_t *c = arg;
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->phase != C_OPENING || c->chan == NULL)
		return;		/* timed out meanwhile */
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
	const mps_config_t *cfg = s->side->cfg;
	mps_console_side_t *side = s->side->consoles;
	char name[MPS_REGISTRY_FQDN_SIZE], peer[128];
	direct_front *f;
	mps_console_t *c;
	mps_chan_t *chan = NULL;
	int fd, one = 1;

	if (s->state != S_ACTIVE)
		return;
	if (s->chans == NULL && mps_chan_table_create(&s->chans,
	    (unsigned)cfg->max_channels_per_device, 0, NULL, NULL) !=
	    APR_SUCCESS) {
		refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	mps_sockaddr_text(addr, peer, sizeof(peer));
	f = calloc(1, sizeof(*f));
	c = f != NULL ? mps_console_outgoing(side, &direct_ops, fd, s->strand,
	    peer) : NULL;
	if (c == NULL) {
		if (f == NULL)
			close(fd);
		free(f);
		refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	f->device_id = device_id;
	f->device_window = device_window;
	snprintf(f->host, sizeof(f->host), "%s", host);
	f->port = port;
	c->front = f;
	c->session = s;
	c->dev = s->dev;
	mps_device_retain(c->dev);
	c->port = port;
	snprintf(c->device_name, sizeof(c->device_name), "%s",
	    mps_session_name(s, name, sizeof(name)));
	if (mps_chan_open(s->chans, c, cfg->channel_window_size, &chan) !=
	    APR_SUCCESS) {
		mps_log(MPS_LOG_WARNING, "Intel remote client %s: direct-tcpip "
		    "to %s:%u refused: too many channels", c->device_name, host,
		    (unsigned)port);
		refuse_open(s, device_id, MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		mps_console_finalize(c);
		return;
	}
	c->chan = chan;
	mps_device_set_channels(s->dev, mps_chan_table_count(s->chans));
	if (mps_poller_register(s->side->poller, &c->reg, c->wrap, s->strand,
	    direct_connect_io, c) != APR_SUCCESS) {
		connect_failed(c, ENOMEM);
		return;
	}
	if (connect(fd, addr, addrlen) == 0) {
		connected(c);
		return;
	}
	if (errno != EINPROGRESS) {
		connect_failed(c, errno);
		return;
	}
	if (mps_poller_watch(s->side->poller, c->reg, APR_POLLOUT) !=
	    APR_SUCCESS) {
		connect_failed(c, ENOMEM);
		return;
	}
	/* The sweep's open timeout bounds the connect. */
	if (!mps_timer_is_armed(mps_poller_timers(s->side->poller),
	    &s->chan_timer))
		(void)mps_timer_arm(mps_poller_timers(s->side->poller),
		    &s->chan_timer, apr_time_from_sec(1));
}

/* ---- resolving a name (blocking lane, then back) ------------------------ */

static void
resolve_done(void *arg)
{
	resolve_job *job = arg;
	mps_session_t *s = job->s;
	char name[MPS_REGISTRY_FQDN_SIZE];

	if (s->state == S_ACTIVE) {
		if (job->gai_error != 0) {
			mps_log(MPS_LOG_WARNING, "Intel remote client %s: "
			    "direct-tcpip to %s:%u: cannot resolve the name: %s",
			    mps_session_name(s, name, sizeof(name)), job->host,
			    (unsigned)job->port, gai_strerror(job->gai_error));
			refuse_open(s, job->device_id,
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
	if (mps_strand_post(job->s->strand, resolve_done, job) != APR_SUCCESS) {
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
mps_relay_on_device_open(mps_session_t *s, const mps_apf_msg_t *m)
{
	const mps_amt_side_t *side = s->side;
	mps_apf_str_t type = m->u.channel_open.type;
	mps_apf_str_t addr = m->u.channel_open.connected_addr;
	apr_uint32_t port = m->u.channel_open.connected_port;
	char name[MPS_REGISTRY_FQDN_SIZE], host[MPS_REGISTRY_FQDN_SIZE];
	struct addrinfo hints, *res = NULL;
	char portstr[8];
	resolve_job *job;

	if (!mps_apf_str_eq(type, MPS_APF_CHAN_DIRECT_TCPIP)) {
		mps_log(MPS_LOG_WARNING, "Intel remote client %s: channel type "
		    "\"%.*s\" refused", mps_session_name(s, name, sizeof(name)),
		    (int)(type.len > 32 ? 32 : type.len), type.ptr);
		refuse_open(s, m->u.channel_open.sender,
		    MPS_CHAN_OPEN_UNKNOWN_CHANNEL_TYPE);
		return;
	}
	if (addr.len == 0 || addr.len >= sizeof(host) ||
	    memchr(addr.ptr, '\0', addr.len) != NULL || port == 0 ||
	    port > 65535) {
		mps_log(MPS_LOG_WARNING, "Intel remote client %s: direct-tcpip "
		    "to an invalid address refused",
		    mps_session_name(s, name, sizeof(name)));
		refuse_open(s, m->u.channel_open.sender,
		    MPS_CHAN_OPEN_ADMINISTRATIVELY_PROHIBITED);
		return;
	}
	memcpy(host, addr.ptr, addr.len);
	host[addr.len] = '\0';
	if (side->consoles == NULL ||
	    !mps_filter_allows(side->cfg, side->authorized_servers, host,
	    (apr_port_t)port)) {
		mps_log(MPS_LOG_WARNING, "Intel remote client %s: direct-tcpip "
		    "connection to %s:%u refused: not in the authorized servers "
		    "list", mps_session_name(s, name, sizeof(name)), host,
		    (unsigned)port);
		refuse_open(s, m->u.channel_open.sender,
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
		start_connect(s, m->u.channel_open.sender,
		    m->u.channel_open.window, host, (apr_port_t)port,
		    res->ai_addr, res->ai_addrlen);
		freeaddrinfo(res);
		return;
	}
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		refuse_open(s, m->u.channel_open.sender,
		    MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
		return;
	}
	job->s = s;
	job->dev = s->dev;
	mps_device_retain(job->dev);
	job->device_id = m->u.channel_open.sender;
	job->device_window = m->u.channel_open.window;
	snprintf(job->host, sizeof(job->host), "%s", host);
	job->port = (apr_port_t)port;
	if (mps_workers_push_ex(side->workers, MPS_LANE_BLOCKING, resolve_run,
	    resolve_discard, job) != APR_SUCCESS) {
		resolve_discard(job);
		refuse_open(s, m->u.channel_open.sender,
		    MPS_CHAN_OPEN_RESOURCE_SHORTAGE);
	}
}
