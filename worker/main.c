/* main.c: dunning-worker, invoice events in, reminders out at their time. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "clock.h"
#include "config.h"
#include "engine.h"
#include "logger.h"
#include "shutdown.h"
#include "workflow.h"

#include <stdio.h>

static struct workflow *load_workflow(const struct config *cfg)
{
	const char *path = config_str(cfg, "DUNNING_WORKER_WORKFLOW");
	const char *catalogue = config_str(cfg, "DUNNING_WORKER_TEMPLATES");
	struct workflow *wf = NULL;
	char err[1024];

	if (workflow_load_file(path, &wf, err, sizeof(err))) {
		log_error("CONF", "DUNNING_WORKER_WORKFLOW: %s", err);
		return NULL;
	}
	if (workflow_check_catalogue(wf, catalogue, err, sizeof(err))) {
		log_error("CONF",
			  "workflow %s against DUNNING_WORKER_TEMPLATES: %s",
			  path, err);
		workflow_free(wf);
		return NULL;
	}
	return wf;
}

int main(int argc, char **argv)
{
	const struct config_key *const tables[] = { config_common_keys,
						    engine_config_keys, NULL };
	static const char about[] = "Applies invoice events and sends each "
				    "open invoice's reminders at "
				    "their local time.";
	int args;
	struct workflow *wf = NULL;
	struct engine *engine = NULL;
	struct config *cfg;
	char err[1024];
	int status = 1;

	if ((args = config_args(argc, argv, tables, about, stdout, stderr)) >=
	    0)
		return args;
	logger_init("worker", LOG_LEVEL_INFO);
	cfg = config_load(tables, err, sizeof(err));
	if (!cfg) {
		log_error("CONF", "%s", err);
		return 2;
	}
	logger_init("worker", (enum log_level)logger_level_parse(
				      config_str(cfg, "DUNNING_LOG_LEVEL")));
	clock_configure(cfg);
	shutdown_install();

	wf = load_workflow(cfg);
	if (!wf)
		goto out;
	engine = engine_new(cfg, wf, err, sizeof(err));
	if (!engine) {
		log_error("SCHED", "cannot start: %s", err);
		goto out;
	}
	printf("listening=127.0.0.1:%d\n", engine_http_port(engine));
	fflush(stdout);
	status = engine_run(engine) ? 1 : 0;

out:
	engine_free(engine);
	workflow_free(wf);
	config_free(cfg);
	return status;
}
