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
#define APPLY_CHUNK_MAX	  256  /* events of one partition per apply.lua call */
#define APPLY_EVENT_KEYS  2    /* customer hash, seen-marker (messages) */
#define APPLY_CALL_KEYS	  3    /* delay queue, leases, stats */
#define APPLY_CALL_HEAD	  (4 + APPLY_CALL_KEYS) /* EVALSHA sha n, keys, now */
#define APPLY_PLANS_MAX	  16 /* first actions remembered in one flush */

extern const char apply_lua[];

/*
 * One event as apply.lua takes it: argv holds its two keys, then its
 * arguments (kind, customer key, invoice, then by kind), every text
 * copied into buf. An argument is written in pieces between arg_open and
 * arg_close.
 */
struct apply_event {
	int32_t partition;
	int keys; /* of argv's APPLY_EVENT_KEYS, those apply.lua gets */
	int argc;
	const char *argv[APPLY_ARGS_MAX];
	size_t lens[APPLY_ARGS_MAX];
	char buf[APPLY_CALL_BYTES];
	size_t used, opened;
	bool overflow;
	int queued_argc; /* argc and used as queued, before planning */
	size_t queued_used;
	char count[12];		  /* number of arguments, as text */
	const redisReply *result; /* its part of the reply, once flushed */
};

/* The HMGET of a new invoice's customer, to plan the invoice: tz, sg,
 * oi and field ("i:<invoice id>"). */
struct apply_lookup {
	size_t event; /* index in the batch */
	const char *argv[6];
	char field[STATE_ID_MAX + 2];
};

/*
 * The first action planned for a new invoice, kept for the others of the
 * same flush that share what it depends on: a bulk import brings many
 * invoices of one tenant, zone and due date. By schedule.h, amount,
 * currency and segment count only through the steps' conditions, so the
 * steps that apply stand for them; a new invoice has no history.
 */
struct apply_plan {
	const struct workflow_tenant *tenant;
	char zone[STATE_TEXT_MAX];
	long due;
	uint32_t applies; /* bit i: steps[i]'s conditions hold */
	bool planned;	  /* false: left to the timer */
	int64_t first_ms; /* 0: nothing to plan */
};

/* One apply.lua call: count events of one partition, b->order[first..]. */
struct apply_chunk {
	int32_t partition;
	size_t first, count;
	char keys[APPLY_CALL_KEYS][32]; /* delay queue, leases, stats */
	char nkeys[12];
	int argc;
	const char **argv;
	size_t *lens;
};

/*
 * Events applied together: filled by apply_add, then sent as one pipeline
 * of calls whose replies are read while the next batch fills. Each batch
 * owns the arguments of its calls until their replies are read.
 */
struct apply_batch {
	struct apply_event *events;
	size_t count;	 /* events */
	size_t messages; /* messages given to apply_add, dead letters too */
	int64_t now_ms;	 /* product clock at the send, for every event */
	char now[24];
	bool sent; /* its calls are on the wire, their replies unread */

	/* Built by each send: events grouped by partition (order), the calls
	 * (chunks) with their arguments (in argv and lens), and every reply
	 * to free once the results are counted (replies). */
	uint64_t *order;
	struct apply_chunk *chunks;
	size_t n_chunks;
	const char **argv;
	size_t *lens;
	redisReply **replies;
	size_t n_replies;
};

struct apply {
	const struct config *cfg;
	struct store *store;
	struct kafka_producer *producer;
	const struct workflow *wf;
	struct metrics *metrics;
	char sha[41];

	/* queued fills while flying, sent, waits for its replies. */
	struct apply_batch batches[2];
	struct apply_batch *queued, *flying;

	/* The customers of the queued batch's new invoices (lookups) and
	 * what Redis answered (found); plans made from them in one send. */
	struct apply_lookup *lookups;
	redisReply **found;
	struct apply_plan plans[APPLY_PLANS_MAX];
	size_t n_plans;

	struct metric *applied, *duplicates, *dead_letters, *failed;
};

/* ---------------------------------------------------------------------- */
/* Arguments                                                                */

static void arg_open(struct apply_event *ev)
{
	ev->opened = ev->used;
}

static void arg_put(struct apply_event *ev, const char *text, size_t n)
{
	if (ev->overflow || ev->used + n + 1 > sizeof(ev->buf)) {
		ev->overflow = true;
		return;
	}
	memcpy(ev->buf + ev->used, text, n);
	ev->used += n;
}

static void arg_put_str(struct apply_event *ev, const char *text)
{
	if (text)
		arg_put(ev, text, strlen(text));
}

