/* Readiness and strategy, table-driven: one row per reason code and per
 * strategy, each a Ready baseline host with one thing changed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "plan_fixture.h"
#include "readiness.h"
#include "rules.h"
#include "sizing.h"

static struct readiness_lifecycle lc;
static struct sizing_catalog cat;

static void setup(void)
{
	char path[4096];
	struct errbuf eb = { { 0 } };
	cr_assert_eq(plan_data_path("os-lifecycle.csv", path, sizeof(path), &eb), 0, "%s", eb.msg);
	cr_assert_eq(readiness_lifecycle_load(path, &lc, &eb), 0, "%s", eb.msg);
	cr_assert_eq(plan_data_path("aws-ec2-catalog.csv", path, sizeof(path), &eb), 0, "%s", eb.msg);
	cr_assert_eq(sizing_catalog_load(path, &cat, &eb), 0, "%s", eb.msg);
}

static void teardown(void)
{
	readiness_lifecycle_free(&lc);
	sizing_catalog_free(&cat);
}

TestSuite(readiness, .init = setup, .fini = teardown);

/* Runs readiness (with sizing, like plan_compute) for one fixture host. */
static Cairn__Store__Readiness *assess(struct estate_host *h, size_t peers)
{
	struct plan_options opt;
	plan_options_init(&opt, FX_NOW_MS);
	Cairn__Store__Sizing *sz = NULL;
	cr_assert_eq(sizing_host(h, &cat, &opt, &sz), 0);
	struct readiness_ctx ctx = { &lc, &cat, FX_SINCE_MS, FX_NOW_MS };
	Cairn__Store__Readiness *r = NULL;
	cr_assert_eq(readiness_host(&ctx, h, sz, peers, &r), 0);
	cairn__store__sizing__free_unpacked(sz, NULL);
	return r;
}

static bool has_code(const Cairn__Store__Readiness *r, const char *code)
{
	for (size_t i = 0; i < r->n_reasons; i++)
		if (!strcmp(r->reasons[i]->code, code))
			return true;
	return false;
}

static void base(struct estate_host *h) { (void)h; }
static void os_eol(struct estate_host *h) { fx_os(h, "debian", "12", "Debian GNU/Linux"); }
static void os_unsupported(struct estate_host *h) { fx_os(h, "centos", "7", "CentOS Linux"); }
static void os_unknown(struct estate_host *h) { fx_os(h, "gentoo", "2.15", "Gentoo"); }
static void arch_32bit(struct estate_host *h) { fx_arch(h, "i686"); }
static void kernel_old(struct estate_host *h) { fx_kernel(h, "2.6.32-754.el6.x86_64"); }
static void disk_too_large(struct estate_host *h) { fx_fs(h, "/data", "xfs", 20000, 15000); }
static void memory_too_large(struct estate_host *h)
{
	fx_cpu_mem(h, 64, 1024);
	fx_load(h, 10, 600, 200, 4, 50000);
}
static void cpu_too_large(struct estate_host *h)
{
	fx_cpu_mem(h, 128, 256);
	fx_load(h, 80, 64, 200, 4, 50000);
}
static void iops_high(struct estate_host *h) { fx_load(h, 30, 6, 20000, 100, 50000); }
static void licensed(struct estate_host *h) { fx_proc(h, "ora_pmon_ORCL", NULL, 900, 54321); }
static void dongle(struct estate_host *h) { fx_proc(h, "hasplmd", NULL, 700, 0); }
static void idle(struct estate_host *h)
{
	fx_load(h, 1, 1, 1, 0.01, 100);
	h->inbound_edges = 0;
}
static void idle_but_used(struct estate_host *h)
{
	fx_load(h, 1, 1, 1, 0.01, 100);
	h->inbound_edges = 3;
}
static void too_little_data(struct estate_host *h) { h->windows = 2; }
static void no_facts(struct estate_host *h) { fx_no_facts(h); }
static void relocate(struct estate_host *h)
{
	fx_os(h, "centos", "6", "CentOS Linux");
	fx_hypervisor(h, "vmware");
}
static void replatform(struct estate_host *h) { fx_proc(h, "postgres", NULL, 1200, 114); }
static void repurchase(struct estate_host *h)
{
	fx_proc(h, "java", "java:/opt/atlassian/jira/atlassian-jira.jar", 1300, 1001);
}
static void rhel_minor(struct estate_host *h) { fx_os(h, "rhel", "9.4", "Red Hat Enterprise Linux"); }
static void stream8(struct estate_host *h) { fx_os(h, "centos", "8", "CentOS Stream"); }

