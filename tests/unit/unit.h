/* SPDX-License-Identifier: Apache-2.0 */
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
#include <stddef.h>
#include <stdint.h>

Suite *unit_suite(void);

/*
 * An assertion for hot loops: silent unless it fails. Check's ck_assert_*
 * records a mark point on every call (a write to the parent process),
 * which dominates a loop of a million checks.
 */
#define REQUIRE(cond, ...) do {						\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

/* A fixed-seed generator, the same on every platform (xorshift32), for
 * reproducible randomized tests. Seed 0 is taken as 1. */
void unit_rng_seed(uint32_t seed);
uint32_t unit_rng(void);

/*
 * Test vectors: hex digits (spaces ignored) to bytes; text between single
 * quotes is copied as ASCII, so that names stay readable ("03 04 'host'").
 * Returns the byte count; aborts the test on a bad or too long vector.
 */
size_t unit_unhex(const char *hex, uint8_t *out, size_t outsize);

/* Absolute path of the source tree (from $top_srcdir), for fixtures. */
const char *unit_srcdir(void);
/* Absolute path of the build tree (from $top_builddir). */
const char *unit_builddir(void);

#endif
