/* cairn-collector notify STREAM TASK --status S ... | notify list | notify
 * streams | notify rm: a migration tool's progress from a script, the same
 * reports as PUT /api/v1/progress-streams/STREAM/tasks/TASK
 * (collector/plan/progress.h), written to the local store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "docs.h"
#include "format.h"
#include "progress.h"
#include "progress_docs.h"
#include "read.h"

enum {
	OPT_STATUS = CLI_OPT_USER,
	OPT_PERCENT,
	OPT_DETAIL,
	OPT_NEXT_UPDATE,
	OPT_RESOURCE,
	OPT_TIME,
};

/* The options as given; checked once the names are known. */
struct notify_opts {
	const char *status, *percent, *detail, *next_update, *time;
	const char *resources[PROGRESS_RESOURCES_MAX + 1];
	size_t nresources;
	bool too_many;
};

static void notify_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector notify STREAM TASK --status S [--percent N] [--detail TEXT]\n"
		   "           [--next-update SECONDS] [--resource R]... [--time ISO8601]\n"
		   "       cairn-collector notify list [STREAM [TASK]] [--json]\n"
		   "       cairn-collector notify streams [--json]\n"
		   "       cairn-collector notify rm STREAM [TASK]\n"
		   "       cairn-collector notify log [STREAM [TASK]] [--json]\n\n"
		   "Reports the state of a migration task the way a migration tool does through\n"
		   "PUT /api/v1/progress-streams/STREAM/tasks/TASK (docs/console.md): for tools that\n"
		   "can run a command after each step. The resources (host ids, names, IPs or MACs)\n"
		   "link the task to hosts: their migration status and 'progress' follow the tasks\n"
		   "unless a person set it with 'migrate set'. Resources that match no host are\n"
		   "kept and matched again later (after an import or enrollment). Every change goes\n"
		   "to the audit log with the OS user (the API's with the token's name); 'notify log'\n"
		   "shows those entries. Works while serve runs.\n\n"
		   "S: NOT_STARTED, IN_PROGRESS, FAILED, COMPLETED. A task with a promised next\n"
		   "update (--next-update) that does not come in time is shown as stale.\n"
		   "Exit codes: 0 ok, 1 runtime failure, 2 usage or a value out of range,\n"
		   "3 no such stream or task (list, rm).\n\n");
	cli_usage_common(f);
	fprintf(f, "  --status S               the task's status (required to report)\n"
		   "  --percent N              percent done, 0..100 (COMPLETED: 100 unless given)\n"
		   "  --detail TEXT            status detail, at most %d characters\n"
		   "  --next-update SECONDS    when the next report is due (0: none promised)\n"
		   "  --resource R             a host id, hostname, IP or MAC (repeatable, at most %d)\n"
		   "  --time ISO8601           when the tool saw this state (default: now)\n",
		PROGRESS_DETAIL_MAX, PROGRESS_RESOURCES_MAX);
}

static int notify_opt(int opt, const char *arg, void *ctx)
{
	struct notify_opts *o = ctx;
	switch (opt) {
	case OPT_STATUS: o->status = arg; return 0;
	case OPT_PERCENT: o->percent = arg; return 0;
	case OPT_DETAIL: o->detail = arg; return 0;
	case OPT_NEXT_UPDATE: o->next_update = arg; return 0;
	case OPT_TIME: o->time = arg; return 0;
	case OPT_RESOURCE:
		if (o->nresources == PROGRESS_RESOURCES_MAX)
			o->too_many = true;
		else
			o->resources[o->nresources++] = arg;
		return 0;
	}
	return -1;
}

