/* settings.c: the gateway's configuration keys and sender numbers. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "settings.h"

#include "config.h"
#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const struct config_key gateway_config_keys[] = {
	{ "DUNNING_WA_BASE_URL", CONFIG_STRING, "https://graph.facebook.com", 0,
	  0, NULL, false, false, "Cloud API base URL, scheme and host" },
	{ "DUNNING_WA_API_VERSION", CONFIG_STRING, "v21.0", 0, 0, NULL, false,
	  false, "Graph API version in the request path" },
	{ "DUNNING_WA_TOKEN", CONFIG_STRING, NULL, 0, 0, NULL, true, false,
	  "Cloud API access token (or DUNNING_WA_TOKEN_FILE)" },
	{ "DUNNING_WA_TOKEN_FILE", CONFIG_STRING, NULL, 0, 0, NULL, false,
	  false,
	  "file holding the access token; re-read while the API refuses it" },
	{ "DUNNING_WA_APP_SECRET", CONFIG_STRING, NULL, 0, 0, NULL, true, true,
	  "app secret that signs webhooks (X-Hub-Signature-256)" },
	{ "DUNNING_WA_VERIFY_TOKEN", CONFIG_STRING, NULL, 0, 0, NULL, true,
	  false, "verify token of the webhook subscription handshake" },
	{ "DUNNING_WA_SENDERS", CONFIG_STRING, NULL, 0, 0, NULL, false, true,
	  "sender phone number ids, \"tenant=id,...\"; \"*=id\" for any "
	  "tenant" },
	{ "DUNNING_GATEWAY_HTTP_PORT", CONFIG_INT, "8081", 0, 65535, NULL,
	  false, false,
	  "webhook, /metrics and /healthz port; 0 picks a free one" },
	{ "DUNNING_GATEWAY_HTTP_BIND", CONFIG_STRING, "127.0.0.1", 0, 0, NULL,
	  false, false, "address the webhook server listens on" },
	{ "DUNNING_GATEWAY_MPS", CONFIG_INT, "80", 1, 10000, NULL, false, false,
	  "messages per second per sender phone number id" },
	{ "DUNNING_GATEWAY_PACING", CONFIG_BOOL, "true", 0, 0, NULL, false,
	  false, "pace sends to DUNNING_GATEWAY_MPS per sender" },
	{ "DUNNING_GATEWAY_PAIR_SPACING_MS", CONFIG_INT, "6000", 0, 600000,
	  NULL, false, false,
	  "least time between two messages to one recipient" },
	{ "DUNNING_GATEWAY_CONCURRENCY", CONFIG_INT, "64", 1, 1024, NULL, false,
	  false, "requests to the Cloud API in flight at once" },
	{ "DUNNING_GATEWAY_BACKLOG", CONFIG_INT, "5000", 1, 1000000, NULL,
	  false, false, "commands held in memory before consuming pauses" },
	{ "DUNNING_GATEWAY_TIMEOUT_MS", CONFIG_INT, "15000", 100, 600000, NULL,
	  false, false, "whole-request timeout of one Cloud API call" },
	{ "DUNNING_GATEWAY_RETRY_BASE_MS", CONFIG_INT, "500", 1, 600000, NULL,
	  false, false, "first retry delay; doubles per attempt, with jitter" },
	{ "DUNNING_GATEWAY_RETRY_MAX_MS", CONFIG_INT, "60000", 1, 3600000, NULL,
	  false, false, "longest retry delay" },
	{ "DUNNING_GATEWAY_RETRY_ATTEMPTS", CONFIG_INT, "10", 1, 1000, NULL,
	  false, false,
	  "attempts of a retryable error before the command fails" },
	{ "DUNNING_GATEWAY_HALT_RECHECK_MS", CONFIG_INT, "5000", 100, 3600000,
	  NULL, false, false,
	  "while halted (token, account, sender): how often to re-read the "
	  "token file and try again" },
	{ "DUNNING_GATEWAY_TEMPLATES", CONFIG_STRING,
	  "deploy/whatsapp-templates.json", 0, 0, NULL, false, false,
	  "template catalogue (names, languages, parameter counts)" },
	{ "DUNNING_GATEWAY_WEBHOOK_MAX_BYTES", CONFIG_INT, "1048576", 1024,
	  67108864, NULL, false, false, "largest webhook body accepted" },
	{ "DUNNING_GATEWAY_WEBHOOK_QUEUE", CONFIG_INT, "10000", 1, 1000000,
	  NULL, false, false,
	  "webhooks waiting for the event thread before 503" },
	{ "DUNNING_GATEWAY_WEBHOOK_ACK_MS", CONFIG_INT, "10000", 1000, 120000,
	  NULL, false, false,
	  "real ms a webhook waits for Kafka to store its events before it is "
	  "answered 503, so that Meta sends it again" },
	CONFIG_KEY_END,
};

/* Whether text is "v" digits "." digits. */
static int version_valid(const char *text)
{
	size_t major, minor;

	if (text[0] != 'v')
		return 0;
	major = strspn(text + 1, "0123456789");
	if (major == 0 || text[1 + major] != '.')
		return 0;
	minor = strspn(text + 2 + major, "0123456789");
	return minor > 0 && text[2 + major + minor] == '\0';
}

