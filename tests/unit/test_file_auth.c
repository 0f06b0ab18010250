/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_file_auth.c: the table-lookup plugin (AMTFileAuth, SocksFileAuth)
 * end to end: the built module loaded through the plugin loader, as
 * mpsd does, against files in a temporary directory.
 */
#include "unit.h"
#include "plugin_loader.h"

#include <apr_pools.h>
#include <apr_strings.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static apr_pool_t *pool;
static char tmpdir[64];
static char err[MPS_PLUGIN_ERROR_SIZE];
static mps_auth_plugin_t *amt;		/* AMTFileAuth, on users.txt */

/* The main file: one entry of each kind the parser must handle. */
static const char users_txt[] =
    "# demo accounts\n"
    "\n"
    "   \t\n"
    "  # an indented comment\n"
    "#alice:secret\n"
    "alice:secret\n"
    "bob:pa:ss:word\n"
    "no colon on this line\n"
    ":nouser\n"
    "nopass:\n"
    "dup:first\n"
    "dup:second\n"
    "space: lead and trail \n"
    "last:no-newline";

static void
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static const char *
tmp_path(const char *name)
{
	return apr_pstrcat(pool, tmpdir, "/", name, NULL);
}

static const char *
module(const char *name)
{
	return apr_pstrcat(pool, unit_builddir(), "/plugins/", name, ".la",
	    NULL);
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
	const char *params;

	ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
	strcpy(tmpdir, "/tmp/mps-test-fileauth-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	write_file(tmp_path("users.txt"), users_txt, sizeof(users_txt) - 1);
	params = apr_pstrcat(pool, "file ", tmp_path("users.txt"), NULL);
	ck_assert_msg(mps_auth_plugin_load(&amt, module("AMTFileAuth"), NULL,
	    params, err, sizeof(err), pool) == APR_SUCCESS, "%s", err);
}

static void
teardown(void)
{
	apr_pool_destroy(pool);
	(void)nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The AMT plugin with other DllParameters (the plugin keeps no state). */
static mps_auth_plugin_t *
with_params(const char *params)
{
	mps_auth_plugin_t *a = apr_pmemdup(pool, amt, sizeof(*amt));

	a->params = params;
	return a;
}

static int
auth(const mps_auth_plugin_t *a, const char *user, const char *pass)
{
	return mps_auth_plugin_authenticate(a, user, pass, err, sizeof(err));
}

/* A refusal for wrong credentials: no error to log. */
static void
assert_denied(const mps_auth_plugin_t *a, const char *user, const char *pass)
{
	/* %.40s: some passwords here are kilobytes long. */
	ck_assert_msg(auth(a, user, pass) == 0, "%s/%.40s accepted", user,
	    pass);
	ck_assert_msg(err[0] == '\0', "%s/%.40s: unexpected error: %s", user,
	    pass, err);
}

/* A refusal for a reason worth logging, which names the file. */
static void
assert_error(const mps_auth_plugin_t *a, const char *pass, const char *want,
    const char *path)
{
	ck_assert_int_eq(auth(a, "alice", pass), 0);
	ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in \"%s\"", want,
	    err);
	if (path != NULL)
		ck_assert_msg(strstr(err, path) != NULL, "no %s in %s", path,
		    err);
	ck_assert_ptr_null(strstr(err, pass));
}

START_TEST(test_right_password)
{
	ck_assert_int_eq(auth(amt, "alice", "secret"), 1);
	ck_assert_str_eq(err, "");
	/* The last line needs no newline. */
	ck_assert_int_eq(auth(amt, "last", "no-newline"), 1);
}
END_TEST

START_TEST(test_wrong_password)
{
	assert_denied(amt, "alice", "Secret");
	assert_denied(amt, "alice", "secreT");
	assert_denied(amt, "alice", "wrong!");
	assert_denied(amt, "last", "no-newlin");
}
END_TEST

START_TEST(test_unknown_user)
{
	assert_denied(amt, "carol", "secret");
	/* User names are exact and case-sensitive. */
	assert_denied(amt, "Alice", "secret");
	assert_denied(amt, "alice ", "secret");
	assert_denied(amt, "alic", "secret");
	/* A comment is not an entry. */
	assert_denied(amt, "#alice", "secret");
	assert_denied(amt, "", "nouser");
}
END_TEST

START_TEST(test_colon_in_password)
{
	ck_assert_int_eq(auth(amt, "bob", "pa:ss:word"), 1);
	/* The first ':' separates: "bob:pa" is no user. */
	assert_denied(amt, "bob:pa", "ss:word");
	assert_denied(amt, "bob", "pa");
}
END_TEST

START_TEST(test_prefix_and_longer)
{
	assert_denied(amt, "alice", "secre");
	assert_denied(amt, "alice", "s");
	assert_denied(amt, "alice", "secrets");
	assert_denied(amt, "alice", "secret\r");
	assert_denied(amt, "alice", "secret secret secret secret");
}
END_TEST

START_TEST(test_empty_password)
{
	assert_denied(amt, "alice", "");
	/* An empty stored password is a disabled entry. */
	assert_denied(amt, "nopass", "");
	assert_denied(amt, "nopass", "x");
}
END_TEST

START_TEST(test_fields_not_trimmed)
{
	ck_assert_int_eq(auth(amt, "space", " lead and trail "), 1);
	assert_denied(amt, "space", "lead and trail");
}
END_TEST

START_TEST(test_first_entry_decides)
{
	ck_assert_int_eq(auth(amt, "dup", "first"), 1);
	assert_denied(amt, "dup", "second");
}
END_TEST

START_TEST(test_crlf)
{
	static const char crlf[] = "# windows file\r\n\r\n"
	    "carol:crlfpass\r\nalice:other\r\n";
	const char *path = tmp_path("crlf.txt");
	mps_auth_plugin_t *a = with_params(path);

	write_file(path, crlf, sizeof(crlf) - 1);
	ck_assert_int_eq(auth(a, "carol", "crlfpass"), 1);
	ck_assert_int_eq(auth(a, "alice", "other"), 1);
	assert_denied(a, "carol", "crlfpass\r");
	assert_denied(a, "alice", "secret");
}
END_TEST

START_TEST(test_param_forms)
{
	const char *path = tmp_path("users.txt");
	const char *forms[] = {
		path,
		apr_pstrcat(pool, "file ", path, NULL),
		apr_pstrcat(pool, "  file\t  ", path, " \n", NULL),
		apr_pstrcat(pool, "file \"", path, "\"", NULL),
		apr_pstrcat(pool, "\"", path, "\"", NULL),
	};
	char cwd[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		ck_assert_msg(auth(with_params(forms[i]), "alice", "secret") ==
		    1, "form \"%s\": %s", forms[i], err);
	}
	/* A relative path is relative to the working directory. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_int_eq(auth(with_params("file users.txt"), "alice", "secret"),
	    1);
	ck_assert_int_eq(auth(with_params("./users.txt"), "bob", "pa:ss:word"),
	    1);
	ck_assert_int_eq(chdir(cwd), 0);
}
END_TEST

START_TEST(test_param_missing)
{
	assert_error(with_params(""), "secret", "names no authentication file",
	    NULL);
	assert_error(with_params("  file   "), "secret",
	    "names no authentication file", NULL);
}
END_TEST

START_TEST(test_missing_file)
{
	const char *path = tmp_path("absent.txt");

	assert_error(with_params(apr_pstrcat(pool, "file ", path, NULL)),
	    "secret", apr_pstrcat(pool, "cannot open authentication file ",
	    path, ": No such file or directory", NULL), path);
}
END_TEST

START_TEST(test_directory)
{
	assert_error(with_params(tmpdir), "secret",
	    "cannot open authentication file", tmpdir);
	ck_assert_ptr_nonnull(strstr(err, "Is a directory"));
}
END_TEST

START_TEST(test_unreadable_file)
{
	const char *path = tmp_path("secret.txt");

	write_file(path, "alice:secret\n", 13);
	ck_assert_int_eq(chmod(path, 0), 0);
	/* root reads it anyway: then the plugin must simply work. */
	if (access(path, R_OK) == 0) {
		ck_assert_int_eq(auth(with_params(path), "alice", "secret"), 1);
		return;
	}
	assert_error(with_params(path), "secret",
	    "cannot open authentication file", path);
	ck_assert_ptr_nonnull(strstr(err, "Permission denied"));
}
END_TEST

START_TEST(test_no_valid_line)
{
	const char *path = tmp_path("empty.txt");

	write_file(path, "", 0);
	assert_error(with_params(path), "secret", "has no valid user:password "
	    "line", path);
	write_file(path, "# only\nnonsense\n:x\n", 19);
	assert_error(with_params(path), "secret", "has no valid", path);
}
END_TEST

START_TEST(test_overlong_line)
{
	const char *path = tmp_path("long.txt");
	size_t plen = 5000, n = 0;
	char *data = apr_palloc(pool, plen + 64);

	n += (size_t)sprintf(data, "long:");
	memset(data + n, 'p', plen);
	n += plen;
	n += (size_t)sprintf(data + n, "\nalice:secret\n");
	write_file(path, data, n);

	/* The long line is skipped; the line after it still counts. */
	data[5 + plen] = '\0';
	assert_denied(with_params(path), "long", data + 5);
	ck_assert_int_eq(auth(with_params(path), "alice", "secret"), 1);
}
END_TEST

START_TEST(test_longest_line)
{
	/* A line of exactly the limit (4096 bytes) is still an entry. */
	const char *path = tmp_path("edge.txt");
	size_t plen = 4096 - 5;
	char *data = apr_palloc(pool, plen + 8);
	char *pass;

	memcpy(data, "edge:", 5);
	memset(data + 5, 'q', plen);
	data[5 + plen] = '\n';
	write_file(path, data, plen + 6);
	pass = apr_pstrmemdup(pool, data + 5, plen);
	ck_assert_int_eq(auth(with_params(path), "edge", pass), 1);
	pass[plen - 1] = '\0';
	assert_denied(with_params(path), "edge", pass);
}
END_TEST

START_TEST(test_file_too_large)
{
	const char *path = tmp_path("huge.txt");
	int fd;

	write_file(path, "alice:secret\n", 13);
	/* Sparse: costs no disk, but fstat() says 17 MiB. */
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 17L * 1024 * 1024), 0);
	ck_assert_int_eq(close(fd), 0);
	assert_error(with_params(path), "secret", "is larger than", path);
}
END_TEST

