/* test_worker_workflow.c: loading workflow YAML and its error messages. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies that deploy/workflow.yaml loads as the classic flow and matches
 * the template catalogue, that tenants inherit from "default", that
 * templates and notes are chosen by customer locale, and that every kind
 * of invalid value fails with an error naming the file, the line, the key
 * and what was expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "../../worker/workflow.h"

/* Lines 1-3. */
#define HEAD "version: 1\ntenants:\n  default:\n"
/* Lines 4-8 after HEAD: one valid step. */
#define STEPS                                                                  \
	"    steps:\n"                                                         \
	"      - name: due\n"                                                  \
	"        offset_days: 0\n"                                             \
	"        send_time: \"10:00\"\n"                                       \
	"        templates: {en: {template: payment_due, language: en}}\n"
#define TEMPLATES                                                              \
	"        templates: {en: {template: payment_due, language: en}}\n"

static const char *root_path(const char *relative)
{
	static char path[1024];
	const char *root = getenv("DUNNING_ROOT");

	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", relative);
	return path;
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

/* Loading text fails with DN_ERR_CONFIG and an error containing want. */
static void expect_error(const char *text, const char *want)
{
	char err[512] = "";
	struct workflow *wf = (struct workflow *)&err;

	assert_int_equal(workflow_load_string(text, strlen(text), "test.yaml",
					      &wf, err, sizeof(err)),
			 DN_ERR_CONFIG);
	assert_null(wf);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

/* ------------------------------------------------------------------ */
/* The default file */

static void test_default_file_is_the_classic_flow(void **state)
{
	struct workflow *wf = NULL;
	const struct workflow_tenant *t;
	char err[512];

	(void)state;
	if (workflow_load_file(root_path("deploy/workflow.yaml"), &wf, err,
			       sizeof(err)))
		fail_msg("%s", err);
	t = workflow_tenant(wf, "unlisted-tenant");
	assert_string_equal(t->name, "default");
	assert_int_equal(t->n_steps, 4);
	assert_string_equal(t->steps[0].name, "notice");
	assert_int_equal(t->steps[0].offset_days, -7);
	assert_false(t->steps[0].counts_as_reminder);
	assert_string_equal(t->steps[1].name, "due");
	assert_int_equal(t->steps[1].offset_days, 0);
	assert_int_equal(t->steps[1].send_minute, 600);
	assert_string_equal(t->steps[2].name, "reminder");
	assert_int_equal(t->steps[2].offset_days, 3);
	assert_int_equal(t->steps[2].repeat_every_days, 7);
	assert_true(t->steps[2].counts_as_reminder);
	assert_string_equal(t->steps[3].name, "final");
	assert_int_equal(t->steps[3].kind, WORKFLOW_STEP_FINAL);
	assert_true(t->escalation.enabled);
	assert_int_equal(t->escalation.after_unanswered, 3);
	assert_int_equal(t->escalation.step_index, 3);
	assert_true(t->escalation.collector_task);
	assert_string_equal(t->escalation.collector, "Marta Puig");
	assert_string_equal(workflow_step_template(&t->steps[3], "ca-ES")->name,
			    "payment_final");
	workflow_free(wf);
}

static void test_default_file_matches_template_catalogue(void **state)
{
	struct workflow *wf = NULL;
	char err[512];

	(void)state;
	assert_int_equal(workflow_load_file(root_path("deploy/workflow.yaml"),
					    &wf, err, sizeof(err)),
			 0);
	if (workflow_check_catalogue(
		    wf, root_path("deploy/whatsapp-templates.json"), err,
		    sizeof(err)))
		fail_msg("%s", err);
	workflow_free(wf);
}

static void test_default_file_covers_six_locales(void **state)
{
	static const char *const locales[][2] = {
		{ "en-GB", "en" },    { "es-ES", "es" }, { "ca-ES", "ca" },
		{ "pt-BR", "pt_BR" }, { "fr-FR", "fr" }, { "de-DE", "de" },
	};
	struct workflow *wf = NULL;
	const struct workflow_tenant *t;

	(void)state;
	assert_int_equal(workflow_load_file(root_path("deploy/workflow.yaml"),
					    &wf, NULL, 0),
			 0);
	t = workflow_tenant(wf, NULL);
	for (size_t s = 0; s < t->n_steps; s++) {
		for (size_t i = 0; i < 6; i++)
			assert_string_equal(workflow_step_template(
						    &t->steps[s], locales[i][0])
						    ->language,
					    locales[i][1]);
	}
	assert_non_null(
		strstr(workflow_escalation_note(t, "ca-ES"), "Marta Puig"));
	workflow_free(wf);
}

/* ------------------------------------------------------------------ */
/* Tenants, templates, notes */

static const char tenants_yaml[] = HEAD
	"    send_window: {start: \"08:00\", end: \"21:00\", weekdays: [mon]}\n"
	"    frequency_cap: {max_messages: 2, per_days: 7}\n" STEPS
	"    escalation:\n"
	"      after_unanswered: 2\n"
	"      collector: Jordi\n"
	"      notes: {en: \"Call Jordi\", es: \"Llame a Jordi\"}\n"
	"      step:\n"
	"        name: final\n"
	"        send_time: \"11:00\"\n"
	"        fallback_locale: es\n"
	"        templates:\n"
	"          es: {template: payment_final, language: es}\n"
	"          pt-BR: {template: payment_final, language: pt_BR}\n"
	"          pt: {template: payment_final, language: pt_BR}\n"
	"  acme:\n"
	"    holidays: [\"2026-12-25\"]\n"
	"    consolidation: false\n"
	"  quiet:\n"
	"    escalation: {enabled: false}\n";

static void test_tenant_inherits_unset_keys_from_default(void **state)
{
	struct workflow *wf = load(tenants_yaml);
	const struct workflow_tenant *acme = workflow_tenant(wf, "acme");
	struct workflow_date xmas = { 2026, 12, 25 };

	(void)state;
	assert_string_equal(acme->name, "acme");
	assert_int_equal(acme->window_start_minute, 8 * 60);
	assert_int_equal(acme->weekdays, WORKFLOW_MONDAY);
	assert_int_equal(acme->cap_max_messages, 2);
	assert_false(acme->consolidation);
	assert_true(workflow_is_holiday(acme, xmas));
	assert_false(workflow_is_holiday(workflow_tenant(wf, NULL), xmas));
	assert_int_equal(acme->n_steps, 2);
	assert_int_equal(acme->escalation.step_index, 1);
	assert_int_equal(workflow_tenant_count(wf), 3);
	workflow_free(wf);
}

static void test_tenant_can_turn_escalation_off(void **state)
{
	struct workflow *wf = load(tenants_yaml);
	const struct workflow_tenant *quiet = workflow_tenant(wf, "quiet");

	(void)state;
	assert_false(quiet->escalation.enabled);
	assert_int_equal(quiet->n_steps, 1);
	assert_int_equal(workflow_step_index(quiet, "final"), -1);
	assert_string_equal(workflow_escalation_note(quiet, "en"), "");
	workflow_free(wf);
}

static void test_template_by_exact_locale_prefix_or_fallback(void **state)
{
	struct workflow *wf = load(tenants_yaml);
	const struct workflow_tenant *t = workflow_tenant(wf, NULL);
	const struct workflow_step *final = &t->steps[1];

	(void)state;
	assert_string_equal(workflow_step_template(final, "pt-BR")->locale,
			    "pt-BR");
	assert_string_equal(workflow_step_template(final, "pt_br")->locale,
			    "pt-BR");
	assert_string_equal(workflow_step_template(final, "pt-PT")->locale,
			    "pt");
	assert_string_equal(workflow_step_template(final, "ja-JP")->locale,
			    "es");
	assert_string_equal(workflow_step_template(final, NULL)->locale, "es");
	assert_string_equal(workflow_step_template(final, "")->locale, "es");
	workflow_free(wf);
}

static void test_template_of_sibling_region_beats_fallback(void **state)
{
	struct workflow *wf = load(
		HEAD
		"    steps:\n"
		"      - name: due\n"
		"        offset_days: 0\n"
		"        send_time: \"10:00\"\n"
		"        templates:\n"
		"          en: {template: payment_due, language: en}\n"
		"          es-ES: {template: payment_due, language: es}\n");
	const struct workflow_step *due = &workflow_tenant(wf, NULL)->steps[0];

	(void)state;
	assert_string_equal(workflow_step_template(due, "es-MX")->locale,
			    "es-ES");
	assert_string_equal(workflow_step_template(due, "es")->locale, "es-ES");
	assert_string_equal(workflow_step_template(due, "et-EE")->locale, "en");
	workflow_free(wf);
}

static void test_collector_note_follows_customer_locale(void **state)
{
	struct workflow *wf = load(tenants_yaml);
	const struct workflow_tenant *t = workflow_tenant(wf, NULL);

	(void)state;
	assert_string_equal(workflow_escalation_note(t, "en-US"), "Call Jordi");
	assert_string_equal(workflow_escalation_note(t, "es-MX"),
			    "Llame a Jordi");
	assert_string_equal(workflow_escalation_note(t, "fr-FR"),
			    "Llame a Jordi");
	workflow_free(wf);
}

static void test_counts_as_reminder_defaults_to_after_due_date(void **state)
{
	struct workflow *wf = load(
		HEAD
		"    steps:\n"
		"      - {name: before, offset_days: -1, send_time: "
		"\"10:00\",\n"
		"         templates: {en: {template: a, language: en}}}\n"
		"      - {name: after, offset_days: 2, send_time: \"10:00\",\n"
		"         templates: {en: {template: b, language: en}}}\n"
		"      - {name: told, offset_days: 5, send_time: \"10:00\",\n"
		"         counts_as_reminder: false,\n"
		"         templates: {en: {template: c, language: en}}}\n");
	const struct workflow_tenant *t = workflow_tenant(wf, NULL);

	(void)state;
	assert_false(t->steps[0].counts_as_reminder);
	assert_true(t->steps[1].counts_as_reminder);
	assert_false(t->steps[2].counts_as_reminder);
	workflow_free(wf);
}

static void test_catalogue_rejects_unknown_template(void **state)
{
	struct workflow *wf = load(
		HEAD
		"    steps:\n"
		"      - {name: due, offset_days: 0, send_time: \"10:00\",\n"
		"         templates: {en: {template: payment_later, "
		"language: en}}}\n");
	char err[512];

	(void)state;
	assert_int_equal(workflow_check_catalogue(
				 wf,
				 root_path("deploy/whatsapp-templates.json"),
				 err, sizeof(err)),
			 DN_ERR_CONFIG);
	assert_non_null(strstr(err, "payment_later"));
	workflow_free(wf);
}

static void test_catalogue_rejects_unknown_language(void **state)
{
	struct workflow *wf = load(
		HEAD
		"    steps:\n"
		"      - {name: due, offset_days: 0, send_time: \"10:00\",\n"
		"         templates: {en: {template: payment_due, "
		"language: en_US}}}\n");
	char err[512];

	(void)state;
	assert_int_equal(workflow_check_catalogue(
				 wf,
				 root_path("deploy/whatsapp-templates.json"),
				 err, sizeof(err)),
			 DN_ERR_CONFIG);
	assert_non_null(strstr(err, "en_US"));
	workflow_free(wf);
}

static void test_catalogue_wants_a_note_in_the_final_template(void **state)
{
	struct workflow *wf = load(
		HEAD STEPS
		"    escalation:\n"
		"      collector: Ana\n"
		"      step: {name: final, send_time: \"10:00\",\n"
		"             templates: {en: {template: payment_reminder, "
		"language: en}}}\n");
	char err[512];

	(void)state;
	assert_int_equal(workflow_check_catalogue(
				 wf,
				 root_path("deploy/whatsapp-templates.json"),
				 err, sizeof(err)),
			 DN_ERR_CONFIG);
	assert_non_null(strstr(err, "6 parameters"));
	workflow_free(wf);
}

static void test_date_and_time_parsers(void **state)
{
	struct workflow_date d;
	int minute;

	(void)state;
	assert_int_equal(workflow_date_parse("2028-02-29", &d), 0);
	assert_int_equal(d.day, 29);
	assert_int_equal(workflow_date_parse("2027-02-29", &d), DN_ERR_INVALID);
	assert_int_equal(workflow_date_parse("2026-4-01", &d), DN_ERR_INVALID);
	assert_int_equal(workflow_time_parse("23:59", false, &minute), 0);
	assert_int_equal(minute, 1439);
	assert_int_equal(workflow_time_parse("24:00", false, &minute),
			 DN_ERR_INVALID);
	assert_int_equal(workflow_time_parse("24:00", true, &minute), 0);
	assert_int_equal(minute, 1440);
	assert_int_equal(workflow_time_parse("12:60", true, &minute),
			 DN_ERR_INVALID);
}

/* ------------------------------------------------------------------ */
/* Errors: file and structure */

static void test_missing_file_names_path(void **state)
{
	struct workflow *wf = NULL;
	char err[512];

	(void)state;
	assert_int_equal(workflow_load_file("/nonexistent/workflow.yaml", &wf,
					    err, sizeof(err)),
			 DN_ERR_IO);
	assert_null(wf);
	assert_non_null(strstr(err, "/nonexistent/workflow.yaml"));
}

static void test_oversized_text_is_refused(void **state)
{
	struct workflow *wf = NULL;
	size_t len = WORKFLOW_FILE_MAX + 1;
	char *text = calloc(1, len + 1);

	(void)state;
	memset(text, '#', len);
	assert_int_equal(
		workflow_load_string(text, len, "big.yaml", &wf, NULL, 0),
		DN_ERR_TOO_LARGE);
	free(text);
}

static void test_yaml_syntax_error_names_line(void **state)
{
	(void)state;
	expect_error("version: 1\ntenants:\n  default: x: y\n",
		     "test.yaml:3: invalid YAML: mapping values are not "
		     "allowed");
}

static void test_empty_file_is_an_error(void **state)
{
	(void)state;
	expect_error("", "empty workflow file");
}

static void test_top_level_must_be_a_mapping(void **state)
{
	(void)state;
	expect_error("- a\n- b\n", "test.yaml:1: (top): expected a mapping");
}

static void test_unknown_top_level_key(void **state)
{
	(void)state;
	expect_error("versoin: 1\n",
		     "test.yaml:1: (top): expected \"version\" or "
		     "\"tenants\", got \"versoin\"");
}

static void test_unsupported_version(void **state)
{
	(void)state;
	expect_error("version: 2\n",
		     "test.yaml:1: version: expected an integer from 1 to 1, "
		     "got \"2\"");
}

static void test_missing_version(void **state)
{
	(void)state;
	expect_error("tenants: {}\n",
		     "test.yaml:1: version: expected \"version: 1\"");
}

static void test_missing_catalogue_is_io_error(void **state)
{
	struct workflow *wf = load(HEAD STEPS);
	char err[512];

	(void)state;
	assert_int_equal(workflow_check_catalogue(wf, "/nonexistent/t.json",
						  err, sizeof(err)),
			 DN_ERR_IO);
	assert_non_null(strstr(err, "/nonexistent/t.json"));
	workflow_free(wf);
}

static void test_missing_tenants(void **state)
{
	(void)state;
	expect_error("version: 1\n", "tenants: expected a \"tenants\" mapping");
}

static void test_default_tenant_is_required(void **state)
{
	(void)state;
	expect_error("version: 1\ntenants:\n  acme: {}\n",
		     "test.yaml:3: tenants: expected a tenant named "
		     "\"default\"");
}

static void test_invalid_tenant_name(void **state)
{
	(void)state;
	expect_error(HEAD STEPS "  Acme Corp: {}\n",
		     "test.yaml:9: tenants: expected a tenant id of letters, "
		     "digits");
}

static void test_unknown_tenant_key_is_a_typo(void **state)
{
	(void)state;
	expect_error(HEAD "    send_windw: {start: \"09:00\"}\n" STEPS,
		     "test.yaml:4: tenants.default: expected one of the "
		     "documented keys, got \"send_windw\"");
}

static void test_repeated_key_is_an_error(void **state)
{
	(void)state;
	expect_error(HEAD "    consolidation: true\n"
			  "    consolidation: false\n" STEPS,
		     "test.yaml:5: tenants.default.consolidation: expected "
		     "the key only once");
}

static void test_tenant_without_steps(void **state)
{
	(void)state;
	expect_error(HEAD "    consolidation: true\n",
		     "tenants.default: expected a tenant with \"steps\"");
}

static void test_steps_must_be_a_non_empty_list(void **state)
{
	(void)state;
	expect_error(HEAD "    steps: []\n",
		     "test.yaml:4: tenants.default.steps: expected at least "
		     "one step");
	expect_error(HEAD "    steps: {due: 1}\n",
		     "tenants.default.steps: expected a list of at most 7");
}

/* ------------------------------------------------------------------ */
/* Errors: steps */

static void test_too_many_steps(void **state)
{
	char text[4096];
	size_t used;

	(void)state;
	used = (size_t)snprintf(text, sizeof(text), HEAD "    steps:\n");
	for (int i = 0; i < 8; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "      - {name: s%d, offset_days: %d, "
					 "send_time: \"10:00\",\n"
					 "         templates: {en: {template: "
					 "t, language: en}}}\n",
					 i, i);
	expect_error(text, "test.yaml:5: tenants.default.steps: expected a "
			   "list of at most 7 items");
}

static void test_too_many_segments(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n" TEMPLATES
			  "        conditions:\n"
			  "          segments: [a, b, c, d, e, f, g, h, i]\n",
		     "conditions.segments: expected a list of at most 8 "
		     "items, got a list");
}

static void test_send_time_out_of_range(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"25:00\"\n" TEMPLATES,
		     "test.yaml:7: tenants.default.steps[0].send_time: "
		     "expected a local time HH:MM from 00:00 to 23:59, got "
		     "\"25:00\"");
}

