/* progress.h: store a partition's offsets only past finished commands. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Commands finish out of order (retries, pacing, concurrent calls), but a
 * partition's stored offset says "everything before this is done". Each
 * consumed message gets an entry in its partition's queue, in offset
 * order; when an entry is marked done, the done entries at the head of
 * the queue have their offsets stored with the consumer and are freed.
 *
 * After a partition is revoked its old entries are still finished and
 * freed but their offsets are no longer stored (the partition belongs to
 * another member now). One struct progress belongs to one thread.
 */
#ifndef DUNNING_PROGRESS_H
#define DUNNING_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rd_kafka_message_s rd_kafka_message_t;
struct kafka_consumer;
struct progress;
struct progress_entry;

/* consumer is borrowed (NULL in tests: nothing is stored). */
struct progress *progress_new(struct kafka_consumer *consumer);

/* Frees every entry and message, storing nothing. Accepts NULL. */
void progress_free(struct progress *p);

/*
 * Takes ownership of msg and queues it behind earlier messages of its
 * partition. Returns the entry, or NULL when out of memory (msg is then
 * still the caller's).
 */
struct progress_entry *progress_add(struct progress *p,
				    rd_kafka_message_t *msg);

/* The message of an entry, borrowed until the entry is done. */
const rd_kafka_message_t *progress_message(const struct progress_entry *e);

/*
 * Marks e done, stores the offsets of the finished head of its partition
 * and frees those entries (e may be freed: do not use it after).
 */
void progress_done(struct progress *p, struct progress_entry *e);

/* Entries of partition that are not stored any more (revoked). */
void progress_revoke(struct progress *p, const char *topic, int32_t partition);

/* Entries not yet freed. */
size_t progress_pending(const struct progress *p);

/* Offsets stored since the start (for tests and metrics). */
uint64_t progress_stored(const struct progress *p);

#endif
