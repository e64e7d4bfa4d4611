/* /api/v1/: the read commands' documents (docs.h) and the decisions a
 * console user may record (web_api.h). */
#include "web_api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "decide.h"
#include "docs.h"
#include "estate.h"
#include "keys.h"
#include "log.h"
#include "migrate.h"
#include "pbjson.h"
#include "progress_docs.h"
#include "rules.h"
#include "snapshot.h"
#include "store.h"

void web_reply_error(struct web_reply *r, unsigned status, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_decref(r->body);
	free(r->raw);
	r->raw = NULL;
	r->status = status;
	r->body = json_pack("{s:o}", "error", docs_json_str(msg));
	r->etag[0] = 0;
}

/* ---------------------------------------------------------------- snapshot cache */

struct web_snap {
	Cairn__Store__Snapshot *s;
	uint64_t version;       /* 0: computed, not stored (never cached) */
	int refs;
};

void web_api_init(struct web_api *a, struct read_ctx *rd)
{
	memset(a, 0, sizeof(*a));
	a->rd = rd;
	pthread_mutex_init(&a->cache.lock, NULL);
	pthread_mutex_init(&a->bodies.lock, NULL);
	progress_writer_init(&a->progress, rd);
}

static void snap_unref_locked(struct web_snap *ws)
{
	if (ws && --ws->refs == 0) {
		cairn__store__snapshot__free_unpacked(ws->s, NULL);
		free(ws);
	}
}

static void snap_release(struct web_api *a, struct web_snap *ws)
{
	pthread_mutex_lock(&a->cache.lock);
	snap_unref_locked(ws);
	pthread_mutex_unlock(&a->cache.lock);
}

void web_api_free(struct web_api *a)
{
	snap_release(a, a->cache.cur);
	a->cache.cur = NULL;
	pthread_mutex_destroy(&a->cache.lock);
	for (size_t i = 0; i < WEB_BODY_CACHE; i++)
		free(a->bodies.v[i].body);
	pthread_mutex_destroy(&a->bodies.lock);
	if (a->progress.reports)
		log_msg(LOGL_INFO, "web: progress: %llu reports stored in %llu write transactions",
			(unsigned long long)a->progress.reports, (unsigned long long)a->progress.groups);
	progress_writer_destroy(&a->progress);
}

/* Version of the newest stored snapshot (the last key), 0 when none. */
static uint64_t latest_version(const struct read_txn *t)
{
	MDB_cursor *c;
	MDB_val k, v;
	uint64_t ver = 0;
	if (mdb_cursor_open(t->txn, t->db->dbi[STORE_SNAPSHOTS], &c))
		return 0;
	if (!mdb_cursor_get(c, &k, &v, MDB_LAST) && k.mv_size >= 8) {
		const uint8_t *b = k.mv_data;
		for (int i = 0; i < 8; i++)
			ver = ver << 8 | b[i];
	}
	mdb_cursor_close(c);
	return ver;
}

/* The latest snapshot with its map: the cached one when still the newest,
 * else read (and cached); computed unstored when none is stored yet. */
static int snap_acquire(struct web_api *a, const struct read_txn *t, struct web_snap **out,
			struct errbuf *eb)
{
	uint64_t ver = latest_version(t);
	pthread_mutex_lock(&a->cache.lock);
	struct web_snap *cur = a->cache.cur;
	if (ver && cur && cur->version == ver) {
		cur->refs++;
		pthread_mutex_unlock(&a->cache.lock);
		*out = cur;
		return 0;
	}
	pthread_mutex_unlock(&a->cache.lock);
	struct web_snap *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return errbuf_set(eb, -ENOMEM, "out of memory");
	int rc;
	if (ver) {
		rc = read_snapshot_latest(t->txn, t->db, true, &ws->s, eb);
	} else {
		struct snapshot_opts so;
		snapshot_opts_default(&so, time_now_ms());
		rc = snapshot_compute(t->txn, t->db, &so, &ws->s, NULL, eb);
	}
	if (rc) {
		free(ws);
		return rc;
	}
	ws->version = ws->s->version;
	ws->refs = 1;
	if (ws->version) {
		pthread_mutex_lock(&a->cache.lock);
		if (!a->cache.cur || a->cache.cur->version < ws->version) {
			snap_unref_locked(a->cache.cur);
			a->cache.cur = ws;
			ws->refs++;
		}
		pthread_mutex_unlock(&a->cache.lock);
	}
	*out = ws;
	return 0;
}

/* ---------------------------------------------------------------- answer cache */

/* A copy of the cached answer to key at etag into r: true on a hit. */
static bool body_get(struct web_api *a, const char *key, const char *etag, struct web_reply *r)
{
	bool hit = false;
	pthread_mutex_lock(&a->bodies.lock);
	for (size_t i = 0; i < WEB_BODY_CACHE && !hit; i++) {
		struct web_body *b = &a->bodies.v[i];
		if (b->body && !strcmp(b->key, key) && !strcmp(b->etag, etag)) {
			r->raw = strdup(b->body);
			hit = r->raw != NULL;
			r->paged = b->paged;
			r->has_next = b->has_next;
			r->total = b->total;
			r->next_offset = b->next_offset;
			b->used = ++a->bodies.tick;
		}
	}
	pthread_mutex_unlock(&a->bodies.lock);
	return hit;
}