static void test_send_time_needs_two_digit_hour(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"9:00\"\n" TEMPLATES,
		     "steps[0].send_time: expected a local time");
}

static void test_offset_days_must_be_an_integer(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: soon\n"
			  "        send_time: \"10:00\"\n" TEMPLATES,
		     "test.yaml:6: tenants.default.steps[0].offset_days: "
		     "expected an integer from -365 to 365, got \"soon\"");
}

static void test_offset_days_out_of_range(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 400\n"
			  "        send_time: \"10:00\"\n" TEMPLATES,
		     "got \"400\"");
}

static void test_steps_must_increase_in_offset(void **state)
{
	(void)state;
	expect_error(HEAD STEPS "      - name: notice\n"
				"        offset_days: -7\n"
				"        send_time: \"10:00\"\n" TEMPLATES,
		     "test.yaml:9: tenants.default.steps[1]: expected steps "
		     "in increasing offset_days order");
}

static void test_step_without_offset(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        send_time: \"10:00\"\n" TEMPLATES,
		     "test.yaml:5: tenants.default.steps[0]: expected a step "
		     "with \"offset_days\"");
}

static void test_step_without_name_time_or_templates(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - offset_days: 0\n"
			  "        send_time: \"10:00\"\n" TEMPLATES,
		     "expected a step with a \"name\"");
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n" TEMPLATES,
		     "expected a step with a \"send_time\"");
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n",
		     "expected a step with \"templates\"");
}

