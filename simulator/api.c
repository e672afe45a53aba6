/* api.c: messages endpoint, token, rate limits, injected errors, controls. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "api.h"

#include "catalogue.h"
#include "clock.h"
#include "error.h"
#include "logger.h"
#include "payload.h"
#include "ratelimit.h"
#include "recipient.h"
#include "request.h"
#include "rng.h"
#include "httpd.h"
#include "stats.h"
#include "strmap.h"
#include "waerror.h"
#include "webhook.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_OLD_TOKENS_MAX 8
#define API_RECENT_MAX	   10000
#define API_WINDOW_MS	   (24LL * 3600 * 1000)
#define API_DETAILS_MAX	   512

/* A recipient's configured error: answered at once or as a failed status. */
struct fail_rule {
	int code;
	int sync;
};

/* An accepted message kept for GET /sim/messages. */
struct recent {
	char wamid[PAYLOAD_WAMID_MAX];
	char phone_number_id[64];
	char to[64];
	char wa_id[20];
	char template_name[128];
	char language[16];
	json_t *params; /* array of strings, or NULL for text */
	char *callback_data;
	int64_t accepted_ms;
};

struct api {
	struct api_config cfg;
	char *display_phone;
	const struct catalogue *cat;
	struct webhook *webhook;
	struct stats *stats;
	struct api_audience audience;
	int64_t started_ms;

	pthread_mutex_t lock; /* guards everything below */
	char *token;
	char *old_tokens[API_OLD_TOKENS_MAX];
	struct strmap *fail_rules;    /* digits -> struct fail_rule */
	struct strmap *callbacks;     /* biz_opaque_callback_data seen */
	struct strmap *last_inbound;  /* wa_id -> int64_t product ms */
	struct ratelimit *per_number; /* real time */
	struct ratelimit *per_pair;   /* product time */
	struct rng rng;
	uint64_t wamid_counter;
	struct recent recent[API_RECENT_MAX];
	size_t recent_next, recent_count;
};

/* ---------------------------------------------------------------------- */
/* Configuration                                                           */

static int fail_code_sync_default(int code)
{
	/* Meta reports these as failed statuses after accepting the call. */
	return code != WAERROR_UNDELIVERABLE && code != WAERROR_REENGAGEMENT;
}

/* One "+34600000001=131026[:sync|:async]" entry. */
static int parse_fail_entry(const char *entry, int *code, int *sync,
			    char *digits, size_t dlen)
{
	char number[64];
	const char *eq = strchr(entry, '='), *mode;
	char *end;
	long value;

	if (!eq || (size_t)(eq - entry) >= sizeof(number))
		return DN_ERR_CONFIG;
	memcpy(number, entry, (size_t)(eq - entry));
	number[eq - entry] = '\0';
	if (recipient_digits(number, digits, dlen))
		return DN_ERR_CONFIG;
	value = strtol(eq + 1, &end, 10);
	if (end == eq + 1 || !waerror_known((int)value))
		return DN_ERR_CONFIG;
	*code = (int)value;
	*sync = fail_code_sync_default(*code);
	mode = end;
	if (*mode == ':') {
		if (strcmp(mode + 1, "sync") == 0)
			*sync = 1;
		else if (strcmp(mode + 1, "async") == 0)
			*sync = 0;
		else
			return DN_ERR_CONFIG;
	} else if (*mode) {
		return DN_ERR_CONFIG;
	}
	return DN_OK;
}

int api_parse_fail_recipients(const char *list,
			      int (*add)(void *ctx, const char *digits,
					 int code, int sync),
			      void *ctx, char *err, size_t errlen)
{
	char entry[128], digits[RECIPIENT_DIGITS_MAX + 1];
	const char *p = list ? list : "";
	int code, sync;
	size_t n;

	while (*p) {
		n = strcspn(p, ",");
		if (n >= sizeof(entry) || n == 0)
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "DUNNING_SIM_FAIL_RECIPIENTS: empty or "
				       "overlong entry");
		memcpy(entry, p, n);
		entry[n] = '\0';
		if (parse_fail_entry(entry, &code, &sync, digits,
				     sizeof(digits)))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "DUNNING_SIM_FAIL_RECIPIENTS: \"%s\": "
				       "expected +NUMBER=CODE[:sync|:async] "
				       "with a known WhatsApp code",
				       entry);
		if (add(ctx, digits, code, sync))
			return dn_fail(DN_ERR_NOMEM, err, errlen,
				       "out of memory");
		p += n;
		if (*p == ',')
			p++;
	}
	return DN_OK;
}

