/* SPDX-License-Identifier: Apache-2.0 */
/*
 * origin_http.c: a small HTTP/1.1 origin server standing in for the web
 * server of an Intel AMT device (port 16992) behind mpsd, for the console
 * tests and benchmarks. One thread, epoll, non-blocking sockets: it keeps
 * up with hundreds of keep-alive connections and many requests a second.
 *
 * usage: origin_http [--log FILE] [--max-body BYTES]
 *        origin_http --dump-bytes N
 *
 * It listens on 127.0.0.1 on a port the system picks and prints that port
 * on a line of its own on stdout. --dump-bytes N writes to stdout exactly
 * the N bytes that /bytes/N and /chunked/N serve, and exits, so that a
 * test can compare what came back through mpsd with cmp.
 *
 * Routes (every response carries the AMT firmware's Server header):
 *   GET /bytes/N     N deterministic bytes, Content-Length
 *   GET /chunked/N   the same N bytes, Transfer-Encoding: chunked, in
 *                    chunks of varying sizes (1 byte to 16 KiB)
 *   POST /echo       the request body (sized or chunked), sized
 *   GET /small       a 100-byte body, for benchmarks
 *   GET /headers     the request head exactly as it arrived (text/plain),
 *                    so that a test can see what the proxy forwarded
 *   HEAD on the GET routes answers their headers only.
 * Anything else is 404 (unknown path) or 405 (known path, other method).
 *
 * It is strict where a proxy could go wrong: a request target that is
 * not in origin form ("/..."), an HTTP/1.1 request without exactly one
 * Host, a malformed or conflicting Content-Length, a Transfer-Encoding
 * other than chunked, a folded header line or a bad chunk get 400 and
 * the connection is closed. "Expect: 100-continue" is honoured. Requests
 * may be pipelined; HTTP/1.1 keeps the connection unless
 * "Connection: close", HTTP/1.0 closes it unless "Connection: keep-alive".
 *
 * --log FILE appends one line per event (connection opened or closed,
 * request served), space-separated key=value tokens:
 *   conn ID open peer=IP:PORT
 *   req conn=ID method=M target=T version=1.x host=H cl=N|- te=chunked|-
 *       proxy_authorization=yes|no proxy_connection=yes|no
 *       status=S body=N keepalive=yes|no
 *   conn ID close requests=N
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* accept4, memmem */
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
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
#include <time.h>
#include <unistd.h>

#define SERVER_HEADER	"Intel(R) Active Management Technology 11.8.50"
#define IN_MAX		(64 * 1024)	/* request head, chunk lines, reads */
#define OUT_CAP		(256 * 1024)	/* one refill of the output */
#define CHUNK_MAX	16384		/* largest chunk /chunked/N sends */
#define BYTES_MAX	((uint64_t)1 << 40)	/* largest N of /bytes/N */
#define LINGER_MS	5000		/* after a close-delimited answer */
#define SMALL_LEN	100

enum state {
	ST_HEAD,		/* reading a request head */
	ST_BODY_SIZED,		/* body_left bytes of a sized body */
	ST_CHUNK_SIZE,		/* a chunk-size line */
	ST_CHUNK_DATA,		/* body_left bytes of chunk data */
	ST_CHUNK_CRLF,		/* the CRLF after chunk data */
	ST_TRAILER,		/* trailer lines up to the empty one */
	ST_RESPOND,		/* writing the response */
	ST_LINGER		/* response sent, reading until EOF */
};

enum route {
	R_NONE, R_BYTES, R_CHUNKED, R_ECHO, R_SMALL, R_HEADERS
};

enum source {
	SRC_NONE,		/* headers only */
	SRC_MEM,		/* mem[0..mem_len) */
	SRC_PATTERN,		/* gen_left bytes of the pattern */
	SRC_PATTERN_CHUNKED	/* the same, chunked, then the last chunk */
};

struct conn {
	int fd;
	unsigned id;
	uint32_t events;	/* what epoll watches now */
	enum state st;
	struct conn *prev, *next;
	uint64_t linger_until;	/* ms, in ST_LINGER */
	unsigned requests;

