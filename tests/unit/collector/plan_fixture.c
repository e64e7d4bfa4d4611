/* Synthetic planning fixtures; see plan_fixture.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_fixture.h"

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);
	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
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
	*dst = xstrdup(s);
}

#define APPEND(arr, n, item)                                                          \
	do {                                                                          \
		void *nv_ = realloc((arr), ((n) + 1) * sizeof(*(arr)));              \
		if (!nv_)                                                             \
			abort();                                                      \
		(arr) = nv_;                                                          \
		(arr)[(n)++] = (item);                                                \
	} while (0)

static Cairn__HostInfo *info(struct estate_host *h)
{
	return h->facts->info;
}

void fx_host(struct estate_host *h, unsigned n, const char *name)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < 32; i++)
		h->raw_id[i] = (uint8_t)(n + i);
	hex_encode(h->id, h->raw_id, 32);
	str_copy(h->name, name, sizeof(h->name));
	h->facts = xcalloc(1, sizeof(*h->facts));
	cairn__store__host_facts__init(h->facts);
	Cairn__HostInfo *hi = xcalloc(1, sizeof(*hi));
	cairn__host_info__init(hi);
	h->facts->info = hi;
	h->facts->updated_ms = FX_NOW_MS - 60000;
	set(&hi->hostname, name);
	char buf[128];
	snprintf(buf, sizeof(buf), "%s.example.net", name);
	set(&hi->fqdn, buf);
	hi->os = xcalloc(1, sizeof(*hi->os));
	cairn__os_release__init(hi->os);
	fx_os(h, "ubuntu", "22.04", "Ubuntu");
	set(&hi->kernel_release, "5.15.0-91-generic");
	set(&hi->architecture, "x86_64");
	set(&hi->cpu_model, "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
	hi->virt = xcalloc(1, sizeof(*hi->virt));
	cairn__virtualization__init(hi->virt);
	set(&hi->virt->kind, "vm");
	set(&hi->virt->hypervisor, "kvm");
	snprintf(buf, sizeof(buf), "4c4c4544-0000-1000-8000-%012x", n);
	set(&hi->virt->dmi_product_uuid, buf);
	hi->collected_ms = FX_NOW_MS - 60000;
	fx_cpu_mem(h, 4, 16);
	fx_fs(h, "/", "ext4", 100, 40);
	fx_fs(h, "/run", "tmpfs", 2, 0.1);
	Cairn__BlockDevice *d = xcalloc(1, sizeof(*d));
	cairn__block_device__init(d);
	set(&d->name, "vda");
	set(&d->kind, "disk");
	d->size_bytes = (uint64_t)(100 * FX_GIB);
	APPEND(hi->disks, hi->n_disks, d);
	Cairn__Nic *nic = xcalloc(1, sizeof(*nic));
	cairn__nic__init(nic);
	set(&nic->name, "eth0");
	snprintf(buf, sizeof(buf), "02:00:00:00:00:%02x", n & 255);
	set(&nic->mac, buf);
	nic->up = 1;
	Cairn__IpAddress *a = xcalloc(1, sizeof(*a));
	cairn__ip_address__init(a);
	snprintf(buf, sizeof(buf), "10.0.0.%u", n & 255);
	set(&a->address, buf);
	a->prefix_len = 24;
	a->family = 4;
	set(&a->scope, "global");
	APPEND(nic->addresses, nic->n_addresses, a);
	APPEND(hi->nics, hi->n_nics, nic);
	Cairn__Route *r = xcalloc(1, sizeof(*r));
	cairn__route__init(r);
	r->family = 4;
	set(&r->destination, "default");
	set(&r->gateway, "10.0.0.1");
	set(&r->interface, "eth0");
	APPEND(hi->routes, hi->n_routes, r);
	h->windows = 288;
	h->window_ms = FX_WINDOW_MS;
	h->first_ms = FX_SINCE_MS;
	h->last_ms = FX_NOW_MS;
	fx_load(h, 30, 6, 200, 4, 50 * 1024);
	h->inbound_edges = 1;
}

void fx_os(struct estate_host *h, const char *id, const char *version, const char *name)
{
	Cairn__OsRelease *os = info(h)->os;
	set(&os->id, id);
	set(&os->version_id, version);
	set(&os->name, name);
	char buf[160];
	snprintf(buf, sizeof(buf), "%s %s", name, version);
	set(&os->pretty_name, buf);
}

void fx_arch(struct estate_host *h, const char *arch)
{
	set(&info(h)->architecture, arch);
}

void fx_kernel(struct estate_host *h, const char *release)
{
	set(&info(h)->kernel_release, release);
}

void fx_hypervisor(struct estate_host *h, const char *hv)
{
	set(&info(h)->virt->hypervisor, hv);
}

void fx_cpu_mem(struct estate_host *h, unsigned threads, double mem_gib)
{
	Cairn__HostInfo *hi = info(h);
	hi->cpu_threads = threads;
	hi->cpu_cores = threads > 1 ? threads / 2 : 1;
	hi->cpu_sockets = 1;
	hi->mem_total_bytes = (uint64_t)(mem_gib * FX_GIB);
	h->cpu_threads = threads;
	h->mem_total = hi->mem_total_bytes;
}

static void stat(struct estate_host *h, enum estate_metric m, double level)
{
	h->stat[m].pctl = level;
	h->stat[m].max = level * 1.5;
	h->stat[m].avg = level * 0.6;
}

void fx_load(struct estate_host *h, double cpu_pct, double mem_used_gib, double iops,
	     double disk_mibps, double net_bps)
{
	stat(h, ESTATE_CPU_PCT, cpu_pct);
	stat(h, ESTATE_CPU_VCPU, cpu_pct * h->cpu_threads / 100.0);
	stat(h, ESTATE_MEM_USED, mem_used_gib * FX_GIB);
	stat(h, ESTATE_DISK_READ_OPS, iops * 0.7);
	stat(h, ESTATE_DISK_WRITE_OPS, iops * 0.3);
	stat(h, ESTATE_DISK_IOPS, iops);
	stat(h, ESTATE_DISK_READ_BPS, disk_mibps * 1048576 * 0.7);
	stat(h, ESTATE_DISK_WRITE_BPS, disk_mibps * 1048576 * 0.3);
	stat(h, ESTATE_DISK_BPS, disk_mibps * 1048576);
	stat(h, ESTATE_NET_RX_BPS, net_bps);
	stat(h, ESTATE_NET_TX_BPS, net_bps);
	h->cpu_peak_p95 = cpu_pct;
	h->net_avg_peak = 2 * net_bps * 0.6;
}

void fx_fs(struct estate_host *h, const char *mount, const char *fstype, double size_gib,
	   double used_gib)
{
	Cairn__HostInfo *hi = info(h);
	Cairn__Filesystem *fs = xcalloc(1, sizeof(*fs));
	cairn__filesystem__init(fs);
	set(&fs->mountpoint, mount);
	char dev[64];
	snprintf(dev, sizeof(dev), "/dev/vda%zu", hi->n_filesystems + 1);
	set(&fs->device, dev);
	set(&fs->fstype, fstype);
	fs->size_bytes = (uint64_t)(size_gib * FX_GIB);
	fs->used_bytes = (uint64_t)(used_gib * FX_GIB);
	APPEND(hi->filesystems, hi->n_filesystems, fs);
}

void fx_proc(struct estate_host *h, const char *name, const char *identity, unsigned pid,
	     unsigned uid)
{
	if (!h->procs) {
		h->procs = xcalloc(1, sizeof(*h->procs));
		cairn__process_snapshot__init(h->procs);
		h->procs->taken_ms = FX_NOW_MS - 30000;
	}
	Cairn__Process *p = xcalloc(1, sizeof(*p));
	cairn__process__init(p);
	set(&p->name, name);
	set(&p->identity, identity ? identity : name);
	char buf[256];
	snprintf(buf, sizeof(buf), "/usr/sbin/%s", name);
	set(&p->exe, buf);
	snprintf(buf, sizeof(buf), "%s --config \"/etc/%s.conf\", -v", name, name);
	set(&p->cmdline, buf);
	set(&p->user, uid ? "app" : "root");
	p->pid = pid;
	p->uid = uid;
	APPEND(h->procs->processes, h->procs->n_processes, p);
}

void fx_pkg(struct estate_host *h, const char *name, const char *version)
{
	if (!h->npkgs) {
		Cairn__PackageInventory *pi = xcalloc(1, sizeof(*pi));
		cairn__package_inventory__init(pi);
		set(&pi->manager, "dpkg");
		APPEND(h->pkgs, h->npkgs, pi);
	}
	Cairn__Package *p = xcalloc(1, sizeof(*p));
	cairn__package__init(p);
	set(&p->name, name);
	set(&p->version, version);
	set(&p->architecture, "amd64");
	APPEND(h->pkgs[0]->packages, h->pkgs[0]->n_packages, p);
}

void fx_listener(struct estate_host *h, unsigned port, const char *process)
{
	if (!h->listeners) {
		h->listeners = xcalloc(1, sizeof(*h->listeners));
		cairn__listener_set__init(h->listeners);
	}
	Cairn__Listener *l = xcalloc(1, sizeof(*l));
	cairn__listener__init(l);
	l->protocol = CAIRN__PROTOCOL__TCP;
	set(&l->address, "0.0.0.0");
	l->port = port;
	set(&l->process_name, process);
	APPEND(h->listeners->listeners, h->listeners->n_listeners, l);
}

void fx_no_facts(struct estate_host *h)
{
	cairn__store__host_facts__free_unpacked(h->facts, NULL);
	h->facts = NULL;
	h->windows = 0;
	memset(h->stat, 0, sizeof(h->stat));
}

Cairn__Store__Snapshot *fx_snap_new(void)
{
	Cairn__Store__Snapshot *s = xcalloc(1, sizeof(*s));
	cairn__store__snapshot__init(s);
	s->version = 7;
	s->computed_ms = FX_NOW_MS;
	s->map = xcalloc(1, sizeof(*s->map));
	cairn__store__dep_map__init(s->map);
	return s;
}

Cairn__Store__App *fx_app(const char *id, const char *name, bool infra, const char *const *hosts,
			  size_t n)
{
	Cairn__Store__App *a = xcalloc(1, sizeof(*a));
	cairn__store__app__init(a);
	set(&a->id, id);
	set(&a->name, name);
	a->infrastructure = infra;
	for (size_t i = 0; i < n; i++)
		APPEND(a->hosts, a->n_hosts, xstrdup(hosts[i]));
	return a;
}

void fx_snap_add_app(Cairn__Store__Snapshot *s, Cairn__Store__App *a)
{
	APPEND(s->apps, s->n_apps, a);
}

void fx_snap_add_node(Cairn__Store__Snapshot *s, const char *id, const char *name, bool host)
{
	Cairn__Store__MapNode *n = xcalloc(1, sizeof(*n));
	cairn__store__map_node__init(n);
	set(&n->id, id);
	set(&n->name, name);
	n->kind = host ? CAIRN__STORE__NODE_KIND__HOST : CAIRN__STORE__NODE_KIND__EXTERNAL;
	APPEND(s->map->nodes, s->map->n_nodes, n);
}

void fx_snap_add_edge(Cairn__Store__Snapshot *s, const char *from, const char *to, unsigned port,
		      uint64_t samples)
{
	Cairn__Store__MapEdge *e = xcalloc(1, sizeof(*e));
	cairn__store__map_edge__init(e);
	set(&e->from, from);
	set(&e->to, to);
	e->port = port;
	e->samples_seen = samples;
	e->protocol = CAIRN__PROTOCOL__TCP;
	e->confirmed = 1;
	APPEND(s->map->host_edges, s->map->n_host_edges, e);
}
