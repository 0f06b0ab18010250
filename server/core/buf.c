/* SPDX-License-Identifier: Apache-2.0 */
/*
 * buf.c: the bounds-checked byte buffer (see buf.h for the contracts).
 *
 * Invariants, checked by the tests rather than at run time:
 *   off <= size <= alloc <= max_size        for a writer with storage
 *   d == NULL  =>  off == size == alloc == 0 for a writer
 *   off <= size, d == NULL, alloc == 0      for a view
 * Every length comparison below is written as "n > room" with room
 * computed from these invariants, so no addition can overflow.
 */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mps_status.h"

/* mps_buf_ptr() of an empty buffer: never NULL, so callers may pass it
 * to memcpy()/write() with a length of 0 without undefined behaviour. */
static const uint8_t empty_byte[1];

/*
 * memset through a volatile pointer: the compiler cannot prove the stores
 * dead and drop them before free(), which it may do for plain memset.
 */
static void *(*const volatile wipe_fn)(void *, int, size_t) = memset;

static void
wipe_free(uint8_t *p, size_t n)
{
	if (p == NULL)
		return;
	wipe_fn(p, 0, n);
	free(p);
}

static size_t
live(const mps_buf_t *b)
{
	return b->size - b->off;
}

void
mps_buf_init(mps_buf_t *b, size_t max_size)
{
	memset(b, 0, sizeof(*b));
	b->cd = NULL;
	b->d = NULL;
	b->max_size = max_size;
}

void
mps_buf_view(mps_buf_t *b, const void *data, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->cd = data != NULL ? data : empty_byte;
	b->d = NULL;
	b->size = data != NULL ? len : 0;
	b->readonly = 1;
}

void
mps_buf_free(mps_buf_t *b)
{
	if (b->readonly) {
		b->off = b->size;
		return;
	}
	wipe_free(b->d, b->alloc);
	b->cd = NULL;
	b->d = NULL;
	b->off = b->size = b->alloc = 0;
}

/*
 * Moves the contents into fresh storage of new_alloc bytes (>= live), or
 * frees the storage when new_alloc is 0 (only when empty). A fresh block
 * rather than realloc(): realloc copies the dead prefix too, and may
 * leave an unwiped copy of the old bytes in freed memory.
 */
static apr_status_t
relocate(mps_buf_t *b, size_t new_alloc)
{
	uint8_t *nd = NULL;
	size_t n = live(b);

	if (new_alloc != 0) {
		if ((nd = malloc(new_alloc)) == NULL)
			return APR_ENOMEM;
		if (n != 0)
			memcpy(nd, b->d + b->off, n);
	}
	wipe_free(b->d, b->alloc);
	b->d = nd;
	b->cd = nd;
	b->alloc = new_alloc;
	b->off = 0;
	b->size = n;
	return APR_SUCCESS;
}

/* Slides the contents to the start of the storage. */
static void
compact(mps_buf_t *b)
{
	size_t n = live(b);

	if (b->off == 0)
		return;
	if (n != 0)
		memmove(b->d, b->d + b->off, n);
	b->off = 0;
	b->size = n;
}

apr_status_t
mps_buf_set_max_size(mps_buf_t *b, size_t max_size)
{
	apr_status_t rv;

	if (b->readonly)
		return APR_EINVAL;
	if (live(b) > max_size)
		return MPS_ERR_TOO_LARGE;
	if (b->alloc > max_size) {
		rv = relocate(b, live(b) == 0 ? 0 : max_size);
		if (rv != APR_SUCCESS)
			return rv;
	}
	b->max_size = max_size;
	return APR_SUCCESS;
}

size_t
mps_buf_len(const mps_buf_t *b)
{
	return live(b);
}

const uint8_t *
mps_buf_ptr(const mps_buf_t *b)
{
	return b->cd != NULL ? b->cd + b->off : empty_byte;
}

