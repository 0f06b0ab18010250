/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ldap_auth.c: the LDAPAuthentication plugin. It checks a user name and
 * password against an LDAP directory with a simple bind as the user,
 * either on a DN made from a template or on the one entry a search finds
 * (search-then-bind). DllParameters are described in ldap_auth.h and
 * README.md.
 *
 * Answers (mps/plugin.h): true only after the directory accepted the
 * user's bind. A wrong password or an unknown user is false with no
 * errorString; everything else that stops a decision (server down,
 * timeout, TLS failure, an ambiguous search, a refused service account)
 * is false with a reason, which never holds a password.
 *
 * Every call opens its own connection (ldap_initialize, optional
 * StartTLS, binds, unbind): no libldap handle is ever shared, so calls
 * from many worker threads at once are safe. The price is a TCP (and TLS)
 * handshake per authentication, and with TLS a CA file read and a helper
 * thread that bounds the handshake (watchdog.c); CIRA devices
 * authenticate once per connection, so that is affordable.
 *
 * Security rules, each with a test: the user name is escaped for the
 * filter or DN it goes into, and refused if empty, too long, not UTF-8 or
 * holding control characters; an empty password is refused before any
 * traffic (a simple bind with an empty password is an "unauthenticated
 * bind" that most servers accept for any DN, RFC 4513 5.1.2); LDAPv3,
 * no referral chasing, connect and operation timeouts everywhere; TLS
 * always verifies the server. The user's password is handed to libldap
 * where it lies: the plugin makes no copy of it.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <ldap.h>

#include <mps/plugin.h>

#include "ldap_auth.h"

#include "plugin_util.h"

MPS_PLUGIN_DECLARE_ABI;

MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
    char *errorString, size_t errorStringSize);
MPS_PLUGIN_EXPORT void mps_plugin_fini(void);

/*
 * The DllParameters seen by mps_plugin_init, parsed, keyed by their exact
 * text. The same module may serve both roles with different parameters
 * (libltdl loads it once), and mps_plugin_fini does not say which role
 * ends, so every set stays until the last fini. Authenticate looks its
 * text up here and parses it on the fly when it is not found.
 */
struct param_set {
	struct param_set *next;
	char *text;
	struct mps_ldap_config *cfg;	/* read-only once here */
};

static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct param_set *sets;
static unsigned inits;		/* successful inits not yet finished */

/* One authentication's connection. */
struct conn {
	const struct mps_ldap_config *cfg;
	LDAP *ld;
	char *err;
	size_t errsize;
	struct mps_ldap_watchdog dog;	/* TLS handshakes only */
	ldap_conncb cb;			/* arms and disarms it */
};

static void report(struct conn *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * libldap's diagnostic text for the last failure, in buf ("" if none).
 * libldap built with GnuTLS (Debian's) reports a refused server
 * certificate as "(unknown error code)": said plainly here.
 */
static const char *
diagnostic(LDAP *ld, char *buf, size_t size)
{
	char *msg = NULL;

	buf[0] = '\0';
	if (ld == NULL || ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE,
	    &msg) != LDAP_OPT_SUCCESS || msg == NULL)
		return buf;
	if (strcmp(msg, "(unknown error code)") == 0)
		(void)snprintf(buf, size, "the server's certificate was not "
		    "accepted (not signed by a trusted CA, expired, or not "
		    "issued for this host name)");
	else
		(void)snprintf(buf, size, "%s", msg);
	ldap_memfree(msg);
	return buf;
}

/*
 * Describes a failed step: rc is a result code from the server or one of
 * libldap's own (negative) codes, and libldap's diagnostic text, when it
 * has one (a TLS library's reason, say), is added.
 */
static void
report(struct conn *c, int rc, const char *fmt, ...)
{
	char what[MPS_LDAP_MAX_EXPANDED + 64], diag[512];
	const char *uri = c->cfg->uri, *lp, *rp;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	(void)diagnostic(c->ld, diag, sizeof(diag));
	/* With ldaps://, libldap reports a failed TLS handshake as a
	 * connection failure; only the TLS layer leaves a text behind. */
	if (rc == LDAP_SERVER_DOWN && c->cfg->tls && !c->cfg->starttls &&
	    diag[0] != '\0')
		rc = LDAP_CONNECT_ERROR;
	lp = diag[0] != '\0' ? " (" : "";
	rp = diag[0] != '\0' ? ")" : "";
	switch (rc) {
	case LDAP_SERVER_DOWN:
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s unreachable: "
		    "%s%s%s%s", uri, ldap_err2string(rc), lp, diag, rp);
		break;
	case LDAP_TIMEOUT:
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s did not answer "
		    "%s within %d s", uri, what, c->cfg->timeout);
		break;
	case LDAP_CONNECT_ERROR:
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s: TLS failed: %s",
		    uri, diag[0] != '\0' ? diag : ldap_err2string(rc));
		break;
	default:
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s: %s failed: %s "
		    "(%d)%s%s%s", uri, what, ldap_err2string(rc), rc, lp, diag,
		    rp);
		break;
	}
}

