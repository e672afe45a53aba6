/* schedule.h: when an invoice's next reminder is due, in local time. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure time arithmetic on UTC millisecond instants, civil dates and IANA
 * time zones, with ICU's calendar (ucal_*). "10:00 on the due day" means
 * 10:00 on the customer's wall clock, whatever daylight-saving rule holds
 * on that date:
 *
 *   - a local time that does not exist (the hour skipped when clocks go
 *     forward, or midnight in Sao Paulo on 2018-11-04) moves forward by the
 *     length of the gap: 02:30 on a spring-forward day in Madrid is 03:30;
 *   - a local time that exists twice (the hour repeated when clocks go
 *     back) takes the first occurrence, the one still in summer time.
 *
 * Day offsets are calendar days in the customer's zone, not multiples of
 * 24 hours, so "due date + 3 days at 10:00" is 10:00 local even across a
 * DST change.
 *
 * Time zone ids must be known IANA ids ("Europe/Madrid"); an unknown id is
 * an error, never silently UTC. A thread reuses ICU calendars through a
 * small per-thread cache; a thread that used this module calls
 * schedule_thread_release() before it exits. Functions are otherwise
 * reentrant and never log.
 */
#ifndef DUNNING_SCHEDULE_H
#define DUNNING_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workflow.h"

#define SCHEDULE_DAY_KEY_MAX 11 /* "2026-03-15" + NUL */
#define SCHEDULE_MS_PER_DAY  INT64_C(86400000)

/* Whether zone is a known IANA time zone id. NULL is not. */
bool schedule_zone_valid(const char *zone);

/* Days since 1970-01-01 of date (negative before), and back. */
int32_t schedule_date_to_days(struct workflow_date date);
struct workflow_date schedule_date_from_days(int32_t days);

/* ISO weekday of date as its enum workflow_weekday bit. */
unsigned schedule_date_weekday(struct workflow_date date);

/*
 * The UTC instant of local time minute_of_day (0..1439) on date plus
 * day_offset calendar days, in zone, with the DST rules above. Returns 0,
 * or DN_ERR_INVALID (unknown zone, minute out of range) with the reason in
 * err (may be NULL).
 */
int schedule_local_instant(const char *zone, struct workflow_date date,
			   int day_offset, int minute_of_day, int64_t *out_ms,
			   char *err, size_t errlen);

/*
 * The customer's local calendar date of instant_ms in zone, and optionally
 * (minute may be NULL) the local minutes after midnight. Returns 0 or
 * DN_ERR_INVALID.
 */
int schedule_local_date(const char *zone, int64_t instant_ms,
			struct workflow_date *out, int *minute, char *err,
			size_t errlen);

/*
 * The local day key of instant_ms in zone, "YYYY-MM-DD", into out (at
 * least SCHEDULE_DAY_KEY_MAX bytes): the key that groups a customer's
 * messages of one local day (consolidation) and counts them (frequency
 * cap). Returns 0, DN_ERR_INVALID, or DN_ERR_TOO_LARGE if len is short.
 */
int schedule_day_key(const char *zone, int64_t instant_ms, char *out,
		     size_t len, char *err, size_t errlen);

/*
 * The earliest instant >= instant_ms at which t allows sending to a
 * customer in zone: inside the send window, on an allowed weekday, not on
 * a holiday. If instant_ms is allowed it is returned unchanged. A day that
 * is not allowed moves to the next allowed day: at keep_minute when t's
 * skip_to_business_day is true and keep_minute >= 0 (the step's send time,
 * clamped into the window), else at the window start. A time before the
 * window start moves to the window start of the same day; one at or after
 * the window end moves to the next allowed day. Searches at most 400 days
 * ahead; DN_ERR_INVALID if no day is allowed in that range.
 */
int schedule_next_allowed(const struct workflow_tenant *t, const char *zone,
			  int64_t instant_ms, int keep_minute, int64_t *out_ms,
			  char *err, size_t errlen);

/* Whether instant_ms is itself allowed by t in zone (see above). Returns 0
 * and *allowed, or DN_ERR_INVALID. */
int schedule_is_allowed(const struct workflow_tenant *t, const char *zone,
			int64_t instant_ms, bool *allowed, char *err,
			size_t errlen);

