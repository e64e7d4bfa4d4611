/* Migration tracking and validation; see migrate.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "migrate.h"
#include "progress.h"
#include "rules.h"
#include "store.h"

static const char *const state_names[] = {
	[CAIRN__STORE__MIGRATION_STATE__MIGRATION_STATE_UNSPECIFIED] = "NOT_STARTED",
	[CAIRN__STORE__MIGRATION_STATE__NOT_STARTED] = "NOT_STARTED",
	[CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS] = "IN_PROGRESS",
	[CAIRN__STORE__MIGRATION_STATE__FAILED] = "FAILED",
	[CAIRN__STORE__MIGRATION_STATE__COMPLETED] = "COMPLETED",
};

int migrate_state_parse(const char *s, Cairn__Store__MigrationState *out)
{
	char buf[32];
	size_t i;
	for (i = 0; s[i] && i + 1 < sizeof(buf); i++)
		buf[i] = s[i] == '-' ? '_' : (char)toupper((unsigned char)s[i]);
	buf[i] = 0;
	for (int k = CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
	     k <= CAIRN__STORE__MIGRATION_STATE__COMPLETED; k++)
		if (!strcmp(buf, state_names[k])) {
			*out = (Cairn__Store__MigrationState)k;
			return 0;
		}
	return -EINVAL;
}

const char *migrate_state_name(Cairn__Store__MigrationState s)
{
	if ((unsigned)s < ARRAY_SIZE(state_names))
		return state_names[s];
	return "NOT_STARTED";
}

int migrate_get(MDB_txn *txn, const struct db_env *env, const char *key,
		Cairn__Store__MigrationStatus **out)
{
	*out = NULL;
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = mdb_get(txn, env->dbi[STORE_MIGRATION], &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	*out = cairn__store__migration_status__unpack(NULL, v.mv_size, v.mv_data);
	return *out ? 0 : -EBADMSG;
}

struct set_arg {
	const char *key;
	Cairn__Store__MigrationState state;
	int progress;
	const char *note;
	const char *user;
	int64_t now_ms;
	Cairn__Store__MigrationStatus *result;
	struct errbuf *eb;
};

static int put_msg(MDB_txn *txn, MDB_dbi dbi, const void *kp, size_t klen,
		   const Cairn__Store__MigrationStatus *m)
{
	MDB_val k = { klen, (void *)kp }, v = { cairn__store__migration_status__get_packed_size(m), NULL };
	int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
	if (rc)
		return rc;
	cairn__store__migration_status__pack(m, v.mv_data);
	return 0;
}

struct set_ctx {
	struct set_arg *a;
	const struct db_env *env;
};

static int set_txn(MDB_txn *txn, void *argp)
{
	struct set_ctx *c = argp;
	struct set_arg *a = c->a;
	Cairn__Store__MigrationStatus *prev = NULL;
	int rc = migrate_get(txn, c->env, a->key, &prev);
	if (rc)
		return rc;
	Cairn__Store__MigrationStatus m = CAIRN__STORE__MIGRATION_STATUS__INIT;
	m.target = (char *)a->key;
	m.state = a->state;
	if (a->progress >= 0)
		m.progress_pct = (uint32_t)a->progress;
	else if (a->state == CAIRN__STORE__MIGRATION_STATE__COMPLETED)
		m.progress_pct = 100;
	else if (a->state == CAIRN__STORE__MIGRATION_STATE__NOT_STARTED)
		m.progress_pct = 0;
	else
		m.progress_pct = prev ? prev->progress_pct : 0;
	m.note = (char *)(a->note ? a->note : prev ? prev->note : "");
	m.updated_by = (char *)a->user;
	m.updated_ms = a->now_ms;
	if ((rc = put_msg(txn, c->env->dbi[STORE_MIGRATION], a->key, strlen(a->key), &m)))
		goto out;
	size_t klen = strlen(a->key);
	uint8_t hk[DB_KEY_MAX];
	if (klen + 9 > sizeof(hk)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(hk, a->key, klen);
	hk[klen] = 0;
	/* two changes within one millisecond keep both history entries: the
	 * later one takes the next free millisecond instead of replacing */
	for (int64_t t = a->now_ms;; t++) {
		db_put_u64(hk + klen + 1, (uint64_t)t);
		MDB_val hkv = { klen + 9, hk }, old;
		rc = mdb_get(txn, c->env->dbi[STORE_MIGRATION_HIST], &hkv, &old);
		if (rc == MDB_NOTFOUND)
			break;
		if (rc)
			goto out;
		if (t - a->now_ms >= 1000) {
			rc = -EEXIST;
			goto out;
		}
	}
	if ((rc = put_msg(txn, c->env->dbi[STORE_MIGRATION_HIST], hk, klen + 9, &m)))
		goto out;
	char detail[512];
	snprintf(detail, sizeof(detail), "%s -> %s %u%%%s%s", prev ? migrate_state_name(prev->state) : "NOT_STARTED",
		 migrate_state_name(a->state), m.progress_pct, *m.note ? ": " : "", m.note);
	if ((rc = audit_append(txn, c->env, a->now_ms, a->user, "migrate.set", a->key, detail)))
		goto out;
	/* hand back a copy of what was stored (db_write may run us twice) */
	if (a->result)
		cairn__store__migration_status__free_unpacked(a->result, NULL);
	a->result = NULL;
	size_t len = cairn__store__migration_status__get_packed_size(&m);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf) {
		cairn__store__migration_status__pack(&m, buf);
		a->result = cairn__store__migration_status__unpack(NULL, len, buf);
		free(buf);
	}
