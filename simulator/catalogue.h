/* catalogue.h: the message templates WhatsApp has approved for the sender. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loaded once from deploy/whatsapp-templates.json (see docs/architecture.md,
 * "Templates and replies"): per template its name, positional parameter
 * count, languages and quick-reply buttons. Read-only after loading, so any
 * thread may look templates up.
 */
#ifndef DUNNING_SIM_CATALOGUE_H
#define DUNNING_SIM_CATALOGUE_H

#include <stddef.h>

#define CATALOGUE_TEMPLATES_MAX 64
#define CATALOGUE_LANGUAGES_MAX 16
#define CATALOGUE_BUTTONS_MAX	3

struct catalogue_button {
	char *payload; /* "paid", "stop", ... */
	char *text;    /* what the customer sees and taps */
};

struct catalogue_template {
	char *name;
	int parameter_count;
	size_t language_count;
	char *languages[CATALOGUE_LANGUAGES_MAX]; /* "en", "pt_BR", ... */
	size_t button_count;
	struct catalogue_button buttons[CATALOGUE_BUTTONS_MAX];
};

struct catalogue;

/*
 * Reads the catalogue at path. Returns a new catalogue (caller frees with
 * catalogue_free), or NULL with the reason (file, position, field) in err.
 */
struct catalogue *catalogue_load(const char *path, char *err, size_t errlen);

/* Same from JSON text already in memory; origin names it in errors. */
struct catalogue *catalogue_parse(const char *text, const char *origin,
				  char *err, size_t errlen);

void catalogue_free(struct catalogue *cat);

/* The template called name, or NULL. Borrowed from cat. */
const struct catalogue_template *catalogue_find(const struct catalogue *cat,
						const char *name);

/* Whether tpl is approved in language code (exact match, "pt_BR"). */
int catalogue_has_language(const struct catalogue_template *tpl,
			   const char *code);

#endif
