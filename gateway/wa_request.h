/* wa_request.h: the JSON body of a Cloud API send request. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Turns a SendCommand into the body of POST /{version}/{phone-number-id}/
 * messages, built with jansson so that quotes, backslashes and any Unicode
 * (names, emoji) are escaped correctly. The command id always travels in
 * biz_opaque_callback_data so status webhooks can be matched to it.
 *
 * Template parameters WhatsApp would refuse are cleaned by one rule
 * (wa_request_sanitise) or the command is refused before any call.
 */
#ifndef DUNNING_WA_REQUEST_H
#define DUNNING_WA_REQUEST_H

#include <stddef.h>

/* Longest template parameter, in characters, after cleaning. */
#define WA_PARAM_CHARS_MAX 1024
/* Longest free-form text body, in characters (the API's limit). */
#define WA_TEXT_CHARS_MAX 4096
/* Longest biz_opaque_callback_data the API takes, in characters. */
#define WA_CALLBACK_DATA_MAX 512

typedef struct Dunning__V1__SendCommand Dunning__V1__SendCommand;

/*
 * Cleans one template parameter into out (size outlen):
 *
 * - every newline, carriage return, tab and other control character
 *   becomes a space;
 * - every run of spaces becomes one space, so no run of more than four
 *   spaces remains;
 * - leading and trailing spaces are removed.
 *
 * Refuses (DN_ERR_PERMANENT, reason in err) text that is not UTF-8, that is
 * empty after cleaning, or that is longer than WA_PARAM_CHARS_MAX
 * characters; over-long values are not cut, since a cut amount or invoice
 * number would be wrong. DN_ERR_TOO_LARGE if out is too small.
 */
int wa_request_sanitise(const char *text, char *out, size_t outlen, char *err,
			size_t errlen);

/*
 * Builds the request body for cmd, sent to recipient `to` (E.164 phone or
 * WhatsApp id). Template commands are sanitised parameter by parameter;
 * text commands need a body and may answer reply_to_message_id. On success
 * *body is a NUL-terminated string the caller frees with free(). Returns
 * DN_ERR_PERMANENT with the reason in err when the command cannot be sent
 * as it is, DN_ERR_NOMEM otherwise on failure.
 */
int wa_request_build(const Dunning__V1__SendCommand *cmd, const char *to,
		     char **body, char *err, size_t errlen);

#endif
