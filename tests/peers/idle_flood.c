/* SPDX-License-Identifier: Apache-2.0 */
/*
 * idle_flood.c: the idle-socket attacker of issue #12 for tests and
 * benchmarks. It keeps up to --count TCP connections open to the
 * --target ports, sends nothing on them (an unfinished TLS handshake, a
 * SOCKS or HTTP greeting that never comes), and whenever the server
 * closes one, opens another, at most --rate new connections a second:
 * "2,000 idle sockets held and renewed".
 *
 * usage: idle_flood --target HOST:PORT [--target HOST:PORT ...]
 *            [--source IP[-LAST]] [--count N] [--rate R] [--duration S]
 *            [--hello-hex HEX] [--tls]
 *
 * --tls makes it a handshake flood instead (tests/bench/handshake_flood.sh):
 * each connection completes a TLS handshake (no verification), is closed
 * at once and replaced; the summary adds handshakes=N and
 * handshakes_per_s=X.
 *
 * --source binds each connection to one of a range of local addresses
 * (127.0.0.2-127.0.0.65: 64 attackers on loopback), round-robin; without
 * it the kernel picks. --hello-hex sends those bytes once connected (a
 * TLS ClientHello prefix that never completes, say) instead of nothing.
 *
 * Prints one line a second to stderr and a summary to stdout:
 *   summary opened=N server_closed=N closed_within_1s=N held_max=N
 *           held_end=N connect_errors=N
 * closed_within_1s counts connections the server ended within a second of
 * connecting: refused by an admission limit (a timeout takes longer).
 * Exit 0, or 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_TARGETS 8

struct conn {
	int fd;			/* -1: free */
	double opened;		/* monotonic seconds */
	int connected;
	SSL *ssl;		/* --tls */
};

