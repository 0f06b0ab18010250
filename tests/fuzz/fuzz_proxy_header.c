/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_proxy_header.c: the PROXY protocol parser (server/net/proxy_header.c)
 * under a fuzzer. The input is what a trusted balancer sends first on the
 * AMT port.
 *
 * Beyond "no crash": no call claims more than it was given; MORE claims
 * every byte it was given (so the session, which takes what MORE claims
 * from the socket, never stalls on a readable socket); fed one byte more
 * at a time, the parse says MORE until the header's end and then the
 * same as the whole input (the verdict never depends on the bytes after
 * the header, which belong to TLS); a header is never longer than its
 * version's bound; an accepted client address is a literal of its family
 * (it becomes the peer in logs and the admission key).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_one(const uint8_t *data, size_t n, mps_proxy_rc_t rc, size_t used,
    const mps_proxy_info_t *info, const char *why)
{
	unsigned char addr[16];

	if (used > n)
		abort();
	if (rc == MPS_PROXY_MORE && used != n)
		abort();
	if (rc == MPS_PROXY_BAD && (why == NULL || *why == '\0'))
		abort();
	if (rc != MPS_PROXY_DONE)
		return;
	if (used == 0 || used > MPS_PROXY_MAX)
		abort();
	if (info->version == 1 && used > MPS_PROXY_V1_MAX)
		abort();
	if (info->version != 1 && info->version != 2)
		abort();
	if (info->local) {
		if (info->family != AF_UNSPEC)
			abort();
		return;
	}
	if (info->family != AF_INET && info->family != AF_INET6)
		abort();
	if (memchr(info->src_ip, '\0', sizeof(info->src_ip)) == NULL ||
	    inet_pton(info->family, info->src_ip, addr) != 1 ||
	    inet_pton(info->family, info->dst_ip, addr) != 1)
		abort();
	(void)data;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mps_proxy_info_t whole, part;
	const char *why, *pwhy;
	size_t used, pused, k, lim;
	mps_proxy_rc_t rc, prc;
	uint8_t *copy;

	/* A copy of exactly size bytes, so that ASan sees any read past n. */
	copy = malloc(size > 0 ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	rc = mps_proxy_parse(copy, size, &whole, &used, &why);
	check_one(copy, size, rc, used, &whole, why);

	/* Prefixes, as reads arrive. Past MPS_PROXY_MAX + 1 bytes nothing
	 * can change the verdict. */
	lim = size < MPS_PROXY_MAX + 1 ? size : MPS_PROXY_MAX + 1;
	for (k = 0; k <= lim; k++) {
		uint8_t *pre = malloc(k > 0 ? k : 1);

		if (pre == NULL)
			break;
		memcpy(pre, copy, k);
		prc = mps_proxy_parse(pre, k, &part, &pused, &pwhy);
		check_one(pre, k, prc, pused, &part, pwhy);
		free(pre);
		if (rc == MPS_PROXY_DONE) {
			/* Before the end: MORE. At the end: the same. */
			if (k < used && prc != MPS_PROXY_MORE)
				abort();
			if (k == used && (prc != MPS_PROXY_DONE || pused != used ||
			    memcmp(&part, &whole, sizeof(part)) != 0))
				abort();
		} else if (rc == MPS_PROXY_MORE) {
			if (prc != MPS_PROXY_MORE)
				abort();
		} else if (prc == MPS_PROXY_DONE) {
			/* Refused whole: no prefix may be a whole header
			 * (that would make the verdict depend on what
			 * follows it). */
			abort();
		}
		if (prc == MPS_PROXY_BAD) {
			/* Once refused, more bytes cannot help. */
			if (rc != MPS_PROXY_BAD)
				abort();
			break;
		}
	}
	free(copy);
	return 0;
}
