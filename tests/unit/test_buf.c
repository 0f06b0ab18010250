/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_buf.c: the bounds-checked buffer (server/buf.c).
 *
 * Reader: every getter's success and failure, with the rule that a failed
 * get leaves the offset where it was and zeroes its outputs; caps checked
 * before the bytes; overflow-prone lengths and offsets. Writer: growth up
 * to max_size and refusal beyond it (all or nothing), reserve/commit,
 * consume, lazy compaction, freeing when emptied. Then a randomized model
 * test (dovecot's test-buffer.c idea): thousands of random operations
 * applied to a buffer and to a plain shadow array, compared after each.
 * Lines: both ways of reading (whole lines, parts), the line cap, CR and
 * LF policy, and random text against a byte-by-byte reference.
 */
#include "unit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "mps_status.h"

static uint32_t
rng_below(uint32_t n)
{
	return n == 0 ? 0 : unit_rng() % n;
}

/* ---- Reader: getters ---- */

static const uint8_t sample[] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c', 0xff
};

START_TEST(test_view_getters)
{
	mps_buf_t b;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	int bl;
	const uint8_t *p;
	size_t n;
	uint8_t two[2];

	mps_buf_view(&b, sample, sizeof(sample));
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(sample));
	ck_assert_ptr_eq(mps_buf_ptr(&b), sample);
	ck_assert_uint_eq(mps_buf_avail(&b), 0);
	ck_assert_uint_eq(mps_buf_max_size(&b), 0);

	ck_assert_int_eq(mps_buf_get_u8(&b, &u8), APR_SUCCESS);
	ck_assert_uint_eq(u8, 0x01);
	ck_assert_int_eq(mps_buf_get_u16(&b, &u16), APR_SUCCESS);
	ck_assert_uint_eq(u16, 0x0203);
	ck_assert_int_eq(mps_buf_get_u32(&b, &u32), APR_SUCCESS);
	ck_assert_uint_eq(u32, 0x04050607);
	ck_assert_int_eq(mps_buf_get_bool(&b, &bl), APR_SUCCESS);
	ck_assert_int_eq(bl, 1);			/* 0x08 is true */
	ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n, 3), APR_SUCCESS);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(p, sample + 12);		/* no copy */
	ck_assert_int_eq(memcmp(p, "abc", 3), 0);
	ck_assert_uint_eq(mps_buf_len(&b), 1);
	ck_assert_int_eq(mps_buf_get_end(&b), MPS_ERR_TRAILING_DATA);
	ck_assert_int_eq(mps_buf_get_bytes(&b, two, 1), APR_SUCCESS);
	ck_assert_uint_eq(two[0], 0xff);
	ck_assert_int_eq(mps_buf_get_end(&b), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
}
END_TEST

START_TEST(test_get_bool_values)
{
	static const uint8_t v[] = { 0x00, 0x01, 0x80, 0xff };
	static const int want[] = { 0, 1, 1, 1 };
	mps_buf_t b;
	size_t i;
	int bl;

	mps_buf_view(&b, v, sizeof(v));
	for (i = 0; i < sizeof(v); i++) {
		ck_assert_int_eq(mps_buf_get_bool(&b, &bl), APR_SUCCESS);
		ck_assert_int_eq(bl, want[i]);
	}
	bl = 7;
	ck_assert_int_eq(mps_buf_get_bool(&b, &bl), MPS_NEED_MORE);
	ck_assert_int_eq(bl, 0);
}
END_TEST

/*
 * Every integer getter, on every too-short input: MPS_NEED_MORE, output
 * zeroed, offset unchanged (the same bytes can be read once more arrive).
 */
START_TEST(test_int_getters_short)
{
	static const uint8_t v[] = { 0xaa, 0xbb, 0xcc, 0xdd };
	mps_buf_t b;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	size_t len;

	for (len = 0; len < 4; len++) {
		mps_buf_view(&b, v, len);
		u32 = 0xdeadbeef;
		ck_assert_int_eq(mps_buf_get_u32(&b, &u32), MPS_NEED_MORE);
		ck_assert_uint_eq(u32, 0);
		ck_assert_uint_eq(mps_buf_len(&b), len);
		ck_assert_int_eq(mps_buf_peek_u32(&b, 0, &u32), MPS_NEED_MORE);
		if (len < 2) {
			u16 = 0xbeef;
			ck_assert_int_eq(mps_buf_get_u16(&b, &u16),
			    MPS_NEED_MORE);
			ck_assert_uint_eq(u16, 0);
			ck_assert_uint_eq(mps_buf_len(&b), len);
		}
		if (len < 1) {
			u8 = 0xef;
			ck_assert_int_eq(mps_buf_get_u8(&b, &u8), MPS_NEED_MORE);
			ck_assert_uint_eq(u8, 0);
		}
		/* Once the bytes are there the same read succeeds. */
		mps_buf_view(&b, v, 4);
		ck_assert_int_eq(mps_buf_get_u32(&b, &u32), APR_SUCCESS);
		ck_assert_uint_eq(u32, 0xaabbccdd);
	}
}
END_TEST

START_TEST(test_get_bytes_short)
{
	uint8_t out[8];
	mps_buf_t b;

	mps_buf_view(&b, sample, 5);
	memset(out, 0x55, sizeof(out));
	ck_assert_int_eq(mps_buf_get_bytes(&b, out, 6), MPS_NEED_MORE);
	ck_assert_uint_eq(mps_buf_len(&b), 5);
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(out[i], 0);
	ck_assert_uint_eq(out[6], 0x55);	/* only n bytes are touched */
	ck_assert_int_eq(mps_buf_get_bytes(&b, NULL, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_get_bytes(&b, out, 5), APR_SUCCESS);
	ck_assert_int_eq(memcmp(out, sample, 5), 0);
}
END_TEST

/* A string whose length prefix or bytes are incomplete: NEED_MORE at
 * every cut, never TOO_LARGE (the length is within the cap). */
START_TEST(test_string_short)
{
	static const uint8_t s[] = { 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o' };
	mps_buf_t b;
	const uint8_t *p;
	size_t n, cut;

	for (cut = 0; cut < sizeof(s); cut++) {
		mps_buf_view(&b, s, cut);
		p = (const uint8_t *)"x";
		n = 99;
		ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n, 5),
		    MPS_NEED_MORE);
		ck_assert_ptr_null(p);
		ck_assert_uint_eq(n, 0);
		ck_assert_uint_eq(mps_buf_len(&b), cut);
	}
	mps_buf_view(&b, s, sizeof(s));
	ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n, 5), APR_SUCCESS);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(p, "hello", 5), 0);
	/* NULL outputs skip the string. */
	mps_buf_view(&b, s, sizeof(s));
	ck_assert_int_eq(mps_buf_get_string_direct(&b, NULL, NULL, 5),
	    APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
}
END_TEST

/*
 * Over the cap is TOO_LARGE as soon as the four length bytes are there,
 * whatever follows; lengths that would overflow an offset computation
 * (0xFFFFFFFF with an unlimited cap) are NEED_MORE, not a wild read.
 */
