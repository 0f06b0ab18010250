/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c: see stream.h. */
#include "stream.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "mps_status.h"
#include "tls.h"

void
mps_stream_init(mps_stream_t *s, int fd, SSL *ssl, size_t in_max,
    size_t out_max)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->ssl = ssl;
	mps_buf_init(&s->in, in_max);
	mps_buf_init(&s->out, out_max);
	if (ssl != NULL) {
		/* Partial writes let a large queued message drain as the
		 * socket allows instead of all-or-nothing. */
		/* Devices often just drop TCP: that is an end, not an error. */
		SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
		SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
		/*
		 * Read-ahead: one read() takes whatever the socket holds, up
		 * to the buffer's size, instead of a 5-byte record header
		 * and then the body (two or three read() per record, and one
		 * more that ends in EAGAIN). The buffer is allocated only
		 * while bytes are in it (release-buffers mode), so an idle
		 * tunnel still holds none. It is one record's size (OpenSSL's
		 * default, ~18 KiB) until the owner says the stream is busy:
		 * the handshake and an idle tunnel's keepalives need no more,
		 * and thousands of logins at once each allocating (and freeing)
		 * a 128 KiB buffer left holes between the tunnels' long-lived
		 * objects that stayed resident (measured: +2.6 KiB of RSS per
		 * idle tunnel at 2,000 tunnels).
		 */
		SSL_set_read_ahead(ssl, 1);
		SSL_set_fd(ssl, fd);
		SSL_set_accept_state(ssl);
	} else {
		s->handshake_done = 1;
	}
}

/*
 * Gathering records: OpenSSL's buffering BIO (BIO_f_buffer) goes between
 * the SSL and its socket BIO on the write side only. SSL_write() then
 * encrypts record after record into its buffer, which reaches the socket
 * when it is full or at the BIO_flush() that ends mps_stream_flush: one
 * write() per flush instead of one per 16 KiB record. The BIO keeps the
 * bytes in order and, on a full socket, holds what the socket did not
 * take (a partial write() keeps the rest), so back-pressure is the same
 * as before with at most MPS_STREAM_WRITE_GATHER more bytes held; reads
 * keep the socket BIO as it was.
 *
 * Reference counts: the socket BIO is held by the SSL as its read BIO
 * and by the chain below the buffering BIO.
 */
static int
gather_start(mps_stream_t *s)
{
	BIO *sock, *buf;

	if (s->gather != NULL)
		return 1;
	if ((sock = SSL_get_wbio(s->ssl)) == NULL ||
	    (buf = BIO_new(BIO_f_buffer())) == NULL)
		return 0;
	if (BIO_set_write_buffer_size(buf, MPS_STREAM_WRITE_GATHER) <= 0 ||
	    !BIO_up_ref(sock)) {
		BIO_free(buf);
		return 0;
	}
	(void)BIO_push(buf, sock);
	SSL_set0_wbio(s->ssl, buf);	/* drops the SSL's own write ref */
	s->gather = buf;
	return 1;
}

/* Back to writing straight to the socket; only once every gathered byte
 * is written (the caller checks), and frees the gathering buffer. */
static void
gather_stop(mps_stream_t *s)
{
	BIO *sock;

	if (s->gather == NULL)
		return;
	sock = BIO_next(s->gather);
	if (sock == NULL || !BIO_up_ref(sock))
		return;		/* keep gathering; freed with the SSL */
	SSL_set0_wbio(s->ssl, sock);	/* frees the buffering BIO */
	s->gather = NULL;
}

static size_t
gathered(const mps_stream_t *s)
{
	return s->gather != NULL ? (size_t)BIO_wpending(s->gather) : 0;
}

void
mps_stream_keep_buffers(mps_stream_t *s, int keep, size_t keep_bytes)
{
	mps_buf_set_keep(&s->in, keep ? keep_bytes : 0);
	mps_buf_set_keep(&s->out, keep ? keep_bytes : 0);
	if (s->ssl == NULL)
		return;
	s->gather_ok = keep ? 1 : 0;
	if (keep) {
		SSL_clear_mode(s->ssl, SSL_MODE_RELEASE_BUFFERS);
		SSL_set_default_read_buffer_len(s->ssl, MPS_STREAM_READ_AHEAD);
	} else {
		SSL_set_mode(s->ssl, SSL_MODE_RELEASE_BUFFERS);
		SSL_set_default_read_buffer_len(s->ssl, 0);
		/* With records still gathered, the flush that writes the
		 * last of them stops gathering. */
		if (gathered(s) == 0)
			gather_stop(s);
	}
	/*
	 * OpenSSL sizes its read buffer when it allocates it and frees it
	 * (in release mode) only at its next read or write that leaves it
	 * empty: an idle tunnel after a burst would hold 128 KiB + 18 KiB
	 * until its next keepalive, and a stream that became busy would
	 * keep reading into the small buffer of its idle time. So drop
	 * empty buffers now; the next read allocates one of the new size.
	 * Never while a byte or record is pending in them.
	 */
	if (!SSL_has_pending(s->ssl))
		(void)SSL_free_buffers(s->ssl);
}

