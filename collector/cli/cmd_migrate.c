/* cairn-collector migrate | progress | validate: tracking a migration and
 * checking a migrated host against its source (collector/plan/migrate.c). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "docs.h"
#include "format.h"
#include "estate.h"
#include "migrate.h"
#include "planctx.h"
#include "progress.h"
#include "waves.h"

static json_t *status_json(const Cairn__Store__MigrationStatus *m)
{
	return json_pack("{s:s, s:s, s:i, s:s, s:s, s:I}", "target", m->target, "state",
			 migrate_state_name(m->state), "progress_pct", (int)m->progress_pct, "note",
			 m->note, "updated_by", m->updated_by, "updated_ms", (json_int_t)m->updated_ms);
}

/* Resolves TARGET to its status key ("<host id>" or "app:<app id>"). */
static int target_key(struct planctx *p, const char *needle, char *key, size_t n, char *label,
		      size_t ln)
{
	char id[256];
	bool is_app;
	int rrc = planctx_resolve(p, needle, id, sizeof(id), &is_app);
	if (rrc)
		return rrc;
	if (is_app) {
		const Cairn__Store__App *a = snapshot_app(p->snap, id);
		snprintf(key, n, "app:%s", id);
		snprintf(label, ln, "application %s", a ? a->name : id);
	} else {
		str_copy(key, id, n);
		snprintf(label, ln, "host %s", snapshot_host_name(p->snap, id));
	}
	return 0;
}

static void migrate_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector migrate set TARGET STATE [--progress N] [--note TEXT]\n"
		   "       cairn-collector migrate history TARGET [--json]\n\n"
		   "Tracks the migration of a host or application (TARGET: host name or id, or\n"
		   "application name or id). STATE: NOT_STARTED, IN_PROGRESS, FAILED, COMPLETED.\n"
		   "Every change is kept in the history and the audit log with time and OS user.\n\n");
	cli_usage_common(f);
	fprintf(f, "  --progress N             percent done (0..100; COMPLETED means 100)\n"
		   "  --note TEXT              a note kept with the status\n");
}

int migrate_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, migrate_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	bool set = p.cli.nargs == 3 && !strcmp(p.cli.args[0], "set");
	bool hist = p.cli.nargs == 2 && !strcmp(p.cli.args[0], "history");
	Cairn__Store__MigrationState st = CAIRN__STORE__MIGRATION_STATE__NOT_STARTED;
	if (!set && !hist) {
		fprintf(stderr, "%s: expected 'migrate set TARGET STATE' or 'migrate history TARGET'\n",
			p.cli.prog);
		cli_try_help(p.cli.prog);
		return 2;
	}
	if (set && migrate_state_parse(p.cli.args[2], &st)) {
		fprintf(stderr, "%s: state '%s': use NOT_STARTED, IN_PROGRESS, FAILED or COMPLETED\n",
			p.cli.prog, p.cli.args[2]);
		return 2;
	}
	if ((rc = planctx_open(&p, set)) || (rc = planctx_snapshot(&p))) {
		planctx_close(&p);
		return rc;
	}
	char key[512], label[300];
	if ((rc = target_key(&p, p.cli.args[1], key, sizeof(key), label, sizeof(label)))) {
		planctx_close(&p);
		return rc;
	}
	struct errbuf eb = { { 0 } };
	if (set) {
		Cairn__Store__MigrationStatus *m = NULL;
		rc = migrate_set(&p.rd.db, key, st, p.progress, p.note, os_user_name(), time_now_ms(), &m, &eb);
		if (rc) {
			fprintf(stderr, "%s: %s\n", p.cli.prog, eb.msg);
			planctx_close(&p);
			return 1;
		}
		if (p.cli.json && m)
			format_print_json(status_json(m));
		else if (m)
			printf("%s: %s, %u%%%s%s (recorded for %s)\n", label, migrate_state_name(m->state),
			       m->progress_pct, *m->note ? ", note: " : "", m->note, m->updated_by);
		if (m)
			cairn__store__migration_status__free_unpacked(m, NULL);
		planctx_close(&p);
		return 0;
	}
	struct read_txn t;
	struct errbuf teb = { { 0 } };
	if ((rc = read_begin(&p.rd, &t, &teb))) {
		fprintf(stderr, "%s: %s\n", p.cli.prog, teb.msg);
		planctx_close(&p);
		return 1;
	}
	Cairn__Store__MigrationStatus **v = NULL;
	size_t n = 0;
	rc = migrate_history(t.txn, t.db, key, &v, &n);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: reading the history of %s: %s\n", p.cli.prog, label, db_strerror(rc));
		planctx_close(&p);
		return 1;
	}
	if (p.cli.json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, status_json(v[i]));
		format_print_json(arr);
	} else {
		printf("Migration history of %s\n", label);
		printf("%-19s  %-12s  %4s  %-12s  %s\n", "TIME (UTC)", "STATE", "PCT", "BY", "NOTE");
		for (size_t i = 0; i < n; i++) {
			char at[32];
			format_time_sec(v[i]->updated_ms, at, sizeof(at));
			printf("%-19s  %-12s  %3u%%  %-12s  %s\n", at, migrate_state_name(v[i]->state),
			       v[i]->progress_pct, v[i]->updated_by, v[i]->note);
		}
		if (!n)
			printf("(no status recorded: NOT_STARTED)\n");
	}
	migrate_list_free(v, n);
	planctx_close(&p);
	return 0;
}

