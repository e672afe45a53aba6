/* settings.c: the DUNNING_SIM_* keys. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "settings.h"

#include "api.h"
#include "clock.h"
#include "config.h"
#include "customers.h"
#include "webhook.h"

#include <stdbool.h>
#include <stdint.h>

#define PERMILLE(name, def, help)                                              \
	{                                                                      \
		name, CONFIG_INT, def, 0, 1000, NULL, false, false, help       \
	}
#define MS(name, def, help)                                                    \
	{                                                                      \
		name, CONFIG_INT, def, 0, INT64_C(31536000000), NULL, false,   \
			false, help                                            \
	}

const struct config_key settings_keys[] = {
	{ "DUNNING_SIM_HTTP_PORT", CONFIG_INT, "0", 0, 65535, NULL, false,
	  false,
	  "port on 127.0.0.1; 0 picks a free one, printed as "
	  "listening=127.0.0.1:PORT" },
	{ "DUNNING_SIM_TOKEN", CONFIG_STRING, "sim-token", 0, 0, NULL, true,
	  false, "bearer token the simulated Cloud API accepts" },
	{ "DUNNING_SIM_APP_SECRET", CONFIG_STRING, "sim-app-secret", 0, 0, NULL,
	  true, false, "app secret that signs webhook calls" },
	{ "DUNNING_SIM_WEBHOOK_URL", CONFIG_STRING, "", 0, 0, NULL, false,
	  false, "the gateway's webhook URL; empty: no calls are made" },
	{ "DUNNING_SIM_TEMPLATES", CONFIG_STRING,
	  "deploy/whatsapp-templates.json", 0, 0, NULL, false, false,
	  "template catalogue" },
	{ "DUNNING_SIM_MPS", CONFIG_INT, "80", 1, 100000, NULL, false, false,
	  "messages per second per phone number id before error 130429" },
	{ "DUNNING_SIM_FAIL_RECIPIENTS", CONFIG_STRING, "", 0, 0, NULL, false,
	  false, "fixed errors by recipient: +NUMBER=CODE[:sync|:async],..." },
	PERMILLE("DUNNING_SIM_ERROR_RATE_PERMILLE", "0",
		 "share of requests answered 500 (131000) or 503 (131016)"),
	MS("DUNNING_SIM_SLOW_MS", "0", "real delay of slow answers"),
	PERMILLE("DUNNING_SIM_SLOW_PERMILLE", "1000",
		 "share of answers delayed by DUNNING_SIM_SLOW_MS"),
	{ "DUNNING_SIM_SEED", CONFIG_INT, "1", 0, INT64_MAX, NULL, false, false,
	  "seed of every random choice" },
	{ "DUNNING_SIM_CUSTOMERS", CONFIG_BOOL, "false", 0, 0, NULL, false,
	  false, "play customers and their ERP (reads, replies, payments)" },
	MS("DUNNING_SIM_SENT_DELAY_MS", "200",
	   "product ms from acceptance to the sent status"),
	MS("DUNNING_SIM_DELIVERED_DELAY_MS", "500",
	   "product ms from acceptance to the delivered status"),
	MS("DUNNING_SIM_READ_DELAY_MS", "1000",
	   "product ms from acceptance to the read status (no customers)"),
	PERMILLE("DUNNING_SIM_READ_PERMILLE", "1000",
		 "share of messages read (no customers)"),
	PERMILLE("DUNNING_SIM_REORDER_PERMILLE", "50",
		 "share of messages whose delivered comes before sent"),
	PERMILLE("DUNNING_SIM_DUPLICATE_PERMILLE", "20",
		 "share of statuses delivered twice"),
	MS("DUNNING_SIM_DUPLICATE_DELAY_MS", "1000",
	   "product ms between a status and its repetition"),
	PERMILLE("DUNNING_SIM_BATCH_PERMILLE", "200",
		 "share of webhook calls carrying every status due together"),
	{ "DUNNING_SIM_PAIR_BURST", CONFIG_INT, "45", 1, 100000, NULL, false,
	  false, "messages to one recipient in a burst before 131056" },
	MS("DUNNING_SIM_PAIR_INTERVAL_MS", "6000",
	   "product ms per message to one recipient after a burst"),
	{ "DUNNING_SIM_DISPLAY_PHONE", CONFIG_STRING, "15550000000", 0, 0, NULL,
	  false, false, "business display phone number in webhook metadata" },
	{ "DUNNING_SIM_WABA_ID", CONFIG_STRING, "100000000000001", 0, 0, NULL,
	  false, false, "business account id in webhook entries" },
	{ "DUNNING_SIM_WEBHOOK_TIMEOUT_MS", CONFIG_INT, "5000", 100, 600000,
	  NULL, false, false, "real ms a webhook call may take" },
	{ "DUNNING_SIM_WEBHOOK_GIVE_UP_MS", CONFIG_INT, "600000", 0,
	  INT64_C(604800000), NULL, false, false,
	  "real ms a failing webhook call is retried before it is dropped" },
	PERMILLE("DUNNING_SIM_PAY_EFFECT_PERMILLE", "1000",
		 "customers: scales each segment's chance to pay after "
		 "reading a reminder"),
	{ "DUNNING_SIM_REPLY_PERMILLE", CONFIG_INT, "-1", -1, 1000, NULL, false,
	  false,
	  "customers: chance a read message gets an answer; -1: "
	  "per segment" },
	PERMILLE("DUNNING_SIM_OPT_OUT_PERMILLE", "60",
		 "customers: share of answers that opt out"),
	{ "DUNNING_SIM_PAID_GRACE_MS", CONFIG_INT, "-1", -1,
	  INT64_C(31536000000), NULL, false, false,
	  "customers: product ms after a payment before a message about the "
	  "invoice counts as sent after paid; -1: 3 real seconds" },
	CONFIG_KEY_END,
};

void settings_api(const struct config *cfg, struct api_config *out)
{
	out->token = config_str(cfg, "DUNNING_SIM_TOKEN");
	out->mps = config_int(cfg, "DUNNING_SIM_MPS");
	out->fail_recipients = config_str(cfg, "DUNNING_SIM_FAIL_RECIPIENTS");
	out->error_rate_permille =
		config_int(cfg, "DUNNING_SIM_ERROR_RATE_PERMILLE");
	out->slow_ms = config_int(cfg, "DUNNING_SIM_SLOW_MS");
	out->slow_permille = config_int(cfg, "DUNNING_SIM_SLOW_PERMILLE");
	out->seed = (uint64_t)config_int(cfg, "DUNNING_SIM_SEED");
	out->sent_delay_ms = config_int(cfg, "DUNNING_SIM_SENT_DELAY_MS");
	out->delivered_delay_ms =
		config_int(cfg, "DUNNING_SIM_DELIVERED_DELAY_MS");
	out->read_delay_ms = config_int(cfg, "DUNNING_SIM_READ_DELAY_MS");
	out->read_permille = config_int(cfg, "DUNNING_SIM_READ_PERMILLE");
	out->reorder_permille = config_int(cfg, "DUNNING_SIM_REORDER_PERMILLE");
	out->pair_burst = config_int(cfg, "DUNNING_SIM_PAIR_BURST");
	out->pair_interval_ms = config_int(cfg, "DUNNING_SIM_PAIR_INTERVAL_MS");
	out->display_phone = config_str(cfg, "DUNNING_SIM_DISPLAY_PHONE");
}

void settings_webhook(const struct config *cfg, struct webhook_config *out)
{
	out->url = config_str(cfg, "DUNNING_SIM_WEBHOOK_URL");
	out->app_secret = config_str(cfg, "DUNNING_SIM_APP_SECRET");
	out->waba_id = config_str(cfg, "DUNNING_SIM_WABA_ID");
	out->seed = (uint64_t)config_int(cfg, "DUNNING_SIM_SEED");
	out->batch_permille = config_int(cfg, "DUNNING_SIM_BATCH_PERMILLE");
	out->duplicate_permille =
		config_int(cfg, "DUNNING_SIM_DUPLICATE_PERMILLE");
	out->duplicate_delay_ms =
		config_int(cfg, "DUNNING_SIM_DUPLICATE_DELAY_MS");
	out->timeout_ms = config_int(cfg, "DUNNING_SIM_WEBHOOK_TIMEOUT_MS");
	out->give_up_ms = config_int(cfg, "DUNNING_SIM_WEBHOOK_GIVE_UP_MS");
}

void settings_customers(const struct config *cfg, struct customers_config *out)
{
	int64_t grace = config_int(cfg, "DUNNING_SIM_PAID_GRACE_MS");

	out->seed = (uint64_t)config_int(cfg, "DUNNING_SIM_SEED");
	out->pay_effect_permille =
		config_int(cfg, "DUNNING_SIM_PAY_EFFECT_PERMILLE");
	out->reply_permille = config_int(cfg, "DUNNING_SIM_REPLY_PERMILLE");
	out->opt_out_permille = config_int(cfg, "DUNNING_SIM_OPT_OUT_PERMILLE");
	out->paid_grace_ms = grace >= 0 ? grace : 3000 * clock_speed();
}
