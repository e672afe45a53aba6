/* config.c: loading and checking settings. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#define CONFIG_VALUE_MAX 4096
#define CONFIG_LINE_MAX	 8192

struct config_value {
	const struct config_key *key;
	char *text;
	int64_t number; /* int, bool or instant */
};

struct config {
	struct config_value *values;
	size_t count;
};

const struct config_key config_common_keys[] = {
	{ "DUNNING_KAFKA_BROKERS", CONFIG_STRING, "127.0.0.1:9092", 0, 0, NULL,
	  false, false, "Kafka bootstrap servers, comma separated" },
	{ "DUNNING_KAFKA_PARTITIONS", CONFIG_INT, "6", 1, 1024, NULL, false,
	  false, "partition count of every product topic (local broker)" },
	{ "DUNNING_REDIS_URL", CONFIG_STRING, "redis://127.0.0.1:6379", 0, 0,
	  NULL, true, false,
	  "Redis server, redis://[[user]:password@]host:port[/db]" },
	{ "DUNNING_REDIS_TIMEOUT_MS", CONFIG_INT, "2000", 10, 600000, NULL,
	  false, false, "Redis connect and command timeout" },
	{ "DUNNING_TENANT", CONFIG_STRING, "demo", 0, 0, NULL, false, false,
	  "default tenant for tools that import or generate data" },
	{ "DUNNING_TOPIC_INVOICE_EVENTS", CONFIG_STRING, "invoice.events", 0, 0,
	  NULL, false, false, "topic of invoice and customer events" },
	{ "DUNNING_TOPIC_WHATSAPP_SEND", CONFIG_STRING, "whatsapp.send", 0, 0,
	  NULL, false, false, "topic of send commands" },
	{ "DUNNING_TOPIC_WHATSAPP_EVENTS", CONFIG_STRING, "whatsapp.events", 0,
	  0, NULL, false, false, "topic of message events" },
	{ "DUNNING_TOPIC_COLLECTIONS_TASKS", CONFIG_STRING, "collections.tasks",
	  0, 0, NULL, false, false, "topic of collector tasks" },
	{ "DUNNING_TOPIC_DEADLETTER", CONFIG_STRING, "dunning.deadletter", 0, 0,
	  NULL, false, false, "topic of records that could not be processed" },
	{ "DUNNING_CLOCK", CONFIG_CHOICE, "real", 0, 0, "real|simulated", false,
	  false, "real time, or simulated from a start instant and a speed" },
	{ "DUNNING_CLOCK_START", CONFIG_INSTANT, "now", 0, 0, NULL, false,
	  false, "simulated clock: the simulated instant at the anchor" },
	{ "DUNNING_CLOCK_ANCHOR", CONFIG_INSTANT, "now", 0, 0, NULL, false,
	  false,
	  "simulated clock: the real instant at which it reads START; "
	  "give every process the same value" },
	{ "DUNNING_CLOCK_SPEED", CONFIG_INT, "1", 1, 1000000, NULL, false,
	  false, "simulated clock: simulated seconds per real second" },
	{ "DUNNING_LOG_LEVEL", CONFIG_CHOICE, "info", 0, 0,
	  "error|warn|notice|info|debug", false, false, "most verbose level" },
	CONFIG_KEY_END,
};

static int64_t now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int config_parse_instant(const char *text, int64_t *out_ms)
{
	struct tm tm;
	const char *end;
	int64_t ms = 0;
	int year, month, day;
	time_t secs;

	if (strcmp(text, "now") == 0) {
		*out_ms = now_ms();
		return DN_OK;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return DN_ERR_INVALID;
	if (*end == '.') {
		int digits = 0;

		for (end++; *end >= '0' && *end <= '9'; end++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*end - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (strcmp(end, "Z") != 0)
		return DN_ERR_INVALID;
	year = tm.tm_year;
	month = tm.tm_mon;
	day = tm.tm_mday;
	secs = timegm(&tm);
	/* timegm normalises 30 February to 2 March: refuse such dates. */
	if (secs == (time_t)-1 || tm.tm_year != year || tm.tm_mon != month ||
	    tm.tm_mday != day)
		return DN_ERR_INVALID;
	*out_ms = (int64_t)secs * 1000 + ms;
	return DN_OK;
}

static int parse_bool(const char *text, int64_t *out)
{
	static const char *const truths[] = { "true", "yes", "on", "1" };
	static const char *const lies[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(text, truths[i]) == 0) {
			*out = 1;
			return DN_OK;
		}
		if (strcasecmp(text, lies[i]) == 0) {
			*out = 0;
			return DN_OK;
		}
	}
	return DN_ERR_INVALID;
}

static int choice_allowed(const char *choices, const char *text)
{
	size_t n = strlen(text);
	const char *p = choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, text, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* Checks text against key and stores it in value. */
static int value_set(struct config_value *value, const char *text, char *err,
		     size_t errlen)
{
	const struct config_key *key = value->key;
	const char *shown = key->secret ? "(secret)" : text;
	char *copy, *end;
	int64_t number = 0;

	if (strlen(text) > CONFIG_VALUE_MAX)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "%s: value is longer than %d bytes", key->name,
			       CONFIG_VALUE_MAX);
	switch (key->type) {
	case CONFIG_INT:
		errno = 0;
		number = strtoll(text, &end, 10);
		if (errno || end == text || *end || number < key->min ||
		    number > key->max)
			return dn_fail(
				DN_ERR_CONFIG, err, errlen,
				"%s=\"%s\": expected a whole number from "
				"%" PRId64 " to %" PRId64,
				key->name, shown, key->min, key->max);
		break;
	case CONFIG_BOOL:
		if (parse_bool(text, &number))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "%s=\"%s\": expected true or false "
				       "(also yes/no, on/off, 1/0)",
				       key->name, shown);
		break;
	case CONFIG_INSTANT:
		if (config_parse_instant(text, &number))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "%s=\"%s\": expected a UTC instant like "
				       "2026-01-31T09:00:00Z, or now",
				       key->name, shown);
		break;
	case CONFIG_CHOICE:
		if (!choice_allowed(key->choices, text))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "%s=\"%s\": expected one of %s",
				       key->name, shown, key->choices);
		break;
	case CONFIG_STRING:
		break;
	}
	copy = strdup(text);
	if (!copy)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "%s: out of memory",
			       key->name);
	free(value->text);
	value->text = copy;
	value->number = number;
	return DN_OK;
}

