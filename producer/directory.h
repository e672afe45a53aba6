/* directory.h: a customer directory for the customers of an export. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real exports such as the IBM accounts-receivable sample name customers
 * by id only. To demo reminders on them, this writes a realistic customer
 * directory (generate.h) with one row per distinct customer id found in
 * the ledger, opt-ins dated in the year before its first invoice.
 */
#ifndef DUNNING_PRODUCER_DIRECTORY_H
#define DUNNING_PRODUCER_DIRECTORY_H

#include <stddef.h>
#include <stdint.h>

struct import_options;

/*
 * Reads the ledger at path with opts's preset or mapping and writes the
 * directory to out. Returns 0 or an error with the reason in err; *count
 * receives the number of customers written.
 */
int directory_from_ledger(const char *path, const struct import_options *opts,
			  uint64_t seed, const char *out, size_t *count,
			  char *err, size_t errlen);

#endif
