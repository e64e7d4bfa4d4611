#include "apps.h"

#include "audit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <strings.h>

#include "graph.h"
#include "log.h"
#include "store.h"

/* qsort that accepts an empty (NULL) array. */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

void apps_opts_default(struct apps_opts *o)
{
	o->hub_fraction = 0.10;
	o->hub_min_clients = 12;
	o->infra_min_clients = 3;
	o->max_app_hosts = 40;
	o->bridge_min_part = 3;
	o->dominant_share = 0.9;
}

/* ------------------------------------------------------------ decisions */

static int decision_add(struct apps_decision **arr, size_t *n, const char *s, const char *v)
{
	struct apps_decision *na = realloc(*arr, (*n + 1) * sizeof(**arr));
	if (!na)
		return -ENOMEM;
	*arr = na;
	na[*n].subject = strdup(s);
	na[*n].value = strdup(v);
	if (!na[*n].subject || !na[*n].value) {
		free(na[*n].subject);
		free(na[*n].value);
		return -ENOMEM;
	}
	(*n)++;
	return 0;
}

/* The first application each import names for its host. */
static int import_apps_load(MDB_txn *txn, const struct db_env *env, struct apps_decisions *d)
{
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_IMPORTS], &c);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		Cairn__Store__ImportedServer *imp =
			cairn__store__imported_server__unpack(NULL, v.mv_size, v.mv_data);
		int arc = 0;
		if (imp && imp->facts && imp->facts->n_applications) {
			char hex[65];
			hex_encode(hex, k.mv_data, 32);
			arc = decision_add(&d->imports, &d->nimports, hex, imp->facts->applications[0]);
		}
		if (imp)
			cairn__store__imported_server__free_unpacked(imp, NULL);
		if (arc) {
			rc = arc;
			break;
		}
	}
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int apps_decisions_load(MDB_txn *txn, const struct db_env *env, struct apps_decisions *d,
			struct errbuf *eb)
{
	memset(d, 0, sizeof(*d));
	MDB_cursor *c;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_DECISIONS], &c);
	if (rc)
		return errbuf_set(eb, rc, "reading DB decisions: %s", db_strerror(rc));
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Cairn__Store__Decision *dec =
			cairn__store__decision__unpack(NULL, v.mv_size, v.mv_data);
		if (!dec) {
			log_warn("DB decisions: a value of %zu bytes does not decode; skipped",
				 v.mv_size);
			continue;
		}
		int arc = 0;
		switch (dec->kind) {
		case CAIRN__STORE__DECISION_KIND__APP_RENAME:
			arc = decision_add(&d->renames, &d->nrenames, dec->subject, dec->value);
			break;
		case CAIRN__STORE__DECISION_KIND__HOST_PIN:
			arc = decision_add(&d->pins, &d->npins, dec->subject, dec->value);
			break;
		case CAIRN__STORE__DECISION_KIND__APP_MERGE:
			arc = decision_add(&d->merges, &d->nmerges, dec->subject, dec->value);
			break;
		default:
			break;
		}
		cairn__store__decision__free_unpacked(dec, NULL);
		if (arc) {
			mdb_cursor_close(c);
			apps_decisions_free(d);
			return errbuf_set(eb, arc, "reading DB decisions: out of memory");
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND) {
		apps_decisions_free(d);
		return errbuf_set(eb, rc, "reading DB decisions: %s", db_strerror(rc));
	}
	if ((rc = import_apps_load(txn, env, d))) {
		apps_decisions_free(d);
		return errbuf_set(eb, rc, "reading DB imports: %s", db_strerror(rc));
	}
	return 0;
}

static void decisions_free_arr(struct apps_decision *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].subject);
		free(a[i].value);
	}
	free(a);
}

void apps_decisions_free(struct apps_decisions *d)
{
	decisions_free_arr(d->renames, d->nrenames);
	decisions_free_arr(d->pins, d->npins);
	decisions_free_arr(d->merges, d->nmerges);
	decisions_free_arr(d->imports, d->nimports);
	memset(d, 0, sizeof(*d));
}

int apps_decision_put(MDB_txn *txn, const struct db_env *env, Cairn__Store__DecisionKind kind,
		      const char *subject, const char *value, const char *action,
		      int64_t now_ms, struct errbuf *eb)
{
	struct db_key key;
	db_key_init(&key);
	db_key_u8(&key, (uint8_t)kind);
	db_key_str(&key, subject);
	if (key.overflow)
		return errbuf_set(eb, -EINVAL, "decision subject '%.40s...' is too long", subject);
	MDB_val k = db_key_val(&key);
	int rc;
	if (value) {
		Cairn__Store__Decision dec = CAIRN__STORE__DECISION__INIT;
		dec.kind = kind;
		dec.subject = (char *)subject;
		dec.value = (char *)value;
		dec.decided_by = (char *)os_user_name();
		dec.decided_ms = now_ms;
		size_t len = cairn__store__decision__get_packed_size(&dec);
		MDB_val v = { .mv_size = len, .mv_data = NULL };
		rc = mdb_put(txn, env->dbi[STORE_DECISIONS], &k, &v, MDB_RESERVE);
		if (rc)
			return errbuf_set(eb, rc, "writing DB decisions: %s", db_strerror(rc));
		cairn__store__decision__pack(&dec, v.mv_data);
	} else {
		rc = mdb_del(txn, env->dbi[STORE_DECISIONS], &k, NULL);
		if (rc && rc != MDB_NOTFOUND)
			return errbuf_set(eb, rc, "writing DB decisions: %s", db_strerror(rc));
	}

	/* a planning input changed: snapshots and the console's caches see it */
	if ((rc = store_bump_facts_gen(txn, env, now_ms)))
		return errbuf_set(eb, rc, "writing meta facts_gen: %s", db_strerror(rc));
	rc = audit_append(txn, env, now_ms, os_user_name(), action, subject, value ? value : "");
	if (rc)
		return errbuf_set(eb, rc, "writing DB audit: %s", db_strerror(rc));
	return 0;
}

/* ------------------------------------------------------------ naming */

static bool token_generic(const char *t)
{
	static const char *const generic[] = {
		"web", "www", "app", "apps", "api", "db", "dbs", "sql", "srv", "server", "host",
		"node", "prod", "prd", "dev", "test", "tst", "stg", "stage", "staging", "qa",
		"uat", "vm", "lb", "fe", "be", "worker", "batch", "cache", "mq", "queue", "int",
		"ext", "dc", "dc1", "dc2", "eu", "us", "local", "internal", "corp", "lan", "linux",
		"pg", "redis", "mysql", "front", "back", "svc", "primary", "replica", "master",
		"slave", "a", "b",
	};
	for (size_t i = 0; i < ARRAY_SIZE(generic); i++)
		if (!strcasecmp(t, generic[i]))
			return true;
	return false;
}

/* Tokens of a host name (before the first dot), split on - and _, trailing
 * digits removed, lower case. Returns the count (at most max). */
static size_t name_tokens(const char *host, char tok[][32], size_t max)
{
	size_t n = 0, len = 0;
	char cur[32];
	for (const char *p = host;; p++) {
		char ch = *p;
		if (!ch || ch == '.' || ch == '-' || ch == '_') {
			/* "web01" -> "web", but "shop2" stays: digits go only when
			 * what remains is a generic word, or nothing */
			size_t keep = len;
			while (keep && isdigit((unsigned char)cur[keep - 1]))
				keep--;
			char stripped[32];
			memcpy(stripped, cur, keep);
			stripped[keep] = '\0';
			if (keep == 0 || token_generic(stripped))
				len = keep;
			cur[len] = '\0';
			if (len && n < max)
				memcpy(tok[n++], cur, len + 1);
			len = 0;
			if (!ch || ch == '.')
				break;
			continue;
		}
		if (len < sizeof(cur) - 1)
			cur[len++] = (char)tolower((unsigned char)ch);
	}
	return n;
}

