#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

const char *db_strerror(int rc)
{
	/* LMDB's own codes are negative (MDB_KEYEXIST .. MDB_LAST_ERRCODE), its
	 * system errors positive errno; our modules return negative errno. */
	if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE)
		return mdb_strerror(rc);
	return strerror(rc < 0 ? -rc : rc);
}

/* The gate: readers in, resizes exclusive. */
static void gate_enter_reader(struct db_env *e)
{
	pthread_mutex_lock(&e->gate);
	while (e->resizing)
		pthread_cond_wait(&e->gate_cond, &e->gate);
	e->readers++;
	pthread_mutex_unlock(&e->gate);
}

static void gate_leave_reader(struct db_env *e)
{
	pthread_mutex_lock(&e->gate);
	if (e->readers)
		e->readers--;
	if (!e->readers)
		pthread_cond_broadcast(&e->gate_cond);
	pthread_mutex_unlock(&e->gate);
}

/* Sets the map size to size (0 = adopt the size in the file) once no read
 * transaction of this process is open. The caller holds no transaction. */
static int gate_resize(struct db_env *e, size_t size)
{
	pthread_mutex_lock(&e->gate);
	while (e->resizing)
		pthread_cond_wait(&e->gate_cond, &e->gate);
	e->resizing = 1;
	while (e->readers)
		pthread_cond_wait(&e->gate_cond, &e->gate);
	int rc = mdb_env_set_mapsize(e->env, size);
	if (!rc) {
		MDB_envinfo info;
		if (!mdb_env_info(e->env, &info))
			e->map_size = info.me_mapsize;
	}
	e->resizing = 0;
	pthread_cond_broadcast(&e->gate_cond);
	pthread_mutex_unlock(&e->gate);
	return rc;
}

