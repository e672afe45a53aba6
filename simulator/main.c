/* main.c: dunning-simulator, a local stand-in for the WhatsApp Cloud API. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serves the Cloud API messages endpoint on 127.0.0.1 with WhatsApp's
 * checks and error codes, calls the gateway's webhook with signed
 * statuses and, with DUNNING_SIM_CUSTOMERS, plays the customers and their
 * ERP. Prints "listening=127.0.0.1:PORT" once ready and runs until
 * SIGTERM or SIGINT. See docs/simulator.md.
 */
#include "api.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "customers.h"
#include "logger.h"
#include "httpd.h"
#include "settings.h"
#include "shutdown.h"
#include "stats.h"
#include "webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <time.h>

#define SIM_MAX_BODY (64 * 1024)

struct simulator {
	struct config *cfg;
	struct catalogue *cat;
	struct stats *stats;
	struct webhook *webhook;
	struct api *api;
	struct customers *customers;
	struct httpd *server;
};

static int simulator_start(struct simulator *sim, char *err, size_t errlen)
{
	struct http_route routes[8];
	struct webhook_config wcfg;
	struct api_config acfg;
	size_t count;

	sim->cat = catalogue_load(config_str(sim->cfg, "DUNNING_SIM_TEMPLATES"),
				  err, errlen);
	sim->stats = stats_new();
	if (!sim->cat || !sim->stats)
		return -1;
	settings_webhook(sim->cfg, &wcfg);
	sim->webhook = webhook_new(&wcfg, sim->stats, err, errlen);
	if (!sim->webhook)
		return -1;
	settings_api(sim->cfg, &acfg);
	sim->api =
		api_new(&acfg, sim->cat, sim->webhook, sim->stats, err, errlen);
	if (!sim->api)
		return -1;
	if (config_bool(sim->cfg, "DUNNING_SIM_CUSTOMERS")) {
		struct customers_config ccfg;
		struct api_audience audience;

		settings_customers(sim->cfg, &ccfg);
		sim->customers =
			customers_new(sim->cfg, &ccfg, sim->cat, sim->api,
				      sim->webhook, sim->stats, err, errlen);
		if (!sim->customers)
			return -1;
		audience.on_message = customers_on_message;
		audience.ctx = sim->customers;
		api_set_audience(sim->api, &audience);
	}
	count = api_routes(sim->api, routes);
	sim->server = httpd_new(
		"127.0.0.1", (int)config_int(sim->cfg, "DUNNING_SIM_HTTP_PORT"),
		routes, count, SIM_MAX_BODY, NULL, NULL, NULL, err, errlen);
	return sim->server ? 0 : -1;
}

static void simulator_stop(struct simulator *sim)
{
	httpd_free(sim->server);
	customers_free(sim->customers);
	api_free(sim->api);
	webhook_free(sim->webhook);
	stats_free(sim->stats);
	catalogue_free(sim->cat);
	config_free(sim->cfg);
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys,
						    settings_keys, NULL };
	static const char about[] = "A local stand-in for the WhatsApp Cloud "
				    "API, for demos and tests.";
	int args;
	struct timespec tick = { 0, 100 * 1000000L };
	struct simulator sim = { 0 };
	char err[512];
	int status = 1;

	if ((args = config_args(argc, argv, tables, about, stdout, stderr)) >=
	    0)
		return args;
	logger_init("simulator", LOG_LEVEL_INFO);
	sim.cfg = config_load(tables, err, sizeof(err));
	if (!sim.cfg) {
		log_error("CONF", "%s", err);
		return 2;
	}
	logger_init("simulator", logger_level_parse(config_str(
					 sim.cfg, "DUNNING_LOG_LEVEL")));
	clock_configure(sim.cfg);
	shutdown_install();
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (simulator_start(&sim, err, sizeof(err))) {
		log_error("SIM", "cannot start: %s", err);
		goto out;
	}
	printf("listening=127.0.0.1:%d\n", httpd_port(sim.server));
	fflush(stdout);
	log_info("SIM", "cloud api simulator ready port=%d",
		 httpd_port(sim.server));
	while (!shutdown_requested())
		nanosleep(&tick, NULL);
	log_info("SIM", "simulator stopping");
	status = 0;

out:
	simulator_stop(&sim);
	curl_global_cleanup();
	return status;
}
