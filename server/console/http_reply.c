/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_reply.c: the proxy's own responses (see http_reply.h). Each is
 * formatted whole into a small local buffer and appended in one
 * mps_buf_put(), which appends all of it or nothing.
 */
#include "http_reply.h"

#include <stdio.h>
#include <string.h>

static const struct {
	unsigned code;
	const char *reason;
} reasons[] = {
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 407, "Proxy Authentication Required" },
	{ 408, "Request Timeout" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 431, "Request Header Fields Too Large" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" }
};

const char *
mps_http_reason(unsigned code)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].code == code)
			return reasons[i].reason;
	}
	return NULL;
}

apr_status_t
mps_http_write_error(mps_buf_t *out, unsigned code)
{
	/* The longest reason is 31 bytes: both stay far below the sizes. */
	char body[64], text[320];
	const char *reason = mps_http_reason(code);
	int blen, tlen;

	if (reason == NULL)
		return APR_EINVAL;
	blen = snprintf(body, sizeof(body), "%u %s\n", code, reason);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return APR_EINVAL;
	tlen = snprintf(text, sizeof(text), "HTTP/1.1 %u %s\r\n"
	    "%s"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\n"
	    "Connection: close\r\n\r\n"
	    "%s", code, reason,
	    code == 407 ? "Proxy-Authenticate: Basic realm=\"mpsd\"\r\n" : "",
	    blen, body);
	if (tlen < 0 || (size_t)tlen >= sizeof(text))
		return APR_EINVAL;
	return mps_buf_put(out, text, (size_t)tlen);
}

apr_status_t
mps_http_write_connect_ok(mps_buf_t *out)
{
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

	return mps_buf_put(out, ok, sizeof(ok) - 1);
}
