/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_lists.c: the two plain list files of guide 6.2, and path
 * resolution.
 *
 *   NotificationList.config       (http|https)://host[:port][/path]
 *   AuthorizedServersList.config  host:port, or [IPv6]:port
 *
 * One entry a line; blank lines and lines starting with '#' are ignored;
 * white space around an entry (a Windows CR included) and a UTF-8 byte
 * order mark at the start of the file are dropped, since these files are
 * often edited on Windows. Hosts are checked for syntax only: nothing
 * here resolves a name.
 */
#include "config.h"
#include "config_xml.h"
#include "mps_status.h"

#include <apr_strings.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Longest host a query can name: 253 for a name (+ a trailing dot),
 * 45 for an IPv6 literal; anything longer cannot be listed. */
#define HOST_MAX 256

typedef void (*line_fn)(void *ctx, const char *text, int line);

/*
 * Reads path and calls fn for each line that holds an entry, with the
 * entry trimmed. Returns the read's status (already reported on failure).
 */
static apr_status_t
for_each_entry(const char *path, mps_config_errors_t *errs, apr_pool_t *pool,
    line_fn fn, void *ctx)
{
	char *data;
	const char *p, *end, *nl;
	apr_size_t len;
	apr_status_t rv;
	const char *text;
	int line;

	rv = mps_config_read_file(&data, &len, path, errs, pool);
	if (rv != APR_SUCCESS)
		return rv;
	p = data;
	end = data + len;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	for (line = 1; p < end; line++, p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			/* A NUL would silently cut the entry short. */
			mps_config_error(errs, path, line,
			    "contains a NUL byte; is this a text file?");
			continue;
		}
		text = mps_config_trim(p, (apr_size_t)(nl - p), pool);
		if (*text == '\0' || *text == '#')
			continue;
		fn(ctx, text, line);
	}
	return APR_SUCCESS;
}

static size_t
count_char(const char *s, size_t len, char c)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (s[i] == c)
			n++;
	return n;
}

static char *
lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* Hosts as stored (no brackets): IP literals by value, names ignoring
 * case. */
static int
hosts_equal(const char *a, const char *b)
{
	mps_config_ip_t ia, ib;
	int a_ip = mps_config_parse_ip(a, &ia);
	int b_ip = mps_config_parse_ip(b, &ib);

	if (a_ip || b_ip)
		return a_ip && b_ip && mps_config_ip_equal(&ia, &ib);
	return strcasecmp(a, b) == 0;
}

/*
 * Parses the host of an entry starting at s: "[IPv6]", an IPv4 literal or
 * a host name, ending at one of stops (or the end). On success sets *host
 * (lower-cased, without brackets) and *rest, and returns NULL; otherwise
 * returns the reason.
 */
static const char *
parse_host(const char *s, const char *stops, const char **host,
    const char **rest, apr_pool_t *pool)
{
	struct in6_addr a6;
	mps_config_ip_t ip;
	const char *close;
	char *h;
	size_t n;

	if (*s == '[') {
		close = strchr(s, ']');
		if (close == NULL)
			return "'[' without ']'";
		h = apr_pstrmemdup(pool, s + 1, (apr_size_t)(close - s - 1));
		if (inet_pton(AF_INET6, h, &a6) != 1)
			return apr_psprintf(pool, "%s is not an IPv6 address",
			    mps_config_quote(h, pool));
		*host = lower(h);
		*rest = close + 1;
		return NULL;
	}
	n = strcspn(s, stops);
	if (n == 0)
		return "the host is missing";
	h = apr_pstrmemdup(pool, s, n);
	if (!mps_config_parse_ip(h, &ip) && !mps_config_is_hostname(h))
		return apr_psprintf(pool, "%s is not an IPv4 address or host "
		    "name", mps_config_quote(h, pool));
	*host = lower(h);
	*rest = s + n;
	return NULL;
}

static const char *
parse_port(const char *s, size_t len, apr_port_t *port, apr_pool_t *pool)
{
	const char *text = apr_pstrmemdup(pool, s, len);
	long long v;

	if (mps_config_parse_number(text, 1, 65535, &v) != MPS_NUM_OK)
		return apr_psprintf(pool, "port %s is not a number in 1-65535",
		    mps_config_quote(text, pool));
	*port = (apr_port_t)v;
	return NULL;
}

/* ---------------------------------------------------------------- */
/* NotificationList.config                                           */
/* ---------------------------------------------------------------- */

