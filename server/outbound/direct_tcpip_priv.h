/* SPDX-License-Identifier: Apache-2.0 */
/*
 * direct_tcpip_priv.h: the outgoing connection of a device-opened
 * channel, for direct_tcpip.c and its unit tests.
 *
 * OWNERSHIP. A connection is born on its tunnel's strand (the device's)
 * and lives and dies there: its socket is registered on that strand, the
 * channel layer calls its peer ops there, and its memory is freed by a
 * task of that strand, behind any poll firing posted before the
 * registration was released. It never changes strands, so it has no
 * hand-over and needs no lock; the only thing other threads see is the
 * live count (atomic).
 */
#ifndef MPS_DIRECT_TCPIP_PRIV_H
#define MPS_DIRECT_TCPIP_PRIV_H

#include <sys/socket.h>

#include "buf.h"
#include "channel_peer.h"
#include "direct_tcpip.h"
#include "poller.h"
#include "registry.h"

typedef enum {
	D_CONNECTING = 1,	/* connect() in progress; the channel PENDING */
	D_RELAY,		/* connected and confirmed: data both ways */
	D_CLOSED		/* ended; freed by a later strand task */
} direct_state;

typedef struct mps_direct_conn_t {
	mps_chan_peer_t cp;		/* the channel's view of it */
	direct_state state;
	mps_poller_t *poller;
	mps_strand_t *strand;		/* the tunnel's */
	mps_device_t *dev;		/* referenced: keeps the strand */
	int fd;
	apr_socket_t *wrap;
	mps_pollreg_t *reg;
	mps_buf_t down;			/* device bytes for the target; the
					 * window (and overrun) bounds it */
	unsigned eof:1;			/* the target sent FIN */
	unsigned logged:1;		/* the channel's open line went out */
	unsigned long long bytes_up, bytes_down;
	apr_uint32_t chan_remote, chan_local;
	apr_time_t opened_at;
	apr_port_t port;
	char host[MPS_REGISTRY_FQDN_SIZE];	/* as the device asked */
	char peer[64];				/* the address connected to */
	char device_name[MPS_DEVICE_LOG_NAME_SIZE];
} mps_direct_conn_t;

/*
 * Answers the device's CHANNEL_OPEN (sender, window) for host:port,
 * already checked by outbound.h, by connecting to addr; on the tunnel's
 * strand. Refuses the open itself on any failure; else the connection
 * confirms the channel once connected (or fails it: CHANNEL_OPEN_FAILURE
 * 2, connect failed).
 */
void mps_direct_tcpip_start(mps_session_t *t, apr_uint32_t sender,
    apr_uint32_t window, const char *host, apr_port_t port,
    const struct sockaddr *addr, socklen_t addrlen);

/*
 * The steps of mps_direct_tcpip_start() around connect() (tests drive
 * them with a socketpair end): begin takes fd (connecting or connected,
 * non-blocking) as the peer of a new PENDING channel and registers it,
 * unwatched; NULL after refusing the open (fd closed). wait_connect
 * watches for the connect's end: the channel is then confirmed, or
 * failed with the socket's error.
 */
mps_direct_conn_t *mps_direct_tcpip_begin(mps_session_t *t,
    apr_uint32_t sender, apr_uint32_t window, const char *host,
    apr_port_t port, int fd, const char *peer);
void mps_direct_tcpip_wait_connect(mps_direct_conn_t *d);

/* Outgoing connections not yet freed (any thread). */
unsigned mps_direct_tcpip_live(void);

#endif /* MPS_DIRECT_TCPIP_PRIV_H */
