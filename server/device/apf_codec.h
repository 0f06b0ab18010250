/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apf_codec.h: the AMT Port Forwarding protocol (APF) on the wire.
 *
 * Pure functions: no I/O, no logging, no allocation when decoding, no
 * global state. The MPS session and the device simulator (tests/sim) both
 * use it, so it knows every message in both directions. The byte layouts
 * are those of /work/shared/docs/APF.md.
 *
 * APF has NO OUTER LENGTH: byte 0 is the type and the message's length
 * follows from the type and its embedded lengths. Parsing therefore runs
 * in two phases, as OpenSSH does with sshbuf:
 *
 *   1. mps_apf_frame_len() looks at the accumulated input (peeking only)
 *      and answers MPS_NEED_MORE until one complete message is present,
 *      then gives its length. Every embedded length is checked against
 *      its cap as soon as the length field itself is readable, so a
 *      hostile length is refused at once instead of being waited for.
 *   2. mps_apf_decode() parses exactly those bytes into an mps_apf_msg_t
 *      and insists that nothing is left over.
 *
 * A typical receive loop:
 *
 *	while ((rv = mps_apf_frame_len(mps_buf_ptr(in), mps_buf_len(in),
 *	    window, &n)) == APR_SUCCESS) {
 *		if ((rv = mps_apf_decode(mps_buf_ptr(in), n, &msg)) != 0)
 *			break;			-- DISCONNECT 2
 *		handle(&msg);			-- strings point into `in`
 *		mps_buf_consume(in, n);		-- msg's strings die here
 *	}
 *	if (rv != MPS_NEED_MORE)
 *		-- protocol error: DISCONNECT 2 (PROTOCOL_ERROR) and close
 *
 * Both phases are driven by ONE description of each message's layout,
 * so they cannot disagree about where a message ends.
 *
 * Errors: MPS_NEED_MORE (a prefix of a valid message), MPS_ERR_MALFORMED
 * (unknown type, unknown global request name, unknown user
 * authentication method), MPS_ERR_TOO_LARGE (a string or data length over
 * its cap), MPS_ERR_TRAILING_DATA (decode only: bytes after the message).
 * All but MPS_NEED_MORE are protocol errors.
 *
 * Not the codec's business (left to the session, which sees the fields):
 * the protocol major version, which message types are allowed in which
 * phase and direction, the service and channel-type names, channel ids
 * and windows.
 *
 * Thread-safety: every function is reentrant.
 */
#ifndef MPS_APF_CODEC_H
#define MPS_APF_CODEC_H

#include <apr_errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/* ---- Message types ---- */
enum {
	MPS_APF_PAD = 0,	/* not APF: a stray 0 byte, see MPS_APF_F_PAD */
	MPS_APF_DISCONNECT = 1,
	MPS_APF_SERVICE_REQUEST = 5,
	MPS_APF_SERVICE_ACCEPT = 6,
	MPS_APF_USERAUTH_REQUEST = 50,
	MPS_APF_USERAUTH_FAILURE = 51,
	MPS_APF_USERAUTH_SUCCESS = 52,
	MPS_APF_GLOBAL_REQUEST = 80,
	MPS_APF_REQUEST_SUCCESS = 81,
	MPS_APF_REQUEST_FAILURE = 82,
	MPS_APF_CHANNEL_OPEN = 90,
	MPS_APF_CHANNEL_OPEN_CONFIRMATION = 91,
	MPS_APF_CHANNEL_OPEN_FAILURE = 92,
	MPS_APF_CHANNEL_WINDOW_ADJUST = 93,
	MPS_APF_CHANNEL_DATA = 94,
	MPS_APF_CHANNEL_CLOSE = 97,
	MPS_APF_PROTOCOLVERSION = 192,
	MPS_APF_KEEPALIVE_REQUEST = 208,
	MPS_APF_KEEPALIVE_REPLY = 209,
	MPS_APF_KEEPALIVE_OPTIONS_REQUEST = 210,
	MPS_APF_KEEPALIVE_OPTIONS_REPLY = 211
};