	char in[IN_MAX];
	size_t in_len;
	int eof;		/* the client closed its side */

	/* the request being read */
	enum route route;
	int head_only;		/* HEAD */
	int keep_alive;
	int error;		/* the status of a refusal, or 0 */
	uint64_t want;		/* N of /bytes/N, /chunked/N */
	uint64_t body_left;
	unsigned char *body;	/* /echo and /headers content */
	size_t body_len, body_cap;
	size_t max_body;	/* what body may hold for this request */
	char logline[1024];

	/* the response being written */
	char *out;
	size_t out_len, out_off;
	enum source src;
	const unsigned char *mem;
	size_t mem_len;
	uint64_t gen_off, gen_left;
	char errmsg[64];	/* the body of a refusal */
	const char *why;	/* what was wrong with the request */
	int dead;		/* closed, freed after this epoll batch */
};

static int epfd = -1;
static FILE *logfp;
static size_t max_body = 64u * 1024 * 1024;
static struct conn *conns;	/* live connections */
static struct conn *zombies;	/* closed in this batch, not yet freed */
static unsigned next_id = 1;
static char scratch[IN_MAX + 1];	/* a head being parsed */
static const char small_body[] =
    "<html><body>Intel(R) AMT small test response, "
    "padded to exactly one hundred bytes.</body></html>\r\n\r\n";
_Static_assert(sizeof(small_body) == SMALL_LEN + 1, "/small is 100 bytes");

static void conn_close(struct conn *);

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "origin_http: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
logmsg(const char *fmt, ...)
{
	va_list ap;

	if (logfp == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(logfp, fmt, ap);
	va_end(ap);
	fputc('\n', logfp);
	fflush(logfp);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		die("clock_gettime: %s", strerror(errno));
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the deterministic content -------------------------------------- */

/* splitmix64: a well-mixed word for each 8-byte block, so that a byte
 * depends on its offset and any reordering or duplication shows. */
static uint64_t
mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* The bytes at offsets [off, off + n) of the content. */
static void
pattern_fill(uint64_t off, unsigned char *p, size_t n)
{
	uint64_t w = mix64(off >> 3);
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if ((off & 7) == 0)
			w = mix64(off >> 3);
		p[i] = (unsigned char)(w >> ((off & 7) * 8));
	}
}

/* Size of the chunk that starts at offset off: varies from 1 byte to
 * CHUNK_MAX so that a proxy's chunk parser meets every boundary. */
static size_t
chunk_size_at(uint64_t off)
{
	uint64_t r = mix64(off ^ 0x5a5a5a5aULL);

	switch (r & 3) {
	case 0:
		return 1 + (size_t)((r >> 8) % 16);
	case 1:
		return 1 + (size_t)((r >> 8) % 1024);
	default:
		return 1 + (size_t)((r >> 8) % CHUNK_MAX);
	}
}

static int
dump_bytes(const char *arg)
{
	static unsigned char buf[65536];
	uint64_t n, off = 0;
	char *end;

	errno = 0;
	n = strtoull(arg, &end, 10);
	if (errno != 0 || *end != '\0' || end == arg || arg[0] == '-')
		die("--dump-bytes: not a byte count: %s", arg);
	while (off < n) {
		size_t k = n - off < sizeof(buf) ? (size_t)(n - off) :
		    sizeof(buf);

		pattern_fill(off, buf, k);
		if (fwrite(buf, 1, k, stdout) != k)
			die("write: %s", strerror(errno));
		off += k;
	}
	if (fflush(stdout) != 0)
		die("write: %s", strerror(errno));
	return 0;
}

/* ---- epoll ------------------------------------------------------------ */

static void
watch(struct conn *c, uint32_t ev)
{
	struct epoll_event e;

	if (ev == c->events)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = c;
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->events = ev;
}

static void
update_interest(struct conn *c)
{
	uint32_t ev = 0;

	if (c->out_off < c->out_len || (c->st == ST_RESPOND &&
	    c->src != SRC_NONE))
		ev |= EPOLLOUT;
	/* While a response is written the next request waits in the
	 * kernel: pipelined requests are answered one at a time. */
	if (c->st != ST_RESPOND && !c->eof && c->in_len < IN_MAX)
		ev |= EPOLLIN;
	watch(c, ev);
}

/* ---- output ----------------------------------------------------------- */

static int
out_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Room at the end: what is sent already goes away. */
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	va_start(ap, fmt);
	n = vsnprintf(c->out + c->out_len, OUT_CAP - c->out_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= OUT_CAP - c->out_len)
		return -1;
	c->out_len += (size_t)n;
	return 0;
}

