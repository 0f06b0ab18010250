/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_device.c: one simulated AMT device's connection to the MPS.
 *
 * Life of a device (APF.md "A session, in order"):
 *
 *   IDLE -> CONNECTING -> HANDSHAKE (TLS only)
 *     -> PROTOCOLVERSION + SERVICE_REQUEST auth@   WAIT_AUTH_ACCEPT
 *     -> USERAUTH_REQUEST                          WAIT_USERAUTH
 *     -> SERVICE_REQUEST pfwd@                     WAIT_PFWD_ACCEPT
 *     -> tcpip-forward, one port at a time         FORWARDING
 *     -> READY (keepalives, channels)
 *   any -> CLOSING (our DISCONNECT flushed, close_notify, FIN, wait for
 *          the server's EOF a moment) -> DONE
 *
 * A misbehaving device leaves this path where its mode says, queues its
 * bad bytes and waits in REJECT_WAIT for the server to react; the
 * report says what the server answered and whether it closed.
 *
 * I/O is non-blocking on a level-triggered epoll. Every event runs
 * pump(): write what is queued, read and handle what arrived, write the
 * answers, then rearm() recomputes the epoll interest and the device's
 * single timer-heap entry from its state. OpenSSL's cross-direction
 * wants (SSL_read needing to write, SSL_write needing to read) are kept
 * as flags that rearm() turns into interest.
 *
 * Push-back: the device stops handling input (and its channels stop
 * reading their targets) while more than SIM_OUT_HIGH_WATER bytes wait
 * to be written to the MPS, so a slow MPS slows the simulator instead of
 * growing its buffers.
 */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "mps_status.h"

#define IO_AGAIN	(-1)
#define IO_ERROR	(-2)

/* The failed call's reason (a static string) for the caller's report. */
static const char *io_error;

static void pump(sim_device *);
static void rearm(sim_device *);
static void drive(sim_device *);

static const char *
errno_token(int e)
{
	const char *name = strerrorname_np(e);

	return name != NULL ? name : "os-error";
}

static uint64_t
after_ms(uint32_t ms)
{
	return ms == 0 ? 0 : sim_g.now + ms;
}

static size_t
in_max_size(void)
{
	size_t frame = MPS_APF_CHANNEL_DATA_HDR_LEN + (size_t)(sim_opt.window <
	    MPS_APF_MAX_DATA ? sim_opt.window : MPS_APF_MAX_DATA);

	/*
	 * One whole message must fit: CHANNEL_DATA up to the window we
	 * advertise (the codec caps one at MPS_APF_MAX_DATA), or the longest control message the MPS may send (a
	 * CHANNEL_OPEN with two 2048-byte addresses). One read's worth on
	 * top, so that a full message never blocks the read it ends in.
	 */
	if (frame < 8192)
		frame = 8192;
	return frame + SIM_READ_CHUNK;
}

void
sim_device_init(sim_device *d, uint32_t slot)
{
	memset(d, 0, sizeof(*d));
	d->io.fd = -1;
	d->io.kind = SIM_IO_DEVICE;
	d->index = sim_opt.first_index + slot;
	d->disc_received = d->disc_sent = -1;
	if (sim_opt.misbehave != SIM_MB_NONE &&
	    (sim_opt.misbehave_device < 0 ||
	    sim_opt.misbehave_device == (int64_t)d->index))
		d->misbehave = (uint8_t)sim_opt.misbehave;
	mps_buf_init(&d->in, in_max_size());
	mps_buf_init(&d->out, SIM_OUT_MAX);
}

size_t
sim_device_out_room(const sim_device *d)
{
	/* Gathered records (see flush) are queued too: the socket has not
	 * taken them. */
	size_t len = mps_buf_len(&d->out) + (d->gather != NULL ?
	    (size_t)BIO_wpending(d->gather) : 0);

	return len < SIM_OUT_HIGH_WATER ? SIM_OUT_HIGH_WATER - len : 0;
}

static void
settle(sim_device *d)
{
	if (!d->settled) {
		d->settled = 1;
		sim_g.c.settled++;
	}
}

/* ---- Reporting the end ---- */

static const char *
state_name(unsigned s)
{
	static const char *const names[] = {
		"idle", "connecting", "handshake", "wait-auth-accept",
		"wait-userauth", "wait-pfwd-accept", "forwarding", "ready",
		"reject-wait", "closing", "done"
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* Copies s with spaces made dashes: report lines are space-separated. */
static const char *
token(const char *s, char *buf, size_t size)
{
	size_t i;

	if (s == NULL)
		s = "none";
	for (i = 0; i + 1 < size && s[i] != '\0'; i++)
		buf[i] = s[i] == ' ' ? '-' : s[i];
	buf[i] = '\0';
	return buf;
}

static const char *
classify(const sim_device *d)
{
	if (d->misbehave != SIM_MB_NONE) {
		/* Rejected means closed: a DISCONNECT alone, with the
		 * socket left open, is not enough. */
		if (d->tcp_closer == SIM_BY_SERVER) {
			sim_g.c.rejected++;
			return "rejected";
		}
		sim_g.c.failed++;
		return "failed";
	}
	if (d->bad || !d->ready) {
		sim_g.c.failed++;
		return "failed";
	}
	if (d->closer == SIM_BY_SERVER) {
		sim_g.c.dropped++;
		return "dropped";
	}
	sim_g.c.ok++;
	return "ok";
}

static void
report_end(const sim_device *d, unsigned last_state)
{
	char err[128], rcvd[16], sent[16];
	const char *outcome;

	if (!d->connected) {
		sim_g.c.failed++;
		sim_dev_say(d, 1, "%s error=%s ms=%llu", last_state ==
		    DS_HANDSHAKE ? "tls-failed" : "connect-failed",
		    token(d->error, err, sizeof(err)),
		    (unsigned long long)(sim_g.now - d->t_start));
		return;
	}
	outcome = classify(d);
	if (d->disc_received >= 0)
		(void)snprintf(rcvd, sizeof(rcvd), "%d", d->disc_received);
	else
		(void)snprintf(rcvd, sizeof(rcvd), "none");
	if (d->disc_sent >= 0)
		(void)snprintf(sent, sizeof(sent), "%d", d->disc_sent);
	else
		(void)snprintf(sent, sizeof(sent), "none");
	sim_dev_say(d, strcmp(outcome, "failed") == 0,
	    "disconnected reason=%s sent=%s by=%s closed=%s error=%s state=%s "
	    "outcome=%s ms=%llu", rcvd, sent,
	    d->closer == SIM_BY_SERVER ? "server" : "self",
	    d->tcp_closer == SIM_BY_SERVER ? "server" : "self",
	    token(d->error, err, sizeof(err)), state_name(last_state), outcome,
	    (unsigned long long)(sim_g.now - d->t_start));
}

/*
 * The connection is over: release everything, count and report. The
 * device struct itself stays (DS_DONE) so stale epoll events of this
 * batch find a finished device, never freed memory. `closer` is
 * SIM_BY_SERVER when the server's EOF or reset ends it, SIM_BY_SELF when
 * we close.
 */
static void
finalize(sim_device *d, sim_closer closer, const char *error)
{
	unsigned last_state;

	if (d->state == DS_DONE)
		return;
	if (d->state != DS_CLOSING)
		d->end_state = d->state;
	last_state = d->end_state;
	if (d->closer == SIM_BY_NONE)
		d->closer = (uint8_t)closer;
	if (d->tcp_closer == SIM_BY_NONE)
		d->tcp_closer = (uint8_t)closer;
	if (d->error == NULL)
		d->error = error;
	sim_relay_abort_all(d);
	if (d->io.fd >= 0) {
		(void)sim_io_set(&d->io, 0);
		if (d->ssl != NULL)
			SSL_free(d->ssl);	/* and the gathering BIO */
		(void)close(d->io.fd);
		d->io.fd = -1;
		d->io.events = 0;
	}
	d->ssl = NULL;
	d->gather = NULL;
	ERR_clear_error();
	mps_buf_free(&d->in);
	mps_buf_free(&d->out);
	sim_heap_set(d, 0);
	d->state = DS_DONE;
	sim_g.c.active--;
	report_end(d, last_state);
	settle(d);
	/* --reconnect: a device that lost its MPS (dropped, refused, or
	 * never connected) tries again, as firmware does; one that ended
	 * by its own choice or misbehaved does not. It stays active, so
	 * the run waits for it. */
	if (sim_opt.reconnect_ms != 0 && !sim_g.shutting_down &&
	    d->misbehave == SIM_MB_NONE &&
	    (!d->connected || d->closer == SIM_BY_SERVER)) {
		d->reconnect = 1;
		sim_g.c.active++;
		sim_heap_set(d, sim_g.now + sim_opt.reconnect_ms);
		sim_dev_say(d, 0, "reconnect-in ms=%u", sim_opt.reconnect_ms);
	}
}

/*
 * We end the session: queue DISCONNECT (send_reason >= 0) unless the
 * device misbehaves (its queue may hold half a message, after which a
 * DISCONNECT would mean nothing), drop the channels, then CLOSING.
 */
static void
begin_close(sim_device *d, int send_reason, const char *error)
{
	if (d->state >= DS_CLOSING)
		return;
	if (d->closer == SIM_BY_NONE)
		d->closer = SIM_BY_SELF;
	if (d->error == NULL)
		d->error = error;
	if (!d->connected) {
		finalize(d, SIM_BY_SELF, error);
		return;
	}
	d->end_state = d->state;
	sim_relay_abort_all(d);
	if (d->misbehave != SIM_MB_NONE)
		mps_buf_reset(&d->out);
	else if (send_reason >= 0 && mps_apf_encode_disconnect(&d->out,
	    (uint32_t)send_reason) == APR_SUCCESS)
		d->disc_sent = send_reason;
	d->state = DS_CLOSING;
	d->next_keepalive = 0;
	d->deadline = sim_g.now + SIM_CLOSE_GRACE_MS;
}

void
sim_device_protocol_error(sim_device *d, const char *what)
{
	if (d->state >= DS_CLOSING)
		return;
	sim_dev_say(d, 1, "protocol-error what=%s state=%s", what,
	    state_name(d->state));
	d->bad = 1;
	begin_close(d, MPS_APF_DISCONNECT_PROTOCOL_ERROR, "protocol-error");
}

void
sim_device_fail(sim_device *d, const char *what)
{
	if (d->state >= DS_CLOSING)
		return;
	sim_dev_say(d, 1, "%s state=%s", what, state_name(d->state));
	d->bad = 1;
	begin_close(d, -1, what);
}

int
sim_device_local_addr(const sim_device *d, char *addr, size_t size,
    uint32_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *ip = NULL;

	(void)snprintf(addr, size, "0.0.0.0");
	*port = 0;
	if (d->io.fd < 0 || getsockname(d->io.fd, (struct sockaddr *)&ss,
	    &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET) {
		ip = &((const struct sockaddr_in *)&ss)->sin_addr;
		*port = ntohs(((const struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		ip = &((const struct sockaddr_in6 *)&ss)->sin6_addr;
		*port = ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
	}
	if (ip == NULL || inet_ntop(ss.ss_family, ip, addr,
	    (socklen_t)size) == NULL) {
		(void)snprintf(addr, size, "0.0.0.0");
		*port = 0;
		return -1;
	}
	return 0;
}

int
sim_device_queued(sim_device *d, apr_status_t rv, unsigned type)
{
	const char *name = mps_apf_msg_name(type);

	if (rv == APR_SUCCESS) {
		if (sim_opt.verbose)
			sim_dev_say(d, 0, "send %s", name != NULL ? name : "?");
		return 0;
	}
	sim_dev_say(d, 1, "encode-failed message=%s error=%s",
	    name != NULL ? name : "?", sim_status_token(rv));
	d->bad = 1;
	begin_close(d, -1, "encode-failed");
	return -1;
}

/* The server ended the connection (EOF, reset, TLS alert). */
static void
server_closed(sim_device *d, const char *error)
{
	finalize(d, SIM_BY_SERVER, error);
}

/* ---- Byte I/O over TLS or plain TCP ---- */

static ssize_t
ssl_failure(sim_device *d, int rc, int is_read)
{
	int e = SSL_get_error(d->ssl, rc);
	unsigned long err;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		if (is_read)
			d->read_wants_write = 0;
		else
			d->write_wants_read = 1;
		return IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		if (is_read)
			d->read_wants_write = 1;
		else
			d->write_wants_read = 0;
		return IO_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a bare EOF */
		io_error = "eof";
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			io_error = errno != 0 ? errno_token(errno) : "eof";
			return errno != 0 ? IO_ERROR : 0;
		}
		/* FALLTHROUGH */
	default:
		err = ERR_peek_error();
		io_error = ERR_reason_error_string(err);
		if (io_error == NULL)
			io_error = "tls-error";
		ERR_clear_error();
		return IO_ERROR;
	}
}

/* > 0 bytes, 0 at EOF, IO_AGAIN, or IO_ERROR with io_error set. */
static ssize_t
conn_read(sim_device *d, void *p, size_t n)
{
	ssize_t r;
	int rc;

	if (d->ssl != NULL) {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_read(d->ssl, p, (int)n)) > 0) {
			d->read_wants_write = 0;
			return rc;
		}
		return ssl_failure(d, rc, 1);
	}
	r = recv(d->io.fd, p, n, 0);
	if (r >= 0) {
		io_error = "eof";
		return r;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return IO_AGAIN;
	io_error = errno_token(errno);
	return IO_ERROR;
}

/* > 0 bytes, IO_AGAIN, or IO_ERROR (EOF included) with io_error set. */
static ssize_t
conn_write(sim_device *d, const void *p, size_t n)
{
	ssize_t r;
	int rc;

	if (d->ssl != NULL) {
		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_write(d->ssl, p, (int)n)) > 0) {
			d->write_wants_read = 0;
			return rc;
		}
		r = ssl_failure(d, rc, 0);
		return r == 0 ? IO_ERROR : r;
	}
	r = send(d->io.fd, p, n, MSG_NOSIGNAL);
	if (r > 0)
		return r;
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return IO_AGAIN;
	io_error = r == -1 ? errno_token(errno) : "short-write";
	return IO_ERROR;
}

/* ---- The end of a connection ---- */

/*
 * CLOSING with nothing left to write: close_notify (retried on
 * WANT_WRITE), then FIN; the server's EOF (or the grace deadline) then
 * finishes the device.
 */
static void
shut_down(sim_device *d)
{
	int rc, e;

	if (d->shut == 2)
		return;
	if (d->ssl != NULL) {
		ERR_clear_error();
		if ((rc = SSL_shutdown(d->ssl)) < 0) {
			e = SSL_get_error(d->ssl, rc);
			if (e == SSL_ERROR_WANT_WRITE ||
			    e == SSL_ERROR_WANT_READ) {
				d->shut = 1;
				d->hs_wants_write = e == SSL_ERROR_WANT_WRITE;
				return;
			}
			ERR_clear_error();
		}
	}
	(void)shutdown(d->io.fd, SHUT_WR);
	d->shut = 2;
	if (d->tcp_closer == SIM_BY_NONE)
		d->tcp_closer = SIM_BY_SELF;
}

/* ---- Output ---- */

static int
trickle_due(const sim_device *d)
{
	return d->misbehave != SIM_MB_SLOWLORIS || d->state == DS_CLOSING ||
	    sim_g.now >= d->next_trickle;
}

/*
 * Bulk data (more than one TLS record queued): from then on the device's
 * records are gathered in OpenSSL's buffering BIO under the SSL and
 * written by one write() per flush (as mpsd does for a busy tunnel), not
 * one write() per 16 KiB record. Kept until the device ends (a
 * simulator's bulk devices are few). 0 if it could not be set up (then
 * records go one by one, as before).
 */
#define SIM_GATHER_BYTES (256 * 1024)

static void
gather_start(sim_device *d)
{
	BIO *sock = SSL_get_wbio(d->ssl), *buf;

	if (sock == NULL || (buf = BIO_new(BIO_f_buffer())) == NULL)
		return;
	if (BIO_set_write_buffer_size(buf, SIM_GATHER_BYTES) <= 0 ||
	    !BIO_up_ref(sock)) {
		BIO_free(buf);
		ERR_clear_error();
		return;
	}
	(void)BIO_push(buf, sock);
	SSL_set0_wbio(d->ssl, buf);
	d->gather = buf;
}

/* Writes the gathered records: 1 done, 0 the socket is full, -1 error
 * (io_error set). */
static int
gather_flush(sim_device *d)
{
	if (d->gather == NULL || BIO_wpending(d->gather) == 0)
		return 1;
	errno = 0;
	if (BIO_flush(d->gather) > 0)
		return 1;
	if (BIO_should_retry(d->gather))
		return 0;
	ERR_clear_error();
	io_error = errno != 0 ? errno_token(errno) : "write-failed";
	return -1;
}

static void
flush(sim_device *d)
{
	size_t len, n;
	ssize_t w;
	int g;

	if (!d->connected || d->state == DS_DONE || d->shut != 0)
		return;
	if (d->ssl != NULL && d->gather == NULL && d->state == DS_READY &&
	    d->misbehave != SIM_MB_SLOWLORIS &&
	    mps_buf_len(&d->out) > SSL3_RT_MAX_PLAIN_LENGTH)
		gather_start(d);
	while ((len = mps_buf_len(&d->out)) > 0) {
		if (!trickle_due(d))
			return;
		/* All of it in one call: OpenSSL cuts it into full
		 * records (partial writes tell how far it got). */
		n = len < INT_MAX ? len : INT_MAX;
		/* slowloris: one byte (one TLS record) per second. */
		if (d->misbehave == SIM_MB_SLOWLORIS && d->state != DS_CLOSING)
			n = 1;
		w = conn_write(d, mps_buf_ptr(&d->out), n);
		if (w == IO_AGAIN)
			return;
		if (w < 0) {
			server_closed(d, io_error);
			return;
		}
		(void)mps_buf_consume(&d->out, (size_t)w);
		if (d->misbehave == SIM_MB_SLOWLORIS)
			d->next_trickle = sim_g.now + 1000;
	}
	if ((g = gather_flush(d)) <= 0) {
		if (g < 0)
			server_closed(d, io_error);
		return;		/* the rest at EPOLLOUT (rearm) */
	}
	if (d->state == DS_CLOSING)
		shut_down(d);
}

/* ---- Sending the session's messages ---- */

static int
queue_protocolversion(sim_device *d, uint32_t major)
{
	uint8_t uuid[MPS_APF_UUID_LEN];

	sim_device_uuid(d, uuid);
	return sim_device_queued(d, mps_apf_encode_protocolversion(&d->out,
	    major, 0, sim_opt.trigger, uuid), MPS_APF_PROTOCOLVERSION);
}

static int
queue_service_request(sim_device *d, const char *service)
{
	return sim_device_queued(d, mps_apf_encode_service_request(&d->out,
	    mps_apf_cstr(service)), MPS_APF_SERVICE_REQUEST);
}

static int
queue_userauth(sim_device *d)
{
	apr_status_t rv;

	if (sim_opt.auth_none)
		rv = mps_apf_encode_userauth_request_none(&d->out,
		    mps_apf_cstr(sim_opt.user),
		    mps_apf_cstr(MPS_APF_SERVICE_PFWD));
	else
		rv = mps_apf_encode_userauth_request_password(&d->out,
		    mps_apf_cstr(sim_opt.user),
		    mps_apf_cstr(MPS_APF_SERVICE_PFWD),
		    mps_apf_cstr(sim_opt.pass));
	return sim_device_queued(d, rv, MPS_APF_USERAUTH_REQUEST);
}

static int
queue_forward(sim_device *d, uint32_t port)
{
	char fqdn[SIM_FQDN_MAX];

	sim_device_fqdn(d, fqdn);
	/* --forward-no-reply asks for no reply, and still waits for one. */
	return sim_device_queued(d, mps_apf_encode_tcpip_forward(&d->out,
	    !sim_opt.forward_no_reply, mps_apf_cstr(fqdn), port),
	    MPS_APF_GLOBAL_REQUEST);
}

static void
expect_reply(sim_device *d, sim_dev_state state)
{
	d->state = (uint8_t)state;
	d->deadline = after_ms(sim_opt.reply_timeout_ms);
}

static void
send_keepalive(sim_device *d)
{
	if (d->ka_outstanding) {
		sim_g.c.keepalive_missed++;
		sim_dev_say(d, 1, "keepalive-missed cookie=%u", d->ka_cookie);
	}
	d->ka_cookie++;
	if (sim_device_queued(d, mps_apf_encode_keepalive_request(&d->out,
	    d->ka_cookie), MPS_APF_KEEPALIVE_REQUEST) != 0)
		return;
	d->ka_outstanding = 1;
	d->next_keepalive = sim_g.now + (uint64_t)d->ka_interval * 1000;
}

static void
start_keepalives(sim_device *d, uint32_t interval)
{
	d->ka_interval = interval;
	d->next_keepalive = interval != 0 ?
	    sim_g.now + (uint64_t)interval * 1000 : 0;
}

/* The next tcpip-forward, or READY when every port has been answered. */
static void
next_forward(sim_device *d)
{
	if (d->next_port < sim_opt.nports) {
		if (queue_forward(d, sim_opt.ports[d->next_port]) == 0)
			expect_reply(d, DS_FORWARDING);
		return;
	}
	d->state = DS_READY;
	d->deadline = 0;
	if (!d->bad) {
		d->ready = 1;
		sim_g.c.forwarded++;
	}
	sim_dev_say(d, 0, "ready forwards=%u", sim_opt.nports);
	if (sim_opt.cancel_port != 0) {
		char fqdn[SIM_FQDN_MAX];

		/* Its reply (a bare REQUEST_SUCCESS) is awaited first: it
		 * answers the oldest request, before any PET sent later. */
		sim_device_fqdn(d, fqdn);
		if (sim_device_queued(d, mps_apf_encode_cancel_tcpip_forward(
		    &d->out, !sim_opt.forward_no_reply, mps_apf_cstr(fqdn),
		    sim_opt.cancel_port), MPS_APF_GLOBAL_REQUEST) != 0)
			return;
		sim_dev_say(d, 0, "cancelled %u", sim_opt.cancel_port);
		d->cancel_pending = 1;
		d->deadline = after_ms(sim_opt.reply_timeout_ms);
	}
	settle(d);
	if (d->ka_interval == 0 && sim_opt.keepalive_s != 0)
		start_keepalives(d, sim_opt.keepalive_s);
	else if (d->ka_interval != 0 && d->next_keepalive == 0)
		/* --forward-no-reply: the options came while forwarding. */
		start_keepalives(d, d->ka_interval);
	/* Last: the actions may close the device (out of memory). */
	sim_actions_schedule(d);
}

/* ---- Misbehaviour ---- */

void
sim_device_misbehaved(sim_device *d, const char *detail)
{
	sim_dev_say(d, 0, "misbehaved mode=%s%s%s",
	    sim_misbehave_name((sim_misbehave)d->misbehave),
	    detail != NULL ? " " : "", detail != NULL ? detail : "");
	d->mb_sent = 1;
	d->state = DS_REJECT_WAIT;
	d->next_keepalive = 0;
	d->deadline = after_ms(sim_opt.reply_timeout_ms);
	settle(d);
}

static uint32_t
xorshift(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static void
queue_garbage(sim_device *d)
{
	uint8_t junk[64];
	uint32_t s = (sim_opt.seed ^ (d->index * 2654435761u)) | 1;
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)xorshift(&s);
	/* The first byte must not be an APF type, or the "garbage" could
	 * frame as a valid prefix the server rightly waits on. */
	if (junk[0] == 0 || mps_apf_msg_name(junk[0]) != NULL)
		junk[0] = 0xff;
	if (sim_device_queued(d, mps_buf_put(&d->out, junk, sizeof(junk)),
	    junk[0]) == 0)
		sim_device_misbehaved(d, "bytes=64");
}

static void
queue_truncated_version(sim_device *d)
{
	uint8_t uuid[MPS_APF_UUID_LEN];
	mps_buf_t tmp;
	apr_status_t rv;
	const size_t half = MPS_APF_PROTOCOLVERSION_LEN / 2;

	sim_device_uuid(d, uuid);
	mps_buf_init(&tmp, MPS_APF_PROTOCOLVERSION_LEN);
	rv = mps_apf_encode_protocolversion(&tmp, 1, 0, sim_opt.trigger, uuid);
	if (rv == APR_SUCCESS)
		rv = mps_buf_put(&d->out, mps_buf_ptr(&tmp), half);
	mps_buf_free(&tmp);
	if (sim_device_queued(d, rv, MPS_APF_PROTOCOLVERSION) == 0)
		sim_device_misbehaved(d, "bytes=46");
}

/* SERVICE_REQUEST whose string claims 0x7fffffff bytes. */
static void
queue_oversize(sim_device *d)
{
	static const char svc[] = MPS_APF_SERVICE_AUTH;
	apr_status_t rv;

	if (queue_protocolversion(d, 1) != 0)
		return;
	if ((rv = mps_buf_put_u8(&d->out, MPS_APF_SERVICE_REQUEST)) ==
	    APR_SUCCESS && (rv = mps_buf_put_u32(&d->out, 0x7fffffffu)) ==
	    APR_SUCCESS)
		rv = mps_buf_put(&d->out, svc, sizeof(svc) - 1);
	if (sim_device_queued(d, rv, MPS_APF_SERVICE_REQUEST) == 0)
		sim_device_misbehaved(d, "length=0x7fffffff");
}

/* PROTOCOLVERSION, then a message of type 0x77 (no such APF type). */
static void
queue_unknown_type(sim_device *d)
{
	static const uint8_t msg[] = { 0x77, 0, 0, 0, 4, 'j', 'u', 'n', 'k' };

	if (queue_protocolversion(d, 1) != 0)
		return;
	if (sim_device_queued(d, mps_buf_put(&d->out, msg, sizeof(msg)),
	    0x77) == 0)
		sim_device_misbehaved(d, "type=0x77");
}

/*
 * The modes that break the session's very start. Returns 1 when the
 * mode took over (the normal start must not run).
 */
static int
misbehave_at_start(sim_device *d)
{
	switch (d->misbehave) {
	case SIM_MB_STALL:
		sim_device_misbehaved(d, NULL);
		return 1;
	case SIM_MB_GARBAGE:
		queue_garbage(d);
		return 1;
	case SIM_MB_TRUNCATE:
		queue_truncated_version(d);
		return 1;
	case SIM_MB_OVERSIZE:
		queue_oversize(d);
		return 1;
	case SIM_MB_UNKNOWN_TYPE:
		queue_unknown_type(d);
		return 1;
	case SIM_MB_BADVERSION:
		/* Firmware does not wait after PROTOCOLVERSION: the service
		 * request follows at once, as it would. */
		if (queue_protocolversion(d, 2) == 0 &&
		    queue_service_request(d, MPS_APF_SERVICE_AUTH) == 0)
			sim_device_misbehaved(d, "major=2");
		return 1;
	case SIM_MB_REORDER:
		if (queue_protocolversion(d, 1) == 0 &&
		    queue_userauth(d) == 0 &&
		    queue_service_request(d, MPS_APF_SERVICE_AUTH) == 0)
			sim_device_misbehaved(d, "userauth-before-service");
		return 1;
	case SIM_MB_SLOWLORIS:
		/* The normal session, written one byte a second by flush(). */
		sim_dev_say(d, 0,
		    "misbehaved mode=slowloris bytes-per-second=1");
		d->next_trickle = sim_g.now;
		settle(d);
		return 0;
	default:
		return 0;
	}
}

/* ---- Session start ---- */

static void
established(sim_device *d)
{
	uint8_t uuid[MPS_APF_UUID_LEN];
	char text[MPS_APF_UUID_TEXT_SIZE], fqdn[SIM_FQDN_MAX];
	const char *version = "plain", *cipher = "none";

	d->connected = 1;
	d->deadline = 0;
	sim_g.c.connected++;
	sim_device_uuid(d, uuid);
	mps_apf_uuid_to_text(uuid, text);
	sim_device_fqdn(d, fqdn);
	if (d->ssl != NULL) {
		version = SSL_get_version(d->ssl);
		cipher = SSL_get_cipher_name(d->ssl);
	}
	sim_dev_say(d, 0, "uuid=%s connected fqdn=%s tls=%s cipher=%s", text,
	    fqdn[0] != '\0' ? fqdn : "-", version, cipher);
	if (misbehave_at_start(d))
		return;
	/* PROTOCOLVERSION needs no answer: auth@ follows at once. */
	if (queue_protocolversion(d, 1) == 0 &&
	    queue_service_request(d, MPS_APF_SERVICE_AUTH) == 0)
		expect_reply(d, DS_WAIT_AUTH_ACCEPT);
}

static void
handshake(sim_device *d)
{
	char err[200];
	long vr;
	int rc, e;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_connect(d->ssl)) == 1) {
		if (sim_tls_check_name(d->ssl, err, sizeof(err)) != 0) {
			/* Static tokens only: d->error outlives err. */
			finalize(d, SIM_BY_SELF, "server-name-mismatch");
			return;
		}
		established(d);
		return;
	}
	e = SSL_get_error(d->ssl, rc);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		d->hs_wants_write = e == SSL_ERROR_WANT_WRITE;
		return;
	}
	/* A chain or name failure says which, not just "verify failed". */
	if ((vr = SSL_get_verify_result(d->ssl)) != X509_V_OK) {
		ERR_clear_error();
		finalize(d, SIM_BY_SELF, X509_verify_cert_error_string(vr));
		return;
	}
	(void)ssl_failure(d, rc, 1);
	finalize(d, SIM_BY_SERVER, io_error);
}