/* Serializes r's body into r->raw and keeps a copy (the least recently used
 * entry, or the one of the same key, makes room). */
static void body_put(struct web_api *a, const char *key, struct web_reply *r)
{
	if (!r->body || r->status != 200 || !r->etag[0])
		return;
	r->raw = json_dumps(r->body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!r->raw)
		return;
	json_decref(r->body);
	r->body = NULL;
	char *copy = strdup(r->raw);
	if (!copy)
		return;
	pthread_mutex_lock(&a->bodies.lock);
	struct web_body *slot = &a->bodies.v[0];
	for (size_t i = 0; i < WEB_BODY_CACHE; i++) {
		struct web_body *b = &a->bodies.v[i];
		if (b->body && !strcmp(b->key, key)) {
			slot = b;
			break;
		}
		if (!b->body || b->used < slot->used)
			slot = b;
	}
	free(slot->body);
	slot->body = copy;
	str_copy(slot->key, key, sizeof(slot->key));
	str_copy(slot->etag, r->etag, sizeof(slot->etag));
	slot->paged = r->paged;
	slot->has_next = r->has_next;
	slot->total = r->total;
	slot->next_offset = r->next_offset;
	slot->used = ++a->bodies.tick;
	pthread_mutex_unlock(&a->bodies.lock);
}

/* ---------------------------------------------------------------- helpers */

static void set_etag(struct web_reply *r, const Cairn__Store__Snapshot *s, uint64_t facts_gen)
{
	snprintf(r->etag, sizeof(r->etag), "\"s%llu-g%llu\"", (unsigned long long)s->version,
		 (unsigned long long)facts_gen);
}

/* Pages the list of doc (the array itself, or member key): unpaged when the
 * caller gave no limit and it holds at most WEBQ_ROWS_DEFAULT rows. */
static void paginate(struct web_reply *r, const char *key, const struct webq *q)
{
	json_t *list = key ? json_object_get(r->body, key) : r->body;
	if (!json_is_array(list))
		return;
	size_t total = json_array_size(list);
	if (!q->has_limit && !q->offset && total <= WEBQ_ROWS_DEFAULT)
		return;
	size_t limit = q->has_limit ? q->limit : WEBQ_ROWS_DEFAULT;
	size_t from = q->offset < total ? q->offset : total;
	size_t to = total - from > limit ? from + limit : total;
	json_t *page = json_array();
	for (size_t i = from; page && i < to; i++)
		json_array_append(page, json_array_get(list, i));
	if (!page)
		return;
	if (key) {
		json_object_set_new(r->body, key, page);
	} else {
		json_decref(r->body);
		r->body = page;
	}
	r->paged = true;
	r->total = total;
	r->has_next = to < total;
	r->next_offset = to;
}

static unsigned status_of(int rc)
{
	return rc == -ENOENT ? 404 : rc == -EEXIST || rc == -EINVAL ? 400 : rc == -ENOSYS ? 501 : 500;
}

/* ---------------------------------------------------------------- reads */

/* "tags" on each row of body (an array or one object), as the CLI's --json. */
static void add_tags(const struct read_txn *t, json_t *body, bool apps)
{
	struct tags_all tags;
	if (!body || tags_load(t->txn, t->db, &tags, NULL))
		return;
	docs_add_tags(body, &tags, "id", apps);
	tags_all_free(&tags);
}

static void get_hosts(const struct read_txn *t, struct web_api *a, struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	struct read_agents ags;
	if (read_agents(t, READ_AGENT_FACTS | READ_AGENT_COUNTS | READ_AGENT_HEALTH | READ_AGENT_IMPORTS, &ags,
			&eb)) {
		web_reply_error(r, 500, "%s", eb.msg);
		return;
	}
	struct web_snap *ws = NULL;
	if (snap_acquire(a, t, &ws, &eb))
		ws = NULL; /* no APP column values, like the CLI */
	r->body = docs_hosts(&ags, ws ? ws->s : NULL);
	if (ws)
		snap_release(a, ws);
	read_agents_free(&ags);
	add_tags(t, r->body, false);
}

/* A host named by its full id (what the console's links carry): two
 * lookups instead of read_find_host's pass over every agent and host record
 * (20,000 unpacks at 10,000 hosts). -ENOENT when needle is not a stored id. */
