/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_link.c: see peer_link.h. Four parts: the links (each on a strand
 * of its own, driven by the poller and a timer, relaying through a
 * tls_pipe), the forwarding of a console of this instance
 * (mps_console_forward), the links accepted from other instances, and
 * the "peer" front end that serves them.
 */
#include "console_priv.h"
#include "peer_link.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "listener.h"
#include "mps_status.h"
#include "peer_header.h"
#include "sockwrap.h"
#include "stream.h"
#include "tls_pipe.h"

/* Relay buffer, each way. */
#define RELAY_BUF (16 * 1024)

struct link_t;

struct mps_peer_links_t {
	mps_console_side_t *side;
	mps_poller_t *poller;
	mps_workers_t *workers;
	SSL_CTX *client_ctx;
	SSL_CTX *server_ctx;
	mps_peer_lookup_fn lookup;
	void *lookup_arg;
	apr_interval_time_t timeout;		/* PeerTimeout */
	apr_interval_time_t open_timeout;	/* ChannelOpenTimeout */
	unsigned max_links;
	atomic_uint out_links, in_links;
	atomic_int stopping;
	pthread_mutex_t mu;		/* list */
	struct link_t *list;		/* every link not yet finished */
};

/* ---- TLS contexts -------------------------------------------------------- */

static void
ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, size, "unknown error");
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

static SSL_CTX *
make_ctx(const mps_config_t *cfg, int server, char *err, size_t errsize)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method());
	char why[256];
	const char *what = "TLS context";

	if (ctx == NULL)
		goto fail;
	/* TLS 1.2 and later, the library's default (secure) suites; no
	 * renegotiation, no tickets, no compression. */
	what = "TLS versions";
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
	(void)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	what = cfg->directory_peer_cert_file;
	if (SSL_CTX_use_certificate_chain_file(ctx,
	    cfg->directory_peer_cert_file) != 1)
		goto fail;
	what = cfg->directory_peer_key_file;
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->directory_peer_key_file,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	what = cfg->directory_peer_ca_file;
	if (SSL_CTX_load_verify_locations(ctx, cfg->directory_peer_ca_file,
	    NULL) != 1)
		goto fail;
	/* Mutual: both ends must show a certificate chaining to the CA.
	 * Not configurable on purpose (the link carries logged-in consoles). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	if (server) {
		STACK_OF(X509_NAME) *names =
		    SSL_load_client_CA_file(cfg->directory_peer_ca_file);
		if (names != NULL)
			SSL_CTX_set_client_CA_list(ctx, names);
	}
	return ctx;
fail:
	ssl_reason(why, sizeof(why));
	snprintf(err, errsize, "peer link %s: %s", what, why);
	SSL_CTX_free(ctx);
	return NULL;
}

apr_status_t
mps_peer_links_create(mps_peer_links_t **out, const mps_config_t *cfg,
    mps_console_side_t *side, mps_peer_lookup_fn lookup, void *lookup_arg,
    char *err, size_t errsize)
{
	mps_peer_links_t *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (l == NULL) {
		snprintf(err, errsize, "out of memory");
		return APR_ENOMEM;
	}
	l->client_ctx = make_ctx(cfg, 0, err, errsize);
	l->server_ctx = l->client_ctx != NULL ? make_ctx(cfg, 1, err,
	    errsize) : NULL;
	if (l->server_ctx == NULL) {
		SSL_CTX_free(l->client_ctx);
		free(l);
		return MPS_ERR_CONFIG;
	}
	l->side = side;
	l->poller = side->poller;
	l->workers = side->workers;
	pthread_mutex_init(&l->mu, NULL);
	l->lookup = lookup;
	l->lookup_arg = lookup_arg;
	l->timeout = cfg->directory_peer_timeout;
	l->open_timeout = cfg->channel_open_timeout;
	l->max_links = (unsigned)cfg->directory_max_peer_links;
	atomic_init(&l->out_links, 0);
	atomic_init(&l->in_links, 0);
	atomic_init(&l->stopping, 0);
	*out = l;
	return APR_SUCCESS;
}

static void links_stop_all(mps_peer_links_t *l);

unsigned
mps_peer_links_shutdown(mps_peer_links_t *l, apr_interval_time_t timeout)
{
	apr_time_t end = apr_time_now() + timeout;

	if (l == NULL)
		return 0;
	atomic_store(&l->stopping, 1);
	/* Each link ends on its strand (the workers must still run). */
	links_stop_all(l);
	while (atomic_load(&l->out_links) + atomic_load(&l->in_links) > 0 &&
	    apr_time_now() < end)
		apr_sleep(apr_time_from_msec(20));
	return atomic_load(&l->out_links) + atomic_load(&l->in_links);
}

