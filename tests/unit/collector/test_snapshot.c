/* Snapshot history: the newest SNAPSHOT_KEEP versions stay whole; older ones
 * are thinned to the first of each hour (48 h) and of each day (90 days),
 * without their map, and values that do not decode are dropped. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "analysis_fixture.h"
#include "snapshot.h"
#include "store.h"

#define MIN_MS (60000LL)

static int put_garbage(MDB_txn *txn, void *arg)
{
	const struct db_env *env = arg;
	uint8_t key[8];
	db_put_u64(key, 1);
	MDB_val k = { 8, key }, v = { 3, (void *)"\x0a\xff\x01" };
	return mdb_put(txn, env->dbi[STORE_SNAPSHOTS], &k, &v, 0);
}

/* The stored times in the order they were stored; what a single pass at
 * now keeps (first of its hour within 48 h, first of its day within 90 d). */
static bool expect_kept(const int64_t *t, size_t n, size_t i, int64_t now)
{
	if (i + SNAPSHOT_KEEP >= n)
		return true;
	int64_t age = now - t[i];
	if (age > SNAPSHOT_DAILY_MS)
		return false;
	int64_t unit = age <= SNAPSHOT_HOURLY_MS ? SNAPSHOT_HOUR_MS : STORE_DAY_MS;
	return i == 0 || t[i - 1] / unit != t[i] / unit;
}

Test(snapshot, history_is_thinned_and_stripped_of_the_map)
{
	struct fixture f;
	fixture_open(&f);
	fixture_host(&f, 1, "web-01", (const char *[]){ "10.0.0.1", NULL });
	fixture_host(&f, 2, "db-01", (const char *[]){ "10.0.0.2", NULL });
	fixture_conn(&f, 1, "10.0.0.1", "nginx", 2, "10.0.0.2", "postgres", 5432);
	cr_assert_eq(db_write(&f.env, put_garbage, &f.env), 0);

	int64_t now = 1000 * STORE_DAY_MS + 7 * SNAPSHOT_HOUR_MS + 13 * MIN_MS;
	struct snapshot_opts o;
	snapshot_opts_default(&o, now);
	o.with_plan = false;
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f.env, &txn), 0);
	Cairn__Store__Snapshot *s = NULL;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(snapshot_compute(txn, &f.env, &o, &s, NULL, &eb), 0, "%s", eb.msg);
	db_read_end(&f.env, txn);

	/* 100 days: every 7 h until 3 days ago, then every 25 minutes */
	static int64_t t[1000];
	size_t n = 0;
	for (int64_t at = now - 100 * STORE_DAY_MS; at <= now; n++) {
		cr_assert_lt(n, sizeof(t) / sizeof(t[0]));
		t[n] = at;
		at += now - at > 3 * STORE_DAY_MS ? 7 * SNAPSHOT_HOUR_MS : 25 * MIN_MS;
	}
	t[n - 1] = now;
	for (size_t i = 0; i < n; i++) {
		s->computed_ms = t[i];
		cr_assert_eq(snapshot_store(&f.env, s, &eb), 0, "%s", eb.msg);
	}
	cr_expect_eq(s->version, n + 1, "version %llu", (unsigned long long)s->version);
	cairn__store__snapshot__free_unpacked(s, NULL);

	size_t nexpect = 0;
	for (size_t i = 0; i < n; i++)
		nexpect += expect_kept(t, n, i, now);
	cr_assert_eq(db_read_begin(&f.env, &txn), 0);
	MDB_cursor *c;
	cr_assert_eq(mdb_cursor_open(txn, f.env.dbi[STORE_SNAPSHOTS], &c), 0);
	MDB_val k, v;
	size_t stored = 0, i = 0;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), stored++) {
		Cairn__Store__Snapshot *h = cairn__store__snapshot__unpack(NULL, v.mv_size, v.mv_data);
		cr_assert_not_null(h, "version %llu does not decode",
				   (unsigned long long)db_get_u64(k.mv_data));
		cr_expect_eq(h->version, db_get_u64(k.mv_data));
		/* version v was stored at t[v - 2] (version 1 was the garbage) */
		size_t at = (size_t)h->version - 2;
		cr_assert_lt(at, n);
		cr_expect_eq(h->computed_ms, t[at]);
		for (; i < at; i++)
			cr_expect_not(expect_kept(t, n, i, now), "t[%zu] (%lld min ago) was dropped", i,
				      (long long)((now - t[i]) / MIN_MS));
		cr_expect(expect_kept(t, n, at, now), "t[%zu] (%lld min ago) was kept", at,
			  (long long)((now - t[at]) / MIN_MS));
		i = at + 1;
		bool newest = at + SNAPSHOT_KEEP >= n;
		cr_expect_eq(h->map != NULL, newest, "version %llu: map %s",
			     (unsigned long long)h->version, h->map ? "kept" : "missing");
		cr_expect_eq(h->n_apps, 1, "version %llu lost its applications",
			     (unsigned long long)h->version);
		cairn__store__snapshot__free_unpacked(h, NULL);
	}
	mdb_cursor_close(c);
	cr_expect_eq(stored, nexpect, "%zu stored, %zu expected", stored, nexpect);
	/* bounded by hours + days, yet most hours and days keep one (the newest
	 * four already cover the last hour; every 7 h misses some days) */
	cr_expect_leq(stored, SNAPSHOT_KEEP + 49 + 91, "%zu stored", stored);
	cr_expect_geq(stored, SNAPSHOT_KEEP + 46 + 80, "%zu stored", stored);

	Cairn__Store__Snapshot *latest = NULL;
	cr_assert_eq(read_snapshot_latest(txn, &f.env, true, &latest, &eb), 0, "%s", eb.msg);
	cr_expect_eq(latest->computed_ms, now);
	cr_expect_not_null(latest->map);
	cairn__store__snapshot__free_unpacked(latest, NULL);
	db_read_end(&f.env, txn);
	fixture_close(&f);
}

