/* shutdown.c: signal handling that only sets a flag. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "shutdown.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>

/* Atomic, not only volatile: the signal may be handled on any thread that
 * does not block it (libmicrohttpd's, libcurl's), shutdown_request may be
 * called from any thread, and the main loop reads it on another. A
 * lock-free atomic is also safe to write from a signal handler. */
static atomic_int stop_flag;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "stop flag must be lock-free");

static void on_signal(int signo)
{
	(void)signo;
	atomic_store(&stop_flag, 1);
}

void shutdown_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

int shutdown_requested(void)
{
	return atomic_load(&stop_flag) != 0;
}

void shutdown_request(void)
{
	atomic_store(&stop_flag, 1);
}
