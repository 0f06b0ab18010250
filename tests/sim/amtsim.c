/* SPDX-License-Identifier: Apache-2.0 */
/*
 * amtsim.c: the AMT device simulator's command line, event loop and
 * reports. See tests/sim/README.md for how tests use it.
 *
 * One process, one thread, one epoll: N devices are started (all at once
 * or --rate per second), each driven by sim_device.c; a min-heap holds
 * one timer per device. SIGTERM/SIGINT (via signalfd) or --duration end
 * the run cleanly: every live device sends DISCONNECT 11 and closes.
 * The process exits when every started device is done.
 *
 * Exit status: 0 when no device failed and no keepalive reply
 * mismatched, 1 otherwise, 2 for a usage or set-up error.
 */
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>	/* isfinite(), a macro: no libm needed */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <openssl/err.h>

sim_opts sim_opt;
sim_global sim_g;

#define DEFAULT_PORTS	"16993,16992,664,623,16995,16994,5900"
#define DEFAULT_UUID	"12345678-9abc-def0-1234-000000000000"

static const char usage_text[] =
"Usage: amtsim [OPTION]...\n"
"Simulate Intel AMT devices connecting to an MPS over CIRA (TLS + APF).\n"
"\n"
"The MPS:\n"
"  --host HOST            MPS address, name or IP (default 127.0.0.1)\n"
"  --port PORT            MPS port (default 4433)\n"
"  --source ADDR          bind each connection to this local IP first\n"
"\n"
"TLS (the firmware's client side; never sends SNI):\n"
"  --tls PROFILE          modern (default): TLS 1.2 only, ECDHE-RSA AES-GCM;\n"
"                         legacy: TLS 1.0 only, AES128-SHA/AES256-SHA at\n"
"                         SECLEVEL=0 (AMT 11 and older);\n"
"                         plain: no TLS (mpsd behind stunnel, plain mode)\n"
"  --ca FILE              verify the server chain against these PEM roots\n"
"  --insecure             do not verify the server certificate\n"
"                         (one of --ca and --insecure is required with TLS)\n"
"  --server-name NAME     name (or IP) the server certificate must carry;\n"
"                         default with --ca: the --host value; default with\n"
"                         --insecure: no check; \"\" turns the check off\n"
"  --cert FILE            client certificate chain (PEM) for mutual TLS\n"
"  --key FILE             its private key (default: the --cert file)\n"
"\n"
"Devices:\n"
"  --count N              number of devices (default 1)\n"
"  --first-index K        index of the first device (default 0); indexes\n"
"                         name devices in reports and derive UUID and FQDN,\n"
"                         so several processes can share one benchmark\n"
"  --uuid UUID            base UUID (default " DEFAULT_UUID ");\n"
"                         device I gets base + I in the last 12 hex digits\n"
"  --fqdn NAME            device FQDN sent in tcpip-forward; \"%d\" in NAME\n"
"                         becomes the index; without it, several devices\n"
"                         get dev-<index>.NAME (default dev-%d.amt.test;\n"
"                         \"\" sends an empty address)\n"
"  --trigger N            PROTOCOLVERSION trigger reason (default 1, user\n"
"                         initiated; 2 alert, 3 provisioning, 4 periodic)\n"
"  --user NAME            APF user name (default admin)\n"
"  --pass PASSWORD        APF password (default P@ssw0rd)\n"
"  --auth METHOD          password (default) or none (client certificate)\n"
"  --ports LIST           tcpip-forward ports in order (default\n"
"                         " DEFAULT_PORTS ", firmware order;\n"
"                         \"\" forwards nothing)\n"
"  --keepalive S          send KEEPALIVE_REQUEST every S seconds once ready,\n"
"                         until the MPS sets its own interval (default 0:\n"
"                         only as the MPS's KEEPALIVE_OPTIONS say)\n"
"  --cancel-port P        once ready, withdraw the forward of port P with\n"
"                         cancel-tcpip-forward (want_reply 1; its reply is\n"
"                         awaited like a forward's)\n"
"  --forward-no-reply     send tcpip-forward and cancel-tcpip-forward with\n"
"                         want_reply 0, yet wait for REQUEST_SUCCESS before\n"
"                         the next forward, and start keepalives only once\n"
"                         every forward is answered (an APF client seen in\n"
"                         the field; firmware sets want_reply)\n"
"\n"
"On command, once ready (HOST may be [v6]; FILE is read whole at start):\n"
"  --pet HOST:PORT:FILE   send FILE's bytes as a PET alert: GLOBAL_REQUEST\n"
"                         udp-send-to@amt.intel.com, want_reply 1, from the\n"
"                         device's own address (repeatable)\n"
"  --pet-count N          send each --pet N times (default 1)\n"
"  --direct-count N       open each --direct N times (default 1), at most\n"
"                         16 at a time: the next when one is refused or done\n"
"  --direct HOST:PORT:FILE  open a direct-tcpip channel to HOST:PORT, send\n"
"                         FILE's bytes (e.g. an HTTP POST) under the MPS's\n"
"                         window and read the answer until the MPS closes\n"
"                         the channel (repeatable)\n"
"  --direct-save FILE     write each answer to FILE (FILE.<device>.<k> when\n"
"                         there are several devices or --direct options)\n"
"  --action-delay MS      wait MS milliseconds after ready first (default 0)\n"
"\n"
"Channels (opened by the MPS to a forwarded port):\n"
"  --target PORT=HOST:PORT  connect channels for PORT to HOST:PORT\n"
"                         (repeatable); a port without one is refused\n"
"                         with OPEN_FAILURE 2 (CONNECT_FAILED)\n"
"  --target PORT=sink     the device itself takes every byte of channels\n"
"                         for PORT (SHA-256 on the closed line) and sends\n"
"                         nothing\n"
"  --target PORT=source:BYTES[:SEED]  the device itself sends BYTES\n"
"                         (K, M, G: KiB, MiB, GiB) of bytepump's seeded\n"
"                         stream (SEED, default 2) on each channel for PORT,\n"
"                         then closes it; what it receives is taken too\n"
"  --max-channels N       refuse channels beyond N open ones per device\n"
"                         with OPEN_FAILURE 4 (RESOURCE_SHORTAGE), like\n"
"                         AMT (default and maximum 1024)\n"
"  --window N             receive window we advertise per channel\n"
"                         (default 4096; real AMT shows 499; at most 16 MiB,\n"
"                         K, M suffixes allowed)\n"
"  --window-adjust POLICY  when consumed bytes go back as WINDOW_ADJUST:\n"
"                         eager (default): at once when nothing waits for\n"
"                         the target, else once half the window is consumed;\n"
"                         half: only once half the window is consumed (as\n"
"                         LMS, Open AMT and mpsd itself do)\n"
"  --ignore-window BYTES  send channel data up to BYTES beyond the window\n"
"                         the MPS gave (a client without flow control; a\n"
"                         value above what a channel carries ignores the\n"
"                         window entirely); the device stays well-behaved\n"
"                         otherwise\n"
"\n"
"Pacing and timeouts (seconds, fractions allowed; 0 = none):\n"
"  --rate R               start R devices per second (default 0: all at once)\n"
"  --connect-timeout S    TCP + TLS set-up limit (default 30)\n"
"  --reply-timeout S      limit on each APF answer awaited, and on a\n"
"                         misbehaving device's wait for rejection\n"
"                         (default 30)\n"
"  --duration S           end the run cleanly after S seconds\n"
"  --reconnect S          a device the MPS dropped, or that could not\n"
"                         connect, connects again after S seconds (as AMT\n"
"                         does after losing its MPS), until the run ends\n"
"\n"
"Misbehaving (tests of the server's defences):\n"
"  --misbehave MODE       truncate: half a PROTOCOLVERSION, then silence\n"
"                         reorder: USERAUTH_REQUEST before\n"
"                         SERVICE_REQUEST auth@\n"
"                         reorder-forward: tcpip-forward before pfwd@\n"
"                         oversize: a string length of 0x7fffffff\n"
"                         garbage: 64 random bytes (not an APF type first)\n"
"                         stall: connect (and TLS), then send nothing\n"
"                         badversion: PROTOCOLVERSION major 2\n"
"                         unknown-type: a message of type 0x77\n"
"                         slowloris: the normal session, one byte a second\n"
"                         overrun: once a channel opens, CHANNEL_DATA one\n"
"                         byte larger than the MPS's window\n"
"  --misbehave-device I   only device I misbehaves (default: every device)\n"
"  --seed N               seed of the garbage bytes (default 1)\n"
"\n"
"Reports (one line per event on stdout, see README.md):\n"
"  --quiet                only failures and the summary\n"
"  --verbose              also every APF message sent and received\n"
"  --stats-every S        a progress line every S seconds\n"
"  --ready-file FILE      written once every device has finished forwarding\n"
"                         (or failed, or sent its misbehaviour)\n"
"  -h, --help             this text\n"
"\n"
"Exit status: 0 if no device failed and no keepalive reply mismatched,\n"
"1 otherwise, 2 on a usage or set-up error. SIGTERM or SIGINT ends the run\n"
"cleanly (DISCONNECT 11 from each device); a second one exits at once.\n";

