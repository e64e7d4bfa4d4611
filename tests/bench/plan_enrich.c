/* cairn-plan-enrich: gives a synthetic estate (cairn-estate) what planning
 * needs and the map generator does not write: a varied OS mix and
 * hypervisors, sizes by role, a week of hourly performance windows, the
 * processes and packages that pick strategies (PostgreSQL, Redis, RabbitMQ,
 * a hardware-dongle daemon, an idle batch host). Every host's existing
 * HostInfo (NICs, addresses) is kept and extended; everything is written
 * through ingest_apply like real batches. Deterministic per host name.
 *
 *   cairn-plan-enrich --state-dir DIR [--days N] [--now-ms MS]
 *
 * The perf windows cover the last --days (default 7) before now: planning
 * judges the recent period. (cairn-estate dates its traffic from a fixed day
 * for reproducibility, so map edges are older than that period.)
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ingest.h"
#include "store.h"
#include "tags.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define HOUR_MS 3600000LL

struct profile {
	const char *role;
	unsigned vcpu;
	double mem_gib, cpu_pct, mem_share, iops, disk_mibps, net_bps, data_gib;
	const char *proc, *ident, *pkg, *pkgver;
	unsigned port;
};

static const struct profile profiles[] = {
	{ "db", 8, 32, 35, 0.6, 1500, 40, 2e6, 400, "postgres", "postgres", "postgresql-15", "15.5-1.pgdg22.04+1", 5432 },
	{ "cache", 2, 16, 15, 0.7, 50, 1, 5e6, 0, "redis-server", "redis-server", "redis-server", "5:6.0.16-1ubuntu1", 6379 },
	{ "mq", 4, 16, 25, 0.5, 300, 10, 3e6, 50, "beam.smp", "beam.smp:rabbit", "rabbitmq-server", "3.9.13-1", 5672 },
	{ "web", 4, 8, 20, 0.4, 80, 2, 4e6, 0, "nginx", "nginx", "nginx", "1.18.0-6ubuntu14.4", 443 },
	{ "app", 4, 16, 40, 0.55, 120, 3, 3e6, 0, "java", "java:org.springframework.boot.loader.JarLauncher", "openjdk-17-jre-headless", "17.0.9+9-1", 8080 },
	{ "lb", 2, 4, 10, 0.3, 20, 0.5, 8e6, 0, "haproxy", "haproxy", "haproxy", "2.4.24-0ubuntu0.22.04.1", 443 },
	{ "batch", 8, 16, 50, 0.5, 400, 20, 1e6, 100, "python3", "python3:/opt/batch/run.py", "python3", "3.10.6-1~22.04", 0 },
	{ "infra", 2, 4, 10, 0.35, 40, 1, 5e5, 0, NULL, NULL, NULL, NULL, 0 },
};

struct os {
	const char *id, *version, *name;
};

static const struct os oses[10] = {
	{ "ubuntu", "22.04", "Ubuntu" }, { "ubuntu", "22.04", "Ubuntu" }, { "ubuntu", "22.04", "Ubuntu" },
	{ "ubuntu", "24.04", "Ubuntu" }, { "rhel", "9.4", "Red Hat Enterprise Linux" },
	{ "debian", "11", "Debian GNU/Linux" }, { "ubuntu", "20.04", "Ubuntu" },
	{ "rhel", "8.9", "Red Hat Enterprise Linux" }, { "centos", "7", "CentOS Linux" },
	{ "sles", "15.5", "SLES" },
};

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static const struct profile *profile_of(const char *name)
{
	static const char *const keys[][2] = {
		{ "-db-", "db" }, { "shared-pg", "db" }, { "-cache-", "cache" }, { "mq-", "mq" },
		{ "-web-", "web" }, { "-app-", "app" }, { "-lb-", "lb" }, { "-batch-", "batch" },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strstr(name, keys[i][0]))
			for (size_t k = 0; k < sizeof(profiles) / sizeof(profiles[0]); k++)
				if (!strcmp(profiles[k].role, keys[i][1]))
					return &profiles[k];
	return &profiles[sizeof(profiles) / sizeof(profiles[0]) - 1];
}

static char *dup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d)
		abort();
	return d;
}

static void set(char **dst, const char *s)
{
	if (*dst && *dst != protobuf_c_empty_string)
		free(*dst);
	*dst = dup(s);
}

static void *zalloc(size_t n)
{
	void *p = calloc(1, n);
	if (!p)
		abort();
	return p;
}

static Cairn__Stat *stat(double avg, double p95, double max)
{
	Cairn__Stat *s = zalloc(sizeof(*s));
	cairn__stat__init(s);
	s->avg = avg;
	s->p95 = p95;
	s->max = max;
	s->min = avg * 0.3;
	return s;
}

static Cairn__Filesystem *fs(const char *mount, const char *dev, const char *type, double size,
			     double used)
{
	Cairn__Filesystem *f = zalloc(sizeof(*f));
	cairn__filesystem__init(f);
	f->mountpoint = dup(mount);
	f->device = dup(dev);
	f->fstype = dup(type);
	f->size_bytes = (uint64_t)(size * GIB);
	f->used_bytes = (uint64_t)(used * GIB);
	return f;
}

struct mode {
	bool idle, dongle, big;
};

static void enrich_info(Cairn__HostInfo *hi, const struct profile *p, uint32_t h, const struct mode *m)
{
	const struct os *os = &oses[h % 10];
	if (!hi->os) {
		hi->os = zalloc(sizeof(*hi->os));
		cairn__os_release__init(hi->os);
	}
	set(&hi->os->id, os->id);
	set(&hi->os->version_id, os->version);
	set(&hi->os->name, os->name);
	char pretty[128];
	snprintf(pretty, sizeof(pretty), "%s %s", os->name, os->version);
	set(&hi->os->pretty_name, pretty);
	set(&hi->kernel_release, !strcmp(os->id, "centos") ? "3.10.0-1160.el7.x86_64" : "5.15.0-91-generic");
	set(&hi->architecture, "x86_64");
	if (!hi->virt) {
		hi->virt = zalloc(sizeof(*hi->virt));
		cairn__virtualization__init(hi->virt);
	}
	set(&hi->virt->kind, "vm");
	set(&hi->virt->hypervisor, h % 3 == 0 ? "vmware" : "kvm");
	char uuid[64];
	snprintf(uuid, sizeof(uuid), "4c4c4544-%04x-%04x-8000-%012x", (h >> 16) & 0xffff, h & 0xffff, h);
	set(&hi->virt->dmi_product_uuid, uuid);
	unsigned vcpu = m->big ? p->vcpu * 2 : p->vcpu;
	hi->cpu_threads = vcpu;
	hi->cpu_cores = vcpu > 1 ? vcpu / 2 : 1;
	hi->cpu_sockets = 1;
	hi->mem_total_bytes = (uint64_t)((m->big ? 2 : 1) * p->mem_gib * GIB);
	for (size_t i = 0; i < hi->n_filesystems; i++)
		cairn__filesystem__free_unpacked(hi->filesystems[i], NULL);
	free(hi->filesystems);
	hi->filesystems = zalloc(3 * sizeof(*hi->filesystems));
	hi->n_filesystems = 0;
	hi->filesystems[hi->n_filesystems++] = fs("/", "/dev/sda1", "ext4", 50, 18 + h % 10);
	hi->filesystems[hi->n_filesystems++] = fs("/run", "tmpfs", "tmpfs", 2, 0.1);
	if (p->data_gib > 0)
		hi->filesystems[hi->n_filesystems++] =
			fs("/data", "/dev/sdb1", "xfs", p->data_gib * 1.5, p->data_gib * (0.5 + (h % 5) / 10.0));
	hi->collected_ms = 0;
}

static Cairn__PerfWindow *window(const struct profile *p, const Cairn__HostInfo *hi, int64_t start,
				 const struct mode *m, uint32_t h)
{
	Cairn__PerfWindow *w = zalloc(sizeof(*w));
	cairn__perf_window__init(w);
	w->window_start_ms = start;
	w->window_end_ms = start + HOUR_MS;
	w->samples = 240;
	w->interval_ms = 15000;
	w->cpu_threads = hi->cpu_threads;
	w->mem_total_bytes = hi->mem_total_bytes;
	int hour = (int)((start / HOUR_MS) % 24);
	double day = 0.55 + 0.45 * sin((hour - 8) * M_PI / 12.0); /* busier in the day */
	double jitter = 0.9 + 0.2 * (((h ^ (uint32_t)start) >> 7) % 100) / 100.0;
	double cpu = m->idle ? 0.8 : p->cpu_pct * day * jitter;
	w->cpu_busy_pct = stat(cpu * 0.7, cpu, fmin(100, cpu * 1.6));
	double used = hi->mem_total_bytes * (m->idle ? 0.1 : p->mem_share) * (0.95 + 0.1 * day);
	w->mem_used_bytes = stat(used * 0.97, used, used * 1.03);
	w->mem_available_bytes = stat(hi->mem_total_bytes - used * 0.97, hi->mem_total_bytes - used,
				      hi->mem_total_bytes - used * 1.03);
	w->disks = zalloc(sizeof(*w->disks));
	w->n_disks = 1;
	Cairn__DiskPerf *d = zalloc(sizeof(*d));
	cairn__disk_perf__init(d);
	d->device = dup("sda");
	double io = m->idle ? 0.5 : p->iops * day * jitter, bw = m->idle ? 1000 : p->disk_mibps * 1048576 * day;
	d->read_ops_ps = stat(io * 0.4, io * 0.7, io * 1.2);
	d->write_ops_ps = stat(io * 0.2, io * 0.3, io * 0.6);
	d->read_bytes_ps = stat(bw * 0.4, bw * 0.7, bw * 1.3);
	d->write_bytes_ps = stat(bw * 0.2, bw * 0.3, bw * 0.7);
	w->disks[0] = d;
	w->nics = zalloc(sizeof(*w->nics));
	w->n_nics = 1;
	Cairn__NicPerf *n = zalloc(sizeof(*n));
	cairn__nic_perf__init(n);
	n->name = dup("eth0");
	double net = m->idle ? 300 : p->net_bps * day * jitter;
	n->rx_bytes_ps = stat(net * 0.6, net, net * 1.5);
	n->tx_bytes_ps = stat(net * 0.4, net * 0.7, net);
	w->nics[0] = n;
	return w;
}

