/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.h: the process-wide counters behind GET /metrics.
 *
 * Every series that code counts into is known at compile time (an enum
 * below), so a count is one relaxed atomic add on a static array: no
 * lock, no allocation, callable from any strand, worker or the poller.
 * That is what lets the hot paths (login results, TLS failures, bytes)
 * carry a one-line call each.
 *
 * What the registry does NOT hold: values that already live elsewhere
 * and are read when scraped (devices connected: the registry's count;
 * per-subscriber notification counters: the notifier's own stats). The
 * admin listener's exposition (server/admin/admin_metrics.c) adds those.
 *
 * Names follow Prometheus conventions: mpsd_ prefix, counters end in
 * _total, durations are seconds, sizes bytes.
 */
#ifndef MPS_METRICS_H
#define MPS_METRICS_H

#include <stdint.h>
#include <stdio.h>

/* Counters and gauges without a dynamic label. */
typedef enum {
	/* mpsd_device_logins_total{result="accepted",method=...} */
	MPS_M_LOGIN_OK_PASSWORD,	/* the AMT plugin said yes */
	MPS_M_LOGIN_OK_CERTIFICATE,	/* a verified client certificate */
	MPS_M_LOGIN_OK_NONE,		/* NeedAuthentication false */
	/* mpsd_device_logins_total{result="refused",reason=...} */
	MPS_M_LOGIN_BAD_CREDENTIALS,	/* the plugin said no */
	MPS_M_LOGIN_NO_CREDENTIALS,	/* method none / empty password */
	MPS_M_LOGIN_BAD_USER,		/* a user name the codec refuses */
	MPS_M_LOGIN_TIMEOUT,		/* no login within the deadline */
	MPS_M_LOGIN_ERROR,		/* mpsd could not decide (memory...) */
	MPS_M_LOGIN_BUSY,		/* the device login lane refused it */
	/* mpsd_tls_handshake_failures_total{reason=...} */
	MPS_M_TLS_FAIL_ERROR,
	MPS_M_TLS_FAIL_TIMEOUT,
	/* mpsd_tunnel_bytes_total{direction=...} */
	MPS_M_BYTES_FROM_DEVICES,
	MPS_M_BYTES_TO_DEVICES,
	/* mpsd_keepalive_timeouts_total: tunnels dropped as silent */
	MPS_M_KEEPALIVE_TIMEOUTS,
	/* mpsd_channels_open (gauge) */
	MPS_M_CHANNELS_OPEN,
	/* mpsd_preauth_refused_total{reason=...}: connections closed at
	 * accept by the pre-auth budget (admission.h) */
	MPS_M_PREAUTH_REFUSED_ADDRESS,	/* MaxPreAuthPerAddress */
	MPS_M_PREAUTH_REFUSED_FULL,	/* MaxPreAuthConnections */
	MPS_M_PREAUTH_REFUSED_DROPPED,	/* early random drop */
	/* mpsd_preauth_connections (gauge): not authenticated yet */
	MPS_M_PREAUTH_OPEN,
	/* mpsd_device_handshakes (gauge): device TLS handshakes under way
	 * (held against MaxHandshakes) and waiting for a slot */
	MPS_M_HANDSHAKES_RUNNING,
	MPS_M_HANDSHAKES_WAITING,
	/* mpsd_login_refused_full_total{side=...}: authenticated, but the
	 * side's budget was full */
	MPS_M_FULL_DEVICES,		/* MaxConnections: DISCONNECT 12 */
	MPS_M_FULL_CONSOLES,		/* MaxConsoles */
	/* mpsd_consoles_active (gauge): consoles held against MaxConsoles */
	MPS_M_CONSOLES_ACTIVE,
	/* mpsd_log_messages_suppressed_total: repeated warnings a log
	 * limit (log_limit.h) counted instead of writing */
	MPS_M_LOG_SUPPRESSED,
	/* mpsd_log_lines_lost_total: lines the log file refused (disk
	 * full, I/O error) */
	MPS_M_LOG_LINES_LOST,
	/* mpsd_device_forwards_refused_total: tcpip-forwards past
	 * MaxForwardsPerDevice */
	MPS_M_FORWARDS_OVER_LIMIT,
	MPS_M_COUNT
} mps_metric_id_t;

/* The console front doors (label front). */
typedef enum {
	MPS_FRONT_SOCKS,
	MPS_FRONT_HTTP,
	MPS_FRONT_COUNT
} mps_metric_front_t;

/* What became of a console's request for a channel (label result). */
typedef enum {
	MPS_CONSOLE_OPENED,
	MPS_CONSOLE_NO_DEVICE,
	MPS_CONSOLE_PORT_REFUSED,
	MPS_CONSOLE_DEVICE_REFUSED,
	MPS_CONSOLE_TOO_MANY,
	MPS_CONSOLE_TIMEOUT,
	MPS_CONSOLE_INTERNAL,
	MPS_CONSOLE_AUTH_FAILED,
	MPS_CONSOLE_BAD_REQUEST,
	MPS_CONSOLE_BUSY,		/* the console login lane refused it */
	/* refused without asking the plugin: the address or the user name
	 * is over its ConsoleLoginFailures budget */
	MPS_CONSOLE_LOGIN_THROTTLED,
	MPS_CONSOLE_RESULT_COUNT
} mps_metric_console_result_t;

/* Which login an authentication plugin serves (label side). */
typedef enum {
	MPS_AUTH_SIDE_DEVICE,
	MPS_AUTH_SIDE_CONSOLE,
	MPS_AUTH_SIDE_COUNT
} mps_metric_auth_side_t;

/*
 * The worker lanes (label lane), numbered as workers.h numbers them:
 * io, blocking, device_auth, console_auth, notification. Written for
 * every lane but the I/O one (whose hot path counts nothing).
 */
#define MPS_METRICS_LANES 5

/* Why a lane refused a task (label reason). */
typedef enum {
	MPS_LANE_REFUSED_FULL,		/* its queue was at its bound */
	MPS_LANE_REFUSED_TIMEOUT,	/* it waited past the queue timeout */
	MPS_LANE_REFUSAL_COUNT
} mps_metric_lane_refusal_t;

/* Counts one refusal of a lane. Out-of-range values are ignored. */
void mps_metric_lane_refused(unsigned lane, mps_metric_lane_refusal_t why);
uint64_t mps_metric_lane_refused_get(unsigned lane,
    mps_metric_lane_refusal_t why);

/* Moves a lane's gauges: tasks queued, tasks running. */
void mps_metric_lane_gauges(unsigned lane, int64_t queued, int64_t running);

/* Upper bounds (seconds) of the plugin latency histogram, +Inf aside. */
#define MPS_METRICS_AUTH_BUCKETS \
	{ 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
#define MPS_METRICS_AUTH_NBUCKETS 12

/* Adds 1 / n to a counter. Lock-free; any thread. */
void mps_metric_inc(mps_metric_id_t id);
void mps_metric_add(mps_metric_id_t id, uint64_t n);

/* Moves a gauge by delta (may be negative). */
void mps_metric_gauge_add(mps_metric_id_t id, int64_t delta);

/* Reads a counter or gauge (tests, the status view). */
uint64_t mps_metric_get(mps_metric_id_t id);
int64_t mps_metric_gauge_get(mps_metric_id_t id);

/* Counts one console request's outcome. Out-of-range values are ignored. */
void mps_metric_console(mps_metric_front_t front,
    mps_metric_console_result_t result);
uint64_t mps_metric_console_get(mps_metric_front_t front,
    mps_metric_console_result_t result);

/*
 * Says which side a loaded authentication plugin serves, so that
 * mps_metric_auth_latency() can label its calls. Call at start-up, before
 * any login (the table is written once, then only read). At most two
 * plugins are remembered; others are labelled "other".
 */
void mps_metrics_auth_plugin_side(const void *plugin,
    mps_metric_auth_side_t side);

/* One Authenticate call of plugin took usec microseconds. */
void mps_metric_auth_latency(const void *plugin, int64_t usec);

/* Monotonic microseconds, for timing a call around the two above. */
int64_t mps_metrics_now_usec(void);

/*
 * Writes every series in the Prometheus text exposition format (0.0.4):
 * "# HELP", "# TYPE", then the samples. Returns 0, or -1 on a write
 * error of out.
 */
int mps_metrics_write(FILE *out);

/*
 * Writes a label value escaped as the format wants (backslash, double
 * quote and newline), without the surrounding quotes.
 */
void mps_metrics_write_label_value(FILE *out, const char *value);

/* Zeroes everything, plugin sides included (unit tests). */
void mps_metrics_reset(void);

#endif /* MPS_METRICS_H */
