/* stats.h: the simulator's counters, served as JSON at GET /sim/stats. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counters are updated from the HTTP threads, the webhook thread and the
 * ERP threads; every update is atomic. The JSON has one integer field per
 * counter (names as in stats_counter_name) plus "rejected_by_code" and
 * "accepted_by_template" objects.
 */
#ifndef DUNNING_SIM_STATS_H
#define DUNNING_SIM_STATS_H

#include <stdint.h>

enum stats_counter {
	STATS_MESSAGES_ACCEPTED,   /* 200 answers to messages requests */
	STATS_MESSAGES_REJECTED,   /* error answers, token errors included */
	STATS_RATE_LIMITED,	   /* of which 130429 and 131056 */
	STATS_TOKEN_REJECTED,	   /* of which 190 */
	STATS_INJECTED_ERRORS,	   /* random 5xx answers */
	STATS_SLOW_ANSWERS,	   /* answers delayed on purpose */
	STATS_DUPLICATES_RECEIVED, /* biz_opaque_callback_data seen before */
	STATS_WEBHOOKS_SENT,	   /* webhook calls answered 2xx */
	STATS_WEBHOOKS_FAILED,	   /* attempts that failed (retried) */
	STATS_WEBHOOKS_DROPPED,	   /* calls given up after retrying */
	STATS_STATUSES_SENT,	   /* statuses inside delivered calls */
	STATS_STATUSES_FAILED,	   /* "failed" statuses queued */
	STATS_READS,		   /* "read" statuses queued */
	STATS_REPLIES_SENT,	   /* inbound messages queued */
	STATS_OPT_OUTS,		   /* of which opt-out words or buttons */
	STATS_PAYMENTS_MADE,	   /* PaymentReceived produced */
	STATS_SENT_AFTER_PAID,	   /* messages about invoices already paid */
	STATS_SENT_AFTER_OPT_OUT,  /* messages after the customer said stop */
	STATS_SENT_WITHOUT_OPT_IN, /* messages to customers not opted in */
	STATS_LEDGER_EVENTS,	   /* invoice.events messages mirrored */
	STATS_UNKNOWN_INVOICES,	   /* invoice numbers the mirror lacks */
	STATS_COUNTER_COUNT,
};

struct stats;

/* Caller frees with stats_free. */
struct stats *stats_new(void);
void stats_free(struct stats *st);

void stats_add(struct stats *st, enum stats_counter counter, int64_t delta);
int64_t stats_get(const struct stats *st, enum stats_counter counter);

/* The JSON field name of counter, e.g. "messages_accepted". */
const char *stats_counter_name(enum stats_counter counter);

/* Counts a refusal under its WhatsApp code. */
void stats_rejected_code(struct stats *st, int code);

/* Counts an accepted message under its template name ("text" for text). */
void stats_accepted_template(struct stats *st, const char *name);

/* The counters as a JSON object; caller frees. NULL when out of memory. */
char *stats_render(struct stats *st);

#endif
