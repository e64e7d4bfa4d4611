/* Planning over one read transaction; see plan.h. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn-data-paths.h"
#include "config.h"
#include "estate.h"
#include "log.h"
#include "plan.h"
#include "readiness.h"
#include "rules.h"
#include "sizing.h"
#include "store.h"
#include "tags.h"
#include "waves.h"

void plan_options_init(struct plan_options *o, int64_t now_ms)
{
	memset(o, 0, sizeof(*o));
	o->now_ms = now_ms;
	o->mode = SIZING_PERCENTILE;
	o->percentile = rules_plan.default_percentile;
	o->comfort = rules_plan.default_comfort;
	o->wave_min_hosts = rules_plan.wave_min_hosts;
	o->wave_critical_after = rules_plan.wave_critical_after;
}

void plan_options_config(struct plan_options *o, const struct collector_config *cfg)
{
	if (!o->wave_max_hosts)
		o->wave_max_hosts = cfg->wave_max_hosts;
	o->wave_min_hosts = cfg->wave_min_hosts;
	o->wave_critical_after = cfg->wave_critical_after;
}

bool plan_waves_match(const Cairn__Store__Snapshot *snap, const struct plan_options *o)
{
	unsigned max = o->wave_max_hosts ? o->wave_max_hosts : rules_plan.wave_max_hosts;
	unsigned min = o->wave_min_hosts <= max ? o->wave_min_hosts : max;
	if (!snap->n_waves)
		return true; /* nothing to redo (and nothing to plan) */
	return snap->wave_max_hosts == max && snap->wave_min_hosts == min &&
	       snap->wave_critical_after == o->wave_critical_after &&
	       snap->waves[0]->n_placements == snap->waves[0]->n_apps;
}

/* The environment and criticality tags of every application (its own, else
 * what its hosts agree on), for the wave rules. The strings point into t. */
static int wave_labels(const Cairn__Store__Snapshot *s, const struct tags_all *t,
		       struct waves_label **out)
{
	*out = calloc(s->n_apps + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_apps; i++) {
		const Cairn__Store__App *a = s->apps[i];
		(*out)[i] = (struct waves_label){
			a->id,
			tags_app_value(t, a->id, a->hosts, a->n_hosts, "environment"),
			tags_app_value(t, a->id, a->hosts, a->n_hosts, "criticality"),
		};
	}
	return 0;
}

static int exists(const char *path)
{
	return access(path, R_OK) == 0;
}

int plan_data_path(const char *name, char *out, size_t n, struct errbuf *eb)
{
	char cand[4][4096];
	size_t nc = 0;
	const char *env = getenv("CAIRN_DATA_DIR");
	if (env && *env)
		snprintf(cand[nc++], sizeof(cand[0]), "%s/%s", env, name);
	snprintf(cand[nc++], sizeof(cand[0]), "%s/%s", CAIRN_DATADIR, name);
	char exe[4096];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = 0;
		snprintf(cand[nc++], sizeof(cand[0]), "%s/../share/cairn/%s", dirname(exe), name);
	}
	snprintf(cand[nc++], sizeof(cand[0]), "%s/%s", CAIRN_SRC_DATADIR, name);
	for (size_t i = 0; i < nc; i++) {
		if (exists(cand[i])) {
			if (str_copy(out, cand[i], n) >= n)
				return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", cand[i]);
			return 0;
		}
	}
	return errbuf_set(eb, -ENOENT, "%s not found in $CAIRN_DATA_DIR, %s, <binary>/../share/cairn "
			  "or %s: reinstall cairn or set CAIRN_DATA_DIR", name, CAIRN_DATADIR,
			  CAIRN_SRC_DATADIR);
}

