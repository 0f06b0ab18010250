/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim.h: amtsim, the AMT device simulator: shared declarations.
 *
 * amtsim plays the firmware side of CIRA for mpsd's integration tests and
 * benchmarks: many devices from one single-threaded process, each a TLS
 * client (or plain TCP) that speaks APF through the project's own codec
 * (server/apf_codec.h) and relays the channels the MPS opens to local
 * target sockets under APF windows (APF.md, "Flow control").
 *
 * Modules:
 *   amtsim.c      options, the epoll loop, start pacing, signals, reports
 *   sim_device.c  one device connection: TCP, TLS, the APF session,
 *                 keepalives and the misbehaviours
 *   sim_relay.c   channels: local target sockets and window accounting,
 *                 and the device's own direct-tcpip channels (--direct)
 *   sim_action.c  what a ready device does on command: PET alerts
 *                 (udp-send-to) and the --direct requests
 *   sim_stream.c  the seeded byte stream of source targets (bytepump's)
 *   sim_tls.c     the client SSL_CTX for each TLS profile, name checks
 *   sim_util.c    clock, timer heap, output lines, UUID and FQDN naming
 *
 * Everything runs on one thread; the globals below are that thread's.
 *
 * Lifetimes: the device array lives for the whole run (a finished device
 * keeps its slot, state DS_DONE). Channels are malloc'd per CHANNEL_OPEN
 * and, once dead, parked on a zombie list that the loop frees only after
 * the current batch of epoll events, so that a later event of the same
 * batch never touches freed memory.
 */
#ifndef SIM_H
#define SIM_H

/* strerrorname_np(); APR's flags define it already in the real build. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "apf_codec.h"
#include "buf.h"

/* ---- Limits ---- */

#define SIM_MAX_PORTS		16	/* tcpip-forward ports per device */
#define SIM_MAX_TARGETS		16	/* --target entries */
#define SIM_CHANNELS_CAP	1024	/* channels per device, absolute */
#define SIM_IO_CHUNK		16384	/* one TLS record; one --direct or
					 * source message */
/* One read from a target or from the MPS: several records' worth, so
 * that a bulk transfer costs few syscalls (the simulator is half of
 * the benchmarks' chain). */
#define SIM_READ_CHUNK		65536
/* OpenSSL's read-ahead buffer: one read() takes what the socket holds. */
#define SIM_TLS_READ_AHEAD	(128 * 1024)
/* Output queued to the MPS above which a device stops producing more
 * (reading its targets, answering): the push-back of slow MPS sockets. */
#define SIM_OUT_HIGH_WATER	(256 * 1024)
/* Hard cap on a device's output queue: high water + one chunk + replies,
 * and room for the oversized data of --misbehave overrun. */
#define SIM_OUT_MAX		(MPS_APF_MAX_DATA + 2 * SIM_READ_CHUNK)
#define SIM_FQDN_MAX		256
#define SIM_CLOSE_GRACE_MS	2000	/* flush + wait for EOF when closing */
#define SIM_MAX_ACTIONS		16	/* --pet and --direct entries, each */
/* A --direct request file, at most (it is sent under the MPS's window,
 * never buffered whole in the device's output). */
#define SIM_DIRECT_MAX		(1024 * 1024)
/* --action-delay, at most: a day. */
#define SIM_ACTION_DELAY_MAX	86400000u
#define SIM_CHANNEL_LINGER_MS	10000	/* target connect / final flush */
/* --ignore-window and --target PORT=source:BYTES, at most: 1 TiB. */
#define SIM_BYTES_MAX		(1ull << 40)
/* --window, at most: mpsd's own ChannelWindowSize limit. One CHANNEL_DATA
 * still carries at most MPS_APF_MAX_DATA (the codec's cap). */
#define SIM_WINDOW_MAX		(16u * 1024u * 1024u)

/* ---- Options ---- */

typedef enum {
	SIM_TLS_MODERN = 0,
	SIM_TLS_LEGACY,
	SIM_TLS_PLAIN
} sim_tls_profile;

typedef enum {
	SIM_MB_NONE = 0,
	SIM_MB_TRUNCATE,
	SIM_MB_REORDER,
	SIM_MB_REORDER_FORWARD,
	SIM_MB_OVERSIZE,
	SIM_MB_GARBAGE,
	SIM_MB_STALL,
	SIM_MB_BADVERSION,
	SIM_MB_UNKNOWN_TYPE,
	SIM_MB_SLOWLORIS,
	SIM_MB_OVERRUN
} sim_misbehave;

/* Where the channels to one APF port go (--target). */
typedef enum {
	SIM_TARGET_SOCKET = 0,		/* a TCP connection to addr */
	SIM_TARGET_SINK,		/* the device takes every byte itself */
	SIM_TARGET_SOURCE		/* the device sends source_bytes itself */
} sim_target_kind;

typedef struct sim_target {
	uint32_t port;			/* the APF port it serves */
	sim_target_kind kind;
	struct sockaddr_storage addr;	/* SIM_TARGET_SOCKET */
	socklen_t addrlen;
	uint64_t source_bytes;		/* SIM_TARGET_SOURCE: per channel */
	uint64_t source_seed;		/* ... its byte stream's seed */
	char text[80];			/* as given, for reports */
} sim_target;

/*
 * When a channel's consumed bytes go back to the MPS as WINDOW_ADJUST
 * (--window-adjust).
 */
typedef enum {
	SIM_ADJUST_EAGER = 0,		/* at once when nothing waits */
	SIM_ADJUST_HALF			/* once half the window is consumed */
} sim_adjust_policy;

/*
 * A --pet or --direct entry: where to, and the bytes (the file, read
 * whole at start; it lives for the run).
 */
typedef struct sim_action {
	char host[SIM_FQDN_MAX];	/* as sent: [v6] brackets removed */
	uint32_t port;
	uint8_t *data;			/* NULL when the file is empty */
	size_t len;
	char text[SIM_FQDN_MAX + 8];	/* host:port for reports */
} sim_action;

typedef struct sim_opts {
	/* the MPS */
	struct sockaddr_storage server;
	socklen_t server_len;
	char server_text[300];
	const char *host;
	struct sockaddr_storage source;	/* --source, ss_family 0 if none */
	socklen_t source_len;
	/* TLS */
	sim_tls_profile tls;
	const char *ca_file;
	int insecure;
	const char *server_name;	/* NULL: default (see sim_tls.c) */
	const char *cert_file;
	const char *key_file;
	/* identity and APF */
	uint8_t uuid_base[MPS_APF_UUID_LEN];
	const char *fqdn;		/* template, see sim_device_fqdn() */
	uint32_t first_index;
	uint32_t count;
	uint32_t trigger;
	const char *user;
	const char *pass;
	int auth_none;
	uint32_t ports[SIM_MAX_PORTS];
	unsigned nports;
	sim_target targets[SIM_MAX_TARGETS];
	unsigned ntargets;
	uint32_t max_channels;
	uint32_t window;
	sim_adjust_policy adjust;	/* --window-adjust */
	/* --ignore-window N: bytes the device sends beyond the MPS's
	 * window (0: it honours the window, as firmware does) */
	uint64_t ignore_window;
	/* --forward-no-reply: tcpip-forward and cancel-tcpip-forward go out
	 * with want_reply 0, yet the device waits for REQUEST_SUCCESS before
	 * its next forward (and starts keepalives only once ready) */
	int forward_no_reply;
	uint32_t keepalive_s;		/* own interval until options come */
	uint32_t cancel_port;		/* cancel-tcpip-forward once ready, 0: no */
	/* actions once ready (sim_action.c) */
	sim_action pets[SIM_MAX_ACTIONS];
	unsigned npets;
	uint32_t pet_count;		/* each --pet is sent this many times */
	sim_action directs[SIM_MAX_ACTIONS];
	unsigned ndirects;
	uint32_t direct_count;		/* each --direct is opened this many times */
	const char *direct_save;	/* --direct-save FILE, NULL: none */
	uint32_t action_delay_ms;	/* after READY, before the actions */
	/* pacing and timeouts (0 = none) */
	double rate;			/* connects per second, 0: at once */
	uint32_t connect_timeout_ms;
	uint32_t reply_timeout_ms;
	uint32_t duration_ms;
	uint32_t reconnect_ms;		/* --reconnect: 0 = a device ends once */
	/* reports */
	int quiet;
	int verbose;
	uint32_t stats_every_ms;
	const char *ready_file;
	/* misbehaviour */
	sim_misbehave misbehave;
	int64_t misbehave_device;	/* -1: every device */
	uint32_t seed;
} sim_opts;

/* The seeded byte stream of a source target (sim_stream.c): bytepump's. */
typedef struct sim_stream {
	uint64_t s[4];
	uint8_t word[8];		/* the word being handed out */
	unsigned used;			/* bytes of word already given */
} sim_stream;

/* ---- Event sources ---- */

typedef enum {
	SIM_IO_DEVICE = 1,
	SIM_IO_TARGET,
	SIM_IO_SIGNAL
} sim_io_kind;

/* What epoll_data.ptr points at; the first member of its owner. */
typedef struct sim_io {
	int fd;				/* -1 when closed */
	uint32_t events;		/* registered with epoll (0: not) */
	sim_io_kind kind;
} sim_io;

/* ---- A device ---- */

typedef enum {
	DS_IDLE = 0,		/* not started yet */
	DS_CONNECTING,		/* TCP connect in progress */
	DS_HANDSHAKE,		/* TLS handshake */
	DS_WAIT_AUTH_ACCEPT,	/* sent PROTOCOLVERSION, SERVICE_REQUEST */
	DS_WAIT_USERAUTH,	/* sent USERAUTH_REQUEST */
	DS_WAIT_PFWD_ACCEPT,	/* sent SERVICE_REQUEST pfwd@ */
	DS_FORWARDING,		/* sent tcpip-forward for ports[next_port] */
	DS_READY,		/* every forward answered: steady state */
	DS_REJECT_WAIT,		/* misbehaved: waiting for the server */
	DS_CLOSING,		/* flushing, then waiting for EOF, then close */
	DS_DONE
} sim_dev_state;

/* Who ended the connection first. */
typedef enum {
	SIM_BY_NONE = 0,
	SIM_BY_SERVER,
	SIM_BY_SELF
} sim_closer;

struct sim_channel;

typedef struct sim_device {
	sim_io io;			/* the MPS connection */
	uint32_t index;			/* global: first_index + slot */
	uint8_t state;			/* sim_dev_state */
	uint8_t misbehave;		/* sim_misbehave for this device */
	uint8_t closer;			/* sim_closer: who ended the session */
	uint8_t tcp_closer;		/* sim_closer: who closed TCP first */
	uint8_t shut;			/* 0, 1 close_notify pending, 2 done */
	unsigned connected : 1;		/* TCP (+ TLS) established */
	unsigned authenticated : 1;
	unsigned ready : 1;		/* every forward succeeded */
	unsigned bad : 1;		/* something failed: counts as failed */
	unsigned settled : 1;		/* counted for --ready-file */
	unsigned read_wants_write : 1;	/* SSL_read said WANT_WRITE */
	unsigned write_wants_read : 1;	/* SSL_write said WANT_READ */
	unsigned hs_wants_write : 1;	/* handshake / shutdown direction */
	unsigned ka_outstanding : 1;	/* a KEEPALIVE_REQUEST awaits reply */
	unsigned mb_sent : 1;		/* misbehaviour bytes queued */
	unsigned cancel_pending : 1;	/* a cancel-tcpip-forward's reply */
	unsigned reconnect : 1;		/* DS_DONE, starting again at heap_key */
	uint8_t next_port;		/* index in opts.ports forwarded now */
	uint8_t end_state;		/* state when the end began, reported */
	int32_t disc_received;		/* DISCONNECT reason from MPS, or -1 */
	int32_t disc_sent;		/* DISCONNECT reason we sent, or -1 */
	const char *error;		/* static token for the final line */
	SSL *ssl;			/* NULL in plain mode */
	BIO *gather;			/* buffering BIO under ssl once bulk
					 * data flows (records gathered into
					 * one write()), or NULL */
	mps_buf_t in;			/* from the MPS, not yet parsed */
	mps_buf_t out;			/* to the MPS, not yet written */
	uint64_t t_start;		/* ms: connect started */
	uint64_t deadline;		/* ms: connect/reply/close timeout */
	uint64_t next_keepalive;	/* ms, 0 = none */
	uint64_t next_trickle;		/* ms: slowloris' next byte */
	uint64_t heap_key;		/* ms: timer heap position key */
	uint32_t heap_idx;		/* 1-based; 0 = not in the heap */
	uint32_t ka_interval;		/* seconds, 0 = no keepalives */
	uint32_t ka_cookie;
	uint64_t next_action;		/* ms: actions due, 0 = none */
	uint64_t pet_next;		/* PET sends queued so far */
	uint64_t pet_replied;		/* replies received so far */
	uint32_t pet_pending;		/* udp-send-to replies awaited */
	uint64_t direct_next;		/* direct-tcpip opens sent so far */
	uint32_t direct_live;		/* ... not yet refused or done */
	struct sim_channel **chans;	/* slot = our channel id */
	uint16_t chan_cap;
	uint16_t chan_count;		/* live channels (slots in use) */
} sim_device;

/* ---- Process-wide state ---- */

typedef struct sim_counters {
	uint32_t started;
	uint32_t connected;
	uint32_t authenticated;
	uint32_t forwarded;		/* devices: every forward succeeded */
	uint32_t failed;
	uint32_t rejected;		/* misbehaving, closed by the server */
	uint32_t dropped;		/* ready devices the server closed */
	uint32_t ok;			/* ready devices we closed cleanly */
	uint32_t auth_failed;
	uint32_t active;		/* started and not done */
	uint32_t settled;
	uint32_t channels_opened;
	uint32_t channels_live;
	uint32_t channel_failures;	/* OPEN_FAILUREs we answered */
	uint64_t keepalive_ok;
	uint64_t keepalive_mismatch;
	uint64_t keepalive_missed;
	uint64_t bytes_to_mps;		/* channel payload */
	uint64_t bytes_from_mps;
	uint64_t pet_sent;		/* udp-send-to requests sent */
	uint64_t pet_ok;		/* ... answered REQUEST_SUCCESS */
	uint64_t pet_refused;		/* ... answered REQUEST_FAILURE */
	uint32_t direct_done;		/* direct-tcpip channels completed */
	uint32_t direct_refused;	/* ... refused with OPEN_FAILURE */
} sim_counters;

typedef struct sim_global {
	int epfd;
	SSL_CTX *ssl_ctx;		/* NULL in plain mode */
	sim_device *devs;
	uint64_t now;			/* ms, CLOCK_MONOTONIC, per loop pass */
	uint64_t t0;
	int shutting_down;
	sim_counters c;
} sim_global;

extern sim_opts sim_opt;
extern sim_global sim_g;

/* ---- sim_util.c ---- */

/* Monotonic milliseconds; also refreshes sim_g.now. */
uint64_t sim_clock(void);

/*
 * One report line on stdout, newline added. Lines that are not
 * `important` are suppressed by --quiet; failures and the summary are
 * important. Each line is flushed whole (stdout is line-buffered).
 */
void sim_say(int important, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* As sim_say(), prefixed with "device <index> ". */
void sim_dev_say(const sim_device *d, int important, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The device's UUID: the base with index added to its last 48 bits. */
void sim_device_uuid(const sim_device *d, uint8_t uuid[MPS_APF_UUID_LEN]);
/* Its FQDN from the --fqdn template into out[SIM_FQDN_MAX]. */
void sim_device_fqdn(const sim_device *d, char out[SIM_FQDN_MAX]);

/* --misbehave names: the mode's name, and parsing (-1 if unknown). */
const char *sim_misbehave_name(sim_misbehave mode);
int sim_misbehave_parse(const char *name);

/* A short token naming an apr_status_t from the codec ("too-large"). */
const char *sim_status_token(apr_status_t rv);

/* Current and peak resident set size in KiB (0 if unknown). */
void sim_rss_kb(unsigned long *cur, unsigned long *peak);

/* Timer heap: one entry per device, keyed by its earliest deadline. */
int sim_heap_init(uint32_t capacity);
void sim_heap_set(sim_device *d, uint64_t when);	/* 0 removes */
sim_device *sim_heap_top(void);			/* NULL when empty */
void sim_heap_free(void);

/* epoll registration of an io: sets io->events; 0 removes. -1 on error. */
int sim_io_set(sim_io *io, uint32_t events);

/* ---- sim_stream.c ---- */

void sim_stream_init(sim_stream *st, uint64_t seed);
/* The next n bytes of the stream into p. */
void sim_stream_fill(sim_stream *st, uint8_t *p, size_t n);

/* ---- sim_tls.c ---- */

/* The client context for sim_opt.tls; NULL with err filled on failure. */
SSL_CTX *sim_tls_ctx_new(char *err, size_t errsize);
/* After the handshake: the --insecure --server-name check. 0 = pass. */
int sim_tls_check_name(SSL *ssl, char *err, size_t errsize);
/* The first OpenSSL error as a token without spaces, into buf. */
const char *sim_tls_error_token(char *buf, size_t size);

/* ---- sim_device.c ---- */

void sim_device_init(sim_device *d, uint32_t slot);
void sim_device_start(sim_device *d);
void sim_device_on_io(sim_device *d, uint32_t events);
void sim_device_on_timer(sim_device *d);
/* SIGTERM / --duration: DISCONNECT 11, flush, close. */
void sim_device_shutdown(sim_device *d);
/* Output was queued (by the relay): make sure it gets written. */
void sim_device_kick(sim_device *d);
/* Bytes of output the device will still take before its high water. */
size_t sim_device_out_room(const sim_device *d);
/* The peer broke APF: report, DISCONNECT 2, close. */
void sim_device_protocol_error(sim_device *d, const char *what);
/* Device moves to DS_REJECT_WAIT after a misbehaviour (relay: overrun). */
void sim_device_misbehaved(sim_device *d, const char *detail);
/* The MPS broke a promise it must keep (an answer that never came):
 * report `what` (a static token: it is also the final line's error=),
 * count the device as failed and close it. */
void sim_device_fail(sim_device *d, const char *what);
/* The device's end of its MPS connection as text (the originator of
 * what it sends): 0, or -1 with "0.0.0.0" and port 0. */
int sim_device_local_addr(const sim_device *d, char *addr, size_t size,
    uint32_t *port);
/*
 * Checks the result of an mps_apf_encode_*() into d->out: on success
 * traces the message (--verbose) and returns 0; on failure (out of
 * memory, the queue at its cap) reports it, closes the device and
 * returns -1.
 */
int sim_device_queued(sim_device *d, apr_status_t rv, unsigned type);

/* ---- sim_relay.c ---- */

/* CHANNEL_OPEN, _DATA, _WINDOW_ADJUST, _CLOSE (and the confirmations,
 * which the MPS must never send us). */
void sim_relay_on_message(sim_device *d, const mps_apf_msg_t *m);
void sim_relay_on_io(sim_io *io, uint32_t events);
/* The device's output has room again: let its channels read. */
void sim_relay_resume(sim_device *d);
/* The device is going away: close every target, free every channel. */
void sim_relay_abort_all(sim_device *d);
/* Earliest channel deadline of the device (0 = none), and expiry. */
uint64_t sim_relay_next_deadline(const sim_device *d);
void sim_relay_on_timer(sim_device *d);
/* Frees the channels that died during the last batch of events. */
void sim_relay_reap(void);
/* --direct: opens a direct-tcpip channel to a->host:a->port that sends
 * a's bytes once confirmed; k is a's position (for --direct-save). */
void sim_relay_open_direct(sim_device *d, const sim_action *a, unsigned k);

/* ---- sim_action.c ---- */

/*
 * Parses a --pet or --direct value HOST:PORT:FILE (HOST may be [v6]) and
 * reads FILE, at most max bytes. Returns NULL, or a message with one %s
 * for the value (for the usage error).
 */
const char *sim_action_parse(sim_action *a, const char *arg, size_t max);
/* Frees the files' bytes (at exit). */
void sim_actions_free(void);
/* Whether any action is configured. */
int sim_actions_wanted(void);
/* The device became ready: schedule its actions (or run them now). */
void sim_actions_schedule(sim_device *d);
/* The action time came (from the device's timer). */
void sim_actions_on_timer(sim_device *d);
/* The device's output has room again: queue the PETs still to send. */
void sim_actions_resume(sim_device *d);
/* A direct channel was refused or is done: the next one may go. */
void sim_actions_direct_ended(sim_device *d);
/* A REQUEST_SUCCESS/FAILURE while PET replies are awaited; returns 0 if
 * it was one (handled), -1 if the device has no PET reply pending. */
int sim_actions_on_reply(sim_device *d, const mps_apf_msg_t *m);

#endif /* SIM_H */
