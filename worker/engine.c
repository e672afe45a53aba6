/* engine.c: consumer loop, timer loop, owned partitions, metrics. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine.h"

#include "apply.h"
#include "catchup.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "fire.h"
#include "format.h"
#include "httpd.h"
#include "kafka.h"
#include "logger.h"
#include "metrics.h"
#include "schedule.h"
#include "shutdown.h"
#include "store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENGINE_PARTITIONS_MAX	  1024
#define ENGINE_FLUSH_EVERY_MS	  50 /* apply at least this often */
#define ENGINE_UNHEALTHY_AFTER_MS 10000
#define ENGINE_ASK_TIMEOUT_MS	  5000 /* for a partition's backlog */

/* The topics read, as catchup topic indices. */
enum { ENGINE_INVOICES, ENGINE_MESSAGES, ENGINE_TOPICS };

const struct config_key engine_config_keys[] = {
	{ "DUNNING_WORKER_WORKFLOW", CONFIG_STRING, "deploy/workflow.yaml", 0,
	  0, NULL, false, false,
	  "workflow file (YAML) with the rules per tenant" },
	{ "DUNNING_WORKER_TEMPLATES", CONFIG_STRING,
	  "deploy/whatsapp-templates.json", 0, 0, NULL, false, false,
	  "template catalogue the workflow is checked against" },
	{ "DUNNING_WORKER_GROUP", CONFIG_STRING, "dunning-worker", 0, 0, NULL,
	  false, false, "consumer group of the workers" },
	{ "DUNNING_WORKER_HTTP_BIND", CONFIG_STRING, "127.0.0.1", 0, 0, NULL,
	  false, false, "address of /metrics and /healthz" },
	{ "DUNNING_WORKER_HTTP_PORT", CONFIG_INT, "8082", 0, 65535, NULL, false,
	  false, "port of /metrics and /healthz; 0 picks a free one" },
	{ "DUNNING_WORKER_LEASE_MS", CONFIG_INT, "30000", 200, 3600000, NULL,
	  false, false,
	  "real ms a claimed entry stays leased before another "
	  "worker may claim it again" },
	{ "DUNNING_WORKER_CLAIM_BATCH", CONFIG_INT, "512", 1, 1024, NULL, false,
	  false, "most delay-queue entries claimed per partition and call" },
	{ "DUNNING_WORKER_APPLY_BATCH", CONFIG_INT, "512", 1, 1024, NULL, false,
	  false, "most events applied per Redis pipeline" },
	{ "DUNNING_WORKER_TIMER_THREADS", CONFIG_INT, "4", 1, 16, NULL, false,
	  false,
	  "timer threads; each serves its share of the owned partitions "
	  "with its own Redis connection and producer" },
	{ "DUNNING_WORKER_POLL_MS", CONFIG_INT, "100", 5, 1000, NULL, false,
	  false, "most real ms the timer sleeps between looks at the queues" },
	CONFIG_KEY_END,
};

struct engine {
	const struct config *cfg;
	const struct workflow *wf;
	struct metrics *metrics;
	struct httpd *httpd;

	/* Consumer side: the caller's thread. */
	struct kafka_consumer *consumer;
	struct kafka_producer *dead_letters;
	struct store *apply_store;
	struct apply *apply;
	rd_kafka_message_t **pending; /* read, offsets not stored, in order */
	size_t n_pending, apply_batch;
	size_t n_flying; /* the first of them, sent to Redis */
	bool dead_lettered;

	/* Timer side: threads of their own. */
	struct timer *timers;
	size_t n_timers;
	_Atomic bool stop;
	int poll_ms;

	/* Owned partitions of invoice.events, guarded by lock. A rebalance
	 * that takes partitions away waits for every timer's round to end
	 * (timer.busy); revoking keeps timers from starting a new one. */
	pthread_mutex_t lock;
	bool owned[ENGINE_PARTITIONS_MAX];
	_Atomic bool revoking;

	/* A partition fires only once what was written to it before this
	 * worker got it is applied: invoice events and message events. */
	struct catchup *catchup;
	const char *topics[ENGINE_TOPICS]; /* names, by ENGINE_* index */

	_Atomic int64_t last_redis_error_ms;
	struct metric *owned_gauge;
	struct metric *catching_up_gauge;
};

/*
 * One timer thread: it serves the owned partitions p with
 * p % n_timers == index, with its own Redis connection and producer, so
 * that one thread's wait for the broker overlaps another's for Redis.
 */
