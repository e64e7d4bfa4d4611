/* The agent's durable spool (see spool.h for the contract, docs/agent.md for
 * the layout). */
#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum { DBI_BATCHES, DBI_META, DBI_GAPS, SPOOL_NDBS };

static const char *const spool_db_names[SPOOL_NDBS] = { "batches", "meta", "gaps" };

#define GAP_VAL_LEN (8 + 4 + 8 + 8 + 8)

struct spool {
	struct db_env db;
	uint64_t spool_max; /* atomic: set on the loop thread, read by the writer */
	bool readonly;
};

static uint64_t max_get(const struct spool *sp)
{
	return __atomic_load_n(&sp->spool_max, __ATOMIC_RELAXED);
}

/* The most the map may grow to for a given bound: values, LMDB's page
 * overhead and the pages a transaction frees but cannot reuse before it
 * commits. */
static size_t map_max_for(uint64_t spool_max)
{
	return (size_t)(4 * spool_max + (64u << 20));
}

/* ---------------------------------------------------------------- encoding */

static MDB_val seq_key(uint8_t buf[static 8], uint64_t seq)
{
	db_put_u64(buf, seq);
	return (MDB_val){ .mv_size = 8, .mv_data = buf };
}

static int meta_get(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t *v)
{
	MDB_val k = { .mv_size = strlen(name), .mv_data = (void *)name }, d;
	int rc = mdb_get(txn, dbi, &k, &d);
	if (rc == MDB_NOTFOUND) {
		*v = 0;
		return 0;
	}
	if (rc)
		return rc;
	if (d.mv_size != 8)
		return MDB_CORRUPTED;
	*v = db_get_u64(d.mv_data);
	return 0;
}

static int meta_put(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t v)
{
	uint8_t buf[8];
	MDB_val k = { .mv_size = strlen(name), .mv_data = (void *)name };
	MDB_val d = { .mv_size = 8, .mv_data = buf };
	db_put_u64(buf, v);
	return mdb_put(txn, dbi, &k, &d, 0);
}

/* All meta counters, read and written together by every write transaction. */
struct meta {
	uint64_t next_seq, acked_seq, batches, bytes, dropped_batches, dropped_bytes;
};

#define META_FIELDS(X)                 \
	X(next_seq)                    \
	X(acked_seq)                   \
	X(batches)                     \
	X(bytes)                       \
	X(dropped_batches)             \
	X(dropped_bytes)

