/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_apf.c: the APF codec under a fuzzer (libFuzzer entry point).
 *
 * Input bytes are what a device (or, with the first byte's low bit set,
 * an MPS seen by the simulator) could send. They go through the same
 * receive loop the session uses: frame, decode, consume, until the bytes
 * run out or an error ends the stream. Every decoded message is encoded
 * again and must give back exactly the bytes it came from; any crash,
 * sanitizer report or mismatch is a finding.
 *
 * Built two ways (tests/local.mk): with clang -fsanitize=fuzzer when
 * configured with --enable-fuzzers, for real fuzzing; and always as a
 * replay program (replay_main.c) that make check runs over the corpus.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apf_codec.h"
#include "buf.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;
	size_t off = 0;

	if (size == 0)
		return 0;
	/* First byte: which side's rules, then the stream. */
	flags = (data[0] & 1) ? (MPS_APF_F_PAD | MPS_APF_F_SUCCESS_PORT) : 0;
	data++;
	size--;
	while (off < size) {
		mps_apf_msg_t m;
		mps_buf_t out;
		size_t len = 0;
		apr_status_t rv;

		/* 4096: a small advertised window, as real AMT uses. */
		rv = mps_apf_frame_len_ex(data + off, size - off, 4096, flags, &len);
		if (rv != APR_SUCCESS)
			break;
		if (len == 0 || len > size - off)
			abort();	/* frame_len must never claim more */
		rv = mps_apf_decode_ex(data + off, len, flags, &m);
		if (rv != APR_SUCCESS)
			break;
		if (m.type != MPS_APF_PAD) {
			mps_buf_init(&out, MPS_APF_MAX_MSG_LEN + 16);
			if (mps_apf_encode(&out, &m) == APR_SUCCESS &&
			    (mps_buf_len(&out) != len ||
			    memcmp(mps_buf_ptr(&out), data + off, len) != 0))
				abort();	/* decode/encode disagree */
			mps_buf_free(&out);
		}
		off += len;
	}
	return 0;
}