struct tokcount {
	char tok[32];
	uint32_t count;
	uint32_t pos_sum;
};

/* The most common non-generic token covering >= half of the names (and at
 * least two of them). */
static bool name_stem(const struct depmap *m, const uint32_t *hosts, size_t n, char *out,
		      size_t outn)
{
	struct tokcount tc[64];
	size_t ntc = 0;
	for (size_t i = 0; i < n; i++) {
		char tok[8][32];
		size_t nt = name_tokens(m->nodes[hosts[i]].name, tok, 8);
		for (size_t j = 0; j < nt; j++) {
			if (token_generic(tok[j]))
				continue;
			bool dup = false;
			for (size_t q = 0; q < j; q++)
				if (!strcmp(tok[q], tok[j]))
					dup = true;
			if (dup)
				continue;
			size_t t;
			for (t = 0; t < ntc; t++)
				if (!strcmp(tc[t].tok, tok[j]))
					break;
			if (t == ntc) {
				if (ntc == ARRAY_SIZE(tc))
					continue;
				memcpy(tc[ntc].tok, tok[j], 32);
				tc[ntc].count = 0;
				tc[ntc].pos_sum = 0;
				ntc++;
			}
			tc[t].count++;
			tc[t].pos_sum += (uint32_t)j;
		}
	}
	const struct tokcount *best = NULL;
	for (size_t t = 0; t < ntc; t++) {
		const struct tokcount *c = &tc[t];
		if (!best || c->count > best->count ||
		    (c->count == best->count &&
		     (c->pos_sum * best->count < best->pos_sum * c->count ||
		      (c->pos_sum * best->count == best->pos_sum * c->count &&
		       strcmp(c->tok, best->tok) < 0))))
			best = c;
	}
	/* a stem is shared: in at least half of the names, and in two of them
	 * when there are two or more (one host's word is not the group's) */
	if (!best || best->count * 2 < n || (n > 1 && best->count < 2))
		return false;
	str_copy(out, best->tok, outn);
	return true;
}

/* ------------------------------------------------------------ apps */

struct group {
	uint32_t *hosts;
	size_t n, cap;
	bool infra;
	char label[48];      /* infra groups: service label */
	char *id, *name;
	const char *named_from;
	bool name_from_person;
	int32_t prev;        /* matched previous app, -1 */
	uint32_t min_host;
	uint32_t name_host;  /* smallest host name: names and the order of "-2" */
	const char *name_key; /* its name (the map's string) */
};

static int group_add(struct group *g, uint32_t h)
{
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 8;
		uint32_t *nh = realloc(g->hosts, nc * sizeof(uint32_t));
		if (!nh)
			return -ENOMEM;
		g->hosts = nh;
		g->cap = nc;
	}
	if (!g->n || h < g->min_host)
		g->min_host = h;
	g->hosts[g->n++] = h;
	return 0;
}

struct ctx {
	const struct depmap *m;
	const struct apps_opts *o;
	uint32_t nh;
	struct group *groups;
	size_t ngroups, gcap;
	int32_t *gof;          /* host -> group */
	bool *infra;
	char **infra_label;    /* host -> label (static strings) */
	uint32_t *infra_port;  /* host -> the port it serves as infrastructure, 0 */
	char (*why)[APPS_WHY_MAX]; /* host -> why it is infrastructure (or keeps a hub) */
	uint32_t *svc_in_off, *svc_in; /* service edges by server host (dominant_service) */
};

static struct group *group_new(struct ctx *c)
{
	if (c->ngroups == c->gcap) {
		size_t nc = c->gcap ? c->gcap * 2 : 64;
		struct group *ng = realloc(c->groups, nc * sizeof(*ng));
		if (!ng)
			return NULL;
		c->groups = ng;
		c->gcap = nc;
	}
	struct group *g = &c->groups[c->ngroups++];
	memset(g, 0, sizeof(*g));
	g->prev = -1;
	return g;
}

static int apps_cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

static const char *port_name(uint32_t port, char *buf, size_t n)
{
	const char *l = depmap_port_label(port);
	if (l)
		snprintf(buf, n, "port %u (%s)", port, l);
	else
		snprintf(buf, n, "port %u", port);
	return buf;
}

/* How many of the other hosts make "most of the estate" for pollers and
 * infrastructure-port servers: half of them (at least 2), capped by the
 * absolute number that is enough in a big estate. */
static uint32_t most_of(uint32_t others, uint32_t cap)
{
	uint32_t half = (others + 1) / 2;
	if (half < 2)
		half = 2;
	return half < cap ? half : cap;
}

