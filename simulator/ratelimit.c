/* ratelimit.c: token buckets counted in token-milliseconds. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ratelimit.h"

#include "strmap.h"

#include <stdlib.h>

/* One token is interval_ms "units"; a millisecond adds amount units, so
 * no fraction of a refill is ever lost to rounding. */
struct bucket {
	int64_t units;
	int64_t last_ms;
};

struct ratelimit {
	struct strmap *buckets;
	int64_t burst, amount, interval_ms;
};

struct ratelimit *ratelimit_new(int64_t burst, int64_t amount,
				int64_t interval_ms)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	rl->buckets = strmap_new();
	if (!rl->buckets) {
		free(rl);
		return NULL;
	}
	rl->burst = burst < 1 ? 1 : burst;
	rl->amount = amount < 1 ? 1 : amount;
	rl->interval_ms = interval_ms < 1 ? 1 : interval_ms;
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	strmap_free(rl->buckets, free);
	free(rl);
}

int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct bucket *b = strmap_get(rl->buckets, key);
	int64_t cap = rl->burst * rl->interval_ms, elapsed;

	if (!b) {
		b = malloc(sizeof(*b));
		if (!b || strmap_put(rl->buckets, key, b, NULL)) {
			free(b);
			return 0;
		}
		b->units = cap;
		b->last_ms = now_ms;
	}

	/* Refill for the time since the last take, up to the burst. */
	elapsed = now_ms - b->last_ms;
	if (elapsed > 0) {
		if (elapsed >= cap)
			b->units = cap;
		else
			b->units += elapsed * rl->amount;
		if (b->units > cap)
			b->units = cap;
		b->last_ms = now_ms;
	}
	if (b->units < rl->interval_ms)
		return 0;
	b->units -= rl->interval_ms;
	return 1;
}