static struct config_value *value_find(const struct config *cfg,
				       const char *name)
{
	size_t i;

	for (i = 0; i < cfg->count; i++)
		if (strcmp(cfg->values[i].key->name, name) == 0)
			return &cfg->values[i];
	return NULL;
}

/* Reads a secret from the file named by NAME_FILE; strips the line end.
 * A file that does not fit in out is refused: cut short, it would be a
 * wrong secret that nothing reports. */
static int secret_from_file(const char *name, const char *path, char *out,
			    size_t outlen, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	size_t n;
	int more;

	if (!f)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "%s_FILE=\"%s\": cannot open: %s", name, path,
			       strerror(errno));
	n = fread(out, 1, outlen - 1, f);
	more = fgetc(f) != EOF;
	fclose(f);
	if (more)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "%s_FILE=\"%s\": value is longer than %d bytes",
			       name, path, CONFIG_VALUE_MAX);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	return DN_OK;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	char *start = s;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
			 s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (*start == ' ' || *start == '\t')
		start++;
	memmove(s, start, strlen(start) + 1);
}

/* Applies NAME=value lines of the file; unknown names are errors, since a
 * misspelt key would otherwise silently keep its default. */
static int load_file(struct config *cfg, const char *path, char *err,
		     size_t errlen)
{
	char line[CONFIG_LINE_MAX];
	FILE *f = fopen(path, "r");
	int lineno = 0, rc = DN_OK;

	if (!f)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_CONFIG_FILE=\"%s\": cannot open: %s",
			       path, strerror(errno));
	while (rc == DN_OK && fgets(line, sizeof(line), f)) {
		struct config_value *value;
		char *eq;

		lineno++;
		/* The rest of a longer line would be read as a line of its
		 * own: a commented-out setting could come back to life. */
		if (!strchr(line, '\n') && !feof(f)) {
			rc = dn_fail(DN_ERR_CONFIG, err, errlen,
				     "%s:%d: line longer than %d bytes", path,
				     lineno, CONFIG_LINE_MAX - 2);
			break;
		}
		trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		/* A file a shell can source too: "export NAME=value". */
		if (strncmp(line, "export ", 7) == 0)
			memmove(line, line + 7, strlen(line + 7) + 1);
		trim(line);
		eq = strchr(line, '=');
		if (!eq) {
			rc = dn_fail(DN_ERR_CONFIG, err, errlen,
				     "%s:%d: expected NAME=value", path,
				     lineno);
			break;
		}
		*eq = '\0';
		trim(line);
		value = value_find(cfg, line);
		if (!value) {
			rc = dn_fail(
				DN_ERR_CONFIG, err, errlen,
				"%s:%d: unknown setting %s: not one this "
				"program reads (see docs/configuration.md)",
				path, lineno, line);
			break;
		}
		trim(eq + 1);
		rc = value_set(value, eq + 1, err, errlen);
	}
	fclose(f);
	return rc;
}

