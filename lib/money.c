/* money.c: ISO 4217 exponents and exact decimal <-> minor unit conversion. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "money.h"

#include "error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct currency {
	char code[4];
	int exponent;
};

/*
 * Active ISO 4217 currencies and fund codes with a defined minor unit
 * (the SIX list of 2025), sorted by code for bsearch. Codes whose minor
 * unit is "N.A." (precious metals, XDR, XSU, XUA, XTS, XXX) are left out:
 * they never appear on an invoice.
 */
static const struct currency currencies[] = {
	{ "AED", 2 }, { "AFN", 2 }, { "ALL", 2 }, { "AMD", 2 }, { "ANG", 2 },
	{ "AOA", 2 }, { "ARS", 2 }, { "AUD", 2 }, { "AWG", 2 }, { "AZN", 2 },
	{ "BAM", 2 }, { "BBD", 2 }, { "BDT", 2 }, { "BGN", 2 }, { "BHD", 3 },
	{ "BIF", 0 }, { "BMD", 2 }, { "BND", 2 }, { "BOB", 2 }, { "BOV", 2 },
	{ "BRL", 2 }, { "BSD", 2 }, { "BTN", 2 }, { "BWP", 2 }, { "BYN", 2 },
	{ "BZD", 2 }, { "CAD", 2 }, { "CDF", 2 }, { "CHE", 2 }, { "CHF", 2 },
	{ "CHW", 2 }, { "CLF", 4 }, { "CLP", 0 }, { "CNY", 2 }, { "COP", 2 },
	{ "COU", 2 }, { "CRC", 2 }, { "CUC", 2 }, { "CUP", 2 }, { "CVE", 2 },
	{ "CZK", 2 }, { "DJF", 0 }, { "DKK", 2 }, { "DOP", 2 }, { "DZD", 2 },
	{ "EGP", 2 }, { "ERN", 2 }, { "ETB", 2 }, { "EUR", 2 }, { "FJD", 2 },
	{ "FKP", 2 }, { "GBP", 2 }, { "GEL", 2 }, { "GHS", 2 }, { "GIP", 2 },
	{ "GMD", 2 }, { "GNF", 0 }, { "GTQ", 2 }, { "GYD", 2 }, { "HKD", 2 },
	{ "HNL", 2 }, { "HTG", 2 }, { "HUF", 2 }, { "IDR", 2 }, { "ILS", 2 },
	{ "INR", 2 }, { "IQD", 3 }, { "IRR", 2 }, { "ISK", 0 }, { "JMD", 2 },
	{ "JOD", 3 }, { "JPY", 0 }, { "KES", 2 }, { "KGS", 2 }, { "KHR", 2 },
	{ "KMF", 0 }, { "KPW", 2 }, { "KRW", 0 }, { "KWD", 3 }, { "KYD", 2 },
	{ "KZT", 2 }, { "LAK", 2 }, { "LBP", 2 }, { "LKR", 2 }, { "LRD", 2 },
	{ "LSL", 2 }, { "LYD", 3 }, { "MAD", 2 }, { "MDL", 2 }, { "MGA", 2 },
	{ "MKD", 2 }, { "MMK", 2 }, { "MNT", 2 }, { "MOP", 2 }, { "MRU", 2 },
	{ "MUR", 2 }, { "MVR", 2 }, { "MWK", 2 }, { "MXN", 2 }, { "MXV", 2 },
	{ "MYR", 2 }, { "MZN", 2 }, { "NAD", 2 }, { "NGN", 2 }, { "NIO", 2 },
	{ "NOK", 2 }, { "NPR", 2 }, { "NZD", 2 }, { "OMR", 3 }, { "PAB", 2 },
	{ "PEN", 2 }, { "PGK", 2 }, { "PHP", 2 }, { "PKR", 2 }, { "PLN", 2 },
	{ "PYG", 0 }, { "QAR", 2 }, { "RON", 2 }, { "RSD", 2 }, { "RUB", 2 },
	{ "RWF", 0 }, { "SAR", 2 }, { "SBD", 2 }, { "SCR", 2 }, { "SDG", 2 },
	{ "SEK", 2 }, { "SGD", 2 }, { "SHP", 2 }, { "SLE", 2 }, { "SLL", 2 },
	{ "SOS", 2 }, { "SRD", 2 }, { "SSP", 2 }, { "STN", 2 }, { "SVC", 2 },
	{ "SYP", 2 }, { "SZL", 2 }, { "THB", 2 }, { "TJS", 2 }, { "TMT", 2 },
	{ "TND", 3 }, { "TOP", 2 }, { "TRY", 2 }, { "TTD", 2 }, { "TWD", 2 },
	{ "TZS", 2 }, { "UAH", 2 }, { "UGX", 0 }, { "USD", 2 }, { "USN", 2 },
	{ "UYI", 0 }, { "UYU", 2 }, { "UYW", 4 }, { "UZS", 2 }, { "VED", 2 },
	{ "VES", 2 }, { "VND", 0 }, { "VUV", 0 }, { "WST", 2 }, { "XAF", 0 },
	{ "XCD", 2 }, { "XCG", 2 }, { "XOF", 0 }, { "XPF", 0 }, { "YER", 2 },
	{ "ZAR", 2 }, { "ZMW", 2 }, { "ZWG", 2 }, { "ZWL", 2 },
};

