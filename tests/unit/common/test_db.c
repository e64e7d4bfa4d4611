/* LMDB helpers: growth on MDB_MAP_FULL keeps every record, readers in other
 * threads and processes keep working, file modes, key builders. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db.h"

static char dir[64];
static char envpath[128];
static const char *const names[] = { "records", "meta" };

static void setup(void)
{
	str_copy(dir, "/tmp/cairn-test-db-XXXXXX", sizeof(dir));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(envpath, sizeof(envpath), "%s/env", dir);
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(db, .init = setup, .fini = teardown);

#define VALUE_LEN 200

struct put_range {
	struct db_env *e;
	uint64_t first, count;
	int calls;
};

static void fill_value(uint8_t *v, uint64_t i)
{
	for (size_t j = 0; j < VALUE_LEN; j++)
		v[j] = (uint8_t)(i * 31 + j);
}

static int put_range_fn(MDB_txn *txn, void *arg)
{
	struct put_range *pr = arg;
	pr->calls++;
	uint8_t v[VALUE_LEN];
	for (uint64_t i = pr->first; i < pr->first + pr->count; i++) {
		struct db_key k;
		db_key_init(&k);
		db_key_u64(&k, i);
		MDB_val key = db_key_val(&k);
		fill_value(v, i);
		MDB_val val = { VALUE_LEN, v };
		int rc = mdb_put(txn, pr->e->dbi[0], &key, &val, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static size_t count_and_check(struct db_env *e)
{
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(e, &txn), 0);
	MDB_cursor *cur;
	cr_assert_eq(mdb_cursor_open(txn, e->dbi[0], &cur), 0);
	MDB_val k, v;
	size_t n = 0;
	uint64_t prev = 0;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		cr_assert_eq(k.mv_size, 8);
		uint64_t i = db_get_u64(k.mv_data);
		cr_assert(n == 0 || i > prev, "keys out of order");
		prev = i;
		uint8_t want[VALUE_LEN];
		fill_value(want, i);
		cr_assert_eq(v.mv_size, VALUE_LEN);
		cr_assert_eq(memcmp(v.mv_data, want, VALUE_LEN), 0, "record %llu damaged",
			     (unsigned long long)i);
		n++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	cr_assert_eq(rc, MDB_NOTFOUND);
	mdb_cursor_close(cur);
	db_read_end(e, txn);
	return n;
}

Test(db, tiny_map_grows_and_keeps_every_record)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 64 << 10, (size_t)1 << 30, 0, &eb), 0, "%s",
		     eb.msg);
	size_t start = e.map_size;
	const uint64_t total = 20000, per_txn = 500; /* ~4 MB of values */
	for (uint64_t first = 0; first < total; first += per_txn) {
		struct put_range pr = { &e, first, per_txn, 0 };
		cr_assert_eq(db_write(&e, put_range_fn, &pr), 0, "write at %llu",
			     (unsigned long long)first);
	}
	cr_assert_gt(e.grow_count, 0, "the map never grew");
	cr_assert_gt(e.map_size, start);
	cr_assert_eq(count_and_check(&e), total);
	db_close(&e);

	/* Reopen with the original tiny size: LMDB keeps the grown size. */
	cr_assert_eq(db_open(&e, envpath, names, 2, 64 << 10, (size_t)1 << 30, 0, &eb), 0, "%s",
		     eb.msg);
	cr_assert_eq(count_and_check(&e), total);
	db_close(&e);
}

Test(db, one_transaction_larger_than_the_map_is_replayed)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 64 << 10, (size_t)1 << 30, 0, &eb), 0);
	struct put_range pr = { &e, 0, 10000, 0 };
	cr_assert_eq(db_write(&e, put_range_fn, &pr), 0);
	cr_assert_gt(pr.calls, 1, "fn was not rerun after MDB_MAP_FULL");
	cr_assert_eq(count_and_check(&e), 10000);
	db_close(&e);
}

Test(db, growth_stops_at_map_max)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 64 << 10, 256 << 10, 0, &eb), 0);
	struct put_range pr = { &e, 0, 5000, 0 }; /* ~1 MB: cannot fit */
	cr_assert_eq(db_write(&e, put_range_fn, &pr), MDB_MAP_FULL);
	cr_assert_leq(e.map_size, 256 << 10);
	cr_assert_eq(count_and_check(&e), 0, "an aborted write left records");
	/* Smaller writes still work afterwards. */
	struct put_range small = { &e, 0, 10, 0 };
	cr_assert_eq(db_write(&e, put_range_fn, &small), 0);
	cr_assert_eq(count_and_check(&e), 10);
	db_close(&e);
}

