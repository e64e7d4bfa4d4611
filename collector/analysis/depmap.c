#include "depmap.h"

#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cairn.pb-c.h"
#include "config.h"
#include "log.h"
#include "read.h"
#include "store.h"

/* qsort that accepts an empty (NULL) array. */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

/* ------------------------------------------------------------ ports */

struct port_label {
	uint16_t port;
	const char *label;
	bool infra;
};

/* From data/ports.csv (sorted by port; the build checks it). infra = shared
 * infrastructure: traffic to it does not tie hosts into one application
 * (docs/analysis.md). */
static const struct port_label port_labels[] = {
#include "ports_table.inc"
};

static const struct port_label *port_find(uint32_t port)
{
	size_t lo = 0, hi = ARRAY_SIZE(port_labels);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (port_labels[mid].port == port)
			return &port_labels[mid];
		if (port_labels[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *depmap_port_label(uint32_t port)
{
	const struct port_label *p = port_find(port);
	return p ? p->label : NULL;
}

bool depmap_port_is_infra(uint32_t port)
{
	const struct port_label *p = port_find(port);
	return p && p->infra;
}

/* ------------------------------------------------------------ hash index */

/* Open addressing from fixed-size byte keys to uint32 values. */
struct kidx {
	size_t ksize, cap, n;
	uint8_t *keys;
	uint32_t *vals; /* DEPMAP_NONE = empty slot */
};

static uint64_t hash_bytes(const void *p, size_t n)
{
	/* 8 bytes at a time, multiply-xorshift mixing; keys are short */
	const uint8_t *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		b += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, b, n);
	h = (h ^ w) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	return h;
}

static int kidx_init(struct kidx *k, size_t ksize, size_t expect)
{
	size_t cap = 16;
	while (cap < expect * 2)
		cap <<= 1;
	k->ksize = ksize;
	k->cap = cap;
	k->n = 0;
	k->keys = malloc(cap * ksize);
	k->vals = malloc(cap * sizeof(*k->vals));
	if (!k->keys || !k->vals) {
		free(k->keys);
		free(k->vals);
		return -ENOMEM;
	}
	memset(k->vals, 0xff, cap * sizeof(*k->vals));
	return 0;
}

static void kidx_free(struct kidx *k)
{
	free(k->keys);
	free(k->vals);
	memset(k, 0, sizeof(*k));
}

static size_t kidx_find(const struct kidx *k, const void *key)
{
	size_t i = (size_t)hash_bytes(key, k->ksize) & (k->cap - 1);
	while (k->vals[i] != DEPMAP_NONE && memcmp(k->keys + i * k->ksize, key, k->ksize))
		i = (i + 1) & (k->cap - 1);
	return i;
}

static uint32_t kidx_get(const struct kidx *k, const void *key)
{
	return k->vals[kidx_find(k, key)];
}

static int kidx_grow(struct kidx *k)
{
	struct kidx nk;
	int rc = kidx_init(&nk, k->ksize, k->cap);
	if (rc)
		return rc;
	for (size_t i = 0; i < k->cap; i++) {
		if (k->vals[i] == DEPMAP_NONE)
			continue;
		size_t j = kidx_find(&nk, k->keys + i * k->ksize);
		memcpy(nk.keys + j * nk.ksize, k->keys + i * k->ksize, k->ksize);
		nk.vals[j] = k->vals[i];
		nk.n++;
	}
	kidx_free(k);
	*k = nk;
	return 0;
}

/* Inserts key -> val unless present; *existing gets the stored value. */
static int kidx_put(struct kidx *k, const void *key, uint32_t val, uint32_t *existing)
{
	if ((k->n + 1) * 2 > k->cap) {
		int rc = kidx_grow(k);
		if (rc)
			return rc;
	}
	size_t i = kidx_find(k, key);
	if (k->vals[i] == DEPMAP_NONE) {
		memcpy(k->keys + i * k->ksize, key, k->ksize);
		k->vals[i] = val;
		k->n++;
	}
	if (existing)
		*existing = k->vals[i];
	return 0;
}

/* ------------------------------------------------------------ loading */

/* A bump allocator for protobuf-c: values are unpacked, copied out and
 * forgotten, so nothing is freed one by one (1,000,000 edges unpack in a
 * fraction of the time malloc would take). */
struct arena {
	uint8_t *buf;
	size_t cap, used;
	bool exhausted;             /* an allocation did not fit */
};

static void *arena_alloc(void *data, size_t n)
{
	struct arena *a = data;
	size_t at = (a->used + 15) & ~(size_t)15;
	if (at + n > a->cap) {
		a->exhausted = true;
		return NULL;
	}
	a->used = at + n;
	return a->buf + at;
}

static void arena_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

struct fedge {
	uint32_t host;
	uint32_t ident;
	uint32_t peer_ident;        /* LOCAL: server process */
	uint16_t port;              /* OUTBOUND: remote port; INBOUND/LOCAL: local port */
	uint8_t dir, proto;
	uint8_t addr[16];           /* remote address (INBOUND: the client) */
	uint32_t samples;
	bool matched;               /* INBOUND: an outbound edge was confirmed by it */
	bool self;                  /* INBOUND to cairn: confirms and names, never drawn */
	int64_t first_ms, last_ms;
	uint64_t bytes;
	uint64_t connections, short_lived, datagrams;
	bool bytes_known;           /* some record behind it had byte counters */
};

struct claim {
	uint8_t addr[16];
	uint32_t host;
};

struct loader {
	MDB_txn *txn;
	const struct db_env *env;
	struct depmap *m;
	struct errbuf *eb;
	struct arena arena;
	ProtobufCAllocator alloc;
	struct kidx strings;        /* key: 8-byte hash + index check done by compare */
	size_t strings_cap;
	struct claim *claims;       /* sorted by (addr, host) */
	size_t nclaims, claims_cap;
	uint32_t *host_claims;      /* CSR: claims of host h at [host_claim_start[h], [h+1]) */
	uint32_t *host_claim_start;
	struct fedge *edges;
	size_t nedges, edges_cap;
	struct kidx emerge;         /* edge key -> fedge: one edge over all days */
	struct kidx inbound;        /* (host, proto, port, addr) -> fedge */
	struct kidx listeners;      /* (host, proto, port) -> ident */
	struct kidx ext;            /* addr(16) + kind(1) -> node */
	struct kidx client_addrs;   /* outside client addresses seen (16) */
	uint32_t *rank;             /* string -> its position in byte order (after loading) */
	char *scratch;              /* an edge record's strings, NUL-terminated */
	size_t scratch_cap;
	struct depmap_edge *out;    /* resolved service edges before merging */
	size_t nout, out_cap;
	size_t nodes_cap;
};

/* The largest arena a single stored value may unpack into. */
#define ARENA_MAX ((size_t)256 << 20)

/* Unpacks v into the arena (emptied first). A value too large for the
 * arena (a host with thousands of listeners or interfaces) grows it and is
 * tried again rather than being counted as malformed. NULL when the value
 * does not decode or cannot fit in ARENA_MAX. */
static void *arena_unpack(struct loader *L, const ProtobufCMessageDescriptor *d, const MDB_val *v)
{
	for (;;) {
		L->arena.used = 0;
		L->arena.exhausted = false;
		void *msg = protobuf_c_message_unpack(d, &L->alloc, v->mv_size, v->mv_data);
		if (msg || !L->arena.exhausted || L->arena.cap >= ARENA_MAX)
			return msg;
		size_t ncap = L->arena.cap * 4;
		uint8_t *nb = malloc(ncap < ARENA_MAX ? ncap : ARENA_MAX);
		if (!nb)
			return NULL;
		free(L->arena.buf);
		L->arena.buf = nb;
		L->arena.cap = ncap < ARENA_MAX ? ncap : ARENA_MAX;
	}
}

/* Interns a process identity; "" and NULL -> DEPMAP_NONE. Strings are keyed
 * by a 64-bit hash plus a full compare on the candidate. */
static int intern(struct loader *L, const char *s, uint32_t *out)
{
	*out = DEPMAP_NONE;
	if (!s || !*s)
		return 0;
	struct depmap *m = L->m;
	uint64_t h = hash_bytes(s, strlen(s));
	for (;;) {
		uint32_t v = kidx_get(&L->strings, &h);
		if (v == DEPMAP_NONE)
			break;
		if (!strcmp(m->strings[v], s)) {
			*out = v;
			return 0;
		}
		h++; /* collision of different strings: probe the next hash value */
	}
	int rc = array_grow((void **)&m->strings, &L->strings_cap, m->nstrings + 1, sizeof(char *));
	if (rc)
		return rc;
	char *copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	m->strings[m->nstrings] = copy;
	rc = kidx_put(&L->strings, &h, m->nstrings, NULL);
	if (rc) {
		free(copy);
		return rc;
	}
	*out = m->nstrings++;
	return 0;
}

static bool is_self_traffic(const char *ident, const char *name)
{
	const char *s = ident && *ident ? ident : name;
	if (!s)
		return false;
	const char *base = strrchr(s, '/');
	base = base ? base + 1 : s;
	/* comm is cut at 15 characters: "cairn-collecto" */
	return !strcmp(base, "cairn-agent") || !strncmp(base, "cairn-collecto", 14);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(((const struct depmap_node *)a)->id_raw, ((const struct depmap_node *)b)->id_raw,
		      32);
}

uint32_t depmap_host_index(const struct depmap *m, const uint8_t id[static 32])
{
	size_t lo = 0, hi = m->nhosts;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(m->nodes[mid].id_raw, id, 32);
		if (!c)
			return (uint32_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return DEPMAP_NONE;
}

static int add_host_node(struct loader *L, const uint8_t id[32], const char *name)
{
	struct depmap *m = L->m;
	int rc = array_grow((void **)&m->nodes, &L->nodes_cap, m->nnodes + 1, sizeof(*m->nodes));
	if (rc)
		return rc;
	struct depmap_node *n = &m->nodes[m->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = CAIRN__STORE__NODE_KIND__HOST;
	memcpy(n->id_raw, id, 32);
	n->id = malloc(65);
	if (!n->id)
		return -ENOMEM;
	hex_encode(n->id, id, 32);
	n->name = strdup(name && *name ? name : n->id);
	if (!n->name) {
		free(n->id);
		return -ENOMEM;
	}
	m->nnodes++;
	return 0;
}

/* Hosts: every agent with facts (DB hosts) or accepted (DB agents). Names
 * come from the agent record (hostname as last reported), else from the
 * HostFacts. */
static int load_hosts(struct loader *L)
{
	struct depmap *m = L->m;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(L->txn, L->env->dbi[STORE_AGENTS], &c);
	if (rc)
		return errbuf_set(L->eb, rc, "reading DB agents: %s", db_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32) {
			m->stats.malformed++;
			continue;
		}
		Cairn__Store__Agent *a = arena_unpack(L, &cairn__store__agent__descriptor, &v);
		if (!a) {
			m->stats.malformed++;
			continue;
		}
		if (a->state == CAIRN__STORE__ENROLL_STATE__REJECTED ||
		    a->state == CAIRN__STORE__ENROLL_STATE__PENDING)
			continue;
		if ((rc = add_host_node(L, k.mv_data, a->hostname)))
			goto out;
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	mdb_cursor_close(c);
	c = NULL;
	sort_n(m->nodes, m->nnodes, sizeof(*m->nodes), cmp_id);
	m->nhosts = m->nnodes;

	/* Hosts with facts but no usable agent record (e.g. stores built by
	 * tests through ingest_apply), and names for agents without one. */
	size_t known = m->nhosts;
	rc = mdb_cursor_open(L->txn, L->env->dbi[STORE_HOSTS], &c);
	if (rc)
		return errbuf_set(L->eb, rc, "reading DB hosts: %s", db_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32) {
			m->stats.malformed++;
			continue;
		}
		m->nhosts = (uint32_t)known;
		uint32_t idx = depmap_host_index(m, k.mv_data);
		m->nhosts = m->nnodes;
		bool unnamed = idx != DEPMAP_NONE && !strcmp(m->nodes[idx].name, m->nodes[idx].id);
		if (idx != DEPMAP_NONE && !unnamed)
			continue;
		Cairn__Store__HostFacts *hf = arena_unpack(L, &cairn__store__host_facts__descriptor, &v);
		const char *name = hf && hf->info ? hf->info->hostname : NULL;
		if (!hf)
			m->stats.malformed++;
		if (idx == DEPMAP_NONE) {
			if ((rc = add_host_node(L, k.mv_data, name)))
				goto out;
		} else if (name && *name) {
			char *nn = strdup(name);
			if (!nn) {
				rc = -ENOMEM;
				goto out;
			}
			free(m->nodes[idx].name);
			m->nodes[idx].name = nn;
		}
	}
	if (rc != MDB_NOTFOUND)
		goto out;
	rc = 0;
	sort_n(m->nodes, m->nnodes, sizeof(*m->nodes), cmp_id);
	m->nhosts = m->nnodes;
out:
	if (c)
		mdb_cursor_close(c);
	if (rc && rc != -ENOMEM)
		errbuf_set(L->eb, rc, "reading host list: %s", db_strerror(rc));
	return rc;
}

/* Address claims, in key order (address, then agent). Loopback claims and
 * unspecified addresses are dropped: every host has them. */
static int load_claims(struct loader *L)
{
	struct depmap *m = L->m;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc = mdb_cursor_open(L->txn, L->env->dbi[STORE_ADDRS], &c);
	if (rc)
		return errbuf_set(L->eb, rc, "reading DB addrs: %s", db_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 48) {
			m->stats.malformed++;
			continue;
		}
		const uint8_t *a = k.mv_data;
		if (addr_is_loopback(a) || addr_is_unspecified(a))
			continue;
		uint32_t h = depmap_host_index(m, a + 16);
		if (h == DEPMAP_NONE)
			continue; /* a host we do not list (rejected agent) */
		if ((rc = array_grow((void **)&L->claims, &L->claims_cap, L->nclaims + 1, sizeof(*L->claims))))
			goto out;
		memcpy(L->claims[L->nclaims].addr, a, 16);
		L->claims[L->nclaims].host = h;
		L->nclaims++;
	}
	if (rc != MDB_NOTFOUND) {
		errbuf_set(L->eb, rc, "reading DB addrs: %s", db_strerror(rc));
		goto out;
	}
	rc = 0;
	/* CSR host -> claims */
	L->host_claim_start = calloc((size_t)m->nhosts + 1, sizeof(uint32_t));
	L->host_claims = malloc((L->nclaims + 1) * sizeof(uint32_t));
	if (!L->host_claim_start || !L->host_claims) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < L->nclaims; i++)
		L->host_claim_start[L->claims[i].host + 1]++;
	for (uint32_t h = 0; h < m->nhosts; h++)
		L->host_claim_start[h + 1] += L->host_claim_start[h];
	uint32_t *fill = calloc((size_t)m->nhosts + 1, sizeof(uint32_t));
	if (!fill) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < L->nclaims; i++) {
		uint32_t h = L->claims[i].host;
		L->host_claims[L->host_claim_start[h] + fill[h]++] = (uint32_t)i;
	}
	free(fill);
out:
	mdb_cursor_close(c);
	return rc;
}

