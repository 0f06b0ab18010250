/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_relay.c: the channels the MPS opens to a simulated device, each
 * relayed to a local target socket (--target PORT=HOST:PORT).
 *
 * Windows, named from our side (APF.md "Flow control", as LMS does it):
 *   local_window   bytes the MPS may still send us. Starts at --window;
 *                  CHANNEL_DATA beyond it is a protocol violation.
 *   consumed       bytes written to the target and not yet given back;
 *                  WINDOW_ADJUST returns exactly these, so the MPS can
 *                  never have more in flight than the target accepted
 *                  plus one window. Invariant:
 *                  local_window + queued-for-target + consumed == window.
 *   remote_window  bytes we may still send the MPS. The target socket is
 *                  read only while it is > 0 and the device's output is
 *                  under its high water, never more than it allows.
 * Neither direction buffers more than one window (towards the target) or
 * one read (towards the MPS, in the device's bounded output queue), so a
 * slow peer on either side pushes back instead of growing memory.
 *
 * Ending (CHANNEL_CLOSE is the only end of a channel, answered once):
 *   target EOF or error  -> CHANNEL_CLOSE; the channel lives on until the
 *                           MPS answers with its own.
 *   MPS CHANNEL_CLOSE    -> stop reading the target, write what is
 *                           queued for it (bounded by a linger time),
 *                           close it, answer CHANNEL_CLOSE unless ours
 *                           was sent already.
 * A channel is freed only when both closes are done; its id (the slot)
 * may then be reused.
 *
 * Direct channels (--direct, how AMT delivers WS-Eventing): the device
 * opens CHANNEL_OPEN direct-tcpip itself (our id, our window, connected =
 * the requested host:port, originator = the device's own address). They
 * share the channel table and its windows, but have no target socket:
 *   CONFIRMATION       send the request file as CHANNEL_DATA, never more
 *                      than the MPS's window or the device's output room;
 *                      the rest goes on WINDOW_ADJUST or when the output
 *                      drains;
 *   OPEN_FAILURE       `direct-open-failed reason=R`, the slot is free;
 *   CHANNEL_DATA       the answer: hashed (SHA-256), saved with
 *                      --direct-save, given back at once by WINDOW_ADJUST;
 *   CHANNEL_CLOSE      the answer is complete: `direct-done`, and our
 *                      CHANNEL_CLOSE answers it (once).
 * No answer to the open within --reply-timeout fails the device: an MPS
 * must confirm or refuse.
 *
 * Built-in targets (--target PORT=sink, PORT=source:BYTES) have no socket
 * either: the device itself is the far end, so that a test measures the
 * MPS and not a third process. A channel to one is confirmed at once;
 * what the MPS sends is hashed and given back (WINDOW_ADJUST, by the
 * --window-adjust policy); a source sends its bytes of the seeded stream
 * (sim_stream.c) under the MPS's window and the device's output room,
 * then CHANNEL_CLOSE. The closed line carries the SHA-256 of each
 * direction.
 *
 * Every channel records the largest pause between two consecutive
 * CHANNEL_DATA the device received (rx-gap-ms) and sent (tx-gap-ms):
 * a test of a bulk transfer asserts that nothing waited for a timer.
 *
 * --ignore-window N lets the device send up to N bytes that no window of
 * the MPS covers (a client without flow control). The overrun is kept
 * apart from remote_window: WINDOW_ADJUSTs pay it back first, exactly as
 * the MPS's own accounting sees it, and the closed line reports the
 * largest overrun (max-beyond-window).
 */
#include "sim.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

enum {
	CH_CONNECTING = 1,	/* target connect in progress, MPS waits */
	CH_OPENING,		/* direct: our CHANNEL_OPEN sent, we wait */
	CH_OPEN,		/* confirmed */
	CH_DEAD			/* on the zombie list */
};

typedef struct sim_channel {
	sim_io io;			/* the target socket; first member */
	sim_device *dev;
	struct sim_channel *next_zombie;
	const sim_target *target;
	uint32_t id;			/* ours: the slot in dev->chans */
	uint32_t remote_id;		/* the MPS's */
	uint32_t remote_window;
	uint32_t local_window;
	uint32_t consumed;
	uint32_t port;			/* the APF port it was opened to */
	uint8_t state;
	unsigned close_sent : 1;
	unsigned close_rcvd : 1;
	unsigned target_eof : 1;
	const char *closed_by;		/* "target" or "mps", whoever first */
	mps_buf_t to_target;		/* at most one window */
	uint64_t deadline;		/* connect or final-flush limit */
	uint64_t tx;			/* bytes sent to the MPS */
	uint64_t rx;			/* bytes received from the MPS */
	/* direct-tcpip (--direct): no target socket */
	const sim_action *direct;	/* NULL: forwarded-tcpip */
	unsigned direct_k;		/* its --direct position */
	size_t sent_off;		/* request bytes sent */
	EVP_MD_CTX *sha;		/* over the answer (direct), over what
					 * a built-in target received */
	FILE *save;			/* --direct-save, NULL: none */
	/* built-in targets: no target socket */
	EVP_MD_CTX *tx_sha;		/* over what a source sent */
	sim_stream src;			/* a source's bytes */
	uint64_t src_left;		/* ... still to send */
	/* --ignore-window */
	uint64_t beyond;		/* sent, not covered by a window yet */
	uint64_t max_beyond;
	/* pauses between consecutive CHANNEL_DATA, ms */
	uint64_t last_rx_ms, last_tx_ms;	/* 0: none yet */
	uint64_t rx_gap_ms, tx_gap_ms;
} sim_channel;

static sim_channel *zombies;

static void target_gone(sim_channel *, const char *);
static void give_back(sim_channel *);
static void direct_pump(sim_channel *);
static void direct_receive(sim_channel *, mps_apf_str_t);
static void direct_done(sim_channel *);
static void on_open_answer(sim_device *, const mps_apf_msg_t *);
static void source_pump(sim_channel *);

static const char *
errno_token(int e)
{
	const char *name = strerrorname_np(e);

	return name != NULL ? name : "os-error";
}

static sim_channel *
lookup(const sim_device *d, uint32_t id)
{
	sim_channel *ch;

	if (id >= d->chan_cap || (ch = d->chans[id]) == NULL ||
	    ch->state == CH_DEAD)
		return NULL;
	return ch;
}

/* The device itself is the target (sink or source). */
static int
builtin(const sim_channel *ch)
{
	return ch->direct == NULL && ch->target != NULL &&
	    ch->target->kind != SIM_TARGET_SOCKET;
}

/* The largest pause between two data messages of one direction. */
static void
note_gap(uint64_t *last, uint64_t *max)
{
	uint64_t now = sim_clock();	/* exact: a pass may be long */

	if (*last != 0 && now - *last > *max)
		*max = now - *last;
	*last = now;
}

/* Bytes the device may send now: the MPS's window, and with
 * --ignore-window what it may still send beyond it. */
static uint64_t
send_allowance(const sim_channel *ch)
{
	uint64_t extra = sim_opt.ignore_window > ch->beyond ?
	    sim_opt.ignore_window - ch->beyond : 0;

	return (uint64_t)ch->remote_window + extra;
}

/* n bytes went out as CHANNEL_DATA: the window pays, then the overrun. */
static void
account_sent(sim_channel *ch, size_t n)
{
	if (n <= ch->remote_window)
		ch->remote_window -= (uint32_t)n;
	else {
		ch->beyond += n - ch->remote_window;
		ch->remote_window = 0;
		if (ch->beyond > ch->max_beyond)
			ch->max_beyond = ch->beyond;
	}
	ch->tx += n;
	sim_g.c.bytes_to_mps += n;
	note_gap(&ch->last_tx_ms, &ch->tx_gap_ms);
}

/* A cap of type size_t from a 64-bit allowance. */
static size_t
cap_size(size_t n, uint64_t limit)
{
	return (uint64_t)n > limit ? (size_t)limit : n;
}

static int
alloc_slot(sim_device *d, uint32_t *id)
{
	struct sim_channel **p;
	uint32_t i, ncap;

	for (i = 0; i < d->chan_cap; i++)
		if (d->chans[i] == NULL) {
			*id = i;
			return 0;
		}
	if (d->chan_cap >= SIM_CHANNELS_CAP)
		return -1;
	ncap = d->chan_cap != 0 ? 2u * d->chan_cap : 4u;
	if (ncap > SIM_CHANNELS_CAP)
		ncap = SIM_CHANNELS_CAP;
	if ((p = realloc(d->chans, ncap * sizeof(*p))) == NULL)
		return -1;
	memset(p + d->chan_cap, 0, (ncap - d->chan_cap) * sizeof(*p));
	d->chans = p;
	*id = d->chan_cap;
	d->chan_cap = (uint16_t)ncap;
	return 0;
}

static void
close_target(sim_channel *ch)
{
	if (ch->io.fd < 0)
		return;
	(void)sim_io_set(&ch->io, 0);
	(void)close(ch->io.fd);
	ch->io.fd = -1;
	ch->io.events = 0;
}

/* Frees the slot; the memory goes when the current event batch ends. */
static void
kill_channel(sim_channel *ch)
{
	sim_device *d = ch->dev;

	if (ch->state == CH_DEAD)
		return;
	close_target(ch);
	mps_buf_free(&ch->to_target);
	EVP_MD_CTX_free(ch->sha);
	ch->sha = NULL;
	EVP_MD_CTX_free(ch->tx_sha);
	ch->tx_sha = NULL;
	if (ch->save != NULL)
		(void)fclose(ch->save);
	ch->save = NULL;
	if (d->chans != NULL && ch->id < d->chan_cap && d->chans[ch->id] == ch)
		d->chans[ch->id] = NULL;
	d->chan_count--;
	sim_g.c.channels_live--;
	ch->state = CH_DEAD;
	ch->next_zombie = zombies;
	zombies = ch;
}

void
sim_relay_reap(void)
{
	sim_channel *ch;

	while ((ch = zombies) != NULL) {
		zombies = ch->next_zombie;
		free(ch);
	}
}

static const sim_target *
find_target(uint32_t port)
{
	unsigned i;

	for (i = 0; i < sim_opt.ntargets; i++)
		if (sim_opt.targets[i].port == port)
			return &sim_opt.targets[i];
	return NULL;
}

/* Device-side checks done: is the device still able to carry data? */
static int
device_live(const sim_device *d)
{
	return d->state == DS_FORWARDING || d->state == DS_READY;
}

static void
update_interest(sim_channel *ch)
{
	sim_device *d = ch->dev;
	uint32_t ev = 0;

	if (ch->state == CH_DEAD || ch->io.fd < 0)
		return;
	if (ch->state == CH_CONNECTING)
		ev = EPOLLOUT;
	else {
		if (!ch->target_eof && !ch->close_rcvd && !ch->close_sent &&
		    send_allowance(ch) > 0 && device_live(d) &&
		    sim_device_out_room(d) > MPS_APF_CHANNEL_DATA_HDR_LEN)
			ev |= EPOLLIN;
		if (mps_buf_len(&ch->to_target) > 0)
			ev |= EPOLLOUT;
	}
	/* Cannot watch it (out of kernel memory): a lost target. */
	if (sim_io_set(&ch->io, ev) != 0)
		target_gone(ch, "epoll-failed");
}

/* ---- Opening ---- */

static void
refuse_open(sim_device *d, uint32_t remote_id, uint32_t port,
    uint32_t reason, const char *why)
{
	sim_g.c.channel_failures++;
	sim_dev_say(d, 0, "channel-open-failed peer=%u port=%u reason=%u "
	    "why=%s", remote_id, port, reason, why);
	(void)sim_device_queued(d, mps_apf_encode_channel_open_failure(&d->out,
	    remote_id, reason), MPS_APF_CHANNEL_OPEN_FAILURE);
}

/* A pending open did not work out: OPEN_FAILURE, and the slot is free. */
static void
fail_pending(sim_channel *ch, uint32_t reason, const char *why)
{
	sim_device *d = ch->dev;

	kill_channel(ch);
	refuse_open(d, ch->remote_id, ch->port, reason, why);
}

/*
 * --misbehave overrun: as soon as a channel is open, send the MPS one
 * byte more than the window it gave us, in one CHANNEL_DATA.
 */
static void
overrun(sim_channel *ch)
{
	sim_device *d = ch->dev;
	uint8_t *tail;
	size_t n;
	char detail[64];

	if (ch->remote_window >= MPS_APF_MAX_DATA) {
		sim_dev_say(d, 1, "overrun-skipped window=%u",
		    ch->remote_window);
		return;
	}
	n = (size_t)ch->remote_window + 1;
	if (mps_buf_reserve(&d->out, MPS_APF_CHANNEL_DATA_HDR_LEN + n,
	    &tail) != APR_SUCCESS ||
	    mps_apf_channel_data_header(tail, ch->remote_id, n) !=
	    APR_SUCCESS) {
		(void)sim_device_queued(d, APR_ENOMEM, MPS_APF_CHANNEL_DATA);
		return;
	}
	memset(tail + MPS_APF_CHANNEL_DATA_HDR_LEN, 'x', n);
	(void)mps_buf_commit(&d->out, MPS_APF_CHANNEL_DATA_HDR_LEN + n);
	ch->remote_window = 0;
	(void)snprintf(detail, sizeof(detail), "channel=%u bytes=%zu",
	    ch->id, n);
	sim_device_misbehaved(d, detail);
}

static void
confirm(sim_channel *ch)
{
	sim_device *d = ch->dev;

	ch->state = CH_OPEN;
	ch->deadline = 0;
	if (sim_device_queued(d, mps_apf_encode_channel_open_confirmation(
	    &d->out, ch->remote_id, ch->id, sim_opt.window),
	    MPS_APF_CHANNEL_OPEN_CONFIRMATION) != 0)
		return;
	sim_g.c.channels_opened++;
	sim_dev_say(d, 0, "channel %u opened port=%u peer=%u window=%u "
	    "peer-window=%u target=%s", ch->id, ch->port, ch->remote_id,
	    sim_opt.window, ch->remote_window, ch->target->text);
	if (d->misbehave == SIM_MB_OVERRUN && !d->mb_sent)
		overrun(ch);
	update_interest(ch);
}

/* A built-in target: nothing to connect, the channel is confirmed. */
static void
open_builtin(sim_channel *ch)
{
	const sim_target *t = ch->target;

	if ((ch->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ch->sha, EVP_sha256(), NULL) != 1 ||
	    (t->kind == SIM_TARGET_SOURCE &&
	    ((ch->tx_sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ch->tx_sha, EVP_sha256(), NULL) != 1))) {
		fail_pending(ch, MPS_APF_OPEN_RESOURCE_SHORTAGE, "no-memory");
		return;
	}
	if (t->kind == SIM_TARGET_SOURCE) {
		sim_stream_init(&ch->src, t->source_seed);
		ch->src_left = t->source_bytes;
	}
	confirm(ch);
	if (ch->state == CH_OPEN)
		source_pump(ch);
}

static void
start_connect(sim_channel *ch)
{
	const sim_target *t = ch->target;
	int fd, one = 1;

	if (t->kind != SIM_TARGET_SOCKET) {
		open_builtin(ch);
		return;
	}
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		/* Out of descriptors is AMT's "out of channels". */
		fail_pending(ch, MPS_APF_OPEN_RESOURCE_SHORTAGE,
		    errno_token(errno));
		return;
	}
	ch->io.fd = fd;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&t->addr, t->addrlen) == 0) {
		confirm(ch);
		return;
	}
	if (errno != EINPROGRESS) {
		fail_pending(ch, MPS_APF_OPEN_CONNECT_FAILED,
		    errno_token(errno));
		return;
	}
	update_interest(ch);
}

