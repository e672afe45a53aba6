/* state.c: reading a worker customer's hash back into C structures. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"

#include "error.h"
#include "shard.h"
#include "store.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool state_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	size_t i;

	if (n == 0 || n >= STATE_ID_MAX)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == '|' ||
		    id[i] == 0x7f)
			return false;
	return true;
}

/* Copies a counted string into a buffer of size len, refusing overflow. */
static int copy_text(char *out, size_t len, const char *text, size_t n)
{
	if (n >= len)
		return DN_ERR_TOO_LARGE;
	memcpy(out, text, n);
	out[n] = '\0';
	return DN_OK;
}

int state_member_split(const char *member, size_t len, char *customer_key,
		       char *invoice_id)
{
	const char *sep = memchr(member, STATE_SEP, len);

	if (!sep ||
	    copy_text(customer_key, STATE_ID_MAX * 2, member,
		      (size_t)(sep - member)) ||
	    copy_text(invoice_id, STATE_ID_MAX, sep + 1,
		      len - (size_t)(sep - member) - 1))
		return DN_ERR_INVALID;
	return DN_OK;
}

int state_customer_key_split(const char *customer_key, char *tenant,
			     char *customer_id)
{
	const char *slash = strchr(customer_key, '/');

	if (!slash ||
	    copy_text(tenant, STATE_ID_MAX, customer_key,
		      (size_t)(slash - customer_key)) ||
	    copy_text(customer_id, STATE_ID_MAX, slash + 1, strlen(slash + 1)))
		return DN_ERR_INVALID;
	return DN_OK;
}

/* ---------------------------------------------------------------------- */
/* Packed invoice records (lib/shard.h)                                    */

/* Steps "done.last_ms,done.last_ms,..." into inv->steps. */
static void parse_steps(struct state_invoice *inv, const char *text)
{
	const char *p = text;

	inv->n_steps = 0;
	while (*p && inv->n_steps < WORKFLOW_MAX_STEPS) {
		struct schedule_step_history *h = &inv->steps[inv->n_steps++];
		char *end;

		h->done = (uint32_t)strtoul(p, &end, 10);
		h->last_ms = *end == '.' ? strtoll(end + 1, &end, 10) : 0;
		p = *end == ',' ? end + 1 : end + strlen(end);
	}
}

static void parse_due(struct state_invoice *inv, int64_t yyyymmdd)
{
	inv->has_due_date = yyyymmdd > 0;
	inv->due_date.year = (int)(yyyymmdd / 10000);
	inv->due_date.month = (int)(yyyymmdd / 100 % 100);
	inv->due_date.day = (int)(yyyymmdd % 100);
}

static int parse_invoice(struct state_invoice *inv, const char *raw, size_t len)
{
	struct shard_invoice_record record;
	int rc = shard_record_parse(raw, len, &record);

	if (rc)
		return rc;
	/* The text fields have the record's sizes (lib/shard.h). */
	inv->status = record.status;
	memcpy(inv->version, record.version, sizeof(inv->version));
	memcpy(inv->schedule_version, record.schedule_version,
	       sizeof(inv->schedule_version));
	parse_due(inv, record.due);
	inv->amount_minor = record.amount_minor;
	memcpy(inv->currency, record.currency, sizeof(inv->currency));
	inv->paid_minor = record.paid_minor;
	inv->unanswered = record.unanswered;
	inv->escalated = record.escalated;
	parse_steps(inv, record.steps);
	return DN_OK;
}

/* ---------------------------------------------------------------------- */
/* Customer hash                                                            */

static void parse_sends(struct state_customer *c, const char *text)
{
	const char *p = text;

	c->n_sends = 0;
	while (*p && c->n_sends < STATE_SENDS_MAX) {
		char *end;

		c->sends[c->n_sends++] = strtoll(p, &end, 10);
		p = *end ? end + 1 : end;
	}
}

/* The invoice slot for id, created on first sight. */
static struct state_invoice *invoice_slot(struct state_customer *c,
					  const char *id, size_t len)
{
	struct state_invoice *inv;
	size_t i;

	for (i = 0; i < c->n_invoices; i++)
		if (strlen(c->invoices[i].id) == len &&
		    memcmp(c->invoices[i].id, id, len) == 0)
			return &c->invoices[i];
	if (c->n_invoices >= STATE_INVOICES_MAX)
		return NULL;
	inv = &c->invoices[c->n_invoices];
	memset(inv, 0, sizeof(*inv));
	if (copy_text(inv->id, sizeof(inv->id), id, len))
		return NULL;
	c->n_invoices++;
	return inv;
}

struct profile_field {
	const char *name;
	size_t offset;
	size_t size;
};

#define PROFILE(n, f)                                                          \
	{                                                                      \
		n, offsetof(struct state_customer, f),                         \
			sizeof(((struct state_customer *)0)->f)                \
	}

