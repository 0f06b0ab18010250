/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_head.h: HTTP/1.x request heads for the built-in HTTP proxy (the
 * console side), as pure functions over bytes.
 *
 * The proxy's HTTP code, one job per file:
 *   http_head     parse a console's request head (this file)
 *   http_origin   write a parsed head as the device gets it
 *   http_basic    Proxy-Authorization: Basic credentials
 *   http_chunked  where a chunked body ends (both directions)
 *   http_response where a device's response ends
 *   http_reply    the responses the proxy writes itself
 *   http_chars    the character classes all of them share
 * Every untrusted byte is read through the line reader of buf.h.
 *
 * No I/O, no logging, no policy, no allocation while parsing, no global
 * state. The proxy reads from the console socket into a buffer, hands the
 * bytes here and acts on the verdict: which device and port, whether the
 * request may go on (its own policy), what to send upstream, where the
 * body ends and the next pipelined request begins.
 *
 * Why our own parser: Debian 12 has no llhttp C library (node-llhttp
 * carries only its TypeScript sources) and ships just the archived nodejs
 * http-parser (libhttp-parser-dev 2.9.4, unmaintained upstream since
 * 2022). A proxy's parser is exactly where request smuggling lives, and we
 * need a small fraction of HTTP, so this is a small, strict parser: it
 * takes what curl, Apache's mod_proxy and AMT consoles send and refuses
 * every ambiguity instead of guessing. Its unit test feeds every valid
 * head truncated at every byte, in every split, and a mutation loop.
 *
 * ---- Request heads ----
 *
 * Incremental: the caller accumulates the console's bytes and calls
 * mps_http_head_parse() with ALL of them (the same prefix, grown) after
 * every read; the parser resumes where it stopped, so byte-at-a-time
 * input costs O(n) in total. It answers MPS_NEED_MORE until the empty
 * line that ends the head, then APR_SUCCESS with *consumed = the head's
 * length. Bytes after the head (a body, a pipelined request, TLS bytes
 * after CONNECT) are never looked at and never counted in *consumed.
 * Each line is checked as soon as it is complete, so a bad request line
 * or field is refused without waiting for the rest of the head.
 *
 * Results are spans (offset, length) into the caller's bytes, not copies:
 * h->base is the data pointer of the LAST parse call, so a span is valid
 * while those bytes stay where they are. If the caller's buffer moves
 * (mps_buf grows by reallocation), calling mps_http_head_parse() again
 * with the same bytes at their new address re-bases the results.
 *
 * Return values of mps_http_head_parse() and what the proxy answers
 * (h->reply_status holds the code, h->why a short static reason for the
 * log; both are set on every error):
 *   APR_SUCCESS        a complete, well-formed head; see h->form
 *   MPS_NEED_MORE      a prefix of a head that may still become valid
 *   MPS_ERR_MALFORMED  400: can never become valid
 *   MPS_ERR_TOO_LARGE  414 (request line over max_line) or 431 (a field
 *                      line over max_line, more than max_fields fields,
 *                      or a head over max_head)
 *   MPS_ERR_PROTOCOL   505: HTTP/0.9, HTTP/2, anything but 1.0 and 1.1
 *   APR_EINVAL         bad arguments (limits out of range, fewer bytes
 *                      than a previous call)
 * Errors are sticky: later calls return the same error. Close the
 * connection after answering any of them.
 *
 * Decisions (each one a way to keep the proxy and the device from
 * disagreeing about where a request starts or ends):
 *  - Line ends: CRLF, or a bare LF (RFC 9112 §2.2 allows a recipient to
 *    accept it, and hand-written console scripts send it). A CR anywhere
 *    but right before LF is malformed, refused as soon as the byte after
 *    it arrives. A line over max_line is refused as soon as its content
 *    byte max_line + 1 arrives. The head is never forwarded as received
 *    (CONNECT forwards none of it, absolute-form is rewritten with CRLF
 *    by mps_http_head_write_origin()), so leniency here cannot reach the
 *    device. Chunked bodies ARE forwarded as received, so the chunked
 *    framer (http_chunked.h) accepts CRLF only.
 *  - Empty lines before the request line are skipped (RFC 9112 §2.2:
 *    clients may send an extra CRLF after a POST body); they count in
 *    *consumed and against max_head.
 *  - Request line: token, one SP, request-target (visible ASCII), one SP,
 *    "HTTP/1.0" or "HTTP/1.1"; "HTTP/" DIGIT ["." DIGIT] with any other
 *    version, and a line with no version at all (HTTP/0.9), are 505;
 *    anything else (extra spaces, lower case "http/1.1") is 400.
 *  - Field lines: a token name, ':' with no whitespace before it, a value
 *    of visible ASCII, obs-text, SP and HTAB; OWS around the value is not
 *    part of it. A line starting with SP or HTAB (obs-fold) is 400: it is
 *    a classic smuggling vector and no current client folds.
 *  - Request-target: CONNECT needs authority-form "host:port" (port 1 to
 *    65535, mandatory) and authority-form needs CONNECT. Other methods
 *    take absolute-form "http://" or "https://" authority [path] [?query]
 *    (scheme case-insensitive; any other scheme, a fragment, userinfo
 *    "u:p@" or an empty port is 400: a proxy never forwards credentials
 *    carried in a URI), origin-form "/path" (a request to the proxy
 *    itself) or "*" (OPTIONS only). The form is reported; the caller
 *    answers origin-form and https with its own status.
 *  - Hosts: a name of letters, digits, '-', '_' and '.' (labels 1-63
 *    bytes, at most 253 bytes plus an optional final dot), a dotted-quad
 *    IPv4 address (no leading zeros) or a bracketed IPv6 address (no zone
 *    id). A name whose last label is numeric ("127.1", "2130706433",
 *    "0x7f000001") must be a proper dotted quad: resolvers read such
 *    names as addresses, so they must not pass as device names.
 *  - Host field: at most one (RFC 9112 §3.2), and it must be a valid
 *    host [":" port] or empty. It is not required: for absolute-form it
 *    is replaced by the URI's authority anyway (RFC 9112 §3.2.2).
 *  - Content-Length: digits only, at most INT64_MAX. Repeats (separate
 *    fields or a list "5, 5") are accepted when every value is the same
 *    number (RFC 9110 §8.6), otherwise 400; the forwarded head carries
 *    exactly one canonical Content-Length.
 *  - Transfer-Encoding: a list of tokens (no parameters) whose final
 *    coding is "chunked", with "chunked" exactly once; anything else is
 *    400 (RFC 9112 §6.3), and so are Transfer-Encoding with
 *    Content-Length (the smuggling case) and Transfer-Encoding in an
 *    HTTP/1.0 request (RFC 9112 §6.1).
 *  - CONNECT has no body (RFC 9110 §9.3.6): Transfer-Encoding or a
 *    non-zero Content-Length on it is 400, because its payload could
 *    then be read as body or as tunnel.
 *  - Connection and Proxy-Connection: token lists (400 otherwise); close,
 *    keep-alive and upgrade are flagged. Persistence: "close" in either
 *    ends the connection; otherwise HTTP/1.1 persists and HTTP/1.0
 *    persists only with "keep-alive" in either (curl sends the
 *    non-standard Proxy-Connection: Keep-Alive).
 *  - Proxy-Authorization: at most one; its scheme is reported (Basic or
 *    other) with the credentials span; decoding is separate
 *    (http_basic.h), so bad credentials become the caller's 407, not a
 *    400.
 *  - Expect: "100-continue" (case-insensitive) or other (caller: 417).
 *
 * Thread-safety: every function is reentrant; a head belongs to one
 * connection.
 */
