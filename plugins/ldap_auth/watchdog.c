/* SPDX-License-Identifier: Apache-2.0 */
/*
 * watchdog.c: a deadline for a TLS handshake that libldap cannot bound.
 *
 * libldap applies LDAP_OPT_NETWORK_TIMEOUT to the TLS handshake by making
 * the socket non-blocking and polling, but with the GnuTLS backend
 * (Debian's libldap 2.5) the handshake instead spins inside
 * gnutls_handshake() until GnuTLS's own handshake timeout, tens of
 * seconds, when a server accepts TCP and then says nothing. The
 * watchdog is a helper thread that, once armed with a socket, shuts that
 * socket down when the deadline passes: the handshake then fails at once
 * and the call fails closed in time.
 *
 * The socket belongs to libldap, which may close it (and the descriptor
 * number may be reused by another thread) as soon as the handshake
 * fails. The caller disarms the watchdog from libldap's connection-
 * delete callback, which runs before that close, and the shutdown is
 * done under the same lock: the watchdog never touches a descriptor it
 * does not own.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "ldap_auth.h"

static void *
watchdog_main(void *arg)
{
	struct mps_ldap_watchdog *w = arg;
	int rc;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		if (w->fd < 0) {
			pthread_cond_wait(&w->wake, &w->lock);
			continue;
		}
		rc = pthread_cond_timedwait(&w->wake, &w->lock, &w->deadline);
		/* Armed still, with the same deadline, and it passed. */
		if (rc == ETIMEDOUT && w->fd >= 0 && !w->stop) {
			(void)shutdown(w->fd, SHUT_RDWR);
			w->fd = -1;
			w->fired = 1;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int
mps_ldap_watchdog_start(struct mps_ldap_watchdog *w)
{
	pthread_condattr_t attr;
	int rc;

	w->fd = -1;
	w->stop = 0;
	w->fired = 0;
	w->running = 0;
	if (pthread_condattr_init(&attr) != 0)
		return -1;
	/* Deadlines on the monotonic clock: a clock step is no timeout. */
	rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&w->wake, &attr);
	(void)pthread_condattr_destroy(&attr);
	if (rc != 0)
		return -1;
	if (pthread_mutex_init(&w->lock, NULL) != 0) {
		(void)pthread_cond_destroy(&w->wake);
		return -1;
	}
	if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
		(void)pthread_mutex_destroy(&w->lock);
		(void)pthread_cond_destroy(&w->wake);
		return -1;
	}
	w->running = 1;
	return 0;
}

void
mps_ldap_watchdog_arm(struct mps_ldap_watchdog *w, int fd, int seconds)
{
	struct timespec now;

	if (!w->running)
		return;
	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&w->lock);
	w->deadline.tv_sec = now.tv_sec + seconds;
	w->deadline.tv_nsec = now.tv_nsec;
	w->fd = fd;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void
mps_ldap_watchdog_disarm(struct mps_ldap_watchdog *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->fd = -1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

int
mps_ldap_watchdog_fired(struct mps_ldap_watchdog *w)
{
	int fired;

	if (!w->running)
		return 0;
	pthread_mutex_lock(&w->lock);
	fired = w->fired;
	pthread_mutex_unlock(&w->lock);
	return fired;
}

void
mps_ldap_watchdog_stop(struct mps_ldap_watchdog *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	w->fd = -1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	(void)pthread_join(w->thread, NULL);
	(void)pthread_mutex_destroy(&w->lock);
	(void)pthread_cond_destroy(&w->wake);
	w->running = 0;
}
