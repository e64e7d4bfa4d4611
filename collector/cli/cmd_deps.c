/* cairn-collector deps: the dependency map as a table, JSON or Graphviz DOT.
 *
 * Reads the latest snapshot (computed by serve as data arrives); --fresh
 * recomputes and stores it first; --since computes the map of that period
 * on the spot (not stored). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "depmap.h"
#include "dot.h"
#include "pbjson.h"
#include "docs.h"
#include "format.h"
#include "read.h"
#include "snapshot.h"
#include "store.h"

static void deps_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector deps [--host H | --app A] [--level host|service|app]\n"
		   "                            [--unresolved] [--since DUR] [--json | --dot] [--fresh]\n\n"
		   "Shows which hosts (or processes) depend on which: client -> server, port,\n"
		   "samples seen, connections and short-lived ones (from hosts whose agent\n"
		   "captures with eBPF; '-' for hosts that poll only), bytes, last seen, and\n"
		   "whether both sides reported the connection. --host and --app keep the edges that touch that host or\n"
		   "application (name, id, id prefix or fingerprint). --since 7d limits the\n"
		   "map to recent traffic. --dot writes Graphviz (render with dot -Tsvg):\n"
		   "one cluster per application, shared infrastructure apart.\n");
	cli_usage_common(f);
}

enum { OPT_HOST = CLI_OPT_USER, OPT_APP, OPT_LEVEL, OPT_SINCE, OPT_DOT, OPT_FRESH,
       OPT_UNRESOLVED };

struct deps_opts {
	const char *host, *app;
	enum docs_level level;
	bool dot, fresh, unresolved;
	const char *since;
};

static int deps_opt(int opt, const char *arg, void *ctx)
{
	struct deps_opts *o = ctx;
	switch (opt) {
	case OPT_HOST:
		o->host = arg;
		return 0;
	case OPT_APP:
		o->app = arg;
		return 0;
	case OPT_LEVEL:
		if (!strcmp(arg, "process")) {
			fprintf(stderr,
				"cairn-collector deps: --level process: the map has no level per "
				"process id; --level service is per program (its restart-stable "
				"identity) and port\n");
			return -1;
		}
		if (docs_level_parse(arg, &o->level)) {
			fprintf(stderr, "cairn-collector deps: --level: '%s' is not host, service or app\n",
				arg);
			return -1;
		}
		return 0;
	case OPT_SINCE:
		o->since = arg;
		return 0;
	case OPT_DOT:
		o->dot = true;
		return 0;
	case OPT_FRESH:
		o->fresh = true;
		return 0;
	case OPT_UNRESOLVED:
		o->unresolved = true;
		return 0;
	}
	return -1;
}

static const char *node_name(const struct read_nodes *ix, const char *id)
{
	const Cairn__Store__MapNode *n = read_nodes_get(ix, id);
	return n && *n->name ? n->name : id;
}

static const char *app_name(const Cairn__Store__Snapshot *s, const char *app_id)
{
	for (size_t i = 0; i < s->n_apps; i++)
		if (!strcmp(s->apps[i]->id, app_id))
			return s->apps[i]->name;
	return app_id;
}

/* Tables read best by name: client, then server, then port. */
static int cmp_edge_names(const void *pa, const void *pb, void *ctx)
{
	const struct read_nodes *ix = ctx;
	const Cairn__Store__MapEdge *a = *(Cairn__Store__MapEdge *const *)pa;
	const Cairn__Store__MapEdge *b = *(Cairn__Store__MapEdge *const *)pb;
	int c = strcmp(node_name(ix, a->from), node_name(ix, b->from));
	if (!c)
		c = strcmp(node_name(ix, a->to), node_name(ix, b->to));
	if (!c)
		c = a->port < b->port ? -1 : a->port > b->port;
	if (!c)
		c = strcmp(a->from_process, b->from_process);
	return c;
}

/* --level app for people: the summed edges between applications (and
 * externals) of the shared document; consumes root. */
static int print_app_level(json_t *root, const Cairn__Store__Snapshot *s)
{
	if (!root)
		return 1;
	static const char *const h[] = { "FROM", "TO", "HOST EDGES", "SAMPLES", "BYTES", "CONFIRMED",
					 NULL };
	struct format_table *t = format_table_new(6, h);
	json_t *nodes = json_object_get(root, "nodes"), *edges = json_object_get(root, "edges");
	size_t i;
	json_t *e;
	json_array_foreach(edges, i, e) {
		const char *ends[2] = { json_string_value(json_object_get(e, "from")),
					json_string_value(json_object_get(e, "to")) };
		for (int k = 0; k < 2; k++) {
			size_t j;
			json_t *n;
			json_array_foreach(nodes, j, n)
				if (!strcmp(json_string_value(json_object_get(n, "id")), ends[k])) {
					ends[k] = json_string_value(json_object_get(n, "name"));
					break;
				}
		}
		char bytes[32];
		format_bytes((uint64_t)json_integer_value(json_object_get(e, "bytes")), bytes,
			     sizeof(bytes));
		if (t)
			format_table_rowf(t, "%s\t%s\t%lld\t%lld\t%s\t%s", ends[0], ends[1],
					  (long long)json_integer_value(json_object_get(e, "host_edges")),
					  (long long)json_integer_value(json_object_get(e, "samples_seen")),
					  bytes, json_is_true(json_object_get(e, "confirmed")) ? "yes" : "no");
	}
	if (t) {
		format_table_align_right(t, 2);
		format_table_align_right(t, 3);
		format_table_align_right(t, 4);
		format_table_elastic(t, 0);
		format_table_elastic(t, 1);
		format_table_print(t, stdout);
	}
	printf("\n%zu application edges; snapshot %llu\n", json_array_size(edges),
	       (unsigned long long)s->version);
	format_table_free(t);
	json_decref(root);
	return t ? 0 : 1;
}

