/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_socks5.c: the SOCKS5 server-side codec (server/socks5.c).
 *
 *  - The bytes curl 7.88 really sends (captured from `curl
 *    --socks5-hostname`, with and without -U, to an FQDN, an IPv4 and an
 *    IPv6 literal) and hand-made vectors for every rule: each parsed
 *    field by field, and each cut at every byte: MPS_NEED_MORE with
 *    nothing consumed up to the byte that decides, then the same answer
 *    for every longer input (an error is reported at its first bad byte,
 *    a message as soon as it is whole, and more bytes never change it).
 *  - A pipelined handshake (greeting, userpass, request and the first
 *    payload in one buffer) taken apart phase by phase with exact counts
 *    and the payload left intact; the same streams fed whole, one byte at
 *    a time and in random chunks give the same transcript.
 *  - Deterministic mutations (every bit, every byte, random multi-byte)
 *    and random inputs fed to all three parsers, each input in an exact
 *    heap copy so that ASan (--enable-sanitizers) sees any overread;
 *    every answer is checked against an independent reading of the bytes.
 *  - Method choice, reply encodings byte for byte, reply codes and names.
 */
#include "unit.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mps_status.h"
#include "socks5.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- Running a parser ---- */

typedef enum { PH_GREETING, PH_USERPASS, PH_REQUEST } phase;

static const char *const phase_name[] = { "greeting", "userpass", "request" };

/* Everything any parser can answer. */
typedef struct result {
	apr_status_t rv;
	size_t consumed;
	unsigned offered;
	char user[MPS_SOCKS5_CRED_SIZE];
	char pass[MPS_SOCKS5_CRED_SIZE];
	mps_socks5_request_t req;
} result;

/*
 * Runs the parser of phase ph on p[0 .. n) as given. The outputs are
 * first filled with junk, so that "cleared" and "exact" are checked
 * rather than inherited from a zeroed struct.
 */
static void
parse_at(phase ph, const uint8_t *p, size_t n, result *res)
{
	memset(res, 0xa5, sizeof(*res));
	switch (ph) {
	case PH_GREETING:
		res->rv = mps_socks5_parse_greeting(p, n, &res->consumed,
		    &res->offered);
		break;
	case PH_USERPASS:
		res->rv = mps_socks5_parse_userpass(p, n, &res->consumed,
		    res->user, sizeof(res->user), res->pass,
		    sizeof(res->pass));
		break;
	case PH_REQUEST:
		res->rv = mps_socks5_parse_request(p, n, &res->consumed,
		    &res->req);
		break;
	}
}

/* The same on an exact heap copy: a read past n is an ASan error. */
static void
run(phase ph, const uint8_t *p, size_t n, result *res)
{
	uint8_t *c = malloc(n > 0 ? n : 1);

	REQUIRE(c != NULL, "malloc");
	if (n > 0)
		memcpy(c, p, n);
	parse_at(ph, c, n, res);
	free(c);
}

static int
framed(apr_status_t rv)
{
	/* The two results with a whole message behind them. */
	return rv == APR_SUCCESS || rv == APR_ENOTIMPL;
}

static size_t
phase_max(phase ph)
{
	switch (ph) {
	case PH_GREETING: return MPS_SOCKS5_GREETING_MAX;
	case PH_USERPASS: return MPS_SOCKS5_USERPASS_MAX;
	default: return MPS_SOCKS5_REQUEST_MAX;
	}
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t *q = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (q[i] != 0)
			return 0;
	return 1;
}

/* Two results of the same phase say the same thing. */
static int
same_result(phase ph, const result *a, const result *b)
{
	if (a->rv != b->rv || a->consumed != b->consumed)
		return 0;
	switch (ph) {
	case PH_GREETING:
		return a->offered == b->offered;
	case PH_USERPASS:
		return memcmp(a->user, b->user, sizeof(a->user)) == 0 &&
		    memcmp(a->pass, b->pass, sizeof(a->pass)) == 0;
	default:
		return a->req.cmd == b->req.cmd &&
		    a->req.atyp == b->req.atyp &&
		    a->req.port == b->req.port &&
		    a->req.host_len == b->req.host_len &&
		    memcmp(a->req.host, b->req.host,
		    sizeof(a->req.host)) == 0;
	}
}

/* A result that is not a message leaves nothing behind. */
static void
check_cleared(phase ph, const result *r, const char *what)
{
	REQUIRE(r->consumed == 0, "%s: %s consumed %zu on status %d", what,
	    phase_name[ph], r->consumed, (int)r->rv);
	switch (ph) {
	case PH_GREETING:
		REQUIRE(r->offered == 0, "%s: offered not cleared", what);
		break;
	case PH_USERPASS:
		REQUIRE(all_zero(r->user, sizeof(r->user)) &&
		    all_zero(r->pass, sizeof(r->pass)),
		    "%s: credentials not wiped", what);
		break;
	case PH_REQUEST:
		/* Only an unframeable ATYP keeps CMD and ATYP. */
		if (r->rv != APR_EAFNOSUPPORT)
			REQUIRE(r->req.cmd == 0 && r->req.atyp == 0,
			    "%s: cmd/atyp not cleared", what);
		REQUIRE(r->req.port == 0 && r->req.host_len == 0 &&
		    all_zero(r->req.host, sizeof(r->req.host)),
		    "%s: request not cleared", what);
		break;
	}
}

/* The set bits an independent reading of one method byte gives. */
static unsigned
oracle_method_bit(uint8_t m)
{
	if (m == 0x00)
		return MPS_SOCKS5_OFFERS_NO_AUTH;
	if (m == 0x02)
		return MPS_SOCKS5_OFFERS_USERPASS;
	return MPS_SOCKS5_OFFERS_OTHER;
}

static void
check_greeting_fields(const uint8_t *p, const result *r, const char *what)
{
	unsigned want = 0, i;

	REQUIRE(p[0] == 5 && p[1] >= 1, "%s: bad greeting accepted", what);
	REQUIRE(r->consumed == 2u + p[1], "%s: greeting consumed %zu, "
	    "NMETHODS %u", what, r->consumed, p[1]);
	for (i = 0; i < p[1]; i++)
		want |= oracle_method_bit(p[2 + i]);
	REQUIRE(r->offered == want, "%s: offered %#x, want %#x", what,
	    r->offered, want);
}

/* A text field came out as its bytes, NUL-terminated, with no NUL in. */
static int
text_is(const char *out, const uint8_t *in, size_t len)
{
	return memcmp(out, in, len) == 0 && out[len] == '\0' &&
	    memchr(in, 0, len) == NULL;
}

static void
check_userpass_fields(const uint8_t *p, const result *r, const char *what)
{
	size_t ulen = p[1], plen;

	REQUIRE(p[0] == 1 && ulen >= 1, "%s: bad userpass accepted", what);
	plen = p[2 + ulen];
	REQUIRE(r->consumed == 3 + ulen + plen, "%s: userpass consumed %zu",
	    what, r->consumed);
	REQUIRE(text_is(r->user, p + 2, ulen), "%s: user differs", what);
	REQUIRE(text_is(r->pass, p + 3 + ulen, plen), "%s: pass differs",
	    what);
}

