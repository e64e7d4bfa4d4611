/* Performance collector (collect_perf.c). */
#ifndef CAIRN_AGENT_COLLECT_PERF_H
#define CAIRN_AGENT_COLLECT_PERF_H

#include <stdint.h>

#include "cairn.pb-c.h"
#include "collect.h"

/* Sampling and per-window aggregation of performance counters.
 *
 * The daemon calls collect_perf_sample() every sample_interval and
 * collect_perf_window_close() every report window. A sample reads /proc/stat,
 * /proc/loadavg, /proc/meminfo, /proc/diskstats (whole disks),
 * /proc/net/dev and filesystem usage, and turns counter deltas against the
 * previous sample into rates; the first sample after collect_perf_open() only primes
 * the counters (gauges such as load and memory are recorded right away). A
 * window's Stat is avg/min/max over every sample and p95 over the samples held
 * (the newest max_samples of the window). Memory is bounded by max_samples x
 * (metrics + devices). */
struct perf_state;

/* interval_ms is reported in PerfWindow.interval_ms; max_samples bounds the
 * samples kept per window for p95 (0 = 1024). */
int collect_perf_open(struct perf_state **out, uint32_t interval_ms, uint32_t max_samples);
void collect_perf_close(struct perf_state *st);
/* mono_ms: monotonic milliseconds (time_mono_ms()) used for rates; now_ms:
 * wall clock for window bounds. Returns 0 or a negative errno when no counter
 * could be read at all. */
int collect_perf_sample(struct collect_ctx *ctx, struct perf_state *st, uint64_t mono_ms, int64_t now_ms);
/* Builds the PerfWindow of the samples since the last close and starts a new
 * window (counters are kept, so rates continue). A Stat without any value
 * (rates after the very first sample, CPU when /proc/stat did not move) is
 * left unset. -ENODATA when the window holds no sample at all. */
int collect_perf_window_close(struct perf_state *st, int64_t now_ms, Cairn__PerfWindow **out);

#endif
