/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bytepump.c: moves seeded pseudo-random bytes both ways through one TCP
 * connection and proves they arrived intact, for mpsd's channel integrity
 * tests and its throughput benchmark.
 *
 * usage: bytepump --socks HOST:PORT [--user U --pass P] --target HOST:PORT
 *                 [common options]
 *        bytepump --connect HOST:PORT [common options]
 *        bytepump --serve [--listen-port P] [--accept-timeout S]
 *                 [common options]
 * common options:
 *        [--bytes N] [--send N] [--recv N] [--seed S] [--peer-seed S]
 *        [--read-rate BYTES/S] [--read-delay S] [--no-hash] [--no-check]
 *        [--timeout S] [--progress S] [--wait-eof S]
 *
 * The client goes through a SOCKS5 proxy (RFC 1928 CONNECT; a domain name
 * target, or an IPv4 literal, or a bracketed IPv6 literal; RFC 1929
 * username/password when --user is given, offered alongside "no
 * authentication") or, with --connect, straight to a peer. The server
 * (--serve) listens on 127.0.0.1 (port --listen-port, default one the
 * system picks), prints its port on a line of its own, accepts one
 * connection and closes the listener.
 *
 * Each side sends --send bytes (default --bytes) of the xoshiro256**
 * stream seeded with --seed while it reads --recv bytes (default --bytes),
 * and hashes both directions with SHA-256. With --peer-seed (default: the
 * other side's default seed) every byte received is also compared with
 * the peer's stream, so a side alone can tell where data went wrong. The
 * defaults differ (client 1, server 2), so a proxy that reflected a side's
 * own bytes would be caught.
 *
 * Neither side half-closes: the proxy's channels (Intel AMT's APF) have no
 * half-close, so a side closes only once it has sent and received all it
 * should. With --wait-eof S the side then waits up to S seconds for the
 * peer's close instead of closing first (the server closes first).
 *
 * --read-rate makes a slow reader: at most BYTES/S are read on average,
 * in reads of at most 16 KiB, so that the proxy must push back.
 * --read-delay S reads nothing for the first S seconds (then at the
 * rate, if any): a sender that ignores flow control is then sure to
 * find the proxy's buffers full, however fast each side runs.
 *
 * Output, one line per event (key=value tokens), on stdout:
 *   PORT                                       (--serve, the first line)
 *   accepted peer=IP:PORT                      (--serve)
 *   socks method=M auth=ok|none rep=R bound=ADDR:PORT ms=N   (--socks)
 *   connected ms=N
 *   progress sent=N received=N                 (every --progress S)
 *   sent bytes=N sha256=HEX|-
 *   received bytes=N sha256=HEX|- match=yes|no|- [mismatch_offset=N]
 *   eof ms=N                                   (--wait-eof)
 *   result ok elapsed_ms=N tx_MBps=F rx_MBps=F
 *   result error what=W [detail]
 * Exit status: 0 ok; 1 the transfer failed (early EOF, reset, mismatch,
 * timeout); 2 usage or set-up error; 3 the proxy refused (SOCKS method,
 * authentication or reply code) or the connection could not be made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* accept4, strerrorname_np */
#endif
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define IO_CHUNK	(256 * 1024)	/* one write, one read */
#define SLOW_CHUNK	16384		/* one read of a slow reader */
#define CONNECT_MS	10000		/* connect and SOCKS exchange */

enum { EX_OK = 0, EX_TRANSFER = 1, EX_USAGE = 2, EX_REFUSED = 3 };

/* ---- options ---------------------------------------------------------- */

static struct {
	const char *socks;		/* HOST:PORT of the SOCKS5 proxy */
	const char *connect;		/* HOST:PORT, direct */
	const char *target;		/* HOST:PORT asked of the proxy */
	const char *user, *pass;
	int serve;
	unsigned listen_port;
	double accept_timeout;		/* s */
	uint64_t send_n, recv_n;
	int have_send, have_recv;
	uint64_t seed, peer_seed;
	int have_seed, have_peer_seed;
	double read_rate;		/* bytes/s, 0 = unlimited */
	double read_delay;		/* s before the first read */
	int hash, check;
	double timeout;			/* s, whole transfer */
	double progress;		/* s, 0 = none */
	double wait_eof;		/* s, 0 = close at once */
} opt = {
	.accept_timeout = 30, .hash = 1, .check = 1, .timeout = 600,
};

static uint64_t t_start;		/* ms, when the program began */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: bytepump --socks HOST:PORT [--user U --pass P] "
	    "--target HOST:PORT [opts]\n"
	    "       bytepump --connect HOST:PORT [opts]\n"
	    "       bytepump --serve [--listen-port P] [--accept-timeout S] "
	    "[opts]\n"
	    "opts:  [--bytes N] [--send N] [--recv N] [--seed S] "
	    "[--peer-seed S]\n"
	    "       [--read-rate BYTES/S] [--read-delay S] [--no-hash] "
	    "[--no-check] [--timeout S]\n"
	    "       [--progress S] [--wait-eof S]\n");
	exit(EX_USAGE);
}