struct timer {
	struct engine *e;
	size_t index;
	struct store *store;
	struct kafka_producer *sends;
	struct fire *fire;
	pthread_mutex_t busy; /* held for a round over the partitions */
	bool was_ready[ENGINE_PARTITIONS_MAX]; /* for the log on a change */
	pthread_t thread;
	bool started;
};

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (ms > 0)
		nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------- */
/* Consumer loop                                                            */

/* The ENGINE_* index of a topic name, or -1 for another topic. Runs for
 * every message applied: the names are looked up once, in engine_new. */
static int topic_index(const struct engine *e, const char *name)
{
	int t;

	for (t = 0; t < ENGINE_TOPICS; t++)
		if (strcmp(name, e->topics[t]) == 0)
			return t;
	return -1;
}

/* Stores the offsets of the first done pending messages, whose events
 * are applied, once the broker has every dead letter. */
static void pending_store(struct engine *e, size_t done)
{
	size_t i;

	if (done == 0)
		return;
	if (e->dead_lettered &&
	    kafka_producer_flush(e->dead_letters, 10000) != DN_OK)
		log_error("KAFKA", "dead letters not acknowledged in 10 s");
	e->dead_lettered = false;
	for (i = 0; i < done; i++) {
		rd_kafka_message_t *msg = e->pending[i];

		kafka_consumer_store(e->consumer, msg);
		catchup_applied(e->catchup,
				topic_index(e, kafka_message_topic(msg)),
				kafka_message_partition(msg),
				kafka_message_offset(msg));
		kafka_message_free(msg);
	}
	e->n_pending -= done;
	memmove(e->pending, e->pending + done,
		e->n_pending * sizeof(*e->pending));
	e->n_flying = e->n_flying > done ? e->n_flying - done : 0;
}

/* Applies every pending event, in flight or not, retrying while Redis is
 * away, then stores their offsets. Returns 0, or DN_ERR_UNAVAILABLE if
 * asked to stop first. */
static int pending_flush(struct engine *e)
{
	char err[512];
	int backoff = 50;

	while (apply_flush(e->apply, err, sizeof(err))) {
		atomic_store(&e->last_redis_error_ms, clock_real_now_ms());
		log_error("REDIS", "%s; retrying", err);
		if (shutdown_requested())
			return DN_ERR_UNAVAILABLE;
		sleep_ms(backoff);
		backoff = backoff < 1000 ? backoff * 2 : 1000;
	}
	pending_store(e, e->n_pending);
	e->n_flying = 0;
	return DN_OK;
}

/* Sends the events read since the last send to Redis and stores the
 * offsets of the batch sent before, now applied; the next batch is read
 * while Redis applies this one. On failure, falls back to pending_flush. */
static int pending_send(struct engine *e)
{
	char err[512];
	size_t done;

	if (apply_send(e->apply, &done, err, sizeof(err))) {
		atomic_store(&e->last_redis_error_ms, clock_real_now_ms());
		log_error("REDIS", "%s; retrying", err);
		return pending_flush(e);
	}
	pending_store(e, done);
	e->n_flying = e->n_pending;
	return DN_OK;
}

static void pending_add(struct engine *e, rd_kafka_message_t *msg)
{
	size_t before = apply_pending(e->apply);

	if (apply_add(e->apply, msg))
		log_error("KAFKA", "cannot dead-letter a bad message: it will "
				   "be read again after a restart");
	if (apply_pending(e->apply) == before)
		e->dead_lettered = true;
	e->pending[e->n_pending++] = msg;
}

/* Records an assignment (assigned) or a revocation of parts; returns the
 * number of invoice partitions owned after it. */
static size_t ownership_change(struct engine *e,
			       const struct kafka_partition *parts,
			       size_t count, bool assigned)
{
	size_t i, owned = 0;

	pthread_mutex_lock(&e->lock);
	for (i = 0; i < count; i++) {
		int t = topic_index(e, parts[i].topic);
		int32_t p = parts[i].partition;

		if (t < 0 || p < 0 || p >= ENGINE_PARTITIONS_MAX)
			continue;
		if (t == ENGINE_INVOICES)
			e->owned[p] = assigned;
		catchup_assign(e->catchup, t, p, assigned);
	}
	for (i = 0; i < ENGINE_PARTITIONS_MAX; i++)
		owned += e->owned[i];
	pthread_mutex_unlock(&e->lock);
	metric_set(e->catching_up_gauge, (int64_t)catchup_pending(e->catchup));
	return owned;
}

static void on_assigned(void *ctx, const struct kafka_partition *parts,
			size_t count)
{
	struct engine *e = ctx;

	metric_set(e->owned_gauge,
		   (int64_t)ownership_change(e, parts, count, true));
}

