/* Exports of a fixed synthetic estate against golden files in
 * tests/fixtures/exports/ (regenerate with CAIRN_UPDATE_GOLDEN=1 after a
 * deliberate change, and review the diff). tests/unit/collector/
 * check_export_csv.py parses the same files with Python's csv module. */
#include <criterion/criterion.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"
#include "docs.h"
#include "export.h"
#include "plan.h"
#include "plan_fixture.h"
#include "plancsv.h"
#include "planctx.h"
#include "readiness.h"
#include "sizing.h"
#include "waves.h"

static struct estate es;
static Cairn__Store__Snapshot *snap;
static Cairn__PerfWindow **win[3];
static size_t nwin[3];
static Cairn__Store__EdgeDay **edges[3];
static size_t nedges[3];
static Cairn__Store__MigrationStatus *status;
static char tmpdir[] = "/tmp/cairn-export-XXXXXX";

static Cairn__Stat *mkstat(double avg, double max, double p95)
{
	Cairn__Stat *s = calloc(1, sizeof(*s));
	cairn__stat__init(s);
	s->avg = avg;
	s->max = max;
	s->p95 = p95;
	return s;
}

static Cairn__PerfWindow *mkwindow(int64_t start, double cpu, double scale)
{
	Cairn__PerfWindow *w = calloc(1, sizeof(*w));
	cairn__perf_window__init(w);
	w->window_start_ms = start;
	w->window_end_ms = start + FX_WINDOW_MS;
	w->samples = 20;
	w->cpu_threads = 4;
	w->cpu_busy_pct = mkstat(cpu, cpu * 2, cpu * 1.5);
	w->mem_available_bytes = mkstat(8 * FX_GIB, 9 * FX_GIB, 8.5 * FX_GIB);
	w->n_disks = 1;
	w->disks = calloc(1, sizeof(*w->disks));
	w->disks[0] = calloc(1, sizeof(**w->disks));
	cairn__disk_perf__init(w->disks[0]);
	w->disks[0]->device = strdup("vda");
	w->disks[0]->read_bytes_ps = mkstat(204800 * scale, 409600, 307200);
	w->disks[0]->write_bytes_ps = mkstat(102400 * scale, 204800, 153600);
	w->disks[0]->read_ops_ps = mkstat(50 * scale, 100, 75);
	w->disks[0]->write_ops_ps = mkstat(20 * scale, 40, 30);
	w->n_nics = 1;
	w->nics = calloc(1, sizeof(*w->nics));
	w->nics[0] = calloc(1, sizeof(**w->nics));
	cairn__nic_perf__init(w->nics[0]);
	w->nics[0]->name = strdup("eth0");
	w->nics[0]->rx_bytes_ps = mkstat(10240 * scale, 20480, 15360);
	w->nics[0]->tx_bytes_ps = mkstat(5120 * scale, 10240, 7680);
	return w;
}

static Cairn__Store__EdgeDay *mkedge(Cairn__Direction dir, const char *local, unsigned lport,
				     const char *remote, unsigned rport, unsigned pid)
{
	Cairn__Store__EdgeDay *d = calloc(1, sizeof(*d));
	cairn__store__edge_day__init(d);
	d->edge = calloc(1, sizeof(*d->edge));
	cairn__edge__init(d->edge);
	d->edge->direction = dir;
	d->edge->protocol = CAIRN__PROTOCOL__TCP;
	d->edge->local_address = strdup(local);
	d->edge->local_port = lport;
	d->edge->remote_address = strdup(remote);
	d->edge->remote_port = rport;
	d->edge->pid = pid;
	d->edge->first_seen_ms = FX_SINCE_MS + 60000;
	d->edge->last_seen_ms = FX_NOW_MS - 60000;
	d->windows = 12;
	return d;
}

