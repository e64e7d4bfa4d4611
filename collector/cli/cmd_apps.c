/* cairn-collector apps: the applications found in the dependency map, and
 * people's corrections to them.
 *
 *   apps [--json] [--fresh]          list applications and shared infrastructure
 *   apps show APP [--json]           hosts, services, dependencies of one
 *   apps rename APP NAME             decisions, kept across recomputation
 *   apps pin HOST APP
 *   apps unpin HOST
 *   apps merge A B                   B's hosts join A
 *   apps split APP HOST...           the hosts leave APP for a new application
 *
 * Decisions go to DB decisions with an audit entry (time, OS user); the
 * snapshot is recomputed at once so the next command shows the result. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "cli.h"
#include "commands.h"
#include "pbjson.h"
#include "docs.h"
#include "format.h"
#include "decide.h"
#include "read.h"
#include "snapshot.h"
#include "store.h"
#include "tags.h"

static void apps_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector apps [--tag KEY=VALUE]... [--json] [--fresh]\n"
		   "       cairn-collector apps show APP [--json]\n"
		   "       cairn-collector apps rename APP NAME [--merge]\n"
		   "       cairn-collector apps pin HOST APP\n"
		   "       cairn-collector apps unpin HOST\n"
		   "       cairn-collector apps merge A B      (B's hosts join A)\n"
		   "       cairn-collector apps split APP HOST...\n\n"
		   "Applications are groups of hosts that work together, found automatically\n"
		   "from the dependency map; shared infrastructure (DNS, NTP, LDAP, monitoring,\n"
		   "shared databases ...) is listed apart. APP is an application id or name;\n"
		   "HOST a hostname, id, id prefix or fingerprint. Decisions survive\n"
		   "recomputation and new data. A name another application has is refused;\n"
		   "rename --merge merges APP into the application of that name instead.\n\n"
		   "      --fresh           recompute the snapshot first\n"
		   "      --tag KEY=VALUE   only applications with that tag, on the application or\n"
		   "                        one of its hosts (repeatable: all must hold)\n"
		   "      --merge           rename onto a taken name: merge into that application\n");
	cli_usage_common(f);
}

enum { OPT_FRESH = CLI_OPT_USER, OPT_MERGE, OPT_TAG };

struct apps_flags {
	bool fresh, merge;
	struct tags_filter tagf;
};

static int apps_opt(int opt, const char *arg, void *ctx)
{
	(void)arg;
	struct apps_flags *f = ctx;
	if (opt == OPT_FRESH) {
		f->fresh = true;
		return 0;
	}
	if (opt == OPT_MERGE) {
		f->merge = true;
		return 0;
	}
	if (opt == OPT_TAG) {
		struct errbuf eb = { { 0 } };
		if (!tags_filter_add(&f->tagf, arg, &eb))
			return 0;
		fprintf(stderr, "cairn-collector apps: --tag: %s\n", eb.msg);
	}
	return -1;
}

struct names {
	struct read_host *hosts;
	size_t n;
	struct tags_all tags;
	const struct tags_filter *tagf;
};

static const char *host_name(const struct names *nm, const char *id_hex)
{
	for (size_t i = 0; i < nm->n; i++)
		if (!strcmp(nm->hosts[i].id_hex, id_hex))
			return nm->hosts[i].hostname[0] ? nm->hosts[i].hostname : nm->hosts[i].fingerprint;
	return id_hex;
}

static int load_names(struct read_ctx *q, struct names *nm, struct errbuf *eb)
{
	struct read_txn t;
	int rc = read_begin(q, &t, eb);
	if (rc)
		return rc;
	rc = read_hosts_list(t.txn, t.db, &nm->hosts, &nm->n, eb);
	if (!rc)
		rc = tags_load(t.txn, t.db, &nm->tags, eb);
	read_end(&t);
	return rc;
}

static void join(char *out, size_t n, char **items, size_t k, size_t max)
{
	out[0] = '\0';
	for (size_t i = 0; i < k && i < max; i++) {
		size_t used = strlen(out);
		snprintf(out + used, n - used, "%s%s", i ? "," : "", items[i]);
	}
	if (k > max) {
		size_t used = strlen(out);
		snprintf(out + used, n - used, ",...");
	}
}

static int list_apps(const struct cli *cli, const Cairn__Store__Snapshot *s, const struct names *nm)
{
	if (cli->json) {
		json_t *doc = docs_apps(s);
		json_t *arr = json_object_get(doc, "apps");
		docs_add_tags(arr, &nm->tags, "id", true);
		for (size_t i = json_array_size(arr); nm->tagf->n && i-- > 0;)
			if (!tags_filter_app(nm->tagf, &nm->tags, s->apps[i]->id, s->apps[i]->hosts,
					     s->apps[i]->n_hosts))
				json_array_remove(arr, i);
		return format_print_json(doc) ? 1 : 0;
	}
	for (int infra = 0; infra < 2; infra++) {
		static const char *const h[] = { "ID", "NAME", "HOSTS", "SERVICES", "NAMED FROM",
						 "MEMBERS", NULL };
		struct format_table *t = format_table_new(6, h);
		if (!t)
			return 1;
		size_t rows = 0;
		for (size_t i = 0; i < s->n_apps; i++) {
			const Cairn__Store__App *a = s->apps[i];
			if (a->infrastructure != (infra == 1))
				continue;
			if (!tags_filter_app(nm->tagf, &nm->tags, a->id, a->hosts, a->n_hosts))
				continue;
			char svc[128], members[1024] = "";
			join(svc, sizeof(svc), a->services, a->n_services, 3);
			/* the first three members by name (hosts are stored by key) */
			const char *first[3] = { NULL, NULL, NULL };
			for (size_t j = 0; j < a->n_hosts; j++) {
				const char *hn = host_name(nm, a->hosts[j]);
				for (size_t k = 0; k < 3; k++)
					if (!first[k] || strcmp(hn, first[k]) < 0) {
						for (size_t m = 2; m > k; m--)
							first[m] = first[m - 1];
						first[k] = hn;
						break;
					}
			}
			for (size_t j = 0; j < 3 && first[j]; j++) {
				size_t used = strlen(members);
				snprintf(members + used, sizeof(members) - used, "%s%s", j ? "," : "",
					 first[j]);
			}
			if (a->n_hosts > 3)
				strncat(members, ",...", sizeof(members) - strlen(members) - 1);
			format_table_rowf(t, "%s\t%s\t%zu\t%s\t%s\t%s", a->id, a->name, a->n_hosts, svc,
					 a->named_from, members);
			rows++;
		}
		format_table_align_right(t, 2);
		format_table_elastic(t, 1);
		format_table_elastic(t, 3);
		format_table_elastic(t, 5);
		if (rows) {
			printf(infra ? "\nShared infrastructure:\n" : "Applications:\n");
			format_table_sort(t, "NAME");
			format_table_print(t, stdout);
		} else if (!infra) {
			printf(nm->tagf->n ? "(no application has that tag)\n"
					   : "(no applications yet: no host has reported connections)\n");
		}
		format_table_free(t);
	}
	char when[32];
	format_time(s->computed_ms, when, sizeof(when));
	printf("\nsnapshot %llu computed %s UTC from %u %s\n", (unsigned long long)s->version, when,
	       s->hosts, format_noun(s->hosts, "host", "hosts"));
	return 0;
}

