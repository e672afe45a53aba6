/* sink.c: publish, print or replay events; reject file; counters. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "sink.h"

#include "csv.h"
#include "event.h"
#include "jsonl.h"
#include "progress.h"

#include "clock.h"
#include "config.h"
#include "error.h"
#include "kafka.h"
#include "logger.h"
#include "shutdown.h"

#include "dunning/v1/ledger.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Delivery failures logged one by one before only counting them. */
#define SINK_FAILURES_LOGGED 10

/* Rejections logged one by one; the reject file holds every one. */
#define SINK_REJECTS_LOGGED 20

/* One event kept for the replay: packed without its publication time. */
struct kept_event {
	int64_t occurred_at_ms;
	uint64_t sequence; /* reading order, to keep ties stable */
	size_t len;
	uint8_t *wire; /* len bytes of event, then the key and its NUL */
};

struct sink {
	const struct config *cfg;
	struct sink_options opts;
	struct kafka_producer *producer;
	const char *topic;
	FILE *rejects;
	struct progress progress;
	struct sink_summary counts;
	uint64_t failures_logged;

	struct kept_event *kept;
	size_t kept_count, kept_cap;
};

static void on_delivery(void *ctx, void *opaque, int err, const char *errstr)
{
	struct sink *s = ctx;

	(void)opaque;
	if (!err)
		return;
	if (s->failures_logged++ < SINK_FAILURES_LOGGED)
		log_error("KAFKA", "event not acknowledged: %s", errstr);
}

struct sink *sink_new(const struct config *cfg, const struct sink_options *opts,
		      char *err, size_t errlen)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->opts = *opts;
	s->topic = config_str(cfg, "DUNNING_TOPIC_INVOICE_EVENTS");
	progress_init(&s->progress, opts->progress);

	/* A reject file left by an earlier run would tell a wrong story. */
	if (opts->reject_path && *opts->reject_path)
		unlink(opts->reject_path);
	if (!opts->dry_run) {
		s->producer = kafka_producer_new(cfg, "dunning-producer", NULL,
						 err, errlen);
		if (!s->producer) {
			free(s);
			return NULL;
		}
		kafka_producer_on_delivery(s->producer, on_delivery, s);
	}
	return s;
}

void sink_free(struct sink *s)
{
	size_t i;

	if (!s)
		return;
	progress_release(&s->progress);
	kafka_producer_free(s->producer);
	if (s->rejects)
		fclose(s->rejects);
	for (i = 0; i < s->kept_count; i++)
		free(s->kept[i].wire);
	free(s->kept);
	free(s);
}

/* Writes one CSV field, quoted when it holds a delimiter or quote. */
static void write_csv_field(FILE *out, const char *text, bool last)
{
	const char *c;

	if (strpbrk(text, ",\"\r\n")) {
		fputc('"', out);
		for (c = text; *c; c++) {
			if (*c == '"')
				fputc('"', out);
			fputc(*c, out);
		}
		fputc('"', out);
	} else {
		fputs(text, out);
	}
	fputc(last ? '\n' : ',', out);
}

/* Appends one line to the reject file, opening it on first use. */
static void write_reject(struct sink *s, const char *file, const char *location,
			 const char *field, const char *reason)
{
	if (!s->rejects && s->opts.reject_path && *s->opts.reject_path) {
		s->rejects = fopen(s->opts.reject_path, "w");
		if (!s->rejects) {
			log_error("IMPORT", "cannot write reject file %s",
				  s->opts.reject_path);
			s->opts.reject_path = NULL;
			return;
		}
		fputs("file,location,field,reason\n", s->rejects);
	}
	if (!s->rejects)
		return;
	write_csv_field(s->rejects, file, false);
	write_csv_field(s->rejects, location, false);
	write_csv_field(s->rejects, field ? field : "", false);
	write_csv_field(s->rejects, reason, true);
}

