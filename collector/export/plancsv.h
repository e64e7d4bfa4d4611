/* The wave plan as CSV, for people to edit in a spreadsheet, and back:
 * `plan export` writes it, `plan import` reads the edited file and turns
 * every row whose wave differs from the current plan into a pin
 * (docs/exports.md "Wave plan CSV").
 *
 * Columns: Wave, Application, AppId, Hosts, Environment, Criticality, Score,
 * Confidence, Rules, Reasons, Pinned. One row per application, in wave order;
 * applications that do not move (Retire, Retain) last, with an empty Wave.
 * Reading needs Wave and AppId or Application (any order, other columns
 * ignored: they are for people). */
#ifndef CAIRN_PLANCSV_H
#define CAIRN_PLANCSV_H

#include <stdio.h>

#include "store.pb-c.h"
#include "util.h"

int plancsv_write(const Cairn__Store__Snapshot *snap, FILE *f, struct errbuf *eb);

struct plancsv_change {
	const char *app_id;       /* into the snapshot */
	const char *name;
	unsigned from, to;        /* current wave (0: none), the file's wave */
	unsigned line;
};

struct plancsv_result {
	struct plancsv_change *v; /* rows whose wave differs, in file order */
	size_t n;
	struct plancsv_change *same; /* usable rows whose wave is the current one */
	size_t nsame;
	size_t rows, unchanged, rejected;
};

/* Reads a plan CSV (buf, len; name for messages) against snap. Every row
 * that cannot be used is reported through report("FILE:LINE: column:
 * reason", arg) and counted in rejected; the others are compared with
 * snap's waves. -EINVAL (eb says why) when the file as a whole is unusable
 * (no header with Wave and AppId or Application, a broken quote), -ENOMEM.
 * Free with plancsv_result_free. */
typedef void (*plancsv_report_fn)(const char *msg, void *arg);
int plancsv_read(const Cairn__Store__Snapshot *snap, const char *buf, size_t len,
		 const char *name, plancsv_report_fn report, void *arg, struct plancsv_result *out,
		 struct errbuf *eb);
void plancsv_result_free(struct plancsv_result *r);

#endif
