/* pacing.c: how fast the gateway may send, per sender and per recipient. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "pacing.h"

#include <stdlib.h>
#include <string.h>

#define SENDER_ID_MAX 64
#define RECIPIENT_MAX 40
/* Tokens are counted in millitokens so that integer arithmetic suffices. */
#define MILLI 1000

struct bucket {
	char sender[SENDER_ID_MAX];
	int64_t rate;	      /* messages per second now */
	int64_t millitokens;  /* tokens available * MILLI */
	int64_t updated_ms;   /* last refill */
	int64_t recovered_ms; /* last rate increase or cut */
};

struct pair {
	char recipient[RECIPIENT_MAX];
	int64_t next_ms; /* earliest next message */
	int used;
};

struct pacing {
	int64_t mps;
	bool use_bucket;
	int64_t pair_spacing_ms;
	struct bucket buckets[PACING_SENDERS_MAX];
	int bucket_count;
	struct pair *pairs; /* open addressing, PACING_RECIPIENTS_MAX */
};

struct pacing *pacing_new(int64_t mps, bool bucket, int64_t pair_spacing_ms)
{
	struct pacing *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pairs = calloc(PACING_RECIPIENTS_MAX, sizeof(*p->pairs));
	if (!p->pairs) {
		free(p);
		return NULL;
	}
	p->mps = mps > 0 ? mps : 1;
	p->use_bucket = bucket;
	p->pair_spacing_ms = pair_spacing_ms;
	return p;
}

void pacing_free(struct pacing *p)
{
	if (!p)
		return;
	free(p->pairs);
	free(p);
}

static int64_t burst_millitokens(int64_t rate)
{
	int64_t burst = rate / 20;

	return (burst < 1 ? 1 : burst) * MILLI;
}

static struct bucket *bucket_find(struct pacing *p, const char *sender,
				  int64_t now_ms)
{
	struct bucket *b;
	int i;

	for (i = 0; i < p->bucket_count; i++)
		if (strcmp(p->buckets[i].sender, sender) == 0)
			return &p->buckets[i];
	if (p->bucket_count == PACING_SENDERS_MAX)
		return &p->buckets[0]; /* more senders than configured: share */
	b = &p->buckets[p->bucket_count++];
	memset(b, 0, sizeof(*b));
	strncpy(b->sender, sender, sizeof(b->sender) - 1);
	b->rate = p->mps;
	b->millitokens = burst_millitokens(b->rate);
	b->updated_ms = now_ms;
	b->recovered_ms = now_ms;
	return b;
}

/* Adds the tokens earned since the last refill and recovers the rate. */
static void bucket_refill(struct pacing *p, struct bucket *b, int64_t now_ms)
{
	int64_t elapsed = now_ms - b->updated_ms, cap;

	if (elapsed <= 0)
		return;
	while (b->rate < p->mps && now_ms - b->recovered_ms >= 1000) {
		int64_t step = p->mps / 10 > 0 ? p->mps / 10 : 1;

		b->rate = b->rate + step > p->mps ? p->mps : b->rate + step;
		b->recovered_ms += 1000;
	}
	cap = burst_millitokens(b->rate);
	b->millitokens += elapsed * b->rate; /* rate tokens/s = rate mt/ms */
	if (b->millitokens > cap)
		b->millitokens = cap;
	b->updated_ms = now_ms;
}

static uint64_t hash_text(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * The recipient's slot: the matching entry, or a free one, or the one
 * whose spacing ended longest ago among the next eight probes.
 */
static struct pair *pair_find(struct pacing *p, const char *recipient)
{
	size_t start = hash_text(recipient) % PACING_RECIPIENTS_MAX, i;
	struct pair *oldest = NULL;

	for (i = 0; i < 8; i++) {
		struct pair *slot =
			&p->pairs[(start + i) % PACING_RECIPIENTS_MAX];

		if (slot->used &&
		    strncmp(slot->recipient, recipient, RECIPIENT_MAX - 1) == 0)
			return slot;
		if (!slot->used)
			return slot;
		if (!oldest || slot->next_ms < oldest->next_ms)
			oldest = slot;
	}
	oldest->used = 0;
	return oldest;
}

static void pair_take(struct pair *slot, const char *recipient, int64_t next_ms)
{
	if (!slot->used) {
		memset(slot->recipient, 0, sizeof(slot->recipient));
		strncpy(slot->recipient, recipient, RECIPIENT_MAX - 1);
		slot->used = 1;
	}
	slot->next_ms = next_ms;
}

int64_t pacing_reserve(struct pacing *p, const char *sender,
		       const char *recipient, int64_t now_ms)
{
	struct pair *slot = NULL;
	struct bucket *b = NULL;

	/* The person first: waiting for them must not spend a token. */
	if (p->pair_spacing_ms > 0) {
		slot = pair_find(p, recipient);
		if (slot->used && slot->next_ms > now_ms)
			return slot->next_ms - now_ms;
	}
	if (p->use_bucket) {
		b = bucket_find(p, sender, now_ms);
		bucket_refill(p, b, now_ms);
		if (b->millitokens < MILLI)
			return (MILLI - b->millitokens + b->rate - 1) / b->rate;
		b->millitokens -= MILLI;
	}
	if (slot)
		pair_take(slot, recipient, now_ms + p->pair_spacing_ms);
	return 0;
}

int64_t pacing_sender_wait(struct pacing *p, const char *sender, int64_t now_ms)
{
	struct bucket *b;

	if (!p->use_bucket)
		return 0;
	b = bucket_find(p, sender, now_ms);
	bucket_refill(p, b, now_ms);
	if (b->millitokens >= MILLI)
		return 0;
	return (MILLI - b->millitokens + b->rate - 1) / b->rate;
}

void pacing_throttled(struct pacing *p, const char *sender, int64_t now_ms)
{
	struct bucket *b = bucket_find(p, sender, now_ms);

	bucket_refill(p, b, now_ms);
	b->rate = b->rate / 2 > 0 ? b->rate / 2 : 1;
	b->millitokens = 0;
	b->recovered_ms = now_ms;
}

void pacing_pair_limited(struct pacing *p, const char *recipient,
			 int64_t now_ms)
{
	int64_t spacing = p->pair_spacing_ms > 0 ? p->pair_spacing_ms : 6000;

	pair_take(pair_find(p, recipient), recipient, now_ms + spacing);
}

int64_t pacing_rate(const struct pacing *p, const char *sender)
{
	int i;

	for (i = 0; i < p->bucket_count; i++)
		if (strcmp(p->buckets[i].sender, sender) == 0)
			return p->buckets[i].rate;
	return p->mps;
}

int64_t pacing_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms,
			  unsigned random)
{
	int64_t delay = base_ms;
	int i;

	for (i = 1; i < attempt && delay < max_ms; i++)
		delay *= 2;
	if (delay > max_ms)
		delay = max_ms;
	return delay / 2 + (delay / 2) * (int64_t)(random % 1024) / 1023;
}
