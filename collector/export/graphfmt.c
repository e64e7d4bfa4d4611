#include "graphfmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

int graphfmt_parse(const char *s, enum graphfmt_kind *out)
{
	static const char *const names[] = { "graphml", "cytoscape", "edges-csv", "dot" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i])) {
			*out = (enum graphfmt_kind)i;
			return 0;
		}
	return -EINVAL;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Node kind: "app", "host", "external" (the app level says it; at host and
 * service level an "ext:" id is external). */
static const char *kind_of(const json_t *n)
{
	const char *k = str(n, "kind");
	if (*k)
		return k;
	return strncmp(str(n, "id"), "ext:", 4) ? "host" : "external";
}

static bool is_infra(const json_t *n)
{
	return json_is_true(json_object_get(n, "infrastructure"));
}

/* A kept node by its id: the edges look their ends up in O(log n) (a scan
 * of the nodes per edge took minutes at 30,000 hosts). */
struct node_ref {
	const char *id;
	const json_t *n;
	size_t at;                  /* its place: the first of equal ids wins */
};

/* The nodes kept, in the document's order and by id. */
struct graph {
	const json_t **nodes;
	size_t n;
	struct node_ref *byid;
};

static int cmp_node_ref(const void *x, const void *y)
{
	const struct node_ref *a = x, *b = y;
	int c = strcmp(a->id, b->id);
	return c ? c : (a->at > b->at) - (a->at < b->at);
}

static const json_t *node_of(const struct graph *g, const char *id)
{
	size_t lo = 0, hi = g->n;
	while (lo < hi) { /* the first entry with id >= the key */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(g->byid[mid].id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n && !strcmp(g->byid[lo].id, id) ? g->byid[lo].n : NULL;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				fputc(*s, f);
		}
	}
}

static void dot_text(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static const char *app_of(const json_t *n)
{
	const char *a = str(n, "app_id");
	return *a ? a : (!strcmp(kind_of(n), "app") ? str(n, "id") : "");
}

static void write_graphml(FILE *f, const struct graph *g, const json_t *edges)
{
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
	      "  <key id=\"name\" for=\"node\" attr.name=\"name\" attr.type=\"string\"/>\n"
	      "  <key id=\"kind\" for=\"node\" attr.name=\"kind\" attr.type=\"string\"/>\n"
	      "  <key id=\"app\" for=\"node\" attr.name=\"app\" attr.type=\"string\"/>\n"
	      "  <key id=\"infrastructure\" for=\"node\" attr.name=\"infrastructure\" attr.type=\"boolean\"/>\n"
	      "  <key id=\"port\" for=\"edge\" attr.name=\"port\" attr.type=\"int\"/>\n"
	      "  <key id=\"from_process\" for=\"edge\" attr.name=\"from_process\" attr.type=\"string\"/>\n"
	      "  <key id=\"to_process\" for=\"edge\" attr.name=\"to_process\" attr.type=\"string\"/>\n"
	      "  <key id=\"samples\" for=\"edge\" attr.name=\"samples\" attr.type=\"long\"/>\n"
	      "  <key id=\"connections\" for=\"edge\" attr.name=\"connections\" attr.type=\"long\"/>\n"
	      "  <key id=\"bytes\" for=\"edge\" attr.name=\"bytes\" attr.type=\"long\"/>\n"
	      "  <key id=\"weight\" for=\"edge\" attr.name=\"weight\" attr.type=\"double\"/>\n"
	      "  <graph id=\"cairn\" edgedefault=\"directed\">\n", f);
	for (size_t i = 0; i < g->n; i++) {
		const json_t *n = g->nodes[i];
		fputs("    <node id=\"", f);
		xml_text(f, str(n, "id"));
		fputs("\"><data key=\"name\">", f);
		xml_text(f, str(n, "name"));
		fprintf(f, "</data><data key=\"kind\">%s</data><data key=\"app\">", kind_of(n));
		xml_text(f, app_of(n));
		fprintf(f, "</data><data key=\"infrastructure\">%s</data></node>\n",
			is_infra(n) ? "true" : "false");
	}
	size_t i, k = 0;
	const json_t *e;
	json_array_foreach(edges, i, e) {
		if (!node_of(g, str(e, "from")) || !node_of(g, str(e, "to")))
			continue;
		fprintf(f, "    <edge id=\"e%zu\" source=\"", k++);
		xml_text(f, str(e, "from"));
		fputs("\" target=\"", f);
		xml_text(f, str(e, "to"));
		fprintf(f, "\"><data key=\"port\">%lld</data><data key=\"from_process\">", num(e, "port"));
		xml_text(f, str(e, "from_process"));
		fputs("</data><data key=\"to_process\">", f);
		xml_text(f, str(e, "to_process"));
		long long samples = num(e, "samples_seen");
		fprintf(f, "</data><data key=\"samples\">%lld</data><data key=\"connections\">%lld</data>"
			   "<data key=\"bytes\">%lld</data><data key=\"weight\">%lld</data></edge>\n",
			samples, num(e, "connections"), num(e, "bytes"), samples ? samples : 1);
	}
	fputs("  </graph>\n</graphml>\n", f);
}

