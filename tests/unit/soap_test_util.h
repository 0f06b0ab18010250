/* SPDX-License-Identifier: Apache-2.0 */
/*
 * soap_test_util.h: what the SOAP plugins' tests (test_soap_auth,
 * test_soap_notify) share: a scratch directory per test case, running
 * helper programs (scripts/mps-certgen), and starting the test peers
 * they talk to (a SOAP service, a notification subscriber), which print
 * the port the system gave them and stop when their stdin closes.
 *
 * Every function asserts (Check) rather than returning an error.
 */
#ifndef MPS_SOAP_TEST_UTIL_H
#define MPS_SOAP_TEST_UTIL_H

#include <sys/types.h>

#include <apr_pools.h>

/* A test peer started by stu_peer_start. */
struct stu_peer {
	pid_t pid;
	int stdin_fd;		/* closing it stops the peer too */
	unsigned port;		/* where it listens, on 127.0.0.1 */
};

/*
 * Makes the scratch directory /tmp/mps-test-<tag>-XXXXXX; paths and
 * texts below are allocated from pool, which must outlive stu_end().
 */
void stu_begin(apr_pool_t *pool, const char *tag);

/* Removes the scratch directory and all in it. */
void stu_end(void);

/* The scratch directory, and name inside it. */
const char *stu_tmpdir(void);
const char *stu_path(const char *name);

/* Runs argv (argv[0] looked up in PATH), its output appended to the
 * scratch directory's cmd.log; returns its exit status, or -1. */
int stu_run(const char *const *argv);

/* scripts/mps-certgen: a CA and a server certificate for cn and san in
 * dir, plus a client certificate for device unless it is NULL. */
void stu_certgen(const char *dir, const char *cn, const char *san,
    const char *device);

void stu_copy_file(const char *from, const char *to);

/*
 * Starts argv as a peer (name says which in messages), its stderr in
 * errlog, and waits for the port it prints on its first line.
 */
void stu_peer_start(struct stu_peer *s, const char *const *argv,
    const char *name, const char *errlog);

/* Stops a started peer (SIGTERM) and reaps it; again is harmless. */
void stu_peer_stop(struct stu_peer *s);

/* A port nothing listens on (bound, read back, closed). */
unsigned stu_unused_port(void);

/* Seconds on the monotonic clock. */
double stu_now(void);

#endif /* MPS_SOAP_TEST_UTIL_H */
