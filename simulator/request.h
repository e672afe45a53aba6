/* request.h: reading and checking a Cloud API messages request. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks a POST /{version}/{phone_number_id}/messages body the way the
 * Cloud API does and says which error code WhatsApp would answer with:
 *
 * - 100: not JSON, messaging_product not "whatsapp", "to" missing or not
 *   a dialable number, an unsupported type or component, oversized text;
 * - 131008: template name, language code or a parameter's text missing;
 * - 132001: no such template, or not in that language;
 * - 132000: the body parameters are not exactly the template's count;
 * - 132012: a parameter of a type other than text;
 * - 132018: a parameter with a new line, a tab or more than four
 *   consecutive spaces.
 *
 * Only template and text messages are supported. Pure: no clock, no
 * state; whether a text may be sent (the 24-hour window) is the caller's
 * business.
 */
#ifndef DUNNING_SIM_REQUEST_H
#define DUNNING_SIM_REQUEST_H

#include <stddef.h>

struct catalogue;

#define REQUEST_PARAMS_MAX	   16
#define REQUEST_PARAM_MAX_BYTES	   1024
#define REQUEST_TEXT_MAX_BYTES	   4096
#define REQUEST_CALLBACK_MAX_BYTES 512

enum request_type { REQUEST_TEMPLATE, REQUEST_TEXT };

struct request {
	char to[64];	 /* as sent: answered as contacts[].input */
	char digits[16]; /* to reduced to digits */
	char wa_id[20];	 /* the recipient's WhatsApp id */
	enum request_type type;
	char template_name[128];
	char language[16];
	size_t param_count;
	char *params[REQUEST_PARAMS_MAX]; /* body parameters, in order */
	char *text;			  /* body of a text message */
	char *callback_data; /* biz_opaque_callback_data, or NULL */
};

/*
 * Parses and checks body (len bytes) against cat. On success fills req
 * (release with request_release) and returns 0. Otherwise returns
 * DN_ERR_INVALID with the WhatsApp error code in *wa_code and a details
 * text for error_data.details in details (size dlen); req then holds
 * nothing to release (request_release is still safe).
 */
int request_parse(const char *body, size_t len, const struct catalogue *cat,
		  struct request *req, int *wa_code, char *details,
		  size_t dlen);

/* Frees what req owns; accepts a zeroed or half-filled req. */
void request_release(struct request *req);

/*
 * Whether text breaks the 132018 rules: a new line, a tab, or more than
 * four consecutive spaces.
 */
int request_param_text_invalid(const char *text);

#endif
