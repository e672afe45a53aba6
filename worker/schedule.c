/* schedule.c: local-time arithmetic with ICU and the next-action rules. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Civil dates are handled as day numbers (days since 1970-01-01, proleptic
 * Gregorian) with integer arithmetic; only the step from a local wall time
 * to a UTC instant and back goes through an ICU calendar of the customer's
 * zone. Opening an ICU calendar loads zone data, so each thread keeps the
 * last few it used. With each it keeps the span between two offset
 * transitions it last looked at: inside it, local time is UTC plus one
 * fixed offset and both steps are integer arithmetic; ICU answers only
 * near a transition and when an instant leaves the span.
 */
#include "schedule.h"

#include "calendar.h"

#include <stdio.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "error.h"

#define ZONE_ID_MAX	64
#define CACHE_SIZE	8
#define SEARCH_DAYS	400
#define MINUTES_PER_DAY 1440
#define MS_PER_DAY	86400000LL
/* Wall times this close to a transition are placed by ICU: the largest
 * offset change on record (a day, when Samoa crossed the date line) fits
 * in it, so farther in, a wall time has one reading. */
#define SPAN_MARGIN_MS (2 * MS_PER_DAY)

struct cached_calendar {
	char zone[ZONE_ID_MAX];
	UCalendar *cal;
	bool span_known;
	int64_t span_from, span_to; /* [from, to) with one offset */
	int64_t offset_ms;	    /* local minus UTC within it */
};

static _Thread_local struct cached_calendar cache[CACHE_SIZE];
static _Thread_local unsigned cache_next;

/* ------------------------------------------------------------------ */
/* Civil dates */

static bool leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static bool date_valid(struct workflow_date d)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };

	if (d.year < 1900 || d.year > 9999 || d.month < 1 || d.month > 12 ||
	    d.day < 1)
		return false;
	return d.day <=
	       days[d.month - 1] + (d.month == 2 && leap_year(d.year) ? 1 : 0);
}

int32_t schedule_date_to_days(struct workflow_date date)
{
	return (int32_t)calendar_days_from_civil(date.year, date.month,
						 date.day);
}

struct workflow_date schedule_date_from_days(int32_t days)
{
	struct workflow_date d;
	int year, month, day;

	calendar_civil_from_days(days, &year, &month, &day);
	d.year = year;
	d.month = month;
	d.day = day;
	return d;
}

unsigned schedule_date_weekday(struct workflow_date date)
{
	/* 1970-01-01 was a Thursday, ISO index 3. */
	int32_t days = schedule_date_to_days(date);
	int index = (int)(((days % 7) + 7 + 3) % 7);

	return 1u << index;
}

static bool day_allowed(const struct workflow_tenant *t, struct workflow_date d)
{
	return (t->weekdays & schedule_date_weekday(d)) &&
	       !workflow_is_holiday(t, d);
}

/* ------------------------------------------------------------------ */
/* ICU calendars per zone */

static bool zone_is_system(const UChar *id)
{
	UChar canonical[ZONE_ID_MAX];
	UErrorCode status = U_ZERO_ERROR;
	UBool system = 0;

	ucal_getCanonicalTimeZoneID(id, -1, canonical, ZONE_ID_MAX, &system,
				    &status);
	return U_SUCCESS(status) && system;
}

static bool zone_to_uchars(const char *zone, UChar *out)
{
	size_t len = zone ? strlen(zone) : 0;

	if (len == 0 || len >= ZONE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)zone[i] <= 0x20 ||
		    (unsigned char)zone[i] >= 0x7f)
			return false;
	u_uastrncpy(out, zone, ZONE_ID_MAX);
	return true;
}

static UCalendar *open_calendar(const UChar *id)
{
	UErrorCode status = U_ZERO_ERROR;
	UCalendar *cal =
		ucal_open(id, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);

	if (U_FAILURE(status)) {
		if (cal)
			ucal_close(cal);
		return NULL;
	}
	/* Proleptic Gregorian, like the day numbers above. */
	ucal_setGregorianChange(cal, -8.64e15, &status);
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_LAST);
	return cal;
}

