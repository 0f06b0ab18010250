/* SPDX-License-Identifier: Apache-2.0 */
/*
 * file_needs.h: the files mpsd still uses after it has dropped root, and
 * a check of them as the user it drops to.
 *
 * mpsd opens its ports, TLS files, lock and plugins as root; everything
 * it touches later runs as <Process><User>: the accounts files (the file
 * plugin reads them on every login), the CA, certificate and key files a
 * plugin hands to libcurl or libldap at call time, NotificationCAFile,
 * mps_dynamic.config and the list files (reread while running), the log
 * directory (rotation renames and creates files there) and the directory
 * of the pid file (removed at exit). A check done as root would pass where
 * the server later fails, so the check runs in a child process that has
 * dropped to that user exactly as mpsd will (same calls, same groups).
 */
#ifndef MPS_FILE_NEEDS_H
#define MPS_FILE_NEEDS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <sys/types.h>

#include "config_errors.h"
#include "server.h"

typedef enum {
	MPS_NEED_READ,		/* a regular file, readable */
	MPS_NEED_DIR_WRITE	/* a directory where files are created and removed */
} mps_need_kind_t;

typedef struct mps_file_need_t {
	mps_need_kind_t kind;
	const char *path;	/* absolute */
	const char *why;	/* "AMT_Authenticate DllParameters (accounts file)" */
	int line;		/* mps.config line for the message, 0 if none */
	int created_if_missing;	/* a missing directory is made at start */
} mps_file_need_t;

/*
 * Lists what srv's configuration needs after the drop (allocated in
 * pool). Relative paths are resolved against srv->config_dir.
 */
apr_array_header_t *mps_file_needs_collect(const mps_server_t *srv,
    apr_pool_t *pool);

/*
 * The accounts files of the file plugins (AMTFileAuth, SocksFileAuth)
 * among them: role is "AMT" or "Socks". NULL when the role does not use
 * the file plugin.
 */
const char *mps_file_plugin_accounts(const mps_server_t *srv,
    const char *role, apr_pool_t *pool);

/*
 * Checks every need as user/group (either may be NULL: the current user),
 * adding one error per problem to errs (against cfg_path). When mpsd runs
 * as root and a user or group is given, the checks run in a forked child
 * that has dropped privileges with mps_drop_privileges(); call it before
 * any thread exists. Returns the number of problems found.
 */
int mps_file_needs_check(const apr_array_header_t *needs, const char *user,
    const char *group, const char *cfg_path, mps_config_errors_t *errs);

#endif
