/* Dependency map resolution, table-driven: loopback, own address, IPv6,
 * IPv4-mapped IPv6, a docker bridge address on several hosts, a VIP on two
 * load balancers, external endpoints, cairn's own traffic, inbound-only
 * edges and the --since filter. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "analysis_fixture.h"
#include "config.h"
#include "depmap.h"
#include "read.h"
#include "store.h"

static struct depmap *build(struct fixture *f, int64_t since_ms)
{
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f->env, &txn), 0);
	struct depmap *m = NULL;
	struct depmap_opts o = { .since_ms = since_ms };
	struct errbuf eb = { { 0 } };
	cr_assert_eq(depmap_build(txn, &f->env, &o, &m, &eb), 0, "%s", eb.msg);
	db_read_end(&f->env, txn);
	return m;
}

static uint32_t host(const struct depmap *m, uint8_t n)
{
	uint8_t id[32];
	fixture_id(id, n);
	uint32_t i = depmap_host_index(m, id);
	cr_assert_neq(i, DEPMAP_NONE, "host %u not in the map", n);
	return i;
}

/* The service edge from host c with client identity ident, or NULL. */
static const struct depmap_edge *svc_from(const struct depmap *m, uint32_t c, const char *ident)
{
	for (size_t i = 0; i < m->nsvc; i++)
		if (m->svc[i].from == c && m->svc[i].from_ident != DEPMAP_NONE &&
		    !strcmp(m->strings[m->svc[i].from_ident], ident))
			return &m->svc[i];
	return NULL;
}

static bool host_edge(const struct depmap *m, uint32_t a, uint32_t b)
{
	for (size_t i = 0; i < m->nhostl; i++)
		if (m->hostl[i].from == a && m->hostl[i].to == b)
			return true;
	return false;
}

enum expect { TO_SELF, TO_HOST, TO_EXTERNAL, TO_AMBIGUOUS };

struct resolution_case {
	const char *what;
	const char *raddr;       /* where client host 1 connects */
	uint32_t port;
	int server;              /* host expected (TO_HOST), and that reports inbound (>0) */
	bool server_inbound;     /* the server reported the inbound edge */
	enum expect expect;
	bool confirmed;
	const char *node_name;   /* expected node name for externals */
};

/* Hosts: 1 client (10.0.0.1, fd00::1, docker 172.17.0.1), 2 server
 * (10.0.0.2, fd00::2, docker 172.17.0.1), 3 another docker host
 * (10.0.0.3, docker 172.17.0.1), 4 and 5 load balancers sharing VIP
 * 10.0.0.100, 6 a host without docker (10.0.0.6). */
static void estate(struct fixture *f)
{
	fixture_host(f, 1, "client", (const char *[]){ "10.0.0.1", "fd00::1", "172.17.0.1!v", NULL });
	fixture_host(f, 2, "server", (const char *[]){ "10.0.0.2", "fd00::2", "172.17.0.1!v", NULL });
	fixture_host(f, 3, "docker3", (const char *[]){ "10.0.0.3", "172.17.0.1!v", NULL });
	fixture_host(f, 4, "lb-01", (const char *[]){ "10.0.0.4", "10.0.0.100", NULL });
	fixture_host(f, 5, "lb-02", (const char *[]){ "10.0.0.5", "10.0.0.100", NULL });
	fixture_host(f, 6, "plain", (const char *[]){ "10.0.0.6", NULL });
}

static const struct resolution_case cases[] = {
	{ "loopback stays on the host", "127.0.0.1", 6379, 0, false, TO_SELF, false, NULL },
	{ "own address stays on the host", "10.0.0.1", 8080, 0, false, TO_SELF, false, NULL },
	{ "own docker bridge stays on the host", "172.17.0.1", 9901, 0, false, TO_SELF, false, NULL },
	{ "IPv4 to the one claimant", "10.0.0.2", 5432, 2, true, TO_HOST, true, NULL },
	{ "IPv4, server silent: unconfirmed", "10.0.0.2", 5433, 2, false, TO_HOST, false, NULL },
	{ "IPv6", "fd00::2", 443, 2, true, TO_HOST, true, NULL },
	{ "IPv4-mapped IPv6", "::ffff:10.0.0.2", 3306, 2, true, TO_HOST, true, NULL },
	{ "VIP on two balancers: the one that saw us", "10.0.0.100", 443, 5, true, TO_HOST, true,
	  NULL },
	{ "VIP, nobody saw us: ambiguous", "10.0.0.100", 8443, 0, false, TO_AMBIGUOUS, false,
	  "https 10.0.0.100 (ambiguous)" },
	{ "external, labelled by port", "52.1.2.3", 5432, 0, false, TO_EXTERNAL, false,
	  "postgres 52.1.2.3" },
	{ "external IPv6", "2001:db8::7", 443, 0, false, TO_EXTERNAL, false, "https 2001:db8::7" },
	{ "external, unknown port", "52.1.2.4", 12345, 0, false, TO_EXTERNAL, false,
	  "52.1.2.4:12345" },
};

