/* Matching imported rows against the store and writing them; see import.h
 * and docs/import.md (matching rules). */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "decide.h"
#include "imports.h"
#include "store.h"
#include "tags.h"

const char *import_outcome_name(enum import_outcome o)
{
	static const char *const names[IMPORT_NOUTCOMES] = { "new", "updated", "unchanged", "merged",
							     "rejected" };
	return o < IMPORT_NOUTCOMES ? names[o] : "?";
}

/* ------------------------------------------------------------ known hosts */

struct known {
	uint8_t id[32];
	bool agent;                          /* has an agent record (not refused) */
	char name[128];
	Cairn__Store__ImportedServer *imp;   /* stored import, NULL when none */
	unsigned taken;                      /* line of the row of this file that took it */
	bool gone;                           /* folded away by this import */
};

/* Match key -> known host, chained hash table. */
struct kentry {
	uint64_t hash;
	char *key;        /* kind letter + text */
	uint32_t host;
	uint32_t next;    /* 1-based index of the next entry in the chain, 0 = end */
};

struct index {
	struct known *hosts;
	size_t nhosts, hosts_cap;
	struct kentry *e;
	size_t ne, ecap;
	uint32_t *heads;  /* 1-based entry index */
	size_t nheads;    /* power of two */
	uint32_t *ids;    /* host id -> 1-based host index, open addressing */
	size_t nids;      /* power of two, at least twice nhosts */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int index_grow(struct index *ix)
{
	size_t n = ix->nheads ? ix->nheads * 2 : 1024;
	uint32_t *heads = calloc(n, sizeof(*heads));
	if (!heads)
		return -ENOMEM;
	for (size_t i = 0; i < ix->ne; i++) {
		size_t b = ix->e[i].hash & (n - 1);
		ix->e[i].next = heads[b];
		heads[b] = (uint32_t)(i + 1);
	}
	free(ix->heads);
	ix->heads = heads;
	ix->nheads = n;
	return 0;
}

static int index_add(struct index *ix, char kind, const char *text, uint32_t host)
{
	char key[IMPORTS_KEY_MAX + 2];
	snprintf(key, sizeof(key), "%c%s", kind, text);
	uint64_t h = hash_str(key);
	if (ix->nheads) {
		for (uint32_t i = ix->heads[h & (ix->nheads - 1)]; i; i = ix->e[i - 1].next)
			if (ix->e[i - 1].hash == h && ix->e[i - 1].host == host && !strcmp(ix->e[i - 1].key, key))
				return 0;
	}
	if (ix->ne == ix->ecap) {
		size_t cap = ix->ecap ? ix->ecap * 2 : 1024;
		struct kentry *v = realloc(ix->e, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ix->e = v;
		ix->ecap = cap;
	}
	if (ix->ne + 1 > ix->nheads && index_grow(ix))
		return -ENOMEM;
	struct kentry *e = &ix->e[ix->ne];
	if (!(e->key = strdup(key)))
		return -ENOMEM;
	e->hash = h;
	e->host = host;
	size_t b = h & (ix->nheads - 1);
	e->next = ix->heads[b];
	ix->heads[b] = (uint32_t)(++ix->ne);
	return 0;
}

static void index_free(struct index *ix)
{
	for (size_t i = 0; i < ix->nhosts; i++)
		if (ix->hosts[i].imp)
			cairn__store__imported_server__free_unpacked(ix->hosts[i].imp, NULL);
	free(ix->hosts);
	for (size_t i = 0; i < ix->ne; i++)
		free(ix->e[i].key);
	free(ix->e);
	free(ix->heads);
	free(ix->ids);
}

static size_t id_slot(const struct index *ix, const uint8_t id[32])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h)); /* ids are hashes or public keys: uniform */
	size_t mask = ix->nids - 1, i = h & mask;
	while (ix->ids[i] && memcmp(ix->hosts[ix->ids[i] - 1].id, id, 32))
		i = (i + 1) & mask;
	return i;
}

static struct known *index_host(struct index *ix, const uint8_t id[32])
{
	if (!ix->nids)
		return NULL;
	size_t i = id_slot(ix, id);
	return ix->ids[i] ? &ix->hosts[ix->ids[i] - 1] : NULL;
}

