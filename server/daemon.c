/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.c: see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int
redirect_std_to_null(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return -1;
	if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
	    dup2(fd, STDERR_FILENO) < 0) {
		close(fd);
		return -1;
	}
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

/* The original process: wait for the daemon's verdict. */
static void
wait_for_daemon(int rfd, pid_t child)
{
	unsigned char status = 1;
	ssize_t n;

	do {
		n = read(rfd, &status, 1);
	} while (n < 0 && errno == EINTR);
	/* EOF without a byte: the daemon died before it was ready. */
	if (n != 1)
		status = 1;
	/* Reap the intermediate child (it exits right after its fork). */
	(void)waitpid(child, NULL, 0);
	_exit(status);
}

apr_status_t
mps_daemonize(int *ready_fd, char *err, size_t errsize)
{
	int p[2];
	pid_t pid;

	*ready_fd = -1;
	if (pipe(p) != 0) {
		snprintf(err, errsize, "pipe: %s", strerror(errno));
		return APR_FROM_OS_ERROR(errno);
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		snprintf(err, errsize, "fork: %s", strerror(e));
		close(p[0]);
		close(p[1]);
		return APR_FROM_OS_ERROR(e);
	}
	if (pid > 0) {
		close(p[1]);
		wait_for_daemon(p[0], pid);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	/* Fork again so that the daemon is not a session leader and can
	 * never acquire a controlling terminal. */
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	umask(027);
	if (redirect_std_to_null() != 0)
		_exit(1);
	(void)fcntl(p[1], F_SETFD, FD_CLOEXEC);
	*ready_fd = p[1];
	return APR_SUCCESS;
}

void
mps_daemon_ready(int ready_fd, int exit_status)
{
	unsigned char b = (unsigned char)exit_status;
	ssize_t n;

	if (ready_fd < 0)
		return;
	do {
		n = write(ready_fd, &b, 1);
	} while (n < 0 && errno == EINTR);
	close(ready_fd);
}

int
mps_mkdir_parents(const char *file_path)
{
	char buf[PATH_MAX];
	char *slash, *p;
	size_t len = strlen(file_path);

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, file_path, len + 1);
	slash = strrchr(buf, '/');
	if (slash == NULL || slash == buf)
		return 0;
	*slash = '\0';
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

apr_status_t
mps_pidfile_write(const char *path, char *err, size_t errsize)
{
	char tmp[PATH_MAX];
	char line[32];
	int fd, n, e;

	if (mps_mkdir_parents(path) != 0) {
		e = errno;
		snprintf(err, errsize, "cannot create the directory of %s: %s",
		    path, strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errsize, "pid file name too long: %s", path);
		return APR_FROM_OS_ERROR(ENAMETOOLONG);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		e = errno;
		snprintf(err, errsize, "cannot write pid file %s: %s", tmp,
		    strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n || fsync(fd) != 0 || close(fd) != 0) {
		e = errno;
		unlink(tmp);
		snprintf(err, errsize, "cannot write pid file %s: %s", tmp,
		    strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	if (rename(tmp, path) != 0) {
		e = errno;
		unlink(tmp);
		snprintf(err, errsize, "cannot rename %s to %s: %s", tmp, path,
		    strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	return APR_SUCCESS;
}

int
mps_pidfile_remove(const char *path)
{
	char line[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	line[n] = '\0';
	/* Another mpsd may have replaced the file since (it would only
	 * start once our lock is gone, but be exact anyway). */
	if (strtol(line, NULL, 10) == (long)getpid())
		return unlink(path);
	return 0;
}

apr_status_t
mps_lookup_identity(const char *user, const char *group, uid_t *uid,
    gid_t *gid, char *err, size_t errsize)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (user != NULL && user[0] != '\0') {
		struct passwd *pw = getpwnam(user);
		if (pw == NULL) {
			snprintf(err, errsize, "unknown user \"%s\"", user);
			return APR_EINVAL;
		}
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	}
	if (group != NULL && group[0] != '\0') {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			snprintf(err, errsize, "unknown group \"%s\"", group);
			return APR_EINVAL;
		}
		*gid = gr->gr_gid;
	}
	return APR_SUCCESS;
}

apr_status_t
mps_drop_privileges(const char *user, const char *group, char *err,
    size_t errsize)
{
	uid_t uid;
	gid_t gid;
	apr_status_t rv;

	rv = mps_lookup_identity(user, group, &uid, &gid, err, errsize);
	if (rv != APR_SUCCESS)
		return rv;
	if (uid == (uid_t)-1 && gid == (gid_t)-1)
		return APR_SUCCESS;
	/* Already that user (systemd's User=, say): nothing to switch. */
	if ((uid == (uid_t)-1 || uid == geteuid()) &&
	    (gid == (gid_t)-1 || gid == getegid()) && geteuid() != 0)
		return APR_SUCCESS;
	if (geteuid() != 0) {
		snprintf(err, errsize,
		    "User/Group given but mpsd is not running as root");
		return APR_FROM_OS_ERROR(EPERM);
	}
	/* Order matters: groups first, while we still may change them. */
	if (gid != (gid_t)-1) {
		if (setgroups(1, &gid) != 0 || setgid(gid) != 0) {
			snprintf(err, errsize, "cannot switch to group %ld: %s",
			    (long)gid, strerror(errno));
			return APR_FROM_OS_ERROR(errno);
		}
	}
	if (uid != (uid_t)-1) {
		if (setuid(uid) != 0) {
			snprintf(err, errsize, "cannot switch to user %ld: %s",
			    (long)uid, strerror(errno));
			return APR_FROM_OS_ERROR(errno);
		}
		/* Paranoia: regaining root must now be impossible. */
		if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
			snprintf(err, errsize, "privileges could be regained after setuid");
			return APR_FROM_OS_ERROR(EPERM);
		}
	}
	return APR_SUCCESS;
}

int
mps_prepare_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;
	char probe[PATH_MAX];

	if (stat(dir, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* mps_mkdir_parents makes the parents of a file: name one inside. */
	if (snprintf(probe, sizeof(probe), "%s/x", dir) >= (int)sizeof(probe)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mps_mkdir_parents(probe) != 0)
		return -1;
	if (chmod(dir, mode) != 0)
		return -1;
	if (geteuid() == 0 && (uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    chown(dir, uid, gid) != 0)
		return -1;
	return 0;
}

int
mps_hand_over_file(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	int fd, rc = 0;

	if (geteuid() != 0 || (uid == (uid_t)-1 && gid == (gid_t)-1))
		return 0;
	/* O_NOFOLLOW and a regular single-link file: root must not be led
	 * into giving away another file through a link planted in a
	 * directory the user can write to. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	if ((uid != (uid_t)-1 && st.st_uid != uid) ||
	    (gid != (gid_t)-1 && st.st_gid != gid))
		rc = fchown(fd, uid, gid);
	close(fd);
	return rc;
}
