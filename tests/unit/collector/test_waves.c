/* Wave plan invariants: every application in exactly one wave, shared
 * infrastructure first, dependent applications together unless the size
 * limit forces a split (and then a warning names both), limits kept, pins
 * respected. Checked on hand-made cases and on generated estates. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "plan_fixture.h"
#include "waves.h"

/* An app with n hosts named "<id>-h<k>", one map node per host. */
static void add_app(Cairn__Store__Snapshot *s, const char *id, unsigned n, bool infra)
{
	char names[64][64];
	const char *hosts[64];
	for (unsigned k = 0; k < n && k < 64; k++) {
		snprintf(names[k], sizeof(names[k]), "%s-h%u", id, k);
		hosts[k] = names[k];
		fx_snap_add_node(s, names[k], names[k], true);
	}
	fx_snap_add_app(s, fx_app(id, id, infra, hosts, n));
}

/* An edge between the first hosts of two apps. */
static void link(Cairn__Store__Snapshot *s, const char *a, const char *b, uint64_t samples)
{
	char from[80], to[80];
	snprintf(from, sizeof(from), "%s-h0", a);
	snprintf(to, sizeof(to), "%s-h0", b);
	fx_snap_add_edge(s, from, to, 5432, samples);
}

static const Cairn__Store__App *app(const Cairn__Store__Snapshot *s, const char *id)
{
	for (size_t i = 0; i < s->n_apps; i++)
		if (!strcmp(s->apps[i]->id, id))
			return s->apps[i];
	return NULL;
}

static const char *app_of_host(const Cairn__Store__Snapshot *s, const char *host)
{
	for (size_t i = 0; i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			if (!strcmp(s->apps[i]->hosts[j], host))
				return s->apps[i]->id;
	return NULL;
}

static bool warned(const Cairn__Store__Snapshot *s, const char *a, const char *b)
{
	for (size_t i = 0; i < s->n_plan_notes; i++)
		if (strstr(s->plan_notes[i], a) && strstr(s->plan_notes[i], b))
			return true;
	return false;
}

/* The invariants; returns the number of waves. */
static size_t check(const Cairn__Store__Snapshot *s, unsigned limit)
{
	/* each app exactly once, why line per app, host counts add up */
	for (size_t i = 0; i < s->n_apps; i++) {
		unsigned seen = 0;
		for (size_t w = 0; w < s->n_waves; w++)
			for (size_t k = 0; k < s->waves[w]->n_apps; k++)
				seen += !strcmp(s->waves[w]->apps[k], s->apps[i]->id);
		cr_assert_eq(seen, 1, "app %s is in %u waves", s->apps[i]->id, seen);
	}
	unsigned last_infra = 0, first_other = ~0u;
	for (size_t w = 0; w < s->n_waves; w++) {
		const Cairn__Store__Wave *wv = s->waves[w];
		cr_assert_eq(wv->n_why, wv->n_apps, "wave %u: one why line per app", wv->number);
		unsigned hosts = 0;
		bool pinned_or_single = false;
		for (size_t k = 0; k < wv->n_apps; k++) {
			const Cairn__Store__App *a = app(s, wv->apps[k]);
			hosts += (unsigned)a->n_hosts;
			cr_assert(wv->why[k][0], "empty why for %s", a->id);
			pinned_or_single |= strstr(wv->why[k], "pinned") || a->n_hosts > limit;
			if (a->infrastructure && !strstr(wv->why[k], "pinned"))
				last_infra = wv->number > last_infra ? wv->number : last_infra;
			else if (!a->infrastructure && wv->number < first_other)
				first_other = wv->number;
		}
		cr_assert_eq(wv->hosts, hosts, "wave %u host count", wv->number);
		if (!pinned_or_single)
			cr_assert_leq(hosts, limit, "wave %u has %u hosts > %u", wv->number, hosts, limit);
		if (w)
			cr_assert_gt(wv->number, s->waves[w - 1]->number, "waves in order");
	}
	if (last_infra && first_other != ~0u)
		cr_assert_lt(last_infra, first_other, "infrastructure (up to wave %u) must come before "
			     "applications (from wave %u)", last_infra, first_other);
	/* dependencies: same wave, or a warning naming both */
	for (size_t e = 0; s->map && e < s->map->n_host_edges; e++) {
		const char *a = app_of_host(s, s->map->host_edges[e]->from);
		const char *b = app_of_host(s, s->map->host_edges[e]->to);
		if (!a || !b || !strcmp(a, b) || app(s, a)->infrastructure || app(s, b)->infrastructure)
			continue;
		if (waves_of_app(s, a) != waves_of_app(s, b))
			cr_assert(warned(s, a, b), "%s (wave %u) and %s (wave %u) split without a warning", a,
				  waves_of_app(s, a), b, waves_of_app(s, b));
	}
	return s->n_waves;
}

Test(waves, infrastructure_first_and_dependents_together)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "dns", 2, true);
	add_app(s, "shop", 3, false);
	add_app(s, "shopdb", 2, false);
	add_app(s, "crm", 4, false);
	add_app(s, "wiki", 1, false);
	link(s, "shop", "shopdb", 100);
	link(s, "shop", "dns", 50);
	link(s, "crm", "dns", 50);
	cr_assert_eq(waves_compute(s, NULL, 0, 6), 0);
	check(s, 6);
	cr_expect_eq(waves_of_app(s, "dns"), 1);
	cr_expect_eq(waves_of_app(s, "shop"), waves_of_app(s, "shopdb"));
	cr_expect_gt(waves_of_app(s, "shop"), 1);
	cr_expect_eq(s->n_plan_notes, 0, "no split needed");
	const Cairn__Store__Wave *w1 = s->waves[0];
	cr_expect(strstr(w1->why[0], "shared infrastructure"), "%s", w1->why[0]);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

