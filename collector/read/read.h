/* The read layer: everything a read command, the web console or the API
 * gets from the store comes through here (or through estate.h, the host view,
 * and the analysis and planning functions that take a read transaction).
 *
 *  - one open context (struct read_ctx) per process;
 *  - a read transaction per thread (struct read_txn): every view is read
 *    through one, so a view is consistent in itself, and any thread can read
 *    with its own transaction while `serve` writes;
 *  - typed, owned views: agents, perf series, edge records, migration
 *    statuses, snapshots. Owned = unpacked copies that stay valid after the
 *    transaction ends; each has its _free;
 *  - lookups by what a person typed (hosts, applications) with close matches;
 *  - decisions are written through decide.h (one helper over db_write).
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
#include "cairn.pb-c.h"
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

/* ---- transactions ---- */

/* A read transaction of the calling thread (LMDB: one per thread at a time). */
struct read_txn {
	MDB_txn *txn;
	const struct db_env *db;
};

/* Begins one. -errno / LMDB error with eb saying what failed. */
int read_begin(const struct read_ctx *r, struct read_txn *t, struct errbuf *eb);
void read_end(struct read_txn *t);

/* ---- agents ---- */

/* One agent record with what the listing commands show beside it. */
struct read_agent {
	uint8_t id[KEY_PUBLIC_LEN];
	char id_hex[KEY_ID_HEX_LEN + 1];
	char fingerprint[KEY_FINGERPRINT_HEX_LEN + 1];
	Cairn__Store__Agent *agent;       /* never NULL */
	Cairn__Store__HostFacts *facts;   /* READ_AGENT_FACTS; NULL before the first HostInfo */
	Cairn__CollectorHealth *health;   /* READ_AGENT_HEALTH; NULL when none reported */
	uint64_t perf_windows;            /* READ_AGENT_COUNTS: stored perf windows */
	uint64_t edge_records;            /* READ_AGENT_COUNTS: stored edge-day records */
	/* READ_AGENT_IMPORTS: the host's import (DB imports), NULL when none */
	Cairn__Store__ImportedServer *import;
	bool imported_only;               /* no agent: agent is a stand-in (hostname only) */
};

struct read_agents {
	struct read_agent *v;
	size_t n;
	size_t undecodable;               /* agent records skipped: they did not decode */
};

enum {
	READ_AGENT_FACTS = 1 << 0,
	READ_AGENT_HEALTH = 1 << 1,
	READ_AGENT_COUNTS = 1 << 2,
	/* also the imported-only hosts (after the agents, in id order), and every
	 * host's import record: the host lists; `agents` leaves it out */
	READ_AGENT_IMPORTS = 1 << 3,
};

/* "agent", "import" or "agent+import": where a host is known from. */
const char *read_agent_source(const struct read_agent *ra);

/* Every agent record, in id order, with what `what` asks for. */
int read_agents(const struct read_txn *t, unsigned what, struct read_agents *out,
		struct errbuf *eb);
void read_agents_free(struct read_agents *a);

/* The latest CollectorHealth of one agent (malloc'd: free with
 * cairn__collector_health__free_unpacked(h, NULL)), NULL when none. */
Cairn__CollectorHealth *read_agent_health(const struct read_txn *t,
					  const uint8_t id[static KEY_PUBLIC_LEN]);

/* ---- series ---- */

/* The memory a series is unpacked into: blocks handed out in order and
 * taken back all at once, kept from one host's series to the next (an
 * export reads host after host without a malloc and free per value). */
struct read_arena {
	uint8_t **block;
	size_t *cap;
	size_t nblock, cur, used;
};

/* Perf windows of one host that start in [since_ms, until_ms) (0 = unbounded),
 * in time order. out starts zeroed; a later call reuses its memory and drops
 * the windows of the one before. read_perf_free releases everything. */
struct read_perf {
	Cairn__PerfWindow **v;
	size_t n;
	struct read_arena arena;
};
int read_perf_series(const struct read_txn *t, const uint8_t id[static KEY_PUBLIC_LEN],
		     int64_t since_ms, int64_t until_ms, struct read_perf *out, struct errbuf *eb);
