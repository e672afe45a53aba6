/* api.h: the Cloud API messages endpoint and the simulator's controls. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routes served (see docs/simulator.md):
 *
 *   POST /{version}/{phone_number_id}/messages   the Cloud API
 *   POST /sim/token     {"token": "NEW"}: the old token expires at once
 *   GET  /sim/stats     counters (stats.h)
 *   GET  /sim/messages  the last accepted messages, newest last
 *   POST /sim/inbound   a customer writes or taps a button now
 *   GET  /healthz
 *
 * A messages request is checked in WhatsApp's order: bearer token (190,
 * HTTP 401), messages per second of the phone number id (130429), the
 * request itself (request.h), fixed errors of the recipient, random
 * server errors, the pair rate limit (131056) and, for text, the
 * 24-hour customer service window (131047). An accepted message gets a
 * new wamid and its statuses are queued on the webhook: "sent" and
 * "delivered" (or "failed" for the recipients configured so), then
 * "read", by the audience when one is set, else with read_permille.
 */
#ifndef DUNNING_SIM_API_H
#define DUNNING_SIM_API_H

#include <stddef.h>
#include <stdint.h>

struct catalogue;
struct webhook;
struct stats;
struct http_route;
struct request;
struct payload_sender;
struct api;

struct api_config {
	const char *token;	     /* accepted bearer token */
	int64_t mps;		     /* messages per second per number id */
	const char *fail_recipients; /* "+34600000001=131026,..." */
	int64_t error_rate_permille; /* random 500/503 answers */
	int64_t slow_ms;	     /* delay of slow answers, real ms */
	int64_t slow_permille;	     /* share of answers that are slow */
	uint64_t seed;
	int64_t sent_delay_ms;	    /* product ms after acceptance */
	int64_t delivered_delay_ms; /* product ms after acceptance */
	int64_t read_delay_ms;	    /* product ms, without an audience */
	int64_t read_permille;	    /* without an audience */
	int64_t reorder_permille;   /* "delivered" before "sent" */
	int64_t pair_burst;	    /* 131056 bucket size */
	int64_t pair_interval_ms;   /* product ms per refilled message */
	const char *display_phone;  /* metadata.display_phone_number */
};

/* An accepted message, as shown to the audience. Borrowed for the call. */
struct api_message {
	const struct request *request;
	const char *wamid;
	const struct payload_sender *sender;
	int64_t accepted_ms;  /* product time */
	int64_t delivered_ms; /* product time of "delivered"; 0 if failed */
};

/*
 * Who reads and answers the messages (the customers model). on_message
 * runs on an HTTP thread after the message was accepted and its sent and
 * delivered statuses queued; it queues the rest itself.
 */
struct api_audience {
	void (*on_message)(void *ctx, const struct api_message *msg);
	void *ctx;
};

/*
 * Creates the API over cat, webhook and stats (all borrowed for its
 * life). cfg's strings are copied. Returns NULL with the reason (for
 * instance a malformed fail_recipients) in err.
 */
struct api *api_new(const struct api_config *cfg, const struct catalogue *cat,
		    struct webhook *webhook, struct stats *stats, char *err,
		    size_t errlen);

void api_free(struct api *api);

/* Sets the audience; call before serving. NULL-safe fields. */
void api_set_audience(struct api *api, const struct api_audience *audience);

/* Routes to serve; fills routes (room for at least 8) and returns the
 * count. */
size_t api_routes(struct api *api, struct http_route *routes);

/*
 * Records that the customer with wa_id wrote at product time at_ms,
 * opening the 24-hour window in which text messages may be sent. Safe
 * from any thread.
 */
void api_note_inbound(struct api *api, const char *wa_id, int64_t at_ms);

/* A new unique message id "wamid...." into out (size >= 48). Thread-safe. */
void api_new_wamid(struct api *api, char *out, size_t len);

/*
 * Parses a fail_recipients list into digits -> code entries, calling add
 * for each (sync is 1 when the error is answered at once, 0 when it comes
 * as a failed status). Returns 0 or DN_ERR_CONFIG with the reason.
 */
int api_parse_fail_recipients(const char *list,
			      int (*add)(void *ctx, const char *digits,
					 int code, int sync),
			      void *ctx, char *err, size_t errlen);

#endif
