/* The one Graphviz DOT writer (`deps --dot` and `export dot`). */
#include "dot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "depmap.h"
#include "util.h"

/* A DOT string: quotes and backslashes escaped, a newline as \n, other
 * control characters (agents' strings are not trusted) left out. */
static void dot_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		if ((unsigned char)*s < 0x20)
			continue;
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void dot_node(FILE *f, const Cairn__Store__MapNode *n, const char *indent)
{
	fputs(indent, f);
	dot_str(f, n->id);
	fputs(" [label=", f);
	dot_str(f, *n->name ? n->name : n->id);
	if (n->kind == CAIRN__STORE__NODE_KIND__EXTERNAL)
		fputs(", shape=ellipse, style=dashed", f);
	else if (n->kind == CAIRN__STORE__NODE_KIND__CLIENTS)
		fputs(", shape=house, style=dashed, color=blue", f);
	else if (n->kind == CAIRN__STORE__NODE_KIND__AMBIGUOUS)
		fputs(", shape=ellipse, style=dotted, color=red", f);
	else if (n->infrastructure)
		fputs(", shape=box, style=filled, fillcolor=\"#e0e0e0\"", f);
	else
		fputs(", shape=box", f);
	fputs("];\n", f);
}

/* " (udp)", " (tcp+udp)" or "": the protocols of a host-level edge. */
static const char *udp_suffix(const Cairn__Store__MapEdge *e)
{
	bool udp = false;
	for (size_t p = 0; p < e->n_protocols; p++)
		udp |= e->protocols[p] == CAIRN__PROTOCOL__UDP;
	return !udp ? "" : e->n_protocols > 1 ? " (tcp+udp)" : " (udp)";
}

/* Every port of a host pair, labelled: "postgres 5432, syslog 514 (tcp+udp)". */
static void host_edge_label(const Cairn__Store__MapEdge *e, char *label, size_t n)
{
	label[0] = '\0';
	for (size_t p = 0; p < e->n_ports && p < 6; p++) {
		const char *l = depmap_port_label(e->ports[p]);
		size_t used = strlen(label);
		snprintf(label + used, n - used, "%s%s%s%u", p ? ", " : "", l ? l : "", l ? " " : "",
			 e->ports[p]);
	}
	if (e->n_ports > 6)
		strncat(label, ", ...", n - strlen(label) - 1);
	strncat(label, udp_suffix(e), n - strlen(label) - 1);
}

struct slot {
	const Cairn__Store__MapNode *n;
	bool printed;
};

static int cmp_slot(const void *pa, const void *pb)
{
	return strcmp(((const struct slot *)pa)->n->id, ((const struct slot *)pb)->n->id);
}

/* The node of id among the kept ones, or NULL. */
static struct slot *slot_find(struct slot *v, size_t n, const char *id)
{
	Cairn__Store__MapNode key = CAIRN__STORE__MAP_NODE__INIT;
	key.id = (char *)id;
	struct slot k = { &key, false };
	return n ? bsearch(&k, v, n, sizeof(*v), cmp_slot) : NULL;
}

int dot_write(FILE *f, const Cairn__Store__Snapshot *s, Cairn__Store__MapEdge *const *edges,
	      size_t ne, const bool *keep_node, const struct dot_opts *o)
{
	const Cairn__Store__DepMap *m = s->map;
	/* the kept nodes sorted by id: an application's members are looked up,
	 * not searched for, and each node is drawn once */
	struct slot *kept = malloc((m->n_nodes + 1) * sizeof(*kept));
	if (!kept)
		return -ENOMEM;
	size_t nk = 0;
	for (size_t i = 0; i < m->n_nodes; i++)
		if (!keep_node || keep_node[i])
			kept[nk++] = (struct slot){ m->nodes[i], false };
	if (nk > 1)
		qsort(kept, nk, sizeof(*kept), cmp_slot);
	fprintf(f, "digraph cairn {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n"
		   "  edge [fontname=\"Helvetica\", fontsize=8];\n");
	for (size_t a = 0; a < s->n_apps; a++) {
		const Cairn__Store__App *app = s->apps[a];
		bool open = false;
		for (size_t j = 0; j < app->n_hosts; j++) {
			struct slot *sl = slot_find(kept, nk, app->hosts[j]);
			if (!sl || sl->printed)
				continue;
			if (!open) {
				char label[512];
				if (!o || !o->cluster_label ||
				    !o->cluster_label(app, label, sizeof(label), o->arg))
					str_copy(label, app->name, sizeof(label));
				fprintf(f, "  subgraph \"cluster_%zu\" {\n    label=", a);
				dot_str(f, label);
				fputs(app->infrastructure
					      ? ";\n    style=filled; fillcolor=\"#f4f4f4\"; color=\"#999999\";\n"
					      : ";\n    style=rounded; color=\"#3070b0\";\n",
				      f);
				open = true;
			}
			dot_node(f, sl->n, "    ");
			sl->printed = true;
		}
		if (open)
			fputs("  }\n", f);
	}
	/* the rest (externals, hosts in no application) in map order */
	for (size_t i = 0; i < m->n_nodes; i++) {
		struct slot *sl = slot_find(kept, nk, m->nodes[i]->id);
		if (sl && !sl->printed) {
			dot_node(f, sl->n, "  ");
			sl->printed = true;
		}
	}
	free(kept);
	for (size_t i = 0; i < ne; i++) {
		const Cairn__Store__MapEdge *e = edges[i];
		fputs("  ", f);
		dot_str(f, e->from);
		fputs(" -> ", f);
		dot_str(f, e->to);
		char label[256];
		if (*e->from_process || *e->to_process)
			snprintf(label, sizeof(label), "%s -> %s:%u", e->from_process, e->to_process,
				 e->port);
		else if (e->n_ports > 1)
			host_edge_label(e, label, sizeof(label));
		else
			snprintf(label, sizeof(label), "%s%s%u%s", e->label, *e->label ? " " : "", e->port,
				 udp_suffix(e));
		fputs(" [label=", f);
		dot_str(f, label);
		if (!e->confirmed)
			fputs(", style=dashed", f);
		fputs("];\n", f);
	}
	fputs("}\n", f);
	return ferror(f) ? -EIO : 0;
}
