/* Performance sampling and per-window aggregation; see collect.h. */
#include "collect.h"
#include "collect_host.h"
#include "collect_perf.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pbjson.h"
#include "util.h"

#define PERF_MAX_DEVICES 512     /* disks, NICs and filesystems each */
#define PERF_TABLE_MAX (1 << 18)  /* bytes of /proc/diskstats or /proc/net/dev read */

/* One metric over one window: exact avg/min/max over all samples, and the
 * newest `cap` values (a ring) for the p95. The ring's storage grows with the
 * samples a window really has (20 for the default 15 s / 5 min), not to cap
 * up front: a host with hundreds of veth NICs has hundreds of series. */
struct series {
	double sum, min, max;
	uint32_t n;       /* samples added this window */
	uint32_t held;    /* values in the ring */
	uint32_t next;    /* ring write position */
	uint32_t cap;
	uint32_t alloc;   /* doubles allocated at v (<= cap) */
	double *v;
};

static void series_add(struct series *s, uint32_t cap, double x)
{
	if (!isfinite(x))
		return;
	if (!s->v)
		s->cap = cap;
	if (s->held == s->alloc && s->alloc < s->cap) {
		/* Not wrapped yet (next == held): grow. */
		uint32_t na = s->alloc ? (s->alloc > s->cap / 2 ? s->cap : s->alloc * 2)
				       : (s->cap < 16 ? s->cap : 16);
		double *nv = realloc(s->v, na * sizeof(*nv));
		if (nv) {
			s->v = nv;
			s->alloc = na;
		}
	}
	if (s->n == 0 || x < s->min)
		s->min = x;
	if (s->n == 0 || x > s->max)
		s->max = x;
	s->sum += x;
	s->n++;
	if (s->held == s->alloc && s->alloc < s->cap)
		return; /* could not grow: the p95 goes without this sample */
	s->v[s->next] = x;
	s->next = (s->next + 1) % s->cap;
	if (s->held < s->cap)
		s->held++;
}

static void series_reset(struct series *s)
{
	s->sum = s->min = s->max = 0;
	s->n = s->held = s->next = 0;
}

