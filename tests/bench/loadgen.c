/* cairn-loadgen: N simulated agents against a running collector.
 *
 * Every agent has its own Ed25519 identity and TCP connection and runs the
 * real handshake (common/handshake.h); then it streams realistic batches
 * (tests/unit/collector/batchgen.h: perf windows, processes, listeners,
 * edges; HostInfo in the first batch) signed per batch, keeping at most
 * --window unacknowledged. ACKs come only after the collector's fsync'd
 * commit, so ACKed batches/s is the stored rate.
 *
 *   cairn-loadgen -a HOST:PORT -k COLLECTOR_KEY [--agents N] [--rate BATCHES_PER_S]
 *                 [--duration S] [--perf K] [--edges E] [--procs P] [--window W]
 *                 [--collector-pid PID] [--connect-parallel C]
 *
 * --rate 0 (default) sends as fast as the windows allow. Prints one summary:
 * agents connected, handshake time, batches/s and records/s ACKed in the
 * measured phase, ACK latency p50/p99/max, and the collector's CPU and RSS
 * (from /proc/PID) when --collector-pid is given. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "batchgen.h"
#include "cairn.pb-c.h"
#include "channel.h"
#include "config.h"
#include "frame.h"
#include "handshake.h"
#include "keys.h"
#include "sign.h"

#define MAX_WINDOW 64

struct agent {
	uv_tcp_t tcp;
	uv_connect_t conn;
	struct frame_decoder dec;
	struct handshake_client hs;
	struct keypair kp;
	uint32_t index;
	bool connected, ready, closed, sent_host;
	uint64_t next_seq, acked;
	uint64_t sent_us[MAX_WINDOW];
	uint32_t inflight;
	uint32_t credits; /* rate mode: batches it may send now */
};

struct write_req {
	uv_write_t req;
	uint8_t *data;
};

static struct {
	const char *addr;
	uint8_t collector_pk[32];
	uint32_t nagents, window, connect_parallel;
	double rate;
	double duration_s;
	struct batchgen_opts bopts;
	uint32_t records_per_batch;
	int collector_pid;
	uv_loop_t *loop;
	struct sockaddr_storage sa;
	struct agent *agents;
	uint8_t *tmpl;       /* shared payload without seq, agent id and HostInfo */
	size_t tmpl_len;
	uint32_t connecting, next_to_connect, nready, nfailed;
	uint64_t t_start_us, t_all_ready_us, t_measure_us, t_end_us;
	bool measuring, stopping;
	uint64_t acked_batches, acked_records;
	uint32_t *lat;       /* ACK latencies in µs, measured phase */
	size_t nlat, caplat;
	double rate_carry;
	uint64_t last_tick_us;
	uv_timer_t tick;
	uint32_t rr;         /* round robin for rate credits */
	uint64_t errors;
	char last_error[400];
} G;

static uint64_t now_us(void)
{
	return uv_hrtime() / 1000;
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	(void)status;
	free(w->data);
	free(w);
}

static void agent_write(struct agent *a, uint8_t *data, size_t len)
{
	if (a->closed) {
		free(data);
		return;
	}
	struct write_req *w = malloc(sizeof(*w));
	w->data = data;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&a->tcp, &b, 1, on_write) != 0) {
		free(data);
		free(w);
	}
}

static void agent_close(struct agent *a, const char *why)
{
	if (a->closed)
		return;
	a->closed = true;
	if (!G.stopping) {
		G.errors++;
		snprintf(G.last_error, sizeof(G.last_error), "agent %u: %s", a->index, why);
	}
	if (a->ready)
		G.nready--;
	uv_close((uv_handle_t *)&a->tcp, NULL);
}

