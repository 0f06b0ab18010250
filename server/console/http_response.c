/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_response.c: the streaming HTTP/1.x response framer (see
 * http_response.h for the contract and the rules).
 *
 * The head's lines come through the line reader of buf.h (CRLF or a
 * bare LF, max_line per line), which hands over a line's content in runs
 * as it arrives and reports the CR and the LF that end it. The caller
 * keeps none of the bytes, so a line cannot be looked at once it is
 * complete, as the request parser does: a state machine checks every
 * content byte as it arrives, and list values (Content-Length,
 * Transfer-Encoding, Connection) are read element by element. At the CR
 * the state says whether the line may end there; at the LF the line's
 * rules run. Body bytes are passed over in bulk: counted down for
 * Content-Length, handed to the chunked framer (http_chunked.c) for
 * chunked bodies, taken wholesale when the body runs until the close.
 * Feeding the same bytes in any slicing therefore reaches the same
 * states in the same order, which the unit test checks at every split
 * point.
 *
 * Counters: head_len is bounded by max_head (each part is read from at
 * most what is left of it); name_len and token_len by max_line; total by
 * the number of bytes fed (uint64_t).
 */
#include "http_response.h"
#include "http_chars.h"

#include <limits.h>
#include <string.h>

#include "mps_status.h"

enum {
	ST_LEAD = 0,		/* a status line, or an empty line before it */
	ST_STATUS,		/* "HTTP/1.x SP 3DIGIT", at st.idx */
	ST_CODE_END,		/* after the status code: SP or the line end */
	ST_REASON,		/* the reason phrase */
	ST_LINE_START,		/* a field line, or the empty line */
	ST_NAME,		/* a field name */
	ST_VALUE,		/* a field value */
	ST_LF,			/* a CR was read: the LF must follow */
	ST_BODY_LENGTH,
	ST_BODY_CHUNKED,
	ST_BODY_CLOSE,
	ST_DONE,
	ST_FAILED
};

/* What the LF being waited for ends. */
enum {
	LINE_LEAD = 0,		/* an empty line before the status line */
	LINE_STATUS,
	LINE_FIELD,
	LINE_END		/* the empty line that ends the head */
};

/* Fields read for framing. */
enum {
	FLD_OTHER = 0,
	FLD_CONTENT_LENGTH,
	FLD_TRANSFER_ENCODING,
	FLD_CONNECTION
};

/* Where a list element stands (RFC 9110 §5.6.1: OWS around elements). */
enum {
	EL_LEAD = 0,		/* OWS before it: nothing read yet */
	EL_BODY,		/* inside it */
	EL_TRAIL		/* OWS after it: only ',' or the end may come */
};

static const mps_http_limits_t default_limits = {
	MPS_HTTP_DEFAULT_MAX_HEAD,
	MPS_HTTP_DEFAULT_MAX_LINE,
	MPS_HTTP_DEFAULT_MAX_FIELDS
};

/* ---- Character classes (RFC 9110 §5.6) ---- */

/* Whether the kept bytes kept[0 .. n) (n counting every byte read, kept
 * or not) are exactly the lower-case lit. */
static int
kept_eq(const uint8_t *kept, size_t keep, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	return n == l && l <= keep && memcmp(kept, lit, l) == 0;
}

/* ---- Results and failures ---- */

static apr_status_t
fail(mps_http_resp_t *r, apr_status_t rv, const char *why)
{
	r->st.state = ST_FAILED;
	r->st.rv = rv;
	r->why = why;
	return rv;
}

static apr_status_t
malformed(mps_http_resp_t *r, const char *why)
{
	return fail(r, MPS_ERR_MALFORMED, why);
}

static apr_status_t
too_large(mps_http_resp_t *r, const char *why)
{
	return fail(r, MPS_ERR_TOO_LARGE, why);
}

/* Forgets one head: an interim response is followed by another head. */
static void
reset_head(mps_http_resp_t *r)
{
	r->status = 0;
	r->version = 0;
	r->st.state = ST_LEAD;
	r->st.head_len = 0;
	mps_buf_line_init(&r->st.line, r->st.max_line, MPS_BUF_LINE_BARE_LF);
	r->st.nfields = 0;
	r->st.idx = 0;
	r->st.field = FLD_OTHER;
	r->st.cl_seen = 0;
	r->st.cl = 0;
	r->st.te_seen = 0;
	r->st.te_chunked = 0;
	r->st.te_last_chunked = 0;
	r->st.conn = 0;
}