void
mps_peer_links_destroy(mps_peer_links_t *l)
{
	if (l == NULL)
		return;
	SSL_CTX_free(l->client_ctx);
	SSL_CTX_free(l->server_ctx);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void
mps_peer_links_count(mps_peer_links_t *l, unsigned *out, unsigned *in)
{
	*out = l != NULL ? atomic_load(&l->out_links) : 0;
	*in = l != NULL ? atomic_load(&l->in_links) : 0;
}

/* "CN=..." of the peer's certificate, for logs. */
static void
peer_subject(SSL *ssl, char *buf, size_t size)
{
	X509 *x = SSL_get1_peer_certificate(ssl);

	buf[0] = '\0';
	if (x != NULL) {
		(void)X509_NAME_get_text_by_NID(X509_get_subject_name(x),
		    NID_commonName, buf, (int)size);
		X509_free(x);
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "(no common name)");
}

/* ---- one link, either way ------------------------------------------------- */

/*
 * A link runs on a strand of its own (k->strand), created with it: the
 * connect, the handshakes, the header and the answer are non-blocking
 * steps that the poller (one-shot watches) and the link's timer post
 * there; then a tls_pipe on the same strand relays. Only the directory
 * lookup and the owner's name resolution block: they run as one job in
 * the blocking lane. The forwarded console's own strand gets the result
 * (fwd_decide) and hands its socket over.
 */
typedef enum {
	L_LOOKUP = 1,	/* forwarding: the blocking lane looks up */
	L_CONNECT,	/* forwarding: TCP connect in progress */
	L_HANDSHAKE,	/* TLS handshake (either way) */
	L_HEADER,	/* forwarding: the header goes out */
	L_ANSWER,	/* forwarding: waiting for the owner's answer */
	L_DECIDE,	/* forwarding: the console's strand decides */
	L_RELAY,	/* the pipe relays */
	L_DONE
} link_phase;

typedef struct link_t {
	mps_peer_links_t *links;
	struct link_t *prev, *next;	/* links->list, under links->mu */
	int inbound;			/* accepted (else forwarded) */
	mps_strand_t *strand;		/* the link's own */
	link_phase phase;
	atomic_int stop;		/* mps_peer_links_shutdown() */

	int fd;				/* the TCP socket before s holds it */
	mps_stream_t s;			/* the TLS link until the pipe's */
	apr_socket_t *wrap;
	mps_pollreg_t *reg;
	mps_timer_t timer;		/* PeerTimeout (+ ChannelOpenTimeout) */
	mps_tls_pipe_t *pipe;		/* L_RELAY */
	char peer[64];			/* accepted: the other instance */

	/* Forwarding only. */
	mps_console_t *c;		/* referenced until decided */
	mps_strand_t *console_strand;	/* where the console waits */
	mps_peer_header_t h;
	char front[8];			/* "SOCKS", "HTTP" */
	char console[64];		/* its peer text, for logs */
	unsigned looked_up:1;		/* the lookup found an owner */
	open_result result;
	char instance[72];
	char address[256];
	struct addrinfo *res, *next_ai;
	char why[256];
	int console_fd;			/* handed over by fwd_decide */
	/* What the console object still held: its input past the request
	 * (up to the front end's 64 KiB) and its reply; sent first. */
	uint8_t *pre_up, *pre_down;
	size_t pre_up_len, pre_down_len;
} link_t;

static void
link_free_task(void *arg)
{
	free(arg);
}

static void
list_add(link_t *k)
{
	mps_peer_links_t *l = k->links;

	pthread_mutex_lock(&l->mu);
	k->next = l->list;
	if (l->list != NULL)
		l->list->prev = k;
	l->list = k;
	pthread_mutex_unlock(&l->mu);
}

static void
list_remove(link_t *k)
{
	mps_peer_links_t *l = k->links;

	pthread_mutex_lock(&l->mu);
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		l->list = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	k->prev = k->next = NULL;
	pthread_mutex_unlock(&l->mu);
}

static void
link_unwatch(link_t *k)
{
	mps_poller_t *poller = k->links->poller;

	mps_timer_cancel(mps_poller_timers(poller), &k->timer);
	if (k->reg != NULL) {
		mps_poller_release(poller, k->reg);
		k->reg = NULL;
	}
	if (k->wrap != NULL) {
		mps_sockwrap_put(k->wrap);
		k->wrap = NULL;
	}
}

/*
 * The end of a link: everything closed, the slot given back. On the
 * link's strand, or on any thread once the workers stop (a discarded
 * task). The memory goes in a later task of the strand (strand.h): a
 * poll or timer firing queued before now finds L_DONE first.
 */
static void
link_finish(link_t *k)
{
	mps_peer_links_t *l = k->links;
	mps_strand_t *strand = k->strand;

	k->phase = L_DONE;
	link_unwatch(k);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	mps_stream_close(&k->s);
	if (k->console_fd >= 0)
		close(k->console_fd);
	k->console_fd = -1;
	free(k->pre_up);
	free(k->pre_down);
	k->pre_up = k->pre_down = NULL;
	if (k->res != NULL)
		freeaddrinfo(k->res);
	k->res = NULL;
	ERR_clear_error();
	list_remove(k);
	if (mps_strand_post_free(strand, link_free_task, k) != APR_SUCCESS)
		free(k);
	mps_strand_release(strand);
	/* Last: mps_peer_links_shutdown() waits for this. */
	atomic_fetch_sub(k->inbound ? &l->in_links : &l->out_links, 1);
}

static void
link_finish_task(void *arg)
{
	link_finish(arg);
}

static void
link_watch(link_t *k, apr_int16_t ev)
{
	if (mps_poller_watch(k->links->poller, k->reg, ev) != APR_SUCCESS)
		atomic_store(&k->stop, 2);	/* seen by the next step */
}

/* The link's socket into s, watched on the link's strand. */
static apr_status_t
link_register(link_t *k, mps_task_fn io)
{
	k->wrap = mps_sockwrap_get(k->fd >= 0 ? k->fd : k->s.fd);
	if (k->wrap == NULL)
		return APR_ENOMEM;
	return mps_poller_register(k->links->poller, &k->reg, k->wrap,
	    k->strand, io, k);
}

static link_t *
link_new(mps_peer_links_t *l, int inbound)
{
	link_t *k = calloc(1, sizeof(*k));

	if (k == NULL)
		return NULL;
	k->strand = mps_strand_create(l->workers);
	if (k->strand == NULL) {
		free(k);
		return NULL;
	}
	k->links = l;
	k->inbound = inbound;
	k->fd = k->console_fd = -1;
	mps_stream_init(&k->s, -1, NULL, 0, 0);
	/* Disarmed; the phases that arm it set its function. */
	mps_timer_init(&k->timer, k->strand, NULL, k);
	atomic_init(&k->stop, 0);
	return k;
}

/* The pipe's end (tls_pipe.h): on the link's strand. */
static void
link_pipe_end(void *arg, int error, const char *why, unsigned long long up,
    unsigned long long down)
{
	link_t *k = arg;

	k->pipe = NULL;
	if (k->inbound)
		mps_log(MPS_LOG_DEBUG, "peer link from %s ended (%s): %llu "
		    "bytes in, %llu out", k->peer, why, up, down);
	else
		mps_log(MPS_LOG_DEBUG, "peer link to instance %s for console "
		    "%s ended (%s): %llu bytes up, %llu down", k->instance,
		    k->console, why, up, down);
	link_finish(k);
}

/* On the link's strand: hands plain_fd and the TLS link to a pipe. */
static void
link_relay(link_t *k, int plain_fd, const void *to_plain,
    size_t to_plain_len, const void *to_tls, size_t to_tls_len)
{
	mps_tls_pipe_options_t opt = {
		.poller = k->links->poller,
		.strand = k->strand,
		.buf_size = RELAY_BUF,
		.end = link_pipe_end,
		.arg = k,
	};
	apr_status_t rv;

	rv = mps_tls_pipe_start(&k->pipe, &opt, plain_fd, &k->s, to_plain,
	    to_plain_len, to_tls, to_tls_len);
	if (rv != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "peer link %s: cannot relay: out of "
		    "memory", k->inbound ? k->peer : k->instance);
		link_finish(k);
		return;
	}
	k->phase = L_RELAY;
	/* A stop that came while the console decided (it found L_DECIDE). */
	if (atomic_load(&k->stop))
		mps_tls_pipe_abort(k->pipe);
}

