/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_tcpip.h: channels the device opens (CHANNEL_OPEN direct-tcpip),
 * which is how AMT delivers WS-Eventing to a management server.
 *
 * The requested host:port must pass outbound.h's check (address form and
 * the AuthorizedServersList filter); else CHANNEL_OPEN_FAILURE 1. mpsd
 * then connects: a host name is resolved on the blocking lane, the
 * connect itself is non-blocking and watched on the device's strand,
 * bounded by ChannelOpenTimeout. A failure or timeout is
 * CHANNEL_OPEN_FAILURE 2. Once connected, the channel is confirmed and
 * relayed by the channel layer (channel_relay.h) with the same windows as
 * a console's: the connection is the channel's peer (channel_peer.h),
 * with its own socket, buffer and registration on the device's strand
 * (direct_tcpip_priv.h). It is not a console and console.c knows
 * nothing of it.
 */
#ifndef MPS_DIRECT_TCPIP_H
#define MPS_DIRECT_TCPIP_H

#include "apf_session.h"

/* The on_device_open op of the channel layer (apf_session.h): whoever
 * ties the layers up puts it into the device side's channel_ops. */
void mps_direct_tcpip_open(mps_session_t *t, const mps_apf_msg_t *m);

#endif /* MPS_DIRECT_TCPIP_H */
