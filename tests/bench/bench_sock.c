/* bench-sock: cost of the socket collector against ss(8).
 *
 *   bench-sock [--connections N] [--procs P] [--runs R] [--churn-pct C] [--interval S]
 *
 * Sets up N established loopback TCP connections (2N sockets) held by P
 * processes (P/2 servers, P/2 clients, one listener each server), then
 * measures in the same run, R times each, medians reported:
 *   - `ss -tanp` and `ss -tan` (subprocess, output to /dev/null), wall time;
 *   - cold sample: a new scanner's first sample (sockets + owners);
 *   - warm sample: the same scanner again, sockets unchanged;
 *   - churn sample: after every client replaced C % of its connections.
 * Also the agent's peak RSS (VmHWM of this process, which holds nothing but
 * the scanner) and, before the connections exist, the CPU time of a warm
 * sample on the otherwise idle host as a share of one core per sample
 * interval (default 15 s). Prints a report; exit 0 when every sample found
 * every connection with its owner, 1 otherwise. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect.h"
#include "collect_sock.h"
#include "log.h"
#include "util.h"
#include "window.h"

struct proc {
	pid_t pid;
	int ctl;
	uint16_t port;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void put_u32(int fd, uint32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

static int get_u32(int fd, uint32_t *v)
{
	ssize_t n = read(fd, v, sizeof(*v));
	return n == (ssize_t)sizeof(*v) ? 0 : -1;
}

/* Accepts connections and closes each one its peer closes. */
static void server_main(int ctl)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&in, sizeof(in)) || listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&in, &len)) {
		put_u32(ctl, 0);
		_exit(1);
	}
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	put_u32(ctl, ntohs(in.sin_port));
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
				continue;
			}
			char buf[256];
			ssize_t r = read(fd, buf, sizeof(buf));
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}

static int connect_port(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&in, sizeof(in))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Holds k connections; command m replaces the m oldest with new ones. */
static void client_main(int ctl, uint16_t port, uint32_t k)
{
	int *fds = calloc(k, sizeof(*fds));
	if (!fds)
		_exit(1);
	for (uint32_t i = 0; i < k; i++) {
		fds[i] = connect_port(port);
		if (fds[i] < 0) {
			put_u32(ctl, 0);
			_exit(1);
		}
	}
	put_u32(ctl, k);
	uint32_t next = 0, m;
	while (get_u32(ctl, &m) == 0) {
		uint32_t ok = 0;
		for (uint32_t i = 0; i < m; i++, next = (next + 1) % k) {
			close(fds[next]);
			fds[next] = connect_port(port);
			ok += fds[next] >= 0;
		}
		put_u32(ctl, ok);
	}
	_exit(0);
}

static struct proc spawn(int role, uint16_t port, uint32_t k)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		perror("socketpair");
		exit(1);
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		raise_nofile();
		if (role == 0)
			server_main(sv[1]);
		else
			client_main(sv[1], port, k);
		_exit(0);
	}
	close(sv[1]);
	return (struct proc){pid, sv[0], 0};
}

static double run_ss(const char *args)
{
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("ss", "ss", args, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "ss %s failed\n", args);
		exit(1);
	}
	return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long vm_hwm_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

struct check {
	uint32_t conns_seen, owned;
};

/* Counts the benchmark's established sockets and how many have the right owner. */
static struct check check_sample(const struct sock_sample *s, const struct proc *srv,
				 const struct proc *cli, int half)
{
	struct check c = {0, 0};
	for (size_t i = 0; i < s->n; i++) {
		const struct sock_entry *e = &s->entries[i];
		if (e->protocol != IPPROTO_TCP || e->state != 1 || e->dir != SOCK_DIR_LOCAL)
			continue;
		for (int k = 0; k < half; k++) {
			if (e->local_port == srv[k].port) {
				c.conns_seen++;
				c.owned += e->pid == srv[k].pid;
				break;
			}
			if (e->remote_port == srv[k].port) {
				c.conns_seen++;
				c.owned += e->pid == cli[k].pid;
				break;
			}
		}
	}
	return c;
}

