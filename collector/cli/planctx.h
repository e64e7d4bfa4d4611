/* What the planning commands (readiness, sizing, cost, plan, progress,
 * validate, export) share: their common options, the open store and a
 * snapshot whose plan matches those options.
 *
 * The stored snapshot's plan is used as it is when the options are the
 * defaults; with any planning option given (--mode, --percentile, --comfort,
 * --since, --catalog, --max-hosts, or config key `catalog`) the plan is
 * recomputed over the stored map and applications in one read transaction and
 * printed, not stored. */
#ifndef CAIRN_PLANCTX_H
#define CAIRN_PLANCTX_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "plan.h"
#include "read.h"
#include "snapshot.h"
#include "store.pb-c.h"
#include "tags.h"

enum {
	PLANCTX_OPT_MODE = CLI_OPT_USER + 0x40,
	PLANCTX_OPT_PERCENTILE,
	PLANCTX_OPT_COMFORT,
	PLANCTX_OPT_SINCE,
	PLANCTX_OPT_CATALOG,
	PLANCTX_OPT_MAX_HOSTS,
	PLANCTX_OPT_HISTORY,
	PLANCTX_OPT_OUTPUT,
	PLANCTX_OPT_PROGRESS,
	PLANCTX_OPT_NOTE,
	PLANCTX_OPT_FRESH,
	PLANCTX_OPT_LEVEL,
	PLANCTX_OPT_APP,
	PLANCTX_OPT_WITH_INFRA,
	PLANCTX_OPT_UNTIL,
	PLANCTX_OPT_TAG,
};

struct planctx {
	struct cli cli;
	struct read_ctx rd;        /* rd.cfg: the configuration; rd.db: the store */
	struct plan_options opt;
	bool custom;             /* a planning option was given: recompute */
	const char *history;     /* --history TARGET */
	const char *output;      /* -o PATH */
	int progress;            /* --progress N, -1 when absent */
	const char *note;        /* --note TEXT */
	bool fresh;              /* --fresh: recompute even with default options */
	const char *level;       /* export graphs: --level host|service|app */
	const char *app;         /* --app A: readiness, sizing, cost rows; export graphs and html */
	bool with_infra;         /* export graphs: keep shared infrastructure */
	bool app_filters;        /* set by the commands that apply --app (else refused) */
	char app_id[128];        /* --app resolved (planctx_keep), "" before */
	size_t app_at;           /* its index in snap->apps when resolved (checked before use) */
	uint64_t since_dur_ms;   /* --since DUR, applied relative to --until */
	char catalog[4096];
	struct tags_filter tagf;   /* --tag KEY=VALUE (repeatable): applied by planctx_snapshot */
	struct tags_all tags;      /* loaded with --tag */
	Cairn__Store__Snapshot *snap;
};

/* Parses argv with the common options and the planning options above.
 * Returns CLI_CONTINUE or an exit code (0 after --help, 2 on usage errors). */
int planctx_parse(struct planctx *p, int argc, char *argv[], void (*usage)(FILE *f));
/* Prints the planning options for usage texts. */
void planctx_usage_options(FILE *f);

/* Loads the configuration and opens the store. Returns 0 or the exit code
 * (message already printed). */
int planctx_open(struct planctx *p, bool writable);
/* p->snap: the latest snapshot with its map, the plan recomputed when needed;
 * with --tag, only the matching hosts' and applications' rows stay in it
 * (snapshot_keep; the plan is made for the whole estate first). Returns 0 or
 * exit code 1 (message printed). */
int planctx_snapshot(struct planctx *p);
void planctx_close(struct planctx *p);

/* --app: resolves the application once the snapshot is there. Returns 0
 * (also without --app) or the exit code (message printed: 3 not found). */
int planctx_app_filter(struct planctx *p);
/* Whether a row of host_or_app (an agent id or app id; app_id: the host's
 * application, may be NULL) passes --app. */
bool planctx_keep(const struct planctx *p, const char *target, const char *app_id);
/* Removes the --app-filtered entries of a JSON array of rows (objects with
 * target_key, and app_key when not NULL). */
void planctx_keep_json(const struct planctx *p, json_t *rows, const char *target_key,
		       const char *app_key);

/* Resolves what a person typed to a host id (hex) or app id in p->snap:
 * host by id/prefix/name, else app by id/name. *is_app tells which. Prints an
 * error with close matches and returns exit code 1 when nothing matches. */
int planctx_resolve(struct planctx *p, const char *needle, char *id, size_t n, bool *is_app);

#endif
