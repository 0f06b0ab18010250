/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_socks_front.c: the SOCKSv5 front end's state machine
 * (socks_front.c) fed in chunks the input chooses, over the fake
 * console.c of fuzz_front.h (which says how the input is read).
 *
 * socks_front.c is included, not linked, so that the checks can read its
 * private state. Its own checks, after every step:
 * - at most one login per connection, at most one move (SOCKS never
 *   switches devices), and a moved console is raw;
 * - a console still in the front phase is never in SOCKS_DONE (it would
 *   ignore every further byte until its deadline);
 * - the first byte the console is sent is the method reply's 0x05.
 */
#include "../../server/console/socks_front.c"

#include "fuzz_front.h"

static int first_checked;

static const front_ops *
front_under_test(void)
{
	first_checked = 0;
	return &mps_socks_front;
}

static void
front_check(mps_console_t *c)
{
	socks_front *f = c->front;

	if (ff.auths > 1 || ff.moves > 1)
		abort();
	if (ff.moves > 0 && !c->raw)
		abort();
	if (f != NULL && (f->state > SOCKS_DONE))
		abort();
	if (f != NULL && c->phase == C_FRONT && !ff.closed &&
	    f->state == SOCKS_DONE)
		abort();
	if (!first_checked && mps_buf_len(&c->down) > 0) {
		if (((const uint8_t *)mps_buf_ptr(&c->down))[0] != 0x05)
			abort();
		first_checked = 1;
	}
}
