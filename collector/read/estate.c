/* Gathers the planning inputs of every host from one read transaction. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estate.h"
#include "log.h"
#include "store.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

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


/* Per-window value of each metric: average, peak and p95 (sums over devices). */
struct win_vals {
	double avg[ESTATE_NMETRICS], max[ESTATE_NMETRICS], p95[ESTATE_NMETRICS];
	size_t bad; /* statistics ignored: NaN, infinite or negative */
};

static bool stat_sane(const Cairn__Stat *s)
{
	return isfinite(s->avg) && isfinite(s->max) && isfinite(s->p95) && s->avg >= 0 &&
	       s->max >= 0 && s->p95 >= 0;
}

/* A stored statistic that is not a finite non-negative number (a broken or
 * hostile agent) is left out: one NaN would otherwise make every instance
 * "fit" and turn the JSON export into an error. */
static void add_stat(struct win_vals *w, enum estate_metric m, const Cairn__Stat *s, double scale)
{
	if (!s)
		return;
	if (!stat_sane(s)) {
		w->bad++;
		return;
	}
	w->avg[m] += s->avg * scale;
	w->max[m] += s->max * scale;
	w->p95[m] += s->p95 * scale;
}

static void window_values(const Cairn__PerfWindow *pw, struct win_vals *w)
{
	memset(w, 0, sizeof(*w));
	add_stat(w, ESTATE_CPU_PCT, pw->cpu_busy_pct, 1);
	add_stat(w, ESTATE_CPU_VCPU, pw->cpu_busy_pct, pw->cpu_threads / 100.0);
	add_stat(w, ESTATE_MEM_USED, pw->mem_used_bytes, 1);
	for (size_t i = 0; i < pw->n_disks; i++) {
		const Cairn__DiskPerf *d = pw->disks[i];
		add_stat(w, ESTATE_DISK_READ_BPS, d->read_bytes_ps, 1);
		add_stat(w, ESTATE_DISK_WRITE_BPS, d->write_bytes_ps, 1);
		add_stat(w, ESTATE_DISK_READ_OPS, d->read_ops_ps, 1);
		add_stat(w, ESTATE_DISK_WRITE_OPS, d->write_ops_ps, 1);
		add_stat(w, ESTATE_DISK_IOPS, d->read_ops_ps, 1);
		add_stat(w, ESTATE_DISK_IOPS, d->write_ops_ps, 1);
		add_stat(w, ESTATE_DISK_BPS, d->read_bytes_ps, 1);
		add_stat(w, ESTATE_DISK_BPS, d->write_bytes_ps, 1);
	}
	for (size_t i = 0; i < pw->n_nics; i++) {
		const Cairn__NicPerf *n = pw->nics[i];
		if (!strcmp(n->name, "lo"))
			continue;
		add_stat(w, ESTATE_NET_RX_BPS, n->rx_bytes_ps, 1);
		add_stat(w, ESTATE_NET_TX_BPS, n->tx_bytes_ps, 1);
	}
}

struct perf_acc {
	double *peaks[ESTATE_NMETRICS];
	uint64_t *lens;
	size_t n, cap;
	double wsum[ESTATE_NMETRICS];
	double weight;
	size_t bad;
};

static int acc_add(struct perf_acc *a, const Cairn__PerfWindow *pw, struct estate_host *h)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		for (int m = 0; m < ESTATE_NMETRICS; m++) {
			double *p = realloc(a->peaks[m], cap * sizeof(double));
			if (!p)
				return -ENOMEM;
			a->peaks[m] = p;
		}
		uint64_t *l = realloc(a->lens, cap * sizeof(uint64_t));
		if (!l)
			return -ENOMEM;
		a->lens = l;
		a->cap = cap;
	}
	struct win_vals w;
	window_values(pw, &w);
	a->bad += w.bad;
	double weight = pw->samples ? pw->samples : 1;
	for (int m = 0; m < ESTATE_NMETRICS; m++) {
		a->peaks[m][a->n] = w.p95[m];
		a->wsum[m] += w.avg[m] * weight;
		if (w.max[m] > h->stat[m].max)
			h->stat[m].max = w.max[m];
	}
	a->weight += weight;
	a->lens[a->n] = pw->window_end_ms > pw->window_start_ms
				? (uint64_t)(pw->window_end_ms - pw->window_start_ms) : 0;
	a->n++;
	if (w.p95[ESTATE_CPU_PCT] > h->cpu_peak_p95)
		h->cpu_peak_p95 = w.p95[ESTATE_CPU_PCT];
	double net = w.avg[ESTATE_NET_RX_BPS] + w.avg[ESTATE_NET_TX_BPS];
	if (net > h->net_avg_peak)
		h->net_avg_peak = net;
	if (!h->first_ms || pw->window_start_ms < h->first_ms)
		h->first_ms = pw->window_start_ms;
	if (pw->window_end_ms > h->last_ms)
		h->last_ms = pw->window_end_ms;
	if (!h->cpu_threads)
		h->cpu_threads = pw->cpu_threads;
	if (!h->mem_total)
		h->mem_total = pw->mem_total_bytes;
	return 0;
}

