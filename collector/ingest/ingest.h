/* Ingest: verified batches into the collector's LMDB facts.
 *
 * Two layers:
 *  - Pure transaction functions (ingest_apply, ingest_store): given an open
 *    write transaction, store one batch. Analysis tests and data generators
 *    call ingest_apply directly to build stores.
 *  - The writer (struct ingest_writer, ingest_writer.h): a three-stage pipeline.
 *    1. Verifier threads (one per online CPU) check each batch's signature
 *       BEFORE unpacking its protobuf, then decode it and check the limits.
 *       They claim runs of queued batches in arrival order and publish them
 *       to stage 2 strictly in arrival order (a finished run waits for the
 *       runs before it), so every connection's batches stay in order.
 *    2. The writer thread groups verified batches from many connections into
 *       one write transaction and commits it. Group size follows the load:
 *       when batches arrived while the previous group was being stored and
 *       committed, it takes them at once (up to commit_batches); when it was
 *       idle it waits at most commit_interval for more.
 *    3. The syncer thread makes each commit durable (the commit itself
 *       syncs the data pages; the meta page is synced by the syncer, LMDB's
 *       MDB_NOMETASYNC) while the writer already stores the next group, and
 *       only then hands the results back, so ACKs go out only after fsync.
 *    The caller's event loop never waits on fsync.
 *
 * Keys and values: collector/ingest/store.h and docs/storage.md. */
#ifndef CAIRN_INGEST_H
#define CAIRN_INGEST_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "db.h"
#include "keys.h"
#include "sign.h"
#include "store.pb-c.h"
#include "util.h"

/* Protocol limits on one batch (docs/protocol.md). */
#define INGEST_MAX_RECORDS_DEFAULT 100000u
#define INGEST_MAX_STRING_DEFAULT 65536u
#define INGEST_MAX_REPEATED_DEFAULT 200000u

/* Unknown protobuf fields in one batch (all levels together): a newer agent
 * adds a few, an attacker millions (each costs ~40 bytes decoded for 2 bytes
 * on the wire). Above the budget the batch is malformed. */
#define INGEST_MAX_UNKNOWN_DEFAULT 16384u
/* How far a batch's seq (and a Gap's range) may run ahead of the stored high
 * seq: one batch per report window, so 2^24 is years of windows, while a
 * forged seq near UINT64_MAX would make every later batch a replay. */
#define INGEST_MAX_SEQ_JUMP ((uint64_t)1 << 24)
/* The most decoding one batch of n payload bytes may allocate (the
 * verifiers' arena cap). Honest batches take 4-12x their size
 * (test_ingest: honest_batches_fit_the_decoding_cap, a package inventory is
 * the densest); a flood of 2-byte unknown fields 20x, refused here. */
#define INGEST_DECODED_MAX(n) ((size_t)(n) * 16 + ((size_t)256 << 10))
/* First chunk of that arena: most honest batches fit in it. */
#define INGEST_DECODED_FIRST(n) ((size_t)(n) * 4 + 1024)

struct ingest_limits {
	uint32_t max_records;  /* Batch.records */
	uint32_t max_string;   /* bytes of any string or bytes field */
	uint32_t max_repeated; /* elements of any other repeated field */
	uint32_t max_unknown;  /* unknown fields in the whole batch */
};

/* ingest_store's refusals that still commit the counters in the agent
 * record (the caller does not abort the transaction for them). */
#define INGEST_ERR_CONFLICT (-EEXIST) /* seq stored with other content */
#define INGEST_ERR_SEQ_JUMP (-ERANGE) /* seq > high_seq + INGEST_MAX_SEQ_JUMP */

void ingest_limits_default(struct ingest_limits *l);

