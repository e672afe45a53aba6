/* test_lib_store_auth.c: a Redis that wants a password is reached with
 * the one in the URL, and no error ever shows it. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starts a redis-server of its own with requirepass on a free loopback
 * port (the stack's Redis has no password), and a user of its own set
 * up with ACL SETUSER.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "store.h"
#include "testenv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* '@', '/' and ':' in a password must not confuse the URL. */
#define PASSWORD "s3cr:et/p@ss"
#define USER	 "ledger"
#define USER_PW	 "user-pw-42"

static pid_t server;
static int port;

/* Whether our server answers: NOAUTH to a PING means it is up. */
static int server_answers(void)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
	int up = r && r->type == REDIS_REPLY_ERROR &&
		 strncmp(r->str, "NOAUTH", 6) == 0;

	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	return up;
}

static void start_server(const char *dir)
{
	char port_text[16], log[512];
	int i, status;

	port = testenv_free_port();
	snprintf(port_text, sizeof(port_text), "%d", port);
	snprintf(log, sizeof(log), "%s/redis-auth-%d.log", dir, port);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		execlp("redis-server", "redis-server", "--port", port_text,
		       "--bind", "127.0.0.1", "--save", "", "--appendonly",
		       "no", "--dir", dir, "--logfile", log, "--requirepass",
		       PASSWORD, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 250 && !server_answers(); i++) {
		struct timespec t = { 0, 20000000 };

		if (waitpid(server, &status, WNOHANG) == server)
			fail_msg("redis-server exited; see %s", log);
		nanosleep(&t, NULL);
	}
	if (!server_answers()) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
		fail_msg("redis-server did not answer on port %d", port);
	}
}

static int setup(void **state)
{
	const char *dir = getenv("DUNNING_STACK_DIR");

	(void)state;
	start_server(dir ? dir : "/tmp");
	return 0;
}

static int teardown(void **state)
{
	int status;

	(void)state;
	kill(server, SIGTERM);
	waitpid(server, &status, 0);
	return 0;
}

static struct store *connect_with(const char *auth, char *err, size_t len)
{
	char url[256];

	snprintf(url, sizeof(url), "redis://%s127.0.0.1:%d", auth, port);
	err[0] = '\0';
	return store_new(url, 500, err, len);
}

static void test_right_password_connects(void **state)
{
	char err[512];
	struct store *s = connect_with(":" PASSWORD "@", err, sizeof(err));
	redisReply *r;

	(void)state;
	assert_non_null(s);
	r = store_commandf(s, "SET %s %s", "k", "v");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	store_reply_free(r);
	store_free(s);
}

static void test_escaped_password_and_database_connect(void **state)
{
	char url[256], err[512];
	struct store *s;
	redisReply *r;

	(void)state;
	snprintf(url, sizeof(url),
		 "redis://:s3cr%%3Aet%%2Fp%%40ss@127.0.0.1:%d/2", port);
	s = store_new(url, 500, err, sizeof(err));
	assert_non_null(s);
	store_reply_free(store_commandf(s, "SET where db2"));
	store_free(s);

	/* The key landed in database 2, not 0. */
	s = connect_with(":" PASSWORD "@", err, sizeof(err));
	assert_non_null(s);
	r = store_commandf(s, "EXISTS where");
	assert_int_equal(r->integer, 0);
	store_reply_free(r);
	store_free(s);
}

static void test_user_and_password_connect_as_that_user(void **state)
{
	char err[512];
	struct store *admin = connect_with(":" PASSWORD "@", err, sizeof(err));
	struct store *s;
	redisReply *r;

	(void)state;
	assert_non_null(admin);
	r = store_commandf(admin, "ACL SETUSER %s on >%s ~* +@all", USER,
			   USER_PW);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	store_reply_free(r);

	s = connect_with(USER ":" USER_PW "@", err, sizeof(err));
	assert_non_null(s);
	r = store_commandf(s, "ACL WHOAMI");
	assert_non_null(r);
	assert_string_equal(r->str, USER);
	store_reply_free(r);
	store_free(s);

	/* The user's password is not the default user's. */
	assert_null(connect_with(USER ":" PASSWORD "@", err, sizeof(err)));
	assert_non_null(strstr(err, "refused the password of user " USER));
	store_free(admin);
}

static void test_wrong_password_fails_without_showing_it(void **state)
{
	char err[512];

	(void)state;
	assert_null(connect_with(":wrong-horse-42@", err, sizeof(err)));
	print_message("# %s\n", err);
	assert_non_null(strstr(err, "refused the password"));
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_null(strstr(err, "wrong-horse-42"));
	assert_null(strstr(err, PASSWORD));
}

static void test_missing_password_fails_clearly(void **state)
{
	char url[256], err[512];

	(void)state;
	assert_null(connect_with("", err, sizeof(err)));
	print_message("# %s\n", err);
	assert_non_null(strstr(err, "requires a password"));

	/* Also when the first command is a SELECT. */
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", port);
	assert_null(store_new(url, 500, err, sizeof(err)));
	assert_non_null(strstr(err, "requires a password"));
}

static void test_malformed_url_hides_the_password(void **state)
{
	char err[512];

	(void)state;
	/* A bad port after a password: the URL is quoted, masked. */
	assert_null(store_new("redis://u:hunter2@127.0.0.1:0", 200, err,
			      sizeof(err)));
	print_message("# %s\n", err);
	assert_non_null(strstr(err, "redis://u:***@127.0.0.1:0"));
	assert_null(strstr(err, "hunter2"));

	/* No ':' before the '@': all of it may be a password. */
	assert_null(store_new("redis://hunter2@127.0.0.1:1", 200, err,
			      sizeof(err)));
	assert_non_null(strstr(err, "expected redis://[[user]:password@]"));
	assert_null(strstr(err, "hunter2"));

	/* A bad escape or an empty password. */
	assert_null(store_new("redis://:hun%zz@127.0.0.1:1", 200, err,
			      sizeof(err)));
	assert_non_null(strstr(err, "escape"));
	assert_null(strstr(err, "hun%zz"));
	assert_null(store_new("redis://u:@127.0.0.1:1", 200, err, sizeof(err)));
	assert_non_null(strstr(err, "password is empty"));
}

static void test_oversized_password_is_refused(void **state)
{
	char url[600], err[512];

	(void)state;
	memset(url, 'x', sizeof(url));
	memcpy(url, "redis://:", 9);
	snprintf(url + 9 + 256, sizeof(url) - 9 - 256, "@127.0.0.1:%d", port);
	assert_null(store_new(url, 200, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than 255 bytes"));
	assert_null(strstr(err, "xxxxxxxx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_right_password_connects),
		cmocka_unit_test(test_escaped_password_and_database_connect),
		cmocka_unit_test(test_user_and_password_connect_as_that_user),
		cmocka_unit_test(test_wrong_password_fails_without_showing_it),
		cmocka_unit_test(test_missing_password_fails_clearly),
		cmocka_unit_test(test_malformed_url_hides_the_password),
		cmocka_unit_test(test_oversized_password_is_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
