#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "arena.h"
#include "imports.h"
#include "log.h"
#include "rollup.h"
#include "store.h"

void ingest_limits_default(struct ingest_limits *l)
{
	l->max_records = INGEST_MAX_RECORDS_DEFAULT;
	l->max_string = INGEST_MAX_STRING_DEFAULT;
	l->max_repeated = INGEST_MAX_REPEATED_DEFAULT;
	l->max_unknown = INGEST_MAX_UNKNOWN_DEFAULT;
}

/* ------------------------------------------------------------ limits */

static int check_msg(const ProtobufCMessage *m, const struct ingest_limits *l, const char *path,
		     uint64_t *unknown, struct errbuf *eb);

static int check_value(const ProtobufCFieldDescriptor *fd, const void *p,
		       const struct ingest_limits *l, const char *path, uint64_t *unknown,
		       struct errbuf *eb)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		size_t n = s ? strlen(s) : 0;
		if (n > l->max_string)
			return errbuf_set(eb, -E2BIG, "%s.%s: string of %zu bytes above max_string %u",
					  path, fd->name, n, l->max_string);
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;
		if (b->len > l->max_string)
			return errbuf_set(eb, -E2BIG, "%s.%s: %zu bytes above max_string %u", path,
					  fd->name, b->len, l->max_string);
		return 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (!sub)
			return 0;
		return check_msg(sub, l, fd->name, unknown, eb);
	}
	default:
		return 0;
	}
}