/* Posted by mps_peer_links_shutdown() while k was listed: it runs before
 * k's memory goes (link_finish posts that after unlisting). */
static void fwd_fail(link_t *k, const char *why);
static void acc_fail(link_t *k, const char *why);

static void
link_stop_task(void *arg)
{
	link_t *k = arg;

	switch (k->phase) {
	case L_RELAY:
		if (k->pipe != NULL)
			mps_tls_pipe_abort(k->pipe);
		break;
	case L_CONNECT:
	case L_HANDSHAKE:
	case L_HEADER:
	case L_ANSWER:
		if (k->inbound)
			acc_fail(k, "stopping");
		else
			fwd_fail(k, "stopping");
		break;
	default:
		/* L_LOOKUP and L_DECIDE look at k->stop when they are
		 * back; L_DONE has nothing left. */
		break;
	}
}

/* Every link ends soon: a stop task on its strand, posted while it is
 * listed (so before its memory can go). */
static void
links_stop_all(mps_peer_links_t *l)
{
	pthread_mutex_lock(&l->mu);
	for (link_t *k = l->list; k != NULL; k = k->next) {
		atomic_store(&k->stop, 1);
		(void)mps_strand_post(k->strand, link_stop_task, k);
	}
	pthread_mutex_unlock(&l->mu);
}

