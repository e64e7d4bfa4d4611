/* Perf rollups: the statistics of many perf windows in a form that merges
 * exactly (counts, sums, min, max, and a histogram of the windows' p95 values
 * over fixed log buckets).
 *
 * Ingest adds each perf window to the rollup of its UTC day (DB perf_day) and,
 * for the last ROLLUP_HOUR_KEEP_MS, of its hour (perf_hour), in the same write
 * transaction as the raw window (collector/ingest/ingest.c). The host view
 * (collector/read/estate.c) merges the rollups of the whole days and hours of
 * its period and reduces raw windows only for the partial ends, through the
 * same rollup_add_window, so one definition of every statistic serves both.
 *
 * Percentiles come from the sketch: the value returned is within
 * ROLLUP_SKETCH_REL_ERR of the exact nearest-rank percentile of the windows'
 * p95 values for values >= ROLLUP_SKETCH_MIN, and within ROLLUP_SKETCH_MIN
 * absolute below it (docs/storage.md "Rollups"). */
#ifndef CAIRN_ROLLUP_H
#define CAIRN_ROLLUP_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "db.h"
#include "store.pb-c.h"

/* The per-window metrics (sums over devices); estate_metric has the same order. */
enum rollup_metric {
	ROLLUP_CPU_PCT,        /* busy % of all logical CPUs */
	ROLLUP_CPU_VCPU,       /* busy % x threads / 100 */
	ROLLUP_MEM_USED,       /* bytes */
	ROLLUP_DISK_READ_BPS,
	ROLLUP_DISK_WRITE_BPS,
	ROLLUP_DISK_READ_OPS,
	ROLLUP_DISK_WRITE_OPS,
	ROLLUP_DISK_IOPS,
	ROLLUP_DISK_BPS,
	ROLLUP_NET_RX_BPS,     /* NICs except lo */
	ROLLUP_NET_TX_BPS,
	ROLLUP_NMETRICS
};

#define ROLLUP_SKETCH_GAMMA 1.02       /* bucket i covers [MIN g^(i-1), MIN g^i) */
#define ROLLUP_SKETCH_MIN 0.01         /* bucket 0: [0, MIN) */
#define ROLLUP_SKETCH_BUCKETS 2048u    /* the last bucket also takes everything above */
/* (g - 1) / (g + 1): the largest relative distance of a bucket's value to
 * anything in the bucket */
#define ROLLUP_SKETCH_REL_ERR 0.0099010
#define ROLLUP_MAX_LENGTHS 16          /* distinct window lengths kept exactly */
#define ROLLUP_HOUR_MS (3600000LL)
#define ROLLUP_HOUR_KEEP_MS (7LL * 86400000LL)

struct rollup_metric_acc {
	double wsum, max, pmin, pmax;
	uint32_t *bucket, *count;          /* sparse sketch, ascending buckets */
	size_t n, cap;
};

struct rollup {
	uint64_t windows, weight, bad;
	int64_t first_ms, last_ms;
	uint32_t cpu_threads;
	int64_t cpu_threads_ms;
	uint64_t mem_total;
	int64_t mem_total_ms;
	double cpu_peak_p95, net_avg_peak;
	struct rollup_metric_acc m[ROLLUP_NMETRICS];
	uint64_t len[ROLLUP_MAX_LENGTHS], len_count[ROLLUP_MAX_LENGTHS];
	size_t nlen;
};

/* A zeroed struct rollup is an empty one; rollup_reset empties it keeping
 * its buffers, rollup_free releases them. */
void rollup_reset(struct rollup *r);
void rollup_free(struct rollup *r);

/* One perf window's metric values: average, peak and p95, summed over disks
 * and NICs; bad counts statistics left out (NaN, infinite, negative). */
struct rollup_window {
	double avg[ROLLUP_NMETRICS], max[ROLLUP_NMETRICS], p95[ROLLUP_NMETRICS];
	size_t bad;
};
void rollup_window_values(const Cairn__PerfWindow *pw, struct rollup_window *w);

int rollup_add_window(struct rollup *r, const Cairn__PerfWindow *pw);
/* r += the stored message (a PerfRollup read from perf_day/perf_hour). */
int rollup_merge_msg(struct rollup *r, const Cairn__Store__PerfRollup *m);
/* The same straight from the stored bytes (no unpacked message, no
 * allocation but the sketch's): what the host view and ingest use.
 * -EBADMSG when the bytes are not a PerfRollup. */
int rollup_merge_packed(struct rollup *r, const uint8_t *data, size_t len);
/* The span of a stored PerfRollup: its earliest window start and latest
 * window end. -ENOENT for a rollup without windows, -EBADMSG undecodable. */
int rollup_packed_span(const uint8_t *data, size_t len, int64_t *first_ms, int64_t *last_ms);
/* Writes r at key in dbi as a PerfRollup. */
int rollup_put(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key, const struct rollup *r);

/* Reduces the raw windows of agent id that start in [from_ms, to_ms) from
 * DB perf (dbi) into r, in time order. *undecodable (may be NULL) counts
 * values that did not decode (skipped). */
int rollup_scan_raw(MDB_txn *txn, MDB_dbi perf, const uint8_t id[static 32], int64_t from_ms,
		    int64_t to_ms, struct rollup *r, size_t *undecodable);

/* Nearest-rank percentile (1..100; <= 0 gives the lowest) of the windows'
 * p95 values of metric m, from the sketch, clamped to the exact lowest and
 * highest p95. 0 without windows. */
double rollup_percentile(const struct rollup *r, enum rollup_metric m, double pct);
/* Median window length (ms) over every window, 0 without windows. */
uint64_t rollup_median_length(const struct rollup *r);

/* Sketch bucket of a value and the value a bucket stands for. */
uint32_t rollup_bucket(double v);
double rollup_bucket_value(uint32_t b);

#endif