static void test_duplicate_step_names(void **state)
{
	(void)state;
	expect_error(HEAD STEPS "      - name: due\n"
				"        offset_days: 3\n"
				"        send_time: \"10:00\"\n" TEMPLATES,
		     "tenants.default: expected step names that differ");
}

static void test_fallback_locale_needs_a_template(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n"
			  "        templates: {es: {template: payment_due, "
			  "language: es}}\n",
		     "test.yaml:5: tenants.default.steps[0]: expected a "
		     "template for the fallback_locale");
}

static void test_template_needs_name_and_language(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n"
			  "        templates: {en: {template: payment_due}}\n",
		     "tenants.default.steps[0].templates.en: expected both "
		     "\"template\" and \"language\"");
}

static void test_template_name_with_spaces(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n"
			  "        templates: {en: {template: Payment Due, "
			  "language: en}}\n",
		     "templates.en.template: expected a name of lower-case "
		     "letters");
}

static void test_same_locale_twice_in_templates(void **state)
{
	(void)state;
	expect_error(HEAD
		     "    steps:\n"
		     "      - name: due\n"
		     "        offset_days: 0\n"
		     "        send_time: \"10:00\"\n"
		     "        templates:\n"
		     "          en: {template: payment_due, language: en}\n"
		     "          EN: {template: payment_due, language: en}\n",
		     "test.yaml:10: tenants.default.steps[0].templates.EN: "
		     "expected each locale once");
}

