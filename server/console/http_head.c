/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_head.c: HTTP/1.x request heads and chunked bodies for the HTTP
 * proxy (see http_head.h for the contracts and the decisions).
 *
 * The head parser works line by line: the line reader of buf.h finds the
 * next line end and checks the line's length and its CRs as the bytes
 * arrive, then this file parses that one complete line (the request line
 * or a field line) and records what it found. A line's content is only
 * looked at once it is complete, so a truncated head is MPS_NEED_MORE
 * unless the line reader already knows it can never become valid (a line
 * over max_line, a CR not followed by LF).
 *
 * Every index below is checked against the length of the line or value
 * it walks; spans are stored as uint32_t because max_head is at most
 * UINT32_MAX, which limits_ok() enforces.
 */
#include "http_head.h"
#include "http_chars.h"

#include <arpa/inet.h>
#include <string.h>

#include "mps_status.h"

enum {
	ST_REQUEST_LINE = 0,
	ST_FIELDS,
	ST_DONE,
	ST_FAILED
};

static const mps_http_limits_t default_limits = {
	MPS_HTTP_DEFAULT_MAX_HEAD,
	MPS_HTTP_DEFAULT_MAX_LINE,
	MPS_HTTP_DEFAULT_MAX_FIELDS
};

/* ---- Character classes (RFC 9110 §5.6, RFC 3986 §2) ---- */

/* Whether p[0 .. n) equals the NUL-terminated lit, ignoring ASCII case. */
static int
ci_eq(const uint8_t *p, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (lit[i] == '\0' || mps_http_lower(p[i]) != mps_http_lower((uint8_t)lit[i]))
			return 0;
	}
	return lit[n] == '\0';
}

static int
is_token(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!mps_http_is_tchar(p[i]))
			return 0;
	}
	return 1;
}

/*
 * Steps *pos over the next element of a comma-separated list value
 * (RFC 9110 §5.6.1) and sets [*e0, *e0 + *elen) to it without OWS. Empty
 * elements are returned too (callers skip or refuse them). Start with
 * *pos = 0; returns 0 once the value is exhausted.
 */
static int
list_next(const uint8_t *v, size_t n, size_t *pos, size_t *e0, size_t *elen)
{
	size_t i = *pos, s, e;

	if (i > n)
		return 0;
	s = i;
	while (i < n && v[i] != ',')
		i++;
	e = i;
	*pos = i + 1;
	while (s < e && mps_http_is_ws(v[s]))
		s++;
	while (e > s && mps_http_is_ws(v[e - 1]))
		e--;
	*e0 = s;
	*elen = e - s;
	return 1;
}

static mps_http_span_t
span(size_t off, size_t len)
{
	mps_http_span_t s;

	s.off = (uint32_t)off;
	s.len = (uint32_t)len;
	return s;
}

static const uint8_t *
span_bytes(const mps_http_head_t *h, mps_http_span_t s)
{
	return h->base + s.off;
}

/* ---- Hosts and authorities ---- */

/* A strict dotted quad: four decimal octets, no leading zeros. */
static int
is_ipv4(const uint8_t *p, size_t n)
{
	size_t i = 0;
	int part, digits;
	unsigned v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || p[i] != '.')
				return 0;
			i++;
		}
		v = 0;
		digits = 0;
		while (i < n && mps_http_is_digit(p[i])) {
			if (digits > 0 && v == 0)
				return 0;	/* a leading zero: octal to some */
			v = v * 10 + (unsigned)(p[i] - '0');
			if (v > 255)
				return 0;
			digits++;
			i++;
		}
		if (digits == 0)
			return 0;
	}
	return i == n;
}

/* An IPv6 address as it appears between brackets (no zone id). */
static int
is_ipv6(const uint8_t *p, size_t n)
{
	char text[INET6_ADDRSTRLEN];
	struct in6_addr addr;
	size_t i;

	if (n == 0 || n >= sizeof(text))
		return 0;
	for (i = 0; i < n; i++) {
		if (mps_http_hex_value(p[i]) < 0 && p[i] != ':' && p[i] != '.')
			return 0;
	}
	memcpy(text, p, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, &addr) == 1;
}

