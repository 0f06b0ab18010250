/* SPDX-License-Identifier: Apache-2.0 */
/* login_budget.c: see login_budget.h. */
#include "login_budget.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_sets.h"

#define SETS 1024		/* power of two; 4 keys a set */

/* A key's record: the moment its bucket is full again. */
typedef struct budget {
	apr_time_t full_at;
} budget;

struct mps_login_budget_t {
	pthread_mutex_t lock;
	apr_interval_time_t step;	/* one failure's worth of refill */
	apr_interval_time_t depth;	/* the whole bucket: PERIOD */
	mps_keyed_sets_t *keys;
};

/* The key nearest to a full bucket is the one a full set forgets. */
static apr_time_t
rank(const void *record)
{
	return ((const budget *)record)->full_at;
}

mps_login_budget_t *
mps_login_budget_create(unsigned failures)
{
	mps_login_budget_t *b;

	if (failures == 0)
		failures = 1;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->keys = mps_keyed_sets_create(SETS, sizeof(budget),
	    rank)) == NULL) {
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->lock, NULL);
	b->depth = MPS_LOGIN_BUDGET_PERIOD;
	b->step = MPS_LOGIN_BUDGET_PERIOD / failures;
	if (b->step < 1)
		b->step = 1;
	return b;
}

void
mps_login_budget_destroy(mps_login_budget_t *b)
{
	if (b == NULL)
		return;
	mps_keyed_sets_destroy(b->keys);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int
mps_login_budget_take(mps_login_budget_t *b, const char *key, apr_time_t now)
{
	budget *e;
	apr_time_t from;
	int ok = 1;

	pthread_mutex_lock(&b->lock);
	e = mps_keyed_sets_get(b->keys, key, 1);
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
	budget *e;

	pthread_mutex_lock(&b->lock);
	/* Gone (taken over) means forgotten: nothing left to give back. */
	if ((e = mps_keyed_sets_get(b->keys, key, 0)) != NULL && e->full_at > now) {
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
