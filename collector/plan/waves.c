/* Wave planning; the algorithm is described in waves.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "waves.h"

struct wapp {
	const Cairn__Store__App *app;
	unsigned hosts;
	bool infra;
	unsigned pin;
	const char *pin_by;
	size_t comp;      /* union-find parent */
	unsigned wave;
	bool stays;       /* strategy Retire or Retain: not migrated, in no wave */
	const char *strategy;
	bool uses_infra;  /* has an edge to a shared infrastructure app */
	char why[384];
};

struct wedge {
	size_t a, b;      /* a < b, app indices */
	double w;
};

struct hostmap {
	const char *host;
	size_t app;
};

struct plan {
	struct wapp *apps;
	size_t napps;
	struct wedge *edges;
	size_t nedges;
	unsigned *load;   /* hosts per wave, index = wave number */
	size_t nload;
	unsigned limit;
	unsigned first_free; /* first wave after infrastructure */
	char **warn;
	unsigned *warn_wave; /* the wave each warning belongs to */
	size_t nwarn;
};

static int cmp_hostmap(const void *a, const void *b)
{
	return strcmp(((const struct hostmap *)a)->host, ((const struct hostmap *)b)->host);
}

static int cmp_edge(const void *a, const void *b)
{
	const struct wedge *x = a, *y = b;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	return x->b < y->b ? -1 : x->b > y->b;
}

static size_t uf_find(struct wapp *v, size_t i)
{
	while (v[i].comp != i) {
		v[i].comp = v[v[i].comp].comp;
		i = v[i].comp;
	}
	return i;
}

static int add_load(struct plan *p, unsigned wave, unsigned hosts)
{
	if (wave >= p->nload) {
		size_t n = wave + 8;
		unsigned *l = realloc(p->load, n * sizeof(*l));
		if (!l)
			return -ENOMEM;
		memset(l + p->nload, 0, (n - p->nload) * sizeof(*l));
		p->load = l;
		p->nload = n;
	}
	p->load[wave] += hosts;
	return 0;
}

static unsigned load_of(const struct plan *p, unsigned wave)
{
	return wave < p->nload ? p->load[wave] : 0;
}

static unsigned first_fit(const struct plan *p, unsigned from, unsigned hosts)
{
	unsigned w = from;
	while (load_of(p, w) && load_of(p, w) + hosts > p->limit)
		w++;
	return w;
}

static int warn(struct plan *p, unsigned wave, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int warn(struct plan *p, unsigned wave, const char *fmt, ...)
{
	char buf[512];
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
	p->warn_wave[p->nwarn] = wave;
	p->nwarn++;
	return 0;
}

static const char *app_name(const struct wapp *a)
{
	return *a->app->name ? a->app->name : a->app->id;
}

static int build_edges(struct plan *p, const Cairn__Store__Snapshot *snap)
{
	size_t nh = 0;
	for (size_t i = 0; i < p->napps; i++)
		nh += p->apps[i].app->n_hosts;
	struct hostmap *hm = calloc(nh ? nh : 1, sizeof(*hm));
	if (!hm)
		return -ENOMEM;
	nh = 0;
	for (size_t i = 0; i < p->napps; i++)
		for (size_t j = 0; j < p->apps[i].app->n_hosts; j++)
			hm[nh++] = (struct hostmap){ p->apps[i].app->hosts[j], i };
	qsort(hm, nh, sizeof(*hm), cmp_hostmap);
	const Cairn__Store__DepMap *map = snap->map;
	size_t ne = map ? map->n_host_edges : 0;
	p->edges = calloc(ne ? ne : 1, sizeof(*p->edges));
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
		struct wedge w = { f->app < t->app ? f->app : t->app, f->app < t->app ? t->app : f->app,
				   e->samples_seen ? (double)e->samples_seen : 1 };
		p->edges[p->nedges++] = w;
	}
	free(hm);
	qsort(p->edges, p->nedges, sizeof(*p->edges), cmp_edge);
	size_t out = 0;
	for (size_t i = 0; i < p->nedges; i++) {
		if (out && p->edges[out - 1].a == p->edges[i].a && p->edges[out - 1].b == p->edges[i].b)
			p->edges[out - 1].w += p->edges[i].w;
		else
			p->edges[out++] = p->edges[i];
	}
	p->nedges = out;
	return 0;
}

