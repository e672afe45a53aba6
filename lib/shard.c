/* shard.c: the worker's Redis layout, keys and packed invoice records. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "shard.h"

#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_FIELDS 10

int shard_key(char *buf, size_t len, int32_t partition, const char *suffix)
{
	int n = snprintf(buf, len, "dn:{p%" PRId32 "}:%s", partition, suffix);

	return n < 0 || (size_t)n >= len ? DN_ERR_TOO_LARGE : DN_OK;
}

int shard_customer_key(char *buf, size_t len, int32_t partition,
		       const char *tenant, const char *customer_id)
{
	int n = snprintf(buf, len, "dn:{p%" PRId32 "}:c:%s/%s", partition,
			 tenant, customer_id);

	return n < 0 || (size_t)n >= len ? DN_ERR_TOO_LARGE : DN_OK;
}

int shard_customer_key_joined(char *buf, size_t len, int32_t partition,
			      const char *customer_key)
{
	int n = snprintf(buf, len, "dn:{p%" PRId32 "}:c:%s", partition,
			 customer_key);

	return n < 0 || (size_t)n >= len ? DN_ERR_TOO_LARGE : DN_OK;
}

int shard_invoice_field(char *buf, size_t len, const char *invoice_id)
{
	int n = snprintf(buf, len, SHARD_FIELD_INVOICE "%s", invoice_id);

	return n < 0 || (size_t)n >= len ? DN_ERR_TOO_LARGE : DN_OK;
}

bool shard_invoice_field_id(const char *name, size_t len, const char **id,
			    size_t *id_len)
{
	size_t prefix = sizeof(SHARD_FIELD_INVOICE) - 1;

	if (len <= prefix || memcmp(name, SHARD_FIELD_INVOICE, prefix) != 0)
		return false;
	*id = name + prefix;
	*id_len = len - prefix;
	return true;
}

/* Copies text into dst of size cap, cut to fit (text fields are opaque
 * to C; see shard.h). */
static void copy_cut(char *dst, size_t cap, const char *text)
{
	size_t n = strnlen(text, cap - 1);

	memcpy(dst, text, n);
	dst[n] = '\0';
}

static int64_t parse_int(const char *text)
{
	return strtoll(text, NULL, 10);
}

/* Cuts a terminated copy of a record at each '|' into at most
 * RECORD_FIELDS fields; returns how many there are. */
static size_t split_fields(char *copy, char **fields)
{
	char *p = copy;
	size_t n = 0;

	while (n < RECORD_FIELDS && p) {
		fields[n++] = p;
		p = strchr(p, '|');
		if (p)
			*p++ = '\0';
	}
	return n;
}

int shard_record_parse(const char *raw, size_t len,
		       struct shard_invoice_record *out)
{
	char copy[SHARD_RECORD_MAX];
	char *fields[RECORD_FIELDS] = { 0 };
	size_t n;

	/* A record is read from Redis: bound it before touching it. */
	if (len >= sizeof(copy))
		return DN_ERR_TOO_LARGE;
	memcpy(copy, raw, len);
	copy[len] = '\0';
	n = split_fields(copy, fields);
	if (n < RECORD_FIELDS - 1 || strlen(fields[0]) != 1)
		return DN_ERR_DECODE;

	/* Field by field, in the order apply.lua writes them. */
	out->status = fields[0][0];
	copy_cut(out->version, sizeof(out->version), fields[1]);
	copy_cut(out->schedule_version, sizeof(out->schedule_version),
		 fields[2]);
	out->due = parse_int(fields[3]);
	out->amount_minor = parse_int(fields[4]);
	copy_cut(out->currency, sizeof(out->currency), fields[5]);
	out->paid_minor = parse_int(fields[6]);
	out->unanswered = (uint32_t)parse_int(fields[7]);
	out->escalated = fields[8][0] == '1';
	copy_cut(out->steps, sizeof(out->steps),
		 n == RECORD_FIELDS ? fields[9] : "");
	return DN_OK;
}
