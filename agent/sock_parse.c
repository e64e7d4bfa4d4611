/* Parsing of /proc/net/{tcp,tcp6,udp,udp6} and the address helpers shared by
 * the socket collector: pure functions of their input, no I/O (which is also
 * what lets tests/fuzz/fuzz_proc_net.c drive them). See sock_parse.h. */
#include "sock_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "netlink.h"
#include "util.h"

/* ------------------------------------------------------------ addresses */

bool sock_addr_is_any(const struct sock_addr *a)
{
	static const uint8_t zero[16];
	return memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

bool sock_addr_is_loopback(const struct sock_addr *a)
{
	static const uint8_t v6lo[16] = {[15] = 1};
	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return memcmp(a->bytes, v6lo, 16) == 0;
}

/* ::ffff:a.b.c.d becomes a.b.c.d. */
void sock_addr_set(struct sock_addr *a, int family, const void *bytes)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	memset(a, 0, sizeof(*a));
	if (family == AF_INET6 && memcmp(bytes, mapped, 12) == 0) {
		a->family = AF_INET;
		memcpy(a->bytes, (const uint8_t *)bytes + 12, 4);
		return;
	}
	a->family = (uint8_t)family;
	memcpy(a->bytes, bytes, family == AF_INET ? 4 : 16);
}

const char *sock_addr_str(const struct sock_addr *a, char *out, size_t n)
{
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->bytes, out, (socklen_t)n))
		str_copy(out, "?", n);
	return out;
}

int sock_addr_cmp(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(struct sock_addr));
}

/* ------------------------------------------------------------ /proc/net files */

/* Parses exactly ndig hex digits into *out. */
static bool parse_hex(const char *p, size_t ndig, uint32_t *out)
{
	uint32_t v = 0;
	for (size_t i = 0; i < ndig; i++) {
		int h = hex_digit(p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return true;
}

/* "0100007F:0016" or 32 hex digits ":" 4 hex digits. The kernel prints each
 * 32-bit word of the address in host byte order (%08X of the __be32), so the
 * words are copied back in host order. */
static bool parse_endpoint(const char *tok, size_t len, struct sock_addr *a, uint16_t *port)
{
	size_t alen;
	if (len == 13 && tok[8] == ':')
		alen = 8;
	else if (len == 37 && tok[32] == ':')
		alen = 32;
	else
		return false;
	uint8_t bytes[16];
	for (size_t w = 0; w < alen / 8; w++) {
		uint32_t v;
		if (!parse_hex(tok + w * 8, 8, &v))
			return false;
		memcpy(bytes + w * 4, &v, 4);
	}
	uint32_t p;
	if (!parse_hex(tok + alen + 1, 4, &p))
		return false;
	sock_addr_set(a, alen == 8 ? AF_INET : AF_INET6, bytes);
	*port = (uint16_t)p;
	return true;
}

static bool parse_proc_net_line(const char *line, size_t len, uint8_t protocol, struct sock_entry *e)
{
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode ... */
	const char *tok[10];
	size_t tlen[10];
	size_t nt = 0, i = 0;
	while (nt < 10) {
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i >= len)
			break;
		tok[nt] = line + i;
		while (i < len && line[i] != ' ' && line[i] != '\t')
			i++;
		tlen[nt] = (size_t)(line + i - tok[nt]);
		nt++;
	}
	if (nt < 10 || tlen[0] < 2 || tok[0][tlen[0] - 1] != ':')
		return false;
	memset(e, 0, sizeof(*e));
	uint32_t st;
	if (!parse_endpoint(tok[1], tlen[1], &e->local, &e->local_port) ||
	    !parse_endpoint(tok[2], tlen[2], &e->remote, &e->remote_port) ||
	    tlen[3] != 2 || !parse_hex(tok[3], 2, &st) || st == 0 || st > ST_NEW_SYN_RECV)
		return false;
	if (e->local.family != e->remote.family && !sock_addr_is_any(&e->remote) && !sock_addr_is_any(&e->local))
		return false;
	uint64_t ino = 0;
	if (tlen[9] == 0 || tlen[9] > 20)
		return false;
	for (size_t k = 0; k < tlen[9]; k++) {
		if (tok[9][k] < '0' || tok[9][k] > '9')
			return false;
		unsigned d = (unsigned)(tok[9][k] - '0');
		if (ino > (UINT64_MAX - d) / 10)
			return false; /* 20 digits above 2^64: not an inode */
		ino = ino * 10 + d;
	}
	e->inode = ino;
	e->state = (uint8_t)st;
	e->protocol = protocol;
	return true;
}

uint32_t sock_state_mask(uint8_t protocol)
{
	return protocol == IPPROTO_TCP ? TCP_STATES : UDP_STATES;
}

bool sock_state_wanted(uint8_t protocol, uint8_t state)
{
	return state < 32 && (sock_state_mask(protocol) & (1u << state));
}

size_t sock_parse_proc_net(const char *text, size_t len, uint8_t protocol,
			   void (*cb)(void *arg, const struct sock_entry *e), void *arg,
			   uint32_t *bad)
{
	size_t added = 0, pos = 0;
	bool first = true;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		pos += llen + (nl ? 1 : 0);
		if (first) {
			first = false;
			/* The header names its columns; anything else is data. */
			if (memmem(line, llen, "local_address", 13))
				continue;
		}
		bool blank = true;
		for (size_t i = 0; i < llen; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				blank = false;
		if (blank)
			continue;
		struct sock_entry e;
		/* A last line without its newline was cut off: its inode may be too. */
		if (!nl || !parse_proc_net_line(line, llen, protocol, &e)) {
			if (bad)
				(*bad)++;
			continue;
		}
		if (!sock_state_wanted(protocol, e.state))
			continue;
		cb(arg, &e);
		added++;
	}
	return added;
}

/* ------------------------------------------------------------ sock_diag */

bool sock_parse_diag(const struct nlmsghdr *nlh, struct sock_entry *e)
{
	memset(e, 0, sizeof(*e));
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return false;
	const struct inet_diag_msg *m = netlink_payload(nlh);
	if (netlink_payload_len(nlh) < sizeof(*m))
		return false;
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return false;
	sock_addr_set(&e->local, m->idiag_family, m->id.idiag_src);
	sock_addr_set(&e->remote, m->idiag_family, m->id.idiag_dst);
	e->local_port = ntohs(m->id.idiag_sport);
	e->remote_port = ntohs(m->id.idiag_dport);
	e->state = m->idiag_state;
	e->inode = m->idiag_inode;
	e->cookie = (uint64_t)m->id.idiag_cookie[0] | (uint64_t)m->id.idiag_cookie[1] << 32;
	const struct nlattr *attr = NULL;
	while ((attr = netlink_attr_next(nlh, sizeof(*m), attr))) {
		if (netlink_attr_type(attr) != INET_DIAG_INFO)
			continue;
		/* Kernels before 4.1 (RHEL 7's 3.10) send a tcp_info that ends
		 * before the byte counters: the bytes stay unknown (has_bytes
		 * false), never 0. */
		size_t plen = netlink_attr_payload_len(attr);
		if (plen >= offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(uint64_t)) {
			const char *p = netlink_attr_payload(attr);
			memcpy(&e->bytes_acked, p + offsetof(struct tcp_info, tcpi_bytes_acked), 8);
			memcpy(&e->bytes_received, p + offsetof(struct tcp_info, tcpi_bytes_received), 8);
			e->has_bytes = true;
		}
	}
	return true;
}
