/* cairn-collector host ID|NAME: everything known about one host: facts,
 * utilization, processes, listeners, packages, application and
 * dependencies in and out. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "pbjson.h"
#include "format.h"
#include "read.h"
#include "snapshot.h"
#include "store.h"

static void host_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector host HOST [--json]\n\n"
		   "Shows one host: facts (OS, CPU, memory, disks, addresses), utilization over\n"
		   "the stored performance windows, the busiest processes, listeners, package\n"
		   "counts, its application and its dependencies in and out. HOST is a\n"
		   "hostname, agent id, id prefix or fingerprint.\n");
	cli_usage_common(f);
}

struct util {
	uint64_t windows;
	double cpu_avg_sum, cpu_max, cpu_p95_max;
	double mem_avg_sum, mem_max;
	uint64_t mem_total;
	int64_t first_ms, last_ms;
};

static void perf_summary(MDB_txn *txn, const struct db_env *db, const uint8_t id[32],
			 struct util *u)
{
	memset(u, 0, sizeof(*u));
	MDB_cursor *c;
	if (mdb_cursor_open(txn, db->dbi[STORE_PERF], &c))
		return;
	MDB_val k = { 32, (void *)id }, v;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     !rc && k.mv_size >= 32 && !memcmp(k.mv_data, id, 32);
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Cairn__PerfWindow *w = cairn__perf_window__unpack(NULL, v.mv_size, v.mv_data);
		if (!w)
			continue;
		u->windows++;
		if (w->cpu_busy_pct) {
			u->cpu_avg_sum += w->cpu_busy_pct->avg;
			if (w->cpu_busy_pct->max > u->cpu_max)
				u->cpu_max = w->cpu_busy_pct->max;
			if (w->cpu_busy_pct->p95 > u->cpu_p95_max)
				u->cpu_p95_max = w->cpu_busy_pct->p95;
		}
		if (w->mem_used_bytes) {
			u->mem_avg_sum += w->mem_used_bytes->avg;
			if (w->mem_used_bytes->max > u->mem_max)
				u->mem_max = w->mem_used_bytes->max;
		}
		if (w->mem_total_bytes)
			u->mem_total = w->mem_total_bytes;
		if (!u->first_ms || w->window_start_ms < u->first_ms)
			u->first_ms = w->window_start_ms;
		if (w->window_end_ms > u->last_ms)
			u->last_ms = w->window_end_ms;
		cairn__perf_window__free_unpacked(w, NULL);
	}
	mdb_cursor_close(c);
}

/* Packages per manager: (name, count) into out, at most 4. */
static size_t package_counts(MDB_txn *txn, const struct db_env *db, const uint8_t id[32],
			     char names[4][16], size_t counts[4])
{
	size_t n = 0;
	MDB_cursor *c;
	if (mdb_cursor_open(txn, db->dbi[STORE_PACKAGES], &c))
		return 0;
	MDB_val k = { 32, (void *)id }, v;
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	     !rc && k.mv_size >= 32 && !memcmp(k.mv_data, id, 32) && n < 4;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		Cairn__PackageInventory *p =
			cairn__package_inventory__unpack(NULL, v.mv_size, v.mv_data);
		if (!p)
			continue;
		str_copy(names[n], p->manager, sizeof(names[n]));
		counts[n++] = p->n_packages;
		cairn__package_inventory__free_unpacked(p, NULL);
	}
	mdb_cursor_close(c);
	return n;
}

static void *get_msg(MDB_txn *txn, MDB_dbi dbi, const uint8_t id[32],
		     const ProtobufCMessageDescriptor *d)
{
	MDB_val k = { 32, (void *)id }, v;
	if (mdb_get(txn, dbi, &k, &v))
		return NULL;
	return protobuf_c_message_unpack(d, NULL, v.mv_size, v.mv_data);
}

static int cmp_proc_cpu(const void *a, const void *b)
{
	const Cairn__Process *x = *(Cairn__Process *const *)a, *y = *(Cairn__Process *const *)b;
	if (x->cpu_pct != y->cpu_pct)
		return x->cpu_pct > y->cpu_pct ? -1 : 1;
	return x->rss_bytes > y->rss_bytes ? -1 : x->rss_bytes < y->rss_bytes;
}