static const char *
reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	default: return "Error";
	}
}

/* Status line and headers; body_len is the Content-Length, or -1 for a
 * chunked body. */
static int
out_head(struct conn *c, int status, const char *type, int64_t body_len)
{
	if (out_printf(c, "HTTP/1.1 %d %s\r\nServer: " SERVER_HEADER "\r\n"
	    "Content-Type: %s\r\n", status, reason(status), type) != 0)
		return -1;
	if (body_len < 0) {
		if (out_printf(c, "Transfer-Encoding: chunked\r\n") != 0)
			return -1;
	} else if (out_printf(c, "Content-Length: %" PRId64 "\r\n",
	    body_len) != 0)
		return -1;
	if (!c->keep_alive)
		return out_printf(c, "Connection: close\r\n\r\n");
	return out_printf(c, "\r\n");
}

/* Moves more of the body into the empty output buffer; 0 when there is
 * nothing left to send. */
static int
refill(struct conn *c)
{
	size_t k, room;

	c->out_len = c->out_off = 0;
	switch (c->src) {
	case SRC_NONE:
		return 0;
	case SRC_MEM:
		k = c->mem_len < OUT_CAP ? c->mem_len : OUT_CAP;
		memcpy(c->out, c->mem, k);
		c->mem += k;
		c->mem_len -= k;
		c->out_len = k;
		if (c->mem_len == 0)
			c->src = SRC_NONE;
		return k > 0;
	case SRC_PATTERN:
		k = c->gen_left < OUT_CAP ? (size_t)c->gen_left : OUT_CAP;
		pattern_fill(c->gen_off, (unsigned char *)c->out, k);
		c->gen_off += k;
		c->gen_left -= k;
		c->out_len = k;
		if (c->gen_left == 0)
			c->src = SRC_NONE;
		return k > 0;
	case SRC_PATTERN_CHUNKED:
		/* chunk: hex size, CRLF, data, CRLF; room for all of it */
		while (c->gen_left > 0) {
			k = chunk_size_at(c->gen_off);
			if (k > c->gen_left)
				k = (size_t)c->gen_left;
			room = OUT_CAP - c->out_len;
			if (room < k + 32)
				break;
			c->out_len += (size_t)snprintf(c->out + c->out_len,
			    room, "%zx\r\n", k);
			pattern_fill(c->gen_off,
			    (unsigned char *)c->out + c->out_len, k);
			c->out_len += k;
			memcpy(c->out + c->out_len, "\r\n", 2);
			c->out_len += 2;
			c->gen_off += k;
			c->gen_left -= k;
		}
		if (c->gen_left == 0 && OUT_CAP - c->out_len >= 5) {
			memcpy(c->out + c->out_len, "0\r\n\r\n", 5);
			c->out_len += 5;
			c->src = SRC_NONE;
		}
		return c->out_len > 0;
	}
	return 0;
}

/* Writes what it can; -1 when the connection is gone. */
static int
flush_out(struct conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->out_off == c->out_len && !refill(c))
			return 0;
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->out_off += (size_t)n;
	}
}

/* ---- requests --------------------------------------------------------- */

