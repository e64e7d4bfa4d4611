/* Wave planning by ordered rules over a snapshot's applications and map
 * (docs/planning.md "Waves" has the rules, their precedence and an example).
 *
 * An application A depends on B when a host of A connects to a host of B
 * (map host edge from A's host to B's). Applications whose readiness strategy
 * (snap->readiness, kind "app") is Retire or Retain do not move: they are in
 * no wave, their connections constrain nothing, and a plan note says so.
 * Shared infrastructure's own connections to applications (monitoring,
 * backups) do not make it depend on them.
 *
 * The rules, in precedence order (a rule is relaxed only for one before it):
 *   pin               a person's WAVE_PIN places the application, whatever
 *                     it breaks (every broken rule is reported, naming both)
 *   two_way           applications that depend on each other, directly or
 *                     through a cycle, move in one wave
 *   whole_app         an application's hosts are never split (an application
 *                     larger than max_hosts gets a wave of its own)
 *   dependency_order  what an application depends on moves in the same or
 *                     an earlier wave
 *   env_order         dev/test (and staging) before prod (environment tag)
 *   env_separate      no wave holds both dev/test/staging and prod
 *   critical_late     criticality=high not in waves 1..critical_after
 *   infra_first       shared infrastructure fills the first waves
 *   wave_size         min_hosts..max_hosts hosts per wave
 * Waves are filled in order: each wave takes the applications every rule
 * allows there, dependencies first, dev/test before untagged before prod,
 * larger first. When no application can go anywhere (say a dev application
 * depends on a prod one) the lowest rule in the way is relaxed for one
 * application and the plan goes on; every rule not honored becomes a warning
 * on its wave and in plan_notes, and in the application's placement.
 *
 * Each wave gets a priority score 0..100 and a confidence 1..5 (formulas in
 * docs/planning.md), reasons, and per application a WavePlacement: the rules
 * that put it there and the ones it could not honor. */
#ifndef CAIRN_WAVES_H
#define CAIRN_WAVES_H

#include <stddef.h>

#include "store.pb-c.h"

struct waves_pin {
	const char *app_id;
	unsigned wave;       /* >= 1 */
	const char *by;      /* who pinned it, for the why line */
};

/* An application's environment and criticality tags (collector/read/tags.h:
 * its own, else what its hosts agree on); NULL or "" when untagged. */
struct waves_label {
	const char *app_id;
	const char *environment;  /* prod | staging | test | dev | other text */
	const char *criticality;  /* high | medium | low */
};

struct waves_opts {
	unsigned max_hosts;       /* hosts per wave; 0 = 1 */
	unsigned min_hosts;       /* fewest hosts per wave; 0 = no minimum */
	unsigned critical_after;  /* high criticality not in waves 1..N; 0 = rule off */
	const struct waves_pin *pins;
	size_t npins;
	const struct waves_label *labels;
	size_t nlabels;
};

/* The rules in precedence order, for usage texts and --explain. */
struct waves_rule {
	const char *code;
	const char *title;
};
extern const struct waves_rule waves_rules[];
extern const size_t waves_nrules;

/* Replaces snap->waves with the plan for snap->apps and snap->map, records
 * the options in snap->wave_*; appends warnings to snap->plan_notes too.
 * 0 or -ENOMEM. */
int waves_compute(Cairn__Store__Snapshot *snap, const struct waves_opts *o);

/* The wave number of an app in snap->waves, 0 when none. */
unsigned waves_of_app(const Cairn__Store__Snapshot *snap, const char *app_id);
/* The wave holding app_id and its placement there (NULL when in none; *pl
 * NULL for a snapshot made before the wave rules). */
const Cairn__Store__Wave *waves_find(const Cairn__Store__Snapshot *snap, const char *app_id,
				     const Cairn__Store__WavePlacement **pl);

#endif
