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
#include "pbjson.h"
#include "commands.h"
#include "enroll.h"
#include "decide.h"
#include "docs.h"
#include "format.h"
#include "read.h"
#include "keys.h"

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

static int agents_list(struct cli *cli, bool pending_only)
{
	struct read_ctx r;
	int rc = cmd_open_store(&r, cli, false);
	if (rc)
		return rc;
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	struct read_agents ags;
	if ((rc = read_begin(&r, &t, &eb)) || (rc = read_agents(&t, READ_AGENT_HEALTH, &ags, &eb))) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		read_end(&t);
		read_close(&r);
		return 1;
	}
	read_end(&t);
	read_close(&r);
	if (ags.undecodable)
		fprintf(stderr, "%s: skipped %zu undecodable agent records\n", cli->prog,
			ags.undecodable);
	json_t *arr = cli->json ? docs_agents(&ags, pending_only) : NULL;
	if (cli->json && !arr) {
		read_agents_free(&ags);
		return 1;
	}
	static const char *const head[] = { "FINGERPRINT", "HOSTNAME", "STATE", "VIA",
					     "LAST SEEN (UTC)", "LAST BATCH (UTC)", "HIGH SEQ",
					     "BATCHES", "RECORDS", "REPLAYS", "BAD SIG", "MALFORMED",
					     "GAPS", "CONFLICTS", NULL };
	struct format_table *tab = arr ? NULL : format_table_new(14, head);
	size_t shown = 0, pending = 0;
	json_t *conflicted = json_array();
	for (size_t i = 0; i < ags.n; i++) {
		const Cairn__Store__Agent *a = ags.v[i].agent;
		if (a->state == CAIRN__STORE__ENROLL_STATE__PENDING)
			pending++;
		if (pending_only && a->state != CAIRN__STORE__ENROLL_STATE__PENDING)
			continue;
		shown++;
		if (tab) {
			char seen[32], batch[32];
			format_time_sec(a->last_seen_ms, seen, sizeof(seen));
			format_time_sec(a->last_batch_ms, batch, sizeof(batch));
			format_table_rowf(tab, "%s\t%s\t%s\t%s\t%s\t%s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu",
					  ags.v[i].fingerprint, *a->hostname ? a->hostname : "-",
					  store_enroll_state_name(a->state),
					  *a->enroll_via ? a->enroll_via : "-", seen, batch,
					  (unsigned long long)a->high_seq,
					  (unsigned long long)a->batches_stored,
					  (unsigned long long)a->records_stored,
					  (unsigned long long)a->replays_rejected,
					  (unsigned long long)a->bad_signatures,
					  (unsigned long long)(a->malformed_batches + a->limit_batches),
					  (unsigned long long)a->gaps_reported,
					  (unsigned long long)a->conflicts);
			if (a->conflicts) {
				char when[32], line[256];
				format_time_sec(a->last_conflict_ms, when, sizeof(when));
				snprintf(line, sizeof(line),
					 "agent %s ('%s'): %llu conflict%s, last at seq %llu on %s UTC: "
					 "agent key used by two machines? (docs/operations.md, "
					 "'Cloned agent keys')",
					 ags.v[i].fingerprint, a->hostname,
					 (unsigned long long)a->conflicts, a->conflicts == 1 ? "" : "s",
					 (unsigned long long)a->last_conflict_seq, when);
				json_array_append_new(conflicted, json_string(line));
			}
		}
	}
	if (arr) {
		rc = format_print_json(arr) ? 1 : 0;
	} else if (!shown) {
		printf("(no %sagents)\n", pending_only ? "pending " : "");
	} else if (tab) {
		for (size_t c = 6; c < 14; c++)
			format_table_align_right(tab, c);
		format_table_elastic(tab, 1);
		format_table_sort(tab, "HOSTNAME");
		format_table_print(tab, stdout);
		if (pending && !pending_only)
			printf("\n%zu pending: accept with 'cairn-collector agents accept FINGERPRINT'\n",
			       pending);
		size_t k;
		json_t *line;
		json_array_foreach(conflicted, k, line)
			printf("%s%s\n", k ? "" : "\n", json_string_value(line));
		for (size_t i = 0; i < ags.n; i++) {
			const Cairn__CollectorHealth *h = ags.v[i].health;
			uint64_t lost = h ? h->capture_ringbuf_drops + h->capture_map_full : 0;
			if (lost)
				printf("%s: %llu connection events lost in its last window (ring buffer "
				       "or map full): its counts are lower bounds\n",
				       ags.v[i].fingerprint, (unsigned long long)lost);
		}
	}
	json_decref(conflicted);
	format_table_free(tab);
	read_agents_free(&ags);
	return rc;
}

