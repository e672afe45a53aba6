/* store.c: a reconnecting hiredis connection with named Lua scripts. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include "clock.h"
#include "error.h"
#include "logger.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_HOST_MAX	     128
#define STORE_AUTH_MAX	     256 /* user or password, NUL included */
#define STORE_URL_SHOWN_MAX  512
#define STORE_BACKOFF_MAX_MS 1000

struct store_script {
	const char *name;
	const char *source;
	char sha[41];
};

struct store {
	redisContext *ctx;
	char host[STORE_HOST_MAX];
	char user[STORE_AUTH_MAX];     /* empty: the default user */
	char password[STORE_AUTH_MAX]; /* empty: no AUTH; never shown */
	int port;
	int db;
	int timeout_ms;
	char error[512];
	int64_t rtt_us;
	uint64_t reconnects;
	size_t outstanding; /* replies of store_send not read yet */
	struct store_script scripts[STORE_SCRIPTS_MAX];
	int script_count;
};

static int64_t monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The URL as it may be shown in errors: any password becomes "***". */
static void url_shown(const char *url, char *out, size_t len)
{
	const char *rest = strncmp(url, "redis://", 8) == 0 ? url + 8 : url;
	const char *at = strrchr(rest, '@');
	const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;

	if (!at)
		snprintf(out, len, "%s", url);
	else
		snprintf(out, len, "redis://%.*s:***@%s",
			 colon ? (int)(colon - rest) : 0, rest, at + 1);
}

/* Copies n bytes of URL text into out (size len), decoding %XX escapes.
 * Returns 0, or -1 for a bad escape, a NUL or text longer than out. */
static int url_decode(const char *text, size_t n, char *out, size_t len)
{
	size_t i, used = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)text[i];

		if (c == '%') {
			int high = -1, low = -1;

			if (i + 2 < n) {
				high = OPENSSL_hexchar2int(
					(unsigned char)text[i + 1]);
				low = OPENSSL_hexchar2int(
					(unsigned char)text[i + 2]);
			}
			if (high < 0 || low < 0)
				return -1;
			c = high * 16 + low;
			i += 2;
		}
		if (c == 0 || used + 1 >= len)
			return -1;
		out[used++] = (char)c;
	}
	out[used] = '\0';
	return 0;
}

/* "[user]:password" of n bytes, before the URL's last '@'. */
static int parse_auth(struct store *s, const char *text, size_t n,
		      const char *shown, char *err, size_t errlen)
{
	const char *colon = memchr(text, ':', n);

	if (!colon)
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_REDIS_URL=\"%s\": expected "
			       "redis://[[user]:password@]host:port[/db]",
			       shown);
	if (url_decode(text, (size_t)(colon - text), s->user,
		       sizeof(s->user)) ||
	    url_decode(colon + 1, n - (size_t)(colon - text) - 1, s->password,
		       sizeof(s->password)))
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_REDIS_URL=\"%s\": user or password is "
			       "longer than %d bytes or has a bad %%-escape",
			       shown, STORE_AUTH_MAX - 1);
	if (!s->password[0])
		return dn_fail(
			DN_ERR_CONFIG, err, errlen,
			"DUNNING_REDIS_URL=\"%s\": the password is empty",
			shown);
	return DN_OK;
}

/* "host[:port][/db]". */
static int parse_address(struct store *s, const char *rest, const char *shown,
			 char *err, size_t errlen)
{
	const char *colon = strchr(rest, ':'), *slash = strchr(rest, '/');
	size_t host_len;
	char *end;

	host_len = colon   ? (size_t)(colon - rest)
		   : slash ? (size_t)(slash - rest)
			   : strlen(rest);
	if (host_len == 0 || host_len >= sizeof(s->host))
		return dn_fail(DN_ERR_CONFIG, err, errlen,
			       "DUNNING_REDIS_URL=\"%s\": expected "
			       "redis://[[user]:password@]host:port[/db]",
			       shown);
	memcpy(s->host, rest, host_len);
	s->host[host_len] = '\0';
	s->port = 6379;
	if (colon) {
		long port = strtol(colon + 1, &end, 10);

		if (end == colon + 1 || port < 1 || port > 65535 ||
		    (*end && *end != '/'))
			return dn_fail(DN_ERR_CONFIG, err, errlen,
				       "DUNNING_REDIS_URL=\"%s\": port must be "
				       "1 to 65535",
				       shown);
		s->port = (int)port;
	}
	if (slash) {
		long db = strtol(slash + 1, &end, 10);

		if (*end || db < 0 || db > 15)
			return dn_fail(
				DN_ERR_CONFIG, err, errlen,
				"DUNNING_REDIS_URL=\"%s\": database must "
				"be 0 to 15",
				shown);
		s->db = (int)db;
	}
	return DN_OK;
}

