/* engine.h: the worker's two loops, partitions and HTTP endpoints. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consumer loop (the caller's thread) reads invoice.events and
 * whatsapp.events in group DUNNING_WORKER_GROUP, applies batches of events
 * to Redis (apply.h) and stores their offsets only after the batch is in
 * Redis. Rebalance hooks keep the set of owned partitions: a revoked
 * partition's pending events are flushed, and the timer has finished its
 * batch on it, before the partition is given up.
 *
 * The timer loop (its own thread) polls the delay-queue shards of the
 * owned partitions (fire.h): it claims in bounded batches while there is a
 * backlog, and otherwise sleeps until the earliest entry or lease expiry,
 * but never longer than DUNNING_WORKER_POLL_MS real ms, so an entry added
 * meanwhile with an earlier instant is still served on time. Redis
 * failures are retried every poll interval, so nothing waits more than a
 * few seconds once Redis is back.
 *
 * GET /metrics and /healthz are served on DUNNING_WORKER_HTTP_PORT.
 */
#ifndef DUNNING_ENGINE_H
#define DUNNING_ENGINE_H

#include <stddef.h>

#include "config.h" /* the key table's element type */

struct engine;
struct workflow;

/* The worker's settings (docs/configuration.md, section dunning-worker). */
extern const struct config_key engine_config_keys[];

/*
 * Connects to Redis and Kafka, subscribes, starts the HTTP server (its
 * port in engine_http_port). cfg and wf are borrowed for the engine's
 * life. Returns NULL with the reason.
 */
struct engine *engine_new(const struct config *cfg, const struct workflow *wf,
			  char *err, size_t errlen);

/* The port /metrics and /healthz listen on. */
int engine_http_port(const struct engine *e);

/*
 * Runs both loops until shutdown_requested(); then stops the timer,
 * flushes and commits what is applied. Returns 0, or an error that
 * stopped the worker.
 */
int engine_run(struct engine *e);

/* Stops everything still running and frees; accepts NULL. */
void engine_free(struct engine *e);

#endif