static void series_free(struct series *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank 95th percentile of the held values. */
static double series_p95(const struct series *s, double *scratch)
{
	if (!s->held)
		return s->max; /* no value could be held (out of memory) */
	memcpy(scratch, s->v, s->held * sizeof(double));
	qsort(scratch, s->held, sizeof(double), cmp_double);
	size_t rank = (size_t)ceil(0.95 * (double)s->held);
	return scratch[rank ? rank - 1 : 0];
}

/* NULL when the series has no sample (the field is then absent). */
static Cairn__Stat *series_stat(const struct series *s, double *scratch)
{
	if (!s->n)
		return NULL;
	Cairn__Stat *st = collect_alloc(sizeof(*st));
	cairn__stat__init(st);
	st->avg = s->sum / s->n;
	st->max = s->max;
	st->min = s->min;
	st->p95 = series_p95(s, scratch);
	return st;
}

enum { DISK_RB, DISK_WB, DISK_RO, DISK_WO, DISK_BUSY, DISK_NSERIES };
enum { NIC_RXB, NIC_TXB, NIC_RXP, NIC_TXP, NIC_NSERIES };
enum { NIC_RXERR, NIC_TXERR, NIC_RXDROP, NIC_TXDROP, NIC_NCOUNTERS };

struct perf_dev {
	char name[128];
	bool present;           /* seen in the last sample */
	bool have_prev;
	bool whole;             /* disks: a whole disk (checked once) */
	uint64_t prev[11];      /* raw counters of the previous sample */
	struct series s[DISK_NSERIES];
	/* NIC error counters: value at the window start and the latest one. */
	bool have_base;
	uint64_t base[NIC_NCOUNTERS], last[NIC_NCOUNTERS];
	uint64_t size_bytes;    /* filesystems */
};

struct dev_list {
	struct perf_dev *d;
	size_t n;
};

enum { CPU_USER, CPU_SYSTEM, CPU_IOWAIT, CPU_STEAL, CPU_IDLE, CPU_BUSY, LOAD1, LOAD5, LOAD15,
	MEM_USED, MEM_AVAIL, SWAP_USED, HOST_NSERIES };

struct perf_state {
	uint32_t interval_ms, cap;
	uint64_t prev_mono_ms;
	bool have_prev;
	uint64_t cpu_prev[8];
	bool have_cpu_prev;
	struct series s[HOST_NSERIES];
	uint64_t mem_total;
	uint32_t cpu_threads;
	struct dev_list disks, nics, fss;
	int64_t window_start_ms;
	uint32_t samples;
	/* mount table cache: re-read only when the kernel says it changed */
	struct host_mount *mounts;
	size_t n_mounts;
	bool mounts_read;
	int mounts_fd;
	bool sys_block_missing;
	char *table;            /* PERF_TABLE_MAX bytes, reused by every sample */
};

int collect_perf_open(struct perf_state **out, uint32_t interval_ms, uint32_t max_samples)
{
	struct perf_state *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->interval_ms = interval_ms;
	st->cap = max_samples ? max_samples : 1024;
	st->mounts_fd = -1;
	*out = st;
	return 0;
}

static void devs_free(struct dev_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		for (int k = 0; k < DISK_NSERIES; k++)
			series_free(&l->d[i].s[k]);
	free(l->d);
	l->d = NULL;
	l->n = 0;
}

void collect_perf_close(struct perf_state *st)
{
	if (!st)
		return;
	for (int k = 0; k < HOST_NSERIES; k++)
		series_free(&st->s[k]);
	devs_free(&st->disks);
	devs_free(&st->nics);
	devs_free(&st->fss);
	free(st->mounts);
	free(st->table);
	if (st->mounts_fd >= 0)
		close(st->mounts_fd);
	free(st);
}

static struct perf_dev *dev_get(struct dev_list *l, const char *name, bool *created)
{
	*created = false;
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->d[i].name, name))
			return &l->d[i];
	if (l->n >= PERF_MAX_DEVICES)
		return NULL;
	struct perf_dev *d = collect_push(&l->d, &l->n, sizeof(*l->d));
	str_copy(d->name, name, sizeof(d->name));
	*created = true;
	return d;
}

/* Drops devices that were not in the last sample and have nothing in the window. */
static void devs_prune(struct dev_list *l)
{
	size_t w = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct perf_dev *d = &l->d[i];
		if (!d->present) {
			for (int k = 0; k < DISK_NSERIES; k++)
				series_free(&d->s[k]);
			continue;
		}
		if (w != i)
			l->d[w] = *d;
		w++;
	}
	l->n = w;
}

/* ------------------------------------------------------------------ cpu */

