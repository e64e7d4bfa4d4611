/* Ingest: what one batch stores, exactly-once storage, the group-commit
 * writer and its rejections, and growth / storage-full handling. */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "arena.h"
#include "batchgen.h"
#include "enroll.h"
#include "ingest.h"
#include "ingest_writer.h"
#include "sign.h"
#include "store.h"

static char dir[64];
static struct db_env env;
static struct keypair kp;

static void open_env(size_t map_size, size_t map_max)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/db", dir);
	struct errbuf eb;
	cr_assert_eq(db_open(&env, path, store_db_names, STORE_NDBS, map_size, map_max, 0, &eb), 0,
		     "%s", eb.msg);
}

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
	strcpy(dir, "/tmp/cairn-ingest-XXXXXX");
	cr_assert(mkdtemp(dir));
	keys_generate(&kp);
	open_env(1 << 20, 256 << 20);
}

static void teardown(void)
{
	db_close(&env);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 60);

static Cairn__Batch *make(const struct batchgen_opts *o, uint8_t **payload, size_t *len)
{
	cr_assert_eq(batchgen_build(kp.pk, o, payload, len, NULL), 0);
	Cairn__Batch *b = cairn__batch__unpack(NULL, *len, *payload);
	cr_assert_not_null(b);
	return b;
}

static size_t count_db(MDB_txn *txn, enum store_db db)
{
	MDB_stat st;
	cr_assert_eq(mdb_stat(txn, env.dbi[db], &st), 0);
	return st.ms_entries;
}

static void add_agent(Cairn__Store__EnrollState state)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	Cairn__Store__Agent a = CAIRN__STORE__AGENT__INIT;
	a.agent_id.data = kp.pk;
	a.agent_id.len = 32;
	a.state = state;
	a.hostname = "host-7";
	cr_assert_eq(store_agent_put(txn, &env, &a), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static Cairn__Store__Agent *get_agent(void)
{
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	Cairn__Store__Agent *a = NULL;
	cr_assert_eq(store_agent_get(txn, &env, kp.pk, &a), 0);
	mdb_txn_abort(txn);
	return a;
}

Test(ingest, apply_stores_every_kind)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.host_index = 7;
	o.with_packages = true;
	o.nperf = 3;
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	struct ingest_stats st = { 0 };
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, b, 1000, &st), 0);
	cr_assert_eq(st.hosts, 1);
	cr_assert_eq(st.perf, 3);
	cr_assert_eq(st.procs, 1);
	cr_assert_eq(st.listeners, 1);
	cr_assert_eq(st.packages, 1);
	cr_assert_eq(st.edges, 10);
	cr_assert_eq(st.addrs, 3);
	cr_assert_eq(st.records, b->n_records);
	cr_assert_eq(count_db(txn, STORE_HOSTS), 1);
	cr_assert_eq(count_db(txn, STORE_PERF), 3);
	cr_assert_eq(count_db(txn, STORE_EDGES), 10);
	cr_assert_eq(count_db(txn, STORE_ADDRS), 3);

	/* address index: 10.0.7.1 -> this agent, not loopback */
	uint8_t a16[16];
	cr_assert_eq(addr_parse("10.0.7.1", a16), 0);
	uint8_t key[48];
	memcpy(key, a16, 16);
	memcpy(key + 16, kp.pk, 32);
	MDB_val k = { sizeof(key), key }, v;
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_ADDRS], &k, &v), 0);
	Cairn__Store__AddrClaim *c = cairn__store__addr_claim__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_str_eq(c->nic, "eth0");
	cr_assert(!c->loopback);
	cairn__store__addr_claim__free_unpacked(c, NULL);
	cr_assert_eq(addr_parse("127.0.0.1", a16), 0);
	memcpy(key, a16, 16);
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_ADDRS], &k, &v), 0);
	c = cairn__store__addr_claim__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert(c->loopback);
	cairn__store__addr_claim__free_unpacked(c, NULL);

	/* a new HostInfo with another address replaces the claims */
	cairn__batch__free_unpacked(b, NULL);
	free(p);
	o.host_index = 9;
	b = make(&o, &p, &n);
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, b, 2000, &st), 0);
	cr_assert_eq(count_db(txn, STORE_ADDRS), 3);
	cr_assert_eq(addr_parse("10.0.7.1", a16), 0);
	memcpy(key, a16, 16);
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_ADDRS], &k, &v), MDB_NOTFOUND);

	/* facts_gen moved twice */
	MDB_val mk = { 9, "facts_gen" };
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_META], &mk, &v), 0);
	Cairn__Store__Counter *cnt = cairn__store__counter__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_eq(cnt->value, 2);
	cairn__store__counter__free_unpacked(cnt, NULL);
	mdb_txn_abort(txn);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
}

