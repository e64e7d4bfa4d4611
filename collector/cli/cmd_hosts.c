/* cairn-collector hosts: every host that reported, with last-seen time and
 * record counts. A first reader of the store (the analysis commands build on
 * the same DBs). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "enroll.h"
#include "ingest.h"
#include "keys.h"
#include "format.h"
#include "read.h"
#include "snapshot.h"
#include "store.h"

static void hosts_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector hosts [--json] [--state-dir DIR | -c FILE]\n\n"
		   "Lists the hosts whose agents delivered data: hostname, OS, last seen, and\n"
		   "how many batches and records are stored.\n");
	cli_usage_common(f);
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Application of each host from the latest snapshot (analysis): pairs of
 * (agent id hex, app name) sorted by id for bsearch. */
struct host_app {
	const char *id;
	const char *app;
};

static int cmp_host_app(const void *a, const void *b)
{
	return strcmp(((const struct host_app *)a)->id, ((const struct host_app *)b)->id);
}

static struct host_app *host_apps(const Cairn__Store__Snapshot *s, size_t *n)
{
	*n = 0;
	size_t total = 0;
	for (size_t i = 0; s && i < s->n_apps; i++)
		total += s->apps[i]->n_hosts;
	struct host_app *ha = calloc(total + 1, sizeof(*ha));
	if (!ha)
		return NULL;
	for (size_t i = 0; s && i < s->n_apps; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			ha[(*n)++] = (struct host_app){ s->apps[i]->hosts[j], s->apps[i]->name };
	if (*n > 1)
		qsort(ha, *n, sizeof(*ha), cmp_host_app);
	return ha;
}

static const char *app_of(const struct host_app *ha, size_t n, const char *id)
{
	struct host_app key = { id, NULL };
	const struct host_app *r = n ? bsearch(&key, ha, n, sizeof(*ha), cmp_host_app) : NULL;
	return r ? r->app : "";
}

/* Number of keys under a 32-byte agent prefix in dbi. */
static uint64_t count_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[static 32])
{
	MDB_cursor *cur;
	if (mdb_cursor_open(txn, dbi, &cur))
		return 0;
	MDB_val k = { 32, (void *)id }, v;
	uint64_t n = 0;
	int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size >= 32 && !memcmp(k.mv_data, id, 32)) {
		n++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return n;
}

int hosts_main(int argc, char *argv[])
{
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, NULL, hosts_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n\n", cli.prog, cli.args[0]);
		hosts_usage(stderr);
		return 2;
	}
	struct collector_config cfg;
	if (cli_collector_config(&cli, &cfg))
		return 2;
	struct db_env db;
	struct errbuf eb;
	if ((rc = store_open(&db, &cfg, false, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		return 1;
	}
	MDB_txn *txn;
	if ((rc = db_read_begin(&db, &txn))) {
		fprintf(stderr, "%s: reading the store: %s\n", cli.prog, db_strerror(rc));
		db_close(&db);
		return 1;
	}
	Cairn__Store__Snapshot *snap = NULL;
	snapshot_load_latest(txn, &db, false, &snap, NULL); /* none yet: no APP column values */
	size_t nha = 0;
	struct host_app *ha = host_apps(snap, &nha);
	json_t *arr = cli.json ? json_array() : NULL;
	if (!arr)
		printf("%-16s  %-24s  %-28s  %-19s  %8s  %10s  %6s  %5s  %-8s  %s\n", "FINGERPRINT",
		       "HOSTNAME", "OS", "LAST SEEN (UTC)", "BATCHES", "RECORDS", "PERF", "EDGES",
		       "STATE", "APP");
	MDB_cursor *cur;
	mdb_cursor_open(txn, db.dbi[STORE_AGENTS], &cur);
	MDB_val k, v;
	size_t n = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		Cairn__Store__Agent *a = cairn__store__agent__unpack(NULL, v.mv_size, v.mv_data);
		if (!a)
			continue;
		const uint8_t *id = k.mv_data;
		Cairn__Store__HostFacts *hf = NULL;
		MDB_val hv;
		MDB_val hk = { 32, (void *)id };
		if (mdb_get(txn, db.dbi[STORE_HOSTS], &hk, &hv) == 0)
			hf = cairn__store__host_facts__unpack(NULL, hv.mv_size, hv.mv_data);
		if (!hf && a->batches_stored == 0) {
			/* enrolled or pending but never delivered: `agents` lists those */
			cairn__store__agent__free_unpacked(a, NULL);
			continue;
		}
		const Cairn__HostInfo *hi = hf ? hf->info : NULL;
		const char *hostname = hi && *hi->hostname ? hi->hostname : a->hostname;
		const char *os = hi && hi->os && *hi->os->pretty_name ? hi->os->pretty_name : "-";
		uint64_t perf = count_prefix(txn, db.dbi[STORE_PERF], id);
		uint64_t edges = count_prefix(txn, db.dbi[STORE_EDGES], id);
		char hex[KEY_ID_HEX_LEN + 1], fp[KEY_FINGERPRINT_HEX_LEN + 1], seen[32];
		keys_id_hex(id, hex);
		keys_fingerprint(id, fp);
		int64_t last = a->last_batch_ms ? a->last_batch_ms : a->last_seen_ms;
		const char *app = ha ? app_of(ha, nha, hex) : "";
		if (arr) {
			json_array_append_new(
				arr,
				json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:o}",
					  "id", hex, "fingerprint", fp, "hostname", format_json_str(hostname),
					  "os", format_json_str(os),
					  "kernel", format_json_str(hi ? hi->kernel_release : ""),
					  "architecture", format_json_str(hi ? hi->architecture : ""),
					  "last_seen_ms", (json_int_t)last,
					  "batches", (json_int_t)a->batches_stored,
					  "records", (json_int_t)a->records_stored,
					  "perf_windows", (json_int_t)perf,
					  "edge_days", (json_int_t)edges,
					  "high_seq", (json_int_t)a->high_seq,
					  "state", enroll_state_name(a->state), "app", format_json_str(app)));
		} else {
			fmt_time(last, seen, sizeof(seen));
			printf("%-16s  %-24.24s  %-28.28s  %-19s  %8llu  %10llu  %6llu  %5llu  %-8s  %s\n",
			       fp, *hostname ? hostname : "-", os, seen,
			       (unsigned long long)a->batches_stored,
			       (unsigned long long)a->records_stored, (unsigned long long)perf,
			       (unsigned long long)edges, enroll_state_name(a->state),
			       *app ? app : "-");
		}
		n++;
		if (hf)
			cairn__store__host_facts__free_unpacked(hf, NULL);
		cairn__store__agent__free_unpacked(a, NULL);
	}
	mdb_cursor_close(cur);
	free(ha);
	if (snap)
		cairn__store__snapshot__free_unpacked(snap, NULL);
	db_read_end(&db, txn);
	db_close(&db);
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
	} else if (!n) {
		printf("(no host has delivered data yet)\n");
	}
	return 0;
}
