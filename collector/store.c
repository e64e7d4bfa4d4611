#include "store.h"

const char *const store_db_names[STORE_NDBS] = {
	[STORE_AGENTS] = "agents",
	[STORE_BATCHES] = "batches",
	[STORE_GAPS] = "gaps",
	[STORE_HOSTS] = "hosts",
	[STORE_PERF] = "perf",
	[STORE_PROCS] = "procs",
	[STORE_LISTENERS] = "listeners",
	[STORE_PACKAGES] = "packages",
	[STORE_EDGES] = "edges",
	[STORE_ADDRS] = "addrs",
	[STORE_META] = "meta",
	[STORE_DECISIONS] = "decisions",
	[STORE_MIGRATION] = "migration",
	[STORE_MIGRATION_HIST] = "migration_hist",
	[STORE_AUDIT] = "audit",
	[STORE_SNAPSHOTS] = "snapshots",
	[STORE_HEALTH] = "health",
};