static int add_fail_rule(void *ctx, const char *digits, int code, int sync)
{
	struct api *api = ctx;
	struct fail_rule *rule = malloc(sizeof(*rule));
	void *old;

	if (!rule)
		return DN_ERR_NOMEM;
	rule->code = code;
	rule->sync = sync;
	if (strmap_put(api->fail_rules, digits, rule, &old)) {
		free(rule);
		return DN_ERR_NOMEM;
	}
	free(old);
	return DN_OK;
}

/* ---------------------------------------------------------------------- */
/* Answers                                                                 */

static void trace_id(struct api *api, char *out, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
				       "nopqrstuvwxyz0123456789";
	size_t i;

	pthread_mutex_lock(&api->lock);
	for (i = 0; i + 1 < len && i < 27; i++)
		out[i] = alphabet[rng_below(&api->rng, sizeof(alphabet) - 1)];
	pthread_mutex_unlock(&api->lock);
	out[i] = '\0';
}

static void respond_error(struct api *api, struct http_response *resp, int code,
			  const char *details, int token_expired)
{
	char trace[32];

	trace_id(api, trace, sizeof(trace));
	resp->status = waerror_http_status(code);
	resp->content_type = "application/json";
	resp->body = waerror_render(code, details, trace, token_expired);
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	stats_add(api->stats, STATS_MESSAGES_REJECTED, 1);
	stats_rejected_code(api->stats, code);
	if (code == WAERROR_RATE_LIMIT || code == WAERROR_PAIR_RATE_LIMIT)
		stats_add(api->stats, STATS_RATE_LIMITED, 1);
	if (code == WAERROR_ACCESS_TOKEN)
		stats_add(api->stats, STATS_TOKEN_REJECTED, 1);
}

static void respond_json(struct http_response *resp, int status, json_t *obj)
{
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	resp->body_len = resp->body ? strlen(resp->body) : 0;
	if (!resp->body)
		resp->status = 500;
	json_decref(obj);
}

void api_new_wamid(struct api *api, char *out, size_t len)
{
	uint64_t n;

	pthread_mutex_lock(&api->lock);
	n = ++api->wamid_counter;
	pthread_mutex_unlock(&api->lock);
	snprintf(out, len, "wamid.HBgL%012llX%010llX",
		 (unsigned long long)api->started_ms, (unsigned long long)n);
}

/* ---------------------------------------------------------------------- */
/* Checks before the request is read                                       */

/* 0 when the bearer token is the current one; else 1, expired or not. */
static int token_refused(struct api *api, const struct http_request *req,
			 int *expired)
{
	const char *auth = http_request_header(req, "Authorization");
	const char *given;
	int refused = 1, i;

	*expired = 0;
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return 1;
	given = auth + 7;
	pthread_mutex_lock(&api->lock);
	if (strcmp(given, api->token) == 0)
		refused = 0;
	for (i = 0; refused && i < API_OLD_TOKENS_MAX; i++)
		if (api->old_tokens[i] &&
		    strcmp(given, api->old_tokens[i]) == 0)
			*expired = 1;
	pthread_mutex_unlock(&api->lock);
	return refused;
}

