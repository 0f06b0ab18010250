/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http_front.c: the HTTP proxy front end's state machine
 * (http_front.c): request heads, login, CONNECT and forwarding, bodies,
 * pipelined responses and the switch to another device, fed in chunks
 * the input chooses over the fake console.c of fuzz_front.h (which says
 * how the input is read).
 *
 * http_front.c is included, not linked, so that the checks can read its
 * private state. Its own checks, after every step:
 * - credentials being checked (pending) exist only while the plugin
 *   decides (C_AUTH): never kept, never left unwiped in another phase;
 *   accepted ones only when a plugin is configured;
 * - the pipeline's ring stays in bounds (outstanding <= PIPELINE_MAX);
 * - a moved console is raw exactly when it asked for CONNECT;
 * - everything the console is sent before the relay phase is an HTTP
 *   response ("HTTP/1.1 "): no device byte, no echo of the request.
 */
#include "../../server/console/http_front.c"

#include "fuzz_front.h"

static const front_ops *
front_under_test(void)
{
	return &mps_http_front;
}

static void
front_check(mps_console_t *c)
{
	http_front *f = c->front;

	if (f == NULL)
		return;
	if (f->pending != NULL && c->phase != C_AUTH)
		abort();
	if (f->cred != NULL && c->side->auth == NULL)
		abort();
	if (f->outstanding > PIPELINE_MAX || f->first >= PIPELINE_MAX)
		abort();
	if (c->phase >= C_MOVING && c->phase <= C_RELAY &&
	    (c->raw != 0) != (f->mode == MODE_CONNECT))
		abort();
	if (ff.opens == 0 && mps_buf_len(&c->down) > 0 &&
	    (mps_buf_len(&c->down) < 9 ||
	    memcmp(mps_buf_ptr(&c->down), "HTTP/1.1 ", 9) != 0))
		abort();
}
