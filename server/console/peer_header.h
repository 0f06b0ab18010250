/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_header.h: the instance-to-instance link's header and answer
 * (pure, no I/O; fuzzed by tests/fuzz/fuzz_peer_header.c).
 *
 * When a console asks instance A for a device that instance B holds, A
 * opens a mutually authenticated TLS link to B (peer_link.c) and sends,
 * as the first bytes inside TLS, the HEADER:
 *
 *   offset  size  field
 *   0       4     magic "MPSL"
 *   4       1     version, 1
 *   5       1     mode: 1 channel (SOCKS CONNECT, HTTP CONNECT: open a
 *                 channel to port, answer, then raw bytes both ways);
 *                 2 http (B runs its HTTP proxy front end on the bytes
 *                 that follow, starting with the console's request head)
 *   6       2     port, big-endian, 1..65535 (mode 1; 0 in mode 2)
 *   8       1     N, length of the device name, 1..255
 *   9       N     the device name the console gave (UUID or FQDN),
 *                 bytes 0x21..0x7e
 *   9+N     1     U, length of the console's login name, 0..63
 *   10+N    U     that name (for B's logs), bytes 0x20..0x7e
 *
 * (at most 328 bytes), and B answers with two bytes, the ANSWER:
 *
 *   0       1     version, 1
 *   1       1     result: 0 opened (mode 2: B's front end has the
 *                 connection), 1 no such device, 2 port refused,
 *                 3 device refused the channel, 4 too many channels,
 *                 5 no answer from the device in time, 6 internal error
 *
 * then raw bytes both ways. The results are console_priv.h's
 * open_result values, so A gives the console the same SOCKS or HTTP
 * reply as for a device of its own.
 */
#ifndef MPS_PEER_HEADER_H
#define MPS_PEER_HEADER_H

#include <apr_network_io.h>
#include <stddef.h>
#include <stdint.h>

#define MPS_PEER_MAGIC		"MPSL"
#define MPS_PEER_VERSION	1
#define MPS_PEER_MODE_CHANNEL	1
#define MPS_PEER_MODE_HTTP	2
#define MPS_PEER_NAME_MAX	255
#define MPS_PEER_USER_MAX	63
#define MPS_PEER_HEADER_MAX	(10 + MPS_PEER_NAME_MAX + MPS_PEER_USER_MAX)
#define MPS_PEER_ANSWER_LEN	2
#define MPS_PEER_RESULT_MAX	6	/* the last result code */

typedef struct mps_peer_header_t {
	unsigned mode;
	apr_port_t port;
	char name[MPS_PEER_NAME_MAX + 1];
	char user[MPS_PEER_USER_MAX + 1];
} mps_peer_header_t;

/*
 * Parses a header from p[0..n). Returns APR_SUCCESS (*used: its length),
 * MPS_NEED_MORE (a prefix of a header; *used 0) or MPS_ERR_MALFORMED.
 */
apr_status_t mps_peer_header_parse(const uint8_t *p, size_t n, size_t *used,
    mps_peer_header_t *h);

/* Writes h into out (MPS_PEER_HEADER_MAX bytes). Returns the length, or
 * 0 if h cannot be encoded (empty or over-long name, bad mode or bytes). */
size_t mps_peer_header_encode(const mps_peer_header_t *h, uint8_t *out);

/* Parses an answer. Returns APR_SUCCESS (*result set), MPS_NEED_MORE or
 * MPS_ERR_MALFORMED. */
apr_status_t mps_peer_answer_parse(const uint8_t *p, size_t n,
    unsigned *result);

/* Writes the answer into out (MPS_PEER_ANSWER_LEN bytes). */
void mps_peer_answer_encode(unsigned result, uint8_t *out);

#endif
