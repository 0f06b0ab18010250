/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socks_front.c: the SOCKSv5 front end (RFC 1928, RFC 1929 login).
 *
 * Greeting -> [username/password, checked by the Socks plugin] ->
 * CONNECT request -> the device's strand opens the channel -> the reply.
 * Only CONNECT exists: BIND and UDP ASSOCIATE are answered 0x07. The
 * reply is sent only once the device confirmed the channel, so a console
 * that sees 0x00 has a working path to the device's port.
 *
 * The parsing is socks5.c's (pure, fuzzed); this file holds the
 * sequence and the policy.
 */
#include "console_priv.h"
#include "console_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mps_status.h"
#include "peer_header.h"
#include "socks5.h"

typedef enum {
	SOCKS_GREETING = 1,
	SOCKS_USERPASS,
	SOCKS_REQUEST,
	SOCKS_DONE
} socks_state;

typedef struct socks_front {
	socks_state state;
	uint8_t atyp;
	char host[MPS_SOCKS5_HOST_SIZE];
} socks_front;

static socks_front *
state_of(mps_console_t *c)
{
	if (c->front == NULL)
		c->front = calloc(1, sizeof(socks_front));
	return c->front;
}

static void
queue(mps_console_t *c, const uint8_t *p, size_t n)
{
	/* Replies are a few bytes into an empty buffer: cannot fail short
	 * of memory, and then the close that follows is the answer. */
	(void)mps_buf_put(&c->down, p, n);
}

static void
reply(mps_console_t *c, uint8_t rep)
{
	uint8_t out[MPS_SOCKS5_REPLY_MAX];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	size_t n = 0;

	/* BND.ADDR/PORT: where we accepted the console (RFC 1928 asks for
	 * the server's bound address; consoles ignore it for CONNECT). */
	if (rep != MPS_SOCKS5_REP_SUCCEEDED ||
	    getsockname(c->fd, (struct sockaddr *)&ss, &len) != 0)
		ss.ss_family = AF_UNSPEC;
	if (mps_socks5_encode_reply(out, &n, rep,
	    ss.ss_family == AF_UNSPEC ? NULL : (struct sockaddr *)&ss) ==
	    APR_SUCCESS)
		queue(c, out, n);
}

static void
refuse(mps_console_t *c, uint8_t rep)
{
	reply(c, rep);
	mps_console_close_soon(c);
}

static void
on_greeting(mps_console_t *c, socks_front *f)
{
	const uint8_t *p = mps_buf_ptr(&c->in);
	size_t n = mps_buf_len(&c->in), used = 0;
	unsigned offered = 0;
	uint8_t out[MPS_SOCKS5_METHOD_REPLY_LEN], method;
	apr_status_t rv;

	rv = mps_socks5_parse_greeting(p, n, &used, &offered);
	if (rv == MPS_NEED_MORE)
		return;
	if (rv != APR_SUCCESS) {
		const char *what = mps_socks5_foreign_protocol(p, n);
		mps_log(MPS_LOG_WARNING, "SOCKS console %s: not a SOCKSv5 "
		    "greeting%s%s: closed", c->peer, what != NULL ? " (looks "
		    "like " : "", what != NULL ? what : "");
		mps_console_finalize(c);
		return;
	}
	(void)mps_buf_consume(&c->in, used);
	method = mps_socks5_choose_method(offered, c->side->auth != NULL);
	queue(c, out, mps_socks5_encode_method(out, method));
	if (method == MPS_SOCKS5_METHOD_NO_ACCEPTABLE) {
		mps_log(MPS_LOG_WARNING, "SOCKS console %s offered no acceptable "
		    "method (%s required): closed", c->peer,
		    c->side->auth != NULL ? "username/password" : "none");
		mps_console_close_soon(c);
		return;
	}
	f->state = method == MPS_SOCKS5_METHOD_USERPASS ? SOCKS_USERPASS :
	    SOCKS_REQUEST;
}

static void
on_userpass(mps_console_t *c, socks_front *f)
{
	char user[MPS_SOCKS5_CRED_SIZE], pass[MPS_SOCKS5_CRED_SIZE];
	size_t used = 0;
	apr_status_t rv;

	rv = mps_socks5_parse_userpass(mps_buf_ptr(&c->in), mps_buf_len(&c->in),
	    &used, user, sizeof(user), pass, sizeof(pass));
	if (rv == MPS_NEED_MORE)
		return;
	(void)mps_buf_consume(&c->in, used);
	if (rv != APR_SUCCESS || pass[0] == '\0') {
		uint8_t out[MPS_SOCKS5_AUTH_REPLY_LEN];
		mps_metric_console(MPS_FRONT_SOCKS, MPS_CONSOLE_AUTH_FAILED);
		mps_log(MPS_LOG_WARNING, "SOCKS console %s: %s: refused", c->peer,
		    rv != APR_SUCCESS ? "malformed username/password message" :
		    "empty password");
		explicit_bzero(pass, sizeof(pass));
		queue(c, out, mps_socks5_encode_auth_status(out, 0));
		mps_console_close_soon(c);
		return;
	}
	f->state = SOCKS_REQUEST;
	mps_console_authenticate(c, user, pass);
	explicit_bzero(pass, sizeof(pass));
}