/* Whether a label looks like a number to an address parser: decimal
 * digits, or "0x" and hex digits (inet_aton reads both). */
static int
numeric_label(const uint8_t *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		for (i = 2; i < n; i++) {
			if (mps_http_hex_value(p[i]) < 0)
				return 0;
		}
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (!mps_http_is_digit(p[i]))
			return 0;
	}
	return 1;
}

/*
 * A registered name or an IPv4 address (see http_head.h). Returns the
 * host type, or MPS_HTTP_HOST_NONE when p[0 .. n) is neither.
 */
static mps_http_host_t
classify_host(const uint8_t *p, size_t n)
{
	size_t i, label = 0, last = 0, stop = n;

	if (n > 0 && p[n - 1] == '.')
		stop = n - 1;		/* one final dot: a rooted FQDN */
	if (stop == 0 || stop > 253)
		return MPS_HTTP_HOST_NONE;
	for (i = 0; i < stop; i++) {
		uint8_t c = p[i];

		if (c == '.') {
			if (label == 0)
				return MPS_HTTP_HOST_NONE;
			label = 0;
			last = i + 1;
			continue;
		}
		if (!mps_http_is_alpha(c) && !mps_http_is_digit(c) && c != '-' && c != '_')
			return MPS_HTTP_HOST_NONE;
		if (++label > 63)
			return MPS_HTTP_HOST_NONE;
	}
	if (label == 0)
		return MPS_HTTP_HOST_NONE;
	if (numeric_label(p + last, stop - last))
		return is_ipv4(p, n) ? MPS_HTTP_HOST_IPV4 : MPS_HTTP_HOST_NONE;
	return MPS_HTTP_HOST_NAME;
}

struct authority {
	size_t host_off;	/* relative to the authority's start */
	size_t host_len;
	mps_http_host_t type;
	uint16_t port;
};

/*
 * Parses host [":" port] in a[0 .. n). The port is 1 to 65535 in at most
 * five digits; without one, port_required fails and default_port is used.
 * Returns NULL or why it failed.
 */
static const char *
parse_authority(const uint8_t *a, size_t n, int port_required,
    uint16_t default_port, struct authority *out)
{
	size_t i, hs, he;
	unsigned long port = 0;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return "empty host";
	if (memchr(a, '@', n) != NULL)
		return "userinfo in the request-target";
	if (a[0] == '[') {
		const uint8_t *rb = memchr(a, ']', n);

		if (rb == NULL)
			return "unterminated IPv6 literal";
		hs = 1;
		he = (size_t)(rb - a);
		if (!is_ipv6(a + hs, he - hs))
			return "bad IPv6 literal";
		out->type = MPS_HTTP_HOST_IPV6;
		i = he + 1;
	} else {
		hs = 0;
		he = 0;
		while (he < n && a[he] != ':')
			he++;
		out->type = classify_host(a, he);
		if (out->type == MPS_HTTP_HOST_NONE)
			return "bad host name";
		i = he;
	}
	out->host_off = hs;
	out->host_len = he - hs;
	if (i == n) {
		if (port_required)
			return "missing port";
		out->port = default_port;
		return NULL;
	}
	if (a[i] != ':')
		return "bad authority";
	i++;
	if (i == n || n - i > 5)
		return "bad port";
	for (; i < n; i++) {
		if (!mps_http_is_digit(a[i]))
			return "bad port";
		port = port * 10 + (unsigned long)(a[i] - '0');
	}
	if (port == 0 || port > 65535)
		return "port out of range";
	out->port = (uint16_t)port;
	return NULL;
}

/*
 * Path and query of origin- or absolute-form. The request line already
 * holds only visible ASCII; here a fragment (never sent in a request) and
 * broken percent-encoding are refused.
 */
static const char *
check_path(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '#')
			return "fragment in the request-target";
		if (p[i] == '%') {
			if (n - i < 3 || mps_http_hex_value(p[i + 1]) < 0 ||
			    mps_http_hex_value(p[i + 2]) < 0)
				return "bad percent-encoding";
			i += 2;
		}
	}
	return NULL;
}

/* ---- The head parser ---- */