static Cairn__Process *proc(const char *name, const char *ident, unsigned pid, unsigned uid)
{
	Cairn__Process *p = zalloc(sizeof(*p));
	cairn__process__init(p);
	p->name = dup(name);
	p->identity = dup(ident);
	char buf[128];
	snprintf(buf, sizeof(buf), "/usr/sbin/%s", name);
	p->exe = dup(buf);
	p->cmdline = dup(buf);
	p->user = dup(uid ? "svc" : "root");
	p->pid = pid;
	p->uid = uid;
	return p;
}

static Cairn__Package *pkg(const char *name, const char *version)
{
	Cairn__Package *p = zalloc(sizeof(*p));
	cairn__package__init(p);
	p->name = dup(name);
	p->version = dup(version);
	p->architecture = dup("amd64");
	return p;
}

static Cairn__Record *record(void)
{
	Cairn__Record *r = zalloc(sizeof(*r));
	cairn__record__init(r);
	return r;
}

struct job {
	int64_t now_ms;
	unsigned days;
	unsigned hosts, idle, dongle;
	/* --tag PREFIX:key=value: hosts whose name starts with PREFIX get the tag
	 * (the wave rules' integration test: environment, criticality) */
	struct {
		char prefix[64];
		struct tag_kv kv;
	} tags[16];
	size_t ntags, tagged;
};

