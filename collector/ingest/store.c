#include "store.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>

#include "config.h"
#include "util.h"
#include "store.pb-c.h"

const char *const store_db_names[STORE_NDBS] = {
	[STORE_AGENTS] = "agents",
	[STORE_BATCHES] = "batches",
	[STORE_GAPS] = "gaps",
	[STORE_HOSTS] = "hosts",
	[STORE_PERF] = "perf",
	[STORE_PROCS] = "procs",
	[STORE_LISTENERS] = "listeners",
	[STORE_PACKAGES] = "packages",
	[STORE_EDGES] = "edges",
	[STORE_ADDRS] = "addrs",
	[STORE_META] = "meta",
	[STORE_DECISIONS] = "decisions",
	[STORE_MIGRATION] = "migration",
	[STORE_MIGRATION_HIST] = "migration_hist",
	[STORE_AUDIT] = "audit",
	[STORE_SNAPSHOTS] = "snapshots",
	[STORE_HEALTH] = "health",
	[STORE_AGENT_NAMES] = "agent_names",
	[STORE_TOKENS] = "tokens",
	[STORE_PERF_DAY] = "perf_day",
	[STORE_PERF_HOUR] = "perf_hour",
	[STORE_TAGS] = "tags",
	[STORE_IMPORTS] = "imports",
	[STORE_IMPORT_KEYS] = "import_keys",
	[STORE_PROGRESS_TASKS] = "progress_tasks",
	[STORE_PERF_WEEK] = "perf_week",
	[STORE_EDGES_WEEK] = "edges_week",
};

int store_put_msg(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key,
		  const ProtobufCMessage *msg)
{
	if (key->overflow)
		return -EINVAL;
	MDB_val k = db_key_val(key);
	MDB_val v = { .mv_size = protobuf_c_message_get_packed_size(msg), .mv_data = NULL };
	int rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE);
	if (rc)
		return rc;
	protobuf_c_message_pack(msg, v.mv_data);
	return 0;
}

int store_get_msg_alloc(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key,
			const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
			ProtobufCMessage **out)
{
	MDB_val k = db_key_val(key), v;
	int rc = mdb_get(txn, dbi, &k, &v);
	if (rc)
		return rc;
	*out = protobuf_c_message_unpack(desc, alloc, v.mv_size, v.mv_data);
	return *out ? 0 : -EBADMSG;
}

int store_get_msg(MDB_txn *txn, MDB_dbi dbi, const struct db_key *key,
		  const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	return store_get_msg_alloc(txn, dbi, key, desc, NULL, out);
}

/* The store exists but this user may not read it: say so and name the
 * owner, rather than suggesting that 'serve' create a new one. */
static int store_permission_error(const char *state_dir, struct errbuf *eb)
{
	struct stat st;
	char owner[64] = "another user";
	const char *where = state_dir;
	char db[PATH_MAX];
	snprintf(db, sizeof(db), "%s/db", state_dir);
	if (stat(db, &st) == 0 || stat(state_dir, &st) == 0) {
		struct passwd *pw = getpwuid(st.st_uid);
		if (pw)
			snprintf(owner, sizeof(owner), "user '%s' (uid %u)", pw->pw_name,
				 (unsigned)st.st_uid);
		else
			snprintf(owner, sizeof(owner), "uid %u", (unsigned)st.st_uid);
	}
	return errbuf_set(eb, -EACCES,
			  "%s: permission denied: the collector store belongs to %s; run as "
			  "that user (sudo -u) or as root",
			  where, owner);
}

int store_open(struct db_env *db, const struct collector_config *cfg, bool writable,
	       struct errbuf *eb)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/db", cfg->state_dir) >= sizeof(path))
		return errbuf_set(eb, -ENAMETOOLONG, "state_dir '%s' is too long", cfg->state_dir);
	struct stat st;
	if (!writable && stat(path, &st) != 0) {
		if (errno == EACCES)
			return store_permission_error(cfg->state_dir, eb);
		return errbuf_set(eb, -ENOENT,
				  "no collector store in %s (state_dir): 'cairn-collector serve' "
				  "creates it; use --state-dir or -c to point elsewhere",
				  cfg->state_dir);
	}
	int rc = db_open(db, path, store_db_names, STORE_NDBS, cfg->map_size, cfg->map_max,
			 writable ? 0 : MDB_RDONLY, eb);
	if (rc == DB_ERR_DAMAGED) {
		char msg[sizeof(eb->msg)];
		str_copy(msg, eb->msg, sizeof(msg));
		errbuf_set(eb, rc, "%s; stop 'serve' and restore the store from a backup "
			   "(docs/operations.md, 'Back up and restore the collector')", msg);
	} else if (rc == -EACCES) {
		rc = store_permission_error(cfg->state_dir, eb);
	}
	if (rc || !writable)
		return rc;
	MDB_txn *txn;
	if (db_read_begin(db, &txn) == 0) { /* set already: no write transaction */
		bool set = store_weeks_from(txn, db) != UINT32_MAX;
		db_read_end(db, txn);
		if (set)
			return 0;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) == 0) {
		rc = store_weeks_mark(txn, db, time_now_ms());
		if (rc)
			mdb_txn_abort(txn);
		else
			rc = mdb_txn_commit(txn);
	}
	if (rc) {
		errbuf_set(eb, rc, "%s: cannot mark the week rollups: %s", path, db_strerror(rc));
		db_close(db);
		return rc;
	}
	return 0;
}

