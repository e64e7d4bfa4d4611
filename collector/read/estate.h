/* The host view of the read layer: what is known about each host, read from
 * one LMDB read transaction:
 * latest facts, processes, listeners, packages, performance statistics over
 * the assessment period and inbound use. The input of readiness, sizing,
 * validate, the exports and the `host` command (one definition of average and
 * percentile utilization for all of them); tests build estate_host values by
 * hand.
 *
 * Everything is owned by the estate (unpacked copies, not LMDB pointers), so
 * it stays valid after the transaction ends; free it with estate_free. */
#ifndef CAIRN_ESTATE_H
#define CAIRN_ESTATE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "db.h"
#include "store.pb-c.h"
#include "util.h"

enum estate_metric {
	ESTATE_CPU_PCT,        /* busy % of all logical CPUs */
	ESTATE_CPU_VCPU,       /* busy % x threads / 100: vCPUs in use */
	ESTATE_MEM_USED,       /* bytes (total - available) */
	ESTATE_DISK_READ_BPS,  /* bytes/s, sum over whole disks */
	ESTATE_DISK_WRITE_BPS,
	ESTATE_DISK_READ_OPS,  /* ops/s */
	ESTATE_DISK_WRITE_OPS,
	ESTATE_DISK_IOPS,      /* read + write ops/s */
	ESTATE_DISK_BPS,       /* read + write bytes/s */
	ESTATE_NET_RX_BPS,     /* bytes/s, sum over NICs except lo */
	ESTATE_NET_TX_BPS,
	ESTATE_NMETRICS
};

/* One metric over the period. avg = mean of the windows' averages weighted by
 * samples; max = highest sample of any window; pctl = the requested percentile
 * (nearest rank) of the windows' own p95 values, i.e. a level the host sustains
 * rather than a one-sample spike, from the rollups' sketch: within
 * ROLLUP_SKETCH_REL_ERR (1 %) of the exact value (collector/ingest/rollup.h).
 * Whole days and hours of the period are read from the rollups, the partial
 * ends from raw windows. All 0 when there are no windows. */
struct estate_stat {
	double avg, max, pctl;
};

struct estate_host {
	char id[65];                      /* agent id, hex */
	uint8_t raw_id[32];
	char name[256];                   /* hostname, else the agent's claimed name */
	Cairn__Store__HostFacts *facts;   /* NULL: no HostInfo received */
	Cairn__ProcessSnapshot *procs;    /* NULL when none */
	Cairn__ListenerSet *listeners;    /* NULL when none */
	Cairn__PackageInventory **pkgs;
	size_t npkgs;
	struct estate_stat stat[ESTATE_NMETRICS];
	size_t windows;                   /* perf windows in the period */
	int64_t first_ms, last_ms;        /* first window start, last window end */
	uint64_t window_ms;               /* median window length */
	double cpu_peak_p95;              /* highest per-window p95 CPU busy % */
	double net_avg_peak;              /* highest per-window average rx+tx bytes/s */
	uint32_t cpu_threads;             /* from facts, else perf */
	uint64_t mem_total;               /* bytes, from facts, else perf */
	size_t inbound_edges;             /* 1 when the host had an inbound edge in the period
					   * (ignored ports excluded; the walk stops at the
					   * first), else 0 */
	/* What an import said about the host (DB imports), NULL when none: an
	 * imported-only host, or an agent host a row was merged into. */
	Cairn__Store__ImportedServer *import;
	/* No perf windows in the period, and the import gave CPU or memory use:
	 * stat[] holds the imported average and maximum (pctl = the maximum, the
	 * only level the file states); a metric it did not give is as allocated
	 * (CPU, memory) or 0. Planning says so in its notes. */
	bool import_stats;
};

struct estate {
	struct estate_host *hosts;
	size_t n;
	int64_t since_ms;                 /* period start actually used */
	int64_t now_ms;
};

/* What a load reads. The policy (default period, which inbound ports are not
 * use) comes from the caller: planning passes its rules (plan_estate_opts). */
struct estate_opts {
	int64_t since_ms;        /* period start; 0 = the last default_days, or from
				  * the oldest stored perf window when that is younger */
	int64_t now_ms;          /* period end */
	double percentile;       /* 1..100, for estate_stat.pctl */
	uint32_t default_days;
	/* inbound edges on ports this says yes to are not counted (NULL: count all) */
	int (*skip_inbound_port)(unsigned port);
	/* true: reduce every raw window, ignore the rollups (tests, checks) */
	bool raw_only;
	/* true: no week rollups (perf and edges), days and finer only (tests) */
	bool days_only;
	/* threads loading hosts side by side: 0 = one per CPU (at most 4),
	 * 1 = the calling thread only */
	unsigned threads;
};

/* Reads every known host (hosts DB and accepted agents). */
int estate_load(MDB_txn *txn, const struct db_env *env, const struct estate_opts *o,
		struct estate *out, struct errbuf *eb);
/* The same for one host (the `host` command and the host page): one
 * definition of utilization for everyone. Free with estate_host_free. */
int estate_load_host(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
		     const struct estate_opts *o, struct estate_host *out, struct errbuf *eb);
void estate_free(struct estate *e);
void estate_host_free(struct estate_host *h);

/* Host by id hex, or NULL. */
struct estate_host *estate_find(const struct estate *e, const char *id);

/* Perf windows expected over [since, now) at the host's window length, and the
 * share received (0..1). A host without windows has coverage 0. */
double estate_coverage(const struct estate_host *h, int64_t since_ms, int64_t now_ms);

/* Nearest-rank percentile of v[0..n) (sorts v). 0 when n == 0. */
double estate_percentile(double *v, size_t n, double pct);

#endif
