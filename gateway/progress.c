/* progress.c: store a partition's offsets only past finished commands. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "progress.h"

#include "kafka.h"

#include <stdlib.h>
#include <string.h>

#define TOPIC_MAX 256

struct progress_entry {
	rd_kafka_message_t *msg;
	struct partition_queue *queue;
	unsigned generation;
	int done;
	struct progress_entry *next;
};

struct partition_queue {
	char topic[TOPIC_MAX];
	int32_t partition;
	unsigned generation;
	struct progress_entry *head, *tail;
	struct partition_queue *next;
};

struct progress {
	struct kafka_consumer *consumer;
	struct partition_queue *queues;
	size_t pending;
	uint64_t stored;
};

struct progress *progress_new(struct kafka_consumer *consumer)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (p)
		p->consumer = consumer;
	return p;
}

void progress_free(struct progress *p)
{
	struct partition_queue *q, *next_q;
	struct progress_entry *e, *next_e;

	if (!p)
		return;
	for (q = p->queues; q; q = next_q) {
		next_q = q->next;
		for (e = q->head; e; e = next_e) {
			next_e = e->next;
			kafka_message_free(e->msg);
			free(e);
		}
		free(q);
	}
	free(p);
}

static struct partition_queue *queue_find(struct progress *p, const char *topic,
					  int32_t partition, int create)
{
	struct partition_queue *q;

	for (q = p->queues; q; q = q->next)
		if (q->partition == partition && strcmp(q->topic, topic) == 0)
			return q;
	if (!create || !(q = calloc(1, sizeof(*q))))
		return NULL;
	strncpy(q->topic, topic, sizeof(q->topic) - 1);
	q->partition = partition;
	q->next = p->queues;
	p->queues = q;
	return q;
}

struct progress_entry *progress_add(struct progress *p, rd_kafka_message_t *msg)
{
	struct partition_queue *q = queue_find(p, kafka_message_topic(msg),
					       kafka_message_partition(msg), 1);
	struct progress_entry *e;

	if (!q || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->msg = msg;
	e->queue = q;
	e->generation = q->generation;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	p->pending++;
	return e;
}

const rd_kafka_message_t *progress_message(const struct progress_entry *e)
{
	return e->msg;
}

void progress_done(struct progress *p, struct progress_entry *e)
{
	struct partition_queue *q = e->queue;

	e->done = 1;
	while (q->head && q->head->done) {
		struct progress_entry *head = q->head;

		q->head = head->next;
		if (!q->head)
			q->tail = NULL;
		if (head->generation == q->generation && p->consumer) {
			kafka_consumer_store(p->consumer, head->msg);
			p->stored++;
		}
		kafka_message_free(head->msg);
		free(head);
		p->pending--;
	}
}

void progress_revoke(struct progress *p, const char *topic, int32_t partition)
{
	struct partition_queue *q = queue_find(p, topic, partition, 0);

	if (q)
		q->generation++;
}

size_t progress_pending(const struct progress *p)
{
	return p->pending;
}

uint64_t progress_stored(const struct progress *p)
{
	return p->stored;
}
