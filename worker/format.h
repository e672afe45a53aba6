/* format.h: amounts, dates and payment text in the customer's locale. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed parameters of a send command (contract 4: {{2}} invoice
 * numbers, {{3}} amount, {{4}} due date, {{5}} how to pay) rendered with
 * ICU for a customer locale given as a BCP 47 tag ("ca-ES", "pt-BR"; an
 * underscore form "pt_BR" is accepted too). An empty locale, or one whose
 * language ICU has no data for, is formatted as English ("en").
 *
 * Money never passes through floating point: the integer minor units
 * become a decimal string ("500.00", with the currency's ISO 4217 number
 * of decimals: JPY 0, EUR 2, KWD 3) that ICU formats with
 * unum_formatDecimal.
 *
 * ICU output keeps its no-break spaces: ca-ES "500,00\u00a0€", pt-BR
 * "R$\u00a0500,00", fr-FR "1\u202f234,56\u00a0€", so an amount never wraps
 * between number and symbol. Outputs are UTF-8, NUL-terminated, and never
 * contain a newline or tab (WhatsApp rejects those in parameters).
 *
 * A thread reuses ICU formatters through a small per-thread cache; a
 * thread that used this module calls format_thread_release() before it
 * exits. Functions are otherwise reentrant and never log. On error, out
 * holds "" (when len > 0).
 */
#ifndef DUNNING_FORMAT_H
#define DUNNING_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "workflow.h"

#define FORMAT_PARAM_MAX 1024 /* bytes of one parameter, NUL included */

/*
 * The amount minor_units of currency (upper-case ISO 4217, e.g. "EUR") in
 * locale: en-US "$500.00", ca-ES "500,00 €", ja-JP JPY "￥500", KWD with
 * three decimals. Negative amounts carry the locale's minus sign. Returns
 * 0, DN_ERR_INVALID (bad currency code), DN_ERR_TOO_LARGE (out too short)
 * or DN_ERR_UNAVAILABLE (ICU failed) with the reason in err (may be NULL).
 */
int format_amount(int64_t minor_units, const char *currency, const char *locale,
		  char *out, size_t len, char *err, size_t errlen);

/* Decimal places of currency: 2 for EUR, 0 for JPY, 3 for KWD; -1 if the
 * code is not three upper-case letters known to ICU. */
int format_currency_digits(const char *currency);

/*
 * The due date as day and month name in locale: ca-ES "15 de març",
 * es-ES "15 de marzo", en-US "March 15", de-DE "15. März". Returns 0,
 * DN_ERR_INVALID (invalid date), DN_ERR_TOO_LARGE or DN_ERR_UNAVAILABLE.
 */
int format_due_date(struct workflow_date date, const char *locale, char *out,
		    size_t len, char *err, size_t errlen);

/*
 * The invoice numbers joined with ", " (contract 4), in the given order.
 * When they do not all fit in len, as many as fit are followed by
 * " (+N)" naming how many were left out, so the text is never cut
 * mid-number. Numbers containing a newline or tab have them replaced by
 * spaces. Returns 0, DN_ERR_INVALID (n == 0) or DN_ERR_TOO_LARGE (not even
 * one number and its suffix fit).
 */
int format_invoice_list(const char *const *numbers, size_t n, char *out,
			size_t len, char *err, size_t errlen);

/* How the customer can pay; every field may be NULL or "". Borrowed. */
struct format_payment {
	const char *payment_link; /* URL */
	const char *iban;	  /* printed in groups of four */
	const char *reference;	  /* remittance reference to quote */
	const char *account_name; /* beneficiary, optional */
};

/*
 * The how-to-pay text in the locale's language (ca, es, en, pt, fr, de;
 * others get English): the payment link when there is one, else the bank
 * transfer to the IBAN with the reference (and beneficiary), else a
 * generic line inviting the customer to reply for the payment details.
 * Returns 0 or DN_ERR_TOO_LARGE.
 */
int format_how_to_pay(const struct format_payment *payment, const char *locale,
		      char *out, size_t len, char *err, size_t errlen);

/* Frees this thread's cached ICU formatters. Safe at any time. */
void format_thread_release(void);

#endif