int settings_check(const struct config *cfg, char *err, size_t errlen)
{
	const char *url = config_str(cfg, "DUNNING_WA_BASE_URL");
	const char *version = config_str(cfg, "DUNNING_WA_API_VERSION");
	size_t scheme = strncmp(url, "https://", 8) == 0  ? 8
			: strncmp(url, "http://", 7) == 0 ? 7
							  : 0;

	if (scheme == 0 || url[scheme] == '\0' || url[scheme] == '/')
		return dn_fail(
			DN_ERR_CONFIG, err, errlen,
			"DUNNING_WA_BASE_URL=\"%.200s\": expected "
			"https://host (or http:// for a local simulator)",
			url);
	if (!version_valid(version))
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_WA_API_VERSION=\"%.40s\": expected a "
			       "Graph API version such as v21.0",
			       version);
	if (config_int(cfg, "DUNNING_GATEWAY_RETRY_BASE_MS") >
	    config_int(cfg, "DUNNING_GATEWAY_RETRY_MAX_MS"))
		return dn_fail(
			DN_ERR_CONFIG, err, errlen,
			"DUNNING_GATEWAY_RETRY_BASE_MS=%" PRId64
			" is above DUNNING_GATEWAY_RETRY_MAX_MS=%" PRId64,
			config_int(cfg, "DUNNING_GATEWAY_RETRY_BASE_MS"),
			config_int(cfg, "DUNNING_GATEWAY_RETRY_MAX_MS"));
	return DN_OK;
}

/* Copies [start, start+len) trimmed of spaces into out; 0 if it fits. */
static int copy_trimmed(const char *start, size_t len, char *out, size_t outlen)
{
	while (len && *start == ' ') {
		start++;
		len--;
	}
	while (len && start[len - 1] == ' ')
		len--;
	if (len == 0 || len >= outlen)
		return -1;
	memcpy(out, start, len);
	out[len] = '\0';
	return 0;
}

static int sender_parse(const char *item, size_t len,
			struct settings_sender *out)
{
	const char *eq = memchr(item, '=', len);

	if (!eq)
		return -1;
	if (copy_trimmed(item, (size_t)(eq - item), out->tenant,
			 sizeof(out->tenant)))
		return -1;
	return copy_trimmed(eq + 1, len - (size_t)(eq - item) - 1,
			    out->phone_number_id, sizeof(out->phone_number_id));
}

int settings_senders_parse(const char *text, struct settings_senders *out,
			   char *err, size_t errlen)
{
	const char *p = text;

	out->count = 0;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (out->count == SETTINGS_SENDERS_MAX)
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "DUNNING_WA_SENDERS: more than %d "
				       "senders",
				       SETTINGS_SENDERS_MAX);
		if (sender_parse(p, len, &out->list[out->count]))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "DUNNING_WA_SENDERS: item \"%.*s\" is "
				       "not tenant=phone_number_id",
				       (int)len, p);
		out->count++;
		p = comma ? comma + 1 : p + len;
	}
	if (out->count == 0)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_WA_SENDERS names no sender");
	return DN_OK;
}

const char *settings_sender_for(const struct settings_senders *senders,
				const char *tenant)
{
	const char *fallback = NULL;
	size_t i;

	for (i = 0; i < senders->count; i++) {
		if (strcmp(senders->list[i].tenant, tenant) == 0)
			return senders->list[i].phone_number_id;
		if (strcmp(senders->list[i].tenant, "*") == 0)
			fallback = senders->list[i].phone_number_id;
	}
	return fallback;
}