/* ---- DISCONNECT reasons ---- */
enum {
	MPS_APF_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT = 1,
	MPS_APF_DISCONNECT_PROTOCOL_ERROR = 2,
	MPS_APF_DISCONNECT_KEY_EXCHANGE_FAILED = 3,
	MPS_APF_DISCONNECT_RESERVED = 4,
	MPS_APF_DISCONNECT_MAC_ERROR = 5,
	MPS_APF_DISCONNECT_COMPRESSION_ERROR = 6,
	MPS_APF_DISCONNECT_SERVICE_NOT_AVAILABLE = 7,
	MPS_APF_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED = 8,
	MPS_APF_DISCONNECT_HOST_KEY_NOT_VERIFIABLE = 9,
	MPS_APF_DISCONNECT_CONNECTION_LOST = 10,
	MPS_APF_DISCONNECT_BY_APPLICATION = 11,
	MPS_APF_DISCONNECT_TOO_MANY_CONNECTIONS = 12,
	MPS_APF_DISCONNECT_AUTH_CANCELLED_BY_USER = 13,
	MPS_APF_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE = 14,
	MPS_APF_DISCONNECT_ILLEGAL_USER_NAME = 15,	/* also: invalid credentials */
	MPS_APF_DISCONNECT_CONNECTION_TIMED_OUT = 16,
	MPS_APF_DISCONNECT_BY_POLICY = 17,
	MPS_APF_DISCONNECT_TEMPORARILY_UNAVAILABLE = 18
};

/* ---- CHANNEL_OPEN_FAILURE reasons ---- */
enum {
	MPS_APF_OPEN_ADMINISTRATIVELY_PROHIBITED = 1,
	MPS_APF_OPEN_CONNECT_FAILED = 2,
	MPS_APF_OPEN_UNKNOWN_CHANNEL_TYPE = 3,
	MPS_APF_OPEN_RESOURCE_SHORTAGE = 4
};

/* ---- PROTOCOLVERSION trigger reasons ---- */
enum {
	MPS_APF_TRIGGER_USER_INITIATED = 1,
	MPS_APF_TRIGGER_ALERT = 2,
	MPS_APF_TRIGGER_PROVISIONING = 3,	/* HIT provisioning */
	MPS_APF_TRIGGER_PERIODIC = 4,
	MPS_APF_TRIGGER_LME = 254
};

/* ---- Names ---- */
#define MPS_APF_SERVICE_AUTH		"auth@amt.intel.com"
#define MPS_APF_SERVICE_PFWD		"pfwd@amt.intel.com"
#define MPS_APF_METHOD_PASSWORD		"password"
#define MPS_APF_METHOD_NONE		"none"
#define MPS_APF_REQ_TCPIP_FORWARD	"tcpip-forward"
#define MPS_APF_REQ_CANCEL_TCPIP_FORWARD "cancel-tcpip-forward"
#define MPS_APF_REQ_UDP_SEND_TO		"udp-send-to@amt.intel.com"
#define MPS_APF_CHAN_FORWARDED_TCPIP	"forwarded-tcpip"
#define MPS_APF_CHAN_DIRECT_TCPIP	"direct-tcpip"

/* ---- Caps and sizes ---- */

/* Every name, address, user name and password (what peers use; the Open
 * AMT MPS enforces the same). */
#define MPS_APF_MAX_STRING		2048
/* CHANNEL_DATA payload, absolute: frame_len's max_data is clamped to it. */
#define MPS_APF_MAX_DATA		(1024 * 1024)
/* udp-send-to payload: one UDP datagram. */
#define MPS_APF_MAX_UDP_PAYLOAD		65535

#define MPS_APF_UUID_LEN		16
#define MPS_APF_UUID_TEXT_SIZE		37	/* 36 characters + NUL */
#define MPS_APF_PROTOCOLVERSION_LEN	93
#define MPS_APF_PROTOCOLVERSION_RESERVED 64
/* type, u32 recipient, u32 data length: what precedes CHANNEL_DATA's bytes */
#define MPS_APF_CHANNEL_DATA_HDR_LEN	9

