/* The collector's LMDB environment: which DBs exist and how their keys read.
 *
 * One environment in <state_dir>/db. docs/storage.md is the long form of this
 * header; keep them in step. Keys are big-endian composites (common/db.h) so a
 * cursor range over a prefix visits one agent's entries in order. Values are
 * protobuf messages from proto/store.proto or proto/cairn.proto.
 *
 *   DB               key                                        value
 *   agents           agent_id(32)                               store.Agent
 *   batches          agent_id(32) | seq(u64)                    store.RawBatch
 *   gaps             agent_id(32) | first_seq(u64)              store.GapRecord
 *   hosts            agent_id(32)                               store.HostFacts
 *   perf             agent_id(32) | window_start_ms(u64)        cairn.PerfWindow
 *   procs            agent_id(32)                               cairn.ProcessSnapshot (latest, deltas applied)
 *   listeners        agent_id(32)                               cairn.ListenerSet (latest)
 *   packages         agent_id(32) | manager                     cairn.PackageInventory (latest full list)
 *   edges            agent_id(32) | day(u32) | edge_hash(u64)   store.EdgeDay
 *   addrs            addr(16, v4 as ::ffff:a.b.c.d) | agent(32) store.AddrClaim
 *   meta             name                                       store.Counter
 *   decisions        kind(u8) | subject                         store.Decision
 *   migration        target                                     store.MigrationStatus
 *   migration_hist   target | 0x00 | time_ms(u64)               store.MigrationStatus
 *   audit            time_ms(u64) | counter(u32)                store.AuditEntry
 *   snapshots        version(u64)                               store.Snapshot
 *   health           agent_id(32)                               cairn.CollectorHealth (latest)
 *   agent_names      lower(hostname) | 0x00 | agent_id(32)      empty (index: hostname claimed in AUTH)
 *   tokens           hash(32) of the bearer token               store.ApiToken (web console and API)
 *   perf_day         agent_id(32) | day(u32)                    store.PerfRollup (collector/ingest/rollup.h)
 *   perf_hour        agent_id(32) | hour(u32)                   store.PerfRollup, the last 7 days
 *   tags             subject (host id hex | "app:" app id)         store.TagSet (collector/read/tags.h)
 *   imports          host id(32)                                store.ImportedServer (docs/import.md)
 *   import_keys      kind(u8) | match text                      host id(32) of an imported-only host
 *   progress_tasks   stream | 0x00 | task                       store.ProgressTask (migration tools' progress)
 *   perf_week        agent_id(32) | week(u32)                   store.PerfRollup of a UTC week (Monday-Sunday)
 *   edges_week       agent_id(32) | week(u32) | edge_hash(u64)  store.EdgeDay summed over a UTC week
 *
 * Week rollups are written with the day rollups and read for the whole weeks
 * of a long period (docs/storage.md, "Rollups"); meta "weeks_from" is the
 * first week they are complete for (a store that had data before they
 * existed starts them the week after its upgrade).
 *
 * The per-agent high-water seq (Agent.high_seq) is raised in the same write
 * transaction that stores the batch's records.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "store.pb-c.h"

enum store_db {
	STORE_AGENTS,
	STORE_BATCHES,
	STORE_GAPS,
	STORE_HOSTS,
	STORE_PERF,
	STORE_PROCS,
	STORE_LISTENERS,
	STORE_PACKAGES,
	STORE_EDGES,
	STORE_ADDRS,
	STORE_META,
	STORE_DECISIONS,
	STORE_MIGRATION,
	STORE_MIGRATION_HIST,
	STORE_AUDIT,
	STORE_SNAPSHOTS,
	STORE_HEALTH,
	STORE_AGENT_NAMES,
	STORE_TOKENS,
	STORE_PERF_DAY,
	STORE_PERF_HOUR,
	STORE_TAGS,
	STORE_IMPORTS,
	STORE_IMPORT_KEYS,
	STORE_PROGRESS_TASKS,
	STORE_PERF_WEEK,
	STORE_EDGES_WEEK,
	STORE_NDBS
};

extern const char *const store_db_names[STORE_NDBS];

#define STORE_DAY_MS (86400000LL)

struct collector_config;

/* Opens <state_dir>/db with every DB above. writable = false opens read-only
 * (for read commands; works while serve runs). -ENOENT (eb says where and
 * that `serve` creates the store) when there is none yet. */
int store_open(struct db_env *db, const struct collector_config *cfg, bool writable,
	       struct errbuf *eb);

/* Packs msg straight into the DB (MDB_RESERVE, no intermediate buffer). */
int store_put_msg(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key,
		  const ProtobufCMessage *msg);
/* Reads and unpacks one value into a malloc'd message (free with
 * protobuf_c_message_free_unpacked(m, NULL)). MDB_NOTFOUND when missing,
 * -EBADMSG when the stored bytes do not decode. */
int store_get_msg(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key,
		  const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);
/* Same with a caller's allocator (e.g. an arena: then nothing to free). */
int store_get_msg_alloc(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key,
			const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
			ProtobufCMessage **out);

/* Agent record helpers (DB agents). Reading unpacks into a malloc'd message
 * (free with cairn__store__agent__free_unpacked(a, NULL)); -ENOENT when missing. */
int store_agent_get(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		     Cairn__Store__Agent **out);
int store_agent_put(MDB_txn *txn, const struct db_env *env, const Cairn__Store__Agent *a);

/* RawBatch.received_ms read from a stored value without unpacking the
 * payload (field 1, which protobuf-c writes first); 0 when absent. */
int64_t store_raw_received_ms(const MDB_val *v);

/* Raises meta "facts_gen" by one: every write of facts the plan is made from
 * (ingest, imports, tags) does, so snapshots and the console's caches know
 * they are stale. */
int store_bump_facts_gen(MDB_txn *txn, const struct db_env *env, int64_t now_ms);

/* UTC weeks, Monday to Sunday: week w holds the days [7w - 3, 7w + 4) since
 * the epoch (day 0, 1970-01-01, was a Thursday). */
#define STORE_WEEK_MS (7LL * STORE_DAY_MS)
static inline uint32_t store_week_of_day(uint32_t day)
{
	return (uint32_t)(((uint64_t)day + 3) / 7);
}
/* First day of week w (0 for week 0, which began before the epoch). */
static inline uint32_t store_week_first_day(uint32_t w)
{
	return w ? w * 7 - 3 : 0;
}

/* Sets meta "weeks_from" unless it is there: 0 for a store without edges
 * and perf rollups (every week rollup is complete), else the week after
 * now_ms's (the week rollups begin mid-way on an upgraded store). */
int store_weeks_mark(MDB_txn *txn, const struct db_env *env, int64_t now_ms);
/* meta "weeks_from"; UINT32_MAX when not set (no week rollup is used). */
uint32_t store_weeks_from(MDB_txn *txn, const struct db_env *env);

/* "pending", "accepted", "rejected", "revoked" ("unknown" otherwise). */
const char *store_enroll_state_name(Cairn__Store__EnrollState s);

#endif