static apr_status_t
fail(mps_http_head_t *h, apr_status_t rv, unsigned status, const char *why)
{
	h->st.state = ST_FAILED;
	h->st.rv = rv;
	h->reply_status = status;
	h->why = why;
	return rv;
}

static apr_status_t
malformed(mps_http_head_t *h, const char *why)
{
	return fail(h, MPS_ERR_MALFORMED, 400, why);
}

void
mps_http_head_init(mps_http_head_t *h)
{
	/* The field array is not cleared: nfields guards it, and wiping
	 * 2.5 KiB per keep-alive request would be wasted work. */
	memset(h, 0, offsetof(mps_http_head_t, fields));
	h->host_field = -1;
	h->reply_status = 0;
	h->why = NULL;
	memset(&h->st, 0, sizeof(h->st));
	h->st.state = ST_REQUEST_LINE;
}

static int
limits_ok(const mps_http_limits_t *l)
{
	return l->max_head >= 1 && l->max_head <= UINT32_MAX &&
	    l->max_line >= 1 && l->max_fields <= MPS_HTTP_MAX_FIELDS;
}

/* "HTTP/1.0" -> 10, "HTTP/1.1" -> 11, other versions -> -1 (505),
 * not a version at all -> 0 (400). */
static int
parse_version(const uint8_t *v, size_t n)
{
	if (n < 6 || memcmp(v, "HTTP/", 5) != 0 || !mps_http_is_digit(v[5]))
		return 0;
	if (n == 6)
		return -1;		/* "HTTP/2" */
	if (n != 8 || v[6] != '.' || !mps_http_is_digit(v[7]))
		return 0;
	if (v[5] == '1' && (v[7] == '0' || v[7] == '1'))
		return v[7] == '0' ? 10 : 11;
	return -1;
}

/* absolute-form: scheme "://" authority path-abempty [ "?" query ]. */
static apr_status_t
parse_absolute(mps_http_head_t *h, const uint8_t *t, size_t n)
{
	struct authority a;
	const char *why;
	size_t i = 0, a0;
	uint16_t defport;

	if (!mps_http_is_alpha(t[0]))
		return malformed(h, "bad request-target");
	while (i < n && (mps_http_is_alpha(t[i]) || mps_http_is_digit(t[i]) || t[i] == '+' ||
	    t[i] == '-' || t[i] == '.'))
		i++;
	if (i == n || t[i] != ':')
		return malformed(h, "bad request-target");
	if (ci_eq(t, i, "http")) {
		h->scheme = MPS_HTTP_SCHEME_HTTP;
		defport = 80;
	} else if (ci_eq(t, i, "https")) {
		h->scheme = MPS_HTTP_SCHEME_HTTPS;
		defport = 443;
	} else
		return malformed(h, "unsupported URI scheme");
	i++;
	if (n - i < 2 || t[i] != '/' || t[i + 1] != '/')
		return malformed(h, "URI without an authority");
	i += 2;
	a0 = i;
	while (i < n && t[i] != '/' && t[i] != '?' && t[i] != '#')
		i++;
	if ((why = parse_authority(t + a0, i - a0, 0, defport, &a)) != NULL)
		return malformed(h, why);
	if ((why = check_path(t + i, n - i)) != NULL)
		return malformed(h, why);
	h->form = MPS_HTTP_FORM_ABSOLUTE;
	h->authority = span(h->target.off + a0, i - a0);
	h->host = span(h->target.off + a0 + a.host_off, a.host_len);
	h->host_type = a.type;
	h->port = a.port;
	h->path = span(h->target.off + i, n - i);
	h->path_slash = i == n || t[i] == '?';
	return APR_SUCCESS;
}

