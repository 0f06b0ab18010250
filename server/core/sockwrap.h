/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sockwrap.h: apr_socket_t wrappers for raw descriptors, without a pool
 * per connection.
 *
 * apr_pollset needs an apr_socket_t for every socket it watches, and APR
 * allocates those from a pool: a pool per connection costs at least one
 * 8 KiB node (about 4 KiB resident), which is most of an idle tunnel's
 * memory budget. Connections therefore do their I/O on the raw fd and
 * borrow a wrapper from here only to be watched. Wrappers come from one
 * process-wide pool and are recycled through a free list, so memory is
 * bounded by the peak number of open connections, not by their total.
 */
#ifndef MPS_SOCKWRAP_H
#define MPS_SOCKWRAP_H

#include <apr_network_io.h>

/* Wraps fd (which the caller keeps owning and closing). NULL on ENOMEM.
 * Thread-safe. */
apr_socket_t *mps_sockwrap_get(int fd);

/* Returns a wrapper for reuse. The fd is NOT closed. Thread-safe. */
void mps_sockwrap_put(apr_socket_t *sock);

/* Frees every wrapper at process exit (after everything that used one
 * is gone), so that leak checkers see a clean exit. */
void mps_sockwrap_cleanup(void);

/* Wrappers handed out and not yet returned (for tests and statistics). */
apr_size_t mps_sockwrap_in_use(void);

#endif
