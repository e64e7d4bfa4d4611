#include "enroll.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "audit.h"
#include "log.h"
#include "store.h"

const char *enroll_action_name(enum enroll_action a)
{
	switch (a) {
	case ENROLL_ACCEPT: return "accept";
	case ENROLL_REJECT: return "reject";
	case ENROLL_REVOKE: return "revoke";
	}
	return "?";
}

static void name_key(struct db_key *k, const char *hostname, const uint8_t *agent_id)
{
	char low[256];
	size_t n = 0;
	for (; hostname[n] && n < sizeof(low) - 1; n++)
		low[n] = (char)tolower((unsigned char)hostname[n]);
	low[n] = '\0';
	db_key_init(k);
	db_key_str(k, low);
	db_key_u8(k, 0);
	if (agent_id)
		db_key_bytes(k, agent_id, 32);
}

/* True when another agent than agent_id claimed hostname. */
static int name_claimed_by_other(MDB_txn *txn, const struct db_env *env, const char *hostname,
				 const uint8_t agent_id[static 32], bool *other)
{
	*other = false;
	if (!*hostname)
		return 0;
	struct db_key prefix;
	name_key(&prefix, hostname, NULL);
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_AGENT_NAMES], &cur);
	if (rc)
		return rc;
	MDB_val k = db_key_val(&prefix), v;
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == prefix.len + 32 &&
	       !memcmp(k.mv_data, prefix.b, prefix.len)) {
		if (memcmp((const uint8_t *)k.mv_data + prefix.len, agent_id, 32) != 0) {
			*other = true;
			break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void refuse(struct enroll_outcome *o, uint16_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct enroll_outcome *o, uint16_t code, const char *fmt, ...)
{
	o->accepted = false;
	o->refuse_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->refuse_text, sizeof(o->refuse_text), fmt, ap);
	va_end(ap);
}

int enroll_on_auth(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		   const char *hostname, bool mac_valid, enum accept_mode mode, const char *peer,
		   int64_t now_ms, struct enroll_outcome *out)
{
	memset(out, 0, sizeof(*out));
	char fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_fingerprint(agent_id, fp);

	Cairn__Store__Agent *a = NULL;
	Cairn__Store__Agent fresh = CAIRN__STORE__AGENT__INIT;
	int rc = store_agent_get(txn, env, agent_id, &a);
	if (rc && rc != -ENOENT)
		return rc;
	Cairn__Store__Agent *rec = a ? a : &fresh;
	char *saved_host = rec->hostname, *saved_peer = rec->last_peer, *saved_via = rec->enroll_via;
	if (!a) {
		out->newly_seen = true;
		fresh.agent_id.data = (uint8_t *)agent_id;
		fresh.agent_id.len = 32;
		fresh.hostname = (char *)hostname;
		fresh.state = CAIRN__STORE__ENROLL_STATE__PENDING;
		fresh.first_seen_ms = now_ms;
		struct db_key nk;
		name_key(&nk, hostname, agent_id);
		bool other = false;
		rc = name_claimed_by_other(txn, env, hostname, agent_id, &other);
		if (rc)
			return rc;
		out->key_changed = other;
		MDB_val k = db_key_val(&nk), v = { 0, (void *)"" };
		if (*hostname && (rc = mdb_put(txn, env->dbi[STORE_AGENT_NAMES], &k, &v, 0)))
			return rc;
	} else if (rec->state == CAIRN__STORE__ENROLL_STATE__PENDING) {
		bool other = false;
		rc = name_claimed_by_other(txn, env, hostname, agent_id, &other);
		if (rc) {
			cairn__store__agent__free_unpacked(a, NULL);
			return rc;
		}
		out->key_changed = other;
	}
	rec->last_seen_ms = now_ms;
	rec->last_peer = (char *)(peer ? peer : "");

	switch (rec->state) {
	case CAIRN__STORE__ENROLL_STATE__ACCEPTED:
		out->accepted = true;
		break;
	case CAIRN__STORE__ENROLL_STATE__REJECTED:
		refuse(out, PROTO_ERR_REJECTED, "enrollment of %s was rejected", fp);
		break;
	case CAIRN__STORE__ENROLL_STATE__REVOKED:
		refuse(out, PROTO_ERR_REVOKED, "agent key %s was revoked", fp);
		break;
	default: {
		bool auto_ok = mode == ACCEPT_ANY || (mode == ACCEPT_TOKEN && mac_valid);
		if (auto_ok && !out->key_changed) {
			rec->state = CAIRN__STORE__ENROLL_STATE__ACCEPTED;
			rec->enroll_via = (char *)(mode == ACCEPT_ANY ? "any" : "token");
			rec->decided_ms = now_ms;
			rec->decided_by = rec->decided_by ? rec->decided_by : (char *)"";
			out->accepted = true;
			out->auto_accepted = true;
		} else if (out->key_changed) {
			rec->state = CAIRN__STORE__ENROLL_STATE__PENDING;
			refuse(out, PROTO_ERR_KEY_CHANGED,
			       "another key already claims hostname '%s': a person must run "
			       "'cairn-collector agents accept'",
			       hostname);
		} else {
			rec->state = CAIRN__STORE__ENROLL_STATE__PENDING;
			refuse(out, PROTO_ERR_PENDING,
			       "agent %s awaits enrollment: run 'cairn-collector agents accept' on the "
			       "collector",
			       fp);
		}
	}
	}
	out->state = rec->state;
	out->high_seq = rec->high_seq;
	rc = store_agent_put(txn, env, rec);
	rec->hostname = saved_host;
	rec->last_peer = saved_peer;
	rec->enroll_via = saved_via;
	if (a)
		cairn__store__agent__free_unpacked(a, NULL);
	return rc;
}

int enroll_decide(MDB_txn *txn, const struct db_env *env, const uint8_t agent_id[static 32],
		  enum enroll_action action, const char *user, int64_t now_ms, struct errbuf *eb)
{
	char hex[KEY_ID_HEX_LEN + 1];
	keys_id_hex(agent_id, hex);
	Cairn__Store__Agent *a = NULL;
	int rc = store_agent_get(txn, env, agent_id, &a);
	if (rc == -ENOENT)
		return errbuf_set(eb, -ENOENT, "no agent %s", hex);
	if (rc)
		return errbuf_set(eb, rc, "reading agent %s: %s", hex, db_strerror(rc));
	Cairn__Store__EnrollState from = a->state, to;
	switch (action) {
	case ENROLL_ACCEPT:
		to = CAIRN__STORE__ENROLL_STATE__ACCEPTED;
		break;
	case ENROLL_REJECT:
		if (from == CAIRN__STORE__ENROLL_STATE__ACCEPTED) {
			cairn__store__agent__free_unpacked(a, NULL);
			return errbuf_set(eb, -EINVAL,
					  "agent %s is accepted: use 'agents revoke' to withdraw it",
					  hex);
		}
		to = CAIRN__STORE__ENROLL_STATE__REJECTED;
		break;
	default:
		if (from != CAIRN__STORE__ENROLL_STATE__ACCEPTED &&
		    from != CAIRN__STORE__ENROLL_STATE__PENDING) {
			cairn__store__agent__free_unpacked(a, NULL);
			return errbuf_set(eb, -EINVAL, "agent %s is %s, not accepted: nothing to revoke",
					  hex, store_enroll_state_name(from));
		}
		to = CAIRN__STORE__ENROLL_STATE__REVOKED;
		break;
	}
	char *saved_by = a->decided_by, *saved_via = a->enroll_via;
	a->state = to;
	a->decided_by = (char *)user;
	a->decided_ms = now_ms;
	if (action == ENROLL_ACCEPT)
		a->enroll_via = (char *)"explicit";
	rc = store_agent_put(txn, env, a);
	char detail[160];
	snprintf(detail, sizeof(detail), "%s -> %s, hostname '%s'", store_enroll_state_name(from),
		 store_enroll_state_name(to), a->hostname ? a->hostname : "");
	a->decided_by = saved_by;
	a->enroll_via = saved_via;
	cairn__store__agent__free_unpacked(a, NULL);
	if (rc)
		return errbuf_set(eb, rc, "writing agent %s: %s", hex, db_strerror(rc));
	char action_name[32];
	snprintf(action_name, sizeof(action_name), "agents.%s", enroll_action_name(action));
	rc = audit_append(txn, env, now_ms, user, action_name, hex, detail);
	if (rc)
		return errbuf_set(eb, rc, "writing the audit log: %s", db_strerror(rc));
	return 0;
}

int enroll_find(MDB_txn *txn, const struct db_env *env, const char *needle,
		uint8_t agent_id[static 32], struct errbuf *eb)
{
	size_t nlen = strlen(needle);
	char low[KEY_ID_HEX_LEN + 1] = "";
	bool hexish = nlen >= 4 && nlen <= KEY_ID_HEX_LEN;
	for (size_t i = 0; hexish && i < nlen; i++) {
		if (!isxdigit((unsigned char)needle[i]))
			hexish = false;
		else
			low[i] = (char)tolower((unsigned char)needle[i]);
	}
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env->dbi[STORE_AGENTS], &cur);
	if (rc)
		return errbuf_set(eb, rc, "reading agents: %s", db_strerror(rc));
	MDB_val k, v;
	size_t matches = 0;
	char first[KEY_ID_HEX_LEN + 1] = "", second[KEY_ID_HEX_LEN + 1] = "";
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
		keys_id_hex(k.mv_data, hex);
		keys_fingerprint(k.mv_data, fp);
		bool hit = hexish && (!strncmp(hex, low, nlen) ||
				      (nlen <= KEY_FINGERPRINT_HEX_LEN && !strncmp(fp, low, nlen)));
		if (!hit) {
			Cairn__Store__Agent *a =
				cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
			hit = a && a->hostname && !strcasecmp(a->hostname, needle);
			if (a)
				cairn__store__agent__free_unpacked(a, NULL);
		}
		if (!hit)
			continue;
		if (matches == 0) {
			memcpy(agent_id, k.mv_data, 32);
			memcpy(first, hex, sizeof(first));
		} else if (matches == 1) {
			memcpy(second, hex, sizeof(second));
		}
		matches++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return errbuf_set(eb, rc, "reading agents: %s", db_strerror(rc));
	if (matches == 0)
		return errbuf_set(eb, -ENOENT,
				  "no agent matches '%s' (give a full id, an id prefix of 4+ hex "
				  "digits, a fingerprint or a hostname; see 'cairn-collector agents')",
				  needle);
	if (matches > 1)
		return errbuf_set(eb, -EEXIST,
				  "'%s' matches %zu agents (%.16s..., %.16s...): give more digits",
				  needle, matches, first, second);
	return 0;
}
