/* events.c: message events on whatsapp.events, keyed by customer. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "events.h"

#include "error.h"
#include "kafka.h"

#include "dunning/v1/whatsapp.pb-c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int events_send(struct kafka_producer *producer, const char *topic,
		const Dunning__V1__MessageEvent *ev, void *opaque, char *err,
		size_t errlen)
{
	char key[600];
	uint8_t *buf;
	size_t len;
	int rc;

	if (!ev->tenant || !*ev->tenant || !ev->customer_id ||
	    !*ev->customer_id)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "event %s has no customer", ev->event_id);
	if (kafka_key_format(key, sizeof(key), ev->tenant, ev->customer_id))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "event key too long");
	len = dunning__v1__message_event__get_packed_size(ev);
	buf = malloc(len ? len : 1);
	if (!buf)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	dunning__v1__message_event__pack(ev, buf);
	rc = kafka_producer_send(producer, topic, key, strlen(key), buf, len,
				 opaque, err, errlen);
	free(buf);
	return rc;
}

int events_id(char *out, size_t outlen, const char *id, const char *status)
{
	int n = status ? snprintf(out, outlen, "%s/%s", id, status)
		       : snprintf(out, outlen, "%s", id);

	return n < 0 || (size_t)n >= outlen ? DN_ERR_TOO_LARGE : DN_OK;
}
