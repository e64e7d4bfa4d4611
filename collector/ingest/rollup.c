#include "rollup.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "wire.h"

void rollup_reset(struct rollup *r)
{
	struct rollup_metric_acc keep[ROLLUP_NMETRICS];
	memcpy(keep, r->m, sizeof(keep));
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < ROLLUP_NMETRICS; i++) {
		r->m[i].bucket = keep[i].bucket;
		r->m[i].count = keep[i].count;
		r->m[i].cap = keep[i].cap;
	}
}

void rollup_free(struct rollup *r)
{
	for (int i = 0; i < ROLLUP_NMETRICS; i++) {
		free(r->m[i].bucket);
		free(r->m[i].count);
	}
	memset(r, 0, sizeof(*r));
}

uint32_t rollup_bucket(double v)
{
	if (!(v >= ROLLUP_SKETCH_MIN))
		return 0;
	double i = floor(log(v / ROLLUP_SKETCH_MIN) / log(ROLLUP_SKETCH_GAMMA));
	if (i >= ROLLUP_SKETCH_BUCKETS - 2)
		return ROLLUP_SKETCH_BUCKETS - 1;
	return (uint32_t)i + 1;
}

double rollup_bucket_value(uint32_t b)
{
	if (b == 0)
		return 0;
	double lo = ROLLUP_SKETCH_MIN * pow(ROLLUP_SKETCH_GAMMA, (double)(b - 1));
	double hi = lo * ROLLUP_SKETCH_GAMMA;
	return 2 * lo * hi / (lo + hi);
}

/* ------------------------------------------------------------ window values */

static bool stat_sane(const Cairn__Stat *s)
{
	return isfinite(s->avg) && isfinite(s->max) && isfinite(s->p95) && s->avg >= 0 &&
	       s->max >= 0 && s->p95 >= 0;
}

/* A stored statistic that is not a finite non-negative number (a broken or
 * hostile agent) is left out: one NaN would otherwise make every instance
 * "fit" and turn the JSON export into an error. */
static void add_stat(struct rollup_window *w, enum rollup_metric m, const Cairn__Stat *s,
		     double scale)
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

void rollup_window_values(const Cairn__PerfWindow *pw, struct rollup_window *w)
{
	memset(w, 0, sizeof(*w));
	add_stat(w, ROLLUP_CPU_PCT, pw->cpu_busy_pct, 1);
	add_stat(w, ROLLUP_CPU_VCPU, pw->cpu_busy_pct, pw->cpu_threads / 100.0);
	add_stat(w, ROLLUP_MEM_USED, pw->mem_used_bytes, 1);
	for (size_t i = 0; i < pw->n_disks; i++) {
		const Cairn__DiskPerf *d = pw->disks[i];
		add_stat(w, ROLLUP_DISK_READ_BPS, d->read_bytes_ps, 1);
		add_stat(w, ROLLUP_DISK_WRITE_BPS, d->write_bytes_ps, 1);
		add_stat(w, ROLLUP_DISK_READ_OPS, d->read_ops_ps, 1);
		add_stat(w, ROLLUP_DISK_WRITE_OPS, d->write_ops_ps, 1);
		add_stat(w, ROLLUP_DISK_IOPS, d->read_ops_ps, 1);
		add_stat(w, ROLLUP_DISK_IOPS, d->write_ops_ps, 1);
		add_stat(w, ROLLUP_DISK_BPS, d->read_bytes_ps, 1);
		add_stat(w, ROLLUP_DISK_BPS, d->write_bytes_ps, 1);
	}
	for (size_t i = 0; i < pw->n_nics; i++) {
		const Cairn__NicPerf *n = pw->nics[i];
		if (n->name && !strcmp(n->name, "lo"))
			continue;
		add_stat(w, ROLLUP_NET_RX_BPS, n->rx_bytes_ps, 1);
		add_stat(w, ROLLUP_NET_TX_BPS, n->tx_bytes_ps, 1);
	}
}

/* ------------------------------------------------------------ merging */

