/* test_worker_catchup.c: a newly owned partition fires only once caught up. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies catchup: a partition is ready when the group resumes at its
 * end, or once the message before the end it had when asked is applied;
 * every topic assigned at it must be ready; a failed ask is asked again;
 * an assignment change forgets what was known, even during an ask.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/catchup.h"

#define TOPICS	   2
#define PARTITIONS 8

/* What the broker answers, per topic, and what happens during an ask. */
struct broker {
	int64_t from[TOPICS], end[TOPICS];
	int fail;     /* asks left to fail */
	int asked;    /* asks so far */
	int reassign; /* during the next ask, assign topic 0 of p 1 again */
	struct catchup *c;
};

static int ask(void *ctx, int topic, int32_t partition, int64_t *from,
	       int64_t *end, char *err, size_t errlen)
{
	struct broker *b = ctx;

	(void)partition;
	b->asked++;
	if (b->fail > 0) {
		b->fail--;
		snprintf(err, errlen, "broker away");
		return 1;
	}
	if (b->reassign) {
		b->reassign = 0;
		catchup_assign(b->c, 0, 1, true);
	}
	*from = b->from[topic];
	*end = b->end[topic];
	return 0;
}

static struct catchup *tracker(struct broker *b)
{
	b->c = catchup_new(TOPICS, PARTITIONS, ask, b);
	assert_non_null(b->c);
	return b->c;
}

static void prepare_ok(struct catchup *c, int32_t p)
{
	char err[64];

	assert_int_equal(catchup_prepare(c, p, err, sizeof(err)), 0);
}

static void test_unassigned_partition_is_not_ready(void **state)
{
	struct broker b = { 0 };
	struct catchup *c = tracker(&b);

	(void)state;
	prepare_ok(c, 1);
	assert_false(catchup_ready(c, 1));
	assert_int_equal(b.asked, 0);
	catchup_free(c);
}

static void test_partition_resuming_at_its_end_is_ready_at_once(void **state)
{
	struct broker b = { { 7, 0 }, { 7, 0 }, 0, 0, 0, NULL };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, 1, true);
	assert_false(catchup_ready(c, 1));
	assert_int_equal(catchup_pending(c), 1);
	prepare_ok(c, 1);
	assert_true(catchup_ready(c, 1));
	assert_int_equal(catchup_pending(c), 0);
	catchup_free(c);
}

static void test_backlog_must_be_applied_to_its_last_message(void **state)
{
	struct broker b = { { 3, 0 }, { 10, 0 }, 0, 0, 0, NULL };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, 1, true);
	prepare_ok(c, 1);
	catchup_applied(c, 0, 1, 3);
	catchup_applied(c, 0, 1, 8);
	assert_false(catchup_ready(c, 1));
	catchup_applied(c, 0, 2, 9); /* another partition */
	catchup_applied(c, 1, 1, 9); /* another topic */
	assert_false(catchup_ready(c, 1));
	catchup_applied(c, 0, 1, 9);
	assert_true(catchup_ready(c, 1));
	catchup_free(c);
}

static void test_messages_applied_before_the_answer_count(void **state)
{
	struct broker b = { { 0, 0 }, { 5, 0 }, 0, 0, 0, NULL };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, 2, true);
	catchup_applied(c, 0, 2, 4);
	prepare_ok(c, 2);
	assert_true(catchup_ready(c, 2));
	catchup_free(c);
}

static void test_every_assigned_topic_must_be_caught_up(void **state)
{
	struct broker b = { { 4, 0 }, { 4, 6 }, 0, 0, 0, NULL };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, 3, true);
	catchup_assign(c, 1, 3, true);
	prepare_ok(c, 3);
	assert_false(catchup_ready(c, 3));
	assert_int_equal(catchup_pending(c), 1);
	catchup_applied(c, 1, 3, 5);
	assert_true(catchup_ready(c, 3));
	catchup_free(c);
}

static void test_failed_ask_is_asked_again(void **state)
{
	struct broker b = { { 2, 0 }, { 2, 0 }, 1, 0, 0, NULL };
	struct catchup *c = tracker(&b);
	char err[64] = "";

	(void)state;
	catchup_assign(c, 0, 1, true);
	assert_int_not_equal(catchup_prepare(c, 1, err, sizeof(err)), 0);
	assert_string_equal(err, "broker away");
	assert_false(catchup_ready(c, 1));
	prepare_ok(c, 1);
	assert_true(catchup_ready(c, 1));
	prepare_ok(c, 1); /* known: not asked again */
	assert_int_equal(b.asked, 2);
	catchup_free(c);
}

static void test_new_assignment_forgets_what_was_known(void **state)
{
	struct broker b = { { 5, 0 }, { 5, 0 }, 0, 0, 0, NULL };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, 1, true);
	prepare_ok(c, 1);
	assert_true(catchup_ready(c, 1));
	catchup_assign(c, 0, 1, false);
	assert_false(catchup_ready(c, 1));
	catchup_assign(c, 0, 1, true);
	b.from[0] = 5;
	b.end[0] = 9;
	assert_false(catchup_ready(c, 1));
	prepare_ok(c, 1);
	assert_false(catchup_ready(c, 1));
	catchup_applied(c, 0, 1, 8);
	assert_true(catchup_ready(c, 1));
	catchup_free(c);
}

static void test_answer_for_an_older_assignment_is_dropped(void **state)
{
	struct broker b = { { 5, 0 }, { 5, 0 }, 0, 0, 1, NULL };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, 1, true);
	prepare_ok(c, 1); /* reassigned while asked */
	assert_false(catchup_ready(c, 1));
	prepare_ok(c, 1);
	assert_true(catchup_ready(c, 1));
	assert_int_equal(b.asked, 2);
	catchup_free(c);
}

static void test_partitions_out_of_range_are_ignored(void **state)
{
	struct broker b = { 0 };
	struct catchup *c = tracker(&b);

	(void)state;
	catchup_assign(c, 0, PARTITIONS, true);
	catchup_assign(c, TOPICS, 1, true);
	catchup_assign(c, 0, -1, true);
	catchup_applied(c, 0, PARTITIONS, 1);
	prepare_ok(c, PARTITIONS);
	assert_false(catchup_ready(c, PARTITIONS));
	assert_false(catchup_ready(c, 1));
	assert_int_equal(catchup_pending(c), 0);
	catchup_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unassigned_partition_is_not_ready),
		cmocka_unit_test(
			test_partition_resuming_at_its_end_is_ready_at_once),
		cmocka_unit_test(
			test_backlog_must_be_applied_to_its_last_message),
		cmocka_unit_test(test_messages_applied_before_the_answer_count),
		cmocka_unit_test(test_every_assigned_topic_must_be_caught_up),
		cmocka_unit_test(test_failed_ask_is_asked_again),
		cmocka_unit_test(test_new_assignment_forgets_what_was_known),
		cmocka_unit_test(
			test_answer_for_an_older_assignment_is_dropped),
		cmocka_unit_test(test_partitions_out_of_range_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
