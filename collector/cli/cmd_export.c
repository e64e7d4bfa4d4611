/* cairn-collector export FORMAT [-o PATH]: mhub-csv, ads-csv DIR, json, dot
 * (collector/export/export.c, docs/exports.md). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "estate.h"
#include "docs.h"
#include "export.h"
#include "format.h"
#include "graphfmt.h"
#include "web_html.h"
#include "planctx.h"
#include "store.h"

static void export_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector export mhub-csv [-o FILE]   (default cairn-mhub-import.csv)\n"
		   "       cairn-collector export ads-csv DIR\n"
		   "       cairn-collector export json [-o FILE]       (default: standard output)\n"
		   "       cairn-collector export dot [--level host|app] [--with-infra] [-o FILE]\n"
		   "       cairn-collector export html [--app A] -o FILE\n"
		   "       cairn-collector export graphml|cytoscape|edges-csv [--level host|service|app]\n"
		   "                             [--app A] [--with-infra] [-o FILE]\n\n"
		   "mhub-csv: AWS Migration Hub import template, one row per host, split into files of\n"
		   "at most 25,000 rows and 10 MB (FILE-1.csv, FILE-2.csv ...) when needed.\n"
		   "ads-csv: AWS Application Discovery agent export files (osInfo, networkInterface,\n"
		   "process, sourceProcessConnection, destinationProcessConnection, systemPerformance).\n"
		   "json: the whole inventory and plan (schema in docs/exports.md). dot: the map\n"
		   "(one cluster per application; --level app: applications as nodes).\n"
		   "graphml (Gephi, yEd), cytoscape (Cytoscape.js JSON), edges-csv (one row per edge):\n"
		   "the map at host (default), service or application level, --app: one application\n"
		   "and what it talks to. dot and the graph formats leave shared infrastructure out\n"
		   "unless --with-infra. html: the console's map, applications, readiness, cost and\n"
		   "waves in one file that opens from disk without a server (d3 and data inlined).\n"
		   "-o PATH (a value without '=') names the output; -o key=value stays a config override.\n\n");
	cli_usage_common(f);
	planctx_usage_options(f);
}

struct loaded {
	struct estate es;
	struct read_statuses statuses;
};

static void loaded_free(struct loaded *l)
{
	read_statuses_free(&l->statuses);
	estate_free(&l->es);
}

static int load(struct planctx *p, struct loaded *l)
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
	if (!rc)
		rc = read_statuses(&t, &l->statuses, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		loaded_free(l);
		return 1;
	}
	/* --tag: the hosts planctx_snapshot kept */
	size_t kept = 0;
	struct snapshot_names ha = { 0 };
	if (p->tagf.n && snapshot_host_apps_build(p->snap, &ha)) {
		fprintf(stderr, "%s: out of memory\n", p->cli.prog);
		loaded_free(l);
		return 1;
	}
	for (size_t i = 0; p->tagf.n && i < l->es.n; i++) {
		struct estate_host *h = &l->es.hosts[i];
		if (tags_filter_host(&p->tagf, &p->tags, h->id, snapshot_host_apps_get(&ha, h->id)))
			l->es.hosts[kept++] = *h;
		else
			estate_host_free(h);
	}
	if (p->tagf.n)
		l->es.n = kept;
	snapshot_names_free(&ha);
	return 0;
}

/* ads-csv reads each host's perf windows and edges while it writes the
 * host's rows (export_series), in a read transaction of its own, and shows
 * its progress on a terminal. With more than one CPU a reader thread reads
 * the next host's series (into the other of two slots) while this host's
 * rows are written; only that thread uses the transaction meanwhile. */
struct slot {
	struct read_perf perf;
	struct read_edges edges;
	int rc;
	struct errbuf eb;
};

struct stream {
	struct read_txn t;
	const struct estate *es;
	int64_t since;
	struct slot slot[2];
	bool progress;
	uint64_t rows;
	bool threaded;
	pthread_t tid;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	size_t loaded;   /* hosts [0, loaded) read (or failed) */
	size_t released; /* hosts [0, released) written: their slots are free */
	bool quit;
};

static void stream_read(struct stream *s, size_t host)
{
	struct slot *sl = &s->slot[host % 2];
	const uint8_t *id = s->es->hosts[host].raw_id;
	sl->rc = read_perf_series(&s->t, id, s->since, s->es->now_ms, &sl->perf, &sl->eb);
	if (!sl->rc)
		sl->rc = read_edge_days(&s->t, id, s->since, 0, &sl->edges, &sl->eb);
}

