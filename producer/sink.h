/* sink.h: where imported events go: Kafka, stdout, or a timed replay. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Readers hand every event and every rejected row to one sink, which
 *
 * - publishes events to invoice.events under the key "tenant/customer_id"
 *   through lib/kafka.h, or prints them as JSON lines (dry run);
 * - in replay mode keeps them, sorts them by occurred_at and publishes
 *   each when the product clock reaches it (ties keep reading order);
 * - writes rejected rows to the reject file as CSV
 *   (file,location,field,reason), opened on the first rejection (a
 *   file of that name from an earlier run is removed at the start);
 * - counts rows read, events published, rows rejected and deliveries
 *   acknowledged, for the summary and the exit status.
 *
 * Not thread-safe: one sink per import, used from one thread.
 */
#ifndef DUNNING_PRODUCER_SINK_H
#define DUNNING_PRODUCER_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct config;
struct event;
struct sink;

struct sink_options {
	bool dry_run;		 /* JSON lines on out instead of Kafka */
	bool replay;		 /* publish on the product clock */
	const char *reject_path; /* reject file; borrowed */
	FILE *out;		 /* dry-run output; borrowed */
	bool progress;		 /* draw a progress bar on stderr */
};

struct sink_summary {
	uint64_t read;	       /* rows and documents read */
	uint64_t published;    /* events handed to Kafka or printed */
	uint64_t rejected;     /* rows, documents or parts rejected */
	uint64_t acknowledged; /* deliveries confirmed by Kafka */
	uint64_t failed;       /* deliveries Kafka reported as failed */
};

/*
 * Creates a sink. cfg is borrowed for the sink's life (brokers, topic,
 * tenant). Connects to Kafka unless opts->dry_run. Returns NULL with the
 * reason in err.
 */
struct sink *sink_new(const struct config *cfg, const struct sink_options *opts,
		      char *err, size_t errlen);

/* Frees the sink (without waiting for deliveries: call sink_finish).
 * Accepts NULL. */
void sink_free(struct sink *s);

/*
 * Takes one event: assigns its id if it has none, then publishes, prints
 * or keeps it for the replay. ev is copied as needed; the caller keeps it.
 * Bytes of ev->origin that are not UTF-8 (a Latin-1 file name) become '?',
 * as every string on the wire must be UTF-8. Returns 0, or an error (Kafka
 * refused the message, out of memory) after counting it as rejected.
 */
int sink_event(struct sink *s, struct event *ev);

/*
 * Records a rejected row, document or part of one: file, location ("line
 * 17" or an XPath), field (may be empty) and reason.
 */
void sink_reject(struct sink *s, const char *file, const char *location,
		 const char *field, const char *reason);

/*
 * Records in the reject file a file that could not be read at all (no
 * header, a required column missing, not UTF-8): location "file", reason.
 * Not counted as a rejected row; the caller counts unreadable files.
 */
void sink_reject_file(struct sink *s, const char *file, const char *reason);

/* Counts one row or document read. */
void sink_count_read(struct sink *s);

/* Reports progress through the current file: bytes done of total. */
void sink_progress(struct sink *s, long long done, long long total);

/*
 * Replays the kept events if in replay mode, then waits up to timeout_ms
 * for every delivery report. Returns 0, DN_ERR_TIMEOUT if reports are
 * missing, or DN_ERR_UNAVAILABLE if a stop was requested during replay.
 */
int sink_finish(struct sink *s, int timeout_ms);

void sink_summary(const struct sink *s, struct sink_summary *out);

#endif
