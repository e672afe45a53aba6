/* mirror.c: customers, invoices and payments from LedgerEvents. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "mirror.h"

#include "error.h"
#include "recipient.h"
#include "strmap.h"

#include "dunning/v1/ledger.pb-c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mirror_entry {
	struct mirror_invoice invoice;
	int64_t version;
	int64_t last_payment_ms; /* latest payment applied, product time */
	int64_t last_message_ms; /* latest message about it, product time */
	int late_counted;	 /* that message was already judged late */
};

struct mirror {
	pthread_mutex_t lock;
	int64_t grace_ms;
	struct strmap *customers; /* tenant/customer_id -> mirror_customer */
	struct strmap *by_wa_id;  /* wa_id -> mirror_customer (borrowed) */
	struct strmap *invoices;  /* tenant/invoice_id -> mirror_entry */
	struct strmap *payments;  /* tenant/payment_id -> marker */
	size_t paid_count;
};

struct mirror *mirror_new(int64_t grace_ms)
{
	struct mirror *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->grace_ms = grace_ms;
	m->customers = strmap_new();
	m->by_wa_id = strmap_new();
	m->invoices = strmap_new();
	m->payments = strmap_new();
	if (!m->customers || !m->by_wa_id || !m->invoices || !m->payments) {
		mirror_free(m);
		return NULL;
	}
	return m;
}

void mirror_free(struct mirror *m)
{
	if (!m)
		return;
	strmap_free(m->customers, free);
	strmap_free(m->by_wa_id, NULL);
	strmap_free(m->invoices, free);
	strmap_free(m->payments, NULL);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void copy_text(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* The entry of tenant/invoice_id, created empty when new. Locked. */
static struct mirror_entry *entry_get(struct mirror *m, const char *tenant,
				      const char *invoice_id,
				      const char *customer_id)
{
	char key[256];
	struct mirror_entry *e;

	snprintf(key, sizeof(key), "%s/%s", tenant, invoice_id);
	e = strmap_get(m->invoices, key);
	if (e)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e || strmap_put(m->invoices, key, e, NULL)) {
		free(e);
		return NULL;
	}
	copy_text(e->invoice.tenant, sizeof(e->invoice.tenant), tenant);
	copy_text(e->invoice.invoice_id, sizeof(e->invoice.invoice_id),
		  invoice_id);
	copy_text(e->invoice.customer_id, sizeof(e->invoice.customer_id),
		  customer_id);
	return e;
}

/* Marks the invoice paid in full when what was received covers it, and
 * judges the latest message about it. Locked. */
static void entry_settle(struct mirror *m, struct mirror_entry *e,
			 int64_t at_ms, int *late)
{
	if (e->invoice.paid_at_ms || e->invoice.amount <= 0 ||
	    e->invoice.paid < e->invoice.amount)
		return;
	e->invoice.paid_at_ms = at_ms;
	m->paid_count++;
	if (e->last_message_ms && !e->late_counted &&
	    at_ms + m->grace_ms <= e->last_message_ms) {
		e->late_counted = 1;
		*late = 1;
	}
}

static int apply_invoice(struct mirror *m, const Dunning__V1__LedgerEvent *ev,
			 const Dunning__V1__InvoiceUpserted *inv, int *late)
{
	struct mirror_entry *e;

	if (!inv->invoice_id[0] || !inv->amount)
		return DN_ERR_INVALID;
	e = entry_get(m, ev->tenant, inv->invoice_id, ev->customer_id);
	if (!e)
		return DN_ERR_NOMEM;
	if (inv->version < e->version)
		return DN_OK;
	e->version = inv->version;
	e->invoice.amount = inv->not_dunnable ? 0 : inv->amount->minor_units;
	copy_text(e->invoice.currency, sizeof(e->invoice.currency),
		  inv->amount->currency);
	copy_text(e->invoice.customer_id, sizeof(e->invoice.customer_id),
		  ev->customer_id);
	if (e->last_payment_ms) /* payments that came before the invoice */
		entry_settle(m, e, e->last_payment_ms, late);
	return DN_OK;
}

static int apply_payment(struct mirror *m, const Dunning__V1__LedgerEvent *ev,
			 const Dunning__V1__PaymentReceived *pay, int *late)
{
	struct mirror_entry *e;
	char key[256];

	if (!pay->invoice_id[0] || !pay->payment_id[0] || !pay->amount)
		return DN_ERR_INVALID;
	snprintf(key, sizeof(key), "%s/%s", ev->tenant, pay->payment_id);
	if (strmap_get(m->payments, key))
		return DN_OK; /* applied before */
	if (strmap_put(m->payments, key, m, NULL))
		return DN_ERR_NOMEM;
	e = entry_get(m, ev->tenant, pay->invoice_id, ev->customer_id);
	if (!e)
		return DN_ERR_NOMEM;
	e->invoice.paid += pay->amount->minor_units;
	if (ev->occurred_at_ms > e->last_payment_ms)
		e->last_payment_ms = ev->occurred_at_ms;
	entry_settle(m, e, e->last_payment_ms, late);
	return DN_OK;
}

/* Cancellations, disputes and their resolution. */
static int apply_state(struct mirror *m, const Dunning__V1__LedgerEvent *ev,
		       const char *invoice_id, int cancelled, int disputed)
{
	struct mirror_entry *e;

	if (!invoice_id || !invoice_id[0])
		return DN_ERR_INVALID;
	e = entry_get(m, ev->tenant, invoice_id, ev->customer_id);
	if (!e)
		return DN_ERR_NOMEM;
	if (cancelled >= 0)
		e->invoice.cancelled = cancelled;
	if (disputed >= 0)
		e->invoice.disputed = disputed;
	return DN_OK;
}

static int apply_customer(struct mirror *m, const Dunning__V1__LedgerEvent *ev,
			  const Dunning__V1__CustomerUpserted *cu)
{
	char key[256], digits[RECIPIENT_DIGITS_MAX + 1];
	struct mirror_customer *c;

	snprintf(key, sizeof(key), "%s/%s", ev->tenant, ev->customer_id);
	c = strmap_get(m->customers, key);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c || strmap_put(m->customers, key, c, NULL)) {
			free(c);
			return DN_ERR_NOMEM;
		}
	}
	copy_text(c->tenant, sizeof(c->tenant), ev->tenant);
	copy_text(c->customer_id, sizeof(c->customer_id), ev->customer_id);
	copy_text(c->name, sizeof(c->name), cu->name);
	copy_text(c->locale, sizeof(c->locale), cu->locale);
	copy_text(c->segment, sizeof(c->segment), cu->segment);
	c->opted_in = cu->opt_in ==
		      DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN;
	if (recipient_digits(cu->phone_e164, digits, sizeof(digits)) ||
	    recipient_wa_id(digits, c->wa_id, sizeof(c->wa_id)))
		return DN_OK; /* no usable phone: never messaged */
	return strmap_put(m->by_wa_id, c->wa_id, c, NULL);
}

