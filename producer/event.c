/* event.c: ledger events to protobuf, deterministic ids, JSON lines. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "event.h"

#include "config.h"
#include "error.h"
#include "money.h"

#include "dunning/v1/ledger.pb-c.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The protobuf view of one event; points into the struct event. */
struct event_wire {
	Dunning__V1__LedgerEvent ledger;
	Dunning__V1__Source source;
	Dunning__V1__InvoiceUpserted invoice;
	Dunning__V1__PaymentReceived payment;
	Dunning__V1__InvoiceDisputed dispute;
	Dunning__V1__CustomerUpserted customer;
	Dunning__V1__Money amount;
	Dunning__V1__Date issue_date, due_date;
	Dunning__V1__PaymentMeans means;
};

static const char *const kind_prefixes[] = { "inv", "pay", "dsp", "cus" };

void event_reset(struct event *ev, enum event_kind kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->kind = kind;
}

int event_set(char *dst, size_t cap, const char *text, size_t len,
	      const char *field, char *err, size_t errlen)
{
	if (len >= cap)
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "%s longer than %zu bytes", field, cap - 1);
	memcpy(dst, text, len);
	dst[len] = '\0';
	return DN_OK;
}

bool event_has_control(const char *text)
{
	for (; *text; text++)
		if ((unsigned char)*text < 0x20 || *text == 0x7F)
			return true;
	return false;
}

