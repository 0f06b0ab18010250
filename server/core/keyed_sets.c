/* SPDX-License-Identifier: Apache-2.0 */
/* keyed_sets.c: see keyed_sets.h. */
#include "keyed_sets.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4			/* slots per set */

/* A slot: the key, then the owner's record (aligned for any type). */
typedef struct slot_head {
	char key[MPS_KEYED_SETS_KEY_MAX];
} slot_head;

struct mps_keyed_sets_t {
	unsigned sets;			/* a power of two */
	size_t record_size;
	size_t slot_size;		/* head + record, aligned */
	mps_keyed_sets_rank_fn rank;
	apr_uint32_t seed;
	unsigned char *slots;		/* sets * WAYS slots */
};

#define ALIGN(n) (((n) + sizeof(max_align_t) - 1) & \
    ~(sizeof(max_align_t) - 1))

mps_keyed_sets_t *
mps_keyed_sets_create(unsigned sets, size_t record_size,
    mps_keyed_sets_rank_fn rank)
{
	mps_keyed_sets_t *t;

	if (sets == 0 || (sets & (sets - 1)) != 0 || rank == NULL)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->sets = sets;
	t->record_size = record_size;
	t->slot_size = ALIGN(sizeof(slot_head)) + ALIGN(record_size);
	t->rank = rank;
	if ((t->slots = calloc((size_t)sets * WAYS, t->slot_size)) == NULL) {
		free(t);
		return NULL;
	}
	/* Not a secret: only spreads keys differently per process. */
	t->seed = (apr_uint32_t)apr_time_now() ^
	    (apr_uint32_t)((uintptr_t)t >> 4);
	return t;
}

void
mps_keyed_sets_destroy(mps_keyed_sets_t *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t);
}

static slot_head *
slot_at(mps_keyed_sets_t *t, size_t i)
{
	return (slot_head *)(void *)(t->slots + i * t->slot_size);
}

static void *
record_of(slot_head *s)
{
	return (unsigned char *)s + ALIGN(sizeof(slot_head));
}

void *
mps_keyed_sets_get(mps_keyed_sets_t *t, const char *key, int create)
{
	apr_uint32_t h = 2166136261u ^ t->seed;	/* FNV-1a, salted */
	slot_head *s, *victim = NULL;
	const char *p;
	size_t first;
	unsigned i;

	for (p = key; *p != '\0' && p - key < MPS_KEYED_SETS_KEY_MAX - 1;
	    p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	first = (size_t)(h & (t->sets - 1)) * WAYS;
	for (i = 0; i < WAYS; i++) {
		s = slot_at(t, first + i);
		if (s->key[0] != '\0' &&
		    strncmp(s->key, key, MPS_KEYED_SETS_KEY_MAX - 1) == 0)
			return record_of(s);
		/* A free slot beats any record; else the lowest rank. */
		if (victim == NULL || (victim->key[0] != '\0' &&
		    (s->key[0] == '\0' ||
		    t->rank(record_of(s)) < t->rank(record_of(victim)))))
			victim = s;
	}
	if (!create)
		return NULL;
	memset(victim, 0, t->slot_size);
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return record_of(victim);
}

void
mps_keyed_sets_foreach(mps_keyed_sets_t *t,
    int (*fn)(const char *key, void *record, void *arg), void *arg)
{
	size_t i, n = (size_t)t->sets * WAYS;
	slot_head *s;

	for (i = 0; i < n; i++) {
		s = slot_at(t, i);
		if (s->key[0] != '\0' && fn(s->key, record_of(s), arg) != 0)
			return;
	}
}