static void acc_finish(struct perf_acc *a, struct estate_host *h, double pct)
{
	h->windows = a->n;
	for (int m = 0; m < ESTATE_NMETRICS; m++) {
		h->stat[m].avg = a->weight > 0 ? a->wsum[m] / a->weight : 0;
		h->stat[m].pctl = estate_percentile(a->peaks[m], a->n, pct);
		free(a->peaks[m]);
	}
	if (a->n) {
		qsort(a->lens, a->n, sizeof(uint64_t), cmp_u64);
		h->window_ms = a->lens[a->n / 2];
	}
	free(a->lens);
	memset(a, 0, sizeof(*a));
}

static int load_perf(MDB_txn *txn, const struct db_env *env, struct estate_host *h,
		     int64_t since_ms, int64_t now_ms, double pct)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_PERF], &cur);
	if (rc)
		return rc;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, h->raw_id, 32);
	db_key_u64(&k, since_ms > 0 ? (uint64_t)since_ms : 0);
	MDB_val key = db_key_val(&k), val;
	struct perf_acc acc = { 0 };
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (!rc) {
		if (key.mv_size != 40 || memcmp(key.mv_data, h->raw_id, 32))
			break;
		if ((int64_t)db_get_u64((const uint8_t *)key.mv_data + 32) >= now_ms)
			break;
		Cairn__PerfWindow *pw = cairn__perf_window__unpack(NULL, val.mv_size, val.mv_data);
		if (!pw) {
			log_warn("perf window of host %s: undecodable value, skipped", h->id);
		} else {
			int arc = acc_add(&acc, pw, h);
			cairn__perf_window__free_unpacked(pw, NULL);
			if (arc) {
				acc_finish(&acc, h, pct);
				mdb_cursor_close(cur);
				return arc;
			}
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (acc.bad)
		log_warn("perf windows of host %s: %zu statistics NaN, infinite or negative, ignored",
			 h->id, acc.bad);
	acc_finish(&acc, h, pct);
	return rc == MDB_NOTFOUND || !rc ? 0 : rc;
}

static int load_edges(MDB_txn *txn, const struct db_env *env, struct estate_host *h,
		      int64_t since_ms, int64_t now_ms, const struct estate_opts *o)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_EDGES], &cur);
	if (rc)
		return rc;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, h->raw_id, 32);
	db_key_u32(&k, since_ms > 0 ? (uint32_t)(since_ms / STORE_DAY_MS) : 0);
	MDB_val key = db_key_val(&k), val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (!rc) {
		if (key.mv_size < 36 || memcmp(key.mv_data, h->raw_id, 32))
			break;
		Cairn__Store__EdgeDay *ed = cairn__store__edge_day__unpack(NULL, val.mv_size, val.mv_data);
		if (ed && ed->edge && ed->edge->last_seen_ms >= since_ms &&
		    ed->edge->first_seen_ms < now_ms) {
			if (ed->edge->direction == CAIRN__DIRECTION__INBOUND) {
				if (!o->skip_inbound_port || !o->skip_inbound_port(ed->edge->local_port))
					h->inbound_edges++;
			} else if (ed->edge->direction == CAIRN__DIRECTION__OUTBOUND) {
				h->outbound_edges++;
			}
		}
		if (ed)
			cairn__store__edge_day__free_unpacked(ed, NULL);
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || !rc ? 0 : rc;
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
		rc = load_perf(txn, env, h, since_ms, now_ms, o->percentile);
	if (!rc)
		rc = load_edges(txn, env, h, since_ms, now_ms, o);
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
	for (size_t i = 0; i < n; i++) {
		struct estate_host *h = &out->hosts[out->n++];
		memcpy(h->raw_id, ids[i], 32);
		rc = load_host(txn, env, h, since_ms, now_ms, o);
		if (rc) {
			errbuf_set(eb, rc, "reading host %s: %s", h->id, db_strerror(rc));
			free(ids);
			estate_free(out);
			return rc;
		}
	}
	free(ids);
	return 0;
}
