#include "snapshot.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plan.h"
#include "read.h"
#include "store.h"

static char snapshot_catalog[PATH_MAX];

void snapshot_set_catalog(const char *path)
{
	str_copy(snapshot_catalog, path ? path : "", sizeof(snapshot_catalog));
}

static struct {
	bool set;
	uint32_t max_hosts, min_hosts, critical_after;
} snapshot_waves;

void snapshot_set_waves(uint32_t max_hosts, uint32_t min_hosts, uint32_t critical_after)
{
	snapshot_waves.set = true;
	snapshot_waves.max_hosts = max_hosts;
	snapshot_waves.min_hosts = min_hosts;
	snapshot_waves.critical_after = critical_after;
}

void snapshot_opts_default(struct snapshot_opts *o, int64_t now_ms)
{
	memset(o, 0, sizeof(*o));
	o->now_ms = now_ms;
	o->since_ms = 0;
	o->with_plan = true;
	o->catalog_path = snapshot_catalog[0] ? snapshot_catalog : NULL;
	apps_opts_default(&o->apps);
}



/* ------------------------------------------------------------ compute */

static int set_map(Cairn__Store__Snapshot *s, const struct depmap *dm, const struct apps_result *ar)
{
	const char **app_of = calloc(dm->nhosts + 1, sizeof(char *));
	if (!app_of)
		return -ENOMEM;
	for (uint32_t h = 0; h < dm->nhosts; h++)
		app_of[h] = ar->app_of_host[h] >= 0 ? ar->apps[ar->app_of_host[h]]->id : "";
	s->map = malloc(sizeof(*s->map));
	int rc = -ENOMEM;
	if (s->map) {
		cairn__store__dep_map__init(s->map);
		rc = depmap_to_proto(dm, app_of, ar->infra_host, s->map);
	}
	free(app_of);
	return rc;
}

int snapshot_compute(MDB_txn *txn, const struct db_env *env, const struct snapshot_opts *o,
		     Cairn__Store__Snapshot **out, struct depmap **dm_out, struct errbuf *eb)
{
	*out = NULL;
	if (dm_out)
		*dm_out = NULL;
	struct depmap *dm = NULL;
	struct apps_decisions dec;
	struct apps_result ar;
	Cairn__Store__Snapshot *prev = NULL;
	memset(&dec, 0, sizeof(dec));
	memset(&ar, 0, sizeof(ar));
	struct depmap_opts mo = { .since_ms = o->since_ms, .now_ms = o->now_ms };
	uint64_t gen = read_facts_gen(txn, env);
	uint64_t t0 = time_mono_us();
	int rc = depmap_build(txn, env, &mo, &dm, eb);
	if (rc)
		return rc;
	int prc = read_snapshot_latest(txn, env, false, &prev, NULL);
	if (prc && prc != -ENOENT)
		log_warn("previous snapshot unreadable; application ids start afresh");
	uint64_t t1 = time_mono_us();
	if ((rc = apps_decisions_load(txn, env, &dec, eb)) ||
	    (rc = apps_compute(dm, &o->apps, prev, &dec, &ar, eb)))
		goto out;
	uint64_t t2 = time_mono_us();
	Cairn__Store__Snapshot *s = malloc(sizeof(*s));
	if (!s) {
		rc = errbuf_set(eb, -ENOMEM, "snapshot: out of memory");
		goto out;
	}
	cairn__store__snapshot__init(s);
	s->computed_ms = o->now_ms;
	s->facts_gen = gen;
	s->since_ms = o->since_ms;
	s->hosts = dm->nhosts;
	if ((rc = set_map(s, dm, &ar))) {
		cairn__store__snapshot__free_unpacked(s, NULL);
		errbuf_set(eb, rc, "snapshot: out of memory");
		goto out;
	}
	/* the apps move into the snapshot */
	s->apps = ar.apps;
	s->n_apps = ar.napps;
	ar.apps = NULL;
	ar.napps = 0;
	s->auto_groups = ar.auto_groups;
	s->n_auto_groups = ar.nauto;
	ar.auto_groups = NULL;
	ar.nauto = 0;
	uint64_t t3 = time_mono_us();
	if (o->with_plan) {
		struct plan_options po;
		plan_options_init(&po, o->now_ms);
		po.catalog_path = o->catalog_path;
		if (snapshot_waves.set) {
			po.wave_max_hosts = snapshot_waves.max_hosts;
			po.wave_min_hosts = snapshot_waves.min_hosts;
			po.wave_critical_after = snapshot_waves.critical_after;
		}
		struct errbuf peb = { { 0 } };
		int plrc = plan_compute(txn, env, &po, s, &peb);
		if (plrc)
			log_warn("snapshot: planning skipped: %s", peb.msg);
	}
	log_debug("snapshot: map %.3f s (%zu service edges), applications %.3f s (%zu), "
		  "protobuf %.3f s, planning %.3f s",
		  (double)(t1 - t0) / 1e6, dm->nsvc, (double)(t2 - t1) / 1e6, s->n_apps,
		  (double)(t3 - t2) / 1e6, (double)(time_mono_us() - t3) / 1e6);
	*out = s;
out:
	if (prev)
		cairn__store__snapshot__free_unpacked(prev, NULL);
	apps_result_free(&ar);
	apps_decisions_free(&dec);
	if (dm_out && !rc)
		*dm_out = dm;
	else
		depmap_free(dm);
	return rc;
}