static int
set_opt(struct conn *c, int option, const void *value, const char *name)
{
	if (ldap_set_option(c->ld, option, value) == LDAP_OPT_SUCCESS)
		return 0;
	mps_pu_seterr(c->err, c->errsize, "cannot set libldap option %s", name);
	return -1;
}

/*
 * The TLS settings, on this handle only: whatever ldap.conf or LDAPTLS_*
 * say, the server is verified (host name included), TLS 1.2 is the least,
 * and -cafile, when given, is the only trust anchor. A context of the
 * handle's own (NEWCTX) is what makes these take effect; it costs reading
 * the CA file per call.
 */
static int
set_tls(struct conn *c)
{
	const struct mps_ldap_config *cfg = c->cfg;
	int demand = LDAP_OPT_X_TLS_DEMAND;
	int tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
	int is_server = 0;

	if (set_opt(c, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand,
	    "TLS_REQUIRE_CERT") != 0 ||
	    set_opt(c, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12,
	    "TLS_PROTOCOL_MIN") != 0)
		return -1;
	if (cfg->cafile != NULL &&
	    (set_opt(c, LDAP_OPT_X_TLS_CACERTFILE, cfg->cafile,
	    "TLS_CACERTFILE") != 0 ||
	    set_opt(c, LDAP_OPT_X_TLS_CACERTDIR, NULL, "TLS_CACERTDIR") != 0))
		return -1;
	if (ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &is_server) !=
	    LDAP_OPT_SUCCESS) {
		if (cfg->cafile != NULL)
			mps_pu_seterr(c->err, c->errsize, "cannot set up TLS with "
			    "-cafile %s (is it a PEM CA certificate?)",
			    cfg->cafile);
		else
			mps_pu_seterr(c->err, c->errsize, "cannot set up TLS with the "
			    "system's CA certificates");
		return -1;
	}
	return 0;
}

/*
 * libldap's connection callbacks: a TCP connection to an ldaps:// server
 * is up and its TLS handshake is next (arm), or a connection is about to
 * be closed (disarm, before its descriptor can be reused).
 */
static int
conn_added(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
    struct ldap_conncb *cb)
{
	struct conn *c = cb->lc_arg;
	ber_socket_t fd = -1;

	(void)ld;
	(void)addr;
	if (srv != NULL && srv->lud_scheme != NULL &&
	    strcasecmp(srv->lud_scheme, "ldaps") == 0 &&
	    ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1 && fd >= 0)
		mps_ldap_watchdog_arm(&c->dog, fd, c->cfg->network_timeout);
	return 0;
}

static void
conn_deleted(LDAP *ld, Sockbuf *sb, struct ldap_conncb *cb)
{
	struct conn *c = cb->lc_arg;

	(void)ld;
	(void)sb;
	mps_ldap_watchdog_disarm(&c->dog);
}

/* The watchdog and the callbacks that drive it. */
static int
set_watchdog(struct conn *c)
{
	if (mps_ldap_watchdog_start(&c->dog) != 0) {
		mps_pu_seterr(c->err, c->errsize, "cannot start a thread to time the "
		    "TLS handshake");
		return -1;
	}
	c->cb.lc_add = conn_added;
	c->cb.lc_del = conn_deleted;
	c->cb.lc_arg = c;
	return set_opt(c, LDAP_OPT_CONNECT_CB, &c->cb, "CONNECT_CB");
}

