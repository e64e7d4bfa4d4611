#include "ingest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

void ingest_limits_default(struct ingest_limits *l)
{
	l->max_records = INGEST_MAX_RECORDS_DEFAULT;
	l->max_string = INGEST_MAX_STRING_DEFAULT;
	l->max_repeated = INGEST_MAX_REPEATED_DEFAULT;
}

/* ------------------------------------------------------------ limits */

static int check_msg(const ProtobufCMessage *m, const struct ingest_limits *l, const char *path,
		     struct errbuf *eb);

static int check_value(const ProtobufCFieldDescriptor *fd, const void *p,
		       const struct ingest_limits *l, const char *path, struct errbuf *eb)
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
		return check_msg(sub, l, fd->name, eb);
	}
	default:
		return 0;
	}
}

static int check_msg(const ProtobufCMessage *m, const struct ingest_limits *l, const char *path,
		     struct errbuf *eb)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
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
				int rc = check_value(fd, arr + j * sz, l, path, eb);
				if (rc)
					return rc;
			}
		} else {
			int rc = check_value(fd, base + fd->offset, l, path, eb);
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
	return check_msg(&b->base, l, "batch", eb);
}

/* ------------------------------------------------------------ helpers */

static void key_agent(struct db_key *k, const uint8_t agent_id[static 32])
{
	db_key_init(k);
	db_key_bytes(k, agent_id, 32);
}

int ingest_addr16(const char *text, uint8_t out[static 16])
{
	struct in_addr a4;
	if (!text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, out) == 1)
		return 0;
	return -EINVAL;
}

static bool addr16_loopback(const uint8_t a[static 16])
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	static const uint8_t v4prefix[12] = { [10] = 0xff, [11] = 0xff };
	if (!memcmp(a, v6lo, 16))
		return true;
	return !memcmp(a, v4prefix, 12) && a[12] == 127;
}

static void stats_add(struct ingest_stats *to, const struct ingest_stats *from)
{
	uint64_t *t = (uint64_t *)to;
	const uint64_t *f = (const uint64_t *)from;
	for (size_t i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
		t[i] += f[i];
}

/* A bump allocator for decoding one batch: protobuf-c makes hundreds of
 * small allocations per batch; here they cost a pointer bump each and are
 * released together after the commit. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	ProtobufCAllocator a;
	struct arena_chunk *head;
	size_t next_cap;
};

static void *arena_alloc(void *ctx, size_t n)
{
	struct arena *ar = ctx;
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct arena_chunk *c = ar->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ar->next_cap ? n : ar->next_cap;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = ar->head;
		c->used = 0;
		c->cap = cap;
		ar->head = c;
		ar->next_cap = cap * 2;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free_one(void *ctx, void *p)
{
	(void)ctx;
	(void)p; /* released with the arena */
}

static struct arena *arena_new(size_t first_cap)
{
	struct arena *ar = calloc(1, sizeof(*ar));
	if (!ar)
		return NULL;
	ar->a.alloc = arena_alloc;
	ar->a.free = arena_free_one;
	ar->a.allocator_data = ar;
	ar->next_cap = first_cap < 4096 ? 4096 : first_cap;
	return ar;
}

static void arena_release(struct arena *ar)
{
	if (!ar)
		return;
	for (struct arena_chunk *c = ar->head, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(ar);
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
			if (ingest_addr16(ip->address, a16) != 0)
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
			c.loopback = addr16_loopback(a16) || (ip->scope && !strcmp(ip->scope, "host"));
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
	return addr_claims(txn, env, agent_id, info, true, now_ms, st);
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

static int merge_edge(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		      uint32_t day, const Cairn__Edge *e, ProtobufCAllocator *alloc,
		      struct ingest_stats *st);

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
	for (size_t i = 0; i < w->n_edges && rc == 0; i++)
		rc = merge_edge(txn, env, agent_id, day, w->edges[i], &ar->a, st);
	arena_release(ar);
	return rc;
}

static int merge_edge(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		      uint32_t day, const Cairn__Edge *e, ProtobufCAllocator *alloc,
		      struct ingest_stats *st)
{
	struct db_key k;
	key_agent(&k, agent_id);
	db_key_u32(&k, day);
	db_key_u64(&k, ingest_edge_hash(e));
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg_alloc(txn, env->dbi[STORE_EDGES], &k,
				     &cairn__store__edge_day__descriptor, alloc, &oldm);
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
		}
	}
	rc = store_put_msg(txn, env->dbi[STORE_EDGES], &k, &ed.base);
	if (rc)
		return rc;
	st->edges++;
	return 0;
}