Test(ingest, edges_aggregate_per_day)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.nedges = 4;
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, b, 1, NULL), 0);
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, b, 2, NULL), 0);
	cr_assert_eq(count_db(txn, STORE_EDGES), 4);
	/* the same edges a day later are new EdgeDay entries */
	b->records[b->n_records - 1]->connections->window_start_ms += STORE_DAY_MS;
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, b, 3, NULL), 0);
	cr_assert_eq(count_db(txn, STORE_EDGES), 8);

	uint64_t h = ingest_edge_hash(b->records[b->n_records - 1]->connections->edges[0]);
	struct db_key key;
	db_key_init(&key);
	db_key_bytes(&key, kp.pk, 32);
	db_key_u32(&key, (uint32_t)(o.window_start_ms / STORE_DAY_MS));
	db_key_u64(&key, h);
	MDB_val k = db_key_val(&key), v;
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_EDGES], &k, &v), 0);
	Cairn__Store__EdgeDay *ed = cairn__store__edge_day__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_eq(ed->windows, 2);
	cr_assert_eq(ed->edge->samples_seen, 40);
	cr_assert_eq(ed->edge->bytes_sent, 2000);
	cairn__store__edge_day__free_unpacked(ed, NULL);

	/* pid does not split an edge; remote port does */
	Cairn__Edge e = *b->records[b->n_records - 1]->connections->edges[0];
	e.pid = 99999;
	cr_assert_eq(ingest_edge_hash(&e), h);
	e.remote_port += 1;
	cr_assert_neq(ingest_edge_hash(&e), h);
	mdb_txn_abort(txn);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
}

Test(ingest, process_delta_and_unchanged_packages)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.nprocs = 5;
	o.with_packages = true;
	o.npkgs = 7;
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, b, 1, NULL), 0);

	/* delta: pid 1001 exits, pid 1002 changes, pid 5000 starts */
	Cairn__Process changed = *b->records[2]->processes->processes[2];
	changed.cpu_pct = 55;
	Cairn__Process fresh = changed;
	fresh.pid = 5000;
	Cairn__Process *started[] = { &changed, &fresh };
	uint32_t exited[] = { 1001 };
	Cairn__ProcessDelta d = CAIRN__PROCESS_DELTA__INIT;
	d.taken_ms = 77;
	d.n_started = 2;
	d.started = started;
	d.n_exited_pids = 1;
	d.exited_pids = exited;
	Cairn__Record r = CAIRN__RECORD__INIT;
	r.kind_case = CAIRN__RECORD__KIND_PROCESS_DELTA;
	r.process_delta = &d;
	/* unchanged packages, same hash */
	Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
	uint8_t hash[32] = { 1, 2, 3 };
	inv.manager = "dpkg";
	inv.unchanged = true;
	inv.content_hash.data = hash;
	inv.content_hash.len = 32;
	inv.collected_ms = 999;
	Cairn__Record r2 = CAIRN__RECORD__INIT;
	r2.kind_case = CAIRN__RECORD__KIND_PACKAGES;
	r2.packages = &inv;
	Cairn__Record *recs[] = { &r, &r2 };
	Cairn__Batch b2 = CAIRN__BATCH__INIT;
	b2.seq = 2;
	b2.n_records = 2;
	b2.records = recs;
	struct ingest_stats st = { 0 };
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, &b2, 2, &st), 0);
	cr_assert_eq(st.proc_deltas, 1);
	cr_assert_eq(st.packages_unchanged, 1);

	MDB_val k = { 32, kp.pk }, v;
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_PROCS], &k, &v), 0);
	Cairn__ProcessSnapshot *s = cairn__process_snapshot__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_eq(s->n_processes, 5); /* 5 - 1 exited + 1 new */
	cr_assert_eq(s->taken_ms, 77);
	bool saw_new = false, saw_exited = false;
	for (size_t i = 0; i < s->n_processes; i++) {
		saw_new |= s->processes[i]->pid == 5000;
		saw_exited |= s->processes[i]->pid == 1001;
		if (s->processes[i]->pid == 1002)
			cr_assert_eq(s->processes[i]->cpu_pct, 55);
	}
	cr_assert(saw_new && !saw_exited);
	cairn__process_snapshot__free_unpacked(s, NULL);

	struct db_key key;
	db_key_init(&key);
	db_key_bytes(&key, kp.pk, 32);
	db_key_str(&key, "dpkg");
	k = db_key_val(&key);
	cr_assert_eq(mdb_get(txn, env.dbi[STORE_PACKAGES], &k, &v), 0);
	Cairn__PackageInventory *pi = cairn__package_inventory__unpack(NULL, v.mv_size, v.mv_data);
	cr_assert_eq(pi->n_packages, 7);
	cr_assert_eq(pi->collected_ms, 999);
	cairn__package_inventory__free_unpacked(pi, NULL);

	/* unchanged with a different hash keeps ours and counts */
	hash[0] = 9;
	memset(&st, 0, sizeof(st));
	cr_assert_eq(ingest_apply(txn, &env, kp.pk, &b2, 3, &st), 0);
	cr_assert_eq(st.unchanged_without_base, 1);
	mdb_txn_abort(txn);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
}