/* Claims of address a: [*lo, *hi). */
static void claims_range(const struct loader *L, const uint8_t a[16], size_t *lo_out,
			 size_t *hi_out)
{
	size_t lo = 0, hi = L->nclaims;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (memcmp(L->claims[mid].addr, a, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t end = lo;
	while (end < L->nclaims && !memcmp(L->claims[end].addr, a, 16))
		end++;
	*lo_out = lo;
	*hi_out = end;
}

static bool host_claims_addr(const struct loader *L, uint32_t host, const uint8_t a[16])
{
	for (uint32_t i = L->host_claim_start[host]; i < L->host_claim_start[host + 1]; i++)
		if (!memcmp(L->claims[L->host_claims[i]].addr, a, 16))
			return true;
	return false;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

static void fedge_add(struct fedge *into, const struct fedge *f)
{
	into->samples += f->samples;
	into->bytes += f->bytes;
	into->connections += f->connections;
	into->short_lived += f->short_lived;
	into->datagrams += f->datagrams;
	into->bytes_known = into->bytes_known || f->bytes_known;
	if (f->first_ms && (!into->first_ms || f->first_ms < into->first_ms))
		into->first_ms = f->first_ms;
	if (f->last_ms > into->last_ms)
		into->last_ms = f->last_ms;
}

/* The collapsed key of an edge (no padding: hashed and compared bytewise). */
struct ekey {
	uint32_t host, ident, peer_ident;
	uint16_t port;
	uint8_t dir, proto;
	uint8_t addr[16];
};

static void ekey_make(struct ekey *k, const struct fedge *f)
{
	memset(k, 0, sizeof(*k));
	k->host = f->host;
	k->ident = f->ident;
	k->peer_ident = f->peer_ident;
	k->port = f->port;
	k->dir = f->dir;
	k->proto = f->proto;
	memcpy(k->addr, f->addr, 16);
}

struct edge_ctx {
	struct loader *L;
	uint32_t host;
	int64_t since_ms;
};

/* One stored edge record (a day's or a week's) of host c->host. */
static int load_edge(void *ctx, const MDB_val *k, const MDB_val *v)
{
	const struct edge_ctx *c = ctx;
	struct loader *L = c->L;
	struct depmap *m = L->m;
	int64_t since_ms = c->since_ms;
	int rc;
	m->stats.edge_records++;
	if (k->mv_size != 32 + 4 + 8) {
		m->stats.malformed++;
		return 0;
	}
	uint32_t cur_host = c->host;
	struct read_edge_view ev;
	if (!read_edge_view(v, &ev) || !ev.has_edge) {
		m->stats.malformed++;
		return 0;
	}
	if (since_ms > 0 && ev.last_seen_ms && ev.last_seen_ms < since_ms)
		return 0;
	/* the strings NUL-terminated, in one scratch buffer */
	const struct read_str *vs[] = { &ev.identity, &ev.process_name, &ev.peer_identity,
					&ev.peer_process_name, &ev.remote_address };
	size_t need = 0;
	for (size_t i = 0; i < ARRAY_SIZE(vs); i++)
		need += vs[i]->n + 1;
	if ((rc = array_grow((void **)&L->scratch, &L->scratch_cap, need, 1)))
		return rc;
	const char *str[ARRAY_SIZE(vs)];
	char *q = L->scratch;
	for (size_t i = 0; i < ARRAY_SIZE(vs); i++) {
		if (vs[i]->n)
			memcpy(q, vs[i]->p, vs[i]->n);
		q[vs[i]->n] = '\0';
		str[i] = q;
		q += vs[i]->n + 1;
	}
	struct {
		const char *identity, *process_name, *peer_identity, *peer_process_name,
			*remote_address;
		uint32_t direction, protocol, local_port, remote_port;
	} edge = { str[0], str[1], str[2], str[3], str[4], ev.direction, ev.protocol,
		   ev.local_port, ev.remote_port }, *e = &edge;
	m->stats.edges_in_period++;
	/* an unattributed socket on the collector's port is cairn too */
	bool anonymous = !*e->identity && !*e->process_name;
	uint32_t port = e->direction == CAIRN__DIRECTION__INBOUND ? e->local_port
								 : e->remote_port;
	bool self = is_self_traffic(e->identity, e->process_name) ||
		    (anonymous && port == COLLECTOR_DEFAULT_PORT) ||
		    (e->direction == CAIRN__DIRECTION__LOCAL &&
		     is_self_traffic(e->peer_identity, e->peer_process_name));
	if (self)
		m->stats.self_traffic++;
	/* The collector's inbound edges are kept out of the map but still
	 * resolve the agents' edges to it: a client socket that lost its
	 * owner is then known as cairn's by its server (emit()). */
	if (self && e->direction != CAIRN__DIRECTION__INBOUND)
		return 0;
	struct fedge f;
	memset(&f, 0, sizeof(f));
	f.host = cur_host;
	f.self = self;
	f.dir = (uint8_t)e->direction;
	f.proto = (uint8_t)e->protocol;
	switch (e->direction) {
	case CAIRN__DIRECTION__OUTBOUND:
	case CAIRN__DIRECTION__LOCAL: /* oriented client -> server */
		f.port = (uint16_t)e->remote_port;
		break;
	case CAIRN__DIRECTION__INBOUND:
		f.port = (uint16_t)e->local_port;
		break;
	default:
		m->stats.malformed++;
		return 0;
	}
	if (e->direction != CAIRN__DIRECTION__LOCAL &&
	    addr_parse(e->remote_address ? e->remote_address : "", f.addr)) {
		m->stats.malformed++;
		return 0;
	}
	if ((rc = intern(L, *e->identity ? e->identity : e->process_name, &f.ident)))
		return rc;
	if (e->direction == CAIRN__DIRECTION__LOCAL &&
	    (rc = intern(L, *e->peer_identity ? e->peer_identity : e->peer_process_name,
			 &f.peer_ident)))
		return rc;
	if (e->direction != CAIRN__DIRECTION__LOCAL)
		f.peer_ident = DEPMAP_NONE;
	f.samples = (uint32_t)ev.samples_seen;
	f.first_ms = ev.first_seen_ms;
	f.last_ms = ev.last_seen_ms;
	f.bytes = ev.bytes_sent + ev.bytes_received;
	f.connections = ev.connections_opened;
	f.short_lived = ev.short_lived;
	f.datagrams = ev.datagrams_sent + ev.datagrams_received;
	f.bytes_known = !ev.bytes_unknown;
	struct ekey ek;
	ekey_make(&ek, &f);
	uint32_t existing;
	if ((rc = kidx_put(&L->emerge, &ek, (uint32_t)L->nedges, &existing)))
		return rc;
	if (existing != L->nedges) {
		fedge_add(&L->edges[existing], &f);
		return 0;
	}
	if ((rc = array_grow((void **)&L->edges, &L->edges_cap, L->nedges + 1, sizeof(*L->edges))))
		return rc;
	L->edges[L->nedges++] = f;
	return 0;
}

static int load_host_edge(void *ctx, uint32_t host, const MDB_val *k, const MDB_val *v)
{
	struct edge_ctx *c = ctx;
	c->host = host;
	return load_edge(c, k, v);
}

/* The edge records of every listed host for the period (read_edge_walk:
 * whole weeks from their rollups, days for the rest). */
static int load_edges(struct loader *L, int64_t since_ms, bool days_only)
{
	struct depmap *m = L->m;
	struct read_edge_walk w;
	int rc = read_edge_walk_open(&w, L->txn, L->env, !days_only);
	if (rc)
		return errbuf_set(L->eb, rc, "reading DB edges: %s", db_strerror(rc));
	struct edge_ctx c = { .L = L, .since_ms = since_ms };
	/* the ids apart: load_edge adds nodes (and may move m->nodes) while
	 * the walk reads ahead */
	uint8_t (*ids)[32] = malloc((m->nhosts ? m->nhosts : 1) * sizeof(*ids));
	if (!ids) {
		read_edge_walk_close(&w);
		return errbuf_set(L->eb, -ENOMEM, "reading DB edges: out of memory");
	}
	for (size_t h = 0; h < m->nhosts; h++)
		memcpy(ids[h], m->nodes[h].id_raw, 32);
	rc = read_edge_walk_hosts(&w, (const uint8_t (*)[32])ids, m->nhosts, since_ms,
				  load_host_edge, &c);
	free(ids);
	read_edge_walk_close(&w);
	if (rc > 0)
		errbuf_set(L->eb, rc, "reading DB edges: %s", db_strerror(rc));
	return rc;
}

struct inkey {
	uint32_t host;
	uint16_t port;
	uint8_t proto;
	uint8_t pad;
	uint8_t addr[16];
};

struct lkey {
	uint32_t host;
	uint16_t port;
	uint8_t proto;
	uint8_t pad;
};

static void inkey_make(struct inkey *k, uint32_t host, uint8_t proto, uint16_t port,
		       const uint8_t addr[16])
{
	memset(k, 0, sizeof(*k));
	k->host = host;
	k->port = port;
	k->proto = proto;
	memcpy(k->addr, addr, 16);
}

static void lkey_make(struct lkey *k, uint32_t host, uint8_t proto, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	k->host = host;
	k->port = port;
	k->proto = proto;
}

static int load_listeners(struct loader *L)
{
	struct depmap *m = L->m;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc = kidx_init(&L->listeners, sizeof(struct lkey), (size_t)m->nhosts * 8 + 16);
	if (rc)
		return rc;
	rc = mdb_cursor_open(L->txn, L->env->dbi[STORE_LISTENERS], &c);
	if (rc)
		return errbuf_set(L->eb, rc, "reading DB listeners: %s", db_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32) {
			m->stats.malformed++;
			continue;
		}
		uint32_t h = depmap_host_index(m, k.mv_data);
		if (h == DEPMAP_NONE)
			continue;
		Cairn__ListenerSet *ls = arena_unpack(L, &cairn__listener_set__descriptor, &v);
		if (!ls) {
			m->stats.malformed++;
			continue;
		}
		for (size_t i = 0; i < ls->n_listeners; i++) {
			const Cairn__Listener *l = ls->listeners[i];
			uint32_t ident;
			if ((rc = intern(L, *l->identity ? l->identity : l->process_name, &ident)))
				goto out;
			if (ident == DEPMAP_NONE)
				continue;
			struct lkey lk;
			lkey_make(&lk, h, (uint8_t)l->protocol, (uint16_t)l->port);
			if ((rc = kidx_put(&L->listeners, &lk, ident, NULL)))
				goto out;
		}
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		errbuf_set(L->eb, rc, "reading DB listeners: %s", db_strerror(rc));
out:
	mdb_cursor_close(c);
	return rc;
}

/* Of two inbound edges with one key, the one the client side joins: one
 * that names its server process, then the busier, then the name first in
 * byte order (not the one read first: days and weeks read in other orders). */
static bool inbound_better(const struct loader *L, const struct fedge *a, const struct fedge *b)
{
	if (b->ident == DEPMAP_NONE)
		return a->ident != DEPMAP_NONE;
	if (a->ident == DEPMAP_NONE)
		return false;
	if (a->samples != b->samples)
		return a->samples > b->samples;
	return strcmp(L->m->strings[a->ident], L->m->strings[b->ident]) < 0;
}

static int index_inbound(struct loader *L)
{
	int rc = kidx_init(&L->inbound, sizeof(struct inkey), L->nedges / 2 + 16);
	if (rc)
		return rc;
	for (size_t i = 0; i < L->nedges; i++) {
		const struct fedge *f = &L->edges[i];
		if (f->dir != CAIRN__DIRECTION__INBOUND)
			continue;
		struct inkey k;
		inkey_make(&k, f->host, f->proto, f->port, f->addr);
		uint32_t have;
		if ((rc = kidx_put(&L->inbound, &k, (uint32_t)i, &have)))
			return rc;
		/* Several inbound edges from one client address to one port (a
		 * server's processes, or connections whose server process the
		 * agent could not name): the client side joins the one that names
		 * its server process. */
		if (have != (uint32_t)i && f->ident != DEPMAP_NONE &&
		    inbound_better(L, f, &L->edges[have]))
			L->inbound.vals[kidx_find(&L->inbound, &k)] = (uint32_t)i;
		if (f->ident != DEPMAP_NONE) {
			struct lkey lk;
			lkey_make(&lk, f->host, f->proto, f->port);
			if ((rc = kidx_put(&L->listeners, &lk, f->ident, NULL)))
				return rc;
		}
	}
	return 0;
}

/* The server host's inbound edge for a client host's connection: on
 * (server, proto, port) from any of the client's addresses. */
static uint32_t find_inbound(const struct loader *L, uint32_t server, uint8_t proto, uint16_t port,
			     uint32_t client)
{
	for (uint32_t i = L->host_claim_start[client]; i < L->host_claim_start[client + 1]; i++) {
		struct inkey k;
		inkey_make(&k, server, proto, port, L->claims[L->host_claims[i]].addr);
		uint32_t e = kidx_get(&L->inbound, &k);
		if (e != DEPMAP_NONE)
			return e;
	}
	return DEPMAP_NONE;
}

static uint32_t listener_ident(const struct loader *L, uint32_t host, uint8_t proto, uint16_t port)
{
	struct lkey lk;
	lkey_make(&lk, host, proto, port);
	return kidx_get(&L->listeners, &lk);
}

static int ext_node(struct loader *L, const uint8_t addr[16], Cairn__Store__NodeKind kind,
		    uint32_t *out)
{
	struct depmap *m = L->m;
	uint8_t key[17];
	memcpy(key, addr, 16);
	key[16] = (uint8_t)kind;
	uint32_t existing;
	int rc = kidx_put(&L->ext, key, m->nnodes, &existing);
	if (rc)
		return rc;
	if (existing != m->nnodes) {
		*out = existing;
		return 0;
	}
	if ((rc = array_grow((void **)&m->nodes, &L->nodes_cap, m->nnodes + 1, sizeof(*m->nodes))))
		return rc;
	struct depmap_node *n = &m->nodes[m->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	memcpy(n->addr, addr, 16);
	char text[INET6_ADDRSTRLEN];
	addr_format(addr, text, sizeof(text));
	size_t len = strlen(text) + 8;
	n->id = malloc(len);
	if (!n->id)
		return -ENOMEM;
	if (kind == CAIRN__STORE__NODE_KIND__CLIENTS)
		snprintf(n->id, len, "cli:%s/%u", text, addr_is_v4(addr) ? 24 : 64);
	else
		snprintf(n->id, len, "%s:%s",
			 kind == CAIRN__STORE__NODE_KIND__AMBIGUOUS ? "amb" : "ext", text);
	*out = m->nnodes++;
	return 0;
}

/* The subnet an outside client is grouped by: /24 for IPv4, /64 for IPv6. */
static void client_subnet(const uint8_t a[static 16], uint8_t out[static 16])
{
	memcpy(out, a, 16);
	if (addr_is_v4(a))
		out[15] = 0;
	else
		memset(out + 8, 0, 8);
}

/* The CLIENTS node of addr's subnet, counting addr once. */
static int client_node(struct loader *L, const uint8_t addr[16], uint32_t *out)
{
	uint8_t net[16];
	client_subnet(addr, net);
	int rc = ext_node(L, net, CAIRN__STORE__NODE_KIND__CLIENTS, out);
	if (rc)
		return rc;
	size_t before = L->client_addrs.n;
	if ((rc = kidx_put(&L->client_addrs, addr, 0, NULL)))
		return rc;
	if (L->client_addrs.n != before)
		L->m->nodes[*out].clients++;
	return 0;
}

static int emit(struct loader *L, const struct depmap_edge *e)
{
	/* cairn's own traffic whose client socket has no owner any more (a
	 * connection the agent already closed, still in FIN_WAIT or being
	 * retransmitted after a link cut) is known by its server. */
	if (e->to_ident != DEPMAP_NONE && is_self_traffic(L->m->strings[e->to_ident], NULL)) {
		L->m->stats.self_traffic++;
		return 0;
	}
	int rc = array_grow((void **)&L->out, &L->out_cap, L->nout + 1, sizeof(*L->out));
	if (rc)
		return rc;
	L->out[L->nout++] = *e;
	return 0;
}

/* A loopback pair between a program and itself (a process's threads, or
 * workers of one service talking to their own listener) is no dependency. */
static int emit_local(struct loader *L, const struct depmap_edge *e)
{
	if (e->from_ident != DEPMAP_NONE && e->from_ident == e->to_ident) {
		L->m->stats.own_loopback++;
		return 0;
	}
	return emit(L, e);
}

static void edge_from_fedge(struct depmap_edge *d, const struct fedge *f)
{
	memset(d, 0, sizeof(*d));
	d->from = f->host;
	d->from_ident = f->ident;
	d->port = f->port;
	d->proto = f->proto;
	d->protos = (uint8_t)(1u << (f->proto & 7));
	d->samples = f->samples;
	d->first_ms = f->first_ms;
	d->last_ms = f->last_ms;
	d->bytes = f->bytes;
	d->connections = f->connections;
	d->short_lived = f->short_lived;
	d->datagrams = f->datagrams;
	d->bytes_known = f->bytes_known;
}

static int resolve_outbound(struct loader *L, struct fedge *f)
{
	struct depmap *m = L->m;
	struct depmap_edge d;
	edge_from_fedge(&d, f);
	if (addr_is_loopback(f->addr) || host_claims_addr(L, f->host, f->addr)) {
		d.to = f->host;
		d.to_ident = listener_ident(L, f->host, f->proto, f->port);
		d.local = true;
		d.confirmed = d.to_ident != DEPMAP_NONE;
		return emit_local(L, &d);
	}
	size_t lo, hi;
	claims_range(L, f->addr, &lo, &hi);
	uint32_t server = DEPMAP_NONE, in = DEPMAP_NONE;
	if (hi - lo == 1) {
		server = L->claims[lo].host;
		in = find_inbound(L, server, f->proto, f->port, f->host);
	} else if (hi - lo > 1) {
		/* Cross-confirmation: the one claimant that saw us connect. */
		uint32_t nconf = 0, nlisten = 0, listening = DEPMAP_NONE;
		for (size_t i = lo; i < hi; i++) {
			uint32_t cand = L->claims[i].host;
			uint32_t e = find_inbound(L, cand, f->proto, f->port, f->host);
			if (e != DEPMAP_NONE) {
				nconf++;
				server = cand;
				in = e;
			}
			if (listener_ident(L, cand, f->proto, f->port) != DEPMAP_NONE) {
				nlisten++;
				listening = cand;
			}
		}
		if (nconf != 1) {
			server = DEPMAP_NONE;
			in = DEPMAP_NONE;
			if (nconf == 0 && nlisten == 1)
				server = listening;
		}
	}
	if (server == DEPMAP_NONE) {
		bool amb = hi - lo > 1;
		Cairn__Store__NodeKind kind = amb ? CAIRN__STORE__NODE_KIND__AMBIGUOUS
						  : CAIRN__STORE__NODE_KIND__EXTERNAL;
		int rc = ext_node(L, f->addr, kind, &d.to);
		if (rc)
			return rc;
		if (amb)
			m->stats.ambiguous++;
		else
			m->stats.unresolved++;
		return emit(L, &d);
	}
	d.to = server;
	if (in != DEPMAP_NONE) {
		d.confirmed = true;
		d.to_ident = L->edges[in].ident;
		if (d.to_ident == DEPMAP_NONE)
			d.to_ident = listener_ident(L, server, f->proto, f->port);
		L->edges[in].matched = true;
	} else {
		d.to_ident = listener_ident(L, server, f->proto, f->port);
	}
	return emit(L, &d);
}

/* An inbound edge nobody claimed from the client side: add it when the
 * client address belongs to exactly one other agent host. */
static int resolve_inbound_only(struct loader *L, const struct fedge *f)
{
	if (f->matched || f->self || addr_is_loopback(f->addr) ||
	    host_claims_addr(L, f->host, f->addr))
		return 0;
	/* another inbound edge of the same client address and port was joined
	 * by the client's side: this one is the same dependency */
	struct inkey k;
	inkey_make(&k, f->host, f->proto, f->port, f->addr);
	uint32_t joined = kidx_get(&L->inbound, &k);
	if (joined != DEPMAP_NONE && L->edges[joined].matched)
		return 0;
	size_t lo, hi;
	claims_range(L, f->addr, &lo, &hi);
	struct depmap_edge d;
	if (hi == lo && !addr_is_unspecified(f->addr)) {
		/* an outside client: a user, a partner's system, a load balancer
		 * without an agent */
		edge_from_fedge(&d, f);
		int rc = client_node(L, f->addr, &d.from);
		if (rc)
			return rc;
		d.from_ident = DEPMAP_NONE;
		d.to = f->host;
		d.to_ident = f->ident;
		L->m->stats.outside_clients++;
		return emit(L, &d);
	}
	if (hi - lo != 1 || L->claims[lo].host == f->host)
		return 0;
	edge_from_fedge(&d, f);
	d.from = L->claims[lo].host;
	d.from_ident = DEPMAP_NONE;
	d.to = f->host;
	d.to_ident = f->ident;
	L->m->stats.inbound_only++;
	return emit(L, &d);
}

/* Processes compare by name (rank: position of each string in byte order;
 * unknown last), so that the map's order does not depend on the order the
 * records were read in (days or week rollups). */
static uint32_t ident_rank(const uint32_t *rank, uint32_t ident)
{
	return ident == DEPMAP_NONE ? UINT32_MAX : rank[ident];
}

static int cmp_dedge(const void *pa, const void *pb, void *ctx)
{
	const struct depmap_edge *a = pa, *b = pb;
	const uint32_t *rank = ctx;
	int c;
	if ((c = cmp_u32(a->from, b->from)) || (c = cmp_u32(a->to, b->to)) ||
	    (c = cmp_u32(a->port, b->port)) || (c = cmp_u32(a->proto, b->proto)) ||
	    (c = cmp_u32(ident_rank(rank, a->from_ident), ident_rank(rank, b->from_ident))))
		return c;
	return cmp_u32(ident_rank(rank, a->to_ident), ident_rank(rank, b->to_ident));
}

static int cmp_string_at(const void *pa, const void *pb, void *ctx)
{
	char *const *strings = ctx;
	return strcmp(strings[*(const uint32_t *)pa], strings[*(const uint32_t *)pb]);
}

/* rank[i] = position of strings[i] in byte order (malloc'd; NULL: ENOMEM). */
static uint32_t *string_ranks(const struct depmap *m)
{
	uint32_t *order = malloc(((size_t)m->nstrings + 1) * sizeof(uint32_t));
	uint32_t *rank = malloc(((size_t)m->nstrings + 1) * sizeof(uint32_t));
	if (order && rank) {
		for (uint32_t i = 0; i < m->nstrings; i++)
			order[i] = i;
		if (m->nstrings)
			qsort_r(order, m->nstrings, sizeof(uint32_t), cmp_string_at, m->strings);
		for (uint32_t i = 0; i < m->nstrings; i++)
			rank[order[i]] = i;
	} else {
		free(rank);
		rank = NULL;
	}
	free(order);
	return rank;
}

/* The loaded edges' order: (host, direction, protocol, port, address,
 * process, peer process), processes by name. */
static int cmp_fedge(const void *pa, const void *pb, void *ctx)
{
	const struct fedge *a = pa, *b = pb;
	const uint32_t *rank = ctx;
	int c;
	if ((c = cmp_u32(a->host, b->host)) || (c = cmp_u32(a->dir, b->dir)) ||
	    (c = cmp_u32(a->proto, b->proto)) || (c = cmp_u32(a->port, b->port)) ||
	    (c = memcmp(a->addr, b->addr, 16)) ||
	    (c = cmp_u32(ident_rank(rank, a->ident), ident_rank(rank, b->ident))))
		return c;
	return cmp_u32(ident_rank(rank, a->peer_ident), ident_rank(rank, b->peer_ident));
}

static void dedge_add(struct depmap_edge *into, const struct depmap_edge *e)
{
	into->protos |= e->protos;
	into->samples += e->samples;
	into->bytes += e->bytes;
	into->connections += e->connections;
	into->short_lived += e->short_lived;
	into->datagrams += e->datagrams;
	into->bytes_known = into->bytes_known || e->bytes_known;
	into->confirmed = into->confirmed || e->confirmed;
	if (e->first_ms && (!into->first_ms || e->first_ms < into->first_ms))
		into->first_ms = e->first_ms;
	if (e->last_ms > into->last_ms)
		into->last_ms = e->last_ms;
}

static int build_levels(struct loader *L)
{
	struct depmap *m = L->m;
	uint32_t *rank = L->rank;
	if (L->nout)
		qsort_r(L->out, L->nout, sizeof(*L->out), cmp_dedge, rank);
	/* service level: same endpoints, port and processes merged (a server
	 * reached through several of its addresses) */
	size_t w = 0;
	for (size_t i = 0; i < L->nout; i++) {
		if (w && !cmp_dedge(&L->out[w - 1], &L->out[i], rank))
			dedge_add(&L->out[w - 1], &L->out[i]);
		else
			L->out[w++] = L->out[i];
	}
	m->svc = L->out;
	m->nsvc = w;
	L->out = NULL;

	/* host level: one edge per (from, to) with its ports; svc is sorted by
	 * (from, to, port) already */
	size_t nh = 0;
	for (size_t i = 0; i < m->nsvc; i++)
		if (!m->svc[i].local && (i == 0 || m->svc[i].from != m->svc[i - 1].from ||
					 m->svc[i].to != m->svc[i - 1].to || m->svc[i - 1].local))
			nh++;
	m->hostl = calloc(nh ? nh : 1, sizeof(*m->hostl));
	if (!m->hostl)
		return -ENOMEM;
	size_t h = 0;
	uint64_t best = 0;
	for (size_t i = 0; i < m->nsvc; i++) {
		const struct depmap_edge *s = &m->svc[i];
		if (s->local)
			continue;
		struct depmap_edge *cur = h ? &m->hostl[h - 1] : NULL;
		if (!cur || cur->from != s->from || cur->to != s->to) {
			cur = &m->hostl[h++];
			*cur = *s;
			cur->from_ident = cur->to_ident = DEPMAP_NONE;
			cur->ports = NULL;
			cur->nports = 0;
			best = 0;
		} else {
			dedge_add(cur, s);
		}
		if (!cur->nports || cur->ports[cur->nports - 1] != s->port) {
			uint16_t *np = realloc(cur->ports, (cur->nports + 1) * sizeof(uint16_t));
			if (!np)
				return -ENOMEM;
			cur->ports = np;
			cur->ports[cur->nports++] = s->port;
		}
		if (s->samples > best) {
			best = s->samples;
			cur->port = s->port;
			cur->proto = s->proto;
		}
	}
	m->nhostl = h;
	return 0;
}

/* External nodes are named after the busiest well-known port they serve. */
static int name_external(struct depmap *m)
{
	uint64_t *best = calloc(m->nnodes ? m->nnodes : 1, sizeof(uint64_t));
	uint16_t *port = calloc(m->nnodes ? m->nnodes : 1, sizeof(uint16_t));
	if (!best || !port) {
		free(best);
		free(port);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nsvc; i++) {
		const struct depmap_edge *e = &m->svc[i];
		if (e->to < m->nhosts)
			continue;
		uint64_t score = e->samples + 1 + (depmap_port_label(e->port) ? (1ull << 40) : 0);
		if (score > best[e->to] || (score == best[e->to] && e->port < port[e->to])) {
			best[e->to] = score;
			port[e->to] = e->port;
		}
	}
	int rc = 0;
	for (uint32_t n = m->nhosts; n < m->nnodes; n++) {
		char text[INET6_ADDRSTRLEN], name[128];
		addr_format(m->nodes[n].addr, text, sizeof(text));
		const char *label = depmap_port_label(port[n]);
		if (m->nodes[n].kind == CAIRN__STORE__NODE_KIND__CLIENTS)
			snprintf(name, sizeof(name), "outside clients %s/%u (%u address%s)", text,
				 addr_is_v4(m->nodes[n].addr) ? 24 : 64, m->nodes[n].clients,
				 m->nodes[n].clients == 1 ? "" : "es");
		else if (m->nodes[n].kind == CAIRN__STORE__NODE_KIND__AMBIGUOUS)
			snprintf(name, sizeof(name), "%s %s (ambiguous)", label ? label : "port",
				 text);
		else if (label)
			snprintf(name, sizeof(name), "%s %s", label, text);
		else
			snprintf(name, sizeof(name), "%s:%u", text, port[n]);
		if (!(m->nodes[n].name = strdup(name))) {
			rc = -ENOMEM;
			break;
		}
	}
	free(best);
	free(port);
	return rc;
}

static void loader_free(struct loader *L)
{
	free(L->arena.buf);
	kidx_free(&L->strings);
	kidx_free(&L->inbound);
	kidx_free(&L->listeners);
	kidx_free(&L->ext);
	kidx_free(&L->client_addrs);
	kidx_free(&L->emerge);
	free(L->rank);
	free(L->scratch);
	free(L->claims);
	free(L->host_claims);
	free(L->host_claim_start);
	free(L->edges);
	free(L->out);
}

int depmap_build(MDB_txn *txn, const struct db_env *env, const struct depmap_opts *opts,
		 struct depmap **out, struct errbuf *eb)
{
	*out = NULL;
	struct depmap *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->since_ms = opts ? opts->since_ms : 0;
	struct loader L;
	memset(&L, 0, sizeof(L));
	L.txn = txn;
	L.env = env;
	L.m = m;
	L.eb = eb;
	L.arena.cap = 1u << 20;
	L.arena.buf = malloc(L.arena.cap);
	L.alloc.alloc = arena_alloc;
	L.alloc.free = arena_free;
	L.alloc.allocator_data = &L.arena;
	int rc = -ENOMEM;
	if (!L.arena.buf || kidx_init(&L.strings, sizeof(uint64_t), 1024) ||
	    kidx_init(&L.ext, 17, 256) || kidx_init(&L.client_addrs, 16, 256) ||
	    kidx_init(&L.emerge, sizeof(struct ekey), 1u << 16))
		goto fail;
	uint64_t t0 = time_mono_us();
	if ((rc = load_hosts(&L)) || (rc = load_claims(&L)) || (rc = load_edges(&L, m->since_ms, opts && opts->days_only)) ||
	    (rc = load_listeners(&L)))
		goto fail;
	kidx_free(&L.emerge);
	/* the edges in one order whatever order the records were read in */
	if (!(L.rank = string_ranks(m))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (L.nedges)
		qsort_r(L.edges, L.nedges, sizeof(*L.edges), cmp_fedge, L.rank);
	if ((rc = index_inbound(&L)))
		goto fail;
	uint64_t t1 = time_mono_us();
	m->stats.load_us = t1 - t0;
	for (size_t i = 0; i < L.nedges; i++) {
		struct fedge *f = &L.edges[i];
		if (f->dir == CAIRN__DIRECTION__OUTBOUND) {
			if ((rc = resolve_outbound(&L, f)))
				goto fail;
		} else if (f->dir == CAIRN__DIRECTION__LOCAL) {
			struct depmap_edge d;
			edge_from_fedge(&d, f);
			d.to = f->host;
			d.to_ident = f->peer_ident;
			d.local = true;
			d.confirmed = true;
			if ((rc = emit_local(&L, &d)))
				goto fail;
		}
	}
	for (size_t i = 0; i < L.nedges; i++)
		if (L.edges[i].dir == CAIRN__DIRECTION__INBOUND &&
		    (rc = resolve_inbound_only(&L, &L.edges[i])))
			goto fail;
	if ((rc = build_levels(&L)) || (rc = name_external(m)))
		goto fail;
	m->stats.resolve_us = time_mono_us() - t1;
	if (m->stats.malformed)
		log_warn("dependency map: %llu stored values or addresses did not decode and were "
			 "skipped (a newer agent, or damage: 'cairn-collector hosts' shows who reports)",
			 (unsigned long long)m->stats.malformed);
	loader_free(&L);
	*out = m;
	return 0;
fail:
	if (rc == -ENOMEM)
		errbuf_set(eb, rc, "building the dependency map: out of memory");
	loader_free(&L);
	depmap_free(m);
	return rc;
}

void depmap_free(struct depmap *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nnodes; i++) {
		free(m->nodes[i].id);
		free(m->nodes[i].name);
	}
	free(m->nodes);
	for (uint32_t i = 0; i < m->nstrings; i++)
		free(m->strings[i]);
	free(m->strings);
	free(m->svc);
	for (size_t i = 0; i < m->nhostl; i++)
		free(m->hostl[i].ports);
	free(m->hostl);
	free(m);
}

/* ------------------------------------------------------------ to protobuf */

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int edge_to_proto(const struct depmap *m, const struct depmap_edge *e, bool service,
			 Cairn__Store__MapEdge **out)
{
	Cairn__Store__MapEdge *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	cairn__store__map_edge__init(p);
	*out = p;
	p->from = dup_or_empty(m->nodes[e->from].id);
	p->to = dup_or_empty(m->nodes[e->to].id);
	p->from_process = dup_or_empty(service && e->from_ident != DEPMAP_NONE
					       ? m->strings[e->from_ident] : "");
	p->to_process = dup_or_empty(service && e->to_ident != DEPMAP_NONE
					     ? m->strings[e->to_ident] : "");
	p->label = dup_or_empty(depmap_port_label(e->port));
	if (!p->from || !p->to || !p->from_process || !p->to_process || !p->label)
		return -ENOMEM;
	p->port = e->port;
	p->protocol = (Cairn__Protocol)e->proto;
	p->samples_seen = e->samples;
	p->first_seen_ms = e->first_ms;
	p->last_seen_ms = e->last_ms;
	p->bytes = e->bytes;
	p->connections = e->connections;
	p->short_lived = e->short_lived;
	p->datagrams = e->datagrams;
	p->bytes_unknown = !e->bytes_known;
	p->confirmed = e->confirmed;
	p->local = e->local;
	if (!service) {
		p->protocols = malloc(3 * sizeof(*p->protocols));
		if (!p->protocols)
			return -ENOMEM;
		for (unsigned pr = CAIRN__PROTOCOL__TCP; pr <= CAIRN__PROTOCOL__UDP; pr++)
			if (e->protos & (1u << pr))
				p->protocols[p->n_protocols++] = (Cairn__Protocol)pr;
	}
	if (e->nports) {
		p->ports = malloc(e->nports * sizeof(uint32_t));
		if (!p->ports)
			return -ENOMEM;
		for (uint32_t i = 0; i < e->nports; i++)
			p->ports[i] = e->ports[i];
		p->n_ports = e->nports;
	}
	return 0;
}

int depmap_to_proto(const struct depmap *m, const char *const *app_of_host,
		    const bool *infra_host, Cairn__Store__DepMap *map)
{
	map->nodes = calloc(m->nnodes ? m->nnodes : 1, sizeof(*map->nodes));
	map->host_edges = calloc(m->nhostl ? m->nhostl : 1, sizeof(*map->host_edges));
	map->service_edges = calloc(m->nsvc ? m->nsvc : 1, sizeof(*map->service_edges));
	if (!map->nodes || !map->host_edges || !map->service_edges)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const struct depmap_node *n = &m->nodes[i];
		Cairn__Store__MapNode *p = malloc(sizeof(*p));
		if (!p)
			return -ENOMEM;
		cairn__store__map_node__init(p);
		map->nodes[map->n_nodes++] = p;
		p->id = dup_or_empty(n->id);
		p->name = dup_or_empty(n->name);
		p->app_id = dup_or_empty(i < m->nhosts && app_of_host ? app_of_host[i] : "");
		if (!p->id || !p->name || !p->app_id)
			return -ENOMEM;
		p->kind = n->kind;
		p->infrastructure = i < m->nhosts && infra_host && infra_host[i];
		p->client_addresses = n->clients;
		if (n->kind != CAIRN__STORE__NODE_KIND__HOST) {
			char text[INET6_ADDRSTRLEN];
			addr_format(n->addr, text, sizeof(text));
			p->addresses = malloc(sizeof(char *));
			if (!p->addresses)
				return -ENOMEM;
			p->addresses[0] = strdup(text);
			if (!p->addresses[0])
				return -ENOMEM;
			p->n_addresses = 1;
		}
	}
	for (size_t i = 0; i < m->nhostl; i++) {
		int rc = edge_to_proto(m, &m->hostl[i], false, &map->host_edges[map->n_host_edges]);
		map->n_host_edges++;
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < m->nsvc; i++) {
		int rc = edge_to_proto(m, &m->svc[i], true,
				       &map->service_edges[map->n_service_edges]);
		map->n_service_edges++;
		if (rc)
			return rc;
	}
	map->unresolved = m->stats.unresolved;
	map->ambiguous = m->stats.ambiguous;
	map->self_traffic = m->stats.self_traffic;
	map->inbound_only = m->stats.inbound_only;
	map->outside_clients = m->stats.outside_clients;
	map->edges_in_period = m->stats.edges_in_period;
	return 0;
}
