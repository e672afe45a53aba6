/* test_producer_kafka.c: the real IBM export and every real UBL file go
 * through dunning-producer to the local broker and read back with the
 * right counts, keys and values; a second import repeats the same ids. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "kafka.h"
#include "testenv.h"

#include "dunning/v1/ledger.pb-c.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ARGS_MAX 40
#define SEEN_MAX 8192

/* What was read back for one tenant. */
struct readback {
	size_t invoices, payments, disputes, customers, total;
	char (*ids)[48]; /* event ids, in reading order */
	Dunning__V1__LedgerEvent *kept[SEEN_MAX];
	size_t kept_count;
};

static struct config *cfg;
static char work_dir[256];

/* Runs dunning-producer with args (NULL-terminated) for tenant; output
 * goes to a log in the work directory. Returns the exit status. */
static int run_producer(const char *tenant, const char *const *args)
{
	const char *argv[ARGS_MAX + 2];
	char log_path[300];
	pid_t pid;
	int status, fd, i;

	argv[0] = "dunning-producer";
	for (i = 0; args[i] && i < ARGS_MAX; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	snprintf(log_path, sizeof(log_path), "%s/producer.log", work_dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setenv("DUNNING_TENANT", tenant, 1);
		if (chdir(work_dir) != 0)
			_exit(127);
		execv(testenv_bin("dunning-producer"), (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool keep_event(const Dunning__V1__LedgerEvent *ev)
{
	return ev->body_case ==
		       DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED ||
	       ev->body_case ==
		       DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED ||
	       ev->body_case ==
		       DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED;
}

static void count_event(struct readback *rb, Dunning__V1__LedgerEvent *ev)
{
	switch (ev->body_case) {
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED:
		rb->invoices++;
		break;
	case DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED:
		rb->payments++;
		break;
	case DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_DISPUTED:
		rb->disputes++;
		break;
	case DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED:
		rb->customers++;
		break;
	default:
		break;
	}
	snprintf(rb->ids[rb->total], 48, "%s", ev->event_id);
	rb->total++;
	if (keep_event(ev) && rb->kept_count < SEEN_MAX)
		rb->kept[rb->kept_count++] = ev;
	else
		dunning__v1__ledger_event__free_unpacked(ev, NULL);
}

/* Checks the message key is tenant/customer_id of its event. */
static void check_key(const rd_kafka_message_t *msg,
		      const Dunning__V1__LedgerEvent *ev)
{
	char expected[300];
	const void *key;
	size_t len;

	key = kafka_message_key(msg, &len);
	snprintf(expected, sizeof(expected), "%s/%s", ev->tenant,
		 ev->customer_id);
	assert_int_equal(len, strlen(expected));
	assert_memory_equal(key, expected, len);
}

/* Reads invoice.events from the start until nothing more arrives: 2 s
 * after want events of tenant are in, or 15 s before. */
static void read_back(const char *tenant, size_t want, struct readback *rb)
{
	const char *topics[] = { config_str(cfg,
					    "DUNNING_TOPIC_INVOICE_EVENTS") };
	struct kafka_consumer *c;
	rd_kafka_message_t *msg;
	Dunning__V1__LedgerEvent *ev;
	char group[64], err[256];
	const void *payload;
	size_t len;
	int idle = 0;

	memset(rb, 0, sizeof(*rb));
	rb->ids = calloc(SEEN_MAX * 2, 48);
	assert_non_null(rb->ids);
	c = kafka_consumer_new(cfg,
			       testenv_unique("readback", group, sizeof(group)),
			       topics, 1, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(c);
	while (rb->total < SEEN_MAX * 2 && idle < 150) {
		msg = kafka_consumer_poll(c, 100);
		if (!msg) {
			idle += rb->total >= want ? 7 : 1;
			continue;
		}
		idle = 0;
		payload = kafka_message_payload(msg, &len);
		ev = dunning__v1__ledger_event__unpack(NULL, len, payload);
		assert_non_null(ev);
		if (strcmp(ev->tenant, tenant) == 0) {
			check_key(msg, ev);
			count_event(rb, ev);
		} else {
			dunning__v1__ledger_event__free_unpacked(ev, NULL);
		}
		kafka_message_free(msg);
	}
	kafka_consumer_free(c);
}

static void release(struct readback *rb)
{
	size_t i;

	for (i = 0; i < rb->kept_count; i++)
		dunning__v1__ledger_event__free_unpacked(rb->kept[i], NULL);
	free(rb->ids);
}

static const Dunning__V1__LedgerEvent *
find(const struct readback *rb, Dunning__V1__LedgerEvent__BodyCase body,
     const char *invoice_id)
{
	const Dunning__V1__LedgerEvent *ev;
	const char *id;
	size_t i;

	for (i = 0; i < rb->kept_count; i++) {
		ev = rb->kept[i];
		if (ev->body_case != body)
			continue;
		id = body == DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED
			     ? ev->invoice_upserted->invoice_id
		     : body == DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED
			     ? ev->payment_received->invoice_id
			     : ev->customer_id;
		if (strcmp(id, invoice_id) == 0)
			return ev;
	}
	return NULL;
}

static void test_ibm_export_reads_back_with_counts_and_values(void **state)
{
	static char file[512];
	const char *args[] = { "import", "--preset", "ibm-ar", "--currency",
			       "USD",	 file,	     NULL };
	const Dunning__V1__LedgerEvent *inv, *pay;
	struct readback rb;
	char tenant[64];

	(void)state;
	/* testenv's paths share one static buffer: keep a copy. */
	snprintf(file, sizeof(file), "%s",
		 testenv_shared("ar/ibm_accounts_receivable.csv"));
	testenv_unique("ibm", tenant, sizeof(tenant));
	assert_int_equal(run_producer(tenant, args), 0);
	read_back(tenant, 5493, &rb);

	/* 2,466 rows, all settled, 561 disputed. */
	assert_int_equal(rb.invoices, 2466);
	assert_int_equal(rb.payments, 2466);
	assert_int_equal(rb.disputes, 561);
	assert_int_equal(rb.total, 5493);

	inv = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED,
		   "0000611365");
	assert_non_null(inv);
	assert_string_equal(inv->customer_id, "0379-NEVHP");
	assert_int_equal(inv->invoice_upserted->amount->minor_units, 5594);
	assert_string_equal(inv->invoice_upserted->amount->currency, "USD");
	assert_int_equal(inv->invoice_upserted->due_date->month, 2);
	assert_int_equal(inv->invoice_upserted->due_date->day, 1);
	assert_int_equal(
		inv->invoice_upserted->due_date_source,
		DUNNING__V1__DUE_DATE_SOURCE__DUE_DATE_SOURCE_EXPLICIT);
	assert_true(inv->published_at_ms > 0);

	/* Settled 1/15/2013: paid at 2013-01-15T12:00:00Z, in full. */
	pay = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_PAYMENT_RECEIVED,
		   "0000611365");
	assert_non_null(pay);
	assert_int_equal(pay->occurred_at_ms, INT64_C(1358251200000));
	assert_string_equal(pay->payment_received->payment_id,
			    "0000611365/settled");
	assert_int_equal(pay->payment_received->amount->minor_units, 5594);
	release(&rb);
}

static void list_ubl_files(const char **args, int *n)
{
	static char paths[32][512];
	struct dirent *entry;
	DIR *dir;
	int count = 0;

	dir = opendir(testenv_shared("ubl"));
	assert_non_null(dir);
	while ((entry = readdir(dir)) && count < 32) {
		size_t len = strlen(entry->d_name);

		if (len < 5 || strcmp(entry->d_name + len - 4, ".xml") != 0)
			continue;
		snprintf(paths[count], sizeof(paths[count]), "%s",
			 testenv_shared("ubl"));
		snprintf(paths[count] + strlen(paths[count]),
			 sizeof(paths[count]) - strlen(paths[count]), "/%s",
			 entry->d_name);
		args[(*n)++] = paths[count++];
	}
	closedir(dir);
	args[*n] = NULL;
	assert_int_equal(count, 15);
}

static void test_every_ubl_file_imports_and_reads_back(void **state)
{
	const char *args[ARGS_MAX] = { "import", "--reject-file", "ubl.rej" };
	const Dunning__V1__LedgerEvent *ev;
	char tenant[64], path[300], *rejects;
	struct readback rb;
	int n = 3;

	(void)state;
	list_ubl_files(args, &n);
	testenv_unique("ubl", tenant, sizeof(tenant));

	/* Two buyers' phones are not valid numbers: those customer records
	 * are rejected (exit 1), every invoice is imported. */
	assert_int_equal(run_producer(tenant, args), 1);
	snprintf(path, sizeof(path), "%s/ubl.rej", work_dir);
	rejects = testenv_read_file(path, NULL);
	assert_non_null(rejects);
	assert_non_null(strstr(rejects,
			       "01.01_comprehensive_test_ubl.xml,"
			       "/Invoice/cac:AccountingCustomerParty"));
	assert_non_null(strstr(rejects, "CreditNote-Max_content.xml,"));
	free(rejects);

	read_back(tenant, 20, &rb);
	assert_int_equal(rb.invoices, 15);
	assert_int_equal(rb.customers, 5);

	ev = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED,
		  "800018");
	assert_non_null(ev);
	assert_int_equal(ev->invoice_upserted->amount->minor_units, 11500000);
	assert_string_equal(ev->invoice_upserted->amount->currency, "USD");
	ev = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED,
		  "123456789");
	assert_non_null(ev);
	assert_int_equal(ev->invoice_upserted->amount->minor_units, -22514);
	assert_true(ev->invoice_upserted->not_dunnable);
	ev = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED,
		  "2018210");
	assert_non_null(ev);
	assert_int_equal(ev->invoice_upserted->kind,
			 DUNNING__V1__DOCUMENT_KIND__DOCUMENT_KIND_CREDIT_NOTE);
	assert_true(ev->invoice_upserted->not_dunnable);
	ev = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED,
		  "Vat-Z");
	assert_non_null(ev);
	assert_int_equal(ev->invoice_upserted->due_date_source,
			 DUNNING__V1__DUE_DATE_SOURCE__DUE_DATE_SOURCE_NONE);
	ev = find(&rb, DUNNING__V1__LEDGER_EVENT__BODY_CUSTOMER_UPSERTED,
		  "91888222000");
	assert_non_null(ev);
	assert_string_equal(ev->customer_upserted->phone_e164, "+61261234567");
	release(&rb);
}