static int sample_cpu(struct collect_ctx *ctx, struct perf_state *st, bool rates)
{
	char buf[65536];
	ssize_t n = collect_read(ctx, "/proc/stat", buf, sizeof(buf));
	if (n <= 0)
		return n < 0 ? (int)n : -ENODATA;
	unsigned long long v[8] = { 0 };
	if (strncmp(buf, "cpu ", 4) ||
	    sscanf(buf + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 4) {
		collect_error(ctx, COLLECT_PERF, "/proc/stat: malformed cpu line");
		return -EINVAL;
	}
	uint32_t threads = 0;
	for (const char *p = strstr(buf, "\ncpu"); p; p = strstr(p + 1, "\ncpu"))
		if (p[4] >= '0' && p[4] <= '9')
			threads++;
	st->cpu_threads = threads;
	if (rates && st->have_cpu_prev) {
		uint64_t d[8], total = 0;
		bool ok = true;
		for (int i = 0; i < 8; i++) {
			ok &= v[i] >= st->cpu_prev[i];
			d[i] = v[i] - st->cpu_prev[i];
			total += d[i];
		}
		if (ok && total > 0) {
			double t = (double)total;
			/* user+nice, system+irq+softirq, iowait, steal, idle */
			double user = (double)(d[0] + d[1]) * 100 / t;
			double sys = (double)(d[2] + d[5] + d[6]) * 100 / t;
			double iowait = (double)d[4] * 100 / t;
			double steal = (double)d[7] * 100 / t;
			double idle = (double)d[3] * 100 / t;
			series_add(&st->s[CPU_USER], st->cap, user);
			series_add(&st->s[CPU_SYSTEM], st->cap, sys);
			series_add(&st->s[CPU_IOWAIT], st->cap, iowait);
			series_add(&st->s[CPU_STEAL], st->cap, steal);
			series_add(&st->s[CPU_IDLE], st->cap, idle);
			series_add(&st->s[CPU_BUSY], st->cap, 100.0 - idle - iowait);
		}
	}
	for (int i = 0; i < 8; i++)
		st->cpu_prev[i] = v[i];
	st->have_cpu_prev = true;
	return 0;
}

static int sample_load_mem(struct collect_ctx *ctx, struct perf_state *st)
{
	char buf[8192];
	int ok = 0;
	double l1, l5, l15;
	if (collect_read(ctx, "/proc/loadavg", buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%lf %lf %lf", &l1, &l5, &l15) == 3) {
		series_add(&st->s[LOAD1], st->cap, l1);
		series_add(&st->s[LOAD5], st->cap, l5);
		series_add(&st->s[LOAD15], st->cap, l15);
		ok++;
	} else {
		collect_error(ctx, COLLECT_PERF, "/proc/loadavg unreadable or malformed");
	}
	if (collect_read(ctx, "/proc/meminfo", buf, sizeof(buf)) > 0) {
		uint64_t total = 0, avail = 0, free_ = 0, buffers = 0, cached = 0, swt = 0, swf = 0;
		bool have_avail = false;
		for (char *tsave_, *line = strtok_r(buf, "\n", &tsave_); line; line = strtok_r(NULL, "\n", &tsave_)) {
			char key[64];
			unsigned long long val;
			if (sscanf(line, "%63[^:]: %llu", key, &val) != 2)
				continue;
			val *= 1024;
			if (!strcmp(key, "MemTotal"))
				total = val;
			else if (!strcmp(key, "MemAvailable"))
				avail = val, have_avail = true;
			else if (!strcmp(key, "MemFree"))
				free_ = val;
			else if (!strcmp(key, "Buffers"))
				buffers = val;
			else if (!strcmp(key, "Cached"))
				cached = val;
			else if (!strcmp(key, "SwapTotal"))
				swt = val;
			else if (!strcmp(key, "SwapFree"))
				swf = val;
		}
		if (!have_avail) /* kernels before 3.14 */
			avail = free_ + buffers + cached;
		if (total) {
			st->mem_total = total;
			series_add(&st->s[MEM_USED], st->cap, (double)(total > avail ? total - avail : 0));
			series_add(&st->s[MEM_AVAIL], st->cap, (double)avail);
			series_add(&st->s[SWAP_USED], st->cap, (double)(swt > swf ? swt - swf : 0));
			ok++;
		} else {
			collect_error(ctx, COLLECT_PERF, "/proc/meminfo: no MemTotal");
		}
	}
	return ok ? 0 : -ENODATA;
}

/* ---------------------------------------------------------------- disks */

static bool whole_disk(struct collect_ctx *ctx, struct perf_state *st, const char *name,
		       const char *all_text)
{
	if (!strncmp(name, "loop", 4) || !strncmp(name, "ram", 3))
		return false;
	char sysname[160], path[4400];
	str_copy(sysname, name, sizeof(sysname));
	for (char *p = sysname; *p; p++)
		if (*p == '/')
			*p = '!'; /* cciss/c0d0 is cciss!c0d0 in sysfs */
	char rel[256];
	snprintf(rel, sizeof(rel), "/sys/block/%s", sysname);
	struct stat sb;
	if (!stat(collect_path(ctx, path, sizeof(path), rel), &sb))
		return true;
	if (!st->sys_block_missing)
		return false;
	/* No /sys/block at all: a partition is a name that extends another device
	 * of the list (sda1 of sda, nvme0n1p1 of nvme0n1). */
	size_t nl = strlen(name);
	for (const char *p = all_text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned maj, min;
		char other[128];
		if (sscanf(p, "%u %u %127s", &maj, &min, other) != 3)
			continue;
		size_t ol = strlen(other);
		if (ol < nl && !strncmp(name, other, ol))
			return false;
	}
	return true;
}

/* Reads a /proc table into st->table; NULL (error counted) when unreadable. */
static char *read_table(struct collect_ctx *ctx, struct perf_state *st, const char *path)
{
	if (!st->table)
		st->table = collect_alloc(PERF_TABLE_MAX);
	ssize_t n = collect_read(ctx, path, st->table, PERF_TABLE_MAX);
	if (n <= 0) {
		collect_error(ctx, COLLECT_PERF, "cannot read %s: %s", path,
			      n < 0 ? strerror((int)-n) : "empty");
		return NULL;
	}
	return st->table;
}

static void sample_disks(struct collect_ctx *ctx, struct perf_state *st, double dt)
{
	char *buf = read_table(ctx, st, "/proc/diskstats");
	if (!buf)
		return;
	char path[4200];
	struct stat sb;
	st->sys_block_missing = stat(collect_path(ctx, path, sizeof(path), "/sys/block"), &sb) != 0;
	for (size_t i = 0; i < st->disks.n; i++)
		st->disks.d[i].present = false;
	char *save;
	/* Without /sys/block, whole_disk() compares names with the other lines. */
	char *copy = st->sys_block_missing ? collect_strdup(buf) : NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		char name[128];
		unsigned long long f[11];
		int got = sscanf(line, "%u %u %127s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
				 &maj, &min, name, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6],
				 &f[7], &f[8], &f[9], &f[10]);
		if (got < 14) {
			collect_error(ctx, COLLECT_PERF, "/proc/diskstats: malformed line");
			continue;
		}
		bool created;
		struct perf_dev *d = dev_get(&st->disks, name, &created);
		if (!d)
			continue;
		if (created)
			d->whole = whole_disk(ctx, st, name, copy);
		d->present = true;
		if (!d->whole)
			continue;
		if (d->have_prev && dt > 0) {
			bool ok = f[0] >= d->prev[0] && f[2] >= d->prev[2] && f[4] >= d->prev[4] &&
				  f[6] >= d->prev[6] && f[9] >= d->prev[9];
			if (ok) {
				series_add(&d->s[DISK_RB], st->cap, (double)(f[2] - d->prev[2]) * 512 / dt);
				series_add(&d->s[DISK_WB], st->cap, (double)(f[6] - d->prev[6]) * 512 / dt);
				series_add(&d->s[DISK_RO], st->cap, (double)(f[0] - d->prev[0]) / dt);
				series_add(&d->s[DISK_WO], st->cap, (double)(f[4] - d->prev[4]) / dt);
				double busy = (double)(f[9] - d->prev[9]) / (dt * 1000) * 100;
				series_add(&d->s[DISK_BUSY], st->cap, busy > 100 ? 100 : busy);
			}
		}
		for (int k = 0; k < 11; k++)
			d->prev[k] = f[k];
		d->have_prev = true;
	}
	free(copy);
}

