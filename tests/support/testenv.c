/* testenv.c: shared helpers of the test programs. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "testenv.h"

#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

struct config *testenv_config(const struct config_key *extra)
{
	const struct config_key *const tables[] = { config_common_keys, extra,
						    NULL };
	char err[512];
	struct config *cfg = config_load(tables, err, sizeof(err));

	if (!cfg)
		fail_msg("configuration: %s", err);
	return cfg;
}

static const char *env_path(const char *var, const char *fallback,
			    const char *relative)
{
	static char path[4096];
	const char *base = getenv(var);

	snprintf(path, sizeof(path), "%s/%s", base ? base : fallback, relative);
	return path;
}

const char *testenv_shared(const char *relative)
{
	return env_path("DUNNING_SHARED_DATA", "../shared/data", relative);
}

const char *testenv_bin(const char *program)
{
	return env_path("DUNNING_BIN", "build/test/bin", program);
}

const char *testenv_unique(const char *prefix, char *buf, size_t len)
{
	static int counter;

	snprintf(buf, len, "%s-%ld-%d", prefix, (long)getpid(), ++counter);
	return buf;
}

char *testenv_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size + 1);
		if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[size] = '\0';
			if (len)
				*len = (size_t)size;
		}
	}
	fclose(f);
	return buf;
}

int testenv_free_port(void)
{
	struct sockaddr_in addr = { 0 };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	port = ntohs(addr.sin_port);
	close(fd);
	return port;
}