static void
on_open(sim_device *d, const mps_apf_msg_t *m)
{
	uint32_t remote = m->u.channel_open.sender;
	uint32_t port = m->u.channel_open.connected_port;
	const sim_target *t;
	sim_channel *ch;
	uint32_t id;

	if (sim_opt.verbose)
		sim_dev_say(d, 0, "channel-open peer=%u port=%u window=%u "
		    "originator=%.*s:%u", remote, port,
		    m->u.channel_open.window,
		    (int)m->u.channel_open.originator_addr.len,
		    m->u.channel_open.originator_addr.ptr,
		    m->u.channel_open.originator_port);
	if (!mps_apf_str_eq(m->u.channel_open.type,
	    MPS_APF_CHAN_FORWARDED_TCPIP)) {
		refuse_open(d, remote, port, MPS_APF_OPEN_UNKNOWN_CHANNEL_TYPE,
		    "channel-type");
		return;
	}
	if (d->chan_count >= sim_opt.max_channels) {
		refuse_open(d, remote, port, MPS_APF_OPEN_RESOURCE_SHORTAGE,
		    "max-channels");
		return;
	}
	if ((t = find_target(port)) == NULL) {
		refuse_open(d, remote, port, MPS_APF_OPEN_CONNECT_FAILED,
		    "no-target");
		return;
	}
	if (alloc_slot(d, &id) != 0 ||
	    (ch = calloc(1, sizeof(*ch))) == NULL) {
		refuse_open(d, remote, port, MPS_APF_OPEN_RESOURCE_SHORTAGE,
		    "no-memory");
		return;
	}
	ch->io.fd = -1;
	ch->io.kind = SIM_IO_TARGET;
	ch->dev = d;
	ch->target = t;
	ch->id = id;
	ch->remote_id = remote;
	ch->remote_window = m->u.channel_open.window;
	ch->local_window = sim_opt.window;
	ch->port = port;
	ch->state = CH_CONNECTING;
	ch->deadline = sim_g.now + SIM_CHANNEL_LINGER_MS;
	mps_buf_init(&ch->to_target, sim_opt.window);
	d->chans[id] = ch;
	d->chan_count++;
	sim_g.c.channels_live++;
	start_connect(ch);
}

