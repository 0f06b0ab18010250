/* SPDX-License-Identifier: Apache-2.0 */
/*
 * registry.h: the devices connected to this mpsd, by UUID and by FQDN.
 *
 * An entry (mps_device_t) describes one authenticated device tunnel: its
 * UUID (the 36-character lower-case text of the PROTOCOLVERSION GUID, see
 * mps_apf_uuid_to_text()), the FQDN it forwards under (the address string
 * of its tcpip-forward requests; may stay empty, and then the device is
 * reachable by UUID only), its forwarded ports, its peer address, trigger
 * reason, connect time and byte counters, and the session and strand of
 * the tunnel so that console code can post work to the device's world.
 *
 * Reconnects (APF.md): NEWEST WINS. A device that authenticates again
 * under the same UUID takes the old entry's place, and the old tunnel's
 * late close must not remove the new registration (Open AMT issue #441).
 * So mps_registry_unregister() removes an entry only while that very
 * entry (pointer identity) still holds its UUID and FQDN slots.
 *
 * Lifetimes. Entries are reference-counted. mps_device_create() returns
 * one reference to its caller (the APF session); the registry holds one
 * more while the entry is registered; every lookup or snapshot hands out
 * another, which its caller gives back with mps_device_release(). When the
 * last reference goes, on_free(session) runs (on the releasing thread,
 * with no registry lock held) and the entry is freed. A session that must
 * be torn down on its own strand (strand.h's lifetime rule) therefore
 * posts that work from on_free, or simply keeps its own reference until
 * it is done and lets on_free do nothing but bookkeeping.
 *
 * Entries are malloc'd, not pool-allocated, because idle tunnels dominate
 * memory: an entry is one allocation of about 150 bytes plus its peer
 * text, and one more for its FQDN.
 *
 * Thread-safety. Every function here may be called from any thread. The
 * registry has one reader/writer lock over both indexes and over the
 * mutable fields of registered entries (FQDN, ports); lookups take it
 * shared. The byte counters are atomics that the device's strand updates
 * without any lock. An entry's UUID, peer, trigger, connect time, session
 * and strand never change after creation. Once an entry leaves the
 * registry (unregistered or replaced) its FQDN and ports are frozen.
 *
 * A shared backend (ARCHITECTURE.md, "Where one machine is not enough")
 * would sit behind these same calls: register, add_forward and unregister
 * are the only writers, so they are where an instance would publish
 * "this device's tunnel is here" to the shared store, and a lookup miss is
 * where it would ask the store which instance holds the device. Callers
 * use names (UUID or FQDN) and opaque entries only, never the indexes.
 */
#ifndef MPS_REGISTRY_H
#define MPS_REGISTRY_H

#include <apr_errno.h>
#include <apr_network_io.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "strand.h"

/* AMT forwards at most about 8 ports; a tunnel may hold up to this many. */
#define MPS_REGISTRY_MAX_PORTS		16
/* Longest FQDN (a DNS name is at most 253 characters) and a buffer for it. */
#define MPS_REGISTRY_FQDN_MAX		255
#define MPS_REGISTRY_FQDN_SIZE		(MPS_REGISTRY_FQDN_MAX + 1)
/* Longest peer text: "[IPv6%scope]:port" fits with room to spare. */
#define MPS_REGISTRY_PEER_MAX		127
/* The UUID text: 36 characters and the NUL. */
#define MPS_REGISTRY_UUID_SIZE		37
/* A device's name in the log, "fqdn (uuid)": always fits in this. */
#define MPS_DEVICE_LOG_NAME_SIZE	\
	(MPS_REGISTRY_FQDN_SIZE + MPS_REGISTRY_UUID_SIZE + 3)

typedef struct mps_registry_t mps_registry_t;
typedef struct mps_device_t mps_device_t;

/* Called with the entry's session when its last reference goes. */
typedef void (*mps_device_free_fn)(void *session);

/* ---- Entries ---- */

/*
 * Creates an unregistered entry holding one reference for the caller.
 * uuid_text: 36 characters, hex digits of either case with dashes in
 * their places (stored lower case). peer: "ip:port" text of the tunnel's
 * remote end (NULL means unknown, stored as ""). The connect time is the
 * moment of creation. on_free may be NULL.
 * Returns APR_SUCCESS, APR_EINVAL (uuid_text or out NULL),
 * MPS_ERR_MALFORMED (not a UUID), MPS_ERR_TOO_LARGE (peer longer than
 * MPS_REGISTRY_PEER_MAX) or APR_ENOMEM; *out is NULL on failure.
 */
