/* cairn-agent check-config: reads agent.conf (+ -o overrides) the way the
 * daemon would, reports every error with file:line, exit 2 on any. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "config.h"

static void check_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent check-config [-c FILE] [-o KEY=VAL]... [--dump] [--json]\n\n"
		   "Validates the configuration (default " AGENT_CONFIG_PATH
		   ") and prints a summary;\n"
		   "every error is reported as FILE:LINE: message. Exit 2 on any error.\n\n"
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
	int rc = cli_parse(&cli, "cairn-agent", argc, argv, &extra, check_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs == 1 && !cli.config_path) {
		cli.config_path = cli.args[0]; /* check-config FILE */
	} else if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		check_usage(stderr);
		return 2;
	}
	st.prog = cli.prog;
	if (cli.json)
		st.errors = json_array();

	struct agent_config cfg;
	int n = cli_agent_config_report(&cli, &cfg, report, &st);
	if (n == 0) {
		struct errbuf eb;
		if (config_agent_validate(&cfg, &eb)) {
			char msg[700];
			snprintf(msg, sizeof(msg), "%.180s%s%s", cli.config_used,
				 cli.config_used[0] ? ": " : "", eb.msg);
			report(msg, &st);
			n = 1;
		}
	}
	json_t *warnings = json_array();
	if (n == 0) {
		if (!cfg.collector[0])
			json_array_append_new(warnings,
					      json_string("collector is not set: 'cairn-agent run' "
							  "needs it (host:port)"));
		if (!cfg.collector_key[0])
			json_array_append_new(warnings,
					      json_string("collector_key is not set: 'cairn-agent "
							  "run' needs it (from 'cairn-collector key "
							  "show')"));
		struct stat fst;
		if (cfg.enroll_token[0] && cli.config_used[0] && !stat(cli.config_used, &fst) &&
		    (fst.st_mode & 004))
			json_array_append_new(
				warnings, json_sprintf("%s holds enroll_token and is readable by "
						       "everyone: chmod 640 %s",
						       cli.config_used, cli.config_used));
		if (cfg.enroll_token_file[0] && access(cfg.enroll_token_file, R_OK))
			json_array_append_new(warnings,
					      json_sprintf("enroll_token_file %s is not readable "
							   "by this user: %s",
							   cfg.enroll_token_file,
							   strerror(errno)));
	}
	const char *file = cli.config_used[0] ? cli.config_used : "(defaults)";
	if (cli.json) {
		json_t *o = json_pack("{s:s, s:b, s:o, s:o}", "file", file, "ok", n == 0, "errors",
				      st.errors, "warnings", warnings);
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		return n == 0 ? 0 : 2;
	}
	size_t i;
	json_t *w;
	json_array_foreach(warnings, i, w)
		fprintf(stderr, "%s: warning: %s\n", cli.prog, json_string_value(w));
	json_decref(warnings);
	if (n != 0) {
		if (n > 0)
			fprintf(stderr, "%s: %d error%s in %s\n", cli.prog, n, n == 1 ? "" : "s",
				file);
		return 2;
	}
	if (st.dump) {
		config_agent_dump(&cfg, stdout);
		return 0;
	}
	char sample[32], report_iv[32], inv[32], spool[32];
	config_format_duration(cfg.sample_interval_ms, sample, sizeof(sample));
	config_format_duration(cfg.report_interval_ms, report_iv, sizeof(report_iv));
	config_format_duration(cfg.inventory_interval_ms, inv, sizeof(inv));
	config_format_size(cfg.spool_max, spool, sizeof(spool));
	printf("%s: OK\n", file);
	printf("  collector  %s%s\n", cfg.collector[0] ? cfg.collector : "(not set)",
	       cfg.collector_key[0] ? " (key pinned)" : "");
	printf("  state_dir  %s\n", cfg.state_dir);
	printf("  root       %s\n", cfg.root);
	printf("  intervals  sample %s, report %s, inventory %s\n", sample, report_iv, inv);
	printf("  spool_max  %s\n", spool);
	return 0;
}
