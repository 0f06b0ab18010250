/* plugin_util.c: see plugin_util.h. */
#include "plugin_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
mps_pu_seterr(char *err, size_t errsize, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsize == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

const char *
mps_pu_strerror(int e, char *buf, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
	/* GNU strerror_r returns the text, in buf or a static string. */
	return strerror_r(e, buf, size);
#else
	if (strerror_r(e, buf, size) != 0)
		(void)snprintf(buf, size, "error %d", e);
	return buf;
#endif
}

int
mps_pu_is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}
