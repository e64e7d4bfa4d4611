// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* Connection capture for cairn-agent (loaded by agent/capture.c).
 *
 * TCP: inet_sock_set_state (tp_btf, or raw_tp on kernels without BTF
 * tracepoints). State per socket in `socks`, keyed by the socket's address:
 * born at SYN_SENT (client; the pid is the connecting process) or at
 * SYN_RECV -> ESTABLISHED (server; runs in softirq, so the pid comes from
 * `listeners`, filled when a process puts a socket into LISTEN). The tuple is
 * read at ESTABLISHED (the source port is known then; at CLOSE it is already
 * 0); an OPEN event goes out at ESTABLISHED and a CLOSE event, with the
 * duration and the tcp_sock byte counters, at CLOSE. Every path deletes the
 * socket's entry.
 *
 * UDP: one LRU hash entry per flow (netns, local, remote), counting
 * datagrams and bytes sent; the agent reads and deletes the entries. Hooks:
 * fexit or kprobe on udp_sendmsg/udpv6_sendmsg where the kernel allows, else
 * the net_dev_queue tracepoint (locally sent packets only: skb->sk set).
 *
 * Ring buffer wake-ups are batched: BPF_RB_NO_WAKEUP unless more than
 * wakeup_bytes are waiting or the event is the first of a new process (so
 * the agent can still read its /proc entry). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"

#define CAIRN_AF_INET 2
#define CAIRN_AF_INET6 10
#define CAIRN_IPPROTO_TCP 6
#define CAIRN_IPPROTO_UDP 17
#define CAIRN_ETH_P_IP 0x0800
#define CAIRN_ETH_P_IPV6 0x86DD

#define ST_ESTABLISHED 1
#define ST_SYN_SENT 2
#define ST_SYN_RECV 3
#define ST_FIN_WAIT1 4
#define ST_FIN_WAIT2 5
#define ST_TIME_WAIT 6
#define ST_CLOSE 7
#define ST_CLOSE_WAIT 8
#define ST_LAST_ACK 9
#define ST_LISTEN 10
#define ST_CLOSING 11

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 wakeup_bytes = 256 * 1024;

struct sock_state {
	__u64 start_ns;
	__u64 netns;
	__u32 pid;
	__u8 role;
	__u8 established;
	__u8 family;
	__u8 fin;               /* FIN_SENT | FIN_RCVD: they moved the byte counters */
	__u16 lport, rport;
	__u8 laddr[16], raddr[16];
	char comm[CAPTURE_COMM_LEN];
};

#define FIN_SENT 1
#define FIN_RCVD 2

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct sock_state);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct capture_listen_key);
	__type(value, __u32);
} listeners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} tgids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct capture_udp_key);
	__type(value, struct capture_udp_val);
} udp_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAPTURE_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_add(__u32 which, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);
	if (v)
		*v += n;
}