static int enrich_fn(MDB_txn *txn, void *arg);

static struct db_env env;

int main(int argc, char *argv[])
{
	const char *state_dir = NULL;
	static struct job job; /* large: not on the stack */
	job.now_ms = time_now_ms();
	job.days = 7;
	static const struct option opts[] = { { "state-dir", required_argument, NULL, 's' },
					      { "days", required_argument, NULL, 'd' },
					      { "now-ms", required_argument, NULL, 'n' },
					      { "tag", required_argument, NULL, 't' },
					      { 0 } };
	struct errbuf teb = { { 0 } };
	const char *colon;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': state_dir = optarg; break;
		case 'd': job.days = (unsigned)atoi(optarg); break;
		case 'n': job.now_ms = atoll(optarg); break;
		case 't':
			colon = strchr(optarg, ':');
			if (!colon || job.ntags == 16 || (size_t)(colon - optarg) >= sizeof(job.tags[0].prefix) ||
			    tags_parse(colon + 1, &job.tags[job.ntags].kv, &teb)) {
				fprintf(stderr, "cairn-plan-enrich: --tag '%s': use PREFIX:key=value%s%s\n",
					optarg, teb.msg[0] ? ": " : "", teb.msg);
				return 2;
			}
			snprintf(job.tags[job.ntags].prefix, sizeof(job.tags[0].prefix), "%.*s",
				 (int)(colon - optarg), optarg);
			job.ntags++;
			break;
		default:
			fprintf(stderr, "usage: cairn-plan-enrich --state-dir DIR [--days N] [--now-ms MS] "
				"[--tag PREFIX:key=value ...]\n");
			return 2;
		}
	}
	if (!state_dir || !job.days || job.days > 90) {
		fprintf(stderr, "usage: cairn-plan-enrich --state-dir DIR [--days 1..90] [--now-ms MS]\n");
		return 2;
	}
	job.now_ms -= job.now_ms % HOUR_MS;
	struct collector_config cfg;
	config_collector_defaults(&cfg);
	str_copy(cfg.state_dir, state_dir, sizeof(cfg.state_dir));
	struct errbuf eb = { { 0 } };
	if (store_open(&env, &cfg, true, &eb)) {
		fprintf(stderr, "cairn-plan-enrich: %s\n", eb.msg);
		return 1;
	}
	int rc = db_write(&env, enrich_fn, &job);
	db_close(&env);
	if (rc) {
		fprintf(stderr, "cairn-plan-enrich: %s\n", db_strerror(rc));
		return 1;
	}
	printf("enriched %u hosts: OS mix, sizes, %u days of hourly perf windows, processes and "
	       "packages (%u idle, %u with a license dongle)\n", job.hosts, job.days, job.idle, job.dongle);
	if (job.ntags)
		printf("tagged %zu hosts\n", job.tagged);
	return 0;
}