/* ------------------------------------------------------------ store */

/* Older snapshots than the newest SNAPSHOT_KEEP (versions <= last_old) are
 * thinned to a history for `readiness --history`: the first of each hour of
 * the last SNAPSHOT_HOURLY_MS, the first of each day of the last
 * SNAPSHOT_DAILY_MS, stored without their map (most of the bytes); the rest
 * is deleted. Only the top level of each packed value is read (a few
 * hundred values at most), and a map is stripped once, when its snapshot
 * leaves the newest ones. Values that do not decode are deleted. */
static int thin_history(MDB_cursor *c, uint64_t last_old, int64_t now_ms)
{
	MDB_val k, v;
	int64_t prev_hour = INT64_MIN, prev_day = INT64_MIN;
	int rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8 || db_get_u64(k.mv_data) > last_old)
			break;
		struct read_snapshot_head h;
		bool keep = false;
		if (!read_snapshot_head(&v, &h)) {
			int64_t age = now_ms - h.computed_ms, hour = h.computed_ms / SNAPSHOT_HOUR_MS,
				day = h.computed_ms / STORE_DAY_MS;
			if (age <= SNAPSHOT_HOURLY_MS)
				keep = hour != prev_hour;
			else if (age <= SNAPSHOT_DAILY_MS)
				keep = day != prev_day;
			prev_hour = hour;
			prev_day = day;
		}
		if (!keep) {
			if ((rc = mdb_cursor_del(c, 0)))
				return rc;
			continue;
		}
		if (!h.has_map)
			continue;
		uint8_t *buf = malloc(v.mv_size);
		if (!buf)
			return -ENOMEM;
		long n = read_snapshot_strip_map(v.mv_data, v.mv_size, buf);
		if (n >= 0) {
			uint8_t key[8];
			memcpy(key, k.mv_data, 8);
			MDB_val nk = { 8, key }, nv = { (size_t)n, buf };
			rc = mdb_cursor_put(c, &nk, &nv, MDB_CURRENT);
		}
		free(buf);
		if (rc)
			return rc;
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct store_arg {
	Cairn__Store__Snapshot *snap;
	MDB_dbi dbi;
};

