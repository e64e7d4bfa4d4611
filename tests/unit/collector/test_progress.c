/* Progress from migration tools (collector/plan/progress.h): parsing and
 * validation of reports, ISO 8601 times, status derivation, resources to
 * hosts over a real LMDB store (ids, names, IPs, MACs, matching later),
 * late reports, grouped writes from many threads, deletion and audit. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "decide.h"
#include "migrate.h"
#include "progress.h"
#include "read.h"
#include "store.h"

/* ---------------------------------------------------------------- parsing */

Test(progress, time_parse)
{
	int64_t ms;
	cr_assert_eq(progress_time_parse("2026-12-02T17:30:00Z", &ms), 0);
	cr_expect_eq(ms, 1796232600000LL);
	cr_assert_eq(progress_time_parse("2026-12-02T18:30:00+01:00", &ms), 0);
	cr_expect_eq(ms, 1796232600000LL, "an offset east of UTC");
	cr_assert_eq(progress_time_parse("2026-12-02 12:30:00.250-0500", &ms), 0);
	cr_expect_eq(ms, 1796232600250LL, "fractions, a space, an offset without ':'");
	cr_assert_eq(progress_time_parse("2026-12-02T17:30Z", &ms), 0);
	cr_expect_eq(ms, 1796232600000LL, "no seconds");
	cr_assert_eq(progress_time_parse("2024-02-29", &ms), 0, "a date alone, leap day");
	cr_expect_eq(ms % 86400000, 0);
	const char *bad[] = { "", "yesterday", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
			      "2026-12-02T24:00:00Z", "2026-12-02T17:60:00Z", "2026-12-02T17:30:00Zx",
			      "2026-12-02T17:30:00+25:00", "1969-12-31T23:59:59Z", "2026-1-2",
			      "2026-12-02T17:30:00.Z" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(progress_time_parse(bad[i], &ms), -EINVAL, "'%s' accepted", bad[i]);
	char out[40];
	progress_time_format(1796232600000LL, out, sizeof(out));
	cr_expect_str_eq(out, "2026-12-02T17:30:00Z");
	progress_time_format(1796232600250LL, out, sizeof(out));
	cr_expect_str_eq(out, "2026-12-02T17:30:00.250Z");
}

Test(progress, names)
{
	struct errbuf eb = { { 0 } };
	cr_expect_eq(progress_name_check("stream", "mgn-prod 1", PROGRESS_STREAM_MAX, &eb), 0);
	const char *bad[] = { "", "a/b", "a:b", "a|b", ".", "..", "tab\there" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(progress_name_check("stream", bad[i], PROGRESS_STREAM_MAX, &eb), -EINVAL,
			     "'%s' accepted", bad[i]);
		cr_expect(strstr(eb.msg, "stream name"), "%s", eb.msg);
	}
	char longname[PROGRESS_STREAM_MAX + 2];
	memset(longname, 's', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	cr_expect_eq(progress_name_check("stream", longname, PROGRESS_STREAM_MAX, &eb), -EINVAL);
	longname[PROGRESS_STREAM_MAX] = 0;
	cr_expect_eq(progress_name_check("stream", longname, PROGRESS_STREAM_MAX, &eb), 0);
}

/* Parses text as a report of s/t: the return code, eb's message in msg. */
static int parse(const char *text, struct progress_update *u, char *msg, size_t n)
{
	struct errbuf eb = { { 0 } };
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
	cr_assert_not_null(j, "%s: %s", text, je.text);
	cr_assert_eq(progress_update_init(u, "s", "t", &eb), 0);
	int rc = progress_update_from_json(j, u, &eb);
	json_decref(j);
	snprintf(msg, n, "%s", eb.msg);
	return rc;
}

Test(progress, report_json)
{
	static struct progress_update u;
	char msg[600];
	cr_assert_eq(parse("{\"status\": \"in_progress\", \"progressPercent\": 40, \"statusDetail\": "
			   "\"copying\", \"updateDateTime\": \"2026-12-02T17:30:00Z\", "
			   "\"nextUpdateSeconds\": 300, \"resources\": [\"web-1\", \"10.0.0.5\", \"web-1\"]}",
			   &u, msg, sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(u.status, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	cr_expect_eq(u.percent, 40);
	cr_expect_str_eq(u.detail, "copying");
	cr_expect_eq(u.update_ms, 1796232600000LL);
	cr_expect_eq(u.next_update_s, 300);
	cr_expect_eq(u.nresources, 2, "a repeated resource is kept once");
	cr_expect(u.has_resources);
	cr_assert_eq(parse("{\"status\": \"COMPLETED\", \"updateDateTime\": 1796232600.5}", &u, msg,
			   sizeof(msg)), 0, "%s", msg);
	cr_expect_eq(u.update_ms, 1796232600500LL, "epoch seconds");
	cr_expect_eq(u.percent, -1);
	cr_expect_not(u.has_resources, "no resources: the stored ones stay");
	cr_assert_eq(parse("{\"status\": \"FAILED\", \"resources\": []}", &u, msg, sizeof(msg)), 0);
	cr_expect(u.has_resources, "an empty list unlinks");

	struct {
		const char *body, *field;
		int rc;
	} bad[] = {
		{ "[]", "request body", -EINVAL },
		{ "{}", "\"status\": missing", -EINVAL },
		{ "{\"status\": \"DONE\"}", "\"status\"", -EINVAL },
		{ "{\"status\": null}", "\"status\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"progressPercent\": 101}", "\"progressPercent\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"progressPercent\": 5.5}", "\"progressPercent\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"statusDetail\": 5}", "\"statusDetail\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"updateDateTime\": \"2026-02-30\"}", "\"updateDateTime\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"updateDateTime\": -1}", "\"updateDateTime\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"nextUpdateSeconds\": 31536001}", "\"nextUpdateSeconds\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"resources\": {}}", "\"resources\"", -EINVAL },
		{ "{\"status\": \"FAILED\", \"resources\": [\"a\", null]}", "\"resources\"[1]", -EINVAL },
		{ "{\"status\": \"FAILED\", \"resources\": [\"a\\u0007\"]}", "\"resources\"[0]", -EINVAL },
		{ "{\"status\": \"FAILED\", \"Status\": \"x\"}", "\"Status\": unknown member", -EINVAL },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(parse(bad[i].body, &u, msg, sizeof(msg)), bad[i].rc, "%s accepted", bad[i].body);
		cr_expect(strstr(msg, bad[i].field), "%s: '%s' does not name %s", bad[i].body, msg,
			  bad[i].field);
	}
	/* the detail's limit is in characters, not bytes */
	char body[4096];
	int at = snprintf(body, sizeof(body), "{\"status\": \"FAILED\", \"statusDetail\": \"");
	for (int i = 0; i < PROGRESS_DETAIL_MAX; i++)
		at += snprintf(body + at, sizeof(body) - (size_t)at, "\xc3\xa9");
	snprintf(body + at, sizeof(body) - (size_t)at, "\"}");
	cr_expect_eq(parse(body, &u, msg, sizeof(msg)), 0, "500 characters: %s", msg);
	memmove(body + at + 2, body + at, strlen(body + at) + 1);
	memcpy(body + at, "\xc3\xa9", 2);
	cr_expect_eq(parse(body, &u, msg, sizeof(msg)), -EINVAL, "501 characters");
	cr_expect(strstr(msg, "\"statusDetail\": 501 characters"), "%s", msg);
	/* at most PROGRESS_RESOURCES_MAX resources */
	at = snprintf(body, sizeof(body), "{\"status\": \"FAILED\", \"resources\": [");
	for (int i = 0; i <= PROGRESS_RESOURCES_MAX; i++)
		at += snprintf(body + at, sizeof(body) - (size_t)at, "%s\"h%d\"", i ? "," : "", i);
	snprintf(body + at, sizeof(body) - (size_t)at, "]}");
	cr_expect_eq(parse(body, &u, msg, sizeof(msg)), -E2BIG);
	cr_expect(strstr(msg, "\"resources\""), "%s", msg);
}

/* ---------------------------------------------------------------- derivation */

Test(progress, state_derive)
{
	enum { N = CAIRN__STORE__MIGRATION_STATE__NOT_STARTED, P = CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS,
	       F = CAIRN__STORE__MIGRATION_STATE__FAILED, C = CAIRN__STORE__MIGRATION_STATE__COMPLETED };
	struct {
		unsigned counts[5];
		int want;
	} cases[] = {
		{ { 0, 0, 0, 0, 0 }, N }, { { 0, 2, 0, 0, 0 }, N }, { { 0, 1, 1, 0, 0 }, P },
		{ { 0, 1, 0, 0, 1 }, P }, { { 0, 0, 0, 0, 3 }, C }, { { 0, 0, 1, 1, 5 }, F },
		{ { 0, 4, 0, 1, 0 }, F }, { { 0, 0, 0, 1, 0 }, F },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(migrate_state_derive(cases[i].counts), cases[i].want, "case %zu", i);
}

static Cairn__Store__ProgressTask *mk_task(const char *stream, Cairn__Store__MigrationState st,
					   unsigned pct, int64_t update_ms, unsigned next_s,
					   char **hosts, size_t nhosts)
{
	Cairn__Store__ProgressTask *t = calloc(1, sizeof(*t));
	cairn__store__progress_task__init(t);
	t->stream = (char *)stream;
	t->task = (char *)"t";
	t->status = st;
	t->progress_pct = pct;
	t->update_ms = update_ms;
	t->next_update_s = next_s;
	t->hosts = hosts;
	t->n_hosts = nhosts;
	return t;
}

Test(progress, hosts_derive_and_stale)
{
	char *ab[] = { "aa", "bb" }, *a[] = { "aa" }, *b[] = { "bb" };
	Cairn__Store__ProgressTask *v[] = {
		mk_task("mgn", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 40, 1000, 60, ab, 2),
		mk_task("dms", CAIRN__STORE__MIGRATION_STATE__COMPLETED, 0, 1000, 60, a, 1),
		mk_task("mgn", CAIRN__STORE__MIGRATION_STATE__FAILED, 10, 1000, 0, b, 1),
	};
	struct progress_tasks ts = { v, 3 };
	int64_t now = 1000 + 61 * 1000; /* 61 s later: promised 60 s */
	cr_expect(progress_task_stale(v[0], now));
	cr_expect_not(progress_task_stale(v[0], 1000 + 60 * 1000), "exactly on time");
	cr_expect_not(progress_task_stale(v[1], now), "COMPLETED is never stale");
	cr_expect_not(progress_task_stale(v[2], now), "no next update promised");
	struct progress_hosts ph;
	cr_assert_eq(progress_hosts_derive(&ts, now, &ph), 0);
	cr_assert_eq(ph.n, 2);
	const struct progress_host *ha = progress_hosts_get(&ph, "aa"), *hb = progress_hosts_get(&ph, "bb");
	cr_assert(ha && hb);
	cr_expect_null(progress_hosts_get(&ph, "cc"));
	cr_expect_eq(ha->tasks, 2);
	cr_expect_eq(ha->state, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, "one done, one running");
	cr_expect_float_eq(ha->percent, 70.0, 1e-9, "mean of 40 and COMPLETED's 100");
	cr_expect_eq(ha->stale, 1);
	cr_expect_str_eq(ha->streams, "dms, mgn");
	cr_expect_eq(hb->state, CAIRN__STORE__MIGRATION_STATE__FAILED);
	cr_expect_float_eq(hb->percent, 25.0, 1e-9);
	cr_expect_str_eq(hb->streams, "mgn", "a stream named once");
	struct progress_stream *sv;
	size_t sn;
	cr_assert_eq(progress_streams(&ts, now, &sv, &sn), 0);
	cr_assert_eq(sn, 3, "tasks of one stream apart make two entries: the caller reads in key order");
	free(sv);
	progress_hosts_free(&ph);
	for (size_t i = 0; i < 3; i++)
		free(v[i]);
}

/* ---------------------------------------------------------------- the store */

static char dir[] = "/tmp/cairn-progress-XXXXXX";
static struct read_ctx rd;

static void open_store(void)
{
	cr_assert_not_null(mkdtemp(dir));
	char db[64];
	snprintf(db, sizeof(db), "%s/db", dir);
	cr_assert_eq(mkdir(db, 0700), 0);
	struct db_env env;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(db_open(&env, db, store_db_names, STORE_NDBS, 1 << 20, 1 << 26, 0, &eb), 0, "%s", eb.msg);
	db_close(&env);
	cr_assert_eq(read_open(&rd, dir, NULL, true, &eb), 0, "%s", eb.msg);
}

static void close_store(void)
{
	read_close(&rd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

struct host_arg {
	uint8_t id;
	const char *name, *fqdn, *mac, *ip;
};

static int put_host(MDB_txn *txn, const struct db_env *env, void *argp)
{
	const struct host_arg *h = argp;
	uint8_t id[KEY_PUBLIC_LEN];
	memset(id, h->id, sizeof(id));
	Cairn__IpAddress ip = CAIRN__IP_ADDRESS__INIT, lo = CAIRN__IP_ADDRESS__INIT;
	ip.address = (char *)h->ip;
	lo.address = (char *)"127.0.0.1";
	Cairn__IpAddress *ips[] = { &ip, &lo };
	Cairn__Nic nic = CAIRN__NIC__INIT;
	nic.name = (char *)"eth0";
	nic.mac = (char *)h->mac;
	nic.addresses = ips;
	nic.n_addresses = 2;
	Cairn__Nic *nics[] = { &nic };
	Cairn__HostInfo hi = CAIRN__HOST_INFO__INIT;
	hi.hostname = (char *)h->name;
	hi.fqdn = (char *)h->fqdn;
	hi.nics = nics;
	hi.n_nics = 1;
	Cairn__Store__HostFacts hf = CAIRN__STORE__HOST_FACTS__INIT;
	hf.info = &hi;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, id, sizeof(id));
	return store_put_msg(txn, env->dbi[STORE_HOSTS], &k, &hf.base);
}

static void add_host(uint8_t id, const char *name, const char *fqdn, const char *mac, const char *ip)
{
	struct host_arg h = { id, name, fqdn, mac, ip };
	struct errbuf eb = { { 0 } };
	cr_assert_eq(decide_write(&rd, put_host, &h, &eb), 0, "%s", eb.msg);
}

static void hex_of(uint8_t id, char out[KEY_ID_HEX_LEN + 1])
{
	uint8_t pk[KEY_PUBLIC_LEN];
	memset(pk, id, sizeof(pk));
	keys_id_hex(pk, out);
}

/* Reports s/t with status and the resources (NULL-terminated; none: keeps). */
static int report(struct progress_writer *w, const char *task, Cairn__Store__MigrationState st,
		  int64_t update_ms, const char *const *res, struct progress_result *out)
{
	static struct progress_update u;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(progress_update_init(&u, "mgn", task, &eb), 0);
	u.status = st;
	u.update_ms = update_ms;
	for (size_t i = 0; res && res[i]; i++)
		cr_assert_eq(progress_update_add_resource(&u, "r", res[i], &eb), 0);
	int rc = progress_put(w, &u, "tool", 5000, out, &eb);
	return rc;
}

static size_t entries(enum store_db db)
{
	struct read_txn t;
	cr_assert_eq(read_begin(&rd, &t, NULL), 0);
	MDB_stat st;
	cr_assert_eq(mdb_stat(t.txn, t.db->dbi[db], &st), 0);
	read_end(&t);
	return st.ms_entries;
}

Test(progress, resources_to_hosts, .init = open_store, .fini = close_store)
{
	add_host(0x11, "web-1", "web-1.example.com", "52:54:00:aa:bb:01", "10.0.0.1");
	add_host(0x22, "db-1", "db-1.example.com", "52:54:00:aa:bb:02", "10.0.0.2");
	add_host(0x23, "db-2", "", "", "2001:db8::2");
	char h11[65], h22[65], h23[65];
	hex_of(0x11, h11);
	hex_of(0x22, h22);
	hex_of(0x23, h23);
	struct read_txn t;
	cr_assert_eq(read_begin(&rd, &t, NULL), 0);
	struct progress_index *ix;
	cr_assert_eq(progress_index_build(t.txn, t.db, &ix), 0);
	read_end(&t);
	char ids[4][KEY_ID_HEX_LEN + 1];
	struct {
		const char *res, *want;
	} one[] = {
		{ h11, h11 }, { "1111111111", h11 }, { "WEB-1", h11 }, { "db-1.example.com", h22 },
		{ "10.0.0.2", h22 }, { "::ffff:10.0.0.1", h11 }, { "52-54-00-AA-BB-02", h22 },
		{ "525400aabb01", h11 }, { "2001:DB8::2", h23 },
	};
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		size_t n = progress_index_match(ix, one[i].res, ids, 4);
		cr_expect_eq(n, 1, "%s: %zu hosts", one[i].res, n);
		if (n == 1)
			cr_expect_str_eq(ids[0], one[i].want, "%s", one[i].res);
	}
	const char *none[] = { "web", "127.0.0.1", "00:00:00:00:00:00", "2222", "abcdef01", "10.0.0.9" };
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		cr_expect_eq(progress_index_match(ix, none[i], ids, 4), 0, "%s matched", none[i]);
	cr_expect_eq(progress_index_match(ix, "22222222", ids, 4), 1, "a unique prefix of 8 digits");
	cr_expect_eq(progress_index_match(ix, "2", ids, 4), 0, "too short a prefix");
	progress_index_free(ix);
}

Test(progress, put_read_rematch_order, .init = open_store, .fini = close_store)
{
	add_host(0x11, "web-1", "web-1.example.com", "52:54:00:aa:bb:01", "10.0.0.1");
	char h11[65], h33[65];
	hex_of(0x11, h11);
	hex_of(0x33, h33);
	struct progress_writer w;
	cr_assert_eq(progress_writer_init(&w, &rd), 0);
	struct progress_result res;
	const char *r1[] = { "web-1", "later-host", NULL };
	cr_assert_eq(report(&w, "t1", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 2000, r1, &res), 0);
	cr_expect(res.created && res.applied);
	cr_assert_eq(res.task->n_hosts, 1);
	cr_expect_str_eq(res.task->hosts[0], h11);
	cr_assert_eq(res.task->n_unmatched, 1);
	cr_expect_str_eq(res.task->unmatched[0], "later-host");
	cr_expect_str_eq(res.task->updated_by, "tool");
	progress_result_free(&res);

	/* an older report changes nothing */
	cr_assert_eq(report(&w, "t1", CAIRN__STORE__MIGRATION_STATE__FAILED, 1000, NULL, &res), 0);
	cr_expect_not(res.applied);
	cr_expect_eq(res.task->status, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	progress_result_free(&res);
	/* a newer one without resources keeps the links */
	cr_assert_eq(report(&w, "t1", CAIRN__STORE__MIGRATION_STATE__COMPLETED, 3000, NULL, &res), 0);
	cr_expect(res.applied && !res.created);
	cr_expect_eq(res.previous, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	cr_expect_eq(res.task->progress_pct, 100);
	cr_expect_eq(res.task->n_resources, 2);
	cr_expect_eq(res.task->n_hosts, 1);
	progress_result_free(&res);
	cr_expect_eq(entries(STORE_AUDIT), 2, "two changes audited, the ignored report not");

	/* the host named later arrives: reading matches it */
	add_host(0x33, "later-host", "", "", "10.0.0.3");
	struct read_txn t;
	cr_assert_eq(read_begin(&rd, &t, NULL), 0);
	Cairn__Store__ProgressTask *m = NULL;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(progress_task_read(t.txn, t.db, "mgn", "t1", &m, &eb), 0, "%s", eb.msg);
	cr_expect_eq(m->n_unmatched, 0);
	cr_assert_eq(m->n_hosts, 2);
	cr_expect_str_eq(m->hosts[1], h33);
	cairn__store__progress_task__free_unpacked(m, NULL);
	cr_expect_eq(progress_task_read(t.txn, t.db, "mgn", "nope", &m, &eb), -ENOENT);
	cr_expect_eq(progress_task_read(t.txn, t.db, "mg", "t1", &m, &eb), -ENOENT);
	read_end(&t);

	/* and the cached index of the writer follows the new host */
	const char *r2[] = { "later-host", NULL };
	cr_assert_eq(report(&w, "t2", CAIRN__STORE__MIGRATION_STATE__NOT_STARTED, 0, r2, &res), 0);
	cr_expect_eq(res.task->n_hosts, 1);
	cr_expect_eq(res.task->update_ms, 5000, "no updateDateTime: when received");
	progress_result_free(&res);

	/* a stream "mg" is not a prefix of "mgn" */
	size_t n = 0;
	cr_expect_eq(progress_delete(&w, "mg", NULL, "ops", 6000, &n, &eb), -ENOENT);
	cr_expect_eq(progress_delete(&w, "mgn", "t2", "ops", 6000, &n, &eb), 0);
	cr_expect_eq(n, 1);
	cr_expect_eq(progress_delete(&w, "mgn", NULL, "ops", 6000, &n, &eb), 0);
	cr_expect_eq(n, 1);
	cr_expect_eq(entries(STORE_PROGRESS_TASKS), 0);
	cr_expect_eq(entries(STORE_AUDIT), 5);
	progress_writer_destroy(&w);
}

static int del_host(MDB_txn *txn, const struct db_env *env, void *argp)
{
	uint8_t id[KEY_PUBLIC_LEN];
	memset(id, *(const uint8_t *)argp, sizeof(id));
	MDB_val k = { sizeof(id), id };
	return mdb_del(txn, env->dbi[STORE_HOSTS], &k, NULL);
}

/* A task's host is replaced (an imported server an agent took over: the
 * imported id is gone, the agent host has its MAC): the task names the
 * host that is there now. */
Test(progress, a_gone_host_is_matched_again, .init = open_store, .fini = close_store)
{
	add_host(0x44, "pay-sql-01", "", "52:54:00:aa:bb:44", "10.0.0.44");
	struct progress_writer w;
	cr_assert_eq(progress_writer_init(&w, &rd), 0);
	struct progress_result res;
	const char *r1[] = { "pay-sql-01", NULL };
	cr_assert_eq(report(&w, "t9", CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS, 2000, r1, &res), 0);
	cr_assert_eq(res.task->n_hosts, 1);
	progress_result_free(&res);
	progress_writer_destroy(&w);
	uint8_t gone = 0x44;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(decide_write(&rd, del_host, &gone, &eb), 0);
	add_host(0x45, "pay-sql-01", "", "52:54:00:aa:bb:44", "10.0.0.44");
	char h45[65];
	hex_of(0x45, h45);
	struct read_txn t;
	cr_assert_eq(read_begin(&rd, &t, NULL), 0);
	Cairn__Store__ProgressTask *m = NULL;
	cr_assert_eq(progress_task_read(t.txn, t.db, "mgn", "t9", &m, &eb), 0, "%s", eb.msg);
	cr_assert_eq(m->n_hosts, 1);
	cr_expect_str_eq(m->hosts[0], h45);
	cr_expect_eq(m->n_unmatched, 0);
	cairn__store__progress_task__free_unpacked(m, NULL);
	read_end(&t);
}

struct thread_arg {
	struct progress_writer *w;
	int n;
	int failed;
};

static void *reporter(void *argp)
{
	struct thread_arg *a = argp;
	struct progress_update *u = malloc(sizeof(*u));
	for (int i = 0; i < 25 && u; i++) {
		char task[32];
		snprintf(task, sizeof(task), "t%d-%d", a->n, i);
		struct errbuf eb = { { 0 } };
		struct progress_result res;
		if (progress_update_init(u, "load", task, &eb) ||
		    progress_update_add_resource(u, "r", "web-1", &eb)) {
			a->failed++;
			continue;
		}
		u->status = CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS;
		if (progress_put(a->w, u, "tool", 5000 + i, &res, &eb) || !res.applied || res.task->n_hosts != 1)
			a->failed++;
		progress_result_free(&res);
	}
	free(u);
	return NULL;
}

Test(progress, concurrent_reports_grouped, .init = open_store, .fini = close_store)
{
	add_host(0x11, "web-1", "", "", "10.0.0.1");
	struct progress_writer w;
	cr_assert_eq(progress_writer_init(&w, &rd), 0);
	pthread_t th[8];
	struct thread_arg args[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){ &w, i, 0 };
		cr_assert_eq(pthread_create(&th[i], NULL, reporter, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(args[i].failed, 0, "thread %d: %d reports failed", i, args[i].failed);
	}
	cr_expect_eq(w.reports, 200);
	cr_expect_leq(w.groups, w.reports);
	cr_expect_eq(entries(STORE_PROGRESS_TASKS), 200);
	cr_expect_eq(entries(STORE_AUDIT), 200, "every report audited in its group's transaction");
	struct read_txn t;
	cr_assert_eq(read_begin(&rd, &t, NULL), 0);
	struct progress_hosts ph;
	cr_assert_eq(progress_hosts_load(t.txn, t.db, 6000, &ph, NULL), 0);
	read_end(&t);
	cr_assert_eq(ph.n, 1);
	cr_expect_eq(ph.v[0].tasks, 200);
	cr_expect_eq(ph.v[0].state, CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS);
	progress_hosts_free(&ph);
	progress_writer_destroy(&w);
}

struct submitted {
	struct progress_update u;
	struct progress_result res;
	int rc, calls;
};

static void on_done(void *arg, int rc, const char *msg)
{
	struct submitted *s = arg;
	s->rc = rc;
	s->calls++;
	cr_expect_str_eq(msg, rc ? msg : "", "no message without an error");
}

Test(progress, submit_to_the_writer_thread, .init = open_store, .fini = close_store)
{
	add_host(0x11, "web-1", "", "", "10.0.0.1");
	struct progress_writer w;
	cr_assert_eq(progress_writer_init(&w, &rd), 0);
	struct errbuf eb = { { 0 } };
	static struct submitted s[50];
	cr_expect_eq(progress_submit(&w, &s[0].u, "tool", 5000, &s[0].res, on_done, &s[0], &eb), -EAGAIN,
		     "no thread: the caller writes itself");
	cr_assert_eq(progress_writer_start(&w), 0);
	for (int i = 0; i < 50; i++) {
		char task[16];
		snprintf(task, sizeof(task), "t%d", i);
		cr_assert_eq(progress_update_init(&s[i].u, "async", task, &eb), 0);
		s[i].u.status = CAIRN__STORE__MIGRATION_STATE__FAILED;
		cr_assert_eq(progress_update_add_resource(&s[i].u, "r", "10.0.0.1", &eb), 0);
		cr_assert_eq(progress_submit(&w, &s[i].u, "tool", 5000, &s[i].res, on_done, &s[i], &eb), 0,
			     "%s", eb.msg);
	}
	/* a waiting report while the thread runs goes through it too */
	struct progress_result res;
	cr_assert_eq(report(&w, "sync", CAIRN__STORE__MIGRATION_STATE__COMPLETED, 0, NULL, &res), 0);
	progress_result_free(&res);
	progress_writer_stop(&w); /* answers everything queued */
	for (int i = 0; i < 50; i++) {
		cr_expect_eq(s[i].calls, 1, "report %d answered %d times", i, s[i].calls);
		cr_expect_eq(s[i].rc, 0);
		cr_expect(s[i].res.task && s[i].res.task->n_hosts == 1);
		progress_result_free(&s[i].res);
	}
	cr_expect_eq(w.reports, 51);
	cr_expect_eq(entries(STORE_PROGRESS_TASKS), 51);
	cr_expect_eq(progress_submit(&w, &s[0].u, "tool", 5000, &s[0].res, on_done, &s[0], &eb), -EAGAIN,
		     "stopped");
	progress_writer_destroy(&w);
}
