/* The JSON documents shared by the read commands' --json and the web API
 * (docs.h). Moved here from the cmd_*.c files unchanged in shape: the
 * integration tests compare the CLI's output byte for byte. */
#include "docs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "migrate.h"
#include "progress_docs.h"
#include "pbjson.h"
#include "rules.h"
#include "snapshot.h"
#include "store.h"
#include "waves.h"

json_t *docs_json_str(const char *s)
{
	return pbjson_string(s);
}

json_t *docs_message(const void *msg)
{
	json_t *j = pbjson_from_message((const ProtobufCMessage *)msg, PBJSON_EMIT_DEFAULTS);
	return j ? j : json_null();
}

/* ---------------------------------------------------------------- hosts */

/* Application of each host from the latest snapshot: pairs of (agent id hex,
 * app name) sorted by id for bsearch. */
struct host_app {
	const char *id;
	const char *app;
};

static int cmp_host_app(const void *a, const void *b)
{
	return strcmp(((const struct host_app *)a)->id, ((const struct host_app *)b)->id);
}

static struct host_app *host_apps(const Cairn__Store__Snapshot *s, size_t *n)
{
	*n = 0;
	size_t total = 0;
	for (size_t i = 0; s && i < s->n_apps; i++)
		total += s->apps[i]->n_hosts;
	struct host_app *ha = calloc(total + 1, sizeof(*ha));
	if (!ha)
		return NULL;
	for (size_t i = 0; s && i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			ha[(*n)++] = (struct host_app){ s->apps[i]->hosts[j], s->apps[i]->name };
	if (*n > 1)
		qsort(ha, *n, sizeof(*ha), cmp_host_app);
	return ha;
}

static const char *app_of(const struct host_app *ha, size_t n, const char *id)
{
	struct host_app key = { id, NULL };
	const struct host_app *r = n ? bsearch(&key, ha, n, sizeof(*ha), cmp_host_app) : NULL;
	return r ? r->app : "";
}

bool docs_host_listed(const struct read_agent *ra)
{
	/* enrolled or pending but never delivered: `agents` lists those */
	return ra->facts || ra->agent->batches_stored > 0;
}

json_t *docs_import(const Cairn__Store__ImportedServer *imp)
{
	const Cairn__Store__ImportFacts *f = imp->facts;
	json_t *apps = json_array(), *tags = json_array();
	for (size_t i = 0; f && i < f->n_applications; i++)
		json_array_append_new(apps, json_string(f->applications[i]));
	for (size_t i = 0; f && i < f->n_tags; i++)
		json_array_append_new(tags, json_string(f->tags[i]));
	return json_pack("{s:s, s:s, s:i, s:I, s:s, s:s, s:b, s:o, s:o, s:o, s:i, s:b}", "format",
			 imp->format, "file", imp->file, "line", (int)imp->line, "imported_ms",
			 (json_int_t)imp->imported_ms, "imported_by", imp->imported_by, "matched_by",
			 imp->matched_by, "merged", imp->merged, "external_id",
			 docs_json_str(f ? f->external_id : ""), "applications", apps, "tags", tags,
			 "wave", f ? (int)f->wave : 0, "powered_off", f && f->powered_off);
}

json_t *docs_hosts(const struct read_agents *ags, const Cairn__Store__Snapshot *snap)
{
	size_t nha = 0;
	struct host_app *ha = host_apps(snap, &nha);
	json_t *arr = json_array();
	if (!ha || !arr) {
		free(ha);
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < ags->n; i++) {
		const struct read_agent *ra = &ags->v[i];
		const Cairn__Store__Agent *a = ra->agent;
		if (!docs_host_listed(ra))
			continue;
		const Cairn__HostInfo *hi = ra->facts ? ra->facts->info : NULL;
		const char *hostname = hi && *hi->hostname ? hi->hostname : a->hostname;
		const char *os = hi && hi->os && *hi->os->pretty_name ? hi->os->pretty_name : "-";
		int64_t last = a->last_batch_ms ? a->last_batch_ms : a->last_seen_ms;
		json_array_append_new(
			arr,
			json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:s, s:o}",
				  "id", ra->id_hex, "fingerprint", ra->fingerprint,
				  "hostname", docs_json_str(hostname),
				  "os", docs_json_str(os),
				  "kernel", docs_json_str(hi ? hi->kernel_release : ""),
				  "architecture", docs_json_str(hi ? hi->architecture : ""),
				  "last_seen_ms", (json_int_t)last,
				  "batches", (json_int_t)a->batches_stored,
				  "records", (json_int_t)a->records_stored,
				  "perf_windows", (json_int_t)ra->perf_windows,
				  "edge_days", (json_int_t)ra->edge_records,
				  "high_seq", pbjson_u64(a->high_seq),
				  "state", ra->imported_only ? "imported" : store_enroll_state_name(a->state),
				  "app", docs_json_str(app_of(ha, nha, ra->id_hex))));
		json_t *o = json_array_get(arr, json_array_size(arr) - 1);
		json_object_set_new(o, "source", json_string(read_agent_source(ra)));
		if (ra->import)
			json_object_set_new(o, "import", docs_import(ra->import));
		/* the last window's capture mechanism ("" before agents reported it) */
		const char *capture = ra->health && *ra->health->capture ? ra->health->capture : "";
		json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "capture",
				    docs_json_str(capture));
	}
	free(ha);
	return arr;
}

