/* cli.h: the dunning-producer command line: import, generate, directory. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 *   dunning-producer import [options] FILE...
 *   dunning-producer generate --seed N --customers N --invoices N
 *                             --start DATE --days N --out-dir DIR
 *   dunning-producer generate-directory --ledger FILE --preset ibm-ar
 *                             --out FILE
 *
 * Options are parsed by table; those that mirror a setting (--tenant,
 * --currency, --reject-file, --phone-region, --rounding) override it
 * after the configuration is loaded and are checked like it.
 */
#ifndef DUNNING_PRODUCER_CLI_H
#define DUNNING_PRODUCER_CLI_H

#include "config.h"

/* The producer's own settings (docs/configuration.md). */
extern const struct config_key producer_config_keys[];

/*
 * Runs the command line and returns the exit status: 0 when everything
 * was read, published and acknowledged; 1 when anything was rejected, not
 * acknowledged or a file could not be read; 2 for a usage or
 * configuration error.
 */
int cli_run(int argc, char **argv);

#endif
