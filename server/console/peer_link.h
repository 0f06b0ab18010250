/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_link.h: the instance-to-instance link (issue 14): a console that
 * asks this instance for a device another instance holds is forwarded to
 * that instance, the owner, which opens the APF channel as usual.
 *
 *   console --SOCKS/HTTP--> instance A --mutual TLS, header--> owner B
 *                            (login here)   answer, raw bytes   (channel)
 *
 * A, the instance the console came to, runs its front end (SOCKS or
 * HTTP) and the console's login as always. When the device is not
 * registered here, the front end calls mps_console_forward(): a link (on
 * a strand of its own) looks the device up in the directory and resolves
 * the owner's PeerAddress in one job of the blocking lane, then, driven
 * by the poller, connects to it, does the TLS handshake (both sides
 * present and verify a certificate chaining to PeerCAFile, TLS 1.2 or
 * later), sends the header (peer_header.h) and reads the owner's
 * two-byte answer. The result goes to the console's strand, which gives
 * the console the reply the front end gives for a device of its own
 * (opened, or the refusal) and hands its socket to the link, whose TLS
 * pipe (tls_pipe.h) relays bytes both ways until both directions are
 * closed.
 *
 * B accepts the TLS link (PeerListenIP:PeerListenPort) through the
 * poller; a link of its own does the TLS server handshake and then a TLS
 * pipe relays the plain bytes to one end of a socketpair; the other end
 * becomes a console of a third front end, the "peer" front
 * (peer_link.c), which reads the header, resolves the device and moves
 * to its strand like any console, and answers A. In the http mode it
 * hands the connection to the HTTP proxy front end with the login
 * already done (console_priv.h trusted).
 *
 * Threads. None per link: only the directory lookup and the name
 * resolution block, and they run on the blocking lane; everything else
 * is non-blocking on the link's strand. Links are bounded by
 * MaxPeerLinks each way; every wait is bounded by PeerTimeout (the
 * owner's answer by ChannelOpenTimeout on top). Memory per link: two
 * 16 KiB relay buffers at most and the TLS connection; a slow reader
 * stops the relay reading from the other side (back-pressure, as for a
 * console).
 */
#ifndef MPS_PEER_LINK_H
#define MPS_PEER_LINK_H

#include <apr_errno.h>
#include <stddef.h>

#include "config.h"

struct mps_console_side_t;
typedef struct mps_peer_links_t mps_peer_links_t;

/*
 * Where the device name is held, from the directory (called on the
 * blocking lane; may wait). Fills the holder's instance id and PeerAddress.
 * Returns APR_SUCCESS, APR_NOTFOUND (held nowhere), APR_EEXIST (held by
 * this very instance) or MPS_ERR_UNAVAILABLE (the directory is down).
 */
typedef apr_status_t (*mps_peer_lookup_fn)(void *arg, const char *name,
    char *instance, size_t isize, char *address, size_t asize);

/*
 * Builds the two TLS contexts from cfg's Peer* keys (certificate, key,
 * CA; verification always on) and the link's state. side is the console
 * side whose consoles are forwarded and which gets the peer consoles;
 * the caller then sets side->peer. err: one line on failure.
 */
apr_status_t mps_peer_links_create(mps_peer_links_t **links,
    const mps_config_t *cfg, struct mps_console_side_t *side,
    mps_peer_lookup_fn lookup, void *lookup_arg, char *err,
    size_t errsize);

/* The link listener's accept callback (listener.h); ctx is the links. */
void mps_peer_accept(void *ctx, int fd, const char *peer);

/* Asks every link to end (a task on its strand; the workers must still
 * run) and waits up to timeout for them. Returns how many are left. */
unsigned mps_peer_links_shutdown(mps_peer_links_t *links,
    apr_interval_time_t timeout);

/* Frees the links once none is left (shutdown returned 0). */
void mps_peer_links_destroy(mps_peer_links_t *links);

/* Links now, forwarded (out) and accepted (in). */
void mps_peer_links_count(mps_peer_links_t *links, unsigned *out,
    unsigned *in);

#endif
