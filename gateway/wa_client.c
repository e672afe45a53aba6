/* wa_client.c: concurrent HTTPS calls to the Cloud API (libcurl multi). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "wa_client.h"

#include "error.h"
#include "wa_response.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX	  1024
#define TOKEN_MAX 4096

/* One transfer slot; its easy handle is reused for later requests. */
struct transfer {
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *answer;
	size_t answer_len;
	int overflow;
	void *request;
	int busy;
	char url[URL_MAX];
	char error[CURL_ERROR_SIZE];
};

struct wa_client {
	CURLM *multi;
	struct transfer *slots;
	int slot_count;
	int in_flight;
	long timeout_ms;
	char base[URL_MAX];
	char authorization[TOKEN_MAX + 32];
	wa_client_done_fn done;
	void *ctx;
};

static size_t on_answer(char *data, size_t size, size_t count, void *userp)
{
	struct transfer *t = userp;
	size_t len = size * count;
	char *grown;

	if (t->overflow || t->answer_len + len > WA_RESPONSE_MAX) {
		t->overflow = 1;
		return len; /* read and drop: the status still counts */
	}
	grown = realloc(t->answer, t->answer_len + len + 1);
	if (!grown) {
		t->overflow = 1;
		return len;
	}
	memcpy(grown + t->answer_len, data, len);
	t->answer = grown;
	t->answer_len += len;
	return len;
}

struct wa_client *wa_client_new(const char *base_url, const char *version,
				int max_in_flight, long timeout_ms,
				wa_client_done_fn done, void *ctx, char *err,
				size_t errlen)
{
	struct wa_client *c = calloc(1, sizeof(*c));
	int n;

	if (!c ||
	    !(c->slots = calloc((size_t)max_in_flight, sizeof(*c->slots))) ||
	    !(c->multi = curl_multi_init())) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		wa_client_free(c);
		return NULL;
	}
	n = snprintf(c->base, sizeof(c->base), "%s/%s", base_url, version);
	if (n < 0 || (size_t)n >= sizeof(c->base) - 128) {
		dn_fail(DN_ERR_CONFIG, err, errlen,
			"DUNNING_WA_BASE_URL is too long");
		wa_client_free(c);
		return NULL;
	}
	c->slot_count = max_in_flight;
	c->timeout_ms = timeout_ms;
	c->done = done;
	c->ctx = ctx;
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING,
			  (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)max_in_flight);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);
	return c;
}

static void transfer_reset(struct transfer *t)
{
	curl_slist_free_all(t->headers);
	free(t->body);
	free(t->answer);
	t->headers = NULL;
	t->body = NULL;
	t->answer = NULL;
	t->answer_len = 0;
	t->overflow = 0;
	t->request = NULL;
	t->busy = 0;
}

void wa_client_free(struct wa_client *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; c->slots && i < c->slot_count; i++) {
		struct transfer *t = &c->slots[i];

		if (!t->easy)
			continue;
		if (t->busy)
			curl_multi_remove_handle(c->multi, t->easy);
		curl_easy_cleanup(t->easy);
		transfer_reset(t);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	free(c->slots);
	explicit_bzero(c->authorization, sizeof(c->authorization));
	free(c);
}

int wa_client_set_token(struct wa_client *c, const char *token)
{
	int n = snprintf(c->authorization, sizeof(c->authorization),
			 "Authorization: Bearer %s", token);

	return n < 0 || (size_t)n >= sizeof(c->authorization) ? DN_ERR_TOO_LARGE
							      : DN_OK;
}

int wa_client_in_flight(const struct wa_client *c)
{
	return c->in_flight;
}

static struct transfer *slot_free(struct wa_client *c)
{
	int i;

	for (i = 0; i < c->slot_count; i++)
		if (!c->slots[i].busy)
			return &c->slots[i];
	return NULL;
}

static int transfer_prepare(struct wa_client *c, struct transfer *t,
			    const char *phone_number_id)
{
	int n = snprintf(t->url, sizeof(t->url), "%s/%s/messages", c->base,
			 phone_number_id);

	if (n < 0 || (size_t)n >= sizeof(t->url))
		return DN_ERR_TOO_LARGE;
	if (!t->easy && !(t->easy = curl_easy_init()))
		return DN_ERR_NOMEM;
	curl_easy_reset(t->easy);
	t->headers = curl_slist_append(NULL, "Content-Type: application/json");
	t->headers = curl_slist_append(t->headers, c->authorization);
	if (!t->headers)
		return DN_ERR_NOMEM;
	curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
	curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION,
			 (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(t->easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "dunning-gateway");
	return DN_OK;
}

int wa_client_start(struct wa_client *c, const char *phone_number_id,
		    const char *body, void *request)
{
	struct transfer *t = slot_free(c);
	int rc;

	if (!t)
		return DN_ERR_UNAVAILABLE;
	t->body = strdup(body);
	if (!t->body)
		return DN_ERR_NOMEM;
	t->error[0] = '\0';
	rc = transfer_prepare(c, t, phone_number_id);
	if (rc == DN_OK && curl_multi_add_handle(c->multi, t->easy) != CURLM_OK)
		rc = DN_ERR_HTTP;
	if (rc) {
		transfer_reset(t);
		return rc;
	}
	t->request = request;
	t->busy = 1;
	c->in_flight++;
	return DN_OK;
}

static void transfer_finish(struct wa_client *c, CURL *easy, CURLcode result)
{
	struct transfer *t = NULL;
	long status = 0;
	void *request;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
	curl_multi_remove_handle(c->multi, easy);
	c->in_flight--;
	if (result == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	request = t->request;
	c->done(c->ctx, request, status, t->overflow ? NULL : t->answer,
		t->overflow ? 0 : t->answer_len,
		result == CURLE_OK
			? NULL
			: (t->error[0] ? t->error
				       : curl_easy_strerror(result)));
	transfer_reset(t);
}

void wa_client_run(struct wa_client *c, int timeout_ms)
{
	CURLMsg *msg;
	int running = 0, left;

	curl_multi_perform(c->multi, &running);
	if (timeout_ms > 0)
		curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(c->multi, &running);
	while ((msg = curl_multi_info_read(c->multi, &left)))
		if (msg->msg == CURLMSG_DONE)
			transfer_finish(c, msg->easy_handle, msg->data.result);
}
