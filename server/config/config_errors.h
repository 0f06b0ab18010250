/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_errors.h: collects "file:line: message" errors and warnings.
 *
 * Loaders add to it and go on, so that one run of mpsd -t shows every
 * problem at once.
 */
#ifndef MPS_CONFIG_ERRORS_H
#define MPS_CONFIG_ERRORS_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "log.h"	/* MPS_PRINTF */

typedef struct mps_config_errors_t {
	apr_array_header_t *errors;	/* const char *: "file:line: message" */
	apr_array_header_t *warnings;	/* same form */
	apr_pool_t *pool;
} mps_config_errors_t;

mps_config_errors_t *mps_config_errors_create(apr_pool_t *pool);

/* line 0 means "the file as a whole" and prints as "file: message". */
void mps_config_error(mps_config_errors_t *errs, const char *file, int line,
    const char *fmt, ...) MPS_PRINTF(4, 5);
void mps_config_warning(mps_config_errors_t *errs, const char *file, int line,
    const char *fmt, ...) MPS_PRINTF(4, 5);

int mps_config_error_count(const mps_config_errors_t *errs);

#endif