/* An integer lo..hi of the whole text. */
static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* The options into u (names already in it): 0 or prints why and -EINVAL. */
static int options_to_update(const struct cli *cli, const struct notify_opts *o,
			     struct progress_update *u)
{
	struct errbuf eb = { { 0 } };
	unsigned long v;
	int rc = progress_status_parse("--status", o->status, &u->status, &eb);
	if (!rc && o->percent) {
		if (parse_uint(o->percent, 0, 100, &v))
			u->percent = (int)v;
		else
			rc = errbuf_set(&eb, -EINVAL, "--percent: '%s': an integer 0..100", o->percent);
	}
	if (!rc && o->detail) {
		size_t chars = 0;
		for (const char *c = o->detail; *c; c++)
			chars += ((unsigned char)*c & 0xc0) != 0x80;
		if (chars > PROGRESS_DETAIL_MAX || strlen(o->detail) >= sizeof(u->detail))
			rc = errbuf_set(&eb, -EINVAL, "--detail: %zu characters: at most %d", chars,
					PROGRESS_DETAIL_MAX);
		else
			str_copy(u->detail, o->detail, sizeof(u->detail));
	}
	if (!rc && o->next_update) {
		if (parse_uint(o->next_update, 0, PROGRESS_NEXT_UPDATE_MAX, &v))
			u->next_update_s = (uint32_t)v;
		else
			rc = errbuf_set(&eb, -EINVAL, "--next-update: '%s': seconds, 0..%u",
					o->next_update, PROGRESS_NEXT_UPDATE_MAX);
	}
	if (!rc && o->time && progress_time_parse(o->time, &u->update_ms))
		rc = errbuf_set(&eb, -EINVAL, "--time: '%s': use ISO 8601 (2026-12-02T17:30:00Z)",
				o->time);
	if (!rc && o->too_many)
		rc = errbuf_set(&eb, -E2BIG, "--resource: more than %d", PROGRESS_RESOURCES_MAX);
	for (size_t i = 0; !rc && i < o->nresources; i++)
		rc = progress_update_add_resource(u, "--resource", o->resources[i], &eb);
	if (rc)
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
	return rc;
}

static void print_task(const Cairn__Store__ProgressTask *t, const struct read_host *names)
{
	printf("%s/%s: %s %u%%", t->stream, t->task, migrate_state_name(t->status), t->progress_pct);
	if (*t->detail)
		printf(" (%s)", t->detail);
	printf(", %zu host%s", t->n_hosts, t->n_hosts == 1 ? "" : "s");
	for (size_t i = 0; i < t->n_hosts; i++)
		printf("%s%s", i ? ", " : ": ",
		       names && names[i].hostname[0] ? names[i].hostname : t->hosts[i]);
	if (t->n_unmatched) {
		printf("; matched no host (kept):");
		for (size_t i = 0; i < t->n_unmatched; i++)
			printf(" %s", t->unmatched[i]);
	}
	printf("\n");
}

static int report(struct cli *cli, struct read_ctx *r, const struct progress_update *u)
{
	struct progress_writer w;
	struct errbuf eb = { { 0 } };
	struct progress_result res;
	if (progress_writer_init(&w, r))
		return CMD_EXIT_FAIL;
	int rc = progress_put(&w, u, os_user_name(), time_now_ms(), &res, &eb);
	progress_writer_destroy(&w);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return rc == -EINVAL ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	struct read_txn t;
	struct read_host *names = calloc(res.task->n_hosts + 1, sizeof(*names));
	if (names && !read_begin(r, &t, &eb)) {
		for (size_t i = 0; i < res.task->n_hosts; i++) {
			str_copy(names[i].id_hex, res.task->hosts[i], sizeof(names[i].id_hex));
			struct read_host h;
			if (!read_find_host(t.txn, t.db, res.task->hosts[i], &h, NULL))
				names[i] = h;
		}
		read_end(&t);
	}
	if (cli->json) {
		json_t *doc = docs_progress_task(res.task, time_now_ms(), names,
						 names ? res.task->n_hosts : 0);
		if (doc) {
			json_object_set_new(doc, "applied", json_boolean(res.applied));
			json_object_set_new(doc, "created", json_boolean(res.created));
		}
		rc = format_print_json(doc) ? CMD_EXIT_FAIL : 0;
	} else {
		if (!res.applied) {
			char at[40];
			progress_time_format(res.task->update_ms, at, sizeof(at));
			printf("a later report (%s) is stored: kept\n", at);
		}
		print_task(res.task, names);
	}
	free(names);
	progress_result_free(&res);
	return rc;
}

