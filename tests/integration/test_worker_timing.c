/* test_worker_timing.c: the delay queue claims only what is due, in
 * bounded batches, and claims an expired lease again; a running worker
 * serves an entry added while it sleeps within a second of its time and
 * never before it, and catches up within seconds when Redis comes back
 * from a pause. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "worker_harness.h"

#include "queue.h"

/* Real speed: 10:00 Madrid is 09:00 UTC, 12 s after the start. */
#define START	  "2026-03-02T08:59:48Z"
#define NOTICE_AT "2026-03-02T09:00:00Z"

static char tenant[64];

static struct store *queue_store(struct wh_run *run, int *script)
{
	*script = queue_register(run->redis);
	assert_true(*script >= 0);
	return run->redis;
}

static void zadd(struct store *s, const char *key, int64_t score,
		 const char *member)
{
	redisReply *r = store_commandf(s, "ZADD %s %lld %s", key,
				       (long long)score, member);

	assert_non_null(r);
	store_reply_free(r);
}

static void test_claims_only_due_entries_in_bounded_batches(void **state)
{
	struct queue_claim *claim = calloc(1, sizeof(*claim));
	struct wh_run run;
	struct store *s;
	char err[256], member[32];
	int script, i;
	int64_t now = 1000000;

	(void)state;
	assert_non_null(claim);
	wh_run_init(&run, START, 1, 3, 5000);
	s = queue_store(&run, &script);
	for (i = 0; i < 10; i++) {
		snprintf(member, sizeof(member),
			 "t/c\x1f"
			 "due-%d",
			 i);
		zadd(s, "dn:{p0}:q", now - 100 + i, member);
	}
	zadd(s, "dn:{p0}:q", now + 1,
	     "t/c\x1f"
	     "later");

	assert_int_equal(queue_claim(s, script, 0, now, 5000, 60000, 4, claim,
				     err, sizeof(err)),
			 0);
	assert_int_equal(claim->count, 4);
	assert_string_equal(claim->entries[0].member, "t/c\x1f"
						      "due-0");
	assert_int_equal(claim->entries[0].due_ms, now - 100);
	queue_claim_release(claim);
	for (i = 0; i < 3; i++) {
		assert_int_equal(queue_claim(s, script, 0, now, 5000, 60000, 4,
					     claim, err, sizeof(err)),
				 0);
		assert_int_equal(claim->count, i < 1 ? 4 : i < 2 ? 2 : 0);
		queue_claim_release(claim);
	}
	/* The later entry is never claimed early and is the next wake-up. */
	assert_int_equal(claim->next_due_ms, now + 1);
	free(claim);
	wh_run_release(&run);
}

static void test_expired_lease_is_claimed_again(void **state)
{
	struct queue_claim *claim = calloc(1, sizeof(*claim));
	struct wh_run run;
	struct store *s;
	char err[256];
	int script;

	(void)state;
	assert_non_null(claim);
	wh_run_init(&run, START, 1, 4, 5000);
	s = queue_store(&run, &script);
	zadd(s, "dn:{p1}:q", 10,
	     "t/c\x1f"
	     "one");
	assert_int_equal(queue_claim(s, script, 1, 100, 1000, 500, 10, claim,
				     err, sizeof(err)),
			 0);
	assert_int_equal(claim->count, 1);
	queue_claim_release(claim);

	/* Still leased: nobody else gets it. */
	assert_int_equal(queue_claim(s, script, 1, 100, 1400, 500, 10, claim,
				     err, sizeof(err)),
			 0);
	assert_int_equal(claim->count, 0);
	assert_int_equal(claim->next_lease_ms, 1500);

	/* The holder died: after the lease it is claimed again. */
	assert_int_equal(queue_claim(s, script, 1, 100, 1500, 500, 10, claim,
				     err, sizeof(err)),
			 0);
	assert_int_equal(claim->count, 1);
	assert_string_equal(claim->entries[0].member, "t/c\x1f"
						      "one");
	assert_int_equal(claim->entries[0].due_ms, -1);
	queue_claim_release(claim);
	free(claim);
	wh_run_release(&run);
}

static pid_t redis_pid(void)
{
	char path[512], line[128];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/pids", getenv("DUNNING_STACK_DIR"));
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " redis"))
			sscanf(line, "%d", &pid);
	fclose(f);
	assert_true(pid > 0);
	return (pid_t)pid;
}

