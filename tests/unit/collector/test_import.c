/* Importing servers without agents (collector/read/import.h): row parsing,
 * every rejected row's FILE:LINE: column: reason, matching and merging with
 * agent hosts, idempotent re-import, dry runs, an agent arriving later. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"
#include "imports.h"
#include "ingest.h"
#include "read.h"
#include "store.h"

/* ------------------------------------------------------------ parsing */

static void parse(const char *text, struct import_file *f)
{
	memset(f, 0, sizeof(*f));
	struct errbuf eb = { { 0 } };
	cr_assert_eq(import_parse_mhub(text, strlen(text), "t.csv", f, &eb), 0, "%s", eb.msg);
}

static const char *const HDR = "ExternalId,IPAddress,MACAddress,HostName,OS.Name,OS.Version,"
			       "CPU.NumberOfLogicalCores,RAM.TotalSizeInMB,CPU.UsagePct.Avg,"
			       "CPU.UsagePct.Max,Applications,ApplicationWave,Tags\r\n";

Test(import, shipped_fixture)
{
	const char *dir = getenv("CAIRN_IMPORT_FIXTURES");
	cr_assert_not_null(dir, "CAIRN_IMPORT_FIXTURES not set (run through meson test)");
	char path[4096];
	snprintf(path, sizeof(path), "%s/servers.csv", dir);
	struct import_file f;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(import_load_mhub(path, &f, &eb), 0, "%s", eb.msg);
	cr_expect_eq(f.n, 9);
	cr_expect_eq(f.nerrors, 0, "%s", f.nerrors ? f.errors[0] : "");
	const Cairn__Store__ImportFacts *r = f.rows[0].facts;
	cr_expect_eq(f.rows[0].line, 2);
	cr_expect_str_eq(r->external_id, "cmdb-1001");
	cr_expect_str_eq(r->hostname, "pay-gw-01");
	cr_expect_str_eq(r->fqdn, "pay-gw-01.corp.example");
	cr_assert_eq(r->n_ips, 1);
	cr_expect_str_eq(r->ips[0], "52.10.0.1");
	cr_expect_str_eq(r->macs[0], "00:50:56:9a:10:01");
	cr_expect_eq(r->cpu_sockets, 2);
	cr_expect_eq(r->cpu_cores, 4);
	cr_expect_eq(r->cpu_threads, 8);
	cr_expect_eq(r->ram_mib, 16384);
	cr_assert_not_null(r->cpu_pct);
	cr_expect_eq(r->cpu_pct->avg, 22.5);
	cr_expect_eq(r->cpu_pct->max, 71);
	cr_assert_eq(r->n_applications, 1);
	cr_expect_str_eq(r->applications[0], "Payments");
	cr_expect_eq(r->wave, 2);
	cr_assert_eq(r->n_tags, 2);
	cr_expect_str_eq(r->tags[0], "environment=prod");
	cr_expect_str_eq(r->tags[1], "owner=payments-team");
	cr_expect_str_eq(r->virt, "vm");
	/* two addresses and two MACs, ',' and ';' separated */
	cr_expect_eq(f.rows[3].facts->n_ips, 2);
	cr_expect_eq(f.rows[3].facts->n_macs, 2);
	import_file_free(&f);
}

Test(import, headers_any_order_case_bom_unknown_columns)
{
	struct import_file f;
	parse("\xEF\xBB\xBFhostname,Owner Team,ipaddress,vmwaremorefid,RAM.TotalSizeInMB\n"
	      "web-01,ops,10.0.0.1,vm-1,\"2048\"\n"
	      "\n"
	      "web-02,ops,\"10.0.0.2, 10.0.0.3\",vm-2,4096\r\n",
	      &f);
	cr_assert_eq(f.n, 2);
	cr_expect_eq(f.rows[1].line, 4);
	cr_expect_str_eq(f.rows[0].facts->hostname, "web-01");
	cr_expect_str_eq(f.rows[0].facts->vmware_moref, "vm-1");
	cr_expect_eq(f.rows[1].facts->n_ips, 2);
	cr_expect_eq(f.rows[1].facts->ram_mib, 4096);
	cr_assert_eq(f.nnotes, 1);
	cr_expect(strstr(f.notes[0], "'Owner Team'"), "%s", f.notes[0]);
	import_file_free(&f);
}

