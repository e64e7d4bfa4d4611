/* cairn-collector hosts: every host that reported, with last-seen time and
 * record counts. A first reader of the store (the analysis commands build on
 * the same DBs). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "enroll.h"
#include "keys.h"
#include "docs.h"
#include "format.h"
#include "pbjson.h"
#include "read.h"
#include "snapshot.h"
#include "tags.h"

static void hosts_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector hosts [--app APP] [--tag KEY=VALUE]... [--json]\n"
		   "                             [--state-dir DIR | -c FILE]\n\n"
		   "Lists the hosts whose agents delivered data: hostname, OS, last seen, and\n"
		   "how many batches and records are stored, and how its agent captures\n"
		   "connections: ebpf (every connection counted, short-lived ones too) or\n"
		   "poll (sockets open at a sample instant only; --json says why). Servers\n"
		   "imported without an agent (`import`) are listed too: SOURCE is agent,\n"
		   "import or agent+import, LAST SEEN of an imported one is its import. In host-name\n"
		   "order; --sort COLUMN orders by another column.\n\n"
		   "      --app APP         only the hosts of that application (name or id)\n"
		   "      --tag KEY=VALUE   only the hosts with that tag, on the host or its\n"
		   "                        application (repeatable: all must hold)\n");
	cli_usage_common(f);
}

struct hosts_args {
	const char *app;
	struct tags_filter tagf;
};

static int hosts_opt(int opt, const char *arg, void *ctx)
{
	struct hosts_args *a = ctx;
	if (opt == CLI_OPT_USER) {
		a->app = arg;
		return 0;
	}
	if (opt != CLI_OPT_USER + 1)
		return -1;
	struct errbuf eb = { { 0 } };
	if (tags_filter_add(&a->tagf, arg, &eb)) {
		fprintf(stderr, "cairn-collector hosts: --tag: %s\n", eb.msg);
		return -1;
	}
	return 0;
}

/* Drops the rows of doc (docs_hosts) whose host fails --tag (ha: host ->
 * application of the snapshot). */
static void keep_tagged(json_t *doc, const struct tags_filter *f, const struct tags_all *t,
			const struct snapshot_names *ha)
{
	for (size_t i = json_array_size(doc); f->n && i-- > 0;) {
		const char *id = json_string_value(json_object_get(json_array_get(doc, i), "id"));
		const char *app = id ? snapshot_host_apps_get(ha, id) : NULL;
		if (!id || !tags_filter_host(f, t, id, app))
			json_array_remove(doc, i);
	}
}

