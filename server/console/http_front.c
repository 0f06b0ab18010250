/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_front.c: the HTTP proxy front end (HttpListenPort).
 *
 * Two kinds of request, both parsed by http_head.c (pure, fuzzed):
 *
 *  - CONNECT device:port: "200 Connection established" once the device
 *    confirmed the channel, then the connection is a raw byte pipe, as a
 *    SOCKS one (Apache's mod_proxy_connect chains this way).
 *  - absolute-form (GET http://device:16992/wsman ...): the head is
 *    rewritten in origin form (http_origin.c drops the hop-by-hop fields)
 *    and sent over a channel, the body follows by its framing (sized or
 *    chunked), and further requests on a keep-alive connection go down
 *    the same channel. The device's responses go back verbatim; the
 *    response framer (http_response.c) only counts where each ends, so
 *    that a later request naming another device can move the connection
 *    there once every earlier response is complete, never interleaved.
 *
 * Proxy authentication (Socks NeedAuthentication true): Basic
 * credentials, checked by the Socks plugin once per connection; later
 * requests on it must carry the same credentials (compared byte for
 * byte, in constant time), else 407 and the connection ends.
 *
 * Errors are HTTP statuses with a short body and Connection: close: 400
 * malformed, 403 port not allowed, 407 credentials, 502 device not
 * connected or channel refused, 503 too many channels, 504 the device
 * did not answer the channel in time.
 */
#include "console_priv.h"
#include "console_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_basic.h"
#include "http_chunked.h"
#include "http_head.h"
#include "http_origin.h"
#include "http_reply.h"
#include "http_response.h"
#include "mps_status.h"
#include "peer_header.h"

/* Requests forwarded whose responses have not ended (pipelining). */
#define PIPELINE_MAX 32

typedef enum {
	MODE_NONE = 0,
	MODE_CONNECT,
	MODE_FORWARD
} http_mode;

typedef struct http_front {
	mps_http_head_t head;
	http_mode mode;

	/* The device this connection's channel leads to. */
	char origin[MPS_REGISTRY_FQDN_SIZE];
	apr_port_t origin_port;

	/* Proxy credentials: accepted (cred) and being checked (pending). */
	char *cred;
	size_t cred_len;
	char *pending;
	size_t pending_len;

	/* The request body being forwarded. */
	int in_body;
	mps_http_body_t body;
	uint64_t left;
	mps_http_chunked_t chunked;
	int last_request;		/* the console asked to close */

	/* Responses still expected, oldest first: was the request HEAD? */
	unsigned outstanding;
	unsigned first;
	unsigned char was_head[PIPELINE_MAX];
	mps_http_resp_t resp;
	int resp_started;
	int resp_lost;			/* framing unknown: never switch */
	int waiting_switch;		/* a request for another device waits */
} http_front;

static http_front *
state_of(mps_console_t *c)
{
	http_front *f = c->front;

	if (f == NULL) {
		f = calloc(1, sizeof(*f));
		if (f != NULL)
			mps_http_head_init(&f->head);
		c->front = f;
	}
	return f;
}

static void
queue_error(mps_console_t *c, unsigned status)
{
	(void)mps_http_write_error(&c->down, status);
}

/* The head's host as text. */
static void
host_text(const mps_http_head_t *h, char *out, size_t size)
{
	size_t n = h->host.len < size - 1 ? h->host.len : size - 1;

	memcpy(out, mps_http_span_ptr(h, h->host), n);
	out[n] = '\0';
}

static int
same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	unsigned char diff = 0;
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

static void
wipe_free(char **p, size_t *len)
{
	if (*p != NULL) {
		explicit_bzero(*p, *len);
		free(*p);
	}
	*p = NULL;
	*len = 0;
}

/*
 * Checks a parsed head before anything is opened for it: its form, and
 * the proxy credentials. Returns 0 to go on, 1 when a login was started
 * (the verdict comes back through auth_done), -1 after queueing a
 * refusal.
 */
static int
check_head(mps_console_t *c, http_front *f)
{
	const mps_http_head_t *h = &f->head;
	char buf[1024];
	const char *user = NULL, *pass = NULL;

	if (h->form == MPS_HTTP_FORM_ORIGIN || h->form == MPS_HTTP_FORM_ASTERISK) {
		mps_log(MPS_LOG_WARNING, "HTTP console %s: not a proxy request "
		    "(origin-form): refused", c->peer);
		mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_BAD_REQUEST);
		queue_error(c, 400);
		return -1;
	}
	if (h->form == MPS_HTTP_FORM_ABSOLUTE &&
	    h->scheme != MPS_HTTP_SCHEME_HTTP) {
		mps_log(MPS_LOG_WARNING, "HTTP console %s: https:// URLs go "
		    "through CONNECT: refused", c->peer);
		mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_BAD_REQUEST);
		queue_error(c, 400);
		return -1;
	}
	if (h->expect == MPS_HTTP_EXPECT_OTHER) {
		queue_error(c, 417);
		return -1;
	}
	if (c->side->auth == NULL)
		return 0;
	if (c->trusted && f->cred == NULL) {
		/*
		 * Over a peer link: the instance the console came to checked
		 * these credentials. Keep them, so that later requests on the
		 * connection must carry the same ones, as on one instance.
		 */
		if (h->proxy_auth == MPS_HTTP_AUTH_BASIC &&
		    (f->cred = malloc(h->credentials.len + 1)) != NULL) {
			memcpy(f->cred, mps_http_span_ptr(h, h->credentials),
			    h->credentials.len);
			f->cred[h->credentials.len] = '\0';
			f->cred_len = h->credentials.len;
		}
		return 0;
	}
	if (h->proxy_auth != MPS_HTTP_AUTH_BASIC) {
		mps_log(MPS_LOG_DEBUG, "HTTP console %s: no Basic proxy "
		    "credentials: 407", c->peer);
		mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_AUTH_FAILED);
		queue_error(c, 407);
		return -1;
	}
	if (f->cred != NULL) {
		if (same_bytes(f->cred, f->cred_len,
		    mps_http_span_ptr(h, h->credentials), h->credentials.len))
			return 0;
		mps_log(MPS_LOG_WARNING, "HTTP console %s: other proxy "
		    "credentials on an authenticated connection: 407", c->peer);
		mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_AUTH_FAILED);
		queue_error(c, 407);
		return -1;
	}
	if (mps_http_head_basic_credentials(h, buf, sizeof(buf), &user,
	    &pass) != APR_SUCCESS || pass[0] == '\0') {
		explicit_bzero(buf, sizeof(buf));
		mps_log(MPS_LOG_WARNING, "HTTP console %s: malformed or empty "
		    "proxy credentials: 407", c->peer);
		mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_AUTH_FAILED);
		queue_error(c, 407);
		return -1;
	}
	f->pending = malloc(h->credentials.len + 1);
	if (f->pending == NULL) {
		explicit_bzero(buf, sizeof(buf));
		queue_error(c, 503);
		return -1;
	}
	memcpy(f->pending, mps_http_span_ptr(h, h->credentials),
	    h->credentials.len);
	f->pending[h->credentials.len] = '\0';
	f->pending_len = h->credentials.len;
	mps_console_authenticate(c, user, pass);
	explicit_bzero(buf, sizeof(buf));
	return 1;
}