/* snapshot_index: every lookup gives what the linear one gives (the first
 * match of a duplicated id, the app's placement in its wave, NULL for an id
 * it does not hold), with ids in no particular order. */
Test(snapshot, index_lookups_match_the_linear_ones)
{
	enum { APPS = 300, WAVES = 7 };
	static char ids[APPS + 1][16];
	static Cairn__Store__App app[APPS], *apps[APPS];
	static Cairn__Store__Readiness rd[APPS + 1], *rds[APPS + 1];
	static Cairn__Store__Wave wave[WAVES], *waves[WAVES];
	static Cairn__Store__WavePlacement place[APPS], *places[APPS];
	static char *wave_apps[APPS];
	Cairn__Store__Snapshot s;
	cairn__store__snapshot__init(&s);
	for (unsigned i = 0; i < APPS; i++) {
		snprintf(ids[i], sizeof(ids[i]), "app-%u", (i * 7919u) % 1000u);
		cairn__store__app__init(&app[i]);
		app[i].id = ids[i];
		apps[i] = &app[i];
		cairn__store__readiness__init(&rd[i]);
		rd[i].target = ids[i];
		rd[i].score = i;
		rds[i] = &rd[i];
		cairn__store__wave_placement__init(&place[i]);
		place[i].environment = ids[i];
	}
	/* a second readiness of the first app: the first one wins */
	cairn__store__readiness__init(&rd[APPS]);
	rd[APPS].target = ids[0];
	rd[APPS].score = 999;
	rds[APPS] = &rd[APPS];
	/* the apps of even index in waves (the last wave without placements) */
	size_t at = 0;
	for (unsigned w = 0; w < WAVES; w++) {
		cairn__store__wave__init(&wave[w]);
		wave[w].number = w + 1;
		wave[w].apps = &wave_apps[at];
		wave[w].placements = &places[at];
		for (unsigned i = w * 2; i < APPS; i += 2 * WAVES) {
			wave_apps[at] = ids[i];
			places[at] = &place[i];
			at++;
			wave[w].n_apps++;
		}
		wave[w].n_placements = w == WAVES - 1 ? 0 : wave[w].n_apps;
		waves[w] = &wave[w];
	}
	s.apps = apps, s.n_apps = APPS;
	s.readiness = rds, s.n_readiness = APPS + 1;
	s.waves = waves, s.n_waves = WAVES;
	struct snapshot_index ix, lin = { .s = &s, .linear = true };
	snapshot_index_build(&s, &ix);
	cr_assert(!ix.linear);
	snprintf(ids[APPS], sizeof(ids[APPS]), "app-none");
	for (unsigned i = 0; i <= APPS; i++) {
		const char *id = ids[i];
		cr_assert_eq(snapshot_index_readiness(&ix, id), snapshot_readiness(&s, id), "%s", id);
		cr_assert_eq(snapshot_index_app(&ix, id), snapshot_app(&s, id), "%s", id);
		const Cairn__Store__WavePlacement *pl, *lpl;
		const Cairn__Store__Wave *w = snapshot_index_wave(&ix, id, &pl);
		cr_assert_eq(w, snapshot_index_wave(&lin, id, &lpl), "%s", id);
		cr_assert_eq(pl, lpl, "%s", id);
		cr_assert_eq(snapshot_index_readiness(&lin, id), snapshot_readiness(&s, id));
		cr_assert_eq(snapshot_index_app(&lin, id), snapshot_app(&s, id));
		if (i < APPS) {
			cr_assert_eq(w != NULL, i % 2 == 0, "%s: in a wave when even", id);
			cr_assert(!w || w->n_placements == 0 || pl == &place[i], "%s: its placement", id);
		}
	}
	cr_assert_eq(snapshot_index_readiness(&ix, ids[0])->score, 0, "the first readiness of a duplicate");
	cr_assert_null(snapshot_index_readiness(&ix, "app-none"));
	snapshot_index_free(&ix);
}
