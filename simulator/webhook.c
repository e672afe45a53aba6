/* webhook.c: the webhook thread, its timed queue and libcurl calls. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "webhook.h"

#include "clock.h"
#include "error.h"
#include "logger.h"
#include "payload.h"
#include "rng.h"
#include "signature.h"
#include "stats.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WEBHOOK_BATCH_MAX	 10
#define WEBHOOK_BACKOFF_FIRST_MS 200
#define WEBHOOK_BACKOFF_MAX_MS	 5000

struct webhook_item {
	int64_t due_ms; /* product time */
	uint64_t seq;	/* ties keep queueing order */
	int is_status;
	int attempts;
	int64_t first_attempt_ms; /* real; 0 before the first attempt */
	struct payload_sender sender;
	union {
		struct payload_status status;
		struct payload_inbound inbound;
	} u;
};

struct webhook {
	char *url, *secret, *waba_id;
	struct webhook_config cfg;
	struct stats *stats;
	CURL *curl; /* used by the thread only */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t wake;
	struct webhook_item **heap;
	size_t count, capacity;
	uint64_t next_seq;
	struct rng rng;
	int stop;
	pthread_t thread;
};

/* ---------------------------------------------------------------------- */
/* The queue: a binary min-heap on (due_ms, seq).                          */

static int item_before(const struct webhook_item *a,
		       const struct webhook_item *b)
{
	return a->due_ms < b->due_ms ||
	       (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void heap_swap(struct webhook *w, size_t i, size_t j)
{
	struct webhook_item *t = w->heap[i];

	w->heap[i] = w->heap[j];
	w->heap[j] = t;
}

static int heap_push(struct webhook *w, struct webhook_item *item)
{
	size_t i;

	if (w->count == WEBHOOK_QUEUE_MAX)
		return DN_ERR_TOO_LARGE;
	if (w->count == w->capacity) {
		size_t cap = w->capacity ? w->capacity * 2 : 256;
		struct webhook_item **grown =
			realloc(w->heap, cap * sizeof(*grown));

		if (!grown)
			return DN_ERR_NOMEM;
		w->heap = grown;
		w->capacity = cap;
	}
	item->seq = w->next_seq++;
	i = w->count++;
	w->heap[i] = item;
	while (i > 0 && item_before(w->heap[i], w->heap[(i - 1) / 2])) {
		heap_swap(w, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return DN_OK;
}

static struct webhook_item *heap_pop(struct webhook *w)
{
	struct webhook_item *top = w->heap[0];
	size_t i = 0;

	w->heap[0] = w->heap[--w->count];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < w->count && item_before(w->heap[l], w->heap[m]))
			m = l;
		if (r < w->count && item_before(w->heap[r], w->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(w, i, m);
		i = m;
	}
	return top;
}

/* Takes ownership of item; frees it when it cannot be queued. */
static int queue_item(struct webhook *w, struct webhook_item *item)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = heap_push(w, item);
	if (!rc)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (rc)
		free(item);
	return rc;
}

int webhook_queue_status(struct webhook *w, const struct payload_sender *sender,
			 const struct payload_status *status)
{
	struct webhook_item *item = calloc(1, sizeof(*item));
	struct webhook_item *copy;
	int duplicate, rc;

	if (!item)
		return DN_ERR_NOMEM;
	item->is_status = 1;
	item->sender = *sender;
	item->u.status = *status;
	item->due_ms = status->at_ms;
	pthread_mutex_lock(&w->lock);
	duplicate = rng_permille(&w->rng, w->cfg.duplicate_permille);
	pthread_mutex_unlock(&w->lock);
	rc = queue_item(w, item);
	if (rc || !duplicate)
		return rc;

	/* Meta delivers at least once: sometimes the same status again. */
	copy = calloc(1, sizeof(*copy));
	if (!copy)
		return DN_ERR_NOMEM;
	copy->is_status = 1;
	copy->sender = *sender;
	copy->u.status = *status;
	copy->due_ms = status->at_ms + w->cfg.duplicate_delay_ms;
	return queue_item(w, copy);
}

int webhook_queue_inbound(struct webhook *w,
			  const struct payload_sender *sender,
			  const struct payload_inbound *msg)
{
	struct webhook_item *item = calloc(1, sizeof(*item));

	if (!item)
		return DN_ERR_NOMEM;
	item->sender = *sender;
	item->u.inbound = *msg;
	item->due_ms = msg->at_ms;
	return queue_item(w, item);
}

size_t webhook_pending(struct webhook *w)
{
	size_t n;

	pthread_mutex_lock(&w->lock);
	n = w->count;
	pthread_mutex_unlock(&w->lock);
	return n;
}

/* ---------------------------------------------------------------------- */
/* Calls                                                                   */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *ctx)
{
	(void)ptr;
	(void)ctx;
	return size * nmemb;
}

/* Posts body signed; returns 0 when answered 2xx. Webhook thread only. */
static int post_signed(struct webhook *w, const char *body)
{
	char header[SIGNATURE_HEADER_LEN + 32];
	char signature[SIGNATURE_HEADER_LEN];
	struct curl_slist *headers = NULL;
	long status = 0;
	CURLcode rc;

	if (!w->url[0])
		return DN_OK;
	if (signature_header(w->secret, body, strlen(body), signature,
			     sizeof(signature)))
		return DN_ERR_INVALID;
	snprintf(header, sizeof(header), "X-Hub-Signature-256: %s", signature);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, header);
	curl_easy_setopt(w->curl, CURLOPT_URL, w->url);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard_body);
	rc = curl_easy_perform(w->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK) {
		log_debug("WA", "webhook call failed: %s",
			  curl_easy_strerror(rc));
		return DN_ERR_HTTP;
	}
	return status >= 200 && status < 300 ? DN_OK : DN_ERR_HTTP;
}