enum {
	OPT_HOST = 256, OPT_PORT, OPT_SOURCE, OPT_TLS, OPT_CA, OPT_INSECURE,
	OPT_SERVER_NAME, OPT_CERT, OPT_KEY, OPT_COUNT, OPT_FIRST_INDEX,
	OPT_UUID, OPT_FQDN, OPT_TRIGGER, OPT_USER, OPT_PASS, OPT_AUTH,
	OPT_PORTS, OPT_KEEPALIVE, OPT_CANCEL, OPT_TARGET, OPT_MAX_CHANNELS, OPT_WINDOW,
	OPT_RATE, OPT_CONNECT_TIMEOUT, OPT_REPLY_TIMEOUT, OPT_DURATION,
	OPT_MISBEHAVE, OPT_MISBEHAVE_DEVICE, OPT_SEED, OPT_QUIET,
	OPT_VERBOSE, OPT_STATS_EVERY, OPT_READY_FILE, OPT_PET, OPT_PET_COUNT,
	OPT_DIRECT_COUNT,
	OPT_DIRECT, OPT_DIRECT_SAVE, OPT_ACTION_DELAY, OPT_WINDOW_ADJUST,
	OPT_IGNORE_WINDOW, OPT_FORWARD_NO_REPLY, OPT_RECONNECT
};

