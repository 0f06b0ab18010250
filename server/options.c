/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.c: mpsd's command line (getopt_long: mpsd has few options;
 * each short one has a long name, as administrators type --help and
 * --version out of habit).
 */
#include "options.h"

#include <getopt.h>
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
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, longind;

	memset(opts, 0, sizeof(*opts));
	opts->config_path = MPS_CONFDIR "/mps.config";
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:ftVh", longopts,
	    &longind)) != -1) {
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
			/* Name the option as it was typed (-c or --config). */
			if (strncmp(argv[optind - 1], "--", 2) != 0)
				snprintf(err, errsize, "option -%c needs an "
				    "argument", optopt);
			else
				snprintf(err, errsize, "option %s needs an "
				    "argument", argv[optind - 1]);
			return -1;
		default:
			if (strncmp(argv[optind - 1], "--", 2) != 0)
				snprintf(err, errsize, "unknown option -%c",
				    optopt);
			else
				snprintf(err, errsize, "unknown option %s",
				    argv[optind - 1]);
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
	    "  -c, --config FILE  static configuration\n"
	    "                     (default " MPS_CONFDIR "/mps.config)\n"
	    "  -f, --foreground   stay attached (for systemd and tests)\n"
	    "  -t, --test         check the configuration, its files (as the\n"
	    "                     <Process> user) and the plugins, then exit\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         print this help and exit\n");
}