static int ids_insert(struct index *ix, size_t host)
{
	if ((host + 1) * 2 > ix->nids) {
		size_t n = ix->nids ? ix->nids * 2 : 1024;
		uint32_t *old = ix->ids;
		size_t nold = ix->nids;
		if (!(ix->ids = calloc(n, sizeof(*ix->ids)))) {
			ix->ids = old;
			return -ENOMEM;
		}
		ix->nids = n;
		for (size_t i = 0; i < nold; i++)
			if (old[i])
				ix->ids[id_slot(ix, ix->hosts[old[i] - 1].id)] = old[i];
		free(old);
	}
	ix->ids[id_slot(ix, ix->hosts[host].id)] = (uint32_t)(host + 1);
	return 0;
}

struct add_arg {
	struct index *ix;
	uint32_t host;
};

static int add_key(enum imports_key_kind kind, const char *text, void *arg)
{
	struct add_arg *a = arg;
	return index_add(a->ix, (char)kind, text, a->host);
}

static int push_known(struct index *ix, const uint8_t id[32], bool agent, const char *name)
{
	if (ix->nhosts == ix->hosts_cap) {
		size_t cap = ix->hosts_cap ? ix->hosts_cap * 2 : 256;
		struct known *v = realloc(ix->hosts, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ix->hosts = v;
		ix->hosts_cap = cap;
	}
	struct known *k = &ix->hosts[ix->nhosts++];
	memset(k, 0, sizeof(*k));
	memcpy(k->id, id, 32);
	k->agent = agent;
	str_copy(k->name, name ? name : "", sizeof(k->name));
	return ids_insert(ix, ix->nhosts - 1);
}

/* Every host of the store with its match keys: agent hosts by their
 * HostInfo, imported hosts by their stored facts and ExternalId. */
static int index_load(MDB_txn *txn, const struct db_env *env, struct index *ix, struct errbuf *eb)
{
	memset(ix, 0, sizeof(*ix));
	MDB_cursor *c = NULL;
	MDB_val k, v;
	/* every import record: imported-only hosts, and imports merged into agents */
	int rc = mdb_cursor_open(txn, env->dbi[STORE_IMPORTS], &c);
	for (rc = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		Cairn__Store__ImportedServer *imp = cairn__store__imported_server__unpack(NULL, v.mv_size, v.mv_data);
		if (!imp || !imp->facts) {
			if (imp)
				cairn__store__imported_server__free_unpacked(imp, NULL);
			continue;
		}
		/* matching needs the facts only: the raw cells are most of the bytes */
		for (size_t i = 0; i < imp->n_raw; i++)
			cairn__store__import_field__free_unpacked(imp->raw[i], NULL);
		free(imp->raw);
		imp->raw = NULL;
		imp->n_raw = 0;
		const Cairn__Store__ImportFacts *f = imp->facts;
		if ((rc = push_known(ix, k.mv_data, imp->merged, *f->hostname ? f->hostname : f->vm_name))) {
			cairn__store__imported_server__free_unpacked(imp, NULL);
			break;
		}
		ix->hosts[ix->nhosts - 1].imp = imp;
	}
	if (c)
		mdb_cursor_close(c);
	c = NULL;
	if (rc && rc != MDB_NOTFOUND)
		return errbuf_set(eb, rc, "reading DB imports: %s", db_strerror(rc));
	/* agent hosts: facts from ingest and no import of their own (a refused
	 * agent's host is not one people mean) */
	rc = mdb_cursor_open(txn, env->dbi[STORE_HOSTS], &c);
	for (rc = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		struct known *h = index_host(ix, k.mv_data);
		if (h && !h->agent)
			continue;
		MDB_val av;
		if (!mdb_get(txn, env->dbi[STORE_AGENTS], &k, &av)) {
			Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, av.mv_size, av.mv_data);
			bool refused = a && (a->state == CAIRN__STORE__ENROLL_STATE__REJECTED ||
					     a->state == CAIRN__STORE__ENROLL_STATE__REVOKED);
			if (a)
				cairn__store__agent__free_unpacked(a, NULL);
			if (refused)
				continue;
		}
		Cairn__Store__HostFacts *hf = cairn__store__host_facts__unpack(NULL, v.mv_size, v.mv_data);
		if (!hf || !hf->info) {
			if (hf)
				cairn__store__host_facts__free_unpacked(hf, NULL);
			continue;
		}
		if (!h && (rc = push_known(ix, k.mv_data, true, hf->info->hostname))) {
			cairn__store__host_facts__free_unpacked(hf, NULL);
			break;
		}
		h = index_host(ix, k.mv_data);
		if (*hf->info->hostname)
			str_copy(h->name, hf->info->hostname, sizeof(h->name));
		struct add_arg a = { ix, (uint32_t)(h - ix->hosts) };
		rc = imports_keys_of_info(hf->info, add_key, &a);
		cairn__store__host_facts__free_unpacked(hf, NULL);
		if (rc)
			break;
	}
	if (c)
		mdb_cursor_close(c);
	c = NULL;
	if (rc && rc != MDB_NOTFOUND)
		return errbuf_set(eb, rc, "reading DB hosts: %s", db_strerror(rc));
	rc = 0;
	/* imported-only hosts by their facts, every import by its ExternalId */
	for (size_t i = 0; i < ix->nhosts && !rc; i++) {
		struct known *h = &ix->hosts[i];
		struct add_arg a = { ix, (uint32_t)i };
		if (h->imp && !h->agent)
			rc = imports_keys_of_facts(h->imp->facts, add_key, &a);
		if (!rc && h->imp && *h->imp->facts->external_id)
			rc = index_add(ix, 'e', h->imp->facts->external_id, a.host);
	}
	if (rc)
		return errbuf_set(eb, rc, "indexing the hosts: %s", db_strerror(rc));
	return 0;
}

