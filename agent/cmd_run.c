/* cairn-agent run: the daemon (see daemon.h). */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

static void run_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent run [-c FILE] [-o KEY=VAL]... [--state-dir DIR]\n\n"
		   "Runs the agent: samples this host, spools one signed batch per report\n"
		   "window in <state_dir>/spool and streams the batches to the collector.\n"
		   "SIGTERM/SIGINT close the current window and stop; SIGHUP reloads the\n"
		   "configuration. 'cairn-agent status' shows how it is doing.\n");
	cli_usage_common(f);
}

int run_main(int argc, char *argv[])
{
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-agent", argc, argv, NULL, run_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli.prog, cli.args[0]);
		cli_try_help(cli.prog);
		return 2;
	}
	struct agent_config cfg;
	if (cli_agent_config(&cli, &cfg))
		return 2;
	enum log_level lvl;
	if (cfg.log_level[0]) {
		if (log_level_parse(cfg.log_level, &lvl)) {
			fprintf(stderr, "%s: log_level: '%s' is not one of error, warning, notice, "
					"info, debug\n",
				cli.prog, cfg.log_level);
			return 2;
		}
		log_set_level(lvl);
	}
	return daemon_run(&cli, &cfg);
}
