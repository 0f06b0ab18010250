/* SPDX-License-Identifier: Apache-2.0 */
/* safety_check.c: see safety_check.h. */
#include "safety_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "file_needs.h"

/* The passwords of config/demo's accounts files. */
static const char *const demo_passwords[] = { "P@ssw0rd", "console-demo" };

int
mps_address_is_loopback(const char *ip)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (ip == NULL)
		return 0;
	if (strcasecmp(ip, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, ip, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
	}
	return 0;	/* "*", a wildcard or a host name: reachable */
}

/* The first non-loopback listener of a role, or NULL. */
static const char *
exposed_address(const mps_config_t *cfg, const char *role)
{
	if (strcmp(role, "AMT") == 0)
		return mps_address_is_loopback(cfg->amt_listen_ip) ? NULL :
		    cfg->amt_listen_ip;
	if (!mps_address_is_loopback(cfg->socks_listen_ip))
		return cfg->socks_listen_ip;
	if (!mps_address_is_loopback(cfg->http_listen_ip))
		return cfg->http_listen_ip;
	return NULL;
}

/* Reports each demo password in the accounts file path. */
static int
check_accounts(const char *path, const char *role, int group_line,
    const char *exposed, const char *cfg_path, mps_config_errors_t *errs)
{
	char line[4200];
	FILE *f = fopen(path, "re");
	int n = 0, found = 0;
	size_t k;

	if (f == NULL)
		return 0;	/* file_needs reports an unreadable file */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon, *end;
		n++;
		if ((end = strchr(line, '\n')) != NULL)
			*end = '\0';
		end = line + strlen(line);
		if (end > line && end[-1] == '\r')
			*--end = '\0';
		if (line[strspn(line, " \t")] == '#' ||
		    (colon = strchr(line, ':')) == NULL)
			continue;
		for (k = 0; k < sizeof(demo_passwords) / sizeof(demo_passwords[0]);
		    k++) {
			if (strcmp(colon + 1, demo_passwords[k]) != 0)
				continue;
			*colon = '\0';
			mps_config_error(errs, path, n, "user \"%s\" has a demo "
			    "password of config/demo, and %s clients reach mpsd "
			    "on %s (not loopback): give it a password of its own "
			    "(see %s:%d)", line, role, exposed, cfg_path,
			    group_line);
			found++;
			break;
		}
	}
	fclose(f);
	return found;
}

int
mps_safety_check(const mps_server_t *srv, mps_config_errors_t *errs)
{
	static const char *const roles[] = { "AMT", "Socks" };
	const mps_config_t *cfg = srv->cfg;
	apr_pool_t *scratch;
	int found = 0;
	size_t r;

	if (apr_pool_create(&scratch, srv->pool) != APR_SUCCESS)
		return 0;
	for (r = 0; r < 2; r++) {
		const char *exposed = exposed_address(cfg, roles[r]);
		const char *path = mps_file_plugin_accounts(srv, roles[r], scratch);
		int line = r == 0 ? cfg->amt_auth.line : cfg->socks_auth.line;

		if (exposed != NULL && path != NULL)
			found += check_accounts(path, roles[r], line, exposed,
			    cfg->path, errs);
	}
	if (!cfg->amt_auth.need_authentication &&
	    cfg->tls_verify_client != MPS_VERIFY_CLIENT_REQUIRE &&
	    exposed_address(cfg, "AMT") != NULL)
		mps_config_warning(errs, cfg->path, cfg->amt_auth.line,
		    "Intel AMT devices are accepted without authentication on "
		    "%s (not loopback): set AMT_Authenticate NeedAuthentication "
		    "or TLS VerifyClient require", cfg->amt_listen_ip);
	if (!cfg->socks_auth.need_authentication &&
	    exposed_address(cfg, "Socks") != NULL)
		mps_config_warning(errs, cfg->path, cfg->socks_auth.line,
		    "management consoles are accepted without authentication on "
		    "%s (not loopback): set Socks_Authenticate NeedAuthentication",
		    exposed_address(cfg, "Socks"));
	apr_pool_destroy(scratch);
	return found;
}
