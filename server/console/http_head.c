/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http_head.c: HTTP/1.x request heads and chunked bodies for the HTTP
 * proxy (see http_head.h for the contracts and the decisions).
 *
 * The head parser works line by line: it finds the next LF, checks the
 * line's length, then parses that one complete line (the request line or
 * a field line) and records what it found. A line is only looked at once
 * it is complete, so a truncated head is always MPS_NEED_MORE, and the
 * only thing checked on an incomplete line is its length (a line that is
 * already too long can never become valid).
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

static int
hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

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
		if (hex_value(p[i]) < 0 && p[i] != ':' && p[i] != '.')
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
			if (hex_value(p[i]) < 0)
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
			if (n - i < 3 || hex_value(p[i + 1]) < 0 ||
			    hex_value(p[i + 2]) < 0)
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
 * Processes every complete line in base[0 .. avail). Returns APR_SUCCESS
 * at the empty line ending the head, MPS_NEED_MORE when the last line is
 * incomplete, or an error (already recorded by fail()).
 */
static apr_status_t
run_lines(mps_http_head_t *h, size_t avail, const mps_http_limits_t *lim)
{
	const uint8_t *lf;
	size_t end, n;
	apr_status_t rv;

	for (;;) {
		unsigned too_long = h->st.state == ST_REQUEST_LINE ? 414 : 431;

		lf = NULL;
		if (h->st.scan < avail)
			lf = memchr(h->base + h->st.scan, '\n',
			    avail - h->st.scan);
		if (lf == NULL) {
			h->st.scan = avail;
			/* max_line bytes and a CR may still be followed
			 * by LF; one byte more can never be. */
			if (avail - h->st.pos > lim->max_line + 1)
				return fail(h, MPS_ERR_TOO_LARGE, too_long,
				    "line too long");
			return MPS_NEED_MORE;
		}
		end = (size_t)(lf - h->base);
		n = end - h->st.pos;
		if (n > 0 && h->base[end - 1] == '\r')
			n--;
		if (n > lim->max_line)
			return fail(h, MPS_ERR_TOO_LARGE, too_long,
			    "line too long");
		if (memchr(h->base + h->st.pos, '\r', n) != NULL)
			return malformed(h, "CR inside a line");
		if (h->st.state == ST_REQUEST_LINE)
			rv = request_line(h, h->st.pos, n);
		else
			rv = field_line(h, h->st.pos, n, lim);
		if (rv != APR_SUCCESS)
			return rv;
		h->st.pos = h->st.scan = end + 1;
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
	size_t avail;
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
	avail = len < limits->max_head ? len : limits->max_head;
	if (avail < h->st.scan)
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

/* ---- Writing ---- */

static apr_status_t
put_str(mps_buf_t *out, const char *s)
{
	return mps_buf_put(out, s, strlen(s));
}

static apr_status_t
put_span(mps_buf_t *out, const mps_http_head_t *h, mps_http_span_t s)
{
	return mps_buf_put(out, span_bytes(h, s), s.len);
}

/* Decimal digits of v into buf (at least 21 bytes), NUL-terminated. */
static const char *
format_u64(char *buf, size_t size, uint64_t v)
{
	char *p = buf + size - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && p > buf);
	return p;
}

/* Whether field f is dropped when forwarding (see http_head.h). */
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
	char num[24];
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
			if ((rv = put_str(out, "Content-Length: ")) != 0 ||
			    (rv = put_str(out, format_u64(num, sizeof(num),
			    h->content_length))) != 0 ||
			    (rv = put_str(out, "\r\n")) != 0)
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

	if (h->st.state != ST_DONE || h->form != MPS_HTTP_FORM_ABSOLUTE ||
	    h->scheme != MPS_HTTP_SCHEME_HTTP)
		return APR_EINVAL;
	if ((rv = write_origin(h, flags, out)) != APR_SUCCESS)
		(void)mps_buf_truncate(out, mark);
	return rv;
}

/* ---- Basic credentials ---- */

static int
b64_value(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

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

/* Strict base64 of in[0 .. n) into out[0 .. cap); returns the decoded
 * length, or (size_t)-1 for bad base64 or when cap is too small. */
static size_t
b64_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i, o = 0;

	if (n == 0 || n % 4 != 0)
		return (size_t)-1;
	for (i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		size_t k;
		int last = i + 4 == n;

		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && last && k >= 2 &&
			    (k == 3 || in[i + 3] == '=')) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad != 0 || (v[k] = b64_value(in[i + k])) < 0)
				return (size_t)-1;
		}
		/* The bits the padding leaves over must be zero, so each
		 * value has exactly one encoding. */
		if ((pad == 1 && (v[2] & 0x3) != 0) ||
		    (pad == 2 && (v[1] & 0xf) != 0))
			return (size_t)-1;
		if (cap - o < (size_t)(3 - pad))
			return (size_t)-1;
		out[o++] = (uint8_t)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			out[o++] = (uint8_t)(((v[1] & 0xf) << 4) | (v[2] >> 2));
		if (pad < 1)
			out[o++] = (uint8_t)(((v[2] & 0x3) << 6) | v[3]);
	}
	return o;
}

