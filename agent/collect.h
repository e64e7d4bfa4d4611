/* The agent's collectors: pure functions from a root directory (and the
 * previous state) to protobuf records.
 *
 * The one-shot `cairn-agent collect` and the daemon `cairn-agent run` call the
 * same functions. Every collector reads below ctx->root ("/" on a live host,
 * a captured fixture tree in tests), never writes anything, and on a bad item
 * (vanished process, EACCES, malformed line) skips it, counts it in
 * ctx->stats[...] and goes on. Returned messages are heap-allocated protobuf-c
 * structs built with malloc: every string and array they point to is owned by
 * the message, so `cairn__xxx__free_unpacked(msg, NULL)` frees all of it.
 *
 * Owners: collect.c (context, counters), collect_host.c, collect_perf.c,
 * collect_proc.c, collect_pkg.c (inventory helper); collect_sock.c and
 * window.c (sockets helper).
 *
 * Collectors and their headers (each exports names with its file's prefix):
 *   host  collect_host()                                   collect_host.h
 *   perf  collect_perf_open/_sample/_window_close          collect_perf.h
 *   proc  collect_proc_snapshot/_delta/_info_read          collect_proc.h
 *   pkg   collect_pkg()                                    collect_pkg.h
 *   sock  collect_sock_scanner_new/_sample, window_*       collect_sock.h, window.h
 */
#ifndef CAIRN_AGENT_COLLECT_H
#define CAIRN_AGENT_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
	/* Package collector knobs (collect_ctx_init sets the defaults). */
	char rpm_path[4096];        /* rpm program; "" = /usr/bin/rpm or /bin/rpm if present */
	uint32_t rpm_timeout_ms;    /* default 60000; the child is killed after it */
	size_t rpm_max_output;      /* default 64 MiB of `rpm -qa` output */
};

/* "host", "perf", "proc", "sock", "pkg" */
const char *collect_kind_name(enum collect_kind kind);
int collect_kind_parse(const char *name, enum collect_kind *out);

/* root NULL or "" means "/". A trailing slash is removed. */
void collect_ctx_init(struct collect_ctx *ctx, const char *root);

/* Counts one skipped item and remembers why (also logged at debug level). */
void collect_error(struct collect_ctx *ctx, enum collect_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Brackets one run of a collector: collect_begin() returns a start time for
 * collect_end(), which counts the run, its duration and items found. */
uint64_t collect_begin(struct collect_ctx *ctx, enum collect_kind kind);
void collect_end(struct collect_ctx *ctx, enum collect_kind kind, uint64_t start_us, uint64_t items);

/* Joins ctx->root and an absolute path ("/proc/1/stat") into out. */
const char *collect_path(const struct collect_ctx *ctx, char *out, size_t n, const char *abs_path);

/* Reads root-relative abs_path into buf (at most n-1 bytes, NUL-terminated),
 * returning the length, or a negative errno (-ENOENT, -EACCES ...). A file
 * longer than the buffer is truncated, never an error. */
ssize_t collect_read(const struct collect_ctx *ctx, const char *abs_path, char *buf, size_t n);
/* Same, first line only, trailing whitespace removed. */
ssize_t collect_read_line(const struct collect_ctx *ctx, const char *abs_path, char *buf, size_t n);
/* readlink of a root-relative path, NUL-terminated; length or negative errno. */
ssize_t collect_readlink(const struct collect_ctx *ctx, const char *abs_path, char *buf, size_t n);

/* Fills a CollectorHealth record from ctx->stats (caller frees with
 * cairn__collector_health__free_unpacked(h, NULL) -- allocated with malloc). */
Cairn__CollectorHealth *collect_health(const struct collect_ctx *ctx);

/* Allocation for records. A collector cannot do anything useful when a
 * malloc of a few bytes fails, so these log and abort instead of returning
 * NULL; every size they see is bounded by the collectors. */
void *collect_alloc(size_t size);            /* zeroed */
char *collect_strdup(const char *s);         /* NULL -> "" (still malloc'd) */
char *collect_strndup(const char *s, size_t n);
/* Appends one zeroed element to a protobuf-c repeated field (array + count);
 * returns the new element. Amortized O(1): capacity is the next power of two. */
void *collect_push(void *array_ptr, size_t *count, size_t elem_size);
#define COLLECT_PUSH(msg, field) \
	((__typeof__((msg)->field))collect_push(&(msg)->field, &(msg)->n_##field, sizeof(*(msg)->field)))

/* ------------------------------------------------------------------ host */

#endif
