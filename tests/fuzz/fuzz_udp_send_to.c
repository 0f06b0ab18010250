/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_udp_send_to.c: a device's PET alert request (GLOBAL_REQUEST
 * udp-send-to@amt.intel.com) from its bytes to the destination the UDP
 * relay would send to, without sending anything: the APF codec's
 * decoding of the request, the AuthorizedServers filter
 * (mps_filter_allows over a fixed list) and the relay's reading of the
 * destination (mps_udp_relay_parse_dest, the pure first half of
 * mps_udp_relay_send, server/outbound/udp_relay.c).
 *
 * Input: the request after its name, as a device sends it: want_reply,
 * dest_addr, dest_port, orig_addr, orig_port, payload (APF.md); the
 * target puts the message type and name in front, so that every input is
 * a udp-send-to request.
 *
 * Checks beyond "no crash, no sanitizer report":
 *   - the relay accepts exactly what its contract says (a host of 1-255
 *     bytes without blanks or control bytes, "[...]" taken off, port not
 *     0, payload at most MPS_UDP_MAX_PAYLOAD), says why when it refuses,
 *     and hands on a host free of blanks and control bytes;
 *   - a literal it reads is the address the host spells (printed and read
 *     again, with the port), and an IPv4-mapped IPv6 literal becomes the
 *     IPv4 address; a host it leaves to the resolver is no literal;
 *   - the filter and the relay agree: when the filter lets a request
 *     through, the relay sends to exactly a listed address, or resolves
 *     exactly a listed name (case and a final dot aside) that the
 *     resolver cannot read as an IPv4 address (inet_aton's forms such as
 *     "3221225991" or "0xc0.0.2.7") on the listed port. A host that
 *     passes the filter and is then read differently by the relay would
 *     let a device send alerts where the list does not allow.
 */
#define _GNU_SOURCE 1
#include "fuzz_config.h"

#include <apr_general.h>
#include <apr_pools.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include "apf_codec.h"
#include "config.h"
#include "config_xml.h"
#include "mps_status.h"
#include "outbound.h"
#include "udp_relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The list the filter uses: literals of both families, an IPv4-mapped
 * one, and names. */
static const char list_text[] =
    "192.0.2.7:162\n"
    "[2001:db8::7]:162\n"
    "[::ffff:198.51.100.9]:162\n"
    "traps.example.com:162\n"
    "Alerts.Example.NET:5162\n"
    "10.1.2.3:5000\n";

static apr_pool_t *root;
static mps_config_t cfg;
static apr_array_header_t *servers;

static void
init(void)
{
	mps_config_errors_t *errs;

	if (apr_initialize() != APR_SUCCESS ||
	    apr_pool_create(&root, NULL) != APR_SUCCESS)
		abort();
	mps_config_defaults(&cfg, root);
	cfg.filter_unauthorized_servers = 1;
	errs = mps_config_errors_create(root);
	if (mps_authorized_servers_load(&servers,
	    fuzz_file_put((const uint8_t *)list_text, sizeof(list_text) - 1),
	    errs, root) != APR_SUCCESS || servers->nelts != 6)
		abort();
}

/* What the relay's contract accepts (udp_relay.h). */
static int
contract_accepts(const char *host, apr_port_t port, size_t len)
{
	size_t n = strlen(host), i;

	if (n == 0 || n > MPS_UDP_MAX_HOST)
		return 0;
	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			return 0;
		host++;
		n -= 2;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)host[i] <= ' ' ||
		    (unsigned char)host[i] == 0x7f)
			return 0;
	return port != 0 && len <= MPS_UDP_MAX_PAYLOAD;
}

static void
check_dest(const mps_udp_dest_t *d, apr_port_t port)
{
	static const unsigned char v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	char text[INET6_ADDRSTRLEN];
	unsigned char again[16];
	const unsigned char *p;
	size_t n = strlen(d->host);

	if (n == 0 || n > MPS_UDP_MAX_HOST)
		abort();
	for (p = (const unsigned char *)d->host; *p != '\0'; p++)
		if (*p <= ' ' || *p == 0x7f)
			abort();
	switch (d->family) {
	case AF_INET:
		if (d->addr.v4.sin_family != AF_INET ||
		    ntohs(d->addr.v4.sin_port) != port ||
		    d->addr_len != sizeof(d->addr.v4))
			abort();
		/* The host spells it as IPv4, or as IPv4-mapped IPv6. */
		if (inet_pton(AF_INET, d->host, again) == 1) {
			if (memcmp(again, &d->addr.v4.sin_addr, 4) != 0)
				abort();
		} else if (inet_pton(AF_INET6, d->host, again) != 1 ||
		    memcmp(again, v4mapped, sizeof(v4mapped)) != 0 ||
		    memcmp(again + 12, &d->addr.v4.sin_addr, 4) != 0)
			abort();
		/* And it prints as an address that reads back the same. */
		if (inet_ntop(AF_INET, &d->addr.v4.sin_addr, text,
		    sizeof(text)) == NULL ||
		    inet_pton(AF_INET, text, again) != 1 ||
		    memcmp(again, &d->addr.v4.sin_addr, 4) != 0)
			abort();
		break;
	case AF_INET6:
		if (d->addr.v6.sin6_family != AF_INET6 ||
		    ntohs(d->addr.v6.sin6_port) != port ||
		    d->addr_len != sizeof(d->addr.v6) ||
		    IN6_IS_ADDR_V4MAPPED(&d->addr.v6.sin6_addr) ||
		    inet_pton(AF_INET6, d->host, again) != 1 ||
		    memcmp(again, &d->addr.v6.sin6_addr, 16) != 0)
			abort();
		break;
	case AF_UNSPEC:
		if (inet_pton(AF_INET, d->host, again) == 1 ||
		    inet_pton(AF_INET6, d->host, again) == 1)
			abort();	/* a literal left to the resolver */
		break;
	default:
		abort();
	}
}

