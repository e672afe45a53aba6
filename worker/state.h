/* state.h: the worker's Redis model of customers, invoices and queues. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every key of the worker is hash-tagged by Kafka partition, dn:{p<N>}:...,
 * so that one partition's keys share a Redis Cluster slot and a worker
 * touches only the partitions it owns (docs/redis-keys.md):
 *
 *   dn:{pN}:c:<tenant>/<customer>  hash: the customer and all its invoices
 *   dn:{pN}:q                      delay queue, member -> next action ms
 *   dn:{pN}:lease                  claimed entries, member -> lease expiry
 *   dn:{pN}:stats                  analytics counters (contract 9)
 *   dn:{pN}:seen:<event_id>        marker of an applied message event
 *
 * A queue member is "<tenant>/<customer>" STATE_SEP "<invoice id>". The
 * writes are Lua scripts (apply.lua, commit.lua, claim.lua); keys, field
 * names and the packed invoice record are defined once in lib/shard.h,
 * shared with the gateway; this module reads a customer back into C
 * structures.
 */
#ifndef DUNNING_STATE_H
#define DUNNING_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schedule.h"
#include "shard.h"
#include "workflow.h"

struct store;
typedef struct redisReply redisReply;

#define STATE_SEP	   '\x1f'
#define STATE_KEY_MAX	   512	/* any worker key */
#define STATE_ID_MAX	   160	/* tenant, customer or invoice id + NUL */
#define STATE_TEXT_MAX	   256	/* name, locale, zone, ... + NUL */
#define STATE_HOW_MAX	   640	/* raw how-to-pay field + NUL */
#define STATE_INVOICES_MAX 1024 /* invoices of one customer read back */
#define STATE_SENDS_MAX	   16	/* recent sends kept per customer */
#define STATE_HIST_MAX	   4096 /* recent-sends text of a customer + NUL */

/* Whether an id is acceptable in keys and records: 1 to STATE_ID_MAX - 1
 * bytes, no control characters, no '|'. */
bool state_id_valid(const char *id);

/* One invoice as read back from its packed record. */
struct state_invoice {
	char id[STATE_ID_MAX];
	char status;			 /* o, p, c, d, n (not dunnable), u */
	char version[SHARD_VERSION_MAX]; /* opaque, for logs */
	/* as stored: commit.lua compares text */
	char schedule_version[SHARD_SCHEDULE_VERSION_MAX];
	struct workflow_date due_date;
	bool has_due_date;
	int64_t amount_minor;
	int64_t paid_minor;
	char currency[SHARD_CURRENCY_MAX];
	uint32_t unanswered;
	bool escalated;
	struct schedule_step_history steps[WORKFLOW_MAX_STEPS];
	size_t n_steps;
	char how_to_pay[STATE_HOW_MAX]; /* "L<link>" or "B<iban>SEP<bic>SEP
					 * <reference>SEP<account name>" */
};

enum state_opt_in {
	STATE_OPT_IN_UNKNOWN = SHARD_OPT_IN_UNKNOWN,
	STATE_OPTED_IN = SHARD_OPTED_IN,
	STATE_OPTED_OUT = SHARD_OPTED_OUT,
};

/* A customer and every invoice recorded for it. */
struct state_customer {
	char tenant[STATE_ID_MAX];
	char customer_id[STATE_ID_MAX];
	bool known; /* a directory record was applied */
	char name[STATE_TEXT_MAX];
	char phone[STATE_TEXT_MAX];
	char locale[STATE_TEXT_MAX];
	char time_zone[STATE_TEXT_MAX];
	char segment[STATE_TEXT_MAX];
	char wa_id[STATE_TEXT_MAX];
	enum state_opt_in opt_in;
	int64_t sends[STATE_SENDS_MAX]; /* instants of recent messages */
	size_t n_sends;
	char recent[STATE_HIST_MAX];	/* recent sends, see commit.lua */
	struct state_invoice *invoices; /* owned */
	size_t n_invoices;
};

/*
 * Reads the customer hash of tenant/customer_id in partition into out
 * (initialised here; release with state_customer_release even on error).
 * A customer never seen reads as known == false with no invoices.
 * Returns 0, DN_ERR_REDIS, DN_ERR_TOO_LARGE (more than STATE_INVOICES_MAX
 * invoices) or DN_ERR_NOMEM with the reason in err.
 */
int state_customer_load(struct store *store, int32_t partition,
			const char *tenant, const char *customer_id,
			struct state_customer *out, char *err, size_t errlen);

/* As state_customer_load, from a HGETALL reply already read (pipelines).
 * reply is borrowed. */
int state_customer_parse(const redisReply *reply, const char *tenant,
			 const char *customer_id, struct state_customer *out,
			 char *err, size_t errlen);

void state_customer_release(struct state_customer *c);

/* The invoice named id of c, or NULL. */
struct state_invoice *state_customer_invoice(struct state_customer *c,
					     const char *id);

/* Splits a queue member into customer key and invoice id (buffers of
 * STATE_ID_MAX * 2 and STATE_ID_MAX). Returns 0 or DN_ERR_INVALID. */
int state_member_split(const char *member, size_t len, char *customer_key,
		       char *invoice_id);

/* Splits a customer key "tenant/customer" at its first '/'. Returns 0 or
 * DN_ERR_INVALID. */
int state_customer_key_split(const char *customer_key, char *tenant,
			     char *customer_id);

#endif
