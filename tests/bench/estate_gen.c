#include "estate_gen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ingest.h"
#include "store.h"
#include "store.pb-c.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}

static bool rng_chance(uint64_t *s, unsigned pct)
{
	return rng_next(s) % 100 < pct;
}

void estate_gen_addr(uint32_t a, char *out, size_t n)
{
	snprintf(out, n, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static const char *const words[] = {
	"shop", "billing", "crm", "payroll", "hr", "wiki", "ledger", "orders", "catalog",
	"search", "booking", "claims", "portal", "intranet", "tickets", "reports", "fleet",
	"inventory", "loyalty", "pricing", "quotes", "docs", "lims", "mes", "erp", "pos",
	"warehouse", "logistics", "invoices", "timesheet", "survey", "learning", "market",
	"assets", "gis", "parking", "permits", "grants", "alumni", "library",
};

struct builder {
	struct estate_gen *e;
	size_t hosts_cap, conns_cap;
	uint64_t rng;
	uint32_t next_addr;
	uint32_t next_vip;
	uint32_t next_ext;
};

static int add_host(struct builder *b, const char *name, const char *role, uint32_t truth,
		    uint32_t *out)
{
	struct estate_gen *e = b->e;
	if (e->nhosts == b->hosts_cap) {
		size_t nc = b->hosts_cap ? b->hosts_cap * 2 : 64;
		struct estate_gen_host *nh = realloc(e->hosts, nc * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		e->hosts = nh;
		b->hosts_cap = nc;
	}
	struct estate_gen_host *h = &e->hosts[e->nhosts];
	memset(h, 0, sizeof(*h));
	uint8_t seed[32];
	for (int i = 0; i < 4; i++) {
		uint64_t r = rng_next(&b->rng);
		memcpy(seed + 8 * i, &r, 8);
	}
	crypto_sign_seed_keypair(h->pk, h->sk, seed);
	str_copy(h->name, name, sizeof(h->name));
	h->role = role;
	h->truth = truth;
	h->addr = b->next_addr++;
	*out = e->nhosts++;
	return 0;
}

static int add_conn(struct builder *b, uint32_t client, uint32_t server, uint16_t port,
		    uint8_t proto, uint8_t via, const char *cid, const char *sid)
{
	struct estate_gen *e = b->e;
	if (e->nconns == b->conns_cap) {
		size_t nc = b->conns_cap ? b->conns_cap * 2 : 256;
		struct estate_gen_conn *n2 = realloc(e->conns, nc * sizeof(*n2));
		if (!n2)
			return -ENOMEM;
		e->conns = n2;
		b->conns_cap = nc;
	}
	struct estate_gen_conn *c = &e->conns[e->nconns++];
	memset(c, 0, sizeof(*c));
	c->client = client;
	c->server = server;
	c->port = port;
	c->proto = proto;
	c->via = via;
	c->client_ident = cid;
	c->server_ident = sid;
	if (via == 3)
		c->ext_addr = b->next_ext++;
	return 0;
}

/* Strings the conns point at, owned by the estate. */
static int keep_string(struct estate_gen *e, char *s)
{
	char **n2 = realloc(e->strings, (e->nstrings + 1) * sizeof(char *));
	if (!n2)
		return -ENOMEM;
	e->strings = n2;
	e->strings[e->nstrings++] = s;
	return 0;
}

#define TCP CAIRN__PROTOCOL__TCP
#define UDP CAIRN__PROTOCOL__UDP

struct pool {
	uint32_t *h;
	uint32_t n;
};

static int pool_make(struct builder *b, struct pool *p, uint32_t n, const char *stem,
		     const char *role)
{
	p->h = calloc(n, sizeof(uint32_t));
	p->n = n;
	if (!p->h)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s-%02u", stem, i + 1);
		int rc = add_host(b, name, role, ESTATE_GEN_INFRA, &p->h[i]);
		if (rc)
			return rc;
	}
	return 0;
}

int estate_gen_build(const struct estate_gen_spec *spec, struct estate_gen **out)
{
	*out = NULL;
	if (sodium_init() < 0)
		return -EIO;
	struct estate_gen *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->spec = *spec;
	if (!e->spec.days)
		e->spec.days = 1;
	if (!e->spec.start_ms) {
		int64_t now = time_now_ms();
		e->spec.start_ms = (now / STORE_DAY_MS - 30) * STORE_DAY_MS;
	}
	struct builder b = { .e = e, .rng = spec->seed * 2654435761u + 17 };
	b.next_addr = (10u << 24) | (1u << 16) | 10;    /* 10.1.0.10 ... */
	b.next_vip = (10u << 24) | (250u << 16) | 1;    /* 10.250.0.1 ... */
	b.next_ext = (52u << 24) | (10u << 16) | 1;     /* 52.10.0.1 ... SaaS */
	e->collector_addr = (10u << 24) | (200u << 16) | 5;
	uint32_t n = spec->hosts < 20 ? 20 : spec->hosts;
	int rc;

	/* infrastructure: >= 5 % of the estate */
	struct pool dns = { 0 }, ntp = { 0 }, ldap = { 0 }, sysl = { 0 }, mon = { 0 }, bak = { 0 },
		    mirror = { 0 }, proxy = { 0 }, jump = { 0 }, shdb = { 0 }, mq = { 0 };
	if ((rc = pool_make(&b, &dns, 2 + n / 100, "dns", "dns")) ||
	    (rc = pool_make(&b, &ntp, 1 + n / 200, "ntp", "ntp")) ||
	    (rc = pool_make(&b, &ldap, 2 + n / 200, "ldap", "ldap")) ||
	    (rc = pool_make(&b, &sysl, 1 + n / 250, "syslog", "syslog")) ||
	    (rc = pool_make(&b, &mon, 1 + n / 300, "mon", "monitoring")) ||
	    (rc = pool_make(&b, &bak, 1 + n / 300, "backup", "backup")) ||
	    (rc = pool_make(&b, &mirror, 1 + n / 400, "mirror", "mirror")) ||
	    (rc = pool_make(&b, &proxy, 1 + n / 400, "proxy", "proxy")) ||
	    (rc = pool_make(&b, &jump, 1 + n / 800, "jump", "jump")) ||
	    (rc = pool_make(&b, &shdb, 1 + n / 100, "shared-pg", "shared-db")) ||
	    (rc = pool_make(&b, &mq, 1 + n / 250, "mq", "queue")))
		goto fail;

	/* applications until the estate has n hosts */
	struct lbinfo {
		uint32_t active, vip;
	} *lbs = NULL;
	size_t nlbs = 0;
	uint32_t app = 0;
	while (e->nhosts < n) {
		char stem[40], name[96];
		const char *w = words[app % ARRAY_SIZE(words)];
		if (app < ARRAY_SIZE(words))
			snprintf(stem, sizeof(stem), "%s", w);
		else
			snprintf(stem, sizeof(stem), "%s%u", w, app / (uint32_t)ARRAY_SIZE(words) + 1);
		bool web = rng_chance(&b.rng, 70);
		uint32_t tier_app[4], tier_web[4], nweb = 0, napp = 0, db = 0, replica = UINT32_MAX,
					     cache = UINT32_MAX, lb[2];
		char *ident_app = malloc(96);
		if (!ident_app) {
			rc = -ENOMEM;
			goto fail_lbs;
		}
		snprintf(ident_app, 96, "java:com.%s.Main", stem);
		if (web) {
			for (int i = 0; i < 2; i++) {
				snprintf(name, sizeof(name), "%s-lb-%02d", stem, i + 1);
				if ((rc = add_host(&b, name, "lb", app, &lb[i])))
					goto fail_ident;
			}
			uint32_t vip = b.next_vip++;
			e->hosts[lb[0]].vip = vip;
			e->hosts[lb[1]].vip = vip;
			struct lbinfo *nl = realloc(lbs, (nlbs + 1) * sizeof(*nl));
			if (!nl) {
				rc = -ENOMEM;
				goto fail_ident;
			}
			lbs = nl;
			lbs[nlbs++] = (struct lbinfo){ lb[0], vip };
			nweb = rng_range(&b.rng, 2, 4);
			for (uint32_t i = 0; i < nweb; i++) {
				snprintf(name, sizeof(name), "%s-web-%02u", stem, i + 1);
				if ((rc = add_host(&b, name, "web", app, &tier_web[i])))
					goto fail_ident;
			}
			napp = rng_range(&b.rng, 1, 4);
		} else {
			napp = rng_range(&b.rng, 1, 2);
		}
		for (uint32_t i = 0; i < napp; i++) {
			snprintf(name, sizeof(name), "%s-%s-%02u", stem, web ? "app" : "batch", i + 1);
			if ((rc = add_host(&b, name, web ? "app" : "batch", app, &tier_app[i])))
				goto fail_ident;
			e->hosts[tier_app[i]].docker = rng_chance(&b.rng, 30);
		}
		snprintf(name, sizeof(name), "%s-db-01", stem);
		if ((rc = add_host(&b, name, "db", app, &db)))
			goto fail_ident;
		if (web && rng_chance(&b.rng, 50)) {
			snprintf(name, sizeof(name), "%s-db-02", stem);
			if ((rc = add_host(&b, name, "db", app, &replica)))
				goto fail_ident;
		}
		if (web && rng_chance(&b.rng, 50)) {
			snprintf(name, sizeof(name), "%s-cache-01", stem);
			if ((rc = add_host(&b, name, "cache", app, &cache)))
				goto fail_ident;
		}
		e->napps = app + 1;
		if (web) {
			for (int l = 0; l < 2; l++)
				for (uint32_t i = 0; i < nweb; i++)
					if ((rc = add_conn(&b, lb[l], tier_web[i], 80, TCP, 0, "haproxy",
							   "nginx")))
						goto fail_ident;
			for (uint32_t i = 0; i < nweb; i++)
				for (uint32_t j = 0; j < napp; j++)
					if ((rc = add_conn(&b, tier_web[i], tier_app[j], 8080, TCP, 0,
							   "nginx", ident_app)))
						goto fail_ident;
		}
		for (uint32_t j = 0; j < napp; j++) {
			uint32_t a = tier_app[j];
			if ((rc = add_conn(&b, a, db, 5432, TCP, 0, ident_app, "postgres")))
				goto fail_ident;
			if (cache != UINT32_MAX &&
			    (rc = add_conn(&b, a, cache, 6379, TCP, 0, ident_app, "redis-server")))
				goto fail_ident;
			if (rng_chance(&b.rng, 30) &&
			    (rc = add_conn(&b, a, UINT32_MAX, 443, TCP, 3, ident_app, NULL)))
				goto fail_ident;
			if (e->hosts[a].docker &&
			    (rc = add_conn(&b, a, a, 9901, TCP, 2, ident_app, "envoy")))
				goto fail_ident;
			if (rng_chance(&b.rng, 20) &&
			    (rc = add_conn(&b, a, a, 11211, TCP, 4, ident_app, "memcached")))
				goto fail_ident;
			if ((rc = add_conn(&b, a, proxy.h[a % proxy.n], 3128, TCP, 0, ident_app, "squid")))
				goto fail_ident;
		}
		if (replica != UINT32_MAX &&
		    (rc = add_conn(&b, replica, db, 5432, TCP, 0, "postgres", "postgres")))
			goto fail_ident;
		/* shared database and queue: used by some applications */
		if (rng_chance(&b.rng, web ? 40 : 70) &&
		    (rc = add_conn(&b, tier_app[0], shdb.h[app % shdb.n], 5432, TCP, 0, ident_app,
				   "postgres")))
			goto fail_ident;
		if (rng_chance(&b.rng, 35) &&
		    (rc = add_conn(&b, tier_app[0], mq.h[app % mq.n], 5672, TCP, 0, ident_app,
				   "beam.smp")))
			goto fail_ident;
		if ((rc = keep_string(e, ident_app)))
			goto fail_ident;
		app++;
		continue;
fail_ident:
		free(ident_app);
		goto fail_lbs;
	}
	/* the VIPs: checked by monitoring (blackbox), and called by other
	 * applications when spec->cross_app_pct asks for it */
	for (size_t l = 0; l < nlbs; l++) {
		if ((rc = add_conn(&b, mon.h[l % mon.n], lbs[l].active, 443, TCP, 1, "blackbox_exporter",
				   "haproxy")))
			goto fail_lbs;
		if (nlbs > 1 && rng_chance(&b.rng, spec->cross_app_pct)) {
			size_t other = (l + 1 + rng_next(&b.rng) % (nlbs - 1)) % nlbs;
			if ((rc = add_conn(&b, lbs[l].active + 2, lbs[other].active, 443, TCP, 1, "curl",
					   "haproxy")))
				goto fail_lbs;
		}
	}
	free(lbs);
	lbs = NULL;

	/* everyone uses the infrastructure */
	for (uint32_t h = 0; h < e->nhosts; h++) {
		const char *role = e->hosts[h].role;
		bool is_dns = !strcmp(role, "dns");
		if (!is_dns && (rc = add_conn(&b, h, dns.h[h % dns.n], 53, UDP, 0,
					      "systemd-resolved", "named")))
			goto fail;
		if (strcmp(role, "ntp") &&
		    (rc = add_conn(&b, h, ntp.h[h % ntp.n], 123, UDP, 0, "chronyd", "chronyd")))
			goto fail;
		if (strcmp(role, "ldap") &&
		    (rc = add_conn(&b, h, ldap.h[h % ldap.n], 636, TCP, 0, "sssd_be", "slapd")))
			goto fail;
		if (strcmp(role, "syslog") &&
		    (rc = add_conn(&b, h, sysl.h[h % sysl.n], 514, TCP, 0, "rsyslogd", "rsyslogd")))
			goto fail;
		if (strcmp(role, "monitoring") &&
		    (rc = add_conn(&b, mon.h[h % mon.n], h, 9100, TCP, 0, "prometheus",
				   "node_exporter")))
			goto fail;
		if (strcmp(role, "backup") &&
		    (rc = add_conn(&b, bak.h[h % bak.n], h, 9102, TCP, 0, "bacula-dir", "bacula-fd")))
			goto fail;
		if (strcmp(role, "mirror") &&
		    (rc = add_conn(&b, h, mirror.h[h % mirror.n], 80, TCP, 0, "apt", "nginx")))
			goto fail;
		if (e->hosts[h].truth != ESTATE_GEN_INFRA &&
		    (rc = add_conn(&b, jump.h[h % jump.n], h, 22, TCP, 0, "ssh", "sshd")))
			goto fail;
		if ((rc = add_conn(&b, h, UINT32_MAX, 7415, TCP, 3, "cairn-agent", NULL)))
			goto fail;
		e->conns[e->nconns - 1].ext_addr = e->collector_addr;
		b.next_ext--;
	}
	/* truth for shared databases and queues: shared infrastructure only
	 * when several applications use them */
	for (uint32_t h = 0; h < e->nhosts; h++) {
		if (strcmp(e->hosts[h].role, "shared-db") && strcmp(e->hosts[h].role, "queue"))
			continue;
		uint32_t first = ESTATE_GEN_INFRA, napps = 0;
		for (size_t i = 0; i < e->nconns; i++) {
			const struct estate_gen_conn *c = &e->conns[i];
			uint32_t t = e->hosts[c->client].truth;
			if (c->server != h || t == ESTATE_GEN_INFRA)
				continue;
			if (t != first) {
				if (first == ESTATE_GEN_INFRA)
					first = t;
				napps += t != first || napps == 0;
			}
		}
		if (napps == 1)
			e->hosts[h].truth = first;
		else if (napps == 0)
			e->hosts[h].truth = e->napps++;
	}
	/* CSR of conns per host */
	e->conn_start = calloc((size_t)e->nhosts + 1, sizeof(uint32_t));
	e->conn_idx = malloc((2 * e->nconns + 1) * sizeof(uint32_t));
	uint32_t *fill = calloc((size_t)e->nhosts + 1, sizeof(uint32_t));
	if (!e->conn_start || !e->conn_idx || !fill) {
		free(fill);
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < e->nconns; i++) {
		const struct estate_gen_conn *c = &e->conns[i];
		e->conn_start[c->client + 1]++;
		if (c->server != UINT32_MAX && c->server != c->client)
			e->conn_start[c->server + 1]++;
	}
	for (uint32_t h = 0; h < e->nhosts; h++)
		e->conn_start[h + 1] += e->conn_start[h];
	for (size_t i = 0; i < e->nconns; i++) {
		const struct estate_gen_conn *c = &e->conns[i];
		e->conn_idx[e->conn_start[c->client] + fill[c->client]++] = (uint32_t)i;
		if (c->server != UINT32_MAX && c->server != c->client)
			e->conn_idx[e->conn_start[c->server] + fill[c->server]++] = (uint32_t)i;
	}
	free(fill);
	free(dns.h);
	free(ntp.h);
	free(ldap.h);
	free(sysl.h);
	free(mon.h);
	free(bak.h);
	free(mirror.h);
	free(proxy.h);
	free(jump.h);
	free(shdb.h);
	free(mq.h);
	*out = e;
	return 0;
fail_lbs:
	free(lbs);
fail:
	free(dns.h);
	free(ntp.h);
	free(ldap.h);
	free(sysl.h);
	free(mon.h);
	free(bak.h);
	free(mirror.h);
	free(proxy.h);
	free(jump.h);
	free(shdb.h);
	free(mq.h);
	estate_gen_free(e);
	return rc;
}

void estate_gen_free(struct estate_gen *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nstrings; i++)
		free(e->strings[i]);
	free(e->strings);
	free(e->hosts);
	free(e->conns);
	free(e->conn_start);
	free(e->conn_idx);
	free(e);
}

/* ------------------------------------------------------------ batches */

/* Small arena of strings for one batch, freed with the batch: every
 * string in the generated messages is malloc'd so that
 * cairn__batch__free_unpacked(b, NULL) frees everything. */
static char *sdup(const char *s)
{
	return strdup(s ? s : "");
}

static char *saddr(uint32_t a)
{
	char buf[32];
	estate_gen_addr(a, buf, sizeof(buf));
	return strdup(buf);
}

static Cairn__IpAddress *ip_new(const char *addr, uint32_t prefix, const char *scope)
{
	Cairn__IpAddress *ip = malloc(sizeof(*ip));
	if (!ip)
		return NULL;
	cairn__ip_address__init(ip);
	ip->address = sdup(addr);
	ip->prefix_len = prefix;
	ip->family = 4;
	ip->scope = sdup(scope);
	return ip;
}

static Cairn__Nic *nic_new(const char *name, bool virt, size_t naddr)
{
	Cairn__Nic *n = malloc(sizeof(*n));
	if (!n)
		return NULL;
	cairn__nic__init(n);
	n->name = sdup(name);
	n->mac = sdup("");
	n->up = true;
	n->virtual_ = virt;
	n->mtu = 1500;
	n->addresses = calloc(naddr + 1, sizeof(*n->addresses));
	return n;
}

static Cairn__Record *record_new(void)
{
	Cairn__Record *r = malloc(sizeof(*r));
	if (r)
		cairn__record__init(r);
	return r;
}

static int host_record(const struct estate_gen *e, uint32_t hi, Cairn__Record **out)
{
	const struct estate_gen_host *h = &e->hosts[hi];
	Cairn__Record *r = record_new();
	Cairn__HostInfo *info = malloc(sizeof(*info));
	if (!r || !info) {
		free(r);
		free(info);
		return -ENOMEM;
	}
	cairn__host_info__init(info);
	r->kind_case = CAIRN__RECORD__KIND_HOST;
	r->host = info;
	*out = r;
	info->hostname = sdup(h->name);
	char fq[96];
	snprintf(fq, sizeof(fq), "%s.example.net", h->name);
	info->fqdn = sdup(fq);
	info->architecture = sdup("x86_64");
	info->kernel_release = sdup("5.15.0-91-generic");
	info->cpu_threads = 4;
	info->cpu_cores = 2;
	info->mem_total_bytes = 8ull << 30;
	info->nics = calloc(3, sizeof(*info->nics));
	if (!info->nics)
		return -ENOMEM;
	Cairn__Nic *lo = nic_new("lo", true, 1);
	if (!lo)
		return -ENOMEM;
	info->nics[info->n_nics++] = lo;
	if (!lo->addresses || !(lo->addresses[lo->n_addresses++] = ip_new("127.0.0.1", 8, "host")))
		return -ENOMEM;
	Cairn__Nic *eth = nic_new("eth0", false, 2);
	if (!eth)
		return -ENOMEM;
	info->nics[info->n_nics++] = eth;
	char a[32];
	estate_gen_addr(h->addr, a, sizeof(a));
	if (!eth->addresses || !(eth->addresses[eth->n_addresses++] = ip_new(a, 16, "global")))
		return -ENOMEM;
	if (h->vip) {
		estate_gen_addr(h->vip, a, sizeof(a));
		if (!(eth->addresses[eth->n_addresses++] = ip_new(a, 32, "global")))
			return -ENOMEM;
	}
	if (h->docker) {
		Cairn__Nic *d = nic_new("docker0", true, 1);
		if (!d)
			return -ENOMEM;
		info->nics[info->n_nics++] = d;
		if (!d->addresses || !(d->addresses[d->n_addresses++] = ip_new("172.17.0.1", 16, "global")))
			return -ENOMEM;
	}
	return 0;
}

static int listeners_record(const struct estate_gen *e, uint32_t hi, int64_t t, Cairn__Record **out)
{
	Cairn__Record *r = record_new();
	Cairn__ListenerSet *ls = malloc(sizeof(*ls));
	if (!r || !ls) {
		free(r);
		free(ls);
		return -ENOMEM;
	}
	cairn__listener_set__init(ls);
	r->kind_case = CAIRN__RECORD__KIND_LISTENERS;
	r->listeners = ls;
	*out = r;
	ls->taken_ms = t;
	uint32_t nc = e->conn_start[hi + 1] - e->conn_start[hi];
	ls->listeners = calloc(nc + 1, sizeof(*ls->listeners));
	if (!ls->listeners)
		return -ENOMEM;
	for (uint32_t k = e->conn_start[hi]; k < e->conn_start[hi + 1]; k++) {
		const struct estate_gen_conn *c = &e->conns[e->conn_idx[k]];
		if (c->server != hi)
			continue;
		bool dup = false;
		for (size_t q = 0; q < ls->n_listeners; q++)
			if (ls->listeners[q]->port == c->port && ls->listeners[q]->protocol == c->proto)
				dup = true;
		if (dup)
			continue;
		Cairn__Listener *l = malloc(sizeof(*l));
		if (!l)
			return -ENOMEM;
		cairn__listener__init(l);
		ls->listeners[ls->n_listeners++] = l;
		l->protocol = c->proto;
		l->address = sdup(c->via == 4 ? "127.0.0.1" : "0.0.0.0");
		l->port = c->port;
		l->pid = 1000 + c->port;
		l->process_name = sdup(c->server_ident);
		l->identity = sdup(c->server_ident);
		if (!l->address || !l->process_name || !l->identity)
			return -ENOMEM;
	}
	return 0;
}

static Cairn__Edge *edge_new(const struct estate_gen_conn *c, Cairn__Direction dir, uint64_t rnd,
			     int64_t t0)
{
	Cairn__Edge *ed = malloc(sizeof(*ed));
	if (!ed)
		return NULL;
	cairn__edge__init(ed);
	ed->direction = dir;
	ed->protocol = c->proto;
	ed->samples_seen = 1 + (uint32_t)(rnd % 288);
	ed->max_concurrent = 1 + (uint32_t)((rnd >> 12) % 8);
	ed->first_seen_ms = t0 + (int64_t)((rnd >> 20) % 3600000);
	ed->last_seen_ms = t0 + 20 * 3600000 + (int64_t)((rnd >> 30) % 3600000);
	ed->bytes_sent = (rnd >> 8) % 10000000;
	ed->bytes_received = (rnd >> 16) % 50000000;
	return ed;
}

int estate_gen_batch(const struct estate_gen *e, uint32_t hi, uint32_t day, uint64_t seq, bool full,
		     Cairn__Batch **out)
{
	*out = NULL;
	const struct estate_gen_host *h = &e->hosts[hi];
	int64_t t0 = e->spec.start_ms + (int64_t)day * STORE_DAY_MS;
	Cairn__Batch *b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	cairn__batch__init(b);
	*out = b;
	b->agent_id.data = malloc(32);
	if (!b->agent_id.data)
		return -ENOMEM;
	memcpy(b->agent_id.data, h->pk, 32);
	b->agent_id.len = 32;
	b->seq = seq;
	b->boot_id = sdup("00000000-0000-4000-8000-000000000001");
	b->agent_version = sdup("0.1.0");
	b->window_start_ms = t0;
	b->window_end_ms = t0 + STORE_DAY_MS;
	b->records = calloc(4, sizeof(*b->records));
	if (!b->records || !b->boot_id || !b->agent_version)
		return -ENOMEM;
	int rc;
	if (day == 0 || full) {
		if ((rc = host_record(e, hi, &b->records[b->n_records])))
			return b->records[b->n_records] ? (b->n_records++, rc) : rc;
		b->n_records++;
		if ((rc = listeners_record(e, hi, t0, &b->records[b->n_records])))
			return b->records[b->n_records] ? (b->n_records++, rc) : rc;
		b->n_records++;
	}
	Cairn__Record *r = record_new();
	Cairn__ConnectionWindow *cw = malloc(sizeof(*cw));
	if (!r || !cw) {
		free(r);
		free(cw);
		return -ENOMEM;
	}
	cairn__connection_window__init(cw);
	r->kind_case = CAIRN__RECORD__KIND_CONNECTIONS;
	r->connections = cw;
	b->records[b->n_records++] = r;
	cw->window_start_ms = t0;
	cw->window_end_ms = t0 + STORE_DAY_MS;
	cw->samples = 5760;
	uint32_t nc = e->conn_start[hi + 1] - e->conn_start[hi];
	cw->edges = calloc(nc + e->spec.extra_edges + 1, sizeof(*cw->edges));
	if (!cw->edges)
		return -ENOMEM;
	char a[32];
	for (uint32_t k = e->conn_start[hi]; k < e->conn_start[hi + 1]; k++) {
		uint32_t ci = e->conn_idx[k];
		const struct estate_gen_conn *c = &e->conns[ci];
		uint64_t seed = ((uint64_t)ci << 20) ^ day ^ e->spec.seed;
		uint64_t rnd = rng_next(&seed);
		if (c->client == hi) {
			Cairn__Direction dir = c->via == 4 ? CAIRN__DIRECTION__LOCAL
							    : CAIRN__DIRECTION__OUTBOUND;
			Cairn__Edge *ed = edge_new(c, dir, rnd, t0);
			if (!ed)
				return -ENOMEM;
			cw->edges[cw->n_edges++] = ed;
			ed->pid = 2000 + c->port;
			ed->process_name = sdup(c->client_ident);
			ed->identity = sdup(c->client_ident);
			estate_gen_addr(h->addr, a, sizeof(a));
			ed->local_address = sdup(a);
			switch (c->via) {
			case 0:
				ed->remote_address = saddr(e->hosts[c->server].addr);
				break;
			case 1:
				ed->remote_address = saddr(e->hosts[c->server].vip);
				break;
			case 2:
				ed->remote_address = sdup("172.17.0.1");
				ed->container_id = sdup("3f1c2d9a7b10");
				break;
			case 3:
				ed->remote_address = saddr(c->ext_addr);
				break;
			case 4:
				ed->remote_address = sdup("127.0.0.1");
				ed->peer_pid = 1000 + c->port;
				ed->peer_process_name = sdup(c->server_ident);
				ed->peer_identity = sdup(c->server_ident);
				ed->local_port = c->port;
				break;
			}
			if (c->via != 4)
				ed->remote_port = c->port;
			if (!ed->remote_address || !ed->identity)
				return -ENOMEM;
		}
		if (c->server == hi && c->client != hi) {
			Cairn__Edge *ed = edge_new(c, CAIRN__DIRECTION__INBOUND, rnd, t0);
			if (!ed)
				return -ENOMEM;
			cw->edges[cw->n_edges++] = ed;
			ed->pid = 1000 + c->port;
			ed->process_name = sdup(c->server_ident);
			ed->identity = sdup(c->server_ident);
			estate_gen_addr(c->via == 1 ? h->vip : h->addr, a, sizeof(a));
			ed->local_address = sdup(a);
			ed->local_port = c->port;
			ed->remote_address = saddr(e->hosts[c->client].addr);
			if (!ed->remote_address || !ed->identity)
				return -ENOMEM;
		}
	}
	for (uint32_t x = 0; x < e->spec.extra_edges; x++) {
		struct estate_gen_conn c = { .client = hi, .server = UINT32_MAX, .port = 443,
					     .proto = TCP, .via = 3 };
		uint64_t seed = ((uint64_t)hi << 32) ^ ((uint64_t)x << 8) ^ day;
		Cairn__Edge *ed = edge_new(&c, CAIRN__DIRECTION__OUTBOUND, rng_next(&seed), t0);
		if (!ed)
			return -ENOMEM;
		cw->edges[cw->n_edges++] = ed;
		ed->process_name = sdup("curl");
		ed->identity = sdup("python3:sync.py");
		/* distinct SaaS endpoints: 100.64.0.0/10 */
		ed->remote_address = saddr((100u << 24) | (64u << 16) | ((hi * 131u + x) & 0x3fffff));
		ed->remote_port = 443;
		if (!ed->remote_address)
			return -ENOMEM;
	}
	return 0;
}

int estate_gen_write(const struct estate_gen *e, struct db_env *env, struct errbuf *eb)
{
	const uint32_t per_txn = 200;
	for (uint32_t first = 0; first < e->nhosts; first += per_txn) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
		if (rc)
			return errbuf_set(eb, rc, "estate: begin: %s", mdb_strerror(rc));
		uint32_t last = first + per_txn < e->nhosts ? first + per_txn : e->nhosts;
		for (uint32_t h = first; h < last && !rc; h++) {
			for (uint32_t d = 0; d < e->spec.days && !rc; d++) {
				Cairn__Batch *b = NULL;
				rc = estate_gen_batch(e, h, d, d + 1, false, &b);
				if (!rc)
					rc = ingest_apply(txn, env, e->hosts[h].pk, b,
							  e->spec.start_ms + (int64_t)(d + 1) * STORE_DAY_MS,
							  NULL);
				if (b)
					cairn__batch__free_unpacked(b, NULL);
			}
			if (rc)
				break;
			Cairn__Store__Agent a = CAIRN__STORE__AGENT__INIT;
			a.agent_id.data = (uint8_t *)e->hosts[h].pk;
			a.agent_id.len = 32;
			a.hostname = (char *)e->hosts[h].name;
			a.state = CAIRN__STORE__ENROLL_STATE__ACCEPTED;
			a.first_seen_ms = e->spec.start_ms;
			a.last_seen_ms = e->spec.start_ms + (int64_t)e->spec.days * STORE_DAY_MS;
			a.high_seq = e->spec.days;
			a.enroll_via = (char *)"any";
			rc = ingest_agent_put(txn, env, &a);
		}
		if (rc) {
			mdb_txn_abort(txn);
			return errbuf_set(eb, rc, "estate: writing hosts %u..%u: %s", first, last,
					  db_strerror(rc));
		}
		if ((rc = mdb_txn_commit(txn)))
			return errbuf_set(eb, rc, "estate: commit: %s", mdb_strerror(rc));
	}
	return 0;
}

static int cmp_pair64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

int estate_gen_truth_edges(const struct estate_gen *e, uint32_t **out, size_t *n)
{
	uint64_t *p = malloc((e->nconns + 1) * sizeof(uint64_t));
	if (!p)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < e->nconns; i++) {
		const struct estate_gen_conn *c = &e->conns[i];
		if (c->server == UINT32_MAX || c->server == c->client || c->via > 1)
			continue;
		p[k++] = ((uint64_t)c->client << 32) | c->server;
	}
	qsort(p, k, sizeof(uint64_t), cmp_pair64);
	uint32_t *r = malloc((2 * k + 2) * sizeof(uint32_t));
	if (!r) {
		free(p);
		return -ENOMEM;
	}
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (i && p[i] == p[i - 1])
			continue;
		r[2 * w] = (uint32_t)(p[i] >> 32);
		r[2 * w + 1] = (uint32_t)p[i];
		w++;
	}
	free(p);
	*out = r;
	*n = w;
	return 0;
}
