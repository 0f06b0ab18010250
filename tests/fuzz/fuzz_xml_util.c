/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_xml_util.c: the plugins' UTF-8 and XML text helpers
 * (plugins/common/xml_util.c), which decide what user names and
 * passwords may be sent in a SOAP request, escape them into it, read a
 * service's xs:boolean, and make a service's text fit for mpsd's log.
 *
 * The input is one string (any bytes). Checks, beyond "no crash, no
 * sanitizer report":
 *   - mps_pu_utf8_decode: a decoded sequence is the shortest UTF-8 form of
 *     a scalar value (encoding the code point again gives back exactly
 *     its bytes); a refused one is not (no encoding of any scalar value
 *     is a prefix of the bytes);
 *   - mps_pu_xml_text_ok: true exactly when the string decodes whole into
 *     XML 1.0 Chars;
 *   - mps_pu_xml_escape: counting and writing agree; on an accepted
 *     string the escaped text, parsed by expat as an element's content,
 *     gives back the string byte for byte (no markup can break out, CR
 *     survives);
 *   - mps_pu_xs_boolean: -1, 0 or 1, and the blanks around the value do
 *     not matter;
 *   - mps_pu_printable: for the buffer sizes that matter (the smallest,
 *     and those around the room the whole text needs), a NUL-terminated
 *     string within the buffer, no control byte, no leading or doubled
 *     blank, and, when the input is UTF-8 and nothing was cut, the input
 *     with its blanks and control bytes collapsed; when cut, a UTF-8
 *     input is cut on a character boundary before the "...".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "xml_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The shortest UTF-8 encoding of cp, into out (4 bytes); its length. */
static size_t
encode(unsigned long cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The bytes a well-formed sequence starting with lead would need. */
static size_t
wanted(unsigned char lead)
{
	return lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
}

/* Decodes s[0..len) whole; returns 1 if it is UTF-8 of XML Chars. */
static int
walk(const unsigned char *s, size_t len, int *utf8)
{
	size_t i = 0, n;
	unsigned long cp;
	unsigned char again[4];
	int xml = 1;

	*utf8 = 1;
	while (i < len) {
		n = mps_pu_utf8_decode(s + i, len - i, &cp);
		if (n == 0) {
			/* Refused: a valid sequence of this lead must not
			 * match. Try the one its bits would give. */
			size_t w = wanted(s[i]);

			if (w <= len - i && s[i] >= 0xc2 && s[i] <= 0xf4) {
				unsigned long c = s[i] & (0x7f >> w);
				size_t k;
				int cont = 1;

				for (k = 1; k < w; k++) {
					cont &= (s[i + k] & 0xc0) == 0x80;
					c = (c << 6) | (s[i + k] & 0x3f);
				}
				if (cont && c <= 0x10ffff &&
				    !(c >= 0xd800 && c <= 0xdfff) &&
				    encode(c, again) == w &&
				    memcmp(again, s + i, w) == 0)
					abort();	/* refused a valid one */
			}
			*utf8 = 0;
			return 0;
		}
		if (n > 4 || n > len - i || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) ||
		    encode(cp, again) != n || memcmp(again, s + i, n) != 0)
			abort();	/* accepted a non-shortest or bad one */
		if ((cp < 0x20 && cp != 0x09 && cp != 0x0a && cp != 0x0d) ||
		    cp == 0xfffe || cp == 0xffff)
			xml = 0;
		i += n;
	}
	return xml;
}

struct collect {
	char *buf;
	size_t len, cap;
	int depth, bad;
};

static void XMLCALL
on_text(void *arg, const XML_Char *s, int len)
{
	struct collect *c = arg;

	if (c->depth != 1 || len < 0 || (size_t)len > c->cap - c->len) {
		c->bad = 1;
		return;
	}
	memcpy(c->buf + c->len, s, (size_t)len);
	c->len += (size_t)len;
}

static void XMLCALL
on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
	struct collect *c = arg;

	(void)name;
	(void)attrs;
	if (++c->depth > 1)
		c->bad = 1;	/* the escaped text made an element */
}

static void XMLCALL
on_end(void *arg, const XML_Char *name)
{
	(void)name;
	((struct collect *)arg)->depth--;
}

