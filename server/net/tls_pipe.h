/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_pipe.h: relays bytes between a plain socket and a TLS stream
 * (mps_stream_t, handshake done), driven by the poller on one strand.
 *
 * The peer link (peer_link.h) uses it on both instances: on the one a
 * console came to, between the console's TCP socket and the TLS link to
 * the owner; on the owner, between the TLS link and the socketpair end
 * the peer front end's console reads.
 *
 *   plain fd --recv--> tls.out (cap) --SSL_write--> TLS socket
 *   plain fd <--send-- tls.in  (cap) <--SSL_read--- TLS socket
 *
 * Each way one bounded buffer (buf_size): a full buffer stops reading
 * from its source until the other end drains it (back-pressure; memory
 * per pipe is at most the two buffers and the SSL object). Half-close
 * is carried: the plain side's FIN becomes a close_notify once its bytes
 * are out, and the TLS side's close_notify becomes a FIN (shutdown
 * SHUT_WR) once its bytes are out; reading on the other direction goes
 * on. A TCP close without close_notify (truncation), a reset, or any
 * other error closes both at once: the TLS side without close_notify,
 * the plain side with a reset when it is TCP, so that neither end takes
 * a broken link for a complete transfer. There is no idle deadline: a
 * console may stay idle as long as it likes (the ends have their own).
 *
 * Threads: every function runs on the pipe's strand; the poller posts
 * the pipe's I/O there (one-shot watches, one registration per socket).
 * The pipe owns both sockets from mps_tls_pipe_start() on.
 */
#ifndef MPS_TLS_PIPE_H
#define MPS_TLS_PIPE_H

#include <apr_errno.h>
#include <stddef.h>

#include "poller.h"
#include "stream.h"

typedef struct mps_tls_pipe_t mps_tls_pipe_t;

/*
 * Called once, on the strand, when the pipe ends: error 0 when both
 * directions were closed cleanly, 1 otherwise (why says what). Called
 * BEFORE the pipe closes its sockets, so that whoever may call
 * mps_tls_pipe_abort() learns first that it must not any more; the pipe
 * is freed by a later task of the strand (the caller may release the
 * strand in this callback). up: bytes plain -> TLS, down: TLS -> plain.
 */
typedef void (*mps_tls_pipe_end_fn)(void *arg, int error, const char *why,
    unsigned long long up, unsigned long long down);

typedef struct {
	mps_poller_t *poller;
	mps_strand_t *strand;		/* where the pipe runs */
	size_t buf_size;		/* each way, bytes (> 0) */
	mps_tls_pipe_end_fn end;
	void *arg;
} mps_tls_pipe_options_t;

/*
 * On opt->strand: starts relaying between plain_fd (a non-blocking
 * stream socket) and *tls (non-blocking, TLS handshake done, or plain
 * for tests). Takes both: *tls is moved into the pipe (its struct left
 * with fd -1 and no SSL). to_plain goes to the plain side first, then
 * the bytes already in tls->in; to_tls goes to the TLS side first, then
 * what tls->out holds, then what is read from plain_fd (both copied;
 * each may exceed buf_size once). On an
 * error return both sockets are closed and end is never called.
 */
apr_status_t mps_tls_pipe_start(mps_tls_pipe_t **pipe,
    const mps_tls_pipe_options_t *opt, int plain_fd, mps_stream_t *tls,
    const void *to_plain, size_t to_plain_len, const void *to_tls,
    size_t to_tls_len);

/*
 * On the pipe's strand, before end has run: makes the pipe end soon, as
 * an error (both sockets are shut down; the pipe's next task sees it and
 * ends). peer_link.c calls it from a stop task posted to the strand.
 */
void mps_tls_pipe_abort(mps_tls_pipe_t *pipe);

#endif /* MPS_TLS_PIPE_H */