static int host_by_id(const struct read_txn *t, const char *needle, struct read_host *h)
{
	if (strlen(needle) != KEY_ID_HEX_LEN || keys_public_from_hex(needle, h->id))
		return -ENOENT;
	Cairn__Store__Agent *ag = NULL;
	if (store_agent_get(t->txn, t->db, h->id, &ag))
		return -ENOENT;
	keys_id_hex(h->id, h->id_hex);
	keys_fingerprint(h->id, h->fingerprint);
	str_copy(h->hostname, ag->hostname, sizeof(h->hostname));
	cairn__store__agent__free_unpacked(ag, NULL);
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, h->id, KEY_PUBLIC_LEN);
	ProtobufCMessage *m = NULL;
	/* as read_hosts_list names it: the claimed hostname, else the reported one */
	if (!h->hostname[0] && !store_get_msg(t->txn, t->db->dbi[STORE_HOSTS], &k, &cairn__store__host_facts__descriptor, &m)) {
		const Cairn__Store__HostFacts *hf = (const Cairn__Store__HostFacts *)m;
		if (hf->info && *hf->info->hostname)
			str_copy(h->hostname, hf->info->hostname, sizeof(h->hostname));
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

static void get_host(const struct read_txn *t, struct web_api *a, const char *needle,
		     struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	struct read_host h;
	int rc = host_by_id(t, needle, &h) ? read_find_host(t->txn, t->db, needle, &h, &eb) : 0;
	if (rc) {
		web_reply_error(r, status_of(rc), "%s", eb.msg);
		return;
	}
	/* everything stored, as `host` does: the same utilization arithmetic */
	struct estate_opts eo = { .now_ms = time_now_ms(), .percentile = 95,
				  .default_days = UINT32_MAX / 2 };
	struct estate_host eh;
	if ((rc = estate_load_host(t->txn, t->db, h.id, &eo, &eh, &eb))) {
		web_reply_error(r, 500, "%s", eb.msg);
		return;
	}
	struct web_snap *ws = NULL;
	if (snap_acquire(a, t, &ws, &eb))
		ws = NULL;
	Cairn__CollectorHealth *health = read_agent_health(t, h.id);
	r->body = docs_host(&h, &eh, health, ws ? ws->s : NULL);
	{
		struct tags_all tags;
		if (r->body && !tags_load(t->txn, t->db, &tags, NULL)) {
			json_object_set_new(r->body, "tags", docs_tags(tags_of(&tags, h.id_hex)));
			tags_all_free(&tags);
		}
	}
	json_t *migration = NULL;
	if (r->body && !docs_host_migration(t, h.id_hex, &migration, NULL, 0))
		json_object_set_new(r->body, "migration", migration);
	if (health)
		cairn__collector_health__free_unpacked(health, NULL);
	if (ws)
		snap_release(a, ws);
	estate_host_free(&eh);
}

static void get_agents(const struct read_txn *t, const struct webq *q, struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	struct read_agents ags;
	if (read_agents(t, READ_AGENT_HEALTH, &ags, &eb)) {
		web_reply_error(r, 500, "%s", eb.msg);
		return;
	}
	r->body = docs_agents(&ags, q->pending);
	read_agents_free(&ags);
}

static void get_deps(const struct read_txn *t, const Cairn__Store__Snapshot *s,
		     const struct webq *q, struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	char host_id[KEY_ID_HEX_LEN + 1] = "";
	const char *app_id = NULL;
	if (*q->host && *q->app) {
		web_reply_error(r, 400, "give host or app, not both");
		return;
	}
	if (*q->host) {
		struct read_host h;
		int rc = read_find_host(t->txn, t->db, q->host, &h, &eb);
		if (rc) {
			web_reply_error(r, status_of(rc), "%s", eb.msg);
			return;
		}
		memcpy(host_id, h.id_hex, sizeof(host_id));
	}
	if (*q->app) {
		size_t ai;
		int rc = read_find_app(s, q->app, &ai, &eb);
		if (rc) {
			web_reply_error(r, status_of(rc), "%s", eb.msg);
			return;
		}
		app_id = s->apps[ai]->id;
	}
	struct docs_deps_sel sel;
	if (docs_deps_select(s, q->level, *q->host ? host_id : NULL, app_id, &sel)) {
		web_reply_error(r, 500, "out of memory");
		return;
	}
	r->body = docs_deps(s, &sel);
	docs_deps_sel_free(&sel);
}

static void get_app(const struct read_txn *t, const Cairn__Store__Snapshot *s, const char *needle,
		    struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	size_t ai;
	int rc = read_find_app(s, needle, &ai, &eb);
	if (rc) {
		web_reply_error(r, status_of(rc), "%s", eb.msg);
		return;
	}
	struct read_host *hosts = NULL;
	size_t n = 0;
	if ((rc = read_hosts_list(t->txn, t->db, &hosts, &n, &eb))) {
		web_reply_error(r, 500, "%s", eb.msg);
		return;
	}
	r->body = docs_app(s, ai, hosts, n);
	free(hosts);
	add_tags(t, r->body, true);
}

/* GET: documents over one read transaction of this thread. */
static void handle_get(struct web_api *a, char seg[][WEBQ_TEXT_MAX], int nseg,
		       const struct webq *q, struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	if (read_begin(a->rd, &t, &eb)) {
		web_reply_error(r, 503, "%s", eb.msg);
		return;
	}
	const char *what = seg[0];
	bool one = nseg == 1, two = nseg == 2;
	if (one && !strcmp(what, "hosts")) {
		get_hosts(&t, a, r);
		paginate(r, NULL, q);
	} else if (two && !strcmp(what, "hosts")) {
		get_host(&t, a, seg[1], r);
	} else if (one && !strcmp(what, "agents")) {
		get_agents(&t, q, r);
		paginate(r, NULL, q);
	} else if ((one || two) &&
		   (!strcmp(what, "apps") || !strcmp(what, "deps") || !strcmp(what, "readiness") ||
		    !strcmp(what, "sizing") || !strcmp(what, "cost") || !strcmp(what, "waves") ||
		    !strcmp(what, "progress"))) {
		if (two && strcmp(what, "apps") && strcmp(what, "readiness")) {
			web_reply_error(r, 404, "no resource /api/v1/%s/%s", what, seg[1]);
			read_end(&t);
			return;
		}
		struct web_snap *ws = NULL;
		Cairn__Store__Snapshot *since = NULL;
		int rc;
		if (!strcmp(what, "deps") && q->since_ms) {
			/* a map over another period: computed for this request, like deps --since */
			struct snapshot_opts so;
			snapshot_opts_default(&so, time_now_ms());
			so.since_ms = so.now_ms - (int64_t)q->since_ms;
			so.with_plan = false;
			rc = snapshot_compute(t.txn, t.db, &so, &since, NULL, &eb);
		} else {
			rc = snap_acquire(a, &t, &ws, &eb);
		}
		if (rc) {
			web_reply_error(r, 503, "%s", eb.msg);
			read_end(&t);
			return;
		}
		const Cairn__Store__Snapshot *s = since ? since : ws->s;
		/* progress reads migration statuses, which no ETag follows */
		bool cacheable = !since && strcmp(what, "progress");
		char key[1700]; /* fits in web_body.key: the parts are at most 4 x 255 bytes */
		snprintf(key, sizeof(key), "%s/%s?%d&%s&%s&%d&%zu&%zu", what, two ? seg[1] : "",
			 (int)q->level, q->app, q->host, q->has_limit, q->limit, q->offset);
		if (cacheable)
			set_etag(r, s, read_facts_gen(t.txn, t.db));
		if (cacheable && body_get(a, key, r->etag, r)) {
			/* answered from the cache */
		} else if (!strcmp(what, "apps") && two) {
			get_app(&t, s, seg[1], r);
		} else if (!strcmp(what, "apps")) {
			r->body = docs_apps(s);
			add_tags(&t, json_object_get(r->body, "apps"), true);
			paginate(r, "apps", q);
		} else if (!strcmp(what, "deps")) {
			get_deps(&t, s, q, r);
			paginate(r, "edges", q);
		} else if (!strcmp(what, "readiness") && two) {
			const Cairn__Store__Readiness *rd = snapshot_readiness(s, seg[1]);
			size_t ai;
			if (!rd && !read_find_app(s, seg[1], &ai, NULL))
				rd = snapshot_readiness(s, s->apps[ai]->id);
			struct read_host h;
			if (!rd && !read_find_host(t.txn, t.db, seg[1], &h, NULL))
				rd = snapshot_readiness(s, h.id_hex);
			if (rd)
				r->body = docs_message(rd);
			else
				web_reply_error(r, 404, "no readiness for '%s' (no host or application of that name, or no data yet)",
						seg[1]);
		} else if (!strcmp(what, "readiness")) {
			r->body = docs_readiness(s);
			paginate(r, "readiness", q);
		} else if (!strcmp(what, "sizing")) {
			r->body = docs_sizing(s);
			paginate(r, "sizing", q);
		} else if (!strcmp(what, "cost")) {
			r->body = docs_cost(s);
			paginate(r, "hosts", q);
		} else if (!strcmp(what, "waves")) {
			r->body = docs_waves(s, rules_plan.wave_max_hosts);
		} else {
			json_t *doc = NULL;
			if ((rc = docs_progress(&t, s, &doc)))
				web_reply_error(r, 500, "reading migration statuses: %s", db_strerror(rc));
			else
				r->body = doc;
		}
		if (cacheable && !r->raw)
			body_put(a, key, r);
		if (ws)
			snap_release(a, ws);
		if (since)
			cairn__store__snapshot__free_unpacked(since, NULL);
	} else if (one && !strcmp(what, "whoami")) {
		/* filled by the caller: it knows the token */
		r->body = json_object();
	} else {
		web_reply_error(r, 404, "no resource /api/v1/%s%s%s (see docs/console.md)", what,
				nseg > 1 ? "/" : "", nseg > 1 ? seg[1] : "");
	}
	read_end(&t);
	if (!r->body && !r->raw)
		web_reply_error(r, 500, "out of memory");
}

/* ---------------------------------------------------------------- decisions */

struct put {
	Cairn__Store__DecisionKind kind;
	const char *subject, *value, *action;
};

struct puts_arg {
	const struct put *p;
	size_t n;
	struct errbuf *eb;
};

static int puts_fn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct puts_arg *a = arg;
	int64_t now = time_now_ms();
	for (size_t i = 0; i < a->n; i++) {
		int rc = apps_decision_put(txn, env, a->p[i].kind, a->p[i].subject, a->p[i].value,
					   a->p[i].action, now, a->eb);
		if (rc)
			return rc;
	}
	return 0;
}

