/* netlink: see netlink.h for the contract. */
#include "netlink.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int netlink_open(struct netlink_sock *ns, int protocol)
{
	ns->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
	ns->portid = 0;
	if (ns->fd < 0)
		return -errno;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	socklen_t salen = sizeof(sa);
	int rc = 0;
	if (bind(ns->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(ns->fd, (struct sockaddr *)&sa, &salen) < 0)
		rc = -errno;
	else if (salen != sizeof(sa) || sa.nl_family != AF_NETLINK)
		rc = -EINVAL;
	if (rc) {
		close(ns->fd);
		ns->fd = -1;
		return rc;
	}
	ns->portid = sa.nl_pid;
	return 0;
}

void netlink_close(struct netlink_sock *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
}

int netlink_send(struct netlink_sock *ns, const struct nlmsghdr *nlh)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	for (;;) {
		ssize_t n = sendto(ns->fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel,
				   sizeof(kernel));
		if (n >= 0)
			return (size_t)n == nlh->nlmsg_len ? 0 : -EIO;
		if (errno != EINTR)
			return -errno;
	}
}

ssize_t netlink_recv(struct netlink_sock *ns, void *buf, size_t len)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = buf, .iov_len = len};
		struct msghdr mh = {
			.msg_name = &from, .msg_namelen = sizeof(from),
			.msg_iov = &iov, .msg_iovlen = 1,
		};
		ssize_t n = recvmsg(ns->fd, &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (mh.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		/* Only the kernel (port 0) answers; anything else is not ours. */
		if (mh.msg_namelen == sizeof(from) && from.nl_pid != 0)
			continue;
		return n;
	}
}

const void *netlink_payload(const struct nlmsghdr *nlh)
{
	return (const char *)nlh + NLMSG_HDRLEN;
}

size_t netlink_payload_len(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_len > NLMSG_HDRLEN ? nlh->nlmsg_len - NLMSG_HDRLEN : 0;
}

int netlink_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		 netlink_msg_cb cb, void *data)
{
	const char *p = buf;
	size_t off = 0;
	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr hdr;
		memcpy(&hdr, p + off, sizeof(hdr));
		if (hdr.nlmsg_len < sizeof(hdr) || hdr.nlmsg_len > len - off)
			return -EBADMSG;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(p + off);
		if ((hdr.nlmsg_seq && seq && hdr.nlmsg_seq != seq) ||
		    (hdr.nlmsg_pid && portid && hdr.nlmsg_pid != portid))
			return -EPROTO;
		/* The kernel's dump was interrupted by a change: the caller
		 * retries or falls back rather than using a torn listing. */
		if (hdr.nlmsg_flags & NLM_F_DUMP_INTR)
			return -EINTR;
		switch (hdr.nlmsg_type) {
		case NLMSG_DONE:
			return 1;
		case NLMSG_ERROR: {
			struct nlmsgerr e;
			if (netlink_payload_len(nlh) < sizeof(e.error))
				return -EBADMSG;
			memcpy(&e.error, netlink_payload(nlh), sizeof(e.error));
			return e.error < 0 ? e.error : 1; /* 0 is an acknowledgement */
		}
		case NLMSG_OVERRUN:
			return -ENOBUFS;
		case NLMSG_NOOP:
			break;
		default: {
			int rc = cb(nlh, data);
			if (rc)
				return rc;
		}
		}
		size_t step = NLMSG_ALIGN(hdr.nlmsg_len);
		if (step > len - off)
			break; /* the last message's padding may be absent */
		off += step;
	}
	return off == len ? 0 : -EBADMSG;
}

const struct nlattr *netlink_attr_next(const struct nlmsghdr *nlh, size_t hdrlen,
				       const struct nlattr *prev)
{
	size_t first = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen), end = nlh->nlmsg_len;
	size_t at = first;
	if (prev)
		at = (size_t)((const char *)prev - (const char *)nlh) + NLA_ALIGN(prev->nla_len);
	if (first > end || at > end || end - at < sizeof(struct nlattr))
		return NULL;
	const struct nlattr *a = (const struct nlattr *)((const char *)nlh + at);
	if (a->nla_len < sizeof(struct nlattr) || a->nla_len > end - at)
		return NULL;
	return a;
}

uint16_t netlink_attr_type(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

const void *netlink_attr_payload(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

size_t netlink_attr_payload_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}
