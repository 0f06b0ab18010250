/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_header.h: the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a TCP balancer sends first on a connection it
 * forwards, naming the client's real address.
 *
 * Pure and bounds-checked: no I/O, no allocation. The parser works on the
 * bytes received so far and is called again with more; it never reads
 * past n, and it tells the caller exactly how long the header is, so the
 * bytes after it (the TLS ClientHello, or APF in plain mode) stay in the
 * socket for the next layer. Fuzzed by tests/fuzz/fuzz_proxy_header.c.
 *
 * What is accepted:
 *   v1: "PROXY TCP4 <src> <dst> <sport> <dport>\r\n", TCP6 likewise, or
 *       "PROXY UNKNOWN<anything>\r\n"; at most 107 bytes with the CRLF
 *       (the spec's bound). Addresses must be literals of their family,
 *       ports 0-65535 in decimal, single spaces.
 *   v2: the 12-byte signature, version 2, command LOCAL or PROXY, family
 *       and transport, a big-endian length, then the address block and
 *       TLVs. The whole header may be at most MPS_PROXY_MAX bytes (the
 *       spec's 16 + 216 address bytes leave room for a few TLVs; a longer
 *       header is refused, so a connection costs at most this much). TLVs
 *       are walked for consistency (each one inside the block) and
 *       otherwise ignored.
 *
 * "local" in the result means the header names no client: v2 LOCAL (what
 * HAProxy sends on its health checks), v1 UNKNOWN, or a v2 PROXY of
 * family UNSPEC or UNIX. The spec says to use the connection's own
 * addresses then.
 */
#ifndef MPS_PROXY_HEADER_H
#define MPS_PROXY_HEADER_H

#include <stddef.h>
#include <stdint.h>

/* v1: the longest line, CRLF included (proxy-protocol.txt 2.1). */
#define MPS_PROXY_V1_MAX 107
/* v2: the fixed part (signature, version/command, family, length). */
#define MPS_PROXY_V2_FIXED 16
/* The longest header accepted, either version. */
#define MPS_PROXY_MAX 536

/* The text of an address: INET6_ADDRSTRLEN. */
#define MPS_PROXY_IP_SIZE 46

typedef struct mps_proxy_info_t {
	int version;			/* 1 or 2 */
	int local;			/* no client named: use the connection's */
	int family;			/* AF_INET or AF_INET6; AF_UNSPEC if local */
	char src_ip[MPS_PROXY_IP_SIZE];	/* the client (the device) */
	char dst_ip[MPS_PROXY_IP_SIZE];	/* the address it connected to */
	uint16_t src_port, dst_port;
	unsigned tlvs;			/* v2 TLVs seen (and ignored) */
} mps_proxy_info_t;

typedef enum {
	MPS_PROXY_DONE,		/* a whole header: *used is its length */
	MPS_PROXY_MORE,		/* a valid beginning; every byte is header */
	MPS_PROXY_BAD		/* not a PROXY header, or a malformed one */
} mps_proxy_rc_t;

/*
 * Parses the header at the start of p[0..n).
 *   DONE: *used is the header's length (<= n), info is filled.
 *   MORE: p[0..n) is a valid beginning of a header and all of it belongs
 *         to the header (*used = n): the caller may consume it and call
 *         again with more.
 *   BAD:  *why (a static string) says what is wrong; info is undefined.
 * info, used and why may not be NULL.
 */
mps_proxy_rc_t mps_proxy_parse(const unsigned char *p, size_t n,
    mps_proxy_info_t *info, size_t *used, const char **why);

/*
 * Whether p[0..n) (n >= 1) begins like a PROXY header of either version,
 * as far as n bytes tell: used to refuse a header from an address that
 * is not trusted to send one. Neither TLS (0x16) nor APF (0xC0) starts
 * like one, so a single byte usually decides.
 */
int mps_proxy_looks_like(const unsigned char *p, size_t n);

#endif /* MPS_PROXY_HEADER_H */