apr_status_t mps_device_create(const char *uuid_text, const char *peer,
    apr_uint32_t trigger, void *session, mps_strand_t *strand,
    mps_device_free_fn on_free, mps_device_t **out);

/* Adds a reference (for example, to hand the entry to another thread). */
void mps_device_retain(mps_device_t *dev);

/* Drops a reference; the last one runs on_free(session) and frees the
 * entry. dev may be NULL. */
void mps_device_release(mps_device_t *dev);

/* The lower-case UUID text; valid while the caller holds a reference. */
const char *mps_device_uuid(const mps_device_t *dev);

/* The peer text given at creation; valid while a reference is held. */
const char *mps_device_peer(const mps_device_t *dev);

apr_uint32_t mps_device_trigger(const mps_device_t *dev);
apr_time_t mps_device_connected_at(const mps_device_t *dev);
void *mps_device_session(const mps_device_t *dev);
mps_strand_t *mps_device_strand(const mps_device_t *dev);

/*
 * Copies the lower-case FQDN ("" when the device has none) into buf,
 * because it may change under the registry's lock at any moment.
 * Returns APR_SUCCESS, or APR_ENOSPC when it does not fit (then buf
 * holds "" if size > 0). A buffer of MPS_REGISTRY_FQDN_SIZE always fits.
 */
apr_status_t mps_device_fqdn(const mps_device_t *dev, char *buf,
    apr_size_t size);

/*
 * The one way the log names a device, so that an administrator can grep
 * for either the FQDN or the UUID and find every line of that device:
 * "fqdn (uuid)", or the bare UUID until the device announced an FQDN.
 * Returns buf. A buffer of MPS_DEVICE_LOG_NAME_SIZE always fits.
 */
const char *mps_device_log_name(const mps_device_t *dev, char *buf,
    apr_size_t size);

/* True if port is among the entry's forwarded ports. */
int mps_device_has_port(const mps_device_t *dev, apr_port_t port);

/*
 * Copies up to max forwarded ports, in the order they were forwarded,
 * into out and returns how many the entry has (which may exceed max).
 * An array of MPS_REGISTRY_MAX_PORTS always holds them all.
 */
apr_size_t mps_device_ports(const mps_device_t *dev, apr_port_t *out,
    apr_size_t max);

/* True while the entry is registered (not yet unregistered or replaced). */
int mps_device_is_registered(const mps_device_t *dev);

/* Byte counters: lock-free, callable from any thread. "In" is device to
 * mpsd, "out" is mpsd to device. */
void mps_device_add_bytes_in(mps_device_t *dev, apr_uint64_t n);
void mps_device_add_bytes_out(mps_device_t *dev, apr_uint64_t n);
apr_uint64_t mps_device_bytes_in(const mps_device_t *dev);
apr_uint64_t mps_device_bytes_out(const mps_device_t *dev);

/*
 * Channels the tunnel holds now (its channel table's size), published by
 * the device's strand after each change so that other threads (the admin
 * API) can read it; the process-wide mpsd_channels_open gauge moves with
 * it. dev may be NULL (nothing happens). Set 0 before the tunnel ends.
 */
void mps_device_set_channels(mps_device_t *dev, unsigned n);
unsigned mps_device_channels(const mps_device_t *dev);

/*
 * Bytes this entry asked malloc for (the entry with its peer text, and
 * its FQDN), not counting the allocator's overhead or the index slots:
 * for status pages and memory tests.
 */
apr_size_t mps_device_footprint(const mps_device_t *dev);

/* ---- The registry ---- */

/* Returns APR_SUCCESS, APR_EINVAL (reg NULL), or the error of creating
 * the lock or the registry's pool. */
apr_status_t mps_registry_create(mps_registry_t **reg);

/*
 * Releases the registry's reference to every registered entry and frees
 * the registry. Call it only when no other thread uses the registry any
 * more. Entries still referenced elsewhere stay valid (unregistered, with
 * their FQDN and ports frozen) until their last release.
 */
void mps_registry_destroy(mps_registry_t *reg);

/*
 * Registers dev (call it once the tunnel has authenticated); the registry
 * takes its own reference. NEWEST WINS: if another entry holds dev's
 * UUID, dev takes its place, and its FQDN index slot too when the old
 * entry held one (dev then carries that FQDN until a forward renames it).
 * The old entry leaves the registry and *replaced receives it with the
 * registry's reference, which the caller now owns: tell the old session
 * to disconnect, then mps_device_release() it. *replaced is NULL when
 * nothing was replaced. If replaced is NULL, the registry releases the
 * old entry itself.
 * Returns APR_SUCCESS, APR_EINVAL (an argument is NULL, or dev was
 * registered before: an entry registers at most once) or APR_ENOMEM
 * (nothing changed).
 */