Test(waves, limit_forces_split_and_reports_it)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "a", 3, false);
	add_app(s, "b", 3, false);
	add_app(s, "c", 3, false);
	link(s, "a", "b", 500);
	link(s, "b", "c", 10);
	cr_assert_eq(waves_compute(s, NULL, 0, 6), 0);
	check(s, 6);
	/* the strongly coupled pair stays together, the weak link is cut */
	cr_expect_eq(waves_of_app(s, "a"), waves_of_app(s, "b"));
	cr_expect_neq(waves_of_app(s, "b"), waves_of_app(s, "c"));
	cr_expect(warned(s, "b", "c"));
	bool in_wave = false;
	for (size_t w = 0; w < s->n_waves; w++)
		in_wave |= s->waves[w]->n_warnings > 0;
	cr_expect(in_wave, "the split warning is attached to a wave");
	cairn__store__snapshot__free_unpacked(s, NULL);
}

Test(waves, app_larger_than_limit_gets_own_wave)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "big", 10, false);
	add_app(s, "small", 1, false);
	cr_assert_eq(waves_compute(s, NULL, 0, 4), 0);
	check(s, 4);
	cr_expect_neq(waves_of_app(s, "big"), waves_of_app(s, "small"));
	cairn__store__snapshot__free_unpacked(s, NULL);
}

Test(waves, pins_win_and_pull_their_group)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "dns", 1, true);
	add_app(s, "shop", 2, false);
	add_app(s, "shopdb", 1, false);
	add_app(s, "crm", 2, false);
	link(s, "shop", "shopdb", 100);
	struct waves_pin pins[] = { { "shop", 5, "alice" }, { "crm", 2, "bob" } };
	cr_assert_eq(waves_compute(s, pins, 2, 10), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "shop"), 5);
	cr_expect_eq(waves_of_app(s, "shopdb"), 5, "follows its pinned partner");
	cr_expect_eq(waves_of_app(s, "crm"), 2);
	bool why_pin = false;
	for (size_t w = 0; w < s->n_waves; w++)
		for (size_t k = 0; k < s->waves[w]->n_apps; k++)
			if (!strcmp(s->waves[w]->apps[k], "shop"))
				why_pin = strstr(s->waves[w]->why[k], "alice") != NULL;
	cr_expect(why_pin, "the why line names who pinned");
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Deterministic pseudo-random estates. */
static uint32_t rnd(uint32_t *st)
{
	*st = *st * 1103515245u + 12345u;
	return (*st >> 16) & 0x7fff;
}

