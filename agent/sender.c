/* The agent's sender (see sender.h). */
#include "sender.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "channel.h"
#include "frame.h"
#include "handshake.h"
#include "log.h"
#include "store.pb-c.h"

#define READ_BUF_LEN (64u << 10)

struct sender_conn {
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	struct sender *s;       /* NULL once the connection is being closed */
	bool ready;
	struct frame_decoder dec;
	struct handshake_client hs;
	bool hs_active;
	struct channel ch;
	uint32_t max_frame;     /* the collector's, from READY */
	uint64_t *inflight;     /* seqs sent and not acknowledged, ascending */
	size_t ninflight, inflight_cap;
	uint64_t next_send;     /* next seq to look for in the spool */
	uint64_t last_rx_ms, last_tx_ms;
	uint64_t ping_token;
	char peer[64];
	uint8_t rbuf[READ_BUF_LEN];
};

struct write_req {
	uv_write_t req;
	uint8_t *buf;
};

static void attempt(struct sender *s);
static void try_connect(struct sender *s);
static void fill_window(struct sender *s);
static void ping_tick(uv_timer_t *t);
static void timeout_cb(uv_timer_t *t);
static void maybe_stopped(struct sender *s);

/* ---------------------------------------------------------------- names */

const char *sender_state_name(enum sender_state st)
{
	switch (st) {
	case SENDER_IDLE: return "idle";
	case SENDER_BACKOFF: return "backoff";
	case SENDER_RESOLVING: return "resolving";
	case SENDER_CONNECTING: return "connecting";
	case SENDER_HANDSHAKE: return "handshake";
	case SENDER_READY: return "connected";
	case SENDER_CLOSING: return "closing";
	}
	return "?";
}

const char *sender_err_name(enum sender_err e)
{
	static const char *const names[SENDER_NERRS] = {
		[SENDER_ERR_RESOLVE] = "resolve",     [SENDER_ERR_CONNECT] = "connect",
		[SENDER_ERR_HANDSHAKE] = "handshake", [SENDER_ERR_REFUSED] = "refused",
		[SENDER_ERR_SEND] = "send",           [SENDER_ERR_PROTOCOL] = "protocol",
		[SENDER_ERR_SPOOL] = "spool",         [SENDER_ERR_CONFLICT] = "conflict",
	};
	return (unsigned)e < SENDER_NERRS ? names[e] : "?";
}

uint64_t sender_backoff_ms(uint64_t min_ms, uint64_t max_ms, uint32_t attempts)
{
	uint64_t d = min_ms ? min_ms : 1;
	for (uint32_t i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	return d > max_ms ? max_ms : d;
}

/* ---------------------------------------------------------------- options */

int sender_opts_from_config(struct sender_opts *o, const struct agent_config *cfg,
			    struct errbuf *eb)
{
	memset(o, 0, sizeof(*o));
	str_copy(o->collector, cfg->collector, sizeof(o->collector));
	if (cfg->collector[0]) {
		if (!cfg->collector_key[0])
			return errbuf_set(eb, -EINVAL,
					  "collector_key is not set: pin the collector's key "
					  "(print it with 'cairn-collector key show' on the collector)");
		if (keys_public_from_hex(cfg->collector_key, o->collector_pk))
			return errbuf_set(eb, -EINVAL,
					  "collector_key: '%s' is not 64 hex digits (copy it from "
					  "'cairn-collector key show')",
					  cfg->collector_key);
	}
	if (cfg->enroll_token[0]) {
		str_copy(o->enroll_token, cfg->enroll_token, sizeof(o->enroll_token));
	} else if (cfg->enroll_token_file[0]) {
		char *text;
		size_t len;
		int rc = file_read_all(cfg->enroll_token_file, 4096, &text, &len, eb);
		if (rc)
			return rc;
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' ||
			       text[len - 1] == ' ' || text[len - 1] == '\t'))
			text[--len] = '\0';
		size_t n = str_copy(o->enroll_token, text, sizeof(o->enroll_token));
		sodium_memzero(text, len);
		free(text);
		if (n >= sizeof(o->enroll_token))
			return errbuf_set(eb, -EINVAL, "%s: enrollment token longer than %zu bytes",
					  cfg->enroll_token_file, sizeof(o->enroll_token) - 1);
	}
	o->max_inflight = cfg->max_inflight ? cfg->max_inflight : 8;
	o->ping_interval_ms = 30 * 1000;
	o->handshake_timeout_ms = 15 * 1000;
	o->connect_timeout_ms = 10 * 1000;
	o->backoff_min_ms = 1000;
	o->backoff_max_ms = 60 * 1000;
	o->ack_flush_ms = 200;
	return 0;
}

