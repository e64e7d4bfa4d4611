/* cairn-testagent: a scriptable agent for the streaming integration tests,
 * built on the real handshake client (common/handshake.h). It either behaves
 * (stream) or misbehaves in one specific way, and exits 0 when the collector
 * reacted as the protocol requires.
 *
 *   cairn-testagent -a HOST:PORT -k COLLECTOR_KEY_HEX [-i KEYFILE] [-n HOSTNAME]
 *                   [-t TOKEN] MODE [ARGS]
 * Modes and what counts as success:
 *   stream N [INTERVAL_MS] [reconnect]  N batches after READY's high seq, all ACKed;
 *                                  with "reconnect", lost connections are re-established
 *                                  and resent from READY (until 120 s pass)
 *   expect-error NAME              handshake ends with ERROR NAME (pending, revoked ...)
 *   forge | malformed | toolarge   a bad BATCH after the handshake -> ERROR
 *                                  bad-signature | malformed | limit
 *   replay                         re-sends seq = high seq -> ACKed, not stored again
 *   oversize                       a pre-auth frame header above 64 KiB -> ERROR frame-too-large
 *   oversize-auth                  a sealed frame header above max_frame -> ERROR frame-too-large
 *   truncated                      half a HELLO, then EOF -> collector closes
 *   garbage                        random bytes -> ERROR or close, never a CHALLENGE
 *   slowloris                      HELLO one byte per second -> ERROR timeout
 *   wrongkey                       pins a random key -> the agent refuses the collector
 *   halfopen N SECONDS             N connections that send nothing; prints how many the
 *                                  collector accepted and how many it closed by timeout
 *   seq N                          one honest batch with seq N -> prints "acked" or the ERROR
 *   gap FIRST LAST                 a batch (next seq) carrying Gap FIRST..LAST -> the reaction
 *   conflict                       seq = high seq again with other content -> ERROR conflict
 *   bloat NFIELDS [COUNT]          COUNT (1) batches of NFIELDS two-byte unknown fields, sent
 *                                  back to back -> ERROR malformed
 *   hold SECONDS                   handshake, then idle: prints the ERROR that ends it, or "held"
 *   helloflags                     HELLO with reserved flags set -> ERROR protocol
 *   badauth                        AUTH with a flipped byte -> the collector closes
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "batchgen.h"
#include "cairn.pb-c.h"
#include "channel.h"
#include "config.h"
#include "frame.h"
#include "handshake.h"
#include "keys.h"
#include "sign.h"

static const char *addr;
static uint8_t collector_pk[32];
static struct keypair kp;
static const char *hostname = "testagent";
static const char *token;

static void reset_reader(void);

static int tcp_connect(void)
{
	char host[256];
	uint16_t port;
	if (config_split_hostport(addr, host, sizeof(host), &port) != 0 || !port) {
		fprintf(stderr, "bad address %s\n", addr);
		exit(2);
	}
	char ports[8];
	snprintf(ports, sizeof(ports), "%u", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	if (getaddrinfo(host, ports, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	reset_reader();
	if (fd >= 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return fd;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one frame within timeout_ms: 1 ok, 0 EOF, -ETIMEDOUT, -errno. */
static uint8_t rbuf[65536];
static size_t have, off;

/* Forgets bytes buffered from a previous connection. */
static void reset_reader(void)
{
	have = off = 0;
}

static int read_frame(int fd, struct frame_decoder *d, struct frame *f, int timeout_ms)
{
	for (;;) {
		while (off < have) {
			size_t used = 0;
			int rc = frame_decoder_feed(d, rbuf + off, have - off, &used, f);
			off += used;
			if (rc)
				return rc;
		}
		off = have = 0;
		struct pollfd p = { fd, POLLIN, 0 };
		int pr = poll(&p, 1, timeout_ms);
		if (pr == 0)
			return -ETIMEDOUT;
		if (pr < 0)
			return -errno;
		ssize_t r = recv(fd, rbuf, sizeof(rbuf), 0);
		if (r == 0)
			return 0;
		if (r < 0)
			return -errno;
		have = (size_t)r;
	}
}