/* ------------------------------------------------------------ main */

int deps_main(int argc, char *argv[])
{
	struct deps_opts o = { 0 };
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, OPT_HOST },
		{ "app", required_argument, NULL, OPT_APP },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "dot", no_argument, NULL, OPT_DOT },
		{ "fresh", no_argument, NULL, OPT_FRESH },
		{ "unresolved", no_argument, NULL, OPT_UNRESOLVED },
		{ 0 },
	};
	struct cli_extra extra = { NULL, longopts, deps_opt, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, deps_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli.prog, cli.args[0]);
		cli_try_help(cli.prog);
		return 2;
	}
	if (o.host && o.app) {
		fprintf(stderr, "%s: give --host or --app, not both\n", cli.prog);
		return 2;
	}
	if (o.dot && cli.json) {
		fprintf(stderr, "%s: give --json or --dot, not both\n", cli.prog);
		return 2;
	}
	uint64_t since_dur = 0;
	if (o.since && (config_parse_duration(o.since, &since_dur) || !since_dur)) {
		fprintf(stderr, "%s: --since: '%s' is not a duration (use e.g. 30m, 12h, 7d)\n",
			cli.prog, o.since);
		return 2;
	}
	struct read_ctx q;
	if ((rc = cmd_open_store(&q, &cli, o.fresh)))
		return rc;
	struct errbuf eb = { { 0 } };
	Cairn__Store__Snapshot *s = NULL;
	if (o.since) {
		struct read_txn t;
		if ((rc = read_begin(&q, &t, &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			read_close(&q);
			return 1;
		}
		struct snapshot_opts so;
		snapshot_opts_default(&so, time_now_ms());
		so.since_ms = so.now_ms - (int64_t)since_dur;
		so.with_plan = false;
		rc = snapshot_compute(t.txn, t.db, &so, &s, NULL, &eb);
		read_end(&t);
	} else {
		rc = snapshot_get(&q.db, o.fresh, o.fresh, true, true, &s, &eb);
	}
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_close(&q);
		return 1;
	}
	int exit_code = 0;
	const Cairn__Store__DepMap *m = s->map;
	Cairn__Store__DepMap empty = CAIRN__STORE__DEP_MAP__INIT;
	if (!m)
		m = &empty;
	struct read_nodes ix = { 0 };
	struct docs_deps_sel sel = { 0 };
	if (read_nodes_index(&ix, m)) {
		fprintf(stderr, "%s: out of memory\n", cli.prog);
		exit_code = 1;
		goto out;
	}
	/* the filter */
	char host_id[KEY_ID_HEX_LEN + 1] = "";
	const char *app_id = NULL;
	if (o.host) {
		struct read_host h;
		if ((rc = read_lookup_host(&q, o.host, &h, &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			exit_code = cmd_exit_code(rc);
			goto out;
		}
		memcpy(host_id, h.id_hex, sizeof(host_id));
	}
	if (o.app) {
		size_t ai;
		if ((rc = read_find_app(s, o.app, &ai, &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			exit_code = cmd_exit_code(rc);
			goto out;
		}
		app_id = s->apps[ai]->id;
	}
	if (docs_deps_select(s, o.level, o.host ? host_id : NULL, app_id, &sel)) {
		fprintf(stderr, "%s: out of memory\n", cli.prog);
		exit_code = 1;
		goto out;
	}
	Cairn__Store__MapEdge **edges = sel.edges;
	size_t ne = sel.nedges;
	if (o.unresolved) {
		/* only the edges to endpoints no agent host (or several) claim */
		size_t w = 0;
		for (size_t i = 0; i < ne; i++) {
			const Cairn__Store__MapNode *b = read_nodes_get(&ix, edges[i]->to);
			if (b && (b->kind == CAIRN__STORE__NODE_KIND__EXTERNAL ||
				  b->kind == CAIRN__STORE__NODE_KIND__AMBIGUOUS))
				edges[w++] = edges[i];
		}
		ne = w;
		sel.nedges = w;
	}
	bool service = o.level == DOCS_LEVEL_SERVICE;

	if (o.dot) {
		if (dot_write(stdout, s, edges, ne, sel.keep_node, NULL)) {
			fprintf(stderr, "%s: out of memory\n", cli.prog);
			exit_code = 1;
		}
	} else if (cli.json || o.level == DOCS_LEVEL_APP) {
		json_t *root = docs_deps(s, &sel);
		if (!cli.json)
			exit_code = print_app_level(root, s);
		else if (format_print_json(root))
			exit_code = 1;
	} else {
		static const char *const hh[] = { "FROM", "TO", "PROTO", "PORTS", "SAMPLES", "CONNS",
						   "SHORT", "BYTES", "LAST SEEN (UTC)", "CONFIRMED",
						   NULL };
		static const char *const sh[] = { "FROM", "PROCESS", "TO", "PROCESS", "PORT",
						   "SERVICE", "SAMPLES", "CONNS", "SHORT", "BYTES",
						   "CONFIRMED", NULL };
		if (ne > 1)
			qsort_r(edges, ne, sizeof(*edges), cmp_edge_names, &ix);
		struct format_table *t = service ? format_table_new(11, sh) : format_table_new(10, hh);
		if (!t) {
			exit_code = 1;
			goto out;
		}
		for (size_t i = 0; i < ne; i++) {
			const Cairn__Store__MapEdge *e = edges[i];
			char bytes[32], seen[32], ports[96] = "", conns[32] = "-", shorts[24] = "-";
			if (e->bytes_unknown)
				str_copy(bytes, "?", sizeof(bytes)); /* no byte counters (kernel < 4.1, UDP) */
			else
				format_bytes(e->bytes, bytes, sizeof(bytes));
			if (e->connections || e->short_lived) {
				snprintf(conns, sizeof(conns), "%llu", (unsigned long long)e->connections);
				snprintf(shorts, sizeof(shorts), "%llu", (unsigned long long)e->short_lived);
			} else if (e->datagrams) {
				snprintf(conns, sizeof(conns), "%llu dgr", (unsigned long long)e->datagrams);
			}
			format_time(e->last_seen_ms, seen, sizeof(seen));
			const char *from = node_name(&ix, e->from), *to = node_name(&ix, e->to);
			const char *conf = e->confirmed ? "yes" : "no";
			if (service) {
				format_table_rowf(t, "%s\t%s\t%s\t%s\t%u\t%s\t%llu\t%s\t%s\t%s\t%s", from,
						 e->from_process, e->local ? "(same host)" : to,
						 e->to_process, e->port, e->label,
						 (unsigned long long)e->samples_seen, conns, shorts, bytes,
						 conf);
			} else {
				size_t np = e->n_ports ? e->n_ports : 1;
				for (size_t p = 0; p < np && p < 6; p++) {
					uint32_t port = e->n_ports ? e->ports[p] : e->port;
					const char *l = depmap_port_label(port);
					size_t used = strlen(ports);
					snprintf(ports + used, sizeof(ports) - used, "%s%u%s%s%s",
						 p ? "," : "", port, l ? "(" : "", l ? l : "", l ? ")" : "");
				}
				if (np > 6)
					strncat(ports, ",...", sizeof(ports) - strlen(ports) - 1);
				char protos[16] = "";
				for (size_t p = 0; p < e->n_protocols; p++)
					snprintf(protos + strlen(protos), sizeof(protos) - strlen(protos),
						 "%s%s", p ? "+" : "",
						 e->protocols[p] == CAIRN__PROTOCOL__UDP ? "udp" : "tcp");
				format_table_rowf(t, "%s\t%s\t%s\t%s\t%llu\t%s\t%s\t%s\t%s\t%s", from, to,
						 protos[0] ? protos : "tcp", ports,
						 (unsigned long long)e->samples_seen, conns, shorts, bytes,
						 seen, conf);
			}
		}
		for (size_t c = service ? 6 : 4; c < (service ? 10u : 8u); c++)
			format_table_align_right(t, c);
		format_table_elastic(t, 0);
		format_table_elastic(t, service ? 2 : 1);
		if (service) {
			format_table_elastic(t, 1);
			format_table_elastic(t, 3);
		} else {
			format_table_elastic(t, 3);
		}
		format_table_print(t, stdout);
		format_table_free(t);
		char when[32];
		format_time(s->computed_ms, when, sizeof(when));
		printf("\n%zu %s %s%s%s%s; snapshot %llu computed %s UTC; %llu unresolved, %llu "
		       "ambiguous endpoints, %llu edges from outside clients\n",
		       ne, service ? "service" : "host", format_noun(ne, "edge", "edges"),
		       o.unresolved ? " to unresolved endpoints" : "", o.host || app_id ? " for " : "",
		       o.host ? o.host : (app_id ? app_name(s, app_id) : ""),
		       (unsigned long long)s->version, when, (unsigned long long)m->unresolved,
		       (unsigned long long)m->ambiguous, (unsigned long long)m->outside_clients);
	}
out:
	read_nodes_free(&ix);
	docs_deps_sel_free(&sel);
	cairn__store__snapshot__free_unpacked(s, NULL);
	read_close(&q);
	return exit_code;
}
