/* /proc/net socket table parsing and address helpers (agent/sock_parse.c),
 * used by the socket collector; no I/O. */
#ifndef CAIRN_AGENT_SOCK_PARSE_H
#define CAIRN_AGENT_SOCK_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect_sock.h"

/* Kernel TCP states (include/net/tcp_states.h). */
enum sock_tcp_state {
	ST_ESTABLISHED = 1,
	ST_SYN_SENT = 2,
	ST_SYN_RECV = 3,
	ST_FIN_WAIT1 = 4,
	ST_FIN_WAIT2 = 5,
	ST_TIME_WAIT = 6,
	ST_CLOSE = 7,
	ST_CLOSE_WAIT = 8,
	ST_LAST_ACK = 9,
	ST_LISTEN = 10,
	ST_CLOSING = 11,
	ST_NEW_SYN_RECV = 12,
};

/* TIME_WAIT and request sockets have no file and no owner; CLOSE is a socket
 * that was never bound or connected. Everything else is a live connection or
 * a listener. */
#define TCP_STATES ((1u << ST_ESTABLISHED) | (1u << ST_SYN_SENT) | (1u << ST_FIN_WAIT1) | \
		    (1u << ST_FIN_WAIT2) | (1u << ST_CLOSE_WAIT) | (1u << ST_LAST_ACK) | \
		    (1u << ST_LISTEN) | (1u << ST_CLOSING))
#define UDP_STATES 0xfffu

/* Sets a from family (AF_INET/AF_INET6) and network-order bytes; an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes AF_INET a.b.c.d. */
void sock_addr_set(struct sock_addr *a, int family, const void *bytes);
bool sock_addr_is_any(const struct sock_addr *a);
bool sock_addr_is_loopback(const struct sock_addr *a);
/* memcmp order over the whole struct (family first): for qsort/bsearch. */
int sock_addr_cmp(const void *x, const void *y);

/* The states collected per protocol, as a bit mask (bit n = state n), and
 * whether one state is among them. */
uint32_t sock_state_mask(uint8_t protocol);
bool sock_state_wanted(uint8_t protocol, uint8_t state);

/* Parses one /proc/net/{tcp,tcp6,udp,udp6} file body (header line included).
 * Passes each well-formed line in a collected state to cb; counts malformed
 * ones (wrong column count or widths, non-hex digits, unknown state,
 * non-decimal inode, a last line without its newline) in *bad (may be NULL).
 * Returns the number of entries passed to cb. */
size_t sock_parse_proc_net(const char *text, size_t len, uint8_t protocol,
			   void (*cb)(void *arg, const struct sock_entry *e), void *arg,
			   uint32_t *bad);

struct nlmsghdr;

/* Parses one NETLINK_SOCK_DIAG reply (an inet_diag_msg with its attributes)
 * into *e (addresses, ports, state, inode, cookie; the tcp_info byte counters
 * when the kernel sends them: has_bytes). False for another message type, a
 * short message or a family other than IPv4/IPv6. netns and protocol are
 * the caller's to set. */
bool sock_parse_diag(const struct nlmsghdr *nlh, struct sock_entry *e);

#endif