static void test_templates_must_be_a_mapping(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n"
			  "        templates: [payment_due]\n",
		     "templates: expected a mapping of locale to {template, "
		     "language}");
}

static void test_repeat_every_days_negative(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n"
			  "        repeat_every_days: -7\n" TEMPLATES,
		     "steps[0].repeat_every_days: expected an integer from 0 "
		     "to 365, got \"-7\"");
}

static void test_min_amount_currency_must_be_iso_4217(void **state)
{
	(void)state;
	expect_error(
		HEAD
		"    steps:\n"
		"      - name: due\n"
		"        offset_days: 0\n"
		"        send_time: \"10:00\"\n" TEMPLATES
		"        conditions:\n"
		"          min_amount: {minor_units: 100, currency: EURO}\n",
		"conditions.min_amount.currency: expected an ISO 4217 "
		"currency code");
}

static void test_min_amount_needs_both_fields(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n" TEMPLATES
			  "        conditions:\n"
			  "          min_amount: {currency: EUR}\n",
		     "conditions.min_amount: expected both \"minor_units\" "
		     "and \"currency\"");
}

static void test_min_amount_in_decimals_is_refused(void **state)
{
	(void)state;
	expect_error(
		HEAD
		"    steps:\n"
		"      - name: due\n"
		"        offset_days: 0\n"
		"        send_time: \"10:00\"\n" TEMPLATES
		"        conditions:\n"
		"          min_amount: {minor_units: 10.50, currency: EUR}\n",
		"min_amount.minor_units: expected an integer");
}