static const struct sock_sample *sample_or_die(struct sock_scanner *s, struct collect_ctx *ctx)
{
	const struct sock_sample *smp;
	int rc = collect_sock_scanner_sample(s, ctx, time_now_ms(), &smp);
	if (rc) {
		fprintf(stderr, "sample failed: %s (%s)\n", strerror(-rc),
			ctx->stats[COLLECT_SOCK].last_error);
		exit(1);
	}
	return smp;
}

/* --rss-probe: what the agent holds, in a fresh process so that nothing of
 * the benchmark itself counts: one scanner and one window, a cold sample and
 * three warm ones, the window closed. Prints VmHWM in KiB. */
static int rss_probe(void)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct sock_scanner *s;
	struct window *w;
	if (collect_sock_scanner_new(&s, &ctx, NULL) || window_new(&w, time_now_ms()))
		return 1;
	for (int i = 0; i < 4; i++)
		if (window_add_sample(w, sample_or_die(s, &ctx)))
			return 1;
	Cairn__ConnectionWindow *cw;
	Cairn__ListenerSet *ls;
	if (window_close(w, time_now_ms(), &cw, &ls))
		return 1;
	printf("%ld\n", vm_hwm_kib());
	cairn__connection_window__free_unpacked(cw, NULL);
	cairn__listener_set__free_unpacked(ls, NULL);
	window_free(w);
	collect_sock_scanner_free(s);
	return 0;
}