static int check_msg(const ProtobufCMessage *m, const struct ingest_limits *l, const char *path,
		     uint64_t *unknown, struct errbuf *eb)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	*unknown += m->n_unknown_fields;
	if (*unknown > l->max_unknown)
		return errbuf_set(eb, -EBADMSG,
				  "more than %u unknown protobuf fields (at %s): not a batch this "
				  "collector can store (from a newer agent? upgrade the collector "
				  "first)",
				  l->max_unknown, path);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		const char *base = (const char *)m;
		if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which = *(const uint32_t *)(base + fd->quantifier_offset);
			if (which != fd->id)
				continue;
		}
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + fd->quantifier_offset);
			if (n > l->max_repeated)
				return errbuf_set(eb, -E2BIG,
						  "%s.%s: %zu elements above max_repeated %u", path,
						  fd->name, n, l->max_repeated);
			if (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_BYTES &&
			    fd->type != PROTOBUF_C_TYPE_MESSAGE)
				continue;
			const char *arr = *(char *const *)(base + fd->offset);
			size_t sz = fd->type == PROTOBUF_C_TYPE_BYTES ? sizeof(ProtobufCBinaryData)
								       : sizeof(void *);
			for (size_t j = 0; j < n; j++) {
				int rc = check_value(fd, arr + j * sz, l, path, unknown, eb);
				if (rc)
					return rc;
			}
		} else {
			int rc = check_value(fd, base + fd->offset, l, path, unknown, eb);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int ingest_check_limits(const Cairn__Batch *b, const struct ingest_limits *l, struct errbuf *eb)
{
	if (b->n_records > l->max_records)
		return errbuf_set(eb, -E2BIG, "batch has %zu records, above max_records %u",
				  b->n_records, l->max_records);
	uint64_t unknown = 0;
	int rc = check_msg(&b->base, l, "batch", &unknown, eb);
	if (rc)
		return rc;
	for (size_t i = 0; i < b->n_records; i++) {
		const Cairn__Gap *g = b->records[i]->kind_case == CAIRN__RECORD__KIND_GAP
					      ? b->records[i]->gap
					      : NULL;
		if (!g)
			continue;
		if (g->first_seq > g->last_seq || g->last_seq >= b->seq ||
		    g->last_seq - g->first_seq >= INGEST_MAX_SEQ_JUMP)
			return errbuf_set(eb, -E2BIG,
					  "Gap %llu..%llu in batch seq %llu: a gap must lie before its "
					  "batch and span at most %llu seqs",
					  (unsigned long long)g->first_seq,
					  (unsigned long long)g->last_seq, (unsigned long long)b->seq,
					  (unsigned long long)INGEST_MAX_SEQ_JUMP);
	}
	return 0;
}

/* ------------------------------------------------------------ helpers */

static void key_agent(struct db_key *k, const uint8_t agent_id[static 32])
{
	db_key_init(k);
	db_key_bytes(k, agent_id, 32);
}

static void stats_add(struct ingest_stats *to, const struct ingest_stats *from)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;
	for (size_t i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}

/* ------------------------------------------------------------ records */

static int addr_claims(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		       const Cairn__HostInfo *info, bool add, int64_t now_ms,
		       struct ingest_stats *st)
{
	for (size_t i = 0; i < info->n_nics; i++) {
		const Cairn__Nic *nic = info->nics[i];
		for (size_t j = 0; j < nic->n_addresses; j++) {
			const Cairn__IpAddress *ip = nic->addresses[j];
			uint8_t a16[16];
			if (addr_parse(ip->address, a16) != 0)
				continue;
			struct db_key k;
			db_key_init(&k);
			db_key_bytes(&k, a16, 16);
			db_key_bytes(&k, agent_id, 32);
			int rc;
			if (!add) {
				MDB_val kv = db_key_val(&k);
				rc = mdb_del(txn, env->dbi[STORE_ADDRS], &kv, NULL);
				if (rc && rc != MDB_NOTFOUND)
					return rc;
				continue;
			}
			Cairn__Store__AddrClaim c = CAIRN__STORE__ADDR_CLAIM__INIT;
			c.nic = nic->name;
			c.prefix_len = ip->prefix_len;
			c.last_seen_ms = now_ms;
			c.virtual_ = nic->virtual_;
			c.loopback = addr_is_loopback(a16) || (ip->scope && !strcmp(ip->scope, "host"));
			rc = store_put_msg(txn, env->dbi[STORE_ADDRS], &k, &c.base);
			if (rc)
				return rc;
			st->addrs++;
		}
	}
	return 0;
}

static int apply_host(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		      const Cairn__Batch *b, const Cairn__HostInfo *info, int64_t now_ms,
		      struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	ProtobufCMessage *old = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_HOSTS], &k, &cairn__store__host_facts__descriptor,
			       &old);
	if (rc == 0) {
		const Cairn__Store__HostFacts *hf = (const Cairn__Store__HostFacts *)old;
		if (hf->info)
			rc = addr_claims(txn, env, agent_id, hf->info, false, now_ms, st);
		protobuf_c_message_free_unpacked(old, NULL);
		if (rc)
			return rc;
	} else if (rc != MDB_NOTFOUND && rc != -EBADMSG) {
		return rc;
	}
	Cairn__Store__HostFacts hf = CAIRN__STORE__HOST_FACTS__INIT;
	hf.info = (Cairn__HostInfo *)info;
	hf.updated_ms = now_ms;
	hf.seq = b->seq;
	rc = store_put_msg(txn, env->dbi[STORE_HOSTS], &k, &hf.base);
	if (rc)
		return rc;
	st->hosts++;
	if ((rc = addr_claims(txn, env, agent_id, info, true, now_ms, st)))
		return rc;
	/* a server imported before its agent arrived becomes this host */
	return imports_fold_agent(txn, env, agent_id, info, NULL);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int apply_delta(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		       const Cairn__ProcessDelta *d, struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_PROCS], &k,
			       &cairn__process_snapshot__descriptor, &oldm);
	if (rc && rc != MDB_NOTFOUND && rc != -EBADMSG)
		return rc;
	const Cairn__ProcessSnapshot *old = rc == 0 ? (const Cairn__ProcessSnapshot *)oldm : NULL;

	/* pids that leave the old list: exited or replaced by a started entry */
	size_t ngone = d->n_exited_pids + d->n_started;
	uint32_t *gone = malloc((ngone ? ngone : 1) * sizeof(*gone));
	size_t nold = old ? old->n_processes : 0;
	Cairn__Process **procs = malloc((nold + d->n_started + 1) * sizeof(*procs));
	if (!gone || !procs) {
		free(gone);
		free(procs);
		if (oldm)
			protobuf_c_message_free_unpacked(oldm, NULL);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_exited_pids; i++)
		gone[i] = d->exited_pids[i];
	for (size_t i = 0; i < d->n_started; i++)
		gone[d->n_exited_pids + i] = d->started[i]->pid;
	qsort(gone, ngone, sizeof(*gone), cmp_u32);
	size_t n = 0;
	for (size_t i = 0; i < nold; i++) {
		uint32_t pid = old->processes[i]->pid;
		if (!ngone || !bsearch(&pid, gone, ngone, sizeof(*gone), cmp_u32))
			procs[n++] = old->processes[i];
	}
	for (size_t i = 0; i < d->n_started; i++)
		procs[n++] = d->started[i];

	Cairn__ProcessSnapshot snap = CAIRN__PROCESS_SNAPSHOT__INIT;
	snap.taken_ms = d->taken_ms;
	snap.n_processes = n;
	snap.processes = procs;
	rc = store_put_msg(txn, env->dbi[STORE_PROCS], &k, &snap.base);
	free(gone);
	free(procs);
	if (oldm)
		protobuf_c_message_free_unpacked(oldm, NULL);
	if (rc == 0)
		st->proc_deltas++;
	return rc;
}

