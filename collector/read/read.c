#include "read.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "pbjson.h"
#include "wire.h"

int read_open_config(struct read_ctx *r, const struct collector_config *cfg, bool writable,
		     struct errbuf *eb)
{
	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	int rc = store_open(&r->db, &r->cfg, writable, eb);
	if (rc)
		return rc;
	r->opened = true;
	return 0;
}

int read_open(struct read_ctx *r, const char *state_dir, const char *config_path,
	      bool writable, struct errbuf *eb)
{
	struct collector_config cfg;
	config_collector_defaults(&cfg);
	if (config_path) {
		int rc = config_collector_load(&cfg, config_path, eb);
		if (rc)
			return rc == -ENOENT ? errbuf_set(eb, -EINVAL, "%s: no such file", config_path)
					     : -EINVAL;
	}
	if (state_dir)
		str_copy(cfg.state_dir, state_dir, sizeof(cfg.state_dir));
	return read_open_config(r, &cfg, writable, eb);
}

void read_close(struct read_ctx *r)
{
	if (r->opened)
		db_close(&r->db);
	r->opened = false;
}

/* ------------------------------------------------------------ transactions */

int read_begin(const struct read_ctx *r, struct read_txn *t, struct errbuf *eb)
{
	t->db = &r->db;
	t->txn = NULL;
	int rc = db_read_begin((struct db_env *)&r->db, &t->txn);
	if (rc)
		return errbuf_set(eb, rc, "reading the store %s: %s", r->cfg.state_dir,
				  db_strerror(rc));
	return 0;
}

void read_end(struct read_txn *t)
{
	if (t->txn)
		db_read_end((struct db_env *)t->db, t->txn);
	t->txn = NULL;
}

/* ------------------------------------------------------------ agents */

/* Entries whose key starts with the 32-byte agent id. */
static uint64_t count_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[static 32])
{
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, dbi, &cur))
		return 0;
	uint64_t n = 0;
	MDB_val k = { 32, (void *)id }, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (!rc && k.mv_size >= 32 && !memcmp(k.mv_data, id, 32)) {
		n++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return n;
}

static void *get_by_id(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[static 32],
		       const ProtobufCMessageDescriptor *d)
{
	MDB_val k = { 32, (void *)id }, v;
	if (mdb_get(txn, dbi, &k, &v))
		return NULL;
	return protobuf_c_message_unpack(d, NULL, v.mv_size, v.mv_data);
}

static int cmp_agent_id(const void *a, const void *b)
{
	return memcmp(((const struct read_agent *)a)->id, ((const struct read_agent *)b)->id,
		      KEY_PUBLIC_LEN);
}

/* The imports of the agents in out, and the imported-only hosts appended
 * with a stand-in agent record (hostname from the synthesized facts). */
static int read_agents_imports(const struct read_txn *t, unsigned what, struct read_agents *out,
			       size_t cap)
{
	size_t nagents = out->n;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->db->dbi[STORE_IMPORTS], &cur);
	if (rc)
		return rc;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != KEY_PUBLIC_LEN)
			continue;
		Cairn__Store__ImportedServer *imp =
			cairn__store__imported_server__unpack(NULL, v.mv_size, v.mv_data);
		if (!imp)
			continue;
		struct read_agent key;
		memcpy(key.id, k.mv_data, KEY_PUBLIC_LEN);
		struct read_agent *ra = nagents ? bsearch(&key, out->v, nagents, sizeof(key), cmp_agent_id)
						: NULL;
		if (ra || imp->merged) {
			/* merged into an agent host: its record (none in stores built
			 * by tests: nothing to list) */
			if (ra)
				ra->import = imp;
			else
				cairn__store__imported_server__free_unpacked(imp, NULL);
			continue;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct read_agent *nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv) {
				cairn__store__imported_server__free_unpacked(imp, NULL);
				rc = -ENOMEM;
				break;
			}
			out->v = nv;
		}
		ra = &out->v[out->n++];
		memset(ra, 0, sizeof(*ra));
		ra->import = imp;
		ra->imported_only = true;
		memcpy(ra->id, k.mv_data, KEY_PUBLIC_LEN);
		keys_id_hex(ra->id, ra->id_hex);
		keys_fingerprint(ra->id, ra->fingerprint);
		ra->facts = get_by_id(t->txn, t->db->dbi[STORE_HOSTS], ra->id,
				      &cairn__store__host_facts__descriptor);
		Cairn__Store__Agent *a = malloc(sizeof(*a));
		if (!a) {
			rc = -ENOMEM;
			break;
		}
		cairn__store__agent__init(a);
		const char *name = ra->facts && ra->facts->info ? ra->facts->info->hostname : "";
		if (!(a->hostname = strdup(name))) {
			free(a);
			rc = -ENOMEM;
			break;
		}
		a->last_seen_ms = imp->imported_ms;
		ra->agent = a;
		(void)what;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int read_agents(const struct read_txn *t, unsigned what, struct read_agents *out,
		struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->db->dbi[STORE_AGENTS], &cur);
	if (rc)
		return errbuf_set(eb, rc, "reading DB agents: %s", db_strerror(rc));
	size_t cap = 0;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
		if (!a || a->agent_id.len != KEY_PUBLIC_LEN) {
			if (a)
				cairn__store__agent__free_unpacked(a, NULL);
			out->undecodable++;
			continue;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct read_agent *nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv) {
				cairn__store__agent__free_unpacked(a, NULL);
				mdb_cursor_close(cur);
				read_agents_free(out);
				return errbuf_set(eb, -ENOMEM, "agents: out of memory");
			}
			out->v = nv;
		}
		struct read_agent *ra = &out->v[out->n++];
		memset(ra, 0, sizeof(*ra));
		ra->agent = a;
		memcpy(ra->id, a->agent_id.data, KEY_PUBLIC_LEN);
		keys_id_hex(ra->id, ra->id_hex);
		keys_fingerprint(ra->id, ra->fingerprint);
		if (what & READ_AGENT_FACTS)
			ra->facts = get_by_id(t->txn, t->db->dbi[STORE_HOSTS], ra->id,
					      &cairn__store__host_facts__descriptor);
		if (what & READ_AGENT_HEALTH)
			ra->health = get_by_id(t->txn, t->db->dbi[STORE_HEALTH], ra->id,
					       &cairn__collector_health__descriptor);
		if (what & READ_AGENT_COUNTS) {
			ra->perf_windows = count_prefix(t->txn, t->db->dbi[STORE_PERF], ra->id);
			ra->edge_records = count_prefix(t->txn, t->db->dbi[STORE_EDGES], ra->id);
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		read_agents_free(out);
		return errbuf_set(eb, rc, "reading DB agents: %s", db_strerror(rc));
	}
	if ((what & READ_AGENT_IMPORTS) && (rc = read_agents_imports(t, what, out, cap))) {
		read_agents_free(out);
		return errbuf_set(eb, rc, "reading DB imports: %s", db_strerror(rc));
	}
	return 0;
}

