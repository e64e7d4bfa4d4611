#include "checkconf.h"

#include <stdio.h>

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

/* Loads and validates; returns the number of errors or a negative errno. */
static int check(const struct checkconf_program *p, struct cli *cli, struct check_state *st)
{
	int n = p->load(cli, p->cfg, report, st);
	if (n != 0)
		return n;
	struct errbuf eb;
	if (p->validate(p->cfg, &eb)) {
		char msg[700];
		snprintf(msg, sizeof(msg), "%.180s%s%s", cli->config_used,
			 cli->config_used[0] ? ": " : "", eb.msg);
		report(msg, st);
		return 1;
	}
	return 0;
}

int checkconf_main(const struct checkconf_program *p, int argc, char *argv[])
{
	struct check_state st = { 0 };
	static const struct option longopts[] = { { "dump", no_argument, NULL, CLI_OPT_USER },
						  { 0 } };
	struct cli_extra extra = { NULL, longopts, dump_option, &st };
	struct cli cli;
	int rc = cli_parse(&cli, p->prog_name, argc, argv, &extra, p->usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs == 1 && !cli.config_path) {
		cli.config_path = cli.args[0]; /* check-config FILE */
	} else if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		p->usage(stderr);
		return 2;
	}
	st.prog = cli.prog;
	if (cli.json)
		st.errors = json_array();

	int n = check(p, &cli, &st);
	json_t *warnings = p->warnings ? json_array() : NULL;
	if (n == 0 && warnings)
		p->warnings(&cli, p->cfg, warnings);
	const char *file = cli.config_used[0] ? cli.config_used : "(defaults)";
	if (cli.json) {
		json_t *o = json_pack("{s:s, s:b, s:o}", "file", file, "ok", n == 0, "errors",
				      st.errors);
		if (warnings)
			json_object_set_new(o, "warnings", warnings);
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
		return n == 0 ? 0 : 2;
	}
	if (warnings) {
		size_t i;
		json_t *w;
		json_array_foreach(warnings, i, w)
			fprintf(stderr, "%s: warning: %s\n", cli.prog, json_string_value(w));
		json_decref(warnings);
	}
	if (n != 0) {
		if (n > 0)
			fprintf(stderr, "%s: %d error%s in %s\n", cli.prog, n, n == 1 ? "" : "s",
				file);
		return 2;
	}
	if (st.dump) {
		p->dump(p->cfg, stdout);
		return 0;
	}
	printf("%s: OK\n", file);
	p->summary(p->cfg);
	return 0;
}
