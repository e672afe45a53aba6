/* test_worker_format.c: amounts, due dates and payment text per locale. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies the send-command parameters as ICU writes them for ca-ES,
 * es-ES, en-US, pt-BR, fr-FR and de-DE, currencies with 0 (JPY) and 3
 * (KWD) decimals, amounts beyond a double's exact range, the invoice list
 * of a consolidated message and the how-to-pay line. ICU's no-break spaces
 * (U+00A0, U+202F) are spelled out as UTF-8 escapes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "../../worker/format.h"

#define NBSP  "\xc2\xa0"
#define NNBSP "\xe2\x80\xaf"
#define EURO  "\xe2\x82\xac"

static int teardown_thread(void **state)
{
	(void)state;
	format_thread_release();
	return 0;
}

static const char *amount(int64_t minor, const char *currency,
			  const char *locale)
{
	static char out[FORMAT_PARAM_MAX];
	char err[256];

	if (format_amount(minor, currency, locale, out, sizeof(out), err,
			  sizeof(err)))
		fail_msg("%s", err);
	return out;
}

static const char *due(int y, int m, int d, const char *locale)
{
	static char out[FORMAT_PARAM_MAX];
	struct workflow_date date = { y, m, d };
	char err[256];

	if (format_due_date(date, locale, out, sizeof(out), err, sizeof(err)))
		fail_msg("%s", err);
	return out;
}

/* ------------------------------------------------------------------ */
/* Amounts */

static void test_catalan_euros_put_symbol_after(void **state)
{
	(void)state;
	assert_string_equal(amount(50000, "EUR", "ca-ES"), "500,00" NBSP EURO);
	assert_string_equal(amount(123456, "EUR", "ca-ES"),
			    "1.234,56" NBSP EURO);
}

static void test_spanish_euros(void **state)
{
	(void)state;
	assert_string_equal(amount(50000, "EUR", "es-ES"), "500,00" NBSP EURO);
	assert_string_equal(amount(12345678, "EUR", "es-ES"),
			    "123.456,78" NBSP EURO);
}

static void test_us_dollars_put_symbol_before(void **state)
{
	(void)state;
	assert_string_equal(amount(50000, "USD", "en-US"), "$500.00");
	assert_string_equal(amount(123456789, "USD", "en-US"), "$1,234,567.89");
	assert_string_equal(amount(5, "USD", "en-US"), "$0.05");
}

static void test_brazilian_reais(void **state)
{
	(void)state;
	assert_string_equal(amount(50000, "BRL", "pt-BR"), "R$" NBSP "500,00");
	assert_string_equal(amount(50000, "BRL", "pt_BR"), "R$" NBSP "500,00");
}

static void test_french_groups_with_narrow_no_break_space(void **state)
{
	(void)state;
	assert_string_equal(amount(123456, "EUR", "fr-FR"),
			    "1" NNBSP "234,56" NBSP EURO);
}

static void test_german_euros(void **state)
{
	(void)state;
	assert_string_equal(amount(123456, "EUR", "de-DE"),
			    "1.234,56" NBSP EURO);
}

static void test_yen_has_no_decimals(void **state)
{
	(void)state;
	/* Japanese locale writes the full-width yen sign. */
	assert_string_equal(amount(500, "JPY", "ja-JP"), "\xef\xbf\xa5"
							 "500");
	assert_string_equal(amount(1234567, "JPY", "en-US"), "\xc2\xa5"
							     "1,234,567");
	assert_int_equal(format_currency_digits("JPY"), 0);
}

static void test_kuwaiti_dinar_has_three_decimals(void **state)
{
	(void)state;
	assert_string_equal(amount(1234500, "KWD", "en-US"),
			    "KWD" NBSP "1,234.500");
	assert_string_equal(amount(1, "KWD", "en-US"), "KWD" NBSP "0.001");
	assert_int_equal(format_currency_digits("KWD"), 3);
}

static void test_amount_beyond_double_precision_is_exact(void **state)
{
	(void)state;
	/* 2^53 + 1 cents: a double would print ...40,92. */
	assert_string_equal(amount(INT64_C(9007199254740993), "EUR", "de-DE"),
			    "90.071.992.547.409,93" NBSP EURO);
}

static void test_negative_amount_keeps_sign(void **state)
{
	(void)state;
	assert_string_equal(amount(-50000, "EUR", "ca-ES"),
			    "-500,00" NBSP EURO);
}

static void test_unknown_locale_formats_as_english(void **state)
{
	(void)state;
	assert_string_equal(amount(50000, "USD", ""), "$500.00");
	assert_string_equal(amount(50000, "USD", NULL), "$500.00");
}