const char *read_agent_source(const struct read_agent *ra)
{
	return ra->imported_only ? "import" : ra->import ? "agent+import" : "agent";
}

Cairn__CollectorHealth *read_agent_health(const struct read_txn *t,
					  const uint8_t id[static KEY_PUBLIC_LEN])
{
	return get_by_id(t->txn, t->db->dbi[STORE_HEALTH], id, &cairn__collector_health__descriptor);
}

void read_agents_free(struct read_agents *a)
{
	for (size_t i = 0; i < a->n; i++) {
		cairn__store__agent__free_unpacked(a->v[i].agent, NULL);
		if (a->v[i].facts)
			cairn__store__host_facts__free_unpacked(a->v[i].facts, NULL);
		if (a->v[i].health)
			cairn__collector_health__free_unpacked(a->v[i].health, NULL);
		if (a->v[i].import)
			cairn__store__imported_server__free_unpacked(a->v[i].import, NULL);
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------ series */

static int push_msg(void ***v, size_t *n, void *p)
{
	if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4 ...: grow to the next power of two */
		void **nv = realloc(*v, (*n ? *n * 2 : 1) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
	}
	(*v)[(*n)++] = p;
	return 0;
}

struct range {
	int64_t since_ms, until_ms;
};

#define ARENA_BLOCK (1u << 20)

static void *arena_alloc(void *data, size_t n)
{
	struct read_arena *a = data;
	n = (n + 15) & ~(size_t)15;
	while (a->cur < a->nblock) {
		if (a->used + n <= a->cap[a->cur]) {
			void *p = a->block[a->cur] + a->used;
			a->used += n;
			return p;
		}
		a->cur++;
		a->used = 0;
	}
	size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
	uint8_t **nb = realloc(a->block, (a->nblock + 1) * sizeof(*nb));
	if (!nb)
		return NULL;
	a->block = nb;
	size_t *nc = realloc(a->cap, (a->nblock + 1) * sizeof(*nc));
	if (!nc)
		return NULL;
	a->cap = nc;
	if (!(a->block[a->nblock] = malloc(cap)))
		return NULL;
	a->cap[a->nblock] = cap;
	a->cur = a->nblock++;
	a->used = n;
	return a->block[a->cur];
}

static void arena_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

static void arena_reset(struct read_arena *a)
{
	a->cur = 0;
	a->used = 0;
}

static void arena_release(struct read_arena *a)
{
	for (size_t i = 0; i < a->nblock; i++)
		free(a->block[i]);
	free(a->block);
	free(a->cap);
	memset(a, 0, sizeof(*a));
}

/* Walks the entries of one agent from key agent | start (start_len bytes of
 * big-endian start): judge(key after the id, range) says 1 keep (unpack with
 * d), 0 skip, -1 stop. */
static int walk_agent(const struct read_txn *t, enum store_db dbi, const uint8_t id[static 32],
		      const uint8_t *start, size_t start_len, const ProtobufCMessageDescriptor *d,
		      int (*judge)(const uint8_t *rest, size_t n, const struct range *r),
		      const struct range *arg,
		      struct read_arena *arena, void ***v, size_t *n, const char *what,
		      struct errbuf *eb)
{
	ProtobufCAllocator pa = { arena_alloc, arena_free, arena };
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->db->dbi[dbi], &cur);
	if (rc)
		return errbuf_set(eb, rc, "reading DB %s: %s", what, db_strerror(rc));
	uint8_t key[48];
	memcpy(key, id, 32);
	memcpy(key + 32, start, start_len);
	MDB_val k = { 32 + start_len, key }, val;
	for (rc = mdb_cursor_get(cur, &k, &val, MDB_SET_RANGE);
	     !rc && k.mv_size >= 32 && !memcmp(k.mv_data, id, 32);
	     rc = mdb_cursor_get(cur, &k, &val, MDB_NEXT)) {
		int j = judge((const uint8_t *)k.mv_data + 32, k.mv_size - 32, arg);
		if (j < 0)
			break;
		if (j == 0)
			continue;
		ProtobufCMessage *m = protobuf_c_message_unpack(d, &pa, val.mv_size, val.mv_data);
		if (!m) {
			char hex[KEY_ID_HEX_LEN + 1];
			keys_id_hex(id, hex);
			log_warn("a stored %s value of agent %.16s does not decode; skipped", what, hex);
			continue;
		}
		if (push_msg(v, n, m)) {
			mdb_cursor_close(cur);
			return errbuf_set(eb, -ENOMEM, "%s: out of memory", what);
		}
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return errbuf_set(eb, rc, "reading DB %s: %s", what, db_strerror(rc));
	return 0;
}

/* perf key: window_start_ms(u64) */
static int judge_perf(const uint8_t *rest, size_t n, const struct range *r)
{
	if (n != 8)
		return 0;
	int64_t start = (int64_t)db_get_u64(rest);
	if (r->until_ms > 0 && start >= r->until_ms)
		return -1;
	return start >= r->since_ms;
}

int read_perf_series(const struct read_txn *t, const uint8_t id[static KEY_PUBLIC_LEN],
		     int64_t since_ms, int64_t until_ms, struct read_perf *out, struct errbuf *eb)
{
	free(out->v);
	out->v = NULL;
	out->n = 0;
	arena_reset(&out->arena);
	struct range r = { since_ms > 0 ? since_ms : 0, until_ms };
	uint8_t start[8];
	db_put_u64(start, (uint64_t)r.since_ms);
	int rc = walk_agent(t, STORE_PERF, id, start, 8, &cairn__perf_window__descriptor, judge_perf,
			    &r, &out->arena, (void ***)&out->v, &out->n, "perf", eb);
	if (rc)
		read_perf_free(out);
	return rc;
}

void read_perf_free(struct read_perf *p)
{
	free(p->v);
	arena_release(&p->arena);
	memset(p, 0, sizeof(*p));
}

/* edges key: day(u32) | edge_hash(u64) */
static int judge_edge(const uint8_t *rest, size_t n, const struct range *r)
{
	if (n < 4)
		return 0;
	int64_t day_ms = (int64_t)db_get_u32(rest) * STORE_DAY_MS;
	if (r->until_ms > 0 && day_ms >= r->until_ms)
		return -1;
	return 1;
}

int read_edge_days(const struct read_txn *t, const uint8_t id[static KEY_PUBLIC_LEN],
		   int64_t since_ms, int64_t until_ms, struct read_edges *out, struct errbuf *eb)
{
	free(out->v);
	out->v = NULL;
	out->n = 0;
	arena_reset(&out->arena);
	struct range r = { since_ms > 0 ? since_ms : 0, until_ms };
	uint8_t start[4];
	db_put_u32(start, (uint32_t)(r.since_ms / STORE_DAY_MS));
	int rc = walk_agent(t, STORE_EDGES, id, start, 4, &cairn__store__edge_day__descriptor,
			    judge_edge, &r, &out->arena, (void ***)&out->v, &out->n, "edges", eb);
	if (rc)
		read_edges_free(out);
	return rc;
}

static void view_str(struct wire *w, unsigned type, struct read_str *s)
{
	if (type != 2) {
		w->bad = true;
		return;
	}
	struct wire sub = wire_sub(w);
	s->p = (const char *)sub.p;
	s->n = sub.bad ? 0 : strnlen(s->p, (size_t)(sub.end - sub.p));
}

static uint64_t view_varint(struct wire *w, unsigned type)
{
	if (type != 0) {
		w->bad = true;
		return 0;
	}
	return wire_varint(w);
}

/* Field numbers of cairn.Edge (proto/cairn.proto). */
static void view_edge(struct wire w, struct read_edge_view *o, bool *bad)
{
	while (!w.bad && w.p < w.end) {
		uint64_t tag = wire_varint(&w);
		unsigned type = (unsigned)(tag & 7);
		switch (tag >> 3) {
		case 1: o->direction = (uint32_t)view_varint(&w, type); break;
		case 2: o->protocol = (uint32_t)view_varint(&w, type); break;
		case 4: view_str(&w, type, &o->process_name); break;
		case 5: view_str(&w, type, &o->identity); break;
		case 7: o->local_port = (uint32_t)view_varint(&w, type); break;
		case 8: view_str(&w, type, &o->remote_address); break;
		case 9: o->remote_port = (uint32_t)view_varint(&w, type); break;
		case 10: o->samples_seen = (uint32_t)view_varint(&w, type); break;
		case 12: o->first_seen_ms = (int64_t)view_varint(&w, type); break;
		case 13: o->last_seen_ms = (int64_t)view_varint(&w, type); break;
		case 14: o->bytes_sent = view_varint(&w, type); break;
		case 15: o->bytes_received = view_varint(&w, type); break;
		case 19: view_str(&w, type, &o->peer_process_name); break;
		case 20: view_str(&w, type, &o->peer_identity); break;
		case 21: o->connections_opened = view_varint(&w, type); break;
		case 23: o->short_lived = view_varint(&w, type); break;
		case 26: o->datagrams_sent = view_varint(&w, type); break;
		case 27: o->datagrams_received = view_varint(&w, type); break;
		case 80: o->bytes_unknown = view_varint(&w, type) != 0; break;
		default: wire_skip(&w, type);
		}
	}
	*bad |= w.bad;
}

bool read_edge_view(const MDB_val *v, struct read_edge_view *out)
{
	memset(out, 0, sizeof(*out));
	struct wire w = { v->mv_data, (const uint8_t *)v->mv_data + v->mv_size, false };
	bool bad = false;
	while (!w.bad && !bad && w.p < w.end) {
		uint64_t tag = wire_varint(&w);
		unsigned type = (unsigned)(tag & 7);
		switch (tag >> 3) {
		case 1: /* several occurrences merge, as protobuf's do */
			if (type != 2) {
				w.bad = true;
				break;
			}
			out->has_edge = true;
			view_edge(wire_sub(&w), out, &bad);
			break;
		case 2: out->windows = (uint32_t)view_varint(&w, type); break;
		default: wire_skip(&w, type);
		}
	}
	return !w.bad && !bad;
}

int read_edge_walk_open(struct read_edge_walk *w, MDB_txn *txn, const struct db_env *env,
			bool use_weeks)
{
	memset(w, 0, sizeof(*w));
	w->weeks_from = use_weeks ? store_weeks_from(txn, env) : UINT32_MAX;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_EDGES], &w->days);
	if (!rc && w->weeks_from != UINT32_MAX)
		rc = mdb_cursor_open(txn, env->dbi[STORE_EDGES_WEEK], &w->weeks);
	if (rc)
		read_edge_walk_close(w);
	return rc;
}

