/* ubl.c: UBL 2.1 invoices and credit notes via libxml2 XPath. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ubl.h"

#include "civil.h"
#include "event.h"
#include "import.h"
#include "sink.h"

#include "error.h"
#include "money.h"
#include "phone.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define NS_INVOICE "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
#define NS_CREDIT_NOTE                                                         \
	"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
#define NS_CAC                                                                 \
	"urn:oasis:names:specification:ubl:schema:xsd:"                        \
	"CommonAggregateComponents-2"
#define NS_CBC                                                                 \
	"urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

#define BUYER "cac:AccountingCustomerParty/cac:Party/"

/* One document being read. */
struct ubl_doc {
	const char *path;
	const struct import_options *opts;
	xmlDocPtr xml;
	xmlXPathContextPtr xpath;
	const char *root; /* "Invoice" or "CreditNote", for locations */
	char location[160];
	char why[256];
	int matches; /* nodes the last xpath_text selected */
};

/*
 * Text of the first node expr selects (relative to the root element),
 * spaces trimmed, into buf (size len); "" when nothing matches. Returns
 * false if the text does not fit.
 */
static bool xpath_text(struct ubl_doc *d, const char *expr, char *buf,
		       size_t len)
{
	xmlXPathObjectPtr result;
	xmlChar *content = NULL;
	const char *start;
	size_t n;
	bool fits = true;

	buf[0] = '\0';
	d->matches = 0;
	result = xmlXPathEvalExpression((const xmlChar *)expr, d->xpath);
	if (result && result->nodesetval)
		d->matches = result->nodesetval->nodeNr;
	if (d->matches > 0)
		content = xmlNodeGetContent(result->nodesetval->nodeTab[0]);
	xmlXPathFreeObject(result);
	if (!content)
		return true;

	start = (const char *)content;
	while (*start == ' ' || *start == '\n' || *start == '\t' ||
	       *start == '\r')
		start++;
	n = strlen(start);
	while (n && strchr(" \n\t\r", start[n - 1]))
		n--;
	if (n >= len) {
		fits = false;
		n = 0;
	}
	memcpy(buf, start, n);
	buf[n] = '\0';
	xmlFree(content);
	return fits;
}

/* xpath_text into an event field, failing with the XPath when too long or
 * (if required) missing. */
static int take(struct ubl_doc *d, const char *expr, char *buf, size_t len,
		bool required)
{
	snprintf(d->location, sizeof(d->location), "/%s/%s", d->root, expr);
	if (!xpath_text(d, expr, buf, len))
		return dn_fail(DN_ERR_TOO_LARGE, d->why, sizeof(d->why),
			       "longer than %zu bytes", len - 1);
	if (required && !buf[0])
		return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why),
			       "missing");
	return DN_OK;
}

/* take for an element UBL allows once: a second one makes the document
 * ambiguous (which amount is owed?), so it is refused, not guessed. */
static int take_once(struct ubl_doc *d, const char *expr, char *buf, size_t len,
		     bool required)
{
	int rc = take(d, expr, buf, len, required);

	if (!rc && d->matches > 1)
		return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why),
			       "appears %d times", d->matches);
	return rc;
}

/* The first of several XPaths that yields text. */
static int take_first(struct ubl_doc *d, const char *const *exprs, size_t count,
		      char *buf, size_t len, size_t *which)
{
	size_t i;
	int rc;

	for (i = 0; i < count; i++) {
		rc = take(d, exprs[i], buf, len, false);
		if (rc || buf[0]) {
			if (which)
				*which = i;
			return rc;
		}
	}
	snprintf(d->location, sizeof(d->location), "/%s/%s", d->root, exprs[0]);
	return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why), "missing");
}

static int take_date(struct ubl_doc *d, const char *expr,
		     struct civil_date *out, bool *present, bool once)
{
	char text[32], why[200];
	int rc = once ? take_once(d, expr, text, sizeof(text), false)
		      : take(d, expr, text, sizeof(text), false);

	*present = text[0] != '\0';
	if (rc || !*present)
		return rc;
	if (civil_parse(text, strlen(text), CIVIL_ISO, out, why, sizeof(why)))
		return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why), "%s",
			       why);
	return DN_OK;
}

