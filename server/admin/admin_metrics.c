/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admin_metrics.c: GET /metrics, the Prometheus text format.
 *
 * The counters that code increments live in server/core/metrics.c; this
 * file adds what is read at scrape time from where it already lives (the
 * registry's count, the connection counter, the notifier's per-subscriber
 * stats), so nothing is counted twice.
 */
#include "admin_priv.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "metrics.h"
#include "notify.h"

static void
write_subscribers(FILE *out, mps_admin_status_t *st)
{
	static const struct {
		const char *result;
		size_t offset;
	} results[] = {
		{ "delivered", offsetof(mps_admin_subscriber_t, delivered) },
		{ "retried", offsetof(mps_admin_subscriber_t, retries) },
		{ "dropped", offsetof(mps_admin_subscriber_t, dropped) },
	};
	size_t r;
	int i;

	fputs("# HELP mpsd_notifications_total Connection notifications, by "
	    "subscriber and result (retried counts failed attempts that were "
	    "retried).\n# TYPE mpsd_notifications_total counter\n", out);
	for (i = 0; i < st->nsubscribers; i++)
		for (r = 0; r < sizeof(results) / sizeof(results[0]); r++) {
			fputs("mpsd_notifications_total{subscriber=\"", out);
			mps_metrics_write_label_value(out, st->subscribers[i].url);
			fprintf(out, "\",result=\"%s\"} %llu\n", results[r].result,
			    (unsigned long long)*(const uint64_t *)
			    ((const char *)&st->subscribers[i] +
			    results[r].offset));
		}
	fputs("# HELP mpsd_notifications_waiting Notifications queued or in "
	    "flight, by subscriber.\n# TYPE mpsd_notifications_waiting gauge\n",
	    out);
	for (i = 0; i < st->nsubscribers; i++) {
		fputs("mpsd_notifications_waiting{subscriber=\"", out);
		mps_metrics_write_label_value(out, st->subscribers[i].url);
		fprintf(out, "\"} %llu\n",
		    (unsigned long long)st->subscribers[i].waiting);
	}
}

int
mps_admin_metrics_text(mps_admin_t *a, char **text, size_t *len)
{
	mps_admin_status_t st;
	FILE *out;

	*text = NULL;
	*len = 0;
	mps_admin_collect_status(a, &st);
	out = open_memstream(text, len);
	if (out == NULL)
		return -1;
	fprintf(out, "# HELP mpsd_build_info The running mpsd's version.\n"
	    "# TYPE mpsd_build_info gauge\n"
	    "mpsd_build_info{version=\"%s\"} 1\n", st.version);
	fprintf(out, "# HELP mpsd_start_time_seconds When mpsd started, "
	    "seconds since the Unix epoch.\n"
	    "# TYPE mpsd_start_time_seconds gauge\n"
	    "mpsd_start_time_seconds %lld\n",
	    (long long)apr_time_sec(st.started));
	fprintf(out, "# HELP mpsd_devices_connected Authenticated device "
	    "tunnels in the registry.\n# TYPE mpsd_devices_connected gauge\n"
	    "mpsd_devices_connected %u\n", st.devices);
	fprintf(out, "# HELP mpsd_connections Authenticated device tunnels "
	    "held against MaxConnections.\n# TYPE mpsd_connections gauge\n"
	    "mpsd_connections %u\n", st.connections);
	write_subscribers(out, &st);
	(void)mps_metrics_write(out);
	if (fclose(out) != 0 || *text == NULL) {
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}