/* Parses one subscriber URL into sub; returns NULL or the reason. */
static const char *
parse_url(const char *url, mps_subscriber_t *sub, apr_pool_t *pool)
{
	const char *sep, *p, *reason;
	size_t n;
	const unsigned char *c;

	sep = strstr(url, "://");
	if (sep == NULL)
		return "it does not start with http:// or https://";
	n = (size_t)(sep - url);
	if (n == 4 && strncasecmp(url, "http", 4) == 0) {
		sub->scheme = "http";
		sub->port = 80;
	} else if (n == 5 && strncasecmp(url, "https", 5) == 0) {
		sub->scheme = "https";
		sub->port = 443;
	} else {
		return apr_psprintf(pool, "scheme %s is not http or https",
		    mps_config_quote(apr_pstrmemdup(pool, url, n), pool));
	}

	/* "http://2001:db8::1/" cannot be split into host and port. */
	p = sep + 3;
	if (*p != '[' && count_char(p, strcspn(p, "/"), ':') > 1)
		return "an IPv6 address must be in brackets, as "
		    "http://[address]:port/path";
	reason = parse_host(p, ":/", &sub->host, &p, pool);
	if (reason != NULL)
		return reason;
	if (*p == ':') {
		n = strcspn(p + 1, "/");
		reason = parse_port(p + 1, n, &sub->port, pool);
		if (reason != NULL)
			return reason;
		p += 1 + n;
	}
	if (*p == '\0') {
		sub->path = "/";
		return NULL;
	}
	if (*p != '/')
		return apr_psprintf(pool, "%s after the host is neither "
		    ":port nor /path", mps_config_quote(p, pool));
	/* The path goes into HTTP requests verbatim: printable ASCII only,
	 * no spaces (which would end the request line). */
	for (c = (const unsigned char *)p; *c != '\0'; c++)
		if (*c <= 0x20 || *c >= 0x7f)
			return "the path has a space or non-ASCII "
			    "character (write it %-encoded)";
	sub->path = apr_pstrdup(pool, p);
	return NULL;
}

static int
same_subscriber(const mps_subscriber_t *a, const mps_subscriber_t *b)
{
	return strcmp(a->scheme, b->scheme) == 0 && a->port == b->port &&
	    strcmp(a->path, b->path) == 0 && hosts_equal(a->host, b->host);
}

struct subscriber_list {
	apr_array_header_t *subs;
	const char *path;
	mps_config_errors_t *errs;
	apr_pool_t *pool;
};

static void
add_subscriber(void *ctx, const char *text, int line)
{
	struct subscriber_list *list = ctx;
	mps_subscriber_t sub, *kept;
	const char *reason;
	int i;

	memset(&sub, 0, sizeof(sub));
	reason = parse_url(text, &sub, list->pool);
	if (reason != NULL) {
		mps_config_error(list->errs, list->path, line,
		    "%s is not a subscriber URL: %s",
		    mps_config_quote(text, list->pool), reason);
		return;
	}
	for (i = 0; i < list->subs->nelts; i++) {
		kept = &APR_ARRAY_IDX(list->subs, i, mps_subscriber_t);
		if (same_subscriber(kept, &sub)) {
			mps_config_warning(list->errs, list->path, line,
			    "%s repeats the subscriber of line %d; ignored",
			    mps_config_quote(text, list->pool), kept->line);
			return;
		}
	}
	if (list->subs->nelts >= MPS_MAX_SUBSCRIBERS) {
		/* The guide: "Entries beyond eight will be discarded." */
		mps_config_warning(list->errs, list->path, line,
		    "%s discarded: at most %d subscribers are supported",
		    mps_config_quote(text, list->pool), MPS_MAX_SUBSCRIBERS);
		return;
	}
	sub.url = apr_pstrdup(list->pool, text);
	sub.line = line;
	APR_ARRAY_PUSH(list->subs, mps_subscriber_t) = sub;
}

apr_status_t
mps_notification_list_load(apr_array_header_t **subs, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	struct subscriber_list list;
	int before = mps_config_error_count(errs);

	list.subs = apr_array_make(pool, MPS_MAX_SUBSCRIBERS,
	    sizeof(mps_subscriber_t));
	list.path = path;
	list.errs = errs;
	list.pool = pool;
	*subs = list.subs;
	if (for_each_entry(path, errs, pool, add_subscriber, &list) !=
	    APR_SUCCESS)
		return MPS_ERR_CONFIG;
	return mps_config_error_count(errs) > before ? MPS_ERR_CONFIG :
	    APR_SUCCESS;
}

