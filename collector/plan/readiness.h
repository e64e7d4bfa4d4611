/* Readiness per host and per application: category, score, confidence,
 * reason codes, strategy and the reasons that chose it. Pure functions of an
 * estate_host (plus its sizing and peer count); every rule and threshold comes
 * from collector/plan/rules.c. */
#ifndef CAIRN_READINESS_H
#define CAIRN_READINESS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "estate.h"
#include "sizing.h"
#include "store.pb-c.h"
#include "util.h"

struct readiness_os {
	char id[32];          /* os-release ID */
	char version[32];     /* "12", "22.04", "9-stream", "2018.03" */
	char name[96];
	int64_t eol_ms;       /* end of standard support (start of that day, UTC) */
	int64_t eoes_ms;      /* end of extended support; 0 = none */
	char eol[11], eoes[11];
};

struct readiness_lifecycle {
	struct readiness_os *v;
	size_t n;
	char path[PATH_MAX];
	char as_of[16];       /* from a "# as_of: YYYY-MM-DD" line, "" when absent */
};

/* os-lifecycle.csv: os_id,version,name,end_of_standard_support,
 * end_of_extended_support; '#' lines are comments. Errors name file:line. */
int readiness_lifecycle_load(const char *path, struct readiness_lifecycle *lc, struct errbuf *eb);
int readiness_lifecycle_parse(const char *buf, size_t len, const char *name,
			      struct readiness_lifecycle *lc, struct errbuf *eb);
void readiness_lifecycle_free(struct readiness_lifecycle *lc);

/* The row for an os-release (id, version_id, name, id_like): exact version,
 * then the major ("9.4" -> "9"), then major.minor ("3.19.1" -> "3.19"),
 * CentOS Stream as "N-stream"; then the same for each ID_LIKE word. NULL when
 * unknown. *via_like is set when matched through ID_LIKE. */
const struct readiness_os *readiness_os_find(const struct readiness_lifecycle *lc,
					     const Cairn__OsRelease *os, int *via_like);

struct readiness_ctx {
	const struct readiness_lifecycle *lifecycle;
	const struct sizing_catalog *catalog;
	int64_t since_ms, now_ms;
};

/* Readiness of one host. sizing may be NULL (no too-large checks); peers =
 * distinct other nodes it talks to in the map. The result is malloc'd (free
 * with cairn__store__readiness__free_unpacked(r, NULL)). -ENOMEM only. */
int readiness_host(const struct readiness_ctx *ctx, const struct estate_host *h,
		   const Cairn__Store__Sizing *sizing, size_t peers,
		   Cairn__Store__Readiness **out);

/* Readiness of an application from its hosts' results (hosts[i] is the
 * readiness of app->hosts[i], NULL when that host is unknown) and the number of
 * other applications/external endpoints it depends on. */
int readiness_app(const Cairn__Store__App *app, const Cairn__Store__Readiness *const *hosts,
		  size_t peers, Cairn__Store__Readiness **out);

/* "Ready", "Conditionally ready", "Not ready", "Unknown" from the reasons. */
const char *readiness_category(const Cairn__Store__Readiness *r);
/* Confidence 1..5 from coverage 0..1 (fifths, as Azure Migrate rates). */
unsigned readiness_confidence(double coverage);

#endif