/* ---- Ending ---- */

/* " NAME=HEX" of a SHA-256 in progress (finalized: once only), or "". */
static void
digest_field(EVP_MD_CTX *md, const char *name, char *out, size_t size)
{
	unsigned char v[EVP_MAX_MD_SIZE];
	unsigned len = 0, i;
	int n;

	out[0] = '\0';
	if (md == NULL || EVP_DigestFinal_ex(md, v, &len) != 1)
		return;
	n = snprintf(out, size, " %s=", name);
	for (i = 0; i < len && n > 0 && (size_t)n + 3 <= size; i++)
		n += snprintf(out + n, size - (size_t)n, "%02x", v[i]);
}

static void
report_closed(sim_channel *ch)
{
	char rxh[96], txh[96], beyond[48];
	uint64_t gap = ch->rx_gap_ms > ch->tx_gap_ms ? ch->rx_gap_ms :
	    ch->tx_gap_ms;

	digest_field(builtin(ch) ? ch->sha : NULL, "rx-sha256", rxh,
	    sizeof(rxh));
	digest_field(builtin(ch) ? ch->tx_sha : NULL, "tx-sha256", txh,
	    sizeof(txh));
	beyond[0] = '\0';
	if (sim_opt.ignore_window != 0)
		(void)snprintf(beyond, sizeof(beyond), " max-beyond-window=%llu",
		    (unsigned long long)ch->max_beyond);
	sim_dev_say(ch->dev, 0, "channel %u closed port=%u by=%s tx=%llu "
	    "rx=%llu max-gap-ms=%llu rx-gap-ms=%llu tx-gap-ms=%llu%s%s%s",
	    ch->id, ch->port, ch->closed_by != NULL ? ch->closed_by : "device",
	    (unsigned long long)ch->tx, (unsigned long long)ch->rx,
	    (unsigned long long)gap, (unsigned long long)ch->rx_gap_ms,
	    (unsigned long long)ch->tx_gap_ms, rxh, txh, beyond);
}