/* Apps of component root, ordered so that each next app is the one most
 * coupled to those before it (starting from the most coupled app overall). */
static size_t order_component(struct plan *p, size_t root, size_t *out)
{
	size_t n = 0;
	for (size_t i = 0; i < p->napps; i++)
		if (!p->apps[i].infra && uf_find(p->apps, i) == root)
			out[n++] = i;
	double *link = calloc(p->napps, sizeof(double));
	bool *taken = calloc(p->napps, sizeof(bool));
	if (!link || !taken) {
		free(link);
		free(taken);
		return n; /* fall back to index order */
	}
	/* total coupling picks the start */
	for (size_t e = 0; e < p->nedges; e++) {
		link[p->edges[e].a] += p->edges[e].w;
		link[p->edges[e].b] += p->edges[e].w;
	}
	size_t best = 0;
	for (size_t i = 1; i < n; i++)
		if (link[out[i]] > link[out[best]])
			best = i;
	size_t *order = malloc(n * sizeof(size_t));
	if (!order) {
		free(link);
		free(taken);
		return n;
	}
	memset(link, 0, p->napps * sizeof(double));
	size_t cur = out[best];
	for (size_t k = 0; k < n; k++) {
		order[k] = cur;
		taken[cur] = true;
		for (size_t e = 0; e < p->nedges; e++) {
			if (p->edges[e].a == cur)
				link[p->edges[e].b] += p->edges[e].w;
			else if (p->edges[e].b == cur)
				link[p->edges[e].a] += p->edges[e].w;
		}
		size_t next = SIZE_MAX;
		for (size_t i = 0; i < n; i++)
			if (!taken[out[i]] && (next == SIZE_MAX || link[out[i]] > link[next]))
				next = out[i];
		if (next == SIZE_MAX)
			break;
		cur = next;
	}
	memcpy(out, order, n * sizeof(size_t));
	free(order);
	free(link);
	free(taken);
	return n;
}

static void member_names(const struct plan *p, const size_t *m, size_t n, size_t self,
			 char *out, size_t len)
{
	size_t used = 0, shown = 0;
	out[0] = 0;
	for (size_t i = 0; i < n && used + 1 < len; i++) {
		if (m[i] == self)
			continue;
		if (shown == 4) {
			snprintf(out + used, len - used, " and %zu more", n - 1 - shown);
			return;
		}
		used += (size_t)snprintf(out + used, len - used, "%s%s", shown ? ", " : "",
					 app_name(&p->apps[m[i]]));
		if (used >= len)
			return;
		shown++;
	}
}

