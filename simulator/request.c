/* request.c: validation of messages requests, rule by rule. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "request.h"

#include "catalogue.h"
#include "error.h"
#include "recipient.h"
#include "waerror.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records a refusal: code and details, and DN_ERR_INVALID for the caller. */
static int refuse(int *wa_code, int code, char *details, size_t dlen,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int refuse(int *wa_code, int code, char *details, size_t dlen,
		  const char *fmt, ...)
{
	va_list ap;

	*wa_code = code;
	va_start(ap, fmt);
	vsnprintf(details, dlen, fmt, ap);
	va_end(ap);
	return DN_ERR_INVALID;
}

int request_param_text_invalid(const char *text)
{
	int spaces = 0;

	for (; *text; text++) {
		if (*text == '\n' || *text == '\t' || *text == '\r')
			return 1;
		spaces = *text == ' ' ? spaces + 1 : 0;
		if (spaces > 4)
			return 1;
	}
	return 0;
}

void request_release(struct request *req)
{
	size_t i;

	for (i = 0; i < req->param_count; i++)
		free(req->params[i]);
	req->param_count = 0;
	free(req->text);
	req->text = NULL;
	free(req->callback_data);
	req->callback_data = NULL;
}

/* One body parameter: {"type": "text", "text": "..."}. */
static int parse_param(struct request *req, json_t *param, int *wa_code,
		       char *details, size_t dlen)
{
	const char *type = json_string_value(json_object_get(param, "type"));
	const char *text = json_string_value(json_object_get(param, "text"));

	if (!type || strcmp(type, "text") != 0)
		return refuse(wa_code, WAERROR_PARAMETER_FORMAT, details, dlen,
			      "body parameter of type %s: the template only "
			      "takes text parameters",
			      type ? type : "(none)");
	if (!text || !*text)
		return refuse(wa_code, WAERROR_PARAMETER_MISSING, details, dlen,
			      "body parameter: text is missing or empty");
	if (strlen(text) > REQUEST_PARAM_MAX_BYTES)
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "body parameter longer than %d bytes",
			      REQUEST_PARAM_MAX_BYTES);
	if (request_param_text_invalid(text))
		return refuse(wa_code, WAERROR_TEMPLATE_PARAMETERS, details,
			      dlen,
			      "Param text cannot have new-line/tab characters "
			      "or more than 4 consecutive spaces");
	req->params[req->param_count] = strdup(text);
	if (!req->params[req->param_count])
		return refuse(wa_code, WAERROR_GENERIC, details, dlen,
			      "out of memory");
	req->param_count++;
	return DN_OK;
}

/* A "button" component: quick reply payloads for an existing button. */
static int parse_button(const struct catalogue_template *tpl, json_t *comp,
			int *wa_code, char *details, size_t dlen)
{
	json_t *index = json_object_get(comp, "index");
	long long at = -1;

	if (json_is_integer(index))
		at = json_integer_value(index);
	else if (json_is_string(index))
		at = strtoll(json_string_value(index), NULL, 10);
	if (at < 0 || (size_t)at >= tpl->button_count)
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "button component index is not a button of "
			      "template %s",
			      tpl->name);
	return DN_OK;
}

/* Collects body parameters; header parameters count as a mismatch since
 * no catalogue template has a header variable. */
static int parse_components(struct request *req,
			    const struct catalogue_template *tpl,
			    json_t *components, int *wa_code, char *details,
			    size_t dlen)
{
	json_t *comp, *param;
	size_t i, j, extra = 0;
	int rc;

	json_array_foreach(components, i, comp)
	{
		const char *type =
			json_string_value(json_object_get(comp, "type"));
		json_t *params = json_object_get(comp, "parameters");

		if (type && strcmp(type, "button") == 0) {
			rc = parse_button(tpl, comp, wa_code, details, dlen);
			if (rc)
				return rc;
			continue;
		}
		if (!type || (strcmp(type, "body") && strcmp(type, "header")))
			return refuse(wa_code, WAERROR_INVALID_PARAMETER,
				      details, dlen,
				      "component type %s is not supported",
				      type ? type : "(none)");
		if (strcmp(type, "header") == 0) {
			extra += json_array_size(params);
			continue;
		}
		json_array_foreach(params, j, param)
		{
			if (req->param_count == REQUEST_PARAMS_MAX) {
				extra++;
				continue;
			}
			rc = parse_param(req, param, wa_code, details, dlen);
			if (rc)
				return rc;
		}
	}
	if (extra || req->param_count != (size_t)tpl->parameter_count) {
		*wa_code = WAERROR_PARAMETER_COUNT;
		snprintf(details, dlen,
			 "body: number of localizable_params (%zu) does not "
			 "match the expected number of params (%d)",
			 req->param_count + extra, tpl->parameter_count);
		return DN_ERR_INVALID;
	}
	return DN_OK;
}

