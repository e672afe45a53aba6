/* webhook.c: Meta's webhook requests, checked and read. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "webhook.h"

#include "error.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGEST_LEN 32

static const char *const status_names[] = {
	[WEBHOOK_STATUS_SENT] = "sent",
	[WEBHOOK_STATUS_DELIVERED] = "delivered",
	[WEBHOOK_STATUS_READ] = "read",
	[WEBHOOK_STATUS_FAILED] = "failed",
};

const char *webhook_status_name(enum webhook_status status)
{
	if (status < WEBHOOK_STATUS_SENT || status > WEBHOOK_STATUS_FAILED)
		return NULL;
	return status_names[status];
}

static int status_parse(const char *text, enum webhook_status *out)
{
	int s;

	for (s = WEBHOOK_STATUS_SENT; text && s <= WEBHOOK_STATUS_FAILED; s++)
		if (strcmp(text, status_names[s]) == 0) {
			*out = (enum webhook_status)s;
			return 0;
		}
	return -1;
}

/* Equal strings, in time that depends on their lengths only. */
static int secret_equal(const char *a, const char *b)
{
	size_t len = strlen(a);

	return len == strlen(b) && CRYPTO_memcmp(a, b, len) == 0;
}

int webhook_handshake(const char *mode, const char *token,
		      const char *challenge, const char *expected,
		      const char **challenge_out)
{
	*challenge_out = NULL;
	if (!mode || !token || !challenge || !expected || !*expected)
		return 403;
	if (strcmp(mode, "subscribe") != 0 || !secret_equal(token, expected))
		return 403;
	*challenge_out = challenge;
	return 200;
}

static int hmac_sha256(const char *secret, const void *body, size_t len,
		       unsigned char digest[DIGEST_LEN])
{
	unsigned int digest_len = 0;

	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, digest,
		  &digest_len) ||
	    digest_len != DIGEST_LEN)
		return -1;
	return 0;
}

int webhook_signature_check(const char *secret, const void *body, size_t len,
			    const char *header)
{
	unsigned char given[DIGEST_LEN], expected[DIGEST_LEN];
	size_t i;

	if (!header || !secret || !*secret ||
	    strncmp(header, "sha256=", 7) != 0 ||
	    strlen(header + 7) != 2 * DIGEST_LEN)
		return DN_ERR_INVALID;
	for (i = 0; i < DIGEST_LEN; i++) {
		int hi = OPENSSL_hexchar2int((unsigned char)header[7 + 2 * i]);
		int lo = OPENSSL_hexchar2int((unsigned char)header[8 + 2 * i]);

		if (hi < 0 || lo < 0)
			return DN_ERR_INVALID;
		given[i] = (unsigned char)(hi << 4 | lo);
	}
	if (hmac_sha256(secret, body, len, expected))
		return DN_ERR_INVALID;
	return CRYPTO_memcmp(given, expected, DIGEST_LEN) == 0 ? DN_OK
							       : DN_ERR_INVALID;
}