static int enrich_one(MDB_txn *txn, const uint8_t id[32], Cairn__Store__HostFacts *hf, struct job *job)
{
	Cairn__HostInfo *hi = hf->info;
	hf->info = NULL;
	const struct profile *p = profile_of(hi->hostname);
	uint32_t h = hash(hi->hostname);
	struct mode m = { false, false, false };
	if (!strcmp(p->role, "batch") && !job->idle) {
		m.idle = true;
		job->idle++;
	} else if (!strcmp(p->role, "batch") && !job->dongle) {
		m.dongle = true;
		job->dongle++;
	}
	m.big = !strcmp(p->role, "db") && h % 4 == 0;
	enrich_info(hi, p, h, &m);
	unsigned nwin = job->days * 24;
	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.records = zalloc((nwin + 4) * sizeof(*b.records));
	Cairn__Record *r = record();
	r->kind_case = CAIRN__RECORD__KIND_HOST;
	r->host = hi;
	b.records[b.n_records++] = r;
	int64_t start = job->now_ms - (int64_t)nwin * HOUR_MS;
	for (unsigned i = 0; i < nwin; i++) {
		r = record();
		r->kind_case = CAIRN__RECORD__KIND_PERF;
		r->perf = window(p, hi, start + (int64_t)i * HOUR_MS, &m, h);
		b.records[b.n_records++] = r;
	}
	Cairn__ProcessSnapshot *ps = zalloc(sizeof(*ps));
	cairn__process_snapshot__init(ps);
	ps->taken_ms = job->now_ms - 60000;
	ps->processes = zalloc(6 * sizeof(*ps->processes));
	ps->processes[ps->n_processes++] = proc("systemd", "systemd", 1, 0);
	ps->processes[ps->n_processes++] = proc("sshd", "sshd", 700, 0);
	ps->processes[ps->n_processes++] = proc("node_exporter", "node_exporter", 710, 65534);
	if (p->proc)
		ps->processes[ps->n_processes++] = proc(p->proc, p->ident, 1200, 110);
	if (m.dongle)
		ps->processes[ps->n_processes++] = proc("hasplmd", "hasplmd", 640, 0);
	r = record();
	r->kind_case = CAIRN__RECORD__KIND_PROCESSES;
	r->processes = ps;
	b.records[b.n_records++] = r;
	Cairn__PackageInventory *pi = zalloc(sizeof(*pi));
	cairn__package_inventory__init(pi);
	pi->manager = dup(!strcmp(hi->os->id, "rhel") || !strcmp(hi->os->id, "centos") ||
			  !strcmp(hi->os->id, "sles") ? "rpm" : "dpkg");
	pi->collected_ms = job->now_ms - 60000;
	pi->packages = zalloc(4 * sizeof(*pi->packages));
	pi->packages[pi->n_packages++] = pkg("openssl", "3.0.2-0ubuntu1.15");
	pi->packages[pi->n_packages++] = pkg("openssh-server", "1:8.9p1-3ubuntu0.6");
	if (p->pkg)
		pi->packages[pi->n_packages++] = pkg(p->pkg, p->pkgver);
	r = record();
	r->kind_case = CAIRN__RECORD__KIND_PACKAGES;
	r->packages = pi;
	b.records[b.n_records++] = r;
	b.window_start_ms = start;
	b.window_end_ms = job->now_ms;
	int rc = ingest_apply(txn, &env, id, &b, job->now_ms, NULL);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	for (size_t t = 0; t < job->ntags && !rc; t++) {
		if (strncmp(hi->hostname, job->tags[t].prefix, strlen(job->tags[t].prefix)))
			continue;
		struct errbuf eb = { { 0 } };
		rc = tags_write(txn, &env, hex, &job->tags[t].kv, 1, NULL, 0, "cairn-plan-enrich", "person",
				job->now_ms, NULL, &eb);
		if (rc)
			fprintf(stderr, "cairn-plan-enrich: %s\n", eb.msg);
		job->tagged++;
	}
	for (size_t i = 0; i < b.n_records; i++)
		cairn__record__free_unpacked(b.records[i], NULL);
	free(b.records);
	job->hosts++;
	return rc;
}

static int enrich_fn(MDB_txn *txn, void *arg)
{
	struct job *job = arg;
	job->hosts = job->idle = job->dongle = 0;
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, env.dbi[STORE_HOSTS], &cur);
	if (rc)
		return rc;
	/* collect first: ingest_apply writes to the DB the cursor walks */
	struct item {
		uint8_t id[32];
		Cairn__Store__HostFacts *hf;
	} *items = NULL;
	size_t n = 0;
	MDB_val k, v;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32)
			continue;
		Cairn__Store__HostFacts *hf = cairn__store__host_facts__unpack(NULL, v.mv_size, v.mv_data);
		if (!hf || !hf->info) {
			if (hf)
				cairn__store__host_facts__free_unpacked(hf, NULL);
			continue;
		}
		struct item *ni = realloc(items, (n + 1) * sizeof(*ni));
		if (!ni)
			abort();
		items = ni;
		memcpy(items[n].id, k.mv_data, 32);
		items[n++].hf = hf;
	}
	mdb_cursor_close(cur);
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = enrich_one(txn, items[i].id, items[i].hf, job);
		cairn__store__host_facts__free_unpacked(items[i].hf, NULL);
	}
	free(items);
	return rc;
}
