/* SPDX-License-Identifier: Apache-2.0 */
/* outbound.c: see outbound.h. */
#include "outbound.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "log_limit.h"
#include "udp_relay.h"

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

mps_outbound_verdict_t
mps_outbound_check(const mps_outbound_t *ob, const char *addr, size_t len,
    apr_uint32_t port, char *host, size_t size)
{
	if (size > 0)
		host[0] = '\0';
	if (len == 0 || len >= size || memchr(addr, '\0', len) != NULL ||
	    port == 0 || port > 65535)
		return MPS_OUTBOUND_INVALID;
	memcpy(host, addr, len);
	host[len] = '\0';
	if (!mps_filter_allows(ob->cfg, ob->servers, host, (apr_port_t)port))
		return MPS_OUTBOUND_NOT_AUTHORIZED;
	return MPS_OUTBOUND_ALLOWED;
}

/* A refusal's WARNING, through the device's log limit when there is one:
 * a device repeating a refused alert must not flood the log. */
static void
warn(const mps_outbound_t *ob, const char *fmt, ...) MPS_PRINTF(2, 3);

static void
warn(const mps_outbound_t *ob, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (ob->warn_limit != NULL)
		mps_log_vlimited(ob->warn_limit, MPS_LOG_LIMIT_PEER_BURST,
		    MPS_LOG_LIMIT_PEER_INTERVAL, MPS_LOG_WARNING, fmt, ap);
	else
		mps_logger_vwrite(mps_log_default(), MPS_LOG_WARNING, fmt, ap);
	va_end(ap);
}

int
mps_outbound_udp_send_to(const mps_outbound_t *ob, const char *origin,
    const mps_apf_msg_t *m)
{
	mps_apf_str_t dest = m->u.global_request.dest_addr;
	uint32_t port = m->u.global_request.dest_port;
	char host[MPS_UDP_MAX_HOST + 1], err[160];

	switch (mps_outbound_check(ob, dest.ptr, dest.len, port,
	    host, sizeof(host))) {
	case MPS_OUTBOUND_INVALID:
		warn(ob, "%s: udp-send-to an invalid address "
		    "dropped", origin);
		return 0;
	case MPS_OUTBOUND_NOT_AUTHORIZED:
		warn(ob, "%s: alert to %s:%u dropped: not in the "
		    "authorized servers list", origin, host, (unsigned)port);
		return 0;
	case MPS_OUTBOUND_ALLOWED:
		break;
	}
	if (ob->udp == NULL) {
		mps_log(MPS_LOG_ERROR, "%s: alert to %s:%u dropped: no UDP "
		    "relay", origin, host, (unsigned)port);
		return 0;
	}
	if (mps_udp_relay_send(ob->udp, origin, host, (apr_port_t)port,
	    m->u.global_request.payload.ptr, m->u.global_request.payload.len,
	    err, sizeof(err)) != APR_SUCCESS) {
		warn(ob, "%s: alert to %s:%u dropped: %s", origin,
		    host, (unsigned)port, err);
		return 0;
	}
	mps_log(MPS_LOG_DEBUG, "%s: alert of %zu bytes sent to %s:%u", origin,
	    (size_t)m->u.global_request.payload.len, host, (unsigned)port);
	return 1;
}
