/* Wave rules, one test per rule, their conflicts and precedence, the
 * explanation of every placement, score and confidence; and the invariants
 * on hand-made and generated estates: every application in exactly one wave,
 * shared infrastructure first, a dependency never in a later wave than its
 * dependent and applications that depend on each other together (or a
 * warning naming both), limits kept unless a warning says which rule won,
 * deterministic output. */
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

static bool wave_warned(const Cairn__Store__Snapshot *s, unsigned wave, const char *what)
{
	for (size_t w = 0; w < s->n_waves; w++)
		for (size_t k = 0; s->waves[w]->number == wave && k < s->waves[w]->n_warnings; k++)
			if (strstr(s->waves[w]->warnings[k], what))
				return true;
	return false;
}

static const Cairn__Store__WavePlacement *placement(const Cairn__Store__Snapshot *s, const char *id)
{
	const Cairn__Store__WavePlacement *pl = NULL;
	cr_assert(waves_find(s, id, &pl), "%s is in no wave", id);
	cr_assert(pl, "%s has no placement", id);
	return pl;
}

/* Whether app id was placed by (or had to relax) the rule code. */
static bool placed_by(const Cairn__Store__Snapshot *s, const char *id, const char *code)
{
	const Cairn__Store__WavePlacement *pl = placement(s, id);
	for (size_t i = 0; i < pl->n_rules; i++)
		if (!strcmp(pl->rules[i]->code, code))
			return true;
	return false;
}

static bool relaxed(const Cairn__Store__Snapshot *s, const char *id, const char *code)
{
	const Cairn__Store__WavePlacement *pl = placement(s, id);
	for (size_t i = 0; i < pl->n_relaxed; i++)
		if (!strcmp(pl->relaxed[i]->code, code))
			return true;
	return false;
}

static size_t notes_with(const Cairn__Store__Snapshot *s, const char *what)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_plan_notes; i++)
		n += strstr(s->plan_notes[i], what) != NULL;
	return n;
}

static const Cairn__Store__Wave *wave_no(const Cairn__Store__Snapshot *s, unsigned n)
{
	for (size_t w = 0; w < s->n_waves; w++)
		if (s->waves[w]->number == n)
			return s->waves[w];
	return NULL;
}

static int plan(Cairn__Store__Snapshot *s, unsigned max, unsigned min, unsigned crit,
		const struct waves_label *labels, size_t nlabels, const struct waves_pin *pins,
		size_t npins)
{
	struct waves_opts o = { max, min, crit, pins, npins, labels, nlabels };
	for (size_t i = 0; i < s->n_plan_notes; i++)
		free(s->plan_notes[i]);
	s->n_plan_notes = 0; /* plan_compute clears them too */
	return waves_compute(s, &o);
}

static void ready(Cairn__Store__Snapshot *s, const char *id, const char *strategy, unsigned score,
		  unsigned confidence)
{
	Cairn__Store__Readiness **v = realloc(s->readiness, (s->n_readiness + 1) * sizeof(*v));
	cr_assert(v);
	s->readiness = v;
	Cairn__Store__Readiness *r = calloc(1, sizeof(*r));
	cairn__store__readiness__init(r);
	r->target = strdup(id);
	r->kind = strdup("app");
	r->strategy = strdup(strategy);
	r->score = score;
	r->confidence = confidence;
	s->readiness[s->n_readiness++] = r;
}