static int store_fn(MDB_txn *txn, void *arg)
{
	struct store_arg *a = arg;
	MDB_dbi dbi = a->dbi;
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t version = 1;
	int rc = mdb_cursor_open(txn, dbi, &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (!rc && k.mv_size == 8)
		version = db_get_u64(k.mv_data) + 1;
	a->snap->version = version;
	uint8_t key[8];
	db_put_u64(key, version);
	k.mv_size = 8;
	k.mv_data = key;
	v.mv_size = cairn__store__snapshot__get_packed_size(a->snap);
	v.mv_data = NULL;
	rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
	if (rc) {
		mdb_cursor_close(c);
		return rc;
	}
	cairn__store__snapshot__pack(a->snap, v.mv_data);
	if (version > SNAPSHOT_KEEP)
		rc = thin_history(c, version - SNAPSHOT_KEEP, a->snap->computed_ms);
	else
		rc = 0;
	mdb_cursor_close(c);
	return rc;
}

int snapshot_store(struct db_env *env, Cairn__Store__Snapshot *snap, struct errbuf *eb)
{
	struct store_arg a = { snap, env->dbi[STORE_SNAPSHOTS] };
	int rc = db_write(env, store_fn, &a);
	if (rc)
		return errbuf_set(eb, rc, "storing the snapshot: %s", db_strerror(rc));
	return 0;
}

int snapshot_refresh(struct db_env *env, const struct snapshot_opts *o,
		     Cairn__Store__Snapshot **out, struct errbuf *eb)
{
	if (out)
		*out = NULL;
	MDB_txn *txn;
	int rc = db_read_begin(env, &txn);
	if (rc)
		return errbuf_set(eb, rc, "reading the store: %s", db_strerror(rc));
	Cairn__Store__Snapshot *s = NULL;
	rc = snapshot_compute(txn, env, o, &s, NULL, eb);
	db_read_end(env, txn);
	if (rc)
		return rc;
	rc = snapshot_store(env, s, eb);
	if (rc || !out)
		cairn__store__snapshot__free_unpacked(s, NULL);
	else
		*out = s;
	return rc;
}

/* facts_gen of the latest snapshot, or -ENOENT. */
static int latest_gen(MDB_txn *txn, const struct db_env *env, uint64_t *gen)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_SNAPSHOTS], &c);
	if (rc)
		return rc;
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc) {
		mdb_cursor_close(c);
		return rc == MDB_NOTFOUND ? -ENOENT : rc;
	}
	/* facts_gen is field 3: the top level only is walked; a value that
	 * does not decode counts as gen 0 (stale) */
	struct read_snapshot_head h;
	*gen = read_snapshot_head(&v, &h) ? 0 : h.facts_gen;
	mdb_cursor_close(c);
	return 0; /* a snapshot exists; gen 0 when it never saw facts */
}

int snapshot_refresh_if_stale(struct db_env *env, int64_t now_ms, bool *refreshed,
			      struct errbuf *eb)
{
	if (refreshed)
		*refreshed = false;
	MDB_txn *txn;
	int rc = db_read_begin(env, &txn);
	if (rc)
		return errbuf_set(eb, rc, "reading the store: %s", db_strerror(rc));
	uint64_t facts = read_facts_gen(txn, env), snap = 0;
	int lrc = latest_gen(txn, env, &snap);
	db_read_end(env, txn);
	if (lrc && lrc != -ENOENT)
		return errbuf_set(eb, lrc, "reading DB snapshots: %s", db_strerror(lrc));
	if (lrc == 0 && snap == facts)
		return 0;
	if (lrc == -ENOENT && facts == 0)
		return 0;
	struct snapshot_opts o;
	snapshot_opts_default(&o, now_ms);
	uint64_t t0 = time_mono_ms();
	Cairn__Store__Snapshot *s = NULL;
	rc = snapshot_refresh(env, &o, &s, eb);
	if (rc)
		return rc;
	log_info("snapshot %llu: %u hosts, %zu applications, %zu host edges, facts_gen %llu, "
		 "%llu ms",
		 (unsigned long long)s->version, s->hosts, s->n_apps,
		 s->map ? s->map->n_host_edges : 0, (unsigned long long)s->facts_gen,
		 (unsigned long long)(time_mono_ms() - t0));
	cairn__store__snapshot__free_unpacked(s, NULL);
	if (refreshed)
		*refreshed = true;
	return 0;
}