Test(depmap, resolution_table)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	char ident[ARRAY_SIZE(cases)][32];
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct resolution_case *c = &cases[i];
		snprintf(ident[i], sizeof(ident[i]), "client-%zu", i);
		fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, ident[i], c->raddr, c->port, NULL);
		if (c->server_inbound)
			fixture_edge(&f, (uint8_t)c->server, 0, CAIRN__DIRECTION__INBOUND, "srv",
				     strchr(c->raddr, ':') && strncmp(c->raddr, "::ffff:", 7) ? "fd00::1"
											   : "10.0.0.1",
				     c->port, NULL);
	}
	struct depmap *m = build(&f, 0);
	uint32_t client = host(m, 1);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct resolution_case *c = &cases[i];
		const struct depmap_edge *e = svc_from(m, client, ident[i]);
		cr_assert_not_null(e, "%s: no edge", c->what);
		switch (c->expect) {
		case TO_SELF:
			cr_expect_eq(e->to, client, "%s", c->what);
			cr_expect(e->local, "%s: not local", c->what);
			break;
		case TO_HOST:
			cr_expect_eq(e->to, host(m, (uint8_t)c->server), "%s: resolved to node %u",
				     c->what, e->to);
			cr_expect_eq(e->confirmed, c->confirmed, "%s: confirmed", c->what);
			cr_expect(host_edge(m, client, e->to), "%s: no host-level edge", c->what);
			if (c->confirmed)
				cr_expect_str_eq(m->strings[e->to_ident], "srv", "%s", c->what);
			break;
		case TO_EXTERNAL:
		case TO_AMBIGUOUS:
			cr_expect_geq(e->to, m->nhosts, "%s: resolved to a host", c->what);
			cr_expect_eq(m->nodes[e->to].kind,
				     c->expect == TO_EXTERNAL ? CAIRN__STORE__NODE_KIND__EXTERNAL
							      : CAIRN__STORE__NODE_KIND__AMBIGUOUS,
				     "%s: kind", c->what);
			cr_expect_str_eq(m->nodes[e->to].name, c->node_name, "%s", c->what);
			break;
		}
	}
	/* local dependencies are not drawn at host level */
	cr_expect_not(host_edge(m, client, client));
	cr_expect_eq(m->stats.ambiguous, 1);
	cr_expect_eq(m->stats.unresolved, 3);
	depmap_free(m);
	fixture_close(&f);
}

Test(depmap, shared_docker_bridge_from_another_host)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	/* plain host 6 reaches 172.17.0.1:6379: three hosts claim it; host 3
	 * saw the connection from 10.0.0.6 */
	fixture_conn(&f, 6, "10.0.0.6", "app", 3, "172.17.0.1", "redis-server", 6379);
	/* and 172.17.0.1:7000 that nobody saw and nobody listens on */
	fixture_edge(&f, 6, 0, CAIRN__DIRECTION__OUTBOUND, "app2", "172.17.0.1", 7000, NULL);
	struct depmap *m = build(&f, 0);
	const struct depmap_edge *e = svc_from(m, host(m, 6), "app");
	cr_assert_not_null(e);
	cr_expect_eq(e->to, host(m, 3));
	cr_expect(e->confirmed);
	e = svc_from(m, host(m, 6), "app2");
	cr_assert_not_null(e);
	cr_expect_eq(m->nodes[e->to].kind, CAIRN__STORE__NODE_KIND__AMBIGUOUS);
	cr_expect_str_eq(m->nodes[e->to].id, "amb:172.17.0.1");
	depmap_free(m);
	fixture_close(&f);
}

Test(depmap, local_edges_self_traffic_and_inbound_only)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__LOCAL, "java:App", NULL, 11211, "memcached");
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__OUTBOUND, "cairn-agent", "10.9.9.9", 7415, NULL);
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__OUTBOUND, "/usr/sbin/cairn-agent", "10.0.0.6",
		     7415, NULL);
	fixture_edge(&f, 6, 0, CAIRN__DIRECTION__INBOUND, "cairn-collecto", "10.0.0.2", 7415, NULL);
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__OUTBOUND, "", "10.0.0.6", 7415, NULL);
	/* host 6 saw host 1 connect on 5432; host 1 reported nothing */
	fixture_edge(&f, 6, 0, CAIRN__DIRECTION__INBOUND, "postgres", "10.0.0.1", 5432, NULL);
	struct depmap *m = build(&f, 0);
	const struct depmap_edge *e = svc_from(m, host(m, 2), "java:App");
	cr_assert_not_null(e);
	cr_expect(e->local);
	cr_expect_str_eq(m->strings[e->to_ident], "memcached");
	cr_expect_eq(m->stats.self_traffic, 4);
	cr_expect_null(svc_from(m, host(m, 2), "cairn-agent"));
	cr_expect(host_edge(m, host(m, 1), host(m, 6)));
	cr_expect_eq(m->stats.inbound_only, 1);
	for (size_t i = 0; i < m->nsvc; i++)
		if (m->svc[i].from == host(m, 1) && m->svc[i].to == host(m, 6))
			cr_expect_not(m->svc[i].confirmed);
	depmap_free(m);
	fixture_close(&f);
}

/* Frees what depmap_to_proto filled into a DepMap on the stack. */
static void map_members_free(Cairn__Store__DepMap *pm)
{
	for (size_t i = 0; i < pm->n_nodes; i++)
		cairn__store__map_node__free_unpacked(pm->nodes[i], NULL);
	for (size_t i = 0; i < pm->n_host_edges; i++)
		cairn__store__map_edge__free_unpacked(pm->host_edges[i], NULL);
	for (size_t i = 0; i < pm->n_service_edges; i++)
		cairn__store__map_edge__free_unpacked(pm->service_edges[i], NULL);
	free(pm->nodes);
	free(pm->host_edges);
	free(pm->service_edges);
}