static void build(void)
{
	es.n = 3;
	es.hosts = calloc(3, sizeof(*es.hosts));
	es.since_ms = FX_SINCE_MS;
	es.now_ms = FX_NOW_MS;
	struct estate_host *web = &es.hosts[0], *db = &es.hosts[1], *old = &es.hosts[2];
	fx_host(web, 1, "web-1");
	fx_proc(web, "nginx", "nginx", 1001, 0);
	fx_listener(web, 443, "nginx");
	fx_pkg(web, "nginx", "1.22.1-9");
	fx_host(db, 2, "db-1");
	fx_os(db, "debian", "12", "Debian GNU/Linux");
	fx_cpu_mem(db, 8, 32);
	fx_load(db, 45, 20, 1200, 30, 200000);
	fx_proc(db, "postgres", "postgres", 2001, 114);
	fx_listener(db, 5432, "postgres");
	fx_pkg(db, "postgresql-15", "15.5-0+deb12u1");
	fx_host(old, 3, "old-1");
	fx_os(old, "centos", "6", "CentOS Linux");
	fx_hypervisor(old, "vmware");
	fx_load(old, 1, 0.5, 1, 0.01, 100);
	old->inbound_edges = 0;
	fx_proc(old, "reportd", "reportd", 3001, 1000);

	win[0] = calloc(2, sizeof(*win[0]));
	win[0][0] = mkwindow(FX_NOW_MS - 2 * FX_WINDOW_MS, 20, 1);
	win[0][1] = mkwindow(FX_NOW_MS - FX_WINDOW_MS, 35, 1.5);
	nwin[0] = 2;
	edges[0] = calloc(1, sizeof(*edges[0]));
	edges[0][0] = mkedge(CAIRN__DIRECTION__OUTBOUND, "10.0.0.1", 0, "10.0.0.2", 5432, 1001);
	nedges[0] = 1;
	edges[1] = calloc(1, sizeof(*edges[1]));
	edges[1][0] = mkedge(CAIRN__DIRECTION__INBOUND, "10.0.0.2", 5432, "10.0.0.1", 0, 2001);
	nedges[1] = 1;

	snap = fx_snap_new();
	for (int i = 0; i < 3; i++)
		fx_snap_add_node(snap, es.hosts[i].id, es.hosts[i].name, true);
	fx_snap_add_node(snap, "ext:192.0.2.53:53", "dns \"resolver\" 192.0.2.53", false);
	const char *shop[] = { web->id, db->id }, *legacy[] = { old->id };
	fx_snap_add_app(snap, fx_app("a1b2c3", "shop", false, shop, 2));
	fx_snap_add_app(snap, fx_app("d4e5f6", "legacy, reports", false, legacy, 1));
	fx_snap_add_edge(snap, web->id, db->id, 5432, 288);
	fx_snap_add_edge(snap, web->id, "ext:192.0.2.53:53", 53, 40);

	/* the plan, as plan_compute would fill it */
	char path[4096];
	struct errbuf eb = { { 0 } };
	struct sizing_catalog cat;
	struct readiness_lifecycle lc;
	cr_assert_eq(plan_data_path("aws-ec2-catalog.csv", path, sizeof(path), &eb), 0, "%s", eb.msg);
	cr_assert_eq(sizing_catalog_load(path, &cat, &eb), 0, "%s", eb.msg);
	cr_assert_eq(plan_data_path("os-lifecycle.csv", path, sizeof(path), &eb), 0, "%s", eb.msg);
	cr_assert_eq(readiness_lifecycle_load(path, &lc, &eb), 0, "%s", eb.msg);
	struct plan_options opt;
	plan_options_init(&opt, FX_NOW_MS);
	struct readiness_ctx ctx = { &lc, &cat, FX_SINCE_MS, FX_NOW_MS };
	snap->sizing = calloc(3, sizeof(*snap->sizing));
	snap->readiness = calloc(5, sizeof(*snap->readiness));
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(sizing_host(&es.hosts[i], &cat, &opt, &snap->sizing[i]), 0);
		snap->n_sizing++;
		cr_assert_eq(readiness_host(&ctx, &es.hosts[i], snap->sizing[i], i == 0 ? 2 : 1,
					    &snap->readiness[i]), 0);
		snap->n_readiness++;
	}
	const Cairn__Store__Readiness *r_shop[] = { snap->readiness[0], snap->readiness[1] };
	const Cairn__Store__Readiness *r_legacy[] = { snap->readiness[2] };
	cr_assert_eq(readiness_app(snap->apps[0], r_shop, 1, &snap->readiness[3]), 0);
	cr_assert_eq(readiness_app(snap->apps[1], r_legacy, 0, &snap->readiness[4]), 0);
	snap->n_readiness = 5;
	struct waves_opts wo = { .max_hosts = 25, .critical_after = 1 };
	cr_assert_eq(waves_compute(snap, &wo), 0);
	snap->catalog_as_of = strdup(cat.as_of);
	snap->lifecycle_as_of = strdup(lc.as_of);
	snap->sizing_mode = strdup("p95");
	snap->plan_since_ms = FX_SINCE_MS;
	sizing_catalog_free(&cat);
	readiness_lifecycle_free(&lc);

	status = calloc(1, sizeof(*status));
	cairn__store__migration_status__init(status);
	status->target = strdup(web->id);
	status->state = CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS;
	status->progress_pct = 50;
	status->note = strdup("cut-over \"friday\", after backup");
	status->updated_by = strdup("alice");
	status->updated_ms = FX_NOW_MS - 3600000;
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void teardown(void)
{
	for (int i = 0; i < 3; i++) {
		for (size_t k = 0; k < nwin[i]; k++)
			cairn__perf_window__free_unpacked(win[i][k], NULL);
		free(win[i]);
		for (size_t k = 0; k < nedges[i]; k++)
			cairn__store__edge_day__free_unpacked(edges[i][k], NULL);
		free(edges[i]);
	}
	cairn__store__migration_status__free_unpacked(status, NULL);
	cairn__store__snapshot__free_unpacked(snap, NULL);
	estate_free(&es);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

TestSuite(export, .init = build, .fini = teardown);

static struct export_input input(void)
{
	struct export_input in = {
		.snap = snap, .estate = &es, .windows = win, .nwindows = nwin, .edges = edges,
		.nedges = nedges, .statuses = &status, .nstatuses = 1, .generated_ms = FX_NOW_MS,
	};
	return in;
}

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	struct errbuf eb;
	if (file_read_all(path, 16 << 20, &buf, len, &eb))
		return NULL;
	return buf;
}

