/* cairn-collector export FORMAT [-o PATH]: mhub-csv, ads-csv DIR, json, dot
 * (collector/export/export.c, docs/exports.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "estate.h"
#include "export.h"
#include "format.h"
#include "planctx.h"
#include "store.h"

static void export_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector export mhub-csv [-o FILE]   (default cairn-mhub-import.csv)\n"
		   "       cairn-collector export ads-csv DIR\n"
		   "       cairn-collector export json [-o FILE]       (default: standard output)\n"
		   "       cairn-collector export dot [-o FILE]        (default: standard output)\n\n"
		   "mhub-csv: AWS Migration Hub import template, one row per host, split into files of\n"
		   "at most 25,000 rows and 10 MB (FILE-1.csv, FILE-2.csv ...) when needed.\n"
		   "ads-csv: AWS Application Discovery agent export files (osInfo, networkInterface,\n"
		   "process, sourceProcessConnection, destinationProcessConnection, systemPerformance).\n"
		   "json: the whole inventory and plan (schema in docs/exports.md). dot: the map.\n"
		   "-o PATH (a value without '=') names the output; -o key=value stays a config override.\n\n");
	cli_usage_common(f);
	planctx_usage_options(f);
}

struct loaded {
	struct estate es;
	struct read_perf *windows;  /* per host of es, with series */
	struct read_edges *edges;
	struct read_statuses statuses;
};

static void loaded_free(struct loaded *l)
{
	for (size_t i = 0; i < l->es.n; i++) {
		if (l->windows)
			read_perf_free(&l->windows[i]);
		if (l->edges)
			read_edges_free(&l->edges[i]);
	}
	free(l->windows);
	free(l->edges);
	read_statuses_free(&l->statuses);
	estate_free(&l->es);
}

/* series: also every host's perf windows and edges (ads-csv needs them) */
static int load(struct planctx *p, struct loaded *l, bool series)
{
	memset(l, 0, sizeof(*l));
	struct read_txn t;
	struct errbuf eb = { { 0 } };
	int rc = read_begin(&p->rd, &t, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	struct estate_opts eo;
	plan_estate_opts(&eo, p->opt.since_ms, p->opt.now_ms, p->opt.percentile);
	rc = estate_load(t.txn, t.db, &eo, &l->es, &eb);
	if (!rc) {
		size_t n = l->es.n ? l->es.n : 1;
		l->windows = calloc(n, sizeof(*l->windows));
		l->edges = calloc(n, sizeof(*l->edges));
		if (!l->windows || !l->edges)
			rc = errbuf_set(&eb, -ENOMEM, "export: out of memory");
		/* without --since the files hold everything stored (retention bounds it) */
		int64_t since = p->opt.since_ms > 0 ? l->es.since_ms : 0;
		for (size_t i = 0; series && !rc && i < l->es.n; i++) {
			const uint8_t *id = l->es.hosts[i].raw_id;
			rc = read_perf_series(&t, id, since, l->es.now_ms, &l->windows[i], &eb);
			if (!rc)
				rc = read_edge_days(&t, id, since, 0, &l->edges[i], &eb);
		}
		if (!rc)
			rc = read_statuses(&t, &l->statuses, &eb);
	}
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		loaded_free(l);
		return 1;
	}
	return 0;
}

/* The export module's input arrays over the loaded views. */
struct columns {
	Cairn__PerfWindow ***windows;
	size_t *nwindows;
	Cairn__Store__EdgeDay ***edges;
	size_t *nedges;
};

static int columns_of(const struct loaded *l, struct columns *c)
{
	size_t n = l->es.n ? l->es.n : 1;
	c->windows = calloc(n, sizeof(*c->windows));
	c->nwindows = calloc(n, sizeof(size_t));
	c->edges = calloc(n, sizeof(*c->edges));
	c->nedges = calloc(n, sizeof(size_t));
	if (!c->windows || !c->nwindows || !c->edges || !c->nedges)
		return -ENOMEM;
	for (size_t i = 0; i < l->es.n; i++) {
		c->windows[i] = l->windows[i].v;
		c->nwindows[i] = l->windows[i].n;
		c->edges[i] = l->edges[i].v;
		c->nedges[i] = l->edges[i].n;
	}
	return 0;
}