void
mps_http_resp_init(mps_http_resp_t *r, int request_was_head,
    const mps_http_limits_t *limits)
{
	memset(r, 0, sizeof(*r));
	r->why = NULL;
	if (limits == NULL)
		limits = &default_limits;
	r->st.request_was_head = request_was_head != 0;
	r->st.max_head = limits->max_head;
	r->st.max_line = limits->max_line;
	r->st.max_fields = limits->max_fields;
	reset_head(r);
	if (limits->max_head == 0 || limits->max_line == 0)
		(void)fail(r, APR_EINVAL, "bad limits");
}

/* ---- List values: Content-Length, Transfer-Encoding, Connection ---- */

static const char *
field_why(int field)
{
	switch (field) {
	case FLD_CONTENT_LENGTH:
		return "Content-Length not a number";
	case FLD_TRANSFER_ENCODING:
		return "bad transfer coding";
	default:
		return "bad Connection option";
	}
}

/* One byte inside a list element. */
static apr_status_t
elem_byte(mps_http_resp_t *r, uint8_t b)
{
	unsigned d;

	if (r->st.field == FLD_CONTENT_LENGTH) {
		if (!mps_http_is_digit(b))
			return malformed(r, field_why(r->st.field));
		d = (unsigned)(b - '0');
		if (r->st.number > ((uint64_t)INT64_MAX - d) / 10)
			return malformed(r, "Content-Length too big");
		r->st.number = r->st.number * 10 + d;
		return APR_SUCCESS;
	}
	if (!mps_http_is_tchar(b))
		return malformed(r, field_why(r->st.field));
	if (r->st.token_len < sizeof(r->st.token))
		r->st.token[r->st.token_len] = mps_http_lower(b);
	r->st.token_len++;
	return APR_SUCCESS;
}

/* A list element ended (at ',' or the line end): act on it. */
static apr_status_t
elem_end(mps_http_resp_t *r)
{
	const uint8_t *t = r->st.token;
	size_t keep = sizeof(r->st.token), n = r->st.token_len;

	if (r->st.elem == EL_LEAD) {
		/* An empty element: lists allow them, a length does not. */
		if (r->st.field == FLD_CONTENT_LENGTH)
			return malformed(r, "empty Content-Length");
		return APR_SUCCESS;
	}
	r->st.elem_any = 1;
	switch (r->st.field) {
	case FLD_CONTENT_LENGTH:
		if (r->st.cl_seen && r->st.number != r->st.cl)
			return malformed(r,
			    "conflicting Content-Length values");
		r->st.cl_seen = 1;
		r->st.cl = r->st.number;
		break;
	case FLD_TRANSFER_ENCODING:
		r->st.te_seen = 1;
		r->st.te_last_chunked = kept_eq(t, keep, n, "chunked");
		if (r->st.te_last_chunked && r->st.te_chunked < 2)
			r->st.te_chunked++;
		break;
	default:
		if (kept_eq(t, keep, n, "close"))
			r->st.conn |= MPS_HTTP_CONN_CLOSE;
		else if (kept_eq(t, keep, n, "keep-alive"))
			r->st.conn |= MPS_HTTP_CONN_KEEP_ALIVE;
		else if (kept_eq(t, keep, n, "upgrade"))
			r->st.conn |= MPS_HTTP_CONN_UPGRADE;
		break;
	}
	return APR_SUCCESS;
}

static void
elem_start(mps_http_resp_t *r)
{
	r->st.elem = EL_LEAD;
	r->st.token_len = 0;
	r->st.number = 0;
}

/* One byte of a value the framer reads (already checked as a value
 * character): commas split elements, OWS surrounds them. */
static apr_status_t
list_byte(mps_http_resp_t *r, uint8_t b)
{
	apr_status_t rv;

	if (b == ',') {
		if ((rv = elem_end(r)) != APR_SUCCESS)
			return rv;
		elem_start(r);
		return APR_SUCCESS;
	}
	if (mps_http_is_ws(b)) {
		if (r->st.elem == EL_BODY)
			r->st.elem = EL_TRAIL;
		return APR_SUCCESS;
	}
	if (r->st.elem == EL_TRAIL)
		return malformed(r, field_why(r->st.field));
	r->st.elem = EL_BODY;
	return elem_byte(r, b);
}

