/* libFuzzer: the plan CSV a person edits and hands back (`plan import`),
 * read against a small fixed plan. Any input must give either changes that
 * name applications of the plan and waves 1..10000, or messages that name
 * FILE:LINE, or a whole-file error naming the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plancsv.h"
#include "waves.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Cairn__Store__Snapshot *snap;

static char *dup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

/* shop (2 hosts) depends on db (1); legacy stays (Retire) */
static void build(void)
{
	static const char *const ids[] = { "shop", "db", "legacy" };
	snap = calloc(1, sizeof(*snap));
	cairn__store__snapshot__init(snap);
	snap->map = calloc(1, sizeof(*snap->map));
	cairn__store__dep_map__init(snap->map);
	snap->apps = calloc(3, sizeof(*snap->apps));
	snap->readiness = calloc(1, sizeof(*snap->readiness));
	if (!snap->map || !snap->apps || !snap->readiness)
		abort();
	for (int i = 0; i < 3; i++) {
		Cairn__Store__App *a = calloc(1, sizeof(*a));
		cairn__store__app__init(a);
		a->id = dup(ids[i]);
		a->name = dup(ids[i]);
		a->n_hosts = i == 0 ? 2 : 1;
		a->hosts = calloc(a->n_hosts, sizeof(char *));
		for (size_t h = 0; h < a->n_hosts; h++) {
			char name[32];
			snprintf(name, sizeof(name), "%s-%zu", ids[i], h);
			a->hosts[h] = dup(name);
		}
		snap->apps[snap->n_apps++] = a;
	}
	Cairn__Store__MapEdge *e = calloc(1, sizeof(*e));
	cairn__store__map_edge__init(e);
	e->from = dup("shop-0");
	e->to = dup("db-0");
	e->samples_seen = 10;
	snap->map->host_edges = calloc(1, sizeof(e));
	snap->map->host_edges[snap->map->n_host_edges++] = e;
	Cairn__Store__Readiness *r = calloc(1, sizeof(*r));
	cairn__store__readiness__init(r);
	r->target = dup("legacy");
	r->kind = dup("app");
	r->strategy = dup("Retire");
	snap->readiness[snap->n_readiness++] = r;
	struct waves_opts o = { .max_hosts = 2, .critical_after = 1 };
	if (waves_compute(snap, &o))
		abort();
}

static void report(const char *msg, void *arg)
{
	(void)arg;
	if (strncmp(msg, "fuzz.csv:", 9))
		__builtin_trap(); /* every row error names FILE:LINE */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!snap)
		build();
	struct plancsv_result res;
	struct errbuf eb;
	eb.msg[0] = 0;
	if (plancsv_read(snap, (const char *)data, size, "fuzz.csv", report, NULL, &res, &eb) == 0) {
		for (size_t i = 0; i < res.n; i++)
			if (res.v[i].to < 1 || res.v[i].to > 10000 || res.v[i].to == res.v[i].from ||
			    !waves_of_app(snap, res.v[i].app_id))
				__builtin_trap();
		if (res.n + res.unchanged + res.rejected != res.rows)
			__builtin_trap();
		plancsv_result_free(&res);
	} else if (strncmp(eb.msg, "fuzz.csv", 8)) {
		__builtin_trap();
	}
	return 0;
}
