/* wa_response.h: what a Cloud API send answer means for the command. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A send answer is either accepted (a message id, and the recipient's
 * wa_id, which can differ from the number sent to: Brazil's ninth digit,
 * Mexico's 521/52, Argentina's 549/54) or a Graph API error object with a
 * numeric code. wa_response_classify decides what the gateway does next:
 *
 *   WA_OUTCOME_ACCEPTED   record the message id; done
 *   WA_OUTCOME_RETRY      5xx, timeouts, transient API errors: back off
 *   WA_OUTCOME_THROTTLED  throughput limit (130429, 80007, 4, HTTP 429):
 *                         slow the sender down, then retry
 *   WA_OUTCOME_PAIR_LIMIT too many messages to one person (131056):
 *                         wait the pair spacing, then retry
 *   WA_OUTCOME_PERMANENT  the message can never go as it is: a failed
 *                         message event with the code and reason
 *   WA_OUTCOME_HALT       expired or invalid token, blocked account,
 *                         unregistered sender: stop sending, keep the
 *                         command, try again later
 */
#ifndef DUNNING_WA_RESPONSE_H
#define DUNNING_WA_RESPONSE_H

#include <stddef.h>

/* Largest answer body read; anything bigger is an error. */
#define WA_RESPONSE_MAX (64 * 1024)

enum wa_outcome {
	WA_OUTCOME_ACCEPTED,
	WA_OUTCOME_RETRY,
	WA_OUTCOME_THROTTLED,
	WA_OUTCOME_PAIR_LIMIT,
	WA_OUTCOME_PERMANENT,
	WA_OUTCOME_HALT,
};

struct wa_response {
	long http_status;	 /* 0 when no answer came (transport error) */
	char message_id[256];	 /* messages[0].id when accepted */
	char wa_id[64];		 /* contacts[0].wa_id when given */
	int error_code;		 /* error.code, 0 when none */
	int error_subcode;	 /* error.error_subcode, 0 when none */
	char error_title[256];	 /* error.message */
	char error_details[256]; /* error.error_data.details */
};

/*
 * Reads an answer of http_status with body (len bytes, need not be NUL
 * terminated) into out. Codes sent as strings ("131056") are read as
 * numbers. A body that is not the expected JSON leaves the error fields
 * empty; classification then goes by the HTTP status. Never fails.
 */
void wa_response_parse(long http_status, const char *body, size_t len,
		       struct wa_response *out);

/* Classifies a parsed answer (see above). */
enum wa_outcome wa_response_classify(const struct wa_response *resp);

/* Classifies an error code alone, as webhooks report them. */
enum wa_outcome wa_error_classify(int code);

/* "accepted", "retry", ... never NULL. */
const char *wa_outcome_name(enum wa_outcome outcome);

#endif
