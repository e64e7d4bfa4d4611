/* cairn-collector check-config: reads collector.conf (+ -o overrides) the way
 * serve would, reports every error with file:line, exit 2 on any. */
#include <stdio.h>
#include <sys/stat.h>

#include "checkconf.h"
#include "cli.h"
#include "commands.h"
#include "config.h"

static void check_usage(FILE *f)
{
	fprintf(f,
		"Usage: cairn-collector check-config [-c FILE] [-o KEY=VAL]... [--dump] [--json]\n\n"
		"Validates the configuration (default " COLLECTOR_CONFIG_PATH ") and prints a\n"
		"summary; every error is reported as FILE:LINE: message. Exit 2 on any error.\n\n"
		"      --dump            print the effective configuration as INI\n");
	cli_usage_common(f);
}

static int load(struct cli *cli, void *cfg, config_report_fn report, void *arg)
{
	return cli_collector_config_report(cli, cfg, report, arg);
}

static int check(const void *cfg, config_report_fn report, void *arg)
{
	return config_collector_check(cfg, report, arg);
}

/* What 'serve' will find on this machine. */
static int meaning(const struct cli *cli, const void *config, config_report_fn report, void *arg)
{
	(void)cli;
	const struct collector_config *cfg = config;
	int n = 0;
	enum accept_mode mode;
	if (cfg->enroll_token_file[0] && !config_accept_mode(cfg, &mode) &&
	    mode == ACCEPT_TOKEN)
		n += checkconf_readable_file("enroll_token_file", cfg->enroll_token_file, report,
					     arg);
	if (cfg->catalog[0])
		n += checkconf_readable_file("catalog", cfg->catalog, report, arg);
	if (cfg->state_dir[0]) {
		int bad = checkconf_directory("state_dir", cfg->state_dir, false, report, arg);
		n += bad;
		if (!bad)
			n += checkconf_key_file(cfg->state_dir, COLLECTOR_KEY_FILE, report, arg);
	}
	return n;
}

/* Settings that work but are probably not what was meant. */
static void warnings(const struct cli *cli, const void *config, json_t *out)
{
	(void)cli;
	const struct collector_config *cfg = config;
	enum accept_mode mode;
	if (cfg->enroll_token_file[0] && !config_accept_mode(cfg, &mode) && mode != ACCEPT_TOKEN)
		json_array_append_new(out, json_sprintf("enroll_token_file is set but accept = %s: "
							"the token is not used (accept = token "
							"uses it)",
							cfg->accept));
	struct stat st;
	if (cfg->enroll_token_file[0] && !stat(cfg->enroll_token_file, &st) && (st.st_mode & 004))
		json_array_append_new(out, json_sprintf("enroll_token_file %s is readable by "
							"everyone: chmod 640 %s",
							cfg->enroll_token_file,
							cfg->enroll_token_file));
}

static void dump(const void *cfg, FILE *f)
{
	config_collector_dump(cfg, f);
}

static void summary(const void *config)
{
	const struct collector_config *cfg = config;
	char retention[32], retention_raw[32], map_size[32], map_max[32], max_frame[32];
	config_format_duration(cfg->retention_ms, retention, sizeof(retention));
	config_format_duration(cfg->retention_raw_ms < cfg->retention_ms ? cfg->retention_raw_ms
									  : cfg->retention_ms,
			       retention_raw, sizeof(retention_raw));
	config_format_size(cfg->map_size, map_size, sizeof(map_size));
	config_format_size(cfg->map_max, map_max, sizeof(map_max));
	config_format_size(cfg->max_frame, max_frame, sizeof(max_frame));
	printf("  listen           %s (at most %u connections)\n", cfg->listen,
	       cfg->max_connections);
	printf("  state_dir        %s\n", cfg->state_dir);
	printf("  accept           %s%s%s\n", cfg->accept,
	       cfg->enroll_token_file[0] ? ", token file " : "", cfg->enroll_token_file);
	printf("  retention        %s (rollups, edge days), raw batches and windows %s\n",
	       retention, retention_raw);
	printf("  map              %s, growing up to %s\n", map_size, map_max);
	printf("  max_frame        %s, %u records, %u bytes per string\n", max_frame,
	       cfg->max_records, cfg->max_string);
}

int check_config_main(int argc, char *argv[])
{
	struct collector_config cfg;
	const struct checkconf_program collector = {
		.prog_name = "cairn-collector",
		.usage = check_usage,
		.cfg = &cfg,
		.load = load,
		.check = check,
		.meaning = meaning,
		.warnings = warnings,
		.dump = dump,
		.summary = summary,
	};
	return checkconf_main(&collector, argc, argv);
}