/* Adds count windows to bucket b of a sparse sketch. */
/* Room for n buckets in a's sketch (capacity doubles). */
static int sketch_reserve(struct rollup_metric_acc *a, size_t n)
{
	if (n <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 16;
	while (cap < n)
		cap *= 2;
	uint32_t *nb = realloc(a->bucket, cap * sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	a->bucket = nb;
	uint32_t *nc = realloc(a->count, cap * sizeof(*nc));
	if (!nc)
		return -ENOMEM;
	a->count = nc;
	a->cap = cap;
	return 0;
}

static int sketch_add(struct rollup_metric_acc *a, uint32_t b, uint32_t count)
{
	int rc;
	size_t lo = 0, hi = a->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (a->bucket[mid] < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->n && a->bucket[lo] == b) {
		a->count[lo] += count;
		return 0;
	}
	if ((rc = sketch_reserve(a, a->n + 1)))
		return rc;
	memmove(a->bucket + lo + 1, a->bucket + lo, (a->n - lo) * sizeof(*a->bucket));
	memmove(a->count + lo + 1, a->count + lo, (a->n - lo) * sizeof(*a->count));
	a->bucket[lo] = b;
	a->count[lo] = count;
	a->n++;
	return 0;
}

/* a += a stored sketch (bucket gaps, counts): one merge of two ascending
 * lists into fresh arrays. */
/* Adds a stored sketch (bucket gaps, counts; n of each) to a's. In place:
 * the stored buckets are made absolute (a repeated, clamped last bucket
 * folded), then both lists are merged from their ends into a's arrays. */
static int sketch_merge(struct rollup_metric_acc *a, const uint32_t *gaps, const uint32_t *counts,
			size_t n)
{
	if (!n)
		return 0;
	/* absolute buckets ascend (gaps are >= 0) and stay below the bucket
	 * count, so at most ROLLUP_SKETCH_BUCKETS distinct ones */
	uint32_t ib[ROLLUP_SKETCH_BUCKETS], ic[ROLLUP_SKETCH_BUCKETS];
	size_t m = 0;
	uint64_t at = 0;
	for (size_t j = 0; j < n; j++) {
		at += gaps[j];
		uint32_t bk = at < ROLLUP_SKETCH_BUCKETS ? (uint32_t)at : ROLLUP_SKETCH_BUCKETS - 1;
		if (m && ib[m - 1] == bk) {
			ic[m - 1] += counts[j];
		} else {
			ib[m] = bk;
			ic[m++] = counts[j];
		}
	}
	int rc = sketch_reserve(a, a->n + m);
	if (rc)
		return rc;
	size_t i = a->n, j = m, w = a->n + m;
	while (j) {
		if (i && a->bucket[i - 1] > ib[j - 1]) {
			w--, i--;
			a->bucket[w] = a->bucket[i];
			a->count[w] = a->count[i];
		} else if (i && a->bucket[i - 1] == ib[j - 1]) {
			w--, i--, j--;
			a->bucket[w] = ib[j];
			a->count[w] = a->count[i] + ic[j];
		} else {
			w--, j--;
			a->bucket[w] = ib[j];
			a->count[w] = ic[j];
		}
	}
	/* a's first i entries are in place; what was merged lies at [w, a->n + m) */
	size_t merged = a->n + m - w;
	if (w != i) {
		memmove(a->bucket + i, a->bucket + w, merged * sizeof(*a->bucket));
		memmove(a->count + i, a->count + w, merged * sizeof(*a->count));
	}
	a->n = i + merged;
	return 0;
}

static void lengths_add(struct rollup *r, uint64_t len, uint64_t count)
{
	size_t i = 0;
	while (i < r->nlen && r->len[i] < len)
		i++;
	if (i < r->nlen && r->len[i] == len) {
		r->len_count[i] += count;
		return;
	}
	if (r->nlen == ROLLUP_MAX_LENGTHS) {
		/* full: counted with the nearest length kept */
		size_t j = i == r->nlen ? i - 1
			   : i == 0	   ? 0
			   : len - r->len[i - 1] <= r->len[i] - len ? i - 1 : i;
		r->len_count[j] += count;
		return;
	}
	memmove(r->len + i + 1, r->len + i, (r->nlen - i) * sizeof(*r->len));
	memmove(r->len_count + i + 1, r->len_count + i, (r->nlen - i) * sizeof(*r->len_count));
	r->len[i] = len;
	r->len_count[i] = count;
	r->nlen++;
}

/* The earliest window's non-zero value wins (ties: the first merged). */
static void take_earliest_u32(uint32_t *v, int64_t *at, uint32_t nv, int64_t nat)
{
	if (nv && (!*v || nat < *at)) {
		*v = nv;
		*at = nat;
	}
}

static void take_earliest_u64(uint64_t *v, int64_t *at, uint64_t nv, int64_t nat)
{
	if (nv && (!*v || nat < *at)) {
		*v = nv;
		*at = nat;
	}
}

static void span_merge(struct rollup *r, int64_t first_ms, int64_t last_ms)
{
	if (first_ms && (!r->first_ms || first_ms < r->first_ms))
		r->first_ms = first_ms;
	if (last_ms > r->last_ms)
		r->last_ms = last_ms;
}

int rollup_add_window(struct rollup *r, const Cairn__PerfWindow *pw)
{
	struct rollup_window w;
	rollup_window_values(pw, &w);
	double weight = pw->samples ? pw->samples : 1;
	for (int i = 0; i < ROLLUP_NMETRICS; i++) {
		struct rollup_metric_acc *a = &r->m[i];
		a->wsum += w.avg[i] * weight;
		if (w.max[i] > a->max)
			a->max = w.max[i];
		if (!r->windows || w.p95[i] < a->pmin)
			a->pmin = w.p95[i];
		if (!r->windows || w.p95[i] > a->pmax)
			a->pmax = w.p95[i];
		int rc = sketch_add(a, rollup_bucket(w.p95[i]), 1);
		if (rc)
			return rc;
	}
	r->weight += pw->samples ? pw->samples : 1;
	r->bad += w.bad;
	if (w.p95[ROLLUP_CPU_PCT] > r->cpu_peak_p95)
		r->cpu_peak_p95 = w.p95[ROLLUP_CPU_PCT];
	double net = w.avg[ROLLUP_NET_RX_BPS] + w.avg[ROLLUP_NET_TX_BPS];
	if (net > r->net_avg_peak)
		r->net_avg_peak = net;
	span_merge(r, pw->window_start_ms, pw->window_end_ms);
	take_earliest_u32(&r->cpu_threads, &r->cpu_threads_ms, pw->cpu_threads,
			  pw->window_start_ms);
	take_earliest_u64(&r->mem_total, &r->mem_total_ms, pw->mem_total_bytes,
			  pw->window_start_ms);
	lengths_add(r, pw->window_end_ms > pw->window_start_ms
			       ? (uint64_t)(pw->window_end_ms - pw->window_start_ms)
			       : 0,
		    1);
	r->windows++;
	return 0;
}

int rollup_merge_msg(struct rollup *r, const Cairn__Store__PerfRollup *m)
{
	if (!m->windows)
		return 0;
	size_t nm = m->n_metrics < ROLLUP_NMETRICS ? m->n_metrics : ROLLUP_NMETRICS;
	for (size_t i = 0; i < nm; i++) {
		const Cairn__Store__PerfMetricRollup *pm = m->metrics[i];
		struct rollup_metric_acc *a = &r->m[i];
		a->wsum += pm->wsum;
		if (pm->max > a->max)
			a->max = pm->max;
		if (!r->windows || pm->p95_min < a->pmin)
			a->pmin = pm->p95_min;
		if (!r->windows || pm->p95_max > a->pmax)
			a->pmax = pm->p95_max;
		size_t nb = pm->n_buckets < pm->n_counts ? pm->n_buckets : pm->n_counts;
		int rc = sketch_merge(a, pm->buckets, pm->counts, nb);
		if (rc)
			return rc;
	}
	r->weight += m->weight;
	r->bad += m->bad;
	if (m->cpu_peak_p95 > r->cpu_peak_p95)
		r->cpu_peak_p95 = m->cpu_peak_p95;
	if (m->net_avg_peak > r->net_avg_peak)
		r->net_avg_peak = m->net_avg_peak;
	span_merge(r, m->first_ms, m->last_ms);
	take_earliest_u32(&r->cpu_threads, &r->cpu_threads_ms, m->cpu_threads, m->cpu_threads_ms);
	take_earliest_u64(&r->mem_total, &r->mem_total_ms, m->mem_total, m->mem_total_ms);
	size_t nl = m->n_lengths < m->n_length_counts ? m->n_lengths : m->n_length_counts;
	for (size_t j = 0; j < nl; j++)
		lengths_add(r, m->lengths[j], m->length_counts[j]);
	r->windows += m->windows;
	return 0;
}

/* ------------------------------------------------------------ packed reads */

/* A repeated varint field, packed (type 2) or not (type 0), appended to
 * v[*n..max). */
static void wire_u32s(struct wire *w, unsigned type, uint32_t *v, size_t *n, size_t max)
{
	if (type == 2) {
		struct wire sub = wire_sub(w);
		while (!sub.bad && sub.p < sub.end) {
			uint64_t x = wire_varint(&sub);
			if (*n >= max) {
				sub.bad = true;
				break;
			}
			v[(*n)++] = (uint32_t)x;
		}
		w->bad |= sub.bad;
	} else if (type == 0) {
		uint64_t x = wire_varint(w);
		if (*n >= max)
			w->bad = true;
		else
			v[(*n)++] = (uint32_t)x;
	} else {
		w->bad = true;
	}
}

/* The same for u64 values; values beyond max are skipped (not an error). */
static void wire_u64s(struct wire *w, unsigned type, uint64_t *v, size_t *n, size_t max)
{
	if (type == 2) {
		struct wire sub = wire_sub(w);
		while (!sub.bad && sub.p < sub.end) {
			uint64_t x = wire_varint(&sub);
			if (*n < max)
				v[(*n)++] = x;
		}
		w->bad |= sub.bad;
	} else {
		uint64_t x = wire_varint(w);
		if (*n < max)
			v[(*n)++] = x;
	}
}

static int merge_packed_metric(struct rollup_metric_acc *a, struct wire w, bool first)
{
	double wsum = 0, max = 0, pmin = 0, pmax = 0;
	uint32_t gaps[ROLLUP_SKETCH_BUCKETS], counts[ROLLUP_SKETCH_BUCKETS];
	size_t ng = 0, nc = 0;
	while (!w.bad && w.p < w.end) {
		uint64_t tag = wire_varint(&w);
		unsigned field = (unsigned)(tag >> 3), type = (unsigned)(tag & 7);
		if (field >= 1 && field <= 4 && type == 1) {
			double d = wire_double(&w);
			if (field == 1)
				wsum = d;
			else if (field == 2)
				max = d;
			else if (field == 3)
				pmin = d;
			else
				pmax = d;
		} else if (field == 5) {
			wire_u32s(&w, type, gaps, &ng, ROLLUP_SKETCH_BUCKETS);
		} else if (field == 6) {
			wire_u32s(&w, type, counts, &nc, ROLLUP_SKETCH_BUCKETS);
		} else {
			wire_skip(&w, type);
		}
	}
	if (w.bad)
		return -EBADMSG;
	a->wsum += wsum;
	if (max > a->max)
		a->max = max;
	if (first || pmin < a->pmin)
		a->pmin = pmin;
	if (first || pmax > a->pmax)
		a->pmax = pmax;
	return sketch_merge(a, gaps, counts, ng < nc ? ng : nc);
}

int rollup_packed_span(const uint8_t *data, size_t len, int64_t *first_ms, int64_t *last_ms)
{
	struct wire w = { data, data + len, false };
	uint64_t windows = 0;
	*first_ms = *last_ms = 0;
	while (!w.bad && w.p < w.end) {
		uint64_t tag = wire_varint(&w);
		unsigned field = (unsigned)(tag >> 3), type = (unsigned)(tag & 7);
		if (field >= 1 && field <= 4 && type == 0) {
			uint64_t x = wire_varint(&w);
			if (field == 1)
				windows = x;
			else if (field == 3)
				*first_ms = (int64_t)x;
			else if (field == 4)
				*last_ms = (int64_t)x;
		} else {
			wire_skip(&w, type);
		}
	}
	if (w.bad)
		return -EBADMSG;
	return windows ? 0 : -ENOENT;
}

int rollup_merge_packed(struct rollup *r, const uint8_t *data, size_t len)
{
	struct wire w = { data, data + len, false };
	struct wire metrics[ROLLUP_NMETRICS];
	size_t nm = 0, nl = 0, nlc = 0;
	uint64_t lengths[4 * ROLLUP_MAX_LENGTHS], lcounts[4 * ROLLUP_MAX_LENGTHS];
	Cairn__Store__PerfRollup m = CAIRN__STORE__PERF_ROLLUP__INIT;
	while (!w.bad && w.p < w.end) {
		uint64_t tag = wire_varint(&w);
		unsigned field = (unsigned)(tag >> 3), type = (unsigned)(tag & 7);
		if (field == 12 && type == 2) {
			struct wire sub = wire_sub(&w);
			if (nm < ROLLUP_NMETRICS)
				metrics[nm++] = sub;
		} else if ((field == 13 || field == 14) && (type == 0 || type == 2)) {
			if (field == 13)
				wire_u64s(&w, type, lengths, &nl, ARRAY_SIZE(lengths));
			else
				wire_u64s(&w, type, lcounts, &nlc, ARRAY_SIZE(lcounts));
		} else if (field >= 1 && field <= 9 && type == 0) {
			uint64_t x = wire_varint(&w);
			switch (field) {
			case 1: m.windows = x; break;
			case 2: m.weight = x; break;
			case 3: m.first_ms = (int64_t)x; break;
			case 4: m.last_ms = (int64_t)x; break;
			case 5: m.bad = x; break;
			case 6: m.cpu_threads = (uint32_t)x; break;
			case 7: m.cpu_threads_ms = (int64_t)x; break;
			case 8: m.mem_total = x; break;
			case 9: m.mem_total_ms = (int64_t)x; break;
			}
		} else if ((field == 10 || field == 11) && type == 1) {
			double d = wire_double(&w);
			if (field == 10)
				m.cpu_peak_p95 = d;
			else
				m.net_avg_peak = d;
		} else {
			wire_skip(&w, type);
		}
	}
	if (w.bad)
		return -EBADMSG;
	if (!m.windows)
		return 0;
	bool first = r->windows == 0;
	for (size_t i = 0; i < nm; i++) {
		int rc = merge_packed_metric(&r->m[i], metrics[i], first);
		if (rc)
			return rc;
	}
	/* the scalars through the message merge (no metrics, no lengths) */
	int rc = rollup_merge_msg(r, &m);
	if (rc)
		return rc;
	for (size_t j = 0; j < nl && j < nlc; j++)
		lengths_add(r, lengths[j], lcounts[j]);
	return 0;
}

int rollup_put(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key, const struct rollup *r)
{
	size_t total = 0;
	for (int i = 0; i < ROLLUP_NMETRICS; i++)
		total += r->m[i].n;
	uint32_t *gaps = malloc((total ? total : 1) * sizeof(*gaps));
	if (!gaps)
		return -ENOMEM;
	Cairn__Store__PerfMetricRollup pm[ROLLUP_NMETRICS];
	Cairn__Store__PerfMetricRollup *pmp[ROLLUP_NMETRICS];
	Cairn__Store__PerfRollup m = CAIRN__STORE__PERF_ROLLUP__INIT;
	m.windows = r->windows;
	m.weight = r->weight;
	m.first_ms = r->first_ms;
	m.last_ms = r->last_ms;
	m.bad = r->bad;
	m.cpu_threads = r->cpu_threads;
	m.cpu_threads_ms = r->cpu_threads_ms;
	m.mem_total = r->mem_total;
	m.mem_total_ms = r->mem_total_ms;
	m.cpu_peak_p95 = r->cpu_peak_p95;
	m.net_avg_peak = r->net_avg_peak;
	size_t used = 0;
	for (int i = 0; i < ROLLUP_NMETRICS; i++) {
		const struct rollup_metric_acc *a = &r->m[i];
		cairn__store__perf_metric_rollup__init(&pm[i]);
		pm[i].wsum = a->wsum;
		pm[i].max = a->max;
		pm[i].p95_min = a->pmin;
		pm[i].p95_max = a->pmax;
		pm[i].n_buckets = pm[i].n_counts = a->n;
		pm[i].buckets = gaps + used;
		for (size_t j = 0; j < a->n; j++)
			gaps[used + j] = a->bucket[j] - (j ? a->bucket[j - 1] : 0);
		used += a->n;
		pm[i].counts = a->count;
		pmp[i] = &pm[i];
	}
	m.n_metrics = ROLLUP_NMETRICS;
	m.metrics = pmp;
	m.n_lengths = m.n_length_counts = r->nlen;
	m.lengths = (uint64_t *)r->len;
	m.length_counts = (uint64_t *)r->len_count;
	int rc = store_put_msg(txn, dbi, key, &m.base);
	free(gaps);
	return rc;
}

int rollup_scan_raw(MDB_txn *txn, MDB_dbi perf, const uint8_t id[static 32], int64_t from_ms,
		    int64_t to_ms, struct rollup *r, size_t *undecodable)
{
	if (to_ms <= from_ms)
		return 0;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, perf, &cur);
	if (rc)
		return rc;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, id, 32);
	db_key_u64(&k, from_ms > 0 ? (uint64_t)from_ms : 0);
	MDB_val key = db_key_val(&k), val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (!rc) {
		if (key.mv_size != 40 || memcmp(key.mv_data, id, 32))
			break;
		if ((int64_t)db_get_u64((const uint8_t *)key.mv_data + 32) >= to_ms)
			break;
		Cairn__PerfWindow *pw = cairn__perf_window__unpack(NULL, val.mv_size, val.mv_data);
		if (!pw) {
			if (undecodable)
				(*undecodable)++;
		} else {
			int arc = rollup_add_window(r, pw);
			cairn__perf_window__free_unpacked(pw, NULL);
			if (arc) {
				mdb_cursor_close(cur);
				return arc;
			}
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || !rc ? 0 : rc;
}

double rollup_percentile(const struct rollup *r, enum rollup_metric m, double pct)
{
	const struct rollup_metric_acc *a = &r->m[m];
	if (!r->windows || !a->n)
		return 0;
	if (pct <= 0)
		return a->pmin;
	uint64_t total = 0;
	for (size_t i = 0; i < a->n; i++)
		total += a->count[i];
	double rank = ceil(pct / 100.0 * (double)total);
	uint64_t want = rank < 1 ? 0 : (uint64_t)rank - 1;
	if (want >= total)
		want = total - 1;
	uint64_t seen = 0;
	size_t i = 0;
	for (; i < a->n; i++) {
		seen += a->count[i];
		if (seen > want)
			break;
	}
	if (i == a->n)
		i = a->n - 1;
	double v = rollup_bucket_value(a->bucket[i]);
	if (v < a->pmin)
		v = a->pmin;
	if (v > a->pmax)
		v = a->pmax;
	return v;
}

uint64_t rollup_median_length(const struct rollup *r)
{
	uint64_t total = 0;
	for (size_t i = 0; i < r->nlen; i++)
		total += r->len_count[i];
	if (!total)
		return 0;
	uint64_t want = total / 2, seen = 0;
	for (size_t i = 0; i < r->nlen; i++) {
		seen += r->len_count[i];
		if (seen > want)
			return r->len[i];
	}
	return r->len[r->nlen - 1];
}
