/* agent/sender.c against an in-process collector that speaks the real
 * handshake and channel (common/handshake.h): delivery, resend from READY's
 * high_seq, the in-flight window, reconnects, refused batches, key pinning. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "channel.h"
#include "frame.h"
#include "handshake.h"
#include "keys.h"
#include "sender.h"
#include "sign.h"
#include "spool.h"

#define MAX_SEQ 64

/* ---------------------------------------------------------------- fake collector */

struct fake {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int port;
	struct keypair kp;
	const uint8_t *agent_pk;
	uint64_t high;                 /* highest seq stored */
	unsigned stored[MAX_SEQ + 1];  /* times each seq was stored */
	unsigned received;             /* BATCH frames, stored or not */
	unsigned replays;
	unsigned bad_sigs;
	bool ack;                      /* ACK every stored batch */
	unsigned close_after;          /* first connection: close after N batches, no ACK */
	uint64_t reject_seq;           /* answer ERROR MALFORMED to this seq */
	bool drop_on_ready;            /* close every link right after READY */
	unsigned connections, readies;
};

struct fconn {
	uv_tcp_t tcp;
	struct fake *f;
	struct frame_decoder dec;
	struct handshake_server hs;
	struct channel ch;
	bool ready, closing;
	unsigned batches;
	unsigned index;
};

static void fwrite_cb(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

static void fsend(struct fconn *c, uint8_t *buf, size_t len)
{
	uv_write_t *w = malloc(sizeof(*w));
	w->data = buf;
	uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
	if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, fwrite_cb)) {
		free(buf);
		free(w);
	}
}

static void fsend_sealed(struct fconn *c, uint8_t type, const uint8_t *body, size_t len)
{
	uint8_t *out;
	size_t n;
	cr_assert_eq(channel_seal(&c->ch, type, body, len, false, &out, &n), 0);
	fsend(c, out, n);
}

static void fclose_cb(uv_handle_t *h)
{
	struct fconn *c = h->data;
	frame_decoder_free(&c->dec);
	handshake_server_wipe(&c->hs);
	free(c);
}

static void fclose_conn(struct fconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_close((uv_handle_t *)&c->tcp, fclose_cb);
}

static void fhandle_batch(struct fconn *c, const uint8_t *body, size_t len)
{
	struct fake *f = c->f;
	struct channel_batch b;
	cr_assert_eq(channel_batch_decode(body, len, &b), 0);
	f->received++;
	c->batches++;
	if (b.seq == f->reject_seq) {
		uint8_t eb[3 + CHANNEL_ERROR_TEXT_MAX];
		size_t n = channel_error_encode(eb, PROTO_ERR_MALFORMED, "cannot decode batch");
		fsend_sealed(c, FRAME_ERROR, eb, n);
		fclose_conn(c);
		return;
	}
	if (sign_batch_verify(b.signature, f->agent_pk, b.seq, b.payload, b.payload_len)) {
		f->bad_sigs++;
		return;
	}
	if (f->close_after && c->index == 1 && c->batches >= f->close_after) {
		fclose_conn(c);
		return;
	}
	if (b.seq <= f->high) {
		f->replays++;
	} else {
		cr_assert_leq(b.seq, MAX_SEQ);
		f->stored[b.seq]++;
		f->high = b.seq;
	}
	if (f->ack) {
		uint8_t ab[8];
		channel_u64_encode(ab, f->high);
		fsend_sealed(c, FRAME_ACK, ab, sizeof(ab));
	}
}

