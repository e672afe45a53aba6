/* test_lib_kafka.c: the consumer's rebalance hooks see every partition,
 * and offsets stored while partitions are revoked are committed before
 * they go. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "kafka.h"
#include "metrics.h"
#include "testenv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the hooks saw. */
struct seen {
	size_t assigned;
	size_t revoked;
	struct kafka_consumer *consumer;
	rd_kafka_message_t *in_hand; /* processed, offset not yet stored */
};

static void on_assigned(void *ctx, const struct kafka_partition *parts,
			size_t count)
{
	struct seen *seen = ctx;

	(void)parts;
	seen->assigned += count;
}

/* Finishes the message in hand, as a worker does before letting go. */
static void on_revoked(void *ctx, const struct kafka_partition *parts,
		       size_t count)
{
	struct seen *seen = ctx;

	(void)parts;
	seen->revoked += count;
	if (seen->in_hand) {
		kafka_consumer_store(seen->consumer, seen->in_hand);
		kafka_message_free(seen->in_hand);
		seen->in_hand = NULL;
	}
}

/* A broker a test started, stopped even when the test fails. */
static pid_t own_broker;

/* A broker of its own with many partitions; returns its pid and writes
 * its bootstrap servers into bootstrap. */
static pid_t start_broker(const char *partitions, char *bootstrap, size_t len,
			  const char *log_path)
{
	int out[2];
	pid_t pid;
	FILE *f;
	char line[256];

	assert_int_equal(pipe(out), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		setenv("DUNNING_KAFKA_PARTITIONS", partitions, 1);
		setenv("DUNNING_LOG_LEVEL", "warn", 1);
		if (log_path && !freopen(log_path, "w", stderr))
			_exit(126);
		execl(testenv_bin("dunning-broker"), "dunning-broker",
		      (char *)NULL);
		_exit(127);
	}
	own_broker = pid;
	close(out[1]);
	f = fdopen(out[0], "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strncmp(line, "bootstrap=", 10), 0);
	line[strcspn(line, "\n")] = '\0';
	snprintf(bootstrap, len, "%s", line + 10);
	return pid;
}

static int stop_broker(void **state)
{
	int status;

	(void)state;
	if (own_broker > 0) {
		kill(own_broker, SIGTERM);
		waitpid(own_broker, &status, 0);
	}
	own_broker = 0;
	return 0;
}

static struct kafka_consumer *consumer_new(struct config *cfg,
					   const char *group, size_t topics,
					   struct seen *seen)
{
	const char *names[] = {
		config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS"),
		config_str(cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS"),
		config_str(cfg, "DUNNING_TOPIC_WHATSAPP_SEND"),
		config_str(cfg, "DUNNING_TOPIC_COLLECTIONS_TASKS"),
		config_str(cfg, "DUNNING_TOPIC_DEADLETTER"),
	};
	struct kafka_rebalance_hooks hooks = { on_assigned, on_revoked, seen };
	char err[512];
	struct kafka_consumer *c;

	c = kafka_consumer_new(cfg, group, names, topics, &hooks, NULL, NULL,
			       err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	seen->consumer = c;
	return c;
}

static void test_assigned_hook_sees_every_partition(void **state)
{
	struct config *cfg = testenv_config(NULL);
	struct seen seen = { 0 };
	char bootstrap[256], group[64], err[256];
	struct kafka_consumer *c;
	int polls;

	(void)state;
	/* 5 topics of 1024 partitions: more than any fixed cap of 4096. */
	start_broker("1024", bootstrap, sizeof(bootstrap), NULL);
	assert_int_equal(config_set(cfg, "DUNNING_KAFKA_BROKERS", bootstrap,
				    err, sizeof(err)),
			 DN_OK);
	c = consumer_new(cfg, testenv_unique("all", group, sizeof(group)), 5,
			 &seen);
	for (polls = 0; polls < 300 && !seen.assigned; polls++)
		kafka_message_free(kafka_consumer_poll(c, 100));
	assert_int_equal(seen.assigned, 5 * 1024);
	kafka_consumer_free(c);
	assert_int_equal(seen.revoked, 5 * 1024);
	config_free(cfg);
}

static void test_offset_stored_while_revoking_is_committed(void **state)
{
	struct config *cfg = testenv_config(NULL);
	const char *topic = config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	struct seen seen = { 0 };
	char group[64], err[256], key[32];
	struct kafka_producer *p;
	struct kafka_consumer *c;
	rd_kafka_message_t *m = NULL;
	int polls, i;

	(void)state;
	p = kafka_producer_new(cfg, "revoke-test", NULL, err, sizeof(err));
	assert_non_null(p);
	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "t/c-%d", i);
		assert_int_equal(kafka_producer_send(p, topic, "t/c", 3, key,
						     strlen(key), NULL, err,
						     sizeof(err)),
				 DN_OK);
	}
	assert_int_equal(kafka_producer_flush(p, 10000), DN_OK);
	kafka_producer_free(p);

	/* Take the first message, and leave with it still in hand. */
	testenv_unique("revoke", group, sizeof(group));
	c = consumer_new(cfg, group, 1, &seen);
	for (polls = 0; polls < 300 && !m; polls++)
		m = kafka_consumer_poll(c, 100);
	assert_non_null(m);
	assert_memory_equal(kafka_message_payload(m, &(size_t){ 0 }), "t/c-0",
			    5);
	seen.in_hand = m;
	kafka_consumer_free(c);
	assert_null(seen.in_hand);

	/* The group goes on after it. */
	memset(&seen, 0, sizeof(seen));
	c = consumer_new(cfg, group, 1, &seen);
	for (m = NULL, polls = 0; polls < 300 && !m; polls++)
		m = kafka_consumer_poll(c, 100);
	assert_non_null(m);
	assert_memory_equal(kafka_message_payload(m, &(size_t){ 0 }), "t/c-1",
			    5);
	kafka_message_free(m);
	kafka_consumer_free(c);
	config_free(cfg);
}

/* Polls c until the message whose payload is want; fails after 30 s. */
static rd_kafka_message_t *poll_for(struct kafka_consumer *c, const char *want)
{
	int polls;

	for (polls = 0; polls < 300; polls++) {
		rd_kafka_message_t *m = kafka_consumer_poll(c, 100);
		size_t len = 0;
		const void *payload = m ? kafka_message_payload(m, &len) : NULL;

		if (payload && len == strlen(want) &&
		    memcmp(payload, want, len) == 0)
			return m;
		kafka_message_free(m);
	}
	fail_msg("message %s never came", want);
	return NULL;
}

static void test_backlog_spans_from_committed_offset_to_end(void **state)
{
	struct config *cfg = testenv_config(NULL);
	const char *topic = config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	struct seen seen = { 0 };
	char group[64], err[256], value[16];
	int64_t from = -1, end = -1, first;
	struct kafka_producer *p;
	struct kafka_consumer *c;
	rd_kafka_message_t *m;
	int32_t partition;
	int i;

	(void)state;
	p = kafka_producer_new(cfg, "backlog-test", NULL, err, sizeof(err));
	assert_non_null(p);
	for (i = 0; i < 3; i++) {
		snprintf(value, sizeof(value), "bl-%d", i);
		assert_int_equal(kafka_producer_send(p, topic, "t/bl", 4, value,
						     strlen(value), NULL, err,
						     sizeof(err)),
				 DN_OK);
	}
	assert_int_equal(kafka_producer_flush(p, 10000), DN_OK);
	kafka_producer_free(p);

	c = consumer_new(cfg, testenv_unique("bl", group, sizeof(group)), 1,
			 &seen);
	m = poll_for(c, "bl-0");
	partition = kafka_message_partition(m);
	first = kafka_message_offset(m);

	/* Nothing committed: from the partition's first message. */
	assert_int_equal(kafka_consumer_backlog(c, topic, partition, 5000,
						&from, &end, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(from, 0);
	assert_int_equal(end, first + 3);

	/* Committed past the first: from the second. */
	kafka_consumer_store(c, m);
	kafka_message_free(m);
	assert_int_equal(kafka_consumer_commit(c), DN_OK);
	assert_int_equal(kafka_consumer_backlog(c, topic, partition, 5000,
						&from, &end, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(from, first + 1);
	assert_int_equal(end, first + 3);

	/* A partition the topic does not have: an error naming it. */
	assert_int_equal(kafka_consumer_backlog(c, topic, 9999, 2000, &from,
						&end, err, sizeof(err)),
			 DN_ERR_KAFKA);
	assert_non_null(strstr(err, "partition=9999"));
	kafka_consumer_free(c);
	config_free(cfg);
}

static void test_broker_logs_only_our_lines_at_its_level(void **state)
{
	char bootstrap[256], path[] = "/tmp/dunning-broker-log-XXXXXX";
	char *text;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	start_broker("2", bootstrap, sizeof(bootstrap), path);
	stop_broker(NULL);
	text = testenv_read_file(path, NULL);
	unlink(path);
	assert_non_null(text);
	/* Asked for warnings only: no info line, and librdkafka's own
	 * lines come through our logger, not in its "%5|..." format. */
	assert_null(strstr(text, " info broker "));
	assert_null(strstr(text, "%5|"));
	free(text);
}

/* The consumer lag series with a value other than 0, or NULL. */
static char *lag_lines(struct metrics *m)
{
	char *text = metrics_render(m, NULL), *line, *found = NULL;

	assert_non_null(text);
	for (line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, "dunning_consumer_lag{", 21) == 0 &&
		    strncmp(strchr(line, '}'), "} 0\n", 4) != 0)
			found = line;
	}
	if (!found) {
		free(text);
		return NULL;
	}
	return text;
}

static void test_lag_of_revoked_partitions_is_not_left_behind(void **state)
{
	struct config *cfg = testenv_config(NULL);
	const char *topic = config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	const char *topics[] = { topic };
	struct metrics *m = metrics_new();
	char group[64], err[256], text[16], *lines = NULL;
	struct kafka_producer *p;
	struct kafka_consumer *c;
	int polls, i, committed = 0;

	(void)state;
	p = kafka_producer_new(cfg, "lag-test", NULL, err, sizeof(err));
	assert_non_null(p);
	for (i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "lag-%d", i);
		assert_int_equal(kafka_producer_send(p, topic, "lag/c", 5, text,
						     strlen(text), NULL, err,
						     sizeof(err)),
				 DN_OK);
	}
	assert_int_equal(kafka_producer_flush(p, 10000), DN_OK);
	kafka_producer_free(p);

	/* Commit the first of the three: its partition is 2 behind, as the
	 * statistics report within a few seconds. */
	c = kafka_consumer_new(cfg, testenv_unique("lag", group, sizeof(group)),
			       topics, 1, NULL, m, NULL, err, sizeof(err));
	assert_non_null(c);
	for (polls = 0; polls < 150 && !lines; polls++) {
		rd_kafka_message_t *msg = kafka_consumer_poll(c, 100);
		size_t len;
		const char *payload;

		if (msg && !committed) {
			payload = kafka_message_payload(msg, &len);
			if (len == 5 && memcmp(payload, "lag-0", 5) == 0) {
				kafka_consumer_store(c, msg);
				assert_int_equal(kafka_consumer_commit(c),
						 DN_OK);
				committed = 1;
			}
		}
		kafka_message_free(msg);
		if (committed)
			lines = lag_lines(m);
	}
	assert_non_null(lines);
	free(lines);

	/* Another member owns the partition now: this one is not behind. */
	kafka_consumer_free(c);
	lines = lag_lines(m);
	if (lines)
		fail_msg("stale lag after revocation:\n%s", lines);
	metrics_free(m);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			test_assigned_hook_sees_every_partition, stop_broker),
		cmocka_unit_test(
			test_offset_stored_while_revoking_is_committed),
		cmocka_unit_test(
			test_backlog_spans_from_committed_offset_to_end),
		cmocka_unit_test(
			test_lag_of_revoked_partitions_is_not_left_behind),
		cmocka_unit_test_teardown(
			test_broker_logs_only_our_lines_at_its_level,
			stop_broker),
	};

	return cmocka_run_group_tests(tests, NULL, stop_broker);
}