out:
	if (prev)
		cairn__store__migration_status__free_unpacked(prev, NULL);
	return rc;
}

int migrate_set(struct db_env *env, const char *key, Cairn__Store__MigrationState state,
		int progress, const char *note, const char *user, int64_t now_ms,
		Cairn__Store__MigrationStatus **out, struct errbuf *eb)
{
	if (progress > 100)
		return errbuf_set(eb, -EINVAL, "progress %d%%: use 0..100", progress);
	struct set_arg a = { key, state, progress, note, user, now_ms, NULL, eb };
	struct set_ctx c = { &a, env };
	int rc = db_write(env, set_txn, &c);
	if (rc) {
		if (a.result)
			cairn__store__migration_status__free_unpacked(a.result, NULL);
		return errbuf_set(eb, rc, "storing the migration status of %s: %s", key, db_strerror(rc));
	}
	if (out)
		*out = a.result;
	else if (a.result)
		cairn__store__migration_status__free_unpacked(a.result, NULL);
	return 0;
}

void migrate_list_free(Cairn__Store__MigrationStatus **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cairn__store__migration_status__free_unpacked(v[i], NULL);
	free(v);
}

int migrate_history(MDB_txn *txn, const struct db_env *env, const char *key,
		    Cairn__Store__MigrationStatus ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t klen = strlen(key);
	uint8_t pk[DB_KEY_MAX];
	if (klen + 1 > sizeof(pk))
		return -ENAMETOOLONG;
	memcpy(pk, key, klen);
	pk[klen] = 0;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_MIGRATION_HIST], &cur);
	if (rc)
		return rc;
	MDB_val k = { klen + 1, pk }, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != klen + 9 || memcmp(k.mv_data, pk, klen + 1))
			break;
		Cairn__Store__MigrationStatus *m =
			cairn__store__migration_status__unpack(NULL, v.mv_size, v.mv_data);
		if (!m)
			continue;
		Cairn__Store__MigrationStatus **nv = realloc(*out, (*n + 1) * sizeof(*nv));
		if (!nv) {
			cairn__store__migration_status__free_unpacked(m, NULL);
			rc = -ENOMEM;
			break;
		}
		*out = nv;
		nv[(*n)++] = m;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