/* Appends field 2 (seq, varint) to the template: protobuf accepts fields in
 * any order, so one shared template serves every seq. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		p[n++] = b | (v ? 0x80 : 0);
	} while (v);
	return n;
}

static void send_batch(struct agent *a)
{
	uint64_t seq = a->next_seq++;
	uint8_t *payload;
	size_t len;
	if (!a->sent_host) {
		struct batchgen_opts o = G.bopts;
		o.seq = seq;
		o.host_index = a->index;
		o.with_host = true;
		batchgen_build(a->kp.pk, &o, &payload, &len, NULL);
		a->sent_host = true;
	} else {
		payload = malloc(G.tmpl_len + 11);
		memcpy(payload, G.tmpl, G.tmpl_len);
		len = G.tmpl_len;
		payload[len++] = 0x10;
		len += put_varint(payload + len, seq);
	}
	uint8_t sig[SIGN_LEN], hdr[CHANNEL_BATCH_HDR_LEN];
	sign_batch(sig, a->kp.sk, a->kp.pk, seq, payload, len);
	channel_batch_header(hdr, seq, sig);
	uint8_t *out;
	size_t outlen;
	int rc = channel_seal2(&a->hs.ch, FRAME_BATCH, hdr, sizeof(hdr), payload, len, false, &out,
			       &outlen);
	free(payload);
	if (rc) {
		agent_close(a, "seal failed");
		return;
	}
	a->sent_us[seq % MAX_WINDOW] = now_us();
	a->inflight++;
	agent_write(a, out, outlen);
}

static void fill_window(struct agent *a)
{
	while (a->ready && !a->closed && !G.stopping && a->inflight < G.window &&
	       (G.rate <= 0 || a->credits > 0)) {
		if (G.rate > 0)
			a->credits--;
		send_batch(a);
	}
}

static void record_latency(uint64_t us)
{
	if (G.nlat == G.caplat) {
		G.caplat = G.caplat ? G.caplat * 2 : 1 << 16;
		G.lat = realloc(G.lat, G.caplat * sizeof(*G.lat));
	}
	G.lat[G.nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void on_ack(struct agent *a, uint64_t ack)
{
	uint64_t t = now_us();
	while (a->acked < ack && a->inflight) {
		a->acked++;
		a->inflight--;
		if (G.measuring) {
			G.acked_batches++;
			G.acked_records += G.records_per_batch;
			/* latency only of batches sent in the measured phase: the
			 * connect phase's backlog is not steady state */
			uint64_t sent = a->sent_us[a->acked % MAX_WINDOW];
			if (sent >= G.t_measure_us)
				record_latency(t - sent);
		}
	}
	if (ack > a->acked)
		a->acked = ack;
	fill_window(a);
}

static void start_measuring(void);
static void connect_more(void);

