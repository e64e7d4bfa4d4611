/* Tags in a real LMDB store: parsing and folding of the well-known keys,
 * writes with their audit entries, a person's tag against an import, the
 * --tag filters on hosts and applications, and the snapshot view they make. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read.h"
#include "snapshot.h"
#include "store.h"
#include "tags.h"

static char dir[] = "/tmp/cairn-tags-XXXXXX";
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

Test(tags, parse_and_fold)
{
	struct tag_kv kv;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(tags_parse("Environment= Production ", &kv, &eb), 0, "%s", eb.msg);
	cr_expect_str_eq(kv.key, "environment");
	cr_expect_str_eq(kv.value, "prod");
	cr_assert_eq(tags_parse("environment=UAT", &kv, &eb), 0);
	cr_expect_str_eq(kv.value, "test");
	cr_assert_eq(tags_parse("criticality=critical", &kv, &eb), 0);
	cr_expect_str_eq(kv.value, "high");
	cr_assert_eq(tags_parse("owner=Team Billing (ops)", &kv, &eb), 0);
	cr_expect_str_eq(kv.value, "Team Billing (ops)", "free-text values keep their case");
	cr_assert_eq(tags_parse("move-window=sat 02:00-06:00", &kv, &eb), 0);
	cr_expect_str_eq(kv.key, "move-window");

	cr_expect_eq(tags_parse("environment=moon", &kv, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "prod, staging, test, dev") != NULL, "%s", eb.msg);
	cr_expect_eq(tags_parse("criticality=extreme", &kv, &eb), -EINVAL);
	cr_expect_eq(tags_parse("novalue", &kv, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "key=value") != NULL, "%s", eb.msg);
	cr_expect_eq(tags_parse("=x", &kv, &eb), -EINVAL);
	cr_expect_eq(tags_parse("-bad=x", &kv, &eb), -EINVAL);
	cr_expect_eq(tags_parse("sp ace=x", &kv, &eb), -EINVAL);
	cr_expect_eq(tags_parse("ctl=a\tb", &kv, &eb), -EINVAL);
	char long_key[100], long_val[400];
	memset(long_key, 'k', 70);
	strcpy(long_key + 70, "=v");
	cr_expect_eq(tags_parse(long_key, &kv, &eb), -EINVAL);
	strcpy(long_val, "note=");
	memset(long_val + 5, 'v', 300);
	long_val[305] = 0;
	cr_expect_eq(tags_parse(long_val, &kv, &eb), -EINVAL);
	char key[TAGS_KEY_MAX + 1];
	cr_expect_eq(tags_parse_key(" Owner ", key, &eb), 0);
	cr_expect_str_eq(key, "owner");
}

struct wr {
	const char *subject;
	struct tag_kv *set;
	size_t nset;
	char **rm;
	size_t nrm;
	const char *by, *source;
	size_t kept;
	int64_t now;
};

static int wr_fn(MDB_txn *txn, void *arg)
{
	struct wr *w = arg;
	return tags_write(txn, &env, w->subject, w->set, w->nset, w->rm, w->nrm, w->by, w->source,
			  w->now, &w->kept, NULL);
}

static int write_tags(struct wr *w)
{
	return db_write(&env, wr_fn, w);
}

static size_t audit_entries(void)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	MDB_stat st;
	cr_assert_eq(mdb_stat(txn, env.dbi[STORE_AUDIT], &st), 0);
	mdb_txn_abort(txn);
	return st.ms_entries;
}

Test(tags, write_person_wins_over_import, .init = open_store, .fini = close_store)
{
	struct errbuf eb = { { 0 } };
	struct tag_kv kv[2];
	cr_assert_eq(tags_parse("environment=prod", &kv[0], &eb), 0);
	cr_assert_eq(tags_parse("owner=alice", &kv[1], &eb), 0);
	struct wr w = { "host-a", kv, 2, NULL, 0, "alice", "person", 0, 1000 };
	cr_assert_eq(write_tags(&w), 0);
	cr_expect_eq(audit_entries(), 1, "a person's change is audited");

	/* an import sets environment=dev and criticality=low: environment stays */
	struct tag_kv ikv[2];
	cr_assert_eq(tags_parse("environment=dev", &ikv[0], &eb), 0);
	cr_assert_eq(tags_parse("criticality=low", &ikv[1], &eb), 0);
	struct wr iw = { "host-a", ikv, 2, NULL, 0, "import", "import servers.csv:7", 0, 2000 };
	cr_assert_eq(write_tags(&iw), 0);
	cr_expect_eq(iw.kept, 1);
	cr_expect_eq(audit_entries(), 1, "imports audit once per file themselves");

	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	struct tags_all all;
	cr_assert_eq(tags_load(txn, &env, &all, &eb), 0, "%s", eb.msg);
	uint64_t gen = read_facts_gen(txn, &env);
	mdb_txn_abort(txn);
	cr_expect_eq(gen, 2, "every tag write moves facts_gen (plans depend on tags)");
	const Cairn__Store__TagSet *s = tags_of(&all, "host-a");
	cr_assert_not_null(s);
	cr_expect_eq(s->n_tags, 3);
	cr_expect_str_eq(tags_value(s, "environment"), "prod");
	cr_expect_str_eq(tags_value(s, "criticality"), "low");
	cr_expect_str_eq(s->tags[0]->key, "criticality", "sorted by key");
	cr_expect_str_eq(s->tags[0]->source, "import servers.csv:7");
	cr_expect_null(tags_of(&all, "host-b"));
	tags_all_free(&all);

	/* a later import replaces its own tag; a person replaces anything */
	cr_assert_eq(tags_parse("criticality=high", &ikv[1], &eb), 0);
	struct wr iw2 = { "host-a", &ikv[1], 1, NULL, 0, "import", "import later.csv:2", 0, 3000 };
	cr_assert_eq(write_tags(&iw2), 0);
	cr_expect_eq(iw2.kept, 0);
	char *rm[] = { "owner", "environment" };
	struct wr rw = { "host-a", NULL, 0, rm, 2, "bob", "person", 0, 4000 };
	cr_assert_eq(write_tags(&rw), 0);
	cr_expect_eq(audit_entries(), 2);
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tags_load(txn, &env, &all, &eb), 0);
	mdb_txn_abort(txn);
	s = tags_of(&all, "host-a");
	cr_assert_not_null(s);
	cr_expect_eq(s->n_tags, 1);
	cr_expect_str_eq(tags_value(s, "criticality"), "high");
	tags_all_free(&all);

	/* removing the last tag removes the set */
	char *rm2[] = { "criticality" };
	struct wr rw2 = { "host-a", NULL, 0, rm2, 1, "bob", "person", 0, 5000 };
	cr_assert_eq(write_tags(&rw2), 0);
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(tags_load(txn, &env, &all, &eb), 0);
	mdb_txn_abort(txn);
	cr_expect_eq(all.n, 0);
	tags_all_free(&all);
}

