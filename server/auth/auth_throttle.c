/* SPDX-License-Identifier: Apache-2.0 */
/* auth_throttle.c: see auth_throttle.h. */
#include "auth_throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096		/* power of two */
#define IP_MAX 48		/* an IPv6 text address fits */

typedef struct slot {
	char ip[IP_MAX];
	unsigned failures;
	apr_time_t last;
} slot;

struct mps_auth_throttle_t {
	pthread_mutex_t lock;
	slot slots[SLOTS];
};

mps_auth_throttle_t *
mps_auth_throttle_create(void)
{
	mps_auth_throttle_t *t = calloc(1, sizeof(*t));

	if (t != NULL)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

void
mps_auth_throttle_destroy(mps_auth_throttle_t *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* FNV-1a: cheap and well spread for short strings. */
static slot *
slot_for(mps_auth_throttle_t *t, const char *ip)
{
	apr_uint32_t h = 2166136261u;

	for (; *ip != '\0'; ip++) {
		h ^= (unsigned char)*ip;
		h *= 16777619u;
	}
	return &t->slots[h & (SLOTS - 1)];
}

apr_interval_time_t
mps_auth_throttle_failure(mps_auth_throttle_t *t, const char *ip,
    apr_time_t now)
{
	slot *s;
	apr_interval_time_t delay = 0;
	unsigned i;

	pthread_mutex_lock(&t->lock);
	s = slot_for(t, ip);
	if (strncmp(s->ip, ip, IP_MAX) != 0 || now - s->last > MPS_THROTTLE_WINDOW) {
		snprintf(s->ip, sizeof(s->ip), "%s", ip);
		s->failures = 0;
	}
	s->failures++;
	s->last = now;
	if (s->failures > 1) {
		delay = MPS_THROTTLE_BASE;
		for (i = 2; i < s->failures && delay < MPS_THROTTLE_MAX; i++)
			delay *= 2;
		if (delay > MPS_THROTTLE_MAX)
			delay = MPS_THROTTLE_MAX;
	}
	pthread_mutex_unlock(&t->lock);
	return delay;
}

void
mps_auth_throttle_success(mps_auth_throttle_t *t, const char *ip)
{
	slot *s;

	pthread_mutex_lock(&t->lock);
	s = slot_for(t, ip);
	if (strncmp(s->ip, ip, IP_MAX) == 0) {
		s->failures = 0;
		s->ip[0] = '\0';
	}
	pthread_mutex_unlock(&t->lock);
}