/* ---- connecting to the owner ---------------------------------------------- */

/* Splits "host:port" or "[v6]:port". Returns 0 or -1. */
static int
split_address(const char *addr, char *host, size_t hsize, char *port,
    size_t psize)
{
	const char *colon;
	size_t n;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t)(close - addr - 1);
		colon = close + 1;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - addr);
	}
	if (n == 0 || n >= hsize || strlen(colon + 1) >= psize)
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	snprintf(port, psize, "%s", colon + 1);
	return 0;
}

/* ---- forwarding a console of this instance -------------------------------- */

static void fwd_decide(void *arg);
static void fwd_step(link_t *k);

/* Workers stopping: the console's strand will not decide. */
static void
fwd_discard(void *arg)
{
	link_t *k = arg;
	mps_console_t *c = k->c;

	k->c = NULL;
	if (c != NULL)
		mps_console_unref(c);
	link_finish(k);
}

/* The result goes to the console's strand; the link waits (nothing
 * watched, no timer) until fwd_decide posts back. */
static void
fwd_to_console(link_t *k)
{
	link_unwatch(k);
	if (k->result != OPEN_OK) {
		mps_stream_close(&k->s);
		if (k->fd >= 0)
			close(k->fd);
		k->fd = -1;
	}
	k->phase = L_DECIDE;
	ERR_clear_error();
	if (mps_strand_post_ex(k->console_strand, fwd_decide, fwd_discard,
	    k) != APR_SUCCESS)
		fwd_discard(k);
}

/* The owner cannot be had: the console gets "no such device" as from a
 * device not held anywhere (SOCKS 0x04, HTTP 503/404 as before). */
static void
fwd_fail(link_t *k, const char *why)
{
	mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u, held by "
	    "instance %s at %s: unreachable: %s", k->front, k->console,
	    k->h.name, (unsigned)k->h.port, k->instance, k->address, why);
	k->result = OPEN_NO_DEVICE;
	fwd_to_console(k);
}

static void
fwd_timeout(void *arg)
{
	link_t *k = arg;

	switch (k->phase) {
	case L_CONNECT:
		snprintf(k->why, sizeof(k->why), "connect timed out "
		    "(PeerTimeout)");
		fwd_fail(k, k->why);
		break;
	case L_HANDSHAKE:
		fwd_fail(k, "TLS handshake timed out (PeerTimeout)");
		break;
	case L_HEADER:
		fwd_fail(k, "cannot send the header (PeerTimeout)");
		break;
	case L_ANSWER:
		fwd_fail(k, "no answer");
		break;
	default:
		break;
	}
}

static void fwd_try_connect(link_t *k);

/* On the link's strand: a poll firing. */
static void
fwd_io(void *arg)
{
	link_t *k = arg;

	if (k->phase == L_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err == 0 && !(mps_pollreg_events(k->reg) & APR_POLLOUT))
			err = ECONNREFUSED;
		if (err != 0) {
			/* The next address, with the time that is left. */
			snprintf(k->why, sizeof(k->why), "%s", strerror(err));
			if (k->reg != NULL)
				mps_poller_release(k->links->poller, k->reg);
			k->reg = NULL;
			mps_sockwrap_put(k->wrap);
			k->wrap = NULL;
			close(k->fd);
			k->fd = -1;
			fwd_try_connect(k);
			return;
		}
		k->phase = L_HANDSHAKE;
		/* The socket goes into the stream, TLS as a client. */
		{
			SSL *ssl = SSL_new(k->links->client_ctx);
			uint8_t hdr[MPS_PEER_HEADER_MAX];
			size_t hlen = mps_peer_header_encode(&k->h, hdr);

			if (ssl == NULL) {
				fwd_fail(k, "out of memory");
				return;
			}
			mps_stream_init(&k->s, k->fd, ssl, RELAY_BUF +
			    MPS_PEER_ANSWER_LEN, MPS_PEER_HEADER_MAX);
			k->fd = -1;
			SSL_set_connect_state(ssl);
			/* Queued now, written once the handshake is done. */
			(void)mps_buf_put(&k->s.out, hdr, hlen);
		}
	}
	fwd_step(k);
}

static void fwd_decided(void *arg);

static void
fwd_step_task(void *arg)
{
	fwd_step(arg);
}

