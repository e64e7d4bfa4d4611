/* common/addr: every form an address reaches cairn in parses to the same 16
 * bytes, and formats back to the text people read. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static void text_of(const char *in, char *out, size_t n)
{
	uint8_t a[ADDR_LEN];
	cr_assert_eq(addr_parse(in, a), 0, "%s does not parse", in);
	addr_format(a, out, n);
}

Test(addr, ipv4_and_its_mapped_form_are_one_address)
{
	uint8_t a[ADDR_LEN], b[ADDR_LEN];
	cr_assert_eq(addr_parse("192.0.2.7", a), 0);
	cr_assert_eq(addr_parse("::ffff:192.0.2.7", b), 0);
	cr_assert_eq(memcmp(a, b, ADDR_LEN), 0);
	cr_assert(addr_is_v4(a));
	char t[ADDR_TEXT_MAX];
	addr_format(b, t, sizeof(t));
	cr_assert_str_eq(t, "192.0.2.7");
}

Test(addr, brackets_and_zones)
{
	char t[ADDR_TEXT_MAX];
	text_of("[2001:db8::1]", t, sizeof(t));
	cr_assert_str_eq(t, "2001:db8::1");
	text_of("fe80::1%eth0", t, sizeof(t));
	cr_assert_str_eq(t, "fe80::1");
	text_of("2001:DB8:0:0:0:0:0:1", t, sizeof(t));
	cr_assert_str_eq(t, "2001:db8::1", "RFC 5952 text");
}

Test(addr, names_and_junk_are_refused)
{
	uint8_t a[ADDR_LEN];
	const char *bad[] = { "", "[]", "db.example.net", "300.1.1.1", "1.2.3", "::1::2", "%eth0",
			      NULL };
	for (size_t i = 0; bad[i]; i++)
		cr_expect_eq(addr_parse(bad[i], a), -EINVAL, "'%s' parsed", bad[i]);
	cr_expect_eq(addr_parse(NULL, a), -EINVAL);
}

Test(addr, loopback_and_unspecified)
{
	uint8_t a[ADDR_LEN];
	const char *lo[] = { "127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.53", NULL };
	for (size_t i = 0; lo[i]; i++) {
		cr_assert_eq(addr_parse(lo[i], a), 0);
		cr_expect(addr_is_loopback(a), "%s is loopback", lo[i]);
	}
	const char *not_lo[] = { "10.0.0.1", "::2", "128.0.0.1", "2001:db8::1", NULL };
	for (size_t i = 0; not_lo[i]; i++) {
		cr_assert_eq(addr_parse(not_lo[i], a), 0);
		cr_expect(!addr_is_loopback(a), "%s is not loopback", not_lo[i]);
	}
	cr_assert_eq(addr_parse("0.0.0.0", a), 0);
	cr_expect(addr_is_unspecified(a));
	cr_assert_eq(addr_parse("::", a), 0);
	cr_expect(addr_is_unspecified(a));
	cr_assert_eq(addr_parse("0.0.0.1", a), 0);
	cr_expect(!addr_is_unspecified(a));
}

Test(addr, from_raw_bytes)
{
	const uint8_t v4[4] = { 198, 51, 100, 9 };
	uint8_t a[ADDR_LEN], b[ADDR_LEN];
	addr_from_raw(a, AF_INET, v4);
	cr_assert_eq(addr_parse("198.51.100.9", b), 0);
	cr_assert_eq(memcmp(a, b, ADDR_LEN), 0);
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	addr_from_raw(a, AF_INET6, v6);
	cr_assert_eq(addr_parse("2001:db8::5", b), 0);
	cr_assert_eq(memcmp(a, b, ADDR_LEN), 0);
}