/* Compares tmpdir/name with the golden file (or refreshes the golden file). */
static void golden(const char *name)
{
	const char *dir = getenv("CAIRN_EXPORT_GOLDEN");
	cr_assert_not_null(dir, "CAIRN_EXPORT_GOLDEN not set (run through meson test)");
	char got_path[4096], want_path[4096];
	snprintf(got_path, sizeof(got_path), "%s/%s", tmpdir, name);
	snprintf(want_path, sizeof(want_path), "%s/%s", dir, name);
	size_t glen = 0, wlen = 0;
	char *got = slurp(got_path, &glen);
	cr_assert_not_null(got, "%s was not written", got_path);
	if (getenv("CAIRN_UPDATE_GOLDEN")) {
		struct errbuf eb;
		cr_assert_eq(file_write_atomic(want_path, got, glen, 0644, &eb), 0, "%s", eb.msg);
	}
	char *want = slurp(want_path, &wlen);
	cr_assert_not_null(want, "golden file %s missing (CAIRN_UPDATE_GOLDEN=1 creates it)", want_path);
	size_t at = 0;
	while (at < glen && at < wlen && got[at] == want[at])
		at++;
	cr_expect(glen == wlen && at == glen, "%s differs from %s at byte %zu:\n got: %.80s\nwant: %.80s",
		  got_path, want_path, at, got + (at > 20 ? at - 20 : 0), want + (at > 20 ? at - 20 : 0));
	free(got);
	free(want);
}