/* The decision, then a new snapshot so its effect shows at once (as the CLI). */
static int write_decision(struct web_api *a, const struct put *p, struct errbuf *eb)
{
	struct puts_arg pa = { p, 1, eb };
	int rc = decide_write(a->rd, puts_fn, &pa, eb);
	if (rc)
		return rc;
	struct snapshot_opts so;
	snapshot_opts_default(&so, time_now_ms());
	return snapshot_refresh(&a->rd->db, &so, NULL, eb);
}

/* What a POST names, resolved in a read transaction that ends before the
 * write (decide_write wants none open in this thread). */
struct target {
	char app_id[WEBQ_TEXT_MAX], app_name[WEBQ_TEXT_MAX];
	char other_id[WEBQ_TEXT_MAX];
	char host_id[KEY_ID_HEX_LEN + 1];
};

static void handle_post(struct web_api *a, const struct token_info *who,
			char seg[][WEBQ_TEXT_MAX], int nseg, const char *body, size_t blen,
			struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	const char *what = seg[0], *verb = nseg == 3 ? seg[2] : "";
	bool apps = nseg == 3 && !strcmp(what, "apps") &&
		    (!strcmp(verb, "rename") || !strcmp(verb, "merge"));
	bool hosts = nseg == 3 && !strcmp(what, "hosts") &&
		     (!strcmp(verb, "pin") || !strcmp(verb, "unpin"));
	bool migration = nseg == 2 && !strcmp(what, "migration");
	bool agents = nseg == 3 && !strcmp(what, "agents") &&
		      (!strcmp(verb, "accept") || !strcmp(verb, "reject") || !strcmp(verb, "revoke"));
	if (!apps && !hosts && !migration && !agents) {
		web_reply_error(r, 404, "no decision at /api/v1/%s (POST apps/APP/rename|merge, "
				"hosts/HOST/pin|unpin, migration/TARGET, agents/AGENT/accept|reject|revoke)",
				what);
		return;
	}
	enum token_role need = agents ? TOKEN_ROLE_ADMIN : TOKEN_ROLE_OPERATOR;
	if (who->role < need) {
		web_reply_error(r, 403, "token '%s' has role %s; this needs %s", who->name,
				token_role_name(who->role), token_role_name(need));
		return;
	}
	json_t *in = NULL;
	int rc = webq_body(body, blen, &in, &eb);
	if (rc) {
		web_reply_error(r, rc == -E2BIG ? 413 : 400, "%s", eb.msg);
		return;
	}
	/* resolve names */
	struct target tg;
	memset(&tg, 0, sizeof(tg));
	struct read_txn t;
	if (read_begin(a->rd, &t, &eb)) {
		json_decref(in);
		web_reply_error(r, 503, "%s", eb.msg);
		return;
	}
	struct web_snap *ws = NULL;
	const char *name = NULL, *state = NULL, *note = NULL;
	int progress = -1;
	if (agents) {
		if (!a->enroll)
			rc = errbuf_set(&eb, -ENOSYS, "enrollment is not available in this server");
	} else if ((rc = snap_acquire(a, &t, &ws, &eb)) == 0) {
		const Cairn__Store__Snapshot *s = ws->s;
		size_t ai;
		struct read_host h;
		if (apps) {
			if (!(rc = read_find_app(s, seg[1], &ai, &eb))) {
				str_copy(tg.app_id, s->apps[ai]->id, sizeof(tg.app_id));
				str_copy(tg.app_name, s->apps[ai]->name, sizeof(tg.app_name));
			}
			if (!rc && !strcmp(verb, "rename") && !(name = webq_body_str(in, "name", 200, &eb)))
				rc = -EINVAL;
			const char *from = NULL;
			if (!rc && !strcmp(verb, "merge")) {
				if (!(from = webq_body_str(in, "from", WEBQ_TEXT_MAX - 1, &eb)))
					rc = -EINVAL;
				else if (!(rc = read_find_app(s, from, &ai, &eb)))
					str_copy(tg.other_id, s->apps[ai]->id, sizeof(tg.other_id));
				if (!rc && !strcmp(tg.other_id, tg.app_id))
					rc = errbuf_set(&eb, -EINVAL, "'%s' and '%s' are the same application",
							seg[1], from);
			}
		} else if (hosts) {
			if (!(rc = read_find_host(t.txn, t.db, seg[1], &h, &eb)))
				memcpy(tg.host_id, h.id_hex, sizeof(tg.host_id));
			const char *app = NULL;
			if (!rc && !strcmp(verb, "pin")) {
				if (!(app = webq_body_str(in, "app", WEBQ_TEXT_MAX - 1, &eb)))
					rc = -EINVAL;
				else if (!(rc = read_find_app(s, app, &ai, &eb)))
					str_copy(tg.app_id, s->apps[ai]->id, sizeof(tg.app_id));
			}
		} else {
			/* migration/TARGET: a host, else an application ("app:ID") */
			if (!read_find_host(t.txn, t.db, seg[1], &h, NULL))
				str_copy(tg.other_id, h.id_hex, sizeof(tg.other_id));
			else if (!(rc = read_find_app(s, seg[1], &ai, &eb)))
				snprintf(tg.other_id, sizeof(tg.other_id), "app:%s", s->apps[ai]->id);
			if (!rc && !(state = webq_body_str(in, "state", 32, &eb)))
				rc = -EINVAL;
			const json_t *jp = json_object_get(in, "progress");
			if (!rc && jp) {
				if (!json_is_integer(jp) || json_integer_value(jp) < 0 ||
				    json_integer_value(jp) > 100)
					rc = errbuf_set(&eb, -EINVAL, "request body: \"progress\": 0..100");
				else
					progress = (int)json_integer_value(jp);
			}
			if (!rc && json_object_get(in, "note") &&
			    !(note = webq_body_str(in, "note", 500, &eb)))
				rc = -EINVAL;
		}
	}
	read_end(&t);
	if (ws)
		snap_release(a, ws);
	if (rc) {
		json_decref(in);
		web_reply_error(r, status_of(rc), "%s", eb.msg);
		return;
	}
	/* write, acting for the token's owner */
	char actor[96];
	snprintf(actor, sizeof(actor), "web:%s", who->name);
	os_user_act_as(actor);
	if (apps && !strcmp(verb, "rename")) {
		struct put p = { CAIRN__STORE__DECISION_KIND__APP_RENAME, tg.app_id, name, "apps.rename" };
		rc = write_decision(a, &p, &eb);
		r->body = json_pack("{s:s, s:s, s:s, s:o}", "action", "apps.rename", "app", tg.app_id,
				    "by", actor, "name", docs_json_str(name));
	} else if (apps) {
		struct put p = { CAIRN__STORE__DECISION_KIND__APP_MERGE, tg.other_id, tg.app_id,
				 "apps.merge" };
		rc = write_decision(a, &p, &eb);
		r->body = json_pack("{s:s, s:s, s:s, s:s}", "action", "apps.merge", "app", tg.app_id,
				    "merged", tg.other_id, "by", actor);
	} else if (hosts) {
		bool pin = !strcmp(verb, "pin");
		struct put p = { CAIRN__STORE__DECISION_KIND__HOST_PIN, tg.host_id, pin ? tg.app_id : NULL,
				 pin ? "apps.pin" : "apps.unpin" };
		rc = write_decision(a, &p, &eb);
		r->body = json_pack("{s:s, s:s, s:s, s:s}", "action", p.action, "host", tg.host_id, "app",
				    tg.app_id, "by", actor);
	} else if (migration) {
		Cairn__Store__MigrationState st;
		Cairn__Store__MigrationStatus *m = NULL;
		if (migrate_state_parse(state, &st)) {
			rc = errbuf_set(&eb, -EINVAL,
					"\"state\": '%s': use NOT_STARTED, IN_PROGRESS, FAILED or COMPLETED",
					state);
		} else if (!(rc = migrate_set(&a->rd->db, tg.other_id, st, progress, note, actor,
					      time_now_ms(), &m, &eb)) && m) {
			r->body = json_pack("{s:s, s:s, s:i, s:o, s:s, s:I}", "target", m->target, "state",
					    migrate_state_name(m->state), "progress_pct", (int)m->progress_pct,
					    "note", docs_json_str(m->note), "updated_by", m->updated_by,
					    "updated_ms", (json_int_t)m->updated_ms);
			cairn__store__migration_status__free_unpacked(m, NULL);
		}
	} else {
		char hex[65];
		rc = a->enroll(a->rd, seg[1], verb, hex, &eb);
		if (!rc)
			r->body = json_pack("{s:s, s:s, s:s}", "id", hex, "action", verb, "by", actor);
	}
	os_user_act_as(NULL);
	json_decref(in);
	if (rc)
		web_reply_error(r, status_of(rc), "%s", eb.msg[0] ? eb.msg : db_strerror(rc));
	else if (!r->body)
		web_reply_error(r, 500, "out of memory");
	else
		r->status = 200;
}

