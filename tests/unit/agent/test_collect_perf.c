/* Perf sampler and window aggregator: exact rates from synthetic counters,
 * avg/min/max/p95, bounded sample memory, counter resets, devices that come
 * and go, fixture disk filtering, malformed lines, and the live host. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "collect.h"
#include "collect_perf.h"
#include "collect_testutil.h"
#include "util.h"

struct counters {
	unsigned long long user, sys, idle, iowait, steal;
	unsigned long long rd, rd_sect, wr, wr_sect, io_ms;
	unsigned long long rxb, rxp, rxerr, rxdrop, txb, txp, txerr, txdrop;
	const char *load;
	bool eth1;
};

static void write_counters(const char *root, const struct counters *c)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), "cpu  %llu 0 %llu %llu %llu 0 0 %llu 0 0\ncpu0 1 1 1 1 1 0 0 0 0 0\n"
		 "btime 1700000000\n", c->user, c->sys, c->idle, c->iowait, c->steal);
	tu_write(root, "/proc/stat", buf);
	snprintf(buf, sizeof(buf),
		 "   8       0 sda %llu 0 %llu 0 %llu 0 %llu 0 0 %llu 0 0 0 0 0 0 0\n"
		 "   8       1 sda1 %llu 0 %llu 0 %llu 0 %llu 0 0 %llu 0 0 0 0 0 0 0\n",
		 c->rd, c->rd_sect, c->wr, c->wr_sect, c->io_ms, c->rd, c->rd_sect, c->wr, c->wr_sect,
		 c->io_ms);
	tu_write(root, "/proc/diskstats", buf);
	snprintf(buf, sizeof(buf),
		 "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
		 "  eth0: %llu %llu %llu %llu 0 0 0 0 %llu %llu %llu %llu 0 0 0 0\n%s",
		 c->rxb, c->rxp, c->rxerr, c->rxdrop, c->txb, c->txp, c->txerr, c->txdrop,
		 c->eth1 ? "  eth1: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n" : "");
	tu_write(root, "/proc/net/dev", buf);
	tu_write(root, "/proc/loadavg", c->load ? c->load : "1.00 0.50 0.25 1/100 42\n");
}

static char *synthetic_root(const struct counters *c)
{
	char *root = tu_tmpdir("perf");
	write_counters(root, c);
	tu_write(root, "/proc/meminfo", "MemTotal:       1000 kB\nMemFree:         100 kB\n"
					"MemAvailable:    400 kB\nSwapTotal:       100 kB\nSwapFree:         40 kB\n");
	tu_write(root, "/sys/block/sda/size", "1000\n");
	tu_write(root, "/proc/mounts", "/dev/sda1 /data ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\n");
	tu_write(root, "/cairn-capture/statvfs", "/data 10000 2500 100 10\n");
	return root;
}

static void assert_stat(const Cairn__Stat *s, double avg, double min, double max, double p95)
{
	cr_assert_not_null(s);
	cr_assert_float_eq(s->avg, avg, 1e-6, "avg %f != %f", s->avg, avg);
	cr_assert_float_eq(s->min, min, 1e-6, "min %f != %f", s->min, min);
	cr_assert_float_eq(s->max, max, 1e-6, "max %f != %f", s->max, max);
	cr_assert_float_eq(s->p95, p95, 1e-6, "p95 %f != %f", s->p95, p95);
}

Test(perf, exact_rates_from_two_samples)
{
	struct counters c = { .user = 100, .sys = 100, .idle = 800, .rd = 100, .rd_sect = 8000,
			      .wr = 50, .wr_sect = 4000, .io_ms = 1000, .rxb = 5000, .rxp = 50,
			      .rxerr = 1, .txb = 7000, .txp = 70 };
	char *root = synthetic_root(&c);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct perf_state *st;
	cr_assert_eq(collect_perf_open(&st, 15000, 0), 0);
	cr_assert_eq(collect_perf_sample(&ctx, st, 10000, 1700000000000ll), 0);
	c.user += 100, c.sys += 50, c.idle += 200, c.iowait += 50;
	c.rd += 10, c.rd_sect += 2000, c.wr += 5, c.wr_sect += 1000, c.io_ms += 500;
	c.rxb += 1000, c.rxp += 10, c.rxerr += 2, c.rxdrop += 3, c.txb += 2000, c.txp += 20, c.txerr += 1;
	write_counters(root, &c);
	cr_assert_eq(collect_perf_sample(&ctx, st, 11000, 1700000001000ll), 0);
	Cairn__PerfWindow *w;
	cr_assert_eq(collect_perf_window_close(st, 1700000001500ll, &w), 0);
	cr_assert_eq(ctx.stats[COLLECT_PERF].errors, 0, "%s", ctx.stats[COLLECT_PERF].last_error);
	cr_assert_eq(w->samples, 2);
	cr_assert_eq(w->interval_ms, 15000);
	cr_assert_eq(w->window_start_ms, 1700000000000ll);
	cr_assert_eq(w->window_end_ms, 1700000001500ll);
	cr_assert_eq(w->cpu_threads, 1);
	assert_stat(w->cpu_user_pct, 25, 25, 25, 25);
	assert_stat(w->cpu_system_pct, 12.5, 12.5, 12.5, 12.5);
	assert_stat(w->cpu_iowait_pct, 12.5, 12.5, 12.5, 12.5);
	assert_stat(w->cpu_steal_pct, 0, 0, 0, 0);
	assert_stat(w->cpu_idle_pct, 50, 50, 50, 50);
	assert_stat(w->cpu_busy_pct, 37.5, 37.5, 37.5, 37.5);
	assert_stat(w->load1, 1, 1, 1, 1);
	assert_stat(w->load15, 0.25, 0.25, 0.25, 0.25);
	cr_assert_eq(w->mem_total_bytes, 1000 * 1024);
	assert_stat(w->mem_used_bytes, 600 * 1024, 600 * 1024, 600 * 1024, 600 * 1024);
	assert_stat(w->mem_available_bytes, 400 * 1024, 400 * 1024, 400 * 1024, 400 * 1024);
	assert_stat(w->swap_used_bytes, 60 * 1024, 60 * 1024, 60 * 1024, 60 * 1024);
	cr_assert_eq(w->n_disks, 1, "sda1 is a partition");
	cr_assert_str_eq(w->disks[0]->device, "sda");
	assert_stat(w->disks[0]->read_bytes_ps, 1024000, 1024000, 1024000, 1024000);
	assert_stat(w->disks[0]->write_bytes_ps, 512000, 512000, 512000, 512000);
	assert_stat(w->disks[0]->read_ops_ps, 10, 10, 10, 10);
	assert_stat(w->disks[0]->write_ops_ps, 5, 5, 5, 5);
	assert_stat(w->disks[0]->busy_pct, 50, 50, 50, 50);
	cr_assert_eq(w->n_nics, 1);
	cr_assert_str_eq(w->nics[0]->name, "eth0");
	assert_stat(w->nics[0]->rx_bytes_ps, 1000, 1000, 1000, 1000);
	assert_stat(w->nics[0]->tx_bytes_ps, 2000, 2000, 2000, 2000);
	assert_stat(w->nics[0]->rx_packets_ps, 10, 10, 10, 10);
	assert_stat(w->nics[0]->tx_packets_ps, 20, 20, 20, 20);
	cr_assert_eq(w->nics[0]->rx_errors, 2);
	cr_assert_eq(w->nics[0]->tx_errors, 1);
	cr_assert_eq(w->nics[0]->rx_dropped, 3);
	cr_assert_eq(w->nics[0]->tx_dropped, 0);
	cr_assert_eq(w->n_filesystems, 1, "tmpfs is skipped");
	cr_assert_str_eq(w->filesystems[0]->mountpoint, "/data");
	cr_assert_eq(w->filesystems[0]->size_bytes, 10000);
	assert_stat(w->filesystems[0]->used_bytes, 2500, 2500, 2500, 2500);
	cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(st);
	tu_rm_rf(root);
	free(root);
}

Test(perf, p95_window_reset_and_bounded_samples)
{
	struct counters c = { .user = 1, .idle = 1 };
	char *root = synthetic_root(&c);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct perf_state *st;
	cr_assert_eq(collect_perf_open(&st, 1000, 0), 0);
	char load[64];
	for (int i = 1; i <= 20; i++) {
		snprintf(load, sizeof(load), "%d.00 0.00 0.00 1/1 1\n", i);
		c.load = load;
		write_counters(root, &c);
		collect_perf_sample(&ctx, st, (uint64_t)i * 1000, i);
	}
	Cairn__PerfWindow *w;
	cr_assert_eq(collect_perf_window_close(st, 100, &w), 0);
	cr_assert_eq(w->samples, 20);
	assert_stat(w->load1, 10.5, 1, 20, 19); /* nearest rank: ceil(0.95 * 20) = 19th */
	cr_assert_null(w->cpu_user_pct, "CPU counters never moved: no CPU rate");
	cairn__perf_window__free_unpacked(w, NULL);
	/* the next window starts empty */
	cr_assert_eq(collect_perf_window_close(st, 200, &w), -ENODATA);
	collect_perf_close(st);

	/* only the newest max_samples values are held for the p95 */
	cr_assert_eq(collect_perf_open(&st, 1000, 4), 0);
	for (int i = 10; i >= 1; i--) {
		snprintf(load, sizeof(load), "%d.00 0.00 0.00 1/1 1\n", i);
		c.load = load;
		write_counters(root, &c);
		collect_perf_sample(&ctx, st, (uint64_t)(20 - i) * 1000, 20 - i);
	}
	cr_assert_eq(collect_perf_window_close(st, 100, &w), 0);
	assert_stat(w->load1, 5.5, 1, 10, 4);
	cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(st);

	/* The held values grow past their first allocations, then wrap. */
	cr_assert_eq(collect_perf_open(&st, 1000, 40), 0);
	for (int i = 100; i >= 1; i--) {
		snprintf(load, sizeof(load), "%d.00 0.00 0.00 1/1 1\n", i);
		c.load = load;
		write_counters(root, &c);
		collect_perf_sample(&ctx, st, (uint64_t)(200 - i) * 1000, 200 - i);
	}
	cr_assert_eq(collect_perf_window_close(st, 300, &w), 0);
	assert_stat(w->load1, 50.5, 1, 100, 38); /* newest 40 are 40..1: 38th of them */
	cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(st);
	tu_rm_rf(root);
	free(root);
}