static int failing_fn(MDB_txn *txn, void *arg)
{
	struct put_range *pr = arg;
	put_range_fn(txn, pr);
	return -EIO;
}

Test(db, fn_error_aborts)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 1 << 20, 0, &eb), 0);
	struct put_range pr = { &e, 0, 10, 0 };
	cr_assert_eq(db_write(&e, failing_fn, &pr), -EIO);
	cr_assert_eq(count_and_check(&e), 0);
	db_close(&e);
}

Test(db, file_modes)
{
	struct db_env e;
	struct errbuf eb;
	umask(022);
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 1 << 20, 0, &eb), 0);
	db_close(&e);
	struct stat st;
	cr_assert_eq(stat(envpath, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "dir mode %o", st.st_mode & 0777);
	char f[200];
	snprintf(f, sizeof(f), "%s/data.mdb", envpath);
	cr_assert_eq(stat(f, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "data.mdb mode %o", st.st_mode & 0777);
	snprintf(f, sizeof(f), "%s/lock.mdb", envpath);
	cr_assert_eq(stat(f, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "lock.mdb mode %o", st.st_mode & 0777);
}

Test(db, readonly_open_and_missing_db)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 1 << 20, MDB_RDONLY, &eb), -ENOENT,
		     "read-only open of a missing env: %s", eb.msg);
	cr_assert_not_null(strstr(eb.msg, "check --state-dir"), "%s", eb.msg);
	cr_assert_eq(db_open(&e, envpath, names, 1, 1 << 20, 1 << 20, 0, &eb), 0);
	db_close(&e);
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 1 << 20, MDB_RDONLY, &eb), -ENOENT);
	cr_assert_not_null(strstr(eb.msg, "meta"), "%s", eb.msg);
	cr_assert_eq(db_open(&e, envpath, names, 1, 1 << 20, 1 << 20, MDB_RDONLY, &eb), 0, "%s",
		     eb.msg);
	MDB_dbi dbi;
	cr_assert_eq(db_dbi(&e, "records", &dbi), 0);
	cr_assert_eq(dbi, e.dbi[0]);
	cr_assert_eq(db_dbi(&e, "nope", &dbi), -ENOENT);
	db_close(&e);
}

struct reader_arg {
	struct db_env *e;
	MDB_txn *txn;
	size_t seen;
};

static void *read_in_thread(void *p)
{
	struct reader_arg *ra = p;
	MDB_val k, v;
	MDB_cursor *cur;
	if (mdb_cursor_open(ra->txn, ra->e->dbi[0], &cur))
		return NULL;
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		ra->seen++;
	mdb_cursor_close(cur);
	return NULL;
}

Test(db, read_txn_used_on_another_thread)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 1 << 20, 0, &eb), 0);
	struct put_range pr = { &e, 0, 100, 0 };
	cr_assert_eq(db_write(&e, put_range_fn, &pr), 0);
	struct reader_arg ra = { &e, NULL, 0 };
	cr_assert_eq(db_read_begin(&e, &ra.txn), 0);
	pthread_t t;
	pthread_create(&t, NULL, read_in_thread, &ra);
	pthread_join(t, NULL);
	cr_assert_eq(ra.seen, 100);
	db_read_end(&e, ra.txn);
	db_close(&e);
}

struct writer_arg {
	struct db_env *e;
	atomic_int done;
	int rc;
};

static void *write_in_thread(void *p)
{
	struct writer_arg *wa = p;
	struct put_range pr = { wa->e, 1000, 5000, 0 };
	wa->rc = db_write(wa->e, put_range_fn, &pr);
	atomic_store(&wa->done, 1);
	return NULL;
}

Test(db, growth_waits_for_readers_of_this_process)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 64 << 10, 1 << 30, 0, &eb), 0);
	struct put_range pr = { &e, 0, 50, 0 };
	cr_assert_eq(db_write(&e, put_range_fn, &pr), 0);
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&e, &txn), 0);
	struct db_key k;
	db_key_init(&k);
	db_key_u64(&k, 7);
	MDB_val key = db_key_val(&k), val;
	cr_assert_eq(mdb_get(txn, e.dbi[0], &key, &val), 0);

	struct writer_arg wa = { &e, 0, -1 };
	pthread_t t;
	pthread_create(&t, NULL, write_in_thread, &wa);
	usleep(200 * 1000);
	cr_assert_eq(atomic_load(&wa.done), 0, "the map was remapped under an open reader");
	/* Our value is still mapped and intact. */
	uint8_t want[VALUE_LEN];
	fill_value(want, 7);
	cr_assert_eq(memcmp(val.mv_data, want, VALUE_LEN), 0);
	db_read_end(&e, txn);
	pthread_join(t, NULL);
	cr_assert_eq(wa.rc, 0);
	cr_assert_eq(count_and_check(&e), 5050);
	db_close(&e);
}