#ifndef MPS_HTTP_HEAD_H
#define MPS_HTTP_HEAD_H

#include <apr_errno.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* ---- Limits ---- */

/* Capacity of mps_http_head_t.fields: the largest allowed max_fields. */
#define MPS_HTTP_MAX_FIELDS		128

/* Defaults used when the limits argument is NULL. */
#define MPS_HTTP_DEFAULT_MAX_HEAD	16384
#define MPS_HTTP_DEFAULT_MAX_LINE	8192
#define MPS_HTTP_DEFAULT_MAX_FIELDS	100

typedef struct mps_http_limits_t {
	size_t max_head;	/* the whole head, line ends included;
				 * 1 .. UINT32_MAX */
	size_t max_line;	/* one line without its line end; >= 1 */
	size_t max_fields;	/* field lines; 0 .. MPS_HTTP_MAX_FIELDS */
} mps_http_limits_t;

/* ---- Parsed request head ---- */

/* A run of bytes inside the parsed data: h->base + off, len bytes. */
typedef struct mps_http_span_t {
	uint32_t off;
	uint32_t len;
} mps_http_span_t;

typedef enum {
	MPS_HTTP_FORM_NONE = 0,		/* not parsed yet */
	MPS_HTTP_FORM_ORIGIN,		/* "/path": meant for the proxy itself */
	MPS_HTTP_FORM_ABSOLUTE,		/* "http(s)://authority/path" */
	MPS_HTTP_FORM_AUTHORITY,	/* "host:port", CONNECT only */
	MPS_HTTP_FORM_ASTERISK		/* "*", OPTIONS only */
} mps_http_form_t;

