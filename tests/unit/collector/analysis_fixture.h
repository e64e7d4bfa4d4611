/* Hand-made estates for the analysis tests: a temporary collector store and
 * helpers that put hosts (with addresses) and edges into it through
 * ingest_apply, the collector's own ingest transaction. */
#ifndef CAIRN_TESTS_ANALYSIS_FIXTURE_H
#define CAIRN_TESTS_ANALYSIS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "db.h"

struct fixture {
	char dir[256];
	struct db_env env;
	int64_t day0_ms;  /* start of the first day of traffic */
	bool edge_bytes_unknown; /* fixture_edge sends edges without byte counters */
};

/* A fresh store in a temporary directory; fixture_close removes it. */
void fixture_open(struct fixture *f);
void fixture_close(struct fixture *f);

/* The agent id of host n (n < 256): 32 bytes of n. */
void fixture_id(uint8_t id[32], uint8_t n);
void fixture_id_hex(char out[65], uint8_t n);

/* Host n named name, with addresses "addr[/virtual]" (NULL-terminated list;
 * a trailing "!v" marks a virtual NIC such as docker0). 127.0.0.1 is added. */
void fixture_host(struct fixture *f, uint8_t n, const char *name, const char *const addrs[]);

/* One edge reported by host n on day (0-based):
 *   OUTBOUND: ident -> raddr:port
 *   INBOUND:  ident listening on port, client raddr
 *   LOCAL:    ident -> peer (port) on the same host */
void fixture_edge(struct fixture *f, uint8_t n, uint32_t day, Cairn__Direction dir,
		  const char *ident, const char *raddr, uint32_t port, const char *peer);
/* The same with a protocol (fixture_edge is TCP). */
void fixture_edge_proto(struct fixture *f, uint8_t n, uint32_t day, Cairn__Direction dir,
			Cairn__Protocol proto, const char *ident, const char *raddr, uint32_t port,
			const char *peer);

/* Client host c connects to server host s (its address saddr) on port:
 * outbound on c and inbound on s (from caddr). */
void fixture_conn(struct fixture *f, uint8_t c, const char *caddr, const char *cident, uint8_t s,
		  const char *saddr, const char *sident, uint32_t port);

#endif