/* cbc:DueDate, else a payment due date, else none: and say which. */
static int read_due_date(struct ubl_doc *d, struct event *ev)
{
	static const char *const terms[] = {
		"cac:PaymentTerms/cbc:PaymentDueDate",
		"cac:PaymentMeans/cbc:PaymentDueDate"
	};
	bool present;
	size_t i;
	int rc;

	rc = take_date(d, "cbc:DueDate", &ev->due_date, &present, true);
	if (rc || present) {
		ev->due_source = EVENT_DUE_EXPLICIT;
		return rc;
	}
	for (i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		rc = take_date(d, terms[i], &ev->due_date, &present, false);
		if (rc || present) {
			ev->due_source = EVENT_DUE_PAYMENT_TERMS;
			return rc;
		}
	}
	ev->due_source = EVENT_DUE_NONE;
	return DN_OK;
}

/* Payable amount in minor units of its currency. */
static int read_amount(struct ubl_doc *d, struct event *ev)
{
	static const char *const currencies[] = {
		"cac:LegalMonetaryTotal/cbc:PayableAmount/@currencyID",
		"cbc:DocumentCurrencyCode"
	};
	char text[64], why[200], shown[EVENT_SHOWN_MAX + 4];
	int rc;

	rc = take_first(d, currencies, 2, ev->currency, sizeof(ev->currency),
			NULL);
	if (rc)
		return rc;
	if (money_exponent(ev->currency) < 0)
		return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why),
			       "'%s' is not an ISO 4217 currency",
			       event_shown(ev->currency, shown, sizeof(shown)));
	rc = take_once(d, "cac:LegalMonetaryTotal/cbc:PayableAmount", text,
		       sizeof(text), true);
	if (rc)
		return rc;
	if (money_parse(text, strlen(text), ev->currency, d->opts->rounding,
			&ev->amount_minor, why, sizeof(why)))
		return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why), "%s",
			       why);
	return DN_OK;
}

static int read_buyer_id(struct ubl_doc *d, struct event *ev)
{
	static const char *const ids[] = {
		BUYER "cac:PartyIdentification/cbc:ID",
		BUYER "cbc:EndpointID",
		BUYER "cac:PartyLegalEntity/cbc:CompanyID",
		BUYER "cac:PartyTaxScheme/cbc:CompanyID",
		"cac:AccountingCustomerParty/cbc:CustomerAssignedAccountID",
	};

	return take_first(d, ids, sizeof(ids) / sizeof(ids[0]), ev->customer_id,
			  sizeof(ev->customer_id), NULL);
}

static int read_payment_means(struct ubl_doc *d, struct event *ev)
{
	int rc;

	rc = take(d, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID",
		  ev->iban, sizeof(ev->iban), false);
	rc = rc ? rc
		: take(d,
		       "cac:PaymentMeans/cac:PayeeFinancialAccount/"
		       "cac:FinancialInstitutionBranch/cbc:ID",
		       ev->bic, sizeof(ev->bic), false);
	rc = rc ? rc
		: take(d, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:Name",
		       ev->account_name, sizeof(ev->account_name), false);
	return rc ? rc
		  : take(d, "cac:PaymentMeans/cbc:PaymentID", ev->remittance_id,
			 sizeof(ev->remittance_id), false);
}

