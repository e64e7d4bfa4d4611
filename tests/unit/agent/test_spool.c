/* agent/spool.c: append, iterate, ack, bound + gaps, read-only readers and
 * durability under kill -9. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keys.h"
#include "sign.h"
#include "spool.h"

static char dir[256];
static struct keypair kp;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cairn-test-spool-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(keys_generate(&kp), 0);
}

static void teardown(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(spool, .init = setup, .fini = teardown);

/* Payload of len bytes derived from seq, so a reader can check it. */
static void fill_payload(uint8_t *p, size_t len, uint64_t seq)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 31 + i * 7);
}

static int append_one(struct spool *sp, size_t len, const struct spool_gap *gaps, size_t ngaps,
		      uint64_t *seq_out, uint64_t *dropped)
{
	uint64_t seq;
	int rc = spool_next_seq(sp, &seq);
	if (rc)
		return rc;
	uint8_t *p = malloc(len ? len : 1);
	uint8_t sig[SIGN_LEN];
	fill_payload(p, len, seq);
	sign_batch(sig, kp.sk, kp.pk, seq, p, len);
	struct spool_batch b = { .seq = seq, .sig = sig, .window_start_ms = (int64_t)seq * 1000,
				 .window_end_ms = (int64_t)seq * 1000 + 1000, .payload = p,
				 .payload_len = len, .gaps = gaps, .ngaps = ngaps };
	struct errbuf eb;
	rc = spool_append(sp, &b, dropped, &eb);
	free(p);
	if (seq_out)
		*seq_out = seq;
	return rc;
}

static void check_entry(const struct spool_entry *e, size_t want_len)
{
	cr_assert_eq(e->payload_len, want_len, "seq %llu: len %zu", (unsigned long long)e->seq,
		     e->payload_len);
	cr_assert_eq(sign_batch_verify(e->sig, kp.pk, e->seq, e->payload, e->payload_len), 0,
		     "seq %llu: signature", (unsigned long long)e->seq);
	cr_assert_eq(e->window_start_ms, (int64_t)e->seq * 1000);
	cr_assert_eq(e->window_end_ms, (int64_t)e->seq * 1000 + 1000);
}

struct collect_seqs {
	uint64_t seqs[64];
	size_t n;
	uint64_t stop_after;
};

static int collect_cb(const struct spool_entry *e, void *arg)
{
	struct collect_seqs *c = arg;
	check_entry(e, 100 + e->seq);
	c->seqs[c->n++] = e->seq;
	return c->stop_after && e->seq >= c->stop_after ? 7 : 0;
}

