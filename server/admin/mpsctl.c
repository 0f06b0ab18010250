/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mpsctl: the admin API's command-line client (mpsctl(8)).
 *
 *   mpsctl [-c mps.config] [--json] list | show ID | disconnect ID | status
 *          | reload
 *
 * It reads mps.config as mpsd does (the same loader), so it finds the
 * <Admin> address, port and token file without options, and talks to
 * the API with libcurl. Tables for people by default; --json prints the
 * API's answer unchanged, for scripts.
 *
 * Exit status: 0 done; 1 the server refused or failed (message on
 * stderr, e.g. "no such device"); 2 usage or configuration error;
 * 3 mpsd could not be reached.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "admin.h"
#include "config.h"

#ifndef MPS_CONFDIR
#define MPS_CONFDIR "/etc/mpsd"
#endif

struct body {
	char *p;
	size_t len;
};

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *p;

	/* The API's answers are small; a runaway peer is cut off. */
	if (b->len + add > 64 * 1024 * 1024)
		return 0;
	p = realloc(b->p, b->len + add + 1);
	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, add);
	b->len += add;
	p[b->len] = '\0';
	b->p = p;
	return add;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: mpsctl [-c mps.config] [--json] [--url URL] "
	    "[--token-file FILE] COMMAND\n"
	    "commands:\n"
	    "  list            connected devices\n"
	    "  cluster         every instance's devices (Directory Backend "
	    "redis)\n"
	    "  show ID         one device (UUID or FQDN)\n"
	    "  disconnect ID   disconnect a device (APF reason 11)\n"
	    "  status          version, uptime, counts, listeners, plugins\n"
	    "  reload          reread the files SIGHUP rereads; tunnels stay\n"
	    "default configuration: %s/mps.config\n", MPS_CONFDIR);
}

static const char *
str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "-";
}

static long long
num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void
ports_text(json_t *d, char *buf, size_t size)
{
	json_t *ports = json_object_get(d, "ports"), *p;
	size_t i, off = 0;

	buf[0] = '\0';
	json_array_foreach(ports, i, p) {
		off += (size_t)snprintf(buf + off, off < size ? size - off : 0,
		    "%s%lld", i > 0 ? "," : "", (long long)json_integer_value(p));
		if (off >= size)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "-");
}

static void
print_list(json_t *j)
{
	json_t *devs = json_object_get(j, "devices"), *d;
	size_t i, wu = 4, wf = 4, wp = 4;
	char ports[128];

	json_array_foreach(devs, i, d) {
		size_t l;
		if ((l = strlen(str(d, "uuid"))) > wu) wu = l;
		if ((l = strlen(str(d, "fqdn"))) > wf) wf = l;
		if ((l = strlen(str(d, "peer"))) > wp) wp = l;
	}
	printf("%-*s  %-*s  %-*s  %-17s  %-20s  %12s  %12s  %3s\n", (int)wu,
	    "UUID", (int)wf, "FQDN", (int)wp, "PEER", "PORTS",
	    "CONNECTED SINCE", "BYTES IN", "BYTES OUT", "CH");
	json_array_foreach(devs, i, d) {
		ports_text(d, ports, sizeof(ports));
		printf("%-*s  %-*s  %-*s  %-17s  %-20s  %12lld  %12lld  %3lld\n",
		    (int)wu, str(d, "uuid"), (int)wf, str(d, "fqdn"), (int)wp,
		    str(d, "peer"), ports, str(d, "connected_since"),
		    num(d, "bytes_in"), num(d, "bytes_out"), num(d, "channels"));
	}
	printf("%lld device(s)\n", num(j, "count"));
}

/* The directory's view: which instance holds each device. */
static void
print_cluster(json_t *j)
{
	json_t *devs = json_object_get(j, "devices"), *d;
	size_t i, wu = 4, wf = 4, wi = 8;
	char ports[128];

	json_array_foreach(devs, i, d) {
		size_t l;
		if ((l = strlen(str(d, "uuid"))) > wu) wu = l;
		if ((l = strlen(str(d, "fqdn"))) > wf) wf = l;
		if ((l = strlen(str(d, "instance"))) > wi) wi = l;
	}
	printf("%-*s  %-*s  %-*s  %-21s  %-17s  %s\n", (int)wu, "UUID",
	    (int)wf, "FQDN", (int)wi, "INSTANCE", "INSTANCE ADDRESS", "PORTS",
	    "CONNECTED SINCE");
	json_array_foreach(devs, i, d) {
		ports_text(d, ports, sizeof(ports));
		printf("%-*s  %-*s  %-*s  %-21s  %-17s  %s\n", (int)wu,
		    str(d, "uuid"), (int)wf, str(d, "fqdn"), (int)wi,
		    str(d, "instance"), str(d, "instance_address"), ports,
		    str(d, "connected_since"));
	}
	printf("%lld device(s) in the cluster (asked instance %s)\n",
	    num(j, "count"), str(j, "instance"));
}

