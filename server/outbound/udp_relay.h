/* SPDX-License-Identifier: Apache-2.0 */
/*
 * udp_relay.h: PET alerts out of the tunnel.
 *
 * AMT sends a Platform Event Trap (an SNMP trap, normally to UDP port
 * 162) through its tunnel as GLOBAL_REQUEST udp-send-to@amt.intel.com
 * (APF.md): dest_addr, dest_port and a payload that must leave the MPS as
 * ONE UDP datagram, byte for byte. This module sends it.
 *
 * It is called from a device's strand, so it never blocks:
 *
 *   - an IPv4 or IPv6 literal ("192.0.2.7", "2001:db8::1", "[::1]") is
 *     sent at once with one sendto() on a shared non-blocking UDP socket,
 *     one per address family, created on first use. A full socket buffer
 *     drops the datagram (APR_EAGAIN), which is what UDP does anyway; an
 *     IPv4-mapped IPv6 literal goes out over IPv4.
 *   - a host NAME is resolved on the blocking lane (workers.h) and sent
 *     from there, from a copy of the payload. The call returns once the
 *     send is queued; what becomes of it is logged (a WARNING naming the
 *     origin and the target when it is dropped, DEBUG when sent). At most
 *     MPS_UDP_MAX_PENDING such sends wait at a time, so a device that
 *     floods alerts to names cannot fill the blocking lane.
 *
 * Policy is NOT here: the caller decides first, with mps_filter_allows()
 * (outbound.h), whether the device may send to dest at all, and
 * answers want_reply itself.
 *
 * Thread-safety: mps_udp_relay_send() and mps_udp_relay_stats() may be
 * called from any thread at once.
 */
#ifndef MPS_UDP_RELAY_H
#define MPS_UDP_RELAY_H

#include <apr_errno.h>
#include <apr_network_io.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "workers.h"

/* The largest UDP payload over IPv4 (65535 - 20 - 8); refused above. */
#define MPS_UDP_MAX_PAYLOAD		65507
/* Longest destination host: a DNS name is at most 253 characters; an
 * IPv6 literal with a scope and brackets fits too. */
#define MPS_UDP_MAX_HOST		255
/* Sends to host names queued on the blocking lane at most at once. */
#define MPS_UDP_MAX_PENDING		256
/* Longest origin kept for a deferred send's log line (longer is cut). */
#define MPS_UDP_MAX_ORIGIN		300

typedef struct mps_udp_relay_t mps_udp_relay_t;

/*
 * Creates a relay that resolves names on workers' blocking lane. No
 * socket is opened yet. Returns APR_SUCCESS, APR_EINVAL (workers NULL) or
 * APR_ENOMEM. The relay is malloc'd; workers must outlive it (see
 * mps_udp_relay_destroy()).
 */
apr_status_t mps_udp_relay_create(mps_udp_relay_t **r, mps_workers_t *workers);

/*
 * Gives up the caller's hold on the relay. No mps_udp_relay_send() may
 * follow or run concurrently. Sends still queued on the blocking lane
 * keep the relay alive until they finish (or are discarded when the
 * workers stop); the last one closes the sockets and frees it, so this
 * never waits. NULL is allowed.
 */
void mps_udp_relay_destroy(mps_udp_relay_t *r);

/*
 * Sends payload[0 .. len) to dest_host:dest_port as one datagram.
 *
 * origin names the sender in the log lines of a deferred send, e.g. the
 * device's name and address (NULL: "a device"); it is copied (at most
 * MPS_UDP_MAX_ORIGIN bytes).
 * dest_host is an IPv4 literal, an IPv6 literal with or without
 * brackets, or a host name (at most MPS_UDP_MAX_HOST characters).
 * len may be 0 (an empty datagram), at most MPS_UDP_MAX_PAYLOAD.
 *
 * Returns
 *   APR_SUCCESS        a literal: the datagram went to the kernel; a name:
 *                      the send is queued (its outcome is logged);
 *   APR_EINVAL         no host, an empty or too long one, port 0,
 *                      payload NULL with len > 0;
 *   MPS_ERR_TOO_LARGE  len > MPS_UDP_MAX_PAYLOAD;
 *   MPS_ERR_QUEUE_FULL MPS_UDP_MAX_PENDING name sends already wait;
 *   MPS_ERR_SHUTDOWN   the workers are stopping;
 *   APR_ENOMEM, or the OS error of socket() / sendto() (APR_EAGAIN:
 *                      the socket buffer is full, the datagram dropped).
 * On failure err (if not NULL) says why in words, for the caller's log
 * line; on success it is the empty string.
 */
apr_status_t mps_udp_relay_send(mps_udp_relay_t *r, const char *origin,
    const char *dest_host, apr_port_t dest_port, const void *payload,
    size_t len, char *err, size_t errsize);

/*
 * A destination as mps_udp_relay_send() reads it, before any I/O: host
 * without [v6] brackets, and the address when host is a literal.
 */
typedef struct mps_udp_dest_t {
	char host[MPS_UDP_MAX_HOST + 1];
	int family;		/* AF_INET or AF_INET6 for a literal (an
				 * IPv4-mapped IPv6 one is AF_INET); AF_UNSPEC
				 * for a name, left to the resolver */
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} addr;			/* the literal with dest_port, if any */
	socklen_t addr_len;
} mps_udp_dest_t;

/*
 * The checks and parsing mps_udp_relay_send() starts with, apart so that
 * tests and fuzz targets reach them without sockets: dest_host, dest_port
 * and len as described there. Returns APR_SUCCESS with *d filled, or
 * APR_EINVAL / MPS_ERR_TOO_LARGE with err saying why. Pure; thread-safe.
 */
apr_status_t mps_udp_relay_parse_dest(const char *dest_host,
    apr_port_t dest_port, size_t len, mps_udp_dest_t *d, char *err,
    size_t errsize);

/* Counters since creation, for statistics and tests (any pointer may be
 * NULL): datagrams handed to the kernel, sends dropped after they were
 * accepted (a name that did not resolve or could not be sent to; refusals
 * returned by mps_udp_relay_send() are not counted), and name sends
 * queued and not yet done. */
void mps_udp_relay_stats(mps_udp_relay_t *r, uint64_t *sent,
    uint64_t *dropped, unsigned *pending);

#endif /* MPS_UDP_RELAY_H */
