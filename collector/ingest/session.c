#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "log.h"
#include <stdarg.h>

__attribute__((format(printf, 2, 3)))
static void hub_log(struct session_hub *hub, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	hub->log(hub, fmt, ap);
	va_end(ap);
}

struct write_req {
	uv_write_t req;
	struct session *se;
	bool close_after;
	uint8_t *data;
};

void session_ref(struct session *se)
{
	se->refs++;
}

static void session_free(struct session *se)
{
	frame_decoder_free(&se->dec);
	handshake_server_wipe(&se->hs);
	free(se);
}

void session_unref(struct session *se)
{
	if (--se->refs == 0)
		session_free(se);
}

static void on_close(uv_handle_t *h)
{
	struct session *se = h->data;
	se->hub->closed(se->hub, se);
	session_unref(se);
}

void session_close(struct session *se)
{
	if (se->closing)
		return;
	se->closing = true;
	se->state = SESSION_CLOSING;
	se->reading = false;
	uv_close((uv_handle_t *)&se->tcp, on_close);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct session *se = wr->se;
	free(wr->data);
	if ((status < 0 || wr->close_after) && !se->closing)
		session_close(se);
	session_unref(se);
	free(wr);
}

/* Queues data (malloc'd, ownership taken) for writing. */
static void session_write(struct session *se, uint8_t *data, size_t len, bool close_after)
{
	if (se->closing) {
		free(data);
		return;
	}
	struct write_req *wr = calloc(1, sizeof(*wr));
	if (!wr) {
		free(data);
		session_close(se);
		return;
	}
	wr->se = se;
	wr->data = data;
	wr->close_after = close_after;
	uv_buf_t buf = uv_buf_init((char *)data, (unsigned)len);
	session_ref(se);
	int rc = uv_write(&wr->req, (uv_stream_t *)&se->tcp, &buf, 1, on_write);
	if (rc) {
		session_unref(se);
		free(data);
		free(wr);
		session_close(se);
	}
}

static void send_out(struct session *se, struct handshake_out *out, bool close_after)
{
	for (size_t i = 0; i < out->n; i++) {
		session_write(se, out->data[i], out->len[i], close_after && i + 1 == out->n);
		out->data[i] = NULL;
	}
	out->n = 0;
}

static bool have_keys(const struct session *se)
{
	return se->hs.state == HSS_DECIDE || se->hs.state == HSS_DONE ||
	       (se->hs.state == HSS_FAILED && se->hs.ch.tx_started);
}

void session_fail(struct session *se, uint16_t code, const char *text)
{
	if (se->closing)
		return;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	if (se->state == SESSION_STREAM || se->state == SESSION_DECIDING || have_keys(se)) {
		uint8_t body[3 + CHANNEL_ERROR_TEXT_MAX];
		size_t n = channel_error_encode(body, code, text);
		rc = channel_seal(&se->hs.ch, FRAME_ERROR, body, n, true, &buf, &len);
	} else {
		rc = channel_error_frame_plain(code, text, &buf, &len);
	}
	se->state = SESSION_CLOSING;
	if (se->reading) {
		uv_read_stop((uv_stream_t *)&se->tcp);
		se->reading = false;
	}
	if (rc) {
		session_close(se);
		return;
	}
	session_write(se, buf, len, true);
}

static const char *who(const struct session *se)
{
	return se->fp[0] ? se->fp : "-";
}

/* For lines about a handshake that did not verify: the key HELLO claimed
 * is anybody's to claim, so it is named as such (or not at all when no
 * HELLO was parsed). */
static const char *claimed(const struct session *se, char *buf, size_t n)
{
	if (se->fp[0])
		snprintf(buf, n, "agent %s", se->fp);
	else if (sodium_is_zero(se->hs.agent_pk, KEY_PUBLIC_LEN))
		snprintf(buf, n, "no agent key sent");
	else {
		char fp[KEY_FINGERPRINT_HEX_LEN + 1];
		keys_fingerprint(se->hs.agent_pk, fp);
		snprintf(buf, n, "claimed agent %s, not verified", fp);
	}
	return buf;
}

/* One info line per agent key per SESSION_CONNECT_LOG_MS: true when this
 * handshake may be logged; *suppressed gets how many were not since the
 * last line for this key. */
