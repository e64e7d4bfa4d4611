/* cairn-collector readiness | sizing | cost | plan waves: the migration plan
 * computed by collector/plan/plan.c, for people (tables) and programs (--json). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "decide.h"
#include "docs.h"
#include "format.h"
#include "pbjson.h"
#include "plancsv.h"
#include "planctx.h"
#include "rules.h"
#include "apps.h"
#include "store.h"
#include "waves.h"

static void print_plan_header(const Cairn__Store__Snapshot *s)
{
	char since[32], at[32];
	format_time(s->plan_since_ms, since, sizeof(since));
	format_time(s->computed_ms, at, sizeof(at));
	char which[64];
	if (s->version)
		snprintf(which, sizeof(which), "snapshot %llu", (unsigned long long)s->version);
	else
		snprintf(which, sizeof(which), "the current facts (not stored)");
	printf("Plan from %s, computed %s UTC; period since %s UTC; sizing %s\n", which, at, since,
	       *s->sizing_mode ? s->sizing_mode : "-");
	char period[32];
	config_format_duration(s->plan_period_ms > 0 ? (uint64_t)s->plan_period_ms : 0, period,
			       sizeof(period));
	printf("Assessment period %s; data coverage %.0f %% of the expected report windows "
	       "(hosts' mean); confidence 1-5 = coverage 0-20 %%, 21-40 %%, 41-60 %%, 61-80 %%, "
	       "81-100 %%%s\n",
	       s->plan_period_ms > 0 ? period : "?", s->plan_coverage * 100,
	       s->plan_period_ms > 0 && s->plan_period_ms < 86400000 ? " (less than a day)" : "");
}

/* ---------------------------------------------------------------- readiness */

static void readiness_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector readiness [HOST|APP] [--history HOST|APP] [--json]\n\n"
		   "Migration readiness per host and application: category (Ready, Conditionally\n"
		   "ready, Not ready, Unknown), score 0-100, confidence 1-5 from data coverage,\n"
		   "reason codes, and the strategy with the reasons that chose it.\n"
		   "--history shows how a target's score and reasons changed over the stored snapshots.\n\n");
	cli_usage_common(f);
	planctx_usage_options(f);
}

static void reason_codes(const Cairn__Store__Readiness *r, char *out, size_t n)
{
	size_t used = 0;
	out[0] = 0;
	for (size_t i = 0; i < r->n_reasons && used < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= !strcmp(r->reasons[j]->code, r->reasons[i]->code);
		if (!dup)
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? "," : "",
						 r->reasons[i]->code);
	}
	if (!out[0])
		snprintf(out, n, "-");
}

static int cmp_readiness_row(const void *x, const void *y)
{
	const Cairn__Store__Readiness *a = *(Cairn__Store__Readiness *const *)x;
	const Cairn__Store__Readiness *b = *(Cairn__Store__Readiness *const *)y;
	int c = strcmp(b->kind, a->kind); /* "host" before "app" */
	return c ? c : strcmp(a->name, b->name);
}

static void print_readiness_detail(const Cairn__Store__Readiness *r)
{
	printf("%s %s (%s): %s, score %u/100, confidence %u/5 (coverage %.0f%%, %u %s)\n",
	       r->kind, r->name, r->target, r->category, r->score, r->confidence, r->coverage * 100,
	       r->windows, format_noun(r->windows, "window", "windows"));
	printf("Reasons:\n");
	if (!r->n_reasons)
		printf("  (none: nothing found that needs work before a move)\n");
	for (size_t i = 0; i < r->n_reasons; i++)
		printf("  %-18s %-11s %4d  %s\n", r->reasons[i]->code, r->reasons[i]->severity,
		       -r->reasons[i]->penalty, r->reasons[i]->text);
	printf("Strategy: %s\n", r->strategy);
	for (size_t i = 0; i < r->n_strategy_reasons; i++)
		printf("  %-18s %s\n", r->strategy_reasons[i]->code, r->strategy_reasons[i]->text);
}

struct history {
	const char *id;
	json_t *arr;
	char prev_codes[1024];
	unsigned prev_score;
	size_t n;
};

static int history_row(const Cairn__Store__Snapshot *s, void *arg)
{
	struct history *h = arg;
	const Cairn__Store__Readiness *r = snapshot_readiness(s, h->id);
	if (!r)
		return 0;
	char codes[1024], at[32];
	reason_codes(r, codes, sizeof(codes));
	format_time(s->computed_ms, at, sizeof(at));
	if (h->arr) {
		json_t *e = json_pack("{s:I, s:I, s:o}", "snapshot", (json_int_t)s->version,
				      "computed_ms", (json_int_t)s->computed_ms, "readiness",
				      docs_message(r));
		json_array_append_new(h->arr, e);
	} else {
		char change[sizeof(h->prev_codes) + 16] = "";
		if (h->n && strcmp(codes, h->prev_codes))
			snprintf(change, sizeof(change), "  (was %s)", h->prev_codes);
		if (h->n && r->score != h->prev_score)
			snprintf(change + strlen(change), sizeof(change) - strlen(change),
				 "  score %+d", (int)r->score - (int)h->prev_score);
		printf("%-8llu  %-16s  %-20s  %5u  %4u  %-10s  %s%s\n",
		       (unsigned long long)s->version, at, r->category, r->score, r->confidence,
		       r->strategy, codes, change);
	}
	str_copy(h->prev_codes, codes, sizeof(h->prev_codes));
	h->prev_score = r->score;
	h->n++;
	return 0;
}

