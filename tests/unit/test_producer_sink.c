/* test_producer_sink.c: the sink replays events in time order on the
 * product clock, and writes rejects as a CSV anyone can open. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../producer/event.h"
#include "../../producer/sink.h"
#include "clock.h"
#include "config.h"
#include "testenv.h"

#define HOUR_MS INT64_C(3600000)

static void add_invoice(struct sink *s, const char *id, int64_t at)
{
	struct event ev;

	event_reset(&ev, EVENT_INVOICE);
	snprintf(ev.tenant, sizeof(ev.tenant), "t");
	snprintf(ev.customer_id, sizeof(ev.customer_id), "C1");
	snprintf(ev.invoice_id, sizeof(ev.invoice_id), "%s", id);
	snprintf(ev.currency, sizeof(ev.currency), "EUR");
	ev.amount_minor = 100;
	ev.issue_date = (struct civil_date){ 2026, 1, 1 };
	ev.due_source = EVENT_DUE_NONE;
	ev.occurred_at_ms = at;
	assert_int_equal(sink_event(s, &ev), 0);
}

static void test_replay_publishes_in_time_order_when_clock_reaches(void **state)
{
	struct config *cfg = testenv_config(NULL);
	struct sink_options so = { true, true, NULL, NULL, false };
	int64_t start = INT64_C(1767225600000); /* 2026-01-01T00:00:00Z */
	int64_t real_start, published, occurred;
	const char *order[] = { "A", "B", "C", "D" };
	struct sink *s;
	char line[4096], err[256];
	json_t *ev;
	int i = 0;

	(void)state;
	so.out = tmpfile();
	/* One simulated hour passes in 50 real milliseconds. */
	real_start = clock_real_now_ms();
	clock_use_simulated(start, real_start, 72000);
	s = sink_new(cfg, &so, err, sizeof(err));
	assert_non_null(s);
	add_invoice(s, "C", start + 3 * HOUR_MS);
	add_invoice(s, "A", start - HOUR_MS);	  /* past: at once */
	add_invoice(s, "D", start + 3 * HOUR_MS); /* tie keeps file order */
	add_invoice(s, "B", start + HOUR_MS);
	rewind(so.out);
	assert_null(fgets(line, sizeof(line), so.out)); /* nothing yet */

	assert_int_equal(sink_finish(s, 1000), 0);
	assert_true(clock_real_now_ms() - real_start >= 140);
	rewind(so.out);
	while (fgets(line, sizeof(line), so.out)) {
		ev = json_loads(line, 0, NULL);
		assert_non_null(ev);
		assert_true(i < 4);
		assert_string_equal(
			json_string_value(json_object_get(
				json_object_get(ev, "invoice_upserted"),
				"invoice_id")),
			order[i++]);
		assert_int_equal(
			config_parse_instant(json_string_value(json_object_get(
						     ev, "published_at")),
					     &published),
			0);
		assert_int_equal(
			config_parse_instant(json_string_value(json_object_get(
						     ev, "occurred_at")),
					     &occurred),
			0);
		assert_true(published >= occurred);
		json_decref(ev);
	}
	assert_int_equal(i, 4);
	sink_free(s);
	fclose(so.out);
	config_free(cfg);
	clock_use_real();
}

static void test_rejects_are_quoted_csv_and_stale_file_removed(void **state)
{
	struct config *cfg = testenv_config(NULL);
	struct sink_options so = { true, false, NULL, NULL, false };
	struct sink_summary sum;
	struct sink *s;
	char path[128], err[256], *text;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-sink-rej-%ld.csv",
		 (long)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("stale\n", f);
	fclose(f);
	so.out = fopen("/dev/null", "w");
	so.reject_path = path;

	/* No rejection: the stale file from an earlier run is gone. */
	s = sink_new(cfg, &so, err, sizeof(err));
	assert_non_null(s);
	sink_free(s);
	assert_int_not_equal(access(path, F_OK), 0);

	s = sink_new(cfg, &so, err, sizeof(err));
	sink_reject(s, "in,voice.csv", "line 3", "amount",
		    "'1,5' is not a \"decimal\" amount");
	sink_summary(s, &sum);
	assert_int_equal(sum.rejected, 1);
	sink_finish(s, 1000);
	sink_free(s);
	text = testenv_read_file(path, NULL);
	assert_non_null(text);
	assert_string_equal(text,
			    "file,location,field,reason\n"
			    "\"in,voice.csv\",line 3,amount,"
			    "\"'1,5' is not a \"\"decimal\"\" amount\"\n");
	free(text);
	unlink(path);
	fclose(so.out);
	config_free(cfg);
}

/* A file that cannot be read at all is in the reject file too, so the
 * file lists everything that did not get in; it is not a rejected row. */
static void test_unreadable_file_is_in_reject_file_not_counted(void **state)
{
	struct config *cfg = testenv_config(NULL);
	struct sink_options so = { true, false, NULL, NULL, false };
	struct sink_summary sum;
	struct sink *s;
	char path[128], err[256], *text;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/dn-sink-unreadable-%ld.csv",
		 (long)getpid());
	so.out = fopen("/dev/null", "w");
	so.reject_path = path;
	s = sink_new(cfg, &so, err, sizeof(err));
	assert_non_null(s);
	sink_reject_file(s, "export.csv",
			 "column 'amount' is not in the header");
	sink_summary(s, &sum);
	assert_int_equal(sum.rejected, 0);
	sink_finish(s, 1000);
	sink_free(s);
	text = testenv_read_file(path, NULL);
	assert_non_null(text);
	assert_string_equal(text, "file,location,field,reason\n"
				  "export.csv,file,,column 'amount' is not in "
				  "the header\n");
	free(text);
	unlink(path);
	fclose(so.out);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_replay_publishes_in_time_order_when_clock_reaches),
		cmocka_unit_test(
			test_rejects_are_quoted_csv_and_stale_file_removed),
		cmocka_unit_test(
			test_unreadable_file_is_in_reject_file_not_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
