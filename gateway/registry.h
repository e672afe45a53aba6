/* registry.h: the gateway's memory in Redis (keys gw:...). */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the gateway must remember across restarts and share between its
 * sender and webhook threads (docs/redis-keys.md, section Gateway):
 *
 *   gw:cmd:<command_id>          hash: state (pending, retry, accepted,
 *                                failed, dropped), owner, tenant, customer,
 *                                wa_message_id, reason; 30 days
 *   gw:msg:<wa_message_id>       hash: tenant, customer, command, wa_id,
 *                                rank (highest status); 30 days
 *   gw:who:<phone_number_id>:<wa_id or phone digits>
 *                                "tenant/customer" of a WhatsApp user, for
 *                                messages that start a conversation; 90 days
 *   gw:window:<tenant>/<customer> last inbound message instant (ms); 48 h
 *   gw:seen:<wa_message_id>      inbound message already turned into an
 *                                event; 7 days
 *
 * Before a reminder goes out, registry_still_owed reads the worker's own
 * record of the customer (dn:{pN}:c:<tenant>/<customer>, layout in
 * lib/shard.h; written by the worker only), so that a payment or an opt-out that arrived after the
 * worker decided still stops the message.
 *
 * Each struct registry owns one Redis connection and belongs to one
 * thread. Functions return 0 or DN_ERR_REDIS with the reason in err.
 */
#ifndef DUNNING_REGISTRY_H
#define DUNNING_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define REGISTRY_NAME_MAX 256

struct registry;

/* The customer a message or a WhatsApp user belongs to. */
struct registry_owner {
	char tenant[REGISTRY_NAME_MAX];
	char customer[REGISTRY_NAME_MAX];
	char command[REGISTRY_NAME_MAX * 2]; /* empty when not known */
};

/* Connects; NULL with the reason in err. Caller frees with registry_free. */
struct registry *registry_new(const char *url, int timeout_ms, char *err,
			      size_t errlen);
void registry_free(struct registry *r);

/*
 * Records command_id as pending, owned by owner (this process), unless it
 * was recorded before. *claimed is 1 when it is ours now; otherwise 0 and
 * its recorded state is copied into state (size statelen).
 */
int registry_claim(struct registry *r, const char *command_id,
		   const char *owner, const char *tenant, const char *customer,
		   int *claimed, char *state, size_t statelen, char *err,
		   size_t errlen);

/* Marks a claimed command as safe to send again: the API refused the call
 * (token, account), so nothing went out. */
int registry_release(struct registry *r, const char *command_id, char *err,
		     size_t errlen);

/*
 * Records the command's final state ("failed" or "dropped") and reason.
 */
int registry_finish(struct registry *r, const char *command_id,
		    const char *state, const char *reason, char *err,
		    size_t errlen);

/*
 * Records an accepted send: the command's state and message id, the
 * message's owner, and the WhatsApp identities (wa_id as returned, and
 * the phone digits sent to) of the customer at sender phone_number_id.
 * wa_id may be empty.
 */
int registry_accepted(struct registry *r, const char *command_id,
		      const char *wa_message_id, const char *phone_number_id,
		      const char *wa_id, const char *phone, const char *tenant,
		      const char *customer, char *err, size_t errlen);

/* Owner of a message we sent; DN_ERR_NOT_FOUND when unknown. */
int registry_message_owner(struct registry *r, const char *wa_message_id,
			   struct registry_owner *out, char *err,
			   size_t errlen);

/* Owner of a command by its id (statuses before the send was recorded). */
int registry_command_owner(struct registry *r, const char *command_id,
			   struct registry_owner *out, char *err,
			   size_t errlen);

/* Customer of WhatsApp user wa_id (or phone digits) at phone_number_id. */
int registry_user_owner(struct registry *r, const char *phone_number_id,
			const char *wa_id, struct registry_owner *out,
			char *err, size_t errlen);

/* Keeps wa_id as the customer's identity at phone_number_id. */
int registry_user_remember(struct registry *r, const char *phone_number_id,
			   const char *wa_id, const char *tenant,
			   const char *customer, char *err, size_t errlen);

/*
 * Moves message's status up to rank; *advanced is 1 when it was higher
 * than any seen before, 0 for stale or repeated statuses.
 */
int registry_status_advance(struct registry *r, const char *wa_message_id,
			    int rank, int *advanced, char *err, size_t errlen);

/* The highest status rank recorded for a message (0 when none); reads
 * only: registry_status_advance records one. */
int registry_status_rank(struct registry *r, const char *wa_message_id,
			 int *rank, char *err, size_t errlen);

/* Whether an inbound message was marked handled (*seen 1); reads only. */
int registry_seen_before(struct registry *r, const char *wa_message_id,
			 int *seen, char *err, size_t errlen);

/* Marks an inbound message as handled; *first is 0 when it already was. */
int registry_seen(struct registry *r, const char *wa_message_id, int *first,
		  char *err, size_t errlen);

/* The customer wrote at at_ms: the 24-hour window is open from then. */
int registry_window_open(struct registry *r, const char *tenant,
			 const char *customer, int64_t at_ms, char *err,
			 size_t errlen);

/* Last inbound instant of the customer, 0 when none is known. */
int registry_window_last(struct registry *r, const char *tenant,
			 const char *customer, int64_t *at_ms, char *err,
			 size_t errlen);

/*
 * Whether a reminder about invoice_ids (n of them) of tenant/customer, a
 * customer of Kafka partition, may still go: *why_not is set to the reason
 * when the worker's record says the customer opted out, or that every one
 * of the invoices is closed (paid in full, cancelled, disputed), and to
 * NULL otherwise, also when the worker's record is missing (nothing is
 * known against sending).
 */
/* The two reasons registry_still_owed gives; compare them by address. */
extern const char registry_why_opted_out[];
extern const char registry_why_closed[];

int registry_still_owed(struct registry *r, int32_t partition,
			const char *tenant, const char *customer,
			char *const *invoice_ids, size_t n,
			const char **why_not, char *err, size_t errlen);

#endif
