/* The dependency map for other graph tools, written from the deps document
 * (docs_deps: the same nodes and edges as `deps --json` and /api/v1/deps) at
 * host, service or application level:
 *   graphml    GraphML (Gephi, yEd): node and edge attributes declared as keys
 *   cytoscape  Cytoscape.js elements JSON ({"elements": {"nodes", "edges"}})
 *   edges-csv  one RFC 4180 row per edge: names, processes, ports,
 *              connections, bytes
 *   dot        the application level as Graphviz (the host level stays
 *              dot.c's, with its application clusters)
 * Shared infrastructure is left out unless with_infra (docs/exports.md). */
#ifndef CAIRN_GRAPHFMT_H
#define CAIRN_GRAPHFMT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "util.h"

enum graphfmt_kind {
	GRAPHFMT_GRAPHML,
	GRAPHFMT_CYTOSCAPE,
	GRAPHFMT_EDGES_CSV,
	GRAPHFMT_DOT,
};

/* "graphml", "cytoscape", "edges-csv", "dot": 0 or -EINVAL. */
int graphfmt_parse(const char *s, enum graphfmt_kind *out);

/* Writes doc (a docs_deps document) as kind to f. -EIO when writing failed,
 * -ENOMEM. */
int graphfmt_write(FILE *f, enum graphfmt_kind kind, const json_t *doc, bool with_infra,
		   struct errbuf *eb);

#endif
