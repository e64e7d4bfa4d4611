/* Socket collector: every TCP and UDP socket (IPv4 and IPv6) of every network
 * namespace on the host, with its owning process and its direction.
 *
 * Sources, in order of preference:
 *  - NETLINK_SOCK_DIAG dumps (inet_diag_req_v2) per namespace and family, with
 *    INET_DIAG_INFO for TCP so tcpi_bytes_acked / tcpi_bytes_received give
 *    byte counters. For a namespace other than ours a short-lived helper
 *    thread enters it with setns() just long enough to open the netlink
 *    socket there (the socket stays bound to that namespace; the main thread
 *    never changes namespace). Needs CAP_SYS_ADMIN (setns) and ptrace read
 *    access to a process of that namespace (CAP_SYS_PTRACE for other users').
 *  - /proc/net/{tcp,tcp6,udp,udp6} when netlink is refused, and always when
 *    ctx->live is false (fixture --root). For a foreign namespace that cannot
 *    be entered: /proc/PID/net/... of a process living in it. No byte
 *    counters from these files.
 *
 * Owners: socket inode -> pid from readlink(/proc/PID/fd/N) == "socket:[INODE]"
 * (needs CAP_DAC_READ_SEARCH + CAP_SYS_PTRACE for other users' processes).
 * The scanner keeps, per process, the fd slots it has read: a slot keeps its
 * socket while that socket is still in the dump, so a warm sample reads no fd
 * link at all. Only inodes never seen before are looked up, cheapest first:
 * in the processes that own sockets on the same local port or to the same
 * remote endpoint (probing their freed fd numbers and the numbers above their
 * highest, where the kernel puts new fds, before listing their fd dir), then
 * in every process with freed slots or a changed fd count, then (at most
 * every 4th sample) in every slot not known to hold a live inet socket.
 * Sockets still unowned after that are not searched again until the periodic
 * full rescan (opts.full_rescan_every). docs/sockets.md has the details.
 *
 * Direction: LISTEN for listeners (TCP LISTEN; unbound-remote UDP sockets on a
 * port below the ephemeral range); LOCAL when the other end is on this host
 * (its socket was found in any namespace, or the remote address is loopback or
 * one of the host's own addresses); INBOUND when the local port has a
 * listener in the same namespace; OUTBOUND otherwise. IPv4-mapped IPv6
 * addresses are reported as IPv4.
 *
 * Errors (unreadable fd dir, vanished process, malformed /proc/net line,
 * refused setns) are counted in ctx->stats[COLLECT_SOCK] and skipped.
 */
#ifndef CAIRN_AGENT_COLLECT_SOCK_H
#define CAIRN_AGENT_COLLECT_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn.pb-c.h"
#include "collect.h"

enum sock_dir {
	SOCK_DIR_UNKNOWN = 0,
	SOCK_DIR_INBOUND = 1,   /* same numbers as Cairn__Direction */
	SOCK_DIR_OUTBOUND = 2,
	SOCK_DIR_LOCAL = 3,
	SOCK_DIR_LISTEN = 4,
};

/* Where a sample's sockets came from, per namespace (counted in the sample). */
enum sock_source {
	SOCK_SRC_NETLINK = 0,
	SOCK_SRC_PROCFS = 1,
};

struct sock_addr {
	uint8_t family;         /* AF_INET or AF_INET6 (after v4-mapped normalization) */
	uint8_t bytes[16];      /* network order; AF_INET uses the first 4 */
};

struct sock_entry {
	uint64_t inode;         /* 0 for sockets without a file (orphaned, closing) */
	uint64_t cookie;        /* kernel socket cookie; 0 from /proc/net files */
	uint64_t netns;         /* namespace inode; 0 when unknown (fixture root) */
	struct sock_addr local, remote;
	uint16_t local_port, remote_port;
	uint8_t protocol;       /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t state;          /* kernel TCP state number (TCP_ESTABLISHED...); UDP: 7 (CLOSE) or 1 */
	uint8_t dir;            /* enum sock_dir */
	bool is_server;         /* LOCAL: this end's local port is the listening one */
	bool peer_found;        /* LOCAL: the other end's socket was seen (peer_pid valid) */
	bool has_bytes;         /* bytes_* come from tcp_info */
	int32_t pid;            /* owner; 0 unknown */
	int32_t peer_pid;       /* LOCAL: owner of the other end; 0 unknown */
	uint64_t bytes_acked;   /* tcpi_bytes_acked: sent and acknowledged */
	uint64_t bytes_received;/* tcpi_bytes_received */
};