apr_status_t mps_registry_register(mps_registry_t *reg, mps_device_t *dev,
    mps_device_t **replaced);

/*
 * Removes dev if, and only if, dev itself is still the registered entry
 * for its UUID (and likewise frees its FQDN slot only if dev holds it),
 * then drops the registry's reference. Returns 1 if it removed dev, 0 if
 * dev was not registered (never registered, unregistered already, or
 * replaced by a newer tunnel, whose registration stays untouched).
 */
int mps_registry_unregister(mps_registry_t *reg, mps_device_t *dev);

/*
 * Records a tcpip-forward request of the registered dev: port joins its
 * port set (a port forwarded twice is recorded once). fqdn is the
 * request's address; NULL or "" leaves the entry's FQDN as it is.
 * Otherwise, when it differs (case-insensitively) from the entry's FQDN,
 * it becomes the entry's FQDN and is indexed; the old name, if dev held
 * its slot, is dropped. (AMT uses one name per tunnel; a later different
 * name is taken as a rename, so the latest request says how to reach the
 * device.) NEWEST WINS here too: if another registered entry holds the
 * name, dev takes the slot and, when displaced is not NULL, *displaced
 * receives that entry with a new reference (release it) so that the
 * caller can log the move; otherwise *displaced is NULL. The displaced
 * entry stays registered by UUID and keeps its FQDN text, without the
 * slot; forwarding the same name again does not take it back.
 * All or nothing: on failure nothing changes.
 * Returns APR_SUCCESS; APR_EINVAL (reg or dev NULL, or port 0);
 * MPS_ERR_TOO_LARGE (fqdn longer than MPS_REGISTRY_FQDN_MAX); APR_ENOSPC
 * (a new port, and MPS_REGISTRY_MAX_PORTS are forwarded already);
 * APR_NOTFOUND (dev is not registered: replaced, or gone); APR_ENOMEM.
 */
apr_status_t mps_registry_add_forward(mps_registry_t *reg, mps_device_t *dev,
    const char *fqdn, apr_port_t port, mps_device_t **displaced);

/*
 * Removes port from the registered dev's port set (cancel-tcpip-forward).
 * The FQDN stays. Returns APR_SUCCESS, APR_EINVAL, or APR_NOTFOUND (port
 * not forwarded, or dev not registered).
 */
apr_status_t mps_registry_remove_forward(mps_registry_t *reg,
    mps_device_t *dev, apr_port_t port);

/*
 * Finds a registered entry by name: a UUID text (either case) or an FQDN
 * (compared case-insensitively). A UUID-shaped name is tried as a UUID
 * first, then as an FQDN. On success *out holds a new reference (release
 * it). Returns APR_SUCCESS, APR_NOTFOUND (*out NULL) or APR_EINVAL.
 */
apr_status_t mps_registry_lookup(mps_registry_t *reg, const char *name,
    mps_device_t **out);

/* Number of registered entries. */
unsigned int mps_registry_count(mps_registry_t *reg);

/*
 * An array (allocated in pool) of every registered entry, as
 * mps_device_t * elements, each with a new reference: release them, for
 * instance with mps_registry_snapshot_release(). Unordered.
 * Returns APR_SUCCESS or APR_EINVAL.
 */
apr_status_t mps_registry_snapshot(mps_registry_t *reg,
    apr_array_header_t **out, apr_pool_t *pool);

/* Releases every entry of a snapshot and empties the array. */
void mps_registry_snapshot_release(apr_array_header_t *snapshot);

/*
 * Checks the registry's invariants (for tests and debugging): every UUID
 * slot holds a registered entry of that UUID, every FQDN slot an entry of
 * that FQDN which also holds its UUID slot, port sets are valid. Returns
 * APR_SUCCESS, or APR_EGENERAL with a description in why (if not NULL).
 */
apr_status_t mps_registry_verify(mps_registry_t *reg, char *why,
    apr_size_t whysize);

/* Text helpers the device directory shares (directory.c): whether text
 * is a UUID (36 characters, 8-4-4-4-12 hex digits of either case), and a
 * copy of len bytes lowered to ASCII lower case, NUL-terminated. */
int mps_registry_uuid_shaped(const char *text);
void mps_registry_lower_copy(char *dst, const char *src, apr_size_t len);

#endif /* MPS_REGISTRY_H */
