/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_chunked.c: the chunked-body framer (see http_chunked.h for the
 * contract).
 *
 * The body is a sequence of lines and data runs. Lines (chunk-size
 * lines, the CRLF after each chunk's data, trailer fields, the final
 * CRLF) are read through the line reader of buf.h, which enforces CRLF
 * and the line cap on every byte; this file checks what the lines say,
 * byte by byte, as their content arrives (the caller keeps no bytes, so
 * a line is never seen whole). Chunk data is skipped in one step.
 *
 * Error offsets: a content byte the grammar refuses is the offending
 * byte; a CR where the line may not end is the CR; a refusal of the line
 * reader leaves the read offset at the byte it refused.
 */
#include "http_chunked.h"
#include "http_chars.h"

#include <string.h>

#include "mps_status.h"

enum {
	CS_SIZE_FIRST = 0,	/* the first hex digit of a chunk-size */
	CS_SIZE,		/* more hex digits, ';', BWS or CR */
	CS_SIZE_WS,		/* BWS after the size or a value: ';' next */
	CS_EXT_SEMI,		/* after ';': BWS, then a name */
	CS_EXT_NAME,
	CS_EXT_NAME_WS,		/* BWS after a name: '=' or ';' next */
	CS_EXT_EQ,		/* after '=': BWS, then a value */
	CS_EXT_VALUE,		/* a token value */
	CS_EXT_QUOTED,		/* inside a quoted-string value */
	CS_EXT_QUOTED_ESC,	/* after a backslash in it */
	CS_EXT_QUOTED_END,	/* after the closing quote */
	CS_SIZE_LF,		/* the CR of the size line was read */
	CS_DATA,		/* `remaining` data bytes */
	CS_DATA_END,		/* the CRLF after the data */
	CS_TR_START,		/* a trailer line or the final CRLF */
	CS_TR_NAME,
	CS_TR_VALUE,
	CS_TR_LF,		/* the CR of a trailer line was read */
	CS_END_LF,		/* the CR of the final CRLF was read */
	CS_DONE,
	CS_FAILED
};

void
mps_http_chunked_init(mps_http_chunked_t *c, size_t max_line,
    size_t max_trailer)
{
	memset(c, 0, sizeof(*c));
	c->state = CS_SIZE_FIRST;
	c->rv = APR_SUCCESS;
	c->why = NULL;
	c->max_line = max_line != 0 ? max_line :
	    MPS_HTTP_CHUNK_DEFAULT_MAX_LINE;
	c->max_trailer = max_trailer != 0 ? max_trailer :
	    MPS_HTTP_CHUNK_DEFAULT_MAX_TRAILER;
	mps_buf_line_init(&c->line, c->max_line, MPS_BUF_LINE_CRLF);
}

static apr_status_t
chunk_fail(mps_http_chunked_t *c, apr_status_t rv, const char *why)
{
	c->state = CS_FAILED;
	c->rv = rv;
	c->why = why;
	return rv;
}

static apr_status_t
malformed(mps_http_chunked_t *c, const char *why)
{
	return chunk_fail(c, MPS_ERR_MALFORMED, why);
}

static int
in_size_line(int state)
{
	return state <= CS_SIZE_LF;
}

static int
in_trailers(int state)
{
	return state >= CS_TR_START && state <= CS_END_LF;
}

/* ---- The chunk-size line: chunk-size *( BWS ";" BWS ext ) ---- */

/* Why a byte the size line's grammar has no place for is refused. */
static const char *
size_line_why(int state)
{
	switch (state) {
	case CS_SIZE_FIRST:
	case CS_SIZE:
		return "chunk size is not hex";
	case CS_SIZE_WS:
		return "bad chunk line";
	default:
		return "bad chunk extension";
	}
}

