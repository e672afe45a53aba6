/* test_lib_store.c: the Redis connection survives a dropped connection
 * and a server that forgot its scripts, and reports bad addresses. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "store.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

static const char *redis_url(void)
{
	const char *url = getenv("DUNNING_REDIS_URL");

	assert_non_null(url);
	return url;
}

static void test_command_round_trip_is_binary_safe(void **state)
{
	struct store *s = store_new(redis_url(), 2000, NULL, 0);
	const char *argv[] = { "SET", "bin", "a\0b" };
	const size_t lens[] = { 3, 3, 3 };
	redisReply *r;

	(void)state;
	assert_non_null(s);
	store_reply_free(store_command(s, 3, argv, lens));
	r = store_commandf(s, "GET %s", "bin");
	assert_non_null(r);
	assert_int_equal(r->len, 3);
	assert_memory_equal(r->str, "a\0b", 3);
	store_reply_free(r);
	store_free(s);
}

static void test_killed_connection_is_made_again_transparently(void **state)
{
	struct store *s = store_new(redis_url(), 2000, NULL, 0);
	struct store *admin = store_new(redis_url(), 2000, NULL, 0);
	redisReply *r;
	long long id;

	(void)state;
	r = store_commandf(s, "CLIENT ID");
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	id = r->integer;
	store_reply_free(r);

	store_reply_free(store_commandf(admin, "CLIENT KILL ID %lld", id));
	r = store_commandf(s, "PING");
	assert_non_null(r);
	assert_string_equal(r->str, "PONG");
	assert_int_equal(store_reconnects(s), 1);
	store_reply_free(r);
	store_free(admin);
	store_free(s);
}

static const char incr_script[] =
	"return redis.call('INCRBY', KEYS[1], ARGV[1])";

static void test_script_is_loaded_again_after_a_flush(void **state)
{
	struct store *s = store_new(redis_url(), 2000, NULL, 0);
	const char *args[] = { "counter", "5" };
	int script;
	redisReply *r;

	(void)state;
	script = store_script_add(s, "incr", incr_script);
	assert_true(script >= 0);
	r = store_eval(s, script, 1, 2, args, NULL);
	assert_int_equal(r->integer, 5);
	store_reply_free(r);

	store_reply_free(store_commandf(s, "SCRIPT FLUSH"));
	r = store_eval(s, script, 1, 2, args, NULL);
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	assert_int_equal(r->integer, 10);
	store_reply_free(r);
	store_free(s);
}

static void test_pipeline_returns_replies_in_order(void **state)
{
	struct store *s = store_new(redis_url(), 2000, NULL, 0);
	const char *set[] = { "SET", "p", "1" };
	const char *incr[] = { "INCR", "p" };
	const char *get[] = { "GET", "p" };
	const char *const *argvs[] = { set, incr, get };
	const int argcs[] = { 3, 2, 2 };
	redisReply *replies[3];

	(void)state;
	assert_int_equal(store_pipeline(s, 3, argcs, argvs, NULL, replies),
			 DN_OK);
	assert_string_equal(replies[0]->str, "OK");
	assert_int_equal(replies[1]->integer, 2);
	assert_string_equal(replies[2]->str, "2");
	for (int i = 0; i < 3; i++)
		store_reply_free(replies[i]);
	store_free(s);
}

static void test_failed_pipeline_leaves_no_reply_to_free(void **state)
{
	struct store *s = store_new(redis_url(), 2000, NULL, 0);
	const char *ping[] = { "PING" };
	const char *quit[] = { "QUIT" };
	const char *const *argvs[] = { ping, quit, ping };
	const int argcs[] = { 1, 1, 1 };
	redisReply *replies[3] = { NULL, NULL, NULL };
	int i;

	(void)state;
	/* QUIT answers then closes, on the first try and on the retry, so
	 * the pipeline fails after replies were read; callers free every
	 * non-NULL reply, which must then be none. */
	assert_int_equal(store_pipeline(s, 3, argcs, argvs, NULL, replies),
			 DN_ERR_REDIS);
	for (i = 0; i < 3; i++)
		assert_null(replies[i]);
	store_free(s);
}

/* Denies or allows SELECT to every connection of the default user. */
static void select_allowed(struct store *admin, int allowed)
{
	redisReply *r = store_commandf(admin, "ACL SETUSER default %s",
				       allowed ? "+select" : "-select");

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	store_reply_free(r);
}

static void
test_connection_that_cannot_select_its_database_is_not_used(void **state)
{
	struct store *admin = store_new(redis_url(), 2000, NULL, 0);
	struct store *db0 = store_new(redis_url(), 2000, NULL, 0);
	char url[256], err[256];
	struct store *s;
	redisReply *r;
	long long id;

	(void)state;
	snprintf(url, sizeof(url), "%s/3", redis_url());
	s = store_new(url, 300, NULL, 0);
	assert_non_null(s);
	r = store_commandf(s, "CLIENT ID");
	id = r->integer;
	store_reply_free(r);

	/* A new connection that cannot SELECT is refused, not leaked. */
	select_allowed(admin, 0);
	assert_null(store_new(url, 300, err, sizeof(err)));
	assert_non_null(strstr(err, "database 3"));

	/* Dropped while SELECT is denied: the command fails... */
	store_reply_free(store_commandf(admin, "CLIENT KILL ID %lld", id));
	assert_null(store_commandf(s, "SET where db3"));
	select_allowed(admin, 1);

	/* ...and the next one still lands in database 3, never in 0. */
	store_reply_free(store_commandf(s, "SET where db3"));
	r = store_commandf(db0, "EXISTS where");
	assert_int_equal(r->integer, 0);
	store_reply_free(r);
	r = store_commandf(s, "GET where");
	assert_non_null(r);
	assert_string_equal(r->str, "db3");
	store_reply_free(r);
	store_free(s);
	store_free(db0);
	store_free(admin);
}

static void test_malformed_url_names_the_setting(void **state)
{
	char err[256];

	(void)state;
	assert_null(store_new("redis://:0", 200, err, sizeof(err)));
	assert_non_null(strstr(err, "DUNNING_REDIS_URL"));
	assert_null(
		store_new("redis://127.0.0.1:99999", 200, err, sizeof(err)));
	assert_non_null(strstr(err, "port must be 1 to 65535"));
}

static void test_unreachable_server_is_reported_with_address(void **state)
{
	char err[256];

	(void)state;
	/* Port 1 on loopback: nothing listens there. */
	assert_null(store_new("redis://127.0.0.1:1", 200, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot connect to redis at 127.0.0.1:1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_round_trip_is_binary_safe),
		cmocka_unit_test(
			test_killed_connection_is_made_again_transparently),
		cmocka_unit_test(test_script_is_loaded_again_after_a_flush),
		cmocka_unit_test(test_pipeline_returns_replies_in_order),
		cmocka_unit_test(test_failed_pipeline_leaves_no_reply_to_free),
		cmocka_unit_test(
			test_connection_that_cannot_select_its_database_is_not_used),
		cmocka_unit_test(test_malformed_url_names_the_setting),
		cmocka_unit_test(
			test_unreachable_server_is_reported_with_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
