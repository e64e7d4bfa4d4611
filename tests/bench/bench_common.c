/* bench-common: throughput of the common building blocks on this machine.
 *
 *   frame decoder   MB/s for 4 KiB frames arriving in 64 KiB socket reads
 *   signatures      batch sign and verify per second (1 KiB and 256 KiB payloads)
 *   LMDB            durable commits per second (one record each, fsync) and
 *                   records per second in 50,000-record transactions starting
 *                   from a 64 KiB map (growth and replays included)
 *
 * Usage: bench-common [DIR]   (DIR for the LMDB environment, default /tmp)
 * Results: docs/benchmarks.md, section "Common". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "frame.h"
#include "keys.h"
#include "log.h"
#include "sign.h"

static void bench_frames(void)
{
	const size_t nframes = 100000, body = 4096, chunk = 65536;
	size_t total = nframes * (body + FRAME_HEADER_LEN);
	uint8_t *stream = malloc(total);
	uint8_t *p = stream;
	for (size_t i = 0; i < nframes; i++) {
		frame_header_write(p, FRAME_SEALED, body);
		memset(p + FRAME_HEADER_LEN, (int)i, body);
		p += body + FRAME_HEADER_LEN;
	}
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_DEFAULT);
	uint64_t t0 = time_mono_us();
	size_t got = 0;
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk, pos = 0;
		while (pos < n) {
			size_t used;
			struct frame f;
			int rc = frame_decoder_feed(&d, stream + off + pos, n - pos, &used, &f);
			pos += used;
			if (rc == 1) {
				free(f.body);
				got++;
			} else if (rc < 0) {
				fprintf(stderr, "decode error %d\n", rc);
				exit(1);
			}
		}
	}
	uint64_t us = time_mono_us() - t0;
	frame_decoder_free(&d);
	free(stream);
	printf("frame decoder: %zu frames of %zu B in %zu B reads: %.0f MB/s, %.0f frames/s\n",
	       got, body, chunk, (double)total / (double)us, got * 1e6 / (double)us);
}

static void bench_sign(size_t len, int rounds)
{
	struct keypair kp;
	keys_generate(&kp);
	uint8_t *payload = calloc(1, len);
	uint8_t sig[SIGN_LEN];
	uint64_t t0 = time_mono_us();
	for (int i = 0; i < rounds; i++)
		sign_batch(sig, kp.sk, kp.pk, (uint64_t)i, payload, len);
	uint64_t t1 = time_mono_us();
	int ok = 0;
	for (int i = 0; i < rounds; i++)
		ok += sign_batch_verify(sig, kp.pk, (uint64_t)rounds - 1, payload, len) == 0;
	uint64_t t2 = time_mono_us();
	printf("batch signatures, %zu B payload: sign %.0f/s, verify %.0f/s (%d/%d valid)\n", len,
	       rounds * 1e6 / (double)(t1 - t0), rounds * 1e6 / (double)(t2 - t1), ok, rounds);
	free(payload);
	keys_wipe(&kp);
}

struct put_range {
	struct db_env *e;
	uint64_t first, n;
};

static int put_range(MDB_txn *txn, void *arg)
{
	struct put_range *r = arg;
	uint8_t v[200];
	memset(v, 7, sizeof(v));
	for (uint64_t i = r->first; i < r->first + r->n; i++) {
		struct db_key k;
		db_key_init(&k);
		db_key_u64(&k, i);
		MDB_val key = db_key_val(&k), val = { sizeof(v), v };
		int rc = mdb_put(txn, r->e->dbi[0], &key, &val, 0);
		if (rc)
			return rc;
	}
	return 0;
}

static int bench_db(const char *base)
{
	static const char *const names[] = { "records" };
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/cairn-bench-common-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	struct db_env e;
	struct errbuf eb;
	if (db_open(&e, dir, names, 1, 64 << 10, (size_t)1 << 36, 0, &eb)) {
		fprintf(stderr, "%s\n", eb.msg);
		return 1;
	}
	const int commits = 300;
	uint64_t t0 = time_mono_us();
	for (int i = 0; i < commits; i++) {
		struct put_range r = { &e, (uint64_t)i, 1 };
		if (db_write(&e, put_range, &r))
			return 1;
	}
	uint64_t t1 = time_mono_us();
	printf("LMDB durable commits, 1 record each: %.0f/s\n", commits * 1e6 / (double)(t1 - t0));
	const uint64_t per = 50000, txns = 20;
	uint64_t grown = e.grow_count;
	t0 = time_mono_us();
	for (uint64_t i = 0; i < txns; i++) {
		struct put_range r = { &e, 1000 + i * per, per };
		if (db_write(&e, put_range, &r))
			return 1;
	}
	t1 = time_mono_us();
	printf("LMDB records in %llu-record transactions (200 B values, map from 64 KiB): %.0f/s, "
	       "map grown %llu times to %zu MiB\n",
	       (unsigned long long)per, (double)(per * txns) * 1e6 / (double)(t1 - t0),
	       (unsigned long long)(e.grow_count - grown), e.map_size >> 20);
	db_close(&e);
	char path[4200];
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

int main(int argc, char *argv[])
{
	log_init("bench-common", LOGL_WARN);
	bench_frames();
	bench_sign(1024, 2000);
	bench_sign(256 << 10, 300);
	return bench_db(argc > 1 ? argv[1] : "/tmp");
}