/* This thread's calendar for zone, or NULL with the reason in err. */
static struct cached_calendar *calendar_for(const char *zone, char *err,
					    size_t errlen)
{
	struct cached_calendar *slot;
	UChar id[ZONE_ID_MAX];
	UCalendar *cal;

	for (unsigned i = 0; zone && i < CACHE_SIZE; i++)
		if (cache[i].cal && !strcmp(cache[i].zone, zone))
			return &cache[i];
	if (!zone_to_uchars(zone, id) || !zone_is_system(id) ||
	    !(cal = open_calendar(id))) {
		dn_fail(DN_ERR_INVALID, err, errlen, "unknown time zone \"%s\"",
			zone ? zone : "(null)");
		return NULL;
	}
	slot = &cache[cache_next++ % CACHE_SIZE];
	if (slot->cal)
		ucal_close(slot->cal);
	slot->cal = cal;
	slot->span_known = false;
	snprintf(slot->zone, sizeof(slot->zone), "%s", zone);
	return slot;
}

/* Learns the span of one offset around instant_ms (ICU's transitions
 * before and after it); false when ICU cannot say. */
static bool span_learn(struct cached_calendar *slot, int64_t instant_ms)
{
	UErrorCode status = U_ZERO_ERROR;
	UDate before = 0, after = 0;
	int32_t offset;

	ucal_setMillis(slot->cal, (UDate)instant_ms, &status);
	offset = ucal_get(slot->cal, UCAL_ZONE_OFFSET, &status) +
		 ucal_get(slot->cal, UCAL_DST_OFFSET, &status);
	if (!ucal_getTimeZoneTransitionDate(
		    slot->cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &before,
		    &status))
		before = -8.64e15;
	if (!ucal_getTimeZoneTransitionDate(slot->cal, UCAL_TZ_TRANSITION_NEXT,
					    &after, &status))
		after = 8.64e15;
	slot->span_known =
		U_SUCCESS(status) && before <= instant_ms && instant_ms < after;
	slot->span_from = (int64_t)before;
	slot->span_to = (int64_t)after;
	slot->offset_ms = offset;
	return slot->span_known;
}

static bool span_covers(const struct cached_calendar *slot, int64_t from,
			int64_t to)
{
	return slot->span_known && from >= slot->span_from &&
	       to < slot->span_to;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void schedule_thread_release(void)
{
	for (unsigned i = 0; i < CACHE_SIZE; i++) {
		if (cache[i].cal)
			ucal_close(cache[i].cal);
		cache[i].cal = NULL;
		cache[i].zone[0] = '\0';
	}
	cache_next = 0;
}

bool schedule_zone_valid(const char *zone)
{
	return calendar_for(zone, NULL, 0) != NULL;
}

/* ------------------------------------------------------------------ */
/* Local time and instants */

static int wall_to_instant(struct cached_calendar *slot, struct workflow_date d,
			   int minute, int64_t *out_ms)
{
	UErrorCode status = U_ZERO_ERROR;
	UCalendar *cal = slot->cal;
	int64_t wall = schedule_date_to_days(d) * MS_PER_DAY + minute * 60000LL;
	UDate millis;

	/* Well inside the known span: one reading, no ICU. */
	if (span_covers(slot, wall - slot->offset_ms - SPAN_MARGIN_MS,
			wall - slot->offset_ms + SPAN_MARGIN_MS)) {
		*out_ms = wall - slot->offset_ms;
		return DN_OK;
	}
	ucal_clear(cal);
	ucal_setDateTime(cal, d.year, d.month - 1, d.day, minute / 60,
			 minute % 60, 0, &status);
	millis = ucal_getMillis(cal, &status);
	if (U_FAILURE(status))
		return DN_ERR_INVALID;
	*out_ms = (int64_t)millis;
	/* Near a transition the span is already known: learn it once. */
	if (!span_covers(slot, *out_ms, *out_ms))
		span_learn(slot, *out_ms);
	return DN_OK;
}

int schedule_local_instant(const char *zone, struct workflow_date date,
			   int day_offset, int minute_of_day, int64_t *out_ms,
			   char *err, size_t errlen)
{
	struct cached_calendar *cal;
	struct workflow_date day;

	if (!date_valid(date))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "invalid date %04d-%02d-%02d", date.year,
			       date.month, date.day);
	if (minute_of_day < 0 || minute_of_day >= MINUTES_PER_DAY)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "local time %d minutes is out of range",
			       minute_of_day);
	cal = calendar_for(zone, err, errlen);
	if (!cal)
		return DN_ERR_INVALID;
	day = schedule_date_from_days(schedule_date_to_days(date) + day_offset);
	if (wall_to_instant(cal, day, minute_of_day, out_ms))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "cannot place %04d-%02d-%02d in %s", day.year,
			       day.month, day.day, zone);
	return DN_OK;
}

