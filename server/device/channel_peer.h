/* SPDX-License-Identifier: Apache-2.0 */
/*
 * channel_peer.h: the far end of a channel, as the channel layer
 * (channel_relay.c) sees it.
 *
 * A channel joins the device to one peer: a management console (SOCKS or
 * HTTP, console.c) for the channels mpsd opens, or the outgoing TCP
 * connection of a channel the device opened (direct-tcpip,
 * outbound/direct_tcpip.c). The channel layer owns the APF side of it
 * (windows, CHANNEL_DATA, WINDOW_ADJUST, CLOSE); the peer owns its socket,
 * its buffers and its poller registration. They meet only here:
 *
 *   channel -> peer (mps_chan_peer_ops_t)
 *     deliver    device bytes, never more than the window allows
 *     flush      write what was delivered; how many bytes the far end
 *                took (the channel grants that as WINDOW_ADJUST)
 *     unsent     delivered bytes not yet taken (the device's CLOSE ends
 *                the peer once this is 0: the device EOF)
 *     pending    bytes the peer already holds for the device
 *     read       bytes for the device, at most what the window and the
 *                tunnel's room allow (back-pressure: the channel asks
 *                for no more)
 *     wait       arm the peer's socket: input only when the channel says
 *                it may take some, output while bytes are unsent
 *     trim       once a sweep: free empty buffers kept for traffic
 *     opened, refused, closed, settle: the channel's life, below
 *
 *   peer -> channel (channel_relay.h)
 *     mps_relay_peer_io()   its socket is ready: the channel flushes (took
 *                           n bytes), reads (has bytes), sees EOF
 *                           (input_ended) or loss (-1 from an op: gone)
 *     mps_relay_detach()    the peer leaves its channel
 *
 * Everything here runs on the tunnel's strand: a peer is handed to that
 * strand before the channel layer first sees it (a console by
 * mps_console_move(); an outgoing connection is born there), and the
 * channel layer never calls an op from another thread.
 */
#ifndef MPS_CHANNEL_PEER_H
#define MPS_CHANNEL_PEER_H

#include <sys/types.h>

#include <apr.h>
#include <apr_network_io.h>

#include "channel.h"

struct mps_session_t;
typedef struct mps_chan_peer mps_chan_peer_t;

/* Why the peer gets no channel (refused). */
typedef enum {
	MPS_PEER_NO_DEVICE = 1,	/* the tunnel ended before the channel opened */
	MPS_PEER_DEVICE_REFUSED,	/* CHANNEL_OPEN_FAILURE from the device */
	MPS_PEER_TOO_MANY,		/* MaxChannelsPerDevice reached */
	MPS_PEER_TIMEOUT,		/* ChannelOpenTimeout passed */
	MPS_PEER_INTERNAL		/* out of memory, output full */
} mps_peer_refusal;

/* Why the channel lets go of an open peer (closed). */
typedef enum {
	MPS_PEER_ENDED = 1,	/* the channel ended (either side, an overrun) */
	MPS_PEER_TUNNEL_GONE,	/* the tunnel ended: write what the socket
				 * takes now, then close */
	MPS_PEER_IDLE		/* ChannelIdleTimeout */
} mps_peer_close;

typedef struct mps_chan_peer_ops {
	/* Device bytes for the peer, n > 0. The window bounds them; -1 when
	 * they do not fit anyway (the channel then closes the peer). */
	int (*deliver)(mps_chan_peer_t *p, const void *data, size_t n);
	/* Writes what was delivered; *took is what the far end accepted
	 * now. 0, or -1 when the peer is gone. */
	int (*flush)(mps_chan_peer_t *p, size_t *took);
	/* Delivered bytes not yet written. */
	size_t (*unsent)(const mps_chan_peer_t *p);
	/* Bytes the peer holds for the device. With fill set (the channel
	 * has window and room), a peer that holds none may first take more
	 * from its socket (an HTTP console reads and parses here). Sets
	 * p->input_ended when no more will come. -1: gone. */
	ssize_t (*pending)(mps_chan_peer_t *p, int fill);
	/* Up to max (> 0) bytes for the device into dst: held ones first;
	 * a peer holding none may read its socket. n, 0 for none now (with
	 * p->input_ended set at the end), -1 when gone. */
	ssize_t (*read)(mps_chan_peer_t *p, void *dst, size_t max);
	/* Arms the peer's socket for the next mps_relay_peer_io(): input
	 * when want_input, output while bytes are unsent. 0, or -1 (gone). */
	int (*wait)(mps_chan_peer_t *p, int want_input);

	/* The channel is open: data may flow (p->relaying is set). */
	void (*opened)(mps_chan_peer_t *p);
	/* No channel (p->chan is already NULL): the peer ends itself. */
	void (*refused)(mps_chan_peer_t *p, mps_peer_refusal why);
	/* The channel lets go of an open peer (p->chan is already NULL):
	 * the peer closes and is not seen again. */
	void (*closed)(mps_chan_peer_t *p, mps_peer_close why);
	/* End of a pump pass with nothing else to do: a peer may leave its
	 * channel here (mps_relay_detach()) to go elsewhere, and returns 1
	 * when it did. May be NULL. */
	int (*settle)(mps_chan_peer_t *p);
	/* Once a sweep: free buffer storage kept for traffic that is empty
	 * now (mps_buf_trim). May be NULL. */
	void (*trim)(mps_chan_peer_t *p);
} mps_chan_peer_ops_t;

/*
 * The part of a peer the channel layer reads and writes. The owner embeds
 * it and fills ops and the three names; the rest belongs to the channel
 * layer (except input_ended, which the peer sets).
 */
struct mps_chan_peer {
	const mps_chan_peer_ops_t *ops;
	const char *peer;		/* for log lines: ip:port */
	const char *device_name;
	apr_port_t port;		/* the device port, or the target's */

	struct mps_session_t *session;	/* the tunnel */
	mps_chan_t *chan;		/* NULL until open and once detached */
	apr_uint32_t remote_window_max;	/* largest window the device offered */
	unsigned relaying:1;		/* open: data flows */
	unsigned blocked:1;		/* waits for the tunnel's output */
	unsigned in_pump:1;
	unsigned input_ended:1;		/* the peer sends no more (EOF) */
};

#endif /* MPS_CHANNEL_PEER_H */