static void columns_free(struct columns *c)
{
	free(c->windows);
	free(c->nwindows);
	free(c->edges);
	free(c->nedges);
}

/* "-o PATH" with no '=' in PATH means the output file; turn it into
 * --output so that the common -o KEY=VALUE parsing does not see it. */
static char **rewrite_args(int argc, char *argv[])
{
	char **v = calloc((size_t)argc + 1, sizeof(char *));
	if (!v)
		return NULL;
	for (int i = 0; i < argc; i++) {
		v[i] = argv[i];
		if (!strcmp(argv[i], "-o") && i + 1 < argc && !strchr(argv[i + 1], '='))
			v[i] = "--output";
	}
	return v;
}

int export_main(int argc, char *argv[])
{
	char **args = rewrite_args(argc, argv);
	if (!args)
		return 1;
	struct planctx p;
	int rc = planctx_parse(&p, argc, args, export_usage);
	if (rc != CLI_CONTINUE) {
		free(args);
		return rc;
	}
	const char *fmt = p.cli.nargs >= 1 ? p.cli.args[0] : NULL;
	bool ads = fmt && !strcmp(fmt, "ads-csv");
	if (!fmt || (strcmp(fmt, "mhub-csv") && !ads && strcmp(fmt, "json") && strcmp(fmt, "dot")) ||
	    p.cli.nargs > (ads ? 2 : 1) || (ads && p.cli.nargs < 2 && !p.output)) {
		fprintf(stderr, "%s: expected a format: mhub-csv, ads-csv DIR, json or dot\n", p.cli.prog);
		cli_try_help(p.cli.prog);
		free(args);
		return 2;
	}
	if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
		planctx_close(&p);
		free(args);
		return rc;
	}
	struct loaded l;
	if ((rc = load(&p, &l, ads))) {
		planctx_close(&p);
		free(args);
		return rc;
	}
	struct columns cols = { 0 };
	if (columns_of(&l, &cols)) {
		fprintf(stderr, "%s: export: out of memory\n", p.cli.prog);
		columns_free(&cols);
		loaded_free(&l);
		planctx_close(&p);
		free(args);
		return 1;
	}
	struct export_input in = {
		.snap = p.snap, .estate = &l.es, .windows = ads ? cols.windows : NULL,
		.nwindows = cols.nwindows, .edges = ads ? cols.edges : NULL, .nedges = cols.nedges,
		.statuses = l.statuses.v, .nstatuses = l.statuses.n, .generated_ms = p.opt.now_ms,
		.progress = format_progress, .progress_arg = (void *)p.cli.prog,
	};
	struct errbuf eb = { { 0 } };
	if (!strcmp(fmt, "mhub-csv")) {
		char **files = NULL;
		size_t nfiles = 0;
		const char *path = p.output ? p.output : "cairn-mhub-import.csv";
		rc = export_mhub_csv(&in, path, 0, 0, &files, &nfiles, &eb);
		for (size_t i = 0; !rc && i < nfiles; i++)
			fprintf(stderr, "wrote %s\n", files[i]);
		export_files_free(files, nfiles);
	} else if (ads) {
		const char *dir = p.cli.nargs == 2 ? p.cli.args[1] : p.output;
		rc = export_ads_csv(&in, dir, &eb);
		if (!rc)
			fprintf(stderr, "wrote %s/{osInfo,networkInterface,process,sourceProcessConnection,"
				"destinationProcessConnection,systemPerformance}.csv\n", dir);
	} else {
		FILE *f = stdout;
		if (p.output && !(f = fopen(p.output, "w"))) {
			rc = errbuf_set(&eb, -errno, "%s: cannot create: %s", p.output, strerror(errno));
		} else {
			rc = !strcmp(fmt, "json") ? export_json(&in, f, &eb) : export_dot(&in, f, &eb);
			if (f != stdout && fclose(f) && !rc)
				rc = errbuf_set(&eb, -EIO, "%s: write failed", p.output);
			if (!rc && p.output)
				fprintf(stderr, "wrote %s\n", p.output);
		}
	}
	if (rc)
		fprintf(stderr, "%s: %s\n", p.cli.prog, eb.msg);
	columns_free(&cols);
	loaded_free(&l);
	planctx_close(&p);
	free(args);
	return rc ? 1 : 0;
}
