/* logger.c: the product's single logger. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "logger.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static const char *log_program = "dunning";
static enum log_level log_max_level = LOG_LEVEL_INFO;

static const struct {
	const char *name;
	enum log_level level;
} level_names[] = {
	{ "error", LOG_LEVEL_ERROR },	{ "warn", LOG_LEVEL_WARN },
	{ "notice", LOG_LEVEL_NOTICE }, { "info", LOG_LEVEL_INFO },
	{ "debug", LOG_LEVEL_DEBUG },
};

void logger_init(const char *program, enum log_level max_level)
{
	log_program = program;
	log_max_level = max_level;
}

int logger_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
		if (strcmp(name, level_names[i].name) == 0)
			return (int)level_names[i].level;
	return -1;
}

int logger_enabled(enum log_level level)
{
	return level <= log_max_level;
}

static const char *level_name(enum log_level level)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(*level_names); i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "info";
}

/* Messages carry text from outside (replies, error strings): a line
 * break or terminal escape in it must not forge or hide a line. */
static void blank_controls(char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
			text[i] = ' ';
}

void logger_write(enum log_level level, const char *facility, const char *fmt,
		  ...)
{
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	size_t used;
	va_list ap;
	int n;

	if (!logger_enabled(level))
		return;

	/* Real time, not the simulated clock: logs are for operators. */
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	used = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + used, sizeof(line) - used, ".%03dZ %s %s %s ",
		     (int)(tv.tv_usec / 1000), level_name(level), log_program,
		     facility);
	if (n > 0)
		used += (size_t)n < sizeof(line) - used
				? (size_t)n
				: sizeof(line) - used - 1;

	va_start(ap, fmt);
	n = vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	va_end(ap);
	if (n > 0) {
		size_t start = used;

		used += (size_t)n < sizeof(line) - used
				? (size_t)n
				: sizeof(line) - used - 1;
		blank_controls(line + start, used - start);
	}

	/* One write per line keeps lines whole across threads. */
	if (used >= sizeof(line) - 1)
		used = sizeof(line) - 2;
	line[used++] = '\n';
	if (write(STDERR_FILENO, line, used) < 0)
		return;
}

const char *log_mask_phone(const char *phone, char *out, size_t len)
{
	size_t n, i, keep_head;

	if (!out || len == 0)
		return "";
	n = phone ? strlen(phone) : 0;
	if (n < 6 || n + 1 > len) {
		snprintf(out, len, "***");
		return out;
	}
	keep_head = phone[0] == '+' ? 3 : 2;
	for (i = 0; i < n; i++)
		out[i] = (i < keep_head || i >= n - 2) ? phone[i] : '*';
	out[n] = '\0';
	return out;
}

const char *log_mask_name(const char *name, char *out, size_t len)
{
	size_t used = 0;
	int at_word = 1;

	if (!out || len == 0)
		return "";
	out[0] = '\0';
	for (; name && *name && used + 4 < len; name++) {
		unsigned char c = (unsigned char)*name;

		if (c == ' ') {
			at_word = 1;
			continue;
		}
		if (!at_word)
			continue;
		at_word = 0;
		if (used)
			out[used++] = ' ';
		/* Copy the whole first character, even when multibyte. */
		out[used++] = (char)c;
		while ((name[1] & 0xC0) == 0x80 && used + 3 < len)
			out[used++] = *++name;
		out[used++] = '.';
	}
	if (used == 0 && len > 3) {
		memcpy(out, "***", 4);
		return out;
	}
	out[used] = '\0';
	return out;
}
