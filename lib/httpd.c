/* httpd.c: routing and body limits over libmicrohttpd. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "httpd.h"

#include "error.h"
#include "logger.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

struct httpd {
	struct MHD_Daemon *daemon;
	struct http_route *routes;
	size_t route_count;
	size_t max_body;
	struct metrics *metrics;
	http_health_fn health;
	void *health_ctx;
	int port;
};

/* Per-request state while the body arrives. */
struct request_body {
	char *data;
	size_t len;
	int too_large;
};

void http_respond_text(struct http_response *resp, int status,
		       const char *content_type, const char *text)
{
	resp->status = status;
	resp->content_type = content_type;
	resp->body = strdup(text);
	resp->body_len = resp->body ? strlen(text) : 0;
}

const char *http_request_header(const struct http_request *req,
				const char *name)
{
	return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND,
					   name);
}

const char *http_request_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->connection,
					   MHD_GET_ARGUMENT_KIND, name);
}

static void builtin_metrics(void *ctx, const struct http_request *req,
			    struct http_response *resp)
{
	struct httpd *h = ctx;

	(void)req;
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = h->metrics ? metrics_render(h->metrics, &resp->body_len)
				: strdup("");
	if (!h->metrics && resp->body)
		resp->body_len = 0;
}

static void builtin_health(void *ctx, const struct http_request *req,
			   struct http_response *resp)
{
	struct httpd *h = ctx;
	const char *problem = h->health ? h->health(h->health_ctx) : NULL;

	(void)req;
	if (problem)
		http_respond_text(resp, 503, "text/plain", problem);
	else
		http_respond_text(resp, 200, "text/plain", "ok\n");
}

static void builtin_live(void *ctx, const struct http_request *req,
			 struct http_response *resp)
{
	(void)ctx;
	(void)req;
	http_respond_text(resp, 200, "text/plain", "ok\n");
}

int http_path_matches(const char *pattern, const char *path)
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

int http_path_segment(const char *path, int n, char *out, size_t len)
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

static const struct http_route *route_find(const struct httpd *h,
					   const char *method, const char *path,
					   int *path_known)
{
	size_t i;

	*path_known = 0;
	for (i = 0; i < h->route_count; i++) {
		if (!http_path_matches(h->routes[i].path, path))
			continue;
		*path_known = 1;
		if (strcmp(h->routes[i].method, method) == 0)
			return &h->routes[i];
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

/* Appends a chunk of the body, or marks the request too large. */
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

/* Whether the request's Content-Length already exceeds max. */
static int announced_too_large(struct MHD_Connection *connection, size_t max)
{
	const char *text = MHD_lookup_connection_value(
		connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long length;
	char *end;

	if (!text)
		return 0;
	errno = 0;
	length = strtoull(text, &end, 10);
	/* A malformed length is libmicrohttpd's to refuse, not ours. */
	if (end == text || *end || errno)
		return errno == ERANGE;
	return length > max;
}

/* Runs on the connection's server thread. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct request_body *body = *con_cls;
	struct http_response resp = { 500, "text/plain", NULL, 0 };
	struct http_request req;
	const struct http_route *route;
	int path_known;

	(void)version;
	if (!body) {
		body = calloc(1, sizeof(*body));
		if (!body)
			return MHD_NO;
		*con_cls = body;
		/* Refused before it is read, or before the client is told
		 * to send it (100 Continue): no point receiving it. */
		if (announced_too_large(connection, h->max_body)) {
			body->too_large = 1;
			http_respond_text(&resp, 413, "text/plain",
					  "request body too large\n");
			return send_response(connection, &resp);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		body_append(body, upload_data, *upload_data_size, h->max_body);
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* The whole request is in: route it. */
	if (body->too_large) {
		http_respond_text(&resp, 413, "text/plain",
				  "request body too large\n");
		return send_response(connection, &resp);
	}
	route = route_find(h, method, url, &path_known);
	if (!route) {
		http_respond_text(&resp, path_known ? 405 : 404, "text/plain",
				  path_known ? "method not allowed\n"
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

/* Copies the caller's routes and adds the built-in ones not overridden. */
static int routes_build(struct httpd *h, const struct http_route *routes,
			size_t count)
{
	const struct http_route builtins[] = {
		{ "GET", "/metrics", builtin_metrics, h },
		{ "GET", "/healthz", builtin_health, h },
		{ "GET", "/livez", builtin_live, h },
	};
	const size_t n_builtins = sizeof(builtins) / sizeof(*builtins);
	size_t i;
	int known;

	h->routes = calloc(count + n_builtins, sizeof(*h->routes));
	if (!h->routes)
		return DN_ERR_NOMEM;
	if (count)
		memcpy(h->routes, routes, count * sizeof(*routes));
	h->route_count = count;
	for (i = 0; i < n_builtins; i++)
		if (!route_find(h, builtins[i].method, builtins[i].path,
				&known) &&
		    !known)
			h->routes[h->route_count++] = builtins[i];
	return DN_OK;
}

struct httpd *httpd_new(const char *bind_addr, int port,
			const struct http_route *routes, size_t count,
			size_t max_body, struct metrics *metrics,
			http_health_fn health, void *health_ctx, char *err,
			size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;

	if (!h || routes_build(h, routes, count)) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		goto fail;
	}
	h->max_body = max_body;
	h->metrics = metrics;
	h->health = health;
	h->health_ctx = health_ctx;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
		dn_fail(DN_ERR_CONFIG, err, errlen,
			"http bind address \"%s\" is not an IPv4 address",
			bind_addr);
		goto fail;
	}
	h->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
		(uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_END);
	if (!h->daemon) {
		dn_fail(DN_ERR_HTTP, err, errlen,
			"cannot listen on %s:%d (port in use?)", bind_addr,
			port);
		goto fail;
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : port;
	return h;

fail:
	if (h)
		free(h->routes);
	free(h);
	return NULL;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	free(h->routes);
	free(h);
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}
