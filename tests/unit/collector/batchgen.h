/* Realistic cairn.Batch payloads for tests, the test agent and cairn-loadgen.
 *
 * A batch holds: optionally HostInfo (2 NICs with addresses derived from
 * host_index), nperf PerfWindow records (sub-windows of the report window),
 * a ProcessSnapshot of nprocs processes, a ListenerSet, a ConnectionWindow of
 * nedges edges to other hosts' addresses, and optionally a PackageInventory of
 * npkgs packages. Deterministic for the same options. */
#ifndef CAIRN_TESTS_BATCHGEN_H
#define CAIRN_TESTS_BATCHGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "sign.h"

struct batchgen_opts {
	uint64_t seq;
	int64_t window_start_ms;
	int64_t window_ms;       /* default 300000 */
	uint32_t host_index;     /* addresses 10.(i>>8).(i&255).1 and fd00::i */
	const char *hostname;    /* default "host-<index>" */
	bool with_host;
	bool with_packages;
	uint32_t nperf;          /* PerfWindow records */
	uint32_t nprocs;
	uint32_t nedges;
	uint32_t npkgs;
	uint32_t nhosts;         /* edges point at hosts 0..nhosts-1 (default 100) */
};

void batchgen_defaults(struct batchgen_opts *o);

/* Packs the batch for agent_pk into a malloc'd buffer. *nrecords (may be
 * NULL) receives the number of Record messages. */
int batchgen_build(const uint8_t agent_pk[static KEY_PUBLIC_LEN], const struct batchgen_opts *o,
		   uint8_t **payload, size_t *len, uint32_t *nrecords);

#endif
