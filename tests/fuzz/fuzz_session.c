/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_session.c: a device's tunnel (apf_session.c) and its channels
 * (channel_relay.c, with channel.c, apf_codec.c and registry.c real)
 * driven by APF message sequences, deterministically.
 *
 * The seam (tests/fuzz/README.md): fuzz_exec.c runs the strands, lanes,
 * poller and timers inline on a virtual clock (linked instead of
 * libmpscore), apr_time_now() is that clock (-Wl,--wrap=apr_time_now),
 * the tunnel is plain (no TLS) over an AF_UNIX socketpair handed to
 * mps_amt_accept(), the login plugin is a function of this file, and
 * the channels' far ends are peers of this file (channel_peer.h's ops:
 * consoles that ask mpsd for forwarded-tcpip channels, and the
 * connections of channels the device opens, as direct_tcpip.c makes
 * them), their "sockets" being counters the input moves. The target
 * is the device: it encodes APF messages with the codec (so most are
 * valid), sometimes raw bytes, reads mpsd's answers and decodes them.
 *
 * Input: byte 0 sets up (bit 0: a login plugin, bits 1-2: the channel
 * window, bit 3: no ChannelWindowOverrun, bit 4: keepalive options after
 * port 5900, bit 5: a small socket buffer); then steps, one op byte each
 * (low 4 bits: what, high 4 bits: k), some taking more bytes:
 *   0 the next login message (PROTOCOLVERSION, auth service, USERAUTH,
 *     pfwd service; k picks variants: bad version, wrong service, method
 *     none, empty password, a busy lane); the plugin's verdict is the
 *     next input byte when it is asked
 *   1 tcpip-forward or cancel   2 keepalive request/reply/options reply,
 *     udp-send-to                3 CHANNEL_OPEN from the device (the
 *     layer's answer is the next byte: refuse, or a pending connection)
 *   4 the device answers a channel mpsd opened   5 CHANNEL_DATA
 *   6 WINDOW_ADJUST   7 CHANNEL_CLOSE   8 the device reads its socket
 *   9 a console asks for a channel   10 a console's socket: bytes to
 *     send, room to take, EOF, loss   11 a pending device-opened
 *     connection is up or failed   12 time passes   13 raw bytes
 *   14 a message of any type (including ones only mpsd sends)
 *   15 the end: DISCONNECT, the device's FIN, a close request, handover
 * After each step the harness runs every task, fires every ready socket
 * (and console), until nothing moves.
 *
 * Checks (abort): mpsd sends only well-formed APF, and nothing after its
 * DISCONNECT; a message not allowed in the session's state (when the
 * harness knows the state exactly) is answered by DISCONNECT 2 alone and
 * the connection's end; every channel the device opened gets exactly one
 * answer (at most one ever; exactly one issued, once the device read
 * everything and the tunnel lives); CLOSE at most once per channel, no
 * data after it; no CHANNEL_DATA beyond the window the device granted,
 * and no device data beyond the window plus ChannelWindowOverrun
 * delivered to a console; channel data is read only while the tunnel's
 * output is under MPS_TUNNEL_OUT_HIGH (so it never passes it by more
 * than one message) and within the channel's window; a peer hears
 * opened/refused/closed in order, once; at the end of each execution
 * every session is closed (mps_amt_side_shutdown) and freed, every peer
 * that had a channel was refused or closed, no timer is left armed and
 * no strand, registration or task is left (fuzz_exec.c also aborts when
 * a strand is freed with a timer or registration still held for it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "apf_codec.h"
#include "apf_session.h"
#include "buf.h"
#include "channel_relay.h"
#include "config.h"
#include "log.h"
#include "mps_status.h"
#include "registry.h"
#include "sockwrap.h"
#include "fuzz_exec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BUG(...) do { fprintf(stderr, "fuzz_session: " __VA_ARGS__); \
	fputc('\n', stderr); abort(); } while (0)

#define MAX_TASKS 2000000
#define MAX_PEERS 16
#define MAX_DCH 48
#define DEV_ID_BASE 1000u

/* The virtual clock, for every apr_time_now() of the linked code. */
apr_time_t __wrap_apr_time_now(void);
apr_time_t
__wrap_apr_time_now(void)
{
	return fx_now;
}

static const size_t sizes[16] = { 1, 2, 7, 64, 499, 500, 1024, 4096,
	16384, 32767, 32768, 65535, 65536, 65537, 131072, 1048576 };
static const apr_interval_time_t times[16] = {
	1000, 10000, 100000, 500000, 1000000, 1000000, 2000000, 3000000,
	5000000, 10000000, 15000000, 16000000, 30000000, 60000000, 89000000,
	91000000 };

/* ---- the peers ---- */

enum { P_NEW, P_WAITING, P_PENDING, P_OPEN, P_DONE };

typedef struct fz_peer {
	mps_chan_peer_t p;		/* first: the ops get &p */
	int idx;			/* in z.peers */
	int kind;			/* 0 console, 1 device-opened */
	int state;
	int had_chan;
	int armed, want_input;
	int eof, lost;
	size_t down;			/* delivered, not yet taken */
	size_t allow;			/* what its socket takes now */
	size_t up;			/* what its socket holds for the device */
	size_t cap;			/* window + overrun */
	int dch;			/* device-opened: the device's channel */
	mps_session_t *sess;		/* device-opened: its tunnel */
} fz_peer;

/* ---- the device's view of its channels ---- */

typedef struct dchan {
	int used;
	int by_mpsd;			/* mpsd opened it */
	int has_mps_id;
	apr_uint32_t mps_id;
	int dev_sent;			/* our id is known to mpsd */
	int answered;			/* answers seen (device-opened), or
					 * given (mpsd-opened) */
	int reached;			/* device-opened: the layer saw it */
	int answer_events;		/* device-opened: answers issued */
	int64_t send_win;		/* what we may still send */
	int64_t win_max;		/* the window mpsd offered */
	int64_t recv_win;		/* what mpsd may still send us */
	int close_recv;			/* mpsd sent CLOSE */
	int close_sent;			/* we sent CLOSE */
} dchan;

enum { M_VERSION, M_AUTH_SERVICE, M_USERAUTH, M_PFWD, M_ACTIVE,
	M_LOGIN_WAIT, M_UNKNOWN };

static struct {
	const uint8_t *d;
	size_t n, off;
	int fd;				/* the device's end */
	mps_buf_t rx, tx;
	int model;
	int dirty;			/* the model may be wrong */
	int wr_shut;
	int saw_disconnect;
	apr_uint32_t disc_reason;
	int eof;
	unsigned long msgs;		/* messages received */
	uint8_t last_type;
	/* The global requests mpsd still has to answer, oldest first: 1
	 * a tcpip-forward (REQUEST_SUCCESS then carries the port), 0 other
	 * (the two forms differ only in length, which only the requester
	 * can tell: MPS_APF_F_SUCCESS_PORT). */
	uint8_t greq[64];
	unsigned greq_head, greq_len;
	int send_errno;			/* the last failure of send() that
					 * was not mpsd's close */
	int lost_sync;			/* dirty input made mpsd's stream
					 * unreadable for us */
	fz_peer *peers[MAX_PEERS];
	int npeers;
	dchan dch[MAX_DCH];
	int ndch;
	uint8_t uuid[MPS_APF_UUID_LEN];
	char uuid_text[MPS_APF_UUID_TEXT_SIZE];
} z;