static int apply_packages(MDB_txn *txn, const struct db_env *env,
			  const uint8_t agent_id[static 32], const Cairn__PackageInventory *p,
			  struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	db_key_str(&k, p->manager ? p->manager : "");
	if (!p->unchanged) {
		int rc = store_put_msg(txn, env->dbi[STORE_PACKAGES], &k, &p->base);
		if (rc == 0)
			st->packages++;
		return rc;
	}
	/* Unchanged: keep the stored list, only note that it is still current. */
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_PACKAGES], &k,
			       &cairn__package_inventory__descriptor, &oldm);
	if (rc == MDB_NOTFOUND || rc == -EBADMSG) {
		st->unchanged_without_base++;
		return 0;
	}
	if (rc)
		return rc;
	Cairn__PackageInventory *old = (Cairn__PackageInventory *)oldm;
	if (old->content_hash.len != p->content_hash.len ||
	    (p->content_hash.len &&
	     memcmp(old->content_hash.data, p->content_hash.data, p->content_hash.len))) {
		/* The agent's base differs from ours (a batch was lost): keep ours. */
		st->unchanged_without_base++;
		protobuf_c_message_free_unpacked(oldm, NULL);
		return 0;
	}
	old->collected_ms = p->collected_ms;
	rc = store_put_msg(txn, env->dbi[STORE_PACKAGES], &k, &old->base);
	protobuf_c_message_free_unpacked(oldm, NULL);
	if (rc == 0)
		st->packages_unchanged++;
	return rc;
}

uint64_t ingest_edge_hash(const Cairn__Edge *e)
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, 8);
	uint8_t hdr[2 + 4 + 4] = { (uint8_t)e->direction, (uint8_t)e->protocol };
	uint32_t lport = e->direction == CAIRN__DIRECTION__OUTBOUND ? 0 : e->local_port;
	uint32_t rport = e->direction == CAIRN__DIRECTION__INBOUND ? 0 : e->remote_port;
	db_put_u32(hdr + 2, lport);
	db_put_u32(hdr + 6, rport);
	crypto_generichash_update(&h, hdr, sizeof(hdr));
	const char *who = e->identity && *e->identity ? e->identity : e->process_name;
	const char *peer = e->direction == CAIRN__DIRECTION__LOCAL
				   ? (e->peer_identity && *e->peer_identity ? e->peer_identity
									     : e->peer_process_name)
				   : "";
	const char *strs[] = { who, e->container_id, e->remote_address, peer };
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
		const char *s = strs[i] ? strs[i] : "";
		/* NUL-separated so ("ab","c") and ("a","bc") differ */
		crypto_generichash_update(&h, (const unsigned char *)s, strlen(s) + 1);
	}
	uint8_t out[8];
	crypto_generichash_final(&h, out, sizeof(out));
	return db_get_u64(out);
}

static int merge_edge(MDB_txn *txn, MDB_dbi dbi, const uint8_t agent_id[static 32],
		      uint32_t unit, uint64_t hash, const Cairn__Edge *e, ProtobufCAllocator *alloc);

