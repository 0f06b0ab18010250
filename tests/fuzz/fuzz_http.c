/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http.c: the HTTP proxy's request-head parser and chunked-body
 * framer under a fuzzer.
 *
 * Checks beyond "no crash":
 *  - parsing the whole input at once and growing it one byte at a time
 *    give the same answer and the same consumed count (the proxy parses
 *    whatever has arrived so far);
 *  - an accepted absolute-form head, rewritten to origin form for the
 *    device, parses again with the same body framing (so mpsd never
 *    forwards a head the device would frame differently: smuggling);
 *  - the chunked framer never claims more bytes than it was given, and
 *    agrees with itself when fed one byte at a time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_basic.h"
#include "http_chunked.h"
#include "http_head.h"
#include "http_origin.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_head(const uint8_t *data, size_t size)
{
	/* Small limits, so that the fuzzer reaches them. */
	mps_http_limits_t lim = { 512, 128, 20 };
	mps_http_head_t h, h2;
	size_t consumed = 0, c2 = 0, i;
	apr_status_t rv, rv2 = MPS_NEED_MORE;

	mps_http_head_init(&h);
	rv = mps_http_head_parse(&h, data, size, &lim, &consumed);
	mps_http_head_init(&h2);
	for (i = 1; i <= size && rv2 == MPS_NEED_MORE; i++)
		rv2 = mps_http_head_parse(&h2, data, i, &lim, &c2);
	if (rv != rv2 || consumed != c2)
		abort();
	if (rv == APR_SUCCESS) {
		char cred[256];
		const char *user, *pass;
		mps_buf_t out;

		mps_buf_init(&out, 4096);
		if (h.form == MPS_HTTP_FORM_ABSOLUTE &&
		    h.scheme == MPS_HTTP_SCHEME_HTTP) {
			if (mps_http_head_write_origin(&h, 1, &out) != APR_SUCCESS)
				abort();
			mps_http_head_init(&h2);
			if (mps_http_head_parse(&h2, mps_buf_ptr(&out),
			    mps_buf_len(&out), NULL, &c2) != APR_SUCCESS ||
			    h2.body != h.body ||
			    h2.content_length != h.content_length)
				abort();
		}
		mps_buf_free(&out);
		(void)mps_http_head_basic_credentials(&h, cred, sizeof(cred),
		    &user, &pass);
	}
}

static void
check_chunked(const uint8_t *data, size_t size)
{
	mps_http_chunked_t c;
	size_t used = 0, total = 0, whole = 0, i;
	apr_status_t rv, rv1 = MPS_NEED_MORE;

	mps_http_chunked_init(&c, 64, 128);
	rv = mps_http_chunked_feed(&c, data, size, &whole);
	if (whole > size)
		abort();
	mps_http_chunked_init(&c, 64, 128);
	for (i = 0; i < size && rv1 == MPS_NEED_MORE; i++) {
		rv1 = mps_http_chunked_feed(&c, data + i, 1, &used);
		total += used;
	}
	if (size > 0 && (rv != rv1 || whole != total))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_head(data, size);
	check_chunked(data, size);
	return 0;
}
