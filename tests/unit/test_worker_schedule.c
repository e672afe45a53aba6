/* test_worker_schedule.c: local send times across DST, and next actions. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies the schedule arithmetic: "due date + offset at HH:MM local" as a
 * UTC instant before and after daylight-saving changes in Europe/Madrid and
 * America/Sao_Paulo (historic 2018 DST with a missing midnight, and today
 * without DST), month ends, 29 February, a due date on a Sunday, customers
 * in UTC+13 and UTC-10, the send window, and the next action of an invoice
 * under the default workflow (deploy/workflow.yaml). The integer fast path
 * between two offset transitions is checked against ICU itself, instant
 * by instant, across transitions in zones with odd offsets and a day-long
 * jump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "config.h"
#include "error.h"
#include "../../worker/schedule.h"
#include "../../worker/workflow.h"

/* A tenant with a Monday-to-Friday window 09:00-20:00 and one step due on
 * the due date at 10:00, for window and weekday tests. */
static const char window_yaml[] =
	"version: 1\n"
	"tenants:\n"
	"  default:\n"
	"    send_window: {start: \"09:00\", end: \"20:00\",\n"
	"                  weekdays: [mon, tue, wed, thu, fri]}\n"
	"    skip_to_business_day: true\n"
	"    holidays: [\"2026-04-06\"]\n"
	"    frequency_cap: {max_messages: 2, per_days: 7}\n"
	"    steps:\n"
	"      - name: due\n"
	"        offset_days: 0\n"
	"        send_time: \"10:00\"\n"
	"        templates: {en: {template: payment_due, language: en}}\n"
	"  no-skip:\n"
	"    skip_to_business_day: false\n";

static int64_t at(const char *iso)
{
	int64_t ms = 0;

	assert_int_equal(config_parse_instant(iso, &ms), 0);
	return ms;
}

static struct workflow_date date(int y, int m, int d)
{
	struct workflow_date out = { y, m, d };

	return out;
}

/* Local wall time minute of (date + offset) in zone, as a UTC instant. */
static int64_t local(const char *zone, struct workflow_date d, int offset,
		     int hour, int minute)
{
	char err[256];
	int64_t ms = 0;
	int rc = schedule_local_instant(zone, d, offset, hour * 60 + minute,
					&ms, err, sizeof(err));

	if (rc)
		fail_msg("%s", err);
	return ms;
}

static struct workflow *load(const char *text)
{
	char err[512];
	struct workflow *wf = NULL;

	if (workflow_load_string(text, strlen(text), "test.yaml", &wf, err,
				 sizeof(err)))
		fail_msg("%s", err);
	return wf;
}

static struct workflow *load_default(void)
{
	const char *root = getenv("DUNNING_ROOT");
	char path[1024], err[512];
	struct workflow *wf = NULL;

	snprintf(path, sizeof(path), "%s/deploy/workflow.yaml",
		 root ? root : ".");
	if (workflow_load_file(path, &wf, err, sizeof(err)))
		fail_msg("%s", err);
	return wf;
}

static int teardown_thread(void **state)
{
	(void)state;
	schedule_thread_release();
	return 0;
}

/* ------------------------------------------------------------------ */
/* Europe/Madrid */

static void test_madrid_winter_ten_local_is_nine_utc(void **state)
{
	(void)state;
	assert_int_equal(local("Europe/Madrid", date(2026, 3, 27), 0, 10, 0),
			 at("2026-03-27T09:00:00Z"));
}

static void
test_madrid_offset_across_spring_forward_keeps_ten_local(void **state)
{
	(void)state;
	/* Due Friday in winter time, +3 days lands in summer time. */
	assert_int_equal(local("Europe/Madrid", date(2026, 3, 27), 3, 10, 0),
			 at("2026-03-30T08:00:00Z"));
}

static void test_madrid_missing_hour_moves_forward(void **state)
{
	(void)state;
	/* 02:30 does not exist on 2026-03-29: it becomes 03:30 CEST. */
	assert_int_equal(local("Europe/Madrid", date(2026, 3, 29), 0, 2, 30),
			 at("2026-03-29T01:30:00Z"));
}

static void test_madrid_repeated_hour_takes_first_occurrence(void **state)
{
	(void)state;
	/* 02:30 happens twice on 2026-10-25; the first is still CEST. */
	assert_int_equal(local("Europe/Madrid", date(2026, 10, 25), 0, 2, 30),
			 at("2026-10-25T00:30:00Z"));
}

static void test_madrid_offset_across_fall_back_keeps_ten_local(void **state)
{
	(void)state;
	assert_int_equal(local("Europe/Madrid", date(2026, 10, 23), 0, 10, 0),
			 at("2026-10-23T08:00:00Z"));
	assert_int_equal(local("Europe/Madrid", date(2026, 10, 23), 3, 10, 0),
			 at("2026-10-26T09:00:00Z"));
}

/* ------------------------------------------------------------------ */
/* America/Sao_Paulo */

