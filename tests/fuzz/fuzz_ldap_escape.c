/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ldap_escape.c: what keeps a user name from changing the meaning
 * of an LDAP filter or DN (plugins/ldap_auth/escape.c): the user-name
 * check, RFC 4515 filter escaping, RFC 4514 DN escaping, and putting the
 * escaped name into a template.
 *
 * Input: byte 0 picks an output buffer size for the "too small" checks;
 * the rest, up to a NUL, is the user name as the plugin gets it.
 *
 * Properties asserted (any failure aborts):
 *   filter  the output has no unescaped '*', '(', ')', '\' or control
 *           byte; every '\' starts a \XX hex pair; decoding it gives the
 *           name back byte for byte; put into "(uid=%s)" and
 *           "(&(objectClass=person)(uid=%s))", the parentheses are
 *           exactly the template's (no injected sub-filter);
 *   DN      no unescaped '"' '+' ',' ';' '<' '>' '\' '=', no unescaped
 *           '#' or ' ' first, no unescaped ' ' last, no raw control byte;
 *           decoding (\c and \XX) gives the name back; and for a name
 *           mps_ldap_user_ok accepts, libldap's own DN parser
 *           (ldap_str2dn, LDAPv3) reads "uid=<escaped>,ou=people,
 *           dc=example,dc=com" as four RDNs of one AVA each, the first
 *           "uid" with exactly the name as its value;
 *   sizes   with exactly the room needed both escapes succeed; with one
 *           byte less, or the input's smaller size, they fail with
 *           (size_t)-1 and never write past the buffer (ASan sees an
 *           exact-size heap buffer); mps_ldap_expand likewise.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldap.h>

#include "ldap_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes an escaped filter value; aborts on anything unescaped. */
static void
check_filter_value(const char *esc, const char *name)
{
	const unsigned char *p = (const unsigned char *)esc;
	const unsigned char *want = (const unsigned char *)name;
	size_t n = 0;

	while (*p != '\0') {
		int c;

		if (*p == '\\') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				abort();	/* a lone backslash */
			c = hi * 16 + lo;
			p += 3;
		} else {
			if (*p == '*' || *p == '(' || *p == ')' || *p < 0x20 ||
			    *p == 0x7f)
				abort();	/* unescaped special */
			c = *p++;
		}
		if (want[n] == '\0' || want[n] != c)
			abort();	/* does not decode to the name */
		n++;
	}
	if (want[n] != '\0')
		abort();
}

/* The positions and kinds of parentheses, skipping \XX escapes. */
static size_t
parens(const char *f, char *out, size_t outsize)
{
	size_t n = 0;

	for (; *f != '\0'; f++) {
		if (*f == '\\' && f[1] != '\0' && f[2] != '\0') {
			f += 2;
			continue;
		}
		if ((*f == '(' || *f == ')') && n < outsize)
			out[n++] = *f;
	}
	return n;
}

static void
check_filter_template(const char *tmpl, const char *esc)
{
	char out[MPS_LDAP_MAX_EXPANDED], p1[16], p2[16];
	size_t n1, n2;

	if (mps_ldap_expand(out, sizeof(out), tmpl, esc) != 0)
		abort();
	n1 = parens(tmpl, p1, sizeof(p1));
	n2 = parens(out, p2, sizeof(p2));
	if (n1 != n2 || memcmp(p1, p2, n1) != 0)
		abort();	/* the name changed the filter's structure */
}

/* RFC 4514 checks and decoding of an escaped attribute value. */
static void
check_dn_value(const char *esc, const char *name)
{
	const unsigned char *p = (const unsigned char *)esc;
	const unsigned char *want = (const unsigned char *)name;
	size_t n = 0, len = strlen(esc);

	if (len > 0 && (p[0] == '#' || p[0] == ' '))
		abort();	/* unescaped leading '#' or space */
	while (*p != '\0') {
		int c;

		if (*p == '\\') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi >= 0 && lo >= 0) {
				c = hi * 16 + lo;
				p += 3;
			} else if (p[1] != '\0' &&
			    strchr("\"+,;<>\\=# ", p[1]) != NULL) {
				c = p[1];
				p += 2;
			} else
				abort();	/* a bad escape */
		} else {
			if (strchr("\"+,;<>=", *p) != NULL || *p < 0x20 ||
			    *p == 0x7f)
				abort();	/* unescaped special */
			if (*p == ' ' && p[1] == '\0')
				abort();	/* unescaped trailing space */
			c = *p++;
		}
		if (want[n] == '\0' || want[n] != c)
			abort();
		n++;
	}
	if (want[n] != '\0')
		abort();
}

