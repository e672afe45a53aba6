/* fire.h: at fire time, decide from fresh state and emit, effectively once. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One call handles one bounded batch of one partition:
 *
 *   1. claim due entries with a lease (queue.h);
 *   2. read each customer concerned in one pipeline;
 *   3. for each claimed invoice compute its next action (schedule.h) and,
 *      when its time has come, decide (decide.h): send, suppress with a
 *      reason, or postpone; a customer's invoices due on the same local day
 *      are consolidated into one message when the workflow says so, and the
 *      frequency cap counts messages, not invoices;
 *   4. produce every SendCommand (and CollectorTask on escalation) and wait
 *      for the broker's acknowledgement;
 *   5. only then commit (commit.lua): steps done, histories, stats, next
 *      instants, leases released.
 *
 * A crash between 4 and 5 leaves the entries leased; once the lease runs
 * out they are claimed again and produce the same command ids, which the
 * gateway drops as duplicates. Nothing is sent before its time: an entry
 * claimed early is only postponed.
 *
 * One struct fire belongs to one thread.
 */
#ifndef DUNNING_FIRE_H
#define DUNNING_FIRE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct fire;
struct kafka_producer;
struct metrics;
struct store;
struct workflow;

struct fire_settings {
	int64_t lease_ms;     /* real ms an entry stays claimed */
	size_t batch;	      /* most entries claimed per call */
	int flush_timeout_ms; /* wait for acknowledgements at most this */
};

struct fire_result {
	size_t claimed;	       /* entries claimed by this call */
	int64_t next_due_ms;   /* earliest queued instant (product), or -1 */
	int64_t next_lease_ms; /* earliest lease expiry (real), or -1 */
};

/*
 * store, producer (used only by this struct: flushing waits for its own
 * messages), wf and metrics (may be NULL) are borrowed. The send and task
 * topics come from cfg. Returns NULL with the reason.
 */
struct fire *fire_new(const struct config *cfg, struct store *store,
		      struct kafka_producer *producer,
		      const struct workflow *wf, struct metrics *metrics,
		      const struct fire_settings *settings, char *err,
		      size_t errlen);

void fire_free(struct fire *f);

/*
 * Runs one batch of partition. Returns 0 with res filled, DN_ERR_REDIS
 * (nothing or only part was committed: leases make it safe to retry) or
 * DN_ERR_KAFKA (sends not acknowledged: their entries stay leased and are
 * claimed again), with the reason in err.
 */
int fire_partition(struct fire *f, int32_t partition, struct fire_result *res,
		   char *err, size_t errlen);

#endif