static void on_frame(struct agent *a, struct frame *f)
{
	if (!a->ready) {
		struct handshake_out o = { 0 };
		int rc = handshake_client_feed(&a->hs, f, &o);
		for (size_t i = 0; i < o.n; i++) {
			agent_write(a, o.data[i], o.len[i]);
			o.data[i] = NULL;
		}
		o.n = 0;
		if (rc == HANDSHAKE_DONE) {
			a->ready = true;
			G.nready++;
			G.connecting--;
			a->acked = a->hs.ready.high_seq;
			a->next_seq = a->acked + 1;
			connect_more();
			if (G.nready + G.nfailed == G.nagents && !G.t_all_ready_us)
				start_measuring();
			fill_window(a);
		} else if (rc < 0) {
			G.connecting--;
			G.nfailed++;
			char why[300];
			snprintf(why, sizeof(why), "handshake: %s %s",
				 a->hs.fail_reason ? a->hs.fail_reason : "",
				 rc == -ECONNREFUSED ? a->hs.error.text : "");
			agent_close(a, why);
			connect_more();
		}
		return;
	}
	if (f->type != FRAME_SEALED) {
		agent_close(a, "unsealed frame");
		return;
	}
	struct frame in = { 0 };
	if (channel_open(&a->hs.ch, f->body, f->len, &in) != 0) {
		agent_close(a, "decrypt failed");
		return;
	}
	uint64_t v;
	if (in.type == FRAME_ACK && channel_u64_decode(in.body, in.len, &v) == 0) {
		on_ack(a, v);
	} else if (in.type == FRAME_ERROR) {
		struct channel_error e;
		channel_error_decode(in.body, in.len, &e);
		char why[300];
		snprintf(why, sizeof(why), "collector: %s: %s", proto_error_name(e.code), e.text);
		agent_close(a, why);
	}
	free(in.body);
}

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	static char buf[65536];
	(void)h;
	(void)s;
	*b = uv_buf_init(buf, sizeof(buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct agent *a = s->data;
	if (n < 0) {
		if (!a->ready) {
			G.connecting--;
			G.nfailed++;
			connect_more();
		}
		agent_close(a, uv_strerror((int)n));
		return;
	}
	const uint8_t *p = (const uint8_t *)b->base;
	size_t left = (size_t)n;
	while (left && !a->closed) {
		size_t used = 0;
		struct frame f = { 0 };
		int rc = frame_decoder_feed(&a->dec, p, left, &used, &f);
		p += used;
		left -= used;
		if (rc < 0) {
			agent_close(a, "frame decode");
			return;
		}
		if (rc == 0)
			break;
		on_frame(a, &f);
		free(f.body);
	}
}

static void on_connect(uv_connect_t *c, int status)
{
	struct agent *a = c->data;
	if (status < 0) {
		G.connecting--;
		G.nfailed++;
		agent_close(a, uv_strerror(status));
		connect_more();
		return;
	}
	a->connected = true;
	uv_tcp_nodelay(&a->tcp, 1);
	struct handshake_out o = { 0 };
	handshake_client_init(&a->hs, &a->kp, G.collector_pk, NULL, "");
	char host[32];
	snprintf(host, sizeof(host), "lg-%06u", a->index);
	str_copy(a->hs.hostname, host, sizeof(a->hs.hostname));
	handshake_client_start(&a->hs, &o);
	for (size_t i = 0; i < o.n; i++) {
		agent_write(a, o.data[i], o.len[i]);
		o.data[i] = NULL;
	}
	uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
}

static void connect_more(void)
{
	while (G.connecting < G.connect_parallel && G.next_to_connect < G.nagents && !G.stopping) {
		struct agent *a = &G.agents[G.next_to_connect];
		a->index = G.next_to_connect++;
		keys_generate(&a->kp);
		frame_decoder_init(&a->dec, FRAME_MAX_DEFAULT);
		uv_tcp_init(G.loop, &a->tcp);
		a->tcp.data = a;
		a->conn.data = a;
		G.connecting++;
		if (uv_tcp_connect(&a->conn, &a->tcp, (struct sockaddr *)&G.sa, on_connect) != 0) {
			G.connecting--;
			G.nfailed++;
			agent_close(a, "connect");
		}
	}
}

/* ------------------------------------------------------------ collector stats */

struct proc_sample {
	uint64_t ticks;  /* utime + stime */
	uint64_t rss_kb, hwm_kb, anon_kb, file_kb;
	uint64_t t_us;
};

static int proc_sample(int pid, struct proc_sample *s)
{
	char path[64], buf[4096];
	s->t_us = now_us();
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	unsigned long ut = 0, st = 0;
	/* fields after ")": state(3) ... utime(14) stime(15) */
	sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	s->ticks = ut + st;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(buf, sizeof(buf), f)) {
		unsigned long long v;
		if (sscanf(buf, "VmRSS: %llu", &v) == 1)
			s->rss_kb = v;
		if (sscanf(buf, "VmHWM: %llu", &v) == 1)
			s->hwm_kb = v;
		if (sscanf(buf, "RssAnon: %llu", &v) == 1)
			s->anon_kb = v;
		if (sscanf(buf, "RssFile: %llu", &v) == 1)
			s->file_kb = v;
	}
	fclose(f);
	return 0;
}

static struct proc_sample cs0, cs1;
static struct rusage lg0, lg1; /* the load generator's own CPU, measured phase */

static double rusage_s(const struct rusage *r)
{
	return (double)r->ru_utime.tv_sec + (double)r->ru_utime.tv_usec / 1e6 +
	       (double)r->ru_stime.tv_sec + (double)r->ru_stime.tv_usec / 1e6;
}

static void start_measuring(void)
{
	G.t_all_ready_us = now_us();
	G.t_measure_us = G.t_all_ready_us;
	G.measuring = true;
	getrusage(RUSAGE_SELF, &lg0);
	if (G.collector_pid)
		proc_sample(G.collector_pid, &cs0);
}

