/* Gathers the planning inputs of every host: the caller's read transaction,
 * and on a machine with more than one CPU worker threads beside it, each in a
 * read transaction of its own (hosts are independent of each other). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estate.h"
#include "log.h"
#include "read.h"
#include "rollup.h"
#include "store.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

_Static_assert((int)ESTATE_NMETRICS == (int)ROLLUP_NMETRICS &&
		       (int)ESTATE_DISK_IOPS == (int)ROLLUP_DISK_IOPS &&
		       (int)ESTATE_NET_TX_BPS == (int)ROLLUP_NET_TX_BPS,
	       "estate_metric and rollup_metric list the same metrics in the same order");

double estate_percentile(double *v, size_t n, double pct)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	if (pct <= 0)
		return v[0];
	double rank = ceil(pct / 100.0 * (double)n);
	size_t i = rank < 1 ? 0 : (size_t)rank - 1;
	if (i >= n)
		i = n - 1;
	return v[i];
}

void estate_host_free(struct estate_host *h)
{
	if (h->facts)
		cairn__store__host_facts__free_unpacked(h->facts, NULL);
	if (h->procs)
		cairn__process_snapshot__free_unpacked(h->procs, NULL);
	if (h->listeners)
		cairn__listener_set__free_unpacked(h->listeners, NULL);
	for (size_t i = 0; i < h->npkgs; i++)
		cairn__package_inventory__free_unpacked(h->pkgs[i], NULL);
	free(h->pkgs);
	if (h->import)
		cairn__store__imported_server__free_unpacked(h->import, NULL);
	memset(h, 0, sizeof(*h));
}

void estate_free(struct estate *e)
{
	for (size_t i = 0; i < e->n; i++)
		estate_host_free(&e->hosts[i]);
	free(e->hosts);
	memset(e, 0, sizeof(*e));
}

struct estate_host *estate_find(const struct estate *e, const char *id)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->hosts[i].id, id))
			return &e->hosts[i];
	return NULL;
}

double estate_coverage(const struct estate_host *h, int64_t since_ms, int64_t now_ms)
{
	if (!h->windows || !h->window_ms || now_ms <= since_ms)
		return 0;
	double expected = floor((double)(now_ms - since_ms) / (double)h->window_ms);
	if (expected < 1)
		expected = 1;
	double c = (double)h->windows / expected;
	return c > 1 ? 1 : c;
}


/* The perf statistics of [a, b) into acc, in time order: the rollups of the
 * whole weeks inside it (those meta "weeks_from" says are complete), then of
 * whole days, then hours, raw windows for the rest. level 0 = weeks, 1 =
 * days, 2 = hours, 3 = raw windows. */
struct perf_walk {
	MDB_txn *txn;
	const struct db_env *env;
	const uint8_t *id;
	struct rollup *acc;
	size_t undecodable;
	bool raw_only;
	uint32_t weeks_from;   /* UINT32_MAX: no week rollups */
};

static int64_t div_floor(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t unit_start(int level, int64_t u)
{
	switch (level) {
	case 0:
		return (7 * u - 3) * STORE_DAY_MS;
	case 1:
		return u * STORE_DAY_MS;
	default:
		return u * ROLLUP_HOUR_MS;
	}
}

/* The units that lie wholly inside [a, b): [*u0, *u1). */
static void unit_span(const struct perf_walk *w, int level, int64_t a, int64_t b, int64_t *u0,
		      int64_t *u1)
{
	if (level == 0) {
		int64_t ad = div_floor(a + STORE_DAY_MS - 1, STORE_DAY_MS), bd = div_floor(b, STORE_DAY_MS);
		*u0 = div_floor(ad + 3 + 6, 7);
		*u1 = div_floor(bd + 3, 7);
		if (*u0 < 1)
			*u0 = 1;
		if (*u0 < (int64_t)w->weeks_from)
			*u0 = w->weeks_from;
		return;
	}
	int64_t unit = level == 1 ? STORE_DAY_MS : ROLLUP_HOUR_MS;
	*u0 = div_floor(a + unit - 1, unit);
	*u1 = div_floor(b, unit);
	if (*u0 < 0)
		*u0 = 0;
}

static const enum store_db level_db[] = { STORE_PERF_WEEK, STORE_PERF_DAY, STORE_PERF_HOUR };

/* Whether unit u of a level has a rollup whose windows all started in [a, b). */
static bool unit_fits(const struct perf_walk *w, int level, int64_t u, int64_t a, int64_t b)
{
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, w->id, 32);
	db_key_u32(&k, (uint32_t)u);
	MDB_val key = db_key_val(&k), val;
	if (mdb_get(w->txn, w->env->dbi[level_db[level]], &key, &val))
		return false;
	int64_t first, last;
	if (rollup_packed_span(val.mv_data, val.mv_size, &first, &last))
		return false;
	return first >= a && last < b;
}

