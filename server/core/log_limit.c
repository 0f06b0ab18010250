/* SPDX-License-Identifier: Apache-2.0 */
/* log_limit.c: see log_limit.h. */
#include "log_limit.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define KEY_MAX 64		/* an IPv6 text address fits */
#define SETS 256		/* power of two */
#define WAYS 4			/* entries per set */

int
mps_log_limit_allow(mps_log_limit_t *l, apr_time_t now, unsigned burst,
    apr_interval_time_t interval, unsigned long *suppressed)
{
	/* A fixed window, not a sliding one: cheap, and at worst twice
	 * burst lines around a window's edge. A clock that went back
	 * starts a new window too. */
	if (l->passed == 0 || now - l->window_start >= interval ||
	    now < l->window_start) {
		l->window_start = now;
		l->passed = 0;
	}
	if (l->passed >= burst) {
		l->suppressed++;
		mps_metric_inc(MPS_M_LOG_SUPPRESSED);
		return 0;
	}
	l->passed++;
	*suppressed = l->suppressed;
	l->suppressed = 0;
	return 1;
}

/* Writes fmt/ap with the count appended (the caller let it through). */
static void
write_counted(mps_log_level_t level, unsigned long suppressed,
    const char *fmt, va_list ap)
{
	char msg[MPS_LOG_LINE_MAX];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (suppressed > 0)
		mps_log(level, "%s (%lu similar message%s suppressed)", msg,
		    suppressed, suppressed == 1 ? "" : "s");
	else
		mps_log(level, "%s", msg);
}

void
mps_log_vlimited(mps_log_limit_t *l, unsigned burst,
    apr_interval_time_t interval, mps_log_level_t level, const char *fmt,
    va_list ap)
{
	unsigned long suppressed;

	if (!mps_log_enabled(level))
		return;
	if (!mps_log_limit_allow(l, apr_time_now(), burst, interval,
	    &suppressed))
		return;
	write_counted(level, suppressed, fmt, ap);
}

void
mps_log_limited(mps_log_limit_t *l, unsigned burst,
    apr_interval_time_t interval, mps_log_level_t level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mps_log_vlimited(l, burst, interval, level, fmt, ap);
	va_end(ap);
}

void
mps_log_limit_flush(mps_log_limit_t *l, mps_log_level_t level,
    const char *fmt, ...)
{
	char msg[MPS_LOG_LINE_MAX];
	unsigned long n = l->suppressed;
	va_list ap;

	if (n == 0)
		return;
	l->suppressed = 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mps_log(level, "%s: %lu similar message%s suppressed", msg, n,
	    n == 1 ? "" : "s");
}

/* ---- the keyed table ---------------------------------------------------- */

typedef struct entry {
	char key[KEY_MAX];
	apr_time_t last;		/* last message, let through or not */
	mps_log_limit_t limit;
} entry;

struct mps_log_limit_table_t {
	pthread_mutex_t lock;
	unsigned burst;
	apr_interval_time_t interval;
	apr_uint32_t seed;
	entry sets[SETS][WAYS];
};

mps_log_limit_table_t *
mps_log_limit_table_create(unsigned burst, apr_interval_time_t interval)
{
	mps_log_limit_table_t *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->burst = burst > 0 ? burst : 1;
	t->interval = interval;
	/* Not a secret: only spreads keys differently per process. */
	t->seed = (apr_uint32_t)apr_time_now() ^ (apr_uint32_t)(uintptr_t)t;
	return t;
}

void
mps_log_limit_table_destroy(mps_log_limit_table_t *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The entry for key: its own, else the least recently used of its set,
 * taken over (forgetting what it counted). */
static entry *
entry_for(mps_log_limit_table_t *t, const char *key)
{
	apr_uint32_t h = 2166136261u ^ t->seed;
	entry *set, *victim;
	const char *p;
	unsigned i;

	for (p = key; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	set = t->sets[h & (SETS - 1)];
	victim = &set[0];
	for (i = 0; i < WAYS; i++) {
		if (strncmp(set[i].key, key, KEY_MAX - 1) == 0 &&
		    set[i].key[0] != '\0')
			return &set[i];
		if (set[i].last < victim->last)
			victim = &set[i];
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	return victim;
}

int
mps_log_limit_table_allow(mps_log_limit_table_t *t, const char *key,
    apr_time_t now, unsigned long *suppressed)
{
	entry *e;
	int ok;

	pthread_mutex_lock(&t->lock);
	e = entry_for(t, key);
	e->last = now;
	ok = mps_log_limit_allow(&e->limit, now, t->burst, t->interval,
	    suppressed);
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void
mps_log_limited_key(mps_log_limit_table_t *t, const char *key,
    mps_log_level_t level, const char *fmt, ...)
{
	unsigned long suppressed = 0;
	va_list ap;

	if (!mps_log_enabled(level))
		return;
	if (t != NULL && !mps_log_limit_table_allow(t, key, apr_time_now(),
	    &suppressed))
		return;
	va_start(ap, fmt);
	write_counted(level, suppressed, fmt, ap);
	va_end(ap);
}

unsigned
mps_log_limit_table_flush(mps_log_limit_table_t *t, apr_time_t now,
    mps_log_level_t level, const char *what, unsigned max)
{
	struct {
		char key[KEY_MAX];
		unsigned long n;
	} out[32];
	unsigned i, j, k = 0;
	entry *e;

	if (t == NULL)
		return 0;
	if (max > sizeof(out) / sizeof(out[0]))
		max = sizeof(out) / sizeof(out[0]);
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < SETS && k < max; i++) {
		for (j = 0; j < WAYS && k < max; j++) {
			e = &t->sets[i][j];
			if (e->key[0] == '\0' || e->limit.suppressed == 0 ||
			    now - e->limit.window_start < t->interval)
				continue;
			memcpy(out[k].key, e->key, sizeof(out[k].key));
			out[k].n = e->limit.suppressed;
			e->limit.suppressed = 0;
			k++;
		}
	}
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < k; i++)
		mps_log(level, "%s %s: %lu similar message%s suppressed in the "
		    "last %ld s", what, out[i].key, out[i].n,
		    out[i].n == 1 ? "" : "s",
		    (long)apr_time_sec(t->interval));
	return k;
}
