/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http_response.c: the HTTP proxy's streaming response framer
 * (server/console/http_response.c) under a fuzzer.
 *
 * Input: one control byte, then what the upstream sends. Bit 0 of the
 * control byte says the requests were HEAD, bit 1 picks small limits
 * (so that the fuzzer reaches them). The bytes are framed response after
 * response, as the proxy does: a new framer after each end, until an
 * error, a 101 or the end of the input.
 *
 * Checks beyond "no crash":
 *  - every call keeps the contract: *used <= len, MPS_NEED_MORE takes
 *    every byte, a result is sticky (same answer, nothing taken);
 *  - fed whole, one byte at a time (with empty feeds between) and in
 *    pieces whose sizes come from the input, the framer finds the same
 *    boundaries, results and reasons;
 *  - an ended response has a final head, r->total is exactly its bytes,
 *    and a body delimited by the close always means r->close.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "http_response.h"
#include "mps_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXR	64

struct outcome {
	size_t n;			/* responses seen (ended or not) */
	size_t end[MAXR];		/* input offset after each */
	apr_status_t rv[MAXR];
	apr_status_t eof;		/* mps_http_resp_eof() on the last */
	const char *why[MAXR];
	unsigned status[MAXR];
	int close[MAXR];
};

static void
check(int cond)
{
	if (!cond)
		abort();
}

/* Slice sizes: 0 = all at once, 1 = one byte (then an empty feed),
 * 2 = 1 to 16 bytes from a generator seeded by the input. */
static size_t
next_piece(int mode, uint32_t *seed, size_t left)
{
	size_t n;

	if (mode == 0)
		return left;
	if (mode == 1)
		return left > 0 ? 1 : 0;
	*seed = *seed * 1103515245u + 12345u;
	n = 1 + ((*seed >> 16) & 15);
	return n < left ? n : left;
}

static void
note(struct outcome *o, const mps_http_resp_t *r, apr_status_t rv,
    size_t end)
{
	o->end[o->n] = end;
	o->rv[o->n] = rv;
	o->why[o->n] = r->why;
	o->status[o->n] = r->status;
	o->close[o->n] = r->close;
	o->n++;
}

static void
frame(const uint8_t *data, size_t len, int head,
    const mps_http_limits_t *lim, int mode, uint32_t seed,
    struct outcome *o)
{
	mps_http_resp_t r;
	size_t off = 0, start = 0, piece, used;
	int active = 0;
	apr_status_t rv = MPS_NEED_MORE;

	memset(o, 0, sizeof(*o));
	while (off < len && o->n < MAXR) {
		piece = next_piece(mode, &seed, len - off);
		while (o->n < MAXR) {
			if (!active) {
				if (piece == 0)
					break;
				mps_http_resp_init(&r, head, lim);
				start = off;
				active = 1;
			}
			rv = mps_http_resp_feed(&r, data + off, piece, &used);
			check(used <= piece);
			if (rv == MPS_NEED_MORE) {
				check(used == piece);
				off += used;
				if (mode == 1) {	/* an empty feed */
					rv = mps_http_resp_feed(&r, data + off,
					    0, &used);
					check(rv == MPS_NEED_MORE && used == 0);
				}
				break;
			}
			off += used;
			piece -= used;
			check(r.total == off - start);
			note(o, &r, rv, off);
			active = 0;
			check(mps_http_resp_feed(&r, data + off, len - off,
			    &used) == rv && used == 0);
			if (rv != APR_SUCCESS) {
				check(r.why != NULL);
				return;
			}
			check(r.head_done);
			check(!r.until_close || r.close);
			if (r.upgraded)
				return;
		}
	}
	if (active && o->n < MAXR) {
		check(r.total == off - start);
		check(!r.until_close || r.close);
		note(o, &r, rv, off);
		o->eof = mps_http_resp_eof(&r);
		check(o->eof == APR_SUCCESS || o->eof == APR_EOF);
		check(o->eof == APR_SUCCESS || r.why != NULL);
	}
}

static int
same(const struct outcome *a, const struct outcome *b)
{
	size_t i;

	if (a->n != b->n || a->eof != b->eof)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (a->end[i] != b->end[i] || a->rv[i] != b->rv[i] ||
		    a->why[i] != b->why[i] || a->status[i] != b->status[i] ||
		    a->close[i] != b->close[i])
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const mps_http_limits_t small = { 256, 64, 8 };
	static struct outcome whole, bytes, pieces;
	const mps_http_limits_t *lim;
	uint32_t seed = 0;
	size_t i;
	int head;

	if (size == 0)
		return 0;
	head = data[0] & 1;
	lim = (data[0] & 2) ? &small : NULL;
	for (i = 0; i < size; i++)
		seed = seed * 31 + data[i];
	data++;
	size--;
	frame(data, size, head, lim, 0, seed, &whole);
	frame(data, size, head, lim, 1, seed, &bytes);
	frame(data, size, head, lim, 2, seed, &pieces);
	check(same(&whole, &bytes));
	check(same(&whole, &pieces));
	return 0;
}
