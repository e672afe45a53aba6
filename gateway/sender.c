/* sender.c: the loop that turns send commands into Cloud API calls. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "sender.h"

#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "events.h"
#include "kafka.h"
#include "logger.h"
#include "metrics.h"
#include "pacing.h"
#include "progress.h"
#include "registry.h"
#include "settings.h"
#include "shutdown.h"
#include "wa_client.h"
#include "wa_request.h"
#include "wa_response.h"

#include "dunning/v1/whatsapp.pb-c.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GROUP_ID	  "dunning-gateway"
#define TOKEN_MAX	  4096
#define WINDOW_MS	  (24LL * 3600 * 1000)
#define INTAKE_BATCH	  512
#define COMMAND_MAX_BYTES (256 * 1024)
#define REASON_MAX	  300

enum job_stage { JOB_WAITING, JOB_CALLING, JOB_EMITTING };

/* One command between its arrival and its stored offset. */
struct job {
	struct progress_entry *entry;
	Dunning__V1__SendCommand *cmd;
	char *body;	    /* request JSON, once built */
	const char *sender; /* phone number id, borrowed */
	const char *to;	    /* recipient, borrowed from cmd */
	enum job_stage stage;
	int attempts;
	int claimed;	       /* recorded in Redis as ours */
	char claim_token[160]; /* this process and this job */
	int waited;	       /* paced at least once */
	int64_t not_before_ms; /* real ms */
	/* The outcome, kept so the event can be produced again. */
	Dunning__V1__DeliveryStatus status;
	int error_code;
	const char *final_state; /* "accepted", "failed" or "dropped" */
	char reason[REASON_MAX];
	char message_id[256];
	char wa_id[64];
	int64_t occurred_at_ms;
	int32_t partition;	 /* of the command, and of its customer */
	struct job *prev, *next; /* waiting list */
};

struct sender_metrics {
	struct metric *sent, *retries, *throttled, *pair_limited;
	struct metric *throttle_waits, *halted, *in_flight, *backlog;
	struct metric *duplicates, *expired, *refused, *dead_letters;
	struct metric *superseded;
};

struct sender {
	const struct config *cfg;
	struct metrics *metrics;
	struct sender_metrics m;
	struct settings_senders senders;
	struct catalogue *catalogue;
	struct registry *registry;
	struct kafka_consumer *consumer;
	struct kafka_producer *producer;
	struct wa_client *client;
	struct pacing *pacing;
	struct progress *progress;
	const char *events_topic;
	char owner[128];
	uint64_t job_serial;

	struct job *waiting_head, *waiting_tail;
	struct job *unrecorded; /* outcomes Redis did not take yet */
	int64_t record_retry_at_ms;
	size_t held; /* jobs in memory */
	size_t backlog_max;
	int concurrency;
	int retry_attempts;
	int64_t retry_base_ms, retry_max_ms, recheck_ms;

	char token[TOKEN_MAX];
	const char *token_file;
	_Atomic(const char *) halt_reason;
	int64_t halt_retry_at_ms; /* real ms of the next try while halted */
	int64_t halt_logged_ms;	  /* real ms of the last "still halted" */
	int probe_in_flight;
	unsigned random_state;
};

static int64_t real_ms(void)
{
	return clock_real_now_ms();
}

static unsigned next_random(struct sender *s)
{
	s->random_state = s->random_state * 1103515245u + 12345u;
	return (s->random_state >> 16) & 0x7FFF;
}

/* ---------------------------------------------------------------------- */
/* Jobs                                                                    */

static void waiting_push(struct sender *s, struct job *job, int front)
{
	job->stage = JOB_WAITING;
	job->prev = job->next = NULL;
	if (!s->waiting_head) {
		s->waiting_head = s->waiting_tail = job;
	} else if (front) {
		job->next = s->waiting_head;
		s->waiting_head->prev = job;
		s->waiting_head = job;
	} else {
		job->prev = s->waiting_tail;
		s->waiting_tail->next = job;
		s->waiting_tail = job;
	}
}

static void waiting_remove(struct sender *s, struct job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		s->waiting_head = job->next;
	if (job->next)
		job->next->prev = job->prev;
	else
		s->waiting_tail = job->prev;
	job->prev = job->next = NULL;
}

/* The command is finished and its event (if any) acknowledged. */
static void job_release(struct sender *s, struct job *job)
{
	progress_done(s->progress, job->entry);
	if (job->cmd)
		dunning__v1__send_command__free_unpacked(job->cmd, NULL);
	free(job->body);
	free(job);
	s->held--;
}

