/* fire.c: claim, decide, emit and commit one batch of a partition. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "fire.h"

#include "clock.h"
#include "compose.h"
#include "config.h"
#include "decide.h"
#include "error.h"
#include "kafka.h"
#include "logger.h"
#include "metrics.h"
#include "queue.h"
#include "schedule.h"
#include "shard.h"
#include "state.h"
#include "store.h"
#include "workflow.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRE_RETRY_MS 3600000 /* product ms before an unplannable retry */

extern const char commit_lua[];

/* ---------------------------------------------------------------------- */
/* Growing argument lists for commit.lua calls                              */

struct args {
	char *buf;
	size_t used, cap;
	size_t *offs; /* where each argument starts in buf (NUL-ended) */
	int argc, max;
	bool oom;
};

static void args_add(struct args *a, const char *text, size_t n)
{
	if (a->oom)
		return;
	if (a->argc == a->max) {
		int max = a->max ? a->max * 2 : 32;
		size_t *offs = realloc(a->offs, sizeof(*offs) * (size_t)max);

		if (!offs) {
			a->oom = true;
			return;
		}
		a->offs = offs;
		a->max = max;
	}
	if (a->used + n + 1 > a->cap) {
		size_t cap = (a->cap ? a->cap * 2 : 1024) + n;
		char *buf = realloc(a->buf, cap);

		if (!buf) {
			a->oom = true;
			return;
		}
		a->buf = buf;
		a->cap = cap;
	}
	memcpy(a->buf + a->used, text, n);
	a->buf[a->used + n] = '\0';
	a->offs[a->argc++] = a->used;
	a->used += n + 1;
}

static void args_str(struct args *a, const char *text)
{
	args_add(a, text, strlen(text));
}

