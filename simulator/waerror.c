/* waerror.c: error table and rendering of Graph API error bodies. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "waerror.h"

#include <jansson.h>
#include <stdio.h>

struct waerror_entry {
	int code;
	int http_status;
	const char *title;
	const char *details;
};

/* Statuses as in Meta's error code reference for the Cloud API. */
static const struct waerror_entry waerror_table[] = {
	{ WAERROR_INVALID_PARAMETER, 400, "Invalid parameter",
	  "A parameter of the request is not valid." },
	{ WAERROR_ACCESS_TOKEN, 401, "Invalid OAuth access token",
	  "The access token could not be validated." },
	{ WAERROR_RATE_LIMIT, 400, "Rate limit hit",
	  "Message failed to send because there were too many messages sent "
	  "from this phone number in a short period of time." },
	{ WAERROR_GENERIC, 500, "Something went wrong",
	  "Message failed to send due to an unknown error. Try again later." },
	{ WAERROR_PARAMETER_MISSING, 400, "Required parameter is missing",
	  "The request is missing a required parameter." },
	{ WAERROR_PARAMETER_VALUE, 400, "Parameter value is not valid",
	  "A parameter value is not valid." },
	{ WAERROR_SERVICE_UNAVAILABLE, 503, "Service unavailable",
	  "A service is temporarily unavailable. Try again later." },
	{ WAERROR_UNDELIVERABLE, 400, "Message undeliverable",
	  "Unable to deliver message. Reasons can include: the recipient "
	  "phone number is not a WhatsApp phone number." },
	{ WAERROR_REENGAGEMENT, 400, "Re-engagement message",
	  "Message failed to send because more than 24 hours have passed "
	  "since the customer last replied to this number." },
	{ WAERROR_PAIR_RATE_LIMIT, 400,
	  "(Business Account, Consumer Account) pair rate limit hit",
	  "Message failed to send because there were too many messages sent "
	  "from this phone number to the same phone number in a short period "
	  "of time." },
	{ WAERROR_PARAMETER_COUNT, 400,
	  "Number of parameters does not match the expected number of params",
	  "The number of variable parameter values does not match the number "
	  "of variables defined in the template." },
	{ WAERROR_TEMPLATE_MISSING, 404,
	  "Template name does not exist in the translation",
	  "The template does not exist in the language given." },
	{ WAERROR_PARAMETER_FORMAT, 400,
	  "Parameter format does not match format in the created template",
	  "A parameter has a type the template does not accept." },
	{ WAERROR_TEMPLATE_PARAMETERS, 400,
	  "There was an issue with the parameters in your template.",
	  "A parameter cannot contain new lines, tabs or more than 4 "
	  "consecutive spaces." },
};

static const struct waerror_entry *waerror_find(int code)
{
	size_t i;

	for (i = 0; i < sizeof(waerror_table) / sizeof(waerror_table[0]); i++)
		if (waerror_table[i].code == code)
			return &waerror_table[i];
	return NULL;
}

int waerror_known(int code)
{
	return waerror_find(code) != NULL;
}

int waerror_http_status(int code)
{
	const struct waerror_entry *e = waerror_find(code);

	return e ? e->http_status : 400;
}

const char *waerror_title(int code)
{
	const struct waerror_entry *e = waerror_find(code);

	return e ? e->title : "Unknown error";
}

const char *waerror_default_details(int code)
{
	const struct waerror_entry *e = waerror_find(code);

	return e ? e->details : "Unknown error.";
}

/* Graph API authentication errors: no error_data, a subcode when
 * expired. */
static json_t *waerror_token_body(int expired)
{
	return json_pack(
		"{s:s, s:s, s:i}", "message",
		expired ? "Error validating access token: Session has expired."
			: "Invalid OAuth access token - Cannot parse access "
			  "token",
		"type", "OAuthException", "code", WAERROR_ACCESS_TOKEN);
}

char *waerror_render(int code, const char *details, const char *trace_id,
		     int token_expired)
{
	char message[256];
	json_t *error, *root;
	char *text;

	if (code == WAERROR_ACCESS_TOKEN) {
		error = waerror_token_body(token_expired);
		if (error && token_expired)
			json_object_set_new(error, "error_subcode",
					    json_integer(463));
	} else {
		snprintf(message, sizeof(message), "(#%d) %s", code,
			 waerror_title(code));
		error = json_pack(
			"{s:s, s:s, s:i, s:{s:s, s:s}}", "message", message,
			"type", "OAuthException", "code", code, "error_data",
			"messaging_product", "whatsapp", "details",
			details ? details : waerror_default_details(code));
	}
	if (!error)
		return NULL;
	json_object_set_new(error, "fbtrace_id", json_string(trace_id));
	root = json_pack("{s:o}", "error", error);
	if (!root)
		return NULL;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}