/* ---------------------------------------------------------------- progress */

static void progress_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector progress [--json]\n\n"
		   "Migration progress by wave and application: hosts per state and percent done;\n"
		   "then the migration tools' streams ('notify', PUT /api/v1/progress-streams/...)\n"
		   "and each host with tasks: its status (a person's 'migrate set' wins over its\n"
		   "tasks) and what the tasks say.\n\n");
	cli_usage_common(f);
}

/* The migration tools' part of `progress`: streams, then each host with
 * tasks, what counts beside what its tasks say. */
static int print_tasks(const struct read_txn *t, const Cairn__Store__Snapshot *s,
		       const struct progress_tasks *ts, const struct progress_hosts *tasks)
{
	if (!ts->n)
		return 0;
	int64_t now = time_now_ms();
	struct progress_stream *sv = NULL;
	size_t sn = 0;
	int rc = progress_streams(ts, now, &sv, &sn);
	if (rc)
		return rc;
	printf("\n%-20s  %5s  %5s  %5s  %5s  %5s  %5s  %s\n", "STREAM", "TASKS", "NOT", "PROG",
	       "FAIL", "COMPL", "STALE", "LAST UPDATE");
	for (size_t i = 0; i < sn; i++) {
		char at[40];
		progress_time_format(sv[i].updated_ms, at, sizeof(at));
		printf("%-20.50s  %5u  %5u  %5u  %5u  %5u  %5u  %s\n", sv[i].name, sv[i].tasks,
		       sv[i].states[1], sv[i].states[2], sv[i].states[3], sv[i].states[4], sv[i].stale, at);
	}
	free(sv);
	printf("\n%-28s  %s\n", "HOST", "MIGRATION STATUS");
	struct snapshot_names nm = { 0 };
	bool named = !snapshot_names_build(s, &nm);
	for (size_t i = 0; i < tasks->n && !rc; i++) {
		struct migrate_host_status hs;
		char text[400];
		if ((rc = migrate_host_status(t->txn, t->db, tasks->v[i].id, tasks, &hs)))
			break;
		migrate_host_status_text(&hs, text, sizeof(text));
		printf("%-28.28s  %s\n",
		       named ? snapshot_names_get(&nm, tasks->v[i].id) : snapshot_host_name(s, tasks->v[i].id),
		       text);
	}
	snapshot_names_free(&nm);
	return rc;
}

