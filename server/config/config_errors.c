/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_errors.c: the "file:line: message" collector (see config_errors.h).
 *
 * Messages are formatted into the collector's own pool, so a loader may
 * pass file names and values from a scratch pool that it destroys before
 * the caller prints the messages.
 */
#include "config_errors.h"

#include <apr_strings.h>

#include <stdarg.h>

/* Room for a typical file's problems; the arrays grow as needed. */
#define INITIAL_SLOTS 8

mps_config_errors_t *
mps_config_errors_create(apr_pool_t *pool)
{
	mps_config_errors_t *errs;

	errs = apr_pcalloc(pool, sizeof(*errs));
	errs->pool = pool;
	errs->errors = apr_array_make(pool, INITIAL_SLOTS, sizeof(const char *));
	errs->warnings = apr_array_make(pool, INITIAL_SLOTS,
	    sizeof(const char *));
	return errs;
}

/* Appends "file:line: message" (or "file: message" for line 0) to list. */
static void
add_message(mps_config_errors_t *errs, apr_array_header_t *list,
    const char *file, int line, const char *fmt, va_list ap)
{
	const char *text;

	text = apr_pvsprintf(errs->pool, fmt, ap);
	if (file == NULL)
		file = "(unnamed)";
	if (line > 0)
		text = apr_psprintf(errs->pool, "%s:%d: %s", file, line, text);
	else
		text = apr_psprintf(errs->pool, "%s: %s", file, text);
	APR_ARRAY_PUSH(list, const char *) = text;
}

void
mps_config_error(mps_config_errors_t *errs, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_message(errs, errs->errors, file, line, fmt, ap);
	va_end(ap);
}

void
mps_config_warning(mps_config_errors_t *errs, const char *file, int line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_message(errs, errs->warnings, file, line, fmt, ap);
	va_end(ap);
}

int
mps_config_error_count(const mps_config_errors_t *errs)
{
	return errs->errors->nelts;
}
