/* workflow.c: loading and checking the per-tenant workflow YAML. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file is loaded into a libyaml document tree, so that every value
 * keeps its line for errors, then walked by tables of keys: each mapping
 * of the schema (file, tenant, send window, step, ...) has a table naming
 * its keys and the function that parses each value into the struct being
 * built. Unknown and repeated keys are errors, so a typo never silently
 * turns a rule off.
 *
 * Tenants other than "default" start from a copy of the default tenant and
 * override what they set; the escalation's final step is kept apart while
 * parsing and appended after the offset steps when the tenant is checked.
 */
#include "workflow.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <yaml.h>

#include "error.h"
#include "money.h"

#define PATH_MAX_LEN 160

struct workflow {
	struct workflow_tenant *tenants;
	size_t n_tenants;
	size_t default_index;
};

/* A tenant while it is parsed: the final step lives apart from steps[]. */
struct tenant_draft {
	struct workflow_tenant t;
	struct workflow_step final;
	bool has_final;
};

struct parse {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

typedef int (*field_fn)(struct parse *p, yaml_node_t *node, const char *path,
			void *target);

struct field {
	const char *key;
	field_fn parse;
};

/* ------------------------------------------------------------------ */
/* Errors and scalars */

static int fail(struct parse *p, yaml_node_t *node, const char *path,
		const char *expected)
{
	const char *got = "a mapping";

	if (node->type == YAML_SCALAR_NODE)
		got = (const char *)node->data.scalar.value;
	else if (node->type == YAML_SEQUENCE_NODE)
		got = "a list";
	return dn_fail(DN_ERR_CONFIG, p->err, p->errlen,
		       "%s:%lu: %s: expected %s, got %s%s%s", p->file,
		       (unsigned long)node->start_mark.line + 1, path, expected,
		       node->type == YAML_SCALAR_NODE ? "\"" : "", got,
		       node->type == YAML_SCALAR_NODE ? "\"" : "");
}

static const char *scalar(yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)node->data.scalar.value;
}

static int parse_int(struct parse *p, yaml_node_t *node, const char *path,
		     long min, long max, long *out)
{
	const char *text = scalar(node);
	char expected[96];
	char *end;
	long value;

	snprintf(expected, sizeof(expected), "an integer from %ld to %ld", min,
		 max);
	if (!text || !*text)
		return fail(p, node, path, expected);
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || *end || value < min || value > max)
		return fail(p, node, path, expected);
	*out = value;
	return DN_OK;
}

static int parse_int_field(struct parse *p, yaml_node_t *node, const char *path,
			   long min, long max, int *out)
{
	long value;
	int err = parse_int(p, node, path, min, max, &value);

	if (!err)
		*out = (int)value;
	return err;
}

static int parse_bool(struct parse *p, yaml_node_t *node, const char *path,
		      bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	const char *text = scalar(node);

	for (size_t i = 0; text && i < 3; i++) {
		if (!strcasecmp(text, yes[i]) || !strcasecmp(text, no[i])) {
			*out = !strcasecmp(text, yes[i]);
			return DN_OK;
		}
	}
	return fail(p, node, path, "true or false");
}

/* A string of 1..size-1 bytes whose characters pass allowed (or any
 * printable text when allowed is NULL). */
static int parse_string(struct parse *p, yaml_node_t *node, const char *path,
			int (*allowed)(int c), const char *expected, char *out,
			size_t size)
{
	const char *text = scalar(node);
	size_t len;

	if (!text || !*text || (len = strlen(text)) >= size)
		return fail(p, node, path, expected);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (allowed ? !allowed(c) : (c < 0x20 || c == 0x7f))
			return fail(p, node, path, expected);
	}
	memcpy(out, text, len + 1);
	return DN_OK;
}

static int is_name_char(int c)
{
	return islower(c) || isdigit(c) || c == '_' || c == '-';
}

static int is_tenant_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static int is_locale_char(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static int parse_locale(struct parse *p, yaml_node_t *node, const char *path,
			char *out)
{
	return parse_string(p, node, path, is_locale_char,
			    "a locale such as \"ca-ES\", \"pt-BR\" or \"en\"",
			    out, WORKFLOW_LOCALE_MAX);
}

static int parse_name(struct parse *p, yaml_node_t *node, const char *path,
		      char *out)
{
	return parse_string(p, node, path, is_name_char,
			    "a name of lower-case letters, digits, '_' or "
			    "'-', at most 63 bytes",
			    out, WORKFLOW_NAME_MAX);
}

/* ------------------------------------------------------------------ */
/* Dates and times */

static bool is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };

	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Reads exactly n decimal digits. */
static bool digits(const char *text, int n, int *out)
{
	int value = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)text[i]))
			return false;
		value = value * 10 + (text[i] - '0');
	}
	*out = value;
	return true;
}

int workflow_date_parse(const char *text, struct workflow_date *out)
{
	struct workflow_date d;

	if (!text || strlen(text) != 10 || text[4] != '-' || text[7] != '-' ||
	    !digits(text, 4, &d.year) || !digits(text + 5, 2, &d.month) ||
	    !digits(text + 8, 2, &d.day))
		return DN_ERR_INVALID;
	if (d.year < 1 || d.month < 1 || d.month > 12 || d.day < 1 ||
	    d.day > days_in_month(d.year, d.month))
		return DN_ERR_INVALID;
	*out = d;
	return DN_OK;
}