Test(export, mhub_csv_golden)
{
	struct export_input in = input();
	char path[4096];
	snprintf(path, sizeof(path), "%s/mhub-import.csv", tmpdir);
	char **files = NULL;
	size_t n = 0;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(export_mhub_csv(&in, path, 0, 0, &files, &n, &eb), 0, "%s", eb.msg);
	cr_assert_eq(n, 1);
	cr_expect_str_eq(files[0], path);
	export_files_free(files, n);
	golden("mhub-import.csv");
}

Test(export, mhub_csv_splits_by_records_and_bytes)
{
	struct export_input in = input();
	char path[4096];
	snprintf(path, sizeof(path), "%s/split.csv", tmpdir);
	char **files = NULL;
	size_t n = 0;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(export_mhub_csv(&in, path, 2, 0, &files, &n, &eb), 0, "%s", eb.msg);
	cr_assert_eq(n, 2, "3 hosts at 2 per file");
	cr_expect(strstr(files[0], "split-1.csv") && strstr(files[1], "split-2.csv"));
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *buf = slurp(files[i], &len);
		cr_assert_not_null(buf);
		cr_expect(!strncmp(buf, "ExternalId,SMBiosId,", 20), "every part has the header");
		free(buf);
	}
	export_files_free(files, n);
	/* a byte limit that holds the header and one row per file */
	cr_assert_eq(export_mhub_csv(&in, path, 0, 1200, &files, &n, &eb), 0, "%s", eb.msg);
	cr_expect_eq(n, 3, "%zu files", n);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		char *buf = slurp(files[i], &len);
		cr_expect_leq(len, 1200);
		free(buf);
	}
	export_files_free(files, n);
	/* a limit no row fits in is an error, not a broken file */
	cr_expect_eq(export_mhub_csv(&in, path, 0, 100, &files, &n, &eb), -EFBIG);
	export_files_free(files, n);
}

Test(export, ads_csv_golden)
{
	struct export_input in = input();
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/ads", tmpdir);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(export_ads_csv(&in, dir, &eb), 0, "%s", eb.msg);
	static const char *const files[] = { "osInfo", "networkInterface", "process",
					     "sourceProcessConnection", "destinationProcessConnection",
					     "systemPerformance" };
	for (size_t i = 0; i < 6; i++) {
		char name[128];
		snprintf(name, sizeof(name), "ads/%s.csv", files[i]);
		golden(name);
	}
}

/* The series as the command streams them: asked for one host at a time and
 * released after its rows; the files are the same bytes. */
static size_t streamed_loads, streamed_open;

static int stream_load(void *ctx, size_t host, Cairn__PerfWindow ***w, size_t *nw,
		       Cairn__Store__EdgeDay ***e, size_t *ne, struct errbuf *eb)
{
	(void)ctx;
	(void)eb;
	cr_assert_eq(streamed_open, 0, "one host's series at a time");
	streamed_open++;
	streamed_loads++;
	*w = win[host];
	*nw = nwin[host];
	*e = edges[host];
	*ne = nedges[host];
	return 0;
}

static void stream_release(void *ctx, size_t host)
{
	(void)ctx;
	(void)host;
	streamed_open--;
}

Test(export, ads_csv_streamed_golden)
{
	struct export_input in = input();
	struct export_series series = { stream_load, stream_release, NULL };
	in.windows = NULL;
	in.edges = NULL;
	in.series = &series;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/ads", tmpdir);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(export_ads_csv(&in, dir, &eb), 0, "%s", eb.msg);
	cr_assert_eq(streamed_loads, es.n);
	cr_assert_eq(streamed_open, 0);
	static const char *const files[] = { "osInfo", "networkInterface", "process",
					     "sourceProcessConnection", "destinationProcessConnection",
					     "systemPerformance" };
	for (size_t i = 0; i < 6; i++) {
		char name[128];
		snprintf(name, sizeof(name), "ads/%s.csv", files[i]);
		golden(name);
	}
}

