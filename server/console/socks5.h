/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socks5.h: the server side of SOCKS version 5 (RFC 1928) and of its
 * username/password subnegotiation (RFC 1929), on the wire.
 *
 * Pure functions: no I/O, no logging, no allocation, no global state, no
 * policy. Which hosts and ports a console may reach, and whether it must
 * authenticate, are the caller's decisions; the codec only says what the
 * console asked for. The console front door (the SOCKS listener) drives
 * it through three phases, each one message from the console and one
 * reply from us:
 *
 *   console                                    mpsd
 *   05 NMETHODS METHODS...        greeting  ->
 *                                           <- 05 METHOD        (choose_method)
 *   01 ULEN UNAME PLEN PASSWD     userpass  ->  (only if METHOD was 02)
 *                                           <- 01 STATUS        (00 = success)
 *   05 CMD 00 ATYP ADDR PORT      request   ->
 *                                           <- 05 REP 00 ATYP BND.ADDR BND.PORT
 *   ... relayed bytes in both directions after REP 00 ...
 *
 * Every parse function works on the bytes accumulated so far, p[0 .. n),
 * and answers:
 *
 *  - APR_SUCCESS: one complete message was parsed; *consumed is its exact
 *    length. Bytes after it (a client that pipelines the greeting, the
 *    request and even the first payload without waiting for our replies;
 *    curl and browsers do) are NOT touched: they belong to the next phase
 *    or to the relay, in order.
 *  - MPS_NEED_MORE: p is a prefix of a message that may still become
 *    valid; read more and call again with the longer input. Never a
 *    partial result: *consumed is 0 and every output is cleared.
 *  - MPS_ERR_MALFORMED / MPS_ERR_TOO_LARGE: it can never become valid,
 *    however many bytes follow. Reported as soon as the offending byte is
 *    in p (a wrong version in byte 0 is refused without waiting for the
 *    rest), so a hostile or confused client is dropped at once.
 *    *consumed is 0 and the outputs are cleared.
 *  - A few distinct results (listed per function) for requests that are
 *    well formed but ask for something the RFC lets a server decline, so
 *    that the caller can send the right reply code before closing.
 *
 * The input is re-parsed from its start on every call: no state is kept
 * between calls, so the same bytes give the same answer however they were
 * split by the network. Each message is at most MPS_SOCKS5_MSG_MAX bytes;
 * an input buffer smaller than that could wait forever.
 *
 * Lenient or strict: the codec is strict where the RFCs fix a value
 * (versions, RSV = 0, length fields of at least 1) because a console that
 * gets those wrong is not speaking SOCKS5 to us, and lenient where real
 * clients deviate: curl sends an empty password (PLEN 0) for "-U user:",
 * so an empty password is parsed and the caller decides.
 *
 * Thread-safety: every function is reentrant.
 */
#ifndef MPS_SOCKS5_H
#define MPS_SOCKS5_H

#include <sys/types.h>
#include <sys/socket.h>

#include <apr_errno.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Versions ---- */
#define MPS_SOCKS5_VERSION		0x05	/* RFC 1928 VER */
#define MPS_SOCKS5_AUTH_VERSION		0x01	/* RFC 1929 VER */

/* ---- Authentication methods (RFC 1928 section 3) ---- */
#define MPS_SOCKS5_METHOD_NO_AUTH	0x00
#define MPS_SOCKS5_METHOD_GSSAPI	0x01
#define MPS_SOCKS5_METHOD_USERPASS	0x02
#define MPS_SOCKS5_METHOD_NO_ACCEPTABLE	0xff

/* Bits of the set of methods a greeting offers. */
#define MPS_SOCKS5_OFFERS_NO_AUTH	0x1u	/* 0x00 */
#define MPS_SOCKS5_OFFERS_USERPASS	0x2u	/* 0x02 */
#define MPS_SOCKS5_OFFERS_OTHER		0x4u	/* any other (GSSAPI, ...) */

/* ---- Commands (RFC 1928 section 4) ---- */
#define MPS_SOCKS5_CMD_CONNECT		0x01
#define MPS_SOCKS5_CMD_BIND		0x02
#define MPS_SOCKS5_CMD_UDP_ASSOCIATE	0x03

/* ---- Address types (RFC 1928 section 5) ---- */
#define MPS_SOCKS5_ATYP_IPV4		0x01	/* 4 bytes */
#define MPS_SOCKS5_ATYP_DOMAIN		0x03	/* length byte, then the name */
#define MPS_SOCKS5_ATYP_IPV6		0x04	/* 16 bytes */

/* ---- Reply codes, REP (RFC 1928 section 6; 0x09..0xff unassigned) ---- */
#define MPS_SOCKS5_REP_SUCCEEDED		0x00
#define MPS_SOCKS5_REP_GENERAL_FAILURE		0x01
#define MPS_SOCKS5_REP_NOT_ALLOWED		0x02	/* by ruleset */
#define MPS_SOCKS5_REP_NETWORK_UNREACHABLE	0x03
#define MPS_SOCKS5_REP_HOST_UNREACHABLE		0x04
#define MPS_SOCKS5_REP_CONNECTION_REFUSED	0x05
#define MPS_SOCKS5_REP_TTL_EXPIRED		0x06
#define MPS_SOCKS5_REP_CMD_NOT_SUPPORTED	0x07
#define MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED	0x08