static unsigned
status_for(open_result why)
{
	switch (why) {
	case OPEN_PORT_REFUSED:
		return 403;
	case OPEN_TOO_MANY:
		return 503;
	case OPEN_TIMEOUT:
		return 504;
	default:
		return 502;
	}
}

/* ---- the front phase (own strand) -------------------------------------- */

/*
 * The device is held by another instance: CONNECT travels as a channel
 * (the owner answers, this front end replies 200 or the refusal); an
 * absolute-form request travels whole, head and all, and the owner's
 * HTTP front end serves the connection from then on (it frames the
 * requests and responses, rewrites the heads, and keeps the same
 * statuses). Returns 0 when forwarded, -1 when there is no link.
 */
static int
forward(mps_console_t *c, http_front *f, const char *host, size_t used)
{
	apr_port_t port = f->head.port;

	if (c->side->peer == NULL || c->trusted)
		return -1;
	if (f->head.is_connect) {
		/* http_opened writes the 200 for a CONNECT. */
		f->mode = MODE_CONNECT;
		(void)mps_buf_consume(&c->in, used);
		mps_http_head_init(&f->head);
		return mps_console_forward(c, host, port,
		    MPS_PEER_MODE_CHANNEL);
	}
	mps_http_head_init(&f->head);
	return mps_console_forward(c, host, 0, MPS_PEER_MODE_HTTP);
}