/* ---------------------------------------------------------------- agents */

json_t *docs_agent(const Cairn__Store__Agent *a)
{
	char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(a->agent_id.data, hex);
	keys_fingerprint(a->agent_id.data, fp);
	json_t *o = json_pack("{s:s, s:s, s:o, s:s, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I}",
			      "id", hex, "fingerprint", fp, "hostname", docs_json_str(a->hostname),
			      "state", store_enroll_state_name(a->state),
			      "enroll_via", docs_json_str(a->enroll_via),
			      "first_seen_ms", (json_int_t)a->first_seen_ms,
			      "last_seen_ms", (json_int_t)a->last_seen_ms,
			      "last_batch_ms", (json_int_t)a->last_batch_ms,
			      "last_peer", docs_json_str(a->last_peer),
			      "agent_version", docs_json_str(a->agent_version),
			      "decided_by", docs_json_str(a->decided_by),
			      "decided_ms", (json_int_t)a->decided_ms,
			      "last_conflict_ms", (json_int_t)a->last_conflict_ms);
	if (!o)
		return NULL;
	/* uint64 counters: a value above 2^63-1 (a forged seq in an old store)
	 * must not print as a negative number (pbjson's mapping) */
	const struct {
		const char *name;
		uint64_t v;
	} u64s[] = {
		{ "high_seq", a->high_seq },
		{ "batches_stored", a->batches_stored },
		{ "records_stored", a->records_stored },
		{ "replays_rejected", a->replays_rejected },
		{ "bad_signatures", a->bad_signatures },
		{ "malformed_batches", a->malformed_batches },
		{ "limit_batches", a->limit_batches },
		{ "gaps_reported", a->gaps_reported },
		{ "conflicts", a->conflicts },
		{ "last_conflict_seq", a->last_conflict_seq },
	};
	for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++)
		json_object_set_new(o, u64s[i].name, pbjson_u64(u64s[i].v));
	return o;
}

json_t *docs_agents(const struct read_agents *ags, bool pending_only)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < ags->n; i++) {
		const Cairn__Store__Agent *a = ags->v[i].agent;
		if (ags->v[i].imported_only) /* a server without an agent (READ_AGENT_IMPORTS) */
			continue;
		if (pending_only && a->state != CAIRN__STORE__ENROLL_STATE__PENDING)
			continue;
		json_t *o = docs_agent(a);
		/* the last window's capture: mechanism and events it lost (needs
		 * READ_AGENT_HEALTH) */
		const Cairn__CollectorHealth *h = ags->v[i].health;
		json_object_set_new(o, "capture", docs_json_str(h ? h->capture : ""));
		json_object_set_new(o, "capture_lost_events",
				    json_integer(h ? (json_int_t)(h->capture_ringbuf_drops +
								  h->capture_map_full) : 0));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* ---------------------------------------------------------------- host */

json_t *docs_host(const struct read_host *h, const struct estate_host *eh,
		  const Cairn__CollectorHealth *health, const Cairn__Store__Snapshot *s)
{
	const Cairn__Store__HostFacts *hf = eh->facts;
	const Cairn__ProcessSnapshot *ps = eh->procs;
	const Cairn__ListenerSet *ls = eh->listeners;
	const Cairn__HostInfo *hi = hf ? hf->info : NULL;
	const struct estate_stat *cpu = &eh->stat[ESTATE_CPU_PCT], *memu = &eh->stat[ESTATE_MEM_USED];
	const Cairn__Store__App *app = NULL;
	for (size_t i = 0; s && i < s->n_apps && !app; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			if (!strcmp(s->apps[i]->hosts[j], h->id_hex)) {
				app = s->apps[i];
				break;
			}
	json_t *root = json_object();
	if (!root)
		return NULL;
	json_object_set_new(root, "id", json_string(h->id_hex));
	json_object_set_new(root, "fingerprint", json_string(h->fingerprint));
	json_object_set_new(root, "hostname", docs_json_str(h->hostname));
	json_object_set_new(root, "capture",
			    docs_json_str(health && *health->capture ? health->capture : ""));
	if (health) {
		json_object_set_new(root, "capture_ebpf", json_boolean(health->capture_ebpf));
		json_object_set_new(root, "capture_lost_events",
				    json_integer((json_int_t)(health->capture_ringbuf_drops +
							      health->capture_map_full)));
	}
	if (eh->import) {
		json_object_set_new(root, "import", docs_import(eh->import));
		json_object_set_new(root, "utilization_imported", json_boolean(eh->import_stats));
	}
	if (hi)
		json_object_set_new(root, "facts", pbjson_from_message(&hi->base, 0));
	json_t *ju = json_object();
	json_object_set_new(ju, "windows", json_integer((json_int_t)eh->windows));
	json_object_set_new(ju, "cpu_busy_avg_pct", json_real(cpu->avg));
	json_object_set_new(ju, "cpu_busy_p95_pct", json_real(cpu->pctl));
	json_object_set_new(ju, "cpu_busy_p95_max_pct", json_real(eh->cpu_peak_p95));
	json_object_set_new(ju, "cpu_busy_max_pct", json_real(cpu->max));
	json_object_set_new(ju, "mem_used_avg_bytes", json_real(memu->avg));
	json_object_set_new(ju, "mem_used_p95_bytes", json_real(memu->pctl));
	json_object_set_new(ju, "mem_used_max_bytes", json_real(memu->max));
	json_object_set_new(ju, "from_ms", json_integer(eh->first_ms));
	json_object_set_new(ju, "to_ms", json_integer(eh->last_ms));
	json_object_set_new(root, "utilization", ju);
	json_object_set_new(root, "processes", json_integer(ps ? (json_int_t)ps->n_processes : 0));
	if (ls)
		json_object_set_new(root, "listeners", pbjson_from_message(&ls->base, 0));
	json_t *jp = json_object();
	for (size_t i = 0; i < eh->npkgs; i++)
		json_object_set_new(jp, eh->pkgs[i]->manager,
				    json_integer((json_int_t)eh->pkgs[i]->n_packages));
	json_object_set_new(root, "packages", jp);
	if (app) {
		json_object_set_new(root, "app_id", json_string(app->id));
		json_object_set_new(root, "app", docs_json_str(app->name));
	}
	json_t *din = json_array(), *dout = json_array();
	for (size_t i = 0; s && s->map && i < s->map->n_service_edges; i++) {
		const Cairn__Store__MapEdge *e = s->map->service_edges[i];
		if (!strcmp(e->from, h->id_hex))
			json_array_append_new(dout, pbjson_from_message(&e->base, 0));
		else if (!strcmp(e->to, h->id_hex))
			json_array_append_new(din, pbjson_from_message(&e->base, 0));
	}
	json_object_set_new(root, "depends_on", dout);
	json_object_set_new(root, "used_by", din);
	return root;
}

/* ---------------------------------------------------------------- apps */

static json_t *snapshot_head(const Cairn__Store__Snapshot *s)
{
	return json_pack("{s:I, s:I, s:I}", "snapshot_version", (json_int_t)s->version,
			 "computed_ms", (json_int_t)s->computed_ms, "facts_gen",
			 (json_int_t)s->facts_gen);
}

json_t *docs_apps(const Cairn__Store__Snapshot *s)
{
	json_t *root = snapshot_head(s), *arr = json_array();
	if (!root || !arr) {
		json_decref(root);
		json_decref(arr);
		return NULL;
	}
	for (size_t i = 0; i < s->n_apps; i++)
		json_array_append_new(arr, pbjson_from_message(&s->apps[i]->base, PBJSON_EMIT_DEFAULTS));
	json_object_set_new(root, "apps", arr);
	return root;
}

static const char *listed_host_name(const struct read_host *hosts, size_t n, const char *id_hex)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hosts[i].id_hex, id_hex))
			return hosts[i].hostname[0] ? hosts[i].hostname : hosts[i].fingerprint;
	return id_hex;
}

