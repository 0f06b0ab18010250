/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_limit.h: keeps a hostile peer from flooding the log with one
 * warning repeated.
 *
 * A limit lets at most `burst` messages through per `interval`; the rest
 * are counted, not written. The next message let through carries the
 * count: "... (57 similar messages suppressed)". So a flood costs a few
 * lines per interval, and the log still says how much happened.
 *
 * Two forms:
 *  - mps_log_limit_t, a small struct embedded in what it protects (a
 *    device's session): no lock, so the owner's strand alone uses it;
 *  - mps_log_limit_table_t, a fixed table keyed by a short string (a
 *    console's address), thread-safe, for peers that have no object of
 *    their own that outlives a connection. Its size never grows, whatever
 *    an attacker sends: when a set is full the quietest entry is
 *    forgotten, which only ever lets one more line through.
 *
 * Every suppressed message also counts in mpsd_log_messages_suppressed_total.
 */
#ifndef MPS_LOG_LIMIT_H
#define MPS_LOG_LIMIT_H

#include <apr_time.h>

#include "log.h"

/* What a peer's repeated warnings get by default (a device's refused
 * requests): 10 lines a minute. */
#define MPS_LOG_LIMIT_PEER_BURST	10
#define MPS_LOG_LIMIT_PEER_INTERVAL	apr_time_from_sec(60)

typedef struct mps_log_limit_t {
	apr_time_t window_start;	/* start of the current interval */
	unsigned passed;		/* messages let through in it */
	unsigned long suppressed;	/* dropped since the last one let through */
} mps_log_limit_t;

/* A zeroed struct is a valid, fresh limit. */
#define MPS_LOG_LIMIT_INIT { 0, 0, 0 }

/*
 * Decides about one message at now. Returns 1 to write it, with
 * *suppressed set to how many were dropped since the last one written
 * (and the count reset); 0 to drop it (counted). Not thread-safe.
 */
int mps_log_limit_allow(mps_log_limit_t *l, apr_time_t now, unsigned burst,
    apr_interval_time_t interval, unsigned long *suppressed);

/*
 * mps_log() through a limit: writes the message, with
 * " (N similar messages suppressed)" appended when N > 0, or counts it.
 * Nothing is formatted for a dropped message or a disabled level.
 */
void mps_log_limited(mps_log_limit_t *l, unsigned burst,
    apr_interval_time_t interval, mps_log_level_t level,
    const char *fmt, ...) MPS_PRINTF(5, 6);
void mps_log_vlimited(mps_log_limit_t *l, unsigned burst,
    apr_interval_time_t interval, mps_log_level_t level, const char *fmt,
    va_list ap);

/*
 * Writes what l still holds back, if anything: "<fmt...>: N similar
 * messages suppressed", and resets the count. For the end of what the
 * limit protected (a device's tunnel closing), so that a flood's last
 * count is not lost with it.
 */
void mps_log_limit_flush(mps_log_limit_t *l, mps_log_level_t level,
    const char *fmt, ...) MPS_PRINTF(3, 4);

typedef struct mps_log_limit_table_t mps_log_limit_table_t;

/* A table whose keys each get burst messages per interval. NULL when out
 * of memory. */
mps_log_limit_table_t *mps_log_limit_table_create(unsigned burst,
    apr_interval_time_t interval);
void mps_log_limit_table_destroy(mps_log_limit_table_t *t);

/* mps_log_limit_allow() for key (cut to 63 bytes). Thread-safe. */
int mps_log_limit_table_allow(mps_log_limit_table_t *t, const char *key,
    apr_time_t now, unsigned long *suppressed);

/* mps_log_limited() for key. Thread-safe. */
void mps_log_limited_key(mps_log_limit_table_t *t, const char *key,
    mps_log_level_t level, const char *fmt, ...) MPS_PRINTF(4, 5);

/*
 * Writes, for up to max keys whose interval is over and that still hold
 * suppressed messages, "<what> <key>: N similar messages suppressed in
 * the last <interval>", and resets their counts: called now and then,
 * so that the count of a flood that stopped reaches the log too.
 * Returns how many lines it wrote. The lines are written outside the
 * table's lock. Thread-safe.
 */
unsigned mps_log_limit_table_flush(mps_log_limit_table_t *t, apr_time_t now,
    mps_log_level_t level, const char *what, unsigned max);

#endif /* MPS_LOG_LIMIT_H */
