/* emit_floor.c: the least Redis and broker work a million reminders need. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * emit_floor COUNT PARTITIONS DUE_MS
 *
 * Runs, on entries seeded by `worker_load seed` (DUNNING_REDIS_URL names
 * their database), only the traffic that emitting one reminder cannot do
 * without, with no decision, formatting or encoding:
 *
 *   Redis   claim due entries in batches (one script: ZRANGEBYSCORE, then
 *           one variadic ZADD that moves them out of the way), HGETALL of
 *           each customer, then one HSET of its invoice record and one
 *           ZADD of its next instant, all pipelined;
 *   broker  COUNT messages of a send command's size produced to the send
 *           topic, with the worker's producer settings, all acknowledged;
 *
 * the two at once, as the worker would, and prints the seconds each took
 * and the whole, and the CPU seconds Redis itself spent (its one thread
 * bounds any design that needs these commands):
 *   floor redis=S broker=S both=S reminders=N redis_cpu=S
 * The worker's own figure is then read against this one, measured on the
 * same machine in the same run: what it takes above the floor is its own
 * work, and a target below the floor cannot be met on that machine.
 */
#include "clock.h"
#include "config.h"
#include "kafka.h"
#include "store.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_BATCH	   1024
#define FLOOR_COMMAND_SIZE 420 /* bytes of a typical SendCommand */

/* Claims up to ARGV[2] entries due by ARGV[1]: moves them to ARGV[3]. */
static const char claim_lua[] =
	"local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],\n"
	"  'LIMIT', 0, tonumber(ARGV[2]))\n"
	"if #m == 0 then return m end\n"
	"local args = {}\n"
	"for i = 1, #m do args[2 * i - 1] = ARGV[3]; args[2 * i] = m[i] end\n"
	"redis.call('ZADD', KEYS[1], unpack(args))\n"
	"return m\n";

struct broker_run {
	struct config *cfg;
	long count;
	int64_t ms;
	int rc;
};

static void *produce_all(void *arg)
{
	static const char *const one_in_flight[] = {
		"max.in.flight.requests.per.connection", "1", NULL, NULL
	};
	struct broker_run *run = arg;
	const char *topic = config_str(run->cfg, "DUNNING_TOPIC_WHATSAPP_SEND");
	char payload[FLOOR_COMMAND_SIZE], key[64], err[256];
	int64_t start = clock_real_now_ms();
	struct kafka_producer *p;
	long i;

	memset(payload, 'x', sizeof(payload));
	p = kafka_producer_new(run->cfg, "emit-floor", one_in_flight, err,
			       sizeof(err));
	run->rc = p ? 0 : 1;
	for (i = 0; p && i < run->count && !run->rc; i++) {
		snprintf(key, sizeof(key), "bench/s%ld", i);
		run->rc = kafka_producer_send(p, topic, key, strlen(key),
					      payload, sizeof(payload), NULL,
					      err, sizeof(err));
	}
	if (p && !run->rc)
		run->rc = kafka_producer_flush(p, 120000);
	if (run->rc)
		fprintf(stderr, "emit_floor: broker: %s\n", p ? err : "");
	kafka_producer_free(p);
	run->ms = clock_real_now_ms() - start;
	return NULL;
}

/* The customer key and invoice field of a queue member "cust\x1finv". */
static void split_member(const char *member, int p, char *key, size_t klen,
			 char *field, size_t flen)
{
	const char *sep = strchr(member, '\x1f');
	int n = sep ? (int)(sep - member) : (int)strlen(member);

	snprintf(key, klen, "dn:{p%d}:c:%.*s", p, n, member);
	snprintf(field, flen, "i:%s", sep ? sep + 1 : "");
}

/* Reads, writes and moves on the claimed members of partition p. */
static int handle(struct store *s, int p, const char *next,
		  const redisReply *claimed)
{
	size_t n = claimed->elements, i;
	char(*keys)[96] = calloc(n, sizeof(*keys));
	char(*fields)[48] = calloc(n, sizeof(*fields));
	const char **argvs[2 * FLOOR_BATCH];
	const char *args[2 * FLOOR_BATCH][4];
	int argcs[2 * FLOOR_BATCH];
	redisReply *replies[2 * FLOOR_BATCH];
	char queue[32];
	int rc;

	snprintf(queue, sizeof(queue), "dn:{p%d}:q", p);
	for (i = 0; i < n; i++) {
		split_member(claimed->element[i]->str, p, keys[i],
			     sizeof(keys[i]), fields[i], sizeof(fields[i]));
		args[i][0] = "HGETALL";
		args[i][1] = keys[i];
		argvs[i] = args[i];
		argcs[i] = 2;
	}
	rc = store_pipeline(s, n, argcs, (const char *const *const *)argvs,
			    NULL, replies);
	for (i = 0; !rc && i < n; i++)
		store_reply_free(replies[i]);
	for (i = 0; !rc && i < n; i++) {
		const char *hset[] = { "HSET", keys[i], fields[i],
				       "o|1|1|20260309|50000|EUR|0|0|1|" };
		const char *zadd[] = { "ZADD", queue, next,
				       claimed->element[i]->str };

		memcpy(args[2 * i], hset, sizeof(hset));
		memcpy(args[2 * i + 1], zadd, sizeof(zadd));
		argvs[2 * i] = args[2 * i];
		argvs[2 * i + 1] = args[2 * i + 1];
		argcs[2 * i] = argcs[2 * i + 1] = 4;
	}
	if (!rc)
		rc = store_pipeline(s, 2 * n, argcs,
				    (const char *const *const *)argvs, NULL,
				    replies);
	for (i = 0; !rc && i < 2 * n; i++)
		store_reply_free(replies[i]);
	free(keys);
	free(fields);
	return rc;
}

