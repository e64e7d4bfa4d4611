/* Sizing and cost against hand-computed cases. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "plan.h"
#include "plan_fixture.h"
#include "rules.h"
#include "sizing.h"

#define NEAR(a, b) (fabs((a) - (b)) < 0.005)

static const char small_catalog[] =
	"instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
	"t3.small,t3,2,2,0.0208,us-east-1,2026-07-20\n"
	"c6a.large,c6a,2,4,0.0765,us-east-1,2026-07-20\n"
	"m6a.large,m6a,2,8,0.0864,us-east-1,2026-07-20\n"
	"\"c6a.xlarge\",c6a,4,8,0.153,us-east-1,2026-07-01\n"
	"m6a.xlarge,m6a,4,16,0.1728,us-east-1,2026-07-20\n";

Test(sizing, catalog_parses_and_dates)
{
	struct sizing_catalog c;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(sizing_catalog_parse(small_catalog, strlen(small_catalog), "cat.csv", &c, &eb), 0,
		     "%s", eb.msg);
	cr_expect_eq(c.n, 5);
	cr_expect_str_eq(c.as_of, "2026-07-01"); /* the oldest row */
	cr_expect_eq(c.max_vcpu, 4);
	cr_expect(NEAR(c.max_memory_gib, 16));
	cr_expect_str_eq(c.v[3].type, "c6a.xlarge");
	sizing_catalog_free(&c);
}

struct bad {
	const char *csv;
	const char *where;
};