static void
die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bytepump: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* Prints one report line and flushes it at once: tests wait for them. */
static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (fflush(stdout) != 0)
		die(EX_USAGE, "stdout: %s", strerror(errno));
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die(EX_USAGE, "clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double
now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die(EX_USAGE, "clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A byte count with an optional K, M or G suffix (powers of 1024). */
static uint64_t
parse_size(const char *name, const char *s)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || s[0] == '-')
		die(EX_USAGE, "%s: not a byte count: %s", name, s);
	switch (*end) {
	case '\0': break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: die(EX_USAGE, "%s: not a byte count: %s", name, s);
	}
	if (*end != '\0' || v > (UINT64_MAX >> 2) >> shift)
		die(EX_USAGE, "%s: not a byte count: %s", name, s);
	return (uint64_t)v << shift;
}

static double
parse_seconds(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e7)
		die(EX_USAGE, "%s: not a number of seconds: %s", name, s);
	return v;
}

/* HOST:PORT or [V6]:PORT; host is copied into buf. */
static void
split_hostport(const char *name, const char *s, char *buf, size_t bufsize,
    unsigned *port)
{
	const char *colon, *h = s;
	size_t hl;
	unsigned long p;
	char *end;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || rb[1] != ':')
			die(EX_USAGE, "%s: expected [V6]:PORT: %s", name, s);
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			die(EX_USAGE, "%s: expected HOST:PORT: %s", name, s);
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= bufsize)
		die(EX_USAGE, "%s: bad host: %s", name, s);
	memcpy(buf, h, hl);
	buf[hl] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || p == 0 ||
	    p > 65535)
		die(EX_USAGE, "%s: bad port: %s", name, s);
	*port = (unsigned)p;
}

static void
parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] :
		    NULL;

#define ARG(name) (strcmp(a, name) == 0 && (v != NULL || \
	(die(EX_USAGE, "%s needs a value", name), 0)) && ++i)
		if (strcmp(a, "--serve") == 0)
			opt.serve = 1;
		else if (strcmp(a, "--no-hash") == 0)
			opt.hash = 0;
		else if (strcmp(a, "--no-check") == 0)
			opt.check = 0;
		else if (ARG("--socks"))
			opt.socks = v;
		else if (ARG("--connect"))
			opt.connect = v;
		else if (ARG("--target"))
			opt.target = v;
		else if (ARG("--user"))
			opt.user = v;
		else if (ARG("--pass"))
			opt.pass = v;
		else if (ARG("--listen-port"))
			opt.listen_port = (unsigned)parse_size(a, v);
		else if (ARG("--accept-timeout"))
			opt.accept_timeout = parse_seconds(a, v);
		else if (ARG("--bytes")) {
			opt.send_n = opt.recv_n = parse_size(a, v);
			opt.have_send = opt.have_recv = 1;
		} else if (ARG("--send")) {
			opt.send_n = parse_size(a, v);
			opt.have_send = 1;
		} else if (ARG("--recv")) {
			opt.recv_n = parse_size(a, v);
			opt.have_recv = 1;
		} else if (ARG("--seed")) {
			opt.seed = parse_size(a, v);
			opt.have_seed = 1;
		} else if (ARG("--peer-seed")) {
			opt.peer_seed = parse_size(a, v);
			opt.have_peer_seed = 1;
		} else if (ARG("--read-rate"))
			opt.read_rate = (double)parse_size(a, v);
		else if (ARG("--read-delay"))
			opt.read_delay = parse_seconds(a, v);
		else if (ARG("--timeout"))
			opt.timeout = parse_seconds(a, v);
		else if (ARG("--progress"))
			opt.progress = parse_seconds(a, v);
		else if (ARG("--wait-eof"))
			opt.wait_eof = parse_seconds(a, v);
		else
			usage();
