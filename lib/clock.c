/* clock.c: real or simulated time. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "clock.h"

#include "config.h"

#include <string.h>
#include <time.h>

static int64_t sim_start_ms;
static int64_t sim_anchor_ms;
static int64_t sim_speed = 1;
static int simulated;

int64_t clock_real_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_use_real(void)
{
	simulated = 0;
	sim_speed = 1;
}

void clock_use_simulated(int64_t start_ms, int64_t anchor_ms, int64_t speed)
{
	sim_start_ms = start_ms;
	sim_anchor_ms = anchor_ms;
	sim_speed = speed < 1 ? 1 : speed;
	simulated = 1;
}

void clock_configure(const struct config *cfg)
{
	if (strcmp(config_str(cfg, "DUNNING_CLOCK"), "simulated") != 0) {
		clock_use_real();
		return;
	}
	clock_use_simulated(config_instant_ms(cfg, "DUNNING_CLOCK_START"),
			    config_instant_ms(cfg, "DUNNING_CLOCK_ANCHOR"),
			    config_int(cfg, "DUNNING_CLOCK_SPEED"));
}

int64_t clock_now_ms(void)
{
	int64_t real = clock_real_now_ms();

	if (!simulated)
		return real;
	return sim_start_ms + (real - sim_anchor_ms) * sim_speed;
}

int64_t clock_real_delay_ms(int64_t instant_ms)
{
	int64_t ahead = instant_ms - clock_now_ms();

	if (ahead <= 0)
		return 0;
	/* Round up so that waiting the delay never wakes before instant. */
	return (ahead + sim_speed - 1) / sim_speed;
}

int64_t clock_speed(void)
{
	return sim_speed;
}