void read_edge_walk_close(struct read_edge_walk *w)
{
	if (w->days)
		mdb_cursor_close(w->days);
	if (w->weeks)
		mdb_cursor_close(w->weeks);
	w->days = w->weeks = NULL;
}

/* fn over the values of id whose 4-byte unit after the id is in [u0, u1). */
static int walk_units(struct read_edge_walk *w, MDB_cursor *cur, const uint8_t id[static 32],
		      uint32_t u0, uint64_t u1, read_edge_fn fn, void *ctx)
{
	if (u0 >= u1)
		return 0;
	uint8_t kb[36];
	memcpy(kb, id, 32);
	db_put_u32(kb + 32, u0);
	MDB_val k = { sizeof(kb), kb }, v;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 36 || memcmp(k.mv_data, id, 32) ||
		    db_get_u32((const uint8_t *)k.mv_data + 32) >= u1)
			return 0;
		w->records++;
		if ((rc = fn(ctx, &k, &v)))
			return rc;
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int read_edge_walk_agent(struct read_edge_walk *w, const uint8_t id[static 32], int64_t since_ms,
			 read_edge_fn fn, void *ctx)
{
	uint32_t since_day = since_ms > 0 ? (uint32_t)(since_ms / STORE_DAY_MS) : 0;
	uint64_t split_day = UINT64_MAX; /* days before it from DB edges */
	uint32_t w0 = 0;
	if (w->weeks) {
		/* a week in part before since_ms is read as days: each day
		 * record then passes or not by its own last-seen time */
		w0 = store_week_of_day(since_day);
		if (store_week_first_day(w0) < since_day ||
		    (since_ms > 0 && since_ms % STORE_DAY_MS))
			w0++;
		if (w0 < w->weeks_from)
			w0 = w->weeks_from;
		split_day = store_week_first_day(w0);
	}
	int rc = walk_units(w, w->days, id, since_day, split_day, fn, ctx);
	if (!rc && w->weeks)
		rc = walk_units(w, w->weeks, id, w0, UINT64_MAX, fn, ctx);
	return rc;
}

/* ---- the edge records of many hosts, read ahead by a second thread ----
 *
 * The reader thread walks the hosts' records with the caller's transaction
 * (MDB_NOTLS lets a read transaction move between threads; the caller does
 * not touch it until the walk returns) and copies each record into one of a
 * few chunks; the calling thread hands them to fn in the order the serial walk
 * would. The cursor walk and its page faults then run beside fn's work. */

#define AHEAD_CHUNKS 4
#define AHEAD_CHUNK_BYTES (1u << 20)
#define AHEAD_MIN_HOSTS 64

struct ahead_chunk {
	uint8_t *buf;
	size_t len, cap;
	bool full;
};