static uint32_t node_by_id(const struct depmap *m, const char *id)
{
	for (uint32_t i = 0; i < m->nnodes; i++)
		if (!strcmp(m->nodes[i].id, id))
			return i;
	return DEPMAP_NONE;
}

/* Users and partner systems without an agent are drawn: one node per
 * subnet (/24, /64) with the number of addresses, an edge to the server
 * process at service level and to the host at host level. */
Test(depmap, outside_clients_grouped_by_subnet)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	const char *users[] = { "203.0.113.5", "203.0.113.9", "203.0.113.5", "198.51.100.7",
				"2001:db8:1:2::10", "2001:db8:1:2::11" };
	for (size_t i = 0; i < ARRAY_SIZE(users); i++)
		fixture_edge(&f, 2, (uint32_t)(i % 2), CAIRN__DIRECTION__INBOUND, "nginx", users[i],
			     443, NULL);
	fixture_edge(&f, 6, 0, CAIRN__DIRECTION__INBOUND, "sshd", "203.0.113.200", 22, NULL);
	/* an agent host's address is no outside client */
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__INBOUND, "nginx", "10.0.0.6", 443, NULL);
	struct depmap *m = build(&f, 0);
	uint32_t web = node_by_id(m, "cli:203.0.113.0/24");
	cr_assert_neq(web, DEPMAP_NONE);
	cr_expect_eq(m->nodes[web].kind, CAIRN__STORE__NODE_KIND__CLIENTS);
	cr_expect_eq(m->nodes[web].clients, 3, "203.0.113.5, .9 and .200");
	cr_expect_str_eq(m->nodes[web].name, "outside clients 203.0.113.0/24 (3 addresses)");
	uint32_t one = node_by_id(m, "cli:198.51.100.0/24");
	cr_assert_neq(one, DEPMAP_NONE);
	cr_expect_str_eq(m->nodes[one].name, "outside clients 198.51.100.0/24 (1 address)");
	uint32_t v6 = node_by_id(m, "cli:2001:db8:1:2::/64");
	cr_assert_neq(v6, DEPMAP_NONE);
	cr_expect_eq(m->nodes[v6].clients, 2);
	cr_expect(host_edge(m, web, host(m, 2)), "host level: clients -> server host");
	cr_expect(host_edge(m, web, host(m, 6)), "one subnet node for every server it reaches");
	cr_expect(host_edge(m, v6, host(m, 2)));
	bool svc = false;
	for (size_t i = 0; i < m->nsvc; i++)
		if (m->svc[i].from == web && m->svc[i].to == host(m, 2)) {
			svc = true;
			cr_expect_str_eq(m->strings[m->svc[i].to_ident], "nginx");
			cr_expect_eq(m->svc[i].port, 443);
			cr_expect_eq(m->svc[i].samples, 30, "the three edges of the subnet summed");
		}
	cr_expect(svc, "service level: clients -> nginx");
	cr_expect(host_edge(m, host(m, 6), host(m, 2)), "an agent's address stays an agent host");
	cr_expect_eq(m->stats.outside_clients, 6, "one per (address, server process)");
	/* they are not hosts: grouping and the proto keep them apart */
	cr_expect_geq(web, m->nhosts);
	Cairn__Store__DepMap pm = CAIRN__STORE__DEP_MAP__INIT;
	cr_assert_eq(depmap_to_proto(m, NULL, NULL, &pm), 0);
	bool found = false;
	for (size_t i = 0; i < pm.n_nodes; i++)
		if (!strcmp(pm.nodes[i]->id, "cli:203.0.113.0/24")) {
			found = true;
			cr_expect_eq(pm.nodes[i]->client_addresses, 3);
			cr_expect_eq(pm.nodes[i]->kind, CAIRN__STORE__NODE_KIND__CLIENTS);
		}
	cr_expect(found);
	cr_expect_eq(pm.outside_clients, 6);
	map_members_free(&pm);
	depmap_free(m);
	fixture_close(&f);
}

/* A host-level edge carries every protocol and port between its ends, the
 * busiest port's protocol as its own; a program's loopback pair with itself
 * is no dependency. */
