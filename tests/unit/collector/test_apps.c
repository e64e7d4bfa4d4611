/* Application grouping: hub detection, shared services, grouping and naming
 * on small hand-made estates, people's decisions across recomputation and
 * new data, and the adjusted Rand index on a generated 50-host estate. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis_fixture.h"
#include "apps.h"
#include "commands.h"
#include "depmap.h"
#include "estate_gen.h"
#include "snapshot.h"
#include "store.h"

static void addr_of(char *out, size_t n, uint8_t h)
{
	snprintf(out, n, "10.0.%u.%u", h / 200, h % 200 + 1);
}

static void host(struct fixture *f, uint8_t h, const char *name)
{
	char a[32];
	addr_of(a, sizeof(a), h);
	fixture_host(f, h, name, (const char *[]){ a, NULL });
}

static void conn(struct fixture *f, uint8_t c, uint8_t s, uint32_t port)
{
	char ca[32], sa[32];
	addr_of(ca, sizeof(ca), c);
	addr_of(sa, sizeof(sa), s);
	fixture_conn(f, c, ca, "client", s, sa, "server", port);
}

struct grouped {
	struct depmap *m;
	struct apps_result r;
};

static void group(struct fixture *f, struct grouped *g)
{
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f->env, &txn), 0);
	struct errbuf eb = { { 0 } };
	struct depmap_opts mo = { 0 };
	cr_assert_eq(depmap_build(txn, &f->env, &mo, &g->m, &eb), 0, "%s", eb.msg);
	db_read_end(&f->env, txn);
	cr_assert_eq(apps_compute(g->m, NULL, NULL, NULL, &g->r, &eb), 0, "%s", eb.msg);
}

static void ungroup(struct grouped *g)
{
	apps_result_free(&g->r);
	depmap_free(g->m);
}

static const Cairn__Store__App *app_of(const struct grouped *g, uint8_t h)
{
	uint8_t id[32];
	fixture_id(id, h);
	uint32_t i = depmap_host_index(g->m, id);
	cr_assert_neq(i, DEPMAP_NONE);
	int32_t a = g->r.app_of_host[i];
	cr_assert_geq(a, 0, "host %u has no application", h);
	return g->r.apps[a];
}

Test(apps, infrastructure_hubs)
{
	struct fixture f;
	fixture_open(&f);
	/* 1 dns, 2 ntp, 3 monitoring that polls everyone on 9100, 4 a package
	 * mirror on port 80 used by everyone; ten two-host applications */
	host(&f, 1, "dns-01");
	host(&f, 2, "ntp-01");
	host(&f, 3, "mon-01");
	host(&f, 4, "mirror-01");
	char name[32];
	for (uint8_t h = 10; h < 30; h++) {
		snprintf(name, sizeof(name), "team%u-%s-01", (h - 10) / 2, h % 2 ? "db" : "web");
		host(&f, h, name);
		conn(&f, h, 1, 53);
		conn(&f, h, 2, 123);
		conn(&f, 3, h, 9100);
		conn(&f, h, 4, 80);
		if (h % 2 == 0)
			conn(&f, h, h + 1, 5432);
	}
	struct grouped g;
	group(&f, &g);
	cr_expect(app_of(&g, 1)->infrastructure);
	cr_expect(app_of(&g, 2)->infrastructure);
	cr_expect(app_of(&g, 3)->infrastructure, "a poller of many hosts is infrastructure");
	cr_expect(app_of(&g, 4)->infrastructure, "a wide fan-in service is infrastructure");
	cr_expect_str_eq(app_of(&g, 1)->name, "shared dns");
	for (uint8_t h = 10; h < 30; h += 2) {
		const Cairn__Store__App *a = app_of(&g, h);
		cr_expect_not(a->infrastructure);
		cr_expect_eq(a, app_of(&g, h + 1), "web and db of one application together");
		cr_expect_eq(a->n_hosts, 2);
		snprintf(name, sizeof(name), "team%u", (h - 10) / 2);
		cr_expect_str_eq(a->name, name);
	}
	cr_expect_eq(g.r.napps, 10 + 4);
	ungroup(&g);
	fixture_close(&f);
}

