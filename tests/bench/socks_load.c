/* SPDX-License-Identifier: Apache-2.0 */
/*
 * socks_load.c: small keep-alive HTTP requests through a SOCKS5 proxy
 * from many connections at once, for mpsd's requests-per-second
 * benchmark (tests/bench/socks_rps.sh).
 *
 * usage: socks_load --socks HOST:PORT [--user U --pass P]
 *                   --target FMT [--devices N] [--first K]
 *                   [--connections N] [--duration S] [--path PATH]
 *                   [--timeout S] [--rate R]
 *        socks_load --direct HOST:PORT --target FMT ...  (no proxy)
 *
 * FMT is HOST:PORT where "%d" in HOST becomes a device index: connection
 * i goes to device K + (i mod N), e.g. dev-%d.amt.test:16992. Every
 * connection does one SOCKS5 CONNECT (a domain name; RFC 1929 when --user
 * is given), then sends "GET PATH HTTP/1.1" with Host, waits for the whole
 * response (it must be 200 with a Content-Length) and sends the next, for
 * --duration seconds counted from the moment every connection is up.
 * One thread, epoll; latency is measured per request, from the send to
 * the last byte of the body.
 *
 * --rate R (requests a second in all) paces the run instead: an open
 * loop, request k due at start + k/R, sent on an idle connection (one
 * request in flight per connection); a request due while every
 * connection is busy waits for one. Its latency then counts from the
 * moment it was due, not from the send, so time spent waiting behind a
 * slow server is not left out (wrk2's "coordinated omission"): the
 * latency a server adds at a given rate, below its saturation.
 *
 * Output (key=value tokens, stdout):
 *   setup connections=N established=N failed=N ms=N
 *   result requests=N errors=N reconnects=N seconds=F rps=F
 *          [offered=R late=N]   (--rate: late = sent over 1 ms after
 *                                their due time, no connection idle)
 *   latency_ms p50=F p90=F p99=F max=F
 *   error what=W ...    (a connection that failed, at most 20 lines)
 * Exit status: 0 when every connection was set up and no request failed,
 * 1 otherwise, 2 on a usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* memmem */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define BUF_MAX		8192	/* one SOCKS reply or one response */
#define ERR_LINES	20

enum cstate {
	C_CONNECTING,		/* TCP connect in progress */
	C_METHOD,		/* greeting sent, waiting for the method */
	C_AUTH,			/* RFC 1929 sent, waiting for the status */
	C_REPLY,		/* CONNECT sent, waiting for the reply */
	C_IDLE,			/* up, before the run starts */
	C_REQUEST,		/* request sent, reading the response */
	C_DEAD
};

struct conn {
	int fd;
	unsigned idx;
	enum cstate st;
	char host[256];		/* the device this connection reaches */
	char out[1024];
	size_t out_len, out_off;
	char in[BUF_MAX];
	size_t in_len;
	uint64_t t_sent;	/* ns, the current request (--rate: due) */
	int in_pool;		/* --rate: on the idle pool */
};

static struct {
	const char *socks, *direct, *target, *user, *pass, *path;
	unsigned devices, first, connections;
	double duration, timeout, rate;
} opt = {
	.devices = 1, .connections = 100, .duration = 10, .path = "/small",
	.timeout = 30,
};

static int epfd;
static struct sockaddr_storage proxy_addr;
static socklen_t proxy_len;
static unsigned target_port;
static char target_fmt[256];
static struct conn *conns;
static int running;		/* the measured run has started */
static uint64_t requests, errors, reconnects, established, failed;
static unsigned err_lines;
static uint32_t *lat;		/* microseconds per request */
static size_t lat_len, lat_cap;
/* --rate: idle connections, the next request's due time, the timer. */
static struct conn **pool;
static unsigned pool_len;
static uint64_t next_due, interval_ns, late;
static int tfd = -1;
static char tfd_marker;		/* epoll data of the timer */

static void conn_start(struct conn *);

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "socks_load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned
parse_uint(const char *name, const char *s, unsigned lo, unsigned hi)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo ||
	    v > hi)
		die("%s: expected %u-%u: %s", name, lo, hi, s);
	return (unsigned)v;
}

