/* payload.c: webhook bodies built with jansson. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "payload.h"

#include "waerror.h"

#include <jansson.h>
#include <stdio.h>

#define PAYLOAD_ERRORS_HREF                                                    \
	"https://developers.facebook.com/docs/whatsapp/cloud-api/support/"     \
	"error-codes/"

const char *payload_status_name(enum payload_status_kind kind)
{
	switch (kind) {
	case PAYLOAD_SENT:
		return "sent";
	case PAYLOAD_DELIVERED:
		return "delivered";
	case PAYLOAD_READ:
		return "read";
	case PAYLOAD_FAILED:
		return "failed";
	}
	return "unknown";
}

static json_t *seconds_string(int64_t ms)
{
	char text[24];

	snprintf(text, sizeof(text), "%lld", (long long)(ms / 1000));
	return json_string(text);
}

/* Wraps value into the object/entry/changes envelope and renders it. */
static char *envelope(const char *waba_id, const struct payload_sender *sender,
		      json_t *value)
{
	json_t *root;
	char *text;

	if (!value)
		return NULL;
	json_object_set_new(value, "messaging_product",
			    json_string("whatsapp"));
	json_object_set_new(value, "metadata",
			    json_pack("{s:s, s:s}", "display_phone_number",
				      sender->display_phone, "phone_number_id",
				      sender->phone_number_id));
	root = json_pack("{s:s, s:[{s:s, s:[{s:s, s:o}]}]}", "object",
			 "whatsapp_business_account", "entry", "id", waba_id,
			 "changes", "field", "messages", "value", value);
	if (!root)
		return NULL;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

static json_t *status_errors(int code)
{
	const char *title = waerror_title(code);

	return json_pack("[{s:i, s:s, s:s, s:{s:s}, s:s}]", "code", code,
			 "title", title, "message", title, "error_data",
			 "details", waerror_default_details(code), "href",
			 PAYLOAD_ERRORS_HREF);
}

/* Conversation and pricing, as Meta adds them to sent and delivered. */
static void status_billing(json_t *obj, const struct payload_status *s)
{
	char conversation[PAYLOAD_WAMID_MAX + 8];

	snprintf(conversation, sizeof(conversation), "conv.%s",
		 s->recipient_id);
	json_object_set_new(obj, "conversation",
			    json_pack("{s:s, s:{s:s}}", "id", conversation,
				      "origin", "type", "utility"));
	json_object_set_new(obj, "pricing",
			    json_pack("{s:b, s:s, s:s}", "billable", 1,
				      "pricing_model", "PMP", "category",
				      "utility"));
}

static json_t *status_json(const struct payload_status *s)
{
	json_t *obj = json_pack("{s:s, s:s, s:o, s:s}", "id", s->wamid,
				"status", payload_status_name(s->kind),
				"timestamp", seconds_string(s->at_ms),
				"recipient_id", s->recipient_id);

	if (!obj)
		return NULL;
	if (s->callback_data[0])
		json_object_set_new(obj, "biz_opaque_callback_data",
				    json_string(s->callback_data));
	if (s->kind == PAYLOAD_FAILED)
		json_object_set_new(obj, "errors",
				    status_errors(s->error_code));
	else if (s->kind != PAYLOAD_READ)
		status_billing(obj, s);
	return obj;
}

char *payload_statuses(const char *waba_id, const struct payload_sender *sender,
		       const struct payload_status *statuses, size_t count)
{
	json_t *list = json_array();
	size_t i;

	for (i = 0; list && i < count; i++)
		json_array_append_new(list, status_json(&statuses[i]));
	return envelope(waba_id, sender, json_pack("{s:o}", "statuses", list));
}

/* The type-specific part of an inbound message. */
static int inbound_body(json_t *obj, const struct payload_inbound *m)
{
	switch (m->kind) {
	case PAYLOAD_TEXT:
		return json_object_set_new(obj, "type", json_string("text")) ||
		       json_object_set_new(obj, "text",
					   json_pack("{s:s}", "body", m->text));
	case PAYLOAD_BUTTON:
		return json_object_set_new(obj, "type",
					   json_string("button")) ||
		       json_object_set_new(obj, "button",
					   json_pack("{s:s, s:s}", "payload",
						     m->payload, "text",
						     m->text));
	case PAYLOAD_INTERACTIVE_BUTTON:
	case PAYLOAD_INTERACTIVE_LIST:
		break;
	}
	json_object_set_new(obj, "type", json_string("interactive"));
	return json_object_set_new(
		obj, "interactive",
		m->kind == PAYLOAD_INTERACTIVE_BUTTON
			? json_pack("{s:s, s:{s:s, s:s}}", "type",
				    "button_reply", "button_reply", "id",
				    m->payload, "title", m->text)
			: json_pack("{s:s, s:{s:s, s:s}}", "type", "list_reply",
				    "list_reply", "id", m->payload, "title",
				    m->text));
}

char *payload_inbound(const char *waba_id, const struct payload_sender *sender,
		      const struct payload_inbound *msg)
{
	json_t *obj =
		json_pack("{s:s, s:s, s:o}", "from", msg->from, "id",
			  msg->wamid, "timestamp", seconds_string(msg->at_ms));
	json_t *value;

	if (!obj || inbound_body(obj, msg)) {
		json_decref(obj);
		return NULL;
	}
	if (msg->context_id[0])
		json_object_set_new(obj, "context",
				    json_pack("{s:s, s:s}", "from",
					      sender->display_phone, "id",
					      msg->context_id));
	value = json_pack("{s:[{s:{s:s}, s:s}], s:[o]}", "contacts", "profile",
			  "name", msg->name, "wa_id", msg->from, "messages",
			  obj);
	return envelope(waba_id, sender, value);
}