int snapshot_get(struct db_env *env, bool fresh, bool writable, bool with_map, bool with_plan,
		 Cairn__Store__Snapshot **out, struct errbuf *eb)
{
	*out = NULL;
	MDB_txn *txn;
	int rc = db_read_begin(env, &txn);
	if (rc)
		return errbuf_set(eb, rc, "reading the store: %s", db_strerror(rc));
	uint64_t facts = read_facts_gen(txn, env), snap = 0;
	int lrc = latest_gen(txn, env, &snap);
	bool stale = lrc == -ENOENT || (writable && snap != facts);
	if (!fresh && !stale) {
		rc = read_snapshot_latest(txn, env, with_map, out, eb);
		db_read_end(env, txn);
		return rc;
	}
	struct snapshot_opts o;
	snapshot_opts_default(&o, time_now_ms());
	if (!writable) {
		o.with_plan = with_plan;
		rc = snapshot_compute(txn, env, &o, out, NULL, eb);
		db_read_end(env, txn);
		return rc;
	}
	db_read_end(env, txn);
	return snapshot_refresh(env, &o, out, eb);
}

/* ---- lookups in a snapshot ---- */

const Cairn__Store__Readiness *snapshot_readiness(const Cairn__Store__Snapshot *s, const char *target)
{
	for (size_t i = 0; i < s->n_readiness; i++)
		if (!strcmp(s->readiness[i]->target, target))
			return s->readiness[i];
	return NULL;
}

const Cairn__Store__Sizing *snapshot_sizing(const Cairn__Store__Snapshot *s, const char *host)
{
	for (size_t i = 0; i < s->n_sizing; i++)
		if (!strcmp(s->sizing[i]->host, host))
			return s->sizing[i];
	return NULL;
}

const char *snapshot_host_name(const Cairn__Store__Snapshot *s, const char *host)
{
	const Cairn__Store__Readiness *r = snapshot_readiness(s, host);
	if (r && *r->name)
		return r->name;
	for (size_t i = 0; s->map && i < s->map->n_nodes; i++)
		if (!strcmp(s->map->nodes[i]->id, host) && *s->map->nodes[i]->name)
			return s->map->nodes[i]->name;
	return host;
}

struct snapshot_name {
	const char *id, *name;
	int rank; /* 0: readiness name, 1: map node name; the lower wins */
};

static int cmp_name(const void *x, const void *y)
{
	const struct snapshot_name *a = x, *b = y;
	int c = strcmp(a->id, b->id);
	return c ? c : a->rank - b->rank;
}

int snapshot_names_build(const Cairn__Store__Snapshot *s, struct snapshot_names *out)
{
	size_t nodes = s->map ? s->map->n_nodes : 0;
	out->n = 0;
	out->v = malloc((s->n_readiness + nodes + 1) * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_readiness; i++)
		if (*s->readiness[i]->name)
			out->v[out->n++] = (struct snapshot_name){ s->readiness[i]->target,
								  s->readiness[i]->name, 0 };
	for (size_t i = 0; i < nodes; i++)
		if (*s->map->nodes[i]->name)
			out->v[out->n++] = (struct snapshot_name){ s->map->nodes[i]->id,
								  s->map->nodes[i]->name, 1 };
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_name);
	return 0;
}

