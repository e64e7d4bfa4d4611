/* Shared command-line handling: options, -o overrides in order, --state-dir
 * winning over the file, usage errors giving exit code 2. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int usage_calls;
static void usage(FILE *f)
{
	usage_calls++;
	fprintf(f, "usage\n");
}

static char conf[64];

static void setup(void)
{
	usage_calls = 0;
	str_copy(conf, "/tmp/cairn-test-cli-XXXXXX", sizeof(conf));
	int fd = mkstemp(conf);
	const char *text = "[agent]\nstate_dir = /from/file\nsample_interval = 20s\n";
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_redirect_stderr();
	cr_redirect_stdout();
}

static void teardown(void)
{
	unlink(conf);
}

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, common_options_and_positionals)
{
	char *argv[] = { "show", "-c", conf, "--json", "extra", "-o", "sample_interval=1m",
			 "-o", "report_interval=2m", NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 9, argv, NULL, usage), CLI_CONTINUE);
	cr_assert(cli.json);
	cr_assert_str_eq(cli.config_path, conf);
	cr_assert_eq(cli.nargs, 1);
	cr_assert_str_eq(cli.args[0], "extra");
	cr_assert_eq(cli.noverrides, 2);
	struct agent_config cfg;
	cr_assert_eq(cli_agent_config(&cli, &cfg), 0);
	cr_assert_eq(cfg.sample_interval_ms, 60000, "-o must win over the file");
	cr_assert_eq(cfg.report_interval_ms, 120000);
	cr_assert_str_eq(cfg.state_dir, "/from/file");
	cr_assert_str_eq(cli.config_used, conf);
}

Test(cli, state_dir_option_wins)
{
	char *argv[] = { "id", "-c", conf, "-o", "state_dir=/from/o", "--state-dir", "/from/flag",
			 NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 7, argv, NULL, usage), CLI_CONTINUE);
	struct collector_config cfg;
	/* The agent file has an [agent] section: as a collector config that is an error. */
	cr_assert_lt(cli_collector_config(&cli, &cfg), 0);
	struct agent_config acfg;
	cr_assert_eq(cli_agent_config(&cli, &acfg), 0);
	cr_assert_str_eq(acfg.state_dir, "/from/flag");
}

Test(cli, unknown_option_is_usage_error)
{
	char *argv[] = { "id", "--bogus", NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 2, argv, NULL, usage), 2);
	cr_assert_eq(usage_calls, 0, "a usage error prints one line and 'try --help', not the help");
	char *argv2[] = { "id", "-c", NULL };
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 2, argv2, NULL, usage), 2);
}

Test(cli, help_exits_zero)
{
	char *argv[] = { "id", "--help", NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 2, argv, NULL, usage), 0);
	cr_assert_eq(usage_calls, 1);
}

static int extra_handler(int opt, const char *arg, void *ctx)
{
	if (opt == 'n') {
		*(int *)ctx = atoi(arg);
		return 0;
	}
	if (opt == CLI_OPT_USER) {
		*(int *)ctx = -7;
		return 0;
	}
	return -1;
}

Test(cli, command_options)
{
	int n = 0;
	static const struct option longopts[] = { { "count", required_argument, NULL, 'n' },
						  { "flag", no_argument, NULL, CLI_OPT_USER },
						  { 0 } };
	struct cli_extra extra = { "n:", longopts, extra_handler, &n };
	char *argv[] = { "hosts", "-n", "5", "--json", NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-collector", 4, argv, &extra, usage), CLI_CONTINUE);
	cr_assert_eq(n, 5);
	cr_assert(cli.json);
	char *argv2[] = { "hosts", "--count=9", "--flag", NULL };
	cr_assert_eq(cli_parse(&cli, "cairn-collector", 3, argv2, &extra, usage), CLI_CONTINUE);
	cr_assert_eq(n, -7);
	/* Parsing twice in one process works (getopt state is reset). */
	char *argv3[] = { "hosts", "-n", "3", NULL };
	cr_assert_eq(cli_parse(&cli, "cairn-collector", 3, argv3, &extra, usage), CLI_CONTINUE);
	cr_assert_eq(n, 3);
}

Test(cli, bad_override_fails_config)
{
	char *argv[] = { "keygen", "-c", conf, "-o", "sampel_interval=5s", NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 5, argv, NULL, usage), CLI_CONTINUE);
	struct agent_config cfg;
	cr_assert_lt(cli_agent_config(&cli, &cfg), 0);
}

Test(cli, missing_config_file_is_an_error)
{
	char *argv[] = { "keygen", "-c", "/nonexistent/agent.conf", NULL };
	struct cli cli;
	cr_assert_eq(cli_parse(&cli, "cairn-agent", 3, argv, NULL, usage), CLI_CONTINUE);
	struct agent_config cfg;
	cr_assert_lt(cli_agent_config(&cli, &cfg), 0);
}
