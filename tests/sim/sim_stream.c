/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_stream.c: the seeded byte stream of --target PORT=source:BYTES.
 *
 * The very stream tests/peers/bytepump sends and checks: xoshiro256**
 * (Blackman and Vigna) seeded through splitmix64, each 64-bit output
 * laid down as 8 little-endian bytes. Being the same stream, a bytepump
 * console given --peer-seed SEED checks every byte a simulated device
 * sends and names the first offset that differs.
 */
#include "sim.h"

#include <string.h>

static uint64_t
splitmix64_next(uint64_t *x)
{
	uint64_t z;

	*x += 0x9e3779b97f4a7c15ull;
	z = *x;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t
rot_left(uint64_t v, unsigned k)
{
	return (v << k) | (v >> (64 - k));
}

static uint64_t
xoshiro_next(uint64_t st[4])
{
	uint64_t out = rot_left(st[1] * 5, 7) * 9;
	uint64_t shifted = st[1] << 17;

	st[2] ^= st[0];
	st[3] ^= st[1];
	st[1] ^= st[2];
	st[0] ^= st[3];
	st[2] ^= shifted;
	st[3] = rot_left(st[3], 45);
	return out;
}

void
sim_stream_init(sim_stream *st, uint64_t seed)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		st->s[i] = splitmix64_next(&seed);
	st->used = 8;		/* no word drawn yet */
}

void
sim_stream_fill(sim_stream *st, uint8_t *p, size_t n)
{
	uint64_t w;
	unsigned i;

	while (n > 0) {
		if (st->used == 8) {
			/* Little-endian, whatever the host. */
			w = xoshiro_next(st->s);
			for (i = 0; i < 8; i++)
				st->word[i] = (uint8_t)(w >> (8 * i));
			st->used = 0;
			/* Whole words straight through while they last. */
			if (n >= 8) {
				memcpy(p, st->word, 8);
				p += 8;
				n -= 8;
				st->used = 8;
				continue;
			}
		}
		*p++ = st->word[st->used++];
		n--;
	}
}
