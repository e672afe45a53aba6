/* progress.c: a throttled progress line on stderr when it is a terminal. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "progress.h"

#include "clock.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_MS 200

void progress_init(struct progress *p, bool want)
{
	p->enabled = want && isatty(STDERR_FILENO);
	p->started_ms = clock_real_now_ms();
	p->drawn_ms = p->started_ms; /* first line after one interval */
	p->drawn = false;
}

static bool progress_due(struct progress *p, int64_t *now)
{
	if (!p->enabled)
		return false;
	*now = clock_real_now_ms();
	if (*now - p->drawn_ms < PROGRESS_INTERVAL_MS)
		return false;
	p->drawn_ms = *now;
	p->drawn = true;
	return true;
}

void progress_update(struct progress *p, uint64_t rows, long long done,
		     long long total)
{
	int64_t now, elapsed, left = -1;
	uint64_t rate;
	int percent = 0;

	if (!progress_due(p, &now))
		return;
	elapsed = now - p->started_ms;
	rate = elapsed > 0 ? rows * 1000 / (uint64_t)elapsed : 0;

	/* Time left from the bytes still to read at the rate so far. */
	if (total > 0 && done > 0) {
		percent = (int)(done * 100 / total);
		left = (int64_t)((total - done) * elapsed / done / 1000);
	}
	if (left >= 0)
		fprintf(stderr, "\r%3d%% %llu rows %llu rows/s %lld s left   ",
			percent, (unsigned long long)rows,
			(unsigned long long)rate, (long long)left);
	else
		fprintf(stderr, "\r%llu rows %llu rows/s   ",
			(unsigned long long)rows, (unsigned long long)rate);
}

void progress_replay(struct progress *p, uint64_t published, uint64_t total,
		     int64_t clock_ms)
{
	int64_t now;
	time_t secs = (time_t)(clock_ms / 1000);
	struct tm tm;
	char when[32];

	if (!progress_due(p, &now))
		return;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	fprintf(stderr, "\rreplay %llu/%llu events, clock %s UTC   ",
		(unsigned long long)published, (unsigned long long)total, when);
}

void progress_release(struct progress *p)
{
	if (p->drawn)
		fprintf(stderr, "\r%60s\r", "");
	p->drawn = false;
}
