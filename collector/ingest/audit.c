#include "audit.h"

#include "store.h"

int audit_append(MDB_txn *txn, const struct db_env *env, int64_t now_ms, const char *user,
		 const char *action, const char *target, const char *detail)
{
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_AUDIT], &cur);
	if (rc)
		return rc;
	/* the next counter of this millisecond: writers of one transaction
	 * (grouped reports) may come with times out of order, so look at this
	 * millisecond's entries rather than the last one */
	uint32_t counter = 0;
	struct db_key key;
	db_key_init(&key);
	db_key_u64(&key, (uint64_t)now_ms);
	db_key_u32(&key, 0);
	MDB_val k = db_key_val(&key), v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && k.mv_size == 12 &&
	     db_get_u64(k.mv_data) == (uint64_t)now_ms;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		counter = db_get_u32((const uint8_t *)k.mv_data + 8) + 1;
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	db_key_init(&key);
	db_key_u64(&key, (uint64_t)now_ms);
	db_key_u32(&key, counter);
	Cairn__Store__AuditEntry e = CAIRN__STORE__AUDIT_ENTRY__INIT;
	e.time_ms = now_ms;
	e.user = (char *)user;
	e.action = (char *)action;
	e.target = (char *)target;
	e.detail = (char *)(detail ? detail : "");
	return store_put_msg(txn, env->dbi[STORE_AUDIT], &key, &e.base);
}