static void event_fill_status(const struct job *job,
			      Dunning__V1__MessageEvent *ev,
			      Dunning__V1__StatusUpdate *status, char *id,
			      size_t idlen)
{
	const char *word =
		job->status == DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_ACCEPTED
			? "accepted"
			: "failed";

	events_id(id, idlen,
		  job->message_id[0] ? job->message_id : job->cmd->command_id,
		  word);
	ev->event_id = id;
	ev->tenant = job->cmd->tenant;
	ev->customer_id = job->cmd->customer_id;
	ev->command_id = job->cmd->command_id;
	ev->wa_message_id = (char *)job->message_id;
	ev->wa_id = (char *)(job->wa_id[0] ? job->wa_id : job->cmd->wa_id);
	ev->occurred_at_ms = job->occurred_at_ms;
	status->status = job->status;
	status->error_code = job->error_code;
	status->error_title = (char *)job->reason;
	status->origin = "api";
	ev->body_case = DUNNING__V1__MESSAGE_EVENT__BODY_STATUS;
	ev->status = status;
}

/* Produces the job's outcome event; the delivery report releases it. */
static void job_emit(struct sender *s, struct job *job)
{
	Dunning__V1__MessageEvent ev = DUNNING__V1__MESSAGE_EVENT__INIT;
	Dunning__V1__StatusUpdate status = DUNNING__V1__STATUS_UPDATE__INIT;
	char id[EVENTS_ID_MAX], err[256];

	job->stage = JOB_EMITTING;
	event_fill_status(job, &ev, &status, id, sizeof(id));
	if (events_send(s->producer, s->events_topic, &ev, job, err,
			sizeof(err)) == DN_OK)
		return;
	/* Without an event the worker would never learn the outcome: keep
	 * the offset unstored and say so; a restart replays the command,
	 * which its record then answers. */
	log_error("KAFKA", "cannot produce outcome of command=%s: %s",
		  job->cmd->command_id, err);
	job_release(s, job);
}

/* Runs on the sender's thread, from kafka_producer_poll. */
static void on_delivery(void *ctx, void *opaque, int err, const char *errstr)
{
	struct sender *s = ctx;
	struct job *job = opaque;

	if (!job)
		return;
	if (err) {
		log_warn("KAFKA",
			 "outcome event not acknowledged, producing "
			 "again command=%s error=\"%s\"",
			 job->cmd->command_id, errstr ? errstr : "");
		job_emit(s, job);
		return;
	}
	job_release(s, job);
}

/* Writes the job's outcome to Redis; 0 or an error (logged). */
static int job_record(struct sender *s, struct job *job)
{
	const Dunning__V1__SendCommand *cmd = job->cmd;
	char err[256];
	int rc;

	if (job->status ==
	    DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_ACCEPTED)
		rc = registry_accepted(s->registry, cmd->command_id,
				       job->message_id, job->sender, job->wa_id,
				       cmd->phone_e164, cmd->tenant,
				       cmd->customer_id, err, sizeof(err));
	else
		rc = registry_finish(s->registry, cmd->command_id,
				     job->final_state, job->reason, err,
				     sizeof(err));
	if (rc)
		log_error("REDIS",
			  "cannot record outcome command=%s: %s; will retry",
			  cmd->command_id, err);
	return rc;
}

/*
 * Records the outcome, then produces its event. The offset moves only
 * after both, so an outcome Redis refuses is kept and recorded again.
 */
static void job_conclude(struct sender *s, struct job *job)
{
	if (job_record(s, job)) {
		job->next = s->unrecorded;
		s->unrecorded = job;
		s->record_retry_at_ms = real_ms() + 1000;
		return;
	}
	job_emit(s, job);
}

/* Tries again the outcomes Redis refused, once a second. */
static void unrecorded_retry(struct sender *s)
{
	struct job *job, *next;

	if (!s->unrecorded || real_ms() < s->record_retry_at_ms)
		return;
	job = s->unrecorded;
	s->unrecorded = NULL;
	for (; job; job = next) {
		next = job->next;
		job->next = NULL;
		job_conclude(s, job);
	}
}

/* Ends a job with a failed status: records it, then produces the event. */
static void job_fail(struct sender *s, struct job *job, const char *state,
		     int code, const char *reason)
{
	char labels[64];

	snprintf(job->reason, sizeof(job->reason), "%s", reason);
	job->final_state = state;
	job->status = DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_FAILED;
	job->error_code = code;
	job->occurred_at_ms = clock_now_ms();
	snprintf(labels, sizeof(labels), "code=\"%d\"", code);
	metrics_inc(s->metrics, "dunning_gateway_failed_total",
		    "commands that ended failed, by WhatsApp error code "
		    "(0: refused before the call)",
		    labels, 1);
	log_info("WA",
		 "command not sent command=%s state=%s code=%d "
		 "reason=\"%s\"",
		 job->cmd->command_id, state, code, reason);
	job_conclude(s, job);
}