static int readiness_history(struct planctx *p, const char *needle)
{
	char id[256];
	bool is_app;
	int rrc = planctx_resolve(p, needle, id, sizeof(id), &is_app);
	if (rrc)
		return rrc;
	struct read_txn t;
	struct errbuf eb = { { 0 } };
	if (read_begin(&p->rd, &t, &eb)) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	struct history h = { .id = id, .arr = p->cli.json ? json_array() : NULL };
	if (!h.arr)
		printf("%-8s  %-16s  %-20s  %5s  %4s  %-10s  %s\n", "SNAPSHOT", "COMPUTED (UTC)",
		       "CATEGORY", "SCORE", "CONF", "STRATEGY", "REASONS (changes)");
	int rc = read_snapshots_each(&t, true, history_row, &h, &eb);
	read_end(&t);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		if (h.arr)
			json_decref(h.arr);
		return 1;
	}
	if (h.arr)
		format_print_json(h.arr);
	else if (!h.n)
		printf("(no stored snapshot has readiness for %s yet)\n", needle);
	return 0;
}

int readiness_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, readiness_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (p.cli.nargs > 1) {
		fprintf(stderr, "%s: at most one HOST or APP\n", p.cli.prog);
		cli_try_help(p.cli.prog);
		return 2;
	}
	p.app_filters = true;
	if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
		planctx_close(&p);
		return rc;
	}
	const Cairn__Store__Snapshot *s = p.snap;
	{
		int frc = planctx_app_filter(&p);
		if (frc) {
			planctx_close(&p);
			return frc;
		}
	}
	if (p.history) {
		rc = readiness_history(&p, p.history);
		planctx_close(&p);
		return rc;
	}
	if (p.cli.nargs == 1) {
		char id[256];
		bool is_app;
		if ((rc = planctx_resolve(&p, p.cli.args[0], id, sizeof(id), &is_app))) {
			planctx_close(&p);
			return rc;
		}
		const Cairn__Store__Readiness *r = snapshot_readiness(s, id);
		if (!r) {
			fprintf(stderr, "%s: no readiness for '%s' yet (no data?)\n", p.cli.prog, p.cli.args[0]);
			planctx_close(&p);
			return 1;
		}
		if (p.cli.json)
			format_print_json(docs_message(r));
		else
			print_readiness_detail(r);
		planctx_close(&p);
		return 0;
	}
	if (p.cli.json) {
		json_t *doc = docs_readiness(s);
		if (doc) {
			planctx_keep_json(&p, json_object_get(doc, "readiness"), "target", NULL);
		}
		rc = format_print_json(doc) ? 1 : 0;
		planctx_close(&p);
		return rc;
	}
	print_plan_header(s);
	printf("OS lifecycle table as of %s\n\n", *s->lifecycle_as_of ? s->lifecycle_as_of : "?");
	static const char *const rhead[] = { "KIND", "NAME", "CATEGORY", "SCORE", "CONF",
					      "STRATEGY", "REASONS", NULL };
	struct format_table *t = format_table_new(7, rhead);
	unsigned count[4] = { 0 };
	Cairn__Store__Readiness **rows = malloc((s->n_readiness + 1) * sizeof(*rows));
	if (!rows || !t) {
		free(rows);
		format_table_free(t);
		planctx_close(&p);
		return 1;
	}
	memcpy(rows, s->readiness, s->n_readiness * sizeof(*rows));
	qsort(rows, s->n_readiness, sizeof(*rows), cmp_readiness_row);
	for (size_t i = 0; i < s->n_readiness; i++) {
		const Cairn__Store__Readiness *r = rows[i];
		if (!planctx_keep(&p, r->target, NULL))
			continue;
		char codes[512];
		reason_codes(r, codes, sizeof(codes));
		format_table_rowf(t, "%s\t%s\t%s\t%u\t%u/5\t%s\t%s", r->kind, r->name, r->category,
				  r->score, r->confidence, r->strategy, codes);
		if (!strcmp(r->kind, "host"))
			count[!strcmp(r->category, "Ready") ? 0 : !strcmp(r->category, "Conditionally ready") ? 1
			      : !strcmp(r->category, "Not ready") ? 2 : 3]++;
	}
	free(rows);
	format_table_align_right(t, 3);
	format_table_elastic(t, 1);
	format_table_elastic(t, 6);
	format_table_print(t, stdout);
	format_table_free(t);
	if (!s->n_readiness)
		printf(p.tagf.n ? "(no host or application has that tag)\n" : "(no hosts yet)\n");
	printf("\nHosts: %u ready, %u conditionally ready, %u not ready, %u unknown. "
	       "'readiness NAME' explains one.\n", count[0], count[1], count[2], count[3]);
	planctx_close(&p);
	return 0;
}

