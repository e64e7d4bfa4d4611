/* The agent's durable spool: signed batches waiting for the collector's ACK.
 *
 * An LMDB environment in <state_dir>/spool with three named DBs:
 *   batches  key u64 BE seq -> value  sig[64] | i64 BE window_start_ms |
 *                                     i64 BE window_end_ms | payload (protobuf Batch)
 *   meta     key text       -> u64 BE  next_seq, acked_seq, batches, bytes,
 *                                      dropped_batches, dropped_bytes
 *   gaps     key u64 BE first_seq -> last_seq u64 | reason u32 | carrier u64 |
 *                                    window_start_ms i64 | window_end_ms i64
 * (all integers big-endian; docs/agent.md has the full layout).
 *
 * Every change is one LMDB write transaction committed with fsync, so a kill -9
 * (or power loss) at any instant leaves either the state before or the state
 * after it: no torn batch, no counter out of step with the batches.
 *
 * The spool is bounded: the bytes of stored values never exceed spool_max.
 * When a new batch does not fit, the oldest batches are dropped in the same
 * transaction, counted, and described by a Gap (reason SPOOL_FULL, seq range,
 * window times). A Gap is "pending" until a batch carries it (spool_append
 * names the gaps the batch included) and is forgotten once the carrying batch
 * is acknowledged; if the carrying batch is itself dropped, its gaps become
 * pending again, so the collector learns of every lost seq.
 *
 * One process writes (the daemon); its write calls may come from different
 * threads (LMDB's writer lock serialises them: appends run on a worker, ACK
 * deletes on the loop). Any number may read, also with
 * spool_open(..., readonly = true) while the daemon runs. */
#ifndef CAIRN_AGENT_SPOOL_H
#define CAIRN_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "db.h"
#include "sign.h"
#include "util.h"

#define SPOOL_DIR_NAME "spool"
#define SPOOL_HDR_LEN (SIGN_LEN + 16)
#define SPOOL_MAX_DEFAULT ((uint64_t)256 << 20)
#define SPOOL_MAX_MIN ((uint64_t)1 << 20)
#define SPOOL_MAX_GAPS 256 /* pending + carried gap entries kept at most */

struct spool;

struct spool_stats {
	uint64_t next_seq;        /* seq the next appended batch must have (>= 1) */
	uint64_t acked_seq;       /* highest seq the collector acknowledged */
	uint64_t batches;         /* batches stored */
	uint64_t bytes;           /* bytes of stored values (header + payload) */
	uint64_t oldest_seq;      /* 0 when empty */
	uint64_t newest_seq;      /* 0 when empty */
	uint64_t dropped_batches; /* dropped, ever: spool full, spool_reject, or
				     never written (spool_batch.lost) */
	uint64_t dropped_bytes;
	uint64_t pending_gaps;    /* gaps not yet carried by a batch */
	uint64_t spool_max;
};

struct spool_gap {
	uint64_t first_seq;
	uint64_t last_seq;
	uint32_t reason;          /* CAIRN__GAP_REASON__* */
	uint64_t carrier;         /* seq of the batch that carries it, 0 = pending */
	int64_t window_start_ms;
	int64_t window_end_ms;
};

/* One stored batch. From spool_get the buffer is malloc'd (free with
 * spool_entry_free); inside a spool_iterate callback it points into the
 * read transaction and is valid only during the call. */
struct spool_entry {
	uint64_t seq;
	const uint8_t *sig;       /* SIGN_LEN bytes */
	int64_t window_start_ms;
	int64_t window_end_ms;
	const uint8_t *payload;
	size_t payload_len;
	uint8_t *owned;           /* non-NULL when malloc'd */
};

/* What spool_append stores. gaps[0..ngaps) are the pending gaps the payload
 * included (as returned by spool_pending_gaps); they become carried by seq.
 * acked (0 = none) is the highest seq the collector acknowledged, should the
 * caller know more than the spool does yet: those batches are deleted in the
 * same transaction, before room is made, so a batch the collector holds is
 * never dropped as "oldest" and reported as a gap. */