/*
 * The start of t's frequency-cap window at now_ms for a customer in zone:
 * local midnight of the day cap_days - 1 days before the local today. A
 * message sent at or after it counts against the cap. When t has no cap,
 * *out_ms is now_ms. Returns 0 or DN_ERR_INVALID.
 */
int schedule_cap_window_start(const struct workflow_tenant *t, const char *zone,
			      int64_t now_ms, int64_t *out_ms, char *err,
			      size_t errlen);

/* What the engine knows of one step of one invoice. */
struct schedule_step_history {
	uint32_t done;	 /* occurrences sent or given up (suppressed) */
	int64_t last_ms; /* instant of the last of them; 0 if done == 0 */
};

/* The facts of an invoice that decide its next action. Borrowed. */
struct schedule_facts {
	struct workflow_date due_date;
	const char *time_zone; /* the customer's IANA zone */
	int64_t amount_minor;  /* outstanding, for step conditions */
	const char *currency;  /* ISO 4217 */
	const char *segment;   /* customer segment; NULL or "" = none */
	/* history[i] is step i of the tenant; NULL or fewer entries than
	 * steps means nothing done for the missing ones. */
	const struct schedule_step_history *history;
	size_t n_history;
	uint32_t unanswered; /* counted reminders since last reply */
	bool escalated;	     /* the final step was sent */
	int64_t now_ms;
};

struct schedule_action {
	bool done;	   /* nothing more to do; other fields unset but the two
		    * step masks below */
	size_t step_index; /* into the tenant's steps[] */
	uint32_t occurrence; /* 0 for the first send of the step, then 1.. */
	int64_t planned_ms;  /* the step's own instant (due + offset at
			       * send time, or the repeat / wait instant) */
	int64_t fire_ms;     /* planned moved to an allowed instant; the
			       * delay-queue score. May be < now_ms when the
			       * step is late but still within its deadline */
	int64_t deadline_ms; /* fire_ms + the tenant's deadline */
	/* Steps passed over by this plan, bit i for steps[i]; set also when
	 * done. The engine records each as suppressed with its reason and
	 * marks it done, so that no due reminder vanishes unrecorded. */
	uint32_t expired_steps;	   /* one-shot, deadline passed at now_ms */
	uint32_t superseded_steps; /* time had come, but a later step's had
				    * come too and won */
};

/*
 * The next action of an invoice under t. The rules, in order:
 *
 *   1. escalated: nothing more to do.
 *   2. escalation enabled and unanswered >= after_unanswered: the final
 *      step, wait_days after the latest history instant, at its time. The
 *      final step is never skipped: when now_ms is past its deadline it is
 *      re-planned to its next send time from now, like a late repeating
 *      step, so an escalation to a human is never lost to a late timer.
 *   3. otherwise the offset steps after the last one done (which may
 *      itself be the candidate again if it repeats: its next occurrence is
 *      repeat_every_days after its last local send date, and never before
 *      its own series due + offset + n * repeat), skipping steps whose
 *      conditions fail. A one-shot step whose deadline has passed at
 *      now_ms is not sent (a "due today" never arrives a day late) and is
 *      reported in expired_steps; a late repeating step is re-planned to
 *      its next send time from now. Of the candidates whose time has come,
 *      the latest step wins and the earlier ones are reported in
 *      superseded_steps; else the earliest upcoming one.
 *   4. no candidate: nothing more to do (expired_steps may still be set).
 *
 * The engine calls it when an invoice opens or changes and again at fire
 * time (facts may have changed since) before decide_evaluate; when the
 * decision finds a repeating or final step past its deadline, it plans
 * again as of the claim, so that step moves to its next send time instead
 * of being given up. Returns 0
 * with *out filled, or DN_ERR_INVALID (unknown zone, invalid due date)
 * with the reason in err.
 */
int schedule_next(const struct workflow_tenant *t,
		  const struct schedule_facts *facts,
		  struct schedule_action *out, char *err, size_t errlen);

/* Frees this thread's cached ICU calendars. Safe to call at any time;
 * the cache is rebuilt on next use. */
void schedule_thread_release(void);

#endif