static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "reconnect", required_argument, NULL, OPT_RECONNECT },
	{ "tls", required_argument, NULL, OPT_TLS },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "server-name", required_argument, NULL, OPT_SERVER_NAME },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "first-index", required_argument, NULL, OPT_FIRST_INDEX },
	{ "uuid", required_argument, NULL, OPT_UUID },
	{ "fqdn", required_argument, NULL, OPT_FQDN },
	{ "trigger", required_argument, NULL, OPT_TRIGGER },
	{ "user", required_argument, NULL, OPT_USER },
	{ "pass", required_argument, NULL, OPT_PASS },
	{ "auth", required_argument, NULL, OPT_AUTH },
	{ "ports", required_argument, NULL, OPT_PORTS },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "cancel-port", required_argument, NULL, OPT_CANCEL },
	{ "target", required_argument, NULL, OPT_TARGET },
	{ "max-channels", required_argument, NULL, OPT_MAX_CHANNELS },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "window-adjust", required_argument, NULL, OPT_WINDOW_ADJUST },
	{ "ignore-window", required_argument, NULL, OPT_IGNORE_WINDOW },
	{ "forward-no-reply", no_argument, NULL, OPT_FORWARD_NO_REPLY },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "reply-timeout", required_argument, NULL, OPT_REPLY_TIMEOUT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "misbehave", required_argument, NULL, OPT_MISBEHAVE },
	{ "misbehave-device", required_argument, NULL, OPT_MISBEHAVE_DEVICE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "stats-every", required_argument, NULL, OPT_STATS_EVERY },
	{ "ready-file", required_argument, NULL, OPT_READY_FILE },
	{ "pet", required_argument, NULL, OPT_PET },
	{ "pet-count", required_argument, NULL, OPT_PET_COUNT },
	{ "direct-count", required_argument, NULL, OPT_DIRECT_COUNT },
	{ "direct", required_argument, NULL, OPT_DIRECT },
	{ "direct-save", required_argument, NULL, OPT_DIRECT_SAVE },
	{ "action-delay", required_argument, NULL, OPT_ACTION_DELAY },
	{ NULL, 0, NULL, 0 }
};

static void usage_error(const char *, const char *)
    __attribute__((noreturn));

static void
usage_error(const char *fmt, const char *arg)
{
	(void)fputs("amtsim: ", stderr);
	(void)fprintf(stderr, fmt, arg);
	(void)fputs("\nTry 'amtsim --help'.\n", stderr);
	exit(2);
}

/* ---- Option values ---- */

static uint32_t
parse_u32(const char *name, const char *s, uint32_t min, uint32_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 ||
	    v < min || v > max)
		usage_error("bad value for %s", name);
	return (uint32_t)v;
}

/* A byte count with an optional K, M or G suffix (powers of 1024, as
 * bytepump reads them), at most max. */
static uint64_t
parse_size(const char *name, const char *s, uint64_t max)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || end == s || errno != 0)
		usage_error("bad byte count for %s", name);
	switch (*end) {
	case '\0': break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: usage_error("bad byte count for %s", name);
	}
	if (*end != '\0' || v > (max >> shift))
		usage_error("bad byte count for %s", name);
	return (uint64_t)v << shift;
}

/* Seconds, fractions allowed, into milliseconds. */
static uint32_t
parse_ms(const char *name, const char *s)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(v) ||
	    v < 0 || v > 86400.0 * 30)
		usage_error("bad number of seconds for %s", name);
	return (uint32_t)(v * 1000.0 + 0.5);	/* v >= 0: rounds */
}

static void
parse_ports(const char *s)
{
	char buf[256], *tok, *save = NULL;

	sim_opt.nports = 0;
	if (strlen(s) >= sizeof(buf))
		usage_error("--ports list too long: %s", s);
	(void)strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (sim_opt.nports >= SIM_MAX_PORTS)
			usage_error("too many --ports: %s", s);
		sim_opt.ports[sim_opt.nports++] = parse_u32("--ports", tok, 1,
		    65535);
	}
}

