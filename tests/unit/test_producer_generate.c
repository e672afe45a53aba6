/* test_producer_generate.c: generated sample data is realistic, valid for
 * the importer and fully determined by its seed. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../producer/csv.h"
#include "../../producer/customers.h"
#include "../../producer/directory.h"
#include "../../producer/generate.h"
#include "../../producer/import.h"
#include "../../producer/sink.h"
#include "config.h"
#include "phone.h"
#include "testenv.h"

static char dir_a[128], dir_b[128];

static void generate_into(const char *dir, uint64_t seed)
{
	struct generate_options o = {
		seed, 300, 3000, { 2026, 1, 1 }, 90, dir
	};
	char err[256];

	assert_int_equal(generate_ledger(&o, err, sizeof(err)), 0);
}

static char *read_in(const char *dir, const char *name)
{
	char path[256];
	char *text;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	text = testenv_read_file(path, NULL);
	assert_non_null(text);
	return text;
}

/* Counts occurrences of needle in text. */
static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	while ((text = strstr(text, needle))) {
		n++;
		text++;
	}
	return n;
}

static void test_same_seed_gives_same_files(void **state)
{
	char *a, *b;

	(void)state;
	generate_into(dir_a, 11);
	generate_into(dir_b, 11);
	a = read_in(dir_a, "ledger.csv");
	b = read_in(dir_b, "ledger.csv");
	assert_string_equal(a, b);
	free(a);
	free(b);
	generate_into(dir_b, 12);
	a = read_in(dir_a, "customers.csv");
	b = read_in(dir_b, "customers.csv");
	assert_string_not_equal(a, b);
	free(a);
	free(b);
}

static void test_customers_are_valid_and_varied(void **state)
{
	struct csv_record rec;
	struct csv_reader *reader;
	char path[256], e164[PHONE_E164_MAX];
	size_t rows = 0, opted_in = 0, opted_out = 0, unknown = 0;
	FILE *in;

	(void)state;
	generate_into(dir_a, 5);
	snprintf(path, sizeof(path), "%s/customers.csv", dir_a);
	in = fopen(path, "rb");
	assert_non_null(in);
	reader = csv_reader_new(in, ',');
	assert_int_equal(csv_reader_next(reader, &rec, NULL, 0), 0);
	assert_true(customers_header_matches(&rec));
	while (csv_reader_next(reader, &rec, NULL, 0) == 0) {
		rows++;
		assert_int_equal(rec.count, 10);
		assert_int_equal(phone_normalize(rec.fields[2], NULL, e164,
						 sizeof(e164), NULL, 0),
				 0);
		assert_string_equal(e164, rec.fields[2]);
		assert_true(customers_valid_locale(rec.fields[3]));
		assert_true(customers_valid_time_zone(rec.fields[4]));
		opted_in += strcmp(rec.fields[5], "opted_in") == 0;
		opted_out += strcmp(rec.fields[5], "opted_out") == 0;
		unknown += strcmp(rec.fields[5], "unknown") == 0;
	}
	csv_reader_free(reader);
	fclose(in);
	assert_int_equal(rows, 300);
	assert_true(opted_in > rows / 2);
	assert_true(opted_out > 0 && opted_out < opted_in);
	assert_true(unknown > 0 && unknown < opted_in);
}

static void test_ledger_has_currencies_terms_and_behaviours(void **state)
{
	char *ledger;

	(void)state;
	generate_into(dir_a, 5);
	ledger = read_in(dir_a, "ledger.csv");
	assert_true(count(ledger, ",EUR,") > 100);
	assert_true(count(ledger, ",BRL,") > 10);
	assert_true(count(ledger, ",JPY,") > 0);
	assert_true(count(ledger, ",KWD,") > 0);
	assert_true(count(ledger, "\ncredit_note,") > 0);
	assert_true(count(ledger, "\ndispute,") > 0);
	assert_true(count(ledger, "/partial/1,") > 0);
	assert_true(count(ledger, "/settled,") > 1000);
	/* Some invoices stay unpaid in the window. */
	assert_true(count(ledger, "/settled,") + count(ledger, "/partial/2,") <
		    count(ledger, "\ninvoice,"));
	free(ledger);
}