void sink_reject(struct sink *s, const char *file, const char *location,
		 const char *field, const char *reason)
{
	/* The reject file has them all; the log only the first few. */
	s->counts.rejected++;
	if (s->counts.rejected <= SINK_REJECTS_LOGGED)
		log_warn("IMPORT", "rejected file=%s at=%s field=%s: %s", file,
			 location, field && *field ? field : "-", reason);
	if (s->counts.rejected == SINK_REJECTS_LOGGED)
		log_warn("IMPORT",
			 "further rejections go to the reject file only");
	write_reject(s, file, location, field, reason);
}

void sink_reject_file(struct sink *s, const char *file, const char *reason)
{
	write_reject(s, file, "file", "", reason);
}

void sink_count_read(struct sink *s)
{
	s->counts.read++;
}

void sink_progress(struct sink *s, long long done, long long total)
{
	progress_update(&s->progress, s->counts.read, done, total);
}

/* Prints a packed event as one JSON line. */
static int print_wire(struct sink *s, const uint8_t *wire, size_t len)
{
	Dunning__V1__LedgerEvent *ev;
	char *line;

	ev = dunning__v1__ledger_event__unpack(NULL, len, wire);
	if (!ev)
		return DN_ERR_DECODE;
	line = jsonl_render(ev);
	dunning__v1__ledger_event__free_unpacked(ev, NULL);
	if (!line)
		return DN_ERR_NOMEM;
	fputs(line, s->opts.out);
	fputc('\n', s->opts.out);
	free(line);
	return DN_OK;
}

/* Publishes or prints one packed event. */
static int emit(struct sink *s, const char *key, const uint8_t *wire,
		size_t len)
{
	char err[256];
	int rc;

	if (s->opts.dry_run) {
		rc = print_wire(s, wire, len);
	} else {
		rc = kafka_producer_send(s->producer, s->topic, key,
					 strlen(key), wire, len, NULL, err,
					 sizeof(err));
		if (rc)
			log_error("KAFKA", "cannot queue event: %s", err);
	}
	if (!rc)
		s->counts.published++;
	return rc;
}

static int keep(struct sink *s, const char *key, struct event *ev)
{
	uint8_t wire[EVENT_WIRE_MAX];
	struct kept_event *k;
	size_t len;

	if (s->kept_count == s->kept_cap) {
		size_t cap = s->kept_cap ? s->kept_cap * 2 : 1024;
		struct kept_event *grown = realloc(s->kept, cap * sizeof(*k));

		if (!grown)
			return DN_ERR_NOMEM;
		s->kept = grown;
		s->kept_cap = cap;
	}
	len = event_pack(ev, 0, wire, sizeof(wire));
	if (!len)
		return DN_ERR_TOO_LARGE;
	k = &s->kept[s->kept_count];
	k->wire = malloc(len + strlen(key) + 1);
	if (!k->wire)
		return DN_ERR_NOMEM;
	memcpy(k->wire, wire, len);
	memcpy(k->wire + len, key, strlen(key) + 1);
	k->len = len;
	k->occurred_at_ms = ev->occurred_at_ms;
	k->sequence = s->kept_count;
	s->kept_count++;
	return DN_OK;
}

/* Replaces the bytes of text that are not UTF-8 with '?'. */
static void make_utf8(char *text)
{
	size_t len = strlen(text), pos = 0;

	while (pos < len) {
		pos += csv_utf8_check(text + pos, len - pos);
		if (pos < len)
			text[pos++] = '?';
	}
}

int sink_event(struct sink *s, struct event *ev)
{
	uint8_t wire[EVENT_WIRE_MAX];
	char key[200];
	size_t len;
	int rc;

	make_utf8(ev->origin);

	if (!ev->event_id[0])
		event_assign_id(ev);
	rc = kafka_key_format(key, sizeof(key), ev->tenant, ev->customer_id);
	if (!rc && s->opts.replay)
		rc = keep(s, key, ev);
	else if (!rc) {
		len = event_pack(ev, clock_now_ms(), wire, sizeof(wire));
		rc = len ? emit(s, key, wire, len) : DN_ERR_TOO_LARGE;
	}
	if (rc)
		sink_reject(s, ev->origin, ev->event_id, "", dn_strerror(rc));
	return rc;
}