int workflow_time_parse(const char *text, bool allow_24, int *out_minute)
{
	int hour, minute;

	if (!text || strlen(text) != 5 || text[2] != ':' ||
	    !digits(text, 2, &hour) || !digits(text + 3, 2, &minute))
		return DN_ERR_INVALID;
	if (allow_24 && hour == 24 && minute == 0) {
		*out_minute = 1440;
		return DN_OK;
	}
	if (hour > 23 || minute > 59)
		return DN_ERR_INVALID;
	*out_minute = hour * 60 + minute;
	return DN_OK;
}

static int parse_time(struct parse *p, yaml_node_t *node, const char *path,
		      bool allow_24, int *out)
{
	if (workflow_time_parse(scalar(node), allow_24, out))
		return fail(p, node, path,
			    allow_24
				    ? "a local time HH:MM from 00:00 to 24:00"
				    : "a local time HH:MM from 00:00 to 23:59");
	return DN_OK;
}

/* ------------------------------------------------------------------ */
/* Walking mappings and lists by table */

static bool key_is(yaml_node_t *key, const char *name)
{
	const char *text = scalar(key);

	return text && !strcmp(text, name);
}

/*
 * Parses every pair of the mapping node with the table; a key not in the
 * table, a key given twice or a non-scalar key is an error.
 */
static int walk_mapping(struct parse *p, yaml_node_t *node, const char *path,
			const struct field *table, void *target)
{
	unsigned long seen = 0;
	yaml_node_pair_t *pair;

	if (node->type != YAML_MAPPING_NODE)
		return fail(p, node, path, "a mapping of keys to values");
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *value =
			yaml_document_get_node(p->doc, pair->value);
		char sub[PATH_MAX_LEN];
		size_t i;
		int err;

		for (i = 0; table[i].key && !key_is(key, table[i].key); i++)
			;
		if (!table[i].key)
			return fail(p, key, path, "one of the documented keys");
		snprintf(sub, sizeof(sub), "%s.%s", path, table[i].key);
		if (seen & (1UL << i))
			return fail(p, key, sub, "the key only once");
		seen |= 1UL << i;
		err = table[i].parse(p, value, sub, target);
		if (err)
			return err;
	}
	return DN_OK;
}

static int expect_list(struct parse *p, yaml_node_t *node, const char *path,
		       size_t max, size_t *count)
{
	char expected[64];

	snprintf(expected, sizeof(expected), "a list of at most %zu items",
		 max);
	if (node->type != YAML_SEQUENCE_NODE)
		return fail(p, node, path, expected);
	*count = (size_t)(node->data.sequence.items.top -
			  node->data.sequence.items.start);
	if (*count > max)
		return fail(p, node, path, expected);
	return DN_OK;
}

static yaml_node_t *list_item(struct parse *p, yaml_node_t *node, size_t i)
{
	return yaml_document_get_node(p->doc,
				      node->data.sequence.items.start[i]);
}

/* ------------------------------------------------------------------ */
/* Templates and notes: mappings of locale to a value */

static int parse_template_value(struct parse *p, yaml_node_t *node,
				const char *path,
				struct workflow_template *tpl);

static int parse_templates(struct parse *p, yaml_node_t *node, const char *path,
			   void *target)
{
	struct workflow_step *step = target;
	yaml_node_pair_t *pair;

	if (node->type != YAML_MAPPING_NODE ||
	    node->data.mapping.pairs.top == node->data.mapping.pairs.start)
		return fail(p, node, path,
			    "a mapping of locale to {template, language}");
	step->n_templates = 0;
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *value =
			yaml_document_get_node(p->doc, pair->value);
		struct workflow_template *tpl;
		char sub[PATH_MAX_LEN];
		int err;

		if (step->n_templates == WORKFLOW_MAX_LOCALES)
			return fail(p, key, path, "at most 24 locales");
		tpl = &step->templates[step->n_templates];
		err = parse_locale(p, key, path, tpl->locale);
		if (err)
			return err;
		snprintf(sub, sizeof(sub), "%s.%s", path, tpl->locale);
		for (size_t i = 0; i < step->n_templates; i++)
			if (!strcasecmp(step->templates[i].locale, tpl->locale))
				return fail(p, key, sub, "each locale once");
		err = parse_template_value(p, value, sub, tpl);
		if (err)
			return err;
		step->n_templates++;
	}
	return DN_OK;
}

static int tpl_name(struct parse *p, yaml_node_t *node, const char *path,
		    void *target)
{
	return parse_name(p, node, path,
			  ((struct workflow_template *)target)->name);
}

static int tpl_language(struct parse *p, yaml_node_t *node, const char *path,
			void *target)
{
	return parse_locale(p, node, path,
			    ((struct workflow_template *)target)->language);
}