/* An imported server: no windows, the import's figures in the stats. */
static void fx_import(struct estate_host *h, bool with_util, bool powered_off)
{
	Cairn__Store__ImportedServer *imp = calloc(1, sizeof(*imp));
	Cairn__Store__ImportFacts *f = calloc(1, sizeof(*f));
	cr_assert(imp && f);
	cairn__store__imported_server__init(imp);
	cairn__store__import_facts__init(f);
	imp->format = strdup("mhub-csv");
	imp->file = strdup("servers.csv");
	imp->line = 7;
	f->powered_off = powered_off;
	imp->facts = f;
	h->import = imp;
	h->windows = 0;
	memset(h->stat, 0, sizeof(h->stat));
	if (with_util) {
		Cairn__Store__ImportFigure *cpu = calloc(1, sizeof(*cpu)), *mem = calloc(1, sizeof(*mem));
		cr_assert(cpu && mem);
		cairn__store__import_figure__init(cpu);
		cairn__store__import_figure__init(mem);
		*cpu = (Cairn__Store__ImportFigure){ cpu->base, 20, 60, true, true };
		*mem = (Cairn__Store__ImportFigure){ mem->base, 1024, 2048, true, true };
		f->cpu_pct = cpu;
		f->ram_used_mib = mem;
		h->import_stats = true;
		h->stat[ESTATE_CPU_PCT] = (struct estate_stat){ 20, 60, 60 };
		h->cpu_peak_p95 = 60;
		h->net_avg_peak = 1e6;
	}
}
static void imported(struct estate_host *h) { fx_import(h, true, false); }
static void imported_bare(struct estate_host *h) { fx_import(h, false, false); }
static void powered_off(struct estate_host *h)
{
	fx_import(h, true, true);
	h->inbound_edges = 0;
}

struct rcase {
	const char *name;
	void (*mod)(struct estate_host *h);
	size_t peers;
	const char *code;       /* must be present; NULL: no reasons at all */
	const char *category;
	const char *strategy;
};

static const struct rcase cases[] = {
	{ "ready baseline", base, 0, NULL, "Ready", "Rehost" },
	{ "os_eol (Debian 12 in LTS)", os_eol, 0, "os_eol", "Conditionally ready", "Rehost" },
	{ "os_unsupported (CentOS 7)", os_unsupported, 0, "os_unsupported", "Not ready", "Refactor" },
	{ "os_unknown", os_unknown, 0, "os_unknown", "Conditionally ready", "Rehost" },
	{ "arch_32bit", arch_32bit, 0, "arch_32bit", "Not ready", "Refactor" },
	{ "kernel_old", kernel_old, 0, "kernel_old", "Conditionally ready", "Rehost" },
	{ "disk_too_large", disk_too_large, 0, "disk_too_large", "Conditionally ready", "Rehost" },
	{ "memory_too_large", memory_too_large, 0, "memory_too_large", "Not ready", "Rehost" },
	{ "cpu_too_large", cpu_too_large, 0, "cpu_too_large", "Not ready", "Rehost" },
	{ "iops_high", iops_high, 0, "iops_high", "Conditionally ready", "Rehost" },
	{ "licensed_software (Oracle)", licensed, 0, "licensed_software", "Conditionally ready", "Replatform" },
	{ "hardware_dongle", dongle, 0, "hardware_dongle", "Not ready", "Retain" },
	{ "many_dependencies", base, 16, "many_dependencies", "Conditionally ready", "Rehost" },
	{ "idle and unused: Retire", idle, 0, "idle", "Ready", "Retire" },
	{ "idle but has clients: not retired", idle_but_used, 0, "idle", "Ready", "Rehost" },
	{ "too_little_data (2 windows)", too_little_data, 0, "too_little_data", "Unknown", "Rehost" },
	{ "too_little_data (no facts)", no_facts, 0, "too_little_data", "Unknown", "Rehost" },
	{ "Relocate: unsupported OS on VMware", relocate, 0, "os_unsupported", "Not ready", "Relocate" },
	{ "Replatform: self-managed PostgreSQL", replatform, 0, NULL, "Ready", "Replatform" },
	{ "Repurchase: Jira", repurchase, 0, NULL, "Ready", "Repurchase" },
	{ "RHEL 9.4 matches the major 9", rhel_minor, 0, NULL, "Ready", "Rehost" },
	{ "CentOS Stream 8 is 8-stream (ended)", stream8, 0, "os_unsupported", "Not ready", "Refactor" },
	{ "imported with avg/max utilization", imported, 0, "imported", "Ready", "Rehost" },
	{ "imported without utilization", imported_bare, 0, "too_little_data", "Unknown", "Rehost" },
	{ "powered off when imported: Retire", powered_off, 0, "powered_off", "Ready", "Retire" },
};

