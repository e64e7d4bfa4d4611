/* The agent's collectors: pure functions from a root directory (and the
 * previous state) to protobuf records.
 *
 * The one-shot `cairn-agent collect` and the daemon `cairn-agent run` call the
 * same functions. Every collector reads below ctx->root ("/" on a live host,
 * a captured fixture tree in tests), never writes anything, and on a bad item
 * (vanished process, EACCES, malformed line) skips it, counts it in
 * ctx->stats[...] and goes on. Returned messages are heap-allocated protobuf-c
 * structs; free them with the matching *_free function.
 *
 * Owners: collect.c (context, counters), collect_host.c, collect_perf.c,
 * collect_proc.c, collect_pkg.c (inventory helper); collect_sock.c and
 * window.c (sockets helper).
 */
#ifndef CAIRN_AGENT_COLLECT_H
#define CAIRN_AGENT_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn.pb-c.h"

enum collect_kind {
	COLLECT_HOST,
	COLLECT_PERF,
	COLLECT_PROC,
	COLLECT_SOCK,
	COLLECT_PKG,
	COLLECT_NKINDS
};

struct collect_stat {
	uint64_t errors;
	uint64_t items;
	uint64_t runs;
	uint64_t last_duration_us;
	char last_error[160];
};

struct collect_ctx {
	char root[4096];            /* "/" or a fixture tree; no trailing slash except "/" */
	bool live;                  /* root is "/": netlink, namespaces, rpm binary allowed */
	struct collect_stat stats[COLLECT_NKINDS];
};

/* "host", "perf", "proc", "sock", "pkg" */
const char *collect_kind_name(enum collect_kind kind);
int collect_kind_parse(const char *name, enum collect_kind *out);

void collect_ctx_init(struct collect_ctx *ctx, const char *root);

/* Counts one skipped item and remembers why (also logged at debug level). */
void collect_error(struct collect_ctx *ctx, enum collect_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Joins ctx->root and an absolute path ("/proc/1/stat") into out. */
const char *collect_path(const struct collect_ctx *ctx, char *out, size_t n, const char *abs_path);

/* Fills a CollectorHealth record from ctx->stats (caller frees with
 * cairn__collector_health__free_unpacked(h, NULL) -- allocated with malloc). */
Cairn__CollectorHealth *collect_health(const struct collect_ctx *ctx);

#endif