#undef ARG
	}
	if (opt.serve + (opt.socks != NULL) + (opt.connect != NULL) != 1)
		usage();
	if ((opt.socks != NULL) != (opt.target != NULL))
		usage();
	if ((opt.user != NULL) != (opt.pass != NULL))
		die(EX_USAGE, "--user and --pass go together");
	if (opt.user != NULL && (strlen(opt.user) == 0 ||
	    strlen(opt.user) > 255 || strlen(opt.pass) > 255))
		die(EX_USAGE, "--user and --pass must be 1-255 and 0-255 "
		    "bytes (RFC 1929)");
	if (opt.listen_port > 65535)
		die(EX_USAGE, "--listen-port: bad port");
	if (!opt.have_send || !opt.have_recv)
		die(EX_USAGE, "give --bytes, or both --send and --recv");
	if (!opt.have_seed)
		opt.seed = opt.serve ? 2 : 1;
	if (!opt.have_peer_seed)
		opt.peer_seed = opt.serve ? 1 : 2;
}

/* ---- the byte streams ------------------------------------------------- */

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64: fast,
 * and no window of it repeats within any size we move. */
struct stream {
	uint64_t s[4];
	unsigned char tail[8];	/* the rest of a word cut by a call */
	unsigned tail_len;
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
stream_init(struct stream *st, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		st->s[i] = splitmix64(&seed);
	st->tail_len = 0;
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
stream_next(struct stream *st)
{
	uint64_t *s = st->s, r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* The next n bytes of the stream, little-endian words. */
static void
stream_fill(struct stream *st, unsigned char *p, size_t n)
{
	while (n > 0 && st->tail_len > 0) {
		*p++ = st->tail[8 - st->tail_len--];
		n--;
	}
	while (n >= 8) {
		/* little-endian words, whatever the host */
		uint64_t w = htole64(stream_next(st));

		memcpy(p, &w, 8);
		p += 8;
		n -= 8;
	}
	if (n > 0) {
		uint64_t w = stream_next(st);
		int i;

		for (i = 0; i < 8; i++)
			st->tail[i] = (unsigned char)(w >> (8 * i));
		st->tail_len = 8;
		while (n > 0) {
			*p++ = st->tail[8 - st->tail_len--];
			n--;
		}
	}
}

struct digest {
	EVP_MD_CTX *ctx;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
};

static void
digest_init(struct digest *d)
{
	d->hex[0] = '-';
	d->hex[1] = '\0';
	if (!opt.hash) {
		d->ctx = NULL;
		return;
	}
	if ((d->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1)
		die(EX_USAGE, "SHA-256 is not available");
}

static void
digest_update(struct digest *d, const void *p, size_t n)
{
	if (d->ctx != NULL && EVP_DigestUpdate(d->ctx, p, n) != 1)
		die(EX_USAGE, "EVP_DigestUpdate failed");
}

static void
digest_final(struct digest *d)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len, i;

	if (d->ctx == NULL)
		return;
	if (EVP_DigestFinal_ex(d->ctx, md, &len) != 1)
		die(EX_USAGE, "EVP_DigestFinal_ex failed");
	for (i = 0; i < len; i++)
		(void)snprintf(d->hex + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

/* ---- connecting ------------------------------------------------------- */

/* Waits for fd to be ready for ev until deadline (ms); 0, or -1 with
 * errno set (ETIMEDOUT). */
static int
wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd pfd;
	uint64_t now;
	int r;

	for (;;) {
		now = now_ms();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = fd;
		pfd.events = ev;
		pfd.revents = 0;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int
connect_to(const char *hostport)
{
	char host[256], portstr[8];
	struct addrinfo hints, *ai, *a;
	unsigned port;
	int fd = -1, r, err = 0;
	socklen_t elen = sizeof(err);
	uint64_t deadline = now_ms() + CONNECT_MS;

	split_hostport("connect", hostport, host, sizeof(host), &port);
	(void)snprintf(portstr, sizeof(portstr), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, portstr, &hints, &ai)) != 0)
		die(EX_REFUSED, "%s: %s", host, gai_strerror(r));
	for (a = ai; a != NULL; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT,
		    deadline) == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR,
		    &err, &elen) == 0 && err == 0)
			break;
		if (err != 0)
			errno = err;
		r = errno;
		(void)close(fd);
		fd = -1;
		errno = r;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		say("result error what=connect-failed error=%s",
		    strerrorname_np(errno) ? strerrorname_np(errno) : "?");
		exit(EX_REFUSED);
	}
	return fd;
}

/* Blocking-style exchange on a non-blocking socket, with a deadline. */
static void
send_all(int fd, const void *buf, size_t n, uint64_t deadline)
{
	const unsigned char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) != 0)
				goto fail;
		} else
			goto fail;
	}
	return;
