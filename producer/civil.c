/* civil.c: strict civil date parsing and day arithmetic. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "civil.h"

#include "calendar.h"

#include "error.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const month_names[] = { "January", "February", "March",
					   "April",   "May",	  "June",
					   "July",    "August",	  "September",
					   "October", "November", "December" };

int civil_format_parse(const char *name)
{
	static const struct {
		const char *name;
		enum civil_format format;
	} names[] = {
		{ "iso", CIVIL_ISO },	{ "y-m-d", CIVIL_ISO },
		{ "us", CIVIL_US },	{ "m/d/y", CIVIL_US },
		{ "eu", CIVIL_EU },	{ "d/m/y", CIVIL_EU },
		{ "dots", CIVIL_DOTS }, { "d.m.y", CIVIL_DOTS },
	};
	size_t i;

	for (i = 0; name && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i].name) == 0)
			return (int)names[i].format;
	return -1;
}

static bool leap_year(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int month_length(int year, int month)
{
	static const int lengths[] = { 31, 28, 31, 30, 31, 30,
				       31, 31, 30, 31, 30, 31 };

	return month == 2 && leap_year(year) ? 29 : lengths[month - 1];
}

/* Reads 1 to max digits at *pos, then expects sep (or the end if 0). */
static bool read_part(const char *text, size_t len, size_t *pos, int max,
		      char sep, int *out)
{
	int digits = 0, value = 0;

	while (*pos < len && text[*pos] >= '0' && text[*pos] <= '9' &&
	       digits < max) {
		value = value * 10 + (text[*pos] - '0');
		(*pos)++;
		digits++;
	}
	if (digits == 0)
		return false;
	if (sep) {
		if (*pos >= len || text[*pos] != sep)
			return false;
		(*pos)++;
	}
	*out = value;
	return true;
}

/* Splits text into three numbers in the format's order. */
static bool split_parts(const char *text, size_t len, enum civil_format format,
			int *year, int *month, int *day)
{
	size_t pos = 0;
	bool ok;

	switch (format) {
	case CIVIL_ISO:
		ok = read_part(text, len, &pos, 4, '-', year) &&
		     read_part(text, len, &pos, 2, '-', month) &&
		     read_part(text, len, &pos, 2, 0, day);
		break;
	case CIVIL_US:
		ok = read_part(text, len, &pos, 2, '/', month) &&
		     read_part(text, len, &pos, 2, '/', day) &&
		     read_part(text, len, &pos, 4, 0, year);
		break;
	case CIVIL_EU:
	case CIVIL_DOTS:
		ok = read_part(text, len, &pos, 2,
			       format == CIVIL_EU ? '/' : '.', day) &&
		     read_part(text, len, &pos, 2,
			       format == CIVIL_EU ? '/' : '.', month) &&
		     read_part(text, len, &pos, 4, 0, year);
		break;
	default:
		ok = false;
	}
	return ok && pos == len;
}

int civil_parse(const char *text, size_t len, enum civil_format format,
		struct civil_date *out, char *err, size_t errlen)
{
	static const char *const shapes[] = { "YYYY-MM-DD", "M/D/YYYY",
					      "D/M/YYYY", "D.M.YYYY" };
	int shown = (int)(len > 32 ? 32 : len);
	int year, month, day;

	if (!split_parts(text, len, format, &year, &month, &day))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%.*s' is not a date of the form %s", shown,
			       text, shapes[format]);
	if (year < 1900 || year > 2999)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%.*s': year %d is out of range", shown, text,
			       year);
	if (month < 1 || month > 12)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%.*s': there is no month %d", shown, text,
			       month);
	if (day < 1 || day > month_length(year, month))
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "'%.*s': day %d does not exist in %s %d", shown,
			       text, day, month_names[month - 1], year);
	out->year = year;
	out->month = month;
	out->day = day;
	return DN_OK;
}

int64_t civil_to_days(struct civil_date date)
{
	return calendar_days_from_civil(date.year, date.month, date.day);
}

struct civil_date civil_from_days(int64_t days)
{
	struct civil_date date;

	calendar_civil_from_days(days, &date.year, &date.month, &date.day);
	return date;
}

struct civil_date civil_add_days(struct civil_date date, int n)
{
	return civil_from_days(civil_to_days(date) + n);
}

int64_t civil_noon_ms(struct civil_date date)
{
	return (civil_to_days(date) * 86400 + 12 * 3600) * 1000;
}

char *civil_format_iso(struct civil_date date, char *buf, size_t len)
{
	snprintf(buf, len, "%04d-%02d-%02d", date.year % 10000,
		 date.month % 100, date.day % 100);
	return buf;
}