json_t *docs_app(const Cairn__Store__Snapshot *s, size_t ai, const struct read_host *hosts,
		 size_t nhosts)
{
	const Cairn__Store__App *a = s->apps[ai];
	const Cairn__Store__DepMap *m = s->map;
	struct read_nodes ix = { 0 };
	if (read_nodes_index(&ix, m))
		return NULL;
	json_t *root = pbjson_from_message(&a->base, PBJSON_EMIT_DEFAULTS);
	json_t *jin = json_array(), *jout = json_array(), *hn = json_array();
	if (!root || !jin || !jout || !hn) {
		read_nodes_free(&ix);
		json_decref(root);
		json_decref(jin);
		json_decref(jout);
		json_decref(hn);
		return NULL;
	}
	for (size_t i = 0; m && i < m->n_host_edges; i++) {
		const Cairn__Store__MapEdge *e = m->host_edges[i];
		const Cairn__Store__MapNode *fnode = read_nodes_get(&ix, e->from);
		const Cairn__Store__MapNode *tnode = read_nodes_get(&ix, e->to);
		bool from_in = !strcmp(fnode ? fnode->app_id : "", a->id);
		bool to_in = !strcmp(tnode ? tnode->app_id : "", a->id);
		if (from_in == to_in)
			continue; /* inside the application, or unrelated */
		json_array_append_new(from_in ? jout : jin, pbjson_from_message(&e->base, 0));
	}
	read_nodes_free(&ix);
	for (size_t i = 0; i < a->n_hosts; i++)
		json_array_append_new(hn, docs_json_str(listed_host_name(hosts, nhosts, a->hosts[i])));
	json_object_set_new(root, "hostnames", hn);
	json_object_set_new(root, "depends_on", jout);
	json_object_set_new(root, "used_by", jin);
	return root;
}

/* ---------------------------------------------------------------- deps */

int docs_level_parse(const char *s, enum docs_level *out)
{
	if (!strcmp(s, "host"))
		*out = DOCS_LEVEL_HOST;
	else if (!strcmp(s, "service") || !strcmp(s, "process"))
		*out = DOCS_LEVEL_SERVICE;
	else if (!strcmp(s, "app") || !strcmp(s, "application"))
		*out = DOCS_LEVEL_APP;
	else
		return -EINVAL;
	return 0;
}

