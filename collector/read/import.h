/* Importing servers without agents (docs/import.md).
 *
 * Two steps, so --dry-run is the first alone:
 *
 *  1. parse: an mhub-csv file (the Migration Hub import template; the columns
 *     `export mhub-csv` writes) or an RVTools CSV directory into rows of
 *     store.ImportFacts. A row that fails a check is rejected with
 *     "FILE:LINE: column: reason" and the others are kept.
 *  2. apply: each row is matched against the store's hosts (agent hosts by
 *     SMBIOS id, MAC or hostname+IP; imported hosts also by ExternalId and by
 *     their own id, which is what `export mhub-csv` writes as ExternalId) and
 *     becomes new / updated / unchanged / merged (into an agent host) or is
 *     rejected as a conflict (one row matching two agent hosts, two rows one
 *     host). Unless dry_run, the changes are written in a few durable
 *     transactions (IMPORT_TXN_ROWS rows each) through decide_write, each
 *     bumping facts_gen, the first with the import's one audit entry; nothing
 *     is written when nothing changed. A row of cairn's own export
 *     (cairn_export) takes the stored Applications and wave into its facts
 *     while matching. */
#ifndef CAIRN_IMPORT_H
#define CAIRN_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "read.h"
#include "store.pb-c.h"
#include "util.h"

#define IMPORT_FIELD_MAX 1024      /* bytes in one cell */
#define IMPORT_FILE_MAX (1u << 30) /* bytes of one file */
#define IMPORT_TXN_ROWS 25000
#define IMPORTS_MATCH_MAX 160

struct import_row {
	unsigned line;
	Cairn__Store__ImportFacts *facts;  /* malloc'd */
	Cairn__Store__ImportField **raw;   /* the row's non-empty cells */
	size_t nraw;
	/* a row of cairn's own `export mhub-csv` (Tags source:cairn): its
	 * Applications and ApplicationWave are the computed plan, not facts; the
	 * stored ones are kept */
	bool cairn_export;
};

struct import_file {
	char *path;          /* the file (mhub-csv) or directory (rvtools) */
	char *rows_file;     /* the file the rows' lines are in (rvtools: vInfo.csv) */
	const char *format;  /* "mhub-csv", "rvtools" */
	struct import_row *rows;
	size_t n, cap;
	size_t lines;        /* data rows read, kept or not */
	char **errors;       /* rejected rows: "FILE:LINE: column: reason" */
	size_t nerrors;
	char **notes;        /* unknown columns ignored, files missing ... */
	size_t nnotes;
};

/* Parses buf (a whole mhub-csv file; name for messages). -EINVAL (eb) when
 * the file as a whole is unusable (no header, no identity column, broken
 * quoting); rejected rows land in out->errors. */
int import_parse_mhub(const char *buf, size_t len, const char *name, struct import_file *out,
		      struct errbuf *eb);
int import_load_mhub(const char *path, struct import_file *out, struct errbuf *eb);
/* dir holds vInfo.csv (required) and vCPU, vMemory, vDisk, vNetwork .csv,
 * each with or without the "RVTools_tab" prefix. */
int import_load_rvtools(const char *dir, struct import_file *out, struct errbuf *eb);
void import_file_free(struct import_file *f);

enum import_outcome {
	IMPORT_NEW,        /* an imported host of its own, not seen before */
	IMPORT_UPDATED,    /* a stored import whose facts changed */
	IMPORT_UNCHANGED,
	IMPORT_MERGED,     /* newly merged into an agent host */
	IMPORT_REJECTED,   /* a conflict found while matching */
	IMPORT_NOUTCOMES
};

const char *import_outcome_name(enum import_outcome o);

struct import_change {
	unsigned line;
	enum import_outcome what;
	uint8_t host[32];
	char host_hex[65];
	char name[128];          /* the row's host name (or VM name, ExternalId) */
	char agent_name[128];    /* merged: the agent host's name */
	char matched_by[IMPORTS_MATCH_MAX];  /* "MAC 52:54:00:..", "SMBIOS id ..", "id" */
	bool merged;             /* the target is an agent host (new or not) */
	size_t folded;           /* imported-only hosts folded into the agent host */
};

struct import_result {
	struct import_change *v;
	size_t n;
	size_t count[IMPORT_NOUTCOMES];  /* REJECTED includes the parse rejections */
	char **conflicts;                /* "FILE:LINE: column: reason" of matching */
	size_t nconflicts;
	bool written;                    /* something was committed */
	uint64_t facts_gen;              /* after the import (0 when nothing written) */
};

/* Matches f's rows against the store of r and, unless dry_run, writes the
 * changes (r opened writable). by is the OS user for the audit entry. */
int import_apply(struct read_ctx *r, const struct import_file *f, bool dry_run, const char *by,
		 int64_t now_ms, struct import_result *out, struct errbuf *eb);
void import_result_free(struct import_result *res);

#endif