static void fhandle(struct fconn *c, const struct frame *fr)
{
	struct fake *f = c->f;
	if (!c->ready) {
		struct handshake_out out = { 0 };
		int rc = handshake_server_feed(&c->hs, fr, &out);
		for (size_t i = 0; i < out.n; i++) {
			fsend(c, out.data[i], out.len[i]);
			out.data[i] = NULL;
		}
		out.n = 0;
		if (rc < 0) {
			fclose_conn(c);
			return;
		}
		if (rc == HANDSHAKE_DECIDE) {
			struct channel_ready r = { .state = 2, .high_seq = f->high,
						   .max_frame = FRAME_MAX_DEFAULT,
						   .max_records = 10000 };
			cr_assert_eq(handshake_server_accept(&c->hs, &r, &out), 0);
			for (size_t i = 0; i < out.n; i++) {
				fsend(c, out.data[i], out.len[i]);
				out.data[i] = NULL;
			}
			out.n = 0;
			c->ch = c->hs.ch;
			c->ready = true;
			f->readies++;
			frame_decoder_set_max(&c->dec, FRAME_MAX_DEFAULT);
			if (f->drop_on_ready)
				fclose_conn(c);
		}
		return;
	}
	cr_assert_eq(fr->type, FRAME_SEALED);
	struct frame in = { 0 };
	cr_assert_eq(channel_open(&c->ch, fr->body, fr->len, &in), 0);
	if (in.type == FRAME_BATCH) {
		fhandle_batch(c, in.body, in.len);
	} else if (in.type == FRAME_PING) {
		fsend_sealed(c, FRAME_PONG, in.body, in.len);
	}
	free(in.body);
}

static void falloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	buf->base = malloc(65536);
	buf->len = 65536;
}

static void fread_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct fconn *c = s->data;
	if (n < 0) {
		free(buf->base);
		fclose_conn(c);
		return;
	}
	size_t off = 0;
	while (off < (size_t)n && !c->closing) {
		struct frame fr = { 0 };
		size_t used = 0;
		int rc = frame_decoder_feed(&c->dec, (uint8_t *)buf->base + off, (size_t)n - off,
					    &used, &fr);
		off += used;
		if (rc < 0) {
			fclose_conn(c);
			break;
		}
		if (rc == 1) {
			fhandle(c, &fr);
			free(fr.body);
		}
	}
	free(buf->base);
}

