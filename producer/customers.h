/* customers.h: the customer directory CSV into CustomerUpserted events. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directory's header (contract 3, any column order):
 *
 *   customer_id,name,phone,locale,time_zone,opt_in,opt_in_at,
 *   opt_in_source,segment,email
 *
 * Each row is checked (phone to E.164 with the default region, locale a
 * BCP 47 tag ICU accepts, time_zone an IANA zone ICU knows, opt_in one of
 * opted_in/opted_out/unknown, opt_in_at a UTC instant or empty) and
 * becomes one CustomerUpserted dated at opt_in_at (or the epoch when the
 * directory gives no date), so re-importing the same directory yields
 * the same event ids.
 */
#ifndef DUNNING_PRODUCER_CUSTOMERS_H
#define DUNNING_PRODUCER_CUSTOMERS_H

#include <stdbool.h>
#include <stddef.h>

struct csv_record;
struct import_options;
struct sink;

/* The directory's header line, without newline. */
extern const char customers_header[];

/* Whether a header record is the directory's (has customer_id, phone and
 * opt_in columns), for format detection. */
bool customers_header_matches(const struct csv_record *header);

/* Whether zone is an IANA time zone ICU knows. */
bool customers_valid_time_zone(const char *zone);

/* Whether tag is a well-formed BCP 47 language tag. */
bool customers_valid_locale(const char *tag);

/* Imports a directory file; rows that fail go to the sink's rejects.
 * Returns 0, or an error if the file or its header cannot be used. */
int customers_import_file(const char *path, const struct import_options *opts,
			  struct sink *sink, char *err, size_t errlen);

#endif