/* ----------------------------------------------------------------- NICs */

static void sample_nics(struct collect_ctx *ctx, struct perf_state *st, double dt)
{
	char *buf = read_table(ctx, st, "/proc/net/dev");
	if (!buf)
		return;
	for (size_t i = 0; i < st->nics.n; i++)
		st->nics.d[i].present = false;
	char *save;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon || strchr(line, '|'))
			continue; /* the two header lines */
		*colon = '\0';
		char *name = line;
		while (*name == ' ')
			name++;
		unsigned long long f[16];
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9], &f[10],
			   &f[11], &f[12], &f[13], &f[14], &f[15]) != 16 || !*name) {
			collect_error(ctx, COLLECT_PERF, "/proc/net/dev: malformed line");
			continue;
		}
		bool created;
		struct perf_dev *d = dev_get(&st->nics, name, &created);
		if (!d)
			continue;
		d->present = true;
		/* rx: bytes packets errs drop ...; tx (from 8): bytes packets errs drop */
		uint64_t cnt[4] = { f[0], f[8], f[1], f[9] };
		uint64_t errs[NIC_NCOUNTERS] = { f[2], f[10], f[3], f[11] };
		if (d->have_prev && dt > 0) {
			for (int k = 0; k < NIC_NSERIES; k++)
				if (cnt[k] >= d->prev[k])
					series_add(&d->s[k], st->cap, (double)(cnt[k] - d->prev[k]) / dt);
		}
		for (int k = 0; k < 4; k++)
			d->prev[k] = cnt[k];
		d->have_prev = true;
		if (!d->have_base) {
			memcpy(d->base, errs, sizeof(errs));
			d->have_base = true;
		}
		memcpy(d->last, errs, sizeof(errs));
	}
}

