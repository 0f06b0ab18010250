/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_basic.c: Basic credentials (see http_basic.h).
 *
 * The base64 decoding is APR-util's apr_base64_decode_binary(), a
 * MIME-style decoder: it stops at the first byte outside the alphabet,
 * needs no padding and ignores the bits that padding leaves over. A
 * credential here must have exactly one spelling (RFC 4648 canonical
 * form: http_front.c compares a connection's later credentials byte for
 * byte), so each group of four characters is accepted only when
 * APR-util's encoding of what it decodes to gives the same four
 * characters back. That round trip refuses every byte outside the
 * alphabet, a missing, misplaced or superfluous '=' and non-zero pad
 * bits, without an alphabet table of our own.
 */
#include "http_basic.h"

#include <apr_base64.h>
#include <string.h>

#include "mps_status.h"

/* Bytes that n characters of padded base64 decode to (if valid). */
static size_t
b64_decoded_len(const uint8_t *in, size_t n)
{
	size_t len = n / 4 * 3;

	if (n % 4 != 0 || n == 0)
		return len;
	if (in[n - 1] == '=')
		len--;
	if (in[n - 2] == '=')
		len--;
	return len;
}

/* memset through a volatile pointer, so wiping credentials is kept. */
static void *(*const volatile wipe_fn)(void *, int, size_t) = memset;

/* One group of four base64 characters into bytes[0 .. 3): how many it
 * decodes to (1 to 3), or 0 when it is not canonical base64. */
static int
b64_group(const uint8_t *in, unsigned char bytes[3])
{
	char group[5], again[5];
	int k;

	memcpy(group, in, 4);
	group[4] = '\0';
	/* A group decodes to at most 3 bytes: APR-util writes no more. */
	k = apr_base64_decode_binary(bytes, group);
	if (k < 1 || k > 3 || apr_base64_encode_binary(again, bytes, k) != 5 ||
	    memcmp(again, group, 4) != 0)
		k = 0;
	wipe_fn(group, 0, sizeof(group));
	wipe_fn(again, 0, sizeof(again));
	return k;
}

/* Strict base64 of in[0 .. n) into out[0 .. cap); returns the decoded
 * length, or (size_t)-1 for bad base64 or when cap is too small. */
static size_t
b64_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	unsigned char bytes[3];
	size_t i, o = 0;
	int k;

	if (n == 0 || n % 4 != 0)
		return (size_t)-1;
	for (i = 0; i < n; i += 4) {
		k = b64_group(in + i, bytes);
		/* Padding (fewer than 3 bytes) only in the last group. */
		if (k == 0 || (k < 3 && i + 4 != n) || cap - o < (size_t)k) {
			o = (size_t)-1;
			break;
		}
		memcpy(out + o, bytes, (size_t)k);
		o += (size_t)k;
	}
	wipe_fn(bytes, 0, sizeof(bytes));
	return o;
}

apr_status_t
mps_http_basic_decode(const char *b64, size_t len, char *out, size_t outsize,
    const char **user, const char **password)
{
	size_t n, i, colon = (size_t)-1;
	apr_status_t rv = MPS_ERR_MALFORMED;

	*user = NULL;
	*password = NULL;
	if (outsize == 0)
		return MPS_ERR_TOO_LARGE;
	if (b64_decoded_len((const uint8_t *)b64, len) >= outsize) {
		rv = MPS_ERR_TOO_LARGE;
		goto fail;
	}
	n = b64_decode((const uint8_t *)b64, len, (uint8_t *)out, outsize - 1);
	if (n == (size_t)-1)
		goto fail;
	for (i = 0; i < n; i++) {
		uint8_t c = (uint8_t)out[i];

		if (c < 0x20 || c == 0x7f)
			goto fail;	/* RFC 7617: no control characters */
		if (c == ':' && colon == (size_t)-1)
			colon = i;
	}
	if (colon == (size_t)-1 || colon == 0)
		goto fail;		/* no ':' or an empty user-id */
	out[colon] = '\0';
	out[n] = '\0';
	*user = out;
	*password = out + colon + 1;
	return APR_SUCCESS;
fail:
	wipe_fn(out, 0, outsize);
	return rv;
}

apr_status_t
mps_http_head_basic_credentials(const mps_http_head_t *h, char *out,
    size_t outsize, const char **user, const char **password)
{
	*user = NULL;
	*password = NULL;
	if (!mps_http_head_complete(h) || h->proxy_auth != MPS_HTTP_AUTH_BASIC)
		return APR_EINVAL;
	return mps_http_basic_decode(mps_http_span_ptr(h, h->credentials),
	    h->credentials.len, out, outsize, user, password);
}

