/*
 * unit.h: the one thing every Check suite provides.
 *
 * Each tests/unit/test_*.c defines unit_suite(); unit_main.c runs it with
 * TAP output (so the automake TAP driver counts every test) after
 * apr_initialize().
 */
#ifndef MPS_UNIT_H
#define MPS_UNIT_H

#include <check.h>

Suite *unit_suite(void);

/* Absolute path of the source tree (from $top_srcdir), for fixtures. */
const char *unit_srcdir(void);
/* Absolute path of the build tree (from $top_builddir). */
const char *unit_builddir(void);

#endif
