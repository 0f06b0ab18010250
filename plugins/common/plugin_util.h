/* SPDX-License-Identifier: Apache-2.0 */
/*
 * plugin_util.h: small helpers shared by the plugins built in this tree
 * (file, SOAP, LDAP). Linked into each plugin as a convenience library;
 * the plugins export only the ABI's symbols, so these stay private to
 * each .so. (plugin-sdk/example stays self-contained on purpose: it is
 * what an out-of-tree author copies.)
 */
#ifndef MPS_PLUGIN_UTIL_H
#define MPS_PLUGIN_UTIL_H

#include <stddef.h>

/* Formats into a plugin's errorString; safe with NULL or size 0, always
 * NUL-terminated and truncated otherwise. */
void mps_pu_seterr(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* strerror(e) into buf: thread-safe, unlike strerror(). Returns the
 * text (which may or may not be buf). */
const char *mps_pu_strerror(int e, char *buf, size_t size);

/*
 * Replaces every occurrence of secret in the NUL-terminated err (of
 * errsize bytes) by "***", the last guard that keeps a password out of an
 * errorString. Safe with NULL or empty arguments.
 */
void mps_pu_redact(char *err, size_t errsize, const char *secret);

/* ASCII white space: space, tab, CR, LF, VT, FF. */
int mps_pu_is_blank(int c);

#endif
