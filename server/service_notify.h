/* SPDX-License-Identifier: Apache-2.0 */
/*
 * service_notify.h: telling systemd (Type=notify) that mpsd is ready,
 * what it is doing (STATUS= with the number of connected devices), and
 * that it is stopping.
 *
 * Built with libsystemd when configure finds it (--with-systemd); without
 * it every call is a no-op, so main.c has no #ifdef. Outside systemd
 * (no $NOTIFY_SOCKET) the calls do nothing either.
 *
 * The status is refreshed by a small thread of its own every few seconds:
 * it only reads the registry's count (a lock-protected read), so it needs
 * no strand and never touches the poller.
 */
#ifndef MPS_SERVICE_NOTIFY_H
#define MPS_SERVICE_NOTIFY_H

#include "server.h"

/* READY=1 with a first STATUS=, then starts the status thread. Call once
 * mpsd serves (after mps_server_start()). */
void mps_service_ready(mps_server_t *srv);

/* STOPPING=1; stops the status thread. Safe without mps_service_ready(). */
void mps_service_stopping(void);

/* Whether this build talks to systemd (for mpsd -V and tests). */
int mps_service_notify_built(void);

#endif
