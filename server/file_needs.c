/* SPDX-License-Identifier: Apache-2.0 */
/* file_needs.c: see file_needs.h. */
#include "file_needs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "daemon.h"

static void
add_need(apr_array_header_t *needs, mps_need_kind_t kind, const char *path,
    const char *why, int line, int created_if_missing)
{
	mps_file_need_t *n = apr_array_push(needs);

	n->kind = kind;
	n->path = path;
	n->why = why;
	n->line = line;
	n->created_if_missing = created_if_missing;
}

static const char *
parent_dir(const char *path, apr_pool_t *pool)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return ".";
	if (slash == path)
		return "/";
	return apr_pstrndup(pool, path, (apr_size_t)(slash - path));
}

/* "dir/AMTFileAuth.la" -> "AMTFileAuth". */
static const char *
plugin_base_name(const char *dll_name, apr_pool_t *pool)
{
	const char *b = strrchr(dll_name, '/');
	const char *dot;

	b = b != NULL ? b + 1 : dll_name;
	dot = strrchr(b, '.');
	if (dot != NULL && (strcmp(dot, ".la") == 0 || strcmp(dot, ".so") == 0))
		return apr_pstrndup(pool, b, (apr_size_t)(dot - b));
	return b;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The file plugin's DllParameters: "PATH" or "file PATH", blanks around
 * and double quotes ignored (as plugins/file_auth/file_auth.c reads it).
 */
static const char *
file_plugin_path(const char *param, apr_pool_t *pool)
{
	const char *s = param, *e;

	while (is_blank(*s))
		s++;
	if (strncmp(s, "file", 4) == 0 && is_blank(s[4])) {
		s += 4;
		while (is_blank(*s))
			s++;
	}
	e = s + strlen(s);
	while (e > s && is_blank(e[-1]))
		e--;
	if (e - s >= 2 && *s == '"' && e[-1] == '"') {
		s++;
		e--;
	}
	if (e == s)
		return NULL;
	return apr_pstrndup(pool, s, (apr_size_t)(e - s));
}

/* Splits DllParameters into blank-separated words, "..." kept whole. */
static apr_array_header_t *
split_words(const char *s, apr_pool_t *pool)
{
	apr_array_header_t *words = apr_array_make(pool, 8, sizeof(char *));

	while (*s != '\0') {
		const char *start, *end;

		while (is_blank(*s))
			s++;
		if (*s == '\0')
			break;
		if (*s == '"') {
			start = ++s;
			while (*s != '\0' && *s != '"')
				s++;
			end = s;
			if (*s == '"')
				s++;
		} else {
			start = s;
			while (*s != '\0' && !is_blank(*s))
				s++;
			end = s;
		}
		APR_ARRAY_PUSH(words, char *) = apr_pstrndup(pool, start,
		    (apr_size_t)(end - start));
	}
	return words;
}

const char *
mps_file_plugin_accounts(const mps_server_t *srv, const char *role,
    apr_pool_t *pool)
{
	const mps_auth_config_t *ac = strcmp(role, "AMT") == 0 ?
	    &srv->cfg->amt_auth : &srv->cfg->socks_auth;
	const char *base, *path;

	if (!ac->need_authentication || ac->dll_name == NULL)
		return NULL;
	base = plugin_base_name(ac->dll_name, pool);
	if (strcmp(base, "AMTFileAuth") != 0 && strcmp(base, "SocksFileAuth") != 0)
		return NULL;
	path = file_plugin_path(ac->dll_parameters != NULL ?
	    ac->dll_parameters : "", pool);
	if (path == NULL)
		return NULL;
	return mps_config_resolve(srv->config_dir, path, pool);
}

/*
 * The other plugins (SOAP, LDAP) name files with options; the ones used
 * at call time, after the drop, are these. (-bind-pass-file is read at
 * start-up, as root, so it may stay root's alone.)
 */
static void
plugin_option_files(apr_array_header_t *needs, const mps_server_t *srv,
    const mps_auth_config_t *ac, const char *group, apr_pool_t *pool)
{
	static const char *const file_options[] = { "-cafile", "-cert", "-key" };
	apr_array_header_t *words;
	int i;
	size_t k;

	if (!ac->need_authentication || ac->dll_parameters == NULL)
		return;
	words = split_words(ac->dll_parameters, pool);
	for (i = 0; i + 1 < words->nelts; i++) {
		const char *w = APR_ARRAY_IDX(words, i, const char *);
		for (k = 0; k < sizeof(file_options) / sizeof(file_options[0]); k++) {
			if (strcmp(w, file_options[k]) != 0)
				continue;
			add_need(needs, MPS_NEED_READ, mps_config_resolve(
			    srv->config_dir, APR_ARRAY_IDX(words, i + 1,
			    const char *), pool), apr_psprintf(pool,
			    "%s DllParameters %s", group, w), ac->line, 0);
		}
	}
}

apr_array_header_t *
mps_file_needs_collect(const mps_server_t *srv, apr_pool_t *pool)
{
	const mps_config_t *cfg = srv->cfg;
	apr_array_header_t *needs = apr_array_make(pool, 16,
	    sizeof(mps_file_need_t));
	const char *p;

	add_need(needs, MPS_NEED_READ, srv->dynamic_path,
	    "DynamicConfigFile (reread while running)", 0, 0);
	add_need(needs, MPS_NEED_READ, srv->notification_list_path,
	    "MCSubscribersList", 0, 0);
	add_need(needs, MPS_NEED_READ, srv->authorized_servers_path,
	    "AuthorizedServersList", 0, 0);
	if ((p = mps_file_plugin_accounts(srv, "AMT", pool)) != NULL)
		add_need(needs, MPS_NEED_READ, p, "AMT_Authenticate DllParameters "
		    "(accounts file, read on every login)", cfg->amt_auth.line, 0);
	if ((p = mps_file_plugin_accounts(srv, "Socks", pool)) != NULL)
		add_need(needs, MPS_NEED_READ, p, "Socks_Authenticate DllParameters "
		    "(accounts file, read on every login)", cfg->socks_auth.line, 0);
	plugin_option_files(needs, srv, &cfg->amt_auth, "AMT_Authenticate", pool);
	plugin_option_files(needs, srv, &cfg->socks_auth, "Socks_Authenticate",
	    pool);
	if (cfg->notification_ca_file != NULL && cfg->notification_ca_file[0] !=
	    '\0' && srv->subscribers != NULL && srv->subscribers->nelts > 0)
		add_need(needs, MPS_NEED_READ, mps_config_resolve(srv->config_dir,
		    cfg->notification_ca_file, pool), "NotificationCAFile", 0, 0);
	/* With Target syslog no log file is opened. */
	if (cfg->log_target == MPS_LOG_TARGET_FILE)
		add_need(needs, MPS_NEED_DIR_WRITE, mps_config_resolve(
		    srv->config_dir, cfg->log_file_path, pool), "LogFilePath "
		    "(log rotation creates and renames files there)", 0, 1);
	add_need(needs, MPS_NEED_DIR_WRITE, parent_dir(mps_config_resolve(
	    srv->config_dir, cfg->pid_file, pool), pool), "the directory of "
	    "PidFile (the pid file is removed at exit)", 0, 1);
	return needs;
}

/* The nearest existing ancestor of a missing directory. */
static const char *
existing_ancestor(const char *path, char *buf, size_t size)
{
	struct stat st;
	char *slash;

	apr_cpystrn(buf, path, size);
	while (stat(buf, &st) != 0) {
		slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf)
			return "/";
		*slash = '\0';
	}
	return buf;
}