const char *docs_level_name(enum docs_level l)
{
	return l == DOCS_LEVEL_SERVICE ? "service" : l == DOCS_LEVEL_APP ? "app" : "host";
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
	return x < y ? -1 : x > y;
}

static const Cairn__Store__DepMap empty_map = CAIRN__STORE__DEP_MAP__INIT;

int docs_deps_select(const Cairn__Store__Snapshot *s, enum docs_level level, const char *host_id,
		     const char *app_id, struct docs_deps_sel *out)
{
	const Cairn__Store__DepMap *m = s->map ? s->map : &empty_map;
	memset(out, 0, sizeof(*out));
	out->level = level;
	out->filtered = host_id || app_id;
	bool service = level == DOCS_LEVEL_SERVICE;
	size_t nsrc = service ? m->n_service_edges : m->n_host_edges;
	Cairn__Store__MapEdge **src = service ? m->service_edges : m->host_edges;
	struct read_nodes ix = { 0 };
	out->keep_node = calloc(m->n_nodes + 1, sizeof(bool));
	out->edges = calloc(nsrc + 1, sizeof(*out->edges));
	if (!out->keep_node || !out->edges || read_nodes_index(&ix, m)) {
		docs_deps_sel_free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nsrc; i++) {
		const Cairn__Store__MapEdge *e = src[i];
		if (host_id && strcmp(e->from, host_id) && strcmp(e->to, host_id))
			continue;
		if (app_id) {
			const Cairn__Store__MapNode *a = read_nodes_get(&ix, e->from);
			const Cairn__Store__MapNode *b = read_nodes_get(&ix, e->to);
			if (!(a && !strcmp(a->app_id, app_id)) && !(b && !strcmp(b->app_id, app_id)))
				continue;
		}
		out->edges[out->nedges++] = src[i];
	}
	for (size_t i = 0; i < m->n_nodes; i++) {
		const Cairn__Store__MapNode *n = m->nodes[i];
		if (host_id)
			out->keep_node[i] = !strcmp(n->id, host_id);
		else if (app_id)
			out->keep_node[i] = !strcmp(n->app_id, app_id);
		else
			out->keep_node[i] = true;
	}
	if (out->filtered) {
		/* and the other ends of the kept edges, sorted once and searched per
		 * node: a hub host's edges times every node would be quadratic */
		size_t ne = out->nedges, nends = 0;
		const Cairn__Store__MapNode **ends = calloc(2 * ne + 1, sizeof(*ends));
		if (!ends) {
			read_nodes_free(&ix);
			docs_deps_sel_free(out);
			return -ENOMEM;
		}
		for (size_t i = 0; i < ne; i++) {
			ends[nends++] = read_nodes_get(&ix, out->edges[i]->from);
			ends[nends++] = read_nodes_get(&ix, out->edges[i]->to);
		}
		if (nends > 1)
			qsort(ends, nends, sizeof(*ends), cmp_ptr);
		for (size_t j = 0; j < m->n_nodes; j++)
			if (!out->keep_node[j]) {
				const Cairn__Store__MapNode *key = m->nodes[j];
				out->keep_node[j] = nends && bsearch(&key, ends, nends, sizeof(*ends), cmp_ptr);
			}
		free(ends);
	}
	read_nodes_free(&ix);
	return 0;
}

void docs_deps_sel_free(struct docs_deps_sel *sel)
{
	free(sel->edges);
	free(sel->keep_node);
	sel->edges = NULL;
	sel->keep_node = NULL;
	sel->nedges = 0;
}

/* Application level: one node per application (and per node outside any
 * application: externals), one edge per (from group, to group) pair summing
 * the host edges between their members. */
struct app_edge {
	const char *from, *to;
	uint64_t samples, bytes, host_edges;
	int64_t last_seen_ms;
	bool confirmed;
};

static int cmp_app_edge(const void *x, const void *y)
{
	const struct app_edge *a = x, *b = y;
	int c = strcmp(a->from, b->from);
	return c ? c : strcmp(a->to, b->to);
}

static const char *group_of(const Cairn__Store__MapNode *n, const char *id)
{
	return n && *n->app_id ? n->app_id : id;
}

