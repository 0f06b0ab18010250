/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbound.h: what a device may reach outside the MPS, decided in one
 * place (guide 6.1 "Filtering", 6.2 AuthorizedServersList.config).
 *
 * Devices ask the MPS for two kinds of outbound traffic: PET alerts
 * (GLOBAL_REQUEST udp-send-to@amt.intel.com, one UDP datagram, sent by
 * udp_relay.c) and device-initiated connections (CHANNEL_OPEN
 * direct-tcpip, how AMT delivers WS-Eventing, connected by
 * direct_tcpip.c). Both go through mps_outbound_check(): the address
 * form first, then the AuthorizedServers filter, BEFORE any side effect
 * (no resolution, no socket):
 *
 *   FilterUnauthorizedServers false  every well-formed address is allowed;
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
 * Thread-safety: pure; cfg and servers are only read (the UDP send is
 * udp_relay.h's, which any thread may call).
 */
#ifndef MPS_OUTBOUND_H
#define MPS_OUTBOUND_H

#include <apr_network_io.h>
#include <apr_tables.h>

#include "apf_codec.h"
#include "config.h"

struct mps_udp_relay_t;

/* What a device may reach, as the device side holds it. */
typedef struct mps_outbound_t {
	const mps_config_t *cfg;		/* FilterUnauthorizedServers */
	const apr_array_header_t *servers;	/* AuthorizedServersList */
	struct mps_udp_relay_t *udp;		/* NULL: no PET alerts */
	/* The device's log limit for refusals (log_limit.h, used on its
	 * strand); NULL: every warning is written. */
	struct mps_log_limit_t *warn_limit;
} mps_outbound_t;

typedef enum {
	MPS_OUTBOUND_ALLOWED = 0,
	MPS_OUTBOUND_INVALID,		/* not a host name/literal, bad port */
	MPS_OUTBOUND_NOT_AUTHORIZED	/* the filter refuses it */
} mps_outbound_verdict_t;

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

/*
 * Checks a destination off the wire: addr (len bytes, not terminated)
 * must be 1 .. size-1 bytes without a NUL and port 1 .. 65535, else
 * MPS_OUTBOUND_INVALID; then mps_filter_allows(), else
 * MPS_OUTBOUND_NOT_AUTHORIZED. host receives addr as a C string whenever
 * the form is valid (for the caller's log line).
 */
mps_outbound_verdict_t mps_outbound_check(const mps_outbound_t *ob,
    const char *addr, size_t len, apr_uint32_t port, char *host, size_t size);

/*
 * A PET alert (the GLOBAL_REQUEST udp-send-to m) from the device that
 * origin names in log lines: checked, then handed to the UDP relay; every
 * drop is logged as a WARNING naming origin and target. Returns 1 when
 * the datagram left (or is queued behind a name resolution), 0 when it
 * was dropped: the caller answers want_reply with it.
 */
int mps_outbound_udp_send_to(const mps_outbound_t *ob, const char *origin,
    const mps_apf_msg_t *m);

#endif /* MPS_OUTBOUND_H */