Test(perf, counter_reset_and_vanishing_devices)
{
	struct counters c = { .user = 1000, .idle = 1000, .rd = 1000, .rd_sect = 1000, .rxb = 100000,
			      .eth1 = true };
	char *root = synthetic_root(&c);
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct perf_state *st;
	cr_assert_eq(collect_perf_open(&st, 1000, 0), 0);
	collect_perf_sample(&ctx, st, 1000, 1);
	c.rd = 10, c.rd_sect = 10, c.rxb = 50; /* counters went back: a reset, no rate */
	c.user += 10, c.idle += 10;
	write_counters(root, &c);
	collect_perf_sample(&ctx, st, 2000, 2);
	c.rd += 4, c.rd_sect += 8, c.rxb += 100;
	c.user += 10, c.idle += 10;
	c.eth1 = false; /* unplugged */
	write_counters(root, &c);
	collect_perf_sample(&ctx, st, 4000, 4);
	Cairn__PerfWindow *w;
	cr_assert_eq(collect_perf_window_close(st, 5, &w), 0);
	cr_assert_eq(w->disks[0]->read_ops_ps->avg, 2.0, "one rate: 4 reads over 2 s");
	assert_stat(w->disks[0]->read_bytes_ps, 2048, 2048, 2048, 2048);
	assert_stat(w->nics[0]->rx_bytes_ps, 50, 50, 50, 50);
	cr_assert_eq(w->n_nics, 2, "eth1 had a rate in this window");
	cairn__perf_window__free_unpacked(w, NULL);
	c.user += 10, c.idle += 10;
	write_counters(root, &c);
	collect_perf_sample(&ctx, st, 5000, 6);
	cr_assert_eq(collect_perf_window_close(st, 7, &w), 0);
	cr_assert_eq(w->n_nics, 1, "eth1 is gone");
	cr_assert_eq(w->window_start_ms, 5, "a window starts where the last one closed");
	assert_stat(w->cpu_user_pct, 50, 50, 50, 50);
	cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(st);
	tu_rm_rf(root);
	free(root);
}