/* ---------------------------------------------------------------------- */
/* Intake                                                                  */

static int command_complete(const Dunning__V1__SendCommand *cmd)
{
	return cmd->command_id && *cmd->command_id && cmd->tenant &&
	       *cmd->tenant && cmd->customer_id && *cmd->customer_id &&
	       ((cmd->phone_e164 && *cmd->phone_e164) ||
		(cmd->wa_id && *cmd->wa_id));
}

/* Undecodable input goes to the dead-letter topic, then counts as done. */
static void dead_letter(struct sender *s, struct job *job, const char *why)
{
	kafka_dead_letter(s->producer, s->cfg, progress_message(job->entry),
			  "gateway", why);
	metric_add(s->m.dead_letters, 1);
	log_warn("KAFKA", "send command dead-lettered reason=\"%s\"", why);
	job_release(s, job);
}

static int window_open(struct sender *s, struct job *job)
{
	int64_t last = 0;
	char err[256];

	if (registry_window_last(s->registry, job->cmd->tenant,
				 job->cmd->customer_id, &last, err,
				 sizeof(err))) {
		log_error("REDIS", "cannot read service window: %s", err);
		return 0;
	}
	return last > 0 && clock_now_ms() - last < WINDOW_MS;
}

static int deadline_passed(const struct job *job)
{
	return job->cmd->deadline_ms > 0 &&
	       clock_now_ms() > job->cmd->deadline_ms;
}

/* Checks what can be checked before the call; 0 when it may be sent. */
static int job_vet(struct sender *s, struct job *job)
{
	Dunning__V1__SendCommand *cmd = job->cmd;
	char why[REASON_MAX];

	if (deadline_passed(job)) {
		metric_add(s->m.expired, 1);
		job_fail(s, job, "dropped", 0,
			 "deadline passed before sending");
		return -1;
	}
	job->sender = settings_sender_for(&s->senders, cmd->tenant);
	if (!job->sender) {
		job_fail(s, job, "failed", 0, "no sender number for tenant");
		return -1;
	}
	if (cmd->kind == DUNNING__V1__SEND_KIND__SEND_KIND_TEXT &&
	    !window_open(s, job)) {
		metric_add(s->m.refused, 1);
		job_fail(s, job, "failed", 0,
			 "free-form text outside the 24-hour customer-service "
			 "window");
		return -1;
	}
	if ((cmd->kind == DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE &&
	     catalogue_check(s->catalogue, cmd->template_name, cmd->language,
			     cmd->n_parameters, why, sizeof(why))) ||
	    wa_request_build(cmd, job->to, &job->body, why, sizeof(why))) {
		metric_add(s->m.refused, 1);
		job_fail(s, job, "failed", 0, why);
		return -1;
	}
	return 0;
}

/*
 * Records the command before the call; 0 when it is ours to send.
 * TODO: a crash (not a clean stop) while a call is in flight or waiting
 * for a retry leaves the record "pending", and after a restart the
 * command counts as sent: at most once wins over exactly once, and the
 * worker never hears back about it.
 */
static int job_claim(struct sender *s, struct job *job)
{
	char state[64], err[256];
	int claimed = 0;

	if (registry_claim(s->registry, job->cmd->command_id, job->claim_token,
			   job->cmd->tenant, job->cmd->customer_id, &claimed,
			   state, sizeof(state), err, sizeof(err))) {
		/* Sending unrecorded could send twice: wait for Redis. */
		log_error("REDIS", "cannot record command=%s: %s; holding it",
			  job->cmd->command_id, err);
		return -1;
	}
	if (claimed) {
		job->claimed = 1;
		return 0;
	}
	metric_add(s->m.duplicates, 1);
	log_info("WA",
		 "command seen before, not sent again command=%s "
		 "state=%s",
		 job->cmd->command_id, state);
	job_release(s, job);
	return 1;
}