static json_t *deps_app_level(const Cairn__Store__Snapshot *s, const Cairn__Store__DepMap *m,
			      const struct docs_deps_sel *sel, json_t *root)
{
	struct read_nodes ix = { 0 };
	struct app_edge *v = calloc(sel->nedges + 1, sizeof(*v));
	json_t *jn = json_array(), *je = json_array();
	if (!v || !jn || !je || read_nodes_index(&ix, m)) {
		free(v);
		json_decref(jn);
		json_decref(je);
		json_decref(root);
		read_nodes_free(&ix);
		return NULL;
	}
	size_t n = 0;
	for (size_t i = 0; i < sel->nedges; i++) {
		const Cairn__Store__MapEdge *e = sel->edges[i];
		const char *f = group_of(read_nodes_get(&ix, e->from), e->from);
		const char *t = group_of(read_nodes_get(&ix, e->to), e->to);
		if (!strcmp(f, t))
			continue; /* inside one application */
		v[n++] = (struct app_edge){ f, t, e->samples_seen, e->bytes, 1, e->last_seen_ms,
					    e->confirmed };
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_app_edge);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && !cmp_app_edge(&v[k - 1], &v[i])) {
			struct app_edge *p = &v[k - 1];
			p->samples += v[i].samples;
			p->bytes += v[i].bytes;
			p->host_edges++;
			p->confirmed = p->confirmed || v[i].confirmed;
			if (v[i].last_seen_ms > p->last_seen_ms)
				p->last_seen_ms = v[i].last_seen_ms;
		} else {
			v[k++] = v[i];
		}
	}
	/* nodes: the applications with a kept member, and kept nodes of no application */
	for (size_t i = 0; i < s->n_apps; i++) {
		const Cairn__Store__App *a = s->apps[i];
		bool keep = !sel->filtered;
		for (size_t j = 0; !keep && j < m->n_nodes; j++)
			keep = sel->keep_node[j] && !strcmp(m->nodes[j]->app_id, a->id);
		if (!keep)
			continue;
		json_t *svc = json_array();
		for (size_t j = 0; svc && j < a->n_services; j++)
			json_array_append_new(svc, docs_json_str(a->services[j]));
		json_array_append_new(jn, json_pack("{s:s, s:o, s:s, s:b, s:I, s:o}", "id", a->id,
						    "name", docs_json_str(a->name), "kind", "app",
						    "infrastructure", a->infrastructure,
						    "hosts", (json_int_t)a->n_hosts, "services", svc));
	}
	for (size_t j = 0; j < m->n_nodes; j++) {
		const Cairn__Store__MapNode *nd = m->nodes[j];
		if (*nd->app_id || !sel->keep_node[j])
			continue;
		json_array_append_new(jn, json_pack("{s:s, s:o, s:s, s:b, s:I}", "id", nd->id, "name",
						    docs_json_str(nd->name), "kind",
						    strncmp(nd->id, "ext:", 4) ? "host" : "external",
						    "infrastructure", nd->infrastructure, "hosts",
						    (json_int_t)(strncmp(nd->id, "ext:", 4) ? 1 : 0)));
	}
	for (size_t i = 0; i < k; i++)
		json_array_append_new(je, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "from",
						    v[i].from, "to", v[i].to, "host_edges",
						    (json_int_t)v[i].host_edges, "samples_seen",
						    (json_int_t)v[i].samples, "bytes", (json_int_t)v[i].bytes,
						    "last_seen_ms", (json_int_t)v[i].last_seen_ms,
						    "confirmed", v[i].confirmed));
	free(v);
	read_nodes_free(&ix);
	json_object_set_new(root, "nodes", jn);
	json_object_set_new(root, "edges", je);
	return root;
}

json_t *docs_deps(const Cairn__Store__Snapshot *s, const struct docs_deps_sel *sel)
{
	const Cairn__Store__DepMap *m = s->map ? s->map : &empty_map;
	json_t *root = snapshot_head(s);
	if (!root)
		return NULL;
	json_object_set_new(root, "since_ms", json_integer(s->since_ms));
	json_object_set_new(root, "level", json_string(docs_level_name(sel->level)));
	if (sel->level == DOCS_LEVEL_APP) {
		if (!(root = deps_app_level(s, m, sel, root)))
			return NULL;
	} else {
		json_t *jn = json_array(), *je = json_array();
		if (!jn || !je) {
			json_decref(root);
			json_decref(jn);
			json_decref(je);
			return NULL;
		}
		for (size_t i = 0; i < m->n_nodes; i++)
			if (sel->keep_node[i])
				json_array_append_new(jn, pbjson_from_message(&m->nodes[i]->base, 0));
		for (size_t i = 0; i < sel->nedges; i++)
			json_array_append_new(je, pbjson_from_message(&sel->edges[i]->base, 0));
		json_object_set_new(root, "nodes", jn);
		json_object_set_new(root, "edges", je);
	}
	json_object_set_new(root, "unresolved", json_integer((json_int_t)m->unresolved));
	json_object_set_new(root, "ambiguous", json_integer((json_int_t)m->ambiguous));
	return root;
}

/* ---------------------------------------------------------------- plan */

json_t *docs_readiness(const Cairn__Store__Snapshot *s)
{
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < s->n_readiness; i++)
		json_array_append_new(arr, docs_message(s->readiness[i]));
	return json_pack("{s:I, s:I, s:I, s:s, s:o, s:I, s:f}", "snapshot", (json_int_t)s->version,
			 "computed_ms", (json_int_t)s->computed_ms, "since_ms",
			 (json_int_t)s->plan_since_ms, "lifecycle_as_of", s->lifecycle_as_of,
			 "readiness", arr, "period_ms", (json_int_t)s->plan_period_ms, "coverage",
			 s->plan_coverage);
}