/*
 * Resolves host and port into addr. Returns 0, or -1 with a message on
 * stderr. Only the first address is used: the tests run on loopback.
 */
static int
resolve(const char *host, const char *port, int numeric,
    struct sockaddr_storage *addr, socklen_t *len)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		(void)fprintf(stderr, "amtsim: cannot resolve %s: %s\n", host,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The APF port before the '=' of a --target. */
static uint32_t
target_port(const char *s, const char *eq)
{
	char pbuf[16];
	size_t n = (size_t)(eq - s);

	if (n == 0 || n >= sizeof(pbuf))
		usage_error("bad --target port in %s", s);
	memcpy(pbuf, s, n);
	pbuf[n] = '\0';
	return parse_u32("--target", pbuf, 1, 65535);
}

/*
 * "sink" or "source:BYTES[:SEED]": the device itself is the target.
 * Returns 0 when v is neither (a HOST:PORT then).
 */
static int
parse_builtin_target(sim_target *t, const char *v)
{
	char buf[64], *colon;

	if (strcmp(v, "sink") == 0) {
		t->kind = SIM_TARGET_SINK;
		return 1;
	}
	if (strncmp(v, "source:", 7) != 0)
		return 0;
	if (strlen(v + 7) >= sizeof(buf))
		usage_error("bad --target source in %s", v);
	(void)strcpy(buf, v + 7);
	t->kind = SIM_TARGET_SOURCE;
	t->source_seed = 2;	/* bytepump --serve's, so clients check it */
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon = '\0';
		t->source_seed = parse_size("--target source seed", colon + 1,
		    UINT64_MAX >> 2);
	}
	t->source_bytes = parse_size("--target source", buf, SIM_BYTES_MAX);
	return 1;
}

/* PORT=HOST:PORT (HOST may be [v6]), PORT=sink or PORT=source:... */
static void
parse_target(const char *s)
{
	sim_target *t;
	char buf[300], *eq, *host, *colon, *tport;

	if (sim_opt.ntargets >= SIM_MAX_TARGETS)
		usage_error("too many --target options: %s", s);
	if (strlen(s) >= sizeof(buf) || (eq = strchr(s, '=')) == NULL)
		usage_error("--target wants PORT=HOST:PORT, not %s", s);
	t = &sim_opt.targets[sim_opt.ntargets];
	t->port = target_port(s, eq);
	(void)snprintf(t->text, sizeof(t->text), "%s", eq + 1);
	if (parse_builtin_target(t, eq + 1)) {
		sim_opt.ntargets++;
		return;
	}
	(void)strcpy(buf, eq + 1);	/* fits: strlen(s) < sizeof(buf) */
	host = buf;
	if ((colon = strrchr(buf, ':')) == NULL)
		usage_error("--target wants PORT=HOST:PORT, not %s", s);
	*colon = '\0';
	tport = colon + 1;
	if (host[0] == '[') {
		size_t hl = strlen(host);

		if (hl < 2 || host[hl - 1] != ']')
			usage_error("bad --target address in %s", s);
		host[hl - 1] = '\0';
		host++;
	}
	(void)parse_u32("--target", tport, 1, 65535);
	if (resolve(host, tport, 0, &t->addr, &t->addrlen) != 0)
		exit(2);
	sim_opt.ntargets++;
}

static void
set_defaults(void)
{
	memset(&sim_opt, 0, sizeof(sim_opt));
	sim_opt.host = "127.0.0.1";
	sim_opt.tls = SIM_TLS_MODERN;
	sim_opt.fqdn = "dev-%d.amt.test";
	sim_opt.count = 1;
	sim_opt.trigger = MPS_APF_TRIGGER_USER_INITIATED;
	sim_opt.user = "admin";
	sim_opt.pass = "P@ssw0rd";
	sim_opt.max_channels = SIM_CHANNELS_CAP;
	sim_opt.window = 4096;
	sim_opt.connect_timeout_ms = 30000;
	sim_opt.reply_timeout_ms = 30000;
	sim_opt.misbehave_device = -1;
	sim_opt.seed = 1;
	sim_opt.pet_count = 1;
	sim_opt.direct_count = 1;
	(void)mps_apf_uuid_from_text(DEFAULT_UUID, sim_opt.uuid_base);
	parse_ports(DEFAULT_PORTS);
}

static void
parse_tls(const char *s)
{
	if (strcmp(s, "modern") == 0)
		sim_opt.tls = SIM_TLS_MODERN;
	else if (strcmp(s, "legacy") == 0)
		sim_opt.tls = SIM_TLS_LEGACY;
	else if (strcmp(s, "plain") == 0)
		sim_opt.tls = SIM_TLS_PLAIN;
	else
		usage_error("--tls is modern, legacy or plain, not %s", s);
}