/*
 * The longest message frame_len() can accept: a CHANNEL_DATA with
 * MPS_APF_MAX_DATA bytes (every other message is far shorter; the
 * longest, udp-send-to, is under 72 KiB). An input buffer needs at least
 * this max_size only if the advertised window is that large; in general
 * MPS_APF_CHANNEL_DATA_HDR_LEN + window, and at least
 * MPS_APF_MAX_CONTROL_LEN.
 */
#define MPS_APF_MAX_MSG_LEN	(MPS_APF_CHANNEL_DATA_HDR_LEN + MPS_APF_MAX_DATA)
/* The longest message other than CHANNEL_DATA: a udp-send-to request
 * with both addresses and the payload at their caps (69682 bytes). */
#define MPS_APF_MAX_CONTROL_LEN \
	(1 + 4 + (sizeof(MPS_APF_REQ_UDP_SEND_TO) - 1) + 1 + \
	 2 * (4 + MPS_APF_MAX_STRING + 4) + 4 + MPS_APF_MAX_UDP_PAYLOAD)

/* ---- Parse flags (the simulator's side; the MPS passes 0) ---- */

/*
 * Accept a lone 0x00 byte as a one-byte MPS_APF_PAD message. The Open AMT
 * MPS sends USERAUTH_FAILURE with an extra 0 byte (15 bytes instead of
 * 14). Without an outer length the parser cannot know to expect it (and
 * must not wait for a byte that may never come), so in this mode the
 * extra byte simply frames as a message of its own, which the simulator
 * ignores. Type 0 is not an APF message, so this is unambiguous; the codec
 * is stateless, so a 0 byte is accepted between any two messages.
 */
#define MPS_APF_F_PAD		0x1u
/*
 * REQUEST_SUCCESS carries a u32 port (a reply to tcpip-forward, 5 bytes)
 * instead of nothing (a reply to cancel-tcpip-forward or udp-send-to,
 * 1 byte). The reply's length depends on which request it answers, which
 * only the requester knows: it tracks its pending want_reply requests in
 * order and sets this flag while the oldest is a tcpip-forward.
 * mps_apf_decode() needs no flag: it tells the two by the length.
 */
#define MPS_APF_F_SUCCESS_PORT	0x2u

/* ---- Decoded messages ---- */

/* Bytes inside the input: NOT NUL-terminated; print with "%.*s". */
typedef struct mps_apf_str_t {
	const char *ptr;	/* never NULL after a successful decode */
	size_t len;
} mps_apf_str_t;

/* Classification of a GLOBAL_REQUEST name (it decides the layout). */
typedef enum {
	MPS_APF_GREQ_UNKNOWN = 0,
	MPS_APF_GREQ_TCPIP_FORWARD,
	MPS_APF_GREQ_CANCEL_TCPIP_FORWARD,
	MPS_APF_GREQ_UDP_SEND_TO
} mps_apf_greq_t;

/* Classification of a USERAUTH_REQUEST method (it decides the layout). */
typedef enum {
	MPS_APF_AUTH_UNKNOWN = 0,
	MPS_APF_AUTH_PASSWORD,
	MPS_APF_AUTH_NONE
} mps_apf_auth_method_t;

/*
 * One message. `type` says which union member is set. Every field of the
 * wire is present, reserved ones included (raw, not checked), so that
 * encoding a decoded message gives back the same bytes. One-byte flags
 * are raw too: test them as "non-zero means true".
 *
 * LIFETIME: every mps_apf_str_t points into the bytes given to
 * mps_apf_decode() and is valid exactly as long as those bytes are (for
 * the session: until the message is consumed from the input buffer).
 * Copy what must outlive the message.
 */