static int list(struct cli *cli, struct read_ctx *r, bool streams)
{
	const char *stream = cli->nargs > 1 ? cli->args[1] : NULL;
	const char *task = cli->nargs > 2 ? cli->args[2] : NULL;
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	int rc = read_begin(r, &t, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return CMD_EXIT_FAIL;
	}
	int64_t now = time_now_ms();
	struct progress_tasks ts = { 0 };
	struct read_host *hosts = NULL;
	size_t nh = 0;
	json_t *doc = NULL;
	Cairn__Store__ProgressTask *m = NULL;
	if (task) {
		if (!(rc = progress_task_read(t.txn, t.db, stream, task, &m, &eb))) {
			ts.v = &m;
			ts.n = 1;
		}
	} else {
		rc = progress_tasks_read(t.txn, t.db, stream, &ts, &eb);
		if (!rc && stream && !ts.n)
			rc = errbuf_set(&eb, -ENOENT, "no stream '%s' (no task reported in it)", stream);
	}
	if (!rc)
		rc = read_hosts_list(t.txn, t.db, &hosts, &nh, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		if (task && ts.n)
			cairn__store__progress_task__free_unpacked(ts.v[0], NULL);
		else
			progress_tasks_free(&ts);
		return rc == -ENOENT ? CMD_EXIT_NOTFOUND : CMD_EXIT_FAIL;
	}
	if (streams) {
		struct progress_stream *sv = NULL;
		size_t sn = 0;
		if (!progress_streams(&ts, now, &sv, &sn)) {
			if (cli->json) {
				doc = docs_progress_streams(sv, sn);
			} else {
				static const char *const head[] = { "STREAM", "TASKS", "NOT", "PROG", "FAIL",
								    "COMPL", "STALE", "LAST UPDATE", NULL };
				struct format_table *tab = format_table_new(8, head);
				for (size_t i = 0; tab && i < sn; i++) {
					char at[40];
					progress_time_format(sv[i].updated_ms, at, sizeof(at));
					format_table_rowf(tab, "%s\t%u\t%u\t%u\t%u\t%u\t%u\t%s", sv[i].name,
							  sv[i].tasks, sv[i].states[1], sv[i].states[2],
							  sv[i].states[3], sv[i].states[4], sv[i].stale, at);
				}
				if (tab && sn)
					format_table_print(tab, stdout);
				else
					printf("(no task reported yet)\n");
				format_table_free(tab);
			}
		}
		free(sv);
	} else if (cli->json) {
		doc = task ? docs_progress_task(ts.v[0], now, hosts, nh)
			   : docs_progress_tasks(stream, &ts, now, hosts, nh);
	} else {
		static const char *const head[] = { "STREAM", "TASK", "STATUS", "PCT", "STALE",
						    "UPDATED (UTC)", "HOSTS", "UNMATCHED", "DETAIL", NULL };
		struct format_table *tab = format_table_new(9, head);
		for (size_t i = 0; tab && i < ts.n; i++) {
			const Cairn__Store__ProgressTask *row = ts.v[i];
			char at[40], unm[300] = "";
			format_time_sec(row->update_ms, at, sizeof(at));
			for (size_t k = 0; k < row->n_unmatched; k++) {
				size_t used = strlen(unm);
				snprintf(unm + used, sizeof(unm) - used, "%s%s", k ? " " : "", row->unmatched[k]);
			}
			format_table_rowf(tab, "%s\t%s\t%s\t%u%%\t%s\t%s\t%zu\t%s\t%s", row->stream, row->task,
					  migrate_state_name(row->status), row->progress_pct,
					  progress_task_stale(row, now) ? "stale" : "", at, row->n_hosts, unm,
					  row->detail);
		}
		if (tab && ts.n)
			format_table_print(tab, stdout);
		else
			printf("(no task reported yet)\n");
		format_table_free(tab);
	}
	if (doc)
		rc = format_print_json(doc) ? CMD_EXIT_FAIL : 0;
	else if (cli->json)
		rc = CMD_EXIT_FAIL;
	free(hosts);
	if (task)
		cairn__store__progress_task__free_unpacked(ts.v[0], NULL);
	else
		progress_tasks_free(&ts);
	return rc;
}

/* The audit entries of the progress API and notify, of one stream or task. */
static int show_log(struct cli *cli, struct read_ctx *r)
{
	char prefix[PROGRESS_STREAM_MAX + PROGRESS_TASK_MAX + 2] = "";
	if (cli->nargs > 2)
		snprintf(prefix, sizeof(prefix), "%s/%s", cli->args[1], cli->args[2]);
	else if (cli->nargs > 1)
		snprintf(prefix, sizeof(prefix), "%s/", cli->args[1]);
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	struct read_audit au;
	int rc = read_begin(r, &t, &eb);
	if (!rc)
		rc = read_audit(&t, 0, 0, &au, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return CMD_EXIT_FAIL;
	}
	json_t *arr = cli->json ? json_array() : NULL;
	static const char *const head[] = { "TIME (UTC)", "BY", "ACTION", "TASK", "CHANGE", NULL };
	struct format_table *tab = cli->json ? NULL : format_table_new(5, head);
	size_t shown = 0;
	for (size_t i = 0; i < au.n; i++) {
		const Cairn__Store__AuditEntry *e = au.v[i];
		bool whole = cli->nargs > 2 && !strcmp(e->target, prefix);
		if (strncmp(e->action, "progress.", 9) ||
		    (*prefix && !whole && strncmp(e->target, prefix, strlen(prefix))) ||
		    (cli->nargs > 2 && !whole))
			continue;
		shown++;
		if (arr) {
			json_array_append_new(arr, json_pack("{s:I, s:o, s:s, s:o, s:o}", "time_ms",
							     (json_int_t)e->time_ms, "user",
							     docs_json_str(e->user), "action", e->action,
							     "target", docs_json_str(e->target), "detail",
							     docs_json_str(e->detail)));
		} else if (tab) {
			char at[40];
			format_time_sec(e->time_ms, at, sizeof(at));
			format_table_rowf(tab, "%s\t%s\t%s\t%s\t%s", at, e->user, e->action, e->target,
					  e->detail);
		}
	}
	read_audit_free(&au);
	if (arr)
		return format_print_json(arr) ? CMD_EXIT_FAIL : 0;
	if (tab && shown) {
		format_table_elastic(tab, 4);
		format_table_print(tab, stdout);
	} else {
		printf("(no progress reported%s%s)\n", *prefix ? " for " : "", prefix);
	}
	format_table_free(tab);
	return 0;
}

