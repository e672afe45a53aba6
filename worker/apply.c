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
#define APPLY_EVENT_KEYS  2    /* customer hash and seen-marker */
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

/* One apply.lua call: count events of one partition, a->order[first..]. */
struct apply_chunk {
	int32_t partition;
	size_t first, count;
	char keys[APPLY_CALL_KEYS][32]; /* delay queue, leases, stats */
	char nkeys[12];
	int argc;
	const char **argv;
	size_t *lens;
};

struct apply {
	const struct config *cfg;
	struct store *store;
	struct kafka_producer *producer;
	const struct workflow *wf;
	struct metrics *metrics;
	char sha[41];
	struct apply_event *events;
	size_t count;
	struct apply_lookup *lookups;
	int64_t now_ms; /* product clock at the flush, for every event */
	char now[24];
	struct apply_plan plans[APPLY_PLANS_MAX];
	size_t n_plans;

	/* Built by each flush: events grouped by partition (order), the
	 * calls (chunks) with their arguments (in argv and lens), and every
	 * reply to free once the results are counted (replies). */
	uint64_t *order;
	struct apply_chunk *chunks;
	const char **argv;
	size_t *lens;
	redisReply **replies;
	size_t n_replies;

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
	struct apply_event *ev = &a->events[a->count];

	ev->partition = partition;
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

struct apply *apply_new(const struct config *cfg, struct store *store,
			struct kafka_producer *producer,
			const struct workflow *wf, struct metrics *metrics,
			char *err, size_t errlen)
{
	/* Each event adds its count to its arguments; each call a head. */
	size_t args = APPLY_BATCH_MAX * (APPLY_ARGS_MAX + 1 + APPLY_CALL_HEAD);
	struct apply *a = calloc(1, sizeof(*a));

	if (!a || !(a->events = calloc(APPLY_BATCH_MAX, sizeof(*a->events))) ||
	    !(a->lookups = calloc(APPLY_BATCH_MAX, sizeof(*a->lookups))) ||
	    !(a->order = calloc(APPLY_BATCH_MAX, sizeof(*a->order))) ||
	    !(a->chunks = calloc(APPLY_BATCH_MAX, sizeof(*a->chunks))) ||
	    !(a->argv = calloc(args, sizeof(*a->argv))) ||
	    !(a->lens = calloc(args, sizeof(*a->lens))) ||
	    !(a->replies = calloc(2 * APPLY_BATCH_MAX, sizeof(*a->replies)))) {
		apply_free(a);
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
	free(a->events);
	free(a->lookups);
	free(a->order);
	free(a->chunks);
	free(a->argv);
	free(a->lens);
	free(a->replies);
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
	if (!rc && a->events[a->count].overflow)
		return reject(r, "event fields exceed %d bytes in all",
			      APPLY_CALL_BYTES);
	return rc;
}

int apply_add(struct apply *a, const rd_kafka_message_t *msg)
{
	struct reject r = { { 0 } };
	struct apply_event *ev;

	if (a->count >= APPLY_BATCH_MAX)
		return DN_ERR_TOO_LARGE; /* the caller flushes first */
	if (decode(a, msg, &r))
		return dead_letter(a, msg, r.reason);
	ev = &a->events[a->count++];
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
static const struct apply_plan *plan_find(struct apply *a,
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
	facts.now_ms = a->now_ms;
	/* Steps already passed over are recorded by the timer: queued at now. */
	plan->planned = schedule_next(t, &facts, &action, NULL, 0) == DN_OK &&
			!action.expired_steps && !action.superseded_steps;
	plan->first_ms = action.done ? 0 : action.fire_ms;
	return plan;
}

/* Appends to ev the first action of its new invoice for a customer in
 * zone and segment. */
static void plan_event(struct apply *a, struct apply_event *ev,
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
	plan = plan_find(a, workflow_tenant(a->wf, tenant), ev, zone, segment,
			 strtol(ev->argv[ARG_DUE], NULL, 10));
	if (plan->planned)
		arg_int(ev, plan->first_ms);
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
	int argcs[APPLY_BATCH_MAX];
	const char *const *argvs[APPLY_BATCH_MAX];
	redisReply *replies[APPLY_BATCH_MAX];

	if (!a->wf)
		return;
	for (i = 0; i < a->count; i++)
		if (event_plannable(&a->events[i]))
			idx[n++] = i;
	for (i = 0; i < n; i++) {
		struct apply_event *ev = &a->events[idx[i]];
		struct apply_lookup *l = &a->lookups[i];

		snprintf(l->field, sizeof(l->field), "i:%s",
			 ev->argv[ARG_INVOICE]);
		l->argv[0] = "HMGET";
		l->argv[1] = ev->argv[ARG_CUSTOMER_HASH];
		memcpy(&l->argv[2], fields, sizeof(fields));
		l->argv[5] = l->field;
		argvs[i] = l->argv;
		argcs[i] = 6;
	}
	if (n == 0 || store_pipeline(a->store, n, argcs, argvs, NULL, replies))
		return;
	for (i = 0; i < n; i++) {
		const char *zone = reply_text(replies[i], 0);
		const char *opt_in = reply_text(replies[i], 2);

		/* Not planned: unknown customer, known invoice, opted out. */
		if (zone && !reply_text(replies[i], 3) &&
		    !(opt_in && strcmp(opt_in, "2") == 0))
			plan_event(a, &a->events[idx[i]], zone,
				   reply_text(replies[i], 1));
		store_reply_free(replies[i]);
	}
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

/* The i-th event in partition order. */
static struct apply_event *event_at(struct apply *a, size_t i)
{
	return &a->events[a->order[i] & UINT32_MAX];
}

static void push(struct apply_chunk *ch, const char *text, size_t len)
{
	ch->argv[ch->argc] = text;
	ch->lens[ch->argc++] = len;
}

/* Fills ch->argv (room for APPLY_CALL_HEAD, then APPLY_ARGS_MAX + 1 per
 * event) with its EVALSHA: the partition's keys, each event's keys, now,
 * then each event's count and arguments. */
static void chunk_build(struct apply *a, struct apply_chunk *ch)
{
	static const char *const suffixes[APPLY_CALL_KEYS] = { "q", "lease",
							       "stats" };
	size_t i;
	int k;

	ch->argc = 0;
	push(ch, "EVALSHA", 7);
	push(ch, a->sha, 40);
	snprintf(ch->nkeys, sizeof(ch->nkeys), "%zu",
		 APPLY_CALL_KEYS + APPLY_EVENT_KEYS * ch->count);
	push(ch, ch->nkeys, strlen(ch->nkeys));
	for (k = 0; k < APPLY_CALL_KEYS; k++) {
		snprintf(ch->keys[k], sizeof(ch->keys[k]),
			 "dn:{p%" PRId32 "}:%s", ch->partition, suffixes[k]);
		push(ch, ch->keys[k], strlen(ch->keys[k]));
	}
	for (i = 0; i < ch->count; i++) {
		struct apply_event *ev = event_at(a, ch->first + i);

		for (k = 0; k < APPLY_EVENT_KEYS; k++)
			push(ch, ev->argv[k], ev->lens[k]);
	}
	push(ch, a->now, strlen(a->now));
	for (i = 0; i < ch->count; i++) {
		struct apply_event *ev = event_at(a, ch->first + i);

		snprintf(ev->count, sizeof(ev->count), "%d",
			 ev->argc - APPLY_EVENT_KEYS);
		push(ch, ev->count, strlen(ev->count));
		for (k = APPLY_EVENT_KEYS; k < ev->argc; k++)
			push(ch, ev->argv[k], ev->lens[k]);
	}
}

/*
 * Orders the queued events by partition and cuts them into calls of at
 * most APPLY_CHUNK_MAX events of one partition, each built into a->chunks.
 * Returns the number of calls.
 */
static size_t chunks_build(struct apply *a)
{
	size_t i, end, n = 0, used = 0;

	for (i = 0; i < a->count; i++)
		a->order[i] =
			(uint64_t)(uint32_t)a->events[i].partition << 32 | i;
	qsort(a->order, a->count, sizeof(*a->order), order_compare);
	for (i = 0; i < a->count; i = end) {
		struct apply_chunk *ch = &a->chunks[n++];

		ch->partition = event_at(a, i)->partition;
		for (end = i + 1; end < a->count && end - i < APPLY_CHUNK_MAX &&
				  event_at(a, end)->partition == ch->partition;
		     end++)
			;
		ch->first = i;
		ch->count = end - i;
		ch->argv = a->argv + used;
		ch->lens = a->lens + used;
		chunk_build(a, ch);
		used += (size_t)ch->argc;
	}
	return n;
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

/* Keeps reply until the results are counted. */
static void keep(struct apply *a, redisReply *reply)
{
	a->replies[a->n_replies++] = reply;
}

/* Applies the i-th event of ch in a call of its own. Returns 0 or
 * DN_ERR_REDIS when Redis gave no answer. */
static int event_alone(struct apply *a, const struct apply_chunk *ch, size_t i)
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
	chunk_build(a, &one);
	reply = call_alone(a, &one);
	if (!reply)
		return DN_ERR_REDIS;
	keep(a, reply);
	event_at(a, one.first)->result =
		reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
			? reply->element[0]
			: reply;
	return DN_OK;
}

/*
 * Gives each event of ch its result from reply, which it takes. A call
 * that failed as a whole (an error outside every event, a reply of the
 * wrong shape) counts as one error and is made again one event a call, so
 * that an event that fails costs only itself. Its events may have been
 * applied before the failure: applied again they count as duplicates.
 * Returns 0 or DN_ERR_REDIS when Redis gave no answer.
 */
static int chunk_settle(struct apply *a, const struct apply_chunk *ch,
			redisReply *reply)
{
	size_t i;
	int err = DN_OK;

	if (is_noscript(reply)) {
		store_reply_free(reply);
		reply = call_alone(a, ch);
	}
	if (!reply)
		return DN_ERR_REDIS;
	keep(a, reply);
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == ch->count) {
		for (i = 0; i < ch->count; i++)
			event_at(a, ch->first + i)->result = reply->element[i];
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
		err = event_alone(a, ch, i);
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

/* Runs the calls as one pipeline and gives every event its result.
 * Returns 0 or DN_ERR_REDIS with nothing counted. */
static int calls_run(struct apply *a, size_t n)
{
	int argcs[APPLY_BATCH_MAX];
	const char *const *argvs[APPLY_BATCH_MAX];
	const size_t *lens[APPLY_BATCH_MAX];
	redisReply *replies[APPLY_BATCH_MAX];
	size_t i;
	int err = DN_OK;

	for (i = 0; i < n; i++) {
		argcs[i] = a->chunks[i].argc;
		argvs[i] = a->chunks[i].argv;
		lens[i] = a->chunks[i].lens;
	}
	if (store_pipeline(a->store, n, argcs, argvs, lens, replies))
		return DN_ERR_REDIS;
	for (i = 0; i < n; i++) {
		if (err)
			store_reply_free(replies[i]);
		else
			err = chunk_settle(a, &a->chunks[i], replies[i]);
	}
	return err;
}

int apply_flush(struct apply *a, char *err, size_t errlen)
{
	size_t i;
	int rc;

	if (a->count == 0)
		return DN_OK;

	/* A flush tried again plans again, at its own instant: back to the
	 * events as queued. */
	a->now_ms = clock_now_ms();
	snprintf(a->now, sizeof(a->now), "%" PRId64, a->now_ms);
	a->n_plans = 0;
	for (i = 0; i < a->count; i++) {
		a->events[i].argc = a->events[i].queued_argc;
		a->events[i].used = a->events[i].queued_used;
		a->events[i].overflow = false;
		a->events[i].result = NULL;
	}
	plan_new_invoices(a);

	a->n_replies = 0;
	rc = calls_run(a, chunks_build(a));
	if (rc == DN_OK)
		for (i = 0; i < a->count; i++)
			count_result(a, &a->events[i]);
	for (i = 0; i < a->n_replies; i++)
		store_reply_free(a->replies[i]);
	a->n_replies = 0;
	if (rc)
		return dn_fail(DN_ERR_REDIS, err, errlen,
			       "cannot apply %zu events: %s", a->count,
			       store_error(a->store));
	a->count = 0;
	return DN_OK;
}
