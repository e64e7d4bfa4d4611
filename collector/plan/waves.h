/* Dependency-aware wave plan over a snapshot's applications and map.
 *
 * 1. Shared infrastructure applications (App.infrastructure) go first, in the
 *    first wave(s).
 * 2. The other applications are grouped: two applications whose hosts talk to
 *    each other (a map host edge between them) belong to one group, and a
 *    group moves in one wave (connected components, infrastructure excluded).
 * 3. People's pins (Decision WAVE_PIN: app -> wave) win; an unpinned group
 *    with a pinned member follows that pin.
 * 4. Groups are placed largest first into the first wave with room for all
 *    their hosts (first-fit decreasing, limit max_hosts).
 * 5. A group larger than the limit is split along its weakest couplings
 *    (apps taken in order of coupling strength from the most connected one);
 *    every dependency the split cuts is reported as a warning.
 * Applications whose readiness strategy (snap->readiness, kind "app") is
 * Retire or Retain do not move: they are in no wave, their dependencies do not
 * group others, and a plan note says so.
 * Each application gets one `why` line; docs/planning.md has an example. */
#ifndef CAIRN_WAVES_H
#define CAIRN_WAVES_H

#include <stddef.h>

#include "store.pb-c.h"

struct waves_pin {
	const char *app_id;
	unsigned wave;       /* >= 1 */
	const char *by;      /* who pinned it, for the why line */
};

/* Replaces snap->waves with the plan for snap->apps and snap->map; appends
 * warnings to snap->plan_notes too. 0 or -ENOMEM. */
int waves_compute(Cairn__Store__Snapshot *snap, const struct waves_pin *pins, size_t npins,
		  unsigned max_hosts);

/* The wave number of an app in snap->waves, 0 when none. */
unsigned waves_of_app(const Cairn__Store__Snapshot *snap, const char *app_id);

#endif
