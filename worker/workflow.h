/* workflow.h: the reminder workflow of each tenant, loaded from YAML. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A workflow file (docs/workflow.md is the schema, deploy/workflow.yaml the
 * default) describes, per tenant, which reminder steps an open invoice goes
 * through, at which local hour, with which WhatsApp template per customer
 * locale, and the rules around them: send window and weekdays, holidays,
 * skip to the next business day, a frequency cap per customer, the
 * escalation to a collector, consolidation and the deadline of a send
 * command. A tenant named "default" is required; it serves every tenant
 * not listed, and every other tenant inherits each key it does not set
 * from it (a tenant that sets `steps` or `escalation` replaces the whole
 * list or block).
 *
 * Loading checks every value; the first invalid one fails the load with a
 * message naming the file, the line, the key and what was expected, such
 * as "deploy/workflow.yaml:12: tenants.default.steps[1].send_time: expected
 * a local time HH:MM from 00:00 to 23:59, got \"25:00\"".
 *
 * Invariants of a loaded workflow: the offset steps of a tenant come first,
 * in strictly increasing offset_days; the escalation's final step (when
 * enabled) is the last step and the only one of kind WORKFLOW_STEP_FINAL,
 * every step has at least one template and its fallback locale has one,
 * the send window is non-empty (start < end, at least one weekday).
 *
 * A loaded struct workflow is immutable and may be read from any number of
 * threads at once. Everything here is pure: no I/O except reading files
 * in workflow_load_file and workflow_check_catalogue, no logging.
 */
#ifndef DUNNING_WORKFLOW_H
#define DUNNING_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of a workflow; a file beyond them is rejected with an error. */
#define WORKFLOW_MAX_TENANTS  256
#define WORKFLOW_MAX_STEPS    8
#define WORKFLOW_MAX_LOCALES  24 /* templates or notes of one step */
#define WORKFLOW_MAX_SEGMENTS 8
#define WORKFLOW_MAX_HOLIDAYS 128
#define WORKFLOW_NAME_MAX     64  /* tenant, step, template names, + NUL */
#define WORKFLOW_LOCALE_MAX   24  /* "pt-BR", "ca", "zh-Hant-TW", + NUL */
#define WORKFLOW_NOTE_MAX     512 /* collector's note, UTF-8, + NUL */
#define WORKFLOW_FILE_MAX     (1024 * 1024)

/* A civil date without time zone (a due date, a holiday). */
struct workflow_date {
	int year;  /* 1..9999 */
	int month; /* 1..12 */
	int day;   /* 1..31, valid for the month */
};

/* Weekday bits of workflow_tenant.weekdays (ISO order). */
enum workflow_weekday {
	WORKFLOW_MONDAY = 1 << 0,
	WORKFLOW_TUESDAY = 1 << 1,
	WORKFLOW_WEDNESDAY = 1 << 2,
	WORKFLOW_THURSDAY = 1 << 3,
	WORKFLOW_FRIDAY = 1 << 4,
	WORKFLOW_SATURDAY = 1 << 5,
	WORKFLOW_SUNDAY = 1 << 6,
};

/* One template choice of a step: for customers whose locale matches
 * `locale` (a full tag "pt-BR" or a language "pt"), send template `name`
 * in catalogue language `language` ("pt_BR"). */
struct workflow_template {
	char locale[WORKFLOW_LOCALE_MAX];
	char name[WORKFLOW_NAME_MAX];
	char language[WORKFLOW_LOCALE_MAX];
};

/* A note in one locale (the collector's personal note, {{6}}). */
struct workflow_note {
	char locale[WORKFLOW_LOCALE_MAX];
	char text[WORKFLOW_NOTE_MAX];
};

enum workflow_step_kind {
	/* Planned at due date + offset_days, at send_minute local time. */
	WORKFLOW_STEP_OFFSET,
	/* The escalation's final message: planned wait_days after the last
	 * step sent, once the unanswered count reaches after_unanswered. */
	WORKFLOW_STEP_FINAL,
};

struct workflow_step {
	char name[WORKFLOW_NAME_MAX]; /* "notice", "due", "reminder", "final" */
	enum workflow_step_kind kind;
	int offset_days;       /* from the due date; negative = before */
	int send_minute;       /* local time, minutes after midnight */
	int repeat_every_days; /* 0: once; else repeats until the next step */
	/* Whether sending it adds one to the invoice's unanswered count
	 * (default: offset_days > 0). The engine keeps that count. */
	bool counts_as_reminder;

	struct workflow_template templates[WORKFLOW_MAX_LOCALES];
	size_t n_templates;
	char fallback_locale[WORKFLOW_LOCALE_MAX]; /* has a template */

	/* Conditions; a step whose conditions fail is skipped. */
	bool has_min_amount; /* applies only to invoices in that currency */
	int64_t min_amount_minor;
	char min_amount_currency[4];
	char segments[WORKFLOW_MAX_SEGMENTS][WORKFLOW_NAME_MAX];
	size_t n_segments; /* 0: any segment */
};

