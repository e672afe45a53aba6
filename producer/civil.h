/* civil.h: civil dates (year, month, day) parsed strictly from exports. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exports write dates in many orders ("1/15/2013", "15.01.2013",
 * "2013-01-15"); a date format names the order. Parsing is strict: every
 * part must be digits, the month 1-12 and the day valid for that month and
 * year, so 2/30/2013 is refused with the reason. A date-only fact becomes
 * an instant at 12:00 UTC of that date (see civil_noon_ms).
 */
#ifndef DUNNING_PRODUCER_CIVIL_H
#define DUNNING_PRODUCER_CIVIL_H

#include <stddef.h>
#include <stdint.h>

struct civil_date {
	int year;  /* 1900 to 2999 */
	int month; /* 1 to 12 */
	int day;   /* 1 to the month's length */
};

enum civil_format {
	CIVIL_ISO,  /* 2013-01-15 (also the UBL xs:date) */
	CIVIL_US,   /* 1/15/2013 or 01/15/2013 (month/day/year) */
	CIVIL_EU,   /* 15/01/2013 (day/month/year) */
	CIVIL_DOTS, /* 15.01.2013 (day.month.year, German style) */
};

/* Parses "iso", "us", "eu" or "dots" (also "m/d/y", "d/m/y", "y-m-d",
 * "d.m.y"); -1 if unknown. */
int civil_format_parse(const char *name);

/*
 * Parses text (len bytes, not necessarily terminated) in format into *out.
 * Returns 0 or DN_ERR_INVALID with the reason in err ("2/30/2013: day 30
 * does not exist in February 2013"). err may be NULL.
 */
int civil_parse(const char *text, size_t len, enum civil_format format,
		struct civil_date *out, char *err, size_t errlen);

/* Days since 1970-01-01 of a valid date (negative before). */
int64_t civil_to_days(struct civil_date date);

/* The date days after 1970-01-01. */
struct civil_date civil_from_days(int64_t days);

/* The date n days after date (n may be negative). */
struct civil_date civil_add_days(struct civil_date date, int n);

/*
 * 12:00 UTC of date as UTC ms: noon UTC falls on the same civil date in
 * every time zone from UTC-11 to UTC+11, so a payment dated the 15th
 * stays the 15th for the customer.
 */
int64_t civil_noon_ms(struct civil_date date);

/* Writes "2013-01-15" into buf (size >= 11). Returns buf. */
char *civil_format_iso(struct civil_date date, char *buf, size_t len);

#endif
