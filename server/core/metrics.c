/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c: see metrics.h.
 *
 * Storage is static and fixed: relaxed atomics are enough because each
 * series is an independent monotonic number (or a gauge); a scrape that
 * reads one series a moment before another is still a valid sample of
 * each. The histogram keeps per-bucket (not cumulative) counts and sums
 * them when written, so its +Inf bucket always equals its _count.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* How one fixed series is exposed. A family is written once, before its
 * first series; series of one family are adjacent in this table. */
struct series_desc {
	const char *family;
	const char *type;	/* "counter" | "gauge" */
	const char *help;
	const char *labels;	/* inside the braces, or NULL */
};

static const struct series_desc descs[MPS_M_COUNT] = {
	[MPS_M_LOGIN_OK_PASSWORD] = { "mpsd_device_logins_total", "counter",
	    "Device logins, by result and by method (accepted) or reason (refused).",
	    "result=\"accepted\",reason=\"password\"" },
	[MPS_M_LOGIN_OK_CERTIFICATE] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"accepted\",reason=\"certificate\"" },
	[MPS_M_LOGIN_OK_NONE] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"accepted\",reason=\"no_authentication\"" },
	[MPS_M_LOGIN_BAD_CREDENTIALS] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"refused\",reason=\"bad_credentials\"" },
	[MPS_M_LOGIN_NO_CREDENTIALS] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"refused\",reason=\"no_credentials\"" },
	[MPS_M_LOGIN_BAD_USER] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"refused\",reason=\"bad_user_name\"" },
	[MPS_M_LOGIN_TIMEOUT] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"refused\",reason=\"timeout\"" },
	[MPS_M_LOGIN_ERROR] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"refused\",reason=\"internal_error\"" },
	[MPS_M_LOGIN_BUSY] = { "mpsd_device_logins_total", NULL, NULL,
	    "result=\"refused\",reason=\"busy\"" },
	[MPS_M_TLS_FAIL_ERROR] = { "mpsd_tls_handshake_failures_total", "counter",
	    "Device TLS handshakes that failed or did not finish in time.",
	    "reason=\"error\"" },
	[MPS_M_TLS_FAIL_TIMEOUT] = { "mpsd_tls_handshake_failures_total", NULL,
	    NULL, "reason=\"timeout\"" },
	[MPS_M_BYTES_FROM_DEVICES] = { "mpsd_tunnel_bytes_total", "counter",
	    "APF bytes of authenticated device tunnels, by direction.",
	    "direction=\"from_device\"" },
	[MPS_M_BYTES_TO_DEVICES] = { "mpsd_tunnel_bytes_total", NULL, NULL,
	    "direction=\"to_device\"" },
	[MPS_M_KEEPALIVE_TIMEOUTS] = { "mpsd_keepalive_timeouts_total", "counter",
	    "Tunnels dropped because the device stayed silent for IdleTimeout.",
	    NULL },
	[MPS_M_CHANNELS_OPEN] = { "mpsd_channels_open", "gauge",
	    "APF channels currently in the devices' channel tables.", NULL },
	[MPS_M_PREAUTH_REFUSED_ADDRESS] = { "mpsd_preauth_refused_total",
	    "counter", "Connections closed at accept by the budget of "
	    "unauthenticated connections, by the limit that refused them.",
	    "reason=\"per_address\"" },
	[MPS_M_PREAUTH_REFUSED_FULL] = { "mpsd_preauth_refused_total", NULL,
	    NULL, "reason=\"full\"" },
	[MPS_M_PREAUTH_REFUSED_DROPPED] = { "mpsd_preauth_refused_total", NULL,
	    NULL, "reason=\"random_drop\"" },
	[MPS_M_PREAUTH_OPEN] = { "mpsd_preauth_connections", "gauge",
	    "Device and console connections that have not authenticated yet "
	    "(held against MaxPreAuthConnections).", NULL },
	[MPS_M_HANDSHAKES_RUNNING] = { "mpsd_device_handshakes", "gauge",
	    "Device TLS handshakes under way (held against MaxHandshakes) "
	    "and waiting for one of its slots.", "state=\"running\"" },
	[MPS_M_HANDSHAKES_WAITING] = { "mpsd_device_handshakes", NULL, NULL,
	    "state=\"waiting\"" },
	[MPS_M_FULL_DEVICES] = { "mpsd_login_refused_full_total", "counter",
	    "Authenticated devices and consoles refused because their budget "
	    "(MaxConnections, MaxConsoles) was full.", "side=\"device\"" },
	[MPS_M_FULL_CONSOLES] = { "mpsd_login_refused_full_total", NULL, NULL,
	    "side=\"console\"" },
	[MPS_M_CONSOLES_ACTIVE] = { "mpsd_consoles_active", "gauge",
	    "Console connections past their login and request (held against "
	    "MaxConsoles).", NULL },
	[MPS_M_LOG_SUPPRESSED] = { "mpsd_log_messages_suppressed_total",
	    "counter", "Repeated warnings counted instead of written (one "
	    "line per peer and interval carries the count).", NULL },
	[MPS_M_LOG_LINES_LOST] = { "mpsd_log_lines_lost_total", "counter",
	    "Log lines the log file refused (disk full, I/O error).", NULL },
	[MPS_M_FORWARDS_OVER_LIMIT] = { "mpsd_device_forwards_refused_total",
	    "counter", "tcpip-forward requests refused because the device "
	    "holds MaxForwardsPerDevice forwards already.", NULL },
};

