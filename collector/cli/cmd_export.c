/* cairn-collector export FORMAT [-o PATH]: mhub-csv, ads-csv DIR, json, dot
 * (collector/export/export.c, docs/exports.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "estate.h"
#include "export.h"
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
	Cairn__PerfWindow ***windows;
	size_t *nwindows;
	Cairn__Store__EdgeDay ***edges;
	size_t *nedges;
	Cairn__Store__MigrationStatus **statuses;
	size_t nstatuses;
};

static void loaded_free(struct loaded *l)
{
	for (size_t i = 0; i < l->es.n; i++) {
		for (size_t k = 0; l->windows && k < l->nwindows[i]; k++)
			cairn__perf_window__free_unpacked(l->windows[i][k], NULL);
		if (l->windows)
			free(l->windows[i]);
		for (size_t k = 0; l->edges && k < l->nedges[i]; k++)
			cairn__store__edge_day__free_unpacked(l->edges[i][k], NULL);
		if (l->edges)
			free(l->edges[i]);
	}
	free(l->windows);
	free(l->nwindows);
	free(l->edges);
	free(l->nedges);
	for (size_t i = 0; i < l->nstatuses; i++)
		cairn__store__migration_status__free_unpacked(l->statuses[i], NULL);
	free(l->statuses);
	estate_free(&l->es);
}

static int push(void ***v, size_t *n, void *p)
{
	void **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = p;
	return 0;
}

/* Perf windows and edge-days of host h in [since, now). */
static int load_host_series(MDB_txn *txn, const struct db_env *db, const struct estate_host *h,
			    int64_t since, int64_t now, struct loaded *l, size_t idx)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, db->dbi[STORE_PERF], &cur);
	if (rc)
		return rc;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, h->raw_id, 32);
	db_key_u64(&k, (uint64_t)since);
	MDB_val key = db_key_val(&k), val;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size != 40 || memcmp(key.mv_data, h->raw_id, 32) ||
		    (int64_t)db_get_u64((const uint8_t *)key.mv_data + 32) >= now)
			break;
		Cairn__PerfWindow *w = cairn__perf_window__unpack(NULL, val.mv_size, val.mv_data);
		if (w && push((void ***)&l->windows[idx], &l->nwindows[idx], w)) {
			cairn__perf_window__free_unpacked(w, NULL);
			mdb_cursor_close(cur);
			return -ENOMEM;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND && rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, db->dbi[STORE_EDGES], &cur)))
		return rc;
	db_key_init(&k);
	db_key_bytes(&k, h->raw_id, 32);
	db_key_u32(&k, (uint32_t)(since / STORE_DAY_MS));
	key = db_key_val(&k);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (key.mv_size < 36 || memcmp(key.mv_data, h->raw_id, 32))
			break;
		Cairn__Store__EdgeDay *e = cairn__store__edge_day__unpack(NULL, val.mv_size, val.mv_data);
		if (e && push((void ***)&l->edges[idx], &l->nedges[idx], e)) {
			cairn__store__edge_day__free_unpacked(e, NULL);
			mdb_cursor_close(cur);
			return -ENOMEM;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || !rc ? 0 : rc;
}

static int load_statuses(MDB_txn *txn, const struct db_env *db, struct loaded *l)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, db->dbi[STORE_MIGRATION], &cur);
	if (rc)
		return rc;
	MDB_val key, val;
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		Cairn__Store__MigrationStatus *m =
			cairn__store__migration_status__unpack(NULL, val.mv_size, val.mv_data);
		if (m && push((void ***)&l->statuses, &l->nstatuses, m)) {
			cairn__store__migration_status__free_unpacked(m, NULL);
			rc = -ENOMEM;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* series: also every host's perf windows and edges (ads-csv needs them) */
static int load(struct planctx *p, struct loaded *l, bool series)
{
	memset(l, 0, sizeof(*l));
	MDB_txn *txn;
	struct errbuf eb = { { 0 } };
	int rc = db_read_begin(&p->db, &txn);
	if (rc) {
		fprintf(stderr, "%s: reading the store: %s\n", p->cli.prog, db_strerror(rc));
		return 1;
	}
	struct estate_opts eo;
	plan_estate_opts(&eo, p->opt.since_ms, p->opt.now_ms, p->opt.percentile);
	rc = estate_load(txn, &p->db, &eo, &l->es, &eb);
	if (!rc) {
		size_t n = l->es.n ? l->es.n : 1;
		l->windows = calloc(n, sizeof(*l->windows));
		l->nwindows = calloc(n, sizeof(size_t));
		l->edges = calloc(n, sizeof(*l->edges));
		l->nedges = calloc(n, sizeof(size_t));
		if (!l->windows || !l->nwindows || !l->edges || !l->nedges)
			rc = -ENOMEM;
		/* without --since the files hold everything stored (retention bounds it) */
		int64_t since = p->opt.since_ms > 0 ? l->es.since_ms : 0;
		for (size_t i = 0; series && !rc && i < l->es.n; i++)
			rc = load_host_series(txn, &p->db, &l->es.hosts[i], since, l->es.now_ms, l, i);
		if (!rc)
			rc = load_statuses(txn, &p->db, l);
		if (rc)
			errbuf_set(&eb, rc, "reading facts for the export: %s", db_strerror(rc));
	}
	db_read_end(&p->db, txn);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		loaded_free(l);
		return 1;
	}
	return 0;
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
		fprintf(stderr, "%s: expected a format: mhub-csv, ads-csv DIR, json or dot\n\n", p.cli.prog);
		export_usage(stderr);
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
	struct export_input in = {
		.snap = p.snap, .estate = &l.es, .windows = ads ? l.windows : NULL, .nwindows = l.nwindows,
		.edges = ads ? l.edges : NULL, .nedges = l.nedges, .statuses = l.statuses, .nstatuses = l.nstatuses,
		.generated_ms = p.opt.now_ms,
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
	loaded_free(&l);
	planctx_close(&p);
	free(args);
	return rc ? 1 : 0;
}
