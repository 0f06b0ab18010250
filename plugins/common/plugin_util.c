/* SPDX-License-Identifier: Apache-2.0 */
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

/*
 * The search goes on after each mask, so a secret made of '*' cannot
 * match its own mask.
 */
void
mps_pu_redact(char *err, size_t errsize, const char *secret)
{
	size_t slen, tail, used;
	char *at, *hit;

	if (err == NULL || errsize == 0 || secret == NULL ||
	    (slen = strlen(secret)) == 0)
		return;
	for (at = err; (hit = strstr(at, secret)) != NULL; at = hit + 3) {
		/* What follows the secret, with its NUL; a secret shorter
		 * than the mask makes the text longer: cut what must go. */
		tail = strlen(hit + slen) + 1;
		used = (size_t)(hit - err) + 3;
		if (used >= errsize) {
			*hit = '\0';
			return;
		}
		if (used + tail > errsize)
			tail = errsize - used;
		memmove(hit + 3, hit + slen, tail);
		err[errsize - 1] = '\0';
		memcpy(hit, "***", 3);
	}
}

int
mps_pu_is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}