static const char *const front_names[MPS_FRONT_COUNT] = { "socks", "http" };
static const char *const console_result_names[MPS_CONSOLE_RESULT_COUNT] = {
	"opened", "no_device", "port_refused", "device_refused", "too_many",
	"timeout", "internal_error", "auth_failed", "bad_request", "busy",
	"login_throttled"
};
static const char *const lane_names[MPS_METRICS_LANES] = {
	"io", "blocking", "device_auth", "console_auth", "notification"
};
static const char *const refusal_names[MPS_LANE_REFUSAL_COUNT] = {
	"queue_full", "queue_timeout"
};
static const char *const side_names[MPS_AUTH_SIDE_COUNT + 1] = {
	"device", "console", "other"
};
static const double auth_bounds[MPS_METRICS_AUTH_NBUCKETS] =
    MPS_METRICS_AUTH_BUCKETS;

static _Atomic uint64_t counters[MPS_M_COUNT];
static _Atomic uint64_t consoles[MPS_FRONT_COUNT][MPS_CONSOLE_RESULT_COUNT];
static _Atomic uint64_t lane_refusals[MPS_METRICS_LANES][MPS_LANE_REFUSAL_COUNT];
static _Atomic int64_t lane_queued[MPS_METRICS_LANES];
static _Atomic int64_t lane_running[MPS_METRICS_LANES];

struct histogram {
	_Atomic uint64_t buckets[MPS_METRICS_AUTH_NBUCKETS + 1]; /* last: +Inf */
	_Atomic uint64_t sum_usec;
};
static struct histogram auth_hist[MPS_AUTH_SIDE_COUNT + 1];

/* Written at start-up only (before any login), read afterwards. */
static const void *_Atomic plugin_of_side[MPS_AUTH_SIDE_COUNT];

void
mps_metric_add(mps_metric_id_t id, uint64_t n)
{
	if ((unsigned)id < MPS_M_COUNT)
		atomic_fetch_add_explicit(&counters[id], n, memory_order_relaxed);
}

void
mps_metric_inc(mps_metric_id_t id)
{
	mps_metric_add(id, 1);
}

void
mps_metric_gauge_add(mps_metric_id_t id, int64_t delta)
{
	/* Two's complement wrap-around makes an unsigned add of a negative
	 * delta a subtraction. */
	mps_metric_add(id, (uint64_t)delta);
}

uint64_t
mps_metric_get(mps_metric_id_t id)
{
	if ((unsigned)id >= MPS_M_COUNT)
		return 0;
	return atomic_load_explicit(&counters[id], memory_order_relaxed);
}

int64_t
mps_metric_gauge_get(mps_metric_id_t id)
{
	return (int64_t)mps_metric_get(id);
}

void
mps_metric_console(mps_metric_front_t front, mps_metric_console_result_t result)
{
	if ((unsigned)front < MPS_FRONT_COUNT &&
	    (unsigned)result < MPS_CONSOLE_RESULT_COUNT)
		atomic_fetch_add_explicit(&consoles[front][result], 1,
		    memory_order_relaxed);
}