/* ---------------------------------------------------------------- errors */

static void record_error(struct sender *s, enum sender_err kind, const char *fmt, va_list ap)
{
	s->st.errors[kind]++;
	vsnprintf(s->st.last_error, sizeof(s->st.last_error), fmt, ap);
	s->st.last_error_ms = time_now_ms();
	if (kind == SENDER_ERR_CONFLICT)
		s->st.last_conflict_ms = s->st.last_error_ms;
}

static void note_error(struct sender *s, enum sender_err kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note_error(struct sender *s, enum sender_err kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	record_error(s, kind, fmt, ap);
	va_end(ap);
	log_warn("collector %s: %s", s->opts.collector, s->st.last_error);
}

/* ---------------------------------------------------------------- acks */

static void apply_acks(struct sender *s)
{
	if (s->ack_pending <= s->ack_applied)
		return;
	int rc = spool_ack(s->spool, s->ack_pending);
	if (rc) {
		note_error(s, SENDER_ERR_SPOOL, "cannot delete acknowledged batches <= %llu: %s",
			   (unsigned long long)s->ack_pending, db_strerror(rc));
		return;
	}
	s->ack_applied = s->ack_pending;
}

static void ack_timer_cb(uv_timer_t *t)
{
	apply_acks(t->data);
}

/* ---------------------------------------------------------------- connection */

static void conn_free_cb(uv_handle_t *h)
{
	struct sender_conn *c = h->data;
	free(c->inflight);
	sodium_memzero(c, sizeof(*c));
	free(c);
}

/* Detaches the connection from the sender and closes it. */
static void conn_close(struct sender *s)
{
	struct sender_conn *c = s->conn;
	if (!c)
		return;
	s->conn = NULL;
	c->s = NULL;
	uv_timer_stop(&s->timer);
	frame_decoder_free(&c->dec);
	if (c->hs_active)
		handshake_client_wipe(&c->hs);
	c->hs_active = false;
	channel_wipe(&c->ch);
	s->st.connected = false;
	s->st.inflight = 0;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, conn_free_cb);
}

static void schedule_retry(struct sender *s);