static void test_segments_must_be_a_list(void **state)
{
	(void)state;
	expect_error(HEAD "    steps:\n"
			  "      - name: due\n"
			  "        offset_days: 0\n"
			  "        send_time: \"10:00\"\n" TEMPLATES
			  "        conditions: {segments: late}\n",
		     "conditions.segments: expected a list of at most 8 "
		     "items, got \"late\"");
}

/* ------------------------------------------------------------------ */
/* Errors: window, holidays, cap, deadline */

static void test_window_start_after_end(void **state)
{
	(void)state;
	expect_error(
		HEAD
		"    send_window: {start: \"20:00\", end: \"09:00\"}\n" STEPS,
		"test.yaml:4: tenants.default.send_window: expected a "
		"send window whose start is before its end");
}

static void test_window_end_may_be_midnight_but_start_not(void **state)
{
	struct workflow *wf =
		load(HEAD "    send_window: {end: \"24:00\"}\n" STEPS);

	(void)state;
	assert_int_equal(workflow_tenant(wf, NULL)->window_end_minute, 1440);
	workflow_free(wf);
	expect_error(HEAD "    send_window: {start: \"24:00\"}\n" STEPS,
		     "send_window.start: expected a local time HH:MM from "
		     "00:00 to 23:59, got \"24:00\"");
}