/* ------------------------------------------------------------ matching */

struct match {
	struct index *ix;
	uint32_t agents[4];
	char agent_how[4][IMPORTS_MATCH_MAX];
	size_t nagents;
	uint32_t imported[8];
	char imported_how[8][IMPORTS_MATCH_MAX];
	size_t nimported;
};

static const char *key_kind_name(char kind)
{
	switch (kind) {
	case IMPORTS_KEY_SMBIOS: return "SMBIOS id";
	case IMPORTS_KEY_MAC: return "MAC";
	case IMPORTS_KEY_NAME_IP: return "hostname+IP";
	case 'e': return "ExternalId";
	}
	return "?";
}

static void note_match(struct match *m, uint32_t host, const char *how)
{
	struct known *h = &m->ix->hosts[host];
	if (h->gone)
		return;
	uint32_t *v = h->agent ? m->agents : m->imported;
	size_t *n = h->agent ? &m->nagents : &m->nimported;
	size_t cap = h->agent ? 4 : 8;
	for (size_t i = 0; i < *n; i++)
		if (v[i] == host)
			return;
	if (*n == cap)
		return;
	char (*how_v)[IMPORTS_MATCH_MAX] = h->agent ? m->agent_how : m->imported_how;
	str_copy(how_v[*n], how, IMPORTS_MATCH_MAX);
	v[(*n)++] = host;
}

static void match_key(struct match *m, char kind, const char *text)
{
	struct index *ix = m->ix;
	if (!ix->nheads)
		return;
	char key[IMPORTS_KEY_MAX + 2];
	snprintf(key, sizeof(key), "%c%s", kind, text);
	uint64_t h = hash_str(key);
	char how[IMPORTS_MATCH_MAX];
	snprintf(how, sizeof(how), "%s %s", key_kind_name(kind), text);
	for (uint32_t i = ix->heads[h & (ix->nheads - 1)]; i; i = ix->e[i - 1].next)
		if (ix->e[i - 1].hash == h && !strcmp(ix->e[i - 1].key, key))
			note_match(m, ix->e[i - 1].host, how);
}

static int match_cb(enum imports_key_kind kind, const char *text, void *arg)
{
	match_key(arg, (char)kind, text);
	return 0;
}