static int bump_facts_gen(MDB_txn *txn, const struct db_env *env, int64_t now_ms)
{
	struct db_key k;
	db_key_init(&k);
	db_key_str(&k, "facts_gen");
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_META], &k, &cairn__store__counter__descriptor,
			       &oldm);
	if (rc && rc != MDB_NOTFOUND && rc != -EBADMSG)
		return rc;
	Cairn__Store__Counter c = CAIRN__STORE__COUNTER__INIT;
	if (rc == 0)
		c.value = ((Cairn__Store__Counter *)oldm)->value;
	if (oldm)
		protobuf_c_message_free_unpacked(oldm, NULL);
	c.value++;
	c.updated_ms = now_ms;
	return store_put_msg(txn, env->dbi[STORE_META], &k, &c.base);
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
		db_key_u64(&k, (uint64_t)r->perf->window_start_ms);
		rc = store_put_msg(txn, env->dbi[STORE_PERF], &k, &r->perf->base);
		st->perf += rc == 0;
		return rc;
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
	int rc = bump_facts_gen(txn, env, now_ms);
	if (rc)
		return rc;
	local.records = batch->n_records - local.unknown_records;
	if (st)
		stats_add(st, &local);
	return 0;
}

/* ------------------------------------------------------------ retention */

/* RawBatch.received_ms is field 1, which protobuf-c writes first: read it
 * without unpacking the payload. 0 when absent. */
static int64_t raw_received_ms(const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < 2 || p[0] != 0x08)
		return 0;
	uint64_t x = 0;
	for (size_t i = 1, shift = 0; i < v->mv_size && shift < 64; i++, shift += 7) {
		x |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i] & 0x80))
			return (int64_t)x;
	}
	return 0;
}

/* Positions cur at the first key of the next agent after the 32-byte prefix
 * of k. Returns MDB_NOTFOUND at the end. */
static int next_agent(MDB_cursor *cur, const MDB_val *k, MDB_val *nk, MDB_val *nv)
{
	uint8_t id[32];
	memcpy(id, k->mv_data, 32);
	int i = 31;
	while (i >= 0 && ++id[i] == 0)
		i--;
	if (i < 0)
		return MDB_NOTFOUND;
	nk->mv_data = id;
	nk->mv_size = 32;
	return mdb_cursor_get(cur, nk, nv, MDB_SET_RANGE);
}

static int prune_db(MDB_txn *txn, MDB_dbi dbi, bool raw, int64_t cutoff_ms, uint64_t max,
		    uint64_t *deleted)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return rc;
	MDB_val k, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0 && (!max || *deleted < max)) {
		if (k.mv_size < 40) {
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		int64_t t = raw ? raw_received_ms(&v)
				: (int64_t)db_get_u64((const uint8_t *)k.mv_data + 32);
		if (t && t < cutoff_ms) {
			if ((rc = mdb_cursor_del(cur, 0)))
				break;
			(*deleted)++;
			/* after a delete, MDB_NEXT yields the entry that followed it */
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
			continue;
		}
		/* keys of one agent are in seq / time order: the rest of it is newer */
		rc = next_agent(cur, &k, &k, &v);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int ingest_prune(MDB_txn *txn, const struct db_env *env, int64_t cutoff_ms, uint64_t max_deletes,
		 uint64_t *deleted)
{
	*deleted = 0;
	int rc = prune_db(txn, env->dbi[STORE_BATCHES], true, cutoff_ms, max_deletes, deleted);
	if (rc == 0)
		rc = prune_db(txn, env->dbi[STORE_PERF], false, cutoff_ms, max_deletes, deleted);
	return rc;
}

/* ------------------------------------------------------------ agents */

int ingest_agent_get(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		     Cairn__Store__Agent **out)
{
	struct db_key k;
	key_agent(&k, agent_id);
	ProtobufCMessage *m = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_AGENTS], &k, &cairn__store__agent__descriptor, &m);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc)
		return rc;
	*out = (Cairn__Store__Agent *)m;
	return 0;
}

int ingest_agent_put(MDB_txn *txn, const struct db_env *env, const Cairn__Store__Agent *a)
{
	if (a->agent_id.len != 32)
		return -EINVAL;
	struct db_key k;
	key_agent(&k, a->agent_id.data);
	return store_put_msg(txn, env->dbi[STORE_AGENTS], &k, &a->base);
}

static const Cairn__HostInfo *batch_host(const Cairn__Batch *b)
{
	for (size_t i = b->n_records; i-- > 0;)
		if (b->records[i]->kind_case == CAIRN__RECORD__KIND_HOST)
			return b->records[i]->host;
	return NULL;
}