const char *event_shown(const char *text, char *buf, size_t len)
{
	size_t n = strlen(text), keep = n, i;
	size_t room = len > 4 ? len - 4 : 0; /* "..." and the NUL */

	/* A cut lands on the first byte of a character, so that what is
	 * kept is still UTF-8. */
	if (keep > EVENT_SHOWN_MAX || keep >= len) {
		keep = EVENT_SHOWN_MAX < room ? EVENT_SHOWN_MAX : room;
		while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
			keep--;
	}
	for (i = 0; i < keep; i++)
		buf[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7F
				 ? '?'
				 : text[i];
	snprintf(buf + i, len - i, "%s", keep < n ? "..." : "");
	return buf;
}

static void wire_date(Dunning__V1__Date *out, struct civil_date date)
{
	dunning__v1__date__init(out);
	out->year = date.year;
	out->month = date.month;
	out->day = date.day;
}

static void wire_invoice(struct event_wire *w, struct event *ev)
{
	Dunning__V1__InvoiceUpserted *inv = &w->invoice;

	dunning__v1__invoice_upserted__init(inv);
	inv->invoice_id = ev->invoice_id;
	inv->kind =
		ev->credit_note
			? DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_CREDIT_NOTE
			: DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_INVOICE;
	wire_date(&w->issue_date, ev->issue_date);
	inv->issue_date = &w->issue_date;
	inv->due_date_source = (Dunning__V1__DueDateSource)ev->due_source;
	if (ev->due_source == EVENT_DUE_EXPLICIT ||
	    ev->due_source == EVENT_DUE_PAYMENT_TERMS) {
		wire_date(&w->due_date, ev->due_date);
		inv->due_date = &w->due_date;
	}
	inv->amount = &w->amount;
	inv->version = ev->version;
	if (ev->iban[0] || ev->remittance_id[0] || ev->bic[0] ||
	    ev->account_name[0]) {
		dunning__v1__payment_means__init(&w->means);
		w->means.iban = ev->iban;
		w->means.bic = ev->bic;
		w->means.payment_id = ev->remittance_id;
		w->means.account_name = ev->account_name;
		inv->payment_means = &w->means;
	}
	inv->payment_link = ev->payment_link;
	inv->not_dunnable = ev->not_dunnable;
	inv->not_dunnable_reason = ev->not_dunnable_reason;
	w->ledger.body_case = DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED;
	w->ledger.invoice_upserted = inv;
}

static void wire_customer(struct event_wire *w, struct event *ev)
{
	Dunning__V1__CustomerUpserted *c = &w->customer;

	dunning__v1__customer_upserted__init(c);
	c->name = ev->name;
	c->phone_e164 = ev->phone;
	c->locale = ev->locale;
	c->time_zone = ev->time_zone;
	c->opt_in = (Dunning__V1__OptInStatus)ev->opt_in;
	c->opt_in_at_ms = ev->opt_in_at_ms;
	c->opt_in_source = ev->opt_in_source;
	c->segment = ev->segment;
	c->email = ev->email;
	c->version = ev->version;
	w->ledger.body_case = DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED;
	w->ledger.customer_upserted = c;
}

/* Builds the protobuf view of ev; w must outlive its use. */
static void wire_build(struct event_wire *w, struct event *ev)
{
	dunning__v1__ledger_event__init(&w->ledger);
	dunning__v1__source__init(&w->source);
	dunning__v1__money__init(&w->amount);
	w->source.component = "producer";
	w->source.origin = ev->origin;
	w->ledger.event_id = ev->event_id;
	w->ledger.tenant = ev->tenant;
	w->ledger.customer_id = ev->customer_id;
	w->ledger.occurred_at_ms = ev->occurred_at_ms;
	w->ledger.source = &w->source;
	w->amount.minor_units = ev->amount_minor;
	w->amount.currency = ev->currency;

	switch (ev->kind) {
	case EVENT_INVOICE:
		wire_invoice(w, ev);
		break;
	case EVENT_PAYMENT:
		dunning__v1__payment_received__init(&w->payment);
		w->payment.invoice_id = ev->invoice_id;
		w->payment.amount = &w->amount;
		w->payment.payment_id = ev->payment_id;
		w->ledger.body_case =
			DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
		w->ledger.payment_received = &w->payment;
		break;
	case EVENT_DISPUTE:
		dunning__v1__invoice_disputed__init(&w->dispute);
		w->dispute.invoice_id = ev->invoice_id;
		w->dispute.reason = ev->reason;
		w->ledger.body_case =
			DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED;
		w->ledger.invoice_disputed = &w->dispute;
		break;
	case EVENT_CUSTOMER:
		wire_customer(w, ev);
		break;
	}
}

void event_assign_id(struct event *ev)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t packed[EVENT_WIRE_MAX], digest[EVP_MAX_MD_SIZE];
	char origin[sizeof(ev->origin)];
	unsigned int digest_len = 0;
	struct event_wire w;
	size_t len, i, n;

	/* The id covers what the event says, not where it was read. */
	memcpy(origin, ev->origin, sizeof(origin));
	ev->event_id[0] = '\0';
	ev->origin[0] = '\0';
	wire_build(&w, ev);
	len = dunning__v1__ledger_event__get_packed_size(&w.ledger);
	if (len <= sizeof(packed))
		dunning__v1__ledger_event__pack(&w.ledger, packed);
	else
		len = 0; /* cannot happen with the bounded fields */
	memcpy(ev->origin, origin, sizeof(origin));
	EVP_Digest(packed, len, digest, &digest_len, EVP_sha256(), NULL);

	n = (size_t)snprintf(ev->event_id, sizeof(ev->event_id), "%s-",
			     kind_prefixes[ev->kind]);
	for (i = 0; i < 16 && n + 2 < sizeof(ev->event_id); i++) {
		ev->event_id[n++] = hex[digest[i] >> 4];
		ev->event_id[n++] = hex[digest[i] & 15];
	}
	ev->event_id[n] = '\0';
}

size_t event_pack(struct event *ev, int64_t published_at_ms, uint8_t *buf,
		  size_t cap)
{
	struct event_wire w;
	size_t len;

	wire_build(&w, ev);
	w.ledger.published_at_ms = published_at_ms;
	len = dunning__v1__ledger_event__get_packed_size(&w.ledger);
	if (len > cap)
		return 0;
	return dunning__v1__ledger_event__pack(&w.ledger, buf);
}

char *event_format_instant(int64_t ms, char *buf, size_t len)
{
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rest = ms - days * 86400000;
	struct civil_date date = civil_from_days(days);
	char day[16];

	civil_format_iso(date, day, sizeof(day));
	if (rest % 1000)
		snprintf(buf, len, "%sT%02d:%02d:%02d.%03dZ", day,
			 (int)(rest / 3600000), (int)(rest / 60000 % 60),
			 (int)(rest / 1000 % 60), (int)(rest % 1000));
	else
		snprintf(buf, len, "%sT%02d:%02d:%02dZ", day,
			 (int)(rest / 3600000), (int)(rest / 60000 % 60),
			 (int)(rest / 1000 % 60));
	return buf;
}