uint64_t
mps_metric_console_get(mps_metric_front_t front,
    mps_metric_console_result_t result)
{
	if ((unsigned)front >= MPS_FRONT_COUNT ||
	    (unsigned)result >= MPS_CONSOLE_RESULT_COUNT)
		return 0;
	return atomic_load_explicit(&consoles[front][result],
	    memory_order_relaxed);
}

void
mps_metric_lane_refused(unsigned lane, mps_metric_lane_refusal_t why)
{
	if (lane < MPS_METRICS_LANES && (unsigned)why < MPS_LANE_REFUSAL_COUNT)
		atomic_fetch_add_explicit(&lane_refusals[lane][why], 1,
		    memory_order_relaxed);
}

uint64_t
mps_metric_lane_refused_get(unsigned lane, mps_metric_lane_refusal_t why)
{
	if (lane >= MPS_METRICS_LANES || (unsigned)why >= MPS_LANE_REFUSAL_COUNT)
		return 0;
	return atomic_load_explicit(&lane_refusals[lane][why],
	    memory_order_relaxed);
}

void
mps_metric_lane_gauges(unsigned lane, int64_t queued, int64_t running)
{
	if (lane >= MPS_METRICS_LANES)
		return;
	if (queued != 0)
		atomic_fetch_add_explicit(&lane_queued[lane], queued,
		    memory_order_relaxed);
	if (running != 0)
		atomic_fetch_add_explicit(&lane_running[lane], running,
		    memory_order_relaxed);
}

void
mps_metrics_auth_plugin_side(const void *plugin, mps_metric_auth_side_t side)
{
	if ((unsigned)side < MPS_AUTH_SIDE_COUNT)
		atomic_store(&plugin_of_side[side], plugin);
}

void
mps_metric_auth_latency(const void *plugin, int64_t usec)
{
	struct histogram *h;
	double sec;
	int side, b;

	for (side = 0; side < MPS_AUTH_SIDE_COUNT; side++)
		if (plugin != NULL && atomic_load(&plugin_of_side[side]) == plugin)
			break;
	h = &auth_hist[side];	/* MPS_AUTH_SIDE_COUNT: "other" */
	if (usec < 0)
		usec = 0;
	sec = (double)usec / 1e6;
	for (b = 0; b < MPS_METRICS_AUTH_NBUCKETS; b++)
		if (sec <= auth_bounds[b])
			break;
	atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_usec, (uint64_t)usec,
	    memory_order_relaxed);
}

int64_t
mps_metrics_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
mps_metrics_write_label_value(FILE *out, const char *value)
{
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p == '"')
			fputs("\\\"", out);
		else if (*p == '\n')
			fputs("\\n", out);
		else
			fputc(*p, out);
	}
}

static void
write_fixed(FILE *out)
{
	int i;

	for (i = 0; i < MPS_M_COUNT; i++) {
		const struct series_desc *d = &descs[i];
		uint64_t v = atomic_load_explicit(&counters[i],
		    memory_order_relaxed);

		if (d->type != NULL)
			fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", d->family,
			    d->help, d->family, d->type);
		if (strcmp(descs[i].type != NULL ? descs[i].type : "", "gauge")
		    == 0)
			fprintf(out, "%s%s%s%s %lld\n", d->family,
			    d->labels ? "{" : "", d->labels ? d->labels : "",
			    d->labels ? "}" : "", (long long)(int64_t)v);
		else
			fprintf(out, "%s%s%s%s %llu\n", d->family,
			    d->labels ? "{" : "", d->labels ? d->labels : "",
			    d->labels ? "}" : "", (unsigned long long)v);
	}
}

static void
write_consoles(FILE *out)
{
	int f, r;

	fputs("# HELP mpsd_console_requests_total Console requests for a "
	    "device channel, by front door and result.\n"
	    "# TYPE mpsd_console_requests_total counter\n", out);
	for (f = 0; f < MPS_FRONT_COUNT; f++)
		for (r = 0; r < MPS_CONSOLE_RESULT_COUNT; r++)
			fprintf(out, "mpsd_console_requests_total{front=\"%s\","
			    "result=\"%s\"} %llu\n", front_names[f],
			    console_result_names[r], (unsigned long long)
			    atomic_load_explicit(&consoles[f][r],
			    memory_order_relaxed));
}