static apr_pool_t *pool;
static mps_config_t base_cfg, cfg;
static mps_amt_side_t side;
static mps_registry_t *registry;
static mps_poller_t *poller;
static mps_workers_t *workers;

/* FZ_TRACE=1 in the environment: what the device sent and received, and
 * what the peers heard, on stderr (to see where a seed gets to). */
static int trace;
#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

static uint8_t
take(void)
{
	return z.off < z.n ? z.d[z.off++] : 0;
}

/* ---- the peer ops (a console's socket, or an outgoing connection) ---- */

static fz_peer *
peer_of(mps_chan_peer_t *p)
{
	return (fz_peer *)p;
}

static int
op_deliver(mps_chan_peer_t *p, const void *data, size_t n)
{
	fz_peer *c = peer_of(p);

	(void)data;
	if (c->state != P_OPEN)
		BUG("deliver to a peer that is not open (%d)", c->state);
	if (n == 0 || c->down + n > c->cap)
		BUG("device data beyond the window and overrun reached a peer "
		    "(%zu + %zu > %zu)", c->down, n, c->cap);
	c->down += n;
	return 0;
}

static int
op_flush(mps_chan_peer_t *p, size_t *took)
{
	fz_peer *c = peer_of(p);
	size_t n = c->down < c->allow ? c->down : c->allow;

	if (c->state != P_OPEN)
		BUG("flush of a peer that is not open");
	c->down -= n;
	c->allow -= n;
	*took = n;
	return c->lost ? -1 : 0;
}

static size_t
op_unsent(const mps_chan_peer_t *p)
{
	return ((const fz_peer *)p)->down;
}

static ssize_t
op_pending(mps_chan_peer_t *p, int fill)
{
	fz_peer *c = peer_of(p);

	(void)fill;
	if (c->state != P_OPEN)
		BUG("pending of a peer that is not open");
	if (c->lost)
		return -1;
	if (c->eof && c->up == 0)
		p->input_ended = 1;
	return 0;
}

static ssize_t
op_read(mps_chan_peer_t *p, void *dst, size_t max)
{
	fz_peer *c = peer_of(p);
	mps_buf_t *out;
	size_t n;

	if (c->state != P_OPEN || p->chan == NULL)
		BUG("read from a peer that is not open");
	if (max == 0)
		BUG("read of 0 bytes");
	out = mps_tunnel_output(p->session);
	if (out == NULL)
		BUG("channel data read for a closing tunnel");
	if (mps_buf_len(out) >= MPS_TUNNEL_OUT_HIGH)
		BUG("channel data read with %zu bytes queued (high mark %d)",
		    mps_buf_len(out), MPS_TUNNEL_OUT_HIGH);
	if (max > p->chan->remote_window)
		BUG("read of %zu bytes for a window of %u", max,
		    (unsigned)p->chan->remote_window);
	if (c->lost)
		return -1;
	n = c->up < max ? c->up : max;
	memset(dst, 'a' + c->idx % 26, n);
	c->up -= n;
	if (n == 0 && c->eof)
		p->input_ended = 1;
	return (ssize_t)n;
}

static int
op_wait(mps_chan_peer_t *p, int want_input)
{
	fz_peer *c = peer_of(p);

	if (c->state != P_OPEN)
		BUG("wait of a peer that is not open");
	c->armed = 1;
	c->want_input = want_input;
	return c->lost ? -1 : 0;
}

static void
op_opened(mps_chan_peer_t *p)
{
	fz_peer *c = peer_of(p);

	if (c->state != (c->kind == 0 ? P_WAITING : P_PENDING))
		BUG("opened in state %d", c->state);
	if (!p->relaying || p->chan == NULL)
		BUG("opened without a relaying channel");
	TRACE("  peer %d opened\n", c->idx);
	/* A device-opened channel: mpsd queued CHANNEL_OPEN_CONFIRMATION
	 * just before this call. Counted here, not after the confirm: the
	 * peer may close within it (its socket already ended). */
	if (c->kind == 1 && c->dch >= 0)
		z.dch[c->dch].answer_events++;
	c->state = P_OPEN;
	c->cap = (size_t)p->chan->local_window_max + cfg.channel_window_overrun;
}

static void
op_refused(mps_chan_peer_t *p, mps_peer_refusal why)
{
	fz_peer *c = peer_of(p);

	if (c->state != P_WAITING && c->state != P_PENDING)
		BUG("refused in state %d", c->state);
	if (p->chan != NULL)
		BUG("refused with a channel still attached");
	if (c->kind == 1 && why == MPS_PEER_TIMEOUT && c->dch >= 0 &&
	    mps_tunnel_output(c->sess) != NULL)
		z.dch[c->dch].answer_events++;	/* OPEN_FAILURE went out */
	TRACE("  peer refused (%d)\n", (int)why);
	c->state = P_DONE;
}

static void
op_closed(mps_chan_peer_t *p, mps_peer_close why)
{
	fz_peer *c = peer_of(p);

	TRACE("  peer closed (%d)\n", (int)why);
	if (c->state != P_OPEN)
		BUG("closed in state %d", c->state);
	if (p->chan != NULL)
		BUG("closed with a channel still attached");
	c->state = P_DONE;
}

static const mps_chan_peer_ops_t peer_ops = {
	.deliver = op_deliver,
	.flush = op_flush,
	.unsent = op_unsent,
	.pending = op_pending,
	.read = op_read,
	.wait = op_wait,
	.opened = op_opened,
	.refused = op_refused,
	.closed = op_closed,
};

