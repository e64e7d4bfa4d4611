/* cairn-collector agents: enrollment and health of every agent.
 *
 *   agents [--pending] [--json]      list (health: last seen, last batch, high seq,
 *                                    batches/records stored, replays, bad signatures, gaps)
 *   agents accept|reject|revoke ID   a person's decision, written to the audit log
 *
 * ID is a full hex id, a unique id prefix (4+ hex digits), a fingerprint or a
 * hostname. Works while serve runs (LMDB allows one writer at a time across
 * processes; decisions are small transactions). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "enroll.h"
#include "ingest.h"
#include "keys.h"
#include "store.h"

struct agents_opts {
	bool pending;
};

static void agents_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector agents [--pending] [--json]\n"
		   "       cairn-collector agents accept|reject|revoke ID\n\n"
		   "Lists agents with their enrollment state and health, or records a decision.\n"
		   "ID: full hex id, id prefix (4+ hex digits), fingerprint or hostname.\n"
		   "Decisions go to the audit log with time and OS user.\n\n"
		   "  --pending             only agents awaiting a decision\n");
	cli_usage_common(f);
}

static int agents_option(int opt, const char *arg, void *ctx)
{
	(void)arg;
	if (opt != CLI_OPT_USER)
		return -1;
	((struct agents_opts *)ctx)->pending = true;
	return 0;
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static json_t *agent_json(const Cairn__Store__Agent *a)
{
	char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(a->agent_id.data, hex);
	keys_fingerprint(a->agent_id.data, fp);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:s, s:s, s:s, s:I}",
			 "id", hex, "fingerprint", fp, "hostname", a->hostname,
			 "state", enroll_state_name(a->state), "enroll_via", a->enroll_via,
			 "first_seen_ms", (json_int_t)a->first_seen_ms,
			 "last_seen_ms", (json_int_t)a->last_seen_ms,
			 "last_batch_ms", (json_int_t)a->last_batch_ms,
			 "high_seq", (json_int_t)a->high_seq,
			 "batches_stored", (json_int_t)a->batches_stored,
			 "records_stored", (json_int_t)a->records_stored,
			 "replays_rejected", (json_int_t)a->replays_rejected,
			 "bad_signatures", (json_int_t)a->bad_signatures,
			 "malformed_batches", (json_int_t)a->malformed_batches,
			 "gaps_reported", (json_int_t)a->gaps_reported,
			 "last_peer", a->last_peer, "agent_version", a->agent_version,
			 "decided_by", a->decided_by, "decided_ms", (json_int_t)a->decided_ms);
}

static int agents_list(struct cli *cli, const struct collector_config *cfg, bool pending_only)
{
	struct db_env db;
	struct errbuf eb;
	int rc = store_open(&db, cfg, false, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return 1;
	}
	MDB_txn *txn;
	if ((rc = db_read_begin(&db, &txn))) {
		fprintf(stderr, "%s: reading the store: %s\n", cli->prog, db_strerror(rc));
		db_close(&db);
		return 1;
	}
	MDB_cursor *cur;
	mdb_cursor_open(txn, db.dbi[STORE_AGENTS], &cur);
	json_t *arr = cli->json ? json_array() : NULL;
	if (!cli->json)
		printf("%-16s  %-20s  %-8s  %-8s  %-19s  %-19s  %8s  %8s  %10s  %7s  %7s  %9s  %6s\n",
		       "FINGERPRINT", "HOSTNAME", "STATE", "VIA", "LAST SEEN (UTC)",
		       "LAST BATCH (UTC)", "HIGH SEQ", "BATCHES", "RECORDS", "REPLAYS", "BAD SIG",
		       "MALFORMED", "GAPS");
	size_t shown = 0, pending = 0;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
		if (!a || a->agent_id.len != 32) {
			if (a)
				cairn__store__agent__free_unpacked(a, NULL);
			fprintf(stderr, "%s: skipping an undecodable agent record (%zu bytes)\n",
				cli->prog, v.mv_size);
			continue;
		}
		if (a->state == CAIRN__STORE__ENROLL_STATE__PENDING)
			pending++;
		if (pending_only && a->state != CAIRN__STORE__ENROLL_STATE__PENDING) {
			cairn__store__agent__free_unpacked(a, NULL);
			continue;
		}
		shown++;
		if (arr) {
			json_array_append_new(arr, agent_json(a));
		} else {
			char fp[KEY_FINGERPRINT_HEX_LEN + 1], seen[32], batch[32];
			keys_fingerprint(a->agent_id.data, fp);
			fmt_time(a->last_seen_ms, seen, sizeof(seen));
			fmt_time(a->last_batch_ms, batch, sizeof(batch));
			printf("%-16s  %-20.20s  %-8s  %-8s  %-19s  %-19s  %8llu  %8llu  %10llu  %7llu  "
			       "%7llu  %9llu  %6llu\n",
			       fp, *a->hostname ? a->hostname : "-", enroll_state_name(a->state),
			       *a->enroll_via ? a->enroll_via : "-", seen, batch,
			       (unsigned long long)a->high_seq, (unsigned long long)a->batches_stored,
			       (unsigned long long)a->records_stored,
			       (unsigned long long)a->replays_rejected,
			       (unsigned long long)a->bad_signatures,
			       (unsigned long long)a->malformed_batches,
			       (unsigned long long)a->gaps_reported);
		}
		cairn__store__agent__free_unpacked(a, NULL);
	}
	mdb_cursor_close(cur);
	db_read_end(&db, txn);
	db_close(&db);
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
	} else if (!shown) {
		printf("(no %sagents)\n", pending_only ? "pending " : "");
	} else if (pending && !pending_only) {
		printf("\n%zu pending: accept with 'cairn-collector agents accept FINGERPRINT'\n",
		       pending);
	}
	return 0;
}

static int agents_decide(struct cli *cli, const struct collector_config *cfg,
			 enum enroll_action action, const char *needle)
{
	struct db_env db;
	struct errbuf eb;
	int rc = store_open(&db, cfg, true, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return 1;
	}
	MDB_txn *txn;
	rc = mdb_txn_begin(db.env, NULL, 0, &txn);
	if (rc) {
		fprintf(stderr, "%s: cannot write the store: %s\n", cli->prog, db_strerror(rc));
		db_close(&db);
		return 1;
	}
	uint8_t id[32];
	rc = enroll_find(txn, &db, needle, id, &eb);
	if (!rc)
		rc = enroll_decide(txn, &db, id, action, os_user_name(), time_now_ms(), &eb);
	if (rc) {
		mdb_txn_abort(txn);
		db_close(&db);
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return rc == -ENOENT || rc == -EEXIST || rc == -EINVAL ? 2 : 1;
	}
	rc = mdb_txn_commit(txn);
	db_close(&db);
	if (rc) {
		fprintf(stderr, "%s: committing the decision failed: %s\n", cli->prog,
			db_strerror(rc));
		return 1;
	}
	char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(id, hex);
	keys_fingerprint(id, fp);
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", hex, "fingerprint", fp, "action",
				      enroll_action_name(action), "by", os_user_name());
		json_dumpf(o, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(o);
	} else {
		printf("agent %s (%s): %s by %s%s\n", fp, hex, action == ENROLL_ACCEPT ? "accepted"
			       : action == ENROLL_REJECT ? "rejected" : "revoked",
		       os_user_name(),
		       action == ENROLL_ACCEPT ? "; it streams from its next connection" : "");
	}
	return 0;
}

int agents_main(int argc, char *argv[])
{
	struct agents_opts o = { 0 };
	static const struct option longopts[] = {
		{ "pending", no_argument, NULL, CLI_OPT_USER },
		{ 0 },
	};
	struct cli_extra extra = { "", longopts, agents_option, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, agents_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	struct collector_config cfg;
	if (cli_collector_config(&cli, &cfg))
		return 2;
	if (cli.nargs == 0)
		return agents_list(&cli, &cfg, o.pending);
	static const struct {
		const char *name;
		enum enroll_action action;
	} acts[] = { { "accept", ENROLL_ACCEPT }, { "reject", ENROLL_REJECT },
		     { "revoke", ENROLL_REVOKE } };
	for (size_t i = 0; i < ARRAY_SIZE(acts); i++) {
		if (strcmp(cli.args[0], acts[i].name))
			continue;
		if (cli.nargs != 2) {
			fprintf(stderr, "%s: '%s' needs exactly one agent ID\n\n", cli.prog,
				acts[i].name);
			agents_usage(stderr);
			return 2;
		}
		return agents_decide(&cli, &cfg, acts[i].action, cli.args[1]);
	}
	fprintf(stderr, "%s: unknown subcommand '%s' (accept, reject, revoke)\n\n", cli.prog,
		cli.args[0]);
	agents_usage(stderr);
	return 2;
}