/* Classifies the request-target by form (see http_head.h). */
static apr_status_t
parse_target(mps_http_head_t *h)
{
	const uint8_t *t = span_bytes(h, h->target);
	size_t n = h->target.len;
	struct authority a;
	const char *why;

	if (h->is_connect) {
		if ((why = parse_authority(t, n, 1, 0, &a)) != NULL)
			return malformed(h, why);
		h->form = MPS_HTTP_FORM_AUTHORITY;
		h->authority = h->target;
		h->host = span(h->target.off + a.host_off, a.host_len);
		h->host_type = a.type;
		h->port = a.port;
		return APR_SUCCESS;
	}
	if (t[0] == '/') {
		if ((why = check_path(t, n)) != NULL)
			return malformed(h, why);
		h->form = MPS_HTTP_FORM_ORIGIN;
		h->path = h->target;
		return APR_SUCCESS;
	}
	if (n == 1 && t[0] == '*') {
		if (!(h->method.len == 7 &&
		    memcmp(span_bytes(h, h->method), "OPTIONS", 7) == 0))
			return malformed(h, "'*' target on a method but OPTIONS");
		h->form = MPS_HTTP_FORM_ASTERISK;
		return APR_SUCCESS;
	}
	return parse_absolute(h, t, n);
}

/* method SP request-target SP HTTP-version, at base[off .. off + n). */
static apr_status_t
request_line(mps_http_head_t *h, size_t off, size_t n)
{
	const uint8_t *l = h->base + off;
	size_t i = 0, t0;
	int version;

	if (n == 0)
		return APR_SUCCESS;	/* an empty line before the request */
	while (i < n && mps_http_is_tchar(l[i]))
		i++;
	if (i == 0 || i == n || l[i] != ' ')
		return malformed(h, "bad method");
	h->method = span(off, i);
	h->is_connect = i == 7 && memcmp(l, "CONNECT", 7) == 0;
	t0 = ++i;
	while (i < n && l[i] > 0x20 && l[i] < 0x7f)
		i++;
	if (i == t0)
		return malformed(h, "empty request-target");
	if (i < n && l[i] != ' ')
		return malformed(h, "bad byte in the request-target");
	h->target = span(off + t0, i - t0);
	if (i == n)
		return fail(h, MPS_ERR_PROTOCOL, 505, "HTTP/0.9 request");
	i++;
	version = parse_version(l + i, n - i);
	if (version == 0)
		return malformed(h, "bad HTTP version");
	if (version < 0)
		return fail(h, MPS_ERR_PROTOCOL, 505,
		    "unsupported HTTP version");
	h->version = version;
	h->st.state = ST_FIELDS;
	return parse_target(h);
}

static const struct {
	const char *name;
	int id;
} known_fields[] = {
	{ "Host", MPS_HTTP_F_HOST },
	{ "Content-Length", MPS_HTTP_F_CONTENT_LENGTH },
	{ "Transfer-Encoding", MPS_HTTP_F_TRANSFER_ENCODING },
	{ "Connection", MPS_HTTP_F_CONNECTION },
	{ "Proxy-Connection", MPS_HTTP_F_PROXY_CONNECTION },
	{ "Keep-Alive", MPS_HTTP_F_KEEP_ALIVE },
	{ "Proxy-Authorization", MPS_HTTP_F_PROXY_AUTHORIZATION },
	{ "Proxy-Authenticate", MPS_HTTP_F_PROXY_AUTHENTICATE },
	{ "TE", MPS_HTTP_F_TE },
	{ "Trailer", MPS_HTTP_F_TRAILER },
	{ "Upgrade", MPS_HTTP_F_UPGRADE },
	{ "Expect", MPS_HTTP_F_EXPECT },
	{ "Via", MPS_HTTP_F_VIA }
};

static int
field_id(const uint8_t *name, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof(known_fields) / sizeof(known_fields[0]); i++) {
		if (ci_eq(name, n, known_fields[i].name))
			return known_fields[i].id;
	}
	return MPS_HTTP_F_OTHER;
}

static apr_status_t
field_host(mps_http_head_t *h, const uint8_t *v, size_t n)
{
	struct authority a;

	if (h->host_field >= 0)
		return malformed(h, "more than one Host field");
	h->host_field = (int)h->nfields - 1;
	if (n == 0)
		return APR_SUCCESS;
	if (parse_authority(v, n, 0, 0, &a) != NULL)
		return malformed(h, "bad Host field");
	return APR_SUCCESS;
}

