/* Connection capture with eBPF (see capture.h). */
#include "capture.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cairn-config.h"
#include "collect_proc.h"
#include "log.h"
#include "sock_parse.h"
#include "sockhash.h"
#include "util.h"

#if HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/capture.h"
#include "capture.skel.h"
#endif

/* An owner resolved from /proc, shared by the flows of its pid. */
struct proc_ent {
	struct sock_proc p;
	uint64_t last_gen;          /* flow table generation that last used it */
	char name[64];
	char identity[PROC_IDENTITY_MAX];
	char container_id[PROC_CONTAINER_ID_MAX];
};

struct flow_table {
	struct capture_flow *flows;
	size_t n, cap;
	struct sockhash idx;        /* key hash (probed) -> index + 1 */
	struct capture_sampled *sampled;
	size_t nsampled, capsampled;
};

struct capture {
	struct collect_ctx *ctx;
	struct capture_opts opts;
	bool active;
	char describe[256];
	const char *tcp_hook, *udp_hook;

	pthread_mutex_t mu;         /* table, procs, counters */
	struct flow_table t;
	uint64_t gen;
	struct sockhash procs;      /* pid -> struct proc_ent * */
	struct capture_counters cnt;
	uint64_t udp_drained_ns;

	/* The drain in progress (under mu). */
	uint64_t now_mono;
	int64_t now_wall;
	int nread;

#if HAVE_BPF
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct capture_udp_key udp_keys[256];
	struct capture_udp_val udp_vals[256];
#endif
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Kernel monotonic nanoseconds to wall-clock milliseconds. */
static int64_t wall_ms_of(uint64_t ts_ns, uint64_t now_mono, int64_t now_wall)
{
	int64_t ago = ts_ns < now_mono ? (int64_t)((now_mono - ts_ns) / 1000000u) : 0;
	return now_wall - ago;
}

bool capture_active(const struct capture *c)
{
	return c && c->active;
}

const char *capture_describe(const struct capture *c)
{
	return c ? c->describe : "poll (reason: capture not started)";
}

const char *capture_tcp_hook(const struct capture *c)
{
	return c && c->active ? c->tcp_hook : "";
}

const char *capture_udp_hook(const struct capture *c)
{
	return c && c->active ? c->udp_hook : "";
}

void capture_take_free(struct capture_take *t)
{
	free(t->flows);
	free(t->sampled);
	memset(t, 0, sizeof(*t));
}

static void table_free(struct flow_table *t)
{
	free(t->flows);
	free(t->sampled);
	sockhash_free(&t->idx);
	memset(t, 0, sizeof(*t));
}

/* ------------------------------------------------------------ owners */

static const struct sock_proc *proc_resolve(struct capture *c, int32_t pid, const char *comm)
{
	uint64_t v;
	struct proc_ent *pe = NULL;
	if (pid <= 0)
		return NULL;
	/* comm is the thread's name (a Java worker's, say): it names the flow
	 * only when /proc cannot, and never invalidates the cached owner. */
	if (sockhash_get(&c->procs, (uint64_t)pid, &v)) {
		pe = (struct proc_ent *)(uintptr_t)v;
	} else {
		struct proc_info info;
		if (collect_proc_info_read(c->ctx, (uint32_t)pid, &info) != 0)
			return NULL; /* gone already: the flow keeps its comm */
		pe = calloc(1, sizeof(*pe));
		if (!pe)
			return NULL;
		str_copy(pe->name, info.name, sizeof(pe->name));
		str_copy(pe->identity, info.identity, sizeof(pe->identity));
		str_copy(pe->container_id, info.container_id, sizeof(pe->container_id));
		pe->p = (struct sock_proc){ .pid = pid, .start_time = info.start_ticks,
					    .netns = info.netns, .name = pe->name,
					    .identity = pe->identity,
					    .container_id = pe->container_id };
		if (sockhash_put(&c->procs, (uint64_t)pid, (uint64_t)(uintptr_t)pe)) {
			free(pe);
			return NULL;
		}
	}
	pe->last_gen = c->gen;
	return &pe->p;
}

/* Owners no flow of the table just handed out or of the new one uses. */
static void procs_prune(struct capture *c)
{
	uint64_t *old = NULL;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < c->procs.cap; i++) {
		if (!c->procs.keys[i])
			continue;
		struct proc_ent *pe = (struct proc_ent *)(uintptr_t)c->procs.vals[i];
		if (pe->last_gen + 1 < c->gen &&
		    array_grow((void **)&old, &cap, n + 1, sizeof(*old)) == 0)
			old[n++] = c->procs.keys[i];
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		if (sockhash_get(&c->procs, old[i], &v)) {
			free((struct proc_ent *)(uintptr_t)v);
			sockhash_del(&c->procs, old[i]);
		}
	}
	free(old);
}

