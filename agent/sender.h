/* The agent's sender: streams spooled batches to the collector over the
 * authenticated, encrypted channel (common/handshake.h, common/channel.h).
 *
 * A libuv TCP client on the caller's loop. It resolves the collector address
 * ("host:port", "[v6]:port", a DNS name through uv_getaddrinfo, trying every
 * address it returns), connects, runs the handshake client, and after READY:
 *   - acknowledges in the spool everything up to READY's high_seq (the
 *     collector stored it already) and, should the collector be ahead of our
 *     next seq (our spool was lost), continues numbering after it;
 *   - sends spooled batches in seq order, at most max_inflight unacknowledged;
 *   - deletes spool entries only when an ACK covers them (deletes are
 *     coalesced: one spool transaction per ack_flush_ms at most);
 *   - sends PING when the link was quiet for ping_interval_ms, and gives up
 *     on a peer that sent nothing for 3 ping intervals.
 * Any failure closes the connection and retries after an exponential backoff
 * with jitter (backoff_min_ms doubling up to backoff_max_ms, each delay drawn
 * from [d/2, d]); an ACK, or a link that stayed up for backoff_max_ms, resets
 * it (a READY alone does not: a collector that drops every link right after
 * READY would otherwise draw the whole fleet back at the shortest delay).
 *
 * A batch the collector refuses for its content (ERROR malformed, limit or
 * bad signature) would be resent forever. After such an error the sender
 * reconnects with one batch in flight; if that single batch is refused again
 * it is removed from the spool and recorded as a Gap (COLLECTOR_REJECTED), so
 * the stream goes on.
 *
 * Everything runs on the loop thread; nothing here waits on /proc scans. */
#ifndef CAIRN_AGENT_SENDER_H
#define CAIRN_AGENT_SENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "keys.h"
#include "spool.h"

enum sender_state {
	SENDER_IDLE,        /* not started, or stopped */
	SENDER_BACKOFF,     /* waiting before the next attempt */
	SENDER_RESOLVING,
	SENDER_CONNECTING,
	SENDER_HANDSHAKE,
	SENDER_READY,       /* streaming */
	SENDER_CLOSING,
};

/* Error kinds counted for `cairn-agent status`. */
enum sender_err {
	SENDER_ERR_RESOLVE,   /* DNS or address syntax */
	SENDER_ERR_CONNECT,   /* TCP connect refused / unreachable / timed out */
	SENDER_ERR_HANDSHAKE, /* pinned key mismatch, bad signature, timeout */
	SENDER_ERR_REFUSED,   /* collector sent ERROR (pending, rejected, busy ...) */
	SENDER_ERR_SEND,      /* write or read failure on an established link */
	SENDER_ERR_PROTOCOL,  /* malformed or unexpected frame from the collector */
	SENDER_ERR_SPOOL,     /* spool read or ack failed */
	SENDER_ERR_CONFLICT,  /* collector holds our seq with other content: key cloned? */
	SENDER_NERRS
};

struct sender_opts {
	char collector[CONFIG_STR_MAX];          /* host:port; "" = do not connect */
	uint8_t collector_pk[KEY_PUBLIC_LEN];    /* pinned */
	char enroll_token[CONFIG_STR_MAX];       /* "" = none */
	char hostname[256];
	uint32_t max_inflight;                   /* >= 1 */
	uint64_t ping_interval_ms;               /* default 30 s */
	uint64_t handshake_timeout_ms;           /* default 15 s */
	uint64_t connect_timeout_ms;             /* default 10 s */
	uint64_t backoff_min_ms, backoff_max_ms; /* default 1 s, 60 s */
	uint64_t ack_flush_ms;                   /* default 200 ms */
};

struct sender_stats {
	enum sender_state state;
	bool connected;                /* READY received and link up */
	char peer[64];                 /* address:port of the current/last connection */
	int64_t connected_since_ms;
	int64_t last_ack_ms;
	uint64_t last_ack_seq;
	uint64_t acked_seq;            /* highest seq the collector holds (ACK or READY),
					  applied to the spool or not yet */
	uint64_t collector_high_seq;   /* from the last READY */
	uint8_t enroll_state;          /* from the last READY (store.EnrollState) */
	uint64_t inflight;
	uint64_t sent_batches, sent_bytes, acks, resent_batches, rejected_batches;
	uint64_t connects, readies;
	uint64_t errors[SENDER_NERRS];
	char last_error[256];
	int64_t last_error_ms;
	uint16_t last_error_code;      /* enum proto_error of the last ERROR received */
	int64_t last_conflict_ms;      /* the last batch the collector refused as a conflict */
	uint64_t backoff_ms;           /* current delay before the next attempt */
	int64_t next_attempt_ms;       /* wall time of the next attempt, 0 when none */
};

struct sender_conn;

/* Caller-owned; do not touch the fields. */
struct sender {
	uv_loop_t *loop;
	struct spool *spool;
	const struct keypair *id;
	struct sender_opts opts;
	uv_timer_t timer;              /* backoff, connect/handshake timeout, ping */
	uv_timer_t ack_timer;          /* coalesced spool deletes */
	uv_getaddrinfo_t gai;
	bool gai_active;
	struct sender_conn *conn;
	struct sockaddr_storage addrs[8];
	size_t naddrs, addr_next;
	uint32_t attempts;             /* failed attempts since the last progress */
	uint64_t ready_mono;           /* when the current link got READY, 0 = none */
	uint64_t ack_pending;          /* highest ACK not yet applied to the spool */
	uint64_t ack_applied;
	uint64_t max_sent_seq;         /* highest seq ever sent (to count resends) */
	uint64_t unsent_from;          /* spooled from this seq on after the start: a batch
					  at or above it and above max_sent_seq was never
					  sent to anyone */
	bool probe;                    /* one batch in flight after a content error */
	uint64_t probe_seq;            /* seq refused in probe mode */
	bool stopping;
	int handles_open;
	void (*stopped_cb)(struct sender *s);
	struct sender_stats st;
};

/* Fills defaults for the timing fields and max_inflight from cfg; parses the
 * pinned key. -EINVAL (eb says which key) on a bad collector_key. */
int sender_opts_from_config(struct sender_opts *o, const struct agent_config *cfg,
			    struct errbuf *eb);

/* Initialises s on loop. id and spool must outlive it. Starts nothing. */
int sender_init(struct sender *s, uv_loop_t *loop, struct spool *spool,
		const struct keypair *id, const struct sender_opts *opts);
/* Starts connecting (no-op with an empty collector address). */
void sender_start(struct sender *s);
/* A new batch was spooled: send it now if the window allows. */
void sender_kick(struct sender *s);
/* New options (SIGHUP). A changed address, key or token reconnects. */
void sender_update(struct sender *s, const struct sender_opts *opts);
/* Closes the connection and all handles; cb (may be NULL) runs once
 * everything is closed, after which s may be freed. Pending ACKs are applied
 * to the spool first. */
void sender_stop(struct sender *s, void (*cb)(struct sender *s));

const struct sender_stats *sender_get_stats(const struct sender *s);
const char *sender_state_name(enum sender_state st);
const char *sender_err_name(enum sender_err e);

/* Backoff delay for the given number of failed attempts (1 = first retry),
 * without jitter: min * 2^(attempts-1), at most max. Exposed for tests. */
uint64_t sender_backoff_ms(uint64_t min_ms, uint64_t max_ms, uint32_t attempts);

#endif