/* Both ends are done with the channel: answer the MPS if needed. */
static void
finish(sim_channel *ch)
{
	sim_device *d = ch->dev;
	int answer = !ch->close_sent;

	if (ch->io.fd >= 0)
		(void)shutdown(ch->io.fd, SHUT_WR);
	report_closed(ch);
	kill_channel(ch);
	if (answer)
		(void)sim_device_queued(d, mps_apf_encode_channel_close(&d->out,
		    ch->remote_id), MPS_APF_CHANNEL_CLOSE);
}

/* Our side of the channel ends (target EOF or error). */
static void
send_close(sim_channel *ch)
{
	sim_device *d = ch->dev;

	if (ch->closed_by == NULL)
		ch->closed_by = "target";
	if (ch->close_sent)
		return;
	ch->close_sent = 1;
	(void)sim_device_queued(d, mps_apf_encode_channel_close(&d->out,
	    ch->remote_id), MPS_APF_CHANNEL_CLOSE);
}

/* The target is unusable: whatever was queued for it is dropped. */
static void
target_gone(sim_channel *ch, const char *why)
{
	if (sim_opt.verbose)
		sim_dev_say(ch->dev, 0, "channel %u target-error %s", ch->id,
		    why);
	close_target(ch);
	mps_buf_free(&ch->to_target);
	send_close(ch);
	if (ch->close_rcvd && ch->state != CH_DEAD)
		finish(ch);
}

void
sim_relay_abort_all(sim_device *d)
{
	sim_channel *ch;
	uint32_t i;

	for (i = 0; i < d->chan_cap; i++) {
		if ((ch = d->chans[i]) == NULL)
			continue;
		if (ch->direct != NULL)
			sim_dev_say(d, 0, "direct-aborted channel=%u sent=%zu "
			    "received=%llu dest=%s", ch->id, ch->sent_off,
			    (unsigned long long)ch->rx, ch->direct->text);
		else if (ch->state == CH_OPEN) {
			if (ch->closed_by == NULL)
				ch->closed_by = "device";
			report_closed(ch);
		}
		kill_channel(ch);
	}
	free(d->chans);
	d->chans = NULL;
	d->chan_cap = 0;
	d->chan_count = 0;
}