/* ------------------------------------------------------------ flow table */

struct flow_key {
	struct sock_addr local, remote;
	uint64_t netns;
	int32_t pid;
	uint16_t local_port, remote_port;
	uint8_t protocol, role;
	uint8_t pad[2];
};

static bool flow_matches(const struct capture_flow *f, const struct flow_key *k)
{
	return f->protocol == k->protocol && f->role == k->role && f->pid == k->pid &&
	       f->netns == k->netns && f->local_port == k->local_port &&
	       f->remote_port == k->remote_port && !sock_addr_cmp(&f->local, &k->local) &&
	       !sock_addr_cmp(&f->remote, &k->remote);
}

static struct capture_flow *flow_get(struct capture *c, const struct flow_key *k, const char *comm,
				     int64_t when_ms, uint64_t when_ns, size_t *index)
{
	struct flow_table *t = &c->t;
	uint64_t h = sockhash_bytes(k, sizeof(*k), 11), v;
	uint64_t slot = 0;
	for (unsigned i = 0;; i++) {
		uint64_t probe = sockhash_probe_key(h, i);
		if (!sockhash_get(&t->idx, probe, &v)) {
			slot = probe;
			break;
		}
		if (flow_matches(&t->flows[v - 1], k)) {
			struct capture_flow *f = &t->flows[v - 1];
			if (when_ms < f->first_ms)
				f->first_ms = when_ms;
			if (when_ns < f->first_ns)
				f->first_ns = when_ns;
			if (when_ms > f->last_ms)
				f->last_ms = when_ms;
			if (!f->proc && k->pid)
				f->proc = proc_resolve(c, k->pid, comm);
			else if (f->proc)
				proc_resolve(c, k->pid, comm); /* keeps it alive */
			*index = v - 1;
			return f;
		}
	}
	if (t->n >= CAPTURE_MAX_FLOWS ||
	    array_grow((void **)&t->flows, &t->cap, t->n + 1, sizeof(*t->flows)) ||
	    sockhash_put(&t->idx, slot, t->n + 1)) {
		c->cnt.flows_lost++;
		return NULL;
	}
	struct capture_flow *f = &t->flows[t->n];
	memset(f, 0, sizeof(*f));
	f->protocol = k->protocol;
	f->role = k->role;
	f->pid = k->pid;
	f->netns = k->netns;
	f->local = k->local;
	f->remote = k->remote;
	f->local_port = k->local_port;
	f->remote_port = k->remote_port;
	f->first_ms = f->last_ms = when_ms;
	f->first_ns = when_ns;
	str_copy(f->comm, comm, sizeof(f->comm));
	f->proc = proc_resolve(c, k->pid, comm);
	*index = t->n++;
	return f;
}

static void key_addrs(struct flow_key *k, int family, const uint8_t *laddr, const uint8_t *raddr)
{
	int af = family == 10 ? AF_INET6 : AF_INET;
	sock_addr_set(&k->local, af, laddr);
	sock_addr_set(&k->remote, af, raddr);
}