/* memset through a volatile pointer, so wiping credentials is kept. */
static void *(*const volatile wipe_fn)(void *, int, size_t) = memset;

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
	if (h->st.state != ST_DONE || h->proxy_auth != MPS_HTTP_AUTH_BASIC)
		return APR_EINVAL;
	return mps_http_basic_decode(mps_http_span_ptr(h, h->credentials),
	    h->credentials.len, out, outsize, user, password);
}

/* ---- Responses ---- */

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

static apr_status_t
write_error(mps_buf_t *out, unsigned code, const char *reason)
{
	char codebuf[24], lenbuf[24];
	const char *cs = format_u64(codebuf, sizeof(codebuf), code);
	/* body: "<code> <reason>\n" */
	size_t bodylen = strlen(cs) + 1 + strlen(reason) + 1;
	apr_status_t rv;

	if ((rv = put_str(out, "HTTP/1.1 ")) != APR_SUCCESS ||
	    (rv = put_str(out, cs)) != APR_SUCCESS ||
	    (rv = put_str(out, " ")) != APR_SUCCESS ||
	    (rv = put_str(out, reason)) != APR_SUCCESS ||
	    (rv = put_str(out, "\r\n")) != APR_SUCCESS)
		return rv;
	if (code == 407 && (rv = put_str(out,
	    "Proxy-Authenticate: Basic realm=\"mpsd\"\r\n")) != APR_SUCCESS)
		return rv;
	if ((rv = put_str(out, "Content-Type: text/plain\r\n"
	    "Content-Length: ")) != APR_SUCCESS ||
	    (rv = put_str(out, format_u64(lenbuf, sizeof(lenbuf),
	    bodylen))) != APR_SUCCESS ||
	    (rv = put_str(out, "\r\nConnection: close\r\n\r\n")) !=
	    APR_SUCCESS ||
	    (rv = put_str(out, cs)) != APR_SUCCESS ||
	    (rv = put_str(out, " ")) != APR_SUCCESS ||
	    (rv = put_str(out, reason)) != APR_SUCCESS ||
	    (rv = put_str(out, "\n")) != APR_SUCCESS)
		return rv;
	return APR_SUCCESS;
}

apr_status_t
mps_http_write_error(mps_buf_t *out, unsigned code)
{
	const char *reason = mps_http_reason(code);
	size_t mark = mps_buf_len(out);
	apr_status_t rv;

	if (reason == NULL)
		return APR_EINVAL;
	if ((rv = write_error(out, code, reason)) != APR_SUCCESS)
		(void)mps_buf_truncate(out, mark);
	return rv;
}

apr_status_t
mps_http_write_connect_ok(mps_buf_t *out)
{
	return put_str(out, "HTTP/1.1 200 Connection established\r\n\r\n");
}

/* ---- Chunked bodies (RFC 9112 §7.1) ---- */

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
	CS_SIZE_LF,		/* the CR of the size line was seen */
	CS_DATA,		/* `remaining` data bytes */
	CS_DATA_CR,		/* the CRLF after the data */
	CS_DATA_LF,
	CS_TR_START,		/* a trailer line or the final CRLF */
	CS_TR_NAME,
	CS_TR_VALUE,
	CS_TR_LF,
	CS_END_LF,		/* the LF of the final CRLF */
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
	c->max_line = max_line != 0 ? max_line :
	    MPS_HTTP_CHUNK_DEFAULT_MAX_LINE;
	c->max_trailer = max_trailer != 0 ? max_trailer :
	    MPS_HTTP_CHUNK_DEFAULT_MAX_TRAILER;
	c->why = NULL;
}

