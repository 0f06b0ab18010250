/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admin.c: the metrics registry (server/core/metrics.c), the admin
 * API's JSON views (server/admin/admin_views.c), its token file and the
 * <Admin> configuration checks.
 */
#include "unit.h"

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_pools.h>

#include "admin.h"
#include "admin_views.h"
#include "config.h"
#include "metrics.h"
#include "registry.h"

/* ---- helpers ------------------------------------------------------------ */

static char *
exposition(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(mps_metrics_write(out), 0);
	fclose(out);
	return text;
}

/* The line of text that starts with prefix (a sample's name and labels,
 * then a space), its value parsed. */
static int
sample(const char *text, const char *name_labels, double *value)
{
	size_t n = strlen(name_labels);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, name_labels, n) == 0 && p[n] == ' ') {
			*value = strtod(p + n + 1, NULL);
			return 1;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

static double
value_of(const char *text, const char *name_labels)
{
	double v = -1;

	ck_assert_msg(sample(text, name_labels, &v), "no sample %s", name_labels);
	return v;
}

/* ---- metrics ------------------------------------------------------------ */

START_TEST(test_counters_and_gauge)
{
	char *t;

	mps_metrics_reset();
	mps_metric_inc(MPS_M_LOGIN_OK_PASSWORD);
	mps_metric_inc(MPS_M_LOGIN_OK_PASSWORD);
	mps_metric_inc(MPS_M_LOGIN_TIMEOUT);
	mps_metric_add(MPS_M_BYTES_FROM_DEVICES, 1500);
	mps_metric_gauge_add(MPS_M_CHANNELS_OPEN, 3);
	mps_metric_gauge_add(MPS_M_CHANNELS_OPEN, -1);
	mps_metric_inc(MPS_M_COUNT);	/* out of range: ignored */
	ck_assert_uint_eq(mps_metric_get(MPS_M_LOGIN_OK_PASSWORD), 2);
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_CHANNELS_OPEN), 2);
	t = exposition();
	ck_assert_double_eq(value_of(t, "mpsd_device_logins_total{result=\"accepted\",reason=\"password\"}"), 2);
	ck_assert_double_eq(value_of(t, "mpsd_device_logins_total{result=\"refused\",reason=\"timeout\"}"), 1);
	ck_assert_double_eq(value_of(t, "mpsd_device_logins_total{result=\"refused\",reason=\"bad_credentials\"}"), 0);
	ck_assert_double_eq(value_of(t, "mpsd_tunnel_bytes_total{direction=\"from_device\"}"), 1500);
	ck_assert_double_eq(value_of(t, "mpsd_channels_open"), 2);
	ck_assert_ptr_nonnull(strstr(t, "# TYPE mpsd_channels_open gauge\n"));
	ck_assert_ptr_nonnull(strstr(t, "# TYPE mpsd_device_logins_total counter\n"));
	free(t);

	/* A gauge may go below zero for a moment (racing updates) and must
	 * then read as a negative number, not 2^64 - 1. */
	mps_metric_gauge_add(MPS_M_CHANNELS_OPEN, -3);
	t = exposition();
	ck_assert_double_eq(value_of(t, "mpsd_channels_open"), -1);
	free(t);
}
END_TEST

START_TEST(test_console_results)
{
	char *t;

	mps_metrics_reset();
	mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_TIMEOUT);
	mps_metric_console(MPS_FRONT_HTTP, MPS_CONSOLE_TIMEOUT);
	mps_metric_console(MPS_FRONT_SOCKS, MPS_CONSOLE_OPENED);
	mps_metric_console(MPS_FRONT_COUNT, MPS_CONSOLE_OPENED);	/* ignored */
	mps_metric_console(MPS_FRONT_SOCKS, MPS_CONSOLE_RESULT_COUNT);	/* ignored */
	t = exposition();
	ck_assert_double_eq(value_of(t, "mpsd_console_requests_total{front=\"http\",result=\"timeout\"}"), 2);
	ck_assert_double_eq(value_of(t, "mpsd_console_requests_total{front=\"socks\",result=\"opened\"}"), 1);
	ck_assert_double_eq(value_of(t, "mpsd_console_requests_total{front=\"socks\",result=\"timeout\"}"), 0);
	free(t);
}
END_TEST