static int open_dbis(struct db_env *e, const char *const names[], size_t ndbs, unsigned flags,
		     struct errbuf *eb)
{
	int rdonly = (flags & MDB_RDONLY) != 0;
	MDB_txn *txn;
	int rc;
	for (;;) {
		rc = mdb_txn_begin(e->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
		if (rc != MDB_MAP_RESIZED)
			break;
		mdb_env_set_mapsize(e->env, 0);
	}
	if (rc)
		return errbuf_set(eb, rc, "%s: cannot begin a transaction: %s", e->path,
				  mdb_strerror(rc));
	for (size_t i = 0; i < ndbs; i++) {
		rc = mdb_dbi_open(txn, names[i], rdonly ? 0 : MDB_CREATE, &e->dbi[i]);
		if (rc == MDB_NOTFOUND) {
			mdb_txn_abort(txn);
			return errbuf_set(eb, -ENOENT,
					  "%s: database '%s' does not exist yet (has the writer "
					  "run once?)",
					  e->path, names[i]);
		}
		if (rc) {
			mdb_txn_abort(txn);
			return errbuf_set(eb, rc, "%s: cannot open database '%s': %s", e->path,
					  names[i], mdb_strerror(rc));
		}
	}
	rc = mdb_txn_commit(txn);
	if (rc == MDB_MAP_FULL)
		return errbuf_set(eb, rc, "%s: map full while creating databases; raise map_size",
				  e->path);
	if (rc)
		return errbuf_set(eb, rc, "%s: cannot commit: %s", e->path, mdb_strerror(rc));
	return 0;
}

/* LMDB's on-disk meta page (mdb.c, MDB_meta, 64-bit build): a 16-byte page
 * header, then magic u32 @0, version u32 @4, address @8, mapsize @16, two
 * MDB_db records of 48 bytes @24 (the first one's md_pad is the page size),
 * mm_last_pg @120 (last page in use), mm_txnid @128. Pages 0 and 1 hold a
 * meta each; the one with the larger txnid is current. Read here with pread
 * so that a damaged file is refused before LMDB maps it. */
#define META_PAGE_HDR 16
#define META_MAGIC 0xBEEFC0DEu
#define META_OFF_PSIZE 24
#define META_OFF_LAST_PG 120
#define META_OFF_TXNID 128
#define META_LEN 136

struct meta_info {
	uint32_t psize;
	uint64_t last_pg, txnid;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Reads the meta at offset off: 1 when it is one, 0 when not, -errno. */
static int meta_read(int fd, off_t off, struct meta_info *m)
{
	uint8_t b[META_PAGE_HDR + META_LEN];
	ssize_t n = pread(fd, b, sizeof(b), off);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(b))
		return 0;
	const uint8_t *meta = b + META_PAGE_HDR;
	if (le32(meta) != META_MAGIC)
		return 0;
	m->psize = le32(meta + META_OFF_PSIZE);
	m->last_pg = le64(meta + META_OFF_LAST_PG);
	m->txnid = le64(meta + META_OFF_TXNID);
	return 1;
}

static const char *const damaged_hint =
	"the file was cut short or damaged (interrupted copy, full disk, filesystem error)";

/* Checks the data file of an existing environment: not empty, an LMDB file,
 * at least as long as its current meta page claims, and its last page
 * readable (a filesystem reporting I/O errors fails here, at open, rather
 * than with SIGBUS later). 0 when fine or when there is no file yet. */
static int data_file_check(const char *file, struct errbuf *eb)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* missing (a new store) or unreadable: mdb_env_open says which */
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st)) {
		rc = errbuf_set(eb, -errno, "%s: cannot stat: %s", file, strerror(errno));
		goto out;
	}
	if (st.st_size == 0) {
		rc = errbuf_set(eb, DB_ERR_DAMAGED,
				"%s: the LMDB data file is empty (0 bytes): its contents were lost",
				file);
		goto out;
	}
	struct meta_info m0 = { 0 }, m1 = { 0 };
	int have0 = meta_read(fd, 0, &m0);
	if (have0 < 0) {
		rc = errbuf_set(eb, DB_ERR_DAMAGED, "%s: cannot read the LMDB meta page: %s (%s)",
				file, strerror(-have0), damaged_hint);
		goto out;
	}
	if (!have0 || m0.psize < 512 || m0.psize > (1u << 16) || (m0.psize & (m0.psize - 1))) {
		rc = errbuf_set(eb, DB_ERR_DAMAGED,
				"%s: not an LMDB file (%lld bytes, no valid meta page at its start): "
				"%s",
				file, (long long)st.st_size, damaged_hint);
		goto out;
	}
	int have1 = meta_read(fd, (off_t)m0.psize, &m1);
	const struct meta_info *cur = have1 == 1 && m1.txnid > m0.txnid ? &m1 : &m0;
	uint64_t need = (cur->last_pg + 1) * (uint64_t)m0.psize;
	if (cur->last_pg >= UINT64_MAX / m0.psize || (uint64_t)st.st_size < need) {
		rc = errbuf_set(eb, DB_ERR_DAMAGED,
				"%s: the LMDB data file is cut short: %lld bytes, but its meta page "
				"(transaction %" PRIu64 ") uses %" PRIu64 " pages of %u bytes "
				"(%" PRIu64 " bytes): %s",
				file, (long long)st.st_size, cur->txnid, cur->last_pg + 1, m0.psize,
				need, damaged_hint);
		goto out;
	}
	uint8_t probe[512];
	ssize_t n = pread(fd, probe, sizeof(probe), (off_t)(cur->last_pg * m0.psize));
	if (n != (ssize_t)sizeof(probe)) {
		rc = errbuf_set(eb, DB_ERR_DAMAGED,
				"%s: cannot read the last page in use (%" PRIu64 "): %s: the "
				"filesystem reports errors (check the disk: dmesg)",
				file, cur->last_pg, n < 0 ? strerror(errno) : "short read");
		goto out;
	}
out:
	close(fd);
	return rc;
}

bool db_readahead_wanted(uint64_t file_bytes, uint64_t memory_bytes)
{
	return file_bytes <= memory_bytes;
}

