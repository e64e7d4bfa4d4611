/* Migration tracking in a real LMDB store (history, audit, app progress)
 * and validation of a migrated host against its source. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migrate.h"
#include "plan_fixture.h"
#include "store.h"

static char dir[] = "/tmp/cairn-migrate-XXXXXX";
static struct db_env env;

static void open_store(void)
{
	cr_assert_not_null(mkdtemp(dir));
	struct errbuf eb = { { 0 } };
	cr_assert_eq(db_open(&env, dir, store_db_names, STORE_NDBS, 1 << 20, 1 << 26, 0, &eb), 0, "%s",
		     eb.msg);
}

static void close_store(void)
{
	db_close(&env);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

static size_t count(MDB_txn *txn, enum store_db db)
{
	MDB_stat st;
	cr_assert_eq(mdb_stat(txn, env.dbi[db], &st), 0);
	return st.ms_entries;
}

Test(migrate, states_parse)
{
	Cairn__Store__MigrationState s;
	cr_expect_eq(migrate_state_parse("in-progress", &s), 0);
	cr_expect_eq(s, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	cr_expect_eq(migrate_state_parse("COMPLETED", &s), 0);
	cr_expect_eq(migrate_state_parse("not_started", &s), 0);
	cr_expect_eq(migrate_state_parse("failed", &s), 0);
	cr_expect_eq(migrate_state_parse("done", &s), -EINVAL);
	cr_expect_str_eq(migrate_state_name(CAIRN__STORE__MIGRATION_STATE__FAILED), "FAILED");
}

Test(migrate, set_history_audit_progress, .init = open_store, .fini = close_store)
{
	struct errbuf eb = { { 0 } };
	Cairn__Store__MigrationStatus *m = NULL;
	cr_assert_eq(migrate_set(&env, "host-a", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 30,
				 "replicating", "alice", 1000, &m, &eb), 0, "%s", eb.msg);
	cr_expect_eq(m->progress_pct, 30);
	cr_expect_str_eq(m->updated_by, "alice");
	cairn__store__migration_status__free_unpacked(m, NULL);
	/* progress and note kept when not given */
	cr_assert_eq(migrate_set(&env, "host-a", CAIRN__STORE__MIGRATION_STATE__FAILED, -1, NULL, "bob",
				 2000, &m, &eb), 0);
	cr_expect_eq(m->progress_pct, 30);
	cr_expect_str_eq(m->note, "replicating");
	cairn__store__migration_status__free_unpacked(m, NULL);
	/* COMPLETED means 100 */
	cr_assert_eq(migrate_set(&env, "host-a", CAIRN__STORE__MIGRATION_STATE__COMPLETED, -1, "done",
				 "bob", 3000, NULL, &eb), 0);
	cr_assert_eq(migrate_set(&env, "host-b", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 50, NULL,
				 "bob", 3500, NULL, &eb), 0);
	cr_expect_eq(migrate_set(&env, "host-b", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 101, NULL,
				 "bob", 3600, NULL, &eb), -EINVAL);
	/* two changes in the same millisecond: both stay in the history */
	cr_assert_eq(migrate_set(&env, "host-c", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 10, NULL,
				 "carol", 4000, NULL, &eb), 0);
	cr_assert_eq(migrate_set(&env, "host-c", CAIRN__STORE__MIGRATION_STATE__NOT_STARTED, -1,
				 "rolled back", "carol", 4000, NULL, &eb), 0);

	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&env, &txn), 0);
	Cairn__Store__MigrationStatus **v = NULL;
	size_t n = 0;
	cr_assert_eq(migrate_history(txn, &env, "host-a", &v, &n), 0);
	cr_assert_eq(n, 3);
	cr_expect_eq(v[0]->state, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	cr_expect_eq(v[1]->state, CAIRN__STORE__MIGRATION_STATE__FAILED);
	cr_expect_eq(v[2]->state, CAIRN__STORE__MIGRATION_STATE__COMPLETED);
	cr_expect_eq(v[2]->progress_pct, 100);
	cr_expect_lt(v[0]->updated_ms, v[2]->updated_ms);
	migrate_list_free(v, n);
	cr_assert_eq(migrate_history(txn, &env, "host-c", &v, &n), 0);
	cr_assert_eq(n, 2, "same-millisecond changes both kept");
	cr_expect_eq(v[0]->state, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	cr_expect_eq(v[1]->state, CAIRN__STORE__MIGRATION_STATE__NOT_STARTED);
	migrate_list_free(v, n);
	/* "host-a" must not see "host-ab"'s history: keys end with 0x00 */
	cr_expect_eq(count(txn, STORE_AUDIT), 6, "every change is audited");
	cr_expect_eq(count(txn, STORE_MIGRATION), 3);

	const char *hosts[] = { "host-a", "host-b", "host-c" };
	Cairn__Store__App *app = fx_app("app1", "shop", false, hosts, 3);
	struct migrate_app_progress p;
	cr_assert_eq(migrate_app_progress(txn, &env, app, NULL, &p), 0);
	cr_expect_eq(p.state, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	cr_expect_eq(p.hosts[CAIRN__STORE__MIGRATION_STATE__COMPLETED], 1);
	cr_expect_eq(p.hosts[CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS], 1);
	cr_expect_eq(p.hosts[CAIRN__STORE__MIGRATION_STATE__NOT_STARTED], 1);
	cr_expect(p.percent > 49.9 && p.percent < 50.1, "(100 + 50 + 0) / 3 = 50, got %f", p.percent);
	db_read_end(&env, txn);

	/* an explicit application status wins over the hosts' */
	cr_assert_eq(migrate_set(&env, "app:app1", CAIRN__STORE__MIGRATION_STATE__COMPLETED, -1, NULL,
				 "carol", 4000, NULL, &eb), 0);
	cr_assert_eq(db_read_begin(&env, &txn), 0);
	cr_assert_eq(migrate_app_progress(txn, &env, app, NULL, &p), 0);
	cr_expect(p.explicit_status);
	cr_expect_eq(p.state, CAIRN__STORE__MIGRATION_STATE__COMPLETED);
	cr_expect(p.percent > 99.9);
	db_read_end(&env, txn);
	cairn__store__app__free_unpacked(app, NULL);
}

static const struct migrate_check *find(const struct migrate_report *r, const char *area,
					const char *item)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].area, area) && strstr(r->v[i].item, item))
			return &r->v[i];
	return NULL;
}