fail:
	say("result error what=socks-send error=%s",
	    strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	exit(EX_REFUSED);
}

static void
recv_all(int fd, void *buf, size_t n, uint64_t deadline, const char *what)
{
	unsigned char *p = buf;
	ssize_t r;

	while (n > 0) {
		r = recv(fd, p, n, 0);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			say("result error what=%s error=eof", what);
			exit(EX_REFUSED);
		} else if (errno == EAGAIN || errno == EINTR) {
			if (wait_fd(fd, POLLIN, deadline) != 0)
				goto fail;
		} else
			goto fail;
	}
	return;
fail:
	say("result error what=%s error=%s", what,
	    strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	exit(EX_REFUSED);
}

/* RFC 1928 CONNECT through the proxy, RFC 1929 when --user is given. */
static void
socks_connect(int fd)
{
	unsigned char buf[600], *p;
	char host[256], bound[INET6_ADDRSTRLEN + 8];
	unsigned port;
	size_t ulen, plen, hlen;
	uint64_t t0 = now_ms(), deadline = t0 + CONNECT_MS;
	struct in_addr a4;
	struct in6_addr a6;
	int method;

	split_hostport("--target", opt.target, host, sizeof(host), &port);

	/* greeting: "no authentication", and user/password if we have one */
	buf[0] = 5;
	if (opt.user != NULL) {
		buf[1] = 2;
		buf[2] = 0x00;
		buf[3] = 0x02;
		send_all(fd, buf, 4, deadline);
	} else {
		buf[1] = 1;
		buf[2] = 0x00;
		send_all(fd, buf, 3, deadline);
	}
	recv_all(fd, buf, 2, deadline, "socks-method");
	if (buf[0] != 5) {
		say("result error what=socks-version version=%u", buf[0]);
		exit(EX_REFUSED);
	}
	method = buf[1];
	if (method == 0x02 && opt.user != NULL) {
		ulen = strlen(opt.user);
		plen = strlen(opt.pass);
		p = buf;
		*p++ = 1;
		*p++ = (unsigned char)ulen;
		memcpy(p, opt.user, ulen);
		p += ulen;
		*p++ = (unsigned char)plen;
		memcpy(p, opt.pass, plen);
		p += plen;
		send_all(fd, buf, (size_t)(p - buf), deadline);
		recv_all(fd, buf, 2, deadline, "socks-auth");
		if (buf[1] != 0) {
			say("result error what=socks-auth-failed status=%u",
			    buf[1]);
			exit(EX_REFUSED);
		}
	} else if (method != 0x00) {
		say("result error what=socks-method method=%u", method);
		exit(EX_REFUSED);
	}

	/* CONNECT */
	p = buf;
	*p++ = 5;
	*p++ = 1;
	*p++ = 0;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		*p++ = 1;
		memcpy(p, &a4, 4);
		p += 4;
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		*p++ = 4;
		memcpy(p, &a6, 16);
		p += 16;
	} else {
		hlen = strlen(host);
		*p++ = 3;
		*p++ = (unsigned char)hlen;
		memcpy(p, host, hlen);
		p += hlen;
	}
	*p++ = (unsigned char)(port >> 8);
	*p++ = (unsigned char)port;
	send_all(fd, buf, (size_t)(p - buf), deadline);

	/* reply: VER REP RSV ATYP BND.ADDR BND.PORT */
	recv_all(fd, buf, 4, deadline, "socks-reply");
	if (buf[0] != 5) {
		say("result error what=socks-version version=%u", buf[0]);
		exit(EX_REFUSED);
	}
	if (buf[1] != 0) {
		say("socks method=%d auth=%s rep=%u ms=%" PRIu64, method,
		    method == 2 ? "ok" : "none", buf[1], now_ms() - t0);
		say("result error what=socks-rep rep=%u", buf[1]);
		exit(EX_REFUSED);
	}
	switch (buf[3]) {
	case 1:
		recv_all(fd, buf + 4, 6, deadline, "socks-reply");
		inet_ntop(AF_INET, buf + 4, bound, sizeof(bound));
		port = (unsigned)(buf[8] << 8 | buf[9]);
		break;
	case 4:
		recv_all(fd, buf + 4, 18, deadline, "socks-reply");
		inet_ntop(AF_INET6, buf + 4, bound, sizeof(bound));
		port = (unsigned)(buf[20] << 8 | buf[21]);
		break;
	case 3:
		recv_all(fd, buf + 4, 1, deadline, "socks-reply");
		hlen = buf[4];
		recv_all(fd, buf + 5, hlen + 2, deadline, "socks-reply");
		(void)snprintf(bound, sizeof(bound), "%.*s",
		    (int)(hlen < 40 ? hlen : 40), (char *)buf + 5);
		port = (unsigned)(buf[5 + hlen] << 8 | buf[6 + hlen]);
		break;
	default:
		say("result error what=socks-atyp atyp=%u", buf[3]);
		exit(EX_REFUSED);
	}
	say("socks method=%d auth=%s rep=0 bound=%s:%u ms=%" PRIu64, method,
	    method == 2 ? "ok" : "none", bound, port, now_ms() - t0);
}

