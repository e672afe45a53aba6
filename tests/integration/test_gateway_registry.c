/* test_gateway_registry.c: the gateway's Redis records against a real Redis. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies on the stack's Redis that a command id is claimed once and
 * claimed again only after a release, that an accepted send makes the
 * message and the customer's WhatsApp identities resolvable, that a
 * status only moves forward, that an inbound message is new only once,
 * and that the service window keeps the last inbound instant.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/registry.h"
#include "error.h"
#include "testenv.h"

static struct registry *registry;
static char prefix[64];

static const char *id(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", prefix, name);
	return buf;
}

static void test_command_is_claimed_once_until_released(void **state)
{
	char found[64], err[256], command[256];
	int claimed = -1;

	(void)state;
	snprintf(command, sizeof(command), "%s", id("cmd-1"));
	assert_int_equal(registry_claim(registry, command, "me", "demo", "C1",
					&claimed, found, sizeof(found), err,
					sizeof(err)),
			 DN_OK);
	assert_int_equal(claimed, 1);
	assert_int_equal(registry_claim(registry, command, "other", "demo",
					"C1", &claimed, found, sizeof(found),
					err, sizeof(err)),
			 DN_OK);
	assert_int_equal(claimed, 0);
	assert_string_equal(found, "pending");

	/* Refused by the API: may go again. */
	assert_int_equal(registry_release(registry, command, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(registry_claim(registry, command, "other", "demo",
					"C1", &claimed, found, sizeof(found),
					err, sizeof(err)),
			 DN_OK);
	assert_int_equal(claimed, 1);

	/* The same claim again (its first answer lost): still ours. */
	assert_int_equal(registry_claim(registry, command, "other", "demo",
					"C1", &claimed, found, sizeof(found),
					err, sizeof(err)),
			 DN_OK);
	assert_int_equal(claimed, 1);

	/* Finished: never again. */
	assert_int_equal(registry_finish(registry, command, "failed",
					 "131026 undeliverable", err,
					 sizeof(err)),
			 DN_OK);
	assert_int_equal(registry_claim(registry, command, "me", "demo", "C1",
					&claimed, found, sizeof(found), err,
					sizeof(err)),
			 DN_OK);
	assert_int_equal(claimed, 0);
	assert_string_equal(found, "failed");
}

static void test_accepted_send_resolves_message_and_identities(void **state)
{
	struct registry_owner owner;
	char command[256], wamid[256], err[256];
	char found[64];
	int claimed;

	(void)state;
	snprintf(command, sizeof(command), "%s", id("cmd-2"));
	snprintf(wamid, sizeof(wamid), "wamid.%s", prefix);
	assert_int_equal(registry_claim(registry, command, "me", "demo", "C2",
					&claimed, found, sizeof(found), err,
					sizeof(err)),
			 DN_OK);
	assert_int_equal(registry_command_owner(registry, command, &owner, err,
						sizeof(err)),
			 DN_OK);
	assert_string_equal(owner.customer, "C2");
	assert_string_equal(owner.command, command);

	assert_int_equal(registry_accepted(registry, command, wamid, "PN1",
					   "551112345678", "+5511912345678",
					   "demo", "C2", err, sizeof(err)),
			 DN_OK);
	assert_int_equal(registry_message_owner(registry, wamid, &owner, err,
						sizeof(err)),
			 DN_OK);
	assert_string_equal(owner.tenant, "demo");
	assert_string_equal(owner.customer, "C2");
	assert_string_equal(owner.command, command);
	assert_int_equal(registry_user_owner(registry, "PN1", "551112345678",
					     &owner, err, sizeof(err)),
			 DN_OK);
	assert_string_equal(owner.customer, "C2");
	assert_int_equal(registry_user_owner(registry, "PN1", "5511912345678",
					     &owner, err, sizeof(err)),
			 DN_OK);
	assert_int_equal(registry_user_owner(registry, "PN2", "551112345678",
					     &owner, err, sizeof(err)),
			 DN_ERR_NOT_FOUND);
	assert_int_equal(registry_message_owner(registry, "wamid.unknown",
						&owner, err, sizeof(err)),
			 DN_ERR_NOT_FOUND);
}

static void test_status_moves_only_forward(void **state)
{
	char wamid[256], err[256];
	int advanced;

	(void)state;
	snprintf(wamid, sizeof(wamid), "wamid.%s.status", prefix);
	assert_int_equal(registry_status_advance(registry, wamid, 2, &advanced,
						 err, sizeof(err)),
			 DN_OK);
	assert_int_equal(advanced, 1);
	registry_status_advance(registry, wamid, 1, &advanced, err,
				sizeof(err));
	assert_int_equal(advanced, 0);
	registry_status_advance(registry, wamid, 2, &advanced, err,
				sizeof(err));
	assert_int_equal(advanced, 0);
	registry_status_advance(registry, wamid, 3, &advanced, err,
				sizeof(err));
	assert_int_equal(advanced, 1);
}

static void test_inbound_message_is_new_once(void **state)
{
	char wamid[256], err[256];
	int first;

	(void)state;
	snprintf(wamid, sizeof(wamid), "wamid.%s.in", prefix);
	assert_int_equal(
		registry_seen(registry, wamid, &first, err, sizeof(err)),
		DN_OK);
	assert_int_equal(first, 1);
	registry_seen(registry, wamid, &first, err, sizeof(err));
	assert_int_equal(first, 0);
}

static void test_window_keeps_the_last_inbound_instant(void **state)
{
	char customer[128], err[256];
	int64_t at = -1;

	(void)state;
	snprintf(customer, sizeof(customer), "%s-C3", prefix);
	assert_int_equal(registry_window_last(registry, "demo", customer, &at,
					      err, sizeof(err)),
			 DN_OK);
	assert_int_equal(at, 0);
	registry_window_open(registry, "demo", customer, 1767225600000LL, err,
			     sizeof(err));
	registry_window_last(registry, "demo", customer, &at, err, sizeof(err));
	assert_int_equal(at, 1767225600000LL);
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	testenv_unique("reg", prefix, sizeof(prefix));
	registry = registry_new(getenv("DUNNING_REDIS_URL"), 2000, err,
				sizeof(err));
	if (!registry)
		fail_msg("redis: %s", err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	registry_free(registry);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_is_claimed_once_until_released),
		cmocka_unit_test(
			test_accepted_send_resolves_message_and_identities),
		cmocka_unit_test(test_status_moves_only_forward),
		cmocka_unit_test(test_inbound_message_is_new_once),
		cmocka_unit_test(test_window_keeps_the_last_inbound_instant),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