static bool connect_log_allowed(struct session_hub *hub, const uint8_t *key, uint32_t *suppressed)
{
	uint64_t now = time_mono_ms();
	uint32_t h = ((uint32_t)key[0] | (uint32_t)key[1] << 8 | (uint32_t)key[2] << 16 |
		      (uint32_t)key[3] << 24) % SESSION_CONNECT_LOG_SLOTS;
	struct session_connect_log *slot = &hub->connect_log[h];
	bool same = !memcmp(slot->key, key, sizeof(slot->key)) && slot->window_start_ms;
	*suppressed = 0;
	if (same && now - slot->window_start_ms < SESSION_CONNECT_LOG_MS) {
		slot->suppressed++;
		hub->stats.connect_logs_suppressed++;
		return false;
	}
	if (same)
		*suppressed = slot->suppressed;
	memcpy(slot->key, key, sizeof(slot->key));
	slot->window_start_ms = now;
	slot->suppressed = 0;
	return true;
}

/* ------------------------------------------------------------ handshake */

static void on_handshake_frame(struct session *se, struct frame *f)
{
	struct session_hub *hub = se->hub;
	struct handshake_out out = { 0 };
	int rc = handshake_server_feed(&se->hs, f, &out);
	if (rc == HANDSHAKE_DECIDE) {
		/* AUTH verified: from here on the key is this peer's */
		keys_fingerprint(se->hs.agent_pk, se->fp);
		memcpy(se->agent_id, se->hs.agent_pk, KEY_PUBLIC_LEN);
	}
	if (rc < 0) {
		char cl[64];
		hub->stats.handshakes_failed++;
		hub_log(hub, "handshake with %s (%s) failed: %s (%s); connection closed",
				se->peer, claimed(se, cl, sizeof(cl)),
				se->hs.fail_reason ? se->hs.fail_reason : "error",
				proto_error_name(se->hs.fail_code));
		se->state = SESSION_CLOSING;
		if (se->reading) {
			uv_read_stop((uv_stream_t *)&se->tcp);
			se->reading = false;
		}
		if (out.n)
			send_out(se, &out, true);
		else
			session_close(se);
		return;
	}
	send_out(se, &out, false);
	if (rc == HANDSHAKE_DECIDE) {
		struct ingest_item *it = calloc(1, sizeof(*it));
		if (!it) {
			session_fail(se, PROTO_ERR_INTERNAL, "collector out of memory");
			return;
		}
		it->kind = INGEST_KIND_ENROLL;
		memcpy(it->agent_id, se->hs.agent_pk, KEY_PUBLIC_LEN);
		str_copy(it->hostname, se->hs.hostname, sizeof(it->hostname));
		str_copy(it->peer, se->peer, sizeof(it->peer));
		it->mac_valid = se->hs.mac_valid;
		it->accept_mode = hub->accept;
		it->owner = se;
		se->state = SESSION_DECIDING;
		se->inflight++;
		session_ref(se);
		hub->submit(hub, it);
		session_update_reading(se);
	}
}

static void on_enroll_done(struct session *se, struct ingest_item *it)
{
	struct session_hub *hub = se->hub;
	if (it->result != INGEST_OK) {
		log_error("enrollment of agent %s at %s could not be stored: %s", who(se), se->peer,
			  it->detail);
		session_fail(se, PROTO_ERR_INTERNAL, "collector storage failure: retry later");
		return;
	}
	struct handshake_out out = { 0 };
	const struct enroll_outcome *o = &it->enroll;
	if (!o->accepted) {
		hub->stats.handshakes_failed++;
		hub_log(hub, "agent %s ('%s') at %s refused: %s (%s)", who(se),
				se->hs.hostname, se->peer, o->refuse_text,
				proto_error_name(o->refuse_code));
		handshake_server_refuse(&se->hs, o->refuse_code, o->refuse_text, &out);
		se->state = SESSION_CLOSING;
		send_out(se, &out, true);
		return;
	}
	struct channel_ready r = {
		.state = (uint8_t)o->state,
		.high_seq = o->high_seq,
		.max_frame = hub->max_frame,
		.max_records = hub->max_records,
	};
	if (handshake_server_accept(&se->hs, &r, &out) != 0) {
		session_fail(se, PROTO_ERR_INTERNAL, "collector failed to seal READY");
		return;
	}
	hub->stats.handshakes_ok++;
	uint32_t suppressed = 0;
	if (o->auto_accepted)
		log_notice("agent %s ('%s') at %s enrolled automatically (accept=%s)", who(se),
			   se->hs.hostname, se->peer, hub->accept == ACCEPT_ANY ? "any" : "token");
	else if (connect_log_allowed(hub, se->agent_id, &suppressed)) {
		char more[96] = "";
		if (suppressed)
			snprintf(more, sizeof(more), " (%u more connections of this agent not "
				 "logged since the last line)", suppressed);
		log_info("agent %s ('%s') connected from %s, stored up to seq %llu%s", who(se),
			 se->hs.hostname, se->peer, (unsigned long long)o->high_seq, more);
	}
	se->acked = o->high_seq;
	se->state = SESSION_STREAM;
	hub->stats.sessions_replaced += hub->streaming(hub, se);
	frame_decoder_set_max(&se->dec, hub->max_frame);
	se->deadline_ms = time_mono_ms() + hub->idle_timeout_ms;
	send_out(se, &out, false);
	session_update_reading(se);
}

