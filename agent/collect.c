/* Collector context: root path handling, counters, small file readers and the
 * allocation helpers records are built with. */
#include "collect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const char *const kind_names[COLLECT_NKINDS] = {
	[COLLECT_HOST] = "host",
	[COLLECT_PERF] = "perf",
	[COLLECT_PROC] = "proc",
	[COLLECT_SOCK] = "sock",
	[COLLECT_PKG] = "pkg",
};

const char *collect_kind_name(enum collect_kind kind)
{
	return (unsigned)kind < COLLECT_NKINDS ? kind_names[kind] : "?";
}

int collect_kind_parse(const char *name, enum collect_kind *out)
{
	for (int k = 0; k < COLLECT_NKINDS; k++)
		if (!strcmp(name, kind_names[k])) {
			*out = (enum collect_kind)k;
			return 0;
		}
	return -EINVAL;
}

void collect_ctx_init(struct collect_ctx *ctx, const char *root)
{
	memset(ctx, 0, sizeof(*ctx));
	if (!root || !*root)
		root = "/";
	str_copy(ctx->root, root, sizeof(ctx->root));
	size_t len = strlen(ctx->root);
	while (len > 1 && ctx->root[len - 1] == '/')
		ctx->root[--len] = '\0';
	ctx->live = !strcmp(ctx->root, "/");
	ctx->rpm_timeout_ms = 60000;
	ctx->rpm_max_output = 64u << 20;
}

void collect_error(struct collect_ctx *ctx, enum collect_kind kind, const char *fmt, ...)
{
	if ((unsigned)kind >= COLLECT_NKINDS)
		return;
	struct collect_stat *s = &ctx->stats[kind];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
	va_end(ap);
	s->errors++;
	log_debug("collect %s: %s", kind_names[kind], s->last_error);
}

uint64_t collect_begin(struct collect_ctx *ctx, enum collect_kind kind)
{
	(void)ctx;
	(void)kind;
	return time_mono_us();
}

void collect_end(struct collect_ctx *ctx, enum collect_kind kind, uint64_t start_us, uint64_t items)
{
	if ((unsigned)kind >= COLLECT_NKINDS)
		return;
	struct collect_stat *s = &ctx->stats[kind];
	s->runs++;
	s->items += items;
	s->last_duration_us = time_mono_us() - start_us;
}

const char *collect_path(const struct collect_ctx *ctx, char *out, size_t n, const char *abs_path)
{
	if (ctx->live || !ctx->root[0])
		snprintf(out, n, "%s", abs_path);
	else
		snprintf(out, n, "%s%s", ctx->root, abs_path);
	return out;
}

static ssize_t read_fd_all(int fd, char *buf, size_t n)
{
	size_t len = 0;
	while (len + 1 < n) {
		ssize_t r = read(fd, buf + len, n - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

ssize_t collect_read(const struct collect_ctx *ctx, const char *abs_path, char *buf, size_t n)
{
	char path[4096 + 256];
	if (n == 0)
		return -EINVAL;
	buf[0] = '\0';
	collect_path(ctx, path, sizeof(path), abs_path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	ssize_t len = read_fd_all(fd, buf, n);
	close(fd);
	if (len < 0)
		buf[0] = '\0';
	return len;
}

ssize_t collect_read_line(const struct collect_ctx *ctx, const char *abs_path, char *buf, size_t n)
{
	ssize_t len = collect_read(ctx, abs_path, buf, n);
	if (len < 0)
		return len;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	len = (ssize_t)strlen(buf);
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return len;
}

ssize_t collect_readlink(const struct collect_ctx *ctx, const char *abs_path, char *buf, size_t n)
{
	char path[4096 + 256];
	if (n == 0)
		return -EINVAL;
	collect_path(ctx, path, sizeof(path), abs_path);
	ssize_t len = readlink(path, buf, n - 1);
	if (len < 0) {
		buf[0] = '\0';
		return -errno;
	}
	buf[len] = '\0';
	return len;
}

static void out_of_memory(size_t size)
{
	log_error("out of memory allocating %zu bytes for collector records; exiting", size);
	abort();
}

void *collect_alloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);
	if (!p)
		out_of_memory(size);
	return p;
}

char *collect_strndup(const char *s, size_t n)
{
	if (!s)
		s = "";
	size_t len = strnlen(s, n);
	char *p = malloc(len + 1);
	if (!p)
		out_of_memory(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *collect_strdup(const char *s)
{
	return collect_strndup(s, s ? strlen(s) : 0);
}

void *collect_push(void *array_ptr, size_t *count, size_t elem_size)
{
	void **arr = array_ptr;
	size_t n = *count;
	/* Capacity is implicit: 4, then the next power of two >= n. Full when n
	 * is 0, or a power of two from 4 on. */
	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
		size_t cap = n ? n * 2 : 4;
		if (cap > SIZE_MAX / elem_size)
			out_of_memory(SIZE_MAX);
		void *p = realloc(*arr, cap * elem_size);
		if (!p)
			out_of_memory(cap * elem_size);
		*arr = p;
	}
	char *elem = (char *)*arr + n * elem_size;
	memset(elem, 0, elem_size);
	*count = n + 1;
	return elem;
}

/* The agent's own resident memory (always of this process, whatever the root). */
static uint64_t self_rss_bytes(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read_fd_all(fd, buf, sizeof(buf));
	close(fd);
	unsigned long long size, resident;
	if (n <= 0 || sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	long page = sysconf(_SC_PAGESIZE);
	return resident * (uint64_t)(page > 0 ? page : 4096);
}

Cairn__CollectorHealth *collect_health(const struct collect_ctx *ctx)
{
	Cairn__CollectorHealth *h = collect_alloc(sizeof(*h));
	cairn__collector_health__init(h);
	h->rss_bytes = self_rss_bytes();
	h->stats = collect_alloc(COLLECT_NKINDS * sizeof(*h->stats));
	for (int k = 0; k < COLLECT_NKINDS; k++) {
		const struct collect_stat *s = &ctx->stats[k];
		Cairn__CollectorStat *cs = collect_alloc(sizeof(*cs));
		cairn__collector_stat__init(cs);
		cs->collector = collect_strdup(kind_names[k]);
		cs->errors = s->errors;
		cs->items = s->items;
		cs->runs = s->runs;
		cs->last_duration_us = s->last_duration_us;
		cs->last_error = collect_strdup(s->last_error);
		h->stats[h->n_stats++] = cs;
	}
	return h;
}