static void on_tick(uv_timer_t *t)
{
	(void)t;
	uint64_t now = now_us();
	if (G.rate > 0 && G.nready) {
		double add = G.rate * (double)(now - G.last_tick_us) / 1e6 + G.rate_carry;
		uint64_t n = (uint64_t)add;
		G.rate_carry = add - (double)n;
		for (uint64_t i = 0; i < n; i++) {
			/* next ready agent in round robin */
			for (uint32_t tries = 0; tries < G.next_to_connect; tries++) {
				struct agent *a = &G.agents[G.rr++ % G.next_to_connect];
				if (a->ready && !a->closed && a->credits < G.window) {
					a->credits++;
					fill_window(a);
					break;
				}
			}
		}
	}
	G.last_tick_us = now;
	if (G.measuring && (double)(now - G.t_measure_us) >= G.duration_s * 1e6 && !G.stopping) {
		G.t_end_us = now;
		G.measuring = false;
		G.stopping = true;
		getrusage(RUSAGE_SELF, &lg1);
		if (G.collector_pid)
			proc_sample(G.collector_pid, &cs1);
		for (uint32_t i = 0; i < G.next_to_connect; i++)
			if (!G.agents[i].closed) {
				G.agents[i].closed = true;
				uv_close((uv_handle_t *)&G.agents[i].tcp, NULL);
			}
		uv_close((uv_handle_t *)&G.tick, NULL);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cairn-loadgen -a HOST:PORT -k COLLECTOR_KEY [--agents N] [--rate B/S]\n"
		"       [--duration S] [--perf K] [--edges E] [--procs P] [--window W]\n"
		"       [--collector-pid PID] [--connect-parallel C]\n");
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	G.nagents = 100;
	G.window = 8;
	G.duration_s = 20;
	G.connect_parallel = 256;
	batchgen_defaults(&G.bopts);
	G.bopts.nperf = 40;
	G.bopts.nedges = 30;
	G.bopts.nprocs = 40;
	G.bopts.nhosts = 1000;
	const char *keyhex = NULL;
	static const struct option lo[] = {
		{ "agents", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "perf", required_argument, NULL, 'P' },
		{ "edges", required_argument, NULL, 'e' },
		{ "procs", required_argument, NULL, 'p' },
		{ "window", required_argument, NULL, 'w' },
		{ "collector-pid", required_argument, NULL, 'c' },
		{ "connect-parallel", required_argument, NULL, 'C' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "a:k:n:r:d:", lo, NULL)) != -1) {
		switch (opt) {
		case 'a': G.addr = optarg; break;
		case 'k': keyhex = optarg; break;
		case 'n': G.nagents = (uint32_t)atoi(optarg); break;
		case 'r': G.rate = atof(optarg); break;
		case 'd': G.duration_s = atof(optarg); break;
		case 'P': G.bopts.nperf = (uint32_t)atoi(optarg); break;
		case 'e': G.bopts.nedges = (uint32_t)atoi(optarg); break;
		case 'p': G.bopts.nprocs = (uint32_t)atoi(optarg); break;
		case 'w': G.window = (uint32_t)atoi(optarg); break;
		case 'c': G.collector_pid = atoi(optarg); break;
		case 'C': G.connect_parallel = (uint32_t)atoi(optarg); break;
		default: usage(); return 2;
		}
	}
	if (!G.addr || !keyhex || keys_public_from_hex(keyhex, G.collector_pk) != 0 ||
	    !G.nagents || !G.window || G.window > MAX_WINDOW) {
		usage();
		return 2;
	}
	char host[256];
	uint16_t port = 0;
	if (config_split_hostport(G.addr, host, sizeof(host), &port) != 0 || !port ||
	    (uv_ip4_addr(host, port, (struct sockaddr_in *)&G.sa) != 0 &&
	     uv_ip6_addr(host, port, (struct sockaddr_in6 *)&G.sa) != 0)) {
		fprintf(stderr, "cairn-loadgen: bad address '%s' (numeric ADDR:PORT)\n", G.addr);
		return 2;
	}
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < G.nagents + 64) {
		rl.rlim_cur = rl.rlim_max < G.nagents + 64 ? rl.rlim_max : G.nagents + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	/* the shared template: no seq, no agent id, no HostInfo */
	struct batchgen_opts t = G.bopts;
	t.seq = 0;
	t.with_host = false;
	uint8_t zero_pk[32] = { 0 };
	uint8_t *full;
	size_t full_len;
	batchgen_build(zero_pk, &t, &full, &full_len, &G.records_per_batch);
	Cairn__Batch *b = cairn__batch__unpack(NULL, full_len, full);
	b->agent_id.len = 0;
	b->seq = 0;
	G.tmpl_len = cairn__batch__get_packed_size(b);
	G.tmpl = malloc(G.tmpl_len);
	cairn__batch__pack(b, G.tmpl);
	cairn__batch__free_unpacked(b, NULL);
	free(full);

	G.loop = uv_default_loop();
	G.agents = calloc(G.nagents, sizeof(*G.agents));
	uv_timer_init(G.loop, &G.tick);
	G.t_start_us = now_us();
	G.last_tick_us = G.t_start_us;
	uv_timer_start(&G.tick, on_tick, 5, 5);
	printf("loadgen: %u agents -> %s, batch %zu bytes, %u records (%u perf windows, %u "
	       "processes, %u edges), window %u, rate %s\n",
	       G.nagents, G.addr, G.tmpl_len, G.records_per_batch, G.bopts.nperf, G.bopts.nprocs,
	       G.bopts.nedges, G.window, G.rate > 0 ? "limited" : "unlimited");
	connect_more();
	uv_run(G.loop, UV_RUN_DEFAULT);

	double secs = (double)(G.t_end_us - G.t_measure_us) / 1e6;
	qsort(G.lat, G.nlat, sizeof(*G.lat), cmp_u32);
	double p50 = G.nlat ? G.lat[G.nlat / 2] / 1000.0 : 0;
	double p99 = G.nlat ? G.lat[(size_t)((double)G.nlat * 0.99)] / 1000.0 : 0;
	double pmax = G.nlat ? G.lat[G.nlat - 1] / 1000.0 : 0;
	printf("connected: %u of %u agents in %.1f s (%u failed)\n", G.nagents - G.nfailed,
	       G.nagents, (double)(G.t_all_ready_us - G.t_start_us) / 1e6, G.nfailed);
	printf("measured %.1f s: %llu batches ACKed = %.0f batches/s, %.0f records/s; "
	       "target rate %s\n",
	       secs, (unsigned long long)G.acked_batches, (double)G.acked_batches / secs,
	       (double)G.acked_records / secs, G.rate > 0 ? "set" : "unlimited");
	printf("ACK latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%zu samples)\n", p50, p99,
	       pmax, G.nlat);
	double lg_cpu = rusage_s(&lg1) - rusage_s(&lg0);
	printf("loadgen: CPU %.0f%% of one core (%.3f ms per ACKed batch)\n", lg_cpu / secs * 100.0,
	       G.acked_batches ? lg_cpu * 1000.0 / (double)G.acked_batches : 0.0);
	if (G.collector_pid) {
		long hz = sysconf(_SC_CLK_TCK);
		double cpu = (double)(cs1.ticks - cs0.ticks) / (double)hz /
			     ((double)(cs1.t_us - cs0.t_us) / 1e6) * 100.0;
		printf("collector: %.3f ms CPU per ACKed batch\n",
		       G.acked_batches ? (double)(cs1.ticks - cs0.ticks) / (double)hz * 1000.0 /
						 (double)G.acked_batches
				       : 0.0);
		printf("collector: CPU %.0f%% of one core, RSS %.1f MiB (peak %.1f MiB; anonymous "
		       "%.1f MiB, file-backed LMDB map pages %.1f MiB)\n",
		       cpu, (double)cs1.rss_kb / 1024.0, (double)cs1.hwm_kb / 1024.0,
		       (double)cs1.anon_kb / 1024.0, (double)cs1.file_kb / 1024.0);
	}
	if (G.errors)
		printf("errors: %llu (last: %s)\n", (unsigned long long)G.errors, G.last_error);
	return G.nfailed ? 1 : 0;
}
