/* wa_response.c: what a Cloud API send answer means for the command. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "wa_response.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Codes that are not permanent, from the Cloud API's error code reference.
 * Any other code is permanent: retrying the same request cannot help.
 */
static const struct {
	int code;
	enum wa_outcome outcome;
} known_codes[] = {
	/* Authorisation: token expired or invalid, permissions. */
	{ 0, WA_OUTCOME_HALT },	  /* AuthException */
	{ 3, WA_OUTCOME_HALT },	  /* API method: capability or permission */
	{ 10, WA_OUTCOME_HALT },  /* permission denied */
	{ 190, WA_OUTCOME_HALT }, /* access token expired */
	/* Account and sender number. */
	{ 368, WA_OUTCOME_HALT },    /* temporarily blocked for policy */
	{ 131031, WA_OUTCOME_HALT }, /* business account locked */
	{ 131042, WA_OUTCOME_HALT }, /* business payment issue */
	{ 131045, WA_OUTCOME_HALT }, /* sender not registered (certificate) */
	{ 133000, WA_OUTCOME_HALT }, /* incomplete deregistration */
	{ 133005, WA_OUTCOME_HALT }, /* two-step PIN mismatch */
	{ 133006, WA_OUTCOME_HALT }, /* phone number needs verifying */
	{ 133008, WA_OUTCOME_HALT }, /* too many PIN guesses */
	{ 133009, WA_OUTCOME_HALT }, /* PIN entered too fast */
	{ 133010, WA_OUTCOME_HALT }, /* phone number not registered */
	/* Throughput. */
	{ 4, WA_OUTCOME_THROTTLED },	   /* application request limit */
	{ 80007, WA_OUTCOME_THROTTLED },   /* business account rate limit */
	{ 130429, WA_OUTCOME_THROTTLED },  /* Cloud API throughput reached */
	{ 131048, WA_OUTCOME_THROTTLED },  /* spam rate limit: slow down */
	{ 131056, WA_OUTCOME_PAIR_LIMIT }, /* pair rate limit */
	/* Transient service errors. */
	{ 1, WA_OUTCOME_RETRY },      /* unknown API error */
	{ 2, WA_OUTCOME_RETRY },      /* API service temporarily down */
	{ 131000, WA_OUTCOME_RETRY }, /* something went wrong */
	{ 131016, WA_OUTCOME_RETRY }, /* service unavailable */
	{ 133004, WA_OUTCOME_RETRY }, /* server temporarily unavailable */
};

enum wa_outcome wa_error_classify(int code)
{
	size_t i;

	if (code >= 200 && code <= 299)
		return WA_OUTCOME_HALT; /* API permission */
	for (i = 0; i < sizeof(known_codes) / sizeof(*known_codes); i++)
		if (known_codes[i].code == code)
			return known_codes[i].outcome;
	return WA_OUTCOME_PERMANENT;
}

static int number_field(json_t *value)
{
	const char *text;
	char *end;
	long n;

	if (json_is_integer(value))
		return (int)json_integer_value(value);
	text = json_string_value(value);
	if (!text)
		return 0;
	n = strtol(text, &end, 10);
	return end != text && *end == '\0' ? (int)n : 0;
}

static void copy_string(char *out, size_t outlen, json_t *value)
{
	const char *text = json_string_value(value);

	snprintf(out, outlen, "%s", text ? text : "");
}

static void parse_error(json_t *error, struct wa_response *out)
{
	out->error_code = number_field(json_object_get(error, "code"));
	out->error_subcode =
		number_field(json_object_get(error, "error_subcode"));
	copy_string(out->error_title, sizeof(out->error_title),
		    json_object_get(error, "message"));
	copy_string(out->error_details, sizeof(out->error_details),
		    json_object_get(json_object_get(error, "error_data"),
				    "details"));
}

void wa_response_parse(long http_status, const char *body, size_t len,
		       struct wa_response *out)
{
	json_t *root, *error;

	memset(out, 0, sizeof(*out));
	out->http_status = http_status;
	if (!body || len == 0 || len > WA_RESPONSE_MAX)
		return;
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	error = json_object_get(root, "error");
	if (json_is_object(error))
		parse_error(error, out);
	copy_string(
		out->message_id, sizeof(out->message_id),
		json_object_get(
			json_array_get(json_object_get(root, "messages"), 0),
			"id"));
	copy_string(
		out->wa_id, sizeof(out->wa_id),
		json_object_get(
			json_array_get(json_object_get(root, "contacts"), 0),
			"wa_id"));
	json_decref(root);
}

/* No usable error code: decide by the HTTP status alone. */
static enum wa_outcome classify_status(long status)
{
	if (status == 0 || status >= 500 || status == 408)
		return WA_OUTCOME_RETRY;
	if (status == 429)
		return WA_OUTCOME_THROTTLED;
	if (status == 401 || status == 403)
		return WA_OUTCOME_HALT;
	return WA_OUTCOME_PERMANENT;
}

enum wa_outcome wa_response_classify(const struct wa_response *resp)
{
	int has_code = resp->error_code != 0 || resp->error_title[0];

	if (resp->http_status >= 200 && resp->http_status < 300 &&
	    resp->message_id[0] && !has_code)
		return WA_OUTCOME_ACCEPTED;
	if (resp->http_status == 401)
		return WA_OUTCOME_HALT;
	if (resp->http_status >= 500 && !has_code)
		return WA_OUTCOME_RETRY;
	if (has_code)
		return wa_error_classify(resp->error_code);
	if (resp->http_status >= 200 && resp->http_status < 300)
		return WA_OUTCOME_RETRY; /* 2xx without a message id */
	return classify_status(resp->http_status);
}

const char *wa_outcome_name(enum wa_outcome outcome)
{
	switch (outcome) {
	case WA_OUTCOME_ACCEPTED:
		return "accepted";
	case WA_OUTCOME_RETRY:
		return "retry";
	case WA_OUTCOME_THROTTLED:
		return "throttled";
	case WA_OUTCOME_PAIR_LIMIT:
		return "pair_limit";
	case WA_OUTCOME_PERMANENT:
		return "permanent";
	case WA_OUTCOME_HALT:
		return "halt";
	}
	return "unknown";
}