/* ---------------------------------------------------------------- progress streams */

/* The hosts of a task by id, named as get_host names them (ids sorted: the
 * task keeps them so), for docs_progress_task. *out malloc'd. */
static int task_host_names(const struct read_txn *t, const Cairn__Store__ProgressTask *m,
			   struct read_host **out)
{
	*out = calloc(m->n_hosts + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_hosts; i++) {
		struct read_host *h = &(*out)[i];
		if (!host_by_id(t, m->hosts[i], h))
			continue;
		/* no agent record (an imported server): the name its facts give */
		str_copy(h->id_hex, m->hosts[i], sizeof(h->id_hex));
		uint8_t id[KEY_PUBLIC_LEN];
		ProtobufCMessage *hm = NULL;
		struct db_key k;
		if (keys_public_from_hex(m->hosts[i], id))
			continue;
		db_key_init(&k);
		db_key_bytes(&k, id, sizeof(id));
		if (!store_get_msg(t->txn, t->db->dbi[STORE_HOSTS], &k,
				   &cairn__store__host_facts__descriptor, &hm)) {
			const Cairn__Store__HostFacts *hf = (const Cairn__Store__HostFacts *)hm;
			if (hf->info)
				str_copy(h->hostname, hf->info->hostname, sizeof(h->hostname));
			protobuf_c_message_free_unpacked(hm, NULL);
		}
	}
	return 0;
}

