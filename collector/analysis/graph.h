/* Graph algorithms for application grouping (analysis/apps.c): a weighted
 * undirected graph over host indexes in CSR form, connected components,
 * weak links (bridges), hosts shared by upstream callers, and Louvain
 * community detection. Pure and deterministic: the same input gives the same
 * output, so application ids and names stay stable between snapshots. */
#ifndef CAIRN_GRAPH_H
#define CAIRN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adjacency in CSR form: the neighbours of i are to[start[i] .. start[i+1]),
 * with weights w[]. */
struct graph_adj {
	uint32_t *start; /* n + 1 */
	uint32_t *to;
	double *w;
	uint32_t n;
};

/* One directed, weighted link a -> b. */
struct graph_pair {
	uint32_t a, b;
	double w;
};

void graph_adj_free(struct graph_adj *a);
/* Orders pairs by (a, b): a qsort comparator. */
int graph_cmp_pair(const void *pa, const void *pb);
/* Undirected CSR from directed pairs (both directions added, duplicates
 * merged by summing weights; self loops kept once per direction pair).
 * 0 or -ENOMEM. */
int graph_adj_build(struct graph_adj *g, uint32_t n, const struct graph_pair *pairs, size_t np);
/* Components over the hosts that are not removed. comp[i] = the smallest host
 * index of i's component; removed hosts get their own. stack: n entries. */
void graph_components(const struct graph_adj *g, const bool *removed, uint32_t *comp,
		      uint32_t *stack);
#define GRAPH_NO_GROUP UINT32_MAX

/* Shared servers: callers with no callers of their own (sources) are grouped
 * when their servers overlap (siblings: the two balancers of one VIP); a
 * server reached from two or more such groups is shared and marked in out[].
 * Servers with more than `popular` clients say nothing and are ignored.
 * down/up: the graph in both directions. caller_group (n entries, may be
 * NULL) receives, per host, the group whose label reached it (a stable
 * index), GRAPH_NO_GROUP when none or several did: callers can weigh a
 * shared server's clients by group. Returns how many were marked. */
uint32_t graph_shared_by_upstream(const struct graph_adj *down, const struct graph_adj *up,
				  const bool *removed, uint32_t popular, bool *out,
				  uint32_t *caller_group);
/* Cuts the undirected edge a - b (weight 0 both ways). */
void graph_cut_edge(struct graph_adj *g, uint32_t a, uint32_t b);
/* Weak links: an edge whose removal splits its component into two parts of
 * at least min_part hosts each gets weight 0 (cut). Returns how many. */
uint32_t graph_cut_bridges(struct graph_adj *g, const bool *removed, uint32_t min_part);
/* One community detection run on the subgraph induced by nodes[0..k)
 * (local[v] = v's position in nodes): dense labels 0.. into label[].
 * 0 or -ENOMEM. */
int graph_louvain(const struct graph_adj *g, const uint32_t *nodes, uint32_t k,
		  const uint32_t *local, uint32_t *label);

#endif