int host_main(int argc, char *argv[])
{
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, NULL, host_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs != 1) {
		fprintf(stderr, "%s: give one host (name, id, id prefix or fingerprint)\n\n",
			cli.prog);
		host_usage(stderr);
		return 2;
	}
	struct read_ctx q;
	if ((rc = cmd_open_store(&q, &cli, false)))
		return rc;
	struct errbuf eb = { { 0 } };
	MDB_txn *txn;
	if ((rc = db_read_begin(&q.db, &txn))) {
		fprintf(stderr, "%s: reading the store: %s\n", cli.prog, db_strerror(rc));
		read_close(&q);
		return 1;
	}
	struct read_host h;
	if (read_find_host(txn, &q.db, cli.args[0], &h, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		db_read_end(&q.db, txn);
		read_close(&q);
		return 1;
	}
	Cairn__Store__HostFacts *hf =
		get_msg(txn, q.db.dbi[STORE_HOSTS], h.id, &cairn__store__host_facts__descriptor);
	Cairn__ProcessSnapshot *ps =
		get_msg(txn, q.db.dbi[STORE_PROCS], h.id, &cairn__process_snapshot__descriptor);
	Cairn__ListenerSet *ls =
		get_msg(txn, q.db.dbi[STORE_LISTENERS], h.id, &cairn__listener_set__descriptor);
	struct util u;
	perf_summary(txn, &q.db, h.id, &u);
	char pk_names[4][16];
	size_t pk_counts[4];
	size_t npk = package_counts(txn, &q.db, h.id, pk_names, pk_counts);
	Cairn__Store__Snapshot *s = NULL;
	int src = snapshot_load_latest(txn, &q.db, true, &s, &eb);
	if (src && src != -ENOENT)
		fprintf(stderr, "%s: warning: %s\n", cli.prog, eb.msg);
	db_read_end(&q.db, txn);

	const Cairn__Store__App *app = NULL;
	for (size_t i = 0; s && i < s->n_apps && !app; i++)
		for (size_t j = 0; j < s->apps[i]->n_hosts; j++)
			if (!strcmp(s->apps[i]->hosts[j], h.id_hex)) {
				app = s->apps[i];
				break;
			}
	struct read_nodes ix = { 0 };
	if (s && s->map)
		read_nodes_index(&ix, s->map);
	const Cairn__HostInfo *hi = hf ? hf->info : NULL;
	int exit_code = 0;
	if (cli.json) {
		json_t *root = json_object();
		json_object_set_new(root, "id", json_string(h.id_hex));
		json_object_set_new(root, "fingerprint", json_string(h.fingerprint));
		json_object_set_new(root, "hostname", format_json_str(h.hostname));
		if (hi)
			json_object_set_new(root, "facts", pbjson_from_message(&hi->base, 0));
		json_t *ju = json_object();
		json_object_set_new(ju, "windows", json_integer((json_int_t)u.windows));
		json_object_set_new(ju, "cpu_busy_avg_pct",
				    json_real(u.windows ? u.cpu_avg_sum / (double)u.windows : 0));
		json_object_set_new(ju, "cpu_busy_p95_max_pct", json_real(u.cpu_p95_max));
		json_object_set_new(ju, "cpu_busy_max_pct", json_real(u.cpu_max));
		json_object_set_new(ju, "mem_used_avg_bytes",
				    json_real(u.windows ? u.mem_avg_sum / (double)u.windows : 0));
		json_object_set_new(ju, "mem_used_max_bytes", json_real(u.mem_max));
		json_object_set_new(ju, "from_ms", json_integer(u.first_ms));
		json_object_set_new(ju, "to_ms", json_integer(u.last_ms));
		json_object_set_new(root, "utilization", ju);
		json_object_set_new(root, "processes",
				    json_integer(ps ? (json_int_t)ps->n_processes : 0));
		if (ls)
			json_object_set_new(root, "listeners", pbjson_from_message(&ls->base, 0));
		json_t *jp = json_object();
		for (size_t i = 0; i < npk; i++)
			json_object_set_new(jp, pk_names[i], json_integer((json_int_t)pk_counts[i]));
		json_object_set_new(root, "packages", jp);
		if (app) {
			json_object_set_new(root, "app_id", json_string(app->id));
			json_object_set_new(root, "app", format_json_str(app->name));
		}
		json_t *din = json_array(), *dout = json_array();
		for (size_t i = 0; s && s->map && i < s->map->n_service_edges; i++) {
			const Cairn__Store__MapEdge *e = s->map->service_edges[i];
			if (!strcmp(e->from, h.id_hex))
				json_array_append_new(dout, pbjson_from_message(&e->base, 0));
			else if (!strcmp(e->to, h.id_hex))
				json_array_append_new(din, pbjson_from_message(&e->base, 0));
		}
		json_object_set_new(root, "depends_on", dout);
		json_object_set_new(root, "used_by", din);
		if (format_print_json(root))
			exit_code = 1;
		goto out;
	}
	printf("%s  (id %s, fingerprint %s)\n", h.hostname[0] ? h.hostname : "?", h.id_hex,
	       h.fingerprint);
	if (app)
		printf("application: %s (%s)%s\n", app->name, app->id,
		       app->infrastructure ? ", shared infrastructure" : "");
	if (hi) {
		char mem[32], when[32];
		format_bytes(hi->mem_total_bytes, mem, sizeof(mem));
		format_time(hf->updated_ms, when, sizeof(when));
		printf("\nFacts (as of %s UTC):\n", when);
		printf("  os        %s\n", hi->os && *hi->os->pretty_name ? hi->os->pretty_name : "-");
		printf("  kernel    %s (%s)\n", *hi->kernel_release ? hi->kernel_release : "-",
		       *hi->architecture ? hi->architecture : "-");
		printf("  cpu       %u threads, %u cores, %u sockets%s%s\n", hi->cpu_threads,
		       hi->cpu_cores, hi->cpu_sockets, *hi->cpu_model ? ": " : "", hi->cpu_model);
		printf("  memory    %s\n", mem);
		if (hi->virt)
			printf("  virt      %s%s%s\n", *hi->virt->kind ? hi->virt->kind : "-",
			       *hi->virt->hypervisor ? " " : "", hi->virt->hypervisor);
		for (size_t i = 0; i < hi->n_filesystems; i++) {
			const Cairn__Filesystem *fs = hi->filesystems[i];
			char size[32], used[32];
			format_bytes(fs->size_bytes, size, sizeof(size));
			format_bytes(fs->used_bytes, used, sizeof(used));
			printf("  fs        %-20s %s of %s used (%s)\n", fs->mountpoint, used, size,
			       fs->fstype);
		}
		for (size_t i = 0; i < hi->n_nics; i++) {
			const Cairn__Nic *n = hi->nics[i];
			printf("  nic       %-10s", n->name);
			for (size_t j = 0; j < n->n_addresses; j++)
				printf(" %s/%u", n->addresses[j]->address, n->addresses[j]->prefix_len);
			printf("\n");
		}
	} else {
		printf("\n(no host facts reported yet)\n");
	}
	if (u.windows) {
		char avg[32], max[32], total[32], from[32], to[32];
		format_bytes((uint64_t)(u.mem_avg_sum / (double)u.windows), avg, sizeof(avg));
		format_bytes((uint64_t)u.mem_max, max, sizeof(max));
		format_bytes(u.mem_total, total, sizeof(total));
		format_time(u.first_ms, from, sizeof(from));
		format_time(u.last_ms, to, sizeof(to));
		printf("\nUtilization (%llu windows, %s .. %s UTC):\n", (unsigned long long)u.windows,
		       from, to);
		printf("  cpu busy  avg %.1f%%, p95 up to %.1f%%, max %.1f%%\n",
		       u.cpu_avg_sum / (double)u.windows, u.cpu_p95_max, u.cpu_max);
		printf("  memory    avg %s, max %s of %s\n", avg, max, total);
	} else {
		printf("\nUtilization: no performance windows stored\n");
	}
	if (ps && ps->n_processes) {
		Cairn__Process **sorted = malloc(ps->n_processes * sizeof(*sorted));
		if (sorted) {
			memcpy(sorted, ps->processes, ps->n_processes * sizeof(*sorted));
			qsort(sorted, ps->n_processes, sizeof(*sorted), cmp_proc_cpu);
			static const char *const ph[] = { "PID", "USER", "CPU%", "RSS", "IDENTITY",
							  NULL };
			struct format_table *t = format_table_new(5, ph);
			for (size_t i = 0; t && i < ps->n_processes && i < 15; i++) {
				char rss[32];
				format_bytes(sorted[i]->rss_bytes, rss, sizeof(rss));
				format_table_rowf(t, "%u\t%s\t%.1f\t%s\t%s", sorted[i]->pid,
						 sorted[i]->user, sorted[i]->cpu_pct, rss,
						 *sorted[i]->identity ? sorted[i]->identity
								      : sorted[i]->name);
			}
			printf("\nProcesses (%zu, busiest 15):\n", ps->n_processes);
			if (t) {
				format_table_align_right(t, 0);
				format_table_align_right(t, 2);
				format_table_align_right(t, 3);
				format_table_print(t, stdout);
			}
			format_table_free(t);
			free(sorted);
		}
	}
	if (ls && ls->n_listeners) {
		static const char *const lh[] = { "PROTO", "ADDRESS", "PORT", "SERVICE", "PROCESS",
						  NULL };
		struct format_table *t = format_table_new(5, lh);
		for (size_t i = 0; t && i < ls->n_listeners; i++) {
			const Cairn__Listener *l = ls->listeners[i];
			const char *lab = depmap_port_label(l->port);
			format_table_rowf(t, "%s\t%s\t%u\t%s\t%s",
					 l->protocol == CAIRN__PROTOCOL__UDP ? "udp" : "tcp", l->address,
					 l->port, lab ? lab : "",
					 *l->identity ? l->identity : l->process_name);
		}
		printf("\nListeners (%zu):\n", ls->n_listeners);
		if (t) {
			format_table_align_right(t, 2);
			format_table_print(t, stdout);
		}
		format_table_free(t);
	}
	printf("\nPackages:");
	for (size_t i = 0; i < npk; i++)
		printf("%s %zu (%s)", i ? "," : "", pk_counts[i], pk_names[i]);
	printf("%s\n", npk ? "" : " none reported");
	if (s && s->map) {
		for (int dir = 0; dir < 2; dir++) {
			static const char *const dh[] = { "PROCESS", "PEER", "PEER PROCESS", "PORT",
							  "SERVICE", "SAMPLES", "CONFIRMED", NULL };
			struct format_table *t = format_table_new(7, dh);
			size_t n = 0;
			for (size_t i = 0; t && i < s->map->n_service_edges; i++) {
				const Cairn__Store__MapEdge *e = s->map->service_edges[i];
				bool out_edge = !strcmp(e->from, h.id_hex);
				bool in_edge = !strcmp(e->to, h.id_hex) && !e->local;
				if (dir == 0 ? !out_edge : !in_edge)
					continue;
				const Cairn__Store__MapNode *peer =
					read_nodes_get(&ix, dir == 0 ? e->to : e->from);
				const char *pname = e->local ? "(this host)"
							     : peer ? peer->name : (dir == 0 ? e->to : e->from);
				format_table_rowf(t, "%s\t%s\t%s\t%u\t%s\t%llu\t%s",
						 dir == 0 ? e->from_process : e->to_process, pname,
						 dir == 0 ? e->to_process : e->from_process, e->port,
						 e->label, (unsigned long long)e->samples_seen,
						 e->confirmed ? "yes" : "no");
				n++;
			}
			printf("\n%s (%zu):\n", dir == 0 ? "Depends on" : "Used by", n);
			if (t && n) {
				format_table_align_right(t, 3);
				format_table_align_right(t, 5);
				format_table_print(t, stdout);
			}
			format_table_free(t);
		}
		char when[32];
		format_time(s->computed_ms, when, sizeof(when));
		printf("\n(dependencies from snapshot %llu, computed %s UTC)\n",
		       (unsigned long long)s->version, when);
	} else {
		printf("\nDependencies: no snapshot yet (run 'cairn-collector deps --fresh')\n");
	}
out:
	read_nodes_free(&ix);
	if (s)
		cairn__store__snapshot__free_unpacked(s, NULL);
	if (hf)
		cairn__store__host_facts__free_unpacked(hf, NULL);
	if (ps)
		cairn__process_snapshot__free_unpacked(ps, NULL);
	if (ls)
		cairn__listener_set__free_unpacked(ls, NULL);
	read_close(&q);
	return exit_code;
}
