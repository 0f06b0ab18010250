/* SPDX-License-Identifier: Apache-2.0 */
/*
 * directory_load.c: how fast the Redis directory backend writes (issue
 * 14). Against a running redis-server (tests/bench/directory_load.sh
 * starts one):
 *
 *   directory_load PORT DEVICES
 *
 * records DEVICES devices (claims, each with a name and seven ports) and
 * waits until all are in Redis, then updates them all (what a refresh
 * writes) and waits again. Prints writes per second for each, and the
 * time record() took on the caller's side (what a login pays: no Redis
 * round trip).
 */
#include "directory.h"

#include <apr_general.h>
#include <stdio.h>
#include <stdlib.h>

static void
run(mps_directory_t *d, unsigned n, const char *what, char (*uuids)[40],
    const char *const *tokens)
{
	apr_port_t ports[] = { 16992, 16993, 16994, 16995, 623, 664, 5900 };
	apr_time_t t0, t1, t2;
	char fqdn[64];
	unsigned i;

	t0 = apr_time_now();
	for (i = 0; i < n; i++) {
		snprintf(fqdn, sizeof(fqdn), "dev-%u.amt.test", i);
		(void)mps_directory_record(d, uuids[i], fqdn, ports, 7,
		    apr_time_from_sec(1000), tokens[i]);
	}
	t1 = apr_time_now();
	if (mps_directory_flush(d, apr_time_from_sec(600)) != APR_SUCCESS) {
		fprintf(stderr, "directory_load: %s: Redis never caught up\n",
		    what);
		exit(1);
	}
	t2 = apr_time_now();
	printf("%-8s %u devices: callers %.2f us/record, in Redis after "
	    "%.3f s = %.0f writes/s\n", what, n,
	    (double)(t1 - t0) / n, (double)(t2 - t0) / 1e6,
	    n / ((double)(t2 - t0) / 1e6));
}

int
main(int argc, char **argv)
{
	mps_directory_options_t opt;
	mps_directory_t *d = NULL;
	char (*uuids)[40];
	const char **tokens;
	unsigned n, i;

	if (argc != 3) {
		fprintf(stderr, "usage: directory_load REDIS_PORT DEVICES\n");
		return 2;
	}
	n = (unsigned)strtoul(argv[2], NULL, 10);
	if (n == 0)
		return 2;
	apr_initialize();
	mps_directory_options_init(&opt);
	opt.backend = MPS_DIRECTORY_REDIS;
	opt.instance_id = "bench";
	opt.peer_address = "127.0.0.1:4434";
	opt.redis_port = (apr_port_t)atoi(argv[1]);
	opt.ttl = apr_time_from_sec(600);	/* no refresh during the run */
	if (mps_directory_create(&d, &opt) != APR_SUCCESS) {
		fprintf(stderr, "directory_load: cannot create the directory\n");
		return 1;
	}
	while (!mps_directory_available(d))
		apr_sleep(apr_time_from_msec(10));
	uuids = calloc(n, sizeof(*uuids));
	tokens = calloc(n, sizeof(*tokens));
	if (uuids == NULL || tokens == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		snprintf(uuids[i], sizeof(uuids[i]),
		    "00000000-0000-4000-8000-%012u", i);
		tokens[i] = uuids[i];	/* any distinct address */
	}
	run(d, n, "claim", uuids, tokens);
	run(d, n, "refresh", uuids, tokens);
	mps_directory_destroy(d);
	free(uuids);
	free(tokens);
	apr_terminate();
	return 0;
}
