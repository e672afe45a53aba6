/* ratelimit.h: token buckets per key, for WhatsApp's throughput limits. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each key (a phone number id, or a sender and recipient pair) has a
 * bucket of at most `burst` tokens, refilled by `amount` tokens every
 * `interval_ms`; a message takes one token or is refused. Time is given by
 * the caller (real for messages per second, product time for the pair
 * limit), so the limiter is deterministic under test. Not thread-safe: the
 * owner locks.
 */
#ifndef DUNNING_SIM_RATELIMIT_H
#define DUNNING_SIM_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* burst, amount and interval_ms are at least 1. Caller frees with
 * ratelimit_free. NULL when out of memory. */
struct ratelimit *ratelimit_new(int64_t burst, int64_t amount,
				int64_t interval_ms);
void ratelimit_free(struct ratelimit *rl);

/* Takes a token from key's bucket at now_ms: 1 when allowed, 0 when the
 * bucket is empty (or when out of memory, refusing rather than crashing). */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms);

#endif