/* Step 1: infrastructure. */
static int find_infra(struct ctx *c, bool *cut_edge, uint32_t *nhubs)
{
	const struct depmap *m = c->m;
	uint32_t nh = c->nh;
	uint32_t others = nh ? nh - 1 : 0;
	uint32_t hub_min = c->o->hub_min_clients;
	uint32_t hub = (uint32_t)ceil(c->o->hub_fraction * nh);
	if (hub < hub_min)
		hub = hub_min;
	/* relative to the estate: an infrastructure-port server or a poller
	 * reaching most of a small estate is infrastructure, whatever the
	 * absolute numbers */
	uint32_t infra_min = most_of(others, c->o->infra_min_clients);
	uint32_t poll_min = most_of(others, hub_min);
	char pn[48];
	/* distinct clients per (server, port): service edges are sorted by
	 * (from, to, port); count by (to, port) with a sort of indexes */
	size_t ne = 0;
	for (size_t i = 0; i < m->nsvc; i++)
		if (!m->svc[i].local && m->svc[i].from < nh && m->svc[i].to < nh)
			ne++;
	uint64_t *keys = malloc((ne + 1) * sizeof(uint64_t));
	uint32_t *fanout = calloc(nh + 1, sizeof(uint32_t));
	uint32_t *best_clients = calloc(nh + 1, sizeof(uint32_t));
	if (!keys || !fanout || !best_clients) {
		free(keys);
		free(fanout);
		free(best_clients);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < m->nsvc; i++) {
		const struct depmap_edge *e = &m->svc[i];
		if (e->local || e->from >= nh || e->to >= nh)
			continue;
		/* (to, port, from): 32 + 16 bits + ... packed to sort; from in low bits */
		keys[k++] = ((uint64_t)e->to << 40) | ((uint64_t)e->port << 24) | e->from;
	}
	/* (to, port, from) packed: assumes fewer than 2^24 hosts */
	sort_n(keys, k, sizeof(uint64_t), apps_cmp_u64);
	size_t i = 0;
	while (i < k) {
		uint32_t to = (uint32_t)(keys[i] >> 40);
		uint32_t port = (uint32_t)(keys[i] >> 24) & 0xffff;
		uint32_t clients = 0;
		uint32_t last = DEPMAP_NONE;
		size_t j = i;
		while (j < k && (keys[j] >> 24) == (keys[i] >> 24)) {
			uint32_t from = (uint32_t)(keys[j] & 0xffffff);
			if (from != last)
				clients++;
			last = from;
			j++;
		}
		bool infra_port = depmap_port_is_infra(port);
		if ((infra_port && clients >= infra_min) || clients >= hub) {
			if (!c->infra[to]) {
				c->infra[to] = true;
				(*nhubs)++;
			}
			if (clients > best_clients[to]) {
				best_clients[to] = clients;
				c->infra_label[to] = (char *)depmap_port_label(port);
				c->infra_port[to] = port;
				if (infra_port && clients >= infra_min)
					snprintf(c->why[to], APPS_WHY_MAX,
						 "infrastructure: serves %u of %u other hosts on %s",
						 clients, others, port_name(port, pn, sizeof(pn)));
				else
					snprintf(c->why[to], APPS_WHY_MAX,
						 "hub: %u of %u other hosts use %s (%u or more make a "
						 "hub)",
						 clients, others, port_name(port, pn, sizeof(pn)), hub);
			}
		}
		i = j;
	}
	/* pollers: a host reaching most of the estate on one infrastructure
	 * port (node exporters, backup clients, ssh); and wide fan-out over
	 * any port: jump hosts, backup servers that pull. Host edges are
	 * sorted by (from, to): per client, count targets per infra port. */
	{
		size_t q = 0;
		uint32_t *per_port = calloc(65536, sizeof(uint32_t));
		if (!per_port) {
			free(keys);
			free(fanout);
			free(best_clients);
			return -ENOMEM;
		}
		while (q < m->nhostl) {
			uint32_t from = m->hostl[q].from;
			size_t end = q;
			uint32_t targets = 0, best = 0, best_port = 0;
			while (end < m->nhostl && m->hostl[end].from == from)
				end++;
			for (size_t r = q; r < end; r++) {
				const struct depmap_edge *e = &m->hostl[r];
				if (e->to >= nh)
					continue;
				targets++;
				for (uint32_t p = 0; p < e->nports; p++)
					if (depmap_port_is_infra(e->ports[p]) &&
					    (++per_port[e->ports[p]] > best ||
					     (per_port[e->ports[p]] == best && e->ports[p] < best_port))) {
						best = per_port[e->ports[p]];
						best_port = e->ports[p];
					}
			}
			for (size_t r = q; r < end; r++)
				for (uint32_t p = 0; p < m->hostl[r].nports; p++)
					per_port[m->hostl[r].ports[p]] = 0;
			if (from < nh && !c->infra[from] && (targets >= hub || best >= poll_min)) {
				c->infra[from] = true;
				c->infra_label[from] = "admin";
				(*nhubs)++;
				if (best >= poll_min)
					snprintf(c->why[from], APPS_WHY_MAX,
						 "infrastructure: polls %u of %u other hosts on %s", best,
						 others, port_name(best_port, pn, sizeof(pn)));
				else
					snprintf(c->why[from], APPS_WHY_MAX,
						 "infrastructure: connects to %u of %u other hosts (%u or "
						 "more make a hub)",
						 targets, others, hub);
			}
			q = end;
		}
		free(per_port);
	}
	/* cut edges: infra ports, and everything touching an infra host */
	for (size_t q = 0; q < m->nhostl; q++) {
		const struct depmap_edge *e = &m->hostl[q];
		if (e->from >= nh || e->to >= nh) {
			cut_edge[q] = true;
			continue;
		}
		bool all_infra = true;
		for (uint32_t p = 0; p < e->nports; p++)
			if (!depmap_port_is_infra(e->ports[p]))
				all_infra = false;
		cut_edge[q] = all_infra || c->infra[e->from] || c->infra[e->to];
		if (!cut_edge[q])
			fanout[e->from]++;
	}
	/* wide fan-out: jump hosts, pollers, backup servers pulling */
	for (uint32_t h = 0; h < nh; h++)
		if (fanout[h] >= hub && !c->infra[h]) {
			c->infra[h] = true;
			c->infra_label[h] = "admin";
			snprintf(c->why[h], APPS_WHY_MAX,
				 "infrastructure: connects to %u of %u other hosts besides "
				 "infrastructure (%u or more make a hub)",
				 fanout[h], others, hub);
			(*nhubs)++;
		}
	for (size_t q = 0; q < m->nhostl; q++) {
		const struct depmap_edge *e = &m->hostl[q];
		if (!cut_edge[q] && (c->infra[e->from] || c->infra[e->to]))
			cut_edge[q] = true;
	}
	/* hosts whose every edge is to infrastructure only: a port-22-only
	 * client etc. stays an application of its own */
	free(keys);
	free(fanout);
	free(best_clients);
	return 0;
}

struct label_traffic {
	uint32_t key;  /* the callers' group, or nhosts + client when it has none */
	double samples;
};

/* A server reached by several applications (graph_shared_by_upstream) is
 * shared unless one application brings dominant of its traffic (up->w:
 * samples per client edge): then it stays with that one, the other
 * clients' edges (rare_up[e]) are cross-application dependencies, and why
 * says so. Returns true when shared. */
static bool weigh_shared(const struct graph_adj *up, const bool *removed,
			 const uint32_t *caller_group, uint32_t v, double dominant, bool *rare_up,
			 char why[static APPS_WHY_MAX])
{
	struct label_traffic lt[32];
	size_t nlt = 0;
	double total = 0;
	uint32_t n = up->n;
	for (uint32_t e = up->start[v]; e < up->start[v + 1]; e++) {
		uint32_t w = up->to[e];
		if (removed[w] || w == v)
			continue;
		uint32_t key = caller_group[w] != GRAPH_NO_GROUP ? caller_group[w] : n + w;
		size_t k;
		for (k = 0; k < nlt && lt[k].key != key; k++)
			;
		if (k == nlt) {
			if (nlt == ARRAY_SIZE(lt))
				return true; /* very many applications: shared */
			lt[nlt++] = (struct label_traffic){ key, 0 };
		}
		lt[k].samples += up->w[e];
		total += up->w[e];
	}
	size_t top = 0;
	for (size_t k = 1; k < nlt; k++)
		if (lt[k].samples > lt[top].samples)
			top = k;
	if (!nlt || total <= 0 || lt[top].samples < dominant * total) {
		snprintf(why, APPS_WHY_MAX,
			 "shared: used by %zu applications, none with %.0f %% of its traffic", nlt,
			 dominant * 100);
		return true;
	}
	uint32_t minor = 0;
	for (uint32_t e = up->start[v]; e < up->start[v + 1]; e++) {
		uint32_t w = up->to[e];
		if (removed[w] || w == v)
			continue;
		uint32_t key = caller_group[w] != GRAPH_NO_GROUP ? caller_group[w] : n + w;
		if (key != lt[top].key) {
			rare_up[e] = true;
			minor++;
		}
	}
	snprintf(why, APPS_WHY_MAX,
		 "keeps a service: %.0f %% of its traffic is this application's; %u client "
		 "host%s of other applications %s cross-application dependencies",
		 100.0 * lt[top].samples / total, minor, minor == 1 ? "" : "s",
		 minor == 1 ? "is a" : "are");
	return false;
}

static int cmp_u32(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return a < b ? -1 : a > b;
}

/* Service edges by server host (c->svc_in_off/svc_in): built once, so that
 * naming every group reads each group's inbound edges, not the whole map. */
