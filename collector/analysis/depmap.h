/* The dependency map: which host (and which process on it) talks to which,
 * computed from the facts of one LMDB read transaction.
 *
 * depmap_build() loads what it needs into memory (hosts, address claims,
 * edges aggregated over the days since opts->since_ms, listeners), then
 * resolves every OUTBOUND edge's remote address to a node:
 *   - loopback, or an address the client host claims itself -> the same host
 *     (a local dependency: kept at service level, not drawn at host level);
 *   - claimed by exactly one host -> that host;
 *   - claimed by several hosts (docker bridges, VIPs, overlapping private
 *     ranges) -> the one host that saw the connection INBOUND on that port
 *     from one of the client's addresses; failing that the one candidate with
 *     a listener on the port; otherwise an AMBIGUOUS node "amb:ADDR";
 *   - claimed by nobody -> an EXTERNAL node "ext:ADDR", labelled by the
 *     well-known service of the port ("postgres 10.9.0.5").
 * INBOUND edges from addresses no agent host claims are outside clients
 * (users, partners): one CLIENTS node per subnet (/24, /64), "cli:10.7.1.0/24"
 * named "outside clients 10.7.1.0/24 (37 addresses)", with an edge to each
 * server process they reach. They are not hosts and never grouped.
 * An edge is confirmed when the server host reported the matching INBOUND
 * edge. INBOUND edges whose client address belongs to exactly one agent host
 * that reported no matching OUTBOUND edge are added unconfirmed.
 * cairn's own traffic (processes cairn-agent / cairn-collector) is counted
 * and left out.
 *
 * The result is plain arrays (node 0..nhosts-1 are the agent hosts, sorted
 * by agent id, then external and ambiguous nodes) that apps.c groups and
 * depmap_to_proto() materializes. docs/analysis.md explains the choices. */
#ifndef CAIRN_DEPMAP_H
#define CAIRN_DEPMAP_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "store.pb-c.h"
#include "util.h"

#define DEPMAP_NONE UINT32_MAX

struct depmap_opts {
	int64_t since_ms;  /* edges last seen before this are ignored; 0 = all */
	int64_t now_ms;
	bool days_only;    /* read day records only, no week rollups (same map) */
};

struct depmap_node {
	Cairn__Store__NodeKind kind;
	char *id;           /* agent id hex, "ext:ADDR", "amb:ADDR" */
	char *name;         /* hostname, or "postgres 10.9.0.5" */
	uint8_t addr[16];   /* EXTERNAL / AMBIGUOUS: the address; CLIENTS: the subnet */
	uint8_t id_raw[32]; /* HOST: agent id */
	uint32_t clients;   /* CLIENTS: distinct client addresses */
};

/* One edge of the map. At service level from_ident/to_ident name processes
 * (index into strings, DEPMAP_NONE = unknown); at host level they are
 * DEPMAP_NONE and port is the busiest port (all ports in ports[]). */
struct depmap_edge {
	uint32_t from, to;          /* node indexes */
	uint32_t from_ident, to_ident;
	uint16_t port;
	uint8_t proto;              /* Cairn__Protocol (host level: of the busiest port) */
	uint8_t protos;             /* bit 1 << Cairn__Protocol of every protocol */
	bool confirmed;
	bool local;                 /* both ends on the same host */
	uint64_t samples;
	int64_t first_ms, last_ms;
	uint64_t bytes;
	uint64_t connections, short_lived, datagrams; /* event capture; 0 when polled only */
	bool bytes_known;           /* false: no record had byte counters, bytes is 0 */
	uint32_t nports;
	uint16_t *ports;            /* host level only, sorted */
};

struct depmap_stats {
	uint64_t edge_records;      /* EdgeDay values read */
	uint64_t edges_in_period;   /* after the --since filter */
	uint64_t unresolved;        /* outbound edges to external nodes */
	uint64_t ambiguous;         /* outbound edges to ambiguous nodes */
	uint64_t self_traffic;      /* cairn's own edges left out */
	uint64_t malformed;         /* values or addresses that did not parse */
	uint64_t inbound_only;      /* edges added from the server side alone */
	uint64_t outside_clients;   /* inbound edges from outside clients */
	uint64_t own_loopback;      /* loopback edges of a program with itself, left out */
	uint64_t load_us, resolve_us;
};

struct depmap {
	struct depmap_node *nodes;
	uint32_t nnodes, nhosts;
	struct depmap_edge *svc;    /* service level, sorted (from, to, port, idents) */
	size_t nsvc;
	struct depmap_edge *hostl;  /* host level, sorted (from, to); no local edges */
	size_t nhostl;
	char **strings;             /* interned process identities */
	uint32_t nstrings;
	struct depmap_stats stats;
	int64_t since_ms;
};

/* Builds the map from the facts visible in txn (env opened with
 * store_db_names). Returns 0, -ENOMEM, or an LMDB error (eb says which DB).
 * Malformed values are counted in stats.malformed and skipped. */
int depmap_build(MDB_txn *txn, const struct db_env *env, const struct depmap_opts *opts,
		 struct depmap **out, struct errbuf *eb);
void depmap_free(struct depmap *m);

/* Node index of a host by agent id, or DEPMAP_NONE. */
uint32_t depmap_host_index(const struct depmap *m, const uint8_t id[static 32]);

/* Fills map (an initialized, empty DepMap) from m: nodes, host_edges,
 * service_edges, counters. app_of_host[i] (may be NULL) names node i's
 * application id, infra_host[i] (may be NULL) marks shared infrastructure.
 * Everything is malloc'd (free with the enclosing message's free_unpacked).
 * Returns 0 or -ENOMEM. */
int depmap_to_proto(const struct depmap *m, const char *const *app_of_host,
		    const bool *infra_host, Cairn__Store__DepMap *map);

/* Well-known service name of a port ("postgres" for 5432), or NULL. */
const char *depmap_port_label(uint32_t port);

/* True for ports of shared infrastructure (DNS, NTP, LDAP, Kerberos, syslog,
 * SNMP, monitoring agents, backup, package mirrors, proxies, ssh). */
bool depmap_port_is_infra(uint32_t port);


#endif
