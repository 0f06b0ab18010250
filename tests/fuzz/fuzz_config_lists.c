/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config_lists.c: the two list files, NotificationList.config
 * (mps_notification_list_load) and AuthorizedServersList.config
 * (mps_authorized_servers_load), and the filter's lookup in the second
 * (mps_authorized_servers_allows).
 *
 * The first byte picks the file (low bit set: the authorized servers);
 * the rest is its contents. Checks beyond "no crash, no sanitizer
 * report":
 *   - APR_SUCCESS exactly when no error was collected;
 *   - every message names the file and is one printable line;
 *   - each subscriber kept has a known scheme, a host, a port, a path
 *     starting with '/' and made of printable ASCII only (it goes into
 *     HTTP request lines verbatim), and there are at most
 *     MPS_MAX_SUBSCRIBERS;
 *   - each authorized server has a lower-case host free of brackets,
 *     blanks and control bytes, a port, and is allowed by the lookup as
 *     stored, in brackets (IPv6) and as an absolute name (trailing dot),
 *     but not on another port unless listed there too.
 */
#define _GNU_SOURCE 1
#include "fuzz_config.h"

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <ctype.h>

#include "config.h"
#include "config_xml.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

static void
check_text(const char *s, int allow_upper)
{
	const unsigned char *p = (const unsigned char *)s;

	if (s == NULL || *s == '\0')
		abort();
	for (; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || (!allow_upper && isupper(*p)))
			abort();
}

static void
check_subscribers(const apr_array_header_t *subs)
{
	int i;

	if (subs->nelts > MPS_MAX_SUBSCRIBERS)
		abort();
	for (i = 0; i < subs->nelts; i++) {
		const mps_subscriber_t *s =
		    &APR_ARRAY_IDX(subs, i, mps_subscriber_t);

		if (s->url == NULL || s->host == NULL || s->port == 0 ||
		    (strcmp(s->scheme, "http") != 0 &&
		    strcmp(s->scheme, "https") != 0) ||
		    s->path == NULL || s->path[0] != '/' || s->line < 1)
			abort();
		check_text(s->path, 1);
		check_text(s->host, 0);
	}
}

static void
check_servers(const apr_array_header_t *servers, apr_pool_t *pool)
{
	int i;

	for (i = 0; i < servers->nelts; i++) {
		const mps_authorized_server_t *s =
		    &APR_ARRAY_IDX(servers, i, mps_authorized_server_t);
		mps_config_ip_t ip;
		apr_port_t other = (apr_port_t)(s->port == 65535 ? 1 :
		    s->port + 1);
		int is_ip;

		if (s->port == 0 || s->line < 1)
			abort();
		check_text(s->host, 0);
		if (strchr(s->host, '[') != NULL || strchr(s->host, ']'))
			abort();
		is_ip = mps_config_parse_ip(s->host, &ip);
		if (!is_ip && !mps_config_is_hostname(s->host))
			abort();
		if (!mps_authorized_servers_allows(servers, s->host, s->port))
			abort();
		if (is_ip && ip.family == AF_INET6 &&
		    !mps_authorized_servers_allows(servers,
		    apr_psprintf(pool, "[%s]", s->host), s->port))
			abort();
		if (!is_ip && !mps_authorized_servers_allows(servers,
		    apr_psprintf(pool, "%s.", s->host), s->port))
			abort();
		/* The port is part of the entry. */
		if (mps_authorized_servers_allows(servers, s->host, other)) {
			int j, found = 0;

			for (j = 0; j < servers->nelts; j++) {
				const mps_authorized_server_t *t =
				    &APR_ARRAY_IDX(servers, j,
				    mps_authorized_server_t);

				if (t->port == other)
					found = 1;
			}
			if (!found)
				abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apr_pool_t *pool;
	mps_config_errors_t *errs;
	apr_array_header_t *list = NULL;
	const char *path;
	int servers;
	apr_status_t rv;

	if (size == 0)
		return 0;
	if (root == NULL) {
		if (apr_initialize() != APR_SUCCESS ||
		    apr_pool_create(&root, NULL) != APR_SUCCESS)
			abort();
	}
	servers = data[0] & 1;
	if (apr_pool_create(&pool, root) != APR_SUCCESS)
		abort();
	path = fuzz_file_put(data + 1, size - 1);
	errs = mps_config_errors_create(pool);
	rv = servers ? mps_authorized_servers_load(&list, path, errs, pool) :
	    mps_notification_list_load(&list, path, errs, pool);
	if ((rv == APR_SUCCESS) != (mps_config_error_count(errs) == 0) ||
	    list == NULL)
		abort();
	fuzz_check_errors(errs, path);
	/* Entries are kept even when other lines are bad: check them all. */
	if (servers)
		check_servers(list, pool);
	else
		check_subscribers(list);
	apr_pool_destroy(pool);
	return 0;
}
