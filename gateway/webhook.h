/* webhook.h: Meta's webhook requests, checked and read. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure functions with no I/O, so every rule is unit-tested:
 *
 * - the subscription handshake (GET ?hub.mode=subscribe&hub.verify_token=
 *   ...&hub.challenge=...), answered with the challenge only when the
 *   token matches;
 * - the X-Hub-Signature-256 header, "sha256=" and the hex HMAC-SHA256 of
 *   the raw body keyed with the app secret, compared in constant time;
 * - the body: every entry, every change, every status and message in it
 *   becomes one struct webhook_item, in order. Items that cannot be read
 *   (no id, unknown status) are counted in `unreadable` and never stop the
 *   rest. jansson decodes \u escapes, surrogate pairs included, to UTF-8;
 *   numbers WhatsApp sends as strings (timestamps, codes) are read as such.
 */
#ifndef DUNNING_WEBHOOK_H
#define DUNNING_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_ID_MAX	  256
#define WEBHOOK_TEXT_MAX  4096	/* bytes of text kept from one message */
#define WEBHOOK_ITEMS_MAX 10000 /* items read from one request */

enum webhook_kind {
	WEBHOOK_STATUS,	     /* a status of a message we sent */
	WEBHOOK_TEXT,	     /* text typed by the customer */
	WEBHOOK_BUTTON,	     /* template quick-reply button */
	WEBHOOK_INTERACTIVE, /* interactive reply button or list choice */
	WEBHOOK_OTHER,	     /* media, location, reaction, ...: kind only */
};

enum webhook_status {
	WEBHOOK_STATUS_SENT = 1,
	WEBHOOK_STATUS_DELIVERED,
	WEBHOOK_STATUS_READ,
	WEBHOOK_STATUS_FAILED,
};

struct webhook_item {
	enum webhook_kind kind;
	char phone_number_id[64];	 /* the business number */
	char message_id[WEBHOOK_ID_MAX]; /* status: ours; else theirs */
	char wa_id[64];			 /* the customer's WhatsApp id */
	int64_t occurred_at_ms;		 /* WhatsApp's timestamp */
	/* Statuses. */
	enum webhook_status status;
	int error_code;
	char error_title[256];
	char callback_data[WEBHOOK_ID_MAX * 2 + 1]; /* our command id */
	/* Messages. */
	char message_type[32];		 /* "text", "image", ... */
	char context_id[WEBHOOK_ID_MAX]; /* message answered, or "" */
	char reply_id[WEBHOOK_ID_MAX];	 /* button payload, choice id */
	char text[WEBHOOK_TEXT_MAX];	 /* body, button text, title */
};

struct webhook_batch {
	struct webhook_item *items; /* owned, count of them */
	size_t count;
	size_t unreadable; /* statuses or messages skipped */
};

/* Status words as the Cloud API writes them ("sent"), NULL if unknown. */
const char *webhook_status_name(enum webhook_status status);

/*
 * The handshake: returns 200 and sets *challenge_out to challenge when
 * mode is "subscribe" and token equals expected (constant time); 403
 * otherwise. Any argument may be NULL (missing), which fails.
 */
int webhook_handshake(const char *mode, const char *token,
		      const char *challenge, const char *expected,
		      const char **challenge_out);

/*
 * Returns 0 when header is "sha256=<64 hex digits>" and the digits are the
 * HMAC-SHA256 of body (len bytes) with secret; DN_ERR_INVALID otherwise,
 * header NULL included.
 */
int webhook_signature_check(const char *secret, const void *body, size_t len,
			    const char *header);

/* Writes "sha256=<hex>" for body into out (at least 72 bytes). */
void webhook_signature_make(const char *secret, const void *body, size_t len,
			    char *out, size_t outlen);

/*
 * Reads a webhook body into batch (caller releases it with
 * webhook_batch_release, also after a failure). Returns 0, or
 * DN_ERR_DECODE with the reason in err when the body is not a JSON object.
 */
int webhook_parse(const char *body, size_t len, struct webhook_batch *batch,
		  char *err, size_t errlen);

void webhook_batch_release(struct webhook_batch *batch);

#endif
