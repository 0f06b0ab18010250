/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proxy_header.c: see proxy_header.h.
 *
 * Every read of p is guarded by n; the v2 length field is checked against
 * MPS_PROXY_MAX before anything it covers is looked at, and each TLV
 * against what is left of the block.
 */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN (sizeof(v1_sig) - 1)

/* v2 commands (low nibble of byte 12) and families (byte 13). */
#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_AF_UNSPEC 0x0
#define V2_AF_INET 0x1
#define V2_AF_INET6 0x2
#define V2_AF_UNIX 0x3
#define V2_TP_UNSPEC 0x0
#define V2_TP_STREAM 0x1
/* Address block sizes for INET, INET6 and UNIX. */
#define V2_LEN_INET 12
#define V2_LEN_INET6 36
#define V2_LEN_UNIX 216

static int
prefix_of(const unsigned char *p, size_t n, const void *sig, size_t len)
{
	return memcmp(p, sig, n < len ? n : len) == 0;
}

int
mps_proxy_looks_like(const unsigned char *p, size_t n)
{
	if (n == 0)
		return 0;
	return prefix_of(p, n, v1_sig, V1_SIG_LEN) ||
	    prefix_of(p, n, v2_sig, sizeof(v2_sig));
}

/* ---- v1 --------------------------------------------------------------- */

/* Splits the next space-terminated (or last, end-terminated) field of
 * line[*pos..end) into out (NUL-terminated, at most size - 1 bytes).
 * last: the field must end at end, else at a single space. */
static int
v1_field(const char *line, size_t end, size_t *pos, char *out, size_t size,
    int last)
{
	size_t i = *pos, len;

	while (i < end && line[i] != ' ')
		i++;
	len = i - *pos;
	if (len == 0 || len >= size)
		return 0;
	if (last ? i != end : i == end)
		return 0;
	memcpy(out, line + *pos, len);
	out[len] = '\0';
	*pos = last ? i : i + 1;
	return 1;
}

/* Decimal 0-65535, no sign, no leading zero (as HAProxy writes them). */
static int
v1_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return 0;
	*port = (uint16_t)v;
	return 1;
}

static mps_proxy_rc_t
v1_parse(const unsigned char *p, size_t n, mps_proxy_info_t *info,
    size_t *used, const char **why)
{
	char line[MPS_PROXY_V1_MAX + 1];
	char proto[8], port[8];
	/* The CR may be at index 105 at most: the line with CRLF is 107. */
	size_t i, lim = n < MPS_PROXY_V1_MAX - 1 ? n : MPS_PROXY_V1_MAX - 1;
	size_t end = 0, pos;
	int fam;
	unsigned char addr[16];

	/* Find the CRLF; everything before it must be printable ASCII. */
	for (i = V1_SIG_LEN; i < lim; i++) {
		if (p[i] == '\r') {
			if (i + 1 >= n) {
				/* The LF may come in the next read. */
				*used = n;
				return MPS_PROXY_MORE;
			}
			if (p[i + 1] != '\n') {
				*why = "v1 line: CR without LF";
				return MPS_PROXY_BAD;
			}
			end = i;
			break;
		}
		if (p[i] < 0x20 || p[i] > 0x7E) {
			*why = "v1 line: a control or non-ASCII byte";
			return MPS_PROXY_BAD;
		}
	}
	if (end == 0) {
		if (n >= MPS_PROXY_V1_MAX - 1) {
			*why = "v1 line longer than 107 bytes";
			return MPS_PROXY_BAD;
		}
		*used = n;
		return MPS_PROXY_MORE;
	}
	/* A copy of the line without "PROXY " and CRLF, NUL-terminated,
	 * for inet_pton. */
	memcpy(line, p + V1_SIG_LEN, end - V1_SIG_LEN);
	end -= V1_SIG_LEN;
	line[end] = '\0';
	*used = end + V1_SIG_LEN + 2;
	info->version = 1;

	if (strncmp(line, "UNKNOWN", 7) == 0 &&
	    (line[7] == '\0' || line[7] == ' ')) {
		/* The rest of the line is to be ignored (spec 2.1). */
		info->local = 1;
		info->family = AF_UNSPEC;
		return MPS_PROXY_DONE;
	}
	pos = 0;
	if (!v1_field(line, end, &pos, proto, sizeof(proto), 0)) {
		*why = "v1 line: no protocol";
		return MPS_PROXY_BAD;
	}
	if (strcmp(proto, "TCP4") == 0)
		fam = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		fam = AF_INET6;
	else {
		*why = "v1 line: protocol not TCP4, TCP6 or UNKNOWN";
		return MPS_PROXY_BAD;
	}
	if (!v1_field(line, end, &pos, info->src_ip, sizeof(info->src_ip), 0) ||
	    inet_pton(fam, info->src_ip, addr) != 1) {
		*why = "v1 line: bad source address";
		return MPS_PROXY_BAD;
	}
	if (!v1_field(line, end, &pos, info->dst_ip, sizeof(info->dst_ip), 0) ||
	    inet_pton(fam, info->dst_ip, addr) != 1) {
		*why = "v1 line: bad destination address";
		return MPS_PROXY_BAD;
	}
	if (!v1_field(line, end, &pos, port, sizeof(port), 0) ||
	    !v1_port(port, &info->src_port)) {
		*why = "v1 line: bad source port";
		return MPS_PROXY_BAD;
	}
	if (!v1_field(line, end, &pos, port, sizeof(port), 1) ||
	    !v1_port(port, &info->dst_port)) {
		*why = "v1 line: bad destination port";
		return MPS_PROXY_BAD;
	}
	info->family = fam;
	info->local = 0;
	return MPS_PROXY_DONE;
}

