#include "batchgen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.pb-c.h"

void batchgen_defaults(struct batchgen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seq = 1;
	o->window_start_ms = 1764115200000; /* 2025-11-26 00:00 UTC */
	o->window_ms = 300000;
	o->with_host = true;
	o->with_packages = false;
	o->nperf = 1;
	o->nprocs = 20;
	o->nedges = 10;
	o->npkgs = 50;
	o->nhosts = 100;
}

/* A pool of strings so the messages can point at them until packing. */
struct pool {
	char **s;
	size_t n, cap;
};

static char *pool_fmt(struct pool *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *pool_fmt(struct pool *p, const char *fmt, ...)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 64;
		p->s = realloc(p->s, p->cap * sizeof(*p->s));
	}
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return p->s[p->n++] = strdup(buf);
}

static void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->s[i]);
	free(p->s);
}

static void stat_set(Cairn__Stat *s, double base)
{
	cairn__stat__init(s);
	s->avg = base;
	s->max = base * 1.8;
	s->p95 = base * 1.5;
	s->min = base * 0.3;
}

int batchgen_build(const uint8_t agent_pk[static KEY_PUBLIC_LEN], const struct batchgen_opts *o,
		   uint8_t **payload, size_t *len, uint32_t *nrecords)
{
	struct pool pool = { 0 };
	uint32_t hi = o->host_index;
	size_t maxrec = 5 + o->nperf;
	Cairn__Record *recs = calloc(maxrec, sizeof(*recs));
	Cairn__Record **recp = calloc(maxrec, sizeof(*recp));
	size_t nrec = 0;

	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.agent_id.data = (uint8_t *)agent_pk;
	b.agent_id.len = KEY_PUBLIC_LEN;
	b.seq = o->seq;
	b.boot_id = pool_fmt(&pool, "boot-%u", hi);
	b.window_start_ms = o->window_start_ms;
	b.window_end_ms = o->window_start_ms + o->window_ms;
	b.agent_version = "0.1.0";

	/* host */
	Cairn__HostInfo host;
	Cairn__OsRelease os;
	Cairn__Nic nic[2], *nicp[2];
	Cairn__IpAddress ip[3], *ipp[3];
	if (o->with_host) {
		cairn__host_info__init(&host);
		cairn__os_release__init(&os);
		os.id = "debian";
		os.version_id = "12";
		os.pretty_name = "Debian GNU/Linux 12 (bookworm)";
		os.name = "Debian GNU/Linux";
		host.os = &os;
		host.hostname = o->hostname ? (char *)o->hostname : pool_fmt(&pool, "host-%u", hi);
		host.fqdn = pool_fmt(&pool, "%s.example.net", host.hostname);
		host.machine_id = pool_fmt(&pool, "%032x", hi);
		host.kernel_release = "6.1.0-18-amd64";
		host.architecture = "x86_64";
		host.cpu_model = "Intel(R) Xeon(R) Gold 6230";
		host.cpu_sockets = 1;
		host.cpu_cores = 4;
		host.cpu_threads = 8;
		host.mem_total_bytes = 16ull << 30;
		host.collected_ms = b.window_end_ms;
		for (int i = 0; i < 3; i++)
			cairn__ip_address__init(&ip[i]), ipp[i] = &ip[i];
		ip[0].address = pool_fmt(&pool, "10.%u.%u.1", (hi >> 8) & 255, hi & 255);
		ip[0].prefix_len = 16;
		ip[0].family = 4;
		ip[0].scope = "global";
		ip[1].address = pool_fmt(&pool, "fd00::%x", hi + 1);
		ip[1].prefix_len = 64;
		ip[1].family = 6;
		ip[1].scope = "global";
		ip[2].address = "127.0.0.1";
		ip[2].prefix_len = 8;
		ip[2].family = 4;
		ip[2].scope = "host";
		for (int i = 0; i < 2; i++)
			cairn__nic__init(&nic[i]), nicp[i] = &nic[i];
		nic[0].name = "eth0";
		nic[0].mac = pool_fmt(&pool, "52:54:00:%02x:%02x:01", (hi >> 8) & 255, hi & 255);
		nic[0].mtu = 1500;
		nic[0].speed_mbps = 10000;
		nic[0].up = true;
		nic[0].n_addresses = 2;
		nic[0].addresses = ipp;
		nic[1].name = "lo";
		nic[1].virtual_ = true;
		nic[1].up = true;
		nic[1].n_addresses = 1;
		nic[1].addresses = ipp + 2;
		host.n_nics = 2;
		host.nics = nicp;
		cairn__record__init(&recs[nrec]);
		recs[nrec].kind_case = CAIRN__RECORD__KIND_HOST;
		recs[nrec].host = &host;
		nrec++;
	}

	/* perf sub-windows */
	Cairn__PerfWindow *perf = calloc(o->nperf ? o->nperf : 1, sizeof(*perf));
	Cairn__Stat *stats = calloc((o->nperf ? o->nperf : 1) * 4, sizeof(*stats));
	for (uint32_t i = 0; i < o->nperf; i++) {
		Cairn__PerfWindow *w = &perf[i];
		cairn__perf_window__init(w);
		int64_t step = o->window_ms / o->nperf;
		w->window_start_ms = o->window_start_ms + step * i;
		w->window_end_ms = w->window_start_ms + step;
		w->samples = 4;
		w->interval_ms = 15000;
		stat_set(&stats[i * 4], 20 + (hi % 30));
		stat_set(&stats[i * 4 + 1], 5);
		stat_set(&stats[i * 4 + 2], 4.0 * (1u << 30));
		stat_set(&stats[i * 4 + 3], 1.2);
		w->cpu_busy_pct = &stats[i * 4];
		w->cpu_system_pct = &stats[i * 4 + 1];
		w->mem_used_bytes = &stats[i * 4 + 2];
		w->load1 = &stats[i * 4 + 3];
		w->mem_total_bytes = 16ull << 30;
		w->cpu_threads = 8;
		cairn__record__init(&recs[nrec]);
		recs[nrec].kind_case = CAIRN__RECORD__KIND_PERF;
		recs[nrec].perf = w;
		nrec++;
	}

	/* processes and listeners */
	Cairn__ProcessSnapshot snap = CAIRN__PROCESS_SNAPSHOT__INIT;
	Cairn__Process *procs = calloc(o->nprocs ? o->nprocs : 1, sizeof(*procs));
	Cairn__Process **procp = calloc(o->nprocs ? o->nprocs : 1, sizeof(*procp));
	static const char *const names[] = { "nginx", "postgres", "java", "python3", "sshd",
					     "redis-server", "node", "cron" };
	for (uint32_t i = 0; i < o->nprocs; i++) {
		Cairn__Process *p = &procs[i];
		cairn__process__init(p);
		p->pid = 1000 + i;
		p->ppid = 1;
		p->name = (char *)names[i % 8];
		p->exe = pool_fmt(&pool, "/usr/bin/%s", names[i % 8]);
		p->cmdline = pool_fmt(&pool, "/usr/bin/%s --worker %u", names[i % 8], i);
		p->user = "app";
		p->uid = 1000;
		p->start_time_ms = o->window_start_ms - 86400000;
		p->cpu_pct = (double)(i % 7);
		p->rss_bytes = (uint64_t)(i + 1) << 22;
		p->identity = (char *)names[i % 8];
		p->threads = 4;
		procp[i] = p;
	}
	snap.taken_ms = b.window_end_ms;
	snap.n_processes = o->nprocs;
	snap.processes = procp;
	if (o->nprocs) {
		cairn__record__init(&recs[nrec]);
		recs[nrec].kind_case = CAIRN__RECORD__KIND_PROCESSES;
		recs[nrec].processes = &snap;
		nrec++;
	}
	Cairn__ListenerSet ls = CAIRN__LISTENER_SET__INIT;
	Cairn__Listener lis[2], *lisp[2];
	for (int i = 0; i < 2; i++) {
		cairn__listener__init(&lis[i]);
		lis[i].protocol = CAIRN__PROTOCOL__TCP;
		lis[i].address = "0.0.0.0";
		lis[i].port = i ? 5432 : 443;
		lis[i].pid = 1000 + i;
		lis[i].process_name = (char *)names[i];
		lis[i].identity = (char *)names[i];
		lisp[i] = &lis[i];
	}
	ls.taken_ms = b.window_end_ms;
	ls.n_listeners = 2;
	ls.listeners = lisp;
	cairn__record__init(&recs[nrec]);
	recs[nrec].kind_case = CAIRN__RECORD__KIND_LISTENERS;
	recs[nrec].listeners = &ls;
	nrec++;

	/* edges */
	Cairn__ConnectionWindow cw = CAIRN__CONNECTION_WINDOW__INIT;
	Cairn__Edge *edges = calloc(o->nedges ? o->nedges : 1, sizeof(*edges));
	Cairn__Edge **edgep = calloc(o->nedges ? o->nedges : 1, sizeof(*edgep));
	uint32_t nh = o->nhosts ? o->nhosts : 100;
	for (uint32_t i = 0; i < o->nedges; i++) {
		Cairn__Edge *e = &edges[i];
		cairn__edge__init(e);
		uint32_t peer = (hi + 1 + i) % nh;
		bool inbound = i % 3 == 2;
		e->direction = inbound ? CAIRN__DIRECTION__INBOUND : CAIRN__DIRECTION__OUTBOUND;
		e->protocol = CAIRN__PROTOCOL__TCP;
		e->pid = 1000 + (i % 8);
		e->process_name = (char *)names[i % 8];
		e->identity = (char *)names[i % 8];
		e->local_address = pool_fmt(&pool, "10.%u.%u.1", (hi >> 8) & 255, hi & 255);
		e->remote_address = pool_fmt(&pool, "10.%u.%u.1", (peer >> 8) & 255, peer & 255);
		if (inbound)
			e->local_port = 443;
		else
			e->remote_port = i % 2 ? 5432 : 443;
		e->samples_seen = 20;
		e->max_concurrent = 1 + i % 5;
		e->first_seen_ms = o->window_start_ms;
		e->last_seen_ms = b.window_end_ms - 1;
		e->bytes_sent = 1000 * (i + 1);
		e->bytes_received = 5000 * (i + 1);
		edgep[i] = e;
	}
	cw.window_start_ms = o->window_start_ms;
	cw.window_end_ms = b.window_end_ms;
	cw.samples = 20;
	cw.n_edges = o->nedges;
	cw.edges = edgep;
	if (o->nedges) {
		cairn__record__init(&recs[nrec]);
		recs[nrec].kind_case = CAIRN__RECORD__KIND_CONNECTIONS;
		recs[nrec].connections = &cw;
		nrec++;
	}

	/* packages */
	Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
	Cairn__Package *pk = calloc(o->npkgs ? o->npkgs : 1, sizeof(*pk));
	Cairn__Package **pkp = calloc(o->npkgs ? o->npkgs : 1, sizeof(*pkp));
	uint8_t hash[32] = { 1, 2, 3 };
	if (o->with_packages) {
		for (uint32_t i = 0; i < o->npkgs; i++) {
			cairn__package__init(&pk[i]);
			pk[i].name = pool_fmt(&pool, "lib-package-%u", i);
			pk[i].version = pool_fmt(&pool, "1.%u.%u-1", i % 10, i % 7);
			pk[i].architecture = "amd64";
			pkp[i] = &pk[i];
		}
		inv.manager = "dpkg";
		inv.content_hash.data = hash;
		inv.content_hash.len = sizeof(hash);
		inv.n_packages = o->npkgs;
		inv.packages = pkp;
		inv.collected_ms = b.window_end_ms;
		cairn__record__init(&recs[nrec]);
		recs[nrec].kind_case = CAIRN__RECORD__KIND_PACKAGES;
		recs[nrec].packages = &inv;
		nrec++;
	}

	for (size_t i = 0; i < nrec; i++)
		recp[i] = &recs[i];
	b.n_records = nrec;
	b.records = recp;

	int rc = 0;
	size_t n = cairn__batch__get_packed_size(&b);
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		rc = -ENOMEM;
	else
		cairn__batch__pack(&b, buf);
	*payload = buf;
	*len = n;
	if (nrecords)
		*nrecords = (uint32_t)nrec;

	free(recs);
	free(recp);
	free(perf);
	free(stats);
	free(procs);
	free(procp);
	free(edges);
	free(edgep);
	free(pk);
	free(pkp);
	pool_free(&pool);
	return rc;
}
