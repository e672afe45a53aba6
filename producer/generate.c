/* generate.c: seeded synthetic ledgers and customer directories. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "generate.h"

#include "customers.h"

#include "error.h"
#include "money.h"
#include "phone.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Random numbers: splitmix64, small, fast and the same everywhere.       */

struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n > 0. */
static long rng_below(struct rng *r, long n)
{
	return (long)(rng_next(r) % (uint64_t)n);
}

/* Uniform in [lo, hi]. */
static long rng_between(struct rng *r, long lo, long hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static bool rng_percent(struct rng *r, int percent)
{
	return rng_below(r, 100) < percent;
}

#define PICK(r, array)                                                         \
	((array)[rng_below((r), sizeof(array) / sizeof((array)[0]))])

/* ---------------------------------------------------------------------- */
/* Countries                                                               */

struct country {
	const char *region;
	int weight;
	const char *currency;
	const char *locales[2];
	const char *zones[3];
	const char *first[6];
	const char *last[6];
	const char *mail_domain;
};

static const struct country countries[] = {
	{ "ES",
	  22,
	  "EUR",
	  { "es-ES", "ca-ES" },
	  { "Europe/Madrid", "Atlantic/Canary", "Europe/Madrid" },
	  { "Lucía", "Jordi", "Marta", "Javier", "Núria", "Carlos" },
	  { "García", "Puig", "Fernández", "Martínez", "Vidal", "López" },
	  "example.es" },
	{ "BR",
	  14,
	  "BRL",
	  { "pt-BR", "pt-BR" },
	  { "America/Sao_Paulo", "America/Manaus", "America/Recife" },
	  { "João", "Ana", "Pedro", "Mariana", "Luiz", "Beatriz" },
	  { "Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira" },
	  "example.com.br" },
	{ "PT",
	  9,
	  "EUR",
	  { "pt-PT", "pt-PT" },
	  { "Europe/Lisbon", "Atlantic/Azores", "Europe/Lisbon" },
	  { "Tiago", "Inês", "Rui", "Catarina", "Nuno", "Sofia" },
	  { "Ferreira", "Rodrigues", "Almeida", "Gomes", "Ribeiro",
	    "Carvalho" },
	  "example.pt" },
	{ "FR",
	  10,
	  "EUR",
	  { "fr-FR", "fr-FR" },
	  { "Europe/Paris", "Europe/Paris", "Europe/Paris" },
	  { "Camille", "Louis", "Chloé", "Hugo", "Léa", "Antoine" },
	  { "Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent" },
	  "example.fr" },
	{ "DE",
	  10,
	  "EUR",
	  { "de-DE", "de-DE" },
	  { "Europe/Berlin", "Europe/Berlin", "Europe/Berlin" },
	  { "Lukas", "Anna", "Jonas", "Lena", "Felix", "Sophie" },
	  { "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner" },
	  "example.de" },
	{ "MX",
	  10,
	  "MXN",
	  { "es-MX", "es-MX" },
	  { "America/Mexico_City", "America/Tijuana", "America/Cancun" },
	  { "José", "Guadalupe", "Alejandro", "Fernanda", "Miguel", "Valeria" },
	  { "Hernández", "González", "Rodríguez", "Ramírez", "Flores", "Cruz" },
	  "example.mx" },
	{ "US",
	  10,
	  "USD",
	  { "en-US", "en-US" },
	  { "America/New_York", "America/Chicago", "America/Los_Angeles" },
	  { "James", "Emily", "Michael", "Olivia", "David", "Ava" },
	  { "Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson" },
	  "example.com" },
	{ "GB",
	  9,
	  "GBP",
	  { "en-GB", "en-GB" },
	  { "Europe/London", "Europe/London", "Europe/London" },
	  { "Oliver", "Amelia", "Harry", "Isla", "George", "Grace" },
	  { "Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright" },
	  "example.co.uk" },
	{ "JP",
	  3,
	  "JPY",
	  { "ja-JP", "ja-JP" },
	  { "Asia/Tokyo", "Asia/Tokyo", "Asia/Tokyo" },
	  { "Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi" },
	  { "Sato", "Suzuki", "Takahashi", "Tanaka", "Ito", "Watanabe" },
	  "example.jp" },
	{ "KW",
	  3,
	  "KWD",
	  { "ar-KW", "en-KW" },
	  { "Asia/Kuwait", "Asia/Kuwait", "Asia/Kuwait" },
	  { "Ahmad", "Fatima", "Yousef", "Mariam", "Khalid", "Noura" },
	  { "Al-Sabah", "Al-Mutairi", "Al-Ajmi", "Al-Enezi", "Al-Rashidi",
	    "Al-Hajri" },
	  "example.com.kw" },
};

static const struct country *pick_country(struct rng *r)
{
	long total = 0, roll;
	size_t i;

	for (i = 0; i < sizeof(countries) / sizeof(countries[0]); i++)
		total += countries[i].weight;
	roll = rng_below(r, total);
	for (i = 0; roll >= countries[i].weight; i++)
		roll -= countries[i].weight;
	return &countries[i];
}

/* ---------------------------------------------------------------------- */
/* Customers                                                               */

enum segment { SEGMENT_PROMPT, SEGMENT_SLOW, SEGMENT_CHRONIC };

static const char *const segment_names[] = { "prompt", "slow", "chronic" };

struct customer {
	char id[64];
	const struct country *country;
	enum segment segment;
};

/*
 * A mobile number valid for the region: the region's example number with
 * its last six digits drawn at random, kept only if libphonenumber finds
 * it valid (else the example itself).
 */
static void make_phone(struct rng *r, const char *region, char *out, size_t len)
{
	char example[PHONE_E164_MAX], candidate[PHONE_E164_MAX];
	size_t n, i;
	int attempt;

	if (phone_example_mobile(region, example, sizeof(example))) {
		snprintf(out, len, "%s", "");
		return;
	}
	n = strlen(example);
	for (attempt = 0; attempt < 20; attempt++) {
		memcpy(candidate, example, n + 1);
		for (i = n > 6 ? n - 6 : 1; i < n; i++)
			candidate[i] = (char)('0' + rng_below(r, 10));
		if (!phone_normalize(candidate, NULL, out, len, NULL, 0))
			return;
	}
	snprintf(out, len, "%s", example);
}

/* Writes a CSV field, quoted if it needs to be. */
static void put_field(FILE *out, const char *text, char end)
{
	const char *c;

	if (!strpbrk(text, ",\"\n\r")) {
		fputs(text, out);
	} else {
		fputc('"', out);
		for (c = text; *c; c++) {
			if (*c == '"')
				fputc('"', out);
			fputc(*c, out);
		}
		fputc('"', out);
	}
	fputc(end, out);
}

/* The ASCII letter a Latin-1 letter (UTF-8 C3 xx) is read as in a mail
 * address, or 0. */
static char fold_latin1(unsigned char second)
{
	static const char folds[] = "aaaaaaaceeeeiiiidnooooo_ouuuuyts";

	second &= 0x1F; /* upper and lower case share the table */
	return second < sizeof(folds) - 1 && folds[second] != '_'
		       ? folds[second]
		       : 0;
}

/* ASCII-only lower-case mail part of a name ("Inês" -> "ines"). */
static void mail_part(const char *name, char *out, size_t len)
{
	size_t n = 0;
	char folded;

	for (; *name && n + 1 < len; name++) {
		unsigned char c = (unsigned char)*name;

		if (c >= 'A' && c <= 'Z')
			out[n++] = (char)(c - 'A' + 'a');
		else if ((c >= 'a' && c <= 'z') || c == '-')
			out[n++] = (char)c;
		else if (c == 0xC3 && name[1] &&
			 (folded = fold_latin1((unsigned char)name[1])))
			out[n++] = folded;
	}
	out[n] = '\0';
}

static const char *opt_in_state(struct rng *r)
{
	int roll = (int)rng_below(r, 100);

	return roll < 80 ? "opted_in" : roll < 92 ? "unknown" : "opted_out";
}

/* Draws a customer and writes its directory row. */
static void write_customer(FILE *out, struct rng *r, struct customer *c,
			   int64_t directory_day)
{
	static const char *const sources[] = { "web-form", "contract",
					       "whatsapp", "checkout" };
	const char *first, *last, *state;
	char name[128], phone[PHONE_E164_MAX], at[32] = "", mail[160];
	char a[48], b[48];
	struct civil_date day;

	c->country = pick_country(r);
	c->segment = rng_percent(r, 55)	  ? SEGMENT_PROMPT
		     : rng_percent(r, 70) ? SEGMENT_SLOW
					  : SEGMENT_CHRONIC;
	first = PICK(r, c->country->first);
	last = PICK(r, c->country->last);
	snprintf(name, sizeof(name), "%s %s", first, last);
	make_phone(r, c->country->region, phone, sizeof(phone));
	state = opt_in_state(r);
	if (strcmp(state, "unknown") != 0) {
		day = civil_from_days(directory_day - rng_between(r, 1, 365));
		snprintf(at, sizeof(at), "%04d-%02d-%02dT%02ld:%02ld:00Z",
			 day.year, day.month, day.day, rng_between(r, 7, 21),
			 rng_below(r, 60));
	}
	mail_part(first, a, sizeof(a));
	mail_part(last, b, sizeof(b));
	snprintf(mail, sizeof(mail), "%s.%s@%s", a, b, c->country->mail_domain);

	put_field(out, c->id, ',');
	put_field(out, name, ',');
	put_field(out, phone, ',');
	put_field(out, PICK(r, c->country->locales), ',');
	put_field(out, PICK(r, c->country->zones), ',');
	put_field(out, state, ',');
	put_field(out, at, ',');
	put_field(out, at[0] ? PICK(r, sources) : "", ',');
	put_field(out, segment_names[c->segment], ',');
	put_field(out, mail, '\n');
}

/* ---------------------------------------------------------------------- */
/* Invoices                                                                */

/* A realistic amount in minor units: mostly small, a tail of large ones,
 * scaled so that JPY and KWD amounts look like their currencies. */
static int64_t draw_amount(struct rng *r, const char *currency)
{
	int exponent = money_exponent(currency);
	int64_t major = rng_between(r, 20, 400), scale = 1;
	int i;

	if (rng_percent(r, 15))
		major += rng_between(r, 500, 8000);
	if (strcmp(currency, "JPY") == 0)
		major *= 150;
	else if (strcmp(currency, "KWD") == 0)
		major /= 3;
	else if (strcmp(currency, "BRL") == 0 || strcmp(currency, "MXN") == 0)
		major *= 5;
	for (i = 0; i < exponent; i++)
		scale *= 10;
	return (major + 1) * scale + (scale > 1 ? rng_below(r, scale) : 0);
}

struct ledger_writer {
	FILE *out;
	struct rng *rng;
	int64_t window_end; /* first day after the window, in days */
};

static void put_row(struct ledger_writer *w, const char *type,
		    const char *invoice_id, const char *customer_id,
		    int64_t day, int64_t due_day, int64_t amount,
		    const char *currency, const char *payment_id,
		    const char *reason)
{
	char date[16], due[16] = "", text[MONEY_TEXT_MAX];

	civil_format_iso(civil_from_days(day), date, sizeof(date));
	if (due_day)
		civil_format_iso(civil_from_days(due_day), due, sizeof(due));
	money_format(amount, currency, text, sizeof(text));
	fprintf(w->out, "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", type, invoice_id,
		customer_id, date, due, text, currency, payment_id, reason);
}

/* The day the invoice is paid in full, or 0 if never. */
static int64_t draw_payment_day(struct rng *r, enum segment segment,
				int64_t issue, int64_t due, int terms)
{
	int on_time, late, lo, hi;

	switch (segment) {
	case SEGMENT_PROMPT:
		on_time = 85, late = 15, lo = 1, hi = 10;
		break;
	case SEGMENT_SLOW:
		on_time = 30, late = 60, lo = 3, hi = 45;
		break;
	default:
		on_time = 10, late = 50, lo = 20, hi = 120;
		break;
	}
	if (rng_percent(r, on_time))
		return issue + rng_between(r, 1, terms);
	if (rng_below(r, 100 - on_time) < late)
		return due + rng_between(r, lo, hi);
	return 0;
}

/* Writes the payments of one invoice: in full, or in two parts. */
static void put_payments(struct ledger_writer *w, const char *invoice_id,
			 const struct customer *c, int64_t issue,
			 int64_t paid_day, int64_t amount)
{
	const char *currency = c->country->currency;
	char payment_id[96];
	int64_t first, first_day;

	if (!paid_day || paid_day >= w->window_end)
		return; /* not paid within the window */
	if (rng_percent(w->rng, 8) && paid_day - issue > 6) {
		first = amount * rng_between(w->rng, 30, 70) / 100;
		first_day =
			paid_day - rng_between(w->rng, 1, paid_day - issue - 1);
		snprintf(payment_id, sizeof(payment_id), "%s/partial/1",
			 invoice_id);
		put_row(w, "payment", invoice_id, c->id, first_day, 0, first,
			currency, payment_id, "");
		snprintf(payment_id, sizeof(payment_id), "%s/partial/2",
			 invoice_id);
		put_row(w, "payment", invoice_id, c->id, paid_day, 0,
			amount - first, currency, payment_id, "");
		return;
	}
	snprintf(payment_id, sizeof(payment_id), "%s/settled", invoice_id);
	put_row(w, "payment", invoice_id, c->id, paid_day, 0, amount, currency,
		payment_id, "");
}

static void put_invoice(struct ledger_writer *w, long seq,
			const struct customer *c, int64_t issue)
{
	static const int terms_choices[] = { 15, 30, 30, 30, 60 };
	const char *currency = c->country->currency;
	int terms = PICK(w->rng, terms_choices);
	int64_t due = issue + terms, amount, paid_day, disputed_day;
	struct civil_date d = civil_from_days(issue);
	char invoice_id[48];

	amount = draw_amount(w->rng, currency);

	/* A few documents are credit notes: on record, never dunned. */
	if (rng_percent(w->rng, 2)) {
		snprintf(invoice_id, sizeof(invoice_id), "CN-%04d-%07ld",
			 d.year, seq);
		put_row(w, "credit_note", invoice_id, c->id, issue, 0,
			amount / 4 + 1, currency, "", "");
		return;
	}
	snprintf(invoice_id, sizeof(invoice_id), "INV-%04d-%07ld", d.year, seq);
	put_row(w, "invoice", invoice_id, c->id, issue, due, amount, currency,
		"", "");
	paid_day = draw_payment_day(w->rng, c->segment, issue, due, terms);

	/* Disputes hold payment back; half are never paid in the window. */
	if (rng_percent(w->rng, 3)) {
		disputed_day = issue + rng_between(w->rng, 1, terms + 10);
		if (disputed_day < w->window_end)
			put_row(w, "dispute", invoice_id, c->id, disputed_day,
				0, amount, currency, "",
				"customer disputes the amount");
		paid_day = rng_percent(w->rng, 50)
				   ? 0
				   : due + rng_between(w->rng, 30, 90);
	}
	put_payments(w, invoice_id, c, issue, paid_day, amount);
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

static FILE *open_output(const char *dir, const char *name, char *path,
			 size_t len)
{
	FILE *out;

	snprintf(path, len, "%s/%s", dir, name);
	out = fopen(path, "w");
	if (out)
		setvbuf(out, NULL, _IOFBF, 1 << 20);
	return out;
}

static int close_output(FILE *out, const char *path, char *err, size_t errlen)
{
	if (ferror(out) | fclose(out))
		return dn_fail(DN_ERR_IO, err, errlen, "cannot write %s", path);
	return DN_OK;
}

static int write_invoices(const struct generate_options *opts,
			  struct customer *customers, struct rng *r, char *err,
			  size_t errlen)
{
	struct ledger_writer w;
	int64_t start = civil_to_days(opts->start);
	char path[4096];
	long i;

	w.out = open_output(opts->out_dir, "ledger.csv", path, sizeof(path));
	if (!w.out)
		return dn_fail(DN_ERR_IO, err, errlen, "cannot create %s",
			       path);
	w.rng = r;
	w.window_end = start + opts->days;
	fputs("type,invoice_id,customer_id,date,due_date,amount,currency,"
	      "payment_id,reason\n",
	      w.out);

	/* Issue dates advance evenly, so the ledger reads in date order. */
	for (i = 0; i < opts->invoices; i++)
		put_invoice(&w, i + 1,
			    &customers[rng_below(r, opts->customers)],
			    start + (int64_t)i * opts->days / opts->invoices);
	return close_output(w.out, path, err, errlen);
}

int generate_ledger(const struct generate_options *opts, char *err,
		    size_t errlen)
{
	struct customer *customers;
	struct rng r = { opts->seed };
	char path[4096];
	FILE *out;
	long i;
	int rc;

	if (opts->customers < 1 || opts->invoices < 0 || opts->days < 1)
		return dn_fail(DN_ERR_INVALID, err, errlen,
			       "need at least one customer and one day");
	customers = calloc((size_t)opts->customers, sizeof(*customers));
	if (!customers)
		return dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
	out = open_output(opts->out_dir, "customers.csv", path, sizeof(path));
	if (!out) {
		free(customers);
		return dn_fail(DN_ERR_IO, err, errlen, "cannot create %s",
			       path);
	}
	fprintf(out, "%s\n", customers_header);
	for (i = 0; i < opts->customers; i++) {
		snprintf(customers[i].id, sizeof(customers[i].id), "C%05ld",
			 i + 1);
		write_customer(out, &r, &customers[i],
			       civil_to_days(opts->start));
	}
	rc = close_output(out, path, err, errlen);
	if (!rc)
		rc = write_invoices(opts, customers, &r, err, errlen);
	free(customers);
	return rc;
}

/* FNV-1a of a customer id, to seed its attributes. */
static uint64_t id_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ULL;
	return h;
}

int generate_directory(const char *const *customer_ids, size_t count,
		       uint64_t seed, struct civil_date opted_before,
		       const char *out, char *err, size_t errlen)
{
	struct customer c;
	struct rng r;
	FILE *f = fopen(out, "w");
	size_t i;

	if (!f)
		return dn_fail(DN_ERR_IO, err, errlen, "cannot create %s", out);
	fprintf(f, "%s\n", customers_header);
	for (i = 0; i < count; i++) {
		memset(&c, 0, sizeof(c));
		snprintf(c.id, sizeof(c.id), "%s", customer_ids[i]);
		r.state = seed ^ id_hash(customer_ids[i]);
		write_customer(f, &r, &c, civil_to_days(opted_before));
	}
	return close_output(f, out, err, errlen);
}