static int apply_edges(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		       const Cairn__ConnectionWindow *w, int64_t now_ms, struct ingest_stats *st)
{
	int64_t t = w->window_start_ms > 0 ? w->window_start_ms : now_ms;
	uint32_t day = (uint32_t)(t / STORE_DAY_MS);
	/* the stored EdgeDays are decoded into one arena, released at the end */
	struct arena *ar = arena_new(w->n_edges * 512);
	if (!ar)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < w->n_edges && rc == 0; i++) {
		/* the day's record and the week's, merged the same way */
		uint64_t hash = ingest_edge_hash(w->edges[i]);
		rc = merge_edge(txn, env->dbi[STORE_EDGES], agent_id, day, hash, w->edges[i],
				&ar->a);
		if (rc == 0)
			rc = merge_edge(txn, env->dbi[STORE_EDGES_WEEK], agent_id,
					store_week_of_day(day), hash, w->edges[i], &ar->a);
		st->edges += rc == 0;
	}
	arena_release(ar);
	return rc;
}

/* Adds one window's edge e to its record of the day or week (unit) in dbi. */
static int merge_edge(MDB_txn *txn, MDB_dbi dbi, const uint8_t agent_id[static 32],
		      uint32_t unit, uint64_t hash, const Cairn__Edge *e, ProtobufCAllocator *alloc)
{
	struct db_key k;
	key_agent(&k, agent_id);
	db_key_u32(&k, unit);
	db_key_u64(&k, hash);
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg_alloc(txn, dbi, &k, &cairn__store__edge_day__descriptor, alloc,
				     &oldm);
	if (rc && rc != MDB_NOTFOUND && rc != -EBADMSG)
		return rc;
	Cairn__Edge merged = *e; /* latest names, pids and addresses */
	Cairn__Store__EdgeDay ed = CAIRN__STORE__EDGE_DAY__INIT;
	ed.edge = &merged;
	ed.windows = 1;
	if (rc == 0) {
		const Cairn__Store__EdgeDay *old = (const Cairn__Store__EdgeDay *)oldm;
		const Cairn__Edge *o = old->edge;
		ed.windows = old->windows + 1;
		if (o) {
			merged.samples_seen += o->samples_seen;
			if (o->max_concurrent > merged.max_concurrent)
				merged.max_concurrent = o->max_concurrent;
			if (o->first_seen_ms &&
			    (!merged.first_seen_ms || o->first_seen_ms < merged.first_seen_ms))
				merged.first_seen_ms = o->first_seen_ms;
			if (o->last_seen_ms > merged.last_seen_ms)
				merged.last_seen_ms = o->last_seen_ms;
			merged.bytes_sent += o->bytes_sent;
			merged.bytes_received += o->bytes_received;
			merged.connections_opened += o->connections_opened;
			merged.connections_closed += o->connections_closed;
			merged.short_lived += o->short_lived;
			merged.duration_total_ms += o->duration_total_ms;
			if (o->duration_max_ms > merged.duration_max_ms)
				merged.duration_max_ms = o->duration_max_ms;
			merged.datagrams_sent += o->datagrams_sent;
			merged.datagrams_received += o->datagrams_received;
			/* Unknown for the day only when no window had counters. */
			merged.bytes_unknown = e->bytes_unknown && o->bytes_unknown;
		}
	}
	return store_put_msg(txn, dbi, &k, &ed.base);
}

/* Adds the window pw (already stored raw) to the rollup of the week, day or
 * hour unit = [from, to) (ms) at key in dbi. A rollup that does not exist yet is built
 * from the raw windows of its span (they include pw, and any stored before
 * rollups existed); a window that replaced a stored one (same start) rebuilds
 * the span from the raw windows when they are all still there, so the rollup
 * always says what the raw windows say. */