static void fconnection(uv_stream_t *server, int status)
{
	struct fake *f = server->data;
	struct fconn *c = calloc(1, sizeof(*c));
	c->f = f;
	c->index = ++f->connections;
	uv_tcp_init(f->loop, &c->tcp);
	c->tcp.data = c;
	cr_assert_eq(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
	frame_decoder_init(&c->dec, FRAME_MAX_PREAUTH);
	handshake_server_init(&c->hs, &f->kp, NULL);
	uv_read_start((uv_stream_t *)&c->tcp, falloc, fread_cb);
}

static void fake_start(struct fake *f, uv_loop_t *loop)
{
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof(got);
	f->loop = loop;
	cr_assert_eq(keys_generate(&f->kp), 0);
	uv_tcp_init(loop, &f->listener);
	f->listener.data = f;
	uv_ip4_addr("127.0.0.1", 0, &a);
	cr_assert_eq(uv_tcp_bind(&f->listener, (struct sockaddr *)&a, 0), 0);
	cr_assert_eq(uv_listen((uv_stream_t *)&f->listener, 16, fconnection), 0);
	uv_tcp_getsockname(&f->listener, (struct sockaddr *)&got, &len);
	f->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

/* ---------------------------------------------------------------- harness */

static char dir[256];
static uv_loop_t loop;
static struct keypair agent;
static struct spool *sp;
static struct fake fk;
static struct sender snd;
static uv_timer_t poll_timer;
static bool (*done_fn)(void);
static bool timed_out;
static uint64_t deadline;

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the daemon does: a dead peer is an error, not a signal */
	snprintf(dir, sizeof(dir), "/tmp/cairn-test-sender-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(keys_generate(&agent), 0);
	struct errbuf eb;
	cr_assert_eq(spool_open(&sp, dir, SPOOL_MAX_DEFAULT, false, &eb), 0, "%s", eb.msg);
	cr_assert_eq(uv_loop_init(&loop), 0);
	memset(&fk, 0, sizeof(fk));
	fk.agent_pk = agent.pk;
	fk.ack = true;
	fake_start(&fk, &loop);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void teardown(void)
{
	uv_walk(&loop, walk_close, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	cr_assert_eq(uv_loop_close(&loop), 0, "handles left open");
	spool_close(sp);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(sender, .init = setup, .fini = teardown, .timeout = 60);

static void spool_n(int n, size_t len)
{
	for (int i = 0; i < n; i++) {
		uint64_t seq;
		cr_assert_eq(spool_next_seq(sp, &seq), 0);
		uint8_t *p = calloc(1, len);
		uint8_t sig[SIGN_LEN];
		snprintf((char *)p, len, "batch %llu", (unsigned long long)seq);
		sign_batch(sig, agent.sk, agent.pk, seq, p, len);
		struct spool_batch b = { .seq = seq, .sig = sig, .window_start_ms = 1,
					 .window_end_ms = 2, .payload = p, .payload_len = len };
		struct errbuf eb;
		cr_assert_eq(spool_append(sp, &b, NULL, &eb), 0, "%s", eb.msg);
		free(p);
	}
}

static void make_opts(struct sender_opts *o, const char *host, const uint8_t *pin)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->collector, sizeof(o->collector), "%s:%d", host, fk.port);
	memcpy(o->collector_pk, pin, KEY_PUBLIC_LEN);
	snprintf(o->hostname, sizeof(o->hostname), "test-agent");
	o->max_inflight = 4;
	o->ping_interval_ms = 30000;
	o->handshake_timeout_ms = 5000;
	o->connect_timeout_ms = 5000;
	o->backoff_min_ms = 20;
	o->backoff_max_ms = 200;
	o->ack_flush_ms = 10;
}

static void stopped(struct sender *s)
{
	uv_close((uv_handle_t *)&poll_timer, NULL);
	/* Lets uv_run return: the fake's connections end on the agent's EOF. */
	if (!uv_is_closing((uv_handle_t *)&fk.listener))
		uv_close((uv_handle_t *)&fk.listener, NULL);
}

static void poll_cb(uv_timer_t *t)
{
	bool expired = uv_now(&loop) >= deadline;
	if (done_fn() || expired) {
		timed_out = expired && !done_fn();
		uv_timer_stop(t);
		sender_stop(&snd, stopped);
	}
}

/* Runs the sender until done() holds or timeout_ms pass; stops it after. */
static void run_until(const struct sender_opts *o, bool (*done)(void), uint64_t timeout_ms)
{
	done_fn = done;
	timed_out = false;
	cr_assert_eq(sender_init(&snd, &loop, sp, &agent, o), 0);
	uv_timer_init(&loop, &poll_timer);
	uv_update_time(&loop);
	deadline = uv_now(&loop) + timeout_ms;
	uv_timer_start(&poll_timer, poll_cb, 5, 5);
	sender_start(&snd);
	uv_run(&loop, UV_RUN_DEFAULT);
}

static uint64_t spool_batches(void)
{
	struct spool_stats st;
	cr_assert_eq(spool_stats(sp, &st), 0);
	return st.batches;
}

static bool all_acked(void)
{
	return spool_batches() == 0;
}

static void assert_stored_once(uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++)
		cr_assert_eq(fk.stored[s], 1, "seq %llu stored %u times", (unsigned long long)s,
			     fk.stored[s]);
}

/* ---------------------------------------------------------------- tests */

Test(sender, streams_and_deletes_only_acknowledged)
{
	struct sender_opts o;
	spool_n(10, 300);
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	run_until(&o, all_acked, 10000);
	cr_assert_not(timed_out, "spool still holds %llu batches", (unsigned long long)spool_batches());
	assert_stored_once(1, 10);
	cr_assert_eq(fk.replays, 0);
	cr_assert_eq(fk.bad_sigs, 0);
	const struct sender_stats *st = sender_get_stats(&snd);
	cr_assert_eq(st->last_ack_seq, 10);
	cr_assert_eq(st->sent_batches, 10);
	cr_assert_eq(st->readies, 1);
	struct spool_stats ss;
	cr_assert_eq(spool_stats(sp, &ss), 0);
	cr_assert_eq(ss.acked_seq, 10);
}

Test(sender, resolves_names_and_tries_every_address)
{
	/* "localhost" may resolve to ::1 first, where nothing listens. */
	struct sender_opts o;
	spool_n(3, 100);
	make_opts(&o, "localhost", fk.kp.pk);
	run_until(&o, all_acked, 10000);
	cr_assert_not(timed_out);
	assert_stored_once(1, 3);
}

Test(sender, resends_from_ready_high_seq)
{
	struct sender_opts o;
	spool_n(10, 100);
	fk.high = 4; /* the collector stored 1..4 already */
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	run_until(&o, all_acked, 10000);
	cr_assert_not(timed_out);
	for (int s = 1; s <= 4; s++)
		cr_assert_eq(fk.stored[s], 0);
	assert_stored_once(5, 10);
	cr_assert_eq(fk.received, 6, "only 5..10 travel, got %u (replays %u, connections %u)", fk.received, fk.replays, fk.connections);
}

static bool three_received(void)
{
	return fk.received >= 3 && uv_now(&loop) + 300 >= deadline;
}

Test(sender, keeps_at_most_max_inflight_unacknowledged)
{
	struct sender_opts o;
	spool_n(10, 100);
	fk.ack = false;
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	o.max_inflight = 3;
	run_until(&o, three_received, 1500);
	cr_assert_eq(fk.received, 3, "window of 3, got %u", fk.received);
	cr_assert_eq(sender_get_stats(&snd)->inflight, 0, "stop clears the window");
	cr_assert_eq(spool_batches(), 10, "nothing deleted without an ACK");
}

Test(sender, reconnects_after_drop_and_stores_each_seq_once)
{
	struct sender_opts o;
	spool_n(12, 200);
	fk.close_after = 3; /* first connection: store 1..2, close on the 3rd */
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	run_until(&o, all_acked, 10000);
	cr_assert_not(timed_out);
	cr_assert_geq(fk.connections, 2);
	assert_stored_once(1, 12);
	const struct sender_stats *st = sender_get_stats(&snd);
	cr_assert_geq(st->errors[SENDER_ERR_SEND], 1);
	cr_assert_geq(st->readies, 2);
}

static bool all_but_one_acked(void)
{
	return spool_batches() == 0 && fk.high == 6;
}

Test(sender, drops_a_batch_refused_twice_and_records_a_gap)
{
	struct sender_opts o;
	spool_n(6, 100);
	fk.reject_seq = 3;
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	run_until(&o, all_but_one_acked, 10000);
	cr_assert_not(timed_out);
	assert_stored_once(1, 2);
	cr_assert_eq(fk.stored[3], 0);
	assert_stored_once(4, 6);
	const struct sender_stats *st = sender_get_stats(&snd);
	cr_assert_eq(st->rejected_batches, 1);
	struct spool_gap g[4];
	size_t n;
	cr_assert_eq(spool_pending_gaps(sp, g, 4, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(g[0].first_seq, 3);
	cr_assert_eq(g[0].last_seq, 3);
	cr_assert_eq(g[0].reason, CAIRN__GAP_REASON__COLLECTOR_REJECTED);
}

static bool handshake_failed_twice(void)
{
	return sender_get_stats(&snd)->errors[SENDER_ERR_HANDSHAKE] >= 2;
}

Test(sender, refuses_a_collector_with_another_key)
{
	struct sender_opts o;
	struct keypair other;
	spool_n(2, 100);
	cr_assert_eq(keys_generate(&other), 0);
	make_opts(&o, "127.0.0.1", other.pk);
	run_until(&o, handshake_failed_twice, 5000);
	cr_assert_not(timed_out);
	cr_assert_eq(fk.received, 0);
	cr_assert_eq(spool_batches(), 2);
	cr_assert_not(sender_get_stats(&snd)->connected);
}

static bool connect_failed_thrice(void)
{
	return sender_get_stats(&snd)->errors[SENDER_ERR_CONNECT] >= 3;
}

Test(sender, backs_off_while_the_collector_is_down)
{
	struct sender_opts o;
	spool_n(1, 100);
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	uv_close((uv_handle_t *)&fk.listener, NULL); /* nobody listens on the port */
	run_until(&o, connect_failed_thrice, 5000);
	cr_assert_not(timed_out);
	const struct sender_stats *st = sender_get_stats(&snd);
	cr_assert_geq(st->backoff_ms, 10, "jittered delay within [d/2, d]");
	cr_assert_eq(spool_batches(), 1);
}

static bool dropped_four_times(void)
{
	return sender_get_stats(&snd)->errors[SENDER_ERR_SEND] >= 4;
}

Test(sender, keeps_backing_off_when_every_link_drops_after_ready)
{
	struct sender_opts o;
	spool_n(1, 100);
	fk.drop_on_ready = true;
	make_opts(&o, "127.0.0.1", fk.kp.pk); /* backoff 20 ms doubling to 200 ms */
	run_until(&o, dropped_four_times, 5000);
	cr_assert_not(timed_out);
	const struct sender_stats *st = sender_get_stats(&snd);
	cr_assert_geq(st->readies, 4);
	/* Fourth failure in a row: 160 ms, jittered within [80, 160]; had READY
	 * reset the backoff, every retry would wait 10..20 ms. */
	cr_assert_geq(st->backoff_ms, 80, "backoff %llu ms", (unsigned long long)st->backoff_ms);
	cr_assert_eq(spool_batches(), 1);
}

Test(sender, backoff_doubles_up_to_the_maximum)
{
	cr_assert_eq(sender_backoff_ms(1000, 60000, 1), 1000);
	cr_assert_eq(sender_backoff_ms(1000, 60000, 2), 2000);
	cr_assert_eq(sender_backoff_ms(1000, 60000, 6), 32000);
	cr_assert_eq(sender_backoff_ms(1000, 60000, 7), 60000);
	cr_assert_eq(sender_backoff_ms(1000, 60000, 1000), 60000);
}

static struct sender_opts update_to;
static bool updated;

static bool update_after_failure_then_drain(void)
{
	if (!updated && sender_get_stats(&snd)->errors[SENDER_ERR_CONNECT] >= 1) {
		updated = true;
		sender_update(&snd, &update_to); /* what SIGHUP does with a new address */
	}
	return updated && all_acked();
}

Test(sender, reload_with_a_new_address_reconnects_there)
{
	struct sender_opts o;
	spool_n(4, 100);
	make_opts(&o, "127.0.0.1", fk.kp.pk);
	update_to = o;
	/* Start with a port where nothing listens (the fake's port + 1 may be
	 * taken by chance; a closed listener's port is free for sure). */
	uv_tcp_t spare;
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof(got);
	uv_tcp_init(&loop, &spare);
	uv_ip4_addr("127.0.0.1", 0, &a);
	cr_assert_eq(uv_tcp_bind(&spare, (struct sockaddr *)&a, 0), 0);
	uv_tcp_getsockname(&spare, (struct sockaddr *)&got, &len);
	snprintf(o.collector, sizeof(o.collector), "127.0.0.1:%d",
		 ntohs(((struct sockaddr_in *)&got)->sin_port));
	uv_close((uv_handle_t *)&spare, NULL);
	o.backoff_min_ms = 2000; /* the update must not wait for the backoff */
	o.backoff_max_ms = 2000;
	update_to.backoff_min_ms = 2000;
	update_to.backoff_max_ms = 2000;
	updated = false;
	run_until(&o, update_after_failure_then_drain, 1500);
	cr_assert_not(timed_out, "not delivered after the update");
	assert_stored_once(1, 4);
	cr_assert_eq(fk.connections, 1);
}