Test(spool, append_get_iterate_ack)
{
	struct spool *sp;
	struct errbuf eb;
	struct spool_stats st;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.next_seq, 1);
	cr_assert_eq(st.batches, 0);
	cr_assert_eq(st.oldest_seq, 0);

	for (uint64_t i = 1; i <= 5; i++) {
		uint64_t seq;
		cr_assert_eq(append_one(sp, 100 + i, NULL, 0, &seq, NULL), 0);
		cr_assert_eq(seq, i);
	}
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.next_seq, 6);
	cr_assert_eq(st.batches, 5);
	cr_assert_eq(st.bytes, 5 * SPOOL_HDR_LEN + 101 + 102 + 103 + 104 + 105);
	cr_assert_eq(st.oldest_seq, 1);
	cr_assert_eq(st.newest_seq, 5);

	struct spool_entry e;
	cr_assert_eq(spool_get(sp, 0, &e), 0);
	cr_assert_eq(e.seq, 1);
	check_entry(&e, 101);
	spool_entry_free(&e);
	cr_assert_eq(spool_get(sp, 4, &e), 0);
	cr_assert_eq(e.seq, 4);
	check_entry(&e, 104);
	spool_entry_free(&e);
	cr_assert_eq(spool_get(sp, 6, &e), -ENOENT);

	struct collect_seqs c = { 0 };
	cr_assert_eq(spool_iterate(sp, 3, collect_cb, &c), 0);
	cr_assert_eq(c.n, 3);
	cr_assert_eq(c.seqs[0], 3);
	cr_assert_eq(c.seqs[2], 5);
	struct collect_seqs c2 = { .stop_after = 2 };
	cr_assert_eq(spool_iterate(sp, 1, collect_cb, &c2), 7);
	cr_assert_eq(c2.n, 2);

	cr_assert_eq(spool_ack(sp, 3), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.batches, 2);
	cr_assert_eq(st.acked_seq, 3);
	cr_assert_eq(st.oldest_seq, 4);
	cr_assert_eq(st.bytes, 2 * SPOOL_HDR_LEN + 104 + 105);
	cr_assert_eq(spool_get(sp, 1, &e), 0);
	cr_assert_eq(e.seq, 4);
	spool_entry_free(&e);

	/* An older ACK changes nothing; acked_seq never goes back. */
	cr_assert_eq(spool_ack(sp, 2), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.acked_seq, 3);
	cr_assert_eq(st.batches, 2);

	/* A wrong seq is refused and changes nothing. */
	uint8_t sig[SIGN_LEN] = { 0 };
	struct spool_batch bad = { .seq = 9, .sig = sig, .payload = sig, .payload_len = 4 };
	cr_assert_eq(spool_append(sp, &bad, NULL, &eb), -ESTALE);
	cr_assert(strstr(eb.msg, "not the next seq 6"), "%s", eb.msg);

	/* State survives close/reopen. */
	spool_close(sp);
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.next_seq, 6);
	cr_assert_eq(st.batches, 2);
	cr_assert_eq(st.acked_seq, 3);

	cr_assert_eq(spool_ack(sp, 100), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.batches, 0);
	cr_assert_eq(st.bytes, 0);
	cr_assert_eq(st.next_seq, 6, "ack never moves next_seq");
	spool_close(sp);
}

