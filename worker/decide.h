/* decide.h: whether a due reminder is sent, suppressed or postponed. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fire-time decision (DESIGN.md invariant 5) as a pure function of a
 * snapshot the engine reads from current state just before emitting. The
 * rules, in this order, first match wins:
 *
 *   invoice paid / cancelled / disputed   SUPPRESS paid / cancelled / disputed
 *   not_dunnable                          SUPPRESS not_dunnable
 *   outstanding <= 0                      SUPPRESS nothing_due
 *   escalated and not the final step      SUPPRESS escalated
 *   customer opted out                    SUPPRESS opted_out
 *   customer opt-in unknown               SUPPRESS no_opt_in
 *   now or the next allowed instant past
 *     the command's deadline              SUPPRESS expired
 *   now before the planned instant        POSTPONE to the next allowed
 *                                         instant at or after it
 *   now outside the send window           POSTPONE to the next allowed
 *                                         instant after now
 *   cap reached in the cap window         SUPPRESS frequency_cap
 *   otherwise                             SEND
 *
 * So a SEND is never outside the send window nor before its time, and a
 * POSTPONE instant is always allowed and later than now. Pure and
 * reentrant; uses schedule.h for the window (ICU), never logs.
 */
#ifndef DUNNING_DECIDE_H
#define DUNNING_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct workflow_tenant;

enum decide_verdict {
	DECIDE_SEND,
	DECIDE_SUPPRESS,
	DECIDE_POSTPONE,
};

/* Why a reminder was suppressed or postponed. Names (decide_reason_name)
 * are the suffix of the stats field suppressed:<name> (contract 9). */
enum decide_reason {
	DECIDE_REASON_NONE,	      /* "none": SEND */
	DECIDE_REASON_PAID,	      /* "paid" */
	DECIDE_REASON_CANCELLED,      /* "cancelled" */
	DECIDE_REASON_DISPUTED,	      /* "disputed" */
	DECIDE_REASON_NO_OPT_IN,      /* "no_opt_in" */
	DECIDE_REASON_OPTED_OUT,      /* "opted_out" */
	DECIDE_REASON_FREQUENCY_CAP,  /* "frequency_cap" */
	DECIDE_REASON_NOT_DUNNABLE,   /* "not_dunnable" */
	DECIDE_REASON_NOTHING_DUE,    /* "nothing_due" */
	DECIDE_REASON_ESCALATED,      /* "escalated" */
	DECIDE_REASON_EXPIRED,	      /* "expired": deadline passed */
	DECIDE_REASON_OUTSIDE_WINDOW, /* "outside_window": POSTPONE */
	DECIDE_REASON_TOO_EARLY,      /* "too_early": POSTPONE */
	/* "superseded": never returned by decide_evaluate; the engine records
	 * it for a step schedule_next passed over because a later step's time
	 * had come too (schedule_action.superseded_steps). */
	DECIDE_REASON_SUPERSEDED,
	DECIDE_REASON_COUNT
};

enum decide_invoice_status {
	DECIDE_INVOICE_OPEN,
	DECIDE_INVOICE_PAID,
	DECIDE_INVOICE_CANCELLED,
	DECIDE_INVOICE_DISPUTED,
};

enum decide_opt_in {
	DECIDE_OPT_IN_UNKNOWN,
	DECIDE_OPTED_IN,
	DECIDE_OPTED_OUT,
};

/* Current state of one invoice (or, consolidated, of the customer's group:
 * the engine decides per invoice and sends the ones that pass). */
struct decide_snapshot {
	enum decide_invoice_status status;
	int64_t outstanding_minor; /* amount still to pay */
	bool not_dunnable;
	enum decide_opt_in opt_in;
	bool escalated;	 /* the final step was already sent */
	bool final_step; /* the step to send is the final one */
	/* Messages already sent to the customer at or after
	 * schedule_cap_window_start(); a consolidated message counts once. */
	int sent_in_cap_window;
	int64_t now_ms;
	int64_t planned_ms;  /* schedule_action.fire_ms */
	int64_t deadline_ms; /* schedule_action.deadline_ms; 0: none */
	int send_minute;     /* the step's local send time, or -1 */
	const struct workflow_tenant *workflow; /* borrowed, not NULL */
	const char *time_zone; /* customer's IANA zone, borrowed */
};

struct decision {
	enum decide_verdict verdict;
	enum decide_reason reason; /* NONE exactly when SEND */
	int64_t postpone_to_ms;	   /* POSTPONE: > now_ms, allowed; else 0 */
};

/*
 * Decides for snapshot s by the table above. Returns 0 with *out filled,
 * or DN_ERR_INVALID (NULL workflow, unknown time zone) with the reason in
 * err (may be NULL); then *out is a SUPPRESS with reason NONE and the
 * engine must not send.
 */
int decide_evaluate(const struct decide_snapshot *s, struct decision *out,
		    char *err, size_t errlen);

/* Lower-case name of reason ("frequency_cap"); "unknown" if out of range.
 * Never NULL. */
const char *decide_reason_name(enum decide_reason reason);

/* "send", "suppress" or "postpone"; "unknown" if out of range. */
const char *decide_verdict_name(enum decide_verdict verdict);

/* Parses a reason name back; -1 if unknown. */
int decide_reason_parse(const char *name);

#endif