static int perf_reduce(struct perf_walk *w, int level, int64_t a, int64_t b)
{
	if (b <= a)
		return 0;
	if (level == 0 && w->weeks_from == UINT32_MAX)
		level = 1;
	if (level >= 3 || w->raw_only)
		return rollup_scan_raw(w->txn, w->env->dbi[STORE_PERF], w->id, a, b, w->acc,
				       &w->undecodable);
	int64_t u0, u1;
	unit_span(w, level, a, b, &u0, &u1);
	int64_t first_unit = level == 0 ? (w->weeks_from > 1 ? w->weeks_from : 1) : 0;
	/* A unit that straddles an end of the period is taken whole when every
	 * window it holds started inside the period (its span says so): at the
	 * end that is the unit holding "now", at the start one whose windows
	 * began after the period did. */
	if (u1 >= first_unit && u1 < UINT32_MAX && unit_start(level, u1) < b &&
	    unit_fits(w, level, u1, a, b)) {
		if (u0 > u1)
			u0 = u1;
		u1++;
	}
	if (u0 - 1 >= first_unit && u0 - 1 < u1 && unit_start(level, u0 - 1) < a &&
	    u0 - 1 < UINT32_MAX && unit_fits(w, level, u0 - 1, a, b))
		u0--;
	if (u0 >= u1 || u1 > UINT32_MAX)
		return perf_reduce(w, level + 1, a, b);
	MDB_cursor *cur;
	int rc = mdb_cursor_open(w->txn, w->env->dbi[level_db[level]], &cur);
	if (rc)
		return rc;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, w->id, 32);
	db_key_u32(&k, (uint32_t)u0);
	MDB_val key = db_key_val(&k), val;
	int64_t pos = a;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (!rc) {
		if (key.mv_size != 36 || memcmp(key.mv_data, w->id, 32))
			break;
		int64_t u = db_get_u32((const uint8_t *)key.mv_data + 32);
		if (u >= u1)
			break;
		/* what lies before this unit and after the previous one */
		rc = perf_reduce(w, level + 1, pos, unit_start(level, u));
		if (rc)
			break;
		/* a merge that fails half way leaves acc partly merged: reduce the
		 * unit's raw windows into a fresh accumulator instead is not
		 * possible either (they may be pruned), so count it and go on */
		rc = rollup_merge_packed(w->acc, val.mv_data, val.mv_size);
		if (rc == -EBADMSG)
			w->undecodable++;
		else if (rc)
			break;
		rc = 0;
		pos = unit_start(level, u + 1);
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	return perf_reduce(w, level + 1, pos, b);
}

static int load_perf(MDB_txn *txn, const struct db_env *env, struct estate_host *h,
		     int64_t since_ms, int64_t now_ms, const struct estate_opts *o)
{
	struct rollup acc = { 0 };
	struct perf_walk w = { .txn = txn, .env = env, .id = h->raw_id, .acc = &acc,
			       .raw_only = o->raw_only,
			       .weeks_from = o->days_only ? UINT32_MAX : store_weeks_from(txn, env) };
	int rc = perf_reduce(&w, 0, since_ms > 0 ? since_ms : 0, now_ms);
	if (w.undecodable)
		log_warn("perf of host %s: %zu undecodable values, skipped", h->id, w.undecodable);
	if (acc.bad)
		log_warn("perf windows of host %s: %llu statistics NaN, infinite or negative, ignored",
			 h->id, (unsigned long long)acc.bad);
	h->windows = acc.windows;
	for (int m = 0; m < ESTATE_NMETRICS; m++) {
		h->stat[m].avg = acc.weight ? acc.m[m].wsum / (double)acc.weight : 0;
		h->stat[m].max = acc.m[m].max;
		h->stat[m].pctl = rollup_percentile(&acc, (enum rollup_metric)m, o->percentile);
	}
	h->window_ms = rollup_median_length(&acc);
	h->cpu_peak_p95 = acc.cpu_peak_p95;
	h->net_avg_peak = acc.net_avg_peak;
	h->first_ms = acc.first_ms;
	h->last_ms = acc.last_ms;
	if (!h->cpu_threads)
		h->cpu_threads = acc.cpu_threads;
	if (!h->mem_total)
		h->mem_total = acc.mem_total;
	rollup_free(&acc);
	return rc;
}