static void *stream_reader(void *arg)
{
	struct stream *s = arg;
	for (size_t i = 0; i < s->es->n; i++) {
		pthread_mutex_lock(&s->lock);
		while (i >= s->released + 2 && !s->quit)
			pthread_cond_wait(&s->changed, &s->lock);
		bool quit = s->quit;
		pthread_mutex_unlock(&s->lock);
		if (quit)
			break;
		stream_read(s, i);
		pthread_mutex_lock(&s->lock);
		s->loaded = i + 1;
		pthread_cond_broadcast(&s->changed);
		pthread_mutex_unlock(&s->lock);
		if (s->slot[i % 2].rc)
			break;
	}
	return NULL;
}

static void stream_start(struct stream *s)
{
	if (s->es->n < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->changed, NULL);
	s->threaded = !pthread_create(&s->tid, NULL, stream_reader, s);
	if (!s->threaded) {
		pthread_cond_destroy(&s->changed);
		pthread_mutex_destroy(&s->lock);
	}
}

static void stream_stop(struct stream *s)
{
	if (s->threaded) {
		pthread_mutex_lock(&s->lock);
		s->quit = true;
		pthread_cond_broadcast(&s->changed);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->tid, NULL);
		pthread_cond_destroy(&s->changed);
		pthread_mutex_destroy(&s->lock);
		s->threaded = false;
	}
	for (int i = 0; i < 2; i++) {
		read_perf_free(&s->slot[i].perf);
		read_edges_free(&s->slot[i].edges);
	}
}

static int stream_load(void *ctx, size_t host, Cairn__PerfWindow ***windows, size_t *nwindows,
		       Cairn__Store__EdgeDay ***edges, size_t *nedges, struct errbuf *eb)
{
	struct stream *s = ctx;
	if (s->threaded) {
		pthread_mutex_lock(&s->lock);
		while (s->loaded <= host)
			pthread_cond_wait(&s->changed, &s->lock);
		pthread_mutex_unlock(&s->lock);
	} else {
		stream_read(s, host);
	}
	struct slot *sl = &s->slot[host % 2];
	if (sl->rc)
		return errbuf_set(eb, sl->rc, "%s", sl->eb.msg);
	*windows = sl->perf.v;
	*nwindows = sl->perf.n;
	*edges = sl->edges.v;
	*nedges = sl->edges.n;
	s->rows += sl->perf.n + sl->edges.n;
	if (s->progress && (host % 50 == 0 || host + 1 == s->es->n))
		fprintf(stderr, "\rexport: host %zu of %zu, %llu rows", host + 1, s->es->n,
			(unsigned long long)s->rows);
	return 0;
}