static Cairn__PerfWindow *fixture_window(const char *name, struct collect_ctx *ctx)
{
	collect_ctx_init(ctx, name);
	struct perf_state *st;
	cr_assert_eq(collect_perf_open(&st, 1000, 0), 0);
	collect_perf_sample(ctx, st, 1000, 1);
	collect_perf_sample(ctx, st, 2000, 2);
	Cairn__PerfWindow *w;
	cr_assert_eq(collect_perf_window_close(st, 3, &w), 0);
	collect_perf_close(st);
	return w;
}

Test(perf_fixture, whole_disks_only)
{
	struct collect_ctx ctx;
	Cairn__PerfWindow *w = fixture_window(FIXTURE_DIR "/debian12", &ctx);
	cr_assert_eq(w->n_disks, 3);
	cr_assert_str_eq(w->disks[0]->device, "sda");
	cr_assert_str_eq(w->disks[1]->device, "sdb");
	cr_assert_str_eq(w->disks[2]->device, "dm-0");
	cr_assert_eq(w->n_nics, 3);
	cr_assert_eq(w->cpu_threads, 8);
	cr_assert_eq(w->n_filesystems, 3, "/, /boot, /srv/data dir; never the NFS mount");
	assert_stat(w->load5, 0.48, 0.48, 0.48, 0.48);
	assert_stat(w->mem_used_bytes, (16326428.0 - 12000000) * 1024, (16326428.0 - 12000000) * 1024,
		    (16326428.0 - 12000000) * 1024, (16326428.0 - 12000000) * 1024);
	cairn__perf_window__free_unpacked(w, NULL);

	/* no /sys/block in the alpine capture: partitions told apart by name */
	w = fixture_window(FIXTURE_DIR "/alpine", &ctx);
	cr_assert_eq(w->n_disks, 1);
	cr_assert_str_eq(w->disks[0]->device, "nvme0n1");
	cairn__perf_window__free_unpacked(w, NULL);
}

