/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_util.c: amtsim's small services: the clock, report lines, device
 * naming, the timer heap and epoll registration.
 */
#include "sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "mps_status.h"

uint64_t
sim_clock(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer on Linux. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	sim_g.now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return sim_g.now;
}

static void
vsay(const sim_device *d, int important, const char *fmt, va_list ap)
{
	char line[1024];
	int n = 0;

	if (sim_opt.quiet && !important)
		return;
	if (d != NULL)
		n = snprintf(line, sizeof(line), "device %u ", d->index);
	if (n < 0)
		n = 0;
	/* Build the whole line first so that it reaches stdout in one write
	 * and a test that tails the output never sees half a line. */
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	(void)fputs(line, stdout);
	(void)fputc('\n', stdout);
}

void
sim_say(int important, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(NULL, important, fmt, ap);
	va_end(ap);
}

void
sim_dev_say(const sim_device *d, int important, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(d, important, fmt, ap);
	va_end(ap);
}

void
sim_device_uuid(const sim_device *d, uint8_t uuid[MPS_APF_UUID_LEN])
{
	uint64_t tail = 0;
	int i;

	/*
	 * Raw bytes 10..15 are the last 12 hex digits of the text form, in
	 * the same (big-endian) order, so adding to them as one 48-bit
	 * number gives base + index in the printed UUID.
	 */
	memcpy(uuid, sim_opt.uuid_base, MPS_APF_UUID_LEN);
	for (i = 10; i < 16; i++)
		tail = (tail << 8) | uuid[i];
	tail = (tail + d->index) & 0xffffffffffffULL;
	for (i = 15; i >= 10; i--) {
		uuid[i] = (uint8_t)(tail & 0xff);
		tail >>= 8;
	}
}

void
sim_device_fqdn(const sim_device *d, char out[SIM_FQDN_MAX])
{
	const char *t = sim_opt.fqdn, *pct;
	int n;

	/*
	 * "%d" in the template is replaced by the index (done by hand: the
	 * template is user input and never a printf format). Without it, one
	 * device uses the name as given and several get "dev-<index>."
	 * prepended so that every device has its own name.
	 */
	if ((pct = strstr(t, "%d")) != NULL)
		n = snprintf(out, SIM_FQDN_MAX, "%.*s%u%s", (int)(pct - t), t,
		    d->index, pct + 2);
	else if (sim_opt.count > 1 && *t != '\0')
		n = snprintf(out, SIM_FQDN_MAX, "dev-%u.%s", d->index, t);
	else
		n = snprintf(out, SIM_FQDN_MAX, "%s", t);
	if (n < 0)
		out[0] = '\0';
}

static const char *const misbehave_names[] = {
	[SIM_MB_NONE] = "none",
	[SIM_MB_TRUNCATE] = "truncate",
	[SIM_MB_REORDER] = "reorder",
	[SIM_MB_REORDER_FORWARD] = "reorder-forward",
	[SIM_MB_OVERSIZE] = "oversize",
	[SIM_MB_GARBAGE] = "garbage",
	[SIM_MB_STALL] = "stall",
	[SIM_MB_BADVERSION] = "badversion",
	[SIM_MB_UNKNOWN_TYPE] = "unknown-type",
	[SIM_MB_SLOWLORIS] = "slowloris",
	[SIM_MB_OVERRUN] = "overrun"
};

const char *
sim_misbehave_name(sim_misbehave mode)
{
	const size_t n = sizeof(misbehave_names) / sizeof(misbehave_names[0]);

	if ((size_t)mode >= n)
		return "unknown";
	return misbehave_names[mode];
}

int
sim_misbehave_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(misbehave_names) / sizeof(misbehave_names[0]);
	    i++)
		if (strcmp(name, misbehave_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
sim_status_token(apr_status_t rv)
{
	switch (rv) {
	case APR_SUCCESS:
		return "ok";
	case MPS_NEED_MORE:
		return "need-more";
	case MPS_ERR_MALFORMED:
		return "malformed";
	case MPS_ERR_TOO_LARGE:
		return "too-large";
	case MPS_ERR_TRAILING_DATA:
		return "trailing-data";
	case APR_ENOMEM:
		return "no-memory";
	default:
		return "error";
	}
}

void
sim_rss_kb(unsigned long *cur, unsigned long *peak)
{
	char line[256];
	FILE *f;

	*cur = *peak = 0;
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*cur = strtoul(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*peak = strtoul(line + 6, NULL, 10);
	}
	(void)fclose(f);
}

/* ---- Timer heap ----
 *
 * A binary min-heap of devices keyed by their earliest deadline. Each
 * device is in it at most once (heap_idx, 1-based), so a device with
 * several timers (keepalive, reply timeout, trickle, channel linger)
 * costs one entry, re-keyed after each event.
 */

static sim_device **heap;
static uint32_t heap_len, heap_cap;

int
sim_heap_init(uint32_t capacity)
{
	heap = calloc(capacity + 1, sizeof(*heap));
	if (heap == NULL)
		return -1;
	heap_cap = capacity;
	heap_len = 0;
	return 0;
}

void
sim_heap_free(void)
{
	free(heap);
	heap = NULL;
	heap_len = heap_cap = 0;
}

static void
heap_place(uint32_t i, sim_device *d)
{
	heap[i] = d;
	d->heap_idx = i;
}

static void
heap_up(uint32_t i)
{
	sim_device *d = heap[i];

	while (i > 1 && heap[i / 2]->heap_key > d->heap_key) {
		heap_place(i, heap[i / 2]);
		i /= 2;
	}
	heap_place(i, d);
}

static void
heap_down(uint32_t i)
{
	sim_device *d = heap[i];
	uint32_t c;

	while ((c = 2 * i) <= heap_len) {
		if (c < heap_len && heap[c + 1]->heap_key < heap[c]->heap_key)
			c++;
		if (heap[c]->heap_key >= d->heap_key)
			break;
		heap_place(i, heap[c]);
		i = c;
	}
	heap_place(i, d);
}

void
sim_heap_set(sim_device *d, uint64_t when)
{
	uint32_t i = d->heap_idx;
	sim_device *last;

	if (when == 0) {
		if (i == 0)
			return;
		d->heap_idx = 0;
		last = heap[heap_len--];
		if (last != d) {
			heap_place(i, last);
			heap_up(i);
			heap_down(last->heap_idx);
		}
		return;
	}
	d->heap_key = when;
	if (i == 0) {
		/* One slot per device was reserved: this cannot overflow. */
		if (heap_len >= heap_cap)
			abort();
		heap_place(++heap_len, d);
		heap_up(heap_len);
	} else {
		heap_up(i);
		heap_down(d->heap_idx);
	}
}

sim_device *
sim_heap_top(void)
{
	return heap_len > 0 ? heap[1] : NULL;
}

int
sim_io_set(sim_io *io, uint32_t events)
{
	struct epoll_event ev;
	int op;

	if (io->fd < 0 || events == io->events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = io;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (io->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(sim_g.epfd, op, io->fd, &ev) == -1) {
		/* ENOMEM or ENOSPC (max_user_watches) are the only real
		 * failures: the caller closes the connection. */
		return -1;
	}
	io->events = events;
	return 0;
}