Test(db, reader_process_works_while_writer_grows)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 64 << 10, 1 << 30, 0, &eb), 0);
	struct put_range first = { &e, 0, 10, 0 };
	cr_assert_eq(db_write(&e, put_range_fn, &first), 0);

	int go[2];
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Reader process: its own env handle, read-only. */
		close(go[1]);
		struct db_env r;
		if (db_open(&r, envpath, names, 2, 64 << 10, 1 << 30, MDB_RDONLY, &eb))
			_exit(10);
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(11);
		size_t last = 0;
		/* Until the writer is done; generous for slow, shared CI disks. */
		uint64_t deadline = time_mono_ms() + 60000;
		while (time_mono_ms() < deadline) {
			MDB_txn *txn;
			if (db_read_begin(&r, &txn))
				_exit(12);
			MDB_stat st;
			if (mdb_stat(txn, r.dbi[0], &st))
				_exit(13);
			db_read_end(&r, txn);
			if (st.ms_entries < last)
				_exit(14); /* count went backwards */
			last = st.ms_entries;
			if (last == 20010)
				break;
			usleep(2000);
		}
		db_close(&r);
		_exit(last == 20010 ? 0 : 15);
	}
	close(go[0]);
	cr_assert_eq(write(go[1], "g", 1), 1);
	for (uint64_t f = 10; f < 20010; f += 1000) {
		struct put_range pr = { &e, f, 1000, 0 };
		cr_assert_eq(db_write(&e, put_range_fn, &pr), 0);
	}
	cr_assert_gt(e.grow_count, 0);
	close(go[1]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "reader crashed");
	cr_assert_eq(WEXITSTATUS(status), 0, "reader failed with %d", WEXITSTATUS(status));
	db_close(&e);
}

Test(db, second_writer_process_adopts_grown_map)
{
	struct db_env a, b;
	struct errbuf eb;
	cr_assert_eq(db_open(&a, envpath, names, 2, 64 << 10, 1 << 30, 0, &eb), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (db_open(&b, envpath, names, 2, 64 << 10, 1 << 30, 0, &eb))
			_exit(10);
		struct put_range pr = { &b, 100000, 5000, 0 };
		int rc = db_write(&b, put_range_fn, &pr);
		db_close(&b);
		_exit(rc ? 11 : 0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child writer failed");
	/* The map grew in the child; our next write sees MDB_MAP_RESIZED. */
	struct put_range pr = { &a, 0, 5000, 0 };
	cr_assert_eq(db_write(&a, put_range_fn, &pr), 0);
	cr_assert_eq(count_and_check(&a), 10000);
	db_close(&a);
}

Test(db, keys_sort_big_endian)
{
	struct db_key a, b;
	db_key_init(&a);
	db_key_init(&b);
	db_key_u32(&a, 1);
	db_key_u64(&a, 0xffffffffffull);
	db_key_u32(&b, 2);
	db_key_u64(&b, 0);
	cr_assert_eq(a.len, 12);
	cr_assert_lt(memcmp(a.b, b.b, 12), 0);
	db_key_init(&a);
	db_key_u64(&a, 255);
	db_key_init(&b);
	db_key_u64(&b, 256);
	cr_assert_lt(memcmp(a.b, b.b, 8), 0);
	cr_assert_eq(db_get_u64(b.b), 256);
	db_key_init(&a);
	db_key_u8(&a, 3);
	db_key_str(&a, "host");
	db_key_bytes(&a, "\0", 1);
	cr_assert_eq(a.len, 6);
	cr_assert_eq(memcmp(a.b, "\3host\0", 6), 0);
	MDB_val v = db_key_val(&a);
	cr_assert_eq(v.mv_size, 6);
	cr_assert_eq(v.mv_data, a.b);
}

Test(db, key_overflow_flagged)
{
	struct db_key k;
	db_key_init(&k);
	uint8_t big[DB_KEY_MAX];
	memset(big, 1, sizeof(big));
	db_key_bytes(&k, big, sizeof(big));
	cr_assert_eq(k.overflow, 0);
	db_key_u8(&k, 1);
	cr_assert_eq(k.overflow, 1);
	cr_assert_eq(k.len, DB_KEY_MAX, "overflowing append must not write");
	db_key_u8(&k, 1);
	cr_assert_eq(k.overflow, 1);
}

Test(db, put_get_u32_u64)
{
	uint8_t b[8];
	db_put_u32(b, 0x01020304);
	cr_assert_eq(b[0], 1);
	cr_assert_eq(b[3], 4);
	cr_assert_eq(db_get_u32(b), 0x01020304);
	db_put_u64(b, 0x0102030405060708ull);
	cr_assert_eq(b[0], 1);
	cr_assert_eq(b[7], 8);
	cr_assert_eq(db_get_u64(b), 0x0102030405060708ull);
}

Test(db, strerror_for_both_code_kinds)
{
	cr_assert_not_null(strstr(db_strerror(MDB_MAP_FULL), "MDB_MAP_FULL"), "%s",
			   db_strerror(MDB_MAP_FULL));
	cr_assert_str_eq(db_strerror(-ENOENT), strerror(ENOENT));
	cr_assert_str_eq(db_strerror(ENOENT), strerror(ENOENT));
}

/* A store cut short (copy interrupted, disk full, restored from a partial
 * backup) used to crash every opener with SIGBUS inside mdb_dbi_open; an empty
 * data.mdb was reported as "Bad file descriptor". Now db_open reads the meta
 * pages first and refuses with a message naming the file and its sizes. */
static void make_store_of(uint64_t records)
{
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 64 << 20, 0, &eb), 0, "%s", eb.msg);
	struct put_range pr = { &e, 0, records, 0 };
	cr_assert_eq(db_write(&e, put_range_fn, &pr), 0);
	db_close(&e);
}

