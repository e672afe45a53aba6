/* catalogue.c: the message templates WhatsApp has approved for us. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "catalogue.h"

#include "error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct catalogue {
	json_t *templates; /* the "templates" array, owned */
};

struct catalogue *catalogue_parse(const char *json, size_t len, char *err,
				  size_t errlen)
{
	struct catalogue *cat;
	json_error_t why;
	json_t *root = json_loadb(json, len, 0, &why);

	if (!root) {
		dn_fail(DN_ERR_DECODE, err, errlen,
			"template catalogue line %d: %s", why.line, why.text);
		return NULL;
	}
	if (!json_is_array(json_object_get(root, "templates"))) {
		dn_fail(DN_ERR_DECODE, err, errlen,
			"template catalogue has no \"templates\" array");
		json_decref(root);
		return NULL;
	}
	cat = calloc(1, sizeof(*cat));
	if (!cat) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		json_decref(root);
		return NULL;
	}
	cat->templates = json_incref(json_object_get(root, "templates"));
	json_decref(root);
	return cat;
}

struct catalogue *catalogue_load(const char *path, char *err, size_t errlen)
{
	json_error_t why;
	json_t *root = json_load_file(path, 0, &why);
	struct catalogue *cat;
	char *text;

	if (!root) {
		dn_fail(DN_ERR_CONFIG, err, errlen,
			"DUNNING_GATEWAY_TEMPLATES=\"%s\": line %d: %s", path,
			why.line, why.text);
		return NULL;
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	cat = catalogue_parse(text, strlen(text), err, errlen);
	free(text);
	return cat;
}

void catalogue_free(struct catalogue *cat)
{
	if (!cat)
		return;
	json_decref(cat->templates);
	free(cat);
}

static json_t *template_find(const struct catalogue *cat, const char *name)
{
	size_t i;
	json_t *t;

	json_array_foreach(cat->templates, i, t)
	{
		const char *n = json_string_value(json_object_get(t, "name"));

		if (n && strcmp(n, name) == 0)
			return t;
	}
	return NULL;
}

int catalogue_check(const struct catalogue *cat, const char *name,
		    const char *language, size_t parameter_count, char *err,
		    size_t errlen)
{
	json_t *t = template_find(cat, name);
	const char *status;
	json_int_t wanted;

	if (!t)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "template %s is not in the catalogue", name);
	status = json_string_value(json_object_get(t, "status"));
	if (status && strcmp(status, "APPROVED") != 0)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "template %s is %s, not APPROVED", name, status);
	if (!json_object_get(json_object_get(t, "languages"), language))
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "template %s has no language %s", name,
			       language);
	wanted = json_integer_value(json_object_get(t, "parameters"));
	if ((json_int_t)parameter_count != wanted)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "template %s takes %lld parameters, command "
			       "has %zu",
			       name, (long long)wanted, parameter_count);
	return DN_OK;
}
