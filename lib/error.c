/* error.c: descriptions of the product's error codes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const descriptions[] = {
	[DN_OK] = "success",
	[DN_ERR_INVALID] = "invalid value",
	[DN_ERR_CONFIG] = "invalid configuration",
	[DN_ERR_NOMEM] = "out of memory",
	[DN_ERR_IO] = "input/output error",
	[DN_ERR_KAFKA] = "kafka error",
	[DN_ERR_REDIS] = "redis error",
	[DN_ERR_DECODE] = "cannot decode input",
	[DN_ERR_TOO_LARGE] = "input too large",
	[DN_ERR_TIMEOUT] = "timed out",
	[DN_ERR_NOT_FOUND] = "not found",
	[DN_ERR_HTTP] = "http error",
	[DN_ERR_UNAVAILABLE] = "temporarily unavailable",
	[DN_ERR_PERMANENT] = "permanent failure",
};

const char *dn_strerror(int err)
{
	if (err < 0 ||
	    (size_t)err >= sizeof(descriptions) / sizeof(*descriptions) ||
	    !descriptions[err])
		return "unknown error";
	return descriptions[err];
}

int dn_fail(int err, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || len == 0)
		return err;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return err;
}