static void
tcp_connected(sim_device *d)
{
	if (sim_g.ssl_ctx == NULL) {
		established(d);
		return;
	}
	if ((d->ssl = SSL_new(sim_g.ssl_ctx)) == NULL ||
	    SSL_set_fd(d->ssl, d->io.fd) != 1) {
		ERR_clear_error();
		finalize(d, SIM_BY_SELF, "SSL_new-failed");
		return;
	}
	/* No SSL_set_tlsext_host_name(): AMT sends no SNI. */
	SSL_set_connect_state(d->ssl);
	d->state = DS_HANDSHAKE;
	handshake(d);
}

static int
set_socket_options(int fd)
{
	int one = 1;

	/* APF control messages are small and answered one by one. */
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
sim_device_start(sim_device *d)
{
	int fd;

	sim_g.c.started++;
	sim_g.c.active++;
	d->t_start = sim_g.now;
	d->state = DS_CONNECTING;
	d->deadline = after_ms(sim_opt.connect_timeout_ms);
	fd = socket(sim_opt.server.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		finalize(d, SIM_BY_SELF, errno_token(errno));
		return;
	}
	d->io.fd = fd;
	if (set_socket_options(fd) == -1 ||
	    (sim_opt.source.ss_family != 0 && bind(fd,
	    (const struct sockaddr *)&sim_opt.source, sim_opt.source_len) ==
	    -1)) {
		finalize(d, SIM_BY_SELF, errno_token(errno));
		return;
	}
	if (connect(fd, (const struct sockaddr *)&sim_opt.server,
	    sim_opt.server_len) == 0) {
		tcp_connected(d);
		drive(d);
		return;
	}
	if (errno != EINPROGRESS) {
		finalize(d, SIM_BY_SELF, errno_token(errno));
		return;
	}
	rearm(d);
}

/* ---- Handling what the MPS sends ---- */

static void
on_service_accept(sim_device *d, const mps_apf_msg_t *m)
{
	mps_apf_str_t s = m->u.service.service;

	if (d->state == DS_WAIT_AUTH_ACCEPT &&
	    mps_apf_str_eq(s, MPS_APF_SERVICE_AUTH)) {
		if (queue_userauth(d) == 0)
			expect_reply(d, DS_WAIT_USERAUTH);
	} else if (d->state == DS_WAIT_PFWD_ACCEPT &&
	    mps_apf_str_eq(s, MPS_APF_SERVICE_PFWD)) {
		d->next_port = 0;
		next_forward(d);
	} else
		sim_device_protocol_error(d, "unexpected-SERVICE_ACCEPT");
}

static void
on_userauth_success(sim_device *d)
{
	if (d->state != DS_WAIT_USERAUTH) {
		sim_device_protocol_error(d, "unexpected-USERAUTH_SUCCESS");
		return;
	}
	d->authenticated = 1;
	sim_g.c.authenticated++;
	sim_dev_say(d, 0, "authenticated");
	if (d->misbehave == SIM_MB_REORDER_FORWARD) {
		if (sim_opt.nports > 0 &&
		    queue_forward(d, sim_opt.ports[0]) == 0)
			sim_device_misbehaved(d, "forward-before-pfwd");
		else if (sim_opt.nports == 0 && queue_forward(d, 16992) == 0)
			sim_device_misbehaved(d, "forward-before-pfwd");
		return;
	}
	if (queue_service_request(d, MPS_APF_SERVICE_PFWD) == 0)
		expect_reply(d, DS_WAIT_PFWD_ACCEPT);
}

static void
on_userauth_failure(sim_device *d, const mps_apf_msg_t *m)
{
	if (d->state != DS_WAIT_USERAUTH) {
		sim_device_protocol_error(d, "unexpected-USERAUTH_FAILURE");
		return;
	}
	sim_g.c.auth_failed++;
	sim_dev_say(d, 1, "auth-failed methods=%.*s",
	    (int)m->u.userauth_failure.methods.len,
	    m->u.userauth_failure.methods.ptr);
	d->bad = 1;
	begin_close(d, MPS_APF_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE,
	    "auth-failed");
}

static void
on_request_reply(sim_device *d, const mps_apf_msg_t *m)
{
	uint32_t port;

	/* Once ready: the cancel's reply first (sent before any PET), then
	 * the udp-send-to requests' replies. */
	if (d->state == DS_READY && d->cancel_pending) {
		d->cancel_pending = 0;
		d->deadline = 0;
		sim_dev_say(d, m->type != MPS_APF_REQUEST_SUCCESS, "%s %u",
		    m->type == MPS_APF_REQUEST_SUCCESS ? "cancel-ok" :
		    "cancel-failed", sim_opt.cancel_port);
		return;
	}
	if (d->state != DS_FORWARDING && sim_actions_on_reply(d, m) == 0)
		return;
	if (d->state != DS_FORWARDING) {
		sim_device_protocol_error(d,
		    m->type == MPS_APF_REQUEST_SUCCESS ?
		    "unexpected-REQUEST_SUCCESS" :
		    "unexpected-REQUEST_FAILURE");
		return;
	}
	port = sim_opt.ports[d->next_port];
	if (m->type == MPS_APF_REQUEST_FAILURE) {
		sim_dev_say(d, 1, "forward-failed %u", port);
		d->bad = 1;
	} else if (!m->u.request_success.has_port ||
	    m->u.request_success.port != port) {
		sim_device_protocol_error(d, "forward-reply-port-mismatch");
		return;
	} else
		sim_dev_say(d, 0, "forwarded %u", port);
	d->next_port++;
	next_forward(d);
}

static void
on_keepalive_options(sim_device *d, const mps_apf_msg_t *m)
{
	uint32_t interval = m->u.keepalive_options.interval;
	uint32_t timeout = m->u.keepalive_options.timeout;

	sim_dev_say(d, 0, "keepalive-options interval=%u timeout=%u", interval,
	    timeout);
	if (sim_device_queued(d, mps_apf_encode_keepalive_options_reply(&d->out,
	    interval, timeout), MPS_APF_KEEPALIVE_OPTIONS_REPLY) != 0)
		return;
	/* That field client's keepalive loop starts after its forward loop:
	 * until every forward is answered the interval is only noted. */
	if (sim_opt.forward_no_reply && d->state != DS_READY) {
		d->ka_interval = interval;
		d->next_keepalive = 0;
		return;
	}
	start_keepalives(d, interval);
}

static void
on_keepalive_reply(sim_device *d, uint32_t cookie)
{
	if (d->ka_outstanding && cookie == d->ka_cookie) {
		d->ka_outstanding = 0;
		sim_g.c.keepalive_ok++;
		sim_dev_say(d, 0, "keepalive-ok cookie=%u", cookie);
		return;
	}
	sim_g.c.keepalive_mismatch++;
	if (d->ka_outstanding) {
		/* A reply came, a wrong one: counted once, not also as a
		 * missed reply at the next request. */
		d->ka_outstanding = 0;
		sim_dev_say(d, 1, "keepalive-mismatch cookie=%u expected=%u",
		    cookie, d->ka_cookie);
	} else
		sim_dev_say(d, 1, "keepalive-mismatch cookie=%u expected=none",
		    cookie);
}

static void
on_global_request(sim_device *d, const mps_apf_msg_t *m)
{
	/* An MPS has nothing to ask a device globally: refuse politely,
	 * as an SSH peer does with requests it does not know. */
	sim_dev_say(d, 1, "unexpected-global-request name=%.*s",
	    (int)m->u.global_request.name.len, m->u.global_request.name.ptr);
	if (m->u.global_request.want_reply)
		(void)sim_device_queued(d,
		    mps_apf_encode_request_failure(&d->out),
		    MPS_APF_REQUEST_FAILURE);
}

static int
channels_allowed(const sim_device *d)
{
	return d->state == DS_FORWARDING || d->state == DS_READY;
}

static void
trace_received(const sim_device *d, const mps_apf_msg_t *m)
{
	const char *name = mps_apf_msg_name(m->type);

	if (m->type == MPS_APF_DISCONNECT)
		sim_dev_say(d, 0, "recv DISCONNECT reason=%u",
		    m->u.disconnect.reason);
	else
		sim_dev_say(d, 0, "recv %s", name != NULL ? name : "?");
}

static void
on_disconnect(sim_device *d, const mps_apf_msg_t *m)
{
	d->disc_received = (int32_t)m->u.disconnect.reason;
	if (d->state >= DS_CLOSING)
		return;
	/*
	 * The server ends it: drop everything and write nothing more, not
	 * even a FIN, so that the report can tell whether the server also
	 * closed the connection (EOF within the grace time) or left it open.
	 */
	d->end_state = d->state;
	d->closer = SIM_BY_SERVER;
	d->error = "disconnect";
	sim_relay_abort_all(d);
	mps_buf_reset(&d->out);
	d->shut = 2;
	d->state = DS_CLOSING;
	d->next_keepalive = 0;
	d->deadline = sim_g.now + SIM_CLOSE_GRACE_MS;
}

static void
handle_message(sim_device *d, const mps_apf_msg_t *m)
{
	char what[64];

	if (sim_opt.verbose || d->state == DS_REJECT_WAIT)
		trace_received(d, m);
	if (m->type == MPS_APF_PAD) {
		/* Open AMT's extra 0 after USERAUTH_FAILURE. Once logged in
		 * a stray 0 means a malformed reply (a udp-send-to answered
		 * with tcpip-forward's 5-byte REQUEST_SUCCESS, say). */
		if (d->state == DS_FORWARDING || d->state == DS_READY)
			sim_device_protocol_error(d, "stray-zero-byte");
		return;
	}
	if (m->type == MPS_APF_DISCONNECT) {
		on_disconnect(d, m);
		return;
	}
	/* Closing or misbehaving: only DISCONNECT matters any more. */
	if (d->state >= DS_REJECT_WAIT)
		return;
	switch (m->type) {
	case MPS_APF_SERVICE_ACCEPT:
		on_service_accept(d, m);
		break;
	case MPS_APF_USERAUTH_SUCCESS:
		on_userauth_success(d);
		break;
	case MPS_APF_USERAUTH_FAILURE:
		on_userauth_failure(d, m);
		break;
	case MPS_APF_REQUEST_SUCCESS:
	case MPS_APF_REQUEST_FAILURE:
		on_request_reply(d, m);
		break;
	case MPS_APF_KEEPALIVE_OPTIONS_REQUEST:
		on_keepalive_options(d, m);
		break;
	case MPS_APF_KEEPALIVE_REQUEST:
		(void)sim_device_queued(d, mps_apf_encode_keepalive_reply(
		    &d->out, m->u.keepalive.cookie), MPS_APF_KEEPALIVE_REPLY);
		break;
	case MPS_APF_KEEPALIVE_REPLY:
		on_keepalive_reply(d, m->u.keepalive.cookie);
		break;
	case MPS_APF_GLOBAL_REQUEST:
		on_global_request(d, m);
		break;
	case MPS_APF_CHANNEL_OPEN:
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
	case MPS_APF_CHANNEL_OPEN_FAILURE:
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
	case MPS_APF_CHANNEL_DATA:
	case MPS_APF_CHANNEL_CLOSE:
		if (channels_allowed(d))
			sim_relay_on_message(d, m);
		else {
			(void)snprintf(what, sizeof(what),
			    "%s-before-forwarding", mps_apf_msg_name(m->type));
			sim_device_protocol_error(d, what);
		}
		break;
	default:
		/* What only a device sends: PROTOCOLVERSION, SERVICE_REQUEST,
		 * USERAUTH_REQUEST, KEEPALIVE_OPTIONS_REPLY. */
		(void)snprintf(what, sizeof(what), "unexpected-%s",
		    mps_apf_msg_name(m->type));
		sim_device_protocol_error(d, what);
		break;
	}
}

/* Under the high water mark, or closing (then input is only drained). */
static int
input_wanted(const sim_device *d)
{
	return d->state == DS_CLOSING ||
	    mps_buf_len(&d->out) < SIM_OUT_HIGH_WATER;
}

/*
 * Frames and handles every complete message in d->in. With the flags
 * the codec header prescribes for this side: a stray 0 byte is a PAD
 * message, and REQUEST_SUCCESS carries a port while a tcpip-forward is
 * the request being answered (the only want_reply request we send).
 */
static void
process_input(sim_device *d)
{
	mps_apf_msg_t m;
	apr_status_t rv;
	unsigned flags;
	size_t n;
	char what[96];

	while (d->state != DS_DONE && mps_buf_len(&d->in) > 0 &&
	    input_wanted(d)) {
		flags = MPS_APF_F_PAD;
		if (d->state == DS_FORWARDING)
			flags |= MPS_APF_F_SUCCESS_PORT;
		rv = mps_apf_frame_len_ex(mps_buf_ptr(&d->in),
		    mps_buf_len(&d->in), sim_opt.window, flags, &n);
		if (rv == MPS_NEED_MORE)
			return;
		if (rv == APR_SUCCESS)
			rv = mps_apf_decode_ex(mps_buf_ptr(&d->in), n,
			    MPS_APF_F_PAD, &m);
		if (rv != APR_SUCCESS) {
			uint32_t chan, len;

			/* frame_len caps CHANNEL_DATA at the window we
			 * advertise: name that violation for what it is. */
			if (rv == MPS_ERR_TOO_LARGE && mps_buf_ptr(&d->in)[0] ==
			    MPS_APF_CHANNEL_DATA &&
			    mps_buf_peek_u32(&d->in, 1, &chan) == APR_SUCCESS &&
			    mps_buf_peek_u32(&d->in, 5, &len) == APR_SUCCESS)
				(void)snprintf(what, sizeof(what),
				    "window-exceeded channel=%u len=%u "
				    "window=%u", chan, len, sim_opt.window);
			else
				(void)snprintf(what, sizeof(what),
				    "bad-message type=%u error=%s",
				    mps_buf_ptr(&d->in)[0],
				    sim_status_token(rv));
			mps_buf_reset(&d->in);
			sim_device_protocol_error(d, what);
			return;
		}
		handle_message(d, &m);
		if (d->state == DS_DONE)
			return;
		(void)mps_buf_consume(&d->in, n);
	}
}

/*
 * Reads go to one scratch buffer shared by every device (one thread),
 * and only the bytes that arrived are appended to the device's input:
 * an idle device, whose read ends in EAGAIN, then holds no storage at
 * all (a reserve-then-read would pin a whole chunk per idle device).
 */
static uint8_t scratch[SIM_READ_CHUNK];

static void
read_input(sim_device *d)
{
	size_t room;
	ssize_t r;

	process_input(d);
	while (d->state != DS_DONE && input_wanted(d)) {
		if ((room = mps_buf_avail(&d->in)) == 0) {
			/* frame_len refuses what cannot fit, so only a
			 * message the codec allows but we cannot hold (a
			 * udp-send-to) gets here. Closing: just drain. */
			if (d->state == DS_CLOSING) {
				mps_buf_reset(&d->in);
				continue;
			}
			sim_device_protocol_error(d, "message-too-large");
			mps_buf_reset(&d->in);
			return;
		}
		if (room > sizeof(scratch))
			room = sizeof(scratch);
		r = conn_read(d, scratch, room);
		if (r == IO_AGAIN)
			return;
		if (r <= 0) {
			server_closed(d, io_error);
			return;
		}
		if (mps_buf_put(&d->in, scratch, (size_t)r) != APR_SUCCESS) {
			d->bad = 1;
			begin_close(d, -1, "no-memory");
			return;
		}
		process_input(d);
	}
}

/* ---- Driving ---- */

static void
rearm(sim_device *d)
{
	uint32_t ev = 0;
	uint64_t when, t;

	switch (d->state) {
	case DS_IDLE:
	case DS_DONE:
		return;
	case DS_CONNECTING:
		ev = EPOLLOUT;
		break;
	case DS_HANDSHAKE:
		ev = d->hs_wants_write ? EPOLLOUT : EPOLLIN;
		break;
	default:
		if (d->shut == 1)
			ev |= d->hs_wants_write ? EPOLLOUT : EPOLLIN;
		if (input_wanted(d) || d->write_wants_read)
			ev |= EPOLLIN;
		if (d->read_wants_write || (d->shut == 0 &&
		    mps_buf_len(&d->out) > 0 && !d->write_wants_read &&
		    trickle_due(d)))
			ev |= EPOLLOUT;
		/* Gathered records the socket has not taken yet. */
		if (d->shut == 0 && d->gather != NULL &&
		    BIO_wpending(d->gather) > 0)
			ev |= EPOLLOUT;
		break;
	}
	if (sim_io_set(&d->io, ev) != 0) {
		finalize(d, SIM_BY_SELF, "epoll-failed");
		return;
	}
	when = d->deadline;
	if (d->next_keepalive != 0 && (when == 0 || d->next_keepalive < when))
		when = d->next_keepalive;
	if (d->state == DS_READY && d->next_action != 0 &&
	    (when == 0 || d->next_action < when))
		when = d->next_action;
	/* A due byte waits for EPOLLOUT, not for the timer. */
	if (d->misbehave == SIM_MB_SLOWLORIS && mps_buf_len(&d->out) > 0 &&
	    d->shut == 0 && d->next_trickle > sim_g.now &&
	    (when == 0 || d->next_trickle < when))
		when = d->next_trickle;
	t = sim_relay_next_deadline(d);
	if (t != 0 && (when == 0 || t < when))
		when = t;
	/* Anything already due is handled on the next pass, never in a
	 * loop within this one. */
	if (when != 0 && when <= sim_g.now)
		when = sim_g.now + 1;
	sim_heap_set(d, when);
}

static void
pump(sim_device *d)
{
	if (d->shut == 1)
		shut_down(d);
	flush(d);
	if (d->state != DS_DONE)
		read_input(d);
	if (d->state != DS_DONE)
		flush(d);
	if (d->state == DS_DONE)
		return;
	if (sim_device_out_room(d) > 0) {
		sim_relay_resume(d);
		sim_actions_resume(d);
	}
	if (d->state == DS_DONE)
		return;
	rearm(d);
}

static void
connect_done(sim_device *d)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(d->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err != 0) {
		finalize(d, SIM_BY_SELF, errno_token(err));
		return;
	}
	tcp_connected(d);
}

