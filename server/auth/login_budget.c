/* SPDX-License-Identifier: Apache-2.0 */
/* login_budget.c: see login_budget.h. */
#include "login_budget.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 64		/* an IPv6 text address fits */
#define SETS 1024		/* power of two */
#define WAYS 4

typedef struct entry {
	char key[KEY_MAX];
	apr_time_t full_at;		/* the bucket is full again then */
} entry;

struct mps_login_budget_t {
	pthread_mutex_t lock;
	apr_interval_time_t step;	/* one failure's worth of refill */
	apr_interval_time_t depth;	/* the whole bucket: PERIOD */
	apr_uint32_t seed;
	entry sets[SETS][WAYS];
};

mps_login_budget_t *
mps_login_budget_create(unsigned failures)
{
	mps_login_budget_t *b;

	if (failures == 0)
		failures = 1;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	b->depth = MPS_LOGIN_BUDGET_PERIOD;
	b->step = MPS_LOGIN_BUDGET_PERIOD / failures;
	if (b->step < 1)
		b->step = 1;
	/* Spreads keys differently per process, so that colliding names
	 * cannot be computed once for every mpsd. */
	b->seed = (apr_uint32_t)apr_time_now() ^
	    (apr_uint32_t)((uintptr_t)b >> 4);
	return b;
}

void
mps_login_budget_destroy(mps_login_budget_t *b)
{
	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* key's entry, or with create the one it takes over; NULL otherwise. */
static entry *
lookup(mps_login_budget_t *b, const char *key, int create)
{
	apr_uint32_t h = 2166136261u ^ b->seed;
	entry *set, *victim;
	const char *p;
	unsigned i;

	for (p = key; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	set = b->sets[h & (SETS - 1)];
	victim = &set[0];
	for (i = 0; i < WAYS; i++) {
		if (set[i].key[0] != '\0' &&
		    strncmp(set[i].key, key, KEY_MAX - 1) == 0)
			return &set[i];
		if (set[i].full_at < victim->full_at)
			victim = &set[i];
	}
	if (!create)
		return NULL;
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->full_at = 0;
	return victim;
}

int
mps_login_budget_take(mps_login_budget_t *b, const char *key, apr_time_t now)
{
	entry *e;
	apr_time_t from;
	int ok = 1;

	pthread_mutex_lock(&b->lock);
	e = lookup(b, key, 1);
	from = e->full_at > now ? e->full_at : now;
	/* The bucket may not hold more than its depth of debt. */
	if (from + b->step - now > b->depth)
		ok = 0;
	else
		e->full_at = from + b->step;
	pthread_mutex_unlock(&b->lock);
	return ok;
}

void
mps_login_budget_refund(mps_login_budget_t *b, const char *key,
    apr_time_t now)
{
	entry *e;

	pthread_mutex_lock(&b->lock);
	/* Gone (taken over) means forgotten: nothing left to give back. */
	if ((e = lookup(b, key, 0)) != NULL && e->full_at > now) {
		e->full_at -= b->step;
		if (e->full_at < now)
			e->full_at = now;
	}
	pthread_mutex_unlock(&b->lock);
}

void
mps_login_budget_address_key(const char *ip, char *out, size_t size)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (size == 0)
		return;
	if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, a) != 1) {
		snprintf(out, size, "%s", ip);
		return;
	}
	if (memcmp(a, mapped, sizeof(mapped)) == 0) {
		if (inet_ntop(AF_INET, a + 12, text, sizeof(text)) != NULL) {
			snprintf(out, size, "%s", text);
			return;
		}
	}
	memset(a + 8, 0, 8);
	if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL) {
		snprintf(out, size, "%s", ip);
		return;
	}
	snprintf(out, size, "%s/64", text);
}