Test(depmap, host_edge_protocols_ports_and_own_loopback)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	fixture_edge_proto(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, CAIRN__PROTOCOL__UDP, "app",
			   "10.0.0.6", 514, NULL);
	fixture_edge_proto(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, CAIRN__PROTOCOL__TCP, "app",
			   "10.0.0.6", 5432, NULL);
	fixture_edge_proto(&f, 1, 1, CAIRN__DIRECTION__OUTBOUND, CAIRN__PROTOCOL__TCP, "app",
			   "10.0.0.6", 5432, NULL);
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__LOCAL, "java:App", NULL, 8080, "java:App");
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__OUTBOUND, "java:App", "127.0.0.1", 8080, NULL);
	fixture_edge(&f, 2, 0, CAIRN__DIRECTION__LOCAL, "java:App", NULL, 11211, "memcached");
	struct depmap *m = build(&f, 0);
	const struct depmap_edge *he = NULL;
	for (size_t i = 0; i < m->nhostl; i++)
		if (m->hostl[i].from == host(m, 1) && m->hostl[i].to == host(m, 6))
			he = &m->hostl[i];
	cr_assert_not_null(he);
	cr_expect_eq(he->nports, 2);
	cr_expect_eq(he->ports[0], 514);
	cr_expect_eq(he->ports[1], 5432);
	cr_expect_eq(he->port, 5432, "the busiest port");
	cr_expect_eq(he->proto, CAIRN__PROTOCOL__TCP, "the busiest port's protocol");
	cr_expect_eq(he->protos, (1u << CAIRN__PROTOCOL__TCP) | (1u << CAIRN__PROTOCOL__UDP));
	Cairn__Store__DepMap pm = CAIRN__STORE__DEP_MAP__INIT;
	cr_assert_eq(depmap_to_proto(m, NULL, NULL, &pm), 0);
	bool seen = false;
	for (size_t i = 0; i < pm.n_host_edges; i++) {
		const Cairn__Store__MapEdge *e = pm.host_edges[i];
		if (e->n_ports == 2) {
			seen = true;
			cr_expect_eq(e->n_protocols, 2);
			cr_expect_eq(e->protocols[0], CAIRN__PROTOCOL__TCP);
			cr_expect_eq(e->protocols[1], CAIRN__PROTOCOL__UDP);
		}
	}
	cr_expect(seen);
	map_members_free(&pm);
	size_t own = 0, memc = 0;
	for (size_t i = 0; i < m->nsvc; i++) {
		const struct depmap_edge *e = &m->svc[i];
		if (e->from != host(m, 2) || e->to_ident == DEPMAP_NONE)
			continue;
		own += !strcmp(m->strings[e->to_ident], "java:App");
		memc += !strcmp(m->strings[e->to_ident], "memcached");
	}
	cr_expect_eq(own, 0, "java:App talking to its own port is not a dependency");
	cr_expect_eq(memc, 1, "a loopback edge to another program stays");
	cr_expect_eq(m->stats.own_loopback, 1);
	depmap_free(m);
	fixture_close(&f);
}

Test(depmap, days_merge_and_since_filter)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "old", "10.0.0.2", 80, NULL);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "both", "10.0.0.2", 81, NULL);
	fixture_edge(&f, 1, 2, CAIRN__DIRECTION__OUTBOUND, "both", "10.0.0.2", 81, NULL);
	struct depmap *m = build(&f, 0);
	const struct depmap_edge *e = svc_from(m, host(m, 1), "both");
	cr_assert_not_null(e);
	cr_expect_eq(e->samples, 20, "two days of 10 samples: %llu", (unsigned long long)e->samples);
	cr_expect_not_null(svc_from(m, host(m, 1), "old"));
	depmap_free(m);
	m = build(&f, f.day0_ms + STORE_DAY_MS);
	cr_expect_null(svc_from(m, host(m, 1), "old"));
	e = svc_from(m, host(m, 1), "both");
	cr_assert_not_null(e);
	cr_expect_eq(e->samples, 10);
	depmap_free(m);
	fixture_close(&f);
}

Test(depmap, bytes_unknown_only_when_no_record_had_counters)
{
	/* Agents on kernels before 4.1 (RHEL 7) report edges without byte
	 * counters: the map must say "unknown", not 0 bytes, until some window
	 * of the same edge brings counters. */
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	f.edge_bytes_unknown = true;
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "old-kernel", "10.0.0.2", 80, NULL);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "mixed", "10.0.0.2", 81, NULL);
	f.edge_bytes_unknown = false;
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "mixed", "10.0.0.2", 81, NULL); /* same day */
	fixture_edge(&f, 1, 1, CAIRN__DIRECTION__OUTBOUND, "later", "10.0.0.2", 82, NULL);
	f.edge_bytes_unknown = true;
	fixture_edge(&f, 1, 2, CAIRN__DIRECTION__OUTBOUND, "later", "10.0.0.2", 82, NULL); /* next day */
	struct depmap *m = build(&f, 0);
	const struct depmap_edge *e = svc_from(m, host(m, 1), "old-kernel");
	cr_assert_not_null(e);
	cr_expect_not(e->bytes_known);
	cr_expect_eq(e->bytes, 0);
	e = svc_from(m, host(m, 1), "mixed");
	cr_assert_not_null(e);
	cr_expect(e->bytes_known, "one window of the day had counters");
	cr_expect_eq(e->bytes, 1000);
	e = svc_from(m, host(m, 1), "later");
	cr_assert_not_null(e);
	cr_expect(e->bytes_known, "one day had counters");
	cr_expect(host_edge(m, host(m, 1), host(m, 2)));
	depmap_free(m);
	fixture_close(&f);
}

Test(depmap, addresses_and_ports)
{
	uint8_t a[16], b[16];
	cr_assert_eq(addr_parse("10.1.2.3", a), 0);
	cr_assert_eq(addr_parse("::ffff:10.1.2.3", b), 0);
	cr_expect_eq(memcmp(a, b, 16), 0);
	cr_assert_eq(addr_parse("[fe80::1%eth0]", a), 0);
	cr_assert_eq(addr_parse("[::ffff:10.1.2.3]", a), 0);
	cr_expect_eq(memcmp(a, b, 16), 0);
	cr_assert_eq(addr_parse("fe80::1%eth0", a), 0);
	cr_expect_neq(addr_parse("not-an-address", a), 0);
	cr_expect_neq(addr_parse("", a), 0);
	cr_assert_eq(addr_parse("::1", a), 0);
	cr_expect(addr_is_loopback(a));
	cr_assert_eq(addr_parse("127.8.9.10", a), 0);
	cr_expect(addr_is_loopback(a));
	char text[64];
	addr_format(b, text, sizeof(text));
	cr_expect_str_eq(text, "10.1.2.3");
	cr_expect_str_eq(depmap_port_label(5432), "postgres");
	cr_expect_str_eq(depmap_port_label(11211), "memcached");
	cr_expect_null(depmap_port_label(12345));
	cr_expect(depmap_port_is_infra(53));
	cr_expect(depmap_port_is_infra(10050));
	cr_expect_not(depmap_port_is_infra(5432));
}