static void test_unknown_weekday(void **state)
{
	(void)state;
	expect_error(HEAD "    send_window: {weekdays: [mon, funday]}\n" STEPS,
		     "send_window.weekdays[1]: expected a weekday: mon, tue, "
		     "wed, thu, fri, sat or sun, got \"funday\"");
}

static void test_no_weekday_at_all(void **state)
{
	(void)state;
	expect_error(HEAD "    send_window: {weekdays: []}\n" STEPS,
		     "send_window.weekdays: expected at least one weekday");
}

static void test_invalid_holiday_date(void **state)
{
	(void)state;
	expect_error(HEAD
		     "    holidays: [\"2026-12-25\", \"2027-02-29\"]\n" STEPS,
		     "test.yaml:4: tenants.default.holidays[1]: expected a "
		     "valid date YYYY-MM-DD, got \"2027-02-29\"");
}

static void test_frequency_cap_values(void **state)
{
	(void)state;
	expect_error(HEAD "    frequency_cap: {max_messages: -1}\n" STEPS,
		     "frequency_cap.max_messages: expected an integer from 0 "
		     "to 100");
	expect_error(
		HEAD
		"    frequency_cap: {max_messages: 2, per_days: 0}\n" STEPS,
		"frequency_cap.per_days: expected an integer from 1 to "
		"366, got \"0\"");
}

