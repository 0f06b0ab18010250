/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_link.c: see peer_link.h. Three parts: the link threads (TLS over
 * non-blocking sockets driven by poll(), every wait bounded), the
 * forwarding of a console of this instance (mps_console_forward), and
 * the "peer" front end that serves a link accepted from another
 * instance.
 */
#include "console_priv.h"
#include "peer_link.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

/* Relay buffer, each way. */
#define RELAY_BUF (16 * 1024)
/* How often a waiting link thread looks at the stop flag. */
#define STOP_POLL_MS 250
#define LINK_STACK (256 * 1024)

struct mps_peer_links_t {
	mps_console_side_t *side;
	SSL_CTX *client_ctx;
	SSL_CTX *server_ctx;
	mps_peer_lookup_fn lookup;
	void *lookup_arg;
	apr_interval_time_t timeout;		/* PeerTimeout */
	apr_interval_time_t open_timeout;	/* ChannelOpenTimeout */
	unsigned max_links;
	atomic_uint out_links, in_links;
	atomic_int stopping;
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

unsigned
mps_peer_links_shutdown(mps_peer_links_t *l, apr_interval_time_t timeout)
{
	apr_time_t end = apr_time_now() + timeout;

	if (l == NULL)
		return 0;
	atomic_store(&l->stopping, 1);
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
	free(l);
}

void
mps_peer_links_count(mps_peer_links_t *l, unsigned *out, unsigned *in)
{
	*out = l != NULL ? atomic_load(&l->out_links) : 0;
	*in = l != NULL ? atomic_load(&l->in_links) : 0;
}

/* ---- bounded waits -------------------------------------------------------- */

/* Waits for events on fd until deadline (APR time). Returns 1 ready, 0
 * deadline passed, -1 stopping. */
static int
wait_fd(mps_peer_links_t *l, int fd, short events, apr_time_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		apr_time_t now = apr_time_now();
		int ms, r;

		if (atomic_load(&l->stopping))
			return -1;
		if (now >= deadline)
			return 0;
		ms = (int)apr_time_as_msec(deadline - now) + 1;
		if (ms > STOP_POLL_MS)
			ms = STOP_POLL_MS;
		r = poll(&p, 1, ms);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 1;	/* let the I/O call report it */
	}
}

/* Drives a handshake, a read or a write of ssl to completion or the
 * deadline: op returns what SSL_do_handshake/SSL_read/SSL_write do.
 * Returns op's positive result, 0 on a clean close (reads), or -1. */
static int
ssl_wait_op(mps_peer_links_t *l, SSL *ssl, int fd, apr_time_t deadline,
    int (*op)(SSL *, void *, int), void *buf, int n)
{
	for (;;) {
		int r = op(ssl, buf, n), e;

		if (r > 0)
			return r;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (e == SSL_ERROR_WANT_READ) {
			if (wait_fd(l, fd, POLLIN, deadline) != 1)
				return -1;
			continue;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(l, fd, POLLOUT, deadline) != 1)
				return -1;
			continue;
		}
		return -1;
	}
}

static int
op_handshake(SSL *ssl, void *buf, int n)
{
	(void)buf;
	(void)n;
	return SSL_do_handshake(ssl);
}

static int
op_read(SSL *ssl, void *buf, int n)
{
	return SSL_read(ssl, buf, n);
}

static int
op_write(SSL *ssl, void *buf, int n)
{
	return SSL_write(ssl, buf, n);
}