/* The labels people read are the shipped, sourced table's: the common
 * ports the issue named, and every row of data/ports.csv as written. */
Test(depmap, port_table_is_the_shipped_one)
{
	static const struct { uint32_t port; const char *label; bool infra; } want[] = {
		{ 53, "dns", true },		{ 88, "kerberos", true },
		{ 123, "ntp", true },		{ 161, "snmp", true },
		{ 389, "ldap", true },		{ 514, "syslog", true },
		{ 636, "ldaps", true },		{ 1433, "mssql", false },
		{ 1521, "oracle", false },	{ 1883, "mqtt", false },
		{ 2181, "zookeeper", false },	{ 3306, "mysql", false },
		{ 5432, "postgres", false },	{ 5672, "amqp", false },
		{ 6379, "redis", false },	{ 8883, "mqtts", false },
		{ 9090, "prometheus", true },	{ 9092, "kafka", false },
		{ 9100, "node-exporter", true }, { 9200, "elasticsearch", false },
		{ 11211, "memcached", false },	{ 27017, "mongodb", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const char *l = depmap_port_label(want[i].port);
		cr_assert_not_null(l, "port %u has no label", want[i].port);
		cr_expect_str_eq(l, want[i].label, "port %u", want[i].port);
		cr_expect_eq(depmap_port_is_infra(want[i].port), want[i].infra, "port %u infra",
			     want[i].port);
	}
	cr_expect_null(depmap_port_label(3000), "dev-server ports stay numbers");
	const char *csv = getenv("CAIRN_PORTS_CSV");
	cr_assert_not_null(csv, "CAIRN_PORTS_CSV names data/ports.csv");
	FILE *f = fopen(csv, "r");
	cr_assert_not_null(f, "%s", csv);
	char line[512];
	bool header = true, dated = false;
	size_t rows = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#') {
			dated |= strstr(line, "as_of: ") != NULL;
			continue;
		}
		if (header) {
			header = false;
			continue;
		}
		char *save, *port = strtok_r(line, ",", &save), *label = strtok_r(NULL, ",", &save),
			    *infra = strtok_r(NULL, ",", &save);
		cr_assert(port && label && infra);
		const char *got = depmap_port_label((uint32_t)atoi(port));
		cr_assert_not_null(got, "port %s of ports.csv is not in the table", port);
		cr_expect_str_eq(got, label, "port %s", port);
		cr_expect_eq(depmap_port_is_infra((uint32_t)atoi(port)), !strcmp(infra, "yes"));
		rows++;
	}
	fclose(f);
	cr_expect(dated, "ports.csv states its date");
	cr_expect_geq(rows, 100);
}

static int put_garbage(MDB_txn *txn, void *arg)
{
	const struct db_env *env = arg;
	uint8_t key[44];
	memset(key, 1, 32); /* host 1 */
	memset(key + 32, 0, 12);
	key[35] = 1;
	MDB_val k = { sizeof(key), key }, v = { 5, (void *)"\xff\xff\xff\xff\xff" };
	int rc = mdb_put(txn, env->dbi[STORE_EDGES], &k, &v, 0);
	MDB_val k2 = { 7, (void *)"short!!" };
	return rc ? rc : mdb_put(txn, env->dbi[STORE_EDGES], &k2, &v, 0);
}

Test(depmap, bad_values_are_counted_and_skipped)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "good", "10.0.0.2", 5432, NULL);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "bad-address", "10.0.0.999", 5432,
		     NULL);
	cr_assert_eq(db_write(&f.env, put_garbage, &f.env), 0);
	struct depmap *m = build(&f, 0);
	/* the undecodable value and the bad address; the short key names no
	 * agent, and the map reads each listed agent's keys only */
	cr_expect_eq(m->stats.malformed, 2, "malformed %llu",
		     (unsigned long long)m->stats.malformed);
	cr_expect_not_null(svc_from(m, host(m, 1), "good"));
	cr_expect_null(svc_from(m, host(m, 1), "bad-address"));
	depmap_free(m);
	fixture_close(&f);
}

/* The collector's side names cairn's own traffic when the agent's client
 * socket has no owner any more (closed by the agent, still in FIN_WAIT): the
 * anonymous client is left out because the server identity is
 * cairn-collector, on a port other than the default, whether that identity
 * comes from the confirming inbound edge or from the listener alone. */
Test(depmap, ownerless_client_to_collector_is_self_traffic)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	fixture_conn(&f, 2, "10.0.0.2", "", 6, "10.0.0.6", "cairn-collector", 7500);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "", "10.0.0.6", 7500, NULL);
	/* an agent on the collector's own host: same-host, both ends unknown,
	 * the default port (LOCAL edges carry it as the remote port) */
	fixture_edge(&f, 6, 0, CAIRN__DIRECTION__LOCAL, "", NULL, COLLECTOR_DEFAULT_PORT, NULL);
	/* the same ownerless client to a real service stays in the map */
	fixture_conn(&f, 2, "10.0.0.2", "", 6, "10.0.0.6", "postgres", 5432);
	struct depmap *m = build(&f, 0);
	for (size_t i = 0; i < m->nsvc; i++)
		cr_expect_not(m->svc[i].port == 7500, "cairn's own edge %u -> %u kept",
			      m->svc[i].from, m->svc[i].to);
	for (size_t i = 0; i < m->nsvc; i++)
		cr_expect_not(m->svc[i].local && m->svc[i].port == COLLECTOR_DEFAULT_PORT,
			      "cairn's same-host edge kept");
	cr_expect_eq(m->stats.self_traffic, 4, "self traffic %llu",
		     (unsigned long long)m->stats.self_traffic);
	cr_expect_not(host_edge(m, host(m, 1), host(m, 6)));
	cr_expect(host_edge(m, host(m, 2), host(m, 6)));
	depmap_free(m);
	fixture_close(&f);
}