static void send_out(int fd, struct handshake_out *o)
{
	for (size_t i = 0; i < o->n; i++)
		send_all(fd, o->data[i], o->len[i]);
	handshake_out_free(o);
}

/* Returns HANDSHAKE_DONE, or a negative error; prints why. */
static int handshake(int fd, struct frame_decoder *d, struct handshake_client *c,
		     const uint8_t *pinned)
{
	handshake_client_init(c, &kp, pinned, token, hostname);
	struct handshake_out o = { 0 };
	handshake_client_start(c, &o);
	send_out(fd, &o);
	for (;;) {
		struct frame f = { 0 };
		int rc = read_frame(fd, d, &f, 15000);
		if (rc <= 0) {
			printf("handshake: connection %s\n", rc == 0 ? "closed" : strerror(-rc));
			return rc == 0 ? -ECONNRESET : rc;
		}
		rc = handshake_client_feed(c, &f, &o);
		free(f.body);
		send_out(fd, &o);
		if (rc == HANDSHAKE_DONE)
			return rc;
		if (rc < 0) {
			if (rc == -ECONNREFUSED)
				printf("error %s: %s\n", proto_error_name(c->error.code), c->error.text);
			else
				printf("handshake failed: %s\n", c->fail_reason);
			return rc;
		}
	}
}

static int send_sealed(int fd, struct channel *ch, uint8_t type, const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen)
{
	uint8_t *buf;
	size_t len;
	int rc = channel_seal2(ch, type, a, alen, b, blen, false, &buf, &len);
	if (rc)
		return rc;
	rc = send_all(fd, buf, len);
	free(buf);
	return rc;
}

static int send_payload(int fd, struct channel *ch, uint64_t seq, const uint8_t *payload,
			size_t len)
{
	uint8_t sig[SIGN_LEN], hdr[CHANNEL_BATCH_HDR_LEN];
	sign_batch(sig, kp.sk, kp.pk, seq, payload, len);
	channel_batch_header(hdr, seq, sig);
	return send_sealed(fd, ch, FRAME_BATCH, hdr, sizeof(hdr), payload, len);
}

static int send_batch(int fd, struct channel *ch, uint64_t seq, int damage)
{
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.seq = seq;
	o.hostname = hostname;
	o.with_host = seq % 20 == 1;
	o.window_start_ms = 1764115200000 + (int64_t)seq * 300000;
	if (damage == 3)
		o.nperf = 2500; /* records above max_records = 2000 (the test's setting) */
	uint8_t *payload;
	size_t len;
	batchgen_build(kp.pk, &o, &payload, &len, NULL);
	if (damage == 2)
		memset(payload, 0xff, len);
	uint8_t sig[SIGN_LEN], hdr[CHANNEL_BATCH_HDR_LEN];
	sign_batch(sig, kp.sk, kp.pk, seq, payload, len);
	if (damage == 1)
		sig[0] ^= 1;
	channel_batch_header(hdr, seq, sig);
	int rc = send_sealed(fd, ch, FRAME_BATCH, hdr, sizeof(hdr), payload, len);
	free(payload);
	return rc;
}

/* Reads sealed frames until an ACK >= want or an ERROR. 1 = acked, 0 = error
 * (printed), negative = transport. *acked gets the highest ACK. */