START_TEST(test_string_caps)
{
	uint8_t s[4 + 16];
	static const uint32_t big[] = { 6, 0x7fffffff, 0x80000000, 0xffffffff };
	mps_buf_t b;
	const uint8_t *p;
	size_t n, i, cut;

	memset(s, 'z', sizeof(s));
	for (i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		s[0] = (uint8_t)(big[i] >> 24);
		s[1] = (uint8_t)(big[i] >> 16);
		s[2] = (uint8_t)(big[i] >> 8);
		s[3] = (uint8_t)big[i];
		for (cut = 4; cut <= sizeof(s); cut++) {
			mps_buf_view(&b, s, cut);
			ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n,
			    5), MPS_ERR_TOO_LARGE);
			ck_assert_ptr_null(p);
			ck_assert_uint_eq(n, 0);
			ck_assert_uint_eq(mps_buf_len(&b), cut);
		}
		/* With no cap the bytes are simply not there yet. */
		mps_buf_view(&b, s, sizeof(s));
		ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n,
		    SIZE_MAX), big[i] <= 16 ? APR_SUCCESS : MPS_NEED_MORE);
	}
	/* Exactly at the cap is fine. */
	s[0] = s[1] = s[2] = 0;
	s[3] = 16;
	mps_buf_view(&b, s, sizeof(s));
	ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n, 16), APR_SUCCESS);
	ck_assert_uint_eq(n, 16);
	/* Empty string. */
	s[3] = 0;
	mps_buf_view(&b, s, 4);
	ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n, 0), APR_SUCCESS);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_nonnull(p);
}
END_TEST

START_TEST(test_cstring)
{
	static const uint8_t ok[] = { 0, 0, 0, 4, 'a', 'd', 'm', 'n' };
	static const uint8_t nul[] = { 0, 0, 0, 4, 'a', 0, 'm', 'n' };
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	char out[5];
	mps_buf_t b;
	size_t n, cut;

	/* Exact fit: 4 characters + NUL in 5 bytes. */
	mps_buf_view(&b, ok, sizeof(ok));
	ck_assert_int_eq(mps_buf_get_cstring(&b, out, sizeof(out), &n),
	    APR_SUCCESS);
	ck_assert_str_eq(out, "admn");
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(mps_buf_len(&b), 0);

	/* One byte short of room: TOO_LARGE, even with no bytes present. */
	for (cut = 4; cut <= sizeof(ok); cut++) {
		mps_buf_view(&b, ok, cut);
		memset(out, 'q', sizeof(out));
		ck_assert_int_eq(mps_buf_get_cstring(&b, out, 4, &n),
		    MPS_ERR_TOO_LARGE);
		ck_assert_uint_eq(mps_buf_len(&b), cut);
		ck_assert_uint_eq(n, 0);
		ck_assert_int_eq(out[0] | out[1] | out[2] | out[3], 0);
		ck_assert_int_eq(out[4], 'q');	/* outsize respected */
	}

	/* Embedded NUL: MALFORMED, offset unchanged, output all NUL. */
	mps_buf_view(&b, nul, sizeof(nul));
	memset(out, 'q', sizeof(out));
	ck_assert_int_eq(mps_buf_get_cstring(&b, out, sizeof(out), &n),
	    MPS_ERR_MALFORMED);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(nul));
	for (cut = 0; cut < sizeof(out); cut++)
		ck_assert_int_eq(out[cut], 0);

	/* Incomplete: NEED_MORE at every cut. */
	for (cut = 0; cut < sizeof(ok); cut++) {
		mps_buf_view(&b, ok, cut);
		ck_assert_int_eq(mps_buf_get_cstring(&b, out, sizeof(out),
		    NULL), MPS_NEED_MORE);
		ck_assert_uint_eq(mps_buf_len(&b), cut);
		ck_assert_str_eq(out, "");
	}

	mps_buf_view(&b, empty, sizeof(empty));
	ck_assert_int_eq(mps_buf_get_cstring(&b, out, 1, &n), APR_SUCCESS);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(n, 0);

	mps_buf_view(&b, ok, sizeof(ok));
	ck_assert_int_eq(mps_buf_get_cstring(&b, out, 0, &n), APR_EINVAL);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(ok));
}
END_TEST

/* Peeks never consume, and offsets near SIZE_MAX cannot wrap. */
START_TEST(test_peek)
{
	mps_buf_t b;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;

	mps_buf_view(&b, sample, 8);
	ck_assert_int_eq(mps_buf_peek_u8(&b, 7, &u8), APR_SUCCESS);
	ck_assert_uint_eq(u8, 0x08);
	ck_assert_int_eq(mps_buf_peek_u16(&b, 6, &u16), APR_SUCCESS);
	ck_assert_uint_eq(u16, 0x0708);
	ck_assert_int_eq(mps_buf_peek_u32(&b, 4, &u32), APR_SUCCESS);
	ck_assert_uint_eq(u32, 0x05060708);
	ck_assert_uint_eq(mps_buf_len(&b), 8);

	u8 = 1;
	ck_assert_int_eq(mps_buf_peek_u8(&b, 8, &u8), MPS_NEED_MORE);
	ck_assert_uint_eq(u8, 0);
	u16 = 1;
	ck_assert_int_eq(mps_buf_peek_u16(&b, 7, &u16), MPS_NEED_MORE);
	ck_assert_uint_eq(u16, 0);
	u32 = 1;
	ck_assert_int_eq(mps_buf_peek_u32(&b, 5, &u32), MPS_NEED_MORE);
	ck_assert_uint_eq(u32, 0);
	ck_assert_int_eq(mps_buf_peek_u32(&b, SIZE_MAX, &u32), MPS_NEED_MORE);
	ck_assert_int_eq(mps_buf_peek_u32(&b, SIZE_MAX - 2, &u32),
	    MPS_NEED_MORE);
	ck_assert_int_eq(mps_buf_peek_u8(&b, SIZE_MAX, &u8), MPS_NEED_MORE);

	/* Relative to the read position. */
	ck_assert_int_eq(mps_buf_consume(&b, 2), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_peek_u8(&b, 0, &u8), APR_SUCCESS);
	ck_assert_uint_eq(u8, 0x03);
	ck_assert_int_eq(mps_buf_peek_u32(&b, 2, &u32), APR_SUCCESS);
	ck_assert_uint_eq(u32, 0x05060708);
	ck_assert_int_eq(mps_buf_peek_u32(&b, 3, &u32), MPS_NEED_MORE);
}
END_TEST

START_TEST(test_consume_and_end)
{
	mps_buf_t b;

	mps_buf_view(&b, sample, 4);
	ck_assert_int_eq(mps_buf_consume(&b, 5), MPS_NEED_MORE);
	ck_assert_int_eq(mps_buf_consume(&b, SIZE_MAX), MPS_NEED_MORE);
	ck_assert_uint_eq(mps_buf_len(&b), 4);
	ck_assert_int_eq(mps_buf_get_end(&b), MPS_ERR_TRAILING_DATA);
	ck_assert_int_eq(mps_buf_consume(&b, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_consume(&b, 3), APR_SUCCESS);
	ck_assert_ptr_eq(mps_buf_ptr(&b), sample + 3);
	ck_assert_int_eq(mps_buf_consume(&b, 1), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_get_end(&b), APR_SUCCESS);

	/* An empty view is fine and has a non-NULL pointer. */
	mps_buf_view(&b, NULL, 0);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	ck_assert_ptr_nonnull(mps_buf_ptr(&b));
	ck_assert_int_eq(mps_buf_get_end(&b), APR_SUCCESS);
}
END_TEST

START_TEST(test_child_view)
{
	mps_buf_t b, c;
	uint32_t u32;

	mps_buf_view(&b, sample, sizeof(sample));
	ck_assert_int_eq(mps_buf_consume(&b, 1), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_get_view(&b, 4, &c), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&c), 4);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(sample) - 5);
	ck_assert_int_eq(mps_buf_get_u32(&c, &u32), APR_SUCCESS);
	ck_assert_uint_eq(u32, 0x02030405);
	/* The child ends where it was cut, whatever the parent holds. */
	ck_assert_int_eq(mps_buf_get_u32(&c, &u32), MPS_NEED_MORE);
	ck_assert_int_eq(mps_buf_get_end(&c), APR_SUCCESS);
	/* A child is read-only. */
	ck_assert_int_eq(mps_buf_put_u8(&c, 1), APR_EINVAL);

	/* Not enough: the child is an empty view, the parent unchanged. */
	ck_assert_int_eq(mps_buf_get_view(&b, sizeof(sample), &c),
	    MPS_NEED_MORE);
	ck_assert_uint_eq(mps_buf_len(&c), 0);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(sample) - 5);
	ck_assert_int_eq(mps_buf_get_view(&b, SIZE_MAX, &c), MPS_NEED_MORE);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(sample) - 5);
}
END_TEST

