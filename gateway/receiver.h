/* receiver.h: the webhook endpoint and the thread that turns it into events. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serves, on DUNNING_GATEWAY_HTTP_PORT:
 *
 *   GET  /webhook   the subscription handshake (hub.mode, hub.verify_token,
 *                   hub.challenge)
 *   POST /webhook   Meta's callbacks: 401 without a valid
 *                   X-Hub-Signature-256 (nothing produced), 400 for a body
 *                   that is not JSON, 503 when the queue is full (Meta
 *                   delivers again), else 200 at once
 *   GET  /metrics, /healthz (503 while sending is halted)
 *
 * The HTTP thread only checks and parses; a second thread, the event
 * thread, looks every status and message up in Redis and produces message
 * events, so the answer never waits for Redis or Kafka.
 *
 * Statuses are matched to the command through the message id recorded at
 * send time or, when the status overtakes that record, through
 * biz_opaque_callback_data; they only move forward (read stays read).
 * Inbound messages are matched through the message they answer
 * (context.id) or, when they start a conversation, through the customer's
 * WhatsApp id or phone; they are deduplicated by message id and open the
 * 24-hour customer-service window. Anything that cannot be matched is
 * counted and skipped; the rest of the batch goes on.
 */
#ifndef DUNNING_RECEIVER_H
#define DUNNING_RECEIVER_H

#include <stddef.h>

struct config;
struct metrics;
struct receiver;

/* The health check the HTTP server calls: NULL when healthy. */
typedef const char *(*receiver_health_fn)(void *ctx);

/*
 * Starts the event thread and the HTTP server. cfg, metrics and
 * health_ctx are borrowed for the receiver's life. Returns NULL with the
 * reason in err.
 */
struct receiver *receiver_new(const struct config *cfg, struct metrics *metrics,
			      receiver_health_fn health, void *health_ctx,
			      char *err, size_t errlen);

/* The port the HTTP server listens on. */
int receiver_port(const struct receiver *r);

/* Stops the server, lets the event thread finish the queue, frees. */
void receiver_free(struct receiver *r);

#endif