Test(import, every_rejection_names_file_line_column)
{
	char long_name[1100];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	char text[8192];
	snprintf(text, sizeof(text),
		 "%s"
		 "s1,10.0.0.1,,ok-1,Windows,10,4,8192,10,20,App,1,env:prod\r\n"      /* 2 ok */
		 "s2,10.0.0.300,,bad-ip,,,,,,,,,\r\n"                                /* 3 */
		 "s3,10.0.0.3,52:54:zz:00:00:01,bad-mac,,,,,,,,,\r\n"                /* 4 */
		 "s4,10.0.0.4,,bad-cpu,,,four,,,,,,\r\n"                             /* 5 */
		 "s5,10.0.0.5,,neg-ram,,,,-1,,,,,\r\n"                               /* 6 */
		 ",10.0.0.6,,,,,,,,,,,\r\n"                                          /* 7 */
		 "s1,10.0.0.7,,dup,,,,,,,,,\r\n"                                     /* 8 */
		 "s8,10.0.0.8,,%s,,,,,,,,,\r\n"                                      /* 9 */
		 "s9,10.0.0.9,,bad-tag,,,,,,,,,novalue\r\n"                          /* 10 */
		 "s10,10.0.0.10,,bad-env,,,,,,,,,environment:someday\r\n"            /* 11 */
		 "s11,10.0.0.11,,bad-pct,,,,,101,,,,\r\n"                            /* 12 */
		 "s12,10.0.0.12,,bad-wave,,,,,,,,soon,\r\n"                          /* 13 */
		 "s13,10.0.0.13,,avg-above-max,,,,,50,40,,,\r\n",                    /* 14 */
		 HDR, long_name);
	struct import_file f;
	parse(text, &f);
	cr_expect_eq(f.n, 1, "only line 2 is good, %zu kept", f.n);
	cr_expect_eq(f.lines, 13);
	static const char *const want[] = {
		"t.csv:3: IPAddress: '10.0.0.300' is not an IP address",
		"t.csv:4: MACAddress: '52:54:zz:00:00:01' is not a MAC address",
		"t.csv:5: CPU.NumberOfLogicalCores: 'four' is not a number",
		"t.csv:6: RAM.TotalSizeInMB: -1 is negative",
		"t.csv:7: ExternalId: no identity",
		"t.csv:9: HostName: longer than 1024 bytes",
		"t.csv:10: Tags: 'novalue' is not key:value or key=value",
		"t.csv:11: Tags: ",
		"t.csv:12: CPU.UsagePct.Avg: 101 is above 100",
		"t.csv:13: ApplicationWave: 'soon' is not a wave number",
		"t.csv:14: CPU.UsagePct.Avg: average 50.00 above the maximum 40.00",
		"t.csv:8: ExternalId: 's1' already on line 2",
	};
	cr_assert_eq(f.nerrors, sizeof(want) / sizeof(want[0]), "%zu errors", f.nerrors);
	for (size_t i = 0; i < f.nerrors; i++)
		cr_expect(!strncmp(f.errors[i], want[i], strlen(want[i])), "got '%s', want '%s...'",
			  f.errors[i], want[i]);
	import_file_free(&f);
}

Test(import, whole_file_errors)
{
	struct import_file f;
	memset(&f, 0, sizeof(f));
	struct errbuf eb = { { 0 } };
	cr_expect_eq(import_parse_mhub("OS.Name,RAM.TotalSizeInMB\nx,1\n", 30, "t.csv", &f, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "t.csv:1: no identity column"), "%s", eb.msg);
	import_file_free(&f);
	memset(&f, 0, sizeof(f));
	cr_expect_eq(import_parse_mhub("HostName\n\"open\n", 15, "t.csv", &f, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "t.csv:2: quoted field never closed"), "%s", eb.msg);
	import_file_free(&f);
	memset(&f, 0, sizeof(f));
	cr_expect_eq(import_parse_mhub("HostName;IPAddress\nweb;1.2.3.4\n", 31, "t.csv", &f, &eb), -EINVAL);
	cr_expect(strstr(eb.msg, "t.csv:1: the header is one column with ';'"), "%s", eb.msg);
	import_file_free(&f);
}

/* ------------------------------------------------------------ a store */

