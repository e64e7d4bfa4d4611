/* cairn-collector tag set|rm|list: key=value labels on hosts and
 * applications (collector/read/tags.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "decide.h"
#include "format.h"
#include "planctx.h"
#include "snapshot.h"
#include "tags.h"

static void tag_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector tag set HOST|APP KEY=VALUE...\n"
		   "       cairn-collector tag rm HOST|APP KEY...\n"
		   "       cairn-collector tag list [HOST|APP] [--tag KEY=VALUE]... [--json]\n\n"
		   "Labels on hosts and applications. Well-known keys drive planning:\n"
		   "  environment   prod, staging, test or dev (production, uat, qa, ... are folded)\n"
		   "  criticality   high, medium or low\n"
		   "  owner         who answers for it\n"
		   "  move-window   when it may move (free text)\n"
		   "Other keys: letters, digits and . _ : / - (at most 64), values up to 256 bytes.\n"
		   "A person's tag wins over an imported one. Every change goes to the audit log.\n"
		   "hosts, apps, readiness, sizing, cost, plan and export take --tag KEY=VALUE.\n\n");
	cli_usage_common(f);
}

struct tag_write {
	const char *subject;
	struct tag_kv *set;
	size_t nset;
	char **rm;
	size_t nrm;
	const char *user;
	struct errbuf *eb;
};

static int write_fn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct tag_write *w = arg;
	return tags_write(txn, env, w->subject, w->set, w->nset, w->rm, w->nrm, w->user, "person",
			  time_now_ms(), NULL, w->eb);
}

static json_t *set_json(const Cairn__Store__TagSet *s, const char *name, const char *kind)
{
	json_t *tags = json_array();
	for (size_t i = 0; s && i < s->n_tags; i++)
		json_array_append_new(tags, json_pack("{s:s, s:s, s:s, s:s, s:I}", "key",
						      s->tags[i]->key, "value", s->tags[i]->value,
						      "set_by", s->tags[i]->set_by, "source",
						      s->tags[i]->source, "set_ms",
						      (json_int_t)s->tags[i]->set_ms));
	return json_pack("{s:s, s:s, s:s, s:o}", "target", s ? s->subject : "", "kind", kind, "name",
			 name, "tags", tags);
}

/* The name and kind of a subject ("app:ID" or a host id) in the snapshot. */
static const char *subject_name(const Cairn__Store__Snapshot *snap, const char *subject,
				const char **kind)
{
	if (!strncmp(subject, "app:", 4)) {
		*kind = "app";
		const Cairn__Store__App *a = snapshot_app(snap, subject + 4);
		return a ? a->name : subject + 4;
	}
	*kind = "host";
	return snapshot_host_name(snap, subject);
}

static int tag_list(struct planctx *p, const char *only, const struct tags_filter *f)
{
	struct read_txn t;
	struct errbuf eb = { { 0 } };
	struct tags_all all;
	if (read_begin(&p->rd, &t, &eb) || tags_load(t.txn, t.db, &all, &eb)) {
		read_end(&t);
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return CMD_EXIT_FAIL;
	}
	read_end(&t);
	json_t *arr = json_array();
	static const char *const head[] = { "KIND", "NAME", "KEY", "VALUE", "SOURCE", "SET BY", NULL };
	struct format_table *tab = p->cli.json ? NULL : format_table_new(6, head);
	size_t rows = 0;
	for (size_t i = 0; i < all.n; i++) {
		const Cairn__Store__TagSet *s = all.v[i];
		if (only && strcmp(s->subject, only))
			continue;
		const char *kind;
		const char *name = subject_name(p->snap, s->subject, &kind);
		bool app = !strcmp(kind, "app");
		const Cairn__Store__App *a = app ? snapshot_app(p->snap, s->subject + 4) : NULL;
		bool keep = app ? tags_filter_app(f, &all, s->subject + 4, a ? a->hosts : NULL,
						  a ? a->n_hosts : 0)
				: tags_filter_host(f, &all, s->subject, snapshot_app_of_host(p->snap, s->subject));
		if (!keep)
			continue;
		if (p->cli.json)
			json_array_append_new(arr, set_json(s, name, kind));
		for (size_t j = 0; tab && j < s->n_tags; j++, rows++)
			format_table_rowf(tab, "%s\t%s\t%s\t%s\t%s\t%s", kind, name, s->tags[j]->key,
					  s->tags[j]->value, s->tags[j]->source,
					  *s->tags[j]->set_by ? s->tags[j]->set_by : "-");
	}
	tags_all_free(&all);
	if (p->cli.json)
		return format_print_json(arr) ? CMD_EXIT_FAIL : 0;
	json_decref(arr);
	if (tab && rows)
		format_table_print(tab, stdout);
	else
		printf("(no tags%s)\n", only || (f && f->n) ? " match" : " yet: cairn-collector tag set HOST KEY=VALUE");
	format_table_free(tab);
	return 0;
}

