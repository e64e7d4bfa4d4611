/* cairn-estate: synthetic estates with ground truth, and the measurement of
 * the dependency map and the application grouping against it.
 *
 *   cairn-estate --state-dir DIR --hosts N [--seed S] [--days D (7)]
 *                [--end-ms MS (now)] [--perf-days P | --no-perf]
 *                [--extra-edges E] [--cross-app PCT] [--write] [--eval]
 *                [--truth FILE] [--send HOST:PORT --key HEX [--token T]]
 *
 * The estate's D days of data end now (or at --end-ms, Unix ms), so
 * planning (readiness, sizing, cost) judges it as a current estate: every
 * host has OS, sizes, processes, packages and one perf window per hour
 * over the last P days (default 7, at most D; none above 2,000 hosts,
 * whose runs measure the map; --no-perf leaves them out).
 *
 * --perf-window S sets the perf window length for --write (300 = what agents
 * send by default; a divisor of an hour); --raw-days R stores the perf of
 * days older than the last R as day rollups only (what the store holds after
 * retention_raw = R days), so 90 days of 5-minute data fit on this machine;
 * --no-raw stores every perf window in the rollups only (100,000 hosts x 90
 * days: the raw windows of even one day would not fit this machine's disk);
 * --drop-rollups empties the perf rollups (hour, day, week) after writing
 * (the store as a collector without rollups had it: every read reduces raw
 * windows; week edge records stay, the map reads days with --days-only).
 *
 * --write stores the estate through ingest_apply (the collector's own
 * ingest transaction function) into DIR/db; --send delivers it instead
 * through the real agent -> collector path: every host is an agent with its
 * own Ed25519 key, runs the handshake (common/handshake.h) against a running
 * `cairn-collector serve` and sends one signed, encrypted batch per day,
 * waiting for the ACKs (which come after the collector's durable commit);
 * --cases adds the trust cases (outside clients, dispatcher scripts; see
 * estate_gen.h) and --eval reports them and the pollers.
 * --eval rebuilds the same estate
 * in memory (same seed), computes the map and the grouping from DIR/db and
 * prints edge precision/recall, the adjusted Rand index, time and peak RSS. */
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "apps.h"
#include "channel.h"
#include "config.h"
#include "db.h"
#include "depmap.h"
#include "estate_gen.h"
#include "frame.h"
#include "handshake.h"
#include "keys.h"
#include "log.h"
#include "sign.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: cairn-estate --state-dir DIR --hosts N [--seed S] [--days D (7)]\n"
		   "                    [--end-ms MS (now)] [--perf-days P | --no-perf]\n"
		   "                    [--extra-edges E] [--cross-app PCT] [--cases] [--write] [--eval]\n"
		   "                    [--truth FILE] [--send HOST:PORT --key HEX [--token T]]\n"
		   "                    [--perf-window SECONDS (3600)] [--raw-days R | --no-raw]\n"
		   "                    [--drop-rollups] [--days-only]\n");
}