/* ------------------------------------------------------------ stream */

static void send_sealed(struct session *se, uint8_t type, const uint8_t *body, size_t len)
{
	uint8_t *buf;
	size_t blen;
	if (channel_seal(&se->hs.ch, type, body, len, false, &buf, &blen) != 0) {
		session_close(se);
		return;
	}
	session_write(se, buf, blen, false);
}

static void on_batch(struct session *se, struct frame *inner)
{
	struct session_hub *hub = se->hub;
	struct channel_batch b;
	if (channel_batch_decode(inner->body, inner->len, &b) != 0) {
		hub_log(hub, "agent %s at %s: BATCH shorter than its header (%zu bytes); "
				"connection closed", who(se), se->peer, inner->len);
		session_fail(se, PROTO_ERR_PROTOCOL, "BATCH shorter than seq + signature");
		return;
	}
	struct ingest_item *it = calloc(1, sizeof(*it));
	if (!it) {
		session_fail(se, PROTO_ERR_INTERNAL, "collector out of memory");
		return;
	}
	it->kind = INGEST_KIND_BATCH;
	memcpy(it->agent_id, se->agent_id, KEY_PUBLIC_LEN);
	it->seq = b.seq;
	memcpy(it->sig, b.signature, SIGN_LEN);
	it->payload_len = b.payload_len;
	/* take the decrypted buffer over instead of copying the payload */
	memmove(inner->body, b.payload, b.payload_len);
	it->payload = inner->body;
	inner->body = NULL;
	it->owner = se;
	se->inflight++;
	se->batches++;
	hub->stats.batches_in++;
	session_ref(se);
	hub->submit(hub, it);
	session_update_reading(se);
}

static void on_stream_frame(struct session *se, struct frame *f)
{
	struct session_hub *hub = se->hub;
	if (f->type != FRAME_SEALED) {
		hub_log(hub, "agent %s at %s sent an unsealed %s frame after the handshake; "
				"connection closed", who(se), se->peer, frame_type_name(f->type));
		session_fail(se, PROTO_ERR_PROTOCOL, "only sealed frames after the handshake");
		return;
	}
	struct frame inner = { 0 };
	int rc = channel_open(&se->hs.ch, f->body, f->len, &inner);
	if (rc) {
		hub->stats.decrypt_failures++;
		hub_log(hub, "agent %s at %s: sealed frame does not authenticate (%s); "
				"connection closed", who(se), se->peer, strerror(-rc));
		session_fail(se, PROTO_ERR_DECRYPT, "sealed frame failed authentication");
		return;
	}
	se->deadline_ms = time_mono_ms() + hub->idle_timeout_ms;
	uint64_t token;
	switch (inner.type) {
	case FRAME_BATCH:
		on_batch(se, &inner);
		break;
	case FRAME_PING:
		if (channel_u64_decode(inner.body, inner.len, &token) == 0) {
			uint8_t b[8];
			channel_u64_encode(b, token);
			send_sealed(se, FRAME_PONG, b, sizeof(b));
		} else {
			session_fail(se, PROTO_ERR_PROTOCOL, "PING body must be 8 bytes");
		}
		break;
	case FRAME_PONG:
		break;
	case FRAME_ERROR: {
		struct channel_error e;
		if (channel_error_decode(inner.body, inner.len, &e) == 0)
			log_info("agent %s at %s closed with %s: %s", who(se), se->peer,
				 proto_error_name(e.code), e.text);
		session_close(se);
		break;
	}
	default:
		hub_log(hub, "agent %s at %s sent unexpected %s; connection closed", who(se),
				se->peer, frame_type_name(inner.type));
		session_fail(se, PROTO_ERR_PROTOCOL, "unexpected frame type");
		break;
	}
	free(inner.body);
}