static void store_seq(uint64_t seq, bool expect_stored)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.seq = seq;
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	uint8_t sig[SIGN_LEN];
	sign_batch(sig, kp.sk, kp.pk, seq, p, n);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	bool stored;
	uint64_t high;
	cr_assert_eq(ingest_store(txn, &env, kp.pk, seq, sig, p, n, b, 5, NULL, &stored, &high), 0);
	cr_assert_eq(stored, expect_stored, "seq %llu", (unsigned long long)seq);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
}

Test(ingest, exactly_once_with_duplicates)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	uint8_t sig[SIGN_LEN] = { 0 };
	MDB_txn *txn;
	bool stored;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_store(txn, &env, kp.pk, 1, sig, p, n, b, 1, NULL, &stored, NULL),
		     -ENOENT);
	mdb_txn_abort(txn);
	add_agent(CAIRN__STORE__ENROLL_STATE__PENDING);
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_store(txn, &env, kp.pk, 1, sig, p, n, b, 1, NULL, &stored, NULL),
		     -EPERM);
	mdb_txn_abort(txn);
	cairn__batch__free_unpacked(b, NULL);
	free(p);

	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	store_seq(1, true);
	store_seq(2, true);
	store_seq(2, false);
	store_seq(1, false);
	store_seq(3, true);
	store_seq(3, false);
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->high_seq, 3);
	cr_assert_eq(a->batches_stored, 3);
	cr_assert_eq(a->replays_rejected, 3);
	cr_assert_str_eq(a->hostname, "host-0");
	cairn__store__agent__free_unpacked(a, NULL);
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(count_db(txn, STORE_BATCHES), 3);
	mdb_txn_abort(txn);
}

/* ------------------------------------------------------------ writer */

struct collected {
	pthread_mutex_t mu;
	struct ingest_item *items[256];
	size_t n;
	uint32_t calls;
};

static void collect(struct ingest_item *list, void *arg)
{
	struct collected *c = arg;
	pthread_mutex_lock(&c->mu);
	c->calls++;
	while (list) {
		struct ingest_item *next = list->next;
		c->items[c->n++] = list;
		list = next;
	}
	pthread_mutex_unlock(&c->mu);
}

static size_t wait_items(struct collected *c, size_t want, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		pthread_mutex_lock(&c->mu);
		size_t n = c->n;
		pthread_mutex_unlock(&c->mu);
		if (n >= want)
			return n;
		usleep(10000);
	}
	return c->n;
}