struct edge_count {
	struct estate_host *h;
	int64_t since_ms, now_ms;
	const struct estate_opts *o;
};

static int count_edge(void *ctx, const MDB_val *k, const MDB_val *v)
{
	(void)k;
	struct edge_count *c = ctx;
	struct read_edge_view e;
	if (!read_edge_view(v, &e) || !e.has_edge || e.last_seen_ms < c->since_ms ||
	    e.first_seen_ms >= c->now_ms)
		return 0;
	if (e.direction != CAIRN__DIRECTION__INBOUND ||
	    (c->o->skip_inbound_port && c->o->skip_inbound_port(e.local_port)))
		return 0;
	c->h->inbound_edges++;
	return 1; /* one is enough: the walk stops */
}

static int load_edges(MDB_txn *txn, const struct db_env *env, struct estate_host *h,
		      int64_t since_ms, int64_t now_ms, const struct estate_opts *o)
{
	struct read_edge_walk w;
	int rc = read_edge_walk_open(&w, txn, env, !o->days_only);
	if (rc)
		return rc;
	struct edge_count c = { h, since_ms, now_ms, o };
	rc = read_edge_walk_agent(&w, h->raw_id, since_ms, count_edge, &c);
	read_edge_walk_close(&w);
	return rc == 1 ? 0 : rc;
}