/* ---------------------------------------------------------------- sizing */

static void sizing_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector sizing [--mode asis|p95|max|avg] [--percentile N] [--comfort F]\n"
		   "                              [--since DUR] [--catalog CSV] [--json]\n\n"
		   "Right-sizes every host: measured vCPU and memory (at the chosen statistic) times\n"
		   "the comfort factor, the cheapest catalog instance that fits, EBS storage from disk\n"
		   "use and IOPS/throughput; monthly cost (730 h), with the price date beside each price.\n\n");
	cli_usage_common(f);
	planctx_usage_options(f);
}

struct named_sizing {
	const char *name;
	const Cairn__Store__Sizing *z;
};

static int cmp_named(const void *x, const void *y)
{
	return strcmp(((const struct named_sizing *)x)->name, ((const struct named_sizing *)y)->name);
}

/* Sizing rows in host-name order (tables are for people). */
static void sort_sizing(const struct snapshot_names *nm, const Cairn__Store__Sizing **v, size_t n)
{
	struct named_sizing *t = malloc((n + 1) * sizeof(*t));
	if (!t)
		return; /* unsorted is still correct */
	for (size_t i = 0; i < n; i++)
		t[i] = (struct named_sizing){ snapshot_names_get(nm, v[i]->host), v[i] };
	qsort(t, n, sizeof(*t), cmp_named);
	for (size_t i = 0; i < n; i++)
		v[i] = t[i].z;
	free(t);
}

int sizing_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, sizing_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (p.cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", p.cli.prog, p.cli.args[0]);
		cli_try_help(p.cli.prog);
		return 2;
	}
	p.app_filters = true;
	if ((rc = planctx_open(&p, false)) || (rc = planctx_snapshot(&p))) {
		planctx_close(&p);
		return rc;
	}
	const Cairn__Store__Snapshot *s = p.snap;
	{
		int frc = planctx_app_filter(&p);
		if (frc) {
			planctx_close(&p);
			return frc;
		}
	}
	struct snapshot_names nm;
	if (snapshot_names_build(s, &nm)) {
		fprintf(stderr, "%s: out of memory\n", p.cli.prog);
		planctx_close(&p);
		return 1;
	}
	if (p.cli.json) {
		json_t *doc = docs_sizing(s);
		if (doc) {
			planctx_keep_json(&p, json_object_get(doc, "sizing"), "host", "app_id");
		}
		rc = format_print_json(doc) ? 1 : 0;
		snapshot_names_free(&nm);
		planctx_close(&p);
		return rc;
	}
	print_plan_header(s);
	printf("\n");
	static const char *const zhead[] = { "HOST", "MODE", "VCPU used>need", "MEM GiB used>need",
					      "INSTANCE", "$/MONTH", "STORAGE", "$/MONTH", "NOTE",
					      NULL };
	struct format_table *t = format_table_new(9, zhead);
	const Cairn__Store__Sizing **zs = malloc((s->n_sizing + 1) * sizeof(*zs));
	if (!zs || !t) {
		free(zs);
		format_table_free(t);
		snapshot_names_free(&nm);
		planctx_close(&p);
		return 1;
	}
	size_t nz = 0;
	for (size_t i = 0; i < s->n_sizing; i++)
		if (planctx_keep(&p, s->sizing[i]->host, s->sizing[i]->app_id))
			zs[nz++] = s->sizing[i];
	sort_sizing(&nm, zs, nz);
	for (size_t i = 0; i < nz; i++) {
		const Cairn__Store__Sizing *z = zs[i];
		char cpu[32], mem[32], st[48];
		snprintf(cpu, sizeof(cpu), "%.2f>%.2f", z->cpu_observed, z->cpu_needed);
		snprintf(mem, sizeof(mem), "%.2f>%.2f", z->mem_observed_gib, z->mem_needed_gib);
		snprintf(st, sizeof(st), "%.0fGiB %s %.0fIOPS", z->storage_gib, z->storage_type, z->storage_iops);
		format_table_rowf(t, "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t%.2f\t%s",
				  snapshot_names_get(&nm, z->host), z->mode, cpu, mem,
				  *z->instance_type ? z->instance_type : "(none fits)", z->monthly_usd,
				  st, z->storage_monthly_usd, z->note);
	}
	free(zs);
	format_table_align_right(t, 5);
	format_table_align_right(t, 7);
	format_table_elastic(t, 0);
	format_table_elastic(t, 8);
	if (s->n_sizing)
		format_table_print(t, stdout);
	format_table_free(t);
	snapshot_names_free(&nm);
	if (!s->n_sizing)
		printf(p.tagf.n ? "(no host or application has that tag)\n" : "(no hosts yet)\n");
	char dates[512];
	rules_price_dates(s->catalog_as_of, dates, sizeof(dates));
	printf("\nEC2 prices: Linux on-demand, %s, 730 h/month. %s. 'cost' sums them up; --json "
	       "has the date of every row.\n",
	       s->n_sizing ? s->sizing[0]->region : "us-east-1", dates);
	planctx_close(&p);
	return 0;
}

