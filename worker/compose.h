/* compose.h: the send command and collector task of one decided message. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A message is about one or more invoices of one customer (more than one
 * when reminders of the same local day are consolidated). Its step, and
 * so its template, is the most advanced step among them. Parameters follow
 * contract 4 in positional order: customer name, invoice numbers, amount
 * outstanding (summed when every invoice has the same currency), earliest
 * due date, how to pay, and for the final step the collector's note, each
 * localised with format.h for the customer's locale.
 *
 * The command id is deterministic: tenant, customer, step and every
 * invoice with its schedule version, step index and occurrence; past 200
 * bytes the invoice part is replaced by its SHA-256.
 */
#ifndef DUNNING_COMPOSE_H
#define DUNNING_COMPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "schedule.h"
#include "state.h"
#include "workflow.h"

#define COMPOSE_ID_MAX 201 /* command and task ids, NUL included */

/* One invoice of a message and the action that made it due. */
struct compose_item {
	const struct state_invoice *invoice; /* borrowed */
	struct schedule_action action;
};

/* A packed protobuf message; caller frees data. */
struct compose_out {
	uint8_t *data;
	size_t len;
	char id[COMPOSE_ID_MAX];
	const char *step; /* borrowed from the workflow */
};

/*
 * Builds the SendCommand of items (n >= 1, sorted by invoice id) for
 * customer c under tenant rules t at now_ms. Returns 0 with out filled,
 * or an error (DN_ERR_INVALID: a parameter could not be formatted) with
 * the reason.
 */
int compose_command(const struct workflow_tenant *t,
		    const struct state_customer *c,
		    const struct compose_item *items, size_t n, int64_t now_ms,
		    struct compose_out *out, char *err, size_t errlen);

/*
 * Builds the CollectorTask raised with a final step: customer, invoices
 * with amounts and days overdue, the customer's recent reminders and the
 * reason. Returns 0 with out filled, or an error with the reason.
 */
int compose_task(const struct workflow_tenant *t,
		 const struct state_customer *c,
		 const struct compose_item *items, size_t n, int64_t now_ms,
		 struct compose_out *out, char *err, size_t errlen);

/* The most advanced step index among items. */
size_t compose_main_step(const struct compose_item *items, size_t n);

#endif
