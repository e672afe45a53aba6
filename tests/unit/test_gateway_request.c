/* test_gateway_request.c: send requests are built and cleaned as WhatsApp wants. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies the JSON body of a send (template and free-form text), that
 * Unicode names, emoji, quotes and backslashes survive a round trip
 * through the JSON, the parameter cleaning rule and its refusals, and the
 * template catalogue check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../gateway/catalogue.h"
#include "error.h"
#include "../../gateway/wa_request.h"

#include "dunning/v1/whatsapp.pb-c.h"

struct command {
	Dunning__V1__SendCommand cmd;
	Dunning__V1__TemplateParameter params[6];
	Dunning__V1__TemplateParameter *list[6];
};

static void command_init(struct command *c, const char *const *texts,
			 size_t count)
{
	size_t i;

	dunning__v1__send_command__init(&c->cmd);
	c->cmd.command_id = "demo/INV-1/reminder/v3";
	c->cmd.tenant = "demo";
	c->cmd.customer_id = "C-1";
	c->cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE;
	c->cmd.template_name = "payment_reminder";
	c->cmd.language = "pt_BR";
	for (i = 0; i < count; i++) {
		dunning__v1__template_parameter__init(&c->params[i]);
		c->params[i].text = (char *)texts[i];
		c->list[i] = &c->params[i];
	}
	c->cmd.parameters = c->list;
	c->cmd.n_parameters = count;
}

/* Builds and parses back; the caller frees with json_decref. */
static json_t *build(const Dunning__V1__SendCommand *cmd, const char *to)
{
	char *body = NULL, err[256];
	json_t *root;

	assert_int_equal(wa_request_build(cmd, to, &body, err, sizeof(err)),
			 DN_OK);
	root = json_loads(body, 0, NULL);
	assert_non_null(root);
	free(body);
	return root;
}

static const char *param_text(json_t *root, size_t i)
{
	json_t *components = json_object_get(json_object_get(root, "template"),
					     "components");
	json_t *params =
		json_object_get(json_array_get(components, 0), "parameters");

	return json_string_value(
		json_object_get(json_array_get(params, i), "text"));
}

static void test_template_request_has_the_documented_shape(void **state)
{
	const char *texts[] = { "Ana", "INV-1", "R$ 1.234,56", "05/01/2026",
				"Pix" };
	struct command c;
	json_t *root, *template;

	(void)state;
	command_init(&c, texts, 5);
	root = build(&c.cmd, "+5511987654321");
	assert_string_equal(
		json_string_value(json_object_get(root, "messaging_product")),
		"whatsapp");
	assert_string_equal(json_string_value(json_object_get(root, "to")),
			    "+5511987654321");
	assert_string_equal(json_string_value(json_object_get(root, "type")),
			    "template");
	assert_string_equal(json_string_value(json_object_get(
				    root, "biz_opaque_callback_data")),
			    "demo/INV-1/reminder/v3");
	template = json_object_get(root, "template");
	assert_string_equal(
		json_string_value(json_object_get(template, "name")),
		"payment_reminder");
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(template, "language"), "code")),
		"pt_BR");
	assert_string_equal(param_text(root, 2), "R$ 1.234,56");
	assert_string_equal(param_text(root, 4), "Pix");
	json_decref(root);
}

static void test_unicode_emoji_quotes_and_backslashes_round_trip(void **state)
{
	const char *texts[] = { "Joan Àlvarez i Muñoz 😀", "INV-\"7\"",
				"C:\\pay\\here", "日本語", "ĳ — ☃" };
	struct command c;
	json_t *root;
	size_t i;

	(void)state;
	command_init(&c, texts, 5);
	root = build(&c.cmd, "+34600000001");
	for (i = 0; i < 5; i++)
		assert_string_equal(param_text(root, i), texts[i]);
	json_decref(root);
}

static void test_newlines_tabs_and_space_runs_are_cleaned(void **state)
{
	char out[256], err[128];

	(void)state;
	assert_int_equal(wa_request_sanitise("Line one\nline\ttwo\r\nend", out,
					     sizeof(out), err, sizeof(err)),
			 DN_OK);
	assert_string_equal(out, "Line one line two end");
	assert_int_equal(wa_request_sanitise("  a      b  ", out, sizeof(out),
					     err, sizeof(err)),
			 DN_OK);
	assert_string_equal(out, "a b");
	assert_null(strstr(out, "     "));
}

static void test_empty_invalid_or_overlong_parameters_are_refused(void **state)
{
	char out[8192], err[128], *long_text;

	(void)state;
	assert_int_equal(wa_request_sanitise(" \n\t ", out, sizeof(out), err,
					     sizeof(err)),
			 DN_ERR_PERMANENT);
	assert_int_equal(wa_request_sanitise("bad \xC3\x28 byte", out,
					     sizeof(out), err, sizeof(err)),
			 DN_ERR_PERMANENT);
	long_text = malloc(WA_PARAM_CHARS_MAX + 2);
	memset(long_text, 'x', WA_PARAM_CHARS_MAX + 1);
	long_text[WA_PARAM_CHARS_MAX + 1] = '\0';
	assert_int_equal(wa_request_sanitise(long_text, out, sizeof(out), err,
					     sizeof(err)),
			 DN_ERR_PERMANENT);
	long_text[WA_PARAM_CHARS_MAX] = '\0';
	assert_int_equal(wa_request_sanitise(long_text, out, sizeof(out), err,
					     sizeof(err)),
			 DN_OK);
	free(long_text);
}