Test(spool, readonly_reader_sees_commits)
{
	struct spool *w, *r;
	struct errbuf eb;
	struct spool_stats st;
	cr_assert_eq(spool_open(&r, dir, SPOOL_MAX_DEFAULT, true, &eb), -ENOENT,
		     "no spool yet: %s", eb.msg);
	cr_assert_eq(spool_open(&w, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	cr_assert_eq(spool_open(&r, dir, SPOOL_MAX_DEFAULT, true, &eb), 0, "%s", eb.msg);
	cr_assert_eq(append_one(w, 200, NULL, 0, NULL, NULL), 0);
	cr_assert_eq(spool_stats(r, &st), 0);
	cr_assert_eq(st.batches, 1);
	cr_assert_eq(st.bytes, SPOOL_HDR_LEN + 200);
	uint8_t sig[SIGN_LEN] = { 0 };
	struct spool_batch b = { .seq = 2, .sig = sig, .payload = sig, .payload_len = 4 };
	cr_assert_eq(spool_append(r, &b, NULL, &eb), -EROFS);
	cr_assert_eq(spool_ack(r, 1), -EROFS);
	spool_close(r);
	spool_close(w);
}

Test(spool, full_drops_oldest_and_records_gap)
{
	struct spool *sp;
	struct errbuf eb;
	struct spool_stats st;
	const size_t len = 100 << 10; /* 10 of these fit in 1 MiB with headers */
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_MIN, false, &eb), 0, "%s", eb.msg);
	uint64_t dropped_total = 0;
	for (int i = 0; i < 15; i++) {
		uint64_t dropped;
		cr_assert_eq(append_one(sp, len, NULL, 0, NULL, &dropped), 0);
		dropped_total += dropped;
	}
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(dropped_total, 5);
	cr_assert_eq(st.dropped_batches, 5);
	cr_assert_eq(st.dropped_bytes, 5 * (SPOOL_HDR_LEN + len));
	cr_assert_eq(st.batches, 10);
	cr_assert_leq(st.bytes, SPOOL_MAX_MIN);
	cr_assert_eq(st.oldest_seq, 6);
	cr_assert_eq(st.newest_seq, 15);
	cr_assert_eq(st.pending_gaps, 1);

	struct spool_gap gaps[4];
	size_t n;
	cr_assert_eq(spool_pending_gaps(sp, gaps, 4, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(gaps[0].first_seq, 1);
	cr_assert_eq(gaps[0].last_seq, 5);
	cr_assert_eq(gaps[0].reason, CAIRN__GAP_REASON__SPOOL_FULL);
	cr_assert_eq(gaps[0].window_start_ms, 1000);
	cr_assert_eq(gaps[0].window_end_ms, 6000);
	Cairn__Gap pg;
	spool_gap_to_proto(&gaps[0], &pg);
	cr_assert_eq(pg.first_seq, 1);
	cr_assert_eq(pg.last_seq, 5);
	cr_assert_eq(pg.reason, CAIRN__GAP_REASON__SPOOL_FULL);

	/* Batch 16 carries the gap (and drops batch 6, a new gap 6..6). */
	uint64_t carrier;
	cr_assert_eq(append_one(sp, len, gaps, n, &carrier, NULL), 0);
	cr_assert_eq(carrier, 16);
	cr_assert_eq(spool_pending_gaps(sp, gaps, 4, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(gaps[0].first_seq, 6);
	cr_assert_eq(gaps[0].last_seq, 6);

	/* Batch 17 carries 6..6; drops 7: pending 7..7. */
	cr_assert_eq(append_one(sp, len, gaps, n, NULL, NULL), 0);
	/* Fill until 16 (the carrier of 1..5) is dropped itself: 1..5 must
	 * become pending again. */
	for (int i = 0; i < 9; i++)
		cr_assert_eq(append_one(sp, len, NULL, 0, NULL, NULL), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.oldest_seq, 17);
	cr_assert_eq(spool_pending_gaps(sp, gaps, 4, &n), 0);
	cr_assert_eq(n, 2, "1..5 pending again besides 7..16, got %zu", n);
	cr_assert_eq(gaps[0].first_seq, 1);
	cr_assert_eq(gaps[0].last_seq, 5);
	cr_assert_eq(gaps[1].first_seq, 7);
	cr_assert_eq(gaps[1].last_seq, 16);

	/* Ack of 17 forgets 6..6 (carried by 17); pending ones stay. */
	cr_assert_eq(spool_ack(sp, 17), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.pending_gaps, 2);
	uint64_t c2;
	cr_assert_eq(append_one(sp, len, gaps, n, &c2, NULL), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.pending_gaps, 0);
	cr_assert_eq(spool_ack(sp, c2), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.batches, 0);
	cr_assert_eq(st.pending_gaps, 0);
	cr_assert_eq(spool_pending_gaps(sp, gaps, 4, &n), 0);
	cr_assert_eq(n, 0);

	/* Larger than the whole spool: refused, seq not consumed. */
	uint64_t next;
	cr_assert_eq(spool_next_seq(sp, &next), 0);
	cr_assert_eq(append_one(sp, SPOOL_MAX_MIN, NULL, 0, NULL, NULL), -EFBIG);
	uint64_t next2;
	cr_assert_eq(spool_next_seq(sp, &next2), 0);
	cr_assert_eq(next, next2);
	spool_close(sp);
}

/* A full spool whose oldest batches the collector already acknowledged (the
 * sender has not applied the ACK yet) deletes them instead of dropping them:
 * no drop is counted, no gap reported. */
static int append_acked(struct spool *sp, size_t len, uint64_t acked, uint64_t *dropped)
{
	uint64_t seq;
	int rc = spool_next_seq(sp, &seq);
	if (rc)
		return rc;
	uint8_t *p = malloc(len);
	uint8_t sig[SIGN_LEN];
	fill_payload(p, len, seq);
	sign_batch(sig, kp.sk, kp.pk, seq, p, len);
	struct spool_batch b = { .seq = seq, .sig = sig, .window_start_ms = 1,
				 .window_end_ms = 2, .payload = p, .payload_len = len,
				 .acked = acked };
	struct errbuf eb;
	rc = spool_append(sp, &b, dropped, &eb);
	free(p);
	return rc;
}

Test(spool, append_deletes_acknowledged_before_dropping)
{
	struct spool *sp;
	struct errbuf eb;
	struct spool_stats st;
	const size_t len = 100 << 10; /* 10 fit in 1 MiB */
	uint64_t dropped;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_MIN, false, &eb), 0, "%s", eb.msg);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(append_acked(sp, len, 0, &dropped), 0);
	/* 11th, the collector holds 1..3: those go, nothing is dropped. */
	cr_assert_eq(append_acked(sp, len, 3, &dropped), 0);
	cr_assert_eq(dropped, 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.dropped_batches, 0);
	cr_assert_eq(st.pending_gaps, 0);
	cr_assert_eq(st.acked_seq, 3);
	cr_assert_eq(st.oldest_seq, 4);
	cr_assert_eq(st.batches, 8);
	/* An acked beyond the new batch never deletes the batch itself. */
	cr_assert_eq(append_acked(sp, len, 99, &dropped), 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.batches, 1);
	cr_assert_eq(st.oldest_seq, 12);
	cr_assert_eq(st.acked_seq, 11);
	spool_close(sp);
}

/* A bound raised while running (SIGHUP) lets the spool hold more than the
 * map it was opened with could: the map limit follows the bound. */
Test(spool, raised_bound_takes_effect_with_the_next_append)
{
	struct spool *sp;
	struct errbuf eb;
	struct spool_stats st;
	const size_t len = 1 << 20;
	uint64_t dropped, total = 0;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_MIN * 2, false, &eb), 0, "%s", eb.msg);
	/* Opened for 2 MiB: the map may grow to 72 MiB, less than 90 batches. */
	spool_set_max(sp, (uint64_t)96 << 20);
	for (int i = 0; i < 90; i++) {
		cr_assert_eq(append_acked(sp, len, 0, &dropped), 0, "append %d", i);
		total += dropped;
	}
	cr_assert_eq(total, 0);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.batches, 90);
	cr_assert_eq(st.spool_max, (uint64_t)96 << 20);
	spool_close(sp);
}