static int meta_load(MDB_txn *txn, MDB_dbi dbi, struct meta *m)
{
	int rc;
#define LOAD(f)                                   \
	if ((rc = meta_get(txn, dbi, #f, &m->f))) \
		return rc;
	META_FIELDS(LOAD)
#undef LOAD
	if (m->next_seq == 0)
		m->next_seq = 1;
	return 0;
}

static int meta_store(MDB_txn *txn, MDB_dbi dbi, const struct meta *m)
{
	int rc;
#define STORE(f)                                 \
	if ((rc = meta_put(txn, dbi, #f, m->f))) \
		return rc;
	META_FIELDS(STORE)
#undef STORE
	return 0;
}

static void gap_encode(uint8_t out[static GAP_VAL_LEN], const struct spool_gap *g)
{
	db_put_u64(out, g->last_seq);
	db_put_u32(out + 8, g->reason);
	db_put_u64(out + 12, g->carrier);
	db_put_u64(out + 20, (uint64_t)g->window_start_ms);
	db_put_u64(out + 28, (uint64_t)g->window_end_ms);
}

static int gap_decode(const MDB_val *k, const MDB_val *d, struct spool_gap *g)
{
	if (k->mv_size != 8 || d->mv_size != GAP_VAL_LEN)
		return MDB_CORRUPTED;
	const uint8_t *p = d->mv_data;
	g->first_seq = db_get_u64(k->mv_data);
	g->last_seq = db_get_u64(p);
	g->reason = db_get_u32(p + 8);
	g->carrier = db_get_u64(p + 12);
	g->window_start_ms = (int64_t)db_get_u64(p + 20);
	g->window_end_ms = (int64_t)db_get_u64(p + 28);
	return 0;
}

static int gap_put(MDB_txn *txn, MDB_dbi dbi, const struct spool_gap *g)
{
	uint8_t kb[8], vb[GAP_VAL_LEN];
	MDB_val k = seq_key(kb, g->first_seq);
	MDB_val d = { .mv_size = GAP_VAL_LEN, .mv_data = vb };
	gap_encode(vb, g);
	return mdb_put(txn, dbi, &k, &d, 0);
}

static int entry_decode(const MDB_val *k, const MDB_val *d, struct spool_entry *e)
{
	if (k->mv_size != 8 || d->mv_size < SPOOL_HDR_LEN)
		return MDB_CORRUPTED;
	const uint8_t *p = d->mv_data;
	memset(e, 0, sizeof(*e));
	e->seq = db_get_u64(k->mv_data);
	e->sig = p;
	e->window_start_ms = (int64_t)db_get_u64(p + SIGN_LEN);
	e->window_end_ms = (int64_t)db_get_u64(p + SIGN_LEN + 8);
	e->payload = p + SPOOL_HDR_LEN;
	e->payload_len = d->mv_size - SPOOL_HDR_LEN;
	return 0;
}

/* ---------------------------------------------------------------- open/close */

int spool_open(struct spool **out, const char *state_dir, uint64_t spool_max, bool readonly,
	       struct errbuf *eb)
{
	char path[4096];
	int rc;

	*out = NULL;
	if (spool_max < SPOOL_MAX_MIN)
		spool_max = SPOOL_MAX_MIN;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir, SPOOL_DIR_NAME) >= sizeof(path))
		return errbuf_set(eb, -ENAMETOOLONG, "spool: state dir path too long: %s", state_dir);
	if (!readonly) {
		rc = dir_make(path, 0700, eb);
		if (rc)
			return rc;
	} else {
		char data[4200];
		snprintf(data, sizeof(data), "%s/data.mdb", path);
		if (access(data, F_OK))
			return errbuf_set(eb, -errno, "spool %s: %s (has `cairn-agent run` started "
					  "with this state dir?)", path, strerror(errno));
	}
	struct spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return errbuf_set(eb, -ENOMEM, "spool: out of memory");
	sp->spool_max = spool_max;
	sp->readonly = readonly;
	/* Room for spool_max of values plus LMDB's page overhead and the pages a
	 * transaction frees but cannot reuse before it commits; db_write grows the
	 * map up to map_max should that not suffice. */
	size_t map_size = (size_t)(spool_max + spool_max / 2 + (32u << 20));
	size_t map_max = map_max_for(spool_max);
	rc = db_open(&sp->db, path, spool_db_names, SPOOL_NDBS, map_size, map_max,
		     readonly ? MDB_RDONLY : 0, eb);
	if (rc) {
		free(sp);
		return rc;
	}
	if (!readonly) {
		int dead = 0;
		mdb_reader_check(sp->db.env, &dead);
		if (dead)
			log_info("spool %s: cleared %d reader slot%s of exited processes", path, dead,
				 dead == 1 ? "" : "s");
	}
	*out = sp;
	return 0;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	db_close(&sp->db);
	free(sp);
}

void spool_set_max(struct spool *sp, uint64_t spool_max)
{
	__atomic_store_n(&sp->spool_max, spool_max < SPOOL_MAX_MIN ? SPOOL_MAX_MIN : spool_max,
			 __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- readers */

int spool_stats(struct spool *sp, struct spool_stats *st)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	struct meta m;
	MDB_val k, d;
	int rc = db_read_begin(&sp->db, &txn);
	if (rc)
		return rc;
	memset(st, 0, sizeof(*st));
	if ((rc = meta_load(txn, sp->db.dbi[DBI_META], &m)))
		goto leave;
	st->next_seq = m.next_seq;
	st->acked_seq = m.acked_seq;
	st->batches = m.batches;
	st->bytes = m.bytes;
	st->dropped_batches = m.dropped_batches;
	st->dropped_bytes = m.dropped_bytes;
	st->spool_max = max_get(sp);
	if ((rc = mdb_cursor_open(txn, sp->db.dbi[DBI_BATCHES], &cur)))
		goto leave;
	if ((rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)) == 0 && k.mv_size == 8)
		st->oldest_seq = db_get_u64(k.mv_data);
	if ((rc = mdb_cursor_get(cur, &k, &d, MDB_LAST)) == 0 && k.mv_size == 8)
		st->newest_seq = db_get_u64(k.mv_data);
	mdb_cursor_close(cur);
	if ((rc = mdb_cursor_open(txn, sp->db.dbi[DBI_GAPS], &cur)))
		goto leave;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct spool_gap g;
		if (gap_decode(&k, &d, &g) == 0 && g.carrier == 0)
			st->pending_gaps++;
	}
	mdb_cursor_close(cur);
	rc = rc == MDB_NOTFOUND ? 0 : rc;
leave:
	db_read_end(&sp->db, txn);
	return rc;
}

int spool_next_seq(struct spool *sp, uint64_t *seq)
{
	MDB_txn *txn;
	struct meta m;
	int rc = db_read_begin(&sp->db, &txn);
	if (rc)
		return rc;
	rc = meta_load(txn, sp->db.dbi[DBI_META], &m);
	db_read_end(&sp->db, txn);
	if (!rc)
		*seq = m.next_seq;
	return rc;
}

static int list_gaps(struct spool *sp, bool pending_only, struct spool_gap *out, size_t max,
		     size_t *n)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = db_read_begin(&sp->db, &txn);
	*n = 0;
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, sp->db.dbi[DBI_GAPS], &cur)) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && *n < max;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			struct spool_gap g;
			if (gap_decode(&k, &d, &g))
				continue;
			if (!pending_only || g.carrier == 0)
				out[(*n)++] = g;
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND || *n == max)
			rc = 0;
	}
	db_read_end(&sp->db, txn);
	return rc;
}