/* --pet / --direct: HOST:PORT:FILE into the next free entry. */
static void
parse_action(const char *too_many, const char *arg, sim_action *list,
    unsigned *n, size_t max)
{
	const char *why;

	if (*n >= SIM_MAX_ACTIONS)
		usage_error(too_many, arg);
	if ((why = sim_action_parse(&list[*n], arg, max)) != NULL)
		usage_error(why, arg);
	(*n)++;
}

static void
parse_option(int c, const char *arg, const char **port)
{
	int mb;

	switch (c) {
	case OPT_HOST: sim_opt.host = arg; break;
	case OPT_PORT: (void)parse_u32("--port", arg, 1, 65535); *port = arg;
		break;
	case OPT_SOURCE:
		if (resolve(arg, "0", 1, &sim_opt.source,
		    &sim_opt.source_len) != 0)
			exit(2);
		break;
	case OPT_TLS: parse_tls(arg); break;
	case OPT_CA: sim_opt.ca_file = arg; break;
	case OPT_INSECURE: sim_opt.insecure = 1; break;
	case OPT_SERVER_NAME: sim_opt.server_name = arg; break;
	case OPT_CERT: sim_opt.cert_file = arg; break;
	case OPT_KEY: sim_opt.key_file = arg; break;
	case OPT_COUNT:
		sim_opt.count = parse_u32("--count", arg, 1, 1000000);
		break;
	case OPT_FIRST_INDEX:
		sim_opt.first_index = parse_u32("--first-index", arg, 0,
		    UINT32_MAX / 2);
		break;
	case OPT_UUID:
		if (mps_apf_uuid_from_text(arg, sim_opt.uuid_base) !=
		    APR_SUCCESS)
			usage_error("bad --uuid %s", arg);
		break;
	case OPT_FQDN:
		if (strlen(arg) > SIM_FQDN_MAX - 16)
			usage_error("--fqdn too long: %s", arg);
		sim_opt.fqdn = arg;
		break;
	case OPT_TRIGGER:
		sim_opt.trigger = parse_u32("--trigger", arg, 0, UINT32_MAX);
		break;
	case OPT_USER: sim_opt.user = arg; break;
	case OPT_PASS: sim_opt.pass = arg; break;
	case OPT_AUTH:
		if (strcmp(arg, "none") == 0)
			sim_opt.auth_none = 1;
		else if (strcmp(arg, "password") == 0)
			sim_opt.auth_none = 0;
		else
			usage_error("--auth is password or none, not %s", arg);
		break;
	case OPT_PORTS: parse_ports(arg); break;
	case OPT_CANCEL:
		sim_opt.cancel_port = parse_u32("--cancel-port", arg, 1, 65535);
		break;
	case OPT_KEEPALIVE:
		sim_opt.keepalive_s = parse_u32("--keepalive", arg, 0, 86400);
		break;
	case OPT_TARGET: parse_target(arg); break;
	case OPT_MAX_CHANNELS:
		sim_opt.max_channels = parse_u32("--max-channels", arg, 0,
		    SIM_CHANNELS_CAP);
		break;
	case OPT_WINDOW:
		sim_opt.window = (uint32_t)parse_size("--window", arg,
		    SIM_WINDOW_MAX);
		if (sim_opt.window == 0)
			usage_error("bad value for %s", "--window");
		break;
	case OPT_WINDOW_ADJUST:
		if (strcmp(arg, "eager") == 0)
			sim_opt.adjust = SIM_ADJUST_EAGER;
		else if (strcmp(arg, "half") == 0)
			sim_opt.adjust = SIM_ADJUST_HALF;
		else
			usage_error("--window-adjust is eager or half, not %s",
			    arg);
		break;
	case OPT_IGNORE_WINDOW:
		sim_opt.ignore_window = parse_size("--ignore-window", arg,
		    SIM_BYTES_MAX);
		break;
	case OPT_FORWARD_NO_REPLY: sim_opt.forward_no_reply = 1; break;
	case OPT_RATE: {
		char *end;

		errno = 0;
		sim_opt.rate = strtod(arg, &end);
		if (*arg == '\0' || *end != '\0' || errno != 0 ||
		    !isfinite(sim_opt.rate) || sim_opt.rate < 0)
			usage_error("bad --rate %s", arg);
		break;
	}
	case OPT_CONNECT_TIMEOUT:
		sim_opt.connect_timeout_ms = parse_ms("--connect-timeout", arg);
		break;
	case OPT_REPLY_TIMEOUT:
		sim_opt.reply_timeout_ms = parse_ms("--reply-timeout", arg);
		break;
	case OPT_DURATION:
		sim_opt.duration_ms = parse_ms("--duration", arg);
		break;
	case OPT_RECONNECT:
		sim_opt.reconnect_ms = parse_ms("--reconnect", arg);
		break;
	case OPT_MISBEHAVE:
		if ((mb = sim_misbehave_parse(arg)) < 0)
			usage_error("unknown --misbehave mode %s", arg);
		sim_opt.misbehave = (sim_misbehave)mb;
		break;
	case OPT_MISBEHAVE_DEVICE:
		sim_opt.misbehave_device = parse_u32("--misbehave-device", arg,
		    0, UINT32_MAX);
		break;
	case OPT_SEED: sim_opt.seed = parse_u32("--seed", arg, 0, UINT32_MAX);
		break;
	case OPT_QUIET: sim_opt.quiet = 1; break;
	case OPT_VERBOSE: sim_opt.verbose = 1; break;
	case OPT_STATS_EVERY:
		sim_opt.stats_every_ms = parse_ms("--stats-every", arg);
		break;
	case OPT_READY_FILE: sim_opt.ready_file = arg; break;
	case OPT_PET:
		parse_action("too many --pet options: %s", arg, sim_opt.pets,
		    &sim_opt.npets, MPS_APF_MAX_UDP_PAYLOAD);
		break;
	case OPT_PET_COUNT:
		sim_opt.pet_count = parse_u32("--pet-count", arg, 1, 1000000);
		break;
	case OPT_DIRECT:
		parse_action("too many --direct options: %s", arg,
		    sim_opt.directs, &sim_opt.ndirects, SIM_DIRECT_MAX);
		break;
	case OPT_DIRECT_SAVE: sim_opt.direct_save = arg; break;
	case OPT_DIRECT_COUNT:
		sim_opt.direct_count = parse_u32("--direct-count", arg, 1,
		    1000000);
		break;
	case OPT_ACTION_DELAY:
		sim_opt.action_delay_ms = parse_u32("--action-delay", arg, 0,
		    SIM_ACTION_DELAY_MAX);
		break;
	default:
		usage_error("%s", "unknown option");
	}
}