void read_perf_free(struct read_perf *p);

/* The edge records of a period, one agent at a time: whole UTC weeks from
 * DB edges_week (from the first week that starts at or after the period's
 * first whole day and that the week rollups cover, meta "weeks_from"), days
 * from DB edges for the rest. Each value goes to fn(ctx, key, value) in key
 * order, the days first; a nonzero return of fn stops the walk and is
 * returned. A week record is the days' records of its week merged the way
 * ingest merges windows (sums, min first seen, max last seen), so whoever
 * sums and min/maxes the records of the period gets the same answer either
 * way; a record's first/last seen then span its week. */
typedef int (*read_edge_fn)(void *ctx, const MDB_val *key, const MDB_val *val);
struct read_edge_walk {
	MDB_cursor *days, *weeks;
	uint32_t weeks_from;        /* UINT32_MAX: days only */
	uint64_t records;           /* values handed to fn */
};
/* use_weeks false reads days only (the result is the same; for tests and
 * benchmarks that compare). */
int read_edge_walk_open(struct read_edge_walk *w, MDB_txn *txn, const struct db_env *env,
			bool use_weeks);
int read_edge_walk_agent(struct read_edge_walk *w, const uint8_t id[static 32], int64_t since_ms,
			 read_edge_fn fn, void *ctx);
void read_edge_walk_close(struct read_edge_walk *w);
/* The records of hosts ids[0..n), in that order, handed to fn with the
 * host's index. With more than one CPU and many hosts a second thread walks
 * the cursors ahead of fn (the values fn sees are copies, valid during the
 * call); fn must not use the walk's transaction meanwhile. fn's non-zero
 * result stops the walk and is returned. */
typedef int (*read_edge_host_fn)(void *ctx, uint32_t host, const MDB_val *key, const MDB_val *val);
int read_edge_walk_hosts(struct read_edge_walk *w, const uint8_t (*ids)[32], size_t n,
			 int64_t since_ms, read_edge_host_fn fn, void *ctx);

/* The fields of a stored EdgeDay (day or week record) that the map and the
 * host view read, decoded from its bytes without unpacking it: strings point
 * into the value (length n, cut at a NUL as the unpacked string would be),
 * absent fields are 0 / empty. false when the value does not decode. */
struct read_str {
	const char *p;
	size_t n;
};
struct read_edge_view {
	bool has_edge;
	uint32_t windows;
	uint32_t direction, protocol, local_port, remote_port;
	int64_t first_seen_ms, last_seen_ms;
	uint64_t samples_seen, bytes_sent, bytes_received;
	uint64_t connections_opened, short_lived, datagrams_sent, datagrams_received;
	bool bytes_unknown;
	struct read_str process_name, identity, remote_address, peer_process_name, peer_identity;
};
bool read_edge_view(const MDB_val *v, struct read_edge_view *out);

/* Edge-day records of one host from the UTC day of since_ms to the days
 * starting before until_ms (0 = unbounded), in key order (day, edge hash).
 * Memory as for read_perf_series. */
struct read_edges {
	Cairn__Store__EdgeDay **v;
	size_t n;
	struct read_arena arena;
};
int read_edge_days(const struct read_txn *t, const uint8_t id[static KEY_PUBLIC_LEN],
		   int64_t since_ms, int64_t until_ms, struct read_edges *out, struct errbuf *eb);
void read_edges_free(struct read_edges *e);

/* ---- migration statuses ---- */

/* The current status of every target (host id or app id) that has one. */
struct read_statuses {
	Cairn__Store__MigrationStatus **v;
	size_t n;
};
int read_statuses(const struct read_txn *t, struct read_statuses *out, struct errbuf *eb);
void read_statuses_free(struct read_statuses *s);

/* ---- audit log ---- */

/* Audit entries at or after since_ms, oldest first, at most max (0 = all). */
struct read_audit {
	Cairn__Store__AuditEntry **v;
	size_t n;
};
int read_audit(const struct read_txn *t, int64_t since_ms, size_t max, struct read_audit *out,
	       struct errbuf *eb);