static void
check_request_fields(const uint8_t *p, const result *r, const char *what)
{
	const mps_socks5_request_t *q = &r->req;
	uint8_t addr[16];
	size_t alen = 0, i;

	REQUIRE(p[0] == 5 && p[2] == 0, "%s: bad request accepted", what);
	REQUIRE(q->cmd == p[1] && q->atyp == p[3], "%s: cmd/atyp", what);
	REQUIRE(r->rv == (p[1] == 1 ? APR_SUCCESS : APR_ENOTIMPL),
	    "%s: cmd %u gave %d", what, p[1], (int)r->rv);
	REQUIRE(q->host_len == strlen(q->host), "%s: host_len", what);
	switch (p[3]) {
	case 1:
		alen = 4;
		REQUIRE(inet_pton(AF_INET, q->host, addr) == 1 &&
		    memcmp(addr, p + 4, 4) == 0, "%s: IPv4 text '%s'", what,
		    q->host);
		break;
	case 4:
		alen = 16;
		REQUIRE(inet_pton(AF_INET6, q->host, addr) == 1 &&
		    memcmp(addr, p + 4, 16) == 0, "%s: IPv6 text '%s'", what,
		    q->host);
		break;
	case 3:
		alen = 1 + (size_t)p[4];
		REQUIRE(p[4] >= 1 && q->host_len == p[4] &&
		    text_is(q->host, p + 5, p[4]), "%s: domain", what);
		for (i = 0; i < p[4]; i++)
			REQUIRE(p[5 + i] > 0x20 && p[5 + i] < 0x7f,
			    "%s: domain byte %#x accepted", what, p[5 + i]);
		break;
	default:
		ck_abort_msg("%s: ATYP %u accepted", what, p[3]);
	}
	REQUIRE(r->consumed == 4 + alen + 2, "%s: request consumed %zu", what,
	    r->consumed);
	REQUIRE(q->port == (uint16_t)(p[4 + alen] << 8 | p[5 + alen]),
	    "%s: port %u", what, q->port);
}

/*
 * Whatever the input, the answer is one of the documented ones, and it
 * agrees with an independent reading of the bytes.
 */
static void
check_contract(phase ph, const uint8_t *p, size_t n, const result *r,
    const char *what)
{
	apr_status_t rv = r->rv;

	REQUIRE(rv == APR_SUCCESS || rv == MPS_NEED_MORE ||
	    rv == MPS_ERR_MALFORMED ||
	    (ph == PH_USERPASS && rv == MPS_ERR_TOO_LARGE) ||
	    (ph == PH_REQUEST && (rv == APR_ENOTIMPL ||
	    rv == APR_EAFNOSUPPORT)),
	    "%s: %s answered %d", what, phase_name[ph], (int)rv);
	if (!framed(rv)) {
		check_cleared(ph, r, what);
		if (rv == MPS_NEED_MORE)
			REQUIRE(n < phase_max(ph), "%s: NEED_MORE with %zu "
			    "bytes", what, n);
		if (rv == APR_EAFNOSUPPORT)
			REQUIRE(n >= 4 && p[0] == 5 && p[2] == 0 &&
			    p[3] != 1 && p[3] != 3 && p[3] != 4 &&
			    r->req.cmd == p[1] && r->req.atyp == p[3],
			    "%s: EAFNOSUPPORT wrongly", what);
		return;
	}
	REQUIRE(r->consumed >= 1 && r->consumed <= n &&
	    r->consumed <= phase_max(ph), "%s: consumed %zu of %zu", what,
	    r->consumed, n);
	switch (ph) {
	case PH_GREETING:
		check_greeting_fields(p, r, what);
		break;
	case PH_USERPASS:
		check_userpass_fields(p, r, what);
		break;
	case PH_REQUEST:
		check_request_fields(p, r, what);
		break;
	}
}

/*
 * Every prefix of p[0 .. n), each in an exact heap copy: NEED_MORE until
 * some length decides, then the same answer for every longer prefix.
 * Returns the deciding length (n + 1 if nothing decided) and the answer
 * for the whole input.
 */
static size_t
sweep(phase ph, const uint8_t *p, size_t n, result *whole, const char *what)
{
	uint8_t *buf = malloc(n > 0 ? n : 1);
	result r, first;
	size_t k, decided = n + 1;

	REQUIRE(buf != NULL, "malloc");
	memset(&first, 0, sizeof(first));
	for (k = 0; k <= n; k++) {
		/* The prefix ends where the allocation ends. */
		if (k > 0)
			memcpy(buf + n - k, p, k);
		parse_at(ph, buf + n - k, k, &r);
		check_contract(ph, buf + n - k, k, &r, what);
		if (decided > n) {
			if (r.rv == MPS_NEED_MORE)
				continue;
			decided = k;
			first = r;
			if (framed(r.rv))
				REQUIRE(r.consumed == k, "%s: %s decided at "
				    "%zu but consumed %zu", what,
				    phase_name[ph], k, r.consumed);
		} else
			REQUIRE(same_result(ph, &r, &first), "%s: %s: %zu "
			    "bytes say %d, %zu bytes said %d", what,
			    phase_name[ph], k, (int)r.rv, decided,
			    (int)first.rv);
	}
	*whole = r;
	free(buf);
	return decided;
}

/* ---- Vectors ---- */

typedef struct vec {
	const char *name;
	phase ph;
	const char *hex;
	apr_status_t rv;
	/* Framed: the message length (consumed). Otherwise: how many bytes
	 * it takes to know (the prefix at which rv is first answered). */
	size_t len;
	unsigned offered;		/* greeting */
	const char *user, *pass;	/* userpass */
	uint8_t cmd, atyp;		/* request */
	const char *host;
	uint16_t port;
} vec;

#define NA	MPS_SOCKS5_OFFERS_NO_AUTH
#define UP	MPS_SOCKS5_OFFERS_USERPASS
#define OT	MPS_SOCKS5_OFFERS_OTHER

/* Rows by kind (designated, so that unused fields are plainly zero). */
#define GREETING(nm, hx, r, l, o) { .name = nm, .ph = PH_GREETING,	\
	.hex = hx, .rv = r, .len = l, .offered = o }
#define USERPASS(nm, hx, r, l, u, pw) { .name = nm, .ph = PH_USERPASS,	\
	.hex = hx, .rv = r, .len = l, .user = u, .pass = pw }
#define REQUEST(nm, hx, r, l, c, a, h, pt) { .name = nm,		\
	.ph = PH_REQUEST, .hex = hx, .rv = r, .len = l, .cmd = c,	\
	.atyp = a, .host = h, .port = pt }
#define REFUSED(p, nm, hx, r, l) { .name = nm, .ph = p, .hex = hx,	\
	.rv = r, .len = l }

