/* SPDX-License-Identifier: Apache-2.0 */
/*
 * example_auth.c: a minimal, complete mpsd authentication plugin.
 *
 * It accepts exactly one account, given in DllParameters as
 *
 *     <DllParameters>USER:PASSWORD</DllParameters>
 *
 * (the password is everything after the first ':'). That is not a way to
 * run a real deployment, but it shows every part of the contract in
 * <mps/plugin.h>:
 *
 *   - MPS_PLUGIN_DECLARE_ABI, which mpsd checks before anything else;
 *   - Authenticate, thread-safe because it keeps no state at all;
 *   - errorString for failures that are not wrong credentials, never
 *     containing the password;
 *   - an optional mps_plugin_init that refuses bad DllParameters at
 *     start-up, so a typo stops mpsd instead of locking everybody out;
 *   - failing closed: every path but a full match returns false;
 *   - a password compare whose time does not depend on the password.
 *
 * Build it with the Makefile next to this file (it uses pkg-config
 * mps-plugin), or by hand:
 *
 *     cc -shared -fPIC $(pkg-config --cflags mps-plugin) \
 *         -o ExampleAuth.so example_auth.c
 */
#include <stdio.h>
#include <string.h>

#include <mps/plugin.h>

MPS_PLUGIN_DECLARE_ABI;

/*
 * The SDK's pkg-config flags include -fvisibility=hidden, so everything a
 * plugin means to export needs MPS_PLUGIN_EXPORT. <mps/plugin.h> already
 * declares Authenticate that way; the optional entry points are declared
 * here.
 */
MPS_PLUGIN_EXPORT int mps_plugin_init(const char *paramStr,
    char *errorString, size_t errorStringSize);

/*
 * Splits "USER:PASSWORD" at the first ':'. Returns 0 and sets *pass (into
 * param) and *userlen, or -1 when there is no user or no password.
 */
static int
split_param(const char *param, size_t *userlen, const char **pass)
{
	const char *colon = strchr(param, ':');

	if (colon == NULL || colon == param || colon[1] == '\0')
		return -1;
	*userlen = (size_t)(colon - param);
	*pass = colon + 1;
	return 0;
}

/*
 * Compares two passwords in time that depends on their lengths only:
 * no early exit at the first differing byte, so an attacker cannot learn
 * a password byte by byte from response times.
 */
static int
password_equal(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	size_t i, n = alen > blen ? alen : blen;
	volatile unsigned char acc = (unsigned char)(alen != blen);

	for (i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;

		acc |= (unsigned char)(x ^ y);
	}
	return acc == 0;
}

int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	const char *pass;
	size_t userlen;

	if (split_param(paramStr, &userlen, &pass) != 0) {
		/* Says what is wrong without echoing the parameter, which
		 * holds a password. */
		snprintf(errorString, errorStringSize,
		    "DllParameters must be USER:PASSWORD, both non-empty");
		return 1;
	}
	return 0;
}

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	const char *pass;
	size_t userlen;

	if (split_param(paramStr, &userlen, &pass) != 0) {
		snprintf(errorString, errorStringSize,
		    "DllParameters must be USER:PASSWORD, both non-empty");
		return false;
	}
	/* An empty password is refused whatever the configuration says. */
	if (*userPassword == '\0')
		return false;
	/* The user name is not secret: an ordinary compare will do. */
	if (strlen(userName) != userlen ||
	    strncmp(userName, paramStr, userlen) != 0)
		return false;
	return password_equal(pass, userPassword);
}
