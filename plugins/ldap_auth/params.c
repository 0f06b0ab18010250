/* SPDX-License-Identifier: Apache-2.0 */
/*
 * params.c: DllParameters of the LDAPAuthentication plugin (the options
 * are documented in ldap_auth.h and README.md).
 *
 * Everything that can be checked without the network is checked here, at
 * start-up (mps_plugin_init), so that a typo stops mpsd with a reason
 * instead of failing every authentication later: URIs, DN syntax, the
 * templates, the files. The parsed form is read-only afterwards and is
 * shared by all threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldap.h>

#include "ldap_auth.h"

#include "plugin_util.h"

#define MAX_TOKENS	64
#define MAX_PASSFILE	4096	/* bytes: a password file is one line */
#define MAX_CAFILE	(4 * 1024 * 1024)	/* bytes: a big CA bundle */

/* A value that cannot come out of escaping, to find where "%s" lands. */
#define MARKER		"mpsdLdapUserMarker"


/* Whether a berval (not NUL-terminated) contains s. */
static int
bv_contains(const struct berval *bv, const char *s)
{
	size_t n = strlen(s), i;

	for (i = 0; n <= bv->bv_len && i <= bv->bv_len - n; i++)
		if (memcmp(bv->bv_val + i, s, n) == 0)
			return 1;
	return 0;
}

/*
 * Splits buf in place into blank-separated tokens. A quote (" or ')
 * starts a run, up to the same quote, in which blanks and the other quote
 * are ordinary characters; quotes are removed and quoted and unquoted
 * parts of one token join, as in sh(1) without backslashes. Returns the
 * number of tokens, or -1 with err set.
 */
static int
tokenise(char *buf, char **tok, int maxtok, char *err, size_t errsize)
{
	char *r = buf, *w = buf;
	int n = 0;

	for (;;) {
		char quote = '\0';

		while (mps_pu_is_blank((unsigned char)*r))
			r++;
		if (*r == '\0')
			return n;
		if (n == maxtok) {
			mps_pu_seterr(err, errsize, "DllParameters: more than %d "
			    "words", maxtok);
			return -1;
		}
		/* The write position never passes the read position, so the
		 * token is rebuilt in place. */
		tok[n++] = w;
		for (; *r != '\0'; r++) {
			if (quote != '\0') {
				if (*r == quote)
					quote = '\0';
				else
					*w++ = *r;
			} else if (*r == '"' || *r == '\'')
				quote = *r;
			else if (mps_pu_is_blank((unsigned char)*r))
				break;
			else
				*w++ = *r;
		}
		if (quote != '\0') {
			mps_pu_seterr(err, errsize, "DllParameters: unterminated "
			    "%c quote", quote);
			return -1;
		}
		if (*r != '\0')
			r++;
		*w++ = '\0';
	}
}

