/* Shared plumbing of the planning commands; see planctx.h. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "keys.h"
#include "planctx.h"

#include "commands.h"

#include "format.h"
#include "sizing.h"
#include "snapshot.h"
#include "store.h"

static const struct option plan_longopts[] = {
	{ "mode", required_argument, NULL, PLANCTX_OPT_MODE },
	{ "percentile", required_argument, NULL, PLANCTX_OPT_PERCENTILE },
	{ "comfort", required_argument, NULL, PLANCTX_OPT_COMFORT },
	{ "since", required_argument, NULL, PLANCTX_OPT_SINCE },
	{ "catalog", required_argument, NULL, PLANCTX_OPT_CATALOG },
	{ "max-hosts", required_argument, NULL, PLANCTX_OPT_MAX_HOSTS },
	{ "history", required_argument, NULL, PLANCTX_OPT_HISTORY },
	{ "output", required_argument, NULL, PLANCTX_OPT_OUTPUT },
	{ "progress", required_argument, NULL, PLANCTX_OPT_PROGRESS },
	{ "note", required_argument, NULL, PLANCTX_OPT_NOTE },
	{ "fresh", no_argument, NULL, PLANCTX_OPT_FRESH },
	{ "level", required_argument, NULL, PLANCTX_OPT_LEVEL },
	{ "app", required_argument, NULL, PLANCTX_OPT_APP },
	{ "with-infra", no_argument, NULL, PLANCTX_OPT_WITH_INFRA },
	{ "until", required_argument, NULL, PLANCTX_OPT_UNTIL },
	{ "tag", required_argument, NULL, PLANCTX_OPT_TAG },
	{ 0 },
};

void planctx_usage_options(FILE *f)
{
	fprintf(f, "Planning options:\n"
		   "  --mode asis|p|pNN|max|avg  sizing statistic (default p95); pNN = any percentile,\n"
		   "                           p = the one --percentile gives\n"
		   "  --percentile N           percentile for --mode p (1..100, default 95)\n"
		   "  --comfort F              headroom factor on measured use (default 1.3)\n"
		   "  --since DUR              assessment period: the last DUR (1d, 7d, 30d, ...); confidence\n"
		   "                           is the share of it covered by data; default 7d\n"
		   "  --catalog CSV            instance catalog (default: config key catalog, else shipped)\n"
		   "  --max-hosts N            hosts per migration wave (default 25)\n"
		   "  --until DATE             end of the assessment period (YYYY-MM-DD or\n"
		   "                           YYYY-MM-DDTHH:MM, UTC; default now)\n"
		   "  --app APP                only that application's hosts (readiness, sizing); export graphs\n"
		   "  --tag KEY=VALUE          only hosts and applications with that tag (a host also by its\n"
		   "                           application's tags, an application by any host's); repeatable\n"
		   "  --fresh                  recompute the plan now instead of using the stored snapshot\n");
}

static int parse_num(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static int handle(int opt, const char *arg, void *ctx)
{
	struct planctx *p = ctx;
	const char *prog = p->cli.prog ? p->cli.prog : "cairn-collector";
	double v;
	uint64_t ms;
	switch (opt) {
	case PLANCTX_OPT_MODE:
		if (sizing_mode_parse(arg, &p->opt.mode, &p->opt.percentile)) {
			fprintf(stderr, "%s: --mode '%s': use asis, p95 (or pNN), max or avg\n", prog, arg);
			return -1;
		}
		p->custom = true;
		return 0;
	case PLANCTX_OPT_PERCENTILE:
		if (parse_num(arg, &v) || v <= 0 || v > 100) {
			fprintf(stderr, "%s: --percentile '%s': use a number in 1..100\n", prog, arg);
			return -1;
		}
		p->opt.percentile = v;
		p->opt.mode = SIZING_PERCENTILE;
		p->custom = true;
		return 0;
	case PLANCTX_OPT_COMFORT:
		if (parse_num(arg, &v) || v < 1 || v > 10) {
			fprintf(stderr, "%s: --comfort '%s': use a factor between 1 and 10 (e.g. 1.3)\n", prog, arg);
			return -1;
		}
		p->opt.comfort = v;
		p->custom = true;
		return 0;
	case PLANCTX_OPT_SINCE:
		if (config_parse_duration(arg, &ms) || !ms) {
			fprintf(stderr, "%s: --since '%s' is not a duration (use e.g. 12h, 7d, 30d)\n", prog, arg);
			return -1;
		}
		p->since_dur_ms = ms; /* from --until, which may come later */
		p->custom = true;
		return 0;
	case PLANCTX_OPT_UNTIL: {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		const char *end = strptime(arg, "%Y-%m-%dT%H:%M", &tm);
		if (!end || *end) {
			memset(&tm, 0, sizeof(tm));
			end = strptime(arg, "%Y-%m-%d", &tm);
		}
		if (!end || *end) {
			fprintf(stderr, "%s: --until '%s' is not a date (use 2026-11-30 or "
					"2026-11-30T18:00, UTC)\n", prog, arg);
			return -1;
		}
		p->opt.now_ms = (int64_t)timegm(&tm) * 1000;
		p->custom = true;
		return 0;
	}
	case PLANCTX_OPT_CATALOG:
		str_copy(p->catalog, arg, sizeof(p->catalog));
		p->custom = true;
		return 0;
	case PLANCTX_OPT_MAX_HOSTS:
		if (parse_num(arg, &v) || v < 1 || v > 1000000 || v != (unsigned)v) {
			fprintf(stderr, "%s: --max-hosts '%s': use a whole number >= 1\n", prog, arg);
			return -1;
		}
		p->opt.wave_max_hosts = (uint32_t)v;
		p->custom = true;
		return 0;
	case PLANCTX_OPT_HISTORY:
		p->history = arg;
		return 0;
	case 'o':
	case PLANCTX_OPT_OUTPUT:
		p->output = arg;
		return 0;
	case PLANCTX_OPT_PROGRESS:
		if (parse_num(arg, &v) || v < 0 || v > 100 || v != (int)v) {
			fprintf(stderr, "%s: --progress '%s': use a whole percentage 0..100\n", prog, arg);
			return -1;
		}
		p->progress = (int)v;
		return 0;
	case PLANCTX_OPT_NOTE:
		p->note = arg;
		return 0;
	case PLANCTX_OPT_FRESH:
		p->fresh = true;
		return 0;
	case PLANCTX_OPT_LEVEL:
		p->level = arg;
		return 0;
	case PLANCTX_OPT_APP:
		p->app = arg;
		return 0;
	case PLANCTX_OPT_WITH_INFRA:
		p->with_infra = true;
		return 0;
	case PLANCTX_OPT_TAG: {
		struct errbuf eb = { { 0 } };
		if (tags_filter_add(&p->tagf, arg, &eb)) {
			fprintf(stderr, "%s: --tag: %s\n", prog, eb.msg);
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

int planctx_parse(struct planctx *p, int argc, char *argv[], void (*usage)(FILE *f))
{
	memset(p, 0, sizeof(*p));
	plan_options_init(&p->opt, time_now_ms());
	p->progress = -1;
	struct cli_extra extra = { NULL, plan_longopts, handle, p };
	int rc = cli_parse(&p->cli, "cairn-collector", argc, argv, &extra, usage);
	if (p->since_dur_ms)
		p->opt.since_ms = p->opt.now_ms - (int64_t)p->since_dur_ms;
	return rc;
}

int planctx_app_filter(struct planctx *p)
{
	if (!p->app || p->app_id[0])
		return 0;
	size_t ai;
	struct errbuf eb = { { 0 } };
	int rc = read_find_app(p->snap, p->app, &ai, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return cmd_exit_code(rc);
	}
	str_copy(p->app_id, p->snap->apps[ai]->id, sizeof(p->app_id));
	p->app_at = ai;
	return 0;
}

bool planctx_keep(const struct planctx *p, const char *target, const char *app_id)
{
	if (!p->app_id[0])
		return true;
	if (!strcmp(target, p->app_id) || (app_id && !strcmp(app_id, p->app_id)))
		return true;
	/* the application where it was found (one lookup per row would be
	 * quadratic), else by its id */
	const Cairn__Store__Snapshot *s = p->snap;
	const Cairn__Store__App *a = p->app_at < s->n_apps && !strcmp(s->apps[p->app_at]->id, p->app_id)
					     ? s->apps[p->app_at]
					     : snapshot_app(s, p->app_id);
	for (size_t i = 0; a && i < a->n_hosts; i++)
		if (!strcmp(a->hosts[i], target))
			return true;
	return false;
}

int planctx_open(struct planctx *p, bool writable)
{
	if (p->app && !p->app_filters) {
		/* accepted but ignored would be a silent surprise */
		fprintf(stderr, "%s: --app is for readiness, sizing, hosts and export graphs, not here\n",
			p->cli.prog);
		cli_try_help(p->cli.prog);
		return CMD_EXIT_USAGE;
	}
	format_set_wide(p->cli.wide);
	format_set_sort(p->cli.sort);
	struct collector_config cfg;
	if (cli_collector_config(&p->cli, &cfg))
		return 2;
	if (!p->catalog[0] && cfg.catalog[0]) {
		str_copy(p->catalog, cfg.catalog, sizeof(p->catalog));
		p->custom = true;
	}
	p->opt.catalog_path = p->catalog[0] ? p->catalog : NULL;
	snapshot_set_catalog(p->catalog);
	/* the wave rules' config keys (a --max-hosts given wins) */
	plan_options_config(&p->opt, &cfg);
	snapshot_set_waves(p->opt.wave_max_hosts, p->opt.wave_min_hosts, p->opt.wave_critical_after);
	struct errbuf eb = { { 0 } };
	if (read_open_config(&p->rd, &cfg, writable, &eb)) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	return 0;
}

/* Whether the audit log has a plan.pin / plan.unpin at or after since_ms. */
static bool pins_changed_since(struct planctx *p, int64_t since_ms)
{
	struct read_txn t;
	struct read_audit au;
	bool changed = false;
	if (read_begin(&p->rd, &t, NULL))
		return false;
	if (!read_audit(&t, since_ms, 0, &au, NULL)) {
		for (size_t i = 0; i < au.n && !changed; i++)
			changed = !strncmp(au.v[i]->action, "plan.", 5);
		read_audit_free(&au);
	}
	read_end(&t);
	return changed;
}

static bool tag_keep_host(const char *host, const char *app_id, void *arg)
{
	const struct planctx *p = arg;
	return tags_filter_host(&p->tagf, &p->tags, host, app_id);
}

static bool tag_keep_app(const Cairn__Store__App *a, void *arg)
{
	const struct planctx *p = arg;
	return tags_filter_app(&p->tagf, &p->tags, a->id, a->hosts, a->n_hosts);
}

/* --tag: the matching part of p->snap. 0 or exit code 1. */
static int apply_tags(struct planctx *p)
{
	if (!p->tagf.n)
		return 0;
	struct read_txn t;
	struct errbuf eb = { { 0 } };
	int rc = read_begin(&p->rd, &t, &eb);
	if (!rc)
		rc = tags_load(t.txn, t.db, &p->tags, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	struct snapshot_keep k = { tag_keep_host, tag_keep_app, p };
	snapshot_keep(p->snap, &k);
	return 0;
}

static int planctx_snapshot_all(struct planctx *p);

int planctx_snapshot(struct planctx *p)
{
	int rc = planctx_snapshot_all(p);
	return rc ? rc : apply_tags(p);
}

static int planctx_snapshot_all(struct planctx *p)
{
	struct errbuf eb = { { 0 } };
	/* with planning options the plan is computed below: a snapshot
	 * computed here need not carry the default one */
	int rc = snapshot_get(&p->rd.db, p->fresh, false, true, !p->custom, &p->snap, &eb);
	if (!rc && !p->fresh) {
		/* facts moved since the stored snapshot (serve not running, or
		 * not yet refreshed): compute a current one, unstored */
		struct read_txn t;
		bool stale = false;
		if (!read_begin(&p->rd, &t, NULL)) {
			stale = read_facts_gen(t.txn, t.db) != p->snap->facts_gen;
			read_end(&t);
		}
		if (stale) {
			cairn__store__snapshot__free_unpacked(p->snap, NULL);
			p->snap = NULL;
			rc = snapshot_get(&p->rd.db, true, false, true, !p->custom, &p->snap,
					  &eb);
		}
	}
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg[0] ? eb.msg : db_strerror(rc));
		return 1;
	}
	/* a fresh snapshot already carries a default plan: recompute only for
	 * planning options, when planning was skipped (e.g. no catalog), or when
	 * a wave was pinned or unpinned after the snapshot was computed */
	bool empty = p->snap->n_sizing == 0 && p->snap->hosts > 0;
	if (!p->custom && !empty && plan_waves_match(p->snap, &p->opt) &&
	    !pins_changed_since(p, p->snap->computed_ms))
		return 0;
	struct read_txn t;
	if ((rc = read_begin(&p->rd, &t, &eb))) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	rc = plan_compute(t.txn, t.db, &p->opt, p->snap, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	return 0;
}

void planctx_close(struct planctx *p)
{
	if (p->snap)
		cairn__store__snapshot__free_unpacked(p->snap, NULL);
	p->snap = NULL;
	tags_all_free(&p->tags);
	read_close(&p->rd);
}

int planctx_resolve(struct planctx *p, const char *needle, char *id, size_t n, bool *is_app)
{
	const Cairn__Store__Snapshot *s = p->snap;
	const char *found = NULL;
	size_t hits = 0;
	bool app = false;
	/* exact id first, then hosts by name or id prefix, then applications by name */
	for (size_t i = 0; i < s->n_readiness && !hits; i++)
		if (!strcmp(s->readiness[i]->target, needle)) {
			found = s->readiness[i]->target;
			app = strcmp(s->readiness[i]->kind, "host") != 0;
			hits = 1;
		}
	for (int pass = 0; pass < 2 && !hits; pass++) {
		for (size_t i = 0; i < s->n_readiness; i++) {
			const Cairn__Store__Readiness *r = s->readiness[i];
			bool host = !strcmp(r->kind, "host");
			if (host != (pass == 0))
				continue;
			bool match = !strcasecmp(r->name, needle) ||
				     (strlen(needle) >= 4 && !strncmp(r->target, needle, strlen(needle)));
			if (!match && host && strlen(needle) >= 4) {
				/* the fingerprint `hosts` and `agents` print */
				uint8_t pk[KEY_PUBLIC_LEN];
				char fp[KEY_FINGERPRINT_HEX_LEN + 1];
				if (strlen(r->target) == 2 * KEY_PUBLIC_LEN &&
				    !hex_decode(pk, KEY_PUBLIC_LEN, r->target)) {
					keys_fingerprint(pk, fp);
					match = !strncasecmp(fp, needle, strlen(needle));
				}
			}
			if (!match || (found && !strcmp(found, r->target)))
				continue;
			found = r->target;
			app = !host;
			hits++;
		}
	}
	for (size_t i = 0; !hits && i < s->n_apps; i++) {
		if (!strcmp(s->apps[i]->id, needle) || !strcasecmp(s->apps[i]->name, needle)) {
			found = s->apps[i]->id;
			app = true;
			hits = 1;
		}
	}
	if (hits == 1) {
		str_copy(id, found, n);
		*is_app = app;
		return 0;
	}
	if (hits > 1) {
		fprintf(stderr, "%s: '%s' matches several hosts or applications: give more of the id\n",
			p->cli.prog, needle);
		return CMD_EXIT_USAGE;
	}
	char sugg[512] = "";
	size_t used = 0, shown = 0;
	for (size_t i = 0; i < s->n_readiness && shown < 3; i++) {
		const char *name = s->readiness[i]->name;
		if (str_distance(name, needle) <= 2 + strlen(needle) / 4) {
			used += (size_t)snprintf(sugg + used, sizeof(sugg) - used, "%s'%s'", shown ? ", " : "", name);
			shown++;
			if (used >= sizeof(sugg))
				break;
		}
	}
	if (shown)
		fprintf(stderr, "%s: no host or application '%s' (did you mean %s?)\n", p->cli.prog, needle, sugg);
	else
		fprintf(stderr, "%s: no host or application '%s' (see 'cairn-collector hosts' and 'apps')\n",
			p->cli.prog, needle);
	return CMD_EXIT_NOTFOUND;
}

void planctx_keep_json(const struct planctx *p, json_t *rows, const char *target_key,
		       const char *app_key)
{
	if (!p->app_id[0] || !json_is_array(rows))
		return;
	for (size_t i = json_array_size(rows); i-- > 0;) {
		json_t *r = json_array_get(rows, i);
		const char *t = json_string_value(json_object_get(r, target_key));
		const char *a = app_key ? json_string_value(json_object_get(r, app_key)) : NULL;
		if (!planctx_keep(p, t ? t : "", a))
			json_array_remove(rows, i);
	}
}