struct ahead {
	struct read_edge_walk *w;
	const uint8_t (*ids)[32];
	size_t n;
	int64_t since_ms;
	struct ahead_chunk c[AHEAD_CHUNKS];
	size_t fill;           /* the chunk the reader writes */
	uint32_t host;         /* the host being read */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool stop;             /* the consumer stopped: the reader ends */
	bool done;             /* the reader ended; rc is its result */
	int rc;
};

/* record: host(u32) | key length(u32) | value length(u32) | key | value, each
 * record's start aligned to 4 */
static size_t ahead_rec_len(size_t kn, size_t vn)
{
	return (12 + kn + vn + 3) & ~(size_t)3;
}

/* Publishes the chunk being filled and waits for the next to be free;
 * -ECANCELED when the consumer stopped. */
static int ahead_publish(struct ahead *a)
{
	pthread_mutex_lock(&a->lock);
	a->c[a->fill].full = true;
	pthread_cond_broadcast(&a->changed);
	a->fill = (a->fill + 1) % AHEAD_CHUNKS;
	while (a->c[a->fill].full && !a->stop)
		pthread_cond_wait(&a->changed, &a->lock);
	int rc = a->stop ? -ECANCELED : 0;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static int ahead_copy(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct ahead *a = ctx;
	size_t need = ahead_rec_len(k->mv_size, v->mv_size);
	struct ahead_chunk *c = &a->c[a->fill];
	if (c->len && c->len + need > c->cap) {
		int rc = ahead_publish(a);
		if (rc)
			return rc;
		c = &a->c[a->fill];
	}
	if (c->len + need > c->cap) {
		/* a record larger than a chunk gets a chunk of its size */
		uint8_t *nb = realloc(c->buf, c->len + need);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = c->len + need;
	}
	uint8_t *p = c->buf + c->len;
	uint32_t hdr[3] = { a->host, (uint32_t)k->mv_size, (uint32_t)v->mv_size };
	memcpy(p, hdr, sizeof(hdr));
	memcpy(p + 12, k->mv_data, k->mv_size);
	memcpy(p + 12 + k->mv_size, v->mv_data, v->mv_size);
	c->len += need;
	return 0;
}

static void *ahead_reader(void *arg)
{
	struct ahead *a = arg;
	int rc = 0;
	for (size_t h = 0; h < a->n && !rc; h++) {
		a->host = (uint32_t)h;
		rc = read_edge_walk_agent(a->w, a->ids[h], a->since_ms, ahead_copy, a);
	}
	pthread_mutex_lock(&a->lock);
	a->c[a->fill].full = true; /* the last chunk, maybe empty */
	a->done = true;
	a->rc = rc == -ECANCELED ? 0 : rc;
	pthread_cond_broadcast(&a->changed);
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

struct host_adapter {
	read_edge_host_fn fn;
	void *ctx;
	uint32_t host;
};

static int host_adapt(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct host_adapter *s = ctx;
	return s->fn(s->ctx, s->host, k, v);
}

static int walk_hosts_serial(struct read_edge_walk *w, const uint8_t (*ids)[32], size_t n,
			     int64_t since_ms, read_edge_host_fn fn, void *ctx)
{
	struct host_adapter s = { fn, ctx, 0 };
	int rc = 0;
	for (size_t h = 0; h < n && !rc; h++) {
		s.host = (uint32_t)h;
		rc = read_edge_walk_agent(w, ids[h], since_ms, host_adapt, &s);
	}
	return rc;
}

int read_edge_walk_hosts(struct read_edge_walk *w, const uint8_t (*ids)[32], size_t n,
			 int64_t since_ms, read_edge_host_fn fn, void *ctx)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < AHEAD_MIN_HOSTS || cpus < 2)
		return walk_hosts_serial(w, ids, n, since_ms, fn, ctx);
	struct ahead a = { .w = w, .ids = ids, .n = n, .since_ms = since_ms };
	for (int i = 0; i < AHEAD_CHUNKS; i++) {
		a.c[i].cap = AHEAD_CHUNK_BYTES;
		if (!(a.c[i].buf = malloc(AHEAD_CHUNK_BYTES))) {
			for (int j = 0; j < i; j++)
				free(a.c[j].buf);
			return walk_hosts_serial(w, ids, n, since_ms, fn, ctx);
		}
	}
	pthread_mutex_init(&a.lock, NULL);
	pthread_cond_init(&a.changed, NULL);
	pthread_t tid;
	int rc = 0;
	bool threaded = !pthread_create(&tid, NULL, ahead_reader, &a);
	if (!threaded) {
		rc = walk_hosts_serial(w, ids, n, since_ms, fn, ctx);
		goto out;
	}
	for (size_t take = 0;; take = (take + 1) % AHEAD_CHUNKS) {
		struct ahead_chunk *c = &a.c[take];
		pthread_mutex_lock(&a.lock);
		while (!c->full)
			pthread_cond_wait(&a.changed, &a.lock);
		bool last = a.done && take == a.fill;
		pthread_mutex_unlock(&a.lock);
		for (size_t off = 0; off < c->len && !rc;) {
			uint32_t hdr[3];
			memcpy(hdr, c->buf + off, sizeof(hdr));
			MDB_val k = { hdr[1], c->buf + off + 12 };
			MDB_val v = { hdr[2], c->buf + off + 12 + hdr[1] };
			rc = fn(ctx, hdr[0], &k, &v);
			off += ahead_rec_len(hdr[1], hdr[2]);
		}
		pthread_mutex_lock(&a.lock);
		c->full = false;
		c->len = 0;
		if (rc)
			a.stop = true;
		pthread_cond_broadcast(&a.changed);
		pthread_mutex_unlock(&a.lock);
		if (last || rc)
			break;
	}
	pthread_join(tid, NULL);
	if (!rc)
		rc = a.rc;
out:
	pthread_cond_destroy(&a.changed);
	pthread_mutex_destroy(&a.lock);
	for (int i = 0; i < AHEAD_CHUNKS; i++)
		free(a.c[i].buf);
	return rc;
}

void read_edges_free(struct read_edges *e)
{
	free(e->v);
	arena_release(&e->arena);
	memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------ migration statuses */

int read_statuses(const struct read_txn *t, struct read_statuses *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->db->dbi[STORE_MIGRATION], &cur);
	if (rc)
		return errbuf_set(eb, rc, "reading DB migration: %s", db_strerror(rc));
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Cairn__Store__MigrationStatus *m =
			cairn__store__migration_status__unpack(NULL, v.mv_size, v.mv_data);
		if (!m)
			continue;
		if (push_msg((void ***)&out->v, &out->n, m)) {
			cairn__store__migration_status__free_unpacked(m, NULL);
			mdb_cursor_close(cur);
			read_statuses_free(out);
			return errbuf_set(eb, -ENOMEM, "migration statuses: out of memory");
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		read_statuses_free(out);
		return errbuf_set(eb, rc, "reading DB migration: %s", db_strerror(rc));
	}
	return 0;
}