static void clear_plan(Cairn__Store__Snapshot *s)
{
	for (size_t i = 0; i < s->n_readiness; i++)
		cairn__store__readiness__free_unpacked(s->readiness[i], NULL);
	free(s->readiness);
	s->readiness = NULL;
	s->n_readiness = 0;
	for (size_t i = 0; i < s->n_sizing; i++)
		cairn__store__sizing__free_unpacked(s->sizing[i], NULL);
	free(s->sizing);
	s->sizing = NULL;
	s->n_sizing = 0;
	for (size_t i = 0; i < s->n_waves; i++)
		cairn__store__wave__free_unpacked(s->waves[i], NULL);
	free(s->waves);
	s->waves = NULL;
	s->n_waves = 0;
	for (size_t i = 0; i < s->n_plan_notes; i++)
		free(s->plan_notes[i]);
	free(s->plan_notes);
	s->plan_notes = NULL;
	s->n_plan_notes = 0;
}

static int set_str(char **dst, const char *v)
{
	char *d = strdup(v ? v : "");
	if (!d)
		return -ENOMEM;
	if (*dst && *dst != protobuf_c_empty_string)
		free(*dst);
	*dst = d;
	return 0;
}

static int note(Cairn__Store__Snapshot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(Cairn__Store__Snapshot *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	char **v = realloc(s->plan_notes, (s->n_plan_notes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->plan_notes = v;
	if (!(v[s->n_plan_notes] = strdup(buf)))
		return -ENOMEM;
	s->n_plan_notes++;
	return 0;
}

struct pair {
	const char *a, *b;
};

static int cmp_pair(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;
	int c = strcmp(p->a, q->a);
	return c ? c : strcmp(p->b, q->b);
}

/* Distinct neighbours of key in sorted, unique pairs. */
static size_t count_peers(const struct pair *v, size_t n, const char *key)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(v[mid].a, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t c = 0;
	while (lo + c < n && !strcmp(v[lo + c].a, key))
		c++;
	return c;
}

static size_t sort_unique(struct pair *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_pair);
	size_t out = 0;
	for (size_t i = 0; i < n; i++)
		if (!out || cmp_pair(&v[out - 1], &v[i]))
			v[out++] = v[i];
	return out;
}

/* host id -> app id, sorted by host for bsearch */
struct host_app {
	const char *host, *app;
};

static int cmp_host_app(const void *x, const void *y)
{
	return strcmp(((const struct host_app *)x)->host, ((const struct host_app *)y)->host);
}

static int host_app_index(const Cairn__Store__Snapshot *s, struct host_app **out, size_t *n)
{
	size_t total = 0;
	for (size_t i = 0; i < s->n_apps; i++)
		total += s->apps[i]->n_hosts;
	*out = calloc(total + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	*n = 0;
	for (size_t i = 0; i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			(*out)[(*n)++] = (struct host_app){ s->apps[i]->hosts[j], s->apps[i]->id };
	qsort(*out, *n, sizeof(**out), cmp_host_app);
	return 0;
}

static const char *app_of_host(const struct host_app *idx, size_t n, const char *host)
{
	struct host_app key = { host, NULL };
	const struct host_app *h = bsearch(&key, idx, n, sizeof(*idx), cmp_host_app);
	return h ? h->app : NULL;
}

/* Host-level and app-level peer pairs from the map's host edges. */
static int build_peers(const Cairn__Store__Snapshot *s, const struct host_app *idx, size_t nidx,
		       struct pair **hp, size_t *nh, struct pair **ap, size_t *na)
{
	size_t ne = s->map ? s->map->n_host_edges : 0;
	*hp = calloc(2 * ne + 1, sizeof(**hp));
	*ap = calloc(2 * ne + 1, sizeof(**ap));
	if (!*hp || !*ap)
		return -ENOMEM;
	*nh = *na = 0;
	for (size_t i = 0; i < ne; i++) {
		const Cairn__Store__MapEdge *e = s->map->host_edges[i];
		if (!strcmp(e->from, e->to))
			continue;
		(*hp)[(*nh)++] = (struct pair){ e->from, e->to };
		(*hp)[(*nh)++] = (struct pair){ e->to, e->from };
		const char *fa = app_of_host(idx, nidx, e->from), *ta = app_of_host(idx, nidx, e->to);
		const char *fk = fa ? fa : e->from, *tk = ta ? ta : e->to;
		if (strcmp(fk, tk)) {
			if (fa)
				(*ap)[(*na)++] = (struct pair){ fa, tk };
			if (ta)
				(*ap)[(*na)++] = (struct pair){ ta, fk };
		}
	}
	*nh = sort_unique(*hp, *nh);
	*na = sort_unique(*ap, *na);
	return 0;
}

static int cmp_readiness(const void *x, const void *y)
{
	return strcmp((*(Cairn__Store__Readiness *const *)x)->target,
		      (*(Cairn__Store__Readiness *const *)y)->target);
}

static const Cairn__Store__Readiness *find_readiness(Cairn__Store__Readiness *const *v, size_t n,
						     const char *target)
{
	Cairn__Store__Readiness key = CAIRN__STORE__READINESS__INIT;
	key.target = (char *)target;
	const Cairn__Store__Readiness *kp = &key;
	Cairn__Store__Readiness *const *r = bsearch(&kp, v, n, sizeof(*v), cmp_readiness);
	return r ? *r : NULL;
}

static int load_pins(MDB_txn *txn, const struct db_env *env, struct waves_pin **out, size_t *n,
		     Cairn__Store__Decision ***keep, size_t *nkeep)
{
	MDB_cursor *cur;
	*out = NULL;
	*n = 0;
	*keep = NULL;
	*nkeep = 0;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_DECISIONS], &cur);
	if (rc)
		return rc;
	uint8_t kind = CAIRN__STORE__DECISION_KIND__WAVE_PIN;
	MDB_val key = { 1, &kind }, val;
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (!rc && key.mv_size >= 1 && *(const uint8_t *)key.mv_data == kind) {
		Cairn__Store__Decision *d = cairn__store__decision__unpack(NULL, val.mv_size, val.mv_data);
		unsigned wave = 0;
		if (d && sscanf(d->value, "%u", &wave) == 1 && wave > 0) {
			struct waves_pin *v = realloc(*out, (*n + 1) * sizeof(*v));
			Cairn__Store__Decision **k = realloc(*keep, (*nkeep + 1) * sizeof(*k));
			if (v)
				*out = v;
			if (k)
				*keep = k;
			if (!v || !k) {
				cairn__store__decision__free_unpacked(d, NULL);
				rc = -ENOMEM;
				break;
			}
			(*keep)[(*nkeep)++] = d;
			(*out)[(*n)++] = (struct waves_pin){ d->subject, wave, d->decided_by };
		} else {
			if (d)
				log_warn("wave pin for '%s': value '%s' is not a wave number, ignored",
					 d->subject, d->value);
			if (d)
				cairn__store__decision__free_unpacked(d, NULL);
		}
		rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The ApplicationWave of imported rows as pins by "import" of their hosts'
 * applications: a person's pin of the application wins; hosts of one
 * application naming different waves: the earliest. */
static int import_pins(const struct estate *es, const struct host_app *idx, size_t nidx,
		       struct waves_pin **pins, size_t *n)
{
	size_t people = *n;
	for (size_t i = 0; i < es->n; i++) {
		const struct estate_host *h = &es->hosts[i];
		unsigned wave = h->import && h->import->facts ? h->import->facts->wave : 0;
		const char *app = wave ? app_of_host(idx, nidx, h->id) : NULL;
		if (!app)
			continue;
		bool done = false;
		for (size_t k = 0; k < *n && !done; k++) {
			if (strcmp((*pins)[k].app_id, app))
				continue;
			done = true;
			if (k >= people && wave < (*pins)[k].wave)
				(*pins)[k].wave = wave;
		}
		if (done)
			continue;
		struct waves_pin *v = realloc(*pins, (*n + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*pins = v;
		v[(*n)++] = (struct waves_pin){ app, wave, "import" };
	}
	return 0;
}

static int append_ptr(void ***v, size_t *n, void *p)
{
	void **nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = p;
	return 0;
}

int64_t plan_period_start(const struct plan_options *o)
{
	if (o->since_ms > 0 && o->since_ms < o->now_ms)
		return o->since_ms;
	return o->now_ms - (int64_t)rules_plan.default_period_days * STORE_DAY_MS;
}

void plan_estate_opts(struct estate_opts *o, int64_t since_ms, int64_t now_ms, double percentile)
{
	*o = (struct estate_opts){ 0 };
	o->since_ms = since_ms;
	o->now_ms = now_ms;
	o->percentile = percentile;
	o->default_days = rules_plan.default_period_days;
	o->skip_inbound_port = rules_retire_ignored_port;
}

static int compute(MDB_txn *txn, const struct db_env *env, const struct plan_options *opt,
		   Cairn__Store__Snapshot *snap, const struct sizing_catalog *cat,
		   const struct readiness_lifecycle *lc, struct errbuf *eb)
{
	struct estate es;
	struct estate_opts eo;
	plan_estate_opts(&eo, opt->since_ms, opt->now_ms, opt->percentile);
	int rc = estate_load(txn, env, &eo, &es, eb);
	if (rc)
		return rc;
	struct pair *hp = NULL, *ap = NULL;
	size_t nh = 0, na = 0;
	struct waves_pin *pins = NULL;
	Cairn__Store__Decision **decisions = NULL;
	size_t npins = 0, ndecisions = 0;
	struct host_app *idx = NULL;
	size_t nidx = 0;
	Cairn__Store__Readiness **byhost = NULL;
	struct tags_all tags = { 0 };
	struct waves_label *labels = NULL;
	char mode[16];
	if ((rc = host_app_index(snap, &idx, &nidx)) ||
	    (rc = build_peers(snap, idx, nidx, &hp, &nh, &ap, &na)))
		goto out;
	/* coverage and confidence are measured over the whole assessment
	 * period (--since, default the last default_period_days), not over
	 * the data there happens to be */
	int64_t period_start = plan_period_start(opt);
	struct readiness_ctx ctx = { lc, cat, period_start, opt->now_ms };
	for (size_t i = 0; i < es.n && !rc; i++) {
		const struct estate_host *h = &es.hosts[i];
		Cairn__Store__Sizing *sz = NULL;
		Cairn__Store__Readiness *r = NULL;
		if ((rc = sizing_host(h, cat, opt, &sz)))
			break;
		const char *app = app_of_host(idx, nidx, h->id);
		if ((rc = set_str(&sz->app_id, app ? app : ""))) {
			cairn__store__sizing__free_unpacked(sz, NULL);
			break;
		}
		if ((rc = append_ptr((void ***)&snap->sizing, &snap->n_sizing, sz))) {
			cairn__store__sizing__free_unpacked(sz, NULL);
			break;
		}
		if ((rc = readiness_host(&ctx, h, sz, count_peers(hp, nh, h->id), &r)))
			break;
		if ((rc = append_ptr((void ***)&snap->readiness, &snap->n_readiness, r)))
			cairn__store__readiness__free_unpacked(r, NULL);
	}
	size_t nhost_r = snap->n_readiness;
	if (!rc && !(byhost = malloc((nhost_r + 1) * sizeof(*byhost))))
		rc = -ENOMEM;
	if (!rc && nhost_r) { /* none yet: readiness is NULL (memcpy's UB) */
		memcpy(byhost, snap->readiness, nhost_r * sizeof(*byhost));
		qsort(byhost, nhost_r, sizeof(*byhost), cmp_readiness);
	}
	for (size_t i = 0; i < snap->n_apps && !rc; i++) {
		const Cairn__Store__App *app = snap->apps[i];
		const Cairn__Store__Readiness **hr = calloc(app->n_hosts + 1, sizeof(*hr));
		if (!hr) {
			rc = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < app->n_hosts; j++)
			hr[j] = find_readiness(byhost, nhost_r, app->hosts[j]);
		Cairn__Store__Readiness *r = NULL;
		rc = readiness_app(app, hr, count_peers(ap, na, app->id), &r);
		free(hr);
		if (!rc && (rc = append_ptr((void ***)&snap->readiness, &snap->n_readiness, r)))
			cairn__store__readiness__free_unpacked(r, NULL);
	}
	if (rc) {
		errbuf_set(eb, rc, "planning: %s", strerror(-rc > 0 ? -rc : ENOMEM));
		goto out;
	}
	if ((rc = load_pins(txn, env, &pins, &npins, &decisions, &ndecisions))) {
		errbuf_set(eb, rc, "reading wave pins: %s", db_strerror(rc));
		goto out;
	}
	if ((rc = import_pins(&es, idx, nidx, &pins, &npins))) {
		errbuf_set(eb, rc, "imported wave pins: out of memory");
		goto out;
	}
	char dates[512];
	rules_price_dates(cat->as_of, dates, sizeof(dates));
	if ((rc = note(snap, "instance catalog %s: %zu instances, %s, prices as of %s", cat->path,
		       cat->n, cat->region, cat->as_of)) ||
	    (rc = note(snap, "OS lifecycle %s: %zu releases, as of %s", lc->path, lc->n,
		       lc->as_of[0] ? lc->as_of : "unknown")) ||
	    (rc = note(snap, "%s", dates)))
		goto out;
	if ((rc = tags_load(txn, env, &tags, eb)) || (rc = wave_labels(snap, &tags, &labels)))
		goto out;
	struct waves_opts wo = {
		.max_hosts = opt->wave_max_hosts ? opt->wave_max_hosts : rules_plan.wave_max_hosts,
		.min_hosts = opt->wave_min_hosts,
		.critical_after = opt->wave_critical_after,
		.pins = pins,
		.npins = npins,
		.labels = labels,
		.nlabels = snap->n_apps,
	};
	if ((rc = waves_compute(snap, &wo)))
		goto out;
	snap->plan_since_ms = period_start;
	snap->plan_period_ms = opt->now_ms - period_start;
	{
		double cov = 0;
		size_t nhosts = 0;
		for (size_t i = 0; i < snap->n_readiness; i++)
			if (!strcmp(snap->readiness[i]->kind, "host")) {
				cov += snap->readiness[i]->coverage;
				nhosts++;
			}
		snap->plan_coverage = nhosts ? cov / (double)nhosts : 0;
	}
	if ((rc = set_str(&snap->catalog_as_of, cat->as_of)) ||
	    (rc = set_str(&snap->lifecycle_as_of, lc->as_of)) ||
	    (rc = set_str(&snap->sizing_mode, sizing_mode_name(opt->mode, opt->percentile, mode, sizeof(mode)))))
		goto out;
out:
	if (rc && !eb->msg[0])
		errbuf_set(eb, rc, "planning failed: %s", db_strerror(rc));
	for (size_t i = 0; i < ndecisions; i++)
		cairn__store__decision__free_unpacked(decisions[i], NULL);
	free(decisions);
	free(pins);
	free(labels);
	tags_all_free(&tags);
	free(idx);
	free(byhost);
	free(hp);
	free(ap);
	estate_free(&es);
	return rc;
}

int plan_compute(MDB_txn *txn, const struct db_env *env, const struct plan_options *opt,
		 Cairn__Store__Snapshot *snap, struct errbuf *eb)
{
	struct errbuf local;
	if (!eb)
		eb = &local;
	eb->msg[0] = 0;
	clear_plan(snap);
	char path[4096];
	struct sizing_catalog cat;
	struct readiness_lifecycle lc;
	int rc;
	if (opt->catalog_path && *opt->catalog_path)
		str_copy(path, opt->catalog_path, sizeof(path));
	else if ((rc = plan_data_path("aws-ec2-catalog.csv", path, sizeof(path), eb)))
		return rc;
	if ((rc = sizing_catalog_load(path, &cat, eb)))
		return rc;
	if (opt->lifecycle_path && *opt->lifecycle_path)
		str_copy(path, opt->lifecycle_path, sizeof(path));
	else if ((rc = plan_data_path("os-lifecycle.csv", path, sizeof(path), eb))) {
		sizing_catalog_free(&cat);
		return rc;
	}
	if ((rc = readiness_lifecycle_load(path, &lc, eb))) {
		sizing_catalog_free(&cat);
		return rc;
	}
	rc = compute(txn, env, opt, snap, &cat, &lc, eb);
	if (rc)
		clear_plan(snap);
	sizing_catalog_free(&cat);
	readiness_lifecycle_free(&lc);
	return rc;
}