static int write_truth(const struct estate_gen *e, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "cairn-estate: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "# agent_id\thostname\trole\tapp (infra = shared infrastructure)\n");
	for (uint32_t h = 0; h < e->nhosts; h++) {
		char id[65];
		hex_encode(id, e->hosts[h].pk, 32);
		if (e->hosts[h].truth == ESTATE_GEN_INFRA)
			fprintf(f, "%s\t%s\t%s\tinfra\n", id, e->hosts[h].name, e->hosts[h].role);
		else
			fprintf(f, "%s\t%s\t%s\t%u\n", id, e->hosts[h].name, e->hosts[h].role,
				e->hosts[h].truth);
	}
	fclose(f);
	return 0;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* RssAnon of this process (KiB): the memory that is not the store's mapped
 * pages (those are page cache, shared and dropped under pressure). */
static long anon_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* Peak RssAnon while the map and grouping run, sampled every 10 ms. */
static struct {
	pthread_mutex_t mu;
	bool stop;
	long peak;
} anon_watch = { PTHREAD_MUTEX_INITIALIZER, false, 0 };

static void *anon_sampler(void *arg)
{
	(void)arg;
	for (;;) {
		long v = anon_kib();
		pthread_mutex_lock(&anon_watch.mu);
		if (v > anon_watch.peak)
			anon_watch.peak = v;
		bool stop = anon_watch.stop;
		pthread_mutex_unlock(&anon_watch.mu);
		if (stop)
			return NULL;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* The trust cases (--cases): outside clients drawn per subnet, pollers of a
 * small estate found as infrastructure, dispatcher roles kept apart. */
static void eval_cases(const struct estate_gen *e, const struct depmap *m,
		       const struct apps_result *ar, const uint32_t *node_of_gen)
{
	/* pollers: every monitoring, backup and jump host, whatever the size */
	uint32_t pollers = 0, found = 0;
	for (uint32_t h = 0; h < e->nhosts; h++) {
		const char *r = e->hosts[h].role;
		if (strcmp(r, "monitoring") && strcmp(r, "backup") && strcmp(r, "jump"))
			continue;
		pollers++;
		int32_t a = ar->app_of_host[node_of_gen[h]];
		found += a >= 0 && ar->apps[a]->infrastructure;
	}
	printf("pollers (monitoring, backup, jump): %u, found as infrastructure %u\n", pollers,
	       found);
	if (!e->spec.cases)
		return;
	/* outside clients: truth (subnet, server) pairs and addresses */
	uint32_t tpairs = 0, taddrs = 0, fpairs = 0;
	for (size_t i = 0; i < e->noutside; i++) {
		const struct estate_gen_outside *o = &e->outside[i];
		bool first_pair = true, first_addr = true;
		for (size_t j = 0; j < i; j++) {
			if ((e->outside[j].addr >> 8) == (o->addr >> 8) && e->outside[j].server == o->server)
				first_pair = false;
			if (e->outside[j].addr == o->addr)
				first_addr = false;
		}
		taddrs += first_addr;
		if (!first_pair)
			continue;
		tpairs++;
		char net[32], id[48];
		estate_gen_addr(o->addr & ~0xffu, net, sizeof(net));
		snprintf(id, sizeof(id), "cli:%s/24", net);
		for (size_t q = 0; q < m->nhostl; q++) {
			const struct depmap_edge *d = &m->hostl[q];
			if (d->to == node_of_gen[o->server] && !strcmp(m->nodes[d->from].id, id)) {
				fpairs++;
				break;
			}
		}
	}
	uint32_t nodes = 0, faddrs = 0;
	for (uint32_t n = m->nhosts; n < m->nnodes; n++)
		if (m->nodes[n].kind == CAIRN__STORE__NODE_KIND__CLIENTS) {
			nodes++;
			faddrs += m->nodes[n].clients;
		}
	printf("outside clients: truth %u addresses, %u (subnet, server) pairs; map %u subnet "
	       "nodes, %u addresses, %u of %u pairs drawn\n",
	       taddrs, tpairs, nodes, faddrs, fpairs, tpairs);
	/* dispatcher roles: each role's own edges, to its own server only */
	uint32_t right = 0, wrong = 0;
	for (size_t i = 0; i < e->nroles; i++) {
		const struct estate_gen_role *r = &e->roles[i];
		bool ok = false;
		for (size_t q = 0; q < m->nsvc; q++) {
			const struct depmap_edge *d = &m->svc[q];
			if (d->from != node_of_gen[r->host] || d->from_ident == DEPMAP_NONE ||
			    strcmp(m->strings[d->from_ident], r->identity))
				continue;
			if (d->to == node_of_gen[r->server] && d->port == r->port)
				ok = true;
			else if (!d->local && d->port != 7415)
				wrong++;
		}
		right += ok;
	}
	printf("dispatcher roles: %zu, attributed to their own program %u, edges of a role to "
	       "another role's server %u\n",
	       e->nroles, right, wrong);
}

static int evaluate(const struct estate_gen *e, struct db_env *env, bool days_only)
{
	MDB_txn *txn;
	struct errbuf eb = { { 0 } };
	int rc = db_read_begin(env, &txn);
	if (rc) {
		fprintf(stderr, "cairn-estate: read txn: %s\n", db_strerror(rc));
		return 1;
	}
	long anon0 = anon_kib(); /* the ground truth and the generator */
	pthread_t sampler;
	bool sampling = pthread_create(&sampler, NULL, anon_sampler, NULL) == 0;
	double c0 = cpu_s();
	uint64_t t0 = time_mono_us();
	struct depmap *m = NULL;
	struct depmap_opts mo = { .days_only = days_only };
	rc = depmap_build(txn, env, &mo, &m, &eb);
	uint64_t t1 = time_mono_us();
	struct apps_result ar;
	struct apps_opts ao;
	apps_opts_default(&ao);
	if (!rc)
		rc = apps_compute(m, &ao, NULL, NULL, &ar, &eb);
	uint64_t t2 = time_mono_us();
	double c2 = cpu_s();
	if (sampling) {
		pthread_mutex_lock(&anon_watch.mu);
		anon_watch.stop = true;
		pthread_mutex_unlock(&anon_watch.mu);
		pthread_join(sampler, NULL);
	}
	db_read_end(env, txn);
	if (rc) {
		fprintf(stderr, "cairn-estate: %s\n", eb.msg);
		depmap_free(m);
		return 1;
	}
	/* edges */
	uint32_t *truth = NULL;
	size_t ntruth = 0;
	if (estate_gen_truth_edges(e, &truth, &ntruth)) {
		depmap_free(m);
		apps_result_free(&ar);
		return 1;
	}
	uint32_t *gen_of_node = malloc((m->nhosts + 1) * sizeof(uint32_t));
	uint32_t *node_of_gen = malloc((e->nhosts + 1) * sizeof(uint32_t));
	uint32_t *la = malloc((e->nhosts + 1) * sizeof(uint32_t));
	uint32_t *lb = malloc((e->nhosts + 1) * sizeof(uint32_t));
	if (!gen_of_node || !node_of_gen || !la || !lb)
		return 1;
	for (uint32_t h = 0; h < e->nhosts; h++) {
		node_of_gen[h] = depmap_host_index(m, e->hosts[h].pk);
		if (node_of_gen[h] != DEPMAP_NONE)
			gen_of_node[node_of_gen[h]] = h;
	}
	size_t tp = 0, predicted = 0;
	for (size_t i = 0; i < m->nhostl; i++) {
		const struct depmap_edge *d = &m->hostl[i];
		if (d->from >= m->nhosts || d->to >= m->nhosts)
			continue;
		predicted++;
		uint32_t c = gen_of_node[d->from], s = gen_of_node[d->to];
		size_t lo = 0, hi = ntruth;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			uint64_t km = ((uint64_t)truth[2 * mid] << 32) | truth[2 * mid + 1];
			uint64_t kk = ((uint64_t)c << 32) | s;
			if (km == kk) {
				tp++;
				break;
			}
			if (km < kk)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	/* grouping: infrastructure is one class on both sides */
	uint32_t ninfra_truth = 0, ninfra_pred = 0;
	for (uint32_t h = 0; h < e->nhosts; h++) {
		la[h] = e->hosts[h].truth;
		if (la[h] == ESTATE_GEN_INFRA)
			ninfra_truth++;
		int32_t a = ar.app_of_host[node_of_gen[h]];
		bool infra = a < 0 || ar.apps[a]->infrastructure;
		lb[h] = infra ? ESTATE_GEN_INFRA : (uint32_t)a;
		if (infra)
			ninfra_pred++;
	}
	double ari = apps_adjusted_rand(la, lb, e->nhosts);
	if (getenv("CAIRN_ESTATE_VERBOSE"))
		for (uint32_t h = 0; h < e->nhosts; h++) {
			int32_t a = ar.app_of_host[node_of_gen[h]];
			printf("  %-24s truth %-6d -> %s (%s)\n", e->hosts[h].name,
			       la[h] == ESTATE_GEN_INFRA ? -1 : (int)la[h], a >= 0 ? ar.apps[a]->name : "-",
			       a >= 0 && ar.apps[a]->infrastructure ? "infra" : "app");
		}
	size_t napps_pred = 0;
	for (size_t i = 0; i < ar.napps; i++)
		if (!ar.apps[i]->infrastructure)
			napps_pred++;
	printf("hosts %u (infrastructure %u = %.1f%%), applications %u\n", e->nhosts, ninfra_truth,
	       100.0 * ninfra_truth / e->nhosts, e->napps);
	printf("edge records %llu, in period %llu, service edges %zu, host edges %zu\n",
	       (unsigned long long)m->stats.edge_records,
	       (unsigned long long)m->stats.edges_in_period, m->nsvc, m->nhostl);
	printf("edges between agent hosts: truth %zu, found %zu, correct %zu: precision %.4f "
	       "recall %.4f\n",
	       ntruth, predicted, tp, predicted ? (double)tp / (double)predicted : 1.0,
	       ntruth ? (double)tp / (double)ntruth : 1.0);
	printf("unresolved %llu ambiguous %llu self %llu inbound-only %llu malformed %llu\n",
	       (unsigned long long)m->stats.unresolved, (unsigned long long)m->stats.ambiguous,
	       (unsigned long long)m->stats.self_traffic,
	       (unsigned long long)m->stats.inbound_only, (unsigned long long)m->stats.malformed);
	printf("grouping: %zu applications + %zu infrastructure groups (%u infra hosts: %u hubs, "
	       "%u shared services), %u weak links cut, %u Louvain splits\n",
	       napps_pred, ar.napps - napps_pred, ninfra_pred, ar.hubs, ar.shared,
	       ar.bridges, ar.louvain_splits);
	printf("ARI %.4f\n", ari);
	eval_cases(e, m, &ar, node_of_gen);
	printf("time: map %.3f s (load %.3f, resolve %.3f), grouping %.3f s, total %.3f s wall, "
	       "%.3f s CPU; peak RSS %.1f MiB\n",
	       (double)(t1 - t0) / 1e6, (double)m->stats.load_us / 1e6,
	       (double)m->stats.resolve_us / 1e6, (double)(t2 - t1) / 1e6,
	       (double)(t2 - t0) / 1e6, c2 - c0, (double)rss_kib() / 1024.0);
	if (sampling)
		printf("memory: map + grouping %.1f MiB anonymous at peak (process %.1f MiB, of "
		       "which %.1f MiB ground truth before the map); the rest of the peak RSS is "
		       "the store's mapped pages\n",
		       (double)(anon_watch.peak - anon0) / 1024.0, (double)anon_watch.peak / 1024.0,
		       (double)anon0 / 1024.0);
	free(truth);
	free(gen_of_node);
	free(node_of_gen);
	free(la);
	free(lb);
	depmap_free(m);
	apps_result_free(&ar);
	return 0;
}

/* ------------------------------------------------------------ --send */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int tcp_connect(const char *hostport, char *err, size_t errn)
{
	char host[256];
	uint16_t port;
	if (config_split_hostport(hostport, host, sizeof(host), &port) || !port) {
		snprintf(err, errn, "'%s' is not HOST:PORT", hostport);
		return -EINVAL;
	}
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc) {
		snprintf(err, errn, "%s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errn, "cannot connect to %s: %s", hostport, strerror(errno));
		return -ECONNREFUSED;
	}
	struct timeval tv = { .tv_sec = 30 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Reads one frame (blocking). 0 or -errno. */
static int read_frame(int fd, struct frame_decoder *d, uint8_t *buf, size_t *have, size_t *off,
		      struct frame *f)
{
	for (;;) {
		if (*off < *have) {
			size_t used = 0;
			int rc = frame_decoder_feed(d, buf + *off, *have - *off, &used, f);
			*off += used;
			if (rc < 0)
				return rc;
			if (rc == 1)
				return 0;
			continue;
		}
		ssize_t n = read(fd, buf, 65536);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return -errno;
		*have = (size_t)n;
		*off = 0;
	}
}

/* One agent: handshake, one batch per day, ACK of the last. */
static int send_host(const struct estate_gen *e, uint32_t h, const char *addr,
		     const uint8_t collector_pk[32], const char *token, char *err, size_t errn)
{
	int fd = tcp_connect(addr, err, errn);
	if (fd < 0)
		return fd;
	struct keypair kp;
	memcpy(kp.pk, e->hosts[h].pk, 32);
	memcpy(kp.sk, e->hosts[h].sk, 64);
	struct handshake_client hs;
	struct handshake_out o = { 0 };
	struct frame_decoder dec;
	frame_decoder_init(&dec, FRAME_MAX_DEFAULT);
	uint8_t *buf = malloc(65536);
	size_t have = 0, off = 0;
	int rc = buf ? handshake_client_init(&hs, &kp, collector_pk, token, e->hosts[h].name)
		     : -ENOMEM;
	keys_wipe(&kp);
	if (!rc)
		rc = handshake_client_start(&hs, &o);
	for (;;) {
		for (size_t i = 0; !rc && i < o.n; i++)
			rc = write_all(fd, o.data[i], o.len[i]);
		handshake_out_free(&o);
		if (rc)
			break;
		struct frame f = { 0 };
		if ((rc = read_frame(fd, &dec, buf, &have, &off, &f)))
			break;
		rc = handshake_client_feed(&hs, &f, &o);
		free(f.body);
		if (rc == HANDSHAKE_DONE) {
			rc = 0;
			break;
		}
		if (rc < 0) {
			snprintf(err, errn, "handshake: %s %s", hs.fail_reason ? hs.fail_reason : "",
				 rc == -ECONNREFUSED ? hs.error.text : "");
			break;
		}
	}
	handshake_out_free(&o);
	uint64_t last = hs.ready.high_seq;
	for (uint32_t d = 0; !rc && d < e->spec.days; d++) {
		uint64_t seq = (uint64_t)d + 1;
		if (seq <= hs.ready.high_seq)
			continue; /* stored in an earlier run */
		Cairn__Batch *b = NULL;
		rc = estate_gen_batch(e, h, d, seq, false, &b);
		size_t len = rc ? 0 : cairn__batch__get_packed_size(b);
		uint8_t *payload = rc ? NULL : malloc(len + 1);
		if (!payload) {
			if (b)
				cairn__batch__free_unpacked(b, NULL);
			rc = -ENOMEM;
			break;
		}
		cairn__batch__pack(b, payload);
		cairn__batch__free_unpacked(b, NULL);
		uint8_t sig[SIGN_LEN], hdr[CHANNEL_BATCH_HDR_LEN];
		sign_batch(sig, e->hosts[h].sk, e->hosts[h].pk, seq, payload, len);
		channel_batch_header(hdr, seq, sig);
		uint8_t *out;
		size_t outlen;
		rc = channel_seal2(&hs.ch, FRAME_BATCH, hdr, sizeof(hdr), payload, len, false, &out,
				   &outlen);
		free(payload);
		if (!rc) {
			rc = write_all(fd, out, outlen);
			free(out);
		}
		last = seq;
	}
	/* ACKs: cumulative, after the durable commit */
	uint64_t acked = hs.ready.high_seq;
	while (!rc && acked < last) {
		struct frame f = { 0 }, in = { 0 };
		if ((rc = read_frame(fd, &dec, buf, &have, &off, &f)))
			break;
		if (f.type != FRAME_SEALED || channel_open(&hs.ch, f.body, f.len, &in)) {
			free(f.body);
			snprintf(err, errn, "unexpected frame from the collector");
			rc = -EPROTO;
			break;
		}
		free(f.body);
		uint64_t v;
		if (in.type == FRAME_ACK && channel_u64_decode(in.body, in.len, &v) == 0) {
			acked = v > acked ? v : acked;
		} else if (in.type == FRAME_ERROR) {
			struct channel_error ce;
			channel_error_decode(in.body, in.len, &ce);
			snprintf(err, errn, "collector: %s", ce.text);
			rc = -ECONNREFUSED;
		}
		free(in.body);
	}
	if (rc && !err[0])
		snprintf(err, errn, "%s", strerror(rc < 0 ? -rc : rc));
	handshake_client_wipe(&hs);
	frame_decoder_free(&dec);
	free(buf);
	close(fd);
	return rc;
}

static int send_estate(const struct estate_gen *e, const char *addr, const char *keyhex,
		       const char *token)
{
	uint8_t pk[32];
	if (!keyhex || keys_public_from_hex(keyhex, pk)) {
		fprintf(stderr, "cairn-estate: --key: give the collector's public key (64 hex digits, "
				"'cairn-collector key show -q')\n");
		return 2;
	}
	uint64_t t0 = time_mono_us();
	for (uint32_t h = 0; h < e->nhosts; h++) {
		char err[300] = "";
		if (send_host(e, h, addr, pk, token, err, sizeof(err))) {
			fprintf(stderr, "cairn-estate: host %s (%u): %s\n", e->hosts[h].name, h, err);
			return 1;
		}
	}
	fprintf(stderr, "estate: %u agents sent %u signed batches each to %s in %.2f s\n",
		e->nhosts, e->spec.days, addr, (double)(time_mono_us() - t0) / 1e6);
	return 0;
}

int main(int argc, char *argv[])
{
	log_init("cairn-estate", LOGL_NOTICE);
	struct estate_gen_spec spec = { .hosts = 50, .seed = 1, .days = 7 };
	const char *state_dir = NULL, *truth_path = NULL, *send_addr = NULL, *keyhex = NULL,
		   *token = NULL;
	bool do_write = false, do_eval = false, drop_rollups = false, days_only = false;
	int perf_days = -1;
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'd' },
		{ "hosts", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'D' },
		{ "extra-edges", required_argument, NULL, 'x' },
		{ "cross-app", required_argument, NULL, 'X' },
		{ "truth", required_argument, NULL, 't' },
		{ "write", no_argument, NULL, 'w' },
		{ "eval", no_argument, NULL, 'e' },
		{ "send", required_argument, NULL, 'S' },
		{ "key", required_argument, NULL, 'k' },
		{ "token", required_argument, NULL, 'T' },
		{ "end-ms", required_argument, NULL, 'E' },
		{ "perf-days", required_argument, NULL, 'p' },
		{ "cases", no_argument, NULL, 'C' },
		{ "no-perf", no_argument, NULL, 'P' },
		{ "perf-window", required_argument, NULL, 'W' },
		{ "raw-days", required_argument, NULL, 'R' },
		{ "drop-rollups", no_argument, NULL, 'Z' },
		{ "no-raw", no_argument, NULL, 'N' },
		{ "days-only", no_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:n:s:D:x:X:t:weS:k:T:E:p:PCW:R:Zh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': state_dir = optarg; break;
		case 'n': spec.hosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': spec.seed = strtoull(optarg, NULL, 10); break;
		case 'D': spec.days = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'x': spec.extra_edges = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'X': spec.cross_app_pct = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 't': truth_path = optarg; break;
		case 'w': do_write = true; break;
		case 'e': do_eval = true; break;
		case 'S': send_addr = optarg; break;
		case 'k': keyhex = optarg; break;
		case 'T': token = optarg; break;
		case 'E': spec.end_ms = strtoll(optarg, NULL, 10); break;
		case 'p': perf_days = (int)strtol(optarg, NULL, 10); break;
		case 'P': perf_days = 0; break;
		case 'W': spec.perf_window_ms = strtoll(optarg, NULL, 10) * 1000; break;
		case 'R': spec.raw_days = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'Z': drop_rollups = true; break;
		case 'N': spec.no_raw = true; break;
		case 'O': days_only = true; break;
		case 'C': spec.cases = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (spec.perf_window_ms < 0 || (spec.perf_window_ms && 3600000 % spec.perf_window_ms)) {
		fprintf(stderr, "cairn-estate: --perf-window must divide an hour (e.g. 300)\n");
		return 2;
	}
	if (!state_dir || (!do_write && !do_eval && !truth_path && !send_addr) || !spec.hosts ||
	    !spec.days || (do_write && send_addr)) {
		usage(stderr);
		return 2;
	}
	/* The data ends now (rounded down to the hour) unless --end-ms says
	 * when: planning judges the recent period. The map, the grouping and
	 * the truth do not depend on the dates, so --eval runs on a store
	 * written earlier. */
	/* a week of hourly perf windows; none above 2,000 hosts, whose runs
	 * measure the map (--perf-days asks for them) */
	if (perf_days < 0) {
		perf_days = spec.hosts > 2000 ? 0 : 7;
		if (!perf_days)
			fprintf(stderr, "estate: no perf windows above 2,000 hosts unless --perf-days is given\n");
	}
	spec.perf_days = (uint32_t)perf_days;
	struct estate_gen *e;
	uint64_t t0 = time_mono_us();
	if (estate_gen_build(&spec, &e)) {
		fprintf(stderr, "cairn-estate: building the estate failed (out of memory)\n");
		return 1;
	}
	fprintf(stderr, "estate: %u hosts, %zu connections, built in %.2f s\n", e->nhosts, e->nconns,
		(double)(time_mono_us() - t0) / 1e6);
	if (truth_path && write_truth(e, truth_path)) {
		estate_gen_free(e);
		return 1;
	}
	if (send_addr) {
		int src = send_estate(e, send_addr, keyhex, token);
		if (src || !do_eval) {
			estate_gen_free(e);
			return src;
		}
	}
	struct errbuf eb = { { 0 } };
	char path[4096];
	struct db_env env;
	snprintf(path, sizeof(path), "%s/db", state_dir);
	if ((do_write && dir_make(path, 0750, &eb)) ||
	    db_open(&env, path, store_db_names, STORE_NDBS, 256ull << 30, 1ull << 40,
		    do_write ? MDB_NOSYNC : MDB_RDONLY, &eb)) {
		fprintf(stderr, "cairn-estate: %s\n", eb.msg);
		estate_gen_free(e);
		return 1;
	}
	int rc = 0;
	if (do_write) {
		t0 = time_mono_us();
		if (estate_gen_write(e, &env, &eb)) {
			fprintf(stderr, "cairn-estate: %s\n", eb.msg);
			rc = 1;
		} else {
			MDB_txn *txn;
			if (drop_rollups && (mdb_txn_begin(env.env, NULL, 0, &txn) ||
					     mdb_drop(txn, env.dbi[STORE_PERF_DAY], 0) ||
					     mdb_drop(txn, env.dbi[STORE_PERF_HOUR], 0) ||
					     mdb_drop(txn, env.dbi[STORE_PERF_WEEK], 0) ||
					     mdb_txn_commit(txn))) {
				fprintf(stderr, "cairn-estate: dropping the rollups failed\n");
				rc = 1;
			}
			mdb_env_sync(env.env, 1);
			fprintf(stderr, "estate: written to %s in %.2f s\n", path,
				(double)(time_mono_us() - t0) / 1e6);
		}
	}
	if (!rc && do_eval)
		rc = evaluate(e, &env, days_only);
	db_close(&env);
	estate_gen_free(e);
	return rc;
}