int capture_take(struct capture *c, struct capture_take *out);

#if HAVE_BPF

/* ------------------------------------------------------------ BPF side */

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_debug("libbpf: %s", buf);
	return 0;
}

static int on_event(void *arg, void *data, size_t size)
{
	struct capture *c = arg;
	const struct capture_event *e = data;
	if (size < sizeof(*e))
		return 0;
	c->nread++;
	if (e->kind == CAPTURE_PROC) {
		char name[CAPTURE_COMM_LEN + 1];
		memcpy(name, e->comm, CAPTURE_COMM_LEN);
		name[CAPTURE_COMM_LEN] = '\0';
		proc_resolve(c, (int32_t)e->pid, name);
		return 0;
	}
	c->cnt.events++;
	struct flow_key k;
	memset(&k, 0, sizeof(k));
	k.protocol = IPPROTO_TCP;
	k.role = e->role;
	k.pid = (int32_t)e->pid;
	k.netns = e->netns;
	key_addrs(&k, e->family, e->laddr, e->raddr);
	if (e->role == CAPTURE_CLIENT)
		k.remote_port = e->rport;
	else
		k.local_port = e->lport;
	/* v4-mapped addresses are reported as IPv4, like the samples do. */
	char comm[CAPTURE_COMM_LEN + 1];
	memcpy(comm, e->comm, CAPTURE_COMM_LEN);
	comm[CAPTURE_COMM_LEN] = '\0';
	int64_t when = wall_ms_of(e->ts_ns, c->now_mono, c->now_wall);
	size_t idx;
	struct capture_flow *f = flow_get(c, &k, comm, when, e->ts_ns, &idx);
	if (!f)
		return 0;
	if (e->kind == CAPTURE_OPEN) {
		f->opened++;
		return 0;
	}
	uint64_t dur_us = e->ts_ns > e->start_ns ? (e->ts_ns - e->start_ns) / 1000u : 0;
	f->closed++;
	if (dur_us < (uint64_t)c->opts.short_lived_ms * 1000u)
		f->short_lived++;
	f->duration_total_us += dur_us;
	if (dur_us > f->duration_max_us)
		f->duration_max_us = dur_us;
	f->bytes_sent += e->bytes_acked;
	f->bytes_received += e->bytes_received;
	if (e->cookie) {
		struct flow_table *t = &c->t;
		if (array_grow((void **)&t->sampled, &t->capsampled, t->nsampled + 1,
			       sizeof(*t->sampled)) == 0)
			t->sampled[t->nsampled++] = (struct capture_sampled){
				.cookie = e->cookie, .flow = idx, .bytes_acked = e->bytes_acked,
				.bytes_received = e->bytes_received };
	}
	return 0;
}

static void read_bpf_stats(struct capture *c)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return;
	uint64_t *vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	int fd = bpf_map__fd(c->skel->maps.stats);
	for (uint32_t k = 0; k < CAPTURE_NSTATS; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		uint64_t sum = 0;
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
		if (k == CAPTURE_STAT_RB_DROPS)
			c->cnt.ringbuf_drops = sum;
		else if (k == CAPTURE_STAT_MAP_FULL)
			c->cnt.map_full = sum;
		else if (k == CAPTURE_STAT_UDP_PKTS)
			c->cnt.udp_datagrams = sum;
	}
	free(vals);
}

