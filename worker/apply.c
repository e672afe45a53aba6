/* apply.c: ledger and message events to apply.lua calls, pipelined. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "apply.h"

#include "clock.h"
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "logger.h"
#include "metrics.h"
#include "schedule.h"
#include "state.h"
#include "store.h"
#include "workflow.h"

#include "dunning/v1/ledger.pb-c.h"
#include "dunning/v1/whatsapp.pb-c.h"

#include <ctype.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLY_ARGS_MAX	  20
#define APPLY_CALL_BYTES  4096
#define APPLY_PAYLOAD_MAX (256 * 1024)
#define APPLY_TEXT_MAX	  1024 /* reply text compared with opt-out words */

extern const char apply_lua[];

/* One EVALSHA apply.lua call with its arguments copied into buf. */
struct apply_call {
	int argc;
	const char *argv[APPLY_ARGS_MAX];
	size_t lens[APPLY_ARGS_MAX];
	char buf[APPLY_CALL_BYTES];
	size_t used;
	bool overflow;
};

struct apply {
	const struct config *cfg;
	struct store *store;
	struct kafka_producer *producer;
	const struct workflow *wf;
	struct metrics *metrics;
	char sha[41];
	struct apply_call *calls;
	size_t count;
	struct metric *applied, *duplicates, *dead_letters, *failed;
};

/* ---------------------------------------------------------------------- */
/* Calls                                                                    */

static void arg_n(struct apply_call *c, const char *text, size_t n)
{
	if (c->argc >= APPLY_ARGS_MAX || c->used + n + 1 > sizeof(c->buf)) {
		c->overflow = true;
		return;
	}
	memcpy(c->buf + c->used, text, n);
	c->buf[c->used + n] = '\0';
	c->argv[c->argc] = c->buf + c->used;
	c->lens[c->argc++] = n;
	c->used += n + 1;
}

static void arg(struct apply_call *c, const char *text)
{
	arg_n(c, text ? text : "", text ? strlen(text) : 0);
}

static void argf(struct apply_call *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void argf(struct apply_call *c, const char *fmt, ...)
{
	char text[STATE_KEY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		c->overflow = true;
		return;
	}
	arg_n(c, text, (size_t)n);
}

/* Starts a call: script, keys of the customer's partition, and the
 * arguments every kind shares. */
static struct apply_call *call_begin(struct apply *a, int32_t partition,
				     const char *tenant, const char *customer,
				     const char *event_id, const char *kind,
				     const char *invoice_id)
{
	struct apply_call *c = &a->calls[a->count];

	c->argc = 0;
	c->used = 0;
	c->overflow = false;
	arg(c, "EVALSHA");
	arg(c, a->sha);
	arg(c, "5");
	argf(c, "dn:{p%" PRId32 "}:c:%s/%s", partition, tenant, customer);
	argf(c, "dn:{p%" PRId32 "}:q", partition);
	argf(c, "dn:{p%" PRId32 "}:lease", partition);
	argf(c, "dn:{p%" PRId32 "}:stats", partition);
	argf(c, "dn:{p%" PRId32 "}:seen:%s", partition, event_id);
	arg(c, kind);
	argf(c, "%s/%s", tenant, customer);
	arg(c, invoice_id);
	argf(c, "%" PRId64, clock_now_ms());
	return c;
}

/* ---------------------------------------------------------------------- */
/* Validation and dead letters                                              */

struct reject {
	char reason[256];
};

static int reject(struct reject *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int reject(struct reject *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	return DN_ERR_INVALID;
}

static int check_id(struct reject *r, const char *what, const char *id)
{
	if (!state_id_valid(id))
		return reject(r,
			      "%s is empty, too long or has control "
			      "characters",
			      what);
	return DN_OK;
}

static int check_party(struct reject *r, const char *tenant,
		       const char *customer)
{
	if (check_id(r, "tenant", tenant) ||
	    check_id(r, "customer_id", customer))
		return DN_ERR_INVALID;
	if (strchr(tenant, '/'))
		return reject(r, "tenant contains '/'");
	return DN_OK;
}

static bool currency_valid(const char *code)
{
	return code && strlen(code) == 3 && isupper((unsigned char)code[0]) &&
	       isupper((unsigned char)code[1]) &&
	       isupper((unsigned char)code[2]);
}

static bool date_valid(const Dunning__V1__Date *d)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };

	return d && d->year >= 1900 && d->year <= 9999 && d->month >= 1 &&
	       d->month <= 12 && d->day >= 1 && d->day <= days[d->month - 1] &&
	       (d->month != 2 || d->day < 29 || d->year % 400 == 0 ||
		(d->year % 4 == 0 && d->year % 100 != 0));
}

