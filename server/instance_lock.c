/* SPDX-License-Identifier: Apache-2.0 */
/* instance_lock.c: see instance_lock.h. */
#include "instance_lock.h"
#include "daemon.h"
#include "mps_status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

apr_status_t
mps_instance_lock_acquire(const char *path, int *fd, char *err,
    size_t errsize)
{
	int lfd;

	*fd = -1;
	if (mps_mkdir_parents(path) != 0) {
		int e = errno;
		snprintf(err, errsize, "cannot create the directory of %s: %s",
		    path, strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (lfd < 0) {
		int e = errno;
		snprintf(err, errsize, "cannot open lock file %s: %s", path,
		    strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	while (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		close(lfd);
		if (e == EWOULDBLOCK) {
			snprintf(err, errsize, "lock file %s is held by another mpsd",
			    path);
			return MPS_ERR_ALREADY_RUNNING;
		}
		snprintf(err, errsize, "cannot lock %s: %s", path, strerror(e));
		return APR_FROM_OS_ERROR(e);
	}
	*fd = lfd;
	return APR_SUCCESS;
}

void
mps_instance_lock_release(int fd)
{
	if (fd >= 0) {
		(void)flock(fd, LOCK_UN);
		close(fd);
	}
}
