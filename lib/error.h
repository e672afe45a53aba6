/* error.h: the product's one error type. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every fallible function of the product returns an int that is zero on
 * success and one of enum dn_err otherwise. Details (which key, which
 * file, which line) go into a caller-supplied buffer or an object's sticky
 * error; lower layers never print. The loop that owns the work logs once.
 */
#ifndef DUNNING_ERROR_H
#define DUNNING_ERROR_H

#include <stddef.h>

enum dn_err {
	DN_OK = 0,
	DN_ERR_INVALID,	    /* a value or argument is not acceptable */
	DN_ERR_CONFIG,	    /* configuration is malformed */
	DN_ERR_NOMEM,	    /* allocation failed */
	DN_ERR_IO,	    /* a file or socket operation failed */
	DN_ERR_KAFKA,	    /* Kafka client or broker error */
	DN_ERR_REDIS,	    /* Redis error or unreachable server */
	DN_ERR_DECODE,	    /* input could not be decoded */
	DN_ERR_TOO_LARGE,   /* input exceeds its documented maximum */
	DN_ERR_TIMEOUT,	    /* an operation did not finish in time */
	DN_ERR_NOT_FOUND,   /* the thing asked for does not exist */
	DN_ERR_HTTP,	    /* HTTP client or server error */
	DN_ERR_UNAVAILABLE, /* a dependency refuses work for now; retry later */
	DN_ERR_PERMANENT,   /* the request can never succeed as it is */
};

/* Returns a short lower-case description of err; never NULL. */
const char *dn_strerror(int err);

/*
 * Formats into buf (of size len) like snprintf and returns err, so that a
 * failing path reads `return dn_fail(err, buf, len, "...", ...);`. buf may
 * be NULL, then nothing is written.
 */
int dn_fail(int err, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
