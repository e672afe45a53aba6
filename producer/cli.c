/* cli.c: dunning-producer's commands, options by table, and summary. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

#include "civil.h"
#include "directory.h"
#include "generate.h"
#include "import.h"
#include "sink.h"

#include "clock.h"
#include "config.h"
#include "error.h"
#include "logger.h"
#include "money.h"
#include "phone.h"
#include "shutdown.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_REJECTED 1
#define EXIT_USAGE    2

const struct config_key producer_config_keys[] = {
	{ "DUNNING_PRODUCER_CURRENCY", CONFIG_STRING, "USD", 0, 0, NULL, false,
	  false, "ISO 4217 currency of exports that state none (--currency)" },
	{ "DUNNING_PRODUCER_PHONE_REGION", CONFIG_STRING, "ES", 0, 0, NULL,
	  false, false,
	  "region (ISO 3166-1 alpha-2) of phone numbers written in national "
	  "format (--phone-region)" },
	{ "DUNNING_PRODUCER_ROUNDING", CONFIG_CHOICE, "reject", 0, 0,
	  "reject|half-even|half-up|truncate", false, false,
	  "what to do with more decimals than the currency has (--rounding)" },
	{ "DUNNING_PRODUCER_REJECT_FILE", CONFIG_STRING, "rejects.csv", 0, 0,
	  NULL, false, false,
	  "CSV file of rejected rows, written only if any (--reject-file)" },
	{ "DUNNING_PRODUCER_DELIVERY_TIMEOUT_MS", CONFIG_INT, "120000", 1000,
	  3600000, NULL, false, false,
	  "how long to wait for Kafka's delivery reports at the end" },
	CONFIG_KEY_END,
};

/* Everything the options set. */
struct cli_args {
	struct config *cfg;
	struct import_options import;
	struct sink_options sink;
	struct generate_options gen;
	const char *ledger, *out;
	bool help;
};

struct cli_option {
	const char *name;    /* without the leading "--" */
	const char *arg;     /* placeholder of its value; NULL for a flag */
	const char *setting; /* configuration key it overrides, or NULL */
	int (*apply)(struct cli_args *a, const char *value, char *err,
		     size_t errlen);
	const char *help;
};

/* ---------------------------------------------------------------------- */
/* Option setters                                                          */

static int parse_number(const char *value, long long min, long long max,
			long long *out, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	*out = strtoll(value, &end, 10);
	if (errno || end == value || *end || *out < min || *out > max)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%s' is not a number from %lld to %lld", value,
			       min, max);
	return DN_OK;
}

static int set_format(struct cli_args *a, const char *v, char *err,
		      size_t errlen)
{
	int format = import_format_parse(v);

	if (format < 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "format '%s' is not csv, ubl, jsonl or "
			       "customers",
			       v);
	a->import.format = (enum import_format)format;
	return DN_OK;
}

static int set_preset(struct cli_args *a, const char *v, char *err,
		      size_t errlen)
{
	if (strcmp(v, "ibm-ar") && strcmp(v, "ledger"))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "preset '%s' is not ibm-ar or ledger", v);
	a->import.preset = v;
	return DN_OK;
}

static int set_mapping(struct cli_args *a, const char *v, char *err,
		       size_t errlen)
{
	(void)err;
	(void)errlen;
	a->import.mapping = v;
	return DN_OK;
}

static int set_date_format(struct cli_args *a, const char *v, char *err,
			   size_t errlen)
{
	a->import.date_format = civil_format_parse(v);
	if (a->import.date_format < 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "date format '%s' is not iso, us, eu or dots",
			       v);
	return DN_OK;
}

static int set_delimiter(struct cli_args *a, const char *v, char *err,
			 size_t errlen)
{
	if (strcmp(v, ",") == 0 || strcmp(v, "comma") == 0)
		a->import.delimiter = ',';
	else if (strcmp(v, ";") == 0 || strcmp(v, "semicolon") == 0)
		a->import.delimiter = ';';
	else if (strcmp(v, "tab") == 0 || strcmp(v, "\t") == 0)
		a->import.delimiter = '\t';
	else
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "delimiter '%s' is not ',', ';' or tab", v);
	return DN_OK;
}