static void udp_add(struct capture *c, const struct capture_udp_key *uk,
		    const struct capture_udp_val *uv, uint64_t now_mono, int64_t now_wall)
{
	struct flow_key k;
	memset(&k, 0, sizeof(k));
	k.protocol = IPPROTO_UDP;
	k.role = CAPTURE_ROLE_UNKNOWN;
	k.pid = (int32_t)uv->pid;
	k.netns = uk->netns;
	key_addrs(&k, uk->family, uk->laddr, uk->raddr);
	k.local_port = uk->lport;
	k.remote_port = uk->rport;
	char comm[CAPTURE_COMM_LEN + 1];
	memcpy(comm, uv->comm, CAPTURE_COMM_LEN);
	comm[CAPTURE_COMM_LEN] = '\0';
	size_t idx;
	struct capture_flow *f = flow_get(c, &k, comm, wall_ms_of(uv->first_ns, now_mono, now_wall),
					  uv->first_ns, &idx);
	if (!f)
		return;
	int64_t last = wall_ms_of(uv->last_ns, now_mono, now_wall);
	if (last > f->last_ms)
		f->last_ms = last;
	f->datagrams_sent += uv->datagrams;
	f->bytes_sent += uv->bytes;
}

/* Reads and deletes every UDP flow entry (the kernel re-creates an entry on
 * the flow's next datagram). Called with c->mu held. */
static void udp_drain(struct capture *c)
{
	int fd = bpf_map__fd(c->skel->maps.udp_flows);
	uint64_t now_mono = mono_ns();
	int64_t now_wall = time_now_ms();
	c->udp_drained_ns = now_mono;
	struct capture_udp_key *keys = c->udp_keys, next;
	struct capture_udp_val *vals = c->udp_vals;
	const __u32 batch = sizeof(c->udp_keys) / sizeof(c->udp_keys[0]);
	size_t seen = 0;
	void *in = NULL;
	for (;;) {
		__u32 count = batch;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		int rc = bpf_map_lookup_and_delete_batch(fd, in, &next, keys, vals, &count, &bo);
		int err = rc < 0 ? rc : 0;
		for (__u32 i = 0; i < count; i++)
			udp_add(c, &keys[i], &vals[i], now_mono, now_wall);
		seen += count;
		if (err == -ENOENT || (rc == 0 && count == 0))
			break;
		if (err) {
			log_debug("capture: reading the UDP flow map: %s", strerror(-err));
			break;
		}
		in = &next;
	}
	/* Close to the map's size between two reads: the LRU may have evicted
	 * flows before they were read. */
	if (seen >= bpf_map__max_entries(c->skel->maps.udp_flows) * 9 / 10)
		c->cnt.map_full++;
}

struct attach_plan {
	const char *tcp, *udp;
};

static const struct attach_plan plans[] = {
	{ "tp_btf", "fexit" },
	{ "tp_btf", "kprobe" },
	{ "tp_btf", "net_dev_queue" },
	{ "raw_tp", "net_dev_queue" },
	{ "tp_btf", "none" },
	{ "raw_tp", "none" },
};

static void set_autoload(struct capture_bpf *s, const struct attach_plan *p)
{
	bool btf = !strcmp(p->tcp, "tp_btf");
	bpf_program__set_autoload(s->progs.tcp_state_btf, btf);
	bpf_program__set_autoload(s->progs.tcp_state_raw, !btf);
	bool fexit = !strcmp(p->udp, "fexit"), kprobe = !strcmp(p->udp, "kprobe");
	bool xmit = !strcmp(p->udp, "net_dev_queue");
	bpf_program__set_autoload(s->progs.udp_send_fexit, fexit);
	bpf_program__set_autoload(s->progs.udp6_send_fexit, fexit);
	bpf_program__set_autoload(s->progs.udp_send_kprobe, kprobe);
	bpf_program__set_autoload(s->progs.udp6_send_kprobe, kprobe);
	bpf_program__set_autoload(s->progs.udp_xmit_btf, xmit && btf);
	bpf_program__set_autoload(s->progs.udp_xmit_raw, xmit && !btf);
}

static int attach_one(struct bpf_program *prog, struct bpf_link **link)
{
	if (!bpf_program__autoload(prog))
		return 0;
	*link = bpf_program__attach(prog);
	return *link ? 0 : -errno;
}

