/* httpd.h: a small HTTP server for metrics, health and webhooks. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built on libmicrohttpd with a thread per connection, so a slow handler
 * holds up only its own client. Requests are routed by method and path
 * pattern to handlers: a pattern is a path where '*' stands for exactly
 * one non-empty segment ("/ * /messages" without the spaces matches
 * "/v21.0/106540352242922/messages"). A body larger than the server's
 * maximum is answered 413 without calling a handler, before it is read
 * when its Content-Length announces it. Handlers may run on several
 * server threads at once and alongside the program's other threads: they
 * must be thread-safe and quick.
 *
 * Every server also answers GET /metrics (the registry given, Prometheus
 * text), GET /healthz (200 "ok" or 503 with the health callback's reason:
 * whether the program can do its work now, for readiness) and GET /livez
 * (200 "ok" while the process serves HTTP at all, for liveness: a Redis
 * or WhatsApp outage is no reason to restart it) unless a route of the
 * same path is given.
 */
#ifndef DUNNING_HTTPD_H
#define DUNNING_HTTPD_H

#include <stddef.h>

struct metrics;
struct httpd;
struct MHD_Connection;

struct http_request {
	const char *method;
	const char *path;
	const char *body; /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	struct MHD_Connection *connection;
};

/* A handler fills status, content type and a malloc'ed body the server
 * frees. */
struct http_response {
	int status;
	const char *content_type;
	char *body;
	size_t body_len;
};

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req,
				struct http_response *resp);

struct http_route {
	const char *method;
	const char *path;
	http_handler_fn handler;
	void *ctx;
};

/*
 * Returns NULL when healthy, or a short reason (static or owned by ctx)
 * why the process is not. Runs on the server's thread.
 */
typedef const char *(*http_health_fn)(void *ctx);

/*
 * Starts listening on bind_addr:port (port 0 picks a free one). routes is
 * copied. metrics and health may be NULL. Returns NULL with the reason.
 */
struct httpd *httpd_new(const char *bind_addr, int port,
			const struct http_route *routes, size_t count,
			size_t max_body, struct metrics *metrics,
			http_health_fn health, void *health_ctx, char *err,
			size_t errlen);

/* Stops the server and frees it; accepts NULL. */
void httpd_free(struct httpd *h);

/* The port actually listened on. */
int httpd_port(const struct httpd *h);

/* A request header (case-insensitive name) or NULL; borrowed until the
 * handler returns. */
const char *http_request_header(const struct http_request *req,
				const char *name);

/* A query-string argument or NULL; borrowed until the handler returns. */
const char *http_request_query(const struct http_request *req,
			       const char *name);

/* Whether path matches pattern ('*' = one non-empty segment). */
int http_path_matches(const char *pattern, const char *path);

/*
 * Copies the n-th segment (0-based) of path into out (size len): segment 1
 * of "/v21.0/123/messages" is "123". Returns 0, DN_ERR_NOT_FOUND or
 * DN_ERR_TOO_LARGE.
 */
int http_path_segment(const char *path, int n, char *out, size_t len);

/* Sets resp to status with a copy of text. */
void http_respond_text(struct http_response *resp, int status,
		       const char *content_type, const char *text);

#endif