static int
ssl_write_all(mps_peer_links_t *l, SSL *ssl, int fd, const uint8_t *p,
    size_t n, apr_time_t deadline)
{
	while (n > 0) {
		int r = ssl_wait_op(l, ssl, fd, deadline, op_write, (void *)p,
		    n > INT_MAX ? INT_MAX : (int)n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
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

/* ---- the relay ------------------------------------------------------------ */

typedef struct relay_buf {
	uint8_t b[RELAY_BUF];
	size_t off, len;
} relay_buf;

static size_t
rb_room(const relay_buf *r)
{
	return RELAY_BUF - r->off - r->len;
}

static void
rb_compact(relay_buf *r)
{
	if (r->off > 0) {
		memmove(r->b, r->b + r->off, r->len);
		r->off = 0;
	}
}

/*
 * Relays plain <-> ssl until both directions are closed, either end
 * fails, or the links stop. to_tls/to_plain may hold bytes already
 * (what the console sent past its request; the front end's reply).
 * A full buffer stops reading from its source: back-pressure.
 */
static void
relay(mps_peer_links_t *l, SSL *ssl, int tls_fd, int plain_fd,
    relay_buf *to_tls, relay_buf *to_plain)
{
	int plain_eof = 0, tls_eof = 0, tls_shut = 0, plain_shut = 0;

	while (!(tls_shut && plain_shut)) {
		int progress = 0, tls_want_in = 0, tls_want_out = 0;
		int plain_want_out = 0;
		struct pollfd p[2];
		ssize_t n;
		int r, e;

		if (atomic_load(&l->stopping))
			return;
		/* console -> to_tls */
		rb_compact(to_tls);
		if (!plain_eof && rb_room(to_tls) > 0) {
			n = recv(plain_fd, to_tls->b + to_tls->len,
			    rb_room(to_tls), 0);
			if (n > 0) {
				to_tls->len += (size_t)n;
				progress = 1;
			} else if (n == 0)
				plain_eof = progress = 1;
			else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				return;
		}
		/* to_tls -> TLS */
		if (to_tls->len > 0) {
			ERR_clear_error();
			r = SSL_write(ssl, to_tls->b + to_tls->off,
			    (int)to_tls->len);
			if (r > 0) {
				to_tls->off += (size_t)r;
				to_tls->len -= (size_t)r;
				progress = 1;
			} else {
				e = SSL_get_error(ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					tls_want_in = 1;
				else if (e == SSL_ERROR_WANT_WRITE)
					tls_want_out = 1;
				else
					return;
			}
		}
		if (plain_eof && to_tls->len == 0 && !tls_shut) {
			/* close_notify: the other end sees the console's
			 * FIN; reading goes on (a half-close). */
			ERR_clear_error();
			(void)SSL_shutdown(ssl);
			tls_shut = progress = 1;
		}
		/* TLS -> to_plain */
		rb_compact(to_plain);
		if (!tls_eof && rb_room(to_plain) > 0) {
			ERR_clear_error();
			r = SSL_read(ssl, to_plain->b + to_plain->len,
			    (int)rb_room(to_plain));
			if (r > 0) {
				to_plain->len += (size_t)r;
				progress = 1;
			} else {
				e = SSL_get_error(ssl, r);
				if (e == SSL_ERROR_ZERO_RETURN)
					tls_eof = progress = 1;
				else if (e == SSL_ERROR_WANT_READ)
					tls_want_in = 1;
				else if (e == SSL_ERROR_WANT_WRITE)
					tls_want_out = 1;
				else
					return;	/* reset, or a close without
						 * close_notify: truncation */
			}
		}
		/* to_plain -> console */
		if (to_plain->len > 0) {
			n = send(plain_fd, to_plain->b + to_plain->off,
			    to_plain->len, MSG_NOSIGNAL);
			if (n > 0) {
				to_plain->off += (size_t)n;
				to_plain->len -= (size_t)n;
				progress = 1;
			} else if (n < 0 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK || errno == EINTR))
				plain_want_out = 1;
			else
				return;
		}
		if (tls_eof && to_plain->len == 0 && !plain_shut) {
			(void)shutdown(plain_fd, SHUT_WR);
			plain_shut = progress = 1;
		}
		if (progress)
			continue;
		/* An fd with nothing to wait for is left out (-1): its
		 * POLLHUP would otherwise wake us at once, forever. */
		p[0].events = (short)((!plain_eof && rb_room(to_tls) > 0 ?
		    POLLIN : 0) | (plain_want_out ? POLLOUT : 0));
		p[0].fd = p[0].events != 0 ? plain_fd : -1;
		p[1].events = (short)((tls_want_in ? POLLIN : 0) |
		    (tls_want_out ? POLLOUT : 0));
		p[1].fd = p[1].events != 0 ? tls_fd : -1;
		p[0].revents = p[1].revents = 0;
		(void)poll(p, 2, STOP_POLL_MS);
	}
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

/* A non-blocking TCP connection to address within deadline, or -1. */
static int
connect_to(mps_peer_links_t *l, const char *address, apr_time_t deadline,
    char *why, size_t whysize)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[16];
	int fd = -1, rc;

	if (split_address(address, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		snprintf(why, whysize, "PeerAddress \"%.100s\" is not host:port",
		    address);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(why, whysize, "%.100s: %s", host, gai_strerror(rc));
		return -1;
	}
	snprintf(why, whysize, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int err = 0, one = 1;
		socklen_t len = sizeof(err);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			snprintf(why, whysize, "socket: %s", strerror(errno));
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			rc = wait_fd(l, fd, POLLOUT, deadline);
			if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    &err, &len) == 0 && err == 0)
				break;
			snprintf(why, whysize, "%s", rc == 0 ?
			    "connect timed out (PeerTimeout)" : rc < 0 ?
			    "stopping" : strerror(err));
		} else
			snprintf(why, whysize, "%s", strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- forwarding a console of this instance -------------------------------- */

typedef struct fwd {
	mps_peer_links_t *links;
	mps_console_t *c;		/* referenced until decided */
	mps_strand_t *strand;		/* where the console waits */
	mps_peer_header_t h;
	char front[8];			/* "SOCKS", "HTTP" */
	char console[64];		/* its peer text, for logs */

	/* The thread's findings. */
	open_result result;
	char instance[72];
	char address[256];
	SSL *ssl;
	int tls_fd;

	/* The strand's decision (under mu). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int decided;			/* 0 waiting, 1 relay, -1 end */
	int console_fd;
	/* What the console object still held: its input past the request
	 * (up to the front end's 64 KiB) and its reply; sent first. */
	uint8_t *pre_up, *pre_down;
	size_t pre_up_len, pre_down_len;
	relay_buf to_tls, to_plain;
} fwd;

static void
fwd_decide_locked(fwd *f, int decision)
{
	pthread_mutex_lock(&f->mu);
	f->decided = decision;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* Strand gone with the workers: nothing will decide. */
static void
fwd_discard(void *arg)
{
	fwd *f = arg;
	mps_console_t *c = f->c;

	f->c = NULL;
	fwd_decide_locked(f, -1);
	mps_console_unref(c);
}

/* On the console's strand: give the console its reply and, when the
 * owner opened, hand its socket to the link thread. */
static void
fwd_decide(void *arg)
{
	fwd *f = arg;
	mps_console_t *c = f->c;
	size_t n;

	f->c = NULL;
	if (c->phase != C_AUTH) {
		/* Closed meanwhile (shutdown). */
		fwd_decide_locked(f, -1);
		mps_console_unref(c);
		return;
	}
	c->phase = C_FRONT;
	if (f->result != OPEN_OK) {
		c->ops->refused(c, f->result);
		mps_console_close_soon(c);
		fwd_decide_locked(f, -1);
		mps_console_unref(c);
		return;
	}
	if (f->h.mode == MPS_PEER_MODE_CHANNEL)
		c->ops->opened(c);	/* the SOCKS or HTTP success reply */
	/* Both bounded: a front end's input (64 KiB) and its replies. */
	n = mps_buf_len(&c->down);
	if (n > 0 && (f->pre_down = malloc(n)) != NULL) {
		memcpy(f->pre_down, mps_buf_ptr(&c->down), n);
		f->pre_down_len = n;
	}
	n = mps_buf_len(&c->in);
	if (n > 0 && (f->pre_up = malloc(n)) != NULL) {
		memcpy(f->pre_up, mps_buf_ptr(&c->in), n);
		f->pre_up_len = n;
	}
	if ((mps_buf_len(&c->down) > 0 && f->pre_down == NULL) ||
	    (mps_buf_len(&c->in) > 0 && f->pre_up == NULL)) {
		mps_console_finalize(c);	/* out of memory */
		fwd_decide_locked(f, -1);
		mps_console_unref(c);
		return;
	}
	mps_log(MPS_LOG_INFO, "%s console %s (user \"%s\") forwarded to "
	    "instance %s (%s) for %s:%u", c->ops->name, c->peer, c->user,
	    f->instance, f->address, f->h.name, (unsigned)f->h.port);
	pthread_mutex_lock(&f->mu);
	f->console_fd = c->fd;
	c->fd = -1;		/* the link thread's now */
	f->decided = 1;
	pthread_cond_signal(&f->cv);
	pthread_mutex_unlock(&f->mu);
	mps_console_finalize(c);	/* the console object only */
	mps_console_unref(c);
}

static open_result
fwd_link(fwd *f)
{
	mps_peer_links_t *l = f->links;
	uint8_t hdr[MPS_PEER_HEADER_MAX], ans[MPS_PEER_ANSWER_LEN + RELAY_BUF];
	size_t hlen, got = 0;
	apr_time_t deadline = apr_time_now() + l->timeout;
	char why[256], subject[128];
	unsigned result = OPEN_INTERNAL;
	apr_status_t rv;

	rv = l->lookup(l->lookup_arg, f->h.name, f->instance,
	    sizeof(f->instance), f->address, sizeof(f->address));
	if (rv != APR_SUCCESS) {
		mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u: %s",
		    f->front, f->console, f->h.name, (unsigned)f->h.port,
		    rv == APR_NOTFOUND ? "no instance holds that Intel remote "
		    "client" : rv == APR_EEXIST ? "no such Intel remote client "
		    "is connected" : "the device directory is unavailable");
		return OPEN_NO_DEVICE;
	}
	f->tls_fd = connect_to(l, f->address, deadline, why, sizeof(why));
	if (f->tls_fd < 0)
		goto unreachable;
	f->ssl = SSL_new(l->client_ctx);
	if (f->ssl == NULL || SSL_set_fd(f->ssl, f->tls_fd) != 1) {
		snprintf(why, sizeof(why), "out of memory");
		goto unreachable;
	}
	SSL_set_connect_state(f->ssl);
	ERR_clear_error();
	if (ssl_wait_op(l, f->ssl, f->tls_fd, deadline, op_handshake, NULL,
	    0) != 1) {
		ssl_reason(why, sizeof(why));
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
		    " (TLS handshake; verify result: %s)",
		    X509_verify_cert_error_string(SSL_get_verify_result(
		    f->ssl)));
		goto unreachable;
	}
	peer_subject(f->ssl, subject, sizeof(subject));
	mps_log(MPS_LOG_DEBUG, "peer link to instance %s (%s, %s) up for "
	    "console %s", f->instance, f->address, subject, f->console);
	hlen = mps_peer_header_encode(&f->h, hdr);
	if (hlen == 0)
		return OPEN_NO_DEVICE;	/* a name the link cannot carry */
	if (ssl_write_all(l, f->ssl, f->tls_fd, hdr, hlen, deadline) != 0) {
		snprintf(why, sizeof(why), "cannot send the header");
		goto unreachable;
	}
	/* The owner answers once the device confirmed the channel: that
	 * takes up to ChannelOpenTimeout on the owner. */
	deadline = apr_time_now() + l->timeout + l->open_timeout;
	for (;;) {
		int r = ssl_wait_op(l, f->ssl, f->tls_fd, deadline, op_read,
		    ans + got, (int)(sizeof(ans) - got));
		if (r <= 0) {
			snprintf(why, sizeof(why), "no answer");
			goto unreachable;
		}
		got += (size_t)r;
		rv = mps_peer_answer_parse(ans, got, &result);
		if (rv == APR_SUCCESS)
			break;
		if (rv != MPS_NEED_MORE) {
			snprintf(why, sizeof(why), "a malformed answer");
			goto unreachable;
		}
	}
	/* Bytes after the answer are the console's already (a fast HTTP
	 * response in the http mode). */
	memcpy(f->to_plain.b, ans + MPS_PEER_ANSWER_LEN,
	    got - MPS_PEER_ANSWER_LEN);
	f->to_plain.len = got - MPS_PEER_ANSWER_LEN;
	if (result != OPEN_OK)
		mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u: "
		    "instance %s refused (%u)", f->front, f->console,
		    f->h.name, (unsigned)f->h.port, f->instance, result);
	return (open_result)result;
unreachable:
	mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u, held by "
	    "instance %s at %s: unreachable: %s", f->front, f->console,
	    f->h.name, (unsigned)f->h.port, f->instance, f->address, why);
	return OPEN_NO_DEVICE;
}

/* Writes the console's pending reply (a few bytes) within PeerTimeout. */
static int
send_all(mps_peer_links_t *l, int fd, const uint8_t *p, size_t n)
{
	apr_time_t deadline = apr_time_now() + l->timeout;

	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);

		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			if (wait_fd(l, fd, POLLOUT, deadline) != 1)
				return -1;
		} else
			return -1;
	}
	return 0;
}

