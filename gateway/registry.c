/* registry.c: the gateway's memory in Redis (keys gw:...). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "registry.h"

#include "clock.h"
#include "error.h"
#include "shard.h"
#include "store.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX	       1024
#define DAY_MS	       (24LL * 3600 * 1000)
#define COMMAND_TTL_MS (30 * DAY_MS)
#define MESSAGE_TTL_MS (30 * DAY_MS)
#define USER_TTL_MS    (90 * DAY_MS)
#define WINDOW_TTL_MS  (2 * DAY_MS)
#define SEEN_TTL_MS    (7 * DAY_MS)

extern const char claim_lua[];
extern const char status_lua[];

struct registry {
	struct store *store;
	int claim_script;
	int status_script;
};

struct registry *registry_new(const char *url, int timeout_ms, char *err,
			      size_t errlen)
{
	struct registry *r = calloc(1, sizeof(*r));

	if (!r) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	r->store = store_new(url, timeout_ms, err, errlen);
	if (!r->store) {
		free(r);
		return NULL;
	}
	r->claim_script = store_script_add(r->store, "gw_claim", claim_lua);
	r->status_script = store_script_add(r->store, "gw_status", status_lua);
	return r;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	store_free(r->store);
	free(r);
}

/* Checks a reply; frees it and fills err when it is missing or an error. */
static int reply_check(struct registry *r, redisReply *reply, char *err,
		       size_t errlen)
{
	if (!reply)
		return dn_fail(DN_ERR_REDIS, err, errlen, "redis: %s",
			       store_error(r->store));
	if (reply->type == REDIS_REPLY_ERROR) {
		dn_fail(DN_ERR_REDIS, err, errlen, "redis: %s", reply->str);
		store_reply_free(reply);
		return DN_ERR_REDIS;
	}
	return DN_OK;
}

/* Runs a command whose reply is not needed. */
static int run(struct registry *r, int argc, const char **argv, char *err,
	       size_t errlen)
{
	redisReply *reply = store_command(r->store, argc, argv, NULL);
	int rc = reply_check(r, reply, err, errlen);

	if (rc == DN_OK)
		store_reply_free(reply);
	return rc;
}

static int key_format(char *key, const char *kind, const char *a,
		      const char *sep, const char *b)
{
	int n = snprintf(key, KEY_MAX, "gw:%s:%s%s%s", kind, a, sep ? sep : "",
			 b ? b : "");

	return n < 0 || n >= KEY_MAX ? DN_ERR_TOO_LARGE : DN_OK;
}

int registry_claim(struct registry *r, const char *command_id,
		   const char *owner, const char *tenant, const char *customer,
		   int *claimed, char *state, size_t statelen, char *err,
		   size_t errlen)
{
	char key[KEY_MAX], now[24], ttl[24];
	const char *argv[6];
	redisReply *reply;
	int rc;

	if (key_format(key, "cmd", command_id, NULL, NULL))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
			       "command id too long");
	snprintf(now, sizeof(now), "%" PRId64, clock_now_ms());
	snprintf(ttl, sizeof(ttl), "%lld", COMMAND_TTL_MS);
	argv[0] = key;
	argv[1] = owner;
	argv[2] = tenant;
	argv[3] = customer;
	argv[4] = now;
	argv[5] = ttl;
	reply = store_eval(r->store, r->claim_script, 1, 6, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	*claimed = reply->type == REDIS_REPLY_STRING && reply->len == 0;
	snprintf(state, statelen, "%s",
		 reply->type == REDIS_REPLY_STRING ? reply->str : "");
	store_reply_free(reply);
	return DN_OK;
}

int registry_release(struct registry *r, const char *command_id, char *err,
		     size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[] = { "HSET", key, "state", "retry" };

	if (key_format(key, "cmd", command_id, NULL, NULL))
		return DN_ERR_TOO_LARGE;
	return run(r, 4, argv, err, errlen);
}

int registry_finish(struct registry *r, const char *command_id,
		    const char *state, const char *reason, char *err,
		    size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[] = { "HSET", key, "state", state, "reason", reason };

	if (key_format(key, "cmd", command_id, NULL, NULL))
		return DN_ERR_TOO_LARGE;
	return run(r, 6, argv, err, errlen);
}

