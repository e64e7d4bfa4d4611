/* One report batch being built: the records of a window (performance,
 * connections, processes, host facts, packages, gaps, health), shrinking to
 * a size the collector accepts, packing and signing.
 *
 * Pure: no event loop, no spool write, no sender. The daemon builds a batch
 * on its worker thread (batch_init, batch_add_*, batch_fit,
 * batch_pack_sign), writes batch.packed/batch.sig to the spool itself and
 * frees the batch with batch_free(); tests do the same without libuv.
 *
 * Memory: every record is malloc'd (collect_alloc) and owned by the batch,
 * except a full process snapshot, which is also the base of the next delta
 * and belongs to the batch_memory: batch_free() leaves it alone. */
#ifndef CAIRN_AGENT_BATCH_H
#define CAIRN_AGENT_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "collect.h"
#include "collect_pkg.h"
#include "collect_proc.h"
#include "keys.h"
#include "sign.h"
#include "spool.h"

/* A batch stays well below the collector's default max_frame (4 MiB), and
 * below half the spool so one batch never evicts everything else. */
#define BATCH_SOFT_MAX ((size_t)3 << 20)
/* Command lines of a full snapshot are cut to this many bytes when a batch
 * is too large. */
#define BATCH_CMDLINE_CUT 200
#define BATCH_HASH_LEN 32

/* What one batch leaves to the next: the process delta base and what makes
 * host facts and package lists go out only when they changed. Zeroed = nothing
 * sent yet. */
struct batch_memory {
	Cairn__ProcessSnapshot *last_procs;   /* owned; free with batch_memory_free */
	uint8_t host_hash[BATCH_HASH_LEN];
	bool have_host_hash;
	struct pkg_state pkg;
};

void batch_memory_free(struct batch_memory *m);

struct batch {
	Cairn__Batch *msg;
	uint64_t seq;
	uint64_t lost;                    /* windows before seq never stored: seq-lost .. seq-1 */
	Cairn__Gap *lost_gap;             /* their Gap record, renumbered by batch_pack_sign */
	Cairn__ProcessSnapshot *detached; /* record that is the batch_memory's last_procs */
	uint8_t *packed;                  /* after batch_pack_sign */
	size_t packed_len;
	uint8_t sig[SIGN_LEN];
};

/* Starts an empty batch for the window [start_ms, end_ms): agent id, boot id
 * and version in the header. seq is the planned sequence number (the gap
 * records use it; batch_pack_sign may renumber). */
void batch_init(struct batch *b, uint64_t seq, const uint8_t agent_pk[static KEY_PUBLIC_LEN],
		const char *boot_id, int64_t start_ms, int64_t end_ms);
/* Frees every record except the detached snapshot; b may be zeroed. */
void batch_free(struct batch *b);

/* Each takes ownership of a non-NULL record; NULL adds nothing. */
void batch_add_perf(struct batch *b, Cairn__PerfWindow *pw);
void batch_add_connections(struct batch *b, Cairn__ConnectionWindow *cw, Cairn__ListenerSet *ls);

/* A full snapshot when full or when m holds no base yet, else the delta
 * against m->last_procs (only when something started or exited). The new
 * snapshot becomes m->last_procs. A failed scan is counted in ctx. */
void batch_add_processes(struct batch *b, struct collect_ctx *ctx, struct proc_state *proc,
			 struct batch_memory *m, bool full);
/* Host facts when full or when they changed (uptime, usage and the collection
 * time do not count as changes). */
void batch_add_host(struct batch *b, struct collect_ctx *ctx, struct batch_memory *m, bool full);
/* Package lists that changed, or all of them when full. */
void batch_add_packages(struct batch *b, struct collect_ctx *ctx, struct batch_memory *m,
			bool full);

/* Gap records: the spool's pending gaps, and when lost > 0 one for the
 * windows lost_start_ms..lost_end_ms never stored (seq-lost .. seq-1). */
void batch_add_gaps(struct batch *b, const struct spool_gap *gaps, size_t ngaps, uint64_t lost,
		    int64_t lost_start_ms, int64_t lost_end_ms);

/* The agent's own health: collector counters from ctx plus these. */
struct batch_health {
	uint64_t spool_errors, spool_items, spool_runs;
	const char *spool_last_error;
	uint64_t send_errors, send_items, send_runs;
	const char *send_last_error;
	double cpu_pct;                   /* < 0: unknown (first window) */
	uint64_t rss_bytes;
	uint64_t spool_batches, spool_bytes, dropped_batches;
	const char *capture;              /* capture_describe(); NULL: not reported */
	bool capture_ebpf;
	uint64_t capture_events, capture_ringbuf_drops, capture_map_full, capture_udp_datagrams;
};
void batch_add_health(struct batch *b, const struct collect_ctx *ctx, const struct batch_health *h);

/* The size limit for a spool of spool_max bytes (0 = unknown): half of it, at
 * most BATCH_SOFT_MAX. */
size_t batch_soft_max(uint64_t spool_max);

/* A batch larger than soft_max would be refused forever: cuts the command
 * lines of process snapshots to BATCH_CMDLINE_CUT bytes, then (still too
 * large) removes the package lists and forgets m->pkg so they go out in the
 * next batch on their own. Returns 0 when nothing was removed, 1 when package
 * lists were moved to the next batch, -EMSGSIZE when they cannot fit even
 * alone (then they are not sent until they change). */
int batch_fit(struct batch *b, size_t soft_max, struct batch_memory *m);

/* Sets seq (renumbering the lost-window gap), packs into b->packed and signs
 * it. 0, -ENOMEM or the signer's error. May be called again to renumber. */
int batch_pack_sign(struct batch *b, uint64_t seq, const struct keypair *kp);

#endif