static double
parse_seconds(const char *name, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0) || v > 1e6)
		die("%s: not a number of seconds: %s", name, s);
	return v;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: socks_load --socks HOST:PORT [--user U --pass P] "
	    "--target FMT\n"
	    "           [--devices N] [--first K] [--connections N] "
	    "[--duration S]\n"
	    "           [--path PATH] [--timeout S] [--rate R]\n"
	    "       socks_load --direct HOST:PORT --target FMT ...\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	const char *colon, *pct;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] :
		    NULL;

		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--socks") == 0)
			opt.socks = v;
		else if (strcmp(a, "--direct") == 0)
			opt.direct = v;
		else if (strcmp(a, "--target") == 0)
			opt.target = v;
		else if (strcmp(a, "--user") == 0)
			opt.user = v;
		else if (strcmp(a, "--pass") == 0)
			opt.pass = v;
		else if (strcmp(a, "--path") == 0)
			opt.path = v;
		else if (strcmp(a, "--devices") == 0)
			opt.devices = parse_uint(a, v, 1, 1000000);
		else if (strcmp(a, "--first") == 0)
			opt.first = parse_uint(a, v, 0, 1000000000);
		else if (strcmp(a, "--connections") == 0)
			opt.connections = parse_uint(a, v, 1, 100000);
		else if (strcmp(a, "--duration") == 0)
			opt.duration = parse_seconds(a, v);
		else if (strcmp(a, "--timeout") == 0)
			opt.timeout = parse_seconds(a, v);
		else if (strcmp(a, "--rate") == 0)
			opt.rate = parse_uint(a, v, 1, 10000000);
		else
			usage();
	}
	if ((opt.socks == NULL) == (opt.direct == NULL) || opt.target == NULL)
		usage();
	if ((opt.user != NULL) != (opt.pass != NULL) || (opt.user != NULL &&
	    (strlen(opt.user) == 0 || strlen(opt.user) > 255 ||
	    strlen(opt.pass) > 255)))
		die("--user and --pass go together (1-255, 0-255 bytes)");
	if (opt.path[0] != '/' || strlen(opt.path) > 512 ||
	    strpbrk(opt.path, " \r\n") != NULL)
		die("--path must be an origin-form path");
	if ((colon = strrchr(opt.target, ':')) == NULL ||
	    (size_t)(colon - opt.target) >= sizeof(target_fmt) - 16)
		die("--target: expected HOST:PORT: %s", opt.target);
	memcpy(target_fmt, opt.target, (size_t)(colon - opt.target));
	target_fmt[colon - opt.target] = '\0';
	/* At most one conversion, and only %d: the format is user input. */
	pct = strchr(target_fmt, '%');
	if (pct != NULL && (pct[1] != 'd' || strchr(pct + 2, '%') != NULL))
		die("--target: only one %%d is allowed in the host");
	target_port = parse_uint("--target port", colon + 1, 1, 65535);
}

static void
resolve_proxy(void)
{
	const char *hp = opt.socks != NULL ? opt.socks : opt.direct;
	char host[256];
	const char *colon = strrchr(hp, ':');
	struct addrinfo hints, *ai;
	int r;

	if (colon == NULL || (size_t)(colon - hp) >= sizeof(host))
		die("expected HOST:PORT: %s", hp);
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	(void)parse_uint("proxy port", colon + 1, 1, 65535);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, colon + 1, &hints, &ai)) != 0)
		die("%s: %s", host, gai_strerror(r));
	memcpy(&proxy_addr, ai->ai_addr, ai->ai_addrlen);
	proxy_len = ai->ai_addrlen;
	freeaddrinfo(ai);
}

/* ---- per connection --------------------------------------------------- */

static void
record_error(struct conn *c, const char *what, const char *detail)
{
	if (err_lines < ERR_LINES) {
		err_lines++;
		printf("error what=%s conn=%u host=%s%s%s\n", what, c->idx,
		    c->host, detail != NULL ? " " : "",
		    detail != NULL ? detail : "");
	}
}