/* The invariants; returns the number of waves. */
static size_t check(const Cairn__Store__Snapshot *s, unsigned limit)
{
	/* each app exactly once, why line and placement per app, host counts add up */
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
		cr_assert_eq(wv->n_placements, wv->n_apps, "wave %u: one placement per app", wv->number);
		cr_assert_leq(wv->score, 100);
		cr_assert(wv->confidence >= 1 && wv->confidence <= 5);
		cr_assert(wv->n_reasons > 0, "wave %u has reasons", wv->number);
		unsigned hosts = 0;
		for (size_t k = 0; k < wv->n_apps; k++) {
			const Cairn__Store__App *a = app(s, wv->apps[k]);
			cr_assert_str_eq(wv->placements[k]->app, a->id);
			cr_assert(wv->placements[k]->n_rules > 0, "%s: no rule placed it", a->id);
			hosts += (unsigned)a->n_hosts;
			cr_assert(wv->why[k][0], "empty why for %s", a->id);
			if (a->infrastructure && !strstr(wv->why[k], "pinned"))
				last_infra = wv->number > last_infra ? wv->number : last_infra;
			else if (!a->infrastructure && wv->number < first_other)
				first_other = wv->number;
		}
		cr_assert_eq(wv->hosts, hosts, "wave %u host count", wv->number);
		if (hosts > limit)
			cr_assert(wave_warned(s, wv->number, "wave_size not honored"),
				  "wave %u has %u hosts > %u without a warning", wv->number, hosts, limit);
		if (w)
			cr_assert_gt(wv->number, s->waves[w - 1]->number, "waves in order");
	}
	if (last_infra && first_other != ~0u)
		cr_assert_lt(last_infra, first_other, "infrastructure (up to wave %u) must come before "
			     "applications (from wave %u)", last_infra, first_other);
	/* dependencies: the one depended on no later, two-way together; or a
	 * warning naming both */
	for (size_t e = 0; s->map && e < s->map->n_host_edges; e++) {
		const char *a = app_of_host(s, s->map->host_edges[e]->from);
		const char *b = app_of_host(s, s->map->host_edges[e]->to);
		if (!a || !b || !strcmp(a, b) || app(s, a)->infrastructure)
			continue;
		if (waves_of_app(s, b) > waves_of_app(s, a))
			cr_assert(warned(s, a, b), "%s (wave %u) depends on %s (wave %u), later, without a "
				  "warning", a, waves_of_app(s, a), b, waves_of_app(s, b));
		for (size_t f = 0; f < s->map->n_host_edges; f++) {
			const char *c = app_of_host(s, s->map->host_edges[f]->from);
			const char *d = app_of_host(s, s->map->host_edges[f]->to);
			if (c && d && !strcmp(c, b) && !strcmp(d, a) && !app(s, b)->infrastructure &&
			    waves_of_app(s, a) != waves_of_app(s, b))
				cr_assert(warned(s, a, b), "%s and %s depend on each other, split silently", a, b);
		}
	}
	return s->n_waves;
}

Test(waves, infrastructure_first_and_dependencies_before_dependents)
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
	link(s, "dns", "crm", 5); /* infrastructure's own connections do not count */
	cr_assert_eq(plan(s, 6, 0, 1, NULL, 0, NULL, 0), 0);
	check(s, 6);
	cr_expect_eq(waves_of_app(s, "dns"), 1);
	cr_expect_leq(waves_of_app(s, "shopdb"), waves_of_app(s, "shop"));
	cr_expect_gt(waves_of_app(s, "shop"), 1);
	cr_expect_eq(s->n_plan_notes, 0, "every rule honored");
	const Cairn__Store__Wave *w1 = s->waves[0];
	cr_expect(strstr(w1->why[0], "shared infrastructure"), "%s", w1->why[0]);
	cr_expect(placed_by(s, "dns", "infra_first"));
	cr_expect(placed_by(s, "shop", "dependency_order"), "shop waits for shopdb");
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 1: two-way dependencies, directly or through a cycle, in one wave. */
Test(waves, rule_two_way_in_one_wave)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "a", 2, false);
	add_app(s, "b", 2, false);
	add_app(s, "c", 1, false);
	add_app(s, "x", 2, false);
	add_app(s, "y", 2, false);
	add_app(s, "z", 2, false);
	link(s, "a", "b", 100);
	link(s, "b", "a", 100);
	link(s, "c", "a", 10);
	link(s, "x", "y", 10); /* a cycle x -> y -> z -> x */
	link(s, "y", "z", 10);
	link(s, "z", "x", 10);
	cr_assert_eq(plan(s, 6, 0, 1, NULL, 0, NULL, 0), 0);
	check(s, 6);
	cr_expect_eq(waves_of_app(s, "a"), waves_of_app(s, "b"));
	cr_expect_eq(waves_of_app(s, "x"), waves_of_app(s, "y"));
	cr_expect_eq(waves_of_app(s, "y"), waves_of_app(s, "z"));
	cr_expect(placed_by(s, "a", "two_way"));
	cr_expect(placed_by(s, "z", "two_way"));
	cr_expect(!placed_by(s, "c", "two_way"), "c only depends on a");
	cr_expect(strstr(placement(s, "a")->rules[0]->text, "b"), "%s", placement(s, "a")->rules[0]->text);
	cr_expect_eq(s->n_plan_notes, 0);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 2: an application is never split; bigger than the limit, it gets a
 * wave of its own and the size rule says why it was not honored. */