Cairn__Store__MigrationState migrate_state_derive(const unsigned counts[static 5])
{
	unsigned n = 0;
	for (int k = 0; k < 5; k++)
		n += counts[k];
	if (n && counts[CAIRN__STORE__MIGRATION_STATE__COMPLETED] == n)
		return CAIRN__STORE__MIGRATION_STATE__COMPLETED;
	if (counts[CAIRN__STORE__MIGRATION_STATE__FAILED])
		return CAIRN__STORE__MIGRATION_STATE__FAILED;
	if (counts[CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS] ||
	    counts[CAIRN__STORE__MIGRATION_STATE__COMPLETED])
		return CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS;
	return CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
}

static Cairn__Store__MigrationState known_state(Cairn__Store__MigrationState s)
{
	return s >= CAIRN__STORE__MIGRATION_STATE__NOT_STARTED &&
			       s <= CAIRN__STORE__MIGRATION_STATE__COMPLETED
		       ? s
		       : CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
}

int migrate_host_status(MDB_txn *txn, const struct db_env *env, const char *host_id,
			const struct progress_hosts *tasks, struct migrate_host_status *out)
{
	memset(out, 0, sizeof(*out));
	out->state = CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
	out->tasks = progress_hosts_get(tasks, host_id);
	if (out->tasks) {
		out->state = out->tasks->state;
		out->percent = out->tasks->percent;
	}
	Cairn__Store__MigrationStatus *m = NULL;
	int rc = migrate_get(txn, env, host_id, &m);
	if (rc || !m)
		return rc;
	out->explicit_status = true;
	out->set_state = known_state(m->state);
	out->set_percent = out->set_state == CAIRN__STORE__MIGRATION_STATE__COMPLETED ? 100 : m->progress_pct;
	str_copy(out->set_by, m->updated_by, sizeof(out->set_by));
	out->set_ms = m->updated_ms;
	out->state = out->set_state;
	out->percent = out->set_percent;
	cairn__store__migration_status__free_unpacked(m, NULL);
	return 0;
}

void migrate_host_status_text(const struct migrate_host_status *s, char *out, size_t n)
{
	int used = snprintf(out, n, "%s %.0f%%", migrate_state_name(s->state), s->percent);
	if (used < 0 || (size_t)used >= n)
		return;
	if (s->explicit_status)
		used += snprintf(out + used, n - (size_t)used, " (set by %s)", s->set_by);
	else if (s->tasks)
		used += snprintf(out + used, n - (size_t)used, " (from tasks)");
	if (used < 0 || (size_t)used >= n || !s->tasks)
		return;
	const struct progress_host *t = s->tasks;
	char stale[32] = "";
	if (t->stale)
		snprintf(stale, sizeof(stale), ", %u stale", t->stale);
	snprintf(out + used, n - (size_t)used, " \u00b7 tasks: %s %.0f%% (%u task%s%s, stream%s %s)",
		 migrate_state_name(t->state), t->percent, t->tasks, t->tasks == 1 ? "" : "s", stale,
		 strchr(t->streams, ',') ? "s" : "", t->streams);
}

int migrate_app_progress(MDB_txn *txn, const struct db_env *env, const Cairn__Store__App *app,
			 const struct progress_hosts *tasks, struct migrate_app_progress *out)
{
	memset(out, 0, sizeof(*out));
	double sum = 0;
	for (size_t i = 0; i < app->n_hosts; i++) {
		struct migrate_host_status hs;
		int rc = migrate_host_status(txn, env, app->hosts[i], tasks, &hs);
		if (rc)
			return rc;
		out->hosts[hs.state]++;
		sum += hs.state == CAIRN__STORE__MIGRATION_STATE__COMPLETED ? 100 : hs.percent;
		if (hs.tasks) {
			out->tasks += hs.tasks->tasks;
			out->stale_tasks += hs.tasks->stale;
			for (int k = 0; k < 5; k++)
				out->task_states[k] += hs.tasks->states[k];
		}
	}
	out->percent = app->n_hosts ? sum / (double)app->n_hosts : 0;
	out->state = migrate_state_derive(out->hosts);
	if (!app->n_hosts)
		out->state = CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
	char key[300];
	snprintf(key, sizeof(key), "app:%s", app->id);
	Cairn__Store__MigrationStatus *m = NULL;
	int rc = migrate_get(txn, env, key, &m);
	if (rc)
		return rc;
	if (m) {
		out->explicit_status = true;
		out->state = m->state ? m->state : CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
		if (m->progress_pct || m->state == CAIRN__STORE__MIGRATION_STATE__NOT_STARTED)
			out->percent = m->progress_pct;
		if (m->state == CAIRN__STORE__MIGRATION_STATE__COMPLETED)
			out->percent = 100;
		cairn__store__migration_status__free_unpacked(m, NULL);
	}
	return 0;
}