static void test_generated_ledger_imported_twice_repeats_event_ids(void **state)
{
	const char *generate[] = { "generate",	  "--seed",  "3",
				   "--customers", "20",	     "--invoices",
				   "150",	  "--start", "2026-01-01",
				   "--days",	  "60",	     "--out-dir",
				   ".",		  NULL };
	const char *import[] = { "import", "customers.csv", "ledger.csv",
				 NULL };
	struct readback rb;
	char tenant[64];
	size_t i, half;

	(void)state;
	testenv_unique("gen", tenant, sizeof(tenant));
	assert_int_equal(run_producer(tenant, generate), 0);
	assert_int_equal(run_producer(tenant, import), 0);
	assert_int_equal(run_producer(tenant, import), 0);
	read_back(tenant, 2 * (20 + 150), &rb);
	assert_int_equal(rb.customers, 40);
	assert_true(rb.total % 2 == 0);

	/* Each id of the first import appears again in the second. */
	half = rb.total / 2;
	for (i = 0; i < half; i++) {
		size_t j;
		int seen = 0;

		for (j = 0; j < rb.total; j++)
			seen += strcmp(rb.ids[i], rb.ids[j]) == 0;
		assert_int_equal(seen, 2);
	}
	release(&rb);
}

/* Writes text to name in the work directory. */
static void write_work_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", work_dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Counts the lines of a file in the work directory. */
static int work_file_lines(const char *name)
{
	char path[512];
	int c, lines = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", work_dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines;
}