static int
is_tchar(int ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

/* "Connection: a, b": does the list hold token? */
static int
list_has(const char *v, const char *token)
{
	size_t tl = strlen(token);

	while (*v != '\0') {
		size_t n;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		n = strcspn(v, ", \t");
		if (n == tl && strncasecmp(v, token, tl) == 0)
			return 1;
		v += n;
	}
	return 0;
}

/* A decimal byte count: digits only, at most limit. */
static int
parse_count(const char *s, size_t len, uint64_t limit, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > limit)
		return -1;
	*out = v;
	return 0;
}

static void
route_request(struct conn *c, const char *method, const char *target)
{
	int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
	const char *num = NULL;

	c->head_only = head;
	if (strncmp(target, "/bytes/", 7) == 0) {
		c->route = R_BYTES;
		num = target + 7;
	} else if (strncmp(target, "/chunked/", 9) == 0) {
		c->route = R_CHUNKED;
		num = target + 9;
	} else if (strcmp(target, "/echo") == 0)
		c->route = R_ECHO;
	else if (strcmp(target, "/small") == 0)
		c->route = R_SMALL;
	else if (strcmp(target, "/headers") == 0)
		c->route = R_HEADERS;
	else {
		c->route = R_NONE;
		c->error = 404;
		return;
	}
	if (num != NULL && parse_count(num, strlen(num), BYTES_MAX,
	    &c->want) != 0) {
		c->error = 404;
		return;
	}
	if (c->route == R_ECHO ? strcmp(method, "POST") != 0 : !(get || head))
		c->error = 405;
}

struct head_fields {
	int host_count;
	const char *host;
	size_t host_len;
	int have_cl, chunked, expect_continue;
	uint64_t cl;
	int conn_close, conn_keep_alive;
	int proxy_auth, proxy_conn;
};

/* One header line "name: value" (no CRLF). 0, or the status to refuse. */
static int
header_line(struct head_fields *h, char *line, size_t len)
{
	char *colon = memchr(line, ':', len), *v, *e;
	size_t nlen, vlen, i;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t'))
		return 400;		/* obs-fold */
	if (colon == NULL || colon == line)
		return 400;
	nlen = (size_t)(colon - line);
	for (i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)line[i]))
			return 400;
	v = colon + 1;
	e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	vlen = (size_t)(e - v);
	for (i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return 400;
	*e = '\0';
#define IS(name) (nlen == sizeof(name) - 1 && \
	strncasecmp(line, name, sizeof(name) - 1) == 0)
	if (IS("Host")) {
		h->host_count++;
		h->host = v;
		h->host_len = vlen;
	} else if (IS("Content-Length")) {
		uint64_t cl;

		if (parse_count(v, vlen, UINT64_MAX >> 2, &cl) != 0 ||
		    (h->have_cl && cl != h->cl))
			return 400;
		h->have_cl = 1;
		h->cl = cl;
	} else if (IS("Transfer-Encoding")) {
		if (h->chunked || strcasecmp(v, "chunked") != 0)
			return 501;
		h->chunked = 1;
	} else if (IS("Connection")) {
		if (list_has(v, "close"))
			h->conn_close = 1;
		if (list_has(v, "keep-alive"))
			h->conn_keep_alive = 1;
	} else if (IS("Expect")) {
		if (strcasecmp(v, "100-continue") != 0)
			return 400;
		h->expect_continue = 1;
	} else if (IS("Proxy-Authorization"))
		h->proxy_auth = 1;
	else if (IS("Proxy-Connection"))
		h->proxy_conn = 1;
#undef IS
	return 0;
}

/* Keeps (for /echo) or drops n body bytes. 0, or 413. */
static int
take_body(struct conn *c, const char *p, size_t n)
{
	if (c->max_body == 0)
		return 0;
	if (n > c->max_body - c->body_len)
		return 413;
	if (c->body_len + n > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 65536;
		unsigned char *b;

		while (cap < c->body_len + n)
			cap *= 2;
		if ((b = realloc(c->body, cap)) == NULL)
			die("out of memory");
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, p, n);
	c->body_len += n;
	return 0;
}