void session_on_done(struct session *se, struct ingest_item *it)
{
	struct session_hub *hub = se->hub;
	se->inflight--;
	if (se->closing || se->state == SESSION_CLOSING)
		return;
	if (it->kind == INGEST_KIND_ENROLL) {
		on_enroll_done(se, it);
		return;
	}
	/* what became durable before a rejection is still ACKed, before the ERROR */
	if (it->result != INGEST_OK && it->result != INGEST_REPLAY)
		session_flush_ack(se);
	switch (it->result) {
	case INGEST_OK:
	case INGEST_REPLAY:
		if (it->result == INGEST_REPLAY)
			log_info("agent %s at %s: batch %s, not stored again (acknowledged)", who(se),
				 se->peer, it->detail);
		/* a replay is ACKed even when nothing new became durable: the agent
		 * resent it because it never saw the ACK, and frees its spool on it.
		 * One cumulative ACK per round (session_flush_ack). */
		if (it->ack_seq > se->acked || it->result == INGEST_REPLAY) {
			if (it->ack_seq > se->ack_due)
				se->ack_due = it->ack_seq;
			if (!se->ack_queued) {
				se->ack_queued = true;
				session_ref(se);
				se->ack_next = hub->ack_head;
				hub->ack_head = se;
			}
		}
		hub->latency(hub, time_mono_us() - it->submitted_us);
		break;
	case INGEST_BAD_SIGNATURE:
		hub_log(hub, "agent %s at %s: batch rejected: %s; nothing stored, "
				"connection closed", who(se), se->peer, it->detail);
		session_fail(se, PROTO_ERR_BAD_SIGNATURE, "batch signature does not verify");
		return;
	case INGEST_MALFORMED:
		hub_log(hub, "agent %s at %s: batch rejected: %s; nothing stored, "
				"connection closed", who(se), se->peer, it->detail);
		session_fail(se, PROTO_ERR_MALFORMED, "batch payload does not decode");
		return;
	case INGEST_LIMIT:
		hub_log(hub, "agent %s at %s: batch seq %llu rejected: %s; nothing stored, "
				"connection closed", who(se), se->peer,
				(unsigned long long)it->seq, it->detail);
		session_fail(se, PROTO_ERR_LIMIT, it->detail);
		return;
	case INGEST_CONFLICT:
		hub->stats.conflicts++;
		hub_log(hub, "agent %s at %s: batch %s: agent key used by two machines? (a cloned VM "
				"or restored state dir; docs/operations.md); refused, connection "
				"closed", who(se), se->peer, it->detail);
		session_fail(se, PROTO_ERR_CONFLICT,
			     "seq already stored with other content: agent key used by two "
			     "machines? keep the batch");
		return;
	case INGEST_NOT_ENROLLED:
		hub_log(hub, "agent %s at %s: batch refused: %s; connection closed", who(se),
				se->peer, it->detail);
		session_fail(se, PROTO_ERR_REVOKED, "agent is no longer accepted");
		return;
	case INGEST_FAILED:
		session_fail(se, PROTO_ERR_INTERNAL, "collector could not store the batch: retry");
		return;
	}
	session_update_reading(se);
}

void session_flush_ack(struct session *se)
{
	if (!se->ack_queued)
		return;
	se->ack_queued = false;
	if (se->closing || se->state != SESSION_STREAM)
		return;
	uint8_t b[8];
	if (se->ack_due > se->acked)
		se->acked = se->ack_due;
	channel_u64_encode(b, se->ack_due);
	send_sealed(se, FRAME_ACK, b, sizeof(b));
	se->hub->stats.acks_sent++;
}