/* shop: web -> app -> db, crm: app -> db, both use shared-pg; a replica
 * of shop-db; billing-batch-01/02 share billing-db and the shared-pg too. */
static void small_estate(struct fixture *f)
{
	host(f, 1, "shop-web-01");
	host(f, 2, "shop-app-01");
	host(f, 3, "shop-db-01");
	host(f, 4, "shop-db-02");
	host(f, 5, "crm-app-01");
	host(f, 6, "crm-db-01");
	host(f, 7, "pg-shared-01");
	host(f, 8, "billing-batch-01");
	host(f, 9, "billing-batch-02");
	host(f, 10, "billing-db-01");
	conn(f, 1, 2, 8080);
	conn(f, 2, 3, 5432);
	conn(f, 4, 3, 5432);
	conn(f, 5, 6, 5432);
	conn(f, 2, 7, 5432);
	conn(f, 5, 7, 5432);
	conn(f, 8, 10, 5432);
	conn(f, 9, 10, 5432);
	conn(f, 8, 7, 5432);
	conn(f, 9, 7, 5432);
}

Test(apps, shared_database_and_names)
{
	struct fixture f;
	fixture_open(&f);
	small_estate(&f);
	struct grouped g;
	group(&f, &g);
	const Cairn__Store__App *shop = app_of(&g, 1);
	cr_expect_str_eq(shop->name, "shop");
	cr_expect_str_eq(shop->named_from, "hostname-stem");
	cr_expect_eq(app_of(&g, 2), shop);
	cr_expect_eq(app_of(&g, 3), shop);
	cr_expect_eq(app_of(&g, 4), shop, "the replica stays with its primary");
	cr_expect_eq(shop->n_hosts, 4);
	cr_expect_str_eq(app_of(&g, 5)->name, "crm");
	cr_expect_eq(app_of(&g, 6), app_of(&g, 5));
	cr_expect_str_eq(app_of(&g, 8)->name, "billing");
	cr_expect_eq(app_of(&g, 9), app_of(&g, 8));
	cr_expect_eq(app_of(&g, 10), app_of(&g, 8));
	const Cairn__Store__App *pg = app_of(&g, 7);
	cr_expect(pg->infrastructure, "a database three applications use is shared");
	cr_expect_str_eq(pg->name, "shared postgres");
	cr_expect_eq(g.r.shared, 1);
	cr_expect_str_eq(shop->services[0], "postgres");
	ungroup(&g);
	fixture_close(&f);
}

/* Names are a function of the group, not of the random agent ids: the same
 * estate with its hosts numbered (= agent ids ordered) differently gets the
 * same names; a name survives a host joining; no group is "shared shared". */
static void naming_estate(struct fixture *f, const uint8_t num[7])
{
	/* no common stem, no labelled service: the smallest host name */
	host(f, num[0], "gamma-z");
	host(f, num[1], "alpha-x");
	host(f, num[2], "beta-y");
	conn(f, num[0], num[1], 7777);
	conn(f, num[2], num[1], 7777);
	/* no common stem, serves postgres: the dominant service */
	host(f, num[3], "kappa");
	host(f, num[4], "lambda");
	conn(f, num[3], num[4], 5432);
	conn(f, num[3], num[4], 7778);
	/* two groups that would both be "orders": the smaller host name gets it */
	host(f, num[5], "orders-web-02");
	host(f, num[6], "orders-web-01");
}

static const char *name_of(const struct grouped *g, uint8_t h)
{
	return app_of(g, h)->name;
}