/* Sleeps when this answer is drawn to be slow. HTTP thread. */
static void maybe_slow(struct api *api)
{
	struct timespec ts;
	int slow;

	if (api->cfg.slow_ms <= 0)
		return;
	pthread_mutex_lock(&api->lock);
	slow = rng_permille(&api->rng, api->cfg.slow_permille);
	pthread_mutex_unlock(&api->lock);
	if (!slow)
		return;
	stats_add(api->stats, STATS_SLOW_ANSWERS, 1);
	ts.tv_sec = api->cfg.slow_ms / 1000;
	ts.tv_nsec = (api->cfg.slow_ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------- */
/* Checks after the request is read                                        */

/*
 * The recipient's configured error, a random server error, the pair
 * limit and the service window, in that order. Returns the code to refuse
 * with, or 0; *async_code is set for errors reported as failed statuses.
 */
static int refusal_after_parse(struct api *api, const struct request *rq,
			       const char *number_id, int *async_code)
{
	char pair[128];
	struct fail_rule *rule;
	int64_t *last, now = clock_now_ms();
	int code = 0;

	*async_code = 0;
	snprintf(pair, sizeof(pair), "%s|%s", number_id, rq->wa_id);
	pthread_mutex_lock(&api->lock);
	rule = strmap_get(api->fail_rules, rq->digits);
	if (rule && rule->sync)
		code = rule->code;
	else if (rule)
		*async_code = rule->code;
	if (!code && rng_permille(&api->rng, api->cfg.error_rate_permille))
		code = rng_below(&api->rng, 2) ? WAERROR_SERVICE_UNAVAILABLE
					       : WAERROR_GENERIC;
	if (!code && !ratelimit_take(api->per_pair, pair, now))
		code = WAERROR_PAIR_RATE_LIMIT;
	if (!code && rq->type == REQUEST_TEXT) {
		last = strmap_get(api->last_inbound, rq->wa_id);
		if (!last || now - *last > API_WINDOW_MS)
			code = WAERROR_REENGAGEMENT;
	}
	pthread_mutex_unlock(&api->lock);
	if (code == WAERROR_GENERIC || code == WAERROR_SERVICE_UNAVAILABLE)
		stats_add(api->stats, STATS_INJECTED_ERRORS, 1);
	return code;
}

/* ---------------------------------------------------------------------- */
/* Acceptance                                                              */

static void recent_record(struct api *api, const struct request *rq,
			  const char *wamid, const char *number_id, int64_t now)
{
	struct recent *r;
	size_t i;

	pthread_mutex_lock(&api->lock);
	r = &api->recent[api->recent_next];
	json_decref(r->params);
	free(r->callback_data);
	memset(r, 0, sizeof(*r));
	snprintf(r->wamid, sizeof(r->wamid), "%s", wamid);
	snprintf(r->phone_number_id, sizeof(r->phone_number_id), "%s",
		 number_id);
	snprintf(r->to, sizeof(r->to), "%s", rq->to);
	snprintf(r->wa_id, sizeof(r->wa_id), "%s", rq->wa_id);
	snprintf(r->template_name, sizeof(r->template_name), "%s",
		 rq->type == REQUEST_TEMPLATE ? rq->template_name : "");
	snprintf(r->language, sizeof(r->language), "%s", rq->language);
	r->params = rq->type == REQUEST_TEMPLATE ? json_array() : NULL;
	for (i = 0; r->params && i < rq->param_count; i++)
		json_array_append_new(r->params, json_string(rq->params[i]));
	r->callback_data = rq->callback_data ? strdup(rq->callback_data) : NULL;
	r->accepted_ms = now;
	api->recent_next = (api->recent_next + 1) % API_RECENT_MAX;
	if (api->recent_count < API_RECENT_MAX)
		api->recent_count++;
	pthread_mutex_unlock(&api->lock);
}

/* Counts a callback data value seen before: the sender sent twice. */
static void note_callback(struct api *api, const struct request *rq)
{
	int seen;

	if (!rq->callback_data)
		return;
	pthread_mutex_lock(&api->lock);
	seen = strmap_get(api->callbacks, rq->callback_data) != NULL;
	if (!seen)
		strmap_put(api->callbacks, rq->callback_data, api, NULL);
	pthread_mutex_unlock(&api->lock);
	if (seen) {
		stats_add(api->stats, STATS_DUPLICATES_RECEIVED, 1);
		log_notice("WA", "message with a callback seen before "
				 "accepted again");
	}
}

static void queue_status(struct api *api, const struct payload_sender *sender,
			 const struct request *rq, const char *wamid,
			 enum payload_status_kind kind, int64_t at_ms,
			 int error_code)
{
	struct payload_status st;

	memset(&st, 0, sizeof(st));
	snprintf(st.wamid, sizeof(st.wamid), "%s", wamid);
	st.kind = kind;
	st.at_ms = at_ms;
	snprintf(st.recipient_id, sizeof(st.recipient_id), "%s", rq->wa_id);
	if (rq->callback_data)
		snprintf(st.callback_data, sizeof(st.callback_data), "%s",
			 rq->callback_data);
	st.error_code = error_code;
	if (kind == PAYLOAD_FAILED)
		stats_add(api->stats, STATS_STATUSES_FAILED, 1);
	if (kind == PAYLOAD_READ)
		stats_add(api->stats, STATS_READS, 1);
	if (webhook_queue_status(api->webhook, sender, &st))
		log_warn("WA", "webhook queue full: status dropped");
}

/* Sent and delivered (in either order), or failed; then the reader. */
static void schedule_statuses(struct api *api, struct api_message *msg,
			      int async_code)
{
	const struct request *rq = msg->request;
	int64_t sent = msg->accepted_ms + api->cfg.sent_delay_ms;
	int64_t delivered = msg->accepted_ms + api->cfg.delivered_delay_ms;
	int swap, read;

	if (async_code) {
		queue_status(api, msg->sender, rq, msg->wamid, PAYLOAD_FAILED,
			     sent, async_code);
		return;
	}
	pthread_mutex_lock(&api->lock);
	swap = rng_permille(&api->rng, api->cfg.reorder_permille);
	read = rng_permille(&api->rng, api->cfg.read_permille);
	pthread_mutex_unlock(&api->lock);
	queue_status(api, msg->sender, rq, msg->wamid, PAYLOAD_SENT,
		     swap ? delivered : sent, 0);
	queue_status(api, msg->sender, rq, msg->wamid, PAYLOAD_DELIVERED,
		     swap ? sent : delivered, 0);
	msg->delivered_ms = swap ? sent : delivered;
	if (api->audience.on_message)
		api->audience.on_message(api->audience.ctx, msg);
	else if (read)
		queue_status(api, msg->sender, rq, msg->wamid, PAYLOAD_READ,
			     msg->accepted_ms + api->cfg.read_delay_ms, 0);
}

static json_t *success_body(const struct request *rq, const char *wamid)
{
	json_t *message = json_pack("{s:s}", "id", wamid);

	if (message && rq->type == REQUEST_TEMPLATE)
		json_object_set_new(message, "message_status",
				    json_string("accepted"));
	return json_pack("{s:s, s:[{s:s, s:s}], s:[o]}", "messaging_product",
			 "whatsapp", "contacts", "input", rq->to, "wa_id",
			 rq->wa_id, "messages", message);
}

static void accept_message(struct api *api, const struct request *rq,
			   const char *number_id, int async_code,
			   struct http_response *resp)
{
	struct payload_sender sender;
	struct api_message msg;
	char wamid[PAYLOAD_WAMID_MAX];

	memset(&sender, 0, sizeof(sender));
	snprintf(sender.phone_number_id, sizeof(sender.phone_number_id), "%s",
		 number_id);
	snprintf(sender.display_phone, sizeof(sender.display_phone), "%s",
		 api->display_phone);
	api_new_wamid(api, wamid, sizeof(wamid));
	note_callback(api, rq);
	memset(&msg, 0, sizeof(msg));
	msg.request = rq;
	msg.wamid = wamid;
	msg.sender = &sender;
	msg.accepted_ms = clock_now_ms();
	recent_record(api, rq, wamid, number_id, msg.accepted_ms);
	stats_add(api->stats, STATS_MESSAGES_ACCEPTED, 1);
	stats_accepted_template(api->stats, rq->type == REQUEST_TEMPLATE
						    ? rq->template_name
						    : "text");
	schedule_statuses(api, &msg, async_code);
	respond_json(resp, 200, success_body(rq, wamid));
}

/* ---------------------------------------------------------------------- */
/* Handlers (HTTP threads)                                                 */

static void handle_messages(void *ctx, const struct http_request *req,
			    struct http_response *resp)
{
	struct api *api = ctx;
	char number_id[64], details[API_DETAILS_MAX];
	struct request rq;
	int expired, code, async_code, allowed;

	maybe_slow(api);
	if (http_path_segment(req->path, 1, number_id, sizeof(number_id))) {
		respond_error(api, resp, WAERROR_INVALID_PARAMETER,
			      "phone number id is not valid", 0);
		return;
	}
	if (token_refused(api, req, &expired)) {
		respond_error(api, resp, WAERROR_ACCESS_TOKEN, NULL, expired);
		return;
	}
	pthread_mutex_lock(&api->lock);
	allowed =
		ratelimit_take(api->per_number, number_id, clock_real_now_ms());
	pthread_mutex_unlock(&api->lock);
	if (!allowed) {
		respond_error(api, resp, WAERROR_RATE_LIMIT, NULL, 0);
		return;
	}
	if (request_parse(req->body, req->body_len, api->cat, &rq, &code,
			  details, sizeof(details))) {
		respond_error(api, resp, code, details, 0);
		return;
	}
	code = refusal_after_parse(api, &rq, number_id, &async_code);
	if (code)
		respond_error(api, resp, code, NULL, 0);
	else
		accept_message(api, &rq, number_id, async_code, resp);
	request_release(&rq);
}

static void handle_token(void *ctx, const struct http_request *req,
			 struct http_response *resp)
{
	struct api *api = ctx;
	json_t *root = json_loadb(req->body, req->body_len, 0, NULL);
	const char *token = json_string_value(json_object_get(root, "token"));
	char *copy = token && *token ? strdup(token) : NULL;

	json_decref(root);
	if (!copy) {
		http_respond_text(resp, 400, "application/json",
				  "{\"error\":\"body must be "
				  "{\\\"token\\\":\\\"NEW\\\"}\"}");
		return;
	}
	pthread_mutex_lock(&api->lock);
	free(api->old_tokens[API_OLD_TOKENS_MAX - 1]);
	memmove(&api->old_tokens[1], &api->old_tokens[0],
		(API_OLD_TOKENS_MAX - 1) * sizeof(api->old_tokens[0]));
	api->old_tokens[0] = api->token;
	api->token = copy;
	pthread_mutex_unlock(&api->lock);
	log_notice("WA", "access token replaced; the previous one expired");
	http_respond_text(resp, 200, "application/json", "{\"success\":true}");
}

static void handle_stats(void *ctx, const struct http_request *req,
			 struct http_response *resp)
{
	struct api *api = ctx;
	json_t *root;
	char *text = stats_render(api->stats);

	(void)req;
	root = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (root)
		json_object_set_new(root, "webhooks_pending",
				    json_integer((json_int_t)webhook_pending(
					    api->webhook)));
	respond_json(resp, 200, root);
}

static json_t *recent_json(const struct recent *r)
{
	json_t *obj = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id",
				r->wamid, "phone_number_id", r->phone_number_id,
				"to", r->to, "wa_id", r->wa_id, "template",
				r->template_name, "language", r->language,
				"accepted_ms", (json_int_t)r->accepted_ms);

	if (obj && r->params)
		json_object_set(obj, "parameters", r->params);
	if (obj && r->callback_data)
		json_object_set_new(obj, "biz_opaque_callback_data",
				    json_string(r->callback_data));
	return obj;
}

static void handle_recent(void *ctx, const struct http_request *req,
			  struct http_response *resp)
{
	struct api *api = ctx;
	json_t *list = json_array();
	size_t i, at;

	(void)req;
	pthread_mutex_lock(&api->lock);
	for (i = 0; list && i < api->recent_count; i++) {
		at = (api->recent_next + API_RECENT_MAX - api->recent_count +
		      i) %
		     API_RECENT_MAX;
		json_array_append_new(list, recent_json(&api->recent[at]));
	}
	pthread_mutex_unlock(&api->lock);
	respond_json(resp, 200, json_pack("{s:o}", "messages", list));
}

/* POST /sim/inbound: {"from", "text" | "button" [, "context", "name",
 * "phone_number_id"]}. */
static void handle_inbound(void *ctx, const struct http_request *req,
			   struct http_response *resp)
{
	struct api *api = ctx;
	json_t *root = json_loadb(req->body, req->body_len, 0, NULL);
	struct payload_sender sender;
	struct payload_inbound msg;
	const char *from = json_string_value(json_object_get(root, "from"));
	const char *text = json_string_value(json_object_get(root, "text"));
	const char *button = json_string_value(json_object_get(root, "button"));
	const char *context =
		json_string_value(json_object_get(root, "context"));
	const char *name = json_string_value(json_object_get(root, "name"));
	const char *number =
		json_string_value(json_object_get(root, "phone_number_id"));
	char digits[RECIPIENT_DIGITS_MAX + 1];

	memset(&msg, 0, sizeof(msg));
	memset(&sender, 0, sizeof(sender));
	if (!from || (!text && !button) ||
	    recipient_digits(from, digits, sizeof(digits)) ||
	    recipient_wa_id(digits, msg.from, sizeof(msg.from))) {
		json_decref(root);
		http_respond_text(resp, 400, "application/json",
				  "{\"error\":\"need from and text or "
				  "button\"}");
		return;
	}
	msg.kind = button ? PAYLOAD_BUTTON : PAYLOAD_TEXT;
	snprintf(msg.payload, sizeof(msg.payload), "%s", button ? button : "");
	snprintf(msg.text, sizeof(msg.text), "%s", text ? text : button);
	snprintf(msg.context_id, sizeof(msg.context_id), "%s",
		 context ? context : "");
	snprintf(msg.name, sizeof(msg.name), "%s", name ? name : "Customer");
	snprintf(sender.phone_number_id, sizeof(sender.phone_number_id), "%s",
		 number ? number : "sim");
	snprintf(sender.display_phone, sizeof(sender.display_phone), "%s",
		 api->display_phone);
	json_decref(root);
	api_new_wamid(api, msg.wamid, sizeof(msg.wamid));
	msg.at_ms = clock_now_ms();
	api_note_inbound(api, msg.from, msg.at_ms);
	stats_add(api->stats, STATS_REPLIES_SENT, 1);
	webhook_queue_inbound(api->webhook, &sender, &msg);
	respond_json(
		resp, 200,
		json_pack("{s:s, s:s}", "id", msg.wamid, "wa_id", msg.from));
}

void api_note_inbound(struct api *api, const char *wa_id, int64_t at_ms)
{
	int64_t *at = malloc(sizeof(*at));
	void *old = NULL;

	if (!at)
		return;
	*at = at_ms;
	pthread_mutex_lock(&api->lock);
	if (strmap_put(api->last_inbound, wa_id, at, &old))
		old = at;
	pthread_mutex_unlock(&api->lock);
	free(old);
}

size_t api_routes(struct api *api, struct http_route *routes)
{
	const struct http_route table[] = {
		{ "POST", "/*/*/messages", handle_messages, api },
		{ "POST", "/sim/token", handle_token, api },
		{ "GET", "/sim/stats", handle_stats, api },
		{ "GET", "/sim/messages", handle_recent, api },
		{ "POST", "/sim/inbound", handle_inbound, api },
	};
	size_t n = sizeof(table) / sizeof(table[0]);

	memcpy(routes, table, sizeof(table));
	return n;
}

void api_set_audience(struct api *api, const struct api_audience *audience)
{
	api->audience = *audience;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

struct api *api_new(const struct api_config *cfg, const struct catalogue *cat,
		    struct webhook *webhook, struct stats *stats, char *err,
		    size_t errlen)
{
	struct api *api = calloc(1, sizeof(*api));

	if (!api)
		goto nomem;
	pthread_mutex_init(&api->lock, NULL);
	api->cfg = *cfg;
	api->cat = cat;
	api->webhook = webhook;
	api->stats = stats;
	api->started_ms = clock_real_now_ms();
	api->token = strdup(cfg->token ? cfg->token : "");
	api->display_phone =
		strdup(cfg->display_phone ? cfg->display_phone : "15550000000");
	api->fail_rules = strmap_new();
	api->callbacks = strmap_new();
	api->last_inbound = strmap_new();
	api->per_number = ratelimit_new(cfg->mps, cfg->mps, 1000);
	api->per_pair =
		ratelimit_new(cfg->pair_burst, 1, cfg->pair_interval_ms);
	rng_init(&api->rng, cfg->seed);
	if (!api->token || !api->display_phone || !api->fail_rules ||
	    !api->callbacks || !api->last_inbound || !api->per_number ||
	    !api->per_pair)
		goto nomem;
	if (api_parse_fail_recipients(cfg->fail_recipients, add_fail_rule, api,
				      err, errlen)) {
		api_free(api);
		return NULL;
	}
	return api;

nomem:
	dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	api_free(api);
	return NULL;
}

void api_free(struct api *api)
{
	size_t i;

	if (!api)
		return;
	free(api->token);
	for (i = 0; i < API_OLD_TOKENS_MAX; i++)
		free(api->old_tokens[i]);
	for (i = 0; i < API_RECENT_MAX; i++) {
		json_decref(api->recent[i].params);
		free(api->recent[i].callback_data);
	}
	free(api->display_phone);
	strmap_free(api->fail_rules, free);
	strmap_free(api->callbacks, NULL);
	strmap_free(api->last_inbound, free);
	ratelimit_free(api->per_number);
	ratelimit_free(api->per_pair);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