/* libldap must read the escaped name back as the value of one AVA. */
static void
check_dn_libldap(const char *esc, const char *name)
{
	static const char tmpl[] = "uid=%s,ou=people,dc=example,dc=com";
	char dn[MPS_LDAP_MAX_EXPANDED];
	LDAPDN parsed = NULL;
	size_t i;

	if (mps_ldap_expand(dn, sizeof(dn), tmpl, esc) != 0)
		abort();
	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS || parsed == NULL)
		abort();	/* a valid name made an invalid DN */
	for (i = 0; parsed[i] != NULL; i++)
		if (parsed[i][0] == NULL || parsed[i][1] != NULL)
			abort();	/* an RDN of other than one AVA */
	if (i != 4 || parsed[0][0]->la_attr.bv_len != 3 ||
	    memcmp(parsed[0][0]->la_attr.bv_val, "uid", 3) != 0 ||
	    parsed[0][0]->la_value.bv_len != strlen(name) ||
	    memcmp(parsed[0][0]->la_value.bv_val, name, strlen(name)) != 0)
		abort();	/* not the name, or not where it was put */
	ldap_dnfree(parsed);
}

typedef size_t (*escape_fn)(char *, size_t, const char *);

/* The escape into exact-size heap buffers: too small fails cleanly. */
static void
check_sizes(escape_fn fn, const char *name, const char *esc, size_t need,
    size_t small)
{
	char *buf;
	size_t sizes[3], i;

	sizes[0] = need + 1;	/* exactly enough */
	sizes[1] = need;	/* one short */
	sizes[2] = small < need + 1 ? small : need;
	for (i = 0; i < 3; i++) {
		size_t r;

		if ((buf = malloc(sizes[i] ? sizes[i] : 1)) == NULL)
			abort();
		r = fn(buf, sizes[i], name);
		if (i == 0 ? r != need || strcmp(buf, esc) != 0 :
		    r != (size_t)-1)
			abort();
		free(buf);
	}
}

static void
check_expand(const char *value, size_t small)
{
	static const char tmpl[] = "uid=%s,dc=x";
	size_t need = strlen(value) + sizeof(tmpl) - 3;	/* less "%s", NUL */
	char *buf;

	if ((buf = malloc(need + 1)) == NULL)
		abort();
	if (mps_ldap_expand(buf, need + 1, tmpl, value) != 0 ||
	    strncmp(buf, "uid=", 4) != 0 ||
	    strncmp(buf + 4, value, strlen(value)) != 0 ||
	    strcmp(buf + 4 + strlen(value), ",dc=x") != 0)
		abort();
	if (mps_ldap_expand(buf, need, tmpl, value) != -1 ||
	    (small <= need && mps_ldap_expand(buf, small, tmpl, value) != -1))
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name, *fesc, *desc;
	size_t len, flen, dlen, small;

	if (size == 0)
		return 0;
	small = data[0];
	if ((name = malloc(size)) == NULL)
		abort();
	memcpy(name, data + 1, size - 1);
	name[size - 1] = '\0';
	len = strlen(name);
	(void)mps_ldap_user_ok(name);

	/* Escaping at most triples a byte. */
	if ((fesc = malloc(3 * len + 1)) == NULL ||
	    (desc = malloc(3 * len + 1)) == NULL)
		abort();
	flen = mps_ldap_escape_filter(fesc, 3 * len + 1, name);
	dlen = mps_ldap_escape_dn(desc, 3 * len + 1, name);
	if (flen == (size_t)-1 || dlen == (size_t)-1 ||
	    flen != strlen(fesc) || dlen != strlen(desc))
		abort();

	check_filter_value(fesc, name);
	check_dn_value(desc, name);
	check_sizes(mps_ldap_escape_filter, name, fesc, flen, small);
	check_sizes(mps_ldap_escape_dn, name, desc, dlen, small);
	check_expand(fesc, small);
	if (flen < MPS_LDAP_MAX_EXPANDED - 64) {
		check_filter_template("(uid=%s)", fesc);
		check_filter_template("(&(objectClass=person)(uid=%s))", fesc);
	}
	if (mps_ldap_user_ok(name))
		check_dn_libldap(desc, name);

	free(desc);
	free(fesc);
	free(name);
	return 0;
}