/* ---- Data ---- */

/* WINDOW_ADJUST for what the target took: at once when nothing is left
 * queued (the 499-byte windows of real AMT need that), else in halves;
 * with --window-adjust half, only in halves (LMS, Open AMT, mpsd). */
static void
give_back(sim_channel *ch)
{
	sim_device *d = ch->dev;
	uint32_t n = ch->consumed;

	if (n == 0 || ch->close_sent || ch->close_rcvd ||
	    ((sim_opt.adjust == SIM_ADJUST_HALF ||
	    mps_buf_len(&ch->to_target) > 0) && n < sim_opt.window / 2))
		return;
	if (sim_device_queued(d, mps_apf_encode_window_adjust(&d->out,
	    ch->remote_id, n), MPS_APF_CHANNEL_WINDOW_ADJUST) != 0)
		return;
	ch->consumed = 0;
	ch->local_window += n;
}

/* Writes p[0..n) to the target; returns bytes taken, -1 if it is gone. */
static ssize_t
write_target(sim_channel *ch, const void *p, size_t n)
{
	ssize_t w;

	w = send(ch->io.fd, p, n, MSG_NOSIGNAL);
	if (w >= 0)
		return w;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	target_gone(ch, errno_token(errno));
	return -1;
}

static void
flush_target(sim_channel *ch)
{
	ssize_t w;

	while (ch->io.fd >= 0 && mps_buf_len(&ch->to_target) > 0) {
		w = write_target(ch, mps_buf_ptr(&ch->to_target),
		    mps_buf_len(&ch->to_target));
		if (w <= 0)
			break;
		(void)mps_buf_consume(&ch->to_target, (size_t)w);
		ch->consumed += (uint32_t)w;
	}
	if (ch->state == CH_DEAD)
		return;
	if (ch->close_rcvd && (ch->io.fd < 0 ||
	    mps_buf_len(&ch->to_target) == 0)) {
		finish(ch);
		return;
	}
	give_back(ch);
}

static void
on_data(sim_device *d, sim_channel *ch, mps_apf_str_t data)
{
	char what[96];
	ssize_t w = 0;

	if (data.len > ch->local_window) {
		(void)snprintf(what, sizeof(what),
		    "window-exceeded channel=%u len=%zu window=%u", ch->id,
		    data.len, ch->local_window);
		sim_device_protocol_error(d, what);
		return;
	}
	ch->local_window -= (uint32_t)data.len;
	ch->rx += data.len;
	sim_g.c.bytes_from_mps += data.len;
	if (data.len > 0)
		note_gap(&ch->last_rx_ms, &ch->rx_gap_ms);
	if (ch->direct != NULL) {
		direct_receive(ch, data);
		return;
	}
	if (builtin(ch)) {
		/* Taken at once, hashed: the window goes back by policy. */
		if (EVP_DigestUpdate(ch->sha, data.ptr, data.len) != 1) {
			sim_device_fail(d, "sha256-failed");
			return;
		}
		ch->consumed += (uint32_t)data.len;
		give_back(ch);
		return;
	}
	if (ch->io.fd < 0)
		return;		/* target gone, CLOSE sent: dropped */
	/* Straight to the target when nothing waits before it. */
	if (mps_buf_len(&ch->to_target) == 0 &&
	    (w = write_target(ch, data.ptr, data.len)) < 0)
		return;
	ch->consumed += (uint32_t)w;
	if ((size_t)w < data.len && mps_buf_put(&ch->to_target,
	    data.ptr + w, data.len - (size_t)w) != APR_SUCCESS) {
		/* Cannot happen while the window invariant holds. */
		sim_device_protocol_error(d, "target-queue-full");
		return;
	}
	give_back(ch);
	update_interest(ch);
}

static void
on_adjust(sim_device *d, sim_channel *ch, uint32_t add)
{
	uint32_t paid = add < ch->beyond ? add : (uint32_t)ch->beyond;

	/* An overrun (--ignore-window) is covered first: the MPS counts
	 * those bytes against the window it grants. */
	ch->beyond -= paid;
	add -= paid;
	if ((uint64_t)ch->remote_window + add > UINT32_MAX) {
		sim_device_protocol_error(d, "window-adjust-overflow");
		return;
	}
	ch->remote_window += add;
	if (ch->direct != NULL)
		direct_pump(ch);
	else if (builtin(ch))
		source_pump(ch);
	else
		update_interest(ch);
}

static void
on_close(sim_device *d, sim_channel *ch)
{
	if (ch->close_rcvd) {
		sim_device_protocol_error(d, "double-CHANNEL_CLOSE");
		return;
	}
	ch->close_rcvd = 1;
	if (ch->closed_by == NULL)
		ch->closed_by = "mps";
	if (ch->direct != NULL) {
		direct_done(ch);
		return;
	}
	ch->deadline = sim_g.now + SIM_CHANNEL_LINGER_MS;
	flush_target(ch);
	if (ch->state != CH_DEAD)
		update_interest(ch);
}

static uint32_t
recipient_of(const mps_apf_msg_t *m)
{
	switch (m->type) {
	case MPS_APF_CHANNEL_DATA:
		return m->u.channel_data.recipient;
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
		return m->u.window_adjust.recipient;
	default:
		return m->u.channel_close.recipient;
	}
}

