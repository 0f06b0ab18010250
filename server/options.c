/* SPDX-License-Identifier: Apache-2.0 */
/* options.c: mpsd's command line (getopt: mpsd has few options). */
#include "options.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef MPS_CONFDIR
#define MPS_CONFDIR "/etc/mpsd"
#endif

int
mps_options_parse(mps_options_t *opts, int argc, char *const argv[],
    char *err, size_t errsize)
{
	int c;

	memset(opts, 0, sizeof(*opts));
	opts->config_path = MPS_CONFDIR "/mps.config";
	opterr = 0;
	optind = 1;
	while ((c = getopt(argc, argv, ":c:ftVh")) != -1) {
		switch (c) {
		case 'c':
			opts->config_path = optarg;
			break;
		case 'f':
			opts->foreground = 1;
			break;
		case 't':
			opts->test_only = 1;
			break;
		case 'V':
			opts->show_version = 1;
			break;
		case 'h':
			opts->show_help = 1;
			break;
		case ':':
			snprintf(err, errsize, "option -%c needs an argument", optopt);
			return -1;
		default:
			snprintf(err, errsize, "unknown option -%c", optopt);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(err, errsize, "unexpected argument \"%s\"", argv[optind]);
		return -1;
	}
	if (opts->config_path[0] == '\0') {
		snprintf(err, errsize, "-c needs a file name");
		return -1;
	}
	return 0;
}

void
mps_options_usage(FILE *out)
{
	fprintf(out,
	    "usage: mpsd [-f] [-t] [-c config]\n"
	    "       mpsd -V | -h\n"
	    "  -c FILE  static configuration (default " MPS_CONFDIR "/mps.config)\n"
	    "  -f       run in the foreground (for systemd and tests)\n"
	    "  -t       check the configuration files and plugins, then exit\n"
	    "  -V       print the version and exit\n"
	    "  -h       print this help and exit\n");
}
