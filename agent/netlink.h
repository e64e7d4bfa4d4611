/* netlink: the few pieces of netlink framing the socket collector needs
 * (one NETLINK_SOCK_DIAG socket, a dump request, walking the replies and
 * their attributes). Written here instead of linking libmnl so the portable
 * agent links statically: Debian ships no libmnl.a (docs/decisions.md).
 *
 * Every reader checks lengths against the buffer it was given: a truncated
 * or malformed message ends the walk with -EBADMSG, it is never read past.
 */
#ifndef CAIRN_NETLINK_H
#define CAIRN_NETLINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/netlink.h>

struct netlink_sock {
	int fd;
	uint32_t portid;        /* the kernel-assigned port, checked on replies */
};

/* Opens and binds a netlink socket of `protocol` (close-on-exec). 0 or
 * -errno (socket, bind or getsockname failed). */
int netlink_open(struct netlink_sock *ns, int protocol);
void netlink_close(struct netlink_sock *ns);

/* Sends one message of nlh->nlmsg_len bytes to the kernel. 0 or -errno. */
int netlink_send(struct netlink_sock *ns, const struct nlmsghdr *nlh);

/* One recv into buf (EINTR retried). Returns the byte count or -errno;
 * a datagram larger than len is -EMSGSIZE (its tail would be lost). */
ssize_t netlink_recv(struct netlink_sock *ns, void *buf, size_t len);

/* Called for each data message of a dump; returns 0 to go on or a negative
 * errno to stop the walk with that value. */
typedef int (*netlink_msg_cb)(const struct nlmsghdr *nlh, void *data);

/* Walks the messages in buf[0..len) that answer request `seq` from the
 * kernel (port 0) to socket `portid` (0: not checked). Returns 1 when the
 * dump is complete (NLMSG_DONE), 0 when more datagrams follow, the
 * NLMSG_ERROR's negative errno, -EBADMSG for a truncated message, -EPROTO for
 * a reply to another request, or what cb returned. */
int netlink_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		 netlink_msg_cb cb, void *data);

/* The payload of a message, and its length (0 when nlmsg_len is short). */
const void *netlink_payload(const struct nlmsghdr *nlh);
size_t netlink_payload_len(const struct nlmsghdr *nlh);

/* Attribute walking over the bytes after a fixed header of `hdrlen` bytes:
 *   const struct nlattr *a = NULL;
 *   while ((a = netlink_attr_next(nlh, hdrlen, a))) ...
 * Stops (returns NULL) at the end or at the first malformed attribute. */
const struct nlattr *netlink_attr_next(const struct nlmsghdr *nlh, size_t hdrlen,
				       const struct nlattr *prev);
uint16_t netlink_attr_type(const struct nlattr *a);
const void *netlink_attr_payload(const struct nlattr *a);
size_t netlink_attr_payload_len(const struct nlattr *a);

#endif
