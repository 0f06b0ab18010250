/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admission.h: the budget of connections that have not authenticated yet
 * (pre-auth), shared by the three listeners.
 *
 * Every accepted connection, device or console, starts as pre-auth: a
 * TLS handshake and an APF login on the AMT port, a greeting, a login and
 * a request on the SOCKS and HTTP ports. Such a connection has proved
 * nothing, so it may not take a slot of the authenticated budgets
 * (MaxConnections for devices, MaxConsoles for consoles). It takes a
 * slot here instead, until it authenticates or goes. That is what keeps
 * a flood of idle sockets from refusing real devices and consoles: the
 * flood can at worst fill this budget, never the other two, and an
 * authenticated tunnel is never evicted or refused because of it.
 *
 * Three checks at accept, cheapest first, before any byte is read or any
 * TLS work is done (the refused socket is just closed):
 *   - per address (unless the peer is a TLS terminator, whose address is
 *     every device's): at most per_address pre-auth connections from one IPv4
 *     address or one IPv6 /64 (an attacker gets a /64 as easily as one
 *     address; nginx's limit_conn and HAProxy's stick tables key on the
 *     address the same way). A trusted balancer's connection
 *     (AMTProxyProtocol) is checked again when its PROXY header names the
 *     device: mps_admission_move;
 *   - full: at most max pre-auth connections in all;
 *   - early random drop, OpenSSH's MaxStartups start:rate:full: from
 *     drop_start connections on, a new one is refused with probability
 *     drop_rate %, rising linearly to 100 %. Unlike OpenSSH, an address
 *     that holds no pre-auth connection yet is spared, and the others
 *     meet 100 % an eighth of the way (max - drop_start) / 8 before max:
 *     a flood from addresses that each hold some can never take that
 *     last stretch, so a device or console arriving from elsewhere
 *     always finds a slot. Only a flood holding one connection per
 *     address from hundreds of addresses can fill the budget, and then
 *     the total refuses everyone new (never the authenticated).
 *
 * Each refusal is counted in the metrics (mpsd_preauth_refused_total) and
 * logged as one WARNING per reason per MPS_ADMISSION_LOG_INTERVAL, with
 * the number of refusals the interval swallowed: a flood cannot flood the
 * log.
 *
 * Thread-safe: the listeners accept on their own strands, which may run
 * on different workers at once. One short mutex section per accept and
 * per leave; nothing in it blocks, and it never runs on the poller.
 *
 * Memory is fixed at creation: the address table has twice as many slots
 * as the budget has connections, and an address is in it only while it
 * holds one, so no sequence of addresses makes it grow.
 */
#ifndef MPS_ADMISSION_H
#define MPS_ADMISSION_H

#include <apr_time.h>
#include <stdatomic.h>

/* One WARNING per refusal reason at most this often. */
#define MPS_ADMISSION_LOG_INTERVAL apr_time_from_sec(10)

typedef struct mps_admission_t mps_admission_t;

typedef struct mps_admission_limits_t {
	unsigned max;		/* MaxPreAuthConnections */
	unsigned per_address;	/* MaxPreAuthPerAddress */
	unsigned drop_start;	/* PreAuthDropStart; >= max: no early drop */
	unsigned drop_rate;	/* PreAuthDropRate, percent 0-100 */
} mps_admission_limits_t;

typedef enum {
	MPS_ADMIT_OK = 0,
	MPS_ADMIT_ADDRESS,	/* MaxPreAuthPerAddress reached for this address */
	MPS_ADMIT_FULL,		/* MaxPreAuthConnections reached */
	MPS_ADMIT_DROPPED	/* early random drop (PreAuthDropStart) */
} mps_admit_t;

/* NULL when out of memory. limits is copied. */
mps_admission_t *mps_admission_create(const mps_admission_limits_t *limits);
void mps_admission_destroy(mps_admission_t *a);

/*
 * Asks for a pre-auth slot for a connection from ip (text, without port,
 * as mps_peer_split gives it). On MPS_ADMIT_OK the caller holds a slot and
 * must give it back with mps_admission_leave(a, ip, flags) exactly once. On a
 * refusal it holds nothing; the refusal is already counted and (rate-
 * limited) logged, naming what ("AMT", "SOCKS", "HTTP") and ip. An ip
 * that does not parse is keyed by its text.
 */
mps_admit_t mps_admission_enter(mps_admission_t *a, const char *ip,
    const char *what, unsigned flags);

/* flags: the per-address limit does not apply, because ip is not the
 * client's (the AMT port in Mode plain sees the TLS terminator's address
 * for every device). The connection counts in the total only, not for
 * its address: the terminator's devices do not crowd out consoles that
 * come from the same host. */
#define MPS_ADMIT_ANY_ADDRESS 1u

/* Gives back the slot of a connection from ip, entered with flags. */
void mps_admission_leave(mps_admission_t *a, const char *ip,
    unsigned flags);

/*
 * Moves a held slot from the address it was entered with to to_ip, the
 * client's real address once a PROXY header has named it (the slot was
 * entered under the balancer's address with MPS_ADMIT_ANY_ADDRESS). The
 * total is unchanged. If to_ip already holds MaxPreAuthPerAddress slots
 * the move is refused (MPS_ADMIT_ADDRESS, counted and logged naming
 * to_ip) and the slot is given back entirely: the caller holds nothing
 * and closes the connection.
 */
mps_admit_t mps_admission_move(mps_admission_t *a, const char *from_ip,
    unsigned from_flags, const char *to_ip, unsigned to_flags,
    const char *what);

/* Pre-auth connections held now, in all and from ip's address (tests,
 * status). */
unsigned mps_admission_count(mps_admission_t *a);
unsigned mps_admission_count_address(mps_admission_t *a, const char *ip);

/* Reseeds the random drop (tests: a reproducible sequence). */
void mps_admission_seed(mps_admission_t *a, unsigned long long seed);

/*
 * A rate-limited log line, lock-free: one line per interval, the rest
 * counted. Zero-initialise (static or calloc).
 */
typedef struct mps_ratelog_t {
	atomic_llong last;		/* apr_time_t of the last line; 0 never */
	atomic_ulong missed;		/* events not logged since */
} mps_ratelog_t;

/* Returns 1 when the caller should log now, with *missed the events
 * swallowed since the previous line; 0 when it should stay silent (the
 * event is counted for the next line). */
int mps_ratelog_allow(mps_ratelog_t *r, apr_time_t now,
    apr_interval_time_t interval, unsigned long *missed);

#endif /* MPS_ADMISSION_H */