struct decision {
	const char *needle;
	enum enroll_action action;
	uint8_t id[32];
	struct errbuf *eb;
};

static int decide_txn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct decision *d = arg;
	int rc = enroll_find(txn, env, d->needle, d->id, d->eb);
	if (!rc)
		rc = enroll_decide(txn, env, d->id, d->action, os_user_name(), time_now_ms(), d->eb);
	return rc;
}

/* One enrollment decision with its audit entry: `agents accept|reject|revoke`
 * and the console's admin buttons (web_opts.enroll) both write through here. */
static int enroll_write(struct read_ctx *r, const char *needle, enum enroll_action action,
			uint8_t id[static 32], struct errbuf *eb)
{
	struct decision d = { needle, action, { 0 }, eb };
	int rc = decide_write(r, decide_txn, &d, eb);
	memcpy(id, d.id, 32);
	return rc;
}

int agents_enroll(struct read_ctx *r, const char *needle, const char *verb,
		  char id_hex[static KEY_ID_HEX_LEN + 1], struct errbuf *eb)
{
	enum enroll_action action;
	if (!strcmp(verb, "accept"))
		action = ENROLL_ACCEPT;
	else if (!strcmp(verb, "reject"))
		action = ENROLL_REJECT;
	else if (!strcmp(verb, "revoke"))
		action = ENROLL_REVOKE;
	else
		return errbuf_set(eb, -EINVAL, "'%s' is not accept, reject or revoke", verb);
	uint8_t id[32] = { 0 };
	int rc = enroll_write(r, needle, action, id, eb);
	if (!rc)
		keys_id_hex(id, id_hex);
	return rc;
}

static int agents_decide(struct cli *cli, enum enroll_action action, const char *needle)
{
	struct read_ctx r;
	int rc = cmd_open_store(&r, cli, true);
	if (rc)
		return rc;
	struct errbuf eb = { { 0 } };
	struct decision d = { needle, action, { 0 }, &eb };
	rc = enroll_write(&r, needle, action, d.id, &eb);
	read_close(&r);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return cmd_exit_code(rc);
	}
	char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1];
	keys_id_hex(d.id, hex);
	keys_fingerprint(d.id, fp);
	if (cli->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", hex, "fingerprint", fp, "action",
				      enroll_action_name(action), "by", os_user_name());
		if (format_print_json(o))
			return 1;
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
	if (cli.nargs == 0)
		return agents_list(&cli, o.pending);
	static const struct {
		const char *name;
		enum enroll_action action;
	} acts[] = { { "accept", ENROLL_ACCEPT }, { "reject", ENROLL_REJECT },
		     { "revoke", ENROLL_REVOKE } };
	for (size_t i = 0; i < ARRAY_SIZE(acts); i++) {
		if (strcmp(cli.args[0], acts[i].name))
			continue;
		if (cli.nargs != 2) {
			fprintf(stderr, "%s: '%s' needs exactly one agent ID\n", cli.prog,
				acts[i].name);
			cli_try_help(cli.prog);
			return 2;
		}
		return agents_decide(&cli, acts[i].action, cli.args[1]);
	}
	fprintf(stderr, "%s: unknown subcommand '%s' (accept, reject, revoke)\n", cli.prog,
		cli.args[0]);
	cli_try_help(cli.prog);
	return 2;
}
