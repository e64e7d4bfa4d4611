/* cairn-collector check-config: reads collector.conf (+ -o overrides) the way
 * serve would, reports every error with file:line, exit 2 on any. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

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

struct check_state {
	const char *prog;
	json_t *errors; /* with --json */
	bool dump;
};

static void report(const char *msg, void *arg)
{
	struct check_state *st = arg;
	if (st->errors)
		json_array_append_new(st->errors, json_string(msg));
	else
		fprintf(stderr, "%s: %s\n", st->prog, msg);
}

static int dump_option(int opt, const char *arg, void *ctx)
{
	(void)arg;
	if (opt != CLI_OPT_USER)
		return -1;
	((struct check_state *)ctx)->dump = true;
	return 0;
}

int check_config_main(int argc, char *argv[])
{
	struct check_state st = { 0 };
	static const struct option longopts[] = { { "dump", no_argument, NULL, CLI_OPT_USER },
						  { 0 } };
	struct cli_extra extra = { NULL, longopts, dump_option, &st };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, check_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs == 1 && !cli.config_path) {
		cli.config_path = cli.args[0];
	} else if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		check_usage(stderr);
		return 2;
	}
	st.prog = cli.prog;
	if (cli.json)
		st.errors = json_array();

	struct collector_config cfg;
	int n = cli_collector_config_report(&cli, &cfg, report, &st);
	if (n == 0) {
		struct errbuf eb;
		if (config_collector_validate(&cfg, &eb)) {
			char msg[700];
			snprintf(msg, sizeof(msg), "%.180s%s%s", cli.config_used,
				 cli.config_used[0] ? ": " : "", eb.msg);
			report(msg, &st);
			n = 1;
		}
	}
	const char *file = cli.config_used[0] ? cli.config_used : "(defaults)";
	if (cli.json) {
		json_t *o = json_pack("{s:s, s:b, s:o}", "file", file, "ok", n == 0, "errors",
				      st.errors);
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		return n == 0 ? 0 : 2;
	}
	if (n != 0) {
		if (n > 0)
			fprintf(stderr, "%s: %d error%s in %s\n", cli.prog, n, n == 1 ? "" : "s",
				file);
		return 2;
	}
	if (st.dump) {
		config_collector_dump(&cfg, stdout);
		return 0;
	}
	char retention[32], map_size[32], map_max[32], max_frame[32];
	config_format_duration(cfg.retention_ms, retention, sizeof(retention));
	config_format_size(cfg.map_size, map_size, sizeof(map_size));
	config_format_size(cfg.map_max, map_max, sizeof(map_max));
	config_format_size(cfg.max_frame, max_frame, sizeof(max_frame));
	printf("%s: OK\n", file);
	printf("  listen           %s (at most %u connections)\n", cfg.listen,
	       cfg.max_connections);
	printf("  state_dir        %s\n", cfg.state_dir);
	printf("  accept           %s%s%s\n", cfg.accept,
	       cfg.enroll_token_file[0] ? ", token file " : "", cfg.enroll_token_file);
	printf("  retention        %s\n", retention);
	printf("  map              %s, growing up to %s\n", map_size, map_max);
	printf("  max_frame        %s, %u records, %u bytes per string\n", max_frame,
	       cfg.max_records, cfg.max_string);
	return 0;
}