Test(waves, rule_whole_app_own_wave)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "big", 10, false);
	add_app(s, "small", 1, false);
	cr_assert_eq(plan(s, 4, 0, 1, NULL, 0, NULL, 0), 0);
	check(s, 4);
	unsigned w = waves_of_app(s, "big");
	cr_expect_neq(w, waves_of_app(s, "small"));
	cr_expect_eq(wave_no(s, w)->hosts, 10);
	cr_expect(placed_by(s, "big", "whole_app"));
	cr_expect(wave_warned(s, w, "whole_app wins"));
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 3: what an application depends on moves in the same or an earlier
 * wave, also when the limit parts them. */
Test(waves, rule_dependency_order)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "web", 3, false);
	add_app(s, "api", 3, false);
	add_app(s, "db", 3, false);
	link(s, "web", "api", 500);
	link(s, "api", "db", 10);
	cr_assert_eq(plan(s, 4, 0, 1, NULL, 0, NULL, 0), 0);
	check(s, 4);
	cr_expect_lt(waves_of_app(s, "db"), waves_of_app(s, "api"));
	cr_expect_lt(waves_of_app(s, "api"), waves_of_app(s, "web"));
	cr_expect(placed_by(s, "web", "dependency_order"));
	cr_expect_eq(s->n_plan_notes, 0, "nothing relaxed");
	/* room for all: one wave */
	cr_assert_eq(plan(s, 9, 0, 1, NULL, 0, NULL, 0), 0);
	cr_expect_eq(s->n_waves, 1);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

static const struct waves_label env_labels[] = {
	{ "shop", "prod", "" }, { "crm", "prod", "" },   { "shop-dev", "dev", "" },
	{ "qa", "test", "" },   { "stage", "staging", "" }, { "billing", "prod", "high" },
	{ "wiki", "", "low" },
};

/* Rule 4: dev/test (and staging) before prod. */
Test(waves, rule_env_order_dev_before_prod)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "shop", 2, false); /* the biggest: first-fit alone would start with it */
	add_app(s, "shop-dev", 1, false);
	add_app(s, "qa", 1, false);
	cr_assert_eq(plan(s, 10, 0, 0, env_labels, 7, NULL, 0), 0);
	check(s, 10);
	cr_expect_lt(waves_of_app(s, "shop-dev"), waves_of_app(s, "shop"));
	cr_expect_lt(waves_of_app(s, "qa"), waves_of_app(s, "shop"));
	cr_expect(placed_by(s, "shop", "env_order") || placed_by(s, "shop", "env_separate"));
	cr_expect(placed_by(s, "qa", "env_order"), "dev/test moves before prod");
	cr_expect_str_eq(placement(s, "shop")->environment, "prod");
	cr_expect_eq(s->n_plan_notes, 0);
	cairn__store__snapshot__free_unpacked(s, NULL);
	/* prod waits even where it would fit: qa waits for lib (high
	 * criticality, not in wave 1), so shop may not take wave 1 */
	s = fx_snap_new();
	add_app(s, "shop", 1, false);
	add_app(s, "qa", 1, false);
	add_app(s, "lib", 1, false);
	add_app(s, "wiki", 1, false);
	link(s, "qa", "lib", 10);
	struct waves_label lb[] = { { "shop", "prod", "" }, { "qa", "test", "" }, { "lib", "", "high" } };
	cr_assert_eq(plan(s, 10, 0, 1, lb, 3, NULL, 0), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "wiki"), 1);
	cr_expect_eq(waves_of_app(s, "qa"), 2);
	cr_expect_eq(waves_of_app(s, "shop"), 3);
	cr_expect(placed_by(s, "shop", "env_order"));
	cr_expect_eq(s->n_plan_notes, 0);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 5: dev/test and prod never share a wave; untagged ones go anywhere. */
