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
#include "progress_docs.h"
#include "docs.h"
#include "format.h"
#include "estate.h"
#include "read.h"
#include "snapshot.h"
#include "tags.h"
#include "util.h"

static void host_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-collector host HOST [--json]\n\n"
		   "Shows one host: facts (OS, CPU, memory, disks, addresses), utilization over\n"
		   "the stored performance windows, the busiest processes, listeners, package\n"
		   "counts, its application and its dependencies in and out. HOST is a\n"
		   "hostname, agent id, id prefix or fingerprint.\n");
	cli_usage_common(f);
}

static int cmp_proc_cpu(const void *a, const void *b)
{
	const Cairn__Process *x = *(Cairn__Process *const *)a, *y = *(Cairn__Process *const *)b;
	if (x->cpu_pct != y->cpu_pct)
		return x->cpu_pct > y->cpu_pct ? -1 : 1;
	return x->rss_bytes > y->rss_bytes ? -1 : x->rss_bytes < y->rss_bytes;
}

/* What an import said: where from, how it was matched, what it adds. */
static void print_import(const Cairn__Store__ImportedServer *imp)
{
	const Cairn__Store__ImportFacts *f = imp->facts;
	char when[32];
	format_time(imp->imported_ms, when, sizeof(when));
	printf("\nImport (%s, %s:%u, %s UTC by %s):\n", imp->format, imp->file, imp->line, when,
	       *imp->imported_by ? imp->imported_by : "?");
	if (imp->merged)
		printf("  merged    into this agent host, matched by %s: the agent's facts win;\n"
		       "            from the import: applications, wave, tags, utilization when no windows\n",
		       *imp->matched_by ? imp->matched_by : "?");
	else
		printf("  source    import only (no agent): every fact above is from the file\n");
	if (!f)
		return;
	if (*f->external_id)
		printf("  external  %s\n", f->external_id);
	if (*f->vm_name || *f->vmware_moref)
		printf("  vmware    %s%s%s%s%s\n", f->vm_name, *f->vmware_moref ? " " : "", f->vmware_moref,
		       *f->esx_host ? " on " : "", f->esx_host);
	if (*f->cluster || *f->datacenter)
		printf("  cluster   %s%s%s\n", f->cluster, *f->datacenter ? " in " : "", f->datacenter);
	if (f->powered_off)
		printf("  power     powered off when imported\n");
	for (size_t i = 0; i < f->n_applications; i++)
		printf("  app       %s\n", f->applications[i]);
	if (f->wave)
		printf("  wave      %u\n", f->wave);
	if (*f->annotation)
		printf("  note      %s\n", f->annotation);
}