/* redis://[[user]:password@]host[:port][/db]; the password may hold any
 * character ('@' and '/' included: the address follows the last '@'),
 * and %XX escapes are decoded. Errors show the URL without it. */
static int parse_url(struct store *s, const char *url, char *err, size_t errlen)
{
	const char *rest = url, *at;
	char shown[STORE_URL_SHOWN_MAX];

	url_shown(url, shown, sizeof(shown));
	if (strncmp(rest, "redis://", 8) == 0)
		rest += 8;
	at = strrchr(rest, '@');
	if (at && parse_auth(s, rest, (size_t)(at - rest), shown, err, errlen))
		return DN_ERR_CONFIG;
	return parse_address(s, at ? at + 1 : rest, shown, err, errlen);
}

/* One command of opening a session (AUTH, SELECT, PING); on an error
 * reply, the reason with what was being done. */
static int session_step(struct store *s, int argc, const char **argv,
			const char *what)
{
	redisReply *reply = redisCommandArgv(s->ctx, argc, argv, NULL);
	int ok = reply && reply->type != REDIS_REPLY_ERROR;

	if (!ok && reply && strncmp(reply->str, "NOAUTH", 6) == 0)
		snprintf(s->error, sizeof(s->error),
			 "redis at %s:%d requires a password, and "
			 "DUNNING_REDIS_URL has none "
			 "(redis://[[user]:password@]host:port[/db])",
			 s->host, s->port);
	else if (!ok)
		snprintf(s->error, sizeof(s->error), "%s: %.200s", what,
			 reply ? reply->str : s->ctx->errstr);
	freeReplyObject(reply);
	return ok ? DN_OK : DN_ERR_REDIS;
}

/* After connecting: AUTH when the URL has a password, then SELECT the
 * database, or a PING so that a server wanting a password says so now
 * rather than on the first real command. */
static int session_open(struct store *s)
{
	const char *auth[] = { "AUTH", s->user, s->password };
	const char *ping[] = { "PING" };
	char what[STORE_HOST_MAX + STORE_AUTH_MAX + 64], db[12];
	const char *select[] = { "SELECT", db };

	if (s->password[0]) {
		snprintf(what, sizeof(what),
			 "redis at %s:%d refused the password%s%s", s->host,
			 s->port, s->user[0] ? " of user " : "", s->user);
		/* "AUTH password" is the default user, for servers before
		 * Redis 6 too. */
		if (!s->user[0])
			auth[1] = s->password;
		if (session_step(s, s->user[0] ? 3 : 2, auth, what))
			return DN_ERR_REDIS;
	}
	if (s->db == 0) {
		snprintf(what, sizeof(what), "cannot ping redis at %s:%d",
			 s->host, s->port);
		return session_step(s, 1, ping, what);
	}
	snprintf(db, sizeof(db), "%d", s->db);
	snprintf(what, sizeof(what), "cannot select redis database %d", s->db);
	return session_step(s, 2, select, what);
}

/* One connection attempt; on success the session is ready for commands
 * (authenticated, on the URL's database). */
static int connect_once(struct store *s)
{
	struct timeval tv = { s->timeout_ms / 1000,
			      (s->timeout_ms % 1000) * 1000 };

	if (s->ctx)
		redisFree(s->ctx);
	s->ctx = redisConnectWithTimeout(s->host, s->port, tv);
	if (!s->ctx || s->ctx->err) {
		snprintf(s->error, sizeof(s->error),
			 "cannot connect to redis at %s:%d: %s", s->host,
			 s->port, s->ctx ? s->ctx->errstr : "out of memory");
		if (s->ctx)
			redisFree(s->ctx);
		s->ctx = NULL;
		return DN_ERR_REDIS;
	}
	redisSetTimeout(s->ctx, tv);
	if (session_open(s)) {
		/* A live connection on database 0, or one refused every
		 * command, would look healthy to the next command. */
		redisFree(s->ctx);
		s->ctx = NULL;
		return DN_ERR_REDIS;
	}
	return DN_OK;
}

/* Reconnects with back-off until the timeout budget is spent. */
static int reconnect(struct store *s)
{
	int64_t deadline = monotonic_us() + (int64_t)s->timeout_ms * 1000;
	int backoff = 20;

	for (;;) {
		if (connect_once(s) == DN_OK) {
			s->reconnects++;
			log_notice("REDIS", "reconnected to %s:%d", s->host,
				   s->port);
			return DN_OK;
		}
		if (monotonic_us() + backoff * 1000 > deadline)
			return DN_ERR_REDIS;
		sleep_ms(backoff);
		backoff = backoff * 2 > STORE_BACKOFF_MAX_MS
				  ? STORE_BACKOFF_MAX_MS
				  : backoff * 2;
	}
}