static struct ingest_item *item(uint64_t seq, int kind_of_damage)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.seq = seq;
	struct ingest_item *it = calloc(1, sizeof(*it));
	memcpy(it->agent_id, kp.pk, 32);
	it->seq = seq;
	cr_assert_eq(batchgen_build(kp.pk, &o, &it->payload, &it->payload_len, NULL), 0);
	if (kind_of_damage == 2) /* well signed, not a protobuf */
		memset(it->payload, 0xff, it->payload_len);
	sign_batch(it->sig, kp.sk, kp.pk, seq, it->payload, it->payload_len);
	if (kind_of_damage == 1) /* forged */
		it->sig[5] ^= 1;
	return it;
}

Test(ingest, writer_groups_and_rejects)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	struct collected c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct ingest_writer w;
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 200, 64, 1000, collect, &c), 0);
	/* 40 good batches, seq 5 twice, one forged, one malformed */
	for (uint64_t s = 1; s <= 40; s++)
		ingest_writer_submit(&w, item(s, 0));
	ingest_writer_submit(&w, item(5, 0));
	ingest_writer_submit(&w, item(41, 1));
	ingest_writer_submit(&w, item(42, 2));
	cr_assert_eq(wait_items(&c, 43, 10000), 43);
	ingest_writer_stop(&w, 1000);
	size_t ok = 0, replay = 0, forged = 0, malformed = 0;
	uint64_t max_ack = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct ingest_item *it = c.items[i];
		ok += it->result == INGEST_OK;
		replay += it->result == INGEST_REPLAY;
		forged += it->result == INGEST_BAD_SIGNATURE;
		malformed += it->result == INGEST_MALFORMED;
		if (it->ack_seq > max_ack)
			max_ack = it->ack_seq;
		ingest_item_free(it);
	}
	cr_assert_eq(ok, 40);
	cr_assert_eq(replay, 1);
	cr_assert_eq(forged, 1);
	cr_assert_eq(malformed, 1);
	cr_assert_eq(max_ack, 40);
	/* grouped: far fewer commits than batches */
	cr_assert_leq(w.stats.commits, 3, "%llu commits", (unsigned long long)w.stats.commits);
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->high_seq, 40);
	cr_assert_eq(a->batches_stored, 40);
	cr_assert_eq(a->bad_signatures, 1);
	cr_assert_eq(a->malformed_batches, 1);
	cr_assert_eq(a->replays_rejected, 1);
	cairn__store__agent__free_unpacked(a, NULL);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(count_db(txn, STORE_BATCHES), 40);
	mdb_txn_abort(txn);
}

Test(ingest, writer_limits)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	struct collected c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct ingest_writer w;
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	lim.max_records = 3;
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 5, 64, 1000, collect, &c), 0);
	ingest_writer_submit(&w, item(1, 0));
	cr_assert_eq(wait_items(&c, 1, 5000), 1);
	ingest_writer_stop(&w, 1000);
	cr_assert_eq(c.items[0]->result, INGEST_LIMIT);
	cr_assert(strstr(c.items[0]->detail, "max_records"), "%s", c.items[0]->detail);
	ingest_item_free(c.items[0]);

	struct batchgen_opts o;
	batchgen_defaults(&o);
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	struct errbuf eb;
	ingest_limits_default(&lim);
	lim.max_string = 10;
	cr_assert_eq(ingest_check_limits(b, &lim, &eb), -E2BIG);
	cr_assert(strstr(eb.msg, "max_string"), "%s", eb.msg);
	ingest_limits_default(&lim);
	lim.max_repeated = 5;
	cr_assert_eq(ingest_check_limits(b, &lim, &eb), -E2BIG);
	ingest_limits_default(&lim);
	cr_assert_eq(ingest_check_limits(b, &lim, &eb), 0);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
}