void
sim_relay_on_message(sim_device *d, const mps_apf_msg_t *m)
{
	sim_channel *ch;
	char what[96];

	switch (m->type) {
	case MPS_APF_CHANNEL_OPEN:
		on_open(d, m);
		return;
	case MPS_APF_CHANNEL_OPEN_CONFIRMATION:
	case MPS_APF_CHANNEL_OPEN_FAILURE:
		on_open_answer(d, m);
		return;
	case MPS_APF_CHANNEL_DATA:
	case MPS_APF_CHANNEL_WINDOW_ADJUST:
	case MPS_APF_CHANNEL_CLOSE:
		break;
	default:
		(void)snprintf(what, sizeof(what), "unexpected-%s",
		    mps_apf_msg_name(m->type));
		sim_device_protocol_error(d, what);
		return;
	}
	/* The MPS learns our id only from the CONFIRMATION. */
	if ((ch = lookup(d, recipient_of(m))) == NULL ||
	    ch->state != CH_OPEN) {
		(void)snprintf(what, sizeof(what), "%s-unknown-channel=%u",
		    mps_apf_msg_name(m->type), recipient_of(m));
		sim_device_protocol_error(d, what);
		return;
	}
	if (ch->close_rcvd) {
		(void)snprintf(what, sizeof(what), "%s-after-close channel=%u",
		    mps_apf_msg_name(m->type), ch->id);
		sim_device_protocol_error(d, what);
		return;
	}
	if (m->type == MPS_APF_CHANNEL_DATA)
		on_data(d, ch, m->u.channel_data.data);
	else if (m->type == MPS_APF_CHANNEL_WINDOW_ADJUST)
		on_adjust(d, ch, m->u.window_adjust.bytes_to_add);
	else
		on_close(d, ch);
}

/* ---- Direct channels (--direct) ---- */

void
sim_relay_open_direct(sim_device *d, const sim_action *a, unsigned k)
{
	char orig[64];
	uint32_t orig_port, id;
	sim_channel *ch;

	if (alloc_slot(d, &id) != 0 ||
	    (ch = calloc(1, sizeof(*ch))) == NULL) {
		sim_device_fail(d, "direct-no-memory");
		return;
	}
	ch->io.fd = -1;
	ch->io.kind = SIM_IO_TARGET;	/* never registered: no socket */
	ch->dev = d;
	ch->direct = a;
	ch->direct_k = k;
	ch->id = id;
	ch->local_window = sim_opt.window;
	ch->port = a->port;
	ch->state = CH_OPENING;
	ch->deadline = sim_opt.reply_timeout_ms != 0 ?
	    sim_g.now + sim_opt.reply_timeout_ms : 0;
	mps_buf_init(&ch->to_target, 0);
	d->chans[id] = ch;
	d->chan_count++;
	sim_g.c.channels_live++;
	/* What AMT puts there: its own address and port. */
	(void)sim_device_local_addr(d, orig, sizeof(orig), &orig_port);
	if (sim_device_queued(d, mps_apf_encode_channel_open(&d->out,
	    mps_apf_cstr(MPS_APF_CHAN_DIRECT_TCPIP), id, sim_opt.window,
	    mps_apf_cstr(a->host), a->port, mps_apf_cstr(orig), orig_port),
	    MPS_APF_CHANNEL_OPEN) != 0)
		return;		/* the device closes, its channels with it */
	sim_dev_say(d, 0, "direct-open channel=%u dest=%s window=%u "
	    "originator=%s:%u", id, a->text, sim_opt.window, orig, orig_port);
}

/* --direct-save FILE: FILE itself for the only direct channel of the
 * only device, FILE.<device>.<k> when there are several. */
static void
open_save(sim_channel *ch)
{
	sim_device *d = ch->dev;
	char path[4096];
	int n;

	if (sim_opt.direct_save == NULL)
		return;
	if (sim_opt.count == 1 && sim_opt.ndirects == 1)
		n = snprintf(path, sizeof(path), "%s", sim_opt.direct_save);
	else
		n = snprintf(path, sizeof(path), "%s.%u.%u",
		    sim_opt.direct_save, d->index, ch->direct_k);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (ch->save = fopen(path, "wb")) == NULL) {
		sim_dev_say(d, 1, "direct-save-failed path=%s error=%s",
		    n < 0 || (size_t)n >= sizeof(path) ? "too-long" : path,
		    errno_token(errno));
		d->bad = 1;
	}
}

static void
on_open_answer(sim_device *d, const mps_apf_msg_t *m)
{
	int confirmed = m->type == MPS_APF_CHANNEL_OPEN_CONFIRMATION;
	uint32_t id = confirmed ? m->u.channel_open_confirmation.recipient :
	    m->u.channel_open_failure.recipient;
	sim_channel *ch;
	char what[96];

	/* Only a direct channel we opened and that is still unanswered. */
	if ((ch = lookup(d, id)) == NULL || ch->state != CH_OPENING) {
		(void)snprintf(what, sizeof(what), "unexpected-%s channel=%u",
		    mps_apf_msg_name(m->type), id);
		sim_device_protocol_error(d, what);
		return;
	}
	if (!confirmed) {
		sim_g.c.direct_refused++;
		sim_dev_say(d, 0, "direct-open-failed reason=%u dest=%s",
		    m->u.channel_open_failure.reason, ch->direct->text);
		kill_channel(ch);
		sim_actions_direct_ended(d);
		return;
	}
	ch->remote_id = m->u.channel_open_confirmation.sender;
	ch->remote_window = m->u.channel_open_confirmation.window;
	ch->state = CH_OPEN;
	ch->deadline = 0;
	if ((ch->sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ch->sha, EVP_sha256(), NULL) != 1) {
		sim_device_fail(d, "sha256-init-failed");
		return;
	}
	sim_g.c.channels_opened++;
	sim_dev_say(d, 0, "direct-opened channel=%u peer=%u peer-window=%u "
	    "dest=%s", ch->id, ch->remote_id, ch->remote_window,
	    ch->direct->text);
	open_save(ch);
	direct_pump(ch);
}

