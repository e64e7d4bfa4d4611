/* The audit log (DB audit): every decision a person or a program makes about
 * the estate, with time and who. Entries are keyed time_ms | counter, so two
 * entries of one millisecond keep both, and a cursor reads them in order. */
#ifndef CAIRN_AUDIT_H
#define CAIRN_AUDIT_H

#include <lmdb.h>
#include <stdint.h>

#include "db.h"

/* Appends one entry in txn. detail may be NULL. Returns 0 or an LMDB error. */
int audit_append(MDB_txn *txn, const struct db_env *env, int64_t now_ms, const char *user,
		 const char *action, const char *target, const char *detail);

#endif