int spool_pending_gaps(struct spool *sp, struct spool_gap *out, size_t max, size_t *n)
{
	return list_gaps(sp, true, out, max, n);
}

int spool_gaps(struct spool *sp, struct spool_gap *out, size_t max, size_t *n)
{
	return list_gaps(sp, false, out, max, n);
}

int spool_get(struct spool *sp, uint64_t min_seq, struct spool_entry *out)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = seq_key(kb, min_seq), d;
	int rc = db_read_begin(&sp->db, &txn);
	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, sp->db.dbi[DBI_BATCHES], &cur)))
		goto leave;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		rc = -ENOENT;
		goto leave;
	}
	if (rc)
		goto leave;
	struct spool_entry e;
	if ((rc = entry_decode(&k, &d, &e)))
		goto leave;
	uint8_t *copy = malloc(d.mv_size);
	if (!copy) {
		rc = -ENOMEM;
		goto leave;
	}
	memcpy(copy, d.mv_data, d.mv_size);
	MDB_val dc = { .mv_size = d.mv_size, .mv_data = copy };
	entry_decode(&k, &dc, out);
	out->owned = copy;
leave:
	db_read_end(&sp->db, txn);
	return rc;
}

void spool_entry_free(struct spool_entry *e)
{
	free(e->owned);
	memset(e, 0, sizeof(*e));
}