static int wait_ack(int fd, struct frame_decoder *d, struct channel *ch, uint64_t want,
		    uint64_t *acked, int timeout_ms)
{
	for (;;) {
		struct frame f = { 0 };
		int rc = read_frame(fd, d, &f, timeout_ms);
		if (rc <= 0)
			return rc == 0 ? -ECONNRESET : rc;
		struct frame in = { 0 };
		rc = f.type == FRAME_SEALED ? channel_open(ch, f.body, f.len, &in) : -EPROTO;
		if (rc && f.type == FRAME_ERROR) {
			struct channel_error e;
			channel_error_decode(f.body, f.len, &e);
			printf("error %s: %s\n", proto_error_name(e.code), e.text);
			free(f.body);
			return 0;
		}
		free(f.body);
		if (rc)
			return rc;
		uint64_t v = 0;
		if (in.type == FRAME_ACK && channel_u64_decode(in.body, in.len, &v) == 0) {
			if (v > *acked)
				*acked = v;
			free(in.body);
			if (*acked >= want)
				return 1;
			continue;
		}
		if (in.type == FRAME_ERROR) {
			struct channel_error e;
			channel_error_decode(in.body, in.len, &e);
			printf("error %s: %s\n", proto_error_name(e.code), e.text);
			free(in.body);
			return 0;
		}
		free(in.body);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One connection: handshake, then send from READY's high seq + 1 up to
 * target with a window of 32 unacknowledged batches. */
static int stream_once(uint64_t target, int interval_ms, uint64_t *acked)
{
	int fd = tcp_connect();
	if (fd < 0)
		return -ECONNREFUSED;
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_DEFAULT);
	struct handshake_client c;
	int rc = handshake(fd, &d, &c, collector_pk);
	if (rc != HANDSHAKE_DONE) {
		close(fd);
		frame_decoder_free(&d);
		return rc == -ECONNREFUSED ? -EACCES : rc;
	}
	*acked = c.ready.high_seq;
	uint64_t next = c.ready.high_seq + 1;
	while (*acked < target) {
		while (next <= target && next <= *acked + 32) {
			if (send_batch(fd, &c.ch, next, 0) != 0)
				break;
			next++;
			if (interval_ms)
				break;
		}
		rc = wait_ack(fd, &d, &c.ch, *acked + 1, acked, 20000);
		if (rc != 1)
			break;
		if (interval_ms)
			usleep((useconds_t)interval_ms * 1000);
	}
	close(fd);
	frame_decoder_free(&d);
	handshake_client_wipe(&c);
	return *acked >= target ? 0 : rc == 0 ? -EPROTO : rc;
}

static int mode_stream(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10;
	int interval = argc > 2 ? atoi(argv[2]) : 0;
	bool reconnect = argc > 3 && !strcmp(argv[3], "reconnect");
	/* the target is absolute once known: high seq at first READY + n */
	int fd = tcp_connect();
	if (fd < 0 && !reconnect) {
		printf("connect failed\n");
		return 1;
	}
	uint64_t base = 0;
	if (fd >= 0) {
		struct frame_decoder d;
		frame_decoder_init(&d, FRAME_MAX_DEFAULT);
		struct handshake_client c;
		int rc = handshake(fd, &d, &c, collector_pk);
		close(fd);
		frame_decoder_free(&d);
		if (rc != HANDSHAKE_DONE)
			return 1;
		base = c.ready.high_seq;
		handshake_client_wipe(&c);
	}
	uint64_t target = base + n, acked = base;
	/* CAIRN_TESTAGENT_DEADLINE_S: how long reconnecting may go on (soak runs) */
	const char *dl = getenv("CAIRN_TESTAGENT_DEADLINE_S");
	uint64_t deadline = now_ms() + (dl ? strtoull(dl, NULL, 10) * 1000 : 120000);
	int attempts = 0;
	for (;;) {
		int rc = stream_once(target, interval, &acked);
		attempts++;
		if (rc == 0)
			break;
		if (!reconnect || rc == -EACCES || now_ms() > deadline) {
			printf("stream stopped at %llu of %llu: %s\n", (unsigned long long)acked,
			       (unsigned long long)target, strerror(-rc));
			return 1;
		}
		usleep(200000);
	}
	printf("acked %llu (from %llu, %d connection%s)\n", (unsigned long long)acked,
	       (unsigned long long)base, attempts, attempts == 1 ? "" : "s");
	return 0;
}

static int connect_and_handshake(int *fd, struct frame_decoder *d, struct handshake_client *c)
{
	*fd = tcp_connect();
	if (*fd < 0) {
		printf("connect failed\n");
		return -1;
	}
	frame_decoder_init(d, FRAME_MAX_DEFAULT);
	return handshake(*fd, d, c, collector_pk) == HANDSHAKE_DONE ? 0 : -1;
}

static int mode_bad_batch(int damage, const char *want)
{
	int fd;
	struct frame_decoder d;
	struct handshake_client c;
	if (connect_and_handshake(&fd, &d, &c))
		return 1;
	send_batch(fd, &c.ch, c.ready.high_seq + 1, damage);
	uint64_t acked = 0;
	int rc = wait_ack(fd, &d, &c.ch, c.ready.high_seq + 1, &acked, 15000);
	close(fd);
	if (rc == 0)
		return 0; /* printed "error NAME" — the script checks the name */
	printf("no error: %s (want %s)\n", rc == 1 ? "ACKed" : strerror(-rc), want);
	return 1;
}

/* A signed payload for the modes below (kind: "seq", "gap", "conflict",
 * "bloat"); malloc'd. */
static uint8_t *crafted_payload(const char *kind, uint64_t seq, uint64_t a, uint64_t b,
				size_t *len)
{
	if (!strcmp(kind, "bloat")) {
		/* Batch.seq, then a two-byte unknown field (field 15, varint 0) a times */
		uint8_t *p = malloc(12 + 2 * a);
		size_t n = 0;
		p[n++] = 0x10;
		for (uint64_t v = seq; ; v >>= 7) {
			p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			if (v <= 0x7f)
				break;
		}
		for (uint64_t i = 0; i < a; i++) {
			p[n++] = 0x78;
			p[n++] = 0x00;
		}
		*len = n;
		return p;
	}
	if (!strcmp(kind, "gap")) {
		Cairn__Batch bt = CAIRN__BATCH__INIT;
		Cairn__Record r = CAIRN__RECORD__INIT;
		Cairn__Gap g = CAIRN__GAP__INIT;
		Cairn__Record *rp = &r;
		g.first_seq = a;
		g.last_seq = b;
		g.reason = CAIRN__GAP_REASON__SPOOL_FULL;
		r.kind_case = CAIRN__RECORD__KIND_GAP;
		r.gap = &g;
		bt.agent_id.data = kp.pk;
		bt.agent_id.len = 32;
		bt.seq = seq;
		bt.records = &rp;
		bt.n_records = 1;
		*len = cairn__batch__get_packed_size(&bt);
		uint8_t *p = malloc(*len);
		cairn__batch__pack(&bt, p);
		return p;
	}
	struct batchgen_opts o;
	batchgen_defaults(&o);
	o.seq = seq;
	o.hostname = hostname;
	o.with_host = seq % 20 == 1;
	o.window_start_ms = 1764115200000 + (int64_t)(seq % 1000000) * 300000;
	if (!strcmp(kind, "conflict"))
		o.window_start_ms += 1234; /* the same seq, other content: a second machine */
	uint8_t *p;
	batchgen_build(kp.pk, &o, &p, len, NULL);
	return p;
}

static int mode_crafted(const char *kind, int argc, char **argv)
{
	int fd;
	struct frame_decoder d;
	struct handshake_client c;
	if (connect_and_handshake(&fd, &d, &c))
		return 1;
	uint64_t seq = c.ready.high_seq + 1, a = 0, b = 0;
	if (!strcmp(kind, "seq"))
		seq = argc > 1 ? strtoull(argv[1], NULL, 10) : seq;
	if (!strcmp(kind, "conflict"))
		seq = c.ready.high_seq;
	if (argc > 1)
		a = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		b = strtoull(argv[2], NULL, 10);
	size_t len;
	/* bloat NFIELDS COUNT: COUNT such batches back to back (all in flight) */
	uint64_t count = !strcmp(kind, "bloat") && b ? b : 1;
	for (uint64_t i = 0; i < count; i++) {
		uint8_t *payload = crafted_payload(kind, seq + i, a, b, &len);
		int src = send_payload(fd, &c.ch, seq + i, payload, len);
		free(payload);
		if (src)
			break;
	}
	uint64_t acked = 0;
	int rc = wait_ack(fd, &d, &c.ch, seq, &acked, 30000);
	close(fd);
	frame_decoder_free(&d);
	handshake_client_wipe(&c);
	if (rc == 1)
		printf("acked %llu\n", (unsigned long long)acked);
	else if (rc < 0)
		printf("no answer: %s\n", strerror(-rc));
	return rc < 0;
}

static int mode_hold(int argc, char **argv)
{
	int fd;
	struct frame_decoder d;
	struct handshake_client c;
	if (connect_and_handshake(&fd, &d, &c))
		return 1;
	printf("ready\n");
	uint64_t acked = 0;
	int secs = argc > 1 ? atoi(argv[1]) : 5;
	int rc = wait_ack(fd, &d, &c.ch, UINT64_MAX, &acked, secs * 1000);
	if (rc == -ETIMEDOUT)
		printf("held\n");
	else if (rc < 0)
		printf("closed: %s\n", strerror(-rc));
	close(fd);
	frame_decoder_free(&d);
	handshake_client_wipe(&c);
	return 0;
}

static int mode_replay(void)
{
	int fd;
	struct frame_decoder d;
	struct handshake_client c;
	if (connect_and_handshake(&fd, &d, &c))
		return 1;
	if (!c.ready.high_seq) {
		printf("nothing stored yet to replay\n");
		return 1;
	}
	send_batch(fd, &c.ch, c.ready.high_seq, 0);
	uint64_t acked = 0;
	int rc = wait_ack(fd, &d, &c.ch, c.ready.high_seq, &acked, 15000);
	close(fd);
	printf("replayed %llu: %s\n", (unsigned long long)c.ready.high_seq,
	       rc == 1 ? "acked" : "no ack");
	return rc == 1 ? 0 : 1;
}

/* Waits for the collector's reaction to raw bytes: an ERROR frame (printed)
 * or a close. Returns 0 when an ERROR named want (or, want NULL, a close
 * without CHALLENGE) came. */
static int expect_plain(int fd, const char *want, int timeout_ms)
{
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_DEFAULT);
	for (;;) {
		struct frame f = { 0 };
		int rc = read_frame(fd, &d, &f, timeout_ms);
		if (rc <= 0) {
			printf("%s\n", rc == 0 ? "closed" : strerror(-rc));
			return want || rc != 0;
		}
		if (f.type == FRAME_CHALLENGE) {
			printf("got a CHALLENGE\n");
			free(f.body);
			return 1;
		}
		if (f.type == FRAME_ERROR) {
			struct channel_error e;
			channel_error_decode(f.body, f.len, &e);
			printf("error %s: %s\n", proto_error_name(e.code), e.text);
			free(f.body);
			return want && strcmp(want, proto_error_name(e.code));
		}
		free(f.body);
	}
}