static int show_app(const struct cli *cli, const Cairn__Store__Snapshot *s, size_t ai,
		    const struct names *nm)
{
	if (cli->json) {
		json_t *doc = docs_app(s, ai, nm->hosts, nm->n);
		docs_add_tags(doc, &nm->tags, "id", true);
		return format_print_json(doc) ? 1 : 0;
	}
	const Cairn__Store__App *a = s->apps[ai];
	const Cairn__Store__DepMap *m = s->map;
	/* node id -> app for the edges */
	static const char *const h[] = { "FROM", "TO", "PORTS", "SAMPLES", "CONFIRMED", NULL };
	struct format_table *tin = format_table_new(5, h), *tout = format_table_new(5, h);
	size_t nin = 0, nout = 0;
	struct read_nodes ix = { 0 };
	if (read_nodes_index(&ix, m)) {
		format_table_free(tin);
		format_table_free(tout);
		return 1;
	}
	for (size_t i = 0; m && i < m->n_host_edges; i++) {
		const Cairn__Store__MapEdge *e = m->host_edges[i];
		const Cairn__Store__MapNode *fnode = read_nodes_get(&ix, e->from);
		const Cairn__Store__MapNode *tnode = read_nodes_get(&ix, e->to);
		const char *fa = fnode ? fnode->app_id : "", *ta = tnode ? tnode->app_id : "";
		const char *fn = fnode ? fnode->name : e->from, *tn = tnode ? tnode->name : e->to;
		bool from_in = !strcmp(fa, a->id), to_in = !strcmp(ta, a->id);
		if (from_in == to_in)
			continue; /* inside the application, or unrelated */
		char ports[96] = "";
		for (size_t p = 0; p < e->n_ports && p < 5; p++) {
			size_t used = strlen(ports);
			snprintf(ports + used, sizeof(ports) - used, "%s%u", p ? "," : "", e->ports[p]);
		}
		format_table_rowf(from_in ? tout : tin, "%s\t%s\t%s\t%llu\t%s", fn, tn, ports,
				 (unsigned long long)e->samples_seen, e->confirmed ? "yes" : "no");
		if (from_in)
			nout++;
		else
			nin++;
	}
	read_nodes_free(&ix);
	printf("%s  %s%s\n", a->name, a->id, a->infrastructure ? "  (shared infrastructure)" : "");
	printf("named from: %s\n", a->named_from);
	char svc[128];
	join(svc, sizeof(svc), a->services, a->n_services, 3);
	printf("services:   %s\n", *svc ? svc : "-");
	{
		char subject[300];
		snprintf(subject, sizeof(subject), "app:%s", a->id);
		const Cairn__Store__TagSet *ts = tags_of(&nm->tags, subject);
		for (size_t i = 0; ts && i < ts->n_tags; i++)
			printf("%s%s=%s (%s)\n", i ? "            " : "tags:       ", ts->tags[i]->key,
			       ts->tags[i]->value, ts->tags[i]->source);
	}
	for (size_t i = 0; i < a->n_why; i++)
		printf("%s%s\n", i ? "            " : "why:        ", a->why[i]);
	printf("\nHosts (%zu):\n", a->n_hosts);
	for (size_t i = 0; i < a->n_hosts; i++) {
		bool pinned = false;
		for (size_t j = 0; j < a->n_pinned_hosts; j++)
			if (!strcmp(a->pinned_hosts[j], a->hosts[i]))
				pinned = true;
		printf("  %-32s %.16s%s\n", host_name(nm, a->hosts[i]), a->hosts[i],
		       pinned ? "  (pinned)" : "");
	}
	printf("\nDepends on (%zu):\n", nout);
	if (nout)
		format_table_print(tout, stdout);
	printf("\nUsed by (%zu):\n", nin);
	if (nin)
		format_table_print(tin, stdout);
	format_table_free(tin);
	format_table_free(tout);
	return 0;
}