static void
parse_args(int argc, char **argv)
{
	const char *port = "4433";
	int c;

	set_defaults();
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (c == 'h') {
			(void)fputs(usage_text, stdout);
			exit(0);
		}
		if (c == '?')
			usage_error("%s", "invalid option");
		parse_option(c, optarg, &port);
	}
	if (optind < argc)
		usage_error("unexpected argument %s", argv[optind]);
	if (sim_opt.tls != SIM_TLS_PLAIN && sim_opt.ca_file == NULL &&
	    !sim_opt.insecure)
		usage_error("%s", "TLS needs --ca FILE or --insecure");
	if (sim_opt.key_file != NULL && sim_opt.cert_file == NULL)
		usage_error("%s", "--key needs --cert");
	if (sim_opt.direct_save != NULL && sim_opt.ndirects == 0)
		usage_error("%s", "--direct-save needs --direct");
	if (sim_opt.misbehave_device >= 0 && (sim_opt.misbehave_device <
	    (int64_t)sim_opt.first_index || sim_opt.misbehave_device >=
	    (int64_t)sim_opt.first_index + sim_opt.count))
		usage_error("%s", "--misbehave-device names no device of this "
		    "run (see --first-index, --count)");
	if (resolve(sim_opt.host, port, 0, &sim_opt.server,
	    &sim_opt.server_len) != 0)
		exit(2);
	(void)snprintf(sim_opt.server_text, sizeof(sim_opt.server_text),
	    "%s:%s", sim_opt.host, port);
}

/* ---- Process set-up ---- */

static void
raise_nofile(void)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)sim_opt.count + 64;

	/* Benchmarks hold thousands of sockets: take all we may have. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
		(void)fprintf(stderr, "amtsim: warning: only %llu file "
		    "descriptors for %u devices\n",
		    (unsigned long long)rl.rlim_cur, sim_opt.count);
}

static int
setup_signals(void)
{
	sigset_t set;
	int fd;

	(void)signal(SIGPIPE, SIG_IGN);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		perror("amtsim: signalfd");
		return -1;
	}
	return fd;
}

/* ---- Reports ---- */

static double
elapsed_s(void)
{
	return (double)(sim_g.now - sim_g.t0) / 1000.0;
}

static void
print_stats(void)
{
	unsigned long rss, peak;

	sim_rss_kb(&rss, &peak);
	sim_say(1, "stats elapsed=%.1f started=%u connected=%u "
	    "authenticated=%u forwarded=%u failed=%u active=%u channels=%u "
	    "rss_kb=%lu", elapsed_s(), sim_g.c.started, sim_g.c.connected,
	    sim_g.c.authenticated, sim_g.c.forwarded, sim_g.c.failed,
	    sim_g.c.active, sim_g.c.channels_live, rss);
}