/*
 * One need, as whoever runs this: "" when it is met, else what is wrong.
 * creatable: mpsd (as root) makes a missing directory itself.
 */
static void
check_one(const mps_file_need_t *n, int creatable, char *out, size_t size)
{
	struct stat st;
	char buf[4096];
	const char *anc;

	out[0] = '\0';
	if (n->kind == MPS_NEED_READ) {
		if (access(n->path, R_OK) != 0) {
			snprintf(out, size, "%s", strerror(errno));
			return;
		}
		if (stat(n->path, &st) == 0 && !S_ISREG(st.st_mode))
			snprintf(out, size, "not a regular file");
		return;
	}
	if (stat(n->path, &st) != 0) {
		if (errno != ENOENT) {
			snprintf(out, size, "%s", strerror(errno));
			return;
		}
		if (creatable)
			return;
		anc = existing_ancestor(n->path, buf, sizeof(buf));
		if (access(anc, W_OK | X_OK) != 0)
			snprintf(out, size, "does not exist, and %.300s cannot "
			    "be written to create it", anc);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(out, size, "not a directory");
		return;
	}
	if (access(n->path, W_OK | X_OK) != 0)
		snprintf(out, size, "not writable: %s", strerror(errno));
}

static const char *
who(const char *user, const char *group, char *buf, size_t size)
{
	if (user != NULL && user[0] != '\0')
		snprintf(buf, size, "user %s", user);
	else if (group != NULL && group[0] != '\0')
		snprintf(buf, size, "group %s", group);
	else
		snprintf(buf, size, "uid %ld", (long)geteuid());
	return buf;
}

