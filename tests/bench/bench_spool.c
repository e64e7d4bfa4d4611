/* bench-spool: cost of the agent's spool operations on this disk.
 *
 *   bench-spool DIR [PAYLOAD_BYTES [BATCHES [SPOOL_MAX_MIB]]]
 *
 * Appends BATCHES batches of PAYLOAD_BYTES (each one durable LMDB commit),
 * reads them back in order as the sender does (spool_get), then acknowledges
 * them all with one spool_ack. With a small SPOOL_MAX_MIB most appends also
 * drop the oldest batch and extend a gap. Prints one line per phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "spool.h"
#include "util.h"

int main(int argc, char *argv[])
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench-spool DIR [PAYLOAD_BYTES [BATCHES [SPOOL_MAX_MIB]]]\n");
		return 2;
	}
	size_t len = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 10240;
	int n = argc > 3 ? atoi(argv[3]) : 1000;
	uint64_t max = (argc > 4 ? strtoull(argv[4], NULL, 10) : 256) << 20;
	struct spool *sp;
	struct errbuf eb;
	if (spool_open(&sp, argv[1], max, false, &eb)) {
		fprintf(stderr, "bench-spool: %s\n", eb.msg);
		return 1;
	}
	uint8_t *payload = calloc(1, len ? len : 1), sig[SIGN_LEN] = { 0 };
	uint64_t dropped = 0, t0 = time_mono_us();
	for (int i = 0; i < n; i++) {
		uint64_t seq, d;
		struct spool_gap gaps[8];
		size_t ng = 0;
		if (spool_next_seq(sp, &seq) || spool_pending_gaps(sp, gaps, 8, &ng))
			return 1;
		payload[0] = (uint8_t)seq;
		struct spool_batch b = { .seq = seq, .sig = sig, .payload = payload,
					 .payload_len = len, .gaps = gaps, .ngaps = ng };
		if (spool_append(sp, &b, &d, &eb)) {
			fprintf(stderr, "bench-spool: %s\n", eb.msg);
			return 1;
		}
		dropped += d;
	}
	uint64_t t1 = time_mono_us();
	struct spool_stats st;
	spool_stats(sp, &st);
	uint64_t next = st.oldest_seq, readn = 0;
	struct spool_entry e;
	while (spool_get(sp, next, &e) == 0) {
		next = e.seq + 1;
		readn++;
		spool_entry_free(&e);
	}
	uint64_t t2 = time_mono_us();
	spool_ack(sp, st.newest_seq);
	uint64_t t3 = time_mono_us();
	printf("append: %d x %zu B in %.2f s: %.0f batches/s, %.2f ms each; %llu dropped (spool_max "
	       "%llu MiB)\n",
	       n, len, (t1 - t0) / 1e6, n / ((t1 - t0) / 1e6), (t1 - t0) / 1e3 / n,
	       (unsigned long long)dropped, (unsigned long long)(max >> 20));
	printf("read:   %llu batches in %.1f ms (%.1f us each)\n", (unsigned long long)readn,
	       (t2 - t1) / 1e3, readn ? (double)(t2 - t1) / (double)readn : 0.0);
	printf("ack:    %llu batches deleted in one transaction: %.1f ms\n",
	       (unsigned long long)st.batches, (t3 - t2) / 1e3);
	free(payload);
	spool_close(sp);
	return 0;
}