static int place_component(struct plan *p, size_t root, size_t *members)
{
	size_t n = order_component(p, root, members);
	unsigned total = 0, pin = 0;
	const struct wapp *pinned = NULL;
	for (size_t i = 0; i < n; i++) {
		total += p->apps[members[i]].hosts;
		if (p->apps[members[i]].pin && (!pin || p->apps[members[i]].pin < pin)) {
			pin = p->apps[members[i]].pin;
			pinned = &p->apps[members[i]];
		}
	}
	char names[256];
	int rc;
	if (pin) {
		for (size_t i = 0; i < n; i++) {
			struct wapp *a = &p->apps[members[i]];
			if (a->pin) {
				a->wave = a->pin;
				snprintf(a->why, sizeof(a->why), "pinned to wave %u by %s", a->pin,
					 a->pin_by && *a->pin_by ? a->pin_by : "a person");
			} else {
				a->wave = pin;
				snprintf(a->why, sizeof(a->why), "moves with %s, pinned to wave %u (they depend on each other)",
					 app_name(pinned), pin);
			}
			unsigned before = load_of(p, a->wave);
			if ((rc = add_load(p, a->wave, a->hosts)))
				return rc;
			if (before <= p->limit && load_of(p, a->wave) > p->limit &&
			    (rc = warn(p, a->wave, "wave %u: %u hosts, more than --max-hosts %u, because of pins",
				       a->wave, load_of(p, a->wave), p->limit)))
				return rc;
		}
		return 0;
	}
	if (total <= p->limit) {
		unsigned w = first_fit(p, p->first_free, total);
		for (size_t i = 0; i < n; i++) {
			struct wapp *a = &p->apps[members[i]];
			a->wave = w;
			if (n == 1) {
				snprintf(a->why, sizeof(a->why), "%s; first wave with room for its %u host%s",
					 a->uses_infra ? "depends only on shared infrastructure, which moves first"
						       : "no dependencies on other applications",
					 a->hosts, a->hosts == 1 ? "" : "s");
			} else {
				member_names(p, members, n, members[i], names, sizeof(names));
				snprintf(a->why, sizeof(a->why), "moves with %s (dependent group of %u hosts); first wave with room",
					 names, total);
			}
		}
		return add_load(p, w, total);
	}
	/* too large: split in coupling order */
	unsigned part = 0;
	size_t i = 0;
	while (i < n) {
		unsigned chunk = 0;
		size_t j = i;
		while (j < n && (j == i || chunk + p->apps[members[j]].hosts <= p->limit))
			chunk += p->apps[members[j++]].hosts;
		unsigned w = first_fit(p, p->first_free, chunk);
		part++;
		for (size_t k = i; k < j; k++) {
			struct wapp *a = &p->apps[members[k]];
			a->wave = w;
			if (a->hosts > p->limit)
				snprintf(a->why, sizeof(a->why), "has %u hosts, more than --max-hosts %u: a wave of its own (part %u of a dependent group of %u hosts)",
					 a->hosts, p->limit, part, total);
			else
				snprintf(a->why, sizeof(a->why), "part %u of a dependent group of %u hosts, split because it exceeds --max-hosts %u",
					 part, total, p->limit);
		}
		if ((rc = add_load(p, w, chunk)))
			return rc;
		i = j;
	}
	for (size_t e = 0; e < p->nedges; e++) {
		const struct wapp *a = &p->apps[p->edges[e].a], *b = &p->apps[p->edges[e].b];
		if (a->infra || b->infra || uf_find(p->apps, p->edges[e].a) != root || a->wave == b->wave)
			continue;
		if ((rc = warn(p, a->wave > b->wave ? a->wave : b->wave,
			       "%s (wave %u) and %s (wave %u) depend on each other (%.0f samples) but were split: their group of %u hosts exceeds --max-hosts %u",
			       app_name(a), a->wave, app_name(b), b->wave, p->edges[e].w, total, p->limit)))
			return rc;
	}
	return 0;
}

struct root {
	size_t root;
	unsigned hosts;
	const char *name;
};

