/* Connection capture with eBPF: loader, ring-buffer reader and flow
 * aggregator (the BPF side is agent/bpf/capture.bpf.c).
 *
 * capture_open() probes, in order, TCP on tp_btf/inet_sock_set_state then
 * raw_tp, and UDP on fexit/udp_sendmsg, kprobe/udp_sendmsg, then
 * tp_btf/raw_tp net_dev_queue; the first combination that loads and attaches
 * wins. When nothing does (no CAP_BPF/CAP_PERFMON, no kernel BTF, built
 * without libbpf), the capture is inactive and capture_describe() says
 * "poll (reason: ...)": the socket samples alone make the map.
 *
 * capture_poll() drains the ring buffer and the UDP flow map into an
 * in-memory flow table: one entry per (protocol, role, pid, netns, local,
 * remote) with the client's ephemeral port dropped for TCP, so memory
 * follows the number of distinct flows, not of connections (bounded by
 * CAPTURE_MAX_FLOWS; beyond it flows are counted as lost). capture_take()
 * hands that table to the window (window_add_flows) and starts a new one.
 * Owners are resolved from /proc when their first event is read; the
 * program's comm names those already gone.
 *
 * Threads: capture_poll() on one thread (the daemon's loop), capture_take()
 * on another (its worker) is fine: the table has a mutex. Every BPF link is
 * an fd owned by the skeleton: capture_close() detaches everything, and a
 * crash detaches it too (the kernel drops links with the last fd). */
#ifndef CAIRN_AGENT_CAPTURE_H
#define CAIRN_AGENT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "collect_sock.h"

#define CAPTURE_MAX_FLOWS 200000

/* Roles (same values as enum capture_role in bpf/capture.h). */
enum {
	CAPTURE_ROLE_UNKNOWN = 0,   /* UDP: decided from the ports by the window */
	CAPTURE_ROLE_CLIENT = 1,
	CAPTURE_ROLE_SERVER = 2,
};

/* One flow of a take. TCP client flows have local_port 0 (ephemeral, one per
 * connection), TCP server flows remote_port 0; UDP flows keep both. */
struct capture_flow {
	uint8_t protocol;           /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t role;
	int32_t pid;                /* 0: unknown (server whose listener predates us) */
	uint64_t netns;
	struct sock_addr local, remote;
	uint16_t local_port, remote_port;
	uint64_t opened, closed;    /* TCP connections that reached ESTABLISHED / CLOSE */
	uint64_t short_lived;       /* closed after less than opts.short_lived_ms */
	uint64_t duration_total_us, duration_max_us;
	uint64_t bytes_sent, bytes_received;
	uint64_t datagrams_sent;    /* UDP */
	int64_t first_ms, last_ms;  /* wall clock */
	uint64_t first_ns;          /* monotonic: orders the two directions of a UDP flow */
	const struct sock_proc *proc; /* resolved owner, NULL unknown; valid until the next take */
	char comm[16];              /* the kernel's name of the process at the event */
};

/* A closed TCP connection whose socket cookie was generated (a netlink
 * sample saw it): the window subtracts what its samples already counted. */
struct capture_sampled {
	uint64_t cookie;
	size_t flow;                /* index into flows */
	uint64_t bytes_acked, bytes_received;
};

struct capture_take {
	struct capture_flow *flows;
	size_t nflows;
	struct capture_sampled *sampled;
	size_t nsampled;
};
void capture_take_free(struct capture_take *t);

struct capture_counters {
	uint64_t events;            /* TCP events read */
	uint64_t udp_datagrams;     /* UDP datagrams counted */
	uint64_t ringbuf_drops;     /* events the kernel could not queue */
	uint64_t map_full;          /* connections or flows not tracked: a map was full */
	uint64_t flows_lost;        /* flows not kept: CAPTURE_MAX_FLOWS reached */
};

struct capture_opts {
	bool disable;               /* do not even try: "poll (reason: disabled ...)" */
	const char *disable_reason;
	uint32_t short_lived_ms;    /* 0 = 15000 */
	uint32_t wakeup_bytes;      /* ring-buffer fill that wakes the reader; 0 = 256 KiB */
};

struct capture;

/* Always returns 0 with *out set (or -ENOMEM): a capture that could not
 * start is inactive and says why. ctx names the root for /proc lookups. */
int capture_open(struct capture **out, struct collect_ctx *ctx, const struct capture_opts *opts);
/* Detaches every program and frees everything; NULL-safe. */
void capture_close(struct capture *c);

bool capture_active(const struct capture *c);
/* "ebpf (tcp: tp_btf, udp: net_dev_queue)" or "poll (reason: ...)". */
const char *capture_describe(const struct capture *c);
/* The mechanisms alone ("tp_btf", "net_dev_queue", "" when inactive). */
const char *capture_tcp_hook(const struct capture *c);
const char *capture_udp_hook(const struct capture *c);

/* An fd that becomes readable when the ring buffer wants draining (for
 * uv_poll / epoll); -1 when inactive. */
int capture_fd(const struct capture *c);
/* Reads what is waiting (waits up to timeout_ms for it, 0 = not at all).
 * Returns events read or a negative errno. */
int capture_poll(struct capture *c, int timeout_ms);
/* Moves the flow table out (the caller frees it with capture_take_free) and
 * starts an empty one. Reads the UDP flow map first. */
int capture_take(struct capture *c, struct capture_take *out);

/* Totals since capture_open. */
void capture_get_counters(struct capture *c, struct capture_counters *out);

#endif
