/* cairn-collector import mhub-csv FILE | import rvtools DIR: servers without
 * agents (collector/read/import.h, docs/import.md). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "format.h"
#include "import.h"
#include "read.h"

static void import_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector import mhub-csv FILE [--dry-run] [--json]\n"
		   "       cairn-collector import rvtools DIR [--dry-run] [--json]\n\n"
		   "Imports servers that run no agent: the Migration Hub import template (the\n"
		   "columns `export mhub-csv` writes; any order, headers without case) or an\n"
		   "RVTools CSV export of a vCenter (vInfo.csv and vCPU, vMemory, vDisk,\n"
		   "vNetwork .csv, with or without the RVTools_tab prefix). A row is the same\n"
		   "server as an agent host when its SMBIOS id, a MAC or hostname+IP match:\n"
		   "the agent's facts win and the row fills the gaps. Re-importing a file\n"
		   "changes nothing; rejected rows are listed as FILE:LINE: column: reason and\n"
		   "the rest is imported (exit code 4 when any row was rejected).\n\n"
		   "  --dry-run             show what would change, write nothing\n"
		   "  -v, --verbose         list every row, not only merges and rejections\n");
	cli_usage_common(f);
}

struct import_opts {
	bool dry_run, verbose;
};

enum { OPT_DRY_RUN = CLI_OPT_USER };

static int import_option(int opt, const char *arg, void *ctx)
{
	(void)arg;
	struct import_opts *o = ctx;
	if (opt == OPT_DRY_RUN)
		o->dry_run = true;
	else
		o->verbose = true;
	return 0;
}

static json_t *strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static void print_json(const struct import_file *f, const struct import_result *res, bool dry)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < res->n; i++) {
		const struct import_change *c = &res->v[i];
		if (c->what == IMPORT_REJECTED)
			continue;
		json_array_append_new(rows, json_pack("{s:i, s:s, s:s, s:s, s:b, s:s, s:s, s:i}", "line",
						      (int)c->line, "outcome", import_outcome_name(c->what),
						      "name", c->name, "host", c->host_hex, "merged",
						      c->merged, "agent_host", c->agent_name, "matched_by",
						      c->matched_by, "folded", (int)c->folded));
	}
	json_t *errors = strings_json(f->errors, f->nerrors);
	json_t *conflicts = strings_json(res->conflicts, res->nconflicts);
	json_array_extend(errors, conflicts);
	json_decref(conflicts);
	const size_t *n = res->count;
	format_print_json(json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
				    "file", f->path, "format", f->format, "dry_run", dry, "written",
				    res->written, "rows", (json_int_t)f->lines, "new", (json_int_t)n[IMPORT_NEW],
				    "updated", (json_int_t)n[IMPORT_UPDATED], "unchanged",
				    (json_int_t)n[IMPORT_UNCHANGED], "merged", (json_int_t)n[IMPORT_MERGED],
				    "rejected", (json_int_t)n[IMPORT_REJECTED], "facts_gen",
				    (json_int_t)res->facts_gen, "errors", errors, "notes",
				    strings_json(f->notes, f->nnotes), "changes", rows));
}

static void print_text(const struct import_file *f, const struct import_result *res, bool dry,
		       bool verbose)
{
	for (size_t i = 0; i < f->nnotes; i++)
		printf("note: %s\n", f->notes[i]);
	for (size_t i = 0; i < res->n; i++) {
		const struct import_change *c = &res->v[i];
		if (c->what == IMPORT_REJECTED)
			continue;
		if (c->merged && (c->what != IMPORT_UNCHANGED || verbose))
			printf("%s:%u: %s = agent host %s %.12s (by %s)%s%s\n", f->rows_file, c->line, c->name,
			       c->agent_name, c->host_hex, c->matched_by,
			       c->what == IMPORT_MERGED ? "" : c->what == IMPORT_UPDATED ? ": updated" : "",
			       c->folded ? ", its imported-only host folded in" : "");
		else if (verbose)
			printf("%s:%u: %s %s %.12s\n", f->rows_file, c->line, c->name,
			       import_outcome_name(c->what), c->host_hex);
	}
	for (size_t i = 0; i < f->nerrors; i++)
		fprintf(stderr, "%s\n", f->errors[i]);
	for (size_t i = 0; i < res->nconflicts; i++)
		fprintf(stderr, "%s\n", res->conflicts[i]);
	const size_t *n = res->count;
	printf("%s%s: %zu rows: %zu new, %zu updated, %zu unchanged, %zu merged, %zu rejected%s\n",
	       dry ? "dry run: " : "", f->path, f->lines, n[IMPORT_NEW], n[IMPORT_UPDATED],
	       n[IMPORT_UNCHANGED], n[IMPORT_MERGED], n[IMPORT_REJECTED],
	       dry ? " (nothing written)" : res->written ? "" : " (nothing to write)");
}

int import_main(int argc, char *argv[])
{
	struct import_opts o = { 0 };
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "verbose", no_argument, NULL, 'v' },
		{ 0 },
	};
	struct cli_extra extra = { "v", longopts, import_option, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, import_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	bool mhub = cli.nargs == 2 && !strcmp(cli.args[0], "mhub-csv");
	bool rv = cli.nargs == 2 && !strcmp(cli.args[0], "rvtools");
	if (!mhub && !rv) {
		fprintf(stderr, "%s: expected 'import mhub-csv FILE' or 'import rvtools DIR'\n", cli.prog);
		cli_try_help(cli.prog);
		return CMD_EXIT_USAGE;
	}
	struct errbuf eb = { { 0 } };
	struct import_file f;
	rc = mhub ? import_load_mhub(cli.args[1], &f, &eb) : import_load_rvtools(cli.args[1], &f, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		import_file_free(&f);
		return rc == -ENOENT ? CMD_EXIT_NOTFOUND : rc == -EINVAL ? CMD_EXIT_CHECK : CMD_EXIT_FAIL;
	}
	struct read_ctx r;
	if ((rc = cmd_open_store(&r, &cli, !o.dry_run))) {
		import_file_free(&f);
		return rc;
	}
	struct import_result res;
	rc = import_apply(&r, &f, o.dry_run, os_user_name(), time_now_ms(), &res, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		rc = CMD_EXIT_FAIL;
	} else {
		if (cli.json)
			print_json(&f, &res, o.dry_run);
		else
			print_text(&f, &res, o.dry_run, o.verbose);
		rc = res.count[IMPORT_REJECTED] ? CMD_EXIT_CHECK : CMD_EXIT_OK;
	}
	import_result_free(&res);
	read_close(&r);
	import_file_free(&f);
	return rc;
}