static int parse_template_value(struct parse *p, yaml_node_t *node,
				const char *path, struct workflow_template *tpl)
{
	static const struct field table[] = {
		{ "template", tpl_name },
		{ "language", tpl_language },
		{ NULL, NULL },
	};
	int err;

	tpl->name[0] = tpl->language[0] = '\0';
	err = walk_mapping(p, node, path, table, tpl);
	if (err)
		return err;
	if (!tpl->name[0] || !tpl->language[0])
		return fail(p, node, path,
			    "both \"template\" and \"language\"");
	return DN_OK;
}

static int parse_notes(struct parse *p, yaml_node_t *node, const char *path,
		       void *target)
{
	struct workflow_escalation *esc = target;
	yaml_node_pair_t *pair;

	if (node->type != YAML_MAPPING_NODE)
		return fail(p, node, path, "a mapping of locale to note text");
	esc->n_notes = 0;
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *value =
			yaml_document_get_node(p->doc, pair->value);
		struct workflow_note *note;
		char sub[PATH_MAX_LEN];
		int err;

		if (esc->n_notes == WORKFLOW_MAX_LOCALES)
			return fail(p, key, path, "at most 24 locales");
		note = &esc->notes[esc->n_notes];
		err = parse_locale(p, key, path, note->locale);
		if (err)
			return err;
		snprintf(sub, sizeof(sub), "%s.%s", path, note->locale);
		for (size_t i = 0; i < esc->n_notes; i++)
			if (!strcasecmp(esc->notes[i].locale, note->locale))
				return fail(p, key, sub, "each locale once");
		err = parse_string(p, value, sub, NULL,
				   "one line of text, at most 511 bytes",
				   note->text, sizeof(note->text));
		if (err)
			return err;
		esc->n_notes++;
	}
	return DN_OK;
}

/* ------------------------------------------------------------------ */
/* Steps */

static int step_name(struct parse *p, yaml_node_t *node, const char *path,
		     void *target)
{
	return parse_name(p, node, path,
			  ((struct workflow_step *)target)->name);
}

static int step_offset(struct parse *p, yaml_node_t *node, const char *path,
		       void *target)
{
	return parse_int_field(p, node, path, -365, 365,
			       &((struct workflow_step *)target)->offset_days);
}

static int step_send_time(struct parse *p, yaml_node_t *node, const char *path,
			  void *target)
{
	return parse_time(p, node, path, false,
			  &((struct workflow_step *)target)->send_minute);
}

static int step_repeat(struct parse *p, yaml_node_t *node, const char *path,
		       void *target)
{
	return parse_int_field(
		p, node, path, 0, 365,
		&((struct workflow_step *)target)->repeat_every_days);
}

static int step_counts(struct parse *p, yaml_node_t *node, const char *path,
		       void *target)
{
	return parse_bool(
		p, node, path,
		&((struct workflow_step *)target)->counts_as_reminder);
}

static int step_fallback(struct parse *p, yaml_node_t *node, const char *path,
			 void *target)
{
	return parse_locale(p, node, path,
			    ((struct workflow_step *)target)->fallback_locale);
}

static int min_minor(struct parse *p, yaml_node_t *node, const char *path,
		     void *target)
{
	long value;
	int err = parse_int(p, node, path, 0, 999999999999999L, &value);

	if (!err)
		((struct workflow_step *)target)->min_amount_minor = value;
	return err;
}

static int min_currency(struct parse *p, yaml_node_t *node, const char *path,
			void *target)
{
	struct workflow_step *step = target;
	const char *text = scalar(node);

	if (!text || strlen(text) != 3 || money_exponent(text) < 0)
		return fail(p, node, path,
			    "an ISO 4217 currency code such as \"EUR\"");
	memcpy(step->min_amount_currency, text, 4);
	return DN_OK;
}

static int cond_min_amount(struct parse *p, yaml_node_t *node, const char *path,
			   void *target)
{
	static const struct field table[] = {
		{ "minor_units", min_minor },
		{ "currency", min_currency },
		{ NULL, NULL },
	};
	struct workflow_step *step = target;
	int err;

	step->min_amount_minor = -1;
	step->min_amount_currency[0] = '\0';
	err = walk_mapping(p, node, path, table, step);
	if (err)
		return err;
	if (step->min_amount_minor < 0 || !step->min_amount_currency[0])
		return fail(p, node, path,
			    "both \"minor_units\" and \"currency\"");
	step->has_min_amount = true;
	return DN_OK;
}