/* ---------------------------------------------------------------------- */
/* Ledger events                                                            */

/* The raw how-to-pay field: link, else bank details, else "". */
static void how_to_pay(struct apply_call *c,
		       const Dunning__V1__InvoiceUpserted *u)
{
	const Dunning__V1__PaymentMeans *m = u->payment_means;
	char text[STATE_HOW_MAX];
	int n = 0;

	if (u->payment_link && u->payment_link[0])
		n = snprintf(text, sizeof(text), "L%s", u->payment_link);
	else if (m && m->iban && m->iban[0])
		n = snprintf(text, sizeof(text), "B%s%c%s%c%s%c%s", m->iban,
			     STATE_SEP, m->bic, STATE_SEP, m->payment_id,
			     STATE_SEP, m->account_name);
	else
		text[0] = '\0';
	if (n < 0 || (size_t)n >= sizeof(text))
		text[0] = '\0'; /* too long to show: the generic line instead */
	arg(c, text);
}

static int invoice_upserted(struct apply *a, struct reject *r,
			    int32_t partition,
			    const Dunning__V1__LedgerEvent *e)
{
	const Dunning__V1__InvoiceUpserted *u = e->invoice_upserted;
	const Dunning__V1__Money *amount = u->amount;
	bool no_due =
		u->due_date_source ==
			DUNNING__V1__DUE_DATE_SOURCE__DUE_DATE_SOURCE_NONE ||
		!u->due_date;
	struct apply_call *c;
	bool not_dunnable;

	if (check_id(r, "invoice_upserted.invoice_id", u->invoice_id))
		return DN_ERR_INVALID;
	if (!amount || !currency_valid(amount->currency))
		return reject(r, "invoice_upserted.amount: missing or not an "
				 "ISO 4217 currency");
	if (!no_due && !date_valid(u->due_date))
		return reject(r, "invoice_upserted.due_date: not a valid date");
	not_dunnable =
		u->not_dunnable || amount->minor_units <= 0 ||
		u->kind ==
			DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_CREDIT_NOTE;

	c = call_begin(a, partition, e->tenant, e->customer_id, e->event_id,
		       "invoice", u->invoice_id);
	argf(c, "%" PRId64, u->version > 0 ? u->version : 0);
	argf(c, "%d",
	     no_due ? 0
		    : u->due_date->year * 10000 + u->due_date->month * 100 +
			      u->due_date->day);
	argf(c, "%" PRId64, amount->minor_units);
	arg(c, amount->currency);
	arg(c, not_dunnable ? "1" : "0");
	how_to_pay(c, u);
	return DN_OK;
}

static bool ends_with(const char *text, const char *suffix)
{
	size_t n = strlen(text), m = strlen(suffix);

	return n >= m && strcmp(text + n - m, suffix) == 0;
}