/* ------------------------------------------------------------ reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct session *se = h->data;
	struct session_hub *hub = se->hub;
	(void)suggested;
	if (hub->readbuf_busy) {
		buf->base = NULL;
		buf->len = 0;
		return;
	}
	hub->readbuf_busy = true;
	*buf = uv_buf_init((char *)hub->readbuf, sizeof(hub->readbuf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct session *se = stream->data;
	struct session_hub *hub = se->hub;
	if (buf->base == (char *)hub->readbuf)
		hub->readbuf_busy = false;
	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF && nread != UV_ECONNRESET)
			log_debug("connection %s: read: %s", se->peer, uv_strerror((int)nread));
		if (se->state == SESSION_HANDSHAKE && nread == UV_EOF &&
		    (se->dec.hdr_have || se->dec.body_have))
			hub_log(hub, "connection %s (agent %s): EOF inside a frame during the "
					"handshake; closed", se->peer, who(se));
		else if (se->dec.hdr_have || se->dec.body_have)
			hub_log(hub, "connection %s (agent %s): EOF inside a frame (%zu of "
					"%zu body bytes); closed", se->peer, who(se),
					se->dec.body_have, se->dec.body_len);
		session_close(se);
		return;
	}
	se->bytes_in += (uint64_t)nread;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t left = (size_t)nread;
	while (left && !se->closing && se->state != SESSION_CLOSING) {
		size_t used = 0;
		struct frame f = { 0 };
		int rc = frame_decoder_feed(&se->dec, p, left, &used, &f);
		p += used;
		left -= used;
		if (rc < 0) {
			if (rc == -EMSGSIZE) {
				hub->stats.frames_too_large++;
				hub_log(hub, "connection %s (agent %s): frame of %u bytes above "
						"the %s limit of %u bytes; connection closed",
						se->peer, who(se), db_get_u32(se->dec.hdr),
						se->state == SESSION_STREAM ? "max_frame" : "pre-auth",
						se->dec.max_len);
				session_fail(se, PROTO_ERR_FRAME_TOO_LARGE, "frame above the size limit");
			} else {
				hub_log(hub, "connection %s (agent %s): undecodable frame (%s); "
						"connection closed", se->peer, who(se), strerror(-rc));
				session_fail(se, PROTO_ERR_PROTOCOL, "malformed frame");
			}
			return;
		}
		if (rc == 0)
			break;
		if (se->state == SESSION_HANDSHAKE)
			on_handshake_frame(se, &f);
		else if (se->state == SESSION_STREAM)
			on_stream_frame(se, &f);
		else {
			hub_log(hub, "connection %s (agent %s): frame while enrollment is being "
					"decided; connection closed", se->peer, who(se));
			session_fail(se, PROTO_ERR_PROTOCOL, "wait for READY before sending");
		}
		free(f.body);
	}
	if (left && !se->closing && se->state != SESSION_CLOSING) {
		/* Reading paused mid-buffer is impossible (we only stop between
		 * reads), so leftover bytes mean a state change refused them. */
		session_close(se);
	}
}

void session_update_reading(struct session *se)
{
	struct session_hub *hub = se->hub;
	bool want = !se->closing && se->state != SESSION_CLOSING && se->state != SESSION_DECIDING &&
		    !hub->paused && !hub->stopping && se->inflight < hub->inflight_max;
	if (want == se->reading)
		return;
	if (want) {
		if (uv_read_start((uv_stream_t *)&se->tcp, on_alloc, on_read) == 0)
			se->reading = true;
	} else {
		uv_read_stop((uv_stream_t *)&se->tcp);
		se->reading = false;
	}
}

void session_check_timeout(struct session *se, uint64_t now_ms)
{
	if (se->closing || se->state == SESSION_CLOSING || se->inflight || !se->deadline_ms ||
	    now_ms < se->deadline_ms)
		return;
	struct session_hub *hub = se->hub;
	hub->stats.timeouts++;
	bool hs = se->state != SESSION_STREAM;
	char cl[64];
	hub_log(hub, "connection %s (%s): %s timeout after %llu ms; closed",
			se->peer, claimed(se, cl, sizeof(cl)), hs ? "handshake" : "idle",
			(unsigned long long)(hs ? hub->handshake_timeout_ms : hub->idle_timeout_ms));
	session_fail(se, PROTO_ERR_TIMEOUT, hs ? "handshake timeout" : "idle timeout");
}

void session_init(struct session *se, struct session_hub *hub)
{
	se->hub = hub;
	se->refs = 1;
	se->state = SESSION_HANDSHAKE;
	se->tcp.data = se;
	frame_decoder_init(&se->dec, FRAME_MAX_PREAUTH);
	handshake_server_init(&se->hs, hub->id, hub->have_enroll_key ? hub->enroll_key : NULL);
	se->deadline_ms = time_mono_ms() + hub->handshake_timeout_ms;
}

void session_start(struct session *se)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (uv_tcp_getpeername(&se->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
			uv_ip6_name(a, host, sizeof(host));
			port = ntohs(a->sin6_port);
		} else if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
			uv_ip4_name(a, host, sizeof(host));
			port = ntohs(a->sin_port);
		}
	}
	if (!strncmp(host, "::ffff:", 7) && strchr(host, '.'))
		snprintf(se->peer, sizeof(se->peer), "%s:%d", host + 7, port);
	else if (strchr(host, ':'))
		snprintf(se->peer, sizeof(se->peer), "[%s]:%d", host, port);
	else
		snprintf(se->peer, sizeof(se->peer), "%s:%d", host, port);
	session_update_reading(se);
}
