/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_chars.h: the character classes of HTTP/1.1 (RFC 9110 §5.6, RFC
 * 3986 §2), shared by the request parser (http_head.c), the response
 * framer (http_response.c) and the chunked framer (http_chunked.c) so
 * that both sides of the proxy read tokens, whitespace, field values and
 * hex digits by one definition.
 */
#ifndef MPS_HTTP_CHARS_H
#define MPS_HTTP_CHARS_H

#include <stdint.h>
#include <string.h>

static inline int
mps_http_is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static inline int
mps_http_is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* HEXDIG (either case): its value, or -1. */
static inline int
mps_http_hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* tchar: the characters of a token (method, field name, list element). */
static inline int
mps_http_is_tchar(uint8_t c)
{
	if (mps_http_is_alpha(c) || mps_http_is_digit(c))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* OWS: SP or HTAB. */
static inline int
mps_http_is_ws(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar / SP / HTAB: a field value or a reason phrase. */
static inline int
mps_http_is_value_char(uint8_t c)
{
	return mps_http_is_ws(c) || (c >= 0x21 && c != 0x7f);
}

static inline uint8_t
mps_http_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

#endif /* MPS_HTTP_CHARS_H */
