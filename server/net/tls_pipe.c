/* SPDX-License-Identifier: Apache-2.0 */
/* tls_pipe.c: see tls_pipe.h. */
#include "tls_pipe.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "mps_status.h"
#include "sockwrap.h"

/* Bytes moved in one task before the pipe yields its worker (posts
 * itself again) so that one busy link does not starve other strands. */
#define PIPE_BUDGET (256 * 1024)

struct mps_tls_pipe_t {
	mps_poller_t *poller;
	mps_strand_t *strand;
	mps_tls_pipe_end_fn end;
	void *arg;
	size_t cap;			/* buf_size: reading stops at it */

	int fd;				/* the plain side */
	mps_stream_t s;			/* the TLS side: s.out plain->TLS,
					 * s.in TLS->plain */
	apr_socket_t *wrap_plain, *wrap_tls;
	mps_pollreg_t *reg_plain, *reg_tls;

	unsigned plain_eof:1;		/* FIN from the plain side */
	unsigned plain_shut:1;		/* FIN sent to the plain side */
	unsigned tls_shut:1;		/* close_notify sent */
	unsigned shut_wants_write:1;	/* SSL_shutdown must be retried */
	unsigned plain_tcp:1;		/* a reset is possible on error */
	unsigned ended:1;
	atomic_int aborted;		/* 1 abort, 2 the poller refused */
	unsigned long long up, down;	/* bytes relayed each way */
};

static void pipe_task(void *arg);

/* b := pre + b, with the cap raised to what it then holds if need be. */
static apr_status_t
prepend(mps_buf_t *b, const void *pre, size_t n, size_t cap)
{
	size_t have = mps_buf_len(b) + n;
	mps_buf_t nb;

	if (have < cap)
		have = cap;
	if (n == 0)
		return mps_buf_len(b) > cap ? APR_SUCCESS :
		    mps_buf_set_max_size(b, cap);
	mps_buf_init(&nb, have);
	if (mps_buf_put(&nb, pre, n) != APR_SUCCESS ||
	    mps_buf_put(&nb, mps_buf_ptr(b), mps_buf_len(b)) != APR_SUCCESS) {
		mps_buf_free(&nb);
		return APR_ENOMEM;
	}
	mps_buf_free(b);
	*b = nb;
	return APR_SUCCESS;
}

static void
pipe_free(void *arg)
{
	free(arg);
}

/* Sends a reset instead of a FIN when fd is closed: the far end must not
 * take a broken relay for a complete one. */
static void
set_reset_on_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void
pipe_end(mps_tls_pipe_t *p, int error, const char *why)
{
	p->ended = 1;
	mps_poller_release(p->poller, p->reg_plain);
	mps_poller_release(p->poller, p->reg_tls);
	p->reg_plain = p->reg_tls = NULL;
	mps_sockwrap_put(p->wrap_plain);
	mps_sockwrap_put(p->wrap_tls);
	p->wrap_plain = p->wrap_tls = NULL;
	/* The memory goes in a later task of the strand: a firing queued
	 * before the release runs first and finds ended (strand.h). Posted
	 * before end(), which may release the strand. */
	if (mps_strand_post_free(p->strand, pipe_free, p) != APR_SUCCESS) {
		/* The workers stop: nothing queued for p will run. */
		p->strand = NULL;
	}
	p->end(p->arg, error, why, p->up, p->down);
	if (error) {
		if (p->plain_tcp)
			set_reset_on_close(p->fd);
		set_reset_on_close(p->s.fd);
	}
	/* No close_notify now: a clean end sent it already, an error must
	 * not look like a clean end. */
	if (p->s.ssl != NULL)
		SSL_set_quiet_shutdown(p->s.ssl, 1);
	mps_stream_close(&p->s);
	close(p->fd);
	p->fd = -1;
	ERR_clear_error();
	if (p->strand == NULL)
		free(p);
}

/* Sends close_notify (or a FIN, for a plain stream in tests).
 * Returns 0, or -1 on an error. */
static int
send_close(mps_tls_pipe_t *p)
{
	int r, e;

	if (p->s.ssl == NULL) {
		if (shutdown(p->s.fd, SHUT_WR) != 0)
			return -1;
		p->tls_shut = 1;
		return 0;
	}
	ERR_clear_error();
	r = SSL_shutdown(p->s.ssl);
	if (r >= 0) {
		p->tls_shut = 1;
		p->shut_wants_write = 0;
		return 0;
	}
	e = SSL_get_error(p->s.ssl, r);
	if (e == SSL_ERROR_WANT_WRITE) {
		p->shut_wants_write = 1;
		return 0;
	}
	if (e == SSL_ERROR_WANT_READ) {
		/* Written; OpenSSL would like the peer's close_notify,
		 * which the read side gets in its own time. */
		p->tls_shut = 1;
		p->shut_wants_write = 0;
		return 0;
	}
	return -1;
}

