/* settings.h: the gateway's configuration keys and sender numbers. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gateway_config_keys is the table of DUNNING_WA_* and DUNNING_GATEWAY_*
 * settings (docs/configuration.md, section dunning-gateway). The sender
 * map turns DUNNING_WA_SENDERS ("tenant=phone_number_id,...", "*=id" for
 * any other tenant) into a lookup from tenant to the WhatsApp phone number
 * id that sends its messages.
 */
#ifndef DUNNING_SETTINGS_H
#define DUNNING_SETTINGS_H

#include "config.h"

#include <stddef.h>

#define SETTINGS_SENDERS_MAX 64
#define SETTINGS_ID_MAX	     64

extern const struct config_key gateway_config_keys[];

struct settings_sender {
	char tenant[SETTINGS_ID_MAX]; /* "*" matches any tenant */
	char phone_number_id[SETTINGS_ID_MAX];
};

struct settings_senders {
	struct settings_sender list[SETTINGS_SENDERS_MAX];
	size_t count;
};

/*
 * Checks what the table cannot: DUNNING_WA_BASE_URL is an http(s) URL with
 * a host, DUNNING_WA_API_VERSION looks like "v21.0", and the retry base
 * delay is not above its maximum. Returns 0, or DN_ERR_CONFIG naming the
 * setting, its value and what was expected.
 */
int settings_check(const struct config *cfg, char *err, size_t errlen);

/*
 * Parses text ("t1=111,t2=222,*=333"; spaces around items allowed) into
 * out. Returns 0, or DN_ERR_CONFIG with the offending item in err.
 */
int settings_senders_parse(const char *text, struct settings_senders *out,
			   char *err, size_t errlen);

/*
 * The phone number id that sends for tenant: the exact entry, else the
 * "*" entry, else NULL. The string is borrowed from senders.
 */
const char *settings_sender_for(const struct settings_senders *senders,
				const char *tenant);

#endif