static void test_sao_paulo_2018_missing_midnight_moves_to_one(void **state)
{
	(void)state;
	/* DST began at local midnight on 2018-11-04: 00:00 is 01:00 -02. */
	assert_int_equal(local("America/Sao_Paulo", date(2018, 11, 4), 0, 0, 0),
			 at("2018-11-04T03:00:00Z"));
}

static void test_sao_paulo_2018_before_and_after_dst_start(void **state)
{
	(void)state;
	assert_int_equal(
		local("America/Sao_Paulo", date(2018, 11, 1), 2, 10, 0),
		at("2018-11-03T13:00:00Z"));
	assert_int_equal(
		local("America/Sao_Paulo", date(2018, 11, 1), 4, 10, 0),
		at("2018-11-05T12:00:00Z"));
}

static void test_sao_paulo_2019_repeated_hour_takes_first(void **state)
{
	(void)state;
	/* DST ended at midnight of 2019-02-17: 23:30 on the 16th twice. */
	assert_int_equal(
		local("America/Sao_Paulo", date(2019, 2, 16), 0, 23, 30),
		at("2019-02-17T01:30:00Z"));
}

static void test_sao_paulo_today_has_no_dst(void **state)
{
	(void)state;
	assert_int_equal(local("America/Sao_Paulo", date(2026, 11, 4), 0, 0, 0),
			 at("2026-11-04T03:00:00Z"));
	assert_int_equal(
		local("America/Sao_Paulo", date(2026, 1, 15), 0, 10, 0),
		at("2026-01-15T13:00:00Z"));
}

/* ------------------------------------------------------------------ */
/* Calendar days */

static void test_offset_crosses_month_end(void **state)
{
	(void)state;
	assert_int_equal(local("UTC", date(2026, 1, 31), 1, 10, 0),
			 at("2026-02-01T10:00:00Z"));
	assert_int_equal(local("UTC", date(2026, 3, 31), -31, 10, 0),
			 at("2026-02-28T10:00:00Z"));
	assert_int_equal(local("UTC", date(2026, 4, 30), 1, 10, 0),
			 at("2026-05-01T10:00:00Z"));
}

static void test_negative_offset_crosses_year_end(void **state)
{
	(void)state;
	assert_int_equal(local("Europe/Madrid", date(2026, 1, 3), -7, 10, 0),
			 at("2025-12-27T09:00:00Z"));
}

static void test_leap_year_reaches_29_february(void **state)
{
	(void)state;
	assert_int_equal(local("UTC", date(2028, 2, 22), 7, 10, 0),
			 at("2028-02-29T10:00:00Z"));
	assert_int_equal(local("UTC", date(2028, 3, 7), -7, 10, 0),
			 at("2028-02-29T10:00:00Z"));
}

static void test_non_leap_year_skips_29_february(void **state)
{
	(void)state;
	assert_int_equal(local("UTC", date(2027, 2, 22), 7, 10, 0),
			 at("2027-03-01T10:00:00Z"));
	assert_int_equal(local("UTC", date(2027, 3, 7), -7, 10, 0),
			 at("2027-02-28T10:00:00Z"));
}

static void test_due_on_29_february_offsets(void **state)
{
	(void)state;
	assert_int_equal(local("UTC", date(2024, 2, 29), 365, 10, 0),
			 at("2025-02-28T10:00:00Z"));
	assert_int_equal(local("UTC", date(2024, 2, 29), 1, 10, 0),
			 at("2024-03-01T10:00:00Z"));
}

static void test_day_numbers_round_trip(void **state)
{
	struct workflow_date d;

	(void)state;
	assert_int_equal(schedule_date_to_days(date(1970, 1, 1)), 0);
	assert_int_equal(schedule_date_to_days(date(2000, 3, 1)), 11017);
	for (int32_t days = 10000; days < 25000; days += 13) {
		d = schedule_date_from_days(days);
		assert_int_equal(schedule_date_to_days(d), days);
	}
	d = schedule_date_from_days(schedule_date_to_days(date(2028, 2, 29)));
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 29);
}

static void test_weekday_of_known_dates(void **state)
{
	(void)state;
	assert_int_equal(schedule_date_weekday(date(2026, 3, 15)),
			 WORKFLOW_SUNDAY);
	assert_int_equal(schedule_date_weekday(date(2026, 1, 1)),
			 WORKFLOW_THURSDAY);
	assert_int_equal(schedule_date_weekday(date(2024, 2, 29)),
			 WORKFLOW_THURSDAY);
}