/* A handle with every option set; no traffic yet. */
static int
open_conn(struct conn *c)
{
	const struct mps_ldap_config *cfg = c->cfg;
	struct timeval net, op;
	int v3 = LDAP_VERSION3, never = LDAP_DEREF_NEVER, rc;

	net.tv_sec = cfg->network_timeout;
	net.tv_usec = 0;
	op.tv_sec = cfg->timeout;
	op.tv_usec = 0;
	if ((rc = ldap_initialize(&c->ld, cfg->uri)) != LDAP_SUCCESS) {
		c->ld = NULL;
		mps_pu_seterr(c->err, c->errsize, "cannot use -uri %s: %s", cfg->uri,
		    ldap_err2string(rc));
		return -1;
	}
	if (set_opt(c, LDAP_OPT_PROTOCOL_VERSION, &v3, "PROTOCOL_VERSION") ||
	    set_opt(c, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, "REFERRALS") ||
	    set_opt(c, LDAP_OPT_RESTART, LDAP_OPT_ON, "RESTART") ||
	    set_opt(c, LDAP_OPT_DEREF, &never, "DEREF") ||
	    set_opt(c, LDAP_OPT_NETWORK_TIMEOUT, &net, "NETWORK_TIMEOUT") ||
	    set_opt(c, LDAP_OPT_TIMEOUT, &op, "TIMEOUT"))
		return -1;
	if (!cfg->tls)
		return 0;
	return set_tls(c) != 0 || set_watchdog(c) != 0 ? -1 : 0;
}

/*
 * Opens the connection (TCP, and TLS for ldaps://) before the first
 * operation, so that the watchdog covers exactly the handshake and not
 * the operation after it.
 */
static int
connect_server(struct conn *c)
{
	int rc;

	rc = ldap_connect(c->ld);
	mps_ldap_watchdog_disarm(&c->dog);
	if (rc == LDAP_SUCCESS)
		return 0;
	if (mps_ldap_watchdog_fired(&c->dog)) {
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s: TLS handshake not "
		    "completed within %d s", c->cfg->uri,
		    c->cfg->network_timeout);
		return -1;
	}
	rc = LDAP_SERVER_DOWN;
	(void)ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &rc);
	report(c, rc, "connecting");
	return -1;
}

/*
 * Waits, at most the operation timeout, for the result of msgid. Returns
 * the operation's result code, or libldap's code for what went wrong.
 */
static int
await(struct conn *c, int msgid)
{
	struct timeval tv;
	LDAPMessage *res = NULL;
	int rc, code = LDAP_OTHER;

	tv.tv_sec = c->cfg->timeout;
	tv.tv_usec = 0;
	rc = ldap_result(c->ld, msgid, LDAP_MSG_ALL, &tv, &res);
	if (rc == 0)
		return LDAP_TIMEOUT;
	if (rc == -1) {
		(void)ldap_get_option(c->ld, LDAP_OPT_RESULT_CODE, &code);
		return code;
	}
	rc = ldap_parse_result(c->ld, res, &code, NULL, NULL, NULL, NULL, 1);
	return rc != LDAP_SUCCESS ? rc : code;
}

/*
 * StartTLS as two steps, so that the wait for the server's answer has
 * the operation timeout (the handshake has the network timeout).
 */
static int
start_tls(struct conn *c)
{
	int msgid, rc, fd = -1;

	rc = ldap_start_tls(c->ld, NULL, NULL, &msgid);
	if (rc == LDAP_SUCCESS)
		rc = await(c, msgid);
	if (rc != LDAP_SUCCESS) {
		report(c, rc, "StartTLS");
		return -1;
	}
	/* The socket stays open if the handshake fails: disarming after
	 * it is early enough. */
	if (ldap_get_option(c->ld, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
	    fd >= 0)
		mps_ldap_watchdog_arm(&c->dog, fd, c->cfg->network_timeout);
	rc = ldap_install_tls(c->ld);
	mps_ldap_watchdog_disarm(&c->dog);
	if (rc == LDAP_SUCCESS)
		return 0;
	if (mps_ldap_watchdog_fired(&c->dog))
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s: TLS handshake not "
		    "completed within %d s", c->cfg->uri,
		    c->cfg->network_timeout);
	else
		report(c, rc == LDAP_SERVER_DOWN ? LDAP_CONNECT_ERROR : rc,
		    "the StartTLS handshake");
	return -1;
}

/* A simple bind. The password is passed where it lies, not copied. */
static int
simple_bind(struct conn *c, const char *dn, const char *password,
    size_t len)
{
	struct berval cred;
	int msgid, rc;

	cred.bv_val = (char *)password;
	cred.bv_len = len;
	rc = ldap_sasl_bind(c->ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
	    &msgid);
	return rc != LDAP_SUCCESS ? rc : await(c, msgid);
}