Test(apps, names_do_not_depend_on_agent_ids)
{
	static const uint8_t orders[3][7] = { { 1, 2, 3, 4, 5, 6, 7 },
					      { 7, 6, 5, 4, 3, 2, 1 },
					      { 3, 1, 7, 5, 2, 6, 4 } };
	for (size_t k = 0; k < 3; k++) {
		const uint8_t *num = orders[k];
		struct fixture f;
		fixture_open(&f);
		naming_estate(&f, num);
		struct grouped g;
		group(&f, &g);
		cr_expect_str_eq(name_of(&g, num[0]), "alpha-x", "order %zu", k);
		cr_expect_str_eq(app_of(&g, num[0])->named_from, "host");
		cr_expect_str_eq(name_of(&g, num[3]), "postgres", "order %zu", k);
		cr_expect_str_eq(app_of(&g, num[3])->named_from, "service");
		cr_expect_str_eq(name_of(&g, num[6]), "orders", "order %zu", k);
		cr_expect_str_eq(name_of(&g, num[5]), "orders-2", "order %zu", k);
		ungroup(&g);
		fixture_close(&f);
	}
}

Test(apps, name_stable_when_a_host_joins)
{
	struct fixture f;
	fixture_open(&f);
	naming_estate(&f, (const uint8_t[]){ 1, 2, 3, 4, 5, 6, 7 });
	struct grouped g1;
	group(&f, &g1);
	cr_assert_str_eq(name_of(&g1, 1), "alpha-x");
	/* a host with a smaller name joins the group */
	host(&f, 9, "aardvark");
	conn(&f, 9, 2, 7777);
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f.env, &txn), 0);
	struct errbuf eb = { { 0 } };
	struct depmap_opts mo = { 0 };
	struct grouped g2;
	cr_assert_eq(depmap_build(txn, &f.env, &mo, &g2.m, &eb), 0, "%s", eb.msg);
	db_read_end(&f.env, txn);
	Cairn__Store__Snapshot prev = CAIRN__STORE__SNAPSHOT__INIT;
	prev.n_auto_groups = g1.r.nauto;
	prev.auto_groups = g1.r.auto_groups;
	cr_assert_eq(apps_compute(g2.m, NULL, &prev, NULL, &g2.r, &eb), 0, "%s", eb.msg);
	cr_expect_eq(app_of(&g2, 9), app_of(&g2, 1));
	cr_expect_str_eq(name_of(&g2, 9), "alpha-x", "the name stays when a host joins");
	ungroup(&g1);
	ungroup(&g2);
	fixture_close(&f);
}

Test(apps, unlabelled_shared_service_is_named_by_port)
{
	struct fixture f;
	fixture_open(&f);
	small_estate(&f);
	/* three applications use host 11 on a port without a label */
	host(&f, 11, "broker-01");
	conn(&f, 2, 11, 12345);
	conn(&f, 5, 11, 12345);
	conn(&f, 8, 11, 12345);
	struct grouped g;
	group(&f, &g);
	const Cairn__Store__App *b = app_of(&g, 11);
	cr_expect(b->infrastructure);
	cr_expect_str_eq(b->name, "shared port 12345");
	for (size_t i = 0; i < g.r.napps; i++)
		cr_expect_str_neq(g.r.apps[i]->name, "shared shared");
	ungroup(&g);
	fixture_close(&f);
}

/* Client c uses server s on port on each of days days (more traffic). */
static void conn_days(struct fixture *f, uint8_t c, uint8_t s, uint32_t port, uint32_t days)
{
	char ca[32], sa[32];
	addr_of(ca, sizeof(ca), c);
	addr_of(sa, sizeof(sa), s);
	for (uint32_t d = 0; d < days; d++) {
		fixture_edge(f, c, d, CAIRN__DIRECTION__OUTBOUND, "client", sa, port, NULL);
		fixture_edge(f, s, d, CAIRN__DIRECTION__INBOUND, "server", ca, port, NULL);
	}
}

static bool has_why(const Cairn__Store__App *a, const char *text)
{
	for (size_t i = 0; i < a->n_why; i++)
		if (strstr(a->why[i], text))
			return true;
	return false;
}

/* An 11-host estate: a monitoring host scraping every other host is
 * infrastructure although 10 < hub_min_clients, and says why. */