/* Runs inside kafka_consumer_poll: what was read is applied and stored
 * before the partitions go, and the timers let go of them. */
static void on_revoked(void *ctx, const struct kafka_partition *parts,
		       size_t count)
{
	struct engine *e = ctx;
	size_t i, owned;

	pending_flush(e);
	atomic_store(&e->revoking, true);
	owned = ownership_change(e, parts, count, false);

	/* A round that began before may still be firing them. */
	for (i = 0; i < e->n_timers; i++) {
		pthread_mutex_lock(&e->timers[i].busy);
		pthread_mutex_unlock(&e->timers[i].busy);
	}
	atomic_store(&e->revoking, false);
	metric_set(e->owned_gauge, (int64_t)owned);
}

/* catchup's question: where the group resumes and where topic ends. */
static int ask_backlog(void *ctx, int topic, int32_t partition, int64_t *from,
		       int64_t *end, char *err, size_t errlen)
{
	struct engine *e = ctx;

	return kafka_consumer_backlog(e->consumer, e->topics[topic], partition,
				      ENGINE_ASK_TIMEOUT_MS, from, end, err,
				      errlen);
}

/*
 * Reads messages into batches of up to apply_batch, sent when full, after
 * ENGINE_FLUSH_EVERY_MS, or when nothing more is waiting. A batch sent is
 * applied by Redis while the next one is read; once nothing more comes,
 * the batch in flight is waited for and its offsets stored.
 */
static int consume(struct engine *e)
{
	int64_t last_send = clock_real_now_ms();

	while (!shutdown_requested()) {
		rd_kafka_message_t *msg =
			kafka_consumer_poll(e->consumer, e->n_pending ? 0 : 50);
		size_t queued;

		if (msg)
			pending_add(e, msg);
		queued = e->n_pending - e->n_flying;
		if (queued == 0) {
			if (!msg && e->n_flying && pending_flush(e))
				break;
			continue;
		}
		if (msg && queued < e->apply_batch &&
		    clock_real_now_ms() - last_send < ENGINE_FLUSH_EVERY_MS)
			continue;
		if (pending_send(e))
			break;
		last_send = clock_real_now_ms();
	}
	return pending_flush(e) == DN_OK ? DN_OK : DN_ERR_REDIS;
}

/* ---------------------------------------------------------------------- */
/* Timer loop                                                               */

struct tick {
	bool backlog;	      /* a batch came back full: go again now */
	int64_t wake_real_ms; /* real instant something becomes due */
};

static void tick_partition(struct timer *tm, int32_t p, struct tick *t)
{
	struct engine *e = tm->e;
	struct fire_result res;
	char err[512];
	int rc = fire_partition(tm->fire, p, &res, err, sizeof(err));

	if (rc) {
		if (rc == DN_ERR_REDIS)
			atomic_store(&e->last_redis_error_ms,
				     clock_real_now_ms());
		log_error("SCHED", "partition=%" PRId32 ": %s", p, err);
		return;
	}
	if (res.claimed >=
	    (size_t)config_int(e->cfg, "DUNNING_WORKER_CLAIM_BATCH"))
		t->backlog = true;
	if (res.next_due_ms >= 0) {
		int64_t at = clock_real_now_ms() +
			     clock_real_delay_ms(res.next_due_ms);

		if (at < t->wake_real_ms)
			t->wake_real_ms = at;
	}
	if (res.next_lease_ms >= 0 && res.next_lease_ms < t->wake_real_ms)
		t->wake_real_ms = res.next_lease_ms;
}

/*
 * Learns how far each partition of this timer that is owned but not ready
 * must be applied before it fires. May block on the broker, so it runs
 * outside the round, which a rebalance waits for.
 */
static void timer_prepare(struct timer *tm, int64_t *warned_ms)
{
	struct engine *e = tm->e;
	char err[512];
	int32_t p;

	for (p = (int32_t)tm->index; p < ENGINE_PARTITIONS_MAX;
	     p += (int32_t)e->n_timers) {
		bool owned;

		pthread_mutex_lock(&e->lock);
		owned = e->owned[p];
		pthread_mutex_unlock(&e->lock);
		if (!owned || tm->was_ready[p] ||
		    !catchup_prepare(e->catchup, p, err, sizeof(err)))
			continue;
		if (clock_real_now_ms() - *warned_ms >= 10000) {
			log_warn("KAFKA", "%s; the partition fires once known",
				 err);
			*warned_ms = clock_real_now_ms();
		}
	}
	metric_set(e->catching_up_gauge, (int64_t)catchup_pending(e->catchup));
}

/* The partitions this timer serves now: owned, and with what was written
 * before this worker got them applied. Returns how many. */