typedef struct mps_apf_msg_t {
	uint8_t type;
	union {
		struct {
			uint32_t reason;
			uint16_t reserved;		/* 0 */
		} disconnect;
		struct {
			mps_apf_str_t service;
		} service;	/* SERVICE_REQUEST and SERVICE_ACCEPT */
		struct {
			mps_apf_str_t user;
			mps_apf_str_t service;
			mps_apf_str_t method;
			mps_apf_auth_method_t kind;	/* from method */
			uint8_t change;			/* password only; 0 */
			mps_apf_str_t password;		/* password only */
		} userauth_request;
		struct {
			mps_apf_str_t methods;
			uint8_t partial;		/* 0 */
		} userauth_failure;
		struct {
			mps_apf_str_t name;
			mps_apf_greq_t kind;		/* from name */
			uint8_t want_reply;
			/* tcpip-forward / cancel-tcpip-forward */
			mps_apf_str_t address;
			uint32_t port;
			/* udp-send-to@amt.intel.com */
			mps_apf_str_t dest_addr;
			uint32_t dest_port;
			mps_apf_str_t orig_addr;
			uint32_t orig_port;
			mps_apf_str_t payload;
		} global_request;
		struct {
			int has_port;			/* 5-byte form */
			uint32_t port;
		} request_success;
		struct {
			mps_apf_str_t type;
			uint32_t sender;
			uint32_t window;
			uint32_t reserved;		/* 0xFFFFFFFF */
			mps_apf_str_t connected_addr;
			uint32_t connected_port;
			mps_apf_str_t originator_addr;
			uint32_t originator_port;
		} channel_open;
		struct {
			uint32_t recipient;
			uint32_t sender;
			uint32_t window;
			uint32_t reserved;		/* 0xFFFFFFFF */
		} channel_open_confirmation;
		struct {
			uint32_t recipient;
			uint32_t reason;
			uint32_t reserved1;		/* 0 */
			uint32_t reserved2;		/* 0 */
		} channel_open_failure;
		struct {
			uint32_t recipient;
			uint32_t bytes_to_add;
		} window_adjust;
		struct {
			uint32_t recipient;
			mps_apf_str_t data;
		} channel_data;
		struct {
			uint32_t recipient;
		} channel_close;
		struct {
			uint32_t major;
			uint32_t minor;
			uint32_t trigger;
			uint8_t uuid[MPS_APF_UUID_LEN];	/* raw wire order */
			/* 64 bytes inside the input; NULL encodes as zeros */
			const uint8_t *reserved;
		} protocolversion;
		struct {
			uint32_t cookie;
		} keepalive;	/* KEEPALIVE_REQUEST and KEEPALIVE_REPLY */
		struct {
			uint32_t interval;		/* seconds */
			uint32_t timeout;		/* seconds */
		} keepalive_options;	/* KEEPALIVE_OPTIONS_REQUEST and _REPLY */
	} u;
} mps_apf_msg_t;

/* ---- Decoding ---- */

/*
 * Phase 1. Looks at p[0 .. n) (only looks) and, when it starts with one
 * complete message, sets *msg_len to that message's length and returns
 * APR_SUCCESS. MPS_NEED_MORE while it is a valid prefix (n == 0
 * included). max_data caps the CHANNEL_DATA payload (the window we
 * advertised; values over MPS_APF_MAX_DATA are clamped to it): a larger
 * length field is MPS_ERR_TOO_LARGE at once. *msg_len is 0 on failure.
 * Strict: for the MPS side.
 */
apr_status_t mps_apf_frame_len(const uint8_t *p, size_t n, size_t max_data,
    size_t *msg_len);

/* As mps_apf_frame_len(), with MPS_APF_F_* flags (the simulator's side). */
apr_status_t mps_apf_frame_len_ex(const uint8_t *p, size_t n,
    size_t max_data, unsigned flags, size_t *msg_len);