void read_statuses_free(struct read_statuses *s)
{
	for (size_t i = 0; i < s->n; i++)
		cairn__store__migration_status__free_unpacked(s->v[i], NULL);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ audit log */

int read_audit(const struct read_txn *t, int64_t since_ms, size_t max, struct read_audit *out,
	       struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	MDB_cursor *cur;
	int rc = mdb_cursor_open(t->txn, t->db->dbi[STORE_AUDIT], &cur);
	if (rc)
		return errbuf_set(eb, rc, "reading DB audit: %s", db_strerror(rc));
	uint8_t k8[8];
	db_put_u64(k8, since_ms > 0 ? (uint64_t)since_ms : 0);
	MDB_val k = { sizeof(k8), k8 }, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && (!max || out->n < max);
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Cairn__Store__AuditEntry *a =
			cairn__store__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
		if (!a)
			continue;
		if (push_msg((void ***)&out->v, &out->n, a)) {
			cairn__store__audit_entry__free_unpacked(a, NULL);
			mdb_cursor_close(cur);
			read_audit_free(out);
			return errbuf_set(eb, -ENOMEM, "audit log: out of memory");
		}
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND) {
		read_audit_free(out);
		return errbuf_set(eb, rc, "reading DB audit: %s", db_strerror(rc));
	}
	return 0;
}

void read_audit_free(struct read_audit *a)
{
	for (size_t i = 0; i < a->n; i++)
		cairn__store__audit_entry__free_unpacked(a->v[i], NULL);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------------ hosts */

static int cmp_host(const void *a, const void *b)
{
	return memcmp(((const struct read_host *)a)->id, ((const struct read_host *)b)->id,
		      KEY_PUBLIC_LEN);
}

int read_hosts_list(MDB_txn *txn, const struct db_env *db, struct read_host **out, size_t *n,
		     struct errbuf *eb)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0;
	struct read_host *hs = NULL;
	MDB_cursor *c;
	MDB_val k, v;
	/* agents first, then hosts with facts but no agent record */
	for (int pass = 0; pass < 2; pass++) {
		MDB_dbi dbi = db->dbi[pass == 0 ? STORE_AGENTS : STORE_HOSTS];
		int rc = mdb_cursor_open(txn, dbi, &c);
		if (rc) {
			free(hs);
			return errbuf_set(eb, rc, "reading the host list: %s", db_strerror(rc));
		}
		size_t known = *n;
		for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc;
		     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
			if (k.mv_size != KEY_PUBLIC_LEN)
				continue;
			struct read_host *found = NULL;
			if (pass == 1) {
				struct read_host key;
				memcpy(key.id, k.mv_data, KEY_PUBLIC_LEN);
				found = known ? bsearch(&key, hs, known, sizeof(*hs), cmp_host) : NULL;
				if (found && found->hostname[0])
					continue;
			}
			char name[256] = "";
			bool refused = false;
			if (pass == 0) {
				Cairn__Store__Agent *a =
					cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
				if (a) {
					str_copy(name, a->hostname, sizeof(name));
					refused = a->state == CAIRN__STORE__ENROLL_STATE__REJECTED ||
						  a->state == CAIRN__STORE__ENROLL_STATE__REVOKED;
					cairn__store__agent__free_unpacked(a, NULL);
				}
			} else {
				Cairn__Store__HostFacts *hf =
					cairn__store__host_facts__unpack(NULL, v.mv_size, v.mv_data);
				if (hf) {
					if (hf->info)
						str_copy(name, hf->info->hostname, sizeof(name));
					cairn__store__host_facts__free_unpacked(hf, NULL);
				}
			}
			if (found) {
				str_copy(found->hostname, name, sizeof(found->hostname));
				continue;
			}
			if (*n == cap) {
				cap = cap ? cap * 2 : 64;
				struct read_host *nh = realloc(hs, cap * sizeof(*nh));
				if (!nh) {
					mdb_cursor_close(c);
					free(hs);
					return errbuf_set(eb, -ENOMEM, "host list: out of memory");
				}
				hs = nh;
			}
			struct read_host *h = &hs[(*n)++];
			memset(h, 0, sizeof(*h));
			h->refused = refused;
			memcpy(h->id, k.mv_data, KEY_PUBLIC_LEN);
			keys_id_hex(h->id, h->id_hex);
			keys_fingerprint(h->id, h->fingerprint);
			str_copy(h->hostname, name, sizeof(h->hostname));
		}
		mdb_cursor_close(c);
		if (*n > 1)
			qsort(hs, *n, sizeof(*hs), cmp_host);
	}
	*out = hs;
	return 0;
}

size_t read_suggest(const char *needle, const char *const *cands, size_t n, char *out,
		     size_t outn)
{
	size_t best_d[3] = { SIZE_MAX, SIZE_MAX, SIZE_MAX };
	size_t best_i[3] = { 0 };
	size_t limit = strlen(needle) / 3 + 2;
	for (size_t i = 0; i < n; i++) {
		if (!cands[i] || !*cands[i])
			continue;
		size_t d = str_distance(needle, cands[i]);
		/* a candidate that contains what was typed is close too */
		if (strcasestr(cands[i], needle))
			d = d < 1 ? d : 1;
		if (d > limit)
			continue;
		for (int s = 0; s < 3; s++) {
			if (d < best_d[s]) {
				for (int t = 2; t > s; t--) {
					best_d[t] = best_d[t - 1];
					best_i[t] = best_i[t - 1];
				}
				best_d[s] = d;
				best_i[s] = i;
				break;
			}
		}
	}
	size_t got = 0, used = strlen(out);
	/* only the closest: "shp" suggests "shop", not also "hr" */
	for (int s = 0; s < 3 && best_d[s] != SIZE_MAX && best_d[s] <= best_d[0]; s++) {
		bool dup = false;
		for (int t = 0; t < s; t++)
			if (!strcmp(cands[best_i[t]], cands[best_i[s]]))
				dup = true;
		if (dup)
			continue;
		int w = snprintf(out + used, outn > used ? outn - used : 0, "%s'%s'", got ? ", " : "",
				 cands[best_i[s]]);
		if (w < 0 || (size_t)w >= outn - used)
			break;
		used += (size_t)w;
		got++;
	}
	return got;
}

