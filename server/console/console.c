/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.c: see console.h. The life cycle of a console connection, its
 * socket I/O, the login on the blocking lane, the target check and the
 * hand-over to the device's strand.
 *
 * References: the connection holds one until mps_console_finalize(), and
 * each task in flight for it (a login, the hand-over, a close request)
 * one. The last one frees the console; by then no strand can run
 * anything for it, so the free may happen on whichever thread drops it.
 */
#include "console_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admission.h"
#include "apf_session.h"
#include "auth_job.h"
#include "channel_relay.h"
#include "listener.h"
#include "metrics.h"
#include "log_limit.h"
#include "login_budget.h"
#include "mps_status.h"
#include "sockwrap.h"

/* One WARNING per this interval when MaxConsoles refuses consoles, or
 * front ends time out (a flood of idle sockets makes many). */
#define FULL_LOG_INTERVAL apr_time_from_sec(10)
/* A refused console may take this long to read our last words. */
#define CLOSE_LINGER apr_time_from_sec(2)
/* Bytes of a front end's input held at most (an HTTP head is bounded
 * by the parser far below this; SOCKS messages are tiny). */
#define FRONT_IN_MAX (MPS_HTTP_FRONT_IN_MAX)
/* What a closing console may still send us, read and dropped. */
#define DISCARD_MAX (256 * 1024)

#define MPS_HTTP_FRONT_IN_MAX (64 * 1024)

/* Login warnings: one line per console address in this long, the next
 * one saying how many were left out. A guessing attack once wrote
 * 112,000 lines in 40 s and rotated the whole log away. */
#define LOGIN_LOG_INTERVAL apr_time_from_sec(60)
#define LOGIN_LOG_BURST 1
/* How often the counts of floods that stopped are written. */
#define LOGIN_LOG_FLUSH apr_time_from_sec(10)

static void front_io(void *arg);
static void front_deadline(void *arg);
static void console_attach(void *arg);
static const mps_chan_peer_ops_t console_peer_ops;

int
mps_console_port_allowed(apr_port_t port)
{
	switch (port) {
	case 623:
	case 664:
	case 5900:
	case 16992:
	case 16993:
	case 16994:
	case 16995:
		return 1;
	default:
		return 0;
	}
}

/* ---- references and lifetime ---------------------------------------- */

void
mps_console_ref(mps_console_t *c)
{
	atomic_fetch_add(&c->refs, 1);
}

static void
console_free(mps_console_t *c)
{
	mps_console_side_t *side = c->side;

	pthread_mutex_lock(&side->list_lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		side->list = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&side->list_lock);
	if (c->ops->free_state != NULL)
		c->ops->free_state(c);
	mps_buf_free(&c->in);
	mps_buf_free(&c->up);
	mps_buf_free(&c->down);
	mps_device_release(c->dev);
	if (c->counted) {
		atomic_fetch_sub(&side->active, 1);
		mps_metric_gauge_add(MPS_M_CONSOLES_ACTIVE, -1);
	}
	if (c->own != NULL)
		mps_strand_release(c->own);
	free(c);
	atomic_fetch_sub(&side->live, 1);
}

static void
console_free_task(void *arg)
{
	console_free(arg);
}

void
mps_console_unref(mps_console_t *c)
{
	mps_strand_t *home;

	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	/* Freed on the strand it ran on last, behind any poll firing that
	 * was posted there before its registration went (strand.h's
	 * lifetime rule). That strand lives until the free: the own strand
	 * is released by it, a device's strand is kept by c->dev. */
	pthread_mutex_lock(&c->side->list_lock);
	home = c->home;
	pthread_mutex_unlock(&c->side->list_lock);
	if (mps_strand_post_free(home, console_free_task, c) != APR_SUCCESS)
		console_free(c);	/* the workers are gone */
}

/* Gives the pre-auth slot back (once): the request is complete and
 * authenticated, or the console ends before that. */
static void
preauth_release(mps_console_t *c)
{
	if (c->preauth && c->side->admission != NULL)
		mps_admission_leave(c->side->admission, c->ip, 0);
	c->preauth = 0;
}

void
mps_console_finalize(mps_console_t *c)
{
	mps_console_side_t *side = c->side;

	if (c->phase == C_CLOSED)
		return;
	c->phase = C_CLOSED;
	mps_console_log_channel_close(c);
	preauth_release(c);
	mps_timer_cancel(mps_poller_timers(side->poller), &c->timer);
	if (c->reg != NULL) {
		mps_poller_release(side->poller, c->reg);
		c->reg = NULL;
	}
	if (c->wrap != NULL) {
		mps_sockwrap_put(c->wrap);
		c->wrap = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	mps_console_unref(c);	/* the connection's reference */
}

/* ---- socket I/O --------------------------------------------------------- */

/* ---- channel lines ------------------------------------------------------ */

/* What the channel lines say about the two ends besides the device: the
 * front, the device port it asked for and the console's login name. */
static void
channel_ends(const mps_console_t *c, char *who, size_t who_size, char *what,
    size_t what_size)
{
	snprintf(who, who_size, "management console %s", c->ip);
	snprintf(what, what_size, "%s, device port %u, console %s, "
	    "console user \"%s\"", c->ops->name, (unsigned)c->port,
	    c->peer, c->user);
}

void
mps_console_log_channel_open(mps_console_t *c, const mps_chan_t *chan)
{
	char who[128], what[256];

	c->chan_remote = chan->remote_id;
	c->chan_local = chan->local_id;
	c->chan_opened_at = apr_time_now();
	c->chan_up0 = c->bytes_up;
	c->chan_down0 = c->bytes_down;
	c->chan_logged = 1;
	channel_ends(c, who, sizeof(who), what, sizeof(what));
	/* The first sentence is the guide's; what follows is ours. */
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and %s "
	    "opened. Channel ID [%u:%u]; %s", c->device_name, who,
	    (unsigned)c->chan_remote, (unsigned)c->chan_local, what);
}