static int rollup_window(MDB_txn *txn, const struct db_env *env, MDB_dbi dbi,
			 const uint8_t agent_id[static 32], uint32_t unit, int64_t from, int64_t to,
			 const Cairn__PerfWindow *pw, bool replaced, struct rollup *r,
			 struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	db_key_u32(&k, unit);
	rollup_reset(r);
	if (!replaced) {
		MDB_val kv = db_key_val(&k), v;
		int rc = mdb_get(txn, dbi, &kv, &v);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
		if (rc == 0)
			rc = rollup_merge_packed(r, v.mv_data, v.mv_size);
		if (rc == 0 || rc == MDB_NOTFOUND || rc == -EBADMSG) {
			/* absent or undecodable: built from the span's raw windows */
			if (rc) {
				rollup_reset(r);
				rc = rollup_scan_raw(txn, env->dbi[STORE_PERF], agent_id, from, to,
						     r, NULL);
			} else {
				rc = rollup_add_window(r, pw);
			}
		}
		if (rc == 0)
			rc = rollup_put(txn, dbi, &k, r);
		st->rollups += rc == 0;
		return rc;
	}
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg(txn, dbi, &k, &cairn__store__perf_rollup__descriptor, &oldm);
	if (rc && rc != MDB_NOTFOUND && rc != -EBADMSG)
		return rc;
	rc = rollup_scan_raw(txn, env->dbi[STORE_PERF], agent_id, from, to, r, NULL);
	if (rc == 0 && oldm && r->windows != ((const Cairn__Store__PerfRollup *)oldm)->windows) {
		/* raw windows of the span were pruned: keep the rollup, count */
		st->rollups_stale++;
		protobuf_c_message_free_unpacked(oldm, NULL);
		return 0;
	}
	if (oldm)
		protobuf_c_message_free_unpacked(oldm, NULL);
	if (rc == 0)
		rc = rollup_put(txn, dbi, &k, r);
	st->rollups += rc == 0;
	return rc;
}

static int apply_perf(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		      const Cairn__PerfWindow *pw, int64_t now_ms, struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	db_key_u64(&k, (uint64_t)pw->window_start_ms);
	MDB_val kv = db_key_val(&k), old;
	int rc = mdb_get(txn, env->dbi[STORE_PERF], &kv, &old);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	bool replaced = rc == 0;
	rc = store_put_msg(txn, env->dbi[STORE_PERF], &k, &pw->base);
	if (rc)
		return rc;
	st->perf++;
	if (pw->window_start_ms < 0)
		return 0;
	struct rollup r = { 0 };
	int64_t t = pw->window_start_ms;
	uint32_t day = (uint32_t)(t / STORE_DAY_MS), week = store_week_of_day(day);
	uint32_t hour = (uint32_t)(t / ROLLUP_HOUR_MS);
	rc = rollup_window(txn, env, env->dbi[STORE_PERF_DAY], agent_id, day,
			   (int64_t)day * STORE_DAY_MS, (int64_t)(day + 1) * STORE_DAY_MS, pw, replaced,
			   &r, st);
	if (rc == 0)
		rc = rollup_window(txn, env, env->dbi[STORE_PERF_WEEK], agent_id, week,
				   (int64_t)store_week_first_day(week) * STORE_DAY_MS,
				   (int64_t)store_week_first_day(week + 1) * STORE_DAY_MS, pw,
				   replaced, &r, st);
	if (rc == 0 && t >= now_ms - ROLLUP_HOUR_KEEP_MS)
		rc = rollup_window(txn, env, env->dbi[STORE_PERF_HOUR], agent_id, hour,
				   (int64_t)hour * ROLLUP_HOUR_MS, (int64_t)(hour + 1) * ROLLUP_HOUR_MS,
				   pw, replaced, &r, st);
	rollup_free(&r);
	return rc;
}

static int apply_record(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
			const Cairn__Batch *b, const Cairn__Record *r, int64_t now_ms,
			struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	int rc;
	switch (r->kind_case) {
	case CAIRN__RECORD__KIND_HOST:
		return apply_host(txn, env, agent_id, b, r->host, now_ms, st);
	case CAIRN__RECORD__KIND_PERF:
		return apply_perf(txn, env, agent_id, r->perf, now_ms, st);
	case CAIRN__RECORD__KIND_PROCESSES:
		rc = store_put_msg(txn, env->dbi[STORE_PROCS], &k, &r->processes->base);
		st->procs += rc == 0;
		return rc;
	case CAIRN__RECORD__KIND_PROCESS_DELTA:
		return apply_delta(txn, env, agent_id, r->process_delta, st);
	case CAIRN__RECORD__KIND_LISTENERS:
		rc = store_put_msg(txn, env->dbi[STORE_LISTENERS], &k, &r->listeners->base);
		st->listeners += rc == 0;
		return rc;
	case CAIRN__RECORD__KIND_CONNECTIONS:
		return apply_edges(txn, env, agent_id, r->connections, now_ms, st);
	case CAIRN__RECORD__KIND_PACKAGES:
		return apply_packages(txn, env, agent_id, r->packages, st);
	case CAIRN__RECORD__KIND_GAP: {
		Cairn__Store__GapRecord g = CAIRN__STORE__GAP_RECORD__INIT;
		g.gap = r->gap;
		g.reported_in_seq = b->seq;
		g.received_ms = now_ms;
		db_key_u64(&k, r->gap->first_seq);
		rc = store_put_msg(txn, env->dbi[STORE_GAPS], &k, &g.base);
		if (rc == 0) {
			st->gaps++;
			if (r->gap->last_seq >= r->gap->first_seq)
				st->gap_batches += r->gap->last_seq - r->gap->first_seq + 1;
		}
		return rc;
	}
	case CAIRN__RECORD__KIND_HEALTH:
		rc = store_put_msg(txn, env->dbi[STORE_HEALTH], &k, &r->health->base);
		st->health += rc == 0;
		return rc;
	default:
		st->unknown_records++;
		return 0;
	}
}