static int set_decimal_comma(struct cli_args *a, const char *v, char *err,
			     size_t errlen)
{
	(void)v, (void)err, (void)errlen;
	a->import.decimal_comma = true;
	return DN_OK;
}

static int set_dry_run(struct cli_args *a, const char *v, char *err,
		       size_t errlen)
{
	(void)v, (void)err, (void)errlen;
	a->sink.dry_run = true;
	return DN_OK;
}

static int set_replay(struct cli_args *a, const char *v, char *err,
		      size_t errlen)
{
	(void)v, (void)err, (void)errlen;
	a->sink.replay = true;
	return DN_OK;
}

static int set_help(struct cli_args *a, const char *v, char *err, size_t errlen)
{
	(void)v, (void)err, (void)errlen;
	a->help = true;
	return DN_OK;
}

static int set_seed(struct cli_args *a, const char *v, char *err, size_t errlen)
{
	long long n;
	int rc = parse_number(v, 0, INT64_MAX, &n, err, errlen);

	a->gen.seed = (uint64_t)n;
	return rc;
}

static int set_customers(struct cli_args *a, const char *v, char *err,
			 size_t errlen)
{
	long long n;
	int rc = parse_number(v, 1, 10000000, &n, err, errlen);

	a->gen.customers = (long)n;
	return rc;
}

static int set_invoices(struct cli_args *a, const char *v, char *err,
			size_t errlen)
{
	long long n;
	int rc = parse_number(v, 0, 100000000, &n, err, errlen);

	a->gen.invoices = (long)n;
	return rc;
}

static int set_days(struct cli_args *a, const char *v, char *err, size_t errlen)
{
	long long n;
	int rc = parse_number(v, 1, 3660, &n, err, errlen);

	a->gen.days = (int)n;
	return rc;
}

static int set_start(struct cli_args *a, const char *v, char *err,
		     size_t errlen)
{
	return civil_parse(v, strlen(v), CIVIL_ISO, &a->gen.start, err, errlen);
}

static int set_out_dir(struct cli_args *a, const char *v, char *err,
		       size_t errlen)
{
	(void)err, (void)errlen;
	a->gen.out_dir = v;
	return DN_OK;
}

static int set_ledger(struct cli_args *a, const char *v, char *err,
		      size_t errlen)
{
	(void)err, (void)errlen;
	a->ledger = v;
	return DN_OK;
}

static int set_out(struct cli_args *a, const char *v, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	a->out = v;
	return DN_OK;
}

/* ---------------------------------------------------------------------- */
/* Option tables                                                           */

