/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_plugin.c: the plugin loader, against the test plugins built in
 * tests/unit/plugins/ (good_plugin, nosym_plugin, badabi_plugin).
 */
#include "unit.h"
#include "plugin_loader.h"
#include "mps_status.h"

#include <apr_allocator.h>
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ftw.h>

typedef void (*counts_fn)(int *, int *, char *, size_t);

static apr_pool_t *pool;
static char tmpdir[64];
static char err[MPS_PLUGIN_ERROR_SIZE + 64];

static const char *
plugin_dir(void)
{
	return apr_pstrcat(pool, unit_builddir(), "/tests/unit/plugins", NULL);
}

static const char *
plugin_la(const char *name)
{
	return apr_pstrcat(pool, plugin_dir(), "/", name, ".la", NULL);
}

static const char *
plugin_so(const char *name)
{
	return apr_pstrcat(pool, plugin_dir(), "/.libs/", name, ".so", NULL);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	strcpy(tmpdir, "/tmp/mps-test-plugin-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	err[0] = '\0';
}

static void
teardown(void)
{
	apr_pool_destroy(pool);
	(void)nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Asserts that the good plugin works through auth. */
static void
assert_good_auth(const mps_auth_plugin_t *auth)
{
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "alice", "secret",
	    err, sizeof(err)), 1);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "alice", "wrong",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "bob", "secret",
	    err, sizeof(err)), 0);
}

static mps_auth_plugin_t *
load_good(const char *name, const char *dir)
{
	mps_auth_plugin_t *auth = NULL;
	apr_status_t rv;

	rv = mps_auth_plugin_load(&auth, name, dir, "p", err, sizeof(err),
	    pool);
	ck_assert_msg(rv == APR_SUCCESS, "load %s: %s", name, err);
	ck_assert_ptr_nonnull(auth);
	return auth;
}

START_TEST(test_load_la_by_path)
{
	mps_auth_plugin_t *auth = load_good(plugin_la("good_plugin"), NULL);
	const char *path = mps_plugin_path(auth->plugin);

	/* libltdl follows the .la to the real module in .libs. */
	ck_assert_msg(strstr(path, "good_plugin.so") != NULL, "%s", path);
	ck_assert_uint_eq(mps_plugin_abi(auth->plugin), MPS_PLUGIN_ABI_VERSION);
	ck_assert_str_eq(auth->params, "p");
	assert_good_auth(auth);
}
END_TEST

START_TEST(test_load_so_by_path)
{
	mps_auth_plugin_t *auth = load_good(plugin_so("good_plugin"), NULL);

	ck_assert_str_eq(mps_plugin_path(auth->plugin),
	    plugin_so("good_plugin"));
	assert_good_auth(auth);
}
END_TEST

START_TEST(test_load_bare_name)
{
	/* The plugin directory is where a bare name is looked for. */
	assert_good_auth(load_good("good_plugin", plugin_dir()));
	/* Even when it ends in '/'. */
	assert_good_auth(load_good("good_plugin",
	    apr_pstrcat(pool, plugin_dir(), "/", NULL)));
}
END_TEST

START_TEST(test_load_dll_suffix)
{
	assert_good_auth(load_good("good_plugin.dll", plugin_dir()));
	assert_good_auth(load_good("good_plugin.DLL", plugin_dir()));
	assert_good_auth(load_good(apr_pstrcat(pool, plugin_dir(),
	    "/good_plugin.Dll", NULL), NULL));
}
END_TEST

START_TEST(test_load_relative_path)
{
	char cwd[PATH_MAX];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(unit_builddir()), 0);
	/* A name with '/' is a path from the working directory, not a
	 * name in the plugin directory (which does not have it). */
	assert_good_auth(load_good("./tests/unit/plugins/good_plugin", tmpdir));
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_error_string_passed)
{
	mps_auth_plugin_t *auth = load_good(plugin_la("good_plugin"), NULL);
	char small[8];

	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "err", "x", err,
	    sizeof(err)), 0);
	ck_assert_str_eq(err, "backend unavailable");
	/* DllParameters reach the plugin on every call. */
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "param", "x", err,
	    sizeof(err)), 0);
	ck_assert_str_eq(err, "p");
	/* A success after an error leaves err empty again. */
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "alice", "secret",
	    err, sizeof(err)), 1);
	ck_assert_str_eq(err, "");
	/* Truncated to the caller's buffer. */
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "err", "x", small,
	    sizeof(small)), 0);
	ck_assert_str_eq(small, "backend");
}
END_TEST