void
mps_stream_close(mps_stream_t *s)
{
	if (s->ssl != NULL) {
		/* A close_notify, best effort: the socket is non-blocking and
		 * the peer may be gone; never wait for its answer. Gathered
		 * records go first (best effort too). */
		if (s->handshake_done) {
			if (s->gather != NULL)
				(void)BIO_flush(s->gather);
			(void)SSL_shutdown(s->ssl);
		}
		SSL_free(s->ssl);	/* frees the gathering BIO too */
		s->gather = NULL;
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	mps_buf_free(&s->in);
	mps_buf_free(&s->out);
}

/* OpenSSL's error for a failed call, as text; empties the error queue. */
static apr_status_t
ssl_failure(mps_stream_t *s, int r, const char *what, char *err,
    size_t errsize)
{
	int e = SSL_get_error(s->ssl, r);
	char desc[256];

	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
		int os = errno;
		ERR_clear_error();
		if (r == 0 || os == 0) {
			snprintf(err, errsize, "%s: connection closed by peer", what);
			return APR_EOF;
		}
		snprintf(err, errsize, "%s: %s", what, strerror(os));
		return APR_FROM_OS_ERROR(os);
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		ERR_clear_error();
		snprintf(err, errsize, "%s: peer closed the TLS session", what);
		return APR_EOF;
	}
	snprintf(err, errsize, "%s: %s", what,
	    mps_tls_error_describe(s->ssl, desc, sizeof(desc)));
	return MPS_ERR_PROTOCOL;
}

apr_status_t
mps_stream_handshake(mps_stream_t *s, char *err, size_t errsize)
{
	int r, e;

	if (s->handshake_done)
		return APR_SUCCESS;
	ERR_clear_error();
	r = SSL_do_handshake(s->ssl);
	if (r == 1) {
		s->handshake_done = 1;
		s->read_wants_write = s->write_wants_read = 0;
		return APR_SUCCESS;
	}
	e = SSL_get_error(s->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		s->read_wants_write = 0;
		return APR_EAGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		s->read_wants_write = 1;
		return APR_EAGAIN;
	}
	return ssl_failure(s, r, "TLS handshake", err, errsize);
}

static apr_status_t
read_plain(mps_stream_t *s, uint8_t *tail, size_t n, size_t *got, char *err,
    size_t errsize)
{
	ssize_t r;

	do {
		r = recv(s->fd, tail, n, 0);
	} while (r < 0 && errno == EINTR);
	if (r > 0) {
		*got = (size_t)r;
		return APR_SUCCESS;
	}
	if (r == 0)
		return APR_EOF;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return APR_EAGAIN;
	snprintf(err, errsize, "read: %s", strerror(errno));
	return APR_FROM_OS_ERROR(errno);
}

static apr_status_t
read_tls(mps_stream_t *s, uint8_t *tail, size_t n, size_t *got, char *err,
    size_t errsize)
{
	size_t r = 0;
	int ok, e;

	ERR_clear_error();
	ok = SSL_read_ex(s->ssl, tail, n, &r);
	if (ok == 1) {
		s->read_wants_write = 0;
		*got = r;
		return APR_SUCCESS;
	}
	e = SSL_get_error(s->ssl, 0);
	if (e == SSL_ERROR_WANT_READ) {
		s->read_wants_write = 0;
		return APR_EAGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		s->read_wants_write = 1;
		return APR_EAGAIN;
	}
	return ssl_failure(s, 0, "read", err, errsize);
}