/* A failure of the current connection: count it, close, retry later. */
static void conn_fail(struct sender *s, enum sender_err kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conn_fail(struct sender *s, enum sender_err kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	record_error(s, kind, fmt, ap);
	va_end(ap);
	log_warn("collector %s (%s): %s", s->opts.collector, s->st.peer, s->st.last_error);
	conn_close(s);
	schedule_retry(s);
}

static void write_cb(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct sender_conn *c = req->handle->data;
	free(w->buf);
	free(w);
	if (status < 0 && status != UV_ECANCELED && c->s)
		conn_fail(c->s, SENDER_ERR_SEND, "write failed: %s", uv_strerror(status));
}

/* Queues buf (malloc'd; ownership passes here) on the connection. */
static int conn_write(struct sender_conn *c, uint8_t *buf, size_t len)
{
	struct write_req *w = malloc(sizeof(*w));
	if (!w) {
		free(buf);
		return -ENOMEM;
	}
	w->buf = buf;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
	if (rc) {
		free(buf);
		free(w);
		return rc;
	}
	c->last_tx_ms = time_mono_ms();
	return 0;
}

static int conn_send_sealed(struct sender_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
	uint8_t *out;
	size_t out_len;
	int rc = channel_seal(&c->ch, type, body, len, false, &out, &out_len);
	if (rc)
		return rc;
	return conn_write(c, out, out_len);
}

static int conn_send_hs(struct sender_conn *c, struct handshake_out *out)
{
	int rc = 0;
	for (size_t i = 0; i < out->n; i++) {
		if (!rc)
			rc = conn_write(c, out->data[i], out->len[i]);
		else
			free(out->data[i]);
		out->data[i] = NULL;
	}
	out->n = 0;
	return rc;
}

/* ---------------------------------------------------------------- streaming */

static void on_ready(struct sender *s, struct sender_conn *c)
{
	const struct channel_ready ready = c->hs.ready; /* the handshake is wiped below */
	const struct channel_ready *r = &ready;
	bool raised = false;
	int rc;

	c->ch = c->hs.ch;
	c->max_frame = r->max_frame ? r->max_frame : FRAME_MAX_DEFAULT;
	s->st.collector_high_seq = r->high_seq;
	s->st.enroll_state = r->state;
	handshake_client_wipe(&c->hs);
	c->hs_active = false;
	c->ready = true;

	if (r->high_seq < s->ack_applied)
		log_warn("collector %s reports seq %llu stored, but had acknowledged up to %llu: "
			 "batches %llu..%llu were lost on the collector side (restored store?) and "
			 "are no longer in this agent's spool",
			 s->opts.collector, (unsigned long long)r->high_seq,
			 (unsigned long long)s->ack_applied, (unsigned long long)r->high_seq + 1,
			 (unsigned long long)s->ack_applied);
	/* A batch this agent spooled and never sent, at or below what the
	 * collector has stored: another machine stored that seq with this key
	 * (a cloned VM or a copied state dir). Advancing would drop this
	 * machine's batches as if they had been delivered: keep them and send
	 * the first, so that the collector, which has that seq with other
	 * content, refuses it as a conflict, counts it and says so. */
	uint64_t lo = s->unsent_from > s->max_sent_seq ? s->unsent_from : s->max_sent_seq + 1;
	uint64_t clash = 0;
	struct spool_entry e;
	if (lo <= r->high_seq && spool_get(s->spool, lo, &e) == 0) {
		if (e.seq <= r->high_seq)
			clash = e.seq;
		spool_entry_free(&e);
	}
	if (clash) {
		log_warn("collector %s has seq %llu stored, which this agent spooled and never "
			 "sent: is this agent key used by two machines? sending it for the "
			 "collector to judge",
			 s->opts.collector, (unsigned long long)clash);
		c->next_send = clash;
	} else {
		/* Whatever the collector stored is done; if it is ahead of us,
		 * our spool was reset and numbering continues after its
		 * high-water mark. */
		apply_acks(s);
		rc = spool_advance(s->spool, r->high_seq + 1, &raised);
		if (rc) {
			conn_fail(s, SENDER_ERR_SPOOL,
				  "cannot record the collector's seq %llu in the spool: %s",
				  (unsigned long long)r->high_seq, db_strerror(rc));
			return;
		}
		if (r->high_seq > s->ack_applied)
			s->ack_applied = s->ack_pending = s->st.acked_seq = r->high_seq;
		if (raised)
			log_warn("collector %s has batches up to seq %llu, beyond this agent's "
				 "spool (state dir reset?): continuing at %llu",
				 s->opts.collector, (unsigned long long)r->high_seq,
				 (unsigned long long)r->high_seq + 1);
		c->next_send = r->high_seq + 1;
	}
	c->inflight_cap = s->opts.max_inflight ? s->opts.max_inflight : 1;
	c->inflight = calloc(c->inflight_cap, sizeof(*c->inflight));
	if (!c->inflight) {
		conn_fail(s, SENDER_ERR_SEND, "out of memory");
		return;
	}
	s->st.state = SENDER_READY;
	s->st.connected = true;
	s->st.connected_since_ms = time_now_ms();
	s->st.readies++;
	/* The backoff is not reset here but by the first ACK or a link that
	 * stays up (schedule_retry): a collector that READYs and then drops every
	 * link would otherwise draw a fleet back at the minimum delay forever. */
	s->ready_mono = time_mono_ms();
	s->st.backoff_ms = 0;
	s->st.next_attempt_ms = 0;
	log_info("connected to collector %s (%s): stored up to seq %llu%s", s->opts.collector,
		 c->peer, (unsigned long long)r->high_seq,
		 s->probe ? "; probing with one batch in flight" : "");
	uint64_t tick = s->opts.ping_interval_ms / 2;
	uv_timer_start(&s->timer, ping_tick, tick ? tick : 1, tick ? tick : 1);
	fill_window(s);
}

static void fill_window(struct sender *s)
{
	struct sender_conn *c = s->conn;
	if (!c || !c->ready)
		return;
	size_t limit = s->probe ? 1 : c->inflight_cap;
	while (s->conn == c && c->ninflight < limit) {
		struct spool_entry e;
		int rc = spool_get(s->spool, c->next_send, &e);
		if (rc == -ENOENT)
			break;
		if (rc) {
			note_error(s, SENDER_ERR_SPOOL, "cannot read batch >= %llu from the spool: %s",
				   (unsigned long long)c->next_send, db_strerror(rc));
			break;
		}
		uint8_t hdr[CHANNEL_BATCH_HDR_LEN];
		uint8_t *out;
		size_t out_len;
		channel_batch_header(hdr, e.seq, e.sig);
		rc = channel_seal2(&c->ch, FRAME_BATCH, hdr, sizeof(hdr), e.payload, e.payload_len,
				   false, &out, &out_len);
		if (rc) {
			spool_entry_free(&e);
			conn_fail(s, SENDER_ERR_SEND, "cannot seal batch %llu: %s",
				  (unsigned long long)c->next_send, strerror(-rc));
			return;
		}
		if (out_len - FRAME_HEADER_LEN > c->max_frame) {
			/* It would be refused on every connection. */
			log_error("batch %llu is %zu bytes, above the collector's max_frame %u: "
				  "dropping it (recorded as a gap)",
				  (unsigned long long)e.seq, out_len, c->max_frame);
			free(out);
			rc = spool_reject(s->spool, e.seq, CAIRN__GAP_REASON__COLLECTOR_REJECTED);
			if (rc && rc != -ENOENT)
				note_error(s, SENDER_ERR_SPOOL, "cannot drop batch %llu: %s",
					   (unsigned long long)e.seq, db_strerror(rc));
			s->st.rejected_batches++;
			c->next_send = e.seq + 1;
			spool_entry_free(&e);
			continue;
		}
		uint64_t seq = e.seq;
		size_t plen = e.payload_len;
		spool_entry_free(&e);
		rc = conn_write(c, out, out_len);
		if (rc) {
			conn_fail(s, SENDER_ERR_SEND, "cannot send batch %llu: %s",
				  (unsigned long long)seq, uv_strerror(rc));
			return;
		}
		c->inflight[c->ninflight++] = seq;
		c->next_send = seq + 1;
		if (seq <= s->st.last_ack_seq || seq <= s->max_sent_seq)
			s->st.resent_batches++;
		if (seq > s->max_sent_seq)
			s->max_sent_seq = seq;
		s->st.sent_batches++;
		s->st.sent_bytes += plen;
		if (s->probe)
			s->probe_seq = seq;
	}
	s->st.inflight = c->ninflight;
}

static void ping_tick(uv_timer_t *t)
{
	struct sender *s = t->data;
	struct sender_conn *c = s->conn;
	if (!c || !c->ready)
		return;
	uint64_t now = time_mono_ms();
	uint64_t iv = s->opts.ping_interval_ms ? s->opts.ping_interval_ms : 30000;
	if (now - c->last_rx_ms > 3 * iv) {
		conn_fail(s, SENDER_ERR_SEND, "no reply from the collector for %llu s",
			  (unsigned long long)(now - c->last_rx_ms) / 1000);
		return;
	}
	if (now - c->last_tx_ms >= iv || now - c->last_rx_ms >= iv) {
		uint8_t body[8];
		channel_u64_encode(body, ++c->ping_token);
		int rc = conn_send_sealed(c, FRAME_PING, body, sizeof(body));
		if (rc)
			conn_fail(s, SENDER_ERR_SEND, "cannot send PING: %s", uv_strerror(rc));
	}
}

static void handle_ack(struct sender *s, struct sender_conn *c, uint64_t seq)
{
	uint64_t highest_sent = c->ninflight ? c->inflight[c->ninflight - 1] : c->next_send - 1;
	if (seq > highest_sent) {
		conn_fail(s, SENDER_ERR_PROTOCOL, "ACK for seq %llu, but only up to %llu was sent",
			  (unsigned long long)seq, (unsigned long long)highest_sent);
		return;
	}
	size_t n = 0;
	while (n < c->ninflight && c->inflight[n] <= seq)
		n++;
	if (n) {
		memmove(c->inflight, c->inflight + n, (c->ninflight - n) * sizeof(*c->inflight));
		c->ninflight -= n;
	}
	s->st.acks++;
	s->attempts = 0; /* progress: the next failure starts from the shortest delay */
	if (seq > s->st.last_ack_seq || !s->st.last_ack_ms) {
		s->st.last_ack_seq = seq;
	}
	s->st.last_ack_ms = time_now_ms();
	if (s->probe && seq >= s->probe_seq) {
		log_info("collector accepted batch %llu: leaving probe mode",
			 (unsigned long long)seq);
		s->probe = false;
	}
	if (seq > s->ack_pending) {
		s->ack_pending = s->st.acked_seq = seq;
		if (!uv_is_active((uv_handle_t *)&s->ack_timer))
			uv_timer_start(&s->ack_timer, ack_timer_cb, s->opts.ack_flush_ms, 0);
	}
	fill_window(s);
}

static bool content_error(uint16_t code)
{
	return code == PROTO_ERR_MALFORMED || code == PROTO_ERR_LIMIT ||
	       code == PROTO_ERR_BAD_SIGNATURE;
}

static void handle_error(struct sender *s, struct sender_conn *c, const struct channel_error *e)
{
	s->st.last_error_code = e->code;
	if (content_error(e->code) && c->ready) {
		if (s->probe && c->ninflight == 1) {
			uint64_t seq = c->inflight[0];
			int rc = spool_reject(s->spool, seq, CAIRN__GAP_REASON__COLLECTOR_REJECTED);
			if (rc && rc != -ENOENT)
				note_error(s, SENDER_ERR_SPOOL, "cannot drop refused batch %llu: %s",
					   (unsigned long long)seq, db_strerror(rc));
			else
				log_error("collector refused batch %llu twice (%s: %s): dropped it "
					  "from the spool, recorded as a gap",
					  (unsigned long long)seq, proto_error_name(e->code), e->text);
			s->st.rejected_batches++;
			s->probe = false;
		} else if (c->ninflight) {
			s->probe = true;
		}
	}
	if (e->code == PROTO_ERR_CONFLICT) {
		/* Not the batch's fault: another machine sends under our key. The
		 * batch stays in the spool; sending resumes after backoff. */
		char id[KEY_ID_HEX_LEN + 1];
		keys_id_hex(s->id->pk, id);
		conn_fail(s, SENDER_ERR_CONFLICT,
			  "collector refused a batch as a conflict (%s): agent key used by two "
			  "machines? the batches stay in the spool; give the clone its own "
			  "identity (docs/operations.md, 'Cloned agent keys')",
			  e->text);
		log_error("agent %s: the collector stores this seq with other content: is this "
			  "state dir (key) copied to another machine? see docs/operations.md",
			  id);
		return;
	}
	if (e->code == PROTO_ERR_REPLACED)
		log_warn("collector %s: a newer connection with this agent key took over this one "
			 "(a second agent with the same key?)",
			 s->opts.collector);
	conn_fail(s, SENDER_ERR_REFUSED, "collector sent ERROR %s: %s", proto_error_name(e->code),
		  e->text);
	if (e->code == PROTO_ERR_PENDING) {
		char id[KEY_ID_HEX_LEN + 1];
		keys_id_hex(s->id->pk, id);
		log_notice("this agent is not accepted yet: on the collector run "
			   "'cairn-collector agents accept %s'", id);
	}
}

static void handle_sealed(struct sender *s, struct sender_conn *c, const struct frame *f)
{
	struct frame inner = { 0 };
	uint64_t v;
	int rc = channel_open(&c->ch, f->body, f->len, &inner);
	if (rc) {
		conn_fail(s, SENDER_ERR_PROTOCOL, "sealed frame does not decrypt (%s)",
			  rc == -EBADMSG ? "tampered or out of order" : "malformed");
		return;
	}
	switch (inner.type) {
	case FRAME_ACK:
		if (channel_u64_decode(inner.body, inner.len, &v))
			conn_fail(s, SENDER_ERR_PROTOCOL, "malformed ACK (%zu bytes)", inner.len);
		else
			handle_ack(s, c, v);
		break;
	case FRAME_PONG:
		if (channel_u64_decode(inner.body, inner.len, &v))
			conn_fail(s, SENDER_ERR_PROTOCOL, "malformed PONG (%zu bytes)", inner.len);
		break;
	case FRAME_PING:
		if (channel_u64_decode(inner.body, inner.len, &v)) {
			conn_fail(s, SENDER_ERR_PROTOCOL, "malformed PING (%zu bytes)", inner.len);
		} else {
			uint8_t body[8];
			channel_u64_encode(body, v);
			if ((rc = conn_send_sealed(c, FRAME_PONG, body, sizeof(body))))
				conn_fail(s, SENDER_ERR_SEND, "cannot send PONG: %s", uv_strerror(rc));
		}
		break;
	case FRAME_ERROR: {
		struct channel_error e;
		if (channel_error_decode(inner.body, inner.len, &e))
			conn_fail(s, SENDER_ERR_PROTOCOL, "malformed ERROR frame");
		else
			handle_error(s, c, &e);
		break;
	}
	default:
		conn_fail(s, SENDER_ERR_PROTOCOL, "unexpected %s frame after READY",
			  frame_type_name(inner.type));
		break;
	}
	free(inner.body);
}

static void handle_frame(struct sender *s, struct sender_conn *c, const struct frame *f)
{
	if (c->ready) {
		if (f->type == FRAME_SEALED) {
			handle_sealed(s, c, f);
		} else if (f->type == FRAME_ERROR) {
			struct channel_error e;
			if (channel_error_decode(f->body, f->len, &e))
				conn_fail(s, SENDER_ERR_PROTOCOL, "malformed ERROR frame");
			else
				handle_error(s, c, &e);
		} else {
			conn_fail(s, SENDER_ERR_PROTOCOL, "unexpected plain %s frame after READY",
				  frame_type_name(f->type));
		}
		return;
	}
	struct handshake_out out = { 0 };
	int rc = handshake_client_feed(&c->hs, f, &out);
	if (rc < 0) {
		handshake_out_free(&out);
		if (rc == -ECONNREFUSED) {
			handle_error(s, c, &c->hs.error);
			return;
		}
		conn_fail(s, SENDER_ERR_HANDSHAKE, "handshake failed: %s%s",
			  c->hs.fail_reason ? c->hs.fail_reason : strerror(-rc),
			  rc == -EACCES ? " (is collector_key the key 'cairn-collector key show' "
					  "prints on that collector?)"
					: "");
		return;
	}
	rc = conn_send_hs(c, &out);
	if (rc) {
		conn_fail(s, SENDER_ERR_SEND, "cannot send handshake frame: %s", uv_strerror(rc));
		return;
	}
	if (s->conn == c && c->hs.state == HSC_DONE)
		on_ready(s, c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct sender_conn *c = h->data;
	*buf = uv_buf_init((char *)c->rbuf, sizeof(c->rbuf));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct sender_conn *c = stream->data;
	struct sender *s = c->s;
	if (!s)
		return;
	if (nread < 0) {
		conn_fail(s, SENDER_ERR_SEND, "%s",
			  nread == UV_EOF ? "collector closed the connection"
					  : uv_strerror((int)nread));
		return;
	}
	c->last_rx_ms = time_mono_ms();
	size_t off = 0;
	while (off < (size_t)nread && s->conn == c) {
		struct frame f = { 0 };
		size_t used = 0;
		int rc = frame_decoder_feed(&c->dec, (const uint8_t *)buf->base + off,
					    (size_t)nread - off, &used, &f);
		off += used;
		if (rc < 0) {
			conn_fail(s, SENDER_ERR_PROTOCOL, "bad frame from the collector: %s",
				  rc == -EMSGSIZE ? "longer than allowed" : strerror(-rc));
			return;
		}
		if (rc == 1) {
			handle_frame(s, c, &f);
			free(f.body);
		}
		if (!used && rc == 0)
			break;
	}
}

static void connect_cb(uv_connect_t *req, int status)
{
	struct sender_conn *c = req->data;
	struct sender *s = c->s;
	if (!s)
		return;
	if (status < 0) {
		note_error(s, SENDER_ERR_CONNECT, "connect to %s failed: %s", c->peer,
			   uv_strerror(status));
		conn_close(s);
		if (s->addr_next < s->naddrs)
			try_connect(s);
		else
			schedule_retry(s);
		return;
	}
	s->st.connects++;
	c->last_rx_ms = c->last_tx_ms = time_mono_ms();
	uv_tcp_nodelay(&c->tcp, 1);
	uv_tcp_keepalive(&c->tcp, 1, 60);
	int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
	if (rc) {
		conn_fail(s, SENDER_ERR_CONNECT, "cannot read from %s: %s", c->peer, uv_strerror(rc));
		return;
	}
	frame_decoder_init(&c->dec, FRAME_MAX_PREAUTH);
	rc = handshake_client_init(&c->hs, s->id, s->opts.collector_pk,
				   s->opts.enroll_token[0] ? s->opts.enroll_token : NULL,
				   s->opts.hostname);
	if (rc) {
		conn_fail(s, SENDER_ERR_HANDSHAKE, "cannot start the handshake: %s", strerror(-rc));
		return;
	}
	c->hs_active = true;
	struct handshake_out out = { 0 };
	rc = handshake_client_start(&c->hs, &out);
	if (!rc)
		rc = conn_send_hs(c, &out);
	handshake_out_free(&out);
	if (rc) {
		conn_fail(s, SENDER_ERR_HANDSHAKE, "cannot send HELLO: %s", strerror(-rc));
		return;
	}
	s->st.state = SENDER_HANDSHAKE;
	uv_timer_start(&s->timer, timeout_cb, s->opts.handshake_timeout_ms, 0);
}

static void timeout_cb(uv_timer_t *t)
{
	struct sender *s = t->data;
	if (!s->conn)
		return;
	if (s->st.state == SENDER_CONNECTING) {
		note_error(s, SENDER_ERR_CONNECT, "connect to %s timed out after %llu ms",
			   s->conn->peer, (unsigned long long)s->opts.connect_timeout_ms);
		conn_close(s);
		if (s->addr_next < s->naddrs)
			try_connect(s);
		else
			schedule_retry(s);
	} else if (s->st.state == SENDER_HANDSHAKE) {
		conn_fail(s, SENDER_ERR_HANDSHAKE, "no READY within %llu ms",
			  (unsigned long long)s->opts.handshake_timeout_ms);
	}
}

static void addr_str(const struct sockaddr *sa, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
		uv_ip6_name(a, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
		uv_ip4_name(a, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(a->sin_port));
	}
}

static void try_connect(struct sender *s)
{
	if (s->stopping)
		return;
	const struct sockaddr *sa = (const struct sockaddr *)&s->addrs[s->addr_next++];
	struct sender_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		note_error(s, SENDER_ERR_CONNECT, "out of memory");
		schedule_retry(s);
		return;
	}
	c->s = s;
	addr_str(sa, c->peer, sizeof(c->peer));
	str_copy(s->st.peer, c->peer, sizeof(s->st.peer));
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	c->connect_req.data = c;
	s->conn = c;
	s->st.state = SENDER_CONNECTING;
	int rc = uv_tcp_connect(&c->connect_req, &c->tcp, sa, connect_cb);
	if (rc) {
		note_error(s, SENDER_ERR_CONNECT, "connect to %s failed: %s", c->peer,
			   uv_strerror(rc));
		conn_close(s);
		if (s->addr_next < s->naddrs)
			try_connect(s);
		else
			schedule_retry(s);
		return;
	}
	uv_timer_start(&s->timer, timeout_cb, s->opts.connect_timeout_ms, 0);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct sender *s = req->data;
	s->gai_active = false;
	if (s->stopping) {
		if (res)
			uv_freeaddrinfo(res);
		maybe_stopped(s);
		return;
	}
	if (status < 0) {
		note_error(s, SENDER_ERR_RESOLVE, "cannot resolve '%s': %s", s->opts.collector,
			   uv_strerror(status));
		schedule_retry(s);
		return;
	}
	s->naddrs = s->addr_next = 0;
	for (struct addrinfo *a = res; a && s->naddrs < ARRAY_SIZE(s->addrs); a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof(s->addrs[0]))
			continue;
		memcpy(&s->addrs[s->naddrs++], a->ai_addr, a->ai_addrlen);
	}
	uv_freeaddrinfo(res);
	if (!s->naddrs) {
		note_error(s, SENDER_ERR_RESOLVE, "'%s' resolves to no IPv4 or IPv6 address",
			   s->opts.collector);
		schedule_retry(s);
		return;
	}
	try_connect(s);
}

