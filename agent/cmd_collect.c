/* cairn-agent collect: one inventory of this host (or of a captured tree),
 * as a summary for people or one JSON document for programs.
 *
 * The same collectors as the daemon. Performance rates and process CPU need
 * two samples: the command samples, waits --interval (1 s live, 10 ms under
 * --root where the counters cannot move) and samples again; the process
 * delta between the two snapshots is reported too.
 *
 * Sockets: one sample, or with --window DUR samples every --interval for
 * DUR with the event capture on (capture.h), aggregated into one window:
 * what a user runs to check that short-lived connections are seen. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "collect.h"
#include "collect_host.h"
#include "collect_perf.h"
#include "collect_pkg.h"
#include "collect_proc.h"
#include "collect_sock.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "pbjson.h"
#include "util.h"
#include "window.h"

enum { OPT_ROOT = CLI_OPT_USER, OPT_ONLY, OPT_INTERVAL, OPT_WINDOW };

struct collect_opts {
	const char *root;
	bool only[COLLECT_NKINDS];
	bool only_given;
	long interval_ms;
	uint64_t window_ms;         /* --window: socket window with event capture; 0 = one sample */
	bool capture_poll;          /* capture = poll in the configuration */
	const char *prog;
};

static void collect_usage(FILE *f)
{
	fprintf(f, "Usage: cairn-agent collect [--root DIR] [--json] [--only LIST] [--interval MS]\n"
		   "                           [--window DUR]\n\n"
		   "Prints what the agent collects on this host: host facts, performance,\n"
		   "processes, sockets and packages. Nothing is sent or stored.\n\n"
		   "      --root DIR        read /proc, /sys, /etc, /var/lib from a captured tree\n"
		   "                        (default: the config's root, else /)\n"
		   "      --only LIST       comma-separated subset of host,perf,proc,sock,pkg\n"
		   "      --interval MS     wait between the two samples used for rates\n"
		   "                        (default 1000, 10 with --root)\n"
		   "      --window DUR      sockets: sample every --interval for DUR (e.g. 10s)\n"
		   "                        with eBPF connection capture on, and print that one\n"
		   "                        window (short-lived connections and UDP flows included)\n");
	cli_usage_common(f);
}

static int parse_only(struct collect_opts *o, const char *arg)
{
	char buf[256];
	str_copy(buf, arg, sizeof(buf));
	char *save;
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		enum collect_kind k;
		if (collect_kind_parse(w, &k)) {
			fprintf(stderr, "cairn-agent collect: --only: unknown collector '%s' "
					"(use host, perf, proc, sock, pkg)\n", w);
			return -1;
		}
		o->only[k] = true;
	}
	o->only_given = true;
	return 0;
}