void
mps_console_log_channel_close(mps_console_t *c)
{
	char who[128], what[256];
	apr_time_t took;

	if (!c->chan_logged)
		return;
	c->chan_logged = 0;
	took = apr_time_now() - c->chan_opened_at;
	channel_ends(c, who, sizeof(who), what, sizeof(what));
	mps_log(MPS_LOG_INFO, "Channel between Intel remote client %s and %s "
	    "closed. Channel ID [%u:%u]; %s, %llu bytes to the device, %llu "
	    "bytes from the device, %ld.%03ld s", c->device_name, who,
	    (unsigned)c->chan_remote, (unsigned)c->chan_local, what,
	    c->bytes_up - c->chan_up0, c->bytes_down - c->chan_down0,
	    (long)apr_time_sec(took),
	    (long)(apr_time_msec(took) % 1000));
}

int
mps_console_read(mps_console_t *c, size_t max)
{
	while (max > 0 && !c->eof) {
		size_t room = mps_buf_max_size(&c->in) - mps_buf_len(&c->in);
		size_t want = room < max ? room : max;
		uint8_t *tail;
		ssize_t n;

		if (want == 0)
			break;
		if (want > 16384)
			want = 16384;
		if (mps_buf_reserve(&c->in, want, &tail) != APR_SUCCESS)
			return -1;
		n = recv(c->fd, tail, want, 0);
		if (n > 0) {
			(void)mps_buf_commit(&c->in, (size_t)n);
			max -= (size_t)n;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return -1;
	}
	return 0;
}

int
mps_console_flush(mps_console_t *c, size_t *written)
{
	int rc;

	*written = 0;
	rc = mps_buf_send(&c->down, c->fd, written);
	c->bytes_down += (unsigned long long)*written;
	return rc;
}

/* ---- closing ------------------------------------------------------------ */

/* The linger: whatever the console still sends is read and dropped, so
 * that our last reply is not destroyed by a reset (closing a socket with
 * unread input sends RST, and the peer's stack may then discard the
 * reply before the application read it). */
static void
closing_io(mps_console_t *c)
{
	uint8_t sink[4096];
	size_t n = 0;
	ssize_t r;

	if (mps_console_flush(c, &n) < 0) {
		mps_console_finalize(c);
		return;
	}
	if (mps_buf_len(&c->down) == 0 && !c->close_after_down) {
		c->close_after_down = 1;
		(void)shutdown(c->fd, SHUT_WR);
	}
	for (;;) {
		r = recv(c->fd, sink, sizeof(sink), 0);
		if (r > 0) {
			c->bytes_up += (unsigned long long)r;
			if (c->bytes_up > DISCARD_MAX) {
				mps_console_finalize(c);
				return;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		mps_console_finalize(c);	/* EOF or error: done */
		return;
	}
	if (mps_poller_watch(c->side->poller, c->reg, APR_POLLIN |
	    (mps_buf_len(&c->down) > 0 ? APR_POLLOUT : 0)) != APR_SUCCESS)
		mps_console_finalize(c);
}

static void
closing_task(void *arg)
{
	mps_console_t *c = arg;

	if (c->phase == C_CLOSING)
		closing_io(c);
}

static void
closing_deadline(void *arg)
{
	mps_console_t *c = arg;

	if (c->phase == C_CLOSING)
		mps_console_finalize(c);
}

void
mps_console_close_soon(mps_console_t *c)
{
	mps_console_side_t *side = c->side;
	mps_strand_t *home = c->home;
	apr_status_t rv;

	if (c->phase >= C_CLOSING)
		return;
	c->phase = C_CLOSING;
	c->close_after_down = 0;
	c->bytes_up = 0;
	/* The registration and the timer move to this strand's close path:
	 * a new registration, since the old one may belong to another
	 * function. */
	mps_timer_cancel(mps_poller_timers(side->poller), &c->timer);
	mps_timer_init(&c->timer, home, closing_deadline, c);
	if (c->reg != NULL) {
		mps_poller_release(side->poller, c->reg);
		c->reg = NULL;
	}
	rv = mps_poller_register(side->poller, &c->reg, c->wrap, home,
	    closing_task, c);
	if (rv != APR_SUCCESS ||
	    mps_timer_arm(mps_poller_timers(side->poller), &c->timer,
	    CLOSE_LINGER) != APR_SUCCESS) {
		size_t n;
		(void)mps_console_flush(c, &n);
		mps_console_finalize(c);
		return;
	}
	closing_io(c);
}

/* ---- the front end's strand -------------------------------------------- */

void
mps_console_front_wait(mps_console_t *c)
{
	apr_int16_t ev = APR_POLLIN;

	if (c->phase != C_FRONT)
		return;
	if (mps_buf_len(&c->down) > 0)
		ev |= APR_POLLOUT;
	if (mps_poller_watch(c->side->poller, c->reg, ev) != APR_SUCCESS)
		mps_console_finalize(c);
}

static void
front_io(void *arg)
{
	mps_console_t *c = arg;
	size_t n;

	if (c->phase != C_FRONT)
		return;
	if (mps_console_flush(c, &n) < 0 || mps_console_read(c, 65536) < 0) {
		mps_log(MPS_LOG_DEBUG, "%s console %s: connection lost before "
		    "its request", c->ops->name, c->peer);
		mps_console_finalize(c);
		return;
	}
	c->ops->input(c);
	if (c->phase != C_FRONT)
		return;
	if (c->eof) {
		mps_log(MPS_LOG_DEBUG, "%s console %s closed before its request "
		    "was complete", c->ops->name, c->peer);
		mps_console_finalize(c);
		return;
	}
	mps_console_front_wait(c);
}

static void
front_deadline(void *arg)
{
	mps_console_t *c = arg;

	static mps_ratelog_t timeout_log;
	unsigned long missed = 0;

	if (c->phase != C_FRONT && c->phase != C_AUTH)
		return;
	if (mps_ratelog_allow(&timeout_log, apr_time_now(), FULL_LOG_INTERVAL,
	    &missed))
		mps_log(MPS_LOG_WARNING, "%s console %s: no complete request "
		    "within %ld s (PreAuthTimeout): closed (and %lu more since "
		    "the last such message)", c->ops->name, c->peer,
		    (long)apr_time_sec(c->side->cfg->preauth_timeout), missed);
	mps_console_finalize(c);
}

/* ---- the Socks plugin, on the blocking lane ---------------------------- */

/* The key a user name is budgeted under: the name, and an empty one
 * gets a key too (the table has no entry for ""). */
static const char *
user_key(const char *user)
{
	return user[0] != '\0' ? user : "\x01empty";
}

/* The key c's address is budgeted (and its warnings limited) under. */
static void
address_key(const mps_console_t *c, char *key, size_t size)
{
	mps_login_budget_address_key(c->ip, key, size);
}

enum { BUDGET_OK, BUDGET_ADDRESS, BUDGET_USER };

/*
 * Takes one failure from the address's and the user name's budgets
 * before the plugin is asked (login_budget.h says why before). Returns
 * BUDGET_OK, or which budget is spent (nothing is then taken).
 */
static int
budget_take(mps_console_t *c, const char *user)
{
	mps_console_side_t *side = c->side;
	apr_time_t now = apr_time_now();
	char key[64];

	if (side->addr_budget == NULL || side->user_budget == NULL)
		return BUDGET_OK;	/* a side not set up by side_init (tests) */
	address_key(c, key, sizeof(key));
	if (!mps_login_budget_take(side->addr_budget, key, now))
		return BUDGET_ADDRESS;
	if (!mps_login_budget_take(side->user_budget, user_key(user), now)) {
		mps_login_budget_refund(side->addr_budget, key, now);
		return BUDGET_USER;
	}
	return BUDGET_OK;
}

/* A granted login costs nothing: a console that opens many connections
 * (each logs in) never runs out. */
static void
budget_refund(mps_console_t *c, const char *user)
{
	mps_console_side_t *side = c->side;
	apr_time_t now = apr_time_now();
	char key[64];

	if (side->addr_budget == NULL || side->user_budget == NULL)
		return;
	address_key(c, key, sizeof(key));
	mps_login_budget_refund(side->addr_budget, key, now);
	mps_login_budget_refund(side->user_budget, user_key(user), now);
}

static void
auth_done(void *owner, mps_auth_verdict_t verdict, const char *user,
    const char *err)
{
	mps_console_t *c = owner;
	char key[64];

	if (c->phase == C_AUTH) {
		c->phase = C_FRONT;
		if (verdict == MPS_AUTH_BUSY) {
			/* auth_job.c logs the WARNING, rate-limited. Not a
			 * failed guess: the plugin was never asked, so the
			 * login's share of the budgets goes back. */
			budget_refund(c, user);
			mps_log(MPS_LOG_DEBUG, "%s console %s: login as \"%s\" "
			    "refused unheard: no console login thread free in "
			    "time", c->ops->name, c->peer, user);
		} else if (verdict != MPS_AUTH_GRANTED) {
			address_key(c, key, sizeof(key));
			mps_log_limited_key(c->side->login_log, key,
			    MPS_LOG_WARNING, "%s console %s failed to "
			    "authenticate as \"%s\"%s%s", c->ops->name, c->peer,
			    user, err[0] != '\0' ? ": " : "", err);
		} else {
			budget_refund(c, user);
			/* Kept for the channel lines (longer names are cut:
			 * the login line above has them whole). */
			snprintf(c->user, sizeof(c->user), "%s", user);
			mps_log(MPS_LOG_DEBUG, "%s console %s authenticated as "
			    "\"%s\"", c->ops->name, c->peer, user);
		}
		c->ops->auth_done(c, verdict, err);
		if (c->phase == C_FRONT)
			mps_console_front_wait(c);
	}
	mps_console_unref(c);	/* the job's reference */
}

static void
auth_dropped(void *owner)
{
	mps_console_unref(owner);
}

void
mps_console_authenticate(mps_console_t *c, const char *user,
    const char *password)
{
	apr_status_t rv;
	const mps_config_t *cfg = c->side->cfg;
	char key[64];
	int spent;

	if ((spent = budget_take(c, user)) != BUDGET_OK) {
		/* Refused unasked, and answered as any failure: a guess made
		 * over budget learns nothing, even a right one. */
		address_key(c, key, sizeof(key));
		mps_log_limited_key(c->side->login_log, key, MPS_LOG_WARNING,
		    "%s console %s: login as \"%s\" refused without checking: "
		    "too many failed logins %s (%s %d per minute)",
		    c->ops->name, c->peer, user,
		    spent == BUDGET_ADDRESS ? "from this address" :
		    "for this user name", spent == BUDGET_ADDRESS ?
		    "ConsoleLoginFailures" : "ConsoleLoginFailuresPerUser",
		    spent == BUDGET_ADDRESS ? cfg->console_login_failures :
		    cfg->console_user_login_failures);
		c->throttled = 1;
		c->ops->auth_done(c, MPS_AUTH_DENIED, "");
		return;
	}
	mps_console_ref(c);
	c->phase = C_AUTH;
	if (c->side->settings != NULL)
		rv = mps_auth_job_start_live(c->side->workers, c->side->settings,
		    MPS_LIVE_SOCKS_AUTH, c->own, user, strlen(user), password,
		    strlen(password), auth_done, auth_dropped, c);
	else
		rv = mps_auth_job_start(c->side->workers,
		    MPS_LANE_CONSOLE_AUTH, c->side->auth, c->own,
		    user, strlen(user), password, strlen(password), auth_done,
		    auth_dropped, c);
	if (rv != APR_SUCCESS) {
		mps_console_unref(c);
		budget_refund(c, user);
		c->phase = C_FRONT;
		c->ops->refused(c, OPEN_INTERNAL);
		mps_console_close_soon(c);
	}
}

/* ---- the target --------------------------------------------------------- */

open_result
mps_console_resolve(mps_console_t *c, const char *host, apr_port_t port)
{
	mps_device_t *dev = NULL;
	char fqdn[MPS_REGISTRY_FQDN_SIZE];

	if (mps_registry_lookup(c->side->registry, host, &dev) != APR_SUCCESS) {
		/* With the peer link on, the console may still be forwarded;
		 * the link logs the outcome. */
		mps_log(c->side->peer != NULL && !c->trusted ?
		    MPS_LOG_DEBUG : MPS_LOG_WARNING, "%s console %s asked for %s:%u: no such "
		    "Intel remote client is connected", c->ops->name, c->peer,
		    host, (unsigned)port);
		return OPEN_NO_DEVICE;
	}
	if (mps_device_fqdn(dev, fqdn, sizeof(fqdn)) != APR_SUCCESS)
		fqdn[0] = '\0';
	if (!mps_console_port_allowed(port) || !mps_device_has_port(dev, port)) {
		mps_log(MPS_LOG_WARNING, "%s console %s asked for %s:%u: %s",
		    c->ops->name, c->peer, host, (unsigned)port,
		    mps_console_port_allowed(port) ? "the Intel remote client "
		    "did not forward that port" : "not an Intel AMT port");
		mps_device_release(dev);
		return OPEN_PORT_REFUSED;
	}
	mps_device_release(c->dev);
	c->dev = dev;
	c->port = port;
	(void)mps_device_log_name(dev, c->device_name, sizeof(c->device_name));
	/* CHANNEL_OPEN names the address the device announced (what it
	 * forwarded), as LMS expects. */
	snprintf(c->connect_host, sizeof(c->connect_host), "%s", fqdn);
	return OPEN_OK;
}

/*
 * THE HAND-OVER: the one place where a console changes strands.
 *
 *   1. mps_console_move(), on the strand that runs the console (home):
 *      its timer is cancelled and its registration released, so nothing
 *      new can be queued for it on home; it becomes C_MOVING and the move
 *      takes a reference.
 *   2. console_leave, posted to home: it runs after every task already
 *      queued there for the console (a poll or timer firing overtaken by
 *      step 1, which finds C_MOVING and does nothing). It sets home to
 *      the device's strand under list_lock and posts console_attach()
 *      there; from then on the old strand never touches the console.
 *   3. console_attach() on the device's strand opens the channel
 *      (mps_relay_open()); from then on the channel layer reaches the
 *      console only through its peer ops (c->cp, below).
 *
 * So at every moment one strand owns the console's fields (console_priv.h
 * OWNERSHIP), and the front end that called mps_console_move() may still
 * look at the console (its phase, its front state) until its task ends.
 */
static void
move_discard(void *arg)
{
	mps_console_t *c = arg;

	/* The strand is gone with the workers: nothing can run. */
	mps_console_unref(c);
}

/* The move failed: the console stays where it is and is refused. */
static void
move_failed(mps_console_t *c)
{
	c->phase = C_FRONT;
	c->ops->refused(c, OPEN_NO_DEVICE);
	mps_console_close_soon(c);
	mps_console_unref(c);	/* the move's reference */
}

static void
console_leave(void *arg)
{
	mps_console_t *c = arg;
	mps_console_side_t *side = c->side;
	mps_strand_t *old = c->home, *dest = mps_device_strand(c->dev);

	if (c->phase != C_MOVING) {
		mps_console_unref(c);
		return;
	}
	pthread_mutex_lock(&side->list_lock);
	c->home = dest;
	pthread_mutex_unlock(&side->list_lock);
	if (mps_strand_post_ex(dest, console_attach, move_discard, c) ==
	    APR_SUCCESS)
		return;		/* the console is the device strand's now */
	pthread_mutex_lock(&side->list_lock);
	c->home = old;
	pthread_mutex_unlock(&side->list_lock);
	move_failed(c);
}

/*
 * The request is complete and authenticated: from the pre-auth budget to
 * the consoles' own (MaxConsoles), once per console (an HTTP console
 * that switches devices moves again with its slot). Returns 0, or -1
 * after refusing the console because MaxConsoles is reached.
 */
static int
console_take_slot(mps_console_t *c)
{
	mps_console_side_t *side = c->side;
	static mps_ratelog_t full_log;
	unsigned long missed = 0;

	preauth_release(c);
	if (c->counted)
		return 0;
	if (atomic_fetch_add(&side->active, 1) >=
	    (unsigned)side->cfg->max_consoles) {
		atomic_fetch_sub(&side->active, 1);
		mps_metric_inc(MPS_M_FULL_CONSOLES);
		if (mps_ratelog_allow(&full_log, apr_time_now(),
		    FULL_LOG_INTERVAL, &missed))
			mps_log(MPS_LOG_WARNING, "MaxConsoles (%d) reached: "
			    "refusing the %s console at %s (and %lu more since "
			    "the last such message)", side->cfg->max_consoles,
			    c->ops->name, c->peer, missed);
		c->ops->refused(c, OPEN_TOO_MANY);
		mps_console_close_soon(c);
		return -1;
	}
	c->counted = 1;
	mps_metric_gauge_add(MPS_M_CONSOLES_ACTIVE, 1);
	return 0;
}

void
mps_console_move(mps_console_t *c)
{
	mps_console_side_t *side = c->side;

	if (console_take_slot(c) != 0)
		return;

	/* Not watched (one-shot, and this pass armed nothing); releasing the
	 * registration stops new firings for this strand. */
	mps_timer_cancel(mps_poller_timers(side->poller), &c->timer);
	if (c->reg != NULL) {
		mps_poller_release(side->poller, c->reg);
		c->reg = NULL;
	}
	c->cp.session = mps_device_session(c->dev);
	c->phase = C_MOVING;
	mps_console_ref(c);
	if (mps_strand_post_ex(c->home, console_leave, move_discard, c) !=
	    APR_SUCCESS)
		move_failed(c);
}

/* ---- the console as a channel peer (device strand) ---------------------- */

/* The console whose peer p is (p is c->cp). */
static mps_console_t *
console_of(const mps_chan_peer_t *p)
{
	return (mps_console_t *)(void *)((char *)(uintptr_t)p -
	    offsetof(mps_console_t, cp));
}

/* The console's socket, registered on the device's strand while it is
 * relayed. A firing overtaken by a close or a switch finds the console
 * in another phase (same strand: no race) and does nothing. */
static void
relay_io(void *arg)
{
	mps_console_t *c = arg;
	apr_int16_t ev;

	if (c->phase != C_RELAY || c->reg == NULL)
		return;
	ev = mps_pollreg_events(c->reg);
	if ((ev & (APR_POLLIN | APR_POLLHUP | APR_POLLERR)) != 0)
		c->readable = 1;
	mps_relay_peer_io(&c->cp, (ev & (APR_POLLERR | APR_POLLNVAL)) != 0 &&
	    (ev & APR_POLLIN) == 0);
}

static int
peer_deliver(mps_chan_peer_t *p, const void *data, size_t n)
{
	mps_console_t *c = console_of(p);

	if (mps_buf_put(&c->down, data, n) != APR_SUCCESS)
		return -1;
	if (!c->raw)
		c->ops->from_device(c, data, n);
	return 0;
}

static int
peer_flush(mps_chan_peer_t *p, size_t *took)
{
	return mps_console_flush(console_of(p), took);
}

static size_t
peer_unsent(const mps_chan_peer_t *p)
{
	return mps_buf_len(&console_of(p)->down);
}

/* c->up holds what goes to the device before the socket is read again:
 * bytes sent along with the request (raw), or what the HTTP front end
 * made of the console's requests (to_device). */
static ssize_t
peer_pending(mps_chan_peer_t *p, int fill)
{
	mps_console_t *c = console_of(p);

	if (!c->raw && fill && !c->eof && mps_buf_len(&c->up) == 0) {
		if (mps_buf_len(&c->in) < mps_buf_max_size(&c->in) &&
		    mps_console_read(c, 65536) < 0)
			return -1;
		/* An error reply is queued behind the responses: stop
		 * reading; CLOSE once they are flushed. */
		if (c->ops->to_device(c) < 0)
			c->eof = 1;
	}
	if (c->eof)
		p->input_ended = 1;
	return (ssize_t)mps_buf_len(&c->up);
}

static ssize_t
peer_read(mps_chan_peer_t *p, void *dst, size_t max)
{
	mps_console_t *c = console_of(p);
	size_t held = mps_buf_len(&c->up);
	ssize_t n;

	if (held > 0) {
		n = (ssize_t)(held < max ? held : max);
		memcpy(dst, mps_buf_ptr(&c->up), (size_t)n);
		(void)mps_buf_consume(&c->up, (size_t)n);
		c->bytes_up += (unsigned long long)n;
		return n;
	}
	if (!c->raw || c->eof || !c->readable)
		return 0;	/* !readable: its POLLIN will say when */
	do
		n = recv(c->fd, dst, max, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		/* A short read drained the socket (a stream socket hands
		 * over all it holds, up to the size asked): no recv() that
		 * would only say EAGAIN until the next POLLIN. */
		if ((size_t)n < max)
			c->readable = 0;
		c->bytes_up += (unsigned long long)n;
		return n;
	}
	if (n == 0) {
		c->eof = 1;
		p->input_ended = 1;
		return 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		/* No recv() again until a POLLIN: device data arriving for
		 * this channel pumps it, and must not probe an empty socket
		 * each time. */
		c->readable = 0;
		return 0;
	}
	return -1;
}

static int
peer_wait(mps_chan_peer_t *p, int want_input)
{
	mps_console_t *c = console_of(p);
	apr_int16_t ev = 0;

	if (mps_buf_len(&c->down) > 0)
		ev |= APR_POLLOUT;
	if (want_input && (c->raw ? mps_buf_len(&c->up) == 0 :
	    mps_buf_len(&c->up) < mps_buf_max_size(&c->up)))
		ev |= APR_POLLIN;
	if (ev == 0)
		return 0;
	return mps_poller_watch(c->side->poller, c->reg, ev) == APR_SUCCESS ?
	    0 : -1;
}

static void
peer_opened(mps_chan_peer_t *p)
{
	mps_console_t *c = console_of(p);

	c->phase = C_RELAY;
	mps_console_log_channel_open(c, p->chan);
	c->ops->opened(c);
}

static void
peer_refused(mps_chan_peer_t *p, mps_peer_refusal why)
{
	mps_console_t *c = console_of(p);
	open_result r = OPEN_INTERNAL;

	switch (why) {
	case MPS_PEER_NO_DEVICE:
		r = OPEN_NO_DEVICE;
		break;
	case MPS_PEER_DEVICE_REFUSED:
		r = OPEN_DEVICE_REFUSED;
		break;
	case MPS_PEER_TOO_MANY:
		r = OPEN_TOO_MANY;
		break;
	case MPS_PEER_TIMEOUT:
		r = OPEN_TIMEOUT;
		break;
	case MPS_PEER_INTERNAL:
		r = OPEN_INTERNAL;
		break;
	}
	c->ops->refused(c, r);
	mps_console_close_soon(c);
}

static void
peer_closed(mps_chan_peer_t *p, mps_peer_close why)
{
	mps_console_t *c = console_of(p);
	size_t n;

	if (why == MPS_PEER_TUNNEL_GONE)
		(void)mps_console_flush(c, &n);
	/* The guide logs the end of every console connection that had a
	 * channel, whichever side ended it (an idle close is logged as
	 * such by the channel layer). */
	if (why != MPS_PEER_IDLE && c->ops->log_shutdown)
		mps_log(MPS_LOG_INFO, "[%s] management console has shutdown",
		    c->ip);
	/* mps_console_finalize writes the channel's close line. */
	mps_console_finalize(c);
}

/* A keep-alive HTTP console whose next request names another device
 * leaves this channel and goes through the hand-over again. */
static int
peer_settle(mps_chan_peer_t *p)
{
	mps_console_t *c = console_of(p);
	char host[MPS_REGISTRY_FQDN_SIZE];
	apr_port_t port = 0;
	open_result why;

	if (c->raw || c->ops->switch_ready == NULL ||
	    !c->ops->switch_ready(c, host, sizeof(host), &port))
		return 0;
	/* The old channel's close line, before the console is renamed for
	 * the new device. */
	mps_console_log_channel_close(c);
	mps_relay_detach(p);
	/* A poll firing may already be queued on this strand: the hand-over
	 * (mps_console_move) leaves this strand only after it, and the
	 * firing finds the console moving and does nothing. */
	c->phase = C_FRONT;
	why = mps_console_resolve(c, host, port);
	if (why != OPEN_OK) {
		c->ops->refused(c, why);
		mps_console_close_soon(c);
		return 1;
	}
	c->ops->switched(c);
	mps_console_move(c);
	return 1;
}

/* Storage kept for the traffic (mps_buf_set_keep) goes once empty. */
static void
peer_trim(mps_chan_peer_t *p)
{
	mps_buf_trim(&console_of(p)->down);
}

static const mps_chan_peer_ops_t console_peer_ops = {
	.deliver = peer_deliver,
	.flush = peer_flush,
	.unsent = peer_unsent,
	.pending = peer_pending,
	.read = peer_read,
	.wait = peer_wait,
	.opened = peer_opened,
	.refused = peer_refused,
	.closed = peer_closed,
	.settle = peer_settle,
	.trim = peer_trim,
};

static void
attach_refuse(mps_console_t *c, open_result why)
{
	c->ops->refused(c, why);
	mps_console_close_soon(c);
}

/* Posted to the device's strand by the hand-over: open a forwarded-tcpip
 * channel for the console. */
static void
console_attach(void *arg)
{
	mps_console_t *c = arg;
	mps_session_t *t = c->cp.session;
	const mps_config_t *cfg = mps_tunnel_side(t)->cfg;
	char name[MPS_DEVICE_LOG_NAME_SIZE];
	apr_status_t rv;

	if (c->phase != C_MOVING)
		goto out;	/* closed meanwhile */
	c->phase = C_OPENING;
	c->cp.port = c->port;
	if (!mps_tunnel_is_active(t) || !mps_device_is_registered(c->dev)) {
		mps_log(MPS_LOG_WARNING, "%s console %s: Intel remote client %s "
		    "disconnected before the channel opened", c->ops->name,
		    c->peer, c->device_name);
		attach_refuse(c, OPEN_NO_DEVICE);
		goto out;
	}
	rv = mps_relay_open(t, &c->cp, c->connect_host, c->port, c->ip,
	    c->peer_port);
	if (rv != APR_SUCCESS) {
		if (rv == APR_ENOSPC)
			mps_log(MPS_LOG_WARNING, "%s console %s: Intel remote "
			    "client %s already has %d channels "
			    "(MaxChannelsPerDevice)", c->ops->name, c->peer,
			    mps_tunnel_name(t, name, sizeof(name)),
			    cfg->max_channels_per_device);
		attach_refuse(c, rv == APR_ENOSPC ? OPEN_TOO_MANY : OPEN_INTERNAL);
		goto out;
	}
	/* The device's bytes for the console: the window, and the overrun
	 * tolerated beyond it, bound them. */
	(void)mps_buf_set_max_size(&c->down,
	    (size_t)c->cp.chan->local_window_max +
	    cfg->channel_window_overrun + mps_buf_len(&c->down));
	mps_buf_set_keep(&c->down, c->cp.chan->local_window_max);
	/* Bytes the console sent along with its request go first. */
	if (mps_buf_len(&c->in) > 0 && c->raw) {
		if (mps_buf_put(&c->up, mps_buf_ptr(&c->in),
		    mps_buf_len(&c->in)) != APR_SUCCESS) {
			mps_relay_detach(&c->cp);
			attach_refuse(c, OPEN_INTERNAL);
			goto out;
		}
		mps_buf_reset(&c->in);
	}
	c->readable = 1;
	rv = mps_poller_register(c->side->poller, &c->reg, c->wrap,
	    mps_tunnel_strand(t), relay_io, c);
	if (rv != APR_SUCCESS) {
		mps_relay_detach(&c->cp);
		attach_refuse(c, OPEN_INTERNAL);
		goto out;
	}
out:
	mps_console_unref(c);	/* the move's reference */
}

/* ---- accept -------------------------------------------------------------- */

static void
front_start(void *arg)
{
	mps_console_t *c = arg;

	if (c->phase != C_FRONT)
		return;
	(void)mps_timer_arm(mps_poller_timers(c->side->poller), &c->timer,
	    c->side->cfg->preauth_timeout);
	mps_console_front_wait(c);
}

static void
console_accept(mps_console_side_t *side, const front_ops *ops, int fd,
    const char *peer, int admit)
{
	mps_console_t *c;
	char ip[sizeof(c->ip)];

	/* Until its request is complete and authenticated a console holds
	 * a pre-auth slot only (admission.h); MaxConsoles is checked at the
	 * hand-over. A refused socket costs one close. */
	mps_peer_split(peer, ip, sizeof(ip), NULL);
	if (admit && side->admission != NULL &&
	    mps_admission_enter(side->admission, ip, ops->name, 0) !=
	    MPS_ADMIT_OK) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (side->admission != NULL)
			mps_admission_leave(side->admission, ip, 0);
		close(fd);
		return;
	}
	c->preauth = admit && side->admission != NULL;
	c->side = side;
	c->ops = ops;
	c->cp.ops = &console_peer_ops;
	c->cp.peer = c->peer;
	c->cp.device_name = c->device_name;
	c->fd = fd;
	c->phase = C_FRONT;
	atomic_init(&c->refs, 1);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	mps_peer_split(peer, c->ip, sizeof(c->ip), &c->peer_port);
	mps_buf_init(&c->in, FRONT_IN_MAX);
	mps_buf_init(&c->up, (size_t)side->cfg->channel_window_size);
	/* Replies at first; the device's bytes later, which the window
	 * bounds (set again when the channel opens). */
	mps_buf_init(&c->down, 64 * 1024);
	c->own = mps_strand_create(side->workers);
	c->wrap = mps_sockwrap_get(fd);
	if (c->own == NULL || c->wrap == NULL) {
		mps_log(MPS_LOG_ERROR, "out of memory accepting console %s", peer);
		if (c->wrap != NULL)
			mps_sockwrap_put(c->wrap);
		if (c->own != NULL)
			mps_strand_release(c->own);
		preauth_release(c);
		close(fd);
		free(c);
		return;
	}
	c->home = c->own;
	mps_timer_init(&c->timer, c->own, front_deadline, c);
	atomic_fetch_add(&side->live, 1);
	pthread_mutex_lock(&side->list_lock);
	c->next = side->list;
	if (side->list != NULL)
		side->list->prev = c;
	side->list = c;
	pthread_mutex_unlock(&side->list_lock);
	mps_log(MPS_LOG_DEBUG, "%s console connected from %s", ops->name, peer);
	if (mps_poller_register(side->poller, &c->reg, c->wrap, c->own,
	    front_io, c) != APR_SUCCESS ||
	    mps_strand_post(c->own, front_start, c) != APR_SUCCESS) {
		mps_log(MPS_LOG_ERROR, "cannot watch the console %s", peer);
		mps_console_finalize(c);
	}
}

void
mps_socks_accept(void *ctx, int fd, const char *peer)
{
	console_accept(ctx, &mps_socks_front, fd, peer, 1);
}

void
mps_http_accept(void *ctx, int fd, const char *peer)
{
	console_accept(ctx, &mps_http_front, fd, peer, 1);
}

void
mps_peer_console_accept(mps_console_side_t *side, int fd, const char *peer)
{
	console_accept(side, &mps_peer_front, fd, peer, 0);
}

/* ---- shutdown ----------------------------------------------------------- */

typedef struct close_req {
	mps_console_t *c;
} close_req;

static void close_req_run(void *arg);

static void
close_req_discard(void *arg)
{
	close_req *r = arg;

	mps_console_unref(r->c);
	free(r);
}

static mps_strand_t *
home_of(mps_console_t *c)
{
	mps_strand_t *home;

	pthread_mutex_lock(&c->side->list_lock);
	home = c->home;
	pthread_mutex_unlock(&c->side->list_lock);
	return home;
}

/* Posts the close to wherever the console runs now; a console that moved
 * meanwhile is chased to its new strand. */
static void
close_req_post(close_req *r)
{
	if (mps_strand_post_ex(home_of(r->c), close_req_run, close_req_discard,
	    r) != APR_SUCCESS)
		close_req_discard(r);
}

static void
close_req_run(void *arg)
{
	close_req *r = arg;
	mps_console_t *c = r->c;

	/* Only the home strand may look at the console (console_priv.h). */
	if (!mps_strand_is_current(home_of(c))) {
		close_req_post(r);	/* it moved: chase it */
		return;
	}
	if (c->phase == C_MOVING) {
		/* Its hand-over is queued here: ask again behind it. */
		close_req_post(r);
		return;
	}
	if (c->phase == C_FRONT || c->phase == C_AUTH)
		mps_console_finalize(c);
	/* Attached consoles end with their tunnel (the device side
	 * shutdown closes it). */
	close_req_discard(r);
}

/* I/O lane (a timer without a strand; the side outlives it). */
static void
login_log_flush(void *arg)
{
	mps_console_side_t *side = arg;

	(void)mps_log_limit_table_flush(side->login_log, apr_time_now(),
	    MPS_LOG_WARNING, "console logins from", 32);
	if (!atomic_load(&side->stopping))
		(void)mps_timer_arm(mps_poller_timers(side->poller),
		    &side->login_log_timer, LOGIN_LOG_FLUSH);
}

apr_status_t
mps_console_side_init(mps_console_side_t *side)
{
	side->addr_budget = mps_login_budget_create(
	    (unsigned)side->cfg->console_login_failures);
	side->user_budget = mps_login_budget_create(
	    (unsigned)side->cfg->console_user_login_failures);
	side->login_log = mps_log_limit_table_create(LOGIN_LOG_BURST,
	    LOGIN_LOG_INTERVAL);
	if (side->addr_budget == NULL || side->user_budget == NULL ||
	    side->login_log == NULL) {
		mps_login_budget_destroy(side->addr_budget);
		mps_login_budget_destroy(side->user_budget);
		mps_log_limit_table_destroy(side->login_log);
		side->addr_budget = side->user_budget = NULL;
		side->login_log = NULL;
		return APR_ENOMEM;
	}
	atomic_init(&side->stopping, 0);
	mps_timer_init(&side->login_log_timer, NULL, login_log_flush, side);
	if (side->poller != NULL)
		(void)mps_timer_arm(mps_poller_timers(side->poller),
		    &side->login_log_timer, LOGIN_LOG_FLUSH);
	atomic_init(&side->live, 0);
	atomic_init(&side->active, 0);
	side->list = NULL;
	pthread_mutex_init(&side->list_lock, NULL);
	return APR_SUCCESS;
}

unsigned
mps_console_side_shutdown(mps_console_side_t *side, apr_interval_time_t timeout)
{
	apr_time_t end = apr_time_now() + timeout;
	mps_console_t *c, **all = NULL;
	size_t count = 0, cap = 0, i;

	atomic_store(&side->stopping, 1);
	if (side->poller != NULL)
		mps_timer_cancel(mps_poller_timers(side->poller),
		    &side->login_log_timer);

	/* Collect references under the lock, act outside it: dropping one
	 * may free a console, which takes the lock itself. A console whose
	 * last reference is going (refs 0) is being freed: left alone. */
	pthread_mutex_lock(&side->list_lock);
	for (c = side->list; c != NULL; c = c->next) {
		int n = atomic_load(&c->refs), got = 0;

		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			mps_console_t **na = realloc(all, ncap * sizeof(*na));
			if (na == NULL)
				break;
			all = na;
			cap = ncap;
		}
		while (n > 0 && !got)
			got = atomic_compare_exchange_weak(&c->refs, &n, n + 1);
		if (got)
			all[count++] = c;
	}
	pthread_mutex_unlock(&side->list_lock);
	for (i = 0; i < count; i++) {
		close_req *r = calloc(1, sizeof(*r));

		if (r == NULL) {
			mps_console_unref(all[i]);
			continue;
		}
		r->c = all[i];
		close_req_post(r);
	}
	free(all);
	while (atomic_load(&side->live) > 0 && apr_time_now() < end)
		apr_sleep(apr_time_from_msec(20));
	return atomic_load(&side->live);
}

void
mps_console_side_destroy(mps_console_side_t *side)
{
	pthread_mutex_destroy(&side->list_lock);
	mps_login_budget_destroy(side->addr_budget);
	mps_login_budget_destroy(side->user_budget);
	mps_log_limit_table_destroy(side->login_log);
	side->addr_budget = side->user_budget = NULL;
	side->login_log = NULL;
}
