/* webhook.h: calling the gateway's webhook the way Meta does. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Statuses and inbound messages are queued with the product instant at
 * which they happen; one thread of its own posts each when the product
 * clock reaches it, signed with X-Hub-Signature-256, using libcurl.
 *
 * Like Meta, the queue
 * - batches: with probability batch_permille, statuses of the same
 *   business number that are due together go in one call (up to 10);
 * - repeats: with probability duplicate_permille a status is queued a
 *   second time a little later (webhooks are delivered at least once);
 * - retries: a call that fails or is not answered 2xx is tried again with
 *   a growing back-off (real time) until give_up_ms real milliseconds
 *   after its first attempt, then dropped and counted.
 * Out-of-order delivery is the callers' business: they choose the
 * instants (a "read" may be queued before its "delivered").
 */
#ifndef DUNNING_SIM_WEBHOOK_H
#define DUNNING_SIM_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct payload_sender;
struct payload_status;
struct payload_inbound;
struct stats;
struct webhook;

/* Most calls waiting; queueing past it fails with DN_ERR_TOO_LARGE. */
#define WEBHOOK_QUEUE_MAX 1000000

struct webhook_config {
	const char *url;	/* empty or NULL: calls are counted, not made */
	const char *app_secret; /* signs the calls */
	const char *waba_id;	/* entry[].id */
	uint64_t seed;
	int64_t batch_permille;
	int64_t duplicate_permille;
	int64_t duplicate_delay_ms; /* product ms after the first copy */
	int64_t timeout_ms;	    /* per call, real */
	int64_t give_up_ms;	    /* real */
};

/*
 * Starts the sender thread. cfg's strings are copied; stats is borrowed
 * for the webhook's life. Returns NULL with the reason in err.
 */
struct webhook *webhook_new(const struct webhook_config *cfg,
			    struct stats *stats, char *err, size_t errlen);

/* Stops the thread (calls still queued are dropped) and frees; accepts
 * NULL. */
void webhook_free(struct webhook *w);

/*
 * Queues status of sender for the product instant status->at_ms. Copies
 * both. Safe from any thread. Returns 0 or DN_ERR_TOO_LARGE / NOMEM.
 */
int webhook_queue_status(struct webhook *w, const struct payload_sender *sender,
			 const struct payload_status *status);

/* Queues an inbound message for msg->at_ms. Same contract. */
int webhook_queue_inbound(struct webhook *w,
			  const struct payload_sender *sender,
			  const struct payload_inbound *msg);

/* Calls waiting (including retries). */
size_t webhook_pending(struct webhook *w);

#endif