static int mode_raw(const char *mode)
{
	int fd = tcp_connect();
	if (fd < 0) {
		printf("connect failed\n");
		return 1;
	}
	if (!strcmp(mode, "oversize")) {
		uint8_t hdr[FRAME_HEADER_LEN];
		frame_header_write(hdr, FRAME_HELLO, 1 << 20);
		send_all(fd, hdr, sizeof(hdr));
		return expect_plain(fd, "frame-too-large", 5000);
	}
	if (!strcmp(mode, "garbage")) {
		uint8_t junk[4096];
		randombytes_buf(junk, sizeof(junk));
		junk[0] = 0; /* a plausible small length, then nonsense */
		send_all(fd, junk, sizeof(junk));
		return expect_plain(fd, NULL, 5000);
	}
	if (!strcmp(mode, "truncated")) {
		struct handshake_client c;
		handshake_client_init(&c, &kp, collector_pk, NULL, hostname);
		struct handshake_out o = { 0 };
		handshake_client_start(&c, &o);
		send_all(fd, o.data[0], 50);
		handshake_out_free(&o);
		shutdown(fd, SHUT_WR);
		return expect_plain(fd, NULL, 5000);
	}
	if (!strcmp(mode, "slowloris")) {
		struct handshake_client c;
		handshake_client_init(&c, &kp, collector_pk, NULL, hostname);
		struct handshake_out o = { 0 };
		handshake_client_start(&c, &o);
		for (size_t i = 0; i < o.len[0]; i++) {
			if (send_all(fd, o.data[0] + i, 1) != 0)
				break;
			struct pollfd p = { fd, POLLIN, 0 };
			if (poll(&p, 1, 1000) > 0)
				break; /* the collector spoke (ERROR) */
		}
		handshake_out_free(&o);
		return expect_plain(fd, "timeout", 5000);
	}
	if (!strcmp(mode, "helloflags")) {
		struct handshake_client c;
		handshake_client_init(&c, &kp, collector_pk, NULL, hostname);
		struct handshake_out o = { 0 };
		handshake_client_start(&c, &o);
		o.data[0][FRAME_HEADER_LEN + 6] = 0x80; /* reserved flags */
		send_all(fd, o.data[0], o.len[0]);
		handshake_out_free(&o);
		handshake_client_wipe(&c);
		return expect_plain(fd, "protocol", 5000);
	}
	if (!strcmp(mode, "badauth")) {
		struct handshake_client c;
		struct frame_decoder d;
		frame_decoder_init(&d, FRAME_MAX_DEFAULT);
		handshake_client_init(&c, &kp, collector_pk, NULL, hostname);
		struct handshake_out o = { 0 };
		handshake_client_start(&c, &o);
		send_out(fd, &o);
		struct frame f = { 0 };
		if (read_frame(fd, &d, &f, 5000) != 1 || handshake_client_feed(&c, &f, &o) != 0) {
			printf("no CHALLENGE\n");
			return 1;
		}
		free(f.body);
		o.data[0][o.len[0] - 1] ^= 1; /* AUTH no longer authenticates */
		send_out(fd, &o);
		handshake_client_wipe(&c);
		frame_decoder_free(&d);
		return expect_plain(fd, NULL, 5000);
	}
	printf("unknown mode %s\n", mode);
	return 2;
}

