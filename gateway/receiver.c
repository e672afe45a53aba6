/* receiver.c: the webhook endpoint and the thread that turns it into events. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "receiver.h"

#include "clock.h"
#include "config.h"
#include "error.h"
#include "events.h"
#include "httpd.h"
#include "kafka.h"
#include "logger.h"
#include "metrics.h"
#include "registry.h"
#include "webhook.h"

#include "dunning/v1/whatsapp.pb-c.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECEIVER_GROUP_MAX 64 /* webhooks stored with one flush */

struct receiver_metrics {
	struct metric *accepted, *not_stored, *bad_signature, *malformed;
	struct metric *overloaded;
	struct metric *verified, *verify_refused, *signature_failures;
	struct metric *produced, *duplicate, *stale, *unknown, *unreadable;
	struct metric *errors;
};

/*
 * What a webhook's HTTP thread waits for: the event thread's verdict on
 * its batch. Held by both; whichever lets go last frees it (under lock).
 */
struct ticket {
	int refs;
	int done;
	int stored; /* every event of the batch is acknowledged by Kafka */
};

/* A parsed webhook waiting for the event thread. */
struct job {
	struct webhook_batch batch;
	struct ticket *ticket;
};

struct receiver {
	const struct config *cfg;
	struct metrics *metrics;
	struct receiver_metrics m;
	struct httpd *httpd;
	receiver_health_fn health;
	void *health_ctx;
	const char *app_secret;
	const char *verify_token;
	const char *events_topic;
	int64_t ack_ms;

	/* Parsed webhooks waiting for the event thread, and its verdicts. */
	pthread_mutex_t lock;
	pthread_cond_t ready, settled;
	struct job *queue;
	size_t capacity, head, count;
	int stopping;
	int thread_started;
	pthread_t thread;

	/* Owned by the event thread. */
	struct registry *registry;
	struct kafka_producer *producer;
};

/* ---------------------------------------------------------------------- */
/* HTTP thread                                                             */

static const char *on_health(void *ctx)
{
	struct receiver *r = ctx;

	return r->health ? r->health(r->health_ctx) : NULL;
}

/* Runs on the HTTP server's thread. */
static void on_verify(void *ctx, const struct http_request *req,
		      struct http_response *resp)
{
	struct receiver *r = ctx;
	const char *challenge = NULL;
	int status =
		webhook_handshake(http_request_query(req, "hub.mode"),
				  http_request_query(req, "hub.verify_token"),
				  http_request_query(req, "hub.challenge"),
				  r->verify_token, &challenge);

	if (status == 200) {
		metric_add(r->m.verified, 1);
		http_respond_text(resp, 200, "text/plain", challenge);
		return;
	}
	metric_add(r->m.verify_refused, 1);
	log_warn("HTTP", "webhook verification refused");
	http_respond_text(resp, 403, "text/plain", "forbidden\n");
}

/* Drops one hold of t; call with lock held. */
static void ticket_drop(struct ticket *t)
{
	if (--t->refs == 0)
		free(t);
}