START_TEST(test_histogram)
{
	static int device_plugin, console_plugin, stranger;
	char *t;

	mps_metrics_reset();
	mps_metrics_auth_plugin_side(&device_plugin, MPS_AUTH_SIDE_DEVICE);
	mps_metrics_auth_plugin_side(&console_plugin, MPS_AUTH_SIDE_CONSOLE);
	mps_metric_auth_latency(&device_plugin, 3000);		/* 3 ms */
	mps_metric_auth_latency(&device_plugin, 2000000);	/* 2 s */
	mps_metric_auth_latency(&device_plugin, 20000000);	/* 20 s: +Inf */
	mps_metric_auth_latency(&console_plugin, 1000);	/* exactly 1 ms */
	mps_metric_auth_latency(&stranger, 5);
	t = exposition();
#define H "mpsd_auth_plugin_duration_seconds"
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"device\",le=\"0.001\"}"), 0);
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"device\",le=\"0.005\"}"), 1);
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"device\",le=\"1\"}"), 1);
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"device\",le=\"2.5\"}"), 2);
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"device\",le=\"10\"}"), 2);
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"device\",le=\"+Inf\"}"), 3);
	ck_assert_double_eq(value_of(t, H "_count{side=\"device\"}"), 3);
	ck_assert_double_eq_tol(value_of(t, H "_sum{side=\"device\"}"), 22.003, 1e-6);
	/* le is inclusive: 1 ms lands in the 0.001 bucket. */
	ck_assert_double_eq(value_of(t, H "_bucket{side=\"console\",le=\"0.001\"}"), 1);
	ck_assert_double_eq(value_of(t, H "_count{side=\"other\"}"), 1);
	ck_assert_ptr_nonnull(strstr(t, "# TYPE " H " histogram\n"));
#undef H
	free(t);
}
END_TEST

#define THREADS 4
#define PER_THREAD 200000

static void *
hammer(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < PER_THREAD; i++) {
		mps_metric_inc(MPS_M_KEEPALIVE_TIMEOUTS);
		mps_metric_gauge_add(MPS_M_CHANNELS_OPEN, 1);
		mps_metric_gauge_add(MPS_M_CHANNELS_OPEN, -1);
		mps_metric_auth_latency(NULL, 10);
	}
	return NULL;
}

/* Lock-free means no lost updates, not approximate ones. */
START_TEST(test_concurrent_counts_are_exact)
{
	pthread_t th[THREADS];
	char *t;
	int i;

	mps_metrics_reset();
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, NULL), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(mps_metric_get(MPS_M_KEEPALIVE_TIMEOUTS),
	    (uint64_t)THREADS * PER_THREAD);
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_CHANNELS_OPEN), 0);
	t = exposition();
	ck_assert_double_eq(value_of(t,
	    "mpsd_auth_plugin_duration_seconds_count{side=\"other\"}"),
	    (double)THREADS * PER_THREAD);
	free(t);
}
END_TEST

/*
 * The whole exposition against the text format's grammar: every sample
 * line is name{labels} value, every family has HELP and TYPE before its
 * samples, counters end in _total, every name has the mpsd_ prefix.
 */
