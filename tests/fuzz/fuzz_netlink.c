/* libFuzzer harness for the netlink framing (agent/netlink.c) and the
 * sock_diag reply parser (agent/sock_parse.c): the bytes a kernel (or a
 * hostile netlink peer) hands the socket collector.
 *
 * Input: the datagram, copied into an exactly-sized, 4-byte aligned heap
 * buffer so ASan sees any read past it; the walk runs with sequence and port
 * checks on and off. Invariants: every message reaching the callback lies
 * inside the buffer, every attribute inside its message, and a parsed entry
 * has an IPv4 or IPv6 address. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../agent/netlink.h"
#include "../../agent/sock_parse.h"

struct span {
	const char *buf;
	size_t len;
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static int on_msg(const struct nlmsghdr *nlh, void *arg)
{
	const struct span *sp = arg;
	const char *m = (const char *)nlh;
	check(m >= sp->buf && nlh->nlmsg_len >= sizeof(*nlh) &&
	      m + nlh->nlmsg_len <= sp->buf + sp->len);
	const struct nlattr *a = NULL;
	while ((a = netlink_attr_next(nlh, 0, a))) {
		const char *p = netlink_attr_payload(a);
		check((const char *)a >= m + NLMSG_HDRLEN &&
		      p + netlink_attr_payload_len(a) <= m + nlh->nlmsg_len);
	}
	struct sock_entry e;
	if (sock_parse_diag(nlh, &e))
		check(e.local.family == AF_INET || e.local.family == AF_INET6);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t *words = malloc((size + 3) / 4 * 4 + 4);
	if (!words)
		return 0;
	memcpy(words, data, size);
	struct span sp = {(const char *)words, size};
	netlink_walk(words, size, 0, 0, on_msg, &sp);
	netlink_walk(words, size, 1, 77, on_msg, &sp);
	free(words);
	return 0;
}
