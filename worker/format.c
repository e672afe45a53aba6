/* format.c: ICU formatting of amounts and dates, and payment text. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ICU formatters are costly to open (locale data, patterns), so each
 * thread keeps the ones it used last, keyed by locale and currency. Text
 * that is not ICU's (invoice lists, how to pay) is assembled with a small
 * bounded appender that reports overflow instead of truncating silently.
 */
#include "format.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <unicode/udat.h>
#include <unicode/udatpg.h>
#include <unicode/uloc.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "error.h"
#include "money.h"

#define LOCALE_ID_MAX 64
#define UTEXT_MAX     256
#define NUMBER_CACHE  16
#define DATE_CACHE    8

struct cached_number {
	char key[LOCALE_ID_MAX + 4]; /* "ca_ES/EUR" */
	UNumberFormat *fmt;
};

struct cached_date {
	char locale[LOCALE_ID_MAX];
	UDateFormat *fmt;
};

static _Thread_local struct cached_number numbers[NUMBER_CACHE];
static _Thread_local unsigned numbers_next;
static _Thread_local struct cached_date dates[DATE_CACHE];
static _Thread_local unsigned dates_next;

void format_thread_release(void)
{
	for (unsigned i = 0; i < NUMBER_CACHE; i++) {
		if (numbers[i].fmt)
			unum_close(numbers[i].fmt);
		numbers[i].fmt = NULL;
		numbers[i].key[0] = '\0';
	}
	for (unsigned i = 0; i < DATE_CACHE; i++) {
		if (dates[i].fmt)
			udat_close(dates[i].fmt);
		dates[i].fmt = NULL;
		dates[i].locale[0] = '\0';
	}
	numbers_next = dates_next = 0;
}

/* ------------------------------------------------------------------ */
/* Locales and text */

/* Whether ICU has data for the language of locale id. */
static bool language_known(const char *id)
{
	char lang[16];
	UErrorCode status = U_ZERO_ERROR;
	int32_t n = uloc_getLanguage(id, lang, sizeof(lang), &status);

	if (U_FAILURE(status) || n <= 0 || n >= (int32_t)sizeof(lang))
		return false;
	for (int32_t i = 0; i < uloc_countAvailable(); i++) {
		const char *avail = uloc_getAvailable(i);

		if (!strncmp(avail, lang, (size_t)n) &&
		    (avail[n] == '\0' || avail[n] == '_'))
			return true;
	}
	return false;
}

/* The ICU locale id of a BCP 47 tag ("pt-BR" or "pt_BR" -> "pt_BR");
 * "en" for an empty or unusable tag. Whether ICU knows the language is
 * checked when a formatter is opened, not here: this runs per call. */
static void icu_locale(const char *tag, char *out)
{
	char bcp[LOCALE_ID_MAX];
	UErrorCode status = U_ZERO_ERROR;
	int32_t parsed = 0;
	size_t len = tag ? strlen(tag) : 0;

	memcpy(out, "en", 3);
	if (len == 0 || len >= sizeof(bcp))
		return;
	for (size_t i = 0; i <= len; i++)
		bcp[i] = tag[i] == '_' ? '-' : tag[i];
	uloc_forLanguageTag(bcp, out, LOCALE_ID_MAX, &parsed, &status);
	if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING ||
	    !out[0])
		memcpy(out, "en", 3);
}

/* The locale a formatter is opened for: id, or English when ICU has no
 * data for its language. */
static const char *data_locale(const char *id)
{
	return language_known(id) ? id : "en";
}

/* UTF-16 to UTF-8 into out, tabs and line breaks turned into spaces. */
static int to_utf8(const UChar *text, int32_t n, char *out, size_t len,
		   char *err, size_t errlen)
{
	UErrorCode status = U_ZERO_ERROR;
	int32_t written = 0;

	u_strToUTF8(out, (int32_t)len, &written, text, n, &status);
	if (U_FAILURE(status) || (size_t)written >= len) {
		out[0] = '\0';
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "formatted text needs more than %zu bytes", len);
	}
	for (int32_t i = 0; i < written; i++)
		if (out[i] == '\n' || out[i] == '\t' || out[i] == '\r')
			out[i] = ' ';
	return DN_OK;
}