static void attempt(struct sender *s)
{
	char host[CONFIG_STR_MAX];
	uint16_t port = 0;
	if (s->stopping || !s->opts.collector[0])
		return;
	s->st.next_attempt_ms = 0;
	if (config_split_hostport(s->opts.collector, host, sizeof(host), &port)) {
		note_error(s, SENDER_ERR_RESOLVE,
			   "'%s' is not host:port (write IPv6 addresses as [addr]:port)",
			   s->opts.collector);
		schedule_retry(s);
		return;
	}
	if (!port)
		port = COLLECTOR_DEFAULT_PORT;
	s->naddrs = s->addr_next = 0;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&s->addrs[0];
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&s->addrs[0];
	memset(&s->addrs[0], 0, sizeof(s->addrs[0]));
	if (uv_ip4_addr(host, port, a4) == 0 || uv_ip6_addr(host, port, a6) == 0) {
		s->naddrs = 1;
		try_connect(s);
		return;
	}
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_ADDRCONFIG };
	s->gai.data = s;
	int rc = uv_getaddrinfo(s->loop, &s->gai, gai_cb, host, portstr, &hints);
	if (rc) {
		note_error(s, SENDER_ERR_RESOLVE, "cannot resolve '%s': %s", host, uv_strerror(rc));
		schedule_retry(s);
		return;
	}
	s->gai_active = true;
	s->st.state = SENDER_RESOLVING;
}