static int payment_received(struct apply *a, struct reject *r,
			    int32_t partition,
			    const Dunning__V1__LedgerEvent *e)
{
	const Dunning__V1__PaymentReceived *p = e->payment_received;
	struct apply_call *c;

	if (check_id(r, "payment_received.invoice_id", p->invoice_id) ||
	    check_id(r, "payment_received.payment_id", p->payment_id))
		return DN_ERR_INVALID;
	if (strchr(p->payment_id, ','))
		return reject(r, "payment_received.payment_id contains ','");
	if (!p->amount || !currency_valid(p->amount->currency))
		return reject(r, "payment_received.amount: missing or not an "
				 "ISO 4217 currency");
	c = call_begin(a, partition, e->tenant, e->customer_id, e->event_id,
		       "payment", p->invoice_id);
	arg(c, p->payment_id);
	argf(c, "%" PRId64, p->amount->minor_units);
	arg(c, p->amount->currency);
	argf(c, "%" PRId64,
	     e->occurred_at_ms ? e->occurred_at_ms : clock_now_ms());
	arg(c, ends_with(p->payment_id, "/settled") ? "1" : "0");
	return DN_OK;
}

/* Cancellation, dispute and its resolution: an invoice id and a flag. */
static int invoice_change(struct apply *a, struct reject *r, int32_t partition,
			  const Dunning__V1__LedgerEvent *e, const char *kind,
			  const char *invoice_id, const char *flag)
{
	struct apply_call *c;

	if (check_id(r, "invoice_id", invoice_id))
		return DN_ERR_INVALID;
	c = call_begin(a, partition, e->tenant, e->customer_id, e->event_id,
		       kind, invoice_id);
	arg(c, flag);
	return DN_OK;
}

static int customer_upserted(struct apply *a, struct reject *r,
			     int32_t partition,
			     const Dunning__V1__LedgerEvent *e)
{
	const Dunning__V1__CustomerUpserted *u = e->customer_upserted;
	struct apply_call *c;

	if (!schedule_zone_valid(u->time_zone))
		return reject(r,
			      "customer_upserted.time_zone \"%.64s\" is not "
			      "an IANA time zone",
			      u->time_zone);
	if (strlen(u->name) >= STATE_TEXT_MAX ||
	    strlen(u->phone_e164) >= STATE_TEXT_MAX ||
	    strlen(u->locale) >= STATE_TEXT_MAX ||
	    strlen(u->segment) >= STATE_TEXT_MAX)
		return reject(r,
			      "customer_upserted: a field is longer than "
			      "%d bytes",
			      STATE_TEXT_MAX - 1);
	c = call_begin(a, partition, e->tenant, e->customer_id, e->event_id,
		       "customer", "");
	argf(c, "%" PRId64, u->version > 0 ? u->version : 0);
	arg(c, u->name);
	arg(c, u->phone_e164);
	arg(c, u->locale);
	arg(c, u->time_zone);
	argf(c, "%d",
	     u->opt_in == DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN ? 1
	     : u->opt_in == DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_OUT
		     ? 2
		     : 0);
	argf(c, "%" PRId64, u->opt_in_at_ms);
	arg(c, u->segment);
	return DN_OK;
}

static int ledger_event(struct apply *a, struct reject *r, int32_t partition,
			const Dunning__V1__LedgerEvent *e)
{
	if (check_party(r, e->tenant, e->customer_id) ||
	    check_id(r, "event_id", e->event_id))
		return DN_ERR_INVALID;
	switch (e->body_case) {
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED:
		return invoice_upserted(a, r, partition, e);
	case DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED:
		return payment_received(a, r, partition, e);
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_CANCELLED:
		return invoice_change(a, r, partition, e, "cancel",
				      e->invoice_cancelled->invoice_id, "");
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED:
		return invoice_change(a, r, partition, e, "dispute",
				      e->invoice_disputed->invoice_id, "");
	case DUNNING__V1__LEDGER_EVENT__BODY_DISPUTE_RESOLVED:
		return invoice_change(
			a, r, partition, e, "resolve",
			e->dispute_resolved->invoice_id,
			e->dispute_resolved->invoice_upheld ? "1" : "0");
	case DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED:
		return customer_upserted(a, r, partition, e);
	default:
		return reject(r, "ledger event has no body");
	}
}

/* ---------------------------------------------------------------------- */
/* Message events                                                           */

static const char *status_word(Dunning__V1__DeliveryStatus status)
{
	switch (status) {
	case DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_DELIVERED:
		return "delivered";
	case DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_READ:
		return "read";
	case DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_FAILED:
		return "failed";
	default:
		return "sent";
	}
}