static void clear(char *out, size_t len)
{
	if (len > 0)
		out[0] = '\0';
}

/* ------------------------------------------------------------------ */
/* Amounts */

int format_currency_digits(const char *currency)
{
	return money_exponent(currency);
}

static UNumberFormat *open_currency_format(const char *locale,
					   const char *currency, int digits)
{
	UErrorCode status = U_ZERO_ERROR;
	UChar code[4];
	UNumberFormat *fmt = unum_open(UNUM_CURRENCY, NULL, 0,
				       data_locale(locale), NULL, &status);

	if (U_FAILURE(status)) {
		if (fmt)
			unum_close(fmt);
		return NULL;
	}
	u_uastrncpy(code, currency, 4);
	unum_setTextAttribute(fmt, UNUM_CURRENCY_CODE, code, 3, &status);
	unum_setAttribute(fmt, UNUM_MIN_FRACTION_DIGITS, digits);
	unum_setAttribute(fmt, UNUM_MAX_FRACTION_DIGITS, digits);
	if (U_FAILURE(status)) {
		unum_close(fmt);
		return NULL;
	}
	return fmt;
}

/* This thread's currency formatter for locale and currency, or NULL. */
static UNumberFormat *currency_format(const char *locale, const char *currency,
				      int digits)
{
	struct cached_number *slot;
	char key[sizeof(numbers[0].key)];
	UNumberFormat *fmt;

	snprintf(key, sizeof(key), "%s/%s", locale, currency);
	for (unsigned i = 0; i < NUMBER_CACHE; i++)
		if (numbers[i].fmt && !strcmp(numbers[i].key, key))
			return numbers[i].fmt;
	fmt = open_currency_format(locale, currency, digits);
	if (!fmt)
		return NULL;
	slot = &numbers[numbers_next++ % NUMBER_CACHE];
	if (slot->fmt)
		unum_close(slot->fmt);
	slot->fmt = fmt;
	memcpy(slot->key, key, sizeof(key));
	return fmt;
}