int tag_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, tag_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *verb = p.cli.nargs ? p.cli.args[0] : "";
	bool set = !strcmp(verb, "set"), rm = !strcmp(verb, "rm"), list = !strcmp(verb, "list");
	if ((!set && !rm && !list) || ((set || rm) && p.cli.nargs < 3) || (list && p.cli.nargs > 2)) {
		fprintf(stderr, "%s: expected 'tag set TARGET KEY=VALUE...', 'tag rm TARGET KEY...' "
				"or 'tag list [TARGET]'\n", p.cli.prog);
		cli_try_help(p.cli.prog);
		return CMD_EXIT_USAGE;
	}
	size_t nkv = set || rm ? p.cli.nargs - 2 : 0;
	struct tag_kv *kv = calloc(nkv ? nkv : 1, sizeof(*kv));
	char **keys = calloc(nkv ? nkv : 1, sizeof(*keys));
	if (!kv || !keys) {
		free(kv);
		free(keys);
		fprintf(stderr, "%s: out of memory\n", p.cli.prog);
		return CMD_EXIT_FAIL;
	}
	struct errbuf eb = { { 0 } };
	rc = 0;
	for (size_t i = 0; i < nkv && !rc; i++) {
		const char *a = p.cli.args[i + 2];
		rc = set ? tags_parse(a, &kv[i], &eb) : tags_parse_key(a, kv[i].key, &eb);
		keys[i] = kv[i].key;
	}
	if (rc) {
		fprintf(stderr, "%s: %s\n", p.cli.prog, eb.msg);
		free(kv);
		free(keys);
		return CMD_EXIT_USAGE;
	}
	if ((rc = planctx_open(&p, set || rm)) || (rc = planctx_snapshot(&p))) {
		free(kv);
		free(keys);
		planctx_close(&p);
		return rc;
	}
	char subject[300] = "";
	if (p.cli.nargs >= 2) {
		char id[256];
		bool is_app;
		if ((rc = planctx_resolve(&p, p.cli.args[1], id, sizeof(id), &is_app))) {
			free(kv);
			free(keys);
			planctx_close(&p);
			return rc;
		}
		snprintf(subject, sizeof(subject), "%s%s", is_app ? "app:" : "", id);
	}
	if (list) {
		rc = tag_list(&p, *subject ? subject : NULL, &p.tagf);
	} else {
		struct tag_write w = { subject, set ? kv : NULL, set ? nkv : 0, rm ? keys : NULL,
				       rm ? nkv : 0, os_user_name(), &eb };
		rc = decide_write(&p.rd, write_fn, &w, &eb);
		if (rc) {
			fprintf(stderr, "%s: %s\n", p.cli.prog, eb.msg);
			rc = cmd_exit_code(rc);
		} else {
			rc = tag_list(&p, subject, NULL);
		}
	}
	free(kv);
	free(keys);
	planctx_close(&p);
	return rc;
}
