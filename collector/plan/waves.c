/* Wave planning by ordered rules; the rules and their precedence are in
 * waves.h, the arithmetic in docs/planning.md.
 *
 * Four steps: units (applications that depend on each other, directly or
 * through a cycle: the strongly connected components of the dependency
 * graph, in an order where what is depended on comes first), placement
 * (waves filled one after the other with the units every rule allows there),
 * balance (a wave below min_hosts takes units from the one before when every
 * rule still holds) and a check of the finished plan against every rule,
 * whose findings become the warnings. What each rule did to a unit during
 * placement (the waves it kept the unit out of, what was relaxed and why) is
 * kept so every application can be explained. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "waves.h"

enum rule {
	R_PIN,
	R_TWO_WAY,
	R_WHOLE_APP,
	R_DEP_ORDER,
	R_ENV_ORDER,
	R_ENV_SEP,
	R_CRITICAL,
	R_INFRA,
	R_SIZE,
	R_EARLIEST, /* not a rule: the placement when nothing else decided */
	R_N,
};

const struct waves_rule waves_rules[] = {
	[R_PIN] = { "pin", "a person's pin (plan pin APP WAVE) wins" },
	[R_TWO_WAY] = { "two_way", "applications that depend on each other move in one wave" },
	[R_WHOLE_APP] = { "whole_app", "an application's hosts stay in one wave" },
	[R_DEP_ORDER] = { "dependency_order", "what an application depends on moves in the same or an earlier wave" },
	[R_ENV_ORDER] = { "env_order", "dev/test/staging before prod (environment tag)" },
	[R_ENV_SEP] = { "env_separate", "dev/test/staging and prod not mixed in one wave" },
	[R_CRITICAL] = { "critical_late", "criticality=high not in the first waves (--critical-after N)" },
	[R_INFRA] = { "infra_first", "shared infrastructure fills the first waves" },
	[R_SIZE] = { "wave_size", "min..max hosts per wave (--min-hosts, --max-hosts)" },
	[R_EARLIEST] = { "earliest", "the earliest wave the rules allow, with room" },
};
const size_t waves_nrules = R_EARLIEST; /* the rules proper */

enum { ENV_NONE = 0, ENV_NONPROD = 1, ENV_PROD = 2 };

struct wapp {
	const Cairn__Store__App *app;
	unsigned hosts;
	bool infra, stays, high;
	int env;
	const char *env_s, *crit_s, *strategy;
	unsigned pin;
	const char *pin_by;
	unsigned ready_score, ready_conf;
	bool has_ready;
	size_t unit;
	unsigned wave;
	uint32_t relaxed;               /* rules the checker found broken here */
	char relaxed_text[R_N][320];
};

struct unit {
	size_t first, n;                /* members: p->members[first .. first + n) */
	unsigned hosts;
	bool infra, has_prod, has_nonprod, high;
	unsigned pin;                   /* lowest member pin, 0 none */
	unsigned deadline;              /* a pinned dependent's wave, 0 none */
	const char *deadline_app;
	unsigned wave;
	bool placed;
	unsigned blocked_from[R_N], blocked_to[R_N]; /* waves a rule kept it out of */
	uint32_t relaxed;               /* rules placement relaxed for it */
	char because[256];              /* why (for the warnings) */
	const char *name;
};

struct dedge {
	size_t from, to;                /* app indices: from depends on to */
	double w;
};

struct wstate {
	unsigned load;
	bool prod, nonprod, infra;
};

struct plan {
	unsigned max, min, crit_after;
	struct wapp *apps;
	size_t napps;
	struct dedge *edges;            /* sorted by from, merged */
	size_t nedges;
	size_t *out_off, *in_off;       /* CSR: edges of app i are out[out_off[i]..out_off[i+1]) */
	size_t *out, *in;               /* app indices */
	struct unit *units;
	size_t nunits;
	size_t *members;
	struct wstate *ws;              /* index = wave number */
	size_t nws;
	unsigned nonempty_before;       /* waves < the current one holding anything */
	size_t nonprod_unplaced;        /* units with a dev/test/staging app not placed yet */
	size_t nprod;                   /* prod applications that move */
	unsigned nonprod_last;          /* latest wave holding one (pins may be ahead) */
	int pending;                    /* infra_pending of the current wave, -1 unknown */
	char **warn;
	unsigned *warn_wave;
	size_t nwarn;
};

/* ------------------------------------------------------------ helpers */

static const char *app_name(const struct wapp *a)
{
	return *a->app->name ? a->app->name : a->app->id;
}

static int ensure_wave(struct plan *p, unsigned w)
{
	if (w < p->nws)
		return 0;
	size_t n = (size_t)w + 16;
	struct wstate *v = realloc(p->ws, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + p->nws, 0, (n - p->nws) * sizeof(*v));
	p->ws = v;
	p->nws = n;
	return 0;
}

static const struct wstate *wave_state(const struct plan *p, unsigned w)
{
	static const struct wstate none;
	return w < p->nws ? &p->ws[w] : &none;
}