/* The host's rows are written: its slot takes the host after next. */
static void stream_release(void *ctx, size_t host)
{
	struct stream *s = ctx;
	if (!s->threaded)
		return;
	pthread_mutex_lock(&s->lock);
	s->released = host + 1;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
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

/* graphml, cytoscape, edges-csv, and dot at application level: written from
 * the deps document (docs.h), the same nodes and edges as deps --json. */
static int export_graph(struct planctx *p, enum graphfmt_kind kind, enum docs_level level)
{
	struct errbuf eb = { { 0 } };
	const char *app_id = NULL;
	if (p->app) {
		size_t ai;
		if (read_find_app(p->snap, p->app, &ai, &eb)) {
			fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
			return 1;
		}
		app_id = p->snap->apps[ai]->id;
	}
	struct docs_deps_sel sel;
	if (docs_deps_select(p->snap, level, NULL, app_id, &sel)) {
		fprintf(stderr, "%s: export: out of memory\n", p->cli.prog);
		return 1;
	}
	json_t *doc = docs_deps(p->snap, &sel);
	docs_deps_sel_free(&sel);
	FILE *f = stdout;
	int rc = 0;
	if (!doc)
		rc = errbuf_set(&eb, -ENOMEM, "export: out of memory");
	else if (p->output && !(f = fopen(p->output, "w")))
		rc = errbuf_set(&eb, -errno, "%s: cannot create: %s", p->output, strerror(errno));
	if (!rc) {
		rc = graphfmt_write(f, kind, doc, p->with_infra, &eb);
		if (f != stdout && fclose(f) && !rc)
			rc = errbuf_set(&eb, -EIO, "%s: write failed", p->output);
		if (!rc && p->output)
			fprintf(stderr, "wrote %s\n", p->output);
	}
	json_decref(doc);
	if (rc)
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
	return rc ? 1 : 0;
}

/* export html: the console in one file (collector/web/web_html.h). */
static int export_html(struct planctx *p)
{
	struct errbuf eb = { { 0 } };
	const char *app_id = NULL;
	size_t ai;
	if (p->app) {
		if (read_find_app(p->snap, p->app, &ai, &eb)) {
			fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
			return 1;
		}
		app_id = p->snap->apps[ai]->id;
	}
	FILE *f = fopen(p->output, "w");
	if (!f) {
		fprintf(stderr, "%s: %s: cannot create: %s\n", p->cli.prog, p->output, strerror(errno));
		return 1;
	}
	struct read_txn t;
	int rc = read_begin(&p->rd, &t, &eb);
	if (!rc)
		rc = web_html_write(f, &t, p->snap, app_id, &eb);
	read_end(&t);
	if (fclose(f) && !rc)
		rc = errbuf_set(&eb, -EIO, "%s: write failed", p->output);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	fprintf(stderr, "wrote %s\n", p->output);
	return 0;
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
	enum graphfmt_kind gk;
	enum docs_level level = DOCS_LEVEL_HOST;
	bool graph = fmt && !graphfmt_parse(fmt, &gk);
	if (p.level && docs_level_parse(p.level, &level)) {
		fprintf(stderr, "%s: --level: '%s' is not host, service or app\n", p.cli.prog, p.level);
		free(args);
		return 2;
	}
	if (graph && gk == GRAPHFMT_DOT && level == DOCS_LEVEL_SERVICE) {
		fprintf(stderr, "%s: export dot draws the host or the application level\n", p.cli.prog);
		free(args);
		return 2;
	}
	/* dot at host level without --app stays dot.c's clustered map */
	if (graph && gk == GRAPHFMT_DOT && level == DOCS_LEVEL_HOST && !p.app)
		graph = false;
	if (fmt && !strcmp(fmt, "html")) {
		if (!p.output || p.cli.nargs > 1) {
			fprintf(stderr, "%s: export html needs -o FILE\n", p.cli.prog);
			free(args);
			return 2;
		}
		p.app_filters = true;
		if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
			planctx_close(&p);
			free(args);
			return rc;
		}
		rc = export_html(&p);
		planctx_close(&p);
		free(args);
		return rc;
	}
	if (graph) {
		if (p.cli.nargs > 1) {
			fprintf(stderr, "%s: unexpected argument '%s'\n", p.cli.prog, p.cli.args[1]);
			free(args);
			return 2;
		}
		p.app_filters = true;
		if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
			planctx_close(&p);
			free(args);
			return rc;
		}
		rc = export_graph(&p, gk, level);
		planctx_close(&p);
		free(args);
		return rc;
	}
	if (!fmt || (strcmp(fmt, "mhub-csv") && !ads && strcmp(fmt, "json") && strcmp(fmt, "dot")) ||
	    p.cli.nargs > (ads ? 2 : 1) || (ads && p.cli.nargs < 2 && !p.output)) {
		fprintf(stderr, "%s: expected a format: mhub-csv, ads-csv DIR, json, dot, graphml, "
				"cytoscape or edges-csv\n", p.cli.prog);
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
	if ((rc = load(&p, &l))) {
		planctx_close(&p);
		free(args);
		return rc;
	}
	struct export_input in = {
		.snap = p.snap, .estate = &l.es, .statuses = l.statuses.v,
		.nstatuses = l.statuses.n, .generated_ms = p.opt.now_ms,
		.without_infra = !p.with_infra,
		.progress = format_progress, .progress_arg = (void *)p.cli.prog,
	};
	struct errbuf eb = { { 0 } };
	/* without --since the files hold everything stored (retention bounds it) */
	struct stream st = { .es = &l.es, .since = p.opt.since_ms > 0 ? l.es.since_ms : 0,
			     .progress = isatty(STDERR_FILENO) };
	struct export_series series = { stream_load, stream_release, &st };
	bool streaming = false;
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
		rc = read_begin(&p.rd, &st.t, &eb);
		if (!rc) {
			streaming = true;
			in.series = &series;
			stream_start(&st);
			rc = export_ads_csv(&in, dir, &eb);
			stream_stop(&st);
			read_end(&st.t);
		}
		if (st.progress && streaming)
			fputc('\n', stderr);
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
	loaded_free(&l);
	planctx_close(&p);
	free(args);
	return rc ? 1 : 0;
}