static int cond_segments(struct parse *p, yaml_node_t *node, const char *path,
			 void *target)
{
	struct workflow_step *step = target;
	size_t n;
	int err = expect_list(p, node, path, WORKFLOW_MAX_SEGMENTS, &n);

	for (size_t i = 0; !err && i < n; i++) {
		char sub[PATH_MAX_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		err = parse_name(p, list_item(p, node, i), sub,
				 step->segments[i]);
	}
	if (!err)
		step->n_segments = n;
	return err;
}

static int step_conditions(struct parse *p, yaml_node_t *node, const char *path,
			   void *target)
{
	static const struct field table[] = {
		{ "min_amount", cond_min_amount },
		{ "segments", cond_segments },
		{ NULL, NULL },
	};

	return walk_mapping(p, node, path, table, target);
}

static const struct field step_table[] = {
	{ "name", step_name },
	{ "offset_days", step_offset },
	{ "send_time", step_send_time },
	{ "repeat_every_days", step_repeat },
	{ "counts_as_reminder", step_counts },
	{ "fallback_locale", step_fallback },
	{ "templates", parse_templates },
	{ "conditions", step_conditions },
	{ NULL, NULL },
};

/* The final step takes no offset, repeat or conditions. */
static const struct field final_step_table[] = {
	{ "name", step_name },
	{ "send_time", step_send_time },
	{ "fallback_locale", step_fallback },
	{ "templates", parse_templates },
	{ NULL, NULL },
};

static bool has_template(const struct workflow_step *step, const char *locale)
{
	for (size_t i = 0; i < step->n_templates; i++)
		if (!strcasecmp(step->templates[i].locale, locale))
			return true;
	return false;
}

/* Parses one step mapping, with the defaults of an unset key, and checks
 * that it names itself, has a send time and templates. */
static int parse_step(struct parse *p, yaml_node_t *node, const char *path,
		      const struct field *table, struct workflow_step *step)
{
	int err;

	memset(step, 0, sizeof(*step));
	step->send_minute = -1;
	step->offset_days = 0x7fffffff;
	step->counts_as_reminder = true;
	memcpy(step->fallback_locale, "en", 3);
	err = walk_mapping(p, node, path, table, step);
	if (err)
		return err;
	if (!step->name[0])
		return fail(p, node, path, "a step with a \"name\"");
	if (step->send_minute < 0)
		return fail(p, node, path, "a step with a \"send_time\"");
	if (!step->n_templates)
		return fail(p, node, path, "a step with \"templates\"");
	if (!has_template(step, step->fallback_locale))
		return fail(p, node, path,
			    "a template for the fallback_locale (default "
			    "\"en\")");
	return DN_OK;
}

static int tenant_steps(struct parse *p, yaml_node_t *node, const char *path,
			void *target)
{
	struct tenant_draft *d = target;
	size_t n;
	int err = expect_list(p, node, path, WORKFLOW_MAX_STEPS - 1, &n);

	if (!err && n == 0)
		return fail(p, node, path, "at least one step");
	for (size_t i = 0; !err && i < n; i++) {
		yaml_node_t *item = list_item(p, node, i);
		struct workflow_step *step = &d->t.steps[i];
		char sub[PATH_MAX_LEN];
		bool counts_set;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		err = parse_step(p, item, sub, step_table, step);
		if (err)
			break;
		if (step->offset_days == 0x7fffffff)
			return fail(p, item, sub,
				    "a step with \"offset_days\"");
		if (i > 0 && step->offset_days <= d->t.steps[i - 1].offset_days)
			return fail(p, item, sub,
				    "steps in increasing offset_days order");
		counts_set = false;
		for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
		     pr < item->data.mapping.pairs.top; pr++)
			if (key_is(yaml_document_get_node(p->doc, pr->key),
				   "counts_as_reminder"))
				counts_set = true;
		if (!counts_set)
			step->counts_as_reminder = step->offset_days > 0;
		step->kind = WORKFLOW_STEP_OFFSET;
	}
	if (!err)
		d->t.n_steps = n;
	return err;
}

/* ------------------------------------------------------------------ */
/* Escalation */

static int esc_enabled(struct parse *p, yaml_node_t *node, const char *path,
		       void *target)
{
	return parse_bool(
		p, node, path,
		&((struct tenant_draft *)target)->t.escalation.enabled);
}

static int esc_after(struct parse *p, yaml_node_t *node, const char *path,
		     void *target)
{
	return parse_int_field(p, node, path, 1, 100,
			       &((struct tenant_draft *)target)
					->t.escalation.after_unanswered);
}

static int esc_wait(struct parse *p, yaml_node_t *node, const char *path,
		    void *target)
{
	return parse_int_field(
		p, node, path, 0, 365,
		&((struct tenant_draft *)target)->t.escalation.wait_days);
}

static int esc_task(struct parse *p, yaml_node_t *node, const char *path,
		    void *target)
{
	return parse_bool(
		p, node, path,
		&((struct tenant_draft *)target)->t.escalation.collector_task);
}

static int esc_collector(struct parse *p, yaml_node_t *node, const char *path,
			 void *target)
{
	struct workflow_escalation *esc =
		&((struct tenant_draft *)target)->t.escalation;

	return parse_string(p, node, path, NULL,
			    "the collector's name, at most 63 bytes",
			    esc->collector, sizeof(esc->collector));
}

static int esc_notes(struct parse *p, yaml_node_t *node, const char *path,
		     void *target)
{
	return parse_notes(p, node, path,
			   &((struct tenant_draft *)target)->t.escalation);
}

static int esc_step(struct parse *p, yaml_node_t *node, const char *path,
		    void *target)
{
	struct tenant_draft *d = target;
	int err = parse_step(p, node, path, final_step_table, &d->final);

	d->final.kind = WORKFLOW_STEP_FINAL;
	d->final.offset_days = 0;
	d->final.counts_as_reminder = false;
	d->has_final = !err;
	return err;
}

