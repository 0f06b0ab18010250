/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poller.c: the loop that waits for sockets and timers.
 *
 * The pollset is epoll, thread-safe and wakeable, with APR_POLLSET_NOCOPY:
 * it keeps pointers to the apr_pollfd_t inside our registrations instead
 * of copies. Registrations are one-shot (poller.h). All registration
 * state changes under the poller's mutex; readiness is handled under it
 * too, so a firing and a watch(), unwatch() or release() are ordered.
 *
 * Freeing a released registration: apr_pollset_poll() reads our
 * apr_pollfd_t for every event epoll returns, and an event may have been
 * returned for a registration that was being released at that moment. So
 * release() only removes it from epoll and puts it on the zombie list, and
 * the loop frees the zombies at the start of its next turn, before it
 * polls again: a registration removed from epoll before epoll_wait()
 * starts cannot be among its events, and the previous turn's results have
 * all been handled by then.
 *
 * On Linux the loop uses epoll itself rather than through apr_pollset,
 * because APR has no "modify": every firing cost an EPOLL_CTL_DEL and
 * every re-arm an EPOLL_CTL_ADD (two system calls per event on the busy
 * data path). Here a registration stays in the epoll set with
 * EPOLLONESHOT: the kernel disarms it when it reports it, and a re-arm
 * is one EPOLL_CTL_MOD. It leaves the set only at unwatch() and
 * release() (EPOLL_CTL_DEL). The wakeup is an eventfd. Elsewhere the
 * apr_pollset path remains.
 */
#include "poller.h"
#include "mps_status.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef __linux__
#define MPS_POLLER_EPOLL 1
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <apr_portable.h>
/* Events one epoll_wait() returns at most. */
#define EPOLL_BATCH	256
#endif

/* Pause before retrying when a firing could not be posted (no memory). */
#define BACKOFF		apr_time_from_msec(10)
/* Longest single sleep: keeps epoll's millisecond timeout in int range. */
#define POLL_MAX	apr_time_from_sec(3600)

#define WATCHABLE	(APR_POLLIN | APR_POLLOUT)
#define ALWAYS		(APR_POLLERR | APR_POLLHUP | APR_POLLNVAL)

struct mps_pollreg_t {
	apr_pollfd_t pfd;		/* in the pollset; client_data = us */
	mps_strand_t *strand;
	mps_task_fn fn;
	void *arg;
	mps_pollreg_t *next_zombie;
	atomic_int events;		/* of the last firing */
	unsigned char watching;		/* armed (poller mutex) */
	unsigned char released;		/* (poller mutex) */
#ifdef MPS_POLLER_EPOLL
	unsigned char in_set;		/* in the epoll set, armed or not */
	int fd;
#endif
};

struct mps_poller_t {
	apr_pool_t *pool;
#ifdef MPS_POLLER_EPOLL
	int epfd;
	int wakefd;			/* eventfd: wake() writes, the loop reads */
	struct epoll_event results[EPOLL_BATCH];
#else
	apr_pollset_t *pollset;
#endif
	mps_workers_t *workers;
	mps_timers_t *timers;
	pthread_mutex_t mutex;
	mps_pollreg_t *zombies;		/* released, not yet freed */
	apr_uint32_t max_watched;
	apr_uint32_t watched;		/* registrations in the pollset */
	atomic_int stop;
	atomic_int wake_pending;	/* a wakeup byte is on its way */
};

static void
wake_now(mps_poller_t *poller)
{
#ifdef MPS_POLLER_EPOLL
	uint64_t one = 1;

	/* Fails only when the counter is full: a wakeup is pending then. */
	(void)!write(poller->wakefd, &one, sizeof(one));
#else
	(void)apr_pollset_wakeup(poller->pollset);
#endif
}

static void
wake(mps_poller_t *poller)
{
	/* One wakeup per loop turn is enough, and keeps a burst of timer
	 * arms from filling APR's wakeup pipe. */
	if (!atomic_exchange(&poller->wake_pending, 1))
		wake_now(poller);
}

static void
timers_wake(void *arg)
{
	wake(arg);
}

static void
free_zombies(mps_poller_t *poller)
{
	mps_pollreg_t *list, *reg;

	pthread_mutex_lock(&poller->mutex);
	list = poller->zombies;
	poller->zombies = NULL;
	pthread_mutex_unlock(&poller->mutex);
	while ((reg = list) != NULL) {
		list = reg->next_zombie;
		free(reg);
	}
}

static apr_status_t
poller_cleanup(void *data)
{
	mps_poller_t *poller = data;

	/* The loop is not running (it must not outlive its pool). */
	free_zombies(poller);
	pthread_mutex_destroy(&poller->mutex);
#ifdef MPS_POLLER_EPOLL
	if (poller->epfd >= 0)
		close(poller->epfd);
	if (poller->wakefd >= 0)
		close(poller->wakefd);
#endif
	return APR_SUCCESS;
}

