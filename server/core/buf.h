/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.h: the bounds-checked byte buffer every wire parser and writer uses.
 *
 * Modelled on OpenSSH's sshbuf. One type, two roles:
 *
 *  - A READER (a "view"): a non-owning cursor over bytes someone else
 *    owns, made by mps_buf_view() or mps_buf_get_view(). It can be read
 *    and consumed, never written or freed.
 *
 *  - A WRITER (a byte queue): owning, malloc'd storage, made by
 *    mps_buf_init(). Bytes are appended at the end (put_*, reserve and
 *    commit) and consumed from the front (get_*, consume): the session
 *    uses one to accumulate TLS input for the APF parser and one to queue
 *    output until the socket takes it. It never holds more than its
 *    max_size unconsumed bytes, and its storage never exceeds max_size.
 *
 * Contents are the unconsumed bytes: mps_buf_ptr() .. + mps_buf_len().
 *
 * Reading rules (all get_* and peek_*):
 *  - Every length is checked BEFORE any byte is read, with arithmetic
 *    that cannot overflow.
 *  - On failure the read offset is unchanged and every output is zeroed
 *    (pointers NULL, integers 0, a C-string buffer all NUL), so a failed
 *    get never leaves garbage behind.
 *  - MPS_NEED_MORE means "not enough bytes yet": the contents are a prefix
 *    of something that may still become valid. MPS_ERR_TOO_LARGE and
 *    MPS_ERR_MALFORMED mean it can never become valid (a length over its
 *    cap, a NUL inside a C string), however many bytes follow.
 *  - Integers are big-endian on the wire.
 *
 * Writing rules (put_*, reserve, commit): a put either appends all of its
 * bytes or none. Writing to a view is APR_EINVAL. Going over max_size is
 * MPS_ERR_TOO_LARGE; malloc failure is APR_ENOMEM. Either way the
 * contents are unchanged.
 *
 * Pointer lifetime: any pointer obtained from a buffer (mps_buf_ptr(),
 * get_string_direct(), a child view, the tail from reserve) is valid
 * until the next modification of that buffer: a put, reserve, commit,
 * consume, reset, truncate, set_max_size or free. Reading (get_*, peek_*)
 * is NOT a modification: get_* only moves the read offset, never moves or
 * frees storage, so pointers returned by earlier gets stay valid while
 * a message is being parsed.
 *
 * Memory: a writer allocates nothing until the first byte is added (the
 * struct is embedded in per-connection state, and idle tunnels must cost
 * little). Storage grows geometrically up to max_size. When consume (or
 * reset) empties the buffer and the storage is larger than
 * MPS_BUF_KEEP_MAX bytes, it is freed, so a burst does not pin memory on
 * an idle connection; small storage is kept to avoid malloc churn on
 * keepalive-sized traffic. Storage is wiped before it is freed or
 * replaced because the TLS input buffer carries device passwords.
 * The dead prefix left by consumption is reclaimed lazily: only when the
 * tail lacks room, and by memmove only when the dead prefix is at least
 * as large as the live data (so moves cost O(1) amortized per byte) or
 * when the storage has reached max_size.
 *
 * Not thread-safe: a buffer belongs to one strand.
 */
#ifndef MPS_BUF_H
#define MPS_BUF_H

#include <apr_errno.h>
#include <stddef.h>
#include <stdint.h>

/* Storage up to this many bytes is kept when a writer empties. */
#define MPS_BUF_KEEP_MAX	512

/* Smallest storage a writer allocates (avoids many tiny reallocations). */
#define MPS_BUF_MIN_ALLOC	64

/*
 * The fields are private: use the functions. The struct is public only so
 * that it can be embedded (no allocation for the buffer itself).
 */
typedef struct mps_buf_t {
	const uint8_t *cd;	/* contents are cd[off .. size) */
	uint8_t *d;		/* owned storage (== cd) or NULL; always NULL in a view */
	size_t off;		/* read offset: bytes before it are consumed */
	size_t size;		/* end of the contents */
	size_t alloc;		/* bytes of storage at d */
	size_t max_size;	/* cap on mps_buf_len() and on alloc */
	size_t keep;		/* storage up to this survives emptying */
	int readonly;		/* a view: never written, never freed */
} mps_buf_t;