static void test_unknown_currency_is_invalid(void **state)
{
	char out[64], err[256];

	(void)state;
	assert_int_equal(format_amount(100, "XYZ", "en-US", out, sizeof(out),
				       err, sizeof(err)),
			 DN_ERR_INVALID);
	assert_non_null(strstr(err, "XYZ"));
	assert_string_equal(out, "");
	assert_int_equal(
		format_amount(100, "eur", "en-US", out, sizeof(out), NULL, 0),
		DN_ERR_INVALID);
	assert_int_equal(format_currency_digits(NULL), -1);
}

static void test_short_buffer_is_too_large_not_cut(void **state)
{
	char out[6];

	(void)state;
	assert_int_equal(
		format_amount(50000, "USD", "en-US", out, sizeof(out), NULL, 0),
		DN_ERR_TOO_LARGE);
	assert_string_equal(out, "");
}

/* ------------------------------------------------------------------ */
/* Due dates */

static void test_catalan_due_date(void **state)
{
	(void)state;
	assert_string_equal(due(2026, 3, 15, "ca-ES"), "15 de març");
	/* Before a vowel Catalan elides: d'abril. */
	assert_string_equal(due(2026, 4, 1, "ca-ES"), "1 d\xe2\x80\x99"
						      "abril");
}

static void test_spanish_due_date(void **state)
{
	(void)state;
	assert_string_equal(due(2026, 3, 15, "es-ES"), "15 de marzo");
}

static void test_english_due_date(void **state)
{
	(void)state;
	assert_string_equal(due(2026, 3, 15, "en-US"), "March 15");
	assert_string_equal(due(2026, 3, 15, "xx-YY"), "March 15");
}

static void test_portuguese_french_german_due_dates(void **state)
{
	(void)state;
	assert_string_equal(due(2026, 3, 15, "pt-BR"), "15 de março");
	assert_string_equal(due(2026, 3, 15, "pt_BR"), "15 de março");
	assert_string_equal(due(2026, 3, 15, "fr-FR"), "15 mars");
	assert_string_equal(due(2026, 3, 15, "de-DE"), "15. März");
}

static void test_due_date_on_29_february(void **state)
{
	(void)state;
	assert_string_equal(due(2028, 2, 29, "en-US"), "February 29");
	assert_string_equal(due(2028, 12, 31, "es-ES"), "31 de diciembre");
}

static void test_invalid_due_date_is_an_error(void **state)
{
	struct workflow_date d = { 2027, 2, 29 };
	char out[64], err[256];

	(void)state;
	assert_int_equal(
		format_due_date(d, "en-US", out, sizeof(out), err, sizeof(err)),
		DN_ERR_INVALID);
	assert_non_null(strstr(err, "2027-02-29"));
}

/* ------------------------------------------------------------------ */
/* Invoice lists */

static void test_invoice_numbers_joined_with_comma(void **state)
{
	const char *numbers[] = { "F-1", "F-2", "F-3" };
	char out[64];

	(void)state;
	assert_int_equal(
		format_invoice_list(numbers, 3, out, sizeof(out), NULL, 0), 0);
	assert_string_equal(out, "F-1, F-2, F-3");
	assert_int_equal(
		format_invoice_list(numbers, 1, out, sizeof(out), NULL, 0), 0);
	assert_string_equal(out, "F-1");
}

static void test_long_invoice_list_names_how_many_left_out(void **state)
{
	const char *numbers[] = { "INV-0001", "INV-0002", "INV-0003" };
	char out[16];

	(void)state;
	assert_int_equal(
		format_invoice_list(numbers, 3, out, sizeof(out), NULL, 0), 0);
	assert_string_equal(out, "INV-0001 (+2)");
}

static void test_invoice_number_line_breaks_become_spaces(void **state)
{
	const char *numbers[] = { "A\n1", "B\t2" };
	char out[32];

	(void)state;
	assert_int_equal(
		format_invoice_list(numbers, 2, out, sizeof(out), NULL, 0), 0);
	assert_string_equal(out, "A 1, B 2");
}

static void test_invoice_list_errors(void **state)
{
	const char *numbers[] = { "INV-000000001", "INV-2" };
	char out[8];

	(void)state;
	assert_int_equal(
		format_invoice_list(numbers, 0, out, sizeof(out), NULL, 0),
		DN_ERR_INVALID);
	assert_int_equal(
		format_invoice_list(numbers, 2, out, sizeof(out), NULL, 0),
		DN_ERR_TOO_LARGE);
	assert_string_equal(out, "");
}