/* A host with 20,000 listeners (a mail or media server, a port range): its
 * ListenerSet unpacks into more than the loader's first arena and must
 * still name the server of an unconfirmed edge, not count as damage. */
static int put_big_listener_set(MDB_txn *txn, void *arg)
{
	const struct db_env *env = arg;
	enum { N = 20000 };
	Cairn__Listener *ls = calloc(N, sizeof(*ls));
	Cairn__Listener **lp = calloc(N, sizeof(*lp));
	cr_assert(ls && lp);
	for (size_t i = 0; i < N; i++) {
		cairn__listener__init(&ls[i]);
		ls[i].protocol = CAIRN__PROTOCOL__TCP;
		ls[i].address = "0.0.0.0";
		ls[i].port = (uint32_t)(20000 + i);
		ls[i].process_name = ls[i].identity = "media-relay";
		lp[i] = &ls[i];
	}
	ls[N - 1].port = 5432;
	ls[N - 1].process_name = ls[N - 1].identity = "postgres";
	Cairn__ListenerSet set = CAIRN__LISTENER_SET__INIT;
	set.listeners = lp;
	set.n_listeners = N;
	size_t len = cairn__listener_set__get_packed_size(&set);
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	cairn__listener_set__pack(&set, buf);
	uint8_t key[32];
	fixture_id(key, 2);
	MDB_val k = { 32, key }, v = { len, buf };
	int rc = mdb_put(txn, env->dbi[STORE_LISTENERS], &k, &v, 0);
	free(buf);
	free(lp);
	free(ls);
	return rc;
}

Test(depmap, large_listener_set_names_the_server)
{
	struct fixture f;
	fixture_open(&f);
	estate(&f);
	cr_assert_eq(db_write(&f.env, put_big_listener_set, &f.env), 0);
	fixture_edge(&f, 1, 0, CAIRN__DIRECTION__OUTBOUND, "app", "10.0.0.2", 5432, NULL);
	struct depmap *m = build(&f, 0);
	cr_expect_eq(m->stats.malformed, 0, "malformed %llu", (unsigned long long)m->stats.malformed);
	const struct depmap_edge *e = svc_from(m, host(m, 1), "app");
	cr_assert_not_null(e);
	cr_expect_eq(e->to, host(m, 2));
	cr_assert_neq(e->to_ident, DEPMAP_NONE, "listener not found");
	cr_expect_str_eq(m->strings[e->to_ident], "postgres");
	depmap_free(m);
	fixture_close(&f);
}

static struct depmap *build_days(struct fixture *f, int64_t since_ms, bool days_only)
{
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f->env, &txn), 0);
	struct depmap *m = NULL;
	struct depmap_opts o = { .since_ms = since_ms, .days_only = days_only };
	struct errbuf eb = { { 0 } };
	cr_assert_eq(depmap_build(txn, &f->env, &o, &m, &eb), 0, "%s", eb.msg);
	db_read_end(&f->env, txn);
	return m;
}

static const char *ident_name(const struct depmap *m, uint32_t ident)
{
	return ident == DEPMAP_NONE ? "" : m->strings[ident];
}

static void same_edges(const struct depmap *mw, const struct depmap *md, bool hostl,
		       int64_t since)
{
	const char *level = hostl ? "host" : "service";
	size_t n = hostl ? mw->nhostl : mw->nsvc;
	for (size_t i = 0; i < n; i++) {
		const struct depmap_edge *x = hostl ? &mw->hostl[i] : &mw->svc[i];
		const struct depmap_edge *y = hostl ? &md->hostl[i] : &md->svc[i];
		cr_assert(x->from == y->from && x->to == y->to && x->port == y->port &&
				  x->proto == y->proto && x->local == y->local &&
				  !strcmp(ident_name(mw, x->from_ident), ident_name(md, y->from_ident)) &&
				  !strcmp(ident_name(mw, x->to_ident), ident_name(md, y->to_ident)),
			  "%s edge %zu (since %lld) is another edge", level, i, (long long)since);
		cr_assert(x->samples == y->samples && x->bytes == y->bytes &&
				  x->connections == y->connections && x->first_ms == y->first_ms &&
				  x->last_ms == y->last_ms && x->bytes_known == y->bytes_known &&
				  x->confirmed == y->confirmed && x->nports == y->nports,
			  "%s edge %zu (since %lld): counters differ (samples %llu / %llu)", level,
			  i, (long long)since, (unsigned long long)x->samples,
			  (unsigned long long)y->samples);
	}
}

/* Over any period the map from week rollups (whole weeks) and day records
 * (the rest) is the map from day records alone: the same edges, in the same
 * order, with the same counters and first/last seen. */