/* A view refuses every write. */
START_TEST(test_view_is_readonly)
{
	mps_buf_t b;
	uint8_t *t = (uint8_t *)1;

	mps_buf_view(&b, sample, sizeof(sample));
	ck_assert_int_eq(mps_buf_put_u8(&b, 1), APR_EINVAL);
	ck_assert_int_eq(mps_buf_put_u16(&b, 1), APR_EINVAL);
	ck_assert_int_eq(mps_buf_put_u32(&b, 1), APR_EINVAL);
	ck_assert_int_eq(mps_buf_put_bool(&b, 1), APR_EINVAL);
	ck_assert_int_eq(mps_buf_put(&b, "x", 1), APR_EINVAL);
	ck_assert_int_eq(mps_buf_put_string(&b, "x", 1), APR_EINVAL);
	ck_assert_int_eq(mps_buf_reserve(&b, 1, &t), APR_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(mps_buf_commit(&b, 0), APR_EINVAL);
	ck_assert_int_eq(mps_buf_set_max_size(&b, 100), APR_EINVAL);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(sample));
	ck_assert_ptr_eq(mps_buf_ptr(&b), sample);
	mps_buf_free(&b);	/* empties, frees nothing */
	ck_assert_uint_eq(mps_buf_len(&b), 0);
}
END_TEST

/* ---- Writer ---- */

START_TEST(test_writer_puts)
{
	static const uint8_t want[] = {
		0x7f, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x00,
		0x00, 0x00, 0x00, 0x02, 'h', 'i', 'r', 'a', 'w',
		0x00, 0x00, 0x00, 0x00
	};
	mps_buf_t b;

	mps_buf_init(&b, 1024);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 0);	/* nothing yet */
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	ck_assert_ptr_nonnull(mps_buf_ptr(&b));
	ck_assert_uint_eq(mps_buf_avail(&b), 1024);
	ck_assert_int_eq(mps_buf_put(&b, NULL, 0), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 0);

	ck_assert_int_eq(mps_buf_put_u8(&b, 0x7f), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u16(&b, 0x1234), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u32(&b, 0xdeadbeef), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_bool(&b, 42), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_bool(&b, 0), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "hi", 2), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, "raw", 3), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, NULL, 0), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), sizeof(want));
	ck_assert_mem_eq(mps_buf_ptr(&b), want, sizeof(want));
	ck_assert_uint_eq(mps_buf_avail(&b), 1024 - sizeof(want));
	ck_assert_uint_ge(mps_buf_alloc_size(&b), MPS_BUF_MIN_ALLOC);
	mps_buf_free(&b);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 0);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	ck_assert_uint_eq(mps_buf_max_size(&b), 1024);
	/* Reusable after free. */
	ck_assert_int_eq(mps_buf_put_u8(&b, 9), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 1);
	mps_buf_free(&b);
}
END_TEST

/* What a writer holds is read back through the same getters. */
START_TEST(test_writer_roundtrip)
{
	mps_buf_t b;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	const uint8_t *p;
	size_t n;
	char cs[16];

	mps_buf_init(&b, 256);
	ck_assert_int_eq(mps_buf_put_u8(&b, 200), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u16(&b, 65535), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_u32(&b, 0x80000001), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "payload", 7), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put_string(&b, "name", 4), APR_SUCCESS);

	ck_assert_int_eq(mps_buf_get_u8(&b, &u8), APR_SUCCESS);
	ck_assert_uint_eq(u8, 200);
	ck_assert_int_eq(mps_buf_get_u16(&b, &u16), APR_SUCCESS);
	ck_assert_uint_eq(u16, 65535);
	ck_assert_int_eq(mps_buf_get_u32(&b, &u32), APR_SUCCESS);
	ck_assert_uint_eq(u32, 0x80000001);
	ck_assert_int_eq(mps_buf_get_string_direct(&b, &p, &n, 7), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_get_cstring(&b, cs, sizeof(cs), &n),
	    APR_SUCCESS);
	/*
	 * The buffer is now empty, but gets never free storage: the pointer
	 * from the first string is still readable (ASan would object).
	 */
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	ck_assert_int_eq(memcmp(p, "payload", 7), 0);
	ck_assert_str_eq(cs, "name");
	ck_assert_int_eq(mps_buf_get_end(&b), APR_SUCCESS);
	mps_buf_free(&b);
}
END_TEST

/* Growth up to max_size, exact fit, refusal beyond with nothing added. */
START_TEST(test_writer_max_size)
{
	const size_t max = 1000;
	uint8_t chunk[300];
	mps_buf_t b;
	size_t i;
	uint8_t *t;

	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)i;
	mps_buf_init(&b, max);
	ck_assert_int_eq(mps_buf_put(&b, chunk, 300), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, chunk, 300), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, chunk, 300), APR_SUCCESS);
	ck_assert_uint_le(mps_buf_alloc_size(&b), max);
	/* 900 held: a 101-byte put is refused whole. */
	ck_assert_int_eq(mps_buf_put(&b, chunk, 101), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 900);
	/* put_string: the prefix alone would fit, the bytes do not. */
	ck_assert_int_eq(mps_buf_put_string(&b, chunk, 97), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 900);
	ck_assert_int_eq(mps_buf_reserve(&b, 101, &t), MPS_ERR_TOO_LARGE);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(mps_buf_reserve(&b, SIZE_MAX, &t), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_buf_put_string(&b, chunk, SIZE_MAX),
	    MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_len(&b), 900);
	/* Exactly to the cap. */
	ck_assert_int_eq(mps_buf_put_string(&b, chunk, 96), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), max);
	ck_assert_uint_eq(mps_buf_avail(&b), 0);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), max);
	ck_assert_int_eq(mps_buf_put_u8(&b, 1), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_buf_put(&b, NULL, 0), APR_SUCCESS);
	for (i = 0; i < 3; i++)
		ck_assert_mem_eq(mps_buf_ptr(&b) + i * 300, chunk, 300);
	/* Room comes back as bytes are consumed. */
	ck_assert_int_eq(mps_buf_consume(&b, 10), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, chunk, 10), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), max);	/* compacted */
	ck_assert_mem_eq(mps_buf_ptr(&b), chunk + 10, 290);
	ck_assert_mem_eq(mps_buf_ptr(&b) + 990, chunk, 10);
	mps_buf_free(&b);

	/* A zero cap holds nothing. */
	mps_buf_init(&b, 0);
	ck_assert_int_eq(mps_buf_put_u8(&b, 1), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 0);
	/* A tiny cap: storage never exceeds it, even below the minimum. */
	mps_buf_init(&b, 5);
	ck_assert_int_eq(mps_buf_put_u32(&b, 1), APR_SUCCESS);
	ck_assert_uint_le(mps_buf_alloc_size(&b), 5);
	ck_assert_int_eq(mps_buf_put_u16(&b, 1), MPS_ERR_TOO_LARGE);
	mps_buf_free(&b);
}
END_TEST