Test(waves, generated_estates_keep_invariants)
{
	uint32_t st = 42;
	for (int round = 0; round < 60; round++) {
		Cairn__Store__Snapshot *s = fx_snap_new();
		unsigned napps = 2 + rnd(&st) % 25;
		unsigned limit = 2 + rnd(&st) % 12;
		char id[32], id2[32];
		for (unsigned i = 0; i < napps; i++) {
			snprintf(id, sizeof(id), "app%02u", i);
			add_app(s, id, 1 + rnd(&st) % 5, rnd(&st) % 10 == 0);
		}
		unsigned nedges = rnd(&st) % (napps * 2);
		for (unsigned e = 0; e < nedges; e++) {
			snprintf(id, sizeof(id), "app%02u", rnd(&st) % napps);
			snprintf(id2, sizeof(id2), "app%02u", rnd(&st) % napps);
			if (strcmp(id, id2))
				link(s, id, id2, 1 + rnd(&st) % 1000);
		}
		cr_assert_eq(waves_compute(s, NULL, 0, limit), 0);
		check(s, limit);
		/* recomputation is deterministic */
		char first[4096] = "";
		for (size_t w = 0; w < s->n_waves; w++)
			for (size_t k = 0; k < s->waves[w]->n_apps; k++)
				snprintf(first + strlen(first), sizeof(first) - strlen(first), "%u:%s ",
					 s->waves[w]->number, s->waves[w]->apps[k]);
		for (size_t i = 0; i < s->n_plan_notes; i++)
			free(s->plan_notes[i]);
		s->n_plan_notes = 0;
		cr_assert_eq(waves_compute(s, NULL, 0, limit), 0);
		char second[4096] = "";
		for (size_t w = 0; w < s->n_waves; w++)
			for (size_t k = 0; k < s->waves[w]->n_apps; k++)
				snprintf(second + strlen(second), sizeof(second) - strlen(second), "%u:%s ",
					 s->waves[w]->number, s->waves[w]->apps[k]);
		cr_assert_str_eq(first, second);
		cairn__store__snapshot__free_unpacked(s, NULL);
	}
}

Test(waves, empty_estate)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	cr_assert_eq(waves_compute(s, NULL, 0, 25), 0);
	cr_expect_eq(s->n_waves, 0);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

Test(waves, retired_and_retained_apps_stay_out)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "shop", 2, false);
	add_app(s, "legacy", 1, false);
	add_app(s, "lab", 1, false);
	link(s, "shop", "legacy", 100);
	const char *strategies[][2] = { { "legacy", "Retain" }, { "lab", "Retire" }, { "shop", "Rehost" } };
	s->readiness = calloc(3, sizeof(*s->readiness));
	for (int i = 0; i < 3; i++) {
		Cairn__Store__Readiness *r = calloc(1, sizeof(*r));
		cairn__store__readiness__init(r);
		r->target = strdup(strategies[i][0]);
		r->kind = strdup("app");
		r->strategy = strdup(strategies[i][1]);
		s->readiness[s->n_readiness++] = r;
	}
	cr_assert_eq(waves_compute(s, NULL, 0, 25), 0);
	cr_expect_eq(waves_of_app(s, "legacy"), 0);
	cr_expect_eq(waves_of_app(s, "lab"), 0);
	cr_expect_eq(waves_of_app(s, "shop"), 1);
	cr_expect(warned(s, "legacy", "Retain"));
	cr_expect(warned(s, "lab", "Retire"));
	cr_expect(!warned(s, "shop", "split"), "a dependency on an app that stays is not a split");
	cairn__store__snapshot__free_unpacked(s, NULL);
}