/* ---------------------------------------------------------------- validate */

const char *migrate_check_name(enum migrate_check_status s)
{
	switch (s) {
	case MIGRATE_OK: return "ok";
	case MIGRATE_MISSING: return "MISSING";
	case MIGRATE_CHANGED: return "changed";
	case MIGRATE_EXTRA: return "extra";
	}
	return "?";
}

void migrate_report_free(struct migrate_report *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int add_check(struct migrate_report *r, const char *area, const char *item, const char *src,
		     const char *dst, enum migrate_check_status st, bool important)
{
	struct migrate_check *v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->v = v;
	struct migrate_check *c = &v[r->n++];
	memset(c, 0, sizeof(*c));
	str_copy(c->area, area, sizeof(c->area));
	str_copy(c->item, item, sizeof(c->item));
	str_copy(c->source, src ? src : "-", sizeof(c->source));
	str_copy(c->target, dst ? dst : "-", sizeof(c->target));
	c->status = st;
	c->important = important && st == MIGRATE_MISSING;
	if (c->important)
		r->important_missing++;
	return 0;
}

static const char *proto_name(Cairn__Protocol p)
{
	return p == CAIRN__PROTOCOL__UDP ? "udp" : "tcp";
}

static bool has_listener(const struct estate_host *h, Cairn__Protocol proto, uint32_t port,
			 const char **who)
{
	for (size_t i = 0; h->listeners && i < h->listeners->n_listeners; i++) {
		const Cairn__Listener *l = h->listeners->listeners[i];
		if (l->protocol == proto && l->port == port) {
			if (who)
				*who = l->process_name;
			return true;
		}
	}
	return false;
}

static int check_listeners(const struct estate_host *s, const struct estate_host *t,
			   struct migrate_report *r)
{
	int rc = 0;
	for (size_t i = 0; s->listeners && i < s->listeners->n_listeners && !rc; i++) {
		const Cairn__Listener *l = s->listeners->listeners[i];
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= s->listeners->listeners[j]->port == l->port &&
			       s->listeners->listeners[j]->protocol == l->protocol;
		if (dup)
			continue;
		char item[64];
		snprintf(item, sizeof(item), "%s/%u", proto_name(l->protocol), l->port);
		const char *who = NULL;
		bool ok = has_listener(t, l->protocol, l->port, &who);
		/* UDP ephemeral client sockets and loopback-only helpers matter less */
		bool important = l->protocol == CAIRN__PROTOCOL__TCP && strcmp(l->address, "127.0.0.1") &&
				 strcmp(l->address, "::1");
		rc = add_check(r, "listener", item, l->process_name, ok ? who : NULL,
			       ok ? MIGRATE_OK : MIGRATE_MISSING, important);
	}
	for (size_t i = 0; t->listeners && i < t->listeners->n_listeners && !rc; i++) {
		const Cairn__Listener *l = t->listeners->listeners[i];
		if (has_listener(s, l->protocol, l->port, NULL))
			continue;
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= t->listeners->listeners[j]->port == l->port &&
			       t->listeners->listeners[j]->protocol == l->protocol;
		if (dup)
			continue;
		char item[64];
		snprintf(item, sizeof(item), "%s/%u", proto_name(l->protocol), l->port);
		rc = add_check(r, "listener", item, NULL, l->process_name, MIGRATE_EXTRA, false);
	}
	return rc;
}

static const char *node_name(const Cairn__Store__DepMap *m, const char *id)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (!strcmp(m->nodes[i]->id, id))
			return *m->nodes[i]->name ? m->nodes[i]->name : id;
	return id;
}

