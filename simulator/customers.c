/* customers.c: the ERP mirror's consumer, the payer, and message reactions. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "customers.h"

#include "api.h"
#include "behaviour.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "logger.h"
#include "mirror.h"
#include "payload.h"
#include "request.h"
#include "stats.h"
#include "strmap.h"
#include "webhook.h"

#include "dunning/v1/ledger.pb-c.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CUSTOMERS_GROUP	       "dunning-simulator-erp"
#define CUSTOMERS_INVOICES_MAX 32
#define CUSTOMERS_PAYMENTS_MAX 1000000

/* A payment the customer will make at due_ms (product time). */
struct planned_payment {
	int64_t due_ms;
	char tenant[64];
	char customer_id[128];
	char invoice_id[96];
};

struct customers {
	struct customers_config cc;
	const struct config *cfg;
	const struct catalogue *cat;
	struct api *api;
	struct webhook *webhook;
	struct stats *stats;
	struct mirror *mirror;
	struct kafka_consumer *consumer; /* consumer thread only */
	struct kafka_producer *producer; /* payer thread only */
	pthread_t consumer_thread, payer_thread;
	int consumer_started, payer_started;

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	int stop;
	struct planned_payment *planned;
	size_t planned_count, planned_capacity;
	struct strmap *scheduled; /* tenant/invoice_id with a payment planned */
	struct strmap *opted_out; /* wa_id -> int64_t product ms */
};

/* ---------------------------------------------------------------------- */
/* The ERP mirror                                                          */

