/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config_dynamic.c: mps_dynamic.config's reader, which mpsd rereads
 * on SIGHUP and whenever the file changes (mps_dynamic_config_load), and
 * its TraceLevels grammar (mps_trace_levels_parse) on the raw bytes.
 *
 * Checks beyond "no crash, no sanitizer report":
 *   - APR_SUCCESS exactly when no error was collected, and only then are
 *     the levels written, holding no bit but the four levels';
 *   - every message names the file and is one printable line;
 *   - a mask mps_trace_levels_parse accepted, written back as
 *     "ERROR|WARNING|INFO|DEBUG" (its set bits), parses to itself.
 */
#define _GNU_SOURCE 1
#include "fuzz_config.h"

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "config.h"
#include "log.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sentinel: no mask the loader may produce has these bits. */
#define UNTOUCHED 0xdead0000u

static apr_pool_t *root;

static void
check_levels_text(const uint8_t *data, size_t size, apr_pool_t *pool)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ MPS_LOG_ERROR, "ERROR" }, { MPS_LOG_WARNING, "WARNING" },
		{ MPS_LOG_INFO, "INFO" }, { MPS_LOG_DEBUG, "DEBUG" },
	};
	const char *text = apr_pstrmemdup(pool, (const char *)data, size);
	const char *bad = NULL;
	char again[64] = "";
	unsigned levels = UNTOUCHED, back = UNTOUCHED;
	size_t i;

	if (mps_trace_levels_parse(text, &levels, &bad, pool) != 0) {
		if (bad == NULL || levels != UNTOUCHED)
			abort();	/* a refusal names its token, sets nothing */
		return;
	}
	if ((levels & ~(unsigned)MPS_LOG_ALL_LEVELS) != 0)
		abort();
	if (levels == 0)
		return;		/* written as white space: nothing to redo */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (levels & names[i].bit) {
			if (again[0] != '\0')
				strcat(again, "|");
			strcat(again, names[i].name);
		}
	if (mps_trace_levels_parse(again, &back, NULL, pool) != 0 ||
	    back != levels)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apr_pool_t *pool;
	mps_config_errors_t *errs;
	const char *path;
	unsigned levels = UNTOUCHED;
	apr_status_t rv;

	if (root == NULL) {
		if (apr_initialize() != APR_SUCCESS ||
		    apr_pool_create(&root, NULL) != APR_SUCCESS)
			abort();
	}
	if (apr_pool_create(&pool, root) != APR_SUCCESS)
		abort();
	path = fuzz_file_put(data, size);
	errs = mps_config_errors_create(pool);
	rv = mps_dynamic_config_load(&levels, path, errs, pool);
	if ((rv == APR_SUCCESS) != (mps_config_error_count(errs) == 0))
		abort();
	if (rv == APR_SUCCESS ?
	    (levels & ~(unsigned)MPS_LOG_ALL_LEVELS) != 0 :
	    levels != UNTOUCHED)
		abort();
	fuzz_check_errors(errs, path);
	check_levels_text(data, size, pool);
	apr_pool_destroy(pool);
	return 0;
}
