/* libFuzzer harness for what the collector does with a batch payload: protobuf
 * unpack, the limits walk, and ingest_apply into a real LMDB environment.
 *
 * The payload is signed by an enrolled agent, but an agent host can be
 * compromised: nothing it sends may crash the collector. Each input is applied
 * in a write transaction that is then aborted, so runs do not depend on each
 * other. Half of the inputs are applied twice (second time on top of the
 * first, inside the same transaction) to reach the paths that merge with
 * stored state (process deltas, unchanged packages, edge merging).
 *
 * Input: byte 0 bit 0 = apply twice, the rest a protobuf cairn.Batch. The
 * seeds in corpus/ingest are batchgen_build() payloads
 * (tests/unit/collector/batchgen.c) behind that byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cairn.pb-c.h"
#include "config.h"
#include "db.h"
#include "ingest.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db_env env;
static int env_ready;

static void check(int cond)
{
	if (!cond)
		abort();
}

static char env_dir[] = "/tmp/cairn-fuzz-ingest-XXXXXX";

static void remove_env(void)
{
	char path[sizeof(env_dir) + 16];
	db_close(&env);
	snprintf(path, sizeof(path), "%s/data.mdb", env_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/lock.mdb", env_dir);
	unlink(path);
	rmdir(env_dir);
}

static void open_env(void)
{
	char *dir = env_dir;
	check(mkdtemp(dir) != NULL);
	struct errbuf eb;
	/* No fsync: the transactions are aborted anyway. */
	check(db_open(&env, dir, store_db_names, STORE_NDBS, 64u << 20, 64u << 20, MDB_NOSYNC,
		      &eb) == 0);
	env_ready = 1;
	atexit(remove_env);
}

struct apply_arg {
	const Cairn__Batch *batch;
	int twice;
};

static int apply_and_abort(MDB_txn *txn, void *arg)
{
	struct apply_arg *a = arg;
	static const uint8_t agent[32] = { 1, 2, 3 };
	struct ingest_stats st = { 0 };
	int rc = ingest_apply(txn, &env, agent, a->batch, 1700000000000LL, &st);
	if (!rc && a->twice)
		rc = ingest_apply(txn, &env, agent, a->batch, 1700000300000LL, &st);
	/* A non-zero result makes db_write abort the transaction. -ECANCELED is
	 * ours: the normal way out. LMDB errors other than a full map would be
	 * bugs; a full map (huge input) is fine. */
	check(rc == 0 || rc == MDB_MAP_FULL || rc == -ENOMEM);
	return rc ? rc : -ECANCELED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!env_ready)
		open_env();
	if (size < 1)
		return 0;
	int twice = data[0] & 1;
	Cairn__Batch *b = cairn__batch__unpack(NULL, size - 1, data + 1);
	if (!b)
		return 0;
	struct ingest_limits limits;
	ingest_limits_default(&limits);
	limits.max_records = 2000;
	limits.max_repeated = 5000;
	struct errbuf eb;
	if (ingest_check_limits(b, &limits, &eb) == 0) {
		struct apply_arg a = { b, twice };
		int rc = db_write(&env, apply_and_abort, &a);
		check(rc != 0);
	}
	cairn__batch__free_unpacked(b, NULL);
	return 0;
}