static void
report(mps_config_errors_t *errs, const char *cfg_path,
    const mps_file_need_t *n, const char *as, const char *problem)
{
	mps_config_error(errs, cfg_path, n->line, "%s %s: %s for %s%s", n->why,
	    n->path, problem, as, n->kind == MPS_NEED_READ ?
	    " (make it readable by that user, e.g. root:GROUP mode 0640)" :
	    " (give that directory to the user, e.g. chown USER)");
}

/* In the child: one line per problem, "index\tproblem\n". */
static void
child_checks(int fd, const apr_array_header_t *needs)
{
	char problem[512], line[600];
	int i, n;

	for (i = 0; i < needs->nelts; i++) {
		const mps_file_need_t *nd = &APR_ARRAY_IDX(needs, i,
		    mps_file_need_t);
		/* The parent was root: it makes missing directories. */
		check_one(nd, nd->created_if_missing, problem, sizeof(problem));
		if (problem[0] == '\0')
			continue;
		n = snprintf(line, sizeof(line), "%d\t%s\n", i, problem);
		if (n > 0 && write(fd, line, (size_t)n) != n)
			_exit(3);
	}
}

int
mps_file_needs_check(const apr_array_header_t *needs, const char *user,
    const char *group, const char *cfg_path, mps_config_errors_t *errs)
{
	int dropping = geteuid() == 0 &&
	    ((user != NULL && user[0] != '\0') ||
	    (group != NULL && group[0] != '\0'));
	char as[128], problem[512];
	int found = 0, i, p[2], status;
	pid_t pid;
	FILE *in;

	who(user, group, as, sizeof(as));
	if (!dropping) {
		for (i = 0; i < needs->nelts; i++) {
			const mps_file_need_t *n = &APR_ARRAY_IDX(needs, i,
			    mps_file_need_t);
			check_one(n, geteuid() == 0 && n->created_if_missing,
			    problem, sizeof(problem));
			if (problem[0] != '\0') {
				report(errs, cfg_path, n, as, problem);
				found++;
			}
		}
		return found;
	}

	if (pipe(p) != 0) {
		mps_config_error(errs, cfg_path, 0, "cannot check files as %s: "
		    "pipe: %s", as, strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		mps_config_error(errs, cfg_path, 0, "cannot check files as %s: "
		    "fork: %s", as, strerror(errno));
		close(p[0]);
		close(p[1]);
		return 1;
	}
	if (pid == 0) {
		char err[256];
		close(p[0]);
		if (mps_drop_privileges(user, group, err, sizeof(err)) !=
		    APR_SUCCESS) {
			dprintf(p[1], "-1\t%s\n", err);
			_exit(2);
		}
		child_checks(p[1], needs);
		_exit(0);
	}
	close(p[1]);
	in = fdopen(p[0], "r");
	if (in != NULL) {
		char line[700];
		while (fgets(line, sizeof(line), in) != NULL) {
			char *tab = strchr(line, '\t'), *nl;
			long idx;
			if (tab == NULL)
				continue;
			*tab = '\0';
			if ((nl = strchr(tab + 1, '\n')) != NULL)
				*nl = '\0';
			idx = strtol(line, NULL, 10);
			if (idx < 0 || idx >= needs->nelts) {
				mps_config_error(errs, cfg_path, 0, "cannot check "
				    "files as %s: %s", as, tab + 1);
			} else {
				report(errs, cfg_path, &APR_ARRAY_IDX(needs, idx,
				    mps_file_need_t), as, tab + 1);
			}
			found++;
		}
		fclose(in);
	} else {
		close(p[0]);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (found == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		mps_config_error(errs, cfg_path, 0, "cannot check files as %s: "
		    "the checking process failed", as);
		found++;
	}
	return found;
}