int host_main(int argc, char *argv[])
{
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-collector", argc, argv, NULL, host_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs != 1) {
		fprintf(stderr, "%s: give one host (name, id, id prefix or fingerprint)\n",
			cli.prog);
		cli_try_help(cli.prog);
		return 2;
	}
	struct read_ctx q;
	if ((rc = cmd_open_store(&q, &cli, false)))
		return rc;
	struct errbuf eb = { { 0 } };
	struct read_txn rt;
	if ((rc = read_begin(&q, &rt, &eb))) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_close(&q);
		return 1;
	}
	struct read_host h;
	int frc = read_find_host(rt.txn, rt.db, cli.args[0], &h, &eb);
	if (frc) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_end(&rt);
		read_close(&q);
		return cmd_exit_code(frc);
	}
	/* everything stored (since 0, no default period): the same host view,
	 * and so the same utilization arithmetic, as sizing's */
	struct estate_opts eo = { .now_ms = time_now_ms(), .percentile = 95,
				  .default_days = UINT32_MAX / 2 };
	struct estate_host eh;
	if (estate_load_host(rt.txn, rt.db, h.id, &eo, &eh, &eb)) {
		fprintf(stderr, "%s: %s\n", cli.prog, eb.msg);
		read_end(&rt);
		read_close(&q);
		return 1;
	}
	Cairn__CollectorHealth *health = read_agent_health(&rt, h.id);
	/* Agents before capture reporting send no mechanism. */
	const char *capture = health && *health->capture ? health->capture
							 : "unknown (the agent does not report it)";
	struct tags_all tags = { 0 };
	if (tags_load(rt.txn, rt.db, &tags, &eb))
		fprintf(stderr, "%s: warning: %s\n", cli.prog, eb.msg);
	const Cairn__Store__TagSet *ts = tags_of(&tags, h.id_hex);
	json_t *migration = NULL;
	char migration_text[400] = "";
	if (docs_host_migration(&rt, h.id_hex, &migration, migration_text, sizeof(migration_text)))
		fprintf(stderr, "%s: warning: could not read the migration status\n", cli.prog);
	Cairn__Store__Snapshot *s = NULL;
	int src = read_snapshot_latest(rt.txn, rt.db, true, &s, &eb);
	if (src && src != -ENOENT)
		fprintf(stderr, "%s: warning: %s\n", cli.prog, eb.msg);
	read_end(&rt);
	const Cairn__Store__HostFacts *hf = eh.facts;
	const Cairn__ProcessSnapshot *ps = eh.procs;
	const Cairn__ListenerSet *ls = eh.listeners;
	const struct estate_stat *cpu = &eh.stat[ESTATE_CPU_PCT], *memu = &eh.stat[ESTATE_MEM_USED];

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
		json_t *root = docs_host(&h, &eh, health, s);
		json_object_set_new(root, "tags", docs_tags(ts));
		if (root && migration)
			json_object_set(root, "migration", migration);
		if (format_print_json(root))
			exit_code = 1;
		goto out;
	}
	printf("%s  (id %s, fingerprint %s)\n", h.hostname[0] ? h.hostname : "?", h.id_hex,
	       h.fingerprint);
	if (app)
		printf("application: %s (%s)%s\n", app->name, app->id,
		       app->infrastructure ? ", shared infrastructure" : "");
	printf("capture:     %s\n", capture);
	for (size_t i = 0; ts && i < ts->n_tags; i++)
		printf("%s%s=%s (%s%s%s)\n", i ? "             " : "tags:        ", ts->tags[i]->key,
		       ts->tags[i]->value, ts->tags[i]->source, *ts->tags[i]->set_by ? ", " : "",
		       ts->tags[i]->set_by);
	if (migration_text[0])
		printf("migration:   %s\n", migration_text);
	if (health && (health->capture_ringbuf_drops || health->capture_map_full))
		printf("lost events: %llu in the last window (ring buffer or map full): counts are "
		       "lower bounds\n",
		       (unsigned long long)(health->capture_ringbuf_drops + health->capture_map_full));
	if (hi) {
		char mem[32], when[32];
		format_bytes(hi->mem_total_bytes, mem, sizeof(mem));
		format_time(hf->updated_ms, when, sizeof(when));
		printf("\nFacts (as of %s UTC):\n", when);
		printf("  os        %s\n", hi->os && *hi->os->pretty_name ? hi->os->pretty_name : "-");
		printf("  kernel    %s (%s)\n", *hi->kernel_release ? hi->kernel_release : "-",
		       *hi->architecture ? hi->architecture : "-");
		printf("  cpu       %u %s, %u %s, %u %s%s%s\n", hi->cpu_threads,
		       format_noun(hi->cpu_threads, "thread", "threads"), hi->cpu_cores,
		       format_noun(hi->cpu_cores, "core", "cores"), hi->cpu_sockets,
		       format_noun(hi->cpu_sockets, "socket", "sockets"), *hi->cpu_model ? ": " : "",
		       hi->cpu_model);
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
				if (n->addresses[j]->prefix_len) /* imported addresses have none */
					printf(" %s/%u", n->addresses[j]->address, n->addresses[j]->prefix_len);
				else
					printf(" %s", n->addresses[j]->address);
			if (*n->mac && eh.import && !eh.import->merged)
				printf(" (%s)", n->mac);
			printf("\n");
		}
	} else {
		printf("\n(no host facts reported yet)\n");
	}
	if (eh.import)
		print_import(eh.import);
	if (!eh.windows && eh.import_stats) {
		char avg[32], max[32], total[32];
		format_bytes((uint64_t)memu->avg, avg, sizeof(avg));
		format_bytes((uint64_t)memu->max, max, sizeof(max));
		format_bytes(eh.mem_total, total, sizeof(total));
		printf("\nUtilization (imported from %s:%u, no measured windows):\n", eh.import->file,
		       eh.import->line);
		printf("  cpu busy  avg %.1f%%, max %.1f%%\n", cpu->avg, cpu->max);
		printf("  memory    avg %s, max %s of %s\n", avg, max, total);
	} else if (eh.windows) {
		char avg[32], max[32], total[32], from[32], to[32], nw[48];
		format_bytes((uint64_t)memu->avg, avg, sizeof(avg));
		format_bytes((uint64_t)memu->max, max, sizeof(max));
		format_bytes(eh.mem_total, total, sizeof(total));
		format_time(eh.first_ms, from, sizeof(from));
		format_time(eh.last_ms, to, sizeof(to));
		printf("\nUtilization (%s, %s .. %s UTC):\n",
		       format_count(eh.windows, "window", "windows", nw, sizeof(nw)), from, to);
		printf("  cpu busy  avg %.1f%%, p95 %.1f%% (highest window p95 %.1f%%), max %.1f%%\n",
		       cpu->avg, cpu->pctl, eh.cpu_peak_p95, cpu->max);
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
				format_table_elastic(t, 4);
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
			format_table_elastic(t, 4);
			format_table_print(t, stdout);
		}
		format_table_free(t);
	}
	printf("\nPackages:");
	for (size_t i = 0; i < eh.npkgs; i++)
		printf("%s %zu (%s)", i ? "," : "", eh.pkgs[i]->n_packages, eh.pkgs[i]->manager);
	printf("%s\n", eh.npkgs ? "" : " none reported");
	if (s && s->map) {
		for (int dir = 0; dir < 2; dir++) {
			static const char *const dh[] = { "PROCESS", "PEER", "PEER PROCESS", "PORT",
							  "SERVICE", "SAMPLES", "CONNS", "SHORT",
							  "CONFIRMED", NULL };
			struct format_table *t = format_table_new(9, dh);
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
				char conns[24] = "-", shorts[24] = "-";
				if (e->connections || e->short_lived) {
					snprintf(conns, sizeof(conns), "%llu",
						 (unsigned long long)e->connections);
					snprintf(shorts, sizeof(shorts), "%llu",
						 (unsigned long long)e->short_lived);
				}
				format_table_rowf(t, "%s\t%s\t%s\t%u\t%s\t%llu\t%s\t%s\t%s",
						 dir == 0 ? e->from_process : e->to_process, pname,
						 dir == 0 ? e->to_process : e->from_process, e->port,
						 e->label, (unsigned long long)e->samples_seen, conns,
						 shorts, e->confirmed ? "yes" : "no");
				n++;
			}
			printf("\n%s (%zu):\n", dir == 0 ? "Depends on" : "Used by", n);
			if (t && n) {
				format_table_align_right(t, 3);
				for (size_t c = 5; c < 8; c++)
					format_table_align_right(t, c);
				format_table_elastic(t, 0);
				format_table_elastic(t, 1);
				format_table_elastic(t, 2);
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
	json_decref(migration);
	if (health)
		cairn__collector_health__free_unpacked(health, NULL);
	read_nodes_free(&ix);
	if (s)
		cairn__store__snapshot__free_unpacked(s, NULL);
	estate_host_free(&eh);
	tags_all_free(&tags);
	read_close(&q);
	return exit_code;
}
