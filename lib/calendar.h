/* calendar.h: proleptic Gregorian day numbers of civil dates. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Turns a civil date into the count of days since 1970-01-01 (negative
 * before) and back, with no time zone and no library state: the arithmetic
 * the importer needs to check and order dates, and the worker needs to
 * step through calendar days before ICU places them in a time zone. The
 * caller checks that a date exists (month 1 to 12, day within the month);
 * these functions do not.
 */
#ifndef DUNNING_CALENDAR_H
#define DUNNING_CALENDAR_H

#include <stdint.h>

/* Days since 1970-01-01 of year-month-day. */
int64_t calendar_days_from_civil(int year, int month, int day);

/* The civil date of a day number; none of the pointers may be NULL. */
void calendar_civil_from_days(int64_t days, int *year, int *month, int *day);

#endif