typedef enum {
	MPS_HTTP_SCHEME_NONE = 0,	/* not absolute-form */
	MPS_HTTP_SCHEME_HTTP,
	MPS_HTTP_SCHEME_HTTPS		/* not forwarded by a plain proxy */
} mps_http_scheme_t;

typedef enum {
	MPS_HTTP_HOST_NONE = 0,
	MPS_HTTP_HOST_NAME,
	MPS_HTTP_HOST_IPV4,
	MPS_HTTP_HOST_IPV6		/* span excludes the brackets */
} mps_http_host_t;

typedef enum {
	MPS_HTTP_BODY_NONE = 0,		/* no body: the next request follows */
	MPS_HTTP_BODY_LENGTH,		/* content_length bytes (may be 0) */
	MPS_HTTP_BODY_CHUNKED		/* use mps_http_chunked_t */
} mps_http_body_t;

typedef enum {
	MPS_HTTP_AUTH_NONE = 0,
	MPS_HTTP_AUTH_BASIC,		/* credentials: the base64 token */
	MPS_HTTP_AUTH_OTHER		/* an unsupported scheme */
} mps_http_auth_t;

typedef enum {
	MPS_HTTP_EXPECT_NONE = 0,
	MPS_HTTP_EXPECT_CONTINUE,	/* 100-continue */
	MPS_HTTP_EXPECT_OTHER		/* anything else: 417 */
} mps_http_expect_t;

/* Fields the parser knows by name (mps_http_field_t.id). */
enum {
	MPS_HTTP_F_OTHER = 0,
	MPS_HTTP_F_HOST,
	MPS_HTTP_F_CONTENT_LENGTH,
	MPS_HTTP_F_TRANSFER_ENCODING,
	MPS_HTTP_F_CONNECTION,
	MPS_HTTP_F_PROXY_CONNECTION,
	MPS_HTTP_F_KEEP_ALIVE,
	MPS_HTTP_F_PROXY_AUTHORIZATION,
	MPS_HTTP_F_PROXY_AUTHENTICATE,
	MPS_HTTP_F_TE,
	MPS_HTTP_F_TRAILER,
	MPS_HTTP_F_UPGRADE,
	MPS_HTTP_F_EXPECT,
	MPS_HTTP_F_VIA
};

/* Connection / Proxy-Connection tokens seen (bit set). */
#define MPS_HTTP_CONN_CLOSE		0x1
#define MPS_HTTP_CONN_KEEP_ALIVE	0x2
#define MPS_HTTP_CONN_UPGRADE		0x4

