/* signature.c: HMAC-SHA256 with OpenSSL. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "signature.h"

#include "error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

int signature_header(const char *secret, const void *body, size_t len,
		     char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	unsigned int i;

	if (outlen < SIGNATURE_HEADER_LEN)
		return DN_ERR_INVALID;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac,
		  &mac_len) ||
	    mac_len != 32)
		return DN_ERR_INVALID;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < mac_len; i++) {
		out[7 + 2 * i] = hex[mac[i] >> 4];
		out[8 + 2 * i] = hex[mac[i] & 15];
	}
	out[7 + 2 * mac_len] = '\0';
	return DN_OK;
}

int signature_verify(const char *secret, const void *body, size_t len,
		     const char *header)
{
	char expected[SIGNATURE_HEADER_LEN];

	if (!header || strlen(header) != SIGNATURE_HEADER_LEN - 1)
		return 0;
	if (signature_header(secret, body, len, expected, sizeof(expected)))
		return 0;
	return CRYPTO_memcmp(expected, header, SIGNATURE_HEADER_LEN - 1) == 0;
}
