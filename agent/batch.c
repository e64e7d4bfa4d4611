/* Report batch building (see batch.h). */
#include "batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cairn-config.h"
#include "collect_host.h"
#include "log.h"

_Static_assert(BATCH_HASH_LEN == crypto_generichash_BYTES, "host hash length");

void batch_memory_free(struct batch_memory *m)
{
	if (m->last_procs)
		cairn__process_snapshot__free_unpacked(m->last_procs, NULL);
	memset(m, 0, sizeof(*m));
}

static Cairn__Record *add_record(struct batch *b, Cairn__Record__KindCase kind)
{
	Cairn__Record *r = collect_alloc(sizeof(*r));
	cairn__record__init(r);
	r->kind_case = kind;
	*COLLECT_PUSH(b->msg, records) = r;
	return r;
}

void batch_init(struct batch *b, uint64_t seq, const uint8_t agent_pk[static KEY_PUBLIC_LEN],
		const char *boot_id, int64_t start_ms, int64_t end_ms)
{
	memset(b, 0, sizeof(*b));
	b->seq = seq;
	Cairn__Batch *m = collect_alloc(sizeof(*m));
	cairn__batch__init(m);
	m->agent_id.data = collect_alloc(KEY_PUBLIC_LEN);
	memcpy(m->agent_id.data, agent_pk, KEY_PUBLIC_LEN);
	m->agent_id.len = KEY_PUBLIC_LEN;
	m->boot_id = collect_strdup(boot_id);
	m->window_start_ms = start_ms;
	m->window_end_ms = end_ms;
	m->agent_version = collect_strdup(CAIRN_VERSION);
	b->msg = m;
}

void batch_free(struct batch *b)
{
	if (b->msg) {
		for (size_t i = 0; i < b->msg->n_records; i++) {
			Cairn__Record *r = b->msg->records[i];
			if (r->kind_case == CAIRN__RECORD__KIND_PROCESSES && r->processes == b->detached)
				r->processes = NULL;
		}
		cairn__batch__free_unpacked(b->msg, NULL);
	}
	free(b->packed);
	memset(b, 0, sizeof(*b));
}

void batch_add_perf(struct batch *b, Cairn__PerfWindow *pw)
{
	if (pw)
		add_record(b, CAIRN__RECORD__KIND_PERF)->perf = pw;
}

void batch_add_connections(struct batch *b, Cairn__ConnectionWindow *cw, Cairn__ListenerSet *ls)
{
	if (cw)
		add_record(b, CAIRN__RECORD__KIND_CONNECTIONS)->connections = cw;
	if (ls)
		add_record(b, CAIRN__RECORD__KIND_LISTENERS)->listeners = ls;
}

void batch_add_processes(struct batch *b, struct collect_ctx *ctx, struct proc_state *proc,
			 struct batch_memory *m, bool full)
{
	Cairn__ProcessSnapshot *snap = NULL;
	if (!proc)
		return;
	int rc = collect_proc_snapshot(ctx, proc, &snap);
	if (rc || !snap) {
		collect_error(ctx, COLLECT_PROC, "process scan failed: %s", strerror(-rc));
		return;
	}
	if (full || !m->last_procs) {
		add_record(b, CAIRN__RECORD__KIND_PROCESSES)->processes = snap;
		b->detached = snap; /* stays m->last_procs after the batch is freed */
	} else {
		Cairn__ProcessDelta *delta = NULL;
		rc = collect_proc_delta(m->last_procs, snap, &delta);
		if (rc == 0 && delta && (delta->n_started || delta->n_exited_pids))
			add_record(b, CAIRN__RECORD__KIND_PROCESS_DELTA)->process_delta = delta;
		else if (delta)
			cairn__process_delta__free_unpacked(delta, NULL);
	}
	if (m->last_procs && m->last_procs != b->detached)
		cairn__process_snapshot__free_unpacked(m->last_procs, NULL);
	m->last_procs = snap;
}

/* Hash of the host facts without the fields that change all the time, so a
 * HostInfo is sent only when something a person would call a change
 * happened. */