/* The column a match came from, for the conflict's FILE:LINE: column. */
static const char *match_column(const char *how)
{
	if (!strncmp(how, "MAC", 3))
		return "MACAddress";
	if (!strncmp(how, "SMBIOS", 6))
		return "SMBiosId";
	if (!strncmp(how, "hostname", 8))
		return "HostName";
	return "ExternalId";
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

static bool facts_equal(const Cairn__Store__ImportFacts *a, const Cairn__Store__ImportFacts *b)
{
	if (!a || !b)
		return false;
	size_t na = cairn__store__import_facts__get_packed_size(a);
	size_t nb = cairn__store__import_facts__get_packed_size(b);
	if (na != nb)
		return false;
	uint8_t sa[4096], sb[4096];
	uint8_t *pa = na <= sizeof(sa) ? sa : malloc(na), *pb = nb <= sizeof(sb) ? sb : malloc(nb);
	bool eq = false;
	if (pa && pb) {
		cairn__store__import_facts__pack(a, pa);
		cairn__store__import_facts__pack(b, pb);
		eq = !memcmp(pa, pb, na);
	}
	if (pa != sa)
		free(pa);
	if (pb != sb)
		free(pb);
	return eq;
}

/* What one row becomes. */
struct row_change {
	const struct import_row *row;
	struct import_change *ch;
	uint32_t host;               /* index into ix.hosts, or UINT32_MAX for a new host */
	uint8_t id[32];
	uint32_t fold[4];            /* imported-only hosts folded into the agent host */
	size_t nfold;
	bool write;
};

__attribute__((format(printf, 2, 3)))
static int push_conflict(struct import_result *res, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	int n = vasprintf(&s, f, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	char **v = realloc(res->conflicts, (res->nconflicts + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	res->conflicts = v;
	v[res->nconflicts++] = s;
	return 0;
}

static const char *row_name(const Cairn__Store__ImportFacts *f)
{
	return *f->fqdn ? f->fqdn : *f->hostname ? f->hostname : *f->vm_name ? f->vm_name : f->external_id;
}

/* A cairn export's row keeps the stored Applications and ApplicationWave. */
static bool keep_plan(Cairn__Store__ImportFacts *to, const Cairn__Store__ImportFacts *from)
{
	to->wave = from->wave;
	if (!from->n_applications)
		return true;
	char **v = calloc(from->n_applications, sizeof(*v));
	if (!v)
		return false;
	for (size_t i = 0; i < from->n_applications; i++)
		if (!(v[i] = strdup(from->applications[i]))) {
			while (i)
				free(v[--i]);
			free(v);
			return false;
		}
	for (size_t i = 0; i < to->n_applications; i++)
		free(to->applications[i]);
	free(to->applications);
	to->applications = v;
	to->n_applications = from->n_applications;
	return true;
}

static int match_row(struct index *ix, const struct import_file *file, const struct import_row *row,
		    struct row_change *p, struct import_result *res)
{
	const Cairn__Store__ImportFacts *f = row->facts;
	struct import_change *ch = p->ch;
	ch->line = row->line;
	str_copy(ch->name, row_name(f), sizeof(ch->name));
	p->host = UINT32_MAX;
	struct match m = { .ix = ix };
	/* our own id (what `export mhub-csv` writes as ExternalId) */
	if (is_hex64(f->external_id)) {
		uint8_t id[32];
		hex_decode(id, 32, f->external_id);
		struct known *k = index_host(ix, id);
		if (k)
			note_match(&m, (uint32_t)(k - ix->hosts), "id");
	}
	if (*f->external_id)
		match_key(&m, 'e', f->external_id);
	imports_keys_of_facts(f, match_cb, &m);
	const char *file_name = file->rows_file;
	if (m.nagents > 1) {
		ch->what = IMPORT_REJECTED;
		return push_conflict(res, "%s:%u: %s: matches agent hosts %s (%s) and %s (%s): not merged; fix the row",
				     file_name, row->line, match_column(m.agent_how[1]), ix->hosts[m.agents[0]].name,
				     m.agent_how[0], ix->hosts[m.agents[1]].name, m.agent_how[1]);
	}
	uint32_t target;
	const char *how;
	if (m.nagents == 1) {
		target = m.agents[0];
		how = m.agent_how[0];
		for (size_t i = 0; i < m.nimported && p->nfold < 4; i++)
			p->fold[p->nfold++] = m.imported[i];
	} else if (m.nimported) {
		target = m.imported[0];
		how = m.imported_how[0];
	} else {
		if (imports_host_id(f, p->id)) {
			ch->what = IMPORT_REJECTED;
			return push_conflict(res, "%s:%u: ExternalId: no identity", file_name, row->line);
		}
		struct known *k = index_host(ix, p->id);
		if (!k) {
			ch->what = IMPORT_NEW;
			memcpy(ch->host, p->id, 32);
			hex_encode(ch->host_hex, p->id, 32);
			p->write = true;
			return 0;
		}
		target = (uint32_t)(k - ix->hosts);
		how = "id";
	}
	struct known *k = &ix->hosts[target];
	if (k->taken) {
		ch->what = IMPORT_REJECTED;
		return push_conflict(res, "%s:%u: %s: the same server as line %u (%s %s, by %s): not imported twice",
				     file_name, row->line, match_column(how), k->taken,
				     k->agent ? "agent host" : "imported", k->name, how);
	}
	k->taken = row->line;
	p->host = target;
	memcpy(p->id, k->id, 32);
	memcpy(ch->host, k->id, 32);
	hex_encode(ch->host_hex, k->id, 32);
	ch->merged = k->agent;
	str_copy(ch->matched_by, how, sizeof(ch->matched_by));
	if (k->agent)
		str_copy(ch->agent_name, k->name, sizeof(ch->agent_name));
	if (row->cairn_export && k->agent && !strcmp(how, "id")) {
		/* an agent host's own row of a cairn export: its facts, nothing new */
		p->nfold = 0;
		ch->what = IMPORT_UNCHANGED;
		return 0;
	}
	ch->folded = p->nfold;
	for (size_t i = 0; i < p->nfold; i++)
		ix->hosts[p->fold[i]].gone = true;
	if (row->cairn_export && k->imp && k->imp->facts && !keep_plan(row->facts, k->imp->facts))
		return -ENOMEM;
	bool same = k->imp && facts_equal(k->imp->facts, f) && !p->nfold;
	if (same) {
		ch->what = IMPORT_UNCHANGED;
		return 0;
	}
	ch->what = k->agent && (!k->imp || p->nfold) ? IMPORT_MERGED : k->imp ? IMPORT_UPDATED : IMPORT_NEW;
	p->write = true;
	return 0;
}

/* ------------------------------------------------------------ writing */

struct write_arg {
	const struct import_file *file;
	struct index *ix;
	struct row_change *plan;
	size_t from, to;        /* plan rows of this transaction */
	bool first;
	const char *by;
	int64_t now_ms;
	struct import_result *res;
	struct errbuf *eb;
};

static int write_tags(MDB_txn *txn, const struct db_env *env, const struct write_arg *w,
		      const struct row_change *p)
{
	const Cairn__Store__ImportFacts *f = p->row->facts;
	if (!f->n_tags)
		return 0;
	struct tag_kv kv[TAGS_PER_SUBJECT];
	size_t n = 0;
	for (size_t i = 0; i < f->n_tags && n < TAGS_PER_SUBJECT; i++) {
		size_t k = strcspn(f->tags[i], "=");
		snprintf(kv[n].key, sizeof(kv[n].key), "%.*s", (int)k, f->tags[i]);
		snprintf(kv[n].value, sizeof(kv[n].value), "%s", f->tags[i][k] ? f->tags[i] + k + 1 : "");
		n++;
	}
	char subject[65], source[4200];
	hex_encode(subject, p->id, 32);
	snprintf(source, sizeof(source), "import %s:%u", w->file->rows_file, p->row->line);
	int rc = tags_write(txn, env, subject, kv, n, NULL, 0, w->by, source, w->now_ms, NULL, w->eb);
	if (rc != -E2BIG)
		return rc;
	/* more tags than a host may hold with those already stored: the row
	 * goes in without its tags, and says so (once, also when db_write
	 * replays the transaction after growing the map) */
	w->eb->msg[0] = 0;
	char line[4300];
	snprintf(line, sizeof(line), "%s:%u: Tags: more than %d tags on this host with the stored "
		 "ones: the row was imported without its tags", w->file->rows_file, p->row->line,
		 TAGS_PER_SUBJECT);
	for (size_t i = 0; i < w->res->nconflicts; i++)
		if (!strcmp(w->res->conflicts[i], line))
			return 0;
	return push_conflict(w->res, "%s", line);
}

static int write_fn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct write_arg *w = arg;
	int rc = 0;
	for (size_t i = w->from; i < w->to && !rc; i++) {
		struct row_change *p = &w->plan[i];
		if (!p->write)
			continue;
		struct known *k = p->host == UINT32_MAX ? NULL : &w->ix->hosts[p->host];
		for (size_t j = 0; j < p->nfold && !rc; j++)
			rc = imports_fold(txn, env, w->ix->hosts[p->fold[j]].id, p->id, p->ch->matched_by);
		if (rc)
			break;
		Cairn__Store__ImportedServer rec = CAIRN__STORE__IMPORTED_SERVER__INIT;
		rec.format = (char *)w->file->format;
		rec.file = w->file->rows_file;
		rec.line = p->row->line;
		rec.imported_ms = w->now_ms;
		rec.imported_by = (char *)(w->by ? w->by : "");
		rec.matched_by = p->ch->matched_by;
		rec.merged = k && k->agent;
		rec.facts = p->row->facts;
		rec.raw = p->row->raw;
		rec.n_raw = p->row->nraw;
		if (rec.merged)
			rc = imports_put_merged(txn, env, p->id, &rec);
		else
			rc = imports_put_own(txn, env, p->id, &rec, k ? k->imp : NULL, w->now_ms);
		if (!rc)
			rc = write_tags(txn, env, w, p);
	}
	if (rc) {
		/* MDB_MAP_FULL is replayed by db_write after growing the map */
		if (rc != MDB_MAP_FULL && !w->eb->msg[0])
			errbuf_set(w->eb, rc, "%s: writing the import: %s", w->file->path, db_strerror(rc));
		return rc;
	}
	if ((rc = store_bump_facts_gen(txn, env, w->now_ms)))
		return rc;
	/* the audit entry goes with the first transaction: whatever was written
	 * is accounted for, even when a later transaction fails */
	if (!w->first)
		return 0;
	const size_t *c = w->res->count;
	char detail[512];
	snprintf(detail, sizeof(detail),
		 "%s: %zu rows: %zu new, %zu updated, %zu unchanged, %zu merged, %zu rejected",
		 w->file->format, w->file->lines, c[IMPORT_NEW], c[IMPORT_UPDATED], c[IMPORT_UNCHANGED],
		 c[IMPORT_MERGED], c[IMPORT_REJECTED]);
	return audit_append(txn, env, w->now_ms, w->by ? w->by : "", "import", w->file->path, detail);
}

void import_result_free(struct import_result *res)
{
	free(res->v);
	for (size_t i = 0; i < res->nconflicts; i++)
		free(res->conflicts[i]);
	free(res->conflicts);
	memset(res, 0, sizeof(*res));
}

int import_apply(struct read_ctx *r, const struct import_file *f, bool dry_run, const char *by,
		 int64_t now_ms, struct import_result *out, struct errbuf *eb)
{
	memset(out, 0, sizeof(*out));
	out->v = calloc(f->n + 1, sizeof(*out->v));
	struct row_change *plan = calloc(f->n + 1, sizeof(*plan));
	struct index ix;
	memset(&ix, 0, sizeof(ix));
	int rc = 0;
	if (!out->v || !plan) {
		rc = errbuf_set(eb, -ENOMEM, "out of memory for %zu rows", f->n);
		goto out;
	}
	struct read_txn t;
	if ((rc = read_begin(r, &t, eb)))
		goto out;
	rc = index_load(t.txn, t.db, &ix, eb);
	read_end(&t);
	if (rc)
		goto out;
	size_t nwrite = 0;
	for (size_t i = 0; i < f->n && !rc; i++) {
		plan[i].row = &f->rows[i];
		plan[i].ch = &out->v[out->n++];
		rc = match_row(&ix, f, &f->rows[i], &plan[i], out);
		if (!rc && plan[i].write && plan[i].host == UINT32_MAX) {
			/* a new host: later rows of the file find it by its keys */
			if ((rc = push_known(&ix, plan[i].id, false, plan[i].ch->name)))
				break;
			size_t pos = ix.nhosts - 1;
			ix.hosts[pos].taken = f->rows[i].line;
			struct add_arg a = { &ix, (uint32_t)pos };
			rc = imports_keys_of_facts(f->rows[i].facts, add_key, &a);
			if (!rc && *f->rows[i].facts->external_id)
				rc = index_add(&ix, 'e', f->rows[i].facts->external_id, (uint32_t)pos);
		}
		if (!rc) {
			out->count[plan[i].ch->what]++;
			nwrite += plan[i].write;
		}
	}
	if (rc) {
		if (!eb->msg[0])
			errbuf_set(eb, rc, "%s: matching rows: %s", f->path, db_strerror(rc));
		goto out;
	}
	out->count[IMPORT_REJECTED] += f->nerrors;
	if (dry_run || !nwrite)
		goto out;
	/* a few durable transactions of IMPORT_TXN_ROWS rows each */
	size_t from = 0;
	while (from < f->n && !rc) {
		size_t to = from, rows = 0;
		while (to < f->n && rows < IMPORT_TXN_ROWS)
			rows += plan[to++].write;
		while (to < f->n && !plan[to].write)
			to++;
		struct write_arg w = { f, &ix, plan, from, to, from == 0, by, now_ms, out, eb };
		rc = decide_write(r, write_fn, &w, eb);
		from = to;
	}
	if (!rc) {
		out->written = true;
		if (!read_begin(r, &t, NULL)) {
			out->facts_gen = read_facts_gen(t.txn, t.db);
			read_end(&t);
		}
	}
out:
	free(plan);
	index_free(&ix);
	return rc;
}