static void test_command_deadline_must_be_positive(void **state)
{
	(void)state;
	expect_error(HEAD "    command_deadline_minutes: 0\n" STEPS,
		     "command_deadline_minutes: expected an integer from 1 to "
		     "10080");
}

static void test_boolean_must_be_true_or_false(void **state)
{
	(void)state;
	expect_error(HEAD "    consolidation: maybe\n" STEPS,
		     "test.yaml:4: tenants.default.consolidation: expected "
		     "true or false, got \"maybe\"");
}

/* ------------------------------------------------------------------ */
/* Errors: escalation */

static void test_escalation_needs_collector(void **state)
{
	(void)state;
	expect_error(HEAD STEPS
		     "    escalation:\n"
		     "      step: {name: final, send_time: \"10:00\",\n"
		     "             templates: {en: {template: payment_final, "
		     "language: en}}}\n",
		     "test.yaml:10: tenants.default.escalation: expected an "
		     "escalation with a \"collector\"");
}

static void test_escalation_needs_final_step(void **state)
{
	(void)state;
	expect_error(HEAD STEPS "    escalation: {collector: Ana}\n",
		     "tenants.default.escalation: expected an escalation with "
		     "a \"step\"");
}

static void test_escalation_threshold_at_least_one(void **state)
{
	(void)state;
	expect_error(HEAD STEPS
		     "    escalation: {collector: Ana, after_unanswered: 0}\n",
		     "escalation.after_unanswered: expected an integer from 1 "
		     "to 100, got \"0\"");
}

static void test_final_step_takes_no_offset(void **state)
{
	(void)state;
	expect_error(HEAD STEPS
		     "    escalation:\n"
		     "      collector: Ana\n"
		     "      step: {name: final, offset_days: 30, "
		     "send_time: \"10:00\",\n"
		     "             templates: {en: {template: payment_final, "
		     "language: en}}}\n",
		     "tenants.default.escalation.step: expected one of the "
		     "documented keys, got \"offset_days\"");
}

static void test_final_step_name_must_be_new(void **state)
{
	(void)state;
	expect_error(HEAD STEPS
		     "    escalation:\n"
		     "      collector: Ana\n"
		     "      step: {name: due, send_time: \"10:00\",\n"
		     "             templates: {en: {template: payment_final, "
		     "language: en}}}\n",
		     "expected the final step's name to differ");
}

static void test_note_too_long(void **state)
{
	char text[2048];
	char note[600];

	(void)state;
	memset(note, 'x', sizeof(note) - 1);
	note[sizeof(note) - 1] = '\0';
	snprintf(text, sizeof(text),
		 HEAD STEPS "    escalation:\n"
			    "      collector: Ana\n"
			    "      notes: {en: %s}\n",
		 note);
	expect_error(text, "escalation.notes.en: expected one line of text, "
			   "at most 511 bytes");
}