static apr_status_t
field_content_length(mps_http_head_t *h, const uint8_t *v, size_t n)
{
	size_t pos = 0, e0, elen, i;

	while (list_next(v, n, &pos, &e0, &elen)) {
		uint64_t cl = 0;

		if (elen == 0)
			return malformed(h, "empty Content-Length");
		for (i = e0; i < e0 + elen; i++) {
			unsigned d;

			if (!mps_http_is_digit(v[i]))
				return malformed(h, "Content-Length not a number");
			d = (unsigned)(v[i] - '0');
			if (cl > ((uint64_t)INT64_MAX - d) / 10)
				return malformed(h, "Content-Length too big");
			cl = cl * 10 + d;
		}
		if (h->st.cl_seen && cl != h->content_length)
			return malformed(h, "conflicting Content-Length values");
		h->st.cl_seen = 1;
		h->content_length = cl;
	}
	return APR_SUCCESS;
}

static apr_status_t
field_transfer_encoding(mps_http_head_t *h, const uint8_t *v, size_t n)
{
	size_t pos = 0, e0, elen;
	unsigned before = h->st.te_codings;

	while (list_next(v, n, &pos, &e0, &elen)) {
		if (elen == 0)
			continue;
		if (!is_token(v + e0, elen))
			return malformed(h, "bad transfer coding");
		if (h->st.te_codings >= 64)
			return malformed(h, "too many transfer codings");
		h->st.te_codings++;
		h->st.te_last_chunked = ci_eq(v + e0, elen, "chunked");
		if (h->st.te_last_chunked)
			h->st.te_chunked++;
	}
	if (h->st.te_codings == before)
		return malformed(h, "empty Transfer-Encoding");
	return APR_SUCCESS;
}

/* Connection and Proxy-Connection: a list of tokens. */
static apr_status_t
field_connection(mps_http_head_t *h, const uint8_t *v, size_t n,
    unsigned *flags)
{
	size_t pos = 0, e0, elen;

	while (list_next(v, n, &pos, &e0, &elen)) {
		if (elen == 0)
			continue;
		if (!is_token(v + e0, elen))
			return malformed(h, "bad Connection option");
		if (ci_eq(v + e0, elen, "close"))
			*flags |= MPS_HTTP_CONN_CLOSE;
		else if (ci_eq(v + e0, elen, "keep-alive"))
			*flags |= MPS_HTTP_CONN_KEEP_ALIVE;
		else if (ci_eq(v + e0, elen, "upgrade"))
			*flags |= MPS_HTTP_CONN_UPGRADE;
	}
	return APR_SUCCESS;
}

/* credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ] */
static apr_status_t
field_proxy_authorization(mps_http_head_t *h, mps_http_span_t value)
{
	const uint8_t *v = span_bytes(h, value);
	size_t n = value.len, i = 0, j;

	if (h->proxy_auth != MPS_HTTP_AUTH_NONE)
		return malformed(h, "more than one Proxy-Authorization");
	while (i < n && mps_http_is_tchar(v[i]))
		i++;
	if (i == 0 || (i < n && v[i] != ' '))
		return malformed(h, "bad Proxy-Authorization");
	j = i;
	while (j < n && v[j] == ' ')
		j++;
	h->proxy_auth = ci_eq(v, i, "Basic") ? MPS_HTTP_AUTH_BASIC :
	    MPS_HTTP_AUTH_OTHER;
	h->credentials = span(value.off + j, n - j);
	return APR_SUCCESS;
}

static void
field_expect(mps_http_head_t *h, const uint8_t *v, size_t n)
{
	size_t pos = 0, e0, elen;

	while (list_next(v, n, &pos, &e0, &elen)) {
		if (elen == 0)
			continue;
		if (ci_eq(v + e0, elen, "100-continue")) {
			if (h->expect == MPS_HTTP_EXPECT_NONE)
				h->expect = MPS_HTTP_EXPECT_CONTINUE;
		} else
			h->expect = MPS_HTTP_EXPECT_OTHER;
	}
}