static void progress_read(struct web_api *a, char seg[][WEBQ_TEXT_MAX], int nseg,
			  struct web_reply *r)
{
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	if (read_begin(a->rd, &t, &eb)) {
		web_reply_error(r, 503, "%s", eb.msg);
		return;
	}
	int64_t now = time_now_ms();
	int rc;
	if (nseg == 4) {
		Cairn__Store__ProgressTask *m = NULL;
		struct read_host *names = NULL;
		if ((rc = progress_task_read(t.txn, t.db, seg[1], seg[3], &m, &eb)) ||
		    (rc = task_host_names(&t, m, &names)))
			web_reply_error(r, status_of(rc), "%s", eb.msg[0] ? eb.msg : "out of memory");
		else
			r->body = docs_progress_task(m, now, names, m->n_hosts);
		free(names);
		if (m)
			cairn__store__progress_task__free_unpacked(m, NULL);
		read_end(&t);
		return;
	}
	struct progress_tasks ts;
	if ((rc = progress_tasks_read(t.txn, t.db, nseg == 1 ? NULL : seg[1], &ts, &eb))) {
		web_reply_error(r, 500, "%s", eb.msg);
		read_end(&t);
		return;
	}
	if (nseg == 1) {
		struct progress_stream *sv = NULL;
		size_t sn = 0;
		if (progress_streams(&ts, now, &sv, &sn))
			web_reply_error(r, 500, "out of memory");
		else
			r->body = docs_progress_streams(sv, sn);
		free(sv);
	} else if (!ts.n) {
		web_reply_error(r, 404, "no stream '%s' (no task reported in it; GET /api/v1/progress-streams lists them)",
				seg[1]);
	} else {
		struct read_host *hosts = NULL;
		size_t nh = 0;
		if (read_hosts_list(t.txn, t.db, &hosts, &nh, &eb))
			web_reply_error(r, 500, "%s", eb.msg);
		else
			r->body = docs_progress_tasks(seg[1], &ts, now, hosts, nh);
		free(hosts);
	}
	progress_tasks_free(&ts);
	read_end(&t);
}