static int copy_field(char *dst, size_t len, const char *src)
{
	if (!src || !*src || strlen(src) >= len)
		return DN_ERR_INVALID;
	memcpy(dst, src, strlen(src) + 1);
	return DN_OK;
}

static int parse_template(struct request *req, const struct catalogue *cat,
			  json_t *tmpl, int *wa_code, char *details,
			  size_t dlen)
{
	const struct catalogue_template *tpl;
	json_t *language = json_object_get(tmpl, "language");

	if (!json_is_object(tmpl) ||
	    copy_field(req->template_name, sizeof(req->template_name),
		       json_string_value(json_object_get(tmpl, "name"))))
		return refuse(wa_code, WAERROR_PARAMETER_MISSING, details, dlen,
			      "template name is missing");
	if (copy_field(req->language, sizeof(req->language),
		       json_string_value(json_object_get(language, "code"))))
		return refuse(wa_code, WAERROR_PARAMETER_MISSING, details, dlen,
			      "template language code is missing");

	/* Template then translation, as WhatsApp looks them up. */
	tpl = catalogue_find(cat, req->template_name);
	if (!tpl || !catalogue_has_language(tpl, req->language)) {
		*wa_code = WAERROR_TEMPLATE_MISSING;
		snprintf(details, dlen,
			 "template name (%s) does not exist in %s",
			 req->template_name, req->language);
		return DN_ERR_INVALID;
	}
	return parse_components(req, tpl, json_object_get(tmpl, "components"),
				wa_code, details, dlen);
}

static int parse_text(struct request *req, json_t *text, int *wa_code,
		      char *details, size_t dlen)
{
	const char *body = json_string_value(json_object_get(text, "body"));

	if (!body || !*body)
		return refuse(wa_code, WAERROR_PARAMETER_MISSING, details, dlen,
			      "text body is missing");
	if (strlen(body) > REQUEST_TEXT_MAX_BYTES)
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "text body is longer than %d bytes",
			      REQUEST_TEXT_MAX_BYTES);
	req->text = strdup(body);
	return req->text ? DN_OK
			 : refuse(wa_code, WAERROR_GENERIC, details, dlen,
				  "out of memory");
}

/* Envelope fields: product, recipient, callback data. */
static int parse_envelope(struct request *req, json_t *root, int *wa_code,
			  char *details, size_t dlen)
{
	const char *product =
		json_string_value(json_object_get(root, "messaging_product"));
	const char *to = json_string_value(json_object_get(root, "to"));
	json_t *callback = json_object_get(root, "biz_opaque_callback_data");

	if (!product || strcmp(product, "whatsapp") != 0)
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "The parameter messaging_product is required "
			      "and must be \"whatsapp\"");
	if (!to)
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "The parameter to is required.");
	if (copy_field(req->to, sizeof(req->to), to) ||
	    recipient_digits(to, req->digits, sizeof(req->digits)) ||
	    recipient_wa_id(req->digits, req->wa_id, sizeof(req->wa_id)))
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "Invalid parameter to: not a phone number");
	if (callback &&
	    (!json_is_string(callback) ||
	     json_string_length(callback) > REQUEST_CALLBACK_MAX_BYTES))
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "biz_opaque_callback_data must be a string of "
			      "at most %d characters",
			      REQUEST_CALLBACK_MAX_BYTES);
	if (callback) {
		req->callback_data = strdup(json_string_value(callback));
		if (!req->callback_data)
			return refuse(wa_code, WAERROR_GENERIC, details, dlen,
				      "out of memory");
	}
	return DN_OK;
}

static int parse_root(struct request *req, json_t *root,
		      const struct catalogue *cat, int *wa_code, char *details,
		      size_t dlen)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	int rc;

	rc = parse_envelope(req, root, wa_code, details, dlen);
	if (rc)
		return rc;
	if (!type || strcmp(type, "text") == 0) {
		req->type = REQUEST_TEXT;
		return parse_text(req, json_object_get(root, "text"), wa_code,
				  details, dlen);
	}
	if (strcmp(type, "template") == 0) {
		req->type = REQUEST_TEMPLATE;
		return parse_template(req, cat,
				      json_object_get(root, "template"),
				      wa_code, details, dlen);
	}
	return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
		      "message type %s is not supported by the simulator",
		      type);
}

int request_parse(const char *body, size_t len, const struct catalogue *cat,
		  struct request *req, int *wa_code, char *details, size_t dlen)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(req, 0, sizeof(*req));
	root = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(root)) {
		json_decref(root);
		return refuse(wa_code, WAERROR_INVALID_PARAMETER, details, dlen,
			      "the request body is not a JSON object");
	}
	rc = parse_root(req, root, cat, wa_code, details, dlen);
	json_decref(root);
	if (rc)
		request_release(req);
	return rc;
}
