/* events.h: message events on whatsapp.events, keyed by customer. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event ids follow the contract between gateway and worker:
 * "<wa_message_id>/<status>" for statuses ("sent", "delivered", "read",
 * "failed", and "accepted" for the send answer), "<wa_message_id>" for
 * inbound messages. A command refused before WhatsApp gave it a message id
 * uses "<command_id>/failed".
 */
#ifndef DUNNING_EVENTS_H
#define DUNNING_EVENTS_H

#include <stddef.h>

typedef struct Dunning__V1__MessageEvent Dunning__V1__MessageEvent;
struct kafka_producer;

/* Longest event id: a message or command id plus a status word. */
#define EVENTS_ID_MAX 1100

/*
 * Packs ev and queues it on topic under the key "tenant/customer_id".
 * opaque comes back in the producer's delivery callback. Returns 0, or an
 * error with the reason in err (DN_ERR_INVALID without tenant or customer).
 */
int events_send(struct kafka_producer *producer, const char *topic,
		const Dunning__V1__MessageEvent *ev, void *opaque, char *err,
		size_t errlen);

/* Writes "<id>/<status>" (status may be NULL: "<id>") into out. */
int events_id(char *out, size_t outlen, const char *id, const char *status);

#endif
