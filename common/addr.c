#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int addr_parse(const char *text, uint8_t out[static ADDR_LEN])
{
	char buf[64];
	if (!text)
		return -EINVAL;
	const char *s = text;
	size_t n = strlen(s);
	/* "[v6]" and "v6%zone" forms */
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	const char *zone = memchr(s, '%', n);
	if (zone)
		n = (size_t)(zone - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct in_addr a4;
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		memcpy(out, v4_prefix, 12);
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	/* an IPv4-mapped IPv6 address parses to the same 16 bytes */
	if (inet_pton(AF_INET6, buf, out) == 1)
		return 0;
	return -EINVAL;
}

void addr_from_raw(uint8_t out[static ADDR_LEN], int family, const void *bytes)
{
	if (family == AF_INET) {
		memcpy(out, v4_prefix, 12);
		memcpy(out + 12, bytes, 4);
	} else {
		memcpy(out, bytes, ADDR_LEN);
	}
}

bool addr_is_v4(const uint8_t a[static ADDR_LEN])
{
	return memcmp(a, v4_prefix, 12) == 0;
}

void addr_format(const uint8_t a[static ADDR_LEN], char *out, size_t n)
{
	if (addr_is_v4(a)) {
		if (!inet_ntop(AF_INET, a + 12, out, (socklen_t)n))
			str_copy(out, "?", n);
	} else if (!inet_ntop(AF_INET6, a, out, (socklen_t)n)) {
		str_copy(out, "?", n);
	}
}

bool addr_is_loopback(const uint8_t a[static ADDR_LEN])
{
	static const uint8_t v6_loop[ADDR_LEN] = { [15] = 1 };
	if (addr_is_v4(a))
		return a[12] == 127;
	return memcmp(a, v6_loop, ADDR_LEN) == 0;
}

bool addr_is_unspecified(const uint8_t a[static ADDR_LEN])
{
	static const uint8_t zero[ADDR_LEN];
	if (addr_is_v4(a))
		return !a[12] && !a[13] && !a[14] && !a[15];
	return memcmp(a, zero, ADDR_LEN) == 0;
}