int schedule_local_date(const char *zone, int64_t instant_ms,
			struct workflow_date *out, int *minute, char *err,
			size_t errlen)
{
	UErrorCode status = U_ZERO_ERROR;
	struct cached_calendar *slot = calendar_for(zone, err, errlen);
	UCalendar *cal = slot ? slot->cal : NULL;

	if (!cal)
		return DN_ERR_INVALID;
	if (span_covers(slot, instant_ms, instant_ms) ||
	    span_learn(slot, instant_ms)) {
		int64_t local = instant_ms + slot->offset_ms;
		int64_t days = floor_div(local, MS_PER_DAY);

		*out = schedule_date_from_days((int32_t)days);
		if (minute)
			*minute = (int)((local - days * MS_PER_DAY) / 60000);
		return DN_OK;
	}
	ucal_setMillis(cal, (UDate)instant_ms, &status);
	out->year = ucal_get(cal, UCAL_EXTENDED_YEAR, &status);
	out->month = ucal_get(cal, UCAL_MONTH, &status) + 1;
	out->day = ucal_get(cal, UCAL_DATE, &status);
	if (minute)
		*minute = ucal_get(cal, UCAL_HOUR_OF_DAY, &status) * 60 +
			  ucal_get(cal, UCAL_MINUTE, &status);
	if (U_FAILURE(status))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "cannot read instant %lld in %s",
			       (long long)instant_ms, zone);
	return DN_OK;
}

int schedule_day_key(const char *zone, int64_t instant_ms, char *out,
		     size_t len, char *err, size_t errlen)
{
	struct workflow_date d;
	int rc;

	if (len > 0)
		out[0] = '\0';
	if (len < SCHEDULE_DAY_KEY_MAX)
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "day key needs %d bytes", SCHEDULE_DAY_KEY_MAX);
	rc = schedule_local_date(zone, instant_ms, &d, NULL, err, errlen);
	if (rc)
		return rc;
	snprintf(out, len, "%04d-%02d-%02d", d.year, d.month, d.day);
	return DN_OK;
}

/* ------------------------------------------------------------------ */
/* The send window */

static int clamp_into_window(const struct workflow_tenant *t, int minute)
{
	if (minute < t->window_start_minute)
		return t->window_start_minute;
	if (minute >= t->window_end_minute)
		return t->window_end_minute - 1;
	return minute;
}

int schedule_is_allowed(const struct workflow_tenant *t, const char *zone,
			int64_t instant_ms, bool *allowed, char *err,
			size_t errlen)
{
	struct workflow_date d;
	int minute;
	int rc =
		schedule_local_date(zone, instant_ms, &d, &minute, err, errlen);

	if (rc)
		return rc;
	*allowed = day_allowed(t, d) && minute >= t->window_start_minute &&
		   minute < t->window_end_minute;
	return DN_OK;
}

int schedule_next_allowed(const struct workflow_tenant *t, const char *zone,
			  int64_t instant_ms, int keep_minute, int64_t *out_ms,
			  char *err, size_t errlen)
{
	struct workflow_date d;
	int minute, day;
	bool first_day_allowed;
	int rc =
		schedule_local_date(zone, instant_ms, &d, &minute, err, errlen);

	if (rc)
		return rc;
	day = schedule_date_to_days(d);

	/* Still today when the day is allowed and the window not over. */
	first_day_allowed = day_allowed(t, d);
	if (first_day_allowed && minute < t->window_end_minute) {
		if (minute >= t->window_start_minute) {
			*out_ms = instant_ms;
			return DN_OK;
		}
		return schedule_local_instant(zone, d, 0,
					      t->window_start_minute, out_ms,
					      err, errlen);
	}

	/* Else the next allowed day: at the step's own time when the step was
	 * planned on a day off and the tenant skips to a business day. */
	if (!first_day_allowed && t->skip_to_business_day && keep_minute >= 0)
		minute = clamp_into_window(t, keep_minute);
	else
		minute = t->window_start_minute;
	for (int i = 1; i <= SEARCH_DAYS; i++) {
		struct workflow_date next = schedule_date_from_days(day + i);

		if (day_allowed(t, next))
			return schedule_local_instant(zone, next, 0, minute,
						      out_ms, err, errlen);
	}
	return dn_fail(DN_ERR_INVALID, err, errlen,
		       "no allowed day within %d days of %04d-%02d-%02d",
		       SEARCH_DAYS, d.year, d.month, d.day);
}

