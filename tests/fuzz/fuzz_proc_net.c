/* libFuzzer harness for the /proc/net/{tcp,tcp6,udp,udp6} parser of the
 * socket collector (agent/sock_parse.c), which also reads captured fixture
 * trees.
 *
 * Input: byte 0 picks the protocol, the rest is the file body, copied into an
 * exactly-sized heap buffer (no NUL) so ASan sees any read past it. Invariants:
 * every entry passed on is in a collected state with a known family and
 * printable addresses, and good + bad lines never exceed the line count. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../agent/sock_parse.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void on_entry(void *arg, const struct sock_entry *e)
{
	char a[64];
	check(e->protocol == *(const uint8_t *)arg);
	check(sock_state_wanted(e->protocol, e->state));
	check(e->local.family == AF_INET || e->local.family == AF_INET6);
	check(e->remote.family == AF_INET || e->remote.family == AF_INET6);
	check(sock_addr_str(&e->local, a, sizeof(a))[0] != '?');
	check(sock_addr_str(&e->remote, a, sizeof(a))[0] != '?');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t protocol = data[0] & 1 ? IPPROTO_UDP : IPPROTO_TCP;
	size--;
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, size);
	size_t lines = 0;
	for (size_t i = 0; i < size; i++)
		lines += text[i] == '\n';
	uint32_t bad = 0;
	size_t good = sock_parse_proc_net(text, size, protocol, on_entry, &protocol, &bad);
	check(good + bad <= lines + 1);
	free(text);
	return 0;
}