static int svc_in_build(struct ctx *c)
{
	const struct depmap *m = c->m;
	c->svc_in_off = calloc((size_t)c->nh + 2, sizeof(uint32_t));
	c->svc_in = malloc((m->nsvc + 1) * sizeof(uint32_t));
	if (!c->svc_in_off || !c->svc_in)
		return -ENOMEM;
	for (size_t i = 0; i < m->nsvc; i++)
		if (m->svc[i].to < c->nh)
			c->svc_in_off[m->svc[i].to + 1]++;
	for (uint32_t h = 0; h < c->nh; h++)
		c->svc_in_off[h + 1] += c->svc_in_off[h];
	uint32_t *fill = malloc(((size_t)c->nh + 1) * sizeof(uint32_t));
	if (!fill)
		return -ENOMEM;
	memcpy(fill, c->svc_in_off, (size_t)c->nh * sizeof(uint32_t));
	for (size_t i = 0; i < m->nsvc; i++)
		if (m->svc[i].to < c->nh)
			c->svc_in[fill[m->svc[i].to]++] = (uint32_t)i;
	free(fill);
	return 0;
}

static int build_groups(struct ctx *c, struct apps_result *res)
{
	const struct depmap *m = c->m;
	uint32_t nh = c->nh;
	int rc = -ENOMEM;
	bool *cut = calloc(m->nhostl + 1, sizeof(bool));
	struct graph_pair *pairs = malloc((m->nhostl + 1) * sizeof(*pairs));
	struct graph_pair *cpairs = malloc((m->nhostl + 1) * sizeof(*cpairs));
	uint32_t *comp = malloc((nh + 1) * sizeof(uint32_t));
	uint32_t *stack = malloc((nh + 1) * sizeof(uint32_t));
	uint32_t *local = malloc((nh + 1) * sizeof(uint32_t));
	uint32_t *label = malloc((nh + 1) * sizeof(uint32_t));
	uint32_t *order = malloc((nh + 1) * sizeof(uint32_t));
	bool *shared = calloc(nh + 1, sizeof(bool));
	bool *rare = NULL;
	uint32_t *caller_group = malloc((nh + 1) * sizeof(uint32_t));
	struct graph_adj g = { 0 }, cl = { 0 }, down = { 0 };
	if (!cut || !pairs || !cpairs || !comp || !stack || !local || !label ||
	    !order || !shared || !caller_group)
		goto out;
	if ((rc = find_infra(c, cut, &res->hubs)))
		goto out;
	size_t np = 0, ncp = 0;
	for (size_t q = 0; q < m->nhostl; q++) {
		if (cut[q] || m->hostl[q].from == m->hostl[q].to)
			continue;
		pairs[np++] = (struct graph_pair){ m->hostl[q].from, m->hostl[q].to, 1.0 };
		/* traffic weighs whether a server reached by several
		 * applications is shared (weigh_shared) */
		cpairs[ncp++] = (struct graph_pair){ m->hostl[q].to, m->hostl[q].from,
						     (double)m->hostl[q].samples + 1 };
	}
	if ((rc = graph_adj_build(&g, nh, pairs, np)))
		goto out;
	/* clients[v] = hosts that connect to v (directed: v is the server) */
	{
		/* adj_build symmetrizes; build a directed CSR by hand */
		cl.n = nh;
		cl.start = calloc(nh + 1, sizeof(uint32_t));
		cl.to = malloc((ncp + 1) * sizeof(uint32_t));
		cl.w = malloc((ncp + 1) * sizeof(double));
		rare = calloc(ncp + 1, sizeof(bool));
		if (!cl.start || !cl.to || !cl.w || !rare) {
			rc = -ENOMEM;
			goto out;
		}
		sort_n(cpairs, ncp, sizeof(*cpairs), graph_cmp_pair);
		for (size_t i = 0; i < ncp; i++) {
			cl.start[cpairs[i].a + 1]++;
			cl.to[i] = cpairs[i].b;
			cl.w[i] = cpairs[i].w;
		}
		for (uint32_t i = 0; i < nh; i++)
			cl.start[i + 1] += cl.start[i];
	}
	/* down[v] = hosts v connects to (v is the client), sorted */
	down.n = nh;
	down.start = calloc(nh + 1, sizeof(uint32_t));
	down.to = malloc((np + 1) * sizeof(uint32_t));
	if (!down.start || !down.to) {
		rc = -ENOMEM;
		goto out;
	}
	sort_n(pairs, np, sizeof(*pairs), graph_cmp_pair);
	{
		size_t w = 0;
		for (size_t i = 0; i < np; i++) {
			if (w && pairs[w - 1].a == pairs[i].a && pairs[w - 1].b == pairs[i].b)
				continue;
			pairs[w++] = pairs[i];
		}
		for (size_t i = 0; i < w; i++) {
			down.start[pairs[i].a + 1]++;
			down.to[i] = pairs[i].b;
		}
		for (uint32_t i = 0; i < nh; i++)
			down.start[i + 1] += down.start[i];
	}
	/* step 3: one round (labels are recomputed without what it found
	 * would only find hosts downstream of shared ones) */
	for (int round = 0; round < 1; round++) {
		memset(shared, 0, nh * sizeof(bool));
		graph_shared_by_upstream(&down, &cl, c->infra, c->o->max_app_hosts, shared,
					 caller_group);
		/* a server several applications reach stays with one that brings
		 * most of its traffic; the rare clients' edges are calls between
		 * applications, cut from grouping */
		uint32_t found = 0;
		for (uint32_t v = 0; v < nh; v++) {
			if (!shared[v])
				continue;
			if (weigh_shared(&cl, c->infra, caller_group, v, c->o->dominant_share, rare,
					 c->why[v])) {
				found++;
				continue;
			}
			shared[v] = false;
			for (uint32_t e = cl.start[v]; e < cl.start[v + 1]; e++)
				if (rare[e])
					graph_cut_edge(&g, cl.to[e], v);
		}
		if (!found)
			break;
		for (uint32_t h = 0; h < nh; h++)
			if (shared[h]) {
				c->infra[h] = true;
				if (!c->infra_label[h]) {
					/* the service they share: busiest inbound port */
					uint64_t best = 0;
					if (!c->svc_in && (rc = svc_in_build(c)))
						goto out;
					for (uint32_t j = c->svc_in_off[h]; j < c->svc_in_off[h + 1];
					     j++) {
						const struct depmap_edge *e = &m->svc[c->svc_in[j]];
						if (!e->local && e->samples + 1 > best &&
						    !depmap_port_is_infra(e->port)) {
							best = e->samples + 1;
							c->infra_label[h] = (char *)depmap_port_label(e->port);
							c->infra_port[h] = e->port;
						}
					}
				}
				res->shared++;
			}
	}
	res->bridges = graph_cut_bridges(&g, c->infra, c->o->bridge_min_part);
	graph_components(&g, c->infra, comp, stack);

	/* groups from components; big ones split by Louvain */
	for (uint32_t i = 0; i < nh; i++)
		local[i] = DEPMAP_NONE;
	/* members of each component, in host order: counting sort by comp */
	uint32_t *cstart = calloc(nh + 2, sizeof(uint32_t));
	if (!cstart) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t h = 0; h < nh; h++)
		if (!c->infra[h])
			cstart[comp[h] + 1]++;
	for (uint32_t h = 0; h < nh; h++)
		cstart[h + 1] += cstart[h];
	{
		uint32_t *fill = calloc(nh + 1, sizeof(uint32_t));
		if (!fill) {
			free(cstart);
			rc = -ENOMEM;
			goto out;
		}
		for (uint32_t h = 0; h < nh; h++)
			if (!c->infra[h])
				order[cstart[comp[h]] + fill[comp[h]]++] = h;
		free(fill);
	}
	for (uint32_t r = 0; r < nh; r++) {
		uint32_t k = cstart[r + 1] - cstart[r];
		if (!k)
			continue;
		uint32_t *mem = &order[cstart[r]];
		if (k <= c->o->max_app_hosts) {
			struct group *gr = group_new(c);
			if (!gr) {
				rc = -ENOMEM;
				break;
			}
			for (uint32_t i = 0; i < k && !rc; i++)
				rc = group_add(gr, mem[i]);
			if (rc)
				break;
			continue;
		}
		for (uint32_t i = 0; i < k; i++)
			local[mem[i]] = i;
		rc = graph_louvain(&g, mem, k, local, label);
		for (uint32_t i = 0; i < k; i++)
			local[mem[i]] = DEPMAP_NONE;
		if (rc)
			break;
		res->louvain_splits++;
		uint32_t ncomm = 0;
		for (uint32_t i = 0; i < k; i++)
			if (label[i] + 1 > ncomm)
				ncomm = label[i] + 1;
		size_t base = c->ngroups;
		for (uint32_t q = 0; q < ncomm && !rc; q++)
			if (!group_new(c))
				rc = -ENOMEM;
		for (uint32_t i = 0; i < k && !rc; i++)
			rc = group_add(&c->groups[base + label[i]], mem[i]);
		if (rc)
			break;
	}
	free(cstart);
	if (rc)
		goto out;
	/* infrastructure groups by label */
	for (uint32_t h = 0; h < nh && !rc; h++) {
		if (!c->infra[h])
			continue;
		/* an unlabelled port names its group by number: "shared port 12345" */
		char byport[24];
		snprintf(byport, sizeof(byport), "port %u", c->infra_port[h]);
		const char *l = c->infra_label[h] ? c->infra_label[h]
				: c->infra_port[h]    ? byport
						      : "services";
		struct group *gr = NULL;
		for (size_t q = 0; q < c->ngroups; q++)
			if (c->groups[q].infra && !strcmp(c->groups[q].label, l))
				gr = &c->groups[q];
		if (!gr) {
			if (!(gr = group_new(c))) {
				rc = -ENOMEM;
				break;
			}
			gr->infra = true;
			str_copy(gr->label, l, sizeof(gr->label));
		}
		rc = group_add(gr, h);
	}
