/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config_static.c: mps.config's reader (mps_config_load) under a
 * fuzzer: expat, the element tree (config_xml.c), the keyword table and
 * every value parser and cross-check of config_static.c.
 *
 * The input is the whole file (see fuzz_config.h for how a path-only
 * loader gets it). Beyond "no crash, no sanitizer report":
 *   - the result is APR_SUCCESS exactly when no error was collected;
 *   - every message names the file and is one printable line;
 *   - a configuration accepted without errors holds only values its
 *     parsers allow (ports 1-65535, listen addresses that are literals
 *     or "*", numbers in their documented ranges, enums in range).
 */
#define _GNU_SOURCE 1
#include "fuzz_config.h"

#include <apr_general.h>
#include <apr_pools.h>

#include "config.h"
#include "config_xml.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *root;

static void
check_listen_ip(const char *ip)
{
	mps_config_ip_t parsed;

	if (ip == NULL ||
	    (strcmp(ip, "*") != 0 && !mps_config_parse_ip(ip, &parsed)))
		abort();
}

/* What an error-free load must have produced. */
static void
check_config(const mps_config_t *c)
{
	mps_config_ip_t ip;

	check_listen_ip(c->amt_listen_ip);
	check_listen_ip(c->socks_listen_ip);
	check_listen_ip(c->http_listen_ip);
	if (c->amt_listen_port == 0 || c->socks_listen_port == 0 ||
	    c->http_listen_port == 0)
		abort();
	/* MpsAddress: a name or a specific address, unless it is the
	 * default, SocksListenIP (a wildcard there is only a warning). */
	if (c->mps_address == NULL)
		abort();
	if (strcmp(c->mps_address, c->socks_listen_ip) != 0 &&
	    !mps_config_is_hostname(c->mps_address) &&
	    (!mps_config_parse_ip(c->mps_address, &ip) ||
	    mps_config_ip_is_any(&ip)))
		abort();
	if (c->log_file_name == NULL || c->log_file_name[0] == '\0' ||
	    strchr(c->log_file_name, '/') != NULL)
		abort();
	if (c->log_file_max_size_kb < 1 || c->log_file_max_files < 1 ||
	    c->max_connections < 1 || c->max_channels_per_device < 1 ||
	    c->worker_threads < 0 || c->blocking_threads < 1 ||
	    c->channel_window_size < 1024 ||
	    c->keepalive_interval <= 0 || c->idle_timeout <= 0 ||
	    c->channel_open_timeout <= 0 || c->channel_idle_timeout < 0 ||
	    c->tls_handshake_timeout <= 0 || c->notification_timeout <= 0 ||
	    c->dynamic_config_check_interval < 0)
		abort();
	if ((unsigned)c->tls_mode > MPS_TLS_MODE_PLAIN ||
	    (unsigned)c->tls_profile > MPS_TLS_PROFILE_LEGACY ||
	    (unsigned)c->tls_verify_client > MPS_VERIFY_CLIENT_REQUIRE ||
	    (unsigned)c->keepalive_timing > MPS_KEEPALIVE_NEVER)
		abort();
	if ((c->amt_auth.need_authentication &&
	    c->amt_auth.dll_name == NULL) ||
	    (c->socks_auth.need_authentication &&
	    c->socks_auth.dll_name == NULL))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	apr_pool_t *pool;
	mps_config_errors_t *errs;
	mps_config_t *cfg = NULL;
	const char *path;
	apr_status_t rv;

	if (root == NULL) {
		if (apr_initialize() != APR_SUCCESS ||
		    apr_pool_create(&root, NULL) != APR_SUCCESS)
			abort();
	}
	if (apr_pool_create(&pool, root) != APR_SUCCESS)
		abort();
	path = fuzz_file_put(data, size);
	errs = mps_config_errors_create(pool);
	rv = mps_config_load(&cfg, path, errs, pool);
	if ((rv == APR_SUCCESS) != (mps_config_error_count(errs) == 0) ||
	    cfg == NULL)
		abort();
	fuzz_check_errors(errs, path);
	if (rv == APR_SUCCESS)
		check_config(cfg);
	apr_pool_destroy(pool);
	return 0;
}