static int tenant_escalation(struct parse *p, yaml_node_t *node,
			     const char *path, void *target)
{
	static const struct field table[] = {
		{ "enabled", esc_enabled },
		{ "after_unanswered", esc_after },
		{ "wait_days", esc_wait },
		{ "collector", esc_collector },
		{ "collector_task", esc_task },
		{ "notes", esc_notes },
		{ "step", esc_step },
		{ NULL, NULL },
	};
	struct tenant_draft *d = target;
	struct workflow_escalation *esc = &d->t.escalation;
	int err;

	memset(esc, 0, sizeof(*esc));
	memset(&d->final, 0, sizeof(d->final));
	d->has_final = false;
	esc->enabled = true;
	esc->after_unanswered = 3;
	esc->wait_days = 7;
	esc->collector_task = true;
	err = walk_mapping(p, node, path, table, d);
	if (err || !esc->enabled)
		return err;
	if (!d->has_final)
		return fail(p, node, path, "an escalation with a \"step\"");
	if (!esc->collector[0])
		return fail(p, node, path,
			    "an escalation with a \"collector\"");
	return DN_OK;
}

/* ------------------------------------------------------------------ */
/* Send window, cap and the other tenant keys */

static int window_start(struct parse *p, yaml_node_t *node, const char *path,
			void *target)
{
	return parse_time(
		p, node, path, false,
		&((struct workflow_tenant *)target)->window_start_minute);
}

static int window_end(struct parse *p, yaml_node_t *node, const char *path,
		      void *target)
{
	return parse_time(
		p, node, path, true,
		&((struct workflow_tenant *)target)->window_end_minute);
}

static int parse_weekday(const char *text, unsigned *bit)
{
	static const char *const names[] = { "mon", "tue", "wed", "thu",
					     "fri", "sat", "sun" };
	static const char *const long_names[] = { "monday",    "tuesday",
						  "wednesday", "thursday",
						  "friday",    "saturday",
						  "sunday" };

	for (unsigned i = 0; text && i < 7; i++) {
		if (!strcasecmp(text, names[i]) ||
		    !strcasecmp(text, long_names[i])) {
			*bit = 1u << i;
			return DN_OK;
		}
	}
	return DN_ERR_INVALID;
}