START_TEST(test_exposition_grammar)
{
	regex_t sample_re, type_re;
	char *t, *line, *save = NULL;
	char family[128] = "", type[32] = "";
	int samples = 0;

	mps_metrics_reset();
	mps_metric_inc(MPS_M_TLS_FAIL_ERROR);
	ck_assert_int_eq(regcomp(&sample_re,
	    "^(mpsd_[a-z_]+)(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
	    "-?[0-9]+(\\.[0-9]+)?$", REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&type_re,
	    "^# TYPE (mpsd_[a-z_]+) (counter|gauge|histogram)$", REG_EXTENDED), 0);
	t = exposition();
	for (line = strtok_r(t, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[3];

		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			ck_assert_msg(regexec(&type_re, line, 3, m, 0) == 0,
			    "bad TYPE line: %s", line);
			snprintf(family, sizeof(family), "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			snprintf(type, sizeof(type), "%.*s",
			    (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
			if (strcmp(type, "counter") == 0)
				ck_assert_msg(strlen(family) > 6 && strcmp(family +
				    strlen(family) - 6, "_total") == 0,
				    "counter %s lacks _total", family);
			continue;
		}
		ck_assert_msg(regexec(&sample_re, line, 3, m, 0) == 0,
		    "bad sample line: %s", line);
		ck_assert_msg(family[0] != '\0' && strncmp(line, family,
		    strlen(family)) == 0, "sample %s outside its family %s",
		    line, family);
		samples++;
	}
	ck_assert_int_gt(samples, 30);
	regfree(&sample_re);
	regfree(&type_re);
	free(t);
}
END_TEST

START_TEST(test_label_escaping)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	mps_metrics_write_label_value(out, "a\"b\\c\nd");
	fclose(out);
	ck_assert_str_eq(text, "a\\\"b\\\\c\\nd");
	free(text);
}
END_TEST

/* The registry's per-device channel count drives the global gauge. */
START_TEST(test_device_channels_move_gauge)
{
	mps_device_t *a = NULL, *b = NULL;

	mps_metrics_reset();
	ck_assert_int_eq(mps_device_create("11111111-2222-3333-4444-555555555555",
	    "127.0.0.1:1", 0, NULL, NULL, NULL, &a), APR_SUCCESS);
	ck_assert_int_eq(mps_device_create("11111111-2222-3333-4444-666666666666",
	    "127.0.0.1:2", 0, NULL, NULL, NULL, &b), APR_SUCCESS);
	mps_device_set_channels(a, 3);
	mps_device_set_channels(b, 2);
	mps_device_set_channels(a, 1);
	ck_assert_uint_eq(mps_device_channels(a), 1);
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_CHANNELS_OPEN), 3);
	mps_device_set_channels(a, 0);
	mps_device_set_channels(b, 0);
	mps_device_set_channels(NULL, 5);	/* no device: nothing */
	ck_assert_int_eq(mps_metric_gauge_get(MPS_M_CHANNELS_OPEN), 0);
	mps_device_add_bytes_in(a, 100);
	mps_device_add_bytes_out(b, 7);
	ck_assert_uint_eq(mps_metric_get(MPS_M_BYTES_FROM_DEVICES), 100);
	ck_assert_uint_eq(mps_metric_get(MPS_M_BYTES_TO_DEVICES), 7);
	mps_device_release(a);
	mps_device_release(b);
}
END_TEST

/* ---- JSON views --------------------------------------------------------- */

static void
fill_device(mps_admin_device_t *d, const char *uuid, const char *fqdn)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	snprintf(d->fqdn, sizeof(d->fqdn), "%s", fqdn);
	snprintf(d->peer, sizeof(d->peer), "192.0.2.7:40000");
	d->ports[0] = 16992;
	d->ports[1] = 16993;
	d->nports = 2;
	d->trigger = 1;
	d->connected_at = apr_time_from_sec(1700000000);
	d->bytes_in = 5000000000ULL;	/* past 32 bits */
	d->bytes_out = 12;
	d->channels = 2;
}