static bool has_edge(const Cairn__Store__DepMap *m, bool outbound, const char *host,
		     const char *peer, uint32_t port)
{
	for (size_t i = 0; i < m->n_host_edges; i++) {
		const Cairn__Store__MapEdge *e = m->host_edges[i];
		const char *self = outbound ? e->from : e->to, *other = outbound ? e->to : e->from;
		if (!strcmp(self, host) && !strcmp(other, peer) && e->port == port)
			return true;
	}
	return false;
}

static const Cairn__Store__MapNode *find_node(const Cairn__Store__DepMap *m, const char *id)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (!strcmp(m->nodes[i]->id, id))
			return m->nodes[i];
	return NULL;
}

/* The target uses another member of peer's shared-infrastructure group on
 * the same port (the second DNS or LDAP server): the dependency is there.
 * Returns that member's id, or NULL. */
static const char *replica_used(const Cairn__Store__DepMap *m, const char *target,
				const char *peer, uint32_t port)
{
	const Cairn__Store__MapNode *p = find_node(m, peer);
	if (!p || !p->infrastructure || !*p->app_id)
		return NULL;
	for (size_t i = 0; i < m->n_host_edges; i++) {
		const Cairn__Store__MapEdge *e = m->host_edges[i];
		if (strcmp(e->from, target) || !strcmp(e->to, peer) || e->port != port)
			continue;
		const Cairn__Store__MapNode *q = find_node(m, e->to);
		if (q && q->infrastructure && !strcmp(q->app_id, p->app_id))
			return e->to;
	}
	return NULL;
}

static int check_deps(const struct estate_host *s, const struct estate_host *t,
		      const Cairn__Store__DepMap *m, bool outbound, struct migrate_report *r)
{
	int rc = 0;
	const char *area = outbound ? "outbound" : "inbound";
	for (size_t i = 0; i < m->n_host_edges && !rc; i++) {
		const Cairn__Store__MapEdge *e = m->host_edges[i];
		const char *self = outbound ? e->from : e->to, *other = outbound ? e->to : e->from;
		if (strcmp(self, s->id) || !strcmp(other, t->id) || !strcmp(other, s->id))
			continue;
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++) {
			const Cairn__Store__MapEdge *f = m->host_edges[j];
			dup = !strcmp(outbound ? f->from : f->to, s->id) &&
			      !strcmp(outbound ? f->to : f->from, other) && f->port == e->port;
		}
		if (dup)
			continue;
		char item[160];
		snprintf(item, sizeof(item), "%s %s:%u", outbound ? "to" : "from", node_name(m, other), e->port);
		bool ok = has_edge(m, outbound, t->id, other, e->port);
		char via[200] = "seen";
		const char *replica = !ok && outbound ? replica_used(m, t->id, other, e->port) : NULL;
		if (replica) {
			ok = true;
			snprintf(via, sizeof(via), "seen via %s (same shared group)",
				 node_name(m, replica));
		}
		/* A client that has not been pointed at the new host yet is expected
		 * during a cut-over; a dependency the new host cannot reach is not. */
		rc = add_check(r, area, item, "seen", ok ? via : NULL, ok ? MIGRATE_OK : MIGRATE_MISSING,
			       outbound);
	}
	return rc;
}

static bool key_package(const struct estate_host *h, const char *name)
{
	for (size_t i = 0; rules_key_packages[i]; i++) {
		size_t n = strlen(rules_key_packages[i]);
		if (strncmp(name, rules_key_packages[i], n))
			continue;
		const char *rest = name + n;
		if (!*rest || isdigit((unsigned char)rest[0]) ||
		    ((rest[0] == '-' || rest[0] == '.') && isdigit((unsigned char)rest[1])))
			return true;
	}
	for (size_t i = 0; h->listeners && i < h->listeners->n_listeners; i++) {
		const char *p = h->listeners->listeners[i]->process_name;
		if (*p && strlen(p) >= 3 && !strncmp(name, p, strlen(p)))
			return true;
	}
	return false;
}

