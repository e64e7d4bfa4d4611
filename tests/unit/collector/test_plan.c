/* plan_compute end to end: a store filled through ingest_apply with
 * generated batches, then the snapshot (map, apps, plan) computed from it.
 * Checks the plan covers every host and application consistently, and
 * reports how long planning takes for a few hundred hosts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batchgen.h"
#include "estate.h"
#include "ingest.h"
#include "plan.h"
#include "snapshot.h"
#include "store.h"

static char dir[] = "/tmp/cairn-plan-XXXXXX";
static struct db_env env;

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	struct errbuf eb = { { 0 } };
	cr_assert_eq(db_open(&env, dir, store_db_names, STORE_NDBS, 64 << 20, 1u << 30, MDB_NOSYNC, &eb),
		     0, "%s", eb.msg);
}

static void teardown(void)
{
	db_close(&env);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(plan, .init = setup, .fini = teardown);

struct fill {
	unsigned hosts, windows;
	int64_t start;
};

static int fill_fn(MDB_txn *txn, void *arg)
{
	const struct fill *f = arg;
	for (unsigned h = 0; h < f->hosts; h++) {
		uint8_t pk[KEY_PUBLIC_LEN];
		memset(pk, 0, sizeof(pk));
		pk[0] = (uint8_t)(h >> 8);
		pk[1] = (uint8_t)h;
		pk[31] = 0x5a;
		for (unsigned w = 0; w < f->windows; w++) {
			struct batchgen_opts o;
			batchgen_defaults(&o);
			o.seq = w + 1;
			o.host_index = h;
			o.window_start_ms = f->start + (int64_t)w * o.window_ms;
			o.with_host = w == 0;
			o.with_packages = w == 0;
			o.nperf = 1;
			o.nprocs = 20;
			o.nedges = 4;
			o.npkgs = 50;
			o.nhosts = f->hosts;
			uint8_t *payload;
			size_t len;
			if (batchgen_build(pk, &o, &payload, &len, NULL))
				return -EINVAL;
			Cairn__Batch *b = cairn__batch__unpack(NULL, len, payload);
			free(payload);
			if (!b)
				return -EBADMSG;
			struct ingest_stats st;
			memset(&st, 0, sizeof(st));
			int rc = ingest_apply(txn, &env, pk, b, o.window_start_ms + o.window_ms, &st);
			cairn__batch__free_unpacked(b, NULL);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* period_ms = the assessment period (--since); 0 = the default (7 days). */
static Cairn__Store__Snapshot *compute_over(unsigned hosts, unsigned windows, int64_t period_ms,
					    int64_t *plan_us)
{
	struct fill f = { hosts, windows, 1795564800000LL };
	cr_assert_eq(db_write(&env, fill_fn, &f), 0);
	int64_t now = f.start + (int64_t)windows * 300000;
	struct snapshot_opts so;
	snapshot_opts_default(&so, now);
	so.with_plan = false;
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&env, &txn), 0);
	Cairn__Store__Snapshot *s = NULL;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(snapshot_compute(txn, &env, &so, &s, NULL, &eb), 0, "%s", eb.msg);
	struct plan_options po;
	plan_options_init(&po, now);
	if (period_ms)
		po.since_ms = now - period_ms;
	uint64_t t0 = time_mono_us();
	cr_assert_eq(plan_compute(txn, &env, &po, s, &eb), 0, "%s", eb.msg);
	*plan_us = (int64_t)(time_mono_us() - t0);
	db_read_end(&env, txn);
	return s;
}

static Cairn__Store__Snapshot *compute(unsigned hosts, unsigned windows, int64_t *plan_us)
{
	return compute_over(hosts, windows, 0, plan_us);
}

struct poison {
	int64_t start;
	unsigned windows;
};

/* One host whose every other window carries NaN, infinite and negative
 * statistics, as a broken or hostile agent could send them. */
