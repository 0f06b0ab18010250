/* SPDX-License-Identifier: Apache-2.0 */
/*
 * safety_check.h: a configuration that would expose the server.
 *
 * - The demo accounts (config/demo: a device "admin:P@ssw0rd" as in the
 *   APF documentation, a console "console:console-demo") are public. An
 *   accounts file of the file plugins that holds one of those passwords is
 *   an error unless every listener of that role is on a loopback address,
 *   as in the demo configuration: a copied demo file never goes live on a
 *   reachable address.
 * - Devices or consoles accepted without authentication on a non-loopback
 *   address are a warning (a lab may want it; production should not).
 *
 * Both mpsd -t and the start-up run it.
 */
#ifndef MPS_SAFETY_CHECK_H
#define MPS_SAFETY_CHECK_H

#include "config_errors.h"
#include "server.h"

/* Whether an address as written in mps.config (IPv4/IPv6 literal, "*",
 * a host name) is loopback only. */
int mps_address_is_loopback(const char *ip);

/* Adds the errors and warnings above to errs. Returns the error count. */
int mps_safety_check(const mps_server_t *srv, mps_config_errors_t *errs);

#endif