json_t *docs_sizing(const Cairn__Store__Snapshot *s)
{
	struct snapshot_names nm;
	if (snapshot_names_build(s, &nm))
		return NULL;
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < s->n_sizing; i++) {
		json_t *j = docs_message(s->sizing[i]);
		json_object_set_new(j, "name", json_string(snapshot_names_get(&nm, s->sizing[i]->host)));
		json_array_append_new(arr, j);
	}
	snapshot_names_free(&nm);
	char dates[512];
	rules_price_dates(s->catalog_as_of, dates, sizeof(dates));
	return json_pack("{s:s, s:s, s:s, s:o, s:s}", "mode", s->sizing_mode, "catalog_as_of",
			 s->catalog_as_of, "ebs_as_of", rules_plan.ebs_as_of, "sizing", arr,
			 "price_dates", dates);
}

struct cost_sum {
	double asis, sized;
	unsigned hosts;
};

/* Applications sorted by id (then position), for one lookup per host row
 * instead of a pass over every application. */
struct app_pos {
	const char *id;
	size_t k;
};

static int cmp_app_pos(const void *x, const void *y)
{
	const struct app_pos *a = x, *b = y;
	int c = strcmp(a->id, b->id);
	return c ? c : (a->k > b->k) - (a->k < b->k);
}

/* Position of the first application with id, or n. */
static size_t app_index(const struct app_pos *v, size_t n, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strcmp(v[lo].id, id) ? v[lo].k : n;
}

json_t *docs_cost(const Cairn__Store__Snapshot *s)
{
	struct cost_sum total = { 0 };
	struct cost_sum *apps = calloc(s->n_apps + 1, sizeof(*apps));
	struct app_pos *order = calloc(s->n_apps + 1, sizeof(*order));
	struct snapshot_names nm = { 0 };
	json_t *jh = json_array(), *ja = json_array();
	if (!apps || !order || !jh || !ja || snapshot_names_build(s, &nm)) {
		free(apps);
		free(order);
		json_decref(jh);
		json_decref(ja);
		return NULL;
	}
	for (size_t k = 0; k < s->n_apps; k++)
		order[k] = (struct app_pos){ s->apps[k]->id, k };
	if (s->n_apps)
		qsort(order, s->n_apps, sizeof(*order), cmp_app_pos);
	const char *asof = *s->catalog_as_of ? s->catalog_as_of : "?";
	for (size_t i = 0; i < s->n_sizing; i++) {
		const Cairn__Store__Sizing *z = s->sizing[i];
		size_t k = app_index(order, s->n_apps, z->app_id);
		const Cairn__Store__App *app = k < s->n_apps ? s->apps[k] : NULL;
		double a = z->asis_monthly_usd + z->asis_storage_monthly_usd;
		double r = z->monthly_usd + z->storage_monthly_usd;
		total.asis += a;
		total.sized += r;
		total.hosts++;
		if (app) {
			apps[k].asis += a;
			apps[k].sized += r;
			apps[k].hosts++;
		}
		json_array_append_new(jh, json_pack("{s:s, s:s, s:s, s:s, s:f, s:s, s:f, s:f, s:s}",
						    "host", z->host, "name", snapshot_names_get(&nm, z->host),
						    "app", app ? app->name : "",
						    "asis_instance", z->asis_instance_type,
						    "asis_monthly_usd", a,
						    "rightsized_instance", z->instance_type,
						    "rightsized_monthly_usd", r, "saving_usd", a - r,
						    "as_of", z->catalog_as_of));
	}
	for (size_t k = 0; k < s->n_apps; k++)
		json_array_append_new(ja, json_pack("{s:s, s:s, s:i, s:f, s:f, s:f, s:s}", "id",
						    s->apps[k]->id, "name", s->apps[k]->name, "hosts",
						    (int)apps[k].hosts, "asis_monthly_usd", apps[k].asis,
						    "rightsized_monthly_usd", apps[k].sized,
						    "saving_usd", apps[k].asis - apps[k].sized, "as_of", asof));
	free(apps);
	free(order);
	snapshot_names_free(&nm);
	char dates[512];
	rules_price_dates(s->catalog_as_of, dates, sizeof(dates));
	return json_pack("{s:s, s:s, s:s, s:f, s:o, s:o, s:{s:i, s:f, s:f, s:f}, s:s}",
			 "mode", s->sizing_mode, "catalog_as_of", asof, "ebs_as_of",
			 rules_plan.ebs_as_of, "hours_per_month", rules_plan.hours_per_month,
			 "hosts", jh, "apps", ja, "total", "hosts", (int)total.hosts,
			 "asis_monthly_usd", total.asis, "rightsized_monthly_usd", total.sized,
			 "saving_usd", total.asis - total.sized, "price_dates", dates);
}

static json_t *wave_rules_json(Cairn__Store__WaveRule *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "code", v[i]->code, "text", v[i]->text));
	return a;
}

/* One application of a wave: the fields of every version, then the wave
 * rules' placement (empty for a snapshot made before them). */
