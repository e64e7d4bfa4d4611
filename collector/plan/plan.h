/* Migration planning over one read transaction: readiness, right-sizing and
 * cost, and the wave plan, materialized into a store.Snapshot.
 *
 * plan_compute() is a pure function of the facts visible in txn (hosts, perf,
 * procs, listeners, packages, edges, decisions) and of what the caller already
 * put into the snapshot (map and apps). It fills snap->readiness (one entry per
 * host, then one per application, target = host id or app id), snap->sizing
 * (one per host) and snap->waves, replacing whatever they held.
 *
 * Memory: everything plan_compute adds to snap is allocated with malloc (and
 * strdup), like protobuf-c's default allocator, so the caller frees the whole
 * snapshot with cairn__store__snapshot__free_unpacked(snap, NULL). Do not use
 * it on a snapshot whose other fields point into LMDB or into a buffer.
 *
 * Thresholds and rules are in collector/plan/rules.c (one table); the catalog and
 * OS lifecycle files in collector/plan/data/ (see plan_data_path). docs/planning.md
 * explains the arithmetic. */
#ifndef CAIRN_PLAN_H
#define CAIRN_PLAN_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "store.pb-c.h"
#include "util.h"

enum sizing_mode {
	SIZING_ASIS = 0,       /* allocated vCPU and memory */
	SIZING_PERCENTILE = 1, /* Nth percentile of the per-window peaks (default p95) */
	SIZING_MAX = 2,        /* highest peak of the period */
	SIZING_AVG = 3,        /* mean of the per-window averages */
};

struct plan_options {
	int64_t now_ms;           /* end of the assessment period */
	int64_t since_ms;         /* assessment period start; 0 = the last 7 days (rules_plan) */
	enum sizing_mode mode;    /* default SIZING_PERCENTILE */
	double percentile;        /* 1..100, default 95 */
	double comfort;           /* >= 1, default 1.3 */
	uint32_t wave_max_hosts;  /* hosts per wave; 0 = the rules' default */
	uint32_t wave_min_hosts;  /* fewest hosts per wave, 0 = none (rules' default) */
	uint32_t wave_critical_after; /* criticality=high not in waves 1..N (0: off; default 1) */
	const char *catalog_path; /* instance catalog CSV; NULL or "" = shipped one */
	const char *lifecycle_path; /* OS lifecycle CSV; NULL or "" = shipped one */
};

/* Defaults: period = the last rules_plan.default_period_days up to now_ms,
 * p95, comfort 1.3, the wave rules' defaults (rules_plan.wave_*). */
void plan_options_init(struct plan_options *o, int64_t now_ms);

/* The wave options of collector.conf (wave_max_hosts, wave_min_hosts,
 * wave_critical_after) into o; wave_max_hosts only when o has none yet (a
 * --max-hosts given on the command line wins). */
struct collector_config;
void plan_options_config(struct plan_options *o, const struct collector_config *cfg);
/* Whether snap's waves were made with o's wave options (a snapshot from
 * before the wave rules never was). */
bool plan_waves_match(const Cairn__Store__Snapshot *snap, const struct plan_options *o);

/* Start of the assessment period: since_ms, or now_ms minus the default
 * period. Coverage (and with it confidence) is the share of the report
 * windows expected in the whole period that a host delivered: three
 * windows of a 7-day period are 0.1 %, confidence 1. */
int64_t plan_period_start(const struct plan_options *o);

/* The host view's options with planning's rules: the default period
 * (rules_plan.default_period_days) and the ports whose inbound use does not
 * count (rules_retire_ignored_port). Every planning read of hosts uses this. */
struct estate_opts;
void plan_estate_opts(struct estate_opts *o, int64_t since_ms, int64_t now_ms, double percentile);

/* Fills readiness, sizing and waves of snap (see above). Returns 0, -ENOENT /
 * -EINVAL when the catalog or lifecycle file is missing or malformed (eb names
 * file:line), -ENOMEM, or an LMDB error. On error snap's planning fields are
 * left empty. */
int plan_compute(MDB_txn *txn, const struct db_env *env, const struct plan_options *opt,
		 Cairn__Store__Snapshot *snap, struct errbuf *eb);

/* Where a shipped data file (name = "aws-ec2-catalog.csv", "os-lifecycle.csv")
 * is found: $CAIRN_DATA_DIR, the build-time datadir (<prefix>/share/cairn),
 * <dir of the binary>/../share/cairn, then the source tree's collector/data
 * (for runs from the build directory). Writes the first existing path into
 * out; -ENOENT (eb lists where it looked) when none exists. */
int plan_data_path(const char *name, char *out, size_t n, struct errbuf *eb);

#endif