/* After any progress: the session pumps, a connection being set up
 * only waits for its next event. */
static void
drive(sim_device *d)
{
	if (d->state == DS_DONE || d->state == DS_IDLE)
		return;
	if (d->state >= DS_WAIT_AUTH_ACCEPT)
		pump(d);
	else
		rearm(d);
}

void
sim_device_on_io(sim_device *d, uint32_t events)
{
	(void)events;	/* level-triggered: try what the state allows */
	switch (d->state) {
	case DS_IDLE:
	case DS_DONE:
		return;
	case DS_CONNECTING:
		connect_done(d);
		break;
	case DS_HANDSHAKE:
		handshake(d);
		break;
	default:
		break;
	}
	drive(d);
}

void
sim_device_on_timer(sim_device *d)
{
	uint64_t now = sim_g.now;

	if (d->state == DS_DONE) {
		if (d->reconnect) {
			uint32_t slot = d->index - sim_opt.first_index;

			sim_g.c.active--;
			if (sim_g.shutting_down)
				return;
			/* A new connection of the same device (index,
			 * UUID, FQDN); finalize freed everything. */
			sim_device_init(d, slot);
			sim_device_start(d);
		}
		return;
	}

	if (d->deadline != 0 && now >= d->deadline) {
		d->deadline = 0;
		switch (d->state) {
		case DS_CONNECTING:
		case DS_HANDSHAKE:
			finalize(d, SIM_BY_SELF, "connect-timeout");
			return;
		case DS_CLOSING:
			/* The server sent DISCONNECT, then kept the
			 * connection open for the whole grace time. */
			if (d->closer == SIM_BY_SERVER &&
			    d->disc_received >= 0)
				d->error = "disconnect-without-close";
			finalize(d, SIM_BY_SELF, NULL);
			return;
		case DS_REJECT_WAIT:
			sim_dev_say(d, 1, "not-rejected mode=%s",
			    sim_misbehave_name((sim_misbehave)d->misbehave));
			begin_close(d, -1, "not-rejected");
			break;
		default:
			if (d->misbehave != SIM_MB_NONE) {
				sim_dev_say(d, 1, "not-rejected mode=%s",
				    sim_misbehave_name(
				    (sim_misbehave)d->misbehave));
				begin_close(d, -1, "not-rejected");
				break;
			}
			sim_dev_say(d, 1, "reply-timeout state=%s",
			    state_name(d->state));
			d->bad = 1;
			begin_close(d, -1, "reply-timeout");
			break;
		}
	}
	if (d->next_keepalive != 0 && now >= d->next_keepalive) {
		/* Keepalives belong to an authenticated session; before
		 * that (options came early) the first one just waits. */
		if (d->state >= DS_WAIT_PFWD_ACCEPT && d->state <= DS_READY)
			send_keepalive(d);
		else
			d->next_keepalive = now +
			    (uint64_t)d->ka_interval * 1000;
	}
	if (d->state == DS_READY)
		sim_actions_on_timer(d);
	if (d->state != DS_DONE)
		sim_relay_on_timer(d);
	drive(d);
}

void
sim_device_shutdown(sim_device *d)
{
	switch (d->state) {
	case DS_IDLE:
		/* Never started: it simply stays out of every count. */
		d->state = DS_DONE;
		return;
	case DS_DONE:
	case DS_CLOSING:
		return;
	case DS_CONNECTING:
	case DS_HANDSHAKE:
		finalize(d, SIM_BY_SELF, "shutdown");
		return;
	default:
		begin_close(d, MPS_APF_DISCONNECT_BY_APPLICATION, "shutdown");
		pump(d);
		return;
	}
}

void
sim_device_kick(sim_device *d)
{
	rearm(d);
}
