/* test_worker_decide.c: every fire-time decision rule, one test each. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies decide_evaluate: a reminder is suppressed with the right reason
 * when the invoice is paid, cancelled, disputed, not dunnable or has
 * nothing due, when the customer opted out or never opted in, after
 * escalation, past its deadline and over the frequency cap; it is
 * postponed, never sent, before its time or outside the send window; and
 * reason names match the stats fields of contract 9.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "../../worker/decide.h"
#include "error.h"
#include "../../worker/schedule.h"
#include "../../worker/workflow.h"

/* Monday to Friday 09:00-20:00, cap of 2 messages per 7 days. */
static const char yaml[] =
	"version: 1\n"
	"tenants:\n"
	"  default:\n"
	"    send_window: {start: \"09:00\", end: \"20:00\",\n"
	"                  weekdays: [mon, tue, wed, thu, fri]}\n"
	"    frequency_cap: {max_messages: 2, per_days: 7}\n"
	"    command_deadline_minutes: 120\n"
	"    steps:\n"
	"      - name: due\n"
	"        offset_days: 0\n"
	"        send_time: \"10:00\"\n"
	"        templates: {en: {template: payment_due, language: en}}\n"
	"  uncapped:\n"
	"    frequency_cap: {max_messages: 0, per_days: 1}\n";

static int64_t at(const char *iso)
{
	int64_t ms = 0;

	assert_int_equal(config_parse_instant(iso, &ms), 0);
	return ms;
}

struct fixture {
	struct workflow *wf;
	struct decide_snapshot s;
	struct decision d;
};

/* A reminder due Tuesday 2026-03-17 10:00 Madrid (09:00Z) that should be
 * sent: each test changes one fact. */
static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	char err[256];

	if (workflow_load_string(yaml, strlen(yaml), "decide.yaml", &f->wf, err,
				 sizeof(err)))
		fail_msg("%s", err);
	f->s.status = DECIDE_INVOICE_OPEN;
	f->s.outstanding_minor = 50000;
	f->s.opt_in = DECIDE_OPTED_IN;
	f->s.now_ms = at("2026-03-17T09:00:05Z");
	f->s.planned_ms = at("2026-03-17T09:00:00Z");
	f->s.deadline_ms = at("2026-03-17T11:00:00Z");
	f->s.send_minute = 600;
	f->s.workflow = workflow_tenant(f->wf, NULL);
	f->s.time_zone = "Europe/Madrid";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	workflow_free(f->wf);
	test_free(f);
	schedule_thread_release();
	return 0;
}

static void decide(struct fixture *f)
{
	char err[256];

	if (decide_evaluate(&f->s, &f->d, err, sizeof(err)))
		fail_msg("%s", err);
}

static void assert_suppressed(struct fixture *f, enum decide_reason reason)
{
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SUPPRESS);
	assert_string_equal(decide_reason_name(f->d.reason),
			    decide_reason_name(reason));
	assert_int_equal(f->d.postpone_to_ms, 0);
}

static void test_open_invoice_in_window_is_sent(void **state)
{
	struct fixture *f = *state;

	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SEND);
	assert_int_equal(f->d.reason, DECIDE_REASON_NONE);
}

static void test_paid_invoice_is_never_reminded(void **state)
{
	struct fixture *f = *state;

	f->s.status = DECIDE_INVOICE_PAID;
	assert_suppressed(f, DECIDE_REASON_PAID);
}

static void test_cancelled_invoice_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.status = DECIDE_INVOICE_CANCELLED;
	assert_suppressed(f, DECIDE_REASON_CANCELLED);
}

static void test_disputed_invoice_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.status = DECIDE_INVOICE_DISPUTED;
	assert_suppressed(f, DECIDE_REASON_DISPUTED);
}

static void test_not_dunnable_invoice_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.not_dunnable = true;
	assert_suppressed(f, DECIDE_REASON_NOT_DUNNABLE);
}

static void test_nothing_outstanding_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.outstanding_minor = 0;
	assert_suppressed(f, DECIDE_REASON_NOTHING_DUE);
	f->s.outstanding_minor = -100;
	assert_suppressed(f, DECIDE_REASON_NOTHING_DUE);
}