int db_open(struct db_env *e, const char *path, const char *const names[], size_t ndbs,
	    size_t map_size, size_t map_max, unsigned flags, struct errbuf *eb)
{
	memset(e, 0, sizeof(*e));
	if (ndbs > DB_MAX_DBS)
		return errbuf_set(eb, -EINVAL, "%s: %zu databases requested, at most %d", path,
				  ndbs, DB_MAX_DBS);
	if (str_copy(e->path, path, sizeof(e->path)) >= sizeof(e->path))
		return errbuf_set(eb, -ENAMETOOLONG, "%s: path too long", path);
	if (map_max < map_size)
		map_max = map_size;
	flags |= MDB_NOTLS;
	e->flags = flags;
	e->names = names;
	e->ndbs = ndbs;
	e->map_max = map_max;

	int rc;
	if (!(flags & MDB_NOSUBDIR) && !(flags & MDB_RDONLY)) {
		rc = dir_make(path, 0700, eb);
		if (rc)
			return rc;
	}
	char file[sizeof(e->path) + 16];
	snprintf(file, sizeof(file), "%s%s", path, (flags & MDB_NOSUBDIR) ? "" : "/data.mdb");
	rc = data_file_check(file, eb);
	if (rc)
		return rc;
	pthread_mutex_init(&e->write_lock, NULL);
	pthread_mutex_init(&e->gate, NULL);
	pthread_cond_init(&e->gate_cond, NULL);

	rc = mdb_env_create(&e->env);
	if (rc) {
		errbuf_set(eb, rc, "%s: cannot create LMDB environment: %s", path, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(e->env, (MDB_dbi)(ndbs ? ndbs : 1))) ||
	    (rc = mdb_env_set_mapsize(e->env, map_size))) {
		errbuf_set(eb, rc, "%s: cannot configure LMDB: %s", path, mdb_strerror(rc));
		goto fail;
	}
	/* Readers of other processes keep a slot each; be generous. */
	mdb_env_set_maxreaders(e->env, 1022);
	struct stat st;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	if (!stat(file, &st) && pages > 0 && psize > 0 &&
	    !db_readahead_wanted((uint64_t)st.st_size, (uint64_t)pages * (uint64_t)psize))
		flags |= MDB_NORDAHEAD;
	e->flags = flags;
	rc = mdb_env_open(e->env, path, flags, 0600);
	if (rc) {
		const char *hint = "";
		if (rc == ENOENT)
			hint = " (no store there yet: check --state-dir)";
		else if (rc == EACCES)
			hint = " (permission denied: run as the service user or with sudo)";
		errbuf_set(eb, rc, "%s: cannot open LMDB environment: %s%s", path,
			   mdb_strerror(rc), hint);
		goto fail;
	}
	MDB_envinfo info;
	rc = mdb_env_info(e->env, &info);
	if (rc) {
		errbuf_set(eb, rc, "%s: cannot read LMDB environment info: %s", path,
			   mdb_strerror(rc));
		goto fail;
	}
	e->map_size = info.me_mapsize;
	if (e->map_max < e->map_size)
		e->map_max = e->map_size;

	rc = open_dbis(e, names, ndbs, flags, eb);
	if (rc)
		goto fail;
	return 0;
fail:
	if (e->env)
		mdb_env_close(e->env);
	e->env = NULL;
	pthread_cond_destroy(&e->gate_cond);
	pthread_mutex_destroy(&e->gate);
	pthread_mutex_destroy(&e->write_lock);
	/* LMDB reports system errors as positive errno: callers get -errno. */
	return rc > 0 ? -rc : rc;
}

void db_close(struct db_env *e)
{
	if (!e->env)
		return;
	if (e->readers)
		log_warn("%s: closing with %u read transaction(s) still open", e->path,
			 e->readers);
	mdb_env_close(e->env);
	e->env = NULL;
	pthread_cond_destroy(&e->gate_cond);
	pthread_mutex_destroy(&e->gate);
	pthread_mutex_destroy(&e->write_lock);
}