/* The field line ended: its last element, then rules per field. */
static apr_status_t
value_end(mps_http_resp_t *r)
{
	apr_status_t rv;

	if (r->st.field == FLD_OTHER)
		return APR_SUCCESS;
	if ((rv = elem_end(r)) != APR_SUCCESS)
		return rv;
	if (r->st.field == FLD_TRANSFER_ENCODING && !r->st.elem_any)
		return malformed(r, "empty Transfer-Encoding");
	return APR_SUCCESS;
}

/* ---- The head ---- */

static int
field_id(const mps_http_resp_t *r)
{
	const uint8_t *nm = r->st.name;
	size_t keep = sizeof(r->st.name), n = r->st.name_len;

	if (kept_eq(nm, keep, n, "content-length"))
		return FLD_CONTENT_LENGTH;
	if (kept_eq(nm, keep, n, "transfer-encoding"))
		return FLD_TRANSFER_ENCODING;
	if (kept_eq(nm, keep, n, "connection"))
		return FLD_CONNECTION;
	return FLD_OTHER;
}

/*
 * The final head is complete: decide the body (RFC 9112 §6.3, in its
 * order) and whether the server will close.
 */
static apr_status_t
final_head(mps_http_resp_t *r)
{
	unsigned s = r->status;

	if (r->st.te_chunked > 1)
		return malformed(r, "chunked applied more than once");
	r->head_done = 1;
	r->close = (r->st.conn & MPS_HTTP_CONN_CLOSE) != 0 ||
	    (r->version == 10 && !(r->st.conn & MPS_HTTP_CONN_KEEP_ALIVE));
	if (s == 101) {
		/* Not HTTP any more: the connection is never reused. */
		r->upgraded = 1;
		r->close = 1;
		r->st.state = ST_DONE;
		return APR_SUCCESS;
	}
	if (r->st.request_was_head || s == 204 || s == 304) {
		r->st.state = ST_DONE;
		return APR_SUCCESS;
	}
	if (r->st.te_seen) {
		if (r->version == 11 && r->st.te_last_chunked) {
			r->body = MPS_HTTP_RESP_BODY_CHUNKED;
			if (r->st.cl_seen)
				r->close = 1;
			mps_http_chunked_init(&r->st.chunked, r->st.max_line,
			    r->st.max_head);
			r->st.state = ST_BODY_CHUNKED;
			return APR_SUCCESS;
		}
		/* No final chunked, or HTTP/1.0 (faulty framing): the
		 * close is the only end both sides agree on. */
	} else if (r->st.cl_seen) {
		if (r->st.cl == 0) {
			r->st.state = ST_DONE;
			return APR_SUCCESS;
		}
		r->body = MPS_HTTP_RESP_BODY_LENGTH;
		r->content_length = r->st.cl;
		r->st.remaining = r->st.cl;
		r->st.state = ST_BODY_LENGTH;
		return APR_SUCCESS;
	}
	r->body = MPS_HTTP_RESP_BODY_CLOSE;
	r->until_close = 1;
	r->close = 1;
	r->st.state = ST_BODY_CLOSE;
	return APR_SUCCESS;
}

/* The empty line: an interim head starts over, a final one decides. */
static apr_status_t
head_end(mps_http_resp_t *r)
{
	if (r->status >= 100 && r->status < 200 && r->status != 101) {
		if (r->interim < UINT_MAX)
			r->interim++;
		reset_head(r);
		return APR_SUCCESS;
	}
	return final_head(r);
}

/* The LF of a line (after its CR, if any). */
static apr_status_t
end_line(mps_http_resp_t *r)
{
	apr_status_t rv;

	switch (r->st.line_kind) {
	case LINE_LEAD:
		r->st.state = ST_LEAD;
		return APR_SUCCESS;
	case LINE_STATUS:
		r->st.state = ST_LINE_START;
		return APR_SUCCESS;
	case LINE_FIELD:
		if ((rv = value_end(r)) != APR_SUCCESS)
			return rv;
		r->st.state = ST_LINE_START;
		return APR_SUCCESS;
	default:
		return head_end(r);
	}
}

/* The line reader's CR, or a bare LF: the line's content is over; the
 * state says whether it may end here. */
static apr_status_t
line_end_byte(mps_http_resp_t *r, uint8_t b)
{
	switch (r->st.state) {
	case ST_LEAD:
		r->st.line_kind = LINE_LEAD;
		break;
	case ST_CODE_END:
	case ST_REASON:
		r->st.line_kind = LINE_STATUS;
		break;
	case ST_LINE_START:
		r->st.line_kind = LINE_END;
		break;
	case ST_VALUE:
		r->st.line_kind = LINE_FIELD;
		break;
	case ST_NAME:
		return malformed(r, "field line without a colon");
	default:
		return malformed(r, "bad status line");
	}
	if (b == '\r') {
		r->st.state = ST_LF;
		return APR_SUCCESS;
	}
	return end_line(r);
}

