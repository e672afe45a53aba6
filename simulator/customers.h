/* customers.h: the simulated customers and their ERP. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * With DUNNING_SIM_CUSTOMERS the simulator plays both ends the product
 * does not own:
 *
 * - the ERP: a consumer of invoice.events (group "dunning-simulator-erp",
 *   offsets never committed, so every start rebuilds the mirror from the
 *   topic) keeps the ledger as the ERP knows it (mirror.h), and payments
 *   go back as LedgerEvent PaymentReceived on invoice.events, keyed
 *   "tenant/customer_id", with payment_id "<invoice_id>/settled" and the
 *   outstanding amount, exactly as an ERP export would report them;
 * - the customers: each accepted message is judged (sent after paid,
 *   sent without opt-in, sent after the customer opted out) and handed to
 *   the behaviour model (behaviour.h), whose read status, reply and
 *   payment are scheduled on the product clock.
 *
 * Invoice numbers of a template message are its parameter {{2}},
 * ", "-separated. Threads: one consumer, one payer; on_message runs on the
 * HTTP threads.
 */
#ifndef DUNNING_SIM_CUSTOMERS_H
#define DUNNING_SIM_CUSTOMERS_H

#include <stddef.h>
#include <stdint.h>

struct api;
struct api_message;
struct catalogue;
struct config;
struct customers;
struct mirror;
struct stats;
struct webhook;

struct customers_config {
	uint64_t seed;
	int64_t pay_effect_permille;
	int64_t reply_permille;	  /* < 0: per segment */
	int64_t opt_out_permille; /* of replies */
	int64_t paid_grace_ms;	  /* product ms */
};

/*
 * Starts the ERP consumer and the payer. cfg (Kafka settings and topics),
 * cat, api, webhook and stats are borrowed for the object's life. Returns
 * NULL with the reason in err.
 */
struct customers *customers_new(const struct config *cfg,
				const struct customers_config *cc,
				const struct catalogue *cat, struct api *api,
				struct webhook *webhook, struct stats *stats,
				char *err, size_t errlen);

/* Stops both threads, flushes payments produced, frees; accepts NULL. */
void customers_free(struct customers *c);

/* The audience hook for api_set_audience; ctx is the customers object.
 * Runs on an HTTP thread. */
void customers_on_message(void *ctx, const struct api_message *msg);

/* Splits a {{2}} parameter ("F-1, F-2") into at most max invoice ids
 * written into ids (each of size idlen). Returns how many. */
size_t customers_split_invoices(const char *param, char ids[][96], size_t max);

#endif