Test(apps, small_estate_poller_is_infrastructure)
{
	struct fixture f;
	fixture_open(&f);
	host(&f, 1, "mon-01");
	char name[32];
	for (uint8_t h = 2; h <= 11; h++) {
		snprintf(name, sizeof(name), "svc%u-%s-01", h / 2, h % 2 ? "db" : "app");
		host(&f, h, name);
		conn(&f, 1, h, 9100);
		if (h % 2 == 0 && h < 11)
			conn(&f, h, h + 1, 5432);
	}
	struct grouped g;
	group(&f, &g);
	const Cairn__Store__App *mon = app_of(&g, 1);
	cr_expect(mon->infrastructure, "a poller of 10 of 10 hosts is infrastructure");
	cr_expect(has_why(mon, "mon-01: infrastructure: polls 10 of 10 other hosts on port 9100 "
			       "(node-exporter)"),
		  "why: %s", mon->n_why ? mon->why[0] : "(none)");
	cr_expect_not(app_of(&g, 2)->infrastructure);
	cr_expect_eq(app_of(&g, 2), app_of(&g, 3));
	cr_expect_neq(app_of(&g, 2), app_of(&g, 4), "the poller does not glue applications");
	ungroup(&g);
	fixture_close(&f);
	/* the same monitoring host polling 3 of 10 is not infrastructure */
	fixture_open(&f);
	host(&f, 1, "mon-01");
	for (uint8_t h = 2; h <= 11; h++) {
		snprintf(name, sizeof(name), "svc%u-%s-01", h / 2, h % 2 ? "db" : "app");
		host(&f, h, name);
		if (h <= 4)
			conn(&f, 1, h, 9100);
	}
	group(&f, &g);
	cr_expect_not(app_of(&g, 1)->infrastructure, "polling 3 of 10 is not most of the estate");
	ungroup(&g);
	fixture_close(&f);
}

/* shop's broker is used heavily by shop and once in a while by one billing
 * host: it stays in shop, the rare link is a cross-application dependency;
 * a broker two applications use alike is shared. */
Test(apps, rarely_used_service_stays_in_its_application)
{
	for (int alike = 0; alike < 2; alike++) {
		struct fixture f;
		fixture_open(&f);
		host(&f, 1, "shop-web-01");
		host(&f, 2, "shop-app-01");
		host(&f, 3, "shop-mq-01");
		host(&f, 4, "billing-batch-01");
		host(&f, 5, "billing-db-01");
		conn_days(&f, 1, 2, 8080, 20);
		conn_days(&f, 2, 3, 1883, 20);
		conn_days(&f, 4, 5, 5432, 20);
		conn_days(&f, 4, 3, 1883, alike ? 20 : 1);
		struct grouped g;
		group(&f, &g);
		const Cairn__Store__App *mq = app_of(&g, 3);
		if (alike) {
			cr_expect(mq->infrastructure, "used alike by two applications: shared");
			cr_expect_str_eq(mq->name, "shared mqtt");
			cr_expect(has_why(mq, "shared: used by 2 applications"));
		} else {
			cr_expect_not(mq->infrastructure, "a rare client does not make it shared");
			cr_expect_eq(mq, app_of(&g, 2), "the broker stays with shop");
			cr_expect_str_eq(mq->name, "shop");
			cr_expect_neq(app_of(&g, 4), mq, "billing stays billing");
			cr_expect_str_eq(app_of(&g, 4)->name, "billing");
			cr_expect(has_why(mq, "shop-mq-01: keeps a service: 95 % of its traffic"),
				  "why: %s", mq->n_why ? mq->why[0] : "(none)");
		}
		ungroup(&g);
		fixture_close(&f);
	}
}