Test(sizing, catalog_errors_name_file_line_and_column)
{
	static const struct bad bad[] = {
		{ "instance_type,family,vcpus,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n", "my.csv:1: header has no column 'vcpu'" },
		{ "instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
		  "a.large,a,2,4,0.1,us-east-1,2026-07-20\nb.large,b,two,4,0.1,us-east-1,2026-07-20\n", "my.csv:3: vcpu 'two'" },
		{ "instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
		  "a.large,a,2,4,-1,us-east-1,2026-07-20\n", "my.csv:2: linux_on_demand_usd_per_hour '-1'" },
		{ "instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
		  "a.large,a,2,4,0.1,us-east-1,20.07.2026\n", "my.csv:2: as_of '20.07.2026'" },
		{ "instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
		  "\"a.large,a,2,4,0.1,us-east-1,2026-07-20\n", "my.csv:2: quoted field never closed" },
		{ "instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
		  "a.large,a,2\n", "my.csv:2: 3 fields" },
		{ "instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n", "my.csv: no instances" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sizing_catalog c;
		struct errbuf eb = { { 0 } };
		cr_expect_eq(sizing_catalog_parse(bad[i].csv, strlen(bad[i].csv), "my.csv", &c, &eb), -EINVAL,
			     "case %zu accepted", i);
		cr_expect(strstr(eb.msg, bad[i].where), "case %zu: '%s' lacks '%s'", i, eb.msg, bad[i].where);
	}
	struct sizing_catalog c;
	struct errbuf eb = { { 0 } };
	cr_expect_eq(sizing_catalog_load("/nonexistent/cat.csv", &c, &eb), -ENOENT);
}

Test(sizing, pick_cheapest_fitting_and_burstable_rule)
{
	struct sizing_catalog c;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(sizing_catalog_parse(small_catalog, strlen(small_catalog), "cat.csv", &c, &eb), 0);
	/* 0.3 vCPU <= 20 % of t3.small's 2 vCPU: burstable is fine */
	cr_expect_str_eq(sizing_pick(&c, 0.3, 1.5)->type, "t3.small");
	/* 0.5 vCPU is more than t3.small's baseline share */
	cr_expect_str_eq(sizing_pick(&c, 0.5, 1.5)->type, "c6a.large");
	cr_expect_str_eq(sizing_pick(&c, 2, 5)->type, "m6a.large");
	cr_expect_str_eq(sizing_pick(&c, 2.1, 9)->type, "m6a.xlarge");
	cr_expect_str_eq(sizing_pick(&c, 3, 8)->type, "c6a.xlarge");
	cr_expect_null(sizing_pick(&c, 5, 1));
	cr_expect_null(sizing_pick(&c, 1, 17));
	sizing_catalog_free(&c);
}

Test(sizing, burstable_baseline_depends_on_size)
{
	static const char cat[] =
		"instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\n"
		"t3.nano,t3,2,0.5,0.0052,us-east-1,2026-07-20\n"
		"t3.large,t3,2,8,0.0832,us-east-1,2026-07-20\n"
		"t3.huge,t3,2,0.5,0.001,us-east-1,2026-07-20\n"
		"t3a.micro,t3a,2,1,0.0094,us-east-1,2026-07-20\n"
		"c6a.large,c6a,2,4,0.0765,us-east-1,2026-07-20\n";
	struct sizing_catalog c;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(sizing_catalog_parse(cat, strlen(cat), "cat.csv", &c, &eb), 0, "%s", eb.msg);
	/* t3.nano's baseline is 5 % per vCPU: 0.1 vCPU of its 2; t3.huge has no known baseline */
	cr_expect_str_eq(sizing_pick(&c, 0.1, 0.4)->type, "t3.nano");
	/* 0.15 vCPU: over nano's baseline, within t3a.micro's 10 % x 2 */
	cr_expect_str_eq(sizing_pick(&c, 0.15, 0.4)->type, "t3a.micro");
	/* 0.5 vCPU: over every small burstable's baseline; t3.large (30 % x 2 = 0.6) costs more than c6a */
	cr_expect_str_eq(sizing_pick(&c, 0.5, 0.4)->type, "c6a.large");
	cr_expect_str_eq(sizing_pick(&c, 0.5, 5)->type, "t3.large");
	cr_expect_null(sizing_pick(&c, 0.7, 5));
	cr_expect(NEAR(rules_burstable_baseline("t3", "t3.xlarge"), 0.40));
	cr_expect(rules_burstable_baseline("t3", "t3.huge") == 0);
	cr_expect(!rules_family_burstable("c6a") && rules_family_burstable("t4g"));
	sizing_catalog_free(&c);
}

Test(sizing, storage_prices)
{
	struct sizing_storage st;
	/* within the gp3 baseline: storage only, 100 GiB x $0.08 */
	sizing_storage_price(100, 1000, 50, &st);
	cr_expect_str_eq(st.type, "gp3");
	cr_expect(NEAR(st.monthly_usd, 8.0), "%f", st.monthly_usd);
	cr_expect(NEAR(st.iops, 3000) && NEAR(st.mibps, 125));
	/* 2000 IOPS and 75 MiB/s above the baseline: 8 + 2000 x 0.005 + 75 x 0.04 = 21 */
	sizing_storage_price(100, 5000, 200, &st);
	cr_expect(NEAR(st.monthly_usd, 21.0), "%f", st.monthly_usd);
	/* above gp3's 16,000 IOPS: io2, 100 x 0.125 + 20000 x 0.065 = 1312.5 */
	sizing_storage_price(100, 20000, 200, &st);
	cr_expect_str_eq(st.type, "io2");
	cr_expect(NEAR(st.monthly_usd, 1312.5), "%f", st.monthly_usd);
	/* tiny volumes are priced at the minimum size, fractions round up */
	sizing_storage_price(0.4, 0, 0, &st);
	cr_expect(NEAR(st.gib, rules_plan.min_storage_gib));
	sizing_storage_price(10.2, 0, 0, &st);
	cr_expect(NEAR(st.gib, 11) && NEAR(st.monthly_usd, 0.88), "%f", st.monthly_usd);
}

static struct sizing_catalog shipped;

static void load_shipped(void)
{
	char path[4096];
	struct errbuf eb = { { 0 } };
	cr_assert_eq(plan_data_path("aws-ec2-catalog.csv", path, sizeof(path), &eb), 0, "%s", eb.msg);
	cr_assert_eq(sizing_catalog_load(path, &shipped, &eb), 0, "%s", eb.msg);
	cr_assert_eq(shipped.n, 91);
}

static void free_shipped(void)
{
	sizing_catalog_free(&shipped);
}

Test(sizing, host_p95_hand_computed, .init = load_shipped, .fini = free_shipped)
{
	/* 8 vCPU / 32 GiB host; p95: 25 % CPU = 2 vCPU, 6 GiB used.
	 * x 1.3 = 2.6 vCPU, 7.8 GiB -> cheapest with >= 2.6 vCPU and >= 7.8 GiB:
	 * c6a.xlarge (4 vCPU, 8 GiB, $0.153/h): 0.153 x 730 = $111.69.
	 * Storage: 40 GiB used x 1.3 = 52 GiB gp3 = $4.16; 200 IOPS and 4 MiB/s are in the baseline.
	 * As-is: 8 vCPU / 32 GiB -> m6a.2xlarge $0.3456/h = $252.288; 100 GiB allocated gp3 = $8. */
	struct estate_host h;
	fx_host(&h, 3, "app-1");
	fx_cpu_mem(&h, 8, 32);
	fx_load(&h, 25, 6, 200, 4, 1000);
	struct plan_options opt;
	plan_options_init(&opt, FX_NOW_MS);
	Cairn__Store__Sizing *s = NULL;
	cr_assert_eq(sizing_host(&h, &shipped, &opt, &s), 0);
	cr_expect_str_eq(s->mode, "p95");
	cr_expect(NEAR(s->cpu_observed, 2.0) && NEAR(s->cpu_needed, 2.6), "%f %f", s->cpu_observed, s->cpu_needed);
	cr_expect(NEAR(s->mem_needed_gib, 7.8));
	cr_expect_str_eq(s->instance_type, "c6a.xlarge");
	cr_expect(NEAR(s->monthly_usd, 111.69), "%f", s->monthly_usd);
	cr_expect(NEAR(s->storage_gib, 52) && NEAR(s->storage_monthly_usd, 4.16), "%f %f", s->storage_gib,
		  s->storage_monthly_usd);
	cr_expect_str_eq(s->storage_type, "gp3");
	cr_expect_str_eq(s->asis_instance_type, "m6a.2xlarge");
	cr_expect(NEAR(s->asis_monthly_usd, 252.288), "%f", s->asis_monthly_usd);
	cr_expect(NEAR(s->asis_storage_monthly_usd, 8.0), "%f", s->asis_storage_monthly_usd);
	cr_expect_str_eq(s->catalog_as_of, "2026-07-20");
	cr_expect_str_eq(s->region, "us-east-1");
	cairn__store__sizing__free_unpacked(s, NULL);

	/* max mode uses the highest sample (fixture: 1.5 x level): 3 vCPU x 1.3 = 3.9,
	 * 9 GiB x 1.3 = 11.7 GiB -> m6a.xlarge (4 vCPU, 16 GiB) $0.1728 x 730 = $126.144 */
	opt.mode = SIZING_MAX;
	cr_assert_eq(sizing_host(&h, &shipped, &opt, &s), 0);
	cr_expect_str_eq(s->mode, "max");
	cr_expect_str_eq(s->instance_type, "m6a.xlarge");
	cr_expect(NEAR(s->monthly_usd, 126.144), "%f", s->monthly_usd);
	cairn__store__sizing__free_unpacked(s, NULL);

	/* avg mode with comfort 1.0: 0.6 x 2 = 1.2 vCPU, 3.6 GiB -> m6a.large? no:
	 * cheapest with 1.2 vCPU / 3.6 GiB is c6a.large ($0.0765, 2 vCPU, 4 GiB) = $55.845 */
	opt.mode = SIZING_AVG;
	opt.comfort = 1.0;
	cr_assert_eq(sizing_host(&h, &shipped, &opt, &s), 0);
	cr_expect_str_eq(s->instance_type, "c6a.large");
	cr_expect(NEAR(s->monthly_usd, 55.845), "%f", s->monthly_usd);
	cairn__store__sizing__free_unpacked(s, NULL);

	/* as-is: the allocated size, no comfort factor */
	opt.mode = SIZING_ASIS;
	cr_assert_eq(sizing_host(&h, &shipped, &opt, &s), 0);
	cr_expect_str_eq(s->instance_type, "m6a.2xlarge");
	cr_expect(NEAR(s->storage_gib, 100));
	cairn__store__sizing__free_unpacked(s, NULL);
	estate_host_free(&h);
}

Test(sizing, no_data_falls_back_to_allocated, .init = load_shipped, .fini = free_shipped)
{
	struct estate_host h;
	fx_host(&h, 4, "quiet");
	h.windows = 0;
	struct plan_options opt;
	plan_options_init(&opt, FX_NOW_MS);
	Cairn__Store__Sizing *s = NULL;
	cr_assert_eq(sizing_host(&h, &shipped, &opt, &s), 0);
	cr_expect_str_eq(s->mode, "as-is");
	cr_expect(strstr(s->note, "no performance data"), "%s", s->note);
	cr_expect_str_eq(s->instance_type, "m6a.xlarge"); /* 4 vCPU / 16 GiB */
	cairn__store__sizing__free_unpacked(s, NULL);
	estate_host_free(&h);
}

Test(sizing, too_large_gets_a_note, .init = load_shipped, .fini = free_shipped)
{
	struct estate_host h;
	fx_host(&h, 5, "huge");
	fx_cpu_mem(&h, 64, 1024);
	fx_load(&h, 10, 600, 200, 4, 1000);
	struct plan_options opt;
	plan_options_init(&opt, FX_NOW_MS);
	Cairn__Store__Sizing *s = NULL;
	cr_assert_eq(sizing_host(&h, &shipped, &opt, &s), 0);
	cr_expect_str_eq(s->instance_type, "");
	cr_expect(NEAR(s->monthly_usd, 0));
	cr_expect(strstr(s->note, "no instance"), "%s", s->note);
	cairn__store__sizing__free_unpacked(s, NULL);
	estate_host_free(&h);
}

Test(sizing, mode_names_parse)
{
	enum sizing_mode m;
	double p = 95;
	cr_expect_eq(sizing_mode_parse("p99", &m, &p), 0);
	cr_expect_eq(m, SIZING_PERCENTILE);
	cr_expect(NEAR(p, 99));
	cr_expect_eq(sizing_mode_parse("asis", &m, &p), 0);
	cr_expect_eq(m, SIZING_ASIS);
	cr_expect_eq(sizing_mode_parse("as-is", &m, &p), 0);
	cr_expect_eq(sizing_mode_parse("avg", &m, &p), 0);
	cr_expect_eq(m, SIZING_AVG);
	cr_expect_eq(sizing_mode_parse("max", &m, &p), 0);
	cr_expect_eq(sizing_mode_parse("p0", &m, &p), -EINVAL);
	cr_expect_eq(sizing_mode_parse("p101", &m, &p), -EINVAL);
	cr_expect_eq(sizing_mode_parse("median", &m, &p), -EINVAL);
}

Test(sizing, percentile_nearest_rank)
{
	double v[] = { 5, 1, 4, 2, 3, 10, 9, 8, 7, 6 };
	cr_expect(NEAR(estate_percentile(v, 10, 95), 10));
	cr_expect(NEAR(estate_percentile(v, 10, 50), 5));
	cr_expect(NEAR(estate_percentile(v, 10, 10), 1));
	cr_expect(NEAR(estate_percentile(v, 0, 95), 0));
}
