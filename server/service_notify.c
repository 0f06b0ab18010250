/* SPDX-License-Identifier: Apache-2.0 */
/* service_notify.c: see service_notify.h. */
#include "service_notify.h"

#ifdef MPS_WITH_SYSTEMD

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "registry.h"

/* How often STATUS= is refreshed. */
#define STATUS_INTERVAL_S 5

static pthread_t status_thread;
static int status_running;
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t status_wake = PTHREAD_COND_INITIALIZER;
static int status_stop;

static void
send_status(mps_server_t *srv)
{
	unsigned n = srv->registry != NULL ? mps_registry_count(srv->registry) : 0;

	(void)sd_notifyf(0, "STATUS=%u Intel AMT device%s connected", n,
	    n == 1 ? "" : "s");
}

static void *
status_main(void *arg)
{
	mps_server_t *srv = arg;
	struct timespec until;

	pthread_mutex_lock(&status_lock);
	while (!status_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STATUS_INTERVAL_S;
		while (!status_stop && pthread_cond_timedwait(&status_wake,
		    &status_lock, &until) != ETIMEDOUT)
			;
		if (status_stop || srv->stopping)
			break;
		pthread_mutex_unlock(&status_lock);
		send_status(srv);
		pthread_mutex_lock(&status_lock);
	}
	pthread_mutex_unlock(&status_lock);
	return NULL;
}

void
mps_service_ready(mps_server_t *srv)
{
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	send_status(srv);
	(void)sd_notify(0, "READY=1");
	status_stop = 0;
	if (pthread_create(&status_thread, NULL, status_main, srv) == 0)
		status_running = 1;
}

void
mps_service_stopping(void)
{
	if (getenv("NOTIFY_SOCKET") != NULL)
		(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	if (!status_running)
		return;
	pthread_mutex_lock(&status_lock);
	status_stop = 1;
	pthread_cond_signal(&status_wake);
	pthread_mutex_unlock(&status_lock);
	pthread_join(status_thread, NULL);
	status_running = 0;
}

int
mps_service_notify_built(void)
{
	return 1;
}

#else /* !MPS_WITH_SYSTEMD */

void
mps_service_ready(mps_server_t *srv)
{
	(void)srv;
}

void
mps_service_stopping(void)
{
}

int
mps_service_notify_built(void)
{
	return 0;
}

#endif