struct store *store_new(const char *url, int timeout_ms, char *err,
			size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s) {
		dn_fail(DN_ERR_NOMEM, err, errlen, "out of memory");
		return NULL;
	}
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	if (parse_url(s, url, err, errlen))
		goto fail;
	if (connect_once(s)) {
		dn_fail(DN_ERR_REDIS, err, errlen, "%s", s->error);
		goto fail;
	}
	return s;

fail:
	explicit_bzero(s->password, sizeof(s->password));
	free(s);
	return NULL;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	if (s->ctx)
		redisFree(s->ctx);
	explicit_bzero(s->password, sizeof(s->password));
	free(s);
}

/* Whether a failed call means the connection is gone. */
static int connection_broken(const struct store *s)
{
	return !s->ctx || s->ctx->err != 0;
}

redisReply *store_command(struct store *s, int argc, const char **argv,
			  const size_t *lens)
{
	redisReply *reply = NULL;
	int attempt;
	int64_t start;

	for (attempt = 0; attempt < 2; attempt++) {
		if (connection_broken(s) && reconnect(s))
			break;
		start = monotonic_us();
		reply = redisCommandArgv(s->ctx, argc, argv, lens);
		s->rtt_us = monotonic_us() - start;
		if (reply) {
			s->error[0] = '\0';
			return reply;
		}
		snprintf(s->error, sizeof(s->error), "redis %s:%d: %s", s->host,
			 s->port, s->ctx->errstr);
	}
	return NULL;
}

redisReply *store_commandf(struct store *s, const char *fmt, ...)
{
	redisReply *reply = NULL;
	va_list ap;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (connection_broken(s) && reconnect(s))
			break;
		va_start(ap, fmt);
		reply = redisvCommand(s->ctx, fmt, ap);
		va_end(ap);
		if (reply) {
			s->error[0] = '\0';
			return reply;
		}
		snprintf(s->error, sizeof(s->error), "redis %s:%d: %s", s->host,
			 s->port, s->ctx->errstr);
	}
	return NULL;
}

static int pipeline_once(struct store *s, size_t count, const int *argcs,
			 const char *const *const *argvs,
			 const size_t *const *lens, redisReply **replies)
{
	size_t i;
	void *reply;

	for (i = 0; i < count; i++)
		redisAppendCommandArgv(s->ctx, argcs[i],
				       (const char **)argvs[i],
				       lens ? lens[i] : NULL);
	for (i = 0; i < count; i++) {
		if (redisGetReply(s->ctx, &reply) != REDIS_OK) {
			/* Callers free what is not NULL: leave nothing. */
			while (i > 0) {
				freeReplyObject(replies[--i]);
				replies[i] = NULL;
			}
			return DN_ERR_REDIS;
		}
		replies[i] = reply;
	}
	return DN_OK;
}

int store_pipeline(struct store *s, size_t count, const int *argcs,
		   const char *const *const *argvs, const size_t *const *lens,
		   redisReply **replies)
{
	int attempt;
	int64_t start;

	memset(replies, 0, count * sizeof(*replies));
	for (attempt = 0; attempt < 2; attempt++) {
		if (connection_broken(s) && reconnect(s))
			break;
		start = monotonic_us();
		if (pipeline_once(s, count, argcs, argvs, lens, replies) ==
		    DN_OK) {
			s->rtt_us = monotonic_us() - start;
			s->error[0] = '\0';
			return DN_OK;
		}
		snprintf(s->error, sizeof(s->error), "redis %s:%d: %s", s->host,
			 s->port, s->ctx ? s->ctx->errstr : "not connected");
	}
	return DN_ERR_REDIS;
}

/* Closes the connection after a failed half of a pipeline: the replies
 * still outstanding on it can no longer be told apart. */
static int split_failed(struct store *s, const char *what)
{
	snprintf(s->error, sizeof(s->error), "redis %s:%d: %s: %s", s->host,
		 s->port, what, s->ctx ? s->ctx->errstr : "not connected");
	if (s->ctx)
		redisFree(s->ctx);
	s->ctx = NULL;
	s->outstanding = 0;
	return DN_ERR_REDIS;
}