static int cmp_root(const void *x, const void *y)
{
	const struct root *a = x, *b = y;
	if (a->hosts != b->hosts)
		return a->hosts > b->hosts ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_infra(const void *x, const void *y)
{
	const struct wapp *a = *(const struct wapp *const *)x, *b = *(const struct wapp *const *)y;
	if (a->hosts != b->hosts)
		return a->hosts > b->hosts ? -1 : 1;
	return strcmp(app_name(a), app_name(b));
}

static int place_all(struct plan *p)
{
	int rc;
	/* 1. infrastructure first */
	struct wapp **infra = calloc(p->napps ? p->napps : 1, sizeof(*infra));
	if (!infra)
		return -ENOMEM;
	size_t ninfra = 0;
	for (size_t i = 0; i < p->napps; i++)
		if (p->apps[i].infra && !p->apps[i].stays)
			infra[ninfra++] = &p->apps[i];
	qsort(infra, ninfra, sizeof(*infra), cmp_infra);
	unsigned last_infra = 0;
	for (size_t i = 0; i < ninfra; i++) {
		struct wapp *a = infra[i];
		if (a->pin) {
			a->wave = a->pin;
			snprintf(a->why, sizeof(a->why), "shared infrastructure, pinned to wave %u by %s",
				 a->pin, a->pin_by && *a->pin_by ? a->pin_by : "a person");
		} else {
			a->wave = first_fit(p, 1, a->hosts);
			snprintf(a->why, sizeof(a->why), "shared infrastructure: moves first, before the applications that use it");
			if (a->wave > last_infra)
				last_infra = a->wave;
		}
		if ((rc = add_load(p, a->wave, a->hosts))) {
			free(infra);
			return rc;
		}
	}
	free(infra);
	p->first_free = last_infra + 1;
	/* 2. groups of dependent applications */
	for (size_t i = 0; i < p->napps; i++)
		p->apps[i].comp = i;
	for (size_t e = 0; e < p->nedges; e++) {
		struct wapp *ea = &p->apps[p->edges[e].a], *eb = &p->apps[p->edges[e].b];
		ea->uses_infra |= eb->infra;
		eb->uses_infra |= ea->infra;
		if (ea->infra || eb->infra)
			continue;
		size_t ra = uf_find(p->apps, p->edges[e].a), rb = uf_find(p->apps, p->edges[e].b);
		if (ra != rb)
			p->apps[ra > rb ? ra : rb].comp = ra < rb ? ra : rb;
	}
	struct root *roots = calloc(p->napps ? p->napps : 1, sizeof(*roots));
	size_t *members = calloc(p->napps ? p->napps : 1, sizeof(size_t));
	if (!roots || !members) {
		free(roots);
		free(members);
		return -ENOMEM;
	}
	size_t nroots = 0;
	for (size_t i = 0; i < p->napps; i++) {
		if (p->apps[i].infra || p->apps[i].stays)
			continue;
		size_t r = uf_find(p->apps, i);
		size_t k;
		for (k = 0; k < nroots && roots[k].root != r; k++)
			;
		if (k == nroots)
			roots[nroots++] = (struct root){ r, 0, app_name(&p->apps[r]) };
		roots[k].hosts += p->apps[i].hosts;
	}
	qsort(roots, nroots, sizeof(*roots), cmp_root);
	/* 3. pinned groups first, so unpinned ones fill around them */
	rc = 0;
	for (int pass = 0; pass < 2 && !rc; pass++) {
		for (size_t k = 0; k < nroots && !rc; k++) {
			bool pinned = false;
			for (size_t i = 0; i < p->napps; i++)
				pinned |= !p->apps[i].infra && p->apps[i].pin &&
					  uf_find(p->apps, i) == roots[k].root;
			if (pinned == (pass == 0))
				rc = place_component(p, roots[k].root, members);
		}
	}
	free(roots);
	free(members);
	return rc;
}

static int emit(struct plan *p, Cairn__Store__Snapshot *snap)
{
	unsigned maxw = 0;
	for (size_t i = 0; i < p->napps; i++)
		if (p->apps[i].wave > maxw)
			maxw = p->apps[i].wave;
	for (unsigned w = 1; w <= maxw; w++) {
		size_t n = 0;
		for (size_t i = 0; i < p->napps; i++)
			n += p->apps[i].wave == w;
		if (!n)
			continue;
		Cairn__Store__Wave *wv = malloc(sizeof(*wv));
		Cairn__Store__Wave **nv = realloc(snap->waves, (snap->n_waves + 1) * sizeof(*nv));
		if (!wv || !nv) {
			free(wv);
			if (nv)
				snap->waves = nv;
			return -ENOMEM;
		}
		snap->waves = nv;
		cairn__store__wave__init(wv);
		snap->waves[snap->n_waves++] = wv;
		wv->number = w;
		wv->apps = calloc(n, sizeof(char *));
		wv->why = calloc(n, sizeof(char *));
		if (!wv->apps || !wv->why)
			return -ENOMEM;
		for (size_t i = 0; i < p->napps; i++) {
			if (p->apps[i].wave != w)
				continue;
			if (!(wv->apps[wv->n_apps] = strdup(p->apps[i].app->id)))
				return -ENOMEM;
			wv->n_apps++;
			if (!(wv->why[wv->n_why] = strdup(p->apps[i].why)))
				return -ENOMEM;
			wv->n_why++;
			wv->hosts += p->apps[i].hosts;
		}
		for (size_t k = 0; k < p->nwarn; k++) {
			if (p->warn_wave[k] != w)
				continue;
			char **ws = realloc(wv->warnings, (wv->n_warnings + 1) * sizeof(char *));
			if (!ws)
				return -ENOMEM;
			wv->warnings = ws;
			if (!(wv->warnings[wv->n_warnings] = strdup(p->warn[k])))
				return -ENOMEM;
			wv->n_warnings++;
		}
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

static void clear_waves(Cairn__Store__Snapshot *snap)
{
	for (size_t i = 0; i < snap->n_waves; i++)
		cairn__store__wave__free_unpacked(snap->waves[i], NULL);
	free(snap->waves);
	snap->waves = NULL;
	snap->n_waves = 0;
}

static int cmp_stay(const void *a, const void *b)
{
	/* elements point at slots of snap->readiness, so slot order is snapshot order */
	Cairn__Store__Readiness *const *x = *(Cairn__Store__Readiness *const *const *)a;
	Cairn__Store__Readiness *const *y = *(Cairn__Store__Readiness *const *const *)b;
	int c = strcmp((*x)->target, (*y)->target);
	/* equal ids keep snapshot order (the last one wins, as before) */
	return c ? c : (x > y) - (x < y);
}

static const Cairn__Store__Readiness *stay_find(Cairn__Store__Readiness *const *const *v,
						 size_t n, const char *id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) { /* first element with target > id */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp((*v[mid])->target, id) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && !strcmp((*v[lo - 1])->target, id) ? *v[lo - 1] : NULL;
}

int waves_compute(Cairn__Store__Snapshot *snap, const struct waves_pin *pins, size_t npins,
		  unsigned max_hosts)
{
	clear_waves(snap);
	struct plan p;
	memset(&p, 0, sizeof(p));
	p.limit = max_hosts ? max_hosts : 1;
	p.napps = snap->n_apps;
	p.apps = calloc(p.napps ? p.napps : 1, sizeof(*p.apps));
	/* applications that do not move, sorted by id: a search per application
	 * through every readiness result was quadratic in the estate */
	Cairn__Store__Readiness *const **stay = calloc(snap->n_readiness + 1, sizeof(*stay));
	size_t nstay = 0;
	if (!p.apps || !stay) {
		free(p.apps);
		free(stay);
		return -ENOMEM;
	}
	for (size_t k = 0; k < snap->n_readiness; k++) {
		const Cairn__Store__Readiness *r = snap->readiness[k];
		if (!strcmp(r->kind, "app") &&
		    (!strcmp(r->strategy, "Retire") || !strcmp(r->strategy, "Retain")))
			stay[nstay++] = &snap->readiness[k];
	}
	if (nstay)
		qsort(stay, nstay, sizeof(*stay), cmp_stay);
	for (size_t i = 0; i < p.napps; i++) {
		struct wapp *a = &p.apps[i];
		a->app = snap->apps[i];
		a->hosts = (unsigned)a->app->n_hosts;
		a->infra = a->app->infrastructure;
		const Cairn__Store__Readiness *r = stay_find(stay, nstay, a->app->id);
		if (r) {
			a->stays = true;
			a->strategy = r->strategy;
		}
		for (size_t k = 0; k < npins; k++)
			if (pins[k].wave && !strcmp(pins[k].app_id, a->app->id)) {
				a->pin = pins[k].wave;
				a->pin_by = pins[k].by;
			}
	}
	int rc = build_edges(&p, snap);
	if (!rc)
		rc = place_all(&p);
	for (size_t i = 0; i < p.napps && !rc; i++)
		if (p.apps[i].stays)
			rc = warn(&p, 0, "%s: not in any wave (strategy %s: it does not move)",
				  app_name(&p.apps[i]), p.apps[i].strategy);
	if (!rc)
		rc = emit(&p, snap);
	for (size_t k = 0; k < p.nwarn; k++)
		free(p.warn[k]);
	free(p.warn);
	free(p.warn_wave);
	free(p.apps);
	free(p.edges);
	free(p.load);
	free(stay);
	if (rc)
		clear_waves(snap);
	return rc;
}

unsigned waves_of_app(const Cairn__Store__Snapshot *snap, const char *app_id)
{
	for (size_t i = 0; i < snap->n_waves; i++)
		for (size_t j = 0; j < snap->waves[i]->n_apps; j++)
			if (!strcmp(snap->waves[i]->apps[j], app_id))
				return snap->waves[i]->number;
	return 0;
}