int spool_iterate(struct spool *sp, uint64_t from_seq, spool_iter_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t kb[8];
	MDB_val k = seq_key(kb, from_seq), d;
	int rc = db_read_begin(&sp->db, &txn);
	if (rc)
		return rc;
	if ((rc = mdb_cursor_open(txn, sp->db.dbi[DBI_BATCHES], &cur)) == 0) {
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			struct spool_entry e;
			if ((rc = entry_decode(&k, &d, &e)))
				break;
			if ((rc = fn(&e, arg)))
				break;
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	db_read_end(&sp->db, txn);
	return rc;
}

/* ---------------------------------------------------------------- writers */

/* Gaps whose carrier is `carrier` become pending again (their batch is gone
 * without having been acknowledged). */
static int gaps_uncarry(MDB_txn *txn, MDB_dbi dbi, uint64_t carrier)
{
	MDB_cursor *cur;
	MDB_val k, d;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct spool_gap g;
		if (gap_decode(&k, &d, &g) || g.carrier != carrier)
			continue;
		g.carrier = 0;
		uint8_t vb[GAP_VAL_LEN];
		MDB_val nd = { .mv_size = GAP_VAL_LEN, .mv_data = vb };
		gap_encode(vb, &g);
		if ((rc = mdb_cursor_put(cur, &k, &nd, MDB_CURRENT)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Records that batch seq (covering the given window) was dropped: extends the
 * pending gap that ends at seq - 1, or starts a new one. When SPOOL_MAX_GAPS
 * entries exist already, the newest pending gap is stretched to cover seq: it
 * then also names seqs in between that were delivered, which the collector
 * treats as already stored. */
static int gaps_add_drop(MDB_txn *txn, MDB_dbi dbi, uint64_t seq, int64_t ws, int64_t we,
			 uint32_t reason)
{
	MDB_cursor *cur;
	MDB_val k, d;
	struct spool_gap last_pending = { 0 }, g;
	bool have_pending = false;
	size_t count = 0;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		count++;
		if (gap_decode(&k, &d, &g) == 0 && g.carrier == 0 && g.reason == reason) {
			last_pending = g;
			have_pending = true;
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND)
		return rc;
	if (have_pending && (last_pending.last_seq + 1 == seq || count >= SPOOL_MAX_GAPS)) {
		if (seq > last_pending.last_seq)
			last_pending.last_seq = seq;
		if (ws && (!last_pending.window_start_ms || ws < last_pending.window_start_ms))
			last_pending.window_start_ms = ws;
		if (we > last_pending.window_end_ms)
			last_pending.window_end_ms = we;
		return gap_put(txn, dbi, &last_pending);
	}
	g = (struct spool_gap){ .first_seq = seq, .last_seq = seq,
				.reason = reason,
				.window_start_ms = ws, .window_end_ms = we };
	return gap_put(txn, dbi, &g);
}

/* Deletes every batch <= upto and the gaps they carried (those reached the
 * collector); raises acked_seq. Counters in m, stored by the caller. */
static int ack_upto(MDB_txn *txn, struct spool *sp, struct meta *m, uint64_t upto)
{
	MDB_dbi bdb = sp->db.dbi[DBI_BATCHES], gdb = sp->db.dbi[DBI_GAPS];
	MDB_cursor *cur;
	MDB_val k, d;
	int rc;

	if ((rc = mdb_cursor_open(txn, bdb, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)) {
		if (k.mv_size != 8 || db_get_u64(k.mv_data) > upto)
			break;
		size_t len = d.mv_size;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		m->batches = m->batches ? m->batches - 1 : 0;
		m->bytes = m->bytes >= len ? m->bytes - len : 0;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) {
		m->batches = 0;
		m->bytes = 0;
		rc = 0;
	}
	if (rc)
		return rc;

	/* Gaps carried by acknowledged batches have reached the collector. */
	uint64_t done[SPOOL_MAX_GAPS + 1];
	size_t ndone = 0;
	if ((rc = mdb_cursor_open(txn, gdb, &cur)))
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && ndone < ARRAY_SIZE(done);
	     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		struct spool_gap g;
		if (gap_decode(&k, &d, &g) == 0 && g.carrier != 0 && g.carrier <= upto)
			done[ndone++] = g.first_seq;
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	for (size_t i = 0; i < ndone; i++) {
		uint8_t gk[8];
		MDB_val gkey = seq_key(gk, done[i]);
		if ((rc = mdb_del(txn, gdb, &gkey, NULL)) && rc != MDB_NOTFOUND)
			return rc;
	}

	if (upto > m->acked_seq)
		m->acked_seq = upto;
	return 0;
}

struct append_ctx {
	struct spool *sp;
	const struct spool_batch *b;
	uint64_t spool_max;
	uint64_t dropped;
	uint64_t found_seq; /* for -ESTALE messages */
};

static int append_txn(MDB_txn *txn, void *arg)
{
	struct append_ctx *c = arg;
	struct spool *sp = c->sp;
	const struct spool_batch *b = c->b;
	MDB_dbi bdb = sp->db.dbi[DBI_BATCHES], mdb = sp->db.dbi[DBI_META],
		gdb = sp->db.dbi[DBI_GAPS];
	size_t vlen = SPOOL_HDR_LEN + b->payload_len;
	struct meta m;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc;

	c->dropped = 0;
	/* A bound raised by a reload needs room in the map too; db_write reads
	 * map_max under the lock this transaction holds. */
	if (map_max_for(c->spool_max) > sp->db.map_max)
		sp->db.map_max = map_max_for(c->spool_max);
	if ((rc = meta_load(txn, mdb, &m)))
		return rc;
	c->found_seq = m.next_seq;
	if (b->seq != m.next_seq + b->lost)
		return -ESTALE;
	if (b->acked && (rc = ack_upto(txn, sp, &m, b->acked < b->seq ? b->acked : b->seq - 1)))
		return rc;

	/* The gaps it carries, first: drops below must start new gaps rather
	 * than extend one this batch already reports. */
	for (size_t i = 0; i < b->ngaps; i++) {
		uint8_t gk[8];
		MDB_val gkey = seq_key(gk, b->gaps[i].first_seq), gd;
		struct spool_gap g;
		rc = mdb_get(txn, gdb, &gkey, &gd);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		if (gap_decode(&gkey, &gd, &g))
			continue;
		/* Carried only if unchanged since the caller read it. */
		if (g.carrier != 0 || g.last_seq != b->gaps[i].last_seq)
			continue;
		g.carrier = b->seq;
		if ((rc = gap_put(txn, gdb, &g)))
			return rc;
	}

	/* Windows that never reached the spool: a gap this batch carries (it
	 * becomes pending again should this batch be dropped unsent). */
	if (b->lost) {
		struct spool_gap g = { .first_seq = m.next_seq, .last_seq = b->seq - 1,
				       .reason = SPOOL_GAP_UNWRITTEN, .carrier = b->seq,
				       .window_start_ms = b->lost_start_ms,
				       .window_end_ms = b->lost_end_ms };
		if ((rc = gap_put(txn, gdb, &g)))
			return rc;
		m.dropped_batches += b->lost;
	}

	/* Make room: oldest first. */
	if ((rc = mdb_cursor_open(txn, bdb, &cur)))
		return rc;
	while (m.batches > 0 && m.bytes + vlen > c->spool_max) {
		struct spool_entry e;
		if ((rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST)))
			break;
		if ((rc = entry_decode(&k, &d, &e)))
			break;
		size_t len = d.mv_size;
		if ((rc = gaps_add_drop(txn, gdb, e.seq, e.window_start_ms, e.window_end_ms,
					 CAIRN__GAP_REASON__SPOOL_FULL)))
			break;
		if ((rc = gaps_uncarry(txn, gdb, e.seq)))
			break;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		m.batches--;
		m.bytes = m.bytes >= len ? m.bytes - len : 0;
		m.dropped_batches++;
		m.dropped_bytes += len;
		c->dropped++;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND) { /* counters said batches > 0: trust the data */
		m.batches = 0;
		m.bytes = 0;
		rc = 0;
	}
	if (rc)
		return rc;

	/* The batch itself. */
	uint8_t kb[8];
	k = seq_key(kb, b->seq);
	d = (MDB_val){ .mv_size = vlen, .mv_data = NULL };
	if ((rc = mdb_put(txn, bdb, &k, &d, MDB_RESERVE | MDB_NOOVERWRITE)))
		return rc;
	uint8_t *p = d.mv_data;
	memcpy(p, b->sig, SIGN_LEN);
	db_put_u64(p + SIGN_LEN, (uint64_t)b->window_start_ms);
	db_put_u64(p + SIGN_LEN + 8, (uint64_t)b->window_end_ms);
	if (b->payload_len)
		memcpy(p + SPOOL_HDR_LEN, b->payload, b->payload_len);

	m.next_seq = b->seq + 1;
	m.batches++;
	m.bytes += vlen;
	return meta_store(txn, mdb, &m);
}

int spool_append(struct spool *sp, const struct spool_batch *b, uint64_t *dropped,
		 struct errbuf *eb)
{
	if (dropped)
		*dropped = 0;
	if (sp->readonly)
		return errbuf_set(eb, -EROFS, "spool: opened read-only");
	uint64_t spool_max = max_get(sp);
	if (SPOOL_HDR_LEN + b->payload_len > spool_max)
		return errbuf_set(eb, -EFBIG,
				  "spool: batch %llu is %zu bytes, more than spool_max (%llu bytes); "
				  "raise spool_max",
				  (unsigned long long)b->seq, b->payload_len,
				  (unsigned long long)spool_max);
	/* A reader that died (a killed `status`) would pin old pages and make
	 * the file grow: clear such slots first. Cheap: a scan of the table. */
	int dead = 0;
	mdb_reader_check(sp->db.env, &dead);
	struct append_ctx c = { .sp = sp, .b = b, .spool_max = spool_max };
	int rc = db_write(&sp->db, append_txn, &c);
	if (rc == -ESTALE)
		return errbuf_set(eb, rc, "spool: batch seq %llu is not the next seq %llu",
				  (unsigned long long)b->seq, (unsigned long long)c.found_seq);
	if (rc)
		return errbuf_set(eb, rc, "spool %s: cannot store batch %llu: %s", sp->db.path,
				  (unsigned long long)b->seq, db_strerror(rc));
	if (dropped)
		*dropped = c.dropped;
	if (c.dropped)
		log_warn("spool %s: full (spool_max %llu bytes): dropped the %llu oldest batch%s",
			 sp->db.path, (unsigned long long)spool_max,
			 (unsigned long long)c.dropped, c.dropped == 1 ? "" : "es");
	return 0;
}

struct reject_ctx {
	struct spool *sp;
	uint64_t seq;
	uint32_t reason;
};

static int reject_txn(MDB_txn *txn, void *arg)
{
	struct reject_ctx *c = arg;
	struct spool *sp = c->sp;
	MDB_dbi bdb = sp->db.dbi[DBI_BATCHES], mdb = sp->db.dbi[DBI_META],
		gdb = sp->db.dbi[DBI_GAPS];
	uint8_t kb[8];
	MDB_val k = seq_key(kb, c->seq), d;
	struct spool_entry e;
	struct meta m;
	int rc;

	if ((rc = meta_load(txn, mdb, &m)))
		return rc;
	rc = mdb_get(txn, bdb, &k, &d);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc || (rc = entry_decode(&k, &d, &e)))
		return rc;
	size_t len = d.mv_size;
	if ((rc = gaps_add_drop(txn, gdb, c->seq, e.window_start_ms, e.window_end_ms, c->reason)) ||
	    (rc = gaps_uncarry(txn, gdb, c->seq)) || (rc = mdb_del(txn, bdb, &k, NULL)))
		return rc;
	m.batches = m.batches ? m.batches - 1 : 0;
	m.bytes = m.bytes >= len ? m.bytes - len : 0;
	m.dropped_batches++;
	m.dropped_bytes += len;
	return meta_store(txn, mdb, &m);
}

int spool_reject(struct spool *sp, uint64_t seq, uint32_t reason)
{
	if (sp->readonly)
		return -EROFS;
	struct reject_ctx c = { .sp = sp, .seq = seq, .reason = reason };
	return db_write(&sp->db, reject_txn, &c);
}

struct ack_ctx {
	struct spool *sp;
	uint64_t seq;
	uint64_t min_next; /* spool_advance only */
	bool raised;
};

static int ack_txn(MDB_txn *txn, void *arg)
{
	struct ack_ctx *c = arg;
	struct spool *sp = c->sp;
	MDB_dbi mdb = sp->db.dbi[DBI_META];
	struct meta m;
	int rc;

	c->raised = false;
	if ((rc = meta_load(txn, mdb, &m)))
		return rc;
	if (c->min_next > m.next_seq) {
		m.next_seq = c->min_next;
		c->raised = true;
	}
	uint64_t upto = c->seq;
	if (c->min_next && c->min_next - 1 > upto)
		upto = c->min_next - 1;

	if ((rc = ack_upto(txn, sp, &m, upto)))
		return rc;
	return meta_store(txn, mdb, &m);
}

int spool_ack(struct spool *sp, uint64_t seq)
{
	if (sp->readonly)
		return -EROFS;
	struct ack_ctx c = { .sp = sp, .seq = seq };
	return db_write(&sp->db, ack_txn, &c);
}

int spool_advance(struct spool *sp, uint64_t min_next, bool *raised)
{
	if (raised)
		*raised = false;
	if (sp->readonly)
		return -EROFS;
	struct ack_ctx c = { .sp = sp, .seq = 0, .min_next = min_next };
	int rc = db_write(&sp->db, ack_txn, &c);
	if (!rc && raised)
		*raised = c.raised;
	return rc;
}

int spool_move_aside(const char *state_dir, char *moved, size_t moved_len, struct errbuf *eb)
{
	char from[4096], stamp[32];
	if ((size_t)snprintf(from, sizeof(from), "%s/%s", state_dir, SPOOL_DIR_NAME) >= sizeof(from))
		return errbuf_set(eb, -ENAMETOOLONG, "spool: state dir path too long: %s", state_dir);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; i < 100; i++) {
		int n = i ? snprintf(moved, moved_len, "%s/%s.damaged-%s-%d", state_dir,
				     SPOOL_DIR_NAME, stamp, i)
			  : snprintf(moved, moved_len, "%s/%s.damaged-%s", state_dir,
				     SPOOL_DIR_NAME, stamp);
		if (n < 0 || (size_t)n >= moved_len)
			return errbuf_set(eb, -ENAMETOOLONG, "spool: path too long: %s", state_dir);
		if (access(moved, F_OK) == 0)
			continue;
		if (rename(from, moved))
			return errbuf_set(eb, -errno, "spool: cannot move %s aside to %s: %s", from,
					  moved, strerror(errno));
		return 0;
	}
	return errbuf_set(eb, -EEXIST, "spool: too many %s.damaged-%s* in %s: remove old ones",
			  SPOOL_DIR_NAME, stamp, state_dir);
}

struct resume_ctx {
	struct spool *sp;
	const struct spool_gap *lost;
};

static int resume_txn(MDB_txn *txn, void *arg)
{
	struct resume_ctx *c = arg;
	MDB_dbi mdb = c->sp->db.dbi[DBI_META];
	struct meta m;
	int rc;
	if ((rc = meta_load(txn, mdb, &m)))
		return rc;
	if (c->lost->last_seq >= m.next_seq)
		m.next_seq = c->lost->last_seq + 1;
	struct spool_gap g = *c->lost;
	g.carrier = 0;
	if ((rc = gap_put(txn, c->sp->db.dbi[DBI_GAPS], &g)))
		return rc;
	return meta_store(txn, mdb, &m);
}

int spool_resume_after_loss(struct spool *sp, const struct spool_gap *lost)
{
	if (sp->readonly)
		return -EROFS;
	if (lost->last_seq < lost->first_seq || lost->last_seq == UINT64_MAX)
		return -EINVAL;
	struct resume_ctx c = { .sp = sp, .lost = lost };
	return db_write(&sp->db, resume_txn, &c);
}

void spool_gap_to_proto(const struct spool_gap *g, Cairn__Gap *out)
{
	cairn__gap__init(out);
	out->first_seq = g->first_seq;
	out->last_seq = g->last_seq;
	out->reason = (Cairn__GapReason)g->reason;
	switch (g->reason) {
	case CAIRN__GAP_REASON__SPOOL_FULL:
		out->detail = (char *)"agent spool full: oldest batches dropped";
		break;
	case CAIRN__GAP_REASON__COLLECTOR_REJECTED:
		out->detail = (char *)"collector refused the batch twice: dropped";
		break;
	case CAIRN__GAP_REASON__SPOOL_DAMAGED:
		out->detail = (char *)"agent spool damaged (cut short or unreadable): moved "
				      "aside, these batches lost";
		break;
	case SPOOL_GAP_UNWRITTEN:
		out->detail = (char *)"agent could not write these windows to its spool "
				      "(disk full or I/O error): lost";
		break;
	default:
		out->detail = (char *)"";
		break;
	}
	out->window_start_ms = g->window_start_ms;
	out->window_end_ms = g->window_end_ms;
}
