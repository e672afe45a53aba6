/* test_producer_csv.c: the CSV reader copes with what real exports hold. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../producer/csv.h"
#include "error.h"

/* A reader over text held in memory. */
struct memory_csv {
	FILE *in;
	struct csv_reader *reader;
};

static void open_text(struct memory_csv *m, const char *text, char delimiter)
{
	m->in = fmemopen((void *)text, strlen(text), "rb");
	assert_non_null(m->in);
	m->reader = csv_reader_new(m->in, delimiter);
	assert_non_null(m->reader);
}

static void close_text(struct memory_csv *m)
{
	csv_reader_free(m->reader);
	fclose(m->in);
}

static void test_quoted_field_keeps_embedded_newline(void **state)
{
	struct memory_csv m;
	struct csv_record rec;

	(void)state;
	open_text(&m, "id,note\n1,\"first line\nsecond, line\"\n2,plain\n", 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(rec.count, 2);
	assert_string_equal(rec.fields[1], "first line\nsecond, line");
	assert_int_equal(rec.line, 2);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "2");
	assert_int_equal(rec.line, 4); /* the newline in quotes counts */
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0),
			 DN_ERR_NOT_FOUND);
	close_text(&m);
}

static void test_semicolon_delimiter_is_detected(void **state)
{
	struct memory_csv m;
	struct csv_record rec;

	(void)state;
	open_text(&m, "factura;importe;nota\nF-1;1.234,50;\"a;b\"\n", 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(csv_reader_delimiter(m.reader), ';');
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(rec.count, 3);
	assert_string_equal(rec.fields[1], "1.234,50");
	assert_string_equal(rec.fields[2], "a;b");
	close_text(&m);
}

static void test_byte_order_mark_is_skipped(void **state)
{
	struct memory_csv m;
	struct csv_record rec;

	(void)state;
	open_text(&m, "\xEF\xBB\xBFid,name\r\n7,Jos\xC3\xA9\r\n", 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "id");
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[1], "Jos\xC3\xA9");
	close_text(&m);
}

static void test_doubled_quote_is_one_quote(void **state)
{
	struct memory_csv m;
	struct csv_record rec;

	(void)state;
	open_text(&m, "\"say \"\"hi\"\"\",x\n", ',');
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "say \"hi\"");
	assert_string_equal(rec.fields[1], "x");
	close_text(&m);
}

static void test_invalid_utf8_rejects_row_and_reading_goes_on(void **state)
{
	struct memory_csv m;
	struct csv_record rec;
	char why[128];

	(void)state;
	open_text(&m, "a,b\n1,\xC3\x28\n2,ok\n", ',');
	assert_int_equal(csv_reader_next(m.reader, &rec, why, sizeof(why)), 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, why, sizeof(why)),
			 DN_ERR_DECODE);
	assert_non_null(strstr(why, "UTF-8"));
	assert_int_equal(rec.line, 2);
	assert_int_equal(csv_reader_next(m.reader, &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.fields[1], "ok");
	close_text(&m);
}

static void test_overlong_utf8_and_surrogates_are_invalid(void **state)
{
	(void)state;
	assert_int_equal(csv_utf8_check("\xC0\xAF", 2), 0);
	assert_int_equal(csv_utf8_check("ab\xED\xA0\x80", 5), 2);
	assert_int_equal(csv_utf8_check("\xF4\x90\x80\x80", 4), 0);
	assert_int_equal(csv_utf8_check("\xE2\x82\xAC", 3), 3); /* euro */
}

static void test_unclosed_quote_is_reported(void **state)
{
	struct memory_csv m;
	struct csv_record rec;
	char why[128];

	(void)state;
	open_text(&m, "1,\"never closed\n2,x\n", ',');
	assert_int_equal(csv_reader_next(m.reader, &rec, why, sizeof(why)),
			 DN_ERR_DECODE);
	assert_non_null(strstr(why, "not closed"));
	close_text(&m);
}

