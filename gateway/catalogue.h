/* catalogue.h: the message templates WhatsApp has approved for us. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loaded from deploy/whatsapp-templates.json (DUNNING_GATEWAY_TEMPLATES).
 * The gateway checks every template command against it before calling the
 * API, so that a missing template, language or parameter becomes a failed
 * message event with a clear reason instead of a refused call (error
 * 132001 or 132000).
 */
#ifndef DUNNING_CATALOGUE_H
#define DUNNING_CATALOGUE_H

#include <stddef.h>

#define CATALOGUE_FILE_MAX (1024 * 1024)

struct catalogue;

/* Reads the catalogue at path. Returns NULL with the reason in err. Caller
 * frees with catalogue_free. */
struct catalogue *catalogue_load(const char *path, char *err, size_t errlen);

/* Parses a catalogue from JSON text (for tests and catalogue_load). */
struct catalogue *catalogue_parse(const char *json, size_t len, char *err,
				  size_t errlen);

void catalogue_free(struct catalogue *cat);

/*
 * Checks that template name exists, is approved, has language and takes
 * exactly parameter_count parameters. Returns 0, or DN_ERR_PERMANENT with
 * the reason in err.
 */
int catalogue_check(const struct catalogue *cat, const char *name,
		    const char *language, size_t parameter_count, char *err,
		    size_t errlen);

#endif
