/* SPDX-License-Identifier: Apache-2.0 */
/*
 * escape.c: what keeps a user name from changing the meaning of the LDAP
 * filter or DN it is put into (LDAP injection): checking it, and escaping
 * it as RFC 4515 (filters) and RFC 4514 (DNs) require.
 *
 * Escaping is done here rather than with libldap's
 * ldap_bv2escaped_filter_value() and ldap_dn2str(): the rules are short,
 * the output goes into fixed buffers without a heap allocation per call,
 * and the unit test can pin the exact output.
 */
#include <string.h>

#include "ldap_auth.h"
#include "xml_util.h"

static const char hexdigits[] = "0123456789abcdef";

int
mps_ldap_user_ok(const char *user)
{
	const unsigned char *s = (const unsigned char *)user;
	size_t len, i, n;
	unsigned long cp;

	len = strlen(user);
	if (len == 0 || len > MPS_LDAP_MAX_USER)
		return 0;
	for (i = 0; i < len; i += n) {
		if ((n = mps_pu_utf8_decode(s + i, len - i, &cp)) == 0)
			return 0;
		/* C0, DEL and C1 controls: no real account has them, and
		 * they would end up in mpsd's log. */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
	}
	return 1;
}

/* Appends one byte, or its \XX form. Returns 0, or -1 when out is full. */
static int
put(char *out, size_t outsize, size_t *pos, unsigned char c, int hex)
{
	size_t need = hex ? 3 : 1;

	/* Keep room for the terminating NUL. */
	if (outsize - *pos <= need)
		return -1;
	if (hex) {
		out[(*pos)++] = '\\';
		out[(*pos)++] = hexdigits[c >> 4];
		out[(*pos)++] = hexdigits[c & 0x0f];
	} else
		out[(*pos)++] = (char)c;
	return 0;
}

size_t
mps_ldap_escape_filter(char *out, size_t outsize, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pos = 0;

	if (outsize == 0)
		return (size_t)-1;
	for (; *s != '\0'; s++) {
		int hex = *s == '*' || *s == '(' || *s == ')' ||
		    *s == '\\' || *s < 0x20 || *s == 0x7f;

		if (put(out, outsize, &pos, *s, hex) != 0)
			return (size_t)-1;
	}
	out[pos] = '\0';
	return pos;
}

size_t
mps_ldap_escape_dn(char *out, size_t outsize, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t len = strlen(in), pos = 0, i;

	if (outsize == 0)
		return (size_t)-1;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];
		int special = strchr("\"+,;<>\\=", c) != NULL ||
		    (i == 0 && (c == '#' || c == ' ')) ||
		    (i == len - 1 && c == ' ');

		if (c < 0x20 || c == 0x7f) {
			if (put(out, outsize, &pos, c, 1) != 0)
				return (size_t)-1;
			continue;
		}
		if (special && put(out, outsize, &pos, '\\', 0) != 0)
			return (size_t)-1;
		if (put(out, outsize, &pos, c, 0) != 0)
			return (size_t)-1;
	}
	out[pos] = '\0';
	return pos;
}

int
mps_ldap_expand(char *out, size_t outsize, const char *tmpl,
    const char *value)
{
	const char *mark = strstr(tmpl, "%s");
	size_t pre, vlen, post;

	if (mark == NULL)
		return -1;
	pre = (size_t)(mark - tmpl);
	vlen = strlen(value);
	post = strlen(mark + 2);
	if (pre >= outsize || vlen >= outsize - pre ||
	    post >= outsize - pre - vlen)
		return -1;
	memcpy(out, tmpl, pre);
	memcpy(out + pre, value, vlen);
	memcpy(out + pre + vlen, mark + 2, post + 1);
	return 0;
}