static int
serve_accept(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char ip[INET_ADDRSTRLEN];
	int lfd, fd, one = 1;

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die(EX_USAGE, "socket: %s", strerror(errno));
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)opt.listen_port);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 4) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0)
		die(EX_USAGE, "listen on 127.0.0.1: %s", strerror(errno));
	say("%u", (unsigned)ntohs(sin.sin_port));
	if (wait_fd(lfd, POLLIN, now_ms() +
	    (uint64_t)(opt.accept_timeout * 1000)) != 0) {
		say("result error what=accept-timeout");
		exit(EX_TRANSFER);
	}
	slen = sizeof(sin);
	if ((fd = accept4(lfd, (struct sockaddr *)&sin, &slen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		die(EX_USAGE, "accept: %s", strerror(errno));
	(void)close(lfd);
	say("accepted peer=%s:%u", inet_ntop(AF_INET, &sin.sin_addr, ip,
	    sizeof(ip)) ? ip : "?", (unsigned)ntohs(sin.sin_port));
	return fd;
}

/* ---- the transfer ----------------------------------------------------- */

struct pump {
	int fd;
	uint64_t sent, received;
	struct stream out, expect;
	struct digest dsent, drecv;
	unsigned char *obuf, *ibuf, *ebuf;
	size_t olen, ooff;		/* generated, not yet written */
	int mismatch;
	uint64_t mismatch_off;
	double t0;			/* s, start of the transfer */
};

static void
report(struct pump *pp, const char *match)
{
	digest_final(&pp->dsent);
	digest_final(&pp->drecv);
	say("sent bytes=%" PRIu64 " sha256=%s", pp->sent, pp->dsent.hex);
	if (pp->mismatch)
		say("received bytes=%" PRIu64 " sha256=%s match=no "
		    "mismatch_offset=%" PRIu64, pp->received, pp->drecv.hex,
		    pp->mismatch_off);
	else
		say("received bytes=%" PRIu64 " sha256=%s match=%s",
		    pp->received, pp->drecv.hex, match);
}

static void
fail(struct pump *pp, const char *what)
{
	int e = errno;

	report(pp, "-");
	say("result error what=%s sent=%" PRIu64 " received=%" PRIu64
	    " error=%s", what, pp->sent, pp->received,
	    e != 0 && strerrorname_np(e) ? strerrorname_np(e) : "none");
	exit(EX_TRANSFER);
}

/* Writes as much as the socket takes; -1 on a dead connection. */
static int
pump_send(struct pump *pp)
{
	ssize_t w;

	while (pp->sent < opt.send_n) {
		if (pp->ooff == pp->olen) {
			uint64_t left = opt.send_n - pp->sent;

			pp->olen = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
			pp->ooff = 0;
			stream_fill(&pp->out, pp->obuf, pp->olen);
			digest_update(&pp->dsent, pp->obuf, pp->olen);
		}
		w = send(pp->fd, pp->obuf + pp->ooff, pp->olen - pp->ooff,
		    MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		pp->ooff += (size_t)w;
		pp->sent += (uint64_t)w;
	}
	return 0;
}

static void
check_bytes(struct pump *pp, const unsigned char *p, size_t n)
{
	size_t i;

	if (!opt.check || pp->mismatch)
		return;
	stream_fill(&pp->expect, pp->ebuf, n);
	if (memcmp(p, pp->ebuf, n) == 0)
		return;
	for (i = 0; i < n && p[i] == pp->ebuf[i]; i++)
		;
	pp->mismatch = 1;
	pp->mismatch_off = pp->received + i;
}

/*
 * Bytes the rate allows now (--read-rate), or the buffer size; nothing
 * before --read-delay is over. A slow reader reads whole SLOW_CHUNKs (or
 * what is left), never dribbles: *wait is set to the milliseconds until
 * the next one is allowed.
 */
static size_t
read_allowance(const struct pump *pp, double now, int *wait)
{
	double allowed, need, start = pp->t0 + opt.read_delay;

	*wait = 0;
	if (now < start) {
		*wait = (int)((start - now) * 1000) + 1;
		return 0;
	}
	if (opt.read_rate <= 0)
		return IO_CHUNK;
	need = (double)(opt.recv_n - pp->received);
	if (need > SLOW_CHUNK)
		need = SLOW_CHUNK;
	allowed = opt.read_rate * (now - start) + SLOW_CHUNK -
	    (double)pp->received;
	if (allowed < need) {
		*wait = (int)((need - allowed) / opt.read_rate * 1000) + 1;
		return 0;
	}
	return allowed > SLOW_CHUNK ? SLOW_CHUNK : (size_t)allowed;
}

/* Reads what is there (within the rate); -1 on error, -2 on early EOF. */
static int
pump_recv(struct pump *pp)
{
	ssize_t r;
	size_t room;

	int wait;

	while (pp->received < opt.recv_n) {
		room = read_allowance(pp, now_s(), &wait);
		if (room == 0)
			return 0;
		if (room > opt.recv_n - pp->received)
			room = (size_t)(opt.recv_n - pp->received);
		r = recv(pp->fd, pp->ibuf, room, 0);
		if (r > 0) {
			digest_update(&pp->drecv, pp->ibuf, (size_t)r);
			check_bytes(pp, pp->ibuf, (size_t)r);
			pp->received += (uint64_t)r;
			if (opt.read_rate > 0)
				return 0;	/* one slow read a turn */
			continue;
		}
		if (r == 0)
			return -2;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	return 0;
}

/* After the transfer: wait for the peer's close (--wait-eof). */
static void
wait_eof(struct pump *pp)
{
	uint64_t t0 = now_ms(), deadline = t0 + (uint64_t)(opt.wait_eof *
	    1000);
	unsigned char b[4096];
	ssize_t r;

	errno = 0;
	for (;;) {
		if (wait_fd(pp->fd, POLLIN, deadline) != 0) {
			say("result error what=no-eof ms=%" PRIu64,
			    now_ms() - t0);
			exit(EX_TRANSFER);
		}
		r = recv(pp->fd, b, sizeof(b), 0);
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			say("eof ms=%" PRIu64 "%s", now_ms() - t0,
			    r < 0 ? " reset=yes" : "");
			return;
		}
		if (r > 0) {
			say("result error what=excess-bytes bytes=%zd", r);
			exit(EX_TRANSFER);
		}
		if (errno != EAGAIN && errno != EINTR) {
			say("result error what=recv-after error=%s",
			    strerrorname_np(errno) ? strerrorname_np(errno) :
			    "?");
			exit(EX_TRANSFER);
		}
	}
}

static void
transfer(int fd)
{
	struct pump p;
	struct pollfd pfd;
	double next_progress, deadline, now, elapsed;
	int r, timeout_ms, wait;

	memset(&p, 0, sizeof(p));
	p.fd = fd;
	if ((p.obuf = malloc(IO_CHUNK)) == NULL ||
	    (p.ibuf = malloc(IO_CHUNK)) == NULL ||
	    (p.ebuf = malloc(IO_CHUNK)) == NULL)
		die(EX_USAGE, "out of memory");
	stream_init(&p.out, opt.seed);
	stream_init(&p.expect, opt.peer_seed);
	digest_init(&p.dsent);
	digest_init(&p.drecv);
	p.t0 = now_s();
	deadline = p.t0 + opt.timeout;
	next_progress = opt.progress > 0 ? p.t0 + opt.progress : 0;

	while (p.sent < opt.send_n || p.received < opt.recv_n) {
		now = now_s();
		if (now >= deadline) {
			errno = ETIMEDOUT;
			fail(&p, "timeout");
		}
		if (next_progress > 0 && now >= next_progress) {
			say("progress sent=%" PRIu64 " received=%" PRIu64,
			    p.sent, p.received);
			next_progress = now + opt.progress;
		}
		pfd.fd = fd;
		pfd.events = 0;
		pfd.revents = 0;
		if (p.sent < opt.send_n)
			pfd.events |= POLLOUT;
		timeout_ms = (int)((deadline - now) * 1000) + 1;
		if (p.received < opt.recv_n) {
			if (read_allowance(&p, now, &wait) > 0)
				pfd.events |= POLLIN;
			else if (timeout_ms > wait)
				timeout_ms = wait;
		}
		if (next_progress > 0 && timeout_ms >
		    (int)((next_progress - now) * 1000) + 1)
			timeout_ms = (int)((next_progress - now) * 1000) + 1;
		r = poll(&pfd, 1, timeout_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die(EX_USAGE, "poll: %s", strerror(errno));
		}
		if (r == 0)
			continue;
		if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
		    p.received < opt.recv_n) {
			errno = 0;
			r = pump_recv(&p);
			if (r == -2)
				fail(&p, "eof-early");
			if (r < 0)
				fail(&p, "recv");
		}
		if ((pfd.revents & (POLLOUT | POLLERR | POLLHUP)) &&
		    p.sent < opt.send_n && pump_send(&p) != 0)
			fail(&p, "send");
		if ((pfd.revents & (POLLERR | POLLHUP)) &&
		    p.received >= opt.recv_n && p.sent < opt.send_n) {
			errno = ECONNRESET;
			fail(&p, "send");
		}
	}
	elapsed = now_s() - p.t0;
	report(&p, opt.check ? (p.mismatch ? "no" : "yes") : "-");
	if (opt.wait_eof > 0)
		wait_eof(&p);
	if (p.mismatch) {
		say("result error what=mismatch offset=%" PRIu64,
		    p.mismatch_off);
		exit(EX_TRANSFER);
	}
	if (elapsed < 1e-6)
		elapsed = 1e-6;
	/* cpu_ms: this process's own CPU (user + system), so that a
	 * benchmark can add up the whole chain's cost per MiB. */
	{
		struct rusage ru;
		double cpu = 0;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
			    1000 + (double)(ru.ru_utime.tv_usec +
			    ru.ru_stime.tv_usec) / 1000;
		say("result ok elapsed_ms=%.0f tx_MBps=%.1f rx_MBps=%.1f "
		    "cpu_ms=%.0f", elapsed * 1000,
		    (double)p.sent / elapsed / 1e6,
		    (double)p.received / elapsed / 1e6, cpu);
	}
	(void)close(fd);
	free(p.obuf);
	free(p.ibuf);
	free(p.ebuf);
}

int
main(int argc, char **argv)
{
	int fd;

	t_start = now_ms();
	parse_args(argc, argv);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die(EX_USAGE, "signal: %s", strerror(errno));
	if (opt.serve)
		fd = serve_accept();
	else {
		fd = connect_to(opt.socks != NULL ? opt.socks : opt.connect);
		if (opt.socks != NULL)
			socks_connect(fd);
		say("connected ms=%" PRIu64, now_ms() - t_start);
	}
	transfer(fd);
	return EX_OK;
}