static const struct cli_option import_options[] = {
	{ "format", "FORMAT", NULL, set_format,
	  "csv, ubl, jsonl or customers (default: by extension and header)" },
	{ "preset", "NAME", NULL, set_preset,
	  "CSV layout: ibm-ar or ledger (default ledger)" },
	{ "mapping", "MAP", NULL, set_mapping,
	  "columns over the preset, e.g. invoice_id=Doc No,amount=Total" },
	{ "date-format", "FMT", NULL, set_date_format,
	  "iso (2013-01-15), us (1/15/2013), eu (15/01/2013), dots" },
	{ "delimiter", "C", NULL, set_delimiter,
	  "',' or ';' or tab (default: detected from the header)" },
	{ "decimal-comma", NULL, NULL, set_decimal_comma,
	  "CSV amounts written 1.234,50 (comma decimals)" },
	{ "currency", "CODE", "DUNNING_PRODUCER_CURRENCY", NULL,
	  "currency of exports that state none (default USD)" },
	{ "tenant", "NAME", "DUNNING_TENANT", NULL,
	  "tenant of the events (default DUNNING_TENANT)" },
	{ "reject-file", "PATH", "DUNNING_PRODUCER_REJECT_FILE", NULL,
	  "where rejected rows go (default rejects.csv)" },
	{ "phone-region", "CC", "DUNNING_PRODUCER_PHONE_REGION", NULL,
	  "region of national phone numbers (default ES)" },
	{ "rounding", "RULE", "DUNNING_PRODUCER_ROUNDING", NULL,
	  "reject, half-even, half-up or truncate extra decimals" },
	{ "dry-run", NULL, NULL, set_dry_run,
	  "print events as JSON lines instead of producing them" },
	{ "replay", NULL, NULL, set_replay,
	  "publish each event when the product clock reaches it" },
	{ "help", NULL, NULL, set_help, "show this help" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct cli_option generate_options[] = {
	{ "seed", "N", NULL, set_seed, "random seed (default 1)" },
	{ "customers", "N", NULL, set_customers, "customers (default 200)" },
	{ "invoices", "N", NULL, set_invoices, "invoices (default 2000)" },
	{ "start", "DATE", NULL, set_start,
	  "first issue date, YYYY-MM-DD (default 2026-01-01)" },
	{ "days", "N", NULL, set_days, "days of history (default 90)" },
	{ "out-dir", "DIR", NULL, set_out_dir,
	  "existing directory for ledger.csv and customers.csv" },
	{ "help", NULL, NULL, set_help, "show this help" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const struct cli_option directory_options[] = {
	{ "ledger", "FILE", NULL, set_ledger, "the export to read" },
	{ "preset", "NAME", NULL, set_preset, "its layout: ibm-ar or ledger" },
	{ "mapping", "MAP", NULL, set_mapping, "columns over the preset" },
	{ "out", "FILE", NULL, set_out, "directory CSV to write" },
	{ "seed", "N", NULL, set_seed, "random seed (default 1)" },
	{ "help", NULL, NULL, set_help, "show this help" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static void print_options(const struct cli_option *options)
{
	char left[40];

	for (; options->name; options++) {
		snprintf(left, sizeof(left), "--%s%s%s", options->name,
			 options->arg ? " " : "",
			 options->arg ? options->arg : "");
		printf("  %-22s %s\n", left, options->help);
	}
}

static void usage(void)
{
	printf("usage: dunning-producer COMMAND [options]\n\n"
	       "Imports invoices, payments and customers from ERP exports "
	       "into invoice.events.\n\n"
	       "commands:\n"
	       "  import FILE...         CSV ledgers, UBL invoices, JSON "
	       "lines, customer directories\n"
	       "  generate               write a synthetic ledger and "
	       "customer directory\n"
	       "  generate-directory     write a customer directory for an "
	       "export's customers\n\n"
	       "import options:\n");
	print_options(import_options);
	printf("\ngenerate options:\n");
	print_options(generate_options);
	printf("\ngenerate-directory options:\n");
	print_options(directory_options);
	printf("\nexamples:\n"
	       "  dunning-producer import --preset ibm-ar --currency USD "
	       "ibm_accounts_receivable.csv\n"
	       "  dunning-producer import --dry-run invoices/*.xml | head\n"
	       "  dunning-producer import --delimiter ';' --decimal-comma "
	       "--date-format dots "
	       "\\\n    --mapping 'invoice_id=Factura,customer_id=Cliente,"
	       "date=Fecha,amount=Importe' export.csv\n"
	       "  dunning-producer generate --seed 7 --customers 200 "
	       "--invoices 2000 \\\n    --start 2026-01-01 --days 90 "
	       "--out-dir data/\n"
	       "  dunning-producer import data/customers.csv data/ledger.csv\n"
	       "  DUNNING_CLOCK=simulated DUNNING_CLOCK_SPEED=20000 "
	       "dunning-producer import --replay data/ledger.csv\n\n"
	       "Exit status: 0 all published and acknowledged, 1 anything "
	       "rejected or not acknowledged, 2 usage error.\n"
	       "Settings: docs/configuration.md (DUNNING_PRODUCER_*).\n");
}

/* Applies one option, from "--name=value" or "--name value". */
static int apply_option(struct cli_args *a, const struct cli_option *table,
			int argc, char **argv, int *i, char *err, size_t errlen)
{
	const char *name = argv[*i] + 2, *eq = strchr(name, '='), *value;
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cli_option *o;

	for (o = table; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			break;
	if (!o->name)
		return dn_fail(DN_ERR_INVALID, err, errlen, "unknown option %s",
			       argv[*i]);
	if (!o->arg)
		return eq ? dn_fail(DN_ERR_INVALID, err, errlen,
				    "--%s takes no value", o->name)
			  : o->apply(a, NULL, err, errlen);
	if (eq)
		value = eq + 1;
	else if (*i + 1 < argc)
		value = argv[++*i];
	else
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "--%s needs a value (%s)", o->name, o->arg);
	if (o->setting)
		return config_set(a->cfg, o->setting, value, err, errlen);
	return o->apply(a, value, err, errlen);
}

/*
 * Parses argv[first..] against table; arguments that are not options are
 * moved to the front of argv[first..] and counted in *operands.
 */
static int parse_options(struct cli_args *a, const struct cli_option *table,
			 int argc, char **argv, int first, int *operands,
			 char *err, size_t errlen)
{
	int i, rc;
	bool options_end = false;

	*operands = 0;
	for (i = first; i < argc; i++) {
		if (!options_end && strcmp(argv[i], "--") == 0) {
			options_end = true;
			continue;
		}
		if (options_end || strncmp(argv[i], "--", 2) != 0) {
			argv[first + (*operands)++] = argv[i];
			continue;
		}
		rc = apply_option(a, table, argc, argv, &i, err, errlen);
		if (rc)
			return rc;
	}
	return DN_OK;
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */

/* Fills the import options from the settings, after the overrides. */
static int import_settings(struct cli_args *a, char *err, size_t errlen)
{
	struct import_options *o = &a->import;

	o->tenant = config_str(a->cfg, "DUNNING_TENANT");
	o->currency = config_str(a->cfg, "DUNNING_PRODUCER_CURRENCY");
	o->phone_region = config_str(a->cfg, "DUNNING_PRODUCER_PHONE_REGION");
	o->rounding = (enum money_rounding)money_rounding_parse(
		config_str(a->cfg, "DUNNING_PRODUCER_ROUNDING"));
	a->sink.reject_path =
		config_str(a->cfg, "DUNNING_PRODUCER_REJECT_FILE");
	a->sink.out = stdout;
	a->sink.progress = true;
	if (money_exponent(o->currency) < 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "currency '%s' is not an ISO 4217 code",
			       o->currency);

	/* A mistyped region would fail, or misread, every national phone. */
	if (*o->phone_region && !phone_region_supported(o->phone_region))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "phone region '%s' is not an ISO 3166 region "
			       "libphonenumber knows (upper case, like ES)",
			       o->phone_region);
	if (!*o->tenant)
		return dn_fail(DN_ERR_INVALID, err, errlen, "tenant is empty");
	return DN_OK;
}

/* The summary people read, and the exit status scripts read. */
static int report(const struct cli_args *a, const struct sink *sink,
		  int files_failed)
{
	struct sink_summary sum;
	char acknowledged[24];
	bool unacknowledged;

	sink_summary(sink, &sum);
	snprintf(acknowledged, sizeof(acknowledged), "%" PRIu64,
		 sum.acknowledged);
	if (a->sink.dry_run)
		snprintf(acknowledged, sizeof(acknowledged), "n/a");
	unacknowledged = !a->sink.dry_run && sum.acknowledged < sum.published;
	/* A dry run prints its events instead of publishing them. */
	fprintf(stderr,
		"summary: read=%" PRIu64 " %s=%" PRIu64 " rejected=%" PRIu64
		" acknowledged=%s failed=%" PRIu64 " unreadable_files=%d\n",
		sum.read, a->sink.dry_run ? "printed" : "published",
		sum.published, sum.rejected, acknowledged, sum.failed,
		files_failed);
	if (sum.rejected || files_failed)
		fprintf(stderr, "rejected rows and files are in %s\n",
			a->sink.reject_path);
	return sum.rejected || unacknowledged || files_failed ? EXIT_REJECTED
							      : 0;
}

static int cmd_import(struct cli_args *a, int argc, char **argv)
{
	struct sink *sink;
	char err[512];
	int operands, i, failed = 0, status;

	if (parse_options(a, import_options, argc, argv, 2, &operands, err,
			  sizeof(err)) ||
	    import_settings(a, err, sizeof(err))) {
		fprintf(stderr, "dunning-producer import: %s\n", err);
		return EXIT_USAGE;
	}
	if (a->help || operands == 0) {
		usage();
		return a->help ? 0 : EXIT_USAGE;
	}
	sink = sink_new(a->cfg, &a->sink, err, sizeof(err));
	if (!sink) {
		log_error("KAFKA", "cannot start the producer: %s", err);
		return EXIT_REJECTED;
	}

	/* A file that cannot be read is reported; the others go on. */
	for (i = 0; i < operands && !shutdown_requested(); i++) {
		if (import_file(argv[2 + i], &a->import, sink, err,
				sizeof(err))) {
			log_error("IMPORT", "cannot import: %s", err);
			sink_reject_file(sink, argv[2 + i], err);
			failed++;
		}
	}
	if (sink_finish(sink,
			(int)config_int(a->cfg, "DUNNING_PRODUCER_DELIVERY_"
						"TIMEOUT_MS")))
		log_error("KAFKA", "not every event was acknowledged");
	status = report(a, sink, failed);
	sink_free(sink);
	return status;
}

static int cmd_generate(struct cli_args *a, int argc, char **argv)
{
	char err[512];
	int operands;

	a->gen = (struct generate_options){ 1,	200, 2000, { 2026, 1, 1 },
					    90, NULL };
	if (parse_options(a, generate_options, argc, argv, 2, &operands, err,
			  sizeof(err))) {
		fprintf(stderr, "dunning-producer generate: %s\n", err);
		return EXIT_USAGE;
	}
	if (a->help || !a->gen.out_dir || operands) {
		usage();
		return a->help ? 0 : EXIT_USAGE;
	}
	if (generate_ledger(&a->gen, err, sizeof(err))) {
		log_error("IMPORT", "cannot generate: %s", err);
		return EXIT_REJECTED;
	}
	log_info("IMPORT", "generated customers=%ld invoices=%ld dir=%s",
		 a->gen.customers, a->gen.invoices, a->gen.out_dir);
	return 0;
}

static int cmd_directory(struct cli_args *a, int argc, char **argv)
{
	char err[512];
	size_t count = 0;
	int operands;

	a->gen.seed = 1;
	if (parse_options(a, directory_options, argc, argv, 2, &operands, err,
			  sizeof(err))) {
		fprintf(stderr, "dunning-producer generate-directory: %s\n",
			err);
		return EXIT_USAGE;
	}
	if (a->help || !a->ledger || !a->out || operands) {
		usage();
		return a->help ? 0 : EXIT_USAGE;
	}
	if (directory_from_ledger(a->ledger, &a->import, a->gen.seed, a->out,
				  &count, err, sizeof(err))) {
		log_error("IMPORT", "cannot write the directory: %s", err);
		return EXIT_REJECTED;
	}
	log_info("IMPORT", "wrote directory customers=%zu out=%s", count,
		 a->out);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(struct cli_args *a, int argc, char **argv);
} commands[] = {
	{ "import", cmd_import },
	{ "generate", cmd_generate },
	{ "generate-directory", cmd_directory },
};

int cli_run(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys,
						    producer_config_keys,
						    NULL };
	struct cli_args a;
	char err[512];
	size_t i;
	int status = EXIT_USAGE, level;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage();
		return argc < 2 ? EXIT_USAGE : 0;
	}
	memset(&a, 0, sizeof(a));
	a.import.date_format = -1;
	a.cfg = config_load(tables, err, sizeof(err));
	if (!a.cfg) {
		fprintf(stderr, "dunning-producer: %s\n", err);
		return EXIT_USAGE;
	}
	level = logger_level_parse(config_str(a.cfg, "DUNNING_LOG_LEVEL"));
	logger_init("producer",
		    level < 0 ? LOG_LEVEL_INFO : (enum log_level)level);
	clock_configure(a.cfg);

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			break;
	if (i < sizeof(commands) / sizeof(commands[0]))
		status = commands[i].run(&a, argc, argv);
	else
		fprintf(stderr,
			"dunning-producer: unknown command '%s' "
			"(import, generate, generate-directory)\n",
			argv[1]);
	config_free(a.cfg);
	return status;
}