static int message_status(struct apply *a, struct reject *r, int32_t partition,
			  const Dunning__V1__MessageEvent *e)
{
	struct apply_call *c;

	if (strlen(e->command_id) > 200 || strlen(e->wa_id) >= STATE_TEXT_MAX)
		return reject(r, "command_id or wa_id too long");
	c = call_begin(a, partition, e->tenant, e->customer_id, e->event_id,
		       "status", "");
	arg(c, e->event_id);
	arg(c, e->command_id);
	arg(c, status_word(e->status->status));
	argf(c, "%d", (int)e->status->error_code);
	arg(c, e->wa_id);
	return DN_OK;
}

static int message_reply(struct apply *a, struct reject *r, int32_t partition,
			 const Dunning__V1__MessageEvent *e, bool stop)
{
	struct apply_call *c;

	if (strlen(e->wa_id) >= STATE_TEXT_MAX)
		return reject(r, "wa_id too long");
	c = call_begin(a, partition, e->tenant, e->customer_id, e->event_id,
		       "reply", "");
	arg(c, e->event_id);
	arg(c, stop ? "1" : "0");
	arg(c, e->wa_id);
	return DN_OK;
}

static int message_event(struct apply *a, struct reject *r, int32_t partition,
			 const Dunning__V1__MessageEvent *e)
{
	if (check_party(r, e->tenant, e->customer_id) ||
	    check_id(r, "event_id", e->event_id))
		return DN_ERR_INVALID;
	switch (e->body_case) {
	case DUNNING__V1__MESSAGE_EVENT__BODY_STATUS:
		return message_status(a, r, partition, e);
	case DUNNING__V1__MESSAGE_EVENT__BODY_TEXT:
		return message_reply(a, r, partition, e,
				     apply_is_opt_out(e->text->body));
	case DUNNING__V1__MESSAGE_EVENT__BODY_BUTTON:
		return message_reply(a, r, partition, e,
				     strcmp(e->button->payload, "stop") == 0);
	case DUNNING__V1__MESSAGE_EVENT__BODY_INTERACTIVE:
		return message_reply(a, r, partition, e,
				     strcmp(e->interactive->id, "stop") == 0);
	default:
		return reject(r, "message event has no body");
	}
}

/* ---------------------------------------------------------------------- */
/* Opt-out keywords                                                         */

/* Whole messages that mean "stop sending me reminders", after folding to
 * lower case without accents or surrounding punctuation. */
static const char *const opt_out_words[] = {
	/* en */ "stop",
	"stop all",
	"stopall",
	"unsubscribe",
	"cancel",
	"end",
	"quit",
	"opt out",
	"optout",
	/* es */ "baja",
	"darme de baja",
	"dar de baja",
	"parar",
	"para",
	"no mas",
	"detener",
	"cancelar",
	/* ca */ "prou",
	"baixa",
	"donar-me de baixa",
	"atura",
	"aturar",
	/* pt */ "pare",
	"sair",
	"descadastrar",
	"cancelar inscricao",
	"nao quero mais",
	/* fr */ "arret",
	"arreter",
	"desabonner",
	"se desabonner",
	"desinscrire",
	"desinscription",
};

/* Latin-1 supplement letters (UTF-8 0xC3 0x80..0xBF) to ASCII. */
static char fold_accent(unsigned char second)
{
	static const char map[] = "AAAAAAACEEEEIIII"
				  "DNOOOOOxOUUUUYTs"
				  "aaaaaaaceeeeiiii"
				  "dnooooo/ouuuuyty";

	return second >= 0x80 && second <= 0xbf ? map[second - 0x80] : '?';
}

static size_t fold(const char *text, char *out, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = 0;

	for (; *p && n + 1 < len; p++) {
		if (*p == 0xc3 && p[1]) {
			out[n++] =
				(char)tolower((unsigned char)fold_accent(*++p));
		} else if (*p < 0x80) {
			out[n++] = (char)tolower(*p);
		}
	}
	out[n] = '\0';
	return n;
}