static void test_generated_files_import_without_rejections(void **state)
{
	struct config *cfg = testenv_config(NULL);
	struct sink_options so = { true, false, NULL, NULL, false };
	struct import_options o;
	struct sink_summary sum;
	struct sink *sink;
	char path[256], err[256];

	(void)state;
	generate_into(dir_a, 9);
	memset(&o, 0, sizeof(o));
	o.tenant = "t";
	o.currency = "USD";
	o.phone_region = "ES";
	o.date_format = -1;
	so.out = fopen("/dev/null", "w");
	sink = sink_new(cfg, &so, err, sizeof(err));
	assert_non_null(sink);
	snprintf(path, sizeof(path), "%s/customers.csv", dir_a);
	assert_int_equal(import_file(path, &o, sink, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/ledger.csv", dir_a);
	assert_int_equal(import_file(path, &o, sink, err, sizeof(err)), 0);
	assert_int_equal(sink_finish(sink, 1000), 0);
	sink_summary(sink, &sum);
	assert_int_equal(sum.rejected, 0);
	assert_true(sum.published > 3000);
	sink_free(sink);
	fclose(so.out);
	config_free(cfg);
}

static void test_directory_for_export_has_one_row_per_customer(void **state)
{
	struct import_options o;
	char ledger[256], out[256], err[256];
	char *text;
	size_t written = 0;
	FILE *f;

	(void)state;
	snprintf(ledger, sizeof(ledger), "%s/ar.csv", dir_a);
	snprintf(out, sizeof(out), "%s/dir.csv", dir_a);
	f = fopen(ledger, "w");
	assert_non_null(f);
	fputs("countryCode,customerID,PaperlessDate,invoiceNumber,InvoiceDate,"
	      "DueDate,InvoiceAmount,Disputed,SettledDate,PaperlessBill,"
	      "DaysToSettle,DaysLate\n"
	      "391,0379-NEVHP,4/6/2013,1,1/2/2013,2/1/2013,5.00,No,,P,0,0\n"
	      "391,8976-AMJEO,4/6/2013,2,1/3/2013,2/2/2013,5.00,No,,P,0,0\n"
	      "391,0379-NEVHP,4/6/2013,3,1/4/2013,2/3/2013,5.00,No,,P,0,0\n",
	      f);
	fclose(f);
	memset(&o, 0, sizeof(o));
	o.preset = "ibm-ar";
	o.date_format = -1;
	assert_int_equal(directory_from_ledger(ledger, &o, 1, out, &written,
					       err, sizeof(err)),
			 0);
	assert_int_equal(written, 2);
	text = testenv_read_file(out, NULL);
	assert_non_null(text);
	assert_int_equal(count(text, "\n0379-NEVHP,"), 1);
	assert_int_equal(count(text, "\n8976-AMJEO,"), 1);
	assert_int_equal(
		strncmp(text, customers_header, strlen(customers_header)), 0);
	/* Opt-ins date from before the first invoice (2013-01-02). */
	assert_int_equal(count(text, ",2013-01-0"), 0);
	free(text);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir_a, sizeof(dir_a), "/tmp/dn-gen-a-%ld", (long)getpid());
	snprintf(dir_b, sizeof(dir_b), "/tmp/dn-gen-b-%ld", (long)getpid());
	if (mkdir(dir_a, 0700) || mkdir(dir_b, 0700))
		return 1;
	return 0;
}

static int teardown(void **state)
{
	char command[300];

	(void)state;
	snprintf(command, sizeof(command), "rm -rf %s %s", dir_a, dir_b);
	return system(command) == 0 ? 0 : 1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_gives_same_files),
		cmocka_unit_test(test_customers_are_valid_and_varied),
		cmocka_unit_test(
			test_ledger_has_currencies_terms_and_behaviours),
		cmocka_unit_test(
			test_generated_files_import_without_rejections),
		cmocka_unit_test(
			test_directory_for_export_has_one_row_per_customer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