static void
watch(struct conn *c, uint32_t ev, int op)
{
	struct epoll_event e;

	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(epfd, op, c->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
}

/* A connection failed. Before the run it counts as a failed set-up.
 * During the run it is an error; a connection that was serving requests
 * is opened again, one that fails while being set up is given up (so a
 * proxy that refuses cannot make this spin). */
static void
conn_fail(struct conn *c, const char *what, const char *detail)
{
	int was_up = c->st == C_REQUEST || c->st == C_IDLE;
	unsigned i;

	record_error(c, what, detail);
	if (c->in_pool) {
		for (i = 0; i < pool_len && pool[i] != c; i++)
			;
		if (i < pool_len)
			pool[i] = pool[--pool_len];
		c->in_pool = 0;
	}
	if (c->fd >= 0) {
		(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		(void)close(c->fd);
		c->fd = -1;
	}
	if (!running) {
		if (c->st == C_IDLE)
			established--;
		c->st = C_DEAD;
		failed++;
		return;
	}
	errors++;
	if (!was_up) {
		c->st = C_DEAD;
		return;
	}
	reconnects++;
	conn_start(c);
}

static void
queue(struct conn *c, const void *p, size_t n)
{
	if (n > sizeof(c->out) - c->out_len)
		die("output overflow");
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
}

/* Writes what is queued; -1 on error. */
static int
flush(struct conn *c)
{
	ssize_t w;

	while (c->out_off < c->out_len) {
		w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	watch(c, EPOLLIN | (c->out_len > 0 ? EPOLLOUT : 0), EPOLL_CTL_MOD);
	return 0;
}

static void
send_request_due(struct conn *c, uint64_t due)
{
	char req[1024];
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%u\r\n"
	    "User-Agent: socks_load\r\n\r\n", opt.path, c->host, target_port);
	if (n < 0 || (size_t)n >= sizeof(req))
		die("request too long");
	queue(c, req, (size_t)n);
	c->st = C_REQUEST;
	c->t_sent = due;
	if (flush(c) != 0)
		conn_fail(c, "send", strerror(errno));
}

static void
send_request(struct conn *c)
{
	send_request_due(c, now_ns());
}

/* --rate: sends every request that is due on idle connections, then
 * sets the timer for the next one (none while no connection is idle:
 * the next one back calls this). */
static void
pace(void)
{
	struct itimerspec its;
	uint64_t now = now_ns();
	struct conn *c;

	while (next_due <= now && pool_len > 0) {
		c = pool[--pool_len];
		c->in_pool = 0;
		if (now - next_due > 1000000)
			late++;
		send_request_due(c, next_due);
		next_due += interval_ns;
		now = now_ns();
	}
	memset(&its, 0, sizeof(its));
	if (pool_len > 0) {
		its.it_value.tv_sec = (time_t)(next_due / 1000000000u);
		its.it_value.tv_nsec = (long)(next_due % 1000000000u);
	}
	if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		die("timerfd_settime: %s", strerror(errno));
}

/* --rate: a connection has nothing in flight; it waits on the pool. */
static void
to_pool(struct conn *c)
{
	c->st = C_IDLE;
	c->in_pool = 1;
	pool[pool_len++] = c;
	pace();
}

/* The next request on c: at once, or paced. */
static void
next_request(struct conn *c)
{
	if (opt.rate > 0)
		to_pool(c);
	else
		send_request(c);
}

static void
send_connect(struct conn *c)
{
	unsigned char b[300];
	size_t hl = strlen(c->host);

	b[0] = 5;
	b[1] = 1;
	b[2] = 0;
	b[3] = 3;
	b[4] = (unsigned char)hl;
	memcpy(b + 5, c->host, hl);
	b[5 + hl] = (unsigned char)(target_port >> 8);
	b[6 + hl] = (unsigned char)target_port;
	queue(c, b, hl + 7);
	c->st = C_REPLY;
}

/* The connection is up (after SOCKS, or at once with --direct). */
static void
conn_up(struct conn *c)
{
	if (!running) {
		established++;
		c->st = C_IDLE;
		return;
	}
	next_request(c);
}

static void
conn_start(struct conn *c)
{
	int one = 1;

	c->in_len = c->out_len = c->out_off = 0;
	c->fd = socket(proxy_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket: %s", strerror(errno));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = C_CONNECTING;
	watch(c, EPOLLOUT, EPOLL_CTL_ADD);
	if (connect(c->fd, (struct sockaddr *)&proxy_addr, proxy_len) != 0 &&
	    errno != EINPROGRESS)
		conn_fail(c, "connect", strerror(errno));
}

/* The SOCKS reply's length so far: 0 until it is known. */
static size_t
reply_len(const struct conn *c)
{
	if (c->in_len < 5)
		return 0;
	switch ((unsigned char)c->in[3]) {
	case 1: return 10;
	case 4: return 22;
	case 3: return 7 + (unsigned char)c->in[4];
	default: return 4;	/* a bad ATYP: judged by the caller */
	}
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* The response in c->in: 1 when whole (and consumed), 0 for more. */
static int
response_done(struct conn *c)
{
	char *end, *p, detail[64];
	size_t head;
	unsigned long long cl = 0;
	int have_cl = 0, status;

	end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (end == NULL) {
		if (c->in_len == sizeof(c->in))
			conn_fail(c, "response-head-too-long", NULL);
		return 0;
	}
	head = (size_t)(end - c->in) + 4;
	if (c->in_len < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) {
		conn_fail(c, "not-http", NULL);
		return 0;
	}
	status = atoi(c->in + 9);
	for (p = memchr(c->in, '\n', head); p != NULL && p < end;
	    p = memchr(p + 1, '\n', (size_t)(end - p))) {
		if (strncasecmp(p + 1, "Content-Length:", 15) == 0) {
			cl = strtoull(p + 16, NULL, 10);
			have_cl = 1;
		}
	}
	if (status != 200 || !have_cl) {
		(void)snprintf(detail, sizeof(detail), "status=%d", status);
		conn_fail(c, have_cl ? "status" : "no-content-length",
		    detail);
		return 0;
	}
	if (cl > sizeof(c->in) - head) {
		conn_fail(c, "body-too-large", NULL);
		return 0;
	}
	if (c->in_len < head + cl)
		return 0;
	consume(c, head + (size_t)cl);
	return 1;
}

static void
record_latency(uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (lat_len == lat_cap) {
		size_t cap = lat_cap ? 2 * lat_cap : 65536;
		uint32_t *p = realloc(lat, cap * sizeof(*p));

		if (p == NULL)
			die("out of memory");
		lat = p;
		lat_cap = cap;
	}
	lat[lat_len++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Advances the state machine over what was read. */
static void
on_input(struct conn *c)
{
	char detail[32];
	size_t n;

	for (;;) {
		switch (c->st) {
		case C_METHOD:
			if (c->in_len < 2)
				return;
			if (c->in[0] != 5 || ((unsigned char)c->in[1] != 0 &&
			    (unsigned char)c->in[1] != 2) ||
			    ((unsigned char)c->in[1] == 2 && opt.user == NULL)) {
				(void)snprintf(detail, sizeof(detail),
				    "method=%u", (unsigned char)c->in[1]);
				conn_fail(c, "socks-method", detail);
				return;
			}
			if (c->in[1] == 2) {
				unsigned char b[520];
				size_t ul = strlen(opt.user),
				    pl = strlen(opt.pass);

				b[0] = 1;
				b[1] = (unsigned char)ul;
				memcpy(b + 2, opt.user, ul);
				b[2 + ul] = (unsigned char)pl;
				memcpy(b + 3 + ul, opt.pass, pl);
				queue(c, b, 3 + ul + pl);
				c->st = C_AUTH;
			} else
				send_connect(c);
			consume(c, 2);
			if (flush(c) != 0) {
				conn_fail(c, "send", strerror(errno));
				return;
			}
			break;
		case C_AUTH:
			if (c->in_len < 2)
				return;
			if (c->in[1] != 0) {
				conn_fail(c, "socks-auth", NULL);
				return;
			}
			consume(c, 2);
			send_connect(c);
			if (flush(c) != 0) {
				conn_fail(c, "send", strerror(errno));
				return;
			}
			break;
		case C_REPLY:
			if (c->in_len >= 2 && c->in[1] != 0) {
				(void)snprintf(detail, sizeof(detail),
				    "rep=%u", (unsigned char)c->in[1]);
				conn_fail(c, "socks-rep", detail);
				return;
			}
			if ((n = reply_len(c)) == 0 || c->in_len < n)
				return;
			if (n == 4) {
				conn_fail(c, "socks-atyp", NULL);
				return;
			}
			consume(c, n);
			conn_up(c);
			break;
		case C_REQUEST:
			if (!response_done(c))
				return;
			requests++;
			record_latency(now_ns() - c->t_sent);
			next_request(c);
			if (c->st == C_IDLE)
				return;		/* on the pool */
			break;
		case C_IDLE:
			if (c->in_len > 0)
				conn_fail(c, "unexpected-bytes", NULL);
			return;
		default:
			return;
		}
	}
}

static void
on_event(struct conn *c, uint32_t ev)
{
	ssize_t r;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (c->st == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 ||
		    err != 0) {
			conn_fail(c, "connect", strerror(err ? err : errno));
			return;
		}
		if (opt.direct != NULL) {
			watch(c, EPOLLIN, EPOLL_CTL_MOD);
			conn_up(c);
			return;
		}
		if (opt.user != NULL)
			queue(c, "\x05\x02\x00\x02", 4);
		else
			queue(c, "\x05\x01\x00", 3);
		c->st = C_METHOD;
		if (flush(c) != 0)
			conn_fail(c, "send", strerror(errno));
		return;
	}
	if ((ev & EPOLLOUT) && c->out_len > 0 && flush(c) != 0) {
		conn_fail(c, "send", strerror(errno));
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		if (c->in_len == sizeof(c->in)) {
			conn_fail(c, "input-overflow", NULL);
			return;
		}
		r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
		    0);
		if (r > 0) {
			c->in_len += (size_t)r;
			on_input(c);
			if (c->fd < 0 || c->st == C_DEAD ||
			    c->st == C_CONNECTING)
				return;	/* failed, maybe reopened */
			continue;
		}
		if (r == 0) {
			conn_fail(c, "eof", NULL);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_fail(c, "recv", strerror(errno));
		return;
	}
}

/* Runs the event loop until deadline_ns, or until setup is over when
 * setup is set (every connection up or failed). */
static void
loop(uint64_t deadline_ns, int setup)
{
	struct epoll_event evs[256];
	int i, n;
	uint64_t now;

	for (;;) {
		now = now_ns();
		if (now >= deadline_ns)
			return;
		if (setup && established + failed == opt.connections)
			return;
		n = epoll_wait(epfd, evs, 256,
		    (int)((deadline_ns - now) / 1000000) + 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &tfd_marker) {
				uint64_t ticks;

				(void)!read(tfd, &ticks, sizeof(ticks));
				pace();
				continue;
			}
			on_event(evs[i].data.ptr, evs[i].events);
		}
	}
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
percentile(double q)
{
	size_t i;

	if (lat_len == 0)
		return 0;
	i = (size_t)(q * (double)(lat_len - 1) + 0.5);
	return lat[i] / 1000.0;
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	uint64_t t0, t_run, t_end;
	unsigned i;
	double secs;

	parse_args(argc, argv);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal: %s", strerror(errno));
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	resolve_proxy();
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	if ((conns = calloc(opt.connections, sizeof(*conns))) == NULL ||
	    (pool = calloc(opt.connections, sizeof(*pool))) == NULL)
		die("out of memory");
	if (opt.rate > 0) {
		struct epoll_event ev = { .events = EPOLLIN,
		    .data.ptr = &tfd_marker };

		/* CLOCK_MONOTONIC: the clock of now_ns(). */
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
		    TFD_CLOEXEC);
		if (tfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &ev) != 0)
			die("timerfd: %s", strerror(errno));
		interval_ns = (uint64_t)(1e9 / opt.rate);
		if (interval_ns == 0)
			interval_ns = 1;
	}

	t0 = now_ns();
	for (i = 0; i < opt.connections; i++) {
		struct conn *c = &conns[i];
		unsigned dev = opt.first + i % opt.devices;
		int n;

		c->idx = i;
		c->fd = -1;
		n = strchr(target_fmt, '%') != NULL ?
		    snprintf(c->host, sizeof(c->host), target_fmt, dev) :
		    snprintf(c->host, sizeof(c->host), "%s", target_fmt);
		if (n < 0 || (size_t)n >= sizeof(c->host) || n > 255)
			die("--target: host name too long");
		conn_start(c);
	}
	loop(t0 + (uint64_t)(opt.timeout * 1e9), 1);
	printf("setup connections=%u established=%" PRIu64 " failed=%" PRIu64
	    " ms=%.1f\n", opt.connections, established,
	    opt.connections - established, (double)(now_ns() - t0) / 1e6);
	fflush(stdout);

	/* The run: every live connection starts its first request. */
	running = 1;
	t_run = now_ns();
	next_due = t_run;
	for (i = 0; i < opt.connections; i++)
		if (conns[i].st == C_IDLE)
			next_request(&conns[i]);
	loop(t_run + (uint64_t)(opt.duration * 1e9), 0);
	t_end = now_ns();
	secs = (double)(t_end - t_run) / 1e9;

	qsort(lat, lat_len, sizeof(*lat), cmp_u32);
	printf("result requests=%" PRIu64 " errors=%" PRIu64 " reconnects=%"
	    PRIu64 " seconds=%.2f rps=%.0f", requests, errors, reconnects,
	    secs, (double)requests / secs);
	if (opt.rate > 0)
		printf(" offered=%.0f late=%" PRIu64, opt.rate, late);
	printf("\n");
	printf("latency_ms p50=%.3f p90=%.3f p99=%.3f max=%.3f\n",
	    percentile(0.50), percentile(0.90), percentile(0.99),
	    lat_len ? lat[lat_len - 1] / 1000.0 : 0.0);
	fflush(stdout);
	return established == opt.connections && errors == 0 &&
	    requests > 0 ? 0 : 1;
}
