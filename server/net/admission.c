/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admission.c: see admission.h.
 *
 * The address table is open addressing with linear probing, sized to a
 * power of two at least twice the budget, so it is at most half full and
 * a probe is short. A slot is in use while its count is non-zero; leaving
 * the last connection of an address deletes by backward shift (no
 * tombstones, so the table never degrades however addresses come and go).
 * The hash is salted per process so that nobody can choose addresses that
 * collide into one long probe sequence.
 */
#include "admission.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>

#include "log.h"
#include "metrics.h"

#define KEY_LEN 16

struct slot {
	unsigned char key[KEY_LEN];
	unsigned char family;	/* 4, 6 (the /64), 0 (unparsed text) */
	uint32_t home;		/* hash & mask: where its probe starts */
	uint32_t count;		/* 0: free */
};

struct addr_key {
	unsigned char key[KEY_LEN];
	unsigned char family;
};

struct mps_admission_t {
	mps_admission_limits_t lim;
	pthread_mutex_t lock;
	unsigned count;			/* pre-auth connections held */
	uint32_t mask;			/* table size - 1 */
	struct slot *table;
	uint64_t salt;
	uint64_t rng;			/* xorshift64* state, under lock */
	mps_ratelog_t log[4];		/* by mps_admit_t */
};

int
mps_ratelog_allow(mps_ratelog_t *r, apr_time_t now,
    apr_interval_time_t interval, unsigned long *missed)
{
	long long last = atomic_load_explicit(&r->last, memory_order_relaxed);

	if ((last != 0 && now - last < interval) ||
	    !atomic_compare_exchange_strong(&r->last, &last, (long long)now)) {
		atomic_fetch_add_explicit(&r->missed, 1, memory_order_relaxed);
		return 0;
	}
	*missed = atomic_exchange(&r->missed, 0);
	return 1;
}

/* The address an ip text stands for: IPv4 whole, IPv6 its /64. */
static void
addr_key_of(const char *ip, struct addr_key *k)
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(k, 0, sizeof(*k));
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		memcpy(k->key, &a4, sizeof(a4));
		k->family = 4;
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(k->key, &a6.s6_addr[12], 4);
			k->family = 4;
		} else {
			memcpy(k->key, a6.s6_addr, 8);
			k->family = 6;
		}
	} else {
		/* Not from mps_peer_split: key by the text (truncated). */
		size_t n = strlen(ip);

		memcpy(k->key, ip, n < KEY_LEN ? n : KEY_LEN);
		k->family = 0;
	}
}

static uint32_t
addr_hash(const mps_admission_t *a, const struct addr_key *k)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ a->salt;
	size_t i;

	h = (h ^ k->family) * 0x100000001b3ULL;
	for (i = 0; i < KEY_LEN; i++)
		h = (h ^ k->key[i]) * 0x100000001b3ULL;
	/* Fold in the high bits, which FNV mixes best. */
	return (uint32_t)(h ^ (h >> 32));
}

static int
slot_is(const struct slot *s, const struct addr_key *k)
{
	return s->count != 0 && s->family == k->family &&
	    memcmp(s->key, k->key, KEY_LEN) == 0;
}

/* The slot of k, or the free slot where it would go. Never NULL: the
 * table is at most half full. */
static struct slot *
slot_find(mps_admission_t *a, const struct addr_key *k, uint32_t *home)
{
	uint32_t i;

	*home = addr_hash(a, k) & a->mask;
	for (i = *home;; i = (i + 1) & a->mask)
		if (a->table[i].count == 0 || slot_is(&a->table[i], k))
			return &a->table[i];
}

/* Empties slot i and shifts the rest of its cluster back. */
static void
slot_delete(mps_admission_t *a, uint32_t i)
{
	uint32_t j = i, h;

	a->table[i].count = 0;
	for (;;) {
		j = (j + 1) & a->mask;
		if (a->table[j].count == 0)
			return;
		h = a->table[j].home;
		/* Move j into the hole at i unless its home lies cyclically
		 * in (i, j]: then it is reachable where it is. */
		if (i <= j ? (h <= i || h > j) : (h <= i && h > j)) {
			a->table[i] = a->table[j];
			a->table[j].count = 0;
			i = j;
		}
	}
}

