/* The writer: serve's three-stage pipeline from verified-to-be batches to
 * durable facts (verifier threads, one writer thread grouping transactions,
 * a syncer thread), described in ingest.h and docs/storage.md. */
#ifndef CAIRN_INGEST_WRITER_H
#define CAIRN_INGEST_WRITER_H

#include <pthread.h>

#include "enroll.h"
#include "ingest.h"

#define INGEST_VERIFIERS_MAX 16


enum ingest_result {
	INGEST_OK = 0,          /* stored (or replay: stored before); ack_seq durable */
	INGEST_REPLAY,          /* seq <= high_seq: not stored again; ack_seq durable */
	INGEST_BAD_SIGNATURE,   /* signature does not verify: nothing stored */
	INGEST_MALFORMED,       /* payload does not decode: nothing stored */
	INGEST_LIMIT,           /* payload above limits: nothing stored */
	INGEST_NOT_ENROLLED,    /* agent record missing or not ACCEPTED */
	INGEST_FAILED,          /* internal error: not stored, not acked */
	INGEST_CONFLICT,        /* seq stored with other content: key used twice? */
};

const char *ingest_result_name(enum ingest_result r);

enum ingest_kind {
	INGEST_KIND_BATCH = 0,  /* store a batch */
	INGEST_KIND_ENROLL,     /* decide a verified AUTH (enroll_on_auth) */
	INGEST_KIND_PRUNE,      /* retention: ingest_prune with cutoff_ms */
};

/* One batch (or enrollment) travelling to the writer and back. The submitter
 * allocates it (with payload owned by the item: free()d by
 * ingest_item_free), the writer fills result/ack_seq/detail (or enroll), and
 * hands it back through done(). Enrollments go through the writer too, so
 * that their durable writes are group-committed off the event loop. */
struct ingest_item {
	struct ingest_item *next;
	enum ingest_kind kind;
	uint8_t agent_id[32];
	uint64_t seq;
	uint8_t sig[SIGN_LEN];
	uint8_t *payload;
	size_t payload_len;
	void *owner;            /* the submitter's context (a session) */
	uint64_t submitted_us;  /* time_mono_us() at submit, for latency stats */
	/* filled by the writer */
	enum ingest_result result;
	uint64_t ack_seq;       /* the agent's durable high_seq after the commit */
	uint32_t records;
	char detail[200];       /* for the log line on failure */
	bool verified;          /* stage 1 finished with it (under the writer's mu) */
	Cairn__Batch *decoded;  /* set by the verifier stage; owned by the writer */
	void *decoded_arena;    /* the arena decoded lives in (one free for all of it) */
	size_t decoded_bytes;   /* what that arena holds: counted in queued_bytes */
	/* INGEST_KIND_ENROLL: input, then outcome */
	char hostname[256];
	char peer[64];
	bool mac_valid;
	enum accept_mode accept_mode;
	struct enroll_outcome enroll;
	/* INGEST_KIND_PRUNE: input, then how many entries were deleted */
	int64_t cutoff_ms;
	uint64_t pruned;
};

void ingest_item_free(struct ingest_item *it);

/* Called on the writer thread with a list of finished items after each
 * commit (or rejection). It must hand them to the event loop (e.g. push to a
 * queue and uv_async_send) and return quickly. */
typedef void (*ingest_done_fn)(struct ingest_item *done_list, void *arg);

struct ingest_writer_stats {
	uint64_t commits, batches, records, replays, bad_signatures, malformed, limits,
		not_enrolled, failures, storage_full_events, conflicts;
	uint64_t last_commit_us;   /* duration of the last commit */
	uint64_t syncs;            /* meta-page fsyncs by the syncer (one may cover several commits) */
	uint64_t last_sync_us;     /* duration of the last one */
	bool storage_full;         /* currently refusing to commit: map_max or disk full */
};

struct ingest_sync;

struct ingest_hole {
	uint8_t agent_id[32];
	uint64_t seq;
};

#define INGEST_HOLES_MAX 65536

struct ingest_writer {
	struct db_env *env;
	struct ingest_limits limits;
	uint64_t commit_interval_us;
	uint32_t commit_batches;
	uint32_t queue_max;        /* submit beyond this still queues; see ingest_writer_full */
	uint64_t queue_max_bytes;  /* bytes queued that make the writer "full" */
	uint64_t queued_bytes;     /* payload + decoded bytes in both queues (under mu) */
	ingest_done_fn done;
	void *done_arg;

	pthread_t thread;
	pthread_t *verifiers;      /* stage 1: signature, decoding, limits */
	unsigned nverifiers, verifiers_running;
	pthread_t syncer;          /* stage 3: meta-page fsync, then done() */
	pthread_mutex_t mu;
	pthread_cond_t cv;         /* writer queue */
	pthread_cond_t vcv;        /* verifier queue */
	pthread_cond_t scv;        /* syncer queue */
	/* batches in arrival order, waiting for verification or for the runs
	 * before them; claim = first one no verifier has taken yet */
	struct ingest_item *in_head, *in_tail, *claim;
	uint32_t in_queued, unclaimed;
	struct ingest_item *head, *tail;       /* verified items waiting for a transaction */
	uint32_t queued;
	bool writer_busy;          /* items arrived while the last group was stored */
	/* writer thread only: agents with a batch whose group failed to commit
	 * and the lowest such seq. Their later batches
	 * still in the pipeline are not stored either (a gap would make the
	 * missing one a "replay" when resent); the agent's resend from its
	 * stored high seq (seq <= the failed one) clears the entry. */
	struct ingest_hole *holes;
	size_t nholes, capholes;
	/* committed groups waiting for the syncer, in commit order */
	struct ingest_sync *sync_head, *sync_tail;
	bool syncing;              /* the syncer is handing a round back */
	bool verifier_done;
	bool writer_done;
	bool stop;
	bool running;
	uint64_t drain_ms;
	struct ingest_writer_stats stats; /* under mu */
};

/* Starts the verifier threads (one per online CPU, at most
 * INGEST_VERIFIERS_MAX), the writer thread and the syncer thread, and sets
 * MDB_NOMETASYNC on env (the syncer syncs the meta page before any result is
 * handed back). env stays owned by the caller (open until stop). */
int ingest_writer_start(struct ingest_writer *w, struct db_env *env,
			const struct ingest_limits *limits, uint64_t commit_interval_ms,
			uint32_t commit_batches, uint32_t queue_max, ingest_done_fn done,
			void *done_arg);
/* Queues one item (ownership passes to the writer until done()). */
void ingest_writer_submit(struct ingest_writer *w, struct ingest_item *it);
/* True while the queues hold queue_max items or queue_max_bytes of payload
 * plus decoded memory (default 32 MiB), or storage is full: stop reading
 * sockets. Verifiers also wait while the bytes are above the bound and
 * verified batches wait for the writer, so decoded memory stays bounded in
 * total, and per batch by INGEST_DECODED_MAX. */
bool ingest_writer_full(struct ingest_writer *w);
uint32_t ingest_writer_queued(struct ingest_writer *w);
void ingest_writer_get_stats(struct ingest_writer *w, struct ingest_writer_stats *out);
/* Commits what is queued (retrying storage-full for at most drain_ms), then
 * joins the thread. Items still not durable come back with INGEST_FAILED. */
void ingest_writer_stop(struct ingest_writer *w, uint64_t drain_ms);

#endif