static void
print_summary(void)
{
	const sim_counters *c = &sim_g.c;
	unsigned long rss, peak;

	sim_rss_kb(&rss, &peak);
	sim_say(1, "summary connected=%u authenticated=%u forwarded=%u "
	    "failed=%u rejected=%u dropped=%u ok=%u auth_failed=%u "
	    "devices=%u started=%u channels=%u channel_failures=%u "
	    "keepalive_ok=%llu keepalive_mismatch=%llu keepalive_missed=%llu "
	    "bytes_to_mps=%llu bytes_from_mps=%llu elapsed=%.3f rss_kb=%lu "
	    "peak_rss_kb=%lu pet_sent=%llu pet_ok=%llu pet_refused=%llu "
	    "direct_done=%u direct_refused=%u", c->connected, c->authenticated,
	    c->forwarded,
	    c->failed, c->rejected, c->dropped, c->ok, c->auth_failed,
	    sim_opt.count, c->started, c->channels_opened, c->channel_failures,
	    (unsigned long long)c->keepalive_ok,
	    (unsigned long long)c->keepalive_mismatch,
	    (unsigned long long)c->keepalive_missed,
	    (unsigned long long)c->bytes_to_mps,
	    (unsigned long long)c->bytes_from_mps, elapsed_s(), rss, peak,
	    (unsigned long long)c->pet_sent, (unsigned long long)c->pet_ok,
	    (unsigned long long)c->pet_refused, c->direct_done,
	    c->direct_refused);
}

/* Written to a temporary name and renamed: a waiting test never reads
 * a half-written file. */
static void
write_ready_file(void)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", sim_opt.ready_file) >=
	    (int)sizeof(tmp) || (f = fopen(tmp, "w")) == NULL) {
		sim_say(1, "error ready-file=%s errno=%d", sim_opt.ready_file,
		    errno);
		return;
	}
	(void)fprintf(f, "ready devices=%u forwarded=%u failed=%u "
	    "rejected=%u\n", sim_opt.count, sim_g.c.forwarded,
	    sim_g.c.failed, sim_g.c.rejected);
	if (fclose(f) != 0 || rename(tmp, sim_opt.ready_file) != 0)
		sim_say(1, "error ready-file=%s errno=%d", sim_opt.ready_file,
		    errno);
	else
		sim_say(0, "ready-file written devices=%u forwarded=%u",
		    sim_opt.count, sim_g.c.forwarded);
}

/* ---- The loop ---- */

typedef struct loop_state {
	uint32_t next_start;		/* slot of the next device to start */
	uint64_t next_stats;
	uint64_t end_at;		/* --duration, 0 = none */
	int ready_written;
	int trimmed;
	int signals;
	sim_io sig;
} loop_state;

static void
begin_shutdown(loop_state *ls)
{
	uint32_t i;

	if (sim_g.shutting_down)
		return;
	sim_g.shutting_down = 1;
	sim_say(0, "shutdown elapsed=%.3f", elapsed_s());
	ls->next_start = sim_opt.count;
	for (i = 0; i < sim_opt.count; i++)
		sim_device_shutdown(&sim_g.devs[i]);
	sim_relay_reap();
}

static void
on_signal(loop_state *ls)
{
	struct signalfd_siginfo si;

	while (read(ls->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (++ls->signals > 1) {
			sim_say(1, "interrupted");
			print_summary();
			_exit(1);
		}
		begin_shutdown(ls);
	}
}

static uint64_t
start_time(uint32_t slot)
{
	if (sim_opt.rate <= 0)
		return sim_g.t0;
	return sim_g.t0 + (uint64_t)((double)slot * 1000.0 / sim_opt.rate);
}

static void
start_due(loop_state *ls)
{
	while (ls->next_start < sim_opt.count &&
	    start_time(ls->next_start) <= sim_g.now) {
		sim_device_start(&sim_g.devs[ls->next_start++]);
		sim_relay_reap();
	}
}

static void
run_timers(void)
{
	sim_device *d;

	while ((d = sim_heap_top()) != NULL && d->heap_key <= sim_g.now) {
		/* Take it out first: handling re-keys it if it still needs
		 * a timer, so the loop cannot spin on one device. */
		sim_heap_set(d, 0);
		sim_device_on_timer(d);
		sim_relay_reap();
	}
}

static void
periodic(loop_state *ls)
{
	if (sim_opt.stats_every_ms != 0 && sim_g.now >= ls->next_stats) {
		print_stats();
		ls->next_stats = sim_g.now + sim_opt.stats_every_ms;
	}
	if (ls->end_at != 0 && sim_g.now >= ls->end_at)
		begin_shutdown(ls);
	if (sim_g.c.settled < sim_opt.count)
		return;
	/*
	 * Every handshake is over: the burst of handshake buffers (tens of
	 * KiB per device while thousands handshake at once) is free but
	 * scattered through the heap. Give those pages back, once, so the
	 * steady state costs what the tunnels really hold.
	 */
	if (!ls->trimmed) {
		ls->trimmed = 1;
		(void)malloc_trim(0);
	}
	if (sim_opt.ready_file != NULL && !ls->ready_written) {
		ls->ready_written = 1;
		write_ready_file();
	}
}

static int
wait_ms(const loop_state *ls)
{
	uint64_t when = 0, t;
	sim_device *d;

#define EARLIER(x) do { t = (x); if (t != 0 && (when == 0 || t < when)) \
	when = t; } while (0)
	if ((d = sim_heap_top()) != NULL)
		EARLIER(d->heap_key);
	if (ls->next_start < sim_opt.count)
		EARLIER(start_time(ls->next_start));
	if (sim_opt.stats_every_ms != 0)
		EARLIER(ls->next_stats);
	if (!sim_g.shutting_down)
		EARLIER(ls->end_at);
#undef EARLIER
	if (when == 0)
		return -1;
	if (when <= sim_g.now)
		return 0;
	return when - sim_g.now > 60000 ? 60000 : (int)(when - sim_g.now);
}