static long run_rss_probe(void)
{
	int pfd[2];
	if (pipe(pfd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		execl("/proc/self/exe", "bench-sock", "--rss-probe", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char buf[64] = "";
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

int main(int argc, char *argv[])
{
	uint32_t conns = 10000, procs = 20, churn_pct = 1;
	int runs = 7;
	double interval = 15;
	static const struct option longopts[] = {
		{"connections", required_argument, NULL, 'n'}, {"procs", required_argument, NULL, 'p'},
		{"runs", required_argument, NULL, 'r'},        {"churn-pct", required_argument, NULL, 'c'},
		{"interval", required_argument, NULL, 'i'},    {"help", no_argument, NULL, 'h'},
		{"rss-probe", no_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "n:p:r:c:i:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'n': conns = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'p': procs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': runs = atoi(optarg); break;
		case 'c': churn_pct = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'i': interval = atof(optarg); break;
		case 'R': return rss_probe();
		default:
			fprintf(opt == 'h' ? stdout : stderr,
				"Usage: bench-sock [--connections N] [--procs P] [--runs R] "
				"[--churn-pct C] [--interval SECONDS]\n");
			return opt == 'h' ? 0 : 2;
		}
	}
	if (procs < 2 || procs % 2 || runs < 1 || runs > 100 || conns < procs / 2) {
		fprintf(stderr, "bench-sock: --procs must be even and >= 2, --runs 1..100\n");
		return 2;
	}
	log_init("bench-sock", LOGL_WARN);
	raise_nofile();
	int half = (int)procs / 2;
	uint32_t per_client = conns / (uint32_t)half;
	conns = per_client * (uint32_t)half;
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");

	/* 1. Idle host: CPU of a warm sample. */
	struct sock_scanner *idle;
	if (collect_sock_scanner_new(&idle, &ctx, NULL))
		return 1;
	const struct sock_sample *smp = sample_or_die(idle, &ctx);
	size_t idle_socks = smp->n;
	int idle_n = 20;
	double c0 = cpu_s(), w0 = now_s();
	for (int i = 0; i < idle_n; i++)
		sample_or_die(idle, &ctx);
	double idle_cpu = (cpu_s() - c0) / idle_n, idle_wall = (now_s() - w0) / idle_n;
	collect_sock_scanner_free(idle);

	/* 2. The connections. */
	struct proc *srv = calloc((size_t)half, sizeof(*srv)), *cli = calloc((size_t)half, sizeof(*cli));
	for (int k = 0; k < half; k++) {
		srv[k] = spawn(0, 0, 0);
		uint32_t port;
		if (get_u32(srv[k].ctl, &port) || !port) {
			fprintf(stderr, "server %d could not listen\n", k);
			return 1;
		}
		srv[k].port = (uint16_t)port;
	}
	double t_setup = now_s();
	for (int k = 0; k < half; k++) {
		cli[k] = spawn(1, srv[k].port, per_client);
		cli[k].port = srv[k].port;
	}
	for (int k = 0; k < half; k++) {
		uint32_t got;
		if (get_u32(cli[k].ctl, &got) || got != per_client) {
			fprintf(stderr, "client %d could not connect (raise the fd limit?)\n", k);
			return 1;
		}
	}
	usleep(300000); /* let the servers accept the last connections */
	printf("setup: %u connections (%u sockets) held by %u processes in %.2f s; "
	       "%zu sockets on the host before\n",
	       conns, 2 * conns, procs, now_s() - t_setup, idle_socks);

	/* 3. Interleaved runs, so that load from elsewhere on the machine hits
	 *    every measurement alike: ss -tanp, ss -tan, a cold sample (new
	 *    scanner), a warm sample and a churn sample (one long-lived scanner). */
	double *tanp = calloc((size_t)runs, sizeof(double)), *tan = calloc((size_t)runs, sizeof(double));
	double *cold = calloc((size_t)runs, sizeof(double)), *warm = calloc((size_t)runs, sizeof(double));
	double *churn = calloc((size_t)runs, sizeof(double));
	double *r_cold = calloc((size_t)runs, sizeof(double)), *r_warm = calloc((size_t)runs, sizeof(double));
	double *r_churn = calloc((size_t)runs, sizeof(double));
	uint32_t cold_links = 0, warm_links = 0, churn_links = 0, churn_dirs = 0;
	uint32_t per_churn = per_client * churn_pct / 100;
	int bad = 0;
	size_t nsocks = 0;
	struct sock_scanner *s;
	if (collect_sock_scanner_new(&s, &ctx, NULL))
		return 1;
	sample_or_die(s, &ctx);
	for (int r = 0; r < runs; r++) {
		tanp[r] = run_ss("-tanp");
		tan[r] = run_ss("-tan");

		struct sock_scanner *fresh;
		if (collect_sock_scanner_new(&fresh, &ctx, NULL))
			return 1;
		double t0 = now_s();
		smp = sample_or_die(fresh, &ctx);
		cold[r] = now_s() - t0;
		cold_links = smp->fd_links_read;
		nsocks = smp->n;
		struct check c = check_sample(smp, srv, cli, half);
		if (c.conns_seen != 2 * conns || c.owned != 2 * conns) {
			fprintf(stderr, "cold run %d: %u/%u bench sockets seen, %u with the right owner\n",
				r, c.conns_seen, 2 * conns, c.owned);
			bad = 1;
		}
		collect_sock_scanner_free(fresh);

		t0 = now_s();
		smp = sample_or_die(s, &ctx);
		warm[r] = now_s() - t0;
		warm_links += smp->fd_links_read;

		for (int k = 0; k < half; k++)
			put_u32(cli[k].ctl, per_churn);
		for (int k = 0; k < half; k++) {
			uint32_t ok;
			if (get_u32(cli[k].ctl, &ok) || ok != per_churn) {
				fprintf(stderr, "client %d could not reconnect\n", k);
				return 1;
			}
		}
		usleep(200000); /* servers close and accept */
		t0 = now_s();
		smp = sample_or_die(s, &ctx);
		churn[r] = now_s() - t0;
		churn_links += smp->fd_links_read;
		churn_dirs += smp->fd_dirs_read;
		c = check_sample(smp, srv, cli, half);
		if (c.conns_seen != 2 * conns || c.owned != 2 * conns) {
			fprintf(stderr, "churn run %d: %u/%u bench sockets seen, %u with the right owner\n",
				r, c.conns_seen, 2 * conns, c.owned);
			bad = 1;
		}
		r_cold[r] = cold[r] / tanp[r];
		r_warm[r] = warm[r] / tan[r];
		r_churn[r] = churn[r] / tan[r];
	}
	/* The daemon also aggregates every sample into the report window. */
	double *agg = calloc((size_t)runs, sizeof(double));
	struct window *w;
	if (window_new(&w, time_now_ms()))
		return 1;
	for (int r = 0; r < runs; r++) {
		smp = sample_or_die(s, &ctx);
		double t0 = now_s();
		if (window_add_sample(w, smp))
			return 1;
		agg[r] = now_s() - t0;
	}
	size_t nedges = window_edge_count(w);
	window_free(w);
	collect_sock_scanner_free(s);
	long hwm = run_rss_probe(), bench_hwm = vm_hwm_kib();

	double m_tanp = median(tanp, runs), m_tan = median(tan, runs), m_cold = median(cold, runs);
	double m_warm = median(warm, runs), m_churn = median(churn, runs);
	double mr_cold = median(r_cold, runs), mr_warm = median(r_warm, runs), mr_churn = median(r_churn, runs);
	printf("sockets in a sample: %zu; runs: %d (medians)\n", nsocks, runs);
	printf("  ss -tanp          %8.1f ms\n", m_tanp * 1e3);
	printf("  ss -tan           %8.1f ms\n", m_tan * 1e3);
	/* Ratio of medians, and in brackets the median of the per-run ratios
	 * (each run's sample against the ss run just before it). */
	printf("  cold sample       %8.1f ms  = %.2f x ss -tanp [%.2f] (target <= 0.5)  %s   fd links read %u\n",
	       m_cold * 1e3, m_cold / m_tanp, mr_cold, m_cold <= 0.5 * m_tanp ? "MET" : "MISSED",
	       cold_links);
	printf("  warm sample       %8.1f ms  = %.2f x ss -tan  [%.2f] (target <= 1.0)  %s   fd links read %.1f/sample\n",
	       m_warm * 1e3, m_warm / m_tan, mr_warm, m_warm <= m_tan ? "MET" : "MISSED",
	       (double)warm_links / runs);
	printf("  %u%% churn sample  %8.1f ms  = %.2f x ss -tan  [%.2f] (target <= 1.0)  %s   fd links read %.1f, "
	       "fd dirs listed %.1f per sample\n",
	       churn_pct, m_churn * 1e3, m_churn / m_tan, mr_churn, m_churn <= m_tan ? "MET" : "MISSED",
	       (double)churn_links / runs, (double)churn_dirs / runs);
	printf("  window_add_sample %8.1f ms  (aggregating one sample into %zu edges; not part of the targets)\n",
	       median(agg, runs) * 1e3, nedges);
	printf("  peak RSS (VmHWM)  %8.1f MiB (target <= 16)  %s   (scanner + window in a fresh process; "
	       "this benchmark process with two scanners: %.1f MiB)\n",
	       hwm / 1024.0, hwm >= 0 && hwm <= 16 * 1024 ? "MET" : "MISSED", bench_hwm / 1024.0);
	printf("  idle host (%zu sockets): warm sample %.2f ms wall, %.3f ms CPU = %.4f %% of one core "
	       "per %.0f s interval (target <= 0.1 %%)  %s\n",
	       idle_socks, idle_wall * 1e3, idle_cpu * 1e3, idle_cpu / interval * 100, interval,
	       idle_cpu / interval * 100 <= 0.1 ? "MET" : "MISSED");
	printf("  owners: %s\n", bad ? "SOME BENCH SOCKETS MISSING OR MISATTRIBUTED" :
				      "every bench socket found with its owner in every sample");
	for (int k = 0; k < half; k++) {
		kill(srv[k].pid, SIGKILL);
		kill(cli[k].pid, SIGKILL);
		waitpid(srv[k].pid, NULL, 0);
		waitpid(cli[k].pid, NULL, 0);
	}
	free(srv);
	free(cli);
	free(tanp);
	free(tan);
	free(cold);
	free(warm);
	free(churn);
	free(r_cold);
	free(r_warm);
	free(r_churn);
	free(agg);
	return bad;
}
