/* metrics.h: counters and gauges rendered as Prometheus text. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A registry holds up to METRICS_MAX series. A series is a metric name plus
 * a label set written as Prometheus label text ("reason=\"paid\"", or "" for
 * none). Looking up a series creates it on first use; the pointer returned
 * stays valid until the registry is freed, so hot paths look it up once.
 * Updates are atomic and safe from any thread, including librdkafka's and
 * the HTTP server's.
 */
#ifndef DUNNING_METRICS_H
#define DUNNING_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Room for the lag series of two topics of 1024 partitions (the most a
 * topic may have, and a member keeps those of every partition it ever
 * owned) beside the program's own series. */
#define METRICS_MAX 4096

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE };

struct metrics;
struct metric;

/* Caller frees with metrics_free. */
struct metrics *metrics_new(void);
/* Frees m and every series; accepts NULL. No thread may still use it. */
void metrics_free(struct metrics *m);

/*
 * Returns the series name{labels}, creating it with help text on first use.
 * labels may be NULL. Returns NULL only when the registry is full or out of
 * memory; the update functions accept NULL and do nothing then.
 */
struct metric *metrics_series(struct metrics *m, enum metric_kind kind,
			      const char *name, const char *help,
			      const char *labels);

void metric_add(struct metric *s, int64_t delta);
void metric_set(struct metric *s, int64_t value);
int64_t metric_value(const struct metric *s);

/* Shorthands: find-or-create then update. */
void metrics_inc(struct metrics *m, const char *name, const char *help,
		 const char *labels, int64_t delta);
void metrics_set(struct metrics *m, const char *name, const char *help,
		 const char *labels, int64_t value);

/* Renders all series; returns a string the caller frees, or NULL. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
