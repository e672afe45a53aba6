/* directory.c: distinct customer ids of a ledger into a directory file. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "directory.h"

#include "civil.h"
#include "csv.h"
#include "generate.h"
#include "import.h"
#include "ledger.h"

#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Distinct ids seen so far and the earliest date. */
struct id_list {
	char **ids;
	size_t count, cap;
	int64_t first_day;
};

static int id_list_add(struct id_list *list, const char *id)
{
	if (list->count == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 256;
		char **grown = realloc(list->ids, cap * sizeof(*grown));

		if (!grown)
			return DN_ERR_NOMEM;
		list->ids = grown;
		list->cap = cap;
	}
	list->ids[list->count] = strdup(id);
	if (!list->ids[list->count])
		return DN_ERR_NOMEM;
	list->count++;
	return DN_OK;
}

static int compare_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops repeats. */
static void id_list_unique(struct id_list *list)
{
	size_t i, kept = 0;

	qsort(list->ids, list->count, sizeof(char *), compare_ids);
	for (i = 0; i < list->count; i++) {
		if (kept && strcmp(list->ids[kept - 1], list->ids[i]) == 0) {
			free(list->ids[i]);
			continue;
		}
		list->ids[kept++] = list->ids[i];
	}
	list->count = kept;
}

static void id_list_release(struct id_list *list)
{
	size_t i;

	for (i = 0; i < list->count; i++)
		free(list->ids[i]);
	free(list->ids);
}

/* Collects the customer ids and the first date of the ledger. */
static int scan(struct csv_reader *reader, struct ledger_layout *layout,
		struct id_list *list, char *err, size_t errlen)
{
	char id[256], date_text[64];
	struct csv_record rec;
	struct civil_date date;
	int rc;

	rc = csv_reader_next(reader, &rec, err, errlen);
	rc = rc ? rc : ledger_layout_bind(layout, &rec, err, errlen);
	while (!rc && (rc = csv_reader_next(reader, &rec, NULL, 0)) !=
			      DN_ERR_NOT_FOUND) {
		if (rc == DN_ERR_IO)
			return dn_fail(rc, err, errlen, "read error");
		rc = DN_OK;
		ledger_value(layout, &rec, LEDGER_CUSTOMER_ID, id, sizeof(id));
		ledger_value(layout, &rec, LEDGER_DATE, date_text,
			     sizeof(date_text));
		if (!id[0])
			continue;
		rc = id_list_add(list, id);
		if (!civil_parse(date_text, strlen(date_text),
				 (enum civil_format)layout->date_format, &date,
				 NULL, 0) &&
		    civil_to_days(date) < list->first_day)
			list->first_day = civil_to_days(date);
	}
	return rc == DN_ERR_NOT_FOUND ? DN_OK : rc;
}

int directory_from_ledger(const char *path, const struct import_options *opts,
			  uint64_t seed, const char *out, size_t *count,
			  char *err, size_t errlen)
{
	struct id_list list = { NULL, 0, 0, INT64_MAX };
	struct ledger_layout layout;
	struct csv_reader *reader = NULL;
	FILE *in = NULL;
	int rc;

	rc = ledger_layout_init(&layout, opts, err, errlen);
	if (!rc && !(in = fopen(path, "rb")))
		rc = dn_fail(DN_ERR_IO, err, errlen, "cannot open %s: %s", path,
			     strerror(errno));
	if (!rc && !(reader = csv_reader_new(in, opts->delimiter)))
		rc = DN_ERR_NOMEM;
	rc = rc ? rc : scan(reader, &layout, &list, err, errlen);
	if (!rc) {
		id_list_unique(&list);
		*count = list.count;
		rc = generate_directory(
			(const char *const *)list.ids, list.count, seed,
			civil_from_days(list.first_day == INT64_MAX
						? 0
						: list.first_day),
			out, err, errlen);
	}
	csv_reader_free(reader);
	if (in)
		fclose(in);
	id_list_release(&list);
	return rc;
}