/* ------------------------------------------------------------ decisions */

struct put {
	Cairn__Store__DecisionKind kind;
	const char *subject, *value, *action;
	struct errbuf *eb;
};

struct puts_arg {
	struct put *p;
	size_t n;
};

static int puts_fn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct puts_arg *a = arg;
	int64_t now = time_now_ms();
	for (size_t i = 0; i < a->n; i++) {
		int rc = apps_decision_put(txn, env, a->p[i].kind, a->p[i].subject, a->p[i].value,
					   a->p[i].action, now, a->p[i].eb);
		if (rc)
			return rc;
	}
	return 0;
}

static int write_decisions(struct read_ctx *q, struct put *p, size_t n, struct errbuf *eb)
{
	struct puts_arg a = { p, n };
	int rc = decide_write(q, puts_fn, &a, eb);
	if (rc)
		return rc;
	/* show the effect at once */
	struct snapshot_opts so;
	snapshot_opts_default(&so, time_now_ms());
	return snapshot_refresh(&q->db, &so, NULL, eb);
}

static int find_host_arg(struct read_ctx *q, const char *needle, struct read_host *h,
			 struct errbuf *eb)
{
	return read_lookup_host(q, needle, h, eb);
}

static bool app_has_host(const Cairn__Store__App *a, const char *id)
{
	for (size_t i = 0; i < a->n_hosts; i++)
		if (!strcmp(a->hosts[i], id))
			return true;
	return false;
}

