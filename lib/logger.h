/* logger.h: one line per event, syslog-style levels, key=value fields. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lines go to standard error as
 *
 *   2026-12-04T15:00:00.123Z info worker SCHED reminder emitted invoice=INV-1
 *
 * (real UTC time, level, program, facility, message in lower case, then
 * key=value fields). Safe to call from any thread: a line is written with a
 * single write so lines never interleave. Control characters in the
 * message (line breaks, terminal escapes, which text from outside may
 * carry) are written as spaces, so one line is always one event; a line
 * longer than 2 KB is cut. Phone numbers and names must be
 * passed through the mask helpers below; secrets and payloads are never
 * logged at info level or above.
 */
#ifndef DUNNING_LOGGER_H
#define DUNNING_LOGGER_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 3, /* syslog numbering */
	LOG_LEVEL_WARN = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/*
 * Sets the program name shown on every line and the most verbose level
 * written. program is borrowed and must outlive the logger (a string
 * literal).
 */
void logger_init(const char *program, enum log_level max_level);

/* Parses "error", "warn", "notice", "info" or "debug"; -1 if unknown. */
int logger_level_parse(const char *name);

/* Whether a line at level would be written. */
int logger_enabled(enum log_level level);

/* Writes one line. facility is a short upper-case tag such as "KAFKA". */
void logger_write(enum log_level level, const char *facility, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));

#define log_error(fac, ...)  logger_write(LOG_LEVEL_ERROR, fac, __VA_ARGS__)
#define log_warn(fac, ...)   logger_write(LOG_LEVEL_WARN, fac, __VA_ARGS__)
#define log_notice(fac, ...) logger_write(LOG_LEVEL_NOTICE, fac, __VA_ARGS__)
#define log_info(fac, ...)   logger_write(LOG_LEVEL_INFO, fac, __VA_ARGS__)
#define log_debug(fac, ...)                                                    \
	do {                                                                   \
		if (logger_enabled(LOG_LEVEL_DEBUG))                           \
			logger_write(LOG_LEVEL_DEBUG, fac, __VA_ARGS__);       \
	} while (0)

/*
 * Writes a masked copy of a phone number into out (size len) and returns
 * out: the leading "+" and two digits and the last two digits stay, the
 * rest become '*' ("+34*******78"). NULL or short input gives "***".
 */
const char *log_mask_phone(const char *phone, char *out, size_t len);

/* Masks a person's name to its initials ("J. D."); returns out. */
const char *log_mask_name(const char *name, char *out, size_t len);

#endif