static void host_hash(Cairn__HostInfo *h, uint8_t out[static BATCH_HASH_LEN])
{
	uint64_t uptime = h->uptime_s;
	int64_t collected = h->collected_ms;
	h->uptime_s = 0;
	h->collected_ms = 0;
	uint64_t *used = NULL, *iused = NULL;
	if (h->n_filesystems) {
		used = calloc(h->n_filesystems, sizeof(*used));
		iused = calloc(h->n_filesystems, sizeof(*iused));
	}
	for (size_t i = 0; used && iused && i < h->n_filesystems; i++) {
		used[i] = h->filesystems[i]->used_bytes;
		iused[i] = h->filesystems[i]->inodes_used;
		h->filesystems[i]->used_bytes = 0;
		h->filesystems[i]->inodes_used = 0;
	}
	size_t len = cairn__host_info__get_packed_size(h);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf) {
		cairn__host_info__pack(h, buf);
		crypto_generichash(out, BATCH_HASH_LEN, buf, len, NULL, 0);
		free(buf);
	} else {
		memset(out, 0, BATCH_HASH_LEN);
	}
	for (size_t i = 0; used && iused && i < h->n_filesystems; i++) {
		h->filesystems[i]->used_bytes = used[i];
		h->filesystems[i]->inodes_used = iused[i];
	}
	free(used);
	free(iused);
	h->uptime_s = uptime;
	h->collected_ms = collected;
}

void batch_add_host(struct batch *b, struct collect_ctx *ctx, struct batch_memory *m, bool full)
{
	Cairn__HostInfo *h = NULL;
	if (collect_host(ctx, &h) || !h)
		return;
	uint8_t hash[BATCH_HASH_LEN];
	host_hash(h, hash);
	if (!full && m->have_host_hash && !memcmp(hash, m->host_hash, sizeof(hash))) {
		cairn__host_info__free_unpacked(h, NULL);
		return;
	}
	memcpy(m->host_hash, hash, sizeof(hash));
	m->have_host_hash = true;
	add_record(b, CAIRN__RECORD__KIND_HOST)->host = h;
}