static int decide(const struct cli *cli, struct read_ctx *q, Cairn__Store__Snapshot *s,
		  bool merge)
{
	struct errbuf eb = { { 0 } };
	const char *verb = cli->args[0];
	int na = cli->nargs - 1;
	char **args = cli->args + 1;
	size_t ai, bi;
	struct read_host h;
	int frc = 0;
	if (!strcmp(verb, "rename")) {
		if (na != 2 || !*args[1]) {
			fprintf(stderr, "%s: usage: apps rename APP NAME [--merge]; try --help\n",
				cli->prog);
			return 2;
		}
		if ((frc = read_find_app(s, args[0], &ai, &eb)))
			goto fail;
		/* a name another application has would make it ambiguous for
		 * apps show, deps --app and migrate set: refuse, or merge */
		size_t taken = s->n_apps;
		for (size_t i = 0; i < s->n_apps; i++)
			if (i != ai && !strcasecmp(s->apps[i]->name, args[1]))
				taken = i;
		if (taken < s->n_apps && !merge) {
			fprintf(stderr,
				"%s: application %s (%s) is already named '%s'; choose another name, "
				"or add --merge to merge %s into it\n",
				cli->prog, s->apps[taken]->id, s->apps[taken]->name, args[1],
				s->apps[ai]->name);
			return CMD_EXIT_USAGE;
		}
		if (taken < s->n_apps) {
			struct put m = { CAIRN__STORE__DECISION_KIND__APP_MERGE, s->apps[ai]->id,
					 s->apps[taken]->id, "apps.merge", &eb };
			if (write_decisions(q, &m, 1, &eb))
				goto fail;
			printf("merged %s into %s (%s)\n", s->apps[ai]->name, s->apps[taken]->name,
			       s->apps[taken]->id);
			return 0;
		}
		struct put p = { CAIRN__STORE__DECISION_KIND__APP_RENAME, s->apps[ai]->id, args[1],
				 "apps.rename", &eb };
		if (write_decisions(q, &p, 1, &eb))
			goto fail;
		printf("application %s renamed '%s' -> '%s'\n", s->apps[ai]->id, s->apps[ai]->name,
		       args[1]);
		return 0;
	}
	if (!strcmp(verb, "pin")) {
		if (na != 2) {
			fprintf(stderr, "%s: usage: apps pin HOST APP\n", cli->prog);
			return 2;
		}
		if ((frc = find_host_arg(q, args[0], &h, &eb)) ||
		    (frc = read_find_app(s, args[1], &ai, &eb)))
			goto fail;
		struct put p = { CAIRN__STORE__DECISION_KIND__HOST_PIN, h.id_hex, s->apps[ai]->id,
				 "apps.pin", &eb };
		if (write_decisions(q, &p, 1, &eb))
			goto fail;
		printf("host %s pinned to %s (%s)\n", h.hostname[0] ? h.hostname : h.fingerprint,
		       s->apps[ai]->name, s->apps[ai]->id);
		return 0;
	}
	if (!strcmp(verb, "unpin")) {
		if (na != 1) {
			fprintf(stderr, "%s: usage: apps unpin HOST\n", cli->prog);
			return 2;
		}
		if ((frc = find_host_arg(q, args[0], &h, &eb)))
			goto fail;
		struct put p = { CAIRN__STORE__DECISION_KIND__HOST_PIN, h.id_hex, NULL, "apps.unpin",
				 &eb };
		if (write_decisions(q, &p, 1, &eb))
			goto fail;
		printf("host %s unpinned: automatic grouping applies again\n",
		       h.hostname[0] ? h.hostname : h.fingerprint);
		return 0;
	}
	if (!strcmp(verb, "merge")) {
		if (na != 2) {
			fprintf(stderr, "%s: usage: apps merge A B   (B's hosts join A)\n", cli->prog);
			return 2;
		}
		if ((frc = read_find_app(s, args[0], &ai, &eb)) ||
		    (frc = read_find_app(s, args[1], &bi, &eb)))
			goto fail;
		if (ai == bi) {
			fprintf(stderr, "%s: '%s' and '%s' are the same application\n", cli->prog,
				args[0], args[1]);
			return 2;
		}
		struct put p = { CAIRN__STORE__DECISION_KIND__APP_MERGE, s->apps[bi]->id,
				 s->apps[ai]->id, "apps.merge", &eb };
		if (write_decisions(q, &p, 1, &eb))
			goto fail;
		printf("application %s (%s) merged into %s (%s)\n", s->apps[bi]->name, s->apps[bi]->id,
		       s->apps[ai]->name, s->apps[ai]->id);
		return 0;
	}
	if (!strcmp(verb, "split")) {
		if (na < 2) {
			fprintf(stderr, "%s: usage: apps split APP HOST...\n", cli->prog);
			return 2;
		}
		if ((frc = read_find_app(s, args[0], &ai, &eb)))
			goto fail;
		const Cairn__Store__App *a = s->apps[ai];
		struct read_host *hs = calloc((size_t)na, sizeof(*hs));
		struct put *p = calloc((size_t)na + 1, sizeof(*p));
		if (!hs || !p) {
			free(hs);
			free(p);
			fprintf(stderr, "%s: out of memory\n", cli->prog);
			return 1;
		}
		int rc = 0;
		for (int i = 1; i < na && !rc; i++) {
			if ((rc = find_host_arg(q, args[i], &hs[i - 1], &eb)))
				break;
			if (!app_has_host(a, hs[i - 1].id_hex)) {
				errbuf_set(&eb, -ENOENT, "host %s is not in application %s (%s)", args[i],
					   a->name, a->id);
				rc = -ENOENT;
			}
		}
		if (!rc && (size_t)(na - 1) >= a->n_hosts) {
			errbuf_set(&eb, -EINVAL,
				   "splitting every host out of %s leaves it empty; use 'apps rename'",
				   a->name);
			rc = -EINVAL;
		}
		char new_id[64], new_name[300];
		if (!rc) {
			/* a new id from the first host moved, unlike any automatic one */
			snprintf(new_id, sizeof(new_id), "split-%.10s", hs[0].id_hex);
			snprintf(new_name, sizeof(new_name), "%s-split", a->name);
			for (int i = 0; i < na - 1; i++)
				p[i] = (struct put){ CAIRN__STORE__DECISION_KIND__HOST_PIN, hs[i].id_hex,
						     new_id, "apps.split", &eb };
			p[na - 1] = (struct put){ CAIRN__STORE__DECISION_KIND__APP_RENAME, new_id,
						  new_name, "apps.split", &eb };
			rc = write_decisions(q, p, (size_t)na, &eb);
		}
		free(hs);
		free(p);
		if (rc) {
			fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
			return cmd_exit_code(rc);
		}
		printf("%d host(s) split from %s into new application %s (%s); rename it with "
		       "'apps rename %s NAME'\n",
		       na - 1, a->name, new_name, new_id, new_id);
		return 0;
	}
	fprintf(stderr, "%s: unknown subcommand '%s'\n", cli->prog, verb);
	cli_try_help(cli->prog);
	return 2;
fail:
	fprintf(stderr, "%s: %s\n", cli->prog, eb.msg);
	return frc ? cmd_exit_code(frc) : CMD_EXIT_FAIL;
}