static int window_weekdays(struct parse *p, yaml_node_t *node, const char *path,
			   void *target)
{
	struct workflow_tenant *t = target;
	unsigned mask = 0, bit;
	size_t n;
	int err = expect_list(p, node, path, 7, &n);

	if (!err && n == 0)
		return fail(p, node, path, "at least one weekday");
	for (size_t i = 0; !err && i < n; i++) {
		yaml_node_t *item = list_item(p, node, i);
		char sub[PATH_MAX_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (parse_weekday(scalar(item), &bit))
			return fail(p, item, sub,
				    "a weekday: mon, tue, wed, thu, fri, "
				    "sat or sun");
		mask |= bit;
	}
	if (!err)
		t->weekdays = mask;
	return err;
}

static int tenant_window(struct parse *p, yaml_node_t *node, const char *path,
			 void *target)
{
	static const struct field table[] = {
		{ "start", window_start },
		{ "end", window_end },
		{ "weekdays", window_weekdays },
		{ NULL, NULL },
	};
	struct workflow_tenant *t = &((struct tenant_draft *)target)->t;
	int err = walk_mapping(p, node, path, table, t);

	if (!err && t->window_start_minute >= t->window_end_minute)
		return fail(p, node, path,
			    "a send window whose start is before its end");
	return err;
}

static int tenant_holidays(struct parse *p, yaml_node_t *node, const char *path,
			   void *target)
{
	struct workflow_tenant *t = &((struct tenant_draft *)target)->t;
	size_t n;
	int err = expect_list(p, node, path, WORKFLOW_MAX_HOLIDAYS, &n);

	for (size_t i = 0; !err && i < n; i++) {
		yaml_node_t *item = list_item(p, node, i);
		char sub[PATH_MAX_LEN];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (workflow_date_parse(scalar(item), &t->holidays[i]))
			return fail(p, item, sub, "a valid date YYYY-MM-DD");
	}
	if (!err)
		t->n_holidays = n;
	return err;
}

static int tenant_skip(struct parse *p, yaml_node_t *node, const char *path,
		       void *target)
{
	return parse_bool(
		p, node, path,
		&((struct tenant_draft *)target)->t.skip_to_business_day);
}

static int tenant_consolidation(struct parse *p, yaml_node_t *node,
				const char *path, void *target)
{
	return parse_bool(p, node, path,
			  &((struct tenant_draft *)target)->t.consolidation);
}

static int tenant_deadline(struct parse *p, yaml_node_t *node, const char *path,
			   void *target)
{
	long minutes;
	int err = parse_int(p, node, path, 1, 7 * 24 * 60, &minutes);

	if (!err)
		((struct tenant_draft *)target)->t.deadline_ms =
			(int64_t)minutes * 60000;
	return err;
}

static int cap_max(struct parse *p, yaml_node_t *node, const char *path,
		   void *target)
{
	return parse_int_field(
		p, node, path, 0, 100,
		&((struct workflow_tenant *)target)->cap_max_messages);
}

static int cap_days(struct parse *p, yaml_node_t *node, const char *path,
		    void *target)
{
	return parse_int_field(p, node, path, 1, 366,
			       &((struct workflow_tenant *)target)->cap_days);
}

static int tenant_cap(struct parse *p, yaml_node_t *node, const char *path,
		      void *target)
{
	static const struct field table[] = {
		{ "max_messages", cap_max },
		{ "per_days", cap_days },
		{ NULL, NULL },
	};

	return walk_mapping(p, node, path, table,
			    &((struct tenant_draft *)target)->t);
}

static const struct field tenant_table[] = {
	{ "send_window", tenant_window },
	{ "holidays", tenant_holidays },
	{ "skip_to_business_day", tenant_skip },
	{ "frequency_cap", tenant_cap },
	{ "consolidation", tenant_consolidation },
	{ "command_deadline_minutes", tenant_deadline },
	{ "steps", tenant_steps },
	{ "escalation", tenant_escalation },
	{ NULL, NULL },
};

/* ------------------------------------------------------------------ */
/* Tenants and the file */

/* The defaults of a key no tenant sets, for the default tenant. */
static void draft_defaults(struct tenant_draft *d)
{
	memset(d, 0, sizeof(*d));
	d->t.window_start_minute = 9 * 60;
	d->t.window_end_minute = 20 * 60;
	d->t.weekdays = WORKFLOW_MONDAY | WORKFLOW_TUESDAY |
			WORKFLOW_WEDNESDAY | WORKFLOW_THURSDAY |
			WORKFLOW_FRIDAY;
	d->t.skip_to_business_day = true;
	d->t.cap_days = 7;
	d->t.consolidation = true;
	d->t.deadline_ms = INT64_C(12) * 3600 * 1000;
}

/* Splits a finished tenant back into a draft, for inheritance. */
static void draft_from(struct tenant_draft *d, const struct workflow_tenant *t)
{
	memset(d, 0, sizeof(*d));
	d->t = *t;
	if (t->escalation.enabled) {
		d->final = t->steps[t->escalation.step_index];
		d->has_final = true;
		d->t.n_steps = t->escalation.step_index;
	}
}

static int draft_finish(struct parse *p, yaml_node_t *node, const char *path,
			struct tenant_draft *d)
{
	struct workflow_tenant *t = &d->t;

	if (!t->n_steps)
		return fail(p, node, path, "a tenant with \"steps\"");
	if (t->cap_max_messages > 0 && t->cap_days < 1)
		return fail(p, node, path, "frequency_cap.per_days >= 1");
	if (t->escalation.enabled) {
		for (size_t i = 0; i < t->n_steps; i++)
			if (!strcmp(t->steps[i].name, d->final.name))
				return fail(p, node, path,
					    "the final step's name to differ "
					    "from every other step's");
		t->escalation.step_index = t->n_steps;
		t->steps[t->n_steps++] = d->final;
	}
	for (size_t i = 0; i < t->n_steps; i++)
		for (size_t j = i + 1; j < t->n_steps; j++)
			if (!strcmp(t->steps[i].name, t->steps[j].name))
				return fail(p, node, path,
					    "step names that differ");
	return DN_OK;
}

static int parse_tenant(struct parse *p, yaml_node_t *key, yaml_node_t *value,
			const struct workflow_tenant *base,
			struct workflow_tenant *out)
{
	struct tenant_draft *d = malloc(sizeof(*d));
	char path[PATH_MAX_LEN];
	int err;

	if (!d)
		return dn_fail(DN_ERR_NOMEM, p->err, p->errlen,
			       "out of memory");
	if (base)
		draft_from(d, base);
	else
		draft_defaults(d);
	err = parse_string(p, key, "tenants", is_tenant_char,
			   "a tenant id of letters, digits, '_', '-' or '.', "
			   "at most 63 bytes",
			   d->t.name, sizeof(d->t.name));
	if (!err) {
		snprintf(path, sizeof(path), "tenants.%s", d->t.name);
		err = walk_mapping(p, value, path, tenant_table, d);
	}
	if (!err)
		err = draft_finish(p, value, path, d);
	if (!err)
		*out = d->t;
	free(d);
	return err;
}

static int parse_tenants(struct parse *p, yaml_node_t *node,
			 struct workflow *wf)
{
	yaml_node_pair_t *start, *pair;
	size_t n, def = (size_t)-1;
	int err;

	if (node->type != YAML_MAPPING_NODE)
		return fail(p, node, "tenants",
			    "a mapping of tenant name to its rules");
	start = node->data.mapping.pairs.start;
	n = (size_t)(node->data.mapping.pairs.top - start);
	if (n > WORKFLOW_MAX_TENANTS)
		return fail(p, node, "tenants", "at most 256 tenants");
	for (size_t i = 0; i < n; i++)
		if (key_is(yaml_document_get_node(p->doc, start[i].key),
			   "default"))
			def = i;
	if (def == (size_t)-1)
		return fail(p, node, "tenants", "a tenant named \"default\"");
	wf->tenants = calloc(n, sizeof(*wf->tenants));
	if (!wf->tenants)
		return dn_fail(DN_ERR_NOMEM, p->err, p->errlen,
			       "out of memory");
	wf->default_index = def;

	/* The default first: every other tenant inherits from it. */
	err = parse_tenant(p, yaml_document_get_node(p->doc, start[def].key),
			   yaml_document_get_node(p->doc, start[def].value),
			   NULL, &wf->tenants[def]);
	for (size_t i = 0; !err && i < n; i++) {
		pair = &start[i];
		if (i == def)
			continue;
		err = parse_tenant(p, yaml_document_get_node(p->doc, pair->key),
				   yaml_document_get_node(p->doc, pair->value),
				   &wf->tenants[def], &wf->tenants[i]);
		for (size_t j = 0; !err && j < i; j++)
			if (!strcmp(wf->tenants[j].name, wf->tenants[i].name))
				err = fail(p,
					   yaml_document_get_node(p->doc,
								  pair->key),
					   "tenants", "each tenant once");
	}
	wf->n_tenants = n;
	return err;
}

static int parse_root(struct parse *p, struct workflow *wf)
{
	yaml_node_t *root = yaml_document_get_root_node(p->doc);
	yaml_node_t *tenants = NULL;
	yaml_node_pair_t *pair;
	long version = 0;
	int err;

	if (!root)
		return dn_fail(DN_ERR_CONFIG, p->err, p->errlen,
			       "%s: empty workflow file", p->file);
	if (root->type != YAML_MAPPING_NODE)
		return fail(p, root, "(top)",
			    "a mapping with \"version\" and \"tenants\"");
	for (pair = root->data.mapping.pairs.start;
	     pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *key = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *value =
			yaml_document_get_node(p->doc, pair->value);

		if (key_is(key, "version")) {
			err = parse_int(p, value, "version", 1, 1, &version);
			if (err)
				return err;
		} else if (key_is(key, "tenants")) {
			tenants = value;
		} else {
			return fail(p, key, "(top)",
				    "\"version\" or \"tenants\"");
		}
	}

	/* The version comes first so a future schema fails clearly. */
	if (!version)
		return fail(p, root, "version", "\"version: 1\"");
	if (!tenants)
		return fail(p, root, "tenants", "a \"tenants\" mapping");
	return parse_tenants(p, tenants, wf);
}

int workflow_load_string(const char *text, size_t len, const char *name,
			 struct workflow **out, char *err, size_t errlen)
{
	struct parse p = { name ? name : "(workflow)", NULL, err, errlen };
	yaml_parser_t parser;
	yaml_document_t doc;
	struct workflow *wf;
	int rc;

	*out = NULL;
	if (len > WORKFLOW_FILE_MAX)
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "%s: workflow larger than %d bytes", p.file,
			       WORKFLOW_FILE_MAX);
	if (!yaml_parser_initialize(&parser))
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = dn_fail(DN_ERR_CONFIG, err, errlen,
			     "%s:%lu: invalid YAML: %s", p.file,
			     (unsigned long)parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		return rc;
	}
	p.doc = &doc;
	wf = calloc(1, sizeof(*wf));
	rc = wf ? parse_root(&p, wf)
		: dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc) {
		workflow_free(wf);
		return rc;
	}
	*out = wf;
	return DN_OK;
}