/* A metric cairn does not have is an empty cell, never a 0 that a tool would
 * average in: a window without CPU or memory, a host without facts. */
Test(export, ads_unknown_values_are_empty)
{
	struct export_input in = input();
	Cairn__PerfWindow *w = win[0][0];
	Cairn__Stat *cpu = w->cpu_busy_pct, *avail = w->mem_available_bytes;
	w->cpu_busy_pct = NULL;
	w->mem_available_bytes = NULL;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/ads-unknown", tmpdir);
	struct errbuf eb = { { 0 } };
	int rc = export_ads_csv(&in, dir, &eb);
	w->cpu_busy_pct = cpu;
	w->mem_available_bytes = avail;
	cr_assert_eq(rc, 0, "%s", eb.msg);
	char path[4200];
	snprintf(path, sizeof(path), "%s/systemPerformance.csv", dir);
	size_t len;
	char *buf = slurp(path, &len);
	cr_assert_not_null(buf);
	struct csv_reader r;
	struct csv_record hdr, row;
	csv_reader_init(&r, buf, len, path);
	cr_assert_eq(csv_next(&r, &hdr, &eb), 1);
	cr_assert_eq(csv_next(&r, &row, &eb), 1, "no data row");
	cr_assert_eq(row.n, hdr.n);
	for (size_t i = 0; i < hdr.n; i++) {
		if (!strcmp(hdr.f[i], "totalCpuUsagePct") || !strcmp(hdr.f[i], "freeRAM (MB)"))
			cr_expect_str_empty(row.f[i], "%s is '%s' for a window without it", hdr.f[i], row.f[i]);
		if (!strcmp(hdr.f[i], "totalRAM (MB)"))
			cr_expect_str_not_empty(row.f[i], "totalRAM comes from the host's facts");
	}
	csv_record_free(&hdr);
	csv_record_free(&row);
	free(buf);
}

