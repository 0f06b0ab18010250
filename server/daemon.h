/* SPDX-License-Identifier: Apache-2.0 */
/*
 * daemon.h: leaving the terminal, the pid file, dropping root.
 *
 * mps_daemonize() forks once the configuration, log and plugins are known
 * to be good, so that "mpsd" from a shell reports a start-up failure in
 * its exit status: the parent waits on a pipe until the daemon says it is
 * ready (exit 0) or failed (exit 1), or dies (exit 1).
 */
#ifndef MPS_DAEMON_H
#define MPS_DAEMON_H

#include <apr_errno.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Detaches: fork, setsid, fork again, stdin/stdout/stderr to /dev/null.
 * Returns in the daemon only, with *ready_fd to pass to
 * mps_daemon_ready(). The original process waits for that and exits.
 * Must be called before any thread is created.
 */
apr_status_t mps_daemonize(int *ready_fd, char *err, size_t errsize);

/* Tells the waiting parent the outcome (0 = running) and closes the fd.
 * No-op for fd < 0. */
void mps_daemon_ready(int ready_fd, int exit_status);

/* Writes getpid() to path (via a temporary file and rename, so a reader
 * never sees a half-written file). */
apr_status_t mps_pidfile_write(const char *path, char *err, size_t errsize);

/* Removes path if it still holds our pid. 0 (also when it is gone or
 * holds another pid) or -1 with errno (after the drop: the directory is
 * not the user's; mpsd -t reports that in advance). */
int mps_pidfile_remove(const char *path);

/*
 * Switches to user/group (either may be NULL; group defaults to the
 * user's primary group), dropping supplementary groups. A no-op when not
 * root and nothing is asked. Fails if the switch cannot be verified.
 */
apr_status_t mps_drop_privileges(const char *user, const char *group,
    char *err, size_t errsize);

/* Looks the user and group up without switching (for mpsd -t and to
 * hand files over before the switch). (uid_t)-1 / (gid_t)-1 mean "unchanged". */
apr_status_t mps_lookup_identity(const char *user, const char *group,
    uid_t *uid, gid_t *gid, char *err, size_t errsize);

/* mkdir -p of the directory part of a file path (mode 0755). 0 or -1
 * with errno. */
int mps_mkdir_parents(const char *file_path);

/*
 * Makes dir (and its parents) if it is missing: dir gets mode and, when
 * running as root, the owner uid/gid ((uid_t)-1 / (gid_t)-1: unchanged),
 * so that mpsd can still write there once it has dropped root. An
 * existing directory is left alone (the admin's choice; mpsd -t says
 * when the user cannot write to it). 0 or -1 with errno.
 */
int mps_prepare_dir(const char *dir, uid_t uid, gid_t gid, mode_t mode);

/*
 * As root, gives the existing regular file path to uid/gid (the log file
 * opened before the drop, which SIGHUP reopens by name afterwards).
 * Refuses links. 0 (also when path is missing or nothing to do) or -1.
 */
int mps_hand_over_file(const char *path, uid_t uid, gid_t gid);

#endif
