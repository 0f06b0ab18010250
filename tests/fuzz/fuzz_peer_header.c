/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_peer_header.c: the instance-to-instance link's header and answer
 * (peer_header.c) under a fuzzer.
 *
 * The input is what a peer sends: a header, then an answer. A parse must
 * never claim more bytes than it was given, every prefix of a valid
 * header must be "need more", the strings it returns must be terminated
 * within their buffers, and a parsed header must encode back to the very
 * bytes it was parsed from.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mps_status.h"
#include "peer_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mps_peer_header_t h, h2;
	uint8_t out[MPS_PEER_HEADER_MAX];
	size_t used = 0, used2, i, n;
	unsigned result = 99;
	apr_status_t rv;

	memset(&h, 0, sizeof(h));
	rv = mps_peer_header_parse(data, size, &used, &h);
	if (used > size || (rv != APR_SUCCESS && used != 0))
		abort();
	if (rv == APR_SUCCESS) {
		if (used > MPS_PEER_HEADER_MAX ||
		    memchr(h.name, '\0', sizeof(h.name)) == NULL ||
		    memchr(h.user, '\0', sizeof(h.user)) == NULL)
			abort();
		for (i = 0; i < used; i++) {
			used2 = 1;
			if (mps_peer_header_parse(data, i, &used2, &h2) !=
			    MPS_NEED_MORE || used2 != 0)
				abort();
		}
		n = mps_peer_header_encode(&h, out);
		if (n != used || memcmp(out, data, n) != 0)
			abort();
		rv = mps_peer_answer_parse(data + used, size - used, &result);
		if (rv == APR_SUCCESS && result > MPS_PEER_RESULT_MAX)
			abort();
	} else if (rv != MPS_NEED_MORE && rv != MPS_ERR_MALFORMED)
		abort();
	return 0;
}