START_TEST(test_iso8601)
{
	char buf[32];

	mps_admin_iso8601(apr_time_from_sec(0), buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	mps_admin_iso8601(apr_time_from_sec(1700000000), buf, sizeof(buf));
	ck_assert_str_eq(buf, "2023-11-14T22:13:20Z");
}
END_TEST

START_TEST(test_device_json)
{
	mps_admin_device_t d;
	json_t *j;

	fill_device(&d, "48534188-5245-4188-5348-455288415348", "amt.example");
	j = mps_admin_device_json(&d, apr_time_from_sec(1700000090));
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "uuid")),
	    "48534188-5245-4188-5348-455288415348");
	ck_assert_str_eq(json_string_value(json_object_get(j, "fqdn")),
	    "amt.example");
	ck_assert_str_eq(json_string_value(json_object_get(j, "peer")),
	    "192.0.2.7:40000");
	ck_assert_int_eq(json_array_size(json_object_get(j, "ports")), 2);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(j,
	    "ports"), 1)), 16993);
	ck_assert_str_eq(json_string_value(json_object_get(j,
	    "connected_since")), "2023-11-14T22:13:20Z");
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "connected_seconds")), 90);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes_in")),
	    5000000000LL);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "bytes_out")), 12);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "channels")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "trigger")), 1);
	json_decref(j);

	/* No FQDN: null, not "". */
	d.fqdn[0] = '\0';
	d.nports = 0;
	j = mps_admin_device_json(&d, apr_time_from_sec(1));
	ck_assert(json_is_null(json_object_get(j, "fqdn")));
	ck_assert_int_eq(json_array_size(json_object_get(j, "ports")), 0);
	/* A clock before the connect time never gives a negative age. */
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "connected_seconds")), 0);
	json_decref(j);
}
END_TEST

START_TEST(test_devices_json_sorted)
{
	mps_admin_device_t d[3];
	json_t *j, *list;

	fill_device(&d[0], "cccccccc-0000-0000-0000-000000000000", "c.test");
	fill_device(&d[1], "aaaaaaaa-0000-0000-0000-000000000000", "a.test");
	fill_device(&d[2], "bbbbbbbb-0000-0000-0000-000000000000", "");
	mps_admin_devices_sort(d, 3);
	j = mps_admin_devices_json(d, 3, apr_time_from_sec(1700000000));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 3);
	list = json_object_get(j, "devices");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list,
	    0), "fqdn")), "a.test");
	ck_assert(json_is_null(json_object_get(json_array_get(list, 1), "fqdn")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list,
	    2), "uuid")), "cccccccc-0000-0000-0000-000000000000");
	json_decref(j);

	j = mps_admin_devices_json(NULL, 0, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "count")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(j, "devices")), 0);
	json_decref(j);
}
END_TEST

START_TEST(test_status_json)
{
	mps_admin_status_t st;
	json_t *j, *l, *s;

	memset(&st, 0, sizeof(st));
	st.version = "9.8.7";
	st.pid = 4242;
	st.started = apr_time_from_sec(1700000000);
	st.now = apr_time_from_sec(1700003600);
	st.devices = 5;
	st.connections = 7;
	st.channels = 3;
	st.listeners[0] = (mps_admin_listener_t){ "amt", "0.0.0.0", 4433, "tls" };
	st.listeners[1] = (mps_admin_listener_t){ "admin", "127.0.0.1", 8081, "http" };
	st.nlisteners = 2;
	st.plugins[0] = (mps_admin_plugin_t){ "device_auth", "/x/AMTFileAuth.so" };
	st.plugins[1] = (mps_admin_plugin_t){ "notifier", NULL };
	st.nplugins = 2;
	st.subscribers[0] = (mps_admin_subscriber_t){ "http://c.test/n", 4, 2, 1, 0 };
	st.nsubscribers = 1;
	j = mps_admin_status_json(&st);
	ck_assert_str_eq(json_string_value(json_object_get(j, "version")), "9.8.7");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "pid")), 4242);
	ck_assert_str_eq(json_string_value(json_object_get(j, "started")),
	    "2023-11-14T22:13:20Z");
	ck_assert_int_eq(json_integer_value(json_object_get(j,
	    "uptime_seconds")), 3600);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "devices")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "connections")), 7);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "channels")), 3);
	l = json_array_get(json_object_get(j, "listeners"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(l, "name")), "admin");
	ck_assert_int_eq(json_integer_value(json_object_get(l, "port")), 8081);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j,
	    "plugins"), "device_auth")), "/x/AMTFileAuth.so");
	ck_assert(json_is_null(json_object_get(json_object_get(j, "plugins"),
	    "notifier")));
	s = json_array_get(json_object_get(j, "subscribers"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(s, "url")),
	    "http://c.test/n");
	ck_assert_int_eq(json_integer_value(json_object_get(s, "delivered")), 4);
	ck_assert_int_eq(json_integer_value(json_object_get(s, "retries")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(s, "dropped")), 1);
	json_decref(j);
}
END_TEST