/* CPU seconds Redis has used so far (user and system, every thread), or
 * a negative number when INFO does not say. */
static double redis_cpu(struct store *s)
{
	redisReply *r = store_commandf(s, "INFO cpu");
	const char *user, *sys;
	double cpu = -1;

	if (r && r->type == REDIS_REPLY_STRING &&
	    (user = strstr(r->str, "used_cpu_user:")) &&
	    (sys = strstr(r->str, "used_cpu_sys:")))
		cpu = strtod(user + 14, NULL) + strtod(sys + 13, NULL);
	store_reply_free(r);
	return cpu;
}

/* Claims and handles every entry due by due_ms; returns how many. */
static long redis_all(struct store *s, int partitions, const char *due_ms)
{
	char next[24], lease[24], batch[16], queue[32];
	int script = store_script_add(s, "floor_claim", claim_lua);
	long done = 0;
	int p, empty = 0;

	snprintf(next, sizeof(next), "%lld",
		 strtoll(due_ms, NULL, 10) + 86400000LL);
	snprintf(lease, sizeof(lease), "%lld",
		 strtoll(due_ms, NULL, 10) + 3600000LL);
	snprintf(batch, sizeof(batch), "%d", FLOOR_BATCH);
	for (p = 0; empty < partitions; p = (p + 1) % partitions) {
		const char *argv[] = { queue, due_ms, batch, lease };
		redisReply *r;

		snprintf(queue, sizeof(queue), "dn:{p%d}:q", p);
		r = store_eval(s, script, 1, 4, argv, NULL);
		if (!r || r->type != REDIS_REPLY_ARRAY) {
			fprintf(stderr, "emit_floor: claim: %s\n",
				r && r->str ? r->str : store_error(s));
			store_reply_free(r);
			return -1;
		}
		empty = r->elements ? 0 : empty + 1;
		if (r->elements && handle(s, p, next, r)) {
			fprintf(stderr, "emit_floor: %s\n", store_error(s));
			store_reply_free(r);
			return -1;
		}
		done += (long)r->elements;
		store_reply_free(r);
	}
	return done;
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys, NULL };
	struct broker_run run = { 0 };
	struct store *s;
	pthread_t thread;
	int64_t start, redis_ms;
	double cpu;
	char err[256];
	long done;

	if (argc < 4) {
		fprintf(stderr, "usage: emit_floor COUNT PARTITIONS DUE_MS\n");
		return 2;
	}
	run.cfg = config_load(tables, err, sizeof(err));
	s = run.cfg ? store_new(config_str(run.cfg, "DUNNING_REDIS_URL"), 10000,
				err, sizeof(err))
		    : NULL;
	if (!s) {
		fprintf(stderr, "emit_floor: %s\n", err);
		return 1;
	}
	run.count = strtol(argv[1], NULL, 10);
	cpu = redis_cpu(s);
	start = clock_real_now_ms();
	if (pthread_create(&thread, NULL, produce_all, &run) != 0)
		return 1;
	done = redis_all(s, (int)strtol(argv[2], NULL, 10), argv[3]);
	redis_ms = clock_real_now_ms() - start;
	cpu = redis_cpu(s) - cpu;
	pthread_join(thread, NULL);
	if (done != run.count || run.rc) {
		fprintf(stderr, "emit_floor: %ld of %ld reminders\n", done,
			run.count);
		return 1;
	}
	printf("floor redis=%.1f broker=%.1f both=%.1f reminders=%ld "
	       "redis_cpu=%.1f\n",
	       (double)redis_ms / 1000, (double)run.ms / 1000,
	       (double)(clock_real_now_ms() - start) / 1000, done, cpu);
	store_free(s);
	config_free(run.cfg);
	return 0;
}
