/* behaviour.c: segment profiles and seeded decisions. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "behaviour.h"

#include "catalogue.h"
#include "rng.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MINUTE (60 * 1000LL)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

struct profile {
	const char *segment;
	int64_t read_permille;
	int64_t read_min_ms, read_max_ms;
	int64_t reply_permille;
	int64_t pay_permille;
	int64_t pay_min_ms, pay_max_ms;
};

static const struct profile profiles[] = {
	{ "prompt", 920, 10 * MINUTE, 6 * HOUR, 150, 650, 4 * HOUR, 3 * DAY },
	{ "slow", 780, 1 * HOUR, 24 * HOUR, 180, 350, 1 * DAY, 10 * DAY },
	{ "chronic", 520, 6 * HOUR, 72 * HOUR, 120, 120, 5 * DAY, 25 * DAY },
};

/* Free-text answers by language: a question, a promise, a protest. */
struct phrases {
	const char *language;
	const char *opt_out;
	const char *texts[3];
};

static const struct phrases phrase_table[] = {
	{ "es",
	  "BAIXA",
	  { "¿Puedo pagar la semana que viene?",
	    "Ya lo he pagado por transferencia",
	    "No reconozco esta factura" } },
	{ "ca",
	  "BAIXA",
	  { "Puc pagar la setmana que ve?", "Ja l'he pagada per transferència",
	    "No reconec aquesta factura" } },
	{ "pt",
	  "PARAR",
	  { "Posso pagar na semana que vem?", "Já paguei por pix",
	    "Não reconheço essa fatura" } },
	{ "fr",
	  "STOP",
	  { "Puis-je payer la semaine prochaine ?",
	    "J'ai déjà payé par virement",
	    "Je ne reconnais pas cette facture" } },
	{ "de",
	  "STOPP",
	  { "Kann ich nächste Woche zahlen?", "Ich habe schon überwiesen",
	    "Diese Rechnung kenne ich nicht" } },
	{ "en",
	  "STOP",
	  { "Can I pay next week?", "I already paid by bank transfer",
	    "I don't recognise this invoice" } },
};

static const struct profile *profile_of(const char *segment)
{
	size_t i;

	for (i = 0; segment && i < sizeof(profiles) / sizeof(profiles[0]); i++)
		if (strcmp(profiles[i].segment, segment) == 0)
			return &profiles[i];
	return &profiles[1];
}

static const struct phrases *phrases_of(const char *locale)
{
	size_t n = sizeof(phrase_table) / sizeof(phrase_table[0]), i;

	for (i = 0; locale && i < n; i++)
		if (strncmp(locale, phrase_table[i].language, 2) == 0)
			return &phrase_table[i];
	return &phrase_table[n - 1];
}

static int64_t between(struct rng *r, int64_t lo, int64_t hi)
{
	return hi > lo ? lo + (int64_t)rng_below(r, (uint64_t)(hi - lo)) : lo;
}

int behaviour_is_opt_out_text(const char *text)
{
	static const char *const words[] = { "STOP", "BAIXA", "PARAR",
					     "ALTO", "STOPP", "ARRET" };
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(text, words[i]) == 0)
			return 1;
	return 0;
}

/* Finds the template's button with payload, or NULL. */
static const struct catalogue_button *
button_of(const struct catalogue_template *tpl, const char *payload)
{
	size_t i;

	for (i = 0; tpl && i < tpl->button_count; i++)
		if (strcmp(tpl->buttons[i].payload, payload) == 0)
			return &tpl->buttons[i];
	return NULL;
}

static void choose_opt_out(struct rng *r, const struct behaviour_input *in,
			   struct behaviour_decision *out)
{
	const struct catalogue_button *stop = button_of(in->tpl, "stop");

	out->opt_out = 1;
	if (stop && rng_below(r, 2)) {
		out->reply = BEHAVIOUR_BUTTON;
		snprintf(out->payload, sizeof(out->payload), "%s",
			 stop->payload);
		snprintf(out->text, sizeof(out->text), "%s", stop->text);
		return;
	}
	out->reply = BEHAVIOUR_TEXT;
	snprintf(out->text, sizeof(out->text), "%s",
		 phrases_of(in->locale)->opt_out);
}

/* A quick reply other than stop (70%), or a free text. */
static void choose_answer(struct rng *r, const struct behaviour_input *in,
			  struct behaviour_decision *out)
{
	const struct catalogue_button *choices[CATALOGUE_BUTTONS_MAX];
	size_t n = 0, i;

	for (i = 0; in->tpl && i < in->tpl->button_count; i++)
		if (strcmp(in->tpl->buttons[i].payload, "stop") != 0)
			choices[n++] = &in->tpl->buttons[i];
	if (n && rng_permille(r, 700)) {
		i = rng_below(r, n);
		out->reply = BEHAVIOUR_BUTTON;
		snprintf(out->payload, sizeof(out->payload), "%s",
			 choices[i]->payload);
		snprintf(out->text, sizeof(out->text), "%s", choices[i]->text);
		return;
	}
	out->reply = BEHAVIOUR_TEXT;
	snprintf(out->text, sizeof(out->text), "%s",
		 phrases_of(in->locale)->texts[rng_below(r, 3)]);
}

/* Payment after reading: the segment's chance scaled by the effect;
 * "paid" and "more_time" answers shift it. */
static void choose_payment(struct rng *r, const struct profile *p,
			   const struct behaviour_params *params,
			   struct behaviour_decision *out)
{
	int64_t chance = p->pay_permille * params->pay_effect_permille / 1000;
	int64_t lo = p->pay_min_ms, hi = p->pay_max_ms;

	if (out->reply == BEHAVIOUR_BUTTON && !strcmp(out->payload, "paid")) {
		chance = 900 * params->pay_effect_permille / 1000;
		lo = 1 * HOUR, hi = 1 * DAY;
	} else if (out->reply == BEHAVIOUR_BUTTON &&
		   !strcmp(out->payload, "more_time")) {
		lo = 7 * DAY, hi = 14 * DAY;
	}
	out->pays = rng_permille(r, chance);
	out->pay_after_ms = out->pays ? between(r, lo, hi) : 0;
}

void behaviour_decide(const struct behaviour_params *params,
		      const struct behaviour_input *in,
		      struct behaviour_decision *out)
{
	const struct profile *p = profile_of(in->segment);
	char key[512];
	struct rng r;
	int64_t reply_chance;

	memset(out, 0, sizeof(*out));
	snprintf(key, sizeof(key), "%s|%s", in->customer_key, in->message_key);
	rng_init(&r, rng_hash(params->seed, key, 0));

	/* A message that is not read gets no reaction at all. */
	out->read = rng_permille(&r, p->read_permille);
	if (!out->read)
		return;
	out->read_after_ms = between(&r, p->read_min_ms, p->read_max_ms);

	reply_chance = params->reply_permille >= 0 ? params->reply_permille
						   : p->reply_permille;
	if (rng_permille(&r, reply_chance)) {
		if (rng_permille(&r, params->opt_out_permille))
			choose_opt_out(&r, in, out);
		else
			choose_answer(&r, in, out);
		out->reply_after_ms = between(&r, 1 * MINUTE, 2 * HOUR);
	}
	choose_payment(&r, p, params, out);
}