/* What one or more ingest_apply/ingest_store calls did; callers sum them. */
struct ingest_stats {
	uint64_t batches;          /* stored */
	uint64_t records;          /* records stored (all kinds) */
	uint64_t hosts, perf, procs, proc_deltas, listeners, packages, packages_unchanged;
	uint64_t edges;            /* edge records merged into EdgeDay values */
	uint64_t addrs;            /* address claims written */
	uint64_t gaps, gap_batches;/* Gap records, and batches they account for */
	uint64_t health;
	uint64_t unknown_records;  /* Record with no kind set (newer agent): skipped */
	uint64_t unchanged_without_base; /* packages unchanged=true but nothing stored before */
	uint64_t replays;          /* ingest_store: seq <= high_seq, not stored */
};

/* Checks a decoded batch against the limits: record count, every string and
 * bytes field length, every repeated count (walks the message generically),
 * Gap ranges (first <= last < the batch's seq, at most INGEST_MAX_SEQ_JUMP
 * long). -E2BIG with eb naming the field and the limit; -EBADMSG when the
 * batch holds more than max_unknown unknown fields (malformed). */
int ingest_check_limits(const Cairn__Batch *b, const struct ingest_limits *l, struct errbuf *eb);

/* Stores the records of one verified batch for agent_id (32 bytes), in txn:
 *   host      -> hosts (HostFacts) + addrs (claims from the NICs; the agent's
 *                claims from its previous HostInfo are removed first)
 *   perf      -> perf, key agent | window_start_ms
 *   processes -> procs (replaces), process_delta -> procs (applied to the stored snapshot)
 *   listeners -> listeners (replaces)
 *   packages  -> packages, key agent | manager; unchanged=true keeps the stored list
 *   connections -> edges: each edge merged into store.EdgeDay at
 *                agent | UTC day of the window start | ingest_edge_hash(edge)
 *   gap       -> gaps, key agent | first_seq
 *   health    -> health (replaces)
 * and raises meta "facts_gen" by one. Does not touch the agents DB (see
 * ingest_store). env must have been opened with store_db_names (collector/ingest/store.h).
 * Returns 0 or an LMDB error (MDB_MAP_FULL ...) / -ENOMEM; on error the caller
 * aborts txn. st may be NULL. */
int ingest_apply(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		 const Cairn__Batch *batch, int64_t now_ms, struct ingest_stats *st);

/* The full path for one verified, decoded batch of an enrolled agent:
 * replay check against the agent's high_seq (replay -> counted in the agent
 * record and st->replays, nothing stored, returns 0 with *stored = false),
 * raw batch into batches, ingest_apply, then the agent record's high_seq,
 * counters, last_batch_ms, hostname/version/boot id, all in txn.
 * *high_seq (may be NULL) receives the agent's high_seq afterwards.
 * -ENOENT when the agent has no record, -EPERM when it is not ACCEPTED.
 * INGEST_ERR_CONFLICT when seq <= high_seq and the stored raw batch of that
 * seq has other content (counted in the agent record: conflicts);
 * INGEST_ERR_SEQ_JUMP when seq is too far ahead (counted: limit_batches).
 * For these two the transaction holds only the counter update: commit it. */
int ingest_store(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		 uint64_t seq, const uint8_t sig[static SIGN_LEN], const uint8_t *payload,
		 size_t payload_len, const Cairn__Batch *batch, int64_t now_ms,
		 struct ingest_stats *st, bool *stored, uint64_t *high_seq);

/* Retention: deletes raw batches received before cutoff_ms and perf windows
 * that started before it, at most max_deletes entries (0 = no bound).
 * *deleted gets the count; when it equals max_deletes more may remain. */
int ingest_prune(MDB_txn *txn, const struct db_env *env, int64_t cutoff_ms, uint64_t max_deletes,
		 uint64_t *deleted);

/* Stable 64-bit hash of an edge's collapsed key: direction, protocol,
 * identity (or process name), container id, local port for inbound/local,
 * remote address, remote port for outbound, peer identity for local. */
uint64_t ingest_edge_hash(const Cairn__Edge *e);

#endif
