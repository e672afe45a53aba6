/* settings.h: the simulator's configuration keys and what they become. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every DUNNING_SIM_* key, with its default and bounds, lives in
 * settings_keys (documented in docs/configuration.md, section
 * "Cloud API simulator"). The fill functions translate a loaded config
 * into the structs the modules take; strings stay borrowed from cfg.
 */
#ifndef DUNNING_SIM_SETTINGS_H
#define DUNNING_SIM_SETTINGS_H

#include "config.h"

struct api_config;
struct customers_config;
struct webhook_config;

extern const struct config_key settings_keys[];

void settings_api(const struct config *cfg, struct api_config *out);
void settings_webhook(const struct config *cfg, struct webhook_config *out);

/* Call after clock_configure: the default grace depends on the speed. */
void settings_customers(const struct config *cfg, struct customers_config *out);

#endif