/*
 * The search of search-then-bind. Returns 1 with the entry's DN in *dn
 * (ldap_memfree it) when exactly one entry matches, 0 when none does (an
 * unknown user: no error), -1 with an error otherwise: two matches would
 * leave the choice of account to the order of the directory's answer.
 */
static int
find_user(struct conn *c, const char *filter, char **dn)
{
	const char *base = c->cfg->base;
	char noattrs[] = LDAP_NO_ATTRS;
	char *attrs[2] = { noattrs, NULL };
	struct timeval tv;
	LDAPMessage *res = NULL;
	int rc, n, found = -1;

	*dn = NULL;
	tv.tv_sec = c->cfg->timeout;
	tv.tv_usec = 0;
	/* Size limit 2: enough to tell one match from several. */
	rc = ldap_search_ext_s(c->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs,
	    0, NULL, NULL, &tv, 2, &res);
	if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
		report(c, rc, "the search for %s under %s", filter, base);
		goto out;
	}
	n = ldap_count_entries(c->ld, res);
	if (n > 1 || rc == LDAP_SIZELIMIT_EXCEEDED) {
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s: the search for %s "
		    "under %s matches more than one entry: refused",
		    c->cfg->uri, filter, base);
		goto out;
	}
	if (n < 0) {
		report(c, LDAP_OTHER, "reading the search result");
		goto out;
	}
	if (n == 0) {
		found = 0;
		goto out;
	}
	*dn = ldap_get_dn(c->ld, ldap_first_entry(c->ld, res));
	if (*dn == NULL || (*dn)[0] == '\0') {
		/* An empty DN would make the bind anonymous. */
		mps_pu_seterr(c->err, c->errsize, "LDAP server %s: the search for %s "
		    "under %s returned an entry without a DN", c->cfg->uri,
		    filter, base);
		goto out;
	}
	found = 1;
out:
	if (found != 1 && *dn != NULL) {
		ldap_memfree(*dn);
		*dn = NULL;
	}
	if (res != NULL)
		ldap_msgfree(res);
	return found;
}

/* The user's DN or the search filter, with the user name escaped. */
static int
make_target(const struct mps_ldap_config *cfg, const char *user,
    char *out, size_t outsize)
{
	char value[3 * MPS_LDAP_MAX_USER + 1];
	size_t n;

	if (cfg->dn_template != NULL) {
		n = mps_ldap_escape_dn(value, sizeof(value), user);
		return n == (size_t)-1 ? -1 : mps_ldap_expand(out, outsize,
		    cfg->dn_template, value);
	}
	n = mps_ldap_escape_filter(value, sizeof(value), user);
	return n == (size_t)-1 ? -1 : mps_ldap_expand(out, outsize,
	    cfg->filter, value);
}

/* One whole authentication on its own connection. */
static bool
authenticate(const struct mps_ldap_config *cfg, const char *user,
    const char *password, char *err, size_t errsize)
{
	struct conn c;
	char target[MPS_LDAP_MAX_EXPANDED];
	char *found = NULL;
	const char *dn = target;
	bool ok = false;
	int rc;

	/* Cannot happen with the limits in ldap_auth.h; checked anyway. */
	if (make_target(cfg, user, target, sizeof(target)) != 0) {
		mps_pu_seterr(err, errsize, "user name too long for the template");
		return false;
	}
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.err = err;
	c.errsize = errsize;
	if (open_conn(&c) != 0 || connect_server(&c) != 0 ||
	    (cfg->starttls && start_tls(&c) != 0))
		goto out;
	if (cfg->dn_template == NULL) {
		if (cfg->bind_dn != NULL && (rc = simple_bind(&c, cfg->bind_dn,
		    cfg->bind_pass, cfg->bind_pass_len)) != LDAP_SUCCESS) {
			report(&c, rc, "the service account's bind as %s",
			    cfg->bind_dn);
			goto out;
		}
		if (find_user(&c, target, &found) != 1)
			goto out;
		dn = found;
	}
	rc = simple_bind(&c, dn, password, strlen(password));
	if (rc == LDAP_SUCCESS)
		ok = true;
	else if (rc != LDAP_INVALID_CREDENTIALS)
		report(&c, rc, "the bind as %s", dn);
out:
	if (found != NULL)
		ldap_memfree(found);
	/* Unbind first: it closes the socket, the watchdog's callbacks
	 * still in place. */
	if (c.ld != NULL)
		(void)ldap_unbind_ext_s(c.ld, NULL, NULL);
	mps_ldap_watchdog_stop(&c.dog);
	return ok;
}