static int load_packages(MDB_txn *txn, const struct db_env *env, struct estate_host *h)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_PACKAGES], &cur);
	if (rc)
		return rc;
	MDB_val key = { 32, h->raw_id }, val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (!rc) {
		if (key.mv_size < 32 || memcmp(key.mv_data, h->raw_id, 32))
			break;
		Cairn__PackageInventory *pi =
			cairn__package_inventory__unpack(NULL, val.mv_size, val.mv_data);
		if (pi) {
			Cairn__PackageInventory **v = realloc(h->pkgs, (h->npkgs + 1) * sizeof(*v));
			if (!v) {
				cairn__package_inventory__free_unpacked(pi, NULL);
				mdb_cursor_close(cur);
				return -ENOMEM;
			}
			h->pkgs = v;
			h->pkgs[h->npkgs++] = pi;
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || !rc ? 0 : rc;
}

static void stat_set(struct estate_stat *s, const Cairn__Store__ImportFigure *f, double scale,
		     double fallback)
{
	if (!f || (!f->has_avg && !f->has_max)) {
		s->avg = s->max = s->pctl = fallback;
		return;
	}
	double avg = (f->has_avg ? f->avg : f->max) * scale;
	double max = (f->has_max ? f->max : f->avg) * scale;
	*s = (struct estate_stat){ avg, max, max };
}

/* stat[] from what the import gave, for a host without windows (estate.h). */
static void import_stats(struct estate_host *h)
{
	const Cairn__Store__ImportFacts *f = h->import ? h->import->facts : NULL;
	if (!f || h->windows || (!f->cpu_pct && !f->ram_used_mib))
		return;
	h->import_stats = true;
	double threads = h->cpu_threads;
	stat_set(&h->stat[ESTATE_CPU_PCT], f->cpu_pct, 1, 100);
	stat_set(&h->stat[ESTATE_CPU_VCPU], f->cpu_pct, threads / 100, threads);
	stat_set(&h->stat[ESTATE_MEM_USED], f->ram_used_mib, 1048576.0, (double)h->mem_total);
	stat_set(&h->stat[ESTATE_DISK_READ_BPS], f->disk_read_kbps, 1024, 0);
	stat_set(&h->stat[ESTATE_DISK_WRITE_BPS], f->disk_write_kbps, 1024, 0);
	stat_set(&h->stat[ESTATE_DISK_READ_OPS], f->disk_read_ops, 1, 0);
	stat_set(&h->stat[ESTATE_DISK_WRITE_OPS], f->disk_write_ops, 1, 0);
	stat_set(&h->stat[ESTATE_NET_RX_BPS], f->net_rx_kbps, 1024, 0);
	stat_set(&h->stat[ESTATE_NET_TX_BPS], f->net_tx_kbps, 1024, 0);
	const struct estate_stat *r = &h->stat[ESTATE_DISK_READ_OPS], *w = &h->stat[ESTATE_DISK_WRITE_OPS];
	h->stat[ESTATE_DISK_IOPS] = (struct estate_stat){ r->avg + w->avg, r->max + w->max, r->pctl + w->pctl };
	r = &h->stat[ESTATE_DISK_READ_BPS], w = &h->stat[ESTATE_DISK_WRITE_BPS];
	h->stat[ESTATE_DISK_BPS] = (struct estate_stat){ r->avg + w->avg, r->max + w->max, r->pctl + w->pctl };
	h->cpu_peak_p95 = h->stat[ESTATE_CPU_PCT].max;
	h->net_avg_peak = h->stat[ESTATE_NET_RX_BPS].avg + h->stat[ESTATE_NET_TX_BPS].avg;
}

static int get_one(MDB_txn *txn, const struct db_env *env, enum store_db db,
		   const uint8_t id[32], MDB_val *val)
{
	MDB_val key = { 32, (void *)id };
	return mdb_get(txn, env->dbi[db], &key, val);
}

static int load_host(MDB_txn *txn, const struct db_env *env, struct estate_host *h,
		     int64_t since_ms, int64_t now_ms, const struct estate_opts *o)
{
	MDB_val v;
	hex_encode(h->id, h->raw_id, 32);
	if (!get_one(txn, env, STORE_HOSTS, h->raw_id, &v))
		h->facts = cairn__store__host_facts__unpack(NULL, v.mv_size, v.mv_data);
	if (!get_one(txn, env, STORE_PROCS, h->raw_id, &v))
		h->procs = cairn__process_snapshot__unpack(NULL, v.mv_size, v.mv_data);
	if (!get_one(txn, env, STORE_LISTENERS, h->raw_id, &v))
		h->listeners = cairn__listener_set__unpack(NULL, v.mv_size, v.mv_data);
	if (!get_one(txn, env, STORE_IMPORTS, h->raw_id, &v))
		h->import = cairn__store__imported_server__unpack(NULL, v.mv_size, v.mv_data);
	if (h->facts && h->facts->info) {
		const Cairn__HostInfo *hi = h->facts->info;
		if (*hi->hostname)
			str_copy(h->name, hi->hostname, sizeof(h->name));
		h->cpu_threads = hi->cpu_threads;
		h->mem_total = hi->mem_total_bytes;
	}
	if (!*h->name && !get_one(txn, env, STORE_AGENTS, h->raw_id, &v)) {
		Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
		if (a) {
			str_copy(h->name, a->hostname, sizeof(h->name));
			cairn__store__agent__free_unpacked(a, NULL);
		}
	}
	if (!*h->name)
		snprintf(h->name, sizeof(h->name), "%.16s", h->id);
	int rc = load_packages(txn, env, h);
	if (!rc)
		rc = load_perf(txn, env, h, since_ms, now_ms, o);
	if (!rc)
		rc = load_edges(txn, env, h, since_ms, now_ms, o);
	if (!rc)
		import_stats(h);
	return rc;
}

/* Appends the ids of a DB keyed by agent_id (32 bytes); estate_load sorts
 * and de-duplicates them afterwards. */
static int collect_ids(MDB_txn *txn, const struct db_env *env, enum store_db db, bool accepted_only,
		       uint8_t (**ids)[32], size_t *n)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[db], &cur);
	if (rc)
		return rc;
	MDB_val key, val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	while (!rc) {
		bool take = key.mv_size == 32;
		if (take && accepted_only) {
			Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, val.mv_size, val.mv_data);
			take = a && a->state == CAIRN__STORE__ENROLL_STATE__ACCEPTED;
			if (a)
				cairn__store__agent__free_unpacked(a, NULL);
		}
		if (take) {
			uint8_t (*v)[32] = realloc(*ids, (*n + 1) * sizeof(*v));
			if (!v) {
				mdb_cursor_close(cur);
				return -ENOMEM;
			}
			*ids = v;
			memcpy((*ids)[(*n)++], key.mv_data, 32);
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static size_t unique_ids(uint8_t (*ids)[32], size_t n)
{
	if (!n)
		return 0;
	qsort(ids, n, 32, cmp_id);
	size_t out = 1;
	for (size_t i = 1; i < n; i++)
		if (memcmp(ids[out - 1], ids[i], 32))
			memcpy(ids[out++], ids[i], 32);
	return out;
}

static int64_t oldest_perf(MDB_txn *txn, const struct db_env *env, const uint8_t (*ids)[32], size_t n)
{
	int64_t oldest = 0;
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, env->dbi[STORE_PERF], &cur))
		return 0;
	for (size_t i = 0; i < n; i++) {
		MDB_val key = { 32, (void *)ids[i] }, val;
		if (mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE))
			continue;
		if (key.mv_size != 40 || memcmp(key.mv_data, ids[i], 32))
			continue;
		int64_t t = (int64_t)db_get_u64((const uint8_t *)key.mv_data + 32);
		if (!oldest || t < oldest)
			oldest = t;
	}
	mdb_cursor_close(cur);
	return oldest;
}

