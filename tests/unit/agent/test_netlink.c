/* netlink framing: message walk (done, error, truncated, foreign replies),
 * attribute walk over malformed lengths, a live sock_diag round trip, and
 * sock_parse_diag on replies of old (3.10) and current kernels. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "netlink.h"
#include "sock_parse.h"

struct buf {
	_Alignas(4) char b[4096];
	size_t len;
};

static struct nlmsghdr *put(struct buf *b, uint16_t type, uint32_t seq, const void *payload,
			    size_t plen)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(b->b + b->len);
	memset(h, 0, NLMSG_SPACE(plen));
	h->nlmsg_len = NLMSG_LENGTH(plen);
	h->nlmsg_type = type;
	h->nlmsg_seq = seq;
	h->nlmsg_pid = 77;
	if (plen)
		memcpy(NLMSG_DATA(h), payload, plen);
	b->len += NLMSG_SPACE(plen);
	return h;
}

struct seen {
	int n;
	uint32_t last;
};

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	struct seen *s = data;
	s->n++;
	memcpy(&s->last, netlink_payload(nlh), sizeof(s->last));
	return 0;
}

static int stop_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	return -ENOMEM;
}

Test(netlink, walk_until_done)
{
	struct buf b = {.len = 0};
	uint32_t v1 = 1, v2 = 2;
	put(&b, 20, 9, &v1, sizeof(v1));
	put(&b, 20, 9, &v2, sizeof(v2));
	struct seen s = {0};
	cr_assert_eq(netlink_walk(b.b, b.len, 9, 77, count_cb, &s), 0, "more datagrams follow");
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.last, 2);
	int zero = 0;
	put(&b, NLMSG_DONE, 9, &zero, sizeof(zero));
	s.n = 0;
	cr_assert_eq(netlink_walk(b.b, b.len, 9, 77, count_cb, &s), 1);
	cr_assert_eq(s.n, 2);
	/* The callback's error stops the walk with its value. */
	cr_assert_eq(netlink_walk(b.b, b.len, 9, 77, stop_cb, NULL), -ENOMEM);
}

Test(netlink, kernel_errors_and_foreign_replies)
{
	struct buf b = {.len = 0};
	struct nlmsgerr e = {.error = -ENOENT};
	put(&b, NLMSG_ERROR, 3, &e, sizeof(e));
	struct seen s = {0};
	cr_assert_eq(netlink_walk(b.b, b.len, 3, 77, count_cb, &s), -ENOENT);
	/* A reply to another request or socket is not taken as ours. */
	cr_assert_eq(netlink_walk(b.b, b.len, 4, 77, count_cb, &s), -EPROTO);
	cr_assert_eq(netlink_walk(b.b, b.len, 3, 78, count_cb, &s), -EPROTO);
	/* An acknowledgement (error 0) ends the walk. */
	b.len = 0;
	e.error = 0;
	put(&b, NLMSG_ERROR, 3, &e, sizeof(e));
	cr_assert_eq(netlink_walk(b.b, b.len, 3, 77, count_cb, &s), 1);
	/* An interrupted dump is not used. */
	b.len = 0;
	uint32_t v = 5;
	put(&b, 20, 3, &v, sizeof(v))->nlmsg_flags |= NLM_F_DUMP_INTR;
	cr_assert_eq(netlink_walk(b.b, b.len, 3, 77, count_cb, &s), -EINTR);
	cr_assert_eq(s.n, 0);
}

Test(netlink, truncated_messages_are_refused)
{
	struct buf b = {.len = 0};
	uint32_t v = 1;
	struct nlmsghdr *h = put(&b, 20, 1, &v, sizeof(v));
	struct seen s = {0};
	h->nlmsg_len = 4096; /* claims more than the datagram holds */
	cr_assert_eq(netlink_walk(b.b, b.len, 1, 77, count_cb, &s), -EBADMSG);
	h->nlmsg_len = 8;    /* shorter than its own header */
	cr_assert_eq(netlink_walk(b.b, b.len, 1, 77, count_cb, &s), -EBADMSG);
	cr_assert_eq(s.n, 0, "nothing of a truncated message reaches the callback");
	h->nlmsg_len = NLMSG_LENGTH(sizeof(v));
	/* Trailing bytes that are not a whole header: the whole message before
	 * them was delivered, the rest is refused. */
	cr_assert_eq(netlink_walk(b.b, b.len + 6, 1, 77, count_cb, &s), -EBADMSG);
	cr_assert_eq(s.n, 1);
	struct nlmsghdr err = {.nlmsg_len = NLMSG_HDRLEN, .nlmsg_type = NLMSG_ERROR};
	cr_assert_eq(netlink_walk(&err, sizeof(err), 0, 0, count_cb, &s), -EBADMSG);
}

static struct nlattr *put_attr(char *at, uint16_t type, const void *p, uint16_t plen)
{
	struct nlattr *a = (struct nlattr *)at;
	a->nla_len = (uint16_t)(NLA_HDRLEN + plen);
	a->nla_type = type;
	memcpy(at + NLA_HDRLEN, p, plen);
	return a;
}