Test(tags, too_many, .init = open_store, .fini = close_store)
{
	struct tag_kv kv[TAGS_PER_SUBJECT + 1];
	struct errbuf eb = { { 0 } };
	for (int i = 0; i <= TAGS_PER_SUBJECT; i++) {
		char t[32];
		snprintf(t, sizeof(t), "k%d=v", i);
		cr_assert_eq(tags_parse(t, &kv[i], &eb), 0);
	}
	struct wr w = { "app:x", kv, TAGS_PER_SUBJECT + 1, NULL, 0, "a", "person", 0, 1 };
	cr_expect_eq(write_tags(&w), -E2BIG);
	cr_expect_eq(audit_entries(), 0, "nothing written");
}

/* Hand-made tag sets for the filters. */
static Cairn__Store__TagSet *set_of(const char *subject, const char *key, const char *value)
{
	Cairn__Store__TagSet *s = calloc(1, sizeof(*s));
	cairn__store__tag_set__init(s);
	s->subject = strdup(subject);
	s->n_tags = 1;
	s->tags = calloc(1, sizeof(*s->tags));
	s->tags[0] = calloc(1, sizeof(**s->tags));
	cairn__store__tag__init(s->tags[0]);
	s->tags[0]->key = strdup(key);
	s->tags[0]->value = strdup(value);
	s->tags[0]->set_by = strdup("t");
	s->tags[0]->source = strdup("person");
	return s;
}

Test(tags, filters_and_app_values)
{
	struct tags_all t = { calloc(4, sizeof(Cairn__Store__TagSet *)), 4 };
	/* sorted by subject */
	t.v[0] = set_of("app:shop", "environment", "prod");
	t.v[1] = set_of("h1", "environment", "dev");
	t.v[2] = set_of("h2", "criticality", "high");
	t.v[3] = set_of("h3", "criticality", "high");
	struct tags_filter f = { 0 };
	struct errbuf eb = { { 0 } };
	cr_assert_eq(tags_filter_add(&f, "environment=production", &eb), 0);
	cr_expect(tags_filter_host(&f, &t, "h2", "shop"), "by its application's tag");
	cr_expect_not(tags_filter_host(&f, &t, "h1", NULL));
	cr_expect_not(tags_filter_host(&f, &t, "h9", NULL));
	char *hosts[] = { "h2", "h3" };
	cr_expect(tags_filter_app(&f, &t, "shop", hosts, 2));
	struct tags_filter g = { 0 };
	cr_assert_eq(tags_filter_add(&g, "criticality=high", &eb), 0);
	cr_expect(tags_filter_app(&g, &t, "other", hosts, 2), "by a host's tag");
	cr_expect_not(tags_filter_app(&g, &t, "other", &hosts[0], 0));
	cr_assert_eq(tags_filter_add(&g, "environment=prod", &eb), 0);
	cr_expect(tags_filter_host(&g, &t, "h2", "shop"), "all filters hold");
	cr_expect_not(tags_filter_host(&g, &t, "h3", NULL));
	cr_expect_str_eq(tags_app_value(&t, "shop", hosts, 2, "environment"), "prod");
	cr_expect_str_eq(tags_app_value(&t, "other", hosts, 2, "criticality"), "high");
	cr_expect_null(tags_app_value(&t, "other", hosts, 2, "owner"));
	cr_expect(tags_filter_host(NULL, &t, "h1", NULL), "no filter: everything");
	tags_all_free(&t);
}