static void
http_input(mps_console_t *c)
{
	http_front *f = state_of(c);
	char host[MPS_REGISTRY_FQDN_SIZE];
	size_t used = 0;
	open_result why;
	apr_status_t rv;
	int r;

	if (f == NULL) {
		mps_console_finalize(c);
		return;
	}
	if (mps_buf_len(&c->in) == 0)
		return;
	rv = mps_http_head_parse(&f->head, mps_buf_ptr(&c->in),
	    mps_buf_len(&c->in), NULL, &used);
	if (rv == MPS_NEED_MORE)
		return;
	if (rv != APR_SUCCESS) {
		mps_log(MPS_LOG_WARNING, "HTTP console %s: %u %s: refused",
		    c->peer, f->head.reply_status,
		    f->head.why != NULL ? f->head.why : "bad request");
		mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_BAD_REQUEST);
		queue_error(c, f->head.reply_status);
		mps_console_close_soon(c);
		return;
	}
	r = check_head(c, f);
	if (r > 0)
		return;		/* the plugin decides */
	if (r < 0) {
		mps_console_close_soon(c);
		return;
	}
	host_text(&f->head, host, sizeof(host));
	why = mps_console_resolve(c, host, f->head.port);
	if (why == OPEN_NO_DEVICE && forward(c, f, host, used) == 0)
		return;		/* another instance holds it (peer_link.c) */
	if (why != OPEN_OK) {
		mps_metric_console(MPS_FRONT_HTTP, mps_console_metric_result(why));
		queue_error(c, status_for(why));
		mps_console_close_soon(c);
		return;
	}
	snprintf(f->origin, sizeof(f->origin), "%s", host);
	f->origin_port = f->head.port;
	if (f->head.is_connect) {
		f->mode = MODE_CONNECT;
		(void)mps_buf_consume(&c->in, used);
		c->raw = 1;
	} else {
		/* The head stays in c->in: the relay forwards it (and the
		 * ones after it) once the channel is open. */
		f->mode = MODE_FORWARD;
		c->raw = 0;
	}
	mps_http_head_init(&f->head);
	mps_console_move(c);
}

static void
http_auth_done(mps_console_t *c, mps_auth_verdict_t verdict,
    const char *err)
{
	http_front *f = c->front;

	(void)err;
	if (verdict != MPS_AUTH_GRANTED) {
		/* Refused unheard by the console login lane: 503, a server
		 * failure, not a challenge for other credentials. */
		int busy = verdict == MPS_AUTH_BUSY;

		mps_metric_console(MPS_FRONT_HTTP, busy ? MPS_CONSOLE_BUSY :
		    c->throttled ? MPS_CONSOLE_LOGIN_THROTTLED :
		    MPS_CONSOLE_AUTH_FAILED);
		wipe_free(&f->pending, &f->pending_len);
		queue_error(c, busy ? 503 : 407);
		mps_console_close_soon(c);
		return;
	}
	f->cred = f->pending;
	f->cred_len = f->pending_len;
	f->pending = NULL;
	f->pending_len = 0;
	/* Parse the same head again: now it passes the check. */
	mps_http_head_init(&f->head);
	http_input(c);
}

/* ---- the relay phase (device strand) ------------------------------------ */

static void
http_opened(mps_console_t *c)
{
	http_front *f = c->front;

	mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_OPENED);
	if (f->mode == MODE_CONNECT)
		(void)mps_http_write_connect_ok(&c->down);
}