/* ---------------------------------------------------------------- cost */

static void cost_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector cost [sizing options] [--json]\n\n"
		   "Monthly cost (730 h) per host, per application and in total: as-is (an instance\n"
		   "holding the allocated vCPU and memory, storage as allocated) against right-sized\n"
		   "(see 'sizing'). Every price shows the date of the catalog it came from.\n\n");
	cli_usage_common(f);
	planctx_usage_options(f);
}

int cost_main(int argc, char *argv[])
{
	struct planctx p;
	int rc = planctx_parse(&p, argc, argv, cost_usage);
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
	json_t *doc = docs_cost(s);
	if (!doc) {
		fprintf(stderr, "%s: out of memory\n", p.cli.prog);
		planctx_close(&p);
		return 1;
	}
	if (p.cli.json) {
		rc = format_print_json(doc) ? 1 : 0;
		planctx_close(&p);
		return rc;
	}
	/* the tables are the same document, for people */
	const char *asof = json_string_value(json_object_get(doc, "catalog_as_of"));
	print_plan_header(s);
	printf("%s\n\n", json_string_value(json_object_get(doc, "price_dates")));
	static const char *const chead[] = { "HOST", "APPLICATION", "AS-IS", "$/MONTH",
					      "RIGHT-SIZED", "$/MONTH", "SAVING", NULL };
	static const char *const ahead[] = { "APPLICATION", "HOSTS", "AS-IS $/MO", "SIZED $/MO",
					      "SAVING", NULL };
	struct format_table *th = format_table_new(7, chead);
	struct format_table *ta = format_table_new(5, ahead);
	size_t i;
	json_t *h;
#define STR(o, k) json_string_value(json_object_get((o), (k)))
#define NUM(o, k) json_number_value(json_object_get((o), (k)))
	json_array_foreach(json_object_get(doc, "hosts"), i, h) {
		const char *app = STR(h, "app"), *ai = STR(h, "asis_instance"),
			   *ri = STR(h, "rightsized_instance");
		if (th)
			format_table_rowf(th, "%s\t%s\t%s\t%.2f\t%s\t%.2f\t%.2f", STR(h, "name"),
					  *app ? app : "-", *ai ? ai : "(none)", NUM(h, "asis_monthly_usd"),
					  *ri ? ri : "(none)", NUM(h, "rightsized_monthly_usd"),
					  NUM(h, "saving_usd"));
	}
	if (th) {
		for (size_t c = 3; c < 7; c += (c == 3 ? 2 : 1))
			format_table_align_right(th, c);
		format_table_elastic(th, 0);
		format_table_elastic(th, 1);
		format_table_sort(th, "HOST");
		format_table_print(th, stdout);
		printf("\n");
	}
	json_array_foreach(json_object_get(doc, "apps"), i, h)
		if (ta)
			format_table_rowf(ta, "%s\t%lld\t%.2f\t%.2f\t%.2f", STR(h, "name"),
					  (long long)json_integer_value(json_object_get(h, "hosts")),
					  NUM(h, "asis_monthly_usd"), NUM(h, "rightsized_monthly_usd"),
					  NUM(h, "saving_usd"));
	if (ta) {
		for (size_t c = 1; c < 5; c++)
			format_table_align_right(ta, c);
		format_table_elastic(ta, 0);
		format_table_sort(ta, "APPLICATION");
		format_table_print(ta, stdout);
	}
	format_table_free(th);
	format_table_free(ta);
	const json_t *t = json_object_get(doc, "total");
	double asis = NUM(t, "asis_monthly_usd"), sized = NUM(t, "rightsized_monthly_usd");
	unsigned hosts = (unsigned)json_integer_value(json_object_get(t, "hosts"));
	printf("\nTOTAL %u %s: as-is $%.2f/month, right-sized $%.2f/month, saving $%.2f/month "
	       "(%.0f%%), prices as of %s (EC2) / %s (EBS)\n",
	       hosts, format_noun(hosts, "host", "hosts"), asis, sized, asis - sized,
	       asis > 0 ? (asis - sized) / asis * 100 : 0, asof, rules_plan.ebs_as_of);
#undef STR
#undef NUM
	json_decref(doc);
	planctx_close(&p);
	return 0;
}

/* ---------------------------------------------------------------- plan waves */