/* Sends more of the request: within the MPS's window and the device's
 * output room, one chunk per message. */
static void
direct_pump(sim_channel *ch)
{
	sim_device *d = ch->dev;
	const sim_action *a = ch->direct;
	size_t n, room;

	while (ch->state == CH_OPEN && ch->sent_off < a->len &&
	    send_allowance(ch) > 0 && !ch->close_sent && !ch->close_rcvd &&
	    device_live(d)) {
		if ((room = sim_device_out_room(d)) <=
		    MPS_APF_CHANNEL_DATA_HDR_LEN)
			return;
		n = cap_size(a->len - ch->sent_off, send_allowance(ch));
		if (n > room - MPS_APF_CHANNEL_DATA_HDR_LEN)
			n = room - MPS_APF_CHANNEL_DATA_HDR_LEN;
		if (n > SIM_IO_CHUNK)
			n = SIM_IO_CHUNK;
		if (sim_device_queued(d, mps_apf_encode_channel_data(&d->out,
		    ch->remote_id, a->data + ch->sent_off, n),
		    MPS_APF_CHANNEL_DATA) != 0)
			return;
		ch->sent_off += n;
		account_sent(ch, n);
	}
}

static void
direct_receive(sim_channel *ch, mps_apf_str_t data)
{
	sim_device *d = ch->dev;

	if (EVP_DigestUpdate(ch->sha, data.ptr, data.len) != 1) {
		sim_device_fail(d, "sha256-failed");
		return;
	}
	if (ch->save != NULL && data.len > 0 &&
	    fwrite(data.ptr, 1, data.len, ch->save) != data.len) {
		sim_dev_say(d, 1, "direct-save-failed channel=%u error=%s",
		    ch->id, errno_token(errno));
		(void)fclose(ch->save);
		ch->save = NULL;
		d->bad = 1;
	}
	/* Taken at once: the whole window goes back. */
	ch->consumed += (uint32_t)data.len;
	give_back(ch);
}