bool apply_is_opt_out(const char *text)
{
	char folded[APPLY_TEXT_MAX];
	const char *start = folded;
	size_t n, i;

	if (!text || strlen(text) >= sizeof(folded))
		return false;
	n = fold(text, folded, sizeof(folded));
	while (n > 0 && (ispunct((unsigned char)folded[n - 1]) ||
			 isspace((unsigned char)folded[n - 1])))
		folded[--n] = '\0';
	while (*start && (ispunct((unsigned char)*start) ||
			  isspace((unsigned char)*start)))
		start++;
	for (i = 0; i < sizeof(opt_out_words) / sizeof(*opt_out_words); i++)
		if (strcmp(start, opt_out_words[i]) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------------- */
/* Public                                                                   */

static int script_sha(struct apply *a, char *err, size_t errlen)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	if (!EVP_Digest(apply_lua, strlen(apply_lua), digest, &len, EVP_sha1(),
			NULL))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "cannot hash apply.lua");
	for (i = 0; i < len && i < 20; i++)
		snprintf(a->sha + 2 * i, 3, "%02x", digest[i]);
	return DN_OK;
}

struct apply *apply_new(const struct config *cfg, struct store *store,
			struct kafka_producer *producer,
			const struct workflow *wf, struct metrics *metrics,
			char *err, size_t errlen)
{
	struct apply *a = calloc(1, sizeof(*a));

	if (!a || !(a->calls = calloc(APPLY_BATCH_MAX, sizeof(*a->calls)))) {
		free(a);
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = cfg;
	a->store = store;
	a->producer = producer;
	a->wf = wf;
	a->metrics = metrics;
	if (script_sha(a, err, errlen)) {
		apply_free(a);
		return NULL;
	}
	a->applied = metrics_series(metrics, METRIC_COUNTER,
				    "dunning_worker_events_applied_total",
				    "events that changed state", NULL);
	a->duplicates = metrics_series(
		metrics, METRIC_COUNTER,
		"dunning_worker_events_duplicate_total",
		"events already applied or stale (no change)", NULL);
	a->dead_letters = metrics_series(
		metrics, METRIC_COUNTER, "dunning_worker_dead_letters_total",
		"messages sent to the dead-letter topic", NULL);
	a->failed = metrics_series(metrics, METRIC_COUNTER,
				   "dunning_worker_apply_errors_total",
				   "script errors while applying events", NULL);
	return a;
}

void apply_free(struct apply *a)
{
	if (!a)
		return;
	free(a->calls);
	free(a);
}

size_t apply_pending(const struct apply *a)
{
	return a->count;
}

static int dead_letter(struct apply *a, const rd_kafka_message_t *msg,
		       const char *reason)
{
	log_warn("KAFKA",
		 "message dead-lettered topic=%s partition=%d "
		 "offset=%" PRId64 " reason=\"%s\"",
		 kafka_message_topic(msg), (int)kafka_message_partition(msg),
		 kafka_message_offset(msg), reason);
	metric_add(a->dead_letters, 1);
	return kafka_dead_letter(a->producer, a->cfg, msg, "worker", reason)
		       ? DN_ERR_KAFKA
		       : DN_OK;
}

/* Decodes msg and queues its call; on a reject fills r. */
static int decode(struct apply *a, const rd_kafka_message_t *msg,
		  struct reject *r)
{
	const char *topic = kafka_message_topic(msg);
	int32_t partition = kafka_message_partition(msg);
	size_t len;
	const uint8_t *payload = kafka_message_payload(msg, &len);
	int rc;

	if (len > APPLY_PAYLOAD_MAX)
		return reject(r, "payload of %zu bytes exceeds %d", len,
			      APPLY_PAYLOAD_MAX);
	if (strcmp(topic,
		   config_str(a->cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS")) == 0) {
		Dunning__V1__MessageEvent *e =
			dunning__v1__message_event__unpack(NULL, len, payload);

		if (!e)
			return reject(r,
				      "protobuf decode of MessageEvent failed");
		rc = message_event(a, r, partition, e);
		dunning__v1__message_event__free_unpacked(e, NULL);
	} else {
		Dunning__V1__LedgerEvent *e =
			dunning__v1__ledger_event__unpack(NULL, len, payload);

		if (!e)
			return reject(r,
				      "protobuf decode of LedgerEvent failed");
		rc = ledger_event(a, r, partition, e);
		dunning__v1__ledger_event__free_unpacked(e, NULL);
	}
	if (!rc && a->calls[a->count].overflow)
		return reject(r, "event fields exceed %d bytes in all",
			      APPLY_CALL_BYTES);
	return rc;
}

int apply_add(struct apply *a, const rd_kafka_message_t *msg)
{
	struct reject r = { { 0 } };

	if (a->count >= APPLY_BATCH_MAX)
		return DN_ERR_TOO_LARGE; /* the caller flushes first */
	if (decode(a, msg, &r))
		return dead_letter(a, msg, r.reason);
	a->count++;
	return DN_OK;
}

/* Runs one call on its own, loading the script if the server lost it. */
static redisReply *call_alone(struct apply *a, struct apply_call *c)
{
	const char *argv[] = { "SCRIPT", "LOAD", apply_lua };
	redisReply *reply = store_command(a->store, 3, argv, NULL);

	store_reply_free(reply);
	return store_command(a->store, c->argc, c->argv, c->lens);
}

static void count_reply(struct apply *a, struct apply_call *c,
			redisReply *reply)
{
	if (reply && reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		store_reply_free(reply);
		reply = call_alone(a, c);
	}
	if (!reply || reply->type == REDIS_REPLY_ERROR) {
		metric_add(a->failed, 1);
		log_error("REDIS", "cannot apply %s event to %s: %s",
			  c->argv[8], c->argv[3],
			  reply ? reply->str : store_error(a->store));
	} else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0) {
		metric_add(a->duplicates, 1);
	} else {
		metric_add(a->applied, 1);
	}
	store_reply_free(reply);
}

/* ---------------------------------------------------------------------- */
/* Planning new invoices                                                    */

/* Positions of apply.lua arguments in a call's argv (see call_begin). */
enum {
	ARG_CUSTOMER_HASH = 3,
	ARG_KIND = 8,
	ARG_CUSTOMER_KEY = 9,
	ARG_INVOICE = 10,
	ARG_NOW = 11,
	ARG_DUE = 13,
	ARG_AMOUNT = 14,
	ARG_CURRENCY = 15,
	ARG_NOT_DUNNABLE = 16,
};

/* Whether c upserts an invoice that may need planning. */
static bool call_plannable(const struct apply_call *c)
{
	return c->argc > ARG_NOT_DUNNABLE &&
	       strcmp(c->argv[ARG_KIND], "invoice") == 0 &&
	       strcmp(c->argv[ARG_DUE], "0") != 0 &&
	       strcmp(c->argv[ARG_NOT_DUNNABLE], "0") == 0;
}

static const char *reply_text(const redisReply *r, size_t i)
{
	if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[i]->str;
}

/* Appends the first action of a new invoice to c when the customer's
 * HMGET reply (tz, sg, oi, the invoice record) allows planning it. */
static void plan_call(struct apply *a, struct apply_call *c,
		      const redisReply *customer)
{
	const char *zone = reply_text(customer, 0);
	const char *opt_in = reply_text(customer, 2);
	long due = strtol(c->argv[ARG_DUE], NULL, 10);
	struct schedule_facts facts = { 0 };
	struct schedule_action action;
	char tenant[STATE_ID_MAX];
	const char *slash = strchr(c->argv[ARG_CUSTOMER_KEY], '/');

	if (!zone || reply_text(customer, 3) || !slash ||
	    (opt_in && strcmp(opt_in, "2") == 0))
		return; /* unknown customer, known invoice, opted out */
	snprintf(tenant, sizeof(tenant), "%.*s",
		 (int)(slash - c->argv[ARG_CUSTOMER_KEY]),
		 c->argv[ARG_CUSTOMER_KEY]);
	facts.due_date.year = (int)(due / 10000);
	facts.due_date.month = (int)(due / 100 % 100);
	facts.due_date.day = (int)(due % 100);
	facts.time_zone = zone;
	facts.amount_minor = strtoll(c->argv[ARG_AMOUNT], NULL, 10);
	facts.currency = c->argv[ARG_CURRENCY];
	facts.segment = reply_text(customer, 1);
	facts.now_ms = strtoll(c->argv[ARG_NOW], NULL, 10);
	/* Steps already passed over are recorded by the timer: queued at now. */
	if (schedule_next(workflow_tenant(a->wf, tenant), &facts, &action, NULL,
			  0) ||
	    action.expired_steps || action.superseded_steps)
		return;
	if (action.done)
		arg(c, "0");
	else
		argf(c, "%" PRId64, action.fire_ms);
}

/*
 * Plans the batch's new invoices of known customers: one pipeline of
 * HMGET, then schedule_next in C. Best effort: on any failure the
 * invoices are simply queued at now and the timer plans them.
 */
static void plan_new_invoices(struct apply *a)
{
	static const char *const fields[] = { "tz", "sg", "oi" };
	size_t idx[APPLY_BATCH_MAX], n = 0, i;
	char(*names)[STATE_ID_MAX + 2] = NULL;
	const char *(*argv)[6] = NULL;
	int argcs[APPLY_BATCH_MAX];
	const char *const *argvs[APPLY_BATCH_MAX];
	redisReply **replies = NULL;

	for (i = 0; i < a->count; i++)
		if (call_plannable(&a->calls[i]))
			idx[n++] = i;
	if (n == 0 || !a->wf)
		return;
	names = calloc(n, sizeof(*names));
	argv = calloc(n, sizeof(*argv));
	replies = calloc(n, sizeof(*replies));
	if (!names || !argv || !replies)
		goto out;
	for (i = 0; i < n; i++) {
		struct apply_call *c = &a->calls[idx[i]];

		snprintf(names[i], sizeof(names[i]), "i:%s",
			 c->argv[ARG_INVOICE]);
		argv[i][0] = "HMGET";
		argv[i][1] = c->argv[ARG_CUSTOMER_HASH];
		memcpy(&argv[i][2], fields, sizeof(fields));
		argv[i][5] = names[i];
		argvs[i] = argv[i];
		argcs[i] = 6;
	}
	if (store_pipeline(a->store, n, argcs, argvs, NULL, replies))
		goto out;
	for (i = 0; i < n; i++) {
		plan_call(a, &a->calls[idx[i]], replies[i]);
		store_reply_free(replies[i]);
	}
out:
	free(names);
	free(argv);
	free(replies);
}

/*
 * TODO: every event is its own apply.lua call on Redis's single thread;
 * that bounds applying to some 30,000 events a second on the test machine.
 * Folding the events of one customer in a batch into one call would cut
 * the calls for bulk imports.
 */
int apply_flush(struct apply *a, char *err, size_t errlen)
{
	int argcs[APPLY_BATCH_MAX];
	const char *const *argvs[APPLY_BATCH_MAX];
	const size_t *lens[APPLY_BATCH_MAX];
	redisReply **replies;
	size_t i;

	if (a->count == 0)
		return DN_OK;
	plan_new_invoices(a);
	replies = calloc(a->count, sizeof(*replies));
	if (!replies)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	for (i = 0; i < a->count; i++) {
		argcs[i] = a->calls[i].argc;
		argvs[i] = a->calls[i].argv;
		lens[i] = a->calls[i].lens;
	}
	if (store_pipeline(a->store, a->count, argcs, argvs, lens, replies)) {
		free(replies);
		return dn_fail(DN_ERR_REDIS, err, errlen,
			       "cannot apply %zu events: %s", a->count,
			       store_error(a->store));
	}
	for (i = 0; i < a->count; i++)
		count_reply(a, &a->calls[i], replies[i]);
	free(replies);
	a->count = 0;
	return DN_OK;
}