void webhook_signature_make(const char *secret, const void *body, size_t len,
			    char *out, size_t outlen)
{
	unsigned char digest[DIGEST_LEN];
	size_t i, n;

	if (outlen < 8 + 2 * DIGEST_LEN ||
	    hmac_sha256(secret, body, len, digest)) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	n = (size_t)snprintf(out, outlen, "sha256=");
	for (i = 0; i < DIGEST_LEN; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%02x", digest[i]);
}

/* ---------------------------------------------------------------------- */
/* Body                                                                    */

static void copy_string(char *out, size_t outlen, json_t *value)
{
	const char *text = json_string_value(value);

	snprintf(out, outlen, "%s", text ? text : "");
}

/* An integer WhatsApp may send as a number or as a string of digits. */
static int64_t number_field(json_t *value)
{
	const char *text;
	char *end;
	long long n;

	if (json_is_integer(value))
		return json_integer_value(value);
	text = json_string_value(value);
	if (!text)
		return 0;
	n = strtoll(text, &end, 10);
	return end != text && *end == '\0' ? n : 0;
}

static struct webhook_item *item_add(struct webhook_batch *batch,
				     size_t *capacity)
{
	struct webhook_item *grown;
	size_t wanted;

	if (batch->count == WEBHOOK_ITEMS_MAX)
		return NULL;
	if (batch->count == *capacity) {
		wanted = *capacity ? *capacity * 2 : 8;
		grown = realloc(batch->items, wanted * sizeof(*grown));
		if (!grown)
			return NULL;
		batch->items = grown;
		*capacity = wanted;
	}
	grown = &batch->items[batch->count];
	memset(grown, 0, sizeof(*grown));
	return grown;
}

/* The first error of a failed status: its code and title. */
static void status_error(json_t *status, struct webhook_item *item)
{
	json_t *error = json_array_get(json_object_get(status, "errors"), 0);
	json_t *title = json_object_get(error, "title");

	item->error_code = (int)number_field(json_object_get(error, "code"));
	copy_string(item->error_title, sizeof(item->error_title),
		    json_is_string(title) ? title
					  : json_object_get(error, "message"));
}

static int status_read(json_t *status, struct webhook_item *item)
{
	item->kind = WEBHOOK_STATUS;
	copy_string(item->message_id, sizeof(item->message_id),
		    json_object_get(status, "id"));
	if (!item->message_id[0] ||
	    status_parse(json_string_value(json_object_get(status, "status")),
			 &item->status))
		return -1;
	copy_string(item->wa_id, sizeof(item->wa_id),
		    json_object_get(status, "recipient_id"));
	copy_string(item->callback_data, sizeof(item->callback_data),
		    json_object_get(status, "biz_opaque_callback_data"));
	item->occurred_at_ms =
		number_field(json_object_get(status, "timestamp")) * 1000;
	if (item->status == WEBHOOK_STATUS_FAILED)
		status_error(status, item);
	return 0;
}

static void interactive_read(json_t *interactive, struct webhook_item *item)
{
	json_t *reply = json_object_get(interactive, "button_reply");

	if (!reply)
		reply = json_object_get(interactive, "list_reply");
	copy_string(item->reply_id, sizeof(item->reply_id),
		    json_object_get(reply, "id"));
	copy_string(item->text, sizeof(item->text),
		    json_object_get(reply, "title"));
}

/* Media and the rest: keep the caption if there is one. */
static void other_read(json_t *message, const char *type,
		       struct webhook_item *item)
{
	json_t *part = json_object_get(message, type);

	item->kind = WEBHOOK_OTHER;
	copy_string(item->text, sizeof(item->text),
		    json_object_get(part, "caption"));
	if (strcmp(type, "reaction") == 0 && !item->context_id[0])
		copy_string(item->context_id, sizeof(item->context_id),
			    json_object_get(part, "message_id"));
}

static void message_body_read(json_t *message, const char *type,
			      struct webhook_item *item)
{
	json_t *part = json_object_get(message, type);

	if (strcmp(type, "text") == 0) {
		item->kind = WEBHOOK_TEXT;
		copy_string(item->text, sizeof(item->text),
			    json_object_get(part, "body"));
	} else if (strcmp(type, "button") == 0) {
		item->kind = WEBHOOK_BUTTON;
		copy_string(item->reply_id, sizeof(item->reply_id),
			    json_object_get(part, "payload"));
		copy_string(item->text, sizeof(item->text),
			    json_object_get(part, "text"));
	} else if (strcmp(type, "interactive") == 0) {
		item->kind = WEBHOOK_INTERACTIVE;
		interactive_read(part, item);
	} else {
		other_read(message, type, item);
	}
}

static int message_read(json_t *message, struct webhook_item *item)
{
	const char *type = json_string_value(json_object_get(message, "type"));

	copy_string(item->message_id, sizeof(item->message_id),
		    json_object_get(message, "id"));
	copy_string(item->wa_id, sizeof(item->wa_id),
		    json_object_get(message, "from"));
	if (!item->message_id[0] || !item->wa_id[0] || !type)
		return -1;
	copy_string(item->message_type, sizeof(item->message_type),
		    json_object_get(message, "type"));
	copy_string(item->context_id, sizeof(item->context_id),
		    json_object_get(json_object_get(message, "context"), "id"));
	item->occurred_at_ms =
		number_field(json_object_get(message, "timestamp")) * 1000;
	message_body_read(message, type, item);
	return 0;
}

/* Reads every status and message of one change's value. */
static void value_read(json_t *value, struct webhook_batch *batch,
		       size_t *capacity)
{
	static const char *const lists[] = { "statuses", "messages" };
	char phone_number_id[64];
	size_t l, i;
	json_t *element;

	copy_string(phone_number_id, sizeof(phone_number_id),
		    json_object_get(json_object_get(value, "metadata"),
				    "phone_number_id"));
	for (l = 0; l < 2; l++) {
		json_array_foreach(json_object_get(value, lists[l]), i, element)
		{
			struct webhook_item *item = item_add(batch, capacity);
			int rc;

			if (!item) {
				batch->unreadable++;
				continue;
			}
			rc = l == 0 ? status_read(element, item)
				    : message_read(element, item);
			if (rc) {
				batch->unreadable++;
				continue;
			}
			memcpy(item->phone_number_id, phone_number_id,
			       sizeof(phone_number_id));
			batch->count++;
		}
	}
}

int webhook_parse(const char *body, size_t len, struct webhook_batch *batch,
		  char *err, size_t errlen)
{
	json_error_t why;
	json_t *root, *entry, *change;
	size_t capacity = 0, e, c;

	memset(batch, 0, sizeof(*batch));
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &why);
	if (!root)
		return dn_fail(DN_ERR_DECODE, err, errlen,
			       "webhook body is not JSON: line %d column %d: "
			       "%s",
			       why.line, why.column, why.text);
	if (!json_is_object(root)) {
		json_decref(root);
		return dn_fail(DN_ERR_DECODE, err, errlen,
			       "webhook body is not a JSON object");
	}
	json_array_foreach(json_object_get(root, "entry"), e, entry)
	{
		json_array_foreach(json_object_get(entry, "changes"), c, change)
		{
			value_read(json_object_get(change, "value"), batch,
				   &capacity);
		}
	}
	json_decref(root);
	return DN_OK;
}

void webhook_batch_release(struct webhook_batch *batch)
{
	free(batch->items);
	memset(batch, 0, sizeof(*batch));
}