Test(depmap, week_rollups_give_the_days_answer)
{
	struct fixture f;
	fixture_open(&f);
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(f.env.env, NULL, 0, &txn), 0);
	cr_assert_eq(store_weeks_mark(txn, &f.env, time_now_ms()), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	estate(&f);
	f.day0_ms = (time_now_ms() / STORE_DAY_MS - 30) * STORE_DAY_MS;
	static const char *const idents[] = { "java", "python3 /srv/a.py", "nginx", "psql" };
	static const char *const addrs[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3",
					     "10.0.0.100", "10.0.0.6", "192.0.2.7" };
	uint64_t rng = 12345;
	for (uint32_t day = 0; day < 30; day++)
		for (int k = 0; k < 12; k++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			uint32_t r = (uint32_t)(rng >> 33);
			if (r % 3 == 0)
				continue; /* not every edge every day */
			uint8_t c = (uint8_t)(1 + r % 6);
			const char *to = addrs[(r >> 3) % 6];
			uint32_t port = (r >> 6) % 2 ? 5432 : 443;
			const char *id = idents[(r >> 8) % 4];
			fixture_edge(&f, c, day, CAIRN__DIRECTION__OUTBOUND, id, to, port, NULL);
			if (!strncmp(to, "10.0.0.", 7) && strcmp(to, "10.0.0.100"))
				fixture_edge(&f, (uint8_t)(to[7] - '0'), day, CAIRN__DIRECTION__INBOUND,
					     idents[(r >> 10) % 4], addrs[c % 5], port, NULL);
		}
	int64_t H = 3600000;
	int64_t sinces[] = { 0, f.day0_ms + 3 * STORE_DAY_MS, f.day0_ms + 4 * STORE_DAY_MS + 5 * H,
			     f.day0_ms + 9 * STORE_DAY_MS + 1, f.day0_ms + 16 * STORE_DAY_MS,
			     f.day0_ms + 29 * STORE_DAY_MS };
	for (size_t i = 0; i < sizeof(sinces) / sizeof(sinces[0]); i++) {
		struct depmap *w = build_days(&f, sinces[i], false);
		struct depmap *d = build_days(&f, sinces[i], true);
		cr_assert_eq(w->nsvc, d->nsvc, "service edges since %lld: %zu, days %zu",
			     (long long)sinces[i], w->nsvc, d->nsvc);
		cr_assert_eq(w->nhostl, d->nhostl);
		cr_assert_eq(w->nnodes, d->nnodes);
		same_edges(w, d, false, sinces[i]);
		same_edges(w, d, true, sinces[i]);
		if (i < 3)
			cr_assert_lt(w->stats.edge_records, d->stats.edge_records,
				     "weeks read fewer records (%llu, days %llu)",
				     (unsigned long long)w->stats.edge_records,
				     (unsigned long long)d->stats.edge_records);
		depmap_free(w);
		depmap_free(d);
	}
	fixture_close(&f);
}

/* read_edge_view reads what protobuf-c unpacks, for every field the map and
 * the host view use, and refuses what protobuf-c refuses to decode (cut
 * values); unknown fields are skipped. */
Test(depmap, edge_view_reads_what_unpack_reads)
{
	uint64_t rng = 99;
	for (int round = 0; round < 500; round++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t r = rng >> 11;
		Cairn__Edge e = CAIRN__EDGE__INIT;
		e.direction = (Cairn__Direction)(r % 4);
		e.protocol = (Cairn__Protocol)((r >> 2) % 3);
		e.process_name = (r >> 4) & 1 ? "java" : "";
		e.identity = (r >> 5) & 1 ? "python3 /srv/app.py" : "";
		e.local_port = (uint32_t)(r >> 6) % 65536;
		e.remote_address = (r >> 7) & 1 ? "fd00::1" : "10.1.2.3";
		e.remote_port = (uint32_t)(r >> 9) % 65536;
		e.samples_seen = (uint32_t)(r >> 13);
		e.first_seen_ms = (int64_t)(r >> 3);
		e.last_seen_ms = (int64_t)(r >> 2);
		e.bytes_sent = r * 7;
		e.bytes_received = r >> 20;
		e.pid = 4242;
		e.container_id = "c0ffee";
		e.peer_process_name = (r >> 8) & 1 ? "postgres" : "";
		e.peer_identity = (r >> 10) & 1 ? "postgres: main" : "";
		e.connections_opened = r % 1000;
		e.short_lived = r % 100;
		e.datagrams_sent = r % 77;
		e.datagrams_received = r % 55;
		e.bytes_unknown = (r >> 12) & 1;
		Cairn__Store__EdgeDay ed = CAIRN__STORE__EDGE_DAY__INIT;
		ed.edge = &e;
		ed.windows = (uint32_t)(r % 300);
		uint8_t buf[1024];
		size_t n = cairn__store__edge_day__pack(&ed, buf);
		MDB_val v = { n, buf };
		struct read_edge_view w;
		cr_assert(read_edge_view(&v, &w), "round %d", round);
		Cairn__Store__EdgeDay *u = cairn__store__edge_day__unpack(NULL, n, buf);
		cr_assert_not_null(u);
		const Cairn__Edge *x = u->edge;
		cr_assert(w.has_edge && w.windows == u->windows);
		cr_assert(w.direction == (uint32_t)x->direction && w.protocol == (uint32_t)x->protocol &&
			  w.local_port == x->local_port && w.remote_port == x->remote_port);
		cr_assert(w.first_seen_ms == x->first_seen_ms && w.last_seen_ms == x->last_seen_ms &&
			  w.samples_seen == x->samples_seen && w.bytes_sent == x->bytes_sent &&
			  w.bytes_received == x->bytes_received &&
			  w.connections_opened == x->connections_opened &&
			  w.short_lived == x->short_lived && w.datagrams_sent == x->datagrams_sent &&
			  w.datagrams_received == x->datagrams_received &&
			  w.bytes_unknown == x->bytes_unknown);
		const struct read_str *vs[] = { &w.process_name, &w.identity, &w.remote_address,
						&w.peer_process_name, &w.peer_identity };
		const char *us[] = { x->process_name, x->identity, x->remote_address,
				     x->peer_process_name, x->peer_identity };
		for (size_t i = 0; i < ARRAY_SIZE(vs); i++)
			cr_assert(vs[i]->n == strlen(us[i]) &&
					  (!vs[i]->n || !memcmp(vs[i]->p, us[i], vs[i]->n)),
				  "round %d string %zu", round, i);
		/* every cut of the value: refused by both, or read by both */
		for (size_t cut = 0; cut < n; cut++) {
			MDB_val c = { cut, buf };
			Cairn__Store__EdgeDay *uc = cairn__store__edge_day__unpack(NULL, cut, buf);
			cr_assert_eq(read_edge_view(&c, &w), uc != NULL, "round %d cut %zu", round, cut);
			if (uc)
				cairn__store__edge_day__free_unpacked(uc, NULL);
		}
		cairn__store__edge_day__free_unpacked(u, NULL);
	}
}