Test(readiness, imported_confidence)
{
	struct estate_host h;
	fx_host(&h, 1, "win-1");
	imported(&h);
	Cairn__Store__Readiness *r = assess(&h, 0);
	cr_expect_eq(r->confidence, 3, "avg and max of CPU and memory: medium, got %u", r->confidence);
	cr_expect(strstr(r->reasons[0]->text, "servers.csv:7"), "%s", r->reasons[0]->text);
	cairn__store__readiness__free_unpacked(r, NULL);
	estate_host_free(&h);
	fx_host(&h, 1, "win-2");
	imported_bare(&h);
	r = assess(&h, 0);
	cr_expect_eq(r->confidence, 1, "no utilization: low, got %u", r->confidence);
	cairn__store__readiness__free_unpacked(r, NULL);
	estate_host_free(&h);
}

Test(readiness, table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		struct estate_host h;
		fx_host(&h, 1, "web-1");
		c->mod(&h);
		Cairn__Store__Readiness *r = assess(&h, c->peers);
		if (c->code) {
			cr_expect(has_code(r, c->code), "%s: reason %s missing", c->name, c->code);
		} else {
			cr_expect_eq(r->n_reasons, 0, "%s: unexpected reason %s", c->name,
				     r->n_reasons ? r->reasons[0]->code : "");
		}
		cr_expect_str_eq(r->category, c->category, "%s: category %s, expected %s", c->name,
				 r->category, c->category);
		cr_expect_str_eq(r->strategy, c->strategy, "%s: strategy %s, expected %s", c->name,
				 r->strategy, c->strategy);
		cr_expect(r->n_strategy_reasons > 0, "%s: a strategy without reasons", c->name);
		int expect_score = 100;
		for (size_t k = 0; k < r->n_reasons; k++) {
			const struct rules_reason *rule = rules_reason_find(r->reasons[k]->code);
			cr_assert(rule, "%s: reason code %s not in the rules table", c->name,
				  r->reasons[k]->code);
			cr_expect(r->reasons[k]->text[0], "%s: reason without text", c->name);
			expect_score -= rule->penalty;
		}
		cr_expect_eq((int)r->score, expect_score < 0 ? 0 : expect_score, "%s: score %u", c->name,
			     r->score);
		cairn__store__readiness__free_unpacked(r, NULL);
		estate_host_free(&h);
	}
}

Test(readiness, every_reason_code_is_covered)
{
	for (size_t i = 0; i < rules_nreasons; i++) {
		bool found = false;
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
			found |= cases[k].code && !strcmp(cases[k].code, rules_reasons[i].code);
		cr_expect(found, "rules code %s has no test row", rules_reasons[i].code);
	}
}

Test(readiness, os_eol_texts_carry_dates)
{
	struct estate_host h;
	fx_host(&h, 1, "old");
	os_eol(&h);
	Cairn__Store__Readiness *r = assess(&h, 0);
	cr_assert_eq(r->n_reasons, 1);
	cr_expect(strstr(r->reasons[0]->text, "2026-07-11"), "%s", r->reasons[0]->text);
	cr_expect(strstr(r->reasons[0]->text, "2028-06-30"), "%s", r->reasons[0]->text);
	cr_expect_str_eq(r->reasons[0]->severity, "conditional");
	cairn__store__readiness__free_unpacked(r, NULL);
	estate_host_free(&h);
}

Test(readiness, confidence_in_fifths)
{
	cr_expect_eq(readiness_confidence(0), 1);
	cr_expect_eq(readiness_confidence(0.2), 1);
	cr_expect_eq(readiness_confidence(0.21), 2);
	cr_expect_eq(readiness_confidence(0.4), 2);
	cr_expect_eq(readiness_confidence(0.6), 3);
	cr_expect_eq(readiness_confidence(0.61), 4);
	cr_expect_eq(readiness_confidence(0.81), 5);
	cr_expect_eq(readiness_confidence(1), 5);
	struct estate_host h;
	fx_host(&h, 1, "half");
	h.windows = 144; /* half a day of windows over one day */
	Cairn__Store__Readiness *r = assess(&h, 0);
	cr_expect_eq(r->confidence, 3, "coverage %.2f -> %u", r->coverage, r->confidence);
	cairn__store__readiness__free_unpacked(r, NULL);
	estate_host_free(&h);
}