/* Windows whose append failed (disk full) take seqs when the next batch is
 * stored: a gap carried by it, counted as dropped. */
Test(spool, windows_never_stored_become_a_gap_of_the_next_batch)
{
	struct spool *sp;
	struct errbuf eb;
	struct spool_stats st;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	cr_assert_eq(append_one(sp, 10, NULL, 0, NULL, NULL), 0);
	cr_assert_eq(append_one(sp, 10, NULL, 0, NULL, NULL), 0);
	uint8_t p[10] = { 0 }, sig[SIGN_LEN];
	sign_batch(sig, kp.sk, kp.pk, 6, p, sizeof(p));
	struct spool_batch b = { .seq = 5, .sig = sig, .window_start_ms = 9000,
				 .window_end_ms = 10000, .payload = p, .payload_len = sizeof(p),
				 .lost = 3, .lost_start_ms = 3000, .lost_end_ms = 9000 };
	cr_assert_eq(spool_append(sp, &b, NULL, &eb), -ESTALE, "seq must be next_seq + lost");
	b.seq = 6;
	cr_assert_eq(spool_append(sp, &b, NULL, &eb), 0, "%s", eb.msg);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.next_seq, 7);
	cr_assert_eq(st.batches, 3);
	cr_assert_eq(st.dropped_batches, 3);
	cr_assert_eq(st.pending_gaps, 0, "carried by batch 6, not pending");
	struct spool_gap g[4];
	size_t n;
	cr_assert_eq(spool_gaps(sp, g, 4, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(g[0].first_seq, 3);
	cr_assert_eq(g[0].last_seq, 5);
	cr_assert_eq(g[0].carrier, 6);
	cr_assert_eq(g[0].reason, SPOOL_GAP_UNWRITTEN);
	cr_assert_eq(g[0].window_start_ms, 3000);
	cr_assert_eq(g[0].window_end_ms, 9000);
	/* Refused by the collector: the gap it carried becomes pending again. */
	cr_assert_eq(spool_reject(sp, 6, CAIRN__GAP_REASON__COLLECTOR_REJECTED), 0);
	cr_assert_eq(spool_pending_gaps(sp, g, 4, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(g[0].first_seq, 3);
	cr_assert_eq(g[0].last_seq, 5);
	cr_assert_eq(g[1].first_seq, 6);
	spool_close(sp);
}

Test(spool, advance_after_lost_spool)
{
	struct spool *sp;
	struct errbuf eb;
	struct spool_stats st;
	bool raised;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	cr_assert_eq(append_one(sp, 10, NULL, 0, NULL, NULL), 0);
	cr_assert_eq(append_one(sp, 10, NULL, 0, NULL, NULL), 0);
	/* Collector says it stored up to 41: we continue at 42. */
	cr_assert_eq(spool_advance(sp, 42, &raised), 0);
	cr_assert(raised);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.next_seq, 42);
	cr_assert_eq(st.batches, 0);
	cr_assert_eq(st.acked_seq, 41);
	cr_assert_eq(spool_advance(sp, 10, &raised), 0);
	cr_assert_not(raised);
	cr_assert_eq(spool_stats(sp, &st), 0);
	cr_assert_eq(st.next_seq, 42);
	uint64_t seq;
	cr_assert_eq(append_one(sp, 10, NULL, 0, &seq, NULL), 0);
	cr_assert_eq(seq, 42);
	spool_close(sp);
}

/* ------------------------------------------------------------- kill -9 */

static size_t crash_len(uint64_t seq)
{
	return 1000 + (size_t)(seq * 7919 % 60000);
}

static void crash_child(void)
{
	struct spool *sp;
	struct errbuf eb;
	if (spool_open(&sp, dir, SPOOL_MAX_MIN, false, &eb))
		_exit(3);
	for (;;) {
		uint64_t seq;
		if (spool_next_seq(sp, &seq))
			_exit(4);
		size_t len = crash_len(seq);
		struct spool_gap gaps[8];
		size_t ng = 0;
		if (spool_pending_gaps(sp, gaps, 8, &ng))
			_exit(5);
		if (append_one(sp, len, gaps, ng, NULL, NULL))
			_exit(6);
		if (seq % 5 == 0 && spool_ack(sp, seq - 3))
			_exit(7);
	}
}

struct verify_ctx {
	uint64_t prev, count, bytes;
};

static int verify_cb(const struct spool_entry *e, void *arg)
{
	struct verify_ctx *v = arg;
	if (v->prev)
		cr_assert_eq(e->seq, v->prev + 1, "hole after seq %llu", (unsigned long long)v->prev);
	v->prev = e->seq;
	v->count++;
	v->bytes += SPOOL_HDR_LEN + e->payload_len;
	cr_assert_eq(e->payload_len, crash_len(e->seq), "torn batch %llu",
		     (unsigned long long)e->seq);
	uint8_t *want = malloc(e->payload_len);
	fill_payload(want, e->payload_len, e->seq);
	cr_assert_eq(memcmp(want, e->payload, e->payload_len), 0, "payload %llu",
		     (unsigned long long)e->seq);
	free(want);
	check_entry(e, e->payload_len);
	return 0;
}

Test(spool, survives_kill_9_mid_append, .timeout = 60)
{
	uint64_t last_next = 1;
	for (int round = 0; round < 4; round++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0)
			crash_child();
		struct timespec ts = { 0, (100 + 97 * round) * 1000000L };
		nanosleep(&ts, NULL);
		cr_assert_eq(kill(pid, SIGKILL), 0);
		int status;
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		cr_assert(WIFSIGNALED(status), "child exited early with %d", WEXITSTATUS(status));

		struct spool *sp;
		struct errbuf eb;
		struct spool_stats st;
		cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_MIN, false, &eb), 0, "%s", eb.msg);
		cr_assert_eq(spool_stats(sp, &st), 0);
		cr_assert_gt(st.next_seq, last_next, "round %d made progress", round);
		last_next = st.next_seq;
		struct verify_ctx v = { 0 };
		cr_assert_eq(spool_iterate(sp, 0, verify_cb, &v), 0);
		cr_assert_eq(v.count, st.batches);
		cr_assert_eq(v.bytes, st.bytes);
		cr_assert_leq(st.bytes, SPOOL_MAX_MIN);
		if (st.batches) {
			cr_assert_eq(st.newest_seq, st.next_seq - 1);
			cr_assert_eq(st.oldest_seq, st.next_seq - st.batches);
		}
		/* Every seq below the oldest is acknowledged or covered by a gap
		 * (pending or carried by a stored batch). */
		struct spool_gap gaps[SPOOL_MAX_GAPS];
		size_t ng;
		cr_assert_eq(spool_gaps(sp, gaps, SPOOL_MAX_GAPS, &ng), 0);
		uint64_t first_stored = st.batches ? st.oldest_seq : st.next_seq;
		for (uint64_t seq = st.acked_seq + 1; seq < first_stored; seq++) {
			bool covered = false;
			for (size_t i = 0; i < ng && !covered; i++)
				covered = gaps[i].first_seq <= seq && seq <= gaps[i].last_seq;
			cr_assert(covered, "round %d: seq %llu neither acked, stored nor in a gap",
				  round, (unsigned long long)seq);
		}
		cr_assert_geq(st.dropped_batches, first_stored - st.acked_seq - 1);
		spool_close(sp);
	}
}