static int load_env(struct config *cfg, char *err, size_t errlen)
{
	char name[256], secret[CONFIG_VALUE_MAX + 3]; /* room for "\r\n" */
	size_t i;
	int rc;

	for (i = 0; i < cfg->count; i++) {
		struct config_value *value = &cfg->values[i];
		const char *text = getenv(value->key->name);

		if (!text && value->key->secret) {
			snprintf(name, sizeof(name), "%s_FILE",
				 value->key->name);
			if (getenv(name)) {
				rc = secret_from_file(
					value->key->name, getenv(name), secret,
					sizeof(secret), err, errlen);
				if (rc)
					return rc;
				text = secret;
			}
		}
		if (text && (rc = value_set(value, text, err, errlen)))
			return rc;
	}
	return DN_OK;
}

static int add_defaults(struct config *cfg,
			const struct config_key *const *tables, char *err,
			size_t errlen)
{
	size_t n = 0, t;
	const struct config_key *key;
	int rc;

	for (t = 0; tables[t]; t++)
		for (key = tables[t]; key->name; key++)
			n++;
	cfg->values = calloc(n ? n : 1, sizeof(*cfg->values));
	if (!cfg->values)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	for (t = 0; tables[t]; t++) {
		for (key = tables[t]; key->name; key++) {
			struct config_value *value;

			if (value_find(cfg, key->name))
				continue; /* shared by two tables */
			value = &cfg->values[cfg->count++];
			value->key = key;
			/* No default reads as empty, whatever the type: ""
			 * is not a number, so it is not checked. */
			if (!key->default_value)
				value->text = strdup("");
			else if ((rc = value_set(value, key->default_value, err,
						 errlen)))
				return rc;
			if (!value->text)
				return dn_fail(DN_ERR_NOMEM, err, errlen,
					       "out of memory");
		}
	}
	return DN_OK;
}

static int check_required(const struct config *cfg, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < cfg->count; i++)
		if (cfg->values[i].key->required &&
		    cfg->values[i].text[0] == '\0')
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "%s is required: %s",
				       cfg->values[i].key->name,
				       cfg->values[i].key->help);
	return DN_OK;
}

static void usage_key(FILE *out, const struct config_key *key)
{
	fprintf(out, "  %s", key->name);
	if (key->type == CONFIG_INT)
		fprintf(out, " (%" PRId64 " to %" PRId64 ")", key->min,
			key->max);
	else if (key->type == CONFIG_CHOICE)
		fprintf(out, " (%s)", key->choices);
	if (key->required)
		fprintf(out, ", required");
	else if (key->default_value && key->default_value[0])
		fprintf(out, ", default %s", key->default_value);
	fprintf(out, "\n      %s%s\n", key->help ? key->help : "",
		key->secret ? " (secret: may be given as NAME_FILE)" : "");
}

int config_args(int argc, char **argv, const struct config_key *const *tables,
		const char *about, FILE *out, FILE *errout)
{
	const char *program = argc > 0 ? argv[0] : "program";
	const struct config_key *key;
	size_t t;

	if (argc <= 1)
		return -1;
	if (argc > 2 || (strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))) {
		fprintf(errout,
			"%s: unexpected argument \"%.64s\": this program takes "
			"none, only settings (try --help)\n",
			program, argv[1]);
		return 2;
	}
	fprintf(out,
		"usage: %s\n%s\n\nSettings, from the environment or the file "
		"named by DUNNING_CONFIG_FILE\n(docs/configuration.md):\n",
		program, about);
	for (t = 0; tables[t]; t++)
		for (key = tables[t]; key->name; key++)
			usage_key(out, key);
	return 0;
}

struct config *config_load(const struct config_key *const *tables, char *err,
			   size_t errlen)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	const char *file = getenv("DUNNING_CONFIG_FILE");
	int rc;

	if (!cfg) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	rc = add_defaults(cfg, tables, err, errlen);
	if (!rc && file && *file)
		rc = load_file(cfg, file, err, errlen);
	if (!rc)
		rc = load_env(cfg, err, errlen);
	if (!rc)
		rc = check_required(cfg, err, errlen);
	if (rc) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

void config_free(struct config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->count; i++)
		free(cfg->values[i].text);
	free(cfg->values);
	free(cfg);
}

int config_set(struct config *cfg, const char *name, const char *value,
	       char *err, size_t errlen)
{
	struct config_value *slot = value_find(cfg, name);

	if (!slot)
		return dn_fail(DN_ERR_CONFIG, err, errlen, "unknown setting %s",
			       name);
	return value_set(slot, value, err, errlen);
}

static const struct config_value *value_get(const struct config *cfg,
					    const char *name)
{
	const struct config_value *value = value_find(cfg, name);

	if (!value) {
		fprintf(stderr, "config: %s was never declared\n", name);
		abort();
	}
	return value;
}

const char *config_str(const struct config *cfg, const char *name)
{
	return value_get(cfg, name)->text;
}

int64_t config_int(const struct config *cfg, const char *name)
{
	return value_get(cfg, name)->number;
}

bool config_bool(const struct config *cfg, const char *name)
{
	return value_get(cfg, name)->number != 0;
}

int64_t config_instant_ms(const struct config *cfg, const char *name)
{
	return value_get(cfg, name)->number;
}
