/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socks5.c: SOCKS5 server-side messages to and from bytes (see socks5.h).
 *
 * Every field is read through an mps_buf view over the caller's bytes:
 * no offset arithmetic, so a short input is MPS_NEED_MORE from the
 * getter, never a read past the end. Each parser is written in the order
 * of the wire so that the first byte that makes a message impossible
 * decides the answer, before anything after it is awaited.
 *
 * Outputs are written only on success (or, for the two "well formed but
 * declined" request results, as documented); every other path clears
 * them, so a caller that ignores a result still sees nothing stale.
 */
#include "socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "buf.h"
#include "mps_status.h"

/* ---- Shared field readers ---- */

/* Reads the version byte and insists on want: a wrong version is known
 * from the first byte, so it is refused without waiting for the rest. */
static apr_status_t
get_version(mps_buf_t *r, uint8_t want)
{
	uint8_t ver;
	apr_status_t rv;

	if ((rv = mps_buf_get_u8(r, &ver)) != APR_SUCCESS)
		return rv;
	return ver == want ? APR_SUCCESS : MPS_ERR_MALFORMED;
}

/* Credentials may carry any byte but NUL (it would cut the C string). */
static int
cred_byte_ok(uint8_t c)
{
	return c != 0x00;
}

/* Domain names: printable ASCII without space (see socks5.h). */
static int
host_byte_ok(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e;
}

/*
 * Copies a len-byte text field into out[0 .. outsize), NUL-terminated.
 * The bytes that have arrived are checked before waiting for the rest, so
 * a bad byte early in a long field fails now rather than after up to 254
 * more bytes that a hostile client may never send.
 */
static apr_status_t
get_text(mps_buf_t *r, size_t len, char *out, size_t outsize,
    int (*byte_ok)(uint8_t))
{
	const uint8_t *q = mps_buf_ptr(r);
	size_t have = mps_buf_len(r), i;
	apr_status_t rv;

	if (len >= outsize)
		return MPS_ERR_TOO_LARGE;
	for (i = 0; i < len && i < have; i++)
		if (!byte_ok(q[i]))
			return MPS_ERR_MALFORMED;
	if ((rv = mps_buf_get_bytes(r, out, len)) != APR_SUCCESS)
		return rv;
	out[len] = '\0';
	return APR_SUCCESS;
}

/* How far the reader got: the exact length of the message just parsed. */
static size_t
used(const mps_buf_t *r, size_t n)
{
	return n - mps_buf_len(r);
}

/* ---- Phase 1: method negotiation ---- */

static unsigned
method_bit(uint8_t method)
{
	switch (method) {
	case MPS_SOCKS5_METHOD_NO_AUTH:
		return MPS_SOCKS5_OFFERS_NO_AUTH;
	case MPS_SOCKS5_METHOD_USERPASS:
		return MPS_SOCKS5_OFFERS_USERPASS;
	default:
		return MPS_SOCKS5_OFFERS_OTHER;
	}
}

apr_status_t
mps_socks5_parse_greeting(const uint8_t *p, size_t n, size_t *consumed,
    unsigned *offered)
{
	mps_buf_t r;
	uint8_t nmethods, method;
	unsigned set = 0, i;
	apr_status_t rv;

	*consumed = 0;
	*offered = 0;
	mps_buf_view(&r, p, n);
	if ((rv = get_version(&r, MPS_SOCKS5_VERSION)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u8(&r, &nmethods)) != APR_SUCCESS)
		return rv;
	if (nmethods == 0)
		return MPS_ERR_MALFORMED;
	for (i = 0; i < nmethods; i++) {
		if ((rv = mps_buf_get_u8(&r, &method)) != APR_SUCCESS)
			return rv;
		set |= method_bit(method);
	}
	*offered = set;
	*consumed = used(&r, n);
	return APR_SUCCESS;
}

uint8_t
mps_socks5_choose_method(unsigned offered, int need_auth)
{
	if (need_auth)
		return (offered & MPS_SOCKS5_OFFERS_USERPASS) != 0 ?
		    MPS_SOCKS5_METHOD_USERPASS :
		    MPS_SOCKS5_METHOD_NO_ACCEPTABLE;
	return (offered & MPS_SOCKS5_OFFERS_NO_AUTH) != 0 ?
	    MPS_SOCKS5_METHOD_NO_AUTH : MPS_SOCKS5_METHOD_NO_ACCEPTABLE;
}

size_t
mps_socks5_encode_method(uint8_t out[MPS_SOCKS5_METHOD_REPLY_LEN],
    uint8_t method)
{
	out[0] = MPS_SOCKS5_VERSION;
	out[1] = method;
	return MPS_SOCKS5_METHOD_REPLY_LEN;
}

/* Does the available prefix p[0 .. n) agree with lit (as far as both go)? */
static int
prefix_matches(const uint8_t *p, size_t n, const char *lit)
{
	size_t len = strlen(lit);

	return n > 0 && memcmp(p, lit, n < len ? n : len) == 0;
}

const char *
mps_socks5_foreign_protocol(const uint8_t *p, size_t n)
{
	/* Request lines of RFC 9110 methods, with the space that ends the
	 * method, so that "GETX" or a lone 'G' followed by junk is not
	 * taken for HTTP once the bytes are there to tell. */
	static const char *const http[] = {
		"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "CONNECT ",
		"OPTIONS ", "TRACE ", "PATCH "
	};
	size_t i;

	if (n == 0)
		return NULL;
	for (i = 0; i < sizeof(http) / sizeof(http[0]); i++)
		if (prefix_matches(p, n, http[i]))
			return "HTTP";
	/* A TLS record: content type 22 (handshake), version major 3. */
	if (p[0] == 0x16 && (n < 2 || p[1] == 0x03))
		return "TLS";
	/* SOCKS4(a): VN 4, CD 1 (CONNECT) or 2 (BIND). */
	if (p[0] == 0x04 && (n < 2 || p[1] == 0x01 || p[1] == 0x02))
		return "SOCKS4";
	return NULL;
}

/* ---- Phase 2: username/password ---- */

static apr_status_t
parse_userpass(mps_buf_t *r, char *user, size_t usersize, char *pass,
    size_t passsize)
{
	uint8_t ulen, plen;
	apr_status_t rv;

	if ((rv = get_version(r, MPS_SOCKS5_AUTH_VERSION)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u8(r, &ulen)) != APR_SUCCESS)
		return rv;
	if (ulen == 0)
		return MPS_ERR_MALFORMED;
	if ((rv = get_text(r, ulen, user, usersize, cred_byte_ok)) !=
	    APR_SUCCESS ||
	    (rv = mps_buf_get_u8(r, &plen)) != APR_SUCCESS)
		return rv;
	return get_text(r, plen, pass, passsize, cred_byte_ok);
}

apr_status_t
mps_socks5_parse_userpass(const uint8_t *p, size_t n, size_t *consumed,
    char *user, size_t usersize, char *pass, size_t passsize)
{
	mps_buf_t r;
	apr_status_t rv;

	*consumed = 0;
	if (usersize == 0 || passsize == 0)
		return APR_EINVAL;
	mps_buf_view(&r, p, n);
	if ((rv = parse_userpass(&r, user, usersize, pass, passsize)) !=
	    APR_SUCCESS) {
		/* A partial copy may hold part of a password. */
		memset(user, 0, usersize);
		memset(pass, 0, passsize);
		return rv;
	}
	*consumed = used(&r, n);
	return APR_SUCCESS;
}

size_t
mps_socks5_encode_auth_status(uint8_t out[MPS_SOCKS5_AUTH_REPLY_LEN],
    int success)
{
	out[0] = MPS_SOCKS5_AUTH_VERSION;
	out[1] = success ? MPS_SOCKS5_AUTH_SUCCESS : MPS_SOCKS5_AUTH_FAILURE;
	return MPS_SOCKS5_AUTH_REPLY_LEN;
}

/* ---- Phase 3: the request ---- */

/* Reads a binary IPv4 or IPv6 address and formats it into req->host. */
static apr_status_t
get_ip(mps_buf_t *r, int family, size_t len, mps_socks5_request_t *req)
{
	uint8_t addr[16];
	apr_status_t rv;

	if ((rv = mps_buf_get_bytes(r, addr, len)) != APR_SUCCESS)
		return rv;
	/* Cannot fail for these families with a 256-byte buffer; checked
	 * anyway so that a broken libc cannot leave req->host unset. */
	if (inet_ntop(family, addr, req->host, sizeof(req->host)) == NULL)
		return APR_EGENERAL;
	return APR_SUCCESS;
}

static apr_status_t
get_domain(mps_buf_t *r, mps_socks5_request_t *req)
{
	uint8_t len;
	apr_status_t rv;

	if ((rv = mps_buf_get_u8(r, &len)) != APR_SUCCESS)
		return rv;
	if (len == 0)
		return MPS_ERR_MALFORMED;
	return get_text(r, len, req->host, sizeof(req->host), host_byte_ok);
}

static apr_status_t
parse_request(mps_buf_t *r, mps_socks5_request_t *req)
{
	uint8_t rsv;
	apr_status_t rv;

	if ((rv = get_version(r, MPS_SOCKS5_VERSION)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u8(r, &req->cmd)) != APR_SUCCESS ||
	    (rv = mps_buf_get_u8(r, &rsv)) != APR_SUCCESS)
		return rv;
	if (rsv != 0x00)
		return MPS_ERR_MALFORMED;
	if ((rv = mps_buf_get_u8(r, &req->atyp)) != APR_SUCCESS)
		return rv;
	switch (req->atyp) {
	case MPS_SOCKS5_ATYP_IPV4:
		rv = get_ip(r, AF_INET, 4, req);
		break;
	case MPS_SOCKS5_ATYP_DOMAIN:
		rv = get_domain(r, req);
		break;
	case MPS_SOCKS5_ATYP_IPV6:
		rv = get_ip(r, AF_INET6, 16, req);
		break;
	default:
		return APR_EAFNOSUPPORT;
	}
	if (rv != APR_SUCCESS ||
	    (rv = mps_buf_get_u16(r, &req->port)) != APR_SUCCESS)
		return rv;
	req->host_len = strlen(req->host);
	return req->cmd == MPS_SOCKS5_CMD_CONNECT ? APR_SUCCESS : APR_ENOTIMPL;
}

apr_status_t
mps_socks5_parse_request(const uint8_t *p, size_t n, size_t *consumed,
    mps_socks5_request_t *req)
{
	mps_buf_t r;
	uint8_t cmd, atyp;
	apr_status_t rv;

	*consumed = 0;
	memset(req, 0, sizeof(*req));
	mps_buf_view(&r, p, n);
	rv = parse_request(&r, req);
	if (rv == APR_SUCCESS || rv == APR_ENOTIMPL) {
		*consumed = used(&r, n);
		return rv;
	}
	/* No partial result: only the unframeable address type keeps the
	 * two bytes that explain the refusal. */
	cmd = req->cmd;
	atyp = req->atyp;
	memset(req, 0, sizeof(*req));
	if (rv == APR_EAFNOSUPPORT) {
		req->cmd = cmd;
		req->atyp = atyp;
	}
	return rv;
}

/* Appends the BND.ADDR/BND.PORT of bound (or 0.0.0.0:0) after the header. */
static apr_status_t
encode_bound(uint8_t *out, size_t *len, const struct sockaddr *bound)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (bound == NULL) {
		out[3] = MPS_SOCKS5_ATYP_IPV4;
		memset(out + 4, 0, 4 + 2);
		*len = 4 + 4 + 2;
		return APR_SUCCESS;
	}
	/* Copied out rather than cast, so that a sockaddr of any alignment
	 * is read without breaking the aliasing rules. */
	switch (bound->sa_family) {
	case AF_INET:
		memcpy(&sin, bound, sizeof(sin));
		out[3] = MPS_SOCKS5_ATYP_IPV4;
		memcpy(out + 4, &sin.sin_addr, 4);
		memcpy(out + 8, &sin.sin_port, 2);	/* already big-endian */
		*len = 4 + 4 + 2;
		return APR_SUCCESS;
	case AF_INET6:
		memcpy(&sin6, bound, sizeof(sin6));
		out[3] = MPS_SOCKS5_ATYP_IPV6;
		memcpy(out + 4, &sin6.sin6_addr, 16);
		memcpy(out + 20, &sin6.sin6_port, 2);
		*len = 4 + 16 + 2;
		return APR_SUCCESS;
	default:
		return APR_EINVAL;
	}
}

