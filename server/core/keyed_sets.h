/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyed_sets.h: a fixed-size table of small records keyed by a short
 * string (a peer's address, a user name), for state an attacker can
 * make us keep: whatever keys arrive, the table never grows.
 *
 * It is set-associative: a key hashes (salted per process, so nobody can
 * compute colliding keys once for every mpsd) to one set of a few slots.
 * When the key's set is full, the slot the owner rates lowest (its `rank`
 * callback: the oldest, the quietest) is taken over and its record
 * zeroed. So the table can forget a peer that spreads over very many
 * keys, but never mixes two keys' records.
 *
 * Not thread-safe: the owner (login_budget.c, log_limit.c) holds its
 * own lock around every call and around what it does with the record.
 */
#ifndef MPS_KEYED_SETS_H
#define MPS_KEYED_SETS_H

#include <stddef.h>

#include <apr_time.h>

/* Keys are cut to this many bytes minus one; an IPv6 text address fits. */
#define MPS_KEYED_SETS_KEY_MAX 64

typedef struct mps_keyed_sets_t mps_keyed_sets_t;

/* How much a record is worth keeping: the lowest of a full set is the
 * one taken over. */
typedef apr_time_t (*mps_keyed_sets_rank_fn)(const void *record);

/*
 * A table of sets x 4 slots (sets: a power of two) of record_size bytes
 * each, all zero. NULL when out of memory.
 */
mps_keyed_sets_t *mps_keyed_sets_create(unsigned sets, size_t record_size,
    mps_keyed_sets_rank_fn rank);
void mps_keyed_sets_destroy(mps_keyed_sets_t *t);

/*
 * key's record; if key has none: with create, the slot taken over for it
 * (record zeroed), else NULL.
 */
void *mps_keyed_sets_get(mps_keyed_sets_t *t, const char *key, int create);

/*
 * Calls fn for each key in use and its record, in table order, until fn
 * returns nonzero.
 */
void mps_keyed_sets_foreach(mps_keyed_sets_t *t,
    int (*fn)(const char *key, void *record, void *arg), void *arg);

#endif /* MPS_KEYED_SETS_H */
