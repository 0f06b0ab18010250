/* SPDX-License-Identifier: Apache-2.0 */
/* soap_test_util.c: see soap_test_util.h. */
#include "unit.h"
#include "soap_test_util.h"

#include <apr_strings.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static apr_pool_t *pool;
static char tmpdir[64];

void
stu_begin(apr_pool_t *p, const char *tag)
{
	int n;

	pool = p;
	n = snprintf(tmpdir, sizeof(tmpdir), "/tmp/mps-test-%s-XXXXXX", tag);
	ck_assert(n > 0 && (size_t)n < sizeof(tmpdir));
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
stu_end(void)
{
	if (tmpdir[0] != '\0')
		(void)nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
	pool = NULL;
}

const char *
stu_tmpdir(void)
{
	return tmpdir;
}

const char *
stu_path(const char *name)
{
	return apr_pstrcat(pool, tmpdir, "/", name, NULL);
}

int
stu_run(const char *const *argv)
{
	const char *log = stu_path("cmd.log");
	pid_t pid;
	int status, fd;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			(void)dup2(fd, 1);
			(void)dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void
stu_certgen(const char *dir, const char *cn, const char *san,
    const char *device)
{
	const char *argv[12];
	int n = 0;

	argv[n++] = apr_pstrcat(pool, unit_srcdir(), "/scripts/mps-certgen",
	    NULL);
	argv[n++] = "-q";
	argv[n++] = "-o";
	argv[n++] = dir;
	argv[n++] = "--cn";
	argv[n++] = cn;
	argv[n++] = "--san";
	argv[n++] = san;
	if (device != NULL) {
		argv[n++] = "--device";
		argv[n++] = device;
	}
	argv[n] = NULL;
	ck_assert_msg(stu_run(argv) == 0, "mps-certgen failed: see %s/cmd.log",
	    tmpdir);
}

void
stu_copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	ck_assert_int_eq(fclose(in), 0);
	ck_assert_int_eq(fclose(out), 0);
}

/* Reads the peer's first line, its port, from fd. */
static unsigned
read_port(int fd, const char *name, const char *errlog)
{
	char line[32];
	struct pollfd pfd;
	ssize_t got = 0, r;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got < (ssize_t)sizeof(line) - 1 && memchr(line, '\n',
	    (size_t)got) == NULL) {
		ck_assert_msg(poll(&pfd, 1, 10000) == 1, "%s: no port", name);
		r = read(fd, line + got, sizeof(line) - 1 - (size_t)got);
		ck_assert_msg(r > 0, "%s died: see %s", name, errlog);
		got += r;
	}
	line[got] = '\0';
	return (unsigned)strtoul(line, NULL, 10);
}

void
stu_peer_start(struct stu_peer *s, const char *const *argv,
    const char *name, const char *errlog)
{
	int in[2], out[2], fd;

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		fd = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
		    (fd >= 0 && dup2(fd, 2) < 0))
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->stdin_fd = in[1];
	s->port = read_port(out[0], name, errlog);
	close(out[0]);
	ck_assert_uint_gt(s->port, 0);
}

void
stu_peer_stop(struct stu_peer *s)
{
	if (s->pid <= 0)
		return;
	(void)kill(s->pid, SIGTERM);
	(void)waitpid(s->pid, NULL, 0);
	close(s->stdin_fd);
	s->pid = 0;
}

unsigned
stu_unused_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

double
stu_now(void)
{
	struct timespec ts;

	ck_assert_int_eq(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