static uint64_t
rng_next(mps_admission_t *a)
{
	uint64_t x = a->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	a->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

mps_admission_t *
mps_admission_create(const mps_admission_limits_t *limits)
{
	mps_admission_t *a = calloc(1, sizeof(*a));
	uint64_t size = 16;
	unsigned char seed[16];

	if (a == NULL)
		return NULL;
	a->lim = *limits;
	if (a->lim.drop_rate > 100)
		a->lim.drop_rate = 100;
	while (size < 2 * (uint64_t)a->lim.max)
		size *= 2;
	a->table = calloc((size_t)size, sizeof(*a->table));
	if (a->table == NULL) {
		free(a);
		return NULL;
	}
	a->mask = (uint32_t)(size - 1);
	if (apr_generate_random_bytes(seed, sizeof(seed)) != APR_SUCCESS) {
		/* Still varies between runs; only collision resistance
		 * suffers. */
		uint64_t t = (uint64_t)apr_time_now();
		memcpy(seed, &t, sizeof(t));
		memcpy(seed + 8, &a, sizeof(a) < 8 ? sizeof(a) : 8);
	}
	memcpy(&a->salt, seed, 8);
	memcpy(&a->rng, seed + 8, 8);
	if (a->rng == 0)
		a->rng = 0x9E3779B97F4A7C15ULL;
	pthread_mutex_init(&a->lock, NULL);
	return a;
}

void
mps_admission_destroy(mps_admission_t *a)
{
	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->table);
	free(a);
}

void
mps_admission_seed(mps_admission_t *a, unsigned long long seed)
{
	pthread_mutex_lock(&a->lock);
	a->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL;
	pthread_mutex_unlock(&a->lock);
}

/*
 * Under the lock: should a new connection from an address that already
 * holds one be dropped early, with n held? OpenSSH's MaxStartups: rate %
 * at start, rising linearly to 100 %, but 100 % is reached an eighth of
 * the way before max: that last stretch is kept for addresses that hold
 * nothing (they skip this check), so that however long a flood from
 * holders lasts, a newcomer finds a slot.
 */
static int
drop_early(mps_admission_t *a, unsigned n)
{
	const mps_admission_limits_t *l = &a->lim;
	unsigned full, p;

	if (n < l->drop_start || l->drop_start >= l->max)
		return 0;
	full = l->max - (l->max - l->drop_start) / 8;
	if (n >= full)
		return 1;
	p = l->drop_rate + (unsigned)((uint64_t)(100 - l->drop_rate) *
	    (n - l->drop_start) / (full - l->drop_start));
	return rng_next(a) % 100 < p;
}

static void
log_refusal(mps_admission_t *a, mps_admit_t why, unsigned held,
    const char *what, const char *ip)
{
	static const mps_metric_id_t metric[] = {
		[MPS_ADMIT_ADDRESS] = MPS_M_PREAUTH_REFUSED_ADDRESS,
		[MPS_ADMIT_FULL] = MPS_M_PREAUTH_REFUSED_FULL,
		[MPS_ADMIT_DROPPED] = MPS_M_PREAUTH_REFUSED_DROPPED,
	};
	unsigned long missed = 0;
	char more[96] = "";

	mps_metric_inc(metric[why]);
	if (!mps_ratelog_allow(&a->log[why], apr_time_now(),
	    MPS_ADMISSION_LOG_INTERVAL, &missed))
		return;
	if (missed > 0)
		snprintf(more, sizeof(more), " (and %lu more since the last "
		    "such message)", missed);
	switch (why) {
	case MPS_ADMIT_ADDRESS:
		mps_log(MPS_LOG_WARNING, "MaxPreAuthPerAddress (%u) reached: "
		    "refusing the %s connection from %s%s", a->lim.per_address,
		    what, ip, more);
		break;
	case MPS_ADMIT_FULL:
		mps_log(MPS_LOG_WARNING, "MaxPreAuthConnections (%u) reached: "
		    "refusing the %s connection from %s%s", a->lim.max, what,
		    ip, more);
		break;
	default:
		mps_log(MPS_LOG_WARNING, "PreAuthDropStart (%u) passed with %u "
		    "unauthenticated connections: dropping the %s connection "
		    "from %s at random%s", a->lim.drop_start, held, what, ip,
		    more);
		break;
	}
}

