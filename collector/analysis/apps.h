/* Applications: hosts that work together, found from the dependency map,
 * then corrected by people's decisions.
 *
 * apps_compute() is a pure function of a built map (collector/analysis/depmap.h), the
 * previous snapshot's applications (for stable ids and names) and the
 * decisions (DB decisions). Steps (docs/analysis.md has the why):
 *   1. shared infrastructure: services on well-known infrastructure ports
 *      (DNS, NTP, LDAP/Kerberos, syslog, SNMP, monitoring, backup, mirrors,
 *      proxies, ssh) and services with a very wide fan-in (distinct client
 *      hosts >= max(hub_min_clients, hub_fraction x hosts)) are cut out; a host
 *      serving such a service to >= infra_min_clients hosts is listed as
 *      infrastructure, as is a host that connects to very many hosts (jump
 *      hosts, pollers);
 *   3. shared services: labels start at the estate's entry points (hosts
 *      nobody connects to: load balancers, batch hosts; those with
 *      overlapping servers together) and flow from client to server; a host
 *      reached by two labels serves several applications (a shared database
 *      or queue) and is listed as infrastructure;
 *   4. weak links: an edge whose removal leaves two parts of at least
 *      bridge_min_part hosts each (one application calling another) is cut;
 *      connected components of what remains; components above max_app_hosts are split by Louvain community
 *      detection (deterministic: fixed node order, ties to the lower index);
 *   5. ids: matched to the previous snapshot's automatic groups (before
 *      decisions; its applications for older snapshots) by largest host
 *      overlap, else "app-" + 10 hex digits of the smallest member's agent id;
 *      names: kept from the previous snapshot when matched, else the most
 *      common host-name token (covering >= half of the hosts), else the
 *      dominant service;
 *   6. decisions: APP_MERGE (subject b into value a), HOST_PIN (subject host
 *      -> value app id), APP_RENAME (subject app -> value name). */
#ifndef CAIRN_APPS_H
#define CAIRN_APPS_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "depmap.h"
#include "store.pb-c.h"
#include "util.h"

/* Longest reason kept for one host ("infrastructure: polls 10 of 10 other
 * hosts on port 9100 (node-exporter)"). */
#define APPS_WHY_MAX 200

struct apps_opts {
	double hub_fraction;        /* fan-in relative to the estate; default 0.10 */
	uint32_t hub_min_clients;   /* default 12 */
	uint32_t infra_min_clients; /* an infra-port server with this many clients is infra; 3 */
	uint32_t max_app_hosts;     /* default 40 */
	uint32_t bridge_min_part;   /* weak links between parts this big are cut; 3, 0 = off */
	double dominant_share;      /* a server reached by several applications stays with
	                               one that has this share of its traffic; 0.9 */
};

void apps_opts_default(struct apps_opts *o);

/* People's decisions about applications, as stored in DB decisions. */
struct apps_decision {
	char *subject;
	char *value;
};

struct apps_decisions {
	struct apps_decision *renames, *pins, *merges;
	size_t nrenames, npins, nmerges;
	/* imported servers' Applications column (DB imports): subject host id,
	 * value the application's name. Applied before people's pins, which win;
	 * hosts naming the same application (case-insensitive) form one group,
	 * id "imp-" + 10 hex digits of the BLAKE2b of the lower-case name. */
	struct apps_decision *imports;
	size_t nimports;
};

int apps_decisions_load(MDB_txn *txn, const struct db_env *env, struct apps_decisions *d,
			struct errbuf *eb);
void apps_decisions_free(struct apps_decisions *d);

struct apps_result {
	uint32_t nhosts;              /* = map->nhosts */
	int32_t *app_of_host;         /* index into apps, -1 none */
	bool *infra_host;
	Cairn__Store__App **apps;     /* malloc'd messages; ownership may be taken */
	size_t napps;
	Cairn__Store__AutoGroup **auto_groups; /* before decisions; same ownership */
	size_t nauto;
	uint32_t hubs, shared, bridges, louvain_splits;
};

/* prev and d may be NULL. Returns 0 or -ENOMEM. */
int apps_compute(const struct depmap *m, const struct apps_opts *o,
		 const Cairn__Store__Snapshot *prev, const struct apps_decisions *d,
		 struct apps_result *out, struct errbuf *eb);
void apps_result_free(struct apps_result *r);

/* Adjusted Rand index of two labelings of n items (1.0 = identical
 * partitions). For evaluating the grouping against a ground truth. */
double apps_adjusted_rand(const uint32_t *a, const uint32_t *b, size_t n);

/* Writes one decision (DB decisions, key kind | subject) and its audit entry
 * (DB audit: time, OS user, action, target, detail) in txn. value NULL
 * deletes the decision (e.g. unpin). */
int apps_decision_put(MDB_txn *txn, const struct db_env *env, Cairn__Store__DecisionKind kind,
		      const char *subject, const char *value, const char *action,
		      int64_t now_ms, struct errbuf *eb);

#endif
