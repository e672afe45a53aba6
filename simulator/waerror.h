/* waerror.h: the Cloud API's error codes, HTTP statuses and JSON shape. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator answers a refused request the way the Graph API does:
 *
 *   {"error": {"message": "(#132001) Template name does not exist in the
 *    translation", "type": "OAuthException", "code": 132001,
 *    "error_data": {"messaging_product": "whatsapp", "details": "..."},
 *    "fbtrace_id": "..."}}
 *
 * with the HTTP status Meta documents for the code. Token errors (190)
 * carry no error_data, as the Graph API's own authentication errors do.
 * The same titles are used in the errors[] of a failed status webhook.
 */
#ifndef DUNNING_SIM_WAERROR_H
#define DUNNING_SIM_WAERROR_H

#include <stddef.h>

enum waerror_code {
	WAERROR_INVALID_PARAMETER = 100,
	WAERROR_ACCESS_TOKEN = 190,
	WAERROR_RATE_LIMIT = 130429,
	WAERROR_GENERIC = 131000,
	WAERROR_PARAMETER_MISSING = 131008,
	WAERROR_PARAMETER_VALUE = 131009,
	WAERROR_SERVICE_UNAVAILABLE = 131016,
	WAERROR_UNDELIVERABLE = 131026,
	WAERROR_REENGAGEMENT = 131047,
	WAERROR_PAIR_RATE_LIMIT = 131056,
	WAERROR_PARAMETER_COUNT = 132000,
	WAERROR_TEMPLATE_MISSING = 132001,
	WAERROR_PARAMETER_FORMAT = 132012,
	WAERROR_TEMPLATE_PARAMETERS = 132018,
};

/* Whether code is one the simulator knows (listed above). */
int waerror_known(int code);

/* The HTTP status Meta answers code with (400 for unknown codes). */
int waerror_http_status(int code);

/* The code's title, e.g. "Rate limit hit"; never NULL. */
const char *waerror_title(int code);

/* A default details text for code; never NULL. */
const char *waerror_default_details(int code);

/*
 * Renders the error body for code. details may be NULL (the default is
 * used); trace_id is the fbtrace_id. token_expired selects the "session
 * has expired" wording and subcode of code 190. Returns a string the
 * caller frees, or NULL when out of memory.
 */
char *waerror_render(int code, const char *details, const char *trace_id,
		     int token_expired);

#endif
