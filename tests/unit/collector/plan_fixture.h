/* Synthetic hosts for the planning tests: an estate_host built in memory
 * (malloc'd protobuf values, freed by estate_host_free) with defaults that
 * make a Ready host, and small helpers that change one thing each. */
#ifndef CAIRN_PLAN_FIXTURE_H
#define CAIRN_PLAN_FIXTURE_H

#include "estate.h"
#include "store.pb-c.h"

/* 2026-11-26 00:00:00 UTC: "now" of every fixture. */
#define FX_NOW_MS 1795651200000LL
#define FX_WINDOW_MS 300000LL
#define FX_GIB (1024.0 * 1024.0 * 1024.0)

/* Ubuntu 22.04, x86_64, kernel 5.15, 4 vCPU, 16 GiB, ext4 / 100 GiB (40 used),
 * eth0 10.0.0.<n> 02:00:00:00:00:<n>, 288 windows of 5 min (one day, full
 * coverage), CPU p95 30 % (1.2 vCPU), memory 6 GiB, 200 IOPS, 4 MiB/s,
 * network 50 KiB/s in and out, one inbound edge. id = 64 hex digits of n. */
void fx_host(struct estate_host *h, unsigned n, const char *name);

void fx_os(struct estate_host *h, const char *id, const char *version, const char *name);
void fx_arch(struct estate_host *h, const char *arch);
void fx_kernel(struct estate_host *h, const char *release);
void fx_hypervisor(struct estate_host *h, const char *hv);
void fx_cpu_mem(struct estate_host *h, unsigned threads, double mem_gib);
/* Sets every metric's avg/max/pctl from one level (avg = 0.6 x level). */
void fx_load(struct estate_host *h, double cpu_pct, double mem_used_gib, double iops,
	     double disk_mibps, double net_bps);
void fx_fs(struct estate_host *h, const char *mount, const char *fstype, double size_gib,
	   double used_gib);
void fx_proc(struct estate_host *h, const char *name, const char *identity, unsigned pid,
	     unsigned uid);
void fx_pkg(struct estate_host *h, const char *name, const char *version);
void fx_listener(struct estate_host *h, unsigned port, const char *process);
void fx_no_facts(struct estate_host *h);

/* The period the fixtures cover: one day before FX_NOW_MS. */
#define FX_SINCE_MS (FX_NOW_MS - 288 * FX_WINDOW_MS)

/* Snapshot pieces (malloc'd, freed with the snapshot). */
Cairn__Store__App *fx_app(const char *id, const char *name, bool infra, const char *const *hosts,
			  size_t n);
void fx_snap_add_app(Cairn__Store__Snapshot *s, Cairn__Store__App *a);
void fx_snap_add_node(Cairn__Store__Snapshot *s, const char *id, const char *name, bool host);
void fx_snap_add_edge(Cairn__Store__Snapshot *s, const char *from, const char *to, unsigned port,
		      uint64_t samples);
Cairn__Store__Snapshot *fx_snap_new(void);

#endif