/* ------------------------------------------------------------------ */
/* How to pay */

static const char *how(const struct format_payment *p, const char *locale)
{
	static char out[FORMAT_PARAM_MAX];
	char err[256];

	if (format_how_to_pay(p, locale, out, sizeof(out), err, sizeof(err)))
		fail_msg("%s", err);
	return out;
}

static void test_payment_link_wins_over_bank_details(void **state)
{
	struct format_payment p = { "https://pay.example/i/42",
				    "ES9121000418450200051332", "F-42", NULL };

	(void)state;
	assert_string_equal(how(&p, "ca-ES"),
			    "pagueu en línia a https://pay.example/i/42");
	assert_string_equal(how(&p, "en-US"),
			    "pay online at https://pay.example/i/42");
}

static void test_bank_transfer_groups_iban_and_quotes_reference(void **state)
{
	struct format_payment p = { NULL, "es91 2100 0418 4502 0005 1332",
				    "F-2026-001", NULL };

	(void)state;
	assert_string_equal(how(&p, "es-ES"),
			    "transferencia al IBAN ES91 2100 0418 4502 0005 "
			    "1332, referencia F-2026-001");
	assert_string_equal(how(&p, "de-DE"),
			    "Überweisung auf IBAN ES91 2100 0418 4502 0005 "
			    "1332, Verwendungszweck F-2026-001");
}

static void test_bank_transfer_names_account_holder(void **state)
{
	struct format_payment p = { "", "FR7630006000011234567890189", NULL,
				    "Acme SARL" };

	(void)state;
	assert_string_equal(how(&p, "fr-FR"),
			    "virement sur l'IBAN FR76 3000 6000 0112 3456 7890 "
			    "189, titulaire Acme SARL");
}

static void test_without_payment_means_a_generic_line(void **state)
{
	struct format_payment none = { NULL, NULL, NULL, NULL };

	(void)state;
	assert_string_equal(how(&none, "pt-BR"),
			    "responda a esta mensagem e enviaremos os dados "
			    "de pagamento");
	assert_string_equal(how(NULL, "ja-JP"),
			    "reply to this message and we will send you the "
			    "payment details");
}

static void test_how_to_pay_too_long_is_an_error(void **state)
{
	struct format_payment p = { "https://pay.example/a/very/long/link",
				    NULL, NULL, NULL };
	char out[16];

	(void)state;
	assert_int_equal(format_how_to_pay(&p, "en", out, sizeof(out), NULL, 0),
			 DN_ERR_TOO_LARGE);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_catalan_euros_put_symbol_after),
		cmocka_unit_test(test_spanish_euros),
		cmocka_unit_test(test_us_dollars_put_symbol_before),
		cmocka_unit_test(test_brazilian_reais),
		cmocka_unit_test(test_french_groups_with_narrow_no_break_space),
		cmocka_unit_test(test_german_euros),
		cmocka_unit_test(test_yen_has_no_decimals),
		cmocka_unit_test(test_kuwaiti_dinar_has_three_decimals),
		cmocka_unit_test(test_amount_beyond_double_precision_is_exact),
		cmocka_unit_test(test_negative_amount_keeps_sign),
		cmocka_unit_test(test_unknown_locale_formats_as_english),
		cmocka_unit_test(test_unknown_currency_is_invalid),
		cmocka_unit_test(test_short_buffer_is_too_large_not_cut),
		cmocka_unit_test(test_catalan_due_date),
		cmocka_unit_test(test_spanish_due_date),
		cmocka_unit_test(test_english_due_date),
		cmocka_unit_test(test_portuguese_french_german_due_dates),
		cmocka_unit_test(test_due_date_on_29_february),
		cmocka_unit_test(test_invalid_due_date_is_an_error),
		cmocka_unit_test(test_invoice_numbers_joined_with_comma),
		cmocka_unit_test(
			test_long_invoice_list_names_how_many_left_out),
		cmocka_unit_test(test_invoice_number_line_breaks_become_spaces),
		cmocka_unit_test(test_invoice_list_errors),
		cmocka_unit_test(test_payment_link_wins_over_bank_details),
		cmocka_unit_test(
			test_bank_transfer_groups_iban_and_quotes_reference),
		cmocka_unit_test(test_bank_transfer_names_account_holder),
		cmocka_unit_test(test_without_payment_means_a_generic_line),
		cmocka_unit_test(test_how_to_pay_too_long_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, teardown_thread);
}