/* On the link's strand: the handshake, the header, the answer. */
static void
fwd_step(link_t *k)
{
	mps_peer_links_t *l = k->links;
	char why[256], subject[128];
	apr_status_t rv;

	if (k->phase < L_HANDSHAKE || k->phase > L_ANSWER)
		return;
	if (atomic_load(&k->stop)) {
		fwd_fail(k, atomic_load(&k->stop) == 2 ? "cannot watch the "
		    "socket" : "stopping");
		return;
	}
	if (k->phase == L_HANDSHAKE) {
		rv = mps_stream_handshake(&k->s, why, sizeof(why));
		if (rv == APR_EAGAIN) {
			link_watch(k, mps_stream_events(&k->s, 1));
			return;
		}
		if (rv != APR_SUCCESS) {
			snprintf(k->why, sizeof(k->why), "%.170s (verify "
			    "result: %.60s)", why, X509_verify_cert_error_string(
			    SSL_get_verify_result(k->s.ssl)));
			fwd_fail(k, k->why);
			return;
		}
		peer_subject(k->s.ssl, subject, sizeof(subject));
		mps_log(MPS_LOG_DEBUG, "peer link to instance %s (%s, %s) up "
		    "for console %s", k->instance, k->address, subject,
		    k->console);
		k->phase = L_HEADER;
	}
	if (k->phase == L_HEADER) {
		rv = mps_stream_flush(&k->s, why, sizeof(why));
		if (rv == APR_EAGAIN) {
			link_watch(k, mps_stream_events(&k->s, 0));
			return;
		}
		if (rv != APR_SUCCESS) {
			fwd_fail(k, "cannot send the header");
			return;
		}
		/* The owner answers once the device confirmed the channel:
		 * that takes up to ChannelOpenTimeout on the owner. */
		k->phase = L_ANSWER;
		(void)mps_timer_arm(mps_poller_timers(l->poller), &k->timer,
		    l->timeout + l->open_timeout);
	}
	/* L_ANSWER */
	for (;;) {
		unsigned result = OPEN_INTERNAL;
		size_t len = mps_buf_len(&k->s.in);

		rv = mps_peer_answer_parse(mps_buf_ptr(&k->s.in), len,
		    &result);
		if (rv == APR_SUCCESS) {
			/* Bytes after the answer are the console's already
			 * (a fast HTTP response in the http mode): they stay
			 * in s.in, which the pipe sends first. */
			(void)mps_buf_consume(&k->s.in, MPS_PEER_ANSWER_LEN);
			if (result != OPEN_OK)
				mps_log(MPS_LOG_WARNING, "%s console %s asked "
				    "for %s:%u: instance %s refused (%u)",
				    k->front, k->console, k->h.name,
				    (unsigned)k->h.port, k->instance, result);
			k->result = (open_result)result;
			fwd_to_console(k);
			return;
		}
		if (rv != MPS_NEED_MORE) {
			fwd_fail(k, "a malformed answer");
			return;
		}
		if (k->s.eof) {
			fwd_fail(k, "no answer");
			return;
		}
		rv = mps_stream_read(&k->s, RELAY_BUF, why, sizeof(why));
		if (rv != APR_SUCCESS) {
			fwd_fail(k, "no answer");
			return;
		}
		if (mps_buf_len(&k->s.in) != len || k->s.eof)
			continue;
		break;
	}
	if (mps_stream_pending(&k->s)) {
		if (mps_strand_post(k->strand, fwd_step_task, k) != APR_SUCCESS)
			fwd_fail(k, "stopping");
		return;
	}
	link_watch(k, mps_stream_events(&k->s, 1));
}

