/* Enrollment: which agents may deliver batches.
 *
 * States (store.EnrollState): PENDING -> ACCEPTED | REJECTED; ACCEPTED ->
 * REVOKED. A person may accept a rejected or revoked agent again explicitly.
 * Modes (collector.conf accept=): explicit (a person runs `agents accept`),
 * token (auto-accept on a valid enrollment MAC), any (auto-accept everyone:
 * labs, demo). Whatever the mode, an agent is never auto-accepted when its
 * key was revoked or rejected, or when another key already claimed the same
 * hostname (a changed key for a known host needs a person).
 *
 * Every decision by a person goes to the audit DB with time and OS user. */
#ifndef CAIRN_ENROLL_H
#define CAIRN_ENROLL_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "keys.h"
#include "store.pb-c.h"
#include "util.h"

/* What the server tells an agent after AUTH. */
struct enroll_outcome {
	bool accepted;
	uint16_t refuse_code;   /* enum proto_error when !accepted */
	char refuse_text[200];
	uint64_t high_seq;
	Cairn__Store__EnrollState state;
	bool newly_seen;        /* first contact: a record was created */
	bool auto_accepted;     /* accepted now by token or any */
	bool key_changed;       /* another key claims this hostname */
};

/* Handles a verified AUTH inside a write transaction: creates the agent record
 * when new, applies the mode, updates last_seen/last_peer, maintains the
 * hostname index. mac_valid: AUTH carried a MAC valid for the configured
 * token. Returns 0 with *out filled, or an LMDB error. */
int enroll_on_auth(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		   const char *hostname, bool mac_valid, enum accept_mode mode, const char *peer,
		   int64_t now_ms, struct enroll_outcome *out);

enum enroll_action {
	ENROLL_ACCEPT,
	ENROLL_REJECT,
	ENROLL_REVOKE,
};

const char *enroll_action_name(enum enroll_action a);

/* A person's decision: changes the state, records decided_by/decided_ms and
 * an audit entry ("agents.accept" ...). -EINVAL (eb) when the transition is
 * not allowed (e.g. reject an accepted agent: revoke it instead), -ENOENT. */
int enroll_decide(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		  enum enroll_action action, const char *user, int64_t now_ms, struct errbuf *eb);

/* Finds an agent by full hex id, unique hex prefix (>= 4 digits), fingerprint
 * (prefix) or claimed hostname. -ENOENT / -EEXIST (ambiguous) with eb saying
 * what matched. */
int enroll_find(MDB_txn *txn, const struct db_env *env, const char *needle,
		uint8_t agent_id[static 32], struct errbuf *eb);

#endif