static int poison_fn(MDB_txn *txn, void *arg)
{
	const struct poison *p = arg;
	uint8_t pk[KEY_PUBLIC_LEN];
	memset(pk, 0x77, sizeof(pk));
	for (unsigned w = 0; w < p->windows; w++) {
		struct batchgen_opts o;
		batchgen_defaults(&o);
		o.seq = w + 1;
		o.window_start_ms = p->start + (int64_t)w * o.window_ms;
		o.with_host = w == 0;
		o.nperf = 1;
		uint8_t *payload;
		size_t len;
		if (batchgen_build(pk, &o, &payload, &len, NULL))
			return -EINVAL;
		Cairn__Batch *b = cairn__batch__unpack(NULL, len, payload);
		free(payload);
		if (!b)
			return -EBADMSG;
		for (size_t i = 0; w % 2 && i < b->n_records; i++) {
			Cairn__PerfWindow *pw = b->records[i]->kind_case == CAIRN__RECORD__KIND_PERF
							? b->records[i]->perf : NULL;
			if (pw && pw->cpu_busy_pct)
				pw->cpu_busy_pct->p95 = NAN;
			if (pw && pw->mem_used_bytes)
				pw->mem_used_bytes->max = INFINITY;
			for (size_t d = 0; pw && d < pw->n_disks; d++)
				if (pw->disks[d]->read_ops_ps)
					pw->disks[d]->read_ops_ps->avg = -1e300;
		}
		struct ingest_stats st;
		memset(&st, 0, sizeof(st));
		int rc = ingest_apply(txn, &env, pk, b, o.window_start_ms + o.window_ms, &st);
		cairn__batch__free_unpacked(b, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

Test(plan, hostile_perf_values_are_ignored)
{
	struct poison p = { 1795564800000LL, 8 };
	cr_assert_eq(db_write(&env, poison_fn, &p), 0);
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&env, &txn), 0);
	struct estate es;
	struct errbuf eb = { { 0 } };
	int64_t now = p.start + (int64_t)p.windows * 300000;
	struct estate_opts eo;
	plan_estate_opts(&eo, p.start, now, 95);
	cr_assert_eq(estate_load(txn, &env, &eo, &es, &eb), 0, "%s", eb.msg);
	cr_assert_eq(es.n, 1);
	const struct estate_host *h = &es.hosts[0];
	cr_expect_eq(h->windows, p.windows, "windows are kept, only their bad statistics dropped");
	for (int m = 0; m < ESTATE_NMETRICS; m++) {
		const struct estate_stat *st = &h->stat[m];
		cr_expect(isfinite(st->avg) && isfinite(st->max) && isfinite(st->pctl) && st->avg >= 0 &&
				  st->max >= 0 && st->pctl >= 0,
			  "metric %d: avg %g max %g pctl %g", m, st->avg, st->max, st->pctl);
	}
	cr_expect_gt(h->stat[ESTATE_CPU_PCT].pctl, 0, "the good windows still count");
	estate_free(&es);
	db_read_end(&env, txn);
}

Test(plan, covers_every_host_and_app)
{
	int64_t us;
	Cairn__Store__Snapshot *s = compute(12, 12, &us);
	cr_assert_eq(s->n_sizing, 12, "%zu sized", s->n_sizing);
	size_t hosts = 0, apps = 0;
	for (size_t i = 0; i < s->n_readiness; i++) {
		const Cairn__Store__Readiness *r = s->readiness[i];
		hosts += !strcmp(r->kind, "host");
		apps += !strcmp(r->kind, "app");
		cr_expect(r->confidence >= 1 && r->confidence <= 5);
		cr_expect(r->score <= 100);
		cr_expect(r->strategy[0] && r->category[0]);
		cr_expect(r->n_strategy_reasons > 0);
	}
	cr_expect_eq(hosts, 12);
	cr_expect_eq(apps, s->n_apps);
	/* one hour of data in the default 7-day period: 12 of 2016 windows */
	cr_expect_eq(s->readiness[0]->confidence, 1, "coverage %.4f", s->readiness[0]->coverage);
	cr_expect_float_eq(s->readiness[0]->coverage, 12.0 / 2016, 1e-9);
	cr_expect_eq(s->plan_period_ms, 7 * 86400000LL);
	cr_expect_float_eq(s->plan_coverage, 12.0 / 2016, 1e-9);
	for (size_t i = 0; i < s->n_sizing; i++)
		cr_expect(strstr(s->sizing[i]->note, "sized from less than a day of data (12 windows, 1h)"),
			  "%s", s->sizing[i]->note);
	size_t in_waves = 0;
	for (size_t w = 0; w < s->n_waves; w++)
		in_waves += s->waves[w]->n_apps;
	cr_expect_eq(in_waves, s->n_apps);
	for (size_t i = 0; i < s->n_sizing; i++) {
		cr_expect(s->sizing[i]->instance_type[0], "host %s not sized: %s", s->sizing[i]->host,
			  s->sizing[i]->note);
		cr_expect_str_eq(s->sizing[i]->catalog_as_of, "2026-07-20");
		cr_expect(s->sizing[i]->monthly_usd > 0);
	}
	cr_expect_str_eq(s->catalog_as_of, "2026-07-20");
	cr_expect_str_eq(s->lifecycle_as_of, "2026-08-22");
	cr_expect_eq(s->n_plan_notes >= 3, 1);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Confidence is the share of the assessment period the user chose that
 * data covers (Azure Migrate's rule: 0-20 % -> 1 ... 81-100 % -> 5). */
Test(plan, confidence_over_the_chosen_period)
{
	int64_t us;
	/* 12 windows = 1 h: over a 1 h period full, over 2 h half, over 7 d none */
	static const struct { int64_t period_ms; unsigned confidence; } cases[] = {
		{ 3600000, 5 }, { 7200000, 3 }, { 4 * 3600000, 2 }, { 5 * 3600000, 1 }, { 0, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		teardown();
		memcpy(dir + strlen(dir) - 6, "XXXXXX", 6); /* a fresh store per case */
		setup();
		Cairn__Store__Snapshot *s = compute_over(2, 12, cases[i].period_ms, &us);
		for (size_t r = 0; r < s->n_readiness; r++)
			if (!strcmp(s->readiness[r]->kind, "host"))
				cr_expect_eq(s->readiness[r]->confidence, cases[i].confidence,
					     "period %lld ms: coverage %.3f",
					     (long long)cases[i].period_ms, s->readiness[r]->coverage);
		cairn__store__snapshot__free_unpacked(s, NULL);
	}
}

Test(plan, bad_catalog_is_an_error_with_file_line)
{
	int64_t us;
	Cairn__Store__Snapshot *s = compute(2, 3, &us);
	char path[128];
	snprintf(path, sizeof(path), "%s/bad.csv", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
	      "x.large,x,2,4,cheap,us-east-1,2026-07-20\n", f);
	fclose(f);
	struct plan_options po;
	plan_options_init(&po, s->computed_ms);
	po.catalog_path = path;
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&env, &txn), 0);
	struct errbuf eb = { { 0 } };
	cr_expect_eq(plan_compute(txn, &env, &po, s, &eb), -EINVAL);
	db_read_end(&env, txn);
	cr_expect(strstr(eb.msg, "bad.csv:2:"), "%s", eb.msg);
	cr_expect_eq(s->n_sizing, 0, "nothing half-planned");
	cairn__store__snapshot__free_unpacked(s, NULL);
}

Test(plan, timing_300_hosts, .timeout = 300)
{
	int64_t us;
	Cairn__Store__Snapshot *s = compute(300, 12, &us);
	cr_expect_eq(s->n_sizing, 300);
	fprintf(stderr, "plan_compute: 300 hosts x 12 perf windows, %zu apps, %zu waves: %.1f ms\n",
		s->n_apps, s->n_waves, us / 1000.0);
	cairn__store__snapshot__free_unpacked(s, NULL);
}
