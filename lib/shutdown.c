/* shutdown.c: signal handling that only sets a flag. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "shutdown.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int signo)
{
	(void)signo;
	stop_flag = 1;
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
	return stop_flag != 0;
}

void shutdown_request(void)
{
	stop_flag = 1;
}