/* ---------------------------------------------------------- filesystems */

static void refresh_mounts(struct collect_ctx *ctx, struct perf_state *st)
{
	bool changed = !st->mounts_read;
	if (ctx->live) {
		if (st->mounts_fd < 0) {
			bool init_ns;
			const char *table;
			st->mounts_fd = collect_host_mount_table_open(ctx, &init_ns, &table);
		}
		if (st->mounts_fd >= 0) {
			/* The kernel flags POLLPRI once per mount table change. */
			struct pollfd p = { .fd = st->mounts_fd, .events = POLLPRI };
			if (poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR)))
				changed = true;
		} else {
			changed = true;
		}
	}
	if (!changed)
		return;
	struct host_mount *m;
	size_t n;
	if (collect_host_mounts(ctx, &m, &n)) {
		collect_error(ctx, COLLECT_PERF, "cannot read the mount table");
		return;
	}
	free(st->mounts);
	st->mounts = m;
	st->n_mounts = n;
	st->mounts_read = true;
}

static void sample_fs(struct collect_ctx *ctx, struct perf_state *st)
{
	refresh_mounts(ctx, st);
	for (size_t i = 0; i < st->fss.n; i++)
		st->fss.d[i].present = false;
	for (size_t i = 0; i < st->n_mounts; i++) {
		struct host_fs_usage u;
		if (collect_host_fs_usage(ctx, &st->mounts[i], &u))
			continue;
		bool created;
		struct perf_dev *d = dev_get(&st->fss, st->mounts[i].mountpoint, &created);
		if (!d)
			continue;
		d->present = true;
		d->size_bytes = u.size_bytes;
		series_add(&d->s[0], st->cap, (double)u.used_bytes);
	}
}

int collect_perf_sample(struct collect_ctx *ctx, struct perf_state *st, uint64_t mono_ms, int64_t now_ms)
{
	uint64_t t0 = collect_begin(ctx, COLLECT_PERF);
	double dt = st->have_prev && mono_ms > st->prev_mono_ms
		? (double)(mono_ms - st->prev_mono_ms) / 1000.0 : 0;
	if (!st->samples && !st->window_start_ms)
		st->window_start_ms = now_ms;
	int cpu = sample_cpu(ctx, st, dt > 0);
	int mem = sample_load_mem(ctx, st);
	sample_disks(ctx, st, dt);
	sample_nics(ctx, st, dt);
	sample_fs(ctx, st);
	st->prev_mono_ms = mono_ms;
	st->have_prev = true;
	st->samples++;
	collect_end(ctx, COLLECT_PERF, t0, 1);
	return cpu && mem ? cpu : 0;
}