out:
	graph_adj_free(&g);
	graph_adj_free(&cl);
	graph_adj_free(&down);
	free(cut);
	free(pairs);
	free(cpairs);
	free(comp);
	free(stack);
	free(local);
	free(label);
	free(order);
	free(shared);
	free(rare);
	free(caller_group);
	return rc;
}

struct match {
	uint32_t overlap;
	uint32_t group;
	uint32_t prev;
};

static int cmp_match(const void *pa, const void *pb)
{
	const struct match *a = pa, *b = pb;
	if (a->overlap != b->overlap)
		return a->overlap > b->overlap ? -1 : 1;
	if (a->group != b->group)
		return a->group < b->group ? -1 : 1;
	return a->prev < b->prev ? -1 : a->prev > b->prev;
}

/* Step 5: ids and names, from the previous snapshot where possible. */
static int assign_ids(struct ctx *c, const Cairn__Store__Snapshot *prev)
{
	const struct depmap *m = c->m;
	int rc = 0;
	/* what to match against: the automatic groups when the previous
	 * snapshot has them, its applications otherwise */
	bool use_auto = prev && prev->n_auto_groups;
	size_t nprev = !prev ? 0 : use_auto ? prev->n_auto_groups : prev->n_apps;
	int32_t *prev_of = malloc((c->nh + 1) * sizeof(int32_t));
	bool *prev_used = calloc(nprev + 1, sizeof(bool));
	if (!prev_of || !prev_used) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t h = 0; h < c->nh; h++)
		prev_of[h] = -1;
	for (size_t a = 0; a < nprev; a++) {
		size_t nh = use_auto ? prev->auto_groups[a]->n_hosts : prev->apps[a]->n_hosts;
		char **hosts = use_auto ? prev->auto_groups[a]->hosts : prev->apps[a]->hosts;
		for (size_t i = 0; i < nh; i++) {
			uint8_t id[32];
			if (strlen(hosts[i]) != 64 || hex_decode(id, 32, hosts[i]))
				continue;
			uint32_t h = depmap_host_index(m, id);
			if (h != DEPMAP_NONE)
				prev_of[h] = (int32_t)a;
		}
	}
	/* overlap counts per (group, prev) */
	size_t nm = 0, mcap = 0;
	struct match *ms = NULL;
	for (size_t g = 0; g < c->ngroups; g++) {
		struct group *gr = &c->groups[g];
		size_t first = nm; /* this group's matches: [first, nm) */
		for (size_t i = 0; i < gr->n; i++) {
			int32_t p = prev_of[gr->hosts[i]];
			if (p < 0)
				continue;
			bool pinfra = use_auto ? prev->auto_groups[p]->infrastructure
					       : prev->apps[p]->infrastructure;
			if (pinfra != gr->infra)
				continue;
			/* matches of one group are contiguous at the end: only
			 * those are searched (all of them made this hosts x groups) */
			size_t q;
			for (q = first; q < nm; q++)
				if (ms[q].prev == (uint32_t)p)
					break;
			if (q == nm) {
				if (nm == mcap) {
					mcap = mcap ? mcap * 2 : 64;
					struct match *n2 = realloc(ms, mcap * sizeof(*ms));
					if (!n2) {
						rc = -ENOMEM;
						goto out_ms;
					}
					ms = n2;
				}
				ms[nm++] = (struct match){ 0, (uint32_t)g, (uint32_t)p };
			}
			ms[q].overlap++;
		}
	}
	if (nm)
		sort_n(ms, nm, sizeof(*ms), cmp_match);
	for (size_t q = 0; q < nm; q++) {
		struct group *gr = &c->groups[ms[q].group];
		if (gr->prev >= 0 || prev_used[ms[q].prev])
			continue;
		gr->prev = (int32_t)ms[q].prev;
		prev_used[ms[q].prev] = true;
	}
	/* matched ids first, so a derived id can step aside from them */
	for (size_t g = 0; g < c->ngroups; g++) {
		struct group *gr = &c->groups[g];
		if (gr->prev >= 0 &&
		    !(gr->id = strdup(use_auto ? prev->auto_groups[gr->prev]->id
					      : prev->apps[gr->prev]->id))) {
			rc = -ENOMEM;
			goto out_ms;
		}
	}
	for (size_t g = 0; g < c->ngroups; g++) {
		struct group *gr = &c->groups[g];
		if (gr->prev >= 0)
			continue;
		char base[96], buf[112];
		if (gr->infra)
			snprintf(base, sizeof(base), "infra-%s", gr->label);
		else
			snprintf(base, sizeof(base), "app-%.10s", m->nodes[gr->min_host].id);
		str_copy(buf, base, sizeof(buf));
		/* the host that named an application may have moved to another
		 * group while the application kept its id by overlap */
		for (int suffix = 2;; suffix++) {
			bool taken = false;
			for (size_t q = 0; q < c->ngroups && !taken; q++)
				taken = c->groups[q].id && !strcmp(c->groups[q].id, buf);
			if (!taken)
				break;
			snprintf(buf, sizeof(buf), "%s-%d", base, suffix);
		}
		if (!(gr->id = strdup(buf))) {
			rc = -ENOMEM;
			goto out_ms;
		}
	}
out_ms:
	free(ms);
out:
	free(prev_of);
	free(prev_used);
	return rc;
}

/* The labelled, non-infrastructure service the group's hosts serve to the
 * most client hosts (service edges are sorted by (from, to, port), so one
 * edge is one client host of one port); ties go to more samples, then to
 * the label in byte order. NULL when the group serves no labelled port.
 * The group's inbound edges are read in map order (the first 16 labels
 * seen are the candidates). */