/* Phone digits as WhatsApp writes them: E.164 without the '+'. */
static const char *digits_of(const char *phone)
{
	return phone && phone[0] == '+' ? phone + 1 : phone;
}

int registry_accepted(struct registry *r, const char *command_id,
		      const char *wa_message_id, const char *phone_number_id,
		      const char *wa_id, const char *phone, const char *tenant,
		      const char *customer, char *err, size_t errlen)
{
	char cmd_key[KEY_MAX], msg_key[KEY_MAX], id_key[KEY_MAX];
	char phone_key[KEY_MAX], owner[2 * REGISTRY_NAME_MAX + 2];
	char msg_ttl[24], user_ttl[24];
	const char *message[] = {
		"HSET",	  msg_key,   "tenant",	 tenant,  "customer",
		customer, "command", command_id, "wa_id", wa_id ? wa_id : ""
	};
	const char *expire[] = { "PEXPIRE", msg_key, msg_ttl };
	const char *by_id[] = { "SET", id_key, owner, "PX", user_ttl };
	const char *by_phone[] = { "SET", phone_key, owner, "PX", user_ttl };
	const char *accept[] = { "HSET",     cmd_key,	      "state",
				 "accepted", "wa_message_id", wa_message_id };
	const char *const *argvs[5] = { message, expire, accept, by_id,
					by_phone };
	int argcs[5] = { 10, 3, 6, 5, 5 };
	redisReply *replies[5] = { NULL };
	size_t i, count = 3;
	int rc;

	if (key_format(cmd_key, "cmd", command_id, NULL, NULL) ||
	    key_format(msg_key, "msg", wa_message_id, NULL, NULL))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen, "id too long");
	snprintf(msg_ttl, sizeof(msg_ttl), "%lld", MESSAGE_TTL_MS);
	snprintf(user_ttl, sizeof(user_ttl), "%lld", USER_TTL_MS);
	snprintf(owner, sizeof(owner), "%s/%s", tenant, customer);

	/* The identities WhatsApp knows the customer by, when given. */
	if (wa_id && *wa_id &&
	    !key_format(id_key, "who", phone_number_id, ":", wa_id))
		argvs[count++] = by_id;
	if (phone && *phone &&
	    !key_format(phone_key, "who", phone_number_id, ":",
			digits_of(phone)))
		argvs[count++] = by_phone;

	/* One round trip; every command is idempotent, as a pipeline
	 * replayed on a new connection requires. */
	rc = store_pipeline(r->store, count, argcs,
			    (const char *const *const *)argvs, NULL, replies);
	if (rc)
		dn_fail(DN_ERR_REDIS, err, errlen, "redis: %s",
			store_error(r->store));
	for (i = 0; i < count; i++) {
		if (!rc && replies[i] && replies[i]->type == REDIS_REPLY_ERROR)
			rc = dn_fail(DN_ERR_REDIS, err, errlen, "redis: %s",
				     replies[i]->str);
		store_reply_free(replies[i]);
	}
	return rc;
}

/* Copies the owner fields of a hash reply (field, value, ...). */
static int owner_from_hash(redisReply *reply, struct registry_owner *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2)
		return DN_ERR_NOT_FOUND;
	for (i = 0; i + 1 < reply->elements; i += 2) {
		const char *field = reply->element[i]->str;
		const char *value = reply->element[i + 1]->str;

		if (!field || !value)
			continue;
		if (strcmp(field, "tenant") == 0)
			snprintf(out->tenant, sizeof(out->tenant), "%s", value);
		else if (strcmp(field, "customer") == 0)
			snprintf(out->customer, sizeof(out->customer), "%s",
				 value);
		else if (strcmp(field, "command") == 0)
			snprintf(out->command, sizeof(out->command), "%s",
				 value);
	}
	return out->tenant[0] && out->customer[0] ? DN_OK : DN_ERR_NOT_FOUND;
}

static int owner_lookup(struct registry *r, const char *key,
			struct registry_owner *out, char *err, size_t errlen)
{
	const char *argv[] = { "HGETALL", key };
	redisReply *reply = store_command(r->store, 2, argv, NULL);
	int rc = reply_check(r, reply, err, errlen);

