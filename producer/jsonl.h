/* jsonl.h: ledger events as JSON lines, read and written. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One event per line, for systems that push rather than export and for
 * --dry-run output. The shape mirrors the LedgerEvent message:
 *
 *   {"event_id": "inv-…", "tenant": "demo", "customer_id": "C1",
 *    "occurred_at": "2013-01-02T12:00:00Z",
 *    "invoice_upserted": {"invoice_id": "0000611365", "kind": "invoice",
 *      "issue_date": "2013-01-02", "due_date": "2013-02-01",
 *      "due_date_source": "explicit",
 *      "amount": {"minor_units": 5594, "currency": "USD"}, …}}
 *
 * with exactly one of invoice_upserted, payment_received,
 * invoice_disputed or customer_upserted. On input an amount may instead
 * be {"value": "55.94", "currency": "USD"}, a phone may be national (the
 * default region applies), and event_id may be left out (it is then
 * derived from the content). Lines are at most JSONL_LINE_MAX bytes.
 */
#ifndef DUNNING_PRODUCER_JSONL_H
#define DUNNING_PRODUCER_JSONL_H

#include <stddef.h>

struct Dunning__V1__LedgerEvent;
struct event;
struct import_options;
struct sink;

#define JSONL_LINE_MAX (64 * 1024)

/* Renders ev as one JSON line without newline; caller frees with free().
 * NULL when out of memory. */
char *jsonl_render(const struct Dunning__V1__LedgerEvent *ev);

/*
 * Reads one JSON object into ev. Returns 0 or DN_ERR_DECODE /
 * DN_ERR_INVALID with the field in *field (a static string) and the
 * reason in err.
 */
int jsonl_parse(const char *text, size_t len, const struct import_options *opts,
		struct event *ev, const char **field, char *err, size_t errlen);

/* Imports a JSON-lines file: each good line becomes an event, each bad
 * line a rejection. Returns 0, or DN_ERR_IO if path cannot be read. */
int jsonl_import_file(const char *path, const struct import_options *opts,
		      struct sink *sink, char *err, size_t errlen);

#endif