/* ---- token file --------------------------------------------------------- */

static char tmpdir[] = "/tmp/test_admin.XXXXXX";

static const char *
token_file(const char *content, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/token", tmpdir);
	unlink(path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

START_TEST(test_token_file)
{
	char tok[MPS_ADMIN_TOKEN_MAX + 2], err[256];

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(mps_admin_read_token(token_file(
	    "0123456789abcdef0123\n", 0600), 1, tok, sizeof(tok), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(tok, "0123456789abcdef0123");
	/* Group-readable is fine (root:mpsd 0640). */
	ck_assert_int_eq(mps_admin_read_token(token_file(
	    "0123456789abcdef0123  \r\n", 0640), 1, tok, sizeof(tok), err,
	    sizeof(err)), 0);
	ck_assert_str_eq(tok, "0123456789abcdef0123");
	/* World-readable: refused by mpsd, read by mpsctl (check off). */
	ck_assert_int_eq(mps_admin_read_token(token_file(
	    "0123456789abcdef0123\n", 0644), 1, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_int_eq(mps_admin_read_token(token_file(
	    "0123456789abcdef0123\n", 0644), 0, tok, sizeof(tok), err,
	    sizeof(err)), 0);
	/* Too short, empty, inner space. */
	ck_assert_int_eq(mps_admin_read_token(token_file("short\n", 0600), 1,
	    tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_int_eq(mps_admin_read_token(token_file("", 0600), 1,
	    tok, sizeof(tok), err, sizeof(err)), -1);
	ck_assert_int_eq(mps_admin_read_token(token_file(
	    "0123456789 abcdef0123\n", 0600), 1, tok, sizeof(tok), err,
	    sizeof(err)), -1);
	ck_assert_int_eq(mps_admin_read_token("/nonexistent/token", 1, tok,
	    sizeof(tok), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/token"));
	unlink(token_file("", 0600));
	rmdir(tmpdir);
}
END_TEST

/* ---- <Admin> in mps.config ---------------------------------------------- */

static int
load_admin(const char *admin_xml, mps_config_t **cfg, mps_config_errors_t **errs,
    apr_pool_t *pool)
{
	char path[] = "/tmp/test_admin_cfg.XXXXXX";
	int fd = mkstemp(path), rc;
	FILE *f = fdopen(fd, "w");

	fprintf(f, "<MPS><TLS><Mode>plain</Mode></TLS>%s</MPS>\n", admin_xml);
	fclose(f);
	*errs = mps_config_errors_create(pool);
	rc = mps_config_load(cfg, path, *errs, pool);
	unlink(path);
	return rc;
}

static int
errors_mention(mps_config_errors_t *errs, const char *what)
{
	int i;

	for (i = 0; i < errs->errors->nelts; i++)
		if (strstr(APR_ARRAY_IDX(errs->errors, i, const char *), what))
			return 1;
	return 0;
}

START_TEST(test_config_admin)
{
	apr_pool_t *pool;
	mps_config_errors_t *errs;
	mps_config_t *cfg;

	apr_pool_create(&pool, NULL);
	/* Off by default, loopback by default. */
	ck_assert_int_eq(load_admin("", &cfg, &errs, pool), APR_SUCCESS);
	ck_assert_int_eq(cfg->admin_enabled, 0);
	ck_assert_str_eq(cfg->admin_listen_ip, "127.0.0.1");
	ck_assert_int_eq(cfg->admin_listen_port, 8081);
	ck_assert_int_eq(load_admin("<Admin><Enabled>true</Enabled>"
	    "<TokenFile>t</TokenFile><ListenPort>9000</ListenPort></Admin>",
	    &cfg, &errs, pool), APR_SUCCESS);
	ck_assert_int_eq(cfg->admin_enabled, 1);
	ck_assert_str_eq(cfg->admin_token_file, "t");
	ck_assert_int_eq(cfg->admin_listen_port, 9000);
	/* Enabled without a token file. */
	ck_assert_int_ne(load_admin("<Admin><Enabled>true</Enabled></Admin>",
	    &cfg, &errs, pool), APR_SUCCESS);
	ck_assert(errors_mention(errs, "<TokenFile> is not set"));
	/* A public address needs AllowRemote. */
	ck_assert_int_ne(load_admin("<Admin><Enabled>true</Enabled><TokenFile>t"
	    "</TokenFile><ListenIP>0.0.0.0</ListenIP></Admin>", &cfg, &errs,
	    pool), APR_SUCCESS);
	ck_assert(errors_mention(errs, "not a loopback address"));
	ck_assert_int_ne(load_admin("<Admin><Enabled>true</Enabled><TokenFile>t"
	    "</TokenFile><ListenIP>*</ListenIP></Admin>", &cfg, &errs,
	    pool), APR_SUCCESS);
	ck_assert_int_eq(load_admin("<Admin><Enabled>true</Enabled><TokenFile>t"
	    "</TokenFile><ListenIP>0.0.0.0</ListenIP><AllowRemote>true"
	    "</AllowRemote></Admin>", &cfg, &errs, pool), APR_SUCCESS);
	/* Every loopback form is fine. */
	ck_assert_int_eq(load_admin("<Admin><Enabled>true</Enabled><TokenFile>t"
	    "</TokenFile><ListenIP>::1</ListenIP></Admin>", &cfg, &errs, pool),
	    APR_SUCCESS);
	ck_assert_int_eq(load_admin("<Admin><Enabled>true</Enabled><TokenFile>t"
	    "</TokenFile><ListenIP>127.0.0.2</ListenIP></Admin>", &cfg, &errs,
	    pool), APR_SUCCESS);
	/* Disabled: a public address is not checked (nothing listens). */
	ck_assert_int_eq(load_admin("<Admin><ListenIP>0.0.0.0</ListenIP>"
	    "</Admin>", &cfg, &errs, pool), APR_SUCCESS);
	/* A typo gets the usual hint. */
	ck_assert_int_ne(load_admin("<Admin><Enable>true</Enable></Admin>",
	    &cfg, &errs, pool), APR_SUCCESS);
	ck_assert(errors_mention(errs, "did you mean <Enabled>"));
	apr_pool_destroy(pool);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("admin");
	TCase *tc;

	tc = tcase_create("metrics");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_counters_and_gauge);
	tcase_add_test(tc, test_console_results);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_concurrent_counts_are_exact);
	tcase_add_test(tc, test_exposition_grammar);
	tcase_add_test(tc, test_label_escaping);
	tcase_add_test(tc, test_device_channels_move_gauge);
	suite_add_tcase(s, tc);

	tc = tcase_create("views");
	tcase_add_test(tc, test_iso8601);
	tcase_add_test(tc, test_device_json);
	tcase_add_test(tc, test_devices_json_sorted);
	tcase_add_test(tc, test_status_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("token and config");
	tcase_add_test(tc, test_token_file);
	tcase_add_test(tc, test_config_admin);
	suite_add_tcase(s, tc);
	return s;
}