static const vec vectors[] = {
	/* -- Greetings. curl 7.88.1 as shipped by Debian 12 is built with
	 * GSS-API and offers it (0x01); builds without it do not. -- */
	GREETING("curl --socks5-hostname",
	    "05 02 00 01", APR_SUCCESS, 4, NA | OT),
	GREETING("curl without GSS-API",
	    "05 01 00", APR_SUCCESS, 3, NA),
	GREETING("curl -U admin:P@ssw0rd",
	    "05 03 00 01 02", APR_SUCCESS, 5, NA | UP | OT),
	GREETING("curl -U, without GSS-API",
	    "05 02 00 02", APR_SUCCESS, 4, NA | UP),
	GREETING("user/pass only",
	    "05 01 02", APR_SUCCESS, 3, UP),
	GREETING("GSS-API only",
	    "05 01 01", APR_SUCCESS, 3, OT),
	GREETING("repeated and private methods",
	    "05 04 02 02 80 fe", APR_SUCCESS, 6, UP | OT),
	GREETING("0xff offered as a method",
	    "05 01 ff", APR_SUCCESS, 3, OT),
	GREETING("greeting then request, pipelined",
	    "05 01 00 05 01 00 01 7f 00 00 01 00 50", APR_SUCCESS, 3, NA),
	REFUSED(PH_GREETING, "NMETHODS 0",
	    "05 00", MPS_ERR_MALFORMED, 2),
	REFUSED(PH_GREETING, "NMETHODS 0 and more",
	    "05 00 00 02", MPS_ERR_MALFORMED, 2),
	REFUSED(PH_GREETING, "SOCKS4 CONNECT",
	    "04 01 00 50 7f 00 00 01 00", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_GREETING, "HTTP request on the SOCKS port",
	    "'GET / HTTP/1.1' 0d 0a", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_GREETING, "HTTP CONNECT on the SOCKS port",
	    "'CONNECT amt-dev1:16993 HTTP/1.1' 0d 0a", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_GREETING, "TLS ClientHello",
	    "16 03 01 00 a5 01 00 00 a1 03 03", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_GREETING, "VER 0",
	    "00 01 00", MPS_ERR_MALFORMED, 1),

	/* -- Username/password (RFC 1929). -- */
	USERPASS("curl -U admin:P@ssw0rd",
	    "01 05 61 64 6d 69 6e 08 50 40 73 73 77 30 72 64",
	    APR_SUCCESS, 16, "admin", "P@ssw0rd"),
	USERPASS("curl -U admin: (PLEN 0)",
	    "01 05 61 64 6d 69 6e 00", APR_SUCCESS, 8, "admin", ""),
	USERPASS("one-byte user and password",
	    "01 01 'u' 01 'p'", APR_SUCCESS, 5, "u", "p"),
	USERPASS("UTF-8, space and quotes kept as sent",
	    "01 05 'J' c3 a9 ' :' 03 27 22 5c", APR_SUCCESS, 11,
	    "J\xc3\xa9 :", "'\"\\"),
	USERPASS("userpass then request, pipelined",
	    "01 01 'u' 01 'p' 05 01 00 01 7f 00 00 01 00 50",
	    APR_SUCCESS, 5, "u", "p"),
	REFUSED(PH_USERPASS, "VER 5 (no subnegotiation)",
	    "05 01 00 01 7f 00 00 01 00 50", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_USERPASS, "VER 0",
	    "00 01 'u' 01 'p'", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_USERPASS, "ULEN 0",
	    "01 00 01 'p'", MPS_ERR_MALFORMED, 2),
	REFUSED(PH_USERPASS, "NUL inside the user",
	    "01 05 'ad' 00 'in' 01 'p'", MPS_ERR_MALFORMED, 5),
	REFUSED(PH_USERPASS, "NUL inside the password",
	    "01 01 'u' 03 'p' 00 'w'", MPS_ERR_MALFORMED, 6),
	REFUSED(PH_USERPASS, "password of one NUL",
	    "01 01 'u' 01 00", MPS_ERR_MALFORMED, 5),

	/* -- Requests. -- */
	REQUEST("curl --socks5-hostname, device FQDN",
	    "05 01 00 03 19 61 6d 74 2d 64 65 76 31 2e 63 6f 72 70 2e 65 78 "
	    "61 6d 70 6c 65 2e 63 6f 6d 42 60", APR_SUCCESS, 32,
	    1, 3, "amt-dev1.corp.example.com", 16992),
	REQUEST("device UUID",
	    "05 01 00 03 24 '12345678-9abc-def0-1234-56789abcdef0' 42 61",
	    APR_SUCCESS, 43, 1, 3, "12345678-9abc-def0-1234-56789abcdef0",
	    16993),
	REQUEST("domain case kept",
	    "05 01 00 03 0b 'AMT-Dev1.EU' 02 6f", APR_SUCCESS, 18,
	    1, 3, "AMT-Dev1.EU", 623),
	REQUEST("curl --socks5, IPv4 literal",
	    "05 01 00 01 c0 00 02 07 02 6f", APR_SUCCESS, 10,
	    1, 1, "192.0.2.7", 623),
	REQUEST("curl --socks5-hostname, IPv6 literal",
	    "05 01 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 "
	    "42 61", APR_SUCCESS, 22, 1, 4, "2001:db8::1", 16993),
	REQUEST("IPv4-mapped IPv6",
	    "05 01 00 04 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
	    "40 c3", APR_SUCCESS, 22, 1, 4, "::ffff:192.0.2.1", 16579),
	REQUEST("port 0 (policy is the caller's)",
	    "05 01 00 01 0a 00 00 01 00 00", APR_SUCCESS, 10,
	    1, 1, "10.0.0.1", 0),
	REQUEST("port 65535",
	    "05 01 00 01 0a 00 00 01 ff ff", APR_SUCCESS, 10,
	    1, 1, "10.0.0.1", 65535),
	REQUEST("request then payload, pipelined",
	    "05 01 00 01 7f 00 00 01 42 60 'GET / HTTP/1.1' 0d 0a",
	    APR_SUCCESS, 10, 1, 1, "127.0.0.1", 16992),
	REQUEST("BIND",
	    "05 02 00 01 c0 00 02 07 42 60", APR_ENOTIMPL, 10,
	    2, 1, "192.0.2.7", 16992),
	REQUEST("UDP ASSOCIATE",
	    "05 03 00 03 04 'host' 00 35", APR_ENOTIMPL, 11,
	    3, 3, "host", 53),
	REQUEST("CMD 0",
	    "05 00 00 01 01 02 03 04 00 50", APR_ENOTIMPL, 10,
	    0, 1, "1.2.3.4", 80),
	REQUEST("CMD 0xff",
	    "05 ff 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 "
	    "00 16", APR_ENOTIMPL, 22, 0xff, 4, "::1", 22),
	/* Unframeable: CMD and ATYP are all there is to report. */
	REQUEST("ATYP 5",
	    "05 01 00 05 00 00 00 00 00 00", APR_EAFNOSUPPORT, 4,
	    1, 5, NULL, 0),
	REQUEST("ATYP 0",
	    "05 01 00 00", APR_EAFNOSUPPORT, 4, 1, 0, NULL, 0),
	REQUEST("ATYP 2 with BIND",
	    "05 02 00 02 01 02", APR_EAFNOSUPPORT, 4, 2, 2, NULL, 0),
	REFUSED(PH_REQUEST, "VER 4",
	    "04 01 00 50 7f 00 00 01 00", MPS_ERR_MALFORMED, 1),
	REFUSED(PH_REQUEST, "RSV 1",
	    "05 01 01 01 7f 00 00 01 00 50", MPS_ERR_MALFORMED, 3),
	REFUSED(PH_REQUEST, "RSV 0xff, bad ATYP after",
	    "05 01 ff 09", MPS_ERR_MALFORMED, 3),
	REFUSED(PH_REQUEST, "domain length 0",
	    "05 01 00 03 00 00 50", MPS_ERR_MALFORMED, 5),
	REFUSED(PH_REQUEST, "space in a domain",
	    "05 01 00 03 08 'amt dev1' 42 60", MPS_ERR_MALFORMED, 9),
	REFUSED(PH_REQUEST, "NUL in a domain",
	    "05 01 00 03 05 'amt' 00 'x' 42 60", MPS_ERR_MALFORMED, 9),
	REFUSED(PH_REQUEST, "DEL as a domain",
	    "05 01 00 03 01 7f 00 50", MPS_ERR_MALFORMED, 6),
	REFUSED(PH_REQUEST, "CR LF in a domain (log injection)",
	    "05 01 00 03 06 'ab' 0d 0a 'cd' 00 50", MPS_ERR_MALFORMED, 8),
	REFUSED(PH_REQUEST, "UTF-8 in a domain",
	    "05 01 00 03 03 c3 a9 'e' 00 50", MPS_ERR_MALFORMED, 6),
};

