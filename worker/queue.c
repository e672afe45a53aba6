/* queue.c: claiming due delay-queue entries with a lease. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "queue.h"

#include "error.h"
#include "shard.h"
#include "state.h"
#include "store.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char claim_lua[];

int queue_register(struct store *store)
{
	return store_script_add(store, "claim", claim_lua);
}

static int64_t reply_int(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer;
	if (r->type == REDIS_REPLY_STRING)
		return strtoll(r->str, NULL, 10);
	return -1;
}

static int claim_parse(const redisReply *reply, struct queue_claim *out)
{
	size_t i;

	out->next_due_ms = reply_int(reply->element[0]);
	out->next_lease_ms = reply_int(reply->element[1]);
	for (i = 2; i + 1 < reply->elements; i += 2) {
		const redisReply *m = reply->element[i];
		struct queue_entry *e = &out->entries[out->count];

		if (m->type != REDIS_REPLY_STRING ||
		    out->count >= QUEUE_BATCH_MAX)
			return DN_ERR_DECODE;
		e->member = malloc(m->len + 1);
		if (!e->member)
			return DN_ERR_NOMEM;
		memcpy(e->member, m->str, m->len);
		e->member[m->len] = '\0';
		e->member_len = m->len;
		e->due_ms = reply_int(reply->element[i + 1]);
		out->count++;
	}
	return DN_OK;
}

int queue_claim(struct store *store, int script, int32_t partition,
		int64_t now_ms, int64_t real_now_ms, int64_t lease_ms,
		size_t limit, struct queue_claim *out, char *err, size_t errlen)
{
	char queue[STATE_KEY_MAX], leases[STATE_KEY_MAX];
	char now[24], real_now[24], lease[24], max[24];
	const char *argv[6] = { queue, leases, now, real_now, lease, max };
	redisReply *reply;
	int rc;

	out->count = 0;
	out->next_due_ms = out->next_lease_ms = -1;
	shard_key(queue, sizeof(queue), partition, "q");
	shard_key(leases, sizeof(leases), partition, "lease");
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	snprintf(real_now, sizeof(real_now), "%" PRId64, real_now_ms);
	snprintf(lease, sizeof(lease), "%" PRId64, lease_ms);
	snprintf(max, sizeof(max), "%zu",
		 limit > QUEUE_BATCH_MAX ? (size_t)QUEUE_BATCH_MAX : limit);

	reply = store_eval(store, script, 2, 6, argv, NULL);
	if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
		rc = dn_fail(DN_ERR_REDIS, err, errlen,
			     "cannot claim from %s: %s", queue,
			     reply && reply->type == REDIS_REPLY_ERROR
				     ? reply->str
				     : store_error(store));
		store_reply_free(reply);
		return rc;
	}
	rc = claim_parse(reply, out);
	store_reply_free(reply);
	if (rc)
		return dn_fail(rc, err, errlen, "malformed claim reply from %s",
			       queue);
	return DN_OK;
}

void queue_claim_release(struct queue_claim *claim)
{
	size_t i;

	for (i = 0; i < claim->count; i++)
		free(claim->entries[i].member);
	claim->count = 0;
}