int format_amount(int64_t minor_units, const char *currency, const char *locale,
		  char *out, size_t len, char *err, size_t errlen)
{
	char id[LOCALE_ID_MAX], decimal[MONEY_TEXT_MAX];
	UChar text[UTEXT_MAX];
	UErrorCode status = U_ZERO_ERROR;
	UNumberFormat *fmt;
	int digits = money_exponent(currency);
	int32_t n;

	clear(out, len);
	if (digits < 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "unknown currency \"%s\"",
			       currency ? currency : "(null)");

	/* Exact decimal text from the integer: never a double. */
	if (money_format(minor_units, currency, decimal, sizeof(decimal)))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "cannot write %lld %s as a decimal",
			       (long long)minor_units, currency);
	icu_locale(locale, id);
	fmt = currency_format(id, currency, digits);
	if (!fmt)
		return dn_fail(DN_ERR_UNAVAILABLE, err, errlen,
			       "no currency format for locale \"%s\"", id);
	n = unum_formatDecimal(fmt, decimal, -1, text, UTEXT_MAX, NULL,
			       &status);
	if (U_FAILURE(status) || n >= UTEXT_MAX)
		return dn_fail(DN_ERR_UNAVAILABLE, err, errlen,
			       "cannot format %s %s: %s", decimal, currency,
			       u_errorName(status));
	return to_utf8(text, n, out, len, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Dates */

static UDateFormat *open_day_month_format(const char *locale)
{
	static const UChar skeleton[] = { 'M', 'M', 'M', 'M', 'd', 0 };
	static const UChar utc[] = { 'U', 'T', 'C', 0 };
	UErrorCode status = U_ZERO_ERROR;
	UChar pattern[UTEXT_MAX];
	UDateTimePatternGenerator *gen;
	UDateFormat *fmt = NULL;
	int32_t n;

	locale = data_locale(locale);
	gen = udatpg_open(locale, &status);

	if (U_FAILURE(status)) {
		if (gen)
			udatpg_close(gen);
		return NULL;
	}
	n = udatpg_getBestPattern(gen, skeleton, -1, pattern, UTEXT_MAX,
				  &status);
	udatpg_close(gen);
	if (U_SUCCESS(status) && n < UTEXT_MAX)
		fmt = udat_open(UDAT_PATTERN, UDAT_PATTERN, locale, utc, -1,
				pattern, n, &status);
	if (U_FAILURE(status) && fmt) {
		udat_close(fmt);
		fmt = NULL;
	}
	return fmt;
}

static UDateFormat *day_month_format(const char *locale)
{
	struct cached_date *slot;
	UDateFormat *fmt;

	for (unsigned i = 0; i < DATE_CACHE; i++)
		if (dates[i].fmt && !strcmp(dates[i].locale, locale))
			return dates[i].fmt;
	fmt = open_day_month_format(locale);
	if (!fmt)
		return NULL;
	slot = &dates[dates_next++ % DATE_CACHE];
	if (slot->fmt)
		udat_close(slot->fmt);
	slot->fmt = fmt;
	snprintf(slot->locale, sizeof(slot->locale), "%s", locale);
	return fmt;
}

static bool date_valid(struct workflow_date d)
{
	static const int days[] = { 31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;

	if (d.year < 1900 || d.year > 9999 || d.month < 1 || d.month > 12 ||
	    d.day < 1 || d.day > days[d.month - 1])
		return false;
	return !(d.month == 2 && d.day == 29 && !leap);
}

/* Noon UTC of the date, as ICU milliseconds: a day number would do, but
 * noon keeps the date right whatever rounding a calendar applies. */
static UDate noon_utc(struct workflow_date d)
{
	int y = d.year - (d.month <= 2);
	int era = y / 400;
	int yoe = y - era * 400;
	int mp = (d.month + 9) % 12;
	int doy = (153 * mp + 2) / 5 + d.day - 1;
	int64_t days = (int64_t)era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 +
		       doy - 719468;

	return (UDate)(days * 86400000 + 43200000);
}

int format_due_date(struct workflow_date date, const char *locale, char *out,
		    size_t len, char *err, size_t errlen)
{
	char id[LOCALE_ID_MAX];
	UChar text[UTEXT_MAX];
	UErrorCode status = U_ZERO_ERROR;
	UDateFormat *fmt;
	int32_t n;

	clear(out, len);
	if (!date_valid(date))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "invalid date %04d-%02d-%02d", date.year,
			       date.month, date.day);
	icu_locale(locale, id);
	fmt = day_month_format(id);
	if (!fmt)
		return dn_fail(DN_ERR_UNAVAILABLE, err, errlen,
			       "no date format for locale \"%s\"", id);
	n = udat_format(fmt, noon_utc(date), text, UTEXT_MAX, NULL, &status);
	if (U_FAILURE(status) || n >= UTEXT_MAX)
		return dn_fail(DN_ERR_UNAVAILABLE, err, errlen,
			       "cannot format date: %s", u_errorName(status));
	return to_utf8(text, n, out, len, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Bounded text assembly */

struct text {
	char *buf;
	size_t len, used;
	bool overflow;
};

/* Appends n bytes of s, control characters as spaces. */
static void append_n(struct text *t, const char *s, size_t n)
{
	if (t->overflow || t->used + n >= t->len) {
		t->overflow = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		t->buf[t->used++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	t->buf[t->used] = '\0';
}

static void append(struct text *t, const char *s)
{
	append_n(t, s, strlen(s));
}

/* Whether t has room for " (+rest)" after what it holds. */
static bool room_for_rest(const struct text *t, size_t rest)
{
	char suffix[32];

	return snprintf(suffix, sizeof(suffix), " (+%zu)", rest) > 0 &&
	       t->used + strlen(suffix) < t->len;
}

int format_invoice_list(const char *const *numbers_in, size_t n, char *out,
			size_t len, char *err, size_t errlen)
{
	struct text t = { out, len, 0, false };
	char suffix[32];

	clear(out, len);
	if (n == 0)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "no invoice numbers to list");
	for (size_t i = 0; i < n; i++) {
		size_t before = t.used;

		append(&t, i ? ", " : "");
		append(&t, numbers_in[i] ? numbers_in[i] : "");
		if (!t.overflow && (i + 1 == n || room_for_rest(&t, n - i - 1)))
			continue;

		/* Number i does not fit with the count of the rest: end
		 * after number i - 1, whose check kept room for it. */
		if (i == 0) {
			t.overflow = true;
			break;
		}
		t.used = before;
		t.overflow = false;
		out[before] = '\0';
		snprintf(suffix, sizeof(suffix), " (+%zu)", n - i);
		append(&t, suffix);
		return DN_OK;
	}
	if (!t.overflow)
		return DN_OK;
	clear(out, len);
	return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
		       "invoice list does not fit in %zu bytes", len);
}

/* ------------------------------------------------------------------ */
/* How to pay */

struct pay_phrases {
	const char *language;
	const char *online;    /* followed by the link */
	const char *transfer;  /* followed by the IBAN */
	const char *reference; /* followed by the reference */
	const char *holder;    /* followed by the account name */
	const char *generic;
};

static const struct pay_phrases phrases[] = {
	{ "en", "pay online at ", "bank transfer to IBAN ", ", reference ",
	  ", account holder ",
	  "reply to this message and we will send you the payment details" },
	{ "es", "pague en línea en ", "transferencia al IBAN ", ", referencia ",
	  ", titular ",
	  "responda a este mensaje y le enviaremos los datos de pago" },
	{ "ca", "pagueu en línia a ", "transferència a l'IBAN ",
	  ", referència ", ", titular ",
	  "responeu aquest missatge i us enviarem les dades de pagament" },
	{ "pt", "pague online em ", "transferência para o IBAN ",
	  ", referência ", ", titular ",
	  "responda a esta mensagem e enviaremos os dados de pagamento" },
	{ "fr", "payez en ligne sur ", "virement sur l'IBAN ", ", référence ",
	  ", titulaire ",
	  "répondez à ce message et nous vous enverrons les coordonnées de "
	  "paiement" },
	{ "de", "online bezahlen unter ", "Überweisung auf IBAN ",
	  ", Verwendungszweck ", ", Kontoinhaber ",
	  "antworten Sie auf diese Nachricht, dann senden wir Ihnen die "
	  "Zahlungsdaten" },
};

static const struct pay_phrases *phrases_for(const char *locale)
{
	size_t lang = locale ? strcspn(locale, "-_") : 0;

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (lang == 2 && !strncasecmp(locale, phrases[i].language, 2))
			return &phrases[i];
	return &phrases[0];
}

static bool present(const char *s)
{
	return s && *s;
}

/* The IBAN without spaces, in upper case and groups of four. */
static void append_iban(struct text *t, const char *iban)
{
	size_t count = 0;

	for (const char *c = iban; *c; c++) {
		char upper;

		if (isspace((unsigned char)*c))
			continue;
		if (count && count % 4 == 0)
			append(t, " ");
		upper = (char)toupper((unsigned char)*c);
		append_n(t, &upper, 1);
		count++;
	}
}

int format_how_to_pay(const struct format_payment *payment, const char *locale,
		      char *out, size_t len, char *err, size_t errlen)
{
	const struct pay_phrases *p = phrases_for(locale);
	struct text t = { out, len, 0, false };

	clear(out, len);
	if (payment && present(payment->payment_link)) {
		append(&t, p->online);
		append(&t, payment->payment_link);
	} else if (payment && present(payment->iban)) {
		append(&t, p->transfer);
		append_iban(&t, payment->iban);
		if (present(payment->account_name)) {
			append(&t, p->holder);
			append(&t, payment->account_name);
		}
		if (present(payment->reference)) {
			append(&t, p->reference);
			append(&t, payment->reference);
		}
	} else {
		append(&t, p->generic);
	}
	if (t.overflow) {
		clear(out, len);
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "how-to-pay text does not fit in %zu bytes",
			       len);
	}
	return DN_OK;
}
