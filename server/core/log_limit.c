/* SPDX-License-Identifier: Apache-2.0 */
/* log_limit.c: see log_limit.h. */
#include "log_limit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "keyed_sets.h"
#include "metrics.h"

#define SETS 256		/* power of two; 4 keys a set */

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

/* A key's record. */
typedef struct entry {
	apr_time_t last;		/* last message, let through or not */
	mps_log_limit_t limit;
} entry;

struct mps_log_limit_table_t {
	pthread_mutex_t lock;
	unsigned burst;
	apr_interval_time_t interval;
	mps_keyed_sets_t *keys;
};

/* The least recently heard key is the one a full set forgets. */
static apr_time_t
rank(const void *record)
{
	return ((const entry *)record)->last;
}

mps_log_limit_table_t *
mps_log_limit_table_create(unsigned burst, apr_interval_time_t interval)
{
	mps_log_limit_table_t *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if ((t->keys = mps_keyed_sets_create(SETS, sizeof(entry),
	    rank)) == NULL) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->burst = burst > 0 ? burst : 1;
	t->interval = interval;
	return t;
}

void
mps_log_limit_table_destroy(mps_log_limit_table_t *t)
{
	if (t == NULL)
		return;
	mps_keyed_sets_destroy(t->keys);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int
mps_log_limit_table_allow(mps_log_limit_table_t *t, const char *key,
    apr_time_t now, unsigned long *suppressed)
{
	entry *e;
	int ok;

	pthread_mutex_lock(&t->lock);
	e = mps_keyed_sets_get(t->keys, key, 1);
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

/* What a flush takes out of the table, to log outside its lock. */
typedef struct flushed {
	struct {
		char key[MPS_KEYED_SETS_KEY_MAX];
		unsigned long n;
	} out[32];
	unsigned k, max;
	apr_time_t now;
	apr_interval_time_t interval;
} flushed;

static int
take_count(const char *key, void *record, void *arg)
{
	entry *e = record;
	flushed *f = arg;

	if (e->limit.suppressed == 0 ||
	    f->now - e->limit.window_start < f->interval)
		return 0;
	snprintf(f->out[f->k].key, sizeof(f->out[f->k].key), "%s", key);
	f->out[f->k].n = e->limit.suppressed;
	e->limit.suppressed = 0;
	return ++f->k >= f->max;
}

unsigned
mps_log_limit_table_flush(mps_log_limit_table_t *t, apr_time_t now,
    mps_log_level_t level, const char *what, unsigned max)
{
	flushed f;
	unsigned i;

	if (t == NULL || max == 0)
		return 0;
	f.k = 0;
	f.max = max < 32 ? max : 32;
	f.now = now;
	f.interval = t->interval;
	pthread_mutex_lock(&t->lock);
	mps_keyed_sets_foreach(t->keys, take_count, &f);
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < f.k; i++)
		mps_log(level, "%s %s: %lu similar message%s suppressed in the "
		    "last %ld s", what, f.out[i].key, f.out[i].n,
		    f.out[i].n == 1 ? "" : "s",
		    (long)apr_time_sec(t->interval));
	return f.k;
}