static void
fwd_free(fwd *f)
{
	if (f->ssl != NULL)
		SSL_free(f->ssl);
	if (f->tls_fd >= 0)
		close(f->tls_fd);
	if (f->console_fd >= 0)
		close(f->console_fd);
	free(f->pre_up);
	free(f->pre_down);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	atomic_fetch_sub(&f->links->out_links, 1);
	free(f);
}

static void *
fwd_thread(void *arg)
{
	fwd *f = arg;
	int decided;

	f->result = fwd_link(f);
	ERR_clear_error();
	if (mps_strand_post_ex(f->strand, fwd_decide, fwd_discard, f) !=
	    APR_SUCCESS)
		fwd_discard(f);
	pthread_mutex_lock(&f->mu);
	while (f->decided == 0)
		pthread_cond_wait(&f->cv, &f->mu);
	decided = f->decided;
	pthread_mutex_unlock(&f->mu);
	if (decided == 1 && f->ssl != NULL &&
	    send_all(f->links, f->console_fd, f->pre_down, f->pre_down_len) ==
	    0 && ssl_write_all(f->links, f->ssl, f->tls_fd, f->pre_up,
	    f->pre_up_len, apr_time_now() + f->links->timeout) == 0)
		relay(f->links, f->ssl, f->tls_fd, f->console_fd, &f->to_tls,
		    &f->to_plain);
	ERR_clear_error();
	fwd_free(f);
	return NULL;
}