/* Storage doubles (amortized appends), never beyond max_size. */
START_TEST(test_writer_growth)
{
	mps_buf_t b;
	size_t i, prev = 0, grows = 0;

	mps_buf_init(&b, 100000);
	for (i = 0; i < 100000; i++) {
		REQUIRE(mps_buf_put_u8(&b, (uint8_t)i) == APR_SUCCESS,
		    "put %zu", i);
		if (mps_buf_alloc_size(&b) != prev) {
			grows++;
			prev = mps_buf_alloc_size(&b);
		}
		REQUIRE(prev <= 100000, "alloc %zu over max", prev);
	}
	ck_assert_uint_eq(prev, 100000);
	ck_assert_uint_le(grows, 12);	/* 64, 128, ... 65536, 100000 */
	ck_assert_int_eq(mps_buf_put_u8(&b, 0), MPS_ERR_TOO_LARGE);
	for (i = 0; i < 100000; i++)
		REQUIRE(mps_buf_ptr(&b)[i] == (uint8_t)i, "byte %zu", i);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_reserve_commit)
{
	mps_buf_t b;
	uint8_t *t;

	mps_buf_init(&b, 4096);
	t = (uint8_t *)1;
	ck_assert_int_eq(mps_buf_reserve(&b, 0, &t), APR_SUCCESS);
	ck_assert_ptr_null(t);		/* no storage yet */
	ck_assert_int_eq(mps_buf_reserve(&b, 100, &t), APR_SUCCESS);
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(mps_buf_len(&b), 0);	/* reserved, not added */
	memcpy(t, "hello world", 11);
	ck_assert_int_eq(mps_buf_commit(&b, 5), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 5);
	ck_assert_mem_eq(mps_buf_ptr(&b), "hello", 5);
	/* Commit more than the room: refused. */
	ck_assert_int_eq(mps_buf_commit(&b, mps_buf_alloc_size(&b)), APR_EINVAL);
	ck_assert_int_eq(mps_buf_commit(&b, SIZE_MAX), APR_EINVAL);
	ck_assert_uint_eq(mps_buf_len(&b), 5);
	/* A second reserve continues after the committed bytes. */
	ck_assert_int_eq(mps_buf_reserve(&b, 6, &t), APR_SUCCESS);
	ck_assert_ptr_eq(t, mps_buf_ptr(&b) + 5);
	memcpy(t, " there", 6);
	ck_assert_int_eq(mps_buf_commit(&b, 6), APR_SUCCESS);
	ck_assert_mem_eq(mps_buf_ptr(&b), "hello there", 11);
	mps_buf_free(&b);
}
END_TEST

/* Emptying frees large storage and keeps small storage. */
START_TEST(test_free_when_emptied)
{
	uint8_t big[MPS_BUF_KEEP_MAX + 1];
	mps_buf_t b;
	size_t keep;

	memset(big, 'b', sizeof(big));
	mps_buf_init(&b, 1 << 16);
	ck_assert_int_eq(mps_buf_put(&b, big, 10), APR_SUCCESS);
	keep = mps_buf_alloc_size(&b);
	ck_assert_uint_le(keep, MPS_BUF_KEEP_MAX);
	ck_assert_int_eq(mps_buf_consume(&b, 10), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), keep);	/* kept */

	ck_assert_int_eq(mps_buf_put(&b, big, sizeof(big)), APR_SUCCESS);
	ck_assert_uint_gt(mps_buf_alloc_size(&b), MPS_BUF_KEEP_MAX);
	ck_assert_int_eq(mps_buf_consume(&b, 100), APR_SUCCESS);
	ck_assert_uint_gt(mps_buf_alloc_size(&b), 0);	/* not empty yet */
	ck_assert_int_eq(mps_buf_consume(&b, sizeof(big) - 100), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 0);	/* freed */
	ck_assert_uint_eq(mps_buf_len(&b), 0);

	ck_assert_int_eq(mps_buf_put(&b, big, sizeof(big)), APR_SUCCESS);
	mps_buf_reset(&b);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 0);
	ck_assert_uint_eq(mps_buf_len(&b), 0);

	/* Getters reaching the end do not free (pointers must survive). */
	ck_assert_int_eq(mps_buf_put(&b, big, sizeof(big)), APR_SUCCESS);
	{
		uint8_t tmp[sizeof(big)];

		ck_assert_int_eq(mps_buf_get_bytes(&b, tmp, sizeof(tmp)),
		    APR_SUCCESS);
	}
	ck_assert_uint_gt(mps_buf_alloc_size(&b), 0);
	mps_buf_free(&b);
}
END_TEST

/*
 * Lazy compaction: appending into the tail does not move the contents;
 * when the tail is short, a dead prefix at least as large as the live
 * data is reclaimed by sliding (no growth); otherwise the block grows.
 */