int ingest_apply(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		 const Cairn__Batch *batch, int64_t now_ms, struct ingest_stats *st)
{
	struct ingest_stats local = { 0 };
	for (size_t i = 0; i < batch->n_records; i++) {
		int rc = apply_record(txn, env, agent_id, batch, batch->records[i], now_ms, &local);
		if (rc)
			return rc;
	}
	int rc = store_bump_facts_gen(txn, env, now_ms);
	if (rc)
		return rc;
	local.records = batch->n_records - local.unknown_records;
	if (st)
		stats_add(st, &local);
	return 0;
}

/* ------------------------------------------------------------ retention */

void ingest_retention_at(struct ingest_retention *r, int64_t now_ms, uint64_t retention_raw_ms,
			 uint64_t retention_ms)
{
	if (retention_raw_ms > retention_ms)
		retention_raw_ms = retention_ms;
	r->raw_cutoff_ms = now_ms - (int64_t)retention_raw_ms;
	r->hour_cutoff_ms = now_ms - ROLLUP_HOUR_KEEP_MS;
	r->rollup_cutoff_ms = now_ms - (int64_t)retention_ms;
}

/* What the sweep visits, in order, and how a key of each says its age. */
enum prune_time {
	PRUNE_RECEIVED, /* RawBatch.received_ms of the value */
	PRUNE_KEY_MS,   /* agent | u64 ms */
	PRUNE_KEY_HOUR, /* agent | u32 hour: gone when the whole hour is older */
	PRUNE_KEY_DAY,  /* agent | u32 day ... */
	PRUNE_KEY_WEEK, /* agent | u32 week ... */
};

static const struct {
	enum store_db db;
	enum prune_time time;
} prune_dbs[] = {
	{ STORE_BATCHES, PRUNE_RECEIVED }, { STORE_PERF, PRUNE_KEY_MS },
	{ STORE_PERF_HOUR, PRUNE_KEY_HOUR }, { STORE_PERF_DAY, PRUNE_KEY_DAY },
	{ STORE_EDGES, PRUNE_KEY_DAY },       { STORE_PERF_WEEK, PRUNE_KEY_WEEK },
	{ STORE_EDGES_WEEK, PRUNE_KEY_WEEK },
};

/* Age of one entry (ms of its end for hour/day keys); 0 when unknown. */
static int64_t prune_age(enum prune_time how, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = (const uint8_t *)k->mv_data + 32;
	switch (how) {
	case PRUNE_RECEIVED:
		return store_raw_received_ms(v);
	case PRUNE_KEY_MS:
		return k->mv_size >= 40 ? (int64_t)db_get_u64(p) : 0;
	case PRUNE_KEY_HOUR:
		return k->mv_size >= 36 ? ((int64_t)db_get_u32(p) + 1) * ROLLUP_HOUR_MS : 0;
	case PRUNE_KEY_DAY:
		return k->mv_size >= 36 ? ((int64_t)db_get_u32(p) + 1) * STORE_DAY_MS : 0;
	case PRUNE_KEY_WEEK:
		return k->mv_size >= 36
			       ? (int64_t)store_week_first_day(db_get_u32(p) + 1) * STORE_DAY_MS
			       : 0;
	}
	return 0;
}