START_TEST(test_edit_takes_effect)
{
	const char *path = tmp_path("live.txt");
	mps_auth_plugin_t *a = with_params(path);

	write_file(path, "alice:old\n", 10);
	ck_assert_int_eq(auth(a, "alice", "old"), 1);
	write_file(path, "alice:new\n", 10);
	ck_assert_int_eq(auth(a, "alice", "new"), 1);
	assert_denied(a, "alice", "old");
}
END_TEST

START_TEST(test_socks_module)
{
	mps_auth_plugin_t *socks = NULL;
	const char *path = tmp_path("socks.txt");

	write_file(path, "console:console-demo\n", 21);
	ck_assert_msg(mps_auth_plugin_load(&socks, module("SocksFileAuth"),
	    NULL, apr_pstrcat(pool, "file ", path, NULL), err, sizeof(err),
	    pool) == APR_SUCCESS, "%s", err);
	/* Two modules, two files, loaded side by side. */
	ck_assert_str_ne(mps_plugin_path(socks->plugin),
	    mps_plugin_path(amt->plugin));
	ck_assert_int_eq(auth(socks, "console", "console-demo"), 1);
	assert_denied(socks, "alice", "secret");
	ck_assert_int_eq(auth(amt, "alice", "secret"), 1);
	assert_denied(amt, "console", "console-demo");
}
END_TEST

