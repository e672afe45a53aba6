/* rng.c: SplitMix64 streams and order-free hashes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "rng.h"

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_init(struct rng *r, uint64_t seed)
{
	r->state = seed;
}

uint64_t rng_next(struct rng *r)
{
	r->state += 0x9e3779b97f4a7c15ULL;
	return mix(r->state);
}

uint64_t rng_below(struct rng *r, uint64_t bound)
{
	return bound ? rng_next(r) % bound : 0;
}

int rng_permille(struct rng *r, int64_t permille)
{
	if (permille <= 0)
		return 0;
	if (permille >= 1000)
		return 1;
	return (int64_t)rng_below(r, 1000) < permille;
}

uint64_t rng_hash(uint64_t seed, const char *text, uint64_t salt)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (; *text; text++) {
		h ^= (unsigned char)*text;
		h *= 0x100000001b3ULL;
	}
	return mix(h + 0x9e3779b97f4a7c15ULL * (salt + 1));
}

int rng_hash_permille(uint64_t seed, const char *text, uint64_t salt,
		      int64_t permille)
{
	if (permille <= 0)
		return 0;
	if (permille >= 1000)
		return 1;
	return (int64_t)(rng_hash(seed, text, salt) % 1000) < permille;
}
