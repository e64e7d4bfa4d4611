/* Enrollment modes, the never-auto-accept rules, decisions and the audit log. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "enroll.h"
#include "ingest.h"
#include "read.h"
#include "store.h"

static char dir[64];
static struct db_env env;
static struct keypair a1, a2;

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	strcpy(dir, "/tmp/cairn-enroll-XXXXXX");
	cr_assert(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/db", dir);
	struct errbuf eb;
	cr_assert_eq(db_open(&env, path, store_db_names, STORE_NDBS, 1 << 20, 64 << 20, 0, &eb), 0);
	keys_generate(&a1);
	keys_generate(&a2);
}

static void teardown(void)
{
	db_close(&env);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(enroll, .init = setup, .fini = teardown);

static struct enroll_outcome auth(const struct keypair *k, const char *host, bool mac,
				  enum accept_mode mode)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	struct enroll_outcome o;
	cr_assert_eq(enroll_on_auth(txn, &env, k->pk, host, mac, mode, "10.0.0.1:5555", 1000, &o), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	return o;
}

static int decide(const char *needle, enum enroll_action act, struct errbuf *eb)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	uint8_t id[32];
	int rc = enroll_find(txn, &env, needle, id, eb);
	if (!rc)
		rc = enroll_decide(txn, &env, id, act, "alice", 2000, eb);
	if (rc)
		mdb_txn_abort(txn);
	else
		cr_assert_eq(mdb_txn_commit(txn), 0);
	return rc;
}

Test(enroll, explicit_mode_pends_until_accepted)
{
	struct enroll_outcome o = auth(&a1, "web-01", false, ACCEPT_EXPLICIT);
	cr_assert(!o.accepted);
	cr_assert(o.newly_seen);
	cr_assert_eq(o.refuse_code, PROTO_ERR_PENDING);
	/* a valid MAC does not matter in explicit mode */
	o = auth(&a1, "web-01", true, ACCEPT_EXPLICIT);
	cr_assert(!o.accepted);
	cr_assert(!o.newly_seen);

	char fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_fingerprint(a1.pk, fp);
	struct errbuf eb;
	cr_assert_eq(decide(fp, ENROLL_ACCEPT, &eb), 0, "%s", eb.msg);
	o = auth(&a1, "web-01", false, ACCEPT_EXPLICIT);
	cr_assert(o.accepted);
	cr_assert_eq(o.state, CAIRN__STORE__ENROLL_STATE__ACCEPTED);

	/* audit: one entry by alice */
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	MDB_cursor *cur;
	mdb_cursor_open(txn, env.dbi[STORE_AUDIT], &cur);
	MDB_val k, v;
	cr_assert_eq(mdb_cursor_get(cur, &k, &v, MDB_FIRST), 0);
	Cairn__Store__AuditEntry *e = cairn__store__audit_entry__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_str_eq(e->user, "alice");
	cr_assert_str_eq(e->action, "agents.accept");
	cr_assert_eq(e->time_ms, 2000);
	cairn__store__audit_entry__free_unpacked(e, NULL);
	cr_assert_eq(mdb_cursor_get(cur, &k, &v, MDB_NEXT), MDB_NOTFOUND);
	mdb_cursor_close(cur);
	Cairn__Store__Agent *ag;
	cr_assert_eq(store_agent_get(txn, &env, a1.pk, &ag), 0);
	cr_assert_str_eq(ag->decided_by, "alice");
	cr_assert_str_eq(ag->enroll_via, "explicit");
	cr_assert_str_eq(ag->last_peer, "10.0.0.1:5555");
	cairn__store__agent__free_unpacked(ag, NULL);
	mdb_txn_abort(txn);
}

Test(enroll, token_mode_needs_valid_mac)
{
	cr_assert(!auth(&a1, "db-01", false, ACCEPT_TOKEN).accepted);
	struct enroll_outcome o = auth(&a1, "db-01", true, ACCEPT_TOKEN);
	cr_assert(o.accepted);
	cr_assert(o.auto_accepted);
}