static __always_inline __u64 sk_netns(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline void read_tuple(const struct sock *sk, struct sock_state *st)
{
	st->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	st->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	st->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (st->family == CAIRN_AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(st->laddr, &l, 4);
		__builtin_memcpy(st->raddr, &r, 4);
	} else {
		BPF_CORE_READ_INTO(&st->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&st->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

/* Wake the reader only when it has enough to do, or when a process is new. */
static __always_inline __u64 wake_flags(__u32 pid)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	if (pid && !bpf_map_lookup_elem(&tgids, &pid)) {
		__u8 one = 1;
		bpf_map_update_elem(&tgids, &pid, &one, BPF_ANY);
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* Payload bytes: bytes_acked counts our SYN and, once acknowledged, our FIN;
 * bytes_received counts the peer's FIN. */
static __always_inline void payload_bytes(const struct sock *sk, const struct sock_state *st,
					  __u64 *acked, __u64 *received)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u64 a = BPF_CORE_READ(tp, bytes_acked), r = BPF_CORE_READ(tp, bytes_received);
	if (a)
		a--;
	if ((st->fin & FIN_SENT) && a && BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		a--;
	if ((st->fin & FIN_RCVD) && r)
		r--;
	*acked = a;
	*received = r;
}

static __always_inline void emit(const struct sock *sk, const struct sock_state *st, __u8 kind,
				 __u64 now)
{
	struct capture_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_add(CAPTURE_STAT_RB_DROPS, 1);
		return;
	}
	e->sk = (__u64)sk;
	e->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	e->start_ns = st->start_ns;
	e->ts_ns = now;
	e->netns = st->netns;
	e->bytes_acked = 0;
	e->bytes_received = 0;
	if (kind == CAPTURE_CLOSE)
		payload_bytes(sk, st, &e->bytes_acked, &e->bytes_received);
	e->pid = st->pid;
	e->kind = kind;
	e->role = st->role;
	e->family = st->family;
	e->pad = 0;
	e->lport = st->lport;
	e->rport = st->rport;
	e->pad2[0] = e->pad2[1] = 0;
	__builtin_memcpy(e->laddr, st->laddr, 16);
	__builtin_memcpy(e->raddr, st->raddr, 16);
	__builtin_memcpy(e->comm, st->comm, CAPTURE_COMM_LEN);
	stat_add(CAPTURE_STAT_EVENTS, 1);
	bpf_ringbuf_submit(e, wake_flags(st->pid));
}

static __always_inline int on_state(const struct sock *sk, int oldstate, int newstate)
{
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != CAIRN_IPPROTO_TCP)
		return 0;
	__u64 key = (__u64)sk;
	__u64 now = bpf_ktime_get_ns();

	if (newstate == ST_LISTEN || oldstate == ST_LISTEN) {
		struct capture_listen_key lk = { .netns = sk_netns(sk),
						 .port = BPF_CORE_READ(sk, __sk_common.skc_num) };
		if (newstate == ST_LISTEN) {
			__u32 pid = bpf_get_current_pid_tgid() >> 32;
			if (bpf_map_update_elem(&listeners, &lk, &pid, BPF_ANY))
				stat_add(CAPTURE_STAT_MAP_FULL, 1);
		} else {
			bpf_map_delete_elem(&listeners, &lk);
		}
		return 0;
	}
	if (newstate == ST_SYN_SENT) {
		struct sock_state st = {};
		st.start_ns = now;
		st.netns = sk_netns(sk);
		st.pid = bpf_get_current_pid_tgid() >> 32;
		st.role = CAPTURE_CLIENT;
		bpf_get_current_comm(st.comm, sizeof(st.comm));
		if (bpf_map_update_elem(&socks, &key, &st, BPF_ANY))
			stat_add(CAPTURE_STAT_MAP_FULL, 1);
		return 0;
	}
	if (newstate == ST_ESTABLISHED) {
		struct sock_state *st = bpf_map_lookup_elem(&socks, &key);
		if (st && oldstate == ST_SYN_SENT && !st->established) {
			read_tuple(sk, st);
			st->established = 1;
			emit(sk, st, CAPTURE_OPEN, now);
			return 0;
		}
		if (!st && oldstate == ST_SYN_RECV) {
			struct sock_state ns = {};
			ns.start_ns = now;
			ns.netns = sk_netns(sk);
			ns.role = CAPTURE_SERVER;
			ns.established = 1;
			read_tuple(sk, &ns);
			struct capture_listen_key lk = { .netns = ns.netns, .port = ns.lport };
			__u32 *pid = bpf_map_lookup_elem(&listeners, &lk);
			ns.pid = pid ? *pid : 0;
			if (bpf_map_update_elem(&socks, &key, &ns, BPF_ANY))
				stat_add(CAPTURE_STAT_MAP_FULL, 1);
			emit(sk, &ns, CAPTURE_OPEN, now);
		}
		return 0;
	}
	if (newstate == ST_FIN_WAIT1 || newstate == ST_LAST_ACK || newstate == ST_CLOSE_WAIT ||
	    newstate == ST_CLOSING || newstate == ST_TIME_WAIT) {
		struct sock_state *st = bpf_map_lookup_elem(&socks, &key);
		if (st) {
			if (newstate == ST_FIN_WAIT1 || newstate == ST_LAST_ACK)
				st->fin |= FIN_SENT;
			else
				st->fin |= FIN_RCVD;
			if (newstate == ST_CLOSING)
				st->fin |= FIN_SENT;
		}
		return 0;
	}
	if (newstate == ST_CLOSE) {
		struct sock_state *st = bpf_map_lookup_elem(&socks, &key);
		if (!st)
			return 0;
		/* FIN_WAIT2 -> CLOSE: the peer's FIN moved us to TIME_WAIT. */
		if (oldstate == ST_FIN_WAIT2)
			st->fin |= FIN_RCVD;
		if (st->established)
			emit(sk, st, CAPTURE_CLOSE, now);
		bpf_map_delete_elem(&socks, &key);
	}
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	return on_state(sk, oldstate, newstate);
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_raw, const struct sock *sk, const int oldstate, const int newstate)
{
	return on_state(sk, oldstate, newstate);
}

/* ------------------------------------------------------------------ UDP */

static __always_inline void udp_count(struct capture_udp_key *k, __u64 bytes)
{
	__u64 now = bpf_ktime_get_ns();
	stat_add(CAPTURE_STAT_UDP_PKTS, 1);
	struct capture_udp_val *v = bpf_map_lookup_elem(&udp_flows, k);
	if (v) {
		__sync_fetch_and_add(&v->datagrams, 1);
		__sync_fetch_and_add(&v->bytes, bytes);
		v->last_ns = now;
		return;
	}
	struct capture_udp_val nv = {};
	nv.first_ns = nv.last_ns = now;
	nv.datagrams = 1;
	nv.bytes = bytes;
	nv.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(nv.comm, sizeof(nv.comm));
	if (nv.pid && !bpf_map_lookup_elem(&tgids, &nv.pid)) {
		/* A new process: tell the agent now, while /proc still has it. */
		__u8 one = 1;
		bpf_map_update_elem(&tgids, &nv.pid, &one, BPF_ANY);
		struct capture_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			__builtin_memset(e, 0, sizeof(*e));
			e->kind = CAPTURE_PROC;
			e->pid = nv.pid;
			__builtin_memcpy(e->comm, nv.comm, CAPTURE_COMM_LEN);
			bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		} else {
			stat_add(CAPTURE_STAT_RB_DROPS, 1);
		}
	}
	if (bpf_map_update_elem(&udp_flows, k, &nv, BPF_NOEXIST)) {
		/* Raced with another CPU creating it: count into that one. */
		v = bpf_map_lookup_elem(&udp_flows, k);
		if (v) {
			__sync_fetch_and_add(&v->datagrams, 1);
			__sync_fetch_and_add(&v->bytes, bytes);
		} else {
			stat_add(CAPTURE_STAT_MAP_FULL, 1);
		}
	}
}

static __always_inline int on_xmit(struct sk_buff *skb)
{
	struct sock *sk = BPF_CORE_READ(skb, sk);
	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != CAIRN_IPPROTO_UDP)
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	struct capture_udp_key k = {};
	k.netns = sk_netns(sk);
	if (proto == CAIRN_ETH_P_IP) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return 0;
		if (ip.protocol != CAIRN_IPPROTO_UDP || (bpf_ntohs(ip.frag_off) & 0x1fff))
			return 0; /* later fragments: the first one counted the datagram */
		k.family = CAIRN_AF_INET;
		__builtin_memcpy(k.laddr, &ip.saddr, 4);
		__builtin_memcpy(k.raddr, &ip.daddr, 4);
	} else if (proto == CAIRN_ETH_P_IPV6) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return 0;
		if (ip6.nexthdr != CAIRN_IPPROTO_UDP)
			return 0;
		k.family = CAIRN_AF_INET6;
		__builtin_memcpy(k.laddr, &ip6.saddr, 16);
		__builtin_memcpy(k.raddr, &ip6.daddr, 16);
	} else {
		return 0;
	}
	struct udphdr uh;
	if (bpf_probe_read_kernel(&uh, sizeof(uh), head + th))
		return 0;
	k.lport = bpf_ntohs(uh.source);
	k.rport = bpf_ntohs(uh.dest);
	__u16 len = bpf_ntohs(uh.len);
	udp_count(&k, len >= 8 ? len - 8 : 0);
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(udp_xmit_btf, struct sk_buff *skb)
{
	return on_xmit(skb);
}

