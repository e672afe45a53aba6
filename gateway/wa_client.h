/* wa_client.h: concurrent HTTPS calls to the Cloud API (libcurl multi). */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sends POST {base}/{version}/{phone-number-id}/messages requests with the
 * bearer token, many at once through one curl multi handle: connections
 * are reused, HTTP/2 is used where the server offers it (multiplexed), and
 * a whole call is bounded by a timeout. Answers come back through a
 * callback from wa_client_run, on the caller's thread.
 *
 * One struct wa_client belongs to one thread. The token is never logged.
 */
#ifndef DUNNING_WA_CLIENT_H
#define DUNNING_WA_CLIENT_H

#include <stddef.h>

struct wa_client;

/*
 * Called once per started request: http_status 0 and transport set (a
 * short reason) when no answer came; body is the answer (not
 * NUL-terminated, at most WA_RESPONSE_MAX bytes kept), borrowed for the
 * call.
 */
typedef void (*wa_client_done_fn)(void *ctx, void *request, long http_status,
				  const char *body, size_t len,
				  const char *transport);

/* Returns NULL with the reason in err. Caller frees with wa_client_free. */
struct wa_client *wa_client_new(const char *base_url, const char *version,
				int max_in_flight, long timeout_ms,
				wa_client_done_fn done, void *ctx, char *err,
				size_t errlen);

/* Aborts requests in flight (no callbacks) and frees. Accepts NULL. */
void wa_client_free(struct wa_client *c);

/* Replaces the bearer token used by requests started from now on. */
int wa_client_set_token(struct wa_client *c, const char *token);

/* Requests in flight. */
int wa_client_in_flight(const struct wa_client *c);

/*
 * Starts a request for phone_number_id with body (copied). request is the
 * caller's handle given back to the callback. Returns 0, DN_ERR_UNAVAILABLE
 * when max_in_flight are running, or another error.
 */
int wa_client_start(struct wa_client *c, const char *phone_number_id,
		    const char *body, void *request);

/*
 * Moves transfers on, waiting up to timeout_ms for activity, and calls the
 * callback for every finished one.
 */
void wa_client_run(struct wa_client *c, int timeout_ms);

#endif