static int kept_compare(const void *a, const void *b)
{
	const struct kept_event *x = a, *y = b;

	if (x->occurred_at_ms != y->occurred_at_ms)
		return x->occurred_at_ms < y->occurred_at_ms ? -1 : 1;
	return x->sequence < y->sequence ? -1 : x->sequence > y->sequence;
}

/* Sleeps until the product clock reaches instant, serving delivery
 * reports meanwhile. Returns false if a stop was requested. */
static bool wait_for_clock(struct sink *s, int64_t instant)
{
	int64_t delay;

	while ((delay = clock_real_delay_ms(instant)) > 0) {
		if (shutdown_requested())
			return false;
		if (delay > 200)
			delay = 200;
		if (s->producer)
			kafka_producer_poll(s->producer, (int)delay);
		else
			usleep((useconds_t)delay * 1000);
	}
	return !shutdown_requested();
}

/* Publishes one kept event stamped with the current product time. */
static int replay_one(struct sink *s, const struct kept_event *k)
{
	Dunning__V1__LedgerEvent *ev;
	uint8_t wire[EVENT_WIRE_MAX];
	size_t len = 0;

	ev = dunning__v1__ledger_event__unpack(NULL, k->len, k->wire);
	if (!ev)
		return DN_ERR_DECODE;
	ev->published_at_ms = clock_now_ms();
	if (dunning__v1__ledger_event__get_packed_size(ev) <= sizeof(wire))
		len = dunning__v1__ledger_event__pack(ev, wire);
	dunning__v1__ledger_event__free_unpacked(ev, NULL);
	return len ? emit(s, (const char *)k->wire + k->len, wire, len)
		   : DN_ERR_TOO_LARGE;
}

/* Publishes the kept events in time order as the clock reaches them. */
static int replay(struct sink *s)
{
	int64_t day = INT64_MIN;
	char when[40];
	size_t i;

	qsort(s->kept, s->kept_count, sizeof(s->kept[0]), kept_compare);
	log_info("IMPORT", "replay starting events=%zu clock=%s", s->kept_count,
		 event_format_instant(clock_now_ms(), when, sizeof(when)));
	for (i = 0; i < s->kept_count; i++) {
		const struct kept_event *k = &s->kept[i];

		if (!wait_for_clock(s, k->occurred_at_ms)) {
			log_warn("IMPORT",
				 "replay stopped published=%zu left=%zu", i,
				 s->kept_count - i);
			return DN_ERR_UNAVAILABLE;
		}
		if (replay_one(s, k))
			sink_reject(s, "replay", (const char *)k->wire + k->len,
				    "", "cannot publish");

		/* A line per simulated day, for logs; a bar for people. */
		if (k->occurred_at_ms / 86400000 != day) {
			day = k->occurred_at_ms / 86400000;
			log_info("IMPORT",
				 "replay reached %.10s published=%llu",
				 event_format_instant(k->occurred_at_ms, when,
						      sizeof(when)),
				 (unsigned long long)s->counts.published);
		}
		progress_replay(&s->progress, i + 1, s->kept_count,
				clock_now_ms());
	}
	return DN_OK;
}

int sink_finish(struct sink *s, int timeout_ms)
{
	int rc = DN_OK;

	if (s->opts.replay)
		rc = replay(s);
	progress_release(&s->progress);
	if (s->opts.dry_run)
		fflush(s->opts.out);
	if (s->producer && kafka_producer_flush(s->producer, timeout_ms))
		rc = rc ? rc : DN_ERR_TIMEOUT;
	if (s->rejects)
		fflush(s->rejects);
	return rc;
}

void sink_summary(const struct sink *s, struct sink_summary *out)
{
	*out = s->counts;
	if (s->producer) {
		out->acknowledged = kafka_producer_delivered(s->producer);
		out->failed = kafka_producer_failed(s->producer);
	} else {
		out->acknowledged = 0;
		out->failed = 0;
	}
}