static void
check_vector(const vec *v, const result *r)
{
	REQUIRE(r->rv == v->rv, "%s: %s answered %d, want %d", v->name,
	    phase_name[v->ph], (int)r->rv, (int)v->rv);
	if (!framed(v->rv)) {
		if (v->rv == APR_EAFNOSUPPORT)
			REQUIRE(r->req.cmd == v->cmd &&
			    r->req.atyp == v->atyp, "%s: cmd/atyp", v->name);
		return;		/* check_contract saw it cleared */
	}
	REQUIRE(r->consumed == v->len, "%s: consumed %zu, want %zu",
	    v->name, r->consumed, v->len);
	switch (v->ph) {
	case PH_GREETING:
		REQUIRE(r->offered == v->offered, "%s: offered %#x", v->name,
		    r->offered);
		break;
	case PH_USERPASS:
		REQUIRE(strcmp(r->user, v->user) == 0 &&
		    strcmp(r->pass, v->pass) == 0, "%s: got '%s'/'%s'",
		    v->name, r->user, r->pass);
		break;
	case PH_REQUEST:
		REQUIRE(r->req.cmd == v->cmd && r->req.atyp == v->atyp &&
		    r->req.port == v->port &&
		    strcmp(r->req.host, v->host) == 0 &&
		    r->req.host_len == strlen(v->host),
		    "%s: got cmd %u atyp %u '%s' port %u", v->name,
		    r->req.cmd, r->req.atyp, r->req.host, r->req.port);
		break;
	}
}

/*
 * Every vector, cut at every byte: NEED_MORE (nothing consumed, outputs
 * clear) below its deciding length, its answer at and above it.
 */
START_TEST(test_vectors)
{
	uint8_t v[600];
	size_t i, n, decided;
	result r;

	for (i = 0; i < NELEM(vectors); i++) {
		n = unit_unhex(vectors[i].hex, v, sizeof(v));
		decided = sweep(vectors[i].ph, v, n, &r, vectors[i].name);
		ck_assert_msg(decided == vectors[i].len, "%s: decided at %zu "
		    "bytes, want %zu", vectors[i].name, decided,
		    vectors[i].len);
		check_vector(&vectors[i], &r);
	}
}
END_TEST