/* Everything the InvoiceUpserted needs; fails with location and why. */
static int read_invoice(struct ubl_doc *d, struct event *ev)
{
	bool present;
	int rc;

	event_reset(ev, EVENT_INVOICE);
	snprintf(ev->tenant, sizeof(ev->tenant), "%s", d->opts->tenant);
	snprintf(ev->origin, sizeof(ev->origin), "%s", d->path);
	ev->credit_note = strcmp(d->root, "CreditNote") == 0;
	rc = take_once(d, "cbc:ID", ev->invoice_id, sizeof(ev->invoice_id),
		       true);
	rc = rc ? rc
		: take_date(d, "cbc:IssueDate", &ev->issue_date, &present,
			    true);
	if (!rc && !present)
		rc = dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why), "missing");
	rc = rc ? rc : read_due_date(d, ev);
	if (!rc && ev->due_source != EVENT_DUE_NONE &&
	    civil_to_days(ev->due_date) < civil_to_days(ev->issue_date))
		rc = dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why),
			     "due before the issue date");
	rc = rc ? rc : read_amount(d, ev);
	rc = rc ? rc : read_buyer_id(d, ev);
	rc = rc ? rc : read_payment_means(d, ev);
	if (rc)
		return rc;

	ev->occurred_at_ms = civil_noon_ms(ev->issue_date);
	ev->version = ev->occurred_at_ms;
	if (ev->credit_note || ev->amount_minor <= 0) {
		ev->not_dunnable = true;
		snprintf(ev->not_dunnable_reason,
			 sizeof(ev->not_dunnable_reason), "%s",
			 ev->credit_note
				 ? "credit note"
				 : "payable amount is zero or negative");
	}
	return DN_OK;
}

/* The buyer as a customer record, when the document gives a phone.
 * Returns 0 with cust->kind set, DN_ERR_NOT_FOUND if there is no phone. */
static int read_customer(struct ubl_doc *d, const struct event *inv,
			 struct event *cust)
{
	static const char *const names[] = {
		BUYER "cac:PartyName/cbc:Name",
		BUYER "cac:PartyLegalEntity/cbc:RegistrationName"
	};
	char phone[128], country[8];
	const char *region;
	int rc;

	rc = take(d, BUYER "cac:Contact/cbc:Telephone", phone, sizeof(phone),
		  false);
	if (rc || !phone[0])
		return rc ? rc : DN_ERR_NOT_FOUND;
	event_reset(cust, EVENT_CUSTOMER);
	snprintf(cust->tenant, sizeof(cust->tenant), "%s", inv->tenant);
	snprintf(cust->customer_id, sizeof(cust->customer_id), "%s",
		 inv->customer_id);
	snprintf(cust->origin, sizeof(cust->origin), "%s", inv->origin);
	cust->occurred_at_ms = inv->occurred_at_ms;
	cust->version = inv->occurred_at_ms;
	snprintf(cust->opt_in_source, sizeof(cust->opt_in_source), "%s",
		 "ubl-invoice");

	rc = take(d,
		  BUYER "cac:PostalAddress/cac:Country/cbc:IdentificationCode",
		  country, sizeof(country), false);
	if (!rc && take_first(d, names, 2, cust->name, sizeof(cust->name),
			      NULL) == DN_ERR_TOO_LARGE)
		rc = DN_ERR_TOO_LARGE;
	rc = rc ? rc
		: take(d, BUYER "cac:Contact/cbc:ElectronicMail", cust->email,
		       sizeof(cust->email), false);
	if (rc)
		return rc;

	/* A national number is read in the buyer's country. */
	region = country[0] ? country : d->opts->phone_region;
	snprintf(d->location, sizeof(d->location), "/%s/%s", d->root,
		 BUYER "cac:Contact/cbc:Telephone");
	return phone_normalize(phone, region, cust->phone, sizeof(cust->phone),
			       d->why, sizeof(d->why));
}

/* libxml2's messages end in a newline and some span two lines; the
 * reject file wants one: newlines become spaces, trailing ones go. */
static void one_line(char *text)
{
	size_t n;

	for (n = 0; text[n]; n++)
		if (text[n] == '\n' || text[n] == '\r')
			text[n] = ' ';
	while (n && text[n - 1] == ' ')
		text[--n] = '\0';
}

/* libxml2 prints some errors (I/O ones) whatever the options; the reason
 * goes to the reject file instead, and lower layers never print. */