/* qdtext and the targets of quoted-pair (RFC 9110 §5.6.4). */
static int
is_qdtext(uint8_t c)
{
	return c == '\t' || c == ' ' || c == 0x21 ||
	    (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

static int
is_quoted_pair_char(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One content byte of the size line (never CR or LF: the reader's). */
static apr_status_t
size_byte(mps_http_chunked_t *c, uint8_t b)
{
	int d;

	switch (c->state) {
	case CS_SIZE_FIRST:
	case CS_SIZE:
		if ((d = mps_http_hex_value(b)) >= 0) {
			if (c->size > ((uint64_t)INT64_MAX - (uint64_t)d) / 16)
				return malformed(c, "chunk size overflows");
			c->size = c->size * 16 + (uint64_t)d;
			c->state = CS_SIZE;
			return APR_SUCCESS;
		}
		if (c->state == CS_SIZE_FIRST)
			return malformed(c, size_line_why(c->state));
		break;
	case CS_SIZE_WS:
		if (mps_http_is_ws(b))
			return APR_SUCCESS;
		if (b == ';') {
			c->state = CS_EXT_SEMI;
			return APR_SUCCESS;
		}
		return malformed(c, size_line_why(c->state));
	case CS_EXT_SEMI:
		if (mps_http_is_ws(b))
			return APR_SUCCESS;
		if (mps_http_is_tchar(b)) {
			c->state = CS_EXT_NAME;
			return APR_SUCCESS;
		}
		return malformed(c, size_line_why(c->state));
	case CS_EXT_NAME:
		if (mps_http_is_tchar(b))
			return APR_SUCCESS;
		if (b == '=') {
			c->state = CS_EXT_EQ;
			return APR_SUCCESS;
		}
		if (mps_http_is_ws(b)) {
			c->state = CS_EXT_NAME_WS;
			return APR_SUCCESS;
		}
		break;
	case CS_EXT_NAME_WS:
		if (mps_http_is_ws(b))
			return APR_SUCCESS;
		if (b == '=') {
			c->state = CS_EXT_EQ;
			return APR_SUCCESS;
		}
		if (b == ';') {
			c->state = CS_EXT_SEMI;
			return APR_SUCCESS;
		}
		return malformed(c, size_line_why(c->state));
	case CS_EXT_EQ:
		if (mps_http_is_ws(b))
			return APR_SUCCESS;
		if (b == '"') {
			c->state = CS_EXT_QUOTED;
			return APR_SUCCESS;
		}
		if (mps_http_is_tchar(b)) {
			c->state = CS_EXT_VALUE;
			return APR_SUCCESS;
		}
		return malformed(c, size_line_why(c->state));
	case CS_EXT_VALUE:
		if (mps_http_is_tchar(b))
			return APR_SUCCESS;
		break;
	case CS_EXT_QUOTED:
		if (b == '"')
			c->state = CS_EXT_QUOTED_END;
		else if (b == '\\')
			c->state = CS_EXT_QUOTED_ESC;
		else if (!is_qdtext(b))
			return malformed(c, size_line_why(c->state));
		return APR_SUCCESS;
	case CS_EXT_QUOTED_ESC:
		if (!is_quoted_pair_char(b))
			return malformed(c, size_line_why(c->state));
		c->state = CS_EXT_QUOTED;
		return APR_SUCCESS;
	case CS_EXT_QUOTED_END:
		break;
	default:
		return malformed(c, "chunk state");
	}
	/* After a size, a name, a value or a quoted value: ';' or BWS. */
	if (b == ';') {
		c->state = CS_EXT_SEMI;
		return APR_SUCCESS;
	}
	if (mps_http_is_ws(b)) {
		c->state = CS_SIZE_WS;
		return APR_SUCCESS;
	}
	return malformed(c, size_line_why(c->state));
}

/* The CR of the size line: only after a size, a name or a value (RFC
 * 9112 has no BWS before the line end). */
static apr_status_t
size_cr(mps_http_chunked_t *c)
{
	switch (c->state) {
	case CS_SIZE:
	case CS_EXT_NAME:
	case CS_EXT_VALUE:
	case CS_EXT_QUOTED_END:
		c->state = CS_SIZE_LF;
		return APR_SUCCESS;
	default:
		return malformed(c, size_line_why(c->state));
	}
}

/* The size line is complete: data follows, or the trailers. */
static void
size_lf(mps_http_chunked_t *c)
{
	c->remaining = c->size;
	if (c->size == 0) {
		c->state = CS_TR_START;
		mps_buf_line_init(&c->line, c->max_trailer, MPS_BUF_LINE_CRLF);
	} else
		c->state = CS_DATA;
}

/* ---- The trailer section: *( field-line CRLF ) CRLF ---- */

static apr_status_t
trailer_byte(mps_http_chunked_t *c, uint8_t b)
{
	switch (c->state) {
	case CS_TR_START:
		if (!mps_http_is_tchar(b))
			return malformed(c, "bad trailer field");
		c->state = CS_TR_NAME;
		return APR_SUCCESS;
	case CS_TR_NAME:
		if (b == ':')
			c->state = CS_TR_VALUE;
		else if (!mps_http_is_tchar(b))
			return malformed(c, "bad trailer field");
		return APR_SUCCESS;
	case CS_TR_VALUE:
		if (!mps_http_is_value_char(b))
			return malformed(c, "bad trailer field");
		return APR_SUCCESS;
	default:
		return malformed(c, "chunk state");
	}
}

static apr_status_t
trailer_cr(mps_http_chunked_t *c)
{
	switch (c->state) {
	case CS_TR_START:
		c->state = CS_END_LF;
		return APR_SUCCESS;
	case CS_TR_VALUE:
		c->state = CS_TR_LF;
		return APR_SUCCESS;
	default:
		return malformed(c, "bad trailer field");
	}
}

/* ---- Lines ---- */

/* A refusal of the line reader, in the words of the part being read. */
static apr_status_t
line_refused(mps_http_chunked_t *c, apr_status_t rv)
{
	switch (c->line.fault) {
	case MPS_BUF_LINE_TOO_LONG:
		if (c->state == CS_DATA_END)
			break;
		return chunk_fail(c, rv, in_size_line(c->state) ?
		    "chunk line too long" : "trailers too large");
	case MPS_BUF_LINE_LONE_CR:
		if (in_size_line(c->state))
			return malformed(c, "chunk line without CRLF");
		if (in_trailers(c->state))
			return malformed(c, "CR without LF in the trailers");
		break;
	default:		/* a bare LF */
		if (in_size_line(c->state))
			return malformed(c, size_line_why(c->state));
		if (in_trailers(c->state))
			return malformed(c, "bad trailer field");
		break;
	}
	return malformed(c, "chunk data without CRLF");
}

/* Content bytes of a line: the grammar of the line being read. *k is
 * how many were accepted. */
static apr_status_t
line_text(mps_http_chunked_t *c, const uint8_t *p, size_t n, size_t *k)
{
	apr_status_t rv;

	for (*k = 0; *k < n; (*k)++) {
		if (in_size_line(c->state))
			rv = size_byte(c, p[*k]);
		else if (in_trailers(c->state))
			rv = trailer_byte(c, p[*k]);
		else
			rv = malformed(c, "chunk data without CRLF");
		if (rv != APR_SUCCESS)
			return rv;
	}
	return APR_SUCCESS;
}

static apr_status_t
line_cr(mps_http_chunked_t *c)
{
	if (in_size_line(c->state))
		return size_cr(c);
	if (in_trailers(c->state))
		return trailer_cr(c);
	return APR_SUCCESS;		/* CS_DATA_END: its LF comes next */
}

static void
line_lf(mps_http_chunked_t *c)
{
	switch (c->state) {
	case CS_SIZE_LF:
		size_lf(c);
		break;
	case CS_TR_LF:
		c->state = CS_TR_START;
		break;
	case CS_END_LF:
		c->state = CS_DONE;
		break;
	default:		/* CS_DATA_END: the next chunk-size line */
		c->size = 0;
		c->state = CS_SIZE_FIRST;
		mps_buf_line_init(&c->line, c->max_line, MPS_BUF_LINE_CRLF);
		break;
	}
}

/*
 * One part of a line from in (at most the trailer budget in the
 * trailers). *took is how many bytes of in belong to the body, also
 * when it fails (those before the offending byte).
 */
static apr_status_t
line_step(mps_http_chunked_t *c, mps_buf_t *in, size_t *took)
{
	mps_buf_t part_in;
	mps_buf_line_part_t part;
	const uint8_t *p;
	size_t n = mps_buf_len(in), k;
	apr_status_t rv;

	*took = 0;
	if (in_trailers(c->state)) {
		if (c->trailer_len == c->max_trailer)
			return chunk_fail(c, MPS_ERR_TOO_LARGE,
			    "trailers too large");
		if (n > c->max_trailer - c->trailer_len)
			n = c->max_trailer - c->trailer_len;
	}
	mps_buf_view(&part_in, mps_buf_ptr(in), n);
	rv = mps_buf_get_line_part(&part_in, &c->line, &part, &p, &n);
	if (rv != APR_SUCCESS)
		return line_refused(c, rv);
	if (in_trailers(c->state))
		c->trailer_len += n;
	switch (part) {
	case MPS_BUF_LINE_TEXT:
		rv = line_text(c, p, n, &k);
		*took = k;
		break;
	case MPS_BUF_LINE_CR:
		rv = line_cr(c);
		*took = rv == APR_SUCCESS ? 1 : 0;
		break;
	default:
		line_lf(c);
		*took = 1;
		break;
	}
	(void)mps_buf_consume(in, *took);
	return rv;
}

apr_status_t
mps_http_chunked_feed(mps_http_chunked_t *c, const void *data, size_t len,
    size_t *used)
{
	mps_buf_t in;
	size_t took;
	apr_status_t rv;

	*used = 0;
	if (c->state == CS_DONE)
		return APR_SUCCESS;
	if (c->state == CS_FAILED)
		return c->rv;
	if (data == NULL && len != 0)
		return APR_EINVAL;
	mps_buf_view(&in, data, len);
	while (mps_buf_len(&in) > 0) {
		if (c->state == CS_DATA) {
			/* Data is passed over in one step, not per byte. */
			took = mps_buf_len(&in);
			if ((uint64_t)took > c->remaining)
				took = (size_t)c->remaining;
			(void)mps_buf_consume(&in, took);
			c->remaining -= took;
			c->total += took;
			if (c->remaining == 0) {
				c->state = CS_DATA_END;
				mps_buf_line_init(&c->line, 0,
				    MPS_BUF_LINE_CRLF);
			}
			continue;
		}
		rv = line_step(c, &in, &took);
		c->total += took;
		if (rv != APR_SUCCESS) {
			*used = len - mps_buf_len(&in);
			return rv;
		}
		if (c->state == CS_DONE) {
			*used = len - mps_buf_len(&in);
			return APR_SUCCESS;
		}
	}
	*used = len;
	return MPS_NEED_MORE;
}
