/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mps_status.h: mpsd's own error codes.
 *
 * Every function that can fail returns an apr_status_t. APR and OS errors
 * keep their own values; mpsd's codes live in APR's user range so that one
 * type carries both, and mps_strerror() names either kind.
 */
#ifndef MPS_STATUS_H
#define MPS_STATUS_H

#include <apr_errno.h>
#include <stddef.h>

#define MPS_ERR_START (APR_OS_START_USERERR + 1000)

enum {
	MPS_NEED_MORE = MPS_ERR_START,	/* input is a prefix of a valid message */
	MPS_ERR_MALFORMED,		/* input can never become valid */
	MPS_ERR_TOO_LARGE,		/* a length field is over its cap */
	MPS_ERR_TRAILING_DATA,		/* bytes left after a complete message */
	MPS_ERR_CONFIG,			/* a configuration file has errors */
	MPS_ERR_PLUGIN,			/* a plugin could not be loaded */
	MPS_ERR_PLUGIN_ABI,		/* a plugin was built for another ABI */
	MPS_ERR_ALREADY_RUNNING,	/* another mpsd holds the instance lock */
	MPS_ERR_QUEUE_FULL,		/* a bounded queue refused more work */
	MPS_ERR_SHUTDOWN,		/* the component is stopping */
	MPS_ERR_PROTOCOL,		/* the peer broke the protocol */
	MPS_ERR_WINDOW_EXCEEDED,	/* the peer sent beyond its window */
	MPS_ERR_UNKNOWN_CHANNEL,	/* the peer named a channel we do not have */
	MPS_ERR_TIMEOUT,		/* an operation ran out of time */
	MPS_ERR_NOT_ALLOWED,		/* policy refuses the request */
	MPS_ERR_UNAVAILABLE,		/* a shared service (Redis) is unreachable */
	MPS_ERR_END
};

/*
 * Writes a description of rv (mpsd's or APR's/the OS's) into buf and
 * returns buf. Thread-safe.
 */
const char *mps_strerror(apr_status_t rv, char *buf, size_t bufsize);

/*
 * The one way an error's text travels with an apr_status_t: the caller
 * passes a buffer (err, errsize) and the failing function fills it with
 * mps_errtext(), printf style. A NULL err or errsize 0 is allowed (the
 * text is dropped); the text is always NUL-terminated and cut to fit.
 * Returns err.
 */
char *mps_errtext(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* MPS_STATUS_H */