static const Cairn__Package *find_pkg(const struct estate_host *h, const char *name)
{
	for (size_t i = 0; i < h->npkgs; i++)
		for (size_t j = 0; j < h->pkgs[i]->n_packages; j++)
			if (!strcmp(h->pkgs[i]->packages[j]->name, name))
				return h->pkgs[i]->packages[j];
	return NULL;
}

static int check_packages(const struct estate_host *s, const struct estate_host *t,
			  struct migrate_report *r)
{
	int rc = 0;
	for (size_t i = 0; i < s->npkgs && !rc; i++)
		for (size_t j = 0; j < s->pkgs[i]->n_packages && !rc; j++) {
			const Cairn__Package *p = s->pkgs[i]->packages[j];
			if (!key_package(s, p->name))
				continue;
			const Cairn__Package *q = find_pkg(t, p->name);
			rc = add_check(r, "package", p->name, p->version, q ? q->version : NULL,
				       !q ? MIGRATE_MISSING : strcmp(p->version, q->version) ? MIGRATE_CHANGED
											   : MIGRATE_OK,
				       true);
		}
	return rc;
}

static int check_util(const struct estate_host *s, const struct estate_host *t,
		      struct migrate_report *r)
{
	char a[96], b[96];
	snprintf(a, sizeof(a), "%.1f%% of %u vCPU", s->stat[ESTATE_CPU_PCT].pctl, s->cpu_threads);
	snprintf(b, sizeof(b), "%.1f%% of %u vCPU", t->stat[ESTATE_CPU_PCT].pctl, t->cpu_threads);
	/* worth a look when the target runs hot and hotter than the source did */
	bool hot = t->stat[ESTATE_CPU_PCT].pctl > rules_validate.cpu_high_pct &&
		   t->stat[ESTATE_CPU_PCT].pctl > s->stat[ESTATE_CPU_PCT].pctl;
	int rc = add_check(r, "utilization", hot ? "cpu peak (target above limit)" : "cpu peak", a,
			   t->windows ? b : NULL, !t->windows ? MIGRATE_MISSING : hot ? MIGRATE_CHANGED : MIGRATE_OK,
			   false);
	if (rc)
		return rc;
	const double gib = 1024.0 * 1024 * 1024;
	snprintf(a, sizeof(a), "%.2f of %.2f GiB", s->stat[ESTATE_MEM_USED].pctl / gib, s->mem_total / gib);
	snprintf(b, sizeof(b), "%.2f of %.2f GiB", t->stat[ESTATE_MEM_USED].pctl / gib, t->mem_total / gib);
	bool full = t->mem_total &&
		    t->stat[ESTATE_MEM_USED].pctl > rules_validate.mem_high_share * t->mem_total &&
		    t->stat[ESTATE_MEM_USED].pctl > s->stat[ESTATE_MEM_USED].pctl;
	return add_check(r, "utilization", full ? "memory peak (target near full)" : "memory peak", a,
			 t->windows ? b : NULL, !t->windows ? MIGRATE_MISSING : full ? MIGRATE_CHANGED : MIGRATE_OK,
			 false);
}

int migrate_validate(const struct estate_host *source, const struct estate_host *target,
		     const Cairn__Store__DepMap *map, struct migrate_report *out)
{
	memset(out, 0, sizeof(*out));
	int rc = check_listeners(source, target, out);
	if (!rc && map)
		rc = check_deps(source, target, map, true, out);
	if (!rc && map)
		rc = check_deps(source, target, map, false, out);
	if (!rc)
		rc = check_packages(source, target, out);
	if (!rc)
		rc = check_util(source, target, out);
	if (rc)
		migrate_report_free(out);
	return rc;
}
