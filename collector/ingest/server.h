/* The collector's TCP server: listener, connection table, timeouts, and the
 * glue between sessions (session.h, reached through struct session_hub) and the
 * ingest writer.
 *
 * Everything here runs on one libuv loop; LMDB writes (batches and
 * enrollments) happen on the ingest writer thread, whose results come back
 * through a uv_async_t. Backpressure: while the writer queue is full, every
 * session stops reading its socket; reading resumes below half the limit. */
#ifndef CAIRN_SERVER_H
#define CAIRN_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "db.h"
#include "ingest_writer.h"
#include "session.h"
#include "keys.h"

struct server_params {
	char listen[CONFIG_STR_MAX];  /* "[::]:7415", "0.0.0.0:7415", "127.0.0.1:0" */
	uint32_t max_connections;
	uint64_t handshake_timeout_ms;
	uint64_t idle_timeout_ms;
	uint32_t max_frame;
	struct ingest_limits limits;
	enum accept_mode accept;
	bool have_enroll_key;
	uint8_t enroll_key[32];
	uint64_t commit_interval_ms;
	uint32_t commit_batches;
	uint32_t queue_max;           /* writer queue length that pauses reading */
	uint32_t session_inflight_max;/* per connection, batches awaiting commit */
};

/* Defaults from a collector_config (listen, limits, timeouts, commit). */
void server_params_from_config(struct server_params *p, const struct collector_config *c);

struct server_stats {
	uint64_t accepted, refused_busy, pauses, log_suppressed;
	uint64_t ack_latency_us_sum, ack_latency_n;
};

struct server {
	uv_loop_t *loop;
	struct server_params p;
	const struct keypair *id;
	struct db_env *env;
	uv_tcp_t listener;
	bool listening;
	char bound[80];               /* the actual address:port after bind */
	uv_timer_t sweep;             /* timeouts, once per 250 ms */
	uv_async_t done_async;        /* writer -> loop */
	pthread_mutex_t done_mu;
	struct ingest_item *done_head, *done_tail;
	struct ingest_writer writer;
	bool writer_started;
	struct session *sessions;     /* doubly linked */
	uint32_t nsessions;
	struct session_hub hub;       /* what sessions see: settings, state, the calls below */
	struct server_stats stats;
	/* log rate limit for per-connection refusals */
	uint64_t log_window_ms;
	uint32_t log_in_window;
	/* called after a commit that stored batches (e.g. debounced recompute) */
	void (*on_stored)(struct server *s, void *arg);
	void *on_stored_arg;
	/* ACK latency samples (µs), ring, for the benchmark */
	uint32_t lat[8192];
	uint32_t lat_n;
};

/* Binds and listens; starts the writer thread. -EADDRINUSE etc. with eb
 * naming the address. id and env must outlive the server. */
int server_start(struct server *s, uv_loop_t *loop, const struct server_params *p,
		 const struct keypair *id, struct db_env *env, struct errbuf *eb);
/* Stops accepting, commits what is queued (drain_ms at most when storage is
 * full), closes every connection and handle. Run the loop afterwards until
 * it returns. */
void server_stop(struct server *s, uint64_t drain_ms);

/* Rate-limited warning about one connection (max 20 lines per second; the
 * rest is counted and summarised). */
void server_log_conn(struct server *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Queues a retention sweep (ingest_prune) for data older than cutoff_ms. */
void server_prune(struct server *s, int64_t cutoff_ms);

/* What the hub calls (also for tests). */
void server_submit(struct server *s, struct ingest_item *it);
void server_session_closed(struct server *s, struct session *se);
void server_record_latency(struct server *s, uint64_t us);

#endif