int store_agent_get(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		     Cairn__Store__Agent **out)
{
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, agent_id, 32);
	ProtobufCMessage *m = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_AGENTS], &k, &cairn__store__agent__descriptor, &m);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc)
		return rc;
	*out = (Cairn__Store__Agent *)m;
	return 0;
}

int store_agent_put(MDB_txn *txn, const struct db_env *env, const Cairn__Store__Agent *a)
{
	if (a->agent_id.len != 32)
		return -EINVAL;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, a->agent_id.data, 32);
	return store_put_msg(txn, env->dbi[STORE_AGENTS], &k, &a->base);
}

const char *store_enroll_state_name(Cairn__Store__EnrollState s)
{
	switch (s) {
	case CAIRN__STORE__ENROLL_STATE__PENDING: return "pending";
	case CAIRN__STORE__ENROLL_STATE__ACCEPTED: return "accepted";
	case CAIRN__STORE__ENROLL_STATE__REJECTED: return "rejected";
	case CAIRN__STORE__ENROLL_STATE__REVOKED: return "revoked";
	default: return "unknown";
	}
}

int store_bump_facts_gen(MDB_txn *txn, const struct db_env *env, int64_t now_ms)
{
	struct db_key k;
	db_key_init(&k);
	db_key_str(&k, "facts_gen");
	ProtobufCMessage *oldm = NULL;
	int rc = store_get_msg(txn, env->dbi[STORE_META], &k, &cairn__store__counter__descriptor,
			       &oldm);
	if (rc && rc != MDB_NOTFOUND && rc != -EBADMSG)
		return rc;
	Cairn__Store__Counter c = CAIRN__STORE__COUNTER__INIT;
	if (rc == 0)
		c.value = ((Cairn__Store__Counter *)oldm)->value;
	if (oldm)
		protobuf_c_message_free_unpacked(oldm, NULL);
	c.value++;
	c.updated_ms = now_ms;
	return store_put_msg(txn, env->dbi[STORE_META], &k, &c.base);
}

/* RawBatch.received_ms is field 1, which protobuf-c writes first: read it
 * without unpacking the payload. 0 when absent. */
int64_t store_raw_received_ms(const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < 2 || p[0] != 0x08)
		return 0;
	uint64_t x = 0;
	for (size_t i = 1, shift = 0; i < v->mv_size && shift < 64; i++, shift += 7) {
		x |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i] & 0x80))
			return (int64_t)x;
	}
	return 0;
}

static int db_empty(MDB_txn *txn, MDB_dbi dbi, bool *empty)
{
	MDB_stat st;
	int rc = mdb_stat(txn, dbi, &st);
	*empty = rc == 0 && st.ms_entries == 0;
	return rc;
}

int store_weeks_mark(MDB_txn *txn, const struct db_env *env, int64_t now_ms)
{
	if (store_weeks_from(txn, env) != UINT32_MAX)
		return 0;
	bool no_edges, no_perf;
	int rc = db_empty(txn, env->dbi[STORE_EDGES], &no_edges);
	if (!rc)
		rc = db_empty(txn, env->dbi[STORE_PERF_DAY], &no_perf);
	if (rc)
		return rc;
	struct db_key k;
	db_key_init(&k);
	db_key_str(&k, "weeks_from");
	Cairn__Store__Counter c = CAIRN__STORE__COUNTER__INIT;
	c.value = no_edges && no_perf ? 0
				      : store_week_of_day((uint32_t)(now_ms / STORE_DAY_MS)) + 1;
	c.updated_ms = now_ms;
	return store_put_msg(txn, env->dbi[STORE_META], &k, &c.base);
}

uint32_t store_weeks_from(MDB_txn *txn, const struct db_env *env)
{
	struct db_key k;
	db_key_init(&k);
	db_key_str(&k, "weeks_from");
	ProtobufCMessage *m = NULL;
	if (store_get_msg(txn, env->dbi[STORE_META], &k, &cairn__store__counter__descriptor, &m))
		return UINT32_MAX;
	uint64_t v = ((const Cairn__Store__Counter *)m)->value;
	protobuf_c_message_free_unpacked(m, NULL);
	return v < UINT32_MAX ? (uint32_t)v : UINT32_MAX;
}