static void plan_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector plan waves [--max-hosts N] [--min-hosts N] [--critical-after N]\n"
		   "                                 [--explain APP] [--json]\n"
		   "       cairn-collector plan pin APP WAVE | plan unpin APP\n"
		   "       cairn-collector plan export [-o FILE]\n"
		   "       cairn-collector plan import FILE [--dry-run]\n\n"
		   "Migration waves by ordered rules (the first wins when two conflict):\n"
		   "  pin                a person's pin wins (plan pin, plan import)\n"
		   "  two_way            applications that depend on each other move in one wave\n"
		   "  whole_app          an application's hosts stay in one wave\n"
		   "  dependency_order   what an application depends on moves in the same or an earlier wave\n"
		   "  env_order          dev/test/staging before prod (tag environment)\n"
		   "  env_separate       dev/test/staging and prod not in one wave\n"
		   "  critical_late      criticality=high not in the first N waves (--critical-after N,\n"
		   "                     default %u; 0: off)\n"
		   "  infra_first        shared infrastructure fills the first waves\n"
		   "  wave_size          --min-hosts (default %u: none) to --max-hosts (default %u) per wave\n"
		   "Every rule that could not hold is a warning naming what won. Each wave has a\n"
		   "priority score 0-100, a confidence 1-5 and reasons; --explain APP says which rules\n"
		   "put an application into its wave and which were relaxed.\n"
		   "pin puts an application into a wave whatever the rules say; unpin removes that.\n"
		   "export writes the plan as CSV (standard output without -o); import reads such a\n"
		   "file after editing: every row whose Wave differs from the plan becomes a pin (by\n"
		   "you, audited); rows that cannot be used are reported as FILE:LINE: column: reason\n"
		   "and the rest applied; --dry-run shows what would change. Config keys:\n"
		   "wave_max_hosts, wave_min_hosts, wave_critical_after.\n\n",
		   rules_plan.wave_critical_after, rules_plan.wave_min_hosts, rules_plan.wave_max_hosts);
	cli_usage_common(f);
	planctx_usage_options(f);
	fprintf(f, "  --min-hosts N            fewest hosts per wave (plan waves)\n"
		   "  --critical-after N       criticality=high not in the first N waves (plan waves)\n");
}

/* The options only `plan` has, taken out of argv before planctx_parse sees
 * the rest (-o PATH without '=' becomes --output, as for export). */
struct plan_extra {
	long min_hosts, critical_after; /* -1: not given */
	const char *explain;
	bool dry_run;
};

static int parse_count(const char *prog, const char *opt, const char *v, long max, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < 0 || n > max) {
		fprintf(stderr, "%s: %s '%s': use a whole number 0..%ld\n", prog, opt, v, max);
		return CMD_EXIT_USAGE;
	}
	*out = n;
	return 0;
}

static int plan_take_options(int *argc, char **argv, struct plan_extra *x)
{
	static const char *const named[] = { "--min-hosts", "--critical-after", "--explain" };
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "--dry-run")) {
			x->dry_run = true;
			continue;
		}
		if (!strcmp(a, "-o") && i + 1 < *argc && !strchr(argv[i + 1], '=')) {
			argv[out++] = "--output";
			continue;
		}
		int which = -1;
		const char *val = NULL;
		for (int k = 0; k < 3 && which < 0; k++) {
			size_t n = strlen(named[k]);
			if (!strncmp(a, named[k], n) && (a[n] == 0 || a[n] == '=')) {
				which = k;
				val = a[n] == '=' ? a + n + 1 : NULL;
			}
		}
		if (which < 0) {
			argv[out++] = argv[i];
			continue;
		}
		if (!val) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "cairn-collector plan: %s needs a value\n", named[which]);
				return CMD_EXIT_USAGE;
			}
			val = argv[++i];
		}
		int rc = 0;
		if (which == 0)
			rc = parse_count("cairn-collector plan", named[0], val, 1000000, &x->min_hosts);
		else if (which == 1)
			rc = parse_count("cairn-collector plan", named[1], val, 10000, &x->critical_after);
		else
			x->explain = val;
		if (rc)
			return rc;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

struct pin_arg {
	const char *app, *wave;
	struct errbuf *eb;
};

static int pin_txn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct pin_arg *a = arg;
	return apps_decision_put(txn, env, CAIRN__STORE__DECISION_KIND__WAVE_PIN, a->app, a->wave,
				 a->wave ? "plan.pin" : "plan.unpin", time_now_ms(), a->eb);
}

