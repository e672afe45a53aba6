/* test_lib_shutdown.c: SIGTERM and SIGINT only ask for a stop, from any
 * thread, and SIGPIPE never kills the process. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shutdown.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs body in a child process and returns its exit status. */
static int in_child(void (*body)(void))
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		body();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void term_then_check(void)
{
	shutdown_install();
	if (shutdown_requested())
		_exit(2);
	raise(SIGTERM);
	raise(SIGINT);
	raise(SIGPIPE);
	_exit(shutdown_requested() ? 0 : 3);
}

static void test_signals_set_the_flag_and_never_kill(void **state)
{
	(void)state;
	assert_int_equal(in_child(term_then_check), 0);
}

static void *send_term(void *arg)
{
	(void)arg;
	kill(getpid(), SIGTERM);
	return NULL;
}

static void term_from_another_thread(void)
{
	pthread_t thread;
	int waited;

	shutdown_install();
	if (pthread_create(&thread, NULL, send_term, NULL))
		_exit(4);
	pthread_join(thread, NULL);
	for (waited = 0; waited < 1000 && !shutdown_requested(); waited++)
		usleep(1000);
	_exit(shutdown_requested() ? 0 : 5);
}

static void test_a_stop_asked_on_another_thread_is_seen(void **state)
{
	(void)state;
	assert_int_equal(in_child(term_from_another_thread), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signals_set_the_flag_and_never_kill),
		cmocka_unit_test(test_a_stop_asked_on_another_thread_is_seen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
