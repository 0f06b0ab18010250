/* SPDX-License-Identifier: Apache-2.0 */
/* options.h: mpsd's command line. */
#ifndef MPS_OPTIONS_H
#define MPS_OPTIONS_H

#include <stdio.h>
#include <stddef.h>

typedef struct mps_options_t {
	const char *config_path;	/* -c FILE (default MPS_CONFDIR/mps.config) */
	int foreground;			/* -f: stay attached, log start-up to stderr */
	int test_only;			/* -t: check the configuration and exit */
	int show_version;		/* -V */
	int show_help;			/* -h */
} mps_options_t;

/*
 * Parses argv. Returns 0, or -1 with a message in err (the caller prints
 * it with the usage and exits 2).
 */
int mps_options_parse(mps_options_t *opts, int argc, char *const argv[],
    char *err, size_t errsize);

void mps_options_usage(FILE *out);

#endif