Test(netlink, attributes_walk_and_stop_at_bad_lengths)
{
	struct buf b = {.len = 0};
	char payload[64] = {0};
	struct nlmsghdr *h = put(&b, 20, 1, payload, 8 + 8 + 12);
	char *attrs = (char *)NLMSG_DATA(h) + 8;
	uint32_t x = 0xabcdef;
	put_attr(attrs, 2, &x, 4);
	uint8_t three[3] = {1, 2, 3};
	put_attr(attrs + 8, 5 | NLA_F_NESTED, three, 3);
	const struct nlattr *a = netlink_attr_next(h, 8, NULL);
	cr_assert_not_null(a);
	cr_assert_eq(netlink_attr_type(a), 2);
	cr_assert_eq(netlink_attr_payload_len(a), 4);
	cr_assert_eq(*(const uint32_t *)netlink_attr_payload(a), 0xabcdef);
	a = netlink_attr_next(h, 8, a);
	cr_assert_not_null(a);
	cr_assert_eq(netlink_attr_type(a), 5, "flag bits are not part of the type");
	cr_assert_eq(netlink_attr_payload_len(a), 3);
	cr_assert_null(netlink_attr_next(h, 8, a), "12 bytes left: not a whole attribute");
	/* An attribute claiming more than the message holds is not returned. */
	put_attr(attrs + 8, 6, three, 3)->nla_len = 200;
	a = netlink_attr_next(h, 8, NULL);
	cr_assert_null(netlink_attr_next(h, 8, a));
	/* A fixed header longer than the message: no attributes at all. */
	cr_assert_null(netlink_attr_next(h, 400, NULL));
}

struct found {
	uint16_t port;
	int hits;
};

static int listen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct found *f = data;
	const struct inet_diag_msg *m = netlink_payload(nlh);
	if (netlink_payload_len(nlh) >= sizeof(*m) && ntohs(m->id.idiag_sport) == f->port)
		f->hits++;
	return 0;
}

Test(netlink_live, sock_diag_dump_sees_a_listener)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 1), 0);
	socklen_t len = sizeof(sa);
	getsockname(l, (struct sockaddr *)&sa, &len);

	struct netlink_sock ns;
	int rc = netlink_open(&ns, NETLINK_SOCK_DIAG);
	cr_assert_eq(rc, 0, "netlink_open: %s", strerror(-rc));
	cr_assert_neq(ns.portid, 0);
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct inet_diag_req_v2)),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 42},
		.r = {.sdiag_family = AF_INET, .sdiag_protocol = IPPROTO_TCP,
		      .idiag_states = 1u << 10 /* TCP_LISTEN */},
	};
	cr_assert_eq(netlink_send(&ns, &req.nlh), 0);
	struct found f = {.port = ntohs(sa.sin_port)};
	static char buf[32768];
	for (;;) {
		ssize_t n = netlink_recv(&ns, buf, sizeof(buf));
		cr_assert_gt(n, 0, "recv: %s", strerror((int)-n));
		rc = netlink_walk(buf, (size_t)n, 42, ns.portid, listen_cb, &f);
		cr_assert_geq(rc, 0, "walk: %s", strerror(-rc));
		if (rc == 1)
			break;
	}
	cr_assert_eq(f.hits, 1, "listener on port %u seen %d times", f.port, f.hits);
	netlink_close(&ns);
	close(l);
}

/* A sock_diag reply as a kernel sends it, with a tcp_info of tcpi_len bytes. */
static const struct nlmsghdr *diag_reply(struct buf *b, size_t tcpi_len, uint64_t acked,
					 uint64_t received)
{
	b->len = 0;
	char payload[NLMSG_ALIGN(sizeof(struct inet_diag_msg)) + NLA_HDRLEN + 512];
	memset(payload, 0, sizeof(payload));
	struct inet_diag_msg *m = (struct inet_diag_msg *)payload;
	m->idiag_family = AF_INET;
	m->idiag_state = 1;
	m->idiag_inode = 4242;
	m->id.idiag_sport = htons(40000);
	m->id.idiag_dport = htons(443);
	inet_pton(AF_INET, "10.0.0.5", m->id.idiag_src);
	inet_pton(AF_INET, "10.1.1.1", m->id.idiag_dst);
	char info[512] = {0};
	memcpy(info + offsetof(struct tcp_info, tcpi_bytes_acked), &acked, 8);
	memcpy(info + offsetof(struct tcp_info, tcpi_bytes_received), &received, 8);
	put_attr(payload + NLMSG_ALIGN(sizeof(*m)), INET_DIAG_INFO, info, (uint16_t)tcpi_len);
	const struct nlmsghdr *h = put(b, SOCK_DIAG_BY_FAMILY, 1, payload,
				       NLMSG_ALIGN(sizeof(*m)) + NLA_HDRLEN + tcpi_len);
	return h;
}

Test(netlink, diag_reply_of_a_3_10_kernel_has_no_byte_counters)
{
	/* 3.10's struct tcp_info ends at tcpi_total_retrans: 104 bytes
	 * (tcpi_bytes_acked and tcpi_bytes_received arrived in 4.1). */
	struct buf b;
	struct sock_entry e;
	cr_assert(sock_parse_diag(diag_reply(&b, 104, 111, 222), &e));
	cr_assert_eq(e.local_port, 40000);
	cr_assert_eq(e.remote_port, 443);
	cr_assert_eq(e.inode, 4242);
	cr_assert_not(e.has_bytes, "a 3.10 tcp_info must leave the bytes unknown");
	cr_assert_eq(e.bytes_acked, 0);
	/* No INET_DIAG_INFO at all (stripped): the same. */
	cr_assert(sock_parse_diag(diag_reply(&b, 0, 111, 222), &e));
	cr_assert_not(e.has_bytes);
	/* A current kernel's tcp_info carries them. */
	cr_assert(sock_parse_diag(diag_reply(&b, sizeof(struct tcp_info), 111, 222), &e));
	cr_assert(e.has_bytes);
	cr_assert_eq(e.bytes_acked, 111);
	cr_assert_eq(e.bytes_received, 222);
}