static int64_t prune_cutoff(const struct ingest_retention *r, enum prune_time how)
{
	switch (how) {
	case PRUNE_RECEIVED:
	case PRUNE_KEY_MS:
		return r->raw_cutoff_ms;
	case PRUNE_KEY_HOUR:
		return r->hour_cutoff_ms;
	case PRUNE_KEY_DAY:
	case PRUNE_KEY_WEEK:
		return r->rollup_cutoff_ms;
	}
	return 0;
}

/* Positions cur at the first key of the agent after the 32-byte prefix of k.
 * MDB_NOTFOUND at the end. */
static int next_agent(MDB_cursor *cur, MDB_val *k, MDB_val *v)
{
	uint8_t id[32];
	memcpy(id, k->mv_data, 32);
	int i = 31;
	while (i >= 0 && ++id[i] == 0)
		i--;
	if (i < 0)
		return MDB_NOTFOUND;
	k->mv_data = id;
	k->mv_size = 32;
	return mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
}

/* One DB from pos->agent on; stops after *work reaches max (pos then names
 * the agent to continue with) and returns 1, 0 when the DB is done. */
static int prune_db(MDB_txn *txn, MDB_dbi dbi, enum prune_time how, int64_t cutoff_ms,
		    struct ingest_prune_pos *pos, uint64_t max, uint64_t *work, uint64_t *deleted)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return rc;
	MDB_val k = { 32, pos->agent }, v;
	rc = mdb_cursor_get(cur, &k, &v, pos->at_agent ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0) {
		if (max && *work >= max) {
			memcpy(pos->agent, k.mv_data, k.mv_size < 32 ? k.mv_size : 32);
			if (k.mv_size < 32)
				memset(pos->agent + k.mv_size, 0, 32 - k.mv_size);
			pos->at_agent = true;
			mdb_cursor_close(cur);
			return 1;
		}
		(*work)++;
		if (k.mv_size < 36) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		/* raw entries: their time; hour and day keys: the end of their span */
		int64_t t = prune_age(how, &k, &v);
		bool old = how == PRUNE_RECEIVED || how == PRUNE_KEY_MS ? t < cutoff_ms
									: t <= cutoff_ms;
		if (t && old) {
			if ((rc = mdb_cursor_del(cur, 0)))
				break;
			(*deleted)++;
			/* after a delete, MDB_NEXT yields the entry that followed it */
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		/* keys of one agent are in seq / time order: the rest of it is newer */
		rc = next_agent(cur, &k, &v);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int ingest_prune(MDB_txn *txn, const struct db_env *env, const struct ingest_retention *r,
		 struct ingest_prune_pos *pos, uint64_t max_work, uint64_t *deleted, bool *done)
{
	struct ingest_prune_pos whole = { 0 };
	if (!pos)
		pos = &whole;
	*deleted = 0;
	*done = false;
	uint64_t work = 0;
	while (pos->db < ARRAY_SIZE(prune_dbs)) {
		enum prune_time how = prune_dbs[pos->db].time;
		int rc = prune_db(txn, env->dbi[prune_dbs[pos->db].db], how, prune_cutoff(r, how),
				  pos, max_work, &work, deleted);
		if (rc < 0 || rc > 1)
			return rc;
		if (rc == 1)
			return 0;
		pos->db++;
		pos->at_agent = false;
	}
	*done = true;
	memset(pos, 0, sizeof(*pos));
	return 0;
}

static const Cairn__HostInfo *batch_host(const Cairn__Batch *b)
{
	for (size_t i = b->n_records; i-- > 0;)
		if (b->records[i]->kind_case == CAIRN__RECORD__KIND_HOST)
			return b->records[i]->host;
	return NULL;
}

/* A batch at or below the high seq: the same content again (a resend after
 * a lost ACK: 0) or other content under the same seq (INGEST_ERR_CONFLICT:
 * two machines with one key). Unknown (raw batch pruned by retention, or the
 * seq was a gap): treated as a resend. */
static int stored_content_differs(MDB_txn *txn, const struct db_env *env,
				  const uint8_t agent_id[static 32], uint64_t seq,
				  const uint8_t *payload, size_t payload_len)
{
	struct db_key k;
	key_agent(&k, agent_id);
	db_key_u64(&k, seq);
	Cairn__Store__RawBatch *raw = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_BATCHES], &k, &cairn__store__raw_batch__descriptor,
			       (ProtobufCMessage **)&raw);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == -EBADMSG)
		return 0; /* unreadable stored copy: no basis for a conflict */
	if (rc)
		return rc;
	bool same = raw->payload.len == payload_len &&
		    (!payload_len || !memcmp(raw->payload.data, payload, payload_len));
	cairn__store__raw_batch__free_unpacked(raw, NULL);
	return same ? 0 : INGEST_ERR_CONFLICT;
}

