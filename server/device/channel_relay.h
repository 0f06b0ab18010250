/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel_relay.h: the channel layer of a device tunnel.
 *
 * Every channel of a tunnel (a console's forwarded-tcpip channel, or one
 * the device opened with direct-tcpip) runs on the tunnel's strand: the
 * peer socket's events, the APF channel messages and the sweep timer. So
 * the channel table (channel.h), the windows and the tunnel's output need
 * no lock.
 *
 * The far end of a channel is a peer (channel_peer.h): a console
 * (console.c) or the outgoing connection of a direct-tcpip channel
 * (direct_tcpip.c). The layer knows peers only through their ops; the
 * peers call the functions below. Nothing here names a console.
 *
 * The layer sits ABOVE the tunnel: it registers mps_relay_tunnel_ops with
 * the device side and reaches the tunnel only through the tunnel API of
 * apf_session.h (queue output, room left, close, kick, name, strand).
 * The tunnel never calls into this file by name; the console side and
 * the outbound module (direct_tcpip.h) sit above both.
 *
 * Lifetime: the per-tunnel state (table, sweep timer) is made on the
 * first channel and kept in the tunnel's slot. When the tunnel ends, the
 * closing op only marks it; the peers are closed and the state freed by
 * the next task of the strand, so a walk of the table that made the
 * tunnel close (a failed CLOSE, a full output) never loses its table.
 */
#ifndef MPS_CHANNEL_RELAY_H
#define MPS_CHANNEL_RELAY_H

#include "apf_session.h"
#include "channel.h"
#include "channel_peer.h"

/* The ops the device side calls (apf_session.h). on_device_open is NULL
 * here: the outbound module fills it in (direct_tcpip.h), and a tunnel
 * without it refuses CHANNEL_OPEN. */
extern const mps_tunnel_ops_t mps_relay_tunnel_ops;

/* ---- every peer (on the tunnel's strand) ---- */

/* The peer's socket is ready (lost: it reported an error or hang-up):
 * the channel flushes the device's bytes, reads the peer's, sees its EOF,
 * or ends it (ops->closed). A stale firing (the peer no longer relaying)
 * does nothing. */
void mps_relay_peer_io(mps_chan_peer_t *p, int lost);

/* The peer leaves its channel (CLOSE goes to the device when due); the
 * channel layer does not touch it again. An HTTP console moving on to
 * another device, or a peer giving up before its channel was usable. */
void mps_relay_detach(mps_chan_peer_t *p);

/* ---- channels mpsd opens for a console (forwarded-tcpip) ---- */

/*
 * Sends CHANNEL_OPEN forwarded-tcpip to host:port (from orig_ip:orig_port)
 * with p as the channel's peer; on success p->chan and p->session are set
 * and p waits for the device: ops->opened or ops->refused follows (the
 * latter also on ChannelOpenTimeout). APR_ENOSPC: MaxChannelsPerDevice
 * reached; any error leaves p untouched.
 */
apr_status_t mps_relay_open(mps_session_t *t, mps_chan_peer_t *p,
    const char *host, apr_port_t port, const char *orig_ip,
    apr_port_t orig_port);

/* ---- channels the device opens (direct_tcpip.c) ---- */

/*
 * A CHANNEL_OPEN from the device with sender id and window, whose peer
 * is p (connecting): allocates a PENDING channel (channel.h), sets
 * p->chan and p->session, and arms the open timeout (ChannelOpenTimeout:
 * then the device hears CHANNEL_OPEN_FAILURE 2 and p gets ops->refused
 * MPS_PEER_TIMEOUT). APR_ENOSPC: MaxChannelsPerDevice reached; any error
 * leaves p untouched (the caller refuses the open).
 */
apr_status_t mps_relay_accept_open(mps_session_t *t, mps_chan_peer_t *p,
    apr_uint32_t sender, apr_uint32_t window);

/* p's connection is up: CHANNEL_OPEN_CONFIRMATION goes out, ops->opened
 * runs and the channel is relayed like a console's. Closes the tunnel if
 * the answer cannot be queued. */
void mps_relay_confirm_open(mps_chan_peer_t *p);

/* p's connection failed: CHANNEL_OPEN_FAILURE reason goes out and p
 * leaves the channel (no op is called: the caller ends p). */
void mps_relay_fail_open(mps_chan_peer_t *p, apr_uint32_t reason);

/* A CHANNEL_OPEN refused before any channel was allocated. */
void mps_relay_refuse_open(mps_session_t *t, apr_uint32_t sender,
    apr_uint32_t reason);

#endif /* MPS_CHANNEL_RELAY_H */
