/* apply.h: applying ledger and message events to Redis, in batches. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each Kafka message of invoice.events (LedgerEvent) or whatsapp.events
 * (MessageEvent) becomes one event for apply.lua on the customer's hash in
 * the message's partition. Events are queued and applied by apply_flush:
 * one apply.lua call per partition (up to 256 events a call, in the order
 * they came), every call in one pipeline; the consumer stores the
 * messages' offsets only after a flush succeeded (offsets follow state).
 * Applying an event twice changes nothing (apply.lua), so a replay after a
 * crash is harmless. An event that fails in Redis is logged and counted,
 * and costs only itself: the others of its call are applied all the same.
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
 * that thread calls schedule_thread_release() before it exits.
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

/* Events queued and not yet flushed. */
size_t apply_pending(const struct apply *a);

/*
 * Applies every queued event, as one pipeline of apply.lua calls. Returns
 * 0 (the queue is empty again) or DN_ERR_REDIS with the reason in err when
 * Redis could not be reached, the events staying queued for the next
 * attempt (some may have been applied: applying them again changes
 * nothing).
 */
int apply_flush(struct apply *a, char *err, size_t errlen);

/* Whether text, a whole message typed by a customer, asks to stop
 * reminders. */
bool apply_is_opt_out(const char *text);

#endif