int ingest_store(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		 uint64_t seq, const uint8_t sig[static SIGN_LEN], const uint8_t *payload,
		 size_t payload_len, const Cairn__Batch *batch, int64_t now_ms,
		 struct ingest_stats *st, bool *stored, uint64_t *high_seq)
{
	Cairn__Store__Agent *a = NULL;
	*stored = false;
	int rc = store_agent_get(txn, env, agent_id, &a);
	if (rc)
		return rc;
	if (a->state != CAIRN__STORE__ENROLL_STATE__ACCEPTED) {
		cairn__store__agent__free_unpacked(a, NULL);
		return -EPERM;
	}
	if (seq <= a->high_seq || seq - a->high_seq > INGEST_MAX_SEQ_JUMP) {
		int verdict = seq > a->high_seq ? INGEST_ERR_SEQ_JUMP
						: stored_content_differs(txn, env, agent_id, seq,
									 payload, payload_len);
		if (verdict < 0 && verdict != INGEST_ERR_CONFLICT && verdict != INGEST_ERR_SEQ_JUMP) {
			cairn__store__agent__free_unpacked(a, NULL);
			return verdict;
		}
		if (verdict == INGEST_ERR_CONFLICT) {
			a->conflicts++;
			a->last_conflict_ms = now_ms;
			a->last_conflict_seq = seq;
		} else if (verdict == INGEST_ERR_SEQ_JUMP) {
			a->limit_batches++;
		} else {
			a->replays_rejected++;
		}
		a->last_seen_ms = now_ms;
		rc = store_agent_put(txn, env, a);
		if (high_seq)
			*high_seq = a->high_seq;
		cairn__store__agent__free_unpacked(a, NULL);
		if (rc)
			return rc;
		if (verdict)
			return verdict;
		if (st)
			st->replays++;
		return 0;
	}

	struct db_key k;
	key_agent(&k, agent_id);
	db_key_u64(&k, seq);
	Cairn__Store__RawBatch raw = CAIRN__STORE__RAW_BATCH__INIT;
	raw.received_ms = now_ms;
	raw.signature.data = (uint8_t *)sig;
	raw.signature.len = SIGN_LEN;
	raw.payload.data = (uint8_t *)payload;
	raw.payload.len = payload_len;
	rc = store_put_msg(txn, env->dbi[STORE_BATCHES], &k, &raw.base);
	struct ingest_stats local = { 0 };
	if (rc == 0)
		rc = ingest_apply(txn, env, agent_id, batch, now_ms, &local);
	if (rc) {
		cairn__store__agent__free_unpacked(a, NULL);
		return rc;
	}
	local.batches = 1;

	/* Borrowed strings are swapped in for the put and swapped back before
	 * the unpacked message is freed. */
	char *saved_host = a->hostname, *saved_ver = a->agent_version, *saved_boot = a->boot_id;
	const Cairn__HostInfo *hi = batch_host(batch);
	if (hi && hi->hostname && *hi->hostname)
		a->hostname = hi->hostname;
	if (batch->agent_version && *batch->agent_version)
		a->agent_version = batch->agent_version;
	if (batch->boot_id && *batch->boot_id)
		a->boot_id = batch->boot_id;
	a->high_seq = seq;
	a->batches_stored++;
	a->records_stored += local.records;
	a->gaps_reported += local.gap_batches;
	a->last_batch_ms = now_ms;
	a->last_seen_ms = now_ms;
	rc = store_agent_put(txn, env, a);
	a->hostname = saved_host;
	a->agent_version = saved_ver;
	a->boot_id = saved_boot;
	cairn__store__agent__free_unpacked(a, NULL);
	if (rc)
		return rc;
	if (high_seq)
		*high_seq = seq;
	*stored = true;
	if (st)
		stats_add(st, &local);
	return 0;
}