int db_dbi(const struct db_env *e, const char *name, MDB_dbi *out)
{
	for (size_t i = 0; i < e->ndbs; i++) {
		if (!strcmp(e->names[i], name)) {
			*out = e->dbi[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* Multiplies the map by factor (at most map_max). MDB_MAP_FULL when already
 * at the cap. Without MDB_WRITEMAP the data file grows only as pages are
 * used, so a generous map costs address space, not disk. */
static int db_grow(struct db_env *e, size_t factor)
{
	size_t cur = e->map_size;
	if (cur >= e->map_max)
		return MDB_MAP_FULL;
	size_t next = cur > e->map_max / factor ? e->map_max : cur * factor;
	int rc = gate_resize(e, next);
	if (rc) {
		log_error("%s: cannot grow the LMDB map to %zu bytes: %s", e->path, next,
			  mdb_strerror(rc));
		return rc;
	}
	e->grow_count++;
	log_info("%s: LMDB map grown from %zu to %zu bytes", e->path, cur, e->map_size);
	return 0;
}

static int db_write_locked(struct db_env *e, db_txn_fn fn, void *arg)
{
	/* Each replay of one large transaction doubles the growth factor, so a
	 * transaction far larger than the map is replayed O(sqrt(log n)) times
	 * rather than once per doubling. */
	size_t factor = 2;
	for (;;) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(e->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			/* Another process grew the map: adopt its size. */
			rc = gate_resize(e, 0);
			if (rc)
				return rc;
			continue;
		}
		if (rc)
			return rc;
		rc = fn(txn, arg);
		if (rc) {
			mdb_txn_abort(txn);
			if (rc != MDB_MAP_FULL)
				return rc;
		} else {
			rc = mdb_txn_commit(txn); /* frees txn, also on failure */
			if (rc != MDB_MAP_FULL)
				return rc;
		}
		rc = db_grow(e, factor);
		if (rc)
			return rc;
		if (factor < 1024)
			factor *= 2;
	}
}

int db_write(struct db_env *e, db_txn_fn fn, void *arg)
{
	pthread_mutex_lock(&e->write_lock);
	int rc = db_write_locked(e, fn, arg);
	pthread_mutex_unlock(&e->write_lock);
	return rc;
}

int db_read_begin(struct db_env *e, MDB_txn **txn)
{
	for (;;) {
		gate_enter_reader(e);
		int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, txn);
		if (!rc)
			return 0;
		gate_leave_reader(e);
		if (rc != MDB_MAP_RESIZED)
			return rc;
		rc = gate_resize(e, 0);
		if (rc)
			return rc;
	}
}

void db_read_end(struct db_env *e, MDB_txn *txn)
{
	if (!txn)
		return;
	mdb_txn_abort(txn);
	gate_leave_reader(e);
}

void db_key_init(struct db_key *k)
{
	k->len = 0;
	k->overflow = 0;
}

void db_key_bytes(struct db_key *k, const void *p, size_t n)
{
	if (k->overflow || n > sizeof(k->b) - k->len) {
		k->overflow = 1;
		return;
	}
	if (n)
		memcpy(k->b + k->len, p, n);
	k->len += n;
}

void db_key_u8(struct db_key *k, uint8_t v)
{
	db_key_bytes(k, &v, 1);
}

void db_key_u32(struct db_key *k, uint32_t v)
{
	uint8_t b[4];
	db_put_u32(b, v);
	db_key_bytes(k, b, sizeof(b));
}

void db_key_u64(struct db_key *k, uint64_t v)
{
	uint8_t b[8];
	db_put_u64(b, v);
	db_key_bytes(k, b, sizeof(b));
}

void db_key_str(struct db_key *k, const char *s)
{
	db_key_bytes(k, s, strlen(s));
}

MDB_val db_key_val(const struct db_key *k)
{
	MDB_val v = { .mv_size = k->len, .mv_data = (void *)k->b };
	return v;
}

uint32_t db_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t db_get_u64(const uint8_t *p)
{
	return (uint64_t)db_get_u32(p) << 32 | db_get_u32(p + 4);
}

void db_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void db_put_u64(uint8_t *p, uint64_t v)
{
	db_put_u32(p, (uint32_t)(v >> 32));
	db_put_u32(p + 4, (uint32_t)v);
}