/* The parsed set for this DllParameters text, or NULL. */
static const struct mps_ldap_config *
lookup(const char *params)
{
	const struct param_set *s;
	const struct mps_ldap_config *cfg = NULL;

	pthread_mutex_lock(&sets_lock);
	for (s = sets; s != NULL && cfg == NULL; s = s->next)
		if (strcmp(s->text, params) == 0)
			cfg = s->cfg;
	pthread_mutex_unlock(&sets_lock);
	return cfg;
}

/* Keeps cfg for params (or drops it if an equal text is kept already). */
static int
remember(const char *params, struct mps_ldap_config *cfg, char *err,
    size_t errsize)
{
	struct param_set *s;

	if (lookup(params) != NULL) {
		mps_ldap_config_free(cfg);
		return 0;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->text = strdup(params)) == NULL) {
		free(s);
		mps_ldap_config_free(cfg);
		mps_pu_seterr(err, errsize, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	pthread_mutex_lock(&sets_lock);
	s->next = sets;
	sets = s;
	pthread_mutex_unlock(&sets_lock);
	return 0;
}

/*
 * libldap's process-wide set-up, while no other thread can call it: the
 * first libldap call reads ldap.conf and LDAP* variables into global
 * defaults, and the first TLS context initialises the TLS library. Both
 * are done here (mps_plugin_init never runs concurrently with anything),
 * not by racing worker threads. The options themselves are set on each
 * handle, so that the two roles' parameters (and any other libldap user
 * in the process) never see each other's settings.
 */
static int
library_init(const struct mps_ldap_config *cfg, char *err, size_t errsize)
{
	struct conn c;
	int version, rc;

	if (ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &version) !=
	    LDAP_OPT_SUCCESS) {
		mps_pu_seterr(err, errsize, "cannot initialise libldap");
		return -1;
	}
	if (!cfg->tls)
		return 0;
	/* A handle as each call makes it, TLS context included: the TLS
	 * library's one-time set-up happens here, and a context that
	 * cannot be made stops start-up rather than every login. */
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.err = err;
	c.errsize = errsize;
	rc = open_conn(&c);
	if (c.ld != NULL)
		(void)ldap_unbind_ext_s(c.ld, NULL, NULL);
	mps_ldap_watchdog_stop(&c.dog);
	return rc;
}

MPS_PLUGIN_EXPORT int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	struct mps_ldap_config *cfg;

	if (errorString != NULL && errorStringSize > 0)
		errorString[0] = '\0';
	if (paramStr == NULL)
		paramStr = "";
	if (mps_ldap_config_parse(&cfg, paramStr, errorString,
	    errorStringSize) != 0)
		return -1;
	if (library_init(cfg, errorString, errorStringSize) != 0) {
		mps_ldap_config_free(cfg);
		return -1;
	}
	if (remember(paramStr, cfg, errorString, errorStringSize) != 0)
		return -1;
	pthread_mutex_lock(&sets_lock);
	inits++;
	pthread_mutex_unlock(&sets_lock);
	return 0;
}

MPS_PLUGIN_EXPORT void
mps_plugin_fini(void)
{
	struct param_set *s, *next = NULL;

	pthread_mutex_lock(&sets_lock);
	if (inits > 0 && --inits == 0) {
		next = sets;
		sets = NULL;
	}
	pthread_mutex_unlock(&sets_lock);
	for (s = next; s != NULL; s = next) {
		next = s->next;
		mps_ldap_config_free(s->cfg);
		free(s->text);
		free(s);
	}
}

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	struct mps_ldap_config *own = NULL;
	const struct mps_ldap_config *cfg;
	bool ok;

	if (errorString != NULL && errorStringSize > 0)
		errorString[0] = '\0';
	if (userName == NULL || userPassword == NULL || paramStr == NULL)
		return false;
	/* Before anything else: an empty password would turn the user's
	 * bind into an unauthenticated bind, which servers accept. */
	if (userPassword[0] == '\0')
		return false;
	if (!mps_ldap_user_ok(userName))
		return false;
	if ((cfg = lookup(paramStr)) == NULL) {
		/* Parameters mps_plugin_init has not seen: parse them for
		 * this call only. */
		if (mps_ldap_config_parse(&own, paramStr, errorString,
		    errorStringSize) != 0)
			return false;
		cfg = own;
	}
	ok = authenticate(cfg, userName, userPassword, errorString,
	    errorStringSize);
	mps_ldap_config_free(own);
	return ok;
}
