/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_check.h: mpsd -t, and the checks that the start-up shares with
 * it.
 *
 * mpsd -t reports every problem it can find in one run: the identity of
 * <Process>, each file mpsd uses after dropping root (checked as that
 * user), the demo passwords and unauthenticated listeners
 * (safety_check.h), the plugins and the TLS files. The start-up runs the
 * same file and safety checks before it opens anything, so that a server
 * that -t passes is one that keeps working once it has dropped root.
 */
#ifndef MPS_CONFIG_CHECK_H
#define MPS_CONFIG_CHECK_H

#include "config_errors.h"
#include "server.h"

/* The guide's message for a plugin role that failed to load
 * ("AMT", "Socks", else the notifier). */
const char *mps_plugin_failure_message(const char *role);

/*
 * The checks that need neither plugins nor ports: <Process> User/Group
 * exist, the files needed after the drop (file_needs.h), safety. Adds to
 * errs; returns the number of errors added. Call before any thread exists.
 */
int mps_preflight(const mps_server_t *srv, mps_config_errors_t *errs);

/* mpsd -t: prints every problem to stderr, or "configuration ... is OK"
 * to stdout. Returns the exit status (0 or 1). */
int mps_config_check(mps_server_t *srv, const char *path);

/* Prints every error, then every warning, to standard error, one line
 * each (mpsd -t, and the start-up before its log is open). */
void mps_config_print_problems(const mps_config_errors_t *errs);

#endif