Test(migrate, validate_reports_missing_and_changed)
{
	struct estate_host src, dst;
	fx_host(&src, 1, "db-old");
	fx_host(&dst, 9, "db-new");
	fx_listener(&src, 5432, "postgres");
	fx_listener(&src, 9100, "node_exporter");
	fx_listener(&dst, 5432, "postgres");
	fx_listener(&dst, 22, "sshd");
	fx_pkg(&src, "postgresql-15", "15.5-0+deb12u1");
	fx_pkg(&src, "openssl", "3.0.11");
	fx_pkg(&src, "less", "590-2");
	fx_pkg(&dst, "postgresql-15", "15.6-0+deb12u1");
	fx_load(&dst, 95, 6, 200, 4, 1000);
	Cairn__Store__Snapshot *s = fx_snap_new();
	fx_snap_add_node(s, src.id, "db-old", true);
	fx_snap_add_node(s, dst.id, "db-new", true);
	fx_snap_add_node(s, "app-1", "app-1", true);
	fx_snap_add_node(s, "ext:10.9.9.9:389", "ldap 10.9.9.9", false);
	fx_snap_add_edge(s, "app-1", src.id, 5432, 100);       /* inbound client */
	fx_snap_add_edge(s, src.id, "ext:10.9.9.9:389", 389, 10); /* outbound dependency */
	struct migrate_report r;
	cr_assert_eq(migrate_validate(&src, &dst, s->map, &r), 0);
	const struct migrate_check *c;
	cr_assert_not_null(c = find(&r, "listener", "tcp/5432"));
	cr_expect_eq(c->status, MIGRATE_OK);
	cr_assert_not_null(c = find(&r, "listener", "tcp/9100"));
	cr_expect_eq(c->status, MIGRATE_MISSING);
	cr_expect(c->important);
	cr_assert_not_null(c = find(&r, "listener", "tcp/22"));
	cr_expect_eq(c->status, MIGRATE_EXTRA);
	cr_assert_not_null(c = find(&r, "outbound", "ldap"));
	cr_expect_eq(c->status, MIGRATE_MISSING);
	cr_expect(c->important);
	cr_assert_not_null(c = find(&r, "inbound", "app-1"));
	cr_expect_eq(c->status, MIGRATE_MISSING);
	cr_expect(!c->important, "clients not yet cut over are expected");
	cr_assert_not_null(c = find(&r, "package", "postgresql-15"));
	cr_expect_eq(c->status, MIGRATE_CHANGED);
	cr_assert_not_null(c = find(&r, "package", "openssl"));
	cr_expect_eq(c->status, MIGRATE_MISSING);
	cr_expect_null(find(&r, "package", "less"), "not a key package");
	cr_assert_not_null(c = find(&r, "utilization", "cpu"));
	cr_expect_eq(c->status, MIGRATE_CHANGED, "target CPU above the limit");
	cr_expect_eq(r.important_missing, 3);
	migrate_report_free(&r);

	/* a faithful copy validates clean */
	struct migrate_report ok;
	cr_assert_eq(migrate_validate(&src, &src, NULL, &ok), 0);
	cr_expect_eq(ok.important_missing, 0);
	migrate_report_free(&ok);
	cairn__store__snapshot__free_unpacked(s, NULL);
	estate_host_free(&src);
	estate_host_free(&dst);
}