Test(ingest, map_grows_then_storage_full_holds_batches)
{
	db_close(&env);
	open_env(256 << 10, 64 << 20);
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	size_t start = env.map_size;
	struct collected c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct ingest_writer w;
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 5, 16, 1000, collect, &c), 0);
	for (uint64_t s = 1; s <= 60; s++)
		ingest_writer_submit(&w, item(s, 0));
	cr_assert_eq(wait_items(&c, 60, 20000), 60);
	ingest_writer_stop(&w, 1000);
	for (size_t i = 0; i < c.n; i++) {
		cr_assert_eq(c.items[i]->result, INGEST_OK);
		ingest_item_free(c.items[i]);
	}
	cr_assert_gt(env.map_size, start, "map did not grow");

	/* now a cap at the current size: the writer holds, ACKs nothing */
	size_t cap = env.map_size;
	env.map_max = cap;
	c.n = 0;
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 5, 16, 1000, collect, &c), 0);
	uint64_t s = 61;
	for (int round = 0; round < 200 && !ingest_writer_full(&w); round++) {
		for (int i = 0; i < 8; i++)
			ingest_writer_submit(&w, item(s++, 0));
		usleep(20000);
		pthread_mutex_lock(&c.mu);
		for (size_t i = 0; i < c.n; i++)
			ingest_item_free(c.items[i]);
		c.n = 0;
		pthread_mutex_unlock(&c.mu);
	}
	struct ingest_writer_stats ws;
	ingest_writer_get_stats(&w, &ws);
	cr_assert(ws.storage_full, "storage never filled");
	usleep(300000);
	pthread_mutex_lock(&c.mu);
	cr_assert_eq(c.n, 0, "items came back while storage is full");
	pthread_mutex_unlock(&c.mu);
	/* space returns: everything held is stored */
	env.map_max = (size_t)256 << 20;
	cr_assert_gt(wait_items(&c, 1, 8000), 0);
	ingest_writer_stop(&w, 5000);
	uint64_t high = 0;
	for (size_t i = 0; i < c.n; i++) {
		cr_assert_eq(c.items[i]->result, INGEST_OK, "seq %llu: %s",
			     (unsigned long long)c.items[i]->seq, c.items[i]->detail);
		ingest_item_free(c.items[i]);
	}
	Cairn__Store__Agent *a = get_agent();
	high = a->high_seq;
	cairn__store__agent__free_unpacked(a, NULL);
	cr_assert_eq(high, s - 1, "high %llu, submitted up to %llu", (unsigned long long)high,
		     (unsigned long long)(s - 1));
}

Test(ingest, retention_prunes_old_batches_and_perf)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		struct batchgen_opts o;
		batchgen_defaults(&o);
		o.seq = seq;
		o.window_start_ms = (int64_t)seq * 1000000;
		uint8_t *p;
		size_t n;
		Cairn__Batch *b = make(&o, &p, &n);
		uint8_t sig[SIGN_LEN];
		sign_batch(sig, kp.sk, kp.pk, seq, p, n);
		MDB_txn *txn;
		bool stored;
		cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
		cr_assert_eq(ingest_store(txn, &env, kp.pk, seq, sig, p, n, b, (int64_t)seq * 1000, NULL,
					  &stored, NULL), 0);
		cr_assert_eq(mdb_txn_commit(txn), 0);
		cairn__batch__free_unpacked(b, NULL);
		free(p);
	}
	MDB_txn *txn;
	uint64_t deleted;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_prune(txn, &env, 2500, 0, &deleted), 0);
	cr_assert_eq(deleted, 2);
	cr_assert_eq(count_db(txn, STORE_BATCHES), 1);
	cr_assert_eq(count_db(txn, STORE_PERF), 3);
	/* received 3000 < 2.5e6 too: the last raw batch and two perf windows */
	cr_assert_eq(ingest_prune(txn, &env, 2500000, 0, &deleted), 0);
	cr_assert_eq(deleted, 3);
	cr_assert_eq(count_db(txn, STORE_PERF), 1);
	cr_assert_eq(count_db(txn, STORE_BATCHES), 0);
	/* bounded sweeps */
	cr_assert_eq(ingest_prune(txn, &env, INT64_MAX, 1, &deleted), 0);
	cr_assert_eq(deleted, 1);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	/* the high-water mark is untouched: a resend of seq 1 is still a replay */
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->high_seq, 3);
	cairn__store__agent__free_unpacked(a, NULL);
}

/* Several verifier threads: one agent's batches still reach the store in
 * order (a reordering would turn the overtaken ones into replays). */