/* Bad rows, lines, documents and a missing file among good ones: every
 * good event reaches the broker, each bad one is a line of the reject
 * file, and the exit status says something was rejected. */
static void test_hostile_batch_imports_the_rest_and_exits_nonzero(void **state)
{
	const char *import[] = { "import",
				 "--reject-file",
				 "hostile-rejects.csv",
				 "ledger-bad.csv",
				 "push.jsonl",
				 "missing.csv",
				 "two-amounts.xml",
				 NULL };
	struct readback rb;
	char tenant[64];

	(void)state;
	testenv_unique("hostile", tenant, sizeof(tenant));
	write_work_file(
		"ledger-bad.csv",
		"type,invoice_id,customer_id,date,due_date,amount,currency\n"
		"invoice,H1,C1,2026-01-10,2026-02-09,10.00,EUR\n"
		"invoice,H2,C1,2026-02-30,,10.00,EUR\n"
		"invoice,H3,C1,2026-01-10,,1e5,EUR\n"
		"invoice,H5,C\xFF,2026-01-10,,1.00,EUR\n"
		"invoice,\"H4,C1,2026-01-10,,1.00,EUR\n");
	write_work_file(
		"push.jsonl",
		"{\"customer_id\":\"C2\",\"occurred_at\":"
		"\"2026-01-20T08:00:00Z\",\"payment_received\":{"
		"\"invoice_id\":\"H1\",\"payment_id\":\"P1\","
		"\"amount\":{\"minor_units\":1000,\"currency\":\"EUR\"}}}\n"
		"[1,2\n"
		"{\"customer_id\":\"C2\",\"occurred_at\":"
		"\"2026-01-20T08:00:00Z\",\"invoice_disputed\":{"
		"\"invoice_id\":\"H1\"},\"payment_received\":{"
		"\"invoice_id\":\"H1\",\"payment_id\":\"P2\","
		"\"amount\":{\"minor_units\":5,\"currency\":\"EUR\"}}}\n");
	write_work_file(
		"two-amounts.xml",
		"<?xml version=\"1.0\"?>\n<Invoice xmlns=\"urn:oasis:names:"
		"specification:ubl:schema:xsd:Invoice-2\" xmlns:cac=\"urn:"
		"oasis:names:specification:ubl:schema:xsd:CommonAggregate"
		"Components-2\" xmlns:cbc=\"urn:oasis:names:specification:ubl:"
		"schema:xsd:CommonBasicComponents-2\"><cbc:ID>U1</cbc:ID>"
		"<cbc:IssueDate>2026-01-10</cbc:IssueDate>"
		"<cac:AccountingCustomerParty><cac:Party><cbc:EndpointID>B1"
		"</cbc:EndpointID></cac:Party></cac:AccountingCustomerParty>"
		"<cac:LegalMonetaryTotal><cbc:PayableAmount currencyID=\"EUR\">"
		"1.00</cbc:PayableAmount><cbc:PayableAmount currencyID=\"EUR\">"
		"2.00</cbc:PayableAmount></cac:LegalMonetaryTotal></"
		"Invoice>\n");

	assert_int_equal(run_producer(tenant, import), 1);
	read_back(tenant, 2, &rb);
	assert_int_equal(rb.total, 2);
	assert_int_equal(rb.invoices, 1);
	assert_int_equal(rb.payments, 1);
	assert_non_null(find(
		&rb, DUNNING__V1__LEDGER_EVENT__BODY_INVOICE_UPSERTED, "H1"));
	release(&rb);

	/* Header, 4 bad rows, 2 bad lines, the missing file, the document. */
	assert_int_equal(work_file_lines("hostile-rejects.csv"),
			 1 + 4 + 2 + 1 + 1);
}

static int setup(void **state)
{
	(void)state;
	cfg = testenv_config(NULL);
	snprintf(work_dir, sizeof(work_dir), "/tmp/dn-producer-it-%ld",
		 (long)getpid());
	mkdir(work_dir, 0700);
	return 0;
}

static int teardown(void **state)
{
	char command[300];

	(void)state;
	config_free(cfg);
	snprintf(command, sizeof(command), "rm -rf %s", work_dir);
	if (system(command) != 0)
		return 1;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_ibm_export_reads_back_with_counts_and_values),
		cmocka_unit_test(test_every_ubl_file_imports_and_reads_back),
		cmocka_unit_test(
			test_generated_ledger_imported_twice_repeats_event_ids),
		cmocka_unit_test(
			test_hostile_batch_imports_the_rest_and_exits_nonzero),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
