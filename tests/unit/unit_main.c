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