static bool is_hex(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

static bool name_matches(const char *hostname, const char *needle)
{
	if (!strcasecmp(hostname, needle))
		return true;
	/* "web-01" matches "web-01.example.net" */
	size_t n = strlen(needle);
	return !strncasecmp(hostname, needle, n) && hostname[n] == '.';
}

int read_match_host(const struct read_host *hosts, size_t n, const char *needle, size_t *idx,
		     struct errbuf *eb)
{
	size_t hits = 0, hit = 0;
	size_t nl = strlen(needle);
	bool hex = is_hex(needle) && nl >= 4;
	/* exact id or name first, then prefixes of id / fingerprint; a name
	 * also claimed by a rejected or revoked key (a second key for a known
	 * host) means the host people know, as 'hosts' lists it */
	for (int pass = 0; pass < 2 && !hits; pass++)
		for (size_t i = 0; i < n; i++) {
			if (pass == 0 && hosts[i].refused && strcasecmp(hosts[i].id_hex, needle))
				continue;
			if (!strcasecmp(hosts[i].id_hex, needle) ||
			    name_matches(hosts[i].hostname, needle)) {
				if (!hits || hit != i)
					hits++;
				hit = i;
			}
		}
	if (!hits && hex)
		for (size_t i = 0; i < n; i++)
			if (!strncasecmp(hosts[i].id_hex, needle, nl) ||
			    !strncasecmp(hosts[i].fingerprint, needle, nl)) {
				hits++;
				hit = i;
			}
	if (hits == 1) {
		*idx = hit;
		return 0;
	}
	if (hits > 1) {
		char list[300] = "";
		size_t shown = 0;
		/* by fingerprint: what 'agents' and 'hosts' print */
		for (size_t i = 0; i < n && shown < 4; i++)
			if (!strcasecmp(hosts[i].id_hex, needle) ||
			    name_matches(hosts[i].hostname, needle) ||
			    (hex && (!strncasecmp(hosts[i].id_hex, needle, nl) ||
				     !strncasecmp(hosts[i].fingerprint, needle, nl)))) {
				size_t used = strlen(list);
				snprintf(list + used, sizeof(list) - used, "%s%s (fingerprint %s%s)",
					 shown ? ", " : "", hosts[i].hostname[0] ? hosts[i].hostname : "?",
					 hosts[i].fingerprint, hosts[i].refused ? ", key refused" : "");
				shown++;
			}
		return errbuf_set(eb, -EEXIST,
				  "'%s' matches %zu hosts: %s%s; name one by its fingerprint", needle,
				  hits, list, hits > shown ? ", ..." : "");
	}
	const char **names = malloc((n + 1) * sizeof(char *));
	char sugg[300] = "";
	if (names) {
		for (size_t i = 0; i < n; i++)
			names[i] = hosts[i].hostname;
		read_suggest(needle, names, n, sugg, sizeof(sugg));
		free(names);
	}
	if (sugg[0])
		return errbuf_set(eb, -ENOENT, "no host '%s' (did you mean %s?)", needle, sugg);
	return errbuf_set(eb, -ENOENT,
			  "no host '%s' among %zu hosts; 'cairn-collector hosts' lists them (name, "
			  "id or id prefix, fingerprint)",
			  needle, n);
}

int read_find_host(MDB_txn *txn, const struct db_env *db, const char *needle,
		    struct read_host *out, struct errbuf *eb)
{
	struct read_host *hs;
	size_t n, idx;
	int rc = read_hosts_list(txn, db, &hs, &n, eb);
	if (rc)
		return rc;
	rc = read_match_host(hs, n, needle, &idx, eb);
	if (!rc)
		*out = hs[idx];
	free(hs);
	return rc;
}

int read_find_app(const Cairn__Store__Snapshot *snap, const char *needle, size_t *idx,
		   struct errbuf *eb)
{
	size_t hits = 0, hit = 0;
	for (size_t i = 0; i < snap->n_apps; i++)
		if (!strcmp(snap->apps[i]->id, needle) || !strcasecmp(snap->apps[i]->name, needle)) {
			hits++;
			hit = i;
		}
	if (!hits) {
		size_t nl = strlen(needle);
		for (size_t i = 0; i < snap->n_apps; i++)
			if (nl >= 5 && !strncmp(snap->apps[i]->id, needle, nl)) {
				hits++;
				hit = i;
			}
	}
	if (hits == 1) {
		*idx = hit;
		return 0;
	}
	if (hits > 1)
		return errbuf_set(eb, -EEXIST,
				  "'%s' names %zu applications; use the application id ('cairn-collector "
				  "apps' lists them)",
				  needle, hits);
	const char **names = malloc((2 * snap->n_apps + 1) * sizeof(char *));
	char sugg[300] = "";
	if (names) {
		for (size_t i = 0; i < snap->n_apps; i++) {
			names[2 * i] = snap->apps[i]->name;
			names[2 * i + 1] = snap->apps[i]->id;
		}
		read_suggest(needle, names, 2 * snap->n_apps, sugg, sizeof(sugg));
		free(names);
	}
	if (sugg[0])
		return errbuf_set(eb, -ENOENT, "no application '%s' (did you mean %s?)", needle, sugg);
	return errbuf_set(eb, -ENOENT,
			  "no application '%s'; 'cairn-collector apps' lists the %zu applications",
			  needle, snap->n_apps);
}

/* ------------------------------------------------------------ map nodes */

static int cmp_node(const void *a, const void *b)
{
	return strcmp((*(const Cairn__Store__MapNode *const *)a)->id,
		      (*(const Cairn__Store__MapNode *const *)b)->id);
}

int read_nodes_index(struct read_nodes *ix, const Cairn__Store__DepMap *m)
{
	ix->n = m ? m->n_nodes : 0;
	ix->sorted = malloc((ix->n + 1) * sizeof(*ix->sorted));
	if (!ix->sorted)
		return -ENOMEM;
	for (size_t i = 0; i < ix->n; i++)
		ix->sorted[i] = m->nodes[i];
	if (ix->n > 1)
		qsort(ix->sorted, ix->n, sizeof(*ix->sorted), cmp_node);
	return 0;
}

const Cairn__Store__MapNode *read_nodes_get(const struct read_nodes *ix, const char *id)
{
	Cairn__Store__MapNode key = CAIRN__STORE__MAP_NODE__INIT;
	key.id = (char *)id;
	const Cairn__Store__MapNode *kp = &key;
	const Cairn__Store__MapNode **r =
		ix->n ? bsearch(&kp, ix->sorted, ix->n, sizeof(*ix->sorted), cmp_node) : NULL;
	return r ? *r : NULL;
}

void read_nodes_free(struct read_nodes *ix)
{
	free(ix->sorted);
	ix->sorted = NULL;
	ix->n = 0;
}

/* ------------------------------------------------------------ snapshots */

uint64_t read_facts_gen(MDB_txn *txn, const struct db_env *env)
{
	MDB_val k = { .mv_size = 9, .mv_data = "facts_gen" }, v;
	if (mdb_get(txn, env->dbi[STORE_META], &k, &v))
		return 0;
	Cairn__Store__Counter *c = cairn__store__counter__unpack(NULL, v.mv_size, v.mv_data);
	uint64_t gen = c ? c->value : 0;
	if (c)
		cairn__store__counter__free_unpacked(c, NULL);
	return gen;
}

/* ------------------------------------------------------------ wire walk */

/* Reads a varint at *p (< end); -EBADMSG when cut short. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -EBADMSG;
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -EBADMSG;
}

/* Steps over one top-level field at *p (< end): its number in *field and,
 * for a varint, its value in *val. -EBADMSG when cut short or of a wire type
 * a Snapshot does not use. */
static int field_next(const uint8_t **p, const uint8_t *end, uint32_t *field, uint64_t *val)
{
	uint64_t tag, n;
	*val = 0;
	if (varint(p, end, &tag))
		return -EBADMSG;
	*field = (uint32_t)(tag >> 3);
	switch (tag & 7) {
	case 0:
		return varint(p, end, val);
	case 1:
		if (end - *p < 8)
			return -EBADMSG;
		*p += 8;
		return 0;
	case 2:
		if (varint(p, end, &n) || (uint64_t)(end - *p) < n)
			return -EBADMSG;
		*p += n;
		return 0;
	case 5:
		if (end - *p < 4)
			return -EBADMSG;
		*p += 4;
		return 0;
	default:
		return -EBADMSG;
	}
}

/* Copies the top-level fields of an encoded Snapshot except field `skip`
 * into out (at least len bytes). Returns the new length or -EBADMSG. */
static long strip_field(const uint8_t *in, size_t len, uint32_t skip, uint8_t *out)
{
	const uint8_t *p = in, *end = in + len;
	size_t w = 0;
	while (p < end) {
		const uint8_t *start = p;
		uint32_t field;
		uint64_t val;
		if (field_next(&p, end, &field, &val))
			return -EBADMSG;
		if (field == skip)
			continue;
		memcpy(out + w, start, (size_t)(p - start));
		w += (size_t)(p - start);
	}
	return (long)w;
}

int read_snapshot_head(const MDB_val *v, struct read_snapshot_head *h)
{
	const uint8_t *p = v->mv_data, *end = p + v->mv_size;
	memset(h, 0, sizeof(*h));
	while (p < end) {
		uint32_t field;
		uint64_t val;
		if (field_next(&p, end, &field, &val))
			return -EBADMSG;
		if (field == 2)
			h->computed_ms = (int64_t)val;
		else if (field == 3)
			h->facts_gen = val;
		else if (field == 5)
			h->has_map = true;
	}
	return 0;
}

static int unpack_snapshot(const MDB_val *v, bool with_map, Cairn__Store__Snapshot **out)
{
	if (with_map) {
		*out = cairn__store__snapshot__unpack(NULL, v->mv_size, v->mv_data);
		return *out ? 0 : -EBADMSG;
	}
	uint8_t *buf = malloc(v->mv_size + 1);
	if (!buf)
		return -ENOMEM;
	long n = strip_field(v->mv_data, v->mv_size, 5, buf);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*out = cairn__store__snapshot__unpack(NULL, (size_t)n, buf);
	free(buf);
	return *out ? 0 : -EBADMSG;
}

int read_snapshot_latest(MDB_txn *txn, const struct db_env *env, bool with_map,
			 Cairn__Store__Snapshot **out, struct errbuf *eb)
{
	*out = NULL;
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_SNAPSHOTS], &c);
	if (rc)
		return errbuf_set(eb, rc, "reading DB snapshots: %s", db_strerror(rc));
	rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND) {
		mdb_cursor_close(c);
		return errbuf_set(eb, -ENOENT, "no snapshot stored yet");
	}
	if (!rc)
		rc = unpack_snapshot(&v, with_map, out);
	mdb_cursor_close(c);
	if (rc)
		return errbuf_set(eb, rc, "reading the latest snapshot: %s",
				  rc == -EBADMSG ? "stored value does not decode (recompute with --fresh)"
						 : db_strerror(rc));
	return 0;
}

