/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ldap_auth.h: internals of the LDAPAuthentication plugin, shared by its
 * sources and its unit test (nothing here is exported by the module:
 * PLUGIN_LDFLAGS exports only the ABI symbols).
 *
 * DllParameters (all options start with '-'; values containing blanks go
 * in double or single quotes, which are removed; there are no backslash
 * escapes in DllParameters, so a value holding '"' is quoted with '\''):
 *
 *   -uri "URI [URI...]"  required. ldap://host[:port] or ldaps://host[:port];
 *                        several URIs (blank-separated, in quotes) are
 *                        tried in order by libldap (failover). All must
 *                        use the same scheme: a fallback from ldaps:// to
 *                        plain ldap:// would silently drop TLS.
 *   -starttls            require StartTLS (ldap:// URIs only).
 *   -cafile FILE         the CA certificate(s), PEM, that verify the
 *                        server; without it the system trust store is
 *                        used. Needs ldaps:// or -starttls. The server
 *                        certificate is always verified, host name
 *                        included, and TLS 1.2 is the minimum.
 *   -network-timeout S   connect (and TLS handshake) timeout, seconds,
 *                        1..3600, default 5.
 *   -timeout S           timeout of each LDAP operation, seconds,
 *                        1..3600, default 10.
 *
 * and exactly one of two ways to find the user's entry:
 *
 *   -dn-template T       bind as T with the user name put in place of its
 *                        one "%s", escaped as an RFC 4514 attribute value;
 *                        e.g. "uid=%s,ou=people,dc=example,dc=com".
 *   -base DN -filter F   search-then-bind: search DN (scope subtree, size
 *                        limit 2) with F, whose one "%s" is replaced by
 *                        the user name escaped as an RFC 4515 assertion
 *                        value, e.g. "(uid=%s)"; exactly one entry must
 *                        match, then bind as it with the user's password.
 *     -bind-dn DN        the service account that searches (default:
 *     -bind-pass PASS    anonymous); its password, given inline or as
 *     -bind-pass-file F  the first line of file F (read at start-up).
 *
 * A template holds exactly one "%s" and no other '%'. Relative FILE
 * paths are relative to mpsd's working directory (its configuration's
 * directory).
 */
#ifndef MPS_LDAP_AUTH_H
#define MPS_LDAP_AUTH_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

/* Longest user name accepted, in bytes (escaping at most triples it). */
#define MPS_LDAP_MAX_USER	256
/* Longest -dn-template or -filter, in bytes. */
#define MPS_LDAP_MAX_TEMPLATE	1024
/* Room for a template with an escaped user name put in. */
#define MPS_LDAP_MAX_EXPANDED	(MPS_LDAP_MAX_TEMPLATE + \
	3 * MPS_LDAP_MAX_USER + 1)
/* Longest DllParameters text, in bytes. */
#define MPS_LDAP_MAX_PARAMS	8192

#define MPS_LDAP_DEFAULT_NETWORK_TIMEOUT	5
#define MPS_LDAP_DEFAULT_TIMEOUT		10
#define MPS_LDAP_MAX_TIMEOUT			3600

/* One parsed and validated DllParameters text. Read-only once parsed. */
struct mps_ldap_config {
	char *buf;		/* the tokenised copy of DllParameters: the
				 * strings below point into it */
	size_t bufsize;
	char *passfile;		/* the -bind-pass-file contents, or NULL */
	size_t passfilesize;

	const char *uri;	/* as given: libldap takes the list */
	int starttls;
	int tls;		/* ldaps:// or StartTLS */
	const char *cafile;	/* or NULL */
	const char *dn_template;	/* template mode when not NULL */
	const char *base;	/* search mode otherwise */
	const char *filter;
	const char *bind_dn;	/* or NULL: anonymous search */
	const char *bind_pass;	/* with bind_dn */
	size_t bind_pass_len;
	int network_timeout;	/* seconds */
	int timeout;		/* seconds */
};

/*
 * Parses and checks DllParameters. Returns 0 and a new configuration, or
 * -1 with a reason in err (which never holds a -bind-pass value). Opens
 * the -cafile and reads the -bind-pass-file, but makes no network
 * traffic.
 */
int mps_ldap_config_parse(struct mps_ldap_config **cfg, const char *params,
    char *err, size_t errsize);

/* Frees a configuration, wiping the service password first. NULL is ok. */
void mps_ldap_config_free(struct mps_ldap_config *cfg);

/*
 * Whether a user name may be sent to the directory at all: 1..
 * MPS_LDAP_MAX_USER bytes of well-formed UTF-8 without control
 * characters (C0, DEL, C1). Returns 1 or 0.
 */
int mps_ldap_user_ok(const char *user);

/*
 * Escapes a value for an RFC 4515 filter: '*' '(' ')' '\' and NUL (and,
 * as a precaution, every other control byte) become \XX (lower-case
 * hex). Returns the length written (NUL-terminated), or (size_t)-1 when
 * out is too small.
 */
size_t mps_ldap_escape_filter(char *out, size_t outsize, const char *in);

/*
 * Escapes a value for an RFC 4514 DN: '"' '+' ',' ';' '<' '>' '\' '='
 * get a backslash, so do a leading '#' or space and a trailing space;
 * NUL and other control bytes become \XX. Returns as above.
 */
size_t mps_ldap_escape_dn(char *out, size_t outsize, const char *in);

/*
 * Puts value in place of the "%s" of a checked template. Returns 0, or -1
 * when out is too small.
 */
int mps_ldap_expand(char *out, size_t outsize, const char *tmpl,
    const char *value);

/*
 * A per-call helper thread that shuts a socket down when a deadline
 * passes (watchdog.c says why). All functions are no-ops on a watchdog
 * that is not running.
 */
struct mps_ldap_watchdog {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int running;		/* the thread exists */
	int fd;			/* the armed socket, or -1 */
	int stop;
	int fired;		/* a socket was shut down */
	struct timespec deadline;	/* CLOCK_MONOTONIC */
};

/* Starts the thread, disarmed. Returns 0, or -1 (nothing to undo). */
int mps_ldap_watchdog_start(struct mps_ldap_watchdog *w);
/* Watches fd: shut down in `seconds` unless disarmed first. */
void mps_ldap_watchdog_arm(struct mps_ldap_watchdog *w, int fd, int seconds);
/* Forgets the socket; call before it can be closed. */
void mps_ldap_watchdog_disarm(struct mps_ldap_watchdog *w);
/* Whether the deadline passed on an armed socket. */
int mps_ldap_watchdog_fired(struct mps_ldap_watchdog *w);
/* Stops and joins the thread. */
void mps_ldap_watchdog_stop(struct mps_ldap_watchdog *w);

#endif /* MPS_LDAP_AUTH_H */
