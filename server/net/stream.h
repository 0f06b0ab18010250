/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stream.h: one non-blocking byte stream over a socket, plain or TLS.
 *
 * The device session reads APF from it and queues APF into it; it hides
 * whether OpenSSL sits in between (in-process TLS) or not (plain TCP
 * behind stunnel). All calls come from the owner's strand: no locking.
 *
 * Memory: the input and output buffers allocate only while they hold
 * bytes (see buf.h), and OpenSSL runs in release-buffers mode, so an idle
 * stream costs the SSL object and this struct. While the owner says the
 * stream is busy (mps_stream_keep_buffers), both keep their storage.
 */
#ifndef MPS_STREAM_H
#define MPS_STREAM_H

#include <apr_errno.h>
#include <apr_poll.h>
#include <openssl/ssl.h>

#include "buf.h"

/* Bytes one read() from a TLS socket may take (OpenSSL's read-ahead
 * buffer, held only while it holds bytes): several 16 KiB records. */
#define MPS_STREAM_READ_AHEAD	(128 * 1024)

/* What a busy TLS stream gathers of encrypted records before one write():
 * a full pass of the tunnel's output (MPS_TUNNEL_OUT_HIGH, 128 KiB) and the
 * records' headers and tags, so that one flush is one write(), not one
 * write() per 16 KiB record. Allocated only while the stream is kept busy
 * (mps_stream_keep_buffers) and has more than one record to write. */
#define MPS_STREAM_WRITE_GATHER	(160 * 1024)

typedef struct mps_stream_t {
	int fd;
	SSL *ssl;			/* NULL for plain TCP */
	mps_buf_t in;			/* received, not yet parsed */
	mps_buf_t out;			/* queued, not yet written */
	unsigned handshake_done:1;
	unsigned read_wants_write:1;	/* SSL_read returned WANT_WRITE */
	unsigned write_wants_read:1;	/* SSL_write returned WANT_READ */
	unsigned eof:1;			/* the peer closed its side */
	unsigned gather_ok:1;		/* busy: records may be gathered */
	BIO *gather;			/* OpenSSL's buffering BIO under the
					 * SSL while it gathers records, or
					 * NULL (writes go to the socket) */
	unsigned long long bytes_in;	/* raw bytes read (after TLS) */
	unsigned long long bytes_out;
} mps_stream_t;

/* Takes ownership of fd and ssl (ssl may be NULL). */
void mps_stream_init(mps_stream_t *s, int fd, SSL *ssl, size_t in_max,
    size_t out_max);

/*
 * keep 1 while the stream carries bulk traffic: its buffers and OpenSSL's
 * record buffers keep their storage when they empty (up to keep_bytes
 * for ours), instead of being freed and allocated again on every pass,
 * OpenSSL reads ahead up to MPS_STREAM_READ_AHEAD, and a TLS stream's
 * flush gathers its records (MPS_STREAM_WRITE_GATHER) into one write().
 * keep 0 (an idle stream, the default) frees what is empty now,
 * OpenSSL's empty record buffers included; gathered records not yet
 * written are written first (they stay in order).
 */
void mps_stream_keep_buffers(mps_stream_t *s, int keep, size_t keep_bytes);

/* Closes the socket and frees the SSL object and both buffers. */
void mps_stream_close(mps_stream_t *s);

/*
 * Advances the TLS handshake. APR_SUCCESS when done (immediately for
 * plain), APR_EAGAIN when it must wait for mps_stream_events(), or an
 * error with a description in err.
 */
apr_status_t mps_stream_handshake(mps_stream_t *s, char *err, size_t errsize);

/*
 * Reads what is available into s->in, at most max bytes this call (so
 * that one busy stream yields to others). APR_SUCCESS (something read, or
 * nothing yet), APR_EOF once the peer has closed and everything was read,
 * or an error (err describes it). MPS_ERR_TOO_LARGE: s->in is full.
 */
apr_status_t mps_stream_read(mps_stream_t *s, size_t max, char *err,
    size_t errsize);

/* Writes queued output. APR_SUCCESS when s->out is empty and every
 * record is in the socket, APR_EAGAIN when some remains (in s->out or
 * gathered), or an error. */
apr_status_t mps_stream_flush(mps_stream_t *s, char *err, size_t errsize);

/* Whether bytes can be read without waiting for the socket: TLS may
 * hold decrypted data that a poll would never announce. The owner reads
 * again (in a new task, to stay fair) instead of watching. */
int mps_stream_pending(const mps_stream_t *s);

/* Output not yet in the socket: queued in s->out (plain bytes) and
 * encrypted records gathered for the next write(). */
size_t mps_stream_out_bytes(const mps_stream_t *s);

/* The poll events to wait for: reading (if want_read) and the pending
 * output, translated through what TLS is waiting for. */
apr_int16_t mps_stream_events(const mps_stream_t *s, int want_read);

#endif
