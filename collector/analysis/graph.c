/* The graph algorithms of application grouping: adjacency in CSR form,
 * components, bridges, shared upstream and Louvain community detection.
 * Pure functions over indexes; apps.c decides what the graph means. */
#include "graph.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "depmap.h"

/* qsort that accepts an empty (NULL) array. */
static void sort_n(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

void graph_adj_free(struct graph_adj *a)
{
	free(a->start);
	free(a->to);
	free(a->w);
	memset(a, 0, sizeof(*a));
}

int graph_cmp_pair(const void *pa, const void *pb)
{
	const struct graph_pair *a = pa, *b = pb;
	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	return 0;
}

/* Undirected CSR from directed pairs (both directions added, duplicates
 * merged by summing weights; self loops kept once per direction pair). */
int graph_adj_build(struct graph_adj *g, uint32_t n, const struct graph_pair *pairs, size_t np)
{
	memset(g, 0, sizeof(*g));
	struct graph_pair *all = malloc((2 * np + 1) * sizeof(*all));
	if (!all)
		return -ENOMEM;
	size_t m = 0;
	for (size_t i = 0; i < np; i++) {
		all[m++] = pairs[i];
		if (pairs[i].a != pairs[i].b)
			all[m++] = (struct graph_pair){ pairs[i].b, pairs[i].a, pairs[i].w };
	}
	sort_n(all, m, sizeof(*all), graph_cmp_pair);
	size_t w = 0;
	for (size_t i = 0; i < m; i++) {
		if (w && all[w - 1].a == all[i].a && all[w - 1].b == all[i].b)
			all[w - 1].w += all[i].w;
		else
			all[w++] = all[i];
	}
	g->n = n;
	g->start = calloc((size_t)n + 1, sizeof(uint32_t));
	g->to = malloc((w + 1) * sizeof(uint32_t));
	g->w = malloc((w + 1) * sizeof(double));
	if (!g->start || !g->to || !g->w) {
		free(all);
		graph_adj_free(g);
		return -ENOMEM;
	}
	for (size_t i = 0; i < w; i++) {
		g->start[all[i].a + 1]++;
		g->to[i] = all[i].b;
		g->w[i] = all[i].w;
	}
	for (uint32_t i = 0; i < n; i++)
		g->start[i + 1] += g->start[i];
	free(all);
	return 0;
}

/* Union-find components over the hosts that are not removed. comp[i] = the
 * smallest host index of i's component; removed hosts get their own. */
void graph_components(const struct graph_adj *g, const bool *removed, uint32_t *comp, uint32_t *stack)
{
	for (uint32_t i = 0; i < g->n; i++)
		comp[i] = DEPMAP_NONE;
	for (uint32_t s = 0; s < g->n; s++) {
		if (comp[s] != DEPMAP_NONE)
			continue;
		comp[s] = s;
		if (removed[s])
			continue;
		size_t sp = 0;
		stack[sp++] = s;
		while (sp) {
			uint32_t v = stack[--sp];
			for (uint32_t e = g->start[v]; e < g->start[v + 1]; e++) {
				uint32_t u = g->to[e];
				if (removed[u] || comp[u] != DEPMAP_NONE || g->w[e] <= 0)
					continue;
				comp[u] = s;
				stack[sp++] = u;
			}
		}
	}
}

/* Shared services (step 3), by where their clients come from.
 *
 * Sources are hosts that nobody in the estate connects to (load balancers,
 * batch hosts) and that connect to at least two hosts; a source that talks
 * to a single host is a satellite of it (a replica, a report host) and
 * starts nothing. Sources whose sets of servers overlap by more than half
 * (Jaccard) start together: the two load balancers of one VIP, the batch
 * hosts of one job. Each start label flows downstream along client ->
 * server edges; a host reached by two different labels serves several
 * applications: a shared database or queue. It keeps the label MULTI and
 * passes nothing on. */
#define LABEL_NONE UINT32_MAX
#define LABEL_MULTI (UINT32_MAX - 1)

static uint32_t uf_find(uint32_t *p, uint32_t x)
{
	while (p[x] != x) {
		p[x] = p[p[x]];
		x = p[x];
	}
	return x;
}

/* Hosts whose sets of servers overlap by more than half (Jaccard > 0.5,
 * popular servers left out) play the same part: the two load balancers of
 * one VIP, the batch hosts of one job. */
static bool siblings(const struct graph_adj *down, const bool *ignore, uint32_t a, uint32_t b)
{
	uint32_t i = down->start[a], j = down->start[b], inter = 0, uni = 0;
	while (i < down->start[a + 1] || j < down->start[b + 1]) {
		uint32_t x = i < down->start[a + 1] ? down->to[i] : UINT32_MAX;
		uint32_t y = j < down->start[b + 1] ? down->to[j] : UINT32_MAX;
		bool skipx = x != UINT32_MAX && ignore[x];
		bool skipy = y != UINT32_MAX && ignore[y];
		if (x == y) {
			if (!skipx) {
				inter++;
				uni++;
			}
			i++;
			j++;
		} else if (x < y) {
			uni += !skipx;
			i++;
		} else {
			uni += !skipy;
			j++;
		}
	}
	return 2 * inter > uni;
}

uint32_t graph_shared_by_upstream(const struct graph_adj *down, const struct graph_adj *up,
				  const bool *removed, uint32_t popular, bool *out,
				  uint32_t *caller_group)
{
	uint32_t n = down->n, found = 0;
	uint32_t *label = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *parent = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *queue = malloc((2 * (size_t)n + 2) * sizeof(uint32_t));
	bool *source = calloc(n + 1, sizeof(bool));
	bool *queued = calloc(n + 1, sizeof(bool));
	/* servers with more clients than an application has hosts (package
	 * mirrors and the like) say nothing about which sources belong
	 * together: left out of the overlap and of the source test */
	bool *ignore = calloc(n + 1, sizeof(bool));
	if (!label || !parent || !queue || !source || !queued || !ignore)
		goto out;
	for (uint32_t v = 0; v < n; v++) {
		label[v] = LABEL_NONE;
		parent[v] = v;
		uint32_t fanin = 0;
		for (uint32_t e = up->start[v]; e < up->start[v + 1]; e++)
			fanin += !removed[up->to[e]];
		ignore[v] = removed[v] || fanin > popular;
	}
	for (uint32_t v = 0; v < n; v++) {
		if (removed[v])
			continue;
		uint32_t nup = 0, ndown = 0, only = DEPMAP_NONE;
		for (uint32_t e = up->start[v]; e < up->start[v + 1]; e++)
			nup += !removed[up->to[e]] && up->to[e] != v;
		for (uint32_t e = down->start[v]; e < down->start[v + 1]; e++)
			if (!ignore[down->to[e]] && down->to[e] != v) {
				ndown++;
				only = down->to[e];
			}
		/* one server that others use too: a satellite (replica, report
		 * host); one server nobody else uses: the head of a chain */
		bool satellite = ndown == 1 && up->start[only + 1] - up->start[only] > 1;
		source[v] = nup == 0 && ndown >= 1 && !satellite;
	}
	/* sources with overlapping servers start together: candidates are
	 * the sources that share one server */
	for (uint32_t d = 0; d < n; d++) {
		if (removed[d])
			continue;
		for (uint32_t e1 = up->start[d]; e1 < up->start[d + 1]; e1++) {
			uint32_t a = up->to[e1];
			if (!source[a])
				continue;
			for (uint32_t e2 = e1 + 1; e2 < up->start[d + 1]; e2++) {
				uint32_t b = up->to[e2];
				if (!source[b] || uf_find(parent, a) == uf_find(parent, b))
					continue;
				if (siblings(down, ignore, a, b))
					parent[uf_find(parent, a)] = uf_find(parent, b);
			}
		}
	}
	size_t qh = 0, qt = 0;
	for (uint32_t v = 0; v < n; v++)
		if (source[v]) {
			label[v] = uf_find(parent, v);
			queue[qt++] = v;
			queued[v] = true;
		}
	/* labels only grow (NONE -> one -> MULTI): each host is queued at most
	 * twice; the ring of 2n slots is enough */
	while (qh != qt) {
		uint32_t u = queue[qh];
		qh = (qh + 1) % (2 * (size_t)n + 2);
		queued[u] = false;
		if (label[u] == LABEL_MULTI || label[u] == LABEL_NONE)
			continue;
		for (uint32_t e = down->start[u]; e < down->start[u + 1]; e++) {
			uint32_t d = down->to[e];
			if (removed[d] || d == u || source[d])
				continue;
			uint32_t lu = uf_find(parent, label[u]);
			uint32_t nl = label[d] == LABEL_NONE ? lu : label[d];
			if (nl != LABEL_MULTI && uf_find(parent, nl) != lu) {
				/* two labels meet at d: the same application if a
				 * client of d carrying the other label is a sibling of
				 * u (a standby balancer next to one that another
				 * application calls); else d serves both */
				bool merged = false;
				for (uint32_t k = up->start[d]; !ignore[d] && k < up->start[d + 1] && !merged;
				     k++) {
					uint32_t w = up->to[k];
					if (w == u || removed[w] || label[w] >= LABEL_MULTI ||
					    uf_find(parent, label[w]) != uf_find(parent, nl))
						continue;
					if (siblings(down, ignore, u, w)) {
						parent[uf_find(parent, nl)] = lu;
						merged = true;
					}
				}
				nl = merged ? lu : LABEL_MULTI;
			}
			if (nl == label[d] || (nl != LABEL_MULTI && label[d] != LABEL_NONE &&
					       label[d] != LABEL_MULTI && uf_find(parent, label[d]) == nl))
				continue;
			label[d] = nl;
			if (!queued[d]) {
				queued[d] = true;
				queue[qt] = d;
				qt = (qt + 1) % (2 * (size_t)n + 2);
			}
		}
	}
	for (uint32_t v = 0; v < n; v++)
		if (label[v] == LABEL_MULTI) {
			out[v] = true;
			found++;
		}
	if (caller_group)
		for (uint32_t v = 0; v < n; v++)
			caller_group[v] = label[v] < LABEL_MULTI ? uf_find(parent, label[v])
								 : GRAPH_NO_GROUP;
out:
	free(label);
	free(parent);
	free(queue);
	free(source);
	free(queued);
	free(ignore);
	return found;
}

/* Weak links (step 4): an edge whose removal splits its component into two
 * parts of at least min_part hosts each is a call between two applications
 * (one host of one calling the other's VIP), not a tier of one. Iterative
 * Tarjan bridge search; bridges get their weight set to 0 (cut). */
uint32_t graph_cut_bridges(struct graph_adj *g, const bool *removed, uint32_t min_part)
{
	uint32_t n = g->n, found = 0, timer = 0;
	uint32_t *disc = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *low = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *parent = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *size = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *iter = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *stack = malloc((n + 1) * sizeof(uint32_t));
	uint32_t *root = malloc((n + 1) * sizeof(uint32_t));
	if (!disc || !low || !parent || !size || !iter || !stack || !root || !min_part)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		disc[i] = DEPMAP_NONE;
	for (uint32_t s0 = 0; s0 < n; s0++) {
		if (removed[s0] || disc[s0] != DEPMAP_NONE)
			continue;
		size_t sp = 0;
		stack[sp++] = s0;
		parent[s0] = DEPMAP_NONE;
		disc[s0] = low[s0] = timer++;
		size[s0] = 1;
		iter[s0] = g->start[s0];
		root[s0] = s0;
		while (sp) {
			uint32_t v = stack[sp - 1];
			if (iter[v] < g->start[v + 1]) {
				uint32_t e = iter[v]++;
				uint32_t u = g->to[e];
				if (removed[u] || u == v || g->w[e] <= 0)
					continue;
				if (disc[u] == DEPMAP_NONE) {
					parent[u] = v;
					disc[u] = low[u] = timer++;
					size[u] = 1;
					iter[u] = g->start[u];
					root[u] = s0;
					stack[sp++] = u;
				} else if (u != parent[v] && disc[u] < low[v]) {
					low[v] = disc[u];
				}
				continue;
			}
			sp--;
			uint32_t p = parent[v];
			if (p != DEPMAP_NONE) {
				if (low[v] < low[p])
					low[p] = low[v];
				size[p] += size[v];
			}
		}
	}
	for (uint32_t v = 0; v < n; v++) {
		uint32_t p = parent[v];
		if (removed[v] || disc[v] == DEPMAP_NONE || p == DEPMAP_NONE || low[v] <= disc[p])
			continue;
		uint32_t total = size[root[v]];
		if (size[v] < min_part || total - size[v] < min_part)
			continue;
		/* cut both directions of the bridge p - v */
		for (uint32_t e = g->start[p]; e < g->start[p + 1]; e++)
			if (g->to[e] == v)
				g->w[e] = 0;
		for (uint32_t e = g->start[v]; e < g->start[v + 1]; e++)
			if (g->to[e] == p)
				g->w[e] = 0;
		found++;
	}
out:
	free(disc);
	free(low);
	free(parent);
	free(size);
	free(iter);
	free(stack);
	free(root);
	return found;
}

/* ------------------------------------------------------------ Louvain */

/* One community detection run on the induced subgraph of nodes[0..k):
 * writes community labels (0-based, dense) into label[]. Deterministic. */
int graph_louvain(const struct graph_adj *g, const uint32_t *nodes, uint32_t k, const uint32_t *local,
		   uint32_t *label)
{
	/* level-0 graph in local indexes */
	size_t np = 0, cap = 0;
	struct graph_pair *pairs = NULL;
	for (uint32_t i = 0; i < k; i++) {
		uint32_t v = nodes[i];
		for (uint32_t e = g->start[v]; e < g->start[v + 1]; e++) {
			uint32_t u = g->to[e];
			if (local[u] == DEPMAP_NONE || local[u] < i)
				continue;
			if (np == cap) {
				cap = cap ? cap * 2 : 256;
				struct graph_pair *n2 = realloc(pairs, cap * sizeof(*pairs));
				if (!n2) {
					free(pairs);
					return -ENOMEM;
				}
				pairs = n2;
			}
			pairs[np++] = (struct graph_pair){ i, local[u], g->w[e] };
		}
	}
	for (uint32_t i = 0; i < k; i++)
		label[i] = i;
	uint32_t n = k;
	int rc = 0;
	uint32_t *comm = malloc((size_t)k * sizeof(uint32_t) + 4);
	double *tot = malloc((size_t)k * sizeof(double) + 8);
	double *kdeg = malloc((size_t)k * sizeof(double) + 8);
	double *neigh_w = calloc((size_t)k + 1, sizeof(double));
	uint32_t *neigh = malloc((size_t)k * sizeof(uint32_t) + 4);
	uint32_t *renum = malloc((size_t)k * sizeof(uint32_t) + 4);
	if (!comm || !tot || !kdeg || !neigh_w || !neigh || !renum) {
		rc = -ENOMEM;
		goto out;
	}
	for (int level = 0; level < 16; level++) {
		struct graph_adj h;
		if ((rc = graph_adj_build(&h, n, pairs, np)))
			goto out;
		double m2 = 0;
		for (uint32_t i = 0; i < n; i++) {
			kdeg[i] = 0;
			for (uint32_t e = h.start[i]; e < h.start[i + 1]; e++)
				kdeg[i] += h.to[e] == i ? 2 * h.w[e] : h.w[e];
			m2 += kdeg[i];
			comm[i] = i;
			tot[i] = kdeg[i];
		}
		if (m2 <= 0) {
			graph_adj_free(&h);
			break;
		}
		bool moved_any = false;
		for (int pass = 0; pass < 32; pass++) {
			bool moved = false;
			for (uint32_t i = 0; i < n; i++) {
				uint32_t nn = 0, ci = comm[i];
				for (uint32_t e = h.start[i]; e < h.start[i + 1]; e++) {
					uint32_t u = h.to[e];
					if (u == i)
						continue;
					uint32_t c = comm[u];
					if (neigh_w[c] == 0)
						neigh[nn++] = c;
					neigh_w[c] += h.w[e];
				}
				tot[ci] -= kdeg[i];
				uint32_t best = ci;
				double best_gain = neigh_w[ci] - tot[ci] * kdeg[i] / m2;
				for (uint32_t j = 0; j < nn; j++) {
					uint32_t c = neigh[j];
					double gain = neigh_w[c] - tot[c] * kdeg[i] / m2;
					if (gain > best_gain + 1e-12 ||
					    (fabs(gain - best_gain) <= 1e-12 && c < best && best != ci)) {
						best = c;
						best_gain = gain;
					}
				}
				tot[best] += kdeg[i];
				if (best != ci) {
					comm[i] = best;
					moved = true;
					moved_any = true;
				}
				for (uint32_t j = 0; j < nn; j++)
					neigh_w[neigh[j]] = 0;
				neigh_w[ci] = 0;
			}
			if (!moved)
				break;
		}
		if (!moved_any) {
			graph_adj_free(&h);
			break;
		}
		/* renumber communities densely, in order of first appearance */
		for (uint32_t i = 0; i < n; i++)
			renum[i] = DEPMAP_NONE;
		uint32_t nc = 0;
		for (uint32_t i = 0; i < n; i++)
			if (renum[comm[i]] == DEPMAP_NONE)
				renum[comm[i]] = nc++;
		for (uint32_t i = 0; i < k; i++)
			label[i] = renum[comm[label[i]]];
		/* aggregate graph: one node per community */
		np = 0;
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t e = h.start[i]; e < h.start[i + 1]; e++) {
				uint32_t u = h.to[e];
				if (u < i)
					continue;
				pairs[np++] = (struct graph_pair){ renum[comm[i]], renum[comm[u]], h.w[e] };
			}
		graph_adj_free(&h);
		n = nc;
		if (n <= 1)
			break;
	}
out:
	free(pairs);
	free(comm);
	free(tot);
	free(kdeg);
	free(neigh_w);
	free(neigh);
	free(renum);
	return rc;
}

void graph_cut_edge(struct graph_adj *g, uint32_t a, uint32_t b)
{
	for (uint32_t e = g->start[a]; e < g->start[a + 1]; e++)
		if (g->to[e] == b)
			g->w[e] = 0;
	for (uint32_t e = g->start[b]; e < g->start[b + 1]; e++)
		if (g->to[e] == a)
			g->w[e] = 0;
}
