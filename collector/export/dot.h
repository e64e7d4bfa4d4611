/* Graphviz DOT of a snapshot's map: one cluster per application (shared
 * infrastructure filled grey), hosts as boxes, external endpoints dashed,
 * ambiguous ones dotted red; an edge is labelled with its processes and port
 * (service level) or its service and port(s) (host level), dashed when only
 * one side saw it. Render with `dot -Tsvg`. */
#ifndef CAIRN_DOT_H
#define CAIRN_DOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "store.pb-c.h"

struct dot_opts {
	/* Writes the cluster label of application a into buf and returns true;
	 * false (or no function) labels the cluster with the application name. */
	bool (*cluster_label)(const Cairn__Store__App *a, char *buf, size_t n, void *arg);
	void *arg;
};

/* Writes the nodes of s->map for which keep_node[i] (every node when
 * keep_node is NULL) and the ne edges. o may be NULL. Returns 0, -ENOMEM,
 * or -EIO when writing failed. */
int dot_write(FILE *f, const Cairn__Store__Snapshot *s, Cairn__Store__MapEdge *const *edges,
	      size_t ne, const bool *keep_node, const struct dot_opts *o);

#endif
