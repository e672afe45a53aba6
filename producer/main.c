/* main.c: dunning-producer, imports ERP exports into invoice.events. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli.h"

#include "logger.h"
#include "shutdown.h"

int main(int argc, char **argv)
{
	logger_init("producer", LOG_LEVEL_INFO);
	shutdown_install();
	return cli_run(argc, argv);
}