/* The answer to a stored report: the task as stored, with its hosts named. */
static void put_reply(struct web_api *a, const struct progress_result *res, int64_t now,
		      struct web_reply *r)
{
	struct read_txn t;
	struct read_host *names = NULL;
	if (!read_begin(a->rd, &t, NULL)) {
		if (task_host_names(&t, res->task, &names))
			names = NULL;
		read_end(&t);
	}
	r->body = docs_progress_task(res->task, now, names, names ? res->task->n_hosts : 0);
	free(names);
	if (!r->body) {
		web_reply_error(r, 500, "out of memory");
		return;
	}
	json_object_set_new(r->body, "applied", json_boolean(res->applied));
	json_object_set_new(r->body, "created", json_boolean(res->created));
	r->status = res->created && res->applied ? 201 : 200;
}

/* The writer thread: the report's group is committed. The answer is built
 * by the request thread (web_api_pending_reply), so the writer goes on. */
static void pending_done(void *arg, int rc, const char *msg)
{
	struct web_pending *p = arg;
	p->rc = rc;
	str_copy(p->msg, msg, sizeof(p->msg));
	p->resume(p->arg);
}

void web_api_pending_free(struct web_pending *p)
{
	progress_result_free(&p->res);
	free(p->u);
	p->u = NULL;
}

void web_api_pending_reply(struct web_pending *p)
{
	if (p->rc)
		web_reply_error(p->r, status_of(p->rc), "%s", p->msg);
	else
		put_reply(p->api, &p->res, p->now_ms, p->r);
	progress_result_free(&p->res);
	free(p->u);
	p->u = NULL;
}

static void progress_write(struct web_api *a, const char *actor, const char *method,
			   char seg[][WEBQ_TEXT_MAX], int nseg, const char *body, size_t blen,
			   struct web_reply *r, struct web_pending *pend)
{
	struct errbuf eb = { { 0 } };
	int64_t now = time_now_ms();
	int rc;
	if (!strcmp(method, "DELETE")) {
		size_t n = 0;
		if ((rc = progress_delete(&a->progress, seg[1], nseg == 4 ? seg[3] : NULL, actor, now,
					  &n, &eb)))
			web_reply_error(r, status_of(rc), "%s", eb.msg);
		else
			r->body = json_pack("{s:s, s:o, s:o, s:i, s:s}", "action", "progress.delete",
					    "stream", docs_json_str(seg[1]), "task",
					    nseg == 4 ? docs_json_str(seg[3]) : json_null(), "deleted",
					    (int)n, "by", actor);
		return;
	}
	struct progress_update *u = malloc(sizeof(*u));
	json_t *in = NULL;
	if (!u) {
		web_reply_error(r, 500, "out of memory");
		return;
	}
	unsigned bad = 400;
	if ((rc = progress_update_init(u, seg[1], seg[3], &eb)) ||
	    (rc = webq_body(body, blen, &in, &eb)) || (rc = progress_update_from_json(in, u, &eb))) {
		if (rc == -E2BIG && !in)
			bad = 413; /* the body, not the resources */
		web_reply_error(r, bad, "%s", eb.msg);
		json_decref(in);
		free(u);
		return;
	}
	json_decref(in);
	if (pend) {
		/* queued: the request thread goes on with other connections */
		pend->api = a;
		pend->u = u;
		pend->now_ms = now;
		pend->r = r;
		str_copy(pend->actor, actor, sizeof(pend->actor));
		rc = progress_submit(&a->progress, u, pend->actor, now, &pend->res, pending_done, pend, &eb);
		if (!rc) {
			pend->queued = true;
			return;
		}
		pend->u = NULL;
		if (rc != -EAGAIN) {
			free(u);
			web_reply_error(r, status_of(rc), "%s", eb.msg);
			return;
		}
		eb.msg[0] = 0; /* the writer thread stops: write here */
	}
	struct progress_result res;
	rc = progress_put(&a->progress, u, actor, now, &res, &eb);
	free(u);
	if (rc) {
		web_reply_error(r, status_of(rc), "%s", eb.msg);
		return;
	}
	put_reply(a, &res, now, r);
	progress_result_free(&res);
}