static char *render_batch(struct webhook *w, struct webhook_item **batch,
			  size_t n)
{
	struct payload_status statuses[WEBHOOK_BATCH_MAX];
	size_t i;

	if (!batch[0]->is_status)
		return payload_inbound(w->waba_id, &batch[0]->sender,
				       &batch[0]->u.inbound);
	for (i = 0; i < n; i++)
		statuses[i] = batch[i]->u.status;
	return payload_statuses(w->waba_id, &batch[0]->sender, statuses, n);
}

/* Puts a failed call back with back-off, or drops it past give_up_ms. */
static void retry_or_drop(struct webhook *w, struct webhook_item *item)
{
	int64_t now = clock_real_now_ms();
	int64_t backoff = WEBHOOK_BACKOFF_FIRST_MS;
	int i;

	if (!item->first_attempt_ms)
		item->first_attempt_ms = now;
	item->attempts++;
	if (now - item->first_attempt_ms > w->cfg.give_up_ms) {
		stats_add(w->stats, STATS_WEBHOOKS_DROPPED, 1);
		log_warn("WA", "webhook call dropped after %d attempts",
			 item->attempts);
		free(item);
		return;
	}
	for (i = 1; i < item->attempts && backoff < WEBHOOK_BACKOFF_MAX_MS; i++)
		backoff *= 2;
	if (backoff > WEBHOOK_BACKOFF_MAX_MS)
		backoff = WEBHOOK_BACKOFF_MAX_MS;
	item->due_ms = clock_now_ms() + backoff * clock_speed();
	pthread_mutex_lock(&w->lock);
	if (heap_push(w, item)) {
		stats_add(w->stats, STATS_WEBHOOKS_DROPPED, 1);
		free(item);
	}
	pthread_mutex_unlock(&w->lock);
}

/* Makes one call for batch and accounts for it. Webhook thread only. */
static void deliver(struct webhook *w, struct webhook_item **batch, size_t n)
{
	char *body = render_batch(w, batch, n);
	size_t i;

	if (body && post_signed(w, body) == DN_OK) {
		stats_add(w->stats, STATS_WEBHOOKS_SENT, 1);
		if (batch[0]->is_status)
			stats_add(w->stats, STATS_STATUSES_SENT, (int64_t)n);
		for (i = 0; i < n; i++)
			free(batch[i]);
	} else {
		stats_add(w->stats, STATS_WEBHOOKS_FAILED, 1);
		for (i = 0; i < n; i++)
			retry_or_drop(w, batch[i]);
	}
	free(body);
}

/* ---------------------------------------------------------------------- */
/* The thread                                                              */

/* Waits on the condition for at most ms real milliseconds. */
static void wait_ms(struct webhook *w, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&w->wake, &w->lock, &ts);
}

/* Pops the due head and, when batching, more due statuses of the same
 * business number. Called with the lock held; 0 when nothing is due. */
static size_t take_due(struct webhook *w, struct webhook_item **batch)
{
	int64_t now = clock_now_ms();
	size_t n = 0;
	int batching;

	if (!w->count || w->heap[0]->due_ms > now)
		return 0;
	batch[n++] = heap_pop(w);
	if (!batch[0]->is_status)
		return n;
	batching = rng_permille(&w->rng, w->cfg.batch_permille);
	while (batching && n < WEBHOOK_BATCH_MAX && w->count &&
	       w->heap[0]->due_ms <= now && w->heap[0]->is_status &&
	       strcmp(w->heap[0]->sender.phone_number_id,
		      batch[0]->sender.phone_number_id) == 0)
		batch[n++] = heap_pop(w);
	return n;
}

static void *webhook_thread(void *arg)
{
	struct webhook *w = arg;
	struct webhook_item *batch[WEBHOOK_BATCH_MAX];
	size_t n;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		n = take_due(w, batch);
		if (n) {
			pthread_mutex_unlock(&w->lock);
			deliver(w, batch, n);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		if (!w->count) {
			pthread_cond_wait(&w->wake, &w->lock);
			continue;
		}
		n = (size_t)clock_real_delay_ms(w->heap[0]->due_ms);
		wait_ms(w, n < 1 ? 1 : n > 1000 ? 1000 : (int64_t)n);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

struct webhook *webhook_new(const struct webhook_config *cfg,
			    struct stats *stats, char *err, size_t errlen)
{
	struct webhook *w = calloc(1, sizeof(*w));

	if (!w)
		goto nomem;
	w->cfg = *cfg;
	w->stats = stats;
	w->url = dup_or_empty(cfg->url);
	w->secret = dup_or_empty(cfg->app_secret);
	w->waba_id = dup_or_empty(cfg->waba_id);
	w->curl = curl_easy_init();
	if (!w->url || !w->secret || !w->waba_id || !w->curl)
		goto nomem;
	rng_init(&w->rng, cfg->seed ^ 0x77656268ULL);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, webhook_thread, w)) {
		dn_fail(DN_ERR_IO, err, errlen,
			"cannot start the webhook thread: %s", strerror(errno));
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		goto fail;
	}
	return w;

nomem:
	dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
fail:
	if (w) {
		if (w->curl)
			curl_easy_cleanup(w->curl);
		free(w->url);
		free(w->secret);
		free(w->waba_id);
	}
	free(w);
	return NULL;
}

void webhook_free(struct webhook *w)
{
	size_t i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (i = 0; i < w->count; i++)
		free(w->heap[i]);
	free(w->heap);
	curl_easy_cleanup(w->curl);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	free(w->url);
	free(w->secret);
	free(w->waba_id);
	free(w);
}