size_t
mps_buf_avail(const mps_buf_t *b)
{
	if (b->readonly)
		return 0;
	return b->max_size - live(b);
}

size_t
mps_buf_max_size(const mps_buf_t *b)
{
	return b->readonly ? 0 : b->max_size;
}

size_t
mps_buf_alloc_size(const mps_buf_t *b)
{
	return b->alloc;
}

apr_status_t
mps_buf_consume(mps_buf_t *b, size_t n)
{
	if (n > live(b))
		return MPS_NEED_MORE;
	b->off += n;
	if (b->readonly || b->off != b->size)
		return APR_SUCCESS;
	/* Empty: the next append starts at the front, no memmove needed. */
	b->off = b->size = 0;
	if (b->alloc > MPS_BUF_KEEP_MAX && b->alloc > b->keep)
		(void)relocate(b, 0);	/* freeing cannot fail */
	return APR_SUCCESS;
}

int
mps_buf_send(mps_buf_t *b, int fd, size_t *sent)
{
	while (live(b) > 0) {
		ssize_t n = send(fd, mps_buf_ptr(b), live(b), MSG_NOSIGNAL);

		if (n > 0) {
			(void)mps_buf_consume(b, (size_t)n);
			*sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1;
	}
	return 0;
}

void
mps_buf_set_keep(mps_buf_t *b, size_t keep)
{
	if (b->readonly)
		return;
	b->keep = keep;
	if (keep == 0)
		mps_buf_trim(b);
}

void
mps_buf_trim(mps_buf_t *b)
{
	if (b->readonly || live(b) != 0 || b->alloc <= MPS_BUF_KEEP_MAX)
		return;
	b->off = b->size = 0;
	(void)relocate(b, 0);	/* freeing cannot fail */
}

void
mps_buf_reset(mps_buf_t *b)
{
	(void)mps_buf_consume(b, live(b));
}

apr_status_t
mps_buf_truncate(mps_buf_t *b, size_t len)
{
	if (len > live(b))
		return APR_EINVAL;
	b->size = b->off + len;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_end(const mps_buf_t *b)
{
	return live(b) != 0 ? MPS_ERR_TRAILING_DATA : APR_SUCCESS;
}

/*
 * Hands out the next n bytes and advances the read offset, or fails with
 * MPS_NEED_MORE touching nothing. Unlike mps_buf_consume() it never frees
 * storage: pointers from earlier gets must survive the rest of a parse.
 */
static apr_status_t
take(mps_buf_t *b, size_t n, const uint8_t **p)
{
	if (n > live(b)) {
		*p = NULL;
		return MPS_NEED_MORE;
	}
	*p = b->cd + b->off;
	b->off += n;
	return APR_SUCCESS;
}

/* The bytes at offset .. offset + n past the read position, or NULL. */
static const uint8_t *
at(const mps_buf_t *b, size_t offset, size_t n)
{
	size_t len = live(b);

	if (offset > len || n > len - offset)
		return NULL;
	return b->cd + b->off + offset;
}

static uint16_t
load_u16(const uint8_t *p)
{
	return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

static uint32_t
load_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

apr_status_t
mps_buf_get_u8(mps_buf_t *b, uint8_t *v)
{
	const uint8_t *p;
	apr_status_t rv;

	*v = 0;
	if ((rv = take(b, 1, &p)) != APR_SUCCESS)
		return rv;
	*v = p[0];
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_u16(mps_buf_t *b, uint16_t *v)
{
	const uint8_t *p;
	apr_status_t rv;

	*v = 0;
	if ((rv = take(b, 2, &p)) != APR_SUCCESS)
		return rv;
	*v = load_u16(p);
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_u32(mps_buf_t *b, uint32_t *v)
{
	const uint8_t *p;
	apr_status_t rv;

	*v = 0;
	if ((rv = take(b, 4, &p)) != APR_SUCCESS)
		return rv;
	*v = load_u32(p);
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_bool(mps_buf_t *b, int *v)
{
	uint8_t u;
	apr_status_t rv;

	*v = 0;
	if ((rv = mps_buf_get_u8(b, &u)) != APR_SUCCESS)
		return rv;
	*v = u != 0;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_bytes(mps_buf_t *b, void *out, size_t n)
{
	const uint8_t *p;
	apr_status_t rv;

	if ((rv = take(b, n, &p)) != APR_SUCCESS) {
		if (n != 0)
			memset(out, 0, n);
		return rv;
	}
	if (n != 0)
		memcpy(out, p, n);
	return APR_SUCCESS;
}

/*
 * Checks a string field without consuming it: the length prefix must be
 * readable, within max, and followed by that many bytes. The cap is
 * tested before the presence of the bytes so that a hostile length is
 * refused at once instead of making the caller buffer up to it.
 */
static apr_status_t
check_string(const mps_buf_t *b, size_t max, size_t *len)
{
	const uint8_t *p;
	uint32_t n;

	*len = 0;
	if ((p = at(b, 0, 4)) == NULL)
		return MPS_NEED_MORE;
	n = load_u32(p);
	if (n > max)
		return MPS_ERR_TOO_LARGE;
	if (at(b, 4, n) == NULL)
		return MPS_NEED_MORE;
	*len = n;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_string_direct(mps_buf_t *b, const uint8_t **p, size_t *len,
    size_t max)
{
	const uint8_t *s;
	size_t n;
	apr_status_t rv;

	if (p != NULL)
		*p = NULL;
	if (len != NULL)
		*len = 0;
	if ((rv = check_string(b, max, &n)) != APR_SUCCESS)
		return rv;
	b->off += 4;
	s = b->cd + b->off;
	b->off += n;
	if (p != NULL)
		*p = s;
	if (len != NULL)
		*len = n;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_cstring(mps_buf_t *b, char *out, size_t outsize, size_t *len)
{
	const uint8_t *s;
	size_t n;
	apr_status_t rv;

	if (len != NULL)
		*len = 0;
	if (outsize == 0)
		return APR_EINVAL;
	memset(out, 0, outsize);
	if ((rv = check_string(b, outsize - 1, &n)) != APR_SUCCESS)
		return rv;
	s = b->cd + b->off + 4;
	if (n != 0 && memchr(s, '\0', n) != NULL)
		return MPS_ERR_MALFORMED;
	if (n != 0)
		memcpy(out, s, n);
	out[n] = '\0';
	b->off += 4 + n;
	if (len != NULL)
		*len = n;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_view(mps_buf_t *b, size_t n, mps_buf_t *child)
{
	const uint8_t *p;
	apr_status_t rv;

	if ((rv = take(b, n, &p)) != APR_SUCCESS) {
		mps_buf_view(child, NULL, 0);
		return rv;
	}
	mps_buf_view(child, p, n);
	return APR_SUCCESS;
}

apr_status_t
mps_buf_peek_u8(const mps_buf_t *b, size_t offset, uint8_t *v)
{
	const uint8_t *p;

	*v = 0;
	if ((p = at(b, offset, 1)) == NULL)
		return MPS_NEED_MORE;
	*v = p[0];
	return APR_SUCCESS;
}

apr_status_t
mps_buf_peek_u16(const mps_buf_t *b, size_t offset, uint16_t *v)
{
	const uint8_t *p;

	*v = 0;
	if ((p = at(b, offset, 2)) == NULL)
		return MPS_NEED_MORE;
	*v = load_u16(p);
	return APR_SUCCESS;
}

apr_status_t
mps_buf_peek_u32(const mps_buf_t *b, size_t offset, uint32_t *v)
{
	const uint8_t *p;

	*v = 0;
	if ((p = at(b, offset, 4)) == NULL)
		return MPS_NEED_MORE;
	*v = load_u32(p);
	return APR_SUCCESS;
}

/*
 * Storage for need live bytes: at least double the current block (so
 * growth is amortized O(1)), at least MPS_BUF_MIN_ALLOC, at most
 * max_size. need <= max_size is already established by the caller.
 */
static size_t
grown_size(const mps_buf_t *b, size_t need)
{
	size_t n;

	if (b->alloc > b->max_size / 2)
		n = b->max_size;	/* doubling would pass the cap */
	else
		n = b->alloc * 2;
	if (n < need)
		n = need;
	if (n < MPS_BUF_MIN_ALLOC)
		n = MPS_BUF_MIN_ALLOC;
	if (n > b->max_size)
		n = b->max_size;
	return n;
}

apr_status_t
mps_buf_reserve(mps_buf_t *b, size_t n, uint8_t **tail)
{
	size_t len = live(b), want;
	apr_status_t rv;

	if (tail != NULL)
		*tail = NULL;
	if (b->readonly)
		return APR_EINVAL;
	if (n > b->max_size - len)
		return MPS_ERR_TOO_LARGE;
	if (len == 0)
		b->off = b->size = 0;	/* free rewind, no bytes to move */
	if (n > b->alloc - b->size) {
		want = grown_size(b, len + n);
		/*
		 * Slide instead of growing when the dead prefix is at least
		 * as large as what must move (each byte moved was paid for
		 * by a byte consumed), or when the block cannot grow.
		 */
		if (n <= b->alloc - len && (b->off >= len || want <= b->alloc))
			compact(b);
		else if ((rv = relocate(b, want)) != APR_SUCCESS)
			return rv;
	}
	if (tail != NULL && b->d != NULL)
		*tail = b->d + b->size;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_commit(mps_buf_t *b, size_t n)
{
	if (b->readonly || n > b->alloc - b->size)
		return APR_EINVAL;
	b->size += n;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_put(mps_buf_t *b, const void *p, size_t n)
{
	uint8_t *t;
	apr_status_t rv;

	if ((rv = mps_buf_reserve(b, n, &t)) != APR_SUCCESS)
		return rv;
	if (n != 0) {
		memcpy(t, p, n);
		b->size += n;
	}
	return APR_SUCCESS;
}

apr_status_t
mps_buf_put_u8(mps_buf_t *b, uint8_t v)
{
	return mps_buf_put(b, &v, 1);
}

apr_status_t
mps_buf_put_u16(mps_buf_t *b, uint16_t v)
{
	uint8_t p[2];

	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return mps_buf_put(b, p, sizeof(p));
}

static void
store_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

apr_status_t
mps_buf_put_u32(mps_buf_t *b, uint32_t v)
{
	uint8_t p[4];

	store_u32(p, v);
	return mps_buf_put(b, p, sizeof(p));
}

apr_status_t
mps_buf_put_bool(mps_buf_t *b, int v)
{
	return mps_buf_put_u8(b, v != 0 ? 1 : 0);
}

apr_status_t
mps_buf_put_string(mps_buf_t *b, const void *p, size_t n)
{
	uint8_t *t;
	apr_status_t rv;

	if (n > UINT32_MAX)
		return MPS_ERR_TOO_LARGE;
	/* One reservation for prefix and bytes: all or nothing. */
	if (n > SIZE_MAX - 4)
		return MPS_ERR_TOO_LARGE;
	if ((rv = mps_buf_reserve(b, 4 + n, &t)) != APR_SUCCESS)
		return rv;
	store_u32(t, (uint32_t)n);
	if (n != 0)
		memcpy(t + 4, p, n);
	b->size += 4 + n;
	return APR_SUCCESS;
}

/* ---- Lines ---- */

void
mps_buf_line_init(mps_buf_line_t *lr, size_t max, unsigned flags)
{
	memset(lr, 0, sizeof(*lr));
	lr->max = max;
	lr->flags = flags;
	lr->fault = MPS_BUF_LINE_OK;
}

static apr_status_t
line_status(mps_buf_line_fault_t fault)
{
	return fault == MPS_BUF_LINE_TOO_LONG ? MPS_ERR_TOO_LARGE :
	    MPS_ERR_MALFORMED;
}

static apr_status_t
line_fail(mps_buf_line_t *lr, mps_buf_line_fault_t fault)
{
	lr->fault = fault;
	return line_status(fault);
}

/*
 * Classifies the next part of the current line in p[0 .. n), n >= 1:
 * what it is and how many bytes it takes. Updates lr as if they were
 * taken; on failure lr records the fault and nothing counts as taken.
 */
static apr_status_t
line_scan(mps_buf_line_t *lr, const uint8_t *p, size_t n,
    mps_buf_line_part_t *part, size_t *took)
{
	size_t room, k;

	*took = 0;
	*part = MPS_BUF_LINE_NONE;
	if (lr->cr) {
		if (p[0] != '\n')
			return line_fail(lr, MPS_BUF_LINE_LONE_CR);
		lr->cr = 0;
		lr->len = 0;
		*part = MPS_BUF_LINE_LF;
		*took = 1;
		return APR_SUCCESS;
	}
	if (p[0] == '\r') {
		lr->cr = 1;
		*part = MPS_BUF_LINE_CR;
		*took = 1;
		return APR_SUCCESS;
	}
	if (p[0] == '\n') {
		if (!(lr->flags & MPS_BUF_LINE_BARE_LF))
			return line_fail(lr, MPS_BUF_LINE_LONE_LF);
		lr->len = 0;
		*part = MPS_BUF_LINE_LF;
		*took = 1;
		return APR_SUCCESS;
	}
	/* Content: up to the next CR or LF, and never past max. */
	room = lr->max - lr->len;
	if (room == 0)
		return line_fail(lr, MPS_BUF_LINE_TOO_LONG);
	if (n > room)
		n = room;
	for (k = 1; k < n && p[k] != '\r' && p[k] != '\n'; k++)
		;
	lr->len += k;
	*part = MPS_BUF_LINE_TEXT;
	*took = k;
	return APR_SUCCESS;
}

apr_status_t
mps_buf_get_line(mps_buf_t *b, mps_buf_line_t *lr, const uint8_t **line,
    size_t *len)
{
	size_t avail = live(b), seen, content, took;
	mps_buf_line_part_t part;
	apr_status_t rv;

	*line = NULL;
	*len = 0;
	if (lr->fault != MPS_BUF_LINE_OK)
		return line_status(lr->fault);
	/* What earlier calls looked at: the content so far and a CR. */
	seen = lr->len + (lr->cr ? 1 : 0);
	if (seen > avail)
		return APR_EINVAL;
	for (;;) {
		if (seen == avail)
			return MPS_NEED_MORE;
		content = lr->len;
		rv = line_scan(lr, b->cd + b->off + seen, avail - seen, &part,
		    &took);
		if (rv != APR_SUCCESS)
			return rv;
		seen += took;
		if (part == MPS_BUF_LINE_LF) {
			/* Like take(): only the offset moves, storage stays. */
			*line = b->cd + b->off;
			*len = content;
			b->off += seen;
			return APR_SUCCESS;
		}
	}
}

apr_status_t
mps_buf_get_line_part(mps_buf_t *b, mps_buf_line_t *lr,
    mps_buf_line_part_t *part, const uint8_t **p, size_t *n)
{
	size_t took;
	apr_status_t rv;

	*part = MPS_BUF_LINE_NONE;
	*p = NULL;
	*n = 0;
	if (lr->fault != MPS_BUF_LINE_OK)
		return line_status(lr->fault);
	if (live(b) == 0)
		return MPS_NEED_MORE;
	rv = line_scan(lr, b->cd + b->off, live(b), part, &took);
	if (rv != APR_SUCCESS)
		return rv;
	*p = b->cd + b->off;
	*n = took;
	b->off += took;
	return APR_SUCCESS;
}
