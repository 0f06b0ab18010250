/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ldap_auth.c: the LDAPAuthentication plugin.
 *
 * "escape" and "params" test the escaping and the DllParameters parser
 * directly (their sources are compiled into this program). "slapd" loads
 * the built module through the plugin loader, as mpsd does, and runs it
 * against a real OpenLDAP slapd that tests/peers/slapd.sh starts once for
 * the test case (ldap:// with StartTLS, and ldaps://), and against peers
 * made here: a port where nothing listens, a listener that never answers,
 * and one that accepts StartTLS and then falls silent.
 */
#include "unit.h"
#include "plugin_loader.h"

#include "ldap_auth.h"

#include <apr_pools.h>
#include <apr_strings.h>
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* For format strings (every use here is one): "uid=%s,...". */
#define DN_TEMPLATE	"uid=%%s,ou=people,dc=example,dc=com"
#define BASE		"dc=example,dc=com"
#define SVC_DN		"cn=svc,dc=example,dc=com"
#define SPECIAL_DN_USER	"dn,user+x=y\\z\"<q>;end"

static char err[MPS_PLUGIN_ERROR_SIZE];

/* The suite's slapd and modules, set up once (unchecked fixture). */
static apr_pool_t *spool;
static char sdir[64];
static int ldap_port, ldaps_port;
static const char *ca_pem, *wrong_ca_pem;
static mps_auth_plugin_t *tmpl;		/* DN template, plain ldap:// */
static mps_auth_plugin_t *search;	/* search-then-bind, service account */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
auth(const mps_auth_plugin_t *a, const char *user, const char *pass)
{
	return mps_auth_plugin_authenticate(a, user, pass, err, sizeof(err));
}

static void
assert_accepted(const mps_auth_plugin_t *a, const char *user,
    const char *pass)
{
	ck_assert_msg(auth(a, user, pass) == 1, "%s/%s refused: \"%s\" "
	    "(params %s)", user, pass, err, a->params);
	ck_assert_str_eq(err, "");
}

/* Refused as wrong credentials: no error to log. */
static void
assert_denied(const mps_auth_plugin_t *a, const char *user,
    const char *pass)
{
	ck_assert_msg(auth(a, user, pass) == 0, "%s/%s accepted (params %s)",
	    user, pass, a->params);
	ck_assert_msg(err[0] == '\0', "%s/%s: unexpected error \"%s\"", user,
	    pass, err);
}

/* Refused with a reason that says want and never holds the password. */
static void
assert_error(const mps_auth_plugin_t *a, const char *user, const char *pass,
    const char *want)
{
	ck_assert_msg(auth(a, user, pass) == 0, "%s/%s accepted (params %s)",
	    user, pass, a->params);
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in \"%s\"", want,
	    err);
	ck_assert_msg(strstr(err, pass) == NULL, "password in \"%s\"", err);
}

/* The template module with other DllParameters: mps_plugin_init has not
 * seen them, so the plugin parses them on every call. */
static mps_auth_plugin_t *
with_params(const char *fmt, ...)
{
	mps_auth_plugin_t *a = apr_pmemdup(spool, tmpl, sizeof(*tmpl));
	va_list ap;

	va_start(ap, fmt);
	a->params = apr_pvsprintf(spool, fmt, ap);
	va_end(ap);
	return a;
}

static const char *
module(void)
{
	return apr_pstrcat(spool, unit_builddir(), "/plugins/"
	    "LDAPAuthentication.la", NULL);
}

/* A loopback listener that never accepts: connections complete in the
 * kernel and then hear nothing. */