Test(waves, rule_env_separate)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "shop", 1, false);
	add_app(s, "crm", 1, false);
	add_app(s, "stage", 1, false);
	add_app(s, "wiki", 1, false);
	cr_assert_eq(plan(s, 10, 0, 0, env_labels, 7, NULL, 0), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "shop"), waves_of_app(s, "crm"));
	cr_expect_neq(waves_of_app(s, "stage"), waves_of_app(s, "shop"));
	cr_expect_eq(s->n_waves, 2);
	for (size_t w = 0; w < s->n_waves; w++) {
		bool prod = false, dev = false;
		for (size_t k = 0; k < s->waves[w]->n_placements; k++) {
			prod |= !strcmp(s->waves[w]->placements[k]->environment, "prod");
			dev |= !strcmp(s->waves[w]->placements[k]->environment, "staging");
		}
		cr_expect(!(prod && dev), "wave %u mixes", s->waves[w]->number);
	}
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 6: criticality=high not in the first N waves (N = 0: off). */
Test(waves, rule_critical_late)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "billing", 1, false);
	add_app(s, "wiki", 1, false);
	add_app(s, "a", 1, false);
	add_app(s, "b", 1, false);
	cr_assert_eq(plan(s, 1, 0, 1, env_labels, 7, NULL, 0), 0);
	check(s, 1);
	cr_expect_gt(waves_of_app(s, "billing"), 1);
	cr_expect(placed_by(s, "billing", "critical_late"));
	cr_assert_eq(plan(s, 1, 0, 3, env_labels, 7, NULL, 0), 0);
	cr_expect_gt(waves_of_app(s, "billing"), 3);
	cr_assert_eq(plan(s, 10, 0, 1, env_labels, 7, NULL, 0), 0);
	cr_expect_eq(s->n_waves, 2, "billing alone in wave 2");
	cr_expect_eq(waves_of_app(s, "billing"), 2);
	cr_assert_eq(plan(s, 10, 0, 0, env_labels, 7, NULL, 0), 0);
	cr_expect_eq(s->n_waves, 1, "rule off");
	/* only high-criticality applications: wave 1 is not left empty */
	Cairn__Store__Snapshot *t = fx_snap_new();
	add_app(t, "billing", 1, false);
	cr_assert_eq(plan(t, 10, 0, 1, env_labels, 7, NULL, 0), 0);
	cr_expect_eq(waves_of_app(t, "billing"), 1);
	cr_expect(relaxed(t, "billing", "critical_late"));
	cr_expect_eq(notes_with(t, "critical_late not honored"), 1);
	cairn__store__snapshot__free_unpacked(t, NULL);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 7: min..max hosts per wave; a wave below the minimum takes
 * applications from the one before when every other rule allows. */
Test(waves, rule_wave_size_range)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	char id[16];
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "app%d", i);
		add_app(s, id, 1, false);
	}
	cr_assert_eq(plan(s, 4, 0, 1, NULL, 0, NULL, 0), 0);
	cr_expect_eq(s->waves[0]->hosts, 4);
	cr_expect_eq(s->waves[1]->hosts, 2);
	cr_assert_eq(plan(s, 4, 3, 1, NULL, 0, NULL, 0), 0);
	check(s, 4);
	cr_assert_eq(s->n_waves, 2);
	cr_expect_eq(s->waves[0]->hosts, 3);
	cr_expect_eq(s->waves[1]->hosts, 3);
	cr_expect_eq(s->wave_min_hosts, 3);
	cr_expect_eq(s->n_plan_notes, 0);
	/* a minimum no plan can meet is reported */
	cr_assert_eq(plan(s, 4, 4, 1, NULL, 0, NULL, 0), 0);
	cr_expect(wave_warned(s, 2, "fewer than --min-hosts 4"));
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Rule 0: pins win; every rule a pin breaks is reported naming both. */
Test(waves, pins_win_and_report_what_they_break)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "dns", 1, true);
	add_app(s, "shop", 2, false);
	add_app(s, "shopdb", 1, false);
	add_app(s, "crm", 2, false);
	add_app(s, "shop-dev", 1, false);
	link(s, "shop", "shopdb", 100);
	struct waves_pin pins[] = { { "shop", 5, "alice" }, { "crm", 2, "bob" } };
	cr_assert_eq(plan(s, 10, 0, 1, NULL, 0, pins, 2), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "shop"), 5);
	cr_expect_leq(waves_of_app(s, "shopdb"), 5, "moves no later than its pinned dependent");
	cr_expect_eq(waves_of_app(s, "crm"), 2);
	cr_expect(strstr(placement(s, "shop")->rules[0]->text, "alice"));
	cr_expect(placement(s, "shop")->pinned);
	const Cairn__Store__WavePlacement *pl = NULL;
	cr_expect(strstr(waves_find(s, "shop", &pl)->why[0], "alice") || pl);
	/* a pin into the dev wave breaks env_separate; into wave 1, critical_late */
	struct waves_pin bad[] = { { "shop", 1, "alice" } };
	struct waves_label lb[] = { { "shop", "prod", "high" }, { "shop-dev", "dev", "" } };
	cr_assert_eq(plan(s, 10, 0, 1, lb, 2, bad, 1), 0);
	cr_expect_eq(waves_of_app(s, "shop"), 1);
	cr_expect_eq(notes_with(s, "critical_late not honored: shop"), 1);
	cr_expect(notes_with(s, "pinned to wave 1 by alice") >= 1);
	cr_expect(relaxed(s, "shop", "critical_late"));
	/* a pin parting two applications that depend on each other */
	link(s, "shopdb", "shop", 100);
	struct waves_pin part[] = { { "shop", 4, "alice" }, { "shopdb", 2, "bob" } };
	cr_assert_eq(plan(s, 10, 0, 1, NULL, 0, part, 2), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "shop"), 4);
	cr_expect_eq(waves_of_app(s, "shopdb"), 2);
	cr_expect_eq(notes_with(s, "two_way not honored"), 1);
	cr_expect(relaxed(s, "shop", "two_way"));
	cairn__store__snapshot__free_unpacked(s, NULL);
	/* a dev application pinned late: prod waits for it (env_order holds) */
	s = fx_snap_new();
	add_app(s, "shop", 1, false);
	add_app(s, "crm", 1, false);
	add_app(s, "shop-dev", 1, false);
	add_app(s, "wiki", 1, false);
	struct waves_pin late[] = { { "shop-dev", 4, "carol" } };
	cr_assert_eq(plan(s, 10, 0, 1, env_labels, 7, late, 1), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "wiki"), 1);
	cr_expect_eq(waves_of_app(s, "shop"), 5);
	cr_expect_eq(waves_of_app(s, "crm"), 5, "all prod together after the pinned dev app");
	cr_expect_eq(s->n_plan_notes, 0, "no rule broken");
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Conflicts: the rule earlier in the precedence order wins, the other is
 * reported with the reason. */