static size_t timer_partitions(struct timer *tm, int32_t *parts)
{
	struct engine *e = tm->e;
	size_t n = 0;
	int32_t p;

	pthread_mutex_lock(&e->lock);
	for (p = (int32_t)tm->index; p < ENGINE_PARTITIONS_MAX;
	     p += (int32_t)e->n_timers) {
		bool ready = e->owned[p] && catchup_ready(e->catchup, p);

		if (ready && !tm->was_ready[p])
			log_info("SCHED",
				 "partition=%" PRId32 " fires from now on: "
				 "its backlog is applied",
				 p);
		tm->was_ready[p] = ready;
		if (ready)
			parts[n++] = p;
	}
	pthread_mutex_unlock(&e->lock);
	return n;
}

static void *timer_main(void *arg)
{
	struct timer *tm = arg;
	struct engine *e = tm->e;
	int32_t parts[ENGINE_PARTITIONS_MAX];
	int64_t warned_ms = 0;

	while (!atomic_load(&e->stop)) {
		struct tick t = { false, INT64_MAX };
		int64_t now, wait;
		size_t i, n;

		/* Let a rebalance in before the next round. */
		while (atomic_load(&e->revoking) && !atomic_load(&e->stop))
			sleep_ms(1);
		timer_prepare(tm, &warned_ms);
		pthread_mutex_lock(&tm->busy);
		n = timer_partitions(tm, parts);
		for (i = 0; i < n; i++)
			tick_partition(tm, parts[i], &t);
		pthread_mutex_unlock(&tm->busy);
		if (t.backlog)
			continue;
		now = clock_real_now_ms();
		wait = t.wake_real_ms - now;
		if (wait > e->poll_ms)
			wait = e->poll_ms;
		sleep_ms(wait > 0 ? wait : 1);
	}
	schedule_thread_release();
	format_thread_release();
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Health                                                                   */

static const char *health(void *ctx)
{
	struct engine *e = ctx;
	int64_t last = atomic_load(&e->last_redis_error_ms);

	if (last && clock_real_now_ms() - last < ENGINE_UNHEALTHY_AFTER_MS)
		return "redis unreachable or failing";
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                               */

/* A new connection to the configured Redis, or NULL with the reason. */
static struct store *redis_connect(const struct config *cfg, char *err,
				   size_t errlen)
{
	return store_new(config_str(cfg, "DUNNING_REDIS_URL"),
			 (int)config_int(cfg, "DUNNING_REDIS_TIMEOUT_MS"), err,
			 errlen);
}

/* The Redis connection, producer and fire of timer tm. */
static int timer_connect(struct engine *e, struct timer *tm, char *err,
			 size_t errlen)
{
	/* Each batch waits for its acknowledgements before it commits, so
	 * requests in flight behind one another gain nothing; against a
	 * broker that leaves Nagle's algorithm on (the local one) they cost
	 * a delayed ACK, about 40 ms, per batch. */
	static const char *const one_in_flight[] = {
		"max.in.flight.requests.per.connection", "1", NULL, NULL
	};
	const struct config *cfg = e->cfg;
	struct fire_settings fs = {
		config_int(cfg, "DUNNING_WORKER_LEASE_MS"),
		(size_t)config_int(cfg, "DUNNING_WORKER_CLAIM_BATCH"),
		10000,
	};

	tm->store = redis_connect(cfg, err, errlen);
	if (!tm->store)
		return DN_ERR_REDIS;
	tm->sends = kafka_producer_new(cfg, "dunning-worker", one_in_flight,
				       err, errlen);
	if (!tm->sends)
		return DN_ERR_KAFKA;
	tm->fire = fire_new(cfg, tm->store, tm->sends, e->wf, e->metrics, &fs,
			    err, errlen);
	return tm->fire ? DN_OK : DN_ERR_INVALID;
}

static int connect_all(struct engine *e, char *err, size_t errlen)
{
	const struct config *cfg = e->cfg;
	size_t i;
	int rc;

	e->apply_store = redis_connect(cfg, err, errlen);
	if (!e->apply_store)
		return DN_ERR_REDIS;
	e->dead_letters = kafka_producer_new(cfg, "dunning-worker-dlq", NULL,
					     err, errlen);
	if (!e->dead_letters)
		return DN_ERR_KAFKA;
	e->apply = apply_new(cfg, e->apply_store, e->dead_letters, e->wf,
			     e->metrics, err, errlen);
	if (!e->apply)
		return DN_ERR_INVALID;

	e->n_timers = (size_t)config_int(cfg, "DUNNING_WORKER_TIMER_THREADS");
	e->timers = calloc(e->n_timers, sizeof(*e->timers));
	if (!e->timers)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	for (i = 0; i < e->n_timers; i++) {
		e->timers[i].e = e;
		e->timers[i].index = i;
		pthread_mutex_init(&e->timers[i].busy, NULL);
		if ((rc = timer_connect(e, &e->timers[i], err, errlen)))
			return rc;
	}
	return DN_OK;
}

static int subscribe(struct engine *e, char *err, size_t errlen)
{
	struct kafka_rebalance_hooks hooks = { on_assigned, on_revoked, e };

	e->catchup = catchup_new(ENGINE_TOPICS, ENGINE_PARTITIONS_MAX,
				 ask_backlog, e);
	if (!e->catchup)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	e->consumer = kafka_consumer_new(
		e->cfg, config_str(e->cfg, "DUNNING_WORKER_GROUP"), e->topics,
		ENGINE_TOPICS, &hooks, e->metrics, NULL, err, errlen);
	return e->consumer ? DN_OK : DN_ERR_KAFKA;
}

struct engine *engine_new(const struct config *cfg, const struct workflow *wf,
			  char *err, size_t errlen)
{
	struct engine *e = calloc(1, sizeof(*e));

	if (!e) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->cfg = cfg;
	e->wf = wf;
	e->topics[ENGINE_INVOICES] =
		config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	e->topics[ENGINE_MESSAGES] =
		config_str(cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS");
	e->poll_ms = (int)config_int(cfg, "DUNNING_WORKER_POLL_MS");
	e->apply_batch = (size_t)config_int(cfg, "DUNNING_WORKER_APPLY_BATCH");
	e->metrics = metrics_new();
	e->pending = calloc(2 * e->apply_batch + 1, sizeof(*e->pending));
	if (!e->metrics || !e->pending) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto fail;
	}
	e->owned_gauge = metrics_series(e->metrics, METRIC_GAUGE,
					"dunning_worker_partitions_owned",
					"partitions this worker owns", NULL);
	e->catching_up_gauge = metrics_series(
		e->metrics, METRIC_GAUGE,
		"dunning_worker_partitions_catching_up",
		"partitions owned that do not fire yet: their backlog is "
		"being applied",
		NULL);
	if (connect_all(e, err, errlen) || subscribe(e, err, errlen))
		goto fail;
	e->httpd = httpd_new(config_str(cfg, "DUNNING_WORKER_HTTP_BIND"),
			     (int)config_int(cfg, "DUNNING_WORKER_HTTP_PORT"),
			     NULL, 0, 4096, e->metrics, health, e, err, errlen);
	if (!e->httpd)
		goto fail;
	return e;

fail:
	engine_free(e);
	return NULL;
}

int engine_http_port(const struct engine *e)
{
	return httpd_port(e->httpd);
}

/* Stops and joins every timer thread started. */
static void timers_stop(struct engine *e)
{
	size_t i;

	atomic_store(&e->stop, true);
	for (i = 0; i < e->n_timers; i++)
		if (e->timers[i].started) {
			pthread_join(e->timers[i].thread, NULL);
			e->timers[i].started = false;
		}
}

int engine_run(struct engine *e)
{
	size_t i;
	int rc;

	for (i = 0; i < e->n_timers; i++) {
		struct timer *tm = &e->timers[i];

		if (pthread_create(&tm->thread, NULL, timer_main, tm) != 0) {
			log_error("SCHED", "cannot start timer thread %zu", i);
			timers_stop(e);
			return DN_ERR_NOMEM;
		}
		tm->started = true;
	}
	log_info("SCHED", "worker running group=%s timers=%zu",
		 config_str(e->cfg, "DUNNING_WORKER_GROUP"), e->n_timers);
	rc = consume(e);
	schedule_thread_release();
	timers_stop(e);
	return rc;
}

void engine_free(struct engine *e)
{
	size_t i;

	if (!e)
		return;
	timers_stop(e);
	httpd_free(e->httpd);
	for (i = 0; i < e->n_pending; i++)
		kafka_message_free(e->pending[i]);
	kafka_consumer_free(e->consumer);
	catchup_free(e->catchup);
	for (i = 0; e->timers && i < e->n_timers; i++) {
		fire_free(e->timers[i].fire);
		kafka_producer_free(e->timers[i].sends);
		store_free(e->timers[i].store);
		pthread_mutex_destroy(&e->timers[i].busy);
	}
	free(e->timers);
	apply_free(e->apply);
	kafka_producer_free(e->dead_letters);
	store_free(e->apply_store);
	metrics_free(e->metrics);
	free(e->pending);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