typedef struct mps_http_field_t {
	mps_http_span_t name;		/* as received */
	mps_http_span_t value;		/* without surrounding OWS */
	int id;				/* MPS_HTTP_F_* */
} mps_http_field_t;

/*
 * One request head. Initialise with mps_http_head_init() before the first
 * parse call of each request. The public fields are meaningful after
 * APR_SUCCESS (reply_status and why after an error) and must not be
 * written by the caller. Embeddable: about 3 KiB, no pointers to free.
 */
typedef struct mps_http_head_t {
	const uint8_t *base;		/* data of the last parse call */
	size_t head_len;		/* bytes of the head (== *consumed) */

	mps_http_span_t method;
	int is_connect;			/* method is exactly "CONNECT" */
	mps_http_span_t target;		/* the request-target as received */
	int version;			/* 10 or 11 */

	mps_http_form_t form;
	mps_http_scheme_t scheme;	/* absolute-form only */
	mps_http_span_t authority;	/* authority/absolute: "host[:port]" */
	mps_http_span_t host;		/* authority/absolute: the host */
	mps_http_host_t host_type;
	uint16_t port;			/* given, or 80/443 by scheme */
	mps_http_span_t path;		/* origin/absolute: path and query */
	int path_slash;			/* a "/" must be put before path */

	mps_http_body_t body;
	uint64_t content_length;	/* MPS_HTTP_BODY_LENGTH only */

	unsigned conn;			/* MPS_HTTP_CONN_* from Connection */
	unsigned proxy_conn;		/* ... from Proxy-Connection */
	int persistent;			/* the client connection persists */
	int host_field;			/* index of Host in fields, or -1 */
	int upgrade;			/* an Upgrade field is present */
	mps_http_expect_t expect;
	mps_http_auth_t proxy_auth;
	mps_http_span_t credentials;	/* after the auth scheme and SPs */

	size_t nfields;
	mps_http_field_t fields[MPS_HTTP_MAX_FIELDS];

	unsigned reply_status;		/* after an error: 400, 414, 431, 505 */
	const char *why;		/* after an error: static text */

	struct {			/* parser state: private */
		int state;
		apr_status_t rv;	/* the sticky result once failed */
		size_t pos;		/* start of the first unprocessed line */
		int started;		/* line is set up (limits known) */
		mps_buf_line_t line;	/* the line reader: where it stopped */
		int cl_seen;
		unsigned te_codings;	/* transfer codings seen */
		unsigned te_chunked;	/* ... of which "chunked" */
		int te_last_chunked;	/* the last one was "chunked" */
	} st;
} mps_http_head_t;

/* Pointer to a span's first byte (valid while h->base's bytes are). */
static inline const char *
mps_http_span_ptr(const mps_http_head_t *h, mps_http_span_t s)
{
	return (const char *)h->base + s.off;
}

/* Makes h ready to parse a new request head. */
void mps_http_head_init(mps_http_head_t *h);

/*
 * Parses the request head at the start of data[0 .. len) (see the top of
 * this file for the results and the rules). limits may be NULL for the
 * defaults and must be the same on every call for one head. On
 * APR_SUCCESS *consumed is the head's length; otherwise 0.
 */
apr_status_t mps_http_head_parse(mps_http_head_t *h, const void *data,
    size_t len, const mps_http_limits_t *limits, size_t *consumed);

/*
 * Index of the first field at or after index from whose name equals name
 * (case-insensitive), or -1.
 */
int mps_http_head_find(const mps_http_head_t *h, const char *name,
    size_t from);

/* Whether a Connection field lists the token name (case-insensitive):
 * such fields are hop-by-hop (RFC 9110 §7.6.1). */
int mps_http_head_connection_lists(const mps_http_head_t *h,
    const char *name, size_t len);

/* Whether the last parse call returned APR_SUCCESS: h describes a
 * complete, well-formed head. */
int mps_http_head_complete(const mps_http_head_t *h);

#endif /* MPS_HTTP_HEAD_H */