int workflow_load_file(const char *path, struct workflow **out, char *err,
		       size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	if (!f)
		return dn_fail(DN_ERR_IO, err, errlen, "%s: cannot open: %s",
			       path, strerror(errno));
	text = malloc(WORKFLOW_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	}
	len = fread(text, 1, WORKFLOW_FILE_MAX + 1, f);
	if (ferror(f))
		rc = dn_fail(DN_ERR_IO, err, errlen, "%s: cannot read", path);
	else
		rc = workflow_load_string(text, len, path, out, err, errlen);
	fclose(f);
	free(text);
	return rc;
}

void workflow_free(struct workflow *wf)
{
	if (!wf)
		return;
	free(wf->tenants);
	free(wf);
}

/* ------------------------------------------------------------------ */
/* Queries */

const struct workflow_tenant *workflow_tenant(const struct workflow *wf,
					      const char *tenant)
{
	for (size_t i = 0; tenant && i < wf->n_tenants; i++)
		if (!strcmp(wf->tenants[i].name, tenant))
			return &wf->tenants[i];
	return &wf->tenants[wf->default_index];
}

size_t workflow_tenant_count(const struct workflow *wf)
{
	return wf->n_tenants;
}

const struct workflow_tenant *workflow_tenant_at(const struct workflow *wf,
						 size_t i)
{
	return i < wf->n_tenants ? &wf->tenants[i] : NULL;
}

int workflow_step_index(const struct workflow_tenant *t, const char *name)
{
	for (size_t i = 0; name && i < t->n_steps; i++)
		if (!strcmp(t->steps[i].name, name))
			return (int)i;
	return -1;
}

/* Whether two locale tags are equal, '-' and '_' alike, ignoring case,
 * over the first n bytes of a (all of a when n is 0). */
static bool locale_equal(const char *a, const char *b, size_t n)
{
	size_t len = n ? n : strlen(a);

	if (strlen(b) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char x = a[i] == '_' ? '-' : (char)tolower((unsigned char)a[i]);
		char y = b[i] == '_' ? '-' : (char)tolower((unsigned char)b[i]);

		if (x != y)
			return false;
	}
	return true;
}

/* Index of the best entry for locale among n locales spaced stride bytes
 * apart: exact tag, then the bare language, then another region of the
 * language, then fallback; -1 if none. */
