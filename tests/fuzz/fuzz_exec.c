/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_exec.c: the concurrency core (strand.h, workers.h, poller.h,
 * timer.h) run inline in one thread, for fuzz targets that drive real
 * strand code deterministically. A target links this INSTEAD of
 * libmpscore (server/core/{strand,workers,poller,timer}.c); the code
 * under test is unchanged.
 *
 * - Every task (a strand's, a lane's, a timer's firing) goes to one FIFO
 *   that fx_drain() empties. A task never runs inside the post that
 *   queued it (the FIFO rule of strand.h), and the tasks of one strand
 *   run in the order they were posted. mps_strand_is_current() is true
 *   while a task of that strand runs.
 * - Poller registrations only record what is watched (one-shot, as the
 *   real poller); fx_fire_ready() polls each watched socket with a zero
 *   timeout and posts the registration's task for those that are ready.
 * - Timers sit in a list on a virtual clock (fx_now, which the target
 *   also hands out as apr_time_now() through --wrap); fx_advance() moves
 *   the clock to each due timer in turn, posts its firing and drains, so
 *   a timer's task sees the time it was due. A firing carries the
 *   timer's generation: one overtaken by a cancel or re-arm does
 *   nothing, as in timer.c.
 * - A released strand is freed once its last queued task ran; at that
 *   moment no timer may still be armed, and no registration still held,
 *   for it (the LIFETIME RULE: free only after cancelling timers and
 *   releasing the socket). A violation aborts.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_portable.h>

#include "poller.h"
#include "strand.h"
#include "timer.h"
#include "workers.h"
#include "fuzz_exec.h"

#define FX_BUG(...) do { fprintf(stderr, "fuzz_exec: " __VA_ARGS__); \
	fputc('\n', stderr); abort(); } while (0)

apr_time_t fx_now;
int fx_lane_expire_next;

struct mps_strand_t {
	unsigned queued;
	int running;
	int released;
};

struct mps_workers_t {
	int dummy;
};

struct mps_pollreg_t {
	apr_socket_t *sock;
	mps_strand_t *strand;
	mps_task_fn fn;
	void *arg;
	apr_int16_t watched;
	apr_int16_t fired;
	struct mps_pollreg_t *next;
};

struct mps_timers_t {
	mps_timer_t **list;
	apr_size_t len, cap;
};

struct mps_poller_t {
	mps_timers_t timers;
	mps_pollreg_t *regs;
};

typedef struct fx_task {
	mps_strand_t *strand;
	mps_task_fn fn;
	void *arg;
	struct fx_task *next;
} fx_task;

static fx_task *fifo_head, *fifo_tail;
static mps_strand_t *current;
static mps_workers_t the_workers;
static mps_poller_t *the_poller;
static long strands_alive;

static void strand_check_free(mps_strand_t *s);

static apr_status_t
fifo_push(mps_strand_t *s, mps_task_fn fn, void *arg)
{
	fx_task *t = malloc(sizeof(*t));

	if (t == NULL)
		return APR_ENOMEM;
	if (s != NULL) {
		if (s->released)
			FX_BUG("a task posted to a released strand");
		s->queued++;
	}
	t->strand = s;
	t->fn = fn;
	t->arg = arg;
	t->next = NULL;
	if (fifo_tail != NULL)
		fifo_tail->next = t;
	else
		fifo_head = t;
	fifo_tail = t;
	return APR_SUCCESS;
}

size_t
fx_drain(size_t max_tasks)
{
	size_t n = 0;

	while (fifo_head != NULL) {
		fx_task *t = fifo_head;
		mps_strand_t *was = current;

		if (++n > max_tasks)
			FX_BUG("more than %zu tasks in one drain: a strand "
			    "that never settles", max_tasks);
		fifo_head = t->next;
		if (fifo_head == NULL)
			fifo_tail = NULL;
		current = t->strand;
		if (t->strand != NULL)
			t->strand->running = 1;
		t->fn(t->arg);
		current = was;
		if (t->strand != NULL) {
			t->strand->running = 0;
			t->strand->queued--;
			strand_check_free(t->strand);
		}
		free(t);
	}
	return n;
}

int
fx_idle(void)
{
	return fifo_head == NULL;
}

/* ---- strands ---- */

mps_strand_t *
mps_strand_create(mps_workers_t *workers)
{
	mps_strand_t *s = calloc(1, sizeof(*s));

	(void)workers;
	if (s != NULL)
		strands_alive++;
	return s;
}

apr_status_t
mps_strand_post(mps_strand_t *strand, mps_task_fn fn, void *arg)
{
	return fifo_push(strand, fn, arg);
}

