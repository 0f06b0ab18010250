/* SPDX-License-Identifier: Apache-2.0 */
/* server_filter.c: see server_filter.h. */
#include "server_filter.h"

int
mps_filter_allows(const mps_config_t *cfg, const apr_array_header_t *servers,
    const char *host, apr_port_t port)
{
	/* The guide's "false: forwarded unconditionally". */
	if (cfg != NULL && !cfg->filter_unauthorized_servers)
		return 1;
	if (host == NULL || *host == '\0' || port == 0)
		return 0;
	/* The list compares IP literals as addresses and names without
	 * case, brackets or a trailing dot (config.h). */
	return mps_authorized_servers_allows(servers, host, port);
}