/* What the scanner knows about an owning process. */
struct sock_proc {
	int32_t pid;
	uint64_t start_time;    /* clock ticks after boot, field 22 of /proc/PID/stat */
	uint64_t netns;
	const char *name;       /* comm */
	const char *identity;   /* restart-stable identity (exe or interpreter + script) */
	const char *container_id; /* "" when not in a container */
};

/* One sample. Owned by the scanner; valid until the next collect_sock_scanner_sample()
 * or collect_sock_scanner_free(). */
struct sock_sample {
	int64_t taken_ms;
	uint64_t seq;           /* 1 for the scanner's first sample */
	size_t n;
	struct sock_entry *entries;
	/* Cost and coverage, for logs and the benchmark. */
	uint32_t netns_seen, netns_netlink, netns_procfs, netns_failed;
	uint32_t fd_links_read;  /* readlink calls this sample */
	uint32_t fd_dirs_read;   /* /proc/PID/fd listings this sample */
	uint32_t owners_new;     /* inodes resolved this sample */
	uint32_t owners_missing; /* sockets with an inode but no owner */
	bool full_rescan;        /* this sample re-read every fd slot */
	const struct sock_scanner *scanner;
};

struct sock_scanner;

struct sock_scanner_opts {
	bool no_netlink;          /* force the /proc/net files (tests) */
	bool no_namespaces;       /* only our own namespace */
	uint32_t full_rescan_every; /* re-read every fd slot every N samples; 0 = default 40 */
};

/* Creates a scanner for ctx (root, live). opts may be NULL. Returns 0 or
 * -ENOMEM. Nothing is opened until the first sample. */
int collect_sock_scanner_new(struct sock_scanner **out, const struct collect_ctx *ctx,
		     const struct sock_scanner_opts *opts);
/* Closes every netlink socket and frees all state, NULL-safe. */
void collect_sock_scanner_free(struct sock_scanner *s);

/* Takes one sample at wall time now_ms. Returns 0 (items and errors counted in
 * ctx->stats[COLLECT_SOCK]) or a negative errno when nothing at all could be
 * read (no netlink and no /proc/net file); then *out is NULL. */
int collect_sock_scanner_sample(struct sock_scanner *s, struct collect_ctx *ctx, int64_t now_ms,
			const struct sock_sample **out);

/* The process record for pid as of the last sample, NULL when unknown (or s
 * is NULL, as in hand-made samples). */
const struct sock_proc *collect_sock_scanner_proc(const struct sock_scanner *s, int32_t pid);

/* What the event capture (window_add_flows) asks about the host as of the
 * scanner's last sample. With s NULL nothing is known: only loopback is
 * local, no listener is known, and the port rule decides. */
/* Loopback, or an address of this host (any namespace's sockets, our
 * interfaces). */
bool collect_sock_scanner_is_local(const struct sock_scanner *s, const struct sock_addr *a);
/* Whether connections in network namespace netns are this host's. An agent
 * in the initial PID namespace (a host service) owns every namespace of the
 * kernel: containers come and go between samples. An agent in a PID
 * namespace of its own (a container, a test lab's host) owns only the
 * namespaces its own processes live in; the kernel's events for the others
 * are another machine's. True when s is NULL or netns unknown (0). */
bool collect_sock_scanner_has_netns(const struct sock_scanner *s, uint64_t netns);
/* Owner of the listener on (netns, protocol, port), 0 when none or unknown. */
int32_t collect_sock_scanner_listener(const struct sock_scanner *s, uint64_t netns,
				      uint8_t protocol, uint16_t port);
/* The local end of a flow is its server end: a listener on local_port, or
 * a port below the ephemeral range talking to one inside it. */
bool collect_sock_scanner_is_server_port(const struct sock_scanner *s, uint64_t netns,
					 uint8_t protocol, uint16_t local_port, uint16_t remote_port);

/* Text form of an address ("127.0.0.1", "::1") into out (>= 46 bytes). */
const char *sock_addr_str(const struct sock_addr *a, char *out, size_t n);

#endif