apr_status_t
mps_strand_post_ex(mps_strand_t *strand, mps_task_fn fn, mps_task_fn discard,
    void *arg)
{
	(void)discard;		/* the workers never stop here */
	return fifo_push(strand, fn, arg);
}

apr_status_t
mps_strand_post_free(mps_strand_t *strand, mps_task_fn fn, void *arg)
{
	return fifo_push(strand, fn, arg);	/* never discarded here */
}

int
mps_strand_is_current(const mps_strand_t *strand)
{
	return current == strand;
}

static void
strand_check_free(mps_strand_t *s)
{
	apr_size_t i;
	mps_pollreg_t *r;

	if (!s->released || s->queued > 0 || s->running)
		return;
	if (the_poller != NULL) {
		for (i = 0; i < the_poller->timers.len; i++)
			if (the_poller->timers.list[i]->strand == s)
				FX_BUG("a strand freed with a timer still "
				    "armed for it");
		for (r = the_poller->regs; r != NULL; r = r->next)
			if (r->strand == s)
				FX_BUG("a strand freed with a poller "
				    "registration still held for it");
	}
	strands_alive--;
	free(s);
}

void
mps_strand_release(mps_strand_t *strand)
{
	if (strand == NULL)
		return;
	if (strand->released)
		FX_BUG("a strand released twice");
	strand->released = 1;
	strand_check_free(strand);
}

long
fx_strands_alive(void)
{
	return strands_alive;
}

/* ---- workers and lanes ---- */

void
mps_workers_options_init(mps_workers_options_t *opt, int io_threads,
    int blocking_threads)
{
	memset(opt, 0, sizeof(*opt));
	opt->io_threads = io_threads;
	(void)blocking_threads;
}

apr_status_t
mps_workers_create_ex(mps_workers_t **workers, const mps_workers_options_t *opt,
    apr_pool_t *pool)
{
	(void)opt;
	(void)pool;
	*workers = &the_workers;
	return APR_SUCCESS;
}

apr_status_t
mps_workers_create(mps_workers_t **workers, int io_threads,
    int blocking_threads, apr_pool_t *pool)
{
	(void)io_threads;
	(void)blocking_threads;
	return mps_workers_create_ex(workers, NULL, pool);
}

apr_status_t
mps_workers_push(mps_workers_t *workers, mps_lane_t lane, mps_task_fn fn,
    void *arg)
{
	(void)workers;
	(void)lane;
	return fifo_push(NULL, fn, arg);
}

apr_status_t
mps_workers_push_ex(mps_workers_t *workers, mps_lane_t lane, mps_task_fn fn,
    mps_task_fn discard, void *arg)
{
	(void)discard;
	return mps_workers_push(workers, lane, fn, arg);
}

apr_status_t
mps_workers_push_timed(mps_workers_t *workers, mps_lane_t lane,
    mps_task_fn fn, mps_task_fn discard, mps_task_fn expired, void *arg)
{
	/* The target decides whether this task waits past its lane's
	 * queue timeout (a login refused unheard: MPS_AUTH_BUSY). */
	if (fx_lane_expire_next && expired != NULL) {
		fx_lane_expire_next = 0;
		return mps_workers_push(workers, lane, expired, arg);
	}
	(void)discard;
	return mps_workers_push(workers, lane, fn, arg);
}

int
mps_workers_stopping(mps_workers_t *workers)
{
	(void)workers;
	return 0;
}

apr_size_t
mps_workers_backlog(mps_workers_t *workers, mps_lane_t lane)
{
	(void)workers;
	(void)lane;
	return 0;
}

apr_status_t
mps_workers_lane_stats(mps_workers_t *workers, mps_lane_t lane,
    mps_lane_stats_t *st)
{
	(void)workers;
	(void)lane;
	memset(st, 0, sizeof(*st));
	st->threads = 1;
	st->max_threads = 1;
	return APR_SUCCESS;
}

const char *
mps_lane_name(mps_lane_t lane)
{
	static const char *const names[] = { "io", "blocking", "device_auth",
	    "console_auth", "notification" };

	return (unsigned)lane < MPS_LANE_COUNT ? names[lane] : "?";
}

void
mps_workers_destroy(mps_workers_t *workers)
{
	(void)workers;
}

/* ---- timers ---- */

#define NOT_ARMED ((apr_size_t)-1)

struct firing {
	mps_timer_t *timer;
	apr_uint32_t generation;
};

void
mps_timer_init(mps_timer_t *timer, mps_strand_t *strand, mps_task_fn fn,
    void *arg)
{
	memset(timer, 0, sizeof(*timer));
	timer->heap_index = NOT_ARMED;
	timer->strand = strand;
	timer->fn = fn;
	timer->arg = arg;
}