Test(waves, conflicts_follow_precedence)
{
	/* a dev application depends on a prod one: dependency_order (3) beats
	 * env_order (4) */
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "shop-dev", 1, false);
	add_app(s, "shop", 1, false);
	add_app(s, "qa", 1, false);
	link(s, "shop-dev", "shop", 10);
	cr_assert_eq(plan(s, 10, 0, 0, env_labels, 7, NULL, 0), 0);
	check(s, 10);
	cr_expect_leq(waves_of_app(s, "shop"), waves_of_app(s, "shop-dev"));
	cr_expect_neq(waves_of_app(s, "shop"), waves_of_app(s, "shop-dev"), "env_separate still holds");
	cr_expect_lt(waves_of_app(s, "qa"), waves_of_app(s, "shop"), "the other dev/test app first");
	cr_expect_eq(notes_with(s, "env_order not honored: shop-dev"), 1);
	cr_expect(relaxed(s, "shop-dev", "env_order"));
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* two-way between dev and prod: two_way (1) beats env_separate (5) */
	s = fx_snap_new();
	add_app(s, "shop-dev", 1, false);
	add_app(s, "shop", 1, false);
	link(s, "shop-dev", "shop", 10);
	link(s, "shop", "shop-dev", 10);
	cr_assert_eq(plan(s, 10, 0, 0, env_labels, 7, NULL, 0), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "shop"), waves_of_app(s, "shop-dev"));
	cr_expect_eq(notes_with(s, "env_separate not honored"), 1);
	cr_expect_eq(notes_with(s, "two_way wins"), 1);
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* a two-way group bigger than the limit stays together: two_way (1)
	 * beats wave_size (7) */
	s = fx_snap_new();
	add_app(s, "a", 3, false);
	add_app(s, "b", 3, false);
	link(s, "a", "b", 10);
	link(s, "b", "a", 10);
	cr_assert_eq(plan(s, 4, 0, 1, NULL, 0, NULL, 0), 0);
	check(s, 4);
	cr_expect_eq(waves_of_app(s, "a"), waves_of_app(s, "b"));
	cr_expect_eq(notes_with(s, "two_way wins"), 1);
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* a high-criticality database others depend on: they wait for it
	 * (critical_late holds, dependency_order holds) */
	s = fx_snap_new();
	add_app(s, "billing", 1, false);
	add_app(s, "web", 1, false);
	add_app(s, "wiki", 1, false);
	link(s, "web", "billing", 10);
	cr_assert_eq(plan(s, 10, 0, 1, env_labels, 7, NULL, 0), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "wiki"), 1);
	cr_expect_eq(waves_of_app(s, "billing"), 2);
	cr_expect_eq(waves_of_app(s, "web"), 2);
	cr_expect_eq(s->n_plan_notes, 0);
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Shared infrastructure first, also beside critical_late: a high-criticality
 * DNS is kept out of wave 1 and the applications wait for it; a pin that
 * puts an application before shared infrastructure is reported. */