/* The filter let host:port through: the relay must go where listed. */
static void
check_agreement(const mps_udp_dest_t *d, apr_port_t port)
{
	struct in_addr aton;
	int i;

	for (i = 0; i < servers->nelts; i++) {
		const mps_authorized_server_t *s =
		    &APR_ARRAY_IDX(servers, i, mps_authorized_server_t);
		mps_config_ip_t ip;
		int is_ip = mps_config_parse_ip(s->host, &ip);
		size_t n;

		if (s->port != port)
			continue;
		if (d->family == AF_INET && is_ip && ip.family == AF_INET &&
		    memcmp(ip.addr, &d->addr.v4.sin_addr, 4) == 0)
			return;
		if (d->family == AF_INET6 && is_ip && ip.family == AF_INET6 &&
		    memcmp(ip.addr, &d->addr.v6.sin6_addr, 16) == 0)
			return;
		if (d->family != AF_UNSPEC || is_ip)
			continue;
		n = strlen(d->host);
		if (n > 1 && d->host[n - 1] == '.')
			n--;
		if (n == strlen(s->host) &&
		    strncasecmp(d->host, s->host, n) == 0 &&
		    inet_aton(d->host, &aton) == 0)
			return;
	}
	abort();	/* allowed, but the relay would go elsewhere */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = MPS_APF_REQ_UDP_SEND_TO;
	const size_t head = 1 + 4 + sizeof(name) - 1;
	uint8_t *msg;
	mps_apf_msg_t m;
	mps_udp_dest_t d;
	char host[MPS_APF_MAX_STRING + 1], err[160];
	apr_port_t port;
	apr_status_t rv;
	int accepts;

	if (root == NULL)
		init();
	if ((msg = malloc(head + size)) == NULL)
		abort();
	msg[0] = MPS_APF_GLOBAL_REQUEST;
	msg[1] = 0;
	msg[2] = 0;
	msg[3] = 0;
	msg[4] = (uint8_t)(sizeof(name) - 1);
	memcpy(msg + 5, name, sizeof(name) - 1);
	memcpy(msg + head, data, size);
	if (mps_apf_decode(msg, head + size, &m) != APR_SUCCESS ||
	    m.type != MPS_APF_GLOBAL_REQUEST ||
	    m.u.global_request.kind != MPS_APF_GREQ_UDP_SEND_TO)
		goto done;

	/* As the session does: a host with a NUL, or a port that is no
	 * port, is dropped before the filter and the relay see it. */
	if (m.u.global_request.dest_addr.len >= sizeof(host) ||
	    memchr(m.u.global_request.dest_addr.ptr, '\0',
	    m.u.global_request.dest_addr.len) != NULL ||
	    m.u.global_request.dest_port > 65535)
		goto done;
	memcpy(host, m.u.global_request.dest_addr.ptr,
	    m.u.global_request.dest_addr.len);
	host[m.u.global_request.dest_addr.len] = '\0';
	port = (apr_port_t)m.u.global_request.dest_port;

	err[0] = '\0';
	rv = mps_udp_relay_parse_dest(host, port,
	    m.u.global_request.payload.len, &d, err, sizeof(err));
	accepts = contract_accepts(host, port, m.u.global_request.payload.len);
	if ((rv == APR_SUCCESS) != accepts)
		abort();
	if (rv != APR_SUCCESS) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL ||
		    (rv != APR_EINVAL && rv != MPS_ERR_TOO_LARGE))
			abort();
		goto done;
	}
	check_dest(&d, port);
	if (mps_filter_allows(&cfg, servers, host, port))
		check_agreement(&d, port);
done:
	free(msg);
	return 0;
}
