/* SPDX-License-Identifier: Apache-2.0 */
/*
 * listener.h: a listening TCP socket that hands accepted connections to
 * an owner.
 *
 * Bound early (while mpsd may still be root and before it detaches);
 * started once the poller runs. Accepting happens in a task on the
 * listener's own strand, never on the poller, a batch at a time so that a
 * connection storm does not starve established tunnels. When the process
 * runs out of descriptors, the listener pauses briefly instead of
 * spinning on a socket that stays readable.
 */
#ifndef MPS_LISTENER_H
#define MPS_LISTENER_H

#include <apr_network_io.h>
#include <sys/socket.h>

#include "poller.h"

typedef struct mps_listener_t mps_listener_t;

/*
 * Called on the listener's strand for each accepted connection: fd is
 * non-blocking, close-on-exec, with TCP_NODELAY; the callee owns it.
 * peer is the printable "ip:port" of the remote end.
 */
typedef void (*mps_accept_fn)(void *ctx, int fd, const char *peer);

/*
 * Binds name's socket on ip:port. ip "*", "" or NULL means every address
 * (IPv6 and IPv4). The listener is malloc'd. err names the address on
 * failure ("AMT listener 127.0.0.1:4433: Address already in use").
 */
apr_status_t mps_listener_bind(mps_listener_t **listener, const char *name,
    const char *ip, apr_port_t port, char *err, size_t errsize);

/* The port actually bound. */
apr_port_t mps_listener_port(const mps_listener_t *listener);

/* Starts accepting; fn(ctx, ...) runs on the listener's strand. */
apr_status_t mps_listener_start(mps_listener_t *listener, mps_poller_t *poller,
    mps_workers_t *workers, mps_accept_fn fn, void *ctx);

/* Closes the socket and frees the listener. Call after the poller and
 * the workers have stopped (nothing may still run for it). NULL is fine. */
void mps_listener_destroy(mps_listener_t *listener);

/* "ip:port" of a socket address, for logs. */
void mps_sockaddr_text(const struct sockaddr *sa, char *buf, size_t bufsize);

/* The reverse, for the peer text of mps_accept_fn: "1.2.3.4:5" gives ip
 * "1.2.3.4" and port 5, "[::1]:5" gives "::1" and 5 (ip truncated to
 * size; port may be NULL). */
void mps_peer_split(const char *peer, char *ip, size_t size,
    apr_port_t *port);

#endif