/* The longest field of each kind, and caller buffers at their edges. */
START_TEST(test_longest_fields)
{
	uint8_t m[600];
	size_t n, i, used;
	result r;
	char user[8], pass[2];

	/* 255 methods, all of them. */
	m[0] = 5;
	m[1] = 255;
	for (i = 0; i < 255; i++)
		m[2 + i] = (uint8_t)i;
	ck_assert_uint_eq(sweep(PH_GREETING, m, 257, &r, "255 methods"), 257);
	ck_assert_int_eq(r.rv, APR_SUCCESS);
	ck_assert_uint_eq(r.offered, NA | UP | OT);

	/* 255-byte user name and password: the longest message. */
	m[0] = 1;
	m[1] = 255;
	memset(m + 2, 'u', 255);
	m[257] = 255;
	memset(m + 258, 'p', 255);
	n = 258 + 255;
	ck_assert_uint_eq(n, MPS_SOCKS5_USERPASS_MAX);
	ck_assert_uint_eq(n, MPS_SOCKS5_MSG_MAX);
	ck_assert_uint_eq(sweep(PH_USERPASS, m, n, &r, "255/255"), n);
	ck_assert_int_eq(r.rv, APR_SUCCESS);
	ck_assert_uint_eq(strlen(r.user), 255);
	ck_assert_uint_eq(strlen(r.pass), 255);
	/* A NUL as the very last password byte is still found. */
	m[n - 1] = 0;
	ck_assert_uint_eq(sweep(PH_USERPASS, m, n, &r, "255/NUL"), n);
	ck_assert_int_eq(r.rv, MPS_ERR_MALFORMED);

	/* 255-byte domain. */
	m[0] = 5;
	m[1] = 1;
	m[2] = 0;
	m[3] = 3;
	m[4] = 255;
	memset(m + 5, 'a', 255);
	m[260] = 0x42;
	m[261] = 0x60;
	ck_assert_uint_eq(sweep(PH_REQUEST, m, 262, &r, "255 domain"), 262);
	ck_assert_int_eq(r.rv, APR_SUCCESS);
	ck_assert_uint_eq(r.req.host_len, 255);
	ck_assert_uint_eq(r.consumed, MPS_SOCKS5_REQUEST_MAX);

	/* Caller buffers: room for the field and its NUL, or TOO_LARGE as
	 * soon as the length byte is there. */
	n = unit_unhex("01 07 'admin12' 01 'p'", m, sizeof(m));
	memset(user, 'X', sizeof(user));
	memset(pass, 'X', sizeof(pass));
	ck_assert_int_eq(mps_socks5_parse_userpass(m, n, &used, user, 8,
	    pass, 2), APR_SUCCESS);
	ck_assert_uint_eq(used, n);
	ck_assert_str_eq(user, "admin12");
	ck_assert_str_eq(pass, "p");
	memset(user, 'X', sizeof(user));
	memset(pass, 'X', sizeof(pass));
	ck_assert_int_eq(mps_socks5_parse_userpass(m, 2, &used, user, 7,
	    pass, 2), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(used, 0);
	ck_assert(all_zero(user, 7) && all_zero(pass, 2));
	ck_assert_int_eq(mps_socks5_parse_userpass(m, n, &used, user, 8,
	    pass, 1), MPS_ERR_TOO_LARGE);
	/* An empty password fits a one-byte buffer. */
	n = unit_unhex("01 01 'u' 00", m, sizeof(m));
	ck_assert_int_eq(mps_socks5_parse_userpass(m, n, &used, user, 8,
	    pass, 1), APR_SUCCESS);
	ck_assert_str_eq(pass, "");
	ck_assert_int_eq(mps_socks5_parse_userpass(m, n, &used, user, 0,
	    pass, 1), APR_EINVAL);
	ck_assert_int_eq(mps_socks5_parse_userpass(m, n, &used, user, 8,
	    pass, 0), APR_EINVAL);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/* What a misdirected client speaks, from as little as one byte. */
START_TEST(test_foreign_protocol)
{
	static const struct {
		const char *hex;
		const char *want;
	} t[] = {
		{ "'GET / HTTP/1.1' 0d 0a", "HTTP" },
		{ "'G'", "HTTP" },
		{ "'GE'", "HTTP" },
		{ "'GET '", "HTTP" },
		{ "'GETX'", NULL },
		{ "'get / HTTP/1.1'", NULL },
		{ "'P'", "HTTP" },
		{ "'PUT /x'", "HTTP" },
		{ "'POST /x'", "HTTP" },
		{ "'PATCH /x'", "HTTP" },
		{ "'CONNECT amt-dev1:16993 HTTP/1.1'", "HTTP" },
		{ "'HEAD / HTTP/1.0'", "HTTP" },
		{ "'DELETE /'", "HTTP" },
		{ "'OPTIONS * HTTP/1.1'", "HTTP" },
		{ "'TRACE /'", "HTTP" },
		{ "'X'", NULL },
		{ "16", "TLS" },
		{ "16 03 01 00 a5 01", "TLS" },
		{ "16 00", NULL },
		{ "04", "SOCKS4" },
		{ "04 01 00 50 7f 00 00 01 00", "SOCKS4" },
		{ "04 02", "SOCKS4" },
		{ "04 05", NULL },
		{ "05 00", NULL },
		{ "00", NULL },
		{ "", NULL },
	};
	uint8_t v[64];
	size_t i, n;
	const char *got;
	result r;

	for (i = 0; i < NELEM(t); i++) {
		n = unit_unhex(t[i].hex, v, sizeof(v));
		got = mps_socks5_foreign_protocol(v, n);
		if (t[i].want == NULL)
			ck_assert_msg(got == NULL, "%s: got %s", t[i].hex, got);
		else
			ck_assert_msg(got != NULL &&
			    strcmp(got, t[i].want) == 0, "%s: got %s, want %s",
			    t[i].hex, got ? got : "NULL", t[i].want);
		/* Whatever it is, it is never taken for a greeting. */
		if (got != NULL) {
			run(PH_GREETING, v, n, &r);
			ck_assert_int_eq(r.rv, MPS_ERR_MALFORMED);
		}
	}
	ck_assert_ptr_null(mps_socks5_foreign_protocol(NULL, 0));
}
END_TEST

/* ---- Method choice ---- */

START_TEST(test_choose_method)
{
	static const struct {
		unsigned offered;
		int need_auth;
		uint8_t want;
	} t[] = {
		{ 0, 0, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ 0, 1, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ NA, 0, MPS_SOCKS5_METHOD_NO_AUTH },
		{ NA, 1, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ UP, 0, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ UP, 1, MPS_SOCKS5_METHOD_USERPASS },
		{ NA | UP, 0, MPS_SOCKS5_METHOD_NO_AUTH },
		{ NA | UP, 1, MPS_SOCKS5_METHOD_USERPASS },
		{ OT, 0, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ OT, 1, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ NA | OT, 0, MPS_SOCKS5_METHOD_NO_AUTH },
		{ NA | OT, 1, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ UP | OT, 0, MPS_SOCKS5_METHOD_NO_ACCEPTABLE },
		{ UP | OT, 1, MPS_SOCKS5_METHOD_USERPASS },
		{ NA | UP | OT, 0, MPS_SOCKS5_METHOD_NO_AUTH },
		{ NA | UP | OT, 1, MPS_SOCKS5_METHOD_USERPASS },
		/* Any non-zero need_auth means yes. */
		{ NA | UP, 7, MPS_SOCKS5_METHOD_USERPASS },
	};
	uint8_t out[MPS_SOCKS5_METHOD_REPLY_LEN + 1];
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		ck_assert_msg(mps_socks5_choose_method(t[i].offered,
		    t[i].need_auth) == t[i].want, "row %zu", i);

	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(mps_socks5_encode_method(out,
	    MPS_SOCKS5_METHOD_USERPASS), 2);
	ck_assert_mem_eq(out, "\x05\x02\xee", 3);
	ck_assert_uint_eq(mps_socks5_encode_method(out,
	    MPS_SOCKS5_METHOD_NO_AUTH), 2);
	ck_assert_mem_eq(out, "\x05\x00\xee", 3);
	ck_assert_uint_eq(mps_socks5_encode_method(out,
	    MPS_SOCKS5_METHOD_NO_ACCEPTABLE), 2);
	ck_assert_mem_eq(out, "\x05\xff\xee", 3);

	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(mps_socks5_encode_auth_status(out, 1), 2);
	ck_assert_mem_eq(out, "\x01\x00\xee", 3);
	ck_assert_uint_eq(mps_socks5_encode_auth_status(out, 0), 2);
	ck_assert_mem_eq(out, "\x01\x01\xee", 3);
}
END_TEST

/* ---- Whole handshakes ---- */

static const char payload[] =
    "GET / HTTP/1.1\r\nHost: amt-dev1.corp.example.com:16992\r\n\r\n";

/*
 * What curl -U admin:P@ssw0rd --socks5-hostname sends when it does not
 * wait for our replies: greeting, userpass, request, then the payload.
 */
static size_t
curl_auth_stream(uint8_t *s, size_t size)
{
	size_t n = unit_unhex("05 03 00 01 02 "
	    "01 05 61 64 6d 69 6e 08 50 40 73 73 77 30 72 64 "
	    "05 01 00 03 19 61 6d 74 2d 64 65 76 31 2e 63 6f 72 70 2e 65 78 "
	    "61 6d 70 6c 65 2e 63 6f 6d 42 60", s, size);

	REQUIRE(n + sizeof(payload) - 1 <= size, "stream too long");
	memcpy(s + n, payload, sizeof(payload) - 1);
	return n + sizeof(payload) - 1;
}

/* The buffer is taken apart phase by phase, as the listener will. */
START_TEST(test_pipelined)
{
	uint8_t s[256], copy[256];
	size_t n = curl_auth_stream(s, sizeof(s)), off = 0, used;
	unsigned offered;
	char user[MPS_SOCKS5_CRED_SIZE], pass[MPS_SOCKS5_CRED_SIZE];
	mps_socks5_request_t req;

	memcpy(copy, s, n);
	ck_assert_int_eq(mps_socks5_parse_greeting(s, n, &used, &offered),
	    APR_SUCCESS);
	ck_assert_uint_eq(used, 5);
	ck_assert_uint_eq(mps_socks5_choose_method(offered, 1),
	    MPS_SOCKS5_METHOD_USERPASS);
	off += used;
	ck_assert_int_eq(mps_socks5_parse_userpass(s + off, n - off, &used,
	    user, sizeof(user), pass, sizeof(pass)), APR_SUCCESS);
	ck_assert_uint_eq(used, 16);
	ck_assert_str_eq(user, "admin");
	ck_assert_str_eq(pass, "P@ssw0rd");
	off += used;
	ck_assert_int_eq(mps_socks5_parse_request(s + off, n - off, &used,
	    &req), APR_SUCCESS);
	ck_assert_uint_eq(used, 32);
	ck_assert_str_eq(req.host, "amt-dev1.corp.example.com");
	ck_assert_uint_eq(req.port, 16992);
	off += used;
	/* What is left is exactly the console's first bytes for the
	 * device, and the parsers wrote nothing into the input. */
	ck_assert_uint_eq(n - off, sizeof(payload) - 1);
	ck_assert_mem_eq(s + off, payload, sizeof(payload) - 1);
	ck_assert_mem_eq(s, copy, n);
}
END_TEST

/* What the listener would see of one console: its steps and what is
 * left for the relay (or unread when it stops). */
#define MAX_STEPS	4
typedef struct transcript {
	phase ph[MAX_STEPS];
	result res[MAX_STEPS];
	size_t nsteps;
	uint8_t rest[1024];
	size_t nrest;
} transcript;

/* Chunk sizes: 0 whole, 1 one byte at a time, 2 and 3 random. */
static size_t
chunk(int mode, size_t left)
{
	size_t k;

	switch (mode) {
	case 0: k = left; break;
	case 1: k = 1; break;
	case 2: k = 1 + unit_rng() % 7; break;
	default: k = 1 + unit_rng() % 100; break;
	}
	return k < left ? k : left;
}

/*
 * The listener's loop: append what arrived; while the current phase has
 * a whole message, take it and move on; stop at the first refusal
 * (where the listener replies and closes) or when the relay starts.
 */
static void
feed(const uint8_t *s, size_t n, int need_auth, int mode, transcript *t)
{
	mps_buf_t in;
	phase ph = PH_GREETING;
	size_t off = 0, k;
	int done = 0;
	result *r;
	uint8_t m;

	memset(t, 0, sizeof(*t));
	mps_buf_init(&in, 4096);
	while (off < n) {
		k = chunk(mode, n - off);
		REQUIRE(mps_buf_put(&in, s + off, k) == APR_SUCCESS, "put");
		off += k;
		while (!done) {
			REQUIRE(t->nsteps < MAX_STEPS, "too many steps");
			r = &t->res[t->nsteps];
			run(ph, mps_buf_ptr(&in), mps_buf_len(&in), r);
			check_contract(ph, mps_buf_ptr(&in), mps_buf_len(&in),
			    r, "stream");
			if (r->rv == MPS_NEED_MORE)
				break;
			t->ph[t->nsteps++] = ph;
			if (r->rv != APR_SUCCESS) {
				done = 1;
				break;
			}
			REQUIRE(mps_buf_consume(&in, r->consumed) ==
			    APR_SUCCESS, "consume");
			switch (ph) {
			case PH_GREETING:
				m = mps_socks5_choose_method(r->offered,
				    need_auth);
				if (m == MPS_SOCKS5_METHOD_NO_ACCEPTABLE)
					done = 1;
				ph = m == MPS_SOCKS5_METHOD_USERPASS ?
				    PH_USERPASS : PH_REQUEST;
				break;
			case PH_USERPASS:
				ph = PH_REQUEST;
				break;
			case PH_REQUEST:
				done = 1;	/* the relay takes over */
				break;
			}
		}
	}
	REQUIRE(mps_buf_len(&in) <= sizeof(t->rest), "rest too long");
	t->nrest = mps_buf_len(&in);
	memcpy(t->rest, mps_buf_ptr(&in), t->nrest);
	mps_buf_free(&in);
}

static void
same_transcript(const transcript *a, const transcript *b, const char *what)
{
	size_t i;

	REQUIRE(a->nsteps == b->nsteps, "%s: %zu steps vs %zu", what,
	    a->nsteps, b->nsteps);
	for (i = 0; i < a->nsteps; i++)
		REQUIRE(a->ph[i] == b->ph[i] &&
		    same_result(a->ph[i], &a->res[i], &b->res[i]),
		    "%s: step %zu differs", what, i);
	REQUIRE(a->nrest == b->nrest &&
	    memcmp(a->rest, b->rest, a->nrest) == 0, "%s: rest differs",
	    what);
}

START_TEST(test_stream_feeding)
{
	static const struct {
		const char *what;
		const char *hex;	/* NULL: the curl -U stream */
		int need_auth;
		size_t nsteps;
		apr_status_t last;	/* the last step's answer */
		size_t nrest;		/* bytes left after the last step */
	} t[] = {
		{ "curl -U, pipelined", NULL, 1, 3, APR_SUCCESS,
		    sizeof(payload) - 1 },
		/* Credentials sent to an mpsd that wants none: the greeting
		 * picks 00, and the userpass bytes are no request. */
		{ "curl -U, auth off", NULL, 0, 2, MPS_ERR_MALFORMED, 0 },
		{ "no auth, IPv6, payload", "05 02 00 01 05 01 00 04 20 01 0d "
		    "b8 00 00 00 00 00 00 00 00 00 00 00 01 42 61 'hello'",
		    0, 2, APR_SUCCESS, 5 },
		{ "auth wanted, not offered", "05 01 00 05 01 00 01 7f 00 00 "
		    "01 42 60", 1, 1, APR_SUCCESS, 10 },
		{ "BIND", "05 01 00 05 02 00 01 7f 00 00 01 42 60 'x'",
		    0, 2, APR_ENOTIMPL, 11 },
		{ "ATYP 5", "05 01 00 05 01 00 05 01 02 03 04", 0, 2,
		    APR_EAFNOSUPPORT, 8 },
		{ "NUL in the user", "05 01 02 01 03 'a' 00 'b' 01 'p' 05 01 "
		    "00 01 7f 00 00 01 42 60", 1, 2, MPS_ERR_MALFORMED, 0 },
		{ "stops mid-request", "05 01 00 05 01 00 03 10 'amt'",
		    0, 1, APR_SUCCESS, 8 },
	};
	uint8_t s[512];
	size_t i, n, rep;
	transcript whole, other;
	int mode;

	unit_rng_seed(0x50c55);
	for (i = 0; i < NELEM(t); i++) {
		n = t[i].hex == NULL ? curl_auth_stream(s, sizeof(s)) :
		    unit_unhex(t[i].hex, s, sizeof(s));
		feed(s, n, t[i].need_auth, 0, &whole);
		ck_assert_msg(whole.nsteps == t[i].nsteps, "%s: %zu steps",
		    t[i].what, whole.nsteps);
		ck_assert_msg(whole.res[whole.nsteps - 1].rv == t[i].last,
		    "%s: last step %d", t[i].what,
		    (int)whole.res[whole.nsteps - 1].rv);
		/* A refused step leaves its bytes unread; the rest of a
		 * successful handshake is the relay's, untouched. */
		if (t[i].last != MPS_ERR_MALFORMED)
			ck_assert_msg(whole.nrest == t[i].nrest,
			    "%s: %zu bytes left", t[i].what, whole.nrest);
		if (t[i].hex == NULL && t[i].need_auth)
			ck_assert_mem_eq(whole.rest, payload,
			    sizeof(payload) - 1);
		for (mode = 1; mode <= 3; mode++)
			for (rep = 0; rep < (mode == 1 ? 1u : 25u); rep++) {
				feed(s, n, t[i].need_auth, mode, &other);
				same_transcript(&whole, &other, t[i].what);
			}
	}
}
END_TEST

/* ---- Robustness ---- */

typedef struct sample {
	uint8_t bytes[600];
	size_t len;
} sample;

static size_t
build_samples(sample *s, size_t max)
{
	size_t i, n = 0;

	/* Every vector that is a whole message... */
	for (i = 0; i < NELEM(vectors) && n < max; i++) {
		if (!framed(vectors[i].rv))
			continue;
		s[n].len = unit_unhex(vectors[i].hex, s[n].bytes,
		    sizeof(s[n].bytes));
		n++;
	}
	/* ...and the longest of each kind. */
	REQUIRE(n + 3 <= max, "too many samples");
	s[n].bytes[0] = 5;
	s[n].bytes[1] = 255;
	for (i = 0; i < 255; i++)
		s[n].bytes[2 + i] = (uint8_t)(i * 7);
	s[n++].len = 257;
	s[n].bytes[0] = 1;
	s[n].bytes[1] = 255;
	memset(s[n].bytes + 2, 'u', 255);
	s[n].bytes[257] = 255;
	memset(s[n].bytes + 258, 'p', 255);
	s[n++].len = 513;
	memcpy(s[n].bytes, "\x05\x01\x00\x03\xff", 5);
	memset(s[n].bytes + 5, 'h', 255);
	s[n].bytes[260] = 1;
	s[n].bytes[261] = 2;
	s[n++].len = 262;
	return n;
}

static size_t mutants, sweeps;

/* Feeds one input to all three parsers; now and then, every prefix. */
static void
check_input(const uint8_t *p, size_t n, const char *what)
{
	result r;
	int ph;

	for (ph = PH_GREETING; ph <= PH_REQUEST; ph++) {
		run((phase)ph, p, n, &r);
		check_contract((phase)ph, p, n, &r, what);
	}
	if (mutants++ % 16 == 0)
		for (ph = PH_GREETING; ph <= PH_REQUEST; ph++) {
			(void)sweep((phase)ph, p, n, &r, what);
			sweeps++;
		}
}

/*
 * Deterministic mutations of every sample: each bit flipped, each byte
 * inverted and set to 0x00, 0x20, 0x7f, 0x80 and 0xff, truncation from
 * the start, and random multi-byte changes.
 */
START_TEST(test_mutations)
{
	static sample samples[64];
	static const uint8_t fills[] = { 0x00, 0x20, 0x7f, 0x80, 0xff };
	uint8_t mut[600];
	size_t ns, i, pos, bit, f, k, len;

	ns = build_samples(samples, NELEM(samples));
	unit_rng_seed(1928);
	mutants = sweeps = 0;
	for (i = 0; i < ns; i++) {
		const sample *s = &samples[i];

		len = s->len;
		check_input(s->bytes, len, "sample");
		for (bit = 0; bit < len * 8; bit++) {
			memcpy(mut, s->bytes, len);
			mut[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			check_input(mut, len, "bit flip");
		}
		for (pos = 0; pos < len; pos++) {
			memcpy(mut, s->bytes, len);
			mut[pos] ^= 0xff;
			check_input(mut, len, "byte flip");
			for (f = 0; f < sizeof(fills); f++) {
				memcpy(mut, s->bytes, len);
				mut[pos] = fills[f];
				check_input(mut, len, "byte set");
			}
			check_input(s->bytes + pos, len - pos, "tail");
		}
		for (k = 0; k < 100; k++) {
			memcpy(mut, s->bytes, len);
			for (f = 1 + unit_rng() % 4; f > 0; f--)
				mut[unit_rng() % len] = (uint8_t)unit_rng();
			check_input(mut, len, "random bytes");
		}
	}
	ck_assert_uint_gt(mutants, 20000);
	ck_assert_uint_gt(sweeps, 1000);
}
END_TEST

/*
 * Random inputs shaped like each phase (right version byte, small length
 * bytes likely), every prefix checked.
 */
START_TEST(test_random_inputs)
{
	static const uint8_t first[] = { 5, 1, 5 };
	uint8_t in[600];
	size_t k, i, n;
	int ph;
	result r;

	unit_rng_seed(1929);
	for (k = 0; k < 600; k++) {
		ph = (int)(k % 3);
		n = unit_rng() % 300;
		for (i = 0; i < n; i++) {
			switch (unit_rng() % 4) {
			case 0: in[i] = (uint8_t)(unit_rng() % 6); break;
			case 1: in[i] = (uint8_t)('a' + unit_rng() % 26); break;
			default: in[i] = (uint8_t)unit_rng(); break;
			}
		}
		if (n > 0 && unit_rng() % 8 != 0)
			in[0] = first[ph];
		if (n > 2 && ph == PH_REQUEST && unit_rng() % 4 != 0)
			in[2] = 0;
		(void)sweep((phase)ph, in, n, &r, "random");
	}
}
END_TEST

/* ---- Replies ---- */

static void
check_reply(uint8_t rep, const struct sockaddr *sa, const char *hex)
{
	uint8_t want[MPS_SOCKS5_REPLY_MAX + 1], out[MPS_SOCKS5_REPLY_MAX + 1];
	size_t n = unit_unhex(hex, want, sizeof(want)), len = 99;

	memset(out, 0xee, sizeof(out));
	ck_assert_int_eq(mps_socks5_encode_reply(out, &len, rep, sa),
	    APR_SUCCESS);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(out, want, n);
	ck_assert_uint_eq(out[n], 0xee);	/* nothing written past it */
}

START_TEST(test_reply_encoding)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
	struct sockaddr_un sun_addr;
	uint8_t out[MPS_SOCKS5_REPLY_MAX];
	size_t len;
	unsigned rep;

	check_reply(MPS_SOCKS5_REP_SUCCEEDED, NULL,
	    "05 00 00 01 00 00 00 00 00 00");
	check_reply(MPS_SOCKS5_REP_HOST_UNREACHABLE, NULL,
	    "05 04 00 01 00 00 00 00 00 00");

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(1080);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr), 1);
	check_reply(MPS_SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&sin,
	    "05 00 00 01 c0 00 02 01 04 38");

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(16992);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::5",
	    &sin6.sin6_addr), 1);
	check_reply(MPS_SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&sin6,
	    "05 00 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 05 "
	    "42 60");
	/* Through a sockaddr_storage, as accept() and APR hand it out. */
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sin6, sizeof(sin6));
	check_reply(MPS_SOCKS5_REP_CONNECTION_REFUSED, (struct sockaddr *)&ss,
	    "05 05 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 05 "
	    "42 60");
	/* IPv4-mapped stays IPv6. */
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.1",
	    &sin6.sin6_addr), 1);
	sin6.sin6_port = htons(1);
	check_reply(MPS_SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&sin6,
	    "05 00 00 04 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
	    "00 01");

	/* Every defined code goes out as itself. */
	for (rep = 0; rep <= MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED; rep++) {
		ck_assert_int_eq(mps_socks5_encode_reply(out, &len,
		    (uint8_t)rep, NULL), APR_SUCCESS);
		ck_assert_uint_eq(len, 10);
		ck_assert_uint_eq(out[1], rep);
	}

	/* Refusals write nothing. */
	memset(&sun_addr, 0, sizeof(sun_addr));
	sun_addr.sun_family = AF_UNIX;
	memset(out, 0xee, sizeof(out));
	len = 99;
	ck_assert_int_eq(mps_socks5_encode_reply(out, &len,
	    MPS_SOCKS5_REP_SUCCEEDED, (struct sockaddr *)&sun_addr),
	    APR_EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(out[0], 0xee);
	len = 99;
	ck_assert_int_eq(mps_socks5_encode_reply(out, &len, 0x09, NULL),
	    APR_EINVAL);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(mps_socks5_encode_reply(out, &len, 0xff,
	    (struct sockaddr *)&sin), APR_EINVAL);
	ck_assert_uint_eq(out[0], 0xee);
}
END_TEST

