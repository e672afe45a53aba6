/* stats.c: atomic counters and their JSON. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "stats.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATS_KEYED_MAX 32

struct stats_keyed {
	char key[64];
	int64_t count;
};

struct stats {
	_Atomic int64_t counters[STATS_COUNTER_COUNT];
	pthread_mutex_t lock; /* guards the keyed tables */
	struct stats_keyed by_code[STATS_KEYED_MAX];
	struct stats_keyed by_template[STATS_KEYED_MAX];
};

static const char *const stats_names[STATS_COUNTER_COUNT] = {
	[STATS_MESSAGES_ACCEPTED] = "messages_accepted",
	[STATS_MESSAGES_REJECTED] = "messages_rejected",
	[STATS_RATE_LIMITED] = "rate_limited",
	[STATS_TOKEN_REJECTED] = "token_rejected",
	[STATS_INJECTED_ERRORS] = "injected_errors",
	[STATS_SLOW_ANSWERS] = "slow_answers",
	[STATS_DUPLICATES_RECEIVED] = "duplicates_received",
	[STATS_WEBHOOKS_SENT] = "webhooks_sent",
	[STATS_WEBHOOKS_FAILED] = "webhooks_failed",
	[STATS_WEBHOOKS_DROPPED] = "webhooks_dropped",
	[STATS_STATUSES_SENT] = "statuses_sent",
	[STATS_STATUSES_FAILED] = "statuses_failed",
	[STATS_READS] = "reads",
	[STATS_REPLIES_SENT] = "replies_sent",
	[STATS_OPT_OUTS] = "opt_outs",
	[STATS_PAYMENTS_MADE] = "payments_made",
	[STATS_SENT_AFTER_PAID] = "sent_after_paid",
	[STATS_SENT_AFTER_OPT_OUT] = "sent_after_opt_out",
	[STATS_SENT_WITHOUT_OPT_IN] = "sent_without_opt_in",
	[STATS_LEDGER_EVENTS] = "ledger_events",
	[STATS_UNKNOWN_INVOICES] = "unknown_invoices",
};

struct stats *stats_new(void)
{
	struct stats *st = calloc(1, sizeof(*st));

	if (st)
		pthread_mutex_init(&st->lock, NULL);
	return st;
}

void stats_free(struct stats *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st);
}

void stats_add(struct stats *st, enum stats_counter counter, int64_t delta)
{
	atomic_fetch_add(&st->counters[counter], delta);
}

int64_t stats_get(const struct stats *st, enum stats_counter counter)
{
	return atomic_load(&((struct stats *)st)->counters[counter]);
}

const char *stats_counter_name(enum stats_counter counter)
{
	return stats_names[counter];
}

/* Adds one to key's slot; keys past the table's size are not counted. */
static void keyed_inc(struct stats *st, struct stats_keyed *table,
		      const char *key)
{
	size_t i;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < STATS_KEYED_MAX; i++) {
		if (!table[i].key[0])
			snprintf(table[i].key, sizeof(table[i].key), "%s", key);
		if (strcmp(table[i].key, key) == 0) {
			table[i].count++;
			break;
		}
	}
	pthread_mutex_unlock(&st->lock);
}

void stats_rejected_code(struct stats *st, int code)
{
	char key[16];

	snprintf(key, sizeof(key), "%d", code);
	keyed_inc(st, st->by_code, key);
}

void stats_accepted_template(struct stats *st, const char *name)
{
	keyed_inc(st, st->by_template, name);
}

static json_t *keyed_json(struct stats *st, const struct stats_keyed *table)
{
	json_t *obj = json_object();
	size_t i;

	pthread_mutex_lock(&st->lock);
	for (i = 0; obj && i < STATS_KEYED_MAX && table[i].key[0]; i++)
		json_object_set_new(obj, table[i].key,
				    json_integer(table[i].count));
	pthread_mutex_unlock(&st->lock);
	return obj;
}

char *stats_render(struct stats *st)
{
	json_t *root = json_object();
	char *text;
	int i;

	if (!root)
		return NULL;
	for (i = 0; i < STATS_COUNTER_COUNT; i++)
		json_object_set_new(root, stats_names[i],
				    json_integer(stats_get(st, i)));
	json_object_set_new(root, "rejected_by_code",
			    keyed_json(st, st->by_code));
	json_object_set_new(root, "accepted_by_template",
			    keyed_json(st, st->by_template));
	text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}