apr_status_t
mps_socks5_encode_reply(uint8_t out[MPS_SOCKS5_REPLY_MAX], size_t *len,
    uint8_t rep, const struct sockaddr *bound)
{
	uint8_t tmp[MPS_SOCKS5_REPLY_MAX];
	size_t n = 0;
	apr_status_t rv;

	*len = 0;
	if (rep > MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED)
		return APR_EINVAL;
	tmp[0] = MPS_SOCKS5_VERSION;
	tmp[1] = rep;
	tmp[2] = 0x00;		/* RSV */
	/* Built aside so that a refused family leaves out untouched. */
	if ((rv = encode_bound(tmp, &n, bound)) != APR_SUCCESS)
		return rv;
	memcpy(out, tmp, n);
	*len = n;
	return APR_SUCCESS;
}

/* ---- Names and reply codes ---- */

uint8_t
mps_socks5_rep_for(apr_status_t rv)
{
	if (rv == APR_SUCCESS)
		return MPS_SOCKS5_REP_SUCCEEDED;
	if (rv == APR_ENOTIMPL)
		return MPS_SOCKS5_REP_CMD_NOT_SUPPORTED;
	if (APR_STATUS_IS_EAFNOSUPPORT(rv))
		return MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED;
	if (rv == MPS_ERR_NOT_ALLOWED)
		return MPS_SOCKS5_REP_NOT_ALLOWED;
	if (APR_STATUS_IS_ECONNREFUSED(rv))
		return MPS_SOCKS5_REP_CONNECTION_REFUSED;
	if (APR_STATUS_IS_ENETUNREACH(rv))
		return MPS_SOCKS5_REP_NETWORK_UNREACHABLE;
	if (APR_STATUS_IS_EHOSTUNREACH(rv))
		return MPS_SOCKS5_REP_HOST_UNREACHABLE;
	if (rv == MPS_ERR_TIMEOUT || APR_STATUS_IS_TIMEUP(rv) ||
	    APR_STATUS_IS_ETIMEDOUT(rv))
		return MPS_SOCKS5_REP_TTL_EXPIRED;
	return MPS_SOCKS5_REP_GENERAL_FAILURE;
}

const char *
mps_socks5_rep_name(unsigned rep)
{
	/* The wording of RFC 1928 section 6. */
	static const char *const names[] = {
		"succeeded",
		"general SOCKS server failure",
		"connection not allowed by ruleset",
		"network unreachable",
		"host unreachable",
		"connection refused",
		"TTL expired",
		"command not supported",
		"address type not supported"
	};

	return rep < sizeof(names) / sizeof(names[0]) ? names[rep] :
	    "unassigned";
}

const char *
mps_socks5_cmd_name(unsigned cmd)
{
	switch (cmd) {
	case MPS_SOCKS5_CMD_CONNECT: return "CONNECT";
	case MPS_SOCKS5_CMD_BIND: return "BIND";
	case MPS_SOCKS5_CMD_UDP_ASSOCIATE: return "UDP ASSOCIATE";
	default: return "unknown";
	}
}