static void
timer_unlist(mps_timers_t *timers, mps_timer_t *timer)
{
	apr_size_t i = timer->heap_index;

	if (i == NOT_ARMED)
		return;
	if (i >= timers->len || timers->list[i] != timer)
		FX_BUG("timer list corrupt");
	timers->list[i] = timers->list[--timers->len];
	timers->list[i]->heap_index = i;
	timer->heap_index = NOT_ARMED;
}

apr_status_t
mps_timer_arm(mps_timers_t *timers, mps_timer_t *timer,
    apr_interval_time_t delay)
{
	if (delay < 0)
		delay = 0;
	if (delay > apr_time_from_sec(10LL * 365 * 24 * 3600))
		delay = apr_time_from_sec(10LL * 365 * 24 * 3600);
	timer->when = fx_now + delay;
	timer->generation++;
	if (timer->heap_index != NOT_ARMED)
		return APR_SUCCESS;
	if (timers->len == timers->cap) {
		apr_size_t ncap = timers->cap ? timers->cap * 2 : 16;
		mps_timer_t **nl = realloc(timers->list, ncap * sizeof(*nl));

		if (nl == NULL)
			return APR_ENOMEM;
		timers->list = nl;
		timers->cap = ncap;
	}
	timer->heap_index = timers->len;
	timers->list[timers->len++] = timer;
	return APR_SUCCESS;
}

void
mps_timer_cancel(mps_timers_t *timers, mps_timer_t *timer)
{
	timer->generation++;
	timer_unlist(timers, timer);
}

int
mps_timer_is_armed(mps_timers_t *timers, const mps_timer_t *timer)
{
	(void)timers;
	return timer->heap_index != NOT_ARMED;
}

apr_status_t
mps_timers_create(mps_timers_t **timers, mps_workers_t *workers,
    void (*wake)(void *wake_arg), void *wake_arg, apr_pool_t *pool)
{
	(void)workers;
	(void)wake;
	(void)wake_arg;
	(void)pool;
	*timers = calloc(1, sizeof(**timers));
	return *timers != NULL ? APR_SUCCESS : APR_ENOMEM;
}

static void
fire(void *arg)
{
	struct firing *f = arg;
	mps_timer_t *timer = f->timer;
	int live = timer->generation == f->generation;

	free(f);
	if (live)
		timer->fn(timer->arg);
}

/* The armed timer due first (the earliest armed on a tie), or NULL. */
static mps_timer_t *
timer_next(mps_timers_t *timers)
{
	mps_timer_t *best = NULL;
	apr_size_t i;

	for (i = 0; i < timers->len; i++)
		if (best == NULL || timers->list[i]->when < best->when)
			best = timers->list[i];
	return best;
}

static void
timer_post(mps_timers_t *timers, mps_timer_t *timer)
{
	struct firing *f = malloc(sizeof(*f));

	if (f == NULL)
		FX_BUG("out of memory");
	timer_unlist(timers, timer);
	f->timer = timer;
	f->generation = timer->generation;
	if (fifo_push(timer->strand, fire, f) != APR_SUCCESS)
		FX_BUG("out of memory");
}

apr_interval_time_t
mps_timers_expire(mps_timers_t *timers, apr_time_t now)
{
	mps_timer_t *t;

	while ((t = timer_next(timers)) != NULL && t->when <= now)
		timer_post(timers, t);
	return t != NULL ? t->when - now : -1;
}

apr_size_t
mps_timers_count(mps_timers_t *timers)
{
	return timers->len;
}

void
fx_advance(apr_interval_time_t by, size_t max_tasks)
{
	apr_time_t end = fx_now + by;
	mps_timer_t *t;

	fx_drain(max_tasks);
	while (the_poller != NULL &&
	    (t = timer_next(&the_poller->timers)) != NULL && t->when <= end) {
		if (t->when > fx_now)
			fx_now = t->when;
		timer_post(&the_poller->timers, t);
		fx_drain(max_tasks);
	}
	fx_now = end;
}

apr_size_t
fx_timers_armed(void)
{
	return the_poller != NULL ? the_poller->timers.len : 0;
}

apr_size_t
fx_registrations(void)
{
	mps_pollreg_t *r;
	apr_size_t n = 0;

	if (the_poller != NULL)
		for (r = the_poller->regs; r != NULL; r = r->next)
			n++;
	return n;
}

