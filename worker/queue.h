/* queue.h: the per-partition delay queue and its leases. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One entry per open invoice in dn:{pN}:q, scored by its next action
 * instant on the product clock (state.h). Claiming moves due entries, in
 * bounded batches, to dn:{pN}:lease scored by a lease expiry on the real
 * clock; an entry whose lease expired (its worker died) is claimed again
 * by the next claim of whoever owns the partition, continuously. The
 * claimer either commits (commit.lua: next instant, lease released) or
 * dies and the lease runs out. All of it is claim.lua, one atomic call.
 */
#ifndef DUNNING_QUEUE_H
#define DUNNING_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct store;

#define QUEUE_BATCH_MAX 1024

/* One claimed entry. */
struct queue_entry {
	char *member; /* "tenant/customer" SEP "invoice", owned */
	size_t member_len;
	int64_t due_ms; /* its score; -1 when reclaimed from a dead lease */
};

struct queue_claim {
	struct queue_entry entries[QUEUE_BATCH_MAX];
	size_t count;
	int64_t next_due_ms;   /* earliest entry left in the queue, or -1 */
	int64_t next_lease_ms; /* earliest lease expiry (real), or -1 */
};

/* Registers claim.lua with store; returns the script index for
 * queue_claim, or -1. */
int queue_register(struct store *store);

/*
 * Claims up to limit (<= QUEUE_BATCH_MAX) entries of partition due at
 * now_ms (product clock), with a lease of lease_ms real milliseconds from
 * real_now_ms. Fills out (release with queue_claim_release, also on
 * error). Returns 0, or DN_ERR_REDIS with the reason in err.
 */
int queue_claim(struct store *store, int script, int32_t partition,
		int64_t now_ms, int64_t real_now_ms, int64_t lease_ms,
		size_t limit, struct queue_claim *out, char *err,
		size_t errlen);

void queue_claim_release(struct queue_claim *claim);

#endif
