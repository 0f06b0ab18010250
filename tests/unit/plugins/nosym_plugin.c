/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nosym_plugin.c: declares the ABI but has no Authenticate, so it is a
 * plugin but not an authentication plugin. Its mps_plugin_init always
 * fails with a telltale message: the loader must refuse it for the
 * missing symbol BEFORE running init, and a test that sees this message
 * instead of "missing symbol Authenticate" catches the wrong order.
 */
#include <stdio.h>

#include <mps/plugin.h>

MPS_PLUGIN_DECLARE_ABI;

MPS_PLUGIN_EXPORT int mps_plugin_init(const char *, char *, size_t);

int
mps_plugin_init(const char *paramStr, char *errorString,
    size_t errorStringSize)
{
	if (paramStr[0] == '\0')
		return 0;	/* loading as a generic plugin is fine */
	snprintf(errorString, errorStringSize, "nosym init must not run");
	return 1;
}