static int
spawn(void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)pthread_attr_setstacksize(&attr, LINK_STACK);
	rc = pthread_create(&t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

int
mps_console_forward(mps_console_t *c, const char *host, apr_port_t port,
    unsigned mode)
{
	mps_console_side_t *side = c->side;
	mps_peer_links_t *l = side->peer;
	fwd *f;

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
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		atomic_fetch_sub(&l->out_links, 1);
		return -1;
	}
	f->links = l;
	f->c = c;
	f->strand = c->home;
	f->tls_fd = f->console_fd = -1;
	f->h.mode = mode;
	f->h.port = mode == MPS_PEER_MODE_CHANNEL ? port : 0;
	snprintf(f->h.name, sizeof(f->h.name), "%s", host);
	snprintf(f->h.user, sizeof(f->h.user), "%.*s", MPS_PEER_USER_MAX,
	    c->user);
	for (char *u = f->h.user; *u != '\0'; u++)
		if ((unsigned char)*u < 0x20 || (unsigned char)*u > 0x7e)
			*u = '?';
	snprintf(f->front, sizeof(f->front), "%s", c->ops->name);
	snprintf(f->console, sizeof(f->console), "%s", c->peer);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
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
	if (spawn(fwd_thread, f) != 0) {
		mps_log(MPS_LOG_ERROR, "cannot start a peer link thread: %s",
		    strerror(errno));
		pthread_mutex_destroy(&f->mu);
		pthread_cond_destroy(&f->cv);
		free(f);
		atomic_fetch_sub(&l->out_links, 1);
		c->phase = C_FRONT;
		c->ops->refused(c, OPEN_INTERNAL);
		mps_console_close_soon(c);
		mps_console_unref(c);
		return 0;
	}
	return 0;
}