/* A timeout in whole seconds, 1..MPS_LDAP_MAX_TIMEOUT. */
static int
parse_seconds(const char *opt, const char *s, int *out, char *err,
    size_t errsize)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || v < 1 ||
	    v > MPS_LDAP_MAX_TIMEOUT) {
		mps_pu_seterr(err, errsize, "DllParameters: %s wants whole seconds "
		    "from 1 to %d, not \"%s\"", opt, MPS_LDAP_MAX_TIMEOUT, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Checks one URI of the -uri list; sets *ldaps. */
static int
check_one_uri(const char *uri, int *ldaps, char *err, size_t errsize)
{
	LDAPURLDesc *lud = NULL;
	int rc, bad;

	if ((rc = ldap_url_parse(uri, &lud)) != LDAP_URL_SUCCESS) {
		mps_pu_seterr(err, errsize, "DllParameters: -uri \"%s\" is not an "
		    "ldap:// or ldaps:// URL (error %d)", uri, rc);
		return -1;
	}
	*ldaps = strcasecmp(lud->lud_scheme, "ldaps") == 0;
	if (!*ldaps && strcasecmp(lud->lud_scheme, "ldap") != 0) {
		mps_pu_seterr(err, errsize, "DllParameters: -uri \"%s\" is not an "
		    "ldap:// or ldaps:// URL", uri);
		ldap_free_urldesc(lud);
		return -1;
	}
	/* A base DN, attributes or a filter in the URL would be ignored:
	 * refuse them rather than let them mislead. */
	bad = lud->lud_host == NULL || lud->lud_host[0] == '\0' ||
	    (lud->lud_dn != NULL && lud->lud_dn[0] != '\0') ||
	    lud->lud_attrs != NULL || lud->lud_filter != NULL ||
	    lud->lud_exts != NULL;
	ldap_free_urldesc(lud);
	if (bad) {
		mps_pu_seterr(err, errsize, "DllParameters: -uri \"%s\" must be just "
		    "ldap[s]://host[:port]", uri);
		return -1;
	}
	return 0;
}

/* Checks the blank- or comma-separated -uri list; sets cfg->tls. */
static int
check_uris(struct mps_ldap_config *cfg, char *err, size_t errsize)
{
	char one[1024];
	const char *s = cfg->uri;
	int n = 0, ldaps, first = -1;

	for (;;) {
		size_t len;

		while (mps_pu_is_blank((unsigned char)*s) || *s == ',')
			s++;
		if (*s == '\0')
			break;
		len = strcspn(s, " \t\r\n\v\f,");
		if (len >= sizeof(one)) {
			mps_pu_seterr(err, errsize, "DllParameters: a -uri is longer "
			    "than %zu bytes", sizeof(one) - 1);
			return -1;
		}
		memcpy(one, s, len);
		one[len] = '\0';
		s += len;
		if (check_one_uri(one, &ldaps, err, errsize) != 0)
			return -1;
		if (first != -1 && ldaps != first) {
			mps_pu_seterr(err, errsize, "DllParameters: the -uri list "
			    "mixes ldap:// and ldaps://");
			return -1;
		}
		first = ldaps;
		n++;
	}
	if (n == 0) {
		mps_pu_seterr(err, errsize, "DllParameters: -uri is empty");
		return -1;
	}
	if (cfg->starttls && first) {
		mps_pu_seterr(err, errsize, "DllParameters: -starttls applies to "
		    "ldap:// only (ldaps:// is TLS already)");
		return -1;
	}
	cfg->tls = first || cfg->starttls;
	return 0;
}

/* A DN in LDAPv3 syntax. */
static int
check_dn(const char *opt, const char *dn, char *err, size_t errsize)
{
	LDAPDN parsed = NULL;

	if (dn[0] == '\0') {
		mps_pu_seterr(err, errsize, "DllParameters: %s is empty", opt);
		return -1;
	}
	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS) {
		mps_pu_seterr(err, errsize, "DllParameters: %s \"%s\" is not a valid "
		    "DN", opt, dn);
		return -1;
	}
	ldap_dnfree(parsed);
	return 0;
}

/* Exactly one "%s" and no other '%', and not too long. */
static int
check_template(const char *opt, const char *t, char *err, size_t errsize)
{
	const char *p;
	int n = 0;

	if (strlen(t) > MPS_LDAP_MAX_TEMPLATE) {
		mps_pu_seterr(err, errsize, "DllParameters: %s is longer than %d "
		    "bytes", opt, MPS_LDAP_MAX_TEMPLATE);
		return -1;
	}
	for (p = t; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] != 's') {
			mps_pu_seterr(err, errsize, "DllParameters: %s \"%s\": '%%' "
			    "may only appear as the one %%s", opt, t);
			return -1;
		}
		n++;
	}
	if (n != 1) {
		mps_pu_seterr(err, errsize, "DllParameters: %s \"%s\" must hold "
		    "exactly one %%s (the user name), not %d", opt, t, n);
		return -1;
	}
	return 0;
}

