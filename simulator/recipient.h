/* recipient.h: recipient phone numbers and the wa_id WhatsApp gives them. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Cloud API takes "to" in any dialable form ("+34 600 12 34 56",
 * "34600123456") and answers with contacts[].input (what was sent) and
 * contacts[].wa_id (the account's WhatsApp id). The id is not always the
 * number sent, and inbound messages come "from" the id, so a gateway has
 * to map it back. The simulator reproduces the three well-known cases:
 *
 * - Brazil: a mobile sent with the ninth digit (+55 DD 9XXXXXXXX) has an
 *   id without it (55DDXXXXXXXX), as accounts created before the ninth
 *   digit do;
 * - Mexico: a mobile sent as +52 plus ten digits has the id 521 plus ten;
 * - Argentina: a mobile sent as +54 plus ten digits has the id 549 plus
 *   ten.
 */
#ifndef DUNNING_SIM_RECIPIENT_H
#define DUNNING_SIM_RECIPIENT_H

#include <stddef.h>

/* Longest E.164 number: 15 digits. */
#define RECIPIENT_DIGITS_MAX 15

/*
 * Reduces a dialable number to its digits: an optional leading '+', then
 * digits with spaces, dashes, dots and parentheses between them. Writes
 * the digits (no '+') into digits (size len, at least 16). Returns 0, or
 * DN_ERR_INVALID when anything else appears, when there are fewer than 8
 * or more than 15 digits, or when the country code starts with 0.
 */
int recipient_digits(const char *to, char *digits, size_t len);

/* Writes the wa_id of a number given as digits into out (size len, at
 * least 17). Returns 0 or DN_ERR_TOO_LARGE. */
int recipient_wa_id(const char *digits, char *out, size_t len);

#endif
