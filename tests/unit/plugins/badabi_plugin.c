/* SPDX-License-Identifier: Apache-2.0 */
/*
 * badabi_plugin.c: built for a future ABI major (2.0). Its Authenticate
 * accepts everything, so a loader that forgot the ABI check would hand
 * out access: the test must see it refused.
 */
#include <mps/plugin.h>

MPS_PLUGIN_EXPORT const uint32_t mps_plugin_abi_version = (2u << 16) | 0u;

MPS_PLUGIN_EXPORT bool
Authenticate(const char *userName, const char *userPassword,
    const char *paramStr, char *errorString, size_t errorStringSize)
{
	return true;
}
