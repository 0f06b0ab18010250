/* SPDX-License-Identifier: Apache-2.0 */
/* config_check.c: see config_check.h. */
#include "config_check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "file_needs.h"
#include "safety_check.h"

const char *
mps_plugin_failure_message(const char *role)
{
	if (role != NULL && strcmp(role, "AMT") == 0)
		return "Failed loading AMT authentication dll.";
	if (role != NULL && strcmp(role, "Socks") == 0)
		return "Failed loading Socks authentication dll.";
	return "Failed loading notification dll.";
}

int
mps_preflight(const mps_server_t *srv, mps_config_errors_t *errs)
{
	const mps_config_t *cfg = srv->cfg;
	int before = mps_config_error_count(errs);
	apr_pool_t *scratch;
	char err[256];
	uid_t uid;
	gid_t gid;

	if (mps_lookup_identity(cfg->user, cfg->group, &uid, &gid, err,
	    sizeof(err)) != APR_SUCCESS) {
		/* Without the user, its file checks mean nothing. */
		mps_config_error(errs, cfg->path, 0, "<Process>: %s", err);
		return mps_config_error_count(errs) - before;
	}
	if (geteuid() != 0 && ((uid != (uid_t)-1 && uid != geteuid()) ||
	    (gid != (gid_t)-1 && gid != getegid())))
		mps_config_warning(errs, cfg->path, 0, "<Process> names %s%s but "
		    "mpsd runs as uid %ld: files are checked as uid %ld, and a "
		    "start needs root", cfg->user != NULL && cfg->user[0] != '\0'
		    ? "user " : "group ", cfg->user != NULL && cfg->user[0] !=
		    '\0' ? cfg->user : cfg->group, (long)geteuid(),
		    (long)geteuid());
	if (apr_pool_create(&scratch, srv->pool) != APR_SUCCESS)
		return mps_config_error_count(errs) - before;
	(void)mps_file_needs_check(mps_file_needs_collect(srv, scratch),
	    geteuid() == 0 ? cfg->user : NULL, geteuid() == 0 ? cfg->group :
	    NULL, cfg->path, errs);
	(void)mps_safety_check(srv, errs);
	apr_pool_destroy(scratch);
	return mps_config_error_count(errs) - before;
}

void
mps_config_print_problems(const mps_config_errors_t *errs)
{
	int i;

	for (i = 0; i < errs->errors->nelts; i++)
		fprintf(stderr, "mpsd: %s\n",
		    APR_ARRAY_IDX(errs->errors, i, const char *));
	for (i = 0; i < errs->warnings->nelts; i++)
		fprintf(stderr, "mpsd: warning: %s\n",
		    APR_ARRAY_IDX(errs->warnings, i, const char *));
}

int
mps_config_check(mps_server_t *srv, const char *path)
{
	mps_config_errors_t *errs = mps_config_errors_create(srv->pool);
	char err[MPS_PLUGIN_ERROR_SIZE + 256];
	const char *role;
	int n;

	if (chdir(srv->config_dir) != 0) {
		fprintf(stderr, "mpsd: cannot enter %s: %s\n", srv->config_dir,
		    strerror(errno));
		return 1;
	}
	(void)mps_preflight(srv, errs);
	if (mps_server_load_plugins(srv, &role, err, sizeof(err)) !=
	    APR_SUCCESS) {
		mps_config_error(errs, path, 0, "%s %s",
		    mps_plugin_failure_message(role), err);
	}
	if (mps_server_bind(srv, 0, err, sizeof(err)) != APR_SUCCESS)
		mps_config_error(errs, path, 0, "<TLS>: %s", err);
	mps_server_shutdown(srv);	/* frees the TLS context */
	mps_config_print_problems(errs);
	n = mps_config_error_count(errs);
	if (n > 0) {
		fprintf(stderr, "mpsd: configuration %s has %d problem%s\n", path,
		    n, n == 1 ? "" : "s");
		return 1;
	}
	printf("mpsd: configuration %s is OK\n", path);
	return 0;
}