static apr_status_t
chunk_fail(mps_http_chunked_t *c, apr_status_t rv, const char *why)
{
	c->state = CS_FAILED;
	c->rv = rv;
	c->why = why;
	return rv;
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

/* A byte of the chunk-size line (size and extensions). */
static apr_status_t
chunk_size_byte(mps_http_chunked_t *c, uint8_t b)
{
	int d;

	if (b != '\r' && ++c->line_len > c->max_line)
		return chunk_fail(c, MPS_ERR_TOO_LARGE, "chunk line too long");
	switch (c->state) {
	case CS_SIZE_FIRST:
	case CS_SIZE:
		if ((d = hex_value(b)) >= 0) {
			if (c->size > ((uint64_t)INT64_MAX - (uint64_t)d) / 16)
				return chunk_fail(c, MPS_ERR_MALFORMED,
				    "chunk size overflows");
			c->size = c->size * 16 + (uint64_t)d;
			c->state = CS_SIZE;
			return APR_SUCCESS;
		}
		if (c->state == CS_SIZE_FIRST)
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "chunk size is not hex");
		break;
	case CS_SIZE_WS:
		if (mps_http_is_ws(b))
			return APR_SUCCESS;
		if (b == ';') {
			c->state = CS_EXT_SEMI;
			return APR_SUCCESS;
		}
		return chunk_fail(c, MPS_ERR_MALFORMED, "bad chunk line");
	case CS_EXT_SEMI:
		if (mps_http_is_ws(b))
			return APR_SUCCESS;
		if (mps_http_is_tchar(b)) {
			c->state = CS_EXT_NAME;
			return APR_SUCCESS;
		}
		return chunk_fail(c, MPS_ERR_MALFORMED, "bad chunk extension");
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
		return chunk_fail(c, MPS_ERR_MALFORMED, "bad chunk extension");
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
		return chunk_fail(c, MPS_ERR_MALFORMED, "bad chunk extension");
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
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "bad chunk extension");
		return APR_SUCCESS;
	case CS_EXT_QUOTED_ESC:
		if (!is_quoted_pair_char(b))
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "bad chunk extension");
		c->state = CS_EXT_QUOTED;
		return APR_SUCCESS;
	case CS_EXT_QUOTED_END:
		break;
	default:
		return chunk_fail(c, MPS_ERR_MALFORMED, "chunk state");
	}
	/* After a size, a name, a value or a quoted value: the same three
	 * ways on. CR must be the line's end: RFC 9112 has no BWS there. */
	if (b == ';') {
		c->state = CS_EXT_SEMI;
		return APR_SUCCESS;
	}
	if (mps_http_is_ws(b)) {
		c->state = CS_SIZE_WS;
		return APR_SUCCESS;
	}
	if (b == '\r') {
		c->state = CS_SIZE_LF;
		return APR_SUCCESS;
	}
	return chunk_fail(c, MPS_ERR_MALFORMED, c->state == CS_SIZE ?
	    "chunk size is not hex" : "bad chunk extension");
}

/* A byte of the trailer section, final CRLF included. */
static apr_status_t
chunk_trailer_byte(mps_http_chunked_t *c, uint8_t b)
{
	if (++c->trailer_len > c->max_trailer)
		return chunk_fail(c, MPS_ERR_TOO_LARGE, "trailers too large");
	switch (c->state) {
	case CS_TR_START:
		if (b == '\r')
			c->state = CS_END_LF;
		else if (mps_http_is_tchar(b))
			c->state = CS_TR_NAME;
		else
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "bad trailer field");
		return APR_SUCCESS;
	case CS_TR_NAME:
		if (b == ':')
			c->state = CS_TR_VALUE;
		else if (!mps_http_is_tchar(b))
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "bad trailer field");
		return APR_SUCCESS;
	case CS_TR_VALUE:
		if (b == '\r')
			c->state = CS_TR_LF;
		else if (!mps_http_is_value_char(b))
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "bad trailer field");
		return APR_SUCCESS;
	case CS_TR_LF:
	case CS_END_LF:
		if (b != '\n')
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "CR without LF in the trailers");
		c->state = c->state == CS_TR_LF ? CS_TR_START : CS_DONE;
		return APR_SUCCESS;
	default:
		return chunk_fail(c, MPS_ERR_MALFORMED, "chunk state");
	}
}

static apr_status_t
chunk_byte(mps_http_chunked_t *c, uint8_t b)
{
	switch (c->state) {
	case CS_SIZE_LF:
		if (b != '\n')
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "chunk line without CRLF");
		c->line_len = 0;
		c->remaining = c->size;
		c->state = c->size == 0 ? CS_TR_START : CS_DATA;
		return APR_SUCCESS;
	case CS_DATA_CR:
		if (b != '\r')
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "chunk data without CRLF");
		c->state = CS_DATA_LF;
		return APR_SUCCESS;
	case CS_DATA_LF:
		if (b != '\n')
			return chunk_fail(c, MPS_ERR_MALFORMED,
			    "chunk data without CRLF");
		c->size = 0;
		c->state = CS_SIZE_FIRST;
		return APR_SUCCESS;
	case CS_TR_START:
	case CS_TR_NAME:
	case CS_TR_VALUE:
	case CS_TR_LF:
	case CS_END_LF:
		return chunk_trailer_byte(c, b);
	default:
		return chunk_size_byte(c, b);
	}
}

apr_status_t
mps_http_chunked_feed(mps_http_chunked_t *c, const void *data, size_t len,
    size_t *used)
{
	const uint8_t *p = data;
	size_t i = 0;
	apr_status_t rv;

	*used = 0;
	if (c->state == CS_DONE)
		return APR_SUCCESS;
	if (c->state == CS_FAILED)
		return c->rv;
	if (p == NULL && len != 0)
		return APR_EINVAL;
	while (i < len) {
		if (c->state == CS_DATA) {
			/* Data is passed over in one step, not per byte. */
			size_t take = len - i;

			if ((uint64_t)take > c->remaining)
				take = (size_t)c->remaining;
			i += take;
			c->remaining -= take;
			c->total += take;
			if (c->remaining == 0)
				c->state = CS_DATA_CR;
			continue;
		}
		if ((rv = chunk_byte(c, p[i])) != APR_SUCCESS) {
			*used = i;
			return rv;
		}
		i++;
		c->total++;
		if (c->state == CS_DONE) {
			*used = i;
			return APR_SUCCESS;
		}
	}
	*used = len;
	return MPS_NEED_MORE;
}
