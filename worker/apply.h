/* apply.h: applying ledger and message events to Redis, in batches. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each Kafka message of invoice.events (LedgerEvent) or whatsapp.events
 * (MessageEvent) becomes one event for apply.lua on the customer's hash in
 * the message's partition. Events are queued in a batch and applied one
 * apply.lua call per partition (up to 256 events a call, in the order
 * they came), every call of a batch in one pipeline. apply_send sends the
 * queued batch and returns at once, so that the next batch is read and
 * decoded while Redis applies this one; the next apply_send, or
 * apply_flush, reads its results. The consumer stores the messages'
 * offsets only once they are reported applied (offsets follow state).
 * Applying an event twice changes nothing (apply.lua), so a replay after
 * a crash, or a batch sent again after Redis failed, is harmless. An event
 * that fails in Redis is logged and counted, and costs only itself: the
 * others of its call are applied all the same.
 *
 * A message that cannot be decoded or fails validation is dead-lettered
 * at once with the reason and counts as handled. A reply made only of an
 * opt-out keyword (STOP and its usual equivalents in Catalan, Spanish,
 * English, Portuguese and French) or the button payload "stop" records the
 * opt-out and takes every invoice of the customer out of the queue.
 *
 * A new invoice of a known customer is planned right away: its first
 * action is computed from the workflow in the customer's time zone (read
 * in one pipeline before the flush) and becomes its delay-queue score.
 * Any other change queues the invoice at "now" for the timer to plan.
 *
 * One struct apply belongs to one thread (it owns no store: it borrows);
 * that thread calls schedule_thread_release() before it exits. While a
 * batch is in flight its replies are owed on the store, which nothing
 * else may use until apply_send or apply_flush returns.
 */
#ifndef DUNNING_APPLY_H
#define DUNNING_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rd_kafka_message_s rd_kafka_message_t;

struct apply;
struct config;
struct kafka_producer;
struct metrics;
struct store;
struct workflow;

#define APPLY_BATCH_MAX 1024

/*
 * store, producer (for dead letters), wf (the workflow, to plan a new
 * invoice's first action) and metrics (may be NULL) are borrowed for the
 * life of the struct. Returns NULL with the reason.
 */
struct apply *apply_new(const struct config *cfg, struct store *store,
			struct kafka_producer *producer,
			const struct workflow *wf, struct metrics *metrics,
			char *err, size_t errlen);

void apply_free(struct apply *a);

/*
 * Queues what msg changes. Returns 0 when msg was queued or dead-lettered
 * (both mean: store its offset after the next successful flush), or
 * DN_ERR_KAFKA if the dead letter itself could not be produced.
 */
int apply_add(struct apply *a, const rd_kafka_message_t *msg);

/* Events queued and not yet sent. */
size_t apply_pending(const struct apply *a);

/*
 * Collects the batch in flight, if any, then sends the queued events as
 * the new batch in flight, without waiting for Redis. Returns 0 with
 * *done set to how many of the messages given to apply_add, the first
 * ones, are now applied (or dead-lettered): their offsets may be stored;
 * the others are in flight. Returns DN_ERR_REDIS with the reason in err
 * and *done 0 when Redis failed: nothing is lost, apply_flush applies
 * everything again (some events may have been applied: applying them
 * again changes nothing).
 */
int apply_send(struct apply *a, size_t *done, char *err, size_t errlen);

/*
 * Applies every event given so far, in flight or queued, and waits for
 * them. Returns 0 (every message given to apply_add is applied, or
 * dead-lettered) or DN_ERR_REDIS with the reason in err when Redis could
 * not be reached, the events staying for the next attempt.
 */
int apply_flush(struct apply *a, char *err, size_t errlen);

/* Whether text, a whole message typed by a customer, asks to stop
 * reminders. */
bool apply_is_opt_out(const char *text);

#endif