Test(apps, call_between_applications_is_a_weak_link)
{
	struct fixture f;
	fixture_open(&f);
	/* two applications of four hosts (balancer, two web, database: a
	 * cycle, no weak link inside), the first calls the second's balancer */
	const char *names[] = { "alpha-lb-01", "alpha-web-01", "alpha-web-02", "alpha-db-01",
				"beta-lb-01", "beta-web-01", "beta-web-02", "beta-db-01" };
	for (uint8_t i = 0; i < 8; i++)
		host(&f, i + 1, names[i]);
	for (uint8_t base = 1; base <= 5; base += 4) {
		conn(&f, base, base + 1, 80);
		conn(&f, base, base + 2, 80);
		conn(&f, base + 1, base + 3, 5432);
		conn(&f, base + 2, base + 3, 5432);
	}
	conn(&f, 2, 5, 443);
	struct grouped g;
	group(&f, &g);
	cr_expect_eq(g.r.bridges, 1);
	cr_expect_str_eq(app_of(&g, 1)->name, "alpha");
	cr_expect_str_eq(app_of(&g, 5)->name, "beta");
	cr_expect_neq(app_of(&g, 2), app_of(&g, 5));
	cr_expect_eq(app_of(&g, 8), app_of(&g, 5));
	cr_expect_eq(g.r.shared, 0);
	ungroup(&g);
	fixture_close(&f);
}

Test(apps, large_component_split_by_louvain)
{
	struct fixture f;
	fixture_open(&f);
	/* two dense clusters of 6 (every pair talks) joined by two edges: one
	 * component, no weak link; above max_app_hosts it is split */
	char name[32];
	for (uint8_t h = 1; h <= 12; h++) {
		snprintf(name, sizeof(name), "%s-node-%02u", h <= 6 ? "kafka" : "spark", h);
		host(&f, h, name);
	}
	for (uint8_t a = 1; a <= 12; a++)
		for (uint8_t b = a + 1; b <= 12; b++)
			if ((a <= 6) == (b <= 6))
				conn(&f, a, b, 9092);
	conn(&f, 1, 7, 7077);
	conn(&f, 2, 8, 7077);
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f.env, &txn), 0);
	struct errbuf eb = { { 0 } };
	struct depmap_opts mo = { 0 };
	struct grouped g;
	cr_assert_eq(depmap_build(txn, &f.env, &mo, &g.m, &eb), 0, "%s", eb.msg);
	db_read_end(&f.env, txn);
	struct apps_opts o;
	apps_opts_default(&o);
	o.max_app_hosts = 8;
	cr_assert_eq(apps_compute(g.m, &o, NULL, NULL, &g.r, &eb), 0, "%s", eb.msg);
	cr_expect_eq(g.r.louvain_splits, 1);
	cr_expect_eq(g.r.bridges, 0);
	cr_expect_eq(g.r.napps, 2);
	for (uint8_t h = 2; h <= 6; h++)
		cr_expect_eq(app_of(&g, h), app_of(&g, 1));
	for (uint8_t h = 8; h <= 12; h++)
		cr_expect_eq(app_of(&g, h), app_of(&g, 7));
	cr_expect_neq(app_of(&g, 1), app_of(&g, 7));
	cr_expect_str_eq(app_of(&g, 1)->name, "kafka");
	cr_expect_str_eq(app_of(&g, 7)->name, "spark");
	/* the same input gives the same result */
	struct apps_result r2;
	cr_assert_eq(apps_compute(g.m, &o, NULL, NULL, &r2, &eb), 0);
	for (uint32_t i = 0; i < g.m->nhosts; i++)
		cr_expect_str_eq(r2.apps[r2.app_of_host[i]]->id, g.r.apps[g.r.app_of_host[i]]->id);
	apps_result_free(&r2);
	ungroup(&g);
	fixture_close(&f);
}

