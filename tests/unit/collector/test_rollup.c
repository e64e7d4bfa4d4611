/* Perf rollups: what ingest writes to perf_week / perf_day / perf_hour, and
 * that the host view over any period (whole weeks and days from rollups,
 * partial ends from hours and raw windows) equals the computation over every
 * raw window: exactly for counts,
 * spans and peaks, to rounding for averages, within the sketch's stated error
 * for percentiles. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estate.h"
#include "ingest.h"
#include "read.h"
#include "rollup.h"
#include "store.h"

#define WIN_MS 300000LL
#define DAY STORE_DAY_MS
/* 2026-11-20 00:00 UTC, a day boundary */
#define T0 (20412LL * DAY)
#define DAYS 17 /* Friday 2026-11-20 to Sunday 2026-12-06: two whole weeks */

static char dir[64];
static struct db_env env;
static const uint8_t agent[32] = { 0x42, 1, 2, 3 };

/* One generated window, kept to compute the reference by hand. */
struct gen {
	int64_t start, end;
	uint32_t samples, threads;
	double cpu_avg, cpu_max, cpu_p95;
	double rx_avg, rx_max, rx_p95;
	double mem_avg, mem_max, mem_p95;
};

static struct gen *gens;
static size_t ngens;

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static void setup(void)
{
	strcpy(dir, "/tmp/cairn-rollup-XXXXXX");
	cr_assert(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/db", dir);
	struct errbuf eb;
	cr_assert_eq(db_open(&env, path, store_db_names, STORE_NDBS, 16 << 20, 1u << 30, 0, &eb),
		     0, "%s", eb.msg);
	MDB_txn *txn; /* a new store: week rollups from the start */
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(store_weeks_mark(txn, &env, T0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void teardown(void)
{
	db_close(&env);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	free(gens);
	gens = NULL;
	ngens = 0;
}

TestSuite(rollup, .init = setup, .fini = teardown, .timeout = 60);

static void fill_stat(Cairn__Stat *s, double avg, double max, double p95)
{
	cairn__stat__init(s);
	s->avg = avg;
	s->max = max;
	s->p95 = p95;
}

/* Generates the windows of [T0, T0 + DAYS) with a daily pattern, noise,
 * some missing windows, odd lengths and sample counts; a few NaN stats. */
static void generate(void)
{
	size_t cap = (size_t)(DAYS * DAY / WIN_MS) + 1;
	gens = calloc(cap, sizeof(*gens));
	cr_assert_not_null(gens);
	for (int64_t t = T0; t < T0 + DAYS * DAY; t += WIN_MS) {
		if (rnd() < 0.03)
			continue; /* a window the agent never sent */
		struct gen *g = &gens[ngens++];
		double hour = (double)((t / 3600000) % 24);
		double level = 20 + 15 * sin(hour / 24 * 6.283) + 10 * rnd();
		g->start = t;
		g->end = t + (rnd() < 0.05 ? 240000 : WIN_MS);
		g->samples = rnd() < 0.02 ? 0 : 20 + (uint32_t)(rnd() * 10);
		g->threads = t < T0 + DAY ? 0 : 8; /* perf starts reporting threads on day 2 */
		g->cpu_avg = level;
		g->cpu_p95 = level * (1.1 + 0.2 * rnd());
		g->cpu_max = g->cpu_p95 * 1.3;
		g->rx_avg = 1e6 * level * rnd();
		g->rx_p95 = g->rx_avg * 1.5;
		g->rx_max = g->rx_avg * 3;
		g->mem_avg = 4e9 + 1e8 * rnd();
		g->mem_p95 = g->mem_avg + 5e7;
		g->mem_max = g->mem_avg + 1e8;
	}
}

/* Stores windows [from, to) of gens through ingest_apply, a few per batch,
 * received an hour after each window. */
static void ingest_for(const uint8_t id[32], size_t from, size_t to, bool reverse)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	for (size_t n = 0; n < to - from; n++) {
		size_t i = reverse ? to - 1 - n : from + n;
		const struct gen *g = &gens[i];
		Cairn__Stat cpu, mem, rx, tx, lo_rx, lo_tx, rd, wr;
		fill_stat(&cpu, g->cpu_avg, g->cpu_max, g->cpu_p95);
		fill_stat(&mem, g->mem_avg, g->mem_max, g->mem_p95);
		fill_stat(&rx, g->rx_avg, g->rx_max, g->rx_p95);
		fill_stat(&tx, g->rx_avg / 2, g->rx_max / 2, g->rx_p95 / 2);
		fill_stat(&lo_rx, 1e9, 1e9, 1e9); /* loopback: never counted */
		fill_stat(&lo_tx, 1e9, 1e9, 1e9);
		fill_stat(&rd, g->cpu_avg * 1000, g->cpu_max * 1000, g->cpu_p95 * 1000);
		if (i % 997 == 5)
			rd.p95 = NAN; /* a broken statistic is left out, counted */
		fill_stat(&wr, 0.004, 0.009, 0.005); /* below the sketch's first bucket */
		Cairn__NicPerf nic = CAIRN__NIC_PERF__INIT, lo = CAIRN__NIC_PERF__INIT;
		nic.name = "eth0";
		nic.rx_bytes_ps = &rx;
		nic.tx_bytes_ps = &tx;
		lo.name = "lo";
		lo.rx_bytes_ps = &lo_rx;
		lo.tx_bytes_ps = &lo_tx;
		Cairn__NicPerf *nics[] = { &nic, &lo };
		Cairn__DiskPerf disk = CAIRN__DISK_PERF__INIT;
		disk.device = "sda";
		disk.read_bytes_ps = &rd;
		disk.write_bytes_ps = &wr;
		Cairn__DiskPerf *disks[] = { &disk };
		Cairn__PerfWindow pw = CAIRN__PERF_WINDOW__INIT;
		pw.window_start_ms = g->start;
		pw.window_end_ms = g->end;
		pw.samples = g->samples;
		pw.cpu_threads = g->threads;
		pw.mem_total_bytes = 16ull << 30;
		pw.cpu_busy_pct = &cpu;
		pw.mem_used_bytes = &mem;
		pw.n_nics = 2;
		pw.nics = nics;
		pw.n_disks = 1;
		pw.disks = disks;
		Cairn__Record rec = CAIRN__RECORD__INIT;
		rec.kind_case = CAIRN__RECORD__KIND_PERF;
		rec.perf = &pw;
		/* and one outbound edge in every window: one EdgeDay per day */
		Cairn__Edge edge = CAIRN__EDGE__INIT;
		edge.direction = CAIRN__DIRECTION__OUTBOUND;
		edge.protocol = CAIRN__PROTOCOL__TCP;
		edge.process_name = "app";
		edge.remote_address = "10.0.0.9";
		edge.remote_port = 5432;
		edge.samples_seen = 3;
		edge.first_seen_ms = g->start;
		edge.last_seen_ms = g->end;
		Cairn__Edge *edges[] = { &edge };
		Cairn__ConnectionWindow cw = CAIRN__CONNECTION_WINDOW__INIT;
		cw.window_start_ms = g->start;
		cw.window_end_ms = g->end;
		cw.n_edges = 1;
		cw.edges = edges;
		Cairn__Record crec = CAIRN__RECORD__INIT;
		crec.kind_case = CAIRN__RECORD__KIND_CONNECTIONS;
		crec.connections = &cw;
		Cairn__Record *recs[] = { &rec, &crec };
		Cairn__Batch b = CAIRN__BATCH__INIT;
		b.seq = i + 1;
		b.n_records = 2;
		b.records = recs;
		int arc = ingest_apply(txn, &env, id, &b, g->end + 3600000, NULL);
		cr_assert_eq(arc, 0, "ingest_apply: %s", db_strerror(arc));
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void ingest_range(size_t from, size_t to, bool reverse)
{
	ingest_for(agent, from, to, reverse);
}

struct ref {
	size_t windows;
	int64_t first, last;
	uint64_t window_ms;
	uint32_t threads;
	double cpu_avg, cpu_max, cpu_pctl, rx_max, rx_pctl, mem_pctl, cpu_peak_p95;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The statistics computed over every generated window of [since, now). */
static void reference(int64_t since, int64_t now, double pct, struct ref *r)
{
	memset(r, 0, sizeof(*r));
	double *cpu = calloc(ngens + 1, sizeof(double)), *rx = calloc(ngens + 1, sizeof(double));
	double *mem = calloc(ngens + 1, sizeof(double));
	uint64_t *lens = calloc(ngens + 1, sizeof(uint64_t));
	double wsum = 0, weight = 0;
	for (size_t i = 0; i < ngens; i++) {
		const struct gen *g = &gens[i];
		if (g->start < since || g->start >= now)
			continue;
		double w = g->samples ? g->samples : 1;
		wsum += g->cpu_avg * w;
		weight += w;
		if (g->cpu_max > r->cpu_max)
			r->cpu_max = g->cpu_max;
		if (g->rx_max > r->rx_max)
			r->rx_max = g->rx_max;
		if (g->cpu_p95 > r->cpu_peak_p95)
			r->cpu_peak_p95 = g->cpu_p95;
		if (!r->threads)
			r->threads = g->threads;
		cpu[r->windows] = g->cpu_p95;
		rx[r->windows] = g->rx_p95;
		mem[r->windows] = g->mem_p95;
		lens[r->windows] = (uint64_t)(g->end - g->start);
		if (!r->first)
			r->first = g->start;
		r->last = g->end;
		r->windows++;
	}
	r->cpu_avg = weight ? wsum / weight : 0;
	r->cpu_pctl = estate_percentile(cpu, r->windows, pct);
	r->rx_pctl = estate_percentile(rx, r->windows, pct);
	r->mem_pctl = estate_percentile(mem, r->windows, pct);
	if (r->windows) {
		qsort(lens, r->windows, sizeof(uint64_t), cmp_u64);
		r->window_ms = lens[r->windows / 2];
	}
	free(cpu);
	free(rx);
	free(mem);
	free(lens);
}

/* mode 0: weeks, days, hours and raw windows; 1: raw windows only; 2: no
 * week rollups */
static void load(int64_t since, int64_t now, double pct, int mode, struct estate_host *h)
{
	struct estate_opts o = { .since_ms = since, .now_ms = now, .percentile = pct,
				 .default_days = 30, .raw_only = mode == 1, .days_only = mode == 2 };
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	struct errbuf eb;
	cr_assert_eq(estate_load_host(txn, &env, agent, &o, h, &eb), 0, "%s", eb.msg);
	mdb_txn_abort(txn);
}

static void assert_close(double got, double want, double rel, const char *what, int64_t since,
			 int64_t now)
{
	double tol = fabs(want) * rel + 1e-9;
	cr_assert(fabs(got - want) <= tol, "%s over [%lld, %lld): %.10g, want %.10g (+- %.3g)",
		  what, (long long)(since - T0), (long long)(now - T0), got, want, tol);
}

static void assert_sketch(double got, double want, const char *what, int64_t since, int64_t now)
{
	double tol = want >= ROLLUP_SKETCH_MIN ? want * ROLLUP_SKETCH_REL_ERR * (1 + 1e-9)
					       : ROLLUP_SKETCH_MIN;
	cr_assert(fabs(got - want) <= tol,
		  "%s percentile over [%lld, %lld): %.10g, exact %.10g: beyond the sketch's error",
		  what, (long long)(since - T0), (long long)(now - T0), got, want);
}

/* The host view over [since, now) against the reference. */
static void check_period(int64_t since, int64_t now, double pct)
{
	struct ref r;
	reference(since, now, pct, &r);
	for (int mode = 0; mode < 3; mode++) {
		struct estate_host h;
		load(since, now, pct, mode, &h);
		cr_assert_eq(h.windows, r.windows, "windows over [%lld, %lld): %zu, want %zu",
			     (long long)(since - T0), (long long)(now - T0), h.windows, r.windows);
		cr_assert_eq(h.first_ms, r.first);
		cr_assert_eq(h.last_ms, r.last);
		cr_assert_eq(h.window_ms, r.window_ms);
		cr_assert_eq(h.stat[ESTATE_CPU_PCT].max, r.cpu_max);
		cr_assert_eq(h.stat[ESTATE_NET_RX_BPS].max, r.rx_max);
		cr_assert_eq(h.cpu_peak_p95, r.cpu_peak_p95);
		cr_assert_eq(h.mem_total, r.windows ? 16ull << 30 : 0);
		cr_assert_eq(h.cpu_threads, r.threads, "threads over [%lld, %lld)",
			     (long long)(since - T0), (long long)(now - T0));
		assert_close(h.stat[ESTATE_CPU_PCT].avg, r.cpu_avg, 1e-12, "cpu avg", since, now);
		assert_sketch(h.stat[ESTATE_CPU_PCT].pctl, r.cpu_pctl, "cpu", since, now);
		assert_sketch(h.stat[ESTATE_NET_RX_BPS].pctl, r.rx_pctl, "rx", since, now);
		assert_sketch(h.stat[ESTATE_MEM_USED].pctl, r.mem_pctl, "mem", since, now);
		/* the loopback NIC is never counted */
		cr_assert_lt(h.stat[ESTATE_NET_RX_BPS].max, 1e9);
		estate_host_free(&h);
	}
}

static size_t count_db(enum store_db db)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	MDB_stat st;
	cr_assert_eq(mdb_stat(txn, env.dbi[db], &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

static void check_periods(void)
{
	const int64_t H = 3600000;
	int64_t end = T0 + DAYS * DAY;
	int64_t periods[][2] = {
		{ T0, end },                           /* every whole day */
		{ T0 + 3 * DAY, T0 + 10 * DAY },       /* one whole week, Monday to Monday */
		{ T0 + 3 * DAY + 1, end - 1 },         /* a week, days and hours around it */
		{ T0 + 7 * H + 123, end - 5 * H - 7 }, /* partial days at both ends */
		{ T0 + 2 * DAY + 3 * H, T0 + 2 * DAY + 9 * H }, /* hours inside one day */
		{ end - 2 * DAY - 30 * 60000, end - 1 * H },    /* the last 7 days: hour rollups */
		{ T0 + 13 * 60000, T0 + 47 * 60000 },  /* inside one hour */
		{ T0 - 3 * DAY, T0 + DAY + 1 },        /* starts before the data */
		{ end + DAY, end + 2 * DAY },          /* no data */
		/* "now" after the last window, mid-week: the week, day and hour
		 * holding the end are read whole (every window in them began
		 * inside the period) */
		{ T0 + DAY + 5 * H, end + 2 * H },
		{ T0 + 9 * DAY + 7 * H, end - DAY + 3 * H }, /* ... and a day that is not */
	};
	for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++)
		for (double pct = 50; pct <= 100; pct += 25)
			check_period(periods[i][0], periods[i][1], pct);
}

Test(rollup, host_view_equals_raw_windows)
{
	generate();
	ingest_range(0, ngens, false);
	cr_assert_eq(count_db(STORE_PERF_DAY), DAYS, "one rollup per host and day");
	cr_assert_eq(count_db(STORE_PERF_WEEK), 3, "one rollup per host and week");
	cr_assert_eq(count_db(STORE_EDGES_WEEK), 3, "one edge record per edge and week");
	/* hours only for the last 7 days before each window's receipt */
	size_t hours = count_db(STORE_PERF_HOUR);
	cr_assert(hours >= (DAYS - 1) * 24 - 1 && hours <= DAYS * 24, "%zu hour rollups", hours);
	check_periods();
}

Test(rollup, out_of_order_and_resent_windows)
{
	generate();
	/* second half first and backwards, then the first half */
	ingest_range(ngens / 2, ngens, true);
	ingest_range(0, ngens / 2, false);
	/* an agent resends day 3's windows with changed values: they replace */
	size_t a = 0;
	while (gens[a].start < T0 + 3 * DAY)
		a++;
	size_t b = a;
	while (b < ngens && gens[b].start < T0 + 4 * DAY) {
		gens[b].cpu_p95 *= 1.5;
		gens[b].cpu_max *= 1.5;
		b++;
	}
	ingest_range(a, b, false);
	check_periods();
}

Test(rollup, whole_days_are_read_from_rollups)
{
	generate();
	ingest_range(0, ngens, false);
	struct estate_host before;
	load(T0, T0 + DAYS * DAY, 95, 0, &before);
	/* raw windows of day 4 deleted (as retention_raw does): the day's rollup
	 * still answers for it */
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	uint64_t deleted = 0;
	for (size_t i = 0; i < ngens; i++) {
		if (gens[i].start < T0 + 4 * DAY || gens[i].start >= T0 + 5 * DAY)
			continue;
		struct db_key k;
		db_key_init(&k);
		db_key_bytes(&k, agent, 32);
		db_key_u64(&k, (uint64_t)gens[i].start);
		MDB_val kv = db_key_val(&k);
		cr_assert_eq(mdb_del(txn, env.dbi[STORE_PERF], &kv, NULL), 0);
		deleted++;
	}
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cr_assert_gt(deleted, 200);
	struct estate_host after, raw;
	load(T0, T0 + DAYS * DAY, 95, 0, &after);
	load(T0, T0 + DAYS * DAY, 95, 1, &raw);
	cr_assert_eq(after.windows, before.windows);
	cr_assert_eq(after.stat[ESTATE_CPU_PCT].avg, before.stat[ESTATE_CPU_PCT].avg);
	cr_assert_eq(after.stat[ESTATE_CPU_PCT].pctl, before.stat[ESTATE_CPU_PCT].pctl);
	cr_assert_eq(raw.windows, before.windows - deleted, "raw_only reads the raw windows");
	estate_host_free(&before);
	estate_host_free(&after);
	estate_host_free(&raw);
}

Test(rollup, sketch_error_bound)
{
	/* every value in range lands in a bucket whose value is within the bound */
	for (double v = ROLLUP_SKETCH_MIN; v < 1e13; v *= 1.000731) {
		double got = rollup_bucket_value(rollup_bucket(v));
		cr_assert(fabs(got - v) <= v * ROLLUP_SKETCH_REL_ERR * (1 + 1e-9),
			  "%.17g stands for %.17g", got, v);
	}
	cr_assert_eq(rollup_bucket(0), 0);
	cr_assert_eq(rollup_bucket(NAN), 0);
	cr_assert_eq(rollup_bucket(1e300), ROLLUP_SKETCH_BUCKETS - 1);
}

/* Retention in small steps: raw windows beyond retention_raw, hours beyond 7
 * days, day rollups and edge days beyond retention go; the host view of the
 * kept days still counts every window (from the day rollups). */
Test(rollup, retention_sweeps_in_steps)
{
	generate();
	ingest_range(0, ngens, false);
	cr_assert_eq(count_db(STORE_EDGES), DAYS);
	int64_t now = T0 + DAYS * DAY;
	/* weeks ending at or before the cutoff (Dec 2) go: those of Nov 16 and 23 */
	size_t weeks = count_db(STORE_PERF_WEEK) + count_db(STORE_EDGES_WEEK);
	struct ingest_retention r;
	ingest_retention_at(&r, now, 2 * DAY, 5 * DAY);
	struct ingest_prune_pos pos = { 0 };
	bool done = false;
	uint64_t total = 0, steps = 0;
	while (!done) {
		MDB_txn *txn;
		uint64_t deleted;
		cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
		cr_assert_eq(ingest_prune(txn, &env, &r, &pos, 50, &deleted, &done), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		cr_assert_leq(deleted, 50);
		total += deleted;
		cr_assert_lt(++steps, 10000, "the sweep does not end");
	}
	cr_assert_gt(steps, 20, "small steps (%llu)", (unsigned long long)steps);
	size_t raw_kept = 0;
	for (size_t i = 0; i < ngens; i++)
		raw_kept += gens[i].start >= now - 2 * DAY;
	cr_assert_eq(count_db(STORE_PERF), raw_kept);
	cr_assert_eq(count_db(STORE_PERF_DAY), 5);
	cr_assert_eq(count_db(STORE_EDGES), 5);
	cr_assert_eq(count_db(STORE_PERF_HOUR), 7 * 24);
	cr_assert_eq(count_db(STORE_PERF_WEEK), 1);
	cr_assert_eq(count_db(STORE_EDGES_WEEK), 1);
	cr_assert_eq(total, (ngens - raw_kept) + (DAYS - 5) * 2 + (weeks - 2) +
				    (count_db(STORE_PERF_HOUR) ? (DAYS - 7) * 24 : 0));
	/* a second sweep finds nothing */
	MDB_txn *txn;
	uint64_t deleted;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_prune(txn, &env, &r, NULL, 0, &deleted, &done), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(deleted, 0);
	cr_assert(done);
	struct ref want;
	reference(now - 5 * DAY, now, 95, &want);
	struct estate_host h;
	load(now - 5 * DAY, now, 95, 0, &h);
	cr_assert_eq(h.windows, want.windows);
	cr_assert_eq(h.stat[ESTATE_CPU_PCT].max, want.cpu_max);
	estate_host_free(&h);
}

/* store stats: DB entry counts from mdb_stat, the dated records of each day,
 * and one host holding all of them. */
Test(rollup, store_size_per_db_day_and_host)
{
	generate();
	ingest_range(0, ngens, false);
	struct read_txn t = { .db = &env };
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &t.txn), 0);
	struct read_store_size s;
	struct errbuf eb;
	cr_assert_eq(read_store_size(&t, READ_SIZE_DAYS | READ_SIZE_HOSTS, &s, &eb), 0, "%s",
		     eb.msg);
	mdb_txn_abort(t.txn);
	cr_assert_eq(s.dbs[STORE_PERF_DAY].entries, DAYS);
	cr_assert_str_eq(s.dbs[STORE_PERF_DAY].name, "perf_day");
	cr_assert_eq(s.dbs[STORE_PERF].entries, ngens);
	cr_assert_gt(s.dbs[STORE_PERF].bytes, 0);
	cr_assert_gt(s.file_bytes, 0);
	cr_assert_geq(s.used_bytes, s.dbs[STORE_PERF].bytes);
	cr_assert_eq(s.ndays, DAYS);
	uint64_t entries = 0, bytes = 0;
	for (size_t i = 0; i < s.ndays; i++) {
		cr_assert_eq(s.days[i].day, (uint32_t)(T0 / DAY) + i);
		entries += s.days[i].entries;
		bytes += s.days[i].bytes;
	}
	/* perf windows, hour and day rollups, edge days */
	cr_assert_eq(entries, ngens + s.dbs[STORE_PERF_HOUR].entries + DAYS + DAYS);
	cr_assert_eq(s.nhosts, 1);
	cr_assert_eq(memcmp(s.hosts[0].id, agent, 32), 0);
	cr_assert_eq(s.hosts[0].entries, entries);
	cr_assert_eq(s.hosts[0].bytes, bytes);
	read_store_size_free(&s);
}

/* The host view reads rollups straight from their bytes: the same as
 * through the unpacked message; cut or damaged bytes are refused, never
 * read past. */
Test(rollup, packed_read_equals_message_read)
{
	generate();
	ingest_range(0, ngens, false);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	MDB_cursor *cur;
	cr_assert_eq(mdb_cursor_open(txn, env.dbi[STORE_PERF_DAY], &cur), 0);
	MDB_val k, v;
	size_t n = 0;
	for (int crc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !crc;
	     crc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
		struct rollup a = { 0 }, b = { 0 };
		cr_assert_eq(rollup_merge_packed(&a, v.mv_data, v.mv_size), 0);
		Cairn__Store__PerfRollup *m =
			cairn__store__perf_rollup__unpack(NULL, v.mv_size, v.mv_data);
		cr_assert_not_null(m);
		cr_assert_eq(rollup_merge_msg(&b, m), 0);
		cairn__store__perf_rollup__free_unpacked(m, NULL);
		cr_assert_eq(a.windows, b.windows);
		cr_assert_eq(a.weight, b.weight);
		cr_assert_eq(a.first_ms, b.first_ms);
		cr_assert_eq(a.last_ms, b.last_ms);
		cr_assert_eq(a.cpu_threads, b.cpu_threads);
		cr_assert_eq(a.nlen, b.nlen);
		cr_assert_eq(rollup_median_length(&a), rollup_median_length(&b));
		for (int i = 0; i < ROLLUP_NMETRICS; i++) {
			cr_assert_eq(a.m[i].wsum, b.m[i].wsum);
			cr_assert_eq(a.m[i].max, b.m[i].max);
			cr_assert_eq(a.m[i].pmin, b.m[i].pmin);
			cr_assert_eq(a.m[i].n, b.m[i].n);
			cr_assert_eq(memcmp(a.m[i].bucket, b.m[i].bucket, a.m[i].n * 4), 0);
			cr_assert_eq(memcmp(a.m[i].count, b.m[i].count, a.m[i].n * 4), 0);
		}
		/* every cut of the bytes: refused or a valid shorter message, no crash */
		uint8_t *cut = malloc(v.mv_size);
		memcpy(cut, v.mv_data, v.mv_size);
		for (size_t len = 0; len < v.mv_size; len += 7) {
			struct rollup c = { 0 };
			int rc = rollup_merge_packed(&c, cut, len);
			cr_assert(rc == 0 || rc == -EBADMSG);
			rollup_free(&c);
		}
		cut[v.mv_size / 2] ^= 0xff;
		struct rollup c = { 0 };
		int rc = rollup_merge_packed(&c, cut, v.mv_size);
		cr_assert(rc == 0 || rc == -EBADMSG);
		rollup_free(&c);
		free(cut);
		rollup_free(&a);
		rollup_free(&b);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	cr_assert_eq(n, DAYS);
}

enum { PAR_HOSTS = 150 };

static void par_id(unsigned k, uint8_t id[32])
{
	memset(id, 0, 32);
	id[0] = 0x51;
	id[1] = (uint8_t)k;
	id[2] = (uint8_t)(k >> 8);
}

/* PAR_HOSTS hosts with facts and windows [from, to) of the generated series;
 * what is left after `to` is room for later windows. */
static void par_hosts(void)
{
	MDB_txn *txn;
	for (unsigned k = 0; k < PAR_HOSTS; k++) {
		uint8_t id[32];
		par_id(k, id);
		size_t from = (k * 37) % (ngens / 2), to = from + 100 + k % 50;
		ingest_for(id, from, to, k % 2);
		Cairn__HostInfo hi = CAIRN__HOST_INFO__INIT;
		char name[32];
		snprintf(name, sizeof(name), "host-%03u", k);
		hi.hostname = name;
		hi.cpu_threads = 2 + k % 7;
		Cairn__Store__HostFacts f = CAIRN__STORE__HOST_FACTS__INIT;
		f.info = &hi;
		uint8_t buf[256];
		size_t n = cairn__store__host_facts__pack(&f, buf);
		cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
		MDB_val key = { 32, id }, val = { n, buf };
		cr_assert_eq(mdb_put(txn, env.dbi[STORE_HOSTS], &key, &val, 0), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
	}
}

static void par_load(MDB_txn *txn, unsigned threads, struct estate *es)
{
	struct estate_opts o = { .since_ms = T0 + 5 * 3600000, .now_ms = T0 + DAYS * DAY,
				 .percentile = 95, .default_days = 30, .threads = threads };
	struct errbuf eb = { 0 };
	cr_assert_eq(estate_load(txn, &env, &o, es, &eb), 0, "%s", eb.msg);
	cr_assert_eq(es->n, PAR_HOSTS);
}

static void par_assert_equal(const struct estate *x, const struct estate *y)
{
	for (size_t i = 0; i < PAR_HOSTS; i++) {
		const struct estate_host *a = &x->hosts[i], *b = &y->hosts[i];
		cr_assert_eq(memcmp(a->raw_id, b->raw_id, 32), 0, "host %zu", i);
		cr_assert_str_eq(a->name, b->name);
		cr_assert_eq(a->cpu_threads, b->cpu_threads);
		cr_assert_gt(a->windows, 0, "host %zu has windows", i);
		cr_assert_eq(a->windows, b->windows, "host %zu", i);
		cr_assert_eq(a->first_ms, b->first_ms);
		cr_assert_eq(a->last_ms, b->last_ms);
		cr_assert_eq(memcmp(a->stat, b->stat, sizeof(a->stat)), 0, "host %zu stats", i);
	}
}

/* estate_load reads hosts side by side in worker threads, each in a read
 * transaction of its own: the answer is the one the calling thread alone
 * gives, host for host, in the same order. */
Test(rollup, parallel_load_equals_one_thread)
{
	generate();
	par_hosts();
	struct estate es[2];
	for (int t = 0; t < 2; t++) {
		MDB_txn *txn;
		cr_assert_eq(db_read_begin(&env, &txn), 0);
		par_load(txn, t ? 4 : 1, &es[t]);
		db_read_end(&env, txn);
	}
	par_assert_equal(&es[0], &es[1]);
	estate_free(&es[0]);
	estate_free(&es[1]);
}

/* Windows committed after the caller's transaction began are not in its
 * answer, whichever thread reads which host: the workers read the caller's
 * snapshot or nothing. */
Test(rollup, parallel_load_reads_the_callers_snapshot)
{
	generate();
	par_hosts();
	/* pages freed while `old` is open are not reused: room for the copies */
	cr_assert_eq(mdb_env_set_mapsize(env.env, 256u << 20), 0);
	MDB_txn *old;
	cr_assert_eq(db_read_begin(&env, &old), 0);
	for (unsigned k = 0; k < PAR_HOSTS; k++) {
		uint8_t id[32];
		par_id(k, id);
		size_t to = (k * 37) % (ngens / 2) + 100 + k % 50;
		ingest_for(id, to, to + 20, false);
	}
	struct estate alone, side, now;
	par_load(old, 1, &alone);
	par_load(old, 4, &side);
	db_read_end(&env, old);
	par_assert_equal(&alone, &side);
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&env, &txn), 0);
	par_load(txn, 4, &now);
	db_read_end(&env, txn);
	for (size_t i = 0; i < PAR_HOSTS; i++)
		cr_assert_gt(now.hosts[i].windows, alone.hosts[i].windows,
			     "host %zu: the later windows are in the newer snapshot", i);
	estate_free(&alone);
	estate_free(&side);
	estate_free(&now);
}
