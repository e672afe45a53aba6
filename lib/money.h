/* money.h: ISO 4217 currencies and exact decimal amounts in minor units. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Money in the product is an int64 count of minor units with an ISO 4217
 * code (EUR 12.34 is 1234, JPY 500 is 500, KWD 1.500 is 1500). This module
 * knows the minor-unit exponent of every active ISO 4217 currency and
 * converts between decimal text and minor units exactly: no floating point
 * is used anywhere.
 *
 * Parsing accepts an optional sign, digits, and an optional '.' followed by
 * digits ("-12.5", "0.125", "1500"). Thousands separators, exponents and
 * spaces inside the number are refused. A value with more decimals than
 * the currency has is refused unless a rounding rule says what to do.
 */
#ifndef DUNNING_MONEY_H
#define DUNNING_MONEY_H

#include <stddef.h>
#include <stdint.h>

/* What to do with decimals beyond the currency's exponent. */
enum money_rounding {
	MONEY_ROUND_REJECT = 0, /* refuse the amount (the default) */
	MONEY_ROUND_HALF_EVEN,	/* banker's rounding: 0.125 -> 0.12 */
	MONEY_ROUND_HALF_UP,	/* half away from zero: 0.125 -> 0.13 */
	MONEY_ROUND_TRUNCATE,	/* toward zero: 0.129 -> 0.12 */
};

/* Longest decimal text money_format writes, terminator included. */
#define MONEY_TEXT_MAX 32

/*
 * Returns the number of minor-unit digits of the ISO 4217 alphabetic code
 * (2 for EUR, 0 for JPY, 3 for KWD), or -1 if code is not an active
 * currency. code must be three upper-case letters; NULL gives -1.
 */
int money_exponent(const char *code);

/* Parses "reject", "half-even", "half-up" or "truncate"; -1 if unknown. */
int money_rounding_parse(const char *name);

/*
 * Converts the decimal text to minor units of currency under rule.
 * Returns 0 and sets *out, or DN_ERR_INVALID with the reason in err
 * (unknown currency, not a number, too many decimals, out of range).
 * text need not be NUL-terminated past len; err may be NULL.
 */
int money_parse(const char *text, size_t len, const char *currency,
		enum money_rounding rule, int64_t *out, char *err,
		size_t errlen);

/*
 * Writes minor units of currency as plain decimal text with exactly the
 * currency's number of decimals ("-12.30", "500", "1.500") into buf.
 * Returns 0, DN_ERR_INVALID for an unknown currency, or DN_ERR_TOO_LARGE
 * if buf is too small (MONEY_TEXT_MAX always suffices).
 */
int money_format(int64_t minor_units, const char *currency, char *buf,
		 size_t len);

#endif
