/* catchup.c: whether a newly owned partition's backlog is applied yet. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "catchup.h"

#include <pthread.h>
#include <stdlib.h>

struct slot {
	bool assigned;
	bool known; /* end was asked since the assignment */
	bool ready;
	uint64_t generation; /* bumped at every assignment change */
	int64_t end;
	int64_t applied_next; /* offset after the last applied message */
};

struct catchup {
	pthread_mutex_t lock;
	int topics;
	int32_t partitions;
	catchup_ask_fn ask;
	void *ctx;
	struct slot *slots;
};

struct catchup *catchup_new(int topics, int32_t partitions, catchup_ask_fn ask,
			    void *ctx)
{
	struct catchup *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->slots =
		calloc((size_t)topics * (size_t)partitions, sizeof(*c->slots));
	if (!c->slots) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->topics = topics;
	c->partitions = partitions;
	c->ask = ask;
	c->ctx = ctx;
	return c;
}

void catchup_free(struct catchup *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->slots);
	free(c);
}

/* The slot of topic/partition, or NULL when either is out of range. */
static struct slot *slot_of(struct catchup *c, int topic, int32_t partition)
{
	if (topic < 0 || topic >= c->topics || partition < 0 ||
	    partition >= c->partitions)
		return NULL;
	return &c->slots[(size_t)partition * (size_t)c->topics + (size_t)topic];
}

void catchup_assign(struct catchup *c, int topic, int32_t partition,
		    bool assigned)
{
	struct slot *s = slot_of(c, topic, partition);

	if (!s)
		return;
	pthread_mutex_lock(&c->lock);
	s->assigned = assigned;
	s->known = s->ready = false;
	s->generation++;
	s->end = s->applied_next = 0;
	pthread_mutex_unlock(&c->lock);
}

void catchup_applied(struct catchup *c, int topic, int32_t partition,
		     int64_t offset)
{
	struct slot *s = slot_of(c, topic, partition);

	if (!s)
		return;
	pthread_mutex_lock(&c->lock);
	if (offset + 1 > s->applied_next)
		s->applied_next = offset + 1;
	if (s->known && s->applied_next >= s->end)
		s->ready = true;
	pthread_mutex_unlock(&c->lock);
}

/* Learns the end of s (topic/partition) with the lock released for the
 * ask; called and returns with the lock held. Returns 0, or the ask's
 * error. An answer for an assignment changed meanwhile is dropped. */
static int learn_end(struct catchup *c, struct slot *s, int topic,
		     int32_t partition, char *err, size_t errlen)
{
	uint64_t generation = s->generation;
	int64_t from = 0, end = 0;
	int rc;

	pthread_mutex_unlock(&c->lock);
	rc = c->ask(c->ctx, topic, partition, &from, &end, err, errlen);
	pthread_mutex_lock(&c->lock);
	if (rc)
		return rc;
	if (s->generation != generation)
		return 0; /* the next call asks for the new one */
	s->known = true;
	s->end = end;
	s->ready = from >= end || s->applied_next >= end;
	return 0;
}

int catchup_prepare(struct catchup *c, int32_t partition, char *err,
		    size_t errlen)
{
	int t, rc = 0;

	if (partition < 0 || partition >= c->partitions)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (t = 0; t < c->topics && !rc; t++) {
		struct slot *s = slot_of(c, t, partition);

		if (s->assigned && !s->known)
			rc = learn_end(c, s, t, partition, err, errlen);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

bool catchup_ready(struct catchup *c, int32_t partition)
{
	bool any = false, all = true;
	int t;

	if (partition < 0 || partition >= c->partitions)
		return false;
	pthread_mutex_lock(&c->lock);
	for (t = 0; t < c->topics; t++) {
		struct slot *s = slot_of(c, t, partition);

		any = any || s->assigned;
		if (s->assigned && !s->ready)
			all = false;
	}
	pthread_mutex_unlock(&c->lock);
	return any && all;
}

size_t catchup_pending(struct catchup *c)
{
	size_t i, n = 0, count = (size_t)c->topics * (size_t)c->partitions;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < count; i++)
		n += c->slots[i].assigned && !c->slots[i].ready;
	pthread_mutex_unlock(&c->lock);
	return n;
}
