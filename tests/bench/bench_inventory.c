/* bench-inventory: cost of the inventory collectors on this host.
 *
 *   bench-inventory [--spawn N] [--rounds R]
 *
 * Optionally forks N idle children (so the process table has N more
 * entries), then times, R rounds each (median reported): a cold process
 * snapshot (new state: every process's exe, cmdline, status, cgroup read), a
 * warm one (same state: only /proc/PID/stat), a perf sample, host facts, and
 * the package inventory cold and unchanged. Prints the agent's peak RSS and
 * the CPU share of one default sample interval (15 s) spent on a perf sample
 * plus a warm process snapshot. Numbers go to docs/benchmarks.md. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "collect_host.h"
#include "collect_perf.h"
#include "collect_pkg.h"
#include "collect_proc.h"
#include "util.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double median_ms(uint64_t *us, int n)
{
	qsort(us, (size_t)n, sizeof(*us), cmp_u64);
	return (double)us[n / 2] / 1000.0;
}

int main(int argc, char *argv[])
{
	int spawn = 0, rounds = 15;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spawn") && i + 1 < argc)
			spawn = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench-inventory [--spawn N] [--rounds R]\n");
			return 2;
		}
	}
	if (rounds < 1 || rounds > 1000 || spawn < 0 || spawn > 20000) {
		fprintf(stderr, "bench-inventory: --rounds 1..1000, --spawn 0..20000\n");
		return 2;
	}
	pid_t *kids = calloc((size_t)spawn + 1, sizeof(pid_t));
	for (int i = 0; i < spawn; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
		if (kids[i] < 0) {
			fprintf(stderr, "fork: %s\n", strerror(errno));
			spawn = i;
			break;
		}
	}
	uint64_t *t = calloc((size_t)rounds, sizeof(uint64_t));
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	size_t nproc = 0;

	for (int r = 0; r < rounds; r++) {
		struct proc_state *st;
		collect_proc_state_new(&st);
		Cairn__ProcessSnapshot *s;
		uint64_t t0 = time_mono_us();
		collect_proc_snapshot(&ctx, st, &s);
		t[r] = time_mono_us() - t0;
		nproc = s->n_processes;
		cairn__process_snapshot__free_unpacked(s, NULL);
		collect_proc_state_free(st);
	}
	double proc_cold = median_ms(t, rounds);

	struct proc_state *warm;
	collect_proc_state_new(&warm);
	Cairn__ProcessSnapshot *s;
	collect_proc_snapshot(&ctx, warm, &s);
	cairn__process_snapshot__free_unpacked(s, NULL);
	uint64_t *c = calloc((size_t)rounds, sizeof(uint64_t));
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = time_mono_us(), c0 = cpu_us();
		collect_proc_snapshot(&ctx, warm, &s);
		t[r] = time_mono_us() - t0;
		c[r] = cpu_us() - c0;
		cairn__process_snapshot__free_unpacked(s, NULL);
	}
	double proc_warm = median_ms(t, rounds), proc_warm_cpu = median_ms(c, rounds);
	collect_proc_state_free(warm);

	struct perf_state *perf;
	collect_perf_open(&perf, 15000, 0);
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = time_mono_us(), c0 = cpu_us();
		collect_perf_sample(&ctx, perf, time_mono_ms(), time_now_ms());
		t[r] = time_mono_us() - t0;
		c[r] = cpu_us() - c0;
	}
	double perf_ms = median_ms(t, rounds), perf_cpu = median_ms(c, rounds);
	Cairn__PerfWindow *w;
	if (!collect_perf_window_close(perf, time_now_ms(), &w))
		cairn__perf_window__free_unpacked(w, NULL);
	collect_perf_close(perf);

	for (int r = 0; r < rounds; r++) {
		Cairn__HostInfo *h;
		uint64_t t0 = time_mono_us();
		collect_host(&ctx, &h);
		t[r] = time_mono_us() - t0;
		cairn__host_info__free_unpacked(h, NULL);
	}
	double host_ms = median_ms(t, rounds);

	size_t npkg = 0;
	for (int pass = 0; pass < 2; pass++) {
		struct pkg_state ps = { 0 };
		Cairn__PackageInventory **inv;
		size_t n;
		if (pass == 1) { /* prime the state: later rounds find nothing changed */
			collect_pkg(&ctx, &ps, &inv, &n);
			for (size_t i = 0; i < n; i++)
				cairn__package_inventory__free_unpacked(inv[i], NULL);
			free(inv);
		}
		for (int r = 0; r < rounds; r++) {
			struct pkg_state use = ps;
			uint64_t t0 = time_mono_us();
			collect_pkg(&ctx, pass ? &use : NULL, &inv, &n);
			t[r] = time_mono_us() - t0;
			for (size_t i = 0; i < n; i++) {
				if (!pass)
					npkg += inv[i]->n_packages;
				cairn__package_inventory__free_unpacked(inv[i], NULL);
			}
			free(inv);
		}
		if (!pass)
			printf("pkg cold        %8.2f ms  (%zu packages)\n", median_ms(t, rounds),
			       npkg / (size_t)rounds);
		else
			printf("pkg unchanged   %8.3f ms\n", median_ms(t, rounds));
	}

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("proc cold       %8.2f ms  (%zu processes)\n", proc_cold, nproc);
	printf("proc warm       %8.2f ms  (CPU %.2f ms)\n", proc_warm, proc_warm_cpu);
	printf("perf sample     %8.2f ms  (CPU %.2f ms)\n", perf_ms, perf_cpu);
	printf("host facts      %8.2f ms\n", host_ms);
	printf("peak RSS        %8.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
	printf("CPU per 15 s sample interval (perf sample + warm process snapshot): %.3f %% of one core\n",
	       (perf_cpu + proc_warm_cpu) / 15000.0 * 100.0);
	printf("errors: host %lu perf %lu proc %lu pkg %lu\n",
	       (unsigned long)ctx.stats[COLLECT_HOST].errors, (unsigned long)ctx.stats[COLLECT_PERF].errors,
	       (unsigned long)ctx.stats[COLLECT_PROC].errors, (unsigned long)ctx.stats[COLLECT_PKG].errors);

	for (int i = 0; i < spawn; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < spawn; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	free(t);
	free(c);
	return 0;
}