/* ---- Setting up and tearing down ---- */

/* Makes b an empty writer holding at most max_size bytes. Allocates
 * nothing. */
void mps_buf_init(mps_buf_t *b, size_t max_size);

/* Makes b a reader over data[0 .. len). The bytes are not copied; the
 * caller keeps them alive and unchanged while b is used. data may be
 * NULL only when len is 0. */
void mps_buf_view(mps_buf_t *b, const void *data, size_t len);

/* Releases a writer's storage (wiped first) and leaves b an empty writer
 * with the same max_size, ready for reuse. On a view, empties it. */
void mps_buf_free(mps_buf_t *b);

/*
 * Changes a writer's cap. Fails with MPS_ERR_TOO_LARGE, changing nothing,
 * when the buffer already holds more than max_size bytes; storage larger
 * than the new cap is reallocated (APR_ENOMEM possible). APR_EINVAL on a
 * view. Used, e.g., to keep the pre-authentication input budget small.
 */
apr_status_t mps_buf_set_max_size(mps_buf_t *b, size_t max_size);

/*
 * Storage up to keep bytes is kept when the writer empties (beyond
 * MPS_BUF_KEEP_MAX, which is always kept): for a buffer that fills and
 * empties on every pass of a busy stream, so that it is not freed,
 * wiped, allocated and grown again each time. 0 (the default) restores
 * freeing, and frees the storage now if the buffer is empty. The owner
 * bounds how long a buffer keeps storage (mps_buf_trim() from a timer).
 */
void mps_buf_set_keep(mps_buf_t *b, size_t keep);

/* Frees an empty writer's storage beyond MPS_BUF_KEEP_MAX now, whatever
 * its keep (which stays set). */
void mps_buf_trim(mps_buf_t *b);

/* ---- State ---- */

/* Number of unconsumed bytes (the "remaining" bytes of a reader). */
size_t mps_buf_len(const mps_buf_t *b);

/* The first unconsumed byte; never NULL (points at a static empty byte
 * when there are none). Valid until the next modification. */
const uint8_t *mps_buf_ptr(const mps_buf_t *b);

/* How many more bytes a writer can take before max_size (0 for a view). */
size_t mps_buf_avail(const mps_buf_t *b);

/* The cap given to mps_buf_init()/mps_buf_set_max_size() (0 for a view). */
size_t mps_buf_max_size(const mps_buf_t *b);

/* Bytes of storage a writer currently holds (for memory accounting and
 * tests; 0 for a view). */
size_t mps_buf_alloc_size(const mps_buf_t *b);

/* ---- Consuming from the front (both roles) ---- */

/*
 * Drops the first n bytes. MPS_NEED_MORE (nothing dropped) when fewer are
 * there. On a writer, emptying resets the offsets and frees storage
 * larger than MPS_BUF_KEEP_MAX and than its keep (mps_buf_set_keep()).
 * This is also "skip" for a reader.
 */
apr_status_t mps_buf_consume(mps_buf_t *b, size_t n);

/* Drops everything (same as consuming mps_buf_len() bytes). */
void mps_buf_reset(mps_buf_t *b);

/*
 * Sends b's bytes to the non-blocking socket fd (MSG_NOSIGNAL: a peer
 * gone is an error, not a signal) until b is empty or the socket takes
 * no more, consuming what went and adding its size to *sent. 0 when b is
 * empty or the socket would block, -1 on a socket error (errno).
 */
int mps_buf_send(mps_buf_t *b, int fd, size_t *sent);

/* Drops bytes from the END so that len remain (rolling back a partly
 * written message). APR_EINVAL when len > mps_buf_len(). Never frees. */
apr_status_t mps_buf_truncate(mps_buf_t *b, size_t len);

/* MPS_ERR_TRAILING_DATA if any byte is left, else APR_SUCCESS: the last
 * call when parsing one complete message. */
apr_status_t mps_buf_get_end(const mps_buf_t *b);

/* ---- Getters: read and consume (both roles) ---- */

apr_status_t mps_buf_get_u8(mps_buf_t *b, uint8_t *v);
apr_status_t mps_buf_get_u16(mps_buf_t *b, uint16_t *v);
apr_status_t mps_buf_get_u32(mps_buf_t *b, uint32_t *v);