/* The edge records of many hosts read ahead by a second thread
 * (read_edge_walk_hosts): the same records, host by host in the given order,
 * as the walk of each host alone; a callback's non-zero result stops it. */
struct walk_log {
	uint8_t (*key)[44];
	uint32_t *host;
	size_t n, cap, stop_after;
};

static int log_record(struct walk_log *l, uint32_t host, const MDB_val *k)
{
	cr_assert_eq(k->mv_size, 44);
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->key = realloc(l->key, l->cap * sizeof(*l->key));
		l->host = realloc(l->host, l->cap * sizeof(*l->host));
		cr_assert(l->key && l->host);
	}
	memcpy(l->key[l->n], k->mv_data, 44);
	l->host[l->n++] = host;
	return l->stop_after && l->n == l->stop_after ? 42 : 0;
}

static int log_host_record(void *ctx, uint32_t host, const MDB_val *k, const MDB_val *v)
{
	struct read_edge_view ev;
	cr_assert(read_edge_view(v, &ev) && ev.has_edge, "a copied value decodes");
	return log_record(ctx, host, k);
}

struct one_host {
	struct walk_log *l;
	uint32_t host;
};

static int log_one(void *ctx, const MDB_val *k, const MDB_val *v)
{
	(void)v;
	struct one_host *o = ctx;
	return log_record(o->l, o->host, k);
}

Test(depmap, edge_walk_of_many_hosts_reads_ahead_in_order)
{
	struct fixture f;
	fixture_open(&f);
	enum { HOSTS = 200 };
	uint8_t ids[HOSTS][32];
	for (unsigned h = 0; h < HOSTS; h++) {
		char name[16], addr[20];
		snprintf(name, sizeof(name), "h%03u", h);
		snprintf(addr, sizeof(addr), "10.9.%u.%u", h / 200, h % 200 + 1);
		const char *addrs[] = { addr, NULL };
		fixture_host(&f, (uint8_t)h, name, addrs);
		for (uint32_t d = 0; d < 1 + h % 9; d++)
			fixture_edge(&f, (uint8_t)h, d * 3, CAIRN__DIRECTION__OUTBOUND, "app",
				     "10.9.9.9", 5000 + h % 5, NULL);
		/* hosts listed in another order than their ids */
		fixture_id(ids[(h * 7) % HOSTS], (uint8_t)h);
	}
	MDB_txn *txn;
	cr_assert_eq(db_read_begin(&f.env, &txn), 0);
	struct walk_log serial = { 0 }, ahead = { 0 }, stopped = { .stop_after = 300 };
	struct read_edge_walk w;
	cr_assert_eq(read_edge_walk_open(&w, txn, &f.env, true), 0);
	for (uint32_t h = 0; h < HOSTS; h++) {
		struct one_host o = { &serial, h };
		cr_assert_eq(read_edge_walk_agent(&w, ids[h], f.day0_ms, log_one, &o), 0);
	}
	cr_assert_eq(read_edge_walk_hosts(&w, (const uint8_t (*)[32])ids, HOSTS, f.day0_ms,
					  log_host_record, &ahead), 0);
	cr_assert_eq(read_edge_walk_hosts(&w, (const uint8_t (*)[32])ids, HOSTS, f.day0_ms,
					  log_host_record, &stopped), 42, "the callback's result");
	read_edge_walk_close(&w);
	db_read_end(&f.env, txn);
	cr_assert_gt(serial.n, 900);
	cr_assert_eq(ahead.n, serial.n);
	for (size_t i = 0; i < serial.n; i++) {
		cr_assert_eq(ahead.host[i], serial.host[i], "record %zu", i);
		cr_assert_eq(memcmp(ahead.key[i], serial.key[i], 44), 0, "record %zu", i);
		cr_assert_eq(memcmp(ahead.key[i], ids[ahead.host[i]], 32), 0, "its host's record");
	}
	cr_assert_eq(stopped.n, 300, "nothing after the stop");
	free(serial.key), free(serial.host), free(ahead.key), free(ahead.host);
	free(stopped.key), free(stopped.host);
	fixture_close(&f);
}