/* ------------------------------------------------------------- damaged */

/* A spool cut short (disk trouble, a crash of the filesystem) used to crash
 * `run` and `status` with SIGBUS in meta_get, so the agent never came back.
 * Now it is refused, moved aside, and a fresh spool resumes numbering after
 * the lost range, which becomes a pending SPOOL_DAMAGED gap. */
Test(spool, damaged_spool_refused_moved_aside_and_resumed)
{
	struct spool *sp;
	struct errbuf eb;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	for (int i = 0; i < 40; i++)
		cr_assert_eq(append_one(sp, 4000, NULL, 0, NULL, NULL), 0);
	spool_close(sp);

	char data[600];
	struct stat st;
	snprintf(data, sizeof(data), "%s/spool/data.mdb", dir);
	cr_assert_eq(stat(data, &st), 0);
	cr_assert_eq(truncate(data, st.st_size / 2), 0);

	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, true, &eb), DB_ERR_DAMAGED, "%s",
		     eb.msg);
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), DB_ERR_DAMAGED, "%s",
		     eb.msg);
	cr_assert_not_null(strstr(eb.msg, "cut short"), "%s", eb.msg);

	char moved[512];
	cr_assert_eq(spool_move_aside(dir, moved, sizeof(moved), &eb), 0, "%s", eb.msg);
	cr_assert_not_null(strstr(moved, "/spool.damaged-"), "%s", moved);
	snprintf(data, sizeof(data), "%s/data.mdb", moved);
	cr_assert_eq(stat(data, &st), 0, "the damaged file is kept for inspection");

	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	struct spool_gap lost = { .first_seq = 31, .last_seq = 56,
				  .reason = CAIRN__GAP_REASON__SPOOL_DAMAGED,
				  .window_start_ms = 1000, .window_end_ms = 2000 };
	cr_assert_eq(spool_resume_after_loss(sp, &lost), 0);
	struct spool_stats ss;
	cr_assert_eq(spool_stats(sp, &ss), 0);
	cr_assert_eq(ss.next_seq, 57);
	cr_assert_eq(ss.pending_gaps, 1);
	struct spool_gap g[4];
	size_t n;
	cr_assert_eq(spool_pending_gaps(sp, g, 4, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(g[0].first_seq, 31);
	cr_assert_eq(g[0].last_seq, 56);
	cr_assert_eq(g[0].reason, CAIRN__GAP_REASON__SPOOL_DAMAGED);
	Cairn__Gap pg;
	spool_gap_to_proto(&g[0], &pg);
	cr_assert_not_null(strstr(pg.detail, "damaged"), "%s", pg.detail);
	uint64_t seq;
	cr_assert_eq(append_one(sp, 10, g, n, &seq, NULL), 0);
	cr_assert_eq(seq, 57);
	spool_close(sp);
	/* A second damage later moves aside under another name. */
	char moved2[512];
	cr_assert_eq(spool_move_aside(dir, moved2, sizeof(moved2), &eb), 0, "%s", eb.msg);
	cr_assert_str_neq(moved, moved2);
}