struct store {
	char dir[64];
	struct read_ctx r;
};

static void store_open_tmp(struct store *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/cairn-import-XXXXXX");
	cr_assert_not_null(mkdtemp(s->dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/db", s->dir);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(dir_make(path, 0700, &eb), 0, "%s", eb.msg);
	struct db_env env;
	cr_assert_eq(db_open(&env, path, store_db_names, STORE_NDBS, 64u << 20, 1ull << 30, 0, &eb), 0,
		     "%s", eb.msg);
	db_close(&env);
	cr_assert_eq(read_open(&s->r, s->dir, NULL, true, &eb), 0, "%s", eb.msg);
}

static void store_close(struct store *s)
{
	read_close(&s->r);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	cr_assert_eq(system(cmd), 0);
}

/* Agent host n through ingest: one NIC with mac and ip, an SMBIOS id. */
static void agent_host(struct store *s, uint8_t n, const char *name, const char *mac,
		       const char *ip, const char *uuid)
{
	Cairn__IpAddress a = CAIRN__IP_ADDRESS__INIT, *ap = &a;
	a.address = (char *)ip;
	a.prefix_len = 24;
	a.family = 4;
	a.scope = (char *)"global";
	Cairn__Nic nic = CAIRN__NIC__INIT, *nicp = &nic;
	nic.name = (char *)"eth0";
	nic.mac = (char *)(mac ? mac : "");
	nic.up = true;
	nic.addresses = &ap;
	nic.n_addresses = 1;
	Cairn__Virtualization v = CAIRN__VIRTUALIZATION__INIT;
	v.dmi_product_uuid = (char *)(uuid ? uuid : "");
	Cairn__HostInfo hi = CAIRN__HOST_INFO__INIT;
	hi.hostname = (char *)name;
	hi.nics = &nicp;
	hi.n_nics = 1;
	hi.virt = &v;
	hi.cpu_threads = 4;
	hi.mem_total_bytes = 8ull << 30;
	Cairn__Record rec = CAIRN__RECORD__INIT, *rp = &rec;
	rec.kind_case = CAIRN__RECORD__KIND_HOST;
	rec.host = &hi;
	uint8_t id[32];
	memset(id, n, 32);
	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.seq = 1;
	b.agent_id.data = id;
	b.agent_id.len = 32;
	b.window_start_ms = time_now_ms() - 300000;
	b.window_end_ms = time_now_ms();
	b.records = &rp;
	b.n_records = 1;
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(s->r.db.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_apply(txn, &s->r.db, id, &b, b.window_end_ms, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

static void apply(struct store *s, const char *text, bool dry, struct import_result *res,
		  struct import_file *f)
{
	parse(text, f);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(import_apply(&s->r, f, dry, "tester", time_now_ms(), res, &eb), 0, "%s", eb.msg);
}

static uint64_t facts_gen(struct store *s)
{
	struct read_txn t;
	cr_assert_eq(read_begin(&s->r, &t, NULL), 0);
	uint64_t g = read_facts_gen(t.txn, t.db);
	read_end(&t);
	return g;
}

static size_t entries(struct store *s, enum store_db db)
{
	struct read_txn t;
	cr_assert_eq(read_begin(&s->r, &t, NULL), 0);
	MDB_stat st;
	cr_assert_eq(mdb_stat(t.txn, t.db->dbi[db], &st), 0);
	read_end(&t);
	return st.ms_entries;
}

static const char *const MERGE_ROWS =
	"ExternalId,SMBiosId,IPAddress,MACAddress,HostName,Applications\r\n"
	"e-mac,,192.168.9.9,52:54:00:00:00:0A,other-name,Shop\r\n"             /* 2: A by MAC */
	"e-smbios,4C4C4544-0000-1111-2222-333344445555,,,db-01,\r\n"         /* 3: B by SMBIOS */
	"e-name,,10.0.0.12,,app-01.corp.example,\r\n"                          /* 4: C by hostname+IP */
	"e-two,,10.0.0.11,52:54:00:00:00:0a,db-01,\r\n"                        /* 5: A (MAC) and B (name+IP) */
	"e-again,,10.0.0.12,,app-01,\r\n"                                      /* 6: C again */
	"e-new,,10.9.9.9,52:54:00:00:99:99,win-01,Payroll\r\n";                /* 7: new */

static void three_agents(struct store *s)
{
	agent_host(s, 0xa, "web-01", "52:54:00:00:00:0a", "10.0.0.10", NULL);
	agent_host(s, 0xb, "db-01", "52:54:00:00:00:0b", "10.0.0.11",
		   "4c4c4544-0000-1111-2222-333344445555");
	agent_host(s, 0xc, "app-01", "", "10.0.0.12", NULL);
}

Test(import, merges_by_mac_smbios_hostname_ip_and_conflicts)
{
	struct store s;
	store_open_tmp(&s);
	three_agents(&s);
	struct import_result res;
	struct import_file f;
	apply(&s, MERGE_ROWS, false, &res, &f);
	cr_assert_eq(res.n, 6);
	char a[65], b[65], c[65];
	uint8_t id[32];
	memset(id, 0xa, 32), hex_encode(a, id, 32);
	memset(id, 0xb, 32), hex_encode(b, id, 32);
	memset(id, 0xc, 32), hex_encode(c, id, 32);
	cr_expect_eq(res.v[0].what, IMPORT_MERGED);
	cr_expect_str_eq(res.v[0].host_hex, a);
	cr_expect_str_eq(res.v[0].matched_by, "MAC 52:54:00:00:00:0a");
	cr_expect_eq(res.v[1].what, IMPORT_MERGED);
	cr_expect_str_eq(res.v[1].host_hex, b);
	cr_expect(!strncmp(res.v[1].matched_by, "SMBIOS id", 9), "%s", res.v[1].matched_by);
	cr_expect_eq(res.v[2].what, IMPORT_MERGED);
	cr_expect_str_eq(res.v[2].host_hex, c);
	cr_expect_str_eq(res.v[2].matched_by, "hostname+IP app-01|10.0.0.12");
	cr_expect_eq(res.v[3].what, IMPORT_REJECTED);
	cr_expect_eq(res.v[4].what, IMPORT_REJECTED);
	cr_expect_eq(res.v[5].what, IMPORT_NEW);
	cr_assert_eq(res.nconflicts, 2);
	cr_expect(strstr(res.conflicts[0], "t.csv:5: HostName: ") && strstr(res.conflicts[0], "matches agent hosts"),
		  "%s", res.conflicts[0]);
	cr_expect(strstr(res.conflicts[1], "t.csv:6: HostName: ") && strstr(res.conflicts[1], "same server as line 4"),
		  "%s", res.conflicts[1]);
	cr_expect_eq(res.count[IMPORT_MERGED], 3);
	cr_expect_eq(res.count[IMPORT_NEW], 1);
	cr_expect_eq(res.count[IMPORT_REJECTED], 2);
	/* merged rows add no host; the new one is a host of its own with its claims */
	cr_expect_eq(entries(&s, STORE_HOSTS), 4);
	cr_expect_eq(entries(&s, STORE_IMPORTS), 4);
	cr_expect_eq(entries(&s, STORE_ADDRS), 3 + 1);
	/* the merged agent host carries the import; hosts lists say agent+import */
	struct read_txn t;
	cr_assert_eq(read_begin(&s.r, &t, NULL), 0);
	struct read_agents ags;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(read_agents(&t, READ_AGENT_FACTS | READ_AGENT_IMPORTS, &ags, &eb), 0, "%s", eb.msg);
	read_end(&t);
	size_t imported_only = 0;
	for (size_t i = 0; i < ags.n; i++)
		imported_only += ags.v[i].imported_only;
	cr_expect_eq(imported_only, 1);
	read_agents_free(&ags);
	import_result_free(&res);
	import_file_free(&f);
	store_close(&s);
}

Test(import, reimport_is_idempotent_and_dry_run_writes_nothing)
{
	struct store s;
	store_open_tmp(&s);
	three_agents(&s);
	uint64_t g0 = facts_gen(&s);
	struct import_result res;
	struct import_file f;
	apply(&s, MERGE_ROWS, true, &res, &f);
	cr_expect_eq(res.count[IMPORT_MERGED], 3);
	cr_expect(!res.written);
	cr_expect_eq(entries(&s, STORE_IMPORTS), 0, "a dry run wrote");
	cr_expect_eq(facts_gen(&s), g0);
	import_result_free(&res);
	import_file_free(&f);

	apply(&s, MERGE_ROWS, false, &res, &f);
	uint64_t g1 = facts_gen(&s);
	cr_expect_gt(g1, g0);
	cr_expect_eq(entries(&s, STORE_AUDIT), 1, "one audit entry per import");
	import_result_free(&res);
	import_file_free(&f);

	apply(&s, MERGE_ROWS, false, &res, &f);
	cr_expect_eq(res.count[IMPORT_UNCHANGED], 4);
	cr_expect_eq(res.count[IMPORT_NEW] + res.count[IMPORT_UPDATED] + res.count[IMPORT_MERGED], 0);
	cr_expect(!res.written);
	cr_expect_eq(facts_gen(&s), g1, "an unchanged re-import bumped facts_gen");
	cr_expect_eq(entries(&s, STORE_AUDIT), 1, "an unchanged re-import wrote an audit entry");
	import_result_free(&res);
	import_file_free(&f);

	/* a later file updates */
	apply(&s,
	      "ExternalId,IPAddress,MACAddress,HostName,Applications\r\n"
	      "e-new,10.9.9.10,52:54:00:00:99:99,win-01,Payroll\r\n",
	      false, &res, &f);
	cr_expect_eq(res.count[IMPORT_UPDATED], 1);
	cr_expect_gt(facts_gen(&s), g1);
	import_result_free(&res);
	import_file_free(&f);
	store_close(&s);
}

Test(import, agent_arriving_later_takes_the_import_over)
{
	struct store s;
	store_open_tmp(&s);
	struct import_result res;
	struct import_file f;
	apply(&s,
	      "ExternalId,IPAddress,MACAddress,HostName,Tags\r\n"
	      "cmdb-7,10.5.5.5,52:54:00:12:34:56,late-01,owner:ops\r\n",
	      false, &res, &f);
	cr_assert_eq(res.count[IMPORT_NEW], 1);
	char own[65];
	str_copy(own, res.v[0].host_hex, sizeof(own));
	import_result_free(&res);
	import_file_free(&f);
	cr_expect_eq(entries(&s, STORE_HOSTS), 1);
	cr_expect_eq(entries(&s, STORE_IMPORT_KEYS), 2);

	agent_host(&s, 0x42, "late-01", "52:54:00:12:34:56", "10.5.5.5", NULL);
	/* the imported-only host is gone: one host, its import under the agent */
	cr_expect_eq(entries(&s, STORE_HOSTS), 1);
	cr_expect_eq(entries(&s, STORE_IMPORT_KEYS), 0);
	cr_expect_eq(entries(&s, STORE_IMPORTS), 1);
	uint8_t id[32];
	memset(id, 0x42, 32);
	struct read_txn t;
	cr_assert_eq(read_begin(&s.r, &t, NULL), 0);
	Cairn__Store__ImportedServer *imp = NULL;
	cr_assert_eq(imports_get(t.txn, t.db, id, &imp), 0);
	cr_expect(imp->merged);
	cr_expect(strstr(imp->matched_by, "52:54:00:12:34:56"), "%s", imp->matched_by);
	cairn__store__imported_server__free_unpacked(imp, NULL);
	/* its tag moved with it */
	char hex[65];
	hex_encode(hex, id, 32);
	MDB_val k = { 64, hex }, v;
	cr_expect_eq(mdb_get(t.txn, t.db->dbi[STORE_TAGS], &k, &v), 0, "tags did not move");
	MDB_val ko = { 64, own };
	cr_expect_eq(mdb_get(t.txn, t.db->dbi[STORE_TAGS], &ko, &v), MDB_NOTFOUND);
	read_end(&t);

	/* re-importing the file now finds the agent host: unchanged */
	apply(&s,
	      "ExternalId,IPAddress,MACAddress,HostName,Tags\r\n"
	      "cmdb-7,10.5.5.5,52:54:00:12:34:56,late-01,owner:ops\r\n",
	      false, &res, &f);
	cr_expect_eq(res.count[IMPORT_UNCHANGED], 1, "new %zu merged %zu updated %zu",
		     res.count[IMPORT_NEW], res.count[IMPORT_MERGED], res.count[IMPORT_UPDATED]);
	cr_expect(res.v[0].merged);
	import_result_free(&res);
	import_file_free(&f);
	store_close(&s);
}

Test(import, host_id_is_stable_and_identity_ordered)
{
	Cairn__Store__ImportFacts a = CAIRN__STORE__IMPORT_FACTS__INIT, b = a;
	a.external_id = (char *)"x-1";
	a.hostname = (char *)"one";
	b.external_id = (char *)"x-1";
	b.hostname = (char *)"renamed";
	uint8_t ia[32], ib[32];
	cr_assert_eq(imports_host_id(&a, ia), 0);
	cr_assert_eq(imports_host_id(&b, ib), 0);
	cr_expect_eq(memcmp(ia, ib, 32), 0, "ExternalId, not the name, is the identity");
	b.smbios_id = (char *)"4c4c4544-0000";
	cr_assert_eq(imports_host_id(&b, ib), 0);
	cr_expect_neq(memcmp(ia, ib, 32), 0, "an SMBIOS id comes first");
	Cairn__Store__ImportFacts none = CAIRN__STORE__IMPORT_FACTS__INIT;
	cr_expect_eq(imports_host_id(&none, ia), -EINVAL);
}

/* ------------------------------------------------------------ RVTools */

static const Cairn__Store__ImportFacts *vm(const struct import_file *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->rows[i].facts->vm_name, name))
			return f->rows[i].facts;
	return NULL;
}

Test(import, rvtools_fixture_joins_tabs)
{
	const char *dir = getenv("CAIRN_IMPORT_FIXTURES");
	cr_assert_not_null(dir);
	char path[4096];
	snprintf(path, sizeof(path), "%s/rvtools", dir);
	struct import_file f;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(import_load_rvtools(path, &f, &eb), 0, "%s", eb.msg);
	cr_expect_eq(f.n, 7, "8 VMs, one a template");
	cr_expect_eq(f.nerrors, 0, "%s", f.nerrors ? f.errors[0] : "");
	cr_expect(strstr(f.rows_file, "RVTools_tabvInfo.csv"), "%s", f.rows_file);
	const Cairn__Store__ImportFacts *sql = vm(&f, "ESX-SQL01");
	cr_assert_not_null(sql);
	cr_expect_str_eq(sql->hostname, "sql01");
	cr_expect_str_eq(sql->smbios_id, "4211a1b2-0c3d-4e5f-8a9b-0c1d2e3f4a02");
	cr_expect_str_eq(sql->external_id, "vcenter01.lab.example/vm-202");
	cr_expect_eq(sql->cpu_sockets, 2);
	cr_expect_eq(sql->cpu_threads, 8);
	cr_expect_eq(sql->ram_mib, 32768);
	cr_expect_eq(sql->n_disk_names, 3, "vDisk: three disks");
	cr_expect_eq(sql->disk_mib, 512000);
	cr_expect_str_eq(sql->cluster, "PROD-CL01");
	cr_expect_str_eq(sql->esx_host, "esx01.lab.example");
	cr_expect_str_eq(sql->virt, "vm");
	const Cairn__Store__ImportFacts *app = vm(&f, "ESX-APP01");
	cr_assert_not_null(app);
	cr_expect_eq(app->n_macs, 2, "vNetwork: two adapters");
	cr_expect_eq(app->n_ips, 2);
	const Cairn__Store__ImportFacts *old = vm(&f, "old-erp-2008");
	cr_assert_not_null(old);
	cr_expect(old->powered_off);
	cr_expect_str_eq(old->hostname, "old-erp-2008", "no DNS name: the VM name");
	const Cairn__Store__ImportFacts *rhel = vm(&f, "rhel-batch-01");
	cr_assert_not_null(rhel);
	cr_expect_str_eq(rhel->os_version, "8", "version from 'Red Hat Enterprise Linux 8 (64-bit)'");
	cr_expect_null(vm(&f, "tpl-win2022"), "templates are not servers");
	import_file_free(&f);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

Test(import, rvtools_detail_errors_name_their_file)
{
	char dir[] = "/tmp/cairn-rvtools-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	write_file(dir, "vInfo.csv", "VM,Powerstate,CPUs,Memory,DNS Name,Primary IP Address\n"
				     "a,poweredOn,2,2048,a.lab,10.0.0.1\n"
				     "b,poweredOn,2,lots,b.lab,10.0.0.2\n"
				     "c,poweredOn,2,2048,c.lab,10.0.0.3\n");
	write_file(dir, "vNetwork.csv", "VM,Adapter,Network,Mac Address,IPv4 Address,IPv6 Address\n"
					"a,VMXNET3,VLAN-1,00:50:56:00:00:01,10.0.0.1,\n"
					"c,VMXNET3,VLAN-1,00:50:56:00:00:zz,10.0.0.3,\n");
	struct import_file f;
	struct errbuf eb = { { 0 } };
	cr_assert_eq(import_load_rvtools(dir, &f, &eb), 0, "%s", eb.msg);
	cr_expect_eq(f.n, 1);
	cr_assert_eq(f.nerrors, 2);
	cr_expect(strstr(f.errors[0], "/vInfo.csv:3: Memory: 'lots' is not a number"), "%s", f.errors[0]);
	cr_expect(strstr(f.errors[1], "/vNetwork.csv:3: Mac Address: '00:50:56:00:00:zz' is not a MAC"),
		  "%s", f.errors[1]);
	cr_expect(f.nnotes >= 3, "missing vCPU, vMemory, vDisk are noted");
	import_file_free(&f);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(import, ambiguous_late_agent_is_folded_by_the_next_import)
{
	struct store s;
	store_open_tmp(&s);
	struct import_result res;
	struct import_file f;
	/* two imported-only servers that the agent below both matches */
	apply(&s,
	      "ExternalId,IPAddress,MACAddress,HostName\r\n"
	      "x-1,10.6.0.1,52:54:00:66:00:01,srv-a\r\n"
	      "y-1,10.6.0.9,,srv-b\r\n",
	      false, &res, &f);
	cr_assert_eq(res.count[IMPORT_NEW], 2);
	import_result_free(&res);
	import_file_free(&f);
	/* MAC of x-1, name and address of y-1: ambiguous, ingest folds neither */
	agent_host(&s, 0x51, "srv-b", "52:54:00:66:00:01", "10.6.0.9", NULL);
	cr_expect_eq(entries(&s, STORE_HOSTS), 3);
	/* the next import of x-1 finds the agent by MAC and folds x-1's host into it;
	 * y-1's row is then the same agent host: a conflict, reported */
	apply(&s,
	      "ExternalId,IPAddress,MACAddress,HostName\r\n"
	      "x-1,10.6.0.1,52:54:00:66:00:01,srv-a\r\n"
	      "y-1,10.6.0.9,,srv-b\r\n",
	      false, &res, &f);
	cr_expect_eq(res.v[0].what, IMPORT_MERGED);
	cr_expect_eq(res.v[0].folded, 1);
	cr_expect_eq(res.v[1].what, IMPORT_REJECTED);
	cr_expect_eq(res.nconflicts, 1);
	cr_expect_eq(entries(&s, STORE_HOSTS), 2, "x-1's own host is gone, y-1's stays");
	import_result_free(&res);
	import_file_free(&f);
	store_close(&s);
}

/* What people recorded on an imported server (migration status and history,
 * an application pin, tags) follows it into the agent host that takes it
 * over; the agent host's own tags win key by key. */
Test(import, agent_takeover_keeps_status_pins_and_tags)
{
	struct store s;
	store_open_tmp(&s);
	struct import_result res;
	struct import_file f;
	apply(&s,
	      "ExternalId,IPAddress,MACAddress,HostName,Tags\r\n"
	      "cmdb-9,10.6.6.6,52:54:00:aa:bb:cc,late-02,owner:ops;environment:test\r\n",
	      false, &res, &f);
	char own[65];
	str_copy(own, res.v[0].host_hex, sizeof(own));
	import_result_free(&res);
	import_file_free(&f);
	uint8_t id[32];
	memset(id, 0x43, 32);
	char agent[65];
	hex_encode(agent, id, 32);

	/* a status with one history entry and a pin on the imported id; a tag
	 * the agent host already has */
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(s.r.db.env, NULL, 0, &txn), 0);
	Cairn__Store__MigrationStatus ms = CAIRN__STORE__MIGRATION_STATUS__INIT;
	ms.target = own;
	ms.state = CAIRN__STORE__MIGRATION_STATE__IN_PROGRESS;
	ms.progress_pct = 40;
	struct db_key k;
	db_key_init(&k);
	db_key_str(&k, own);
	cr_assert_eq(store_put_msg(txn, s.r.db.dbi[STORE_MIGRATION], &k, &ms.base), 0);
	db_key_u8(&k, 0);
	db_key_u64(&k, 1234);
	cr_assert_eq(store_put_msg(txn, s.r.db.dbi[STORE_MIGRATION_HIST], &k, &ms.base), 0);
	Cairn__Store__Decision d = CAIRN__STORE__DECISION__INIT;
	d.kind = CAIRN__STORE__DECISION_KIND__HOST_PIN;
	d.subject = own;
	d.value = "app-x";
	db_key_init(&k);
	db_key_u8(&k, CAIRN__STORE__DECISION_KIND__HOST_PIN);
	db_key_str(&k, own);
	cr_assert_eq(store_put_msg(txn, s.r.db.dbi[STORE_DECISIONS], &k, &d.base), 0);
	Cairn__Store__Tag tg = CAIRN__STORE__TAG__INIT, *tp = &tg;
	tg.key = "owner";
	tg.value = "dba-team";
	tg.source = "person";
	Cairn__Store__TagSet ts = CAIRN__STORE__TAG_SET__INIT;
	ts.subject = agent;
	ts.tags = &tp;
	ts.n_tags = 1;
	db_key_init(&k);
	db_key_str(&k, agent);
	cr_assert_eq(store_put_msg(txn, s.r.db.dbi[STORE_TAGS], &k, &ts.base), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);

	agent_host(&s, 0x43, "late-02", "52:54:00:aa:bb:cc", "10.6.6.6", NULL);

	struct read_txn t;
	cr_assert_eq(read_begin(&s.r, &t, NULL), 0);
	ProtobufCMessage *m = NULL;
	db_key_init(&k);
	db_key_str(&k, agent);
	cr_assert_eq(store_get_msg(t.txn, t.db->dbi[STORE_MIGRATION], &k,
				   &cairn__store__migration_status__descriptor, &m), 0, "status did not move");
	cr_expect_str_eq(((Cairn__Store__MigrationStatus *)m)->target, agent);
	cr_expect_eq(((Cairn__Store__MigrationStatus *)m)->progress_pct, 40);
	protobuf_c_message_free_unpacked(m, NULL);
	db_key_u8(&k, 0);
	db_key_u64(&k, 1234);
	cr_expect_eq(store_get_msg(t.txn, t.db->dbi[STORE_MIGRATION_HIST], &k,
				   &cairn__store__migration_status__descriptor, &m), 0, "history did not move");
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
	db_key_init(&k);
	db_key_u8(&k, CAIRN__STORE__DECISION_KIND__HOST_PIN);
	db_key_str(&k, agent);
	cr_assert_eq(store_get_msg(t.txn, t.db->dbi[STORE_DECISIONS], &k,
				   &cairn__store__decision__descriptor, &m), 0, "pin did not move");
	cr_expect_str_eq(((Cairn__Store__Decision *)m)->subject, agent);
	cr_expect_str_eq(((Cairn__Store__Decision *)m)->value, "app-x");
	protobuf_c_message_free_unpacked(m, NULL);
	db_key_init(&k);
	db_key_str(&k, agent);
	cr_assert_eq(store_get_msg(t.txn, t.db->dbi[STORE_TAGS], &k, &cairn__store__tag_set__descriptor,
				   &m), 0);
	const Cairn__Store__TagSet *got = (const Cairn__Store__TagSet *)m;
	cr_assert_eq(got->n_tags, 2, "the agent's owner and the import's environment");
	cr_expect_str_eq(got->tags[0]->key, "environment");
	cr_expect_str_eq(got->tags[0]->value, "test");
	cr_expect_str_eq(got->tags[1]->value, "dba-team", "the agent host's own tag wins");
	protobuf_c_message_free_unpacked(m, NULL);
	/* nothing is left under the imported id */
	MDB_val ko = { 64, own }, v;
	cr_expect_eq(mdb_get(t.txn, t.db->dbi[STORE_MIGRATION], &ko, &v), MDB_NOTFOUND);
	cr_expect_eq(mdb_get(t.txn, t.db->dbi[STORE_TAGS], &ko, &v), MDB_NOTFOUND);
	read_end(&t);
	store_close(&s);
}