int hosts_main(int argc, char *argv[])
{
	struct cli cli;
	struct hosts_args ha = { 0 };
	static const struct option longopts[] = { { "app", required_argument, NULL, CLI_OPT_USER },
						  { "tag", required_argument, NULL, CLI_OPT_USER + 1 },
						  { 0 } };
	struct cli_extra extra = { NULL, longopts, hosts_opt, &ha };
	const char *app_arg;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, hosts_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli.prog, cli.args[0]);
		cli_try_help(cli.prog);
		return 2;
	}
	app_arg = ha.app;
	struct read_ctx r;
	if ((rc = cmd_open_store(&r, &cli, false)))
		return rc;
	struct errbuf eb = { { 0 } };
	struct read_txn t;
	struct read_agents ags;
	if ((rc = read_begin(&r, &t, &eb)) ||
	    (rc = read_agents(&t, READ_AGENT_FACTS | READ_AGENT_COUNTS | READ_AGENT_HEALTH | READ_AGENT_IMPORTS,
				&ags, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_end(&t);
		read_close(&r);
		return 1;
	}
	Cairn__Store__Snapshot *snap = NULL;
	read_snapshot_latest(t.txn, t.db, false, &snap, NULL); /* none yet: no APP column values */
	struct tags_all tags = { 0 };
	if ((rc = tags_load(t.txn, t.db, &tags, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_end(&t);
		if (snap)
			cairn__store__snapshot__free_unpacked(snap, NULL);
		read_agents_free(&ags);
		read_close(&r);
		return 1;
	}
	read_end(&t);
	/* host -> application, for --tag (one index, not a scan per row) */
	struct snapshot_names hostapps = { 0 };
	if (snap && ha.tagf.n && snapshot_host_apps_build(snap, &hostapps)) {
		fprintf(stderr, "%s: out of memory\n", cli.prog);
		cairn__store__snapshot__free_unpacked(snap, NULL);
		tags_all_free(&tags);
		snapshot_names_free(&hostapps);
		read_agents_free(&ags);
		read_close(&r);
		return 1;
	}
	const char *only_app = NULL; /* --app, as the APP column names it */
	if (app_arg) {
		size_t ai;
		Cairn__Store__Snapshot none = CAIRN__STORE__SNAPSHOT__INIT;
		if ((rc = read_find_app(snap ? snap : &none, app_arg, &ai, &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			if (snap)
				cairn__store__snapshot__free_unpacked(snap, NULL);
			tags_all_free(&tags);
			snapshot_names_free(&hostapps);
			read_agents_free(&ags);
			read_close(&r);
			return cmd_exit_code(rc);
		}
		only_app = snap->apps[ai]->name;
	}
	if (cli.json) {
		json_t *doc = docs_hosts(&ags, snap);
		docs_add_tags(doc, &tags, "id", false);
		keep_tagged(doc, &ha.tagf, &tags, &hostapps);
		if (only_app)
			for (size_t i = json_array_size(doc); i-- > 0;) {
				const char *app = json_string_value(
					json_object_get(json_array_get(doc, i), "app"));
				if (!app || strcmp(app, only_app))
					json_array_remove(doc, i);
			}
		tags_all_free(&tags);
		snapshot_names_free(&hostapps);
		if (snap)
			cairn__store__snapshot__free_unpacked(snap, NULL);
		read_agents_free(&ags);
		read_close(&r);
		return format_print_json(doc) ? 1 : 0;
	}
	/* the APP column: the same document's "app" per host */
	json_t *apps = docs_hosts(&ags, snap);
	static const char *const head[] = { "FINGERPRINT", "HOSTNAME", "OS", "LAST SEEN (UTC)",
					     "BATCHES", "RECORDS", "PERF", "EDGES", "STATE", "CAPTURE",
					     "SOURCE", "APP", NULL };
	struct format_table *tab = format_table_new(12, head);
	size_t n = 0, shown = 0;
	for (size_t i = 0; i < ags.n; i++) {
		const struct read_agent *ra = &ags.v[i];
		const Cairn__Store__Agent *a = ra->agent;
		if (!docs_host_listed(ra))
			continue;
		const Cairn__HostInfo *hi = ra->facts ? ra->facts->info : NULL;
		const char *hostname = hi && *hi->hostname ? hi->hostname : a->hostname;
		const char *os = hi && hi->os && *hi->os->pretty_name ? hi->os->pretty_name : "-";
		int64_t last = a->last_batch_ms ? a->last_batch_ms : a->last_seen_ms;
		const char *app = json_string_value(json_object_get(json_array_get(apps, n), "app"));
		n++;
		if (only_app && (!app || strcmp(app, only_app)))
			continue;
		if (ha.tagf.n && !tags_filter_host(&ha.tagf, &tags, ra->id_hex,
						   snapshot_host_apps_get(&hostapps, ra->id_hex)))
			continue;
		/* Agents before capture reporting send no mechanism: unknown. */
		const char *capture = ra->health && *ra->health->capture ? ra->health->capture : "";
		const char *capture_kind = !*capture ? "-" : ra->health->capture_ebpf ? "ebpf" : "poll";
		if (tab) {
			char seen[32];
			format_time_sec(last, seen, sizeof(seen));
			format_table_rowf(tab, "%s\t%s\t%s\t%s\t%llu\t%llu\t%llu\t%llu\t%s\t%s\t%s\t%s",
					  ra->fingerprint, *hostname ? hostname : "-", os, seen,
					  (unsigned long long)a->batches_stored,
					  (unsigned long long)a->records_stored,
					  (unsigned long long)ra->perf_windows,
					  (unsigned long long)ra->edge_records,
					  ra->imported_only ? "imported" : store_enroll_state_name(a->state),
					  capture_kind, read_agent_source(ra), app && *app ? app : "-");
		}
		shown++;
	}
	json_decref(apps);
	tags_all_free(&tags);
	snapshot_names_free(&hostapps);
	if (snap)
		cairn__store__snapshot__free_unpacked(snap, NULL);
	read_agents_free(&ags);
	read_close(&r);
	if (!n) {
		printf("(no host has delivered data yet)\n");
	} else if (!shown) {
		printf(ha.tagf.n ? "(no host matches)\n" : "(no host in that application)\n");
	} else if (tab) {
		for (size_t c = 4; c < 8; c++)
			format_table_align_right(tab, c);
		format_table_elastic(tab, 1);
		format_table_elastic(tab, 2);
		format_table_elastic(tab, 11);
		format_table_sort(tab, "HOSTNAME"); /* by name, not by key: --sort changes it */
		format_table_print(tab, stdout);
	}
	format_table_free(tab);
	return 0;
}