void
fx_describe(FILE *f)
{
	mps_pollreg_t *r;
	apr_size_t i;

	fprintf(f, "fx: now %lld, %s\n", (long long)fx_now,
	    fx_idle() ? "no task queued" : "tasks queued");
	if (the_poller == NULL)
		return;
	for (r = the_poller->regs; r != NULL; r = r->next) {
		apr_os_sock_t fd = -1;
		struct pollfd pfd;
		int n;

		(void)apr_os_sock_get(&fd, r->sock);
		pfd.fd = fd;
		pfd.events = POLLIN | POLLOUT;
		pfd.revents = 0;
		n = poll(&pfd, 1, 0);
		fprintf(f, "fx: registration fd %d watched 0x%x last fired 0x%x "
		    "strand queued %u running %d; poll now %d revents 0x%x\n",
		    (int)fd, (unsigned)r->watched, (unsigned)r->fired,
		    r->strand != NULL ? r->strand->queued : 0,
		    r->strand != NULL ? r->strand->running : 0, n,
		    (unsigned)pfd.revents);
	}
	for (i = 0; i < the_poller->timers.len; i++)
		fprintf(f, "fx: timer due in %lld us\n",
		    (long long)(the_poller->timers.list[i]->when - fx_now));
}

/* ---- the poller ---- */

apr_status_t
mps_poller_create(mps_poller_t **poller, apr_uint32_t max_sockets,
    mps_workers_t *workers, apr_pool_t *pool)
{
	(void)max_sockets;
	(void)workers;
	(void)pool;
	if (the_poller == NULL && (the_poller = calloc(1,
	    sizeof(*the_poller))) == NULL)
		return APR_ENOMEM;
	*poller = the_poller;
	return APR_SUCCESS;
}

void
fx_poller_destroy(void)
{
	if (the_poller == NULL)
		return;
	if (the_poller->regs != NULL || the_poller->timers.len > 0)
		FX_BUG("poller destroyed with registrations or timers left");
	free(the_poller->timers.list);
	free(the_poller);
	the_poller = NULL;
}

mps_timers_t *
mps_poller_timers(mps_poller_t *poller)
{
	return &poller->timers;
}

apr_status_t
mps_poller_register(mps_poller_t *poller, mps_pollreg_t **reg,
    apr_socket_t *sock, mps_strand_t *strand, mps_task_fn fn, void *arg)
{
	mps_pollreg_t *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return APR_ENOMEM;
	r->sock = sock;
	r->strand = strand;
	r->fn = fn;
	r->arg = arg;
	r->next = poller->regs;
	poller->regs = r;
	*reg = r;
	return APR_SUCCESS;
}

apr_status_t
mps_poller_watch(mps_poller_t *poller, mps_pollreg_t *reg, apr_int16_t events)
{
	(void)poller;
	if (events == 0 || (events & ~(APR_POLLIN | APR_POLLOUT)) != 0)
		return APR_EINVAL;
	reg->watched = events;
	return APR_SUCCESS;
}

apr_status_t
mps_poller_unwatch(mps_poller_t *poller, mps_pollreg_t *reg)
{
	(void)poller;
	reg->watched = 0;
	return APR_SUCCESS;
}

void
mps_poller_release(mps_poller_t *poller, mps_pollreg_t *reg)
{
	mps_pollreg_t **pp;

	for (pp = &poller->regs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == reg) {
			*pp = reg->next;
			free(reg);
			return;
		}
	}
	FX_BUG("release of an unknown registration");
}

apr_int16_t
mps_pollreg_events(const mps_pollreg_t *reg)
{
	return reg->fired;
}

apr_status_t
mps_poller_run(mps_poller_t *poller)
{
	(void)poller;
	return APR_SUCCESS;
}

void
mps_poller_stop(mps_poller_t *poller)
{
	(void)poller;
}

int
fx_fire_ready(void)
{
	mps_pollreg_t *r;
	int fired = 0;

	if (the_poller == NULL)
		return 0;
	for (r = the_poller->regs; r != NULL; r = r->next) {
		apr_os_sock_t fd;
		struct pollfd pfd;
		apr_int16_t ev = 0;

		if (r->watched == 0 || apr_os_sock_get(&fd, r->sock) !=
		    APR_SUCCESS)
			continue;
		pfd.fd = fd;
		pfd.events = (short)(((r->watched & APR_POLLIN) ? POLLIN : 0) |
		    ((r->watched & APR_POLLOUT) ? POLLOUT : 0));
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) <= 0)
			continue;
		if (pfd.revents & POLLIN)
			ev |= APR_POLLIN;
		if (pfd.revents & POLLOUT)
			ev |= APR_POLLOUT;
		if (pfd.revents & POLLHUP)
			ev |= APR_POLLHUP;
		if (pfd.revents & POLLERR)
			ev |= APR_POLLERR;
		if (ev == 0)
			continue;
		r->fired = ev;
		r->watched = 0;		/* one-shot */
		if (fifo_push(r->strand, r->fn, r->arg) != APR_SUCCESS)
			FX_BUG("out of memory");
		fired++;
	}
	return fired;
}