/* plan pin APP WAVE / plan unpin APP: a WAVE_PIN decision plus its audit entry. */
static int plan_pin(struct planctx *p, bool pin)
{
	char wave[16] = "";
	if (pin) {
		char *end;
		unsigned long w = strtoul(p->cli.args[2], &end, 10);
		if (!*p->cli.args[2] || *end || w < 1 || w > 10000) {
			fprintf(stderr, "%s: wave '%s': use a wave number 1..10000\n", p->cli.prog,
				p->cli.args[2]);
			return 2;
		}
		snprintf(wave, sizeof(wave), "%lu", w);
	}
	int rc;
	if ((rc = planctx_open(p, true)) || (rc = planctx_snapshot(p))) {
		planctx_close(p);
		return rc;
	}
	char id[256];
	bool is_app = false;
	if ((rc = planctx_resolve(p, p->cli.args[1], id, sizeof(id), &is_app))) {
		planctx_close(p);
		return rc;
	}
	if (!is_app) {
		fprintf(stderr, "%s: '%s' is a host; waves hold applications (see 'cairn-collector apps')\n",
			p->cli.prog, p->cli.args[1]);
		planctx_close(p);
		return 2;
	}
	const Cairn__Store__App *app = snapshot_app(p->snap, id);
	struct errbuf eb = { { 0 } };
	struct pin_arg a = { id, pin ? wave : NULL, &eb };
	rc = decide_write(&p->rd, pin_txn, &a, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg[0] ? eb.msg : db_strerror(rc));
		planctx_close(p);
		return 1;
	}
	if (pin)
		printf("application %s pinned to wave %s (by %s); 'plan waves' shows the plan\n",
		       app ? app->name : id, wave, os_user_name());
	else
		printf("application %s unpinned (by %s)\n", app ? app->name : id, os_user_name());
	planctx_close(p);
	return 0;
}

/* plan export [-o FILE]: the plan as CSV (collector/export/plancsv.h). */
static int plan_export(struct planctx *p)
{
	int rc;
	if ((rc = planctx_open(p, false)) || (rc = planctx_snapshot(p))) {
		planctx_close(p);
		return rc;
	}
	struct errbuf eb = { { 0 } };
	FILE *f = stdout;
	if (p->output && !(f = fopen(p->output, "w"))) {
		fprintf(stderr, "%s: %s: cannot create: %s\n", p->cli.prog, p->output, strerror(errno));
		planctx_close(p);
		return 1;
	}
	rc = plancsv_write(p->snap, f, &eb);
	if (f != stdout && fclose(f) && !rc)
		rc = errbuf_set(&eb, -EIO, "%s: write failed", p->output);
	if (rc)
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
	else if (p->output)
		fprintf(stderr, "wrote %s (%zu waves); edit the Wave column and 'plan import %s'\n",
			p->output, p->snap->n_waves, p->output);
	planctx_close(p);
	return rc ? 1 : 0;
}

struct import_arg {
	const struct plancsv_result *res;
	struct errbuf *eb;
};

static int import_txn(MDB_txn *txn, const struct db_env *env, void *arg)
{
	struct import_arg *a = arg;
	int64_t now = time_now_ms();
	/* the edited rows, then the rows the file left as they are: pinned too,
	 * so the next plan is the file's plan (otherwise the rules could move
	 * them around the edited ones) */
	for (size_t i = 0; i < a->res->n + a->res->nsame; i++) {
		const struct plancsv_change *c = i < a->res->n ? &a->res->v[i]
							      : &a->res->same[i - a->res->n];
		char wave[16];
		snprintf(wave, sizeof(wave), "%u", c->to);
		int rc = apps_decision_put(txn, env, CAIRN__STORE__DECISION_KIND__WAVE_PIN, c->app_id,
					   wave, "plan.import", now, a->eb);
		if (rc)
			return rc;
	}
	return 0;
}

static void import_report(const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s\n", msg);
}

/* plan import FILE [--dry-run]: rows whose wave differs become pins, and when
 * any does, the file's other rows too (the plan stays as the file says). */
static int plan_import(struct planctx *p, const char *path, bool dry_run)
{
	char *buf = NULL;
	size_t len = 0;
	struct errbuf eb = { { 0 } };
	int rc = file_read_all(path, 64u << 20, &buf, &len, &eb);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		return 1;
	}
	if ((rc = planctx_open(p, !dry_run)) || (rc = planctx_snapshot(p))) {
		free(buf);
		planctx_close(p);
		return rc;
	}
	struct plancsv_result res;
	rc = plancsv_read(p->snap, buf, len, path, import_report, NULL, &res, &eb);
	free(buf);
	if (rc) {
		fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg);
		planctx_close(p);
		return rc == -EINVAL ? CMD_EXIT_USAGE : 1;
	}
	for (size_t i = 0; i < res.n; i++)
		printf("%s:%u: %s: wave %u -> %u (%s)\n", path, res.v[i].line, res.v[i].name,
		       res.v[i].from, res.v[i].to, dry_run ? "would pin" : "pinned");
	if (!dry_run && res.n) {
		struct import_arg a = { &res, &eb };
		if ((rc = decide_write(&p->rd, import_txn, &a, &eb))) {
			fprintf(stderr, "%s: %s\n", p->cli.prog, eb.msg[0] ? eb.msg : db_strerror(rc));
			plancsv_result_free(&res);
			planctx_close(p);
			return 1;
		}
	}
	printf("%zu rows: %zu %s%s, %zu unchanged%s, %zu rejected%s\n", res.rows, res.n,
	       dry_run ? "would be pinned" : "pinned", dry_run || !res.n ? "" : " (by you, in the audit log)",
	       res.unchanged, res.n && res.nsame ? (dry_run ? " (would be pinned where they are, so the "
							 "plan stays as the file says)"
						      : " (pinned where they are, so the plan stays as "
							"the file says)")
					   : "",
	       res.rejected, res.n && !dry_run ? "; 'plan waves' shows the plan" : "");
	rc = res.rejected ? 1 : 0;
	plancsv_result_free(&res);
	planctx_close(p);
	return rc;
}