static int write_cytoscape(FILE *f, const struct graph *g, const json_t *edges)
{
	json_t *jn = json_array(), *je = json_array();
	for (size_t i = 0; jn && i < g->n; i++) {
		const json_t *n = g->nodes[i];
		json_t *d = json_pack("{s:s, s:s, s:s, s:b}", "id", str(n, "id"), "name", str(n, "name"),
				      "kind", kind_of(n), "infrastructure", is_infra(n));
		if (d && *app_of(n) && strcmp(app_of(n), str(n, "id")))
			json_object_set_new(d, "parent_app", json_string(app_of(n)));
		json_array_append_new(jn, json_pack("{s:o}", "data", d));
	}
	size_t i, k = 0;
	const json_t *e;
	json_array_foreach(edges, i, e) {
		if (!node_of(g, str(e, "from")) || !node_of(g, str(e, "to")))
			continue;
		char id[32];
		snprintf(id, sizeof(id), "e%zu", k++);
		json_array_append_new(je, json_pack("{s:{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:I, s:I}}",
						    "data", "id", id, "source", str(e, "from"), "target",
						    str(e, "to"), "port", (json_int_t)num(e, "port"),
						    "from_process", str(e, "from_process"), "to_process",
						    str(e, "to_process"), "samples", (json_int_t)num(e, "samples_seen"),
						    "connections", (json_int_t)num(e, "connections"),
						    "bytes", (json_int_t)num(e, "bytes")));
	}
	json_t *root = json_pack("{s:{s:o, s:o}}", "elements", "nodes", jn, "edges", je);
	if (!root)
		return -ENOMEM;
	int rc = json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) ? -EIO : 0;
	fputc('\n', f);
	json_decref(root);
	return rc;
}

static int write_edges_csv(FILE *f, const struct graph *g, const json_t *edges)
{
	static const char *const head[] = { "from", "from_name", "from_process", "to", "to_name",
					    "to_process", "port", "ports", "samples", "connections",
					    "bytes", "last_seen_ms", "confirmed" };
	for (size_t c = 0; c < sizeof(head) / sizeof(head[0]); c++)
		csv_field(f, head[c], c == 0);
	csv_end(f);
	size_t i;
	const json_t *e;
	json_array_foreach(edges, i, e) {
		const json_t *a = node_of(g, str(e, "from")), *b = node_of(g, str(e, "to"));
		if (!a || !b)
			continue;
		char ports[256] = "";
		size_t j;
		const json_t *p;
		json_array_foreach(json_object_get(e, "ports"), j, p) {
			size_t used = strlen(ports);
			snprintf(ports + used, sizeof(ports) - used, "%s%lld", j ? " " : "",
				 (long long)json_integer_value(p));
		}
		csv_field(f, str(e, "from"), 1);
		csv_field(f, str(a, "name"), 0);
		csv_field(f, str(e, "from_process"), 0);
		csv_field(f, str(e, "to"), 0);
		csv_field(f, str(b, "name"), 0);
		csv_field(f, str(e, "to_process"), 0);
		csv_field_u64(f, (unsigned long long)num(e, "port"), 0);
		csv_field(f, ports, 0);
		csv_field_u64(f, (unsigned long long)num(e, "samples_seen"), 0);
		csv_field_u64(f, (unsigned long long)num(e, "connections"), 0);
		csv_field_u64(f, (unsigned long long)num(e, "bytes"), 0);
		csv_field_u64(f, (unsigned long long)num(e, "last_seen_ms"), 0);
		csv_field(f, json_is_true(json_object_get(e, "confirmed")) ? "yes" : "no", 0);
		csv_end(f);
	}
	return ferror(f) ? -EIO : 0;
}

