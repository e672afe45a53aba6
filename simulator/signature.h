/* signature.h: the X-Hub-Signature-256 header of webhook calls. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Meta signs every webhook POST with "sha256=" followed by the lower-case
 * hex HMAC-SHA256 of the raw body, keyed with the app secret. The gateway
 * recomputes it over the exact bytes it received.
 */
#ifndef DUNNING_SIM_SIGNATURE_H
#define DUNNING_SIM_SIGNATURE_H

#include <stddef.h>

/* "sha256=" + 64 hex digits + NUL. */
#define SIGNATURE_HEADER_LEN 72

/*
 * Writes the header value for body (len bytes) signed with secret into out
 * (size at least SIGNATURE_HEADER_LEN). Returns 0, or DN_ERR_INVALID when
 * out is too small or OpenSSL fails.
 */
int signature_header(const char *secret, const void *body, size_t len,
		     char *out, size_t outlen);

/* Whether header is the correct signature of body; compares in constant
 * time. */
int signature_verify(const char *secret, const void *body, size_t len,
		     const char *header);

#endif