START_TEST(test_bare_name_in_plugin_dir)
{
	mps_auth_plugin_t *a = NULL;

	/* As an old configuration names it. */
	ck_assert_msg(mps_auth_plugin_load(&a, "AMTFileAuth.dll",
	    apr_pstrcat(pool, unit_builddir(), "/plugins", NULL),
	    tmp_path("users.txt"), err, sizeof(err), pool) == APR_SUCCESS,
	    "%s", err);
	ck_assert_int_eq(auth(a, "alice", "secret"), 1);
}
END_TEST

#define AUTH_THREADS 8
#define AUTH_ROUNDS 200

struct auth_job {
	const mps_auth_plugin_t *auth;
	int id;
	int wrong;	/* calls whose answer was wrong */
};

/* Alternates right and wrong passwords for two users. */
static void *
auth_loop(void *arg)
{
	struct auth_job *job = arg;
	char e[MPS_PLUGIN_ERROR_SIZE];
	int i, ok;

	for (i = 0; i < AUTH_ROUNDS; i++) {
		if ((i + job->id) % 2 == 0)
			ok = mps_auth_plugin_authenticate(job->auth, "bob",
			    i % 3 ? "pa:ss:word" : "pa:ss:worD", e, sizeof(e));
		else
			ok = mps_auth_plugin_authenticate(job->auth, "alice",
			    i % 3 ? "secret" : "secreT", e, sizeof(e));
		if (ok != (i % 3 != 0) || e[0] != '\0')
			job->wrong++;
	}
	return NULL;
}

START_TEST(test_threads)
{
	struct auth_job jobs[AUTH_THREADS];
	pthread_t tids[AUTH_THREADS];
	int i;

	for (i = 0; i < AUTH_THREADS; i++) {
		jobs[i].auth = amt;
		jobs[i].id = i;
		jobs[i].wrong = 0;
		ck_assert_int_eq(pthread_create(&tids[i], NULL, auth_loop,
		    &jobs[i]), 0);
	}
	for (i = 0; i < AUTH_THREADS; i++) {
		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
		ck_assert_msg(jobs[i].wrong == 0, "thread %d: %d wrong answers",
		    i, jobs[i].wrong);
	}
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("file_auth");
	TCase *tc = tcase_create("AMTFileAuth");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_right_password);
	tcase_add_test(tc, test_wrong_password);
	tcase_add_test(tc, test_unknown_user);
	tcase_add_test(tc, test_colon_in_password);
	tcase_add_test(tc, test_prefix_and_longer);
	tcase_add_test(tc, test_empty_password);
	tcase_add_test(tc, test_fields_not_trimmed);
	tcase_add_test(tc, test_first_entry_decides);
	tcase_add_test(tc, test_crlf);
	tcase_add_test(tc, test_param_forms);
	tcase_add_test(tc, test_param_missing);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_directory);
	tcase_add_test(tc, test_unreadable_file);
	tcase_add_test(tc, test_no_valid_line);
	tcase_add_test(tc, test_overlong_line);
	tcase_add_test(tc, test_longest_line);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_edit_takes_effect);
	tcase_add_test(tc, test_socks_module);
	tcase_add_test(tc, test_bare_name_in_plugin_dir);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}