/* Every report checks (cheap when the database files did not change). */
void batch_add_packages(struct batch *b, struct collect_ctx *ctx, struct batch_memory *m, bool full)
{
	Cairn__PackageInventory **inv = NULL;
	size_t n = 0;
	if (full)
		memset(&m->pkg, 0, sizeof(m->pkg));
	if (collect_pkg(ctx, &m->pkg, &inv, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		if (inv[i]->unchanged && !full) {
			cairn__package_inventory__free_unpacked(inv[i], NULL);
			continue;
		}
		add_record(b, CAIRN__RECORD__KIND_PACKAGES)->packages = inv[i];
	}
	free(inv);
}

static Cairn__Gap *add_gap(struct batch *b, const struct spool_gap *sg)
{
	Cairn__Gap *g = collect_alloc(sizeof(*g));
	spool_gap_to_proto(sg, g);
	g->detail = collect_strdup(g->detail);
	add_record(b, CAIRN__RECORD__KIND_GAP)->gap = g;
	return g;
}

void batch_add_gaps(struct batch *b, const struct spool_gap *gaps, size_t ngaps, uint64_t lost,
		    int64_t lost_start_ms, int64_t lost_end_ms)
{
	for (size_t i = 0; i < ngaps; i++)
		add_gap(b, &gaps[i]);
	b->lost = lost;
	if (lost) {
		struct spool_gap lg = { .first_seq = b->seq - lost, .last_seq = b->seq - 1,
					.reason = SPOOL_GAP_UNWRITTEN,
					.window_start_ms = lost_start_ms,
					.window_end_ms = lost_end_ms };
		b->lost_gap = add_gap(b, &lg);
	}
}

static Cairn__CollectorStat *stat_new(const char *name, uint64_t errors, uint64_t items,
				      uint64_t runs, const char *last_error)
{
	Cairn__CollectorStat *cs = collect_alloc(sizeof(*cs));
	cairn__collector_stat__init(cs);
	cs->collector = collect_strdup(name);
	cs->errors = errors;
	cs->items = items;
	cs->runs = runs;
	cs->last_error = collect_strdup(last_error);
	return cs;
}

void batch_add_health(struct batch *b, const struct collect_ctx *ctx, const struct batch_health *in)
{
	Cairn__CollectorHealth *h = collect_health(ctx);
	Cairn__CollectorStat **stats = realloc(h->stats, (h->n_stats + 2) * sizeof(*h->stats));
	if (stats) {
		h->stats = stats;
		h->stats[h->n_stats++] = stat_new("spool", in->spool_errors, in->spool_items,
						  in->spool_runs, in->spool_last_error);
		h->stats[h->n_stats++] = stat_new("send", in->send_errors, in->send_items,
						  in->send_runs, in->send_last_error);
	}
	if (in->cpu_pct >= 0)
		h->cpu_pct = in->cpu_pct;
	h->rss_bytes = in->rss_bytes;
	h->spool_batches = in->spool_batches;
	h->spool_bytes = in->spool_bytes;
	h->dropped_batches = in->dropped_batches;
	if (in->capture) {
		h->capture = collect_strdup(in->capture);
		h->capture_ebpf = in->capture_ebpf;
		h->capture_events = in->capture_events;
		h->capture_ringbuf_drops = in->capture_ringbuf_drops;
		h->capture_map_full = in->capture_map_full;
		h->capture_udp_datagrams = in->capture_udp_datagrams;
	}
	add_record(b, CAIRN__RECORD__KIND_HEALTH)->health = h;
}

size_t batch_soft_max(uint64_t spool_max)
{
	size_t half = (size_t)(spool_max / 2);
	return half && half < BATCH_SOFT_MAX ? half : BATCH_SOFT_MAX;
}

static void cut_cmdlines(Cairn__ProcessSnapshot *ps)
{
	for (size_t k = 0; k < ps->n_processes; k++) {
		char *cmd = ps->processes[k]->cmdline;
		size_t cut = BATCH_CMDLINE_CUT;
		if (!cmd || strlen(cmd) <= cut)
			continue;
		while (cut > 0 && ((unsigned char)cmd[cut] & 0xC0) == 0x80)
			cut--; /* keep whole UTF-8 characters */
		cmd[cut] = '\0';
	}
}

int batch_fit(struct batch *b, size_t soft_max, struct batch_memory *m)
{
	Cairn__Batch *msg = b->msg;
	if (cairn__batch__get_packed_size(msg) <= soft_max)
		return 0;
	for (size_t i = 0; i < msg->n_records; i++) {
		Cairn__Record *r = msg->records[i];
		if (r->kind_case == CAIRN__RECORD__KIND_PROCESSES && r->processes)
			cut_cmdlines(r->processes);
	}
	if (cairn__batch__get_packed_size(msg) <= soft_max)
		return 0;
	/* Package lists go out in the next batch instead, on their own; lists
	 * that cannot fit even alone are not sent until they change (or the next
	 * inventory), rather than failing every window. */
	size_t kept = 0, pkg_bytes = 0;
	for (size_t i = 0; i < msg->n_records; i++) {
		Cairn__Record *r = msg->records[i];
		if (r->kind_case == CAIRN__RECORD__KIND_PACKAGES) {
			pkg_bytes += cairn__record__get_packed_size(r);
			cairn__record__free_unpacked(r, NULL);
		} else {
			msg->records[kept++] = r;
		}
	}
	msg->n_records = kept;
	if (pkg_bytes + 4096 < soft_max) {
		memset(&m->pkg, 0, sizeof(m->pkg));
		log_warn("batch %llu was larger than %zu bytes: command lines cut to %d bytes, "
			 "package lists moved to the next batch",
			 (unsigned long long)b->seq, soft_max, BATCH_CMDLINE_CUT);
		return 1;
	}
	log_error("package lists (%zu bytes) do not fit in one batch (at most %zu bytes, half "
		  "of spool_max up to 3 MiB): not sent; raise spool_max",
		  pkg_bytes, soft_max);
	return -EMSGSIZE;
}

int batch_pack_sign(struct batch *b, uint64_t seq, const struct keypair *kp)
{
	b->seq = seq;
	b->msg->seq = seq;
	if (b->lost_gap) {
		b->lost_gap->first_seq = seq - b->lost;
		b->lost_gap->last_seq = seq - 1;
	}
	free(b->packed);
	b->packed_len = cairn__batch__get_packed_size(b->msg);
	b->packed = malloc(b->packed_len ? b->packed_len : 1);
	if (!b->packed)
		return -ENOMEM;
	cairn__batch__pack(b->msg, b->packed);
	return sign_batch(b->sig, kp->sk, kp->pk, seq, b->packed, b->packed_len);
}