static void print_rules(const char *title, Cairn__Store__WaveRule *const *v, size_t n)
{
	printf("%s\n", title);
	if (!n)
		printf("  (none)\n");
	for (size_t i = 0; i < n; i++)
		printf("  %-17s %s\n", v[i]->code, v[i]->text);
}

/* plan waves --explain APP */
static int plan_explain(struct planctx *p, const char *needle)
{
	const Cairn__Store__Snapshot *s = p->snap;
	char id[256];
	bool is_app = false;
	int rc = planctx_resolve(p, needle, id, sizeof(id), &is_app);
	if (rc)
		return rc;
	if (!is_app) {
		fprintf(stderr, "%s: '%s' is a host; waves hold applications (see 'cairn-collector apps')\n",
			p->cli.prog, needle);
		return CMD_EXIT_USAGE;
	}
	if (p->cli.json)
		return format_print_json(docs_wave_explain(s, id)) ? 1 : 0;
	const Cairn__Store__App *a = snapshot_app(s, id);
	const Cairn__Store__WavePlacement *pl = NULL;
	const Cairn__Store__Wave *w = waves_find(s, id, &pl);
	if (!w) {
		const Cairn__Store__Readiness *r = snapshot_readiness(s, id);
		printf("%s (%s): in no wave: strategy %s, it does not move%s%s\n", a ? a->name : id, id,
		       r ? r->strategy : "-", r && r->n_strategy_reasons ? ": " : "",
		       r && r->n_strategy_reasons ? r->strategy_reasons[0]->text : "");
		return 0;
	}
	printf("%s (%s): wave %u of %zu, %zu %s", a ? a->name : id, id, w->number, s->n_waves,
	       a ? a->n_hosts : 0, a && a->n_hosts == 1 ? "host" : "hosts");
	if (pl) {
		printf(", environment %s, criticality %s", *pl->environment ? pl->environment : "(none)",
		       *pl->criticality ? pl->criticality : "(none)");
		if (pl->pinned)
			printf(", pinned by %s", pl->pinned_by);
	}
	printf("\n");
	if (!pl) {
		printf("(this plan was made before the wave rules: 'plan waves --fresh' recomputes it)\n");
		return 0;
	}
	print_rules("Placed by (in precedence order):", pl->rules, pl->n_rules);
	print_rules("Not honored:", pl->relaxed, pl->n_relaxed);
	printf("Wave %u: score %u/100, confidence %u/5\n", w->number, w->score, w->confidence);
	for (size_t i = 0; i < w->n_reasons; i++)
		printf("  - %s\n", w->reasons[i]);
	for (size_t i = 0; i < w->n_warnings; i++)
		printf("  WARNING: %s\n", w->warnings[i]);
	printf("Rules in precedence order:");
	for (size_t i = 0; i < waves_nrules; i++)
		printf(" %s", waves_rules[i].code);
	printf("\n");
	return 0;
}