static void write_dot(FILE *f, const struct graph *g, const json_t *edges)
{
	fputs("digraph cairn_apps {\n  graph [rankdir=LR, overlap=false, splines=true];\n"
	      "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#e7f0fd\", fontname=Helvetica];\n"
	      "  edge [color=\"#8090a0\"];\n", f);
	for (size_t i = 0; i < g->n; i++) {
		const json_t *n = g->nodes[i];
		fputs("  ", f);
		dot_text(f, str(n, "id"));
		fputs(" [label=", f);
		char label[400];
		if (!strcmp(kind_of(n), "app"))
			snprintf(label, sizeof(label), "%s\n%lld hosts", str(n, "name"), num(n, "hosts"));
		else
			snprintf(label, sizeof(label), "%s", str(n, "name"));
		dot_text(f, label);
		if (is_infra(n))
			fputs(", fillcolor=\"#dddddd\"", f);
		else if (!strcmp(kind_of(n), "external"))
			fputs(", shape=ellipse, fillcolor=\"#f5f5f5\"", f);
		fputs("];\n", f);
	}
	size_t i;
	const json_t *e;
	json_array_foreach(edges, i, e) {
		if (!node_of(g, str(e, "from")) || !node_of(g, str(e, "to")))
			continue;
		fputs("  ", f);
		dot_text(f, str(e, "from"));
		fputs(" -> ", f);
		dot_text(f, str(e, "to"));
		long long he = num(e, "host_edges");
		fprintf(f, " [label=\"%lld\", penwidth=%.1f];\n", he ? he : 1,
			1.0 + (he > 1 ? 0.5 * (double)(he > 10 ? 10 : he) : 0));
	}
	fputs("}\n", f);
}

int graphfmt_write(FILE *f, enum graphfmt_kind kind, const json_t *doc, bool with_infra,
		   struct errbuf *eb)
{
	const json_t *nodes = json_object_get(doc, "nodes"), *edges = json_object_get(doc, "edges");
	struct graph g = { calloc(json_array_size(nodes) + 1, sizeof(*g.nodes)), 0,
			   calloc(json_array_size(nodes) + 1, sizeof(*g.byid)) };
	if (!g.nodes || !g.byid) {
		free(g.nodes);
		free(g.byid);
		return errbuf_set(eb, -ENOMEM, "graph export: out of memory");
	}
	size_t i;
	const json_t *n;
	json_array_foreach(nodes, i, n)
		if (with_infra || !is_infra(n)) {
			g.byid[g.n] = (struct node_ref){ str(n, "id"), n, g.n };
			g.nodes[g.n++] = n;
		}
	if (g.n > 1)
		qsort(g.byid, g.n, sizeof(*g.byid), cmp_node_ref);
	int rc = 0;
	switch (kind) {
	case GRAPHFMT_GRAPHML:
		write_graphml(f, &g, edges);
		break;
	case GRAPHFMT_CYTOSCAPE:
		rc = write_cytoscape(f, &g, edges);
		break;
	case GRAPHFMT_EDGES_CSV:
		rc = write_edges_csv(f, &g, edges);
		break;
	case GRAPHFMT_DOT:
		write_dot(f, &g, edges);
		break;
	}
	free(g.nodes);
	free(g.byid);
	if (rc == -ENOMEM)
		return errbuf_set(eb, rc, "graph export: out of memory");
	if (rc || ferror(f))
		return errbuf_set(eb, -EIO, "graph export: write failed (disk full?)");
	return 0;
}