/* The period actually used: since_ms 0 = the last default_days, or less when
 * the data of ids is younger. */
static int64_t resolve_since(MDB_txn *txn, const struct db_env *env, const struct estate_opts *o,
			     const uint8_t (*ids)[32], size_t n)
{
	int64_t since_ms = o->since_ms, now_ms = o->now_ms;
	if (since_ms <= 0) {
		int64_t floor_ms = now_ms - (int64_t)o->default_days * STORE_DAY_MS;
		since_ms = oldest_perf(txn, env, ids, n);
		if (since_ms < floor_ms)
			since_ms = floor_ms;
	}
	if (since_ms <= 0 || since_ms > now_ms)
		since_ms = now_ms;
	return since_ms;
}

int estate_load_host(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		     const struct estate_opts *o, struct estate_host *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->raw_id, id, 32);
	const uint8_t (*ids)[32] = (const uint8_t (*)[32])id;
	int64_t since_ms = resolve_since(txn, env, o, ids, 1);
	int rc = load_host(txn, env, out, since_ms, o->now_ms, o);
	if (rc) {
		errbuf_set(eb, rc, "reading host %s: %s", out->id, db_strerror(rc));
		estate_host_free(out);
	}
	return rc;
}

/* Hosts below this are loaded by the calling thread alone. */
#define LOAD_PARALLEL_MIN 64
#define LOAD_CHUNK 16
#define LOAD_THREADS_MAX 4

struct load_job {
	const struct db_env *env;
	const struct estate_opts *o;
	struct estate *out;
	const uint8_t (*ids)[32];
	size_t n;
	int64_t since_ms;
	size_t snapshot;   /* the caller's transaction id: workers read only that snapshot */
	atomic_size_t next;
	atomic_bool stop;
	pthread_mutex_t lock;
	int rc;            /* the failure at the lowest host index, under lock */
	size_t rc_host;
};

/* Loads hosts in chunks from the shared counter until none are left or a
 * host failed; returns nothing: a failure is kept in the job. */
static void load_range(struct load_job *j, MDB_txn *txn)
{
	while (!atomic_load(&j->stop)) {
		size_t i = atomic_fetch_add(&j->next, LOAD_CHUNK);
		if (i >= j->n)
			return;
		size_t end = i + LOAD_CHUNK < j->n ? i + LOAD_CHUNK : j->n;
		for (; i < end; i++) {
			struct estate_host *h = &j->out->hosts[i];
			memcpy(h->raw_id, j->ids[i], 32);
			int rc = load_host(txn, j->env, h, j->since_ms, j->out->now_ms, j->o);
			if (!rc)
				continue;
			pthread_mutex_lock(&j->lock);
			if (!j->rc || i < j->rc_host) {
				j->rc = rc;
				j->rc_host = i;
			}
			pthread_mutex_unlock(&j->lock);
			atomic_store(&j->stop, true);
			return;
		}
	}
}