Test(perf_malformed, truncated_lines_are_counted)
{
	struct counters c = { .user = 1, .idle = 1 };
	char *root = synthetic_root(&c);
	tu_write(root, "/proc/diskstats", "   8       0 sda 1 2 3\n   8       0\n");
	tu_write(root, "/proc/net/dev", "hdr|\nhdr|\n  eth0: 1 2 3\n");
	tu_write(root, "/proc/loadavg", "garbage\n");
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, root);
	struct perf_state *st;
	cr_assert_eq(collect_perf_open(&st, 1000, 0), 0);
	cr_assert_eq(collect_perf_sample(&ctx, st, 1000, 1), 0, "memory still sampled");
	cr_assert_eq(ctx.stats[COLLECT_PERF].errors, 4);
	Cairn__PerfWindow *w;
	cr_assert_eq(collect_perf_window_close(st, 2, &w), 0);
	cr_assert_eq(w->n_disks, 0);
	cr_assert_null(w->load1);
	cr_assert_not_null(w->mem_used_bytes);
	cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(st);
	tu_rm_rf(root);
	free(root);
}

Test(perf_live, two_samples)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct perf_state *st;
	cr_assert_eq(collect_perf_open(&st, 300, 0), 0);
	collect_perf_sample(&ctx, st, time_mono_ms(), time_now_ms());
	usleep(300000);
	collect_perf_sample(&ctx, st, time_mono_ms(), time_now_ms());
	Cairn__PerfWindow *w;
	cr_assert_eq(collect_perf_window_close(st, time_now_ms(), &w), 0);
	cr_assert_eq(ctx.stats[COLLECT_PERF].errors, 0, "%s", ctx.stats[COLLECT_PERF].last_error);
	cr_assert_not_null(w->cpu_busy_pct);
	double sum = w->cpu_user_pct->avg + w->cpu_system_pct->avg + w->cpu_iowait_pct->avg +
		     w->cpu_steal_pct->avg + w->cpu_idle_pct->avg;
	cr_assert_float_eq(sum, 100.0, 1e-6);
	cr_assert(w->cpu_busy_pct->avg >= 0 && w->cpu_busy_pct->avg <= 100);
	struct sysinfo si;
	sysinfo(&si);
	cr_assert_eq(w->mem_total_bytes, (uint64_t)si.totalram * si.mem_unit);
	cr_assert_eq(w->cpu_threads, (uint32_t)sysconf(_SC_NPROCESSORS_ONLN));
	bool lo = false;
	for (size_t i = 0; i < w->n_nics; i++)
		lo |= !strcmp(w->nics[i]->name, "lo");
	cr_assert(lo);
	cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(st);
}