Test(waves, infra_first_with_critical_late_and_pins)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "dns", 1, true);
	add_app(s, "ntp", 1, true);
	add_app(s, "web", 1, false);
	add_app(s, "wiki", 1, false);
	link(s, "web", "dns", 10);
	struct waves_label lb[] = { { "dns", "", "high" } };
	cr_assert_eq(plan(s, 10, 0, 1, lb, 1, NULL, 0), 0);
	check(s, 10);
	cr_expect_eq(waves_of_app(s, "ntp"), 1);
	cr_expect_eq(waves_of_app(s, "dns"), 2);
	cr_expect_eq(waves_of_app(s, "web"), 3);
	cr_expect_eq(waves_of_app(s, "wiki"), 3);
	cr_expect(placed_by(s, "dns", "critical_late"));
	cr_expect(placed_by(s, "wiki", "infra_first"));
	cr_expect_eq(s->n_plan_notes, 0, "both rules hold");
	struct waves_pin pins[] = { { "wiki", 1, "dave" } };
	cr_assert_eq(plan(s, 10, 0, 1, lb, 1, pins, 1), 0);
	cr_expect_eq(waves_of_app(s, "wiki"), 1);
	cr_expect_eq(notes_with(s, "infra_first not honored: wave 1 holds wiki"), 1);
	cr_expect_eq(notes_with(s, "wiki is pinned to wave 1 by dave"), 1);
	cr_expect(relaxed(s, "wiki", "infra_first"));
	cairn__store__snapshot__free_unpacked(s, NULL);
}

/* Score and confidence follow the formulas in docs/planning.md. */
Test(waves, score_and_confidence)
{
	Cairn__Store__Snapshot *s = fx_snap_new();
	add_app(s, "a", 1, false);
	add_app(s, "b", 3, false);
	ready(s, "a", "Rehost", 80, 4);
	ready(s, "b", "Rehost", 80, 4);
	cr_assert_eq(plan(s, 10, 0, 1, NULL, 0, NULL, 0), 0);
	cr_assert_eq(s->n_waves, 1);
	/* 0.6 x 80 + 0.4 x 100 (no dependencies) */
	cr_expect_eq(s->waves[0]->score, 88);
	cr_expect_eq(s->waves[0]->confidence, 4);
	cr_expect_eq(s->waves[0]->relaxed, 0);
	/* a pin breaking the order: dependencies in place 0 %, one rule relaxed */
	link(s, "a", "b", 10);
	struct waves_pin pins[] = { { "a", 1, "bob" }, { "b", 2, "alice" } };
	cr_assert_eq(plan(s, 10, 0, 1, NULL, 0, pins, 2), 0);
	const Cairn__Store__Wave *w1 = wave_no(s, 1);
	cr_assert(w1);
	cr_expect_eq(w1->relaxed, 0, "the warning belongs to wave 2 (the later one)");
	const Cairn__Store__Wave *w2 = wave_no(s, 2);
	cr_expect_eq(w2->relaxed, 1);
	cr_expect_eq(w2->score, 78, "88 - 10 per rule relaxed");
	cr_expect_eq(w2->confidence, 3);
	cr_expect_eq(w1->score, 48, "0.6 x 80 + 0.4 x 0");
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
		cr_assert_eq(plan(s, limit, 0, 1, NULL, 0, NULL, 0), 0);
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
		cr_assert_eq(plan(s, limit, 0, 1, NULL, 0, NULL, 0), 0);
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
	cr_assert_eq(plan(s, 25, 0, 1, NULL, 0, NULL, 0), 0);
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
	cr_assert_eq(plan(s, 25, 0, 1, NULL, 0, NULL, 0), 0);
	cr_expect_eq(waves_of_app(s, "legacy"), 0);
	cr_expect_eq(waves_of_app(s, "lab"), 0);
	cr_expect_eq(waves_of_app(s, "shop"), 1);
	cr_expect(warned(s, "legacy", "Retain"));
	cr_expect(warned(s, "lab", "Retire"));
	cr_expect(!warned(s, "shop", "split"), "a dependency on an app that stays is not a split");
	cairn__store__snapshot__free_unpacked(s, NULL);
}
