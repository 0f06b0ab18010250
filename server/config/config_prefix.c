/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_prefix.c: lists of address prefixes ("10.0.0.0/8 ::1"), as
 * AMTProxyTrusted writes them (see config.h).
 */
#include "config.h"
#include "config_xml.h"

#include <apr_strings.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One entry: an address literal, optionally "/bits". */
static int
prefix_parse(const char *text, mps_config_prefix_t *pfx)
{
	char addr[64];
	const char *slash = strchr(text, '/');
	size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	mps_config_ip_t ip;
	unsigned max;
	long long bits;

	if (len == 0 || len >= sizeof(addr))
		return 0;
	memcpy(addr, text, len);
	addr[len] = '\0';
	if (!mps_config_parse_ip(addr, &ip))
		return 0;
	max = ip.family == AF_INET ? 32 : 128;
	bits = max;
	/* A v4-mapped IPv6 prefix was stored as IPv4: its length counts
	 * the 96 mapping bits, which are gone. */
	if (slash != NULL) {
		if (mps_config_parse_number(slash + 1, 0, 128, &bits) !=
		    MPS_NUM_OK || slash[1] == '-')
			return 0;
		if (ip.family == AF_INET && strchr(addr, ':') != NULL) {
			if (bits < 96)
				return 0;
			bits -= 96;
		}
		if (bits > max)
			return 0;
	}
	pfx->family = ip.family;
	memcpy(pfx->addr, ip.addr, sizeof(pfx->addr));
	pfx->bits = (unsigned)bits;
	return 1;
}

const char *
mps_config_prefix_list_parse(const char *text, apr_array_header_t **list,
    apr_pool_t *pool)
{
	char *copy = apr_pstrdup(pool, text != NULL ? text : "");
	char *tok, *last;

	*list = apr_array_make(pool, 4, sizeof(mps_config_prefix_t));
	for (tok = apr_strtok(copy, " \t\r\n,", &last); tok != NULL;
	    tok = apr_strtok(NULL, " \t\r\n,", &last)) {
		mps_config_prefix_t *pfx = apr_array_push(*list);

		if (!prefix_parse(tok, pfx))
			return apr_psprintf(pool, "\"%s\" is not an address or "
			    "address/prefix-length", tok);
	}
	return NULL;
}

static int
prefix_match(const mps_config_prefix_t *pfx, const mps_config_ip_t *ip)
{
	unsigned full = pfx->bits / 8, rest = pfx->bits % 8;

	if (pfx->family != ip->family)
		return 0;
	if (memcmp(pfx->addr, ip->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((pfx->addr[full] ^ ip->addr[full]) &
	    (unsigned char)(0xFF << (8 - rest))) == 0;
}

int
mps_config_prefix_list_match(const apr_array_header_t *list, const char *ip)
{
	mps_config_ip_t a;
	int i;

	if (list == NULL || ip == NULL || !mps_config_parse_ip(ip, &a))
		return 0;
	for (i = 0; i < list->nelts; i++)
		if (prefix_match(&APR_ARRAY_IDX(list, i, mps_config_prefix_t),
		    &a))
			return 1;
	return 0;
}