mps_admit_t
mps_admission_enter(mps_admission_t *a, const char *ip, const char *what,
    unsigned flags)
{
	struct addr_key k;
	struct slot *s;
	uint32_t home;
	mps_admit_t r = MPS_ADMIT_OK;
	unsigned held;

	addr_key_of(ip, &k);
	pthread_mutex_lock(&a->lock);
	held = a->count;
	s = (flags & MPS_ADMIT_ANY_ADDRESS) ? NULL : slot_find(a, &k, &home);
	if (s != NULL && s->count >= a->lim.per_address)
		r = MPS_ADMIT_ADDRESS;
	else if (held >= a->lim.max)
		r = MPS_ADMIT_FULL;
	else if ((s == NULL || s->count > 0) && drop_early(a, held))
		r = MPS_ADMIT_DROPPED;
	else {
		if (s != NULL && s->count == 0) {
			memcpy(s->key, k.key, KEY_LEN);
			s->family = k.family;
			s->home = home;
		}
		if (s != NULL)
			s->count++;
		a->count++;
	}
	pthread_mutex_unlock(&a->lock);
	if (r == MPS_ADMIT_OK)
		mps_metric_gauge_add(MPS_M_PREAUTH_OPEN, 1);
	else
		log_refusal(a, r, held, what, ip);
	return r;
}

void
mps_admission_leave(mps_admission_t *a, const char *ip, unsigned flags)
{
	struct addr_key k;
	struct slot *s;
	uint32_t home;
	int left = 0;

	addr_key_of(ip, &k);
	pthread_mutex_lock(&a->lock);
	s = (flags & MPS_ADMIT_ANY_ADDRESS) ? NULL : slot_find(a, &k, &home);
	/* A leave without its enter is a bug; do not let it wrap a count. */
	if ((s == NULL || s->count > 0) && a->count > 0) {
		if (s != NULL && --s->count == 0)
			slot_delete(a, (uint32_t)(s - a->table));
		a->count--;
		left = 1;
	}
	pthread_mutex_unlock(&a->lock);
	if (left)
		mps_metric_gauge_add(MPS_M_PREAUTH_OPEN, -1);
}

mps_admit_t
mps_admission_move(mps_admission_t *a, const char *from_ip,
    unsigned from_flags, const char *to_ip, unsigned to_flags,
    const char *what)
{
	struct addr_key k;
	struct slot *s;
	uint32_t home;
	mps_admit_t r = MPS_ADMIT_OK;
	unsigned held;

	pthread_mutex_lock(&a->lock);
	held = a->count;
	/* The old address's share first: deleting its slot may shift
	 * others, so the new one is looked up after. */
	if (!(from_flags & MPS_ADMIT_ANY_ADDRESS)) {
		addr_key_of(from_ip, &k);
		s = slot_find(a, &k, &home);
		if (s->count > 0 && --s->count == 0)
			slot_delete(a, (uint32_t)(s - a->table));
	}
	addr_key_of(to_ip, &k);
	s = (to_flags & MPS_ADMIT_ANY_ADDRESS) ? NULL : slot_find(a, &k, &home);
	if (s != NULL && s->count >= a->lim.per_address) {
		r = MPS_ADMIT_ADDRESS;
		if (a->count > 0)
			a->count--;
	} else if (s != NULL) {
		if (s->count == 0) {
			memcpy(s->key, k.key, KEY_LEN);
			s->family = k.family;
			s->home = home;
		}
		s->count++;
	}
	pthread_mutex_unlock(&a->lock);
	if (r != MPS_ADMIT_OK) {
		mps_metric_gauge_add(MPS_M_PREAUTH_OPEN, -1);
		log_refusal(a, r, held, what, to_ip);
	}
	return r;
}

unsigned
mps_admission_count(mps_admission_t *a)
{
	unsigned n;

	pthread_mutex_lock(&a->lock);
	n = a->count;
	pthread_mutex_unlock(&a->lock);
	return n;
}

unsigned
mps_admission_count_address(mps_admission_t *a, const char *ip)
{
	struct addr_key k;
	struct slot *s;
	uint32_t home;
	unsigned n;

	addr_key_of(ip, &k);
	pthread_mutex_lock(&a->lock);
	s = slot_find(a, &k, &home);
	n = s->count;
	pthread_mutex_unlock(&a->lock);
	return n;
}