static void opted_in(struct wh_run *run, const char *customer, const char *zone)
{
	wh_customer(run, tenant, customer, zone, "es-ES",
		    DUNNING__V1__OPT_IN_STATUS__OPT_IN_STATUS_OPTED_IN);
}

static void test_entry_added_while_asleep_is_served_on_time(void **state)
{
	const Dunning__V1__SendCommand *cmd;
	struct wh_sends sends = { 0 };
	struct wh_reader reader;
	struct wh_worker worker;
	struct wh_run run;
	int64_t planned = 0;

	(void)state;
	wh_run_init(&run, START, 1, 5, 5000);
	testenv_unique("wt", tenant, sizeof(tenant));
	/* An entry far ahead keeps the worker asleep... */
	opted_in(&run, "c-far", "Europe/Madrid");
	wh_invoice(&run, tenant, "c-far", "F1", 1, 2026, 3, 20, 1000);
	wh_flush(&run);
	wh_worker_start(&run, &worker);
	wh_reader_open(&run, &reader, "DUNNING_TOPIC_WHATSAPP_SEND");
	wh_collect(&reader, tenant, &sends, 0, 5000);
	assert_int_equal(sends.n, 0);

	/* ...when one due in a few seconds arrives; another due an hour
	 * later (London) must not leave early. */
	planned = wh_instant(NOTICE_AT);
	opted_in(&run, "c-soon", "Europe/Madrid");
	wh_invoice(&run, tenant, "c-soon", "S1", 1, 2026, 3, 9, 1000);
	opted_in(&run, "c-london", "Europe/London");
	wh_invoice(&run, tenant, "c-london", "L1", 1, 2026, 3, 9, 1000);
	wh_flush(&run);
	wh_collect(&reader, tenant, &sends, 1, wh_real_until(NOTICE_AT) + 3000);
	wh_collect(&reader, tenant, &sends, 0, 1500);
	wh_reader_close(&reader);

	cmd = wh_first_for(&sends, "c-soon");
	assert_non_null(cmd);
	assert_int_equal(sends.n, 1);
	assert_true(cmd->created_at_ms >= planned);
	assert_true(cmd->created_at_ms - planned < 1000);
	wh_worker_stop(&worker, SIGTERM);
	wh_sends_release(&sends);
	wh_run_release(&run);
}

static void test_redis_pause_delays_only_seconds(void **state)
{
	const Dunning__V1__SendCommand *cmd;
	struct wh_sends sends = { 0 };
	struct wh_reader reader;
	struct wh_worker worker;
	struct wh_run run;
	pid_t redis = redis_pid();
	int64_t resumed;

	(void)state;
	/* Notice at 09:00:00, Redis paused from 08:59:58 to 09:00:03. */
	wh_run_init(&run, "2026-03-02T08:59:46Z", 1, 6, 5000);
	testenv_unique("wr", tenant, sizeof(tenant));
	opted_in(&run, "c-pause", "Europe/Madrid");
	wh_invoice(&run, tenant, "c-pause", "P1", 1, 2026, 3, 9, 1000);
	wh_flush(&run);
	wh_worker_start(&run, &worker);
	wh_reader_open(&run, &reader, "DUNNING_TOPIC_WHATSAPP_SEND");
	wh_sleep_ms(wh_real_until("2026-03-02T08:59:58Z"));
	kill(redis, SIGSTOP);
	wh_sleep_ms(5000);
	kill(redis, SIGCONT);
	resumed = clock_now_ms();
	wh_collect(&reader, tenant, &sends, 1, 8000);
	wh_reader_close(&reader);

	cmd = wh_first_for(&sends, "c-pause");
	assert_non_null(cmd);
	assert_true(cmd->created_at_ms >= wh_instant(NOTICE_AT));
	assert_true(cmd->created_at_ms - resumed < 4000);
	wh_worker_stop(&worker, SIGTERM);
	wh_sends_release(&sends);
	wh_run_release(&run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_claims_only_due_entries_in_bounded_batches),
		cmocka_unit_test(test_expired_lease_is_claimed_again),
		cmocka_unit_test(
			test_entry_added_while_asleep_is_served_on_time),
		cmocka_unit_test(test_redis_pause_delays_only_seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