/* ---- a link accepted from another instance -------------------------------- */

typedef struct acc {
	mps_peer_links_t *links;
	int fd;
	char peer[64];
} acc;

static void *
acc_thread(void *arg)
{
	acc *a = arg;
	mps_peer_links_t *l = a->links;
	relay_buf *to_tls = NULL, *to_plain = NULL;
	SSL *ssl = SSL_new(l->server_ctx);
	char why[256], subject[128];
	int sp[2] = { -1, -1 };

	if (ssl == NULL || SSL_set_fd(ssl, a->fd) != 1)
		goto out;
	SSL_set_accept_state(ssl);
	ERR_clear_error();
	if (ssl_wait_op(l, ssl, a->fd, apr_time_now() + l->timeout,
	    op_handshake, NULL, 0) != 1) {
		ssl_reason(why, sizeof(why));
		mps_log(MPS_LOG_WARNING, "peer link from %s refused: %s "
		    "(verify result: %s)", a->peer, why,
		    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
		goto out;
	}
	peer_subject(ssl, subject, sizeof(subject));
	mps_log(MPS_LOG_DEBUG, "peer link from %s (%s) up", a->peer, subject);
	to_tls = calloc(1, sizeof(*to_tls));
	to_plain = calloc(1, sizeof(*to_plain));
	if (to_tls == NULL || to_plain == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) != 0)
		goto out;
	/* sp[0] is the peer console's (it owns and closes it). */
	mps_peer_console_accept(l->side, sp[0], a->peer);
	relay(l, ssl, a->fd, sp[1], to_tls, to_plain);
out:
	ERR_clear_error();
	if (sp[1] >= 0)
		close(sp[1]);
	SSL_free(ssl);
	close(a->fd);
	free(to_tls);
	free(to_plain);
	atomic_fetch_sub(&l->in_links, 1);
	free(a);
	return NULL;
}

void
mps_peer_accept(void *ctx, int fd, const char *peer)
{
	mps_peer_links_t *l = ctx;
	acc *a;

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
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		atomic_fetch_sub(&l->in_links, 1);
		close(fd);
		return;
	}
	a->links = l;
	a->fd = fd;
	snprintf(a->peer, sizeof(a->peer), "%s", peer);
	if (spawn(acc_thread, a) != 0) {
		atomic_fetch_sub(&l->in_links, 1);
		close(fd);
		free(a);
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
