/* IP addresses, the one way: every address cairn stores or compares is 16
 * bytes, IPv4 as the IPv4-mapped IPv6 form ::ffff:a.b.c.d, so that an IPv4
 * address and its mapped form are the same key (the agent sees both on
 * dual-stack sockets). Used by the agent's socket code, ingest (address
 * claims) and the dependency map (resolution). */
#ifndef CAIRN_ADDR_H
#define CAIRN_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_LEN 16
#define ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Parses "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "[2001:db8::1]" and
 * "fe80::1%eth0" (the zone is dropped). 0, or -EINVAL when text is not an
 * address (names are not resolved). */
int addr_parse(const char *text, uint8_t out[static ADDR_LEN]);
/* The canonical text: dotted quad for IPv4 (also when it came mapped),
 * RFC 5952 for IPv6; "?" when it cannot be formatted. */
void addr_format(const uint8_t a[static ADDR_LEN], char *out, size_t n);
/* From raw bytes of one family (AF_INET: 4 bytes, AF_INET6: 16). */
void addr_from_raw(uint8_t out[static ADDR_LEN], int family, const void *bytes);

bool addr_is_v4(const uint8_t a[static ADDR_LEN]);
/* 127.0.0.0/8 or ::1: traffic that stays on the host. */
bool addr_is_loopback(const uint8_t a[static ADDR_LEN]);
/* 0.0.0.0 or ::: a wildcard bind, never a peer. */
bool addr_is_unspecified(const uint8_t a[static ADDR_LEN]);

#endif
