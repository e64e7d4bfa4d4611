#include "analysis_fixture.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "store.h"
#include "util.h"

void fixture_open(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/cairn-analysis-XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	char path[300];
	snprintf(path, sizeof(path), "%s/db", f->dir);
	struct errbuf eb = { { 0 } };
	cr_assert_eq(dir_make(path, 0700, &eb), 0, "%s", eb.msg);
	cr_assert_eq(db_open(&f->env, path, store_db_names, STORE_NDBS, 64u << 20, 1ull << 30,
			     MDB_NOSYNC, &eb),
		     0, "%s", eb.msg);
	f->day0_ms = (time_now_ms() / STORE_DAY_MS - 3) * STORE_DAY_MS;
}

void fixture_close(struct fixture *f)
{
	db_close(&f->env);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	cr_assert_eq(system(cmd), 0);
}

void fixture_id(uint8_t id[32], uint8_t n)
{
	memset(id, n, 32);
}

void fixture_id_hex(char out[65], uint8_t n)
{
	uint8_t id[32];
	fixture_id(id, n);
	hex_encode(out, id, 32);
}

static void apply(struct fixture *f, uint8_t n, Cairn__Batch *b)
{
	uint8_t id[32];
	fixture_id(id, n);
	b->agent_id.data = id;
	b->agent_id.len = 32;
	MDB_txn *txn;
	cr_assert_eq(mdb_txn_begin(f->env.env, NULL, 0, &txn), 0);
	cr_assert_eq(ingest_apply(txn, &f->env, id, b, b->window_end_ms, NULL), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
}

void fixture_host(struct fixture *f, uint8_t n, const char *name, const char *const addrs[])
{
	Cairn__IpAddress ips[16], *ipp[16], lo_ip = CAIRN__IP_ADDRESS__INIT, *lo_ipp = &lo_ip;
	Cairn__Nic nics[17], *nicp[17];
	char text[16][64];
	size_t nn = 0;
	lo_ip.address = (char *)"127.0.0.1";
	lo_ip.prefix_len = 8;
	lo_ip.family = 4;
	cairn__nic__init(&nics[nn]);
	nics[nn].name = (char *)"lo";
	nics[nn].virtual_ = true;
	nics[nn].addresses = &lo_ipp;
	nics[nn].n_addresses = 1;
	nicp[nn] = &nics[nn];
	nn++;
	for (size_t i = 0; addrs && addrs[i] && i < 16; i++) {
		str_copy(text[i], addrs[i], sizeof(text[i]));
		char *bang = strstr(text[i], "!v");
		if (bang)
			*bang = '\0';
		cairn__ip_address__init(&ips[i]);
		ips[i].address = text[i];
		ips[i].family = strchr(text[i], ':') ? 6 : 4;
		ips[i].prefix_len = ips[i].family == 6 ? 64 : 24;
		ipp[i] = &ips[i];
		cairn__nic__init(&nics[nn]);
		nics[nn].name = (char *)(bang ? "docker0" : "eth0");
		nics[nn].virtual_ = bang != NULL;
		nics[nn].up = true;
		nics[nn].addresses = &ipp[i];
		nics[nn].n_addresses = 1;
		nicp[nn] = &nics[nn];
		nn++;
	}
	Cairn__HostInfo hi = CAIRN__HOST_INFO__INIT;
	hi.hostname = (char *)name;
	hi.nics = nicp;
	hi.n_nics = nn;
	Cairn__Record r = CAIRN__RECORD__INIT, *rp = &r;
	r.kind_case = CAIRN__RECORD__KIND_HOST;
	r.host = &hi;
	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.seq = 1;
	b.window_start_ms = f->day0_ms;
	b.window_end_ms = f->day0_ms + 300000;
	b.records = &rp;
	b.n_records = 1;
	apply(f, n, &b);
}

void fixture_edge(struct fixture *f, uint8_t n, uint32_t day, Cairn__Direction dir,
		  const char *ident, const char *raddr, uint32_t port, const char *peer)
{
	fixture_edge_proto(f, n, day, dir, CAIRN__PROTOCOL__TCP, ident, raddr, port, peer);
}

void fixture_edge_proto(struct fixture *f, uint8_t n, uint32_t day, Cairn__Direction dir,
			Cairn__Protocol proto, const char *ident, const char *raddr, uint32_t port,
			const char *peer)
{
	int64_t t0 = f->day0_ms + (int64_t)day * STORE_DAY_MS + 3600000;
	Cairn__Edge e = CAIRN__EDGE__INIT, *ep = &e;
	e.direction = dir;
	e.protocol = proto;
	e.process_name = (char *)ident;
	e.identity = (char *)ident;
	e.samples_seen = 10;
	e.first_seen_ms = t0;
	e.last_seen_ms = t0 + 200000;
	e.bytes_sent = f->edge_bytes_unknown ? 0 : 1000;
	e.bytes_unknown = f->edge_bytes_unknown;
	if (dir == CAIRN__DIRECTION__OUTBOUND) {
		e.remote_address = (char *)raddr;
		e.remote_port = port;
	} else if (dir == CAIRN__DIRECTION__INBOUND) {
		e.remote_address = (char *)raddr;
		e.local_port = port;
	} else {
		e.remote_address = (char *)"127.0.0.1";
		e.remote_port = port;
		e.peer_process_name = (char *)peer;
		e.peer_identity = (char *)peer;
	}
	Cairn__ConnectionWindow cw = CAIRN__CONNECTION_WINDOW__INIT;
	cw.window_start_ms = t0;
	cw.window_end_ms = t0 + 300000;
	cw.samples = 20;
	cw.edges = &ep;
	cw.n_edges = 1;
	Cairn__Record r = CAIRN__RECORD__INIT, *rp = &r;
	r.kind_case = CAIRN__RECORD__KIND_CONNECTIONS;
	r.connections = &cw;
	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.seq = 2;
	b.window_start_ms = t0;
	b.window_end_ms = t0 + 300000;
	b.records = &rp;
	b.n_records = 1;
	apply(f, n, &b);
}

void fixture_conn(struct fixture *f, uint8_t c, const char *caddr, const char *cident, uint8_t s,
		  const char *saddr, const char *sident, uint32_t port)
{
	fixture_edge(f, c, 0, CAIRN__DIRECTION__OUTBOUND, cident, saddr, port, NULL);
	fixture_edge(f, s, 0, CAIRN__DIRECTION__INBOUND, sident, caddr, port, NULL);
}