static int plan_run(struct planctx *p, const struct plan_extra *x)
{
	bool pin = p->cli.nargs == 3 && !strcmp(p->cli.args[0], "pin");
	bool unpin = p->cli.nargs == 2 && !strcmp(p->cli.args[0], "unpin");
	if (pin || unpin)
		return plan_pin(p, pin);
	if (p->cli.nargs == 1 && !strcmp(p->cli.args[0], "export"))
		return plan_export(p);
	if (p->cli.nargs == 2 && !strcmp(p->cli.args[0], "import"))
		return plan_import(p, p->cli.args[1], x->dry_run);
	if (p->cli.nargs != 1 || strcmp(p->cli.args[0], "waves")) {
		fprintf(stderr, "%s: expected 'plan waves', 'plan pin APP WAVE', 'plan unpin APP', "
			"'plan export' or 'plan import FILE'\n", p->cli.prog);
		cli_try_help(p->cli.prog);
		return 2;
	}
	int rc;
	if ((rc = planctx_open(p, false)))
		return rc;
	if (x->min_hosts >= 0)
		p->opt.wave_min_hosts = (uint32_t)x->min_hosts;
	if (x->critical_after >= 0)
		p->opt.wave_critical_after = (uint32_t)x->critical_after;
	p->custom |= x->min_hosts >= 0 || x->critical_after >= 0;
	unsigned limit = p->opt.wave_max_hosts ? p->opt.wave_max_hosts : rules_plan.wave_max_hosts;
	if (p->opt.wave_min_hosts > limit) {
		fprintf(stderr, "%s: --min-hosts %u is more than --max-hosts %u\n", p->cli.prog,
			p->opt.wave_min_hosts, limit);
		return CMD_EXIT_USAGE;
	}
	if ((rc = planctx_snapshot(p)))
		return rc;
	const Cairn__Store__Snapshot *s = p->snap;
	if (x->explain)
		return plan_explain(p, x->explain);
	if (p->cli.json)
		return format_print_json(docs_waves(s, limit)) ? 1 : 0;
	print_plan_header(s);
	char size[48];
	if (s->wave_min_hosts)
		snprintf(size, sizeof(size), "%u-%u hosts", s->wave_min_hosts,
			 s->wave_max_hosts ? s->wave_max_hosts : limit);
	else
		snprintf(size, sizeof(size), "at most %u hosts", s->wave_max_hosts ? s->wave_max_hosts : limit);
	char crit[64] = "critical_late off";
	if (s->wave_critical_after)
		snprintf(crit, sizeof(crit), "criticality=high not in the first %u wave%s",
			 s->wave_critical_after, s->wave_critical_after == 1 ? "" : "s");
	printf("Wave size: %s; %s; rules in precedence order:", size, crit);
	for (size_t i = 0; i < waves_nrules; i++)
		printf(" %s", waves_rules[i].code);
	printf("\n");
	struct snapshot_index ix;
	snapshot_index_build(s, &ix);
	for (size_t i = 0; i < s->n_waves; i++) {
		const Cairn__Store__Wave *w = s->waves[i];
		printf("\nWave %u (%u host%s): score %u/100, confidence %u/5\n", w->number, w->hosts,
		       w->hosts == 1 ? "" : "s", w->score, w->confidence);
		for (size_t j = 0; j < w->n_reasons; j++)
			printf("  - %s\n", w->reasons[j]);
		for (size_t j = 0; j < w->n_apps; j++) {
			const Cairn__Store__App *a = snapshot_index_app(&ix, w->apps[j]);
			const Cairn__Store__Readiness *r = snapshot_index_readiness(&ix, w->apps[j]);
			const Cairn__Store__WavePlacement *pl = j < w->n_placements ? w->placements[j] : NULL;
			char tags[48] = "";
			if (pl && (*pl->environment || *pl->criticality))
				snprintf(tags, sizeof(tags), "%s%s%s", pl->environment,
					 *pl->environment && *pl->criticality ? "/" : "", pl->criticality);
			printf("  %-28.28s %3zu host%s  %-10s %-12.12s %s\n", a ? a->name : w->apps[j],
			       a ? a->n_hosts : 0, a && a->n_hosts == 1 ? " " : "s", r ? r->strategy : "-",
			       *tags ? tags : "-", j < w->n_why ? w->why[j] : "");
		}
		for (size_t j = 0; j < w->n_warnings; j++)
			printf("  WARNING: %s\n", w->warnings[j]);
	}
	if (!s->n_waves)
		printf("\n(no applications yet: 'apps' groups hosts once agents report connections)\n");
	bool header = false;
	for (size_t i = 0; i < s->n_apps; i++) {
		if (snapshot_index_wave(&ix, s->apps[i]->id, NULL))
			continue;
		const Cairn__Store__Readiness *r = snapshot_index_readiness(&ix, s->apps[i]->id);
		if (!header)
			printf("\nNot migrated (Retire / Retain)\n");
		header = true;
		printf("  %-28.28s %3zu host%s  %-10s  %s\n", s->apps[i]->name, s->apps[i]->n_hosts,
		       s->apps[i]->n_hosts == 1 ? " " : "s", r ? r->strategy : "-",
		       r && r->n_strategy_reasons ? r->strategy_reasons[0]->text : "");
	}
	snapshot_index_free(&ix);
	if (s->n_waves)
		printf("\n'plan waves --explain APP' says which rules placed an application; 'plan export' "
		       "writes the plan as CSV.\n");
	return 0;
}

int plan_main(int argc, char *argv[])
{
	struct plan_extra x = { -1, -1, NULL, false };
	char **av = calloc((size_t)argc + 1, sizeof(char *));
	if (!av)
		return 1;
	memcpy(av, argv, (size_t)argc * sizeof(char *));
	int ac = argc;
	int rc = plan_take_options(&ac, av, &x);
	if (rc) {
		free(av);
		return rc;
	}
	struct planctx p;
	rc = planctx_parse(&p, ac, av, plan_usage);
	if (rc == CLI_CONTINUE) {
		if ((x.explain || x.min_hosts >= 0 || x.critical_after >= 0) &&
		    !(p.cli.nargs == 1 && !strcmp(p.cli.args[0], "waves"))) {
			fprintf(stderr, "%s: --explain, --min-hosts and --critical-after are for 'plan waves'\n",
				p.cli.prog);
			rc = CMD_EXIT_USAGE;
		} else if (x.dry_run && !(p.cli.nargs == 2 && !strcmp(p.cli.args[0], "import"))) {
			fprintf(stderr, "%s: --dry-run is for 'plan import FILE'\n", p.cli.prog);
			rc = CMD_EXIT_USAGE;
		} else {
			rc = plan_run(&p, &x);
		}
		/* the sub-commands that open the store close it; closing twice is harmless */
		planctx_close(&p);
	}
	free(av);
	return rc;
}