/* Records why a request is refused (for the log); returns status. */
static int
why(struct conn *c, int status, const char *what)
{
	c->why = what;
	return status;
}

/* Parses the head in c->in[0..len) (len includes the blank line) and sets
 * the request up. 0, or the status of a refusal. The parse works on a
 * copy, so that /headers can answer the head exactly as it came. */
static int
parse_head(struct conn *c, size_t len)
{
	struct head_fields h;
	char *p, *end, *eol, *sp1, *sp2;
	char method[16], target[512], cl[24];
	int minor, st;
	size_t n;

	memset(&h, 0, sizeof(h));
	memcpy(scratch, c->in, len);
	scratch[len] = '\0';
	p = scratch;
	end = scratch + len - 2;	/* the final CRLF */

	/* request-line: method SP request-target SP HTTP/1.x */
	eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
	*eol = '\0';
	if ((sp1 = strchr(p, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' '))
		return why(c, 400, "request-line");
	n = (size_t)(sp1 - p);
	if (n == 0 || n >= sizeof(method))
		return why(c, 400, "method");
	memcpy(method, p, n);
	method[n] = '\0';
	for (n = 0; method[n] != '\0'; n++)
		if (!is_tchar((unsigned char)method[n]))
			return why(c, 400, "method");
	n = (size_t)(sp2 - sp1 - 1);
	if (n == 0)
		return why(c, 400, "target");
	if (n >= sizeof(target))
		return why(c, 404, "target-length");
	memcpy(target, sp1 + 1, n);
	target[n] = '\0';
	for (n = 0; target[n] != '\0'; n++)
		if ((unsigned char)target[n] <= 0x20 ||
		    (unsigned char)target[n] >= 0x7f)
			return why(c, 400, "target");
	if (strcmp(sp2 + 1, "HTTP/1.1") == 0)
		minor = 1;
	else if (strcmp(sp2 + 1, "HTTP/1.0") == 0)
		minor = 0;
	else
		return why(c, 400, "version");
	(void)snprintf(c->logline, sizeof(c->logline), "method=%s target=%s "
	    "version=1.%d", method, target, minor);
	/* A proxy must forward in origin form (RFC 9112 3.2.1). */
	if (target[0] != '/')
		return why(c, 400, "not-origin-form");
	for (p = eol + 2; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if ((st = header_line(&h, p, (size_t)(eol - p))) != 0)
			return why(c, st, "header-line");
	}
	if ((minor == 1 && h.host_count != 1) || h.host_count > 1 ||
	    (h.chunked && h.have_cl))
		return why(c, 400, h.host_count != 1 ? "host-count" :
		    "chunked-and-length");
	c->keep_alive = minor == 1 ? !h.conn_close :
	    (h.conn_keep_alive && !h.conn_close);
	if (h.have_cl)
		(void)snprintf(cl, sizeof(cl), "%" PRIu64, h.cl);
	else
		(void)snprintf(cl, sizeof(cl), "-");
	(void)snprintf(c->logline, sizeof(c->logline), "method=%s target=%s "
	    "version=1.%d host=%.*s cl=%s te=%s proxy_authorization=%s "
	    "proxy_connection=%s", method, target, minor,
	    h.host_count ? (int)(h.host_len > 200 ? 200 : h.host_len) : 1,
	    h.host_count ? h.host : "-", cl, h.chunked ? "chunked" : "-",
	    h.proxy_auth ? "yes" : "no", h.proxy_conn ? "yes" : "no");
	route_request(c, method, target);

	/* What the body, if any, is kept for. */
	c->body_len = 0;
	if (c->route == R_HEADERS && c->error == 0) {
		c->max_body = len;
		if (take_body(c, c->in, len) != 0)
			return why(c, 500, "headers-copy");
	}
	c->max_body = c->route == R_ECHO && c->error == 0 ? max_body : 0;
	if (h.chunked) {
		c->st = ST_CHUNK_SIZE;
		c->body_left = 0;
	} else if (h.have_cl && h.cl > 0) {
		if (h.cl > c->max_body && c->max_body > 0)
			return why(c, 413, "body-too-large");
		c->st = ST_BODY_SIZED;
		c->body_left = h.cl;
	} else
		c->st = ST_RESPOND;
	if (h.expect_continue && c->st != ST_RESPOND && c->error == 0 &&
	    out_printf(c, "HTTP/1.1 100 Continue\r\n\r\n") != 0)
		return why(c, 500, "continue");
	return 0;
}

static void
consume_in(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Sets the response up once the request is complete. */
static void
start_response(struct conn *c)
{
	int st = c->error;
	int64_t len;

	c->src = SRC_NONE;
	if (st != 0) {
		/* Refused: a short text body; but for 404 and 405 (whose
		 * request was read whole) the connection ends. */
		if (st != 404 && st != 405)
			c->keep_alive = 0;
		len = snprintf(c->errmsg, sizeof(c->errmsg), "%d %s\n", st,
		    reason(st));
		if (out_head(c, st, "text/plain", len) != 0)
			die("response head too long");
		c->mem = (const unsigned char *)c->errmsg;
		c->mem_len = (size_t)len;
		c->src = SRC_MEM;
	} else {
		switch (c->route) {
		case R_BYTES:
			len = (int64_t)c->want;
			c->gen_off = 0;
			c->gen_left = c->want;
			c->src = SRC_PATTERN;
			break;
		case R_CHUNKED:
			len = -1;
			c->gen_off = 0;
			c->gen_left = c->want;
			c->src = SRC_PATTERN_CHUNKED;
			break;
		case R_ECHO:
		case R_HEADERS:
			len = (int64_t)c->body_len;
			c->mem = c->body;
			c->mem_len = c->body_len;
			c->src = SRC_MEM;
			break;
		default:
			len = SMALL_LEN;
			c->mem = (const unsigned char *)small_body;
			c->mem_len = SMALL_LEN;
			c->src = SRC_MEM;
			break;
		}
		if (out_head(c, 200, c->route == R_HEADERS ? "text/plain" :
		    c->route == R_SMALL ? "text/html" :
		    "application/octet-stream", len) != 0)
			die("response head too long");
		st = 200;
	}
	if (c->head_only || (c->src == SRC_MEM && c->mem_len == 0))
		c->src = SRC_NONE;
	c->requests++;
	logmsg("req conn=%u %s status=%d body=%" PRId64 " keepalive=%s%s%s",
	    c->id, c->logline, st, c->head_only ? 0 : len < 0 ?
	    (int64_t)c->want : len, c->keep_alive ? "yes" : "no",
	    c->why != NULL ? " why=" : "", c->why != NULL ? c->why : "");
	c->st = ST_RESPOND;
}

/* A refusal in the middle of reading: answer it and close after. */
static void
refuse(struct conn *c, int status, const char *what)
{
	if (what != NULL)
		c->why = what;
	c->error = status;
	c->keep_alive = 0;
	if (c->logline[0] == '\0')
		(void)snprintf(c->logline, sizeof(c->logline),
		    "method=- target=-");
	/* A 100 Continue already queued stays: a final status may
	 * follow it. */
	start_response(c);
}

/* Parses what is buffered as far as it goes. */
static void
parse_input(struct conn *c)
{
	char *eol;
	size_t n;
	int st;

	for (;;) {
		switch (c->st) {
		case ST_HEAD:
			eol = memmem(c->in, c->in_len, "\r\n\r\n", 4);
			if (eol == NULL) {
				if (c->in_len == IN_MAX)
					refuse(c, 431, "head-too-long");
				return;
			}
			n = (size_t)(eol - c->in) + 4;
			c->error = 0;
			c->logline[0] = '\0';
			c->route = R_NONE;
			c->head_only = 0;
			c->why = NULL;
			if ((st = parse_head(c, n)) != 0) {
				refuse(c, st, NULL);
				return;
			}
			consume_in(c, n);
			break;
		case ST_BODY_SIZED:
		case ST_CHUNK_DATA:
			n = c->in_len < c->body_left ? c->in_len :
			    (size_t)c->body_left;
			if (n == 0)
				return;
			if (take_body(c, c->in, n) != 0) {
				refuse(c, 413, "body-too-large");
				return;
			}
			consume_in(c, n);
			c->body_left -= n;
			if (c->body_left == 0)
				c->st = c->st == ST_BODY_SIZED ? ST_RESPOND :
				    ST_CHUNK_CRLF;
			break;
		case ST_CHUNK_SIZE: {
			uint64_t size = 0;
			size_t i;

			eol = memmem(c->in, c->in_len, "\r\n", 2);
			if (eol == NULL) {
				if (c->in_len >= 1024)
					refuse(c, 400, "chunk-size-line");
				return;
			}
			n = (size_t)(eol - c->in);
			for (i = 0; i < n && isxdigit((unsigned char)c->in[i]);
			    i++) {
				if (i >= 15) {
					refuse(c, 400, "chunk-size");
					return;
				}
				size = size * 16 + (uint64_t)(isdigit(
				    (unsigned char)c->in[i]) ? c->in[i] - '0' :
				    (tolower((unsigned char)c->in[i]) - 'a' +
				    10));
			}
			/* digits, then nothing or a chunk extension */
			if (i == 0 || (i < n && c->in[i] != ';' &&
			    c->in[i] != ' ' && c->in[i] != '\t')) {
				refuse(c, 400, "chunk-size");
				return;
			}
			consume_in(c, n + 2);
			c->body_left = size;
			c->st = size == 0 ? ST_TRAILER : ST_CHUNK_DATA;
			break;
		}
		case ST_CHUNK_CRLF:
			if (c->in_len < 2)
				return;
			if (c->in[0] != '\r' || c->in[1] != '\n') {
				refuse(c, 400, "chunk-crlf");
				return;
			}
			consume_in(c, 2);
			c->st = ST_CHUNK_SIZE;
			break;
		case ST_TRAILER:
			eol = memmem(c->in, c->in_len, "\r\n", 2);
			if (eol == NULL) {
				if (c->in_len == IN_MAX)
					refuse(c, 431, "trailer-too-long");
				return;
			}
			n = (size_t)(eol - c->in);
			consume_in(c, n + 2);
			if (n == 0)
				c->st = ST_RESPOND;
			break;
		case ST_RESPOND:
		case ST_LINGER:
			return;
		}
		if (c->st == ST_RESPOND) {
			start_response(c);
			return;
		}
	}
}

/* Reads what is there; -1 when the connection is gone. */
static int
read_in(struct conn *c)
{
	ssize_t n;

	while (c->in_len < IN_MAX) {
		n = recv(c->fd, c->in + c->in_len, IN_MAX - c->in_len, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			if (c->st == ST_LINGER)
				c->in_len = 0;
			continue;
		}
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
	return 0;
}

/* Drives one connection after an event. */
static void
conn_run(struct conn *c, uint32_t ev)
{
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->st != ST_RESPOND &&
	    read_in(c) != 0) {
		conn_close(c);
		return;
	}
	for (;;) {
		if (c->st != ST_RESPOND && c->st != ST_LINGER)
			parse_input(c);
		/* The response, or a 100 Continue while a body comes. */
		if (flush_out(c) != 0) {
			conn_close(c);
			return;
		}
		if (c->st != ST_RESPOND || c->out_off < c->out_len ||
		    c->src != SRC_NONE)
			break;
		/* The response is out. */
		if (!c->keep_alive) {
			(void)shutdown(c->fd, SHUT_WR);
			c->st = ST_LINGER;
			c->in_len = 0;
			c->linger_until = now_ms() + LINGER_MS;
			break;
		}
		c->st = ST_HEAD;
		/* Pipelined requests may wait in the kernel: read them. */
		if (!c->eof && read_in(c) != 0) {
			conn_close(c);
			return;
		}
	}
	/* EOF between requests, after our close, or in the middle of a
	 * request that can never complete: done. */
	if (c->eof && c->st != ST_RESPOND) {
		conn_close(c);
		return;
	}
	update_interest(c);
}

/* Closes at once; the memory goes after the current epoll batch, whose
 * later events may still point at it. */
static void
conn_close(struct conn *c)
{
	if (c->dead)
		return;
	logmsg("conn %u close requests=%u", c->id, c->requests);
	if (epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL) != 0)
		die("epoll_ctl: %s", strerror(errno));
	(void)close(c->fd);
	c->fd = -1;
	c->dead = 1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = zombies;
	zombies = c;
}

static void
free_zombies(void)
{
	struct conn *c;

	while ((c = zombies) != NULL) {
		zombies = c->next;
		free(c->body);
		free(c->out);
		free(c);
	}
}

static void
accept_all(int lfd)
{
	struct sockaddr_in sin;
	socklen_t slen;
	struct epoll_event e;
	struct conn *c;
	char ip[INET_ADDRSTRLEN];
	int fd, one = 1;

	for (;;) {
		slen = sizeof(sin);
		fd = accept4(lfd, (struct sockaddr *)&sin, &slen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EMFILE || errno == ENFILE) {
				fprintf(stderr, "origin_http: accept: %s\n",
				    strerror(errno));
				return;
			}
			die("accept: %s", strerror(errno));
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->out = malloc(OUT_CAP)) == NULL)
			die("out of memory");
		c->fd = fd;
		c->id = next_id++;
		c->st = ST_HEAD;
		c->events = EPOLLIN;
		memset(&e, 0, sizeof(e));
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) != 0)
			die("epoll_ctl: %s", strerror(errno));
		c->next = conns;
		if (conns != NULL)
			conns->prev = c;
		conns = c;
		logmsg("conn %u open peer=%s:%u", c->id,
		    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip)) ? ip :
		    "?", (unsigned)ntohs(sin.sin_port));
	}
}

