/* SPDX-License-Identifier: Apache-2.0 */
/* mps_status.c: names for mpsd's error codes. */
#include "mps_status.h"

#include <stdarg.h>
#include <stdio.h>

#include <apr_strings.h>

static const char *const mps_messages[] = {
	"more input is needed",
	"malformed input",
	"length over its limit",
	"unexpected trailing data",
	"configuration error",
	"plugin could not be loaded",
	"plugin built for another ABI version",
	"another instance is running",
	"queue full",
	"shutting down",
	"protocol error",
	"peer exceeded its window",
	"unknown channel",
	"timed out",
	"not allowed by policy",
	"service unavailable",
};

const char *
mps_strerror(apr_status_t rv, char *buf, size_t bufsize)
{
	if (rv >= MPS_ERR_START && rv < MPS_ERR_END) {
		apr_cpystrn(buf, mps_messages[rv - MPS_ERR_START], bufsize);
		return buf;
	}
	return apr_strerror(rv, buf, bufsize);
}

char *
mps_errtext(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsize == 0)
		return err;
	va_start(ap, fmt);
	/* vsnprintf always terminates and cuts safely when size > 0. */
	(void)vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
	return err;
}
