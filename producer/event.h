/* event.h: one ledger event as the producer builds it, and its wire forms. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every reader (CSV, UBL, JSON lines, customer directory) fills a struct
 * event, a plain value with bounded text fields, and hands it to the sink.
 * This module turns it into the LedgerEvent protobuf of invoice.events
 * and gives it its deterministic id (jsonl.h renders and reads JSON).
 *
 * Event ids: "<kind>-" and 32 hex digits of the SHA-256 of the tenant and
 * the packed event without its id, publication time and origin. The same
 * fact read twice, from the same or another file, gets the same id; a
 * changed fact (new amount, new due date) gets a new one.
 */
#ifndef DUNNING_PRODUCER_EVENT_H
#define DUNNING_PRODUCER_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "civil.h"
#include "phone.h"

enum event_kind {
	EVENT_INVOICE,	/* InvoiceUpserted */
	EVENT_PAYMENT,	/* PaymentReceived */
	EVENT_DISPUTE,	/* InvoiceDisputed */
	EVENT_CUSTOMER, /* CustomerUpserted */
};

enum event_due_source {
	EVENT_DUE_UNKNOWN = 0,
	EVENT_DUE_EXPLICIT,
	EVENT_DUE_PAYMENT_TERMS,
	EVENT_DUE_NONE,
};

enum event_opt_in {
	EVENT_OPT_IN_UNKNOWN = 0,
	EVENT_OPT_IN_OPTED_IN,
	EVENT_OPT_IN_OPTED_OUT,
};

/* Longest packed LedgerEvent the producer writes. */
#define EVENT_WIRE_MAX 8192

struct event {
	enum event_kind kind;
	char event_id[48];
	char tenant[64];
	char customer_id[128];
	int64_t occurred_at_ms;
	char origin[256]; /* "file:line" or a document path; no personal data */

	/* Invoice, payment and dispute events. */
	char invoice_id[128];
	bool credit_note;
	struct civil_date issue_date, due_date;
	enum event_due_source due_source;
	int64_t amount_minor;
	char currency[4];
	int64_t version;
	char iban[64], bic[16], remittance_id[128], account_name[128];
	char payment_link[256];
	bool not_dunnable;
	char not_dunnable_reason[128];
	char payment_id[192]; /* PaymentReceived */
	char reason[256];     /* InvoiceDisputed */

	/* Customer events. */
	char name[256];
	char phone[PHONE_E164_MAX];
	char locale[36];
	char time_zone[64];
	enum event_opt_in opt_in;
	int64_t opt_in_at_ms;
	char opt_in_source[64];
	char segment[64];
	char email[256];
};

/* Clears ev and sets its kind. */
void event_reset(struct event *ev, enum event_kind kind);

/*
 * Copies len bytes of text into the field dst of size cap (one of ev's
 * arrays) and terminates it. Returns 0, or DN_ERR_TOO_LARGE with "<field>
 * longer than N bytes" in err when it does not fit.
 */
int event_set(char *dst, size_t cap, const char *text, size_t len,
	      const char *field, char *err, size_t errlen);

/*
 * Whether text holds a control character (below U+0020, or DEL). Ids never
 * do; one that does is two CSV rows merged by a stray quote, or garbage.
 */
bool event_has_control(const char *text);

/* Longest part of a value event_shown keeps, in bytes. */
#define EVENT_SHOWN_MAX 40

/*
 * Writes text into buf (size len, EVENT_SHOWN_MAX + 4 is enough) as it may
 * be quoted in a reject reason: control characters become '?', and a text
 * longer than EVENT_SHOWN_MAX bytes is cut on a UTF-8 character boundary
 * and ends with "...". Returns buf.
 */
const char *event_shown(const char *text, char *buf, size_t len);

/* event_set for a NUL-terminated text and a field array. */
#define EVENT_SET(dst, text, field, err, errlen)                               \
	event_set((dst), sizeof(dst), (text), strlen(text), (field), (err),    \
		  (errlen))

/* Fills ev->event_id from its content (see the file comment). */
void event_assign_id(struct event *ev);

/*
 * Packs ev as a LedgerEvent with published_at_ms into buf (size cap).
 * Returns the length, or 0 if it does not fit.
 */
size_t event_pack(struct event *ev, int64_t published_at_ms, uint8_t *buf,
		  size_t cap);

/* Writes ms as "2013-01-15T12:00:00Z" (".123" before Z if needed). */
char *event_format_instant(int64_t ms, char *buf, size_t len);

#endif