/* ---- v2 --------------------------------------------------------------- */

static mps_proxy_rc_t
v2_parse(const unsigned char *p, size_t n, mps_proxy_info_t *info,
    size_t *used, const char **why)
{
	unsigned ver, cmd, af, tp;
	size_t len, total, off, alen = 0;

	/* The signature was matched on what is there; the version and
	 * command byte is checked as soon as it arrives, so that garbage
	 * after a signature is not waited for. */
	if (n > 12 && (p[12] >> 4) != 2) {
		*why = "v2: version is not 2";
		return MPS_PROXY_BAD;
	}
	if (n > 12 && (p[12] & 0x0F) > V2_CMD_PROXY) {
		*why = "v2: command is neither LOCAL nor PROXY";
		return MPS_PROXY_BAD;
	}
	if (n < MPS_PROXY_V2_FIXED) {
		*used = n;
		return MPS_PROXY_MORE;
	}
	ver = p[12] >> 4;
	cmd = p[12] & 0x0F;
	af = p[13] >> 4;
	tp = p[13] & 0x0F;
	len = ((size_t)p[14] << 8) | p[15];
	total = MPS_PROXY_V2_FIXED + len;
	(void)ver;
	if (total > MPS_PROXY_MAX) {
		*why = "v2: header longer than 536 bytes";
		return MPS_PROXY_BAD;
	}
	if (af > V2_AF_UNIX || tp > 0x2) {
		*why = "v2: unknown address family or transport";
		return MPS_PROXY_BAD;
	}
	if (n < total) {
		*used = n;
		return MPS_PROXY_MORE;
	}
	*used = total;
	info->version = 2;
	info->local = 1;
	info->family = AF_UNSPEC;
	info->tlvs = 0;
	if (cmd == V2_CMD_LOCAL)
		/* The block is to be skipped whatever it holds (spec 2.2). */
		return MPS_PROXY_DONE;

	p += MPS_PROXY_V2_FIXED;
	switch (af) {
	case V2_AF_INET:
		alen = V2_LEN_INET;
		break;
	case V2_AF_INET6:
		alen = V2_LEN_INET6;
		break;
	case V2_AF_UNIX:
		alen = V2_LEN_UNIX;
		break;
	default:
		alen = 0;
		break;
	}
	if (len < alen) {
		*why = "v2: address block shorter than its family needs";
		return MPS_PROXY_BAD;
	}
	if ((af == V2_AF_INET || af == V2_AF_INET6) && tp != V2_TP_STREAM) {
		/* A device speaks TCP; a datagram here is a confused
		 * balancer, not a device. */
		*why = "v2: transport is not STREAM";
		return MPS_PROXY_BAD;
	}
	if (af == V2_AF_INET) {
		inet_ntop(AF_INET, p, info->src_ip, sizeof(info->src_ip));
		inet_ntop(AF_INET, p + 4, info->dst_ip, sizeof(info->dst_ip));
		info->src_port = (uint16_t)((p[8] << 8) | p[9]);
		info->dst_port = (uint16_t)((p[10] << 8) | p[11]);
		info->family = AF_INET;
		info->local = 0;
	} else if (af == V2_AF_INET6) {
		inet_ntop(AF_INET6, p, info->src_ip, sizeof(info->src_ip));
		inet_ntop(AF_INET6, p + 16, info->dst_ip, sizeof(info->dst_ip));
		info->src_port = (uint16_t)((p[32] << 8) | p[33]);
		info->dst_port = (uint16_t)((p[34] << 8) | p[35]);
		info->family = AF_INET6;
		info->local = 0;
	}
	/* UNSPEC and UNIX: no IP client; the connection's address stays. */

	/* TLVs: type, 16-bit length, value; each inside the block. */
	for (off = alen; off < len;) {
		size_t tl;

		if (len - off < 3) {
			*why = "v2: truncated TLV";
			return MPS_PROXY_BAD;
		}
		tl = ((size_t)p[off + 1] << 8) | p[off + 2];
		if (tl > len - off - 3) {
			*why = "v2: TLV longer than the header";
			return MPS_PROXY_BAD;
		}
		off += 3 + tl;
		info->tlvs++;
	}
	return MPS_PROXY_DONE;
}

mps_proxy_rc_t
mps_proxy_parse(const unsigned char *p, size_t n, mps_proxy_info_t *info,
    size_t *used, const char **why)
{
	memset(info, 0, sizeof(*info));
	*used = 0;
	*why = "not a PROXY header";
	if (n == 0)
		return MPS_PROXY_MORE;
	if (prefix_of(p, n, v2_sig, sizeof(v2_sig))) {
		if (n < sizeof(v2_sig)) {
			*used = n;
			return MPS_PROXY_MORE;
		}
		return v2_parse(p, n, info, used, why);
	}
	if (prefix_of(p, n, v1_sig, V1_SIG_LEN)) {
		if (n < V1_SIG_LEN) {
			*used = n;
			return MPS_PROXY_MORE;
		}
		return v1_parse(p, n, info, used, why);
	}
	return MPS_PROXY_BAD;
}