Test(readiness, app_takes_worst_host_and_first_strategy)
{
	struct estate_host a, b;
	fx_host(&a, 1, "web-1");
	fx_host(&b, 2, "db-1");
	replatform(&b);
	os_eol(&b);
	Cairn__Store__Readiness *ra = assess(&a, 0), *rb = assess(&b, 0);
	const char *hosts[] = { a.id, b.id };
	Cairn__Store__App *app = fx_app("app1", "shop", false, hosts, 2);
	const Cairn__Store__Readiness *hr[] = { ra, rb };
	Cairn__Store__Readiness *r = NULL;
	cr_assert_eq(readiness_app(app, hr, 3, &r), 0);
	cr_expect_str_eq(r->kind, "app");
	cr_expect_str_eq(r->category, "Conditionally ready");
	cr_expect_str_eq(r->strategy, "Replatform");
	cr_expect_eq(r->score, 85);
	cr_expect(r->n_strategy_reasons >= 1 && strstr(r->strategy_reasons[0]->text, "db-1"));
	cairn__store__readiness__free_unpacked(r, NULL);
	/* every host idle and unused: the app retires; one in use: it does not */
	idle(&a);
	idle(&b);
	cairn__store__readiness__free_unpacked(ra, NULL);
	cairn__store__readiness__free_unpacked(rb, NULL);
	ra = assess(&a, 0);
	rb = assess(&b, 0);
	const Cairn__Store__Readiness *hr2[] = { ra, rb };
	cr_assert_eq(readiness_app(app, hr2, 0, &r), 0);
	cr_expect_str_eq(r->strategy, "Retire");
	cairn__store__readiness__free_unpacked(r, NULL);
	cairn__store__readiness__free_unpacked(ra, NULL);
	cairn__store__readiness__free_unpacked(rb, NULL);
	cairn__store__app__free_unpacked(app, NULL);
	estate_host_free(&a);
	estate_host_free(&b);
}

/* Two hosts with the same reason: the app lists both, the penalty counts once
 * (an app of 40 old Debian hosts is not 600 points worse than one). */
Test(readiness, app_penalty_once_per_code)
{
	struct estate_host a, b;
	fx_host(&a, 1, "web-1");
	fx_host(&b, 2, "web-2");
	os_eol(&a);
	os_eol(&b);
	Cairn__Store__Readiness *ra = assess(&a, 0), *rb = assess(&b, 0);
	const char *hosts[] = { a.id, b.id };
	Cairn__Store__App *app = fx_app("app1", "shop", false, hosts, 2);
	const Cairn__Store__Readiness *hr[] = { ra, rb };
	Cairn__Store__Readiness *r = NULL;
	cr_assert_eq(readiness_app(app, hr, 0, &r), 0);
	size_t n = 0;
	int penalties = 0;
	for (size_t i = 0; i < r->n_reasons; i++)
		if (!strcmp(r->reasons[i]->code, "os_eol")) {
			n++;
			penalties += r->reasons[i]->penalty;
		}
	cr_expect_eq(n, 2, "each host's reason is listed");
	cr_expect_eq(penalties, rules_reason_find("os_eol")->penalty);
	cr_expect_eq(r->score, 100 - rules_reason_find("os_eol")->penalty);
	cairn__store__readiness__free_unpacked(r, NULL);
	cairn__store__readiness__free_unpacked(ra, NULL);
	cairn__store__readiness__free_unpacked(rb, NULL);
	cairn__store__app__free_unpacked(app, NULL);
	estate_host_free(&a);
	estate_host_free(&b);
}

Test(readiness, lifecycle_errors_name_file_and_line)
{
	struct readiness_lifecycle l;
	struct errbuf eb = { { 0 } };
	const char *bad = "os_id,version,name,end_of_standard_support,end_of_extended_support\n"
			  "debian,12,Debian 12,2026-07-11,2028-06-30\n"
			  "ubuntu,20.04,Ubuntu,31.05.2025,\n";
	cr_expect_eq(readiness_lifecycle_parse(bad, strlen(bad), "lc.csv", &l, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "lc.csv:3:"), "%s", eb.msg);
	const char *hdr = "id,ver\n";
	cr_expect_eq(readiness_lifecycle_parse(hdr, strlen(hdr), "lc.csv", &l, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "lc.csv:1:"), "%s", eb.msg);
}