/* The "%s" of a DN template must stand inside an attribute value. */
static int
check_dn_template(const char *t, char *err, size_t errsize)
{
	char dn[MPS_LDAP_MAX_TEMPLATE + sizeof(MARKER)];
	LDAPDN parsed = NULL;
	int i, j, in_value = 0, in_type = 0;

	if (check_template("-dn-template", t, err, errsize) != 0)
		return -1;
	if (mps_ldap_expand(dn, sizeof(dn), t, MARKER) != 0 ||
	    ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS ||
	    parsed == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -dn-template \"%s\" is "
		    "not a valid DN", t);
		return -1;
	}
	for (i = 0; parsed[i] != NULL; i++) {
		for (j = 0; parsed[i][j] != NULL; j++) {
			LDAPAVA *ava = parsed[i][j];

			if (bv_contains(&ava->la_attr, MARKER))
				in_type = 1;
			if (bv_contains(&ava->la_value, MARKER))
				in_value = 1;
		}
	}
	ldap_dnfree(parsed);
	if (in_type || !in_value) {
		mps_pu_seterr(err, errsize, "DllParameters: -dn-template \"%s\": %%s "
		    "must be in an attribute value, as in uid=%%s,dc=...", t);
		return -1;
	}
	return 0;
}

/* A filter template: one "%s", in parentheses that balance. The server
 * judges the rest; an error there is reported on every call. */
static int
check_filter(const char *f, char *err, size_t errsize)
{
	const char *p;
	int depth = 0;

	if (check_template("-filter", f, err, errsize) != 0)
		return -1;
	if (f[0] != '(')
		goto bad;
	for (p = f; *p != '\0'; p++) {
		/* Nothing may follow the parenthesis that closes the first. */
		if (p != f && depth == 0)
			goto bad;
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
	}
	if (depth != 0)
		goto bad;
	return 0;
bad:
	mps_pu_seterr(err, errsize, "DllParameters: -filter \"%s\" is not one "
	    "parenthesised LDAP filter", f);
	return -1;
}

