/* Synthetic estates with ground truth, for the dependency map and the
 * application grouping (tests and `cairn-estate`).
 *
 * An estate of N hosts: three-tier web applications (two load balancers
 * sharing a VIP, web, app and database tiers, a cache), batch applications,
 * shared databases and a shared message queue used by several applications,
 * SaaS endpoints outside the estate, and infrastructure hubs (DNS, NTP, LDAP,
 * syslog, monitoring that polls every host, backup that pulls from every
 * host, a package mirror, an HTTP proxy, a jump host). Some application
 * hosts run docker and all of those carry the same bridge address
 * 172.17.0.1. Every host reports a cairn-agent connection to the collector
 * (which runs no agent), as real agents do.
 *
 * Truth: the application each host belongs to (infrastructure hosts, shared
 * databases and the queue are ESTATE_GEN_INFRA) and the host-level edges
 * (client, server) between agent hosts. Deterministic for a given seed.
 *
 * Planning facts (built after the structure, from their own random stream,
 * so they never change the map or the truth): every host has an OS from
 * os-release values of real distributions chosen by role (some past their
 * end of life, one 32-bit i686 host), a matching kernel, CPU model, sizes by
 * role (databases bigger, a few oversized and nearly idle), swap, VMware or
 * KVM, disks and filesystems (a backup server with a 24 TiB volume), NICs
 * with MACs, DMI uuid, timezone; processes, listeners and packages of its
 * role (PostgreSQL, Redis, nginx, HAProxy, Java and Python applications,
 * RabbitMQ, MariaDB/MySQL, an Oracle Database, a HASP dongle daemon,
 * Confluence on the wiki applications); and
 * one PerfWindow per hour (ESTATE_GEN_PERF_MS) with a daily cycle by role
 * (business hours, nightly batch, flat infrastructure), a database with
 * sustained high IOPS, busy hosts, one idle batch host without inbound use,
 * and a couple of agents that were installed late (lower confidence). */
#ifndef CAIRN_ESTATE_GEN_H
#define CAIRN_ESTATE_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "db.h"
#include "util.h"

#define ESTATE_GEN_INFRA UINT32_MAX
#define ESTATE_GEN_PERF_MS 3600000LL /* one perf window per hour */

struct estate_gen_spec {
	uint32_t hosts;        /* approximate; the estate is built of whole apps */
	uint64_t seed;
	uint32_t days;         /* days of traffic (edge records per host and day) and perf */
	int64_t start_ms;      /* first instant of the data; 0 = days before end_ms */
	int64_t end_ms;        /* with start_ms 0: end of the data; 0 = now, rounded down
				  to the hour (so the estate reads as current) */
	uint32_t perf_days;    /* hourly perf windows over the last perf_days days of
				  the data (at most days); 0 = none (map-only runs) */
	uint32_t extra_edges;  /* per host and day: extra SaaS/external edges (load) */
	int64_t perf_window_ms; /* perf window length for estate_gen_write (a divisor
				  of an hour); 0 = ESTATE_GEN_PERF_MS */
	uint32_t raw_days;     /* estate_gen_write: perf of days older than the last
				  raw_days is stored as day rollups only, as the store
				  holds it after retention_raw = raw_days; 0 = all raw */
	bool no_raw;           /* estate_gen_write: every perf window in rollups only */
	uint32_t cross_app_pct; /* web apps whose web tier calls another app's VIP; 0 */
	bool cases;            /* the trust cases (off by default: the structure of every
				  other run stays the same): outside clients of every web
				  application's balancers, and batch hosts that run one
				  dispatcher script per job (`python3 jobs.py ROLE`) */
};

/* An outside client (an address without an agent) of a server host: users
 * of a web application in their own /24, and one partner subnet shared by
 * all applications. Truth for the CLIENTS nodes of the map. */
struct estate_gen_outside {
	uint32_t server;           /* host index */
	uint32_t addr;             /* IPv4 host order */
	uint16_t port;
};

/* A dispatcher role: host runs `python3 /srv/STEM/jobs.py role`, which
 * alone connects to server:port. Truth for process attribution. */
struct estate_gen_role {
	uint32_t host, server;
	uint16_t port;
	const char *identity;      /* as the agent reports it (docs/inventory.md) */
};