static int handle_option(int opt, const char *arg, void *ctx)
{
	struct collect_opts *o = ctx;
	switch (opt) {
	case OPT_ROOT:
		o->root = arg;
		return 0;
	case OPT_ONLY:
		return parse_only(o, arg);
	case OPT_INTERVAL: {
		char *end;
		long v = strtol(arg, &end, 10);
		if (*end || v < 1 || v > 60000) {
			fprintf(stderr, "cairn-agent collect: --interval: '%s' is not a number of "
					"milliseconds between 1 and 60000\n", arg);
			return -1;
		}
		o->interval_ms = v;
		return 0;
	}
	case OPT_WINDOW:
		if (config_parse_duration(arg, &o->window_ms) || o->window_ms < 100 ||
		    o->window_ms > 3600 * 1000) {
			fprintf(stderr, "cairn-agent collect: --window: '%s' is not a duration between "
					"100ms and 1h (use e.g. 10s, 2m)\n", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* ----------------------------------------------------------- collection */

struct results {
	Cairn__HostInfo *host;
	Cairn__PerfWindow *perf;
	Cairn__ProcessSnapshot *procs;
	Cairn__ProcessDelta *delta;
	Cairn__ListenerSet *listeners;
	Cairn__ConnectionWindow *conns;
	Cairn__PackageInventory **pkgs;
	size_t npkgs;
	Cairn__CollectorHealth *health;
	struct capture *capture;    /* with --window */
	char capture_desc[256];     /* "" unless sockets were collected */
	struct capture_counters capture_cnt;
};

static void results_free(struct results *r)
{
	if (r->host)
		cairn__host_info__free_unpacked(r->host, NULL);
	if (r->perf)
		cairn__perf_window__free_unpacked(r->perf, NULL);
	if (r->procs)
		cairn__process_snapshot__free_unpacked(r->procs, NULL);
	if (r->delta)
		cairn__process_delta__free_unpacked(r->delta, NULL);
	if (r->listeners)
		cairn__listener_set__free_unpacked(r->listeners, NULL);
	if (r->conns)
		cairn__connection_window__free_unpacked(r->conns, NULL);
	for (size_t i = 0; i < r->npkgs; i++)
		cairn__package_inventory__free_unpacked(r->pkgs[i], NULL);
	free(r->pkgs);
	if (r->health)
		cairn__collector_health__free_unpacked(r->health, NULL);
	capture_close(r->capture);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* One socket sample, then (with capture) the capture's flows of the time
 * since the last take, into w: after the sample, so a connection that closed
 * during the scan finds what the sample counted of it. */
static int sock_sample(struct collect_ctx *ctx, struct sock_scanner *s, struct window *w,
		       struct capture *cap, uint32_t interval_ms)
{
	const struct sock_sample *smp;
	int rc = collect_sock_scanner_sample(s, ctx, time_now_ms(), &smp);
	if (!rc)
		rc = window_add_sample(w, smp);
	if (!rc && capture_active(cap)) {
		struct capture_take t;
		rc = capture_take(cap, &t);
		if (!rc)
			rc = window_add_flows(w, s, &t, interval_ms);
		capture_take_free(&t);
	}
	return rc;
}

int cmd_collect_sock(struct collect_ctx *ctx, int64_t now_ms, uint64_t window_ms,
		     uint32_t interval_ms, struct capture *cap, Cairn__ConnectionWindow **conns,
		     Cairn__ListenerSet **listeners)
{
	struct sock_scanner *s = NULL;
	struct window *w = NULL;
	*conns = NULL;
	*listeners = NULL;
	int rc = collect_sock_scanner_new(&s, ctx, NULL);
	if (!rc)
		rc = window_new(&w, now_ms);
	if (!rc)
		rc = sock_sample(ctx, s, w, window_ms ? cap : NULL, interval_ms);
	if (!rc && window_ms) {
		uint64_t start = time_mono_ms(), next = start + interval_ms;
		for (;;) {
			uint64_t now = time_mono_ms();
			if (now >= start + window_ms)
				break;
			uint64_t until = next < start + window_ms ? next : start + window_ms;
			if (now < until) {
				if (capture_active(cap))
					capture_poll(cap, (int)(until - now > 200 ? 200 : until - now));
				else
					sleep_ms((long)(until - now > 200 ? 200 : until - now));
				continue;
			}
			next += interval_ms;
			if ((rc = sock_sample(ctx, s, w, cap, interval_ms)))
				break;
		}
		if (!rc) /* the last stretch */
			rc = sock_sample(ctx, s, w, cap, interval_ms);
	}
	if (!rc)
		rc = window_close(w, time_now_ms(), conns, listeners);
	window_free(w);
	collect_sock_scanner_free(s);
	return rc;
}

static int run_collectors(struct collect_ctx *ctx, const struct collect_opts *o, struct results *r)
{
	struct perf_state *perf = NULL;
	struct proc_state *proc = NULL;
	Cairn__ProcessSnapshot *first = NULL;
	int rc = 0;

	if (o->only[COLLECT_PERF]) {
		rc = collect_perf_open(&perf, (uint32_t)o->interval_ms, 0);
		if (!rc)
			collect_perf_sample(ctx, perf, time_mono_ms(), time_now_ms());
	}
	if (!rc && o->only[COLLECT_PROC]) {
		rc = collect_proc_state_new(&proc);
		if (!rc && collect_proc_snapshot(ctx, proc, &first))
			first = NULL;
	}
	if (rc)
		goto out;
	if (o->only[COLLECT_HOST])
		collect_host(ctx, &r->host);
	if (o->only[COLLECT_PKG])
		collect_pkg(ctx, NULL, &r->pkgs, &r->npkgs);
	if (o->only[COLLECT_PERF] || o->only[COLLECT_PROC])
		sleep_ms(o->interval_ms);
	if (perf) {
		collect_perf_sample(ctx, perf, time_mono_ms(), time_now_ms());
		if (collect_perf_window_close(perf, time_now_ms(), &r->perf))
			collect_error(ctx, COLLECT_PERF, "no performance counters could be sampled");
	}
	if (proc && !collect_proc_snapshot(ctx, proc, &r->procs) && first)
		collect_proc_delta(first, r->procs, &r->delta);
	if (o->only[COLLECT_SOCK]) {
		struct capture_opts co = { .short_lived_ms = (uint32_t)o->interval_ms };
		if (o->capture_poll) {
			co.disable = true;
			co.disable_reason = "capture = poll in the configuration";
		} else if (!ctx->live) {
			co.disable = true;
			co.disable_reason = "not the live host (--root)";
		}
		rc = capture_open(&r->capture, ctx, &co);
		if (rc)
			goto out;
		str_copy(r->capture_desc, capture_describe(r->capture), sizeof(r->capture_desc));
		if (!o->window_ms) {
			/* One sample: the capture was only probed, to say what it would be. */
			capture_close(r->capture);
			r->capture = NULL;
		}
		int src = cmd_collect_sock(ctx, time_now_ms(), o->window_ms, (uint32_t)o->interval_ms,
					   r->capture, &r->conns, &r->listeners);
		capture_get_counters(r->capture, &r->capture_cnt);
		if (src)
			collect_error(ctx, COLLECT_SOCK, "no socket table could be read: %s", strerror(-src));
	}
out:
	if (first)
		cairn__process_snapshot__free_unpacked(first, NULL);
	collect_perf_close(perf);
	collect_proc_state_free(proc);
	r->health = collect_health(ctx);
	if (r->capture_desc[0]) {
		r->health->capture = collect_strdup(r->capture_desc);
		r->health->capture_ebpf = r->capture != NULL && capture_active(r->capture);
		r->health->capture_events = r->capture_cnt.events;
		r->health->capture_ringbuf_drops = r->capture_cnt.ringbuf_drops;
		r->health->capture_map_full = r->capture_cnt.map_full + r->capture_cnt.flows_lost;
		r->health->capture_udp_datagrams = r->capture_cnt.udp_datagrams;
		r->health->capture_cpu_us = r->capture_cnt.cpu_ns / 1000;
	}
	return rc;
}

/* ----------------------------------------------------------------- JSON */

static int set_msg(json_t *doc, const char *key, const ProtobufCMessage *m)
{
	if (!m)
		return 0;
	json_t *j = pbjson_from_message(m, PBJSON_EMIT_DEFAULTS);
	if (!j)
		return -ENOMEM;
	return json_object_set_new(doc, key, j) ? -ENOMEM : 0;
}

static int print_json(const struct collect_ctx *ctx, const struct collect_opts *o,
		      const struct results *r)
{
	json_t *doc = json_object();
	if (!doc) {
		fprintf(stderr, "cairn-agent collect: out of memory building the JSON document\n");
		return 1;
	}
	int rc = 0;
	json_object_set_new(doc, "agent_version", json_string(CAIRN_VERSION));
	json_t *root = json_string(ctx->root);
	json_object_set_new(doc, "root", root ? root : json_string("(not UTF-8)"));
	json_object_set_new(doc, "collected_ms", json_integer(time_now_ms()));
	rc |= set_msg(doc, "host", r->host ? &r->host->base : NULL);
	rc |= set_msg(doc, "perf", r->perf ? &r->perf->base : NULL);
	rc |= set_msg(doc, "processes", r->procs ? &r->procs->base : NULL);
	rc |= set_msg(doc, "process_delta", r->delta ? &r->delta->base : NULL);
	rc |= set_msg(doc, "listeners", r->listeners ? &r->listeners->base : NULL);
	rc |= set_msg(doc, "connections", r->conns ? &r->conns->base : NULL);
	if (r->capture_desc[0])
		json_object_set_new(doc, "capture", json_string(r->capture_desc));
	if (o->only[COLLECT_PKG]) { /* [] when no database was found */
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < r->npkgs; i++) {
			json_t *j = pbjson_from_message(&r->pkgs[i]->base, PBJSON_EMIT_DEFAULTS);
			if (!j || json_array_append_new(arr, j))
				rc = -ENOMEM; /* never a document with an inventory silently missing */
		}
		if (!arr || json_object_set_new(doc, "packages", arr))
			rc = -ENOMEM;
	}
	rc |= set_msg(doc, "health", &r->health->base);
	if (rc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))) {
		fprintf(stderr, "cairn-agent collect: cannot write the JSON document\n");
		json_decref(doc);
		return 1;
	}
	fputc('\n', stdout);
	json_decref(doc);
	return 0;
}

/* --------------------------------------------------------------- people */

/* Everything printed for people passes through T(): a process's command line,
 * name or mountpoint is chosen by whoever started it, and control characters
 * (ESC sequences, C1 controls, newlines) must not reach the terminal. Up to
 * eight results are valid at a time (one printf). */
static const char *term_safe(const char *s)
{
	static char pool[8][4200];
	static unsigned next;
	char *out = pool[next++ % 8];
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && o + 2 < sizeof(pool[0]); p++) {
		if (*p < 0x20 || *p == 0x7f) {
			out[o++] = '?';
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			out[o++] = '?'; /* U+0080..U+009F */
			p++;
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return out;
}
#define T(s) term_safe(s)

static const char *human_size(double v, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	size_t u = 0;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

static const char *human_duration(uint64_t s, char *buf, size_t n)
{
	if (s >= 86400)
		snprintf(buf, n, "%lud %luh", (unsigned long)(s / 86400), (unsigned long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, n, "%luh %lum", (unsigned long)(s / 3600), (unsigned long)(s % 3600 / 60));
	else
		snprintf(buf, n, "%lum %lus", (unsigned long)(s / 60), (unsigned long)(s % 60));
	return buf;
}

static double avg(const Cairn__Stat *s)
{
	return s ? s->avg : 0;
}

static void print_host(const Cairn__HostInfo *h)
{
	char a[32], b[32];
	printf("Host         %s (fqdn %s)\n", T(h->hostname), h->fqdn[0] ? T(h->fqdn) : "-");
	printf("OS           %s, kernel %s, %s\n",
	       h->os && h->os->pretty_name[0] ? T(h->os->pretty_name) : "(unknown)", T(h->kernel_release),
	       T(h->architecture));
	printf("Machine id   %s  boot id %s\n", h->machine_id[0] ? T(h->machine_id) : "-",
	       h->boot_id[0] ? T(h->boot_id) : "-");
	printf("CPU          %s: %u socket%s, %u cores, %u threads", h->cpu_model[0] ? T(h->cpu_model) : "?",
	       h->cpu_sockets, h->cpu_sockets == 1 ? "" : "s", h->cpu_cores, h->cpu_threads);
	if (h->cpu_mhz)
		printf(" @ %u MHz", h->cpu_mhz);
	printf("\nMemory       %s RAM, %s swap\n", human_size((double)h->mem_total_bytes, a, sizeof(a)),
	       human_size((double)h->swap_total_bytes, b, sizeof(b)));
	if (h->virt) {
		const Cairn__Virtualization *v = h->virt;
		printf("Platform     %s", T(v->kind));
		if (v->hypervisor[0])
			printf(", hypervisor %s", T(v->hypervisor));
		if (v->container[0])
			printf(" (%s)", T(v->container));
		if (v->dmi_sys_vendor[0] || v->dmi_product_name[0])
			printf(" (%s %s)", T(v->dmi_sys_vendor), T(v->dmi_product_name));
		printf("\n");
	}
	for (size_t i = 0; i < h->n_disks; i++)
		printf("%-12s %-10s %10s  %-5s %s%s\n", i ? "" : "Disks", T(h->disks[i]->name),
		       human_size((double)h->disks[i]->size_bytes, a, sizeof(a)), T(h->disks[i]->kind),
		       h->disks[i]->rotational ? "rotational " : "", T(h->disks[i]->model));
	for (size_t i = 0; i < h->n_filesystems; i++) {
		const Cairn__Filesystem *f = h->filesystems[i];
		printf("%-12s %-20s %-8s %10s", i ? "" : "Filesystems", T(f->mountpoint), T(f->fstype),
		       human_size((double)f->size_bytes, a, sizeof(a)));
		if (f->size_bytes)
			printf("  %3.0f%% used", (double)f->used_bytes * 100 / (double)f->size_bytes);
		printf("  %s\n", T(f->device));
	}
	for (size_t i = 0; i < h->n_nics; i++) {
		const Cairn__Nic *n = h->nics[i];
		printf("%-12s %-10s %-17s mtu %-5u %-4s", i ? "" : "NICs", T(n->name), n->mac[0] ? T(n->mac) : "-",
		       n->mtu, n->up ? "up" : "down");
		if (n->speed_mbps > 0)
			printf(" %d Mb/s", n->speed_mbps);
		for (size_t k = 0; k < n->n_addresses; k++)
			printf(" %s/%u", T(n->addresses[k]->address), n->addresses[k]->prefix_len);
		printf("\n");
	}
	for (size_t i = 0; i < h->n_routes; i++)
		printf("%-12s %s via %s dev %s\n", i ? "" : "Routes", T(h->routes[i]->destination),
		       T(h->routes[i]->gateway), T(h->routes[i]->interface));
	printf("DNS         ");
	for (size_t i = 0; i < h->n_dns_servers; i++)
		printf(" %s", T(h->dns_servers[i]));
	if (h->n_dns_search) {
		printf("  search");
		for (size_t i = 0; i < h->n_dns_search; i++)
			printf(" %s", T(h->dns_search[i]));
	}
	printf("\nTime zone    %s, up %s\n", h->timezone[0] ? T(h->timezone) : "-",
	       human_duration(h->uptime_s, a, sizeof(a)));
}

static void print_perf(const Cairn__PerfWindow *p)
{
	char a[32], b[32], c[32];
	printf("\nPerformance  %u samples over %.1f s\n", p->samples,
	       (double)(p->window_end_ms - p->window_start_ms) / 1000.0);
	printf("  CPU        user %.1f%%  system %.1f%%  iowait %.1f%%  steal %.1f%%  idle %.1f%%\n",
	       avg(p->cpu_user_pct), avg(p->cpu_system_pct), avg(p->cpu_iowait_pct),
	       avg(p->cpu_steal_pct), avg(p->cpu_idle_pct));
	printf("  Load       %.2f %.2f %.2f\n", avg(p->load1), avg(p->load5), avg(p->load15));
	printf("  Memory     used %s, available %s, swap used %s\n",
	       human_size(avg(p->mem_used_bytes), a, sizeof(a)),
	       human_size(avg(p->mem_available_bytes), b, sizeof(b)),
	       human_size(avg(p->swap_used_bytes), c, sizeof(c)));
	for (size_t i = 0; i < p->n_disks; i++) {
		const Cairn__DiskPerf *d = p->disks[i];
		printf("  Disk %-10s read %s/s (%.0f op/s)  write %s/s (%.0f op/s)  busy %.0f%%\n",
		       T(d->device), human_size(avg(d->read_bytes_ps), a, sizeof(a)), avg(d->read_ops_ps),
		       human_size(avg(d->write_bytes_ps), b, sizeof(b)), avg(d->write_ops_ps),
		       avg(d->busy_pct));
	}
	for (size_t i = 0; i < p->n_nics; i++) {
		const Cairn__NicPerf *n = p->nics[i];
		printf("  NIC  %-10s rx %s/s (%.0f pkt/s)  tx %s/s (%.0f pkt/s)  errors %lu/%lu\n",
		       T(n->name), human_size(avg(n->rx_bytes_ps), a, sizeof(a)), avg(n->rx_packets_ps),
		       human_size(avg(n->tx_bytes_ps), b, sizeof(b)), avg(n->tx_packets_ps),
		       (unsigned long)n->rx_errors, (unsigned long)n->tx_errors);
	}
}

static void print_procs(const Cairn__ProcessSnapshot *s, const Cairn__ProcessDelta *d)
{
	char a[32];
	printf("\nProcesses    %zu", s->n_processes);
	if (d)
		printf(" (%zu started, %zu exited during the sample)", d->n_started, d->n_exited_pids);
	printf("\n  %7s %7s %-10s %6s %9s %-24s %s\n", "PID", "PPID", "USER", "CPU%", "RSS", "IDENTITY",
	       "CMDLINE");
	for (size_t i = 0; i < s->n_processes; i++) {
		const Cairn__Process *p = s->processes[i];
		printf("  %7u %7u %-10.10s %6.1f %9s %-24.24s %.100s%s\n", p->pid, p->ppid, T(p->user),
		       p->cpu_pct, human_size((double)p->rss_bytes, a, sizeof(a)), T(p->identity),
		       T(p->cmdline), p->container_id[0] ? " [container]" : "");
	}
}

static const char *proto_name(Cairn__Protocol p)
{
	return p == CAIRN__PROTOCOL__TCP ? "tcp" : p == CAIRN__PROTOCOL__UDP ? "udp" : "?";
}

static void print_socks(const Cairn__ListenerSet *l, const Cairn__ConnectionWindow *c)
{
	if (l) {
		printf("\nListeners    %zu\n", l->n_listeners);
		for (size_t i = 0; i < l->n_listeners; i++) {
			const Cairn__Listener *x = l->listeners[i];
			bool v6 = strchr(x->address, ':') != NULL;
			char ep[80];
			snprintf(ep, sizeof(ep), v6 ? "[%s]:%u" : "%s:%u", T(x->address), x->port);
			printf("  %-4s %-28s pid %-7u %s\n", proto_name(x->protocol), ep, x->pid,
			       T(x->identity[0] ? x->identity : x->process_name));
		}
	}
	if (c) {
		static const char *const dirs[] = { "?", "in", "out", "local" };
		printf("\nConnections  %zu edges\n", c->n_edges);
		for (size_t i = 0; i < c->n_edges; i++) {
			const Cairn__Edge *e = c->edges[i];
			const char *dir = (unsigned)e->direction < 4 ? dirs[e->direction] : "?";
			printf("  %-5s %-4s pid %-7u %-20.20s ", dir, proto_name(e->protocol), e->pid,
			       T(e->identity[0] ? e->identity : e->process_name));
			if (e->direction == CAIRN__DIRECTION__INBOUND)
				printf("port %u <- %s", e->local_port, T(e->remote_address));
			else
				printf("-> %s:%u", T(e->remote_address), e->remote_port);
			if (e->peer_pid)
				printf(" (pid %u %s)", e->peer_pid, T(e->peer_process_name));
			printf("  x%u", e->max_concurrent);
			if (e->connections_opened || e->connections_closed)
				printf("  opened %lu closed %lu short %lu", (unsigned long)e->connections_opened,
				       (unsigned long)e->connections_closed, (unsigned long)e->short_lived);
			if (e->datagrams_sent || e->datagrams_received)
				printf("  datagrams %lu/%lu", (unsigned long)e->datagrams_sent,
				       (unsigned long)e->datagrams_received);
			if (e->bytes_sent || e->bytes_received)
				printf("  bytes %lu/%lu", (unsigned long)e->bytes_sent,
				       (unsigned long)e->bytes_received);
			printf("\n");
		}
	}
}

static void print_people(const struct results *r)
{
	if (r->host)
		print_host(r->host);
	if (r->perf)
		print_perf(r->perf);
	if (r->procs)
		print_procs(r->procs, r->delta);
	if (r->capture_desc[0])
		printf("\nCapture      %s%s\n", T(r->capture_desc),
		       r->capture || strncmp(r->capture_desc, "ebpf", 4) ? "" : " (not used for one sample: see --window)");
	print_socks(r->listeners, r->conns);
	if (r->pkgs || r->health->stats[COLLECT_PKG]->runs) {
		printf("\nPackages\n");
		for (size_t i = 0; i < r->npkgs; i++) {
			char hex[65];
			hex_encode(hex, r->pkgs[i]->content_hash.data,
				   r->pkgs[i]->content_hash.len > 32 ? 32 : r->pkgs[i]->content_hash.len);
			printf("  %-5s %zu installed, content hash %.16s\n", T(r->pkgs[i]->manager),
			       r->pkgs[i]->n_packages, hex);
		}
		if (!r->npkgs)
			printf("  no package database found\n");
	}
	printf("\nCollector    errors\n");
	for (size_t i = 0; i < r->health->n_stats; i++) {
		const Cairn__CollectorStat *s = r->health->stats[i];
		if (!s->runs)
			continue;
		printf("  %-5s %5lu  (%lu items, %.1f ms)%s%s\n", s->collector, (unsigned long)s->errors,
		       (unsigned long)s->items, (double)s->last_duration_us / 1000.0,
		       s->last_error[0] ? "  last: " : "", T(s->last_error));
	}
}

static void report_config_error(const char *msg, void *arg)
{
	fprintf(stderr, "%s: %s\n", (const char *)arg, msg);
}

int collect_main(int argc, char *argv[])
{
	struct collect_opts o = { .interval_ms = 0 };
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "window", required_argument, NULL, OPT_WINDOW },
		{ 0 },
	};
	struct cli_extra extra = { NULL, longopts, handle_option, &o };
	struct cli cli;
	int rc = cli_parse(&cli, "cairn-agent", argc, argv, &extra, collect_usage);
	if (rc != CLI_CONTINUE)
		return rc;
	if (cli.nargs) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", cli.prog, cli.args[0]);
		cli_try_help(cli.prog);
		return 2;
	}
	static struct agent_config cfg;
	const char *root = o.root;
	if (!root && (cli.config_path || cli.noverrides)) {
		if (cli_agent_config_report(&cli, &cfg, report_config_error, (void *)cli.prog) != 0) {
			fprintf(stderr, "%s: the configuration has errors; run 'cairn-agent check-config'\n",
				cli.prog);
			return 2;
		}
		root = cfg.root;
		o.capture_poll = !strcmp(cfg.capture, "poll");
	}
	if (!o.only_given)
		for (int k = 0; k < COLLECT_NKINDS; k++)
			o.only[k] = true;

	static struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	if (!ctx.live && access(ctx.root, R_OK | X_OK)) {
		fprintf(stderr, "%s: --root %s: %s\n", cli.prog, ctx.root, strerror(errno));
		return 2;
	}
	if (!o.interval_ms)
		o.interval_ms = ctx.live ? 1000 : 10;

	struct results r = { 0 };
	rc = run_collectors(&ctx, &o, &r);
	if (rc) {
		fprintf(stderr, "%s: %s\n", cli.prog, strerror(-rc));
		results_free(&r);
		return 1;
	}
	int exit_code = 0;
	if (cli.json)
		exit_code = print_json(&ctx, &o, &r);
	else
		print_people(&r);
	if (fflush(stdout)) {
		fprintf(stderr, "%s: cannot write the output: %s\n", cli.prog, strerror(errno));
		exit_code = 1;
	}
	results_free(&r);
	return exit_code;
}
