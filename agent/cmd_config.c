/* cairn-agent check-config: reads agent.conf (+ -o overrides) the way the
 * daemon would, reports every error with file:line, exit 2 on any. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkconf.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "daemon.h"

static void check_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent check-config [-c FILE] [-o KEY=VAL]... [--dump] [--json]\n\n"
		   "Validates the configuration (default " AGENT_CONFIG_PATH
		   ") and prints a summary;\n"
		   "every error is reported as FILE:LINE: message. Exit 2 on any error.\n\n"
		   "      --dump            print the effective configuration as INI\n");
	cli_usage_common(f);
}

static int load(struct cli *cli, void *cfg, config_report_fn report, void *arg)
{
	return cli_agent_config_report(cli, cfg, report, arg);
}

static int check(const void *cfg, config_report_fn report, void *arg)
{
	return config_agent_check(cfg, report, arg);
}

/* What 'cairn-agent run' will find on this machine. */
static int meaning(const struct cli *cli, const void *config, config_report_fn report, void *arg)
{
	(void)cli;
	const struct agent_config *cfg = config;
	int n = 0;
	if (cfg->collector[0] && !cfg->collector_key[0]) {
		report("collector is set but collector_key is not: the agent cannot verify the "
		       "collector and will not connect (copy the key from 'cairn-collector key "
		       "show')",
		       arg);
		n++;
	}
	if (!cfg->collector[0] && cfg->collector_key[0]) {
		report("collector_key is set but collector is not: set collector = host:port", arg);
		n++;
	}
	if (cfg->enroll_token_file[0])
		n += checkconf_readable_file("enroll_token_file", cfg->enroll_token_file, report,
					     arg);
	if (cfg->root[0] == '/')
		n += checkconf_directory("root", cfg->root, true, report, arg);
	if (cfg->state_dir[0]) {
		int bad = checkconf_directory("state_dir", cfg->state_dir, false, report, arg);
		n += bad;
		if (!bad)
			n += checkconf_key_file(cfg->state_dir, DAEMON_KEY_FILE, report, arg);
	}
	return n;
}

/* What a valid file still lacks for 'cairn-agent run', and secrets others can read. */
static void warnings(const struct cli *cli, const void *config, json_t *out)
{
	const struct agent_config *cfg = config;
	if (!cfg->collector[0] && !cfg->collector_key[0])
		json_array_append_new(out, json_string("collector and collector_key are not set: "
						       "'cairn-agent collect' works, 'cairn-agent "
						       "run' needs both"));
	struct stat fst;
	if (cfg->enroll_token[0] && cli->config_used[0] && !stat(cli->config_used, &fst) &&
	    (fst.st_mode & 004))
		json_array_append_new(out, json_sprintf("%s holds enroll_token and is readable by "
							"everyone: chmod 640 %s",
							cli->config_used, cli->config_used));
	if (cfg->enroll_token_file[0] && !stat(cfg->enroll_token_file, &fst) &&
	    (fst.st_mode & 004))
		json_array_append_new(out, json_sprintf("enroll_token_file %s is readable by "
							"everyone: chmod 640 %s",
							cfg->enroll_token_file,
							cfg->enroll_token_file));
}

static void dump(const void *cfg, FILE *f)
{
	config_agent_dump(cfg, f);
}

static void summary(const void *config)
{
	const struct agent_config *cfg = config;
	char sample[32], report_iv[32], inv[32], spool[32];
	config_format_duration(cfg->sample_interval_ms, sample, sizeof(sample));
	config_format_duration(cfg->report_interval_ms, report_iv, sizeof(report_iv));
	config_format_duration(cfg->inventory_interval_ms, inv, sizeof(inv));
	config_format_size(cfg->spool_max, spool, sizeof(spool));
	printf("  collector  %s%s\n", cfg->collector[0] ? cfg->collector : "(not set)",
	       cfg->collector_key[0] ? " (key pinned)" : "");
	printf("  state_dir  %s\n", cfg->state_dir);
	printf("  root       %s\n", cfg->root);
	printf("  intervals  sample %s, report %s, inventory %s\n", sample, report_iv, inv);
	printf("  spool_max  %s\n", spool);
}

int check_config_main(int argc, char *argv[])
{
	struct agent_config cfg;
	const struct checkconf_program agent = {
		.prog_name = "cairn-agent",
		.usage = check_usage,
		.cfg = &cfg,
		.load = load,
		.check = check,
		.meaning = meaning,
		.warnings = warnings,
		.dump = dump,
		.summary = summary,
	};
	return checkconf_main(&agent, argc, argv);
}