#ifdef MPS_POLLER_EPOLL
static apr_status_t
create_epoll(mps_poller_t *poller)
{
	struct epoll_event ev = { 0 };

	poller->epfd = poller->wakefd = -1;
	if ((poller->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return APR_FROM_OS_ERROR(errno);
	if ((poller->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return APR_FROM_OS_ERROR(errno);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;	/* the wakeup, not a registration */
	if (epoll_ctl(poller->epfd, EPOLL_CTL_ADD, poller->wakefd, &ev) != 0)
		return APR_FROM_OS_ERROR(errno);
	return APR_SUCCESS;
}
#else
static apr_status_t
create_pollset(apr_pollset_t **pollset, apr_uint32_t size, apr_pool_t *pool)
{
	const apr_uint32_t flags = APR_POLLSET_THREADSAFE |
	    APR_POLLSET_NOCOPY | APR_POLLSET_WAKEABLE;
	apr_status_t rv;

	rv = apr_pollset_create_ex(pollset, size, pool,
	    flags | APR_POLLSET_NODEFAULT, APR_POLLSET_EPOLL);
	if (rv == APR_SUCCESS)
		return rv;
	/* No epoll here: whatever the platform offers with these flags. */
	return apr_pollset_create_ex(pollset, size, pool, flags,
	    APR_POLLSET_DEFAULT);
}
#endif

apr_status_t
mps_poller_create(mps_poller_t **pollerp, apr_uint32_t max_sockets,
    mps_workers_t *workers, apr_pool_t *pool)
{
	mps_poller_t *poller;
	apr_status_t rv;

	*pollerp = NULL;
	if (max_sockets == 0 || max_sockets == APR_UINT32_MAX)
		return APR_EINVAL;
	poller = apr_pcalloc(pool, sizeof(*poller));
	poller->pool = pool;
	poller->workers = workers;
	poller->max_watched = max_sockets;
	atomic_init(&poller->stop, 0);
	atomic_init(&poller->wake_pending, 0);
#ifdef MPS_POLLER_EPOLL
	if ((rv = create_epoll(poller)) != APR_SUCCESS) {
		if (poller->epfd >= 0)
			close(poller->epfd);
		if (poller->wakefd >= 0)
			close(poller->wakefd);
		return rv;
	}
#else
	/* One more for the wakeup pipe. */
	rv = create_pollset(&poller->pollset, max_sockets + 1, pool);
	if (rv != APR_SUCCESS)
		return rv;
#endif
	rv = mps_timers_create(&poller->timers, workers, timers_wake, poller,
	    pool);
	if (rv != APR_SUCCESS)
		return rv;
	if ((rv = pthread_mutex_init(&poller->mutex, NULL)) != 0) {
#ifdef MPS_POLLER_EPOLL
		close(poller->epfd);
		close(poller->wakefd);
#endif
		return rv;
	}
	apr_pool_cleanup_register(pool, poller, poller_cleanup,
	    apr_pool_cleanup_null);
	*pollerp = poller;
	return APR_SUCCESS;
}

mps_timers_t *
mps_poller_timers(mps_poller_t *poller)
{
	return poller->timers;
}

apr_status_t
mps_poller_register(mps_poller_t *poller, mps_pollreg_t **regp,
    apr_socket_t *sock, mps_strand_t *strand, mps_task_fn fn, void *arg)
{
	mps_pollreg_t *reg;

	*regp = NULL;
	if (sock == NULL || fn == NULL)
		return APR_EINVAL;
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return APR_ENOMEM;
	reg->pfd.p = poller->pool;
	reg->pfd.desc_type = APR_POLL_SOCKET;
	reg->pfd.desc.s = sock;
	reg->pfd.client_data = reg;
	reg->strand = strand;
	reg->fn = fn;
	reg->arg = arg;
	atomic_init(&reg->events, 0);
#ifdef MPS_POLLER_EPOLL
	{
		apr_os_sock_t fd;

		if (apr_os_sock_get(&fd, sock) != APR_SUCCESS || fd < 0) {
			free(reg);
			return APR_EINVAL;
		}
		reg->fd = fd;
	}
#endif
	*regp = reg;
	return APR_SUCCESS;
}

#ifdef MPS_POLLER_EPOLL
/* With the mutex held: arms reg for events, one-shot (ADD the first
 * time, MOD after). */
static apr_status_t
epoll_arm(mps_poller_t *poller, mps_pollreg_t *reg, apr_int16_t events)
{
	struct epoll_event ev = { 0 };

	ev.events = EPOLLONESHOT | ((events & APR_POLLIN) ? EPOLLIN : 0) |
	    ((events & APR_POLLOUT) ? EPOLLOUT : 0);
	ev.data.ptr = reg;
	if (reg->in_set && epoll_ctl(poller->epfd, EPOLL_CTL_MOD, reg->fd,
	    &ev) == 0)
		return APR_SUCCESS;
	/* Not in the set (or no longer: ENOENT after the socket's file
	 * went away, against the rules): add it. */
	if (epoll_ctl(poller->epfd, EPOLL_CTL_ADD, reg->fd, &ev) != 0)
		return APR_FROM_OS_ERROR(errno);
	reg->in_set = 1;
	return APR_SUCCESS;
}

static apr_int16_t
from_epoll(uint32_t e)
{
	return (apr_int16_t)(((e & EPOLLIN) ? APR_POLLIN : 0) |
	    ((e & EPOLLOUT) ? APR_POLLOUT : 0) |
	    ((e & EPOLLERR) ? APR_POLLERR : 0) |
	    ((e & EPOLLHUP) ? APR_POLLHUP : 0));
}
#endif

/* With the mutex held. */
static void
stop_watching(mps_poller_t *poller, mps_pollreg_t *reg)
{
#ifdef MPS_POLLER_EPOLL
	/* Out of the set, armed or not: the owner may close the socket. */
	if (reg->in_set) {
		(void)epoll_ctl(poller->epfd, EPOLL_CTL_DEL, reg->fd, NULL);
		reg->in_set = 0;
	}
#endif
	if (!reg->watching)
		return;
#ifndef MPS_POLLER_EPOLL
	/* Fails only if epoll lost it already (the socket was closed while
	 * watched, against the rules); either way it is out. */
	(void)apr_pollset_remove(poller->pollset, &reg->pfd);
#endif
	reg->watching = 0;
	poller->watched--;
}

/* With the mutex held. */
static apr_status_t
start_watching(mps_poller_t *poller, mps_pollreg_t *reg, apr_int16_t events)
{
	apr_status_t rv;

	if (poller->watched >= poller->max_watched)
		return MPS_ERR_QUEUE_FULL;
	/*
	 * Out of the pollset now, but a poll in progress may still copy
	 * this apr_pollfd_t for an event it returned just before: only the
	 * copy's reqevents could be stale, and dispatch() does not use it
	 * (it reads ours, under the mutex).
	 */
	reg->pfd.reqevents = events;
#ifdef MPS_POLLER_EPOLL
	rv = epoll_arm(poller, reg, events);
#else
	rv = apr_pollset_add(poller->pollset, &reg->pfd);
#endif
	if (rv != APR_SUCCESS)
		return rv;
	reg->watching = 1;
	poller->watched++;
	return APR_SUCCESS;
}

apr_status_t
mps_poller_watch(mps_poller_t *poller, mps_pollreg_t *reg, apr_int16_t events)
{
	apr_status_t rv = APR_SUCCESS;

	if (events == 0 || (events & ~WATCHABLE) != 0)
		return APR_EINVAL;
	pthread_mutex_lock(&poller->mutex);
	if (reg->released)
		rv = APR_EINVAL;
#ifdef MPS_POLLER_EPOLL
	else if (!reg->watching)
		rv = start_watching(poller, reg, events);
	else if (reg->pfd.reqevents != events) {
		/* Armed with other events: one MOD replaces them. */
		rv = epoll_arm(poller, reg, events);
		if (rv == APR_SUCCESS)
			reg->pfd.reqevents = events;
	}
#else
	else if (!reg->watching || reg->pfd.reqevents != events) {
		/* APR has no "modify": take it out and put it back. */
		stop_watching(poller, reg);
		rv = start_watching(poller, reg, events);
	}
#endif
	pthread_mutex_unlock(&poller->mutex);
	return rv;
}

apr_status_t
mps_poller_unwatch(mps_poller_t *poller, mps_pollreg_t *reg)
{
	pthread_mutex_lock(&poller->mutex);
	stop_watching(poller, reg);
	pthread_mutex_unlock(&poller->mutex);
	return APR_SUCCESS;
}

void
mps_poller_release(mps_poller_t *poller, mps_pollreg_t *reg)
{
	if (reg == NULL)
		return;
	pthread_mutex_lock(&poller->mutex);
	stop_watching(poller, reg);
	reg->released = 1;
	reg->next_zombie = poller->zombies;
	poller->zombies = reg;
	pthread_mutex_unlock(&poller->mutex);
}

apr_int16_t
mps_pollreg_events(const mps_pollreg_t *reg)
{
	return (apr_int16_t)atomic_load(&reg->events);
}

static apr_status_t
post_firing(mps_poller_t *poller, mps_pollreg_t *reg)
{
	if (reg->strand != NULL)
		return mps_strand_post(reg->strand, reg->fn, reg->arg);
	return mps_workers_push(poller->workers, MPS_LANE_IO, reg->fn,
	    reg->arg);
}

/*
 * Hands each ready registration to its task: out of the pollset first
 * (one-shot), then posted. Returns nonzero when a post failed for want of
 * memory and the loop should pause before polling again.
 */
#ifdef MPS_POLLER_EPOLL
static int
dispatch(mps_poller_t *poller, const struct epoll_event *results, int num)
#else
static int
dispatch(mps_poller_t *poller, const apr_pollfd_t *results, apr_int32_t num)
#endif
{
	mps_pollreg_t *reg;
	apr_int16_t events;
	apr_status_t rv;
	int i;
	int backoff = 0;

	pthread_mutex_lock(&poller->mutex);
	for (i = 0; i < (int)num; i++) {
#ifdef MPS_POLLER_EPOLL
		if ((reg = results[i].data.ptr) == NULL) {
			uint64_t n;

			/* The wakeup: empty the counter. */
			(void)!read(poller->wakefd, &n, sizeof(n));
			continue;
		}
		events = from_epoll(results[i].events);
#else
		reg = results[i].client_data;
		events = reg != NULL ? results[i].rtnevents : 0;
#endif
		/* Released or unwatched while this poll was returning. */
		if (reg == NULL || reg->released || !reg->watching)
			continue;
		events &= reg->pfd.reqevents | ALWAYS;
		if (events == 0)
			continue;	/* for an event set since replaced */
#ifdef MPS_POLLER_EPOLL
		/* One-shot: the kernel disarmed it when it reported it; it
		 * stays in the set for the next MOD. */
		reg->watching = 0;
		poller->watched--;
#else
		stop_watching(poller, reg);
#endif
		/* Stored before the post: the task may start at once. */
		atomic_store(&reg->events, events);
		rv = post_firing(poller, reg);
		if (rv == APR_SUCCESS || rv == MPS_ERR_SHUTDOWN)
			continue;	/* shutdown: the owner is going away */
		/* Watch again, so that the event is seen again after the
		 * pause; if even that fails, the owner's timeout must act. */
		(void)start_watching(poller, reg, reg->pfd.reqevents);
		backoff = 1;
	}
	pthread_mutex_unlock(&poller->mutex);
	return backoff;
}

/* epoll counts milliseconds: round up, lest a timer due in 0.4 ms make
 * the loop spin until it is. */
static apr_interval_time_t
poll_timeout(apr_interval_time_t next)
{
	if (next < 0)
		return -1;
	if (next > POLL_MAX)
		return POLL_MAX;
	return (next + 999) / 1000 * 1000;
}

apr_status_t
mps_poller_run(mps_poller_t *poller)
{
#ifdef MPS_POLLER_EPOLL
	int num;
#else
	const apr_pollfd_t *results;
	apr_int32_t num;
#endif
	apr_interval_time_t timeout;
	apr_status_t rv;
	int backoff = 0;

	while (!atomic_load(&poller->stop)) {
		free_zombies(poller);
		if (backoff)
			apr_sleep(BACKOFF);
		/* Cleared before the heap is read: an arm after this point
		 * wakes the poll below (see wake()). */
		atomic_store(&poller->wake_pending, 0);
		timeout = mps_timers_expire(poller->timers, apr_time_now());
		if (atomic_load(&poller->stop))
			break;
#ifdef MPS_POLLER_EPOLL
		timeout = poll_timeout(timeout);
		num = epoll_wait(poller->epfd, poller->results, EPOLL_BATCH,
		    timeout < 0 ? -1 : (int)(timeout / 1000));
		backoff = 0;
		rv = num >= 0 ? APR_SUCCESS : APR_FROM_OS_ERROR(errno);
		if (num > 0)
			backoff = dispatch(poller, poller->results, num);
		else if (num < 0 && errno != EINTR)
			return rv;
#else
		rv = apr_pollset_poll(poller->pollset, poll_timeout(timeout),
		    &num, &results);
		backoff = 0;
		if (rv == APR_SUCCESS)
			backoff = dispatch(poller, results, num);
		else if (!APR_STATUS_IS_EINTR(rv) && !APR_STATUS_IS_TIMEUP(rv))
			return rv;
#endif
	}
	free_zombies(poller);
	return APR_SUCCESS;
}

void
mps_poller_stop(mps_poller_t *poller)
{
	atomic_store(&poller->stop, 1);
	wake_now(poller);
}