static void backoff_cb(uv_timer_t *t)
{
	attempt(t->data);
}

static void schedule_retry(struct sender *s)
{
	if (s->stopping)
		return;
	if (s->ready_mono) {
		if (time_mono_ms() - s->ready_mono >= s->opts.backoff_max_ms)
			s->attempts = 0; /* the link was healthy for a while */
		s->ready_mono = 0;
	}
	s->attempts++;
	uint64_t d = sender_backoff_ms(s->opts.backoff_min_ms, s->opts.backoff_max_ms, s->attempts);
	/* Jitter: a fleet restarted together must not reconnect in lockstep. */
	uint64_t half = d / 2;
	d = half + (half ? randombytes_uniform((uint32_t)(half > UINT32_MAX - 1 ? UINT32_MAX - 1
									       : half) + 1)
			 : 0);
	if (d == 0)
		d = 1;
	s->st.state = SENDER_BACKOFF;
	s->st.backoff_ms = d;
	s->st.next_attempt_ms = time_now_ms() + (int64_t)d;
	uv_timer_start(&s->timer, backoff_cb, d, 0);
	log_debug("collector %s: next attempt in %llu ms", s->opts.collector,
		  (unsigned long long)d);
}

/* ---------------------------------------------------------------- public */

int sender_init(struct sender *s, uv_loop_t *loop, struct spool *spool,
		const struct keypair *id, const struct sender_opts *opts)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->spool = spool;
	s->id = id;
	s->opts = *opts;
	if (!s->opts.max_inflight)
		s->opts.max_inflight = 1;
	if (!s->opts.ack_flush_ms)
		s->opts.ack_flush_ms = 1;
	int rc = uv_timer_init(loop, &s->timer);
	if (rc)
		return rc;
	uv_timer_init(loop, &s->ack_timer);
	s->timer.data = s;
	s->ack_timer.data = s;
	s->handles_open = 2;
	s->unsent_from = UINT64_MAX; /* unknown: never judge a clone */
	struct spool_stats st;
	if (spool_stats(spool, &st) == 0) {
		s->ack_applied = s->ack_pending = s->st.acked_seq = st.acked_seq;
		s->st.last_ack_seq = st.acked_seq;
		s->unsent_from = st.next_seq; /* what is in the spool may have been sent */
	}
	s->st.state = SENDER_IDLE;
	return 0;
}

