#include "ingest_writer.h"


#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"

#include "arena.h"
#include "audit.h"

/* ------------------------------------------------------------ the writer */

const char *ingest_result_name(enum ingest_result r)
{
	switch (r) {
	case INGEST_OK: return "stored";
	case INGEST_REPLAY: return "replay";
	case INGEST_BAD_SIGNATURE: return "bad-signature";
	case INGEST_MALFORMED: return "malformed";
	case INGEST_LIMIT: return "limit";
	case INGEST_NOT_ENROLLED: return "not-enrolled";
	case INGEST_FAILED: return "failed";
	case INGEST_CONFLICT: return "conflict";
	}
	return "unknown";
}

void ingest_item_free(struct ingest_item *it)
{
	if (!it)
		return;
	arena_release(it->decoded_arena);
	free(it->payload);
	free(it);
}

/* One item's state while its group is processed. */
struct group_entry {
	struct ingest_item *it;
	Cairn__Batch *batch; /* NULL when rejected before the transaction */
	struct arena *arena; /* holds batch */
};

struct group {
	struct group_entry *e;
	size_t n;
	struct ingest_writer_stats delta;
};

/* Counts a rejection in the agent record (same transaction as the group). */
static int count_rejection(MDB_txn *txn, const struct db_env *env, const uint8_t id[static 32],
			   enum ingest_result r, int64_t now_ms)
{
	Cairn__Store__Agent *a = NULL;
	int rc = store_agent_get(txn, env, id, &a);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (r == INGEST_BAD_SIGNATURE)
		a->bad_signatures++;
	else
		a->malformed_batches++;
	a->last_seen_ms = now_ms;
	rc = store_agent_put(txn, env, a);
	cairn__store__agent__free_unpacked(a, NULL);
	return rc;
}

struct group_ctx {
	struct group *g;
	struct db_env *env;
	uint64_t fn_us; /* time inside the transaction function (CPU), last run */
};

static int group_txn_env(MDB_txn *txn, void *arg)
{
	struct group_ctx *c = arg;
	struct group *g = c->g;
	int64_t now_ms = time_now_ms();
	uint64_t t0 = time_mono_us();
	memset(&g->delta, 0, sizeof(g->delta));
	for (size_t i = 0; i < g->n; i++) {
		struct group_entry *ge = &g->e[i];
		struct ingest_item *it = ge->it;
		int rc;
		if (it->kind == INGEST_KIND_PRUNE) {
			rc = ingest_prune(txn, c->env, it->cutoff_ms, 20000, &it->pruned);
			if (rc)
				return rc;
			it->result = INGEST_OK;
			continue;
		}
		if (it->kind == INGEST_KIND_ENROLL) {
			rc = enroll_on_auth(txn, c->env, it->agent_id, it->hostname, it->mac_valid,
					    it->accept_mode, it->peer, now_ms, &it->enroll);
			if (rc)
				return rc;
			it->result = INGEST_OK;
			it->ack_seq = it->enroll.high_seq;
			continue;
		}
		if (!ge->batch) {
			/* rejected before: count it where the agent's health shows it */
			if (it->result == INGEST_BAD_SIGNATURE || it->result == INGEST_MALFORMED ||
			    it->result == INGEST_LIMIT) {
				rc = count_rejection(txn, c->env, it->agent_id, it->result, now_ms);
				if (rc)
					return rc;
			}
			continue;
		}
		struct ingest_stats st = { 0 };
		bool stored = false;
		uint64_t high = 0;
		rc = ingest_store(txn, c->env, it->agent_id, it->seq, it->sig, it->payload,
				  it->payload_len, ge->batch, now_ms, &st, &stored, &high);
		if (rc == INGEST_ERR_CONFLICT) {
			it->result = INGEST_CONFLICT;
			it->ack_seq = high;
			snprintf(it->detail, sizeof(it->detail),
				 "seq %llu is stored with other content (stored high seq %llu)",
				 (unsigned long long)it->seq, (unsigned long long)high);
			g->delta.conflicts++;
			continue;
		}
		if (rc == INGEST_ERR_SEQ_JUMP) {
			it->result = INGEST_LIMIT;
			snprintf(it->detail, sizeof(it->detail),
				 "seq %llu is more than %llu ahead of the stored high seq %llu",
				 (unsigned long long)it->seq,
				 (unsigned long long)INGEST_MAX_SEQ_JUMP, (unsigned long long)high);
			g->delta.limits++;
			continue;
		}
		if (rc == -ENOENT || rc == -EPERM) {
			it->result = INGEST_NOT_ENROLLED;
			snprintf(it->detail, sizeof(it->detail), "agent is %s",
				 rc == -ENOENT ? "unknown" : "not accepted");
			g->delta.not_enrolled++;
			continue;
		}
		if (rc)
			return rc;
		it->ack_seq = high;
		it->records = (uint32_t)st.records;
		if (stored) {
			it->result = INGEST_OK;
			g->delta.batches++;
			g->delta.records += st.records;
		} else {
			it->result = INGEST_REPLAY;
			snprintf(it->detail, sizeof(it->detail), "seq %llu <= stored high seq %llu",
				 (unsigned long long)it->seq, (unsigned long long)high);
			g->delta.replays++;
		}
	}
	c->fn_us = time_mono_us() - t0;
	return 0;
}