/*
 * Phase 2. Parses p[0 .. len), which must be exactly one message (len as
 * given by frame_len), into *out; strings point into p (see LIFETIME
 * above). CHANNEL_DATA is capped at MPS_APF_MAX_DATA here (frame_len
 * applied the caller's tighter cap). Strict: bytes left after the
 * message are MPS_ERR_TRAILING_DATA (so a 15-byte USERAUTH_FAILURE is
 * refused, DISCONNECT must have its u16), a short input MPS_NEED_MORE.
 * *out is zeroed on failure. Safe on any input (fuzzing target).
 */
apr_status_t mps_apf_decode(const uint8_t *p, size_t len, mps_apf_msg_t *out);

/* As mps_apf_decode(), with MPS_APF_F_PAD honoured (other flags are not
 * needed: decode knows the length). */
apr_status_t mps_apf_decode_ex(const uint8_t *p, size_t len, unsigned flags,
    mps_apf_msg_t *out);

/* The message's name for logs ("CHANNEL_DATA"), or NULL if unknown. */
const char *mps_apf_msg_name(unsigned type);

/* Classifiers used by the codec, exported for the session. */
mps_apf_greq_t mps_apf_greq_kind(mps_apf_str_t name);
mps_apf_auth_method_t mps_apf_auth_method_kind(mps_apf_str_t method);

/* ---- Strings ---- */

/* A string from a NUL-terminated C string (NULL gives an empty one). */
static inline mps_apf_str_t
mps_apf_cstr(const char *s)
{
	mps_apf_str_t r;

	r.ptr = s != NULL ? s : "";
	r.len = s != NULL ? strlen(s) : 0;
	return r;
}

/* A string from bytes and a length. */
static inline mps_apf_str_t
mps_apf_strn(const void *p, size_t len)
{
	mps_apf_str_t r;

	r.ptr = p != NULL ? (const char *)p : "";
	r.len = p != NULL ? len : 0;
	return r;
}

/* True if s is exactly the C string lit (byte for byte, case-sensitive). */
int mps_apf_str_eq(mps_apf_str_t s, const char *lit);

/* ---- UUID ---- */

/*
 * Text form of the PROTOCOLVERSION UUID: a mixed-endian (SMBIOS) GUID,
 * the first three groups byte-swapped, lower case. Raw 78 56 34 12 bc 9a
 * f0 de 12 34 56 78 9a bc de f0 is "12345678-9abc-def0-1234-56789abcdef0".
 */
void mps_apf_uuid_to_text(const uint8_t uuid[MPS_APF_UUID_LEN],
    char out[MPS_APF_UUID_TEXT_SIZE]);

/* The inverse: 36 characters, hex digits of either case and dashes in
 * their places, else MPS_ERR_MALFORMED (uuid zeroed). */
apr_status_t mps_apf_uuid_from_text(const char *text,
    uint8_t uuid[MPS_APF_UUID_LEN]);

/* ---- Encoding ---- */

/*
 * Every encoder appends one whole message to the writer b and returns
 * APR_SUCCESS, or appends nothing and returns: MPS_ERR_TOO_LARGE for a
 * string over MPS_APF_MAX_STRING, data over MPS_APF_MAX_DATA, a UDP
 * payload over MPS_APF_MAX_UDP_PAYLOAD or a buffer over its max_size;
 * MPS_ERR_MALFORMED for what the decoder would refuse (an unknown type,
 * global request name or authentication method); APR_ENOMEM; APR_EINVAL
 * for a view. Whatever an encoder produces, mps_apf_decode() accepts and
 * gives back field for field (the tests check this).
 */

/* Any decoded (or hand-built) message. Reserved fields are written as
 * given; for REQUEST_SUCCESS, has_port selects the 5-byte form. */
apr_status_t mps_apf_encode(mps_buf_t *b, const mps_apf_msg_t *msg);

/* Both directions. */
apr_status_t mps_apf_encode_disconnect(mps_buf_t *b, uint32_t reason);
apr_status_t mps_apf_encode_channel_open(mps_buf_t *b, mps_apf_str_t type,
    uint32_t sender, uint32_t window, mps_apf_str_t connected_addr,
    uint32_t connected_port, mps_apf_str_t originator_addr,
    uint32_t originator_port);
