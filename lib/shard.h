/* shard.h: the worker's Redis layout, keys and packed invoice records. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker keeps each Kafka partition's state in its own shard of Redis
 * keys, hash-tagged by the partition so that one shard shares a Redis
 * Cluster slot (docs/redis-keys.md, section Worker, is the full layout):
 *
 *   dn:{pN}:c:<tenant>/<customer>  hash: the customer and all its invoices
 *   dn:{pN}:q, dn:{pN}:lease       delay queue and claimed entries
 *   dn:{pN}:stats                  analytics counters
 *
 * The worker writes the shard; the gateway reads the customer hash just
 * before a call (field SHARD_FIELD_OPT_IN and the invoice records). This
 * module is the one C definition of what both programs need: key formats,
 * field names and the packed invoice record
 *
 *   status|version|schedule_version|due|amount|currency|paid|unanswered|
 *   escalated|steps
 *
 * The Lua scripts that write the shard (worker/apply.lua, commit.lua,
 * claim.lua) must be self-contained for Redis and keep their own copy of
 * this layout: a change here is a change there, and in docs/redis-keys.md.
 *
 * Pure functions, no allocation, safe on any thread.
 */
#ifndef DUNNING_SHARD_H
#define DUNNING_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field of the customer hash holding the opt-in, enum shard_opt_in as a
 * decimal digit. */
#define SHARD_FIELD_OPT_IN "oi"

/* Prefix of an invoice record's field: "i:<invoice id>". */
#define SHARD_FIELD_INVOICE "i:"

/* Longest packed invoice record read back, terminator included. */
#define SHARD_RECORD_MAX 512

/* Buffers of the record's text fields, terminator included. */
#define SHARD_VERSION_MAX	   24
#define SHARD_SCHEDULE_VERSION_MAX 16
#define SHARD_CURRENCY_MAX	   4

/* Values of the opt-in field. */
enum shard_opt_in {
	SHARD_OPT_IN_UNKNOWN = 0,
	SHARD_OPTED_IN = 1,
	SHARD_OPTED_OUT = 2,
};

/* Status letters of an invoice record. */
enum shard_status {
	SHARD_OPEN = 'o',
	SHARD_PAID = 'p',
	SHARD_CANCELLED = 'c',
	SHARD_DISPUTED = 'd',
	SHARD_NOT_DUNNABLE = 'n', /* credit note, zero amount */
	SHARD_PAID_EARLY = 'u',	  /* a payment came before the invoice */
};

/*
 * A packed invoice record, field by field. Text fields longer than their
 * buffer are cut (they are opaque to C: versions are compared as text by
 * the scripts). Numbers that do not parse read as 0.
 */
struct shard_invoice_record {
	char status; /* enum shard_status */
	char version[SHARD_VERSION_MAX];
	char schedule_version[SHARD_SCHEDULE_VERSION_MAX];
	int64_t due;	      /* YYYYMMDD, 0 when not known */
	int64_t amount_minor; /* minor units of currency */
	char currency[SHARD_CURRENCY_MAX];
	int64_t paid_minor; /* paid so far */
	uint32_t unanswered;
	bool escalated;
	char steps[SHARD_RECORD_MAX]; /* "<done>.<last ms>,...", maybe "" */
};

/* Writes "dn:{p<partition>}:<suffix>" into buf (size len). Returns 0 or
 * DN_ERR_TOO_LARGE when it does not fit. */
int shard_key(char *buf, size_t len, int32_t partition, const char *suffix);

/* Writes the customer hash key "dn:{p<partition>}:c:<tenant>/<customer>"
 * into buf (size len). Returns 0 or DN_ERR_TOO_LARGE. */
int shard_customer_key(char *buf, size_t len, int32_t partition,
		       const char *tenant, const char *customer_id);

/* As shard_customer_key, from the joined customer key "<tenant>/<customer>"
 * that queue members carry. */
int shard_customer_key_joined(char *buf, size_t len, int32_t partition,
			      const char *customer_key);

/* Writes the field "i:<invoice id>" of an invoice record into buf (size
 * len). Returns 0 or DN_ERR_TOO_LARGE. */
int shard_invoice_field(char *buf, size_t len, const char *invoice_id);

/*
 * The invoice id of a customer-hash field name of len bytes (not
 * terminated): *id points into name and *id_len is its length. Returns
 * false for a field that is not an invoice record.
 */
bool shard_invoice_field_id(const char *name, size_t len, const char **id,
			    size_t *id_len);

/*
 * Parses a packed record of len bytes (need not be terminated) into out.
 * At least the first nine fields must be present (steps may be missing)
 * and the status must be one letter. Returns 0, DN_ERR_TOO_LARGE (len of
 * SHARD_RECORD_MAX or more) or DN_ERR_DECODE; out is undefined on error.
 */
int shard_record_parse(const char *raw, size_t len,
		       struct shard_invoice_record *out);

#endif