/* One byte; any non-zero value is true (RFC 4251 §5): *v is 0 or 1. */
apr_status_t mps_buf_get_bool(mps_buf_t *b, int *v);

/* Copies the next n bytes into out (out may be NULL only if n is 0). */
apr_status_t mps_buf_get_bytes(mps_buf_t *b, void *out, size_t n);

/*
 * A string: u32 length + that many bytes. Sets *p to the bytes inside
 * the buffer (not copied, not NUL-terminated; valid until the next
 * modification) and *len to their count. MPS_ERR_TOO_LARGE as soon as the
 * length field is readable and over max, without waiting for the bytes;
 * MPS_NEED_MORE while the length field or the bytes are incomplete.
 * p and len may each be NULL to skip the string.
 */
apr_status_t mps_buf_get_string_direct(mps_buf_t *b, const uint8_t **p,
    size_t *len, size_t max);

/*
 * A string copied into out[0 .. outsize) and NUL-terminated; the length
 * cap is outsize - 1 (MPS_ERR_TOO_LARGE above it, checked before waiting
 * for the bytes). An embedded NUL is MPS_ERR_MALFORMED (it would silently
 * truncate a name). *len (may be NULL) receives strlen(out). outsize 0 is
 * APR_EINVAL. On failure out is all NUL.
 */
apr_status_t mps_buf_get_cstring(mps_buf_t *b, char *out, size_t outsize,
    size_t *len);

/*
 * Makes child a read-only view of the next n bytes and consumes them from
 * b (sshbuf_froms without the length prefix). The child points into b's
 * storage: valid until b's next modification. On MPS_NEED_MORE the child
 * is an empty view and b is unchanged.
 */
apr_status_t mps_buf_get_view(mps_buf_t *b, size_t n, mps_buf_t *child);

/* ---- Peeking: read at offset bytes past the read position, consume
 * nothing. MPS_NEED_MORE when offset + width is beyond the contents. ---- */

apr_status_t mps_buf_peek_u8(const mps_buf_t *b, size_t offset, uint8_t *v);
apr_status_t mps_buf_peek_u16(const mps_buf_t *b, size_t offset, uint16_t *v);
apr_status_t mps_buf_peek_u32(const mps_buf_t *b, size_t offset, uint32_t *v);

/* ---- Writers: append (writer role only) ---- */

apr_status_t mps_buf_put_u8(mps_buf_t *b, uint8_t v);
apr_status_t mps_buf_put_u16(mps_buf_t *b, uint16_t v);
apr_status_t mps_buf_put_u32(mps_buf_t *b, uint32_t v);

/* One byte, 1 if v is non-zero, else 0. */
apr_status_t mps_buf_put_bool(mps_buf_t *b, int v);

/* n raw bytes (p may be NULL only if n is 0). p must not point into b. */
apr_status_t mps_buf_put(mps_buf_t *b, const void *p, size_t n);

/* u32 length + n bytes. MPS_ERR_TOO_LARGE if n does not fit a u32. */
apr_status_t mps_buf_put_string(mps_buf_t *b, const void *p, size_t n);

/*
 * Makes room for at least n bytes after the contents WITHOUT adding them,
 * and sets *tail (may be NULL) to where they go; for reading from a
 * socket straight into the buffer: reserve, read up to n bytes into
 * *tail, then commit what was read. May move the contents (pointers from
 * the buffer become invalid). *tail is NULL when n is 0 and the buffer
 * has no storage yet.
 */
apr_status_t mps_buf_reserve(mps_buf_t *b, size_t n, uint8_t **tail);

/* Adds n bytes already written at the tail from mps_buf_reserve().
 * APR_EINVAL (nothing added) if n is more than the room reserved. */
apr_status_t mps_buf_commit(mps_buf_t *b, size_t n);

