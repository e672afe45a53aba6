/* test_lib_httpd.c: the HTTP server routes, limits bodies and serves
 * /metrics and /healthz, over real TCP on loopback. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "httpd.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reply {
	long status;
	char body[4096];
	size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct reply *r = ctx;
	size_t len = size * n;

	if (r->len + len >= sizeof(r->body))
		len = sizeof(r->body) - r->len - 1;
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return size * n;
}

static void request(int port, const char *method, const char *path,
		    const char *body, size_t body_len, struct reply *r)
{
	CURL *curl = curl_easy_init();
	char url[256];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	assert_int_equal(curl_easy_perform(curl), CURLE_OK);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(curl);
}

/* Echoes the body length and a header back. */
static void echo(void *ctx, const struct http_request *req,
		 struct http_response *resp)
{
	const char *tag = http_request_header(req, "X-Tag");
	char text[128];

	(void)ctx;
	snprintf(text, sizeof(text), "%zu %s", req->body_len, tag ? tag : "-");
	http_respond_text(resp, 200, "text/plain", text);
}

/* Answers the phone number id segment of a Cloud API path. */
static void number_id(void *ctx, const struct http_request *req,
		      struct http_response *resp)
{
	char id[32];

	(void)ctx;
	if (http_path_segment(req->path, 1, id, sizeof(id)))
		http_respond_text(resp, 400, "text/plain", "no id");
	else
		http_respond_text(resp, 200, "text/plain", id);
}

static const char *unhealthy_reason;

static const char *health(void *ctx)
{
	(void)ctx;
	return unhealthy_reason;
}

static struct httpd *start(struct metrics *m)
{
	const struct http_route routes[] = {
		{ "POST", "/echo", echo, NULL },
		{ "POST", "/*/*/messages", number_id, NULL },
	};
	char err[256];
	struct httpd *h = httpd_new("127.0.0.1", 0, routes, 2, 1024, m, health,
				    NULL, err, sizeof(err));

	if (!h)
		fail_msg("%s", err);
	assert_true(httpd_port(h) > 0);
	return h;
}

static void test_routes_by_method_and_path(void **state)
{
	struct httpd *h = start(NULL);
	struct reply r;

	(void)state;
	request(httpd_port(h), "POST", "/echo", "hello", 5, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "5 -");
	request(httpd_port(h), "GET", "/echo", NULL, 0, &r);
	assert_int_equal(r.status, 405);
	request(httpd_port(h), "GET", "/nowhere", NULL, 0, &r);
	assert_int_equal(r.status, 404);
	httpd_free(h);
}

static void test_pattern_routes_match_one_segment_per_star(void **state)
{
	struct httpd *h = start(NULL);
	struct reply r;

	(void)state;
	request(httpd_port(h), "POST", "/v21.0/106540352242922/messages", "", 0,
		&r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "106540352242922");
	request(httpd_port(h), "POST", "/v21.0/messages", "", 0, &r);
	assert_int_equal(r.status, 404);
	request(httpd_port(h), "POST", "/v21.0/1/2/messages", "", 0, &r);
	assert_int_equal(r.status, 404);
	request(httpd_port(h), "POST", "//1/messages", "", 0, &r);
	assert_int_equal(r.status, 404);
	httpd_free(h);
}

static void test_path_segments_are_bounded(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(http_path_segment("/a/bcd/e", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "a");
	assert_int_equal(http_path_segment("/a/bcde/e", 1, out, sizeof(out)),
			 DN_ERR_TOO_LARGE);
	assert_int_equal(http_path_segment("/a", 3, out, sizeof(out)),
			 DN_ERR_NOT_FOUND);
}

static void test_body_over_the_limit_is_refused_with_413(void **state)
{
	struct httpd *h = start(NULL);
	char *big = malloc(4096);
	struct reply r;

	(void)state;
	memset(big, 'x', 4096);
	request(httpd_port(h), "POST", "/echo", big, 4096, &r);
	assert_int_equal(r.status, 413);
	request(httpd_port(h), "POST", "/echo", big, 1024, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "1024 -");
	free(big);
	httpd_free(h);
}

/* Sends raw request headers with no body and returns the status line the
 * server answers with within two seconds ("" if none). */
static const char *status_for_headers(int port, const char *headers)
{
	static char answer[256];
	struct sockaddr_in addr = { 0 };
	struct timeval wait = { 2, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	assert_true(fd >= 0);
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)),
			 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
	assert_int_equal(write(fd, headers, strlen(headers)),
			 (ssize_t)strlen(headers));
	n = read(fd, answer, sizeof(answer) - 1);
	close(fd);
	answer[n > 0 ? n : 0] = '\0';
	answer[strcspn(answer, "\r\n")] = '\0';
	return answer;
}

static void
test_announced_oversized_body_is_refused_before_it_is_sent(void **state)
{
	struct httpd *h = start(NULL);
	const char *status;

	(void)state;
	/* A gigabyte announced, none sent: the answer must not wait for
	 * it, nor make the client send it. */
	status = status_for_headers(httpd_port(h),
				    "POST /echo HTTP/1.1\r\n"
				    "Host: 127.0.0.1\r\n"
				    "Content-Length: 1000000000\r\n"
				    "Expect: 100-continue\r\n\r\n");
	assert_int_equal(strncmp(status, "HTTP/1.1 413 ", 13), 0);
	httpd_free(h);
}

static void test_metrics_and_health_endpoints(void **state)
{
	struct metrics *m = metrics_new();
	struct httpd *h = start(m);
	struct reply r;

	(void)state;
	metrics_inc(m, "dunning_events_applied_total", "events", NULL, 3);
	request(httpd_port(h), "GET", "/metrics", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "dunning_events_applied_total 3\n"));

	unhealthy_reason = NULL;
	request(httpd_port(h), "GET", "/healthz", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	unhealthy_reason = "redis unreachable";
	request(httpd_port(h), "GET", "/healthz", NULL, 0, &r);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.body, "redis unreachable");
	/* Alive all the same: an outage is no reason for a restart. */
	request(httpd_port(h), "GET", "/livez", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	httpd_free(h);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_by_method_and_path),
		cmocka_unit_test(
			test_pattern_routes_match_one_segment_per_star),
		cmocka_unit_test(test_path_segments_are_bounded),
		cmocka_unit_test(test_body_over_the_limit_is_refused_with_413),
		cmocka_unit_test(
			test_announced_oversized_body_is_refused_before_it_is_sent),
		cmocka_unit_test(test_metrics_and_health_endpoints),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
