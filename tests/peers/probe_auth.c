/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_auth.c: an authentication plugin for reload_plugin.sh that
 * records its life. DllParameters is "TAG EVENTS_FILE". Every init,
 * fini and Authenticate appends one line to EVENTS_FILE:
 *     init TAG / fini TAG / auth-start TAG USER / auth-end TAG USER
 * where TAG is the paramStr's first word (for Authenticate, the
 * paramStr mpsd passed). A password equal to TAG is accepted; the user
 * "slow" waits 3 s inside Authenticate, so that a reload can happen
 * during the call. Built by the test with -DPROBE_ABI_MINOR=N to claim
 * ABI 1.N.
 */
#include <mps/plugin.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef PROBE_ABI_MINOR
#define PROBE_ABI_MINOR MPS_PLUGIN_ABI_MINOR
#endif

MPS_PLUGIN_EXPORT const uint32_t mps_plugin_abi_version =
    (uint32_t)((MPS_PLUGIN_ABI_MAJOR << 16) | PROBE_ABI_MINOR);
MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
    char *errorString, size_t errorStringSize);
MPS_PLUGIN_EXPORT void mps_plugin_fini(void);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* The path of the last init: fini has no parameter. Each test run
 * uses one events file, so keeping the latest is enough. */
static char events[512];
/* The tags of the inits not yet finished, oldest first. */
static char tags[8][64];
static int ntags;

static void
split(const char *params, char *tag, size_t tagsize, char *path,
    size_t pathsize)
{
	const char *sp = strchr(params, ' ');
	size_t n = sp != NULL ? (size_t)(sp - params) : strlen(params);

	snprintf(tag, tagsize, "%.*s", (int)n, params);
	snprintf(path, pathsize, "%s", sp != NULL ? sp + 1 : "");
}

static void
note(const char *path, const char *fmt, const char *a, const char *b)
{
	FILE *f = fopen(path, "a");

	if (f == NULL)
		return;
	fprintf(f, fmt, a, b);
	fputc('\n', f);
	fclose(f);
}

MPS_PLUGIN_EXPORT int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	char tag[64], path[512];

	split(paramStr, tag, sizeof(tag), path, sizeof(path));
	if (strcmp(tag, "fail") == 0) {
		snprintf(errorString, errorStringSize, "probe: told to fail");
		return 1;
	}
	pthread_mutex_lock(&lock);
	snprintf(events, sizeof(events), "%s", path);
	if (ntags < 8)
		snprintf(tags[ntags++], sizeof(tags[0]), "%s", tag);
	pthread_mutex_unlock(&lock);
	note(path, "init %s%s", tag, "");
	return 0;
}

/* Which instance ends is not said: by the reload contract the oldest
 * init ends first (generations retire in order here). */
MPS_PLUGIN_EXPORT void
mps_plugin_fini(void)
{
	char tag[64] = "?";

	pthread_mutex_lock(&lock);
	if (ntags > 0) {
		snprintf(tag, sizeof(tag), "%s", tags[0]);
		memmove(tags, tags + 1, sizeof(tags[0]) * (size_t)(ntags - 1));
		ntags--;
	}
	pthread_mutex_unlock(&lock);
	note(events, "fini %s%s", tag, "");
}

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	char tag[64], path[512];

	(void)errorString;
	(void)errorStringSize;
	split(paramStr, tag, sizeof(tag), path, sizeof(path));
	note(path, "auth-start %s %s", tag, userName);
	if (strcmp(userName, "slow") == 0)
		sleep(3);
	note(path, "auth-end %s %s", tag, userName);
	return strcmp(userPassword, tag) == 0;
}