static const char *dominant_service(struct ctx *c, const struct group *gr, int *rc)
{
	const struct depmap *m = c->m;
	if (!c->svc_in && (*rc = svc_in_build(c)))
		return NULL;
	size_t ne = 0;
	for (size_t i = 0; i < gr->n; i++)
		ne += c->svc_in_off[gr->hosts[i] + 1] - c->svc_in_off[gr->hosts[i]];
	uint32_t *idx = malloc((ne + 1) * sizeof(uint32_t));
	if (!idx) {
		*rc = -ENOMEM;
		return NULL;
	}
	ne = 0;
	for (size_t i = 0; i < gr->n; i++)
		for (uint32_t j = c->svc_in_off[gr->hosts[i]]; j < c->svc_in_off[gr->hosts[i] + 1];
		     j++)
			idx[ne++] = c->svc_in[j];
	sort_n(idx, ne, sizeof(uint32_t), cmp_u32);
	struct svc_weight {
		const char *label;
		uint32_t clients;
		uint64_t samples;
	} w[16];
	size_t nw = 0;
	for (size_t i = 0; i < ne; i++) {
		const struct depmap_edge *e = &m->svc[idx[i]];
		if (e->local || depmap_port_is_infra(e->port))
			continue;
		const char *l = depmap_port_label(e->port);
		if (!l)
			continue;
		size_t k;
		for (k = 0; k < nw && strcmp(w[k].label, l); k++)
			;
		if (k == nw) {
			if (nw == ARRAY_SIZE(w))
				continue;
			w[nw++] = (struct svc_weight){ l, 0, 0 };
		}
		w[k].clients++;
		w[k].samples += e->samples;
	}
	free(idx);
	const struct svc_weight *best = NULL;
	for (size_t k = 0; k < nw; k++)
		if (!best || w[k].clients > best->clients ||
		    (w[k].clients == best->clients &&
		     (w[k].samples > best->samples ||
		      (w[k].samples == best->samples && strcmp(w[k].label, best->label) < 0))))
			best = &w[k];
	return best ? best->label : NULL;
}

/* The member with the smallest host name (ties: the smaller index): names
 * must not depend on agent ids, which are random keys. */
static uint32_t smallest_name_host(const struct depmap *m, const struct group *gr)
{
	uint32_t best = gr->hosts[0];
	for (size_t i = 1; i < gr->n; i++) {
		int d = strcmp(m->nodes[gr->hosts[i]].name, m->nodes[best].name);
		if (d < 0 || (d == 0 && gr->hosts[i] < best))
			best = gr->hosts[i];
	}
	return best;
}

static void name_group(struct ctx *c, struct group *gr, const Cairn__Store__Snapshot *prev)
{
	const struct depmap *m = c->m;
	char buf[96];
	free(gr->name);
	gr->name = NULL;
	const char *pname = NULL, *pfrom = NULL;
	if (gr->prev >= 0 && prev->n_auto_groups) {
		pname = prev->auto_groups[gr->prev]->name;
		pfrom = prev->auto_groups[gr->prev]->named_from;
	} else if (gr->prev >= 0) {
		pname = prev->apps[gr->prev]->name;
		pfrom = prev->apps[gr->prev]->named_from;
	}
	if (pname && *pname && strcmp(pfrom, "person")) {
		gr->name = strdup(pname);
		/* a static string: the previous snapshot is freed before ours */
		const char *from = pfrom;
		gr->named_from = !strcmp(from, "hostname-stem") ? "hostname-stem"
				 : !strcmp(from, "service")     ? "service"
								: "host";
		return;
	}
	if (gr->infra) {
		snprintf(buf, sizeof(buf), "shared %s", gr->label);
		gr->name = strdup(buf);
		gr->named_from = "service";
		return;
	}
	if (name_stem(m, gr->hosts, gr->n, buf, sizeof(buf))) {
		gr->name = strdup(buf);
		gr->named_from = "hostname-stem";
		return;
	}
	int rc = 0;
	const char *svc = dominant_service(c, gr, &rc);
	if (rc)
		return; /* gr->name stays NULL: out of memory */
	if (svc) {
		gr->name = strdup(svc);
		gr->named_from = "service";
		return;
	}
	gr->name = strdup(m->nodes[gr->name_host].name);
	gr->named_from = "host";
}

/* Step 6: people's decisions. Merges and pins move hosts between groups;
 * a pin to an app id that no longer exists recreates it. */
static struct group *group_by_id(struct ctx *c, const char *id)
{
	for (size_t g = 0; g < c->ngroups; g++)
		if (c->groups[g].id && !strcmp(c->groups[g].id, id))
			return &c->groups[g];
	return NULL;
}

static int move_host(struct group *from, struct group *to, uint32_t h)
{
	for (size_t i = 0; i < from->n; i++)
		if (from->hosts[i] == h) {
			from->hosts[i] = from->hosts[--from->n];
			break;
		}
	return group_add(to, h);
}

/* "imp-" + 10 hex digits of the BLAKE2b of the lower-case name. */
static void import_app_id(const char *name, char out[16])
{
	char low[256];
	size_t n = 0;
	for (; name[n] && n + 1 < sizeof(low); n++)
		low[n] = (char)tolower((unsigned char)name[n]);
	uint8_t h[16];
	crypto_generichash(h, sizeof(h), (const unsigned char *)low, n, NULL, 0);
	memcpy(out, "imp-", 4);
	hex_encode(out + 4, h, 5);
}

/* Moves host (id hex) into the group of id app (created as name, named_from
 * from, when there is none); pinned[h] is set when pinned is not NULL. */
static int pin_host(struct ctx *c, const char *host, const char *app, const char *name,
		    const char *from_what, bool *pinned)
{
	uint8_t id[32];
	if (strlen(host) != 64 || hex_decode(id, 32, host))
		return 0;
	uint32_t h = depmap_host_index(c->m, id);
	if (h == DEPMAP_NONE)
		return 0;
	struct group *to = group_by_id(c, app);
	if (!to) {
		if (!(to = group_new(c)))
			return -ENOMEM;
		to->id = strdup(app);
		to->name = strdup(name);
		to->named_from = from_what;
		if (!to->id || !to->name)
			return -ENOMEM;
	}
	struct group *from = NULL;
	for (size_t g = 0; g < c->ngroups && !from; g++)
		for (size_t q = 0; q < c->groups[g].n; q++)
			if (c->groups[g].hosts[q] == h) {
				from = &c->groups[g];
				break;
			}
	if (pinned)
		pinned[h] = true;
	if (from == to)
		return 0;
	if (from)
		return move_host(from, to, h);
	return group_add(to, h);
}

