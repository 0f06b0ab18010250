/* SPDX-License-Identifier: Apache-2.0 */
/* unit_main.c: runs one Check suite, printing TAP to stdout. */
#include "unit.h"

#include <apr_general.h>
#include <stdlib.h>

const char *
unit_srcdir(void)
{
	const char *d = getenv("top_srcdir");
	return d ? d : ".";
}

const char *
unit_builddir(void)
{
	const char *d = getenv("top_builddir");
	return d ? d : ".";
}

static uint32_t rng_state = 1;

void
unit_rng_seed(uint32_t seed)
{
	rng_state = seed != 0 ? seed : 1;
}

uint32_t
unit_rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

size_t
unit_unhex(const char *hex, uint8_t *out, size_t outsize)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *hex != '\0'; hex++) {
		if (*hex == ' ')
			continue;
		if (*hex == '\'') {
			REQUIRE(hi < 0, "quote inside a hex byte");
			for (hex++; *hex != '\'' && *hex != '\0'; hex++) {
				REQUIRE(n < outsize, "vector too long");
				out[n++] = (uint8_t)*hex;
			}
			REQUIRE(*hex == '\'', "unterminated quote");
			continue;
		}
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if (*hex >= 'a' && *hex <= 'f')
			v = *hex - 'a' + 10;
		else if (*hex >= 'A' && *hex <= 'F')
			v = *hex - 'A' + 10;
		else
			ck_abort_msg("bad hex character '%c'", *hex);
		if (hi < 0) {
			hi = v;
			continue;
		}
		REQUIRE(n < outsize, "vector too long");
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	REQUIRE(hi < 0, "odd number of hex digits");
	return n;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (apr_initialize() != APR_SUCCESS)
		return 99;
	atexit(apr_terminate);
	sr = srunner_create(unit_suite());
	/* TAP on stdout for the automake driver; Check's own summary line
	 * ("100%: Checks: N, Failures: 0, Errors: 0") follows it. */
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