/* ---- RFC 1929 STATUS ---- */
#define MPS_SOCKS5_AUTH_SUCCESS		0x00
#define MPS_SOCKS5_AUTH_FAILURE		0x01	/* any non-zero value fails */

/* ---- Sizes ---- */

/* A host name or address as text: at most 255 bytes (the domain length
 * is one byte; the longest IPv6 text is 45) plus the NUL. */
#define MPS_SOCKS5_HOST_SIZE		256
/* A user name or password: at most 255 bytes plus the NUL. A caller
 * buffer of this size never makes parse_userpass fail with TOO_LARGE. */
#define MPS_SOCKS5_CRED_SIZE		256

/* The longest message of each phase. */
#define MPS_SOCKS5_GREETING_MAX		(2 + 255)
#define MPS_SOCKS5_USERPASS_MAX		(1 + 1 + 255 + 1 + 255)
#define MPS_SOCKS5_REQUEST_MAX		(4 + 1 + 255 + 2)
/* The longest message a console can send before the relay starts: the
 * least room the caller's handshake input buffer needs. */
#define MPS_SOCKS5_MSG_MAX		MPS_SOCKS5_USERPASS_MAX

/* Lengths of our replies. */
#define MPS_SOCKS5_METHOD_REPLY_LEN	2
#define MPS_SOCKS5_AUTH_REPLY_LEN	2
#define MPS_SOCKS5_REPLY_MAX		(4 + 16 + 2)	/* IPv6 BND.ADDR */

/* ---- Phase 1: method negotiation ---- */

/*
 * Parses the greeting VER NMETHODS METHODS[NMETHODS] and sets *offered to
 * the set of MPS_SOCKS5_OFFERS_* bits it names (the order and repetitions
 * of methods do not matter to a server).
 *
 * MPS_ERR_MALFORMED at once when VER is not 5 (then
 * mps_socks5_foreign_protocol() may say what the client speaks) or when
 * NMETHODS is 0 (RFC 1928 gives METHODS 1 to 255 bytes).
 */
apr_status_t mps_socks5_parse_greeting(const uint8_t *p, size_t n,
    size_t *consumed, unsigned *offered);

/*
 * The method to answer with. When need_auth, username/password
 * (MPS_SOCKS5_METHOD_USERPASS) if offered; otherwise no authentication
 * (MPS_SOCKS5_METHOD_NO_AUTH) if offered. Anything else is
 * MPS_SOCKS5_METHOD_NO_ACCEPTABLE, after which both sides close: in
 * particular a console offering only username/password to an mpsd that
 * needs none is refused, not waved through, so that the misconfiguration
 * shows (the admin guide's "ProxySocksAuth must match" rule).
 */
uint8_t mps_socks5_choose_method(unsigned offered, int need_auth);

/* Writes the method selection reply 05 METHOD into out; returns its
 * length, MPS_SOCKS5_METHOD_REPLY_LEN. */
size_t mps_socks5_encode_method(uint8_t out[MPS_SOCKS5_METHOD_REPLY_LEN],
    uint8_t method);

/*
 * What a client that is not speaking SOCKS5 seems to speak, judged from
 * the first bytes of its connection, for a log line such as "not SOCKS5
 * (looks like HTTP)": "HTTP" (a request line such as "GET " or
 * "CONNECT ": a browser or an HTTP proxy sent to the SOCKS port), "TLS"
 * (a ClientHello), "SOCKS4", or NULL when none fits. Uses every byte it
 * is given (as many as the caller has, even one), never more than n.
 */
const char *mps_socks5_foreign_protocol(const uint8_t *p, size_t n);

/* ---- Phase 2: username/password (RFC 1929) ---- */

/*
 * Parses VER ULEN UNAME PLEN PASSWD and copies UNAME into user and
 * PASSWD into pass, each NUL-terminated. Bytes are copied as they came
 * (no case folding, no charset check) except that a NUL inside either is
 * MPS_ERR_MALFORMED: it would silently cut the name or password short.
 *
 * An empty password (PLEN 0; curl sends it for "-U user:") is parsed and
 * comes out as ""; whether it may reach the authentication plugin is the
 * caller's decision. An empty user name (ULEN 0) is MPS_ERR_MALFORMED:
 * RFC 1929 requires 1 to 255 bytes and no account has an empty name.
 * MPS_ERR_MALFORMED when VER is not 1. MPS_ERR_TOO_LARGE when a field
 * does not fit its buffer with the NUL (never with MPS_SOCKS5_CRED_SIZE
 * buffers), as soon as its length byte is in p. APR_EINVAL when usersize
 * or passsize is 0.
 *
 * Unless APR_SUCCESS is returned, user and pass are wiped (all NUL). They
 * hold a secret on success: the caller wipes them when done.
 */
apr_status_t mps_socks5_parse_userpass(const uint8_t *p, size_t n,
    size_t *consumed, char *user, size_t usersize, char *pass,
    size_t passsize);