static int try_plan(struct capture *c, const struct attach_plan *p, char *why, size_t n)
{
	struct capture_bpf *s = capture_bpf__open();
	if (!s) {
		int rc = -errno;
		snprintf(why, n, "cannot open the BPF object: %s", strerror(-rc));
		return rc;
	}
	s->rodata->wakeup_bytes = c->opts.wakeup_bytes;
	set_autoload(s, p);
	int rc = capture_bpf__load(s);
	if (rc) {
		rc = errno ? -errno : -EINVAL;
		snprintf(why, n, "loading (tcp: %s, udp: %s): %s", p->tcp, p->udp, strerror(-rc));
		capture_bpf__destroy(s);
		return rc;
	}
	struct { struct bpf_program *prog; struct bpf_link **link; } a[] = {
		{ s->progs.tcp_state_btf, &s->links.tcp_state_btf },
		{ s->progs.tcp_state_raw, &s->links.tcp_state_raw },
		{ s->progs.udp_send_fexit, &s->links.udp_send_fexit },
		{ s->progs.udp6_send_fexit, &s->links.udp6_send_fexit },
		{ s->progs.udp_send_kprobe, &s->links.udp_send_kprobe },
		{ s->progs.udp6_send_kprobe, &s->links.udp6_send_kprobe },
		{ s->progs.udp_xmit_btf, &s->links.udp_xmit_btf },
		{ s->progs.udp_xmit_raw, &s->links.udp_xmit_raw },
	};
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		rc = attach_one(a[i].prog, a[i].link);
		if (rc) {
			snprintf(why, n, "attaching %s: %s", bpf_program__section_name(a[i].prog),
				 strerror(-rc));
			capture_bpf__destroy(s); /* detaches what was attached */
			return rc;
		}
	}
	c->skel = s;
	return 0;
}

/* CAP_BPF + CAP_PERFMON (kernel 5.8+), or CAP_SYS_ADMIN, in our effective set. */
static bool have_bpf_caps(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	bool found = false;
	if (!f)
		return true; /* cannot tell: let the kernel decide */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			found = true;
			break;
		}
	fclose(f);
	if (!found)
		return true;
	bool sys_admin = eff & (1ULL << 21), bpf = eff & (1ULL << 39), perfmon = eff & (1ULL << 38);
	return sys_admin || (bpf && perfmon);
}

static int capture_start(struct capture *c)
{
	char why[200] = "";
	int last_rc = 0;
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(c->describe, sizeof(c->describe),
			 "poll (reason: kernel has no BTF: /sys/kernel/btf/vmlinux missing)");
		return -ENOTSUP;
	}
	if (!have_bpf_caps()) {
		snprintf(c->describe, sizeof(c->describe),
			 "poll (reason: no CAP_BPF/CAP_PERFMON (nor CAP_SYS_ADMIN) in the effective set)");
		return -EPERM;
	}
	libbpf_set_print(libbpf_log);
	for (size_t i = 0; i < sizeof(plans) / sizeof(plans[0]); i++) {
		int rc = try_plan(c, &plans[i], why, sizeof(why));
		if (rc == 0) {
			c->tcp_hook = plans[i].tcp;
			c->udp_hook = plans[i].udp;
			break;
		}
		log_debug("capture: %s", why);
		last_rc = rc;
	}
	if (!c->skel) {
		/* The last plan is the least demanding one: its error says most. */
		snprintf(c->describe, sizeof(c->describe), "poll (reason: %s)", why);
		return last_rc ? last_rc : -ENOTSUP;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event, c, NULL);
	if (!c->rb) {
		int rc = -errno;
		snprintf(c->describe, sizeof(c->describe),
			 "poll (reason: cannot map the ring buffer: %s)", strerror(-rc));
		capture_bpf__destroy(c->skel);
		c->skel = NULL;
		return rc;
	}
	snprintf(c->describe, sizeof(c->describe), "ebpf (tcp: %s, udp: %s)", c->tcp_hook,
		 c->udp_hook);
	c->active = true;
	return 0;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	if (!capture_active(c))
		return 0;
	if (timeout_ms > 0) {
		/* Wait for a wake-up without the lock; the drain takes it. */
		struct epoll_event ev;
		int n = epoll_wait(ring_buffer__epoll_fd(c->rb), &ev, 1, timeout_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
	}
	pthread_mutex_lock(&c->mu);
	c->now_mono = mono_ns();
	c->now_wall = time_now_ms();
	c->nread = 0;
	int rc = ring_buffer__consume(c->rb);
	if (c->now_mono - c->udp_drained_ns > 1000000000ull && strcmp(c->udp_hook, "none"))
		udp_drain(c);
	read_bpf_stats(c);
	int n = c->nread;
	pthread_mutex_unlock(&c->mu);
	return rc < 0 ? rc : n;
}