static json_t *wave_app_json(const struct snapshot_index *ix, const Cairn__Store__Wave *w,
			     size_t j)
{
	const Cairn__Store__App *a = snapshot_index_app(ix, w->apps[j]);
	const Cairn__Store__WavePlacement *pl = j < w->n_placements ? w->placements[j] : NULL;
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:b, s:s, s:o, s:o}", "id", w->apps[j],
			 "name", a ? a->name : "", "hosts", a ? (int)a->n_hosts : 0, "why",
			 j < w->n_why ? w->why[j] : "", "environment", pl ? pl->environment : "",
			 "criticality", pl ? pl->criticality : "", "pinned", pl && pl->pinned,
			 "pinned_by", pl ? pl->pinned_by : "",
			 "rules", pl ? wave_rules_json(pl->rules, pl->n_rules) : json_array(),
			 "relaxed", pl ? wave_rules_json(pl->relaxed, pl->n_relaxed) : json_array());
}

static json_t *strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *precedence_json(void)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < waves_nrules; i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "code", waves_rules[i].code, "rule",
						   waves_rules[i].title));
	return a;
}

json_t *docs_waves(const Cairn__Store__Snapshot *s, unsigned limit)
{
	json_t *waves = json_array();
	struct snapshot_index ix;
	snapshot_index_build(s, &ix);
	for (size_t i = 0; waves && i < s->n_waves; i++) {
		const Cairn__Store__Wave *w = s->waves[i];
		json_t *apps = json_array();
		for (size_t j = 0; j < w->n_apps; j++)
			json_array_append_new(apps, wave_app_json(&ix, w, j));
		json_array_append_new(waves, json_pack("{s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:o}",
						       "number", (int)w->number, "hosts", (int)w->hosts,
						       "score", (int)w->score, "confidence",
						       (int)w->confidence, "relaxed", (int)w->relaxed,
						       "reasons", strings_json(w->reasons, w->n_reasons),
						       "apps", apps, "warnings",
						       strings_json(w->warnings, w->n_warnings)));
	}
	snapshot_index_free(&ix);
	/* the options the plan was made with, when it says */
	return json_pack("{s:i, s:i, s:i, s:o, s:o}", "max_hosts",
			 (int)(s->wave_max_hosts ? s->wave_max_hosts : limit), "min_hosts",
			 (int)s->wave_min_hosts, "critical_after", (int)s->wave_critical_after,
			 "rules", precedence_json(), "waves", waves);
}

json_t *docs_wave_explain(const Cairn__Store__Snapshot *s, const char *app_id)
{
	const Cairn__Store__App *a = snapshot_app(s, app_id);
	const Cairn__Store__Wave *w = waves_find(s, app_id, NULL);
	if (!a)
		return NULL;
	json_t *app = NULL;
	if (w) {
		struct snapshot_index ix;
		snapshot_index_build(s, &ix);
		for (size_t j = 0; j < w->n_apps && !app; j++)
			if (!strcmp(w->apps[j], app_id))
				app = wave_app_json(&ix, w, j);
		snapshot_index_free(&ix);
	} else {
		const Cairn__Store__Readiness *r = snapshot_readiness(s, app_id);
		app = json_pack("{s:s, s:s, s:i, s:s}", "id", a->id, "name", a->name, "hosts",
				(int)a->n_hosts, "why", r ? r->strategy : "");
	}
	return json_pack("{s:o, s:i, s:i, s:i, s:i, s:o, s:o, s:i, s:i, s:i, s:o}", "app", app,
			 "wave", w ? (int)w->number : 0, "waves", (int)s->n_waves,
			 "score", w ? (int)w->score : 0, "confidence", w ? (int)w->confidence : 0,
			 "reasons", w ? strings_json(w->reasons, w->n_reasons) : json_array(),
			 "warnings", w ? strings_json(w->warnings, w->n_warnings) : json_array(),
			 "max_hosts", (int)s->wave_max_hosts, "min_hosts", (int)s->wave_min_hosts,
			 "critical_after", (int)s->wave_critical_after, "rules", precedence_json());
}

/* The tasks of the migration tools: per stream, and per host what counts
 * beside what the tasks say. */
static int progress_tasks_part(const struct read_txn *t, const Cairn__Store__Snapshot *s,
			       const struct progress_tasks *ts, const struct progress_hosts *ph,
			       int64_t now_ms, json_t *doc)
{
	struct progress_stream *sv = NULL;
	size_t sn = 0;
	int rc = progress_streams(ts, now_ms, &sv, &sn);
	if (rc)
		return rc;
	json_t *streams = docs_progress_streams(sv, sn);
	free(sv);
	json_object_set(doc, "streams", json_object_get(streams, "streams"));
	json_decref(streams);
	json_t *jh = json_array();
	struct snapshot_names nm = { 0 };
	if (jh && snapshot_names_build(s, &nm))
		rc = -ENOMEM;
	for (size_t i = 0; jh && i < ph->n && !rc; i++) {
		struct migrate_host_status hs;
		if ((rc = migrate_host_status(t->txn, t->db, ph->v[i].id, ph, &hs)))
			break;
		json_array_append_new(jh, json_pack("{s:s, s:o, s:o}", "id", ph->v[i].id, "name",
						    docs_json_str(snapshot_names_get(&nm, ph->v[i].id)),
						    "migration", docs_migration_status(&hs)));
	}
	snapshot_names_free(&nm);
	json_object_set_new(doc, "task_hosts", jh);
	return rc;
}