/* The MPS closed: the answer is complete. Report, answer the close. */
static void
direct_done(sim_channel *ch)
{
	sim_device *d = ch->dev;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0, i;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	int answer = !ch->close_sent;

	if (EVP_DigestFinal_ex(ch->sha, md, &mdlen) != 1) {
		sim_device_fail(d, "sha256-failed");
		return;
	}
	for (i = 0; i < mdlen; i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	if (ch->save != NULL && fclose(ch->save) != 0) {
		sim_dev_say(d, 1, "direct-save-failed channel=%u error=%s",
		    ch->id, errno_token(errno));
		d->bad = 1;
	}
	ch->save = NULL;
	sim_g.c.direct_done++;
	sim_dev_say(d, 0, "direct-done sent=%zu received=%llu sha256=%s "
	    "dest=%s", ch->sent_off, (unsigned long long)ch->rx, hex,
	    ch->direct->text);
	kill_channel(ch);
	if (answer)
		(void)sim_device_queued(d, mps_apf_encode_channel_close(&d->out,
		    ch->remote_id), MPS_APF_CHANNEL_CLOSE);
	sim_actions_direct_ended(d);
}

/* ---- Source targets ---- */

/*
 * Sends more of a source's bytes, straight into the device's output:
 * within the window (and --ignore-window), the output room, one chunk
 * per message. The last byte sent, CHANNEL_CLOSE follows.
 */
static void
source_pump(sim_channel *ch)
{
	sim_device *d = ch->dev;
	size_t room, n;
	uint8_t *tail;

	while (ch->state == CH_OPEN && ch->src_left > 0 &&
	    send_allowance(ch) > 0 && !ch->close_sent && !ch->close_rcvd &&
	    device_live(d)) {
		if ((room = sim_device_out_room(d)) <=
		    MPS_APF_CHANNEL_DATA_HDR_LEN)
			return;
		n = cap_size(room - MPS_APF_CHANNEL_DATA_HDR_LEN,
		    send_allowance(ch));
		n = cap_size(n, ch->src_left);
		if (n > SIM_IO_CHUNK)
			n = SIM_IO_CHUNK;
		if (mps_buf_reserve(&d->out, MPS_APF_CHANNEL_DATA_HDR_LEN + n,
		    &tail) != APR_SUCCESS ||
		    mps_apf_channel_data_header(tail, ch->remote_id, n) !=
		    APR_SUCCESS) {
			(void)sim_device_queued(d, APR_ENOMEM,
			    MPS_APF_CHANNEL_DATA);
			return;
		}
		sim_stream_fill(&ch->src, tail + MPS_APF_CHANNEL_DATA_HDR_LEN, n);
		if (EVP_DigestUpdate(ch->tx_sha, tail +
		    MPS_APF_CHANNEL_DATA_HDR_LEN, n) != 1) {
			sim_device_fail(d, "sha256-failed");
			return;
		}
		(void)mps_buf_commit(&d->out, MPS_APF_CHANNEL_DATA_HDR_LEN + n);
		ch->src_left -= n;
		account_sent(ch, n);
	}
	if (ch->state == CH_OPEN && ch->src_left == 0 && !ch->close_sent &&
	    ch->target->kind == SIM_TARGET_SOURCE)
		send_close(ch);		/* as a target's EOF */
}

/* ---- Target events ---- */

/* Target reads land here first (one thread), so that a read ending in
 * EAGAIN leaves no reserved chunk behind in the device's output. */
static uint8_t scratch[SIM_READ_CHUNK];

/* One read of the target: 1 when it filled the read (more may wait),
 * 0 when it is done for now. */
static int
read_target_once(sim_channel *ch)
{
	sim_device *d = ch->dev;
	size_t room = sim_device_out_room(d), n;
	apr_status_t rv;
	ssize_t r;

	if (room <= MPS_APF_CHANNEL_DATA_HDR_LEN || send_allowance(ch) == 0 ||
	    ch->close_sent || ch->close_rcvd || !device_live(d))
		return 0;
	n = cap_size(room - MPS_APF_CHANNEL_DATA_HDR_LEN, send_allowance(ch));
	if (n > sizeof(scratch))
		n = sizeof(scratch);
	r = recv(ch->io.fd, scratch, n, 0);
	if (r > 0) {
		/* Fails only without memory: the device then closes. */
		if ((rv = mps_apf_encode_channel_data(&d->out, ch->remote_id,
		    scratch, (size_t)r)) != APR_SUCCESS) {
			(void)sim_device_queued(d, rv, MPS_APF_CHANNEL_DATA);
			return 0;
		}
		account_sent(ch, (size_t)r);
		if (sim_opt.verbose)
			sim_dev_say(d, 0,
			    "send CHANNEL_DATA channel=%u len=%zd", ch->id, r);
		return (size_t)r == n;
	}
	if (r == 0) {
		ch->target_eof = 1;
		send_close(ch);
		return 0;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		target_gone(ch, errno_token(errno));
	return 0;
}

/* Reads the target while it fills whole reads and the output has room
 * (up to SIM_OUT_HIGH_WATER): one wake-up per burst, not per read. */
static void
read_target(sim_channel *ch)
{
	while (ch->state != CH_DEAD && ch->io.fd >= 0 && read_target_once(ch))
		;
}

static void
connect_result(sim_channel *ch)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(ch->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0)
		confirm(ch);
	else if (err != EINPROGRESS && err != EALREADY)
		fail_pending(ch, MPS_APF_OPEN_CONNECT_FAILED, errno_token(err));
}

void
sim_relay_on_io(sim_io *io, uint32_t events)
{
	sim_channel *ch = (sim_channel *)io;
	sim_device *d = ch->dev;
	int err = 0;
	socklen_t len = sizeof(err);

	if (ch->state == CH_DEAD || ch->io.fd < 0)
		return;
	if (ch->state == CH_CONNECTING)
		connect_result(ch);
	else if (events & EPOLLERR) {
		if (getsockopt(ch->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) ==
		    -1 || err == 0)
			err = ECONNRESET;
		target_gone(ch, errno_token(err));
	} else {
		if (events & EPOLLOUT)
			flush_target(ch);
		if (ch->state != CH_DEAD && ch->io.fd >= 0 &&
		    (events & EPOLLIN))
			read_target(ch);
		/* HUP without the read side wanted would fire forever. */
		if (ch->state != CH_DEAD && ch->io.fd >= 0 &&
		    (events & EPOLLHUP) && !(ch->io.events & EPOLLIN))
			target_gone(ch, "hangup");
	}
	if (ch->state != CH_DEAD)
		update_interest(ch);
	if (d->state != DS_DONE)
		sim_device_kick(d);
}

/* ---- Device-wide ---- */

void
sim_relay_resume(sim_device *d)
{
	uint32_t i;

	for (i = 0; i < d->chan_cap && d->chans != NULL; i++) {
		if (d->chans[i] == NULL)
			continue;
		if (d->chans[i]->direct != NULL)
			direct_pump(d->chans[i]);
		else if (builtin(d->chans[i]))
			source_pump(d->chans[i]);
		else
			update_interest(d->chans[i]);
	}
}

uint64_t
sim_relay_next_deadline(const sim_device *d)
{
	uint64_t when = 0;
	uint32_t i;
	sim_channel *ch;

	for (i = 0; i < d->chan_cap; i++) {
		if ((ch = d->chans[i]) == NULL || ch->deadline == 0)
			continue;
		if (when == 0 || ch->deadline < when)
			when = ch->deadline;
	}
	return when;
}

void
sim_relay_on_timer(sim_device *d)
{
	sim_channel *ch;
	uint32_t i;

	for (i = 0; i < d->chan_cap && d->chans != NULL; i++) {
		if ((ch = d->chans[i]) == NULL || ch->deadline == 0 ||
		    ch->deadline > sim_g.now)
			continue;
		ch->deadline = 0;
		if (ch->state == CH_OPENING) {
			sim_dev_say(d, 1, "direct-open-failed reason=timeout "
			    "dest=%s", ch->direct->text);
			kill_channel(ch);
			sim_device_fail(d, "direct-open-timeout");
		} else if (ch->state == CH_CONNECTING)
			fail_pending(ch, MPS_APF_OPEN_CONNECT_FAILED,
			    "connect-timeout");
		else if (ch->close_rcvd) {
			/* The target never took the rest: give up on it. */
			mps_buf_free(&ch->to_target);
			finish(ch);
		}
		if (d->state >= DS_CLOSING)
			return;		/* the device closed meanwhile */
	}
}