/* Every lane but the I/O lane (index 0), which keeps no counts. */
static void
write_lanes(FILE *out)
{
	int l, r;

	fputs("# HELP mpsd_lane_refusals_total Tasks a blocking worker lane "
	    "refused, by lane and reason.\n"
	    "# TYPE mpsd_lane_refusals_total counter\n", out);
	for (l = 1; l < MPS_METRICS_LANES; l++)
		for (r = 0; r < MPS_LANE_REFUSAL_COUNT; r++)
			fprintf(out, "mpsd_lane_refusals_total{lane=\"%s\","
			    "reason=\"%s\"} %llu\n", lane_names[l],
			    refusal_names[r], (unsigned long long)
			    atomic_load_explicit(&lane_refusals[l][r],
			    memory_order_relaxed));
	fputs("# HELP mpsd_lane_queued Tasks waiting for a thread, by "
	    "blocking worker lane.\n# TYPE mpsd_lane_queued gauge\n", out);
	for (l = 1; l < MPS_METRICS_LANES; l++)
		fprintf(out, "mpsd_lane_queued{lane=\"%s\"} %lld\n",
		    lane_names[l], (long long)atomic_load_explicit(
		    &lane_queued[l], memory_order_relaxed));
	fputs("# HELP mpsd_lane_busy Threads running a task, by blocking "
	    "worker lane.\n# TYPE mpsd_lane_busy gauge\n", out);
	for (l = 1; l < MPS_METRICS_LANES; l++)
		fprintf(out, "mpsd_lane_busy{lane=\"%s\"} %lld\n",
		    lane_names[l], (long long)atomic_load_explicit(
		    &lane_running[l], memory_order_relaxed));
}

static void
write_histograms(FILE *out)
{
	const char *name = "mpsd_auth_plugin_duration_seconds";
	int s, b;

	fprintf(out, "# HELP %s Time an authentication plugin took to "
	    "answer one login, by the side it serves.\n# TYPE %s histogram\n",
	    name, name);
	for (s = 0; s <= MPS_AUTH_SIDE_COUNT; s++) {
		struct histogram *h = &auth_hist[s];
		uint64_t cum = 0;

		for (b = 0; b <= MPS_METRICS_AUTH_NBUCKETS; b++) {
			cum += atomic_load_explicit(&h->buckets[b],
			    memory_order_relaxed);
			if (b < MPS_METRICS_AUTH_NBUCKETS)
				fprintf(out, "%s_bucket{side=\"%s\",le=\"%g\"} "
				    "%llu\n", name, side_names[s],
				    auth_bounds[b], (unsigned long long)cum);
			else
				fprintf(out, "%s_bucket{side=\"%s\",le=\"+Inf\"} "
				    "%llu\n", name, side_names[s],
				    (unsigned long long)cum);
		}
		fprintf(out, "%s_sum{side=\"%s\"} %.6f\n", name, side_names[s],
		    (double)atomic_load_explicit(&h->sum_usec,
		    memory_order_relaxed) / 1e6);
		fprintf(out, "%s_count{side=\"%s\"} %llu\n", name,
		    side_names[s], (unsigned long long)cum);
	}
}

int
mps_metrics_write(FILE *out)
{
	write_fixed(out);
	write_consoles(out);
	write_lanes(out);
	write_histograms(out);
	return ferror(out) ? -1 : 0;
}

void
mps_metrics_reset(void)
{
	int i, j;

	for (i = 0; i < MPS_M_COUNT; i++)
		atomic_store(&counters[i], 0);
	for (i = 0; i < MPS_FRONT_COUNT; i++)
		for (j = 0; j < MPS_CONSOLE_RESULT_COUNT; j++)
			atomic_store(&consoles[i][j], 0);
	for (i = 0; i < MPS_METRICS_LANES; i++) {
		for (j = 0; j < MPS_LANE_REFUSAL_COUNT; j++)
			atomic_store(&lane_refusals[i][j], 0);
		/* The gauges follow live tasks: not reset. */
	}
	for (i = 0; i <= MPS_AUTH_SIDE_COUNT; i++) {
		for (j = 0; j <= MPS_METRICS_AUTH_NBUCKETS; j++)
			atomic_store(&auth_hist[i].buckets[j], 0);
		atomic_store(&auth_hist[i].sum_usec, 0);
	}
	for (i = 0; i < MPS_AUTH_SIDE_COUNT; i++)
		atomic_store(&plugin_of_side[i], NULL);
}