START_TEST(test_lazy_compaction)
{
	uint8_t d[64];
	mps_buf_t b;
	const uint8_t *p0;
	size_t i, a;

	for (i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i + 1);
	mps_buf_init(&b, 1 << 20);
	ck_assert_int_eq(mps_buf_put(&b, d, 64), APR_SUCCESS);
	a = mps_buf_alloc_size(&b);
	ck_assert_uint_eq(a, 64);

	/* Consume 40 (dead 40 >= live 24), append 30: slides, no growth. */
	ck_assert_int_eq(mps_buf_consume(&b, 40), APR_SUCCESS);
	p0 = mps_buf_ptr(&b);
	ck_assert_int_eq(mps_buf_put(&b, d, 30), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), a);
	ck_assert_ptr_ne(mps_buf_ptr(&b), p0);
	ck_assert_uint_eq(mps_buf_len(&b), 54);
	ck_assert_mem_eq(mps_buf_ptr(&b), d + 40, 24);
	ck_assert_mem_eq(mps_buf_ptr(&b) + 24, d, 30);

	/* Consume 4 (dead 4 < live 50), append 14 where the tail has 10:
	 * the block grows instead of memmoving 50 bytes to win 4. */
	ck_assert_int_eq(mps_buf_consume(&b, 4), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, d, 14), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_alloc_size(&b), 128);
	ck_assert_uint_eq(mps_buf_len(&b), 64);
	ck_assert_mem_eq(mps_buf_ptr(&b), d + 44, 20);
	ck_assert_mem_eq(mps_buf_ptr(&b) + 20, d, 30);
	ck_assert_mem_eq(mps_buf_ptr(&b) + 50, d, 14);

	/* Room in the tail: the contents stay where they are. */
	ck_assert_int_eq(mps_buf_consume(&b, 1), APR_SUCCESS);
	p0 = mps_buf_ptr(&b);
	ck_assert_int_eq(mps_buf_put(&b, d, 20), APR_SUCCESS);
	ck_assert_ptr_eq(mps_buf_ptr(&b), p0);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_truncate)
{
	mps_buf_t b;

	mps_buf_init(&b, 64);
	ck_assert_int_eq(mps_buf_put(&b, "abcdef", 6), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_consume(&b, 1), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_truncate(&b, 6), APR_EINVAL);
	ck_assert_int_eq(mps_buf_truncate(&b, 3), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 3);
	ck_assert_mem_eq(mps_buf_ptr(&b), "bcd", 3);
	ck_assert_int_eq(mps_buf_put(&b, "X", 1), APR_SUCCESS);
	ck_assert_mem_eq(mps_buf_ptr(&b), "bcdX", 4);
	ck_assert_int_eq(mps_buf_truncate(&b, 0), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	mps_buf_free(&b);
}
END_TEST

START_TEST(test_set_max_size)
{
	uint8_t d[2000];
	mps_buf_t b;

	memset(d, 'm', sizeof(d));
	mps_buf_init(&b, 4096);
	ck_assert_int_eq(mps_buf_put(&b, d, 2000), APR_SUCCESS);
	ck_assert_uint_gt(mps_buf_alloc_size(&b), 1500);
	/* Cannot go below what is held. */
	ck_assert_int_eq(mps_buf_set_max_size(&b, 1999), MPS_ERR_TOO_LARGE);
	ck_assert_uint_eq(mps_buf_max_size(&b), 4096);
	ck_assert_int_eq(mps_buf_consume(&b, 1500), APR_SUCCESS);
	/* Lowering the cap below the storage shrinks the storage. */
	ck_assert_int_eq(mps_buf_set_max_size(&b, 600), APR_SUCCESS);
	ck_assert_uint_le(mps_buf_alloc_size(&b), 600);
	ck_assert_uint_eq(mps_buf_len(&b), 500);
	ck_assert_mem_eq(mps_buf_ptr(&b), d, 500);
	ck_assert_uint_eq(mps_buf_avail(&b), 100);
	ck_assert_int_eq(mps_buf_put(&b, d, 101), MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(mps_buf_put(&b, d, 100), APR_SUCCESS);
	/* Raising it lets the buffer grow again. */
	ck_assert_int_eq(mps_buf_set_max_size(&b, 1 << 16), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_put(&b, d, 2000), APR_SUCCESS);
	ck_assert_uint_eq(mps_buf_len(&b), 2600);
	/* Lowering an empty buffer's cap frees its storage. */
	mps_buf_reset(&b);
	ck_assert_int_eq(mps_buf_put(&b, d, 100), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_consume(&b, 100), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_set_max_size(&b, 10), APR_SUCCESS);
	ck_assert_uint_le(mps_buf_alloc_size(&b), 10);
	mps_buf_free(&b);
}
END_TEST

/* ---- The model test ---- */

#define MODEL_MAX	3000
#define MODEL_OPS	20000

typedef struct model {
	mps_buf_t b;
	uint8_t shadow[MODEL_MAX];
	size_t len;
	size_t max;
} model;

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
shadow_append(model *m, const uint8_t *p, size_t n)
{
	memcpy(m->shadow + m->len, p, n);
	m->len += n;
}

static void
shadow_consume(model *m, size_t n)
{
	memmove(m->shadow, m->shadow + n, m->len - n);
	m->len -= n;
}

static void
model_check(const model *m, unsigned op, size_t step)
{
	REQUIRE(mps_buf_len(&m->b) == m->len, "step %zu op %u: len %zu != %zu",
	    step, op, mps_buf_len(&m->b), m->len);
	REQUIRE(m->len == 0 || memcmp(mps_buf_ptr(&m->b), m->shadow,
	    m->len) == 0, "step %zu op %u: contents differ", step, op);
	REQUIRE(mps_buf_alloc_size(&m->b) <= m->max,
	    "step %zu: storage %zu over max %zu", step,
	    mps_buf_alloc_size(&m->b), m->max);
	REQUIRE(mps_buf_avail(&m->b) == m->max - m->len,
	    "step %zu: avail", step);
}

static void
model_put(model *m, size_t step)
{
	uint8_t tmp[400];
	size_t n = rng_below(sizeof(tmp)), i;
	apr_status_t rv;

	for (i = 0; i < n; i++)
		tmp[i] = (uint8_t)unit_rng();
	rv = mps_buf_put(&m->b, tmp, n);
	if (m->len + n <= m->max) {
		REQUIRE(rv == APR_SUCCESS, "step %zu: put %zu failed", step, n);
		shadow_append(m, tmp, n);
	} else
		REQUIRE(rv == MPS_ERR_TOO_LARGE, "step %zu: put over max", step);
}

static void
model_put_u32(model *m, size_t step)
{
	uint32_t v = unit_rng();
	uint8_t e[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };
	apr_status_t rv = mps_buf_put_u32(&m->b, v);

	if (m->len + 4 <= m->max) {
		REQUIRE(rv == APR_SUCCESS, "step %zu: put_u32", step);
		shadow_append(m, e, 4);
	} else
		REQUIRE(rv == MPS_ERR_TOO_LARGE, "step %zu: put_u32 max", step);
}

static void
model_put_string(model *m, size_t step)
{
	uint8_t tmp[4 + 200];
	size_t n = rng_below(200), i;
	apr_status_t rv;

	tmp[0] = tmp[1] = 0;
	tmp[2] = (uint8_t)(n >> 8);
	tmp[3] = (uint8_t)n;
	for (i = 0; i < n; i++)
		tmp[4 + i] = (uint8_t)unit_rng();
	rv = mps_buf_put_string(&m->b, tmp + 4, n);
	if (m->len + 4 + n <= m->max) {
		REQUIRE(rv == APR_SUCCESS, "step %zu: put_string", step);
		shadow_append(m, tmp, 4 + n);
	} else
		REQUIRE(rv == MPS_ERR_TOO_LARGE, "step %zu: put_string", step);
}

static void
model_consume(model *m, size_t step)
{
	size_t n = rng_below((uint32_t)m->len + 50);
	apr_status_t rv = mps_buf_consume(&m->b, n);

	if (n <= m->len) {
		REQUIRE(rv == APR_SUCCESS, "step %zu: consume", step);
		shadow_consume(m, n);
		if (m->len == 0)
			REQUIRE(mps_buf_alloc_size(&m->b) <= MPS_BUF_KEEP_MAX,
			    "step %zu: emptied but storage kept", step);
	} else
		REQUIRE(rv == MPS_NEED_MORE, "step %zu: consume over", step);
}

static void
model_get_u32(model *m, size_t step)
{
	uint32_t v = 1;
	apr_status_t rv = mps_buf_get_u32(&m->b, &v);

	if (m->len >= 4) {
		REQUIRE(rv == APR_SUCCESS && v == be32(m->shadow),
		    "step %zu: get_u32", step);
		shadow_consume(m, 4);
	} else
		REQUIRE(rv == MPS_NEED_MORE && v == 0, "step %zu: get_u32 short",
		    step);
}

static void
model_get_string(model *m, size_t step)
{
	size_t max = (unit_rng() & 1) ? 300 : SIZE_MAX, n = 7;
	const uint8_t *p = (const uint8_t *)"";
	apr_status_t rv = mps_buf_get_string_direct(&m->b, &p, &n, max);
	uint32_t l;

	if (m->len < 4) {
		REQUIRE(rv == MPS_NEED_MORE, "step %zu: string prefix", step);
		REQUIRE(p == NULL && n == 0, "step %zu: outputs", step);
		return;
	}
	l = be32(m->shadow);
	if (l > max)
		REQUIRE(rv == MPS_ERR_TOO_LARGE, "step %zu: string cap", step);
	else if (l > m->len - 4)
		REQUIRE(rv == MPS_NEED_MORE, "step %zu: string short", step);
	else {
		REQUIRE(rv == APR_SUCCESS && n == l &&
		    (l == 0 || memcmp(p, m->shadow + 4, l) == 0),
		    "step %zu: string", step);
		shadow_consume(m, 4 + l);
		return;
	}
	REQUIRE(p == NULL && n == 0, "step %zu: outputs not zeroed", step);
}

static void
model_reserve_commit(model *m, size_t step)
{
	size_t n = rng_below(500), k = rng_below((uint32_t)n + 1), i;
	uint8_t *t;
	apr_status_t rv = mps_buf_reserve(&m->b, n, &t);

	if (m->len + n > m->max) {
		REQUIRE(rv == MPS_ERR_TOO_LARGE, "step %zu: reserve max", step);
		return;
	}
	REQUIRE(rv == APR_SUCCESS, "step %zu: reserve %zu", step, n);
	for (i = 0; i < k; i++)
		t[i] = (uint8_t)unit_rng();
	REQUIRE(mps_buf_commit(&m->b, k) == APR_SUCCESS, "step %zu: commit",
	    step);
	shadow_append(m, t, k);
}

static void
model_peek(model *m, size_t step)
{
	size_t off = rng_below((uint32_t)m->len + 8);
	uint8_t v = 1;
	apr_status_t rv = mps_buf_peek_u8(&m->b, off, &v);

	if (off < m->len)
		REQUIRE(rv == APR_SUCCESS && v == m->shadow[off],
		    "step %zu: peek", step);
	else
		REQUIRE(rv == MPS_NEED_MORE && v == 0, "step %zu: peek end",
		    step);
}

static void
model_truncate(model *m, size_t step)
{
	size_t n = rng_below((uint32_t)m->len + 1);

	REQUIRE(mps_buf_truncate(&m->b, n) == APR_SUCCESS, "step %zu: trunc",
	    step);
	m->len = n;
}

static void
model_set_max(model *m, size_t step)
{
	size_t nmax = 1000 + rng_below(MODEL_MAX - 1000 + 1);
	apr_status_t rv = mps_buf_set_max_size(&m->b, nmax);

	if (m->len > nmax) {
		REQUIRE(rv == MPS_ERR_TOO_LARGE, "step %zu: set_max", step);
		return;
	}
	REQUIRE(rv == APR_SUCCESS, "step %zu: set_max", step);
	m->max = nmax;
}

START_TEST(test_model)
{
	static model m;
	size_t step;
	unsigned op;

	unit_rng_seed(0x5eed1234);
	mps_buf_init(&m.b, MODEL_MAX);
	m.len = 0;
	m.max = MODEL_MAX;
	for (step = 0; step < MODEL_OPS; step++) {
		/* Weighted so that the buffer fills, drains and hits its
		 * cap repeatedly. */
		op = rng_below(100);
		if (op < 22)
			model_put(&m, step);
		else if (op < 30)
			model_put_u32(&m, step);
		else if (op < 38)
			model_put_string(&m, step);
		else if (op < 60)
			model_consume(&m, step);
		else if (op < 68)
			model_get_u32(&m, step);
		else if (op < 74)
			model_get_string(&m, step);
		else if (op < 88)
			model_reserve_commit(&m, step);
		else if (op < 94)
			model_peek(&m, step);
		else if (op < 97)
			model_truncate(&m, step);
		else if (op < 99)
			model_set_max(&m, step);
		else {
			mps_buf_reset(&m.b);
			m.len = 0;
		}
		model_check(&m, op, step);
	}
	mps_buf_free(&m.b);
	ck_assert_uint_eq(mps_buf_alloc_size(&m.b), 0);
}
END_TEST

/* ---- Lines ---- */

#define S(lit)	(const uint8_t *)(lit), sizeof(lit) - 1

/* One whole line from b: its status, and the line when there is one. */
static apr_status_t
line_of(mps_buf_t *b, mps_buf_line_t *lr, char *out, size_t outsize)
{
	const uint8_t *p = (const uint8_t *)"x";
	size_t n = 99;
	apr_status_t rv = mps_buf_get_line(b, lr, &p, &n);

	if (rv != APR_SUCCESS) {
		ck_assert_ptr_null(p);
		ck_assert_uint_eq(n, 0);
		return rv;
	}
	ck_assert_uint_lt(n, outsize);
	memcpy(out, p, n);
	out[n] = '\0';
	return rv;
}

START_TEST(test_line_whole)
{
	mps_buf_t b;
	mps_buf_line_t lr;
	char line[64];

	mps_buf_view(&b, S("GET / HTTP/1.1\r\nHost: a\n\r\nrest"));
	mps_buf_line_init(&lr, 32, MPS_BUF_LINE_BARE_LF);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_SUCCESS);
	ck_assert_str_eq(line, "GET / HTTP/1.1");
	ck_assert_uint_eq(mps_buf_len(&b), 14);	/* the CRLF is consumed */
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_SUCCESS);
	ck_assert_str_eq(line, "Host: a");	/* a bare LF ends it */
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_SUCCESS);
	ck_assert_str_eq(line, "");
	/* "rest" has no line end: nothing consumed. */
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), MPS_NEED_MORE);
	ck_assert_uint_eq(mps_buf_len(&b), 4);
	ck_assert_int_eq(memcmp(mps_buf_ptr(&b), "rest", 4), 0);
}
END_TEST

