/* decide.c: the fire-time decision table. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "decide.h"

#include <string.h>

#include "error.h"
#include "schedule.h"
#include "workflow.h"

static const char *const reason_names[DECIDE_REASON_COUNT] = {
	[DECIDE_REASON_NONE] = "none",
	[DECIDE_REASON_PAID] = "paid",
	[DECIDE_REASON_CANCELLED] = "cancelled",
	[DECIDE_REASON_DISPUTED] = "disputed",
	[DECIDE_REASON_NO_OPT_IN] = "no_opt_in",
	[DECIDE_REASON_OPTED_OUT] = "opted_out",
	[DECIDE_REASON_FREQUENCY_CAP] = "frequency_cap",
	[DECIDE_REASON_NOT_DUNNABLE] = "not_dunnable",
	[DECIDE_REASON_NOTHING_DUE] = "nothing_due",
	[DECIDE_REASON_ESCALATED] = "escalated",
	[DECIDE_REASON_EXPIRED] = "expired",
	[DECIDE_REASON_OUTSIDE_WINDOW] = "outside_window",
	[DECIDE_REASON_TOO_EARLY] = "too_early",
	[DECIDE_REASON_SUPERSEDED] = "superseded",
};

const char *decide_reason_name(enum decide_reason reason)
{
	if ((unsigned)reason >= DECIDE_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

int decide_reason_parse(const char *name)
{
	for (int i = 0; name && i < DECIDE_REASON_COUNT; i++)
		if (!strcmp(reason_names[i], name))
			return i;
	return -1;
}

const char *decide_verdict_name(enum decide_verdict verdict)
{
	switch (verdict) {
	case DECIDE_SEND:
		return "send";
	case DECIDE_SUPPRESS:
		return "suppress";
	case DECIDE_POSTPONE:
		return "postpone";
	}
	return "unknown";
}

static int verdict(struct decision *out, enum decide_verdict v,
		   enum decide_reason reason, int64_t postpone_to_ms)
{
	out->verdict = v;
	out->reason = reason;
	out->postpone_to_ms = postpone_to_ms;
	return DN_OK;
}

/* The rules that need no clock: the invoice's and customer's state.
 * Returns the suppression reason, or NONE when they let it through. */
static enum decide_reason state_reason(const struct decide_snapshot *s)
{
	static const enum decide_reason by_status[] = {
		[DECIDE_INVOICE_OPEN] = DECIDE_REASON_NONE,
		[DECIDE_INVOICE_PAID] = DECIDE_REASON_PAID,
		[DECIDE_INVOICE_CANCELLED] = DECIDE_REASON_CANCELLED,
		[DECIDE_INVOICE_DISPUTED] = DECIDE_REASON_DISPUTED,
	};

	/* An unknown status is never taken for open. */
	if ((unsigned)s->status > DECIDE_INVOICE_DISPUTED)
		return DECIDE_REASON_NOTHING_DUE;
	if (by_status[s->status] != DECIDE_REASON_NONE)
		return by_status[s->status];
	if (s->not_dunnable)
		return DECIDE_REASON_NOT_DUNNABLE;
	if (s->outstanding_minor <= 0)
		return DECIDE_REASON_NOTHING_DUE;
	if (s->escalated && !s->final_step)
		return DECIDE_REASON_ESCALATED;
	if (s->opt_in == DECIDE_OPTED_OUT)
		return DECIDE_REASON_OPTED_OUT;
	if (s->opt_in != DECIDE_OPTED_IN)
		return DECIDE_REASON_NO_OPT_IN;
	return DECIDE_REASON_NONE;
}

static bool past_deadline(const struct decide_snapshot *s, int64_t instant)
{
	return s->deadline_ms > 0 && instant > s->deadline_ms;
}

int decide_evaluate(const struct decide_snapshot *s, struct decision *out,
		    char *err, size_t errlen)
{
	enum decide_reason reason;
	int64_t next;
	bool allowed;
	int rc;

	verdict(out, DECIDE_SUPPRESS, DECIDE_REASON_NONE, 0);
	if (!s->workflow)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "decision without a workflow");

	/* State first: a paid invoice is suppressed whatever the hour. */
	reason = state_reason(s);
	if (reason != DECIDE_REASON_NONE)
		return verdict(out, DECIDE_SUPPRESS, reason, 0);
	if (past_deadline(s, s->now_ms))
		return verdict(out, DECIDE_SUPPRESS, DECIDE_REASON_EXPIRED, 0);

	/* Never before its time: wait for the planned instant, in the window. */
	if (s->now_ms < s->planned_ms) {
		rc = schedule_next_allowed(s->workflow, s->time_zone,
					   s->planned_ms, s->send_minute, &next,
					   err, errlen);
		if (rc)
			return rc;
		if (past_deadline(s, next))
			return verdict(out, DECIDE_SUPPRESS,
				       DECIDE_REASON_EXPIRED, 0);
		return verdict(out, DECIDE_POSTPONE, DECIDE_REASON_TOO_EARLY,
			       next);
	}

	/* Never outside the send window: the next allowed instant. */
	rc = schedule_is_allowed(s->workflow, s->time_zone, s->now_ms, &allowed,
				 err, errlen);
	if (rc)
		return rc;
	if (!allowed) {
		rc = schedule_next_allowed(s->workflow, s->time_zone, s->now_ms,
					   s->send_minute, &next, err, errlen);
		if (rc)
			return rc;
		if (past_deadline(s, next))
			return verdict(out, DECIDE_SUPPRESS,
				       DECIDE_REASON_EXPIRED, 0);
		return verdict(out, DECIDE_POSTPONE,
			       DECIDE_REASON_OUTSIDE_WINDOW, next);
	}

	/* The cap counts what the customer already got, across invoices. */
	if (s->workflow->cap_max_messages > 0 &&
	    s->sent_in_cap_window >= s->workflow->cap_max_messages)
		return verdict(out, DECIDE_SUPPRESS,
			       DECIDE_REASON_FREQUENCY_CAP, 0);
	return verdict(out, DECIDE_SEND, DECIDE_REASON_NONE, 0);
}
