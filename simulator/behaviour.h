/* behaviour.h: how a simulated customer reacts to a reminder. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A seeded model by payment-behaviour segment ("prompt", "slow",
 * "chronic"; anything else behaves as "slow"). For each message it decides
 * whether the customer reads it and when, whether they answer (a quick
 * reply button of the template, or free text in their language), whether
 * the answer is an opt-out ("stop" button, or STOP / BAIXA / PARAR), and
 * whether and when they pay the invoice afterwards.
 *
 * Decisions depend only on the seed, the customer and the message key
 * (the command id the product sent), never on arrival order or on
 * threads, so the same run replays the same way. Delays are product
 * milliseconds. Pure: no clock, no I/O.
 */
#ifndef DUNNING_SIM_BEHAVIOUR_H
#define DUNNING_SIM_BEHAVIOUR_H

#include <stdint.h>

struct catalogue_template;

struct behaviour_params {
	uint64_t seed;
	int64_t pay_effect_permille; /* scales the segment's chance to pay */
	int64_t reply_permille;	     /* < 0: the segment's own chance */
	int64_t opt_out_permille;    /* share of answers that opt out */
};

struct behaviour_input {
	const char *customer_key; /* "tenant/customer_id" */
	const char *segment;	  /* may be empty */
	const char *locale;	  /* BCP 47, e.g. "pt-BR"; may be empty */
	const char *message_key;  /* command id, or the wamid without one */
	const struct catalogue_template *tpl; /* buttons offered; may be NULL */
};

enum behaviour_reply {
	BEHAVIOUR_NO_REPLY,
	BEHAVIOUR_BUTTON,
	BEHAVIOUR_TEXT,
};

struct behaviour_decision {
	int read;
	int64_t read_after_ms; /* after delivery */
	enum behaviour_reply reply;
	char payload[32];	/* button payload */
	char text[160];		/* button title or text body */
	int64_t reply_after_ms; /* after reading */
	int opt_out;
	int pays;
	int64_t pay_after_ms; /* after reading */
};

void behaviour_decide(const struct behaviour_params *params,
		      const struct behaviour_input *in,
		      struct behaviour_decision *out);

/* Whether a text is an opt-out word WhatsApp users type (case-blind):
 * STOP, BAIXA, PARAR, ALTO, STOPP, ARRET. */
int behaviour_is_opt_out_text(const char *text);

#endif