/* The caller keeps the bytes and calls again with more: the reader
 * resumes, consuming nothing until the line is complete. */
START_TEST(test_line_resumes)
{
	static const char text[] = "Name: value\r\n";
	mps_buf_t b;
	mps_buf_line_t lr;
	char line[64];
	size_t k;

	mps_buf_line_init(&lr, 32, MPS_BUF_LINE_CRLF);
	for (k = 0; k < sizeof(text) - 1; k++) {
		mps_buf_view(&b, text, k);
		ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)),
		    MPS_NEED_MORE);
		ck_assert_uint_eq(mps_buf_len(&b), k);
		ck_assert_uint_eq(lr.len + (lr.cr ? 1 : 0), k);
	}
	/* Fewer bytes than already looked at: a caller error. */
	mps_buf_view(&b, text, 3);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_EINVAL);
	mps_buf_view(&b, text, sizeof(text) - 1);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_SUCCESS);
	ck_assert_str_eq(line, "Name: value");
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	ck_assert_uint_eq(lr.len, 0);
	ck_assert_int_eq(lr.cr, 0);
}
END_TEST

START_TEST(test_line_max)
{
	mps_buf_t b;
	mps_buf_line_t lr;
	char line[64];

	/* Exactly max content bytes pass; CR and LF do not count. */
	mps_buf_view(&b, S("abcd\r\n"));
	mps_buf_line_init(&lr, 4, MPS_BUF_LINE_CRLF);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_SUCCESS);
	ck_assert_str_eq(line, "abcd");
	/* max content bytes and a CR: the LF may still come. */
	mps_buf_view(&b, S("abcd\r"));
	mps_buf_line_init(&lr, 4, MPS_BUF_LINE_CRLF);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), MPS_NEED_MORE);
	/* Content byte max + 1 is refused at once, with no line end in
	 * sight, and stays refused. */
	mps_buf_view(&b, S("abcde"));
	mps_buf_line_init(&lr, 4, MPS_BUF_LINE_CRLF);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)),
	    MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(lr.fault, MPS_BUF_LINE_TOO_LONG);
	ck_assert_uint_eq(mps_buf_len(&b), 5);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)),
	    MPS_ERR_TOO_LARGE);
	/* max 0: only empty lines. */
	mps_buf_view(&b, S("\r\nx\r\n"));
	mps_buf_line_init(&lr, 0, MPS_BUF_LINE_CRLF);
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)), APR_SUCCESS);
	ck_assert_str_eq(line, "");
	ck_assert_int_eq(line_of(&b, &lr, line, sizeof(line)),
	    MPS_ERR_TOO_LARGE);
}
END_TEST

