#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "key_owner.h"
#include "keys.h"
#include "log.h"

#define COMMON_SHORT "c:o:h"

static const struct option common_long[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "option", required_argument, NULL, 'o' },
	{ "state-dir", required_argument, NULL, CLI_OPT_STATE_DIR },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "wide", no_argument, NULL, CLI_OPT_WIDE },
	{ "sort", required_argument, NULL, CLI_OPT_SORT },
	{ "help", no_argument, NULL, 'h' },
};

void cli_usage_common(FILE *f)
{
	fprintf(f, "\nCommon options:\n"
		   "  -c, --config FILE     configuration file\n"
		   "      --state-dir DIR   state directory (overrides state_dir)\n"
		   "  -o, --option KEY=VAL  set a configuration key (repeatable)\n"
		   "      --json            machine-readable output\n"
		   "      --wide            tables with every cell whole (default: fit 100 columns)\n"
		   "      --sort COLUMN     order table rows by COLUMN (cairn-collector; numbers by value)\n"
		   "  -h, --help            show this help\n");
}

int cli_parse(struct cli *cli, const char *prog_name, int argc, char *argv[],
	      const struct cli_extra *extra, void (*usage)(FILE *f))
{
	memset(cli, 0, sizeof(*cli));
	snprintf(cli->prog_buf, sizeof(cli->prog_buf), "%s %s", prog_name, argc > 0 ? argv[0] : "");
	cli->prog = cli->prog_buf;

	/* No leading '+': GNU getopt permutes, so options may follow
	 * positionals ("key show --json"). */
	/* Leading ':' so a missing argument is told apart (':') from an unknown
	 * option ('?'), and getopt prints nothing itself: our messages name the
	 * whole command. */
	char shortopts[64] = ":" COMMON_SHORT;
	if (extra && extra->shortopts)
		strncat(shortopts, extra->shortopts, sizeof(shortopts) - strlen(shortopts) - 1);

	size_t nextra = 0;
	if (extra && extra->longopts)
		while (extra->longopts[nextra].name)
			nextra++;
	size_t ncommon = sizeof(common_long) / sizeof(common_long[0]);
	struct option *longopts = calloc(ncommon + nextra + 1, sizeof(*longopts));
	if (!longopts) {
		fprintf(stderr, "%s: out of memory\n", cli->prog);
		return 1;
	}
	memcpy(longopts, common_long, sizeof(common_long));
	if (nextra)
		memcpy(longopts + ncommon, extra->longopts, nextra * sizeof(*longopts));

	int rc = CLI_CONTINUE;
	optind = 0; /* full re-initialisation (glibc), commands may be parsed twice */
	opterr = 0;
	for (;;) {
		int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'c':
			cli->config_path = optarg;
			break;
		case 'o':
			if (cli->noverrides == CLI_MAX_OVERRIDES) {
				fprintf(stderr, "%s: too many -o options (at most %d)\n", cli->prog,
					CLI_MAX_OVERRIDES);
				rc = 2;
				goto out;
			}
			cli->overrides[cli->noverrides++] = optarg;
			break;
		case CLI_OPT_STATE_DIR:
			cli->state_dir = optarg;
			break;
		case CLI_OPT_JSON:
			cli->json = true;
			break;
		case CLI_OPT_WIDE:
			cli->wide = true;
			break;
		case CLI_OPT_SORT:
			if (strcmp(prog_name, "cairn-collector")) {
				/* the agent prints no tables to order: refuse, not ignore */
				fprintf(stderr, "%s: unknown option '--sort'\n", cli->prog);
				cli_try_help(cli->prog);
				rc = 2;
				goto out;
			}
			cli->sort = optarg;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto out;
		case '?':
			if (optopt && optopt < 0x100)
				fprintf(stderr, "%s: unknown option '-%c'\n", cli->prog, optopt);
			else
				fprintf(stderr, "%s: unknown option '%s'\n", cli->prog,
					argv[optind - 1]);
			cli_try_help(cli->prog);
			rc = 2;
			goto out;
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n", cli->prog,
				argv[optind - 1]);
			cli_try_help(cli->prog);
			rc = 2;
			goto out;
		default:
			if (extra && extra->handle && !extra->handle(opt, optarg, extra->ctx))
				break;
			/* the handler printed what was wrong with the value */
			cli_try_help(cli->prog);
			rc = 2;
			goto out;
		}
	}
	cli->args = argv + optind;
	cli->nargs = argc - optind;
out:
	free(longopts);
	return rc;
}

struct report_stderr {
	const char *prog;
};

static void report_to_stderr(const char *msg, void *arg)
{
	struct report_stderr *r = arg;
	fprintf(stderr, "%s: %s\n", r->prog, msg);
}

/* Which file to read: -c FILE (must exist), else the default path when it
 * exists, else none. */
static const char *config_file(struct cli *cli, const char *default_path)
{
	if (cli->config_path)
		return cli->config_path;
	if (access(default_path, F_OK) == 0)
		return default_path;
	return NULL;
}

typedef int (*load_fn)(void *cfg, const char *path, config_report_fn report, void *arg,
		       struct errbuf *eb);
typedef int (*set_fn)(void *cfg, const char *assignment, struct errbuf *eb);