START_TEST(test_rep_for)
{
	static const struct {
		apr_status_t rv;
		uint8_t rep;
	} t[] = {
		{ APR_SUCCESS, MPS_SOCKS5_REP_SUCCEEDED },
		{ APR_ENOTIMPL, MPS_SOCKS5_REP_CMD_NOT_SUPPORTED },
		{ APR_EAFNOSUPPORT, MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED },
		{ MPS_ERR_NOT_ALLOWED, MPS_SOCKS5_REP_NOT_ALLOWED },
		{ APR_ECONNREFUSED, MPS_SOCKS5_REP_CONNECTION_REFUSED },
		{ APR_ENETUNREACH, MPS_SOCKS5_REP_NETWORK_UNREACHABLE },
		{ APR_EHOSTUNREACH, MPS_SOCKS5_REP_HOST_UNREACHABLE },
		{ MPS_ERR_TIMEOUT, MPS_SOCKS5_REP_TTL_EXPIRED },
		{ APR_TIMEUP, MPS_SOCKS5_REP_TTL_EXPIRED },
		{ APR_ETIMEDOUT, MPS_SOCKS5_REP_TTL_EXPIRED },
		{ MPS_ERR_MALFORMED, MPS_SOCKS5_REP_GENERAL_FAILURE },
		{ MPS_ERR_QUEUE_FULL, MPS_SOCKS5_REP_GENERAL_FAILURE },
		{ APR_ENOMEM, MPS_SOCKS5_REP_GENERAL_FAILURE },
		{ APR_EGENERAL, MPS_SOCKS5_REP_GENERAL_FAILURE },
	};
	uint8_t v[32];
	size_t i, n, used;
	mps_socks5_request_t req;

	for (i = 0; i < NELEM(t); i++)
		ck_assert_msg(mps_socks5_rep_for(t[i].rv) == t[i].rep,
		    "row %zu: got %u", i, mps_socks5_rep_for(t[i].rv));
	/* The parser's declines map to the codes RFC 1928 has for them. */
	n = unit_unhex("05 02 00 01 7f 00 00 01 00 50", v, sizeof(v));
	ck_assert_uint_eq(mps_socks5_rep_for(mps_socks5_parse_request(v, n,
	    &used, &req)), MPS_SOCKS5_REP_CMD_NOT_SUPPORTED);
	n = unit_unhex("05 01 00 05", v, sizeof(v));
	ck_assert_uint_eq(mps_socks5_rep_for(mps_socks5_parse_request(v, n,
	    &used, &req)), MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(mps_socks5_rep_name(0), "succeeded");
	ck_assert_str_eq(mps_socks5_rep_name(1),
	    "general SOCKS server failure");
	ck_assert_str_eq(mps_socks5_rep_name(2),
	    "connection not allowed by ruleset");
	ck_assert_str_eq(mps_socks5_rep_name(3), "network unreachable");
	ck_assert_str_eq(mps_socks5_rep_name(4), "host unreachable");
	ck_assert_str_eq(mps_socks5_rep_name(5), "connection refused");
	ck_assert_str_eq(mps_socks5_rep_name(6), "TTL expired");
	ck_assert_str_eq(mps_socks5_rep_name(7), "command not supported");
	ck_assert_str_eq(mps_socks5_rep_name(8),
	    "address type not supported");
	ck_assert_str_eq(mps_socks5_rep_name(9), "unassigned");
	ck_assert_str_eq(mps_socks5_rep_name(255), "unassigned");
	ck_assert_str_eq(mps_socks5_rep_name(~0u), "unassigned");
	ck_assert_str_eq(mps_socks5_cmd_name(1), "CONNECT");
	ck_assert_str_eq(mps_socks5_cmd_name(2), "BIND");
	ck_assert_str_eq(mps_socks5_cmd_name(3), "UDP ASSOCIATE");
	ck_assert_str_eq(mps_socks5_cmd_name(0), "unknown");
	ck_assert_str_eq(mps_socks5_cmd_name(4), "unknown");
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("socks5");
	TCase *v = tcase_create("vectors");
	TCase *h = tcase_create("handshake");
	TCase *z = tcase_create("robustness");

	tcase_add_test(v, test_vectors);
	tcase_add_test(v, test_longest_fields);
	tcase_add_test(v, test_foreign_protocol);
	tcase_add_test(v, test_choose_method);
	tcase_add_test(v, test_reply_encoding);
	tcase_add_test(v, test_rep_for);
	tcase_add_test(v, test_names);
	suite_add_tcase(s, v);

	tcase_add_test(h, test_pipelined);
	tcase_add_test(h, test_stream_feeding);
	suite_add_tcase(s, h);

	/* Generous for sanitizer builds; a plain build takes well under
	 * a second. */
	tcase_set_timeout(z, 60);
	tcase_add_test(z, test_mutations);
	tcase_add_test(z, test_random_inputs);
	suite_add_tcase(s, z);
	return s;
}