START_TEST(test_line_ends)
{
	static const struct {
		const char *text;
		unsigned flags;
		apr_status_t rv;
		mps_buf_line_fault_t fault;
	} rows[] = {
		{ "ab\r\n", MPS_BUF_LINE_CRLF, APR_SUCCESS, MPS_BUF_LINE_OK },
		{ "ab\n", MPS_BUF_LINE_BARE_LF, APR_SUCCESS, MPS_BUF_LINE_OK },
		{ "ab\n", MPS_BUF_LINE_CRLF, MPS_ERR_MALFORMED,
		  MPS_BUF_LINE_LONE_LF },
		/* A lone CR is refused as soon as the next byte shows it,
		 * under either policy, without waiting for an LF. */
		{ "a\rb", MPS_BUF_LINE_BARE_LF, MPS_ERR_MALFORMED,
		  MPS_BUF_LINE_LONE_CR },
		{ "a\rb", MPS_BUF_LINE_CRLF, MPS_ERR_MALFORMED,
		  MPS_BUF_LINE_LONE_CR },
		{ "a\r\r\n", MPS_BUF_LINE_BARE_LF, MPS_ERR_MALFORMED,
		  MPS_BUF_LINE_LONE_CR },
		{ "a\r", MPS_BUF_LINE_CRLF, MPS_NEED_MORE, MPS_BUF_LINE_OK },
		{ "\n", MPS_BUF_LINE_BARE_LF, APR_SUCCESS, MPS_BUF_LINE_OK },
		{ "", MPS_BUF_LINE_CRLF, MPS_NEED_MORE, MPS_BUF_LINE_OK },
	};
	mps_buf_t b;
	mps_buf_line_t lr;
	char line[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		mps_buf_view(&b, rows[i].text, strlen(rows[i].text));
		mps_buf_line_init(&lr, 16, rows[i].flags);
		ck_assert_msg(line_of(&b, &lr, line, sizeof(line)) ==
		    rows[i].rv, "row %zu", i);
		ck_assert_msg(lr.fault == rows[i].fault, "row %zu: fault %d",
		    i, lr.fault);
	}
}
END_TEST

START_TEST(test_line_parts)
{
	mps_buf_t b;
	mps_buf_line_t lr;
	mps_buf_line_part_t part;
	const uint8_t *p;
	size_t n;

	mps_buf_view(&b, S("ab\r\n\ncdef"));
	mps_buf_line_init(&lr, 3, MPS_BUF_LINE_BARE_LF);
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    APR_SUCCESS);
	ck_assert_int_eq(part, MPS_BUF_LINE_TEXT);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(memcmp(p, "ab", 2), 0);
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    APR_SUCCESS);
	ck_assert_int_eq(part, MPS_BUF_LINE_CR);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    APR_SUCCESS);
	ck_assert_int_eq(part, MPS_BUF_LINE_LF);
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    APR_SUCCESS);
	ck_assert_int_eq(part, MPS_BUF_LINE_LF);	/* an empty line */
	/* "cdef": three bytes, then the fourth is over max. */
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    APR_SUCCESS);
	ck_assert_int_eq(part, MPS_BUF_LINE_TEXT);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    MPS_ERR_TOO_LARGE);
	ck_assert_int_eq(part, MPS_BUF_LINE_NONE);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(mps_buf_len(&b), 1);		/* at the "f" */
	ck_assert_int_eq(*mps_buf_ptr(&b), 'f');
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    MPS_ERR_TOO_LARGE);			/* sticky */
	/* Empty: need more. */
	mps_buf_view(&b, NULL, 0);
	mps_buf_line_init(&lr, 3, MPS_BUF_LINE_BARE_LF);
	ck_assert_int_eq(mps_buf_get_line_part(&b, &lr, &part, &p, &n),
	    MPS_NEED_MORE);
}
END_TEST

/*
 * Random text of 'a', CR and LF against a byte-by-byte reference of the
 * rules: both ways of reading, in random slicings, find the same lines
 * and refuse at the same byte for the same reason.
 */
static apr_status_t
line_status_of(mps_buf_line_fault_t fault)
{
	return fault == MPS_BUF_LINE_TOO_LONG ? MPS_ERR_TOO_LARGE :
	    MPS_ERR_MALFORMED;
}

#define LINE_TEXT	96
#define LINE_ROUNDS	20000

struct line_outcome {
	size_t lines;			/* complete lines */
	size_t content;			/* their content bytes, in all */
	size_t err_at;			/* offset of the refused byte */
	mps_buf_line_fault_t fault;
};

static void
line_reference(const uint8_t *t, size_t len, size_t max, unsigned flags,
    struct line_outcome *o)
{
	size_t i, cur = 0;
	int cr = 0;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < len; i++) {
		if (cr) {
			if (t[i] != '\n') {
				o->fault = MPS_BUF_LINE_LONE_CR;
				break;
			}
			cr = 0;
		} else if (t[i] == '\r') {
			cr = 1;
			continue;
		} else if (t[i] == '\n') {
			if (!(flags & MPS_BUF_LINE_BARE_LF)) {
				o->fault = MPS_BUF_LINE_LONE_LF;
				break;
			}
		} else {
			if (cur == max) {
				o->fault = MPS_BUF_LINE_TOO_LONG;
				break;
			}
			cur++;
			continue;
		}
		o->lines++;
		o->content += cur;
		cur = 0;
	}
	o->err_at = i;
}

static void
line_by_lines(const uint8_t *t, size_t len, size_t max, unsigned flags,
    struct line_outcome *o)
{
	mps_buf_t b;
	mps_buf_line_t lr;
	const uint8_t *p;
	size_t have = 0, start = 0, n;
	apr_status_t rv;

	memset(o, 0, sizeof(*o));
	mps_buf_line_init(&lr, max, flags);
	for (;;) {
		/* The caller's bytes grow by a random amount each time. */
		have += rng_below(5);
		if (have > len)
			have = len;
		mps_buf_view(&b, t, have);
		(void)mps_buf_consume(&b, start);
		rv = mps_buf_get_line(&b, &lr, &p, &n);
		if (rv == APR_SUCCESS) {
			REQUIRE(p == t + start, "line not at its start");
			REQUIRE(memchr(p, '\r', n) == NULL &&
			    memchr(p, '\n', n) == NULL, "line end in a line");
			o->lines++;
			o->content += n;
			start = have - mps_buf_len(&b);
			continue;
		}
		if (rv == MPS_NEED_MORE) {
			REQUIRE(mps_buf_len(&b) == have - start,
			    "need-more consumed");
			if (have == len)
				break;
			continue;
		}
		REQUIRE(rv == line_status_of(lr.fault), "status and fault");
		o->fault = lr.fault;
		break;
	}
	o->err_at = o->fault != MPS_BUF_LINE_OK ?
	    start + lr.len + (lr.cr ? 1 : 0) : len;
}

