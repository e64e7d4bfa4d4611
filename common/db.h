/* LMDB helpers: an environment with named DBs, write transactions that grow
 * the map when it is full, and big-endian composite keys.
 *
 * Values read from the database are valid only until the end of the read
 * transaction that returned them: copy or unpack them before mdb_txn_abort. */
#ifndef CAIRN_DB_H
#define CAIRN_DB_H

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define DB_MAX_DBS 32
#define DB_KEY_MAX 511 /* LMDB's default max key size */

/* db_open's answer for a data file it refuses to map: empty, not an LMDB
 * file, shorter than its own meta pages claim, or unreadable (I/O error).
 * Mapping such a file would crash the process (SIGBUS) on first access. */
#define DB_ERR_DAMAGED (-EUCLEAN)

struct db_env {
	MDB_env *env;
	MDB_dbi dbi[DB_MAX_DBS];
	const char *const *names; /* as given to db_open (not copied) */
	size_t ndbs;
	size_t map_size; /* current map size (grows) */
	size_t map_max;  /* growth stops here: MDB_MAP_FULL is then returned */
	unsigned flags;  /* as given to db_open, plus MDB_NOTLS (and MDB_NORDAHEAD: db_readahead_wanted) */
	char path[4096];
	/* Remapping (growth, or adopting another process's growth) must not
	 * happen while this process has a read transaction open: LMDB unmaps
	 * the old map. db_read_begin/db_read_end count readers under this
	 * mutex; a resize waits for the count to reach zero. A mutex +
	 * condition rather than a rwlock because MDB_NOTLS lets a read txn end
	 * on another thread than the one that began it. */
	pthread_mutex_t write_lock; /* one db_write at a time in this process */
	pthread_mutex_t gate;
	pthread_cond_t gate_cond;
	unsigned readers;
	int resizing;
	uint64_t grow_count; /* how many times this process grew the map */
};

/* Opens (creating when missing) the environment directory path with the named
 * DBs, in the order given: e->dbi[i] is names[i]. flags are extra
 * mdb_env_open flags (e.g. MDB_RDONLY for readers, MDB_NOSUBDIR). Commits are
 * durable (fsync) unless the caller passes MDB_NOSYNC. MDB_NOTLS is always
 * added, so a read transaction may be used on another thread than the one that
 * began it. The directory is created 0700, the files 0600. map_max 0 means
 * "never grow beyond map_size". With MDB_RDONLY a missing named DB is an error
 * (-ENOENT, "not created yet"); otherwise missing DBs are created. Several
 * processes may open the same environment: one writer at a time (LMDB's lock),
 * any number of readers, also while a writer runs. Returns 0, a negative
 * errno, or an LMDB error code (MDB_*, also negative), message in eb. */
/* Whether db_open leaves the kernel's readahead on for a data file of
 * file_bytes on a machine of memory_bytes: only while the file fits in
 * memory. A larger store is read at random (a host's records, the ends of a
 * period) and readahead would fill the page cache with the neighbours of
 * every page read, evicting the pages the next read needs: LMDB's
 * MDB_NORDAHEAD (madvise MADV_RANDOM) then. docs/storage.md "Readahead". */
bool db_readahead_wanted(uint64_t file_bytes, uint64_t memory_bytes);

int db_open(struct db_env *e, const char *path, const char *const names[], size_t ndbs,
	    size_t map_size, size_t map_max, unsigned flags, struct errbuf *eb);
void db_close(struct db_env *e);

/* Runs fn inside a write transaction and commits it. When fn or the commit
 * returns MDB_MAP_FULL, the transaction is aborted, the map grown (x2, then x4,
 * x8 ... on further replays of the same call; never beyond map_max) and fn run
 * again from scratch: fn must not have effects outside the
 * transaction that a second run would repeat. Growing waits until this
 * process has no read transaction open, so never call db_write while the
 * calling thread holds one from the same env. Returns fn's non-zero result
 * (transaction aborted), an LMDB error, or 0 after a durable commit. */
typedef int (*db_txn_fn)(MDB_txn *txn, void *arg);
int db_write(struct db_env *e, db_txn_fn fn, void *arg);

/* Begins a read-only transaction, adopting a map grown by another process
 * (MDB_MAP_RESIZED) transparently. End it with db_read_end(), NOT
 * mdb_txn_abort(): the env counts open readers so that growing the map never
 * unmaps memory a reader still uses (a reader ended with mdb_txn_abort would
 * make the next growth in this process wait forever). A thread must not begin
 * a second read transaction while it holds one: a growth waiting in between
 * would deadlock. Returns 0 or an LMDB error. */
int db_read_begin(struct db_env *e, MDB_txn **txn);
/* Aborts a read transaction from db_read_begin (txn may be NULL: no-op). */
void db_read_end(struct db_env *e, MDB_txn *txn);

/* Looks name up in the names given to db_open: its dbi, or -ENOENT. */
int db_dbi(const struct db_env *e, const char *name, MDB_dbi *out);

/* Human text for an LMDB error code or an errno value (either sign). */
const char *db_strerror(int rc);

/* Composite keys, big-endian so that ranges iterate in order. */
struct db_key {
	uint8_t b[DB_KEY_MAX];
	size_t len;
	int overflow; /* set when an append did not fit; the key is then unusable */
};

void db_key_init(struct db_key *k);
void db_key_u8(struct db_key *k, uint8_t v);
void db_key_u32(struct db_key *k, uint32_t v);
void db_key_u64(struct db_key *k, uint64_t v);
void db_key_bytes(struct db_key *k, const void *p, size_t n);
void db_key_str(struct db_key *k, const char *s); /* without the NUL */
MDB_val db_key_val(const struct db_key *k);

uint32_t db_get_u32(const uint8_t *p);
uint64_t db_get_u64(const uint8_t *p);
void db_put_u32(uint8_t *p, uint32_t v);
void db_put_u64(uint8_t *p, uint64_t v);

#endif