static void
dispatch(loop_state *ls, const struct epoll_event *ev)
{
	sim_io *io = ev->data.ptr;

	switch (io->kind) {
	case SIM_IO_DEVICE:
		sim_device_on_io((sim_device *)io, ev->events);
		break;
	case SIM_IO_TARGET:
		sim_relay_on_io(io, ev->events);
		break;
	case SIM_IO_SIGNAL:
		on_signal(ls);
		break;
	}
}

static int
run(int sigfd)
{
	struct epoll_event evs[256];
	loop_state ls;
	int n, i;

	memset(&ls, 0, sizeof(ls));
	ls.sig.fd = sigfd;
	ls.sig.kind = SIM_IO_SIGNAL;
	if (sim_io_set(&ls.sig, EPOLLIN) != 0) {
		perror("amtsim: epoll_ctl");
		return -1;
	}
	sim_g.t0 = sim_clock();
	ls.next_stats = sim_g.t0 + sim_opt.stats_every_ms;
	ls.end_at = sim_opt.duration_ms != 0 ?
	    sim_g.t0 + sim_opt.duration_ms : 0;
	for (;;) {
		(void)sim_clock();
		start_due(&ls);
		run_timers();
		periodic(&ls);
		if (ls.next_start >= sim_opt.count && sim_g.c.active == 0)
			break;
		n = epoll_wait(sim_g.epfd, evs, (int)(sizeof(evs) /
		    sizeof(evs[0])), wait_ms(&ls));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			perror("amtsim: epoll_wait");
			return -1;
		}
		(void)sim_clock();
		for (i = 0; i < n; i++)
			dispatch(&ls, &evs[i]);
		/* Only now, when no event of this batch can name them. */
		sim_relay_reap();
	}
	(void)sim_io_set(&ls.sig, 0);
	return 0;
}

static int
setup_devices(void)
{
	uint32_t i;

	if ((sim_g.devs = calloc(sim_opt.count, sizeof(*sim_g.devs))) ==
	    NULL || sim_heap_init(sim_opt.count) != 0) {
		(void)fputs("amtsim: out of memory\n", stderr);
		return -1;
	}
	for (i = 0; i < sim_opt.count; i++)
		sim_device_init(&sim_g.devs[i], i);
	return 0;
}

static const char *
tls_name(void)
{
	switch (sim_opt.tls) {
	case SIM_TLS_LEGACY:
		return "legacy";
	case SIM_TLS_PLAIN:
		return "plain";
	default:
		return "modern";
	}
}

int
main(int argc, char **argv)
{
	char err[512];
	int sigfd, rc;

	parse_args(argc, argv);
	/* Tests read the output as it comes: whole lines, at once. */
	(void)setvbuf(stdout, NULL, _IOLBF, 0);
	raise_nofile();
	if (sim_opt.tls != SIM_TLS_PLAIN &&
	    (sim_g.ssl_ctx = sim_tls_ctx_new(err, sizeof(err))) == NULL) {
		(void)fprintf(stderr, "amtsim: %s\n", err);
		return 2;
	}
	if ((sim_g.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("amtsim: epoll_create1");
		return 2;
	}
	if ((sigfd = setup_signals()) == -1 || setup_devices() != 0)
		return 2;
	sim_say(0, "start devices=%u first=%u server=%s tls=%s misbehave=%s",
	    sim_opt.count, sim_opt.first_index, sim_opt.server_text,
	    tls_name(), sim_misbehave_name(sim_opt.misbehave));
	if (run(sigfd) != 0)
		return 2;
	print_summary();
	rc = sim_g.c.failed != 0 || sim_g.c.keepalive_mismatch != 0 ? 1 : 0;
	(void)close(sigfd);
	(void)close(sim_g.epfd);
	sim_heap_free();
	free(sim_g.devs);
	sim_actions_free();
	SSL_CTX_free(sim_g.ssl_ctx);
	return rc;
}