const char *snapshot_names_get(const struct snapshot_names *nm, const char *host)
{
	size_t lo = 0, hi = nm->n;
	while (lo < hi) { /* first entry with id >= host */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(nm->v[mid].id, host) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nm->n && !strcmp(nm->v[lo].id, host) ? nm->v[lo].name : host;
}

void snapshot_names_free(struct snapshot_names *nm)
{
	free(nm->v);
	nm->v = NULL;
	nm->n = 0;
}

const Cairn__Store__App *snapshot_app(const Cairn__Store__Snapshot *s, const char *id)
{
	for (size_t i = 0; i < s->n_apps; i++)
		if (!strcmp(s->apps[i]->id, id))
			return s->apps[i];
	return NULL;
}

/* ---- snapshot_index ---- */

struct snapshot_ref {
	const char *id;
	const void *v;
	size_t at;                  /* position in the snapshot: the first match wins */
	uint32_t j;                 /* waves: the app's place in its wave */
};

static int cmp_ref(const void *x, const void *y)
{
	const struct snapshot_ref *a = x, *b = y;
	int c = strcmp(a->id, b->id);
	return c ? c : (a->at > b->at) - (a->at < b->at);
}

static const struct snapshot_ref *ref_find(const struct snapshot_ref *v, size_t n, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* the first entry with id >= the key */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(v[lo].id, id) ? &v[lo] : NULL;
}

void snapshot_index_build(const Cairn__Store__Snapshot *s, struct snapshot_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	ix->s = s;
	size_t nw = 0;
	for (size_t i = 0; i < s->n_waves; i++)
		nw += s->waves[i]->n_apps;
	ix->ready = malloc((s->n_readiness + 1) * sizeof(*ix->ready));
	ix->apps = malloc((s->n_apps + 1) * sizeof(*ix->apps));
	ix->waves = malloc((nw + 1) * sizeof(*ix->waves));
	if (!ix->ready || !ix->apps || !ix->waves) {
		snapshot_index_free(ix);
		ix->s = s;
		ix->linear = true;
		return;
	}
	for (size_t i = 0; i < s->n_readiness; i++)
		ix->ready[ix->nready++] = (struct snapshot_ref){ s->readiness[i]->target,
								 s->readiness[i], i, 0 };
	for (size_t i = 0; i < s->n_apps; i++)
		ix->apps[ix->napps++] = (struct snapshot_ref){ s->apps[i]->id, s->apps[i], i, 0 };
	for (size_t i = 0, at = 0; i < s->n_waves; i++)
		for (size_t j = 0; j < s->waves[i]->n_apps; j++)
			ix->waves[ix->nwaves++] = (struct snapshot_ref){ s->waves[i]->apps[j],
									 s->waves[i], at++,
									 (uint32_t)j };
	if (ix->nready)
		qsort(ix->ready, ix->nready, sizeof(*ix->ready), cmp_ref);
	if (ix->napps)
		qsort(ix->apps, ix->napps, sizeof(*ix->apps), cmp_ref);
	if (ix->nwaves)
		qsort(ix->waves, ix->nwaves, sizeof(*ix->waves), cmp_ref);
}

const Cairn__Store__Readiness *snapshot_index_readiness(const struct snapshot_index *ix,
							 const char *target)
{
	if (ix->linear)
		return snapshot_readiness(ix->s, target);
	const struct snapshot_ref *r = ref_find(ix->ready, ix->nready, target);
	return r ? r->v : NULL;
}

const Cairn__Store__App *snapshot_index_app(const struct snapshot_index *ix, const char *id)
{
	if (ix->linear)
		return snapshot_app(ix->s, id);
	const struct snapshot_ref *r = ref_find(ix->apps, ix->napps, id);
	return r ? r->v : NULL;
}

const Cairn__Store__Wave *snapshot_index_wave(const struct snapshot_index *ix, const char *app_id,
					      const Cairn__Store__WavePlacement **pl)
{
	if (pl)
		*pl = NULL;
	if (ix->linear) {
		const Cairn__Store__Snapshot *s = ix->s;
		for (size_t i = 0; i < s->n_waves; i++)
			for (size_t j = 0; j < s->waves[i]->n_apps; j++)
				if (!strcmp(s->waves[i]->apps[j], app_id)) {
					if (pl && j < s->waves[i]->n_placements)
						*pl = s->waves[i]->placements[j];
					return s->waves[i];
				}
		return NULL;
	}
	const struct snapshot_ref *r = ref_find(ix->waves, ix->nwaves, app_id);
	if (!r)
		return NULL;
	const Cairn__Store__Wave *w = r->v;
	if (pl && r->j < w->n_placements)
		*pl = w->placements[r->j];
	return w;
}

void snapshot_index_free(struct snapshot_index *ix)
{
	free(ix->ready);
	free(ix->apps);
	free(ix->waves);
	memset(ix, 0, sizeof(*ix));
}

int snapshot_host_apps_build(const Cairn__Store__Snapshot *s, struct snapshot_names *out)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_apps; i++)
		n += s->apps[i]->n_hosts;
	out->n = 0;
	out->v = malloc((n + 1) * sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			out->v[out->n++] = (struct snapshot_name){ s->apps[i]->hosts[j], s->apps[i]->id, 0 };
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_name);
	return 0;
}