static const Cairn__Store__App *snap_app_of(const Cairn__Store__Snapshot *s, uint8_t h)
{
	char id[65];
	fixture_id_hex(id, h);
	for (size_t i = 0; i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			if (!strcmp(s->apps[i]->hosts[j], id))
				return s->apps[i];
	cr_assert_fail("host %u in no application", h);
	return NULL;
}

struct dec {
	Cairn__Store__DecisionKind kind;
	const char *subject, *value;
	const struct db_env *env;
};

static int dec_fn(MDB_txn *txn, void *arg)
{
	struct dec *d = arg;
	return apps_decision_put(txn, d->env, d->kind, d->subject, d->value, "test", 1, NULL);
}

static void decide(struct fixture *f, Cairn__Store__DecisionKind kind, const char *subject,
		   const char *value)
{
	struct dec d = { kind, subject, value, &f->env };
	cr_assert_eq(db_write(&f->env, dec_fn, &d), 0);
}

static Cairn__Store__Snapshot *refresh(struct fixture *f)
{
	struct snapshot_opts o;
	snapshot_opts_default(&o, time_now_ms());
	o.with_plan = false;
	Cairn__Store__Snapshot *s = NULL;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(snapshot_refresh(&f->env, &o, &s, &eb), 0, "%s", eb.msg);
	return s;
}

Test(apps, decisions_survive_recomputation_and_new_data)
{
	struct fixture f;
	fixture_open(&f);
	small_estate(&f);
	Cairn__Store__Snapshot *s = refresh(&f);
	cr_expect_eq(s->version, 1);
	char shop_id[64], crm_id[64], billing_id[64], h6[65], h9[65];
	str_copy(shop_id, snap_app_of(s, 1)->id, sizeof(shop_id));
	str_copy(crm_id, snap_app_of(s, 5)->id, sizeof(crm_id));
	str_copy(billing_id, snap_app_of(s, 8)->id, sizeof(billing_id));
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* rename shop, pin crm's database into shop, merge billing into crm */
	fixture_id_hex(h6, 6);
	fixture_id_hex(h9, 9);
	decide(&f, CAIRN__STORE__DECISION_KIND__APP_RENAME, shop_id, "webshop");
	decide(&f, CAIRN__STORE__DECISION_KIND__HOST_PIN, h6, shop_id);
	decide(&f, CAIRN__STORE__DECISION_KIND__APP_MERGE, billing_id, crm_id);
	s = refresh(&f);
	cr_expect_eq(s->version, 2);
	cr_expect_str_eq(snap_app_of(s, 1)->name, "webshop");
	cr_expect_str_eq(snap_app_of(s, 1)->named_from, "person");
	cr_expect_str_eq(snap_app_of(s, 6)->id, shop_id);
	cr_expect_eq(snap_app_of(s, 6)->n_pinned_hosts, 1);
	cr_expect_str_eq(snap_app_of(s, 9)->id, crm_id);
	cr_expect_str_eq(snap_app_of(s, 5)->id, crm_id);
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* new data: a second web server and a new host for billing; ids,
	 * names and decisions hold */
	host(&f, 11, "shop-web-02");
	conn(&f, 11, 2, 8080);
	host(&f, 12, "billing-batch-03");
	conn(&f, 12, 10, 5432);
	s = refresh(&f);
	cr_expect_eq(s->version, 3);
	cr_expect_str_eq(snap_app_of(s, 11)->id, shop_id);
	cr_expect_str_eq(snap_app_of(s, 11)->name, "webshop");
	cr_expect_str_eq(snap_app_of(s, 6)->id, shop_id);
	cr_expect_str_eq(snap_app_of(s, 12)->id, crm_id, "merged application keeps new hosts");
	cr_expect_str_eq(snap_app_of(s, 5)->name, "crm");
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* unpin: the database returns to crm */
	decide(&f, CAIRN__STORE__DECISION_KIND__HOST_PIN, h6, NULL);
	s = refresh(&f);
	cr_expect_str_eq(snap_app_of(s, 6)->id, crm_id);
	cairn__store__snapshot__free_unpacked(s, NULL);

	/* the audit log has one entry per decision */
	MDB_txn *txn;
	MDB_stat st;
	cr_assert_eq(db_read_begin(&f.env, &txn), 0);
	cr_assert_eq(mdb_stat(txn, f.env.dbi[STORE_AUDIT], &st), 0);
	cr_expect_eq(st.ms_entries, 4);
	db_read_end(&f.env, txn);
	fixture_close(&f);
}

Test(apps, adjusted_rand_index)
{
	uint32_t a[] = { 0, 0, 0, 1, 1, 1 }, b[] = { 5, 5, 5, 7, 7, 7 }, c[] = { 0, 1, 0, 1, 0, 1 };
	cr_expect_float_eq(apps_adjusted_rand(a, b, 6), 1.0, 1e-9);
	cr_expect_lt(apps_adjusted_rand(a, c, 6), 0.1);
}

Test(apps, generated_50_host_estate, .timeout = 60)
{
	struct fixture f;
	fixture_open(&f);
	struct estate_gen_spec spec = { .hosts = 50, .seed = 7, .days = 2,
					.start_ms = f.day0_ms };
	struct estate_gen *e;
	cr_assert_eq(estate_gen_build(&spec, &e), 0);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(estate_gen_write(e, &f.env, &eb), 0, "%s", eb.msg);
	struct grouped g;
	group(&f, &g);
	/* edges between agent hosts: precision and recall 1 */
	uint32_t *truth;
	size_t ntruth, found = 0, correct = 0;
	cr_assert_eq(estate_gen_truth_edges(e, &truth, &ntruth), 0);
	for (size_t i = 0; i < g.m->nhostl; i++) {
		const struct depmap_edge *d = &g.m->hostl[i];
		if (d->from >= g.m->nhosts || d->to >= g.m->nhosts)
			continue;
		found++;
		for (size_t t = 0; t < ntruth; t++)
			if (!memcmp(g.m->nodes[d->from].id_raw, e->hosts[truth[2 * t]].pk, 32) &&
			    !memcmp(g.m->nodes[d->to].id_raw, e->hosts[truth[2 * t + 1]].pk, 32)) {
				correct++;
				break;
			}
	}
	cr_expect_eq(found, ntruth, "found %zu edges, truth %zu", found, ntruth);
	cr_expect_eq(correct, ntruth, "correct %zu of %zu", correct, ntruth);
	uint32_t *la = calloc(e->nhosts, sizeof(uint32_t)), *lb = calloc(e->nhosts, sizeof(uint32_t));
	uint32_t infra = 0;
	for (uint32_t h = 0; h < e->nhosts; h++) {
		uint32_t n = depmap_host_index(g.m, e->hosts[h].pk);
		cr_assert_neq(n, DEPMAP_NONE);
		int32_t a = g.r.app_of_host[n];
		la[h] = e->hosts[h].truth;
		lb[h] = a < 0 || g.r.apps[a]->infrastructure ? ESTATE_GEN_INFRA : (uint32_t)a;
		infra += la[h] == ESTATE_GEN_INFRA;
	}
	cr_expect_geq(infra * 20, e->nhosts, ">= 5%% infrastructure hosts");
	double ari = apps_adjusted_rand(la, lb, e->nhosts);
	cr_expect_geq(ari, 0.95, "ARI %.4f", ari);
	free(la);
	free(lb);
	free(truth);
	ungroup(&g);
	estate_gen_free(e);
	fixture_close(&f);
}

/* deps --dot renders with Graphviz; apps --json parses. */
static char *run_cmd(int (*fn)(int, char **), int argc, char **argv, const char *out_path,
		     int *rc)
{
	fflush(stdout);
	int saved = dup(1);
	FILE *o = fopen(out_path, "w");
	cr_assert_not_null(o);
	dup2(fileno(o), 1);
	*rc = fn(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(o);
	char *text = NULL;
	size_t len;
	struct errbuf eb;
	cr_assert_eq(file_read_all(out_path, 64 << 20, &text, &len, &eb), 0);
	return text;
}

Test(apps, dot_and_json_output)
{
	struct fixture f;
	fixture_open(&f);
	small_estate(&f);
	host(&f, 20, "dns-01");
	for (uint8_t h = 1; h <= 10; h++)
		conn(&f, h, 20, 53);
	host(&f, 21, "bad\xff-name");
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__OUTBOUND, "client", "52.1.2.3", 443, NULL);
	Cairn__Store__Snapshot *s = refresh(&f);
	cairn__store__snapshot__free_unpacked(s, NULL);
	db_close(&f.env);

	char dot_path[300], json_path[300];
	snprintf(dot_path, sizeof(dot_path), "%s/map.dot", f.dir);
	snprintf(json_path, sizeof(json_path), "%s/apps.json", f.dir);
	int rc;
	char *argv1[] = { "deps", "--state-dir", f.dir, "--dot", NULL };
	char *dot = run_cmd(deps_main, 4, argv1, dot_path, &rc);
	cr_assert_eq(rc, 0);
	cr_expect(strstr(dot, "digraph cairn"));
	cr_expect(strstr(dot, "subgraph \"cluster_"));
	cr_expect(strstr(dot, "label=\"shared dns\""));
	cr_expect(strstr(dot, "https 52.1.2.3"));
	/* each of the 12 hosts is declared once, inside its application's
	 * cluster (indented), the external node once outside */
	size_t in_cluster = 0, outside = 0;
	for (const char *l = dot; (l = strchr(l, '\n')); l++) {
		char line[512];
		str_copy(line, l + 1, sizeof(line));
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!strstr(line, " [label=") || strstr(line, " -> "))
			continue;
		if (!strncmp(line, "    \"", 5))
			in_cluster++;
		else if (!strncmp(line, "  \"", 3))
			outside++;
	}
	cr_expect_eq(in_cluster, 12, "%zu host nodes in clusters:\n%s", in_cluster, dot);
	cr_expect_eq(outside, 1, "%zu nodes outside clusters", outside);
	free(dot);
	if (system("command -v dot >/dev/null 2>&1") == 0) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "dot -Tsvg '%s' -o '%s/map.svg'", dot_path, f.dir);
		cr_expect_eq(system(cmd), 0, "dot rejected the output");
	}
	char *argv2[] = { "apps", "--state-dir", f.dir, "--json", NULL };
	char *js = run_cmd(apps_main, 4, argv2, json_path, &rc);
	cr_assert_eq(rc, 0);
	json_error_t err;
	json_t *root = json_loads(js, 0, &err);
	cr_assert_not_null(root, "apps --json: %s", err.text);
	json_t *apps = json_object_get(root, "apps");
	cr_assert(json_is_array(apps));
	cr_expect_eq(json_array_size(apps), 6,
		     "shop, crm, billing, shared postgres, shared dns, the lone bad-name host");
	json_decref(root);
	free(js);

	/* unknown names: exit 3 (not found) with close matches */
	char *argv3[] = { "apps", "show", "shp", "--state-dir", f.dir, NULL };
	char *txt = run_cmd(apps_main, 5, argv3, json_path, &rc);
	cr_expect_eq(rc, 3);
	free(txt);
	char *argv4[] = { "deps", "--host", "no-such-host", "--state-dir", f.dir, NULL };
	txt = run_cmd(deps_main, 5, argv4, json_path, &rc);
	cr_expect_eq(rc, 3);
	free(txt);
	char *argv5[] = { "deps", "--level", "bogus", "--state-dir", f.dir, NULL };
	txt = run_cmd(deps_main, 5, argv5, json_path, &rc);
	cr_expect_eq(rc, 2);
	free(txt);
	/* a host name that is not UTF-8 (nothing checks agents' strings when
	 * stored) is still in the JSON, with U+FFFD for the bad byte */
	char hex[65];
	fixture_id_hex(hex, 21);
	char *argv6[] = { "host", hex, "--state-dir", f.dir, "--json", NULL };
	txt = run_cmd(host_main, 5, argv6, json_path, &rc);
	cr_expect_eq(rc, 0);
	root = json_loads(txt, 0, &err);
	cr_assert_not_null(root, "host --json: %s", err.text);
	cr_expect_str_eq(json_string_value(json_object_get(root, "hostname")), "bad\xef\xbf\xbd-name");
	json_decref(root);
	free(txt);
	/* reopen so fixture_close can close it */
	struct errbuf eb;
	char path[300];
	snprintf(path, sizeof(path), "%s/db", f.dir);
	cr_assert_eq(db_open(&f.env, path, store_db_names, STORE_NDBS, 64u << 20, 1ull << 30, 0,
			     &eb),
		     0);
	fixture_close(&f);
}