/* Verify, then decode: nothing of an unauthenticated payload is parsed. */
static void prepare(struct ingest_writer *w, struct group_entry *ge)
{
	struct ingest_item *it = ge->it;
	ge->batch = NULL;
	it->result = INGEST_FAILED;
	if (it->kind != INGEST_KIND_BATCH)
		return;
	if (sign_batch_verify(it->sig, it->agent_id, it->seq, it->payload, it->payload_len) != 0) {
		it->result = INGEST_BAD_SIGNATURE;
		snprintf(it->detail, sizeof(it->detail),
			 "signature over seq %llu (%zu bytes) does not verify with the agent key",
			 (unsigned long long)it->seq, it->payload_len);
		return;
	}
	struct arena *ar = arena_new_capped(INGEST_DECODED_FIRST(it->payload_len),
					    INGEST_DECODED_MAX(it->payload_len));
	Cairn__Batch *b = ar ? cairn__batch__unpack(&ar->a, it->payload_len, it->payload) : NULL;
	if (!b) {
		it->result = INGEST_MALFORMED;
		if (ar && ar->refused)
			snprintf(it->detail, sizeof(it->detail),
				 "decoding seq %llu (%zu bytes) would take more than %zu bytes of "
				 "memory (unknown-field flood?): refused",
				 (unsigned long long)it->seq, it->payload_len,
				 INGEST_DECODED_MAX(it->payload_len));
		else
			snprintf(it->detail, sizeof(it->detail),
				 "payload of seq %llu (%zu bytes) is not a valid cairn.Batch",
				 (unsigned long long)it->seq, it->payload_len);
		arena_release(ar);
		return;
	}
	if (b->seq != it->seq ||
	    (b->agent_id.len && (b->agent_id.len != 32 || memcmp(b->agent_id.data, it->agent_id, 32)))) {
		it->result = INGEST_MALFORMED;
		snprintf(it->detail, sizeof(it->detail),
			 "batch seq %llu / agent id inside the payload differ from the frame's (seq %llu)",
			 (unsigned long long)b->seq, (unsigned long long)it->seq);
		arena_release(ar);
		return;
	}
	struct errbuf eb;
	int lrc = ingest_check_limits(b, &w->limits, &eb);
	if (lrc) {
		it->result = lrc == -EBADMSG ? INGEST_MALFORMED : INGEST_LIMIT;
		str_copy(it->detail, eb.msg, sizeof(it->detail));
		arena_release(ar);
		return;
	}
	ge->batch = b;
	ge->arena = ar;
}

/* Moves the verified prefix of the input queue to the writer queue: runs
 * finish out of order on several verifiers but are published in arrival
 * order. Called with mu held. */