static int currency_compare(const void *key, const void *entry)
{
	return strcmp(key, ((const struct currency *)entry)->code);
}

int money_exponent(const char *code)
{
	const struct currency *found;

	if (!code || strlen(code) != 3)
		return -1;
	found = bsearch(code, currencies,
			sizeof(currencies) / sizeof(currencies[0]),
			sizeof(currencies[0]), currency_compare);
	return found ? found->exponent : -1;
}

int money_rounding_parse(const char *name)
{
	static const char *const names[] = { "reject", "half-even", "half-up",
					     "truncate" };
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Splits text into sign, integer digits and fraction digits. */
struct decimal {
	bool negative;
	const char *whole, *fraction;
	size_t whole_len, fraction_len;
};

static int decimal_split(const char *text, size_t len, struct decimal *d)
{
	size_t i = 0;

	memset(d, 0, sizeof(*d));
	if (i < len && (text[i] == '-' || text[i] == '+'))
		d->negative = text[i++] == '-';
	d->whole = text + i;
	while (i < len && text[i] >= '0' && text[i] <= '9')
		i++;
	d->whole_len = (size_t)(text + i - d->whole);
	if (i < len && text[i] == '.') {
		d->fraction = text + ++i;
		while (i < len && text[i] >= '0' && text[i] <= '9')
			i++;
		d->fraction_len = (size_t)(text + i - d->fraction);
	}
	if (i != len || d->whole_len + d->fraction_len == 0)
		return DN_ERR_INVALID;
	return DN_OK;
}

/* Appends one digit to *value; false on overflow. */
static bool push_digit(int64_t *value, int digit)
{
	if (*value > (INT64_MAX - digit) / 10)
		return false;
	*value = *value * 10 + digit;
	return true;
}

/* Whether the dropped digits call for adding one minor unit. */
static bool round_up(const struct decimal *d, int exponent,
		     enum money_rounding rule, int64_t kept)
{
	const char *rest = d->fraction + exponent;
	size_t rest_len = d->fraction_len - (size_t)exponent;
	bool beyond_half = false;
	size_t i;

	if (rule == MONEY_ROUND_TRUNCATE || rest[0] < '5')
		return false;
	if (rest[0] > '5')
		return true;
	for (i = 1; i < rest_len; i++)
		if (rest[i] != '0')
			beyond_half = true;
	if (beyond_half || rule == MONEY_ROUND_HALF_UP)
		return true;
	return (kept % 2) != 0; /* exactly half: to even */
}

static bool has_excess_digits(const struct decimal *d, int exponent)
{
	size_t i;

	for (i = (size_t)exponent; i < d->fraction_len; i++)
		if (d->fraction[i] != '0')
			return true;
	return false;
}

int money_parse(const char *text, size_t len, const char *currency,
		enum money_rounding rule, int64_t *out, char *err,
		size_t errlen)
{
	int exponent = money_exponent(currency);
	struct decimal d;
	int64_t value = 0;
	size_t i;

	if (exponent < 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "unknown currency '%.8s'",
			       currency ? currency : "");
	if (!text || decimal_split(text, len, &d))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%.*s' is not a decimal amount",
			       (int)(len > 40 ? 40 : len), text ? text : "");

	/* Decimals the currency does not have are refused unless they are
	 * zeros or a rounding rule says what to do with them. */
	if ((int)d.fraction_len > exponent && has_excess_digits(&d, exponent) &&
	    rule == MONEY_ROUND_REJECT)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%.*s' has %zu decimals but %s has %d",
			       (int)(len > 40 ? 40 : len), text, d.fraction_len,
			       currency, exponent);

	/* Whole digits, then exactly exponent fraction digits (padded). */
	for (i = 0; i < d.whole_len; i++)
		if (!push_digit(&value, d.whole[i] - '0'))
			goto overflow;
	for (i = 0; i < (size_t)exponent; i++)
		if (!push_digit(&value,
				i < d.fraction_len ? d.fraction[i] - '0' : 0))
			goto overflow;
	if ((int)d.fraction_len > exponent &&
	    round_up(&d, exponent, rule, value)) {
		if (value == INT64_MAX)
			goto overflow;
		value++;
	}
	*out = d.negative ? -value : value;
	return DN_OK;

overflow:
	return dn_fail(DN_ERR_INVALID, err, errlen, "'%.*s' is out of range",
		       (int)(len > 40 ? 40 : len), text);
}

int money_format(int64_t minor_units, const char *currency, char *buf,
		 size_t len)
{
	int exponent = money_exponent(currency);
	uint64_t magnitude, scale = 1;
	char whole[24], fraction[24];
	int i, n;

	if (exponent < 0)
		return DN_ERR_INVALID;
	for (i = 0; i < exponent; i++)
		scale *= 10;
	magnitude = minor_units < 0 ? (uint64_t)0 - (uint64_t)minor_units
				    : (uint64_t)minor_units;
	snprintf(whole, sizeof(whole), "%llu",
		 (unsigned long long)(magnitude / scale));
	snprintf(fraction, sizeof(fraction), "%0*llu", exponent & 7,
		 (unsigned long long)(magnitude % scale));
	n = snprintf(buf, len, "%s%s%s%s", minor_units < 0 ? "-" : "", whole,
		     exponent ? "." : "", exponent ? fraction : "");
	if (n < 0 || (size_t)n >= len)
		return DN_ERR_TOO_LARGE;
	return DN_OK;
}