static int apply_decisions(struct ctx *c, const struct apps_decisions *d, bool *pinned)
{
	int rc = 0;
	if (!d)
		return 0;
	/* merges, repeated so chains (c into b, b into a) settle */
	for (size_t round = 0; round < d->nmerges + 1; round++) {
		bool changed = false;
		for (size_t i = 0; i < d->nmerges; i++) {
			struct group *b = group_by_id(c, d->merges[i].subject);
			struct group *a = group_by_id(c, d->merges[i].value);
			if (!a || !b || a == b || !b->n)
				continue;
			while (b->n)
				if ((rc = move_host(b, a, b->hosts[b->n - 1])))
					return rc;
			changed = true;
		}
		if (!changed)
			break;
	}
	for (size_t i = 0; i < d->nimports; i++) {
		/* an application of that name already grouped from the map takes the
		 * host; else the imported application is a group of its own */
		char id[16];
		const char *gid = NULL;
		for (size_t g = 0; g < c->ngroups && !gid; g++)
			if (!c->groups[g].infra && c->groups[g].name && c->groups[g].id &&
			    !strcasecmp(c->groups[g].name, d->imports[i].value))
				gid = c->groups[g].id;
		if (!gid) {
			import_app_id(d->imports[i].value, id);
			gid = id;
		}
		if ((rc = pin_host(c, d->imports[i].subject, gid, d->imports[i].value, "import", NULL)))
			return rc;
	}
	for (size_t i = 0; i < d->npins; i++)
		if ((rc = pin_host(c, d->pins[i].subject, d->pins[i].value, d->pins[i].value, "person",
				   pinned)))
			return rc;
	for (size_t i = 0; i < d->nrenames; i++) {
		struct group *g = group_by_id(c, d->renames[i].subject);
		if (!g)
			continue;
		free(g->name);
		g->name = strdup(d->renames[i].value);
		if (!g->name)
			return -ENOMEM;
		g->named_from = "person";
		g->name_from_person = true;
	}
	return 0;
}

static int cmp_u32p(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	return a < b ? -1 : a > b;
}

/* Dominant services of every application: labels of the ports its hosts
 * serve, by number of client edges, at most 3 each. One pass over the
 * service edges: (app, label) pairs sorted and counted. */
struct svc_count {
	int32_t app;
	const char *label;
	uint64_t n;
};

static int cmp_svc_pair(const void *pa, const void *pb)
{
	const struct svc_count *a = pa, *b = pb;
	if (a->app != b->app)
		return a->app < b->app ? -1 : 1;
	return strcmp(a->label, b->label);
}

static int cmp_svc_rank(const void *pa, const void *pb)
{
	const struct svc_count *a = pa, *b = pb;
	if (a->app != b->app)
		return a->app < b->app ? -1 : 1;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->label, b->label);
}

static int apps_services(const struct depmap *m, const int32_t *gof, Cairn__Store__App **apps,
			 size_t napps)
{
	struct svc_count *p = malloc((m->nsvc + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < m->nsvc; i++) {
		const struct depmap_edge *e = &m->svc[i];
		if (e->to >= m->nhosts || e->local || gof[e->to] < 0)
			continue;
		/* every host serves its node exporter, backup client and ssh:
		 * infrastructure ports say nothing about what an application is */
		const char *l = depmap_port_label(e->port);
		if (l && !depmap_port_is_infra(e->port))
			p[k++] = (struct svc_count){ gof[e->to], l, 1 };
	}
	sort_n(p, k, sizeof(*p), cmp_svc_pair);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w && p[w - 1].app == p[i].app && !strcmp(p[w - 1].label, p[i].label))
			p[w - 1].n++;
		else
			p[w++] = p[i];
	}
	sort_n(p, w, sizeof(*p), cmp_svc_rank);
	int rc = 0;
	for (size_t i = 0; i < w && !rc; i++) {
		Cairn__Store__App *a = apps[p[i].app];
		if ((size_t)p[i].app >= napps || a->n_services >= 3)
			continue;
		bool dup = false;
		for (size_t q = 0; q < a->n_services; q++)
			dup = dup || !strcmp(a->services[q], p[i].label);
		if (dup)
			continue;
		if (!a->services && !(a->services = calloc(3, sizeof(char *)))) {
			rc = -ENOMEM;
			break;
		}
		if (!(a->services[a->n_services] = strdup(p[i].label)))
			rc = -ENOMEM;
		else
			a->n_services++;
	}
	free(p);
	return rc;
}

static int cmp_group_id(const void *pa, const void *pb)
{
	const struct group *a = pa, *b = pb;
	if (a->infra != b->infra)
		return a->infra ? 1 : -1;
	return strcmp(a->id ? a->id : "", b->id ? b->id : "");
}

/* People's names first (they are never renamed), then by the smallest
 * host name, the same on every run. */
static int cmp_group_name_host(const void *pa, const void *pb)
{
	const struct group *a = *(const struct group *const *)pa;
	const struct group *b = *(const struct group *const *)pb;
	if (a->name_from_person != b->name_from_person)
		return a->name_from_person ? -1 : 1;
	int d = strcmp(a->name_key, b->name_key);
	if (d)
		return d;
	return strcmp(a->id ? a->id : "", b->id ? b->id : "");
}

static void ctx_free(struct ctx *c)
{
	for (size_t g = 0; g < c->ngroups; g++) {
		free(c->groups[g].hosts);
		free(c->groups[g].id);
		free(c->groups[g].name);
	}
	free(c->groups);
	free(c->infra_label);
	free(c->infra_port);
	free(c->why);
	free(c->svc_in_off);
	free(c->svc_in);
}

