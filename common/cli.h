/* Command-line handling shared by every subcommand of both programs.
 *
 * Each command accepts the common options
 *   -c, --config FILE     configuration file (default /etc/cairn/<prog>.conf if it exists)
 *   --state-dir DIR       overrides state_dir
 *   -o, --option KEY=VAL  sets one configuration key (repeatable, applied in order)
 *   --json                output for programs
 *   -h, --help            usage on stdout, exit 0
 * and may add its own. Unknown options print the usage to stderr and give exit
 * code 2. Typical use:
 *
 *   struct cli cli;
 *   int rc = cli_parse(&cli, argc, argv, NULL, usage);
 *   if (rc != CLI_CONTINUE)
 *           return rc;
 *   struct agent_config cfg;
 *   if (cli_agent_config(&cli, &cfg))   // prints "prog: file:line: ..." itself
 *           return 2;
 *   ... positional arguments are cli.args[0 .. cli.nargs) ...
 *
 * A command with options of its own passes a struct cli_extra: its short
 * option letters, long options and a callback called for each of them.
 */
#ifndef CAIRN_CLI_H
#define CAIRN_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"

#define CLI_CONTINUE (-1)
#define CLI_MAX_OVERRIDES 64

/* getopt values of the common long-only options; a command's own long-only
 * options should use values >= CLI_OPT_USER. */
enum {
	CLI_OPT_STATE_DIR = 0x1000,
	CLI_OPT_JSON,
	CLI_OPT_WIDE,
	CLI_OPT_SORT,
	CLI_OPT_USER = 0x1100,
};

struct cli {
	const char *prog;        /* "cairn-agent keygen", for messages */
	const char *config_path; /* -c, NULL when not given */
	const char *state_dir;   /* --state-dir, NULL when not given */
	const char *overrides[CLI_MAX_OVERRIDES];
	size_t noverrides;
	bool json;
	bool wide;               /* --wide: tables not cut to fit 100 columns */
	const char *sort;        /* --sort COLUMN: table rows ordered by that column */
	char **args; /* positional arguments, after the command name */
	int nargs;
	char config_used[4096]; /* the file actually read ("" = defaults only) */
	char prog_buf[128];
};

struct cli_extra {
	const char *shortopts;         /* e.g. "n:v", or NULL */
	const struct option *longopts; /* terminated by a zero entry, or NULL */
	/* Called for each of the command's own options; return 0, or -1 after
	 * printing why the option is wrong (exit code 2 follows). */
	int (*handle)(int opt, const char *arg, void *ctx);
	void *ctx;
};

/* Parses argv (argv[0] is the command name, e.g. "keygen"). prog_name is the
 * program ("cairn-agent"). usage prints the command's usage to f; it is called
 * with stdout for --help and stderr for errors. Returns CLI_CONTINUE, or the
 * exit code to return at once: 0 after --help, 2 after a usage error. */
int cli_parse(struct cli *cli, const char *prog_name, int argc, char *argv[],
	      const struct cli_extra *extra, void (*usage)(FILE *f));

/* The lines describing the common options, for usage texts. */
void cli_usage_common(FILE *f);

/* Defaults, then the config file (-c FILE, or the default path if it exists;
 * a default file this user may not read is skipped with a warning when
 * --state-dir is given), then -o overrides in order, then --state-dir, then
 * validation; then log_level takes effect (log_set_level). On error
 * prints "prog: message" to stderr and returns a negative errno; commands exit
 * 2 then. */
int cli_agent_config(struct cli *cli, struct agent_config *cfg);
int cli_collector_config(struct cli *cli, struct collector_config *cfg);

/* Same as above without the final validation (check-config validates itself
 * and reports every error). report is called for each error, as in
 * config_*_load_report; returns the number of errors or a negative errno. */
int cli_agent_config_report(struct cli *cli, struct agent_config *cfg, config_report_fn report,
			    void *arg);
int cli_collector_config_report(struct cli *cli, struct collector_config *cfg,
				config_report_fn report, void *arg);

/* The -q, --quiet option of the key commands, as a struct cli_extra that sets
 * *quiet. */
struct cli_extra cli_quiet_option(bool *quiet);

/* Loads the key at path, or creates it (mode 0600) and gives it to the owner of
 * its directory (key_owner_adopt). Returns 0, or prints "prog: why" to stderr
 * and returns exit code 1; kp holds no secret then. */
int cli_key_load_or_create(const struct cli *cli, const char *path, struct keypair *kp,
			   bool *created);

/* After a usage error's one line ("prog: unknown option '--x'"): where the
 * options are, instead of the whole help text. */
void cli_try_help(const char *prog);

#endif
