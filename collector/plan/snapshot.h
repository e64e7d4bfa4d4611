/* Snapshots: the map, the applications and the plan, computed from the facts
 * of one read transaction and stored, versioned, in DB snapshots.
 *
 * snapshot_compute() is pure (depmap_build + apps_compute + plan_compute of
 * collector/plan/plan.h over the same txn); snapshot_store() writes the result as
 * version = latest + 1 and keeps the newest SNAPSHOT_KEEP versions whole,
 * plus a thinned history without the map (first snapshot of each hour of the
 * last 48 h, of each day of the last 90 days) for `readiness --history`.
 * Queries read the latest snapshot at once (read_snapshot_latest); `serve`
 * calls snapshot_refresh_if_stale() from a timer (at most once per
 * recompute_interval) so a snapshot follows the facts: meta "facts_gen" moves
 * with every ingest transaction and the snapshot records the value it was
 * computed from. Ids and names of applications stay stable because every
 * computation starts from the previous snapshot's applications. */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "apps.h"
#include "read.h"
#include "db.h"
#include "depmap.h"
#include "store.pb-c.h"
#include "util.h"

#define SNAPSHOT_KEEP 4
#define SNAPSHOT_HOUR_MS (3600000LL)
#define SNAPSHOT_HOURLY_MS (48 * SNAPSHOT_HOUR_MS)   /* history: one an hour */
#define SNAPSHOT_DAILY_MS (90 * 86400000LL)          /* history: one a day */

struct snapshot_opts {
	int64_t now_ms;
	int64_t since_ms;       /* map period start; 0 = everything stored */
	bool with_plan;         /* readiness, sizing, waves (collector/plan/plan.h) */
	const char *catalog_path; /* instance catalog for sizing; NULL = shipped one */
	struct apps_opts apps;
};

void snapshot_opts_default(struct snapshot_opts *o, int64_t now_ms);

/* The instance catalog (config key `catalog`) every snapshot of this process
 * is sized with, so the stored plan and a recomputed one agree. Set once
 * after loading the configuration; "" or NULL = the shipped catalog. */
void snapshot_set_catalog(const char *path);
/* Likewise the wave rules' options (config keys wave_max_hosts,
 * wave_min_hosts, wave_critical_after). */
void snapshot_set_waves(uint32_t max_hosts, uint32_t min_hosts, uint32_t critical_after);

/* Computes a snapshot from txn: map, apps (stable against the latest stored
 * snapshot), plan. *out is malloc'd (free with
 * cairn__store__snapshot__free_unpacked(*out, NULL)); version is 0 until
 * stored. If dm is not NULL the built map is handed over too (for callers
 * that want the in-memory form; free with depmap_free). */
int snapshot_compute(MDB_txn *txn, const struct db_env *env, const struct snapshot_opts *o,
		     Cairn__Store__Snapshot **out, struct depmap **dm, struct errbuf *eb);

/* Stores snap as the next version (sets snap->version) in one durable write
 * transaction and thins the versions older than the newest SNAPSHOT_KEEP to
 * the history described above (their map removed). */
int snapshot_store(struct db_env *env, Cairn__Store__Snapshot *snap, struct errbuf *eb);

/* Computes and stores a new snapshot now (read txn, then write txn).
 * *out (may be NULL) receives it; caller frees. */
int snapshot_refresh(struct db_env *env, const struct snapshot_opts *o,
		     Cairn__Store__Snapshot **out, struct errbuf *eb);

/* For `serve`: refreshes when the facts moved since the latest snapshot (or
 * when there is none and facts exist). *refreshed (may be NULL) tells whether
 * it did. Safe to call from a worker thread: it uses its own transactions. */
int snapshot_refresh_if_stale(struct db_env *env, int64_t now_ms, bool *refreshed,
			      struct errbuf *eb);