/* Takes one consumed message. Returns -1 when the sender must stop. */
static int intake(struct sender *s, rd_kafka_message_t *msg)
{
	struct job *job = calloc(1, sizeof(*job));
	const void *payload;
	size_t len;

	if (!job || !(job->entry = progress_add(s->progress, msg))) {
		free(job);
		kafka_message_free(msg);
		log_error("WA", "out of memory taking a command");
		return -1;
	}
	s->held++;
	snprintf(job->claim_token, sizeof(job->claim_token), "%s#%llu",
		 s->owner, (unsigned long long)++s->job_serial);
	job->partition = kafka_message_partition(msg);
	payload = kafka_message_payload(msg, &len);
	if (len > COMMAND_MAX_BYTES) {
		dead_letter(s, job, "send command larger than 256 KiB");
		return 0;
	}
	job->cmd = dunning__v1__send_command__unpack(NULL, len, payload);
	if (!job->cmd) {
		dead_letter(s, job, "protobuf decode of SendCommand failed");
		return 0;
	}
	if (!command_complete(job->cmd)) {
		dead_letter(s, job,
			    "send command lacks command_id, tenant, "
			    "customer_id or recipient");
		return 0;
	}
	job->to =
		*job->cmd->phone_e164 ? job->cmd->phone_e164 : job->cmd->wa_id;
	if (job_vet(s, job) == 0)
		waiting_push(s, job, 0);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Halting on token, account or sender trouble                             */

static const char *halt_reason_for(int code, long http_status)
{
	if (code == 190 || code == 0 || http_status == 401)
		return "access token expired or invalid";
	if (code == 368 || code == 131031 || code == 131042)
		return "business account blocked or restricted";
	if (code == 131045 || (code >= 133000 && code <= 133010))
		return "sender phone number not registered";
	return "API permission refused";
}

static void halt(struct sender *s, const struct wa_response *resp)
{
	const char *reason =
		halt_reason_for(resp->error_code, resp->http_status);
	char labels[64];

	if (!atomic_load(&s->halt_reason)) {
		log_error("WA",
			  "SENDING HALTED: %s (code %d, http %ld); "
			  "commands are kept and retried every %lld ms",
			  reason, resp->error_code, resp->http_status,
			  (long long)s->recheck_ms);
		snprintf(labels, sizeof(labels), "code=\"%d\"",
			 resp->error_code);
		metrics_inc(s->metrics, "dunning_gateway_halts_total",
			    "times sending halted, by error code", labels, 1);
	}
	atomic_store(&s->halt_reason, reason);
	metric_set(s->m.halted, 1);
	s->halt_retry_at_ms = real_ms() + s->recheck_ms;
}

static void resume(struct sender *s)
{
	if (!atomic_load(&s->halt_reason))
		return;
	log_notice("WA", "sending resumed after halt");
	s->halt_logged_ms = 0;
	atomic_store(&s->halt_reason, NULL);
	metric_set(s->m.halted, 0);
}

/* Reads the token file; 1 when the token changed. */
static int token_reload(struct sender *s)
{
	char fresh[TOKEN_MAX];
	FILE *f;
	size_t n;

	if (!s->token_file || !*s->token_file ||
	    !(f = fopen(s->token_file, "r")))
		return 0;
	n = fread(fresh, 1, sizeof(fresh) - 1, f);
	fclose(f);
	while (n > 0 && (fresh[n - 1] == '\n' || fresh[n - 1] == '\r' ||
			 fresh[n - 1] == ' '))
		n--;
	fresh[n] = '\0';
	if (n == 0 || strcmp(fresh, s->token) == 0)
		return 0;
	memcpy(s->token, fresh, n + 1);
	explicit_bzero(fresh, sizeof(fresh));
	wa_client_set_token(s->client, s->token);
	log_notice("WA", "access token re-read from DUNNING_WA_TOKEN_FILE");
	return 1;
}

const char *sender_halt_reason(const struct sender *s)
{
	return atomic_load(&((struct sender *)s)->halt_reason);
}

/* ---------------------------------------------------------------------- */
/* Answers                                                                 */

static void answer_accepted(struct sender *s, struct job *job,
			    const struct wa_response *resp)
{
	snprintf(job->message_id, sizeof(job->message_id), "%s",
		 resp->message_id);
	snprintf(job->wa_id, sizeof(job->wa_id), "%s", resp->wa_id);
	job->final_state = "accepted";
	job->status = DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_ACCEPTED;
	job->reason[0] = '\0';
	job->error_code = 0;
	job->occurred_at_ms = clock_now_ms();
	metric_add(s->m.sent, 1);
	resume(s);
	job_conclude(s, job);
}

static void answer_retry(struct sender *s, struct job *job,
			 enum wa_outcome outcome,
			 const struct wa_response *resp, const char *transport)
{
	char reason[REASON_MAX];
	int64_t now = real_ms();

	if (job->attempts >= s->retry_attempts) {
		snprintf(reason, sizeof(reason),
			 "gave up after %d attempts: %s", job->attempts,
			 transport		? transport
			 : resp->error_title[0] ? resp->error_title
						: "server error");
		job_fail(s, job, "failed", resp->error_code, reason);
		return;
	}
	if (outcome == WA_OUTCOME_THROTTLED) {
		pacing_throttled(s->pacing, job->sender, now);
		metric_add(s->m.throttled, 1);
	} else if (outcome == WA_OUTCOME_PAIR_LIMIT) {
		pacing_pair_limited(s->pacing, job->to, now);
		metric_add(s->m.pair_limited, 1);
	}
	metric_add(s->m.retries, 1);
	job->not_before_ms =
		now + pacing_backoff_ms(job->attempts, s->retry_base_ms,
					s->retry_max_ms, next_random(s) % 1024);
	log_debug("WA", "retrying command=%s attempt=%d outcome=%s",
		  job->cmd->command_id, job->attempts,
		  wa_outcome_name(outcome));
	waiting_push(s, job, 1);
}

static void answer_halt(struct sender *s, struct job *job,
			const struct wa_response *resp)
{
	char err[256];

	/* The API refused the call: nothing went out, so the command may
	 * be sent later, by this process or, after a restart, another. */
	if (registry_release(s->registry, job->cmd->command_id, err,
			     sizeof(err)))
		log_error("REDIS", "cannot release command=%s: %s",
			  job->cmd->command_id, err);
	job->claimed = 0;
	job->not_before_ms = 0;
	halt(s, resp);
	waiting_push(s, job, 1);
}

/* Runs on the sender's thread, from wa_client_run. */
static void on_answer(void *ctx, void *request, long http_status,
		      const char *body, size_t len, const char *transport)
{
	struct sender *s = ctx;
	struct job *job = request;
	struct wa_response resp;
	enum wa_outcome outcome;

	s->probe_in_flight = 0;
	job->attempts++;
	wa_response_parse(http_status, body, len, &resp);
	outcome = transport ? WA_OUTCOME_RETRY : wa_response_classify(&resp);
	switch (outcome) {
	case WA_OUTCOME_ACCEPTED:
		answer_accepted(s, job, &resp);
		break;
	case WA_OUTCOME_PERMANENT:
		job_fail(s, job, "failed", resp.error_code,
			 resp.error_title[0] ? resp.error_title
					     : "refused by the Cloud API");
		break;
	case WA_OUTCOME_HALT:
		answer_halt(s, job, &resp);
		break;
	default:
		answer_retry(s, job, outcome, &resp, transport);
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* Dispatch                                                                */

/*
 * Claims and calls. Returns 0 when started, 1 when the job ended (seen
 * before), 2 when Redis or the HTTP client refused: the job waits a
 * second at the head of the queue and this dispatch pass ends.
 */
/*
 * Why the reminder is no longer owed at the last moment, or NULL: a
 * payment or an opt-out may have reached the worker after it decided,
 * while the command waited here for its turn. A Redis failure lets it go,
 * as it went before this check existed.
 */
static const char *no_longer_owed(struct sender *s, struct job *job)
{
	const Dunning__V1__SendCommand *cmd = job->cmd;
	const char *why = NULL;
	char err[256];

	if (cmd->n_invoice_ids == 0)
		return NULL;
	if (registry_still_owed(s->registry, job->partition, cmd->tenant,
				cmd->customer_id, cmd->invoice_ids,
				cmd->n_invoice_ids, &why, err, sizeof(err))) {
		log_warn("REDIS",
			 "cannot check invoices before sending command=%s: "
			 "%s",
			 cmd->command_id, err);
		return NULL;
	}
	return why;
}

static int job_start(struct sender *s, struct job *job)
{
	const char *why;
	int rc;

	waiting_remove(s, job);
	if (!job->claimed && (rc = job_claim(s, job))) {
		if (rc > 0)
			return 1;
		job->not_before_ms = real_ms() + 1000;
		waiting_push(s, job, 1);
		return 2;
	}
	if ((why = no_longer_owed(s, job))) {
		char reason[REASON_MAX];

		snprintf(reason, sizeof(reason), "not sent: %s", why);
		metric_add(s->m.superseded, 1);
		metrics_inc(s->metrics, "dunning_gateway_superseded_total",
			    "commands dropped just before the call, by reason",
			    why == registry_why_opted_out
				    ? "reason=\"opted_out\""
				    : "reason=\"closed\"",
			    1);
		job_fail(s, job, "dropped", 0, reason);
		return 1;
	}
	rc = wa_client_start(s->client, job->sender, job->body, job);
	if (rc) {
		log_error("WA", "cannot start request command=%s: %s",
			  job->cmd->command_id, dn_strerror(rc));
		job->not_before_ms = real_ms() + 1000;
		waiting_push(s, job, 1);
		return 2;
	}
	job->stage = JOB_CALLING;
	return 0;
}

/* While halted: after each recheck interval, re-read the token and try
 * the oldest command alone. */
static int dispatch_probe(struct sender *s)
{
	int64_t now = real_ms();

	if (s->probe_in_flight || now < s->halt_retry_at_ms || !s->waiting_head)
		return 0;
	s->halt_retry_at_ms = now + s->recheck_ms;

	/* Keep saying so while it lasts, once a minute. */
	if (now - s->halt_logged_ms >= 60000) {
		if (s->halt_logged_ms)
			log_error("WA",
				  "sending still halted: %s; commands "
				  "held=%zu",
				  atomic_load(&s->halt_reason), s->held);
		s->halt_logged_ms = now;
	}
	token_reload(s);
	if (job_start(s, s->waiting_head) == 0)
		s->probe_in_flight = 1;
	return 0;
}

static int sender_blocked(const char **blocked, int count, const char *id)
{
	int i;

	for (i = 0; i < count; i++)
		if (blocked[i] == id)
			return 1;
	return 0;
}

/* Asks pacing whether job may go now; sets its wait otherwise. */
static int job_paced(struct sender *s, struct job *job, int64_t now,
		     const char **blocked, int *blocked_count, int64_t *wake_ms)
{
	int64_t wait;

	if (sender_blocked(blocked, *blocked_count, job->sender))
		return 1;
	wait = pacing_sender_wait(s->pacing, job->sender, now);
	if (wait > 0) {
		if (*blocked_count < PACING_SENDERS_MAX)
			blocked[(*blocked_count)++] = job->sender;
	} else {
		wait = pacing_reserve(s->pacing, job->sender, job->to, now);
		if (wait > 0)
			job->not_before_ms = now + wait;
	}
	if (wait == 0)
		return 0;
	if (!job->waited) {
		job->waited = 1;
		metric_add(s->m.throttle_waits, 1);
	}
	if (now + wait < *wake_ms)
		*wake_ms = now + wait;
	return 1;
}

/* Starts every waiting job that may go now; sets *wake_ms to the next
 * instant one may. Returns -1 when the sender must stop. */
static int dispatch(struct sender *s, int64_t *wake_ms)
{
	const char *blocked[PACING_SENDERS_MAX];
	int blocked_count = 0;
	struct job *job, *next;
	int64_t now = real_ms();

	if (atomic_load(&s->halt_reason))
		return dispatch_probe(s);
	for (job = s->waiting_head; job; job = next) {
		next = job->next;
		if (wa_client_in_flight(s->client) >= s->concurrency)
			break;
		if (job->not_before_ms > now) {
			if (job->not_before_ms < *wake_ms)
				*wake_ms = job->not_before_ms;
			continue;
		}
		if (deadline_passed(job)) {
			waiting_remove(s, job);
			metric_add(s->m.expired, 1);
			job_fail(s, job, "dropped", 0,
				 "deadline passed before sending");
			continue;
		}
		if (job_paced(s, job, now, blocked, &blocked_count, wake_ms))
			continue;
		if (job_start(s, job) == 2)
			break;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Loop                                                                    */

/* Takes up to a batch of commands; waits up to wait_ms for the first. */
static int intake_batch(struct sender *s, int wait_ms)
{
	rd_kafka_message_t *msg;
	int n;

	for (n = 0; n < INTAKE_BATCH && s->held < s->backlog_max; n++) {
		msg = kafka_consumer_poll(s->consumer, n == 0 ? wait_ms : 0);
		if (!msg)
			break;
		if (intake(s, msg) < 0)
			return -1;
	}
	return n;
}

static void gauges_update(struct sender *s)
{
	metric_set(s->m.in_flight, wa_client_in_flight(s->client));
	metric_set(s->m.backlog, (int64_t)s->held);
}

static int idle(const struct sender *s)
{
	return wa_client_in_flight(s->client) == 0 && !s->waiting_head;
}

/* One turn: take commands, start calls, move transfers, serve reports. */
static int sender_turn(struct sender *s)
{
	int64_t wake = real_ms() + 50, now;
	int taken, timeout;

	unrecorded_retry(s);
	taken = intake_batch(s, idle(s) ? 50 : 0);
	if (taken < 0 || dispatch(s, &wake) < 0)
		return -1;
	now = real_ms();
	timeout = wa_client_in_flight(s->client) || s->waiting_head
			  ? (int)(wake > now ? wake - now : 0)
			  : 0;
	if (timeout > 20)
		timeout = 20;
	if (taken == INTAKE_BATCH)
		timeout = 0;
	wa_client_run(s->client, timeout);
	kafka_producer_poll(s->producer, 0);
	gauges_update(s);
	return 0;
}

/* Frees a job whose offset must not move (it is redelivered later). */
static void job_abandon(struct sender *s, struct job *job)
{
	if (job->cmd)
		dunning__v1__send_command__free_unpacked(job->cmd, NULL);
	free(job->body);
	free(job);
	s->held--;
}

/* On stop: let calls finish, produce their events, release the rest. */
static void sender_drain(struct sender *s)
{
	int64_t until =
		real_ms() + config_int(s->cfg, "DUNNING_GATEWAY_TIMEOUT_MS");
	struct job *job;
	char err[256];

	while (wa_client_in_flight(s->client) && real_ms() < until) {
		wa_client_run(s->client, 50);
		kafka_producer_poll(s->producer, 0);
	}
	s->record_retry_at_ms = 0;
	unrecorded_retry(s); /* a last try */
	kafka_producer_flush(s->producer, 10000);
	while ((job = s->unrecorded)) {
		s->unrecorded = job->next;
		job_abandon(s, job);
	}
	while ((job = s->waiting_head)) {
		waiting_remove(s, job);
		if (job->claimed &&
		    registry_release(s->registry, job->cmd->command_id, err,
				     sizeof(err)))
			log_error("REDIS", "cannot release command=%s: %s",
				  job->cmd->command_id, err);
		job_abandon(s, job);
	}
}

int sender_run(struct sender *s)
{
	int rc = DN_OK;

	log_info("WA", "sender started group=%s", GROUP_ID);
	while (!shutdown_requested()) {
		if (sender_turn(s) < 0) {
			rc = DN_ERR_UNAVAILABLE;
			break;
		}
	}
	sender_drain(s);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Life                                                                    */

/* Runs on the sender's thread, from kafka_consumer_poll. */
static void on_revoked(void *ctx, const struct kafka_partition *parts,
		       size_t count)
{
	struct sender *s = ctx;
	struct job *job, *next;
	char err[256];
	size_t i;

	if (!s->progress)
		return;
	for (i = 0; i < count; i++)
		progress_revoke(s->progress, parts[i].topic,
				parts[i].partition);
	for (job = s->waiting_head; job; job = next) {
		const rd_kafka_message_t *msg = progress_message(job->entry);

		next = job->next;
		for (i = 0; i < count; i++)
			if (parts[i].partition == kafka_message_partition(msg))
				break;
		if (i == count)
			continue;
		waiting_remove(s, job);
		if (job->claimed)
			registry_release(s->registry, job->cmd->command_id, err,
					 sizeof(err));
		job_release(s, job);
	}
}

static void metrics_register(struct sender *s)
{
	struct metrics *m = s->metrics;
	struct sender_metrics *sm = &s->m;

	sm->sent =
		metrics_series(m, METRIC_COUNTER, "dunning_gateway_sent_total",
			       "messages the Cloud API accepted", NULL);
	sm->retries = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_retries_total",
		"calls retried after a retryable error", NULL);
	sm->throttled = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_throughput_errors_total",
		"throughput errors (130429 and alike) answered", NULL);
	sm->pair_limited = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_pair_limit_errors_total",
		"pair rate errors (131056) answered", NULL);
	sm->throttle_waits = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_throttle_waits_total",
		"commands that waited for pacing", NULL);
	sm->halted = metrics_series(m, METRIC_GAUGE, "dunning_gateway_halted",
				    "1 while sending is halted (token, "
				    "account or sender trouble)",
				    NULL);
	sm->in_flight =
		metrics_series(m, METRIC_GAUGE, "dunning_gateway_in_flight",
			       "Cloud API calls in flight", NULL);
	sm->backlog = metrics_series(m, METRIC_GAUGE, "dunning_gateway_backlog",
				     "commands held in memory", NULL);
	sm->duplicates = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_commands_total",
		"commands by what became of them", "result=\"duplicate\"");
	sm->expired = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_commands_total",
		"commands by what became of them", "result=\"expired\"");
	sm->superseded = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_commands_total",
		"commands by what became of them", "result=\"superseded\"");
	sm->refused = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_commands_total",
		"commands by what became of them", "result=\"refused\"");
	sm->dead_letters = metrics_series(
		m, METRIC_COUNTER, "dunning_gateway_commands_total",
		"commands by what became of them", "result=\"dead_letter\"");
}