static struct sockaddr_storage targets[MAX_TARGETS];
static socklen_t target_len[MAX_TARGETS];
static int ntargets;
static uint32_t src_first, src_last;	/* host order; 0: none */
static unsigned char hello[4096];
static size_t hello_len;
static volatile sig_atomic_t stop;
static SSL_CTX *tls;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
parse_target(const char *arg)
{
	char host[256];
	const char *colon = strrchr(arg, ':');
	struct addrinfo hints, *res;
	size_t n;

	if (colon == NULL || ntargets == MAX_TARGETS)
		return -1;
	n = (size_t)(colon - arg);
	if (n >= sizeof(host))
		return -1;
	memcpy(host, arg, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(&targets[ntargets], res->ai_addr, res->ai_addrlen);
	target_len[ntargets++] = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int
parse_sources(const char *arg)
{
	char first[64];
	const char *dash = strchr(arg, '-');
	struct in_addr a;
	size_t n = dash != NULL ? (size_t)(dash - arg) : strlen(arg);

	if (n >= sizeof(first))
		return -1;
	memcpy(first, arg, n);
	first[n] = '\0';
	if (inet_pton(AF_INET, first, &a) != 1)
		return -1;
	src_first = src_last = ntohl(a.s_addr);
	if (dash != NULL) {
		if (inet_pton(AF_INET, dash + 1, &a) != 1)
			return -1;
		src_last = ntohl(a.s_addr);
	}
	return src_last >= src_first ? 0 : -1;
}

static int
parse_hex(const char *hex)
{
	size_t i, n = strlen(hex);
	unsigned v;

	if (n % 2 != 0 || n / 2 > sizeof(hello))
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		hello[i] = (unsigned char)v;
	}
	hello_len = n / 2;
	return 0;
}

int
main(int argc, char **argv)
{
	long count = 2000, duration = 30;
	double rate = 100, tokens = 0, last, end, next_report;
	unsigned long long opened = 0, server_closed = 0, fast_closed = 0;
	unsigned long long connect_errors = 0, seq = 0, handshakes = 0;
	double started;
	long held = 0, held_max = 0;
	struct conn *conns;
	struct rlimit rl;
	int ep, i;

	for (i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL && strcmp(argv[i], "--tls") != 0)
			goto usage;
		if (strcmp(argv[i], "--target") == 0) {
			if (parse_target(v) != 0)
				goto usage;
		} else if (strcmp(argv[i], "--source") == 0) {
			if (parse_sources(v) != 0)
				goto usage;
		} else if (strcmp(argv[i], "--count") == 0)
			count = strtol(v, NULL, 10);
		else if (strcmp(argv[i], "--rate") == 0)
			rate = strtod(v, NULL);
		else if (strcmp(argv[i], "--duration") == 0)
			duration = strtol(v, NULL, 10);
		else if (strcmp(argv[i], "--tls") == 0) {
			tls = SSL_CTX_new(TLS_client_method());
			if (tls == NULL)
				return 1;
			SSL_CTX_set_verify(tls, SSL_VERIFY_NONE, NULL);
			i--;	/* no value */
		} else if (strcmp(argv[i], "--hello-hex") == 0) {
			if (parse_hex(v) != 0)
				goto usage;
		} else
			goto usage;
		i++;
	}
	if (ntargets == 0 || count < 1 || rate <= 0 || duration < 1)
		goto usage;
	/* One descriptor per connection, plus a few. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)count + 16) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)count + 16)
			count = (long)rl.rlim_cur - 16;
	}
	conns = calloc((size_t)count, sizeof(*conns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (conns == NULL || ep < 0) {
		perror("idle_flood");
		return 1;
	}
	for (i = 0; i < count; i++)
		conns[i].fd = -1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	last = now();
	started = last;
	end = last + duration;
	next_report = last + 1;
	while (!stop) {
		struct epoll_event evs[256];
		double t = now();
		int n, k;

		if (t >= end)
			break;
		tokens += (t - last) * rate;
		if (tokens > rate)
			tokens = rate;	/* at most a second's worth at once */
		last = t;
		/* Open what was closed, as fast as the rate allows. */
		for (k = 0; k < count && held < count && tokens >= 1; k++) {
			struct conn *c = &conns[k];
			struct epoll_event ev;
			int fd, tgt = (int)(seq % (unsigned long long)ntargets);

			if (c->fd >= 0)
				continue;
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0);
			if (fd < 0) {
				connect_errors++;
				break;
			}
			if (src_first != 0) {
				struct sockaddr_in sin;
				memset(&sin, 0, sizeof(sin));
				sin.sin_family = AF_INET;
				sin.sin_addr.s_addr = htonl(src_first +
				    (uint32_t)((seq / (unsigned long long)ntargets) %
				    (src_last - src_first + 1)));
				if (bind(fd, (struct sockaddr *)&sin,
				    sizeof(sin)) != 0) {
					connect_errors++;
					close(fd);
					break;
				}
			}
			seq++;
			tokens -= 1;
			if (connect(fd, (struct sockaddr *)&targets[tgt],
			    target_len[tgt]) != 0 && errno != EINPROGRESS) {
				connect_errors++;
				close(fd);
				continue;
			}
			ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
			ev.data.u32 = (uint32_t)k;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
				close(fd);
				continue;
			}
			c->fd = fd;
			c->opened = t;
			c->connected = 0;
			c->ssl = NULL;
			if (tls != NULL && ((c->ssl = SSL_new(tls)) == NULL ||
			    SSL_set_fd(c->ssl, fd) != 1)) {
				connect_errors++;
				SSL_free(c->ssl);
				c->ssl = NULL;
				close(fd);
				c->fd = -1;
				continue;
			}
			if (c->ssl != NULL)
				SSL_set_connect_state(c->ssl);
			opened++;
			if (++held > held_max)
				held_max = held;
		}
		n = epoll_wait(ep, evs, 256, 20);
		for (k = 0; k < n; k++) {
			struct conn *c = &conns[evs[k].data.u32];
			char buf[512];
			ssize_t r;

			if (c->fd < 0)
				continue;
			if (c->ssl != NULL && (c->connected ||
			    ((evs[k].events & EPOLLOUT) &&
			    !(evs[k].events & (EPOLLERR | EPOLLHUP))))) {
				struct epoll_event ev;
				int hr, e;

				c->connected = 1;
				hr = SSL_do_handshake(c->ssl);
				e = hr == 1 ? 0 : SSL_get_error(c->ssl, hr);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE) {
					ev.events = e == SSL_ERROR_WANT_READ ?
					    EPOLLIN | EPOLLRDHUP : EPOLLOUT;
					ev.data.u32 = evs[k].data.u32;
					(void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd,
					    &ev);
					continue;
				}
				if (hr == 1)
					handshakes++;
				else {
					if (getenv("IDLE_FLOOD_DEBUG") != NULL)
						fprintf(stderr, "handshake: error %d: "
						    "%s\n", e, ERR_reason_error_string(
						    ERR_peek_error()));
					server_closed++;
					if (now() - c->opened < 1.0)
						fast_closed++;
				}
				ERR_clear_error();
				SSL_free(c->ssl);	/* no close_notify: a flood */
				c->ssl = NULL;
				close(c->fd);
				c->fd = -1;
				held--;
				continue;
			}
			if (!c->connected && (evs[k].events & EPOLLOUT) &&
			    !(evs[k].events & (EPOLLERR | EPOLLHUP))) {
				struct epoll_event ev;
				c->connected = 1;
				if (hello_len > 0)
					(void)send(c->fd, hello, hello_len,
					    MSG_NOSIGNAL);
				ev.events = EPOLLIN | EPOLLRDHUP;
				ev.data.u32 = evs[k].data.u32;
				(void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
			if (!(evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR |
			    EPOLLHUP)))
				continue;
			r = recv(c->fd, buf, sizeof(buf), 0);
			if (r > 0 && !(evs[k].events & (EPOLLRDHUP | EPOLLHUP |
			    EPOLLERR)))
				continue;	/* some bytes (a refusal reply) */
			if (r < 0 && errno == EAGAIN)
				continue;
			/* The server ended it (or never let it connect). */
			if (c->connected)
				server_closed++;
			else
				connect_errors++;
			if (c->connected && now() - c->opened < 1.0)
				fast_closed++;
			SSL_free(c->ssl);
			c->ssl = NULL;
			close(c->fd);
			c->fd = -1;
			held--;
		}
		if (now() >= next_report) {
			next_report += 1;
			fprintf(stderr, "held=%ld opened=%llu server_closed=%llu "
			    "closed_within_1s=%llu connect_errors=%llu "
			    "handshakes=%llu\n", held, opened, server_closed,
			    fast_closed, connect_errors, handshakes);
		}
	}
	printf("summary opened=%llu server_closed=%llu closed_within_1s=%llu "
	    "held_max=%ld held_end=%ld connect_errors=%llu", opened,
	    server_closed, fast_closed, held_max, held, connect_errors);
	if (tls != NULL)
		printf(" handshakes=%llu handshakes_per_s=%.1f", handshakes,
		    handshakes / (now() - started));
	printf("\n");
	/*
	 * The summary is what the tests read: flush it now. Under ASan the
	 * leak check runs from an atexit handler and, when it reports,
	 * ends the process with _exit, before stdio would have flushed a
	 * redirected (fully buffered) stdout: the file stayed empty. And
	 * give everything back, so that there is no leak to report.
	 */
	fflush(stdout);
	for (i = 0; i < count; i++) {
		if (conns[i].fd < 0)
			continue;
		SSL_free(conns[i].ssl);
		close(conns[i].fd);
	}
	free(conns);
	close(ep);
	SSL_CTX_free(tls);
	return 0;
usage:
	fprintf(stderr, "usage: idle_flood --target HOST:PORT [--target ...] "
	    "[--source IP[-LAST]] [--count N] [--rate R] [--duration S] "
	    "[--hello-hex HEX] [--tls]\n");
	return 2;
}