static void test_multibyte_characters_count_once_toward_the_limit(void **state)
{
	char out[8192], err[128], text[WA_PARAM_CHARS_MAX * 4 + 1];
	size_t i;

	(void)state;
	for (i = 0; i < WA_PARAM_CHARS_MAX; i++)
		memcpy(text + 4 * i, "\xF0\x9F\x98\x80", 4); /* 😀 */
	text[4 * WA_PARAM_CHARS_MAX] = '\0';
	assert_int_equal(
		wa_request_sanitise(text, out, sizeof(out), err, sizeof(err)),
		DN_OK);
}

static void test_bad_parameter_refuses_the_whole_command(void **state)
{
	const char *texts[] = { "Ana", "", "10 EUR", "today", "card" };
	struct command c;
	char *body = NULL, err[256];

	(void)state;
	command_init(&c, texts, 5);
	assert_int_equal(wa_request_build(&c.cmd, "+34600000001", &body, err,
					  sizeof(err)),
			 DN_ERR_PERMANENT);
	assert_null(body);
	assert_non_null(strstr(err, "parameter 2"));
}

static void test_text_reply_carries_context_and_keeps_newlines(void **state)
{
	struct command c;
	json_t *root;

	(void)state;
	command_init(&c, NULL, 0);
	c.cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEXT;
	c.cmd.text = "Thanks!\nWe got your \"payment\" 👍";
	c.cmd.reply_to_message_id = "wamid.ABC";
	root = build(&c.cmd, "+34600000001");
	assert_string_equal(json_string_value(json_object_get(root, "type")),
			    "text");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(root, "text"), "body")),
			    c.cmd.text);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(root, "context"), "message_id")),
		"wamid.ABC");
	json_decref(root);
}

static void test_command_without_recipient_is_refused(void **state)
{
	const char *texts[] = { "Ana" };
	struct command c;
	char *body = NULL, err[256];

	(void)state;
	command_init(&c, texts, 1);
	assert_int_equal(wa_request_build(&c.cmd, "", &body, err, sizeof(err)),
			 DN_ERR_PERMANENT);
}

static const char catalogue_json[] =
	"{\"templates\": ["
	"{\"name\": \"payment_due\", \"status\": \"APPROVED\", "
	"\"parameters\": 5, \"languages\": {\"en\": \"x\", \"pt_BR\": \"y\"}},"
	"{\"name\": \"old_one\", \"status\": \"PAUSED\", \"parameters\": 1, "
	"\"languages\": {\"en\": \"x\"}}]}";

static void test_catalogue_refuses_unknown_paused_or_miscounted(void **state)
{
	struct catalogue *cat;
	char err[256];

	(void)state;
	cat = catalogue_parse(catalogue_json, strlen(catalogue_json), err,
			      sizeof(err));
	assert_non_null(cat);
	assert_int_equal(catalogue_check(cat, "payment_due", "pt_BR", 5, err,
					 sizeof(err)),
			 DN_OK);
	assert_int_equal(
		catalogue_check(cat, "payment_due", "fr", 5, err, sizeof(err)),
		DN_ERR_PERMANENT);
	assert_int_equal(
		catalogue_check(cat, "payment_due", "en", 4, err, sizeof(err)),
		DN_ERR_PERMANENT);
	assert_int_equal(
		catalogue_check(cat, "nope", "en", 5, err, sizeof(err)),
		DN_ERR_PERMANENT);
	assert_int_equal(
		catalogue_check(cat, "old_one", "en", 1, err, sizeof(err)),
		DN_ERR_PERMANENT);
	catalogue_free(cat);
}

static void test_shipped_catalogue_loads(void **state)
{
	char path[4096], err[256];
	const char *root = getenv("DUNNING_ROOT");
	struct catalogue *cat;

	(void)state;
	snprintf(path, sizeof(path), "%s/deploy/whatsapp-templates.json",
		 root ? root : ".");
	cat = catalogue_load(path, err, sizeof(err));
	assert_non_null(cat);
	assert_int_equal(catalogue_check(cat, "payment_final", "ca", 6, err,
					 sizeof(err)),
			 DN_OK);
	catalogue_free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_template_request_has_the_documented_shape),
		cmocka_unit_test(
			test_unicode_emoji_quotes_and_backslashes_round_trip),
		cmocka_unit_test(test_newlines_tabs_and_space_runs_are_cleaned),
		cmocka_unit_test(
			test_empty_invalid_or_overlong_parameters_are_refused),
		cmocka_unit_test(
			test_multibyte_characters_count_once_toward_the_limit),
		cmocka_unit_test(test_bad_parameter_refuses_the_whole_command),
		cmocka_unit_test(
			test_text_reply_carries_context_and_keeps_newlines),
		cmocka_unit_test(test_command_without_recipient_is_refused),
		cmocka_unit_test(
			test_catalogue_refuses_unknown_paused_or_miscounted),
		cmocka_unit_test(test_shipped_catalogue_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