void read_audit_free(struct read_audit *a);

/* ---- store size (cairn-collector store stats) ---- */

struct read_db_size {
	const char *name;
	uint64_t entries;
	uint64_t pages;            /* branch + leaf + overflow pages */
	uint64_t bytes;            /* pages x page size */
	uint32_t depth;
};

/* Key + value bytes of the dated entries of one UTC day: raw batches (by
 * receipt), perf windows, hour and day rollups, edge days. */
struct read_size_day {
	uint32_t day;
	uint64_t entries, bytes;
};

/* Key + value bytes of everything stored under one agent id. */
struct read_size_host {
	uint8_t id[KEY_PUBLIC_LEN];
	uint64_t entries, bytes;
};

struct read_store_size {
	struct read_db_size dbs[STORE_NDBS];
	uint64_t page_size;
	uint64_t map_bytes;        /* current map size */
	uint64_t used_bytes;       /* up to the last page in use */
	uint64_t free_pages;       /* on LMDB's free list, reused by later writes */
	uint64_t file_bytes;       /* data.mdb on disk (0 when stat fails) */
	struct read_size_day *days;   /* READ_SIZE_DAYS: ascending days */
	size_t ndays;
	struct read_size_host *hosts; /* READ_SIZE_HOSTS: by bytes, largest first */
	size_t nhosts;
};

enum {
	READ_SIZE_DAYS = 1 << 0,   /* walks the dated DBs */
	READ_SIZE_HOSTS = 1 << 1,  /* walks every agent-keyed DB */
};

/* Sizes from mdb_stat / mdb_env_info, plus per day and per host when asked
 * (those walk every entry of the DBs concerned: seconds for a big store). */
int read_store_size(const struct read_txn *t, unsigned what, struct read_store_size *out,
		    struct errbuf *eb);
void read_store_size_free(struct read_store_size *s);

/* ---- snapshots ---- */

/* meta "facts_gen" (0 when never written): moves with every ingest
 * transaction; a snapshot records the value it was computed from. */
uint64_t read_facts_gen(MDB_txn *txn, const struct db_env *env);

/* The latest stored snapshot, unpacked (malloc'd). with_map = false skips
 * the map (nodes and edges), which is most of the bytes: for commands that
 * only need applications or the plan. -ENOENT when none is stored. */
int read_snapshot_latest(MDB_txn *txn, const struct db_env *env, bool with_map,
			 Cairn__Store__Snapshot **out, struct errbuf *eb);

/* What the history needs of a packed Snapshot, read without unpacking it:
 * facts_gen (3), computed_ms (2) and whether it holds the map (5).
 * -EBADMSG when the value does not parse. */
struct read_snapshot_head {
	uint64_t facts_gen;
	int64_t computed_ms;
	bool has_map;
};
int read_snapshot_head(const MDB_val *v, struct read_snapshot_head *h);

/* An encoded Snapshot without its map (field 5) into out (>= len bytes):
 * the new length, or -EBADMSG. For the thinned history. */
long read_snapshot_strip_map(const uint8_t *in, size_t len, uint8_t *out);

/* Calls fn for every stored snapshot, oldest first (without the map unless
 * with_map). fn owns nothing: the snapshot is freed after it returns; a
 * non-zero return stops the walk and is returned. */
int read_snapshots_each(const struct read_txn *t, bool with_map,
			int (*fn)(const Cairn__Store__Snapshot *s, void *arg), void *arg,
			struct errbuf *eb);

/* ---- hosts by name ---- */

/* One host as a person may name it. */
struct read_host {
	uint8_t id[KEY_PUBLIC_LEN];
	char id_hex[KEY_ID_HEX_LEN + 1];
	char fingerprint[KEY_FINGERPRINT_HEX_LEN + 1];
	char hostname[256];
	bool refused;  /* its agent key was rejected or revoked: not a host people mean */
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

/* read_find_host in a read transaction of its own. */
int read_lookup_host(const struct read_ctx *r, const char *needle, struct read_host *out,
		     struct errbuf *eb);

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