struct estate_gen_conn {
	uint32_t client, server;   /* host indexes; server UINT32_MAX = external */
	uint16_t port;
	uint8_t proto;             /* Cairn__Protocol */
	uint8_t via;               /* 0 = server's address, 1 = VIP, 2 = docker bridge (local),
				      3 = external address, 4 = loopback (local) */
	const char *client_ident, *server_ident;
	uint32_t ext_addr;         /* external IPv4 (host order) when via = 3 */
};

/* What a host looks like to planning (see the header comment). */
enum estate_gen_load {
	ESTATE_GEN_LOAD_NORMAL,
	ESTATE_GEN_LOAD_BUSY,      /* CPU near its allocation at peak */
	ESTATE_GEN_LOAD_IOPS,      /* sustained IOPS above a gp3 volume's maximum */
	ESTATE_GEN_LOAD_OVERSIZED, /* big allocation, a few % used */
	ESTATE_GEN_LOAD_IDLE,      /* nothing runs: CPU < 2 %, network < 1 KB/s */
};

struct estate_gen_facts {
	uint8_t os;                /* index into the OS table of estate_gen.c */
	uint8_t cpu_model;
	uint8_t tz;
	uint8_t shape;             /* 0 business hours, 1 nightly, 2 flat */
	uint8_t load;              /* enum estate_gen_load */
	bool vmware;               /* else KVM */
	bool i686;
	bool oracle, dongle, mariadb, mysql, python_etl;
	bool confluence;           /* Atlassian Confluence next to the app (Repurchase) */
	uint16_t vcpu, sockets;
	uint32_t mem_gib, swap_gib;
	uint32_t root_gib, data_gib; /* data_gib 0: no data volume */
	const char *data_mount;
	float root_used, data_used;  /* share of size at the start of the data */
	float cpu_pct;               /* busy % of all CPUs at the daily peak */
	float mem_share;             /* used (total - available) share of memory */
	float iops, mibps;           /* data volume at peak */
	float net_bps;               /* rx + tx bytes/s at peak */
	uint32_t perf_hours;         /* hours of perf before the end; 0 = all */
	uint32_t uptime_days;
	uint64_t id;                 /* per-host random bits: MACs, uuid, machine id */
};

struct estate_gen_host {
	uint8_t pk[32];
	uint8_t sk[64];
	char name[64];
	uint32_t addr;             /* IPv4 host order */
	uint32_t vip;              /* 0, or a VIP this host claims */
	bool docker;
	uint32_t truth;            /* app index or ESTATE_GEN_INFRA */
	const char *role;
	struct estate_gen_facts f;
};

struct estate_gen {
	struct estate_gen_host *hosts;
	uint32_t nhosts;
	uint32_t napps;
	struct estate_gen_conn *conns;
	size_t nconns;
	uint32_t *conn_start;      /* CSR: conns touching host h (as client or server) */
	uint32_t *conn_idx;
	struct estate_gen_spec spec;
	uint32_t collector_addr;
	char **strings;            /* identities the conns point at */
	size_t nstrings;
	struct estate_gen_outside *outside; /* spec.cases */
	size_t noutside;
	struct estate_gen_role *roles;      /* spec.cases */
	size_t nroles;
};

int estate_gen_build(const struct estate_gen_spec *spec, struct estate_gen **out);
void estate_gen_free(struct estate_gen *e);

/* The batch host h sends for day d (HostInfo, listeners, processes and
 * packages on the last day only unless full is set; the day's hourly PerfWindows;
 * one ConnectionWindow covering the day). Free with
 * cairn__batch__free_unpacked(b, NULL). */
int estate_gen_batch(const struct estate_gen *e, uint32_t h, uint32_t day, uint64_t seq, bool full,
		     Cairn__Batch **out);

/* Writes the whole estate straight into an open collector store through
 * ingest_apply (plus accepted agent records), committing every ~200 hosts. */
int estate_gen_write(const struct estate_gen *e, struct db_env *env, struct errbuf *eb);

/* Ground truth host-level edges between agent hosts: (client, server)
 * pairs, sorted, unique. *out malloc'd, 2 uint32 per pair. */
int estate_gen_truth_edges(const struct estate_gen *e, uint32_t **out, size_t *n);

/* Text form of an address (host order IPv4). */
void estate_gen_addr(uint32_t a, char *out, size_t n);

#endif