static void
http_refused(mps_console_t *c, open_result why)
{
	mps_metric_console(MPS_FRONT_HTTP, mps_console_metric_result(why));
	queue_error(c, status_for(why));
}

/* Moves body bytes from c->in to c->up. Returns 0, or -1 on a framing
 * error. */
static int
forward_body(mps_console_t *c, http_front *f)
{
	size_t room = mps_buf_max_size(&c->up) - mps_buf_len(&c->up);
	size_t n = mps_buf_len(&c->in), used = 0;
	apr_status_t rv;

	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	if (f->body == MPS_HTTP_BODY_LENGTH) {
		if ((uint64_t)n > f->left)
			n = (size_t)f->left;
		used = n;
		f->left -= n;
		if (f->left == 0)
			f->in_body = 0;
	} else {
		rv = mps_http_chunked_feed(&f->chunked, mps_buf_ptr(&c->in), n,
		    &used);
		if (rv == APR_SUCCESS)
			f->in_body = 0;
		else if (rv != MPS_NEED_MORE) {
			mps_log(MPS_LOG_WARNING, "HTTP console %s: bad chunked "
			    "body: %s", c->peer, f->chunked.why != NULL ?
			    f->chunked.why : "malformed");
			return -1;
		}
	}
	if (used > 0 && mps_buf_put(&c->up, mps_buf_ptr(&c->in), used) !=
	    APR_SUCCESS)
		return -1;
	(void)mps_buf_consume(&c->in, used);
	return 0;
}

/* Queues a request head for the device in origin form. Returns 1 when
 * it was queued, 0 when c->up has no room yet, -1 to refuse. */
static int
forward_head(mps_console_t *c, http_front *f, size_t head_len)
{
	const mps_http_head_t *h = &f->head;
	unsigned flags = h->persistent ? 0 : MPS_HTTP_WRITE_CLOSE;
	int is_head;
	apr_status_t rv;

	if (f->outstanding >= PIPELINE_MAX)
		return 0;	/* wait for responses first */
	rv = mps_http_head_write_origin(h, flags, &c->up);
	if (rv == MPS_ERR_TOO_LARGE)
		return mps_buf_len(&c->up) > 0 ? 0 : -1;
	if (rv != APR_SUCCESS)
		return -1;
	is_head = h->method.len == 4 &&
	    memcmp(mps_http_span_ptr(h, h->method), "HEAD", 4) == 0;
	f->was_head[(f->first + f->outstanding) % PIPELINE_MAX] =
	    (unsigned char)is_head;
	f->outstanding++;
	f->body = h->body;
	f->left = h->content_length;
	f->in_body = (h->body == MPS_HTTP_BODY_LENGTH && h->content_length > 0) ||
	    h->body == MPS_HTTP_BODY_CHUNKED;
	if (h->body == MPS_HTTP_BODY_CHUNKED)
		mps_http_chunked_init(&f->chunked, 0, 0);
	if (!h->persistent)
		f->last_request = 1;
	(void)mps_buf_consume(&c->in, head_len);
	return 1;
}

