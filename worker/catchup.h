/* catchup.h: whether a newly owned partition's backlog is applied yet. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker that gets a partition (at start, or from a worker that died)
 * must not fire its reminders before it has applied what was written to
 * that partition before it got it: a payment, an opt-out or a reply still
 * waiting there would otherwise be chased. This module keeps, per topic
 * and partition, the offset a new owner must reach:
 *
 *   assigned ──ask──▶ target known ──applied past it──▶ ready
 *
 * "ask" is the caller's question to the broker (kafka_consumer_backlog):
 * where the group resumes and where the partition ends. A partition is
 * ready when it resumes at its end, or once a message at or after end - 1
 * is applied. It stays ready until it is revoked or assigned again; what
 * is written after the ask is applied as usual and needs no gate.
 *
 * Topics are small indices (0 .. topics - 1) chosen by the caller;
 * partitions are 0 .. partitions - 1, others are ignored. All functions
 * are thread-safe: the consumer thread reports assignments and applied
 * offsets while timer threads ask for readiness.
 */
#ifndef DUNNING_CATCHUP_H
#define DUNNING_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct catchup;

/*
 * Asks where topic/partition resumes (*from) and ends (*end); returns 0,
 * or nonzero with the reason in err. May block.
 */
typedef int (*catchup_ask_fn)(void *ctx, int topic, int32_t partition,
			      int64_t *from, int64_t *end, char *err,
			      size_t errlen);

/* A tracker of topics x partitions, none assigned; NULL when out of
 * memory. ask and ctx are borrowed for its life. */
struct catchup *catchup_new(int topics, int32_t partitions, catchup_ask_fn ask,
			    void *ctx);
void catchup_free(struct catchup *c);

/* The partition was assigned (true) or given up (false): whatever was
 * known of it is forgotten, and an ask in progress is ignored. */
void catchup_assign(struct catchup *c, int topic, int32_t partition,
		    bool assigned);

/* The message at offset of topic/partition is applied and durable. */
void catchup_applied(struct catchup *c, int topic, int32_t partition,
		     int64_t offset);

/*
 * Asks (and so may block) for the target of each topic assigned at
 * partition whose target is not known yet. Returns 0, or nonzero when an
 * ask failed, with the reason in err; it is asked again on the next call.
 * Call it outside locks that the consumer thread may wait for.
 */
int catchup_prepare(struct catchup *c, int32_t partition, char *err,
		    size_t errlen);

/* Whether every topic assigned at partition is ready; never blocks. A
 * partition no topic is assigned at is not ready. */
bool catchup_ready(struct catchup *c, int32_t partition);

/* How many assigned topic partitions are not ready yet. */
size_t catchup_pending(struct catchup *c);

#endif