/* "HTTP/1.x SP 3DIGIT": st.idx is the position in it. */
static apr_status_t
status_byte(mps_http_resp_t *r, uint8_t b)
{
	static const char proto[] = "HTTP/1.";
	unsigned i = r->st.idx++;

	if (i < sizeof(proto) - 1) {
		if (b == (uint8_t)proto[i])
			return APR_SUCCESS;
		if (i == 5 && mps_http_is_digit(b))
			return malformed(r, "unsupported HTTP version");
		return malformed(r, "bad status line");
	}
	if (i == sizeof(proto) - 1) {
		if (b == '0' || b == '1') {
			r->version = b == '0' ? 10 : 11;
			return APR_SUCCESS;
		}
		return malformed(r, mps_http_is_digit(b) ? "unsupported HTTP version" :
		    "bad status line");
	}
	if (i == sizeof(proto)) {
		if (b != ' ')
			return malformed(r, "bad status line");
		return APR_SUCCESS;
	}
	if (!mps_http_is_digit(b))
		return malformed(r, "bad status code");
	r->status = r->status * 10 + (unsigned)(b - '0');
	if (i == sizeof(proto) + 3) {
		if (r->status < 100 || r->status > 599)
			return malformed(r, "bad status code");
		r->st.state = ST_CODE_END;
	}
	return APR_SUCCESS;
}

static apr_status_t
field_start(mps_http_resp_t *r, uint8_t b)
{
	if (mps_http_is_ws(b))
		return malformed(r, "obs-fold (a folded field line)");
	if (b == ':')
		return malformed(r, "empty field name");
	if (!mps_http_is_tchar(b))
		return malformed(r, "bad field name");
	if (++r->st.nfields > r->st.max_fields)
		return too_large(r, "too many fields");
	r->st.name[0] = mps_http_lower(b);
	r->st.name_len = 1;
	r->st.state = ST_NAME;
	return APR_SUCCESS;
}

static apr_status_t
name_byte(mps_http_resp_t *r, uint8_t b)
{
	if (b == ':') {
		r->st.field = field_id(r);
		r->st.elem_any = 0;
		elem_start(r);
		r->st.state = ST_VALUE;
		return APR_SUCCESS;
	}
	if (mps_http_is_ws(b))
		return malformed(r, "whitespace before a field's colon");
	if (!mps_http_is_tchar(b))
		return malformed(r, "bad field name");
	if (r->st.name_len < sizeof(r->st.name))
		r->st.name[r->st.name_len] = mps_http_lower(b);
	r->st.name_len++;
	return APR_SUCCESS;
}

/* One content byte of a head line (never CR or LF: the reader's). */
static apr_status_t
head_byte(mps_http_resp_t *r, uint8_t b)
{
	switch (r->st.state) {
	case ST_LEAD:
		if (b != 'H')
			return malformed(r, "bad status line");
		r->st.idx = 1;
		r->st.state = ST_STATUS;
		return APR_SUCCESS;
	case ST_STATUS:
		return status_byte(r, b);
	case ST_CODE_END:
		if (b != ' ')
			return malformed(r, mps_http_is_digit(b) ? "bad status code" :
			    "bad status line");
		r->st.state = ST_REASON;
		return APR_SUCCESS;
	case ST_REASON:
		if (!mps_http_is_value_char(b))
			return malformed(r, "bad reason phrase");
		return APR_SUCCESS;
	case ST_LINE_START:
		return field_start(r, b);
	case ST_NAME:
		return name_byte(r, b);
	case ST_VALUE:
		if (!mps_http_is_value_char(b))
			return malformed(r, "control character in a field");
		if (r->st.field == FLD_OTHER)
			return APR_SUCCESS;
		return list_byte(r, b);
	default:
		return malformed(r, "framer state");
	}
}

/*
 * One part of a head line from in, through the line reader (which takes
 * CRLF or a bare LF and bounds the line), within what is left of the
 * head's budget. *took is how many bytes of in belong to the response,
 * also when it fails (those before the offending byte).
 */