SEC("raw_tp/net_dev_queue")
int BPF_PROG(udp_xmit_raw, struct sk_buff *skb)
{
	return on_xmit(skb);
}

/* udp_sendmsg/udpv6_sendmsg: the destination is msg_name for sendto() on an
 * unconnected socket (a kernel copy by then), else the connected peer. */
static __always_inline void on_sendmsg(struct sock *sk, struct msghdr *msg, __u64 len, bool v6)
{
	struct capture_udp_key k = {};
	k.netns = sk_netns(sk);
	k.lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	void *name = BPF_CORE_READ(msg, msg_name);
	if (!v6) {
		k.family = CAIRN_AF_INET;
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr), r;
		__builtin_memcpy(k.laddr, &l, 4);
		if (name) {
			struct sockaddr_in sin;
			if (bpf_probe_read_kernel(&sin, sizeof(sin), name))
				return;
			r = sin.sin_addr.s_addr;
			k.rport = bpf_ntohs(sin.sin_port);
		} else {
			r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			k.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
		__builtin_memcpy(k.raddr, &r, 4);
	} else {
		k.family = CAIRN_AF_INET6;
		BPF_CORE_READ_INTO(&k.laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		if (name) {
			struct sockaddr_in6 sin6;
			if (bpf_probe_read_kernel(&sin6, sizeof(sin6), name))
				return;
			__builtin_memcpy(k.raddr, &sin6.sin6_addr, 16);
			k.rport = bpf_ntohs(sin6.sin6_port);
		} else {
			BPF_CORE_READ_INTO(&k.raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
			k.rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		}
	}
	udp_count(&k, len);
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(udp_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (ret > 0)
		on_sendmsg(sk, msg, (__u64)ret, false);
	return 0;
}

SEC("fexit/udpv6_sendmsg")
int BPF_PROG(udp6_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{
	if (ret > 0)
		on_sendmsg(sk, msg, (__u64)ret, true);
	return 0;
}

SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(udp_send_kprobe, struct sock *sk, struct msghdr *msg, size_t len)
{
	on_sendmsg(sk, msg, len, false);
	return 0;
}

SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(udp6_send_kprobe, struct sock *sk, struct msghdr *msg, size_t len)
{
	on_sendmsg(sk, msg, len, true);
	return 0;
}