/* Moves batch into the queue with t; 0 when queued, -1 when full. */
static int enqueue(struct receiver *r, struct webhook_batch *batch,
		   struct ticket *t)
{
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	if (r->count < r->capacity) {
		struct job *j = &r->queue[(r->head + r->count) % r->capacity];

		j->batch = *batch;
		j->ticket = t;
		t->refs++;
		r->count++;
		pthread_cond_signal(&r->ready);
		rc = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* Waits up to ack_ms for t's verdict; returns whether its events are
 * stored. Lets go of t. */
static int ticket_wait(struct receiver *r, struct ticket *t)
{
	struct timespec until;
	int stored;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(r->ack_ms / 1000);
	until.tv_nsec += (long)(r->ack_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	while (!t->done &&
	       pthread_cond_timedwait(&r->settled, &r->lock, &until) == 0)
		;
	stored = t->done && t->stored;
	ticket_drop(t);
	pthread_mutex_unlock(&r->lock);
	return stored;
}

/* Runs on the HTTP server's thread. */
static void on_webhook(void *ctx, const struct http_request *req,
		       struct http_response *resp)
{
	struct receiver *r = ctx;
	struct webhook_batch batch;
	struct ticket *t;
	char err[256];

	if (webhook_signature_check(
		    r->app_secret, req->body, req->body_len,
		    http_request_header(req, "X-Hub-Signature-256"))) {
		metric_add(r->m.bad_signature, 1);
		metric_add(r->m.signature_failures, 1);
		log_warn("HTTP",
			 "webhook refused: bad or missing signature "
			 "bytes=%zu",
			 req->body_len);
		http_respond_text(resp, 401, "text/plain", "bad signature\n");
		return;
	}
	if (webhook_parse(req->body, req->body_len, &batch, err, sizeof(err))) {
		webhook_batch_release(&batch);
		metric_add(r->m.malformed, 1);
		log_warn("HTTP", "webhook refused: %s", err);
		http_respond_text(resp, 400, "text/plain", "malformed JSON\n");
		return;
	}
	metric_add(r->m.unreadable, (int64_t)batch.unreadable);
	t = calloc(1, sizeof(*t));
	if (t)
		t->refs = 1;
	if (!t || enqueue(r, &batch, t)) {
		webhook_batch_release(&batch);
		free(t);
		metric_add(r->m.overloaded, 1);
		http_respond_text(resp, 503, "text/plain", "busy\n");
		return;
	}
	/* Answered 200 only once its events are stored: Meta sends a
	 * webhook again until it gets a 200, and never after. */
	if (!ticket_wait(r, t)) {
		metric_add(r->m.not_stored, 1);
		http_respond_text(resp, 503, "text/plain",
				  "not stored yet, send it again\n");
		return;
	}
	metric_add(r->m.accepted, 1);
	http_respond_text(resp, 200, "text/plain", "ok\n");
}

/* ---------------------------------------------------------------------- */
/* Event thread                                                            */

/* What became of one status or message of a webhook. */
enum item_result {
	ITEM_SKIPPED,  /* unknown, stale or repeated: nothing to store */
	ITEM_PRODUCED, /* its event is on its way to Kafka */
	ITEM_FAILED,   /* not handled: the webhook must come again */
};

/* Queues ev; whether it is stored is known at the group's flush. */
static enum item_result produce(struct receiver *r,
				const Dunning__V1__MessageEvent *ev)
{
	char err[256];

	if (events_send(r->producer, r->events_topic, ev, NULL, err,
			sizeof(err))) {
		metric_add(r->m.errors, 1);
		log_error("KAFKA", "cannot produce event=%s: %s", ev->event_id,
			  err);
		return ITEM_FAILED;
	}
	return ITEM_PRODUCED;
}

static const int status_rank[] = {
	[WEBHOOK_STATUS_SENT] = 1,
	[WEBHOOK_STATUS_DELIVERED] = 2,
	[WEBHOOK_STATUS_READ] = 3,
	[WEBHOOK_STATUS_FAILED] = 3,
};

static const Dunning__V1__DeliveryStatus status_proto[] = {
	[WEBHOOK_STATUS_SENT] =
		DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT,
	[WEBHOOK_STATUS_DELIVERED] =
		DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_DELIVERED,
	[WEBHOOK_STATUS_READ] =
		DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_READ,
	[WEBHOOK_STATUS_FAILED] =
		DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_FAILED,
};

/* Whose message a status is about: by message id, else by command id. */
static int status_owner(struct receiver *r, const struct webhook_item *item,
			struct registry_owner *owner)
{
	char err[256];
	int rc = registry_message_owner(r->registry, item->message_id, owner,
					err, sizeof(err));

	if (rc == DN_ERR_NOT_FOUND && item->callback_data[0])
		rc = registry_command_owner(r->registry, item->callback_data,
					    owner, err, sizeof(err));
	if (rc && rc != DN_ERR_NOT_FOUND)
		log_error("REDIS", "cannot look up message owner: %s", err);
	return rc;
}

static enum item_result status_event(struct receiver *r,
				     const struct webhook_item *item,
				     const struct registry_owner *owner)
{
	Dunning__V1__MessageEvent ev = DUNNING__V1__MESSAGE_EVENT__INIT;
	Dunning__V1__StatusUpdate status = DUNNING__V1__STATUS_UPDATE__INIT;
	char id[EVENTS_ID_MAX];

	events_id(id, sizeof(id), item->message_id,
		  webhook_status_name(item->status));
	ev.event_id = id;
	ev.tenant = (char *)owner->tenant;
	ev.customer_id = (char *)owner->customer;
	ev.command_id = (char *)(owner->command[0] ? owner->command
						   : item->callback_data);
	ev.wa_message_id = (char *)item->message_id;
	ev.wa_id = (char *)item->wa_id;
	ev.occurred_at_ms = item->occurred_at_ms;
	status.status = status_proto[item->status];
	status.error_code = item->error_code;
	status.error_title = (char *)item->error_title;
	status.origin = "webhook";
	ev.body_case = DUNNING__V1__MESSAGE_EVENT__BODY_STATUS;
	ev.status = &status;
	return produce(r, &ev);
}

/* A status newer than any recorded becomes an event; it is recorded once
 * the event is stored (item_stored). */
static enum item_result handle_status(struct receiver *r,
				      const struct webhook_item *item)
{
	struct registry_owner owner;
	char err[256];
	int rank = 0;

	if (status_owner(r, item, &owner)) {
		metric_add(r->m.unknown, 1);
		log_info("WA",
			 "status for an unknown message skipped "
			 "status=%s",
			 webhook_status_name(item->status));
		return ITEM_SKIPPED;
	}
	if (registry_status_rank(r->registry, item->message_id, &rank, err,
				 sizeof(err))) {
		metric_add(r->m.errors, 1);
		log_error("REDIS", "cannot read status: %s", err);
		return ITEM_FAILED;
	}
	if (status_rank[item->status] <= rank) {
		metric_add(r->m.stale, 1);
		return ITEM_SKIPPED;
	}
	if (item->wa_id[0])
		registry_user_remember(r->registry, item->phone_number_id,
				       item->wa_id, owner.tenant,
				       owner.customer, err, sizeof(err));
	return status_event(r, item, &owner);
}

/* Whose message this is: the answered message's, else the sender's. */
static int message_owner(struct receiver *r, const struct webhook_item *item,
			 struct registry_owner *owner)
{
	char err[256];
	int rc = DN_ERR_NOT_FOUND;

	if (item->context_id[0])
		rc = registry_message_owner(r->registry, item->context_id,
					    owner, err, sizeof(err));
	if (rc == DN_ERR_NOT_FOUND)
		rc = registry_user_owner(r->registry, item->phone_number_id,
					 item->wa_id, owner, err, sizeof(err));
	if (rc && rc != DN_ERR_NOT_FOUND)
		log_error("REDIS", "cannot look up customer: %s", err);
	return rc;
}

static void message_body(const struct webhook_item *item,
			 Dunning__V1__MessageEvent *ev,
			 Dunning__V1__InboundText *text,
			 Dunning__V1__ButtonReply *button,
			 Dunning__V1__InteractiveReply *choice)
{
	switch (item->kind) {
	case WEBHOOK_TEXT:
		text->body = (char *)item->text;
		ev->body_case = DUNNING__V1__MESSAGE_EVENT__BODY_TEXT;
		ev->text = text;
		break;
	case WEBHOOK_BUTTON:
		button->payload = (char *)item->reply_id;
		button->text = (char *)item->text;
		ev->body_case = DUNNING__V1__MESSAGE_EVENT__BODY_BUTTON;
		ev->button = button;
		break;
	case WEBHOOK_INTERACTIVE:
		choice->id = (char *)item->reply_id;
		choice->title = (char *)item->text;
		ev->body_case = DUNNING__V1__MESSAGE_EVENT__BODY_INTERACTIVE;
		ev->interactive = choice;
		break;
	default:
		/* Media, location, reactions: an inbound message with no body
		 * the worker reads; it still counts as a reply. */
		break;
	}
}

static enum item_result message_event(struct receiver *r,
				      const struct webhook_item *item,
				      const struct registry_owner *owner)
{
	Dunning__V1__MessageEvent ev = DUNNING__V1__MESSAGE_EVENT__INIT;
	Dunning__V1__InboundText text = DUNNING__V1__INBOUND_TEXT__INIT;
	Dunning__V1__ButtonReply button = DUNNING__V1__BUTTON_REPLY__INIT;
	Dunning__V1__InteractiveReply choice =
		DUNNING__V1__INTERACTIVE_REPLY__INIT;

	ev.event_id = (char *)item->message_id;
	ev.tenant = (char *)owner->tenant;
	ev.customer_id = (char *)owner->customer;
	ev.command_id = (char *)owner->command;
	ev.wa_message_id = (char *)item->message_id;
	ev.wa_id = (char *)item->wa_id;
	ev.occurred_at_ms = item->occurred_at_ms;
	ev.context_message_id = (char *)item->context_id;
	message_body(item, &ev, &text, &button, &choice);
	return produce(r, &ev);
}

/* An inbound message not handled before becomes an event; it is marked
 * handled once the event is stored (item_stored). */
static enum item_result handle_message(struct receiver *r,
				       const struct webhook_item *item)
{
	struct registry_owner owner;
	char err[256];
	int seen = 0;

	if (message_owner(r, item, &owner)) {
		metric_add(r->m.unknown, 1);
		log_info("WA",
			 "message from an unknown customer skipped "
			 "type=%s",
			 item->message_type);
		return ITEM_SKIPPED;
	}
	if (registry_seen_before(r->registry, item->message_id, &seen, err,
				 sizeof(err))) {
		metric_add(r->m.errors, 1);
		log_error("REDIS", "cannot deduplicate message: %s", err);
		return ITEM_FAILED;
	}
	if (seen) {
		metric_add(r->m.duplicate, 1);
		return ITEM_SKIPPED;
	}
	registry_window_open(r->registry, owner.tenant, owner.customer,
			     item->occurred_at_ms > 0 ? item->occurred_at_ms
						      : clock_now_ms(),
			     err, sizeof(err));
	registry_user_remember(r->registry, item->phone_number_id, item->wa_id,
			       owner.tenant, owner.customer, err, sizeof(err));
	return message_event(r, item, &owner);
}

/*
 * Records that item's event is stored, so that the same status or message
 * coming again is skipped. Recorded only now: a webhook answered 503
 * comes again and must not find its items already recorded. A failure
 * here costs at most a repeated event, which the worker ignores.
 */
static void item_stored(struct receiver *r, const struct webhook_item *item)
{
	char err[256];
	int changed = 0, rc;

	metric_add(r->m.produced, 1);
	if (item->kind == WEBHOOK_STATUS)
		rc = registry_status_advance(r->registry, item->message_id,
					     status_rank[item->status],
					     &changed, err, sizeof(err));
	else
		rc = registry_seen(r->registry, item->message_id, &changed, err,
				   sizeof(err));
	if (rc)
		log_warn("REDIS", "stored event not recorded: %s", err);
}

/* Handles every item of j's batch; marks in produced[] those whose event
 * was queued. Returns 0, or -1 when an item could not be handled. */
static int job_handle(struct receiver *r, struct job *j, bool *produced)
{
	struct webhook_batch *batch = &j->batch;
	int failed = 0;
	size_t i;

	for (i = 0; i < batch->count; i++) {
		const struct webhook_item *item = &batch->items[i];
		enum item_result res = item->kind == WEBHOOK_STATUS
					       ? handle_status(r, item)
					       : handle_message(r, item);

		produced[i] = res == ITEM_PRODUCED;
		failed |= res == ITEM_FAILED;
	}
	kafka_producer_poll(r->producer, 0);
	return failed ? -1 : 0;
}

/* Gives t its verdict and lets go of it. */
static void ticket_settle(struct receiver *r, struct ticket *t, int stored)
{
	pthread_mutex_lock(&r->lock);
	t->done = 1;
	t->stored = stored;
	ticket_drop(t);
	pthread_cond_broadcast(&r->settled);
	pthread_mutex_unlock(&r->lock);
}

/*
 * Handles n jobs, waits until Kafka acknowledged their events, records
 * what is stored and answers each job's webhook: stored when every event
 * of it is acknowledged and none of its items failed.
 */
static void jobs_settle(struct receiver *r, struct job *jobs, size_t n)
{
	uint64_t failed_before = kafka_producer_failed(r->producer);
	bool *produced[RECEIVER_GROUP_MAX];
	int handled[RECEIVER_GROUP_MAX];
	bool acked;
	size_t i, k;

	for (i = 0; i < n; i++) {
		produced[i] = calloc(jobs[i].batch.count + 1, sizeof(bool));
		handled[i] = produced[i] &&
			     job_handle(r, &jobs[i], produced[i]) == 0;
	}
	acked = kafka_producer_flush(r->producer, (int)(r->ack_ms / 2)) ==
			DN_OK &&
		kafka_producer_failed(r->producer) == failed_before;
	if (!acked)
		log_error("KAFKA",
			  "message events of %zu webhooks not "
			  "acknowledged: they are answered 503 and "
			  "come again",
			  n);
	for (i = 0; i < n; i++) {
		for (k = 0; acked && produced[i] && k < jobs[i].batch.count;
		     k++)
			if (produced[i][k])
				item_stored(r, &jobs[i].batch.items[k]);
		ticket_settle(r, jobs[i].ticket, acked && handled[i]);
		webhook_batch_release(&jobs[i].batch);
		free(produced[i]);
	}
}

/* Takes up to max queued jobs, waiting up to 100 ms for the first;
 * returns how many. */
static size_t dequeue(struct receiver *r, struct job *jobs, size_t max)
{
	struct timespec until;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 100 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	while (r->count == 0 && !r->stopping &&
	       pthread_cond_timedwait(&r->ready, &r->lock, &until) == 0)
		;
	while (r->count > 0 && n < max) {
		jobs[n++] = r->queue[r->head];
		r->head = (r->head + 1) % r->capacity;
		r->count--;
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

static int stopping_and_empty(struct receiver *r)
{
	int done;

	pthread_mutex_lock(&r->lock);
	done = r->stopping && r->count == 0;
	pthread_mutex_unlock(&r->lock);
	return done;
}

/* The event thread. */
static void *event_thread(void *arg)
{
	struct receiver *r = arg;
	struct job jobs[RECEIVER_GROUP_MAX];

	while (!stopping_and_empty(r)) {
		size_t n = dequeue(r, jobs, RECEIVER_GROUP_MAX);

		if (n)
			jobs_settle(r, jobs, n);
		kafka_producer_poll(r->producer, 0);
	}
	kafka_producer_flush(r->producer, 10000);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Life                                                                    */

static struct metric *counter(struct receiver *r, const char *name,
			      const char *help, const char *labels)
{
	return metrics_series(r->metrics, METRIC_COUNTER, name, help, labels);
}

static void metrics_register(struct receiver *r)
{
	static const char requests[] = "dunning_gateway_webhook_requests_total";
	static const char requests_help[] = "webhook requests by outcome";
	static const char items[] = "dunning_gateway_webhook_items_total";
	static const char items_help[] =
		"statuses and messages received, by what became of them";

	r->m.accepted =
		counter(r, requests, requests_help, "outcome=\"accepted\"");
	r->m.not_stored =
		counter(r, requests, requests_help, "outcome=\"not_stored\"");
	r->m.bad_signature = counter(r, requests, requests_help,
				     "outcome=\"bad_signature\"");
	r->m.malformed =
		counter(r, requests, requests_help, "outcome=\"malformed\"");
	r->m.overloaded =
		counter(r, requests, requests_help, "outcome=\"overloaded\"");
	r->m.verified =
		counter(r, requests, requests_help, "outcome=\"verified\"");
	r->m.verify_refused = counter(r, requests, requests_help,
				      "outcome=\"verify_refused\"");
	r->m.signature_failures = counter(
		r, "dunning_gateway_webhook_signature_failures_total",
		"webhooks refused for a bad or missing signature", NULL);
	r->m.produced = counter(r, items, items_help, "result=\"produced\"");
	r->m.duplicate = counter(r, items, items_help, "result=\"duplicate\"");
	r->m.stale = counter(r, items, items_help, "result=\"stale\"");
	r->m.unknown = counter(r, items, items_help, "result=\"unknown\"");
	r->m.unreadable =
		counter(r, items, items_help, "result=\"unreadable\"");
	r->m.errors = counter(r, items, items_help, "result=\"error\"");
}

static int receiver_start(struct receiver *r, char *err, size_t errlen)
{
	const struct config *cfg = r->cfg;
	const struct http_route routes[] = {
		{ "GET", "/webhook", on_verify, r },
		{ "POST", "/webhook", on_webhook, r },
	};

	r->registry = registry_new(
		config_str(cfg, "DUNNING_REDIS_URL"),
		(int)config_int(cfg, "DUNNING_REDIS_TIMEOUT_MS"), err, errlen);
	if (!r->registry)
		return DN_ERR_REDIS;
	r->producer = kafka_producer_new(cfg, "dunning-gateway-webhook", NULL,
					 err, errlen);
	if (!r->producer)
		return DN_ERR_KAFKA;
	if (pthread_create(&r->thread, NULL, event_thread, r))
		return dn_fail(DN_ERR_NOMEM, err, errlen,
			       "cannot start the event thread");
	r->thread_started = 1;
	r->httpd = httpd_new(
		config_str(cfg, "DUNNING_GATEWAY_HTTP_BIND"),
		(int)config_int(cfg, "DUNNING_GATEWAY_HTTP_PORT"), routes, 2,
		(size_t)config_int(cfg, "DUNNING_GATEWAY_WEBHOOK_MAX_BYTES"),
		r->metrics, on_health, r, err, errlen);
	return r->httpd ? DN_OK : DN_ERR_HTTP;
}

struct receiver *receiver_new(const struct config *cfg, struct metrics *metrics,
			      receiver_health_fn health, void *health_ctx,
			      char *err, size_t errlen)
{
	struct receiver *r = calloc(1, sizeof(*r));

	if (!r) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	r->cfg = cfg;
	r->metrics = metrics;
	r->health = health;
	r->health_ctx = health_ctx;
	r->app_secret = config_str(cfg, "DUNNING_WA_APP_SECRET");
	r->verify_token = config_str(cfg, "DUNNING_WA_VERIFY_TOKEN");
	r->events_topic = config_str(cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS");
	r->ack_ms = config_int(cfg, "DUNNING_GATEWAY_WEBHOOK_ACK_MS");
	r->capacity = (size_t)config_int(cfg, "DUNNING_GATEWAY_WEBHOOK_QUEUE");
	r->queue = calloc(r->capacity, sizeof(*r->queue));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->ready, NULL);
	pthread_cond_init(&r->settled, NULL);
	metrics_register(r);
	if (!r->queue || receiver_start(r, err, errlen)) {
		if (!r->queue)
			dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		receiver_free(r);
		return NULL;
	}
	return r;
}

int receiver_port(const struct receiver *r)
{
	return httpd_port(r->httpd);
}

void receiver_free(struct receiver *r)
{
	if (!r)
		return;
	httpd_free(r->httpd); /* no new webhooks from here on */
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_signal(&r->ready);
	pthread_mutex_unlock(&r->lock);
	if (r->thread_started)
		pthread_join(r->thread, NULL);
	while (r->count > 0) {
		struct job *j = &r->queue[r->head];

		webhook_batch_release(&j->batch);
		ticket_settle(r, j->ticket, 0);
		r->head = (r->head + 1) % r->capacity;
		r->count--;
	}
	kafka_producer_free(r->producer);
	registry_free(r->registry);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->ready);
	pthread_cond_destroy(&r->settled);
	free(r->queue);
	free(r);
}
