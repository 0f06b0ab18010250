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
 * The layer sits ABOVE the tunnel: it registers mps_relay_tunnel_ops with
 * the device side and reaches the tunnel only through the tunnel API of
 * apf_session.h (queue output, room left, close, kick, name, strand).
 * The tunnel never calls into this file by name, and the outbound module
 * (direct_tcpip.h) sits above both.
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

struct mps_console_t;

/* The ops the device side calls (apf_session.h). on_device_open is NULL
 * here: the outbound module fills it in (direct_tcpip.h), and a tunnel
 * without it refuses CHANNEL_OPEN. */
extern const mps_tunnel_ops_t mps_relay_tunnel_ops;

/* Posted to the device's strand by the console hand-over
 * (mps_console_move()): open a forwarded-tcpip channel for the console. */
void mps_relay_attach(void *console);

/* ---- channels the device opens (for direct_tcpip.c) ---- */

/*
 * A CHANNEL_OPEN from the device with sender id and window, whose peer
 * is conn (connecting, not yet registered): allocates a PENDING channel
 * (channel.h) owned by conn, sets conn->chan and conn->session, and arms
 * the open timeout (ChannelOpenTimeout: then the sweep refuses it and
 * finalizes conn). APR_ENOSPC: MaxChannelsPerDevice reached; any error
 * leaves conn untouched (the caller refuses the open and finalizes it).
 */
apr_status_t mps_relay_accept_open(mps_session_t *t, struct mps_console_t *conn,
    apr_uint32_t sender, apr_uint32_t window);

/* conn's connection is up: CHANNEL_OPEN_CONFIRMATION goes out and the
 * channel is relayed like a console's. Closes the tunnel if the answer
 * cannot be queued. */
void mps_relay_confirm_open(struct mps_console_t *conn);

/* conn's connection failed: CHANNEL_OPEN_FAILURE reason goes out, the
 * channel is finished and conn finalized. */
void mps_relay_fail_open(struct mps_console_t *conn, apr_uint32_t reason);

/* A CHANNEL_OPEN refused before any channel was allocated. */
void mps_relay_refuse_open(mps_session_t *t, apr_uint32_t sender,
    apr_uint32_t reason);

#endif /* MPS_CHANNEL_RELAY_H */