static void test_partially_paid_invoice_is_still_sent(void **state)
{
	struct fixture *f = *state;

	f->s.outstanding_minor = 1;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SEND);
}

static void test_opted_out_customer_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.opt_in = DECIDE_OPTED_OUT;
	assert_suppressed(f, DECIDE_REASON_OPTED_OUT);
}

static void test_customer_without_opt_in_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.opt_in = DECIDE_OPT_IN_UNKNOWN;
	assert_suppressed(f, DECIDE_REASON_NO_OPT_IN);
}

static void test_after_escalation_only_final_step_is_sent(void **state)
{
	struct fixture *f = *state;

	f->s.escalated = true;
	assert_suppressed(f, DECIDE_REASON_ESCALATED);
	f->s.final_step = true;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SEND);
}

static void test_paid_wins_over_every_other_reason(void **state)
{
	struct fixture *f = *state;

	f->s.status = DECIDE_INVOICE_PAID;
	f->s.opt_in = DECIDE_OPTED_OUT;
	f->s.now_ms = at("2026-03-17T23:00:00Z"); /* outside the window */
	f->s.sent_in_cap_window = 10;
	assert_suppressed(f, DECIDE_REASON_PAID);
}

static void test_past_deadline_is_expired(void **state)
{
	struct fixture *f = *state;

	f->s.now_ms = at("2026-03-17T11:00:01Z");
	assert_suppressed(f, DECIDE_REASON_EXPIRED);
}

static void test_at_deadline_is_still_sent(void **state)
{
	struct fixture *f = *state;

	f->s.now_ms = f->s.deadline_ms;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SEND);
}

static void test_early_claim_is_postponed_to_planned_instant(void **state)
{
	struct fixture *f = *state;

	f->s.now_ms = at("2026-03-17T08:59:59Z");
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_POSTPONE);
	assert_int_equal(f->d.reason, DECIDE_REASON_TOO_EARLY);
	assert_int_equal(f->d.postpone_to_ms, f->s.planned_ms);
}

static void test_outside_window_is_postponed_to_next_morning(void **state)
{
	struct fixture *f = *state;

	/* 21:30 local on Tuesday: Wednesday 09:00 local, 08:00Z. */
	f->s.planned_ms = at("2026-03-17T20:00:00Z");
	f->s.now_ms = at("2026-03-17T20:30:00Z");
	f->s.deadline_ms = at("2026-03-18T12:00:00Z");
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_POSTPONE);
	assert_int_equal(f->d.reason, DECIDE_REASON_OUTSIDE_WINDOW);
	assert_int_equal(f->d.postpone_to_ms, at("2026-03-18T08:00:00Z"));
	assert_true(f->d.postpone_to_ms > f->s.now_ms);
}

static void test_weekend_is_postponed_to_monday(void **state)
{
	struct fixture *f = *state;

	/* Saturday noon: Monday 10:00 local, the step's own time. */
	f->s.planned_ms = at("2026-03-21T11:00:00Z");
	f->s.now_ms = at("2026-03-21T11:00:00Z");
	f->s.deadline_ms = 0;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_POSTPONE);
	assert_int_equal(f->d.postpone_to_ms, at("2026-03-23T09:00:00Z"));
}

static void test_postponement_past_deadline_is_expired(void **state)
{
	struct fixture *f = *state;

	f->s.planned_ms = at("2026-03-17T18:30:00Z");
	f->s.now_ms = at("2026-03-17T19:30:00Z");
	f->s.deadline_ms = at("2026-03-17T20:30:00Z");
	assert_suppressed(f, DECIDE_REASON_EXPIRED);
}

static void test_frequency_cap_reached_is_suppressed(void **state)
{
	struct fixture *f = *state;

	f->s.sent_in_cap_window = 2;
	assert_suppressed(f, DECIDE_REASON_FREQUENCY_CAP);
	f->s.sent_in_cap_window = 1;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SEND);
}

static void test_tenant_without_cap_sends_any_number(void **state)
{
	struct fixture *f = *state;

	f->s.workflow = workflow_tenant(f->wf, "uncapped");
	f->s.sent_in_cap_window = 1000;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_SEND);
}