/* The name index the per-host tables use gives what snapshot_host_name gives. */
Test(export, snapshot_names_match_host_name)
{
	struct snapshot_names nm;
	cr_assert_eq(snapshot_names_build(snap, &nm), 0);
	const char *ids[] = { es.hosts[0].id, es.hosts[1].id, es.hosts[2].id, "ext:192.0.2.53:53",
			      "no-such-host" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		cr_expect_str_eq(snapshot_names_get(&nm, ids[i]), snapshot_host_name(snap, ids[i]),
				 "%s", ids[i]);
	cr_expect_str_eq(snapshot_names_get(&nm, "ext:192.0.2.53:53"), "dns \"resolver\" 192.0.2.53");
	cr_expect_str_neq(snapshot_names_get(&nm, es.hosts[0].id), es.hosts[0].id);
	snapshot_names_free(&nm);
}

Test(export, json_golden)
{
	struct export_input in = input();
	char path[4096];
	snprintf(path, sizeof(path), "%s/inventory.json", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(export_json(&in, f, &eb), 0, "%s", eb.msg);
	fclose(f);
	golden("inventory.json");
}

Test(export, dot_golden)
{
	struct export_input in = input();
	char path[4096];
	snprintf(path, sizeof(path), "%s/map.dot", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(export_dot(&in, f, &eb), 0, "%s", eb.msg);
	fclose(f);
	golden("map.dot");
}

Test(export, plan_csv_golden)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/plan.csv", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(plancsv_write(snap, f, &eb), 0, "%s", eb.msg);
	fclose(f);
	golden("plan.csv");
}

struct reports {
	char msg[4][256];
	size_t n;
};

static void collect(const char *msg, void *arg)
{
	struct reports *r = arg;
	if (r->n < 4)
		snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", msg);
	r->n++;
}

/* What plan import reads back: the export unchanged is no change; an edited
 * wave is one; bad rows are FILE:LINE: column: reason and the rest is used. */
Test(export, plan_csv_read_back)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(plancsv_write(snap, f, &eb), 0);
	fclose(f);
	struct plancsv_result res;
	struct reports rep = { 0 };
	cr_assert_eq(plancsv_read(snap, buf, len, "plan.csv", collect, &rep, &res, &eb), 0, "%s", eb.msg);
	cr_expect_eq(res.n, 0, "an unedited export changes nothing");
	cr_expect_eq(res.rejected, 0, "%s", rep.msg[0]);
	cr_expect_eq(res.rows, snap->n_apps);
	plancsv_result_free(&res);
	free(buf);
	const char *app = snap->waves[0]->apps[0];
	char text[1024];
	snprintf(text, sizeof(text),
		 "Pinned,AppId,Wave\r\n"
		 "no,%s,Wave 4\r\n"        /* line 2: moved, the mhub-csv spelling */
		 "no,app-nosuch,1\r\n"     /* line 3 */
		 "no,%s,0\r\n"             /* line 4: bad wave */
		 "no,%s,2\r\n",            /* line 5: the same app again */
		 app, app, app);
	rep.n = 0;
	cr_assert_eq(plancsv_read(snap, text, strlen(text), "edit.csv", collect, &rep, &res, &eb), 0);
	cr_assert_eq(res.n, 1);
	cr_expect_str_eq(res.v[0].app_id, app);
	cr_expect_eq(res.v[0].to, 4);
	cr_expect_eq(res.v[0].line, 2);
	cr_expect_eq(res.rejected, 3);
	cr_expect(strstr(rep.msg[0], "edit.csv:3: AppId: no application 'app-nosuch'"), "%s", rep.msg[0]);
	cr_expect(strstr(rep.msg[1], "edit.csv:4: Wave: '0' is not a wave number"), "%s", rep.msg[1]);
	cr_expect(strstr(rep.msg[2], "edit.csv:5: AppId:") && strstr(rep.msg[2], "already on line 2"),
		  "%s", rep.msg[2]);
	plancsv_result_free(&res);
	cr_expect_eq(plancsv_read(snap, "Name,Wave\r\nx,1\r\n", 16, "bad.csv", collect, &rep, &res, &eb),
		     -EINVAL);
	cr_expect(strstr(eb.msg, "bad.csv:1: the header needs the columns Wave and AppId or Application"),
		  "%s", eb.msg);
}

/* plan waves --explain APP --json and the waves document carry the rules. */
Test(export, wave_explain_document)
{
	json_t *d = docs_wave_explain(snap, "a1b2c3");
	cr_assert_not_null(d);
	cr_expect_eq(json_integer_value(json_object_get(d, "wave")), 1);
	json_t *app = json_object_get(d, "app");
	cr_expect_str_eq(json_string_value(json_object_get(app, "name")), "shop");
	json_t *rules = json_object_get(app, "rules");
	cr_assert(json_array_size(rules) > 0);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rules, 0), "code")), "earliest");
	cr_expect(json_integer_value(json_object_get(d, "score")) > 0);
	cr_expect_eq(json_array_size(json_object_get(d, "rules")), 9, "the rules in precedence order");
	json_decref(d);
	d = docs_wave_explain(snap, "d4e5f6"); /* Retire: in no wave */
	cr_assert_not_null(d);
	cr_expect_eq(json_integer_value(json_object_get(d, "wave")), 0);
	json_decref(d);
	cr_expect_null(docs_wave_explain(snap, "nosuch"));
	json_t *w = docs_waves(snap, 25);
	json_t *w1 = json_array_get(json_object_get(w, "waves"), 0);
	cr_expect(json_integer_value(json_object_get(w1, "confidence")) >= 1);
	cr_expect(json_array_size(json_object_get(w1, "reasons")) > 0);
	cr_expect(json_array_size(json_object_get(json_array_get(json_object_get(w1, "apps"), 0), "rules")) > 0);
	json_decref(w);
}
