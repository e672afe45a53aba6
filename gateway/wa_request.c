/* wa_request.c: the JSON body of a Cloud API send request. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "wa_request.h"

#include "error.h"

#include "dunning/v1/whatsapp.pb-c.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/*
 * Length of the UTF-8 sequence starting at s (1 to 4), or 0 when it is not
 * well formed (overlong forms, surrogates and values past U+10FFFF too).
 */
static size_t utf8_sequence(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (s[0] == 0xE0 && s[1] < 0xA0)
			return 0;
		if (s[0] == 0xED && s[1] >= 0xA0)
			return 0;
		return 3;
	}
	if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if ((s[0] == 0xF0 && s[1] < 0x90) ||
		    (s[0] == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Appends one byte sequence to out, collapsing spaces; -1 when full. */
static int emit(char *out, size_t outlen, size_t *n, const char *seq,
		size_t len)
{
	if (seq[0] == ' ' && (*n == 0 || out[*n - 1] == ' '))
		return 0; /* leading space, or a run of them */
	if (*n + len >= outlen)
		return -1;
	memcpy(out + *n, seq, len);
	*n += len;
	return 0;
}

int wa_request_sanitise(const char *text, char *out, size_t outlen, char *err,
			size_t errlen)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = 0, chars = 0, len;

	if (outlen == 0)
		return DN_ERR_TOO_LARGE;
	for (; *s; s += len) {
		len = utf8_sequence(s);
		if (len == 0)
			return dn_fail(
				DN_ERR_PERMANENT, err, errlen,
				"parameter is not valid UTF-8 at byte "
				"%zu",
				(size_t)(s - (const unsigned char *)text));
		if (len == 1 && (*s < 0x20 || *s == 0x7F)) {
			if (emit(out, outlen, &n, " ", 1))
				return DN_ERR_TOO_LARGE;
			continue;
		}
		if (emit(out, outlen, &n, (const char *)s, len))
			return DN_ERR_TOO_LARGE;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = '\0';

	/* Count characters of what is left, not bytes. */
	for (s = (const unsigned char *)out; *s; s += utf8_sequence(s))
		chars++;
	if (n == 0)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "parameter is empty");
	if (chars > WA_PARAM_CHARS_MAX)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "parameter has %zu characters, more than %d",
			       chars, WA_PARAM_CHARS_MAX);
	return DN_OK;
}

/* Counts characters of valid UTF-8 text; -1 when it is not valid. */
static long utf8_chars(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	long chars = 0;
	size_t len;

	for (; *s; s += len, chars++)
		if ((len = utf8_sequence(s)) == 0)
			return -1;
	return chars;
}

static json_t *template_parameters(const Dunning__V1__SendCommand *cmd,
				   char *err, size_t errlen)
{
	json_t *list = json_array();
	char clean[WA_PARAM_CHARS_MAX * 4 + 1], why[200];
	size_t i;

	for (i = 0; list && i < cmd->n_parameters; i++) {
		const char *text = cmd->parameters[i]->text;
		int rc = wa_request_sanitise(text ? text : "", clean,
					     sizeof(clean), why, sizeof(why));

		if (rc) {
			dn_fail(DN_ERR_PERMANENT, err, errlen,
				"parameter %zu: %s", i + 1,
				rc == DN_ERR_TOO_LARGE ? "too long" : why);
			json_decref(list);
			return NULL;
		}
		json_array_append_new(list, json_pack("{s:s, s:s}", "type",
						      "text", "text", clean));
	}
	return list;
}

static json_t *template_object(const Dunning__V1__SendCommand *cmd, char *err,
			       size_t errlen)
{
	json_t *parameters;

	if (!cmd->template_name || !*cmd->template_name || !cmd->language ||
	    !*cmd->language) {
		dn_fail(DN_ERR_PERMANENT, err, errlen,
			"template command without template name or language");
		return NULL;
	}
	parameters = template_parameters(cmd, err, errlen);
	if (!parameters)
		return NULL;
	if (json_array_size(parameters) == 0)
		return json_pack("{s:s, s:{s:s}}", "name", cmd->template_name,
				 "language", "code", cmd->language);
	return json_pack("{s:s, s:{s:s}, s:[{s:s, s:o}]}", "name",
			 cmd->template_name, "language", "code", cmd->language,
			 "components", "type", "body", "parameters",
			 parameters);
}

static int add_text(json_t *root, const Dunning__V1__SendCommand *cmd,
		    char *err, size_t errlen)
{
	long chars = cmd->text ? utf8_chars(cmd->text) : 0;

	if (chars <= 0)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       chars < 0 ? "text is not valid UTF-8"
					 : "text message without a body");
	if (chars > WA_TEXT_CHARS_MAX)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "text has %ld characters, more than %d", chars,
			       WA_TEXT_CHARS_MAX);
	json_object_set_new(root, "type", json_string("text"));
	json_object_set_new(
		root, "text",
		json_pack("{s:b, s:s}", "preview_url", 0, "body", cmd->text));
	if (cmd->reply_to_message_id && *cmd->reply_to_message_id)
		json_object_set_new(root, "context",
				    json_pack("{s:s}", "message_id",
					      cmd->reply_to_message_id));
	return DN_OK;
}

static int add_body(json_t *root, const Dunning__V1__SendCommand *cmd,
		    char *err, size_t errlen)
{
	json_t *template;

	if (cmd->kind == DUNNING__V1__SEND_KIND__SEND_KIND_TEXT)
		return add_text(root, cmd, err, errlen);
	if (cmd->kind != DUNNING__V1__SEND_KIND__SEND_KIND_TEMPLATE)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "unknown send kind %d", (int)cmd->kind);
	template = template_object(cmd, err, errlen);
	if (!template)
		return DN_ERR_PERMANENT;
	json_object_set_new(root, "type", json_string("template"));
	json_object_set_new(root, "template", template);
	return DN_OK;
}

int wa_request_build(const Dunning__V1__SendCommand *cmd, const char *to,
		     char **body, char *err, size_t errlen)
{
	json_t *root;
	int rc;

	*body = NULL;
	if (!to || !*to)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "command has no recipient");
	if (!cmd->command_id || utf8_chars(cmd->command_id) <= 0 ||
	    utf8_chars(cmd->command_id) > WA_CALLBACK_DATA_MAX)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "command id is empty, not UTF-8 or too long");
	root = json_pack("{s:s, s:s, s:s, s:s}", "messaging_product",
			 "whatsapp", "recipient_type", "individual", "to", to,
			 "biz_opaque_callback_data", cmd->command_id);
	if (!root)
		return dn_fail(DN_ERR_PERMANENT, err, errlen,
			       "recipient is not valid UTF-8");
	rc = add_body(root, cmd, err, errlen);
	if (rc == DN_OK) {
		*body = json_dumps(root, JSON_COMPACT);
		if (!*body)
			rc = dn_fail(DN_ERR_NOMEM, err, errlen,
				     "out of memory");
	}
	json_decref(root);
	return rc;
}
