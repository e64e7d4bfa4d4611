/* One agent connection on the collector: frame decoding, handshake, channel,
 * batches to the ingest writer, ACKs back. Lives on the server's loop.
 *
 * Lifetime: the server (through its session_hub) allocates a session per accepted socket; it holds one
 * reference for the socket and one per item travelling through the writer,
 * and is freed when the socket is closed and the last item came back. */
#ifndef CAIRN_SESSION_H
#define CAIRN_SESSION_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "frame.h"
#include "handshake.h"
#include "config.h"
#include "ingest_writer.h"
#include "keys.h"

struct session;

/* Successful handshakes log one info line per agent key per
 * SESSION_CONNECT_LOG_MS; later ones in that window are counted and the
 * count is named by the next line logged for that key. */
#define SESSION_CONNECT_LOG_MS 60000
#define SESSION_CONNECT_LOG_SLOTS 1024

struct session_connect_log {
	uint8_t key[8];            /* first bytes of the agent key */
	uint64_t window_start_ms;  /* time_mono_ms() of the last line logged */
	uint32_t suppressed;
};

/* Counters sessions keep for their server. */
struct session_counters {
	uint64_t handshakes_ok, handshakes_failed, timeouts, frames_too_large, decrypt_failures,
		batches_in, acks_sent, sessions_replaced, conflicts, connect_logs_suppressed;
};

/* All a session knows of the server that accepted it: the server embeds one
 * hub, fills it in before the first session and implements the four calls.
 * session.c reaches its server only through this (the dependency points
 * server -> session, never back). Everything runs on the server's loop. */
struct session_hub {
	/* settings, fixed while sessions exist */
	const struct keypair *id;
	uint64_t handshake_timeout_ms, idle_timeout_ms;
	uint32_t max_frame, max_records;
	uint32_t inflight_max;         /* batches per connection awaiting commit */
	enum accept_mode accept;
	bool have_enroll_key;
	uint8_t enroll_key[32];
	/* the server's state */
	bool paused;                   /* backpressure: nobody reads */
	bool stopping;
	uint8_t readbuf[64 * 1024];    /* shared: alloc_cb and read_cb pair up on one loop */
	bool readbuf_busy;
	struct session *ack_head;      /* sessions owing an ACK after this round */
	struct session_counters stats;
	struct session_connect_log connect_log[SESSION_CONNECT_LOG_SLOTS];
	/* calls into the server */
	void (*submit)(struct session_hub *hub, struct ingest_item *it);
	void (*closed)(struct session_hub *hub, struct session *se);
	void (*latency)(struct session_hub *hub, uint64_t us);
	/* se (verified key se->agent_id) starts streaming: every other session
	 * of the same key is closed with ERROR(REPLACED) — one session per
	 * agent key. Returns how many were replaced. */
	unsigned (*streaming)(struct session_hub *hub, struct session *se);
	/* a rate-limited warning about one connection */
	void (*log)(struct session_hub *hub, const char *fmt, va_list ap);
};

enum session_state {
	SESSION_HANDSHAKE,  /* waiting for HELLO / AUTH */
	SESSION_DECIDING,   /* AUTH verified, enrollment at the writer */
	SESSION_STREAM,     /* READY sent: batches flow */
	SESSION_CLOSING,
};

struct session {
	uv_tcp_t tcp;
	struct session_hub *hub;
	struct session *prev, *next;
	int refs;
	enum session_state state;
	bool reading;
	bool closing;          /* uv_close called or pending after a final write */
	char peer[64];         /* "address:port" ([v6]:port) */
	char fp[KEY_FINGERPRINT_HEX_LEN + 1]; /* set once AUTH verified the key */
	uint64_t deadline_ms;  /* handshake or idle deadline, time_mono_ms() */
	struct frame_decoder dec;
	struct handshake_server hs;
	uint8_t agent_id[KEY_PUBLIC_LEN];
	uint32_t inflight;     /* items at the writer */
	uint64_t acked;        /* highest seq ACKed on this connection */
	uint64_t ack_due;      /* highest durable seq to ACK at the next flush */
	bool ack_queued;       /* on the server's ACK list (holds a reference) */
	struct session *ack_next;
	uint64_t batches, bytes_in;
};

/* Initialises se for an accepted uv_tcp_t already inited on the loop. */
void session_init(struct session *se, struct session_hub *hub);
/* Starts reading after the peer address is known. */
void session_start(struct session *se);
/* Called by the server for each item the writer finished. */
void session_on_done(struct session *se, struct ingest_item *it);
/* Sends the one cumulative ACK owed after a round of session_on_done calls
 * (ACKs are cumulative: one frame covers every batch of the round). */
void session_flush_ack(struct session *se);
/* Checks the deadline against now; closes with ERROR(TIMEOUT) when past. */
void session_check_timeout(struct session *se, uint64_t now_ms);
/* Starts or stops reading according to backpressure and state. */
void session_update_reading(struct session *se);
/* Sends an ERROR (sealed once keys exist, else plain) and closes after it. */
void session_fail(struct session *se, uint16_t code, const char *text);
/* Closes the socket now (no more writes). */
void session_close(struct session *se);
void session_ref(struct session *se);
void session_unref(struct session *se);

#endif
