/* payload.h: the JSON bodies of the webhook calls Meta makes. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every call has the shape
 *
 *   {"object": "whatsapp_business_account", "entry": [{"id": WABA,
 *    "changes": [{"field": "messages", "value": {"messaging_product":
 *    "whatsapp", "metadata": {"display_phone_number", "phone_number_id"},
 *    ...}}]}]}
 *
 * where the value holds either "statuses" (one or several; Meta batches
 * them) or one inbound message in "messages" with the sender in
 * "contacts". Timestamps are Unix seconds as strings, on the product's
 * clock. Pure builders: no clock, no I/O.
 */
#ifndef DUNNING_SIM_PAYLOAD_H
#define DUNNING_SIM_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_WAMID_MAX    64
#define PAYLOAD_CALLBACK_MAX 513
#define PAYLOAD_TEXT_MAX     256

/* The business phone number a call is about. */
struct payload_sender {
	char phone_number_id[64];
	char display_phone[20]; /* digits, as Meta shows it */
};

enum payload_status_kind {
	PAYLOAD_SENT,
	PAYLOAD_DELIVERED,
	PAYLOAD_READ,
	PAYLOAD_FAILED,
};

struct payload_status {
	char wamid[PAYLOAD_WAMID_MAX];
	enum payload_status_kind kind;
	int64_t at_ms;	       /* product time of the status */
	char recipient_id[20]; /* the recipient's wa_id */
	char callback_data[PAYLOAD_CALLBACK_MAX]; /* empty when none */
	int error_code; /* PAYLOAD_FAILED: the WhatsApp code */
};

enum payload_inbound_kind {
	PAYLOAD_TEXT,		    /* free text */
	PAYLOAD_BUTTON,		    /* quick reply of a template */
	PAYLOAD_INTERACTIVE_BUTTON, /* reply button of an interactive message */
	PAYLOAD_INTERACTIVE_LIST,   /* row of an interactive list */
};

struct payload_inbound {
	char wamid[PAYLOAD_WAMID_MAX];
	enum payload_inbound_kind kind;
	int64_t at_ms;
	char from[20];			    /* the customer's wa_id */
	char name[128];			    /* profile name */
	char context_id[PAYLOAD_WAMID_MAX]; /* message answered, or empty */
	char payload[64];		    /* button payload or reply id */
	char text[PAYLOAD_TEXT_MAX];	    /* text body or button title */
};

/* "sent", "delivered", "read" or "failed". */
const char *payload_status_name(enum payload_status_kind kind);

/*
 * Renders one call carrying count statuses (count >= 1) of sender, for the
 * business account waba_id. Returns a string the caller frees, or NULL.
 */
char *payload_statuses(const char *waba_id, const struct payload_sender *sender,
		       const struct payload_status *statuses, size_t count);

/* Renders one call carrying one inbound message. Same ownership. */
char *payload_inbound(const char *waba_id, const struct payload_sender *sender,
		      const struct payload_inbound *msg);

#endif