Test(ingest, writer_keeps_each_agents_order_across_verifiers)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	struct collected c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct ingest_writer w;
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 1, 16, 1000, collect, &c), 0);
	const uint64_t n = 200;
	for (uint64_t s = 1; s <= n; s++) {
		ingest_writer_submit(&w, item(s, 0));
		if (s % 37 == 0)
			usleep(2000); /* uneven bursts: runs of different lengths */
	}
	cr_assert_eq(wait_items(&c, n, 20000), n);
	ingest_writer_stop(&w, 1000);
	uint64_t last = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct ingest_item *it = c.items[i];
		cr_assert_eq(it->result, INGEST_OK, "seq %llu: %s (%s)", (unsigned long long)it->seq,
			     ingest_result_name(it->result), it->detail);
		cr_assert_gt(it->seq, last, "seq %llu handed back after %llu",
			     (unsigned long long)it->seq, (unsigned long long)last);
		last = it->seq;
		ingest_item_free(it);
	}
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->high_seq, n);
	cr_assert_eq(a->batches_stored, n);
	cr_assert_eq(a->replays_rejected, 0);
	cairn__store__agent__free_unpacked(a, NULL);
}

/* Stopping while the store is full: the held group fails, and no later batch
 * of the agent may be stored past it (its seqs would become "replays" when
 * resent: acknowledged, never stored). */
Test(ingest, nothing_stored_past_a_failed_group)
{
	db_close(&env);
	open_env(256 << 10, 512 << 10);
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	struct collected c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct ingest_writer w;
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 1, 4, 1000, collect, &c), 0);
	const uint64_t n = 200;
	for (uint64_t s = 1; s <= n; s++)
		ingest_writer_submit(&w, item(s, 0));
	struct ingest_writer_stats ws = { 0 };
	for (int i = 0; i < 1000 && !ws.storage_full && c.n < n; i++) {
		usleep(10000);
		ingest_writer_get_stats(&w, &ws);
	}
	cr_assert(ws.storage_full, "the store never filled up (%zu of %llu came back)", c.n,
		  (unsigned long long)n);
	ingest_writer_stop(&w, 0);
	cr_assert_eq(c.n, n);
	uint64_t first_failed = 0;
	for (size_t i = 0; i < c.n; i++) {
		struct ingest_item *it = c.items[i];
		if (it->result == INGEST_FAILED && (!first_failed || it->seq < first_failed))
			first_failed = it->seq;
	}
	cr_assert_gt(first_failed, 0, "nothing failed although the store was full");
	for (size_t i = 0; i < c.n; i++) {
		struct ingest_item *it = c.items[i];
		if (it->seq > first_failed)
			cr_assert_neq(it->result, INGEST_OK, "seq %llu stored past failed seq %llu",
				      (unsigned long long)it->seq, (unsigned long long)first_failed);
		ingest_item_free(it);
	}
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->high_seq, first_failed - 1);
	cr_assert_eq(a->batches_stored, first_failed - 1);
	cairn__store__agent__free_unpacked(a, NULL);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, MDB_RDONLY, &txn), 0);
	cr_assert_eq(count_db(txn, STORE_BATCHES), first_failed - 1);
	mdb_txn_abort(txn);
}

/* ------------------------------------------------------------ hardening */

/* Stores seq with a batch whose window differs by `variant` (other content
 * under the same seq, as a second machine with the same key would send). */
static int store_variant(uint64_t seq, int64_t variant, bool *stored, uint64_t *high)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.seq = seq;
	o.window_start_ms += variant;
	uint8_t *p;
	size_t n;
	Cairn__Batch *b = make(&o, &p, &n);
	uint8_t sig[SIGN_LEN];
	sign_batch(sig, kp.sk, kp.pk, seq, p, n);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(env.env, NULL, 0, &txn), 0);
	int rc = ingest_store(txn, &env, kp.pk, seq, sig, p, n, b, 5, NULL, stored, high);
	cr_assert_eq(mdb_txn_commit(txn), 0, "the counters commit also on a refusal");
	cairn__batch__free_unpacked(b, NULL);
	free(p);
	return rc;
}

/* Two machines with one key send the same seq with other content: that is
 * a conflict (counted, refused), not a replay the agent may delete. */
