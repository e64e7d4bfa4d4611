/* Decisions: the one way a command, the web console or the API writes to the
 * store. A decision (an application renamed or pinned, a migration status, a
 * wave pin, an enrollment) runs fn inside one durable write transaction
 * through db_write, so every decision gets its contract: MDB_MAP_FULL grows
 * the map and replays fn, a failure aborts everything fn wrote, and the
 * commit is fsync'd before decide_write returns. fn writes the audit entry
 * (audit_append) in the same transaction, so a decision and its audit line
 * are stored together or not at all. */
#ifndef CAIRN_DECIDE_H
#define CAIRN_DECIDE_H

#include <lmdb.h>

#include "db.h"
#include "read.h"
#include "util.h"

/* fn(txn, env, arg): 0 to commit, anything else aborts and is returned. */
typedef int (*decide_fn)(MDB_txn *txn, const struct db_env *env, void *arg);

/* Runs fn in a write transaction of r (opened writable). Returns 0, fn's
 * error, or an LMDB error; eb (may be NULL) says what failed when fn did not
 * already say it. Call it with no read transaction of this thread open. */
int decide_write(struct read_ctx *r, decide_fn fn, void *arg, struct errbuf *eb);

#endif
