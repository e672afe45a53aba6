/* spawn.h: start a built program for a test and wait until it listens. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The programs with an HTTP server (gateway, worker, simulator) print
 * "listening=127.0.0.1:PORT" on stdout once they serve. An integration
 * test starts one with spawn_start, which runs it from $DUNNING_BIN with
 * some settings over the test's own environment, sends its stdout and
 * stderr to a log file, and returns once that line is there. Every
 * failure fails the test (cmocka), naming the log.
 */
#ifndef DUNNING_SPAWN_H
#define DUNNING_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* How long a program may take to print its listening line by default. */
#define SPAWN_TIMEOUT_MS 60000

/* A running program. */
struct spawn_child {
	pid_t pid; /* 0 when not running */
	int port;  /* from its listening line */
	char log[512];
};

/*
 * Starts program (a file name under $DUNNING_BIN). env is NULL or a list
 * of NAME, value pairs ended by NULL, set in the child only. Output goes
 * to log, appended; NULL picks "<program>-<pid>-<n>.log" in
 * $DUNNING_STACK_DIR (or /tmp). Waits up to timeout_ms for the listening
 * line written after the start (a log shared with an earlier program is
 * read from its end). Fails the test, showing the log, when the program
 * exits or does not listen in time.
 */
void spawn_start(struct spawn_child *c, const char *program,
		 const char *const *env, const char *log, int timeout_ms);

/*
 * Sends sig to a started program and waits for it. Returns its wait
 * status, or -1 when it was not running. When it ends other than by sig
 * or a clean exit, its log is copied to stderr (sanitizer reports).
 */
int spawn_stop(struct spawn_child *c, int sig);

#endif