START_TEST(test_error_string_unterminated)
{
	mps_auth_plugin_t *auth = load_good(plugin_la("good_plugin"), NULL);
	char small[16];

	/* The plugin fills its whole buffer with 'x' and no NUL. */
	memset(err, 'y', sizeof(err));
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "overflow", "x",
	    err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(err), MPS_PLUGIN_ERROR_SIZE - 1);
	ck_assert_int_eq(err[0], 'x');
	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, "overflow", "x",
	    small, sizeof(small)), 0);
	ck_assert_str_eq(small, "xxxxxxxxxxxxxxx");
}
END_TEST

START_TEST(test_null_credentials)
{
	mps_auth_plugin_t *auth = load_good(plugin_la("good_plugin"), NULL);

	ck_assert_int_eq(mps_auth_plugin_authenticate(auth, NULL, NULL, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(mps_auth_plugin_authenticate(NULL, "alice", "secret",
	    err, sizeof(err)), 0);
	ck_assert_str_ne(err, "");
}
END_TEST

START_TEST(test_init_failure)
{
	mps_auth_plugin_t *auth = NULL;
	apr_status_t rv;

	rv = mps_auth_plugin_load(&auth, plugin_la("good_plugin"), NULL,
	    "fail-init", err, sizeof(err), pool);
	ck_assert_int_eq(rv, MPS_ERR_PLUGIN);
	ck_assert_ptr_null(auth);
	ck_assert_msg(strstr(err, "mps_plugin_init failed: init refused: "
	    "fail-init requested") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "good_plugin.so") != NULL, "%s", err);
}
END_TEST

START_TEST(test_missing_file)
{
	mps_auth_plugin_t *auth = NULL;
	apr_status_t rv;
	const char *want;

	rv = mps_auth_plugin_load(&auth, "NoSuchAuth.dll", tmpdir, "", err,
	    sizeof(err), pool);
	ck_assert_int_eq(rv, MPS_ERR_PLUGIN);
	ck_assert_ptr_null(auth);
	want = apr_psprintf(pool, "cannot load plugin \"NoSuchAuth.dll\" "
	    "(searched %s/NoSuchAuth.la, %s/NoSuchAuth.so): file not found",
	    tmpdir, tmpdir);
	ck_assert_str_eq(err, want);

	/* With an explicit extension only that file is tried. */
	rv = mps_auth_plugin_load(&auth, apr_pstrcat(pool, tmpdir,
	    "/gone.so", NULL), NULL, "", err, sizeof(err), pool);
	ck_assert_int_eq(rv, MPS_ERR_PLUGIN);
	ck_assert_msg(strstr(err, "(searched /tmp/") != NULL &&
	    strstr(err, "/gone.so)") != NULL, "%s", err);
}
END_TEST

START_TEST(test_empty_name)
{
	mps_plugin_t *p = NULL;

	ck_assert_int_eq(mps_plugin_load(&p, "", tmpdir, "", err, sizeof(err),
	    pool), MPS_ERR_PLUGIN);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(mps_plugin_load(&p, ".dll", tmpdir, "", err,
	    sizeof(err), pool), MPS_ERR_PLUGIN);
}
END_TEST

START_TEST(test_not_a_shared_object)
{
	const char *path = apr_pstrcat(pool, tmpdir, "/garbage.so", NULL);
	mps_plugin_t *p = NULL;
	FILE *f;

	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an ELF file\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(mps_plugin_load(&p, path, NULL, "", err, sizeof(err),
	    pool), MPS_ERR_PLUGIN);
	ck_assert_msg(strstr(err, "cannot load plugin") != NULL &&
	    strstr(err, path) != NULL, "%s", err);
}
END_TEST

START_TEST(test_missing_authenticate)
{
	mps_auth_plugin_t *auth = NULL;
	mps_plugin_t *p = NULL;
	const char *want;

	/* A plugin it is... */
	ck_assert_int_eq(mps_plugin_load(&p, plugin_la("nosym_plugin"), NULL,
	    "", err, sizeof(err), pool), APR_SUCCESS);
	ck_assert_ptr_null(mps_plugin_symbol(p, MPS_PLUGIN_SYM_AUTHENTICATE));
	/* ...but not an authentication plugin, refused before its init
	 * (which would fail with another message) runs. */
	ck_assert_int_eq(mps_auth_plugin_load(&auth, plugin_la("nosym_plugin"),
	    NULL, "x", err, sizeof(err), pool), MPS_ERR_PLUGIN);
	ck_assert_ptr_null(auth);
	want = apr_psprintf(pool, "plugin %s: missing symbol Authenticate",
	    plugin_so("nosym_plugin"));
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_bad_abi)
{
	mps_auth_plugin_t *auth = NULL;
	const char *want;

	ck_assert_int_eq(mps_auth_plugin_load(&auth, plugin_la("badabi_plugin"),
	    NULL, "", err, sizeof(err), pool), MPS_ERR_PLUGIN_ABI);
	ck_assert_ptr_null(auth);
	want = apr_psprintf(pool, "plugin %s: ABI 2.0, this mpsd supports "
	    "%d.%d", plugin_so("badabi_plugin"), MPS_PLUGIN_ABI_MAJOR,
	    MPS_PLUGIN_ABI_MINOR);
	ck_assert_str_eq(err, want);
}
END_TEST

/*
 * A shared object that is no mpsd plugin at all: a symlink, named like a
 * plugin, to the system library that holds apr_initialize. Skipped if
 * that library cannot be found.
 */
START_TEST(test_missing_abi_symbol)
{
	const char *link = apr_pstrcat(pool, tmpdir, "/NotAPlugin.so", NULL);
	mps_plugin_t *p = NULL;
	Dl_info info;

	if (dladdr((void *)apr_initialize, &info) == 0 ||
	    info.dli_fname == NULL || info.dli_fname[0] != '/') {
		fprintf(stderr, "# skipped: no path for the APR library\n");
		return;
	}
	ck_assert_int_eq(symlink(info.dli_fname, link), 0);
	ck_assert_int_eq(mps_plugin_load(&p, "NotAPlugin", tmpdir, "", err,
	    sizeof(err), pool), MPS_ERR_PLUGIN_ABI);
	ck_assert_ptr_null(p);
	ck_assert_msg(strstr(err, "missing symbol mps_plugin_abi_version "
	    "(not an mpsd plugin") != NULL, "%s", err);
	ck_assert_msg(strstr(err, "NotAPlugin.so") != NULL, "%s", err);
}
END_TEST

/* Reads the good plugin's counters through handle p. */
static void
counts(mps_plugin_t *p, int *inits, int *finis, char *params, size_t size)
{
	counts_fn fn = (counts_fn)mps_plugin_symbol(p, "good_plugin_counts");

	ck_assert_ptr_nonnull(fn);
	fn(inits, finis, params, size);
}

START_TEST(test_cleanup_runs_fini)
{
	mps_plugin_t *keeper = NULL, *p = NULL;
	apr_pool_t *sub;
	int i0, f0, i1, f1;
	char params[64];

	/* keeper holds a reference, so the module stays mapped and its
	 * counters readable after the other handle is closed. */
	ck_assert_int_eq(mps_plugin_load(&keeper, plugin_la("good_plugin"),
	    NULL, "keeper", err, sizeof(err), pool), APR_SUCCESS);
	counts(keeper, &i0, &f0, params, sizeof(params));
	ck_assert_str_eq(params, "keeper");

	ck_assert_int_eq(apr_pool_create(&sub, pool), APR_SUCCESS);
	ck_assert_int_eq(mps_plugin_load(&p, plugin_so("good_plugin"), NULL,
	    "second", err, sizeof(err), sub), APR_SUCCESS);
	counts(keeper, &i1, &f1, params, sizeof(params));
	ck_assert_int_eq(i1, i0 + 1);
	ck_assert_int_eq(f1, f0);
	ck_assert_str_eq(params, "second");

	apr_pool_destroy(sub);
	counts(keeper, &i1, &f1, params, sizeof(params));
	ck_assert_int_eq(i1, i0 + 1);
	ck_assert_int_eq(f1, f0 + 1);

	/* A refused init is not followed by fini. */
	ck_assert_int_eq(mps_plugin_load(&p, plugin_la("good_plugin"), NULL,
	    "fail-init", err, sizeof(err), pool), MPS_ERR_PLUGIN);
	counts(keeper, &i1, &f1, params, sizeof(params));
	ck_assert_int_eq(i1, i0 + 2);
	ck_assert_int_eq(f1, f0 + 1);
}
END_TEST

#define LOAD_THREADS 8
#define LOAD_ROUNDS 25

struct load_job {
	const char *path;
	apr_pool_t *pool;
	int failures;
	char err[256];
};

/* Loads, uses and unloads the good plugin over and over. */
static void *
load_loop(void *arg)
{
	struct load_job *job = arg;
	mps_auth_plugin_t *auth;
	apr_pool_t *sub;
	char aerr[64];
	int i;

	for (i = 0; i < LOAD_ROUNDS; i++) {
		if (apr_pool_create(&sub, job->pool) != APR_SUCCESS) {
			job->failures++;
			continue;
		}
		if (mps_auth_plugin_load(&auth, job->path, NULL,
		    "t", job->err, sizeof(job->err), sub) != APR_SUCCESS ||
		    mps_auth_plugin_authenticate(auth, "alice", "secret", aerr,
		    sizeof(aerr)) != 1)
			job->failures++;
		apr_pool_destroy(sub);
	}
	return NULL;
}

/* A pool with its own allocator, for one thread's use only. */
static apr_pool_t *
thread_pool(void)
{
	apr_allocator_t *alloc;
	apr_pool_t *p;

	ck_assert_int_eq(apr_allocator_create(&alloc), APR_SUCCESS);
	ck_assert_int_eq(apr_pool_create_ex(&p, NULL, NULL, alloc),
	    APR_SUCCESS);
	apr_allocator_owner_set(alloc, p);
	return p;
}

START_TEST(test_concurrent_loads)
{
	struct load_job jobs[LOAD_THREADS];
	pthread_t tids[LOAD_THREADS];
	mps_plugin_t *keeper = NULL;
	int i, i0, f0, i1, f1;
	char params[64];

	ck_assert_int_eq(mps_plugin_load(&keeper, plugin_la("good_plugin"),
	    NULL, "", err, sizeof(err), pool), APR_SUCCESS);
	counts(keeper, &i0, &f0, params, sizeof(params));
	/* Everything the threads need is made before any starts: they must
	 * not share the test's pool. */
	for (i = 0; i < LOAD_THREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].path = plugin_so("good_plugin");
		jobs[i].pool = thread_pool();
	}
	for (i = 0; i < LOAD_THREADS; i++)
		ck_assert_int_eq(pthread_create(&tids[i], NULL, load_loop,
		    &jobs[i]), 0);
	for (i = 0; i < LOAD_THREADS; i++) {
		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
		ck_assert_msg(jobs[i].failures == 0, "thread %d: %d failures, "
		    "%s", i, jobs[i].failures, jobs[i].err);
		apr_pool_destroy(jobs[i].pool);
	}
	counts(keeper, &i1, &f1, params, sizeof(params));
	ck_assert_int_eq(i1 - i0, LOAD_THREADS * LOAD_ROUNDS);
	ck_assert_int_eq(f1 - f0, LOAD_THREADS * LOAD_ROUNDS);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("plugin");
	TCase *tc = tcase_create("loader");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_la_by_path);
	tcase_add_test(tc, test_load_so_by_path);
	tcase_add_test(tc, test_load_bare_name);
	tcase_add_test(tc, test_load_dll_suffix);
	tcase_add_test(tc, test_load_relative_path);
	tcase_add_test(tc, test_error_string_passed);
	tcase_add_test(tc, test_error_string_unterminated);
	tcase_add_test(tc, test_null_credentials);
	tcase_add_test(tc, test_init_failure);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_empty_name);
	tcase_add_test(tc, test_not_a_shared_object);
	tcase_add_test(tc, test_missing_authenticate);
	tcase_add_test(tc, test_bad_abi);
	tcase_add_test(tc, test_missing_abi_symbol);
	tcase_add_test(tc, test_cleanup_runs_fini);
	tcase_add_test(tc, test_concurrent_loads);
	suite_add_tcase(s, tc);
	return s;
}