Test(ingest, same_seq_other_content_is_a_conflict)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	bool stored;
	uint64_t high;
	cr_assert_eq(store_variant(1, 0, &stored, &high), 0);
	cr_assert(stored);
	cr_assert_eq(store_variant(1, 0, &stored, &high), 0, "the same bytes again: a replay");
	cr_assert_not(stored);
	cr_assert_eq(store_variant(1, 777, &stored, &high), INGEST_ERR_CONFLICT);
	cr_assert_not(stored);
	cr_assert_eq(high, 1);
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->conflicts, 1);
	cr_assert_eq(a->last_conflict_seq, 1);
	cr_assert_eq(a->replays_rejected, 1);
	cr_assert_eq(a->batches_stored, 1);
	cairn__store__agent__free_unpacked(a, NULL);
}

/* A forged seq near UINT64_MAX used to become the high seq, so every later
 * batch of the agent was a "replay". */
Test(ingest, seq_jump_beyond_bound_refused)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	bool stored;
	uint64_t high;
	cr_assert_eq(store_variant(1, 0, &stored, &high), 0);
	cr_assert_eq(store_variant(UINT64_MAX, 0, &stored, &high), INGEST_ERR_SEQ_JUMP);
	cr_assert_not(stored);
	cr_assert_eq(store_variant(2 + INGEST_MAX_SEQ_JUMP, 0, &stored, &high),
		     INGEST_ERR_SEQ_JUMP);
	cr_assert_eq(store_variant(1 + INGEST_MAX_SEQ_JUMP, 0, &stored, &high), 0,
		     "a jump of exactly the bound is allowed");
	cr_assert(stored);
	cr_assert_eq(store_variant(2 + INGEST_MAX_SEQ_JUMP, 0, &stored, &high), 0);
	cr_assert(stored, "later batches still stored");
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->high_seq, 2 + INGEST_MAX_SEQ_JUMP);
	cr_assert_eq(a->limit_batches, 2);
	cairn__store__agent__free_unpacked(a, NULL);
}

static Cairn__Batch *batch_with_gap(uint64_t seq, uint64_t first, uint64_t last)
{
	Cairn__Batch *b = calloc(1, sizeof(*b));
	cairn__batch__init(b);
	b->seq = seq;
	Cairn__Record *r = calloc(1, sizeof(*r));
	cairn__record__init(r);
	Cairn__Gap *g = calloc(1, sizeof(*g));
	cairn__gap__init(g);
	g->first_seq = first;
	g->last_seq = last;
	r->kind_case = CAIRN__RECORD__KIND_GAP;
	r->gap = g;
	b->records = calloc(1, sizeof(*b->records));
	b->records[0] = r;
	b->n_records = 1;
	return b;
}

static void free_batch_with_gap(Cairn__Batch *b)
{
	free(b->records[0]->gap);
	free(b->records[0]);
	free(b->records);
	free(b);
}

/* A Gap 1..UINT64_MAX wrapped gaps_reported (last - first + 1 = 0, then
 * negative in --json): gaps lie before their batch and are bounded. */