static int apply_locked(struct mirror *m, const Dunning__V1__LedgerEvent *ev,
			int *late)
{
	switch (ev->body_case) {
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED:
		return apply_invoice(m, ev, ev->invoice_upserted, late);
	case DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED:
		return apply_payment(m, ev, ev->payment_received, late);
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_CANCELLED:
		return apply_state(m, ev, ev->invoice_cancelled->invoice_id, 1,
				   -1);
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED:
		return apply_state(m, ev, ev->invoice_disputed->invoice_id, -1,
				   1);
	case DUNNING__V1__LEDGER_EVENT__BODY_DISPUTE_RESOLVED:
		return apply_state(m, ev, ev->dispute_resolved->invoice_id,
				   !ev->dispute_resolved->invoice_upheld, 0);
	case DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED:
		return apply_customer(m, ev, ev->customer_upserted);
	default:
		return DN_ERR_INVALID;
	}
}

int mirror_apply(struct mirror *m, const struct Dunning__V1__LedgerEvent *ev,
		 int *late_messages)
{
	int late = 0, rc;

	if (!ev->tenant[0] || !ev->customer_id[0])
		return DN_ERR_INVALID;
	pthread_mutex_lock(&m->lock);
	rc = apply_locked(m, ev, &late);
	pthread_mutex_unlock(&m->lock);
	if (late_messages)
		*late_messages = late;
	return rc;
}

int mirror_apply_bytes(struct mirror *m, const void *buf, size_t len,
		       int *late_messages)
{
	Dunning__V1__LedgerEvent *ev =
		dunning__v1__ledger_event__unpack(NULL, len, buf);
	int rc;

	if (late_messages)
		*late_messages = 0;
	if (!ev)
		return DN_ERR_DECODE;
	rc = mirror_apply(m, ev, late_messages);
	dunning__v1__ledger_event__free_unpacked(ev, NULL);
	return rc;
}

int mirror_customer_by_wa_id(struct mirror *m, const char *wa_id,
			     struct mirror_customer *out)
{
	struct mirror_customer *c;

	pthread_mutex_lock(&m->lock);
	c = strmap_get(m->by_wa_id, wa_id);
	if (c)
		*out = *c;
	pthread_mutex_unlock(&m->lock);
	return c ? DN_OK : DN_ERR_NOT_FOUND;
}

int mirror_invoice(struct mirror *m, const char *tenant, const char *invoice_id,
		   struct mirror_invoice *out)
{
	struct mirror_entry *e;
	char key[256];

	snprintf(key, sizeof(key), "%s/%s", tenant, invoice_id);
	pthread_mutex_lock(&m->lock);
	e = strmap_get(m->invoices, key);
	if (e)
		*out = e->invoice;
	pthread_mutex_unlock(&m->lock);
	return e && e->invoice.amount ? DN_OK : DN_ERR_NOT_FOUND;
}

int mirror_note_message(struct mirror *m, const char *tenant,
			const char *invoice_id, int64_t at_ms)
{
	struct mirror_entry *e;
	char key[256];
	int late = 0;

	snprintf(key, sizeof(key), "%s/%s", tenant, invoice_id);
	pthread_mutex_lock(&m->lock);
	e = strmap_get(m->invoices, key);
	if (e && e->invoice.amount) {
		if (at_ms > e->last_message_ms) {
			e->last_message_ms = at_ms;
			e->late_counted = 0;
		}
		late = e->invoice.paid_at_ms &&
		       e->invoice.paid_at_ms + m->grace_ms <= at_ms;
		if (late)
			e->late_counted = 1;
	}
	pthread_mutex_unlock(&m->lock);
	return e && e->invoice.amount ? late : -1;
}

void mirror_counts(struct mirror *m, size_t *customers, size_t *invoices,
		   size_t *paid)
{
	pthread_mutex_lock(&m->lock);
	*customers = strmap_count(m->customers);
	*invoices = strmap_count(m->invoices);
	*paid = m->paid_count;
	pthread_mutex_unlock(&m->lock);
}