static void
print_device(json_t *d)
{
	char ports[128];

	ports_text(d, ports, sizeof(ports));
	printf("UUID:             %s\n", str(d, "uuid"));
	printf("FQDN:             %s\n", str(d, "fqdn"));
	printf("Peer:             %s\n", str(d, "peer"));
	printf("Ports:            %s\n", ports);
	printf("Connected since:  %s (%lld s)\n", str(d, "connected_since"),
	    num(d, "connected_seconds"));
	printf("Trigger:          %lld\n", num(d, "trigger"));
	printf("Bytes in:         %lld\n", num(d, "bytes_in"));
	printf("Bytes out:        %lld\n", num(d, "bytes_out"));
	printf("Channels:         %lld\n", num(d, "channels"));
}

static void
print_status(json_t *s)
{
	json_t *l, *v;
	const char *k;
	size_t i;

	printf("Version:      %s\n", str(s, "version"));
	printf("PID:          %lld\n", num(s, "pid"));
	printf("Started:      %s (up %lld s)\n", str(s, "started"),
	    num(s, "uptime_seconds"));
	printf("Devices:      %lld\n", num(s, "devices"));
	printf("Connections:  %lld\n", num(s, "connections"));
	printf("Channels:     %lld\n", num(s, "channels"));
	printf("Listeners:\n");
	json_array_foreach(json_object_get(s, "listeners"), i, l)
		printf("  %-6s %s:%lld (%s)\n", str(l, "name"), str(l, "address"),
		    num(l, "port"), str(l, "transport"));
	printf("Plugins:\n");
	json_object_foreach(json_object_get(s, "plugins"), k, v)
		printf("  %-13s %s\n", k, json_is_string(v) ?
		    json_string_value(v) : "(none)");
	printf("Subscribers:\n");
	json_array_foreach(json_object_get(s, "subscribers"), i, l)
		printf("  %s: %lld delivered, %lld retried, %lld dropped, %lld "
		    "waiting\n", str(l, "url"), num(l, "delivered"),
		    num(l, "retries"), num(l, "dropped"), num(l, "waiting"));
	if (json_array_size(json_object_get(s, "subscribers")) == 0)
		printf("  (none)\n");
}

/* POST /api/v1/reload's answer, refused (422) or not. */
static void
print_reload(json_t *r)
{
	json_t *l;
	size_t i;

	printf("%s\n", str(r, "summary"));
	json_array_foreach(json_object_get(r, "errors"), i, l)
		printf("  error: %s\n", json_string_value(l));
	json_array_foreach(json_object_get(r, "restart_needed"), i, l)
		printf("  needs a restart: %s\n", json_string_value(l));
}

/* The base URL from <Admin>: a wildcard ListenIP is reached on loopback. */
static char *
base_url(const mps_config_t *cfg, apr_pool_t *pool)
{
	const char *ip = cfg->admin_listen_ip;

	if (strcmp(ip, "*") == 0 || strcmp(ip, "0.0.0.0") == 0)
		ip = "127.0.0.1";
	else if (strcmp(ip, "::") == 0)
		ip = "::1";
	return apr_psprintf(pool, strchr(ip, ':') != NULL ?
	    "http://[%s]:%u" : "http://%s:%u", ip,
	    (unsigned)cfg->admin_listen_port);
}