Test(ingest, gap_ranges_bounded)
{
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	struct errbuf eb;
	struct {
		uint64_t seq, first, last;
		int want;
	} cases[] = {
		{ 10, 1, 9, 0 },
		{ 10, 3, 3, 0 },
		{ 10, 1, UINT64_MAX, -E2BIG },
		{ 10, 5, 4, -E2BIG },
		{ 10, 5, 10, -E2BIG },
		{ UINT64_MAX, 0, UINT64_MAX - 1, -E2BIG },
		{ 2 * INGEST_MAX_SEQ_JUMP, 1, INGEST_MAX_SEQ_JUMP, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Cairn__Batch *b = batch_with_gap(cases[i].seq, cases[i].first, cases[i].last);
		int rc = ingest_check_limits(b, &lim, &eb);
		cr_assert_eq(rc, cases[i].want, "case %zu: rc %d", i, rc);
		if (rc)
			cr_assert(strstr(eb.msg, "Gap"), "%s", eb.msg);
		free_batch_with_gap(b);
	}
}

/* ~2 million two-byte unknown fields: about 40 bytes each once decoded.
 * The batch is malformed (too many unknown fields) and its decoding is
 * refused by the arena's cap before it takes ~80 MB. */
static uint8_t *unknown_fields_payload(size_t nfields, size_t *len)
{
	uint8_t *p = malloc(nfields * 2 + 2);
	size_t n = 0;
	p[n++] = 0x10; /* Batch.seq = 1 (field 2, varint) */
	p[n++] = 0x01;
	for (size_t i = 0; i < nfields; i++) {
		p[n++] = 0x78; /* field 15, varint, unknown to Batch: value 0 */
		p[n++] = 0x00;
	}
	*len = n;
	return p;
}

Test(ingest, unknown_fields_beyond_budget_are_malformed)
{
	size_t len;
	uint8_t *p = unknown_fields_payload(INGEST_MAX_UNKNOWN_DEFAULT + 1, &len);
	Cairn__Batch *b = cairn__batch__unpack(NULL, len, p);
	cr_assert_not_null(b);
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	struct errbuf eb;
	cr_assert_eq(ingest_check_limits(b, &lim, &eb), -EBADMSG);
	cr_assert(strstr(eb.msg, "unknown"), "%s", eb.msg);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
	p = unknown_fields_payload(100, &len);
	b = cairn__batch__unpack(NULL, len, p);
	cr_assert_eq(ingest_check_limits(b, &lim, &eb), 0, "a few unknown fields are fine: %s",
		     eb.msg);
	cairn__batch__free_unpacked(b, NULL);
	free(p);
}

Test(ingest, writer_refuses_unknown_field_flood_within_a_memory_cap)
{
	add_agent(CAIRN__STORE__ENROLL_STATE__ACCEPTED);
	struct collected c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct ingest_writer w;
	struct ingest_limits lim;
	ingest_limits_default(&lim);
	cr_assert_eq(ingest_writer_start(&w, &env, &lim, 1, 64, 1024, collect, &c), 0);
	struct ingest_item *it = calloc(1, sizeof(*it));
	memcpy(it->agent_id, kp.pk, 32);
	it->seq = 1;
	it->payload = unknown_fields_payload(2000000, &it->payload_len);
	sign_batch(it->sig, kp.sk, kp.pk, 1, it->payload, it->payload_len);
	ingest_writer_submit(&w, it);
	cr_assert_eq(wait_items(&c, 1, 20000), 1);
	ingest_writer_stop(&w, 1000);
	cr_assert_eq(c.items[0]->result, INGEST_MALFORMED, "%s", c.items[0]->detail);
	cr_assert(strstr(c.items[0]->detail, "memory") || strstr(c.items[0]->detail, "unknown"),
		  "%s", c.items[0]->detail);
	ingest_item_free(c.items[0]);
	Cairn__Store__Agent *a = get_agent();
	cr_assert_eq(a->batches_stored, 0);
	cr_assert_eq(a->malformed_batches, 1);
	cairn__store__agent__free_unpacked(a, NULL);
}

/* Honest batches of every shape decode within INGEST_DECODED_MAX(payload),
 * the cap the verifiers give the arena. */
Test(ingest, honest_batches_fit_the_decoding_cap)
{
	struct batchgen_opts shapes[6];
	for (int i = 0; i < 6; i++)
		batchgen_defaults(&shapes[i]);
	shapes[1].with_host = true;
	shapes[1].with_packages = true;
	shapes[1].npkgs = 3000;
	shapes[2].nedges = 20000;
	shapes[3].nprocs = 2000;
	shapes[4].nperf = 2000;
	shapes[5].nedges = 1;
	shapes[5].nprocs = 1;
	for (int i = 0; i < 6; i++) {
		uint8_t *p;
		size_t n;
		cr_assert_eq(batchgen_build(kp.pk, &shapes[i], &p, &n, NULL), 0);
		struct arena *ar = arena_new_capped(INGEST_DECODED_FIRST(n), SIZE_MAX);
		Cairn__Batch *b = cairn__batch__unpack(&ar->a, n, p);
		cr_assert_not_null(b);
		fprintf(stderr, "shape %d: payload %zu bytes, decoded arena %zu bytes (%.1fx)\n", i,
			n, arena_total(ar), (double)arena_total(ar) / (double)n);
		cr_assert_leq(arena_total(ar), INGEST_DECODED_MAX(n), "shape %d", i);
		arena_release(ar);
		free(p);
	}
}
