/* store.h: the Redis connection every process shares the code of. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A blocking hiredis connection that reconnects by itself: a command that
 * fails on a broken connection is retried once on a new one, reconnecting
 * with a bounded back-off until DUNNING_REDIS_TIMEOUT_MS has passed. A
 * command that timed out may have run on the server all the same, so a
 * retried command can run twice: every command and script given here must
 * be idempotent (the product's are: applying an event twice changes
 * nothing). Lua scripts are registered once by name and run with EVALSHA;
 * a server that lost them (restart, SCRIPT FLUSH) gets them loaded again
 * transparently. A connection is only ever used on the database its URL
 * names.
 *
 * One struct store belongs to one thread. Replies are hiredis redisReply
 * objects the caller frees with store_reply_free.
 *
 * TODO: replies have no size limit (hiredis 0.14 has no reader maximum),
 * so a huge value or a runaway range read is held whole in memory; callers
 * bound what they read with COUNT, LIMIT or ranges.
 */
#ifndef DUNNING_STORE_H
#define DUNNING_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct redisReply redisReply;
struct store;

#define STORE_SCRIPTS_MAX 32

/*
 * Connects to url, "redis://[[user]:password@]host:port[/db]". With a
 * password, every connection starts with AUTH (as user when one is given,
 * else the default user); user and password may carry %XX escapes and are
 * at most 255 bytes each; the password may hold '@' and '/' (the address
 * follows the last '@'). The password never appears in an error: a URL
 * quoted in one shows it as "***".
 *
 * Returns NULL with the reason in err when the URL is malformed, the
 * server cannot be reached within timeout_ms (which also bounds each
 * command and each reconnection), refuses the password, or wants one the
 * URL does not give. Caller frees with store_free.
 */
struct store *store_new(const char *url, int timeout_ms, char *err,
			size_t errlen);

/* Closes the connection and frees s; accepts NULL. */
void store_free(struct store *s);

/*
 * Runs one command given as argc arguments (binary safe when lens is not
 * NULL). Returns the reply, or NULL with the reason in the store's sticky
 * error (store_error). A Redis error reply is returned as a reply of type
 * REDIS_REPLY_ERROR, not as NULL.
 */
redisReply *store_command(struct store *s, int argc, const char **argv,
			  const size_t *lens);

/* printf-style command, as hiredis's redisCommand. */
redisReply *store_commandf(struct store *s, const char *fmt, ...);

/*
 * Pipelining: queue count commands, then read their count replies in
 * order. On a broken connection the whole pipeline is sent again once on
 * a new connection, so pipelined commands must be idempotent.
 * replies[i] receives each reply (caller frees each). Returns 0 or
 * DN_ERR_REDIS; on error every replies[i] is NULL.
 */
int store_pipeline(struct store *s, size_t count, const int *argcs,
		   const char *const *const *argvs, const size_t *const *lens,
		   redisReply **replies);

/*
 * Pipelining in two halves, so that the caller can work while Redis runs
 * the commands: store_send writes count commands to the server and
 * returns without waiting; store_receive reads the next count replies,
 * in the order the commands were sent. More store_send calls may follow
 * before the replies are read; no other call may use s while replies are
 * outstanding. Nothing is sent again here: on any failure the connection
 * is closed (the next call makes a new one), every outstanding reply is
 * lost, and the caller sends again whatever it has no reply for, so the
 * commands must be idempotent. Both return 0 or DN_ERR_REDIS with the
 * reason in store_error; on error every replies[i] is NULL.
 */
int store_send(struct store *s, size_t count, const int *argcs,
	       const char *const *const *argvs, const size_t *const *lens);

int store_receive(struct store *s, size_t count, redisReply **replies);

/* Replies sent for with store_send and not read yet. */
size_t store_outstanding(const struct store *s);

/*
 * Registers a Lua script under name; returns its index (>= 0) for
 * store_eval, or -1 if the table is full. source is borrowed and must
 * outlive the store (a string literal or generated constant).
 */
int store_script_add(struct store *s, const char *name, const char *source);

/* EVALSHA of a registered script with nkeys keys then args. */
redisReply *store_eval(struct store *s, int script, int nkeys, int argc,
		       const char **argv, const size_t *lens);

/* Last error text; empty when the last call succeeded. */
const char *store_error(const struct store *s);

/* Round-trip time of the last command, microseconds. */
int64_t store_last_rtt_us(const struct store *s);

/* Times the connection was made again after a failure. */
uint64_t store_reconnects(const struct store *s);

void store_reply_free(redisReply *reply);

#endif
