/* SPDX-License-Identifier: Apache-2.0 */
/*
 * instance_lock.h: one mpsd per machine (guide section 9).
 *
 * An exclusive flock(2) on LockFile, held for the life of the process.
 * Unlike a pid-file check it cannot race and cannot go stale: the kernel
 * drops the lock when the process dies, however it dies. The descriptor
 * survives daemonizing (the child inherits the locked file description).
 */
#ifndef MPS_INSTANCE_LOCK_H
#define MPS_INSTANCE_LOCK_H

#include <apr_errno.h>
#include <stddef.h>

/*
 * Creates the file (and its directory, mode 0755) if needed and locks it.
 * Returns APR_SUCCESS with *fd set, MPS_ERR_ALREADY_RUNNING when another
 * process holds it, or the OS error (with a message in err).
 */
apr_status_t mps_instance_lock_acquire(const char *path, int *fd,
    char *err, size_t errsize);

/* Unlocks and closes (the file stays, so that its inode never changes
 * under a waiting locker). */
void mps_instance_lock_release(int fd);

#endif