static void test_error_in_other_tenant_names_it(void **state)
{
	(void)state;
	expect_error(HEAD STEPS "  acme:\n"
				"    frequency_cap: {per_days: many}\n",
		     "test.yaml:10: tenants.acme.frequency_cap.per_days: "
		     "expected an integer from 1 to 366, got \"many\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_file_is_the_classic_flow),
		cmocka_unit_test(test_default_file_matches_template_catalogue),
		cmocka_unit_test(test_default_file_covers_six_locales),
		cmocka_unit_test(test_tenant_inherits_unset_keys_from_default),
		cmocka_unit_test(test_tenant_can_turn_escalation_off),
		cmocka_unit_test(
			test_template_by_exact_locale_prefix_or_fallback),
		cmocka_unit_test(
			test_template_of_sibling_region_beats_fallback),
		cmocka_unit_test(test_collector_note_follows_customer_locale),
		cmocka_unit_test(
			test_counts_as_reminder_defaults_to_after_due_date),
		cmocka_unit_test(test_catalogue_rejects_unknown_template),
		cmocka_unit_test(test_catalogue_rejects_unknown_language),
		cmocka_unit_test(
			test_catalogue_wants_a_note_in_the_final_template),
		cmocka_unit_test(test_date_and_time_parsers),
		cmocka_unit_test(test_missing_file_names_path),
		cmocka_unit_test(test_oversized_text_is_refused),
		cmocka_unit_test(test_yaml_syntax_error_names_line),
		cmocka_unit_test(test_empty_file_is_an_error),
		cmocka_unit_test(test_top_level_must_be_a_mapping),
		cmocka_unit_test(test_unknown_top_level_key),
		cmocka_unit_test(test_unsupported_version),
		cmocka_unit_test(test_missing_version),
		cmocka_unit_test(test_missing_catalogue_is_io_error),
		cmocka_unit_test(test_missing_tenants),
		cmocka_unit_test(test_default_tenant_is_required),
		cmocka_unit_test(test_invalid_tenant_name),
		cmocka_unit_test(test_unknown_tenant_key_is_a_typo),
		cmocka_unit_test(test_repeated_key_is_an_error),
		cmocka_unit_test(test_tenant_without_steps),
		cmocka_unit_test(test_steps_must_be_a_non_empty_list),
		cmocka_unit_test(test_too_many_steps),
		cmocka_unit_test(test_too_many_segments),
		cmocka_unit_test(test_send_time_out_of_range),
		cmocka_unit_test(test_send_time_needs_two_digit_hour),
		cmocka_unit_test(test_offset_days_must_be_an_integer),
		cmocka_unit_test(test_offset_days_out_of_range),
		cmocka_unit_test(test_steps_must_increase_in_offset),
		cmocka_unit_test(test_step_without_offset),
		cmocka_unit_test(test_step_without_name_time_or_templates),
		cmocka_unit_test(test_duplicate_step_names),
		cmocka_unit_test(test_fallback_locale_needs_a_template),
		cmocka_unit_test(test_template_needs_name_and_language),
		cmocka_unit_test(test_template_name_with_spaces),
		cmocka_unit_test(test_same_locale_twice_in_templates),
		cmocka_unit_test(test_templates_must_be_a_mapping),
		cmocka_unit_test(test_repeat_every_days_negative),
		cmocka_unit_test(test_min_amount_currency_must_be_iso_4217),
		cmocka_unit_test(test_min_amount_needs_both_fields),
		cmocka_unit_test(test_min_amount_in_decimals_is_refused),
		cmocka_unit_test(test_segments_must_be_a_list),
		cmocka_unit_test(test_window_start_after_end),
		cmocka_unit_test(test_window_end_may_be_midnight_but_start_not),
		cmocka_unit_test(test_unknown_weekday),
		cmocka_unit_test(test_no_weekday_at_all),
		cmocka_unit_test(test_invalid_holiday_date),
		cmocka_unit_test(test_frequency_cap_values),
		cmocka_unit_test(test_command_deadline_must_be_positive),
		cmocka_unit_test(test_boolean_must_be_true_or_false),
		cmocka_unit_test(test_escalation_needs_collector),
		cmocka_unit_test(test_escalation_needs_final_step),
		cmocka_unit_test(test_escalation_threshold_at_least_one),
		cmocka_unit_test(test_final_step_takes_no_offset),
		cmocka_unit_test(test_final_step_name_must_be_new),
		cmocka_unit_test(test_note_too_long),
		cmocka_unit_test(test_error_in_other_tenant_names_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