int capture_fd(const struct capture *c)
{
	return capture_active(c) ? ring_buffer__epoll_fd(c->rb) : -1;
}

static void capture_stop(struct capture *c)
{
	ring_buffer__free(c->rb);
	c->rb = NULL;
	capture_bpf__destroy(c->skel);
	c->skel = NULL;
	c->active = false;
}

#else /* !HAVE_BPF */

static int capture_start(struct capture *c)
{
	snprintf(c->describe, sizeof(c->describe),
		 "poll (reason: built without eBPF support: -Dbpf=disabled or libbpf missing)");
	return -ENOTSUP;
}

int capture_poll(struct capture *c, int timeout_ms)
{
	(void)c;
	(void)timeout_ms;
	return 0;
}

int capture_fd(const struct capture *c)
{
	(void)c;
	return -1;
}

static void capture_stop(struct capture *c)
{
	(void)c;
}

#endif

int capture_open(struct capture **out, struct collect_ctx *ctx, const struct capture_opts *opts)
{
	struct capture *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	if (opts)
		c->opts = *opts;
	if (!c->opts.short_lived_ms)
		c->opts.short_lived_ms = 15000;
	if (!c->opts.wakeup_bytes)
		c->opts.wakeup_bytes = 256u << 10;
	c->gen = 1;
	c->tcp_hook = c->udp_hook = "";
	pthread_mutex_init(&c->mu, NULL);
	if (c->opts.disable) {
		snprintf(c->describe, sizeof(c->describe), "poll (reason: %s)",
			 c->opts.disable_reason ? c->opts.disable_reason : "disabled");
	} else if (!ctx->live) {
		snprintf(c->describe, sizeof(c->describe),
			 "poll (reason: not the live host: --root %.150s)", ctx->root);
	} else {
		capture_start(c);
		log_info("connection capture: %s", c->describe);
	}
	*out = c;
	return 0;
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	capture_stop(c);
	table_free(&c->t);
	for (size_t i = 0; i < c->procs.cap; i++)
		if (c->procs.keys[i])
			free((struct proc_ent *)(uintptr_t)c->procs.vals[i]);
	sockhash_free(&c->procs);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int capture_take(struct capture *c, struct capture_take *out)
{
	memset(out, 0, sizeof(*out));
	if (!capture_active(c))
		return 0;
	capture_poll(c, 0);
	pthread_mutex_lock(&c->mu);
#if HAVE_BPF
	if (strcmp(c->udp_hook, "none"))
		udp_drain(c);
#endif
	out->flows = c->t.flows;
	out->nflows = c->t.n;
	out->sampled = c->t.sampled;
	out->nsampled = c->t.nsampled;
	sockhash_free(&c->t.idx);
	memset(&c->t, 0, sizeof(c->t));
	c->gen++;
	procs_prune(c);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void capture_get_counters(struct capture *c, struct capture_counters *out)
{
	memset(out, 0, sizeof(*out));
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	*out = c->cnt;
	pthread_mutex_unlock(&c->mu);
}