int store_send(struct store *s, size_t count, const int *argcs,
	       const char *const *const *argvs, const size_t *const *lens)
{
	size_t i;
	int done = 0;

	if (count == 0)
		return DN_OK;
	/* A new connection only when nothing is owed on the old one. */
	if (connection_broken(s) && (s->outstanding || reconnect(s)))
		return split_failed(s, "cannot send");
	for (i = 0; i < count; i++)
		if (redisAppendCommandArgv(s->ctx, argcs[i],
					   (const char **)argvs[i],
					   lens ? lens[i] : NULL) != REDIS_OK)
			return split_failed(s, "cannot send");
	while (!done)
		if (redisBufferWrite(s->ctx, &done) != REDIS_OK)
			return split_failed(s, "cannot send");
	s->outstanding += count;
	s->error[0] = '\0';
	return DN_OK;
}

int store_receive(struct store *s, size_t count, redisReply **replies)
{
	size_t i;
	void *reply;

	if (count == 0)
		return DN_OK;
	memset(replies, 0, count * sizeof(*replies));
	if (connection_broken(s))
		return split_failed(s, "connection lost");
	if (count > s->outstanding)
		return split_failed(s, "fewer replies outstanding than asked");
	for (i = 0; i < count; i++) {
		if (redisGetReply(s->ctx, &reply) != REDIS_OK) {
			while (i > 0) {
				freeReplyObject(replies[--i]);
				replies[i] = NULL;
			}
			return split_failed(s, "cannot read the replies");
		}
		replies[i] = reply;
	}
	s->outstanding -= count;
	s->error[0] = '\0';
	return DN_OK;
}

size_t store_outstanding(const struct store *s)
{
	return s->outstanding;
}

int store_script_add(struct store *s, const char *name, const char *source)
{
	if (s->script_count >= STORE_SCRIPTS_MAX)
		return -1;
	s->scripts[s->script_count].name = name;
	s->scripts[s->script_count].source = source;
	s->scripts[s->script_count].sha[0] = '\0';
	return s->script_count++;
}

static int script_load(struct store *s, struct store_script *script)
{
	const char *argv[] = { "SCRIPT", "LOAD", script->source };
	redisReply *reply = store_command(s, 3, argv, NULL);

	if (!reply || reply->type != REDIS_REPLY_STRING || reply->len != 40) {
		char why[200];

		/* The reason may be in s->error itself: copy it out first. */
		snprintf(why, sizeof(why), "%.150s",
			 reply && reply->type == REDIS_REPLY_ERROR ? reply->str
								   : s->error);
		snprintf(s->error, sizeof(s->error),
			 "cannot load script %.64s: %s", script->name, why);
		freeReplyObject(reply);
		return DN_ERR_REDIS;
	}
	memcpy(script->sha, reply->str, 40);
	script->sha[40] = '\0';
	freeReplyObject(reply);
	return DN_OK;
}

/* Builds and runs EVALSHA sha nkeys args... */
static redisReply *evalsha(struct store *s, struct store_script *script,
			   int nkeys, int argc, const char **argv,
			   const size_t *lens)
{
	const char **full = malloc(sizeof(*full) * (size_t)(argc + 3));
	size_t *full_lens = malloc(sizeof(*full_lens) * (size_t)(argc + 3));
	char nkeys_text[16];
	redisReply *reply = NULL;
	int i;

	if (!full || !full_lens)
		goto out;
	snprintf(nkeys_text, sizeof(nkeys_text), "%d", nkeys);
	full[0] = "EVALSHA";
	full[1] = script->sha;
	full[2] = nkeys_text;
	for (i = 0; i < 3; i++)
		full_lens[i] = strlen(full[i]);
	for (i = 0; i < argc; i++) {
		full[i + 3] = argv[i];
		full_lens[i + 3] = lens ? lens[i] : strlen(argv[i]);
	}
	reply = store_command(s, argc + 3, full, full_lens);
out:
	free(full);
	free(full_lens);
	return reply;
}

redisReply *store_eval(struct store *s, int script, int nkeys, int argc,
		       const char **argv, const size_t *lens)
{
	struct store_script *sc;
	redisReply *reply;

	if (script < 0 || script >= s->script_count)
		return NULL;
	sc = &s->scripts[script];
	if (!sc->sha[0] && script_load(s, sc))
		return NULL;
	reply = evalsha(s, sc, nkeys, argc, argv, lens);

	/* The server forgot the script (restart, flush): load it again. */
	if (reply && reply->type == REDIS_REPLY_ERROR &&
	    strncmp(reply->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(reply);
		if (script_load(s, sc))
			return NULL;
		reply = evalsha(s, sc, nkeys, argc, argv, lens);
	}
	return reply;
}

const char *store_error(const struct store *s)
{
	return s->error;
}

int64_t store_last_rtt_us(const struct store *s)
{
	return s->rtt_us;
}

uint64_t store_reconnects(const struct store *s)
{
	return s->reconnects;
}

void store_reply_free(redisReply *reply)
{
	if (reply)
		freeReplyObject(reply);
}