apr_status_t
mps_stream_read(mps_stream_t *s, size_t max, char *err, size_t errsize)
{
	size_t total = 0;

	while (total < max) {
		size_t room = mps_buf_max_size(&s->in) - mps_buf_len(&s->in);
		size_t want, got = 0;
		uint8_t *tail;
		apr_status_t rv;

		if (room == 0)
			return total > 0 ? APR_SUCCESS : MPS_ERR_TOO_LARGE;
		/* The first chunk is small: an idle tunnel's keepalive must
		 * not make it allocate (and fragment the heap with) a 16 KiB
		 * buffer. Bulk data then reads a TLS record (16 KiB) at a
		 * time. */
		want = total == 0 ? 2048 : 16384;
		if (want > room)
			want = room;
		if (want > max - total)
			want = max - total;
		rv = mps_buf_reserve(&s->in, want, &tail);
		if (rv != APR_SUCCESS) {
			snprintf(err, errsize, "input buffer: out of memory");
			return rv;
		}
		rv = s->ssl != NULL ? read_tls(s, tail, want, &got, err, errsize) :
		    read_plain(s, tail, want, &got, err, errsize);
		if (rv == APR_EAGAIN)
			return APR_SUCCESS;
		if (rv == APR_EOF) {
			s->eof = 1;
			return total > 0 ? APR_SUCCESS : APR_EOF;
		}
		if (rv != APR_SUCCESS)
			return rv;
		(void)mps_buf_commit(&s->in, got);
		s->bytes_in += got;
		total += got;
		/* A short plain read means the socket is drained. So does,
		 * most likely, a short TLS read that left nothing in
		 * OpenSSL's buffer: stop rather than pay a read() that says
		 * EAGAIN (one per message of a login's dozen round trips).
		 * Bytes that did arrive meanwhile are not lost: the poller's
		 * re-arm is level-triggered and reports them at once. */
		if (got < want && (s->ssl == NULL || !SSL_has_pending(s->ssl)))
			break;
	}
	return APR_SUCCESS;
}

/* Writes what the gathering BIO holds. APR_SUCCESS when all of it is in
 * the socket, APR_EAGAIN when the socket is full, or an error. */
static apr_status_t
gather_flush(mps_stream_t *s, char *err, size_t errsize)
{
	if (s->gather == NULL)
		return APR_SUCCESS;
	ERR_clear_error();
	errno = 0;
	if (BIO_flush(s->gather) <= 0) {
		if (BIO_should_retry(s->gather))
			return APR_EAGAIN;
		if (errno == 0)
			errno = EPIPE;
		snprintf(err, errsize, "write: %s", strerror(errno));
		return APR_FROM_OS_ERROR(errno);
	}
	return APR_SUCCESS;
}

apr_status_t
mps_stream_flush(mps_stream_t *s, char *err, size_t errsize)
{
	apr_status_t rv;

	/* More than one record to write on a busy stream: gather them. A
	 * single small message (a keepalive, a window adjust) goes as it
	 * always did, and an idle stream never allocates the buffer. */
	if (s->ssl != NULL && s->gather_ok && s->handshake_done &&
	    mps_buf_len(&s->out) > SSL3_RT_MAX_PLAIN_LENGTH)
		(void)gather_start(s);	/* without it: one write per record */
	while (mps_buf_len(&s->out) > 0) {
		const uint8_t *p = mps_buf_ptr(&s->out);
		size_t n = mps_buf_len(&s->out), done = 0;

		if (s->ssl != NULL) {
			int e;
			ERR_clear_error();
			if (SSL_write_ex(s->ssl, p, n, &done) != 1) {
				e = SSL_get_error(s->ssl, 0);
				if (e == SSL_ERROR_WANT_WRITE) {
					s->write_wants_read = 0;
					return APR_EAGAIN;
				}
				if (e == SSL_ERROR_WANT_READ) {
					s->write_wants_read = 1;
					return APR_EAGAIN;
				}
				return ssl_failure(s, 0, "write", err, errsize);
			}
			s->write_wants_read = 0;
		} else {
			ssize_t r;
			do {
				r = send(s->fd, p, n, MSG_NOSIGNAL);
			} while (r < 0 && errno == EINTR);
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return APR_EAGAIN;
				snprintf(err, errsize, "write: %s", strerror(errno));
				return APR_FROM_OS_ERROR(errno);
			}
			done = (size_t)r;
		}
		(void)mps_buf_consume(&s->out, done);
		s->bytes_out += done;
	}
	if ((rv = gather_flush(s, err, errsize)) != APR_SUCCESS)
		return rv;
	if (s->gather != NULL && !s->gather_ok)
		gather_stop(s);
	return APR_SUCCESS;
}

size_t
mps_stream_out_bytes(const mps_stream_t *s)
{
	return mps_buf_len(&s->out) + gathered(s);
}

apr_int16_t
mps_stream_events(const mps_stream_t *s, int want_read)
{
	apr_int16_t ev = 0;

	if (!s->handshake_done)
		return s->read_wants_write ? APR_POLLOUT : APR_POLLIN;
	if (want_read && !s->eof)
		ev |= s->read_wants_write ? APR_POLLOUT : APR_POLLIN;
	if (mps_buf_len(&s->out) > 0)
		ev |= s->write_wants_read ? APR_POLLIN : APR_POLLOUT;
	else if (gathered(s) > 0)
		ev |= APR_POLLOUT;	/* the socket is all that waits */
	return ev;
}

int
mps_stream_pending(const mps_stream_t *s)
{
	return s->ssl != NULL && s->handshake_done && !s->eof &&
	    SSL_has_pending(s->ssl);
}