/* ---- Lines (text protocols: HTTP heads and chunked framing) ----
 *
 * A line reader follows the lines of a text protocol through a buffer and
 * applies the rules every such parser needs, on every byte, before the
 * parser sees it:
 *  - a line's content (its bytes without the line end) is at most max
 *    bytes: content byte max + 1 is MPS_ERR_TOO_LARGE, at once, without
 *    waiting for the line end;
 *  - CR only as the first half of CRLF: a CR followed by anything but LF
 *    is MPS_ERR_MALFORMED at that byte (a CR inside a line is how a
 *    proxy and a server come to disagree on where a line ends);
 *  - a bare LF ends a line with MPS_BUF_LINE_BARE_LF (RFC 9112 §2.2 lets
 *    a recipient accept it), and is MPS_ERR_MALFORMED at the LF without.
 * Content bytes are handed over as they are: the reader judges line ends
 * and lengths, the parser judges the grammar.
 *
 * The state lives in an mps_buf_line_t, so that a line may arrive in
 * any number of pieces. Two ways to read with it (one per reader):
 *
 *  - mps_buf_get_line(): for a caller that keeps the bytes until the line
 *    is complete (a request head accumulating in an input buffer). It
 *    answers MPS_NEED_MORE, consuming nothing, until the line end is
 *    there, then hands out the whole line and consumes it. It resumes
 *    scanning where it stopped, so a line fed one byte at a time costs
 *    O(length) in all.
 *
 *  - mps_buf_get_line_part(): for a caller that keeps nothing (a framer
 *    that relays bytes as they stream through). Each call consumes and
 *    reports one part: a run of content bytes, the CR of a CRLF (the
 *    content is over; a parser checks here whether its line may end) or
 *    the LF that completes the line.
 *
 * Errors consume nothing, leave the read offset at the offending byte,
 * record what was wrong in lr->fault and are sticky: later calls return
 * the same error until mps_buf_line_init().
 */

/* mps_buf_line_init() flags. */
#define MPS_BUF_LINE_CRLF	0x0	/* only CRLF ends a line */
#define MPS_BUF_LINE_BARE_LF	0x1	/* a lone LF ends one too */

/* What mps_buf_get_line_part() took. */
typedef enum {
	MPS_BUF_LINE_NONE = 0,		/* nothing (after a failure) */
	MPS_BUF_LINE_TEXT,		/* content: no CR, no LF */
	MPS_BUF_LINE_CR,		/* the CR of a CRLF */
	MPS_BUF_LINE_LF			/* the LF: the line is complete */
} mps_buf_line_part_t;

/* What a line reader refused (lr->fault). */
typedef enum {
	MPS_BUF_LINE_OK = 0,
	MPS_BUF_LINE_TOO_LONG,		/* MPS_ERR_TOO_LARGE: over max */
	MPS_BUF_LINE_LONE_CR,		/* MPS_ERR_MALFORMED: CR, then no LF */
	MPS_BUF_LINE_LONE_LF		/* MPS_ERR_MALFORMED: LF without CR */
} mps_buf_line_fault_t;

/* Line reader state. The fields are read-only to callers. */
typedef struct mps_buf_line_t {
	size_t max;			/* content bytes per line */
	unsigned flags;			/* MPS_BUF_LINE_* */
	size_t len;			/* content of the current line so far */
	int cr;				/* a CR was taken: its LF comes next */
	mps_buf_line_fault_t fault;	/* after an error */
} mps_buf_line_t;

/* Makes lr ready for the first line; max may be 0 (lines must be empty). */
void mps_buf_line_init(mps_buf_line_t *lr, size_t max, unsigned flags);

/*
 * A whole line starting at b's read offset: on APR_SUCCESS *line points
 * at its content (valid until b's next modification) and *len is the
 * content's length; the line and its end are consumed. MPS_NEED_MORE:
 * no line end yet, nothing consumed; call again with the same bytes and
 * more after them (APR_EINVAL if b holds fewer bytes than lr has already
 * looked at). On any failure *line is NULL and *len 0.
 */
apr_status_t mps_buf_get_line(mps_buf_t *b, mps_buf_line_t *lr,
    const uint8_t **line, size_t *len);

/*
 * The next part of the current line, consumed: *part says what it is and
 * [*p, *p + *n) are the bytes taken (n >= 1 content bytes for TEXT, the
 * single CR or LF byte otherwise; valid until b's next modification).
 * After an LF the next call starts a new line. MPS_NEED_MORE when b is
 * empty. On any failure *part is MPS_BUF_LINE_NONE, *p NULL and *n 0.
 */
apr_status_t mps_buf_get_line_part(mps_buf_t *b, mps_buf_line_t *lr,
    mps_buf_line_part_t *part, const uint8_t **p, size_t *n);

#endif /* MPS_BUF_H */