	if (rc)
		return rc;
	rc = owner_from_hash(reply, out);
	store_reply_free(reply);
	return rc;
}

int registry_message_owner(struct registry *r, const char *wa_message_id,
			   struct registry_owner *out, char *err, size_t errlen)
{
	char key[KEY_MAX];

	if (key_format(key, "msg", wa_message_id, NULL, NULL))
		return DN_ERR_NOT_FOUND;
	return owner_lookup(r, key, out, err, errlen);
}

int registry_command_owner(struct registry *r, const char *command_id,
			   struct registry_owner *out, char *err, size_t errlen)
{
	char key[KEY_MAX];
	int rc;

	if (key_format(key, "cmd", command_id, NULL, NULL))
		return DN_ERR_NOT_FOUND;
	rc = owner_lookup(r, key, out, err, errlen);
	if (rc == DN_OK)
		snprintf(out->command, sizeof(out->command), "%s", command_id);
	return rc;
}

int registry_user_owner(struct registry *r, const char *phone_number_id,
			const char *wa_id, struct registry_owner *out,
			char *err, size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[] = { "GET", key };
	redisReply *reply;
	const char *slash;
	int rc;

	memset(out, 0, sizeof(*out));
	if (key_format(key, "who", phone_number_id, ":", digits_of(wa_id)))
		return DN_ERR_NOT_FOUND;
	reply = store_command(r->store, 2, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	rc = DN_ERR_NOT_FOUND;
	slash = reply->type == REDIS_REPLY_STRING ? strchr(reply->str, '/')
						  : NULL;
	if (slash && (size_t)(slash - reply->str) < sizeof(out->tenant)) {
		memcpy(out->tenant, reply->str, (size_t)(slash - reply->str));
		snprintf(out->customer, sizeof(out->customer), "%s", slash + 1);
		rc = DN_OK;
	}
	store_reply_free(reply);
	return rc;
}

int registry_user_remember(struct registry *r, const char *phone_number_id,
			   const char *wa_id, const char *tenant,
			   const char *customer, char *err, size_t errlen)
{
	char key[KEY_MAX], value[2 * REGISTRY_NAME_MAX + 2], ttl[24];
	const char *argv[] = { "SET", key, value, "PX", ttl };

	if (key_format(key, "who", phone_number_id, ":", digits_of(wa_id)))
		return DN_ERR_TOO_LARGE;
	snprintf(value, sizeof(value), "%s/%s", tenant, customer);
	snprintf(ttl, sizeof(ttl), "%lld", USER_TTL_MS);
	return run(r, 5, argv, err, errlen);
}

int registry_status_advance(struct registry *r, const char *wa_message_id,
			    int rank, int *advanced, char *err, size_t errlen)
{
	char key[KEY_MAX], rank_text[16], ttl[24];
	const char *argv[] = { key, rank_text, ttl };
	redisReply *reply;
	int rc;

	if (key_format(key, "msg", wa_message_id, NULL, NULL))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen, "id too long");
	snprintf(rank_text, sizeof(rank_text), "%d", rank);
	snprintf(ttl, sizeof(ttl), "%lld", MESSAGE_TTL_MS);
	reply = store_eval(r->store, r->status_script, 1, 3, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	*advanced = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
	store_reply_free(reply);
	return DN_OK;
}

int registry_status_rank(struct registry *r, const char *wa_message_id,
			 int *rank, char *err, size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[] = { "HGET", key, "rank" };
	redisReply *reply;
	int rc;

	if (key_format(key, "msg", wa_message_id, NULL, NULL))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen, "id too long");
	reply = store_command(r->store, 3, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	*rank = reply->type == REDIS_REPLY_STRING
			? (int)strtol(reply->str, NULL, 10)
			: 0;
	store_reply_free(reply);
	return DN_OK;
}

int registry_seen_before(struct registry *r, const char *wa_message_id,
			 int *seen, char *err, size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[] = { "EXISTS", key };
	redisReply *reply;
	int rc;

	if (key_format(key, "seen", wa_message_id, NULL, NULL))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen, "id too long");
	reply = store_command(r->store, 2, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	*seen = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
	store_reply_free(reply);
	return DN_OK;
}

int registry_seen(struct registry *r, const char *wa_message_id, int *first,
		  char *err, size_t errlen)
{
	char key[KEY_MAX], ttl[24];
	const char *argv[] = { "SET", key, "1", "NX", "PX", ttl };
	redisReply *reply;
	int rc;

	if (key_format(key, "seen", wa_message_id, NULL, NULL))
		return dn_fail(DN_ERR_TOO_LARGE, err, errlen, "id too long");
	snprintf(ttl, sizeof(ttl), "%lld", SEEN_TTL_MS);
	reply = store_command(r->store, 6, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	*first = reply->type == REDIS_REPLY_STATUS;
	store_reply_free(reply);
	return DN_OK;
}

int registry_window_open(struct registry *r, const char *tenant,
			 const char *customer, int64_t at_ms, char *err,
			 size_t errlen)
{
	char key[KEY_MAX], at[24], ttl[24];
	const char *argv[] = { "SET", key, at, "PX", ttl };

	if (key_format(key, "window", tenant, "/", customer))
		return DN_ERR_TOO_LARGE;
	snprintf(at, sizeof(at), "%" PRId64, at_ms);
	snprintf(ttl, sizeof(ttl), "%lld", WINDOW_TTL_MS);
	return run(r, 5, argv, err, errlen);
}

int registry_window_last(struct registry *r, const char *tenant,
			 const char *customer, int64_t *at_ms, char *err,
			 size_t errlen)
{
	char key[KEY_MAX];
	const char *argv[] = { "GET", key };
	redisReply *reply;
	int rc;

	*at_ms = 0;
	if (key_format(key, "window", tenant, "/", customer))
		return DN_ERR_TOO_LARGE;
	reply = store_command(r->store, 2, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		return rc;
	if (reply->type == REDIS_REPLY_STRING)
		*at_ms = strtoll(reply->str, NULL, 10);
	store_reply_free(reply);
	return DN_OK;
}

/* Whether a worker invoice record is open with something left to pay;
 * true when it cannot be read (nothing known against sending). */
static bool record_owed(const char *raw, size_t len)
{
	struct shard_invoice_record record;

	if (shard_record_parse(raw, len, &record))
		return true;
	return record.status == SHARD_OPEN &&
	       record.amount_minor - record.paid_minor > 0;
}

const char registry_why_opted_out[] = "the customer opted out";
const char registry_why_closed[] = "every invoice of it was paid or closed";

int registry_still_owed(struct registry *r, int32_t partition,
			const char *tenant, const char *customer,
			char *const *invoice_ids, size_t n,
			const char **why_not, char *err, size_t errlen)
{
	char key[KEY_MAX];
	const char **argv = calloc(n + 3, sizeof(*argv));
	char(*fields)[KEY_MAX] = calloc(n + 1, sizeof(*fields));
	redisReply *reply = NULL;
	size_t i, still_open = 0, known = 0;
	int rc = DN_ERR_NOMEM;

	*why_not = NULL;
	if (!argv || !fields)
		goto out;
	rc = DN_ERR_TOO_LARGE;
	if (shard_customer_key(key, sizeof(key), partition, tenant, customer))
		goto out;
	argv[0] = "HMGET";
	argv[1] = key;
	argv[2] = SHARD_FIELD_OPT_IN;
	for (i = 0; i < n; i++) {
		if (shard_invoice_field(fields[i], KEY_MAX, invoice_ids[i]))
			goto out;
		argv[3 + i] = fields[i];
	}
	reply = store_command(r->store, (int)n + 3, argv, NULL);
	if ((rc = reply_check(r, reply, err, errlen)))
		goto out;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n + 1)
		goto out;
	if (reply->element[0]->type == REDIS_REPLY_STRING &&
	    strtol(reply->element[0]->str, NULL, 10) == SHARD_OPTED_OUT) {
		*why_not = registry_why_opted_out;
		goto out;
	}
	for (i = 1; i <= n; i++) {
		const redisReply *e = reply->element[i];

		if (e->type != REDIS_REPLY_STRING)
			continue;
		known++;
		still_open += record_owed(e->str, e->len);
	}
	if (n > 0 && known == n && still_open == 0)
		*why_not = registry_why_closed;
out:
	if (reply && rc == DN_OK)
		store_reply_free(reply);
	free(argv);
	free(fields);
	return rc;
}