int
main(int argc, char **argv)
{
	const char *config = MPS_CONFDIR "/mps.config", *url = NULL;
	const char *token_file = NULL, *cmd, *id = NULL;
	char token[MPS_ADMIN_TOKEN_MAX + 2], err[512], hdr[600], who[128];
	struct curl_slist *headers = NULL;
	struct body body = { NULL, 0 };
	struct passwd *pw;
	apr_pool_t *pool;
	json_t *j = NULL;
	long status = 0;
	int json = 0, i, rc;
	CURL *curl;
	CURLcode cc;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--token-file") == 0 && i + 1 < argc)
			token_file = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[i++];
	if (strcmp(cmd, "show") == 0 || strcmp(cmd, "disconnect") == 0) {
		if (i >= argc) {
			fprintf(stderr, "mpsctl: %s needs a device (UUID or "
			    "FQDN)\n", cmd);
			return 2;
		}
		id = argv[i++];
	} else if (strcmp(cmd, "list") != 0 && strcmp(cmd, "status") != 0 &&
	    strcmp(cmd, "cluster") != 0 &&
	    strcmp(cmd, "reload") != 0) {
		fprintf(stderr, "mpsctl: unknown command \"%s\"\n", cmd);
		usage(stderr);
		return 2;
	}
	if (i < argc) {
		usage(stderr);
		return 2;
	}

	apr_initialize();
	atexit(apr_terminate);
	apr_pool_create(&pool, NULL);
	if (url == NULL || token_file == NULL) {
		mps_config_errors_t *errs = mps_config_errors_create(pool);
		mps_config_t *cfg;
		const char *dir, *slash;

		if (mps_config_load(&cfg, config, errs, pool) != APR_SUCCESS) {
			for (rc = 0; rc < errs->errors->nelts; rc++)
				fprintf(stderr, "mpsctl: %s\n", APR_ARRAY_IDX(
				    errs->errors, rc, const char *));
			return 2;
		}
		if (!cfg->admin_enabled) {
			fprintf(stderr, "mpsctl: %s: <Admin> Enabled is not true: "
			    "mpsd serves no admin API\n", config);
			return 2;
		}
		slash = strrchr(config, '/');
		dir = slash == NULL ? "." : slash == config ? "/" :
		    apr_pstrndup(pool, config, (apr_size_t)(slash - config));
		if (url == NULL)
			url = base_url(cfg, pool);
		if (token_file == NULL)
			token_file = mps_config_resolve(dir, cfg->admin_token_file,
			    pool);
	}
	if (mps_admin_read_token(token_file, 0, token, sizeof(token), err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "mpsctl: %s\n", err);
		return 2;
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	curl = curl_easy_init();
	if (curl == NULL)
		return 3;
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
	explicit_bzero(token, sizeof(token));
	headers = curl_slist_append(headers, hdr);
	explicit_bzero(hdr, sizeof(hdr));
	pw = getpwuid(getuid());
	snprintf(who, sizeof(who), "X-Requested-By: mpsctl (user %s)",
	    pw != NULL ? pw->pw_name : "?");
	headers = curl_slist_append(headers, who);
	if (strcmp(cmd, "list") == 0)
		curl_easy_setopt(curl, CURLOPT_URL, apr_pstrcat(pool, url,
		    "/api/v1/devices", NULL));
	else if (strcmp(cmd, "cluster") == 0)
		curl_easy_setopt(curl, CURLOPT_URL, apr_pstrcat(pool, url,
		    "/api/v1/cluster/devices", NULL));
	else if (strcmp(cmd, "status") == 0)
		curl_easy_setopt(curl, CURLOPT_URL, apr_pstrcat(pool, url,
		    "/api/v1/status", NULL));
	else if (strcmp(cmd, "reload") == 0) {
		curl_easy_setopt(curl, CURLOPT_URL, apr_pstrcat(pool, url,
		    "/api/v1/reload", NULL));
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
		/* Plugins may take their time to initialise. */
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
	} else {
		char *esc = curl_easy_escape(curl, id, 0);
		curl_easy_setopt(curl, CURLOPT_URL, apr_pstrcat(pool, url,
		    "/api/v1/devices/", esc, strcmp(cmd, "disconnect") == 0 ?
		    "/disconnect" : "", NULL));
		curl_free(esc);
		if (strcmp(cmd, "disconnect") == 0)
			curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	if (strcmp(cmd, "reload") != 0)
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	cc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	if (cc != CURLE_OK) {
		fprintf(stderr, "mpsctl: cannot reach mpsd at %s: %s\n", url,
		    curl_easy_strerror(cc));
		free(body.p);
		return 3;
	}
	if (body.p != NULL)
		j = json_loads(body.p, 0, NULL);
	if (strcmp(cmd, "reload") == 0 && j != NULL &&
	    json_object_get(j, "ok") != NULL) {
		/* Refused or not, the answer says why: print it. */
		if (json)
			fputs(body.p, stdout);
		else
			print_reload(j);
		rc = json_is_true(json_object_get(j, "ok")) ? 0 : 1;
		json_decref(j);
		free(body.p);
		return rc;
	}
	if (status < 200 || status > 299) {
		fprintf(stderr, "mpsctl: %s: %ld %s\n", cmd, status, j != NULL ?
		    str(j, "error") : "(no answer)");
		json_decref(j);
		free(body.p);
		return 1;
	}
	if (json) {
		fputs(body.p != NULL ? body.p : "", stdout);
	} else if (j == NULL) {
		fprintf(stderr, "mpsctl: the answer is not JSON\n");
		free(body.p);
		return 1;
	} else if (strcmp(cmd, "list") == 0) {
		print_list(j);
	} else if (strcmp(cmd, "cluster") == 0) {
		print_cluster(j);
	} else if (strcmp(cmd, "show") == 0) {
		print_device(j);
	} else if (strcmp(cmd, "status") == 0) {
		print_status(j);
	} else {
		printf("Disconnecting %s%s%s%s (DISCONNECT reason %lld)\n",
		    str(j, "uuid"), json_is_string(json_object_get(j, "fqdn")) ?
		    " (" : "", json_is_string(json_object_get(j, "fqdn")) ?
		    str(j, "fqdn") : "", json_is_string(json_object_get(j,
		    "fqdn")) ? ")" : "", num(j, "reason"));
	}
	json_decref(j);
	free(body.p);
	return 0;
}
