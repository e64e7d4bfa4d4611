/* cairn-estate: synthetic estates with ground truth, and the measurement of
 * the dependency map and the application grouping against it.
 *
 *   cairn-estate --state-dir DIR --hosts N [--seed S] [--days D]
 *                [--extra-edges E] [--cross-app PCT] [--write] [--eval]
 *                [--truth FILE]
 *
 * --write stores the estate through ingest_apply (the collector's own
 * ingest transaction function) into DIR/db; --eval rebuilds the same estate
 * in memory (same seed), computes the map and the grouping from DIR/db and
 * prints edge precision/recall, the adjusted Rand index, time and peak RSS. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "apps.h"
#include "db.h"
#include "depmap.h"
#include "estate_gen.h"
#include "log.h"
#include "store.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: cairn-estate --state-dir DIR --hosts N [--seed S] [--days D]\n"
		   "                    [--extra-edges E] [--cross-app PCT] [--write] [--eval]\n"
		   "                    [--truth FILE]\n");
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

static int evaluate(const struct estate_gen *e, struct db_env *env)
{
	MDB_txn *txn;
	struct errbuf eb = { { 0 } };
	int rc = db_read_begin(env, &txn);
	if (rc) {
		fprintf(stderr, "cairn-estate: read txn: %s\n", db_strerror(rc));
		return 1;
	}
	double c0 = cpu_s();
	uint64_t t0 = time_mono_us();
	struct depmap *m = NULL;
	struct depmap_opts mo = { 0 };
	rc = depmap_build(txn, env, &mo, &m, &eb);
	uint64_t t1 = time_mono_us();
	struct apps_result ar;
	struct apps_opts ao;
	apps_opts_default(&ao);
	if (!rc)
		rc = apps_compute(m, &ao, NULL, NULL, &ar, &eb);
	uint64_t t2 = time_mono_us();
	double c2 = cpu_s();
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
	       "%u shared services), %u Louvain splits\n",
	       napps_pred, ar.napps - napps_pred, ninfra_pred, ar.hubs, ar.shared,
	       ar.louvain_splits);
	printf("ARI %.4f\n", ari);
	printf("time: map %.3f s (load %.3f, resolve %.3f), grouping %.3f s, total %.3f s wall, "
	       "%.3f s CPU; peak RSS %.1f MiB\n",
	       (double)(t1 - t0) / 1e6, (double)m->stats.load_us / 1e6,
	       (double)m->stats.resolve_us / 1e6, (double)(t2 - t1) / 1e6,
	       (double)(t2 - t0) / 1e6, c2 - c0, (double)rss_kib() / 1024.0);
	free(truth);
	free(gen_of_node);
	free(node_of_gen);
	free(la);
	free(lb);
	depmap_free(m);
	apps_result_free(&ar);
	return 0;
}

int main(int argc, char *argv[])
{
	log_init("cairn-estate", LOGL_NOTICE);
	struct estate_gen_spec spec = { .hosts = 50, .seed = 1, .days = 1 };
	const char *state_dir = NULL, *truth_path = NULL;
	bool do_write = false, do_eval = false;
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "d:n:s:D:x:X:t:weh", opts, NULL)) != -1) {
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
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!state_dir || (!do_write && !do_eval && !truth_path) || !spec.hosts || !spec.days) {
		usage(stderr);
		return 2;
	}
	/* a fixed start day keeps a store and a later --eval run in step */
	spec.start_ms = 20000LL * STORE_DAY_MS;
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
	struct errbuf eb = { { 0 } };
	char path[4096];
	struct db_env env;
	snprintf(path, sizeof(path), "%s/db", state_dir);
	if ((do_write && dir_make(path, 0750, &eb)) ||
	    db_open(&env, path, store_db_names, STORE_NDBS, 8ull << 30, 64ull << 30,
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
			mdb_env_sync(env.env, 1);
			fprintf(stderr, "estate: written to %s in %.2f s\n", path,
				(double)(time_mono_us() - t0) / 1e6);
		}
	}
	if (!rc && do_eval)
		rc = evaluate(e, &env);
	db_close(&env);
	estate_gen_free(e);
	return rc;
}
