/* Shared between the BPF programs (capture.bpf.c) and the agent's reader
 * (agent/capture.c): event and map layouts. Only fixed-width types; the BPF
 * side gets them from vmlinux.h, the agent from <linux/types.h>. */
#ifndef CAIRN_AGENT_BPF_CAPTURE_H
#define CAIRN_AGENT_BPF_CAPTURE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define CAPTURE_COMM_LEN 16

enum capture_kind {
	CAPTURE_OPEN = 1,   /* a TCP connection reached ESTABLISHED */
	CAPTURE_CLOSE = 2,  /* an established TCP connection reached CLOSE */
	CAPTURE_PROC = 3,   /* a process sent its first UDP datagram: only pid and comm set */
};

enum capture_role {
	CAPTURE_CLIENT = 1, /* this end connected (SYN_SENT) */
	CAPTURE_SERVER = 2, /* this end accepted (SYN_RECV) */
};

/* One TCP transition, in the ring buffer. Ports in host order, addresses in
 * network order (IPv4 in the first 4 bytes). Times: bpf_ktime_get_ns()
 * (CLOCK_MONOTONIC). */
struct capture_event {
	__u64 sk;             /* kernel socket address: pairs OPEN with CLOSE */
	__u64 cookie;         /* sk_cookie at the event, 0 when never generated */
	__u64 start_ns;       /* SYN_SENT (client) or ESTABLISHED (server) */
	__u64 ts_ns;          /* this event */
	__u64 netns;          /* network namespace inode */
	__u64 bytes_acked;    /* CLOSE: tcp_sock counters at the close */
	__u64 bytes_received;
	__u32 pid;            /* client: connecting process; server: listener's, 0 unknown */
	__u8 kind;            /* enum capture_kind */
	__u8 role;            /* enum capture_role */
	__u8 family;          /* AF_INET / AF_INET6 */
	__u8 pad;
	__u16 lport, rport;
	__u16 pad2[2];
	__u8 laddr[16], raddr[16];
	char comm[CAPTURE_COMM_LEN];
};

/* UDP: one entry per flow in an LRU hash, read and deleted by the agent. */
struct capture_udp_key {
	__u64 netns;
	__u8 laddr[16], raddr[16];
	__u16 lport, rport;
	__u8 family;
	__u8 pad[3];
};

struct capture_udp_val {
	__u64 first_ns, last_ns;
	__u64 datagrams, bytes;  /* sent by this end (payload bytes) */
	__u32 pid;
	__u32 pad;
	char comm[CAPTURE_COMM_LEN];
};

struct capture_listen_key {
	__u64 netns;
	__u16 port;
	__u16 pad[3];
};

/* Counters in a per-CPU array, summed by the agent. */
enum capture_stat {
	CAPTURE_STAT_EVENTS = 0,     /* events written to the ring buffer */
	CAPTURE_STAT_RB_DROPS = 1,   /* events lost: ring buffer full */
	CAPTURE_STAT_MAP_FULL = 2,   /* connections/flows not tracked: a map was full */
	CAPTURE_STAT_UDP_PKTS = 3,   /* UDP datagrams seen */
	CAPTURE_NSTATS = 4,
};

#endif