static int cli_load(struct cli *cli, void *cfg, const char *default_path, load_fn load,
		    set_fn set, char *state_dir, size_t state_dir_size, config_report_fn report,
		    void *arg)
{
	struct errbuf eb;
	int errors = 0;
	const char *path = config_file(cli, default_path);
	cli->config_used[0] = '\0';
	if (path) {
		int n = load(cfg, path, report, arg, &eb);
		if (n == -EACCES && !cli->config_path && cli->state_dir) {
			/* The default file is for the service user; someone running a
			 * read command with --state-dir can do without it. */
			fprintf(stderr, "%s: warning: cannot read %s (permission denied); using "
					"built-in defaults with --state-dir %s\n",
				cli->prog, path, cli->state_dir);
			path = NULL;
			n = 0;
		} else if (n == -EACCES) {
			char msg[700];
			snprintf(msg, sizeof(msg), "%s (run as root or the service's group, or "
						   "pass -c FILE or --state-dir DIR)",
				 eb.msg);
			report(msg, arg);
			return n;
		} else if (n < 0) {
			char msg[600];
			snprintf(msg, sizeof(msg), "%s", eb.msg);
			report(msg, arg);
			return n;
		}
		errors += n;
		if (path)
			str_copy(cli->config_used, path, sizeof(cli->config_used));
	}
	for (size_t i = 0; i < cli->noverrides; i++) {
		if (set(cfg, cli->overrides[i], &eb)) {
			report(eb.msg, arg);
			errors++;
		}
	}
	if (cli->state_dir) {
		if (str_copy(state_dir, cli->state_dir, state_dir_size) >= state_dir_size) {
			report("--state-dir: path too long", arg);
			errors++;
		}
	}
	return errors;
}

static int load_agent(void *cfg, const char *path, config_report_fn report, void *arg,
		      struct errbuf *eb)
{
	return config_agent_load_report(cfg, path, report, arg, eb);
}

static int set_agent(void *cfg, const char *a, struct errbuf *eb)
{
	return config_agent_set(cfg, a, eb);
}

static int load_collector(void *cfg, const char *path, config_report_fn report, void *arg,
			  struct errbuf *eb)
{
	return config_collector_load_report(cfg, path, report, arg, eb);
}

static int set_collector(void *cfg, const char *a, struct errbuf *eb)
{
	return config_collector_set(cfg, a, eb);
}

int cli_agent_config_report(struct cli *cli, struct agent_config *cfg, config_report_fn report,
			    void *arg)
{
	config_agent_defaults(cfg);
	return cli_load(cli, cfg, AGENT_CONFIG_PATH, load_agent, set_agent, cfg->state_dir,
			sizeof(cfg->state_dir), report, arg);
}

int cli_collector_config_report(struct cli *cli, struct collector_config *cfg,
				config_report_fn report, void *arg)
{
	config_collector_defaults(cfg);
	return cli_load(cli, cfg, COLLECTOR_CONFIG_PATH, load_collector, set_collector,
			cfg->state_dir, sizeof(cfg->state_dir), report, arg);
}

static void apply_log_level(const char *name)
{
	enum log_level level;
	if (!log_level_parse(name, &level))
		log_set_level(level);
}

/* Reports the errors of loading (already done by report_to_stderr), then
 * validates: the tail both programs share. */
static int cli_finish(struct cli *cli, int nerrors, int (*validate)(const void *cfg, struct errbuf *eb),
		      const void *cfg, const char *log_level)
{
	if (nerrors < 0)
		return nerrors;
	if (nerrors > 0)
		return -EINVAL;
	struct errbuf eb;
	if (validate(cfg, &eb)) {
		fprintf(stderr, "%s: %s%s%s\n", cli->prog, cli->config_used,
			cli->config_used[0] ? ": " : "", eb.msg);
		return -EINVAL;
	}
	apply_log_level(log_level);
	return 0;
}

static int validate_agent(const void *cfg, struct errbuf *eb)
{
	return config_agent_validate(cfg, eb);
}

static int validate_collector(const void *cfg, struct errbuf *eb)
{
	return config_collector_validate(cfg, eb);
}

int cli_agent_config(struct cli *cli, struct agent_config *cfg)
{
	struct report_stderr r = { cli->prog };
	int n = cli_agent_config_report(cli, cfg, report_to_stderr, &r);
	return cli_finish(cli, n, validate_agent, cfg, cfg->log_level);
}

int cli_collector_config(struct cli *cli, struct collector_config *cfg)
{
	struct report_stderr r = { cli->prog };
	int n = cli_collector_config_report(cli, cfg, report_to_stderr, &r);
	return cli_finish(cli, n, validate_collector, cfg, cfg->log_level);
}

static int quiet_option(int opt, const char *arg, void *ctx)
{
	(void)arg;
	if (opt != 'q')
		return -1;
	*(bool *)ctx = true;
	return 0;
}

struct cli_extra cli_quiet_option(bool *quiet)
{
	static const struct option longopts[] = { { "quiet", no_argument, NULL, 'q' }, { 0 } };
	return (struct cli_extra){ "q", longopts, quiet_option, quiet };
}

int cli_key_load_or_create(const struct cli *cli, const char *path, struct keypair *kp,
			   bool *created)
{
	struct errbuf eb;
	int rc = keys_load_or_create(path, kp, created, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s%s\n", cli->prog, eb.msg,
			rc == -EACCES ? " (run as root or the service user, or pass --state-dir DIR)"
				      : "");
		return 1;
	}
	if (*created && key_owner_adopt(path, &eb)) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		keys_wipe(kp);
		return 1;
	}
	return 0;
}

void cli_try_help(const char *prog)
{
	fprintf(stderr, "Try '%s --help' for the options.\n", prog);
}
