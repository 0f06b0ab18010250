/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peer_header.c: see peer_header.h. Every read checks the length first;
 * nothing is read past n.
 */
#include "peer_header.h"

#include <string.h>

#include "mps_status.h"

static int
name_byte_ok(uint8_t b)
{
	return b >= 0x21 && b <= 0x7e;
}

static int
user_byte_ok(uint8_t b)
{
	return b >= 0x20 && b <= 0x7e;
}

apr_status_t
mps_peer_header_parse(const uint8_t *p, size_t n, size_t *used,
    mps_peer_header_t *h)
{
	size_t off, i, nlen, ulen;
	size_t have;

	*used = 0;
	/* The fixed part, checked byte by byte as it arrives so that a
	 * foreign protocol is refused at its first wrong byte. */
	have = n < 4 ? n : 4;
	if (memcmp(p, MPS_PEER_MAGIC, have) != 0)
		return MPS_ERR_MALFORMED;
	if (n < 5)
		return MPS_NEED_MORE;
	if (p[4] != MPS_PEER_VERSION)
		return MPS_ERR_MALFORMED;
	if (n < 6)
		return MPS_NEED_MORE;
	if (p[5] != MPS_PEER_MODE_CHANNEL && p[5] != MPS_PEER_MODE_HTTP)
		return MPS_ERR_MALFORMED;
	if (n < 9)
		return MPS_NEED_MORE;
	h->mode = p[5];
	h->port = (apr_port_t)((p[6] << 8) | p[7]);
	if (h->mode == MPS_PEER_MODE_CHANNEL && h->port == 0)
		return MPS_ERR_MALFORMED;
	nlen = p[8];
	if (nlen == 0)
		return MPS_ERR_MALFORMED;
	off = 9;
	for (i = 0; i < nlen; i++) {
		if (off + i >= n)
			return MPS_NEED_MORE;
		if (!name_byte_ok(p[off + i]))
			return MPS_ERR_MALFORMED;
	}
	memcpy(h->name, p + off, nlen);
	h->name[nlen] = '\0';
	off += nlen;
	if (off >= n)
		return MPS_NEED_MORE;
	ulen = p[off++];
	if (ulen > MPS_PEER_USER_MAX)
		return MPS_ERR_MALFORMED;
	for (i = 0; i < ulen; i++) {
		if (off + i >= n)
			return MPS_NEED_MORE;
		if (!user_byte_ok(p[off + i]))
			return MPS_ERR_MALFORMED;
	}
	memcpy(h->user, p + off, ulen);
	h->user[ulen] = '\0';
	*used = off + ulen;
	return APR_SUCCESS;
}

size_t
mps_peer_header_encode(const mps_peer_header_t *h, uint8_t *out)
{
	size_t nlen = strnlen(h->name, sizeof(h->name));
	size_t ulen = strnlen(h->user, sizeof(h->user));
	size_t i, off;

	if (h->mode != MPS_PEER_MODE_CHANNEL && h->mode != MPS_PEER_MODE_HTTP)
		return 0;
	if (nlen == 0 || nlen > MPS_PEER_NAME_MAX || ulen > MPS_PEER_USER_MAX)
		return 0;
	if (h->mode == MPS_PEER_MODE_CHANNEL && h->port == 0)
		return 0;
	for (i = 0; i < nlen; i++)
		if (!name_byte_ok((uint8_t)h->name[i]))
			return 0;
	for (i = 0; i < ulen; i++)
		if (!user_byte_ok((uint8_t)h->user[i]))
			return 0;
	memcpy(out, MPS_PEER_MAGIC, 4);
	out[4] = MPS_PEER_VERSION;
	out[5] = (uint8_t)h->mode;
	out[6] = (uint8_t)(h->port >> 8);
	out[7] = (uint8_t)(h->port & 0xff);
	out[8] = (uint8_t)nlen;
	memcpy(out + 9, h->name, nlen);
	off = 9 + nlen;
	out[off++] = (uint8_t)ulen;
	memcpy(out + off, h->user, ulen);
	return off + ulen;
}

apr_status_t
mps_peer_answer_parse(const uint8_t *p, size_t n, unsigned *result)
{
	if (n >= 1 && p[0] != MPS_PEER_VERSION)
		return MPS_ERR_MALFORMED;
	if (n < MPS_PEER_ANSWER_LEN)
		return MPS_NEED_MORE;
	if (p[1] > MPS_PEER_RESULT_MAX)
		return MPS_ERR_MALFORMED;
	*result = p[1];
	return APR_SUCCESS;
}

void
mps_peer_answer_encode(unsigned result, uint8_t *out)
{
	out[0] = MPS_PEER_VERSION;
	out[1] = (uint8_t)(result > MPS_PEER_RESULT_MAX ? MPS_PEER_RESULT_MAX :
	    result);
}
