/* SPDX-License-Identifier: Apache-2.0 */
/*
 * good_plugin.c: a well-formed authentication plugin for test_plugin.
 *
 * Authenticate accepts alice/secret only ("slow"/secret too, after 10 s).
 * A few user names make it
 * misbehave on purpose, to test what the loader does with its output:
 *   "err"       writes an errorString and refuses;
 *   "param"     copies paramStr into errorString and refuses;
 *   "overflow"  fills the whole errorString buffer without a NUL.
 * mps_plugin_init refuses the paramStr "fail-init". Init and fini calls
 * are counted; good_plugin_counts() lets the test read the counters
 * through a second handle that keeps the module mapped.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <mps/plugin.h>

MPS_PLUGIN_DECLARE_ABI;

/* Test-only exports: prototypes first, for -Wmissing-prototypes. */
MPS_PLUGIN_EXPORT int mps_plugin_init(const char *, char *, size_t);
MPS_PLUGIN_EXPORT void mps_plugin_fini(void);
MPS_PLUGIN_EXPORT void good_plugin_counts(int *, int *, char *, size_t);

/* init and fini are never concurrent with anything (the ABI says so). */
static int init_calls;
static int fini_calls;
static char last_init_params[256];

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	if (strcmp(userName, "err") == 0) {
		snprintf(errorString, errorStringSize, "backend unavailable");
		return false;
	}
	if (strcmp(userName, "param") == 0) {
		snprintf(errorString, errorStringSize, "%s", paramStr);
		return false;
	}
	if (strcmp(userName, "slow") == 0) {
		/* A backend that takes its time (10 s), then accepts: for the
		 * test that a slow plugin delays only its own device. */
		sleep(10);
		return strcmp(userPassword, "secret") == 0;
	}
	if (strcmp(userName, "overflow") == 0) {
		/* A careless plugin: no terminating NUL anywhere. */
		memset(errorString, 'x', errorStringSize);
		return false;
	}
	return strcmp(userName, "alice") == 0 &&
	    strcmp(userPassword, "secret") == 0;
}

int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	init_calls++;
	snprintf(last_init_params, sizeof(last_init_params), "%s", paramStr);
	if (strcmp(paramStr, "fail-init") == 0) {
		snprintf(errorString, errorStringSize,
		    "init refused: fail-init requested");
		return 1;
	}
	return 0;
}

void
mps_plugin_fini(void)
{
	fini_calls++;
}

void
good_plugin_counts(int *inits, int *finis, char *params, size_t size)
{
	*inits = init_calls;
	*finis = fini_calls;
	snprintf(params, size, "%s", last_init_params);
}