/* What the proxy needs from one field it knows by name. */
static apr_status_t
field_semantics(mps_http_head_t *h, const mps_http_field_t *f)
{
	const uint8_t *v = span_bytes(h, f->value);
	size_t n = f->value.len;

	switch (f->id) {
	case MPS_HTTP_F_HOST:
		return field_host(h, v, n);
	case MPS_HTTP_F_CONTENT_LENGTH:
		return field_content_length(h, v, n);
	case MPS_HTTP_F_TRANSFER_ENCODING:
		return field_transfer_encoding(h, v, n);
	case MPS_HTTP_F_CONNECTION:
		return field_connection(h, v, n, &h->conn);
	case MPS_HTTP_F_PROXY_CONNECTION:
		return field_connection(h, v, n, &h->proxy_conn);
	case MPS_HTTP_F_PROXY_AUTHORIZATION:
		return field_proxy_authorization(h, f->value);
	case MPS_HTTP_F_EXPECT:
		field_expect(h, v, n);
		return APR_SUCCESS;
	case MPS_HTTP_F_UPGRADE:
		h->upgrade = 1;
		return APR_SUCCESS;
	default:
		return APR_SUCCESS;
	}
}

/* The empty line: rules that need every field, then the verdict. */
static apr_status_t
finish(mps_http_head_t *h)
{
	unsigned conn = h->conn | h->proxy_conn;

	if (h->st.te_codings != 0) {
		if (h->st.cl_seen)
			return malformed(h,
			    "Transfer-Encoding with Content-Length");
		if (h->version == 10)
			return malformed(h, "Transfer-Encoding in HTTP/1.0");
		if (!h->st.te_last_chunked || h->st.te_chunked != 1)
			return malformed(h,
			    "chunked is not the final transfer coding");
		h->body = MPS_HTTP_BODY_CHUNKED;
	} else if (h->st.cl_seen)
		h->body = MPS_HTTP_BODY_LENGTH;
	else
		h->body = MPS_HTTP_BODY_NONE;

	if (h->is_connect) {
		if (h->body == MPS_HTTP_BODY_CHUNKED ||
		    (h->body == MPS_HTTP_BODY_LENGTH && h->content_length != 0))
			return malformed(h, "CONNECT with a body");
		h->body = MPS_HTTP_BODY_NONE;
	}

	if (conn & MPS_HTTP_CONN_CLOSE)
		h->persistent = 0;
	else if (h->version == 11)
		h->persistent = 1;
	else
		h->persistent = (conn & MPS_HTTP_CONN_KEEP_ALIVE) != 0;
	h->st.state = ST_DONE;
	return APR_SUCCESS;
}

/* field-name ":" OWS field-value OWS, at base[off .. off + n). */
static apr_status_t
field_line(mps_http_head_t *h, size_t off, size_t n,
    const mps_http_limits_t *lim)
{
	const uint8_t *l = h->base + off;
	mps_http_field_t *f;
	size_t i = 0, v0, v1;

	if (n == 0)
		return finish(h);
	if (mps_http_is_ws(l[0]))
		return malformed(h, "obs-fold (a folded field line)");
	while (i < n && mps_http_is_tchar(l[i]))
		i++;
	if (i == n || l[i] != ':')
		return malformed(h, i < n && mps_http_is_ws(l[i]) ?
		    "whitespace before a field's colon" : "bad field name");
	if (i == 0)
		return malformed(h, "empty field name");
	for (v0 = i + 1; v0 < n; v0++) {
		if (!mps_http_is_value_char(l[v0]))
			return malformed(h, "control character in a field");
	}
	if (h->nfields >= lim->max_fields)
		return fail(h, MPS_ERR_TOO_LARGE, 431, "too many fields");
	v0 = i + 1;
	v1 = n;
	while (v0 < v1 && mps_http_is_ws(l[v0]))
		v0++;
	while (v1 > v0 && mps_http_is_ws(l[v1 - 1]))
		v1--;
	f = &h->fields[h->nfields++];
	f->name = span(off, i);
	f->value = span(off + v0, v1 - v0);
	f->id = field_id(l, i);
	return field_semantics(h, f);
}

/*
 * Processes every complete line in base[0 .. avail), each taken through
 * the line reader of buf.h (CRLF or a bare LF, max_line, a lone CR
 * refused as soon as the byte after it shows). Returns APR_SUCCESS at the
 * empty line ending the head, MPS_NEED_MORE when the last line is
 * incomplete, or an error (already recorded by fail()).
 */