static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* libxml2's first error in a document: the cause. The last one is often
 * a consequence ("Extra content at the end of the document" after a text
 * node over libxml2's 10 MB limit). */
struct first_error {
	bool seen;
	int line;
	char message[200];
};

static void keep_first_error(void *ctx, xmlErrorPtr error)
{
	struct first_error *first = ctx;

	if (first->seen || !error || error->level < XML_ERR_ERROR)
		return;
	first->seen = true;
	first->line = error->line;
	snprintf(first->message, sizeof(first->message), "%s",
		 error->message ? error->message : "");
}

/* Parses the file and checks it is a UBL Invoice or CreditNote. */
static int ubl_open(struct ubl_doc *d)
{
	const int options =
		XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	struct first_error first = { false, 0, "" };
	xmlNodePtr root;

	snprintf(d->location, sizeof(d->location), "/");
	xmlSetGenericErrorFunc(NULL, quiet);
	xmlSetStructuredErrorFunc(&first, keep_first_error);
	d->xml = xmlReadFile(d->path, NULL, options);
	xmlSetStructuredErrorFunc(NULL, NULL);
	if (!d->xml) {
		dn_fail(DN_ERR_DECODE, d->why, sizeof(d->why),
			"not well-formed XML: line %d: %.160s", first.line,
			first.seen ? first.message : "cannot be read");
		one_line(d->why);
		return DN_ERR_DECODE;
	}
	root = xmlDocGetRootElement(d->xml);
	if (root && root->ns &&
	    xmlStrcmp(root->ns->href, (const xmlChar *)NS_INVOICE) == 0 &&
	    xmlStrcmp(root->name, (const xmlChar *)"Invoice") == 0)
		d->root = "Invoice";
	else if (root && root->ns &&
		 xmlStrcmp(root->ns->href, (const xmlChar *)NS_CREDIT_NOTE) ==
			 0 &&
		 xmlStrcmp(root->name, (const xmlChar *)"CreditNote") == 0)
		d->root = "CreditNote";
	else
		return dn_fail(DN_ERR_INVALID, d->why, sizeof(d->why),
			       "root is not a UBL 2.1 Invoice or CreditNote");

	d->xpath = xmlXPathNewContext(d->xml);
	if (!d->xpath ||
	    xmlXPathRegisterNs(d->xpath, (const xmlChar *)"cac",
			       (const xmlChar *)NS_CAC) ||
	    xmlXPathRegisterNs(d->xpath, (const xmlChar *)"cbc",
			       (const xmlChar *)NS_CBC))
		return dn_fail(DN_ERR_NOMEM, d->why, sizeof(d->why),
			       "cannot set up XPath");
	d->xpath->node = root;
	return DN_OK;
}

static void ubl_close(struct ubl_doc *d)
{
	xmlXPathFreeContext(d->xpath);
	xmlFreeDoc(d->xml);
}

/* Fields of a location, for the reject file: the last XPath step. */
static const char *location_field(const char *location)
{
	const char *slash = strrchr(location, '/');

	return slash ? slash + 1 : location;
}

int ubl_import_file(const char *path, const struct import_options *opts,
		    struct sink *sink, char *err, size_t errlen)
{
	struct ubl_doc d;
	struct event inv, cust;
	struct stat st;
	int rc;

	if (stat(path, &st))
		return dn_fail(DN_ERR_IO, err, errlen, "cannot open %s: %s",
			       path, strerror(errno));
	memset(&d, 0, sizeof(d));
	d.path = path;
	d.opts = opts;
	sink_count_read(sink);
	if (S_ISDIR(st.st_mode)) {
		sink_reject(sink, path, "/", "", "is a directory");
		return DN_OK;
	}
	if (st.st_size > UBL_FILE_MAX) {
		sink_reject(sink, path, "/", "", "document larger than 32 MiB");
		return DN_OK;
	}

	/* The invoice must be whole; the buyer's record is a bonus. */
	rc = ubl_open(&d);
	rc = rc ? rc : read_invoice(&d, &inv);
	if (rc) {
		sink_reject(sink, path, d.location, location_field(d.location),
			    d.why);
		ubl_close(&d);
		return DN_OK;
	}
	sink_event(sink, &inv);
	rc = read_customer(&d, &inv, &cust);
	if (!rc)
		sink_event(sink, &cust);
	else if (rc != DN_ERR_NOT_FOUND)
		sink_reject(sink, path, d.location, location_field(d.location),
			    d.why);
	ubl_close(&d);
	return DN_OK;
}