static void test_window_is_checked_before_the_cap(void **state)
{
	struct fixture *f = *state;

	/* Capped now, but the cap may have moved by the next window. */
	f->s.sent_in_cap_window = 5;
	f->s.planned_ms = at("2026-03-17T04:00:00Z");
	f->s.now_ms = at("2026-03-17T05:00:00Z");
	f->s.deadline_ms = 0;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_POSTPONE);
	assert_int_equal(f->d.postpone_to_ms, at("2026-03-17T08:00:00Z"));
}

static void test_customer_far_east_uses_local_window(void **state)
{
	struct fixture *f = *state;

	/* 09:00Z is 22:00 in Tongatapu: outside its window. */
	f->s.time_zone = "Pacific/Tongatapu";
	f->s.deadline_ms = 0;
	decide(f);
	assert_int_equal(f->d.verdict, DECIDE_POSTPONE);
	assert_int_equal(f->d.postpone_to_ms, at("2026-03-17T20:00:00Z"));
}

static void test_unknown_zone_is_an_error_and_never_a_send(void **state)
{
	struct fixture *f = *state;
	char err[256];

	f->s.time_zone = "Atlantis/Capital";
	assert_int_equal(decide_evaluate(&f->s, &f->d, err, sizeof(err)),
			 DN_ERR_INVALID);
	assert_int_equal(f->d.verdict, DECIDE_SUPPRESS);
	assert_non_null(strstr(err, "Atlantis/Capital"));
}

static void test_missing_workflow_is_an_error(void **state)
{
	struct fixture *f = *state;

	f->s.workflow = NULL;
	assert_int_equal(decide_evaluate(&f->s, &f->d, NULL, 0),
			 DN_ERR_INVALID);
	assert_int_equal(f->d.verdict, DECIDE_SUPPRESS);
}

static void test_reason_names_match_stats_fields(void **state)
{
	static const char *const names[] = {
		"paid",	      "cancelled",     "disputed",	 "no_opt_in",
		"opted_out",  "frequency_cap", "not_dunnable",	 "nothing_due",
		"escalated",  "expired",       "outside_window", "too_early",
		"superseded",
	};

	(void)state;
	assert_string_equal(decide_reason_name(DECIDE_REASON_NO_OPT_IN),
			    "no_opt_in");
	assert_string_equal(decide_reason_name(DECIDE_REASON_FREQUENCY_CAP),
			    "frequency_cap");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_string_equal(
			decide_reason_name(decide_reason_parse(names[i])),
			names[i]);
	assert_int_equal(decide_reason_parse("sunny"), -1);
	assert_string_equal(decide_reason_name(DECIDE_REASON_COUNT), "unknown");
	assert_string_equal(decide_verdict_name(DECIDE_POSTPONE), "postpone");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_invoice_in_window_is_sent),
		T(test_paid_invoice_is_never_reminded),
		T(test_cancelled_invoice_is_suppressed),
		T(test_disputed_invoice_is_suppressed),
		T(test_not_dunnable_invoice_is_suppressed),
		T(test_nothing_outstanding_is_suppressed),
		T(test_partially_paid_invoice_is_still_sent),
		T(test_opted_out_customer_is_suppressed),
		T(test_customer_without_opt_in_is_suppressed),
		T(test_after_escalation_only_final_step_is_sent),
		T(test_paid_wins_over_every_other_reason),
		T(test_past_deadline_is_expired),
		T(test_at_deadline_is_still_sent),
		T(test_early_claim_is_postponed_to_planned_instant),
		T(test_outside_window_is_postponed_to_next_morning),
		T(test_weekend_is_postponed_to_monday),
		T(test_postponement_past_deadline_is_expired),
		T(test_frequency_cap_reached_is_suppressed),
		T(test_tenant_without_cap_sends_any_number),
		T(test_window_is_checked_before_the_cap),
		T(test_customer_far_east_uses_local_window),
		T(test_unknown_zone_is_an_error_and_never_a_send),
		T(test_missing_workflow_is_an_error),
		cmocka_unit_test(test_reason_names_match_stats_fields),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