/* Writes the RFC 1929 reply 01 STATUS into out (STATUS 00 when success
 * is non-zero, else 01); returns its length, MPS_SOCKS5_AUTH_REPLY_LEN.
 * After a failure the server closes the connection (RFC 1929). */
size_t mps_socks5_encode_auth_status(uint8_t out[MPS_SOCKS5_AUTH_REPLY_LEN],
    int success);

/* ---- Phase 3: the request ---- */

typedef struct mps_socks5_request_t {
	uint8_t cmd;			/* CMD as sent (may be unknown) */
	uint8_t atyp;			/* ATYP as sent */
	uint16_t port;			/* DST.PORT in host byte order */
	size_t host_len;		/* strlen(host) */
	/*
	 * DST.ADDR as text, NUL-terminated: IPv4 dotted quad or IPv6 (RFC
	 * 5952 form, no brackets) from inet_ntop(), or the domain name
	 * exactly as sent (case kept: the caller compares device FQDNs and
	 * UUIDs case-insensitively). A domain name is 1 to 255 printable
	 * ASCII bytes other than space (0x21-0x7e): anything else can
	 * name no device, and keeping it out keeps control bytes out of
	 * the logs. Internationalised names arrive in their ASCII (punycode)
	 * form from conforming clients.
	 */
	char host[MPS_SOCKS5_HOST_SIZE];
} mps_socks5_request_t;

/*
 * Parses VER CMD RSV ATYP DST.ADDR DST.PORT into *req.
 *
 *  - APR_SUCCESS: a CONNECT; *req is complete, *consumed exact.
 *  - APR_ENOTIMPL: a well-formed request for another command (BIND, UDP
 *    ASSOCIATE, or a value RFC 1928 does not define); *req is complete
 *    (for the log) and *consumed exact. mpsd only connects consoles to
 *    devices: answer MPS_SOCKS5_REP_CMD_NOT_SUPPORTED and close.
 *  - APR_EAFNOSUPPORT: ATYP is not 1, 3 or 4. The address's length is
 *    unknown, so the message cannot be framed: only req->cmd and
 *    req->atyp are set, *consumed is 0, and the answer is
 *    MPS_SOCKS5_REP_ATYP_NOT_SUPPORTED, then close. Reported as soon as
 *    ATYP is in p.
 *  - MPS_ERR_MALFORMED: VER not 5; RSV not 0 (RFC 1928 fixes it at
 *    X'00', no client sends anything else, and a non-zero byte there
 *    means we are not reading a SOCKS5 request); a domain of length 0 or
 *    with a byte outside 0x21-0x7e. Each is refused as soon as the byte
 *    is in p.
 *
 * mps_socks5_rep_for() turns each of these results into the reply code.
 * On every result but the first two, *req is cleared except as said.
 */
apr_status_t mps_socks5_parse_request(const uint8_t *p, size_t n,
    size_t *consumed, mps_socks5_request_t *req);

/*
 * Writes the reply VER REP RSV ATYP BND.ADDR BND.PORT into out and its
 * length into *len (10 for IPv4, 22 for IPv6). bound (an AF_INET
 * sockaddr_in or AF_INET6 sockaddr_in6) gives BND.ADDR and BND.PORT;
 * NULL gives 0.0.0.0 port 0, which is what a failure reply and a CONNECT
 * through mpsd (whose "bound address" is a channel in a device tunnel,
 * meaningless to the console) carry. An IPv6 address is sent as IPv6,
 * IPv4-mapped or not.
 *
 * APR_EINVAL, writing nothing (*len 0), when rep is not a code RFC 1928
 * defines (0x00 to 0x08) or bound is of another family.
 */
apr_status_t mps_socks5_encode_reply(uint8_t out[MPS_SOCKS5_REPLY_MAX],
    size_t *len, uint8_t rep, const struct sockaddr *bound);

/* ---- For the caller's replies and logs ---- */

/*
 * The reply code for a result: APR_SUCCESS -> SUCCEEDED; from
 * parse_request APR_ENOTIMPL -> CMD_NOT_SUPPORTED and APR_EAFNOSUPPORT ->
 * ATYP_NOT_SUPPORTED; from the caller's own steps MPS_ERR_NOT_ALLOWED
 * (policy) -> NOT_ALLOWED, a refused connection -> CONNECTION_REFUSED,
 * an unreachable network or host -> NETWORK_ / HOST_UNREACHABLE, a
 * timeout (MPS_ERR_TIMEOUT, APR_TIMEUP, ETIMEDOUT) -> TTL_EXPIRED (as Tor
 * answers a stream timeout); anything else -> GENERAL_FAILURE.
 */
uint8_t mps_socks5_rep_for(apr_status_t rv);

/* "succeeded", "host unreachable", ... for a REP value; "unassigned" for
 * 0x09 and above. Never NULL. */
const char *mps_socks5_rep_name(unsigned rep);

/* "CONNECT", "BIND", "UDP ASSOCIATE", or "unknown". Never NULL. */
const char *mps_socks5_cmd_name(unsigned cmd);

#endif /* MPS_SOCKS5_H */
