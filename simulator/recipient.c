/* recipient.c: dialable numbers to digits, and the wa_id quirks. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "recipient.h"

#include "error.h"

#include <string.h>

int recipient_digits(const char *to, char *digits, size_t len)
{
	size_t n = 0;
	const char *p = to;

	if (len < RECIPIENT_DIGITS_MAX + 1)
		return DN_ERR_INVALID;
	if (*p == '+')
		p++;
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n == RECIPIENT_DIGITS_MAX)
				return DN_ERR_INVALID;
			digits[n++] = *p;
		} else if (!strchr(" -.()", *p)) {
			return DN_ERR_INVALID;
		}
	}
	digits[n] = '\0';
	if (n < 8 || digits[0] == '0')
		return DN_ERR_INVALID;
	return DN_OK;
}

/* Writes prefix, then insert (may be empty), then rest, into out. */
static int wa_id_join(char *out, size_t len, const char *prefix,
		      size_t prefix_len, const char *insert, const char *rest)
{
	size_t need = prefix_len + strlen(insert) + strlen(rest) + 1;

	if (need > len)
		return DN_ERR_TOO_LARGE;
	memcpy(out, prefix, prefix_len);
	memcpy(out + prefix_len, insert, strlen(insert));
	memcpy(out + prefix_len + strlen(insert), rest, strlen(rest) + 1);
	return DN_OK;
}

int recipient_wa_id(const char *digits, char *out, size_t len)
{
	size_t n = strlen(digits);

	/* Brazil: 55, two-digit area code, ninth digit 9, eight digits. */
	if (n == 13 && strncmp(digits, "55", 2) == 0 && digits[4] == '9')
		return wa_id_join(out, len, digits, 4, "", digits + 5);

	/* Mexico: the id carries the old mobile prefix 1 after 52. */
	if (n == 12 && strncmp(digits, "52", 2) == 0)
		return wa_id_join(out, len, digits, 2, "1", digits + 2);

	/* Argentina: the id carries the mobile prefix 9 after 54. */
	if (n == 12 && strncmp(digits, "54", 2) == 0)
		return wa_id_join(out, len, digits, 2, "9", digits + 2);

	return wa_id_join(out, len, digits, n, "", "");
}