/* On the link's strand: connects to the next address of the owner. */
static void
fwd_try_connect(link_t *k)
{
	for (; k->next_ai != NULL; k->next_ai = k->next_ai->ai_next) {
		struct addrinfo *ai = k->next_ai;
		int one = 1;

		k->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (k->fd < 0) {
			snprintf(k->why, sizeof(k->why), "socket: %s",
			    strerror(errno));
			continue;
		}
		(void)setsockopt(k->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(k->fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    errno != EINPROGRESS) {
			snprintf(k->why, sizeof(k->why), "%s", strerror(errno));
			close(k->fd);
			k->fd = -1;
			continue;
		}
		k->next_ai = ai->ai_next;
		if (link_register(k, fwd_io) != APR_SUCCESS) {
			fwd_fail(k, "out of memory");
			return;
		}
		/* Connected at once or not: the firing tells (POLLOUT). */
		k->phase = L_CONNECT;
		link_watch(k, APR_POLLOUT);
		if (atomic_load(&k->stop) == 2)
			fwd_fail(k, "cannot watch the socket");
		return;
	}
	fwd_fail(k, k->why[0] != '\0' ? k->why : "no address");
}

/* On the link's strand, after the lookup. */
static void
fwd_looked_up(void *arg)
{
	link_t *k = arg;
	mps_peer_links_t *l = k->links;

	if (!k->looked_up) {
		k->result = OPEN_NO_DEVICE;	/* logged by the lookup */
		fwd_to_console(k);
		return;
	}
	if (k->res == NULL) {
		fwd_fail(k, k->why);
		return;
	}
	if (atomic_load(&k->stop)) {
		fwd_fail(k, "stopping");
		return;
	}
	/* PeerTimeout bounds the connect, the handshake and the header. */
	mps_timer_init(&k->timer, k->strand, fwd_timeout, k);
	(void)mps_timer_arm(mps_poller_timers(l->poller), &k->timer,
	    l->timeout);
	k->next_ai = k->res;
	fwd_try_connect(k);
}

/* The blocking lane: the directory (up to RedisTimeout) and the
 * owner's name (DNS). Then back to the link's strand. */
static void
fwd_lookup_job(void *arg)
{
	link_t *k = arg;
	mps_peer_links_t *l = k->links;
	struct addrinfo hints;
	char host[256], port[16];
	apr_status_t rv;
	int rc;

	rv = l->lookup(l->lookup_arg, k->h.name, k->instance,
	    sizeof(k->instance), k->address, sizeof(k->address));
	if (rv != APR_SUCCESS) {
		mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u: %s",
		    k->front, k->console, k->h.name, (unsigned)k->h.port,
		    rv == APR_NOTFOUND ? "no instance holds that Intel remote "
		    "client" : rv == APR_EEXIST ? "no such Intel remote client "
		    "is connected" : "the device directory is unavailable");
	} else {
		k->looked_up = 1;
		if (split_address(k->address, host, sizeof(host), port,
		    sizeof(port)) != 0)
			snprintf(k->why, sizeof(k->why), "PeerAddress "
			    "\"%.100s\" is not host:port", k->address);
		else {
			memset(&hints, 0, sizeof(hints));
			hints.ai_socktype = SOCK_STREAM;
			hints.ai_flags = AI_NUMERICSERV;
			rc = getaddrinfo(host, port, &hints, &k->res);
			if (rc != 0) {
				k->res = NULL;
				snprintf(k->why, sizeof(k->why), "%.100s: %s",
				    host, gai_strerror(rc));
			}
		}
	}
	if (mps_strand_post_ex(k->strand, fwd_looked_up, fwd_discard, k) !=
	    APR_SUCCESS)
		fwd_discard(k);
}

/* On the console's strand: give the console its reply and, when the
 * owner opened, hand its socket to the link. */
static void
fwd_decide(void *arg)
{
	link_t *k = arg;
	mps_console_t *c = k->c;
	size_t n;

	k->c = NULL;
	if (c->phase != C_AUTH) {
		/* Closed meanwhile (shutdown). */
		mps_console_unref(c);
		goto finish;
	}
	c->phase = C_FRONT;
	if (k->result != OPEN_OK) {
		c->ops->refused(c, k->result);
		mps_console_close_soon(c);
		mps_console_unref(c);
		goto finish;
	}
	if (k->h.mode == MPS_PEER_MODE_CHANNEL)
		c->ops->opened(c);	/* the SOCKS or HTTP success reply */
	/* Both bounded: a front end's input (64 KiB) and its replies. */
	n = mps_buf_len(&c->down);
	if (n > 0 && (k->pre_down = malloc(n)) != NULL) {
		memcpy(k->pre_down, mps_buf_ptr(&c->down), n);
		k->pre_down_len = n;
	}
	n = mps_buf_len(&c->in);
	if (n > 0 && (k->pre_up = malloc(n)) != NULL) {
		memcpy(k->pre_up, mps_buf_ptr(&c->in), n);
		k->pre_up_len = n;
	}
	if ((mps_buf_len(&c->down) > 0 && k->pre_down == NULL) ||
	    (mps_buf_len(&c->in) > 0 && k->pre_up == NULL)) {
		mps_console_finalize(c);	/* out of memory */
		mps_console_unref(c);
		goto finish;
	}
	mps_log(MPS_LOG_INFO, "%s console %s (user \"%s\") forwarded to "
	    "instance %s (%s) for %s:%u", c->ops->name, c->peer, c->user,
	    k->instance, k->address, k->h.name, (unsigned)k->h.port);
	/* The hand-over: the socket is the link's from here on (the
	 * console object no longer closes it); the console is done. */
	k->console_fd = c->fd;
	c->fd = -1;
	mps_console_finalize(c);	/* the console object only */
	mps_console_unref(c);
finish:
	/* Back to the link's strand: relay, or end. */
	if (mps_strand_post_ex(k->strand, fwd_decided, link_finish_task, k) !=
	    APR_SUCCESS)
		link_finish(k);
}