static void args_fmt(struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void args_fmt(struct args *a, const char *fmt, ...)
{
	char text[STATE_KEY_MAX + COMPOSE_ID_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	args_add(a, text,
		 n < 0			    ? 0
		 : (size_t)n < sizeof(text) ? (size_t)n
					    : sizeof(text) - 1);
}

static void args_release(struct args *a)
{
	free(a->buf);
	free(a->offs);
	memset(a, 0, sizeof(*a));
}

/* ---------------------------------------------------------------------- */
/* A batch                                                                  */

/* One commit.lua call: invoices of one customer decided together. */
struct unit {
	struct args args;
	size_t n_invoices;
	size_t count_at; /* index of the invoice-count argument */
	char count[24];	 /* its text, filled at commit */
	bool has_send;	 /* committed only if its messages were acknowledged */
};

struct outgoing {
	struct compose_out msg;
	const char *topic;
	char key[STATE_ID_MAX * 2 + 2];
};

struct batch {
	int32_t partition;
	int64_t now;
	struct unit *units;
	size_t n_units, max_units;
	struct outgoing *out;
	size_t n_out, max_out;
};

struct fire {
	const struct config *cfg;
	struct store *store;
	struct kafka_producer *producer;
	const struct workflow *wf;
	struct metrics *metrics;
	struct fire_settings settings;
	int claim_script;
	char commit_sha[41];
	struct queue_claim *claim;
	struct metric *claimed, *claim_lag, *rtt, *tasks, *errors;
};

static void *grow(void *array, size_t *max, size_t size)
{
	size_t n = *max ? *max * 2 : 16;
	void *p = realloc(array, n * size);

	if (p)
		*max = n;
	return p;
}

/* A unit's arguments: its customer's hash (a key of the call), then the
 * unit's group of commit.lua arguments, its invoice count last so far. */
static struct unit *unit_new(struct batch *b, const char *customer_key,
			     const char *sent_line, const char *stats)
{
	char key[STATE_KEY_MAX];
	struct unit *u;

	if (b->n_units == b->max_units) {
		struct unit *units = grow(b->units, &b->max_units, sizeof(*u));

		if (!units)
			return NULL;
		b->units = units;
	}
	u = &b->units[b->n_units++];
	memset(u, 0, sizeof(*u));
	if (shard_customer_key_joined(key, sizeof(key), b->partition,
				      customer_key))
		u->args.oom = true; /* never committed with a cut key */
	args_str(&u->args, key);
	args_str(&u->args, customer_key);
	args_str(&u->args, sent_line);
	args_str(&u->args, stats);
	u->count_at = (size_t)u->args.argc;
	args_str(&u->args, "0");
	return u;
}

static void unit_invoice(struct unit *u, const char *id, const char *sv,
			 size_t step, char mark, int64_t next_ms,
			 const char *line)
{
	args_str(&u->args, id);
	args_str(&u->args, sv);
	args_fmt(&u->args, "%zu", step);
	args_add(&u->args, &mark, 1);
	args_fmt(&u->args, "%" PRId64, next_ms);
	args_str(&u->args, line);
	u->n_invoices++;
}

static void batch_release(struct batch *b)
{
	size_t i;

	for (i = 0; i < b->n_units; i++)
		args_release(&b->units[i].args);
	for (i = 0; i < b->n_out; i++)
		free(b->out[i].msg.data);
	free(b->units);
	free(b->out);
	memset(b, 0, sizeof(*b));
}

/* ---------------------------------------------------------------------- */
/* Planning one customer                                                    */

/* What is known of one invoice of the customer being planned. */
struct candidate {
	struct state_invoice *invoice;
	bool claimed;
	bool planned; /* action is valid */
	struct schedule_action action;
};

/* An invoice not sent now: postponed, or suppressed with a reason. */
struct quiet {
	char id[STATE_ID_MAX];
	const char *schedule_version;
	size_t step;
	char mark;
	int64_t next_ms;
	char line[160];
	char field[64];
	uint32_t expired, superseded; /* steps passed over, see schedule.h */
};

struct customer_plan {
	struct fire *f;
	struct batch *b;
	const struct workflow_tenant *t;
	struct state_customer *c;
	const char *zone;
	char customer_key[STATE_ID_MAX * 2 + 2];
	char today[SCHEDULE_DAY_KEY_MAX];
	int sent_in_window;
	struct candidate *cands;
	size_t n_cands;
	struct quiet *quiet;
	size_t n_quiet;
	struct compose_item *sends;
	size_t n_sends;
};

/* The next action of inv as of at_ms. */
static int next_action(const struct customer_plan *p,
		       const struct state_invoice *inv, int64_t at_ms,
		       struct schedule_action *out)
{
	struct schedule_facts facts = { 0 };
	char err[256];
	int rc;

	facts.due_date = inv->due_date;
	facts.time_zone = p->zone;
	facts.amount_minor = inv->amount_minor - inv->paid_minor;
	facts.currency = inv->currency;
	facts.segment = p->c->segment;
	facts.history = inv->steps;
	facts.n_history = inv->n_steps;
	facts.unanswered = inv->unanswered;
	facts.escalated = inv->escalated;
	facts.now_ms = at_ms;
	rc = schedule_next(p->t, &facts, out, err, sizeof(err));
	if (rc)
		log_warn("SCHED", "cannot plan invoice=%s tenant=%s: %s",
			 inv->id, p->c->tenant, err);
	return rc;
}

/* Marks step of inv done now in the copy after. */
static void mark_done(const struct customer_plan *p,
		      struct state_invoice *after, size_t step)
{
	size_t i;

	if (step >= WORKFLOW_MAX_STEPS)
		return;
	for (i = after->n_steps; i <= step; i++)
		after->steps[i] = (struct schedule_step_history){ 0, 0 };
	if (after->n_steps <= step)
		after->n_steps = step + 1;
	after->steps[step].done++;
	after->steps[step].last_ms = p->b->now;
}

/*
 * The next instant after marking a's step done now with mark, and the
 * steps a passed over given up (0: nothing more). When that next plan
 * passes over steps itself, the entry comes back at once so that the
 * timer records them.
 */
static int64_t next_after(const struct customer_plan *p,
			  const struct state_invoice *inv,
			  const struct schedule_action *a, char mark)
{
	struct state_invoice *after = malloc(sizeof(*after));
	uint32_t passed = a->expired_steps | a->superseded_steps;
	struct schedule_action action;
	int64_t next = 0;
	size_t i;

	if (!after)
		return p->b->now + FIRE_RETRY_MS;
	*after = *inv;
	mark_done(p, after, a->step_index);
	for (i = 0; i < WORKFLOW_MAX_STEPS; i++)
		if (i != a->step_index && (passed & (UINT32_C(1) << i)))
			mark_done(p, after, i);
	if (mark == 'r')
		after->unanswered++;
	if (mark == 'f')
		after->escalated = true;
	if (!next_action(p, after, p->b->now, &action) &&
	    (action.expired_steps || action.superseded_steps))
		next = p->b->now + 1;
	else if (!action.done)
		next = action.fire_ms > p->b->now ? action.fire_ms
						  : p->b->now + 1;
	free(after);
	return next;
}

static void quiet_add(struct customer_plan *p, const struct state_invoice *inv,
		      size_t step, char mark, int64_t next_ms,
		      const char *reason)
{
	struct quiet *q = &p->quiet[p->n_quiet++];

	snprintf(q->id, sizeof(q->id), "%s", inv->id);
	q->schedule_version = inv->schedule_version;
	q->step = step;
	q->mark = mark;
	q->next_ms = next_ms;
	q->expired = q->superseded = 0;
	q->line[0] = q->field[0] = '\0';
	if (!reason)
		return;
	snprintf(q->line, sizeof(q->line), "suppressed %s %s", reason,
		 p->t->steps[step].name);
	snprintf(q->field, sizeof(q->field), "suppressed:%s", reason);
}

/* The last invoice quieted also gives up the steps a passed over. */
static void quiet_passed(struct customer_plan *p,
			 const struct schedule_action *a)
{
	struct quiet *q = &p->quiet[p->n_quiet - 1];

	q->expired = a->expired_steps;
	q->superseded = a->superseded_steps;
}

static void snapshot_fill(const struct customer_plan *p,
			  const struct candidate *cand,
			  struct decide_snapshot *s)
{
	const struct workflow_step *step =
		&p->t->steps[cand->action.step_index];
	const struct state_invoice *inv = cand->invoice;

	memset(s, 0, sizeof(*s));
	s->status = DECIDE_INVOICE_OPEN;
	s->outstanding_minor = inv->amount_minor - inv->paid_minor;
	s->opt_in = p->c->opt_in == STATE_OPTED_IN    ? DECIDE_OPTED_IN
		    : p->c->opt_in == STATE_OPTED_OUT ? DECIDE_OPTED_OUT
						      : DECIDE_OPT_IN_UNKNOWN;
	s->escalated = inv->escalated;
	s->final_step = step->kind == WORKFLOW_STEP_FINAL;
	s->sent_in_cap_window = p->sent_in_window;
	s->now_ms = p->b->now;
	s->planned_ms = cand->action.fire_ms;
	s->deadline_ms = cand->action.deadline_ms;
	s->send_minute = step->send_minute;
	s->workflow = p->t;
	s->time_zone = p->zone;
}

static void count_suppressed(struct fire *f, const char *reason)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	metrics_inc(f->metrics, "dunning_worker_reminders_suppressed_total",
		    "reminders not sent, by reason", labels, 1);
}

static void send_add(struct customer_plan *p, const struct candidate *cand)
{
	p->sends[p->n_sends].invoice = cand->invoice;
	p->sends[p->n_sends].action = cand->action;
	p->n_sends++;
}

static bool escalate_unsent(struct customer_plan *p,
			    const struct compose_item *item,
			    enum decide_reason reason);

/* Whether a final step suppressed for reason still owes a collector task:
 * the invoice is owed, only the message cannot go. */
static bool escalates_anyway(const struct customer_plan *p,
			     const struct schedule_action *a,
			     enum decide_reason reason)
{
	if (p->t->steps[a->step_index].kind != WORKFLOW_STEP_FINAL ||
	    !p->t->escalation.collector_task)
		return false;
	return reason == DECIDE_REASON_OPTED_OUT ||
	       reason == DECIDE_REASON_NO_OPT_IN ||
	       reason == DECIDE_REASON_EXPIRED ||
	       reason == DECIDE_REASON_FREQUENCY_CAP;
}

/*
 * A step that may be sent late (it repeats, or it is the final step) whose
 * deadline passed before the claim is never given up: it is planned again
 * as of now, which moves it to its next send time (schedule.h), and the
 * entry waits for that. Returns false when that plan has no later instant.
 */
static bool replan_late(struct customer_plan *p, const struct candidate *cand)
{
	const struct workflow_step *s = &p->t->steps[cand->action.step_index];
	struct schedule_action a;

	if (s->kind != WORKFLOW_STEP_FINAL && s->repeat_every_days == 0)
		return false;
	if (next_action(p, cand->invoice, p->b->now, &a) || a.done ||
	    a.fire_ms <= p->b->now)
		return false;
	quiet_add(p, cand->invoice, a.step_index, 'p', a.fire_ms, NULL);
	quiet_passed(p, &a);
	return true;
}

/* A claimed invoice whose time has come: decide, and keep it for the
 * message or record why not. */
static void decide_claimed(struct customer_plan *p, struct candidate *cand)
{
	const struct state_invoice *inv = cand->invoice;
	size_t step = cand->action.step_index;
	struct decide_snapshot snap;
	struct decision d;
	char err[256];

	snapshot_fill(p, cand, &snap);
	if (decide_evaluate(&snap, &d, err, sizeof(err))) {
		log_warn("SCHED", "cannot decide invoice=%s: %s", inv->id, err);
		quiet_add(p, inv, step, 'p', p->b->now + FIRE_RETRY_MS, NULL);
	} else if (d.verdict == DECIDE_SEND) {
		send_add(p, cand);
	} else if (d.verdict == DECIDE_POSTPONE) {
		quiet_add(p, inv, step, 'p', d.postpone_to_ms, NULL);
		quiet_passed(p, &cand->action);
	} else if (d.reason == DECIDE_REASON_EXPIRED && replan_late(p, cand)) {
		return;
	} else if (escalates_anyway(p, &cand->action, d.reason)) {
		struct compose_item item = { inv, cand->action };

		if (!escalate_unsent(p, &item, d.reason))
			quiet_add(p, inv, step, 'p', p->b->now + FIRE_RETRY_MS,
				  NULL);
	} else {
		quiet_add(p, inv, step, 'x',
			  next_after(p, inv, &cand->action, 'x'),
			  decide_reason_name(d.reason));
		quiet_passed(p, &cand->action);
	}
}

/* A claimed invoice: plan it, and decide when its time has come. */
static void plan_claimed(struct customer_plan *p, struct candidate *cand)
{
	struct state_invoice *inv = cand->invoice;

	if (inv->status != 'o') {
		quiet_add(p, inv, 0, 'p', 0, NULL); /* lease released */
		return;
	}
	if (!cand->planned) {
		quiet_add(p, inv, 0, 'p', p->b->now + FIRE_RETRY_MS, NULL);
		return;
	}
	if (cand->action.done) {
		quiet_add(p, inv, 0, 'p', 0, NULL); /* leaves the queue */
		quiet_passed(p, &cand->action);
		return;
	}
	if (cand->action.fire_ms > p->b->now) {
		quiet_add(p, inv, cand->action.step_index, 'p',
			  cand->action.fire_ms, NULL);
		quiet_passed(p, &cand->action);
		return;
	}
	decide_claimed(p, cand);
}

/* An invoice of the same customer not claimed now, due for a reminder on
 * the same local day: it goes in the same message when it may be sent. */
static void consider_companion(struct customer_plan *p, struct candidate *cand)
{
	struct decide_snapshot snap;
	struct decision d;
	char day[SCHEDULE_DAY_KEY_MAX];

	if (cand->claimed || !cand->planned || cand->action.done ||
	    cand->invoice->status != 'o' ||
	    schedule_day_key(p->zone, cand->action.fire_ms, day, sizeof(day),
			     NULL, 0) ||
	    strcmp(day, p->today) != 0)
		return;
	snapshot_fill(p, cand, &snap);
	if (snap.planned_ms > p->b->now)
		snap.planned_ms = p->b->now;
	if (decide_evaluate(&snap, &d, NULL, 0) == 0 &&
	    d.verdict == DECIDE_SEND)
		send_add(p, cand);
}

/* Loads the candidates: every invoice of the customer, claimed or not. */
static int plan_begin(struct customer_plan *p, char **claimed_ids,
		      size_t n_claimed)
{
	struct state_customer *c = p->c;
	size_t i, k, n = c->n_invoices + n_claimed;

	p->cands = calloc(n + 1, sizeof(*p->cands));
	p->quiet = calloc(n + 1, sizeof(*p->quiet));
	p->sends = calloc(n + 1, sizeof(*p->sends));
	if (!p->cands || !p->quiet || !p->sends)
		return DN_ERR_NOMEM;
	for (i = 0; i < c->n_invoices; i++) {
		struct candidate *cand = &p->cands[p->n_cands++];

		cand->invoice = &c->invoices[i];
		for (k = 0; k < n_claimed; k++)
			if (strcmp(claimed_ids[k], c->invoices[i].id) == 0)
				cand->claimed = true;
		cand->planned = c->invoices[i].status == 'o' &&
				c->invoices[i].has_due_date &&
				next_action(p, &c->invoices[i], p->b->now,
					    &cand->action) == 0;
	}
	return DN_OK;
}

static void plan_release(struct customer_plan *p)
{
	free(p->cands);
	free(p->quiet);
	free(p->sends);
}

/* ---------------------------------------------------------------------- */
/* Messages of one customer                                                 */

static int compare_items(const void *a, const void *b)
{
	const struct compose_item *x = a, *y = b;

	return strcmp(x->invoice->id, y->invoice->id);
}

static struct outgoing *outgoing_add(struct batch *b)
{
	if (b->n_out == b->max_out) {
		struct outgoing *out = grow(b->out, &b->max_out, sizeof(*out));

		if (!out)
			return NULL;
		b->out = out;
	}
	return &b->out[b->n_out++];
}

static char step_mark(const struct workflow_step *step)
{
	if (step->kind == WORKFLOW_STEP_FINAL)
		return 'f';
	return step->counts_as_reminder ? 'r' : 's';
}

/* The collector task that goes with a final message. */
static void emit_task(struct customer_plan *p, const struct compose_item *items,
		      size_t n)
{
	struct fire *f = p->f;
	struct outgoing *o = outgoing_add(p->b);
	char err[256];

	if (!o)
		return;
	if (compose_task(p->t, p->c, items, n, p->b->now, &o->msg, err,
			 sizeof(err))) {
		log_error("SCHED",
			  "cannot build collector task customer=%s: %s",
			  p->customer_key, err);
		p->b->n_out--;
		return;
	}
	o->topic = config_str(f->cfg, "DUNNING_TOPIC_COLLECTIONS_TASKS");
	snprintf(o->key, sizeof(o->key), "%s", p->customer_key);
	metric_add(f->tasks, 1);
}

/*
 * Why step i was passed over by a plan whose own step is main with mark
 * (its own step is never given up twice), or NULL when it was not.
 */
static const char *passed_reason(uint32_t expired, uint32_t superseded,
				 size_t i, size_t main, char mark)
{
	uint32_t bit = UINT32_C(1) << i;

	if (i >= WORKFLOW_MAX_STEPS || (i == main && mark != 'p'))
		return NULL;
	if (expired & bit)
		return decide_reason_name(DECIDE_REASON_EXPIRED);
	if (superseded & bit)
		return decide_reason_name(DECIDE_REASON_SUPERSEDED);
	return NULL;
}

/* Appends "suppressed:<reason>" to stats for every step passed over, and
 * counts it. */
static void passed_stats(struct customer_plan *p, uint32_t expired,
			 uint32_t superseded, size_t main, char mark,
			 char *stats, size_t len, size_t *used)
{
	for (size_t i = 0; i < p->t->n_steps; i++) {
		const char *why =
			passed_reason(expired, superseded, i, main, mark);
		int n;

		if (!why || *used + 40 >= len)
			continue;
		n = snprintf(stats + *used, len - *used, "%ssuppressed:%s",
			     *used ? "," : "", why);
		*used += n > 0 ? (size_t)n : 0;
		count_suppressed(p->f, why);
	}
}

/* Gives up every step passed over, before the invoice's own decision
 * (same next instant, so that decision still sets the queue last). */
static void passed_groups(struct customer_plan *p, struct unit *u,
			  const char *id, const char *sv, uint32_t expired,
			  uint32_t superseded, size_t main, char mark,
			  int64_t next_ms)
{
	char line[160];

	for (size_t i = 0; i < p->t->n_steps; i++) {
		const char *why =
			passed_reason(expired, superseded, i, main, mark);

		if (!why)
			continue;
		snprintf(line, sizeof(line), "suppressed %s %s", why,
			 p->t->steps[i].name);
		unit_invoice(u, id, sv, i, 'x', next_ms, line);
	}
}

/* The commit of a sent message: every invoice advances past its step. */
static void commit_sent(struct customer_plan *p,
			const struct compose_item *items, size_t n,
			const struct compose_out *msg, bool final)
{
	char line[STATE_HIST_MAX / 2], stats[512], hist[COMPOSE_ID_MAX + 64];
	struct unit *u;
	size_t i, used, used_stats;

	used = (size_t)snprintf(line, sizeof(line),
				"%s%c%s%c%" PRId64 "%csent%c", msg->id,
				STATE_SEP, msg->step, STATE_SEP, p->b->now,
				STATE_SEP, STATE_SEP);
	for (i = 0; i < n && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 "%s%s", i ? "," : "",
					 items[i].invoice->id);
	used_stats = (size_t)snprintf(stats, sizeof(stats), "sent:%s%s",
				      msg->step, final ? ",escalations" : "");
	for (i = 0; i < n; i++) {
		const struct schedule_action *a = &items[i].action;

		passed_stats(p, a->expired_steps, a->superseded_steps,
			     a->step_index,
			     step_mark(&p->t->steps[a->step_index]), stats,
			     sizeof(stats), &used_stats);
	}
	u = unit_new(p->b, p->customer_key, line, stats);
	if (!u)
		return;
	u->has_send = true;
	for (i = 0; i < n; i++) {
		const struct state_invoice *inv = items[i].invoice;
		const struct schedule_action *a = &items[i].action;
		size_t step = a->step_index;
		char mark = step_mark(&p->t->steps[step]);
		int64_t next = next_after(p, inv, a, mark);

		passed_groups(p, u, inv->id, inv->schedule_version,
			      a->expired_steps, a->superseded_steps, step, mark,
			      next);
		/* Each invoice's history names its own step, which may be
		 * behind the message's when reminders were consolidated. */
		snprintf(hist, sizeof(hist), "sent %s %s",
			 p->t->steps[step].name, msg->id);
		unit_invoice(u, inv->id, inv->schedule_version, step, mark,
			     next, hist);
	}
}

/*
 * The final step of item cannot be sent (reason), but the customer is
 * still handed to the collector: the task alone, committed with the step
 * given up (mark 'f': escalated) only once the broker acknowledged it.
 * Returns false when the task could not be built.
 */
static bool escalate_unsent(struct customer_plan *p,
			    const struct compose_item *item,
			    enum decide_reason reason)
{
	const struct schedule_action *a = &item->action;
	const struct state_invoice *inv = item->invoice;
	size_t n_out = p->b->n_out, used;
	char stats[256], line[160];
	struct unit *u;
	int64_t next;

	emit_task(p, item, 1);
	if (p->b->n_out == n_out)
		return false;
	used = (size_t)snprintf(stats, sizeof(stats),
				"suppressed:%s,escalations",
				decide_reason_name(reason));
	passed_stats(p, a->expired_steps, a->superseded_steps, a->step_index,
		     'f', stats, sizeof(stats), &used);
	count_suppressed(p->f, decide_reason_name(reason));
	u = unit_new(p->b, p->customer_key, "", stats);
	if (!u)
		return true; /* not committed: the lease brings it back */
	u->has_send = true;
	next = next_after(p, inv, a, 'f');
	passed_groups(p, u, inv->id, inv->schedule_version, a->expired_steps,
		      a->superseded_steps, a->step_index, 'f', next);
	snprintf(line, sizeof(line), "suppressed %s %s collector_task",
		 decide_reason_name(reason), p->t->steps[a->step_index].name);
	unit_invoice(u, inv->id, inv->schedule_version, a->step_index, 'f',
		     next, line);
	return true;
}

static void emit_message(struct customer_plan *p, struct compose_item *items,
			 size_t n)
{
	struct fire *f = p->f;
	struct outgoing *o = outgoing_add(p->b);
	char err[256], labels[96];
	bool final;
	size_t i;

	if (!o || compose_command(p->t, p->c, items, n, p->b->now, &o->msg, err,
				  sizeof(err))) {
		log_error("SCHED", "cannot build send command customer=%s: %s",
			  p->customer_key, o ? err : "out of memory");
		if (o)
			p->b->n_out--;
		for (i = 0; i < n; i++)
			quiet_add(p, items[i].invoice,
				  items[i].action.step_index, 'p',
				  p->b->now + FIRE_RETRY_MS, NULL);
		return;
	}
	o->topic = config_str(f->cfg, "DUNNING_TOPIC_WHATSAPP_SEND");
	snprintf(o->key, sizeof(o->key), "%s", p->customer_key);
	final = p->t->steps[compose_main_step(items, n)].kind ==
		WORKFLOW_STEP_FINAL;
	commit_sent(p, items, n, &o->msg, final);
	snprintf(labels, sizeof(labels), "step=\"%s\"", o->msg.step);
	metrics_inc(f->metrics, "dunning_worker_reminders_emitted_total",
		    "send commands produced, by step", labels, 1);
	log_debug("SCHED", "reminder emitted command=%s invoices=%zu",
		  o->msg.id, n);
	if (final && p->t->escalation.collector_task)
		emit_task(p, items, n);
}

/* One message, or one per invoice under the frequency cap. */
static void emit_all(struct customer_plan *p)
{
	size_t i;

	if (p->n_sends == 0)
		return;
	qsort(p->sends, p->n_sends, sizeof(*p->sends), compare_items);
	if (p->t->consolidation) {
		emit_message(p, p->sends, p->n_sends);
		return;
	}
	for (i = 0; i < p->n_sends; i++) {
		const struct compose_item *it = &p->sends[i];

		if (p->t->cap_max_messages > 0 &&
		    p->sent_in_window >= p->t->cap_max_messages &&
		    escalates_anyway(p, &it->action,
				     DECIDE_REASON_FREQUENCY_CAP) &&
		    escalate_unsent(p, it, DECIDE_REASON_FREQUENCY_CAP))
			continue;
		if (p->t->cap_max_messages > 0 &&
		    p->sent_in_window >= p->t->cap_max_messages) {
			quiet_add(p, it->invoice, it->action.step_index, 'x',
				  next_after(p, it->invoice, &it->action, 'x'),
				  "frequency_cap");
			quiet_passed(p, &it->action);
			continue;
		}
		emit_message(p, &p->sends[i], 1);
		p->sent_in_window++;
	}
}

/* The commit of every invoice not sent: postponed or suppressed. */
static void commit_quiet(struct customer_plan *p)
{
	char stats[2048];
	struct unit *u;
	size_t i, used = 0;

	if (p->n_quiet == 0)
		return;
	stats[0] = '\0';
	for (i = 0; i < p->n_quiet; i++) {
		const struct quiet *q = &p->quiet[i];

		passed_stats(p, q->expired, q->superseded, q->step, q->mark,
			     stats, sizeof(stats), &used);
		if (!q->field[0] || used >= sizeof(stats) - 80)
			continue;
		used += (size_t)snprintf(stats + used, sizeof(stats) - used,
					 "%s%s", used ? "," : "", q->field);
		count_suppressed(p->f, q->field + 11);
	}
	u = unit_new(p->b, p->customer_key, "", stats);
	if (!u)
		return;
	for (i = 0; i < p->n_quiet; i++) {
		const struct quiet *q = &p->quiet[i];

		passed_groups(p, u, q->id, q->schedule_version, q->expired,
			      q->superseded, q->step, q->mark, q->next_ms);
		unit_invoice(u, q->id, q->schedule_version, q->step, q->mark,
			     q->next_ms, q->line);
	}
}

static int sent_in_window(struct customer_plan *p)
{
	int64_t start = p->b->now;
	int count = 0;
	size_t i;

	if (schedule_cap_window_start(p->t, p->zone, p->b->now, &start, NULL,
				      0))
		return 0;
	for (i = 0; i < p->c->n_sends; i++)
		if (p->c->sends[i] >= start)
			count++;
	return count;
}

/*
 * A claimed entry is planned as of the instant it fell due, not as of the
 * claim: a step that came due while no worker owned the partition (or
 * while the timer was behind) is then decided, sent late within its
 * deadline or given up as expired with that reason, instead of being
 * planned past; and a late step re-planned to its next send time is sent
 * when that time comes rather than pushed to the day after.
 */
static void plan_as_due(struct customer_plan *p, struct candidate *cand,
			int64_t due_ms)
{
	struct schedule_action action;

	if (!cand->planned || due_ms < 0 || due_ms >= p->b->now)
		return;
	if (next_action(p, cand->invoice, due_ms, &action) == 0)
		cand->action = action;
}

/* Plans, decides and emits for customer c, whose claimed invoices are
 * ids with the queue scores dues. */
static void plan_customer(struct fire *f, struct batch *b,
			  struct state_customer *c, char **ids,
			  const int64_t *dues, size_t n_ids)
{
	struct customer_plan p = { 0 };
	size_t i, k;

	p.f = f;
	p.b = b;
	p.c = c;
	p.t = workflow_tenant(f->wf, c->tenant);
	p.zone = c->time_zone[0] ? c->time_zone : "UTC";
	snprintf(p.customer_key, sizeof(p.customer_key), "%s/%s", c->tenant,
		 c->customer_id);
	if (schedule_day_key(p.zone, b->now, p.today, sizeof(p.today), NULL,
			     0) ||
	    plan_begin(&p, ids, n_ids)) {
		plan_release(&p);
		return;
	}
	p.sent_in_window = sent_in_window(&p);
	for (i = 0; i < n_ids; i++) {
		for (k = 0; k < p.n_cands; k++)
			if (strcmp(p.cands[k].invoice->id, ids[i]) == 0)
				break;
		if (k < p.n_cands) {
			plan_as_due(&p, &p.cands[k], dues[i]);
			plan_claimed(&p, &p.cands[k]);
			continue;
		}
		/* No record: the lease is simply released. */
		snprintf(p.quiet[p.n_quiet].id, STATE_ID_MAX, "%s", ids[i]);
		p.quiet[p.n_quiet].schedule_version = "";
		p.quiet[p.n_quiet].mark = 'p';
		p.quiet[p.n_quiet].line[0] = p.quiet[p.n_quiet].field[0] = '\0';
		p.n_quiet++;
	}
	if (p.n_sends && p.t->consolidation)
		for (k = 0; k < p.n_cands; k++)
			consider_companion(&p, &p.cands[k]);
	emit_all(&p);
	commit_quiet(&p);
	plan_release(&p);
}

/* ---------------------------------------------------------------------- */
/* The batch                                                                */

/* Claimed invoices of one customer: a run of the batch's id and score
 * arrays (the claim is sorted by member, so a customer's are adjacent). */
struct claimed_customer {
	char key[STATE_ID_MAX * 2 + 2];
	char tenant[STATE_ID_MAX];
	char customer_id[STATE_ID_MAX];
	char **ids;
	int64_t *dues; /* the entries' scores, -1 if none */
	size_t n_ids;
};

/* Where group_claim puts the claimed ids and scores. */
struct claimed_ids {
	char *text; /* STATE_ID_MAX per entry */
	char **ids; /* into text */
	int64_t *dues;
};

static int compare_entries(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;

	return strcmp(x->member, y->member);
}

/* Groups the sorted claim by customer into groups and store. */
static size_t group_claim(struct queue_claim *claim,
			  struct claimed_customer *groups,
			  struct claimed_ids *store)
{
	char key[STATE_ID_MAX * 2 + 2];
	size_t i, n = 0, kept = 0;

	for (i = 0; i < claim->count; i++) {
		char *id = store->text + i * STATE_ID_MAX;
		struct claimed_customer *g;

		if (state_member_split(claim->entries[i].member,
				       claim->entries[i].member_len, key, id))
			continue;
		g = n ? &groups[n - 1] : NULL;
		if (!g || strcmp(g->key, key) != 0) {
			g = &groups[n];
			snprintf(g->key, sizeof(g->key), "%s", key);
			g->ids = &store->ids[kept];
			g->dues = &store->dues[kept];
			g->n_ids = 0;
			if (state_customer_key_split(key, g->tenant,
						     g->customer_id))
				continue;
			n++;
		}
		store->dues[kept] = claim->entries[i].due_ms;
		store->ids[kept++] = id;
		g->n_ids++;
	}
	return n;
}

static void claim_metrics(struct fire *f, const struct queue_claim *claim,
			  int64_t now)
{
	int64_t lag = 0;
	size_t i;

	for (i = 0; i < claim->count; i++)
		if (claim->entries[i].due_ms >= 0 &&
		    now - claim->entries[i].due_ms > lag)
			lag = now - claim->entries[i].due_ms;
	metric_add(f->claimed, (int64_t)claim->count);
	metric_set(f->claim_lag, lag / clock_speed());
	metric_set(f->rtt, store_last_rtt_us(f->store));
}

/* Reads every customer of the claim in one pipeline and plans each. */
static int plan_groups(struct fire *f, struct batch *b,
		       struct claimed_customer *groups, size_t n, char *err,
		       size_t errlen)
{
	int *argcs = calloc(n, sizeof(*argcs));
	const char ***argvs = calloc(n, sizeof(*argvs));
	const char **argv = calloc(n * 2, sizeof(*argv));
	char *keys = calloc(n, STATE_KEY_MAX);
	redisReply **replies = calloc(n, sizeof(*replies));
	int rc = DN_ERR_NOMEM;
	size_t i;

	if (!argcs || !argvs || !argv || !keys || !replies)
		goto out;
	for (i = 0; i < n; i++) {
		shard_customer_key(keys + i * STATE_KEY_MAX, STATE_KEY_MAX,
				   b->partition, groups[i].tenant,
				   groups[i].customer_id);
		argv[2 * i] = "HGETALL";
		argv[2 * i + 1] = keys + i * STATE_KEY_MAX;
		argvs[i] = &argv[2 * i];
		argcs[i] = 2;
	}
	rc = store_pipeline(f->store, n, argcs,
			    (const char *const *const *)argvs, NULL, replies);
	if (rc) {
		dn_fail(rc, err, errlen, "cannot read customers: %s",
			store_error(f->store));
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct state_customer c;
		char why[256];

		if (state_customer_parse(replies[i], groups[i].tenant,
					 groups[i].customer_id, &c, why,
					 sizeof(why)) == 0)
			plan_customer(f, b, &c, groups[i].ids, groups[i].dues,
				      groups[i].n_ids);
		else
			log_error("REDIS", "%s", why);
		state_customer_release(&c);
		store_reply_free(replies[i]);
	}
out:
	free(argcs);
	free(argvs);
	free(argv);
	free(keys);
	free(replies);
	return rc;
}

/* Produces every message and waits for the broker to acknowledge them. */
static int produce_all(struct fire *f, struct batch *b, char *err,
		       size_t errlen)
{
	uint64_t failed = kafka_producer_failed(f->producer);
	size_t i;
	int rc;

	if (b->n_out == 0)
		return DN_OK;
	for (i = 0; i < b->n_out; i++) {
		struct outgoing *o = &b->out[i];

		rc = kafka_producer_send(f->producer, o->topic, o->key,
					 strlen(o->key), o->msg.data,
					 o->msg.len, NULL, err, errlen);
		if (rc)
			return rc;
	}
	if (kafka_producer_flush(f->producer, f->settings.flush_timeout_ms))
		return dn_fail(DN_ERR_KAFKA, err, errlen,
			       "%zu messages not acknowledged in %d ms",
			       b->n_out, f->settings.flush_timeout_ms);
	if (kafka_producer_failed(f->producer) != failed)
		return dn_fail(DN_ERR_KAFKA, err, errlen,
			       "the broker refused some of %zu messages",
			       b->n_out);
	return DN_OK;
}

static int commit_load(struct fire *f)
{
	const char *argv[] = { "SCRIPT", "LOAD", commit_lua };
	redisReply *reply = store_command(f->store, 3, argv, NULL);
	int ok = reply && reply->type == REDIS_REPLY_STRING;

	store_reply_free(reply);
	return ok ? DN_OK : DN_ERR_REDIS;
}

/* Whether a commit reply says the server lost the script. */
static bool noscript(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ERROR &&
	       strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* The units that may be committed: all of them, but those with sends only
 * when the sends were acknowledged. */
static bool unit_committable(const struct unit *u, bool sends_ok)
{
	return (!u->has_send || sends_ok) && u->n_invoices > 0 && !u->args.oom;
}

/*
 * The one commit.lua call of the batch into argv (sized by the caller;
 * no argument holds a NUL): the queue, lease and stats keys, every unit's customer hash,
 * then now, the unit count and each unit's group. Returns its argc.
 */
static int commit_call(struct fire *f, struct batch *b, bool sends_ok,
		       const char **argv, char (*text)[32])
{
	size_t i, n_units = 0;
	int argc = 0, k;

	argv[argc++] = "EVALSHA";
	argv[argc++] = f->commit_sha;
	argv[argc++] = text[0]; /* key count, filled below */
	shard_key(text[1], sizeof(text[1]), b->partition, "q");
	shard_key(text[2], sizeof(text[2]), b->partition, "lease");
	shard_key(text[3], sizeof(text[3]), b->partition, "stats");
	for (k = 1; k <= 3; k++)
		argv[argc++] = text[k];
	for (i = 0; i < b->n_units; i++) {
		struct unit *u = &b->units[i];

		if (!unit_committable(u, sends_ok))
			continue;
		argv[argc++] = u->args.buf + u->args.offs[0];
		n_units++;
	}
	snprintf(text[0], sizeof(text[0]), "%zu", 3 + n_units);
	snprintf(text[4], sizeof(text[4]), "%" PRId64, b->now);
	snprintf(text[5], sizeof(text[5]), "%zu", n_units);
	argv[argc++] = text[4];
	argv[argc++] = text[5];
	for (i = 0; i < b->n_units; i++) {
		struct unit *u = &b->units[i];

		if (!unit_committable(u, sends_ok))
			continue;
		snprintf(u->count, sizeof(u->count), "%zu", u->n_invoices);
		for (k = 1; k < u->args.argc; k++)
			argv[argc++] = (size_t)k == u->count_at
					       ? u->count
					       : u->args.buf + u->args.offs[k];
	}
	return n_units ? argc : 0;
}

/*
 * Commits the batch in one commit.lua call; units with sends only when
 * the sends were acknowledged. commit.lua is idempotent for a given batch
 * (it checks schedule versions and marks steps once per instant), so the
 * call may be sent again after a reconnect.
 */
static int commit_all(struct fire *f, struct batch *b, bool sends_ok, char *err,
		      size_t errlen)
{
	size_t max = 8, i;
	const char **argv;
	char text[6][32];
	redisReply *reply = NULL;
	int argc, rc = DN_OK;

	for (i = 0; i < b->n_units; i++)
		max += (size_t)b->units[i].args.argc + 1;
	argv = calloc(max, sizeof(*argv));
	if (!argv) {
		rc = dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto out;
	}
	argc = commit_call(f, b, sends_ok, argv, text);
	if (argc == 0)
		goto out;
	reply = store_command(f->store, argc, argv, NULL);
	if (noscript(reply) && commit_load(f) == DN_OK) {
		store_reply_free(reply);
		reply = store_command(f->store, argc, argv, NULL);
	}
	if (!reply || reply->type == REDIS_REPLY_ERROR)
		rc = dn_fail(DN_ERR_REDIS, err, errlen,
			     "cannot commit decisions: %s",
			     reply ? reply->str : store_error(f->store));
out:
	store_reply_free(reply);
	free(argv);
	return rc;
}

int fire_partition(struct fire *f, int32_t partition, struct fire_result *res,
		   char *err, size_t errlen)
{
	struct batch b = { 0 };
	struct claimed_customer *groups = NULL;
	struct claimed_ids ids = { NULL, NULL, NULL };
	size_t n_groups;
	int rc, sent;

	b.partition = partition;
	b.now = clock_now_ms();
	rc = queue_claim(f->store, f->claim_script, partition, b.now,
			 clock_real_now_ms(), f->settings.lease_ms,
			 f->settings.batch, f->claim, err, errlen);
	res->claimed = f->claim->count;
	res->next_due_ms = f->claim->next_due_ms;
	res->next_lease_ms = f->claim->next_lease_ms;
	if (rc || f->claim->count == 0)
		goto out;
	claim_metrics(f, f->claim, b.now);

	qsort(f->claim->entries, f->claim->count, sizeof(struct queue_entry),
	      compare_entries);
	groups = malloc(f->claim->count * sizeof(*groups));
	ids.text = malloc(f->claim->count * STATE_ID_MAX);
	ids.ids = malloc(f->claim->count * sizeof(*ids.ids));
	ids.dues = malloc(f->claim->count * sizeof(*ids.dues));
	if (!groups || !ids.text || !ids.ids || !ids.dues) {
		rc = dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto out;
	}
	n_groups = group_claim(f->claim, groups, &ids);
	rc = plan_groups(f, &b, groups, n_groups, err, errlen);
	if (rc)
		goto out;

	/* Effectively once: acknowledged sends first, then the commit. */
	sent = produce_all(f, &b, err, errlen);
	if (sent)
		log_warn("KAFKA",
			 "sends not acknowledged, entries stay leased "
			 "partition=%" PRId32 ": %s",
			 partition, err);
	rc = commit_all(f, &b, sent == DN_OK, err, errlen);
	if (!rc && sent)
		rc = DN_ERR_KAFKA;
out:
	if (rc)
		metric_add(f->errors, 1);
	free(groups);
	free(ids.text);
	free(ids.ids);
	free(ids.dues);
	batch_release(&b);
	queue_claim_release(f->claim);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                               */

static void sha1_hex(const char *text, char *out)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_Digest(text, strlen(text), digest, &n, EVP_sha1(), NULL);
	for (i = 0; i < n && i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Every step and reason series exists from the start, at 0, so that a
 * rate or an alert over it has a series before the first event. */
static void series_at_zero(struct fire *f)
{
	char labels[96];
	size_t t, i;
	int r;

	for (r = DECIDE_REASON_NONE + 1; r < DECIDE_REASON_COUNT; r++) {
		/* Postponing is not suppressing: never counted there. */
		if (r == DECIDE_REASON_OUTSIDE_WINDOW ||
		    r == DECIDE_REASON_TOO_EARLY)
			continue;
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
			 decide_reason_name((enum decide_reason)r));
		metrics_inc(f->metrics,
			    "dunning_worker_reminders_suppressed_total",
			    "reminders not sent, by reason", labels, 0);
	}
	for (t = 0; t < workflow_tenant_count(f->wf); t++) {
		const struct workflow_tenant *tenant =
			workflow_tenant_at(f->wf, t);

		for (i = 0; i < tenant->n_steps; i++) {
			snprintf(labels, sizeof(labels), "step=\"%s\"",
				 tenant->steps[i].name);
			metrics_inc(f->metrics,
				    "dunning_worker_reminders_emitted_total",
				    "send commands produced, by step", labels,
				    0);
		}
	}
}

struct fire *fire_new(const struct config *cfg, struct store *store,
		      struct kafka_producer *producer,
		      const struct workflow *wf, struct metrics *metrics,
		      const struct fire_settings *settings, char *err,
		      size_t errlen)
{
	struct fire *f = calloc(1, sizeof(*f));

	if (!f || !(f->claim = calloc(1, sizeof(*f->claim)))) {
		free(f);
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	f->cfg = cfg;
	f->store = store;
	f->producer = producer;
	f->wf = wf;
	f->metrics = metrics;
	f->settings = *settings;
	f->claim_script = queue_register(store);
	sha1_hex(commit_lua, f->commit_sha);
	f->claimed = metrics_series(metrics, METRIC_COUNTER,
				    "dunning_worker_claimed_total",
				    "delay-queue entries claimed", NULL);
	f->claim_lag = metrics_series(
		metrics, METRIC_GAUGE, "dunning_worker_claim_lag_ms",
		"real ms between the oldest entry's instant and its claim, "
		"last batch",
		NULL);
	f->rtt = metrics_series(
		metrics, METRIC_GAUGE, "dunning_worker_redis_rtt_us",
		"round-trip time of the last Redis command", NULL);
	f->tasks = metrics_series(metrics, METRIC_COUNTER,
				  "dunning_worker_collector_tasks_total",
				  "collector tasks produced", NULL);
	f->errors = metrics_series(
		metrics, METRIC_COUNTER, "dunning_worker_fire_errors_total",
		"batches that failed and will be retried", NULL);
	series_at_zero(f);
	return f;
}

void fire_free(struct fire *f)
{
	if (!f)
		return;
	free(f->claim);
	free(f);
}