int collect_perf_window_close(struct perf_state *st, int64_t now_ms, Cairn__PerfWindow **out)
{
	*out = NULL;
	if (!st->samples)
		return -ENODATA;
	double *scratch = collect_alloc(st->cap * sizeof(double));
	Cairn__PerfWindow *w = collect_alloc(sizeof(*w));
	cairn__perf_window__init(w);
	w->window_start_ms = st->window_start_ms;
	w->window_end_ms = now_ms;
	w->samples = st->samples;
	w->interval_ms = st->interval_ms;
	w->mem_total_bytes = st->mem_total;
	w->cpu_threads = st->cpu_threads;
	w->cpu_user_pct = series_stat(&st->s[CPU_USER], scratch);
	w->cpu_system_pct = series_stat(&st->s[CPU_SYSTEM], scratch);
	w->cpu_iowait_pct = series_stat(&st->s[CPU_IOWAIT], scratch);
	w->cpu_steal_pct = series_stat(&st->s[CPU_STEAL], scratch);
	w->cpu_idle_pct = series_stat(&st->s[CPU_IDLE], scratch);
	w->cpu_busy_pct = series_stat(&st->s[CPU_BUSY], scratch);
	w->load1 = series_stat(&st->s[LOAD1], scratch);
	w->load5 = series_stat(&st->s[LOAD5], scratch);
	w->load15 = series_stat(&st->s[LOAD15], scratch);
	w->mem_used_bytes = series_stat(&st->s[MEM_USED], scratch);
	w->mem_available_bytes = series_stat(&st->s[MEM_AVAIL], scratch);
	w->swap_used_bytes = series_stat(&st->s[SWAP_USED], scratch);

	for (size_t i = 0; i < st->disks.n; i++) {
		struct perf_dev *d = &st->disks.d[i];
		if (!d->whole || !d->s[DISK_RB].n)
			continue;
		Cairn__DiskPerf *dp = collect_alloc(sizeof(*dp));
		cairn__disk_perf__init(dp);
		dp->device = collect_strdup(d->name);
		dp->read_bytes_ps = series_stat(&d->s[DISK_RB], scratch);
		dp->write_bytes_ps = series_stat(&d->s[DISK_WB], scratch);
		dp->read_ops_ps = series_stat(&d->s[DISK_RO], scratch);
		dp->write_ops_ps = series_stat(&d->s[DISK_WO], scratch);
		dp->busy_pct = series_stat(&d->s[DISK_BUSY], scratch);
		*COLLECT_PUSH(w, disks) = dp;
	}
	for (size_t i = 0; i < st->nics.n; i++) {
		struct perf_dev *d = &st->nics.d[i];
		if (!d->s[NIC_RXB].n)
			continue;
		Cairn__NicPerf *np = collect_alloc(sizeof(*np));
		cairn__nic_perf__init(np);
		np->name = collect_strdup(d->name);
		np->rx_bytes_ps = series_stat(&d->s[NIC_RXB], scratch);
		np->tx_bytes_ps = series_stat(&d->s[NIC_TXB], scratch);
		np->rx_packets_ps = series_stat(&d->s[NIC_RXP], scratch);
		np->tx_packets_ps = series_stat(&d->s[NIC_TXP], scratch);
		uint64_t inc[NIC_NCOUNTERS];
		for (int k = 0; k < NIC_NCOUNTERS; k++) /* a reset counter restarts from 0 */
			inc[k] = d->last[k] >= d->base[k] ? d->last[k] - d->base[k] : d->last[k];
		np->rx_errors = inc[NIC_RXERR];
		np->tx_errors = inc[NIC_TXERR];
		np->rx_dropped = inc[NIC_RXDROP];
		np->tx_dropped = inc[NIC_TXDROP];
		*COLLECT_PUSH(w, nics) = np;
	}
	for (size_t i = 0; i < st->fss.n; i++) {
		struct perf_dev *d = &st->fss.d[i];
		if (!d->s[0].n)
			continue;
		Cairn__FsPerf *fp = collect_alloc(sizeof(*fp));
		cairn__fs_perf__init(fp);
		fp->mountpoint = collect_strdup(d->name);
		fp->size_bytes = d->size_bytes;
		fp->used_bytes = series_stat(&d->s[0], scratch);
		*COLLECT_PUSH(w, filesystems) = fp;
	}
	free(scratch);

	/* New window: aggregates restart, raw counters carry on. */
	for (int k = 0; k < HOST_NSERIES; k++)
		series_reset(&st->s[k]);
	struct dev_list *lists[] = { &st->disks, &st->nics, &st->fss };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		devs_prune(lists[l]);
		for (size_t i = 0; i < lists[l]->n; i++) {
			struct perf_dev *d = &lists[l]->d[i];
			for (int k = 0; k < DISK_NSERIES; k++)
				series_reset(&d->s[k]);
			memcpy(d->base, d->last, sizeof(d->base));
		}
	}
	st->samples = 0;
	st->window_start_ms = now_ms;
	*out = w;
	return 0;
}