static int
http_to_device(mps_console_t *c)
{
	http_front *f = c->front;
	char host[MPS_REGISTRY_FQDN_SIZE];
	size_t used;
	apr_status_t rv;
	int r;

	if (f->mode != MODE_FORWARD)
		return 0;
	for (;;) {
		if (f->in_body) {
			if (forward_body(c, f) < 0)
				return -1;
			if (f->in_body)
				return 0;	/* more body, or no room */
			continue;
		}
		if (f->last_request) {
			/* Connection: close was asked: bytes after that
			 * request are not requests (RFC 9112 §9.6). */
			mps_buf_reset(&c->in);
			return 0;
		}
		if (mps_buf_len(&c->in) == 0 || f->waiting_switch)
			return 0;
		mps_http_head_init(&f->head);
		used = 0;
		rv = mps_http_head_parse(&f->head, mps_buf_ptr(&c->in),
		    mps_buf_len(&c->in), NULL, &used);
		if (rv == MPS_NEED_MORE)
			return 0;
		if (rv != APR_SUCCESS || f->head.is_connect) {
			mps_log(MPS_LOG_WARNING, "HTTP console %s: bad request "
			    "on a kept-alive connection: %s", c->peer,
			    rv != APR_SUCCESS && f->head.why != NULL ?
			    f->head.why : "CONNECT after a forwarded request");
			if (f->outstanding == 0 && mps_buf_len(&c->down) == 0)
				queue_error(c, rv != APR_SUCCESS ?
				    f->head.reply_status : 400);
			return -1;
		}
		r = check_head(c, f);
		if (r != 0) {
			/* A new login mid-connection is not offered: the
			 * credentials must stay those accepted. */
			if (r > 0)
				wipe_free(&f->pending, &f->pending_len);
			return -1;
		}
		host_text(&f->head, host, sizeof(host));
		if (strcasecmp(host, f->origin) != 0 ||
		    f->head.port != f->origin_port) {
			if (f->resp_lost) {
				mps_log(MPS_LOG_WARNING, "HTTP console %s: "
				    "request for %s:%u after a response of "
				    "unknown length: connection closed",
				    c->peer, host, (unsigned)f->head.port);
				return -1;
			}
			/* Another device: once every response so far is
			 * complete, the connection moves there. */
			f->waiting_switch = 1;
			return 0;
		}
		r = forward_head(c, f, used);
		if (r <= 0)
			return r;
	}
}

static void
http_from_device(mps_console_t *c, const void *p, size_t n)
{
	http_front *f = c->front;
	const uint8_t *b = p;

	if (f->mode != MODE_FORWARD)
		return;
	while (n > 0 && f->outstanding > 0 && !f->resp_lost) {
		size_t used = 0;
		apr_status_t rv;

		if (!f->resp_started) {
			mps_http_resp_init(&f->resp, f->was_head[f->first], NULL);
			f->resp_started = 1;
		}
		rv = mps_http_resp_feed(&f->resp, b, n, &used);
		if (rv == APR_SUCCESS) {
			f->resp_started = 0;
			f->first = (f->first + 1) % PIPELINE_MAX;
			f->outstanding--;
			b += used;
			n -= used;
			if (f->resp.upgraded || f->resp.close)
				f->resp_lost = 1;	/* the rest is not ours */
			continue;
		}
		if (rv != MPS_NEED_MORE) {
			mps_log(MPS_LOG_WARNING, "HTTP console %s: the device's "
			    "response cannot be framed (%s): relayed as it is",
			    c->peer, f->resp.why != NULL ? f->resp.why : "?");
			f->resp_lost = 1;
		}
		break;
	}
}

static int
http_switch_ready(mps_console_t *c, char *host, size_t size,
    apr_port_t *port)
{
	http_front *f = c->front;

	if (f == NULL || !f->waiting_switch ||
	    f->outstanding > 0 || f->in_body)
		return 0;
	host_text(&f->head, host, size);
	*port = f->head.port;
	return 1;
}

/* The move is under way: the head stays in c->in for the new channel. */
static void
http_switched(mps_console_t *c)
{
	http_front *f = c->front;

	/* The new channel's device is this connection's origin now. */
	host_text(&f->head, f->origin, sizeof(f->origin));
	f->origin_port = f->head.port;
	f->waiting_switch = 0;
	f->resp_started = 0;
	mps_http_head_init(&f->head);
}

static void
http_free(mps_console_t *c)
{
	http_front *f = c->front;

	if (f == NULL)
		return;
	wipe_free(&f->cred, &f->cred_len);
	wipe_free(&f->pending, &f->pending_len);
	free(f);
	c->front = NULL;
}

const front_ops mps_http_front = {
	.name = "HTTP",
	.log_shutdown = 1,
	.input = http_input,
	.auth_done = http_auth_done,
	.opened = http_opened,
	.refused = http_refused,
	.to_device = http_to_device,
	.from_device = http_from_device,
	.switch_ready = http_switch_ready,
	.switched = http_switched,
	.free_state = http_free,
};