static fz_peer *
peer_new(int kind)
{
	fz_peer *c;

	if (z.npeers == MAX_PEERS || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->p.ops = &peer_ops;
	c->p.peer = kind == 0 ? "192.0.2.99:40000" : "198.51.100.7:80";
	c->p.device_name = "fz-device";
	c->p.port = kind == 0 ? 16992 : 80;
	c->kind = kind;
	c->dch = -1;
	c->idx = z.npeers;
	z.peers[z.npeers++] = c;
	return c;
}

/* A console's socket is ready: the channel's task (console.c's). */
static void
peer_io_task(void *arg)
{
	fz_peer *c = arg;

	if (c->state != P_OPEN)
		return;
	mps_relay_peer_io(&c->p, c->lost);
}

/* A console gone before the device answered leaves its channel. */
static void
peer_leave_task(void *arg)
{
	fz_peer *c = arg;

	if (c->state != P_WAITING)
		return;
	mps_relay_detach(&c->p);
	if (c->p.chan != NULL)
		BUG("detach left the channel attached");
	c->state = P_DONE;
}

/* The peers' sockets that are ready, as the poller would find them. */
static int
fire_peers(void)
{
	int i, fired = 0;

	for (i = 0; i < z.npeers; i++) {
		fz_peer *c = z.peers[i];

		if (c->state != P_OPEN || !c->armed)
			continue;
		if (c->lost || (c->down > 0 && c->allow > 0) ||
		    (c->want_input && (c->up > 0 || c->eof))) {
			c->armed = 0;
			if (mps_strand_post(mps_tunnel_strand(c->p.session),
			    peer_io_task, c) != APR_SUCCESS)
				BUG("post");
			fired++;
		}
	}
	return fired;
}

/* ---- the channel layer's device-open op (direct_tcpip.c's part) ---- */

static int
dch_of(apr_uint32_t dev_id)
{
	if (dev_id < DEV_ID_BASE || dev_id - DEV_ID_BASE >= (unsigned)z.ndch)
		return -1;
	return (int)(dev_id - DEV_ID_BASE);
}

static void
fz_device_open(mps_session_t *t, const mps_apf_msg_t *m)
{
	apr_uint32_t sender = m->u.channel_open.sender;
	int i = dch_of(sender);
	uint8_t b = take();
	fz_peer *c;
	apr_status_t rv;

	if (i >= 0 && !z.dch[i].by_mpsd)
		z.dch[i].reached = 1;
	else
		i = -1;
	if ((b & 3) == 0 || (c = peer_new(1)) == NULL) {
		int live = mps_tunnel_output(t) != NULL;

		mps_relay_refuse_open(t, sender, 1 + (b >> 2) % 4);
		if (live && i >= 0)
			z.dch[i].answer_events++;
		return;
	}
	rv = mps_relay_accept_open(t, &c->p, sender,
	    m->u.channel_open.window);
	if (rv != APR_SUCCESS) {
		int live = mps_tunnel_output(t) != NULL;

		if (c->p.chan != NULL)
			BUG("a refused accept left the peer attached");
		mps_relay_refuse_open(t, sender, rv == APR_ENOSPC ?
		    MPS_APF_OPEN_RESOURCE_SHORTAGE : 2);
		if (live && i >= 0)
			z.dch[i].answer_events++;
		c->state = P_DONE;
		return;
	}
	c->state = P_PENDING;
	c->had_chan = 1;
	c->dch = i;
	c->sess = t;
}

/* The pending connection is up (confirm) or failed. */
static void
peer_answer_task(void *arg)
{
	fz_peer *c = arg;
	int fail = c->want_input;	/* borrowed: the choice */
	int live;

	if (c->state != P_PENDING || c->p.chan == NULL)
		return;
	live = mps_tunnel_output(c->sess) != NULL;
	if (fail) {
		mps_relay_fail_open(&c->p, MPS_APF_OPEN_CONNECT_FAILED);
		if (live && c->dch >= 0)
			z.dch[c->dch].answer_events++;
		c->state = P_DONE;
		return;
	}
	mps_relay_confirm_open(&c->p);	/* op_opened counts the answer */
}

/* ---- the login plugin ---- */

static bool
fz_authenticate(const char *user, const char *password, const char *params,
    char *err, size_t errsize)
{
	(void)user;
	(void)params;
	if (password == NULL || password[0] == '\0')
		BUG("the plugin was asked with an empty password");
	if (take() & 1)
		return true;
	snprintf(err, errsize, "not this time");
	return false;
}

static mps_auth_plugin_t fz_auth = { NULL, fz_authenticate, "" };

/* ---- the device's wire ---- */

static void
dev_flush(void)
{
	while (mps_buf_len(&z.tx) > 0 && !z.wr_shut) {
		ssize_t w = send(z.fd, mps_buf_ptr(&z.tx), mps_buf_len(&z.tx),
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			(void)mps_buf_consume(&z.tx, (size_t)w);
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* Only these say that mpsd closed. Any other failure (a
		 * signal, a kernel short of buffers) sent nothing: the bytes
		 * wait for the next flush, as EAGAIN's do, instead of being
		 * taken for lost while mpsd is still there. */
		if (w < 0 && errno != EPIPE && errno != ECONNRESET) {
			z.send_errno = errno;
			return;
		}
		/* mpsd closed: what we had is lost, as on a real wire. */
		mps_buf_reset(&z.tx);
		z.wr_shut = 1;
	}
}

static const struct {
	uint8_t type;
	unsigned states;
} allowed_tab[] = {
#define S(x) (1u << (x))
	{ MPS_APF_DISCONNECT, S(M_VERSION) | S(M_AUTH_SERVICE) |
	    S(M_USERAUTH) | S(M_PFWD) | S(M_ACTIVE) },
	{ MPS_APF_PROTOCOLVERSION, S(M_VERSION) },
	{ MPS_APF_SERVICE_REQUEST, S(M_AUTH_SERVICE) | S(M_PFWD) },
	{ MPS_APF_USERAUTH_REQUEST, S(M_USERAUTH) },
	{ MPS_APF_KEEPALIVE_REQUEST, S(M_AUTH_SERVICE) | S(M_USERAUTH) |
	    S(M_PFWD) | S(M_ACTIVE) },
	{ MPS_APF_KEEPALIVE_REPLY, S(M_ACTIVE) },
	{ MPS_APF_KEEPALIVE_OPTIONS_REPLY, S(M_ACTIVE) },
	{ MPS_APF_GLOBAL_REQUEST, S(M_ACTIVE) },
	{ MPS_APF_CHANNEL_OPEN, S(M_ACTIVE) },
	{ MPS_APF_CHANNEL_OPEN_CONFIRMATION, S(M_ACTIVE) },
	{ MPS_APF_CHANNEL_OPEN_FAILURE, S(M_ACTIVE) },
	{ MPS_APF_CHANNEL_WINDOW_ADJUST, S(M_ACTIVE) },
	{ MPS_APF_CHANNEL_DATA, S(M_ACTIVE) },
	{ MPS_APF_CHANNEL_CLOSE, S(M_ACTIVE) },
#undef S
};

static int
allowed(uint8_t type, int model)
{
	size_t i;

	for (i = 0; i < sizeof(allowed_tab) / sizeof(allowed_tab[0]); i++)
		if (allowed_tab[i].type == type)
			return (allowed_tab[i].states & (1u << model)) != 0;
	return 0;
}

static void handle_msg(const mps_apf_msg_t *m);

/* Reads what mpsd wrote, up to max bytes (0: all there is). Returns the
 * bytes read. */
static size_t
dev_read(size_t max)
{
	size_t got = 0;

	while (!z.eof && (max == 0 || got < max)) {
		uint8_t *tail;
		size_t want = 65536;
		ssize_t r;

		if (max != 0 && max - got < want)
			want = max - got;
		if (mps_buf_reserve(&z.rx, want, &tail) != APR_SUCCESS)
			BUG("mpsd sent more than a message can be");
		r = recv(z.fd, tail, want, MSG_DONTWAIT);
		if (r == 0) {
			z.eof = 1;
			break;
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			z.eof = 1;	/* reset */
			break;
		}
		(void)mps_buf_commit(&z.rx, (size_t)r);
		got += (size_t)r;
		TRACE("  read %zd bytes (%zu buffered)\n", r, mps_buf_len(&z.rx));
		for (;;) {
			const uint8_t *p = mps_buf_ptr(&z.rx);
			size_t n = mps_buf_len(&z.rx), mlen = 0;
			mps_apf_msg_t m;
			apr_status_t rv;

			if (n == 0)
				break;
			unsigned flags = 0;

			if (z.saw_disconnect)
				BUG("mpsd sent bytes after its DISCONNECT");
			if (z.lost_sync) {
				mps_buf_reset(&z.rx);
				break;
			}
			if (z.greq_len > 0 && z.greq[z.greq_head % 64])
				flags |= MPS_APF_F_SUCCESS_PORT;
			rv = mps_apf_frame_len_ex(p, n, MPS_APF_MAX_DATA, flags,
			    &mlen);
			if (rv == MPS_NEED_MORE)
				break;
			if (rv != APR_SUCCESS || mps_apf_decode(p, mlen, &m) !=
			    APR_SUCCESS) {
				if (!z.dirty)
					BUG("mpsd sent a malformed message "
					    "(type %u)", p[0]);
				/* Our raw bytes held a global request we
				 * did not count: we cannot frame on. */
				z.lost_sync = 1;
				mps_buf_reset(&z.rx);
				break;
			}
			if ((m.type == MPS_APF_REQUEST_SUCCESS ||
			    m.type == MPS_APF_REQUEST_FAILURE) &&
			    z.greq_len > 0) {
				z.greq_head++;
				z.greq_len--;
			}
			handle_msg(&m);
			(void)mps_buf_consume(&z.rx, mlen);
		}
	}
	/* The stream may end inside a message: a closing session that
	 * cannot flush within its linger (the device did not read) is
	 * closed with output left (apf_session.c, CLOSE_LINGER). */
	return got;
}

static void
handle_msg(const mps_apf_msg_t *m)
{
	int i;

	z.msgs++;
	z.last_type = m->type;
	TRACE("  <- %s\n", mps_apf_msg_name(m->type));
	switch (m->type) {
	case MPS_APF_DISCONNECT:
		TRACE("     reason %u\n", (unsigned)m->u.disconnect.reason);
		z.saw_disconnect = 1;
		z.disc_reason = m->u.disconnect.reason;
		z.model = M_UNKNOWN;
		break;
	case MPS_APF_SERVICE_ACCEPT:
	case MPS_APF_REQUEST_SUCCESS:
	case MPS_APF_REQUEST_FAILURE:
	case MPS_APF_KEEPALIVE_REPLY:
	case MPS_APF_KEEPALIVE_REQUEST:
	case MPS_APF_KEEPALIVE_OPTIONS_REQUEST:
		break;
	case MPS_APF_USERAUTH_SUCCESS:
		if (z.model == M_LOGIN_WAIT)
			z.model = M_PFWD;
		break;
	case MPS_APF_USERAUTH_FAILURE:
		z.model = M_UNKNOWN;
		break;
	case MPS_APF_CHANNEL_OPEN:
		if (z.ndch < MAX_DCH) {
			dchan *d = &z.dch[z.ndch++];

			memset(d, 0, sizeof(*d));
			d->used = 1;
			d->by_mpsd = 1;
			d->has_mps_id = 1;
			d->mps_id = m->u.channel_open.sender;
			d->send_win = m->u.channel_open.window;
			d->win_max = m->u.channel_open.window;
		}
		break;
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
	case MPS_APF_CHANNEL_OPEN_FAILURE:
		i = dch_of(m->u.channel_open_confirmation.recipient);
		if (i < 0 || z.dch[i].by_mpsd) {
			if (!z.dirty)
				BUG("an answer to an open the device never sent");
			break;
		}
		if (++z.dch[i].answered > 1)
			BUG("two answers to one CHANNEL_OPEN of the device");
		if (m->type == MPS_APF_CHANNEL_OPEN_CONFIRMATION) {
			z.dch[i].has_mps_id = 1;
			z.dch[i].mps_id = m->u.channel_open_confirmation.sender;
			z.dch[i].send_win = m->u.channel_open_confirmation.window;
			z.dch[i].win_max = m->u.channel_open_confirmation.window;
		}
		break;
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
		i = dch_of(m->u.window_adjust.recipient);
		if (i < 0 || !z.dch[i].dev_sent) {
			if (!z.dirty)
				BUG("WINDOW_ADJUST for a channel mpsd does not "
				    "know by that id");
			break;
		}
		z.dch[i].send_win += m->u.window_adjust.bytes_to_add;
		/* Only for bytes the console took: never more room than
		 * the window mpsd offered. */
		if (!z.dirty && z.dch[i].send_win > z.dch[i].win_max)
			BUG("WINDOW_ADJUST grants %lld bytes, the window is %lld",
			    (long long)z.dch[i].send_win,
			    (long long)z.dch[i].win_max);
		break;
	case MPS_APF_CHANNEL_DATA:
		i = dch_of(m->u.channel_data.recipient);
		if (i < 0 || !z.dch[i].dev_sent) {
			if (!z.dirty)
				BUG("CHANNEL_DATA for a channel mpsd does not "
				    "know by that id");
			break;
		}
		if (z.dch[i].close_recv)
			BUG("CHANNEL_DATA after mpsd's own CHANNEL_CLOSE");
		if (!z.dirty &&
		    (int64_t)m->u.channel_data.data.len > z.dch[i].recv_win)
			BUG("CHANNEL_DATA of %zu bytes beyond a window of %lld",
			    m->u.channel_data.data.len,
			    (long long)z.dch[i].recv_win);
		z.dch[i].recv_win -= (int64_t)m->u.channel_data.data.len;
		break;
	case MPS_APF_CHANNEL_CLOSE:
		i = dch_of(m->u.channel_close.recipient);
		if (i < 0 || !z.dch[i].dev_sent) {
			if (!z.dirty)
				BUG("CHANNEL_CLOSE for a channel mpsd does not "
				    "know by that id");
			break;
		}
		if (z.dch[i].close_recv)
			BUG("two CHANNEL_CLOSE for one channel");
		z.dch[i].close_recv = 1;
		break;
	default:
		BUG("mpsd sent a message only a device sends: %s (%u)",
		    mps_apf_msg_name(m->type), m->type);
	}
}

/* Runs everything that is ready, until nothing moves. */
static void
settle(void)
{
	int i;

	for (i = 0; i < 512; i++) {
		int fired;

		dev_flush();
		fx_drain(MAX_TASKS);
		fired = fx_fire_ready() + fire_peers();
		if (fired == 0 && fx_idle())
			break;
	}
	fx_drain(MAX_TASKS);
}

/* The device reads everything mpsd has for it, letting mpsd write more,
 * until nothing moves. Returns 0 when it stopped while things still
 * moved (a peer keeps sending). */
static int
read_all(void)
{
	int i;

	for (i = 0; i < 64 && !z.eof; i++) {
		size_t got;

		settle();
		got = dev_read(0);
		settle();
		if (got == 0 && dev_read(0) == 0 && fx_idle())
			return 1;
	}
	return z.eof;
}

static int dev_send_raw_msg(mps_buf_t *b, uint8_t type);

/* Where things stand, before an abort on a session that stopped moving:
 * the device's view, then the inline core's (registrations, timers). */
static void
describe(void)
{
	struct pollfd pfd = { .fd = z.fd, .events = POLLIN | POLLOUT };
	int n = poll(&pfd, 1, 0);

	fprintf(stderr, "device: model %d%s, %lu messages read (last %s), "
	    "%zu bytes unparsed, %zu unsent, eof %d, wr_shut %d, "
	    "disconnect %d, lost_sync %d, last send error %d; its socket: "
	    "poll %d revents 0x%x\n",
	    z.model, z.dirty ? " dirty" : "", z.msgs,
	    mps_apf_msg_name(z.last_type), mps_buf_len(&z.rx),
	    mps_buf_len(&z.tx), z.eof, z.wr_shut, z.saw_disconnect,
	    z.lost_sync, z.send_errno, n, (unsigned)pfd.revents);
	fx_describe(stderr);
}

/* A message not allowed in the state the session is known to be in:
 * DISCONNECT 2 alone, then the end. */
static void
check_refused(mps_buf_t *b, uint8_t type)
{
	unsigned long before;

	before = z.msgs;
	(void)mps_buf_put(&z.tx, mps_buf_ptr(b), mps_buf_len(b));
	read_all();
	if (!z.eof) {
		describe();
		BUG("%s in a state that does not allow it: the connection "
		    "did not end", mps_apf_msg_name(type));
	}
	if (!z.saw_disconnect || z.disc_reason !=
	    MPS_APF_DISCONNECT_PROTOCOL_ERROR)
		BUG("%s in a state that does not allow it: no DISCONNECT 2 "
		    "(saw %d, reason %u)", mps_apf_msg_name(type),
		    z.saw_disconnect, (unsigned)z.disc_reason);
	if (z.msgs != before + 1)
		BUG("%s in a state that does not allow it: %lu messages in "
		    "answer, not DISCONNECT alone", mps_apf_msg_name(type),
		    z.msgs - before);
	z.model = M_UNKNOWN;
}

/* Sends one encoded message (b), checking refusals where the state is
 * known. */
static int
dev_send(mps_buf_t *b)
{
	uint8_t type;

	if (mps_buf_len(b) == 0)
		return 0;
	type = mps_buf_ptr(b)[0];
	if (z.wr_shut || z.eof || z.saw_disconnect) {
		mps_buf_reset(b);
		return 0;
	}
	if (!z.dirty && z.model <= M_ACTIVE && !allowed(type, z.model)) {
		/* Everything before it read and answered first, so that
		 * the answer to this one is all that follows. */
		dev_flush();
		if (read_all() && mps_buf_len(&z.tx) == 0 && !z.eof &&
		    !z.saw_disconnect && z.model <= M_ACTIVE) {
			check_refused(b, type);
			mps_buf_reset(b);
			return 0;
		}
	}
	return dev_send_raw_msg(b, type);
}

static int
dev_send_raw_msg(mps_buf_t *b, uint8_t type)
{
	int ok = 1;

	TRACE("  -> %s (%zu bytes)\n", mps_apf_msg_name(type), mps_buf_len(b));
	if (mps_buf_put(&z.tx, mps_buf_ptr(b), mps_buf_len(b)) != APR_SUCCESS) {
		z.dirty = 1;	/* dropped: the model loses track */
		ok = 0;
	}
	mps_buf_reset(b);
	return ok;
}

/* ---- steps ---- */

/* A global request mpsd may answer (port: a tcpip-forward); callers
 * note it unless the model knows the session is not active yet (then
 * it is refused with DISCONNECT, and nothing follows). */
static void
expect_reply(int port)
{
	if (z.greq_len == 64) {
		z.dirty = 1;
		return;
	}
	z.greq[(z.greq_head + z.greq_len++) % 64] = (uint8_t)port;
}

static mps_buf_t msg;
/* z.rx and z.tx between executions (see LLVMFuzzerInitialize). */
static mps_buf_t dev_rx, dev_tx;

static int
pick_dch(int by_mpsd, int need_mps_id)
{
	int i, n = 0, want;
	int list[MAX_DCH];

	for (i = 0; i < z.ndch; i++)
		if ((by_mpsd < 0 || z.dch[i].by_mpsd == by_mpsd) &&
		    (!need_mps_id || z.dch[i].has_mps_id))
			list[n++] = i;
	if (n == 0)
		return -1;
	want = take() % n;
	return list[want];
}

static void
step_login(unsigned k)
{
	static const uint8_t none_user[] = "admin";

	switch (z.model) {
	case M_VERSION:
		(void)mps_apf_encode_protocolversion(&msg, k == 15 ? 2 : 1, 0,
		    k, z.uuid);
		dev_send(&msg);
		z.model = k == 15 ? M_UNKNOWN : M_AUTH_SERVICE;
		break;
	case M_AUTH_SERVICE:
		(void)mps_apf_encode_service_request(&msg, mps_apf_cstr(k == 15 ?
		    "bogus@amt.intel.com" : MPS_APF_SERVICE_AUTH));
		dev_send(&msg);
		z.model = k == 15 ? M_UNKNOWN : M_USERAUTH;
		break;
	case M_USERAUTH:
		fx_lane_expire_next = k == 5;
		if (k == 7)
			(void)mps_apf_encode_userauth_request_none(&msg,
			    mps_apf_cstr((const char *)none_user),
			    mps_apf_cstr(MPS_APF_SERVICE_PFWD));
		else
			(void)mps_apf_encode_userauth_request_password(&msg,
			    mps_apf_cstr("admin"), mps_apf_cstr(k == 14 ?
			    "bogus" : MPS_APF_SERVICE_PFWD),
			    mps_apf_cstr(k == 6 ? "" : "P@ssw0rd"));
		dev_send(&msg);
		z.model = M_LOGIN_WAIT;
		break;
	case M_PFWD:
		(void)mps_apf_encode_service_request(&msg,
		    mps_apf_cstr(MPS_APF_SERVICE_PFWD));
		dev_send(&msg);
		z.model = M_ACTIVE;
		break;
	case M_LOGIN_WAIT:
		read_all();
		break;
	default:
		/* Another PROTOCOLVERSION: out of order. */
		(void)mps_apf_encode_protocolversion(&msg, 1, 0, 0, z.uuid);
		dev_send(&msg);
		break;
	}
}

static void
step_forward(unsigned k)
{
	static const uint32_t ports[8] = { 16992, 16993, 623, 664, 5900, 0,
		70000, 16994 };
	char host[32];
	uint32_t port = ports[k & 7];

	snprintf(host, sizeof(host), "dev%u.example.com", take() % 4);
	if (k & 8)
		(void)mps_apf_encode_cancel_tcpip_forward(&msg, 1,
		    mps_apf_cstr(host), port);
	else
		(void)mps_apf_encode_tcpip_forward(&msg, take() & 1,
		    mps_apf_cstr(host), port);
	/* Answered whatever want_reply says (apf_session.c). */
	if (dev_send(&msg) && z.model >= M_ACTIVE)
		expect_reply(!(k & 8));
}

static void
step_keepalive(unsigned k)
{
	switch (k & 3) {
	case 0:
		(void)mps_apf_encode_keepalive_request(&msg, take());
		break;
	case 1:
		{
			mps_apf_msg_t m;

			memset(&m, 0, sizeof(m));
			m.type = MPS_APF_KEEPALIVE_REPLY;
			m.u.keepalive.cookie = take();
			(void)mps_apf_encode(&msg, &m);
		}
		break;
	case 2:
		(void)mps_apf_encode_keepalive_options_reply(&msg, 30, 90);
		break;
	default:
		(void)mps_apf_encode_udp_send_to(&msg, (k >> 2) & 1,
		    mps_apf_cstr("192.0.2.50"), 162, mps_apf_cstr("10.0.0.1"),
		    1024, mps_apf_cstr("alert"));
		if (dev_send(&msg) && z.model >= M_ACTIVE && ((k >> 2) & 1))
			expect_reply(0);
		return;
	}
	dev_send(&msg);
}

static void
step_device_open(unsigned k)
{
	apr_uint32_t id;
	dchan *d = NULL;

	if (z.ndch < MAX_DCH) {
		d = &z.dch[z.ndch];
		memset(d, 0, sizeof(*d));
		d->used = 1;
		d->dev_sent = 1;
		d->recv_win = (int64_t)sizes[k];
		id = DEV_ID_BASE + (apr_uint32_t)z.ndch++;
	} else {
		id = DEV_ID_BASE + MAX_DCH;
		z.dirty = 1;
	}
	(void)mps_apf_encode_channel_open(&msg, mps_apf_cstr(take() & 1 ?
	    MPS_APF_CHAN_FORWARDED_TCPIP : "direct-tcpip"), id,
	    (apr_uint32_t)sizes[k], mps_apf_cstr("198.51.100.7"), 80,
	    mps_apf_cstr("10.0.0.1"), 4321);
	dev_send(&msg);
}

static void
step_answer(unsigned k)
{
	int i = -1, j;

	for (j = 0; j < z.ndch; j++) {
		if (z.dch[j].by_mpsd && !z.dch[j].answered) {
			i = j;
			break;
		}
	}
	if (i < 0)
		return;
	z.dch[i].answered = 1;
	if (k == 15) {
		(void)mps_apf_encode_channel_open_failure(&msg, z.dch[i].mps_id,
		    1 + take() % 4);
	} else {
		z.dch[i].dev_sent = 1;
		z.dch[i].recv_win = (int64_t)sizes[k];
		(void)mps_apf_encode_channel_open_confirmation(&msg,
		    z.dch[i].mps_id, DEV_ID_BASE + (apr_uint32_t)i,
		    (apr_uint32_t)sizes[k]);
	}
	dev_send(&msg);
}

static apr_uint32_t
recipient(int i)
{
	uint8_t b;

	if (i >= 0 && z.dch[i].has_mps_id) {
		/* After our CLOSE, mpsd may end the channel (at once, or
		 * once its own CLOSE is out) and give its id to a new one,
		 * which is then the channel this message reaches: the
		 * model loses track. */
		if (z.dch[i].close_sent)
			z.dirty = 1;
		/* The same once we refused mpsd's open: the channel ended
		 * with our OPEN_FAILURE. */
		if (z.dch[i].by_mpsd && z.dch[i].answered &&
		    !z.dch[i].dev_sent)
			z.dirty = 1;
		return z.dch[i].mps_id;
	}
	/* Some id mpsd may or may not use: the model loses track. */
	b = take();
	z.dirty = 1;
	return b & 7;
}

static void
step_data(unsigned k)
{
	static uint8_t payload[1048576];
	int i = pick_dch(-1, 0);
	apr_uint32_t to = recipient(i);

	if (i >= 0 && (int64_t)sizes[k] > z.dch[i].send_win)
		z.dirty = 1;	/* beyond its window: held or closed */
	if (i >= 0)
		z.dch[i].send_win -= (int64_t)sizes[k];
	if (mps_apf_encode_channel_data(&msg, to, payload, sizes[k]) !=
	    APR_SUCCESS)
		return;
	dev_send(&msg);
}

static void
step_adjust(unsigned k)
{
	int i = pick_dch(-1, 0);
	apr_uint32_t to = recipient(i);
	apr_uint32_t add = (apr_uint32_t)sizes[k];

	if (i >= 0) {
		z.dch[i].recv_win += add;
		if (z.dch[i].recv_win > UINT32_MAX)
			z.dirty = 1;	/* mpsd refuses a wrapping window */
	}
	(void)mps_apf_encode_window_adjust(&msg, to, add);
	dev_send(&msg);
}

static void
step_close(unsigned k)
{
	int i = pick_dch(-1, 0);
	apr_uint32_t to = recipient(i);

	(void)k;
	if (i >= 0)
		z.dch[i].close_sent = 1;
	(void)mps_apf_encode_channel_close(&msg, to);
	dev_send(&msg);
}

static void
open_task(void *arg)
{
	mps_device_t *dev = arg;
	mps_session_t *s = mps_device_session(dev);
	fz_peer *c = z.peers[z.npeers - 1];
	apr_status_t rv = APR_EINVAL;

	if (c->state == P_NEW) {
		if (mps_tunnel_is_active(s))
			rv = mps_relay_open(s, &c->p, "fz.example.com",
			    c->p.port, "192.0.2.99", 40000);
		if (rv == APR_SUCCESS) {
			if (c->p.chan == NULL || c->p.session != s)
				BUG("an open channel without its peer");
			c->state = P_WAITING;
			c->had_chan = 1;
		} else {
			if (c->p.chan != NULL)
				BUG("a failed open left the peer attached");
			c->state = P_DONE;
		}
	}
	mps_device_release(dev);
}

static void
step_console_open(unsigned k)
{
	static const apr_port_t ports[4] = { 16992, 16993, 623, 5900 };
	mps_device_t *dev = NULL;
	fz_peer *c;

	if (mps_registry_lookup(registry, z.uuid_text, &dev) != APR_SUCCESS)
		return;
	if ((c = peer_new(0)) == NULL) {
		mps_device_release(dev);
		return;
	}
	c->p.port = ports[k & 3];
	/* console.c moves to the device's strand, then opens. */
	if (mps_strand_post(mps_device_strand(dev), open_task, dev) !=
	    APR_SUCCESS)
		BUG("post");
	settle();
	if (c->state == P_NEW)
		c->state = P_DONE;
}

static void
step_console(unsigned k)
{
	fz_peer *c;
	size_t amt;

	if (z.npeers == 0)
		return;
	c = z.peers[take() % z.npeers];
	amt = sizes[take() & 15];
	switch (k & 3) {
	case 0:
		c->up += amt;
		break;
	case 1:
		c->allow += amt;
		break;
	case 2:
		c->eof = 1;
		break;
	default:
		if ((k >> 2) == 3) {
			c->lost = 1;
			if (c->state == P_WAITING &&
			    mps_strand_post(mps_tunnel_strand(c->p.session),
			    peer_leave_task, c) != APR_SUCCESS)
				BUG("post");
		} else {
			c->up += amt;
			c->allow += amt;
		}
		break;
	}
}

static void
step_peer_answer(unsigned k)
{
	int i;

	for (i = 0; i < z.npeers; i++) {
		fz_peer *c = z.peers[i];

		if (c->kind != 1 || c->state != P_PENDING)
			continue;
		c->want_input = (k & 1);	/* 1: the connect failed */
		if (mps_strand_post(mps_tunnel_strand(c->sess),
		    peer_answer_task, c) != APR_SUCCESS)
			BUG("post");
		return;
	}
}

static void
step_raw(unsigned k)
{
	size_t n = (size_t)take() + 1;

	(void)k;
	if (n > z.n - z.off)
		n = z.n - z.off;
	if (n == 0 || z.wr_shut)
		return;
	(void)mps_buf_put(&z.tx, z.d + z.off, n);
	z.off += n;
	z.dirty = 1;
	z.model = M_UNKNOWN;
}

static void
step_any_type(unsigned k)
{
	static const uint8_t types[] = { MPS_APF_DISCONNECT,
		MPS_APF_SERVICE_REQUEST, MPS_APF_SERVICE_ACCEPT,
		MPS_APF_USERAUTH_REQUEST, MPS_APF_USERAUTH_FAILURE,
		MPS_APF_USERAUTH_SUCCESS, MPS_APF_GLOBAL_REQUEST,
		MPS_APF_REQUEST_SUCCESS, MPS_APF_REQUEST_FAILURE,
		MPS_APF_CHANNEL_OPEN, MPS_APF_CHANNEL_OPEN_CONFIRMATION,
		MPS_APF_CHANNEL_DATA, MPS_APF_CHANNEL_CLOSE,
		MPS_APF_PROTOCOLVERSION, MPS_APF_KEEPALIVE_REQUEST,
		MPS_APF_KEEPALIVE_REPLY, MPS_APF_KEEPALIVE_OPTIONS_REQUEST,
		MPS_APF_KEEPALIVE_OPTIONS_REPLY, 0, 2, 3, 100, 255 };
	uint8_t t = types[(k * 16 + take()) % sizeof(types)];
	mps_apf_msg_t m;

	memset(&m, 0, sizeof(m));
	m.type = t;
	switch (t) {
	case MPS_APF_SERVICE_ACCEPT:
	case MPS_APF_SERVICE_REQUEST:
		m.u.service.service = mps_apf_cstr(MPS_APF_SERVICE_PFWD);
		break;
	case MPS_APF_USERAUTH_REQUEST:
		(void)mps_apf_encode_userauth_request_password(&msg,
		    mps_apf_cstr("admin"), mps_apf_cstr(MPS_APF_SERVICE_PFWD),
		    mps_apf_cstr("P@ssw0rd"));
		if (dev_send(&msg) && z.model == M_USERAUTH)
			z.model = M_LOGIN_WAIT;
		return;
	case MPS_APF_USERAUTH_FAILURE:
		m.u.userauth_failure.methods = mps_apf_cstr("password");
		break;
	case MPS_APF_GLOBAL_REQUEST:
		(void)mps_apf_encode_tcpip_forward(&msg, 1,
		    mps_apf_cstr("x.example.com"), 16992);
		if (dev_send(&msg) && z.model >= M_ACTIVE)
			expect_reply(1);
		return;
	case MPS_APF_CHANNEL_OPEN:
		step_device_open(k);
		return;
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
		step_answer(k & 7);
		return;
	case MPS_APF_CHANNEL_DATA:
		step_data(k & 7);
		return;
	case MPS_APF_CHANNEL_CLOSE:
		step_close(k);
		return;
	case MPS_APF_PROTOCOLVERSION:
		(void)mps_apf_encode_protocolversion(&msg, 1, k, 0, z.uuid);
		/* Where it is allowed, the login moves on as step_login's. */
		if (dev_send(&msg) && z.model == M_VERSION)
			z.model = M_AUTH_SERVICE;
		return;
	case MPS_APF_DISCONNECT:
	case MPS_APF_REQUEST_SUCCESS:
	case MPS_APF_REQUEST_FAILURE:
	case MPS_APF_USERAUTH_SUCCESS:
	case MPS_APF_KEEPALIVE_REQUEST:
	case MPS_APF_KEEPALIVE_REPLY:
	case MPS_APF_KEEPALIVE_OPTIONS_REQUEST:
	case MPS_APF_KEEPALIVE_OPTIONS_REPLY:
		break;
	default: {
		/* A type APF does not have: its byte and some more. */
		uint8_t raw[5] = { t, 0, 0, 0, 0 };

		(void)mps_buf_put(&msg, raw, sizeof(raw));
		dev_send(&msg);
		return;
	}
	}
	if (mps_apf_encode(&msg, &m) != APR_SUCCESS) {
		mps_buf_reset(&msg);
		return;
	}
	if (!dev_send(&msg))
		return;
	/* What an allowed one does to the session's state. */
	if (t == MPS_APF_SERVICE_REQUEST)	/* the pfwd service */
		z.model = z.model == M_PFWD ? M_ACTIVE : M_UNKNOWN;
	else if (t == MPS_APF_DISCONNECT)
		z.model = M_UNKNOWN;
}

static void
step_end(unsigned k)
{
	mps_device_t *dev = NULL;

	switch (k & 3) {
	case 0:
		(void)mps_apf_encode_disconnect(&msg, k);
		if (dev_send(&msg))
			z.model = M_UNKNOWN;	/* mpsd closes, silently */
		break;
	case 1:
		dev_flush();
		(void)shutdown(z.fd, SHUT_WR);
		z.wr_shut = 1;
		break;
	default:
		if (mps_registry_lookup(registry, z.uuid_text, &dev) !=
		    APR_SUCCESS)
			break;
		if ((k & 3) == 2)
			mps_session_request_close(mps_device_session(dev),
			    MPS_APF_DISCONNECT_BY_APPLICATION, "fuzz");
		else
			mps_session_request_handover(mps_device_session(dev),
			    "fuzz");
		mps_device_release(dev);
		break;
	}
}

/* ---- one execution ---- */

/* mpsd's log goes to /dev/null, or with FZ_LOG=DIR to DIR/fz.log (to see
 * why mpsd did what a trace shows). */
static void
quiet_log(void)
{
	mps_log_options_t o;
	mps_logger_t *l = NULL;
	const char *dir = getenv("FZ_LOG");

	memset(&o, 0, sizeof(o));
	o.dir = dir != NULL ? dir : "/dev";
	o.file_name = dir != NULL ? "fz.log" : "null";
	o.max_files = 1;
	o.levels = MPS_LOG_ALL_LEVELS;
	if (mps_logger_open(&l, &o) == APR_SUCCESS)
		mps_log_set_default(l);
}

static void
init_once(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	signal(SIGPIPE, SIG_IGN);
	trace = getenv("FZ_TRACE") != NULL;
	if (apr_initialize() != APR_SUCCESS ||
	    apr_pool_create(&pool, NULL) != APR_SUCCESS)
		BUG("apr");
	quiet_log();
	fx_now = apr_time_from_sec(1800000000);
	mps_config_defaults(&base_cfg, pool);
	base_cfg.max_channels_per_device = 6;
	base_cfg.max_forwards_per_device = 3;
	if (mps_workers_create(&workers, 1, 1, pool) != APR_SUCCESS ||
	    mps_poller_create(&poller, 64, workers, pool) != APR_SUCCESS)
		BUG("core");
	mps_buf_init(&msg, 2 * 1024 * 1024);
	/* The harness's own buffers keep their storage from one execution
	 * to the next: under ASan a fresh megabyte is an mmap and a page
	 * fault per page, which made most of each execution's time. */
	mps_buf_set_keep(&msg, 2 * 1024 * 1024);
	mps_buf_init(&dev_rx, 4 * 1024 * 1024);
	mps_buf_init(&dev_tx, 4 * 1024 * 1024);
	mps_buf_set_keep(&dev_rx, 4 * 1024 * 1024);
	mps_buf_set_keep(&dev_tx, 4 * 1024 * 1024);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const apr_uint32_t windows[4] = { 65536, 4096, 1024, 499 };
	int sv[2], i;
	uint8_t setup;

	if (size == 0)
		return 0;
	init_once();
	memset(&z, 0, sizeof(z));
	z.d = data;
	z.n = size;
	setup = take();
	cfg = base_cfg;
	cfg.channel_window_size = windows[(setup >> 1) & 3];
	if (setup & 8)
		cfg.channel_window_overrun = 0;
	if (setup & 16)
		cfg.keepalive_timing = MPS_KEEPALIVE_AFTER_5900;
	memset(&side, 0, sizeof(side));
	if (mps_registry_create(&registry) != APR_SUCCESS)
		BUG("registry");
	side.cfg = &cfg;
	side.poller = poller;
	side.workers = workers;
	side.registry = registry;
	side.auth = (setup & 1) ? &fz_auth : NULL;
	side.channel_ops = mps_relay_tunnel_ops;
	side.channel_ops.on_device_open = fz_device_open;
	if (mps_amt_side_init(&side) != APR_SUCCESS)
		BUG("side");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(sv[1], F_SETFL, O_NONBLOCK) != 0)
		BUG("socketpair: %s", strerror(errno));
	if (setup & 32) {
		int small = 4096;

		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
		    sizeof(small));
		(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small,
		    sizeof(small));
	}
	z.fd = sv[1];
	z.rx = dev_rx;
	z.tx = dev_tx;
	for (i = 0; i < MPS_APF_UUID_LEN; i++)
		z.uuid[i] = (uint8_t)(0x10 + i);
	mps_apf_uuid_to_text(z.uuid, z.uuid_text);
	z.model = M_VERSION;
	mps_amt_accept(&side, sv[0], "192.0.2.10:16995");
	settle();

	while (z.off < z.n) {
		uint8_t op = take();
		unsigned k = op >> 4;

		TRACE("step %u k %u (model %d%s)\n", op & 15, k, z.model,
		    z.dirty ? ", dirty" : "");
		switch (op & 15) {
		case 0: step_login(k); break;
		case 1: step_forward(k); break;
		case 2: step_keepalive(k); break;
		case 3: step_device_open(k); break;
		case 4: step_answer(k); break;
		case 5: step_data(k); break;
		case 6: step_adjust(k); break;
		case 7: step_close(k); break;
		case 8:
			settle();
			(void)dev_read(k == 15 ? 0 : sizes[k]);
			break;
		case 9: step_console_open(k); break;
		case 10: step_console(k); break;
		case 11: step_peer_answer(k); break;
		case 12:
			settle();
			fx_advance(times[k], MAX_TASKS);
			break;
		case 13: step_raw(k); break;
		case 14: step_any_type(k); break;
		default: step_end(k); break;
		}
		settle();
	}

	/* The device reads everything: while the tunnel lives, every open
	 * of the device that reached the layer has had exactly the answers
	 * the layer gave. */
	if (read_all() && !z.eof && !z.saw_disconnect && !z.dirty &&
	    z.model == M_ACTIVE) {
		for (i = 0; i < z.ndch; i++) {
			dchan *d = &z.dch[i];

			if (d->by_mpsd)
				continue;
			if (d->answered != d->answer_events)
				BUG("a CHANNEL_OPEN of the device got %d answers, "
				    "%d issued", d->answered, d->answer_events);
			if (!d->reached && d->answered != 0)
				BUG("an answer to an open the layer never saw");
		}
	}

	/* The end: every session closed and freed. */
	(void)mps_amt_side_shutdown(&side, 0);
	for (i = 0; i < 64 && (atomic_load(&side.live) > 0 || !fx_idle());
	    i++) {
		settle();
		(void)dev_read(0);
		fx_advance(apr_time_from_sec(3), MAX_TASKS);
	}
	settle();
	if (atomic_load(&side.live) != 0 || atomic_load(&side.open) != 0)
		BUG("%u sessions left after shutdown",
		    (unsigned)atomic_load(&side.live));
	for (i = 0; i < z.npeers; i++) {
		if (z.peers[i]->had_chan && z.peers[i]->state != P_DONE)
			BUG("a peer with a channel was never finalized (state "
			    "%d)", z.peers[i]->state);
		free(z.peers[i]);
	}
	if (fx_timers_armed() != 0)
		BUG("%zu timers armed after every session ended",
		    (size_t)fx_timers_armed());
	if (fx_strands_alive() != 0)
		BUG("%ld strands left", fx_strands_alive());
	/* A registration left over would be polled in the next execution
	 * with a wrapper freed since (its descriptor number may well be
	 * that execution's socket): caught here, in the execution that
	 * left it. */
	if (fx_registrations() != 0)
		BUG("%zu poller registrations left", (size_t)fx_registrations());
	if (mps_registry_count(registry) != 0)
		BUG("devices left in the registry");
	close(z.fd);
	mps_buf_reset(&z.rx);
	mps_buf_reset(&z.tx);
	dev_rx = z.rx;		/* the storage, for the next execution */
	dev_tx = z.tx;
	mps_buf_reset(&msg);
	mps_amt_side_destroy(&side);
	mps_registry_destroy(registry);
	/* Every socket wrapper is back: free the spare ones, as mpsd does
	 * at exit, so that the leak checker sees each execution end clean. */
	if (mps_sockwrap_in_use() != 0)
		BUG("%zu socket wrappers still in use",
		    (size_t)mps_sockwrap_in_use());
	mps_sockwrap_cleanup();
	return 0;
}