Test(enroll, revoked_never_auto_accepts)
{
	cr_assert(auth(&a1, "app-01", false, ACCEPT_ANY).accepted);
	struct errbuf eb;
	char hex[KEY_ID_HEX_LEN + 1];
	keys_id_hex(a1.pk, hex);
	hex[10] = '\0'; /* a prefix */
	cr_assert_eq(decide(hex, ENROLL_REJECT, &eb), -EINVAL); /* accepted: revoke instead */
	cr_assert(strstr(eb.msg, "revoke"));
	cr_assert_eq(decide(hex, ENROLL_REVOKE, &eb), 0, "%s", eb.msg);
	struct enroll_outcome o = auth(&a1, "app-01", true, ACCEPT_ANY);
	cr_assert(!o.accepted);
	cr_assert_eq(o.refuse_code, PROTO_ERR_REVOKED);
	o = auth(&a1, "app-01", true, ACCEPT_TOKEN);
	cr_assert(!o.accepted);
}

Test(enroll, changed_key_for_known_host_needs_a_person)
{
	cr_assert(auth(&a1, "Mail-01", false, ACCEPT_ANY).accepted);
	struct enroll_outcome o = auth(&a2, "mail-01", true, ACCEPT_ANY);
	cr_assert(!o.accepted);
	cr_assert(o.key_changed);
	cr_assert_eq(o.refuse_code, PROTO_ERR_KEY_CHANGED);
	/* still not on reconnect */
	o = auth(&a2, "mail-01", true, ACCEPT_ANY);
	cr_assert(!o.accepted);
	/* hostname is ambiguous now; the fingerprint is not */
	struct errbuf eb;
	cr_assert_eq(decide("mail-01", ENROLL_ACCEPT, &eb), -EEXIST);
	char fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_fingerprint(a2.pk, fp);
	cr_assert_eq(decide(fp, ENROLL_ACCEPT, &eb), 0, "%s", eb.msg);
	cr_assert(auth(&a2, "mail-01", false, ACCEPT_EXPLICIT).accepted);
}

/* After a second key claiming a known hostname was rejected, the name means
 * the host 'hosts' lists; while it is pending the ambiguity names both by
 * the fingerprints 'agents' prints. */
Test(enroll, rejected_second_key_does_not_make_a_name_ambiguous)
{
	cr_assert(auth(&a1, "mail-01", false, ACCEPT_ANY).accepted);
	cr_assert(!auth(&a2, "mail-01", false, ACCEPT_ANY).accepted);
	char fp1[KEY_FINGERPRINT_HEX_LEN + 1], fp2[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_fingerprint(a1.pk, fp1);
	keys_fingerprint(a2.pk, fp2);
	MDB_txn *txn;
	struct read_host h;
	struct errbuf eb;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(read_find_host(txn, &env, "mail-01", &h, &eb), -EEXIST);
	cr_expect(strstr(eb.msg, fp1) && strstr(eb.msg, fp2), "%s", eb.msg);
	mdb_txn_abort(txn);
	cr_assert_eq(decide(fp2, ENROLL_REJECT, &eb), 0, "%s", eb.msg);
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(read_find_host(txn, &env, "mail-01", &h, &eb), 0, "%s", eb.msg);
	cr_expect_eq(memcmp(h.id, a1.pk, 32), 0, "the accepted host, not the rejected key");
	cr_assert_eq(read_find_host(txn, &env, fp2, &h, &eb), 0, "the refused key by fingerprint");
	cr_expect(h.refused);
	mdb_txn_abort(txn);
}

Test(enroll, find_errors)
{
	auth(&a1, "x1", false, ACCEPT_EXPLICIT);
	struct errbuf eb;
	uint8_t id[32];
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(enroll_find(txn, &env, "nothere", id, &eb), -ENOENT);
	cr_assert(strstr(eb.msg, "no agent matches"));
	cr_assert_eq(enroll_find(txn, &env, "X1", id, &eb), 0);
	cr_assert_eq(memcmp(id, a1.pk, 32), 0);
	mdb_txn_abort(txn);
	cr_assert_eq(decide("x1", ENROLL_REJECT, &eb), 0);
	struct enroll_outcome o = auth(&a1, "x1", true, ACCEPT_ANY);
	cr_assert_eq(o.refuse_code, PROTO_ERR_REJECTED);
	cr_assert_eq(decide("x1", ENROLL_REVOKE, &eb), -EINVAL);
}