/* On the link's strand, once the console decided. */
static void
fwd_decided(void *arg)
{
	link_t *k = arg;
	int fd = k->console_fd;

	if (fd < 0 || atomic_load(&k->stop)) {
		link_finish(k);
		return;
	}
	k->console_fd = -1;	/* the pipe's (closed by it, even on error) */
	link_relay(k, fd, k->pre_down, k->pre_down_len, k->pre_up,
	    k->pre_up_len);
	/* Copied by the pipe (or k is gone: link_relay failed and
	 * link_finish freed these and posted k's memory). */
	if (k->phase == L_RELAY) {
		free(k->pre_up);
		free(k->pre_down);
		k->pre_up = k->pre_down = NULL;
	}
}

int
mps_console_forward(mps_console_t *c, const char *host, apr_port_t port,
    unsigned mode)
{
	mps_console_side_t *side = c->side;
	mps_peer_links_t *l = side->peer;
	uint8_t hdr[MPS_PEER_HEADER_MAX];
	link_t *k;

	if (l == NULL || c->trusted || atomic_load(&l->stopping))
		return -1;
	if (strlen(host) > MPS_PEER_NAME_MAX)
		return -1;
	if (atomic_fetch_add(&l->out_links, 1) >= l->max_links) {
		atomic_fetch_sub(&l->out_links, 1);
		mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u: "
		    "MaxPeerLinks (%u) forwarded consoles already", c->ops->name,
		    c->peer, host, (unsigned)port, l->max_links);
		return -1;
	}
	k = link_new(l, 0);
	if (k == NULL) {
		atomic_fetch_sub(&l->out_links, 1);
		return -1;
	}
	k->c = c;
	k->console_strand = c->home;
	k->phase = L_LOOKUP;
	k->h.mode = mode;
	k->h.port = mode == MPS_PEER_MODE_CHANNEL ? port : 0;
	snprintf(k->h.name, sizeof(k->h.name), "%s", host);
	snprintf(k->h.user, sizeof(k->h.user), "%.*s", MPS_PEER_USER_MAX,
	    c->user);
	for (char *u = k->h.user; *u != '\0'; u++)
		if ((unsigned char)*u < 0x20 || (unsigned char)*u > 0x7e)
			*u = '?';
	if (mps_peer_header_encode(&k->h, hdr) == 0) {
		/* A name the link cannot carry: no such device. */
		mps_strand_release(k->strand);
		free(k);
		atomic_fetch_sub(&l->out_links, 1);
		return -1;
	}
	snprintf(k->front, sizeof(k->front), "%s", c->ops->name);
	snprintf(k->console, sizeof(k->console), "%s", c->peer);
	/*
	 * The console waits as for a login (C_AUTH): nothing watched, no
	 * front deadline (the link's own waits are bounded), and a shutdown
	 * may finalize it meanwhile, which fwd_decide then finds.
	 */
	mps_timer_cancel(mps_poller_timers(side->poller), &c->timer);
	if (c->reg != NULL) {
		mps_poller_release(side->poller, c->reg);
		c->reg = NULL;
	}
	c->phase = C_AUTH;
	mps_console_ref(c);
	list_add(k);
	if (mps_workers_push_ex(l->workers, MPS_LANE_BLOCKING, fwd_lookup_job,
	    fwd_discard, k) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "%s console %s asked for %s:%u: the "
		    "blocking lane refused the directory lookup", c->ops->name,
		    c->peer, host, (unsigned)port);
		k->c = NULL;
		link_finish(k);
		c->phase = C_FRONT;
		c->ops->refused(c, OPEN_INTERNAL);
		mps_console_close_soon(c);
		mps_console_unref(c);
	}
	return 0;
}

/* ---- a link accepted from another instance -------------------------------- */

static void
acc_fail(link_t *k, const char *why)
{
	mps_log(MPS_LOG_WARNING, "peer link from %s refused: %s", k->peer,
	    why);
	link_finish(k);
}

static void
acc_timeout(void *arg)
{
	link_t *k = arg;

	if (k->phase == L_HANDSHAKE)
		acc_fail(k, "TLS handshake timed out (PeerTimeout)");
}

/* On the link's strand: the TLS server handshake (a client certificate
 * required, PeerCAFile), then the pipe to a new peer console. */
static void
acc_io(void *arg)
{
	link_t *k = arg;
	char why[256], subject[128];
	apr_status_t rv;
	int sp[2];

	if (k->phase != L_HANDSHAKE)
		return;
	if (atomic_load(&k->stop)) {
		acc_fail(k, atomic_load(&k->stop) == 2 ? "cannot watch the "
		    "socket" : "stopping");
		return;
	}
	rv = mps_stream_handshake(&k->s, why, sizeof(why));
	if (rv == APR_EAGAIN) {
		link_watch(k, mps_stream_events(&k->s, 1));
		return;
	}
	if (rv != APR_SUCCESS) {
		char text[400];

		snprintf(text, sizeof(text), "%.255s (verify result: %.120s)", why,
		    X509_verify_cert_error_string(SSL_get_verify_result(
		    k->s.ssl)));
		acc_fail(k, text);
		return;
	}
	peer_subject(k->s.ssl, subject, sizeof(subject));
	mps_log(MPS_LOG_DEBUG, "peer link from %s (%s) up", k->peer, subject);
	link_unwatch(k);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) != 0) {
		acc_fail(k, strerror(errno));
		return;
	}
	/* sp[0] is the peer console's (it owns and closes it); the pipe
	 * relays sp[1] <-> the TLS link. */
	mps_peer_console_accept(k->links->side, sp[0], k->peer);
	link_relay(k, sp[1], NULL, 0, NULL, 0);
}