static void
on_request(mps_console_t *c, socks_front *f)
{
	mps_socks5_request_t req;
	size_t used = 0;
	open_result why;
	apr_status_t rv;

	rv = mps_socks5_parse_request(mps_buf_ptr(&c->in), mps_buf_len(&c->in),
	    &used, &req);
	if (rv == MPS_NEED_MORE)
		return;
	if (rv != APR_SUCCESS) {
		mps_metric_console(MPS_FRONT_SOCKS, MPS_CONSOLE_BAD_REQUEST);
		mps_log(MPS_LOG_WARNING, "SOCKS console %s: malformed request: "
		    "refused", c->peer);
		refuse(c, mps_socks5_rep_for(rv));
		return;
	}
	(void)mps_buf_consume(&c->in, used);
	if (req.cmd != MPS_SOCKS5_CMD_CONNECT) {
		mps_metric_console(MPS_FRONT_SOCKS, MPS_CONSOLE_BAD_REQUEST);
		mps_log(MPS_LOG_WARNING, "SOCKS console %s: %s to %s:%u refused: "
		    "only CONNECT is supported", c->peer,
		    mps_socks5_cmd_name(req.cmd), req.host, (unsigned)req.port);
		refuse(c, MPS_SOCKS5_REP_CMD_NOT_SUPPORTED);
		return;
	}
	f->state = SOCKS_DONE;
	f->atyp = req.atyp;
	snprintf(f->host, sizeof(f->host), "%s", req.host);
	why = mps_console_resolve(c, req.host, req.port);
	if (why == OPEN_NO_DEVICE && mps_console_forward(c, req.host, req.port,
	    MPS_PEER_MODE_CHANNEL) == 0)
		return;		/* another instance holds it (peer_link.c) */
	if (why != OPEN_OK) {
		c->ops->refused(c, why);
		mps_console_close_soon(c);
		return;
	}
	c->raw = 1;
	mps_console_move(c);
}

static void
socks_input(mps_console_t *c)
{
	socks_front *f = state_of(c);

	if (f == NULL) {
		mps_console_finalize(c);
		return;
	}
	if (f->state == 0)
		f->state = SOCKS_GREETING;
	while (c->phase == C_FRONT && mps_buf_len(&c->in) > 0) {
		socks_state before = f->state;
		size_t had = mps_buf_len(&c->in);

		switch (f->state) {
		case SOCKS_GREETING:
			on_greeting(c, f);
			break;
		case SOCKS_USERPASS:
			on_userpass(c, f);
			break;
		case SOCKS_REQUEST:
			on_request(c, f);
			break;
		case SOCKS_DONE:
			return;
		}
		if (f->state == before && mps_buf_len(&c->in) == had)
			break;	/* needs more bytes */
	}
}

static void
socks_auth_done(mps_console_t *c, mps_auth_verdict_t verdict,
    const char *err)
{
	uint8_t out[MPS_SOCKS5_AUTH_REPLY_LEN];
	int granted = verdict == MPS_AUTH_GRANTED;

	(void)err;
	/*
	 * RFC 1929 has one failure status for every reason: a login the
	 * console login lane refused gets it too (the client must close),
	 * and is counted apart; the CONNECT reply that would carry "general
	 * server failure" never comes without a login.
	 */
	queue(c, out, mps_socks5_encode_auth_status(out, granted));
	if (!granted) {
		mps_metric_console(MPS_FRONT_SOCKS, verdict == MPS_AUTH_BUSY ?
		    MPS_CONSOLE_BUSY : c->throttled ?
		    MPS_CONSOLE_LOGIN_THROTTLED : MPS_CONSOLE_AUTH_FAILED);
		mps_console_close_soon(c);
		return;
	}
	socks_input(c);		/* the request may already be here */
}

static void
socks_opened(mps_console_t *c)
{
	mps_metric_console(MPS_FRONT_SOCKS, MPS_CONSOLE_OPENED);
	reply(c, MPS_SOCKS5_REP_SUCCEEDED);
}

static void
socks_refused(mps_console_t *c, open_result why)
{
	uint8_t rep;

	mps_metric_console(MPS_FRONT_SOCKS, mps_console_metric_result(why));
	switch (why) {
	case OPEN_NO_DEVICE:
		rep = MPS_SOCKS5_REP_HOST_UNREACHABLE;
		break;
	case OPEN_PORT_REFUSED:
		rep = MPS_SOCKS5_REP_NOT_ALLOWED;
		break;
	case OPEN_DEVICE_REFUSED:
	case OPEN_TOO_MANY:
		rep = MPS_SOCKS5_REP_CONNECTION_REFUSED;
		break;
	case OPEN_TIMEOUT:
		rep = MPS_SOCKS5_REP_TTL_EXPIRED;
		break;
	default:
		rep = MPS_SOCKS5_REP_GENERAL_FAILURE;
		break;
	}
	reply(c, rep);
}

static void
socks_free(mps_console_t *c)
{
	free(c->front);
	c->front = NULL;
}

const front_ops mps_socks_front = {
	.name = "SOCKS",
	.log_shutdown = 1,
	.input = socks_input,
	.auth_done = socks_auth_done,
	.opened = socks_opened,
	.refused = socks_refused,
	.to_device = NULL,
	.from_device = NULL,
	.switch_ready = NULL,
	.switched = NULL,
	.free_state = socks_free,
};
