/* Shared helpers for the collector's read commands (hosts, host, deps, apps,
 * readiness, plan, ...): open the store, find a host or an application by
 * what a person typed, print aligned tables.
 *
 * Every command takes --state-dir DIR or -c FILE; read_open() turns those
 * into an open LMDB environment (<state_dir>/db) exactly like `serve` finds
 * it, so the commands work while serve runs (LMDB readers never block the
 * writer). Errors reaching a person say what was looked for and offer close
 * matches ("no host 'web-01' (did you mean 'web-1', 'web-10'?)"). */
#ifndef CAIRN_READ_H
#define CAIRN_READ_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "keys.h"
#include "store.h"
#include "store.pb-c.h"
#include "util.h"

struct read_ctx {
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
int read_open(struct read_ctx *q, const char *state_dir, const char *config_path,
	       bool writable, struct errbuf *eb);
/* The same from an already loaded configuration (the command line's). */
int read_open_config(struct read_ctx *r, const struct collector_config *cfg, bool writable,
		     struct errbuf *eb);
void read_close(struct read_ctx *r);

/* One host as a person may name it. */
struct read_host {
	uint8_t id[KEY_PUBLIC_LEN];
	char id_hex[KEY_ID_HEX_LEN + 1];
	char fingerprint[KEY_FINGERPRINT_HEX_LEN + 1];
	char hostname[256];
};

/* All agents of the store (DB agents, hostname from DB hosts when reported),
 * sorted by id. *out is malloc'd; free() it. */
int read_hosts_list(MDB_txn *txn, const struct db_env *db, struct read_host **out, size_t *n,
		     struct errbuf *eb);

/* Finds a host by full id, id prefix (>= 4 hex digits), fingerprint (prefix),
 * hostname or fqdn (case-insensitive). -ENOENT with close matches in eb,
 * -EEXIST when the text matches several hosts (eb lists them). */
int read_find_host(MDB_txn *txn, const struct db_env *db, const char *needle,
		    struct read_host *out, struct errbuf *eb);

/* The same over an already loaded list (no LMDB). Returns the index. */
int read_match_host(const struct read_host *hosts, size_t n, const char *needle, size_t *idx,
		     struct errbuf *eb);

/* Finds an application of snap by id, id prefix or name (case-insensitive).
 * -ENOENT with close matches, -EEXIST when ambiguous. */
int read_find_app(const Cairn__Store__Snapshot *snap, const char *needle, size_t *idx,
		   struct errbuf *eb);

/* Close matches: appends up to 3 of cands[] within a small edit distance of
 * needle to out as "'a', 'b'"; returns how many were appended. */
size_t read_suggest(const char *needle, const char *const *cands, size_t n, char *out,
		     size_t outn);

/* Map nodes by id (binary search over a sorted copy of the pointers). */
struct read_nodes {
	const Cairn__Store__MapNode **sorted;
	size_t n;
};

int read_nodes_index(struct read_nodes *ix, const Cairn__Store__DepMap *m);
/* NULL when no node has that id. */
const Cairn__Store__MapNode *read_nodes_get(const struct read_nodes *ix, const char *id);
void read_nodes_free(struct read_nodes *ix);

#endif
