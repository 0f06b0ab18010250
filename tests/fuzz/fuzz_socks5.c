/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_socks5.c: the SOCKS5 handshake codec under a fuzzer.
 *
 * The input is what a console sends: greeting, then (when the first
 * input byte's low bit says so) the RFC 1929 user/password message, then
 * the request, then whatever follows. Each phase parses from the
 * remaining bytes the way the console connection will; a parse must
 * never claim more bytes than it was given, a string it returns must be
 * NUL-terminated within its buffer, and need-more must consume nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mps_status.h"
#include "socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every prefix must say need-more or the same answer as the whole. */
static void
check_consumed(apr_status_t rv, size_t consumed, size_t n)
{
	if (consumed > n || (rv == MPS_NEED_MORE && consumed != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[MPS_SOCKS5_CRED_SIZE], pass[MPS_SOCKS5_CRED_SIZE];
	mps_socks5_request_t req;
	unsigned offered = 0;
	size_t off = 0, used = 0;
	int with_auth;
	apr_status_t rv;

	if (size == 0)
		return 0;
	with_auth = data[0] & 1;
	data++;
	size--;

	rv = mps_socks5_parse_greeting(data, size, &used, &offered);
	check_consumed(rv, used, size);
	if (rv != APR_SUCCESS) {
		(void)mps_socks5_foreign_protocol(data, size);
		return 0;
	}
	(void)mps_socks5_choose_method(offered, with_auth);
	off += used;
	if (with_auth) {
		rv = mps_socks5_parse_userpass(data + off, size - off, &used,
		    user, sizeof(user), pass, sizeof(pass));
		check_consumed(rv, used, size - off);
		if (rv != APR_SUCCESS)
			return 0;
		if (memchr(user, '\0', sizeof(user)) == NULL ||
		    memchr(pass, '\0', sizeof(pass)) == NULL)
			abort();
		off += used;
	}
	rv = mps_socks5_parse_request(data + off, size - off, &used, &req);
	check_consumed(rv, used, size - off);
	if (rv == APR_SUCCESS &&
	    (memchr(req.host, '\0', sizeof(req.host)) == NULL ||
	    strlen(req.host) != req.host_len))
		abort();
	return 0;
}