/* Decimal, without printf: this runs for every argument of every event. */
static void arg_put_int(struct apply_event *ev, int64_t value)
{
	char text[24], *p = text + sizeof(text);
	uint64_t rest = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;

	do {
		*--p = (char)('0' + rest % 10);
		rest /= 10;
	} while (rest);
	if (value < 0)
		*--p = '-';
	arg_put(ev, p, (size_t)(text + sizeof(text) - p));
}

static void arg_close(struct apply_event *ev)
{
	if (ev->overflow || ev->argc >= APPLY_ARGS_MAX) {
		ev->overflow = true;
		return;
	}
	ev->buf[ev->used] = '\0';
	ev->argv[ev->argc] = ev->buf + ev->opened;
	ev->lens[ev->argc++] = ev->used - ev->opened;
	ev->used++;
}

static void arg(struct apply_event *ev, const char *text)
{
	arg_open(ev);
	arg_put_str(ev, text);
	arg_close(ev);
}

static void arg_int(struct apply_event *ev, int64_t value)
{
	arg_open(ev);
	arg_put_int(ev, value);
	arg_close(ev);
}

/* Opens a key argument of the partition: "dn:{p<N>}:" and the caller's
 * suffix (see state.h). */
static void arg_open_key(struct apply_event *ev, int32_t partition)
{
	arg_open(ev);
	arg_put(ev, "dn:{p", 5);
	arg_put_int(ev, partition);
	arg_put(ev, "}:", 2);
}

/* Starts the next event: its keys in the customer's partition, and the
 * arguments every kind shares. The instant it is applied at is the
 * flush's, common to every event of the call. */