static void mark_shared(Cairn__Store__Snapshot *s, const char *id, const char *app)
{
	for (size_t i = 0; i < s->map->n_nodes; i++)
		if (!strcmp(s->map->nodes[i]->id, id)) {
			s->map->nodes[i]->infrastructure = true;
			s->map->nodes[i]->app_id = strdup(app);
		}
}

/* The new host uses the other DNS server of the shared dns group: the
 * dependency is not missing; a different group on the port still is. */
Test(migrate, validate_accepts_a_replica_of_shared_infrastructure)
{
	struct estate_host src, dst;
	fx_host(&src, 1, "app-old");
	fx_host(&dst, 9, "app-new");
	Cairn__Store__Snapshot *s = fx_snap_new();
	fx_snap_add_node(s, src.id, "app-old", true);
	fx_snap_add_node(s, dst.id, "app-new", true);
	fx_snap_add_node(s, "dns1", "dns-01", true);
	fx_snap_add_node(s, "dns2", "dns-02", true);
	fx_snap_add_node(s, "ldap1", "ldap-01", true);
	fx_snap_add_node(s, "ldap9", "ldap-09", true);
	mark_shared(s, "dns1", "infra-dns");
	mark_shared(s, "dns2", "infra-dns");
	mark_shared(s, "ldap1", "infra-ldap");
	mark_shared(s, "ldap9", "infra-ldap-2");
	fx_snap_add_edge(s, src.id, "dns1", 53, 100);
	fx_snap_add_edge(s, dst.id, "dns2", 53, 100);
	fx_snap_add_edge(s, src.id, "ldap1", 389, 100);
	fx_snap_add_edge(s, dst.id, "ldap9", 389, 100);
	struct migrate_report r;
	cr_assert_eq(migrate_validate(&src, &dst, s->map, &r), 0);
	const struct migrate_check *c;
	cr_assert_not_null(c = find(&r, "outbound", "dns-01"));
	cr_expect_eq(c->status, MIGRATE_OK, "the second DNS server of the group serves it");
	cr_expect_str_eq(c->target, "seen via dns-02 (same shared group)");
	cr_assert_not_null(c = find(&r, "outbound", "ldap-01"));
	cr_expect_eq(c->status, MIGRATE_MISSING, "another group's server is no replica");
	cr_expect_eq(r.important_missing, 1);
	migrate_report_free(&r);
	cairn__store__snapshot__free_unpacked(s, NULL);
	estate_host_free(&src);
	estate_host_free(&dst);
}