long read_snapshot_strip_map(const uint8_t *in, size_t len, uint8_t *out)
{
	return strip_field(in, len, 5, out);
}

int read_snapshots_each(const struct read_txn *t, bool with_map,
			int (*fn)(const Cairn__Store__Snapshot *s, void *arg), void *arg,
			struct errbuf *eb)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(t->txn, t->db->dbi[STORE_SNAPSHOTS], &c);
	if (rc)
		return errbuf_set(eb, rc, "reading DB snapshots: %s", db_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Cairn__Store__Snapshot *s;
		int urc = unpack_snapshot(&v, with_map, &s);
		if (urc == -EBADMSG) {
			log_warn("snapshot %llu does not decode; skipped",
				 k.mv_size == 8 ? (unsigned long long)db_get_u64(k.mv_data) : 0ULL);
			continue;
		}
		if (urc) {
			rc = urc;
			break;
		}
		int frc = fn(s, arg);
		cairn__store__snapshot__free_unpacked(s, NULL);
		if (frc) {
			mdb_cursor_close(c);
			return frc;
		}
	}
	mdb_cursor_close(c);
	if (rc && rc != MDB_NOTFOUND)
		return errbuf_set(eb, rc, "reading DB snapshots: %s", db_strerror(rc));
	return 0;
}

int read_lookup_host(const struct read_ctx *r, const char *needle, struct read_host *out,
		     struct errbuf *eb)
{
	struct read_txn t;
	int rc = read_begin(r, &t, eb);
	if (rc)
		return rc;
	rc = read_find_host(t.txn, t.db, needle, out, eb);
	read_end(&t);
	return rc;
}

/* ------------------------------------------------------------ store size */

struct size_walk {
	struct read_size_day *days;
	size_t ndays, capdays;
	struct read_size_host *hosts;
	size_t nhosts, caphosts;
};