/* Ends lingering connections whose client never closed. */
static void
sweep(uint64_t now)
{
	struct conn *c, *next;

	for (c = conns; c != NULL; c = next) {
		next = c->next;
		if (c->st == ST_LINGER && now >= c->linger_until)
			conn_close(c);
	}
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: origin_http [--log FILE] [--max-body BYTES]\n"
	    "       origin_http --dump-bytes N\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct epoll_event evs[256];
	static int listener_tag;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct epoll_event e;
	uint64_t now, next_sweep = 0;
	int lfd, i, n, one = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dump-bytes") == 0 && i + 1 < argc)
			return dump_bytes(argv[i + 1]);
		else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
			if ((logfp = fopen(argv[++i], "a")) == NULL)
				die("%s: %s", argv[i], strerror(errno));
		} else if (strcmp(argv[i], "--max-body") == 0 && i + 1 < argc) {
			uint64_t v;

			if (parse_count(argv[i + 1], strlen(argv[i + 1]),
			    SIZE_MAX / 4, &v) != 0 || v == 0)
				die("--max-body: not a byte count: %s",
				    argv[i + 1]);
			max_body = (size_t)v;
			i++;
		} else
			usage();
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal: %s", strerror(errno));
	raise_nofile();

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		die("socket: %s", strerror(errno));
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 1024) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) != 0)
		die("listen on 127.0.0.1: %s", strerror(errno));
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = &listener_tag;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e) != 0)
		die("epoll_ctl: %s", strerror(errno));
	printf("%u\n", (unsigned)ntohs(sin.sin_port));
	if (fflush(stdout) != 0)
		die("stdout: %s", strerror(errno));

	for (;;) {
		n = epoll_wait(epfd, evs, 256, 1000);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &listener_tag)
				accept_all(lfd);
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == (void *)&listener_tag || c->dead)
				continue;
			conn_run(c, evs[i].events);
		}
		now = now_ms();
		if (now >= next_sweep) {
			sweep(now);
			next_sweep = now + 1000;
		}
		free_zombies();
	}
}