static int token_init(struct sender *s, char *err, size_t errlen)
{
	const char *token = config_str(s->cfg, "DUNNING_WA_TOKEN");

	s->token_file = config_str(s->cfg, "DUNNING_WA_TOKEN_FILE");
	snprintf(s->token, sizeof(s->token), "%s", token);
	if (!s->token[0])
		token_reload(s);
	if (!s->token[0])
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_WA_TOKEN or DUNNING_WA_TOKEN_FILE is "
			       "required");
	return wa_client_set_token(s->client, s->token);
}

static int clients_new(struct sender *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	const char *topics[] = { config_str(cfg,
					    "DUNNING_TOPIC_WHATSAPP_SEND") };
	static const char *const consumer_extra[] = { "max.poll.interval.ms",
						      "86400000", NULL, NULL };
	struct kafka_rebalance_hooks hooks = { NULL, on_revoked, s };

	s->client = wa_client_new(
		config_str(cfg, "DUNNING_WA_BASE_URL"),
		config_str(cfg, "DUNNING_WA_API_VERSION"),
		(int)config_int(cfg, "DUNNING_GATEWAY_CONCURRENCY"),
		(long)config_int(cfg, "DUNNING_GATEWAY_TIMEOUT_MS"), on_answer,
		s, err, errlen);
	if (!s->client || token_init(s, err, errlen))
		return DN_ERR_CONFIG;
	s->producer =
		kafka_producer_new(cfg, "dunning-gateway", NULL, err, errlen);
	if (!s->producer)
		return DN_ERR_KAFKA;
	kafka_producer_on_delivery(s->producer, on_delivery, s);
	s->consumer =
		kafka_consumer_new(cfg, GROUP_ID, topics, 1, &hooks, s->metrics,
				   consumer_extra, err, errlen);
	if (!s->consumer)
		return DN_ERR_KAFKA;
	s->progress = progress_new(s->consumer);
	return s->progress ? DN_OK : DN_ERR_NOMEM;
}

