/* sender.h: the loop that turns send commands into Cloud API calls. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Consumes whatsapp.send in group "dunning-gateway" and, for each command:
 *
 * 1. decodes it (undecodable or incomplete: dead-letter topic);
 * 2. records its id in Redis before anything else; an id recorded before
 *    is never sent again;
 * 3. refuses, with a failed message event, what must not be sent: past
 *    its deadline, free-form text outside the 24-hour window, a template
 *    or parameters WhatsApp would reject;
 * 4. paces it (token bucket per sender number, spacing per recipient) and
 *    calls the API, many calls at once over libcurl multi;
 * 5. records the outcome and produces a message event; once Kafka has
 *    acknowledged the event, the command's offset may be stored.
 *
 * Retryable errors back off exponentially with jitter, up to a bound of
 * attempts. An expired or invalid token, a blocked account or an
 * unregistered sender halts all sending: commands stay in memory and in
 * Kafka (offsets not stored), the halt is logged at error level and shown
 * in /metrics and /healthz, the token file is re-read and one command is
 * tried again every DUNNING_GATEWAY_HALT_RECHECK_MS until it goes through.
 *
 * The sender runs on the thread that calls sender_run.
 */
#ifndef DUNNING_SENDER_H
#define DUNNING_SENDER_H

#include <stddef.h>

struct config;
struct metrics;
struct sender;

/*
 * Builds a sender from configuration (gateway_config_keys): Redis, Kafka
 * consumer and producer, catalogue, HTTP client. cfg and metrics are
 * borrowed for the sender's life. Returns NULL with the reason in err.
 */
struct sender *sender_new(const struct config *cfg, struct metrics *metrics,
			  char *err, size_t errlen);

/* Stops, commits what is done, frees. Accepts NULL. */
void sender_free(struct sender *s);

/* Runs until shutdown_requested(); returns 0 or an error. */
int sender_run(struct sender *s);

/*
 * NULL while sending works, else why it is halted (a static string).
 * Safe from any thread (read by the HTTP server's health check).
 */
const char *sender_halt_reason(const struct sender *s);

#endif