apr_status_t mps_apf_encode_channel_open_confirmation(mps_buf_t *b,
    uint32_t recipient, uint32_t sender, uint32_t window);
apr_status_t mps_apf_encode_channel_open_failure(mps_buf_t *b,
    uint32_t recipient, uint32_t reason);
apr_status_t mps_apf_encode_window_adjust(mps_buf_t *b, uint32_t recipient,
    uint32_t bytes_to_add);
apr_status_t mps_apf_encode_channel_data(mps_buf_t *b, uint32_t recipient,
    const void *data, size_t len);
apr_status_t mps_apf_encode_channel_close(mps_buf_t *b, uint32_t recipient);
apr_status_t mps_apf_encode_keepalive_request(mps_buf_t *b, uint32_t cookie);

/*
 * CHANNEL_DATA without its payload, for zero-copy sends: append the
 * 9-byte header, then exactly len payload bytes (mps_buf_put, or
 * reserve + read + commit). The caller must append them before anything
 * else, or the stream is corrupt.
 */
apr_status_t mps_apf_encode_channel_data_header(mps_buf_t *b,
    uint32_t recipient, size_t len);
/* The same header into raw memory, for when the payload length is known
 * only after reading it into a reserved tail (reserve HDR_LEN + n, read
 * into tail + HDR_LEN, write the header at tail, commit). len must be
 * <= MPS_APF_MAX_DATA (else MPS_ERR_TOO_LARGE, out untouched). */
apr_status_t mps_apf_channel_data_header(
    uint8_t out[MPS_APF_CHANNEL_DATA_HDR_LEN], uint32_t recipient, size_t len);

/* MPS to device. */
apr_status_t mps_apf_encode_service_accept(mps_buf_t *b, mps_apf_str_t service);
apr_status_t mps_apf_encode_userauth_failure(mps_buf_t *b,
    mps_apf_str_t methods);	/* "password"; partial success 0 */
apr_status_t mps_apf_encode_userauth_success(mps_buf_t *b);
apr_status_t mps_apf_encode_request_success(mps_buf_t *b);
apr_status_t mps_apf_encode_request_success_port(mps_buf_t *b, uint32_t port);
apr_status_t mps_apf_encode_request_failure(mps_buf_t *b);
apr_status_t mps_apf_encode_keepalive_reply(mps_buf_t *b, uint32_t cookie);
apr_status_t mps_apf_encode_keepalive_options_request(mps_buf_t *b,
    uint32_t interval, uint32_t timeout);

/* Device to MPS (the simulator). */
apr_status_t mps_apf_encode_protocolversion(mps_buf_t *b, uint32_t major,
    uint32_t minor, uint32_t trigger, const uint8_t uuid[MPS_APF_UUID_LEN]);
apr_status_t mps_apf_encode_service_request(mps_buf_t *b,
    mps_apf_str_t service);
apr_status_t mps_apf_encode_userauth_request_password(mps_buf_t *b,
    mps_apf_str_t user, mps_apf_str_t service, mps_apf_str_t password);
apr_status_t mps_apf_encode_userauth_request_none(mps_buf_t *b,
    mps_apf_str_t user, mps_apf_str_t service);
apr_status_t mps_apf_encode_tcpip_forward(mps_buf_t *b, int want_reply,
    mps_apf_str_t address, uint32_t port);
apr_status_t mps_apf_encode_cancel_tcpip_forward(mps_buf_t *b,
    int want_reply, mps_apf_str_t address, uint32_t port);
apr_status_t mps_apf_encode_udp_send_to(mps_buf_t *b, int want_reply,
    mps_apf_str_t dest_addr, uint32_t dest_port, mps_apf_str_t orig_addr,
    uint32_t orig_port, mps_apf_str_t payload);
apr_status_t mps_apf_encode_keepalive_options_reply(mps_buf_t *b,
    uint32_t interval, uint32_t timeout);

#endif /* MPS_APF_CODEC_H */
