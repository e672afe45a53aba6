/* compose.c: SendCommand and CollectorTask messages from decided invoices. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "compose.h"

#include "error.h"
#include "format.h"
#include "state.h"

#include "dunning/v1/collections.pb-c.h"
#include "dunning/v1/whatsapp.pb-c.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPOSE_PARAMS	    6
#define COMPOSE_ITEMS_MAX   64 /* invoices named in one message */
#define COMPOSE_HISTORY_MAX 16

size_t compose_main_step(const struct compose_item *items, size_t n)
{
	size_t i, best = items[0].action.step_index;

	for (i = 1; i < n; i++)
		if (items[i].action.step_index > best)
			best = items[i].action.step_index;
	return best;
}

static int64_t outstanding(const struct state_invoice *inv)
{
	return inv->amount_minor - inv->paid_minor;
}

/* ---------------------------------------------------------------------- */
/* Command id                                                               */

static void sha256_hex(const char *text, size_t len, char *out)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_Digest(text, len, digest, &n, EVP_sha256(), NULL);
	for (i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static void command_id(const struct state_customer *c, const char *step,
		       const struct compose_item *items, size_t n, char *out)
{
	char invoices[COMPOSE_ITEMS_MAX * (STATE_ID_MAX + 40)];
	size_t used = 0, i;
	char hex[65];
	int w;

	for (i = 0; i < n && used < sizeof(invoices); i++) {
		w = snprintf(invoices + used, sizeof(invoices) - used,
			     "%s%s@%s.%zu.%" PRIu32, i ? "+" : "",
			     items[i].invoice->id,
			     items[i].invoice->schedule_version,
			     items[i].action.step_index,
			     items[i].action.occurrence);
		used += w > 0 ? (size_t)w : 0;
	}
	if (used >= sizeof(invoices))
		used = sizeof(invoices) - 1;
	w = snprintf(out, COMPOSE_ID_MAX, "%s/%s/%s/%s", c->tenant,
		     c->customer_id, step, invoices);
	if (w > 0 && w < COMPOSE_ID_MAX)
		return;
	/* Too long: the same facts, hashed, keep the id deterministic. */
	sha256_hex(invoices, used, hex);
	w = snprintf(out, COMPOSE_ID_MAX, "%s/%s/%s/h%s", c->tenant,
		     c->customer_id, step, hex);
	if (w < 0 || w >= COMPOSE_ID_MAX) {
		char all[STATE_ID_MAX * 3 + 80];

		w = snprintf(all, sizeof(all), "%s/%s/%s/%s", c->tenant,
			     c->customer_id, step, hex);
		sha256_hex(all, w > 0 ? (size_t)w : 0, hex);
		snprintf(out, COMPOSE_ID_MAX, "h%s", hex);
	}
}

/* ---------------------------------------------------------------------- */
/* Parameters                                                               */

struct params {
	Dunning__V1__TemplateParameter p[COMPOSE_PARAMS];
	Dunning__V1__TemplateParameter *list[COMPOSE_PARAMS];
	char text[COMPOSE_PARAMS][FORMAT_PARAM_MAX];
	Dunning__V1__Money money;
	Dunning__V1__Date date;
	size_t n;
};

static Dunning__V1__TemplateParameter *param_add(struct params *ps,
						 const char *name)
{
	Dunning__V1__TemplateParameter *p = &ps->p[ps->n];

	dunning__v1__template_parameter__init(p);
	p->name = (char *)name;
	p->text = ps->text[ps->n];
	ps->list[ps->n] = p;
	ps->n++;
	return p;
}

/* {{3}}: the sum when all currencies agree, else each amount listed. */
static int param_amount(struct params *ps, const struct compose_item *items,
			size_t n, const char *locale, char *err, size_t errlen)
{
	Dunning__V1__TemplateParameter *p = param_add(ps, "amount");
	const char *currency = items[0].invoice->currency;
	int64_t total = 0;
	size_t i, used = 0;
	bool same = true;

	for (i = 0; i < n; i++) {
		same = same &&
		       strcmp(items[i].invoice->currency, currency) == 0;
		total += outstanding(items[i].invoice);
	}
	if (same) {
		dunning__v1__money__init(&ps->money);
		ps->money.minor_units = total;
		ps->money.currency = (char *)currency;
		p->value_case = DUNNING__V1__TEMPLATE_PARAMETER__VALUE_MONEY;
		p->money = &ps->money;
		return format_amount(total, currency, locale, p->text,
				     FORMAT_PARAM_MAX, err, errlen);
	}
	for (i = 0; i < n; i++) {
		char one[128];
		int rc = format_amount(outstanding(items[i].invoice),
				       items[i].invoice->currency, locale, one,
				       sizeof(one), err, errlen);

		if (rc)
			return rc;
		used += (size_t)snprintf(p->text + used,
					 FORMAT_PARAM_MAX - used, "%s%s",
					 i ? ", " : "", one);
		if (used >= FORMAT_PARAM_MAX)
			return dn_fail(DN_ERR_TOO_LARGE, err, errlen,
				       "amounts do not fit a parameter");
	}
	return DN_OK;
}

/* {{4}}: the earliest due date. */
static int param_due(struct params *ps, const struct compose_item *items,
		     size_t n, const char *locale, char *err, size_t errlen)
{
	Dunning__V1__TemplateParameter *p = param_add(ps, "due_date");
	struct workflow_date d = items[0].invoice->due_date;
	size_t i;

	for (i = 1; i < n; i++)
		if (schedule_date_to_days(items[i].invoice->due_date) <
		    schedule_date_to_days(d))
			d = items[i].invoice->due_date;
	dunning__v1__date__init(&ps->date);
	ps->date.year = d.year;
	ps->date.month = d.month;
	ps->date.day = d.day;
	p->value_case = DUNNING__V1__TEMPLATE_PARAMETER__VALUE_DATE;
	p->date = &ps->date;
	return format_due_date(d, locale, p->text, FORMAT_PARAM_MAX, err,
			       errlen);
}

/* {{5}}: the first invoice's link or bank details that is known. */
static int param_how(struct params *ps, const struct compose_item *items,
		     size_t n, const char *locale, char *err, size_t errlen)
{
	Dunning__V1__TemplateParameter *p = param_add(ps, "how_to_pay");
	struct format_payment pay = { 0 };
	char raw[STATE_HOW_MAX];
	char *field[4] = { 0 };
	size_t i, k;

	raw[0] = '\0';
	for (i = 0; i < n && !raw[0]; i++)
		snprintf(raw, sizeof(raw), "%s", items[i].invoice->how_to_pay);
	if (raw[0] == 'L') {
		pay.payment_link = raw + 1;
	} else if (raw[0] == 'B') {
		char *s = raw + 1;

		for (k = 0; k < 4 && s; k++) {
			field[k] = s;
			s = strchr(s, STATE_SEP);
			if (s)
				*s++ = '\0';
		}
		pay.iban = field[0];
		pay.reference = field[2];
		pay.account_name = field[3];
	}
	return format_how_to_pay(&pay, locale, p->text, FORMAT_PARAM_MAX, err,
				 errlen);
}

static int params_build(struct params *ps, const struct workflow_tenant *t,
			const struct state_customer *c, bool final,
			const struct compose_item *items, size_t n, char *err,
			size_t errlen)
{
	const char *numbers[COMPOSE_ITEMS_MAX];
	Dunning__V1__TemplateParameter *p;
	size_t i;
	int rc;

	ps->n = 0;
	p = param_add(ps, "customer_name");
	snprintf(p->text, FORMAT_PARAM_MAX, "%s",
		 c->name[0] ? c->name : c->customer_id);
	for (i = 0; i < n && i < COMPOSE_ITEMS_MAX; i++)
		numbers[i] = items[i].invoice->id;
	p = param_add(ps, "invoice_numbers");
	rc = format_invoice_list(numbers, i, p->text, FORMAT_PARAM_MAX, err,
				 errlen);
	if (!rc)
		rc = param_amount(ps, items, n, c->locale, err, errlen);
	if (!rc)
		rc = param_due(ps, items, n, c->locale, err, errlen);
	if (!rc)
		rc = param_how(ps, items, n, c->locale, err, errlen);
	if (!rc && final) {
		p = param_add(ps, "collector_note");
		snprintf(p->text, FORMAT_PARAM_MAX, "%s",
			 workflow_escalation_note(t, c->locale));
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Messages                                                                 */

int compose_command(const struct workflow_tenant *t,
		    const struct state_customer *c,
		    const struct compose_item *items, size_t n, int64_t now_ms,
		    struct compose_out *out, char *err, size_t errlen)
{
	Dunning__V1__SendCommand cmd = DUNNING__V1__SEND_COMMAND__INIT;
	const struct workflow_step *step =
		&t->steps[compose_main_step(items, n)];
	const struct workflow_template *tpl =
		workflow_step_template(step, c->locale);
	char *ids[COMPOSE_ITEMS_MAX];
	struct params *ps = calloc(1, sizeof(*ps));
	int64_t deadline = items[0].action.deadline_ms;
	size_t i;
	int rc;

	if (!ps)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	n = n > COMPOSE_ITEMS_MAX ? COMPOSE_ITEMS_MAX : n;
	rc = params_build(ps, t, c, step->kind == WORKFLOW_STEP_FINAL, items, n,
			  err, errlen);
	if (rc)
		goto out;
	for (i = 0; i < n; i++) {
		ids[i] = (char *)items[i].invoice->id;
		if (items[i].action.deadline_ms < deadline)
			deadline = items[i].action.deadline_ms;
	}
	out->step = step->name;
	command_id(c, step->name, items, n, out->id);
	cmd.command_id = out->id;
	cmd.tenant = (char *)c->tenant;
	cmd.customer_id = (char *)c->customer_id;
	cmd.n_invoice_ids = n;
	cmd.invoice_ids = ids;
	cmd.step = (char *)step->name;
	cmd.phone_e164 = (char *)c->phone;
	cmd.wa_id = (char *)c->wa_id;
	cmd.kind = DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE;
	cmd.template_name = (char *)tpl->name;
	cmd.language = (char *)tpl->language;
	cmd.n_parameters = ps->n;
	cmd.parameters = ps->list;
	cmd.created_at_ms = now_ms;
	cmd.deadline_ms = deadline;

	out->len = dunning__v1__send_command__get_packed_size(&cmd);
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data) {
		rc = dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto out;
	}
	dunning__v1__send_command__pack(&cmd, out->data);
out:
	free(ps);
	return rc;
}

/* The customer's recent sends, "cmd SEP step SEP at SEP status SEP ids". */
static size_t history_parse(const char *recent, char *copy, size_t len,
			    Dunning__V1__ReminderRecord *records, size_t max)
{
	static const struct {
		const char *word;
		Dunning__V1__DeliveryStatus status;
	} words[] = {
		{ "sent", DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_SENT },
		{ "delivered",
		  DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_DELIVERED },
		{ "read", DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_READ },
		{ "failed",
		  DUNNING__V1__DELIVERY_STATUS__DELIVERY_STATUS_FAILED },
	};
	char *line = copy, *next;
	size_t n = 0, k;

	snprintf(copy, len, "%s", recent);
	for (; line && *line && n < max; line = next) {
		char *f[5] = { 0 };
		char *s = line;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		for (k = 0; k < 5 && s; k++) {
			f[k] = s;
			s = strchr(s, STATE_SEP);
			if (s)
				*s++ = '\0';
		}
		if (!f[3])
			continue;
		dunning__v1__reminder_record__init(&records[n]);
		records[n].command_id = f[0];
		records[n].step = f[1];
		records[n].sent_at_ms = strtoll(f[2], NULL, 10);
		for (k = 0; k < sizeof(words) / sizeof(*words); k++)
			if (strcmp(f[3], words[k].word) == 0)
				records[n].last_status = words[k].status;
		n++;
	}
	return n;
}

static void task_invoices(const struct compose_item *items, size_t n,
			  int64_t now_ms, Dunning__V1__TaskInvoice *tasks,
			  Dunning__V1__Money *money, Dunning__V1__Date *dates,
			  Dunning__V1__TaskInvoice **list)
{
	int32_t today = (int32_t)(now_ms / SCHEDULE_MS_PER_DAY);
	size_t i;

	for (i = 0; i < n; i++) {
		const struct state_invoice *inv = items[i].invoice;

		dunning__v1__task_invoice__init(&tasks[i]);
		dunning__v1__money__init(&money[i]);
		dunning__v1__date__init(&dates[i]);
		money[i].minor_units = outstanding(inv);
		money[i].currency = (char *)inv->currency;
		dates[i].year = inv->due_date.year;
		dates[i].month = inv->due_date.month;
		dates[i].day = inv->due_date.day;
		tasks[i].invoice_id = (char *)inv->id;
		tasks[i].outstanding = &money[i];
		tasks[i].due_date = &dates[i];
		tasks[i].days_overdue =
			today - schedule_date_to_days(inv->due_date);
		list[i] = &tasks[i];
	}
}

int compose_task(const struct workflow_tenant *t,
		 const struct state_customer *c,
		 const struct compose_item *items, size_t n, int64_t now_ms,
		 struct compose_out *out, char *err, size_t errlen)
{
	Dunning__V1__CollectorTask task = DUNNING__V1__COLLECTOR_TASK__INIT;
	Dunning__V1__TaskInvoice tasks[COMPOSE_ITEMS_MAX];
	Dunning__V1__TaskInvoice *task_list[COMPOSE_ITEMS_MAX];
	Dunning__V1__Money money[COMPOSE_ITEMS_MAX];
	Dunning__V1__Date dates[COMPOSE_ITEMS_MAX];
	Dunning__V1__ReminderRecord records[COMPOSE_HISTORY_MAX];
	Dunning__V1__ReminderRecord *record_list[COMPOSE_HISTORY_MAX];
	char history[STATE_HIST_MAX], reason[96];
	uint32_t unanswered = 0;
	size_t i, n_records;

	n = n > COMPOSE_ITEMS_MAX ? COMPOSE_ITEMS_MAX : n;
	task_invoices(items, n, now_ms, tasks, money, dates, task_list);
	n_records = history_parse(c->recent, history, sizeof(history), records,
				  COMPOSE_HISTORY_MAX);
	for (i = 0; i < n_records; i++)
		record_list[i] = &records[i];
	for (i = 0; i < n; i++)
		if (items[i].invoice->unanswered > unanswered)
			unanswered = items[i].invoice->unanswered;
	snprintf(reason, sizeof(reason), "%" PRIu32 " reminders unanswered",
		 unanswered);
	command_id(c, "task", items, n, out->id);
	out->step = "task";

	task.task_id = out->id;
	task.tenant = (char *)c->tenant;
	task.customer_id = (char *)c->customer_id;
	task.customer_name = (char *)c->name;
	task.phone_e164 = (char *)c->phone;
	task.collector = (char *)t->escalation.collector;
	task.reason = reason;
	task.n_invoices = n;
	task.invoices = task_list;
	task.n_history = n_records;
	task.history = record_list;
	task.created_at_ms = now_ms;

	out->len = dunning__v1__collector_task__get_packed_size(&task);
	out->data = malloc(out->len ? out->len : 1);
	if (!out->data)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	dunning__v1__collector_task__pack(&task, out->data);
	return DN_OK;
}