static int match_locale(const char *first, size_t n, size_t stride,
			const char *locale, const char *fallback)
{
	size_t lang_len;

	for (size_t i = 0; locale && *locale && i < n; i++)
		if (locale_equal(locale, first + i * stride, 0))
			return (int)i;
	lang_len = locale ? strcspn(locale, "-_") : 0;
	for (size_t i = 0; lang_len && i < n; i++)
		if (locale_equal(locale, first + i * stride, lang_len))
			return (int)i;

	/* A sibling region ("es-MX" for an "es-ES" customer) beats the
	 * fallback language. */
	for (size_t i = 0; lang_len && i < n; i++) {
		const char *entry = first + i * stride;

		if (strcspn(entry, "-_") == lang_len &&
		    !strncasecmp(entry, locale, lang_len))
			return (int)i;
	}
	for (size_t i = 0; fallback && i < n; i++)
		if (locale_equal(fallback, first + i * stride, 0))
			return (int)i;
	return n ? 0 : -1;
}

const struct workflow_template *
workflow_step_template(const struct workflow_step *step, const char *locale)
{
	int i = match_locale(step->templates[0].locale, step->n_templates,
			     sizeof(step->templates[0]), locale,
			     step->fallback_locale);

	return &step->templates[i < 0 ? 0 : i];
}

const char *workflow_escalation_note(const struct workflow_tenant *t,
				     const char *locale)
{
	const struct workflow_escalation *esc = &t->escalation;
	const char *fallback =
		esc->enabled ? t->steps[esc->step_index].fallback_locale : "en";
	int i = match_locale(esc->notes[0].locale, esc->n_notes,
			     sizeof(esc->notes[0]), locale, fallback);

	return i < 0 ? "" : esc->notes[i].text;
}

bool workflow_step_applies(const struct workflow_step *step,
			   int64_t amount_minor, const char *currency,
			   const char *segment)
{
	bool segment_ok = step->n_segments == 0;

	if (step->has_min_amount && currency &&
	    !strcmp(currency, step->min_amount_currency) &&
	    amount_minor < step->min_amount_minor)
		return false;
	for (size_t i = 0; !segment_ok && segment && i < step->n_segments; i++)
		segment_ok = !strcmp(step->segments[i], segment);
	return segment_ok;
}

bool workflow_is_holiday(const struct workflow_tenant *t,
			 struct workflow_date date)
{
	for (size_t i = 0; i < t->n_holidays; i++)
		if (t->holidays[i].year == date.year &&
		    t->holidays[i].month == date.month &&
		    t->holidays[i].day == date.day)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* The template catalogue (contract 4) */

/* The catalogue entry named name, or NULL. */
static json_t *catalogue_find(json_t *templates, const char *name)
{
	size_t i;
	json_t *entry;

	json_array_foreach(templates, i, entry)
	{
		const char *entry_name =
			json_string_value(json_object_get(entry, "name"));

		if (entry_name && !strcmp(entry_name, name))
			return entry;
	}
	return NULL;
}

static int check_step(json_t *templates, const struct workflow_tenant *t,
		      const struct workflow_step *step, char *err,
		      size_t errlen)
{
	json_int_t wanted = step->kind == WORKFLOW_STEP_FINAL ? 6 : 5;

	for (size_t i = 0; i < step->n_templates; i++) {
		const struct workflow_template *tpl = &step->templates[i];
		json_t *entry = catalogue_find(templates, tpl->name);

		if (!entry)
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "tenants.%s step %s locale %s: template "
				       "\"%s\" is not in the catalogue",
				       t->name, step->name, tpl->locale,
				       tpl->name);
		if (!json_object_get(json_object_get(entry, "languages"),
				     tpl->language))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "tenants.%s step %s locale %s: template "
				       "\"%s\" has no language \"%s\"",
				       t->name, step->name, tpl->locale,
				       tpl->name, tpl->language);
		if (json_integer_value(json_object_get(entry, "parameters")) !=
		    wanted)
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "tenants.%s step %s: template \"%s\" "
				       "must take %d parameters",
				       t->name, step->name, tpl->name,
				       (int)wanted);
	}
	return DN_OK;
}

int workflow_check_catalogue(const struct workflow *wf,
			     const char *catalogue_path, char *err,
			     size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(catalogue_path, 0, &jerr);
	json_t *templates;
	int rc = DN_OK;

	if (!root && json_error_code(&jerr) == json_error_cannot_open_file)
		return dn_fail(DN_ERR_IO, err, errlen, "%s: %s", catalogue_path,
			       jerr.text);
	if (!root)
		return dn_fail(DN_ERR_DECODE, err, errlen, "%s:%d: %s",
			       catalogue_path, jerr.line, jerr.text);
	templates = json_object_get(root, "templates");
	if (!json_is_array(templates))
		rc = dn_fail(DN_ERR_DECODE, err, errlen,
			     "%s: no \"templates\" list", catalogue_path);
	for (size_t i = 0; !rc && i < wf->n_tenants; i++) {
		const struct workflow_tenant *t = &wf->tenants[i];

		for (size_t j = 0; !rc && j < t->n_steps; j++)
			rc = check_step(templates, t, &t->steps[j], err,
					errlen);
	}
	json_decref(root);
	return rc;
}
