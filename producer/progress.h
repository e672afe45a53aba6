/* progress.h: a progress line on a terminal: rows per second, time left. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drawn on stderr only when stderr is a terminal, at most five times a
 * second; silent when piped, so logs and scripts never see it.
 */
#ifndef DUNNING_PRODUCER_PROGRESS_H
#define DUNNING_PRODUCER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	bool enabled;
	int64_t started_ms, drawn_ms;
	bool drawn;
};

/* Starts measuring; enabled only if want and stderr is a terminal. */
void progress_init(struct progress *p, bool want);

/* Redraws if due: rows so far, bytes done of total (total 0 if unknown). */
void progress_update(struct progress *p, uint64_t rows, long long done,
		     long long total);

/* Same line, for a replay: events published of total, simulated time. */
void progress_replay(struct progress *p, uint64_t published, uint64_t total,
		     int64_t clock_ms);

/* Clears the line if one was drawn. */
void progress_release(struct progress *p);

#endif