/* s escaped and wrapped in <v>...</v>, read back by expat. */
static void
check_escape(const char *s, size_t len)
{
	static const char head[] = "<v>", tail[] = "</v>";
	size_t n = mps_pu_xml_escape(NULL, s), total;
	char *doc;
	struct collect c;
	XML_Parser xp;

	total = sizeof(head) - 1 + n + sizeof(tail) - 1;
	if ((doc = malloc(total)) == NULL)
		abort();
	memcpy(doc, head, sizeof(head) - 1);
	if (mps_pu_xml_escape(doc + sizeof(head) - 1, s) != n)
		abort();
	memcpy(doc + sizeof(head) - 1 + n, tail, sizeof(tail) - 1);

	memset(&c, 0, sizeof(c));
	c.cap = len;
	if ((c.buf = malloc(len + 1)) == NULL ||
	    (xp = XML_ParserCreate("UTF-8")) == NULL)
		abort();
	XML_SetUserData(xp, &c);
	XML_SetElementHandler(xp, on_start, on_end);
	XML_SetCharacterDataHandler(xp, on_text);
	if (XML_Parse(xp, doc, (int)total, XML_TRUE) != XML_STATUS_OK ||
	    c.bad || c.len != len || memcmp(c.buf, s, len) != 0)
		abort();
	XML_ParserFree(xp);
	free(c.buf);
	free(doc);
}

static int
blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
check_boolean(const char *s, size_t len)
{
	int v = mps_pu_xs_boolean(s, len);
	size_t b = 0, e = len;

	if (v < -1 || v > 1)
		abort();
	while (b < e && blank((unsigned char)s[b]))
		b++;
	while (e > b && blank((unsigned char)s[e - 1]))
		e--;
	if (mps_pu_xs_boolean(s + b, e - b) != v)
		abort();
}

/* What printable makes of s[0..len) with room enough: collapsed. */
static size_t
collapse(const unsigned char *s, size_t len, char *out)
{
	size_t i, n = 0;
	int space = 0;

	for (i = 0; i < len; i++) {
		if (s[i] <= 0x20 || s[i] == 0x7f) {
			space = n > 0;
			continue;
		}
		if (space)
			out[n++] = ' ';
		space = 0;
		out[n++] = (char)s[i];
	}
	return n;
}

/* One call of mps_pu_printable into a buffer of size bytes. */
static void
check_printable_size(const unsigned char *s, size_t len, int utf8,
    const char *want, size_t wlen, char *dst, size_t size, int cut_flag)
{
	const unsigned char *p;
	size_t n;
	int cut;

	memset(dst, 0x55, size);
	mps_pu_printable(dst, size, (const char *)s, len, cut_flag);
	if ((p = memchr(dst, '\0', size)) == NULL)
		abort();
	n = (size_t)(p - (unsigned char *)dst);
	if (n > 0 && dst[0] == ' ')
		abort();
	for (p = (unsigned char *)dst; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == ' ' && p[1] == ' '))
			abort();
	cut = n >= 3 && memcmp(dst + n - 3, "...", 3) == 0 &&
	    (cut_flag || n != wlen || memcmp(dst, want, n) != 0);
	if (!cut) {
		if (n != wlen || memcmp(dst, want, n) != 0)
			abort();
		return;
	}
	/* Cut: a prefix of the collapsed text, then "...". */
	n -= 3;
	if (n > wlen || memcmp(dst, want, n) != 0)
		abort();
	if (utf8 && n < wlen && ((unsigned char)want[n] & 0xc0) == 0x80)
		abort();	/* split a character */
}

/*
 * The sizes that matter: the smallest ones, the input's own pick, and
 * those around the room the whole text needs (its length plus "..." and
 * the NUL), where cutting starts.
 */
static void
check_printable(const unsigned char *s, size_t len, int utf8)
{
	char *want, *dst;
	size_t wlen, sizes[10], i;
	int cut_flag;

	if ((want = malloc(len + 1)) == NULL || (dst = malloc(len + 16)) == NULL)
		abort();
	wlen = collapse(s, len, want);
	sizes[0] = 4;
	sizes[1] = 5;
	sizes[2] = 6;
	sizes[3] = 7;
	sizes[4] = 4 + (len > 0 ? s[0] % (wlen + 4) : 0);
	sizes[5] = wlen + 2;
	sizes[6] = wlen + 3;
	sizes[7] = wlen + 4;	/* just enough: no cut */
	sizes[8] = wlen + 5;
	sizes[9] = wlen + 8;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (cut_flag = 0; cut_flag < 2; cut_flag++)
			if (sizes[i] >= 4)
				check_printable_size(s, len, utf8, want, wlen,
				    dst, sizes[i], cut_flag);
	free(dst);
	free(want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t len;
	int xml, utf8;

	/* As a C string: up to the first NUL, as the plugins get it. */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	xml = walk((const unsigned char *)s, len, &utf8);
	if (mps_pu_xml_text_ok(s) != xml)
		abort();
	if (xml)
		check_escape(s, len);
	check_boolean((const char *)data, size);
	check_printable(data, size, utf8 && len == size);
	free(s);
	return 0;
}