static apr_status_t
head_step(mps_http_resp_t *r, mps_buf_t *in, size_t *took)
{
	mps_buf_t part_in;
	mps_buf_line_part_t part;
	const uint8_t *p;
	size_t n = mps_buf_len(in), k;
	apr_status_t rv = APR_SUCCESS;

	*took = 0;
	if (r->st.head_len == r->st.max_head)
		return too_large(r, "head too large");
	if (n > r->st.max_head - r->st.head_len)
		n = r->st.max_head - r->st.head_len;
	mps_buf_view(&part_in, mps_buf_ptr(in), n);
	rv = mps_buf_get_line_part(&part_in, &r->st.line, &part, &p, &n);
	if (rv != APR_SUCCESS) {
		if (r->st.line.fault == MPS_BUF_LINE_TOO_LONG)
			return too_large(r, "line too long");
		return malformed(r, "CR without LF");
	}
	/* Counted before the part is acted on: the LF that ends an interim
	 * head starts the next head's count from 0. */
	r->st.head_len += n;
	switch (part) {
	case MPS_BUF_LINE_TEXT:
		for (k = 0; k < n && rv == APR_SUCCESS; k++)
			rv = head_byte(r, p[k]);
		*took = rv == APR_SUCCESS ? n : k - 1;
		break;
	case MPS_BUF_LINE_CR:
		rv = line_end_byte(r, '\r');
		break;
	default:
		/* After a CR the line could end; a bare LF is both. */
		rv = r->st.state == ST_LF ? end_line(r) :
		    line_end_byte(r, '\n');
		break;
	}
	if (rv == APR_SUCCESS)
		*took = n;
	(void)mps_buf_consume(in, *took);
	return rv;
}

/* ---- Feeding ---- */

static int
in_body(const mps_http_resp_t *r)
{
	return r->st.state == ST_BODY_LENGTH ||
	    r->st.state == ST_BODY_CHUNKED || r->st.state == ST_BODY_CLOSE;
}

/* Body bytes from in; *took says how many were the response's (and are
 * consumed). Any status but MPS_NEED_MORE and APR_SUCCESS is an error
 * already recorded. */
static apr_status_t
body_step(mps_http_resp_t *r, mps_buf_t *in, size_t *took)
{
	size_t len = mps_buf_len(in);
	apr_status_t rv;

	*took = len;
	switch (r->st.state) {
	case ST_BODY_LENGTH:
		if ((uint64_t)len >= r->st.remaining) {
			*took = (size_t)r->st.remaining;
			r->st.state = ST_DONE;
		}
		r->st.remaining -= *took;
		rv = r->st.state == ST_DONE ? APR_SUCCESS : MPS_NEED_MORE;
		break;
	case ST_BODY_CHUNKED:
		rv = mps_http_chunked_feed(&r->st.chunked, mps_buf_ptr(in), len,
		    took);
		if (rv == APR_SUCCESS)
			r->st.state = ST_DONE;
		else if (rv != MPS_NEED_MORE)
			rv = fail(r, rv, r->st.chunked.why);
		break;
	default:			/* ST_BODY_CLOSE */
		rv = MPS_NEED_MORE;
		break;
	}
	(void)mps_buf_consume(in, *took);
	return rv;
}

apr_status_t
mps_http_resp_feed(mps_http_resp_t *r, const void *data, size_t len,
    size_t *used)
{
	mps_buf_t in;
	size_t took;
	apr_status_t rv;

	*used = 0;
	if (r->st.state == ST_DONE)
		return APR_SUCCESS;
	if (r->st.state == ST_FAILED)
		return r->st.rv;
	if (data == NULL && len != 0)
		return APR_EINVAL;
	mps_buf_view(&in, data, len);
	while (mps_buf_len(&in) > 0) {
		if (in_body(r))
			rv = body_step(r, &in, &took);
		else
			rv = head_step(r, &in, &took);
		r->total += took;
		if (rv != APR_SUCCESS && rv != MPS_NEED_MORE) {
			*used = len - mps_buf_len(&in);
			return rv;
		}
		if (r->st.state == ST_DONE) {
			*used = len - mps_buf_len(&in);
			return APR_SUCCESS;
		}
	}
	*used = len;
	return MPS_NEED_MORE;
}

apr_status_t
mps_http_resp_eof(mps_http_resp_t *r)
{
	switch (r->st.state) {
	case ST_DONE:
		return APR_SUCCESS;
	case ST_FAILED:
		return r->st.rv;
	case ST_BODY_CLOSE:
		r->st.state = ST_DONE;
		return APR_SUCCESS;
	default:
		return fail(r, APR_EOF, r->total == 0 ?
		    "closed before the response" :
		    "closed in the middle of the response");
	}
}