int progress_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, progress_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (p.cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", p.cli.prog, p.cli.args[0]);
		cli_try_help(p.cli.prog);
		return 2;
	}
	if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
		planctx_close(&p);
		return rc;
	}
	const Cairn__Store__Snapshot *s = p.snap;
	struct read_txn t;
	struct errbuf teb = { { 0 } };
	if ((rc = read_begin(&p.rd, &t, &teb))) {
		fprintf(stderr, "%s: %s\n", p.cli.prog, teb.msg);
		planctx_close(&p);
		return 1;
	}
	if (p.cli.json) {
		json_t *doc = NULL;
		rc = docs_progress(&t, s, &doc);
		read_end(&t);
		if (rc) {
			fprintf(stderr, "%s: reading migration statuses: %s\n", p.cli.prog, db_strerror(rc));
			planctx_close(&p);
			return 1;
		}
		rc = format_print_json(doc) ? 1 : 0;
		planctx_close(&p);
		return rc;
	}
	json_t *jw = NULL;
	unsigned total[5] = { 0 }, thosts = 0;
	double tsum = 0;
	struct progress_tasks ts;
	struct progress_hosts tasks = { 0 };
	if ((rc = progress_tasks_read(t.txn, t.db, NULL, &ts, &teb)) ||
	    (rc = progress_hosts_derive(&ts, time_now_ms(), &tasks))) {
		fprintf(stderr, "%s: %s\n", p.cli.prog, teb.msg[0] ? teb.msg : "out of memory");
		read_end(&t);
		planctx_close(&p);
		return 1;
	}
	if (!jw)
		printf("%-6s  %-28s  %5s  %-12s  %6s  %5s  %5s  %5s  %5s\n", "WAVE", "APPLICATION", "HOSTS",
		       "STATE", "DONE", "NOT", "PROG", "FAIL", "COMPL");
	struct snapshot_index ix;
	snapshot_index_build(s, &ix);
	for (size_t i = 0; i < s->n_waves && !rc; i++) {
		const Cairn__Store__Wave *w = s->waves[i];
		unsigned wh[5] = { 0 }, whosts = 0;
		double wsum = 0;
		json_t *ja = jw ? json_array() : NULL;
		for (size_t j = 0; j < w->n_apps && !rc; j++) {
			const Cairn__Store__App *a = snapshot_index_app(&ix, w->apps[j]);
			if (!a)
				continue;
			struct migrate_app_progress ap;
			if ((rc = migrate_app_progress(t.txn, t.db, a, &tasks, &ap)))
				break;
			for (int k = 1; k < 5; k++)
				wh[k] += ap.hosts[k];
			whosts += (unsigned)a->n_hosts;
			wsum += ap.percent * (double)a->n_hosts;
			if (ja)
				json_array_append_new(ja, json_pack("{s:s, s:s, s:i, s:s, s:f, s:{s:i, s:i, s:i, s:i}}",
								    "id", a->id, "name", a->name, "hosts", (int)a->n_hosts,
								    "state", migrate_state_name(ap.state), "percent", ap.percent,
								    "host_states", "NOT_STARTED", (int)ap.hosts[1],
								    "IN_PROGRESS", (int)ap.hosts[2], "FAILED", (int)ap.hosts[3],
								    "COMPLETED", (int)ap.hosts[4]));
			else
				printf("%-6u  %-28.28s  %5zu  %-12s  %5.0f%%  %5u  %5u  %5u  %5u\n", w->number, a->name,
				       a->n_hosts, migrate_state_name(ap.state), ap.percent, ap.hosts[1], ap.hosts[2],
				       ap.hosts[3], ap.hosts[4]);
		}
		double wpct = whosts ? wsum / whosts : 0;
		if (jw)
			json_array_append_new(jw, json_pack("{s:i, s:i, s:f, s:{s:i, s:i, s:i, s:i}, s:o}", "number",
							    (int)w->number, "hosts", (int)whosts, "percent", wpct,
							    "host_states", "NOT_STARTED", (int)wh[1], "IN_PROGRESS", (int)wh[2],
							    "FAILED", (int)wh[3], "COMPLETED", (int)wh[4], "apps", ja));
		else
			printf("%-6u  %-28s  %5u  %-12s  %5.0f%%  %5u  %5u  %5u  %5u\n\n", w->number, "= wave total",
			       whosts, "", wpct, wh[1], wh[2], wh[3], wh[4]);
		for (int k = 1; k < 5; k++)
			total[k] += wh[k];
		thosts += whosts;
		tsum += wsum;
	}
	if (rc) {
		snapshot_index_free(&ix);
		fprintf(stderr, "%s: reading migration statuses: %s\n", p.cli.prog, db_strerror(rc));
		progress_hosts_free(&tasks);
		progress_tasks_free(&ts);
		read_end(&t);
		json_decref(jw);
		planctx_close(&p);
		return 1;
	}
	/* applications that do not move (Retire / Retain) are in no wave */
	size_t staying = 0, staying_hosts = 0;
	for (size_t i = 0; i < s->n_apps; i++)
		if (!snapshot_index_wave(&ix, s->apps[i]->id, NULL)) {
			staying++;
			staying_hosts += s->apps[i]->n_hosts;
		}
	snapshot_index_free(&ix);
	double tpct = thosts ? tsum / thosts : 0;
	if (jw)
		format_print_json(json_pack("{s:o, s:{s:i, s:f, s:{s:i, s:i, s:i, s:i}}, s:{s:i, s:i}}", "waves", jw,
				     "total", "hosts", (int)thosts, "percent", tpct, "host_states", "NOT_STARTED",
				     (int)total[1], "IN_PROGRESS", (int)total[2], "FAILED", (int)total[3],
				     "COMPLETED", (int)total[4], "not_migrated", "apps", (int)staying, "hosts",
				     (int)staying_hosts));
	else
		printf("TOTAL %u %s: %.0f%% done; %u not started (%.0f%%), %u in progress, %u failed, "
		       "%u completed (%.0f%%)\n",
		       thosts, format_noun(thosts, "host", "hosts"), tpct, total[1], thosts ? 100.0 * total[1] / thosts : 0, total[2], total[3],
		       total[4], thosts ? 100.0 * total[4] / thosts : 0);
	if (!jw && staying)
		printf("Not migrated (Retire / Retain): %zu application%s, %zu host%s; 'plan waves' lists them\n",
		       staying, staying == 1 ? "" : "s", staying_hosts, staying_hosts == 1 ? "" : "s");
	rc = print_tasks(&t, s, &ts, &tasks);
	progress_hosts_free(&tasks);
	progress_tasks_free(&ts);
	read_end(&t);
	if (rc)
		fprintf(stderr, "%s: reading migration statuses: %s\n", p.cli.prog, db_strerror(rc));
	planctx_close(&p);
	return rc ? 1 : 0;
}