struct spool_batch {
	uint64_t seq;
	const uint8_t *sig;
	int64_t window_start_ms;
	int64_t window_end_ms;
	const uint8_t *payload;
	size_t payload_len;
	const struct spool_gap *gaps;
	size_t ngaps;
	uint64_t acked;
	/* Windows before this one that could not be stored (an append failed:
	 * disk full, I/O error): they take seqs seq - lost .. seq - 1, recorded
	 * as a SPOOL_GAP_UNWRITTEN gap carried by this batch (whose payload
	 * should hold the same Gap). seq must then be next_seq + lost. */
	uint64_t lost;
	int64_t lost_start_ms, lost_end_ms;
};

/* Reason of the gap for windows that were never stored. */
#define SPOOL_GAP_UNWRITTEN CAIRN__GAP_REASON__SPOOL_WRITE_FAILED

/* Opens (creating when missing, unless readonly) <state_dir>/spool.
 * spool_max is the bound in bytes (>= SPOOL_MAX_MIN). A reader opened
 * readonly sees committed state only and never blocks the writer. */
int spool_open(struct spool **out, const char *state_dir, uint64_t spool_max, bool readonly,
	       struct errbuf *eb);
void spool_close(struct spool *sp);

/* Changes the bound; takes effect with the next append (which also lets the
 * map grow accordingly). Safe to call from another thread than the one that
 * appends. */
void spool_set_max(struct spool *sp, uint64_t spool_max);

int spool_stats(struct spool *sp, struct spool_stats *st);
/* The seq the next spool_append must use. */
int spool_next_seq(struct spool *sp, uint64_t *seq);

/* Pending gaps (carrier 0), oldest first, at most max; *n is set to how many. */
int spool_pending_gaps(struct spool *sp, struct spool_gap *out, size_t max, size_t *n);
/* Every gap entry, pending or carried by a stored batch. */
int spool_gaps(struct spool *sp, struct spool_gap *out, size_t max, size_t *n);

/* Stores b durably. b->seq must equal the current next_seq + b->lost
 * (-ESTALE otherwise); next_seq becomes b->seq + 1. Oldest batches are dropped first
 * when the value would not fit under spool_max; *dropped (may be NULL) says how
 * many. -EFBIG when the value alone is larger than spool_max (nothing changes).
 * Other failures are LMDB errors (negative errno or MDB_* codes; db_strerror). */
int spool_append(struct spool *sp, const struct spool_batch *b, uint64_t *dropped,
		 struct errbuf *eb);

/* Deletes every batch with seq <= seq and forgets the gaps they carried;
 * acked_seq becomes max(acked_seq, seq). */
int spool_ack(struct spool *sp, uint64_t seq);

/* Removes batch seq (the collector refused its content) and records it as a
 * pending gap with the given reason (CAIRN__GAP_REASON__*); gaps it carried
 * become pending again. -ENOENT when seq is not stored. */
int spool_reject(struct spool *sp, uint64_t seq, uint32_t reason);

/* After the collector reported a high-water mark at or above our next_seq (our
 * spool was lost or reset): next_seq becomes max(next_seq, min_next) and
 * everything below it is acknowledged. *raised says whether next_seq moved. */
int spool_advance(struct spool *sp, uint64_t min_next, bool *raised);

/* The first stored batch with seq >= min_seq, copied. -ENOENT when none. */
int spool_get(struct spool *sp, uint64_t min_seq, struct spool_entry *out);
void spool_entry_free(struct spool_entry *e);

/* Calls fn for each batch with seq >= from_seq in order, inside one read
 * transaction, until fn returns non-zero (which is then returned). */
typedef int (*spool_iter_fn)(const struct spool_entry *e, void *arg);
int spool_iterate(struct spool *sp, uint64_t from_seq, spool_iter_fn fn, void *arg);

/* Renames <state_dir>/spool (refused by spool_open as DB_ERR_DAMAGED) to
 * <state_dir>/spool.damaged-<UTC time>[-N], kept for inspection; the new path
 * goes to moved. The next spool_open creates a fresh spool. */
int spool_move_aside(const char *state_dir, char *moved, size_t moved_len, struct errbuf *eb);

/* After a spool was lost: next_seq becomes at least lost->last_seq + 1 and
 * lost becomes a pending gap (the next batch carries it to the collector). */
int spool_resume_after_loss(struct spool *sp, const struct spool_gap *lost);

/* Fills a protobuf Gap from g (strings point to static text). */
void spool_gap_to_proto(const struct spool_gap *g, Cairn__Gap *out);

#endif