/* Opens path as a regular file for reading. Returns the fd, or -1. */
static int
open_regular(const char *opt, const char *path, char *err, size_t errsize)
{
	char ebuf[128];
	struct stat st;
	int fd;

	if (path[0] == '\0') {
		mps_pu_seterr(err, errsize, "DllParameters: %s is empty", opt);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		mps_pu_seterr(err, errsize, "DllParameters: %s %s: %s", opt, path,
		    mps_pu_strerror(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		mps_pu_seterr(err, errsize, "DllParameters: %s %s: not a regular file",
		    opt, path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * The CA file must be there, readable and hold a PEM certificate now:
 * libldap reads it only when a connection's TLS context is made, and
 * with GnuTLS a file without a certificate is not an error there, just
 * a failed verification at every login.
 */
static int
check_cafile(const char *path, char *err, size_t errsize)
{
	char ebuf[128];
	struct stat st;
	char *buf;
	size_t len = 0;
	ssize_t n = 0;
	int fd, found;

	if ((fd = open_regular("-cafile", path, err, errsize)) < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size > MAX_CAFILE) {
		mps_pu_seterr(err, errsize, "DllParameters: -cafile %s is larger than "
		    "%d bytes", path, MAX_CAFILE);
		(void)close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		(void)close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (n < 0)
		mps_pu_seterr(err, errsize, "DllParameters: -cafile %s: %s", path,
		    mps_pu_strerror(errno, ebuf, sizeof(ebuf)));
	(void)close(fd);
	buf[len] = '\0';
	found = strstr(buf, "-----BEGIN CERTIFICATE-----") != NULL;
	free(buf);
	if (n < 0)
		return -1;
	if (!found) {
		mps_pu_seterr(err, errsize, "DllParameters: -cafile %s holds no PEM "
		    "certificate", path);
		return -1;
	}
	return 0;
}

/*
 * Reads the first line of the -bind-pass-file (without its CR LF or LF)
 * into cfg->passfile.
 */
static int
read_passfile(struct mps_ldap_config *cfg, const char *path, char *err,
    size_t errsize)
{
	char ebuf[128];
	char *buf;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open_regular("-bind-pass-file", path, err, errsize)) < 0)
		return -1;
	if ((buf = malloc(MAX_PASSFILE + 1)) == NULL) {
		mps_pu_seterr(err, errsize, "out of memory");
		(void)close(fd);
		return -1;
	}
	cfg->passfile = buf;
	cfg->passfilesize = MAX_PASSFILE + 1;
	while (len < MAX_PASSFILE) {
		n = read(fd, buf + len, MAX_PASSFILE - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mps_pu_seterr(err, errsize, "DllParameters: -bind-pass-file "
			    "%s: %s", path, mps_pu_strerror(errno, ebuf, sizeof(ebuf)));
			(void)close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	len = strcspn(buf, "\r\n");
	buf[len] = '\0';
	if (len == 0 || len == MAX_PASSFILE) {
		mps_pu_seterr(err, errsize, "DllParameters: -bind-pass-file %s: %s",
		    path, len == 0 ? "the first line is empty" :
		    "the first line is too long");
		return -1;
	}
	cfg->bind_pass = buf;
	cfg->bind_pass_len = len;
	return 0;
}

/* Values that are checked once all options are known. */
struct later {
	const char *network_timeout, *timeout, *passfile;
};

/* Where the value of a valued option goes. */
static const char **
value_slot(struct mps_ldap_config *cfg, struct later *lt, const char *name)
{
	static const char *const names[] = { "-uri", "-cafile",
	    "-dn-template", "-base", "-filter", "-bind-dn", "-bind-pass",
	    "-network-timeout", "-timeout", "-bind-pass-file" };
	const char **slots[sizeof(names) / sizeof(names[0])];
	size_t i;

	slots[0] = &cfg->uri;
	slots[1] = &cfg->cafile;
	slots[2] = &cfg->dn_template;
	slots[3] = &cfg->base;
	slots[4] = &cfg->filter;
	slots[5] = &cfg->bind_dn;
	slots[6] = &cfg->bind_pass;
	slots[7] = &lt->network_timeout;
	slots[8] = &lt->timeout;
	slots[9] = &lt->passfile;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return slots[i];
	return NULL;
}

/* Takes the option at tok[*i] (and its value, advancing *i). */
static int
take_option(struct mps_ldap_config *cfg, struct later *lt, char **tok,
    int ntok, int *i, char *err, size_t errsize)
{
	const char *name = tok[*i];
	const char **slot;

	if (strcmp(name, "-starttls") == 0) {
		if (cfg->starttls)
			goto twice;
		cfg->starttls = 1;
		return 0;
	}
	if ((slot = value_slot(cfg, lt, name)) == NULL) {
		/* A stray word right after -bind-pass's value may be the
		 * rest of an unquoted password: that one is never echoed. */
		if (name[0] == '-' && (*i < 2 ||
		    strcmp(tok[*i - 2], "-bind-pass") != 0))
			mps_pu_seterr(err, errsize, "DllParameters: unknown option "
			    "%.64s", name);
		else
			mps_pu_seterr(err, errsize, "DllParameters: word %d is not an "
			    "option (a value with blanks needs quotes)",
			    *i + 1);
		return -1;
	}
	if (*i + 1 >= ntok) {
		mps_pu_seterr(err, errsize, "DllParameters: %s needs a value", name);
		return -1;
	}
	if (*slot != NULL)
		goto twice;
	*slot = tok[++*i];
	return 0;
twice:
	mps_pu_seterr(err, errsize, "DllParameters: %s given twice", name);
	return -1;
}

/* The relations between options. */
static int
check_combination(const struct mps_ldap_config *cfg, const struct later *lt,
    char *err, size_t errsize)
{
	if (cfg->uri == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -uri is required");
		return -1;
	}
	if ((cfg->dn_template != NULL) == (cfg->base != NULL ||
	    cfg->filter != NULL)) {
		mps_pu_seterr(err, errsize, "DllParameters: give either -dn-template "
		    "or -base with -filter");
		return -1;
	}
	if (cfg->dn_template == NULL && (cfg->base == NULL ||
	    cfg->filter == NULL)) {
		mps_pu_seterr(err, errsize, "DllParameters: -base and -filter go "
		    "together");
		return -1;
	}
	if (cfg->dn_template != NULL && (cfg->bind_dn != NULL ||
	    cfg->bind_pass != NULL || lt->passfile != NULL)) {
		mps_pu_seterr(err, errsize, "DllParameters: -bind-dn, -bind-pass and "
		    "-bind-pass-file go with -base/-filter only");
		return -1;
	}
	if (cfg->bind_pass != NULL && lt->passfile != NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: give -bind-pass or "
		    "-bind-pass-file, not both");
		return -1;
	}
	if (cfg->bind_dn != NULL && cfg->bind_pass == NULL &&
	    lt->passfile == NULL) {
		mps_pu_seterr(err, errsize, "DllParameters: -bind-dn needs -bind-pass "
		    "or -bind-pass-file");
		return -1;
	}
	if (cfg->bind_dn == NULL && (cfg->bind_pass != NULL ||
	    lt->passfile != NULL)) {
		mps_pu_seterr(err, errsize, "DllParameters: a service password needs "
		    "-bind-dn");
		return -1;
	}
	/* An empty password would make the service bind anonymous. */
	if (cfg->bind_pass != NULL && cfg->bind_pass[0] == '\0') {
		mps_pu_seterr(err, errsize, "DllParameters: -bind-pass is empty");
		return -1;
	}
	return 0;
}

/* Checks every value; reads the files. */
static int
check_values(struct mps_ldap_config *cfg, const struct later *lt,
    char *err, size_t errsize)
{
	cfg->network_timeout = MPS_LDAP_DEFAULT_NETWORK_TIMEOUT;
	cfg->timeout = MPS_LDAP_DEFAULT_TIMEOUT;
	if (lt->network_timeout != NULL && parse_seconds("-network-timeout",
	    lt->network_timeout, &cfg->network_timeout, err, errsize) != 0)
		return -1;
	if (lt->timeout != NULL && parse_seconds("-timeout", lt->timeout,
	    &cfg->timeout, err, errsize) != 0)
		return -1;
	if (check_uris(cfg, err, errsize) != 0)
		return -1;
	if (cfg->cafile != NULL) {
		if (!cfg->tls) {
			mps_pu_seterr(err, errsize, "DllParameters: -cafile needs "
			    "ldaps:// or -starttls");
			return -1;
		}
		if (check_cafile(cfg->cafile, err, errsize) != 0)
			return -1;
	}
	if (cfg->dn_template != NULL)
		return check_dn_template(cfg->dn_template, err, errsize);
	if (check_dn("-base", cfg->base, err, errsize) != 0 ||
	    check_filter(cfg->filter, err, errsize) != 0)
		return -1;
	if (cfg->bind_dn != NULL && check_dn("-bind-dn", cfg->bind_dn, err,
	    errsize) != 0)
		return -1;
	if (cfg->bind_pass != NULL)
		cfg->bind_pass_len = strlen(cfg->bind_pass);
	else if (lt->passfile != NULL &&
	    read_passfile(cfg, lt->passfile, err, errsize) != 0)
		return -1;
	return 0;
}

int
mps_ldap_config_parse(struct mps_ldap_config **out, const char *params,
    char *err, size_t errsize)
{
	struct mps_ldap_config *cfg;
	struct later lt = { NULL, NULL, NULL };
	char *tok[MAX_TOKENS];
	size_t len = strlen(params);
	int ntok, i;

	*out = NULL;
	if (len > MPS_LDAP_MAX_PARAMS) {
		mps_pu_seterr(err, errsize, "DllParameters is longer than %d bytes",
		    MPS_LDAP_MAX_PARAMS);
		return -1;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->buf = malloc(len + 1)) == NULL) {
		free(cfg);
		mps_pu_seterr(err, errsize, "out of memory");
		return -1;
	}
	cfg->bufsize = len + 1;
	memcpy(cfg->buf, params, len + 1);
	if ((ntok = tokenise(cfg->buf, tok, MAX_TOKENS, err, errsize)) < 0)
		goto fail;
	for (i = 0; i < ntok; i++)
		if (take_option(cfg, &lt, tok, ntok, &i, err, errsize) != 0)
			goto fail;
	if (check_combination(cfg, &lt, err, errsize) != 0 ||
	    check_values(cfg, &lt, err, errsize) != 0)
		goto fail;
	*out = cfg;
	return 0;
fail:
	mps_ldap_config_free(cfg);
	return -1;
}

void
mps_ldap_config_free(struct mps_ldap_config *cfg)
{
	if (cfg == NULL)
		return;
	/* Both may hold the service account's password. */
	if (cfg->buf != NULL)
		explicit_bzero(cfg->buf, cfg->bufsize);
	if (cfg->passfile != NULL)
		explicit_bzero(cfg->passfile, cfg->passfilesize);
	free(cfg->buf);
	free(cfg->passfile);
	free(cfg);
}