const char *snapshot_host_apps_get(const struct snapshot_names *ha, const char *host)
{
	const char *app = snapshot_names_get(ha, host);
	return app == host ? NULL : app;
}

const char *snapshot_app_of_host(const Cairn__Store__Snapshot *s, const char *host)
{
	for (size_t i = 0; i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			if (!strcmp(s->apps[i]->hosts[j], host))
				return s->apps[i]->id;
	return NULL;
}

/* Drops the entries of v[0..*n) keep says no to, freeing them. */
static void keep_rows(void **v, size_t *n, bool (*keep)(const void *row, void *arg), void *arg)
{
	size_t out = 0;
	for (size_t i = 0; i < *n; i++) {
		if (keep(v[i], arg))
			v[out++] = v[i];
		else
			protobuf_c_message_free_unpacked(v[i], NULL);
	}
	*n = out;
}

struct keep_ctx {
	const struct snapshot_keep *k;
	const Cairn__Store__Snapshot *s;
	struct snapshot_names apps;   /* host -> app id */
};

static bool keep_app_row(const void *row, void *arg)
{
	const struct keep_ctx *c = arg;
	return c->k->app(row, c->k->arg);
}

static bool keep_readiness_row(const void *row, void *arg)
{
	const struct keep_ctx *c = arg;
	const Cairn__Store__Readiness *r = row;
	if (!strcmp(r->kind, "host"))
		return c->k->host(r->target, snapshot_host_apps_get(&c->apps, r->target), c->k->arg);
	const Cairn__Store__App *a = snapshot_app(c->s, r->target);
	return a && c->k->app(a, c->k->arg);
}

static bool keep_sizing_row(const void *row, void *arg)
{
	const struct keep_ctx *c = arg;
	const Cairn__Store__Sizing *z = row;
	return c->k->host(z->host, *z->app_id ? z->app_id : NULL, c->k->arg);
}

int snapshot_keep(Cairn__Store__Snapshot *s, const struct snapshot_keep *k)
{
	struct keep_ctx c = { k, s, { 0 } };
	if (snapshot_host_apps_build(s, &c.apps))
		return -ENOMEM;
	/* decide on the rows before the applications they name are dropped */
	keep_rows((void **)s->readiness, &s->n_readiness, keep_readiness_row, &c);
	keep_rows((void **)s->sizing, &s->n_sizing, keep_sizing_row, &c);
	snapshot_names_free(&c.apps);
	for (size_t w = 0; w < s->n_waves; w++) {
		Cairn__Store__Wave *wv = s->waves[w];
		bool why_per_app = wv->n_why == wv->n_apps;
		bool placement_per_app = wv->n_placements == wv->n_apps; /* the wave rules' */
		size_t out = 0;
		uint32_t hosts = 0;
		for (size_t i = 0; i < wv->n_apps; i++) {
			const Cairn__Store__App *a = snapshot_app(s, wv->apps[i]);
			if (!a || !k->app(a, k->arg)) {
				free(wv->apps[i]);
				if (why_per_app)
					free(wv->why[i]);
				if (placement_per_app)
					cairn__store__wave_placement__free_unpacked(wv->placements[i], NULL);
				continue;
			}
			hosts += (uint32_t)a->n_hosts;
			wv->apps[out] = wv->apps[i];
			if (why_per_app)
				wv->why[out] = wv->why[i];
			if (placement_per_app)
				wv->placements[out] = wv->placements[i];
			out++;
		}
		wv->n_apps = out;
		if (why_per_app)
			wv->n_why = out;
		if (placement_per_app)
			wv->n_placements = out;
		wv->hosts = hosts;
	}
	keep_rows((void **)s->apps, &s->n_apps, keep_app_row, &c);
	return 0;
}
