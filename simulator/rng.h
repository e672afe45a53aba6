/* rng.h: seeded, reproducible random decisions for the simulator. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two ways to draw: a stream (struct rng, one per thread or under the
 * owner's lock) for choices whose order does not matter, and a stateless
 * hash of a seed and a text for choices that must come out the same
 * whatever order events arrive in ("does customer C read reminder R?").
 * Both use SplitMix64 steps, which is plenty for test behaviour and is not
 * meant for anything secret.
 */
#ifndef DUNNING_SIM_RNG_H
#define DUNNING_SIM_RNG_H

#include <stddef.h>
#include <stdint.h>

struct rng {
	uint64_t state;
};

/* Starts a stream at seed. */
void rng_init(struct rng *r, uint64_t seed);

/* Next 64 random bits of the stream. */
uint64_t rng_next(struct rng *r);

/* A value in [0, bound) from the stream; 0 when bound is 0. */
uint64_t rng_below(struct rng *r, uint64_t bound);

/* True with probability permille / 1000. */
int rng_permille(struct rng *r, int64_t permille);

/*
 * 64 bits derived from seed, text and salt only (FNV-1a then a SplitMix64
 * finish), for decisions that must not depend on arrival order. text may
 * not be NULL.
 */
uint64_t rng_hash(uint64_t seed, const char *text, uint64_t salt);

/* True with probability permille / 1000, decided by rng_hash. */
int rng_hash_permille(uint64_t seed, const char *text, uint64_t salt,
		      int64_t permille);

#endif