static struct apply_event *event_begin(struct apply *a, int32_t partition,
				       const char *tenant, const char *customer,
				       const char *event_id, const char *kind,
				       const char *invoice_id)
{
	struct apply_event *ev = &a->queued->events[a->queued->count];

	ev->partition = partition;
	ev->keys = strcmp(kind, "status") == 0 || strcmp(kind, "reply") == 0
			   ? APPLY_EVENT_KEYS
			   : 1;
	ev->argc = 0;
	ev->used = 0;
	ev->overflow = false;
	ev->result = NULL;
	arg_open_key(ev, partition);
	arg_put(ev, "c:", 2);
	arg_put_str(ev, tenant);
	arg_put(ev, "/", 1);
	arg_put_str(ev, customer);
	arg_close(ev);
	arg_open_key(ev, partition);
	arg_put(ev, "seen:", 5);
	arg_put_str(ev, event_id);
	arg_close(ev);
	arg(ev, kind);
	arg_open(ev);
	arg_put_str(ev, tenant);
	arg_put(ev, "/", 1);
	arg_put_str(ev, customer);
	arg_close(ev);
	arg(ev, invoice_id);
	return ev;
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
static void how_to_pay(struct apply_event *ev,
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
	arg(ev, text);
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
	struct apply_event *ev;
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

	ev = event_begin(a, partition, e->tenant, e->customer_id, e->event_id,
			 "invoice", u->invoice_id);
	arg_int(ev, u->version > 0 ? u->version : 0);
	arg_int(ev, no_due ? 0
			   : u->due_date->year * 10000 +
				     u->due_date->month * 100 +
				     u->due_date->day);
	arg_int(ev, amount->minor_units);
	arg(ev, amount->currency);
	arg(ev, not_dunnable ? "1" : "0");
	how_to_pay(ev, u);
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
	struct apply_event *ev;

	if (check_id(r, "payment_received.invoice_id", p->invoice_id) ||
	    check_id(r, "payment_received.payment_id", p->payment_id))
		return DN_ERR_INVALID;
	if (strchr(p->payment_id, ','))
		return reject(r, "payment_received.payment_id contains ','");
	if (!p->amount || !currency_valid(p->amount->currency))
		return reject(r, "payment_received.amount: missing or not an "
				 "ISO 4217 currency");
	ev = event_begin(a, partition, e->tenant, e->customer_id, e->event_id,
			 "payment", p->invoice_id);
	arg(ev, p->payment_id);
	arg_int(ev, p->amount->minor_units);
	arg(ev, p->amount->currency);
	arg_int(ev, e->occurred_at_ms ? e->occurred_at_ms : clock_now_ms());
	arg(ev, ends_with(p->payment_id, "/settled") ? "1" : "0");
	return DN_OK;
}

/* Cancellation, dispute and its resolution: an invoice id and a flag. */
static int invoice_change(struct apply *a, struct reject *r, int32_t partition,
			  const Dunning__V1__LedgerEvent *e, const char *kind,
			  const char *invoice_id, const char *flag)
{
	struct apply_event *ev;

	if (check_id(r, "invoice_id", invoice_id))
		return DN_ERR_INVALID;
	ev = event_begin(a, partition, e->tenant, e->customer_id, e->event_id,
			 kind, invoice_id);
	arg(ev, flag);
	return DN_OK;
}

static int customer_upserted(struct apply *a, struct reject *r,
			     int32_t partition,
			     const Dunning__V1__LedgerEvent *e)
{
	const Dunning__V1__CustomerUpserted *u = e->customer_upserted;
	struct apply_event *ev;

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
	ev = event_begin(a, partition, e->tenant, e->customer_id, e->event_id,
			 "customer", "");
	arg_int(ev, u->version > 0 ? u->version : 0);
	arg(ev, u->name);
	arg(ev, u->phone_e164);
	arg(ev, u->locale);
	arg(ev, u->time_zone);
	arg_int(ev,
		u->opt_in == DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN
			? 1
		: u->opt_in == DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_OUT
			? 2
			: 0);
	arg_int(ev, u->opt_in_at_ms);
	arg(ev, u->segment);
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
	struct apply_event *ev;

	if (strlen(e->command_id) > 200 || strlen(e->wa_id) >= STATE_TEXT_MAX)
		return reject(r, "command_id or wa_id too long");
	ev = event_begin(a, partition, e->tenant, e->customer_id, e->event_id,
			 "status", "");
	arg(ev, e->event_id);
	arg(ev, e->command_id);
	arg(ev, status_word(e->status->status));
	arg_int(ev, (int)e->status->error_code);
	arg(ev, e->wa_id);
	return DN_OK;
}

static int message_reply(struct apply *a, struct reject *r, int32_t partition,
			 const Dunning__V1__MessageEvent *e, bool stop)
{
	struct apply_event *ev;

	if (strlen(e->wa_id) >= STATE_TEXT_MAX)
		return reject(r, "wa_id too long");
	ev = event_begin(a, partition, e->tenant, e->customer_id, e->event_id,
			 "reply", "");
	arg(ev, e->event_id);
	arg(ev, stop ? "1" : "0");
	arg(ev, e->wa_id);
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

static int batch_init(struct apply_batch *b)
{
	/* Each event adds its count to its arguments; each call a head. */
	size_t args = APPLY_BATCH_MAX * (APPLY_ARGS_MAX + 1 + APPLY_CALL_HEAD);

	b->events = calloc(APPLY_BATCH_MAX, sizeof(*b->events));
	b->order = calloc(APPLY_BATCH_MAX, sizeof(*b->order));
	b->chunks = calloc(APPLY_BATCH_MAX, sizeof(*b->chunks));
	b->argv = calloc(args, sizeof(*b->argv));
	b->lens = calloc(args, sizeof(*b->lens));
	b->replies = calloc(2 * APPLY_BATCH_MAX, sizeof(*b->replies));
	return b->events && b->order && b->chunks && b->argv && b->lens &&
			       b->replies
		       ? DN_OK
		       : DN_ERR_NOMEM;
}

static void batch_release(struct apply_batch *b)
{
	size_t i;

	for (i = 0; b->replies && i < b->n_replies; i++)
		store_reply_free(b->replies[i]);
	free(b->events);
	free(b->order);
	free(b->chunks);
	free(b->argv);
	free(b->lens);
	free(b->replies);
}

static void apply_metrics(struct apply *a, struct metrics *metrics)
{
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
}

struct apply *apply_new(const struct config *cfg, struct store *store,
			struct kafka_producer *producer,
			const struct workflow *wf, struct metrics *metrics,
			char *err, size_t errlen)
{
	struct apply *a = calloc(1, sizeof(*a));

	if (!a || batch_init(&a->batches[0]) || batch_init(&a->batches[1]) ||
	    !(a->lookups = calloc(APPLY_BATCH_MAX, sizeof(*a->lookups))) ||
	    !(a->found = calloc(APPLY_BATCH_MAX, sizeof(*a->found)))) {
		apply_free(a);
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = cfg;
	a->store = store;
	a->producer = producer;
	a->wf = wf;
	a->metrics = metrics;
	a->queued = &a->batches[0];
	a->flying = &a->batches[1];
	if (script_sha(a, err, errlen)) {
		apply_free(a);
		return NULL;
	}
	apply_metrics(a, metrics);
	return a;
}

void apply_free(struct apply *a)
{
	if (!a)
		return;
	batch_release(&a->batches[0]);
	batch_release(&a->batches[1]);
	free(a->lookups);
	free(a->found);
	free(a);
}

size_t apply_pending(const struct apply *a)
{
	return a->queued->count;
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

/* Decodes msg and queues its event; on a reject fills r. */
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
	if (!rc && a->queued->events[a->queued->count].overflow)
		return reject(r, "event fields exceed %d bytes in all",
			      APPLY_CALL_BYTES);
	return rc;
}

int apply_add(struct apply *a, const rd_kafka_message_t *msg)
{
	struct apply_batch *b = a->queued;
	struct reject r = { { 0 } };
	struct apply_event *ev;

	if (b->count >= APPLY_BATCH_MAX)
		return DN_ERR_TOO_LARGE; /* the caller sends first */
	b->messages++;
	if (decode(a, msg, &r))
		return dead_letter(a, msg, r.reason);
	ev = &b->events[b->count++];
	ev->queued_argc = ev->argc;
	ev->queued_used = ev->used;
	return DN_OK;
}

/* ---------------------------------------------------------------------- */
/* Planning new invoices                                                    */

/* Positions of apply.lua arguments in an event's argv (see event_begin). */
enum {
	ARG_CUSTOMER_HASH = 0,
	ARG_KIND = 2,
	ARG_CUSTOMER_KEY = 3,
	ARG_INVOICE = 4,
	ARG_DUE = 6,
	ARG_AMOUNT = 7,
	ARG_CURRENCY = 8,
	ARG_NOT_DUNNABLE = 9,
};

/* Whether ev upserts an invoice that may need planning. */
static bool event_plannable(const struct apply_event *ev)
{
	return ev->argc > ARG_NOT_DUNNABLE &&
	       strcmp(ev->argv[ARG_KIND], "invoice") == 0 &&
	       strcmp(ev->argv[ARG_DUE], "0") != 0 &&
	       strcmp(ev->argv[ARG_NOT_DUNNABLE], "0") == 0;
}

static const char *reply_text(const redisReply *r, size_t i)
{
	if (r->type != REDIS_REPLY_ARRAY || i >= r->elements ||
	    r->element[i]->type != REDIS_REPLY_STRING)
		return NULL;
	return r->element[i]->str;
}

/* Bit i set when steps[i] of t applies to the invoice of ev. */
static uint32_t steps_applying(const struct workflow_tenant *t,
			       const struct apply_event *ev,
			       const char *segment)
{
	int64_t amount = strtoll(ev->argv[ARG_AMOUNT], NULL, 10);
	uint32_t applies = 0;
	size_t i;

	for (i = 0; i < t->n_steps && i < 32; i++)
		if (workflow_step_applies(&t->steps[i], amount,
					  ev->argv[ARG_CURRENCY], segment))
			applies |= UINT32_C(1) << i;
	return applies;
}

/* The first action of ev's new invoice, due on due (YYYYMMDD), for a
 * customer in zone: a plan of this flush, else schedule_next's. */
static const struct apply_plan *plan_find(struct apply *a, int64_t now_ms,
					  const struct workflow_tenant *t,
					  const struct apply_event *ev,
					  const char *zone, const char *segment,
					  long due)
{
	uint32_t applies = steps_applying(t, ev, segment);
	struct schedule_facts facts = { 0 };
	struct schedule_action action;
	struct apply_plan *plan;
	size_t i;

	for (i = 0; i < a->n_plans; i++) {
		plan = &a->plans[i];
		if (plan->tenant == t && plan->due == due &&
		    plan->applies == applies && strcmp(plan->zone, zone) == 0)
			return plan;
	}
	plan = &a->plans[a->n_plans < APPLY_PLANS_MAX ? a->n_plans++
						      : APPLY_PLANS_MAX - 1];
	plan->tenant = t;
	snprintf(plan->zone, sizeof(plan->zone), "%s", zone);
	plan->due = due;
	plan->applies = applies;
	facts.due_date.year = (int)(due / 10000);
	facts.due_date.month = (int)(due / 100 % 100);
	facts.due_date.day = (int)(due % 100);
	facts.time_zone = zone;
	facts.amount_minor = strtoll(ev->argv[ARG_AMOUNT], NULL, 10);
	facts.currency = ev->argv[ARG_CURRENCY];
	facts.segment = segment;
	facts.now_ms = now_ms;
	/* Steps already passed over are recorded by the timer: queued at now. */
	plan->planned = schedule_next(t, &facts, &action, NULL, 0) == DN_OK &&
			!action.expired_steps && !action.superseded_steps;
	plan->first_ms = action.done ? 0 : action.fire_ms;
	return plan;
}

/* Appends to ev the first action of its new invoice for a customer in
 * zone and segment. */
static void plan_event(struct apply *a, int64_t now_ms, struct apply_event *ev,
		       const char *zone, const char *segment)
{
	const char *slash = strchr(ev->argv[ARG_CUSTOMER_KEY], '/');
	char tenant[STATE_ID_MAX];
	const struct apply_plan *plan;

	if (!slash || strlen(zone) >= STATE_TEXT_MAX)
		return;
	snprintf(tenant, sizeof(tenant), "%.*s",
		 (int)(slash - ev->argv[ARG_CUSTOMER_KEY]),
		 ev->argv[ARG_CUSTOMER_KEY]);
	plan = plan_find(a, now_ms, workflow_tenant(a->wf, tenant), ev, zone,
			 segment, strtol(ev->argv[ARG_DUE], NULL, 10));
	if (plan->planned)
		arg_int(ev, plan->first_ms);
}

/* The lookups of b's new invoices, built in a->lookups: one HMGET of
 * the customer's tz, sg, oi and the invoice's record per event that may
 * be planned. Returns how many. */
static size_t lookups_build(struct apply *a, const struct apply_batch *b)
{
	static const char *const fields[] = { "tz", "sg", "oi" };
	size_t n = 0, i;

	if (!a->wf)
		return 0;
	for (i = 0; i < b->count; i++) {
		const struct apply_event *ev = &b->events[i];
		struct apply_lookup *l = &a->lookups[n];

		if (!event_plannable(ev))
			continue;
		l->event = i;
		snprintf(l->field, sizeof(l->field), "i:%s",
			 ev->argv[ARG_INVOICE]);
		l->argv[0] = "HMGET";
		l->argv[1] = ev->argv[ARG_CUSTOMER_HASH];
		memcpy(&l->argv[2], fields, sizeof(fields));
		l->argv[5] = l->field;
		n++;
	}
	return n;
}

/* Sends the n lookups without waiting for their replies. */
static int lookups_send(struct apply *a, size_t n)
{
	int argcs[APPLY_BATCH_MAX];
	const char *const *argvs[APPLY_BATCH_MAX];
	size_t i;

	for (i = 0; i < n; i++) {
		argvs[i] = a->lookups[i].argv;
		argcs[i] = 6;
	}
	return n ? store_send(a->store, n, argcs, argvs, NULL) : DN_OK;
}

static void lookups_free(struct apply *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		store_reply_free(a->found[i]);
		a->found[i] = NULL;
	}
}

/*
 * Plans b's new invoices of known customers from the n replies in
 * a->found, with schedule_next in C, and frees the replies. An invoice
 * left unplanned (unknown customer, known invoice, opted out, replies
 * missing) is queued at now by apply.lua, and the timer plans it.
 */
static void lookups_plan(struct apply *a, struct apply_batch *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const redisReply *r = a->found[i];
		const char *zone = r ? reply_text(r, 0) : NULL;
		const char *opt_in = zone ? reply_text(r, 2) : NULL;

		if (zone && !reply_text(r, 3) &&
		    !(opt_in && strcmp(opt_in, "2") == 0))
			plan_event(a, b->now_ms,
				   &b->events[a->lookups[i].event], zone,
				   reply_text(r, 1));
	}
	lookups_free(a, n);
}

/* ---------------------------------------------------------------------- */
/* Calls                                                                    */

/* Events are ordered by partition, then by arrival: the order of one
 * customer's events is kept, and one partition's are contiguous. */
static int order_compare(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return (a > b) - (a < b);
}

/* The i-th event of b in partition order. */
static struct apply_event *event_at(const struct apply_batch *b, size_t i)
{
	return &b->events[b->order[i] & UINT32_MAX];
}

static void push(struct apply_chunk *ch, const char *text, size_t len)
{
	ch->argv[ch->argc] = text;
	ch->lens[ch->argc++] = len;
}

/* Fills ch->argv (room for APPLY_CALL_HEAD, then APPLY_ARGS_MAX + 1 per
 * event) with its EVALSHA: the partition's keys, each event's keys, now,
 * then each event's count and arguments. */
static void chunk_build(const struct apply *a, struct apply_batch *b,
			struct apply_chunk *ch)
{
	static const char *const suffixes[APPLY_CALL_KEYS] = { "q", "lease",
							       "stats" };
	size_t i, nkeys = APPLY_CALL_KEYS;
	int k;

	for (i = 0; i < ch->count; i++)
		nkeys += (size_t)event_at(b, ch->first + i)->keys;
	ch->argc = 0;
	push(ch, "EVALSHA", 7);
	push(ch, a->sha, 40);
	snprintf(ch->nkeys, sizeof(ch->nkeys), "%zu", nkeys);
	push(ch, ch->nkeys, strlen(ch->nkeys));
	for (k = 0; k < APPLY_CALL_KEYS; k++) {
		snprintf(ch->keys[k], sizeof(ch->keys[k]),
			 "dn:{p%" PRId32 "}:%s", ch->partition, suffixes[k]);
		push(ch, ch->keys[k], strlen(ch->keys[k]));
	}
	for (i = 0; i < ch->count; i++) {
		struct apply_event *ev = event_at(b, ch->first + i);

		for (k = 0; k < ev->keys; k++)
			push(ch, ev->argv[k], ev->lens[k]);
	}
	push(ch, b->now, strlen(b->now));
	for (i = 0; i < ch->count; i++) {
		struct apply_event *ev = event_at(b, ch->first + i);

		snprintf(ev->count, sizeof(ev->count), "%d",
			 ev->argc - APPLY_EVENT_KEYS);
		push(ch, ev->count, strlen(ev->count));
		for (k = APPLY_EVENT_KEYS; k < ev->argc; k++)
			push(ch, ev->argv[k], ev->lens[k]);
	}
}

/*
 * Orders b's events by partition and cuts them into calls of at most
 * APPLY_CHUNK_MAX events of one partition, each built into b->chunks.
 */
static void chunks_build(const struct apply *a, struct apply_batch *b)
{
	size_t i, end, used = 0;

	for (i = 0; i < b->count; i++)
		b->order[i] =
			(uint64_t)(uint32_t)b->events[i].partition << 32 | i;
	qsort(b->order, b->count, sizeof(*b->order), order_compare);
	b->n_chunks = 0;
	for (i = 0; i < b->count; i = end) {
		struct apply_chunk *ch = &b->chunks[b->n_chunks++];

		ch->partition = event_at(b, i)->partition;
		for (end = i + 1; end < b->count && end - i < APPLY_CHUNK_MAX &&
				  event_at(b, end)->partition == ch->partition;
		     end++)
			;
		ch->first = i;
		ch->count = end - i;
		ch->argv = b->argv + used;
		ch->lens = b->lens + used;
		chunk_build(a, b, ch);
		used += (size_t)ch->argc;
	}
}

static bool is_noscript(const redisReply *reply)
{
	return reply && reply->type == REDIS_REPLY_ERROR &&
	       strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* Runs one call on its own, loading the script if the server lost it. */
static redisReply *call_alone(struct apply *a, const struct apply_chunk *ch)
{
	const char *load[] = { "SCRIPT", "LOAD", apply_lua };
	redisReply *reply =
		store_command(a->store, ch->argc, ch->argv, ch->lens);

	if (is_noscript(reply)) {
		store_reply_free(reply);
		store_reply_free(store_command(a->store, 3, load, NULL));
		reply = store_command(a->store, ch->argc, ch->argv, ch->lens);
	}
	return reply;
}

/* Keeps reply until the results of b are counted. */
static void keep(struct apply_batch *b, redisReply *reply)
{
	b->replies[b->n_replies++] = reply;
}

/* Applies the i-th event of ch in a call of its own. Returns 0 or
 * DN_ERR_REDIS when Redis gave no answer. */
static int event_alone(struct apply *a, struct apply_batch *b,
		       const struct apply_chunk *ch, size_t i)
{
	const char *argv[APPLY_CALL_HEAD + APPLY_ARGS_MAX + 1];
	size_t lens[APPLY_CALL_HEAD + APPLY_ARGS_MAX + 1];
	struct apply_chunk one = { 0 };
	redisReply *reply;

	one.partition = ch->partition;
	one.first = ch->first + i;
	one.count = 1;
	one.argv = argv;
	one.lens = lens;
	chunk_build(a, b, &one);
	reply = call_alone(a, &one);
	if (!reply)
		return DN_ERR_REDIS;
	keep(b, reply);
	event_at(b, one.first)->result =
		reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
			? reply->element[0]
			: reply;
	return DN_OK;
}

/* Whether reply gives each event of ch its result. */
static bool chunk_whole(const struct apply_chunk *ch, const redisReply *reply)
{
	return reply->type == REDIS_REPLY_ARRAY && reply->elements == ch->count;
}

/*
 * Gives each event of ch its result from reply, which it takes. A call
 * that failed as a whole (an error outside every event, a reply of the
 * wrong shape) counts as one error and is made again one event a call, so
 * that an event that fails costs only itself. Its events may have been
 * applied before the failure: applied again they count as duplicates.
 * Returns 0 or DN_ERR_REDIS when Redis gave no answer.
 */
static int chunk_settle(struct apply *a, struct apply_batch *b,
			const struct apply_chunk *ch, redisReply *reply)
{
	size_t i;
	int err = DN_OK;

	if (is_noscript(reply)) {
		store_reply_free(reply);
		reply = call_alone(a, ch);
	}
	if (!reply)
		return DN_ERR_REDIS;
	keep(b, reply);
	if (chunk_whole(ch, reply)) {
		for (i = 0; i < ch->count; i++)
			event_at(b, ch->first + i)->result = reply->element[i];
		return DN_OK;
	}
	metric_add(a->failed, 1);
	log_error("REDIS",
		  "cannot apply events as one call, applying them one by one "
		  "partition=%" PRId32 " events=%zu reason=\"%s\"",
		  ch->partition, ch->count,
		  reply->type == REDIS_REPLY_ERROR ? reply->str
						   : "unexpected reply");
	for (i = 0; i < ch->count && !err; i++)
		err = event_alone(a, b, ch, i);
	return err;
}

/* Counts ev's result: 1 applied, 0 duplicate. */
static void count_result(struct apply *a, const struct apply_event *ev)
{
	const redisReply *r = ev->result;

	if (!r || r->type == REDIS_REPLY_ERROR) {
		metric_add(a->failed, 1);
		log_error("REDIS", "cannot apply %s event to %s: %s",
			  ev->argv[ARG_KIND], ev->argv[ARG_CUSTOMER_HASH],
			  r ? r->str : "no result");
	} else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
		metric_add(a->duplicates, 1);
	} else {
		metric_add(a->applied, 1);
	}
}

/* ---------------------------------------------------------------------- */
/* Batches                                                                  */

/* Back to b's events as queued, before planning: a batch sent again plans
 * again, at its own instant. */
static void batch_reset(struct apply_batch *b)
{
	size_t i;

	b->now_ms = clock_now_ms();
	snprintf(b->now, sizeof(b->now), "%" PRId64, b->now_ms);
	for (i = 0; i < b->count; i++) {
		b->events[i].argc = b->events[i].queued_argc;
		b->events[i].used = b->events[i].queued_used;
		b->events[i].overflow = false;
		b->events[i].result = NULL;
	}
}

/* Empties b once its results are counted (or it is to be sent again). */
static void batch_done(struct apply_batch *b, bool applied)
{
	size_t i;

	for (i = 0; i < b->n_replies; i++)
		store_reply_free(b->replies[i]);
	b->n_replies = 0;
	b->sent = false;
	if (applied) {
		b->count = 0;
		b->messages = 0;
	}
}

/* Fetches the n lookups at once, nothing else being outstanding. */
static int lookups_fetch(struct apply *a, size_t n)
{
	if (lookups_send(a, n))
		return DN_ERR_REDIS;
	return store_receive(a->store, n, a->found);
}

/* Plans b's new invoices from the n lookups in a->found, then sends its
 * calls without waiting for them. */
static int batch_send(struct apply *a, struct apply_batch *b, size_t n)
{
	int argcs[APPLY_BATCH_MAX];
	const char *const *argvs[APPLY_BATCH_MAX];
	const size_t *lens[APPLY_BATCH_MAX];
	size_t i;

	a->n_plans = 0;
	lookups_plan(a, b, n);
	chunks_build(a, b);
	for (i = 0; i < b->n_chunks; i++) {
		argcs[i] = b->chunks[i].argc;
		argvs[i] = b->chunks[i].argv;
		lens[i] = b->chunks[i].lens;
	}
	if (store_send(a->store, b->n_chunks, argcs, argvs, lens))
		return DN_ERR_REDIS;
	b->sent = true;
	return DN_OK;
}

/* Reads the replies of b's calls into replies, then those of n lookups
 * sent after them into a->found. */
static int batch_receive(struct apply *a, struct apply_batch *b, size_t n,
			 redisReply **replies)
{
	size_t i;

	b->sent = false;
	if (store_receive(a->store, b->n_chunks, replies))
		return DN_ERR_REDIS;
	if (store_receive(a->store, n, a->found) == DN_OK)
		return DN_OK;
	for (i = 0; i < b->n_chunks; i++)
		store_reply_free(replies[i]);
	return DN_ERR_REDIS;
}

/*
 * Gives every event of b its result from replies (b->n_chunks of them,
 * which it takes) and counts them; *whole tells whether every call was
 * applied as sent, nothing made again. Returns 0, the batch emptied, or
 * DN_ERR_REDIS with b kept to be applied again.
 */
static int batch_settle(struct apply *a, struct apply_batch *b,
			redisReply **replies, bool *whole)
{
	size_t i;
	int err = DN_OK;

	*whole = true;
	for (i = 0; i < b->n_chunks; i++) {
		if (err) {
			store_reply_free(replies[i]);
			continue;
		}
		if (!chunk_whole(&b->chunks[i], replies[i]))
			*whole = false;
		err = chunk_settle(a, b, &b->chunks[i], replies[i]);
	}
	if (!err)
		for (i = 0; i < b->count; i++)
			count_result(a, &b->events[i]);
	batch_done(b, err == DN_OK);
	return err;
}

/* Applies b and waits for it, nothing else being outstanding. */
static int batch_run(struct apply *a, struct apply_batch *b)
{
	redisReply *replies[APPLY_BATCH_MAX];
	bool whole;
	size_t n;

	batch_reset(b);
	n = lookups_build(a, b);
	if (lookups_fetch(a, n) || batch_send(a, b, n) ||
	    batch_receive(a, b, 0, replies)) {
		b->sent = false;
		return DN_ERR_REDIS;
	}
	return batch_settle(a, b, replies, &whole);
}

/*
 * Reads the replies of the batch in flight, then of the n lookups sent
 * behind it, and counts its results. A call made again after its reply
 * (one event at a time, or after loading the script) ran after the
 * lookups, which may then have read state older than it: they are made
 * again.
 */
static int flying_collect(struct apply *a, size_t n)
{
	redisReply *replies[APPLY_BATCH_MAX];
	bool whole;

	if (batch_receive(a, a->flying, n, replies))
		return DN_ERR_REDIS;
	if (batch_settle(a, a->flying, replies, &whole)) {
		lookups_free(a, n);
		return DN_ERR_REDIS;
	}
	if (whole || n == 0)
		return DN_OK;
	lookups_free(a, n);
	return lookups_fetch(a, n);
}

/*
 * Sends the queued batch with its plans, without waiting, after
 * collecting the batch in flight if any; the queued batch then flies.
 * The lookups that plan the queued batch go out before the flying batch
 * is collected, so that Redis runs them right after it.
 */
static int queued_send(struct apply *a)
{
	struct apply_batch *b = a->queued;
	size_t n;

	batch_reset(b);
	n = lookups_build(a, b);
	if (lookups_send(a, n))
		goto lost;
	if (a->flying->sent ? flying_collect(a, n)
			    : store_receive(a->store, n, a->found))
		goto lost;
	if (batch_send(a, b, n))
		goto lost;
	a->queued = a->flying;
	a->flying = b;
	return DN_OK;

lost:
	/* The connection is gone with every reply it owed. */
	a->flying->sent = false;
	return DN_ERR_REDIS;
}

int apply_send(struct apply *a, size_t *done, char *err, size_t errlen)
{
	size_t messages = a->flying->messages;

	*done = 0;
	if (messages && !a->flying->sent) {
		/* Applied again after a failure: wait for everything. */
		messages += a->queued->messages;
		if (apply_flush(a, err, errlen))
			return DN_ERR_REDIS;
		*done = messages;
		return DN_OK;
	}
	if (queued_send(a))
		return dn_fail(DN_ERR_REDIS, err, errlen,
			       "cannot apply %zu events: %s",
			       a->queued->count + a->flying->count,
			       store_error(a->store));
	*done = messages;
	return DN_OK;
}

int apply_flush(struct apply *a, char *err, size_t errlen)
{
	struct apply_batch *f = a->flying, *q = a->queued;
	int rc = DN_OK;

	if (f->sent)
		rc = flying_collect(a, 0);
	else if (f->count)
		rc = batch_run(a, f);
	if (rc == DN_OK && q->count)
		rc = batch_run(a, q);
	if (rc)
		return dn_fail(DN_ERR_REDIS, err, errlen,
			       "cannot apply %zu events: %s",
			       f->count + q->count, store_error(a->store));
	f->messages = 0;
	q->messages = 0;
	return DN_OK;
}
