/* pacing.h: how fast the gateway may send, per sender and per recipient. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Three rules, all plain arithmetic on instants given by the caller (real
 * milliseconds, so tests need no clock):
 *
 * - a token bucket per sender phone number id refills at the configured
 *   messages per second; its burst is one twentieth of a second's worth
 *   (at least one message), so a second never holds more than the rate
 *   plus that small burst. After a throughput error the rate is halved
 *   (down to one per second) and climbs back by a tenth of the configured
 *   rate per second without errors;
 * - spacing per recipient: at least pair_spacing_ms between two messages
 *   to the same person (WhatsApp's pair rate limit, about one every six
 *   seconds);
 * - retry delays: exponential from a base, capped, with jitter.
 *
 * One struct pacing belongs to one thread. The recipient table holds up to
 * PACING_RECIPIENTS_MAX people; the entry used longest ago is reused.
 */
#ifndef DUNNING_PACING_H
#define DUNNING_PACING_H

#include <stdbool.h>
#include <stdint.h>

#define PACING_SENDERS_MAX    64
#define PACING_RECIPIENTS_MAX 65536

struct pacing;

/*
 * mps: messages per second per sender; bucket false turns the token bucket
 * off (pair spacing stays, unless pair_spacing_ms is 0). Caller frees with
 * pacing_free. Returns NULL when out of memory.
 */
struct pacing *pacing_new(int64_t mps, bool bucket, int64_t pair_spacing_ms);
void pacing_free(struct pacing *p);

/*
 * Asks to send now_ms from sender to recipient. Returns 0 and takes a
 * token and the recipient's slot when the message may go now; otherwise
 * takes nothing and returns the milliseconds to wait (at least 1).
 */
int64_t pacing_reserve(struct pacing *p, const char *sender,
		       const char *recipient, int64_t now_ms);

/*
 * Milliseconds until sender's bucket holds a token (0: now), taking
 * nothing; always 0 when the bucket is off.
 */
int64_t pacing_sender_wait(struct pacing *p, const char *sender,
			   int64_t now_ms);

/* A throughput error came back for sender: halve its rate. */
void pacing_throttled(struct pacing *p, const char *sender, int64_t now_ms);

/* A pair rate error came back for recipient: hold them a full spacing. */
void pacing_pair_limited(struct pacing *p, const char *recipient,
			 int64_t now_ms);

/* Current rate of sender in messages per second (for metrics, tests). */
int64_t pacing_rate(const struct pacing *p, const char *sender);

/*
 * Delay before retry attempt (1 for the first retry): base_ms * 2^(attempt
 * - 1), capped at max_ms, then scaled into [half, whole] by random, a
 * number from 0 to 1023 (the jitter).
 */
int64_t pacing_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
			  unsigned random);

#endif