int schedule_cap_window_start(const struct workflow_tenant *t, const char *zone,
			      int64_t now_ms, int64_t *out_ms, char *err,
			      size_t errlen)
{
	struct workflow_date today;
	int rc;

	if (t->cap_max_messages <= 0) {
		*out_ms = now_ms;
		return calendar_for(zone, err, errlen) ? DN_OK : DN_ERR_INVALID;
	}
	rc = schedule_local_date(zone, now_ms, &today, NULL, err, errlen);
	if (rc)
		return rc;
	return schedule_local_instant(zone, today, -(t->cap_days - 1), 0,
				      out_ms, err, errlen);
}

/* ------------------------------------------------------------------ */
/* The next action */

static struct schedule_step_history history_of(const struct schedule_facts *f,
					       size_t i)
{
	struct schedule_step_history none = { 0, 0 };

	return f->history && i < f->n_history ? f->history[i] : none;
}

/* The first instant at the step's send time at or after now_ms. */
static int next_send_time(const struct schedule_facts *f, int send_minute,
			  int64_t *out_ms, char *err, size_t errlen)
{
	struct workflow_date today;
	int rc = schedule_local_date(f->time_zone, f->now_ms, &today, NULL, err,
				     errlen);

	for (int offset = 0; !rc && offset < 3; offset++) {
		rc = schedule_local_instant(f->time_zone, today, offset,
					    send_minute, out_ms, err, errlen);
		if (!rc && *out_ms >= f->now_ms)
			return DN_OK;
	}
	return rc ? rc : DN_ERR_INVALID;
}

/*
 * Fills action from a planned instant: moved into the window, with its
 * deadline. A late step (deadline passed) that may be sent late is
 * re-planned at its next send time; one that may not gets *stale.
 */
static int place(const struct workflow_tenant *t,
		 const struct schedule_facts *f, const struct workflow_step *s,
		 bool may_be_late, struct schedule_action *a, bool *stale,
		 char *err, size_t errlen)
{
	int rc =
		schedule_next_allowed(t, f->time_zone, a->planned_ms,
				      s->send_minute, &a->fire_ms, err, errlen);

	*stale = false;
	if (!rc && f->now_ms > a->fire_ms + t->deadline_ms) {
		if (!may_be_late) {
			*stale = true;
			return DN_OK;
		}
		rc = next_send_time(f, s->send_minute, &a->planned_ms, err,
				    errlen);
		if (!rc)
			rc = schedule_next_allowed(
				t, f->time_zone, a->planned_ms, s->send_minute,
				&a->fire_ms, err, errlen);
	}
	a->deadline_ms = a->fire_ms + t->deadline_ms;
	return rc;
}

/* The final step, wait_days after the latest step sent. */
static int plan_final(const struct workflow_tenant *t,
		      const struct schedule_facts *f,
		      struct schedule_action *out, char *err, size_t errlen)
{
	const struct workflow_escalation *esc = &t->escalation;
	const struct workflow_step *final = &t->steps[esc->step_index];
	int64_t latest = 0;
	struct workflow_date base;
	bool stale;
	int rc;

	if (history_of(f, esc->step_index).done > 0) {
		out->done = true;
		return DN_OK;
	}
	for (size_t i = 0; i < t->n_steps; i++)
		if (history_of(f, i).last_ms > latest)
			latest = history_of(f, i).last_ms;
	rc = schedule_local_date(f->time_zone, latest ? latest : f->now_ms,
				 &base, NULL, err, errlen);
	if (!rc)
		rc = schedule_local_instant(f->time_zone, base, esc->wait_days,
					    final->send_minute,
					    &out->planned_ms, err, errlen);
	out->step_index = esc->step_index;
	if (!rc)
		rc = place(t, f, final, true, out, &stale, err, errlen);
	return rc;
}