int apps_main(int argc, char *argv[])
{
	struct apps_flags fl = { 0 };
	static const struct option longopts[] = {
		{ "fresh", no_argument, NULL, OPT_FRESH },
		{ "merge", no_argument, NULL, OPT_MERGE },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ 0 },
	};
	struct cli_extra extra = { NULL, longopts, apps_opt, &fl };
	bool fresh;
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, &extra, apps_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	fresh = fl.fresh;
	const char *verb = cli.nargs ? cli.args[0] : NULL;
	bool writes = verb && strcmp(verb, "show") && strcmp(verb, "list");
	if (verb && !strcmp(verb, "show") && cli.nargs != 2) {
		fprintf(stderr, "%s: usage: apps show APP\n", cli.prog);
		return 2;
	}
	struct read_ctx q;
	if ((rc = cmd_open_store(&q, &cli, writes || fresh)))
		return rc;
	struct errbuf eb = { { 0 } };
	Cairn__Store__Snapshot *s = NULL;
	bool need_map = verb && !strcmp(verb, "show");
	/* decisions name applications of the latest snapshot (stale or not):
	 * the refresh after writing them is the one that counts */
	if (snapshot_get(&q.db, fresh, fresh, need_map, true, &s, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_close(&q);
		return 1;
	}
	struct names nm = { 0 };
	nm.tagf = &fl.tagf;
	int exit_code;
	if (load_names(&q, &nm, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		exit_code = 1;
	} else if (!verb || !strcmp(verb, "list")) {
		exit_code = list_apps(&cli, s, &nm);
	} else if (!strcmp(verb, "show")) {
		size_t ai;
		if ((rc = read_find_app(s, cli.args[1], &ai, &eb))) {
			fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
			exit_code = cmd_exit_code(rc);
		} else {
			exit_code = show_app(&cli, s, ai, &nm);
		}
	} else {
		exit_code = decide(&cli, &q, s, fl.merge);
	}
	free(nm.hosts);
	tags_all_free(&nm.tags);
	cairn__store__snapshot__free_unpacked(s, NULL);
	read_close(&q);
	return exit_code;
}
