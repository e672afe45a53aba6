/* server.c: libmicrohttpd with pattern routes and a thread per connection. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "server.h"

#include "error.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

struct server {
	struct MHD_Daemon *daemon;
	struct server_route *routes;
	size_t route_count;
	size_t max_body;
	int port;
};

struct request_body {
	char *data;
	size_t len;
	int too_large;
};

int server_path_matches(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		if (*pattern == '*') {
			if (*path == '/')
				return 0;
			while (*path && *path != '/')
				path++;
			pattern++;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

int server_path_segment(const char *path, int n, char *out, size_t len)
{
	const char *start, *end;

	for (start = path; *start == '/'; start++)
		;
	while (n-- > 0) {
		start = strchr(start, '/');
		if (!start)
			return DN_ERR_NOT_FOUND;
		start++;
	}
	end = strchr(start, '/');
	if (!end)
		end = start + strlen(start);
	if (end == start)
		return DN_ERR_NOT_FOUND;
	if ((size_t)(end - start) >= len)
		return DN_ERR_TOO_LARGE;
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	return DN_OK;
}

static const struct server_route *route_find(const struct server *s,
					     const char *method,
					     const char *path, int *known)
{
	size_t i;

	*known = 0;
	for (i = 0; i < s->route_count; i++) {
		if (!server_path_matches(s->routes[i].pattern, path))
			continue;
		*known = 1;
		if (strcmp(s->routes[i].method, method) == 0)
			return &s->routes[i];
	}
	return NULL;
}

static enum MHD_Result send_response(struct MHD_Connection *connection,
				     struct http_response *resp)
{
	struct MHD_Response *response;
	enum MHD_Result rc;

	if (!resp->body) {
		resp->body = strdup("");
		resp->body_len = 0;
	}
	response = MHD_create_response_from_buffer(resp->body_len, resp->body,
						   MHD_RESPMEM_MUST_FREE);
	if (!response) {
		free(resp->body);
		return MHD_NO;
	}
	if (resp->content_type)
		MHD_add_response_header(response, "Content-Type",
					resp->content_type);
	rc = MHD_queue_response(connection, (unsigned)resp->status, response);
	MHD_destroy_response(response);
	return rc;
}

static void body_append(struct request_body *body, const char *data, size_t len,
			size_t max)
{
	char *grown;

	if (body->too_large || body->len + len > max) {
		body->too_large = 1;
		return;
	}
	grown = realloc(body->data, body->len + len + 1);
	if (!grown) {
		body->too_large = 1;
		return;
	}
	memcpy(grown + body->len, data, len);
	body->data = grown;
	body->len += len;
	body->data[body->len] = '\0';
}

/* Runs on the connection's thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct request_body *body = *con_cls;
	struct http_response resp = { 500, "text/plain", NULL, 0 };
	struct http_request req;
	const struct server_route *route;
	int known;

	(void)version;
	if (!body) {
		body = calloc(1, sizeof(*body));
		if (!body)
			return MHD_NO;
		*con_cls = body;
		return MHD_YES;
	}
	if (*upload_data_size) {
		body_append(body, upload_data, *upload_data_size, s->max_body);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (body->too_large) {
		http_respond_text(&resp, 413, "text/plain",
				  "request body too large\n");
		return send_response(connection, &resp);
	}
	route = route_find(s, method, url, &known);
	if (!route) {
		http_respond_text(&resp, known ? 405 : 404, "text/plain",
				  known ? "method not allowed\n"
					: "not found\n");
		return send_response(connection, &resp);
	}
	req.method = method;
	req.path = url;
	req.body = body->data ? body->data : "";
	req.body_len = body->len;
	req.connection = connection;
	route->handler(route->ctx, &req, &resp);
	return send_response(connection, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *connection,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request_body *body = *con_cls;

	(void)cls;
	(void)connection;
	(void)toe;
	if (body) {
		free(body->data);
		free(body);
		*con_cls = NULL;
	}
}

struct server *server_new(const char *bind_addr, int port,
			  const struct server_route *routes, size_t count,
			  size_t max_body, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;

	if (!s || !(s->routes = calloc(count ? count : 1, sizeof(*routes)))) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto fail;
	}
	memcpy(s->routes, routes, count * sizeof(*routes));
	s->route_count = count;
	s->max_body = max_body;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
		dn_fail(DN_ERR_CONFIG, err, errlen,
			"bind address \"%s\" is not an IPv4 address",
			bind_addr);
		goto fail;
	}
	s->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
		(uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
		MHD_OPTION_END);
	if (!s->daemon) {
		dn_fail(DN_ERR_HTTP, err, errlen,
			"cannot listen on %s:%d (port in use?)", bind_addr,
			port);
		goto fail;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : port;
	return s;

fail:
	if (s)
		free(s->routes);
	free(s);
	return NULL;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free(s->routes);
	free(s);
}

int server_port(const struct server *s)
{
	return s->port;
}