/* For read commands: the latest snapshot, recomputed first when fresh is set
 * or when none exists yet (or when it is stale and the store is writable).
 * writable = false never writes (a computed snapshot is returned unstored,
 * without the default plan when with_plan is false: for callers that plan
 * with their own options anyway). */
int snapshot_get(struct db_env *env, bool fresh, bool writable, bool with_map, bool with_plan,
		 Cairn__Store__Snapshot **out, struct errbuf *eb);

/* Readiness entry / sizing entry for a target id in a snapshot, or NULL. */
const Cairn__Store__Readiness *snapshot_readiness(const Cairn__Store__Snapshot *s, const char *target);
const Cairn__Store__Sizing *snapshot_sizing(const Cairn__Store__Snapshot *s, const char *host);
/* Name of a host id in the snapshot's map (or the id prefix). */
const char *snapshot_host_name(const Cairn__Store__Snapshot *s, const char *host);
/* Host id -> the name snapshot_host_name gives, for every host of a snapshot
 * at once: per-host tables look names up here in O(log n) (a linear
 * snapshot_host_name per row is quadratic at 10,000 hosts). The names point
 * into the snapshot, valid while it is. */
struct snapshot_names {
	struct snapshot_name *v;
	size_t n;
};
int snapshot_names_build(const Cairn__Store__Snapshot *s, struct snapshot_names *out);
const char *snapshot_names_get(const struct snapshot_names *nm, const char *host);
void snapshot_names_free(struct snapshot_names *nm);
/* Application of id, or NULL. */
const Cairn__Store__App *snapshot_app(const Cairn__Store__Snapshot *s, const char *id);
/* Id of the application holding host, or NULL (a linear scan: for one row). */
const char *snapshot_app_of_host(const Cairn__Store__Snapshot *s, const char *host);
/* Host id -> application id for every host of the snapshot's applications
 * (for per-host tables); get returns NULL for a host in no application. The
 * strings point into the snapshot. Free with snapshot_names_free. */
int snapshot_host_apps_build(const Cairn__Store__Snapshot *s, struct snapshot_names *out);
const char *snapshot_host_apps_get(const struct snapshot_names *ha, const char *host);

/* Lookups by id for loops over a snapshot's applications, hosts or waves,
 * in O(log n): the linear snapshot_readiness, snapshot_app and waves_find
 * per row are quadratic (1.4 s of `plan waves` at 30,000 hosts, ~15 s at
 * 100,000). Each gives what the linear lookup gives (the first match). Build
 * cannot fail: without memory the lookups fall back to the linear ones.
 * Pointers into the snapshot, valid while it is. */
struct snapshot_ref;
struct snapshot_index {
	const Cairn__Store__Snapshot *s;
	struct snapshot_ref *ready, *apps, *waves;
	size_t nready, napps, nwaves;
	bool linear;                /* the arrays could not be allocated */
};
void snapshot_index_build(const Cairn__Store__Snapshot *s, struct snapshot_index *ix);
const Cairn__Store__Readiness *snapshot_index_readiness(const struct snapshot_index *ix,
							 const char *target);
const Cairn__Store__App *snapshot_index_app(const struct snapshot_index *ix, const char *id);
/* The wave holding app_id (and its placement when pl is set), or NULL. */
const Cairn__Store__Wave *snapshot_index_wave(const struct snapshot_index *ix, const char *app_id,
					      const Cairn__Store__WavePlacement **pl);
void snapshot_index_free(struct snapshot_index *ix);

/* A view of part of the estate (--tag): host(id, app id or NULL) and app()
 * say what stays. snapshot_keep drops the other readiness and sizing rows,
 * applications and the waves' entries of dropped applications (waves keep
 * their numbers: the plan was made for the whole estate). The map stays. */
struct snapshot_keep {
	bool (*host)(const char *host, const char *app_id, void *arg);
	bool (*app)(const Cairn__Store__App *a, void *arg);
	void *arg;
};
int snapshot_keep(Cairn__Store__Snapshot *s, const struct snapshot_keep *k);


#endif
