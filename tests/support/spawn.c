/* spawn.c: start a built program for a test and wait until it listens. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "spawn.h"

#include "testenv.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define POLL_MS	     20
#define LOG_SHOW_MAX 8192 /* bytes of a log copied to stderr */

static void default_log(char *buf, size_t len, const char *program)
{
	static int counter;
	const char *dir = getenv("DUNNING_STACK_DIR");

	snprintf(buf, len, "%s/%s-%ld-%d.log", dir ? dir : "/tmp", program,
		 (long)getpid(), ++counter);
}

/* Copies the end of a child's log to stderr, for the test's own log. */
static void log_show(const struct spawn_child *c)
{
	char text[LOG_SHOW_MAX];
	FILE *f = fopen(c->log, "r");
	size_t n;

	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof(text))
		fseek(f, -(long)sizeof(text), SEEK_END);
	else
		rewind(f);
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	fprintf(stderr, "--- end of %s ---\n%.*s--- end ---\n", c->log, (int)n,
		text);
}

/* In the child: output to the log, settings, then the program. */
static void child_exec(const char *path, const char *program,
		       const char *const *env, int log_fd)
{
	size_t i;

	dup2(log_fd, STDOUT_FILENO);
	dup2(log_fd, STDERR_FILENO);
	close(log_fd);
	for (i = 0; env && env[i] && env[i + 1]; i += 2)
		setenv(env[i], env[i + 1], 1);
	execl(path, program, (char *)NULL);
	_exit(127);
}

/* The port of a whole "listening=" line of the log after offset, or 0. */
static int listening_port(const char *log, long offset)
{
	char line[512];
	FILE *f = fopen(log, "r");
	int port = 0;

	if (!f)
		return 0;
	if (fseek(f, offset, SEEK_SET) == 0)
		while (!port && fgets(line, sizeof(line), f))
			if (!strchr(line, '\n') ||
			    sscanf(line, "listening=127.0.0.1:%d", &port) != 1)
				port = 0;
	fclose(f);
	return port;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* Polls the log until the listening line, the child's end or the time
 * limit, whichever comes first. */
static void wait_listening(struct spawn_child *c, const char *program,
			   long offset, int timeout_ms)
{
	int status;
	long waited;

	for (waited = 0; waited <= timeout_ms; waited += POLL_MS) {
		c->port = listening_port(c->log, offset);
		if (c->port > 0)
			return;
		if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
			c->pid = 0;
			log_show(c);
			fail_msg("%s %s %d before listening; see %s", program,
				 WIFEXITED(status) ? "exited with status"
						   : "was killed by signal",
				 WIFEXITED(status) ? WEXITSTATUS(status)
						   : WTERMSIG(status),
				 c->log);
		}
		sleep_ms(POLL_MS);
	}
	kill(c->pid, SIGKILL);
	waitpid(c->pid, &status, 0);
	c->pid = 0;
	log_show(c);
	fail_msg("%s did not listen within %d ms; see %s", program, timeout_ms,
		 c->log);
}

void spawn_start(struct spawn_child *c, const char *program,
		 const char *const *env, const char *log, int timeout_ms)
{
	char path[4096];
	struct stat st;
	int log_fd;

	memset(c, 0, sizeof(*c));
	if (log)
		snprintf(c->log, sizeof(c->log), "%s", log);
	else
		default_log(c->log, sizeof(c->log), program);
	snprintf(path, sizeof(path), "%s", testenv_bin(program));

	/* The listening line is looked for after what the log holds now. */
	log_fd = open(c->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0)
		fail_msg("cannot open %s: %s", c->log, strerror(errno));
	if (fstat(log_fd, &st) != 0)
		fail_msg("cannot stat %s: %s", c->log, strerror(errno));

	/* Flushed first, or the child would write the test's buffers too. */
	fflush(NULL);
	c->pid = fork();
	if (c->pid < 0)
		fail_msg("cannot fork: %s", strerror(errno));
	if (c->pid == 0)
		child_exec(path, program, env, log_fd);
	close(log_fd);
	wait_listening(c, program, (long)st.st_size, timeout_ms);
}

int spawn_stop(struct spawn_child *c, int sig)
{
	int status;

	if (c->pid <= 0)
		return -1;
	kill(c->pid, sig);
	if (waitpid(c->pid, &status, 0) != c->pid)
		status = -1;
	c->pid = 0;
	if (status != -1 && !(WIFSIGNALED(status) && WTERMSIG(status) == sig) &&
	    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		log_show(c);
	return status;
}