static const struct profile_field profile_fields[] = {
	PROFILE("nm", name),	  PROFILE("ph", phone),	  PROFILE("lc", locale),
	PROFILE("tz", time_zone), PROFILE("sg", segment), PROFILE("wa", wa_id),
};

/* The recent sends, cut at a line end when longer than the buffer: the
 * oldest lines are at the front, so keep the tail. */
static void recent_copy(struct state_customer *c, const char *text, size_t n)
{
	const char *start = text;

	if (n >= sizeof(c->recent)) {
		start = text + n - (sizeof(c->recent) - 1);
		while (*start && *start != '\n')
			start++;
		if (*start)
			start++;
	}
	snprintf(c->recent, sizeof(c->recent), "%s", start);
}

/* An invoice's record "i:<id>" or how to pay "m:<id>"; other per-invoice
 * fields (histories, payments) are not needed here. */
static int invoice_field(struct state_customer *c, const redisReply *name,
			 const redisReply *value)
{
	struct state_invoice *inv;
	const char *id;
	size_t id_len;

	if (shard_invoice_field_id(name->str, name->len, &id, &id_len)) {
		inv = invoice_slot(c, id, id_len);
		return inv ? parse_invoice(inv, value->str, value->len)
			   : DN_ERR_TOO_LARGE;
	}
	if (name->len < 3 || memcmp(name->str, "m:", 2) != 0)
		return DN_OK;
	inv = invoice_slot(c, name->str + 2, name->len - 2);
	if (!inv)
		return DN_ERR_TOO_LARGE;
	return copy_text(inv->how_to_pay, sizeof(inv->how_to_pay), value->str,
			 value->len);
}

static int customer_field(struct state_customer *c, const redisReply *name,
			  const redisReply *value)
{
	const char *n = name->str;
	size_t i;

	for (i = 0; i < sizeof(profile_fields) / sizeof(*profile_fields); i++)
		if (strcmp(n, profile_fields[i].name) == 0)
			return copy_text((char *)c + profile_fields[i].offset,
					 profile_fields[i].size, value->str,
					 value->len);
	if (strcmp(n, "hist") == 0) {
		recent_copy(c, value->str, value->len);
		return DN_OK;
	}
	if (strcmp(n, SHARD_FIELD_OPT_IN) == 0) {
		c->opt_in = (enum state_opt_in)strtoll(value->str, NULL, 10);
		return DN_OK;
	}
	if (strcmp(n, "cv") == 0) {
		c->known = true;
		return DN_OK;
	}
	if (strcmp(n, "sends") == 0) {
		parse_sends(c, value->str);
		return DN_OK;
	}
	return invoice_field(c, name, value);
}

int state_customer_parse(const redisReply *reply, const char *tenant,
			 const char *customer_id, struct state_customer *out,
			 char *err, size_t errlen)
{
	size_t i;
	int rc = DN_OK;

	memset(out, 0, sizeof(*out));
	snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
	snprintf(out->customer_id, sizeof(out->customer_id), "%s", customer_id);
	if (!reply || reply->type != REDIS_REPLY_ARRAY)
		return dn_fail(DN_ERR_REDIS, err, errlen,
			       "customer %s/%s: unexpected reply", tenant,
			       customer_id);
	out->invoices = calloc(reply->elements / 2 + 1, sizeof(*out->invoices));
	if (!out->invoices)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	for (i = 0; i + 1 < reply->elements && !rc; i += 2)
		rc = customer_field(out, reply->element[i],
				    reply->element[i + 1]);
	if (rc)
		dn_fail(rc, err, errlen,
			"customer %s/%s: field %s is malformed or too large",
			tenant, customer_id, reply->element[i - 2]->str);
	return rc;
}

int state_customer_load(struct store *store, int32_t partition,
			const char *tenant, const char *customer_id,
			struct state_customer *out, char *err, size_t errlen)
{
	char key[STATE_KEY_MAX];
	const char *argv[2] = { "HGETALL", key };
	redisReply *reply;
	int rc;

	memset(out, 0, sizeof(*out));
	if (shard_customer_key(key, sizeof(key), partition, tenant,
			       customer_id))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "customer key too long");
	reply = store_command(store, 2, argv, NULL);
	if (!reply || reply->type != REDIS_REPLY_ARRAY) {
		rc = dn_fail(DN_ERR_REDIS, err, errlen, "cannot read %s: %s",
			     key, reply ? reply->str : store_error(store));
		store_reply_free(reply);
		return rc;
	}
	rc = state_customer_parse(reply, tenant, customer_id, out, err, errlen);
	store_reply_free(reply);
	return rc;
}

void state_customer_release(struct state_customer *c)
{
	free(c->invoices);
	c->invoices = NULL;
	c->n_invoices = 0;
}

struct state_invoice *state_customer_invoice(struct state_customer *c,
					     const char *id)
{
	size_t i;

	for (i = 0; i < c->n_invoices; i++)
		if (strcmp(c->invoices[i].id, id) == 0)
			return &c->invoices[i];
	return NULL;
}