int apps_compute(const struct depmap *m, const struct apps_opts *o,
		 const Cairn__Store__Snapshot *prev, const struct apps_decisions *d,
		 struct apps_result *out, struct errbuf *eb)
{
	struct apps_opts def;
	if (!o) {
		apps_opts_default(&def);
		o = &def;
	}
	memset(out, 0, sizeof(*out));
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.m = m;
	c.o = o;
	c.nh = m->nhosts;
	int rc = -ENOMEM;
	bool *pinned = calloc(c.nh + 1, sizeof(bool));
	out->nhosts = c.nh;
	out->app_of_host = malloc((c.nh + 1) * sizeof(int32_t));
	out->infra_host = calloc(c.nh + 1, sizeof(bool));
	c.infra = out->infra_host;
	c.infra_label = calloc(c.nh + 1, sizeof(char *));
	c.infra_port = calloc(c.nh + 1, sizeof(uint32_t));
	c.why = calloc(c.nh + 1, sizeof(*c.why));
	if (!pinned || !out->app_of_host || !out->infra_host || !c.infra_label || !c.infra_port ||
	    !c.why)
		goto fail;
	if ((rc = build_groups(&c, out)) || (rc = assign_ids(&c, prev)))
		goto fail;
	for (size_t g = 0; g < c.ngroups; g++) {
		c.groups[g].name_host = smallest_name_host(m, &c.groups[g]);
		name_group(&c, &c.groups[g], prev);
		if (!c.groups[g].name) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	out->auto_groups = calloc(c.ngroups + 1, sizeof(*out->auto_groups));
	if (!out->auto_groups)
		goto fail;
	for (size_t g = 0; g < c.ngroups; g++) {
		struct group *gr = &c.groups[g];
		Cairn__Store__AutoGroup *ag = malloc(sizeof(*ag));
		if (!ag)
			goto fail;
		cairn__store__auto_group__init(ag);
		out->auto_groups[out->nauto++] = ag;
		ag->id = strdup(gr->id);
		ag->name = strdup(gr->name);
		ag->named_from = strdup(gr->named_from ? gr->named_from : "host");
		ag->infrastructure = gr->infra;
		ag->hosts = calloc(gr->n + 1, sizeof(char *));
		if (!ag->id || !ag->name || !ag->named_from || !ag->hosts)
			goto fail;
		for (size_t i = 0; i < gr->n; i++)
			if (!(ag->hosts[ag->n_hosts++] = strdup(m->nodes[gr->hosts[i]].id)))
				goto fail;
	}
	if ((rc = apply_decisions(&c, d, pinned)))
		goto fail;
	/* drop emptied groups, order by (infra, id) */
	size_t w = 0;
	for (size_t g = 0; g < c.ngroups; g++) {
		if (c.groups[g].n) {
			c.groups[w++] = c.groups[g];
		} else {
			free(c.groups[g].hosts);
			free(c.groups[g].id);
			free(c.groups[g].name);
		}
	}
	c.ngroups = w;
	sort_n(c.groups, c.ngroups, sizeof(*c.groups), cmp_group_id);
	/* automatic names must be unique: a later duplicate gets "-2", "-3",
	 * later by smallest host name (ids derive from random agent keys) */
	struct group **by_name = malloc((c.ngroups + 1) * sizeof(*by_name));
	if (!by_name)
		goto fail;
	for (size_t g = 0; g < c.ngroups; g++) {
		c.groups[g].name_host = smallest_name_host(m, &c.groups[g]);
		c.groups[g].name_key = m->nodes[c.groups[g].name_host].name;
		by_name[g] = &c.groups[g];
	}
	sort_n(by_name, c.ngroups, sizeof(*by_name), cmp_group_name_host);
	for (size_t g = 0; g < c.ngroups; g++) {
		struct group *gr = by_name[g];
		for (int suffix = 2; suffix < 10000; suffix++) {
			bool clash = false;
			for (size_t q = 0; q < g && !clash; q++)
				clash = !strcasecmp(by_name[q]->name, gr->name);
			if (!clash || gr->name_from_person)
				break;
			char buf[160];
			const char *base = gr->name;
			size_t bl = strlen(base);
			char *dash = strrchr(gr->name, '-');
			if (suffix > 2 && dash && dash[1] && strspn(dash + 1, "0123456789") ==
								     strlen(dash + 1))
				bl = (size_t)(dash - base);
			snprintf(buf, sizeof(buf), "%.*s-%d", (int)bl, base, suffix);
			char *nn = strdup(buf);
			if (!nn) {
				free(by_name);
				rc = -ENOMEM;
				goto fail;
			}
			free(gr->name);
			gr->name = nn;
		}
	}
	free(by_name);
	for (uint32_t h = 0; h < c.nh; h++)
		out->app_of_host[h] = -1;
	for (size_t g = 0; g < c.ngroups; g++) {
		sort_n(c.groups[g].hosts, c.groups[g].n, sizeof(uint32_t), cmp_u32p);
		for (size_t i = 0; i < c.groups[g].n; i++)
			out->app_of_host[c.groups[g].hosts[i]] = (int32_t)g;
	}
	/* a host a person pinned into an application is not infrastructure */
	for (uint32_t h = 0; h < c.nh; h++)
		if (pinned[h] && out->app_of_host[h] >= 0 && !c.groups[out->app_of_host[h]].infra)
			out->infra_host[h] = false;
	out->apps = calloc(c.ngroups + 1, sizeof(*out->apps));
	if (!out->apps)
		goto fail;
	for (size_t g = 0; g < c.ngroups; g++) {
		struct group *gr = &c.groups[g];
		Cairn__Store__App *a = malloc(sizeof(*a));
		if (!a)
			goto fail;
		cairn__store__app__init(a);
		out->apps[out->napps++] = a;
		a->id = gr->id;
		gr->id = NULL;
		a->name = gr->name;
		gr->name = NULL;
		a->infrastructure = gr->infra;
		a->named_from = strdup(gr->named_from ? gr->named_from : "host");
		a->hosts = calloc(gr->n + 1, sizeof(char *));
		a->pinned_hosts = calloc(gr->n + 1, sizeof(char *));
		if (!a->named_from || !a->hosts || !a->pinned_hosts)
			goto fail;
		for (size_t i = 0; i < gr->n; i++) {
			uint32_t h = gr->hosts[i];
			if (!(a->hosts[a->n_hosts++] = strdup(m->nodes[h].id)))
				goto fail;
			if (pinned[h] && !(a->pinned_hosts[a->n_pinned_hosts++] = strdup(m->nodes[h].id)))
				goto fail;
		}
		/* why, per host that has a reason (in host-name order, at most 8) */
		size_t nwhy = 0;
		for (size_t i = 0; i < gr->n; i++)
			nwhy += c.why[gr->hosts[i]][0] != '\0';
		if (nwhy > 8)
			nwhy = 8;
		if (nwhy && !(a->why = calloc(nwhy, sizeof(char *))))
			goto fail;
		for (size_t i = 0; i < gr->n && a->n_why < nwhy; i++) {
			uint32_t h = gr->hosts[i];
			if (!c.why[h][0])
				continue;
			size_t len = strlen(m->nodes[h].name) + strlen(c.why[h]) + 3;
			if (!(a->why[a->n_why] = malloc(len)))
				goto fail;
			snprintf(a->why[a->n_why++], len, "%s: %s", m->nodes[h].name, c.why[h]);
		}
	}
	for (size_t g = 0; g < c.ngroups; g++) {
		Cairn__Store__App *a = out->apps[g];
		const char *gl = c.groups[g].label;
		if (!c.groups[g].infra || !strcmp(gl, "admin") || !strcmp(gl, "services") ||
		    !strncmp(gl, "port ", 5))
			continue;
		if (!(a->services = calloc(3, sizeof(char *))) ||
		    !(a->services[0] = strdup(c.groups[g].label)))
			goto fail;
		a->n_services = 1;
	}
	if ((rc = apps_services(m, out->app_of_host, out->apps, out->napps)))
		goto fail;
	free(pinned);
	ctx_free(&c);
	return 0;
fail:
	free(pinned);
	ctx_free(&c);
	apps_result_free(out);
	return errbuf_set(eb, rc ? rc : -ENOMEM, "grouping applications: %s",
			  rc == -ENOMEM || !rc ? "out of memory" : db_strerror(rc));
}

void apps_result_free(struct apps_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->napps; i++)
		if (r->apps[i])
			cairn__store__app__free_unpacked(r->apps[i], NULL);
	free(r->apps);
	for (size_t i = 0; i < r->nauto; i++)
		if (r->auto_groups[i])
			cairn__store__auto_group__free_unpacked(r->auto_groups[i], NULL);
	free(r->auto_groups);
	free(r->app_of_host);
	free(r->infra_host);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ evaluation */

static double choose2(double x)
{
	return x * (x - 1) / 2;
}

double apps_adjusted_rand(const uint32_t *a, const uint32_t *b, size_t n)
{
	if (n < 2)
		return 1.0;
	/* contingency table through sorting pairs (a, b) */
	uint64_t *p = malloc(n * sizeof(uint64_t));
	uint32_t *x = malloc(n * sizeof(uint32_t));
	uint32_t *y = malloc(n * sizeof(uint32_t));
	if (!p || !x || !y) {
		free(p);
		free(x);
		free(y);
		return NAN;
	}
	for (size_t i = 0; i < n; i++) {
		p[i] = ((uint64_t)a[i] << 32) | b[i];
		x[i] = a[i];
		y[i] = b[i];
	}
	sort_n(p, n, sizeof(uint64_t), apps_cmp_u64);
	sort_n(x, n, sizeof(uint32_t), cmp_u32p);
	sort_n(y, n, sizeof(uint32_t), cmp_u32p);
	double sum_ij = 0, sum_a = 0, sum_b = 0;
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && p[j] == p[i]; j++)
			;
		sum_ij += choose2((double)(j - i));
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && x[j] == x[i]; j++)
			;
		sum_a += choose2((double)(j - i));
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && y[j] == y[i]; j++)
			;
		sum_b += choose2((double)(j - i));
	}
	free(p);
	free(x);
	free(y);
	double expected = sum_a * sum_b / choose2((double)n);
	double max = (sum_a + sum_b) / 2;
	if (max == expected)
		return 1.0;
	return (sum_ij - expected) / (max - expected);
}