/* ---------------------------------------------------------------- validate */

static void validate_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector validate SOURCE TARGET [--json]\n\n"
		   "Compares a migrated host (TARGET, running its own agent) with its source:\n"
		   "listeners, outbound and inbound dependencies, key package versions and\n"
		   "utilization. Exit code 4 when something important is missing on the target\n"
		   "(a TCP listener, an outbound dependency, a key package); 3 when SOURCE or\n"
		   "TARGET is not known.\n\n");
	cli_usage_common(f);
}

int validate_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, validate_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (p.cli.nargs != 2) {
		fprintf(stderr, "%s: expected SOURCE and TARGET hosts\n", p.cli.prog);
		cli_try_help(p.cli.prog);
		return 2;
	}
	if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
		planctx_close(&p);
		return rc;
	}
	char sid[256], tid[256];
	bool sapp = false, tapp = false;
	if ((rc = planctx_resolve(&p, p.cli.args[0], sid, sizeof(sid), &sapp)) ||
	    (rc = planctx_resolve(&p, p.cli.args[1], tid, sizeof(tid), &tapp))) {
		planctx_close(&p);
		return rc;
	}
	if (sapp || tapp || !strcmp(sid, tid)) {
		fprintf(stderr, "%s: SOURCE and TARGET must be two different hosts\n", p.cli.prog);
		planctx_close(&p);
		return 2;
	}
	struct read_txn t;
	struct estate es;
	struct errbuf eb = { { 0 } };
	if ((rc = read_begin(&p.rd, &t, &eb))) {
		fprintf(stderr, "%s: %s\n", p.cli.prog, eb.msg);
		planctx_close(&p);
		return 1;
	}
	struct estate_opts eo;
	plan_estate_opts(&eo, p.opt.since_ms, p.opt.now_ms, p.opt.percentile);
	rc = estate_load(t.txn, t.db, &eo, &es, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p.cli.prog, eb.msg);
		planctx_close(&p);
		return 1;
	}
	const struct estate_host *src = estate_find(&es, sid), *dst = estate_find(&es, tid);
	struct migrate_report rep;
	if (!src || !dst || migrate_validate(src, dst, p.snap->map, &rep)) {
		fprintf(stderr, "%s: comparing %s with %s failed (no data for one of them?)\n", p.cli.prog,
			p.cli.args[0], p.cli.args[1]);
		estate_free(&es);
		planctx_close(&p);
		return 1;
	}
	if (p.cli.json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < rep.n; i++)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "area", rep.v[i].area,
							     "item", rep.v[i].item, "source", rep.v[i].source,
							     "target", rep.v[i].target, "status",
							     migrate_check_name(rep.v[i].status), "important",
							     rep.v[i].important));
		format_print_json(json_pack("{s:s, s:s, s:s, s:s, s:i, s:o}", "source", src->id, "source_name", src->name,
				     "target", dst->id, "target_name", dst->name, "important_missing",
				     (int)rep.important_missing, "checks", arr));
	} else {
		printf("Validating %s (target) against %s (source)\n\n", dst->name, src->name);
		printf("%-11s  %-40s  %-24s  %-24s  %s\n", "AREA", "ITEM", "SOURCE", "TARGET", "STATUS");
		size_t counts[4] = { 0 };
		for (size_t i = 0; i < rep.n; i++) {
			const struct migrate_check *c = &rep.v[i];
			counts[c->status]++;
			printf("%-11s  %-40.40s  %-24.24s  %-24.24s  %s%s\n", c->area, c->item, c->source, c->target,
			       migrate_check_name(c->status), c->important ? " (important)" : "");
		}
		printf("\n%zu ok, %zu missing (%zu important), %zu changed, %zu only on the target\n", counts[0],
		       counts[1], rep.important_missing, counts[2], counts[3]);
	}
	rc = rep.important_missing ? CMD_EXIT_CHECK : CMD_EXIT_OK;
	migrate_report_free(&rep);
	estate_free(&es);
	planctx_close(&p);
	return rc;
}
