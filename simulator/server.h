/* server.h: the simulator's HTTP server, with path patterns. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib/httpd.h routes exact paths on one thread. The Cloud API's path
 * carries the API version and the phone number id
 * (/v21.0/106540352242922/messages), and the simulator must answer slowly
 * on purpose without holding up other requests, so this server matches
 * patterns where '*' stands for one path segment, and runs a thread per
 * connection. Handlers use the types and helpers of lib/httpd.h
 * (http_request_header, http_respond_text) and may run on several threads
 * at once.
 */
#ifndef DUNNING_SIM_SERVER_H
#define DUNNING_SIM_SERVER_H

#include "httpd.h"

#include <stddef.h>

struct server;

struct server_route {
	const char *method;
	const char *pattern; /* "/sim/stats", "/ * /messages" without spaces */
	http_handler_fn handler;
	void *ctx;
};

/*
 * Listens on bind_addr:port (0 picks a free port). routes is copied.
 * Bodies over max_body are answered 413. Returns NULL with the reason.
 */
struct server *server_new(const char *bind_addr, int port,
			  const struct server_route *routes, size_t count,
			  size_t max_body, char *err, size_t errlen);

/* Stops and frees; accepts NULL. */
void server_free(struct server *s);

int server_port(const struct server *s);

/* Whether path matches pattern ('*' = one non-empty segment). */
int server_path_matches(const char *pattern, const char *path);

/*
 * Copies the n-th path segment (0-based) of path into out (size len).
 * Returns 0, or DN_ERR_NOT_FOUND / DN_ERR_TOO_LARGE.
 */
int server_path_segment(const char *path, int n, char *out, size_t len);

#endif