/* A worker reads in a transaction of its own, and only when that shows the
 * caller's snapshot (nothing committed since the caller began): a newer one
 * would add windows that arrived meanwhile to some hosts and not to others,
 * and the answer would depend on which thread read which host. Where it
 * cannot get one (the reader table is full, the map was grown by another
 * process, serve committed), it loads nothing and the calling thread does its
 * share. The transaction is begun without db.c's resize gate on purpose: the
 * caller's transaction holds the gate for the worker's whole life, so the map
 * cannot be resized under it, and waiting at the gate behind a pending
 * resize would wait for the caller, which waits for the worker. */
static void *load_worker(void *arg)
{
	struct load_job *j = arg;
	MDB_txn *txn;
	if (mdb_txn_begin(j->env->env, NULL, MDB_RDONLY, &txn))
		return NULL;
	/* A commit since the caller began means another snapshot: its hosts
	 * would not agree with the caller's list and map; leave them to the
	 * threads that read the caller's snapshot. */
	if (mdb_txn_id(txn) == j->snapshot)
		load_range(j, txn);
	mdb_txn_abort(txn);
	return NULL;
}

static unsigned load_threads(const struct estate_opts *o, size_t n)
{
	if (o->threads == 1 || n < LOAD_PARALLEL_MIN)
		return 1;
	if (o->threads)
		return o->threads < LOAD_THREADS_MAX ? o->threads : LOAD_THREADS_MAX;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		return 1;
	return cpus < LOAD_THREADS_MAX ? (unsigned)cpus : LOAD_THREADS_MAX;
}

int estate_load(MDB_txn *txn, const struct db_env *env, const struct estate_opts *o,
		struct estate *out, struct errbuf *eb)
{
	int64_t now_ms = o->now_ms;
	memset(out, 0, sizeof(*out));
	uint8_t (*ids)[32] = NULL;
	size_t n = 0;
	int rc = collect_ids(txn, env, STORE_HOSTS, false, &ids, &n);
	if (!rc)
		rc = collect_ids(txn, env, STORE_AGENTS, true, &ids, &n);
	if (rc) {
		free(ids);
		return errbuf_set(eb, rc, "reading the host list: %s", db_strerror(rc));
	}
	n = unique_ids(ids, n);
	int64_t since_ms = resolve_since(txn, env, o, (const uint8_t (*)[32])ids, n);
	out->since_ms = since_ms;
	out->now_ms = now_ms;
	out->hosts = calloc(n ? n : 1, sizeof(*out->hosts));
	if (!out->hosts) {
		free(ids);
		return errbuf_set(eb, -ENOMEM, "out of memory loading %zu hosts", n);
	}
	/* every slot is filled (or left zeroed, which estate_free takes) */
	out->n = n;
	struct load_job j = { .env = env, .o = o, .out = out,
			      .ids = (const uint8_t (*)[32])ids, .n = n, .since_ms = since_ms,
			      .snapshot = mdb_txn_id(txn) };
	atomic_init(&j.next, 0);
	atomic_init(&j.stop, false);
	pthread_mutex_init(&j.lock, NULL);
	pthread_t tid[LOAD_THREADS_MAX];
	unsigned nt = 0, want = load_threads(o, n);
	while (nt + 1 < want && !pthread_create(&tid[nt], NULL, load_worker, &j))
		nt++;
	load_range(&j, txn);
	for (unsigned t = 0; t < nt; t++)
		pthread_join(tid[t], NULL);
	pthread_mutex_destroy(&j.lock);
	free(ids);
	if (j.rc) {
		struct estate_host *h = &out->hosts[j.rc_host];
		errbuf_set(eb, j.rc, "reading host %s: %s", h->id, db_strerror(j.rc));
		estate_free(out);
		return j.rc;
	}
	return 0;
}
