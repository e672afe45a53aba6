/* metrics.c: a small fixed-size metrics registry. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metric {
	char *name;
	char *help;
	char *labels;
	enum metric_kind kind;
	_Atomic int64_t value;
};

struct metrics {
	pthread_mutex_t lock;
	struct metric series[METRICS_MAX];
	_Atomic size_t count;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->lock, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->count; i++) {
		free(m->series[i].name);
		free(m->series[i].help);
		free(m->series[i].labels);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct metric *series_find(struct metrics *m, const char *name,
				  const char *labels)
{
	size_t i, n = atomic_load(&m->count);

	for (i = 0; i < n; i++)
		if (strcmp(m->series[i].name, name) == 0 &&
		    strcmp(m->series[i].labels, labels) == 0)
			return &m->series[i];
	return NULL;
}

struct metric *metrics_series(struct metrics *m, enum metric_kind kind,
			      const char *name, const char *help,
			      const char *labels)
{
	struct metric *s;

	if (!m)
		return NULL;
	if (!labels)
		labels = "";
	s = series_find(m, name, labels);
	if (s)
		return s;

	/* Creation is rare: serialise it, then publish by the count. */
	pthread_mutex_lock(&m->lock);
	s = series_find(m, name, labels);
	if (!s && m->count < METRICS_MAX) {
		s = &m->series[m->count];
		s->name = strdup(name);
		s->help = strdup(help ? help : "");
		s->labels = strdup(labels);
		s->kind = kind;
		atomic_store(&s->value, 0);
		if (!s->name || !s->help || !s->labels) {
			free(s->name);
			free(s->help);
			free(s->labels);
			memset(s, 0, sizeof(*s));
			s = NULL;
		} else {
			atomic_fetch_add(&m->count, 1);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return s;
}

void metric_add(struct metric *s, int64_t delta)
{
	if (s)
		atomic_fetch_add(&s->value, delta);
}

void metric_set(struct metric *s, int64_t value)
{
	if (s)
		atomic_store(&s->value, value);
}

int64_t metric_value(const struct metric *s)
{
	return s ? atomic_load(&((struct metric *)s)->value) : 0;
}

void metrics_inc(struct metrics *m, const char *name, const char *help,
		 const char *labels, int64_t delta)
{
	metric_add(metrics_series(m, METRIC_COUNTER, name, help, labels),
		   delta);
}

void metrics_set(struct metrics *m, const char *name, const char *help,
		 const char *labels, int64_t value)
{
	metric_set(metrics_series(m, METRIC_GAUGE, name, help, labels), value);
}

/* Whether an earlier series already printed the HELP and TYPE lines. */
static int header_printed(struct metrics *m, size_t upto)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (strcmp(m->series[i].name, m->series[upto].name) == 0)
			return 1;
	return 0;
}

char *metrics_render(struct metrics *m, size_t *len)
{
	size_t i, j, n = atomic_load(&m->count);
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);

	if (!out)
		return NULL;
	/* Group the series of one name together, as the format asks. */
	for (i = 0; i < n; i++) {
		if (header_printed(m, i))
			continue;
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->series[i].name,
			m->series[i].help, m->series[i].name,
			m->series[i].kind == METRIC_COUNTER ? "counter"
							    : "gauge");
		for (j = i; j < n; j++) {
			struct metric *s = &m->series[j];

			if (strcmp(s->name, m->series[i].name) != 0)
				continue;
			fprintf(out, "%s%s%s%s %" PRId64 "\n", s->name,
				s->labels[0] ? "{" : "", s->labels,
				s->labels[0] ? "}" : "", metric_value(s));
		}
	}
	fclose(out);
	if (len)
		*len = size;
	return buf;
}
