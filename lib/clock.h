/* clock.h: the one clock every process reads the current time through. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real, or simulated: a simulated clock reads START at the real instant
 * ANCHOR and advances SPEED simulated milliseconds per real millisecond.
 * Processes given the same three values agree on the time, so a quarter of
 * history can replay in minutes across broker, worker, gateway and
 * simulator. Instants are UTC milliseconds since the Unix epoch.
 *
 * The clock is process-wide state, set once at start-up before threads are
 * started; reading it is then safe from any thread.
 */
#ifndef DUNNING_CLOCK_H
#define DUNNING_CLOCK_H

#include <stdint.h>

struct config;

/* Real time. The default until clock_configure is called. */
void clock_use_real(void);

/* Simulated time reading start_ms at real instant anchor_ms, speed >= 1. */
void clock_use_simulated(int64_t start_ms, int64_t anchor_ms, int64_t speed);

/* Applies DUNNING_CLOCK, DUNNING_CLOCK_START, _ANCHOR and _SPEED. */
void clock_configure(const struct config *cfg);

/* Current instant on the product's clock. */
int64_t clock_now_ms(void);

/* Current real instant, whatever the product's clock is. */
int64_t clock_real_now_ms(void);

/* Real milliseconds until the product's clock reaches instant; 0 if it
 * already has. */
int64_t clock_real_delay_ms(int64_t instant_ms);

/* Simulated milliseconds per real millisecond (1 for the real clock). */
int64_t clock_speed(void);

#endif