void sender_start(struct sender *s)
{
	if (!s->opts.collector[0]) {
		log_notice("no collector configured: batches stay in the spool");
		return;
	}
	attempt(s);
}

void sender_kick(struct sender *s)
{
	fill_window(s);
}

void sender_update(struct sender *s, const struct sender_opts *o)
{
	bool reconnect = strcmp(s->opts.collector, o->collector) != 0 ||
			 sodium_memcmp(s->opts.collector_pk, o->collector_pk, KEY_PUBLIC_LEN) != 0 ||
			 strcmp(s->opts.enroll_token, o->enroll_token) != 0 ||
			 strcmp(s->opts.hostname, o->hostname) != 0;
	s->opts = *o;
	if (!s->opts.max_inflight)
		s->opts.max_inflight = 1;
	if (!reconnect) {
		if (s->conn && s->conn->ready && s->opts.max_inflight != s->conn->inflight_cap) {
			/* The window size is fixed per connection: reconnect to apply it. */
			reconnect = true;
		} else {
			return;
		}
	}
	if (s->stopping)
		return;
	log_info("collector settings changed: reconnecting to %s",
		 s->opts.collector[0] ? s->opts.collector : "(none)");
	conn_close(s);
	uv_timer_stop(&s->timer);
	if (s->gai_active) {
		uv_cancel((uv_req_t *)&s->gai);
		/* gai_cb still runs; it will connect with the new options. */
		return;
	}
	s->attempts = 0;
	s->st.state = SENDER_IDLE;
	attempt(s);
}

static void maybe_stopped(struct sender *s)
{
	if (s->handles_open == 0 && !s->gai_active && s->stopped_cb) {
		void (*cb)(struct sender *) = s->stopped_cb;
		s->stopped_cb = NULL;
		s->st.state = SENDER_IDLE;
		cb(s);
	}
}

static void handle_closed(uv_handle_t *h)
{
	struct sender *s = h->data;
	s->handles_open--;
	maybe_stopped(s);
}

void sender_stop(struct sender *s, void (*cb)(struct sender *s))
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->stopped_cb = cb;
	s->st.state = SENDER_CLOSING;
	apply_acks(s);
	conn_close(s);
	if (s->gai_active)
		uv_cancel((uv_req_t *)&s->gai);
	uv_close((uv_handle_t *)&s->timer, handle_closed);
	uv_close((uv_handle_t *)&s->ack_timer, handle_closed);
}

const struct sender_stats *sender_get_stats(const struct sender *s)
{
	return &s->st;
}