static int sender_setup(struct sender *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	char host[64] = "host";

	if (settings_senders_parse(config_str(cfg, "DUNNING_WA_SENDERS"),
				   &s->senders, err, errlen))
		return DN_ERR_CONFIG;
	s->catalogue = catalogue_load(
		config_str(cfg, "DUNNING_GATEWAY_TEMPLATES"), err, errlen);
	if (!s->catalogue)
		return DN_ERR_CONFIG;
	s->registry = registry_new(
		config_str(cfg, "DUNNING_REDIS_URL"),
		(int)config_int(cfg, "DUNNING_REDIS_TIMEOUT_MS"), err, errlen);
	if (!s->registry)
		return DN_ERR_REDIS;
	s->pacing =
		pacing_new(config_int(cfg, "DUNNING_GATEWAY_MPS"),
			   config_bool(cfg, "DUNNING_GATEWAY_PACING"),
			   config_int(cfg, "DUNNING_GATEWAY_PAIR_SPACING_MS"));
	if (!s->pacing)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	gethostname(host, sizeof(host) - 1);
	snprintf(s->owner, sizeof(s->owner), "%s/%ld/%lld", host,
		 (long)getpid(), (long long)real_ms());
	return clients_new(s, err, errlen);
}

struct sender *sender_new(const struct config *cfg, struct metrics *metrics,
			  char *err, size_t errlen)
{
	struct sender *s = calloc(1, sizeof(*s));

	if (!s) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->metrics = metrics;
	s->events_topic = config_str(cfg, "DUNNING_TOPIC_WHATSAPP_EVENTS");
	s->backlog_max = (size_t)config_int(cfg, "DUNNING_GATEWAY_BACKLOG");
	s->concurrency = (int)config_int(cfg, "DUNNING_GATEWAY_CONCURRENCY");
	s->retry_attempts =
		(int)config_int(cfg, "DUNNING_GATEWAY_RETRY_ATTEMPTS");
	s->retry_base_ms = config_int(cfg, "DUNNING_GATEWAY_RETRY_BASE_MS");
	s->retry_max_ms = config_int(cfg, "DUNNING_GATEWAY_RETRY_MAX_MS");
	s->recheck_ms = config_int(cfg, "DUNNING_GATEWAY_HALT_RECHECK_MS");
	s->random_state = (unsigned)real_ms() ^ (unsigned)getpid();
	atomic_init(&s->halt_reason, NULL);
	metrics_register(s);
	if (sender_setup(s, err, errlen)) {
		sender_free(s);
		return NULL;
	}
	return s;
}

void sender_free(struct sender *s)
{
	if (!s)
		return;
	/* Calls still running are abandoned; reports that come late must not
	 * reach jobs and offsets freed here. */
	wa_client_free(s->client);
	if (s->producer)
		kafka_producer_on_delivery(s->producer, NULL, NULL);
	kafka_producer_free(s->producer);
	progress_free(s->progress);
	s->progress = NULL; /* the consumer's last revoke must not reach it */
	kafka_consumer_free(s->consumer);
	pacing_free(s->pacing);
	registry_free(s->registry);
	catalogue_free(s->catalogue);
	explicit_bzero(s->token, sizeof(s->token));
	free(s);
}