static void *consumer_main(void *arg)
{
	struct customers *c = arg;
	rd_kafka_message_t *msg;
	const void *payload;
	size_t len;
	int late, rc, stop;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		stop = c->stop;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		msg = kafka_consumer_poll(c->consumer, 200);
		if (!msg)
			continue;

		/* Offsets are never stored: a restart re-reads the ledger. */
		payload = kafka_message_payload(msg, &len);
		rc = mirror_apply_bytes(c->mirror, payload, len, &late);
		if (rc)
			log_warn("SIM",
				 "ledger event not mirrored: %s "
				 "partition=%d offset=%lld",
				 dn_strerror(rc), kafka_message_partition(msg),
				 (long long)kafka_message_offset(msg));
		stats_add(c->stats, STATS_LEDGER_EVENTS, 1);
		if (late) {
			stats_add(c->stats, STATS_SENT_AFTER_PAID, late);
			log_warn("SIM", "a reminder reached a customer after "
					"the invoice was paid");
		}
		kafka_message_free(msg);
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The payer                                                               */

static int plan_payment(struct customers *c, const char *tenant,
			const char *customer_id, const char *invoice_id,
			int64_t due_ms)
{
	struct planned_payment *p;
	char key[256];
	int rc = DN_OK;

	snprintf(key, sizeof(key), "%.63s/%.95s", tenant, invoice_id);
	pthread_mutex_lock(&c->lock);
	if (strmap_get(c->scheduled, key))
		goto out; /* the first decision to pay stands */
	if (c->planned_count == c->planned_capacity) {
		size_t cap = c->planned_capacity ? c->planned_capacity * 2 : 64;

		p = cap <= CUSTOMERS_PAYMENTS_MAX
			    ? realloc(c->planned, cap * sizeof(*p))
			    : NULL;
		if (!p) {
			rc = DN_ERR_NOMEM;
			goto out;
		}
		c->planned = p;
		c->planned_capacity = cap;
	}
	if (strmap_put(c->scheduled, key, c, NULL)) {
		rc = DN_ERR_NOMEM;
		goto out;
	}
	p = &c->planned[c->planned_count++];
	p->due_ms = due_ms;
	snprintf(p->tenant, sizeof(p->tenant), "%.63s", tenant);
	snprintf(p->customer_id, sizeof(p->customer_id), "%.127s", customer_id);
	snprintf(p->invoice_id, sizeof(p->invoice_id), "%.95s", invoice_id);
	pthread_cond_signal(&c->wake);
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Produces the ERP's record of a payment settling the invoice. */
static int produce_payment(struct customers *c, const struct planned_payment *p,
			   const struct mirror_invoice *inv)
{
	Dunning__V1__LedgerEvent ev = DUNNING__V1__LEDGER_EVENT__INIT;
	Dunning__V1__PaymentReceived pay = DUNNING__V1__PAYMENT_RECEIVED__INIT;
	Dunning__V1__Money amount = DUNNING__V1__MONEY__INIT;
	Dunning__V1__Source source = DUNNING__V1__SOURCE__INIT;
	char event_id[320], payment_id[128], key[256], err[256];
	uint8_t buf[2048];
	size_t len;

	snprintf(payment_id, sizeof(payment_id), "%s/settled", p->invoice_id);
	snprintf(event_id, sizeof(event_id), "erp-sim/%s/%s", p->tenant,
		 payment_id);
	amount.minor_units = inv->amount - inv->paid;
	amount.currency = (char *)inv->currency;
	pay.invoice_id = (char *)p->invoice_id;
	pay.payment_id = payment_id;
	pay.amount = &amount;
	source.component = "simulator";
	source.origin = "erp";
	ev.event_id = event_id;
	ev.tenant = (char *)p->tenant;
	ev.customer_id = (char *)p->customer_id;
	ev.occurred_at_ms = p->due_ms;
	ev.published_at_ms = clock_now_ms();
	ev.source = &source;
	ev.body_case = DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
	ev.payment_received = &pay;
	len = dunning__v1__ledger_event__get_packed_size(&ev);
	if (len > sizeof(buf) ||
	    kafka_key_format(key, sizeof(key), p->tenant, p->customer_id))
		return DN_ERR_TOO_LARGE;
	dunning__v1__ledger_event__pack(&ev, buf);
	if (kafka_producer_send(
		    c->producer,
		    config_str(c->cfg, "DUNNING_TOPIC_INVOICE_EVENTS"), key,
		    strlen(key), buf, len, NULL, err, sizeof(err))) {
		log_error("KAFKA", "cannot produce a payment: %s", err);
		return DN_ERR_KAFKA;
	}
	return DN_OK;
}

/* Pays when the invoice is still open in the ERP. Payer thread. */
static void pay(struct customers *c, const struct planned_payment *p)
{
	struct mirror_invoice inv;

	if (mirror_invoice(c->mirror, p->tenant, p->invoice_id, &inv) ||
	    inv.paid_at_ms || inv.cancelled || inv.paid >= inv.amount)
		return;
	if (produce_payment(c, p, &inv) == DN_OK)
		stats_add(c->stats, STATS_PAYMENTS_MADE, 1);
}

/* Index of the earliest planned payment; lock held, count > 0. */
static size_t earliest(const struct customers *c)
{
	size_t i, best = 0;

	for (i = 1; i < c->planned_count; i++)
		if (c->planned[i].due_ms < c->planned[best].due_ms)
			best = i;
	return best;
}

static void wait_ms(struct customers *c, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&c->wake, &c->lock, &ts);
}

static void *payer_main(void *arg)
{
	struct customers *c = arg;
	struct planned_payment due;
	int64_t delay;
	size_t at;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		pthread_mutex_unlock(&c->lock);
		kafka_producer_poll(c->producer, 0);
		pthread_mutex_lock(&c->lock);
		if (!c->planned_count) {
			wait_ms(c, 200);
			continue;
		}
		at = earliest(c);
		delay = clock_real_delay_ms(c->planned[at].due_ms);
		if (delay > 0) {
			wait_ms(c, delay < 200 ? delay : 200);
			continue;
		}
		due = c->planned[at];
		c->planned[at] = c->planned[--c->planned_count];
		pthread_mutex_unlock(&c->lock);
		pay(c, &due);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Reactions to a message (HTTP threads)                                   */

size_t customers_split_invoices(const char *param, char ids[][96], size_t max)
{
	size_t n = 0, len;
	const char *p = param;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		len = strcspn(p, ",");
		while (len && p[len - 1] == ' ')
			len--;
		if (len && len < 96) {
			memcpy(ids[n], p, len);
			ids[n++][len] = '\0';
		}
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return n;
}

/* Judges the product for this message: paid invoices, opt-in, opt-out. */
static void judge(struct customers *c, const struct api_message *msg,
		  const struct mirror_customer *who, int known, char ids[][96],
		  size_t count)
{
	int64_t *opted_at;
	size_t i;
	int late;

	for (i = 0; known && i < count; i++) {
		late = mirror_note_message(c->mirror, who->tenant, ids[i],
					   msg->accepted_ms);
		if (late < 0)
			stats_add(c->stats, STATS_UNKNOWN_INVOICES, 1);
		if (late > 0) {
			stats_add(c->stats, STATS_SENT_AFTER_PAID, 1);
			log_warn("SIM",
				 "reminder for an invoice already paid "
				 "invoice=%s",
				 ids[i]);
		}
	}
	if (known && !who->opted_in)
		stats_add(c->stats, STATS_SENT_WITHOUT_OPT_IN, 1);
	pthread_mutex_lock(&c->lock);
	opted_at = strmap_get(c->opted_out, msg->request->wa_id);
	if (opted_at && *opted_at + c->cc.paid_grace_ms <= msg->accepted_ms)
		stats_add(c->stats, STATS_SENT_AFTER_OPT_OUT, 1);
	pthread_mutex_unlock(&c->lock);
}

static void queue_read(struct customers *c, const struct api_message *msg,
		       int64_t at_ms)
{
	const struct request *rq = msg->request;
	struct payload_status st;

	memset(&st, 0, sizeof(st));
	snprintf(st.wamid, sizeof(st.wamid), "%s", msg->wamid);
	st.kind = PAYLOAD_READ;
	st.at_ms = at_ms;
	snprintf(st.recipient_id, sizeof(st.recipient_id), "%s", rq->wa_id);
	if (rq->callback_data)
		snprintf(st.callback_data, sizeof(st.callback_data), "%s",
			 rq->callback_data);
	stats_add(c->stats, STATS_READS, 1);
	webhook_queue_status(c->webhook, msg->sender, &st);
}

static void queue_reply(struct customers *c, const struct api_message *msg,
			const struct mirror_customer *who,
			const struct behaviour_decision *d, int64_t at_ms)
{
	struct payload_inbound in;
	int64_t *opted_at;

	memset(&in, 0, sizeof(in));
	api_new_wamid(c->api, in.wamid, sizeof(in.wamid));
	in.kind = d->reply == BEHAVIOUR_BUTTON ? PAYLOAD_BUTTON : PAYLOAD_TEXT;
	in.at_ms = at_ms;
	snprintf(in.from, sizeof(in.from), "%s", msg->request->wa_id);
	snprintf(in.name, sizeof(in.name), "%s",
		 who->name[0] ? who->name : "Customer");
	snprintf(in.context_id, sizeof(in.context_id), "%s", msg->wamid);
	snprintf(in.payload, sizeof(in.payload), "%s", d->payload);
	snprintf(in.text, sizeof(in.text), "%s", d->text);
	api_note_inbound(c->api, in.from, at_ms);
	stats_add(c->stats, STATS_REPLIES_SENT, 1);
	webhook_queue_inbound(c->webhook, msg->sender, &in);
	if (!d->opt_out)
		return;
	stats_add(c->stats, STATS_OPT_OUTS, 1);
	opted_at = malloc(sizeof(*opted_at));
	if (!opted_at)
		return;
	*opted_at = at_ms;
	pthread_mutex_lock(&c->lock);
	if (strmap_get(c->opted_out, in.from) ||
	    strmap_put(c->opted_out, in.from, opted_at, NULL))
		free(opted_at);
	pthread_mutex_unlock(&c->lock);
}

void customers_on_message(void *ctx, const struct api_message *msg)
{
	struct customers *c = ctx;
	const struct request *rq = msg->request;
	char ids[CUSTOMERS_INVOICES_MAX][96], key[256];
	struct behaviour_params params;
	struct behaviour_input in;
	struct behaviour_decision d;
	struct mirror_customer who;
	int64_t read_at;
	size_t count = 0, i;
	int known;

	known = mirror_customer_by_wa_id(c->mirror, rq->wa_id, &who) == DN_OK;
	if (!known)
		memset(&who, 0, sizeof(who));
	if (rq->type == REQUEST_TEMPLATE && rq->param_count >= 2)
		count = customers_split_invoices(rq->params[1], ids,
						 CUSTOMERS_INVOICES_MAX);
	judge(c, msg, &who, known, ids, count);

	/* The customer's reaction, decided by seed, customer and command. */
	snprintf(key, sizeof(key), "%s/%s", who.tenant,
		 known ? who.customer_id : rq->wa_id);
	params.seed = c->cc.seed;
	params.pay_effect_permille = c->cc.pay_effect_permille;
	params.reply_permille = c->cc.reply_permille;
	params.opt_out_permille = c->cc.opt_out_permille;
	in.customer_key = key;
	in.segment = who.segment;
	in.locale = who.locale;
	in.message_key = rq->callback_data ? rq->callback_data : msg->wamid;
	in.tpl = rq->type == REQUEST_TEMPLATE
			 ? catalogue_find(c->cat, rq->template_name)
			 : NULL;
	behaviour_decide(&params, &in, &d);
	if (!d.read)
		return;
	read_at = msg->delivered_ms + d.read_after_ms;
	queue_read(c, msg, read_at);
	if (d.reply != BEHAVIOUR_NO_REPLY)
		queue_reply(c, msg, &who, &d, read_at + d.reply_after_ms);
	for (i = 0; known && d.pays && i < count; i++)
		if (plan_payment(c, who.tenant, who.customer_id, ids[i],
				 read_at + d.pay_after_ms))
			log_warn("SIM", "payment not planned: out of memory");
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

static int customers_connect(struct customers *c, char *err, size_t errlen)
{
	const char *topics[1];

	topics[0] = config_str(c->cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	c->consumer = kafka_consumer_new(c->cfg, CUSTOMERS_GROUP, topics, 1,
					 NULL, NULL, NULL, err, errlen);
	if (!c->consumer)
		return DN_ERR_KAFKA;
	c->producer = kafka_producer_new(c->cfg, "dunning-simulator-erp", NULL,
					 err, errlen);
	return c->producer ? DN_OK : DN_ERR_KAFKA;
}

static int customers_start_threads(struct customers *c, char *err,
				   size_t errlen)
{
	if (pthread_create(&c->consumer_thread, NULL, consumer_main, c))
		return dn_fail(DN_ERR_IO, err, errlen,
			       "cannot start the ledger consumer: %s",
			       strerror(errno));
	c->consumer_started = 1;
	if (pthread_create(&c->payer_thread, NULL, payer_main, c))
		return dn_fail(DN_ERR_IO, err, errlen,
			       "cannot start the payer: %s", strerror(errno));
	c->payer_started = 1;
	return DN_OK;
}

struct customers *customers_new(const struct config *cfg,
				const struct customers_config *cc,
				const struct catalogue *cat, struct api *api,
				struct webhook *webhook, struct stats *stats,
				char *err, size_t errlen)
{
	struct customers *c = calloc(1, sizeof(*c));

	if (!c) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	c->cc = *cc;
	c->cfg = cfg;
	c->cat = cat;
	c->api = api;
	c->webhook = webhook;
	c->stats = stats;
	c->mirror = mirror_new(cc->paid_grace_ms);
	c->scheduled = strmap_new();
	c->opted_out = strmap_new();
	if (!c->mirror || !c->scheduled || !c->opted_out) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto fail;
	}
	if (customers_connect(c, err, errlen) ||
	    customers_start_threads(c, err, errlen))
		goto fail;
	return c;

fail:
	customers_free(c);
	return NULL;
}

void customers_free(struct customers *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (c->consumer_started)
		pthread_join(c->consumer_thread, NULL);
	if (c->payer_started)
		pthread_join(c->payer_thread, NULL);
	kafka_consumer_free(c->consumer);
	kafka_producer_free(c->producer);
	mirror_free(c->mirror);
	strmap_free(c->scheduled, NULL);
	strmap_free(c->opted_out, free);
	free(c->planned);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
