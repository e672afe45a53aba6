/* main.c: dunning-gateway, the only process that talks to WhatsApp. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wires the sender (whatsapp.send to the Cloud API) and the receiver
 * (webhooks to whatsapp.events) together; see sender.h and receiver.h.
 * Prints "listening=127.0.0.1:PORT" once the webhook server is up.
 */
#include "clock.h"
#include "config.h"
#include "logger.h"
#include "metrics.h"
#include "receiver.h"
#include "sender.h"
#include "settings.h"
#include "shutdown.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

static const char *sender_health(void *ctx)
{
	return sender_halt_reason(ctx);
}

static int run(const struct config *cfg, struct metrics *metrics)
{
	struct receiver *receiver = NULL;
	struct sender *sender;
	char err[512];
	int rc;

	sender = sender_new(cfg, metrics, err, sizeof(err));
	if (!sender) {
		log_error("WA", "cannot start the sender: %s", err);
		return 1;
	}
	receiver = receiver_new(cfg, metrics, sender_health, sender, err,
				sizeof(err));
	if (!receiver) {
		log_error("HTTP", "cannot start the webhook server: %s", err);
		sender_free(sender);
		return 1;
	}
	printf("listening=%s:%d\n",
	       config_str(cfg, "DUNNING_GATEWAY_HTTP_BIND"),
	       receiver_port(receiver));
	fflush(stdout);
	log_info("HTTP", "webhook server listening port=%d",
		 receiver_port(receiver));

	rc = sender_run(sender);
	receiver_free(receiver);
	sender_free(sender);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys,
						    gateway_config_keys, NULL };
	static const char about[] =
		"Sends WhatsApp template messages through the Cloud API and "
		"turns its webhooks into message events.";
	int args;
	struct metrics *metrics;
	struct config *cfg;
	char err[512];
	int rc;

	if ((args = config_args(argc, argv, tables, about, stdout, stderr)) >=
	    0)
		return args;
	logger_init("gateway", LOG_LEVEL_INFO);
	cfg = config_load(tables, err, sizeof(err));
	if (!cfg || settings_check(cfg, err, sizeof(err))) {
		log_error("CONF", "%s", err);
		config_free(cfg);
		return 2;
	}
	logger_init("gateway", (enum log_level)logger_level_parse(
				       config_str(cfg, "DUNNING_LOG_LEVEL")));
	clock_configure(cfg);
	shutdown_install();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	metrics = metrics_new();
	rc = metrics ? run(cfg, metrics) : 1;
	metrics_free(metrics);
	curl_global_cleanup();
	config_free(cfg);
	return rc;
}