static int remove_tasks(struct cli *cli, struct read_ctx *r)
{
	struct progress_writer w;
	struct errbuf eb = { { 0 } };
	size_t n = 0;
	if (progress_writer_init(&w, r))
		return CMD_EXIT_FAIL;
	int rc = progress_delete(&w, cli->args[1], cli->nargs > 2 ? cli->args[2] : NULL,
				 os_user_name(), time_now_ms(), &n, &eb);
	progress_writer_destroy(&w);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
		return rc == -ENOENT ? CMD_EXIT_NOTFOUND : rc == -EINVAL ? CMD_EXIT_USAGE : CMD_EXIT_FAIL;
	}
	printf("%zu task%s deleted\n", n, n == 1 ? "" : "s");
	return 0;
}

int notify_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "percent", required_argument, NULL, OPT_PERCENT },
		{ "detail", required_argument, NULL, OPT_DETAIL },
		{ "next-update", required_argument, NULL, OPT_NEXT_UPDATE },
		{ "resource", required_argument, NULL, OPT_RESOURCE },
		{ "time", required_argument, NULL, OPT_TIME },
		{ 0 },
	};
	struct notify_opts o;
	memset(&o, 0, sizeof(o));
	struct cli_extra extra = { NULL, longopts, notify_opt, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, notify_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *verb = cli.nargs ? cli.args[0] : "";
	bool put = o.status && cli.nargs == 2;
	bool is_list = !o.status && !strcmp(verb, "list") && cli.nargs <= 3;
	bool is_streams = !o.status && !strcmp(verb, "streams") && cli.nargs == 1;
	bool is_rm = !o.status && !strcmp(verb, "rm") && (cli.nargs == 2 || cli.nargs == 3);
	bool is_log = !o.status && !strcmp(verb, "log") && cli.nargs <= 3;
	if (!put && !is_list && !is_streams && !is_rm && !is_log) {
		fprintf(stderr, "%s: expected 'notify STREAM TASK --status S', 'notify list [STREAM [TASK]]', "
				"'notify streams', 'notify rm STREAM [TASK]' or 'notify log'\n",
			cli.prog);
		cli_try_help(cli.prog);
		return CMD_EXIT_USAGE;
	}
	struct errbuf eb = { { 0 } };
	struct progress_update *u = NULL;
	if (put) {
		u = malloc(sizeof(*u));
		if (!u)
			return CMD_EXIT_FAIL;
		if ((rc = progress_update_init(u, cli.args[0], cli.args[1], &eb)))
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		else
			rc = options_to_update(&cli, &o, u);
		if (rc) {
			free(u);
			return CMD_EXIT_USAGE;
		}
	} else if (cli.nargs > 1 &&
		   ((rc = progress_name_check("stream", cli.args[1], PROGRESS_STREAM_MAX, &eb)) ||
		    (cli.nargs > 2 &&
		     (rc = progress_name_check("task", cli.args[2], PROGRESS_TASK_MAX, &eb))))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		return CMD_EXIT_USAGE;
	}
	struct read_ctx r;
	if ((rc = cmd_open_store(&r, &cli, put || is_rm))) {
		free(u);
		return rc;
	}
	if (put)
		rc = report(&cli, &r, u);
	else if (is_rm)
		rc = remove_tasks(&cli, &r);
	else if (is_log)
		rc = show_log(&cli, &r);
	else
		rc = list(&cli, &r, is_streams);
	free(u);
	read_close(&r);
	return rc;
}