static void
line_by_parts(const uint8_t *t, size_t len, size_t max, unsigned flags,
    struct line_outcome *o)
{
	mps_buf_t b;
	mps_buf_line_t lr;
	mps_buf_line_part_t part;
	const uint8_t *p;
	size_t off = 0, piece, n, cur = 0;
	apr_status_t rv;
	int after_cr = 0;

	memset(o, 0, sizeof(*o));
	mps_buf_line_init(&lr, max, flags);
	while (off < len) {
		piece = 1 + rng_below(7);
		if (piece > len - off)
			piece = len - off;
		mps_buf_view(&b, t + off, piece);
		for (;;) {
			rv = mps_buf_get_line_part(&b, &lr, &part, &p, &n);
			if (rv != APR_SUCCESS)
				break;
			REQUIRE(p == t + off + piece - mps_buf_len(&b) - n,
			    "part not where it was taken");
			if (part == MPS_BUF_LINE_TEXT) {
				REQUIRE(n >= 1 && !after_cr, "text part");
				REQUIRE(memchr(p, '\r', n) == NULL &&
				    memchr(p, '\n', n) == NULL,
				    "line end in text");
				cur += n;
			} else if (part == MPS_BUF_LINE_CR) {
				REQUIRE(n == 1 && *p == '\r', "CR part");
				after_cr = 1;
			} else {
				REQUIRE(n == 1 && *p == '\n', "LF part");
				o->lines++;
				o->content += cur;
				cur = 0;
				after_cr = 0;
			}
		}
		if (rv != MPS_NEED_MORE) {
			REQUIRE(rv == line_status_of(lr.fault), "status");
			o->fault = lr.fault;
			o->err_at = off + piece - mps_buf_len(&b);
			return;
		}
		REQUIRE(mps_buf_len(&b) == 0, "need-more left bytes");
		off += piece;
	}
	o->err_at = len;
}

START_TEST(test_line_model)
{
	static const uint8_t alphabet[] = { 'a', 'a', 'a', '\r', '\n' };
	uint8_t t[LINE_TEXT];
	struct line_outcome ref, whole, parts;
	size_t round, len, i, max;
	unsigned flags;

	unit_rng_seed(0x11e5eed);
	for (round = 0; round < LINE_ROUNDS; round++) {
		len = rng_below(LINE_TEXT + 1);
		for (i = 0; i < len; i++)
			t[i] = alphabet[rng_below(sizeof(alphabet))];
		max = rng_below(8);
		flags = rng_below(2) ? MPS_BUF_LINE_BARE_LF :
		    MPS_BUF_LINE_CRLF;
		line_reference(t, len, max, flags, &ref);
		line_by_lines(t, len, max, flags, &whole);
		line_by_parts(t, len, max, flags, &parts);
		REQUIRE(whole.lines == ref.lines &&
		    whole.content == ref.content && whole.fault == ref.fault &&
		    whole.err_at == ref.err_at,
		    "round %zu: get_line %zu lines, fault %d at %zu; "
		    "expected %zu, %d at %zu", round, whole.lines,
		    whole.fault, whole.err_at, ref.lines, ref.fault,
		    ref.err_at);
		REQUIRE(parts.lines == ref.lines &&
		    parts.content == ref.content && parts.fault == ref.fault &&
		    parts.err_at == ref.err_at,
		    "round %zu: parts %zu lines, fault %d at %zu; "
		    "expected %zu, %d at %zu", round, parts.lines,
		    parts.fault, parts.err_at, ref.lines, ref.fault,
		    ref.err_at);
	}
}
END_TEST

/* mps_buf_send: everything in order while the socket takes it, the rest
 * kept at EAGAIN, and a peer gone an error (no SIGPIPE). */
START_TEST(test_send)
{
	mps_buf_t b;
	int sv[2];
	size_t sent = 0, got = 0, total = 0;
	uint8_t chunk[4096], back[4096];
	unsigned i;
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_ne(fcntl(sv[0], F_SETFL, O_NONBLOCK), -1);
	mps_buf_init(&b, 4 * 1024 * 1024);
	ck_assert_int_eq(mps_buf_send(&b, sv[0], &sent), 0);	/* empty */
	ck_assert_uint_eq(sent, 0);
	/* More than the socket holds: it stops at EAGAIN, keeping the rest. */
	for (i = 0; i < 512; i++) {
		memset(chunk, (int)(i & 0xff), sizeof(chunk));
		ck_assert_int_eq(mps_buf_put(&b, chunk, sizeof(chunk)),
		    APR_SUCCESS);
	}
	ck_assert_int_eq(mps_buf_send(&b, sv[0], &sent), 0);
	ck_assert_uint_gt(sent, 0);
	ck_assert_uint_eq(sent + mps_buf_len(&b), 512 * sizeof(chunk));
	ck_assert_uint_gt(mps_buf_len(&b), 0);
	/* Drain the far end and send the rest: every byte, in order. */
	while (total < 512 * sizeof(chunk)) {
		if (mps_buf_len(&b) > 0)
			ck_assert_int_eq(mps_buf_send(&b, sv[0], &sent), 0);
		n = read(sv[1], back, sizeof(back));
		ck_assert_int_gt(n, 0);
		for (i = 0; i < (unsigned)n; i++)
			ck_assert_uint_eq(back[i],
			    (uint8_t)(((total + i) / sizeof(chunk)) & 0xff));
		total += (size_t)n;
		got += (size_t)n;
	}
	ck_assert_uint_eq(sent, got);
	ck_assert_uint_eq(mps_buf_len(&b), 0);
	/* The peer gone: -1 with EPIPE, the bytes kept. */
	close(sv[1]);
	ck_assert_int_eq(mps_buf_put(&b, "x", 1), APR_SUCCESS);
	ck_assert_int_eq(mps_buf_send(&b, sv[0], &sent), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(mps_buf_len(&b), 1);
	close(sv[0]);
	mps_buf_free(&b);
}
END_TEST

Suite *
unit_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *r = tcase_create("reader");
	TCase *w = tcase_create("writer");
	TCase *l = tcase_create("lines");
	TCase *m = tcase_create("model");

	tcase_add_test(r, test_view_getters);
	tcase_add_test(r, test_get_bool_values);
	tcase_add_test(r, test_int_getters_short);
	tcase_add_test(r, test_get_bytes_short);
	tcase_add_test(r, test_string_short);
	tcase_add_test(r, test_string_caps);
	tcase_add_test(r, test_cstring);
	tcase_add_test(r, test_peek);
	tcase_add_test(r, test_consume_and_end);
	tcase_add_test(r, test_child_view);
	tcase_add_test(r, test_view_is_readonly);
	suite_add_tcase(s, r);

	tcase_add_test(w, test_writer_puts);
	tcase_add_test(w, test_writer_roundtrip);
	tcase_add_test(w, test_writer_max_size);
	tcase_add_test(w, test_writer_growth);
	tcase_add_test(w, test_reserve_commit);
	tcase_add_test(w, test_free_when_emptied);
	tcase_add_test(w, test_lazy_compaction);
	tcase_add_test(w, test_truncate);
	tcase_add_test(w, test_set_max_size);
	tcase_add_test(w, test_send);
	suite_add_tcase(s, w);

	tcase_add_test(l, test_line_whole);
	tcase_add_test(l, test_line_resumes);
	tcase_add_test(l, test_line_max);
	tcase_add_test(l, test_line_ends);
	tcase_add_test(l, test_line_parts);
	tcase_add_test(l, test_line_model);
	suite_add_tcase(s, l);

	tcase_add_test(m, test_model);
	suite_add_tcase(s, m);
	return s;
}
