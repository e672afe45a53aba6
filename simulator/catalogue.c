/* catalogue.c: loading the template catalogue with jansson. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "catalogue.h"

#include "error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct catalogue {
	size_t count;
	struct catalogue_template templates[CATALOGUE_TEMPLATES_MAX];
};

static void template_release(struct catalogue_template *tpl)
{
	size_t i;

	free(tpl->name);
	for (i = 0; i < tpl->language_count; i++)
		free(tpl->languages[i]);
	for (i = 0; i < tpl->button_count; i++) {
		free(tpl->buttons[i].payload);
		free(tpl->buttons[i].text);
	}
}

void catalogue_free(struct catalogue *cat)
{
	size_t i;

	if (!cat)
		return;
	for (i = 0; i < cat->count; i++)
		template_release(&cat->templates[i]);
	free(cat);
}

static int template_buttons(struct catalogue_template *tpl, json_t *buttons,
			    const char *origin, char *err, size_t errlen)
{
	size_t i;
	json_t *b;

	json_array_foreach(buttons, i, b)
	{
		const char *payload =
			json_string_value(json_object_get(b, "payload"));
		const char *text =
			json_string_value(json_object_get(b, "text"));

		if (i >= CATALOGUE_BUTTONS_MAX || !payload || !text)
			return dn_fail(DN_ERR_INVALID, err, errlen,
				       "%s: template %s: button %zu needs "
				       "payload and text (at most %d buttons)",
				       origin, tpl->name, i,
				       CATALOGUE_BUTTONS_MAX);
		tpl->buttons[i].payload = strdup(payload);
		tpl->buttons[i].text = strdup(text);
		tpl->button_count = i + 1;
		if (!tpl->buttons[i].payload || !tpl->buttons[i].text)
			return dn_fail(DN_ERR_NOMEM, err, errlen,
				       "out of memory");
	}
	return DN_OK;
}

static int template_languages(struct catalogue_template *tpl, json_t *languages,
			      const char *origin, char *err, size_t errlen)
{
	const char *code;
	json_t *text;

	json_object_foreach(languages, code, text)
	{
		if (tpl->language_count == CATALOGUE_LANGUAGES_MAX)
			return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
				       "%s: template %s: more than %d "
				       "languages",
				       origin, tpl->name,
				       CATALOGUE_LANGUAGES_MAX);
		tpl->languages[tpl->language_count] = strdup(code);
		if (!tpl->languages[tpl->language_count])
			return dn_fail(DN_ERR_NOMEM, err, errlen,
				       "out of memory");
		tpl->language_count++;
	}
	return DN_OK;
}

/* Fills tpl from one element of "templates". */
static int template_parse(struct catalogue_template *tpl, json_t *item,
			  size_t index, const char *origin, char *err,
			  size_t errlen)
{
	const char *name = json_string_value(json_object_get(item, "name"));
	json_t *count = json_object_get(item, "parameters");
	json_t *languages = json_object_get(item, "languages");
	int rc;

	if (!name || !json_is_integer(count) || !json_is_object(languages))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "%s: templates[%zu] needs \"name\", an integer "
			       "\"parameters\" and a \"languages\" object",
			       origin, index);
	tpl->name = strdup(name);
	if (!tpl->name)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	tpl->parameter_count = (int)json_integer_value(count);
	rc = template_languages(tpl, languages, origin, err, errlen);
	if (rc)
		return rc;
	return template_buttons(tpl, json_object_get(item, "buttons"), origin,
				err, errlen);
}

static struct catalogue *catalogue_from_json(json_t *root, const char *origin,
					     char *err, size_t errlen)
{
	json_t *templates = json_object_get(root, "templates");
	struct catalogue *cat;
	json_t *item;
	size_t i;

	if (!json_is_array(templates) ||
	    json_array_size(templates) > CATALOGUE_TEMPLATES_MAX) {
		dn_fail(DN_ERR_INVALID, err, errlen,
			"%s: \"templates\" must be an array of at most %d",
			origin, CATALOGUE_TEMPLATES_MAX);
		return NULL;
	}
	cat = calloc(1, sizeof(*cat));
	if (!cat) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	json_array_foreach(templates, i, item)
	{
		cat->count = i + 1;
		if (template_parse(&cat->templates[i], item, i, origin, err,
				   errlen)) {
			catalogue_free(cat);
			return NULL;
		}
	}
	return cat;
}

struct catalogue *catalogue_parse(const char *text, const char *origin,
				  char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_loads(text, 0, &jerr);
	struct catalogue *cat;

	if (!root) {
		dn_fail(DN_ERR_DECODE, err, errlen, "%s:%d:%d: %s", origin,
			jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	cat = catalogue_from_json(root, origin, err, errlen);
	json_decref(root);
	return cat;
}

struct catalogue *catalogue_load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	struct catalogue *cat;

	if (!root) {
		dn_fail(DN_ERR_IO, err, errlen,
			"cannot read templates %s:%d: %s", path, jerr.line,
			jerr.text);
		return NULL;
	}
	cat = catalogue_from_json(root, path, err, errlen);
	json_decref(root);
	return cat;
}

const struct catalogue_template *catalogue_find(const struct catalogue *cat,
						const char *name)
{
	size_t i;

	for (i = 0; i < cat->count; i++)
		if (strcmp(cat->templates[i].name, name) == 0)
			return &cat->templates[i];
	return NULL;
}

int catalogue_has_language(const struct catalogue_template *tpl,
			   const char *code)
{
	size_t i;

	for (i = 0; i < tpl->language_count; i++)
		if (strcmp(tpl->languages[i], code) == 0)
			return 1;
	return 0;
}
