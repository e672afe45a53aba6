/* phone.h: phone numbers to E.164 through libphonenumber (C wrapper). */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small C-callable wrapper over Google's libphonenumber. Input is
 * whatever a person typed or an export holds ("600 12 34 56",
 * "+34 600-123-456", "(0)30 1234567"); the output is the E.164 form
 * ("+34600123456") when libphonenumber finds the number valid for its
 * region. A national number needs a default region (ISO 3166-1 alpha-2,
 * "ES"); a number in international form ignores it.
 * Input with letters is refused: libphonenumber would read them as
 * keypad digits, and a mistyped number would reach a stranger.
 *
 * Safe to call from any thread: libphonenumber's util is a thread-safe
 * singleton and no state is kept here.
 */
#ifndef DUNNING_PHONE_H
#define DUNNING_PHONE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest E.164 number with its '+' and terminator. */
#define PHONE_E164_MAX 17

/*
 * Normalises input to E.164 into out (size len, PHONE_E164_MAX suffices)
 * using default_region for national numbers (may be NULL or "" when
 * input is international). Returns 0, DN_ERR_INVALID with the reason in
 * err (not a number, too short, too long, invalid for its region, unknown
 * region), or DN_ERR_TOO_LARGE if out is too small. err may be NULL.
 */
int phone_normalize(const char *input, const char *default_region, char *out,
		    size_t len, char *err, size_t errlen);

/*
 * Writes into out (size len) an example valid mobile number of region in
 * E.164, for generated sample data. Returns 0 or DN_ERR_INVALID if the
 * region is unknown or has no example.
 */
int phone_example_mobile(const char *region, char *out, size_t len);

/* Whether region (ISO 3166-1 alpha-2, upper case) is one libphonenumber
 * can read national numbers of. NULL or "" gives false. */
int phone_region_supported(const char *region);

/* Region (ISO 3166-1 alpha-2) of a valid E.164 number into out (size >= 3);
 * returns 0 or DN_ERR_INVALID. */
int phone_region(const char *e164, char *out, size_t len);

#ifdef __cplusplus
}
#endif

#endif
