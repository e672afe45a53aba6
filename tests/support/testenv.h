/* testenv.h: what every test program shares. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration tests run under scripts/run-tests.sh, which starts a fresh
 * local stack per test program and exports DUNNING_REDIS_URL,
 * DUNNING_KAFKA_BROKERS, DUNNING_BIN (built programs), DUNNING_ROOT (the
 * repository) and DUNNING_SHARED_DATA (the real sample inputs).
 */
#ifndef DUNNING_TESTENV_H
#define DUNNING_TESTENV_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct config_key;

/* Loads the common keys plus extra (may be NULL) from the environment;
 * fails the test on error. Caller frees with config_free. */
struct config *testenv_config(const struct config_key *extra);

/* Path of a file under DUNNING_SHARED_DATA, in a static buffer. */
const char *testenv_shared(const char *relative);

/* Path of a built program under DUNNING_BIN, in a static buffer. */
const char *testenv_bin(const char *program);

/* A string unique to this run ("t<pid>-<n>"), for group ids and tenants. */
const char *testenv_unique(const char *prefix, char *buf, size_t len);

/* Reads a whole file; caller frees. NULL on error. */
char *testenv_read_file(const char *path, size_t *len);

/* A loopback TCP port free at the time of the call (nothing listens on
 * it); fails the test when none can be had. */
int testenv_free_port(void);

#endif
