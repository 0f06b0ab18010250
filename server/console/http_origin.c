/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_origin.c: the request head as forwarded to the device (see
 * http_origin.h). Written piece by piece into the caller's buffer, and
 * rolled back to where it was if any piece does not fit.
 */
#include "http_origin.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static apr_status_t
put_str(mps_buf_t *out, const char *s)
{
	return mps_buf_put(out, s, strlen(s));
}

static apr_status_t
put_span(mps_buf_t *out, const mps_http_head_t *h, mps_http_span_t s)
{
	return mps_buf_put(out, mps_http_span_ptr(h, s), s.len);
}

/* Whether field f is dropped when forwarding (see http_origin.h). */
static int
hop_by_hop(const mps_http_head_t *h, const mps_http_field_t *f,
    int keep_upgrade)
{
	switch (f->id) {
	case MPS_HTTP_F_HOST:			/* regenerated from the URI */
	case MPS_HTTP_F_CONNECTION:
	case MPS_HTTP_F_PROXY_CONNECTION:
	case MPS_HTTP_F_KEEP_ALIVE:
	case MPS_HTTP_F_PROXY_AUTHORIZATION:
	case MPS_HTTP_F_PROXY_AUTHENTICATE:
	case MPS_HTTP_F_TE:
	case MPS_HTTP_F_TRAILER:
		return 1;
	case MPS_HTTP_F_UPGRADE:
		return !keep_upgrade;
	case MPS_HTTP_F_CONTENT_LENGTH:
	case MPS_HTTP_F_TRANSFER_ENCODING:
		return 0;			/* framing: never nominated away */
	default:
		return mps_http_head_connection_lists(h,
		    mps_http_span_ptr(h, f->name), f->name.len);
	}
}

static apr_status_t
write_origin(const mps_http_head_t *h, unsigned flags, mps_buf_t *out)
{
	char num[48];
	apr_status_t rv;
	size_t i;
	int keep_upgrade, cl_done = 0;
	const char *sep = "";

	keep_upgrade = (flags & MPS_HTTP_WRITE_KEEP_UPGRADE) && h->upgrade &&
	    (h->conn & MPS_HTTP_CONN_UPGRADE) && h->version == 11;

	if ((rv = put_span(out, h, h->method)) != APR_SUCCESS ||
	    (rv = put_str(out, h->path_slash ? " /" : " ")) != APR_SUCCESS ||
	    (rv = put_span(out, h, h->path)) != APR_SUCCESS ||
	    (rv = put_str(out, " HTTP/1.1\r\nHost: ")) != APR_SUCCESS ||
	    (rv = put_span(out, h, h->authority)) != APR_SUCCESS ||
	    (rv = put_str(out, "\r\n")) != APR_SUCCESS)
		return rv;

	for (i = 0; i < h->nfields; i++) {
		const mps_http_field_t *f = &h->fields[i];

		if (hop_by_hop(h, f, keep_upgrade))
			continue;
		if (f->id == MPS_HTTP_F_CONTENT_LENGTH) {
			if (cl_done)
				continue;
			cl_done = 1;
			(void)snprintf(num, sizeof(num),
			    "Content-Length: %" PRIu64 "\r\n", h->content_length);
			if ((rv = put_str(out, num)) != APR_SUCCESS)
				return rv;
			continue;
		}
		if ((rv = put_span(out, h, f->name)) != APR_SUCCESS ||
		    (rv = put_str(out, ": ")) != APR_SUCCESS ||
		    (rv = put_span(out, h, f->value)) != APR_SUCCESS ||
		    (rv = put_str(out, "\r\n")) != APR_SUCCESS)
			return rv;
	}

	if (keep_upgrade || (flags & MPS_HTTP_WRITE_CLOSE)) {
		if ((rv = put_str(out, "Connection: ")) != APR_SUCCESS)
			return rv;
		if (flags & MPS_HTTP_WRITE_CLOSE) {
			if ((rv = put_str(out, "close")) != APR_SUCCESS)
				return rv;
			sep = ", ";
		}
		if (keep_upgrade &&
		    ((rv = put_str(out, sep)) != APR_SUCCESS ||
		    (rv = put_str(out, "upgrade")) != APR_SUCCESS))
			return rv;
		if ((rv = put_str(out, "\r\n")) != APR_SUCCESS)
			return rv;
	}
	if ((rv = put_str(out, h->version == 10 ? "Via: 1.0 mpsd\r\n" :
	    "Via: 1.1 mpsd\r\n")) != APR_SUCCESS ||
	    (rv = put_str(out, "\r\n")) != APR_SUCCESS)
		return rv;
	return APR_SUCCESS;
}

apr_status_t
mps_http_head_write_origin(const mps_http_head_t *h, unsigned flags,
    mps_buf_t *out)
{
	size_t mark = mps_buf_len(out);
	apr_status_t rv;

	if (!mps_http_head_complete(h) || h->form != MPS_HTTP_FORM_ABSOLUTE ||
	    h->scheme != MPS_HTTP_SCHEME_HTTP)
		return APR_EINVAL;
	if ((rv = write_origin(h, flags, out)) != APR_SUCCESS)
		(void)mps_buf_truncate(out, mark);
	return rv;
}