struct workflow_escalation {
	bool enabled;
	int after_unanswered; /* unanswered reminders that trigger it */
	int wait_days;	      /* days after the last step sent */
	bool collector_task;  /* raise a CollectorTask with the final step */
	char collector[WORKFLOW_NAME_MAX]; /* named collector */
	struct workflow_note notes[WORKFLOW_MAX_LOCALES];
	size_t n_notes;
	size_t step_index; /* index of the final step in steps[] */
};

struct workflow_tenant {
	char name[WORKFLOW_NAME_MAX];

	/* Send window, customer's local time: [start, end), start < end. */
	int window_start_minute;
	int window_end_minute; /* up to 1440 ("24:00") */
	unsigned weekdays;     /* enum workflow_weekday bits, non-zero */
	struct workflow_date holidays[WORKFLOW_MAX_HOLIDAYS];
	size_t n_holidays;
	/* A step planned on a day that is not a business day (weekday not
	 * allowed, or holiday) moves to the next business day at its own send
	 * time when true, at the window start when false. */
	bool skip_to_business_day;

	int cap_max_messages; /* per customer per cap_days; 0 = no cap */
	int cap_days;	      /* local calendar days, >= 1 when capped */

	bool consolidation;  /* one message per customer per local day */
	int64_t deadline_ms; /* a command may be sent this long after its
				 * planned instant, > 0 */

	struct workflow_step steps[WORKFLOW_MAX_STEPS];
	size_t n_steps;
	struct workflow_escalation escalation;
};

struct workflow;

/*
 * Loads and checks the workflow file at path (at most WORKFLOW_FILE_MAX
 * bytes). Returns 0 and a new workflow in *out (caller frees with
 * workflow_free), or DN_ERR_IO (cannot read), DN_ERR_TOO_LARGE,
 * DN_ERR_CONFIG (invalid content) or DN_ERR_NOMEM with the reason,
 * "path:line: key: expected ..., got ...", in err. *out is NULL on error.
 */
int workflow_load_file(const char *path, struct workflow **out, char *err,
		       size_t errlen);

/*
 * As workflow_load_file, from text of len bytes; name stands for the file
 * name in errors. text is borrowed for the call only.
 */
int workflow_load_string(const char *text, size_t len, const char *name,
			 struct workflow **out, char *err, size_t errlen);

/* Frees wf; NULL is accepted. Tenants obtained from it become invalid. */
void workflow_free(struct workflow *wf);

/*
 * The rules of tenant: its own section, else the "default" one. Never
 * NULL. tenant may be NULL (the default). Borrowed from wf.
 */
const struct workflow_tenant *workflow_tenant(const struct workflow *wf,
					      const char *tenant);

/* Number of tenant sections, "default" included, and the i-th of them in
 * file order (for listing and checks). */
size_t workflow_tenant_count(const struct workflow *wf);
const struct workflow_tenant *workflow_tenant_at(const struct workflow *wf,
						 size_t i);

/* Index of the step named name in t, or -1. */
int workflow_step_index(const struct workflow_tenant *t, const char *name);

/*
 * The template of step for a customer locale (BCP 47, "ca-ES", "pt_BR"
 * accepted too): exact tag, else its language ("ca"), else another region
 * of that language ("es-ES" for "es-MX"), else the step's fallback
 * locale. Case-insensitive; locale may be NULL or empty (the fallback).
 * Never NULL. Borrowed from the step.
 */
const struct workflow_template *
workflow_step_template(const struct workflow_step *step, const char *locale);

/*
 * The collector's note of escalation for a customer locale, matched like
 * workflow_step_template with the final step's fallback locale; "" when
 * the escalation has no notes. Never NULL. Borrowed.
 */
const char *workflow_escalation_note(const struct workflow_tenant *t,
				     const char *locale);

/*
 * Whether the step's conditions hold for an invoice of amount_minor in
 * currency (ISO 4217) from a customer in segment (NULL or "" = none).
 * A min_amount in another currency than the invoice's does not apply.
 */
bool workflow_step_applies(const struct workflow_step *step,
			   int64_t amount_minor, const char *currency,
			   const char *segment);

/* Whether date is one of t's holidays. */
bool workflow_is_holiday(const struct workflow_tenant *t,
			 struct workflow_date date);

/*
 * Checks that every template name and language of every tenant exists in
 * the catalogue deploy/whatsapp-templates.json at catalogue_path (contract
 * 4), and that the final step's template takes a note parameter. Returns
 * 0, DN_ERR_IO, DN_ERR_DECODE or DN_ERR_CONFIG with the first mismatch
 * named in err.
 */
int workflow_check_catalogue(const struct workflow *wf,
			     const char *catalogue_path, char *err,
			     size_t errlen);

/* Parses "YYYY-MM-DD" into a valid date (29 February only in leap years).
 * Returns 0 or DN_ERR_INVALID. */
int workflow_date_parse(const char *text, struct workflow_date *out);

/* Parses "HH:MM" (00:00..23:59, or "24:00" when allow_24 is true) into
 * minutes after midnight. Returns 0 or DN_ERR_INVALID. */
int workflow_time_parse(const char *text, bool allow_24, int *out_minute);

#endif