static void
acc_io_task(void *arg)
{
	acc_io(arg);
}

void
mps_peer_accept(void *ctx, int fd, const char *peer)
{
	mps_peer_links_t *l = ctx;
	link_t *k;
	SSL *ssl;

	if (atomic_load(&l->stopping)) {
		close(fd);
		return;
	}
	if (atomic_fetch_add(&l->in_links, 1) >= l->max_links) {
		atomic_fetch_sub(&l->in_links, 1);
		mps_log(MPS_LOG_WARNING, "peer link from %s refused: "
		    "MaxPeerLinks (%u) reached", peer, l->max_links);
		close(fd);
		return;
	}
	k = link_new(l, 1);
	ssl = k != NULL ? SSL_new(l->server_ctx) : NULL;
	if (ssl == NULL) {
		mps_log(MPS_LOG_ERROR, "peer link from %s: out of memory", peer);
		if (k != NULL) {
			mps_strand_release(k->strand);
			free(k);
		}
		atomic_fetch_sub(&l->in_links, 1);
		close(fd);
		return;
	}
	snprintf(k->peer, sizeof(k->peer), "%s", peer);
	mps_stream_init(&k->s, fd, ssl, RELAY_BUF, RELAY_BUF);	/* server */
	k->phase = L_HANDSHAKE;
	mps_timer_init(&k->timer, k->strand, acc_timeout, k);
	list_add(k);
	if (link_register(k, acc_io) != APR_SUCCESS ||
	    mps_timer_arm(mps_poller_timers(l->poller), &k->timer,
	    l->timeout) != APR_SUCCESS ||
	    mps_strand_post(k->strand, acc_io_task, k) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "peer link from %s: cannot watch it",
		    peer);
		link_finish(k);
	}
}

/* ---- the peer front end (on the owner) ----------------------------------- */

static void
answer(mps_console_t *c, open_result why)
{
	uint8_t out[MPS_PEER_ANSWER_LEN];

	mps_peer_answer_encode((unsigned)why, out);
	(void)mps_buf_put(&c->down, out, sizeof(out));
}

static void
peer_input(mps_console_t *c)
{
	mps_peer_header_t h;
	size_t used = 0;
	open_result why;
	apr_status_t rv;

	rv = mps_peer_header_parse(mps_buf_ptr(&c->in), mps_buf_len(&c->in),
	    &used, &h);
	if (rv == MPS_NEED_MORE)
		return;
	if (rv != APR_SUCCESS) {
		mps_log(MPS_LOG_WARNING, "peer link %s: malformed header: "
		    "closed", c->peer);
		mps_console_finalize(c);
		return;
	}
	(void)mps_buf_consume(&c->in, used);
	/* Never forwarded again (no loops between instances): a device
	 * that is not here is "no such device" to the instance that
	 * asked. */
	c->trusted = 1;
	snprintf(c->user, sizeof(c->user), "%s", h.user);
	if (h.mode == MPS_PEER_MODE_HTTP) {
		/* The instance the console came to checked its proxy login:
		 * from here on this is an HTTP proxy console of ours. */
		answer(c, OPEN_OK);
		c->ops = &mps_http_front;
		c->ops->input(c);
		return;
	}
	why = mps_console_resolve(c, h.name, h.port);
	if (why != OPEN_OK) {
		answer(c, why);
		mps_console_close_soon(c);
		return;
	}
	c->raw = 1;
	mps_console_move(c);
}

static void
peer_auth_done(mps_console_t *c, mps_auth_verdict_t verdict, const char *err)
{
	(void)verdict;
	(void)err;
	mps_console_finalize(c);	/* never asked */
}

static void
peer_opened(mps_console_t *c)
{
	answer(c, OPEN_OK);
}

static void
peer_refused(mps_console_t *c, open_result why)
{
	answer(c, why);
}

const front_ops mps_peer_front = {
	.name = "peer-link",
	.log_shutdown = 1,
	.input = peer_input,
	.auth_done = peer_auth_done,
	.opened = peer_opened,
	.refused = peer_refused,
	.to_device = NULL,
	.from_device = NULL,
	.switch_ready = NULL,
	.switched = NULL,
	.free_state = NULL,
};