static int mode_oversize_auth(void)
{
	int fd;
	struct frame_decoder d;
	struct handshake_client c;
	if (connect_and_handshake(&fd, &d, &c))
		return 1;
	uint8_t hdr[FRAME_HEADER_LEN];
	frame_header_write(hdr, FRAME_SEALED, (size_t)c.ready.max_frame + 1);
	send_all(fd, hdr, sizeof(hdr));
	uint64_t acked = 0;
	int rc = wait_ack(fd, &d, &c.ch, UINT64_MAX, &acked, 5000);
	close(fd);
	return rc == 0 ? 0 : 1;
}

static int mode_wrongkey(void)
{
	int fd = tcp_connect();
	if (fd < 0)
		return 1;
	struct keypair other;
	keys_generate(&other);
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_DEFAULT);
	struct handshake_client c;
	int rc = handshake(fd, &d, &c, other.pk);
	close(fd);
	return rc == -EACCES ? 0 : 1;
}

static int mode_halfopen(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	int secs = argc > 2 ? atoi(argv[2]) : 5;
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int *fds = calloc((size_t)n, sizeof(int));
	int opened = 0;
	for (int i = 0; i < n; i++) {
		fds[i] = tcp_connect();
		if (fds[i] < 0)
			break;
		opened++;
	}
	printf("opened %d of %d (fd limit %llu)\n", opened, n, (unsigned long long)rl.rlim_cur);
	fflush(stdout);
	/* wait for the handshake timeout to close them */
	uint64_t end = now_ms() + (uint64_t)secs * 1000;
	int closed = 0, timeouts = 0, busy = 0;
	struct pollfd *p = calloc((size_t)opened, sizeof(*p));
	for (int i = 0; i < opened; i++)
		p[i] = (struct pollfd){ fds[i], POLLIN, 0 };
	while (closed < opened && now_ms() < end) {
		int pr = poll(p, (nfds_t)opened, 200);
		if (pr <= 0)
			continue;
		for (int i = 0; i < opened; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			uint8_t buf[512];
			ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r > FRAME_HEADER_LEN + 3 && buf[4] == FRAME_ERROR) {
				uint16_t code = (uint16_t)(buf[5] << 8 | buf[6]);
				timeouts += code == PROTO_ERR_TIMEOUT;
				busy += code == PROTO_ERR_BUSY;
				continue;
			}
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				closed++;
			}
		}
	}
	printf("halfopen: opened %d, closed by collector %d (timeout errors %d, busy %d)\n",
	       opened, closed, timeouts, busy);
	for (int i = 0; i < opened; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	free(p);
	free(fds);
	return opened == n && closed == opened ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	const char *keyfile = NULL, *keyhex = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+a:k:i:n:t:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'k': keyhex = optarg; break;
		case 'i': keyfile = optarg; break;
		case 'n': hostname = optarg; break;
		case 't': token = optarg; break;
		default: return 2;
		}
	}
	if (!addr || !keyhex || optind >= argc ||
	    keys_public_from_hex(keyhex, collector_pk) != 0) {
		fprintf(stderr, "usage: cairn-testagent -a HOST:PORT -k COLLECTOR_KEY [-i KEYFILE] "
				"[-n HOST] [-t TOKEN] MODE [ARGS]\n");
		return 2;
	}
	if (keyfile) {
		struct errbuf eb;
		bool created;
		if (keys_load_or_create(keyfile, &kp, &created, &eb)) {
			fprintf(stderr, "%s\n", eb.msg);
			return 2;
		}
	} else {
		keys_generate(&kp);
	}
	argc -= optind;
	argv += optind;
	const char *mode = argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "stream"))
		return mode_stream(argc, argv);
	if (!strcmp(mode, "expect-error")) {
		int fd;
		struct frame_decoder d;
		struct handshake_client c;
		int rc = connect_and_handshake(&fd, &d, &c);
		if (rc == 0) {
			printf("accepted (READY), want error %s\n", argc > 1 ? argv[1] : "?");
			return 1;
		}
		return c.state == HSC_FAILED && argc > 1 &&
				       !strcmp(proto_error_name(c.error.code), argv[1])
			       ? 0
			       : 1;
	}
	if (!strcmp(mode, "forge"))
		return mode_bad_batch(1, "bad-signature");
	if (!strcmp(mode, "malformed"))
		return mode_bad_batch(2, "malformed");
	if (!strcmp(mode, "toolarge"))
		return mode_bad_batch(3, "limit");
	if (!strcmp(mode, "replay"))
		return mode_replay();
	if (!strcmp(mode, "oversize-auth"))
		return mode_oversize_auth();
	if (!strcmp(mode, "wrongkey"))
		return mode_wrongkey();
	if (!strcmp(mode, "halfopen"))
		return mode_halfopen(argc, argv);
	if (!strcmp(mode, "seq") || !strcmp(mode, "gap") || !strcmp(mode, "conflict") ||
	    !strcmp(mode, "bloat"))
		return mode_crafted(mode, argc, argv);
	if (!strcmp(mode, "hold"))
		return mode_hold(argc, argv);
	return mode_raw(mode);
}