/* /api/v1/progress-streams[/STREAM[/tasks[/TASK]]]: the migration tools'
 * reports (progress.h). Reading needs any token, writing an operator's. */
static void handle_progress(struct web_api *a, const struct token_info *who, const char *method,
			    char seg[][WEBQ_TEXT_MAX], int nseg, const char *body, size_t blen,
			    struct web_reply *r, struct web_pending *pend)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool put = !strcmp(method, "PUT"), del = !strcmp(method, "DELETE");
	bool tasks = nseg >= 3 && !strcmp(seg[2], "tasks");
	bool path_ok = nseg == 1 || nseg == 2 || (tasks && (nseg == 3 || nseg == 4));
	if (!path_ok) {
		web_reply_error(r, 404, "no resource there: progress-streams, progress-streams/STREAM/tasks, "
				"progress-streams/STREAM/tasks/TASK");
		return;
	}
	bool allowed = get ? true : put ? nseg == 4 : del ? nseg == 2 || nseg == 4 : false;
	if (!allowed) {
		web_reply_error(r, 405, "method %s on %s: %s", method,
				nseg == 4 ? "a task" : nseg == 1 ? "the streams" : "a stream",
				nseg == 4 ? "use GET, PUT or DELETE" : nseg == 2 ? "use GET or DELETE" : "use GET");
		return;
	}
	if (nseg >= 2 && progress_name_check("stream", seg[1], PROGRESS_STREAM_MAX, NULL)) {
		struct errbuf eb = { { 0 } };
		progress_name_check("stream", seg[1], PROGRESS_STREAM_MAX, &eb);
		web_reply_error(r, 400, "%s", eb.msg);
		return;
	}
	if (nseg == 4 && progress_name_check("task", seg[3], PROGRESS_TASK_MAX, NULL)) {
		struct errbuf eb = { { 0 } };
		progress_name_check("task", seg[3], PROGRESS_TASK_MAX, &eb);
		web_reply_error(r, 400, "%s", eb.msg);
		return;
	}
	if (get) {
		progress_read(a, seg, nseg, r);
		return;
	}
	if (who->role < TOKEN_ROLE_OPERATOR) {
		web_reply_error(r, 403, "token '%s' has role %s; this needs %s", who->name,
				token_role_name(who->role), token_role_name(TOKEN_ROLE_OPERATOR));
		return;
	}
	char actor[96];
	snprintf(actor, sizeof(actor), "web:%s", who->name);
	progress_write(a, actor, method, seg, nseg, body, blen, r, pend);
}

static void handle(struct web_api *a, const struct token_info *caller, const char *method,
		   const char *path, const struct webq *q, const char *body, size_t blen,
		   struct web_reply *r, struct web_pending *pend)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	char seg[4][WEBQ_TEXT_MAX];
	int nseg = webq_path(path, seg, 4);
	if (nseg <= 0) {
		web_reply_error(r, nseg == 0 ? 404 : 400,
				nseg == 0 ? "the API is below /api/v1/: hosts, deps, apps, readiness, "
					    "sizing, cost, waves, progress, progress-streams, agents"
					  : "a path segment is empty, too long or not text");
		return;
	}
	if (!strcmp(seg[0], "progress-streams")) {
		handle_progress(a, caller, method, seg, nseg, body, blen, r, pend);
	} else if (nseg > 3) {
		web_reply_error(r, 404, "no resource /api/v1/%s/... (see docs/console.md)", seg[0]);
	} else if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
		handle_get(a, seg, nseg, q, r);
		if (r->status == 200 && nseg == 1 && !strcmp(seg[0], "whoami")) {
			json_t *me = json_pack("{s:s, s:s}", "name", caller->name, "role",
					       token_role_name(caller->role));
			json_object_update(r->body, me);
			json_decref(me);
		}
	} else if (!strcmp(method, "POST")) {
		handle_post(a, caller, seg, nseg, body, blen, r);
	} else {
		web_reply_error(r, 405, "method %s: use GET or POST", method);
	}
}

void web_api_handle(struct web_api *a, const struct token_info *caller, const char *method,
		    const char *path, const struct webq *q, const char *body, size_t blen,
		    struct web_reply *r)
{
	handle(a, caller, method, path, q, body, blen, r, NULL);
}

bool web_api_handle_async(struct web_api *a, const struct token_info *caller, const char *method,
			  const char *path, const struct webq *q, const char *body, size_t blen,
			  struct web_reply *r, struct web_pending *pend)
{
	pend->queued = false;
	handle(a, caller, method, path, q, body, blen, r, pend);
	return pend->queued;
}