int docs_progress(const struct read_txn *t, const Cairn__Store__Snapshot *s, json_t **out)
{
	int64_t now_ms = time_now_ms();
	struct progress_tasks ts;
	struct progress_hosts tasks = { 0 };
	*out = NULL;
	if (progress_tasks_read(t->txn, t->db, NULL, &ts, NULL))
		return -EIO;
	if (progress_hosts_derive(&ts, now_ms, &tasks)) {
		progress_tasks_free(&ts);
		return -ENOMEM;
	}
	json_t *jw = json_array();
	unsigned total[5] = { 0 }, thosts = 0;
	double tsum = 0;
	int rc = 0;
	if (!jw)
		rc = -ENOMEM;
	struct snapshot_index ix;
	snapshot_index_build(s, &ix);
	for (size_t i = 0; i < s->n_waves && !rc; i++) {
		const Cairn__Store__Wave *w = s->waves[i];
		unsigned wh[5] = { 0 }, whosts = 0;
		double wsum = 0;
		json_t *ja = json_array();
		for (size_t j = 0; j < w->n_apps && !rc; j++) {
			const Cairn__Store__App *a = snapshot_index_app(&ix, w->apps[j]);
			if (!a)
				continue;
			struct migrate_app_progress ap;
			if ((rc = migrate_app_progress(t->txn, t->db, a, &tasks, &ap)))
				break;
			for (int k = 1; k < 5; k++)
				wh[k] += ap.hosts[k];
			whosts += (unsigned)a->n_hosts;
			wsum += ap.percent * (double)a->n_hosts;
			json_array_append_new(ja, json_pack("{s:s, s:s, s:i, s:s, s:f, s:{s:i, s:i, s:i, s:i}, s:b, s:i, s:i, s:o}",
							    "id", a->id, "name", a->name, "hosts", (int)a->n_hosts,
							    "state", migrate_state_name(ap.state), "percent", ap.percent,
							    "host_states", "NOT_STARTED", (int)ap.hosts[1],
							    "IN_PROGRESS", (int)ap.hosts[2], "FAILED", (int)ap.hosts[3],
							    "COMPLETED", (int)ap.hosts[4], "explicit", ap.explicit_status,
							    "tasks", (int)ap.tasks, "stale_tasks", (int)ap.stale_tasks,
							    "task_states", docs_state_counts(ap.task_states)));
		}
		double wpct = whosts ? wsum / whosts : 0;
		json_array_append_new(jw, json_pack("{s:i, s:i, s:f, s:{s:i, s:i, s:i, s:i}, s:o}", "number",
						    (int)w->number, "hosts", (int)whosts, "percent", wpct,
						    "host_states", "NOT_STARTED", (int)wh[1], "IN_PROGRESS", (int)wh[2],
						    "FAILED", (int)wh[3], "COMPLETED", (int)wh[4], "apps", ja));
		for (int k = 1; k < 5; k++)
			total[k] += wh[k];
		thosts += whosts;
		tsum += wsum;
	}
	/* applications that do not move (Retire / Retain) are in no wave */
	size_t staying = 0, staying_hosts = 0;
	for (size_t i = 0; i < s->n_apps; i++)
		if (!snapshot_index_wave(&ix, s->apps[i]->id, NULL)) {
			staying++;
			staying_hosts += s->apps[i]->n_hosts;
		}
	snapshot_index_free(&ix);
	if (rc) {
		json_decref(jw);
		progress_hosts_free(&tasks);
		progress_tasks_free(&ts);
		return rc;
	}
	double tpct = thosts ? tsum / thosts : 0;
	*out = json_pack("{s:o, s:{s:i, s:f, s:{s:i, s:i, s:i, s:i}}, s:{s:i, s:i}}", "waves", jw,
			 "total", "hosts", (int)thosts, "percent", tpct, "host_states", "NOT_STARTED",
			 (int)total[1], "IN_PROGRESS", (int)total[2], "FAILED", (int)total[3],
			 "COMPLETED", (int)total[4], "not_migrated", "apps", (int)staying, "hosts",
			 (int)staying_hosts);
	if (*out)
		rc = progress_tasks_part(t, s, &ts, &tasks, now_ms, *out);
	progress_hosts_free(&tasks);
	progress_tasks_free(&ts);
	if (rc) {
		json_decref(*out);
		*out = NULL;
		return rc;
	}
	return *out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- tags */

json_t *docs_tags(const Cairn__Store__TagSet *s)
{
	json_t *o = json_object();
	for (size_t i = 0; o && s && i < s->n_tags; i++)
		json_object_set_new(o, s->tags[i]->key, docs_json_str(s->tags[i]->value));
	return o;
}

static void add_tags_one(json_t *row, const struct tags_all *t, const char *id_key, bool apps)
{
	const char *id = json_string_value(json_object_get(row, id_key));
	if (!id)
		return;
	char subject[300];
	snprintf(subject, sizeof(subject), "%s%s", apps ? "app:" : "", id);
	json_object_set_new(row, "tags", docs_tags(tags_of(t, subject)));
}

void docs_add_tags(json_t *rows, const struct tags_all *t, const char *id_key, bool apps)
{
	if (json_is_object(rows)) {
		add_tags_one(rows, t, id_key, apps);
		return;
	}
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
		add_tags_one(row, t, id_key, apps);
}