/* ---------------------------------------------------------------- */
/* AuthorizedServersList.config                                      */
/* ---------------------------------------------------------------- */

static const char *
parse_server(const char *text, mps_authorized_server_t *srv,
    apr_pool_t *pool)
{
	const char *colon, *rest, *reason;

	if (strstr(text, "://") != NULL)
		return "it looks like a URL; write only host:port";
	if (*text != '[') {
		colon = strchr(text, ':');
		if (colon == NULL)
			return "the :port is missing";
		if (strchr(colon + 1, ':') != NULL)
			return "an IPv6 address must be in brackets, as "
			    "[address]:port";
	}
	reason = parse_host(text, ":", &srv->host, &rest, pool);
	if (reason != NULL)
		return reason;
	if (*rest != ':')
		return "the :port is missing";
	return parse_port(rest + 1, strlen(rest + 1), &srv->port, pool);
}

struct server_list {
	apr_array_header_t *servers;
	const char *path;
	mps_config_errors_t *errs;
	apr_pool_t *pool;
};

static void
add_server(void *ctx, const char *text, int line)
{
	struct server_list *list = ctx;
	mps_authorized_server_t srv, *kept;
	const char *reason;
	int i;

	memset(&srv, 0, sizeof(srv));
	reason = parse_server(text, &srv, list->pool);
	if (reason != NULL) {
		mps_config_error(list->errs, list->path, line,
		    "%s is not host:port: %s",
		    mps_config_quote(text, list->pool), reason);
		return;
	}
	for (i = 0; i < list->servers->nelts; i++) {
		kept = &APR_ARRAY_IDX(list->servers, i,
		    mps_authorized_server_t);
		if (kept->port == srv.port &&
		    hosts_equal(kept->host, srv.host)) {
			mps_config_warning(list->errs, list->path, line,
			    "%s repeats line %d; ignored",
			    mps_config_quote(text, list->pool), kept->line);
			return;
		}
	}
	srv.line = line;
	APR_ARRAY_PUSH(list->servers, mps_authorized_server_t) = srv;
}

apr_status_t
mps_authorized_servers_load(apr_array_header_t **servers, const char *path,
    mps_config_errors_t *errs, apr_pool_t *pool)
{
	struct server_list list;
	int before = mps_config_error_count(errs);

	list.servers = apr_array_make(pool, 8,
	    sizeof(mps_authorized_server_t));
	list.path = path;
	list.errs = errs;
	list.pool = pool;
	*servers = list.servers;
	if (for_each_entry(path, errs, pool, add_server, &list) !=
	    APR_SUCCESS)
		return MPS_ERR_CONFIG;
	return mps_config_error_count(errs) > before ? MPS_ERR_CONFIG :
	    APR_SUCCESS;
}

int
mps_authorized_servers_allows(const apr_array_header_t *servers,
    const char *host, apr_port_t port)
{
	const mps_authorized_server_t *srv;
	char name[HOST_MAX];
	mps_config_ip_t ip;
	size_t n;
	int i, dot = 0;

	if (servers == NULL || host == NULL)
		return 0;
	/* The device may name the host as "[v6]" or as an absolute DNS
	 * name ("host.example.com."); neither changes which host it is. */
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n > 1 && host[n - 1] == '.') {
		n--;
		dot = 1;
	}
	if (n == 0 || n >= sizeof(name))
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	/* The dot makes an absolute name of a name only: "192.0.2.7." is no
	 * address to the resolver, which would look it up in DNS, so it
	 * must not pass as the listed 192.0.2.7 (and is no listable name). */
	if (dot && mps_config_parse_ip(name, &ip))
		return 0;

	for (i = 0; i < servers->nelts; i++) {
		srv = &APR_ARRAY_IDX(servers, i, mps_authorized_server_t);
		if (srv->port == port && hosts_equal(srv->host, name))
			return 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Paths                                                             */
/* ---------------------------------------------------------------- */

const char *
mps_config_resolve(const char *base_dir, const char *path, apr_pool_t *pool)
{
	size_t n;

	if (path == NULL)
		return NULL;
	if (path[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
		return apr_pstrdup(pool, path);
	/* "./x" is x; keep messages free of "/./". */
	while (path[0] == '.' && path[1] == '/') {
		path += 2;
		while (*path == '/')
			path++;
	}
	n = strlen(base_dir);
	if (base_dir[n - 1] == '/')
		return apr_pstrcat(pool, base_dir, path, NULL);
	return apr_pstrcat(pool, base_dir, "/", path, NULL);
}
