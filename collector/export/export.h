/* Exports for the tools migration teams use (docs/exports.md):
 *   mhub-csv  AWS Migration Hub import template (one row per host), split
 *             into files of at most max_records rows and max_bytes bytes
 *   ads-csv   AWS Application Discovery agent export files (osInfo,
 *             networkInterface, process, sourceProcessConnection,
 *             destinationProcessConnection, systemPerformance)
 *   json      the whole inventory in one documented schema
 *   dot       the dependency map (Graphviz), one cluster per application
 * All CSV is RFC 4180 (csv.h). The functions are pure over their input, so
 * tests feed a fixed synthetic estate and compare with golden files. */
#ifndef CAIRN_EXPORT_H
#define CAIRN_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn.pb-c.h"
#include "estate.h"
#include "store.pb-c.h"
#include "util.h"

/* Per-host series read while the export writes, one host at a time, so an
 * export holds one host's windows and edges at once (constant memory in the
 * number of days). load fills the host's arrays (n = 0 for none); release is
 * called after the host's rows are written. */
struct export_series {
	int (*load)(void *ctx, size_t host, Cairn__PerfWindow ***windows, size_t *nwindows,
		    Cairn__Store__EdgeDay ***edges, size_t *nedges, struct errbuf *eb);
	void (*release)(void *ctx, size_t host);
	void *ctx;
};

struct export_input {
	const Cairn__Store__Snapshot *snap;   /* map, apps, readiness, sizing, waves */
	const struct estate *estate;          /* facts of every host */
	/* Perf windows per host (same order as estate->hosts), for
	 * systemPerformance; NULL: one row per host from the period's averages. */
	Cairn__PerfWindow ***windows;
	size_t *nwindows;
	/* Edges per host, for the ADS connection files; NULL: from the map. */
	Cairn__Store__EdgeDay ***edges;
	size_t *nedges;
	/* Instead of the arrays above: read per host while writing (ads-csv). */
	const struct export_series *series;
	Cairn__Store__MigrationStatus **statuses;
	size_t nstatuses;
	int64_t generated_ms;
	bool without_infra;   /* dot: leave shared infrastructure out */
	/* Called after each host with (hosts done, hosts in all); NULL = none.
	 * The command line shows a progress line with it on a terminal. */
	void (*progress)(size_t done, size_t total, void *arg);
	void *progress_arg;
};

#define EXPORT_MHUB_MAX_RECORDS 25000
#define EXPORT_MHUB_MAX_BYTES (10u * 1000 * 1000)

/* Writes path (or path-1.csv, path-2.csv ... when the limits force a split:
 * "x.csv" -> "x-1.csv"); each file has the header. The names written go to
 * *files (malloc'd array of malloc'd strings) when files is not NULL. */
int export_mhub_csv(const struct export_input *in, const char *path, size_t max_records,
		    size_t max_bytes, char ***files, size_t *nfiles, struct errbuf *eb);

/* Writes DIR/osInfo.csv, networkInterface.csv, process.csv,
 * sourceProcessConnection.csv, destinationProcessConnection.csv,
 * systemPerformance.csv (DIR is created). */
int export_ads_csv(const struct export_input *in, const char *dir, struct errbuf *eb);

int export_json(const struct export_input *in, FILE *f, struct errbuf *eb);
int export_dot(const struct export_input *in, FILE *f, struct errbuf *eb);

void export_files_free(char **files, size_t n);

#endif