static void cut_data_file(off_t (*size_of)(off_t))
{
	char f[200];
	struct stat st;
	snprintf(f, sizeof(f), "%s/data.mdb", envpath);
	cr_assert_eq(stat(f, &st), 0);
	cr_assert_eq(truncate(f, size_of(st.st_size)), 0);
}

static off_t half(off_t n)
{
	return n / 2;
}

static off_t zero(off_t n)
{
	(void)n;
	return 0;
}

static void assert_refused(unsigned flags, const char *what)
{
	struct db_env e;
	struct errbuf eb;
	int rc = db_open(&e, envpath, names, 2, 1 << 20, 64 << 20, flags, &eb);
	cr_assert_eq(rc, DB_ERR_DAMAGED, "db_open of a %s store: rc %d (%s)", what, rc, eb.msg);
	cr_assert_not_null(strstr(eb.msg, "data.mdb"), "message names the file: %s", eb.msg);
	cr_assert_not_null(strstr(eb.msg, what), "message says %s: %s", what, eb.msg);
	cr_assert_null(e.env);
}

Test(db, truncated_file_refused_with_sizes)
{
	make_store_of(2000);
	cut_data_file(half);
	assert_refused(MDB_RDONLY, "cut short");
	assert_refused(0, "cut short");
	struct db_env e;
	struct errbuf eb;
	db_open(&e, envpath, names, 2, 1 << 20, 64 << 20, MDB_RDONLY, &eb);
	cr_assert_not_null(strstr(eb.msg, "bytes"), "%s", eb.msg);
}

Test(db, empty_file_refused)
{
	make_store_of(10);
	cut_data_file(zero);
	assert_refused(MDB_RDONLY, "empty");
	assert_refused(0, "empty");
}

Test(db, not_an_lmdb_file_refused)
{
	make_store_of(10);
	char f[200];
	snprintf(f, sizeof(f), "%s/data.mdb", envpath);
	FILE *fp = fopen(f, "r+");
	cr_assert_not_null(fp);
	fwrite("garbage!garbage!garbage!", 1, 24, fp);
	fclose(fp);
	assert_refused(MDB_RDONLY, "not an LMDB file");
}

Test(db, intact_store_still_opens_after_the_check)
{
	make_store_of(2000);
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 64 << 20, MDB_RDONLY, &eb), 0, "%s",
		     eb.msg);
	db_close(&e);
}

/* A store that fits in memory keeps the kernel's readahead; one larger than
 * memory is opened with MDB_NORDAHEAD (random reads would otherwise fill the
 * page cache with neighbours of every page read). */
Test(db, readahead_only_while_the_store_fits_in_memory)
{
	const uint64_t gib = 1ull << 30;
	cr_assert(db_readahead_wanted(0, 24 * gib));
	cr_assert(db_readahead_wanted(20 * gib, 24 * gib));
	cr_assert(db_readahead_wanted(24 * gib, 24 * gib));
	cr_assert_not(db_readahead_wanted(24 * gib + 4096, 24 * gib));
	cr_assert_not(db_readahead_wanted(52 * gib, 24 * gib));
	make_store_of(10);
	struct db_env e;
	struct errbuf eb;
	cr_assert_eq(db_open(&e, envpath, names, 2, 1 << 20, 64 << 20, MDB_RDONLY, &eb), 0, "%s",
		     eb.msg);
	cr_assert_eq(e.flags & MDB_NORDAHEAD, 0, "a small store keeps readahead");
	db_close(&e);
}
