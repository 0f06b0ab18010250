/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_filter.h: the AuthorizedServers filter (guide 6.1 "Filtering",
 * 6.2 AuthorizedServersList.config).
 *
 * Devices ask the MPS for two kinds of outbound traffic: PET alerts
 * (GLOBAL_REQUEST udp-send-to@amt.intel.com, one UDP datagram) and
 * device-initiated connections (CHANNEL_OPEN direct-tcpip, how AMT
 * delivers WS-Eventing). Both go through this one decision, made BEFORE
 * any side effect (no resolution, no socket):
 *
 *   FilterUnauthorizedServers false  everything is allowed;
 *   FilterUnauthorizedServers true   only host:port pairs listed in
 *                                    AuthorizedServersList.config.
 *
 * The host is compared as the device wrote it, never resolved: a listed
 * name matches that name (case-insensitively, a trailing dot and [v6]
 * brackets ignored), a listed IP literal matches that address in any
 * spelling of it (::1 and 0:0::1 are one address). A name is never
 * matched to an address it resolves to, because resolving would let a
 * DNS answer widen the list and would block the device's strand.
 *
 * Thread-safety: pure; cfg and servers are only read.
 */
#ifndef MPS_SERVER_FILTER_H
#define MPS_SERVER_FILTER_H

#include <apr_network_io.h>
#include <apr_tables.h>

#include "config.h"

/*
 * Whether a device may send to (or connect to) host:port. cfg gives
 * FilterUnauthorizedServers; servers is the array of
 * mps_authorized_server_t read by mps_authorized_servers_load(). A NULL
 * cfg counts as filtering on, and a NULL servers list as an empty one, so
 * that a missing piece of configuration refuses rather than allows.
 * host NULL or empty, or port 0, is refused while filtering.
 * Returns 1 to allow, 0 to refuse.
 */
int mps_filter_allows(const mps_config_t *cfg,
    const apr_array_header_t *servers, const char *host, apr_port_t port);

#endif /* MPS_SERVER_FILTER_H */
