#include "estate_gen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ingest.h"
#include "rollup.h"
#include "store.h"
#include "store.pb-c.h"

#define EG_PI 3.14159265358979323846

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

static int add_role(struct estate_gen *e, struct builder *b, uint32_t host, uint32_t server,
		    uint16_t port, const char *identity)
{
	(void)b;
	struct estate_gen_role *r = realloc(e->roles, (e->nroles + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	e->roles = r;
	e->roles[e->nroles++] = (struct estate_gen_role){ host, server, port, identity };
	return 0;
}

static int add_outside(struct estate_gen *e, uint32_t server, uint32_t addr, uint16_t port)
{
	struct estate_gen_outside *o = realloc(e->outside, (e->noutside + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	e->outside = o;
	e->outside[e->noutside++] = (struct estate_gen_outside){ server, addr, port };
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

/* ------------------------------------------------------------ planning facts */

/* os-release values of real distributions, their kernels and the versions
 * of the packages a host of that release carries. */
struct os_row {
	const char *id, *version_id, *name, *pretty, *codename, *id_like;
	const char *kernel;
	bool rpm;
	const char *openssl, *openssh, *libc, *libc_ver, *python_ver, *java_pkg, *java_ver,
		*pg_pkg, *pg_ver, *pg_bin, *nginx_ver, *tag;
};

enum {
	OS_DEB12, OS_DEB11, OS_DEB10, OS_UB2204, OS_UB2004, OS_UB1804, OS_RHEL94, OS_RHEL810,
	OS_RHEL79, OS_CENTOS7, OS_ROCKY93, OS_ALMA89, OS_OL89, OS_SLES155, OS_AMZN2, OS_N
};

static const struct os_row os_rows[OS_N] = {
	[OS_DEB12] = { "debian", "12", "Debian GNU/Linux", "Debian GNU/Linux 12 (bookworm)", "bookworm", "",
		       "6.1.0-26-amd64", false, "3.0.15-1~deb12u1", "1:9.2p1-2+deb12u3", "libc6", "2.36-9+deb12u8",
		       "3.11.2-1+b1", "openjdk-17-jre-headless", "17.0.13+11-2~deb12u1", "postgresql-15",
		       "15.8-0+deb12u1", "/usr/lib/postgresql/15/bin", "1.22.1-9", "deb12u1" },
	[OS_DEB11] = { "debian", "11", "Debian GNU/Linux", "Debian GNU/Linux 11 (bullseye)", "bullseye", "",
		       "5.10.0-32-amd64", false, "1.1.1w-0+deb11u1", "1:8.4p1-5+deb11u3", "libc6", "2.31-13+deb11u11",
		       "3.9.2-3", "openjdk-11-jre-headless", "11.0.24+8-1~deb11u1", "postgresql-13",
		       "13.16-0+deb11u1", "/usr/lib/postgresql/13/bin", "1.18.0-6.1+deb11u3", "deb11u2" },
	[OS_DEB10] = { "debian", "10", "Debian GNU/Linux", "Debian GNU/Linux 10 (buster)", "buster", "",
		       "4.19.0-27-amd64", false, "1.1.1n-0+deb10u6", "1:7.9p1-10+deb10u4", "libc6", "2.28-10+deb10u3",
		       "3.7.3-1", "openjdk-11-jre-headless", "11.0.23+9-1~deb10u1", "postgresql-11",
		       "11.22-0+deb10u2", "/usr/lib/postgresql/11/bin", "1.14.2-2+deb10u5", "deb10u1" },
	[OS_UB2204] = { "ubuntu", "22.04", "Ubuntu", "Ubuntu 22.04.5 LTS", "jammy", "debian",
			"5.15.0-125-generic", false, "3.0.2-0ubuntu1.18", "1:8.9p1-3ubuntu0.10", "libc6",
			"2.35-0ubuntu3.8", "3.10.6-1~22.04.1", "openjdk-17-jre-headless", "17.0.12+7-1ubuntu2~22.04",
			"postgresql-14", "14.13-0ubuntu0.22.04.1", "/usr/lib/postgresql/14/bin",
			"1.18.0-6ubuntu14.5", "0ubuntu0.22.04.1" },
	[OS_UB2004] = { "ubuntu", "20.04", "Ubuntu", "Ubuntu 20.04.6 LTS", "focal", "debian",
			"5.4.0-200-generic", false, "1.1.1f-1ubuntu2.23", "1:8.2p1-4ubuntu0.11", "libc6",
			"2.31-0ubuntu9.16", "3.8.2-0ubuntu2", "openjdk-11-jre-headless", "11.0.24+8-1ubuntu3~20.04",
			"postgresql-12", "12.20-0ubuntu0.20.04.1", "/usr/lib/postgresql/12/bin",
			"1.18.0-0ubuntu1.5", "0ubuntu0.20.04.1" },
	[OS_UB1804] = { "ubuntu", "18.04", "Ubuntu", "Ubuntu 18.04.6 LTS", "bionic", "debian",
			"4.15.0-213-generic", false, "1.1.1-1ubuntu2.1~18.04.23", "1:7.6p1-4ubuntu0.7", "libc6",
			"2.27-3ubuntu1.6", "3.6.7-1~18.04", "openjdk-11-jre-headless", "11.0.19+7~us1-0ubuntu1~18.04.1",
			"postgresql-10", "10.23-0ubuntu0.18.04.2", "/usr/lib/postgresql/10/bin",
			"1.14.0-0ubuntu1.11", "0ubuntu0.18.04.1" },
	[OS_RHEL94] = { "rhel", "9.4", "Red Hat Enterprise Linux", "Red Hat Enterprise Linux 9.4 (Plow)", "",
			"fedora", "5.14.0-427.42.1.el9_4.x86_64", true, "1:3.0.7-28.el9_4", "8.7p1-38.el9_4.4",
			"glibc", "2.34-100.el9_4.4", "3.9.18-3.el9_4.6", "java-17-openjdk-headless",
			"1:17.0.13.0.11-3.el9", "postgresql-server", "15.8-1.module+el9.4.0+22396+1d2e7a84",
			"/usr/bin", "1:1.20.1-14.el9_2.1", "el9_4" },
	[OS_RHEL810] = { "rhel", "8.10", "Red Hat Enterprise Linux", "Red Hat Enterprise Linux 8.10 (Ootpa)", "",
			 "fedora", "4.18.0-553.27.1.el8_10.x86_64", true, "1:1.1.1k-14.el8_6", "8.0p1-25.el8_10",
			 "glibc", "2.28-251.el8_10.5", "3.6.8-62.el8_10", "java-11-openjdk-headless",
			 "1:11.0.25.0.9-1.el8", "postgresql-server", "13.16-1.module+el8.10.0+22214+8a6a1b7a",
			 "/usr/bin", "1:1.14.1-9.module+el8.0.0+4108+af250afe", "el8_10" },
	[OS_RHEL79] = { "rhel", "7.9", "Red Hat Enterprise Linux Server",
			"Red Hat Enterprise Linux Server 7.9 (Maipo)", "", "fedora",
			"3.10.0-1160.119.1.el7.x86_64", true, "1:1.0.2k-26.el7_9", "7.4p1-23.el7_9", "glibc",
			"2.17-326.el7_9.3", "3.6.8-21.el7_9", "java-1.8.0-openjdk-headless",
			"1:1.8.0.412.b08-1.el7_9", "postgresql-server", "9.2.24-9.el7_9", "/usr/bin",
			"1:1.20.1-10.el7", "el7_9" },
	[OS_CENTOS7] = { "centos", "7", "CentOS Linux", "CentOS Linux 7 (Core)", "", "rhel fedora",
			 "3.10.0-1160.118.1.el7.x86_64", true, "1:1.0.2k-26.el7_9", "7.4p1-23.el7_9", "glibc",
			 "2.17-326.el7_9", "3.6.8-21.el7_9", "java-1.8.0-openjdk-headless",
			 "1:1.8.0.412.b08-1.el7_9", "postgresql-server", "9.2.24-9.el7_9", "/usr/bin",
			 "1:1.20.1-10.el7", "el7" },
	[OS_ROCKY93] = { "rocky", "9.3", "Rocky Linux", "Rocky Linux 9.3 (Blue Onyx)", "", "rhel centos fedora",
			 "5.14.0-362.24.1.el9_3.0.1.x86_64", true, "1:3.0.7-25.el9_3", "8.7p1-34.el9_3.3",
			 "glibc", "2.34-83.el9_3.12", "3.9.18-1.el9_3.1", "java-17-openjdk-headless",
			 "1:17.0.10.0.7-2.el9", "postgresql-server", "13.14-1.el9_3", "/usr/bin",
			 "1:1.20.1-14.el9_2.1", "el9_3" },
	[OS_ALMA89] = { "almalinux", "8.9", "AlmaLinux", "AlmaLinux 8.9 (Midnight Oncilla)", "",
			"rhel centos fedora", "4.18.0-513.24.1.el8_9.x86_64", true, "1:1.1.1k-12.el8_9",
			"8.0p1-19.el8_9.2", "glibc", "2.28-236.el8_9.13", "3.6.8-56.el8_9.3",
			"java-11-openjdk-headless", "1:11.0.22.0.7-2.el8", "postgresql-server",
			"12.18-1.module_el8.9.0+3750+9ab1d3ae", "/usr/bin", "1:1.14.1-9.module_el8.3.0+2165+af250afe",
			"el8_9" },
	[OS_OL89] = { "ol", "8.9", "Oracle Linux Server", "Oracle Linux Server 8.9", "", "fedora",
		      "5.15.0-205.149.5.1.el8uek.x86_64", true, "1:1.1.1k-12.el8_9", "8.0p1-19.el8_9.2",
		      "glibc", "2.28-236.0.1.el8_9.13", "3.6.8-56.0.1.el8_9", "java-11-openjdk-headless",
		      "1:11.0.22.0.7-2.0.1.el8", "postgresql-server", "12.18-1.module+el8.9.0+90185+2e0a7a6e",
		      "/usr/bin", "1:1.14.1-9.0.1.module+el8.0.0+5347+9282027e", "el8_9" },
	[OS_SLES155] = { "sles", "15.5", "SLES", "SUSE Linux Enterprise Server 15 SP5", "", "suse",
			 "5.14.21-150500.55.83-default", true, "3.0.8-150500.5.14.1", "9.3p2-150500.3.18.1",
			 "glibc", "2.31-150300.83.1", "3.6.15-150300.10.72.1", "java-17-openjdk-headless",
			 "17.0.12.0-150400.3.48.1", "postgresql15-server", "15.8-150200.5.36.1",
			 "/usr/lib/postgresql15/bin", "1.21.5-150500.3.3.1", "150500" },
	[OS_AMZN2] = { "amzn", "2", "Amazon Linux", "Amazon Linux 2", "", "centos rhel fedora",
		       "4.14.352-267.564.amzn2.x86_64", true, "1:1.0.2k-24.amzn2.0.13", "7.4p1-22.amzn2.0.9",
		       "glibc", "2.26-64.amzn2.0.3", "3.7.16-1.amzn2.0.8", "java-17-amazon-corretto-headless",
		       "1:17.0.13+11-1.amzn2.1", "postgresql-server", "9.2.24-8.amzn2.0.4", "/usr/bin",
		       "1:1.22.1-1.amzn2.0.3", "amzn2" },
};

static const struct {
	const char *model;
	uint32_t mhz;
} cpu_models[] = {
	{ "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", 3000 },
	{ "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 2000 },
	{ "AMD EPYC 7543 32-Core Processor", 2800 },
	{ "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz", 2400 },
	{ "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", 2400 },
};

static const struct {
	const char *name;
	int offset_h; /* standard time */
} zones[] = { { "Europe/Berlin", 1 }, { "UTC", 0 }, { "America/New_York", -5 } };

static uint8_t pick_os(uint64_t *r, const char *role)
{
	static const uint8_t db[] = { OS_RHEL810, OS_RHEL94, OS_OL89, OS_UB2204, OS_DEB12, OS_RHEL79,
				      OS_UB2004, OS_ROCKY93, OS_SLES155 };
	static const uint8_t front[] = { OS_UB2204, OS_UB2204, OS_DEB12, OS_UB2004, OS_DEB11,
					 OS_UB1804, OS_ROCKY93, OS_UB2204, OS_DEB12 };
	static const uint8_t app[] = { OS_RHEL94, OS_RHEL810, OS_UB2204, OS_ALMA89, OS_RHEL79,
				       OS_CENTOS7, OS_AMZN2, OS_SLES155, OS_UB2004, OS_RHEL94 };
	static const uint8_t infra[] = { OS_RHEL810, OS_UB2204, OS_DEB11, OS_CENTOS7, OS_SLES155,
					 OS_DEB12, OS_RHEL79, OS_ROCKY93, OS_UB2204 };
	const uint8_t *v;
	size_t n;
	if (!strcmp(role, "db") || !strcmp(role, "shared-db")) {
		v = db;
		n = ARRAY_SIZE(db);
	} else if (!strcmp(role, "lb") || !strcmp(role, "web") || !strcmp(role, "cache")) {
		v = front;
		n = ARRAY_SIZE(front);
	} else if (!strcmp(role, "app") || !strcmp(role, "batch")) {
		v = app;
		n = ARRAY_SIZE(app);
	} else {
		v = infra;
		n = ARRAY_SIZE(infra);
	}
	return v[rng_next(r) % n];
}

static float frand(uint64_t *r, float lo, float hi)
{
	return lo + (hi - lo) * (float)((rng_next(r) >> 11) * (1.0 / 9007199254740992.0));
}

/* Application of a host by name: "shop-web-01" -> "shop". */
static void host_stem(const struct estate_gen_host *h, char *out, size_t n)
{
	str_copy(out, h->name, n);
	for (int k = 0; k < 2; k++) {
		char *d = strrchr(out, '-');
		if (d)
			*d = 0;
	}
}

static bool role_is(const struct estate_gen_host *h, const char *r)
{
	return !strcmp(h->role, r);
}

/* Sizes and utilization by role; then the special hosts. Drawn from a
 * random stream of its own, after the structure is built. */
static void assign_facts(struct estate_gen *e)
{
	uint32_t batch_apps = 0, last_app = UINT32_MAX;
	for (uint32_t i = 0; i < e->nhosts; i++) {
		struct estate_gen_host *h = &e->hosts[i];
		struct estate_gen_facts *f = &h->f;
		uint64_t r = e->spec.seed * 0x632be59bd9b4e019ull + (uint64_t)i * 0x9e3779b97f4a7c15ull + 1;
		rng_next(&r);
		memset(f, 0, sizeof(*f));
		f->id = rng_next(&r);
		f->os = pick_os(&r, h->role);
		f->cpu_model = (uint8_t)(rng_next(&r) % ARRAY_SIZE(cpu_models));
		uint32_t tzr = rng_range(&r, 0, 19);
		f->tz = tzr < 14 ? 0 : tzr < 19 ? 1 : 2;
		f->vmware = rng_chance(&r, 60);
		f->uptime_days = rng_range(&r, 3, 420);
		f->swap_gib = 2u << rng_range(&r, 0, 2);
		f->root_gib = 40;
		f->root_used = frand(&r, 0.3f, 0.7f);
		f->shape = 2;
		f->load = ESTATE_GEN_LOAD_NORMAL;
		const char *role = h->role;
		if (!strcmp(role, "lb")) {
			f->vcpu = 2; f->mem_gib = 4;
			f->cpu_pct = frand(&r, 10, 20); f->mem_share = 0.25f;
			f->iops = 10; f->net_bps = frand(&r, 8e6f, 2e7f); f->shape = 0;
		} else if (!strcmp(role, "web")) {
			f->vcpu = rng_chance(&r, 50) ? 4 : 2; f->mem_gib = f->vcpu * 2;
			f->cpu_pct = frand(&r, 20, 45); f->mem_share = 0.35f;
			f->iops = 50; f->net_bps = frand(&r, 4e6f, 1e7f); f->shape = 0;
		} else if (!strcmp(role, "app")) {
			f->vcpu = rng_chance(&r, 50) ? 8 : 4; f->mem_gib = f->vcpu * 4;
			f->cpu_pct = frand(&r, 25, 55); f->mem_share = frand(&r, 0.55f, 0.7f);
			f->iops = frand(&r, 100, 300); f->net_bps = frand(&r, 2e6f, 6e6f); f->shape = 0;
			f->data_gib = 50; f->data_mount = "/opt";
		} else if (!strcmp(role, "batch")) {
			f->vcpu = rng_chance(&r, 50) ? 8 : 4; f->mem_gib = f->vcpu * 4;
			f->cpu_pct = frand(&r, 50, 80); f->mem_share = frand(&r, 0.4f, 0.55f);
			f->iops = frand(&r, 400, 1500); f->mibps = 40; f->net_bps = frand(&r, 1e6f, 3e6f);
			f->shape = 1; f->data_gib = 200; f->data_mount = "/srv/batch";
			f->python_etl = true;
		} else if (!strcmp(role, "db") || !strcmp(role, "shared-db")) {
			bool shared = !strcmp(role, "shared-db");
			f->vcpu = shared ? 16 : rng_chance(&r, 50) ? 8 : 4;
			f->mem_gib = f->vcpu * (rng_chance(&r, 50) ? 8 : 4);
			f->cpu_pct = frand(&r, 25, 50); f->mem_share = frand(&r, 0.45f, 0.6f);
			f->iops = shared ? 4000 : frand(&r, 800, 3000); f->mibps = 60;
			f->net_bps = frand(&r, 2e6f, 8e6f); f->shape = 0;
			f->data_gib = shared ? 1536 : 100 * rng_range(&r, 2, 8);
			f->data_mount = "/var/lib/pgsql";
		} else if (!strcmp(role, "cache")) {
			f->vcpu = 2; f->mem_gib = 16;
			f->cpu_pct = frand(&r, 8, 18); f->mem_share = frand(&r, 0.6f, 0.75f);
			f->iops = 30; f->net_bps = frand(&r, 3e6f, 6e6f); f->shape = 0;
		} else if (!strcmp(role, "queue")) {
			f->vcpu = 4; f->mem_gib = 8;
			f->cpu_pct = frand(&r, 15, 30); f->mem_share = 0.5f;
			f->iops = 300; f->net_bps = 3e6f; f->shape = 0;
			f->data_gib = 100; f->data_mount = "/var/lib/rabbitmq";
		} else if (!strcmp(role, "monitoring")) {
			f->vcpu = 8; f->mem_gib = 32;
			f->cpu_pct = frand(&r, 20, 35); f->mem_share = 0.6f;
			f->iops = 600; f->net_bps = 2e6f; f->data_gib = 500; f->data_mount = "/var/lib/prometheus";
			f->mariadb = true;
		} else if (!strcmp(role, "backup")) {
			f->vcpu = 8; f->mem_gib = 16;
			f->cpu_pct = frand(&r, 20, 40); f->mem_share = 0.4f;
			f->iops = 2500; f->mibps = 250; f->net_bps = 4e7f; f->shape = 1;
			f->data_gib = 24576; f->data_mount = "/srv/backup"; f->mysql = true;
		} else if (!strcmp(role, "mirror")) {
			f->vcpu = 2; f->mem_gib = 4;
			f->cpu_pct = 10; f->mem_share = 0.3f;
			f->iops = 100; f->net_bps = 3e6f; f->data_gib = 2048; f->data_mount = "/srv/mirror";
		} else if (!strcmp(role, "syslog")) {
			f->vcpu = 4; f->mem_gib = 8;
			f->cpu_pct = 15; f->mem_share = 0.35f;
			f->iops = 400; f->net_bps = 1e6f; f->data_gib = 500; f->data_mount = "/var/log/remote";
		} else {
			/* dns, ntp, ldap, proxy, jump */
			f->vcpu = 2; f->mem_gib = rng_chance(&r, 50) ? 4 : 8;
			f->cpu_pct = frand(&r, 6, 15); f->mem_share = 0.3f;
			f->iops = 20; f->net_bps = frand(&r, 1e5f, 1e6f);
		}
		f->data_used = frand(&r, 0.4f, 0.8f);
		f->sockets = f->vmware && f->vcpu >= 8 ? 2 : 1;

	}
	/* special hosts, by position in the estate (present at any size) */
	for (uint32_t i = 0; i < e->nhosts; i++) {
		struct estate_gen_host *h = &e->hosts[i];
		struct estate_gen_facts *f = &h->f;
		uint32_t app = h->truth;
		if (role_is(h, "batch") && app != last_app) {
			last_app = app;
			/* the last batch host of the application (the next host is
			 * its database) */
			uint32_t lastb = i;
			while (lastb + 1 < e->nhosts && role_is(&e->hosts[lastb + 1], "batch"))
				lastb++;
			if (batch_apps % 10 == 0)
				e->hosts[lastb].f.dongle = true;
			else if (batch_apps % 10 == 1)
				e->hosts[lastb].f.load = ESTATE_GEN_LOAD_IDLE;
			batch_apps++;
		}
		if (role_is(h, "db") && app % 8 == 1 && strstr(h->name, "-db-01"))
			f->oracle = true;
		if ((role_is(h, "app") || role_is(h, "batch")) &&
		    (!strncmp(h->name, "wiki-", 5) || !strncmp(h->name, "intranet-", 9) ||
		     !strncmp(h->name, "docs-", 5)) &&
		    strstr(h->name, "-01"))
			f->confluence = true;
		if (role_is(h, "db") && app % 16 == 0 && strstr(h->name, "-db-01"))
			f->load = ESTATE_GEN_LOAD_IOPS;
		if (role_is(h, "app") && app % 5 == 2 &&
		    (i + 1 >= e->nhosts || !role_is(&e->hosts[i + 1], "app")))
			f->load = ESTATE_GEN_LOAD_OVERSIZED;
		if (role_is(h, "db") && app % 5 == 4 && strstr(h->name, "-db-01"))
			f->load = ESTATE_GEN_LOAD_OVERSIZED;
		if (role_is(h, "web") && app % 6 == 3 && strstr(h->name, "-web-01"))
			f->load = ESTATE_GEN_LOAD_BUSY;
		if (!strcmp(h->name, "ntp-01")) {
			f->os = OS_DEB10; /* a 32-bit VM nobody dared to touch */
			f->i686 = true;
			f->vmware = false;
			f->mem_gib = 2;
			f->cpu_model = 4;
		}
		if (!strcmp(h->name, "syslog-01")) {
			f->os = OS_CENTOS7;
			f->vmware = true;
		}
		if (!strcmp(h->name, "backup-01"))
			f->os = OS_RHEL810;
		if (f->oracle) {
			f->os = i % 2 ? OS_OL89 : OS_RHEL810;
			f->vcpu = 16;
			f->mem_gib = 128;
			f->data_gib = 2048;
			f->data_mount = "/u01";
			f->iops = 5000;
		}
		/* agents installed late: less perf data, lower confidence */
		if (i % 29 == 24)
			f->perf_hours = 10;
		else if (i % 29 == 26)
			f->perf_hours = (e->spec.perf_days < e->spec.days ? e->spec.perf_days
									  : e->spec.days) * 24 * 3 / 5;
	}
	/* loads that change sizes */
	for (uint32_t i = 0; i < e->nhosts; i++) {
		struct estate_gen_facts *f = &e->hosts[i].f;
		switch (f->load) {
		case ESTATE_GEN_LOAD_BUSY:
			f->cpu_pct = 88;
			break;
		case ESTATE_GEN_LOAD_IOPS:
			f->iops = 19500;
			f->mibps = 300;
			f->vcpu = 16;
			f->mem_gib = 64;
			f->cpu_pct = 45;
			break;
		case ESTATE_GEN_LOAD_OVERSIZED:
			f->vcpu = e->hosts[i].role[0] == 'd' ? 32 : 16;
			f->mem_gib = e->hosts[i].role[0] == 'd' ? 256 : 64;
			f->cpu_pct = 3;
			f->mem_share = 0.12f;
			f->sockets = 2;
			break;
		case ESTATE_GEN_LOAD_IDLE:
			f->cpu_pct = 1.2f;
			f->mem_share = 0.15f;
			f->iops = 2;
			f->mibps = 0;
			f->net_bps = 600;
			f->python_etl = false;
			break;
		default:
			break;
		}
	}
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
		int64_t end = e->spec.end_ms ? e->spec.end_ms : time_now_ms();
		end -= end % ESTATE_GEN_PERF_MS;
		e->spec.start_ms = end - (int64_t)e->spec.days * STORE_DAY_MS;
	}
	e->spec.end_ms = e->spec.start_ms + (int64_t)e->spec.days * STORE_DAY_MS;
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
		/* the dispatcher case: a batch host's jobs are one script with a
		 * role argument, a program per role (docs/inventory.md) */
		const char *ident_db = ident_app, *ident_out = ident_app;
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
		if (spec->cases && !web) {
			char *a = malloc(96), *o = malloc(96);
			if (!a || !o || keep_string(e, a) || keep_string(e, o)) {
				free(ident_app);
				rc = -ENOMEM;
				goto fail_lbs;
			}
			snprintf(a, 96, "python3.11 /srv/%s/jobs.py export", stem);
			snprintf(o, 96, "python3.11 /srv/%s/jobs.py fetch", stem);
			ident_db = a;
			ident_out = o;
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
			if ((rc = add_conn(&b, a, db, 5432, TCP, 0, ident_db, "postgres")))
				goto fail_ident;
			if (ident_db != ident_app &&
			    ((rc = add_role(e, &b, a, db, 5432, ident_db)) ||
			     (rc = add_role(e, &b, a, proxy.h[a % proxy.n], 3128, ident_out))))
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
			if ((rc = add_conn(&b, a, proxy.h[a % proxy.n], 3128, TCP, 0, ident_out, "squid")))
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
	/* the outside-clients case: each web application's users in a /24
	 * of their own (3 to 6 addresses), one partner subnet shared by all;
	 * no rng draws, so the rest of the estate is what it would be */
	for (size_t l = 0; spec->cases && l < nlbs; l++) {
		uint32_t users = (203u << 24) | (0u << 16) | ((uint32_t)(l % 250) << 8);
		for (uint32_t i = 0; i < 3 + l % 4; i++)
			if ((rc = add_outside(e, lbs[l].active, users | (10 + i), 443)))
				goto fail_lbs;
		if ((rc = add_outside(e, lbs[l].active,
				      (198u << 24) | (51u << 16) | (100u << 8) | (uint32_t)(1 + l % 250),
				      443)))
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
	assign_facts(e);
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
	free(e->outside);
	free(e->roles);
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

/* A new record of the given kind holding a new, initialised message of that
 * kind (desc); *out receives the record. Returns the message, or NULL (and
 * nothing allocated) when out of memory. */
static void *record_with(Cairn__Record **out, Cairn__Record__KindCase kind,
			 const ProtobufCMessageDescriptor *desc)
{
	Cairn__Record *r = record_new();
	void *m = malloc(desc->sizeof_message);
	if (!r || !m) {
		free(r);
		free(m);
		return NULL;
	}
	protobuf_c_message_init(desc, m);
	r->kind_case = kind;
	switch (kind) {
	case CAIRN__RECORD__KIND_HOST: r->host = m; break;
	case CAIRN__RECORD__KIND_LISTENERS: r->listeners = m; break;
	case CAIRN__RECORD__KIND_PROCESSES: r->processes = m; break;
	case CAIRN__RECORD__KIND_PACKAGES: r->packages = m; break;
	case CAIRN__RECORD__KIND_CONNECTIONS: r->connections = m; break;
	default: abort(); /* a kind this generator does not make */
	}
	*out = r;
	return m;
}

/* ------------------------------------------------------------ facts -> records */

static const struct os_row *host_os(const struct estate_gen_host *h)
{
	return &os_rows[h->f.os];
}

/* A package version in the style of the host's distribution. */
static void pkg_version(const struct os_row *os, const char *upstream, char *out, size_t n)
{
	if (!os->rpm)
		snprintf(out, n, "%s-1%s%s", upstream, !strcmp(os->id, "ubuntu") ? "" : "+",
			 os->tag);
	else if (!strcmp(os->id, "sles"))
		snprintf(out, n, "%s-%s.3.1", upstream, os->tag);
	else
		snprintf(out, n, "%s-1.%s", upstream, os->tag);
}

static const char *java_home(const struct os_row *os, char *buf, size_t n)
{
	const char *v = strstr(os->java_pkg, "17") ? "17" : strstr(os->java_pkg, "11") ? "11" : "1.8.0";
	if (strstr(os->java_pkg, "corretto"))
		snprintf(buf, n, "/usr/lib/jvm/java-17-amazon-corretto");
	else if (!os->rpm)
		snprintf(buf, n, "/usr/lib/jvm/java-%s-openjdk-amd64", v);
	else
		snprintf(buf, n, "/usr/lib/jvm/jre-%s-openjdk", v);
	return buf;
}

struct proc_desc {
	char name[32], exe[160], cmdline[640], user[32], identity[96];
	uint32_t uid;
	double cpu_share;    /* of the host's busy CPU */
	double mem_share;    /* of the host's used memory */
	bool container;
};

/* How a process of identity ident looks on host h. */
static void describe_ident(const struct estate_gen_host *h, const char *ident, struct proc_desc *d)
{
	const struct os_row *os = host_os(h);
	char stem[64], jh[96];
	host_stem(h, stem, sizeof(stem));
	memset(d, 0, sizeof(*d));
	str_copy(d->identity, ident, sizeof(d->identity));
	str_copy(d->name, ident, sizeof(d->name));
	snprintf(d->exe, sizeof(d->exe), "/usr/sbin/%s", d->identity);
	snprintf(d->cmdline, sizeof(d->cmdline), "/usr/sbin/%s", d->identity);
	str_copy(d->user, "root", sizeof(d->user));
	d->cpu_share = 0.002;
	d->mem_share = 0.005;
	if (!strcmp(ident, "java:org.apache.catalina.startup.Bootstrap")) {
		/* Confluence's bundled Tomcat */
		str_copy(d->name, "java", sizeof(d->name));
		snprintf(d->exe, sizeof(d->exe), "/opt/atlassian/confluence/jre/bin/java");
		snprintf(d->cmdline, sizeof(d->cmdline),
			 "%s -Djava.util.logging.config.file=/opt/atlassian/confluence/conf/logging.properties "
			 "-Xms1024m -Xmx4096m -Dconfluence.home=/var/atlassian/application-data/confluence "
			 "-classpath /opt/atlassian/confluence/bin/bootstrap.jar:/opt/atlassian/confluence/bin/tomcat-juli.jar "
			 "-Dcatalina.base=/opt/atlassian/confluence org.apache.catalina.startup.Bootstrap start",
			 d->exe);
		str_copy(d->user, "confluence", sizeof(d->user));
		d->uid = 1002;
		d->cpu_share = 0.3;
		d->mem_share = 0.4;
	} else if (!strncmp(ident, "python3.11 ", 11)) {
		/* a dispatcher script: what the agent reads is what it names */
		str_copy(d->name, "python3", sizeof(d->name));
		str_copy(d->exe, "/usr/bin/python3.11", sizeof(d->exe));
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/bin/python3 %s", ident + 11);
		str_copy(d->user, "batch", sizeof(d->user));
		d->uid = 1003;
	} else if (!strncmp(ident, "java:", 5)) {
		const char *cls = ident + 5;
		str_copy(d->name, "java", sizeof(d->name));
		snprintf(d->exe, sizeof(d->exe), "%s/bin/java", java_home(os, jh, sizeof(jh)));
		unsigned heap = h->f.mem_gib * 6 / 10 ? h->f.mem_gib * 6 / 10 : 1;
		snprintf(d->cmdline, sizeof(d->cmdline),
			 "%s -Xms1g -Xmx%ug -XX:+UseG1GC -Dspring.profiles.active=prod "
			 "-cp /opt/%s/lib/%s-app-3.4.1.jar %s",
			 d->exe, heap, stem, stem, cls);
		str_copy(d->user, stem, sizeof(d->user));
		d->uid = 1001;
		d->cpu_share = 0.85;
		d->mem_share = 0.8;
	} else if (!strcmp(ident, "postgres")) {
		snprintf(d->exe, sizeof(d->exe), "%s/postgres", os->pg_bin);
		if (os->rpm)
			snprintf(d->cmdline, sizeof(d->cmdline), "%s -D /var/lib/pgsql/data", d->exe);
		else
			snprintf(d->cmdline, sizeof(d->cmdline),
				 "%s -D /var/lib/postgresql/%.2s/main -c config_file=/etc/postgresql/%.2s/main/postgresql.conf",
				 d->exe, os->pg_pkg + 11, os->pg_pkg + 11);
		str_copy(d->user, "postgres", sizeof(d->user));
		d->uid = 26;
		d->cpu_share = 0.8;
		d->mem_share = 0.7;
	} else if (!strcmp(ident, "haproxy")) {
		snprintf(d->cmdline, sizeof(d->cmdline),
			 "/usr/sbin/haproxy -Ws -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid -S /run/haproxy-master.sock");
		str_copy(d->user, "haproxy", sizeof(d->user));
		d->uid = 188;
		d->cpu_share = 0.7;
	} else if (!strcmp(ident, "nginx")) {
		snprintf(d->cmdline, sizeof(d->cmdline),
			 "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;");
		d->cpu_share = 0.6;
		d->mem_share = 0.2;
	} else if (!strcmp(ident, "redis-server")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/bin/redis-server");
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/bin/redis-server 0.0.0.0:6379");
		str_copy(d->user, "redis", sizeof(d->user));
		d->uid = 113;
		d->cpu_share = 0.8;
		d->mem_share = 0.85;
	} else if (!strcmp(ident, "beam.smp")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/lib64/erlang/erts-12.3.2.2/bin/beam.smp");
		snprintf(d->cmdline, sizeof(d->cmdline),
			 "%s -W w -MBas ageffcbf -MHas ageffcbf -MBlmbcs 512 -MHlmbcs 512 -MMmcs 30 -P 1048576 -t 5000000 "
			 "-stbt db -zdbbl 128000 -sbwt none -- -root /usr/lib64/erlang -progname erl -- -home /var/lib/rabbitmq "
			 "-- -pa -noshell -noinput -s rabbit boot -boot start_sasl", d->exe);
		str_copy(d->user, "rabbitmq", sizeof(d->user));
		d->uid = 994;
		d->cpu_share = 0.8;
		d->mem_share = 0.7;
	} else if (!strcmp(ident, "envoy")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/local/bin/envoy");
		snprintf(d->cmdline, sizeof(d->cmdline), "envoy -c /etc/envoy/envoy.yaml --service-cluster %s", stem);
		str_copy(d->user, "101", sizeof(d->user));
		d->uid = 101;
		d->container = true;
	} else if (!strcmp(ident, "memcached")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/bin/memcached");
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/bin/memcached -m 1024 -p 11211 -u memcache -l 127.0.0.1");
		str_copy(d->user, "memcache", sizeof(d->user));
		d->uid = 115;
		d->mem_share = 0.1;
	} else if (!strcmp(ident, "squid")) {
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/sbin/squid -f /etc/squid/squid.conf --foreground -sYC");
		str_copy(d->user, "proxy", sizeof(d->user));
		d->cpu_share = 0.7;
	} else if (!strcmp(ident, "named")) {
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/sbin/named -u named -c /etc/named.conf");
		str_copy(d->user, "named", sizeof(d->user));
		d->cpu_share = 0.7;
	} else if (!strcmp(ident, "slapd")) {
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/sbin/slapd -h ldap:/// ldaps:/// ldapi:/// -u ldap -g ldap");
		str_copy(d->user, "ldap", sizeof(d->user));
		d->cpu_share = 0.7;
	} else if (!strcmp(ident, "prometheus") || !strcmp(ident, "blackbox_exporter") ||
		   !strcmp(ident, "node_exporter")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/local/bin/%s", d->identity);
		if (!strcmp(ident, "prometheus"))
			snprintf(d->cmdline, sizeof(d->cmdline),
				 "/usr/local/bin/prometheus --config.file=/etc/prometheus/prometheus.yml "
				 "--storage.tsdb.path=/var/lib/prometheus --storage.tsdb.retention.time=30d");
		else
			snprintf(d->cmdline, sizeof(d->cmdline), "/usr/local/bin/%s", d->identity);
		str_copy(d->user, "prometheus", sizeof(d->user));
		d->uid = 998;
		d->cpu_share = !strcmp(ident, "prometheus") ? 0.6 : 0.01;
		d->mem_share = !strcmp(ident, "prometheus") ? 0.6 : 0.01;
	} else if (!strcmp(ident, "bacula-dir") || !strcmp(ident, "bacula-fd") ||
		   !strcmp(ident, "bacula-sd")) {
		snprintf(d->exe, sizeof(d->exe), "/opt/bacula/bin/%s", d->identity);
		snprintf(d->cmdline, sizeof(d->cmdline), "/opt/bacula/bin/%s -fP -c /opt/bacula/etc/%s.conf",
			 d->identity, d->identity);
		if (strcmp(ident, "bacula-fd"))
			str_copy(d->user, "bacula", sizeof(d->user));
	} else if (!strcmp(ident, "sshd")) {
		snprintf(d->cmdline, sizeof(d->cmdline), "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups");
	} else if (!strcmp(ident, "chronyd")) {
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/sbin/chronyd -F 2");
		str_copy(d->user, "chrony", sizeof(d->user));
	} else if (!strcmp(ident, "rsyslogd")) {
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/sbin/rsyslogd -n -iNONE");
	} else if (!strcmp(ident, "systemd-resolved")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/lib/systemd/systemd-resolved");
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/lib/systemd/systemd-resolved");
		str_copy(d->user, "systemd-resolve", sizeof(d->user));
	} else if (!strcmp(ident, "sssd_be")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/libexec/sssd/sssd_be");
		snprintf(d->cmdline, sizeof(d->cmdline),
			 "/usr/libexec/sssd/sssd_be --domain example.net --uid 0 --gid 0 --logger=files");
	} else if (!strcmp(ident, "cairn-agent")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/bin/cairn-agent");
		snprintf(d->cmdline, sizeof(d->cmdline), "/usr/bin/cairn-agent run -c /etc/cairn/agent.conf");
		str_copy(d->user, "cairn", sizeof(d->user));
		d->uid = 997;
	} else if (!strcmp(ident, "ssh")) {
		snprintf(d->exe, sizeof(d->exe), "/usr/bin/ssh");
		snprintf(d->cmdline, sizeof(d->cmdline), "ssh -A ops@%s.example.net", stem);
		str_copy(d->user, "ops", sizeof(d->user));
		d->uid = 1500;
	}
}

/* Listeners and processes a host runs besides those its connections show. */
struct extra_listener {
	uint16_t port;
	uint8_t proto;
	const char *addr, *ident;
};

static size_t host_extra_listeners(const struct estate_gen_host *h, struct extra_listener *v)
{
	size_t n = 0;
	v[n++] = (struct extra_listener){ 22, TCP, "0.0.0.0", "sshd" };
	v[n++] = (struct extra_listener){ 9100, TCP, "0.0.0.0", "node_exporter" };
	v[n++] = (struct extra_listener){ 9102, TCP, "0.0.0.0", "bacula-fd" };
	if (h->f.oracle)
		v[n++] = (struct extra_listener){ 1521, TCP, "0.0.0.0", "tnslsnr" };
	if (h->f.dongle)
		v[n++] = (struct extra_listener){ 1947, TCP, "0.0.0.0", "hasplmd" };
	if (h->f.mariadb)
		v[n++] = (struct extra_listener){ 3306, TCP, "127.0.0.1", "mariadbd" };
	if (h->f.mysql)
		v[n++] = (struct extra_listener){ 3306, TCP, "127.0.0.1", "mysqld" };
	if (!strcmp(h->role, "monitoring")) {
		v[n++] = (struct extra_listener){ 9090, TCP, "0.0.0.0", "prometheus" };
		v[n++] = (struct extra_listener){ 3000, TCP, "0.0.0.0", "grafana" };
	}
	if (!strcmp(h->role, "backup"))
		v[n++] = (struct extra_listener){ 9103, TCP, "0.0.0.0", "bacula-sd" };
	if (h->f.confluence)
		v[n++] = (struct extra_listener){ 8090, TCP, "0.0.0.0",
						  "java:org.apache.catalina.startup.Bootstrap" };
	return n;
}

static Cairn__Filesystem *fs_new(const char *mount, const char *dev, const char *type, double gib,
				 double used_share)
{
	Cairn__Filesystem *f = malloc(sizeof(*f));
	if (!f)
		return NULL;
	cairn__filesystem__init(f);
	f->mountpoint = sdup(mount);
	f->device = sdup(dev);
	f->fstype = sdup(type);
	f->size_bytes = (uint64_t)(gib * 1073741824.0);
	f->used_bytes = (uint64_t)(gib * used_share * 1073741824.0);
	f->inodes_total = f->size_bytes / 16384;
	f->inodes_used = (uint64_t)((double)f->inodes_total * used_share * 0.3);
	return f;
}

static Cairn__BlockDevice *disk_new(const char *name, double gib, bool vmware)
{
	Cairn__BlockDevice *d = malloc(sizeof(*d));
	if (!d)
		return NULL;
	cairn__block_device__init(d);
	d->name = sdup(name);
	d->size_bytes = (uint64_t)(gib * 1073741824.0);
	d->model = sdup(vmware ? "Virtual disk" : "");
	d->kind = sdup("disk");
	return d;
}

static void fmt_mac(char *out, size_t n, const char *prefix, uint64_t id)
{
	snprintf(out, n, "%s:%02x:%02x:%02x", prefix, (unsigned)(id >> 16) & 255,
		 (unsigned)(id >> 8) & 255, (unsigned)id & 255);
}

/* Device and filesystem names of a host's volumes. */
static void host_devs(const struct estate_gen_host *h, const char **root, const char **data,
		      const char **nic)
{
	*root = h->f.vmware ? "sda" : "vda";
	*data = h->f.vmware ? "sdb" : "vdb";
	*nic = h->f.vmware ? "ens192" : "eth0";
}

/* Filesystem use grows slowly over the data's period. */
static double fs_growth(const struct estate_gen *e, int64_t t)
{
	int64_t span = e->spec.end_ms - e->spec.start_ms;
	return span > 0 ? 0.03 * (double)(t - e->spec.start_ms) / (double)span : 0;
}

static int host_record(const struct estate_gen *e, uint32_t hi, int64_t t, Cairn__Record **out)
{
	const struct estate_gen_host *h = &e->hosts[hi];
	const struct estate_gen_facts *f = &h->f;
	const struct os_row *os = host_os(h);
	Cairn__HostInfo *info =
		record_with(out, CAIRN__RECORD__KIND_HOST, &cairn__host_info__descriptor);
	if (!info)
		return -ENOMEM;
	const char *rootdev, *datadev, *nicname;
	host_devs(h, &rootdev, &datadev, &nicname);
	char buf[160];
	info->hostname = sdup(h->name);
	snprintf(buf, sizeof(buf), "%s.example.net", h->name);
	info->fqdn = sdup(buf);
	snprintf(buf, sizeof(buf), "%016llx%016llx", (unsigned long long)f->id,
		 (unsigned long long)(f->id * 0x9e3779b97f4a7c15ull));
	info->machine_id = sdup(buf);
	snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(f->id >> 32),
		 (unsigned)(f->id >> 16) & 0xffff, (unsigned)f->id & 0xfff, (unsigned)(f->id >> 52),
		 (unsigned long long)(f->id ^ (uint64_t)f->uptime_days) & 0xffffffffffffull);
	info->boot_id = sdup(buf);
	info->os = malloc(sizeof(*info->os));
	if (!info->os)
		return -ENOMEM;
	cairn__os_release__init(info->os);
	info->os->name = sdup(os->name);
	info->os->id = sdup(os->id);
	info->os->id_like = sdup(os->id_like);
	info->os->version_id = sdup(os->version_id);
	info->os->pretty_name = sdup(os->pretty);
	info->os->version_codename = sdup(os->codename);
	if (f->i686) {
		/* the Debian 686-pae kernel of the same release */
		info->kernel_release = sdup("4.19.0-27-686-pae");
		info->architecture = sdup("i686");
	} else {
		info->kernel_release = sdup(os->kernel);
		info->architecture = sdup("x86_64");
	}
	info->cpu_model = sdup(cpu_models[f->cpu_model].model);
	info->cpu_mhz = cpu_models[f->cpu_model].mhz;
	info->cpu_sockets = f->sockets;
	info->cpu_cores = f->vcpu;
	info->cpu_threads = f->vcpu;
	info->mem_total_bytes = (uint64_t)f->mem_gib << 30;
	info->mem_total_bytes -= info->mem_total_bytes / 50; /* kernel reserved */
	info->swap_total_bytes = (uint64_t)f->swap_gib << 30;
	info->virt = malloc(sizeof(*info->virt));
	if (!info->virt)
		return -ENOMEM;
	cairn__virtualization__init(info->virt);
	info->virt->kind = sdup("vm");
	info->virt->hypervisor = sdup(f->vmware ? "vmware" : "kvm");
	info->virt->container = sdup("");
	info->virt->dmi_sys_vendor = sdup(f->vmware ? "VMware, Inc." : "QEMU");
	info->virt->dmi_product_name = sdup(f->vmware ? "VMware Virtual Platform"
						       : "Standard PC (Q35 + ICH9, 2009)");
	info->virt->cpu_hypervisor_flag = true;
	if (f->vmware)
		snprintf(buf, sizeof(buf), "4231%04x-%04x-%04x-%04x-%012llx", (unsigned)(f->id >> 48),
			 (unsigned)(f->id >> 32) & 0xffff, (unsigned)(f->id >> 16) & 0xffff,
			 (unsigned)f->id & 0xffff, (unsigned long long)(f->id >> 8) & 0xffffffffffffull);
	else
		snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)f->id,
			 (unsigned)(f->id >> 32) & 0xffff, (unsigned)(f->id >> 20) & 0xfff,
			 (unsigned)(f->id >> 40) & 0xfff, (unsigned long long)(f->id >> 4) & 0xffffffffffffull);
	info->virt->dmi_product_uuid = sdup(buf);
	info->timezone = sdup(zones[f->tz].name);
	info->uptime_s = (uint64_t)f->uptime_days * 86400 + (f->id % 86400);
	info->boot_time_ms = t - (int64_t)info->uptime_s * 1000;
	info->collected_ms = t;
	/* disks and filesystems */
	info->disks = calloc(2, sizeof(*info->disks));
	info->filesystems = calloc(5, sizeof(*info->filesystems));
	if (!info->disks || !info->filesystems)
		return -ENOMEM;
	double g = fs_growth(e, t);
	if (!(info->disks[info->n_disks++] = disk_new(rootdev, f->root_gib, f->vmware)))
		return -ENOMEM;
	char dev[48];
	snprintf(dev, sizeof(dev), "/dev/%s%s", rootdev, os->rpm ? "2" : "1");
	const char *rootfs = os->rpm && strcmp(os->id, "sles") ? "xfs" : "ext4";
	if (!strcmp(os->id, "sles"))
		rootfs = "btrfs";
	if (!(info->filesystems[info->n_filesystems++] =
		      fs_new("/", dev, rootfs, f->root_gib - 1, f->root_used + g)))
		return -ENOMEM;
	snprintf(dev, sizeof(dev), "/dev/%s1", rootdev);
	if (os->rpm && !(info->filesystems[info->n_filesystems++] = fs_new("/boot", dev, "xfs", 1, 0.3)))
		return -ENOMEM;
	if (!(info->filesystems[info->n_filesystems++] =
		      fs_new("/run", "tmpfs", "tmpfs", f->mem_gib / 10.0 + 0.1, 0.01)))
		return -ENOMEM;
	if (f->data_gib) {
		if (!(info->disks[info->n_disks++] = disk_new(datadev, f->data_gib, f->vmware)))
			return -ENOMEM;
		snprintf(dev, sizeof(dev), "/dev/mapper/vg_data-lv_%s",
			 strrchr(f->data_mount, '/') + 1);
		if (!(info->filesystems[info->n_filesystems++] =
			      fs_new(f->data_mount, dev, "xfs", f->data_gib, f->data_used + g)))
			return -ENOMEM;
	}
	/* network */
	info->nics = calloc(3, sizeof(*info->nics));
	if (!info->nics)
		return -ENOMEM;
	Cairn__Nic *lo = nic_new("lo", true, 1);
	if (!lo)
		return -ENOMEM;
	info->nics[info->n_nics++] = lo;
	lo->mtu = 65536;
	if (!lo->addresses || !(lo->addresses[lo->n_addresses++] = ip_new("127.0.0.1", 8, "host")))
		return -ENOMEM;
	Cairn__Nic *eth = nic_new(nicname, false, 2);
	if (!eth)
		return -ENOMEM;
	info->nics[info->n_nics++] = eth;
	fmt_mac(buf, sizeof(buf), f->vmware ? "00:50:56" : "52:54:00", f->id);
	free(eth->mac);
	eth->mac = sdup(buf);
	eth->speed_mbps = 10000;
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
		fmt_mac(buf, sizeof(buf), "02:42:ac", f->id >> 24);
		free(d->mac);
		d->mac = sdup(buf);
		if (!d->addresses || !(d->addresses[d->n_addresses++] = ip_new("172.17.0.1", 16, "global")))
			return -ENOMEM;
	}
	info->routes = calloc(1, sizeof(*info->routes));
	if (!info->routes)
		return -ENOMEM;
	Cairn__Route *rt = malloc(sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	cairn__route__init(rt);
	info->routes[info->n_routes++] = rt;
	rt->family = 4;
	rt->destination = sdup("default");
	rt->gateway = sdup("10.1.0.1");
	rt->interface = sdup(nicname);
	info->dns_servers = calloc(2, sizeof(char *));
	info->dns_search = calloc(1, sizeof(char *));
	if (!info->dns_servers || !info->dns_search)
		return -ENOMEM;
	for (uint32_t k = 0; k < 2 && k < e->nhosts; k++)
		if (!strcmp(e->hosts[k].role, "dns"))
			info->dns_servers[info->n_dns_servers++] = saddr(e->hosts[k].addr);
	info->dns_search[info->n_dns_search++] = sdup("example.net");
	return 0;
}

static int listener_add(Cairn__ListenerSet *ls, uint8_t proto, const char *addr, uint16_t port,
			uint32_t pid, const char *ident)
{
	for (size_t q = 0; q < ls->n_listeners; q++)
		if (ls->listeners[q]->port == port && ls->listeners[q]->protocol == proto)
			return 0;
	Cairn__Listener *l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	cairn__listener__init(l);
	ls->listeners[ls->n_listeners++] = l;
	l->protocol = proto;
	l->address = sdup(addr);
	l->port = port;
	l->pid = pid;
	/* comm of a java process is "java" */
	l->process_name = sdup(strncmp(ident, "java:", 5) ? ident : "java");
	l->identity = sdup(ident);
	return l->address && l->process_name && l->identity ? 0 : -ENOMEM;
}

static int listeners_record(const struct estate_gen *e, uint32_t hi, int64_t t, Cairn__Record **out)
{
	Cairn__ListenerSet *ls =
		record_with(out, CAIRN__RECORD__KIND_LISTENERS, &cairn__listener_set__descriptor);
	if (!ls)
		return -ENOMEM;
	ls->taken_ms = t;
	struct extra_listener extra[16];
	size_t nextra = host_extra_listeners(&e->hosts[hi], extra);
	uint32_t nc = e->conn_start[hi + 1] - e->conn_start[hi];
	ls->listeners = calloc(nc + nextra + 1, sizeof(*ls->listeners));
	if (!ls->listeners)
		return -ENOMEM;
	int rc;
	for (uint32_t k = e->conn_start[hi]; k < e->conn_start[hi + 1]; k++) {
		const struct estate_gen_conn *c = &e->conns[e->conn_idx[k]];
		if (c->server != hi)
			continue;
		if ((rc = listener_add(ls, c->proto, c->via == 4 ? "127.0.0.1" : "0.0.0.0", c->port,
				       1000 + c->port, c->server_ident)))
			return rc;
	}
	for (size_t x = 0; x < nextra; x++)
		if ((rc = listener_add(ls, extra[x].proto, extra[x].addr, extra[x].port,
				       1000 + extra[x].port, extra[x].ident)))
			return rc;
	return 0;
}

struct proc_list {
	Cairn__ProcessSnapshot *ps;
	size_t cap;
};

static int proc_add(struct proc_list *pl, const struct estate_gen *e, uint32_t hi, int64_t t,
		    const char *ident, uint32_t pid, uint32_t ppid)
{
	const struct estate_gen_host *h = &e->hosts[hi];
	for (size_t i = 0; i < pl->ps->n_processes; i++)
		if (!strcmp(pl->ps->processes[i]->identity, ident))
			return 0;
	if (pl->ps->n_processes == pl->cap) {
		size_t nc = pl->cap * 2 + 16;
		Cairn__Process **v = realloc(pl->ps->processes, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pl->ps->processes = v;
		pl->cap = nc;
	}
	struct proc_desc d;
	describe_ident(h, ident, &d);
	Cairn__Process *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	cairn__process__init(p);
	pl->ps->processes[pl->ps->n_processes++] = p;
	p->pid = pid;
	p->ppid = ppid;
	p->name = sdup(d.name);
	p->exe = sdup(d.exe);
	p->cmdline = sdup(d.cmdline);
	p->user = sdup(d.user);
	p->uid = d.uid;
	p->identity = sdup(d.identity);
	p->start_time_ms = t - (int64_t)h->f.uptime_days * STORE_DAY_MS + 30000 + pid * 10;
	double busy = h->f.load == ESTATE_GEN_LOAD_IDLE ? 0.5 : h->f.cpu_pct * 0.6;
	p->cpu_pct = busy * h->f.vcpu * d.cpu_share;
	p->rss_bytes = (uint64_t)((double)((uint64_t)h->f.mem_gib << 30) * h->f.mem_share * d.mem_share) +
		       (8u << 20);
	p->threads = d.cpu_share > 0.5 ? 8u + h->f.vcpu * 4u : 1u + pid % 5u;
	if (d.container || (h->docker && !strncmp(ident, "java:", 5)))
		p->container_id = sdup("3f1c2d9a7b10e4c8d2f0a61b5c7e9d3a4b2c1f0e9d8c7b6a5f4e3d2c1b0a9f8e");
	return p->name && p->exe && p->cmdline && p->identity ? 0 : -ENOMEM;
}

static int processes_record(const struct estate_gen *e, uint32_t hi, int64_t t, Cairn__Record **out)
{
	const struct estate_gen_host *h = &e->hosts[hi];
	Cairn__ProcessSnapshot *ps =
		record_with(out, CAIRN__RECORD__KIND_PROCESSES, &cairn__process_snapshot__descriptor);
	if (!ps)
		return -ENOMEM;
	ps->taken_ms = t;
	struct proc_list pl = { ps, 0 };
	static const char *const base[] = { "systemd", "sshd", "rsyslogd", "chronyd", "sssd_be",
					    "node_exporter", "bacula-fd", "cairn-agent" };
	int rc;
	for (size_t i = 0; i < ARRAY_SIZE(base); i++)
		if ((rc = proc_add(&pl, e, hi, t, base[i], i ? 600 + 7 * (uint32_t)i : 1, i ? 1 : 0)))
			return rc;
	/* services and clients its connections show */
	for (uint32_t k = e->conn_start[hi]; k < e->conn_start[hi + 1]; k++) {
		const struct estate_gen_conn *c = &e->conns[e->conn_idx[k]];
		if (c->server == hi && c->server_ident &&
		    (rc = proc_add(&pl, e, hi, t, c->server_ident, 1000 + c->port, 1)))
			return rc;
		if (c->client == hi && c->client_ident && strcmp(c->client_ident, "apt") &&
		    strcmp(c->client_ident, "curl") &&
		    (rc = proc_add(&pl, e, hi, t, c->client_ident, 2000 + c->port, 1)))
			return rc;
	}
	struct extra_listener extra[16];
	size_t nextra = host_extra_listeners(h, extra);
	for (size_t x = 0; x < nextra; x++)
		if ((rc = proc_add(&pl, e, hi, t, extra[x].ident, 1000 + extra[x].port, 1)))
			return rc;
	if (h->f.oracle) {
		static const char *const ora[] = { "ora_pmon_LEDGER", "ora_smon_LEDGER", "ora_lgwr_LEDGER",
						   "ora_dbw0_LEDGER", "ora_ckpt_LEDGER" };
		for (size_t i = 0; i < ARRAY_SIZE(ora); i++) {
			if ((rc = proc_add(&pl, e, hi, t, ora[i], 3100 + (uint32_t)i, 1)))
				return rc;
			Cairn__Process *p = ps->processes[ps->n_processes - 1];
			free(p->exe);
			free(p->cmdline);
			free(p->user);
			p->exe = sdup("/u01/app/oracle/product/19.0.0/dbhome_1/bin/oracle");
			p->cmdline = sdup(ora[i]);
			p->user = sdup("oracle");
			p->uid = 54321;
		}
	}
	if (h->docker && ((rc = proc_add(&pl, e, hi, t, "dockerd", 880, 1)) ||
			  (rc = proc_add(&pl, e, hi, t, "containerd", 870, 1))))
		return rc;
	if (h->f.python_etl) {
		char stem[64], id[96];
		host_stem(h, stem, sizeof(stem));
		snprintf(id, sizeof(id), "python3:nightly_export.py");
		if ((rc = proc_add(&pl, e, hi, t, id, 4100, 1)))
			return rc;
		Cairn__Process *p = ps->processes[ps->n_processes - 1];
		free(p->name);
		free(p->exe);
		free(p->cmdline);
		free(p->user);
		p->name = sdup("python3");
		p->exe = sdup(host_os(h)->rpm ? "/usr/bin/python3.9" : "/usr/bin/python3");
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "/usr/bin/python3 /opt/%s/etl/nightly_export.py --since yesterday", stem);
		p->cmdline = sdup(cmd);
		p->user = sdup(stem);
		p->uid = 1001;
	}
	return 0;
}

static int pkg_add(Cairn__PackageInventory *pi, size_t *cap, const struct os_row *os, const char *name,
		   const char *version)
{
	if (pi->n_packages == *cap) {
		size_t nc = *cap * 2 + 32;
		Cairn__Package **v = realloc(pi->packages, nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pi->packages = v;
		*cap = nc;
	}
	Cairn__Package *p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	cairn__package__init(p);
	pi->packages[pi->n_packages++] = p;
	p->name = sdup(name);
	p->version = sdup(version);
	p->architecture = sdup(os->rpm ? "x86_64" : "amd64");
	p->source = sdup(name);
	p->installed_size = 1024 * (100 + strlen(name) * 97);
	return p->name && p->version ? 0 : -ENOMEM;
}

static int packages_record(const struct estate_gen *e, uint32_t hi, int64_t t, Cairn__Record **out)
{
	const struct estate_gen_host *h = &e->hosts[hi];
	const struct estate_gen_facts *f = &h->f;
	const struct os_row *os = host_os(h);
	Cairn__PackageInventory *pi =
		record_with(out, CAIRN__RECORD__KIND_PACKAGES, &cairn__package_inventory__descriptor);
	if (!pi)
		return -ENOMEM;
	pi->manager = sdup(os->rpm ? "rpm" : "dpkg");
	pi->collected_ms = t;
	size_t cap = 0;
	char v[128], n[96];
	int rc = 0;
#define PKG(name, ver) do { if ((rc = pkg_add(pi, &cap, os, (name), (ver)))) return rc; } while (0)
#define PKGV(name, up) do { pkg_version(os, (up), v, sizeof(v)); PKG((name), v); } while (0)
	PKG(os->libc, os->libc_ver);
	PKG(os->rpm && strcmp(os->id, "sles") ? "openssl" : !strcmp(os->id, "sles") ? "openssl-3" : "openssl",
	    os->openssl);
	PKG("openssh-server", os->openssh);
	PKG("python3", os->python_ver);
	if (f->i686)
		PKG("linux-image-4.19.0-27-686-pae", "4.19.316-1");
	else if (os->rpm)
		PKG(!strcmp(os->id, "ol") ? "kernel-uek" : !strcmp(os->id, "sles") ? "kernel-default" : "kernel",
		    os->kernel);
	else {
		snprintf(n, sizeof(n), "linux-image-%s", os->kernel);
		PKGV(n, "1");
	}
	PKGV("bash", "5.1.8");
	PKGV("coreutils", "8.32");
	PKGV("systemd", "249.11");
	PKGV("rsyslog", "8.2102.0");
	PKGV("chrony", "4.2");
	PKGV("sudo", "1.9.9");
	PKGV("curl", "7.81.0");
	PKGV("ca-certificates", "20240203");
	PKGV("sssd", "2.6.3");
	PKGV(os->rpm ? "bacula-client" : "bacula-fd", "9.6.7");
	PKGV(os->rpm ? "node_exporter" : "prometheus-node-exporter", "1.7.0");
	PKG("cairn-agent", "0.1.0-1");
	const char *role = h->role;
	if (!strcmp(role, "lb")) {
		PKGV("haproxy", "2.4.24");
		PKGV("keepalived", "2.2.4");
	} else if (!strcmp(role, "web") || !strcmp(role, "mirror")) {
		PKG("nginx", os->nginx_ver);
		if (!strcmp(role, "mirror"))
			PKGV("rsync", "3.2.7");
	} else if (!strcmp(role, "app") || !strcmp(role, "batch")) {
		PKG(os->java_pkg, os->java_ver);
	} else if (!strcmp(role, "db") || !strcmp(role, "shared-db")) {
		PKG(os->pg_pkg, os->pg_ver);
		if (!os->rpm)
			PKGV("postgresql-common", "238");
	} else if (!strcmp(role, "cache")) {
		PKGV(os->rpm ? "redis" : "redis-server", "6.2.14");
	} else if (!strcmp(role, "queue")) {
		PKGV("rabbitmq-server", "3.12.13");
		PKGV("erlang", "25.3.2.9");
	} else if (!strcmp(role, "dns")) {
		PKGV(os->rpm ? "bind" : "bind9", "9.16.23");
	} else if (!strcmp(role, "ldap")) {
		PKGV(os->rpm ? "openldap-servers" : "slapd", "2.4.59");
	} else if (!strcmp(role, "monitoring")) {
		PKGV("prometheus", "2.48.1");
		PKGV("grafana", "10.2.3");
		PKGV("prometheus-blackbox-exporter", "0.24.0");
	} else if (!strcmp(role, "backup")) {
		PKGV("bacula-director", "9.6.7");
		PKGV("bacula-storage", "9.6.7");
	} else if (!strcmp(role, "proxy")) {
		PKGV("squid", "5.5");
	}
	if (f->mariadb)
		PKGV("mariadb-server", "10.11.6");
	if (f->mysql)
		PKGV("mysql-server", "8.0.39");
	if (f->oracle) {
		PKG("oracle-database-preinstall-19c", "1.0-2.el8");
		PKG("oracle-database-ee-19c", "1.0-1");
	}
	if (f->dongle)
		PKG("hasplm", "8.31-1");
	if (h->docker) {
		PKGV(os->rpm ? "docker-ce" : "docker.io", "24.0.7");
		PKGV(os->rpm ? "containerd.io" : "containerd", "1.7.12");
	}
#undef PKG
#undef PKGV
	return 0;
}

/* ------------------------------------------------------------ perf windows */

/* One PerfWindow without a single malloc: the write path fills one of these
 * per hour and hands it to ingest_apply; estate_gen_batch copies it. */
struct perf_buf {
	Cairn__Record rec;
	Cairn__PerfWindow w;
	Cairn__Stat st[12];
	Cairn__DiskPerf disk[2], *diskp[2];
	Cairn__Stat dst[2][5];
	Cairn__NicPerf nic[1], *nicp[1];
	Cairn__Stat nst[4];
	Cairn__FsPerf fs[2], *fsp[2];
	Cairn__Stat fst[2];
};

static Cairn__Stat *stat_set(Cairn__Stat *s, double avg, double p95, double max)
{
	cairn__stat__init(s);
	s->avg = avg;
	s->p95 = p95 > avg ? p95 : avg;
	s->max = max > s->p95 ? max : s->p95;
	s->min = avg * 0.4;
	return s;
}

/* Level of activity 0..1 at local hour and weekday for a daily shape. */
static double shape_level(int shape, int hour, int wday)
{
	double day = hour >= 7 && hour <= 19 ? sin(EG_PI * (hour - 7) / 12.0) : 0;
	bool weekend = wday == 0 || wday == 6;
	switch (shape) {
	case 0: /* business hours */
		return (0.2 + 0.8 * day) * (weekend ? 0.45 : 1);
	case 1: { /* nightly batch, 01:00-05:00 */
		double night = hour >= 1 && hour <= 5 ? sin(EG_PI * (hour - 0.5) / 5.0) : 0;
		return 0.12 + 0.88 * night + 0.1 * day;
	}
	default: /* infrastructure: mostly flat */
		return (0.65 + 0.35 * day) * (weekend ? 0.8 : 1);
	}
}

static int64_t perf_ms(const struct estate_gen *e)
{
	return e->spec.perf_window_ms > 0 ? e->spec.perf_window_ms : ESTATE_GEN_PERF_MS;
}

static void perf_fill(const struct estate_gen *e, uint32_t hi, int64_t start, struct perf_buf *pb)
{
	const struct estate_gen_host *h = &e->hosts[hi];
	const struct estate_gen_facts *f = &h->f;
	memset(pb, 0, sizeof(*pb));
	cairn__record__init(&pb->rec);
	pb->rec.kind_case = CAIRN__RECORD__KIND_PERF;
	pb->rec.perf = &pb->w;
	Cairn__PerfWindow *w = &pb->w;
	cairn__perf_window__init(w);
	w->window_start_ms = start;
	w->window_end_ms = start + perf_ms(e);
	w->interval_ms = 15000;
	w->samples = (uint32_t)(perf_ms(e) / w->interval_ms);
	w->cpu_threads = f->vcpu;
	uint64_t mem = (uint64_t)f->mem_gib << 30;
	mem -= mem / 50;
	w->mem_total_bytes = mem;
	int64_t local = start / 1000 + zones[f->tz].offset_h * 3600;
	int hour = (int)((local / 3600) % 24), wday = (int)((local / 86400 + 4) % 7);
	uint64_t jr = f->id ^ (uint64_t)(start / perf_ms(e)) * 0x9e3779b97f4a7c15ull;
	double j = 0.85 + 0.3 * (double)(rng_next(&jr) % 1000) / 1000.0;
	double lvl = shape_level(f->shape, hour, wday);
	if (f->load == ESTATE_GEN_LOAD_IOPS || f->load == ESTATE_GEN_LOAD_BUSY)
		lvl = 0.8 + 0.2 * lvl; /* sustained */
	if (f->load == ESTATE_GEN_LOAD_IDLE)
		lvl = 1;
	double cpu = f->cpu_pct * lvl * j;
	if (cpu > 97)
		cpu = 97;
	double iow = f->iops > 1000 ? cpu * 0.08 : cpu * 0.02;
	double steal = f->vmware ? 0.2 : 0.6;
	stat_set(&pb->st[0], cpu * 0.55, cpu * 0.72, cpu * 0.95);          /* user */
	stat_set(&pb->st[1], cpu * 0.2, cpu * 0.26, cpu * 0.4);            /* system */
	stat_set(&pb->st[2], iow * 0.7, iow, iow * 2);                     /* iowait */
	stat_set(&pb->st[3], steal, steal * 2, steal * 4);                 /* steal */
	double busy_avg = cpu * 0.75, busy_max = cpu * 1.3 > 100 ? 100 : cpu * 1.3;
	stat_set(&pb->st[4], 100 - busy_avg - iow * 0.7, 100 - busy_avg * 0.8, 100 - busy_max * 0.3);
	pb->st[4].p95 = 100 - busy_avg * 0.6;                               /* idle: p95 is high */
	stat_set(&pb->st[5], busy_avg, cpu, busy_max);                      /* busy */
	double load = f->vcpu * cpu / 100.0 * 1.1 + iow / 100.0 * f->vcpu;
	stat_set(&pb->st[6], load * 0.8, load * 1.2, load * 1.6);
	stat_set(&pb->st[7], load * 0.8, load, load * 1.2);
	stat_set(&pb->st[8], load * 0.8, load * 0.9, load);
	double used = (double)mem * f->mem_share * (0.93 + 0.07 * lvl) * (0.98 + 0.04 * j);
	if (used > (double)mem * 0.97)
		used = (double)mem * 0.97;
	stat_set(&pb->st[9], used * 0.98, used, used * 1.02);
	stat_set(&pb->st[10], (double)mem - used * 0.98, (double)mem - used * 0.97,
		 (double)mem - used * 0.95);
	pb->st[10].min = (double)mem - used * 1.02;
	double swap = f->mem_share > 0.6 ? (double)((uint64_t)f->swap_gib << 30) * 0.05 : 0;
	stat_set(&pb->st[11], swap, swap, swap);
	w->cpu_user_pct = &pb->st[0];
	w->cpu_system_pct = &pb->st[1];
	w->cpu_iowait_pct = &pb->st[2];
	w->cpu_steal_pct = &pb->st[3];
	w->cpu_idle_pct = &pb->st[4];
	w->cpu_busy_pct = &pb->st[5];
	w->load1 = &pb->st[6];
	w->load5 = &pb->st[7];
	w->load15 = &pb->st[8];
	w->mem_used_bytes = &pb->st[9];
	w->mem_available_bytes = &pb->st[10];
	w->swap_used_bytes = &pb->st[11];
	/* disks: the root volume, then the data volume */
	const char *rootdev, *datadev, *nicname;
	host_devs(h, &rootdev, &datadev, &nicname);
	w->disks = pb->diskp;
	for (int d = 0; d < (f->data_gib ? 2 : 1); d++) {
		Cairn__DiskPerf *dp = &pb->disk[d];
		cairn__disk_perf__init(dp);
		dp->device = (char *)(d ? datadev : rootdev);
		double iops = d ? f->iops * lvl * j : (f->data_gib ? 8 : f->iops) * (0.5 + 0.5 * lvl) * j;
		double bps = d ? f->mibps * 1048576.0 * lvl * j + iops * 16384 : iops * 8192;
		if (f->load == ESTATE_GEN_LOAD_IDLE)
			iops = bps = 1 + d;
		Cairn__Stat *s = pb->dst[d];
		dp->read_ops_ps = stat_set(&s[0], iops * 0.45, iops * 0.6, iops * 0.9);
		dp->write_ops_ps = stat_set(&s[1], iops * 0.3, iops * 0.4, iops * 0.7);
		dp->read_bytes_ps = stat_set(&s[2], bps * 0.5, bps * 0.65, bps * 1.1);
		dp->write_bytes_ps = stat_set(&s[3], bps * 0.25, bps * 0.35, bps * 0.6);
		double util = iops / (d && f->iops > 10000 ? 220 : 60);
		dp->busy_pct = stat_set(&s[4], util > 90 ? 90 : util, util > 70 ? 95 : util * 1.3,
					util > 50 ? 100 : util * 2);
		pb->diskp[w->n_disks++] = dp;
	}
	Cairn__NicPerf *np = &pb->nic[0];
	cairn__nic_perf__init(np);
	np->name = (char *)nicname;
	double net = f->net_bps * lvl * j;
	np->rx_bytes_ps = stat_set(&pb->nst[0], net * 0.45, net * 0.6, net * 0.9);
	np->tx_bytes_ps = stat_set(&pb->nst[1], net * 0.3, net * 0.4, net * 0.7);
	np->rx_packets_ps = stat_set(&pb->nst[2], net * 0.45 / 900, net * 0.6 / 900, net * 0.9 / 900);
	np->tx_packets_ps = stat_set(&pb->nst[3], net * 0.3 / 700, net * 0.4 / 700, net * 0.7 / 700);
	pb->nicp[0] = np;
	w->nics = pb->nicp;
	w->n_nics = 1;
	double g = fs_growth(e, start);
	w->filesystems = pb->fsp;
	for (int d = 0; d < (f->data_gib ? 2 : 1); d++) {
		Cairn__FsPerf *fp = &pb->fs[d];
		cairn__fs_perf__init(fp);
		double gib = d ? f->data_gib : f->root_gib - 1;
		double share = (d ? f->data_used : f->root_used) + g;
		fp->mountpoint = (char *)(d ? f->data_mount : "/");
		fp->size_bytes = (uint64_t)(gib * 1073741824.0);
		double u = (double)fp->size_bytes * share;
		fp->used_bytes = stat_set(&pb->fst[d], u, u * 1.001, u * 1.002);
		pb->fsp[w->n_filesystems++] = fp;
	}
}

/* Hours of day d (from the data's start) that have a perf window: all of
 * them, unless the host's agent came late. */
static void perf_hours(const struct estate_gen *e, uint32_t hi, uint32_t day, uint32_t *first,
		       uint32_t *n)
{
	*first = 0;
	*n = 24;
	uint32_t total = e->spec.days * 24;
	uint32_t span = e->spec.perf_days < e->spec.days ? e->spec.perf_days * 24 : total;
	uint32_t ph = e->hosts[hi].f.perf_hours;
	if (ph && ph < span)
		span = ph;
	uint32_t from = total - span, d0 = day * 24;
	if (from >= d0 + 24)
		*n = 0;
	else if (from > d0) {
		*first = from - d0;
		*n = 24 - *first;
	}
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

/* A malloc'd copy of one perf window, freed with the batch. */
static int perf_record(const struct estate_gen *e, uint32_t hi, int64_t start, Cairn__Record **out)
{
	struct perf_buf pb;
	perf_fill(e, hi, start, &pb);
	size_t len = cairn__perf_window__get_packed_size(&pb.w);
	uint8_t *buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	cairn__perf_window__pack(&pb.w, buf);
	Cairn__PerfWindow *w = cairn__perf_window__unpack(NULL, len, buf);
	free(buf);
	Cairn__Record *r = w ? record_new() : NULL;
	if (!r) {
		if (w)
			cairn__perf_window__free_unpacked(w, NULL);
		return -ENOMEM;
	}
	r->kind_case = CAIRN__RECORD__KIND_PERF;
	r->perf = w;
	*out = r;
	return 0;
}

enum { PART_INV = 1, PART_PERF = 2, PART_EDGES = 4 };

static int batch_build(const struct estate_gen *e, uint32_t hi, uint32_t day, uint64_t seq,
		       unsigned parts, Cairn__Batch **out)
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
	b->records = calloc(6 + 24, sizeof(*b->records));
	if (!b->records || !b->boot_id || !b->agent_version)
		return -ENOMEM;
	int rc;
	if (parts & PART_INV) {
		/* inventory as the agent sent it last, a minute before the end */
		int64_t ti = t0 + STORE_DAY_MS - 60000;
		int (*const inv[])(const struct estate_gen *, uint32_t, int64_t, Cairn__Record **) = {
			host_record, listeners_record, processes_record, packages_record,
		};
		for (size_t i = 0; i < ARRAY_SIZE(inv); i++) {
			if ((rc = inv[i](e, hi, ti, &b->records[b->n_records])))
				return b->records[b->n_records] ? (b->n_records++, rc) : rc;
			b->n_records++;
		}
	}
	uint32_t first, nh;
	perf_hours(e, hi, day, &first, &nh);
	for (uint32_t k = 0; (parts & PART_PERF) && k < nh; k++) {
		if ((rc = perf_record(e, hi, t0 + (int64_t)(first + k) * ESTATE_GEN_PERF_MS,
				      &b->records[b->n_records])))
			return rc;
		b->n_records++;
	}
	if (!(parts & PART_EDGES))
		return 0;
	Cairn__ConnectionWindow *cw = record_with(&b->records[b->n_records],
						  CAIRN__RECORD__KIND_CONNECTIONS,
						  &cairn__connection_window__descriptor);
	if (!cw)
		return -ENOMEM;
	b->n_records++;
	cw->window_start_ms = t0;
	cw->window_end_ms = t0 + STORE_DAY_MS;
	cw->samples = 5760;
	uint32_t nc = e->conn_start[hi + 1] - e->conn_start[hi];
	cw->edges = calloc(nc + e->spec.extra_edges + e->noutside + 1, sizeof(*cw->edges));
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
				break;
			}
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
	for (size_t o = 0; o < e->noutside; o++) {
		const struct estate_gen_outside *ou = &e->outside[o];
		if (ou->server != hi)
			continue;
		struct estate_gen_conn c = { .client = UINT32_MAX, .server = hi, .port = ou->port,
					     .proto = TCP, .via = 0 };
		uint64_t seed = ((uint64_t)o << 24) ^ day ^ e->spec.seed;
		Cairn__Edge *ed = edge_new(&c, CAIRN__DIRECTION__INBOUND, rng_next(&seed), t0);
		if (!ed)
			return -ENOMEM;
		cw->edges[cw->n_edges++] = ed;
		ed->pid = 1000 + ou->port;
		ed->process_name = sdup("haproxy");
		ed->identity = sdup("haproxy");
		estate_gen_addr(h->addr, a, sizeof(a));
		ed->local_address = sdup(a);
		ed->local_port = ou->port;
		ed->remote_address = saddr(ou->addr);
		if (!ed->remote_address || !ed->identity)
			return -ENOMEM;
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

int estate_gen_batch(const struct estate_gen *e, uint32_t hi, uint32_t day, uint64_t seq, bool full,
		     Cairn__Batch **out)
{
	unsigned parts = PART_PERF | PART_EDGES;
	if (day + 1 == e->spec.days || full)
		parts |= PART_INV;
	return batch_build(e, hi, day, seq, parts, out);
}

static int estate_gen_write_with(const struct estate_gen *e, struct db_env *env,
				 struct perf_buf *pbs, Cairn__Record **recs, struct errbuf *eb);

/* Perf windows in one hour (estate_gen_write). */
static uint32_t perf_per_hour(const struct estate_gen *e)
{
	int64_t n = 3600000 / perf_ms(e);
	return n > 0 ? (uint32_t)n : 1;
}

/* Adds r to the stored rollup of host hi and UTC day or week (unit) in dbi
 * (a day or week the generator writes in parts: its days are not aligned to
 * UTC days). */
static int rollup_flush(const struct estate_gen *e, MDB_txn *txn, MDB_dbi dbi, uint32_t hi,
			uint32_t unit, struct rollup *r)
{
	if (!r->windows)
		return 0;
	struct db_key k;
	db_key_init(&k);
	db_key_bytes(&k, e->hosts[hi].pk, 32);
	db_key_u32(&k, unit);
	ProtobufCMessage *old = NULL;
	int rc = store_get_msg(txn, dbi, &k,
			       &cairn__store__perf_rollup__descriptor, &old);
	if (rc == 0) {
		rc = rollup_merge_msg(r, (const Cairn__Store__PerfRollup *)old);
		protobuf_c_message_free_unpacked(old, NULL);
	} else if (rc == MDB_NOTFOUND) {
		rc = 0;
	}
	if (!rc)
		rc = rollup_put(txn, dbi, &k, r);
	rollup_reset(r);
	return rc;
}

/* The day's perf windows of host hi straight from perf_bufs (no copies);
 * a day older than the last raw_days goes into the day rollups only. */
static int write_perf(const struct estate_gen *e, struct db_env *env, MDB_txn *txn, uint32_t hi,
		      uint32_t day, struct perf_buf *pbs, Cairn__Record **recs)
{
	uint32_t first, nh;
	perf_hours(e, hi, day, &first, &nh);
	if (!nh)
		return 0;
	int64_t t0 = e->spec.start_ms + (int64_t)day * STORE_DAY_MS;
	uint32_t per = perf_per_hour(e), n = 0;
	bool rolled = e->spec.no_raw || (e->spec.raw_days && day + e->spec.raw_days < e->spec.days);
	struct rollup r = { 0 }, rw = { 0 }; /* the day's, the week's */
	uint32_t rday = 0, rweek = 0;
	MDB_dbi dday = env->dbi[STORE_PERF_DAY], dweek = env->dbi[STORE_PERF_WEEK];
	int rc = 0;
	for (uint32_t k = 0; k < nh && !rc; k++)
		for (uint32_t j = 0; j < per && !rc; j++) {
			int64_t start = t0 + (int64_t)(first + k) * 3600000 + (int64_t)j * perf_ms(e);
			perf_fill(e, hi, start, &pbs[rolled ? 0 : n]);
			n++;
			if (!rolled) {
				recs[n - 1] = &pbs[n - 1].rec;
				continue;
			}
			uint32_t d = (uint32_t)(start / STORE_DAY_MS), wk = store_week_of_day(d);
			if (r.windows && d != rday)
				rc = rollup_flush(e, txn, dday, hi, rday, &r);
			if (!rc && rw.windows && wk != rweek)
				rc = rollup_flush(e, txn, dweek, hi, rweek, &rw);
			rday = d;
			rweek = wk;
			if (!rc)
				rc = rollup_add_window(&r, &pbs[0].w);
			if (!rc)
				rc = rollup_add_window(&rw, &pbs[0].w);
		}
	if (rolled) {
		if (!rc)
			rc = rollup_flush(e, txn, dday, hi, rday, &r);
		if (!rc)
			rc = rollup_flush(e, txn, dweek, hi, rweek, &rw);
		rollup_free(&r);
		rollup_free(&rw);
		return rc;
	}
	rollup_free(&rw);
	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.records = recs;
	b.n_records = n;
	b.window_start_ms = t0;
	b.window_end_ms = t0 + STORE_DAY_MS;
	return ingest_apply(txn, env, e->hosts[hi].pk, &b, t0 + STORE_DAY_MS, NULL);
}

int estate_gen_write(const struct estate_gen *e, struct db_env *env, struct errbuf *eb)
{
	size_t nmax = 24 * (size_t)perf_per_hour(e);
	struct perf_buf *pbs = malloc(nmax * sizeof(*pbs));
	Cairn__Record **recs = malloc(nmax * sizeof(*recs));
	if (!pbs || !recs) {
		free(pbs);
		free(recs);
		return errbuf_set(eb, -ENOMEM, "estate: out of memory");
	}
	int wrc = estate_gen_write_with(e, env, pbs, recs, eb);
	free(pbs);
	free(recs);
	return wrc;
}

static int estate_gen_write_with(const struct estate_gen *e, struct db_env *env,
				 struct perf_buf *pbs, Cairn__Record **recs, struct errbuf *eb)
{
	/* Two passes: the edges of every host first, then inventory and perf,
	 * so that the edge pages lie together in the file (the map reads only
	 * those). */
	const uint32_t per_txn = 200;
	MDB_txn *mtxn; /* a new store: every week rollup is complete */
	int mrc = mdb_txn_begin(env->env, NULL, 0, &mtxn);
	if (!mrc && (mrc = store_weeks_mark(mtxn, env, e->spec.start_ms)))
		mdb_txn_abort(mtxn);
	else if (!mrc)
		mrc = mdb_txn_commit(mtxn);
	if (mrc)
		return errbuf_set(eb, mrc, "estate: marking the week rollups: %s", db_strerror(mrc));
	for (uint32_t pass = 0; pass < 2; pass++)
	for (uint32_t first = 0; first < e->nhosts; first += per_txn) {
		MDB_txn *txn;
		int rc = mdb_txn_begin(env->env, NULL, 0, &txn);
		if (rc)
			return errbuf_set(eb, rc, "estate: begin: %s", mdb_strerror(rc));
		uint32_t last = first + per_txn < e->nhosts ? first + per_txn : e->nhosts;
		for (uint32_t h = first; h < last && !rc; h++) {
			for (uint32_t d = 0; d < e->spec.days && !rc; d++) {
				unsigned parts = pass == 0 ? PART_EDGES
							   : d + 1 == e->spec.days ? PART_INV : 0;
				Cairn__Batch *b = NULL;
				if (parts)
					rc = batch_build(e, h, d, d + 1, parts, &b);
				if (!rc && b)
					rc = ingest_apply(txn, env, e->hosts[h].pk, b,
							  e->spec.start_ms + (int64_t)(d + 1) * STORE_DAY_MS,
							  NULL);
				if (b)
					cairn__batch__free_unpacked(b, NULL);
				if (!rc && pass == 1)
					rc = write_perf(e, env, txn, h, d, pbs, recs);
			}
			if (rc || pass == 1)
				continue;
			Cairn__Store__Agent a = CAIRN__STORE__AGENT__INIT;
			a.agent_id.data = (uint8_t *)e->hosts[h].pk;
			a.agent_id.len = 32;
			a.hostname = (char *)e->hosts[h].name;
			a.state = CAIRN__STORE__ENROLL_STATE__ACCEPTED;
			a.first_seen_ms = e->spec.start_ms;
			a.last_seen_ms = e->spec.start_ms + (int64_t)e->spec.days * STORE_DAY_MS;
			a.high_seq = e->spec.days;
			a.enroll_via = (char *)"any";
			rc = store_agent_put(txn, env, &a);
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