static int warn(struct plan *p, unsigned wave, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int warn(struct plan *p, unsigned wave, const char *fmt, ...)
{
	char buf[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **v = realloc(p->warn, (p->nwarn + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->warn = v;
	unsigned *ww = realloc(p->warn_wave, (p->nwarn + 1) * sizeof(*ww));
	if (!ww)
		return -ENOMEM;
	p->warn_wave = ww;
	if (!(p->warn[p->nwarn] = strdup(buf)))
		return -ENOMEM;
	p->warn_wave[p->nwarn++] = wave;
	return 0;
}

/* Appends "a, b, c and 3 more" (at most four names) to out. */
struct names {
	char *out;
	size_t len, used;
	unsigned shown, total;
};

static void names_add(struct names *n, const char *name)
{
	n->total++;
	if (n->shown == 4 || n->used + 1 >= n->len)
		return;
	n->used += (size_t)snprintf(n->out + n->used, n->len - n->used, "%s%s", n->shown ? ", " : "",
				    name);
	if (n->used >= n->len)
		n->used = n->len - 1;
	n->shown++;
}

static void names_end(struct names *n)
{
	if (n->total > n->shown && n->used + 1 < n->len)
		snprintf(n->out + n->used, n->len - n->used, " and %u more", n->total - n->shown);
}

static void range_text(unsigned from, unsigned to, char *out, size_t n)
{
	if (from == to)
		snprintf(out, n, "wave %u", from);
	else
		snprintf(out, n, "waves %u-%u", from, to);
}

static int env_class(const char *env)
{
	if (!env || !*env)
		return ENV_NONE;
	if (!strcmp(env, "prod"))
		return ENV_PROD;
	if (!strcmp(env, "dev") || !strcmp(env, "test") || !strcmp(env, "staging"))
		return ENV_NONPROD;
	return ENV_NONE;
}

/* ------------------------------------------------------------ graph */

static int cmp_dedge(const void *a, const void *b)
{
	const struct dedge *x = a, *y = b;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->to < y->to ? -1 : x->to > y->to;
}

struct hostmap {
	const char *host;
	size_t app;
};

static int cmp_hostmap(const void *a, const void *b)
{
	return strcmp(((const struct hostmap *)a)->host, ((const struct hostmap *)b)->host);
}

/* App-level dependency edges from the map's host edges: from the client's
 * application to the server's. Apps that stay, self-edges and shared
 * infrastructure's edges to other applications are left out. */
static int build_edges(struct plan *p, const Cairn__Store__Snapshot *snap)
{
	size_t nh = 0;
	for (size_t i = 0; i < p->napps; i++)
		nh += p->apps[i].app->n_hosts;
	struct hostmap *hm = calloc(nh + 1, sizeof(*hm));
	if (!hm)
		return -ENOMEM;
	nh = 0;
	for (size_t i = 0; i < p->napps; i++)
		for (size_t j = 0; j < p->apps[i].app->n_hosts; j++)
			hm[nh++] = (struct hostmap){ p->apps[i].app->hosts[j], i };
	qsort(hm, nh, sizeof(*hm), cmp_hostmap);
	const Cairn__Store__DepMap *map = snap->map;
	size_t ne = map ? map->n_host_edges : 0;
	p->edges = calloc(ne + 1, sizeof(*p->edges));
	if (!p->edges) {
		free(hm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ne; i++) {
		const Cairn__Store__MapEdge *e = map->host_edges[i];
		struct hostmap kf = { e->from, 0 }, kt = { e->to, 0 };
		const struct hostmap *f = bsearch(&kf, hm, nh, sizeof(*hm), cmp_hostmap);
		const struct hostmap *t = bsearch(&kt, hm, nh, sizeof(*hm), cmp_hostmap);
		if (!f || !t || f->app == t->app || p->apps[f->app].stays || p->apps[t->app].stays)
			continue;
		if (p->apps[f->app].infra && !p->apps[t->app].infra)
			continue;
		p->edges[p->nedges++] = (struct dedge){ f->app, t->app,
							e->samples_seen ? (double)e->samples_seen : 1 };
	}
	free(hm);
	qsort(p->edges, p->nedges, sizeof(*p->edges), cmp_dedge);
	size_t out = 0;
	for (size_t i = 0; i < p->nedges; i++) {
		if (out && p->edges[out - 1].from == p->edges[i].from &&
		    p->edges[out - 1].to == p->edges[i].to)
			p->edges[out - 1].w += p->edges[i].w;
		else
			p->edges[out++] = p->edges[i];
	}
	p->nedges = out;
	/* adjacency both ways */
	p->out_off = calloc(p->napps + 1, sizeof(size_t));
	p->in_off = calloc(p->napps + 2, sizeof(size_t));
	p->out = calloc(p->nedges + 1, sizeof(size_t));
	p->in = calloc(p->nedges + 1, sizeof(size_t));
	if (!p->out_off || !p->in_off || !p->out || !p->in)
		return -ENOMEM;
	for (size_t e = 0; e < p->nedges; e++) {
		p->out_off[p->edges[e].from + 1]++;
		p->in_off[p->edges[e].to + 2]++;
	}
	for (size_t i = 0; i < p->napps; i++) {
		p->out_off[i + 1] += p->out_off[i];
		p->in_off[i + 2] += p->in_off[i + 1];
	}
	for (size_t e = 0; e < p->nedges; e++) {
		p->out[e] = p->edges[e].to; /* edges are sorted by from */
		p->in[p->in_off[p->edges[e].to + 1]++] = p->edges[e].from;
	}
	return 0;
}

/* Tarjan's strongly connected components, iteratively. Components come out
 * in reverse topological order of the edges (dependent -> dependency), that
 * is, what is depended on first: the order waves move in. */
static int build_units(struct plan *p)
{
	size_t n = p->napps;
	size_t *index = malloc((n + 1) * sizeof(size_t)), *low = malloc((n + 1) * sizeof(size_t));
	size_t *stack = malloc((n + 1) * sizeof(size_t)), *call = malloc((n + 1) * sizeof(size_t));
	size_t *pos = malloc((n + 1) * sizeof(size_t));
	bool *on = calloc(n + 1, sizeof(bool));
	p->units = calloc(n + 1, sizeof(*p->units));
	p->members = calloc(n + 1, sizeof(size_t));
	int rc = -ENOMEM;
	if (!index || !low || !stack || !call || !pos || !on || !p->units || !p->members)
		goto out;
	for (size_t i = 0; i < n; i++)
		index[i] = SIZE_MAX;
	size_t next = 0, sp = 0, nm = 0;
	for (size_t root = 0; root < n; root++) {
		if (index[root] != SIZE_MAX || p->apps[root].stays)
			continue;
		size_t cp = 0;
		call[cp++] = root;
		index[root] = low[root] = next++;
		pos[root] = p->out_off[root];
		stack[sp++] = root;
		on[root] = true;
		while (cp) {
			size_t v = call[cp - 1];
			if (pos[v] < p->out_off[v + 1]) {
				size_t w = p->out[pos[v]++];
				if (index[w] == SIZE_MAX) {
					index[w] = low[w] = next++;
					pos[w] = p->out_off[w];
					stack[sp++] = w;
					on[w] = true;
					call[cp++] = w;
				} else if (on[w] && index[w] < low[v]) {
					low[v] = index[w];
				}
				continue;
			}
			cp--;
			if (cp && low[v] < low[call[cp - 1]])
				low[call[cp - 1]] = low[v];
			if (low[v] != index[v])
				continue;
			struct unit *u = &p->units[p->nunits];
			u->first = nm;
			size_t x;
			do {
				x = stack[--sp];
				on[x] = false;
				p->members[nm++] = x;
				p->apps[x].unit = p->nunits;
			} while (x != v);
			u->n = nm - u->first;
			p->nunits++;
		}
	}
	rc = 0;
out:
	free(index);
	free(low);
	free(stack);
	free(call);
	free(pos);
	free(on);
	return rc;
}

/* Members of each unit by name (output order), then the unit's facts. */
static void unit_facts(struct plan *p)
{
	for (size_t k = 0; k < p->nunits; k++) {
		struct unit *u = &p->units[k];
		/* insertion sort by name: units are small */
		for (size_t i = 1; i < u->n; i++) {
			size_t m = p->members[u->first + i], j = i;
			while (j && strcmp(app_name(&p->apps[p->members[u->first + j - 1]]),
					   app_name(&p->apps[m])) > 0) {
				p->members[u->first + j] = p->members[u->first + j - 1];
				j--;
			}
			p->members[u->first + j] = m;
		}
		u->name = app_name(&p->apps[p->members[u->first]]);
		for (size_t i = 0; i < u->n; i++) {
			const struct wapp *a = &p->apps[p->members[u->first + i]];
			u->hosts += a->hosts;
			u->infra |= a->infra;
			u->has_prod |= a->env == ENV_PROD;
			u->has_nonprod |= a->env == ENV_NONPROD;
			u->high |= a->high;
			if (a->pin && (!u->pin || a->pin < u->pin))
				u->pin = a->pin;
		}
	}
	/* deadlines: an unpinned unit should move no later than the pinned
	 * units that depend on it (transitively); dependents come later in
	 * unit order, so one pass from the end settles them */
	for (size_t k = p->nunits; k-- > 0;) {
		struct unit *u = &p->units[k];
		for (size_t i = 0; i < u->n; i++) {
			size_t a = p->members[u->first + i];
			for (size_t e = p->in_off[a]; e < p->in_off[a + 1]; e++) {
				size_t d = p->in[e];
				const struct unit *du = &p->units[p->apps[d].unit];
				if (du == u)
					continue;
				unsigned dl = du->pin ? (p->apps[d].pin ? p->apps[d].pin : du->pin) : du->deadline;
				const char *who = du->pin ? app_name(&p->apps[d]) : du->deadline_app;
				if (dl && (!u->deadline || dl < u->deadline)) {
					u->deadline = dl;
					u->deadline_app = who;
				}
			}
		}
	}
}

/* ------------------------------------------------------------ placement */

/* Whether an unpinned shared infrastructure unit could go into wave w: then
 * the other applications wait. Only its own size and the wave's environment
 * mix (both settle in the next wave) and its dependencies (on other
 * infrastructure, placed first) may hold it back. */
static uint32_t blocks(const struct plan *p, const struct unit *u, unsigned w, bool *infra_pending);

static bool infra_pending(struct plan *p, unsigned w)
{
	if (p->pending >= 0)
		return p->pending;
	p->pending = 0;
	for (size_t k = 0; k < p->nunits; k++) {
		const struct unit *u = &p->units[k];
		if (!u->infra || u->placed)
			continue;
		uint32_t b = blocks(p, u, w, NULL);
		if (!(b & ~((1u << R_SIZE) | (1u << R_ENV_SEP) | (1u << R_DEP_ORDER))))
			return (p->pending = 1);
	}
	return false;
}

/* The rules that keep unit u out of wave w (a bit per rule). pending: the
 * result of infra_pending(w), NULL to skip that rule. */
static uint32_t blocks(const struct plan *p, const struct unit *u, unsigned w, bool *pending)
{
	uint32_t b = 0;
	for (size_t i = 0; i < u->n && !(b & (1u << R_DEP_ORDER)); i++) {
		size_t a = p->members[u->first + i];
		for (size_t e = p->out_off[a]; e < p->out_off[a + 1]; e++) {
			const struct wapp *t = &p->apps[p->out[e]];
			if (t->unit == (size_t)(u - p->units))
				continue;
			if (!p->units[t->unit].placed || t->wave > w) {
				b |= 1u << R_DEP_ORDER;
				break;
			}
		}
	}
	const struct wstate *s = wave_state(p, w);
	/* dev/test first: every other dev/test unit placed, none later */
	if (u->has_prod && (p->nonprod_unplaced > (u->has_nonprod && !u->placed) || p->nonprod_last > w))
		b |= 1u << R_ENV_ORDER;
	if ((u->has_prod && s->nonprod) || (u->has_nonprod && s->prod))
		b |= 1u << R_ENV_SEP;
	if (u->high && p->crit_after && p->nonempty_before < p->crit_after)
		b |= 1u << R_CRITICAL;
	if (!u->infra && pending && (*pending || s->infra))
		b |= 1u << R_INFRA;
	if (s->load && s->load + u->hosts > p->max)
		b |= 1u << R_SIZE;
	return b;
}

static int place(struct plan *p, struct unit *u, unsigned w)
{
	int rc;
	u->placed = true;
	u->wave = w;
	p->pending = -1;
	if (u->has_nonprod)
		p->nonprod_unplaced--;
	for (size_t i = 0; i < u->n; i++) {
		struct wapp *a = &p->apps[p->members[u->first + i]];
		a->wave = a->pin ? a->pin : w;
		if ((rc = ensure_wave(p, a->wave)))
			return rc;
		struct wstate *s = &p->ws[a->wave];
		s->load += a->hosts;
		s->prod |= a->env == ENV_PROD;
		s->nonprod |= a->env == ENV_NONPROD;
		s->infra |= a->infra && !a->pin;
		if (a->env == ENV_NONPROD && a->wave > p->nonprod_last)
			p->nonprod_last = a->wave;
	}
	return 0;
}

static void note_blocks(struct unit *u, uint32_t b, unsigned w)
{
	for (int r = 0; r < R_N; r++) {
		if (!(b & (1u << r)))
			continue;
		if (!u->blocked_from[r])
			u->blocked_from[r] = w;
		u->blocked_to[r] = w;
	}
}

static void relax(struct unit *u, uint32_t b, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void relax(struct unit *u, uint32_t b, const char *fmt, ...)
{
	u->relaxed |= b;
	if (u->because[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->because, sizeof(u->because), fmt, ap);
	va_end(ap);
}

static int env_rank(const struct unit *u)
{
	return u->has_prod ? 2 : u->has_nonprod ? 0 : 1;
}

struct cand {
	struct unit *u;
	bool urgent;
};

static int cmp_cand(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;
	if (a->urgent != b->urgent)
		return a->urgent ? -1 : 1;
	if (a->u->infra != b->u->infra)
		return a->u->infra ? -1 : 1;
	if (env_rank(a->u) != env_rank(b->u))
		return env_rank(a->u) - env_rank(b->u);
	if (a->u->hosts != b->u->hosts)
		return a->u->hosts > b->u->hosts ? -1 : 1;
	return strcmp(a->u->name, b->u->name);
}

static int highest_rule(uint32_t b)
{
	for (int r = 0; r < R_N; r++)
		if (b & (1u << r))
			return r;
	return R_N;
}

static int place_all(struct plan *p)
{
	int rc;
	size_t left = 0;
	unsigned maxpin = 0;
	for (size_t k = 0; k < p->nunits; k++)
		p->nonprod_unplaced += p->units[k].has_nonprod;
	for (size_t k = 0; k < p->nunits; k++) {
		struct unit *u = &p->units[k];
		if (u->pin) {
			if ((rc = place(p, u, u->pin)))
				return rc;
			maxpin = u->pin > maxpin ? u->pin : maxpin;
		} else {
			left++;
		}
	}
	struct cand *c = calloc(p->nunits + 1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* every wave places something or waits for a pin or a rule tied to
	 * the wave number; past this nothing is waiting any more */
	unsigned last = maxpin + (unsigned)p->nunits + p->crit_after + 2;
	rc = 0;
	for (unsigned w = 1; left && !rc; w++) {
		if ((rc = ensure_wave(p, w)))
			break;
		p->nonempty_before = 0;
		p->pending = -1;
		for (unsigned v = 1; v < w; v++)
			p->nonempty_before += wave_state(p, v)->load > 0;
		size_t nc = 0;
		for (size_t k = 0; k < p->nunits; k++)
			if (!p->units[k].placed)
				c[nc++] = (struct cand){ &p->units[k],
							 p->units[k].deadline && p->units[k].deadline <= w };
		qsort(c, nc, sizeof(*c), cmp_cand);
		for (bool progress = true; progress && !rc;) {
			progress = false;
			for (size_t i = 0; i < nc && !rc; i++) {
				struct unit *u = c[i].u;
				if (u->placed)
					continue;
				bool pending = !u->infra && infra_pending(p, w);
				uint32_t b = blocks(p, u, w, &pending);
				uint32_t waived = 0;
				if (b && c[i].urgent && !(b & (1u << R_DEP_ORDER))) {
					/* a pinned dependent is waiting: dependency
					 * order outranks every rule still in the way */
					waived = b;
					relax(u, b, "it must move no later than %s, pinned to wave %u",
					      u->deadline_app ? u->deadline_app : "a pinned application",
					      u->deadline);
				}
				if (b & ~waived) {
					note_blocks(u, b, w);
					continue;
				}
				if ((rc = place(p, u, w)))
					break;
				left--;
				progress = true;
			}
			if (rc || progress || wave_state(p, w)->load || !left)
				continue;
			/* nothing fits anywhere: relax the least important rule in
			 * the way for one unit (never dependency order: what it
			 * waits for moves first) */
			struct unit *best = NULL;
			int best_rule = -1;
			uint32_t best_b = 0;
			for (size_t i = 0; i < nc; i++) {
				struct unit *u = c[i].u;
				if (u->placed)
					continue;
				bool pending = !u->infra && infra_pending(p, w);
				uint32_t b = blocks(p, u, w, &pending);
				if (b & (1u << R_DEP_ORDER))
					continue;
				/* prod waiting only for a dev/test application pinned
				 * to a later wave: that wave comes */
				if ((b & (1u << R_ENV_ORDER)) &&
				    p->nonprod_unplaced <= (size_t)(u->has_nonprod && !u->placed))
					continue;
				int r = highest_rule(b);
				if (r > best_rule) {
					best = u;
					best_rule = r;
					best_b = b;
				}
			}
			if (!best)
				break; /* waits for a pin in a later wave */
			char why[200];
			switch (best_rule) {
			case R_ENV_ORDER:
				snprintf(why, sizeof(why), "dev/test applications wait for it (they depend on it)");
				break;
			case R_INFRA:
				snprintf(why, sizeof(why), "shared infrastructure that could move first is held back by the rules before infra_first");
				break;
			default:
				snprintf(why, sizeof(why), "no application could move into wave %u otherwise", w);
			}
			relax(best, best_b, "%s", why);
			if ((rc = place(p, best, w)))
				break;
			left--;
			progress = true;
		}
		if (!rc && w >= last && left) {
			/* cannot happen by the argument above; place the rest
			 * rather than loop */
			for (size_t i = 0; i < nc && !rc; i++)
				if (!c[i].u->placed) {
					relax(c[i].u, 0, "placement gave up");
					rc = place(p, c[i].u, w + 1);
					left--;
				}
		}
	}
	free(c);
	return rc;
}

/* ------------------------------------------------------------ the check */

static const char *pin_text(const struct wapp *a, char *buf, size_t n)
{
	snprintf(buf, n, "%s is pinned to wave %u by %s", app_name(a), a->pin,
		 a->pin_by && *a->pin_by ? a->pin_by : "a person");
	return buf;
}

/* Why a rule could not hold for a (and b, may be NULL): a pin, else what
 * placement relaxed, else the rules before it. */
static const char *cause(const struct plan *p, const struct wapp *a, const struct wapp *b,
			 char *buf, size_t n)
{
	if (a->pin)
		return pin_text(a, buf, n);
	if (b && b->pin)
		return pin_text(b, buf, n);
	const struct unit *ua = &p->units[a->unit];
	if (ua->because[0]) {
		snprintf(buf, n, "%s", ua->because);
		return buf;
	}
	if (b && p->units[b->unit].because[0]) {
		snprintf(buf, n, "%s", p->units[b->unit].because);
		return buf;
	}
	snprintf(buf, n, "the rules before it leave no other wave");
	return buf;
}

static void mark(struct wapp *a, int rule, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mark(struct wapp *a, int rule, const char *fmt, ...)
{
	if (a->relaxed & (1u << rule))
		return;
	a->relaxed |= 1u << rule;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->relaxed_text[rule], sizeof(a->relaxed_text[rule]), fmt, ap);
	va_end(ap);
}

static const char *env_word(int env)
{
	return env == ENV_PROD ? "prod" : env == ENV_NONPROD ? "dev/test/staging" : "untagged";
}

static int check_plan(struct plan *p, unsigned maxw)
{
	int rc = 0;
	char c[320];
	/* two_way: only pins can part a unit */
	for (size_t k = 0; k < p->nunits && !rc; k++) {
		const struct unit *u = &p->units[k];
		for (size_t i = 0; i < u->n && !rc; i++) {
			struct wapp *a = &p->apps[p->members[u->first + i]];
			if (a->wave == u->wave)
				continue;
			struct wapp *other = NULL;
			for (size_t j = 0; j < u->n && !other; j++)
				if (p->apps[p->members[u->first + j]].wave == u->wave)
					other = &p->apps[p->members[u->first + j]];
			if (!other)
				continue;
			mark(a, R_TWO_WAY, "%s (wave %u) and %s depend on each other, but %s", other->app->name,
			     other->wave, app_name(a), pin_text(a, c, sizeof(c)));
			rc = warn(p, a->wave, "two_way not honored: %s (wave %u) and %s (wave %u) depend on "
				  "each other, but %s (the pin wins)", app_name(a), a->wave, app_name(other),
				  other->wave, c);
		}
	}
	/* dependency_order */
	for (size_t e = 0; e < p->nedges && !rc; e++) {
		struct wapp *a = &p->apps[p->edges[e].from], *t = &p->apps[p->edges[e].to];
		if (t->wave <= a->wave || a->unit == t->unit)
			continue;
		cause(p, t, a, c, sizeof(c));
		mark(a, R_DEP_ORDER, "depends on %s, which moves later (wave %u): %s", app_name(t), t->wave, c);
		rc = warn(p, t->wave, "dependency_order not honored: %s (wave %u) depends on %s (wave %u, "
			  "%.0f samples), which moves later: %s", app_name(a), a->wave, app_name(t), t->wave,
			  p->edges[e].w, c);
	}
	/* env_order: a dev/test application after the first prod wave */
	unsigned first_prod = 0;
	const struct wapp *fp = NULL;
	for (size_t i = 0; i < p->napps; i++)
		if (p->apps[i].wave && p->apps[i].env == ENV_PROD && (!first_prod || p->apps[i].wave < first_prod)) {
			first_prod = p->apps[i].wave;
			fp = &p->apps[i];
		}
	for (size_t i = 0; i < p->napps && !rc && first_prod; i++) {
		struct wapp *a = &p->apps[i];
		if (!a->wave || a->env != ENV_NONPROD || a->wave <= first_prod)
			continue;
		cause(p, a, fp, c, sizeof(c));
		mark(a, R_ENV_ORDER, "%s application after prod %s (wave %u): %s", a->env_s, app_name(fp),
		     first_prod, c);
		rc = warn(p, a->wave, "env_order not honored: %s (%s, wave %u) moves after prod %s (wave "
			  "%u): %s", app_name(a), a->env_s, a->wave, app_name(fp), first_prod, c);
	}
	/* infra_first: an application in a wave no later than shared
	 * infrastructure's (the latest infrastructure application names it) */
	const struct wapp *late_infra = NULL;
	for (size_t i = 0; i < p->napps; i++)
		if (p->apps[i].wave && p->apps[i].infra && (!late_infra || p->apps[i].wave > late_infra->wave))
			late_infra = &p->apps[i];
	for (unsigned w = 1; late_infra && w <= late_infra->wave && !rc; w++) {
		char names[200];
		struct names n = { names, sizeof(names), 0, 0, 0 };
		names[0] = 0;
		struct wapp *first = NULL;
		for (size_t i = 0; i < p->napps; i++) {
			struct wapp *a = &p->apps[i];
			if (a->wave != w || a->infra)
				continue;
			names_add(&n, app_name(a));
			if (!first || a->pin)
				first = a;
		}
		names_end(&n);
		if (!first)
			continue;
		if (first->pin)
			pin_text(first, c, sizeof(c));
		else if (late_infra->pin)
			pin_text(late_infra, c, sizeof(c));
		else if (late_infra->high && p->crit_after)
			snprintf(c, sizeof(c), "%s has criticality high (critical_late wins)", app_name(late_infra));
		else
			cause(p, first, late_infra, c, sizeof(c));
		for (size_t i = 0; i < p->napps; i++)
			if (p->apps[i].wave == w && !p->apps[i].infra)
				mark(&p->apps[i], R_INFRA, "moves no later than shared infrastructure %s (wave %u): %s",
				     app_name(late_infra), late_infra->wave, c);
		rc = warn(p, w, "infra_first not honored: wave %u holds %s, no later than shared "
			  "infrastructure %s (wave %u): %s", w, names, app_name(late_infra), late_infra->wave, c);
	}
	/* env_separate, critical_late, wave_size: per wave */
	unsigned nonempty = 0;
	for (unsigned w = 1; w <= maxw && !rc; w++) {
		const struct wstate *s = wave_state(p, w);
		if (!s->load)
			continue;
		nonempty++;
		if (s->prod && s->nonprod) {
			char np[200], pr[200];
			struct names a = { np, sizeof(np), 0, 0, 0 }, b = { pr, sizeof(pr), 0, 0, 0 };
			np[0] = pr[0] = 0;
			const struct wapp *x = NULL, *y = NULL;
			for (size_t i = 0; i < p->napps; i++) {
				if (p->apps[i].wave != w || p->apps[i].env == ENV_NONE)
					continue;
				names_add(p->apps[i].env == ENV_PROD ? &b : &a, app_name(&p->apps[i]));
				if (p->apps[i].env == ENV_PROD && (!y || p->units[p->apps[i].unit].because[0] || p->apps[i].pin))
					y = &p->apps[i];
				if (p->apps[i].env == ENV_NONPROD && (!x || p->units[p->apps[i].unit].because[0] || p->apps[i].pin))
					x = &p->apps[i];
			}
			names_end(&a);
			names_end(&b);
			if (!x || !y)
				continue;
			if (p->units[x->unit].n > 1 && x->unit == y->unit)
				snprintf(c, sizeof(c), "%s and %s depend on each other (two_way wins)",
					 app_name(x), app_name(y));
			else
				cause(p, y, x, c, sizeof(c));
			for (size_t i = 0; i < p->napps; i++)
				if (p->apps[i].wave == w && p->apps[i].env != ENV_NONE)
					mark(&p->apps[i], R_ENV_SEP, "wave %u mixes dev/test/staging (%s) and prod (%s): %s",
					     w, np, pr, c);
			if ((rc = warn(p, w, "env_separate not honored: wave %u mixes dev/test/staging (%s) and "
				       "prod (%s): %s", w, np, pr, c)))
				break;
		}
		for (size_t i = 0; i < p->napps && !rc && p->crit_after && nonempty <= p->crit_after; i++) {
			struct wapp *a = &p->apps[i];
			if (a->wave != w || !a->high)
				continue;
			cause(p, a, NULL, c, sizeof(c));
			mark(a, R_CRITICAL, "criticality high, in wave %u (one of the first %u): %s", w,
			     p->crit_after, c);
			rc = warn(p, w, "critical_late not honored: %s (criticality high) is in wave %u, one of "
				  "the first %u: %s", app_name(a), w, p->crit_after, c);
		}
		if (rc)
			break;
		if (s->load > p->max) {
			/* the largest unit in the wave explains it when it alone
			 * is above the limit; else a pin or what placement relaxed */
			const struct unit *big = NULL, *relaxed_unit = NULL;
			const struct wapp *pinned = NULL;
			for (size_t k = 0; k < p->nunits; k++) {
				const struct unit *u = &p->units[k];
				if (u->wave != w)
					continue;
				if (!big || u->hosts > big->hosts)
					big = u;
				if ((u->relaxed & (1u << R_SIZE)) && u->because[0])
					relaxed_unit = u;
			}
			for (size_t i = 0; i < p->napps && !pinned; i++)
				if (p->apps[i].wave == w && p->apps[i].pin)
					pinned = &p->apps[i];
			if (big && big->hosts > p->max && big->n > 1)
				snprintf(c, sizeof(c), "%s and %zu other application%s depend on each other: "
					 "%u hosts together (two_way wins)", big->name, big->n - 1,
					 big->n == 2 ? "" : "s", big->hosts);
			else if (big && big->hosts > p->max)
				snprintf(c, sizeof(c), "%s has %u hosts and stays whole (whole_app wins)",
					 big->name, big->hosts);
			else if (pinned)
				pin_text(pinned, c, sizeof(c));
			else if (relaxed_unit)
				snprintf(c, sizeof(c), "%s: %s", relaxed_unit->name, relaxed_unit->because);
			else
				snprintf(c, sizeof(c), "the rules before it put more here");
			rc = warn(p, w, "wave_size not honored: wave %u has %u hosts, more than --max-hosts %u: %s",
				  w, s->load, p->max, c);
		} else if (p->min && s->load < p->min) {
			rc = warn(p, w, "wave_size not honored: wave %u has %u host%s, fewer than --min-hosts %u: "
				  "the rules before it keep the other applications out",
				  w, s->load, s->load == 1 ? "" : "s", p->min);
		}
	}
	return rc;
}

/* Waves below min_hosts take units from the wave before when that keeps
 * every rule: the unit is unpinned, none of its dependents is in that wave
 * (they would move before it), its environment fits, the wave it leaves
 * stays at min_hosts or more and the one it joins within max_hosts. */
static int balance(struct plan *p, unsigned maxw)
{
	if (!p->min)
		return 0;
	for (unsigned w = 2; w <= maxw; w++) {
		struct wstate *s = &p->ws[w], *prev = &p->ws[w - 1];
		if (!s->load || s->load >= p->min || prev->infra || s->infra)
			continue;
		for (size_t k = p->nunits; k-- > 0 && s->load < p->min;) {
			struct unit *u = &p->units[k];
			if (!u->placed || u->pin || u->wave != w - 1 || u->infra)
				continue;
			if (prev->load - u->hosts < p->min || s->load + u->hosts > p->max)
				continue;
			if ((u->has_prod && s->nonprod) || (u->has_nonprod && s->prod))
				continue;
			bool dependent_there = false;
			for (size_t i = 0; i < u->n && !dependent_there; i++) {
				size_t a = p->members[u->first + i];
				for (size_t e = p->in_off[a]; e < p->in_off[a + 1]; e++)
					if (p->apps[p->in[e]].unit != k && p->apps[p->in[e]].wave == w - 1)
						dependent_there = true;
			}
			if (dependent_there)
				continue;
			u->wave = w;
			for (size_t i = 0; i < u->n; i++)
				p->apps[p->members[u->first + i]].wave = w;
			prev->load -= u->hosts;
			s->load += u->hosts;
			s->prod |= u->has_prod;
			s->nonprod |= u->has_nonprod;
			u->blocked_from[R_SIZE] = u->blocked_from[R_SIZE] ? u->blocked_from[R_SIZE] : w - 1;
			u->blocked_to[R_SIZE] = w - 1;
		}
		/* what left the wave before may have been its only prod or dev app */
		prev->prod = prev->nonprod = false;
		for (size_t i = 0; i < p->napps; i++)
			if (p->apps[i].wave == w - 1) {
				prev->prod |= p->apps[i].env == ENV_PROD;
				prev->nonprod |= p->apps[i].env == ENV_NONPROD;
			}
	}
	return 0;
}

/* ------------------------------------------------------------ output */

struct rulelist {
	Cairn__Store__WaveRule **v;
	size_t n;
};

static int rule_add(struct rulelist *l, int rule, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rule_add(struct rulelist *l, int rule, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	Cairn__Store__WaveRule **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	Cairn__Store__WaveRule *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	cairn__store__wave_rule__init(r);
	v[l->n++] = r;
	r->code = strdup(waves_rules[rule].code);
	r->text = strdup(buf);
	return r->code && r->text ? 0 : -ENOMEM;
}

/* The rules that placed app a, in precedence order. */
static int placed_by(const struct plan *p, const struct wapp *a, struct rulelist *l)
{
	const struct unit *u = &p->units[a->unit];
	char buf[320], rng[32];
	int rc = 0;
	if (a->pin && (rc = rule_add(l, R_PIN, "pinned to wave %u by %s", a->pin,
				     a->pin_by && *a->pin_by ? a->pin_by : "a person")))
		return rc;
	if (u->n > 1) {
		struct names n = { buf, sizeof(buf), 0, 0, 0 };
		buf[0] = 0;
		for (size_t i = 0; i < u->n; i++)
			if (&p->apps[p->members[u->first + i]] != a)
				names_add(&n, app_name(&p->apps[p->members[u->first + i]]));
		names_end(&n);
		if (!a->pin && u->pin)
			rc = rule_add(l, R_TWO_WAY, "moves with %s (they depend on each other; a pin in the group "
				      "sets wave %u)", buf, u->pin);
		else
			rc = rule_add(l, R_TWO_WAY, "moves with %s (they depend on each other: %u hosts together)",
				      buf, u->hosts);
		if (rc)
			return rc;
	}
	if (a->hosts > p->max &&
	    (rc = rule_add(l, R_WHOLE_APP, "its %u hosts stay together: more than --max-hosts %u, a wave "
			   "of its own", a->hosts, p->max)))
		return rc;
	{
		struct names n = { buf, sizeof(buf), 0, 0, 0 };
		buf[0] = 0;
		unsigned latest = 0, ninfra = 0, infra_wave = 0;
		size_t ai = (size_t)(a - p->apps);
		for (size_t e = p->out_off[ai]; e < p->out_off[ai + 1]; e++) {
			const struct wapp *t = &p->apps[p->out[e]];
			if (t->unit == a->unit)
				continue;
			latest = t->wave > latest ? t->wave : latest;
			if (t->infra && !a->infra) {
				/* said once: every application uses it */
				ninfra++;
				infra_wave = t->wave > infra_wave ? t->wave : infra_wave;
				continue;
			}
			char one[160];
			snprintf(one, sizeof(one), "%s (wave %u)", app_name(t), t->wave);
			names_add(&n, one);
		}
		names_end(&n);
		if (ninfra && n.used + 1 < n.len) {
			char one[96];
			if (infra_wave > 1)
				snprintf(one, sizeof(one), "shared infrastructure (%u, by wave %u)", ninfra, infra_wave);
			else
				snprintf(one, sizeof(one), "shared infrastructure (%u, wave 1)", ninfra);
			snprintf(buf + n.used, n.len - n.used, "%s%s", n.total ? " and " : "", one);
			n.total++;
		}
		if (n.total &&
		    (rc = rule_add(l, R_DEP_ORDER, "depends on %s: no earlier than wave %u", buf, latest)))
			return rc;
	}
	if (u->blocked_from[R_ENV_ORDER] && u->blocked_from[R_ENV_ORDER] < a->wave) {
		range_text(u->blocked_from[R_ENV_ORDER], u->blocked_to[R_ENV_ORDER], rng, sizeof(rng));
		if ((rc = rule_add(l, R_ENV_ORDER, "prod: kept out of %s until the dev/test/staging "
				   "applications had moved", rng)))
			return rc;
	} else if (a->env == ENV_NONPROD && p->nprod &&
		   (rc = rule_add(l, R_ENV_ORDER, "%s: moves before the %zu prod application%s", a->env_s,
				  p->nprod, p->nprod == 1 ? "" : "s"))) {
		return rc;
	}
	if (u->blocked_from[R_ENV_SEP] && u->blocked_from[R_ENV_SEP] < a->wave) {
		range_text(u->blocked_from[R_ENV_SEP], u->blocked_to[R_ENV_SEP], rng, sizeof(rng));
		if ((rc = rule_add(l, R_ENV_SEP, "%s: kept out of %s, which hold%s %s applications",
				   env_word(a->env), rng, strchr(rng, '-') ? "" : "s",
				   a->env == ENV_PROD ? "dev/test/staging" : "prod")))
			return rc;
	}
	if (a->high && p->crit_after) {
		if (u->blocked_from[R_CRITICAL] && u->blocked_from[R_CRITICAL] < a->wave)
			range_text(u->blocked_from[R_CRITICAL], u->blocked_to[R_CRITICAL], rng, sizeof(rng));
		if ((rc = rule_add(l, R_CRITICAL, "criticality high: not in the first %u wave%s%s%s%s",
				   p->crit_after, p->crit_after == 1 ? "" : "s",
				   u->blocked_from[R_CRITICAL] ? " (kept out of " : "",
				   u->blocked_from[R_CRITICAL] ? rng : "",
				   u->blocked_from[R_CRITICAL] ? ")" : "")))
			return rc;
	}
	if (a->infra) {
		if ((rc = rule_add(l, R_INFRA, "shared infrastructure: moves first, before the applications "
				   "that use it")))
			return rc;
	} else if (u->blocked_from[R_INFRA] && u->blocked_from[R_INFRA] < a->wave) {
		range_text(u->blocked_from[R_INFRA], u->blocked_to[R_INFRA], rng, sizeof(rng));
		if ((rc = rule_add(l, R_INFRA, "waits for shared infrastructure (%s)", rng)))
			return rc;
	}
	if (u->blocked_from[R_SIZE] && u->blocked_from[R_SIZE] < a->wave) {
		range_text(u->blocked_from[R_SIZE], u->blocked_to[R_SIZE], rng, sizeof(rng));
		if ((rc = rule_add(l, R_SIZE, "%s had no room for its %u host%s (--max-hosts %u%s)", rng,
				   u->hosts, u->hosts == 1 ? "" : "s", p->max,
				   p->min ? ", or moved to fill a wave up to --min-hosts" : "")))
			return rc;
	}
	if (!u->pin &&
	    (rc = rule_add(l, R_EARLIEST, "the earliest wave the rules allow with room for its %u host%s",
			   u->hosts, u->hosts == 1 ? "" : "s")))
		return rc;
	return 0;
}

static int relaxed_rules(const struct plan *p, const struct wapp *a, struct rulelist *l)
{
	const struct unit *u = &p->units[a->unit];
	int rc = 0;
	for (int r = 0; r < R_N && !rc; r++) {
		if (a->relaxed & (1u << r))
			rc = rule_add(l, r, "%s", a->relaxed_text[r]);
		else if ((u->relaxed & (1u << r)) && !a->pin)
			rc = rule_add(l, r, "%s", u->because);
	}
	return rc;
}

static int str_push(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int str_push(char ***v, size_t *n, const char *fmt, ...)
{
	char buf[640];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(buf)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* The why line: the rules' texts joined. */
static void why_line(const struct rulelist *l, char *out, size_t n)
{
	size_t used = 0;
	out[0] = 0;
	for (size_t i = 0; i < l->n && used + 1 < n; i++) {
		if (l->n > 1 && !strcmp(l->v[i]->code, waves_rules[R_EARLIEST].code))
			continue; /* said by the others */
		used += (size_t)snprintf(out + used, n - used, "%s%s", i ? "; " : "", l->v[i]->text);
		if (used >= n)
			used = n - 1;
	}
}

static int wave_reasons(const struct plan *p, Cairn__Store__Wave *wv, unsigned w, unsigned maxw)
{
	const struct wstate *s = wave_state(p, w);
	char infra[200] = "", high[200] = "", pins[240] = "";
	struct names ni = { infra, sizeof(infra), 0, 0, 0 }, nh = { high, sizeof(high), 0, 0, 0 },
		     np = { pins, sizeof(pins), 0, 0, 0 };
	double rsum = 0, csum = 0, hsum = 0;
	unsigned deps = 0, deps_ok = 0, waiting = 0;
	for (size_t i = 0; i < p->napps; i++) {
		const struct wapp *a = &p->apps[i];
		if (a->wave != w)
			continue;
		if (a->infra)
			names_add(&ni, app_name(a));
		if (a->high)
			names_add(&nh, app_name(a));
		if (a->pin) {
			char one[160];
			snprintf(one, sizeof(one), "%s by %s", app_name(a), a->pin_by && *a->pin_by ? a->pin_by : "a person");
			names_add(&np, one);
		}
		double h = a->hosts ? a->hosts : 1;
		rsum += h * (a->has_ready ? a->ready_score : 50);
		csum += h * (a->has_ready ? a->ready_conf : 1);
		hsum += h;
		for (size_t e = p->out_off[i]; e < p->out_off[i + 1]; e++) {
			deps++;
			deps_ok += p->apps[p->out[e]].wave <= w;
		}
		for (size_t e = p->in_off[i]; e < p->in_off[i + 1]; e++)
			waiting += p->apps[p->in[e]].wave > w;
	}
	names_end(&ni);
	names_end(&nh);
	names_end(&np);
	unsigned relaxed = 0;
	char codes[200] = "";
	size_t cu = 0;
	for (size_t k = 0; k < p->nwarn; k++)
		if (p->warn_wave[k] == w) {
			relaxed++;
			const char *sp = strchr(p->warn[k], ' ');
			if (sp && cu + 2 < sizeof(codes))
				cu += (size_t)snprintf(codes + cu, sizeof(codes) - cu, "%s%.*s", cu ? ", " : "",
						       (int)(sp - p->warn[k]), p->warn[k]);
			if (cu >= sizeof(codes))
				cu = sizeof(codes) - 1;
		}
	double readiness = hsum > 0 ? rsum / hsum : 50;
	double dep_share = deps ? 100.0 * deps_ok / deps : 100;
	double wr = rules_plan.wave_score_readiness_pct / 100.0;
	double score = wr * readiness + (1 - wr) * dep_share -
		       (double)rules_plan.wave_score_relaxed_penalty * relaxed;
	wv->score = score < 0 ? 0 : score > 100 ? 100 : (unsigned)(score + 0.5);
	int conf = hsum > 0 ? (int)(csum / hsum + 0.5) : 1;
	conf -= relaxed >= 3 ? 2 : relaxed ? 1 : 0;
	wv->confidence = conf < 1 ? 1 : conf > 5 ? 5 : (unsigned)conf;
	wv->relaxed = relaxed;
	int rc = 0;
	if (ni.total)
		rc = str_push(&wv->reasons, &wv->n_reasons, "shared infrastructure: %s (what the other "
			      "applications use moves first)", infra);
	if (!rc)
		rc = str_push(&wv->reasons, &wv->n_reasons, "environment: %s",
			      s->prod && s->nonprod ? "dev/test/staging and prod (env_separate relaxed)" :
			      s->prod ? "prod" : s->nonprod ? "dev/test/staging" : "untagged");
	if (!rc && nh.total)
		rc = str_push(&wv->reasons, &wv->n_reasons, "criticality high: %s", high);
	if (!rc && np.total)
		rc = str_push(&wv->reasons, &wv->n_reasons, "pinned: %s", pins);
	if (!rc) {
		char range[48];
		if (p->min)
			snprintf(range, sizeof(range), "%u-%u", p->min, p->max);
		else
			snprintf(range, sizeof(range), "at most %u", p->max);
		rc = str_push(&wv->reasons, &wv->n_reasons, "%u host%s (wave size %s)", s->load,
			      s->load == 1 ? "" : "s", range);
	}
	if (!rc && waiting)
		rc = str_push(&wv->reasons, &wv->n_reasons, "%u dependenc%s of applications in later "
			      "waves move here", waiting, waiting == 1 ? "y" : "ies");
	if (!rc && deps)
		rc = str_push(&wv->reasons, &wv->n_reasons, "dependencies: %u of %u in this or an earlier "
			      "wave", deps_ok, deps);
	else if (!rc)
		rc = str_push(&wv->reasons, &wv->n_reasons, "no dependencies on other applications");
	if (!rc)
		rc = str_push(&wv->reasons, &wv->n_reasons, "readiness: mean score %.0f/100, confidence "
			      "%.1f/5 (host-weighted)", readiness, hsum > 0 ? csum / hsum : 1.0);
	if (!rc && relaxed)
		rc = str_push(&wv->reasons, &wv->n_reasons, "%u rule%s not honored: %s", relaxed,
			      relaxed == 1 ? "" : "s", codes);
	else if (!rc)
		rc = str_push(&wv->reasons, &wv->n_reasons, "every rule honored");
	if (!rc)
		rc = str_push(&wv->reasons, &wv->n_reasons, "score %u = %.0f%% x readiness %.0f + %.0f%% "
			      "x dependencies in place %.0f - %u x %u rules relaxed; wave %u of %u",
			      wv->score, wr * 100, readiness, (1 - wr) * 100, dep_share,
			      rules_plan.wave_score_relaxed_penalty, relaxed, w, maxw);
	return rc;
}

static int emit(struct plan *p, Cairn__Store__Snapshot *snap)
{
	unsigned maxw = 0;
	for (size_t i = 0; i < p->napps; i++)
		maxw = p->apps[i].wave > maxw ? p->apps[i].wave : maxw;
	for (unsigned w = 1; w <= maxw; w++) {
		size_t n = 0;
		for (size_t i = 0; i < p->napps; i++)
			n += p->apps[i].wave == w;
		if (!n)
			continue;
		Cairn__Store__Wave *wv = malloc(sizeof(*wv));
		Cairn__Store__Wave **nv = realloc(snap->waves, (snap->n_waves + 1) * sizeof(*nv));
		if (nv)
			snap->waves = nv;
		if (!wv || !nv) {
			free(wv);
			return -ENOMEM;
		}
		cairn__store__wave__init(wv);
		snap->waves[snap->n_waves++] = wv;
		wv->number = w;
		wv->apps = calloc(n, sizeof(char *));
		wv->why = calloc(n, sizeof(char *));
		wv->placements = calloc(n, sizeof(*wv->placements));
		if (!wv->apps || !wv->why || !wv->placements)
			return -ENOMEM;
		/* units in placement order, members by name */
		for (size_t k = 0; k < p->nunits; k++) {
			const struct unit *u = &p->units[k];
			for (size_t m = 0; m < u->n; m++) {
				const struct wapp *a = &p->apps[p->members[u->first + m]];
				if (a->wave != w)
					continue;
				Cairn__Store__WavePlacement *pl = malloc(sizeof(*pl));
				if (!pl)
					return -ENOMEM;
				cairn__store__wave_placement__init(pl);
				wv->placements[wv->n_placements++] = pl;
				struct rulelist by = { 0 }, rx = { 0 };
				int rc = placed_by(p, a, &by);
				pl->rules = by.v;
				pl->n_rules = by.n;
				if (!rc)
					rc = relaxed_rules(p, a, &rx);
				pl->relaxed = rx.v;
				pl->n_relaxed = rx.n;
				if (rc)
					return rc;
				pl->app = strdup(a->app->id);
				pl->environment = strdup(a->env_s ? a->env_s : "");
				pl->criticality = strdup(a->crit_s ? a->crit_s : "");
				pl->pinned = a->pin != 0;
				pl->pinned_by = strdup(a->pin && a->pin_by ? a->pin_by : "");
				char why[512];
				why_line(&by, why, sizeof(why));
				wv->apps[wv->n_apps] = strdup(a->app->id);
				wv->why[wv->n_why] = strdup(why);
				if (!pl->app || !pl->environment || !pl->criticality || !pl->pinned_by ||
				    !wv->apps[wv->n_apps] || !wv->why[wv->n_why])
					return -ENOMEM;
				wv->n_apps++;
				wv->n_why++;
				wv->hosts += a->hosts;
			}
		}
		for (size_t k = 0; k < p->nwarn; k++) {
			if (p->warn_wave[k] != w)
				continue;
			if (str_push(&wv->warnings, &wv->n_warnings, "%s", p->warn[k]))
				return -ENOMEM;
		}
		if (wave_reasons(p, wv, w, maxw))
			return -ENOMEM;
	}
	for (size_t k = 0; k < p->nwarn; k++) {
		char **v = realloc(snap->plan_notes, (snap->n_plan_notes + 1) * sizeof(char *));
		if (!v)
			return -ENOMEM;
		snap->plan_notes = v;
		snap->plan_notes[snap->n_plan_notes++] = p->warn[k];
		p->warn[k] = NULL;
	}
	return 0;
}

/* ------------------------------------------------------------ inputs */

static void clear_waves(Cairn__Store__Snapshot *snap)
{
	for (size_t i = 0; i < snap->n_waves; i++)
		cairn__store__wave__free_unpacked(snap->waves[i], NULL);
	free(snap->waves);
	snap->waves = NULL;
	snap->n_waves = 0;
}

static int cmp_readiness(const void *a, const void *b)
{
	const Cairn__Store__Readiness *x = *(Cairn__Store__Readiness *const *)a;
	const Cairn__Store__Readiness *y = *(Cairn__Store__Readiness *const *)b;
	int c = strcmp(x->target, y->target);
	/* equal ids: the later one in the snapshot wins, as before */
	return c ? c : (x > y) - (x < y);
}

static const Cairn__Store__Readiness *readiness_find(Cairn__Store__Readiness **v, size_t n,
						      const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first element with target > id */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(v[mid]->target, id) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && !strcmp(v[lo - 1]->target, id) ? v[lo - 1] : NULL;
}

static int cmp_label(const void *a, const void *b)
{
	return strcmp(((const struct waves_label *)a)->app_id, ((const struct waves_label *)b)->app_id);
}

static int cmp_pin(const void *a, const void *b)
{
	return strcmp(((const struct waves_pin *)a)->app_id, ((const struct waves_pin *)b)->app_id);
}

static void plan_free(struct plan *p)
{
	for (size_t k = 0; k < p->nwarn; k++)
		free(p->warn[k]);
	free(p->warn);
	free(p->warn_wave);
	free(p->apps);
	free(p->edges);
	free(p->out_off);
	free(p->in_off);
	free(p->out);
	free(p->in);
	free(p->units);
	free(p->members);
	free(p->ws);
}

static int load_apps(struct plan *p, const Cairn__Store__Snapshot *snap, const struct waves_opts *o)
{
	Cairn__Store__Readiness **rd = calloc(snap->n_readiness + 1, sizeof(*rd));
	struct waves_label *labels = calloc(o->nlabels + 1, sizeof(*labels));
	struct waves_pin *pins = calloc(o->npins + 1, sizeof(*pins));
	int rc = -ENOMEM;
	if (!rd || !labels || !pins)
		goto out;
	size_t nrd = 0;
	for (size_t k = 0; k < snap->n_readiness; k++)
		if (!strcmp(snap->readiness[k]->kind, "app"))
			rd[nrd++] = snap->readiness[k];
	qsort(rd, nrd, sizeof(*rd), cmp_readiness);
	if (o->nlabels)
		memcpy(labels, o->labels, o->nlabels * sizeof(*labels));
	qsort(labels, o->nlabels, sizeof(*labels), cmp_label);
	size_t npins = 0;
	for (size_t k = 0; k < o->npins; k++)
		if (o->pins[k].wave)
			pins[npins++] = o->pins[k];
	qsort(pins, npins, sizeof(*pins), cmp_pin);
	for (size_t i = 0; i < p->napps; i++) {
		struct wapp *a = &p->apps[i];
		a->app = snap->apps[i];
		a->hosts = (unsigned)a->app->n_hosts;
		a->infra = a->app->infrastructure;
		const Cairn__Store__Readiness *r = readiness_find(rd, nrd, a->app->id);
		if (r) {
			a->has_ready = true;
			a->ready_score = r->score;
			a->ready_conf = r->confidence;
			if (!strcmp(r->strategy, "Retire") || !strcmp(r->strategy, "Retain")) {
				a->stays = true;
				a->strategy = r->strategy;
			}
		}
		struct waves_label lk = { .app_id = a->app->id };
		const struct waves_label *l = bsearch(&lk, labels, o->nlabels, sizeof(*labels), cmp_label);
		if (l) {
			a->env_s = l->environment && *l->environment ? l->environment : NULL;
			a->crit_s = l->criticality && *l->criticality ? l->criticality : NULL;
			a->env = env_class(a->env_s);
			a->high = a->crit_s && !strcmp(a->crit_s, "high");
		}
		p->nprod += a->env == ENV_PROD && !a->stays;
		struct waves_pin pk = { .app_id = a->app->id };
		const struct waves_pin *pn = bsearch(&pk, pins, npins, sizeof(*pins), cmp_pin);
		if (pn && !a->stays) {
			a->pin = pn->wave;
			a->pin_by = pn->by;
		}
	}
	rc = 0;
out:
	free(rd);
	free(labels);
	free(pins);
	return rc;
}

int waves_compute(Cairn__Store__Snapshot *snap, const struct waves_opts *o)
{
	static const struct waves_opts none;
	if (!o)
		o = &none;
	clear_waves(snap);
	struct plan p;
	memset(&p, 0, sizeof(p));
	p.max = o->max_hosts ? o->max_hosts : 1;
	p.min = o->min_hosts <= p.max ? o->min_hosts : p.max;
	p.crit_after = o->critical_after;
	snap->wave_max_hosts = p.max;
	snap->wave_min_hosts = p.min;
	snap->wave_critical_after = p.crit_after;
	p.napps = snap->n_apps;
	p.apps = calloc(p.napps + 1, sizeof(*p.apps));
	int rc = p.apps ? load_apps(&p, snap, o) : -ENOMEM;
	if (!rc)
		rc = build_edges(&p, snap);
	if (!rc)
		rc = build_units(&p);
	if (!rc) {
		unit_facts(&p);
		rc = place_all(&p);
	}
	unsigned maxw = 0;
	for (size_t i = 0; i < p.napps; i++)
		maxw = p.apps[i].wave > maxw ? p.apps[i].wave : maxw;
	if (!rc)
		rc = ensure_wave(&p, maxw);
	if (!rc)
		rc = balance(&p, maxw);
	if (!rc)
		rc = check_plan(&p, maxw);
	for (size_t i = 0; i < p.napps && !rc; i++)
		if (p.apps[i].stays)
			rc = warn(&p, 0, "%s: not in any wave (strategy %s: it does not move)",
				  app_name(&p.apps[i]), p.apps[i].strategy);
	if (!rc)
		rc = emit(&p, snap);
	plan_free(&p);
	if (rc)
		clear_waves(snap);
	return rc;
}

unsigned waves_of_app(const Cairn__Store__Snapshot *snap, const char *app_id)
{
	const Cairn__Store__Wave *w = waves_find(snap, app_id, NULL);
	return w ? w->number : 0;
}

const Cairn__Store__Wave *waves_find(const Cairn__Store__Snapshot *snap, const char *app_id,
				     const Cairn__Store__WavePlacement **pl)
{
	if (pl)
		*pl = NULL;
	for (size_t i = 0; i < snap->n_waves; i++)
		for (size_t j = 0; j < snap->waves[i]->n_apps; j++)
			if (!strcmp(snap->waves[i]->apps[j], app_id)) {
				if (pl && j < snap->waves[i]->n_placements)
					*pl = snap->waves[i]->placements[j];
				return snap->waves[i];
			}
	return NULL;
}