static int
listener(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port nothing listens on (bound, then released). */
static int
dead_port(void)
{
	int port, fd = listener(&port);

	close(fd);
	return port;
}

/* Whether a connection waits in a listener's queue. */
static int
has_connection(int lfd)
{
	struct pollfd p = { lfd, POLLIN, 0 };

	return poll(&p, 1, 0) == 1;
}

/* Runs a shell command; asserts it succeeded. */
static void
run(const char *cmd)
{
	int rc = system(cmd);

	ck_assert_msg(rc == 0, "\"%s\" failed (%d)", cmd, rc);
}

/* ------------------------------------------------------------------ */
/* Escaping and user names                                            */
/* ------------------------------------------------------------------ */

static const char *
filter_of(const char *in)
{
	static char out[3 * MPS_LDAP_MAX_USER + 1];

	ck_assert(mps_ldap_escape_filter(out, sizeof(out), in) != (size_t)-1);
	return out;
}

static const char *
dn_of(const char *in)
{
	static char out[3 * MPS_LDAP_MAX_USER + 1];

	ck_assert(mps_ldap_escape_dn(out, sizeof(out), in) != (size_t)-1);
	return out;
}

START_TEST(test_escape_filter)
{
	char small[8];

	ck_assert_str_eq(filter_of("amtuser"), "amtuser");
	ck_assert_str_eq(filter_of("*"), "\\2a");
	ck_assert_str_eq(filter_of("a*b(c)"), "a\\2ab\\28c\\29");
	ck_assert_str_eq(filter_of("amtuser)(uid=*"),
	    "amtuser\\29\\28uid=\\2a");
	ck_assert_str_eq(filter_of("*)(|(uid=*"), "\\2a\\29\\28|\\28uid=\\2a");
	ck_assert_str_eq(filter_of("back\\slash"), "back\\5cslash");
	ck_assert_str_eq(filter_of("x\x01y\x7f"), "x\\01y\\7f");
	/* DN specials mean nothing in a filter value. */
	ck_assert_str_eq(filter_of("a,b+c=d"), "a,b+c=d");
	ck_assert_str_eq(filter_of("Jos\xc3\xa9"), "Jos\xc3\xa9");
	/* Room for exactly "a\2a" (4 bytes + NUL), not one byte less. */
	ck_assert_uint_eq(mps_ldap_escape_filter(small, 5, "a*"), 4);
	ck_assert_str_eq(small, "a\\2a");
	ck_assert(mps_ldap_escape_filter(small, 4, "a*") == (size_t)-1);
	ck_assert(mps_ldap_escape_filter(small, 0, "") == (size_t)-1);
}
END_TEST

START_TEST(test_escape_dn)
{
	char small[8];

	ck_assert_str_eq(dn_of("amtuser"), "amtuser");
	ck_assert_str_eq(dn_of(SPECIAL_DN_USER),
	    "dn\\,user\\+x\\=y\\\\z\\\"\\<q\\>\\;end");
	ck_assert_str_eq(dn_of("x,dc=evil"), "x\\,dc\\=evil");
	ck_assert_str_eq(dn_of("amtuser,ou=people,dc=example,dc=com"),
	    "amtuser\\,ou\\=people\\,dc\\=example\\,dc\\=com");
	/* '#' and ' ' only at the start; ' ' also at the end. */
	ck_assert_str_eq(dn_of("#hash"), "\\#hash");
	ck_assert_str_eq(dn_of("a#b"), "a#b");
	ck_assert_str_eq(dn_of(" lead"), "\\ lead");
	ck_assert_str_eq(dn_of("trail "), "trail\\ ");
	ck_assert_str_eq(dn_of("in side"), "in side");
	ck_assert_str_eq(dn_of(" "), "\\ ");
	ck_assert_str_eq(dn_of("  "), "\\ \\ ");
	ck_assert_str_eq(dn_of("a\x01"), "a\\01");
	/* Filter specials mean nothing in a DN value. */
	ck_assert_str_eq(dn_of("a*b(c)"), "a*b(c)");
	ck_assert_uint_eq(mps_ldap_escape_dn(small, 4, "a,"), 3);
	ck_assert_str_eq(small, "a\\,");
	ck_assert(mps_ldap_escape_dn(small, 3, "a,") == (size_t)-1);
}
END_TEST

START_TEST(test_user_names)
{
	char name[MPS_LDAP_MAX_USER + 2];

	ck_assert_int_eq(mps_ldap_user_ok("amtuser"), 1);
	ck_assert_int_eq(mps_ldap_user_ok("a*b(c)"), 1);
	ck_assert_int_eq(mps_ldap_user_ok("Jos\xc3\xa9"), 1);
	ck_assert_int_eq(mps_ldap_user_ok("\xe7\x94\xa8\xe6\x88\xb7"), 1);
	ck_assert_int_eq(mps_ldap_user_ok("\xf0\x9f\x94\x91"), 1);
	ck_assert_int_eq(mps_ldap_user_ok(""), 0);
	/* Controls: C0, DEL, C1 (U+0085). */
	ck_assert_int_eq(mps_ldap_user_ok("amt\nuser"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("amtuser\r"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("\x01"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("a\tb"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("a\x7f"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("a\xc2\x85"), 0);
	/* Not UTF-8: stray byte, overlong '/', surrogate, truncated,
	 * beyond U+10FFFF. */
	ck_assert_int_eq(mps_ldap_user_ok("a\xff"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("\xc0\xaf"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("\xed\xa0\x80"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("\xe2\x82"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("\xf4\x90\x80\x80"), 0);
	ck_assert_int_eq(mps_ldap_user_ok("\x80"), 0);
	/* Length: up to MPS_LDAP_MAX_USER bytes. */
	memset(name, 'u', sizeof(name));
	name[MPS_LDAP_MAX_USER] = '\0';
	ck_assert_int_eq(mps_ldap_user_ok(name), 1);
	name[MPS_LDAP_MAX_USER] = 'u';
	name[MPS_LDAP_MAX_USER + 1] = '\0';
	ck_assert_int_eq(mps_ldap_user_ok(name), 0);
}
END_TEST

START_TEST(test_expand)
{
	char out[32];

	ck_assert_int_eq(mps_ldap_expand(out, sizeof(out), "(uid=%s)", "x"),
	    0);
	ck_assert_str_eq(out, "(uid=x)");
	ck_assert_int_eq(mps_ldap_expand(out, sizeof(out), "%s", "x"), 0);
	ck_assert_str_eq(out, "x");
	/* "(uid=" + 3 + ")" = 9 bytes: needs 10. */
	ck_assert_int_eq(mps_ldap_expand(out, 10, "(uid=%s)", "abc"), 0);
	ck_assert_str_eq(out, "(uid=abc)");
	ck_assert_int_eq(mps_ldap_expand(out, 9, "(uid=%s)", "abc"), -1);
	ck_assert_int_eq(mps_ldap_expand(out, sizeof(out), "none", "x"), -1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* DllParameters                                                      */
/* ------------------------------------------------------------------ */

static void
pool_setup(void)
{
	ck_assert_int_eq(apr_pool_create(&spool, NULL), APR_SUCCESS);
}

static void
pool_teardown(void)
{
	apr_pool_destroy(spool);
	spool = NULL;
}

static struct mps_ldap_config *
parse_ok(const char *params)
{
	struct mps_ldap_config *cfg = NULL;

	ck_assert_msg(mps_ldap_config_parse(&cfg, params, err, sizeof(err)) ==
	    0, "\"%s\": %s", params, err);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

START_TEST(test_params_template)
{
	struct mps_ldap_config *cfg;

	cfg = parse_ok("-uri ldap://127.0.0.1:389 -dn-template "
	    "\"uid=%s,ou=people,dc=example,dc=com\"");
	ck_assert_str_eq(cfg->uri, "ldap://127.0.0.1:389");
	ck_assert_str_eq(cfg->dn_template,
	    "uid=%s,ou=people,dc=example,dc=com");
	ck_assert_ptr_null(cfg->base);
	ck_assert_int_eq(cfg->starttls, 0);
	ck_assert_int_eq(cfg->tls, 0);
	ck_assert_int_eq(cfg->network_timeout, 5);
	ck_assert_int_eq(cfg->timeout, 10);
	mps_ldap_config_free(cfg);

	/* Blanks anywhere, quotes of both kinds, timeouts, a URI list. */
	cfg = parse_ok("  -uri 'ldaps://a.example:636  ldaps://b.example'\t"
	    "-dn-template cn=%s,dc=x -network-timeout 2 -timeout 30\n");
	ck_assert_str_eq(cfg->uri, "ldaps://a.example:636  ldaps://b.example");
	ck_assert_int_eq(cfg->tls, 1);
	ck_assert_int_eq(cfg->network_timeout, 2);
	ck_assert_int_eq(cfg->timeout, 30);
	mps_ldap_config_free(cfg);

	/* Quoted and unquoted parts of one word join; '"' inside '...';
	 * backslashes are the DN's own. */
	cfg = parse_ok("-uri ldap://h -starttls -dn-template "
	    "cn=\"%s  x\",o='say \\\"hi\\\"'");
	ck_assert_str_eq(cfg->dn_template, "cn=%s  x,o=say \\\"hi\\\"");
	ck_assert_int_eq(cfg->starttls, 1);
	ck_assert_int_eq(cfg->tls, 1);
	mps_ldap_config_free(cfg);
}
END_TEST

START_TEST(test_params_search)
{
	struct mps_ldap_config *cfg;
	char path[96];
	FILE *f;

	cfg = parse_ok("-uri ldap://h -base dc=example,dc=com -filter "
	    "\"(&(objectClass=person)(uid=%s))\" -bind-dn cn=svc,dc=example,"
	    "dc=com -bind-pass 's3cr3t pass'");
	ck_assert_ptr_null(cfg->dn_template);
	ck_assert_str_eq(cfg->base, "dc=example,dc=com");
	ck_assert_str_eq(cfg->filter, "(&(objectClass=person)(uid=%s))");
	ck_assert_str_eq(cfg->bind_dn, "cn=svc,dc=example,dc=com");
	ck_assert_str_eq(cfg->bind_pass, "s3cr3t pass");
	ck_assert_uint_eq(cfg->bind_pass_len, 11);
	mps_ldap_config_free(cfg);

	/* Anonymous search: no service account. */
	cfg = parse_ok("-uri ldap://h -base o=x -filter (cn=%s)");
	ck_assert_ptr_null(cfg->bind_dn);
	ck_assert_ptr_null(cfg->bind_pass);
	mps_ldap_config_free(cfg);

	/* The password file's first line, without CR LF. */
	strcpy(path, "/tmp/mps-test-ldappass-XXXXXX");
	ck_assert_int_ge(mkstemp(path), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("file pass\r\nsecond line\n", f);
	ck_assert_int_eq(fclose(f), 0);
	cfg = parse_ok(apr_psprintf(spool, "-uri ldap://h -base o=x -filter "
	    "(cn=%%s) -bind-dn cn=svc,o=x -bind-pass-file %s", path));
	ck_assert_str_eq(cfg->bind_pass, "file pass");
	ck_assert_uint_eq(cfg->bind_pass_len, 9);
	mps_ldap_config_free(cfg);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* Each bad DllParameters text and a piece of the reason it must give. */
static const struct {
	const char *params, *want;
} bad_params[] = {
	{ "", "-uri is required" },
	{ "-dn-template uid=%s,dc=x", "-uri is required" },
	{ "-uri", "-uri needs a value" },
	{ "-uri ldap://h", "either -dn-template or -base" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -base dc=x -filter (u=%s)",
	    "either -dn-template or -base" },
	{ "-uri ldap://h -base dc=x", "-base and -filter go together" },
	{ "-uri ldap://h -filter (uid=%s)", "-base and -filter go together" },
	{ "-uri ftp://h -dn-template uid=%s,dc=x", "not an ldap:// or" },
	{ "-uri ldapi:///x -dn-template uid=%s,dc=x",
	    "not an ldap:// or ldaps://" },
	{ "-uri ldap:/h -dn-template uid=%s,dc=x", "not an ldap:// or" },
	{ "-uri ldap://h/dc=x -dn-template uid=%s,dc=x",
	    "just ldap[s]://host" },
	{ "-uri '' -dn-template uid=%s,dc=x", "-uri is empty" },
	{ "-uri 'ldap://a ldaps://b' -dn-template uid=%s,dc=x",
	    "mixes ldap:// and ldaps://" },
	{ "-uri ldaps://h -starttls -dn-template uid=%s,dc=x",
	    "-starttls applies to ldap:// only" },
	{ "-uri ldap://h -cafile /etc/hostname -dn-template uid=%s,dc=x",
	    "-cafile needs ldaps:// or -starttls" },
	{ "-uri ldaps://h -cafile /nonexistent/ca.pem -dn-template uid=%s,dc=x",
	    "-cafile /nonexistent/ca.pem: No such file or directory" },
	{ "-uri ldaps://h -cafile /tmp -dn-template uid=%s,dc=x",
	    "not a regular file" },
	{ "-uri ldaps://h -cafile /etc/hostname -dn-template uid=%s,dc=x",
	    "holds no PEM certificate" },
	{ "-uri ldap://h -dn-template uid=x,dc=x", "exactly one %s" },
	{ "-uri ldap://h -dn-template uid=%s%s,dc=x", "exactly one %s" },
	{ "-uri ldap://h -dn-template uid=%d,dc=x", "may only appear as" },
	{ "-uri ldap://h -dn-template uid=%s,,dc=x", "is not a valid DN" },
	{ "-uri ldap://h -dn-template %s=x,dc=x", "in an attribute value" },
	{ "-uri ldap://h -base dc=x -filter uid=%s", "not one parenthesised" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s)(cn=x)",
	    "not one parenthesised" },
	{ "-uri ldap://h -base dc=x -filter ((uid=%s)",
	    "not one parenthesised" },
	{ "-uri ldap://h -base dc=x -filter (uid=x)", "exactly one %s" },
	{ "-uri ldap://h -base dc=x,,x -filter (uid=%s)",
	    "-base \"dc=x,,x\" is not a valid DN" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s) -bind-dn cn=svc",
	    "-bind-dn needs -bind-pass" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s) -bind-pass pw",
	    "needs -bind-dn" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s) -bind-dn cn=svc "
	    "-bind-pass pw -bind-pass-file /etc/hostname", "not both" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s) -bind-dn cn=svc "
	    "-bind-pass ''", "-bind-pass is empty" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s) -bind-dn cn=svc "
	    "-bind-pass-file /nonexistent", "-bind-pass-file /nonexistent:" },
	{ "-uri ldap://h -base dc=x -filter (uid=%s) -bind-dn cn=svc "
	    "-bind-pass-file /dev/null", "not a regular file" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -bind-dn cn=svc -bind-pass p",
	    "go with -base/-filter only" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -timeout 0",
	    "-timeout wants whole seconds" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -timeout 3601",
	    "-timeout wants whole seconds" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -network-timeout 1.5",
	    "-network-timeout wants whole seconds" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -network-timeout -1",
	    "-network-timeout wants whole seconds" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -timeout", "needs a value" },
	{ "-uri ldap://h -uri ldap://i -dn-template uid=%s,dc=x", "-uri given "
	    "twice" },
	{ "-uri ldap://h -starttls -starttls -dn-template uid=%s,dc=x",
	    "-starttls given twice" },
	{ "-uri ldap://h -dn-template uid=%s,dc=x -urii x",
	    "unknown option -urii" },
	{ "-uri ldap://h -dn-template \"uid=%s,dc=x", "unterminated \" quote" },
	{ "-uri ldap://h -dn-template 'uid=%s,dc=x", "unterminated ' quote" },
};

START_TEST(test_params_errors)
{
	struct mps_ldap_config *cfg = (void *)&cfg;
	const char *p = bad_params[_i].params, *want = bad_params[_i].want;

	err[0] = '\0';
	ck_assert_msg(mps_ldap_config_parse(&cfg, p, err, sizeof(err)) == -1,
	    "\"%s\" accepted", p);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\": want \"%s\" in "
	    "\"%s\"", p, want, err);
}
END_TEST

START_TEST(test_params_hide_passwords)
{
	struct mps_ldap_config *cfg;
	char long_params[MPS_LDAP_MAX_PARAMS + 2];

	/* A password that spilled out of unquoted -bind-pass is a stray
	 * word: reported by position, never echoed. */
	ck_assert_int_eq(mps_ldap_config_parse(&cfg, "-uri ldap://h -base o=x "
	    "-filter (cn=%s) -bind-dn cn=s -bind-pass two words", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "word 11 is not an option"));
	ck_assert_ptr_null(strstr(err, "words"));
	ck_assert_int_eq(mps_ldap_config_parse(&cfg, "-uri ldap://h -base o=x "
	    "-filter (cn=%s) -bind-dn cn=s -bind-pass two -dashed", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "word 11 is not an option"));
	ck_assert_ptr_null(strstr(err, "dashed"));
	ck_assert_int_eq(mps_ldap_config_parse(&cfg, "-uri ldap://h -base o=x "
	    "-filter (cn=%s) -bind-dn cn=s -bind-pass S3cret -bind-pass-file "
	    "/etc/hostname", err, sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "S3cret"));
	/* Oversized input is refused before it is copied. */
	memset(long_params, 'x', sizeof(long_params) - 1);
	long_params[sizeof(long_params) - 1] = '\0';
	ck_assert_int_eq(mps_ldap_config_parse(&cfg, long_params, err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than"));
	/* A tiny error buffer still ends in NUL. */
	err[4] = 'X';
	ck_assert_int_eq(mps_ldap_config_parse(&cfg, "", err, 4), -1);
	ck_assert_uint_eq(strlen(err), 3);
	ck_assert_int_eq(err[4], 'X');
}
END_TEST

/* ------------------------------------------------------------------ */
/* Against slapd                                                      */
/* ------------------------------------------------------------------ */

static const char *
peers_script(void)
{
	return apr_pstrcat(spool, unit_srcdir(), "/tests/peers/slapd.sh", NULL);
}

static const char *
tmpl_params(void)
{
	return apr_psprintf(spool, "-uri ldap://127.0.0.1:%d -dn-template "
	    "\"" DN_TEMPLATE "\" -network-timeout 2 -timeout 5", ldap_port);
}

static const char *
search_params(void)
{
	return apr_psprintf(spool, "-uri ldap://127.0.0.1:%d -base " BASE
	    " -filter \"(uid=%%s)\" -bind-dn " SVC_DN " -bind-pass svcpass "
	    "-network-timeout 2 -timeout 5", ldap_port);
}

static void
slapd_setup(void)
{
	const char *cmd;
	char line[256];
	FILE *p;
	int pid = 0;

	/* mpsd ignores SIGPIPE; so must a program that stands in for it. */
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(apr_pool_create(&spool, NULL), APR_SUCCESS);
	strcpy(sdir, "/tmp/mps-test-ldap-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sdir));
	cmd = apr_psprintf(spool, "/bin/sh '%s' start '%s/slapd'",
	    peers_script(), sdir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	if (fgets(line, sizeof(line), p) == NULL)
		line[0] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(sscanf(line, "pid=%d ldap_port=%d ldaps_port=%d", &pid,
	    &ldap_port, &ldaps_port) == 3, "slapd.sh said \"%s\"", line);
	ca_pem = apr_psprintf(spool, "%s/slapd/certs/ca.pem", sdir);
	/* A CA that did not sign the server's certificate. */
	wrong_ca_pem = apr_psprintf(spool, "%s/wrong-ca.pem", sdir);
	run(apr_psprintf(spool, "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout '%s/wrong-ca-key.pem' "
	    "-out '%s' -subj '/CN=not the test CA' -days 2 2>/dev/null",
	    sdir, wrong_ca_pem));
	/* The same module twice, with different parameters, as mpsd loads
	 * it for the AMT and the Socks role. */
	ck_assert_msg(mps_auth_plugin_load(&tmpl, module(), NULL,
	    tmpl_params(), err, sizeof(err), spool) == APR_SUCCESS, "%s", err);
	ck_assert_msg(mps_auth_plugin_load(&search, module(), NULL,
	    search_params(), err, sizeof(err), spool) == APR_SUCCESS, "%s",
	    err);
}

static void
slapd_teardown(void)
{
	const char *cmd = apr_psprintf(spool, "/bin/sh '%s' stop '%s/slapd'",
	    peers_script(), sdir);

	ck_assert_int_eq(system(cmd), 0);
	apr_pool_destroy(spool);
	(void)nftw(sdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

START_TEST(test_template_right_password)
{
	assert_accepted(tmpl, "amtuser", "userpass");
	/* Parsed per call (parameters init did not see) works the same. */
	assert_accepted(with_params("%s", tmpl_params()), "amtuser",
	    "userpass");
	assert_accepted(with_params("-uri ldap://127.0.0.1:%d -dn-template "
	    "uid=%%s,ou=staff,dc=example,dc=com", ldap_port), "dup",
	    "duppass");
}
END_TEST

START_TEST(test_template_wrong_password)
{
	assert_denied(tmpl, "amtuser", "wrong");
	assert_denied(tmpl, "amtuser", "userpas");
	assert_denied(tmpl, "amtuser", "userpass ");
	assert_denied(tmpl, "amtuser", "USERPASS");
	/* Another user's password is no good either. */
	assert_denied(tmpl, "amtuser", "starpass");
}
END_TEST

START_TEST(test_template_unknown_user)
{
	assert_denied(tmpl, "nobody", "userpass");
	assert_denied(tmpl, "amtuse", "userpass");
	/* The service account is not under ou=people. */
	assert_denied(tmpl, "svc", "svcpass");
}
END_TEST

START_TEST(test_empty_password_no_traffic)
{
	int port, lfd = listener(&port);
	mps_auth_plugin_t *silent = with_params("-uri ldap://127.0.0.1:%d "
	    "-dn-template " DN_TEMPLATE " -timeout 1", port);
	mps_auth_plugin_t *silent_search = with_params("-uri ldap://127.0.0.1:"
	    "%d -base " BASE " -filter (uid=%%s) -timeout 1", port);

	/* Refused at once, no error: the plugin did not even connect. */
	assert_denied(silent, "amtuser", "");
	assert_denied(silent_search, "amtuser", "");
	ck_assert_msg(!has_connection(lfd), "the plugin connected");
	/* And against the real server, in both modes. */
	assert_denied(tmpl, "amtuser", "");
	assert_denied(search, "amtuser", "");
	assert_denied(tmpl, "", "");
	/* The listener does see a real attempt: the check above means
	 * something. */
	ck_assert_int_eq(auth(silent, "amtuser", "userpass"), 0);
	ck_assert_ptr_nonnull(strstr(err, "did not answer"));
	ck_assert(has_connection(lfd));
	close(lfd);
}
END_TEST

START_TEST(test_bad_user_names_no_traffic)
{
	int port, lfd = listener(&port);
	mps_auth_plugin_t *silent = with_params("-uri ldap://127.0.0.1:%d "
	    "-dn-template " DN_TEMPLATE " -timeout 1", port);
	static const char *const names[] = {
		"", "amt\nuser", "amtuser\r", "amtuser\n", "\x01", "a\tb",
		"amt\x7fuser", "amt\xc2\x85user", "amt\xffuser", "\xc0\xaf",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_denied(silent, names[i], "userpass");
	ck_assert_msg(!has_connection(lfd), "the plugin connected");
	close(lfd);
	/* With the real server too (no traffic, so no error either). */
	assert_denied(tmpl, "amtuser\n", "userpass");
	assert_denied(search, "amtuser\r", "userpass");
}
END_TEST

START_TEST(test_template_special_users)
{
	/* Each would fail (or err) if its DN were not escaped. */
	assert_accepted(tmpl, SPECIAL_DN_USER, "dnpass");
	assert_accepted(tmpl, "#hash", "hashpass");
	assert_accepted(tmpl, "a*b(c)", "starpass");
	assert_denied(tmpl, SPECIAL_DN_USER, "userpass");
	assert_denied(tmpl, "#hash", "dnpass");
	assert_denied(tmpl, "a*b(c)", "wrong");
}
END_TEST

START_TEST(test_template_injection)
{
	/* Attempts to change the DN's structure stay one attribute value,
	 * which names no entry: plain refusals. */
	assert_denied(tmpl, "amtuser,ou=people,dc=example,dc=com", "userpass");
	assert_denied(tmpl, "x,dc=evil", "userpass");
	assert_denied(tmpl, "amtuser+cn=AMT User", "userpass");
	assert_denied(tmpl, "amtuser,ou=staff", "userpass");
	assert_denied(tmpl, "svc,dc=example,dc=com", "svcpass");
	assert_denied(tmpl, "#616d7475736572", "userpass");
	assert_denied(tmpl, "*", "userpass");
}
END_TEST

START_TEST(test_search_found)
{
	assert_accepted(search, "amtuser", "userpass");
	assert_denied(search, "amtuser", "wrong");
	/* Filter specials, DN specials, a leading '#': all found as they
	 * are. */
	assert_accepted(search, "a*b(c)", "starpass");
	assert_accepted(search, SPECIAL_DN_USER, "dnpass");
	assert_accepted(search, "#hash", "hashpass");
}
END_TEST

START_TEST(test_search_not_found)
{
	assert_denied(search, "nobody", "userpass");
	/* uid matching is case-insensitive in the schema: still one. */
	assert_accepted(search, "AMTUSER", "userpass");
}
END_TEST

START_TEST(test_search_two_matches)
{
	assert_error(search, "dup", "duppass", "matches more than one entry");
	ck_assert_ptr_nonnull(strstr(err, "(uid=dup)"));
	/* Under a narrower base there is exactly one. */
	assert_accepted(with_params("-uri ldap://127.0.0.1:%d -base "
	    "ou=staff,dc=example,dc=com -filter (uid=%%s) -bind-dn " SVC_DN
	    " -bind-pass svcpass", ldap_port), "dup", "duppass");
}
END_TEST

START_TEST(test_search_injection)
{
	mps_auth_plugin_t *and = with_params("-uri ldap://127.0.0.1:%d -base "
	    BASE " -filter '(&(objectClass=inetOrgPerson)(uid=%%s))' "
	    "-bind-dn " SVC_DN " -bind-pass svcpass", ldap_port);

	/* Unescaped, "amt*" would find amtuser and log in; "*" and "d*"
	 * would match several entries (an error); the others would be
	 * filter syntax errors or match everyone. Escaped, they name no
	 * user: plain refusals without an error. */
	assert_denied(search, "amt*", "userpass");
	assert_denied(search, "*", "userpass");
	assert_denied(search, "d*", "duppass");
	assert_denied(search, "amtuser)(uid=*", "userpass");
	assert_denied(search, "*)(|(uid=*", "userpass");
	assert_denied(search, "amtuser\\29", "userpass");
	assert_denied(search, "amtuser)", "userpass");
	assert_denied(and, "amt*", "userpass");
	assert_denied(and, "*)(|(uid=*", "userpass");
	assert_denied(and, "amtuser)(objectClass=*", "userpass");
	assert_accepted(and, "amtuser", "userpass");
}
END_TEST

START_TEST(test_search_service_account)
{
	char path[128];
	FILE *f;

	/* A wrong service password is a configuration error. */
	assert_error(with_params("-uri ldap://127.0.0.1:%d -base " BASE
	    " -filter (uid=%%s) -bind-dn " SVC_DN " -bind-pass Wr0ngSvc",
	    ldap_port), "amtuser", "userpass", "the service account's bind as "
	    SVC_DN " failed: Invalid credentials (49)");
	ck_assert_ptr_null(strstr(err, "Wr0ngSvc"));
	/* Without one, this directory lets nobody search. */
	assert_error(with_params("-uri ldap://127.0.0.1:%d -base " BASE
	    " -filter (uid=%%s)", ldap_port), "amtuser", "userpass",
	    "Insufficient access (50)");
	/* The password from a file. */
	snprintf(path, sizeof(path), "%s/svc.pass", sdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("svcpass\n", f);
	ck_assert_int_eq(fclose(f), 0);
	assert_accepted(with_params("-uri ldap://127.0.0.1:%d -base " BASE
	    " -filter (uid=%%s) -bind-dn " SVC_DN " -bind-pass-file %s",
	    ldap_port, path), "amtuser", "userpass");
}
END_TEST

START_TEST(test_search_bad_base)
{
	assert_error(with_params("-uri ldap://127.0.0.1:%d -base "
	    "ou=nowhere,dc=example,dc=com -filter (uid=%%s) -bind-dn " SVC_DN
	    " -bind-pass svcpass", ldap_port), "amtuser", "userpass",
	    "No such object (32)");
}
END_TEST

START_TEST(test_server_down)
{
	int port = dead_port();
	double t0 = now();

	assert_error(with_params("-uri ldap://127.0.0.1:%d -dn-template "
	    DN_TEMPLATE " -network-timeout 2", port), "amtuser", "userpass",
	    apr_psprintf(spool, "LDAP server ldap://127.0.0.1:%d unreachable: "
	    "Can't contact LDAP server", port));
	assert_error(with_params("-uri ldap://127.0.0.1:%d -base " BASE
	    " -filter (uid=%%s) -bind-dn " SVC_DN " -bind-pass svcpass "
	    "-network-timeout 2", port), "amtuser", "userpass", "unreachable");
	assert_error(with_params("-uri ldaps://127.0.0.1:%d -cafile %s "
	    "-dn-template " DN_TEMPLATE " -network-timeout 2", port, ca_pem),
	    "amtuser", "userpass", "unreachable");
	ck_assert_double_lt(now() - t0, 2.0);
}
END_TEST

START_TEST(test_failover)
{
	/* The first URI is down; libldap goes on to the second. */
	assert_accepted(with_params("-uri 'ldap://127.0.0.1:%d "
	    "ldap://127.0.0.1:%d' -dn-template " DN_TEMPLATE, dead_port(),
	    ldap_port), "amtuser", "userpass");
	assert_accepted(with_params("-uri 'ldaps://127.0.0.1:%d, "
	    "ldaps://127.0.0.1:%d' -cafile %s -dn-template " DN_TEMPLATE,
	    dead_port(), ldaps_port, ca_pem), "amtuser", "userpass");
}
END_TEST

START_TEST(test_starttls)
{
	mps_auth_plugin_t *a = with_params("-uri ldap://127.0.0.1:%d "
	    "-starttls -cafile %s -dn-template " DN_TEMPLATE, ldap_port,
	    ca_pem);
	mps_auth_plugin_t *s = with_params("-uri ldap://127.0.0.1:%d "
	    "-starttls -cafile %s -base " BASE " -filter (uid=%%s) -bind-dn "
	    SVC_DN " -bind-pass svcpass", ldap_port, ca_pem);

	assert_accepted(a, "amtuser", "userpass");
	assert_denied(a, "amtuser", "wrong");
	assert_accepted(s, "a*b(c)", "starpass");
	assert_denied(s, "nobody", "x");
}
END_TEST

START_TEST(test_starttls_wrong_ca)
{
	assert_error(with_params("-uri ldap://127.0.0.1:%d -starttls -cafile "
	    "%s -dn-template " DN_TEMPLATE, ldap_port, wrong_ca_pem),
	    "amtuser", "userpass", "TLS failed");
	ck_assert_ptr_nonnull(strstr(err, "certificate"));
}
END_TEST

START_TEST(test_ldaps)
{
	mps_auth_plugin_t *a = with_params("-uri ldaps://127.0.0.1:%d "
	    "-cafile %s -dn-template " DN_TEMPLATE, ldaps_port, ca_pem);

	assert_accepted(a, "amtuser", "userpass");
	assert_denied(a, "amtuser", "wrong");
	assert_denied(a, "nobody", "wrong");
}
END_TEST

START_TEST(test_ldaps_wrong_ca)
{
	assert_error(with_params("-uri ldaps://127.0.0.1:%d -cafile %s "
	    "-dn-template " DN_TEMPLATE, ldaps_port, wrong_ca_pem), "amtuser",
	    "userpass", apr_psprintf(spool, "LDAP server ldaps://127.0.0.1:%d: "
	    "TLS failed", ldaps_port));
	ck_assert_ptr_nonnull(strstr(err, "certificate"));
	/* Without -cafile the system's CAs are used: the test CA is not
	 * one of them. */
	assert_error(with_params("-uri ldaps://127.0.0.1:%d -dn-template "
	    DN_TEMPLATE, ldaps_port), "amtuser", "userpass", "TLS failed");
	/* ldaps:// to the plain port: no TLS there at all. */
	assert_error(with_params("-uri ldaps://127.0.0.1:%d -cafile %s "
	    "-dn-template " DN_TEMPLATE " -network-timeout 2", ldap_port,
	    ca_pem), "amtuser", "userpass", "TLS");
}
END_TEST

START_TEST(test_silent_server)
{
	int port, lfd = listener(&port);
	double t0;

	t0 = now();
	assert_error(with_params("-uri ldap://127.0.0.1:%d -dn-template "
	    DN_TEMPLATE " -timeout 1", port), "amtuser", "userpass",
	    "did not answer the bind as uid=amtuser,ou=people,dc=example,"
	    "dc=com within 1 s");
	ck_assert_double_ge(now() - t0, 0.9);
	ck_assert_double_lt(now() - t0, 2.5);

	t0 = now();
	assert_error(with_params("-uri ldap://127.0.0.1:%d -base " BASE
	    " -filter (uid=%%s) -timeout 1", port), "amtuser", "userpass",
	    "did not answer the search for (uid=amtuser)");
	ck_assert_double_lt(now() - t0, 2.5);

	t0 = now();
	assert_error(with_params("-uri ldap://127.0.0.1:%d -starttls -cafile "
	    "%s -dn-template " DN_TEMPLATE " -timeout 1", port, ca_pem),
	    "amtuser", "userpass", "did not answer StartTLS within 1 s");
	ck_assert_double_lt(now() - t0, 2.5);

	/* ldaps://: the TLS handshake is what hangs; -network-timeout
	 * bounds it. */
	t0 = now();
	assert_error(with_params("-uri ldaps://127.0.0.1:%d -cafile %s "
	    "-dn-template " DN_TEMPLATE " -network-timeout 1 -timeout 10",
	    port, ca_pem), "amtuser", "userpass",
	    "TLS handshake not completed within 1 s");
	ck_assert_double_ge(now() - t0, 0.9);
	ck_assert_double_lt(now() - t0, 2.5);
	close(lfd);
}
END_TEST

/* A peer that accepts StartTLS, then never answers the TLS handshake. */
static void *
starttls_peer(void *arg)
{
	/* LDAPMessage { messageID 1, extendedResp { success, "", "" } } */
	static const unsigned char ok[] = { 0x30, 0x0c, 0x02, 0x01, 0x01,
	    0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00 };
	char buf[2048];
	int fd, lfd = *(int *)arg;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	if (read(fd, buf, sizeof(buf)) > 0 &&
	    write(fd, ok, sizeof(ok)) == (ssize_t)sizeof(ok)) {
		/* The ClientHello, then nothing until the client gives up. */
		while (read(fd, buf, sizeof(buf)) > 0)
			continue;
	}
	close(fd);
	return NULL;
}

START_TEST(test_silent_after_starttls)
{
	int port, lfd = listener(&port);
	pthread_t th;
	double t0;

	ck_assert_int_eq(pthread_create(&th, NULL, starttls_peer, &lfd), 0);
	t0 = now();
	assert_error(with_params("-uri ldap://127.0.0.1:%d -starttls -cafile "
	    "%s -dn-template " DN_TEMPLATE " -network-timeout 1 -timeout 10",
	    port, ca_pem), "amtuser", "userpass",
	    "TLS handshake not completed within 1 s");
	ck_assert_double_lt(now() - t0, 2.5);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	close(lfd);
}
END_TEST

START_TEST(test_error_buffer_bounds)
{
	char small[16];
	int port = dead_port();
	const char *params = apr_psprintf(spool, "-uri ldap://127.0.0.1:%d "
	    "-dn-template " DN_TEMPLATE, port);

	memset(small, 'X', sizeof(small));
	ck_assert(!tmpl->authenticate("amtuser", "userpass", params, small, 8));
	ck_assert_uint_eq(strlen(small), 7);
	ck_assert_int_eq(small[8], 'X');
	/* Stale text from a previous call is cleared on entry. */
	strcpy(small, "stale");
	ck_assert(!tmpl->authenticate("amtuser", "wrong", tmpl->params, small,
	    sizeof(small)));
	ck_assert_str_eq(small, "");
}
END_TEST

/* Bad DllParameters stop mps_plugin_init, through the real loader. */
START_TEST(test_init_refuses_bad_params)
{
	mps_auth_plugin_t *a = NULL;
	apr_pool_t *p;
	char lerr[MPS_PLUGIN_ERROR_SIZE + 512];
	size_t i;
	static const char *const bad[] = {
		"",
		"-uri ldap://127.0.0.1:1",
		"-uri ldap://h -dn-template uid=%s,dc=x -bind-dn cn=x "
		    "-bind-pass Hidden1",
		"-uri ldaps://h -cafile /nonexistent -dn-template uid=%s,dc=x",
	};

	ck_assert_int_eq(apr_pool_create(&p, spool), APR_SUCCESS);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mps_auth_plugin_load(&a, module(), NULL, bad[i],
		    lerr, sizeof(lerr), p) != APR_SUCCESS, "\"%s\" loaded",
		    bad[i]);
		ck_assert_msg(strstr(lerr, "mps_plugin_init failed: "
		    "DllParameters") != NULL, "%s", lerr);
		ck_assert_ptr_null(strstr(lerr, "Hidden1"));
	}
	/* A good set with TLS loads (its TLS context is made at init). */
	ck_assert_msg(mps_auth_plugin_load(&a, module(), NULL,
	    apr_psprintf(p, "-uri ldaps://127.0.0.1:%d -cafile %s "
	    "-dn-template " DN_TEMPLATE, ldaps_port, ca_pem), lerr,
	    sizeof(lerr), p) == APR_SUCCESS, "%s", lerr);
	assert_accepted(a, "amtuser", "userpass");
	/* Its fini leaves the other roles' parameters working. */
	apr_pool_destroy(p);
	assert_accepted(tmpl, "amtuser", "userpass");
	assert_accepted(search, "amtuser", "userpass");
}
END_TEST

#define THREADS		8
#define PER_THREAD	50

struct worker {
	const mps_auth_plugin_t *plugin;
	int id;
	int calls, wrong;
	char first[MPS_PLUGIN_ERROR_SIZE + 64];
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char e[MPS_PLUGIN_ERROR_SIZE];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		/* Every fourth call has a wrong password; users alternate. */
		int good = (i + w->id) % 4 != 0;
		const char *user = i % 2 ? "amtuser" : "a*b(c)";
		const char *pass = !good ? "nope" : i % 2 ? "userpass" :
		    "starpass";
		int r = mps_auth_plugin_authenticate(w->plugin, user, pass, e,
		    sizeof(e));

		w->calls++;
		if (r != good || e[0] != '\0') {
			if (w->wrong++ == 0)
				snprintf(w->first, sizeof(w->first),
				    "%s/%s -> %d \"%s\"", user, pass, r, e);
		}
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	int i, calls = 0;

	mps_auth_plugin_t *tls = with_params("-uri ldaps://127.0.0.1:%d "
	    "-cafile %s -dn-template " DN_TEMPLATE, ldaps_port, ca_pem);

	for (i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		/* Both roles' parameter sets at once, as mpsd runs them, and
		 * TLS connections (with their watchdog threads) among them. */
		w[i].plugin = i % 3 == 0 ? tmpl : i % 3 == 1 ? search : tls;
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (i = 0; i < THREADS; i++) {
		calls += w[i].calls;
		ck_assert_msg(w[i].wrong == 0, "thread %d: %d wrong answers, "
		    "first %s", i, w[i].wrong, w[i].first);
	}
	ck_assert_int_eq(calls, THREADS * PER_THREAD);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("ldap_auth");
	TCase *tc;

	tc = tcase_create("escape");
	tcase_add_test(tc, test_escape_filter);
	tcase_add_test(tc, test_escape_dn);
	tcase_add_test(tc, test_user_names);
	tcase_add_test(tc, test_expand);
	suite_add_tcase(s, tc);

	tc = tcase_create("params");
	tcase_add_unchecked_fixture(tc, pool_setup, pool_teardown);
	tcase_add_test(tc, test_params_template);
	tcase_add_test(tc, test_params_search);
	tcase_add_loop_test(tc, test_params_errors, 0,
	    (int)(sizeof(bad_params) / sizeof(bad_params[0])));
	tcase_add_test(tc, test_params_hide_passwords);
	suite_add_tcase(s, tc);

	tc = tcase_create("slapd");
	tcase_add_unchecked_fixture(tc, slapd_setup, slapd_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_template_right_password);
	tcase_add_test(tc, test_template_wrong_password);
	tcase_add_test(tc, test_template_unknown_user);
	tcase_add_test(tc, test_empty_password_no_traffic);
	tcase_add_test(tc, test_bad_user_names_no_traffic);
	tcase_add_test(tc, test_template_special_users);
	tcase_add_test(tc, test_template_injection);
	tcase_add_test(tc, test_search_found);
	tcase_add_test(tc, test_search_not_found);
	tcase_add_test(tc, test_search_two_matches);
	tcase_add_test(tc, test_search_injection);
	tcase_add_test(tc, test_search_service_account);
	tcase_add_test(tc, test_search_bad_base);
	tcase_add_test(tc, test_server_down);
	tcase_add_test(tc, test_failover);
	tcase_add_test(tc, test_starttls);
	tcase_add_test(tc, test_starttls_wrong_ca);
	tcase_add_test(tc, test_ldaps);
	tcase_add_test(tc, test_ldaps_wrong_ca);
	tcase_add_test(tc, test_silent_server);
	tcase_add_test(tc, test_silent_after_starttls);
	tcase_add_test(tc, test_error_buffer_bounds);
	tcase_add_test(tc, test_init_refuses_bad_params);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	return s;
}