int ingest_store(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		 uint64_t seq, const uint8_t sig[static SIGN_LEN], const uint8_t *payload,
		 size_t payload_len, const Cairn__Batch *batch, int64_t now_ms,
		 struct ingest_stats *st, bool *stored, uint64_t *high_seq)
{
	Cairn__Store__Agent *a = NULL;
	*stored = false;
	int rc = ingest_agent_get(txn, env, agent_id, &a);
	if (rc)
		return rc;
	if (a->state != CAIRN__STORE__ENROLL_STATE__ACCEPTED) {
		cairn__store__agent__free_unpacked(a, NULL);
		return -EPERM;
	}
	if (seq <= a->high_seq) {
		a->replays_rejected++;
		a->last_seen_ms = now_ms;
		rc = ingest_agent_put(txn, env, a);
		if (high_seq)
			*high_seq = a->high_seq;
		cairn__store__agent__free_unpacked(a, NULL);
		if (rc == 0 && st)
			st->replays++;
		return rc;
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
	rc = ingest_agent_put(txn, env, a);
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

/* ------------------------------------------------------------ the writer */

const char *ingest_result_name(enum ingest_result r)
{
	switch (r) {
	case INGEST_OK: return "stored";
	case INGEST_REPLAY: return "replay";
	case INGEST_BAD_SIGNATURE: return "bad-signature";
	case INGEST_MALFORMED: return "malformed";
	case INGEST_LIMIT: return "limit";
	case INGEST_NOT_ENROLLED: return "not-enrolled";
	case INGEST_FAILED: return "failed";
	}
	return "unknown";
}

void ingest_item_free(struct ingest_item *it)
{
	if (!it)
		return;
	arena_release(it->decoded_arena);
	free(it->payload);
	free(it);
}

/* One item's state while its group is processed. */
struct group_entry {
	struct ingest_item *it;
	Cairn__Batch *batch; /* NULL when rejected before the transaction */
	struct arena *arena; /* holds batch */
};

struct group {
	struct group_entry *e;
	size_t n;
	struct ingest_writer_stats delta;
};

/* Counts a rejection in the agent record (same transaction as the group). */
static int count_rejection(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
			   enum ingest_result r, int64_t now_ms)
{
	Cairn__Store__Agent *a = NULL;
	int rc = ingest_agent_get(txn, env, id, &a);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (r == INGEST_BAD_SIGNATURE)
		a->bad_signatures++;
	else
		a->malformed_batches++;
	a->last_seen_ms = now_ms;
	rc = ingest_agent_put(txn, env, a);
	cairn__store__agent__free_unpacked(a, NULL);
	return rc;
}

struct group_ctx {
	struct group *g;
	struct db_env *env;
	uint64_t fn_us; /* time inside the transaction function (CPU), last run */
};

static int group_txn_env(MDB_txn *txn, void *arg)
{
	struct group_ctx *c = arg;
	struct group *g = c->g;
	int64_t now_ms = time_now_ms();
	uint64_t t0 = time_mono_us();
	memset(&g->delta, 0, sizeof(g->delta));
	for (size_t i = 0; i < g->n; i++) {
		struct group_entry *ge = &g->e[i];
		struct ingest_item *it = ge->it;
		int rc;
		if (it->kind == INGEST_KIND_PRUNE) {
			rc = ingest_prune(txn, c->env, it->cutoff_ms, 20000, &it->pruned);
			if (rc)
				return rc;
			it->result = INGEST_OK;
			continue;
		}
		if (it->kind == INGEST_KIND_ENROLL) {
			rc = enroll_on_auth(txn, c->env, it->agent_id, it->hostname, it->mac_valid,
					    it->accept_mode, it->peer, now_ms, &it->enroll);
			if (rc)
				return rc;
			it->result = INGEST_OK;
			it->ack_seq = it->enroll.high_seq;
			continue;
		}
		if (!ge->batch) {
			/* rejected before: count it where the agent's health shows it */
			if (it->result == INGEST_BAD_SIGNATURE || it->result == INGEST_MALFORMED ||
			    it->result == INGEST_LIMIT) {
				rc = count_rejection(txn, c->env, it->agent_id, it->result, now_ms);
				if (rc)
					return rc;
			}
			continue;
		}
		struct ingest_stats st = { 0 };
		bool stored = false;
		uint64_t high = 0;
		rc = ingest_store(txn, c->env, it->agent_id, it->seq, it->sig, it->payload,
				  it->payload_len, ge->batch, now_ms, &st, &stored, &high);
		if (rc == -ENOENT || rc == -EPERM) {
			it->result = INGEST_NOT_ENROLLED;
			snprintf(it->detail, sizeof(it->detail), "agent is %s",
				 rc == -ENOENT ? "unknown" : "not accepted");
			g->delta.not_enrolled++;
			continue;
		}
		if (rc)
			return rc;
		it->ack_seq = high;
		it->records = (uint32_t)st.records;
		if (stored) {
			it->result = INGEST_OK;
			g->delta.batches++;
			g->delta.records += st.records;
		} else {
			it->result = INGEST_REPLAY;
			snprintf(it->detail, sizeof(it->detail), "seq %llu <= stored high seq %llu",
				 (unsigned long long)it->seq, (unsigned long long)high);
			g->delta.replays++;
		}
	}
	c->fn_us = time_mono_us() - t0;
	return 0;
}

/* Verify, then decode: nothing of an unauthenticated payload is parsed. */
static void prepare(struct ingest_writer *w, struct group_entry *ge)
{
	struct ingest_item *it = ge->it;
	ge->batch = NULL;
	it->result = INGEST_FAILED;
	if (it->kind != INGEST_KIND_BATCH)
		return;
	if (sign_batch_verify(it->sig, it->agent_id, it->seq, it->payload, it->payload_len) != 0) {
		it->result = INGEST_BAD_SIGNATURE;
		snprintf(it->detail, sizeof(it->detail),
			 "signature over seq %llu (%zu bytes) does not verify with the agent key",
			 (unsigned long long)it->seq, it->payload_len);
		return;
	}
	struct arena *ar = arena_new(it->payload_len * 3 + 1024);
	Cairn__Batch *b = ar ? cairn__batch__unpack(&ar->a, it->payload_len, it->payload) : NULL;
	if (!b) {
		arena_release(ar);
		it->result = INGEST_MALFORMED;
		snprintf(it->detail, sizeof(it->detail),
			 "payload of seq %llu (%zu bytes) is not a valid cairn.Batch",
			 (unsigned long long)it->seq, it->payload_len);
		return;
	}
	if (b->seq != it->seq ||
	    (b->agent_id.len && (b->agent_id.len != 32 || memcmp(b->agent_id.data, it->agent_id, 32)))) {
		it->result = INGEST_MALFORMED;
		snprintf(it->detail, sizeof(it->detail),
			 "batch seq %llu / agent id inside the payload differ from the frame's (seq %llu)",
			 (unsigned long long)b->seq, (unsigned long long)it->seq);
		arena_release(ar);
		return;
	}
	struct errbuf eb;
	if (ingest_check_limits(b, &w->limits, &eb) != 0) {
		it->result = INGEST_LIMIT;
		str_copy(it->detail, eb.msg, sizeof(it->detail));
		arena_release(ar);
		return;
	}
	ge->batch = b;
	ge->arena = ar;
}

/* Moves the verified prefix of the input queue to the writer queue: runs
 * finish out of order on several verifiers but are published in arrival
 * order. Called with mu held. */
static void publish_verified(struct ingest_writer *w)
{
	struct ingest_item *first = w->in_head, *last = NULL;
	uint32_t n = 0;
	for (struct ingest_item *it = first; it && it->verified; it = it->next) {
		last = it;
		n++;
	}
	if (!n)
		return;
	w->in_head = last->next;
	if (!w->in_head)
		w->in_tail = NULL;
	last->next = NULL;
	w->in_queued -= n;
	if (w->tail)
		w->tail->next = first;
	else
		w->head = first;
	w->tail = last;
	w->queued += n;
	pthread_cond_signal(&w->cv);
}

static void *verifier_main(void *arg)
{
	struct ingest_writer *w = arg;
	pthread_setname_np(pthread_self(), "cairn-verify");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		/* stay at most two groups ahead of the writer: decoded batches
		 * are several times their payload */
		while ((!w->claim || w->queued >= 2 * w->commit_batches) && !w->stop)
			pthread_cond_wait(&w->vcv, &w->mu);
		if (!w->claim && w->stop)
			break;
		/* claim a run: an even share of what waits, 1..64 */
		uint32_t want = w->unclaimed / w->nverifiers;
		want = want < 1 ? 1 : want > 64 ? 64 : want;
		struct ingest_item *first = w->claim, *it = first;
		uint32_t taken = 0;
		while (it && taken < want) {
			it = it->next;
			taken++;
		}
		w->claim = it;
		w->unclaimed -= taken;
		if (w->claim)
			pthread_cond_signal(&w->vcv); /* more for another verifier */
		pthread_mutex_unlock(&w->mu);

		/* the claimed run is ours alone: submit only appends after it,
		 * publishing only moves verified items */
		struct ingest_writer_stats rej = { 0 };
		it = first;
		for (uint32_t i = 0; i < taken; i++) {
			/* the last one's next may change under submit: not read */
			if (i)
				it = it->next;
			struct group_entry ge = { .it = it };
			prepare(w, &ge);
			it->decoded = ge.batch;
			it->decoded_arena = ge.arena;
			rej.bad_signatures += it->result == INGEST_BAD_SIGNATURE;
			rej.malformed += it->result == INGEST_MALFORMED;
			rej.limits += it->result == INGEST_LIMIT;
		}

		pthread_mutex_lock(&w->mu);
		w->stats.bad_signatures += rej.bad_signatures;
		w->stats.malformed += rej.malformed;
		w->stats.limits += rej.limits;
		it = first;
		for (uint32_t i = 0; i < taken; i++, it = it->next)
			it->verified = true;
		publish_verified(w);
	}
	if (--w->verifiers_running == 0) {
		w->verifier_done = true;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Sleeps ms in short slices; returns early (true) when the writer stops. */
static bool wait_retry(struct ingest_writer *w, uint64_t ms)
{
	for (uint64_t slept = 0; slept < ms; slept += 100) {
		pthread_mutex_lock(&w->mu);
		bool stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			return true;
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return false;
}

/* fdatasync of the data file: makes the meta pages of every commit so far
 * durable. Not mdb_env_sync: that reads the meta through the map, which the
 * writer may be remapping (growth) at the same moment. */
static int store_fdatasync(struct ingest_writer *w)
{
	mdb_filehandle_t fd;
	int rc = mdb_env_get_fd(w->env->env, &fd);
	if (rc)
		return rc;
	return fdatasync(fd) ? -errno : 0;
}

/* A committed group whose fsync failed: nothing in it may be acknowledged. */
static void fail_unsynced(struct ingest_item *list, int rc)
{
	for (struct ingest_item *it = list; it; it = it->next)
		if (it->result == INGEST_OK || it->result == INGEST_REPLAY) {
			it->result = INGEST_FAILED;
			snprintf(it->detail, sizeof(it->detail), "store fsync: %s",
				 db_strerror(rc));
		}
}

/* A group whose transaction committed (or failed) on its way to done(). */
struct ingest_sync {
	struct ingest_sync *next;
	struct ingest_item *list;
	bool committed;
};

/* The meta page of a committed group is synced here: until then nothing of
 * the group is handed back (no ACK). Failures go the same way so that every
 * connection sees its results in order. */
static void hand_to_syncer(struct ingest_writer *w, struct ingest_item *list, bool committed)
{
	struct ingest_sync *sy = malloc(sizeof(*sy));
	if (!sy) {
		/* no memory for the queue entry: sync here, in order, after
		 * what is already queued (the syncer syncs those first) */
		pthread_mutex_lock(&w->mu);
		while (w->sync_head || w->syncing)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		int rc = committed ? store_fdatasync(w) : 0;
		if (rc)
			fail_unsynced(list, rc);
		w->done(list, w->done_arg);
		return;
	}
	sy->next = NULL;
	sy->list = list;
	sy->committed = committed;
	pthread_mutex_lock(&w->mu);
	if (w->sync_tail)
		w->sync_tail->next = sy;
	else
		w->sync_head = sy;
	w->sync_tail = sy;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->mu);
}

static void *syncer_main(void *arg)
{
	struct ingest_writer *w = arg;
	pthread_setname_np(pthread_self(), "cairn-sync");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->sync_head && !w->writer_done)
			pthread_cond_wait(&w->scv, &w->mu);
		if (!w->sync_head)
			break;
		/* everything committed so far: one fdatasync covers all of it */
		struct ingest_sync *all = w->sync_head;
		w->sync_head = w->sync_tail = NULL;
		w->syncing = true;
		pthread_mutex_unlock(&w->mu);
		bool any = false;
		for (struct ingest_sync *sy = all; sy; sy = sy->next)
			any |= sy->committed;
		uint64_t t0 = time_mono_us();
		int rc = any ? store_fdatasync(w) : 0;
		uint64_t dt = time_mono_us() - t0;
		if (rc)
			log_error("ingest: fsync of the store failed: %s; the batches of the last "
				  "commit are not acknowledged and will be resent by the agents",
				  db_strerror(rc));
		while (all) {
			struct ingest_sync *sy = all;
			all = sy->next;
			if (rc && sy->committed)
				fail_unsynced(sy->list, rc);
			w->done(sy->list, w->done_arg);
			free(sy);
		}
		pthread_mutex_lock(&w->mu);
		w->stats.syncs += any;
		w->stats.last_sync_us = dt;
		w->syncing = false;
		pthread_cond_broadcast(&w->cv); /* hand_to_syncer's fallback waits on it */
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ------------------------------------------------------------ holes
 * Per agent, batches after one that was not stored must not be stored either:
 * the agent resends from its stored high seq, and a later seq stored first
 * would turn the missing one into a "replay" (ACKed, never stored). */

static struct ingest_hole *hole_find(struct ingest_writer *w, const uint8_t id[static 32])
{
	for (size_t i = 0; i < w->nholes; i++)
		if (!memcmp(w->holes[i].agent_id, id, 32))
			return &w->holes[i];
	return NULL;
}

static void hole_add(struct ingest_writer *w, const uint8_t id[static 32], uint64_t seq)
{
	struct ingest_hole *h = hole_find(w, id);
	if (h) {
		if (seq < h->seq)
			h->seq = seq;
		return;
	}
	if (w->nholes == INGEST_HOLES_MAX) {
		log_warn("ingest: %u agents with unstored batches pending resend; forgetting the "
			 "oldest", INGEST_HOLES_MAX);
		memmove(w->holes, w->holes + 1, (w->nholes - 1) * sizeof(*w->holes));
		w->nholes--;
	}
	if (array_grow((void **)&w->holes, &w->capholes, w->nholes + 1, sizeof(*w->holes)) != 0) {
		log_error("ingest: out of memory noting an unstored batch of seq %llu",
			  (unsigned long long)seq);
		return;
	}
	memcpy(w->holes[w->nholes].agent_id, id, 32);
	w->holes[w->nholes].seq = seq;
	w->nholes++;
}

static void hole_del(struct ingest_writer *w, struct ingest_hole *h)
{
	*h = w->holes[--w->nholes];
}

/* In group order: batches behind a hole are failed (not stored); a resend
 * (seq <= the hole) closes it. Holes come from groups that failed to commit
 * (not from rejected batches: those can never be stored, so waiting for
 * them would stall the agent for good). */
static void holes_check(struct ingest_writer *w, struct group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct group_entry *ge = &g->e[i];
		struct ingest_item *it = ge->it;
		if (it->kind != INGEST_KIND_BATCH)
			continue;
		struct ingest_hole *h = w->nholes ? hole_find(w, it->agent_id) : NULL;
		if (h && it->seq > h->seq) {
			if (ge->batch) {
				arena_release(ge->arena);
				ge->batch = NULL;
				ge->arena = NULL;
				it->result = INGEST_FAILED;
				snprintf(it->detail, sizeof(it->detail),
					 "batch %llu of this agent was not stored; resend from there",
					 (unsigned long long)h->seq);
			}
			continue;
		}
		if (h)
			hole_del(w, h);
	}
}

static void process_group(struct ingest_writer *w, struct ingest_item *list)
{
	size_t n = 0;
	for (struct ingest_item *it = list; it; it = it->next)
		n++;
	struct group g = { .e = calloc(n, sizeof(*g.e)), .n = n };
	if (!g.e) {
		for (struct ingest_item *it = list; it; it = it->next)
			it->result = INGEST_FAILED;
		hand_to_syncer(w, list, false);
		return;
	}
	size_t i = 0;
	for (struct ingest_item *it = list; it; it = it->next)
		g.e[i++].it = it;
	for (i = 0; i < n; i++) {
		g.e[i].batch = g.e[i].it->decoded;
		g.e[i].arena = g.e[i].it->decoded_arena;
		g.e[i].it->decoded = NULL;
		g.e[i].it->decoded_arena = NULL;
	}

	holes_check(w, &g);
	struct group_ctx ctx = { &g, w->env, 0 };
	uint64_t t0 = time_mono_us();
	uint64_t drain_deadline = 0;
	int rc;
	bool was_full = false;
	for (;;) {
		rc = db_write(w->env, group_txn_env, &ctx);
		if (rc != MDB_MAP_FULL && rc != -ENOSPC && rc != ENOSPC && rc != EIO && rc != -EIO)
			break;
		/* Out of space: keep everything, ACK nothing, retry. */
		pthread_mutex_lock(&w->mu);
		if (!w->stats.storage_full) {
			w->stats.storage_full = true;
			w->stats.storage_full_events++;
			log_error("ingest: cannot commit %zu batches: %s (map %zu of map_max %zu "
				  "bytes). Not acknowledging; agents keep their spools. Free disk "
				  "space or raise map_max; retrying every 2s",
				  n, db_strerror(rc), w->env->map_size, w->env->map_max);
		}
		bool stopping = w->stop;
		pthread_mutex_unlock(&w->mu);
		was_full = true;
		if (stopping) {
			if (!drain_deadline)
				drain_deadline = time_mono_ms() + w->drain_ms;
			if (time_mono_ms() >= drain_deadline)
				break;
		}
		if (wait_retry(w, 2000) && drain_deadline && time_mono_ms() >= drain_deadline)
			break;
	}
	uint64_t dt = time_mono_us() - t0;
	log_debug("ingest: group of %zu: %llu us storing, %llu us committing", n,
		  (unsigned long long)ctx.fn_us, (unsigned long long)(dt - ctx.fn_us));

	pthread_mutex_lock(&w->mu);
	if (was_full && rc == 0) {
		w->stats.storage_full = false;
		log_notice("ingest: storage available again, committed %zu held batches", n);
	}
	w->stats.last_commit_us = dt;
	if (rc == 0) {
		w->stats.commits++;
		w->stats.batches += g.delta.batches;
		w->stats.records += g.delta.records;
		w->stats.replays += g.delta.replays;
		w->stats.not_enrolled += g.delta.not_enrolled;
	} else {
		w->stats.failures += n;
	}
	pthread_mutex_unlock(&w->mu);

	if (rc) {
		log_error("ingest: write transaction for %zu batches failed: %s; they are not "
			  "acknowledged and will be resent by the agents",
			  n, db_strerror(rc));
		for (i = 0; i < n; i++) {
			struct ingest_item *it = g.e[i].it;
			if (it->kind != INGEST_KIND_BATCH || it->result == INGEST_FAILED || g.e[i].batch) {
				it->result = INGEST_FAILED;
				snprintf(it->detail, sizeof(it->detail), "store: %s", db_strerror(rc));
			}
			if (it->kind == INGEST_KIND_BATCH && g.e[i].batch)
				hole_add(w, it->agent_id, it->seq);
		}
	}
	for (i = 0; i < n; i++)
		if (g.e[i].batch)
			arena_release(g.e[i].arena);
	free(g.e);
	hand_to_syncer(w, list, rc == 0);
}

static void *writer_main(void *arg)
{
	struct ingest_writer *w = arg;
	pthread_setname_np(pthread_self(), "cairn-writer");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !(w->stop && w->verifier_done))
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head)
			break;
		/* Group commit, sized by the load: what arrived while the last
		 * group was stored and committed goes at once; after an idle
		 * spell wait at most commit_interval for commit_batches. */
		uint64_t deadline = time_mono_us() + w->commit_interval_us;
		while (!w->stop && !w->writer_busy && w->queued < w->commit_batches) {
			uint64_t now = time_mono_us();
			if (now >= deadline)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t wait = deadline - now;
			ts.tv_sec += (time_t)(wait / 1000000);
			ts.tv_nsec += (long)(wait % 1000000) * 1000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		/* Take at most commit_batches; the rest waits for the next group. */
		struct ingest_item *list = w->head, *last = w->head;
		uint32_t taken = 1;
		while (last->next && taken < w->commit_batches) {
			last = last->next;
			taken++;
		}
		w->head = last->next;
		if (!w->head)
			w->tail = NULL;
		last->next = NULL;
		w->queued -= taken;
		pthread_cond_broadcast(&w->vcv);
		pthread_mutex_unlock(&w->mu);
		uint64_t bytes = 0;
		for (struct ingest_item *it = list; it; it = it->next)
			bytes += it->payload_len;
		process_group(w, list);
		pthread_mutex_lock(&w->mu);
		w->queued_bytes -= bytes;
		w->writer_busy = w->head != NULL;
	}
	w->writer_done = true;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void stop_threads(struct ingest_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->vcv);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int ingest_writer_start(struct ingest_writer *w, struct db_env *env,
			const struct ingest_limits *limits, uint64_t commit_interval_ms,
			uint32_t commit_batches, uint32_t queue_max, ingest_done_fn done,
			void *done_arg)
{
	memset(w, 0, sizeof(*w));
	w->env = env;
	w->limits = *limits;
	w->commit_interval_us = commit_interval_ms * 1000;
	w->commit_batches = commit_batches ? commit_batches : 1;
	w->queue_max = queue_max ? queue_max : 1;
	w->queue_max_bytes = 32u << 20;
	w->done = done;
	w->done_arg = done_arg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	w->nverifiers = ncpu < 1 ? 1 : ncpu > INGEST_VERIFIERS_MAX ? INGEST_VERIFIERS_MAX
								     : (unsigned)ncpu;
	w->verifiers = calloc(w->nverifiers, sizeof(*w->verifiers));
	if (!w->verifiers)
		return -ENOMEM;
	/* commits sync the data pages; the syncer syncs the meta page before
	 * anything of the commit is handed back */
	int rc = mdb_env_set_flags(env->env, MDB_NOMETASYNC, 1);
	if (rc) {
		free(w->verifiers);
		return rc > 0 ? -rc : rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->vcv, NULL);
	pthread_cond_init(&w->scv, NULL);
	unsigned started = 0;
	bool writer = false, syncer = false;
	for (; started < w->nverifiers; started++) {
		pthread_mutex_lock(&w->mu);
		w->verifiers_running++;
		pthread_mutex_unlock(&w->mu);
		rc = pthread_create(&w->verifiers[started], NULL, verifier_main, w);
		if (rc) {
			pthread_mutex_lock(&w->mu);
			w->verifiers_running--;
			pthread_mutex_unlock(&w->mu);
			break;
		}
	}
	if (rc == 0) {
		rc = pthread_create(&w->thread, NULL, writer_main, w);
		writer = rc == 0;
	}
	if (rc == 0) {
		rc = pthread_create(&w->syncer, NULL, syncer_main, w);
		syncer = rc == 0;
	}
	if (rc) {
		stop_threads(w);
		for (unsigned i = 0; i < started; i++)
			pthread_join(w->verifiers[i], NULL);
		if (writer)
			pthread_join(w->thread, NULL);
		(void)syncer;
		mdb_env_set_flags(env->env, MDB_NOMETASYNC, 0);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		pthread_cond_destroy(&w->vcv);
		pthread_cond_destroy(&w->scv);
		free(w->verifiers);
		w->verifiers = NULL;
		return -rc;
	}
	w->running = true;
	return 0;
}

void ingest_writer_submit(struct ingest_writer *w, struct ingest_item *it)
{
	it->next = NULL;
	it->verified = false;
	it->submitted_us = time_mono_us();
	pthread_mutex_lock(&w->mu);
	w->queued_bytes += it->payload_len;
	if (it->kind == INGEST_KIND_BATCH) {
		/* stage 1 first; it keeps the arrival order */
		if (w->in_tail)
			w->in_tail->next = it;
		else
			w->in_head = it;
		w->in_tail = it;
		if (!w->claim)
			w->claim = it;
		w->in_queued++;
		w->unclaimed++;
		pthread_cond_signal(&w->vcv);
		pthread_mutex_unlock(&w->mu);
		return;
	}
	if (it->kind == INGEST_KIND_ENROLL && w->head) {
		/* a handshake waits on it: ahead of the batches, into the next group */
		it->next = w->head;
		w->head = it;
	} else if (w->tail) {
		w->tail->next = it;
		w->tail = it;
	} else {
		w->head = w->tail = it;
	}
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

bool ingest_writer_full(struct ingest_writer *w)
{
	pthread_mutex_lock(&w->mu);
	bool full = w->queued + w->in_queued >= w->queue_max ||
		    w->queued_bytes >= w->queue_max_bytes || w->stats.storage_full;
	pthread_mutex_unlock(&w->mu);
	return full;
}

uint32_t ingest_writer_queued(struct ingest_writer *w)
{
	pthread_mutex_lock(&w->mu);
	uint32_t q = w->queued + w->in_queued;
	pthread_mutex_unlock(&w->mu);
	return q;
}

void ingest_writer_get_stats(struct ingest_writer *w, struct ingest_writer_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}

void ingest_writer_stop(struct ingest_writer *w, uint64_t drain_ms)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->drain_ms = drain_ms;
	pthread_mutex_unlock(&w->mu);
	stop_threads(w);
	for (unsigned i = 0; i < w->nverifiers; i++)
		pthread_join(w->verifiers[i], NULL);
	pthread_join(w->thread, NULL);
	pthread_join(w->syncer, NULL); /* syncs and hands back the last commits */
	mdb_env_set_flags(w->env->env, MDB_NOMETASYNC, 0);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->vcv);
	pthread_cond_destroy(&w->scv);
	free(w->verifiers);
	w->verifiers = NULL;
	free(w->holes);
	w->holes = NULL;
	w->nholes = w->capholes = 0;
	w->running = false;
}