static void test_text_after_closing_quote_is_reported(void **state)
{
	struct memory_csv m;
	struct csv_record rec;
	char why[128];

	(void)state;
	open_text(&m, "\"a\"b,c\n2,x\n", ',');
	assert_int_equal(csv_reader_next(m.reader, &rec, why, sizeof(why)),
			 DN_ERR_DECODE);
	assert_int_equal(csv_reader_next(m.reader, &rec, why, sizeof(why)), 0);
	assert_string_equal(rec.fields[0], "2");
	close_text(&m);
}

static void test_too_many_fields_is_refused_then_next_row_read(void **state)
{
	static char text[4096];
	struct memory_csv m;
	struct csv_record rec;
	size_t n = 0;
	int i;

	(void)state;
	for (i = 0; i < CSV_FIELDS_MAX + 10; i++)
		text[n++] = ',';
	memcpy(text + n, "\nlast,row\n", 11);
	open_text(&m, text, ',');
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0),
			 DN_ERR_TOO_LARGE);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "last");
	close_text(&m);
}

static void test_blank_lines_are_skipped(void **state)
{
	struct memory_csv m;
	struct csv_record rec;

	(void)state;
	open_text(&m, "a\n\n\r\nb\n", ',');
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "b");
	assert_int_equal(rec.line, 4);
	close_text(&m);
}

/* A UTF-16 export (Excel's "Unicode text") is refused as such, not as a
 * puzzling "NUL byte in record", and nothing of it is read as rows. */
static void test_utf16_file_is_refused_by_name(void **state)
{
	static const char text[] = "\xFF\xFEi\0d\0\n\0001\0\n\0";
	struct csv_record rec;
	struct csv_reader *reader;
	char err[128];
	FILE *in;

	(void)state;
	in = fmemopen((void *)text, sizeof(text) - 1, "rb");
	assert_non_null(in);
	reader = csv_reader_new(in, 0);
	assert_non_null(reader);
	assert_int_equal(csv_reader_next(reader, &rec, err, sizeof(err)),
			 DN_ERR_DECODE);
	assert_non_null(strstr(err, "UTF-16"));
	assert_int_equal(csv_reader_next(reader, &rec, err, sizeof(err)),
			 DN_ERR_NOT_FOUND);
	csv_reader_free(reader);
	fclose(in);
}

/* Old Mac exports end lines with CR alone, inside quotes too: line
 * numbers in the reject file must still point at the right line. */
static void test_cr_only_line_ends_count_lines_inside_quotes(void **state)
{
	struct memory_csv m;
	struct csv_record rec;

	(void)state;
	open_text(&m, "id,note\r1,\"a\rb\"\r2,x\r\n3,\"c\r\nd\"\n4,y\n", 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[1], "a\rb");
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "2");
	assert_int_equal(rec.line, 4);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_int_equal(rec.line, 5);
	assert_int_equal(csv_reader_next(m.reader, &rec, NULL, 0), 0);
	assert_string_equal(rec.fields[0], "4");
	assert_int_equal(rec.line, 7);
	close_text(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_field_keeps_embedded_newline),
		cmocka_unit_test(test_semicolon_delimiter_is_detected),
		cmocka_unit_test(test_byte_order_mark_is_skipped),
		cmocka_unit_test(test_doubled_quote_is_one_quote),
		cmocka_unit_test(
			test_invalid_utf8_rejects_row_and_reading_goes_on),
		cmocka_unit_test(test_overlong_utf8_and_surrogates_are_invalid),
		cmocka_unit_test(test_unclosed_quote_is_reported),
		cmocka_unit_test(test_text_after_closing_quote_is_reported),
		cmocka_unit_test(
			test_too_many_fields_is_refused_then_next_row_read),
		cmocka_unit_test(test_blank_lines_are_skipped),
		cmocka_unit_test(test_utf16_file_is_refused_by_name),
		cmocka_unit_test(
			test_cr_only_line_ends_count_lines_inside_quotes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
