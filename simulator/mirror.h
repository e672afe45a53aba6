/* mirror.h: the ledger as the customers' ERP knows it. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator plays the ERP that wrote invoice.events, so it keeps the
 * same facts: customers (name, phone, segment, opt-in), invoices (amount,
 * what was paid, when it was paid in full, cancelled, disputed) and which
 * payment ids were applied. It is rebuilt from the topic at every start.
 *
 * It also judges the product: a message about an invoice that was paid in
 * full at least grace_ms (product time) before the message arrived is
 * "sent after paid". This is checked when the message arrives and again
 * when a payment is learnt late (its payment instant is what counts).
 *
 * Safe from any thread (one lock inside).
 */
#ifndef DUNNING_SIM_MIRROR_H
#define DUNNING_SIM_MIRROR_H

#include <stddef.h>
#include <stdint.h>

struct Dunning__V1__LedgerEvent;
struct mirror;

struct mirror_customer {
	char tenant[64];
	char customer_id[128];
	char name[128];
	char locale[16];
	char segment[32];
	char wa_id[20];
	int opted_in; /* the directory says opted in */
};

struct mirror_invoice {
	char tenant[64];
	char invoice_id[96];
	char customer_id[128];
	int64_t amount; /* minor units */
	int64_t paid;	/* minor units received */
	char currency[4];
	int64_t paid_at_ms; /* when paid in full; 0 while open */
	int cancelled;
	int disputed;
};

/* Caller frees with mirror_free. NULL when out of memory. */
struct mirror *mirror_new(int64_t grace_ms);
void mirror_free(struct mirror *m);

/*
 * Applies one ledger event. Returns 0, DN_ERR_INVALID for an event
 * without what its kind needs, or DN_ERR_NOMEM. *late_messages (may be
 * NULL) receives how many messages this event shows to have been sent
 * after the invoice was paid (0 or 1).
 */
int mirror_apply(struct mirror *m, const struct Dunning__V1__LedgerEvent *ev,
		 int *late_messages);

/* Decodes a LedgerEvent from bytes and applies it; DN_ERR_DECODE when
 * the bytes are not one. */
int mirror_apply_bytes(struct mirror *m, const void *buf, size_t len,
		       int *late_messages);

/* The customer whose phone has this wa_id. Returns 0 or
 * DN_ERR_NOT_FOUND. */
int mirror_customer_by_wa_id(struct mirror *m, const char *wa_id,
			     struct mirror_customer *out);

/* An invoice by tenant and id. Returns 0 or DN_ERR_NOT_FOUND. */
int mirror_invoice(struct mirror *m, const char *tenant, const char *invoice_id,
		   struct mirror_invoice *out);

/*
 * Records that a message about tenant/invoice_id arrived at product time
 * at_ms. Returns 1 when the invoice was already paid in full at least
 * grace_ms earlier (the message was sent after paid), 0 otherwise, -1
 * when the invoice is unknown.
 */
int mirror_note_message(struct mirror *m, const char *tenant,
			const char *invoice_id, int64_t at_ms);

/* Counts: customers, invoices, invoices paid in full. */
void mirror_counts(struct mirror *m, size_t *customers, size_t *invoices,
		   size_t *paid);

#endif
