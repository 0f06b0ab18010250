/* SPDX-License-Identifier: Apache-2.0 */
/* xml_util.c: see xml_util.h. */
#include <string.h>

#include "xml_util.h"

size_t
mps_pu_utf8_decode(const unsigned char *s, size_t len, unsigned long *cp)
{
	static const unsigned long min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned long c;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* The Char production of XML 1.0 (2.2). */
static int
xml_char(unsigned long c)
{
	if (c < 0x20)
		return c == 0x09 || c == 0x0a || c == 0x0d;
	return c != 0xfffe && c != 0xffff;
}

int
mps_pu_xml_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i, n;
	unsigned long c;

	for (i = 0; i < len; i += n)
		if ((n = mps_pu_utf8_decode(p + i, len - i, &c)) == 0 ||
		    !xml_char(c))
			return 0;
	return 1;
}

size_t
mps_pu_xml_escape(char *out, const char *s)
{
	size_t len = 0, n;
	const char *rep;

	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		default:
			if (out != NULL)
				out[len] = *s;
			len++;
			continue;
		}
		n = strlen(rep);
		if (out != NULL)
			memcpy(out + len, rep, n);
		len += n;
	}
	return len;
}

static int
is_xml_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
mps_pu_xs_boolean(const char *s, size_t len)
{
	size_t b = 0, e = len, n;
	const char *v;

	/* whiteSpace is "collapse" for xs:boolean: only the ends matter. */
	while (b < e && is_xml_space((unsigned char)s[b]))
		b++;
	while (e > b && is_xml_space((unsigned char)s[e - 1]))
		e--;
	v = s + b;
	n = e - b;
	if ((n == 4 && memcmp(v, "true", 4) == 0) || (n == 1 && *v == '1'))
		return 1;
	if ((n == 5 && memcmp(v, "false", 5) == 0) || (n == 1 && *v == '0'))
		return 0;
	return -1;
}

/*
 * Returns n, less the bytes of an incomplete UTF-8 character at the end
 * of s[0..n).
 */
static size_t
utf8_whole(const char *s, size_t n)
{
	size_t k = n, want;
	unsigned char lead;

	while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80)
		k--;
	if (k == 0)
		return n;
	lead = (unsigned char)s[k - 1];
	if (lead < 0xc0)
		return n;
	want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	return n - (k - 1) < want ? k - 1 : n;
}

void
mps_pu_printable(char *dst, size_t dstsize, const char *src, size_t len,
    int cut)
{
	size_t i, n = 0, limit = dstsize - 4;	/* room for "..." and NUL */
	int space = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = n > 0;
			continue;
		}
		if (n + (size_t)space + 1 > limit) {
			cut = 1;
			break;
		}
		if (space)
			dst[n++] = ' ';
		space = 0;
		dst[n++] = (char)c;
	}
	if (cut) {
		n = utf8_whole(dst, n);
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}