static void test_invalid_date_and_minute_are_errors(void **state)
{
	char err[256];
	int64_t ms;

	(void)state;
	assert_int_equal(schedule_local_instant("UTC", date(2027, 2, 29), 0,
						600, &ms, err, sizeof(err)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(err, "2027-02-29"));
	assert_int_equal(schedule_local_instant("UTC", date(2027, 2, 1), 0,
						1440, &ms, err, sizeof(err)),
			 DN_ERR_INVALID);
}

/* ------------------------------------------------------------------ */
/* Far-off zones and day keys */

static void test_tonga_customer_at_utc_plus_13(void **state)
{
	char key[SCHEDULE_DAY_KEY_MAX];
	int64_t due = local("Pacific/Tongatapu", date(2026, 3, 15), 0, 10, 0);

	(void)state;
	assert_int_equal(due, at("2026-03-14T21:00:00Z"));
	assert_int_equal(schedule_day_key("Pacific/Tongatapu", due, key,
					  sizeof(key), NULL, 0),
			 0);
	assert_string_equal(key, "2026-03-15");
}

static void test_honolulu_customer_at_utc_minus_10(void **state)
{
	char key[SCHEDULE_DAY_KEY_MAX];

	(void)state;
	assert_int_equal(local("Pacific/Honolulu", date(2026, 3, 15), 0, 10, 0),
			 at("2026-03-15T20:00:00Z"));
	assert_int_equal(schedule_day_key("Pacific/Honolulu",
					  at("2026-03-16T05:00:00Z"), key,
					  sizeof(key), NULL, 0),
			 0);
	assert_string_equal(key, "2026-03-15");
}

static void test_day_key_needs_room(void **state)
{
	char key[8];

	(void)state;
	assert_int_equal(schedule_day_key("UTC", 0, key, sizeof(key), NULL, 0),
			 DN_ERR_TOO_LARGE);
	assert_string_equal(key, "");
}

static void test_unknown_zone_is_an_error_not_utc(void **state)
{
	char err[256];
	int64_t ms;

	(void)state;
	assert_false(schedule_zone_valid("Mars/Olympus_Mons"));
	assert_false(schedule_zone_valid(""));
	assert_false(schedule_zone_valid(NULL));
	assert_true(schedule_zone_valid("Europe/Madrid"));
	assert_int_equal(schedule_local_instant("Mars/Olympus_Mons",
						date(2026, 1, 1), 0, 600, &ms,
						err, sizeof(err)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(err, "Mars/Olympus_Mons"));
}

static void test_local_date_reads_minutes(void **state)
{
	struct workflow_date d;
	int minute = -1;

	(void)state;
	assert_int_equal(schedule_local_date("Europe/Madrid",
					     at("2026-07-01T22:30:00Z"), &d,
					     &minute, NULL, 0),
			 0);
	assert_int_equal(d.day, 2);
	assert_int_equal(minute, 30);
}

/* ------------------------------------------------------------------ */
/* Send window */

static void test_instant_inside_window_is_unchanged(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t in = at("2026-03-17T10:00:00Z"), out = 0;

	(void)state;
	assert_int_equal(schedule_next_allowed(workflow_tenant(wf, NULL),
					       "Europe/Madrid", in, 600, &out,
					       NULL, 0),
			 0);
	assert_int_equal(out, in);
	workflow_free(wf);
}

static void test_before_window_moves_to_window_start(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t out = 0;

	(void)state;
	/* 07:00 local on a Tuesday: 09:00 the same day. */
	assert_int_equal(schedule_next_allowed(workflow_tenant(wf, NULL),
					       "Europe/Madrid",
					       at("2026-03-17T06:00:00Z"), 600,
					       &out, NULL, 0),
			 0);
	assert_int_equal(out, at("2026-03-17T08:00:00Z"));
	workflow_free(wf);
}

static void test_after_window_moves_to_next_day_start(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t out = 0;

	(void)state;
	/* 21:00 local on a Friday: Monday 09:00. */
	assert_int_equal(schedule_next_allowed(workflow_tenant(wf, NULL),
					       "Europe/Madrid",
					       at("2026-03-20T20:00:00Z"), 600,
					       &out, NULL, 0),
			 0);
	assert_int_equal(out, at("2026-03-23T08:00:00Z"));
	workflow_free(wf);
}

static void test_window_end_is_exclusive(void **state)
{
	struct workflow *wf = load(window_yaml);
	bool allowed = true;

	(void)state;
	assert_int_equal(schedule_is_allowed(workflow_tenant(wf, NULL), "UTC",
					     at("2026-03-17T20:00:00Z"),
					     &allowed, NULL, 0),
			 0);
	assert_false(allowed);
	assert_int_equal(schedule_is_allowed(workflow_tenant(wf, NULL), "UTC",
					     at("2026-03-17T19:59:00Z"),
					     &allowed, NULL, 0),
			 0);
	assert_true(allowed);
	workflow_free(wf);
}

static void test_sunday_skips_to_monday_at_step_time(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t out = 0;

	(void)state;
	/* 2026-03-15 is a Sunday. */
	assert_int_equal(
		schedule_next_allowed(
			workflow_tenant(wf, NULL), "Europe/Madrid",
			local("Europe/Madrid", date(2026, 3, 15), 0, 10, 0),
			600, &out, NULL, 0),
		0);
	assert_int_equal(out, at("2026-03-16T09:00:00Z"));
	workflow_free(wf);
}

static void test_sunday_without_skip_moves_to_window_start(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t out = 0;

	(void)state;
	assert_int_equal(
		schedule_next_allowed(
			workflow_tenant(wf, "no-skip"), "Europe/Madrid",
			local("Europe/Madrid", date(2026, 3, 15), 0, 10, 0),
			600, &out, NULL, 0),
		0);
	assert_int_equal(out, at("2026-03-16T08:00:00Z"));
	workflow_free(wf);
}

static void test_holiday_moves_to_next_business_day(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t out = 0;

	(void)state;
	/* Monday 2026-04-06 is a holiday of the tenant: Tuesday. */
	assert_int_equal(
		schedule_next_allowed(
			workflow_tenant(wf, NULL), "Europe/Madrid",
			local("Europe/Madrid", date(2026, 4, 6), 0, 10, 0), 600,
			&out, NULL, 0),
		0);
	assert_int_equal(out, at("2026-04-07T08:00:00Z"));
	workflow_free(wf);
}

static void test_cap_window_starts_at_local_midnight(void **state)
{
	struct workflow *wf = load(window_yaml);
	int64_t out = 0;

	(void)state;
	/* Cap of 7 days: today 2026-03-15 and the 6 days before. */
	assert_int_equal(schedule_cap_window_start(
				 workflow_tenant(wf, NULL), "Europe/Madrid",
				 at("2026-03-15T12:00:00Z"), &out, NULL, 0),
			 0);
	assert_int_equal(out, at("2026-03-08T23:00:00Z"));
	workflow_free(wf);
}

/* ------------------------------------------------------------------ */
/* Next action under the default workflow */

struct flow {
	struct workflow *wf;
	const struct workflow_tenant *t;
	struct schedule_step_history history[WORKFLOW_MAX_STEPS];
	struct schedule_facts facts;
	int notice, due, reminder, final;
};

static void flow_init(struct flow *f, const char *now)
{
	memset(f, 0, sizeof(*f));
	f->wf = load_default();
	f->t = workflow_tenant(f->wf, "any-tenant");
	f->notice = workflow_step_index(f->t, "notice");
	f->due = workflow_step_index(f->t, "due");
	f->reminder = workflow_step_index(f->t, "reminder");
	f->final = workflow_step_index(f->t, "final");
	assert_true(f->notice >= 0 && f->due >= 0 && f->reminder >= 0 &&
		    f->final >= 0);
	/* Due Wednesday 2026-04-15, Madrid (CEST, UTC+2). */
	f->facts.due_date = date(2026, 4, 15);
	f->facts.time_zone = "Europe/Madrid";
	f->facts.amount_minor = 50000;
	f->facts.currency = "EUR";
	f->facts.history = f->history;
	f->facts.n_history = WORKFLOW_MAX_STEPS;
	f->facts.now_ms = at(now);
}

static void flow_done(struct flow *f, int step, const char *when)
{
	f->history[step].done++;
	f->history[step].last_ms = at(when);
}

static struct schedule_action flow_next(struct flow *f)
{
	struct schedule_action a;
	char err[256];

	if (schedule_next(f->t, &f->facts, &a, err, sizeof(err)))
		fail_msg("%s", err);
	return a;
}

static void test_new_invoice_first_gets_notice_a_week_before(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-01T12:00:00Z");
	a = flow_next(&f);
	assert_false(a.done);
	assert_int_equal(a.step_index, f.notice);
	assert_int_equal(a.fire_ms, at("2026-04-08T08:00:00Z"));
	assert_int_equal(a.deadline_ms, a.fire_ms + f.t->deadline_ms);
	workflow_free(f.wf);
}

static void test_after_notice_comes_due_day_alert_at_ten(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-08T08:00:01Z");
	flow_done(&f, f.notice, "2026-04-08T08:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.due);
	assert_int_equal(a.fire_ms, at("2026-04-15T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_reminder_on_saturday_moves_to_monday(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-15T08:00:01Z");
	flow_done(&f, f.notice, "2026-04-08T08:00:00Z");
	flow_done(&f, f.due, "2026-04-15T08:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.occurrence, 0);
	assert_int_equal(a.planned_ms, at("2026-04-18T08:00:00Z"));
	assert_int_equal(a.fire_ms, at("2026-04-20T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_reminder_repeats_a_week_after_last_send(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-20T08:00:01Z");
	flow_done(&f, f.notice, "2026-04-08T08:00:00Z");
	flow_done(&f, f.due, "2026-04-15T08:00:00Z");
	flow_done(&f, f.reminder, "2026-04-20T08:00:00Z");
	f.facts.unanswered = 1;
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.occurrence, 1);
	assert_int_equal(a.fire_ms, at("2026-04-27T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_three_unanswered_reminders_escalate_to_final(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-05-04T08:00:01Z");
	flow_done(&f, f.due, "2026-04-15T08:00:00Z");
	flow_done(&f, f.reminder, "2026-04-20T08:00:00Z");
	flow_done(&f, f.reminder, "2026-04-27T08:00:00Z");
	flow_done(&f, f.reminder, "2026-05-04T08:00:00Z");
	f.facts.unanswered = 3;
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.final);
	assert_int_equal(a.fire_ms, at("2026-05-11T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_reply_resets_escalation_and_reminders_go_on(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-05-04T08:00:01Z");
	flow_done(&f, f.reminder, "2026-04-20T08:00:00Z");
	flow_done(&f, f.reminder, "2026-04-27T08:00:00Z");
	flow_done(&f, f.reminder, "2026-05-04T08:00:00Z");
	f.facts.unanswered = 0;
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.occurrence, 3);
	workflow_free(f.wf);
}

static void test_escalated_invoice_has_nothing_more(void **state)
{
	struct flow f;

	(void)state;
	flow_init(&f, "2026-05-12T08:00:00Z");
	flow_done(&f, f.final, "2026-05-11T08:00:00Z");
	f.facts.unanswered = 3;
	f.facts.escalated = true;
	assert_true(flow_next(&f).done);
	f.facts.escalated = false; /* the final step's history says it too */
	assert_true(flow_next(&f).done);
	workflow_free(f.wf);
}

static void test_late_import_skips_stale_notice_and_due_alert(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	/* A day after the due alert's deadline: no "due today" any more. */
	flow_init(&f, "2026-04-16T12:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.fire_ms, at("2026-04-20T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_step_late_within_deadline_fires_now(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-15T09:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.due);
	assert_int_equal(a.fire_ms, at("2026-04-15T08:00:00Z"));
	assert_true(a.fire_ms < f.facts.now_ms);
	workflow_free(f.wf);
}

static void test_long_overdue_import_reminds_at_next_send_time(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-05-05T12:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.fire_ms, at("2026-05-06T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_same_rules_in_sao_paulo_today(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-01T12:00:00Z");
	f.facts.time_zone = "America/Sao_Paulo";
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.notice);
	assert_int_equal(a.fire_ms, at("2026-04-08T13:00:00Z"));
	workflow_free(f.wf);
}

static void test_reminder_after_spring_forward_stays_at_ten_local(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	/* Due Friday 2026-03-27 (CET); the reminder is Monday in CEST. */
	flow_init(&f, "2026-03-27T09:00:01Z");
	f.facts.due_date = date(2026, 3, 27);
	flow_done(&f, f.notice, "2026-03-20T09:00:00Z");
	flow_done(&f, f.due, "2026-03-27T09:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.fire_ms, at("2026-03-30T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_reminder_after_fall_back_stays_at_ten_local(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	/* Due Friday 2026-10-23 (CEST); the reminder is Monday in CET. */
	flow_init(&f, "2026-10-23T08:00:01Z");
	f.facts.due_date = date(2026, 10, 23);
	flow_done(&f, f.notice, "2026-10-16T08:00:00Z");
	flow_done(&f, f.due, "2026-10-23T08:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.fire_ms, at("2026-10-26T09:00:00Z"));
	workflow_free(f.wf);
}

static void test_notice_for_customers_at_utc_plus_13_and_minus_10(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-01T00:00:00Z");
	f.facts.time_zone = "Pacific/Tongatapu";
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.notice);
	/* Wednesday 2026-04-08 10:00 in Tonga is Tuesday 21:00Z. */
	assert_int_equal(a.fire_ms, at("2026-04-07T21:00:00Z"));
	f.facts.time_zone = "Pacific/Honolulu";
	a = flow_next(&f);
	assert_int_equal(a.fire_ms, at("2026-04-08T20:00:00Z"));
	workflow_free(f.wf);
}

static const char conditions_yaml[] =
	"version: 1\n"
	"tenants:\n"
	"  default:\n"
	"    steps:\n"
	"      - name: notice\n"
	"        offset_days: -7\n"
	"        send_time: \"10:00\"\n"
	"        templates: {en: {template: payment_notice, language: en}}\n"
	"        conditions:\n"
	"          min_amount: {minor_units: 10000, currency: EUR}\n"
	"          segments: [late, chronic]\n"
	"      - name: due\n"
	"        offset_days: 0\n"
	"        send_time: \"10:00\"\n"
	"        templates: {en: {template: payment_due, language: en}}\n";

static void test_step_conditions_skip_small_or_other_segment(void **state)
{
	struct workflow *wf = load(conditions_yaml);
	const struct workflow_tenant *t = workflow_tenant(wf, NULL);
	struct schedule_facts facts = {
		.due_date = { 2026, 4, 15 },
		.time_zone = "UTC",
		.amount_minor = 5000,
		.currency = "EUR",
		.segment = "late",
		.now_ms = at("2026-04-01T00:00:00Z"),
	};
	struct schedule_action a;

	(void)state;
	assert_int_equal(schedule_next(t, &facts, &a, NULL, 0), 0);
	assert_int_equal(a.step_index, 1);
	facts.amount_minor = 50000;
	assert_int_equal(schedule_next(t, &facts, &a, NULL, 0), 0);
	assert_int_equal(a.step_index, 0);
	facts.segment = "prompt";
	assert_int_equal(schedule_next(t, &facts, &a, NULL, 0), 0);
	assert_int_equal(a.step_index, 1);
	/* A minimum in EUR does not limit a USD invoice. */
	facts.segment = "chronic";
	facts.currency = "USD";
	facts.amount_minor = 1;
	assert_int_equal(schedule_next(t, &facts, &a, NULL, 0), 0);
	assert_int_equal(a.step_index, 0);
	workflow_free(wf);
}

static void test_last_one_shot_step_done_means_nothing_more(void **state)
{
	struct workflow *wf = load(conditions_yaml);
	struct schedule_step_history history[2] = { { 0, 0 }, { 1, 1 } };
	struct schedule_facts facts = {
		.due_date = { 2026, 4, 15 },
		.time_zone = "UTC",
		.amount_minor = 5000,
		.currency = "EUR",
		.history = history,
		.n_history = 2,
		.unanswered = 9,
		.now_ms = at("2026-04-16T00:00:00Z"),
	};
	struct schedule_action a;

	(void)state;
	/* No escalation in this workflow: unanswered does not matter. */
	assert_int_equal(
		schedule_next(workflow_tenant(wf, NULL), &facts, &a, NULL, 0),
		0);
	assert_true(a.done);
	workflow_free(wf);
}

static void test_on_time_plan_passes_no_step_over(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	flow_init(&f, "2026-04-15T09:00:00Z");
	flow_done(&f, f.notice, "2026-04-08T08:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.due);
	assert_int_equal(a.expired_steps, 0);
	assert_int_equal(a.superseded_steps, 0);
	workflow_free(f.wf);
}

static void test_late_plan_reports_expired_notice_and_due_alert(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	/* No worker ran from before the notice until after the due alert's
	 * deadline: both are reported, the reminder is next. */
	flow_init(&f, "2026-04-16T12:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.reminder);
	assert_int_equal(a.expired_steps, (1u << f.notice) | (1u << f.due));
	assert_int_equal(a.superseded_steps, 0);
	/* The notice was sent: only the due alert is passed over. */
	flow_done(&f, f.notice, "2026-04-08T08:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.expired_steps, 1u << f.due);
	workflow_free(f.wf);
}

static const char long_deadline_yaml[] =
	"version: 1\n"
	"tenants:\n"
	"  default:\n"
	"    command_deadline_minutes: 10080\n"
	"    steps:\n"
	"      - name: due\n"
	"        offset_days: 0\n"
	"        send_time: \"10:00\"\n"
	"        templates: {en: {template: payment_due, language: en}}\n"
	"      - name: reminder\n"
	"        offset_days: 3\n"
	"        send_time: \"10:00\"\n"
	"        templates: {en: {template: payment_due, language: en}}\n";

static void test_earlier_due_step_is_reported_superseded(void **state)
{
	struct workflow *wf = load(long_deadline_yaml);
	struct schedule_facts facts = {
		.due_date = { 2026, 4, 13 },
		.time_zone = "UTC",
		.amount_minor = 5000,
		.currency = "EUR",
		.now_ms = at("2026-04-16T11:00:00Z"),
	};
	struct schedule_action a;

	(void)state;
	/* Both are within their deadline of a week: the later one wins. */
	assert_int_equal(
		schedule_next(workflow_tenant(wf, NULL), &facts, &a, NULL, 0),
		0);
	assert_false(a.done);
	assert_int_equal(a.step_index, 1);
	assert_int_equal(a.fire_ms, at("2026-04-16T10:00:00Z"));
	assert_int_equal(a.superseded_steps, 1u << 0);
	assert_int_equal(a.expired_steps, 0);
	workflow_free(wf);
}

static void test_expired_steps_are_reported_when_nothing_is_left(void **state)
{
	struct workflow *wf = load(conditions_yaml);
	struct schedule_facts facts = {
		.due_date = { 2026, 4, 15 },
		.time_zone = "UTC",
		.amount_minor = 50000,
		.currency = "EUR",
		.segment = "late",
		.now_ms = at("2026-04-20T12:00:00Z"),
	};
	struct schedule_action a;

	(void)state;
	assert_int_equal(
		schedule_next(workflow_tenant(wf, NULL), &facts, &a, NULL, 0),
		0);
	assert_true(a.done);
	assert_int_equal(a.expired_steps, (1u << 0) | (1u << 1));
	/* A notice whose conditions fail is not a step passed over. */
	facts.segment = "prompt";
	assert_int_equal(
		schedule_next(workflow_tenant(wf, NULL), &facts, &a, NULL, 0),
		0);
	assert_int_equal(a.expired_steps, 1u << 1);
	workflow_free(wf);
}

static void test_late_final_step_is_replanned_never_skipped(void **state)
{
	struct flow f;
	struct schedule_action a;

	(void)state;
	/* The final step was due Monday 2026-05-11 at 10:00 Madrid; the
	 * timer only gets to it on Wednesday, past its deadline. */
	flow_init(&f, "2026-05-13T12:00:00Z");
	flow_done(&f, f.notice, "2026-04-08T08:00:00Z");
	flow_done(&f, f.due, "2026-04-15T08:00:00Z");
	flow_done(&f, f.reminder, "2026-04-20T08:00:00Z");
	flow_done(&f, f.reminder, "2026-04-27T08:00:00Z");
	flow_done(&f, f.reminder, "2026-05-04T08:00:00Z");
	f.facts.unanswered = 3;
	a = flow_next(&f);
	assert_false(a.done);
	assert_int_equal(a.step_index, f.final);
	assert_int_equal(a.planned_ms, at("2026-05-14T08:00:00Z"));
	assert_int_equal(a.fire_ms, at("2026-05-14T08:00:00Z"));
	assert_int_equal(a.deadline_ms, a.fire_ms + f.t->deadline_ms);
	assert_int_equal(a.expired_steps, 0);
	/* Planned as of that new instant (the engine's next claim), it stays
	 * there: not pushed to the day after. */
	f.facts.now_ms = at("2026-05-14T08:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.final);
	assert_int_equal(a.fire_ms, at("2026-05-14T08:00:00Z"));
	/* Late but within its deadline: still the original instant. */
	f.facts.now_ms = at("2026-05-11T09:00:00Z");
	a = flow_next(&f);
	assert_int_equal(a.step_index, f.final);
	assert_int_equal(a.fire_ms, at("2026-05-11T08:00:00Z"));
	workflow_free(f.wf);
}

static void test_next_action_with_bad_zone_or_date_fails(void **state)
{
	struct workflow *wf = load(conditions_yaml);
	struct schedule_facts facts = {
		.due_date = { 2026, 2, 30 },
		.time_zone = "UTC",
		.currency = "EUR",
		.now_ms = 0,
	};
	struct schedule_action a;
	char err[256];

	(void)state;
	assert_int_equal(schedule_next(workflow_tenant(wf, NULL), &facts, &a,
				       err, sizeof(err)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(err, "2026-02-30"));
	facts.due_date.day = 3;
	facts.time_zone = "Nowhere/Atlantis";
	assert_int_equal(schedule_next(workflow_tenant(wf, NULL), &facts, &a,
				       err, sizeof(err)),
			 DN_ERR_INVALID);
	workflow_free(wf);
}

/* Zones with DST, half- and quarter-hour offsets, a 30-minute DST change
 * and Samoa's jump across the date line (2011-12-30 never happened). */
static const char *const odd_zones[] = {
	"Europe/Madrid",   "America/Sao_Paulo", "Australia/Lord_Howe",
	"Asia/Kathmandu",  "America/St_Johns",	"Pacific/Apia",
	"Pacific/Chatham", "America/Havana",	"UTC",
};

static UCalendar *reference_calendar(const char *zone)
{
	UErrorCode status = U_ZERO_ERROR;
	UChar id[64];
	UCalendar *cal;

	u_uastrncpy(id, zone, 64);
	cal = ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);
	assert_true(U_SUCCESS(status));
	ucal_setGregorianChange(cal, -8.64e15, &status);
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
	return cal;
}

static void test_local_date_matches_icu_across_transitions(void **state)
{
	const int64_t from = 1293840000000LL; /* 2011-01-01 */
	const int64_t step = 7 * 3600000LL + 13 * 60000LL;

	(void)state;
	for (size_t z = 0; z < sizeof(odd_zones) / sizeof(*odd_zones); z++) {
		UCalendar *cal = reference_calendar(odd_zones[z]);

		for (int64_t t = from; t < from + 3 * 366 * 86400000LL;
		     t += step) {
			UErrorCode status = U_ZERO_ERROR;
			struct workflow_date d;
			int minute;

			assert_int_equal(schedule_local_date(odd_zones[z], t,
							     &d, &minute, NULL,
							     0),
					 0);
			ucal_setMillis(cal, (UDate)t, &status);
			assert_int_equal(d.year,
					 ucal_get(cal, UCAL_YEAR, &status));
			assert_int_equal(d.month,
					 ucal_get(cal, UCAL_MONTH, &status) +
						 1);
			assert_int_equal(d.day,
					 ucal_get(cal, UCAL_DATE, &status));
			assert_int_equal(
				minute,
				ucal_get(cal, UCAL_HOUR_OF_DAY, &status) * 60 +
					ucal_get(cal, UCAL_MINUTE, &status));
		}
		ucal_close(cal);
	}
}

/* Every day of three years at a few wall times, in the order given by
 * direction, so that the span known beforehand is once the earlier and
 * once the later one. */
static void check_local_instants(const char *zone, int direction)
{
	static const int minutes[] = { 0, 90, 150, 600, 1439 };
	const int32_t first =
		schedule_date_to_days((struct workflow_date){ 2011, 1, 1 });
	UCalendar *cal = reference_calendar(zone);

	for (int32_t i = 0; i < 3 * 366; i++) {
		int32_t day = direction > 0 ? first + i : first + 3 * 366 - i;
		struct workflow_date d = schedule_date_from_days(day);

		for (size_t m = 0; m < 5; m++) {
			UErrorCode status = U_ZERO_ERROR;
			int64_t got = 0;

			assert_int_equal(schedule_local_instant(zone, d, 0,
								minutes[m],
								&got, NULL, 0),
					 0);
			ucal_clear(cal);
			ucal_setDateTime(cal, d.year, d.month - 1, d.day,
					 minutes[m] / 60, minutes[m] % 60, 0,
					 &status);
			assert_int_equal(got,
					 (int64_t)ucal_getMillis(cal, &status));
		}
	}
	ucal_close(cal);
}

static void test_local_instant_matches_icu_across_transitions(void **state)
{
	(void)state;
	for (size_t z = 0; z < sizeof(odd_zones) / sizeof(*odd_zones); z++) {
		check_local_instants(odd_zones[z], 1);
		check_local_instants(odd_zones[z], -1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_madrid_winter_ten_local_is_nine_utc),
		cmocka_unit_test(
			test_madrid_offset_across_spring_forward_keeps_ten_local),
		cmocka_unit_test(test_madrid_missing_hour_moves_forward),
		cmocka_unit_test(
			test_madrid_repeated_hour_takes_first_occurrence),
		cmocka_unit_test(
			test_madrid_offset_across_fall_back_keeps_ten_local),
		cmocka_unit_test(
			test_sao_paulo_2018_missing_midnight_moves_to_one),
		cmocka_unit_test(
			test_sao_paulo_2018_before_and_after_dst_start),
		cmocka_unit_test(test_sao_paulo_2019_repeated_hour_takes_first),
		cmocka_unit_test(test_sao_paulo_today_has_no_dst),
		cmocka_unit_test(test_offset_crosses_month_end),
		cmocka_unit_test(test_negative_offset_crosses_year_end),
		cmocka_unit_test(test_leap_year_reaches_29_february),
		cmocka_unit_test(test_non_leap_year_skips_29_february),
		cmocka_unit_test(test_due_on_29_february_offsets),
		cmocka_unit_test(test_day_numbers_round_trip),
		cmocka_unit_test(test_weekday_of_known_dates),
		cmocka_unit_test(test_invalid_date_and_minute_are_errors),
		cmocka_unit_test(test_tonga_customer_at_utc_plus_13),
		cmocka_unit_test(test_honolulu_customer_at_utc_minus_10),
		cmocka_unit_test(test_day_key_needs_room),
		cmocka_unit_test(test_unknown_zone_is_an_error_not_utc),
		cmocka_unit_test(test_local_date_reads_minutes),
		cmocka_unit_test(test_instant_inside_window_is_unchanged),
		cmocka_unit_test(test_before_window_moves_to_window_start),
		cmocka_unit_test(test_after_window_moves_to_next_day_start),
		cmocka_unit_test(test_window_end_is_exclusive),
		cmocka_unit_test(test_sunday_skips_to_monday_at_step_time),
		cmocka_unit_test(
			test_sunday_without_skip_moves_to_window_start),
		cmocka_unit_test(test_holiday_moves_to_next_business_day),
		cmocka_unit_test(test_cap_window_starts_at_local_midnight),
		cmocka_unit_test(
			test_new_invoice_first_gets_notice_a_week_before),
		cmocka_unit_test(test_after_notice_comes_due_day_alert_at_ten),
		cmocka_unit_test(test_reminder_on_saturday_moves_to_monday),
		cmocka_unit_test(test_reminder_repeats_a_week_after_last_send),
		cmocka_unit_test(
			test_three_unanswered_reminders_escalate_to_final),
		cmocka_unit_test(
			test_reply_resets_escalation_and_reminders_go_on),
		cmocka_unit_test(test_escalated_invoice_has_nothing_more),
		cmocka_unit_test(
			test_late_import_skips_stale_notice_and_due_alert),
		cmocka_unit_test(test_step_late_within_deadline_fires_now),
		cmocka_unit_test(
			test_long_overdue_import_reminds_at_next_send_time),
		cmocka_unit_test(test_same_rules_in_sao_paulo_today),
		cmocka_unit_test(
			test_reminder_after_spring_forward_stays_at_ten_local),
		cmocka_unit_test(
			test_reminder_after_fall_back_stays_at_ten_local),
		cmocka_unit_test(
			test_notice_for_customers_at_utc_plus_13_and_minus_10),
		cmocka_unit_test(
			test_step_conditions_skip_small_or_other_segment),
		cmocka_unit_test(
			test_last_one_shot_step_done_means_nothing_more),
		cmocka_unit_test(test_on_time_plan_passes_no_step_over),
		cmocka_unit_test(
			test_late_plan_reports_expired_notice_and_due_alert),
		cmocka_unit_test(test_earlier_due_step_is_reported_superseded),
		cmocka_unit_test(
			test_expired_steps_are_reported_when_nothing_is_left),
		cmocka_unit_test(
			test_late_final_step_is_replanned_never_skipped),
		cmocka_unit_test(test_next_action_with_bad_zone_or_date_fails),
		cmocka_unit_test(
			test_local_date_matches_icu_across_transitions),
		cmocka_unit_test(
			test_local_instant_matches_icu_across_transitions),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_thread);
}