/* The candidate occurrence of offset step i; *skip when it has none. */
static int candidate(const struct workflow_tenant *t,
		     const struct schedule_facts *f, size_t i, bool repeat,
		     struct schedule_action *a, bool *skip, char *err,
		     size_t errlen)
{
	const struct workflow_step *s = &t->steps[i];
	struct schedule_step_history h = history_of(f, i);
	int rc;

	memset(a, 0, sizeof(*a));
	a->step_index = i;
	a->occurrence = repeat ? h.done : 0;
	rc = schedule_local_instant(
		f->time_zone, f->due_date,
		s->offset_days + (int)a->occurrence * s->repeat_every_days,
		s->send_minute, &a->planned_ms, err, errlen);

	/* A repeat keeps its spacing from the last local send date. */
	if (!rc && repeat && h.last_ms > 0) {
		struct workflow_date last;
		int64_t spaced;

		rc = schedule_local_date(f->time_zone, h.last_ms, &last, NULL,
					 err, errlen);
		if (!rc)
			rc = schedule_local_instant(
				f->time_zone, last, s->repeat_every_days,
				s->send_minute, &spaced, err, errlen);
		if (!rc && spaced > a->planned_ms)
			a->planned_ms = spaced;
	}
	if (rc)
		return rc;
	return place(t, f, s, s->repeat_every_days > 0, a, skip, err, errlen);
}

/* The offset steps after the last one done (rule 3 in schedule.h). */
static int plan_offset_steps(const struct workflow_tenant *t,
			     const struct schedule_facts *f, size_t n_offset,
			     struct schedule_action *out, char *err,
			     size_t errlen)
{
	struct schedule_action past = { 0 }, future = { 0 }, a;
	bool have_past = false, have_future = false, skip;
	uint32_t expired = 0, superseded = 0;
	size_t first = 0;

	for (size_t i = 0; i < n_offset; i++)
		if (history_of(f, i).done > 0)
			first = i;
	for (size_t i = first; i < n_offset; i++) {
		const struct workflow_step *s = &t->steps[i];
		bool again = history_of(f, i).done > 0;
		int rc;

		if ((again && !s->repeat_every_days) ||
		    !workflow_step_applies(s, f->amount_minor, f->currency,
					   f->segment))
			continue;
		rc = candidate(t, f, i, again, &a, &skip, err, errlen);
		if (rc)
			return rc;
		if (skip) {
			expired |= UINT32_C(1) << i;
			continue;
		}
		if (a.fire_ms <= f->now_ms) {
			if (have_past)
				superseded |= UINT32_C(1) << past.step_index;
			past = a;
			have_past = true;
		} else if (!have_future || a.fire_ms < future.fire_ms) {
			future = a;
			have_future = true;
		}
	}
	if (have_past)
		*out = past;
	else if (have_future)
		*out = future;
	else
		out->done = true;
	out->expired_steps = expired;
	out->superseded_steps = superseded;
	return DN_OK;
}

int schedule_next(const struct workflow_tenant *t,
		  const struct schedule_facts *facts,
		  struct schedule_action *out, char *err, size_t errlen)
{
	const struct workflow_escalation *esc = &t->escalation;
	size_t n_offset = esc->enabled ? esc->step_index : t->n_steps;

	memset(out, 0, sizeof(*out));
	if (!date_valid(facts->due_date))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "invalid due date %04d-%02d-%02d",
			       facts->due_date.year, facts->due_date.month,
			       facts->due_date.day);
	if (!calendar_for(facts->time_zone, err, errlen))
		return DN_ERR_INVALID;
	if (facts->escalated) {
		out->done = true;
		return DN_OK;
	}
	if (esc->enabled &&
	    facts->unanswered >= (uint32_t)esc->after_unanswered)
		return plan_final(t, facts, out, err, errlen);
	return plan_offset_steps(t, facts, n_offset, out, err, errlen);
}
