/* Shared helpers for the collector's read commands (hosts, host, deps, apps,
 * readiness, plan, ...): open the store, find a host or an application by
 * what a person typed, print aligned tables.
 *
 * Every command takes --state-dir DIR or -c FILE; query_open() turns those
 * into an open LMDB environment (<state_dir>/db) exactly like `serve` finds
 * it, so the commands work while serve runs (LMDB readers never block the
 * writer). Errors reaching a person say what was looked for and offer close
 * matches ("no host 'web-01' (did you mean 'web-1', 'web-10'?)"). */
#ifndef CAIRN_QUERY_H
#define CAIRN_QUERY_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "db.h"
#include "keys.h"
#include "store.h"
#include "store.pb-c.h"
#include "util.h"

/* Exit codes of the DESIGN contract. */
#define QUERY_EXIT_OK 0
#define QUERY_EXIT_FAIL 1
#define QUERY_EXIT_USAGE 2

struct query_ctx {
	struct collector_config cfg;
	struct db_env db;
	bool opened;
};

/* Where the store is: state_dir wins when not NULL; otherwise config_path (or
 * /etc/cairn/collector.conf when NULL and it exists) gives state_dir.
 * writable = false opens the environment read-only (no lock-file writes
 * beyond LMDB's reader table); true is for decision commands and snapshot
 * writes. Returns 0; -ENOENT when there is no store yet (eb says where it
 * looked and that `serve` creates it); -EINVAL for a bad config (exit 2). */
int query_open(struct query_ctx *q, const char *state_dir, const char *config_path,
	       bool writable, struct errbuf *eb);
void query_close(struct query_ctx *q);

/* One host as a person may name it. */
struct query_host {
	uint8_t id[KEY_PUBLIC_LEN];
	char id_hex[KEY_ID_HEX_LEN + 1];
	char fingerprint[KEY_FINGERPRINT_HEX_LEN + 1];
	char hostname[256];
};

/* All agents of the store (DB agents, hostname from DB hosts when reported),
 * sorted by id. *out is malloc'd; free() it. */
int query_hosts_list(MDB_txn *txn, const struct db_env *db, struct query_host **out, size_t *n,
		     struct errbuf *eb);

/* Finds a host by full id, id prefix (>= 4 hex digits), fingerprint (prefix),
 * hostname or fqdn (case-insensitive). -ENOENT with close matches in eb,
 * -EEXIST when the text matches several hosts (eb lists them). */
int query_find_host(MDB_txn *txn, const struct db_env *db, const char *needle,
		    struct query_host *out, struct errbuf *eb);

/* The same over an already loaded list (no LMDB). Returns the index. */
int query_match_host(const struct query_host *hosts, size_t n, const char *needle, size_t *idx,
		     struct errbuf *eb);

/* Finds an application of snap by id, id prefix or name (case-insensitive).
 * -ENOENT with close matches, -EEXIST when ambiguous. */
int query_find_app(const Cairn__Store__Snapshot *snap, const char *needle, size_t *idx,
		   struct errbuf *eb);

/* Close matches: appends up to 3 of cands[] within a small edit distance of
 * needle to out as "'a', 'b'"; returns how many were appended. */
size_t query_suggest(const char *needle, const char *const *cands, size_t n, char *out,
		     size_t outn);

/* Map nodes by id (binary search over a sorted copy of the pointers). */
struct query_nodes {
	const Cairn__Store__MapNode **sorted;
	size_t n;
};

int query_nodes_index(struct query_nodes *ix, const Cairn__Store__DepMap *m);
/* NULL when no node has that id. */
const Cairn__Store__MapNode *query_nodes_get(const struct query_nodes *ix, const char *id);
void query_nodes_free(struct query_nodes *ix);

/* ---- tables for people ---- */

struct query_table;

/* A table with ncols columns titled by the NULL-terminated header strings. */
struct query_table *query_table_new(size_t ncols, const char *const headers[]);
/* Adds one row: ncols strings (NULL prints as "-"). Copies them. */
int query_table_row(struct query_table *t, const char *const cells[]);
/* printf-style convenience: the format makes the whole row with '\t'
 * separating cells. */
int query_table_rowf(struct query_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Right-aligns column col (numbers). */
void query_table_align_right(struct query_table *t, size_t col);
void query_table_print(const struct query_table *t, FILE *f);
void query_table_free(struct query_table *t);

/* ---- small formatting helpers ---- */

/* "2026-11-26 05:38" (UTC), "-" for 0. */
void query_fmt_time(int64_t ms, char *out, size_t n);
/* "1.5 GiB", "730 MiB", "12 KiB", "17 B". */
void query_fmt_bytes(uint64_t b, char *out, size_t n);
/* "3d ago", "5m ago", "now". */
void query_fmt_age(int64_t ms, int64_t now_ms, char *out, size_t n);

/* A JSON string (json_t *) of s: agents' strings are not checked for UTF-8
 * when stored, and jansson refuses invalid UTF-8 (a host would silently go
 * missing), so bytes that do not form UTF-8 become U+FFFD. NULL s = "".
 * NULL only when out of memory. */
void *query_json_str(const char *s);

/* Prints a jansson value (json_t *) to stdout with a trailing newline and
 * decrements its reference. Returns 0 or -ENOMEM. */
int query_print_json(void *json);

/* For commands: opens the store named by a parsed command line (common
 * options of common/cli.h: -c, --state-dir, -o). Prints "prog: message" to
 * stderr itself and returns the exit code to use on failure (1 or 2), or 0. */
struct cli;
int query_open_cli(struct query_ctx *q, struct cli *cli, bool writable);

#endif