static apr_status_t
run_lines(mps_http_head_t *h, size_t avail, const mps_http_limits_t *lim)
{
	mps_buf_t in;
	const uint8_t *line;
	size_t n;
	apr_status_t rv;

	mps_buf_view(&in, h->base, avail);
	(void)mps_buf_consume(&in, h->st.pos);
	for (;;) {
		rv = mps_buf_get_line(&in, &h->st.line, &line, &n);
		if (rv == MPS_NEED_MORE)
			return rv;
		if (rv == MPS_ERR_TOO_LARGE)
			return fail(h, rv, h->st.state == ST_REQUEST_LINE ?
			    414 : 431, "line too long");
		if (rv != APR_SUCCESS)
			return malformed(h, "CR inside a line");
		if (h->st.state == ST_REQUEST_LINE)
			rv = request_line(h, (size_t)(line - h->base), n);
		else
			rv = field_line(h, (size_t)(line - h->base), n, lim);
		if (rv != APR_SUCCESS)
			return rv;
		h->st.pos = avail - mps_buf_len(&in);
		if (h->st.state == ST_DONE) {
			h->head_len = h->st.pos;
			return APR_SUCCESS;
		}
	}
}

apr_status_t
mps_http_head_parse(mps_http_head_t *h, const void *data, size_t len,
    const mps_http_limits_t *limits, size_t *consumed)
{
	size_t avail, seen;
	apr_status_t rv;

	*consumed = 0;
	if (limits == NULL)
		limits = &default_limits;
	if (!limits_ok(limits) || (data == NULL && len != 0))
		return APR_EINVAL;
	switch (h->st.state) {
	case ST_FAILED:
		return h->st.rv;
	case ST_DONE:
		if (len < h->head_len)
			return APR_EINVAL;
		h->base = data;
		*consumed = h->head_len;
		return APR_SUCCESS;
	default:
		break;
	}
	if (!h->st.started) {
		mps_buf_line_init(&h->st.line, limits->max_line,
		    MPS_BUF_LINE_BARE_LF);
		h->st.started = 1;
	}
	avail = len < limits->max_head ? len : limits->max_head;
	/* What earlier calls looked at: whole lines, then the line reader's
	 * part of the current one. */
	seen = h->st.pos + h->st.line.len + (h->st.line.cr ? 1 : 0);
	if (avail < seen)
		return APR_EINVAL;	/* fewer bytes than last time */
	h->base = data;
	rv = run_lines(h, avail, limits);
	if (rv == MPS_NEED_MORE && len >= limits->max_head)
		return fail(h, MPS_ERR_TOO_LARGE, 431, "head too large");
	if (rv == APR_SUCCESS)
		*consumed = h->head_len;
	return rv;
}

int
mps_http_head_complete(const mps_http_head_t *h)
{
	return h->st.state == ST_DONE;
}

int
mps_http_head_find(const mps_http_head_t *h, const char *name, size_t from)
{
	size_t i;

	for (i = from; i < h->nfields; i++) {
		const mps_http_field_t *f = &h->fields[i];

		if (ci_eq(span_bytes(h, f->name), f->name.len, name))
			return (int)i;
	}
	return -1;
}

/* Like ci_eq() for two counted strings. */
static int
ci_eq_n(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++) {
		if (mps_http_lower(a[i]) != mps_http_lower(b[i]))
			return 0;
	}
	return 1;
}

int
mps_http_head_connection_lists(const mps_http_head_t *h, const char *name,
    size_t len)
{
	size_t i, pos, e0, elen;

	for (i = 0; i < h->nfields; i++) {
		const mps_http_field_t *f = &h->fields[i];
		const uint8_t *v = span_bytes(h, f->value);

		if (f->id != MPS_HTTP_F_CONNECTION)
			continue;
		pos = 0;
		while (list_next(v, f->value.len, &pos, &e0, &elen)) {
			if (elen != 0 &&
			    ci_eq_n(v + e0, elen, (const uint8_t *)name, len))
				return 1;
		}
	}
	return 0;
}