static void publish_verified(struct ingest_writer *w)
{
	struct ingest_item *first = w->in_head, *last = NULL;
	uint32_t n = 0;
	for (struct ingest_item *it = first; it && it->verified; it = it->next) {
		last = it;
		n++;
	}
	if (!n)
		return;
	w->in_head = last->next;
	if (!w->in_head)
		w->in_tail = NULL;
	last->next = NULL;
	w->in_queued -= n;
	if (w->tail)
		w->tail->next = first;
	else
		w->head = first;
	w->tail = last;
	w->queued += n;
	pthread_cond_signal(&w->cv);
}

static void *verifier_main(void *arg)
{
	struct ingest_writer *w = arg;
	pthread_setname_np(pthread_self(), "cairn-verify");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		/* stay at most two groups ahead of the writer: decoded batches
		 * are several times their payload */
		while ((!w->claim || w->queued >= 2 * w->commit_batches ||
			(w->queued && w->queued_bytes >= w->queue_max_bytes)) &&
		       !w->stop)
			pthread_cond_wait(&w->vcv, &w->mu);
		if (!w->claim && w->stop)
			break;
		/* claim a run: an even share of what waits, 1..64 */
		uint32_t want = w->unclaimed / w->nverifiers;
		want = want < 1 ? 1 : want > 64 ? 64 : want;
		struct ingest_item *first = w->claim, *it = first;
		uint32_t taken = 0;
		while (it && taken < want) {
			it = it->next;
			taken++;
		}
		w->claim = it;
		w->unclaimed -= taken;
		if (w->claim)
			pthread_cond_signal(&w->vcv); /* more for another verifier */
		pthread_mutex_unlock(&w->mu);

		/* the claimed run is ours alone: submit only appends after it,
		 * publishing only moves verified items */
		struct ingest_writer_stats rej = { 0 };
		uint64_t decoded = 0;
		it = first;
		for (uint32_t i = 0; i < taken; i++) {
			/* the last one's next may change under submit: not read */
			if (i)
				it = it->next;
			struct group_entry ge = { .it = it };
			prepare(w, &ge);
			it->decoded = ge.batch;
			it->decoded_arena = ge.arena;
			it->decoded_bytes = arena_total(ge.arena);
			decoded += it->decoded_bytes;
			rej.bad_signatures += it->result == INGEST_BAD_SIGNATURE;
			rej.malformed += it->result == INGEST_MALFORMED;
			rej.limits += it->result == INGEST_LIMIT;
		}

		pthread_mutex_lock(&w->mu);
		w->stats.bad_signatures += rej.bad_signatures;
		w->stats.malformed += rej.malformed;
		w->stats.limits += rej.limits;
		w->queued_bytes += decoded;
		it = first;
		for (uint32_t i = 0; i < taken; i++, it = it->next)
			it->verified = true;
		publish_verified(w);
	}
	if (--w->verifiers_running == 0) {
		w->verifier_done = true;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Sleeps ms in short slices; returns early (true) when the writer stops. */
static bool wait_retry(struct ingest_writer *w, uint64_t ms)
{
	for (uint64_t slept = 0; slept < ms; slept += 100) {
		pthread_mutex_lock(&w->mu);
		bool stop = w->stop;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			return true;
		struct timespec ts = { 0, 100 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return false;
}

/* fdatasync of the data file: makes the meta pages of every commit so far
 * durable. Not mdb_env_sync: that reads the meta through the map, which the
 * writer may be remapping (growth) at the same moment. */
static int store_fdatasync(struct ingest_writer *w)
{
	mdb_filehandle_t fd;
	int rc = mdb_env_get_fd(w->env->env, &fd);
	if (rc)
		return rc;
	return fdatasync(fd) ? -errno : 0;
}

/* A committed group whose fsync failed: nothing in it may be acknowledged. */
static void fail_unsynced(struct ingest_item *list, int rc)
{
	for (struct ingest_item *it = list; it; it = it->next)
		if (it->result == INGEST_OK || it->result == INGEST_REPLAY) {
			it->result = INGEST_FAILED;
			snprintf(it->detail, sizeof(it->detail), "store fsync: %s",
				 db_strerror(rc));
		}
}

/* A group whose transaction committed (or failed) on its way to done(). */
struct ingest_sync {
	struct ingest_sync *next;
	struct ingest_item *list;
	bool committed;
};

/* The meta page of a committed group is synced here: until then nothing of
 * the group is handed back (no ACK). Failures go the same way so that every
 * connection sees its results in order. */
static void hand_to_syncer(struct ingest_writer *w, struct ingest_item *list, bool committed)
{
	struct ingest_sync *sy = malloc(sizeof(*sy));
	if (!sy) {
		/* no memory for the queue entry: sync here, in order, after
		 * what is already queued (the syncer syncs those first) */
		pthread_mutex_lock(&w->mu);
		while (w->sync_head || w->syncing)
			pthread_cond_wait(&w->cv, &w->mu);
		pthread_mutex_unlock(&w->mu);
		int rc = committed ? store_fdatasync(w) : 0;
		if (rc)
			fail_unsynced(list, rc);
		w->done(list, w->done_arg);
		return;
	}
	sy->next = NULL;
	sy->list = list;
	sy->committed = committed;
	pthread_mutex_lock(&w->mu);
	if (w->sync_tail)
		w->sync_tail->next = sy;
	else
		w->sync_head = sy;
	w->sync_tail = sy;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->mu);
}

static void *syncer_main(void *arg)
{
	struct ingest_writer *w = arg;
	pthread_setname_np(pthread_self(), "cairn-sync");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->sync_head && !w->writer_done)
			pthread_cond_wait(&w->scv, &w->mu);
		if (!w->sync_head)
			break;
		/* everything committed so far: one fdatasync covers all of it */
		struct ingest_sync *all = w->sync_head;
		w->sync_head = w->sync_tail = NULL;
		w->syncing = true;
		pthread_mutex_unlock(&w->mu);
		bool any = false;
		for (struct ingest_sync *sy = all; sy; sy = sy->next)
			any |= sy->committed;
		uint64_t t0 = time_mono_us();
		int rc = any ? store_fdatasync(w) : 0;
		uint64_t dt = time_mono_us() - t0;
		if (rc)
			log_error("ingest: fsync of the store failed: %s; the batches of the last "
				  "commit are not acknowledged and will be resent by the agents",
				  db_strerror(rc));
		while (all) {
			struct ingest_sync *sy = all;
			all = sy->next;
			if (rc && sy->committed)
				fail_unsynced(sy->list, rc);
			w->done(sy->list, w->done_arg);
			free(sy);
		}
		pthread_mutex_lock(&w->mu);
		w->stats.syncs += any;
		w->stats.last_sync_us = dt;
		w->syncing = false;
		pthread_cond_broadcast(&w->cv); /* hand_to_syncer's fallback waits on it */
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* ------------------------------------------------------------ holes
 * Per agent, batches after one that was not stored must not be stored either:
 * the agent resends from its stored high seq, and a later seq stored first
 * would turn the missing one into a "replay" (ACKed, never stored). */

static struct ingest_hole *hole_find(struct ingest_writer *w, const uint8_t id[static 32])
{
	for (size_t i = 0; i < w->nholes; i++)
		if (!memcmp(w->holes[i].agent_id, id, 32))
			return &w->holes[i];
	return NULL;
}

static void hole_add(struct ingest_writer *w, const uint8_t id[static 32], uint64_t seq)
{
	struct ingest_hole *h = hole_find(w, id);
	if (h) {
		if (seq < h->seq)
			h->seq = seq;
		return;
	}
	if (w->nholes == INGEST_HOLES_MAX) {
		log_warn("ingest: %u agents with unstored batches pending resend; forgetting the "
			 "oldest", INGEST_HOLES_MAX);
		memmove(w->holes, w->holes + 1, (w->nholes - 1) * sizeof(*w->holes));
		w->nholes--;
	}
	if (array_grow((void **)&w->holes, &w->capholes, w->nholes + 1, sizeof(*w->holes)) != 0) {
		log_error("ingest: out of memory noting an unstored batch of seq %llu",
			  (unsigned long long)seq);
		return;
	}
	memcpy(w->holes[w->nholes].agent_id, id, 32);
	w->holes[w->nholes].seq = seq;
	w->nholes++;
}

static void hole_del(struct ingest_writer *w, struct ingest_hole *h)
{
	*h = w->holes[--w->nholes];
}

/* In group order: batches behind a hole are failed (not stored); a resend
 * (seq <= the hole) closes it. Holes come from groups that failed to commit
 * (not from rejected batches: those can never be stored, so waiting for
 * them would stall the agent for good). */
static void holes_check(struct ingest_writer *w, struct group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct group_entry *ge = &g->e[i];
		struct ingest_item *it = ge->it;
		if (it->kind != INGEST_KIND_BATCH)
			continue;
		struct ingest_hole *h = w->nholes ? hole_find(w, it->agent_id) : NULL;
		if (h && it->seq > h->seq) {
			if (ge->batch) {
				arena_release(ge->arena);
				ge->batch = NULL;
				ge->arena = NULL;
				it->result = INGEST_FAILED;
				snprintf(it->detail, sizeof(it->detail),
					 "batch %llu of this agent was not stored; resend from there",
					 (unsigned long long)h->seq);
			}
			continue;
		}
		if (h)
			hole_del(w, h);
	}
}

static void process_group(struct ingest_writer *w, struct ingest_item *list)
{
	size_t n = 0;
	for (struct ingest_item *it = list; it; it = it->next)
		n++;
	struct group g = { .e = calloc(n, sizeof(*g.e)), .n = n };
	if (!g.e) {
		for (struct ingest_item *it = list; it; it = it->next)
			it->result = INGEST_FAILED;
		hand_to_syncer(w, list, false);
		return;
	}
	size_t i = 0;
	for (struct ingest_item *it = list; it; it = it->next)
		g.e[i++].it = it;
	for (i = 0; i < n; i++) {
		g.e[i].batch = g.e[i].it->decoded;
		g.e[i].arena = g.e[i].it->decoded_arena;
		g.e[i].it->decoded = NULL;
		g.e[i].it->decoded_arena = NULL;
	}

	holes_check(w, &g);
	struct group_ctx ctx = { &g, w->env, 0 };
	uint64_t t0 = time_mono_us();
	uint64_t drain_deadline = 0;
	int rc;
	bool was_full = false;
	for (;;) {
		rc = db_write(w->env, group_txn_env, &ctx);
		if (rc != MDB_MAP_FULL && rc != -ENOSPC && rc != ENOSPC && rc != EIO && rc != -EIO)
			break;
		/* Out of space: keep everything, ACK nothing, retry. */
		pthread_mutex_lock(&w->mu);
		if (!w->stats.storage_full) {
			w->stats.storage_full = true;
			w->stats.storage_full_events++;
			log_error("ingest: cannot commit %zu batches: %s (map %zu of map_max %zu "
				  "bytes). Not acknowledging; agents keep their spools. Free disk "
				  "space or raise map_max; retrying every 2s",
				  n, db_strerror(rc), w->env->map_size, w->env->map_max);
		}
		bool stopping = w->stop;
		pthread_mutex_unlock(&w->mu);
		was_full = true;
		if (stopping) {
			if (!drain_deadline)
				drain_deadline = time_mono_ms() + w->drain_ms;
			if (time_mono_ms() >= drain_deadline)
				break;
		}
		if (wait_retry(w, 2000) && drain_deadline && time_mono_ms() >= drain_deadline)
			break;
	}
	uint64_t dt = time_mono_us() - t0;
	log_debug("ingest: group of %zu: %llu us storing, %llu us committing", n,
		  (unsigned long long)ctx.fn_us, (unsigned long long)(dt - ctx.fn_us));

	pthread_mutex_lock(&w->mu);
	if (was_full && rc == 0) {
		w->stats.storage_full = false;
		log_notice("ingest: storage available again, committed %zu held batches", n);
	}
	w->stats.last_commit_us = dt;
	if (rc == 0) {
		w->stats.commits++;
		w->stats.batches += g.delta.batches;
		w->stats.records += g.delta.records;
		w->stats.replays += g.delta.replays;
		w->stats.not_enrolled += g.delta.not_enrolled;
	} else {
		w->stats.failures += n;
	}
	pthread_mutex_unlock(&w->mu);

	if (rc) {
		log_error("ingest: write transaction for %zu batches failed: %s; they are not "
			  "acknowledged and will be resent by the agents",
			  n, db_strerror(rc));
		for (i = 0; i < n; i++) {
			struct ingest_item *it = g.e[i].it;
			if (it->kind != INGEST_KIND_BATCH || it->result == INGEST_FAILED || g.e[i].batch) {
				it->result = INGEST_FAILED;
				snprintf(it->detail, sizeof(it->detail), "store: %s", db_strerror(rc));
			}
			if (it->kind == INGEST_KIND_BATCH && g.e[i].batch)
				hole_add(w, it->agent_id, it->seq);
		}
	}
	for (i = 0; i < n; i++)
		if (g.e[i].batch)
			arena_release(g.e[i].arena);
	free(g.e);
	hand_to_syncer(w, list, rc == 0);
}

static void *writer_main(void *arg)
{
	struct ingest_writer *w = arg;
	pthread_setname_np(pthread_self(), "cairn-writer");
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !(w->stop && w->verifier_done))
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->head)
			break;
		/* Group commit, sized by the load: what arrived while the last
		 * group was stored and committed goes at once; after an idle
		 * spell wait at most commit_interval for commit_batches. */
		uint64_t deadline = time_mono_us() + w->commit_interval_us;
		while (!w->stop && !w->writer_busy && w->queued < w->commit_batches) {
			uint64_t now = time_mono_us();
			if (now >= deadline)
				break;
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			uint64_t wait = deadline - now;
			ts.tv_sec += (time_t)(wait / 1000000);
			ts.tv_nsec += (long)(wait % 1000000) * 1000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		/* Take at most commit_batches; the rest waits for the next group. */
		struct ingest_item *list = w->head, *last = w->head;
		uint32_t taken = 1;
		while (last->next && taken < w->commit_batches) {
			last = last->next;
			taken++;
		}
		w->head = last->next;
		if (!w->head)
			w->tail = NULL;
		last->next = NULL;
		w->queued -= taken;
		pthread_cond_broadcast(&w->vcv);
		pthread_mutex_unlock(&w->mu);
		uint64_t bytes = 0;
		for (struct ingest_item *it = list; it; it = it->next)
			bytes += it->payload_len + it->decoded_bytes;
		process_group(w, list);
		pthread_mutex_lock(&w->mu);
		w->queued_bytes -= bytes;
		pthread_cond_broadcast(&w->vcv);
		w->writer_busy = w->head != NULL;
	}
	w->writer_done = true;
	pthread_cond_signal(&w->scv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void stop_threads(struct ingest_writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->vcv);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int ingest_writer_start(struct ingest_writer *w, struct db_env *env,
			const struct ingest_limits *limits, uint64_t commit_interval_ms,
			uint32_t commit_batches, uint32_t queue_max, ingest_done_fn done,
			void *done_arg)
{
	memset(w, 0, sizeof(*w));
	w->env = env;
	w->limits = *limits;
	w->commit_interval_us = commit_interval_ms * 1000;
	w->commit_batches = commit_batches ? commit_batches : 1;
	w->queue_max = queue_max ? queue_max : 1;
	w->queue_max_bytes = 32u << 20;
	w->done = done;
	w->done_arg = done_arg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	w->nverifiers = ncpu < 1 ? 1 : ncpu > INGEST_VERIFIERS_MAX ? INGEST_VERIFIERS_MAX
								     : (unsigned)ncpu;
	w->verifiers = calloc(w->nverifiers, sizeof(*w->verifiers));
	if (!w->verifiers)
		return -ENOMEM;
	/* commits sync the data pages; the syncer syncs the meta page before
	 * anything of the commit is handed back */
	int rc = mdb_env_set_flags(env->env, MDB_NOMETASYNC, 1);
	if (rc) {
		free(w->verifiers);
		return rc > 0 ? -rc : rc;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->vcv, NULL);
	pthread_cond_init(&w->scv, NULL);
	unsigned started = 0;
	bool writer = false, syncer = false;
	for (; started < w->nverifiers; started++) {
		pthread_mutex_lock(&w->mu);
		w->verifiers_running++;
		pthread_mutex_unlock(&w->mu);
		rc = pthread_create(&w->verifiers[started], NULL, verifier_main, w);
		if (rc) {
			pthread_mutex_lock(&w->mu);
			w->verifiers_running--;
			pthread_mutex_unlock(&w->mu);
			break;
		}
	}
	if (rc == 0) {
		rc = pthread_create(&w->thread, NULL, writer_main, w);
		writer = rc == 0;
	}
	if (rc == 0) {
		rc = pthread_create(&w->syncer, NULL, syncer_main, w);
		syncer = rc == 0;
	}
	if (rc) {
		stop_threads(w);
		for (unsigned i = 0; i < started; i++)
			pthread_join(w->verifiers[i], NULL);
		if (writer)
			pthread_join(w->thread, NULL);
		(void)syncer;
		mdb_env_set_flags(env->env, MDB_NOMETASYNC, 0);
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		pthread_cond_destroy(&w->vcv);
		pthread_cond_destroy(&w->scv);
		free(w->verifiers);
		w->verifiers = NULL;
		return -rc;
	}
	w->running = true;
	return 0;
}

void ingest_writer_submit(struct ingest_writer *w, struct ingest_item *it)
{
	it->next = NULL;
	it->verified = false;
	it->submitted_us = time_mono_us();
	pthread_mutex_lock(&w->mu);
	w->queued_bytes += it->payload_len;
	if (it->kind == INGEST_KIND_BATCH) {
		/* stage 1 first; it keeps the arrival order */
		if (w->in_tail)
			w->in_tail->next = it;
		else
			w->in_head = it;
		w->in_tail = it;
		if (!w->claim)
			w->claim = it;
		w->in_queued++;
		w->unclaimed++;
		pthread_cond_signal(&w->vcv);
		pthread_mutex_unlock(&w->mu);
		return;
	}
	if (it->kind == INGEST_KIND_ENROLL && w->head) {
		/* a handshake waits on it: ahead of the batches, into the next group */
		it->next = w->head;
		w->head = it;
	} else if (w->tail) {
		w->tail->next = it;
		w->tail = it;
	} else {
		w->head = w->tail = it;
	}
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

bool ingest_writer_full(struct ingest_writer *w)
{
	pthread_mutex_lock(&w->mu);
	bool full = w->queued + w->in_queued >= w->queue_max ||
		    w->queued_bytes >= w->queue_max_bytes || w->stats.storage_full;
	pthread_mutex_unlock(&w->mu);
	return full;
}

uint32_t ingest_writer_queued(struct ingest_writer *w)
{
	pthread_mutex_lock(&w->mu);
	uint32_t q = w->queued + w->in_queued;
	pthread_mutex_unlock(&w->mu);
	return q;
}

void ingest_writer_get_stats(struct ingest_writer *w, struct ingest_writer_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}

void ingest_writer_stop(struct ingest_writer *w, uint64_t drain_ms)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->drain_ms = drain_ms;
	pthread_mutex_unlock(&w->mu);
	stop_threads(w);
	for (unsigned i = 0; i < w->nverifiers; i++)
		pthread_join(w->verifiers[i], NULL);
	pthread_join(w->thread, NULL);
	pthread_join(w->syncer, NULL); /* syncs and hands back the last commits */
	mdb_env_set_flags(w->env->env, MDB_NOMETASYNC, 0);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->vcv);
	pthread_cond_destroy(&w->scv);
	free(w->verifiers);
	w->verifiers = NULL;
	free(w->holes);
	w->holes = NULL;
	w->nholes = w->capholes = 0;
	w->running = false;
}