static int size_day_add(struct size_walk *w, int64_t day, uint64_t bytes)
{
	if (day < 0 || day > UINT32_MAX)
		return 0;
	/* days arrive roughly in order per agent: search from the end */
	size_t i = w->ndays;
	while (i > 0 && w->days[i - 1].day > (uint32_t)day)
		i--;
	if (i > 0 && w->days[i - 1].day == (uint32_t)day) {
		w->days[i - 1].entries++;
		w->days[i - 1].bytes += bytes;
		return 0;
	}
	if (w->ndays == w->capdays) {
		size_t cap = w->capdays ? w->capdays * 2 : 64;
		struct read_size_day *d = realloc(w->days, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		w->days = d;
		w->capdays = cap;
	}
	memmove(w->days + i + 1, w->days + i, (w->ndays - i) * sizeof(*w->days));
	w->days[i] = (struct read_size_day){ (uint32_t)day, 1, bytes };
	w->ndays++;
	return 0;
}

static int cmp_size_host_id(const void *a, const void *b)
{
	return memcmp(((const struct read_size_host *)a)->id, ((const struct read_size_host *)b)->id,
		      KEY_PUBLIC_LEN);
}

static int size_host_add(struct size_walk *w, const uint8_t *id, uint64_t bytes)
{
	struct read_size_host key;
	memcpy(key.id, id, KEY_PUBLIC_LEN);
	struct read_size_host *h =
		w->nhosts ? bsearch(&key, w->hosts, w->nhosts, sizeof(key), cmp_size_host_id) : NULL;
	if (h) {
		h->entries++;
		h->bytes += bytes;
		return 0;
	}
	if (w->nhosts == w->caphosts) {
		size_t cap = w->caphosts ? w->caphosts * 2 : 256;
		struct read_size_host *n = realloc(w->hosts, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		w->hosts = n;
		w->caphosts = cap;
	}
	size_t i = w->nhosts;
	while (i > 0 && memcmp(w->hosts[i - 1].id, id, KEY_PUBLIC_LEN) > 0)
		i--;
	memmove(w->hosts + i + 1, w->hosts + i, (w->nhosts - i) * sizeof(*w->hosts));
	key.entries = 1;
	key.bytes = bytes;
	w->hosts[i] = key;
	w->nhosts++;
	return 0;
}

/* The UTC day of a dated entry of db, -1 when db is not dated. */
static int64_t size_entry_day(enum store_db db, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = (const uint8_t *)k->mv_data + 32;
	switch (db) {
	case STORE_BATCHES: {
		int64_t t = store_raw_received_ms(v);
		return t ? t / STORE_DAY_MS : -1;
	}
	case STORE_PERF:
		return k->mv_size >= 40 ? (int64_t)(db_get_u64(p) / STORE_DAY_MS) : -1;
	case STORE_PERF_DAY:
	case STORE_EDGES:
		return k->mv_size >= 36 ? (int64_t)db_get_u32(p) : -1;
	case STORE_PERF_HOUR:
		return k->mv_size >= 36 ? (int64_t)db_get_u32(p) / 24 : -1;
	default:
		return -1;
	}
}

/* Offset of the agent id in the keys of db, -1 when its keys hold none. */
static int size_agent_offset(enum store_db db)
{
	switch (db) {
	case STORE_AGENTS: case STORE_BATCHES: case STORE_GAPS: case STORE_HOSTS:
	case STORE_PERF: case STORE_PROCS: case STORE_LISTENERS: case STORE_PACKAGES:
	case STORE_EDGES: case STORE_HEALTH: case STORE_PERF_DAY: case STORE_PERF_HOUR:
	case STORE_IMPORTS:
		return 0;
	case STORE_ADDRS:
		return 16;
	default:
		return -1;
	}
}

static int size_walk_db(MDB_txn *txn, const struct db_env *env, enum store_db db, unsigned what,
			struct size_walk *w)
{
	bool dated = (what & READ_SIZE_DAYS) &&
		     (db == STORE_BATCHES || db == STORE_PERF || db == STORE_PERF_DAY ||
		      db == STORE_PERF_HOUR || db == STORE_EDGES);
	int off = (what & READ_SIZE_HOSTS) ? size_agent_offset(db) : -1;
	if (!dated && off < 0)
		return 0;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[db], &cur);
	if (rc)
		return rc;
	MDB_val k, v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!rc) {
		uint64_t bytes = k.mv_size + v.mv_size;
		if (dated) {
			int64_t day = k.mv_size >= 32 ? size_entry_day(db, &k, &v) : -1;
			if (day >= 0 && (rc = size_day_add(w, day, bytes)))
				break;
		}
		if (off >= 0 && k.mv_size >= (size_t)off + KEY_PUBLIC_LEN &&
		    (rc = size_host_add(w, (const uint8_t *)k.mv_data + off, bytes)))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int cmp_size_host_bytes(const void *a, const void *b)
{
	const struct read_size_host *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return memcmp(x->id, y->id, KEY_PUBLIC_LEN);
}

int read_store_size(const struct read_txn *t, unsigned what, struct read_store_size *out,
		    struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	MDB_env *menv = mdb_txn_env(t->txn);
	MDB_envinfo info;
	MDB_stat st;
	int rc = mdb_env_info(menv, &info);
	if (!rc)
		rc = mdb_env_stat(menv, &st);
	if (rc)
		return errbuf_set(eb, rc, "reading the store's size: %s", db_strerror(rc));
	out->page_size = st.ms_psize;
	out->map_bytes = info.me_mapsize;
	out->used_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	for (int i = 0; i < STORE_NDBS; i++) {
		struct read_db_size *d = &out->dbs[i];
		d->name = store_db_names[i];
		if ((rc = mdb_stat(t->txn, t->db->dbi[i], &st)))
			return errbuf_set(eb, rc, "mdb_stat of DB %s: %s", d->name, db_strerror(rc));
		d->entries = st.ms_entries;
		d->pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
		d->bytes = d->pages * out->page_size;
		d->depth = st.ms_depth;
	}
	/* LMDB's free list (DBI 0): each value starts with its count of pages */
	MDB_cursor *cur;
	if (!mdb_cursor_open(t->txn, 0, &cur)) {
		MDB_val k, v;
		int frc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
		while (!frc) {
			if (v.mv_size >= sizeof(size_t)) {
				size_t n;
				memcpy(&n, v.mv_data, sizeof(n));
				out->free_pages += n;
			}
			frc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		mdb_cursor_close(cur);
	}
	char path[PATH_MAX];
	struct stat fs;
	const char *dir = NULL;
	if (!mdb_env_get_path(menv, &dir) && dir &&
	    (size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) < sizeof(path) &&
	    stat(path, &fs) == 0)
		out->file_bytes = (uint64_t)fs.st_size;
	struct size_walk w = { 0 };
	for (int i = 0; i < STORE_NDBS && (what & (READ_SIZE_DAYS | READ_SIZE_HOSTS)); i++) {
		if ((rc = size_walk_db(t->txn, t->db, (enum store_db)i, what, &w))) {
			free(w.days);
			free(w.hosts);
			return errbuf_set(eb, rc, "walking DB %s: %s", store_db_names[i],
					  db_strerror(rc));
		}
	}
	if (w.nhosts > 1)
		qsort(w.hosts, w.nhosts, sizeof(*w.hosts), cmp_size_host_bytes);
	out->days = w.days;
	out->ndays = w.ndays;
	out->hosts = w.hosts;
	out->nhosts = w.nhosts;
	return 0;
}

void read_store_size_free(struct read_store_size *s)
{
	free(s->days);
	free(s->hosts);
	memset(s, 0, sizeof(*s));
}