static void
watch(mps_tls_pipe_t *p, mps_pollreg_t *reg, apr_int16_t ev)
{
	if (ev != 0) {
		if (mps_poller_watch(p->poller, reg, ev) != APR_SUCCESS)
			atomic_store(&p->aborted, 2);
	} else
		(void)mps_poller_unwatch(p->poller, reg);
}

/* Moves what can be moved each way; returns 1 when something moved. */
static int
pump_once(mps_tls_pipe_t *p, char *why, size_t whysize, int *failed)
{
	size_t len;
	int progress = 0;
	apr_status_t rv;

	/* plain -> s.out */
	len = mps_buf_len(&p->s.out);
	if (!p->plain_eof && len < p->cap) {
		uint8_t *tail;
		ssize_t n;

		if (mps_buf_reserve(&p->s.out, p->cap - len, &tail) !=
		    APR_SUCCESS) {
			snprintf(why, whysize, "out of memory");
			goto fail;
		}
		do {
			n = recv(p->fd, tail, p->cap - len, 0);
		} while (n < 0 && errno == EINTR);
		if (n > 0) {
			(void)mps_buf_commit(&p->s.out, (size_t)n);
			p->up += (unsigned long long)n;
			progress = 1;
		} else if (n == 0) {
			p->plain_eof = 1;
			progress = 1;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(why, whysize, "plain side: read: %s",
			    strerror(errno));
			goto fail;
		}
	}
	/* s.out -> TLS */
	if (mps_buf_len(&p->s.out) > 0) {
		unsigned long long before = p->s.bytes_out;

		rv = mps_stream_flush(&p->s, why, whysize);
		if (rv != APR_SUCCESS && rv != APR_EAGAIN)
			goto fail;
		if (p->s.bytes_out != before)
			progress = 1;
	}
	/* The plain side's FIN, once its bytes are out: close_notify. */
	if (p->plain_eof && mps_buf_len(&p->s.out) == 0 && !p->tls_shut) {
		if (send_close(p) != 0) {
			snprintf(why, whysize, "TLS side: cannot send "
			    "close_notify");
			goto fail;
		}
		if (p->tls_shut)
			progress = 1;
	}
	/* TLS -> s.in */
	len = mps_buf_len(&p->s.in);
	if (!p->s.eof && len < p->cap) {
		unsigned long long before = p->s.bytes_in;

		rv = mps_stream_read(&p->s, p->cap - len, why, whysize);
		if (rv == APR_EOF)
			progress = 1;
		else if (rv != APR_SUCCESS)
			goto fail;
		if (p->s.bytes_in != before)
			progress = 1;
	}
	/* s.in -> plain */
	len = mps_buf_len(&p->s.in);
	if (len > 0) {
		ssize_t n;

		do {
			n = send(p->fd, mps_buf_ptr(&p->s.in), len,
			    MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n > 0) {
			(void)mps_buf_consume(&p->s.in, (size_t)n);
			p->down += (unsigned long long)n;
			progress = 1;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(why, whysize, "plain side: write: %s",
			    strerror(errno));
			goto fail;
		}
	}
	/* The TLS side's close_notify, once its bytes are out: FIN. */
	if (p->s.eof && mps_buf_len(&p->s.in) == 0 && !p->plain_shut) {
		(void)shutdown(p->fd, SHUT_WR);
		p->plain_shut = 1;
		progress = 1;
	}
	return progress;
fail:
	*failed = 1;
	return 0;
}

static void
pump(mps_tls_pipe_t *p)
{
	unsigned long long start = p->up + p->down;
	char why[256] = "";
	int failed = 0;
	apr_int16_t ev;

	if (p->ended)
		return;
	while (!failed && !atomic_load(&p->aborted)) {
		if (p->shut_wants_write && send_close(p) != 0) {
			snprintf(why, sizeof(why), "TLS side: cannot send "
			    "close_notify");
			failed = 1;
			break;
		}
		if (!pump_once(p, why, sizeof(why), &failed))
			break;
		if (p->tls_shut && p->plain_shut) {
			pipe_end(p, 0, "closed both ways");
			return;
		}
		if (p->up + p->down - start >= PIPE_BUDGET) {
			/* Yield; the rest in a new task (fairness). */
			if (mps_strand_post(p->strand, pipe_task, p) !=
			    APR_SUCCESS)
				atomic_store(&p->aborted, 1);
			else
				return;
		}
	}
	if (atomic_load(&p->aborted)) {
		pipe_end(p, 1, "stopped");
		return;
	}
	if (failed) {
		pipe_end(p, 1, why[0] != '\0' ? why : "error");
		return;
	}
	/* Decrypted bytes no poll will announce: read them in a new task. */
	if (mps_stream_pending(&p->s) && mps_buf_len(&p->s.in) < p->cap) {
		if (mps_strand_post(p->strand, pipe_task, p) == APR_SUCCESS)
			return;
		pipe_end(p, 1, "stopped");
		return;
	}
	ev = 0;
	if (!p->plain_eof && mps_buf_len(&p->s.out) < p->cap)
		ev |= APR_POLLIN;
	if (mps_buf_len(&p->s.in) > 0)
		ev |= APR_POLLOUT;
	watch(p, p->reg_plain, ev);
	ev = mps_stream_events(&p->s, !p->s.eof &&
	    mps_buf_len(&p->s.in) < p->cap);
	if (p->shut_wants_write)
		ev |= APR_POLLOUT;
	watch(p, p->reg_tls, ev);
	if (atomic_load(&p->aborted) == 2)
		pipe_end(p, 1, "cannot watch the sockets (poller full)");
}

static void
pipe_task(void *arg)
{
	pump(arg);
}

apr_status_t
mps_tls_pipe_start(mps_tls_pipe_t **out, const mps_tls_pipe_options_t *opt,
    int plain_fd, mps_stream_t *tls, const void *to_plain,
    size_t to_plain_len, const void *to_tls, size_t to_tls_len)
{
	mps_tls_pipe_t *p = calloc(1, sizeof(*p));
	apr_status_t rv = APR_ENOMEM;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	*out = NULL;
	if (p == NULL) {
		mps_stream_close(tls);
		close(plain_fd);
		return APR_ENOMEM;
	}
	p->poller = opt->poller;
	p->strand = opt->strand;
	p->end = opt->end;
	p->arg = opt->arg;
	p->cap = opt->buf_size;
	p->fd = plain_fd;
	p->s = *tls;		/* moved: the buffers' storage comes along */
	memset(tls, 0, sizeof(*tls));
	tls->fd = -1;
	atomic_init(&p->aborted, 0);
	if (getsockname(plain_fd, (struct sockaddr *)&ss, &sslen) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6))
		p->plain_tcp = 1;
	if (p->s.ssl != NULL) {
		/* A TCP close without close_notify is a truncation here,
		 * not an end (the stream ignores it for devices). */
		SSL_clear_options(p->s.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	}
	/* The pre-bytes go first, before what the stream holds already,
	 * and may exceed the cap once; reading from a side stops while its
	 * buffer holds cap bytes or more. */
	if (prepend(&p->s.in, to_plain, to_plain_len, p->cap) != APR_SUCCESS ||
	    prepend(&p->s.out, to_tls, to_tls_len, p->cap) != APR_SUCCESS)
		goto fail;
	p->wrap_plain = mps_sockwrap_get(plain_fd);
	p->wrap_tls = mps_sockwrap_get(p->s.fd);
	if (p->wrap_plain == NULL || p->wrap_tls == NULL)
		goto fail;
	rv = mps_poller_register(p->poller, &p->reg_plain, p->wrap_plain,
	    p->strand, pipe_task, p);
	if (rv == APR_SUCCESS)
		rv = mps_poller_register(p->poller, &p->reg_tls, p->wrap_tls,
		    p->strand, pipe_task, p);
	if (rv != APR_SUCCESS)
		goto fail;
	/* The first round in a task of its own: end() never runs before
	 * this returns. */
	rv = mps_strand_post(p->strand, pipe_task, p);
	if (rv != APR_SUCCESS)
		goto fail;
	*out = p;
	return APR_SUCCESS;
fail:
	if (rv == APR_SUCCESS)
		rv = APR_ENOMEM;
	mps_poller_release(p->poller, p->reg_plain);
	mps_poller_release(p->poller, p->reg_tls);
	if (p->wrap_plain != NULL)
		mps_sockwrap_put(p->wrap_plain);
	if (p->wrap_tls != NULL)
		mps_sockwrap_put(p->wrap_tls);
	if (p->s.ssl != NULL)
		SSL_set_quiet_shutdown(p->s.ssl, 1);
	mps_stream_close(&p->s);
	close(plain_fd);
	/* A registration that never fired posts nothing: free at once. */
	free(p);
	return rv;
}

void
mps_tls_pipe_abort(mps_tls_pipe_t *p)
{
	atomic_store(&p->aborted, 1);
	/* Wakes the pipe through the poller whatever it waits for: both
	 * sockets read EOF and fail writes from now on. */
	(void)shutdown(p->fd, SHUT_RDWR);
	(void)shutdown(p->s.fd, SHUT_RDWR);
}