struct keep_ctx {
	struct tags_filter *f;
	struct tags_all *t;
};

static bool keep_host(const char *host, const char *app_id, void *arg)
{
	struct keep_ctx *c = arg;
	return tags_filter_host(c->f, c->t, host, app_id);
}

static bool keep_app(const Cairn__Store__App *a, void *arg)
{
	struct keep_ctx *c = arg;
	return tags_filter_app(c->f, c->t, a->id, a->hosts, a->n_hosts);
}

Test(tags, snapshot_view)
{
	/* three hosts in two apps, one wave each; keep only the app "b" */
	Cairn__Store__Snapshot *s = calloc(1, sizeof(*s));
	cairn__store__snapshot__init(s);
	const char *apps[] = { "a", "b" };
	s->n_apps = 2;
	s->apps = calloc(2, sizeof(*s->apps));
	s->n_waves = 2;
	s->waves = calloc(2, sizeof(*s->waves));
	for (int i = 0; i < 2; i++) {
		Cairn__Store__App *a = s->apps[i] = calloc(1, sizeof(*a));
		cairn__store__app__init(a);
		a->id = strdup(apps[i]);
		a->name = strdup(apps[i]);
		a->n_hosts = 1;
		a->hosts = calloc(1, sizeof(char *));
		a->hosts[0] = strdup(i ? "hb" : "ha");
		Cairn__Store__Wave *w = s->waves[i] = calloc(1, sizeof(*w));
		cairn__store__wave__init(w);
		w->number = (uint32_t)i + 1;
		w->n_apps = 1;
		w->apps = calloc(1, sizeof(char *));
		w->apps[0] = strdup(apps[i]);
		w->n_why = 1;
		w->why = calloc(1, sizeof(char *));
		w->why[0] = strdup("why");
		w->hosts = 1;
	}
	const char *rtargets[] = { "ha", "hb", "a", "b" };
	s->n_readiness = 4;
	s->readiness = calloc(4, sizeof(*s->readiness));
	for (int i = 0; i < 4; i++) {
		Cairn__Store__Readiness *r = s->readiness[i] = calloc(1, sizeof(*r));
		cairn__store__readiness__init(r);
		r->target = strdup(rtargets[i]);
		r->kind = strdup(i < 2 ? "host" : "app");
	}
	s->n_sizing = 2;
	s->sizing = calloc(2, sizeof(*s->sizing));
	for (int i = 0; i < 2; i++) {
		Cairn__Store__Sizing *z = s->sizing[i] = calloc(1, sizeof(*z));
		cairn__store__sizing__init(z);
		z->host = strdup(i ? "hb" : "ha");
		z->app_id = strdup(apps[i]);
	}
	struct tags_all t = { calloc(1, sizeof(Cairn__Store__TagSet *)), 1 };
	t.v[0] = set_of("app:b", "environment", "dev");
	struct tags_filter f = { 0 };
	struct errbuf eb = { { 0 } };
	cr_assert_eq(tags_filter_add(&f, "environment=dev", &eb), 0);
	struct keep_ctx c = { &f, &t };
	struct snapshot_keep k = { keep_host, keep_app, &c };
	cr_assert_eq(snapshot_keep(s, &k), 0);
	cr_assert_eq(s->n_apps, 1);
	cr_expect_str_eq(s->apps[0]->id, "b");
	cr_assert_eq(s->n_readiness, 2, "host hb (by its app) and app b");
	cr_expect_str_eq(s->readiness[0]->target, "hb");
	cr_expect_str_eq(s->readiness[1]->target, "b");
	cr_assert_eq(s->n_sizing, 1);
	cr_expect_str_eq(s->sizing[0]->host, "hb");
	cr_assert_eq(s->n_waves, 2, "waves keep their numbers");
	cr_expect_eq(s->waves[0]->n_apps, 0);
	cr_expect_eq(s->waves[0]->hosts, 0);
	cr_expect_eq(s->waves[0]->n_why, 0);
	cr_assert_eq(s->waves[1]->n_apps, 1);
	cr_expect_str_eq(s->waves[1]->apps[0], "b");
	cr_expect_eq(s->waves[1]->hosts, 1);
	tags_all_free(&t);
	cairn__store__snapshot__free_unpacked(s, NULL);
}
