/* shutdown.h: clean stop on SIGTERM and SIGINT. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The handler only sets a flag; main loops poll shutdown_requested() and
 * finish the message in hand, commit what is durable and return.
 */
#ifndef DUNNING_SHUTDOWN_H
#define DUNNING_SHUTDOWN_H

/* Installs the handlers for SIGTERM and SIGINT and ignores SIGPIPE. */
void shutdown_install(void);

/* Non-zero once a stop was asked for. Safe from any thread. */
int shutdown_requested(void);

/* Asks for a stop from inside the program (fatal conditions, tests);
 * safe from any thread. */
void shutdown_request(void);

#endif
